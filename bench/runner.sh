#!/bin/sh
# Runner throughput for make bench: sessions/s of `mailspec replay` against the
# local lab (scripts/lab) with --jobs 1 and 4, and the CPU share it used.
# Prints one line: the figures, or "skipped: <reason>". Never a made-up figure.
exe=${1:-build/bench/mailspec}
if [ ! -x "$exe" ]; then
    echo "skipped: $exe was not built"
    exit 0
fi
if ! "$exe" replay --help >/dev/null 2>&1; then
    echo "skipped: mailspec replay is not implemented yet"
    exit 0
fi
if [ ! -x scripts/lab ]; then
    echo "skipped: scripts/lab does not exist"
    exit 0
fi
echo "skipped: mailspec replay exists but bench/runner.sh does not drive it yet"
