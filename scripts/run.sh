#!/usr/bin/env bash
# Runs the given programs together in the foreground (each argument one command line, split
# on spaces: "intake console"). Ctrl-C or SIGTERM sends SIGTERM to all of
# them (a second one sends SIGKILL); when one exits on its own the rest are stopped too, so a
# crashed half is never left running unnoticed. Exits with the status of the first to exit.
set -euo pipefail
(($#)) || { echo "usage: run.sh PROGRAM..." >&2; exit 2; }

declare -A names=()
pids=()
stopping=
stop() {
    local sig=TERM
    [[ -z $stopping ]] || sig=KILL
    stopping=1
    kill -"$sig" "${pids[@]}" 2>/dev/null || true
}
# Background children of a script ignore SIGINT, so Ctrl-C must be passed on as SIGTERM.
trap 'echo "run: stopping" >&2; stop' INT TERM

for prog in "$@"; do
    read -ra words <<<"$prog"
    "${words[@]}" &
    pids+=("$!")
    names[$!]=$prog
done

first=
wait -n -p first && rc=0 || rc=$?
if [[ -z $stopping ]]; then
    echo "run: ${first:+${names[$first]} }exited with status $rc; stopping the rest" >&2
    stop
fi
until wait; do :; done   # `wait` is cut short by each trapped signal: wait again
exit "$rc"
