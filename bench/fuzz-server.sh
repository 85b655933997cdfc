#!/bin/bash
# fuzz-server throughput for make bench: sessions/s of `mailspec fuzz-server`
# against the private lab's Dovecot (IMAP) in cleartext and over implicit
# TLS, and Postfix (SMTP) likewise, each for BENCH_FUZZ_SECONDS (default 15)
# with the default seeds (the protocol's suite) and --jobs BENCH_FUZZ_JOBS
# (default 32). The issue's goals: >= 300 sessions/s cleartext and >= 100/s
# over implicit TLS against Dovecot; the line gives the ratio to each and the
# load average (the CPU is shared: a loaded machine gives lower figures).
#
# Why 32 jobs and not fuzz-server's default of 8: a case waits for each reply
# before its next step, so a job is idle most of the time (with 8 jobs the
# lab's Dovecot and mailspec together used about half of one core). Jobs are
# what fill the machine; the lab allows 1000 connections per user and IP. The
# default stays 8 because real servers limit connections per client (Dovecot's
# mail_max_userip_connections is 10, Exim's smtp_accept_max 20) and a refused
# probe would look like a server that stopped answering.
#
# The lab is started in build/bench/lab on its own ports (base
# BENCH_LAB_PORT_BASE, default 24000, the same lab bench/runner.sh uses) and
# stopped again if this script started it.
#
# Prints one line: the figures, or "skipped: <reason>". Never a made-up figure.
# usage: bench/fuzz-server.sh MAILSPEC_BINARY   (from the repository root)
set -u
exe=${1:-build/mailspec}
secs=${BENCH_FUZZ_SECONDS:-15}
jobs=${BENCH_FUZZ_JOBS:-32}
base=${BENCH_LAB_PORT_BASE:-24000}
labdir=$(pwd)/build/bench/lab
work=build/bench/fuzz-server

skip() {
    echo "skipped: $*"
    exit 0
}

[ -x "$exe" ] || skip "$exe was not built"
"$exe" fuzz-server --help >/dev/null 2>&1 || skip "mailspec fuzz-server is not in $exe"
[ -x scripts/lab ] || skip "scripts/lab does not exist"
mkdir -p "$work"

started=0
if ! MAILSPEC_LAB_PORT_BASE=$base scripts/lab status "$labdir" >/dev/null 2>&1; then
    if ! MAILSPEC_LAB_PORT_BASE=$base scripts/lab start "$labdir" >"$work/lab.log" 2>&1; then
        MAILSPEC_LAB_PORT_BASE=$base scripts/lab stop "$labdir" >/dev/null 2>&1
        skip "the lab did not start (see $work/lab.log)"
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

# rate NAME PROTO PORT TLS: sessions/s from summary.json (fails: skip)
rate() {
    local name=$1 proto=$2 port=$3 tls=$4 out="$work/$1"
    rm -rf "$out"
    if ! timeout $((secs + 60)) "$exe" fuzz-server --protocol "$proto" --host "$MAILSPEC_LAB_HOST" \
        --port "$port" --tls "$tls" --cafile "$MAILSPEC_LAB_CAFILE" --user "$MAILSPEC_LAB_USER3" \
        --password "$MAILSPEC_LAB_PASSWORD3" --duration "$secs" --jobs "$jobs" --seed 1 -q \
        --out "$out" >"$out.log" 2>&1; then
        skip "mailspec fuzz-server $name failed or found something (see $out.log, $out)"
    fi
    grep -o '"sessions_per_second":[0-9.]*' "$out/summary.json" | cut -d: -f2
}

imap=$(rate imap-clear imap "$MAILSPEC_LAB_IMAP_PORT" none)
imaps=$(rate imap-tls imap "$MAILSPEC_LAB_IMAPS_PORT" implicit)
smtp=$(rate smtp-clear smtp "$MAILSPEC_LAB_SMTP_PORT" none)
smtps=$(rate smtp-tls smtp "$MAILSPEC_LAB_SMTPS_PORT" implicit)
load=$(cut -d' ' -f1-3 /proc/loadavg)
awk -v i="$imap" -v it="$imaps" -v s="$smtp" -v st="$smtps" -v l="$load" -v j="$jobs" \
    -v d="$secs" -v n="$(nproc)" 'BEGIN {
    printf "Dovecot IMAP %.1f sessions/s cleartext (%.0f%% of the 300/s goal), %.1f/s implicit TLS (%.0f%% of 100/s); ",
           i, 100 * i / 300, it, 100 * it / 100
    printf "Postfix SMTP %.1f/s cleartext, %.1f/s implicit TLS (--jobs %d, %d s each, %d cores, load average %s)\n",
           s, st, j, d, n, l }'
