#!/usr/bin/env bash
# Fault suite: drives steady signed load through the real front, RabbitMQ, consumer and
# PostgreSQL while it kills and stops them, then checks against the load generator's own record
# of 2xx answers that every accepted upload is stored, once, in its last-accepted version.
#
#   CHAOS_SECONDS  load per scenario (default 30; CI uses a short form)
#   CHAOS_RATE     uploads per second offered (default 200)
#   CHAOS_REPORT   where the markdown table goes (default target/chaos/report.md)
#   CHAOS_ONLY     run only these scenarios (comma-separated names; default all); `cluster`
#                  names every cluster scenario, and a run of cluster scenarios only touches
#                  nothing shared
#   CHAOS_BIN      the binaries' directory (default ./target/release, built first)
#
# It stops and restarts the machine's PostgreSQL and RabbitMQ (briefly): run it where nothing
# else depends on them at that moment. Everything else is its own: database intake_chaos,
# exchange and queues intake-chaos.*, ports 18180-18181 and 19191-19193 (with CHAOS_ONLY=cluster
# database intake_chaos_cluster and ports 18280-18281 and 19291-19293, so that it may run
# beside a full run). Then, when the local
# 3-node cluster can be started (scripts/cluster.sh), the same load and checks run on it while
# it kills the queue leader's node, the node the front and consumer are connected to, and a
# node that is restarted at once, and with 3 partitions and 3 consumers, one SIGKILLed. At
# most 2% of the requests may be refused during a node kill.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${CHAOS_SECONDS:-30}
selected() { # scenario name: asked for by CHAOS_ONLY?
    [[ -z ${CHAOS_ONLY:-} || ,$CHAOS_ONLY, == *,$1,* ]] && return 0
    [[ $1 == cluster-* && ,$CHAOS_ONLY, == *,cluster,* ]]
}
# only=cluster: nothing but cluster scenarios asked for; want_cluster: any of them.
only= want_cluster=1
if [[ -n ${CHAOS_ONLY:-} ]]; then
    only=cluster want_cluster=
    IFS=, read -ra asked <<<"$CHAOS_ONLY"
    for name in "${asked[@]}"; do
        if [[ $name == cluster || $name == cluster-* ]]; then want_cluster=1; else only=; fi
    done
    [[ -n $want_cluster ]] || only=
fi
db_name=intake_chaos
port=18180   # the front's; +1 its metrics; consumers from $((port + 1011))
if [[ $only == cluster ]]; then
    db_name=intake_chaos_cluster
    port=18280
fi
consumer_port() { echo $((port + 1010 + $1)); } # consumer 1, 2, 3
rate=${CHAOS_RATE:-200}
out=target/chaos
report=${CHAOS_REPORT:-$out/report.md}
mkdir -p "$out"
bin=${CHAOS_BIN:-./target/release}
base_url=${DATABASE_URL:-postgres://intake:intake@127.0.0.1:5432/intake}
db_url="${base_url%/*}/$db_name"
admin_url="${base_url%/*}/postgres"
# The vhost of AMQP_URL (where the front and consumers declare the chaos queues), for rabbitmqctl.
amqp_url=${AMQP_URL:-amqp://intake:intake@127.0.0.1:5672/intake}
vhost=${amqp_url##*/}
vhost=${vhost%%\?*}
[[ -n $vhost && ${vhost,,} != "%2f" ]] || vhost=/
front_url=http://127.0.0.1:$port
pg_version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -1)

export DATABASE_URL=$db_url
export INTAKE_LISTEN=127.0.0.1:$port INTAKE_FRONT__METRICS_LISTEN=127.0.0.1:$((port + 1))
export INTAKE_BROKER__EXCHANGE=intake-chaos.x INTAKE_BROKER__QUEUE=intake-chaos.q
export INTAKE_BROKER__DEAD_LETTER_EXCHANGE=intake-chaos.dlx INTAKE_BROKER__DEAD_LETTER_QUEUE=intake-chaos.dlq
export RUST_LOG=${RUST_LOG:-warn}

say() { printf 'chaos: %s\n' "$*" >&2; }

front_pid=
consumer_pids=()
start_front() { "$bin/intake-front" >>"$out/front.log" 2>&1 & front_pid=$!; }
start_consumer() { # port [partitions]
    INTAKE_CONSUMER__LISTEN=127.0.0.1:$1 INTAKE_CONSUMER__PARTITIONS=${2:-} \
        "$bin/intake-consumer" >>"$out/consumer.log" 2>&1 &
    consumer_pids+=("$!")
}
stop_all() {
    kill -TERM "$front_pid" "${consumer_pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    consumer_pids=()
}
on_cluster=
cluster_started=
services_up() { # only after the scenarios that stop them
    [[ -z $only ]] || return 0
    pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start >/dev/null 2>&1 || true
    rabbitmqctl -q start_app 2>/dev/null || true
}
cleanup() { # its own database and queues are of no use after the report
    psql "$admin_url" -qc "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" >/dev/null 2>&1 || true
    local queue
    if [[ $only != cluster ]]; then
        for queue in intake-chaos.q intake-chaos.dlq; do
            rabbitmqctl -q -p "$vhost" delete_queue "$queue" >/dev/null 2>&1 || true
        done
    fi
    if [[ -n $cluster_started ]]; then
        bash scripts/cluster.sh down >/dev/null 2>&1 || true
    fi
}
trap 'services_up; stop_all; cleanup' EXIT

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

wait_until() { # description, timeout seconds, command...
    local what=$1 limit=$2 start
    shift 2
    start=$(date +%s)
    until "$@" >/dev/null 2>&1; do
        (($(date +%s) - start < limit)) || { say "timed out waiting for $what"; return 1; }
        sleep 0.2
    done
}
front_ready() { curl -fsS "$front_url/readyz"; }
list_queues() { # columns…: from the main node, or from the first cluster node that answers
    if [[ -z $on_cluster ]]; then
        rabbitmqctl -q -p "$vhost" list_queues "$@" 2>/dev/null
        return
    fi
    local n
    for n in 1 2 3; do
        bash scripts/cluster.sh ctl "$n" list_queues -p intake "$@" 2>/dev/null && return
    done
    return 1
}
queue_empty() { # every partition's queue
    local depth
    depth=$(list_queues name messages | awk '$1 ~ /^intake-chaos\.q(\.p[0-9]+)?$/ {n += $2; seen = 1} END {print seen ? n : -1}')
    [[ ${depth:--1} == 0 ]]
}

say "building release binaries"
bash scripts/services.sh >/dev/null
[[ $bin != ./target/release ]] || cargo build --release --bins --quiet
use_cluster() { # starts the cluster if needed; the binaries started after it use it
    if ! bash scripts/cluster.sh status >/dev/null 2>&1; then
        bash scripts/cluster.sh up >"$out/cluster.log" 2>&1 || return 1
        cluster_started=1
    fi
    on_cluster=1
    AMQP_URL=$(bash scripts/cluster.sh urls)
    export AMQP_URL
    # As docs/SCALING.md advises for a cluster: long enough to wait out a leader election.
    export INTAKE_FRONT__PUBLISH_TIMEOUT_MS=${INTAKE_FRONT__PUBLISH_TIMEOUT_MS:-10000}
    # The reconnect times are read off the front's and consumers' logs.
    export RUST_LOG=warn,intake::broker=info
}
if [[ $only == cluster ]]; then
    use_cluster || { say "the cluster cannot start (see $out/cluster.log)"; exit 1; }
fi
psql "$admin_url" -qc "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" -c "CREATE DATABASE $db_name" >/dev/null
"$bin/intake" migrate >/dev/null
project=$("$bin/intake" project create chaos)
secret=$("$bin/intake" user create chaos | awk '/^secret:/{print $2}')
"$bin/intake" user grant chaos "$project" >/dev/null
: >"$out/front.log"
: >"$out/consumer.log"
start_front
start_consumer "$(consumer_port 1)"
wait_until "front ready" 30 front_ready

rows=()
run_scenario() { # name, fault function
    # Refusals during a fault are expected: loadgen fails the run only on what verification
    # finds, and the share refused is held to the scenario's limit below.
    local name=$1 fault=$2 json="$out/$1.json" recovered= limit=${3:-100}
    selected "$name" || return 0
    say "scenario $name: ${seconds}s at ${rate}/s"
    "$bin/intake" loadgen --url "$front_url" --project "$project" -u chaos --secret="$secret" \
        --rate "$rate" --duration "$seconds" --replace-ratio 0.2 --mix json=1,form=1,multipart=1 \
        --attachment-bytes 2048 --verify --verify-timeout 180 --json "$json" --quiet \
        --max-error-rate 1 >"$out/$name.txt" 2>&1 &
    local loadgen=$!
    sleep $((seconds / 4))
    local fault_start
    fault_start=$(now)
    "$fault"
    local fault_end
    fault_end=$(now)
    wait_until "front ready after $name" 60 front_ready
    wait_until "queue drained after $name" 120 queue_empty
    recovered=$(elapsed "$fault_end")
    local status=0
    wait "$loadgen" || status=$?
    python3 - "$json" "$name" "$recovered" "$(elapsed "$fault_start")" "$status" "$limit" >>"$out/rows.md" <<'EOF' || status=1
import json, sys
path, name, recovered, _, status, limit = sys.argv[1:]
try:
    r = json.load(open(path))
except (OSError, ValueError):
    print(f"| {name} | – | – | – | – | – | – | – | FAILED (no loadgen report) |")
    sys.exit(0)
v = r.get("verify") or {}
failed = sum(r.get("failed_by_status", {}).values()) + sum(r.get("transport_errors", {}).values())
lost = v.get("missing", "?")
wrong = (v.get("wrong_version", 0) or 0) + (v.get("wrong_content", 0) or 0)
share = 100.0 * failed / max(1, r['sent'])
ok = status == '0' and share <= float(limit)
print(f"| {name} | {r['sent']} | {r['accepted']} | {failed} ({share:.1f}%) | {v.get('expected','?')} | {lost} | {wrong} | {recovered} s | {'ok' if ok else 'FAILED'} |")
sys.exit(0 if ok else 1)
EOF
    [[ $status == 0 ]] || say "scenario $name FAILED (see $out/$name.txt)"
    rows+=("$status")
}

kill_consumer_repeatedly() {
    local _kill
    for _kill in 1 2 3 4 5; do
        kill -KILL "${consumer_pids[0]}" 2>/dev/null || true
        wait "${consumer_pids[0]}" 2>/dev/null || true
        consumer_pids=("${consumer_pids[@]:1}")
        start_consumer "$(consumer_port 1)"
        sleep "$(python3 -c "print(max(0.5, $seconds / 20))")"
    done
}
kill_and_restart_front() {
    kill -KILL "$front_pid"
    wait "$front_pid" 2>/dev/null || true
    sleep 1
    start_front
}
restart_rabbitmq() {
    rabbitmqctl -q stop_app
    sleep "$(python3 -c "print(max(3, $seconds / 4))")"
    rabbitmqctl -q start_app
    wait_until "rabbitmq back" 60 rabbitmq-diagnostics -q check_running
}
stop_postgresql() {
    pg_ctlcluster --skip-systemctl-redirect "$pg_version" main stop -m fast
    sleep "$(python3 -c "print(max(5, $seconds / 2))")"
    pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start
}
second_consumer() {
    start_consumer "$(consumer_port 2)"
}

printf '| scenario | sent | accepted (2xx) | refused or failed | uuids verified | lost | wrong version | recovery | result |\n|---|---|---|---|---|---|---|---|---|\n' >"$out/rows.md"
if [[ -z $only ]]; then
    run_scenario consumer-sigkill-x5 kill_consumer_repeatedly
    run_scenario front-sigkill kill_and_restart_front
    run_scenario rabbitmq-restart restart_rabbitmq
    run_scenario postgresql-outage stop_postgresql
    run_scenario two-consumers second_consumer
    if [[ -z $want_cluster ]]; then
        :
    elif use_cluster; then
        stop_all
        start_front
        start_consumer "$(consumer_port 1)"
        wait_until "front ready on the cluster" 30 front_ready
    else
        say "the cluster cannot start (see $out/cluster.log): cluster scenarios skipped"
    fi
fi
if [[ -n $on_cluster ]]; then
    source scripts/chaos_cluster.sh
fi

{
    echo "Fault suite, $(date -u +%Y-%m-%dT%H:%MZ), ${seconds}s of load per scenario at ${rate}/s:"
    echo
    cat "$out/rows.md"
    if [[ -s $out/reconnect.md ]]; then
        echo
        echo "Time from a lost broker connection to the next one, on the cluster:"
        cat "$out/reconnect.md"
    fi
} >"$report"
cat "$report"
passed=0 failed=0
for status in "${rows[@]}"; do
    if [[ $status == 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "chaos: $passed passed, $failed failed"
((failed == 0))
