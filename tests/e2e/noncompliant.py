"""Small, real, deliberately non-compliant mail servers for the certify e2e tests.

Each server is a tiny SMTP implementation on 127.0.0.1 (an ephemeral port),
compliant by default, with one flaw switched on by name:

``starttls-injection``
    After ``STARTTLS`` the bytes the client pipelined in the same segment,
    still in the plaintext read buffer, are executed as if they had arrived
    inside TLS (CVE-2011-0411 and its many siblings). RFC 3207 section 4
    (and RFC 7457/8314 guidance): the server must discard them.
``bare-lf``
    Lines end at a bare LF as well as at CRLF, so ``\\n.\\n``, ``\\r\\n.\\n``
    and ``\\n.\\r\\n`` end the message data ("SMTP smuggling", 2023).
    ``\\r.\\r`` does not (this server does not treat a bare CR as a line end).

Compliant variants (``VARIANTS``), for tests that must not accuse them:

``strict-bare-lf``
    Refuses a message with a bare CR or LF in its data (550) and goes on.
``strict-bare-lf-close``
    Refuses it with 521 and closes the connection (Postfix
    ``smtpd_forbid_bare_newline = reject`` style).

Servers are bounded in time: each connection times out after ``io_timeout``
seconds and the whole server stops after ``lifetime`` seconds even if nobody
calls :meth:`stop`. Use as a context manager::

    with SmtpServer(cert, key, flaw="bare-lf") as srv:
        port = srv.port

Run by hand: ``python3 noncompliant.py --cert C --key K --flaw bare-lf``
(prints the port, serves until interrupted or the lifetime ends).
"""

import argparse
import ssl

from loopback import LoopbackServer

FLAWS = ("starttls-injection", "bare-lf")
# Not flaws: other behaviours the RFC allows, so tests must pass on them too.
VARIANTS = ("strict-bare-lf", "strict-bare-lf-close")


class _Conn:
    def __init__(self, server, sock):
        self.server = server
        self.sock = sock
        self.rbuf = b""
        self.tls = False
        self.helo = False
        self.mail = False
        self.rcpt = 0

    # -- I/O --
    def send(self, text):
        self.sock.sendall(text.encode("ascii") + b"\r\n")

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.rbuf += data

    def read_line(self):
        """One command line (CRLF; a bare LF too with the bare-lf flaw)."""
        while True:
            if self.server.flaw == "bare-lf":
                i = self.rbuf.find(b"\n")
                if i >= 0:
                    line, self.rbuf = self.rbuf[:i], self.rbuf[i + 1:]
                    return line[:-1] if line.endswith(b"\r") else line
            else:
                i = self.rbuf.find(b"\r\n")
                if i >= 0:
                    line, self.rbuf = self.rbuf[:i], self.rbuf[i + 2:]
                    return line
            if len(self.rbuf) > 4096:
                self.rbuf = b""
                self.send("500 5.5.2 line too long")
            self.fill()

    def read_data(self):
        """Message data up to the end-of-data line; returns the raw bytes."""
        if self.server.flaw == "bare-lf":
            lines = []
            while True:
                line = self.read_line()
                if line == b".":
                    return b"\n".join(lines)
                lines.append(line)
        # RFC 5321 4.1.1.4: the data ends with <CRLF>.<CRLF>; the CRLF that
        # follows DATA counts as the first CRLF.
        buf = b"\r\n" + self.rbuf
        while True:
            i = buf.find(b"\r\n.\r\n")
            if i >= 0:
                self.rbuf = buf[i + 5:]
                return buf[2:i]
            self.fill()
            buf += self.rbuf
            self.rbuf = b""

    # -- protocol --
    def ehlo_lines(self):
        caps = ["noncompliant.test greets you", "PIPELINING", "8BITMIME", "SIZE 1000000"]
        if not self.tls:
            caps.append("STARTTLS")
        return caps

    def starttls(self):
        self.send("220 2.0.0 ready to start TLS")
        leftover = self.rbuf
        self.rbuf = b""
        ctx = self.server.ssl_context
        self.sock = ctx.wrap_socket(self.sock, server_side=True)
        self.tls = True
        # RFC 3207 4.2: the protocol starts over; forget the EHLO.
        self.helo = self.mail = False
        self.rcpt = 0
        if self.server.flaw == "starttls-injection":
            # The flaw: keep what was read in plaintext and run it now.
            self.rbuf = leftover

    def run(self):
        self.send("220 noncompliant.test ESMTP mailspec test server")
        while True:
            line = self.read_line()
            word, _, arg = line.decode("latin-1").partition(" ")
            verb = word.upper()
            if verb in ("EHLO", "HELO"):
                if not arg:
                    self.send("501 5.5.4 domain required")
                    continue
                self.helo, self.mail, self.rcpt = True, False, 0
                if verb == "HELO":
                    self.send("250 noncompliant.test")
                else:
                    caps = self.ehlo_lines()
                    for c in caps[:-1]:
                        self.send("250-" + c)
                    self.send("250 " + caps[-1])
            elif verb == "STARTTLS":
                if self.tls:
                    self.send("503 5.5.1 TLS already active")
                elif arg:
                    self.send("501 5.5.4 no parameters allowed")
                else:
                    self.starttls()
            elif verb == "MAIL":
                if not self.helo:
                    self.send("503 5.5.1 send EHLO first")
                elif self.mail:
                    self.send("503 5.5.1 nested MAIL command")
                elif not arg.upper().startswith("FROM:<") or ">" not in arg:
                    self.send("501 5.5.4 syntax: MAIL FROM:<address>")
                else:
                    params = arg[arg.index(">") + 1:].split()
                    bad = [p for p in params
                           if p.split("=")[0].upper() not in ("SIZE", "BODY")]
                    size = [p for p in params if p.upper().startswith("SIZE=")]
                    if bad:
                        self.send("555 5.5.4 unsupported parameter " + bad[0])
                    elif size and (not size[0][5:].isdigit() or int(size[0][5:]) > 1000000):
                        self.send("552 5.3.4 message size exceeds fixed maximum")
                    else:
                        self.mail = True
                        self.send("250 2.1.0 ok")
            elif verb == "RCPT":
                if not self.mail:
                    self.send("503 5.5.1 need MAIL first")
                elif not arg.upper().startswith("TO:<") or arg[3:].startswith("<>"):
                    # RFC 5321 4.1.2: Forward-path = Path, and a Path holds a
                    # Mailbox: "<>" is only a reverse-path
                    self.send("501 5.5.4 syntax: RCPT TO:<address>")
                else:
                    self.rcpt += 1
                    self.send("250 2.1.5 ok")
            elif verb == "DATA":
                if not self.rcpt:
                    self.send("503 5.5.1 need RCPT first")
                    continue
                self.send("354 end data with <CR><LF>.<CR><LF>")
                data = self.read_data()
                self.mail, self.rcpt = False, 0
                bare = b"\r" in data.replace(b"\r\n", b"") or b"\n" in data.replace(b"\r\n", b"")
                if bare and self.server.flaw == "strict-bare-lf":
                    self.send("550 5.6.0 bare CR or LF in the message")
                elif bare and self.server.flaw == "strict-bare-lf-close":
                    self.send("521 5.5.2 bare CR or LF received, closing")
                    return
                else:
                    self.send("250 2.0.0 queued")
            elif verb == "RSET":
                self.mail, self.rcpt = False, 0
                self.send("250 2.0.0 ok")
            elif verb == "NOOP":
                self.send("250 2.0.0 ok")
            elif verb == "VRFY":
                self.send("252 2.1.5 cannot verify, but will accept")
            elif verb == "HELP":
                self.send("214 2.0.0 see RFC 5321")
            elif verb == "QUIT":
                self.send("221 2.0.0 bye")
                return
            else:
                self.send("500 5.5.2 command unrecognized")


class SmtpServer(LoopbackServer):
    """A threaded SMTP server on 127.0.0.1 with at most one flaw."""

    def __init__(self, certfile, keyfile, flaw=None, lifetime=300, io_timeout=15):
        if flaw is not None and flaw not in FLAWS + VARIANTS:
            raise ValueError("unknown flaw %r (known: %s)" % (flaw, ", ".join(FLAWS + VARIANTS)))
        self.flaw = flaw
        self.ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl_context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ssl_context.load_cert_chain(certfile, keyfile)
        super().__init__(lifetime=lifetime, io_timeout=io_timeout)

    def handle_connection(self, sock):
        conn = _Conn(self, sock)
        try:
            conn.run()
        except (EOFError, OSError, ssl.SSLError, UnicodeError):
            pass
        finally:
            try:
                conn.sock.close()
            except OSError:
                pass


class _Pop3Conn:
    """A POP3 server without USER/PASS (legitimate: RFC 1939 7 makes them
    optional): it announces CAPA without USER and refuses every login."""

    def __init__(self, sock):
        self.sock = sock
        self.rbuf = b""

    def send(self, text):
        self.sock.sendall(text.encode("ascii") + b"\r\n")

    def read_line(self):
        while b"\r\n" not in self.rbuf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError
            self.rbuf += data
            if len(self.rbuf) > 8192 and b"\r\n" not in self.rbuf:
                self.rbuf = b""
                self.send("-ERR line too long")
        line, _, self.rbuf = self.rbuf.partition(b"\r\n")
        return line

    def run(self):
        self.send("+OK mailspec POP3 test server ready (SASL-less, login-less)")
        while True:
            verb = self.read_line().split(b" ")[0].upper()
            if verb == b"CAPA":
                for line in ("+OK capabilities follow", "TOP", "UIDL", "RESP-CODES", "."):
                    self.send(line)
            elif verb == b"QUIT":
                self.send("+OK bye")
                return
            else:
                self.send("-ERR not available")


class Pop3NoUserServer(LoopbackServer):
    """Pop3NoUserServer(lifetime=...): same life cycle as SmtpServer, no TLS."""

    def __init__(self, lifetime=120, io_timeout=15):  # noqa: D107 (no TLS needed)
        super().__init__(lifetime=lifetime, io_timeout=io_timeout)
        self.flaw = None

    def handle_connection(self, sock):
        try:
            _Pop3Conn(sock).run()
        except (EOFError, OSError):
            pass
        finally:
            sock.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--flaw", choices=FLAWS + VARIANTS)
    ap.add_argument("--lifetime", type=int, default=300)
    args = ap.parse_args()
    SmtpServer(args.cert, args.key, args.flaw, args.lifetime).serve_by_hand()


if __name__ == "__main__":
    main()
