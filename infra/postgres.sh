#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for ML Metadata (tests, local trials).
#   infra/postgres.sh start DATA_DIR PORT   -> prints "ready" once it accepts connections
#   infra/postgres.sh stop DATA_DIR
# Installs Debian's `postgresql` package when it is missing (needs root and apt). The server
# runs as the `postgres` OS user (PostgreSQL refuses root), listens on 127.0.0.1 only, and
# has a `lockgate` role whose password is $LOCKGATE_MLMD_PASSWORD (default: lockgate).
set -euo pipefail

action=${1:?usage: postgres.sh start|stop DATA_DIR [PORT]}
data=${2:?usage: postgres.sh start|stop DATA_DIR [PORT]}
port=${3:-55432}
password=${LOCKGATE_MLMD_PASSWORD:-lockgate}

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install_server() {
  [ -n "$(bindir)" ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "PostgreSQL is not installed and cannot be installed here (needs root and apt-get)" >&2
    exit 3
  fi
  echo "installing PostgreSQL from Debian packages..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq postgresql >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null && apt-get install -y -qq postgresql >/dev/null
  }
}

case "$action" in
  start)
    install_server
    bin=$(bindir)
    mkdir -p "$data"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$data"; fi
    if [ ! -f "$data/PG_VERSION" ]; then
      pwfile=$(mktemp); printf '%s\n' "$password" >"$pwfile"; chmod 644 "$pwfile"
      as_postgres "$bin/initdb" -D "$data" -U lockgate --pwfile="$pwfile" -A scram-sha-256 \
        >/dev/null
      rm -f "$pwfile"
    fi
    as_postgres "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
      -o "-p $port -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null
    echo ready
    ;;
  stop)
    bin=$(bindir)
    as_postgres "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null || true
    ;;
  *)
    echo "unknown action: $action" >&2
    exit 2
    ;;
esac
