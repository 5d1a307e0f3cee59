# Sourced by infra/airflow.sh and infra/airflow-cluster.sh: the Airflow settings every local
# Lockgate deployment shares. Expects $repo (this checkout), $AIRFLOW_HOME and $port.

export AIRFLOW__CORE__DAGS_FOLDER=$repo/dags
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__API__PORT=$port
export AIRFLOW__API__HOST=${AIRFLOW__API__HOST:-127.0.0.1}
export AIRFLOW__API__BASE_URL=http://localhost:$port
# Task processes report to the API server's Execution API: it must follow the port.
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://localhost:$port/execution/
# One secret shared by the API server (signs task tokens) and the workers (present them).
secret_file=$AIRFLOW_HOME/jwt_secret
[ -s "$secret_file" ] || (umask 077 && head -c 32 /dev/urandom | base64 >"$secret_file")
export AIRFLOW__API_AUTH__JWT_SECRET=${AIRFLOW__API_AUTH__JWT_SECRET:-$(cat "$secret_file")}
# Each Lockgate task is one TensorFlow/Beam process of ~1 GB: a few at a time per machine.
export AIRFLOW__CORE__PARALLELISM=${AIRFLOW__CORE__PARALLELISM:-4}
# Heavy libraries read these at import; the launcher sets them too, this keeps logs quiet.
export TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2
