#!/usr/bin/env bash
# Run Lockgate's DAGs on a production-shaped Airflow 3 on this machine, in the background:
#
#   bash infra/airflow-cluster.sh start postgres   # make airflow-postgres
#   bash infra/airflow-cluster.sh stop postgres    # make airflow-postgres-stop
#   bash infra/airflow-cluster.sh start celery     # make airflow-celery
#   bash infra/airflow-cluster.sh stop celery      # make airflow-celery-stop
#
# postgres: one PostgreSQL server (Debian's package, infra/postgres.sh) with two databases,
#   `airflow` (Airflow's metadata DB) and `lockgate_mlmd` (ML Metadata); Airflow's scheduler,
#   dag-processor, api-server and triggerer as separate processes; the LocalExecutor. The
#   shipped configs use PostgreSQL MLMD through LOCKGATE_MLMD_* variables alone.
# celery: the same with the CeleryExecutor, Redis (Debian's redis-server) as the broker and
#   two Celery workers (worker1, worker2), standing in for two hosts.
#
# `start` returns once the API answers and the scheduler and DAG processor heartbeat, and
# prints the UI address and login. Everything runs in its own process group, recorded under
# $AIRFLOW_HOME/pids; `stop` ends them, then Redis and PostgreSQL. State survives a stop.
#
# Environment (all optional):
#   LOCKGATE_HOME          Lockgate state: artifacts, serving dir        (<repo>/.lockgate)
#   AIRFLOW_HOME           Airflow state: logs, pids, password file      ($LOCKGATE_HOME/airflow-<shape>)
#   AIRFLOW_PORT           UI / REST API / task Execution API port       (8080)
#   LOCKGATE_PG_DATA       PostgreSQL data directory; the `postgres` OS user must reach it
#                                                                        ($LOCKGATE_HOME/postgres)
#   LOCKGATE_PG_PORT       PostgreSQL port                               (55432)
#   LOCKGATE_MLMD_PASSWORD the `lockgate` role's password                (lockgate)
#   LOCKGATE_REDIS_PORT    Redis port (celery)                           (56379)
#   LOCKGATE_CONFIG_DIR    pipeline configs to turn into DAGs            (<repo>/configs)
set -euo pipefail

action=${1:?usage: airflow-cluster.sh start|stop postgres|celery}
shape=${2:?usage: airflow-cluster.sh start|stop postgres|celery}
case "$shape" in postgres|celery) ;; *) echo "unknown shape: $shape (postgres or celery)" >&2; exit 2;; esac

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export LOCKGATE_HOME=${LOCKGATE_HOME:-$repo/.lockgate}
mkdir -p "$LOCKGATE_HOME"
LOCKGATE_HOME=$(cd "$LOCKGATE_HOME" && pwd)  # tasks run in other directories
export AIRFLOW_HOME=${AIRFLOW_HOME:-$LOCKGATE_HOME/airflow-$shape}
mkdir -p "$AIRFLOW_HOME/pids" "$AIRFLOW_HOME/logs"
port=${AIRFLOW_PORT:-8080}
pg_data=${LOCKGATE_PG_DATA:-$LOCKGATE_HOME/postgres}
pg_port=${LOCKGATE_PG_PORT:-55432}
redis_port=${LOCKGATE_REDIS_PORT:-56379}
export LOCKGATE_MLMD_PASSWORD=${LOCKGATE_MLMD_PASSWORD:-lockgate}

# --- Airflow: one PostgreSQL DB, the executor, the API server's address and its token secret.
. "$repo/infra/airflow-env.sh"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgresql+psycopg2://lockgate:$LOCKGATE_MLMD_PASSWORD@127.0.0.1:$pg_port/airflow
# The simple auth manager: one admin; the api-server generates its password once, here.
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated
export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG=${AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG:-4}
if [ "$shape" = celery ]; then
  export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
  export AIRFLOW__CELERY__BROKER_URL=redis://:$LOCKGATE_MLMD_PASSWORD@127.0.0.1:$redis_port/0
  export AIRFLOW__CELERY__RESULT_BACKEND=db+postgresql://lockgate:$LOCKGATE_MLMD_PASSWORD@127.0.0.1:$pg_port/airflow
  export AIRFLOW__CELERY__WORKER_CONCURRENCY=${AIRFLOW__CELERY__WORKER_CONCURRENCY:-1}
  # Two workers on one machine: each records its own name on the tasks it runs.
  export AIRFLOW__CORE__HOSTNAME_CALLABLE=pipelines.airflow.hostname.worker_hostname
else
  export AIRFLOW__CORE__EXECUTOR=LocalExecutor
fi

# --- Lockgate: the shipped configs' `metadata:` section reads these (infra/README.md).
export LOCKGATE_MLMD_KIND=postgresql LOCKGATE_MLMD_HOST=127.0.0.1 LOCKGATE_MLMD_PORT=$pg_port
export LOCKGATE_MLMD_DATABASE=lockgate_mlmd LOCKGATE_MLMD_USER=lockgate

if [ -x "$repo/.venv/bin/airflow" ]; then export PATH="$repo/.venv/bin:$PATH"; fi
command -v airflow >/dev/null || { echo "airflow is not installed: run make setup" >&2; exit 3; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
psql_admin() {
  PGPASSWORD=$LOCKGATE_MLMD_PASSWORD "$(pg_bin)/psql" -h 127.0.0.1 -p "$pg_port" -U lockgate \
    -d postgres -v ON_ERROR_STOP=1 -tAc "$1"
}

# Start "$name" in a process group of its own; its pid file lets `stop` end it and its children.
launch() {
  local name=$1; shift
  setsid "$@" >"$AIRFLOW_HOME/logs/$name.log" 2>&1 < /dev/null &
  echo $! >"$AIRFLOW_HOME/pids/$name.pid"
}

stop_all() {
  local file pid
  for file in "$AIRFLOW_HOME"/pids/*.pid; do
    [ -e "$file" ] || continue
    pid=$(cat "$file")
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  for _ in $(seq 1 30); do
    local alive=0
    for file in "$AIRFLOW_HOME"/pids/*.pid; do
      [ -e "$file" ] && kill -0 -- "-$(cat "$file")" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 1
  done
  for file in "$AIRFLOW_HOME"/pids/*.pid; do
    [ -e "$file" ] || continue
    kill -KILL -- "-$(cat "$file")" 2>/dev/null || true
    rm -f "$file"
  done
  if [ "$shape" = celery ] && [ -f "$AIRFLOW_HOME/redis.pid" ]; then
    kill -TERM "$(cat "$AIRFLOW_HOME/redis.pid")" 2>/dev/null || true
    rm -f "$AIRFLOW_HOME/redis.pid"
  fi
  bash "$repo/infra/postgres.sh" stop "$pg_data"
  echo "stopped Airflow ($shape) and its services"
}

healthy() {
  local health
  health=$(curl -fsS "http://localhost:$port/api/v2/monitor/health" 2>/dev/null) || return 1
  for component in scheduler dag_processor triggerer; do
    grep -q "\"$component\":{\"status\":\"healthy\"" <<<"$health" || return 1
  done
  [ -s "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" ]
}

start_redis() {
  if ! command -v redis-server >/dev/null; then
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || {
      echo "redis-server is not installed and cannot be installed here (needs root and apt-get)" >&2
      exit 3; }
    echo "installing Redis from Debian packages..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null 2>&1 || {
      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }
  fi
  mkdir -p "$AIRFLOW_HOME/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --requirepass "$LOCKGATE_MLMD_PASSWORD" \
    --dir "$AIRFLOW_HOME/redis" --daemonize yes --pidfile "$AIRFLOW_HOME/redis.pid" \
    --logfile "$AIRFLOW_HOME/logs/redis.log" >/dev/null
  for _ in $(seq 1 50); do
    redis-cli -p "$redis_port" -a "$LOCKGATE_MLMD_PASSWORD" --no-auth-warning ping 2>/dev/null \
      | grep -q PONG && return 0
    sleep 0.2
  done
  echo "Redis did not answer on port $redis_port (see $AIRFLOW_HOME/logs/redis.log)" >&2
  exit 1
}

case "$action" in
  stop)
    stop_all
    exit 0
    ;;
  start) ;;
  *) echo "unknown action: $action (start or stop)" >&2; exit 2 ;;
esac

if ls "$AIRFLOW_HOME"/pids/*.pid >/dev/null 2>&1; then
  echo "Airflow ($shape) seems to be running already (pid files in $AIRFLOW_HOME/pids);" \
       "stop it first: bash infra/airflow-cluster.sh stop $shape" >&2
  exit 1
fi

mkdir -p "$pg_data"
if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$(dirname "$pg_data")"; then
  echo "the postgres OS user cannot reach $pg_data; set LOCKGATE_PG_DATA to a directory it can" \
       "(for example under /var/lib or /srv)" >&2
  exit 3
fi
echo "PostgreSQL: $pg_data on port $pg_port"
bash "$repo/infra/postgres.sh" start "$pg_data" "$pg_port" >/dev/null
for db in airflow lockgate_mlmd; do
  [ "$(psql_admin "select 1 from pg_database where datname = '$db'")" = 1 ] ||
    psql_admin "create database $db owner lockgate" >/dev/null
done
if [ "$shape" = celery ]; then
  echo "Redis: port $redis_port"
  start_redis
fi

echo "Airflow ($shape): migrating its DB; logs in $AIRFLOW_HOME/logs"
airflow db migrate >"$AIRFLOW_HOME/logs/migrate.log" 2>&1 || {
  echo "airflow db migrate failed; last lines of $AIRFLOW_HOME/logs/migrate.log:" >&2
  tail -n 20 "$AIRFLOW_HOME/logs/migrate.log" >&2
  exit 1
}
launch api-server airflow api-server --port "$port"
launch scheduler airflow scheduler
launch dag-processor airflow dag-processor
launch triggerer airflow triggerer
if [ "$shape" = celery ]; then
  # Each serves its task logs on a port of its own (on real hosts they share one number).
  log_port=${AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT:-8793}
  for n in 1 2; do
    launch "worker$n" env LOCKGATE_WORKER_NAME="worker$n" \
      AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=$((log_port + n)) \
      airflow celery worker --celery-hostname "worker$n@%h"
  done
fi

for _ in $(seq 1 300); do
  for file in "$AIRFLOW_HOME"/pids/*.pid; do
    name=$(basename "$file" .pid)
    kill -0 "$(cat "$file")" 2>/dev/null || {
      echo "airflow $name exited; last lines of $AIRFLOW_HOME/logs/$name.log:" >&2
      tail -n 30 "$AIRFLOW_HOME/logs/$name.log" >&2
      stop_all >&2
      exit 1
    }
  done
  healthy && break
  sleep 1
done
healthy || { echo "Airflow is not healthy after 300 s (see $AIRFLOW_HOME/logs)" >&2; exit 1; }

echo
echo "Airflow UI:  http://localhost:$port"
python3 - "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" <<'EOF'
import json, sys
for user, password in json.load(open(sys.argv[1])).items():
    print(f"Login:       {user} / {password}   (from {sys.argv[1]})")
EOF
echo "MLMD:        postgresql://lockgate@127.0.0.1:$pg_port/lockgate_mlmd"
echo "Stop:        bash infra/airflow-cluster.sh stop $shape"
