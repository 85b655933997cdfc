#!/bin/bash
# Stress throughput for make bench: `mailspec stress` with 10 clients against
# a private lab's Dovecot (scripts/lab), ~10 s in cleartext and ~10 s over
# implicit TLS, every response parsed and checked by the state model.
# Prints commands/s, mailspec's CPU time per command and its CPU share
# (user+system over wall time), and the ratio to imaptest's figures on this
# class of machine (924 commands/s cleartext, 694 over TLS: constants, since
# imaptest is not installed here), with the load average at the time.
#
# The lab runs in build/bench/stresslab on its own ports (base
# BENCH_STRESS_PORT_BASE, default 27000) and is stopped again if this script
# started it.
#
# Prints one line: the figures, or "skipped: <reason>". Never a made-up figure.
# usage: bench/stress.sh MAILSPEC_BINARY   (from the repository root)
set -u
exe=${1:-build/mailspec}
secs=${BENCH_STRESS_SECONDS:-10}
clients=${BENCH_STRESS_CLIENTS:-10}
base=${BENCH_STRESS_PORT_BASE:-27000}
labdir=$(pwd)/build/bench/stresslab
work=build/bench/stress
IMAPTEST_CLEAR=924
IMAPTEST_TLS=694

skip() {
    echo "skipped: $*"
    exit 0
}

[ -x "$exe" ] || skip "$exe was not built"
"$exe" stress --help >/dev/null 2>&1 || skip "mailspec stress is not implemented in $exe"
[ -x scripts/lab ] || skip "scripts/lab does not exist"
mkdir -p build/bench

# The first of a few port bases where the lab starts (another lab may hold one).
started=0
if ! MAILSPEC_LAB_PORT_BASE=$base scripts/lab status "$labdir" >/dev/null 2>&1; then
    for try in $base $((base + 1000)) $((base + 2000)) $((base + 3000)); do
        if MAILSPEC_LAB_PORT_BASE=$try scripts/lab start "$labdir" >"$work.lab.log" 2>&1; then
            base=$try
            started=1
            break
        fi
        MAILSPEC_LAB_PORT_BASE=$try scripts/lab stop "$labdir" >/dev/null 2>&1
    done
    [ $started = 1 ] || skip "the lab did not start (see $work.lab.log)"
fi
cleanup() {
    rm -f "$work.pw"
    if [ $started = 1 ]; then
        MAILSPEC_LAB_PORT_BASE=$base scripts/lab stop "$labdir" >/dev/null 2>&1
    fi
}
trap cleanup EXIT
eval "$(MAILSPEC_LAB_PORT_BASE=$base scripts/lab env "$labdir")"
(umask 077 && printf '%s\n' "$MAILSPEC_LAB_PASSWORD" >"$work.pw")

# one figure from a flat JSON summary
field() {
    grep -o "\"$2\":[0-9.]*" "$1" | head -1 | cut -d: -f2
}

out=""
for mode in none implicit; do
    port=$MAILSPEC_LAB_IMAP_PORT
    ref=$IMAPTEST_CLEAR
    name=cleartext
    if [ $mode = implicit ]; then
        port=$MAILSPEC_LAB_IMAPS_PORT
        ref=$IMAPTEST_TLS
        name="implicit TLS"
    fi
    json="$work.$mode.json"
    rm -f "$json"
    "$exe" stress --protocol imap --host "$MAILSPEC_LAB_HOST" --port "$port" --tls $mode \
        --cafile "$MAILSPEC_LAB_CAFILE" --user "$MAILSPEC_LAB_USER" --password-file "$work.pw" \
        --clients "$clients" --duration "$secs" --checkpoint 2 -q --json "$json" \
        >"$work.$mode.log" 2>&1
    rc=$?
    [ -s "$json" ] || skip "mailspec stress --tls $mode failed (exit $rc, see $work.$mode.log)"
    cps=$(field "$json" commands_per_second)
    cpu=$(field "$json" cpu_us_per_command)
    share=$(field "$json" cpu_share)
    incons=$(field "$json" inconsistency_count)
    out="$out$(awk -v n="$name" -v c="$cps" -v r="$ref" -v u="$cpu" -v s="$share" -v i="$incons" \
        -v rc="$rc" 'BEGIN {
        printf "%s: %.0f commands/s = %.2fx imaptest (%d/s), mailspec CPU %.1f us/command, %.0f%% of one core, %d inconsistencies (exit %d); ",
               n, c, c / r, r, u, 100 * s, i, rc }')"
done
# SMTP: Postfix to the lab's scratch user, every accepted message read back
# over IMAP (no imaptest figure to compare with: it has no SMTP)
json="$work.smtp.json"
rm -f "$json"
"$exe" stress --protocol smtp --host "$MAILSPEC_LAB_HOST" --port "$MAILSPEC_LAB_SMTP_PORT" \
    --rcpt "$MAILSPEC_LAB_USER3@localhost" --check-port "$MAILSPEC_LAB_IMAP_PORT" \
    --user "$MAILSPEC_LAB_USER3" --password "$MAILSPEC_LAB_PASSWORD3" --clients "$clients" \
    --duration "$secs" --settle 120 -q --json "$json" >"$work.smtp.log" 2>&1
rc=$?
if [ -s "$json" ]; then
    cps=$(field "$json" commands_per_second)
    acc=$(field "$json" accepted)
    asent=$(field "$json" as_sent)
    wait=$(field "$json" settle_seconds)
    out="${out%; }; $(awk -v c="$cps" -v a="$acc" -v d="$asent" -v s="$secs" -v w="$wait" -v rc="$rc" 'BEGIN {
        printf "SMTP: %.0f commands/s, %.0f messages/s accepted, %d of %d read back as sent (%.1f s after the run; exit %d)",
               c, a / s, d, a, w, rc }')"
else
    out="${out%; }; SMTP: mailspec stress failed (exit $rc, see $work.smtp.log)"
fi
load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
echo "${out%; } ($clients clients, ${secs} s each, Dovecot in a private lab on 127.0.0.1, load $load)"
