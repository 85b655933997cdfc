"""End-to-end checks of the local lab (scripts/lab) with Python's own clients.

These talk to real Dovecot and Postfix instances started by the ``lab``
fixture and assert concrete protocol facts: capabilities, TLS verification
against the lab CA, authentication, the seeded mailboxes, and delivery of a
message submitted over SMTP into the IMAP INBOX.
"""

import email
import email.policy
import imaplib
import os
import poplib
import smtplib
import ssl
import sys
import time
import uuid

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import lab  # noqa: E402,F401  (pytest fixture)

TIMEOUT = 15
DELIVERY_WAIT = 20  # seconds


# ------------------------------------------------------------------ helpers --

def imap_login(lab, user=None, password=None):
    conn = imaplib.IMAP4_SSL(lab.host, lab.imaps_port, ssl_context=lab.ssl_context(), timeout=TIMEOUT)
    conn.login(user or lab.user, password or lab.password)
    return conn


def seeded_uids(conn):
    typ, data = conn.search(None, "HEADER", "X-Mailspec-Seed", "\"\"")
    assert typ == "OK"
    return data[0].split()


def wait_for_subject(lab, subject, user=None, password=None):
    """Poll the INBOX over IMAP until a message with SUBJECT shows up."""
    deadline = time.monotonic() + DELIVERY_WAIT
    while True:
        conn = imap_login(lab, user, password)
        try:
            typ, _ = conn.select("INBOX", readonly=True)
            assert typ == "OK"
            typ, data = conn.search(None, "HEADER", "Subject", subject)
            assert typ == "OK"
            found = data[0].split()
            if found:
                typ, msg = conn.fetch(found[0], "(BODY.PEEK[])")
                assert typ == "OK"
                return email.message_from_bytes(msg[0][1], policy=email.policy.default)
        finally:
            conn.logout()
        if time.monotonic() > deadline:
            pytest.fail("message %r not delivered within %ss\n%s" % (subject, DELIVERY_WAIT, lab.log_tail()))
        time.sleep(0.3)


def make_message(lab, subject, sender=None):
    return (
        "From: {s}\r\nTo: {r}\r\nSubject: {subj}\r\nMessage-ID: <{id}@mailspec.test>\r\n"
        "\r\nhello from test_lab\r\n"
    ).format(s=sender or lab.address, r=lab.address, subj=subject, id=uuid.uuid4().hex)


def unique_subject(tag):
    return "mailspec-e2e-%s-%s" % (tag, uuid.uuid4().hex[:12])


# --------------------------------------------------------------------- env --

def test_lab_env_describes_ports(lab):
    ports = [lab.imap_port, lab.imaps_port, lab.pop3_port, lab.pop3s_port,
             lab.smtp_port, lab.submission_port, lab.smtps_port]
    assert len(set(ports)) == 7
    assert lab.host == "127.0.0.1"
    assert lab.user == "alice" and lab.password == "alice-secret"
    assert lab.user2 == "bob" and lab.password2 == "bob-secret"
    assert lab.user3 == "carol" and lab.password3 == "carol-secret"
    assert lab.env["MAILSPEC_LAB_USER3"] == "carol"
    assert lab.seed_count == 4
    assert os.path.isfile(lab.cafile)
    base = lab.imap_port - 143
    assert (lab.imaps_port, lab.pop3_port, lab.pop3s_port, lab.smtp_port,
            lab.submission_port, lab.smtps_port) == (
        base + 993, base + 110, base + 995, base + 25, base + 587, base + 465)


# -------------------------------------------------------------------- IMAP --

def test_imap_plain_then_starttls(lab):
    conn = imaplib.IMAP4(lab.host, lab.imap_port, timeout=TIMEOUT)
    try:
        caps = conn.capabilities
        assert "STARTTLS" in caps
        assert "IMAP4REV1" in caps
        typ, _ = conn.starttls(ssl_context=lab.ssl_context())
        assert typ == "OK"
        cert = conn.sock.getpeercert()
        assert ("DNS", "localhost") in cert["subjectAltName"]
        assert ("IP Address", "127.0.0.1") in cert["subjectAltName"]
        typ, caps_after = conn.capability()
        assert typ == "OK"
        assert b"AUTH=PLAIN" in caps_after[0] and b"AUTH=LOGIN" in caps_after[0]
        assert b"STARTTLS" not in caps_after[0]
        typ, _ = conn.login(lab.user, lab.password)
        assert typ == "OK"
        typ, data = conn.select("INBOX")
        assert typ == "OK"
        assert int(data[0]) >= lab.seed_count
        assert len(seeded_uids(conn)) == lab.seed_count
    finally:
        conn.logout()


def test_imap_plain_login_without_tls_is_allowed_on_loopback(lab):
    conn = imaplib.IMAP4(lab.host, lab.imap_port, timeout=TIMEOUT)
    try:
        assert "LOGINDISABLED" not in conn.capabilities
        typ, _ = conn.login(lab.user2, lab.password2)
        assert typ == "OK"
        typ, data = conn.select("INBOX", readonly=True)
        assert typ == "OK"
        # bob's INBOX holds the seed; other tests sharing the lab (stress)
        # may have delivered more to bob since
        assert int(data[0]) >= lab.seed_count
    finally:
        conn.logout()


def test_scratch_user_logs_in_and_takes_mail(lab):
    """carol, the scratch user of fuzz-server and stress campaigns, exists in
    Dovecot (seeded INBOX) and in Postfix's recipient table."""
    conn = imaplib.IMAP4(lab.host, lab.imap_port, timeout=TIMEOUT)
    try:
        typ, _ = conn.login(lab.user3, lab.password3)
        assert typ == "OK"
        typ, data = conn.select("INBOX", readonly=True)
        assert typ == "OK"
    finally:
        conn.logout()
    with smtplib.SMTP(lab.host, lab.smtp_port, timeout=TIMEOUT) as s:
        s.ehlo("test.invalid")
        code, _ = s.docmd("MAIL FROM:<>")
        assert code == 250
        code, _ = s.docmd("RCPT TO:<%s>" % lab.address3)
        assert code == 250
        code, _ = s.docmd("RCPT TO:<nobody@%s>" % lab.domain)
        assert code // 100 == 5
        s.rset()


def test_imaps_seeded_mailboxes(lab):
    conn = imap_login(lab)
    try:
        typ, boxes = conn.list()
        assert typ == "OK"
        names = {b.decode().rsplit(" ", 1)[-1].strip('"') for b in boxes}
        assert {"INBOX", "Sent", "Archive", "Drafts", "Trash"} <= names
        assert any(b"\\Sent" in b and b.endswith(b"Sent") for b in boxes)

        typ, data = conn.select("Sent", readonly=True)
        assert (typ, int(data[0])) == ("OK", 1)
        typ, data = conn.select("Archive", readonly=True)
        assert (typ, int(data[0])) == ("OK", 0)

        typ, _ = conn.select("INBOX", readonly=True)
        assert typ == "OK"
        seeds = seeded_uids(conn)
        assert len(seeds) == 4
        # The lab is shared by the whole pytest session: tests that ran before
        # (POP3 RETR, certify) may have set \Seen on other messages, so check
        # the seeded flags by membership.
        typ, data = conn.search(None, "SEEN", "HEADER", "X-Mailspec-Seed", "\"\"")
        assert seeds[0] in data[0].split()  # seed 1 is \Seen
        typ, data = conn.search(None, "FLAGGED")
        assert seeds[3] in data[0].split()  # seed 4 is \Flagged

        subjects = {}
        for num in seeds:
            typ, msg = conn.fetch(num, "(BODY.PEEK[HEADER.FIELDS (SUBJECT X-MAILSPEC-SEED)])")
            assert typ == "OK"
            parsed = email.message_from_bytes(msg[0][1], policy=email.policy.default)
            subjects[str(parsed["X-Mailspec-Seed"])] = str(parsed["Subject"])
        assert subjects["1"] == "mailspec seed 1: plain text"
        assert subjects["2"] == "mailspec seed 2: Grüße aus Köln — 日本語のテスト"
        assert subjects["3"] == "mailspec seed 3: encoded words — été"
        assert subjects["4"] == "mailspec seed 4: multipart with attachment"

        typ, data = conn.search(None, "HEADER", "X-Mailspec-Seed", "4")
        typ, bs = conn.fetch(data[0].split()[0], "(BODYSTRUCTURE)")
        assert typ == "OK"
        text = bs[0].decode().upper()
        assert '"MIXED"' in text and '"ALTERNATIVE"' in text
        assert '"DATA.BIN"' in text and '"ATTACHMENT"' in text
    finally:
        conn.logout()


def test_imap_raw_utf8_header_bytes(lab):
    conn = imap_login(lab)
    try:
        conn.select("INBOX", readonly=True)
        typ, data = conn.search(None, "HEADER", "X-Mailspec-Seed", "2")
        assert typ == "OK"
        typ, msg = conn.fetch(data[0].split()[0], "(BODY.PEEK[HEADER.FIELDS (FROM)])")
        assert typ == "OK"
        assert msg[0][1].strip() == "From: Zoë Ångström <zoe@localhost>".encode("utf-8")
    finally:
        conn.logout()


def test_imap_wrong_password_rejected(lab):
    conn = imaplib.IMAP4_SSL(lab.host, lab.imaps_port, ssl_context=lab.ssl_context(), timeout=TIMEOUT)
    try:
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED|[Aa]uthentication failed"):
            conn.login(lab.user, "not-the-password")
    finally:
        conn.shutdown()


def test_imaps_untrusted_without_lab_ca(lab):
    ctx = ssl.create_default_context(cafile=None, capath=None, cadata=None)
    ctx.load_verify_locations(cadata=_unrelated_ca_pem())
    with pytest.raises(ssl.SSLCertVerificationError):
        imaplib.IMAP4_SSL(lab.host, lab.imaps_port, ssl_context=ctx, timeout=TIMEOUT)


def _unrelated_ca_pem():
    """Any CA other than the lab's: the system bundle if present, else a
    throw-away CA generated with openssl."""
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    if os.path.exists(bundle):
        with open(bundle) as f:
            return f.read()
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=other", "-keyout", d + "/k", "-out", d + "/c"],
                       check=True, capture_output=True)
        with open(d + "/c") as f:
            return f.read()


# -------------------------------------------------------------------- POP3 --

def test_pop3_stls_stat(lab):
    conn = poplib.POP3(lab.host, lab.pop3_port, timeout=TIMEOUT)
    try:
        assert conn.getwelcome().startswith(b"+OK")
        capa = conn.capa()
        assert "STLS" in capa
        assert conn.stls(context=lab.ssl_context()).startswith(b"+OK")
        capa = conn.capa()
        assert "STLS" not in capa
        assert "PLAIN" in capa.get("SASL", []) and "LOGIN" in capa.get("SASL", [])
        conn.user(lab.user2)
        assert conn.pass_(lab.password2).startswith(b"+OK")
        count, size = conn.stat()
        assert count >= lab.seed_count  # the seed, and what other tests delivered to bob
        assert size > 2000
        resp, lines, _ = conn.retr(1)
        assert resp.startswith(b"+OK")
        assert any(line.startswith(b"Subject: mailspec seed") for line in lines)
    finally:
        conn.quit()


def test_pop3s_stat_and_uidl(lab):
    conn = poplib.POP3_SSL(lab.host, lab.pop3s_port, context=lab.ssl_context(), timeout=TIMEOUT)
    try:
        conn.user(lab.user2)
        conn.pass_(lab.password2)
        count, _ = conn.stat()
        assert count >= lab.seed_count  # the seed, and what other tests delivered to bob
        resp, uidls, _ = conn.uidl()
        assert resp.startswith(b"+OK")
        assert len(uidls) == count
        assert len({u.split()[1] for u in uidls}) == count
    finally:
        conn.quit()


def test_pop3_wrong_password_rejected(lab):
    conn = poplib.POP3_SSL(lab.host, lab.pop3s_port, context=lab.ssl_context(), timeout=TIMEOUT)
    try:
        conn.user(lab.user)
        with pytest.raises(poplib.error_proto, match=r"^b?'?-ERR"):
            conn.pass_("wrong")
    finally:
        conn.close()


# -------------------------------------------------------------------- SMTP --

def test_smtp_port25_starttls_and_delivery(lab):
    subject = unique_subject("mx")
    with smtplib.SMTP(lab.host, lab.smtp_port, timeout=TIMEOUT) as s:
        code, banner = s.ehlo("client.test")
        assert code == 250
        assert s.has_extn("starttls")
        assert s.has_extn("8bitmime") and s.has_extn("smtputf8")
        assert not s.has_extn("auth")
        code, _ = s.starttls(context=lab.ssl_context())
        assert code == 220
        s.ehlo("client.test")
        assert not s.has_extn("starttls")
        assert not s.has_extn("auth")  # MX-style port: no AUTH
        # Relaying for other domains is refused without authentication.
        code, _ = s.mail("someone@example.org")
        assert code == 250
        code, msg = s.rcpt("victim@example.com")
        assert code == 554 and b"Relay access denied" in msg
        s.rset()
        # Unknown local user is refused.
        s.mail("someone@example.org")
        code, _ = s.rcpt("nobody-here@localhost")
        assert code == 550
        s.rset()
        refused = s.sendmail("someone@example.org", [lab.address],
                             make_message(lab, subject, "someone@example.org"))
        assert refused == {}
    msg = wait_for_subject(lab, subject)
    assert msg["Subject"] == subject
    assert msg["Delivered-To"] == lab.address


def test_submission_requires_tls_and_auth(lab):
    with smtplib.SMTP(lab.host, lab.submission_port, timeout=TIMEOUT) as s:
        s.ehlo("client.test")
        assert s.has_extn("starttls")
        assert not s.has_extn("auth")  # AUTH only after STARTTLS
        code, msg = s.mail(lab.address)
        assert code == 530 and b"STARTTLS" in msg
    with smtplib.SMTP(lab.host, lab.submission_port, timeout=TIMEOUT) as s:
        s.starttls(context=lab.ssl_context())
        s.ehlo("client.test")
        assert s.has_extn("auth")
        assert {"PLAIN", "LOGIN"} <= set(s.esmtp_features["auth"].upper().split())
        s.mail(lab.address)
        code, _ = s.rcpt(lab.address)
        assert code == 554  # not authenticated
        s.rset()
        s.user, s.password = lab.user, "wrong-password"
        with pytest.raises(smtplib.SMTPAuthenticationError) as exc:
            s.auth("PLAIN", s.auth_plain)
        assert exc.value.smtp_code == 535


def test_submission_starttls_auth_plain_delivers(lab):
    subject = unique_subject("submission")
    with smtplib.SMTP(lab.host, lab.submission_port, timeout=TIMEOUT) as s:
        s.starttls(context=lab.ssl_context())
        s.ehlo("client.test")
        s.user, s.password = lab.user, lab.password
        code, msg = s.auth("PLAIN", s.auth_plain)
        assert code == 235, msg
        assert s.sendmail(lab.address, [lab.address], make_message(lab, subject)) == {}
    msg = wait_for_subject(lab, subject)
    assert msg["Subject"] == subject
    assert msg["Return-Path"] == "<%s>" % lab.address
    assert "hello from test_lab" in msg.get_content()


def test_smtps_implicit_tls_auth_login_delivers(lab):
    subject = unique_subject("smtps")
    with smtplib.SMTP_SSL(lab.host, lab.smtps_port, context=lab.ssl_context(), timeout=TIMEOUT) as s:
        s.ehlo("client.test")
        assert s.has_extn("auth")
        assert not s.has_extn("starttls")
        s.user, s.password = lab.user, lab.password
        code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        assert code == 235
        assert s.sendmail(lab.address, [lab.address], make_message(lab, subject)) == {}
    msg = wait_for_subject(lab, subject)
    assert msg["Subject"] == subject
