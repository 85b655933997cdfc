"""Small real TCP/TLS servers on 127.0.0.1 for the replay tests.

A :class:`Server` listens on an ephemeral port and runs ``handler(conn)`` in a
thread per connection; ``conn`` is a :class:`Conn` with line helpers and an
optional TLS upgrade. Every server is bounded in time (a socket timeout on
each connection, a deadline on the whole server) and stopped by the test
(context manager). The hostile handlers below misbehave in one precise way
each.
"""

import os
import socket
import ssl
import subprocess
import time

from loopback import LoopbackServer

_CERTS = {}


def make_cert(directory):
    """A self-signed certificate for 'localhost' and 127.0.0.1; returns (cert, key)."""
    if directory in _CERTS:
        return _CERTS[directory]
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True, timeout=60)
    _CERTS[directory] = (cert, key)
    return cert, key


class Conn:
    def __init__(self, sock, server):
        self.sock = sock
        self.server = server
        self.buf = b""
        self.received = []  # client lines, for assertions

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self, text):
        self.send(text + "\r\n")

    def readline(self):
        """One client line without CRLF, or None at EOF."""
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except (OSError, ssl.SSLError):
                return None
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        line = line.rstrip(b"\r").decode("utf-8", "replace")
        self.received.append(line)
        self.server.client_lines.append(line)
        return line

    def starttls(self, keep_plaintext=False):
        """Upgrade. A correct server discards plaintext pipelined before the
        handshake; keep_plaintext=True executes it afterwards (CVE-2011-0411)."""
        if not keep_plaintext:
            self.buf = b""
        self.sock = self.server.tls_context().wrap_socket(self.sock, server_side=True)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Server(LoopbackServer):
    """Context manager: a server on an ephemeral port running handler per connection."""

    def __init__(self, handler, tls=False, certdir=None, lifetime=60.0, family=socket.AF_INET,
                 host="127.0.0.1"):
        self.handler = handler
        self.tls = tls
        self.certdir = certdir
        self.lifetime = lifetime
        self.client_lines = []
        self.errors = []
        self._ctx = None
        # The lifetime bounds the accept loop only (a deadline, see _serving):
        # the handlers watch conn.stop, which only stop() sets.
        super().__init__(lifetime=None, io_timeout=10, host=host, family=family,
                         join_timeout=5)

    def tls_context(self):
        if self._ctx is None:
            cert, key = make_cert(self.certdir)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self._ctx = ctx
        return self._ctx

    @property
    def cafile(self):
        return make_cert(self.certdir)[0]

    def start(self):
        self._end = time.monotonic() + self.lifetime
        return super().start()

    def _serving(self):
        return super()._serving() and time.monotonic() < self._end

    def handle_connection(self, s):
        conn = None
        try:
            if self.tls:
                try:
                    s = self.tls_context().wrap_socket(s, server_side=True)
                except (OSError, ssl.SSLError) as e:
                    self.errors.append(repr(e))
                    s.close()
                    return
            conn = Conn(s, self)
            conn.stop = self._stop
            self.handler(conn)
        except (OSError, ssl.SSLError) as e:
            self.errors.append(repr(e))
        finally:
            if conn:
                conn.close()
            else:
                s.close()


# ---- well-behaved toy servers (enough protocol for the example sessions) ----

def toy_imap(conn, greeting="* OK [CAPABILITY IMAP4rev1 STARTTLS] toy ready",
             starttls=True, inject_after_starttls=None, vulnerable=False):
    """A tiny IMAP server: CAPABILITY, NOOP, LOGIN, STARTTLS, LOGOUT, SELECT."""
    conn.line(greeting)
    while True:
        line = conn.readline()
        if line is None:
            return
        parts = line.split(" ", 2)
        if len(parts) < 2:
            conn.line("* BAD missing command")
            continue
        tag, cmd = parts[0], parts[1].upper()
        if cmd == "CAPABILITY":
            conn.line("* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED" if starttls
                      else "* CAPABILITY IMAP4rev1")
            conn.line(tag + " OK CAPABILITY completed")
        elif cmd == "NOOP":
            conn.line(tag + " OK NOOP completed")
        elif cmd == "LOGIN":
            conn.line(tag + " OK LOGIN completed")
        elif cmd == "SELECT":
            conn.line("* FLAGS (\\Answered \\Seen)")
            conn.line("* 3 EXISTS")
            conn.line("* OK [UIDVALIDITY 1700000001] UIDs valid")
            conn.line(tag + " OK [READ-WRITE] SELECT completed")
        elif cmd == "STARTTLS" and starttls:
            if inject_after_starttls:
                conn.send(tag + " OK Begin TLS\r\n" + inject_after_starttls)
            else:
                conn.line(tag + " OK Begin TLS negotiation now")
            conn.starttls(keep_plaintext=vulnerable)
        elif cmd == "LOGOUT":
            conn.line("* BYE logging out")
            conn.line(tag + " OK LOGOUT completed")
            return
        else:
            conn.line(tag + " BAD unknown command")


def toy_smtp(conn):
    conn.line("220 toy.example ESMTP ready")
    while True:
        line = conn.readline()
        if line is None:
            return
        verb = line.split(" ", 1)[0].upper()
        if verb == "EHLO":
            conn.line("250-toy.example")
            conn.line("250-PIPELINING")
            conn.line("250 STARTTLS")
        elif verb == "STARTTLS":
            conn.line("220 2.0.0 Ready to start TLS")
            conn.starttls()
        elif verb == "NOOP":
            conn.line("250 2.0.0 Ok")
        elif verb == "QUIT":
            conn.line("221 2.0.0 Bye")
            return
        else:
            conn.line("502 5.5.2 Error: command not recognized")


def toy_pop3(conn):
    conn.line("+OK toy POP3 ready")
    while True:
        line = conn.readline()
        if line is None:
            return
        verb = line.split(" ", 1)[0].upper()
        if verb == "CAPA":
            conn.send("+OK\r\nUSER\r\nSTLS\r\n.\r\n")
        elif verb == "STLS":
            conn.line("+OK begin TLS")
            conn.starttls()
        elif verb in ("USER", "PASS", "NOOP"):
            conn.line("+OK")
        elif verb == "QUIT":
            conn.line("+OK bye")
            return
        else:
            conn.line("-ERR unknown")


# ---- hostile servers: each misbehaves in one way ----

def never_ends_line(conn):
    """Sends 'x' forever without a line end (until the client goes away)."""
    chunk = b"* OK " + b"x" * 65536
    conn.send(chunk[:5])
    while not conn.stop.is_set():
        try:
            conn.send(chunk[5:])
        except OSError:
            return


def huge_literal(conn):
    """Greets, then answers any command with a 4 GiB literal, sending data forever."""
    conn.line("* OK [CAPABILITY IMAP4rev1] ready")
    line = conn.readline()
    if line is None:
        return
    tag = line.split(" ", 1)[0]
    conn.send("* 1 FETCH (BODY[] {4294967296}\r\n")
    block = b"y" * 65536
    while not conn.stop.is_set():
        try:
            conn.send(block)
        except OSError:
            return
    del tag


def drip(conn):
    """One byte a second, forever: every individual read succeeds."""
    for ch in b"* OK dripping greeting that never ends" * 10:
        if conn.stop.is_set():
            return
        try:
            conn.send(bytes([ch]))
        except OSError:
            return
        time.sleep(1)


def garbage(conn):
    """Binary noise with NUL bytes and CRLFs."""
    import random
    rnd = random.Random(1234)
    data = bytes(rnd.getrandbits(8) for _ in range(8192)) + b"\x00\x01\r\n\x00\xff\r\n"
    conn.send(data)
    time.sleep(2)


def close_mid_response(conn):
    """Greets, then closes in the middle of a multi-line reply line."""
    conn.line("220 toy.example ESMTP ready")
    line = conn.readline()
    if line is None:
        return
    conn.send("250-toy.example\r\n250-PIPEL")
    time.sleep(0.2)
    conn.close()


def silent(conn):
    """Accepts and says nothing."""
    while not conn.stop.is_set():
        time.sleep(0.1)


def not_tls(conn):
    """Answers a TLS ClientHello with plaintext: the handshake must fail."""
    conn.line("* OK this is not TLS")
    time.sleep(1)
