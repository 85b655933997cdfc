"""Smoke tests of the server matrix (scripts/matrix): every server, every
transport it offers, with Python's own clients and a context trusting only
the generated CA: the greeting, STARTTLS/STLS where the transport has it, a
login as the test user (SMTP: AUTH on submission and smtps, mail to
postmaster), and the refusals of the Dovecot that wants TLS before login.
"""

import imaplib
import json
import os
import poplib
import shutil
import smtplib
import socket
import subprocess
import time

import pytest

from matrix import matrix_fixture

cyrus = matrix_fixture("cyrus")
exim = matrix_fixture("exim")
dovecot_tlsonly = matrix_fixture("dovecot-tlsonly")

TIMEOUT = 15

# (fixture, transport) for every transport each server offers.
CASES = [
    ("cyrus", "imap"), ("cyrus", "imaps"), ("cyrus", "pop3"), ("cyrus", "pop3s"),
    ("exim", "smtp"), ("exim", "submission"), ("exim", "smtps"),
    ("dovecot_tlsonly", "imap"), ("dovecot_tlsonly", "imaps"),
    ("dovecot_tlsonly", "pop3"), ("dovecot_tlsonly", "pop3s"),
]


def _context(srv, msg):
    return "%s\n%s" % (msg, srv.log_tail())


# ------------------------------------------------------------------- IMAP --

def imap_login_check(srv, conn):
    typ, data = conn.login(srv.user, srv.password)
    assert typ == "OK", _context(srv, data)
    typ, data = conn.select("INBOX")
    assert typ == "OK", _context(srv, data)
    if srv.seed_count:
        assert int(data[0]) == srv.seed_count, _context(srv, data)
    typ, folders = conn.list()
    assert typ == "OK" and folders, _context(srv, folders)
    return folders


def imap_session(srv, transport):
    ctx = srv.ssl_context()
    if transport == "imaps":
        conn = imaplib.IMAP4_SSL(srv.host, srv.imaps_port, ssl_context=ctx, timeout=TIMEOUT)
        assert conn.welcome.startswith(b"* OK"), conn.welcome
        assert conn.sock.version() is not None
    else:
        conn = imaplib.IMAP4(srv.host, srv.imap_port, timeout=TIMEOUT)
        assert conn.welcome.startswith(b"* OK"), conn.welcome
        assert "STARTTLS" in conn.capabilities, conn.capabilities
        if srv.name == "dovecot-tlsonly":
            # No cleartext login: announced, and refused when tried anyway.
            assert "LOGINDISABLED" in conn.capabilities, conn.capabilities
            with pytest.raises(imaplib.IMAP4.error):
                conn.login(srv.user, srv.password)
        typ, data = conn.starttls(ssl_context=ctx)
        assert typ == "OK", data
        assert "STARTTLS" not in conn.capabilities, conn.capabilities
        assert "LOGINDISABLED" not in conn.capabilities, conn.capabilities
    try:
        return imap_login_check(srv, conn)
    finally:
        conn.logout()


# ------------------------------------------------------------------- POP3 --

def pop3_login_check(srv, conn):
    assert conn.user(srv.user).startswith(b"+OK")
    assert conn.pass_(srv.password).startswith(b"+OK"), _context(srv, "PASS refused")
    count, _size = conn.stat()
    if srv.seed_count:
        assert count == srv.seed_count


def pop3_session(srv, transport):
    ctx = srv.ssl_context()
    if transport == "pop3s":
        conn = poplib.POP3_SSL(srv.host, srv.pop3s_port, context=ctx, timeout=TIMEOUT)
        assert conn.getwelcome().startswith(b"+OK")
    else:
        conn = poplib.POP3(srv.host, srv.pop3_port, timeout=TIMEOUT)
        assert conn.getwelcome().startswith(b"+OK")
        assert "STLS" in conn.capa()
        if srv.name == "dovecot-tlsonly":
            # USER/PASS before STLS: refused (at USER or at PASS).
            with pytest.raises(poplib.error_proto) as refused:
                conn.user(srv.user)
                conn.pass_(srv.password)
            assert refused.value.args[0].startswith(b"-ERR")
        assert conn.stls(ctx).startswith(b"+OK")
    try:
        pop3_login_check(srv, conn)
    finally:
        conn.quit()


# ------------------------------------------------------------------- SMTP --

MESSAGE = (
    "From: {user}@localhost\r\n"
    "To: postmaster@localhost\r\n"
    "Subject: mailspec matrix smoke {transport} {stamp}\r\n"
    "Message-ID: <smoke-{transport}-{stamp}@mailspec.matrix>\r\n"
    "\r\n"
    "sent by test_matrix_smoke over {transport}\r\n"
)


def smtp_send(srv, conn, transport):
    stamp = "%d.%d" % (os.getpid(), time.time_ns())
    msg = MESSAGE.format(user=srv.user, transport=transport, stamp=stamp)
    refused = conn.sendmail("%s@localhost" % srv.user, ["postmaster@localhost"], msg)
    assert refused == {}, refused
    return stamp


def smtp_session(srv, transport):
    ctx = srv.ssl_context()
    if transport == "smtps":
        conn = smtplib.SMTP_SSL(srv.host, srv.smtps_port, context=ctx, timeout=TIMEOUT)
    else:
        conn = smtplib.SMTP(srv.host, srv.port(transport), timeout=TIMEOUT)
    try:
        code, banner = conn.ehlo("client.mailspec.test")
        assert code == 250, banner
        if transport != "smtps":
            assert conn.has_extn("starttls")
            assert not conn.has_extn("auth"), "AUTH offered before TLS"
            if transport == "submission":
                # No mail before AUTH on submission.
                code, resp = conn.mail("%s@localhost" % srv.user)
                assert code >= 500 or (code == 250 and conn.rcpt("postmaster@localhost")[0] >= 500), resp
                conn.rset()
            code, resp = conn.starttls(context=ctx)
            assert code == 220, resp
            code, resp = conn.ehlo("client.mailspec.test")
            assert code == 250, resp
        if transport == "smtp":
            assert not conn.has_extn("auth"), "AUTH offered on the MX-style port"
        else:
            mechs = conn.esmtp_features.get("auth", "").upper().split()
            assert "PLAIN" in mechs and "LOGIN" in mechs, mechs
            with pytest.raises(smtplib.SMTPAuthenticationError):
                conn.login(srv.user, srv.password + "-wrong")
            code, resp = conn.login(srv.user, srv.password)
            assert code == 235, resp
        return smtp_send(srv, conn, transport)
    finally:
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            pass


def delivered(srv, stamp, timeout=20):
    """Wait until a message carrying STAMP is in postmaster's maildir."""
    maildir = os.path.join(srv.env["MAILSPEC_MATRIX_EXIM_MAILDIR"], "postmaster", "Maildir", "new")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            names = os.listdir(maildir)
        except FileNotFoundError:
            names = []
        for n in names:
            with open(os.path.join(maildir, n), "rb") as f:
                if stamp.encode() in f.read():
                    return True
        time.sleep(0.2)
    return False


# ------------------------------------------------------------------ tests --

@pytest.mark.parametrize("server,transport", CASES, ids=["%s-%s" % c for c in CASES])
def test_transport(request, server, transport):
    srv = request.getfixturevalue(server)
    assert srv.port(transport), "%s offers no %s port" % (srv.name, transport)
    if transport in ("imap", "imaps"):
        folders = imap_session(srv, transport)
        if srv.name == "cyrus":
            # Cyrus's default namespace: every folder under "INBOX.".
            names = [f.decode().rsplit(' "." ', 1)[-1].strip('"') for f in folders]
            assert "INBOX" in names and all(n == "INBOX" or n.startswith("INBOX.") for n in names), names
            assert "INBOX.Sent" in names, names
    elif transport in ("pop3", "pop3s"):
        pop3_session(srv, transport)
    else:
        stamp = smtp_session(srv, transport)
        assert delivered(srv, stamp), _context(srv, "message %s not delivered" % stamp)


def test_offered_transports(cyrus, exim, dovecot_tlsonly):
    """The env file announces exactly the transports tested above."""
    assert cyrus.transports == ["imap", "imaps", "pop3", "pop3s"]
    assert exim.transports == ["smtp", "submission", "smtps"]
    assert dovecot_tlsonly.transports == ["imap", "imaps", "pop3", "pop3s"]
    assert dovecot_tlsonly.host == "127.0.0.2"


def test_tlsonly_refuses_plaintext_auth_mechanisms(dovecot_tlsonly):
    """Before STARTTLS, AUTHENTICATE PLAIN is refused too (not only LOGIN)."""
    srv = dovecot_tlsonly
    conn = imaplib.IMAP4(srv.host, srv.imap_port, timeout=TIMEOUT)
    try:
        assert not any(c.startswith("AUTH=") for c in conn.capabilities), conn.capabilities
        creds = ("\0%s\0%s" % (srv.user, srv.password)).encode()
        with pytest.raises(imaplib.IMAP4.error):
            conn.authenticate("PLAIN", lambda _challenge: creds)
    finally:
        conn.shutdown()


def test_exim_refuses_relay(exim):
    """Unauthenticated mail to another domain is refused on the MX port."""
    conn = smtplib.SMTP(exim.host, exim.smtp_port, timeout=TIMEOUT)
    try:
        conn.ehlo("client.mailspec.test")
        assert conn.mail("someone@example.org")[0] == 250
        code, resp = conn.rcpt("victim@example.net")
        assert code >= 500, resp
    finally:
        conn.quit()


def test_stop_leaves_nothing_listening(tmp_path):
    """A start/stop cycle of one more Exim frees its ports and ends its PID."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    from matrix import free_port_base, start_server, stop_server

    busy = {int(os.environ.get("MAILSPEC_MATRIX_PORT_BASE", "0"))}
    srv = start_server("exim", str(tmp_path / "m"), port_base=free_port_base("exim", busy))
    with open(os.path.join(srv.dir, "exim", "exim.pid")) as f:
        pid = int(f.read().split()[0])
    assert os.path.exists("/proc/%d" % pid)
    stop_server(srv.dir)
    shutil.rmtree(srv.dir, ignore_errors=True)  # may be a /tmp dir tmp_path links to
    deadline = time.monotonic() + 10
    while os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists("/proc/%d" % pid), "exim daemon %d still running" % pid
    for port in (srv.smtp_port, srv.submission_port, srv.smtps_port):
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex((srv.host, port)) != 0, "port %d still open" % port


def test_exim_delivers_alice_to_tlsonly_imaps():
    """Exim and dovecot-tlsonly started from one DIR (Exim first, as in
    'scripts/matrix start DIR'): mail Exim accepts for alice@localhost arrives
    over LMTP in alice's INBOX of dovecot-tlsonly, read back over IMAPS where
    DIR/env says (MAILSPEC_MATRIX_EXIM_READ_*); postmaster's mail still goes
    to Exim's maildir."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    import tempfile

    from matrix import free_port_base, read_env, start_server, stop_server

    busy = {int(os.environ.get("MAILSPEC_MATRIX_PORT_BASE", "0"))}
    directory = tempfile.mkdtemp(prefix="mailspec-matrix-eximlmtp-", dir="/tmp")
    try:
        srv = start_server("exim", directory, port_base=free_port_base("exim", busy))
        start_server("dovecot-tlsonly", directory,
                     port_base=free_port_base("dovecot-tlsonly", busy))
        env = read_env(directory)
        assert env.get("MAILSPEC_MATRIX_EXIM_READ_HOST") == "127.0.0.2", env
        host = env["MAILSPEC_MATRIX_EXIM_READ_HOST"]
        port = int(env["MAILSPEC_MATRIX_EXIM_READ_IMAPS_PORT"])
        assert port == int(env["MAILSPEC_MATRIX_DOVECOT_TLSONLY_IMAPS_PORT"]), env
        ctx = srv.ssl_context()

        token = "lmtp-%d-%d" % (os.getpid(), time.time_ns())
        conn = smtplib.SMTP(srv.host, srv.smtp_port, timeout=TIMEOUT)
        try:
            conn.ehlo("client.mailspec.test")
            assert conn.starttls(context=ctx)[0] == 220
            conn.ehlo("client.mailspec.test")
            msg = ("From: postmaster@localhost\r\nTo: alice@localhost\r\n"
                   "Subject: mailspec matrix exim to tlsonly %s\r\n"
                   "Message-ID: <%s@mailspec.matrix>\r\n\r\nbody %s\r\n" % (token, token, token))
            assert conn.sendmail("postmaster@localhost", ["alice@localhost"], msg) == {}
            stamp = smtp_send(srv, conn, "smtp")  # to postmaster: Exim's maildir
        finally:
            conn.quit()

        found = None
        deadline = time.monotonic() + 20
        while found is None and time.monotonic() < deadline:
            imap = imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=TIMEOUT)
            try:
                typ, data = imap.login(env["MAILSPEC_MATRIX_EXIM_READ_USER"],
                                       env["MAILSPEC_MATRIX_EXIM_READ_PASSWORD"])
                assert typ == "OK", data
                assert imap.select("INBOX", readonly=True)[0] == "OK"
                typ, data = imap.search(None, "SUBJECT", token)
                assert typ == "OK", data
                if data[0]:
                    nums = data[0].split()
                    assert len(nums) == 1, "delivered %d times" % len(nums)
                    typ, data = imap.fetch(nums[0], "(BODY.PEEK[])")
                    assert typ == "OK", data
                    found = data[0][1]
            finally:
                imap.logout()
            if found is None:
                time.sleep(0.5)
        logs = "\n".join(open(os.path.join(directory, f), errors="replace").read()[-3000:]
                         for f in ("exim/log/mainlog", "dovecot-tlsonly/dovecot.log")
                         if os.path.exists(os.path.join(directory, f)))
        assert found is not None, "message %s not readable over IMAPS\n%s" % (token, logs)
        assert ("Subject: mailspec matrix exim to tlsonly %s" % token).encode() in found
        assert found.endswith(("\r\n\r\nbody %s\r\n" % token).encode()), found
        assert b"with LMTP" in found, found  # Dovecot's own trace field
        assert delivered(srv, stamp), "postmaster's mail not in Exim's maildir\n" + logs

        # mailspec stress --protocol smtp against Exim, read back on the
        # other host (--check-host): every accepted message once, as sent
        out = os.path.join(directory, "stress.json")
        proc = subprocess.run(
            [os.environ["MAILSPEC"], "stress", "--protocol", "smtp", "--host", srv.host, "--port",
             str(srv.smtp_port), "--tls", "starttls", "--cafile", srv.cafile, "--rcpt",
             "alice@localhost", "--check-host", host, "--check-port", str(port), "--check-tls",
             "implicit", "--user", env["MAILSPEC_MATRIX_EXIM_READ_USER"], "--password",
             env["MAILSPEC_MATRIX_EXIM_READ_PASSWORD"], "--clients", "3", "--duration", "3",
             "-q", "--json", out], capture_output=True, timeout=180)
        assert proc.returncode == 0, proc.stderr.decode()[-3000:]
        with open(out) as f:
            d = json.load(f)["delivery"]
        assert d["accepted"] > 5 and d["accepted"] == d["delivered"] == d["as_sent"], d
    finally:
        stop_server(directory)
        shutil.rmtree(directory, ignore_errors=True)
