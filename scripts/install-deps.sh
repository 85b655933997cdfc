#!/bin/sh
# Install the Debian packages mailspec needs to build and test (idempotent).
# Daemons are installed without starting their system services: the tests run
# their own instances from a private directory (scripts/lab).
set -eu

PKGS="make gcc clang libclang-rt-14-dev clang-format cppcheck libssl-dev openssl \
libcmocka-dev libetpan-dev python3 python3-pytest \
dovecot-core dovecot-imapd dovecot-pop3d postfix"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing Debian packages:$missing" >&2
    echo "install-deps: run as root (or: sudo apt-get install$missing)" >&2
    exit 1
fi

echo "install-deps: installing$missing"
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    # Forbid package scripts from starting system daemons.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created_policy=1
fi
export DEBIAN_FRONTEND=noninteractive
# postfix asks how it is configured; "No configuration" keeps it inert.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
rc=0
apt-get update -qq >/dev/null || rc=$?
if [ $rc = 0 ]; then
    apt-get install -y -qq --no-install-recommends $missing >/tmp/mailspec-apt.log 2>&1 || rc=$?
fi
if [ $created_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
if [ $rc != 0 ]; then
    echo "install-deps: apt-get failed (exit $rc); see /tmp/mailspec-apt.log" >&2
    tail -20 /tmp/mailspec-apt.log >&2 || true
    exit 1
fi
# Installing may still have launched system daemons on some setups; they are
# not ours, so we leave them, but our lab uses its own ports.
echo "install-deps: done"
