"""A small SMTP server on loopback with planted bugs, for test_fuzz_server.py.

:class:`SmtpFixture` speaks enough SMTP for mailspec fuzz-server's seeds
(EHLO/HELO, STARTTLS through Python's ssl, MAIL, RCPT, DATA, BDAT, RSET,
NOOP, VRFY, QUIT) and answers every reply in the RFC 5321 grammar. With
``bug`` set it misbehaves in one precise way; ``bug=None`` is the fixed twin:

- ``"crash"``: after STARTTLS, VRFY inside a mail transaction (after MAIL)
  "crashes" the server: the connection is dropped without a reply and for
  ``down_s`` seconds every new connection is closed before the greeting (a
  daemon that dies and is restarted by its supervisor);
- ``"close_notify"``: a TLS close_notify in the middle of a BDAT chunk is
  answered with cleartext garbage (not a reply) instead of closing;
- ``"grammar"``: a MAIL SIZE parameter longer than 255 octets is answered
  with ``2500 Ok`` (four digits: not a Reply-code line, RFC 5321 4.2);
- ``"slow"``: two RSET in a row make the next new connection wait 1.5 s
  for its greeting.

Bounded: a socket timeout per connection and a lifetime for the server.
"""
import socket
import ssl
import threading
import time

from loopback import LoopbackServer


class _Conn:
    def __init__(self, server, sock):
        self.server = server
        self.sock = sock
        self.buf = b""
        self.tls = False
        self.mail = False
        self.rcpt = False

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        self.buf += chunk

    def line(self):
        while b"\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise EOFError
            self.fill()
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r")

    def chunk(self, n):
        """n octets of a BDAT chunk; True when they came, False at a close_notify."""
        while len(self.buf) < n:
            try:
                self.fill()
            except EOFError:
                if self.tls and self.server.bug == "close_notify":
                    try:
                        raw = self.sock.unwrap()  # succeeds only after a close_notify
                    except (OSError, ssl.SSLError, ValueError):
                        raise EOFError
                    raw.sendall(b"*** chunk aborted, plaintext mode ***\r\n")
                    self.sock = raw
                    try:
                        raw.recv(16)
                    except OSError:
                        pass
                raise
        self.buf = self.buf[n:]
        return True

    def starttls(self):
        self.send("220 2.0.0 Ready to start TLS")
        self.buf = b""
        # Like Exim (GnuTLS): bytes that are not a TLS handshake get a fatal
        # alert record (unexpected_message) - TLS, not an SMTP reply.
        first = self.sock.recv(1, socket.MSG_PEEK)
        if first and first[0] != 0x16:
            self.sock.sendall(b"\x15\x03\x03\x00\x02\x02\x0a")
            raise EOFError
        self.sock = self.server.ctx.wrap_socket(self.sock, server_side=True)
        self.tls = True
        self.mail = self.rcpt = False

    def run(self):
        self.send("220 fixture.test ESMTP")
        while True:
            line = self.line()
            self.last, verb = getattr(self, "verb", b""), line.split(b" ", 1)[0].upper()
            self.verb = verb
            arg = line[len(verb) + 1:] if b" " in line else b""
            if verb in (b"EHLO",):
                ext = ["PIPELINING", "CHUNKING", "SIZE 1000000", "8BITMIME"]
                if not self.tls:
                    ext.append("STARTTLS")
                self.send("250-fixture.test")
                for e in ext[:-1]:
                    self.send("250-" + e)
                self.send("250 " + ext[-1])
            elif verb == b"HELO":
                self.send("250 fixture.test")
            elif verb == b"STARTTLS":
                if self.tls:
                    self.send("503 5.5.1 TLS already active")
                else:
                    self.starttls()
            elif verb == b"MAIL":
                params = arg.split(b" ")[1:]
                size = [p for p in params if p.upper().startswith(b"SIZE=")]
                if size and len(size[0]) - 5 > 255:
                    if self.server.bug == "grammar":
                        self.send("2500 Ok")
                    else:
                        self.send("501 5.5.4 Invalid SIZE parameter")
                    continue
                self.mail = True
                self.rcpt = False
                self.send("250 2.1.0 Ok")
            elif verb == b"RCPT":
                if not self.mail:
                    self.send("503 5.5.1 Need MAIL first")
                else:
                    self.rcpt = True
                    self.send("250 2.1.5 Ok")
            elif verb == b"VRFY":
                if self.server.bug == "crash" and self.tls and self.mail:
                    self.server.crash()
                    raise EOFError
                self.send("252 2.0.0 Cannot VRFY, but will accept")
            elif verb == b"DATA":
                if not self.rcpt:
                    self.send("503 5.5.1 Need RCPT first")
                    continue
                self.send("354 End data with <CR><LF>.<CR><LF>")
                while self.line() != b".":
                    pass
                self.mail = self.rcpt = False
                self.send("250 2.0.0 Ok: queued")
            elif verb == b"BDAT":
                words = arg.split(b" ")
                try:
                    n = int(words[0])
                except ValueError:
                    self.send("501 5.5.4 Syntax: BDAT size [LAST]")
                    continue
                if n > 1 << 20:
                    self.send("552 5.3.4 Chunk too big")
                    raise EOFError
                self.chunk(n)
                if not self.rcpt:
                    self.send("503 5.5.1 Need RCPT first")
                    continue
                self.send("250 2.0.0 %d octets received" % n)
            elif verb == b"RSET":
                if self.server.bug == "slow" and self.last == b"RSET":
                    self.server.slow_next = True
                self.mail = self.rcpt = False
                self.send("250 2.0.0 Ok")
            elif verb == b"NOOP":
                self.send("250 2.0.0 Ok")
            elif verb == b"QUIT":
                self.send("221 2.0.0 Bye")
                return
            else:
                self.send("500 5.5.2 Error: command not recognized")


class SmtpFixture(LoopbackServer):
    def __init__(self, certfile, keyfile, bug=None, lifetime=180, down_s=0.7):
        super().__init__(lifetime=lifetime, io_timeout=10, backlog=64)
        self.bug = bug
        self.down_s = down_s
        self.down_until = 0.0
        self.slow_next = False
        self.crashes = 0
        self.lock = threading.Lock()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certfile, keyfile)

    def crash(self):
        with self.lock:
            self.crashes += 1
            self.down_until = time.monotonic() + self.down_s

    def handle_connection(self, sock):
        try:
            if time.monotonic() < self.down_until:
                return  # "not running": closed before any greeting
            with self.lock:
                slow, self.slow_next = self.slow_next, False
            if slow:
                time.sleep(1.5)
            _Conn(self, sock).run()
        except (EOFError, OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                sock.close()
            except OSError:
                pass


class _ImapConn:
    """Just enough IMAP for the seeds: CAPABILITY, NOOP, LOGIN, SELECT, LOGOUT."""

    def __init__(self, server, sock):
        self.server = server
        self.sock = sock
        self.buf = b""
        self.auth = False

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def line(self):
        while b"\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise EOFError
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r").decode("latin-1")

    def run(self):
        self.send("* OK [CAPABILITY IMAP4rev1] fixture ready")
        while True:
            words = self.line().split(" ")
            tag = words[0]
            if not tag or any(c in tag for c in "*+(){%\"\\]") or len(words) < 2:
                self.send("* BAD Missing or invalid tag")
                continue
            cmd = words[1].upper()
            if cmd == "CAPABILITY":
                self.send("* CAPABILITY IMAP4rev1")
                self.send(tag + " OK CAPABILITY completed")
            elif cmd in ("NOOP", "LOGIN", "CHECK"):
                self.auth = self.auth or cmd == "LOGIN"
                self.send(tag + " OK " + cmd + " completed")
            elif cmd in ("SELECT", "EXAMINE") and not self.auth and self.server.bug != "state":
                self.send(tag + " NO Log in first")
            elif cmd in ("SELECT", "EXAMINE"):
                name = words[2] if len(words) > 2 else ""
                self.send("* 1 EXISTS")
                if self.server.bug == "grammar" and len(name) > 200:
                    self.send("* OK [UIDVALIDITY none] UIDs valid")  # not a nz-number
                else:
                    self.send("* OK [UIDVALIDITY 7] UIDs valid")
                self.send(tag + " OK [READ-WRITE] " + cmd + " completed")
            elif cmd == "LOGOUT":
                self.send("* BYE fixture logging out")
                self.send(tag + " OK LOGOUT completed")
                return
            else:
                self.send(tag + " BAD Unknown command")


class ImapFixture(LoopbackServer):
    """IMAP on loopback; bug="grammar": SELECT of a name longer than 200 octets is
    answered with [UIDVALIDITY none] (RFC 9051 7.1: nz-number); bug="state":
    SELECT before LOGIN is answered OK (RFC 9051 6.3: authenticated state only)."""

    def __init__(self, bug=None, lifetime=180):
        super().__init__(lifetime=lifetime, io_timeout=10, backlog=64)
        self.bug = bug

    def handle_connection(self, sock):
        try:
            _ImapConn(self, sock).run()
        except (EOFError, OSError, ValueError):
            pass
        finally:
            try:
                sock.close()
            except OSError:
                pass
