#!/usr/bin/env bash
# A PostgreSQL streaming standby of the main server, for tests and trials of
# database.read_url, beside (never touching) the main cluster on 127.0.0.1:5432:
#   scripts/replica.sh up|down|status|url|pause|resume
# `up` takes a base backup with `pg_basebackup -R` (as the replication role `make services`
# creates) into REPLICA_DIR (default /tmp/intake-replica) and starts it with the primary's
# own major version's binaries on 127.0.0.1:REPLICA_PORT (default 5433), its Unix socket
# inside its data directory. `up` is idempotent (a standby already streaming is kept; a dead
# one is rebuilt); `down` stops it by its PID and deletes REPLICA_DIR. `pause` and `resume`
# stop and restart WAL replay, to see what readers see under replication lag.
set -euo pipefail

DIR=${REPLICA_DIR:-/tmp/intake-replica}
PORT=${REPLICA_PORT:-5433}
PRIMARY_PORT=${PG_PORT:-5432}
ROLE=intake_replication
DATA=$DIR/data
LOCK=$DIR.lock

log() { echo "replica: $*" >&2; }
die() { echo "replica: ERROR: $*" >&2; exit 1; }

# PostgreSQL refuses to run as root: as root, the standby belongs to `postgres`.
as_pg() {
    if [[ $(id -u) == 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

primary_sql() {
    PGPASSWORD=intake psql -X -q -At -h 127.0.0.1 -p "$PRIMARY_PORT" -U intake -d intake -c "$1"
}

# The binaries of the primary's major version: a standby must match it.
bin_dir() {
    local version
    version=$(primary_sql 'SHOW server_version_num') \
        || die "the primary on 127.0.0.1:$PRIMARY_PORT does not answer (run scripts/services.sh)"
    local dir=/usr/lib/postgresql/$((version / 10000))/bin
    [[ -x $dir/pg_basebackup && -x $dir/pg_ctl ]] || die "no PostgreSQL $((version / 10000)) binaries in $dir"
    echo "$dir"
}

# Superuser statements on the standby, over its socket (only its owner can enter the directory).
standby_sql() { as_pg psql -X -q -At -h "$DATA" -p "$PORT" -U postgres -d postgres -c "$1"; }

running() { [[ -s $DATA/postmaster.pid ]] && as_pg "$(bin_dir)/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }
streaming() { [[ $(standby_sql 'SELECT status FROM pg_stat_wal_receiver' 2>/dev/null) == streaming ]]; }

stop() {
    if [[ -d $DATA ]] && running; then
        log "stopping the standby (pid $(head -1 "$DATA/postmaster.pid"))"
        as_pg "$(bin_dir)/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
    fi
}

# Hot standby needs these at least as high as on the primary.
primary_settings() {
    local name
    for name in max_connections max_worker_processes max_prepared_transactions \
        max_locks_per_transaction max_wal_senders; do
        echo "$name = $(primary_sql "SHOW $name")"
    done
}

up() {
    if running && streaming; then
        log "already up and streaming on 127.0.0.1:$PORT"
        return
    fi
    local bin
    bin=$(bin_dir)
    primary_sql "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE' AND rolreplication" | grep -q 1 \
        || die "no replication role $ROLE on the primary: run scripts/services.sh (make services)"
    stop
    rm -rf "$DIR"
    mkdir -p "$DIR"
    chmod 700 "$DIR"
    [[ $(id -u) != 0 ]] || chown postgres: "$DIR"
    log "base backup of 127.0.0.1:$PRIMARY_PORT into $DATA"
    # -R writes standby.signal and primary_conninfo (with this password) for the standby.
    as_pg env PGPASSWORD=intake "$bin/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U "$ROLE" \
        -D "$DATA" -R -X stream -c fast --no-password \
        || die "pg_basebackup failed (does pg_hba.conf admit $ROLE for replication? run scripts/services.sh)"
    # A Debian cluster keeps its configuration in /etc, so the copy has none: the standby's own.
    as_pg tee "$DATA/postgresql.conf" >/dev/null <<EOF
# intake's local standby (scripts/replica.sh); primary_conninfo is in postgresql.auto.conf.
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DATA'
hot_standby = on
shared_buffers = 32MB
hba_file = '$DATA/pg_hba.conf'
ident_file = '$DATA/pg_ident.conf'
$(primary_settings)
EOF
    as_pg tee "$DATA/pg_hba.conf" >/dev/null <<EOF
local all all trust
host all all 127.0.0.1/32 scram-sha-256
EOF
    as_pg tee "$DATA/pg_ident.conf" </dev/null >/dev/null
    log "starting the standby on 127.0.0.1:$PORT (log $DIR/postgres.log)"
    # 9>&-: the server must not inherit (and so hold) the lock.
    as_pg "$bin/pg_ctl" -D "$DATA" -l "$DIR/postgres.log" -w -t 60 start >/dev/null 9>&- \
        || die "the standby did not start (see $DIR/postgres.log)"
    local deadline=$((SECONDS + 30))
    until streaming || ((SECONDS > deadline)); do sleep 0.5; done
    streaming || die "the standby runs but does not stream from the primary (see $DIR/postgres.log)"
    log "up: streaming from 127.0.0.1:$PRIMARY_PORT, pid $(head -1 "$DATA/postmaster.pid")"
}

status() {
    if ! running; then
        echo "down"
        exit 3
    fi
    local row
    row=$(standby_sql "SELECT coalesce((SELECT status FROM pg_stat_wal_receiver), 'not streaming'),
        pg_get_wal_replay_pause_state(),
        pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())")
    IFS='|' read -r receiver replay behind <<<"$row"
    echo "up on 127.0.0.1:$PORT (pid $(head -1 "$DATA/postmaster.pid")): $receiver, replay $replay, ${behind:-0} bytes received but not replayed"
}

pause() {
    running || die "the standby is not running (scripts/replica.sh up)"
    standby_sql 'SELECT pg_wal_replay_pause()' >/dev/null
    local deadline=$((SECONDS + 10))
    until [[ $(standby_sql 'SELECT pg_get_wal_replay_pause_state()') == paused ]] || ((SECONDS > deadline)); do
        sleep 0.2
    done
    [[ $(standby_sql 'SELECT pg_get_wal_replay_pause_state()') == paused ]] || die "replay did not pause"
    log "WAL replay paused: reads on the standby see nothing newer until resume"
}

resume() {
    running || die "the standby is not running (scripts/replica.sh up)"
    standby_sql 'SELECT pg_wal_replay_resume()' >/dev/null
    log "WAL replay resumed"
}

command=${1:-}
case $command in
    up | down | pause | resume)
        # One caller at a time: tests and a person may run it at once.
        exec 9>"$LOCK"
        flock -w 300 9 || die "another scripts/replica.sh holds $LOCK"
        ;;
esac
case $command in
    up) up ;;
    down)
        stop
        rm -rf "$DIR"
        log "down"
        ;;
    status) status ;;
    url) echo "postgres://intake:intake@127.0.0.1:$PORT/intake" ;;
    pause) pause ;;
    resume) resume ;;
    *) die "usage: scripts/replica.sh up|down|status|url|pause|resume" ;;
esac
