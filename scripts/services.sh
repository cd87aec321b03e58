#!/usr/bin/env bash
# Starts, stops or reports the project's local services, without systemd, with their data
# and logs under .data/: PostgreSQL (127.0.0.1:5432, role/db z4j, password z4j), Redis
# (127.0.0.1:6379) and RabbitMQ (127.0.0.1:5672, guest/guest). Idempotent.
#   bash scripts/services.sh start|stop|status
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DATA=$ROOT/.data
LOGS=$DATA/logs
mkdir -p "$LOGS"

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
PG_DATA=$DATA/pg
PG_PORT=${Z4J_PG_PORT:-5432}
REDIS_PORT=${Z4J_REDIS_PORT:-6379}

# Runs a command as the postgres OS user when we are root (postgres refuses to run as root).
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

wait_for() { # name, log file, timeout seconds, probe command...
  local name=$1 log=$2 deadline=$((SECONDS + $3)); shift 3
  while [ $SECONDS -lt $deadline ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "services: $name did not start within ${timeout}s; see $log" >&2
  tail -n 20 "$log" >&2 || true
  return 1
}

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }
redis_ready() { redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }
# The AMQP port answering is what clients need; rabbitmqctl is slow (an Erlang VM per call).
rabbit_ready() { timeout 2 bash -c '</dev/tcp/127.0.0.1/5672' 2>/dev/null; }

start_pg() {
  if pg_ready; then echo "postgres: running on 127.0.0.1:$PG_PORT"; return; fi
  if [ ! -s "$PG_DATA/PG_VERSION" ]; then
    mkdir -p "$PG_DATA"
    [ "$(id -u)" -eq 0 ] && { id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres; chown -R postgres "$PG_DATA" "$LOGS"; }
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$LOGS/initdb.log"
    cat >>"$PG_DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
max_connections = 200
shared_buffers = 512MB
max_wal_size = 2GB
wal_level = minimal
max_wal_senders = 0
unix_socket_directories = '$PG_DATA'
CONF
  fi
  [ "$(id -u)" -eq 0 ] && chown -R postgres "$PG_DATA" && chown postgres "$LOGS" && touch "$LOGS/postgres.log" && chown postgres "$LOGS/postgres.log"
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$LOGS/postgres.log" -w -t 60 start >/dev/null
  wait_for postgres "$LOGS/postgres.log" 60 pg_ready
  as_pg "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 <<'SQL'
SELECT 'CREATE ROLE z4j LOGIN SUPERUSER PASSWORD ''z4j''' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'z4j') \gexec
SELECT 'CREATE DATABASE z4j OWNER z4j' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'z4j') \gexec
SQL
  echo "postgres: started on 127.0.0.1:$PG_PORT (data $PG_DATA)"
}

start_redis() {
  if redis_ready; then echo "redis: running on 127.0.0.1:$REDIS_PORT"; return; fi
  mkdir -p "$DATA/redis"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --save '' --appendonly no \
    --dir "$DATA/redis" --logfile "$LOGS/redis.log" --pidfile "$DATA/redis/redis.pid"
  wait_for redis "$LOGS/redis.log" 20 redis_ready
  echo "redis: started on 127.0.0.1:$REDIS_PORT"
}

start_rabbit() {
  if rabbit_ready; then echo "rabbitmq: running on 127.0.0.1:5672"; return; fi
  # Debian's wrapper runs the broker as the rabbitmq user with its own data and cookie under
  # /var/lib/rabbitmq; a fixed node name keeps it independent of the machine's hostname.
  RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 nohup rabbitmq-server >"$LOGS/rabbitmq.out" 2>&1 &
  wait_for rabbitmq "$LOGS/rabbitmq.out" 120 rabbit_ready
  timeout 60 rabbitmqctl -q await_startup >/dev/null 2>&1 || true
  echo "rabbitmq: started on 127.0.0.1:5672"
}

stop_all() {
  if [ -s "$PG_DATA/postmaster.pid" ]; then as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast stop >/dev/null 2>&1 || true; fi
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  RABBITMQ_NODENAME=rabbit@localhost rabbitmqctl -q stop >/dev/null 2>&1 || true
  echo "services: stopped"
}

status() {
  pg_ready && echo "postgres: up (127.0.0.1:$PG_PORT)" || echo "postgres: down"
  redis_ready && echo "redis: up (127.0.0.1:$REDIS_PORT)" || echo "redis: down"
  RABBITMQ_NODENAME=rabbit@localhost rabbit_ready && echo "rabbitmq: up (127.0.0.1:5672)" || echo "rabbitmq: down"
}

export RABBITMQ_NODENAME=rabbit@localhost
case "${1:-status}" in
  start) start_pg; start_redis; start_rabbit ;;
  stop) stop_all ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
