#!/bin/bash
# Suite time for make bench: the wall time of `mailspec certify` (the whole
# conformance suite, --jobs 1) against a private lab of real servers
# (scripts/lab: Dovecot IMAP/POP3, Postfix SMTP), per protocol and transport
# (none, starttls, implicit), next to the goal of issue 17: at most 3 s per
# transport for the whole IMAP suite against local Dovecot, where imaptest's
# scripted suite takes 2.2 s against the same Dovecot (the reference figure).
#
# The lab is started in build/bench/lab on its own ports (base
# BENCH_LAB_PORT_BASE, default 24000, as bench/runner.sh) and stopped again
# if this script started it (BENCH_LAB_DIR: use a lab already running there
# instead). SMTP: none on the MX-style port, starttls on
# submission (AUTH after STARTTLS), implicit on smtps; the transaction tests
# deliver to the lab user.
#
# Prints one line per protocol, or "skipped: <reason>". Never a made-up
# figure: a run that ends in a harness or connection error (exit 2 or more)
# is reported as such, not timed. A certify exit 1 (a MUST failure: the lab's
# Postfix fails the SMTP smuggling tests) or 6 is a verdict, and still timed.
# usage: bench/suites.sh MAILSPEC_BINARY   (from the repository root)
set -u
exe=${1:-build/mailspec}
base=${BENCH_LAB_PORT_BASE:-24000}
labdir=${BENCH_LAB_DIR:-$(pwd)/build/bench/lab}
work=build/bench/suites

skip() {
    echo "skipped: $*"
    exit 0
}

[ -x "$exe" ] || skip "$exe was not built"
[ -x scripts/lab ] || skip "scripts/lab does not exist"
[ -d conformance/suites/imap ] || skip "the suites are missing"

started=0
mkdir -p "$work"
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
trap 'exit 1' INT TERM
eval "$(MAILSPEC_LAB_PORT_BASE=$base scripts/lab env "$labdir")"

# certify PROTO TLS PORT: prints "TLS S.SS s (N tests)" or "TLS error (exit E)"
timed() {
    local proto=$1 tls=$2 port=$3 json="$work/$1-$2.json" t0 t1 rc n
    t0=$(date +%s.%N)
    # the default suite: the source tree's conformance/suites/<proto>, and
    # for IMAP the generated MIME-oracle tests with it
    MAILSPEC_SUITES=conformance/suites "$exe" certify --protocol "$proto" \
        --host "$MAILSPEC_LAB_HOST" --port "$port" --tls "$tls" \
        --user "$MAILSPEC_LAB_USER" --password "$MAILSPEC_LAB_PASSWORD" \
        --cafile "$MAILSPEC_LAB_CAFILE" --rcpt "$MAILSPEC_LAB_USER@$MAILSPEC_LAB_DOMAIN" \
        --json "$json" -qq >"$work/$proto-$tls.log" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    if [ $rc -ne 0 ] && [ $rc -ne 1 ] && [ $rc -ne 6 ]; then
        printf '%s error (exit %d, see %s)' "$tls" "$rc" "$work/$proto-$tls.log"
        return
    fi
    n=$(grep -o '"total": *[0-9]*' "$json" | head -1 | grep -o '[0-9]*$')
    awk -v t="$tls" -v a="$t0" -v b="$t1" -v n="${n:-?}" \
        'BEGIN { printf "%s %.2f s (%s tests)", t, b - a, n }'
}

for proto in imap pop3 smtp; do
    case $proto in
    imap) p_none=$MAILSPEC_LAB_IMAP_PORT p_tls=$MAILSPEC_LAB_IMAP_PORT p_imp=$MAILSPEC_LAB_IMAPS_PORT ;;
    pop3) p_none=$MAILSPEC_LAB_POP3_PORT p_tls=$MAILSPEC_LAB_POP3_PORT p_imp=$MAILSPEC_LAB_POP3S_PORT ;;
    smtp) p_none=$MAILSPEC_LAB_SMTP_PORT p_tls=$MAILSPEC_LAB_SUBMISSION_PORT p_imp=$MAILSPEC_LAB_SMTPS_PORT ;;
    esac
    line="$(timed $proto none $p_none), $(timed $proto starttls $p_tls), $(timed $proto implicit $p_imp)"
    if [ $proto = imap ]; then
        line="$line; goal: at most 3 s per transport (reference: imaptest's scripted suite, 2.2 s against the same Dovecot)"
    fi
    echo "suite time $proto: $line"
done
