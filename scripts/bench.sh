#!/usr/bin/env bash
# The benchmark behind `make bench` (docs/PERFORMANCE.md explains the method and the figures).
#
# In one go, on this machine: the criterion micro-benchmarks, then each stage's limit beside the
# project's figure for the same work (HTTP, broker, database) for each session shape (1 KB JSON,
# urlencoded, multipart with a 100 KB file), then the real front and consumer end to end for the
# three shapes (closed loop, open loop at 50% and 90% of the sustained rate, an overload run at
# 2x), their memory; E with 1 and 3 partitions on the single node and on a local 3-node cluster;
# grouped publishing on vs off; an optional soak, and (when perf works) a CPU profile under load.
#
# It never touches what `make run` uses: its own database (intake_bench, dropped and recreated),
# its own exchanges and queues (intake-bench.*), its own ports (18080-18083, 19091), and the
# local cluster's (5701-5703, 25701-25703). Everything it starts is stopped on exit, the
# cluster too when this run started it. Results: target/bench/results.json (machine-readable),
# target/bench/summary.md (also printed), raw outputs beside them.
#
# Knobs (environment):
#   BENCH_SECONDS=15          length of every load run
#   BENCH_CONCURRENCY=64      closed-loop requests in flight
#   BENCH_BROKER_MESSAGES=50000  BENCH_BROKER_WINDOW=1024   (a tenth as many multipart messages)
#   BENCH_DB_ROWS=100000      BENCH_DB_BATCH=500  BENCH_DB_WORKERS=2   (a twentieth as many multipart rows)
#   BENCH_CONNECTIONS=2000    idle keep-alive connections held for the memory figure
#   BENCH_SOAK_SECONDS=0      >0: a soak at 50% of the JSON rate, RSS sampled every 10 s
#   BENCH_PERF=auto           auto|1|0: profile front and consumer under load with perf
#   BENCH_PERF_SECONDS=10
#   BENCH_MICRO=1             0 skips the criterion micro-benchmarks
#   BENCH_VERIFY_TIMEOUT=240  how long each loadgen --verify may wait for the consumer
#   BENCH_DRAIN_TIMEOUT=240   how long to wait for the queue to drain between runs
#   BENCH_BUILD=1             0 skips `cargo build --release --bins`
#   BENCH_STAGE_RUNS=3        runs of the (short, noisy) broker and database stages; medians kept
#   BENCH_E_RUNS=3            closed-loop end-to-end runs per shape, in rotating order; medians kept
#   BENCH_SCALE=1             0 skips the scale section: E with broker.partitions 1 and 3, on the
#                             single node and on the local 3-node cluster (scripts/cluster.sh)
#   BENCH_SCALE_RUNS=$BENCH_E_RUNS  rounds of the scale section, in rotating order; medians kept
#   BENCH_GROUPING=1          0 skips the grouping section: front.group_publish on vs off (E, the
#                             broker's CPU per upload, JSON latency at 10/50/90% of E)
#   BENCH_GROUP_RUNS=3        closed-loop rounds per shape and arm of the grouping section
#   BENCH_QUICK=0             1: every step, briefly (3 s runs, small stages, one end-to-end round,
#                             no micro-benchmarks), into target/bench-quick; a check that the
#                             benchmark works, not figures to compare
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Quick mode only changes defaults: any knob set in the environment still wins.
if [[ ${BENCH_QUICK:-0} == 1 ]]; then
    : "${BENCH_SECONDS:=3}" "${BENCH_BROKER_MESSAGES:=5000}" "${BENCH_DB_ROWS:=10000}"
    : "${BENCH_CONNECTIONS:=200}" "${BENCH_E_RUNS:=1}" "${BENCH_MICRO:=0}" "${BENCH_PERF:=0}" "${BENCH_GROUP_RUNS:=1}"
    : "${BENCH_VERIFY_TIMEOUT:=60}" "${BENCH_DRAIN_TIMEOUT:=60}" "${BENCH_OUT:=target/bench-quick}"
fi

SECS=${BENCH_SECONDS:-15}
CONC=${BENCH_CONCURRENCY:-64}
BROKER_MESSAGES=${BENCH_BROKER_MESSAGES:-50000}
BROKER_WINDOW=${BENCH_BROKER_WINDOW:-1024}
DB_ROWS=${BENCH_DB_ROWS:-100000}
DB_BATCH=${BENCH_DB_BATCH:-500}
DB_WORKERS=${BENCH_DB_WORKERS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-2000}
SOAK_SECS=${BENCH_SOAK_SECONDS:-0}
PERF=${BENCH_PERF:-auto}
PERF_SECS=${BENCH_PERF_SECONDS:-10}
MICRO=${BENCH_MICRO:-1}
VERIFY_TIMEOUT=${BENCH_VERIFY_TIMEOUT:-240}
DRAIN_TIMEOUT=${BENCH_DRAIN_TIMEOUT:-240}
BUILD=${BENCH_BUILD:-1}
STAGE_RUNS=${BENCH_STAGE_RUNS:-3}
E_RUNS=${BENCH_E_RUNS:-3}
SCALE=${BENCH_SCALE:-1}
SCALE_RUNS=${BENCH_SCALE_RUNS:-$E_RUNS}
GROUPING=${BENCH_GROUPING:-1}
GROUP_RUNS=${BENCH_GROUP_RUNS:-3}

OUT=${BENCH_OUT:-target/bench}
BIN=target/release
BARE_PORT=18080
DISCARD_PORT=18081
FRONT_PORT=18082
FRONT_METRICS_PORT=18083
CONSUMER_ADDR=127.0.0.1:19091
DB_NAME=intake_bench
ADMIN_DB_URL=postgres://intake:intake@127.0.0.1:5432/intake
EX=intake-bench.sessions
QUEUE=intake-bench.sessions
DLX=intake-bench.dead
DLQ=intake-bench.dead

started_at=$SECONDS
started_utc=$(date -u +%FT%TZ)
log() { printf '[bench %4ds] %s\n' "$((SECONDS - started_at))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- processes we started, stopped on exit ------------------------------------------------------
# Only this shell's own children are ever signalled: `jobs -p` lists the background processes
# it started and has not reaped yet, so a pid reused by someone else's process is never hit.
front_pid=
consumer_pid=
stop_pid() { # PID: TERM, up to 10 s, then KILL
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    for pid in $(jobs -p); do stop_pid "$pid"; done
    # The cluster, when this run started it (its nodes are stopped by their pid files).
    if [[ -n ${cluster_started:-} ]]; then
        bash scripts/cluster.sh down >/dev/null 2>&1 || true
    fi
    # The broker stage deletes its queues itself; these are the front's and consumer's.
    if command -v rabbitmqctl >/dev/null; then
        local queues=("$QUEUE" "$DLQ")
        [[ $SCALE != 1 ]] || queues+=(intake-bench.scale-p1 intake-bench.scale-p3 intake-bench.scale-p3.p{1,2})
        for q in "${queues[@]}"; do
            timeout 20 rabbitmqctl -q delete_queue "$q" >/dev/null 2>&1 || true
        done
    fi
    # Multipart runs store gigabytes of attachments: drop the database (recreated next time).
    if [[ ${BENCH_KEEP_DB:-0} != 1 ]]; then
        timeout 30 psql -q -X "$ADMIN_DB_URL" -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" \
            >/dev/null 2>&1 || true
    fi
    ((rc == 0)) || log "failed (exit $rc); logs in $OUT/"
    exit "$rc"
}

start_bg() { # LOGFILE CMD...: starts CMD in the background, remembers its pid in $last_pid
    local logfile=$1
    shift
    "$@" >"$logfile" 2>&1 &
    last_pid=$!
}

port_free() { ! timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
wait_port() { # PORT PID
    local deadline=$((SECONDS + 60))
    until ! port_free "$1"; do
        kill -0 "$2" 2>/dev/null || die "process $2 exited before listening on $1"
        ((SECONDS < deadline)) || die "nothing listening on 127.0.0.1:$1 after 60 s"
        sleep 0.2
    done
}
wait_ready() { # URL PID
    local deadline=$((SECONDS + 60))
    until curl -sf -o /dev/null --max-time 2 "$1"; do
        kill -0 "$2" 2>/dev/null || die "process $2 exited before $1 answered"
        ((SECONDS < deadline)) || die "$1 not ready after 60 s"
        sleep 0.3
    done
}

queue_depth() { # messages (ready + unacked) in a queue, as RabbitMQ last sampled it (<= 5 s old)
    timeout 20 rabbitmqctl list_queues -q name messages 2>/dev/null | awk -v q="$1" '$1 == q {print $2}'
}
metric() { # URL NAME [LABEL-SUBSTRING]: sum of a Prometheus counter's series, empty if unreachable
    local text
    text=$(curl -sf --max-time 2 "$1") || return 0
    awk -v n="$2" -v l="${3:-}" '$1 ~ ("^" n "({|$)") && index($1, l) {s += $NF} END {printf "%d\n", s}' <<<"$text"
}
# Waits until the consumer has acked as many uploads as the front had confirmed (both counters
# count from process start), so runs don't overlap. RabbitMQ's own queue depth lags by up to
# 5 s, so it is only the fallback.
wait_drain() {
    local deadline=$((SECONDS + DRAIN_TIMEOUT)) published landed depth
    while :; do
        published=$(metric "http://127.0.0.1:$FRONT_METRICS_PORT/metrics" intake_publish_total 'result="confirmed"')
        landed=$(metric "http://$CONSUMER_ADDR/metrics" intake_uploads_total)
        if [[ -n $published && -n $landed ]]; then
            ((landed >= published)) && return 0
            depth="$((published - landed)) uploads confirmed by the front, not yet acked by the consumer"
        else
            depth=$(queue_depth "$QUEUE")
            [[ $depth == 0 ]] && return 0
            depth="${depth:-?} messages in $QUEUE"
        fi
        if ((SECONDS >= deadline)); then
            log "  still $depth after ${DRAIN_TIMEOUT} s; going on"
            return 0
        fi
        log "  draining: $depth"
        sleep 1
    done
}

rss() { # PID FIELD(VmRSS|VmHWM) -> kB
    awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null || echo null
}

# Resets a process's peak RSS (VmHWM) so the next reading is the peak of what follows.
reset_peak() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || true; }
# mem_sample NAME: the front's and consumer's RSS now and peak since the last reset_peaks.
mem_sample() {
    "$BIN/intake-bench" memory --front "$front_pid" --consumer "$consumer_pid" --out "$OUT/$1.mem.json" --say-peak
}
reset_peaks() { reset_peak "$front_pid"; reset_peak "$consumer_pid"; }

# --- loadgen -----------------------------------------------------------------------------------
# loadgen NAME PORT ARGS...: runs intake loadgen against 127.0.0.1:PORT, report in $OUT/NAME.json,
# progress lines in $OUT/NAME.log. A failed verification is recorded, not fatal; refusals are
# figures here, not failures.
loadgen() {
    local name=$1 port=$2
    shift 2
    rm -f "$OUT/$name.json"
    [[ -z $front_pid ]] || reset_peaks
    if ! "$BIN/intake" loadgen --url "http://127.0.0.1:$port" --project "$PROJECT" \
        -u "$BENCH_USER" --secret="$BENCH_SECRET" --json "$OUT/$name.json" --max-error-rate 1 "$@" \
        >"$OUT/$name.txt" 2>"$OUT/$name.log"; then
        [[ -s $OUT/$name.json ]] || die "loadgen $name failed (see $OUT/$name.log)"
        log "  loadgen $name: verification FAILED (see $OUT/$name.txt)"
    fi
    [[ -z $front_pid ]] || mem_sample "$name"
    jq -r --arg n "$name" '"  \($n): \(.throughput_per_second | floor) accepted/s, sent \(.sent), accepted \(.accepted), failed \(.failed_by_status), p50 \(.latency_ms.p50) ms, p99 \(.latency_ms.p99) ms"
        + (if .verify then ", verify \(.verify.verified)/\(.verify.expected)" else "" end)' \
        "$OUT/$name.json" >&2
}

# Writes results.json and summary.md from the raw outputs in $OUT and prints the summary
# (`bench.sh --report` redoes only this, e.g. after changing the summary's format).
report() {
    log "writing $OUT/results.json and $OUT/summary.md"
    "$BIN/intake-bench" report --dir "$OUT" --admin-database-url "$ADMIN_DB_URL"
}

# ================================================================================================
if [[ ${1:-} == --report ]]; then
    report
    exit 0
fi
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.log "$OUT"/*.txt "$OUT"/*.data "$OUT"/*.run "$OUT"/*.metrics
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
for p in $BARE_PORT $DISCARD_PORT $FRONT_PORT $FRONT_METRICS_PORT "${CONSUMER_ADDR##*:}"; do
    port_free "$p" || die "port $p is in use: stop what listens there first"
done
command -v jq >/dev/null || die "jq is needed"
command -v python3 >/dev/null || die "python3 is needed (for the idle-connection memory figure)"

# What is measured: the commit, and files that differ from it when the build starts.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | awk '{print $2}' || true)

log "services"
bash scripts/services.sh >&2
if [[ $BUILD == 1 ]]; then
    log "cargo build --release --bins"
    cargo build --release --bins
fi

if [[ $MICRO == 1 ]]; then
    log "criterion micro-benchmarks (cargo bench --bench codecs, short)"
    cargo bench --bench codecs -- --warm-up-time 1 --measurement-time 3 >"$OUT/micro.raw" 2>"$OUT/micro.log"
    # One line per benchmark: name | time [low est high] | thrpt [low est high].
    awk '
        /^ +change:/ { getline; getline; next }
        /^(Benchmarking|Found|Gnuplot|Warning)/ || /^ +[0-9]+ \(/ || /^$/ { next }
        /time:/ {
            if ($0 ~ /^[^ ]/) { name = $0; sub(/ +time:.*/, "", name) }
            t = $0; sub(/.*time: */, "", t)
            thr = ""
            if ((getline nl) > 0 && nl ~ /thrpt:/) { thr = nl; sub(/.*thrpt: */, "", thr) }
            print name " | " t " | " thr
            next
        }
        /^[^ ]/ { name = $0 }
    ' "$OUT/micro.raw" >"$OUT/micro.txt"
    sed 's/^/  /' "$OUT/micro.txt" >&2
else
    : >"$OUT/micro.txt"
fi

# --- the benchmark's own database, exchanges, queues and env -----------------------------------
unset INTAKE_ENV INTAKE_CONFIG_DIR
export DATABASE_URL=postgres://intake:intake@127.0.0.1:5432/$DB_NAME
export AMQP_URL='amqp://guest:guest@127.0.0.1:5672/%2f'
export INTAKE_BROKER__EXCHANGE=$EX INTAKE_BROKER__QUEUE=$QUEUE
export INTAKE_BROKER__DEAD_LETTER_EXCHANGE=$DLX INTAKE_BROKER__DEAD_LETTER_QUEUE=$DLQ
export INTAKE_CONSUMER__LISTEN=$CONSUMER_ADDR
export INTAKE_LISTEN=127.0.0.1:$FRONT_PORT INTAKE_FRONT__METRICS_LISTEN=127.0.0.1:$FRONT_METRICS_PORT
export RUST_LOG=${RUST_LOG:-warn}

log "database $DB_NAME (dropped, recreated, migrated); queues $QUEUE, $DLQ (deleted)"
for q in "$QUEUE" "$DLQ"; do timeout 20 rabbitmqctl -q delete_queue "$q" >/dev/null 2>&1 || true; done
psql -q -X "$ADMIN_DB_URL" -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" \
    -c "CREATE DATABASE $DB_NAME OWNER intake ENCODING 'UTF8' LOCALE 'C.UTF-8' TEMPLATE template0"
"$BIN/intake" migrate >&2
PROJECT=$("$BIN/intake" project create bench | grep -Eo '[0-9]+' | tail -1)
users=$("$BIN/intake" user create bench)
BENCH_USER=$(awk '/^username:/ {print $2}' <<<"$users")
BENCH_SECRET=$(awk '/^secret:/ {print $2}' <<<"$users")
[[ -n $PROJECT && -n $BENCH_USER && -n $BENCH_SECRET ]] || die "could not create the bench project and user"
"$BIN/intake" user grant "$BENCH_USER" "$PROJECT" >&2
log "project $PROJECT, user $BENCH_USER"

JSON_SHAPE=(--mix json=1 --points 10)
FORM_SHAPE=(--mix form=1 --points 10)
MULTIPART_SHAPE=(--mix multipart=1 --points 2 --attachment-bytes 102400)

# Everything here shares the machine's CPUs: say so when something else is busy on it.
busy_before=$("$BIN/intake-bench" machine-busy --seconds 3)
log "machine busy before the stages: ${busy_before}% (of all CPUs)"
((busy_before < 15)) || log "WARNING: something else is using the CPUs; the figures will be low"

# --- H: HTTP -----------------------------------------------------------------------------------
# Every shape: the bound B of each end-to-end shape is built from its own stage limits.
log "H: bare axum handler, closed loop $CONC, ${SECS} s per shape"
start_bg "$OUT/bare-http.server.log" "$BIN/intake-bench" bare-http --listen "127.0.0.1:$BARE_PORT"
bare_pid=$last_pid
wait_port "$BARE_PORT" "$bare_pid"
loadgen http-bare-json "$BARE_PORT" --concurrency "$CONC" --duration "$SECS" "${JSON_SHAPE[@]}"
loadgen http-bare-form "$BARE_PORT" --concurrency "$CONC" --duration "$SECS" "${FORM_SHAPE[@]}"
loadgen http-bare-multipart "$BARE_PORT" --concurrency "$CONC" --duration "$SECS" "${MULTIPART_SHAPE[@]}"
stop_pid "$bare_pid"

log "H: the real front with a discarding publisher, closed loop $CONC, ${SECS} s per shape"
start_bg "$OUT/front-discard.server.log" "$BIN/intake-bench" front-discard --listen "127.0.0.1:$DISCARD_PORT"
discard_pid=$last_pid
wait_ready "http://127.0.0.1:$DISCARD_PORT/healthz" "$discard_pid"
loadgen http-front-discard-json "$DISCARD_PORT" --concurrency "$CONC" --duration "$SECS" "${JSON_SHAPE[@]}"
loadgen http-front-discard-form "$DISCARD_PORT" --concurrency "$CONC" --duration "$SECS" "${FORM_SHAPE[@]}"
loadgen http-front-discard-multipart "$DISCARD_PORT" --concurrency "$CONC" --duration "$SECS" "${MULTIPART_SHAPE[@]}"
stop_pid "$discard_pid"

# --- Q: broker ---------------------------------------------------------------------------------
# Short and noisy (±15% run to run here): STAGE_RUNS runs, each figure the median.
median_runs() { # OUT-FILE IN-FILES...: per-figure median of the runs' per_second, runs kept
    "$BIN/intake-bench" median --out "$@" || die "cannot fold the runs into $1"
}
# urlencoded sessions become the same queue messages and rows as JSON ones, so two shapes cover
# the three: 10 text points, and 2 points plus a 100 KB file (fewer of them: ~100x the bytes).
STAGE_SHAPES=(json multipart)
declare -A STAGE_ARGS=([json]="--points 10" [multipart]="--points 2 --file-bytes 102400")
declare -A BROKER_COUNT=([json]=$BROKER_MESSAGES [multipart]=$((BROKER_MESSAGES / 10)))
declare -A DB_COUNT=([json]=$DB_ROWS [multipart]=$((DB_ROWS / 20)))
for shape in "${STAGE_SHAPES[@]}"; do
    log "Q[$shape]: broker, ${BROKER_COUNT[$shape]} messages, window $BROKER_WINDOW, $STAGE_RUNS runs (raw publish, raw consume, front publisher, consumer path)"
    for ((i = 1; i <= STAGE_RUNS; i++)); do
        # shellcheck disable=SC2086 # the shape's arguments are meant to split
        "$BIN/intake-bench" broker --messages "${BROKER_COUNT[$shape]}" --window "$BROKER_WINDOW" ${STAGE_ARGS[$shape]} \
            >"$OUT/broker-$shape-$i.run" 2>"$OUT/broker.log" || die "broker stage failed (see $OUT/broker.log)"
        jq -r '"  raw publish \(.raw_publish.per_second|floor)/s, raw consume \(.raw_consume.per_second|floor)/s, front publisher \(.front_publish.per_second|floor)/s, consumer decode+ack \(.consumer_decode_ack.per_second|floor)/s (\(.message_bytes) B messages)"' "$OUT/broker-$shape-$i.run" >&2
    done
    median_runs "$OUT/broker-$shape.json" "$OUT"/broker-"$shape"-*.run
done

# --- D: database -------------------------------------------------------------------------------
for shape in "${STAGE_SHAPES[@]}"; do
    log "D[$shape]: database, ${DB_COUNT[$shape]} rows, batches of $DB_BATCH, $DB_WORKERS connections, $STAGE_RUNS runs (raw upsert, consumer write path)"
    for ((i = 1; i <= STAGE_RUNS; i++)); do
        # shellcheck disable=SC2086
        "$BIN/intake-bench" database --rows "${DB_COUNT[$shape]}" --batch "$DB_BATCH" --workers "$DB_WORKERS" ${STAGE_ARGS[$shape]} \
            >"$OUT/database-$shape-$i.run" 2>"$OUT/database.log" || die "database stage failed (see $OUT/database.log)"
        jq -r '"  raw upsert \(.raw_upsert.per_second|floor) rows/s, write path \(.write_path.per_second|floor) rows/s"' "$OUT/database-$shape-$i.run" >&2
    done
    median_runs "$OUT/database-$shape.json" "$OUT"/database-"$shape"-*.run
done

# --- E: end to end -----------------------------------------------------------------------------
# A fresh front and consumer for each phase, so each phase's memory is its own (glibc keeps what
# an earlier peak allocated) and runs never overlap.
phase=
# A section's own settings, on top of the exported environment: both processes, the front's,
# the consumer's (VAR=value words for env).
PIPELINE_ENV=()
FRONT_ENV=()
CONSUMER_ENV=()
start_pipeline() { # PHASE
    phase=$1
    log "E[$phase]: starting intake-front (127.0.0.1:$FRONT_PORT) and intake-consumer ($CONSUMER_ADDR)"
    # The consumer first: it declares the queues of every partition, which a front with
    # partitions checks before it becomes ready.
    start_bg "$OUT/consumer-$phase.server.log" env "${PIPELINE_ENV[@]}" "${CONSUMER_ENV[@]}" "$BIN/intake-consumer"
    consumer_pid=$last_pid
    wait_ready "http://$CONSUMER_ADDR/readyz" "$consumer_pid"
    start_bg "$OUT/front-$phase.server.log" env "${PIPELINE_ENV[@]}" "${FRONT_ENV[@]}" "$BIN/intake-front"
    front_pid=$last_pid
    wait_ready "http://127.0.0.1:$FRONT_PORT/readyz" "$front_pid"
    "$BIN/intake-bench" memory --front "$front_pid" --consumer "$consumer_pid" --out "$OUT/phase-$phase.idle.json"
}
stop_pipeline() { # after wait_drain; keeps the metrics and the RSS the phase ended with
    curl -sf --max-time 2 "http://127.0.0.1:$FRONT_METRICS_PORT/metrics" >"$OUT/front-$phase.metrics" || true
    curl -sf --max-time 2 "http://$CONSUMER_ADDR/metrics" >"$OUT/consumer-$phase.metrics" || true
    "$BIN/intake-bench" memory --front "$front_pid" --consumer "$consumer_pid" --out "$OUT/phase-$phase.end.json"
    stop_pid "$front_pid"
    stop_pid "$consumer_pid"
    front_pid=
    consumer_pid=
}

rate_of() { jq -r '.throughput_per_second' "$OUT/$1.json"; }
median_rate() { # SHAPE: median accepted/s of its closed-loop runs so far
    jq -s 'map(select(has("throughput_per_second")) | .throughput_per_second) | sort | .[length / 2 | floor]' \
        "$OUT/e2e-$1-closed"*.json
}
pct() { awk -v r="$1" -v p="$2" 'BEGIN { printf "%d", r * p / 100 + 0.5 }'; }

# closed_with_cpu NAME ARGS...: closed loop $CONC for $SECS s with --verify into $OUT/NAME.json,
# and the CPU split over its send phase into $OUT/NAME.cpu.json.
closed_with_cpu() {
    local name=$1 lg_pid
    shift
    rm -f "$OUT/$name.json"
    reset_peaks
    # Background so the CPU split over the send phase can be sampled beside it.
    "$BIN/intake" loadgen --url "http://127.0.0.1:$FRONT_PORT" --project "$PROJECT" \
        -u "$BENCH_USER" --secret="$BENCH_SECRET" --json "$OUT/$name.json" --max-error-rate 1 \
        --concurrency "$CONC" --duration "$SECS" --verify --verify-timeout "$VERIFY_TIMEOUT" "$@" \
        >"$OUT/$name.txt" 2>"$OUT/$name.log" &
    lg_pid=$!
    # Over the send phase but a second short of its end, while loadgen certainly still runs.
    "$BIN/intake-bench" cpu-split --loadgen "$lg_pid" --front "$front_pid" --consumer "$consumer_pid" \
        --seconds "$((SECS > 2 ? SECS - 1 : 1))" --out "$OUT/$name.cpu.json"
    wait "$lg_pid" || log "  loadgen $name: verification FAILED (see $OUT/$name.txt)"
    [[ -s $OUT/$name.json ]] || die "loadgen $name failed (see $OUT/$name.log)"
    mem_sample "$name"
    jq -r '"  closed: \(.throughput_per_second|floor) accepted/s, p50 \(.latency_ms.p50) ms, p99 \(.latency_ms.p99) ms, verify \(.verify.verified)/\(.verify.expected) in \(.verify.waited_seconds) s"' \
        "$OUT/$name.json" >&2
}

run_shape() { # SHAPE-NAME ARGS...
    local shape=$1 e
    shift
    log "E[$shape]: closed loop $CONC, ${SECS} s, --verify"
    closed_with_cpu "e2e-$shape-closed" "$@"
    mv "$OUT/e2e-$shape-closed.cpu.json" "$OUT/e2e-$shape-cpu.json"
    wait_drain
    e=$(median_rate "$shape")
    for p in 50 90; do
        log "E[$shape]: open loop $p% of $(printf '%.0f' "$e")/s = $(pct "$e" "$p")/s, ${SECS} s, --verify"
        loadgen "e2e-$shape-open$p" "$FRONT_PORT" --rate "$(pct "$e" "$p")" --duration "$SECS" \
            --verify --verify-timeout "$VERIFY_TIMEOUT" "$@"
        wait_drain
    done
}

# A fresh front holding many idle keep-alive connections (a phase of its own, so the figure is
# the connections' cost, not what the allocator kept from earlier peaks, and the reverse).
start_pipeline connections
log "memory: the front holding $CONNECTIONS idle keep-alive connections"
ready_file=$OUT/connections.ready
rm -f "$ready_file"
cat >"$OUT/connections.py" <<'PY'
import json, socket, sys, time
port, count, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"
def ask(sockets):
    ok = 0
    for s in sockets:
        try:
            s.sendall(request)
        except OSError:
            pass
    for s in sockets:
        try:
            if s.recv(4096).startswith(b"HTTP/1.1 200"):
                ok += 1
        except OSError:
            pass
    return ok
sockets, errors = [], 0
for _ in range(count):
    try:
        sockets.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    except OSError:
        errors += 1
first = ask(sockets)
with open(ready, "w") as f:
    f.write("ready\n")
time.sleep(4)  # the script reads the front's RSS meanwhile
second = ask(sockets)  # still open and served after being held
print(json.dumps({"opened": len(sockets), "connect_errors": errors,
                  "answered_first": first, "answered_after_hold": second}))
PY
front_before_conns=$(rss "$front_pid" VmRSS)
start_bg "$OUT/connections.json" python3 "$OUT/connections.py" "$FRONT_PORT" "$CONNECTIONS" "$ready_file"
conn_pid=$last_pid
deadline=$((SECONDS + 60))
until [[ -f $ready_file ]] || ((SECONDS > deadline)); do
    kill -0 "$conn_pid" 2>/dev/null || break
    sleep 0.2
done
sleep 1
front_with_conns=$(rss "$front_pid" VmRSS)
wait "$conn_pid" || true
jq --argjson b "$front_before_conns" --argjson w "$front_with_conns" \
    '. + {front_before_kib: $b, front_holding_kib: $w}' "$OUT/connections.json" >"$OUT/connections.tmp"
mv "$OUT/connections.tmp" "$OUT/connections.json"
jq -r '"  front \(.front_before_kib/1024|floor) MiB idle, \(.front_holding_kib/1024|floor) MiB holding \(.opened) connections (\(.answered_first) answered, \(.answered_after_hold) still answered after the hold)"' \
    "$OUT/connections.json" >&2
stop_pipeline

# Extra closed-loop rounds, each shape in turn in a different position, so that what one phase
# leaves behind (RabbitMQ's segment work, PostgreSQL's checkpoints and autovacuum) does not
# always land on the same shape. Each run has fresh processes; E is the median of all runs.
SHAPES=(json form multipart)
declare -A SHAPE_ARGS=([json]="${JSON_SHAPE[*]}" [form]="${FORM_SHAPE[*]}" [multipart]="${MULTIPART_SHAPE[*]}")
for ((round = 1; round < E_RUNS; round++)); do
    for ((k = 0; k < ${#SHAPES[@]}; k++)); do
        shape=${SHAPES[$(((k + round) % ${#SHAPES[@]}))]}
        start_pipeline "$shape-r$round"
        log "E[$shape]: closed loop $CONC, ${SECS} s, --verify (round $round of $E_RUNS)"
        # shellcheck disable=SC2086 # the shape's arguments are meant to split
        loadgen "e2e-$shape-closed-r$round" "$FRONT_PORT" --concurrency "$CONC" --duration "$SECS" \
            --verify --verify-timeout "$VERIFY_TIMEOUT" ${SHAPE_ARGS[$shape]}
        wait_drain
        stop_pipeline
    done
done

start_pipeline json
run_shape json "${JSON_SHAPE[@]}"
e_json=$(median_rate json)
stop_pipeline

start_pipeline form
run_shape form "${FORM_SHAPE[@]}"
stop_pipeline

start_pipeline multipart
run_shape multipart "${MULTIPART_SHAPE[@]}"
stop_pipeline

start_pipeline overload
log "E[overload]: JSON, open loop 2x = $(pct "$e_json" 200)/s, --max-in-flight 4096, ${SECS} s, --verify"
loadgen e2e-json-overload "$FRONT_PORT" --rate "$(pct "$e_json" 200)" --max-in-flight 4096 \
    --duration "$SECS" --verify --verify-timeout "$VERIFY_TIMEOUT" "${JSON_SHAPE[@]}"
# Accepted per second, one figure a second, from loadgen's progress lines.
grep -o 'rate [0-9]*/s' "$OUT/e2e-json-overload.log" | grep -o '[0-9]*' | jq -s '.' >"$OUT/e2e-json-overload-series.json" \
    || echo '[]' >"$OUT/e2e-json-overload-series.json"
wait_drain
stop_pipeline

# --- scale: partitions, and the local 3-node cluster ----------------------------------------------
# E (JSON, closed loop) with broker.partitions 1 and 3, on the single node and on the local
# cluster (scripts/cluster.sh), each setup with fresh processes, in rotating order, SCALE_RUNS
# rounds; E of a setup is the median of its rounds. Each partition count has an exchange and
# queues of its own, so a consumer never finds the other count's queues.
SCALE_SETUPS=(single-p1 single-p3 cluster-p1 cluster-p3)
cluster_started=
cluster_urls() { # FIRST-NODE: the cluster's AMQP URLs, starting at that node
    local urls
    IFS=, read -ra urls <<<"$(bash scripts/cluster.sh urls)"
    local i out=()
    for ((i = 0; i < ${#urls[@]}; i++)); do out+=("${urls[$(((i + $1 - 1) % ${#urls[@]}))]}"); done
    (IFS=,; echo "${out[*]}")
}
scale_env() { # SETUP: the pipeline's settings for it
    local parts=${1##*-p}
    PIPELINE_ENV=(INTAKE_BROKER__PARTITIONS="$parts"
        INTAKE_BROKER__EXCHANGE="intake-bench.scale-p$parts" INTAKE_BROKER__QUEUE="intake-bench.scale-p$parts")
    FRONT_ENV=()
    CONSUMER_ENV=()
    if [[ $1 == cluster-* ]]; then
        # As docs/SCALING.md says: every node listed, each process starting at another node,
        # and a publish timeout that waits out a leader election.
        PIPELINE_ENV+=(INTAKE_FRONT__PUBLISH_TIMEOUT_MS=10000)
        FRONT_ENV=(AMQP_URL="$(cluster_urls 1)")
        CONSUMER_ENV=(AMQP_URL="$(cluster_urls 2)")
    fi
}
if [[ $SCALE == 1 ]]; then
    cluster_note=started
    if bash scripts/cluster.sh status >/dev/null 2>&1; then
        cluster_note="already running"
    else
        log "scale: starting the local 3-node cluster (scripts/cluster.sh up)"
        # Ours from before it starts, so that an exit during the start stops what did start.
        cluster_started=1
        if ! bash scripts/cluster.sh up >"$OUT/cluster.log" 2>&1; then
            cluster_note="could not start (see cluster.log)"
            log "  the cluster $cluster_note: its setups are skipped"
            bash scripts/cluster.sh down >>"$OUT/cluster.log" 2>&1 || true
            cluster_started=
        fi
    fi
    for ((round = 1; round <= SCALE_RUNS; round++)); do
        for ((k = 0; k < ${#SCALE_SETUPS[@]}; k++)); do
            setup=${SCALE_SETUPS[$(((k + round - 1) % ${#SCALE_SETUPS[@]}))]}
            [[ $setup == single-* || $cluster_note != could* ]] || continue
            scale_env "$setup"
            start_pipeline "scale-$setup-r$round"
            log "scale[$setup]: JSON closed loop $CONC, ${SECS} s, --verify (round $round of $SCALE_RUNS)"
            closed_with_cpu "scale-$setup-r$round" "${JSON_SHAPE[@]}"
            wait_drain
            stop_pipeline
        done
    done
    PIPELINE_ENV=()
    FRONT_ENV=()
    CONSUMER_ENV=()
    if [[ -n $cluster_started ]]; then
        log "scale: stopping the cluster"
        bash scripts/cluster.sh down >>"$OUT/cluster.log" 2>&1 || log "  scripts/cluster.sh down failed (see $OUT/cluster.log)"
        cluster_started=
    fi
    jq -n --argjson runs "$SCALE_RUNS" --arg cluster "$cluster_note" '$ARGS.positional as $s
        | {runs: $runs, setups: $s, cluster: $cluster}' --args "${SCALE_SETUPS[@]}" >"$OUT/scale.json"
fi

# --- grouping: several uploads in one broker message, on vs off ----------------------------------
# E of each shape with front.group_publish on and off (fresh processes, rotating order, medians
# of GROUP_RUNS), the broker's CPU per upload, and JSON accept latency at 10%, 50% and 90% of
# E without grouping (the same offered load for both). A front that does not know the setting
# (its configuration refuses unknown keys) runs both arms without it: an A/A comparison, which
# the report marks.
if [[ $GROUPING == 1 ]]; then
    group_supported=false
    if "$BIN/intake" config show 2>/dev/null \
        | awk '/^\[/ {f = ($0 == "[front]")} f && /^group_publish *=/ {found = 1} END {exit !found}'; then
        group_supported=true
    else
        log "grouping: this intake-front has no front.group_publish: both arms run without it"
    fi
    group_env() { # on|off
        PIPELINE_ENV=()
        CONSUMER_ENV=()
        FRONT_ENV=()
        [[ $group_supported == false ]] || FRONT_ENV=(INTAKE_FRONT__GROUP_PUBLISH="$([[ $1 == on ]] && echo true || echo false)")
    }
    arms_in_turn() { # N: "on off" or "off on", alternating with N
        if (($1 % 2)); then echo on off; else echo off on; fi
    }
    for ((round = 1; round <= GROUP_RUNS; round++)); do
        for ((k = 0; k < ${#SHAPES[@]}; k++)); do
            shape=${SHAPES[$(((k + round) % ${#SHAPES[@]}))]}
            for arm in $(arms_in_turn "$((k + round))"); do
                group_env "$arm"
                start_pipeline "grouping-$shape-$arm-r$round"
                log "grouping[$shape, $arm]: closed loop $CONC, ${SECS} s, --verify (round $round of $GROUP_RUNS)"
                # shellcheck disable=SC2086 # the shape's arguments are meant to split
                closed_with_cpu "grouping-$shape-$arm-r$round" ${SHAPE_ARGS[$shape]}
                wait_drain
                stop_pipeline
            done
        done
    done
    e_off=$(jq -s 'map(.throughput_per_second) | sort | .[length / 2 | floor]' "$OUT"/grouping-json-off-r*[0-9].json)
    for arm in $(arms_in_turn "$GROUP_RUNS"); do
        group_env "$arm"
        start_pipeline "grouping-json-$arm-open"
        for p in 10 50 90; do
            log "grouping[json, $arm]: open loop $p% of $(printf '%.0f' "$e_off")/s = $(pct "$e_off" "$p")/s, ${SECS} s, --verify"
            loadgen "grouping-json-$arm-open$p" "$FRONT_PORT" --rate "$(pct "$e_off" "$p")" --duration "$SECS" \
                --verify --verify-timeout "$VERIFY_TIMEOUT" "${JSON_SHAPE[@]}"
            wait_drain
        done
        stop_pipeline
    done
    group_env off
    FRONT_ENV=()
    jq -n --argjson runs "$GROUP_RUNS" --argjson supported "$group_supported" --argjson e_off "$e_off" \
        '{runs: $runs, supported: $supported, open_loop_levels_percent: [10, 50, 90], open_loop_of: $e_off}' \
        >"$OUT/grouping.json"
fi

# --- soak and profile (optional), on a fresh pipeline --------------------------------------------
echo '[]' >"$OUT/soak.json"
perf_note="not run (BENCH_PERF=0)"
: >"$OUT/perf-front.txt"
: >"$OUT/perf-consumer.txt"
if [[ $PERF == auto ]]; then
    if command -v perf >/dev/null && perf record -q -e cpu-clock -o "$OUT/probe.data" -- true >/dev/null 2>&1; then
        PERF=1
    else
        PERF=0
        perf_note="skipped: perf is not usable here"
    fi
    rm -f "$OUT/probe.data"
fi
if ((SOAK_SECS > 0)) || [[ $PERF == 1 ]]; then
    start_pipeline extra
fi
if ((SOAK_SECS > 0)); then
    soak_rate=$(pct "$e_json" 50)
    log "soak: ${SOAK_SECS} s at $soak_rate/s (JSON), RSS every 10 s"
    "$BIN/intake" loadgen --url "http://127.0.0.1:$FRONT_PORT" --project "$PROJECT" \
        -u "$BENCH_USER" --secret="$BENCH_SECRET" --json "$OUT/soak-loadgen.json" --rate "$soak_rate" \
        --duration "$SOAK_SECS" "${JSON_SHAPE[@]}" >"$OUT/soak-loadgen.txt" 2>"$OUT/soak-loadgen.log" &
    soak_pid=$!
    soak_start=$SECONDS
    : >"$OUT/soak.ndjson"
    while kill -0 "$soak_pid" 2>/dev/null && ((SECONDS - soak_start <= SOAK_SECS + 30)); do
        jq -cn --argjson t "$((SECONDS - soak_start))" --argjson f "$(rss "$front_pid" VmRSS)" \
            --argjson c "$(rss "$consumer_pid" VmRSS)" '{t: $t, front_kib: $f, consumer_kib: $c}' >>"$OUT/soak.ndjson"
        tail -1 "$OUT/soak.ndjson" | sed 's/^/  /' >&2
        sleep 10
    done
    wait "$soak_pid" || true
    jq -s '.' "$OUT/soak.ndjson" >"$OUT/soak.json"
    wait_drain
fi
if [[ $PERF == 1 ]]; then
    log "profile: perf record -e cpu-clock on front and consumer, ${PERF_SECS} s of JSON closed loop"
    "$BIN/intake" loadgen --url "http://127.0.0.1:$FRONT_PORT" --project "$PROJECT" \
        -u "$BENCH_USER" --secret="$BENCH_SECRET" --concurrency "$CONC" --duration "$((PERF_SECS + 2))" \
        "${JSON_SHAPE[@]}" --quiet >"$OUT/perf-loadgen.txt" 2>&1 &
    perf_lg=$!
    sleep 1
    perf record -q -e cpu-clock -F 499 -p "$front_pid" -o "$OUT/perf-front.data" -- sleep "$PERF_SECS" >/dev/null 2>&1 &
    pf=$!
    perf record -q -e cpu-clock -F 499 -p "$consumer_pid" -o "$OUT/perf-consumer.data" -- sleep "$PERF_SECS" >/dev/null 2>&1 &
    pc=$!
    wait "$pf" || true
    wait "$pc" || true
    wait "$perf_lg" || true
    for who in front consumer; do
        timeout 120 perf report -i "$OUT/perf-$who.data" --stdio --no-children --sort dso,sym 2>/dev/null \
            | grep -v -e '^#' -e '^$' | head -25 | cut -c1-160 >"$OUT/perf-$who.txt" || true
    done
    perf_note="perf record -e cpu-clock -F 499, ${PERF_SECS} s, JSON closed loop $CONC"
    wait_drain
fi
[[ -z $front_pid ]] || stop_pipeline

# The report sums the consumers' outcomes from their metrics (consumer-*.metrics).
jq -n --arg started "$started_utc" --argjson elapsed "$((SECONDS - started_at))" \
    --argjson secs "$SECS" --argjson conc "$CONC" --argjson soak "$SOAK_SECS" --argjson stage_runs "$STAGE_RUNS" \
    --argjson busy_before "$busy_before" --arg commit "$commit" --arg dirty "$dirty" \
    --arg perf_note "$perf_note" \
    '{started: $started, elapsed_seconds: $elapsed, bench_seconds: $secs, concurrency: $conc,
      commit: $commit, uncommitted: ($dirty | split("\n") | map(select(length > 0))),
      stage_runs: $stage_runs, soak_seconds: $soak, machine_busy_percent_before: $busy_before, perf_note: $perf_note}' >"$OUT/run.json"
report
log "done in $((SECONDS - started_at)) s"
