"""Scenarios driving real clients (Python's imaplib, poplib, smtplib, and a
raw socket for SMTP PIPELINING) through ``mailspec record``.

Each scenario takes ``(host, port, tls, ctx, user, password)``: ``tls`` is
``"none"``, ``"starttls"`` or ``"implicit"``, ``ctx`` an ``ssl.SSLContext``
trusting the recorder's certificate. The tests (tests/e2e/test_record*.py)
and the corpus script (record_corpus.py) share them.
"""

import imaplib
import poplib
import smtplib
import socket
import ssl
import time
import uuid

TIMEOUT = 15


# -------------------------------------------------------------------- IMAP --

def imap_connect(host, port, tls, ctx):
    if tls == "implicit":
        c = imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=TIMEOUT)
    else:
        c = imaplib.IMAP4(host, port, timeout=TIMEOUT)
        if tls == "starttls":
            c.starttls(ssl_context=ctx)
    return c


def imap_readonly(host, port, tls, ctx, user, password):
    """LOGIN, LIST, SELECT, FETCH headers/BODYSTRUCTURE, SEARCH, LOGOUT (no changes)."""
    c = imap_connect(host, port, tls, ctx)
    c.login(user, password)
    c.list()
    c.select("INBOX", readonly=True)
    c.fetch("1:4", "(UID FLAGS RFC822.SIZE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])")
    c.search(None, "ALL")
    c.logout()


def imap_authenticate_plain(host, port, tls, ctx, user, password):
    c = imap_connect(host, port, tls, ctx)
    c.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (user, password)).encode())
    c.select("INBOX", readonly=True)
    c.fetch("1", "(BODY.PEEK[TEXT])")
    c.logout()


def imap_authenticate_login(host, port, tls, ctx, user, password):
    c = imap_connect(host, port, tls, ctx)
    answers = iter([user.encode(), password.encode()])
    c.authenticate("LOGIN", lambda _: next(answers))
    c.logout()


def imap_mailbox_ops(host, port, tls, ctx, user, password):
    """APPEND, STORE flags, COPY, MOVE, EXPUNGE, FETCH bodies: changes the mailbox."""
    c = imap_connect(host, port, tls, ctx)
    c.login(user, password)
    msg = ("From: alice@localhost\r\nTo: alice@localhost\r\nSubject: mailspec corpus append\r\n"
           "Message-ID: <append-1@mailspec.test>\r\n\r\nappended by record_corpus\r\n")
    c.append("Drafts", "(\\Draft)", None, msg.encode())
    c.select("Drafts")
    c.search(None, "SUBJECT", '"corpus append"')
    c.fetch("1", "(FLAGS BODY[])")
    c.store("1", "+FLAGS", "(\\Seen \\Flagged)")
    c.store("1", "-FLAGS.SILENT", "(\\Flagged)")
    c.copy("1", "Archive")
    c.uid("MOVE", "1:*", "Trash")
    c.select("Archive")
    c.store("1:*", "+FLAGS.SILENT", "(\\Deleted)")
    c.expunge()
    c.close()
    c.logout()


# -------------------------------------------------------------------- POP3 --

def pop3_connect(host, port, tls, ctx):
    if tls == "implicit":
        return poplib.POP3_SSL(host, port, context=ctx, timeout=TIMEOUT)
    p = poplib.POP3(host, port, timeout=TIMEOUT)
    if tls == "starttls":
        p.stls(context=ctx)
    return p


def pop3_readonly(host, port, tls, ctx, user, password):
    """USER/PASS, STAT, LIST, UIDL, RETR, TOP, RSET-free QUIT (nothing deleted)."""
    p = pop3_connect(host, port, tls, ctx)
    p.capa()
    p.user(user)
    p.pass_(password)
    p.stat()
    p.list()
    p.list(1)
    p.uidl()
    p.uidl(2)
    p.retr(1)
    p.top(2, 3)
    p.noop()
    p.quit()


def pop3_dele(host, port, tls, ctx, user, password):
    """DELE then RSET (the mailbox is left as it was)."""
    p = pop3_connect(host, port, tls, ctx)
    p.user(user)
    p.pass_(password)
    p.dele(1)
    p.list()
    p.rset()
    p.quit()


def pop3_auth_plain(host, port, tls, ctx, user, password):
    import base64
    p = pop3_connect(host, port, tls, ctx)
    blob = base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()
    p._shortcmd("AUTH PLAIN")  # "+ " continuation
    p._shortcmd(blob)
    p.stat()
    p.quit()


# -------------------------------------------------------------------- SMTP --

def smtp_connect(host, port, tls, ctx):
    if tls == "implicit":
        s = smtplib.SMTP_SSL(host, port, context=ctx, timeout=TIMEOUT)
    else:
        s = smtplib.SMTP(host, port, timeout=TIMEOUT)
        if tls == "starttls":
            s.ehlo("client.mailspec.test")
            s.starttls(context=ctx)
    s.ehlo("client.mailspec.test")
    return s


def message(subject, to="alice@localhost", sender="bob@localhost"):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@mailspec.test>\r\n"
            "Date: Thu, 26 Nov 2026 12:00:00 +0000\r\n\r\nhello from mailspec record\r\n"
            ".leading dot line\r\n" % (sender, to, subject, subject))


def smtp_send_noauth(host, port, tls, ctx, user, password):
    s = smtp_connect(host, port, tls, ctx)
    s.sendmail("bob@localhost", ["alice@localhost"], message("corpus-noauth"))
    s.noop()
    s.quit()


def smtp_send_auth(host, port, tls, ctx, user, password):
    s = smtp_connect(host, port, tls, ctx)
    s.login(user, password)  # smtplib picks PLAIN with Postfix
    s.sendmail("%s@localhost" % user, ["alice@localhost"], message("corpus-auth"))
    s.quit()


def smtp_auth_login(host, port, tls, ctx, user, password):
    s = smtp_connect(host, port, tls, ctx)
    s.user, s.password = user, password
    s.auth("LOGIN", s.auth_login, initial_response_ok=False)
    s.rset()
    s.quit()


def smtp_pipelining(host, port, tls, ctx, user, password):
    """MAIL, RCPT, RCPT, DATA in one write (RFC 2920), then the message: a raw client."""
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    if tls == "implicit":
        sock = ctx.wrap_socket(sock, server_hostname=host)
    f = sock.makefile("rb")

    def reply():
        lines = []
        while True:
            line = f.readline()
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                return lines

    reply()
    sock.sendall(b"EHLO client.mailspec.test\r\n")
    reply()
    sock.sendall(b"MAIL FROM:<bob@localhost>\r\nRCPT TO:<alice@localhost>\r\n"
                 b"RCPT TO:<nobody@localhost>\r\nDATA\r\n")
    for _ in range(4):
        reply()
    body = message("corpus-pipelining").encode().replace(b"\r\n.", b"\r\n..")  # RFC 5321 4.5.2
    sock.sendall(body + b".\r\n")
    reply()
    sock.sendall(b"QUIT\r\n")
    reply()
    sock.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port):
    """Whether something listens on 127.0.0.1:port (read from /proc: no connection made,
    so the recorder does not count it as a session)."""
    want = ":%04X" % port
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[1].endswith(want) and parts[3] == "0A":
                        return True
        except OSError:
            pass
    return False


def wait_listening(port, proc=None, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("mailspec record exited early (rc=%s)" % proc.returncode)
        if _listening(port):
            return
        time.sleep(0.05)
    raise RuntimeError("mailspec record does not listen on %d" % port)


class Recorder:
    """Run ``mailspec record`` for the duration of a with-block (stopped by PID)."""

    def __init__(self, mailspec, protocol, upstream_host, upstream_port, out, tls="none",
                 cert=None, key=None, cafile=None, max_sessions=1, extra=(), timeout=20):
        self.port = free_port()
        self.args = [mailspec, "record", "--listen", "127.0.0.1:%d" % self.port,
                     "--connect", "%s:%d" % (upstream_host, upstream_port),
                     "--protocol", protocol, "--tls", tls, "--out", out,
                     "--timeout", str(timeout)]
        if max_sessions:
            self.args += ["--max-sessions", str(max_sessions)]
        if cert:
            self.args += ["--cert", cert, "--key", key]
        if cafile:
            self.args += ["--cafile", cafile]
        self.args += list(extra)
        self.proc = None
        self.rc = None
        self.stderr = ""

    def __enter__(self):
        import subprocess
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_listening(self.port, self.proc)
        return self

    def wait(self, timeout=20):
        out, err = self.proc.communicate(timeout=timeout)
        self.rc = self.proc.returncode
        self.stderr = err.decode("utf-8", "replace")
        return self.rc

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            try:
                self.wait(timeout=20)
            except Exception:
                self.proc.kill()
                self.wait(timeout=5)
        elif self.rc is None:
            self.wait()
        return False


def unique():
    return uuid.uuid4().hex[:10]
