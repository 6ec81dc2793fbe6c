#!/usr/bin/env bash
# Export at scale: fills a scratch database with set-based SQL (generate_series, not through
# the pipeline), then exports each project through a release intake-front, one fresh front per
# export, and records sessions/s, MB/s and the front's peak memory (VmHWM). Memory is flat
# when the peak is about the same for every size. Writes a markdown table.
#
#   EXPORT_BENCH_SIZES   sessions per project, one export each (default "100000 1000000")
#   EXPORT_BENCH_FORMAT  ndjson or csv (default ndjson)
#   EXPORT_BENCH_BIN     the binaries (default target/release, intake-front and intake built first)
#   EXPORT_BENCH_REPORT  where the table goes (default target/export-bench/report.md)
#
# Everything is its own: database intake_export_bench (dropped at the end), exchange and
# queues intake-export-bench.*, ports 18380-18381, files under target/export-bench. It
# restarts nothing shared.
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/export-bench
report=${EXPORT_BENCH_REPORT:-$out/report.md}
read -r -a sizes <<<"${EXPORT_BENCH_SIZES:-100000 1000000}"
format=${EXPORT_BENCH_FORMAT:-ndjson}
front_port=18380
metrics_port=18381
mkdir -p "$out"
say() { printf 'export-bench: %s\n' "$*" >&2; }
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

if [[ -n ${EXPORT_BENCH_BIN:-} ]]; then
    bin=$EXPORT_BENCH_BIN
else
    bin=./target/release
    say "building release intake-front and intake"
    cargo build --release --bin intake-front --bin intake --quiet
fi
base_url=${DATABASE_URL:-postgres://intake:intake@127.0.0.1:5432/intake}
amqp_url=${AMQP_URL:-amqp://intake:intake@127.0.0.1:5672/intake}
vhost=$(vhost_of "$amqp_url")
admin_url="${base_url%/*}/postgres"
db_url="${base_url%/*}/intake_export_bench"

export DATABASE_URL=$db_url AMQP_URL=$amqp_url
export INTAKE_LISTEN=127.0.0.1:$front_port INTAKE_FRONT__METRICS_LISTEN=127.0.0.1:$metrics_port
export INTAKE_BROKER__EXCHANGE=intake-export-bench.x INTAKE_BROKER__QUEUE=intake-export-bench.q
export INTAKE_BROKER__DEAD_LETTER_EXCHANGE=intake-export-bench.dlx
export INTAKE_BROKER__DEAD_LETTER_QUEUE=intake-export-bench.dlq
export RUST_LOG=${RUST_LOG:-warn} INTAKE_CONFIG_DIR=${INTAKE_CONFIG_DIR:-config}
unset INTAKE_ENV

front_pid=
stop_front() { stop_pid "$front_pid"; front_pid=; }
cleanup() {
    stop_front
    drop_scratch "$admin_url" intake_export_bench "$vhost" intake-export-bench.q intake-export-bench.dlq
}
trap cleanup EXIT

# --- the scratch database ----------------------------------------------------------------------
: >"$out/front.log"
say "database intake_export_bench"
psql "$admin_url" -qc "DROP DATABASE IF EXISTS intake_export_bench WITH (FORCE)" >/dev/null
psql "$admin_url" -qc "CREATE DATABASE intake_export_bench" >/dev/null
"$bin/intake" migrate >/dev/null
secret=$("$bin/intake" user create export-bench | awk '$1 == "secret:" {print $2}')
[[ -n $secret ]] || { say "no secret from intake user create"; exit 1; }

# Each session: ten text points of about 20 bytes; every tenth also a 2 KiB file, so the
# NDJSON carries file bytes inline as an export of photos does.
projects=()
for size in "${sizes[@]}"; do
    project=$("$bin/intake" project create "sessions-$size")
    "$bin/intake" user grant export-bench "$project" >/dev/null
    projects+=("$project")
    say "project $project: inserting $size sessions"
    started=$SECONDS
    psql "$db_url" -v ON_ERROR_STOP=1 -q <<SQL
INSERT INTO sessions (project_id, uuid, unit_id, created, saved, received, received_from,
                      upload_id, points)
SELECT $project, 'bench-' || g, 'unit-' || (g % 1000),
       to_timestamp(1700000000 + g), to_timestamp(1700000000 + g),
       to_timestamp(1700000000) + g * interval '1 ms', 'export-bench', gen_random_uuid(),
       (SELECT jsonb_object_agg('point_' || p, 'value ' || p || ' of session ' || g)
          FROM generate_series(1, 10) p)
FROM generate_series(1, $size) g;
INSERT INTO attachments (project_id, session_id, point, embedded, filename, content_type,
                         size, md5, sha256, bytes)
SELECT $project, id, 'photo', false, 'photo.jpg', 'image/jpeg', 2048,
       decode(md5(b), 'hex'), sha256(b), b
FROM (SELECT id, decode(repeat(md5(uuid), 128), 'hex') AS b
        FROM sessions WHERE project_id = $project AND id % 10 = 0) s;
SQL
    say "project $project: $size sessions in $((SECONDS - started)) s"
done
psql "$db_url" -qc "VACUUM ANALYZE sessions, attachments" >/dev/null

# --- the exports -------------------------------------------------------------------------------
rows=()
for i in "${!sizes[@]}"; do
    size=${sizes[$i]} project=${projects[$i]}
    start_front 60
    idle=$(kib "$front_pid" VmRSS)
    mapfile -t headers < <("$bin/intake" sign -u export-bench -s "$secret")
    say "exporting $size sessions ($format)"
    t0=$EPOCHREALTIME
    read -r lines bytes < <(curl -sS --fail -H "${headers[0]}" -H "${headers[1]}" \
        "http://$INTAKE_LISTEN/api/v1/projects/$project/sessions/export?format=$format" | wc -lc)
    t1=$EPOCHREALTIME
    peak=$(kib "$front_pid" VmHWM)
    stop_front
    sessions=$lines
    [[ $format == csv ]] && sessions=$((lines - 1))
    if ((sessions != size)); then
        say "exported $sessions sessions, expected $size"
        exit 1
    fi
    read -r seconds rate mbps < <(awk -v t0="$t0" -v t1="$t1" -v n="$sessions" -v b="$bytes" \
        'BEGIN { s = t1 - t0; printf "%.1f %.0f %.1f\n", s, n / s, b / s / 1e6 }')
    say "$size sessions: $bytes bytes in $seconds s, $rate sessions/s, $mbps MB/s, front idle $(mib "$idle") MiB, peak $(mib "$peak") MiB"
    rows+=("| $size | $format | $((bytes / 1000000)) | $seconds | $rate | $mbps | $(mib "$idle") | $(mib "$peak") |")
done

{
    echo "| sessions | format | MB | seconds | sessions/s | MB/s | front idle MiB | front peak MiB (VmHWM) |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${rows[@]}"
} | tee "$report"
