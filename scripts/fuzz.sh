#!/usr/bin/env bash
# Runs every fuzz target for a fixed budget (FUZZ_SECONDS each, default 60), minimises the
# checked-in corpus, and prints a table of executions and crashes per target. Builds without
# a sanitizer: the project forbids unsafe code, so the panics and aborts libFuzzer catches are
# what there is to find, and stable Rust can build it.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${FUZZ_SECONDS:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets=(decode_json decode_form decode_multipart decode_attachment decode_message)
report=$(mktemp)
printf '| target | seconds | executions | crashes |\n|---|---|---|---|\n' >"$report"
status=0
for target in "${targets[@]}"; do
  echo "fuzz: $target for ${seconds}s" >&2
  log=$(mktemp)
  mkdir -p "corpus/$target"
  if cargo fuzz run -s none "$target" "corpus/$target" -- -max_total_time="$seconds" -max_len=2048 >"$log" 2>&1; then
    crashes=0
  else
    crashes=$(find "artifacts/$target" -type f 2>/dev/null | wc -l || true)
    status=1
    tail -30 "$log" >&2
  fi
  runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' | tail -1 || true)
  printf '| %s | %s | %s | %s |\n' "$target" "$seconds" "${runs:-?}" "$crashes" >>"$report"
  cargo fuzz cmin -s none "$target" "corpus/$target" >/dev/null 2>&1 || true
  rm -f "$log"
done
cat "$report"
rm -f "$report"
exit "$status"
