#!/usr/bin/env bash
# Run Lockgate's DAGs on a local Airflow 3 (`airflow standalone`: scheduler, DAG processor,
# API server + UI, triggerer; LocalExecutor; SQLite Airflow DB). For development only: see
# `make airflow-postgres` and `make airflow-celery` (infra/airflow-cluster.sh) for production shapes.
#
#   bash infra/airflow.sh            # or: make airflow      (Ctrl-C stops every component)
#
# Environment (all optional):
#   LOCKGATE_HOME        Lockgate state: MLMD, artifacts, serving dir   (default: <repo>/.lockgate)
#   AIRFLOW_HOME         Airflow state: DB, logs, generated password    ($LOCKGATE_HOME/airflow)
#   AIRFLOW_PORT         UI / REST API / task Execution API port         (8080)
#   LOCKGATE_CONFIG_DIR  pipeline configs to turn into DAGs              (<repo>/configs)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export LOCKGATE_HOME=${LOCKGATE_HOME:-$repo/.lockgate}
mkdir -p "$LOCKGATE_HOME"
LOCKGATE_HOME=$(cd "$LOCKGATE_HOME" && pwd)  # tasks run in other directories: make it absolute
export AIRFLOW_HOME=${AIRFLOW_HOME:-$LOCKGATE_HOME/airflow}
port=${AIRFLOW_PORT:-8080}
mkdir -p "$AIRFLOW_HOME"

. "$repo/infra/airflow-env.sh"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db}

# The project's Airflow: the active environment's (under `uv run`), else the repo's .venv, else
# through uv (what `make airflow` has just synced). Standalone starts its components as
# `airflow ...` from PATH, so the venv's bin/ goes first.
if command -v airflow >/dev/null 2>&1; then airflow=(airflow)
elif [ -x "$repo/.venv/bin/airflow" ]; then
  export PATH="$repo/.venv/bin:$PATH"
  airflow=(airflow)
elif command -v uv >/dev/null 2>&1; then airflow=(uv run --frozen --project "$repo" airflow)
else airflow=(python3 -m uv run --frozen --project "$repo" airflow)
fi

# Standalone writes the admin password here the first time it starts (simple auth manager).
password_file=${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated}

log=$AIRFLOW_HOME/standalone.log
echo "Airflow home: $AIRFLOW_HOME (log: $log)"
echo "Lockgate home: $LOCKGATE_HOME; DAGs from $AIRFLOW__CORE__DAGS_FOLDER"
# Its own session, so stopping it stops every component and task process it started.
setsid "${airflow[@]}" standalone >"$log" 2>&1 &
pid=$!
echo "$pid" >"$AIRFLOW_HOME/standalone.pid"
stop() {
  echo "stopping Airflow (process group $pid)"
  kill -TERM -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM

# Ready when the API answers, the scheduler and DAG processor heartbeat, and the password exists.
healthy() {
  local health
  health=$(curl -fsS "http://localhost:$port/api/v2/monitor/health" 2>/dev/null) || return 1
  for component in scheduler dag_processor; do
    grep -q "\"$component\":{\"status\":\"healthy\"" <<<"$health" || return 1
  done
  [ -s "$password_file" ]
}
for _ in $(seq 1 300); do
  kill -0 "$pid" 2>/dev/null || { echo "airflow standalone exited; last lines of $log:"; tail -n 30 "$log"; exit 1; }
  healthy && break
  sleep 1
done
healthy || echo "Airflow is not healthy after 300 s; it may still be starting (see $log)"

echo
echo "Airflow UI:  http://localhost:$port"
if [ -s "$password_file" ]; then
  python3 - "$password_file" <<'EOF'
import json, sys
for user, password in json.load(open(sys.argv[1])).items():
    print(f"Login:       {user} / {password}   (from {sys.argv[1]})")
EOF
else
  echo "Login:       see $password_file once Airflow has started"
fi
echo "Logs:        tail -f $log      Stop: Ctrl-C"
wait "$pid"
