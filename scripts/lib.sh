# Shared by the measuring scripts that start their own release front (export_bench.sh,
# hostile.sh): the caller sets `out`, `bin` and `say` first.

# The RabbitMQ vhost of an AMQP URL ("/" for none or %2f).
vhost_of() {
    local vhost=${1##*/}
    vhost=${vhost%%\?*}
    [[ -n $vhost && ${vhost,,} != "%2f" ]] || vhost=/
    echo "$vhost"
}

# stop_pid PID: SIGTERM, then wait for it (a pid of this shell's own children only).
stop_pid() {
    [[ -n $1 ]] || return 0
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# drop_scratch ADMIN_URL DATABASE VHOST QUEUE...: what a run leaves behind, quietly.
drop_scratch() {
    local admin_url=$1 database=$2 vhost=$3 queue
    shift 3
    psql "$admin_url" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
    for queue in "$@"; do
        timeout 20 rabbitmqctl -q -p "$vhost" delete_queue "$queue" >/dev/null 2>&1 || true
    done
}

kib() { awk -v key="$2:" '$1 == key {print $2}' "/proc/$1/status"; }
mib() { echo $((($1 + 512) / 1024)); }

# start_front SECONDS: starts $bin/intake-front (log in $out/front.log), sets front_pid, and
# waits until it is ready on $INTAKE_LISTEN; exits the script if it dies or is not ready.
start_front() {
    "$bin/intake-front" >>"$out/front.log" 2>&1 &
    front_pid=$!
    local deadline=$((SECONDS + $1))
    until curl -fs -o /dev/null "http://$INTAKE_LISTEN/readyz"; do
        kill -0 "$front_pid" 2>/dev/null || { say "intake-front exited; see $out/front.log"; exit 1; }
        ((SECONDS < deadline)) || { say "intake-front not ready after $1 s"; exit 1; }
        sleep 0.2
    done
}
