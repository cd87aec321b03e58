#!/usr/bin/env bash
# Starts, stops or reports the project's local services, without systemd, with their data
# and logs under .data/: PostgreSQL (127.0.0.1:5432, superuser role z4j / password z4j,
# database z4j, trust auth on localhost), Redis (127.0.0.1:6379, defaults, no persistence)
# and RabbitMQ (127.0.0.1:5672, guest/guest, node rabbit@localhost). Idempotent: a running
# service is left alone. Each start waits until the service accepts connections.
#   bash scripts/services.sh start|stop|status|drop-test-dbs
# Ports: Z4J_PG_PORT, Z4J_REDIS_PORT, Z4J_RABBIT_PORT (with Z4J_RABBIT_NODE) override them.
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
RABBIT_PORT=${Z4J_RABBIT_PORT:-5672}
# A fixed node name keeps RabbitMQ independent of whether the hostname resolves.
export RABBITMQ_NODENAME=${Z4J_RABBIT_NODE:-rabbit@localhost}

die() { echo "services: $*" >&2; exit 1; }

ensure_pg_user() {
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
}

# Runs a command as the postgres OS user when we are root (postgres refuses to run as root).
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    ensure_pg_user
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

wait_for() { # name, log file, timeout seconds, probe command...
  local name=$1 log=$2 limit=$3; shift 3
  local deadline=$((SECONDS + limit))
  while [ $SECONDS -lt $deadline ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "services: $name did not accept connections within ${limit}s; see $log" >&2
  tail -n 20 "$log" >&2 2>/dev/null || true
  return 1
}

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }
redis_ready() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }
# The AMQP port answering is what clients need; rabbitmqctl is slow (an Erlang VM per call).
rabbit_ready() { timeout 2 bash -c "</dev/tcp/127.0.0.1/$RABBIT_PORT" 2>/dev/null; }

# Settings live in a file this script owns (rewritten on every start, read at server start),
# so an existing data directory picks up changes on its next restart.
write_pg_conf() {
  cat >"$PG_DATA/z4j.conf" <<CONF
# Written by scripts/services.sh; edits are overwritten.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DATA'
max_connections = 200
shared_buffers = 512MB
effective_cache_size = 1GB
work_mem = 16MB
maintenance_work_mem = 128MB
# Ingest writes many random index pages: roomy WAL and compressed full-page images keep
# checkpoints (and the full-page writes that follow each one) rare and cheap.
max_wal_size = 8GB
checkpoint_timeout = 15min
wal_compression = lz4
wal_level = minimal
max_wal_senders = 0
CONF
  grep -q "^include_if_exists = 'z4j.conf'" "$PG_DATA/postgresql.conf" ||
    echo "include_if_exists = 'z4j.conf'" >>"$PG_DATA/postgresql.conf"
}

ensure_pg_role() {
  as_pg "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 <<'SQL'
SELECT 'CREATE ROLE z4j LOGIN SUPERUSER CREATEDB PASSWORD ''z4j''' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'z4j') \gexec
SELECT 'CREATE DATABASE z4j OWNER z4j' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'z4j') \gexec
SQL
}

start_pg() {
  [ -n "$PG_BIN" ] || die "postgres: no /usr/lib/postgresql/*/bin; run scripts/setup-system.sh"
  if pg_ready; then
    ensure_pg_role || die "postgres: something answers on 127.0.0.1:$PG_PORT but it is not this project's server (data $PG_DATA)"
    echo "postgres: running on 127.0.0.1:$PG_PORT"
    return
  fi
  local root=0; [ "$(id -u)" -eq 0 ] && root=1 && ensure_pg_user
  if [ ! -s "$PG_DATA/PG_VERSION" ]; then
    mkdir -p "$PG_DATA"
    [ $root -eq 1 ] && chown postgres "$PG_DATA"
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$LOGS/initdb.log" 2>&1 || die "postgres: initdb failed; see $LOGS/initdb.log"
  fi
  touch "$LOGS/postgres.log"
  [ $root -eq 1 ] && chown -R postgres "$PG_DATA" && chown postgres "$LOGS/postgres.log"
  chmod 700 "$PG_DATA"
  write_pg_conf
  [ $root -eq 1 ] && chown postgres "$PG_DATA/z4j.conf"
  # pg_ctl puts the server in its own session, so it outlives the caller's process group.
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$LOGS/postgres.log" -w -t 60 start >/dev/null 2>&1 </dev/null ||
    { tail -n 20 "$LOGS/postgres.log" >&2; die "postgres: failed to start; see $LOGS/postgres.log"; }
  wait_for postgres "$LOGS/postgres.log" 60 pg_ready || exit 1
  ensure_pg_role || die "postgres: could not create role/database z4j; see $LOGS/postgres.log"
  echo "postgres: started on 127.0.0.1:$PG_PORT (data $PG_DATA)"
}

start_redis() {
  if redis_ready; then echo "redis: running on 127.0.0.1:$REDIS_PORT"; return; fi
  command -v redis-server >/dev/null || die "redis: redis-server not installed; run scripts/setup-system.sh"
  mkdir -p "$DATA/redis"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --save '' --appendonly no --databases 32 \
    --dir "$DATA/redis" --logfile "$LOGS/redis.log" --pidfile "$DATA/redis/redis-$REDIS_PORT.pid" ||
    die "redis: redis-server failed to start; see $LOGS/redis.log"
  wait_for redis "$LOGS/redis.log" 20 redis_ready || exit 1
  echo "redis: started on 127.0.0.1:$REDIS_PORT"
}

# The broker's state (mnesia: queues, messages) lives under .data, like the other services'
# data, so every clone has a broker state of its own. Under /var/lib/rabbitmq it outlived
# clones: the queues test runs declare piled up there (over a thousand), and a broker
# recovering more durable queues than it has file handles stalls at boot.
RABBIT_STATE=$DATA/rabbitmq

# Debian's wrapper (/usr/sbin/rabbitmq-server) starts the broker through `su rabbitmq`, whose
# PAM session drops the open-files limit to 1024. As root we make that switch ourselves and
# raise the limit to the hard limit (at most 65,536: Erlang sizes its port table by it).
# HOME becomes /var/lib/rabbitmq, where the Erlang cookie rabbitmqctl also uses lives; the
# RABBITMQ_* variables pass through su.
rabbit_server_command() {
  local server=/usr/lib/rabbitmq/bin/rabbitmq-server
  if [ "$(id -u)" -eq 0 ] && id rabbitmq >/dev/null 2>&1 && [ -x "$server" ]; then
    local raise='n=$(ulimit -Hn); if [ "$n" = unlimited ] || [ "$n" -gt 65536 ]; then n=65536; fi; ulimit -n "$n"'
    RABBIT_CMD=(su rabbitmq -s /bin/sh -c "cd /var/lib/rabbitmq; $raise; exec $server")
  else
    RABBIT_CMD=(rabbitmq-server)
  fi
}

start_rabbit() {
  if rabbit_ready; then echo "rabbitmq: running on 127.0.0.1:$RABBIT_PORT"; return; fi
  [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || command -v rabbitmq-server >/dev/null ||
    die "rabbitmq: rabbitmq-server not installed; run scripts/setup-system.sh"
  local logdir=$LOGS/rabbitmq out=$LOGS/rabbitmq.out
  rabbit_server_command
  mkdir -p "$logdir" "$RABBIT_STATE"
  id rabbitmq >/dev/null 2>&1 && chown rabbitmq "$logdir" "$RABBIT_STATE"
  RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$RABBIT_PORT \
    RABBITMQ_DIST_PORT=$((RABBIT_PORT + 20000)) RABBITMQ_LOG_BASE=$logdir \
    RABBITMQ_MNESIA_BASE=$RABBIT_STATE/mnesia \
    setsid nohup "${RABBIT_CMD[@]}" >"$out" 2>&1 </dev/null &
  local pid=$! deadline=$((SECONDS + 120))
  until rabbit_ready; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rabbit_start_failed "rabbitmq-server exited while starting"
    fi
    [ $SECONDS -lt $deadline ] || rabbit_start_failed "did not accept connections within 120s"
    sleep 0.5
  done
  timeout 90 rabbitmqctl -q await_startup --timeout 60 >>"$out" 2>&1 ||
    rabbit_start_failed "'rabbitmqctl await_startup' failed (node $RABBITMQ_NODENAME)"
  echo "rabbitmq: started on 127.0.0.1:$RABBIT_PORT (node $RABBITMQ_NODENAME, state $RABBIT_STATE, logs $logdir)"
}

# The reason a broker did not come up is in its own log (stdout stops at "Starting broker...").
rabbit_start_failed() {
  local logdir=$LOGS/rabbitmq
  tail -n 5 "$LOGS/rabbitmq.out" >&2 2>/dev/null || true
  echo "--- last lines of the broker's log:" >&2
  tail -n 15 "$logdir/$RABBITMQ_NODENAME.log" 2>/dev/null | cut -c1-300 >&2 || true
  die "rabbitmq: $1; see $LOGS/rabbitmq.out and $logdir/"
}

stop_all() {
  if [ -s "$PG_DATA/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  if rabbit_ready; then timeout 60 rabbitmqctl -q stop >/dev/null 2>&1 || true; fi
  echo "services: stopped"
}

status() {
  pg_ready && echo "postgres: up (127.0.0.1:$PG_PORT)" || echo "postgres: down"
  redis_ready && echo "redis: up (127.0.0.1:$REDIS_PORT)" || echo "redis: down"
  rabbit_ready && echo "rabbitmq: up (127.0.0.1:$RABBIT_PORT)" || echo "rabbitmq: down"
}

# Tests leave their databases (z4j_test_*) for inspection; the next full run drops them. One
# still in use (another test run) is left alone: DROP DATABASE without FORCE refuses it.
drop_test_dbs() {
  pg_ready || die "postgres: not running; start it with: bash scripts/services.sh start"
  local psql=("$PG_BIN/psql" -qAt -h 127.0.0.1 -p "$PG_PORT" -U z4j -d z4j)
  local dropped=0 name
  while read -r name; do
    [ -n "$name" ] || continue
    PGPASSWORD=z4j "${psql[@]}" -c "DROP DATABASE IF EXISTS \"$name\"" >/dev/null 2>&1 && dropped=$((dropped + 1))
  done < <(PGPASSWORD=z4j "${psql[@]}" -c "SELECT datname FROM pg_database WHERE datname LIKE 'z4j\_test\_%'")
  echo "postgres: dropped $dropped test databases left by earlier runs"
}

case "${1:-status}" in
  start) start_pg; start_redis; start_rabbit ;;
  stop) stop_all ;;
  status) status ;;
  drop-test-dbs) drop_test_dbs ;;
  *) echo "usage: $0 start|stop|status|drop-test-dbs" >&2; exit 2 ;;
esac
