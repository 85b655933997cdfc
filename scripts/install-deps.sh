#!/bin/sh
# Install the Debian packages mailspec needs to build and test (idempotent).
# Daemons are installed without starting their system services: the tests run
# their own instances from a private directory (scripts/lab, scripts/matrix).
#
# scripts/matrix also runs Cyrus IMAP and Exim, which conflict with dovecot and
# postfix as packages: they are never installed, scripts/matrix downloads and
# unpacks them (apt-get download + dpkg-deb -x). Installed here: only their
# shared libraries, the SASL tools (saslpasswd2 for Cyrus's sasldb) and the
# "Debian-exim" system user that Debian's exim4 binary looks up at startup
# (compiled-in EXIM_USER=ref:Debian-exim; exim4-base's postinst would create it).
# libxml2-utils: xmllint, with which the e2e tests validate the JUnit report
# against the xUnit schema in tests/junit/.
set -eu

PKGS="make gcc clang libclang-rt-14-dev clang-format cppcheck libssl-dev openssl \
libcmocka-dev libetpan-dev python3 python3-pytest libxml2-utils \
dovecot-core dovecot-imapd dovecot-pop3d postfix \
sasl2-bin libsasl2-modules libsasl2-modules-db libdb5.3 libical3 libicu72 \
libjansson4 libkrb5-3 libldap-2.5-0 libpcre3 libpq5 libsqlite3-0 libwrap0 \
libxapian30 libxml2 libidn12 libgnutls30 libgnutls-dane0 libnsl2 libpcre2-8-0 \
swaks msmtp fetchmail curl python3-cryptography isync getmail6"

# The system user Debian's exim4 binary needs (as exim4-base's postinst makes it).
exim_user() {
    id Debian-exim >/dev/null 2>&1 && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "install-deps: system user Debian-exim is missing (needed by scripts/matrix exim); run as root" >&2
        return 1
    fi
    adduser --system --group --quiet --home /var/spool/exim4 --no-create-home \
        --disabled-login --force-badname Debian-exim
}

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    exim_user
    exit 0
fi

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
exim_user
# Installing may still have launched system daemons on some setups; they are
# not ours, so we leave them, but our lab uses its own ports.
echo "install-deps: done"
