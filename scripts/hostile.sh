#!/usr/bin/env bash
# Hostile-input memory figures: starts a release intake-front and intake-consumer on their own
# ports, database and queues, sends each hostile body shape (scripts/hostile_bodies.py, each
# as large as the default 32 MiB limit allows) to a freshly started front, and reads the
# front's resident memory when idle and its peak (VmHWM) after the answer. Also a page of
# large sessions from the list route. Writes a markdown table.
#
#   HOSTILE_BIN        the binaries to measure (default target/release, built first)
#   HOSTILE_TARGET_MIB peak over idle allowed per shape (default 128); exits 1 past it
#   HOSTILE_REPORT     where the table goes (default target/hostile/report.md)
#   HOSTILE_ONLY       comma-separated shapes to measure (default: every shape)
#
# Everything is its own: database intake_hostile, exchange and queues intake-hostile.*,
# ports 18280-18282, files under target/hostile. It restarts nothing shared.
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/hostile
report=${HOSTILE_REPORT:-$out/report.md}
target_mib=${HOSTILE_TARGET_MIB:-128}
front_port=18280
metrics_port=18281
consumer_addr=127.0.0.1:18282
mkdir -p "$out"
say() { printf 'hostile: %s\n' "$*" >&2; }
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

if [[ -n ${HOSTILE_BIN:-} ]]; then
    bin=$HOSTILE_BIN
else
    bin=./target/release
    say "building release binaries"
    cargo build --release --bins --quiet
fi
base_url=${DATABASE_URL:-postgres://intake:intake@127.0.0.1:5432/intake}
amqp_url=${AMQP_URL:-amqp://intake:intake@127.0.0.1:5672/intake}
vhost=$(vhost_of "$amqp_url")
config_dir=${INTAKE_CONFIG_DIR:-config}

export DATABASE_URL="${base_url%/*}/intake_hostile" AMQP_URL=$amqp_url
export INTAKE_LISTEN=127.0.0.1:$front_port INTAKE_CONSUMER__LISTEN=$consumer_addr
export INTAKE_BROKER__EXCHANGE=intake-hostile.x INTAKE_BROKER__QUEUE=intake-hostile.q
export INTAKE_BROKER__DEAD_LETTER_EXCHANGE=intake-hostile.dlx INTAKE_BROKER__DEAD_LETTER_QUEUE=intake-hostile.dlq
export RUST_LOG=${RUST_LOG:-warn} INTAKE_CONFIG_DIR=$config_dir
unset INTAKE_ENV
# Builds from before the metrics listener refuse the key; their config does not have it.
grep -q '^metrics_listen' "$config_dir/default.toml" && export INTAKE_FRONT__METRICS_LISTEN=127.0.0.1:$metrics_port

front_pid= consumer_pid=
cleanup() {
    stop_pid "$front_pid"
    stop_pid "$consumer_pid"
    drop_scratch "${base_url%/*}/postgres" intake_hostile "$vhost" intake-hostile.q intake-hostile.dlq
}
trap cleanup EXIT

# --- set-up ------------------------------------------------------------------------------------
: >"$out/front.log"
: >"$out/consumer.log"
say "database intake_hostile, queues intake-hostile.* in vhost $vhost"
psql "${base_url%/*}/postgres" -qc "DROP DATABASE IF EXISTS intake_hostile WITH (FORCE)" >/dev/null
psql "${base_url%/*}/postgres" -qc "CREATE DATABASE intake_hostile" >/dev/null
"$bin/intake" migrate >/dev/null
project=$("$bin/intake" project create hostile)
secret=$("$bin/intake" user create hostile-user | awk '$1 == "secret:" {print $2}')
"$bin/intake" user grant hostile-user "$project" >/dev/null
say "writing the bodies (once; kept in $out/bodies)"
mapfile -t shapes < <(python3 scripts/hostile_bodies.py "$out/bodies")
"$bin/intake-consumer" >>"$out/consumer.log" 2>&1 &
consumer_pid=$!

sessions="http://$INTAKE_LISTEN/api/v1/projects/$project/sessions"
signed_curl() { # curl arguments...: status code on stdout, answer in $out/answer
    local headers
    mapfile -t headers < <("$bin/intake" sign -u hostile-user -s "$secret")
    curl -sS -o "$out/answer" -w '%{http_code}' --max-time 120 \
        -H "${headers[0]}" -H "${headers[1]}" "$@"
}
wait_stored() { # uuid: until the list route shows it
    local deadline=$((SECONDS + 60))
    until [[ $(signed_curl "$sessions/$1") == 200 ]]; do
        ((SECONDS < deadline)) || { say "session $1 not stored after 60 s"; exit 1; }
        sleep 0.5
    done
}

rows=() over=0
wanted() { # name: whether HOSTILE_ONLY (if set) lists it
    [[ -z ${HOSTILE_ONLY:-} || ,$HOSTILE_ONLY, == *,$1,* ]]
}
measure() { # name, what, curl arguments...
    local name=$1 what=$2 idle peak status answer_bytes
    shift 2
    wanted "$name" || return 0
    start_front 30
    idle=$(kib "$front_pid" VmRSS)
    status=$(signed_curl "$@" || true) # 000 when the front dropped the connection
    answer_bytes=$(stat -c %s "$out/answer")
    peak=$(kib "$front_pid" VmHWM)
    stop_pid "$front_pid"
    front_pid=
    local delta=$(((peak - idle + 512) / 1024)) verdict=ok
    ((delta <= target_mib)) || { verdict=OVER; over=1; }
    say "$name: $status, answer $answer_bytes B, idle $(mib "$idle") MiB, peak $(mib "$peak") MiB (+$delta MiB) $verdict"
    rows+=("| $name | $what | $status | $answer_bytes | $(mib "$idle") | $(mib "$peak") | +$delta | $verdict |")
}

# A session for the attachment PUT to replace a point of.
start_front 30
signed_curl -H 'Content-Type: application/json' --data-binary '{"session":{"uuid":"put-target","unit_id":"u"}}' "$sessions" >/dev/null
wait_stored put-target
stop_pid "$front_pid"
front_pid=

for line in "${shapes[@]}"; do
    IFS=$'\t' read -r name content_type file what <<<"$line"
    if [[ $name == attachment-put ]]; then
        measure "$name" "$what" -X PUT -H "Content-Type: $content_type" --data-binary "@$file" \
            "$sessions/put-target/attachments/f?filename=f.bin"
    else
        measure "$name" "$what" -H "Content-Type: $content_type" --data-binary "@$file" "$sessions"
    fi
done

# A page of large sessions: four stored sessions of 30 MiB of text, then one list request.
if wanted list-big-sessions; then
    say "storing four sessions of 30 MiB for the list page"
    start_front 30
    for i in 1 2 3 4; do
        python3 - "$i" >"$out/big.json" <<'PY'
import json, sys
value = "b" * ((1 << 20) - 64)
print(json.dumps({"session": {"uuid": f"big-{sys.argv[1]}", "unit_id": "u",
                              "data": {f"p{i}": value for i in range(30)}}}))
PY
        signed_curl -H 'Content-Type: application/json' --data-binary "@$out/big.json" "$sessions" >/dev/null
    done
    for i in 1 2 3 4; do wait_stored "big-$i"; done
    stop_pid "$front_pid"
    front_pid=
fi
measure "list-big-sessions" "a list page over four 30 MiB sessions" "$sessions?limit=100"

{
    echo "| shape | what | answer | answer bytes | idle MiB | peak MiB | peak − idle MiB | ≤ $target_mib MiB |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "Binaries: $bin ($(git rev-parse --short HEAD 2>/dev/null || echo unknown) tree); $(nproc) cores;"\
        "one request at a time, a fresh front for each; peak is VmHWM after the answer."
} >"$report"
cat "$report"
((over == 0)) || { say "some shapes raised the front's peak by more than $target_mib MiB"; exit 1; }
