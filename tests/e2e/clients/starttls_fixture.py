"""A deliberately vulnerable STARTTLS client and its fixed twin, written for
the `mailspec serve` tests (never for real use):

    python3 starttls_fixture.py vulnerable|fixed imap|smtp PORT CAFILE USER PASSWORD

The vulnerable twin has the bugs the NO STARTTLS study (USENIX Security
2021) found in real clients: its read buffer survives the TLS upgrade (so
plaintext injected with the go-ahead is read as if it came inside TLS), it
goes on in cleartext when STARTTLS is refused or the greeting is PREAUTH,
it keeps capabilities learnt before TLS, and it does not verify the
certificate. The fixed twin differs only in those places. Exit 0 when the
session completed, 2 when it stopped on purpose, 3 on a server error."""

import socket
import ssl
import sys

mode, proto, port, cafile, user, password = sys.argv[1:7]
VULN = mode == "vulnerable"


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise SystemExit(3)
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("latin-1")

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def starttls(self):
        if VULN:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx = ssl.create_default_context(cafile=cafile)
            if self.buf:  # plaintext after the go-ahead: someone injected it
                raise SystemExit(2)
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")
        if not VULN:
            self.buf = b""  # the bug: the vulnerable twin keeps what it had read


def imap():
    c = Conn(port)
    n = [0]

    def cmd(text):
        n[0] += 1
        tag = "f%d" % n[0]
        c.send("%s %s" % (tag, text))
        untagged = []
        while True:
            line = c.line()
            if line.startswith("* BYE") and "LOGOUT" not in text:
                raise SystemExit(3)
            if line.startswith(tag + " "):
                return line.split(" ", 2)[1], untagged
            untagged.append(line)

    greeting = c.line()
    caps = greeting.upper() if "[CAPABILITY" in greeting.upper() else ""
    if greeting.startswith("* PREAUTH"):
        if not VULN:
            raise SystemExit(2)
    else:
        status, _ = cmd("STARTTLS")
        if status != "OK":
            if not VULN:
                raise SystemExit(2)
        else:
            c.starttls()
            if not VULN:
                caps = ""
        if not caps:
            status, untagged = cmd("CAPABILITY")
            caps = " ".join(untagged).upper()
        if "LOGINDISABLED" in caps:
            raise SystemExit(3)
        status, _ = cmd("LOGIN %s %s" % (user, password))
        if status != "OK":
            raise SystemExit(3)
    for text in ("SELECT INBOX", "FETCH 1 (BODY.PEEK[])", "LOGOUT"):
        status, _ = cmd(text)
        if status != "OK":
            raise SystemExit(3)


def smtp():
    c = Conn(port)

    def reply():
        lines = [c.line()]
        while lines[-1][3:4] == "-":
            lines.append(c.line())
        return int(lines[-1][:3]), lines

    def cmd(text):
        c.send(text)
        return reply()

    reply()
    code, lines = cmd("EHLO fixture.invalid")
    code, _ = cmd("STARTTLS")
    if code != 220:
        if not VULN:
            raise SystemExit(2)
    else:
        c.starttls()
        code, lines = cmd("EHLO fixture.invalid")
        if code != 250:
            if not VULN:
                raise SystemExit(3)
            code, lines = cmd("HELO fixture.invalid")  # the vulnerable fallback
    import base64
    code, _ = cmd("AUTH PLAIN " + base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode())
    if code != 235:
        raise SystemExit(3)
    for text, want in (("MAIL FROM:<a@example.org>", 250), ("RCPT TO:<b@example.org>", 250),
                       ("DATA", 354)):
        code, _ = cmd(text)
        if code != want:
            raise SystemExit(3)
    code, _ = cmd("Subject: fixture\r\n\r\nhello\r\n.")
    if code != 250:
        raise SystemExit(3)
    cmd("QUIT")


imap() if proto == "imap" else smtp()
