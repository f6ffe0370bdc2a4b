#!/bin/sh
# Starts and stops a throwaway redis-server and PostgreSQL on loopback ports, for tests and demos.
#
#   scripts/services.sh start [redis|postgres|all]    install if missing, start, wait until ready
#   scripts/services.sh stop  [redis|postgres|all]    clean stop (PostgreSQL: fast shutdown)
#   scripts/services.sh kill  [redis|postgres|all]    crash (redis: kill -9; postgres: immediate stop)
#   scripts/services.sh env                           print REDIS_URL=... and DATABASE_URL=...
#   scripts/services.sh destroy                       stop everything and delete the data directory
#
# Every command is idempotent: starting what runs, or stopping what does not, does nothing, and
# concurrent commands on one instance take turns. The instance is chosen by the environment, so
# tests can run several side by side:
#   SERVICES_DIR  data, sockets and logs          (default /tmp/flashsale-services)
#   REDIS_PORT    (default 56379)                 PG_PORT  (default 55432)
# Redis runs with appendonly yes + appendfsync always (as in production: an acknowledged purchase
# is on disk) and no RDB snapshots. PostgreSQL runs as the postgres user when started by root,
# because it refuses to run as root; the database is "postgres", trust authentication on loopback.
set -eu

SERVICES_DIR=${SERVICES_DIR:-/tmp/flashsale-services}
REDIS_PORT=${REDIS_PORT:-56379}
PG_PORT=${PG_PORT:-55432}
REDIS_DIR=$SERVICES_DIR/redis
PG_DIR=$SERVICES_DIR/postgres

log() { echo "services: $*" >&2; }

# Runs a command as the owner of the PostgreSQL files.
as_pg_user() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_bin() {
    # The newest installed major version; Debian keeps the server binaries off the PATH.
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

apt_install() {
    log "installing $*"
    [ "$(id -u)" = 0 ] || { log "not root: install $* yourself"; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
}

redis_running() {
    [ -f "$REDIS_DIR/redis.pid" ] && kill -0 "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null
}

start_redis() {
    command -v redis-server >/dev/null || apt_install redis-server
    redis_running && return 0
    mkdir -p "$REDIS_DIR"
    # The AOF directory survives restarts: after a kill -9 Redis reloads from it.
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" \
        --appendonly yes --appendfsync always --save '' \
        --daemonize yes --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" 9>&-
    tries=0
    until redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; do
        tries=$((tries + 1))
        [ $tries -lt 100 ] || { log "redis did not start; see $REDIS_DIR/redis.log"; exit 1; }
        sleep 0.1
    done
}

stop_redis() {
    redis_running || return 0
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    while redis_running; do sleep 0.05; done
}

kill_redis() {
    redis_running || return 0
    pid=$(cat "$REDIS_DIR/redis.pid")
    kill -9 "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}

pg_running() {
    [ -f "$PG_DIR/data/postmaster.pid" ] && kill -0 "$(head -n 1 "$PG_DIR/data/postmaster.pid")" 2>/dev/null
}

start_postgres() {
    [ -n "$(pg_bin)" ] || apt_install postgresql
    bin=$(pg_bin)
    pg_running && return 0
    mkdir -p "$PG_DIR"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DIR"
    if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
        as_pg_user "$bin/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
            >"$PG_DIR/initdb.log" 2>&1 || { log "initdb failed; see $PG_DIR/initdb.log"; exit 1; }
    fi
    # A kill -9 leaves postmaster.pid behind; PostgreSQL removes a stale one itself on start.
    as_pg_user "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 \
        -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=on" start >/dev/null 9>&- ||
        { log "postgres did not start; see $PG_DIR/postgres.log"; exit 1; }
}

stop_postgres() {
    pg_running || return 0
    as_pg_user "$(pg_bin)/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
}

# Immediate shutdown: like a crash (no checkpoint, recovery on the next start), but it also takes
# the backends down, which a kill -9 of the postmaster would leave holding the port.
kill_postgres() {
    pg_running || return 0
    as_pg_user "$(pg_bin)/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null
}

each() {
    action=$1
    case ${2:-all} in
    redis) "${action}_redis" ;;
    postgres) "${action}_postgres" ;;
    all) "${action}_redis" && "${action}_postgres" ;;
    *) log "unknown service: $2 (redis, postgres or all)"; exit 2 ;;
    esac
}

# One command at a time per instance: test processes running in parallel may all ask the same
# shared instance to start, and only the first must initdb. The daemons are started with fd 9
# closed, or they would hold the lock for their whole life.
lock() {
    mkdir -p "$(dirname "$SERVICES_DIR")"
    exec 9>"$SERVICES_DIR.lock"
    flock 9
}

case ${1:-} in
start | stop | kill)
    lock
    each "$1" "${2:-all}"
    ;;
env)
    echo "REDIS_URL=redis://127.0.0.1:$REDIS_PORT"
    echo "DATABASE_URL=postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
    ;;
destroy)
    lock
    each stop all
    rm -rf "$SERVICES_DIR" "$SERVICES_DIR.lock"
    ;;
*)
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
