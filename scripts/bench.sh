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
# The work is done by `intake-bench run` (crates/intake-tools/src/bench/run/); this script only
# starts the services, builds, and hands over. Every knob below is read by intake-bench from the
# environment (or given as its flag: BENCH_DB_ROWS is --db-rows; `intake-bench run --help`).
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
#   BENCH_GROUP_RUNS=3        rounds per shape and arm of the grouping section (closed and open loops)
#   BENCH_QUICK=0             1: every step, briefly (3 s runs, small stages, one end-to-end round,
#                             no micro-benchmarks), into target/bench-quick; a check that the
#                             benchmark works, not figures to compare
#   BENCH_OUT=target/bench    where the results go (target/bench-quick in quick mode)
#   BENCH_KEEP_DB=0           1 keeps the benchmark's database (intake_bench) after the run
#
# `bash scripts/bench.sh --report` only rewrites results.json and summary.md from the raw outputs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
started_at=$(date +%s)
BIN=target/release
say() { printf '[bench %4ds] %s\n' "$(($(date +%s) - started_at))" "$*" >&2; }
# An empty knob means its default, as it always has (intake-bench would refuse the empty value).
for knob in $(compgen -v BENCH_); do
    [[ -n ${!knob} ]] || unset "$knob"
done

if [[ ${1:-} == --report ]]; then
    exec "$BIN/intake-bench" run --report-only
fi

say "services"
bash scripts/services.sh >&2
if [[ ${BENCH_BUILD:-1} == 1 ]]; then
    say "cargo build --release --bins"
    cargo build --release --bins
fi
[[ -x $BIN/intake-bench ]] || { say "ERROR: $BIN/intake-bench is not built (BENCH_BUILD=1 builds it)"; exit 1; }
# The front holds thousands of connections for the memory figure.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec "$BIN/intake-bench" run --started-at "$started_at"
