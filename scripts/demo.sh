#!/usr/bin/env bash
# Builds and runs the demo, installing missing packages first.
#
#   scripts/demo.sh [ARGS...]                  installs, builds, runs demo ARGS
#   scripts/demo.sh --bin DIR [ARGS...]        runs the demo already built in DIR
#   scripts/demo.sh --bin DIR --check-columns N [ARGS...]
#       runs it with its live table drawn for N columns and $LINES (24 unless
#       set) lines, and fails unless it went as scripted, no line is wider
#       than N and no frame of the table is taller than the terminal (the
#       test "example: demo")
set -euo pipefail
cd "$(dirname "$0")/.."

bin=
if [ "${1:-}" = --bin ]; then
    bin=$2
    shift 2
else
    scripts/install-deps.sh demo
    cmake --preset demo >/dev/null
    cmake --build --preset demo --target demo
    bin=build/demo/examples
fi

if [ "${1:-}" != --check-columns ]; then
    exec "$bin/demo" "$@"
fi
columns=$2
shift 2
lines=${LINES:-24}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
LINES=$lines "$bin/demo" --columns "$columns" "$@" >"$out" || rc=$?
cat "$out"
[ "$rc" = 0 ] || { echo "demo check: the demo failed (exit $rc)" >&2; exit 1; }
grep -q '^.*heartbeat demo  t=' "$out" || { echo "demo check: no live table was drawn" >&2; exit 1; }
# Each frame starts by clearing the screen (ESC [H ESC [2J); the summary
# after the last one is not part of it. Escape sequences take no columns.
awk -v width="$columns" -v lines="$lines" '
    function frame_done() {
        # Blank lines that end a frame come before the summary.
        if (frame && n - blanks > lines - 1) {
            printf "demo check: a frame of the table (line %d) is %d lines, more than %d\n", start, n - blanks, lines - 1
            bad = 1
        }
    }
    index($0, "\033[H") { frame_done(); frame = 1; n = 0; blanks = 0; start = NR }
    /^summary after/ { frame_done(); frame = 0 }
    {
        line = $0
        gsub(/\033\[[0-9;]*[A-Za-z]/, "", line)
        if (length(line) > width) {
            printf "demo check: line %d is %d columns wide (limit %d): %s\n", NR, length(line), width, line
            bad = 1
        }
        if (frame) {
            ++n
            blanks = line == "" ? blanks + 1 : 0
        }
    }
    END { frame_done(); exit bad }
' "$out" >&2 || exit 1
echo "demo check: every line fits $columns columns, every frame $lines lines"
