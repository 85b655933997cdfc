#!/bin/bash
# Runner throughput for make bench: sessions/s of `mailspec replay` against a
# private lab of real servers (scripts/lab), with --jobs 1 and --jobs 4, and
# the CPU share of the replay process (its user+system time over wall time).
#
# The lab is started in build/bench/lab on its own ports (base
# BENCH_LAB_PORT_BASE, default 24000) so that it never touches the lab other
# engineers' tests use, and it is stopped again if this script started it.
#
# Prints one line: the figures, or "skipped: <reason>". Never a made-up figure.
# usage: bench/runner.sh MAILSPEC_BINARY   (from the repository root)
set -u
exe=${1:-build/bench/mailspec-head}
sessions=${BENCH_RUNNER_SESSIONS:-200}
base=${BENCH_LAB_PORT_BASE:-24000}
labdir=$(pwd)/build/bench/lab
work=build/bench/replay

skip() {
    echo "skipped: $*"
    exit 0
}

[ -x "$exe" ] || skip "$exe was not built"
"$exe" replay --help 2>/dev/null | grep -q -- '--jobs' || skip "mailspec replay (with --jobs) is not implemented"
[ -x scripts/lab ] || skip "scripts/lab does not exist"
[ -x /usr/bin/time ] || skip "/usr/bin/time is not installed"
src=conformance/examples/imap
[ -f $src/login-select.session ] && [ -f $src/capability.session ] ||
    skip "the IMAP example sessions are missing"

started=0
if ! MAILSPEC_LAB_PORT_BASE=$base scripts/lab status "$labdir" >/dev/null 2>&1; then
    if ! MAILSPEC_LAB_PORT_BASE=$base scripts/lab start "$labdir" >"$work.lab.log" 2>&1; then
        MAILSPEC_LAB_PORT_BASE=$base scripts/lab stop "$labdir" >/dev/null 2>&1
        skip "the lab did not start (see $work.lab.log)"
    fi
    started=1
fi
cleanup() {
    if [ $started = 1 ]; then
        MAILSPEC_LAB_PORT_BASE=$base scripts/lab stop "$labdir" >/dev/null 2>&1
    fi
}
trap cleanup EXIT
eval "$(MAILSPEC_LAB_PORT_BASE=$base scripts/lab env "$labdir")"

# The same two IMAP scripts (LOGIN+SELECT+LOGOUT, CAPABILITY) many times over.
rm -rf "$work" && mkdir -p "$work"
for i in $(seq 1 $((sessions / 2))); do
    n=$(printf '%03d' "$i")
    cp $src/login-select.session "$work/a$n.session"
    cp $src/capability.session "$work/b$n.session"
done
total=$(ls "$work"/*.session | wc -l)

out=""
for jobs in 1 4; do
    if ! /usr/bin/time -f '%e %U %S' -o "$work.time" "$exe" replay --protocol imap \
        --host "$MAILSPEC_LAB_HOST" --port "$MAILSPEC_LAB_IMAP_PORT" --user "$MAILSPEC_LAB_USER" \
        --password "$MAILSPEC_LAB_PASSWORD" --cafile "$MAILSPEC_LAB_CAFILE" --jobs $jobs -q \
        --json "$work.jobs$jobs.json" "$work" >"$work.jobs$jobs.log" 2>&1; then
        skip "mailspec replay --jobs $jobs failed against the lab (see $work.jobs$jobs.log)"
    fi
    read -r wall user sys <"$work.time"
    # every session must have passed, or the rate means nothing
    passed=$(grep -o '"pass": *[0-9]*' "$work.jobs$jobs.json" | head -1 | grep -o '[0-9]*$')
    [ "${passed:-0}" = "$total" ] ||
        skip "only ${passed:-0} of $total sessions passed with --jobs $jobs (see $work.jobs$jobs.json)"
    out="$out$(awk -v n="$total" -v j="$jobs" -v w="$wall" -v u="$user" -v s="$sys" 'BEGIN {
        if (w <= 0) w = 0.01;
        printf "--jobs %d: %d sessions (all passed) in %.2f s = %.1f sessions/s, replay CPU %.2f s (%.0f%% of one core); ",
               j, n, w, n / w, u + s, 100 * (u + s) / w }')"
done
echo "${out%; } (IMAP LOGIN/SELECT and CAPABILITY scripts, plain TCP, private lab on 127.0.0.1)"
