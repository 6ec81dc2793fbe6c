#!/usr/bin/env bash
# Ensures PostgreSQL and RabbitMQ are installed, running and answering on this machine, and
# that the `intake` role and database exist. Idempotent: when everything already runs it only
# checks (a few seconds) and never restarts anything. Also the `intake` user and vhost of RabbitMQ. Needs root on a fresh Debian 12 machine.
# With SERVICES_BROWSER=1 (make test) also Chromium and its WebDriver, for the console's browser
# tests; `make run` does not need them.
set -euo pipefail

log() { echo "services: $*"; }
die() { echo "services: ERROR: $*" >&2; exit 1; }
has() { command -v "$1" >/dev/null 2>&1; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

PG_PORT=5432
AMQP_PORT=5672

# --- packages: collect what is missing, then one `apt-get update` and one install -------------
missing=()
# The server binary, not just the client: psql alone is no database.
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null && has pg_ctlcluster || missing+=(postgresql)
has psql || missing+=(postgresql-client)
installed libpq-dev || missing+=(libpq-dev)   # Diesel's pq-sys links libpq
has pkg-config || missing+=(pkg-config)       # ...and finds it through pkg-config
has curl || missing+=(curl)                   # used by the docs and `intake demo`'s curl line
has rabbitmq-server || missing+=(rabbitmq-server)
if [[ ${SERVICES_BROWSER:-0} == 1 ]]; then
    [[ -x /usr/bin/chromium ]] || missing+=(chromium)
    [[ -x /usr/bin/chromedriver ]] || missing+=(chromium-driver)
fi

if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || die "need root to install: ${missing[*]}"
    log "installing ${missing[*]}"
    apt-get update -qq
    # The postgresql package creates its first cluster in the current locale: make that UTF-8
    # (an unset LANG would give SQL_ASCII). Recommends would bring an MTA, cron and sysstat.
    LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- PostgreSQL ------------------------------------------------------------------------------
pg_up() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; }

if pg_up; then
    log "postgresql already answering on 127.0.0.1:$PG_PORT"
else
    # Newest cluster version configured, or newest server installed when there is no cluster yet.
    ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1 || true)
    [[ -n $ver ]] || ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
    if [[ ! -d /etc/postgresql/$ver/main ]]; then
        log "creating cluster $ver/main"
        pg_createcluster --locale C.UTF-8 --port "$PG_PORT" "$ver" main >/dev/null
    fi
    log "starting postgresql $ver/main"
    # May say "already running" when it is merely still starting: the wait below decides.
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    deadline=$((SECONDS + 60))
    until pg_up || ((SECONDS > deadline)); do sleep 1; done
    pg_up || die "postgresql not answering on 127.0.0.1:$PG_PORT after 60 s (see /var/log/postgresql/)"
    log "postgresql answering on 127.0.0.1:$PG_PORT"
fi

# As the postgres superuser over the socket: peer auth on a fresh machine, trust here. ALTER
# every time so the role ends up as wanted even if it existed with other attributes.
# CREATE DATABASE cannot run in a DO block, hence \gexec; UTF-8 whatever the cluster's default.
(cd / && runuser -u postgres -- psql -q -X -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres) <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'intake') THEN
    CREATE ROLE intake;
  END IF;
END $$;
ALTER ROLE intake WITH LOGIN CREATEDB PASSWORD 'intake';
SELECT 'CREATE DATABASE intake OWNER intake ENCODING ''UTF8'' LOCALE ''C.UTF-8'' TEMPLATE template0'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'intake') \gexec
SQL
# Over TCP with the password, as the services and tests connect (scram/md5 on a fresh machine).
PGPASSWORD=intake psql -q -X -At -h 127.0.0.1 -p "$PG_PORT" -U intake -d intake -c 'select 1' >/dev/null \
    || die "cannot connect as intake@127.0.0.1:$PG_PORT/intake"
log "postgresql ok: postgres://intake:intake@127.0.0.1:$PG_PORT/intake"

# The role a streaming standby replicates as (scripts/replica.sh, `make replica`). A
# replication connection matches only pg_hba lines naming `replication` (`all` does not cover
# it): when none admits this role over loopback, one line for it alone is appended and the
# configuration reloaded, which restarts nothing.
REPL_ROLE=intake_replication
(cd / && runuser -u postgres -- psql -q -X -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres) <<SQL
SELECT 'CREATE ROLE $REPL_ROLE' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$REPL_ROLE') \gexec
ALTER ROLE $REPL_ROLE WITH LOGIN REPLICATION PASSWORD 'intake';
SQL
replication_ok() {
    PGPASSWORD=intake psql -X -q -At -c IDENTIFY_SYSTEM \
        "host=127.0.0.1 port=$PG_PORT user=$REPL_ROLE dbname=replication replication=true" >/dev/null 2>&1
}
if ! replication_ok; then
    hba=$(cd / && runuser -u postgres -- psql -X -At -p "$PG_PORT" -d postgres -c 'SHOW hba_file')
    log "pg_hba.conf admits no replication connection of $REPL_ROLE over loopback: adding one to $hba"
    printf '# A local streaming standby for intake (scripts/replica.sh).\nhost replication %s 127.0.0.1/32 scram-sha-256\n' \
        "$REPL_ROLE" >>"$hba"
    (cd / && runuser -u postgres -- psql -q -X -At -p "$PG_PORT" -d postgres -c 'SELECT pg_reload_conf()') >/dev/null
    deadline=$((SECONDS + 10))
    until replication_ok || ((SECONDS > deadline)); do sleep 1; done
    replication_ok || die "no replication connection as $REPL_ROLE@127.0.0.1:$PG_PORT (see $hba)"
fi
log "postgresql replication ok: $REPL_ROLE@127.0.0.1:$PG_PORT (for scripts/replica.sh)"

# --- RabbitMQ --------------------------------------------------------------------------------
rmq_ping() { rabbitmq-diagnostics -q ping >/dev/null 2>&1; }
amqp_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$AMQP_PORT" 2>/dev/null; }

if rmq_ping && amqp_open; then
    log "rabbitmq already running"
else
    if ! rmq_ping; then
        log "starting rabbitmq"
        # Errors if a node is already up but not yet answering ping: the wait below decides.
        rabbitmq-server -detached || true
    fi
    # The node answers ping before its AMQP listener is up, so wait for both.
    deadline=$((SECONDS + 90))
    until rmq_ping && amqp_open || ((SECONDS > deadline)); do sleep 2; done
    rmq_ping && amqp_open || die "rabbitmq not answering on 127.0.0.1:$AMQP_PORT after 90 s (see /var/log/rabbitmq/)"
fi

# Quorum queues need RabbitMQ >= 3.8. dpkg is instant; the CLI takes a second to start.
rmq_ver=$(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null || rabbitmq-diagnostics -q server_version) \
    || die "cannot tell the rabbitmq version"
dpkg --compare-versions "$rmq_ver" ge 3.8 || die "rabbitmq $rmq_ver is too old for quorum queues (need >= 3.8)"

# The intake user and vhost, as for PostgreSQL: guest may only connect from loopback and owns
# the default vhost, so intake gets its own. Adding a user or a vhost restarts nothing. Each
# step is idempotent; the password is set every time so the user ends up as wanted.
rmq() { timeout 60 rabbitmqctl -q "$@"; }
rmq list_vhosts | grep -qx intake || rmq add_vhost intake >/dev/null \
    || die "cannot create the rabbitmq vhost intake"
if rmq list_users | awk '{print $1}' | grep -qx intake; then
    rmq change_password intake intake >/dev/null || die "cannot set the rabbitmq password of intake"
else
    rmq add_user intake intake >/dev/null || die "cannot create the rabbitmq user intake"
fi
rmq set_permissions -p intake intake '.*' '.*' '.*' >/dev/null \
    || die "cannot grant the rabbitmq user intake the vhost intake"
log "rabbitmq ok: $rmq_ver (quorum queues supported) on amqp://intake:intake@127.0.0.1:$AMQP_PORT/intake"
