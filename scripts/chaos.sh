#!/usr/bin/env bash
# Fault suite: drives steady signed load through the real front, RabbitMQ, consumer and
# PostgreSQL while it kills and stops them, then checks against the load generator's own record
# of 2xx answers that every accepted upload is stored, once, in its last-accepted version.
#
#   CHAOS_SECONDS  load per scenario (default 30; CI uses a short form)
#   CHAOS_RATE     uploads per second offered (default 200)
#   CHAOS_REPORT   where the markdown table goes (default target/chaos/report.md)
#   CHAOS_ONLY     run only these scenarios (comma-separated names; default all)
#
# It stops and restarts the machine's PostgreSQL and RabbitMQ (briefly): run it where nothing
# else depends on them at that moment. Everything else is its own: database intake_chaos,
# exchange and queues intake-chaos.*, ports 18180 and 19191-19192.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${CHAOS_SECONDS:-30}
rate=${CHAOS_RATE:-200}
out=target/chaos
report=${CHAOS_REPORT:-$out/report.md}
mkdir -p "$out"
bin=./target/release
base_url=${DATABASE_URL:-postgres://intake:intake@127.0.0.1:5432/intake}
db_url="${base_url%/*}/intake_chaos"
admin_url="${base_url%/*}/postgres"
# The vhost of AMQP_URL (where the front and consumers declare the chaos queues), for rabbitmqctl.
amqp_url=${AMQP_URL:-amqp://intake:intake@127.0.0.1:5672/intake}
vhost=${amqp_url##*/}
vhost=${vhost%%\?*}
[[ -n $vhost && ${vhost,,} != "%2f" ]] || vhost=/
front_url=http://127.0.0.1:18180
pg_version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -1)

export DATABASE_URL=$db_url
export INTAKE_LISTEN=127.0.0.1:18180 INTAKE_FRONT__METRICS_LISTEN=127.0.0.1:18181
export INTAKE_BROKER__EXCHANGE=intake-chaos.x INTAKE_BROKER__QUEUE=intake-chaos.q
export INTAKE_BROKER__DEAD_LETTER_EXCHANGE=intake-chaos.dlx INTAKE_BROKER__DEAD_LETTER_QUEUE=intake-chaos.dlq
export RUST_LOG=${RUST_LOG:-warn}

say() { printf 'chaos: %s\n' "$*" >&2; }

front_pid=
consumer_pids=()
start_front() { "$bin/intake-front" >>"$out/front.log" 2>&1 & front_pid=$!; }
start_consumer() {
    INTAKE_CONSUMER__LISTEN=127.0.0.1:$1 "$bin/intake-consumer" >>"$out/consumer.log" 2>&1 &
    consumer_pids+=("$!")
}
stop_all() {
    kill -TERM "$front_pid" "${consumer_pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    consumer_pids=()
}
services_up() {
    pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start 2>/dev/null || true
    rabbitmqctl -q start_app 2>/dev/null || true
}
cleanup() { # its own database and queues are of no use after the report
    psql "$admin_url" -qc "DROP DATABASE IF EXISTS intake_chaos WITH (FORCE)" >/dev/null 2>&1 || true
    local queue
    for queue in intake-chaos.q intake-chaos.dlq; do
        rabbitmqctl -q -p "$vhost" delete_queue "$queue" >/dev/null 2>&1 || true
    done
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
queue_empty() {
    local depth
    depth=$(rabbitmqctl -q -p "$vhost" list_queues name messages 2>/dev/null | awk '$1=="intake-chaos.q"{print $2}')
    [[ ${depth:-1} == 0 ]]
}

say "building release binaries"
bash scripts/services.sh >/dev/null
cargo build --release --bins --quiet
psql "$admin_url" -qc "DROP DATABASE IF EXISTS intake_chaos WITH (FORCE)" -c "CREATE DATABASE intake_chaos" >/dev/null
"$bin/intake" migrate >/dev/null
project=$("$bin/intake" project create chaos)
secret=$("$bin/intake" user create chaos | awk '/^secret:/{print $2}')
"$bin/intake" user grant chaos "$project" >/dev/null
: >"$out/front.log"
: >"$out/consumer.log"
start_front
start_consumer 19191
wait_until "front ready" 30 front_ready

rows=()
run_scenario() { # name, fault function
    local name=$1 fault=$2 json="$out/$1.json" recovered=
    [[ -z ${CHAOS_ONLY:-} || ,$CHAOS_ONLY, == *,$name,* ]] || return 0
    say "scenario $name: ${seconds}s at ${rate}/s"
    "$bin/intake" loadgen --url "$front_url" --project "$project" -u chaos --secret="$secret" \
        --rate "$rate" --duration "$seconds" --replace-ratio 0.2 --mix json=1,form=1,multipart=1 \
        --attachment-bytes 2048 --verify --verify-timeout 180 --json "$json" --quiet \
        >"$out/$name.txt" 2>&1 &
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
    python3 - "$json" "$name" "$recovered" "$(elapsed "$fault_start")" "$status" >>"$out/rows.md" <<'EOF'
import json, sys
path, name, recovered, _, status = sys.argv[1:]
try:
    r = json.load(open(path))
except (OSError, ValueError):
    print(f"| {name} | – | – | – | – | – | – | – | FAILED (no loadgen report) |")
    sys.exit(0)
v = r.get("verify") or {}
failed = sum(r.get("failed_by_status", {}).values()) + sum(r.get("transport_errors", {}).values())
lost = v.get("missing", "?")
wrong = (v.get("wrong_version", 0) or 0) + (v.get("wrong_content", 0) or 0)
print(f"| {name} | {r['sent']} | {r['accepted']} | {failed} | {v.get('expected','?')} | {lost} | {wrong} | {recovered} s | {'ok' if status == '0' else 'FAILED'} |")
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
        start_consumer 19191
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
    start_consumer 19192
}

printf '| scenario | sent | accepted (2xx) | refused or failed | uuids verified | lost | wrong version | recovery | result |\n|---|---|---|---|---|---|---|---|---|\n' >"$out/rows.md"
run_scenario consumer-sigkill-x5 kill_consumer_repeatedly
run_scenario front-sigkill kill_and_restart_front
run_scenario rabbitmq-restart restart_rabbitmq
run_scenario postgresql-outage stop_postgresql
run_scenario two-consumers second_consumer

{
    echo "Fault suite, $(date -u +%Y-%m-%dT%H:%MZ), ${seconds}s of load per scenario at ${rate}/s:"
    echo
    cat "$out/rows.md"
} >"$report"
cat "$report"
passed=0 failed=0
for status in "${rows[@]}"; do
    if [[ $status == 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "chaos: $passed passed, $failed failed"
((failed == 0))
