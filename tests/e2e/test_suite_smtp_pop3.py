"""The SMTP and POP3 suite tests added for issue 17 fail for the right reason.

Each semantic test is run twice against a real server (the lab's Postfix on
plain SMTP, the lab's Dovecot on plain POP3) or, where the lab lacks the
feature (AUTH on a plain port, APOP, CRAM-MD5), against the compliant fixture
servers of variants.py:

- through an empty mutproxy.py proxy: it passes (the positive case);
- through a proxy that plants exactly one fault - one server reply rewritten
  the way a broken server would answer: it fails, and the message shows the
  wrong answer at the step the test is about.

A last test checks that the STARTTLS-injection test settles at once against a
server that refuses the pipelined STARTTLS and keeps the connection open (the
ending that used to wait out --timeout for a close).
"""

import json
import os
import subprocess
import time

import pytest

from lab import lab  # noqa: F401  (pytest fixture)
from loopback import LoopbackServer
from mutproxy import MutatingProxy, Rule
from variants import Pop3Server, SmtpServer, USER, PASSWORD

HERE = os.path.dirname(os.path.abspath(__file__))
MAILSPEC = os.environ.get("MAILSPEC", os.path.join(HERE, "..", "..", "build", "mailspec"))


def nth(n, replacement):
    """A Rule replacement that rewrites only the n-th line the pattern matches."""
    seen = [0]

    def rewrite(line):
        seen[0] += 1
        return replacement if seen[0] == n else line
    return rewrite


def after_command(command, replacement, reply=rb"^[+-]"):
    """Two Rules: the first server line matching REPLY after a client line
    starting with COMMAND is replaced (the answer to that command), so that the
    pre-flight's own login is left alone."""
    pending = [False]

    def note(line):
        pending[0] = True
        return line

    def rewrite(line):
        if pending[0]:
            pending[0] = False
            return replacement
        return line
    return [Rule("c2s", rb"^" + command, note), Rule("s2c", reply, rewrite)]


def first_reply_after_greeting(replacement):
    """A Rule that replaces the reply right after the 220 greeting when it is a
    single-line reply (the answer to a command sent before EHLO; certify's
    pre-flight sends EHLO first, whose reply is multi-line)."""
    state = [False]

    def rewrite(line):
        greeting, state[0] = state[0], line.startswith(b"220 ")
        if greeting and line[3:4] == b" ":
            return replacement
        return line
    return Rule("s2c", rb"", rewrite)


def header_only_top():
    """Rules that cut the body off the response to TOP: a server that stops
    at the blank line whatever the line count."""
    state = [0]  # 0 idle, 1 in a TOP response's header, 2 in its body

    def note(line):
        state[0] = 1
        return line

    def cut(line):
        if state[0] == 1 and line == b"\r\n":
            state[0] = 2
        elif state[0] == 2:
            if line == b".\r\n":
                state[0] = 0
            else:
                return b""
        return line
    return [Rule("c2s", rb"^TOP ", note), Rule("s2c", rb"", cut)]


def swap_after(first):
    """Hold a line starting with FIRST and send it after the next matching line:
    the replies of a pipelined group answered out of order."""
    held = []

    def rewrite(line):
        if line.startswith(first):
            held.append(line)
            return b""
        if held:
            return line + held.pop()
        return line
    return rewrite


def certify(proto, port, test_id, *extra, timeout=60):
    args = [MAILSPEC, "certify", "--protocol", proto, "--host", "127.0.0.1", "--port", str(port),
            "--tls", "none", "--only", test_id, "--timeout", "5", "--json", "-", "-q", *extra]
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    assert r.stdout.strip(), r.stderr
    rep = json.loads(r.stdout)
    [t] = [t for t in rep["tests"] if t["id"] == test_id]
    return t


# (test id, rules, text the failure message must show)
SMTP_FAULTS = [
    ("smtp.chunking.bdat-zero-last",
     [Rule("s2c", rb"^250 2\.0\.0 Ok: 29 bytes queued", b"503 5.5.1 Error: BDAT 0 LAST refused\r\n")],
     "503 5.5.1 Error: BDAT 0 LAST refused"),
    ("smtp.chunking.bdat-after-last-503",
     [Rule("s2c", rb"^503 ", b"250 2.0.0 Ok: 0 bytes queued\r\n", count=1)],
     "250 2.0.0 Ok: 0 bytes queued"),
    ("smtp.chunking.bdat-without-mail-503",
     [Rule("s2c", rb"^503 ", b"250 2.0.0 Ok: 0 bytes\r\n", count=1)],
     "250 2.0.0 Ok: 0 bytes"),
    ("smtp.chunking.data-after-bdat-503",
     [Rule("s2c", rb"^503 5\.5\.1 Error: DATA after BDAT", b"354 End data with <CR><LF>.<CR><LF>\r\n")],
     "354 End data"),
    ("smtp.chunking.two-chunks",
     [Rule("s2c", rb"^250 2\.0\.0 Ok: 24 bytes", b"451 4.3.0 chunk lost\r\n")],
     "451 4.3.0 chunk lost"),
    ("smtp.dsn.orcpt",
     [Rule("s2c", rb"^250 2\.1\.5 ", nth(2, b"555 5.5.4 Unsupported option: ORCPT\r\n"))],
     "555 5.5.4 Unsupported option: ORCPT"),
    ("smtp.dsn.notify-list",
     [Rule("s2c", rb"^250 2\.1\.5 ", nth(2, b"501 5.5.4 Bad NOTIFY parameter syntax\r\n"))],
     "501 5.5.4 Bad NOTIFY parameter syntax"),
    ("smtp.pipelining.error-in-order",
     [Rule("s2c", rb"^(500 |250 2\.1\.5 )", swap_after(b"500 "))],
     "250 2.1.5"),
    ("smtp.rcpt.hundred-recipients",
     [Rule("s2c", rb"^250 2\.1\.5 ", nth(100, b"452 4.5.3 Error: too many recipients\r\n"))],
     "452 4.5.3 Error: too many recipients"),
    ("smtp.ehlo.again-resets-transaction",
     [Rule("s2c", rb"^503 ", b"354 End data with <CR><LF>.<CR><LF>\r\n", count=1)],
     "354 End data"),
    ("smtp.rset.new-transaction",
     [Rule("s2c", rb"^250 2\.1\.0 ", nth(2, b"503 5.5.1 Error: nested MAIL command\r\n"))],
     "503 5.5.1 Error: nested MAIL command"),
    ("smtp.noop.keeps-transaction",
     [Rule("s2c", rb"^354 ", b"503 5.5.1 Error: need RCPT command\r\n")],
     "503 5.5.1 Error: need RCPT command"),
    ("smtp.vrfy.keeps-transaction",
     [Rule("s2c", rb"^354 ", b"503 5.5.1 Error: need RCPT command\r\n")],
     "503 5.5.1 Error: need RCPT command"),
    ("smtp.help.keeps-transaction",
     [Rule("s2c", rb"^354 ", b"503 5.5.1 Error: need RCPT command\r\n")],
     "503 5.5.1 Error: need RCPT command"),
    ("smtp.noop.before-ehlo",
     [first_reply_after_greeting(b"503 5.5.1 Error: send HELO/EHLO first\r\n")],
     "503 5.5.1 Error: send HELO/EHLO first"),
    ("smtp.rset.before-ehlo",
     [first_reply_after_greeting(b"503 5.5.1 Error: send HELO/EHLO first\r\n")],
     "503 5.5.1 Error: send HELO/EHLO first"),
    ("smtp.vrfy.unknown-not-250",
     [Rule("s2c", rb"^550 5\.1\.1 ", b"250 2.1.5 <mailspec-nonexistent-7f3a9c@localhost>\r\n")],
     "250 2.1.5 <mailspec-nonexistent-7f3a9c@localhost>"),
    ("smtp.expn.unknown-not-250",
     [Rule("s2c", rb"^500 ", b"250 2.1.5 <mailspec-nonexistent-7f3a9c@localhost>\r\n")],
     "250 2.1.5 <mailspec-nonexistent-7f3a9c@localhost>"),
    ("smtp.mail.nested-keeps-transaction",
     [Rule("s2c", rb"^250 2\.1\.5 ", nth(2, b"503 5.5.1 Error: need MAIL command\r\n"))],
     "503 5.5.1 Error: need MAIL command"),
    ("smtp.mail.refused-no-transaction",
     [Rule("s2c", rb"^250 2\.1\.0 ", nth(2, b"503 5.5.1 Error: nested MAIL command\r\n"))],
     "503 5.5.1 Error: nested MAIL command"),
    ("smtp.data.all-rcpt-refused-5xx",
     [Rule("s2c", rb"^554 5\.5\.1 ", b"354 End data with <CR><LF>.<CR><LF>\r\n")],
     "354 End data"),
    ("smtp.quit.in-transaction",
     [Rule("s2c", rb"^221 ", b"250 2.0.0 Ok\r\n")],
     "250 2.0.0 Ok"),
    ("smtp.size.within-limit-250",
     [Rule("s2c", rb"^250 2\.1\.0 ", nth(2, b"552 5.3.4 Message size exceeds fixed limit\r\n"))],
     "552 5.3.4 Message size exceeds fixed limit"),
    ("smtp.8bitmime.body-7bit",
     [Rule("s2c", rb"^250 2\.1\.0 ", nth(2, b"555 5.5.4 Unsupported option: BODY=7BIT\r\n"))],
     "555 5.5.4 Unsupported option: BODY=7BIT"),
    ("smtp.etrn.implemented",
     [Rule("s2c", rb"^459 ", b"502 5.5.2 Error: command not implemented\r\n")],
     "502 5.5.2 Error: command not implemented"),
]

# Against the compliant variants.py SMTP server (AUTH PLAIN/LOGIN/CRAM-MD5 on
# a plain connection): the same plan.
VARIANT_SMTP_FAULTS = [
    ("smtp.help.before-ehlo",  # Postfix has no HELP; variants.py has a multi-line one
     [Rule("s2c", rb"^214[- ]", nth(1, b"503 5.5.1 send EHLO first\r\n")),
      Rule("s2c", rb"^214[- ]", None)],
     "503 5.5.1 send EHLO first"),
    ("smtp.auth.login-235",
     after_command(rb"AUTH LOGIN", b"535 5.7.8 Authentication credentials invalid\r\n", rb"^235 "),
     "535 5.7.8 Authentication credentials invalid"),
    ("smtp.auth.cram-md5-cancel-501",
     [Rule("s2c", rb"^501 5\.0\.0 authentication cancelled", b"535 5.7.8 Authentication failed\r\n")],
     "535 5.7.8 Authentication failed"),
    ("smtp.auth.in-transaction-503",
     [Rule("s2c", rb"^503 5\.5\.1 AUTH not permitted", b"535 5.7.8 Authentication credentials invalid\r\n")],
     "535 5.7.8 Authentication credentials invalid"),
]

EMPTY_LIST = b"+OK\r\n.\r\n"
POP3_FAULTS = [
    ("pop3.before-login.noop-err",
     [Rule("s2c", rb"^-ERR", b"+OK\r\n", count=1)], "+OK"),
    ("pop3.before-login.list-err",
     [Rule("s2c", rb"^-ERR", EMPTY_LIST, count=1)], "+OK"),
    ("pop3.before-login.dele-err",
     [Rule("s2c", rb"^-ERR", b"+OK message 1 deleted\r\n", count=1)], "+OK message 1 deleted"),
    ("pop3.before-login.uidl-err",
     [Rule("s2c", rb"^-ERR", EMPTY_LIST, count=1)], "+OK"),
    ("pop3.before-login.top-err",
     [Rule("s2c", rb"^-ERR", EMPTY_LIST, count=1)], "+OK"),
    ("pop3.dele.list-deleted-err",
     [Rule("s2c", rb"^-ERR", b"+OK 1 120\r\n", count=1)], "+OK 1 120"),
    ("pop3.dele.uidl-deleted-err",
     [Rule("s2c", rb"^-ERR", b"+OK 1 deleted-but-listed\r\n", count=1)], "+OK 1 deleted-but-listed"),
    ("pop3.dele.top-deleted-err",
     [Rule("s2c", rb"^-ERR", b"+OK\r\nSubject: deleted\r\n\r\n.\r\n", count=1)], "Subject: deleted"),
    ("pop3.top.beyond-body", header_only_top(), "expected: S: +OK"),
    ("pop3.top.no-such-message",
     [Rule("s2c", rb"^-ERR", EMPTY_LIST, count=1)], "+OK"),
    ("pop3.top.missing-argument-err",
     [Rule("s2c", rb"^-ERR", EMPTY_LIST, count=1)], "+OK"),
    ("pop3.quit.transaction",
     [Rule("s2c", rb"^\+OK Logging out", b"-ERR not now\r\n")], "-ERR not now"),
    ("pop3.uidl.stable-across-sessions",
     [Rule("s2c", rb"^\+OK 1 ", nth(2, b"+OK 1 a-new-unique-id\r\n"))], "+OK 1 a-new-unique-id"),
]



def check_fault(proto, upstream, test_id, rules, shown, extra=()):
    with MutatingProxy(upstream, []) as p:
        t = certify(proto, p.port, test_id, *extra)
    assert t["result"] == "pass", (test_id, t["message"], t["transcript"][-1500:])
    with MutatingProxy(upstream, rules) as p:
        t = certify(proto, p.port, test_id, *extra)
        changed = p.changed
    assert any(changed), (test_id, "the fault was not planted", t["transcript"][-1500:])
    assert t["result"] == "fail", (test_id, t["result"], t["message"], t["transcript"][-1500:])
    assert shown in t["message"], (test_id, t["message"])
    return t


@pytest.mark.parametrize("test_id,rules,shown", SMTP_FAULTS, ids=[f[0] for f in SMTP_FAULTS])
def test_smtp_fault_fails(lab, test_id, rules, shown):  # noqa: F811
    check_fault("smtp", lab.smtp_port, test_id, rules, shown, ("--rcpt", lab.address))


@pytest.mark.parametrize("test_id,rules,shown", VARIANT_SMTP_FAULTS,
                         ids=[f[0] for f in VARIANT_SMTP_FAULTS])
def test_smtp_auth_fault_fails(lab, test_id, rules, shown):  # noqa: F811
    cert = os.path.join(lab.dir, "certs", "cert.pem"), os.path.join(lab.dir, "certs", "key.pem")
    with SmtpServer(*cert, lifetime=120, io_timeout=10) as srv:
        check_fault("smtp", srv.port, test_id, rules, shown,
                    ("--user", USER, "--password", PASSWORD))


@pytest.mark.parametrize("test_id,rules,shown", POP3_FAULTS, ids=[f[0] for f in POP3_FAULTS])
def test_pop3_fault_fails(lab, test_id, rules, shown):  # noqa: F811
    check_fault("pop3", lab.pop3_port, test_id, rules, shown,
                ("--user", lab.user, "--password", lab.password))


def test_pop3_apop(lab):  # noqa: F811
    """APOP: passes against a server with a timestamp in its greeting (variants),
    fails when that server refuses the right digest, and is not-supported on the
    lab's Dovecot, whose greeting has no timestamp."""
    cert = os.path.join(lab.dir, "certs", "cert.pem"), os.path.join(lab.dir, "certs", "key.pem")
    creds = ("--user", USER, "--password", PASSWORD)
    with Pop3Server(*cert, lifetime=120, io_timeout=10) as srv:
        check_fault("pop3", srv.port, "pop3.apop.login",
                    after_command(rb"APOP ", b"-ERR [AUTH] permission denied\r\n"),
                    "-ERR [AUTH] permission denied", creds)
    t = certify("pop3", lab.pop3_port, "pop3.apop.login", "--user", lab.user,
                "--password", lab.password)
    assert t["result"] == "not-supported", t


class _RefusesPipelinedStarttls(LoopbackServer):
    """An SMTP server that refuses a STARTTLS with input pipelined behind it
    (454) and keeps the connection open in plain text: a legal ending of
    smtp.starttls.injection-discarded that used to cost a whole --timeout."""

    def handle_connection(self, sock):
        f = sock.makefile("rb")
        sock.sendall(b"220 fixture ESMTP\r\n")
        for line in f:
            verb = line.strip().split(b" ")[0].upper()
            if verb == b"EHLO":
                sock.sendall(b"250-fixture\r\n250 STARTTLS\r\n")
            elif verb == b"STARTTLS":
                sock.sendall(b"454 4.7.0 TLS not available: pipelined input\r\n")
            elif verb == b"NOOP":
                sock.sendall(b"250 2.0.0 Ok\r\n")
            elif verb == b"QUIT":
                sock.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                sock.sendall(b"500 5.5.2 command not recognized\r\n")


def test_injection_refused_and_open_settles_at_once(tmp_path):
    suite = os.path.join(HERE, "..", "..", "conformance", "suites", "smtp",
                         "starttls-injection.session")
    with _RefusesPipelinedStarttls(lifetime=60, io_timeout=20) as srv:
        start = time.monotonic()
        r = subprocess.run([MAILSPEC, "replay", "--protocol", "smtp", "--host", "127.0.0.1",
                            "--port", str(srv.port), "--tls", "starttls", "--insecure",
                            "--timeout", "10", "--json", "-", "-q", suite],
                           capture_output=True, text=True, timeout=60)
        took = time.monotonic() - start
    rep = json.loads(r.stdout)
    [t] = rep["tests"]
    assert t["result"] == "pass", (t["message"], t["transcript"])
    assert took < 5, "the test waited %.1f s (a --timeout of 10 s) to reach its verdict" % took


def test_smtp_plain_preflight_waits_for_nothing(lab):  # noqa: F811
    """certify's pre-flight on a cleartext SMTP port asks whether mail needs
    STARTTLS first (RSET answered 530). A server that answers 250 must not cost
    a wait: before the fix, the probe's cleanup waited 2 s for the 221 of a
    QUIT it never sent, on every SMTP run over --tls none."""
    start = time.monotonic()
    t = certify("smtp", lab.smtp_port, "smtp.noop.250")
    took = time.monotonic() - start
    assert t["result"] == "pass", t
    assert took < 1.5, "certify took %.2f s for one NOOP test" % took
