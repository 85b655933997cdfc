"""RFC-compliant mail servers that answer with legal variants.

The conformance suites were written against Dovecot and Postfix. Real servers
use other encodings the protocols allow just as well; each server here is a
small, in-memory, *compliant* implementation that deliberately picks such
legal variants, so that a test comparing text where the RFC allows several
forms shows up as a failure against it. Nothing here is a flaw: every variant
carries a comment quoting the RFC text that allows it (look for ``VARIANT``).

``ImapServer`` (IMAP4rev1, RFC 3501, with LITERAL+ RFC 7888, NAMESPACE RFC
2342, IDLE RFC 2177, ENABLE RFC 5161, CONDSTORE RFC 7162, UIDPLUS RFC 4315,
MOVE RFC 6851, ID RFC 2971, CHILDREN RFC 3348, UNSELECT RFC 3691, SASL-IR RFC
4959, STARTTLS, AUTHENTICATE PLAIN RFC 4616):

* every personal mailbox lives under ``INBOX.`` (``* NAMESPACE (("INBOX."
  ".")) NIL NIL``);
* mailbox names in LIST and STATUS responses are quoted strings; in LSUB
  responses, and in LIST responses for names two levels deep or more, they
  are literals;
* the header-list of ``BODY[HEADER.FIELDS (...)]`` responses is made of
  quoted strings;
* a message without a header/body separator (the suite's 12-octet
  ``Subject: x`` CRLF) has no blank line in its header fetches;
* SELECT/EXAMINE send their untagged responses in another order than Dovecot
  (``OK [UIDVALIDITY]`` first, ``EXISTS`` last), with ``RECENT``, ``UNSEEN``
  and ``HIGHESTMODSEQ``;
* FETCH responses caused by STORE are in lower case (``* 1 fetch (flags
  (\\Flagged))``).

``SmtpServer`` (RFC 5321 with SIZE, 8BITMIME, PIPELINING, DSN, SMTPUTF8,
CHUNKING, ENHANCEDSTATUSCODES, STARTTLS, AUTH PLAIN/LOGIN/CRAM-MD5):

* a multi-line greeting, EHLO keywords in another order (one in mixed case),
  a multi-line HELP reply, VRFY answered 252, enhanced status codes, a fixed
  SIZE maximum, and messages with a bare CR or LF refused.

``Pop3Server`` (RFC 1939 with CAPA/RESP-CODES RFC 2449, STLS RFC 2595, AUTH
RFC 5034, AUTH-RESP-CODE RFC 3206):

* a greeting with an APOP timestamp (and APOP), CAPA in another order, a
  maildrop whose messages need byte-stuffing, RESP-CODES.

Transports: plain, STARTTLS/STLS, and implicit TLS (``implicit_tls=True``).
Every server listens on 127.0.0.1 on an ephemeral port, each connection
times out after ``io_timeout`` seconds of silence, and the whole server stops
after ``lifetime`` seconds even if nobody calls :meth:`stop`. Use as a
context manager::

    with ImapServer(cert, key, implicit_tls=True) as srv:
        port = srv.port

Run by hand: ``python3 variants.py imap --cert C --key K [--implicit]``.

Only the standard library is used.
"""

import argparse
import base64
import email.utils
import hashlib
import hmac
import os
import re
import socket
import ssl
import threading
import time

from loopback import LoopbackServer

USER = "alice"
PASSWORD = "alice-secret"
DOMAIN = "variants.test"


class _Close(Exception):
    """End the connection now (after a BYE or a 221/421)."""


class _TooLong(Exception):
    """A line longer than the connection's bound; the rest was drained."""


# ------------------------------------------------------------------ common --

class _Conn:
    max_line = 8192

    def __init__(self, server, sock):
        self.server = server
        self.sock = sock
        self.rbuf = b""
        self.tls = server.implicit_tls

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, text):
        if isinstance(text, str):
            text = text.encode("utf-8")
        self.sock.sendall(text + b"\r\n")

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.rbuf += data

    def read_line(self):
        """One CRLF-terminated line without its CRLF. A line longer than
        max_line is read to its end and dropped (_TooLong)."""
        too_long = False
        while True:
            i = self.rbuf.find(b"\r\n")
            if i >= 0:
                line, self.rbuf = self.rbuf[:i], self.rbuf[i + 2:]
                if too_long or len(line) > self.max_line:
                    raise _TooLong
                return line
            if len(self.rbuf) > self.max_line:
                too_long = True
                # keep a possible CR that the LF of the next read completes
                self.rbuf = self.rbuf[-1:]
            self.fill()

    def read_exact(self, n):
        while len(self.rbuf) < n:
            self.fill()
        data, self.rbuf = self.rbuf[:n], self.rbuf[n:]
        return data

    def start_tls(self):
        # The plaintext the client pipelined after the command is not kept
        # (RFC 3207 4.2, RFC 2595 4, RFC 3501 6.2.1): only bytes read from the
        # TLS layer count from here on.
        self.rbuf = b""
        self.sock = self.server.ssl_context.wrap_socket(self.sock, server_side=True)
        self.tls = True


class _Server(LoopbackServer):
    conn_class = None

    def __init__(self, certfile, keyfile, implicit_tls=False, user=USER, password=PASSWORD,
                 lifetime=300, io_timeout=15):
        self.implicit_tls = implicit_tls
        self.user = user
        self.password = password
        self.lock = threading.RLock()
        self.ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl_context.minimum_version = ssl.TLSVersion.TLSv1_2  # RFC 8996
        self.ssl_context.load_cert_chain(certfile, keyfile)
        self._socks = set()
        super().__init__(lifetime=lifetime, io_timeout=io_timeout, backlog=32)
        self.setup()

    def setup(self):
        pass

    def _expire(self):
        self._stop.set()
        with self.lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_connection(self, sock):
        with self.lock:
            self._socks.add(sock)
        conn = None
        try:
            if self.implicit_tls:
                sock = self.ssl_context.wrap_socket(sock, server_side=True)
                with self.lock:
                    self._socks.add(sock)
            conn = self.conn_class(self, sock)
            conn.run()
        except (_Close, EOFError, OSError, ssl.SSLError, UnicodeError):
            pass
        finally:
            if conn is not None:
                conn.cleanup()
            for s in {sock, getattr(conn, "sock", sock)}:
                try:
                    s.close()
                except OSError:
                    pass
            with self.lock:
                self._socks.discard(sock)
                if conn is not None:
                    self._socks.discard(conn.sock)


def _check_plain(server, b64):
    """RFC 4616: message = [authzid] UTF8NUL authcid UTF8NUL passwd."""
    try:
        raw = base64.b64decode(b64, validate=True)
    except (ValueError, base64.binascii.Error):
        return None
    parts = raw.split(b"\0")
    if len(parts) != 3:
        return None
    authzid, authcid, passwd = (p.decode("utf-8", "replace") for p in parts)
    if authzid not in ("", authcid):
        return False
    return authcid == server.user and passwd == server.password


# -------------------------------------------------------------------- SMTP --

SMTP_SIZE_MAX = 1000000


class _SmtpConn(_Conn):
    max_line = 4096

    def __init__(self, server, sock):
        super().__init__(server, sock)
        self.reset_session()

    def cleanup(self):
        pass

    def reset_session(self):
        self.helo = False
        self.authed = False
        self.reset_transaction()

    def reset_transaction(self):
        self.mail = None
        self.rcpts = []
        self.chunks = None  # BDAT data so far

    def reply(self, code, *lines):
        """A reply, multi-line when several lines are given."""
        for text in lines[:-1]:
            self.send("%d-%s" % (code, text))
        self.send("%d %s" % (code, lines[-1]))

    def ehlo_keywords(self):
        # VARIANT: EHLO keywords in another order than Postfix, one of them in
        # mixed case. RFC 5321 4.1.1.1 (ABNF) prescribes no order:
        #   ehlo-ok-rsp = ( "250-" Domain [ SP ehlo-greet ] CRLF
        #                   *( "250-" ehlo-line CRLF ) "250" SP ehlo-line CRLF ) / ...
        # and RFC 5321 2.4: "Verbs and
        # argument values (e.g., "TO:" or "to:" in the RCPT command and
        # extension name keywords) are not case sensitive, with the sole
        # exception in this specification of a mailbox local-part".
        kw = ["SMTPUTF8", "DSN", "CHUNKING", "Auth PLAIN LOGIN CRAM-MD5"]
        if not self.tls:
            kw.append("STARTTLS")
        kw += ["ENHANCEDSTATUSCODES", "8BITMIME", "SIZE %d" % SMTP_SIZE_MAX, "HELP",
               "PIPELINING"]
        return kw

    def run(self):
        # VARIANT: a multi-line greeting. RFC 5321 4.2 (ABNF):
        #   Greeting = ( "220 " (Domain / address-literal) [ SP textstring ] CRLF ) /
        #              ( "220-" (Domain / address-literal) [ SP textstring ] CRLF
        #                *( "220-" [ textstring ] CRLF )
        #                "220" [ SP textstring ] CRLF )
        # (the last line keeps its SP: 4.2.1 "The last line will begin with the
        # reply code, followed immediately by <SP>, optionally some text").
        self.send("220-%s ESMTP mailspec variants fixture" % DOMAIN)
        self.send("220-legal but uncommon replies ahead")
        self.send("220 ready")
        while True:
            try:
                line = self.read_line()
            except _TooLong:
                # RFC 5321 4.2.2: 500 "Syntax error, command unrecognized (This
                # may include errors such as command line too long)"
                self.reply(500, "5.5.2 line too long")
                continue
            self.command(line.decode("utf-8", "replace"))

    def command(self, line):
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        handler = getattr(self, "cmd_" + verb, None) if verb.isalpha() else None
        if handler is None:
            # RFC 5321 4.2.4: "If the command is not recognized, code 500 SHOULD
            # be returned."
            self.reply(500, "5.5.2 command not recognized")
            return
        handler(arg)

    # RFC 2034 3 (4): "The text part of all 2xx, 4xx, and 5xx SMTP responses
    # other than the initial greeting and any response to HELO or EHLO are
    # prefaced with a status code". 3xx replies (334, 354) carry none.

    def cmd_EHLO(self, arg):
        if not arg.strip():
            self.reply(501, "Syntax: EHLO domain")
            return
        self.helo = True
        self.reset_transaction()
        self.reply(250, "%s greets %s" % (DOMAIN, arg.split()[0]), *self.ehlo_keywords())

    def cmd_HELO(self, arg):
        if not arg.strip():
            self.reply(501, "Syntax: HELO domain")
            return
        self.helo = True
        self.reset_transaction()
        self.reply(250, DOMAIN)

    def cmd_STARTTLS(self, arg):
        if self.tls:
            self.reply(503, "5.5.1 TLS already active")
        elif arg.strip():
            self.reply(501, "5.5.4 Syntax error (no parameters allowed)")
        else:
            self.reply(220, "2.0.0 Ready to start TLS")
            self.start_tls()
            # RFC 3207 4.2: "the server MUST discard any knowledge obtained from
            # the client, such as the argument to the EHLO command, which was
            # not obtained from the TLS negotiation itself."
            self.reset_session()

    def cmd_AUTH(self, arg):
        words = arg.split()
        if not self.helo:
            self.reply(503, "5.5.1 EHLO first")
            return
        if self.authed:
            # RFC 4954 4: "After a successful AUTH command completes, a server
            # MUST reject any further AUTH commands with a 503 reply."
            self.reply(503, "5.5.1 already authenticated")
            return
        if self.mail is not None:
            self.reply(503, "5.5.1 AUTH not permitted during a mail transaction")
            return
        if not words or len(words) > 2:
            self.reply(501, "5.5.4 Syntax: AUTH mechanism [initial-response]")
            return
        mech = words[0].upper()
        initial = words[1] if len(words) == 2 else None
        if initial == "=":
            initial = ""
        if mech == "PLAIN":
            resp = initial if initial is not None else self.challenge("")
            if resp is None:
                return
            ok = _check_plain(self.server, resp)
        elif mech == "LOGIN":
            user = initial if initial is not None else self.challenge("VXNlcm5hbWU6")
            if user is None:
                return
            pw = self.challenge("UGFzc3dvcmQ6")
            if pw is None:
                return
            try:
                ok = (base64.b64decode(user, validate=True).decode() == self.server.user and
                      base64.b64decode(pw, validate=True).decode() == self.server.password)
            except (ValueError, UnicodeError):
                ok = None
        elif mech == "CRAM-MD5" and initial is None:
            # RFC 2195 2: the challenge is a msg-id style string, base64 in the
            # 334 reply (RFC 4954 4); the answer is "user SP hex(HMAC-MD5)".
            stamp = "<%d.%d@mailspec.variants>" % (os.getpid(), int(time.time()))
            resp = self.challenge(base64.b64encode(stamp.encode()).decode())
            if resp is None:
                return
            try:
                user, digest = base64.b64decode(resp, validate=True).decode().split(" ", 1)
            except (ValueError, UnicodeError):
                ok = None
            else:
                want = hmac.new(self.server.password.encode(), stamp.encode(),
                                hashlib.md5).hexdigest()
                ok = user == self.server.user and hmac.compare_digest(digest, want)
        else:
            self.reply(504, "5.5.4 unrecognized authentication type")
            return
        if ok is None:
            self.reply(501, "5.5.2 cannot decode the response")
        elif ok:
            self.authed = True
            self.reply(235, "2.7.0 Authentication successful")
        else:
            self.reply(535, "5.7.8 Authentication credentials invalid")

    def challenge(self, b64):
        # RFC 4954 4: continue-req = "334" SP [base64] CRLF
        self.send("334 " + b64)
        resp = self.read_line().decode("ascii", "replace")
        if resp == "*":
            # RFC 4954 4: "If the server receives such a response, it MUST
            # reject the AUTH command by sending a 501 reply."
            self.reply(501, "5.0.0 authentication cancelled")
            return None
        return resp

    @staticmethod
    def _path(arg, keyword):
        """Parse 'FROM:<path> params' (case-insensitive keyword)."""
        if not arg[:len(keyword)].upper() == keyword:
            return None
        rest = arg[len(keyword):]
        if not rest.startswith("<"):
            return None
        end = rest.find(">")
        if end < 0:
            return None
        path, params = rest[1:end], rest[end + 1:]
        if params and not params.startswith(" "):
            return None
        return path, params.split()

    def cmd_MAIL(self, arg):
        if not self.helo:
            self.reply(503, "5.5.1 EHLO or HELO first")
            return
        if self.mail is not None:
            self.reply(503, "5.5.1 nested MAIL command")
            return
        parsed = self._path(arg, "FROM:")
        if parsed is None:
            self.reply(501, "5.5.4 Syntax: MAIL FROM:<address> [parameters]")
            return
        path, params = parsed
        for p in params:
            key, _, value = p.partition("=")
            key = key.upper()
            if key == "SIZE" and value.isdigit():
                # RFC 1870 6.3: "If the declared message size exceeds the fixed
                # maximum, the server must reject the MAIL command with a 552
                # reply"
                if int(value) > SMTP_SIZE_MAX:
                    self.reply(552, "5.3.4 message size exceeds fixed maximum message size")
                    return
            elif key == "BODY" and value.upper() in ("7BIT", "8BITMIME"):
                pass  # RFC 6152 3
            elif key == "RET" and value.upper() in ("FULL", "HDRS"):
                pass  # RFC 3461 4.3
            elif key == "ENVID" and value:
                pass  # RFC 3461 4.4
            elif key == "SMTPUTF8" and not value:
                pass  # RFC 6531 3.4
            elif key == "AUTH" and value:
                pass  # RFC 4954 5
            elif key in ("SIZE", "BODY", "RET", "ENVID", "SMTPUTF8", "AUTH"):
                self.reply(501, "5.5.4 invalid value for %s" % key)
                return
            else:
                # RFC 5321 4.2.2: 555 "MAIL FROM/RCPT TO parameters not
                # recognized or not implemented"
                self.reply(555, "5.5.4 unsupported parameter %s" % p)
                return
        self.mail = path
        self.reply(250, "2.1.0 sender <%s> ok" % path)

    def cmd_RCPT(self, arg):
        if self.mail is None:
            # RFC 5321 3.3: "If a RCPT command appears without a previous MAIL
            # command, the server MUST return a 503 "Bad sequence of commands"
            # response."
            self.reply(503, "5.5.1 need MAIL before RCPT")
            return
        parsed = self._path(arg, "TO:")
        if parsed is None or not parsed[0]:
            self.reply(501, "5.5.4 Syntax: RCPT TO:<address> [parameters]")
            return
        path, params = parsed
        for p in params:
            key, _, value = p.partition("=")
            key = key.upper()
            if key == "NOTIFY" and all(v in ("NEVER", "SUCCESS", "FAILURE", "DELAY")
                                       for v in value.upper().split(",")):
                pass  # RFC 3461 4.1
            elif key == "ORCPT" and ";" in value:
                pass  # RFC 3461 4.2
            else:
                self.reply(555, "5.5.4 unsupported parameter %s" % p)
                return
        if len(self.rcpts) >= 100:
            self.reply(452, "4.5.3 too many recipients")
            return
        self.rcpts.append(path)
        self.reply(250, "2.1.5 recipient <%s> ok" % path)

    def deliver(self, data):
        # RFC 5321 2.3.8: "SMTP client implementations MUST NOT transmit these
        # characters except when they are intended as line terminators and then
        # MUST, as indicated above, transmit them only as a <CRLF> sequence."
        # A message with a bare CR or LF is refused, and the session goes on.
        rest = data.replace(b"\r\n", b"")
        self.reset_transaction()
        if b"\r" in rest or b"\n" in rest:
            self.reply(550, "5.6.0 message refused: bare CR or LF in the data")
        elif len(data) > SMTP_SIZE_MAX:
            self.reply(552, "5.3.4 message exceeds fixed maximum message size")
        else:
            with self.server.lock:
                self.server.messages.append(data)
            self.reply(250, "2.0.0 message accepted for delivery")

    def cmd_DATA(self, arg):
        if self.mail is None or not self.rcpts or self.chunks is not None:
            # RFC 5321 3.3: "the server MAY return a "command out of sequence"
            # (503) or "no valid recipients" (554) reply"; RFC 3030 2: DATA after
            # BDAT in one transaction is out of sequence.
            self.reply(503, "5.5.1 need MAIL and RCPT before DATA")
            return
        self.send("354 Start mail input; end with <CRLF>.<CRLF>")
        # RFC 5321 4.1.1.4: the data end with <CRLF>.<CRLF>; the CRLF after
        # DATA is the first CRLF of that sequence. 4.5.2: one leading "." of a
        # line is removed.
        buf = b"\r\n" + self.rbuf
        self.rbuf = b""
        while True:
            i = buf.find(b"\r\n.\r\n")
            if i >= 0:
                self.rbuf = buf[i + 5:]
                raw = buf[2:i]
                break
            if len(buf) > 4 * SMTP_SIZE_MAX:
                self.reply(552, "5.3.4 message too big, closing")
                raise _Close
            self.fill()
            buf += self.rbuf
            self.rbuf = b""
        lines = raw.split(b"\r\n") if raw else []
        data = b"".join((ln[1:] if ln.startswith(b".") else ln) + b"\r\n" for ln in lines)
        self.deliver(data)

    def cmd_BDAT(self, arg):
        words = arg.split()
        if not words or not words[0].isdigit() or len(words) > 2 or \
                (len(words) == 2 and words[1].upper() != "LAST"):
            # the octets cannot be located: the client will send them as
            # commands, which is why RFC 3030 4 says to close on a syntax error
            self.reply(501, "5.5.4 Syntax: BDAT size [LAST]")
            return
        size = int(words[0])
        last = len(words) == 2
        # RFC 3030 2: the size octets follow the command line whatever the reply.
        data = self.read_exact(size)
        if self.mail is None or not self.rcpts:
            self.reply(503, "5.5.1 need MAIL and RCPT before BDAT")
            return
        self.chunks = (self.chunks or b"") + data
        if last:
            self.deliver(self.chunks)
        else:
            self.reply(250, "2.0.0 %d octets received" % size)

    def cmd_RSET(self, arg):
        self.reset_transaction()
        self.reply(250, "2.0.0 OK")

    def cmd_NOOP(self, arg):
        # RFC 5321 4.1.1.9: "If a parameter string is specified, servers SHOULD
        # ignore it."
        self.reply(250, "2.0.0 OK")

    def cmd_VRFY(self, arg):
        if not arg.strip():
            self.reply(501, "5.5.4 Syntax: VRFY address")
            return
        # VARIANT: VRFY answered 252. RFC 5321 3.5.3: "A server MUST NOT return a
        # 250 code in response to a VRFY or EXPN command unless it has actually
        # verified the address.", and 4.2.2 lists 252 "Cannot VRFY user, but will
        # accept message and attempt delivery".
        self.reply(252, "2.1.5 cannot VRFY user, but will accept message and attempt delivery")

    def cmd_EXPN(self, arg):
        # RFC 5321 7.3: sites may disable EXPN; 502 "Command not implemented".
        self.reply(502, "5.5.1 EXPN not available")

    def cmd_HELP(self, arg):
        # VARIANT: a multi-line HELP reply. RFC 5321 4.2 (ABNF):
        #   Reply-line = *( Reply-code "-" [ textstring ] CRLF )
        #                Reply-code [ SP textstring ] CRLF
        # and 4.1.1.8 lets HELP return "helpful information"; 4.2.1: "The format
        # for multiline replies requires that every line, except the last, begin
        # with the reply code, followed immediately by a hyphen".
        self.reply(214, "2.0.0 mailspec variants fixture, commands:",
                   "2.0.0   EHLO HELO MAIL RCPT DATA BDAT RSET",
                   "2.0.0   NOOP QUIT VRFY HELP STARTTLS AUTH",
                   "2.0.0 end of HELP info")

    def cmd_QUIT(self, arg):
        self.reply(221, "2.0.0 %s closing connection" % DOMAIN)
        raise _Close


class SmtpServer(_Server):
    """An in-memory SMTP server (accepted messages in .messages)."""

    conn_class = _SmtpConn

    def setup(self):
        self.messages = []


# -------------------------------------------------------------------- POP3 --

def _pop3_seed():
    # Message bodies with lines that begin with "." so RETR and TOP byte-stuff
    # (RFC 1939 3).
    msgs = [
        b"From: Bob <bob@variants.test>\r\nTo: alice@variants.test\r\n"
        b"Subject: variants seed 1\r\nMessage-ID: <seed-1@variants.test>\r\n"
        b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n"
        b"first message\r\n.a line that begins with a dot\r\n..two dots\r\n",
        b"From: Bob <bob@variants.test>\r\nTo: alice@variants.test\r\n"
        b"Subject: variants seed 2\r\nMessage-ID: <seed-2@variants.test>\r\n"
        b"Date: Tue, 2 Jan 2024 10:00:00 +0000\r\n\r\n"
        b"a line with a single dot follows\r\n.\r\nand one more line\r\n",
        b"From: Carol <carol@variants.test>\r\nTo: alice@variants.test\r\n"
        b"Subject: variants seed 3\r\nMessage-ID: <seed-3@variants.test>\r\n"
        b"Date: Wed, 3 Jan 2024 10:00:00 +0000\r\n\r\n"
        b"third\r\n",
    ]
    # RFC 1939 7 UIDL: unique-id = 1*70 characters in the range 0x21 to 0x7E.
    uids = ["V1.a+b/c=", "V2!#$%&'*", "V3-~_^{|}"]
    return [[u, m] for u, m in zip(uids, msgs)]


class _Pop3Conn(_Conn):
    max_line = 8192

    def __init__(self, server, sock):
        super().__init__(server, sock)
        self.state = "AUTHORIZATION"
        self.user = None
        self.deleted = set()
        self.drop = None  # the maildrop snapshot of this session
        self.locked = False
        # RFC 1939 7 APOP: the timestamp "MUST be different each time the POP3
        # server issues a banner greeting", syntax of a msg-id.
        self.timestamp = "<%d.%d.%s@%s>" % (os.getpid(), time.monotonic_ns(),
                                            os.urandom(4).hex(), DOMAIN)

    def cleanup(self):
        if self.locked:
            self.server.release()
            self.locked = False

    def ok(self, text=""):
        self.send("+OK" + (" " + text if text else ""))

    def err(self, text):
        self.send("-ERR " + text)

    def multi(self, first, lines):
        self.ok(first)
        out = []
        for ln in lines:
            # RFC 1939 3: "If any line of the multi-line response begins with
            # the termination octet, the line is "byte-stuffed" by pre-pending
            # the termination octet to that line of the response."
            out.append((b"." + ln) if ln.startswith(b".") else ln)
        out.append(b".")
        self.send_raw(b"".join(ln + b"\r\n" for ln in out))

    def run(self):
        # VARIANT: the greeting carries an APOP timestamp. RFC 1939 7: "A POP3
        # server which implements the APOP command will include a timestamp in
        # its banner greeting."
        self.ok("mailspec variants POP3 server ready " + self.timestamp)
        while True:
            try:
                line = self.read_line()
            except _TooLong:
                self.err("command line too long")
                continue
            text = line.decode("utf-8", "replace")
            verb, _, arg = text.partition(" ")
            verb = verb.upper()
            if len(line) > 255 and verb not in ("AUTH",):
                # RFC 2449 4 bounds command lines at 255 octets (RFC 5034
                # lifts the bound for AUTH); longer ones are refused.
                self.err("command line too long")
                continue
            handler = getattr(self, "cmd_" + verb, None) if verb.isalpha() else None
            if handler is None:
                # RFC 1939 3: "If a command is unrecognized, unimplemented, or
                # invalid, the server responds with a negative status indicator."
                self.err("unknown command")
                continue
            handler(arg)

    def capa(self):
        # VARIANT: CAPA in another order than Dovecot. RFC 2449 5 (CAPA): a
        # multi-line response with one capability a line; no order is
        # prescribed, and 6 defines each capability on its own.
        caps = ["SASL PLAIN", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "UIDL", "TOP",
                "USER"]
        if not self.tls:
            caps.append("STLS")
        caps += ["IMPLEMENTATION mailspec-variants", "EXPIRE NEVER"]
        return caps

    def cmd_CAPA(self, arg):
        self.multi("Capability list follows", [c.encode() for c in self.capa()])

    def cmd_QUIT(self, arg):
        if self.state == "TRANSACTION":
            # RFC 1939 6: UPDATE removes the messages marked as deleted.
            with self.server.lock:
                gone = {self.drop[i][0] for i in self.deleted}
                self.server.maildrop[:] = [m for m in self.server.maildrop if m[0] not in gone]
                left = len(self.server.maildrop)
            self.ok("%s POP3 server signing off (%d messages left)" % (DOMAIN, left))
        else:
            self.ok("%s POP3 server signing off" % DOMAIN)
        raise _Close

    # -- AUTHORIZATION --
    def cmd_STLS(self, arg):
        if self.state != "AUTHORIZATION":
            # RFC 2595 4: "The STLS command is only permitted in AUTHORIZATION
            # state"
            self.err("STLS only in AUTHORIZATION state")
        elif self.tls:
            # RFC 2595 4: "A -ERR response MAY result if a security layer is
            # already active."
            self.err("TLS already active")
        elif arg:
            self.err("STLS takes no argument")
        else:
            self.ok("Begin TLS negotiation")
            self.start_tls()
            self.user = None

    def cmd_USER(self, arg):
        if self.state != "AUTHORIZATION":
            self.err("USER only in AUTHORIZATION state")
        elif not arg:
            self.err("USER needs a name")
        else:
            self.user = arg
            self.ok("send PASS")

    def login(self, good):
        if not good:
            # RFC 3206 4: [AUTH] "the failure is due to a problem with the
            # credentials".
            self.err("[AUTH] invalid user name or password")
            return
        # RFC 1939 4: the server acquires an exclusive-access lock on the
        # maildrop. A session dropped without QUIT releases it when its
        # connection ends; wait a little for that instead of failing at once.
        if not self.server.acquire(3.0):
            # RFC 2449 8.1.2: [IN-USE] "the user's maildrop is currently locked"
            self.err("[IN-USE] maildrop locked by another session")
            return
        self.locked = True
        self.state = "TRANSACTION"
        with self.server.lock:
            self.drop = [list(m) for m in self.server.maildrop]
        self.ok("maildrop has %d messages (%d octets)" % self.stat())

    def cmd_PASS(self, arg):
        if self.state != "AUTHORIZATION" or self.user is None:
            # RFC 1939 7: PASS "may only be given in the AUTHORIZATION state
            # immediately after a successful USER command"
            self.err("USER first")
            return
        user, self.user = self.user, None
        self.login(user == self.server.user and arg == self.server.password)

    def cmd_APOP(self, arg):
        if self.state != "AUTHORIZATION":
            self.err("APOP only in AUTHORIZATION state")
            return
        words = arg.split(" ")
        if len(words) != 2:
            self.err("Syntax: APOP name digest")
            return
        want = hashlib.md5((self.timestamp + self.server.password).encode()).hexdigest()
        self.login(words[0] == self.server.user and words[1].lower() == want)

    def cmd_AUTH(self, arg):
        if self.state != "AUTHORIZATION":
            self.err("AUTH only in AUTHORIZATION state")
            return
        words = arg.split()
        if not words or len(words) > 2:
            self.err("Syntax: AUTH mechanism [initial-response]")
            return
        if words[0].upper() != "PLAIN":
            self.err("unsupported mechanism")
            return
        if len(words) == 2:
            resp = "" if words[1] == "=" else words[1]
        else:
            # RFC 5034 4: continue-req = "+" SP [base64] CRLF
            self.send("+ ")
            resp = self.read_line().decode("ascii", "replace")
            if resp == "*":
                # RFC 5034 4: "it MUST reject the AUTH command by sending an
                # -ERR reply."
                self.err("authentication cancelled")
                return
        ok = _check_plain(self.server, resp)
        if ok is None:
            self.err("cannot decode the response")
        else:
            self.login(ok)

    # -- TRANSACTION --
    def need_transaction(self):
        if self.state != "TRANSACTION":
            self.err("command valid only in TRANSACTION state")
            return False
        return True

    def stat(self):
        live = [m for i, m in enumerate(self.drop) if i not in self.deleted]
        return len(live), sum(len(m[1]) for m in live)

    def msg(self, arg):
        """The index of the message numbered arg, or None (after -ERR)."""
        if not arg.isdigit() or not 1 <= int(arg) <= len(self.drop):
            self.err("no such message")
            return None
        i = int(arg) - 1
        if i in self.deleted:
            # RFC 1939 5: a deleted message may not be referenced.
            self.err("message %s already deleted" % arg)
            return None
        return i

    def cmd_STAT(self, arg):
        if self.need_transaction():
            self.ok("%d %d" % self.stat())

    def cmd_LIST(self, arg):
        if not self.need_transaction():
            return
        if arg:
            i = self.msg(arg)
            if i is not None:
                self.ok("%d %d" % (i + 1, len(self.drop[i][1])))
            return
        self.multi("%d messages (%d octets)" % self.stat(),
                   [b"%d %d" % (i + 1, len(m[1])) for i, m in enumerate(self.drop)
                    if i not in self.deleted])

    def cmd_UIDL(self, arg):
        if not self.need_transaction():
            return
        if arg:
            i = self.msg(arg)
            if i is not None:
                self.ok("%d %s" % (i + 1, self.drop[i][0]))
            return
        self.multi("unique-id listing follows",
                   [b"%d %s" % (i + 1, m[0].encode()) for i, m in enumerate(self.drop)
                    if i not in self.deleted])

    def cmd_RETR(self, arg):
        if not self.need_transaction():
            return
        i = self.msg(arg)
        if i is not None:
            data = self.drop[i][1]
            self.multi("%d octets" % len(data), data.split(b"\r\n")[:-1])

    def cmd_TOP(self, arg):
        if not self.need_transaction():
            return
        words = arg.split()
        if len(words) != 2 or not words[1].isdigit():
            self.err("Syntax: TOP msg n")
            return
        i = self.msg(words[0])
        if i is None:
            return
        lines = self.drop[i][1].split(b"\r\n")[:-1]
        try:
            blank = lines.index(b"")
        except ValueError:
            blank = len(lines)
        self.multi("top of message follows", lines[:blank + 1 + int(words[1])])

    def cmd_DELE(self, arg):
        if not self.need_transaction():
            return
        i = self.msg(arg)
        if i is not None:
            self.deleted.add(i)
            self.ok("message %s deleted" % arg)

    def cmd_RSET(self, arg):
        if self.need_transaction():
            self.deleted.clear()
            self.ok("maildrop has %d messages (%d octets)" % self.stat())

    def cmd_NOOP(self, arg):
        if self.need_transaction():
            self.ok()


class Pop3Server(_Server):
    """A POP3 server with one maildrop (user/password of the server)."""

    conn_class = _Pop3Conn

    def setup(self):
        self.maildrop = _pop3_seed()
        self._drop_lock = threading.Lock()

    def acquire(self, timeout):
        return self._drop_lock.acquire(timeout=timeout)

    def release(self):
        self._drop_lock.release()


# -------------------------------------------------------------------- IMAP --

IMAP_DELIM = "."
IMAP_PREFIX = "INBOX."
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
IMAP_MAX_LINE = 100000
LITERAL_MAX_PREAUTH = 8192
LITERAL_MAX = 20 * 1024 * 1024


class _Atom(str):
    """An IMAP atom (as opposed to a string, which is bytes)."""


class _Literal(bytes):
    pass


class _Bad(Exception):
    """A syntax error in the command: tagged BAD with this text."""


class _No(Exception):
    """A tagged NO with this text."""


def _tokenize(segs):
    """Tokens of a command: _Atom, bytes (quoted/literal strings), '(' and ')'.
    An atom that opens "[" runs to the matching "]" (BODY[HEADER.FIELDS (A B)])."""
    toks = []
    for seg in segs:
        if isinstance(seg, _Literal):
            toks.append(bytes(seg))
            continue
        s = seg.decode("latin-1")
        i = 0
        while i < len(s):
            c = s[i]
            if c == " ":
                i += 1
            elif c in "()":
                toks.append(c)
                i += 1
            elif c == '"':
                out = []
                i += 1
                while True:
                    if i >= len(s):
                        raise _Bad("unterminated quoted string")
                    c = s[i]
                    if c == "\\":
                        if i + 1 >= len(s) or s[i + 1] not in '\\"':
                            raise _Bad("bad quoted-special escape")
                        out.append(s[i + 1])
                        i += 2
                    elif c == '"':
                        i += 1
                        break
                    else:
                        out.append(c)
                        i += 1
                toks.append("".join(out).encode("latin-1"))
            else:
                j, depth = i, 0
                while j < len(s):
                    c = s[j]
                    if c == "[":
                        depth += 1
                    elif c == "]":
                        depth -= 1
                    elif depth <= 0 and c in ' ()"{':
                        break
                    j += 1
                toks.append(_Atom(s[i:j]))
                i = j
    return toks


def _nest(toks):
    out, stack = [], []
    for t in toks:
        if t == "(" and not isinstance(t, (_Atom, bytes)):
            stack.append(out)
            out = []
        elif t == ")" and not isinstance(t, (_Atom, bytes)):
            if not stack:
                raise _Bad("unbalanced parentheses")
            inner, out = out, stack.pop()
            out.append(inner)
        else:
            out.append(t)
    if stack:
        raise _Bad("unbalanced parentheses")
    return out


def _text(x):
    """An astring argument as text."""
    if isinstance(x, _Atom):
        return str(x)
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace")
    raise _Bad("string expected")


def _quote(s):
    if isinstance(s, bytes):
        s = s.decode("latin-1")
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return "{%d}\r\n" % len(s) + s.decode("latin-1")


def _nstring(b):
    """NIL, a quoted string or (for CR, LF, 8-bit or long text) a literal."""
    if b is None:
        return "NIL"
    if isinstance(b, str):
        b = b.encode("utf-8")
    if len(b) < 1000 and all(0x20 <= c < 0x7F for c in b):
        return _quote(b)
    return _literal(b)


# ---- messages --

def _split_header(raw):
    """(header incl. its blank line, body, has_blank_line)."""
    if raw.startswith(b"\r\n"):
        return b"\r\n", raw[2:], True
    i = raw.find(b"\r\n\r\n")
    if i < 0:
        return raw, b"", False
    return raw[:i + 4], raw[i + 4:], True


def _fields(header):
    """[(name, raw field bytes incl. CRLF)] of a header block."""
    out = []
    for line in header.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and out:
            out[-1][1] += b"\r\n" + line
        else:
            out.append([line.split(b":", 1)[0].strip().decode("latin-1"), line])
    return [(n, v + b"\r\n") for n, v in out]


def _field(header, name):
    for n, v in _fields(header):
        if n.lower() == name.lower():
            value = v.split(b":", 1)[1] if b":" in v else b""
            return re.sub(rb"\r\n[ \t]", b" ", value).strip().decode("utf-8", "replace")
    return None


def _mime_value(value):
    """A Content-Type/-Disposition value by RFC 2045 5.1 (RFC 2183 2):
    (the value before the parameters, {attribute in lower case: value}).
    Parameter values are tokens or quoted strings (a ";" inside quotes is
    text, a quoted-pair is unescaped); comments are dropped (RFC 822 3.4.3)."""
    toks, i, n = [], 0, len(value)
    while i < n:
        c = value[i]
        if c in " \t\r\n":
            i += 1
        elif c == "(":  # comment, nested, with quoted-pairs
            depth = 0
            while i < n:
                if value[i] == "\\":
                    i += 1
                elif value[i] == "(":
                    depth += 1
                elif value[i] == ")":
                    depth -= 1
                    if depth == 0:
                        i += 1
                        break
                i += 1
        elif c == '"':
            out, i = [], i + 1
            while i < n and value[i] != '"':
                if value[i] == "\\" and i + 1 < n:
                    i += 1
                out.append(value[i])
                i += 1
            toks.append(("q", "".join(out)))
            i += 1
        elif c in ";=":
            toks.append((c, c))
            i += 1
        else:
            j = i
            while j < n and value[j] not in ' \t\r\n();="':
                j += 1
            toks.append(("t", value[i:j]))
            i = j
    groups, cur = [], []
    for t in toks:
        if t[0] == ";":
            groups.append(cur)
            cur = []
        else:
            cur.append(t)
    groups.append(cur)
    main = "".join(t[1] for t in groups[0])
    params = {}
    for g in groups[1:]:
        if len(g) >= 3 and g[0][0] == "t" and g[1][0] == "=":
            params[g[0][1].lower()] = "".join(t[1] for t in g[2:])
    return main, params


def _ctype(header, default=("text", "plain")):
    value = _field(header, "Content-Type")
    if not value:
        return default[0], default[1], ({"charset": "us-ascii"} if default[0] == "text" else {})
    main, params = _mime_value(value)
    t, _, st = main.partition("/")
    if not t or not st:
        return "text", "plain", {"charset": "us-ascii"}
    return t.lower(), st.lower(), params


class _Entity:
    """A MIME entity: its header, body, type, and its parts (multipart) or
    encapsulated message (message/rfc822)."""

    def __init__(self, raw, default=("text", "plain")):
        self.raw = raw
        self.header, self.body, self.has_blank = _split_header(raw)
        self.type, self.subtype, self.params = _ctype(self.header, default)
        self.parts = []
        self.inner = None
        if self.type == "multipart" and self.params.get("boundary"):
            delim = b"--" + self.params["boundary"].encode("latin-1")
            child_default = ("message", "rfc822") if self.subtype == "digest" else ("text", "plain")
            chunks = re.split(rb"(?:^|\r\n)" + re.escape(delim) + rb"(--)?[ \t]*(?:\r\n|$)",
                              self.body)
            # chunks: preamble, end-marker, part, end-marker, part, ...
            i = 1
            while i + 1 < len(chunks):
                closing = chunks[i]
                if closing:
                    break
                self.parts.append(_Entity(chunks[i + 1], child_default))
                i += 2
        elif self.type == "message" and self.subtype == "rfc822":
            self.inner = _Entity(self.body)

    def children(self):
        """Part 1..n below this entity (RFC 3501 6.4.5 part numbering)."""
        if self.parts:
            return self.parts
        if self.inner is not None:
            return self.inner.parts or [self.inner]
        return [self]


def _addresses(header, name):
    value = _field(header, name)
    if value is None:
        return None
    addrs = [a for a in email.utils.getaddresses([value]) if a[1]]
    if not addrs:
        return None
    out = []
    for disp, addr in addrs:
        local, _, host = addr.rpartition("@") if "@" in addr else (addr, "", "")
        out.append("(%s NIL %s %s)" % (_nstring(disp or None), _nstring(local),
                                       _nstring(host or None)))
    return "(" + "".join(out) + ")"


def _envelope(header):
    frm = _addresses(header, "From")
    sender = _addresses(header, "Sender") or frm
    reply = _addresses(header, "Reply-To") or frm
    return "(%s)" % " ".join([
        _nstring(_field(header, "Date")), _nstring(_field(header, "Subject")),
        frm or "NIL", sender or "NIL", reply or "NIL",
        _addresses(header, "To") or "NIL", _addresses(header, "Cc") or "NIL",
        _addresses(header, "Bcc") or "NIL",
        _nstring(_field(header, "In-Reply-To")), _nstring(_field(header, "Message-ID"))])


def _params(params):
    """body-fld-param (RFC 3501 9): NIL or ("NAME" value ...)."""
    if not params:
        return "NIL"
    return "(%s)" % " ".join("%s %s" % (_quote(k.upper()), _nstring(v)) for k, v in params.items())


def _ext_tail(e):
    """body-fld-dsp SP body-fld-lang SP body-fld-loc (RFC 3501 7.4.2, 9) from the
    entity's Content-Disposition (RFC 2183), Content-Language (RFC 3282) and
    Content-Location (RFC 2557)."""
    dsp = _field(e.header, "Content-Disposition")
    if dsp:
        kind, dparams = _mime_value(dsp)
        dsp = "(%s %s)" % (_quote(kind.upper()), _params(dparams)) if kind else "NIL"
    lang = _field(e.header, "Content-Language")
    langs = [x.strip() for x in (lang or "").split(",") if x.strip()]
    lang = "(%s)" % " ".join(_nstring(x) for x in langs) if langs else "NIL"
    return "%s %s %s" % (dsp or "NIL", lang, _nstring(_field(e.header, "Content-Location")))


def _bodystructure(e, ext):
    if e.parts:
        s = "(" + "".join(_bodystructure(p, ext) for p in e.parts) + " " + _quote(e.subtype.upper())
        if ext:
            s += " %s %s" % (_params(e.params), _ext_tail(e))
        return s + ")"
    enc = (_field(e.header, "Content-Transfer-Encoding") or "7BIT").upper()
    s = "(%s %s %s %s %s %s %d" % (
        _quote(e.type.upper()), _quote(e.subtype.upper()), _params(e.params),
        _nstring(_field(e.header, "Content-ID")),
        _nstring(_field(e.header, "Content-Description")), _quote(enc), len(e.body))
    if e.type == "message" and e.subtype == "rfc822" and e.inner is not None:
        s += " %s %s %d" % (_envelope(e.inner.header), _bodystructure(e.inner, ext),
                            e.body.count(b"\n"))
    elif e.type == "text":
        s += " %d" % e.body.count(b"\n")
    if ext:
        s += " %s %s" % (_nstring(_field(e.header, "Content-MD5")), _ext_tail(e))
    return s + ")"


class _Msg:
    def __init__(self, uid, data, flags=(), date=None, modseq=1):
        self.uid = uid
        self.data = data
        self.flags = set(flags)
        self.date = date if date is not None else time.time()
        self.modseq = modseq
        self.recent_owner = None  # the session this message is \Recent in
        self._entity = None

    @property
    def entity(self):
        if self._entity is None:
            self._entity = _Entity(self.data)
        return self._entity


class _Mailbox:
    _next_validity = [int(time.time()) % 100000000]

    def __init__(self, noselect=False):
        _Mailbox._next_validity[0] += 1
        self.uidvalidity = _Mailbox._next_validity[0]
        self.uidnext = 1
        self.msgs = []
        self.noselect = noselect
        self.highestmodseq = 1

    def add(self, data, flags=(), date=None):
        self.highestmodseq += 1
        m = _Msg(self.uidnext, data, flags, date, self.highestmodseq)
        self.uidnext += 1
        self.msgs.append(m)
        return m

    def touch(self, m):
        self.highestmodseq += 1
        m.modseq = self.highestmodseq


def _imap_date(t):
    return time.strftime("%d-%b-%Y %H:%M:%S +0000", time.gmtime(t))


def _parse_imap_date(s):
    """date-time "dd-Mon-yyyy hh:mm:ss +zzzz" or date dd-Mon-yyyy."""
    s = s.strip()
    m = re.match(r"^\s?(\d{1,2})-([A-Za-z]{3})-(\d{4})"
                 r"(?: (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d))?$", s)
    if not m:
        raise _Bad("bad date")
    months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    if m.group(2).lower() not in months:
        raise _Bad("bad date")
    tm = (int(m.group(3)), months.index(m.group(2).lower()) + 1, int(m.group(1)),
          int(m.group(4) or 0), int(m.group(5) or 0), int(m.group(6) or 0), 0, 0, 0)
    t = __import__("calendar").timegm(tm)
    if m.group(7):
        off = (int(m.group(8)) * 60 + int(m.group(9))) * 60
        t -= off if m.group(7) == "+" else -off
    return t


def _imap_seed():
    inbox = _Mailbox()
    for _, data in _pop3_seed():
        inbox.add(data)
    # a multipart message, for BODYSTRUCTURE and part fetches
    inbox.add(b"From: Bob <bob@variants.test>\r\nTo: alice@variants.test\r\n"
              b"Subject: variants multipart\r\nMIME-Version: 1.0\r\n"
              b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
              b"preamble\r\n--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
              b"part one\r\n--b1\r\nContent-Type: application/octet-stream\r\n"
              b"Content-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--b1--\r\n")
    for m in inbox.msgs:
        m.flags.add("\\Seen")
    return {"INBOX": inbox}


def _match(pattern, name):
    """LIST wildcards: "*" matches anything, "%" anything but the delimiter."""
    rx = "".join(".*" if c == "*" else "[^%s]*" % re.escape(IMAP_DELIM) if c == "%"
                 else re.escape(c) for c in pattern)
    return re.fullmatch(rx, name, re.S) is not None


class _ImapConn(_Conn):
    max_line = IMAP_MAX_LINE
    _ids = iter(range(1, 1 << 62))

    def __init__(self, server, sock):
        super().__init__(server, sock)
        self.state = "nonauth"
        self.selected = None      # mailbox name
        self.readonly = False
        self.view = []            # the UIDs this session knows, in sequence order
        self.known = {}           # uid -> frozenset(flags) as last told
        self.condstore = False
        self.sid = next(self._ids)
        self.tag = "*"

    def cleanup(self):
        pass

    # -- output --
    def send(self, text):
        # Response text holds message bytes as latin-1 code points (_literal);
        # only text with other characters is UTF-8.
        if isinstance(text, str):
            try:
                text = text.encode("latin-1")
            except UnicodeEncodeError:
                text = text.encode("utf-8")
        _Conn.send(self, text)

    def untagged(self, text):
        self.send("* " + text)

    def caps(self):
        caps = ["IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE", "NAMESPACE",
                "UIDPLUS", "MOVE", "CONDSTORE", "CHILDREN", "UNSELECT"]
        if not self.tls:
            caps.append("STARTTLS")
        caps.append("AUTH=PLAIN")
        return " ".join(caps)

    # -- input --
    def read_command(self):
        """A whole command: its line segments and literals."""
        segs = []
        line = self.read_line()
        while True:
            m = re.search(rb"\{(\d{1,20})(\+?)\}$", line)
            if not m:
                segs.append(line)
                return segs
            segs.append(line[:m.start()])
            n, nonsync = int(m.group(1)), bool(m.group(2))
            limit = LITERAL_MAX if self.state != "nonauth" else LITERAL_MAX_PREAUTH
            if n > limit:
                tag = segs[0].split(b" ", 1)[0].decode("latin-1") or "*"
                if nonsync:
                    # The octets are on their way and cannot be told apart
                    # from commands (RFC 7888 4): BYE (RFC 3501 7.1.5), close.
                    self.untagged("BYE [TOOBIG] literal too large")
                    raise _Close
                # Refused: no continuation request (RFC 3501 7.5), so the client
                # does not send the octets; the command ends with a tagged BAD.
                raise _Bad((tag, "literal too large"))
            if not nonsync:
                self.send("+ Ready for literal data")
            segs.append(_Literal(self.read_exact(n)))
            line = self.read_line()

    def run(self):
        self.untagged("OK [CAPABILITY %s] mailspec variants IMAP4rev1 server ready" % self.caps())
        while True:
            self.tag = "*"
            try:
                segs = self.read_command()
            except _TooLong:
                # RFC 9051 4 leaves line length to the server; a line this long
                # ends the session.
                self.untagged("BYE line too long")
                raise _Close
            except _Bad as e:
                tag, text = e.args[0]
                self.send("%s BAD %s" % (tag, text))
                continue
            try:
                items = _nest(_tokenize(segs))
            except _Bad as e:
                first = segs[0].split(b" ", 1)[0].decode("latin-1") or "*"
                self.send("%s BAD %s" % (first, e.args[0]))
                continue
            if not items or not isinstance(items[0], _Atom) or \
                    not re.fullmatch(r"[!#$&'*,./0-9:;<=>?@A-Z^_`a-z|~\[\]-]+", items[0]) or \
                    items[0] == "*" or "+" in items[0]:
                self.send("* BAD invalid tag")
                continue
            self.tag = str(items[0])
            if len(items) < 2 or not isinstance(items[1], _Atom):
                self.send("%s BAD missing command" % self.tag)
                continue
            name, args = items[1].upper(), items[2:]
            handler = getattr(self, "cmd_" + name, None)
            if handler is None:
                self.send("%s BAD unknown command" % self.tag)
                continue
            try:
                with self.server.lock:
                    result = handler(args)
                if result != _NoReply:
                    self.send("%s OK %s" % (self.tag, result or (name + " completed")))
            except _Bad as e:
                self.send("%s BAD %s" % (self.tag, e.args[0]))
            except _No as e:
                self.send("%s NO %s" % (self.tag, e.args[0]))

    # -- state helpers --
    def need(self, *states):
        if self.state not in states:
            raise _Bad("command not valid in this state")

    def mailbox_name(self, x):
        name = _text(x)
        if name.upper() == "INBOX":
            return "INBOX"
        return name

    def box(self, name, must=True):
        b = self.server.boxes.get(name)
        if b is None and must:
            raise _No("[NONEXISTENT] no such mailbox")
        return b

    def inferiors(self, name):
        return [n for n in self.server.boxes if n.startswith(name + IMAP_DELIM)]

    def sync(self, expunges=True):
        """Tell the session about changes: EXPUNGE (not during FETCH, STORE,
        SEARCH: RFC 3501 7.4.1), new messages (EXISTS, RECENT), flags."""
        if self.selected is None:
            return
        b = self.server.boxes.get(self.selected)
        msgs = {m.uid: m for m in (b.msgs if b else [])}
        if expunges:
            i = 0
            while i < len(self.view):
                if self.view[i] not in msgs:
                    self.untagged("%d EXPUNGE" % (i + 1))
                    self.known.pop(self.view.pop(i), None)
                else:
                    i += 1
        new = [m for m in (b.msgs if b else []) if m.uid not in self.known]
        if new:
            for m in new:
                self.view.append(m.uid)
                self.known[m.uid] = frozenset(m.flags)
                if m.recent_owner is None and not self.readonly:
                    m.recent_owner = self.sid
            self.untagged("%d EXISTS" % len(self.view))
            self.untagged("%d RECENT" % sum(1 for u in self.view if u in msgs and
                                             self.is_recent(msgs[u])))
        for i, uid in enumerate(self.view):
            m = msgs.get(uid)
            if m is not None and frozenset(m.flags) != self.known[uid]:
                self.known[uid] = frozenset(m.flags)
                self.untagged("%d FETCH (FLAGS (%s)%s)" % (i + 1, self.flag_list(m),
                              " MODSEQ (%d)" % m.modseq if self.condstore else ""))

    def is_recent(self, m):
        # EXAMINE does not take \Recent away (RFC 3501 6.3.2) but shows it
        return m.recent_owner == self.sid or (m.recent_owner is None and self.readonly)

    def flag_list(self, m):
        flags = sorted(m.flags)
        if self.is_recent(m):
            flags.append("\\Recent")
        return " ".join(flags)

    def seqset(self, spec, uid):
        """The messages (index, msg) of a sequence set."""
        b = self.box(self.selected)
        msgs = {m.uid: m for m in b.msgs}
        live = [(i, msgs[u]) for i, u in enumerate(self.view) if u in msgs]
        if not isinstance(spec, _Atom) or not re.fullmatch(r"[0-9*:,]+", spec):
            raise _Bad("invalid sequence set")
        if uid:
            top = max((m.uid for _, m in live), default=0)
        else:
            top = len(self.view)
        chosen = set()
        for part in spec.split(","):
            ends = part.split(":")
            if len(ends) > 2 or not all(ends):
                raise _Bad("invalid sequence set")
            try:
                nums = [top if e == "*" else int(e) for e in ends]
            except ValueError:
                raise _Bad("invalid sequence set")
            if any(n == 0 for n in nums if n != top) or (0 in nums and top != 0):
                raise _Bad("invalid sequence set")
            lo, hi = min(nums), max(nums)
            if uid:
                chosen.update(m.uid for _, m in live if lo <= m.uid <= hi)
            else:
                if hi > len(self.view) or lo < 1:
                    raise _Bad("invalid message sequence number")
                chosen.update(self.view[k - 1] for k in range(lo, hi + 1))
        return [(i, m) for i, m in live if m.uid in chosen]

    # -- any state --
    def cmd_CAPABILITY(self, args):
        if args:
            raise _Bad("no arguments allowed")
        self.untagged("CAPABILITY " + self.caps())

    def cmd_NOOP(self, args):
        self.sync()

    def cmd_CHECK(self, args):
        self.need("selected")
        self.sync()

    def cmd_LOGOUT(self, args):
        # RFC 3501 6.1.3: "The server MUST send a BYE untagged response before
        # the (tagged) OK response, and then close the network connection."
        self.untagged("BYE %s IMAP4rev1 server logging out" % DOMAIN)
        self.send("%s OK LOGOUT completed" % self.tag)
        raise _Close

    def cmd_ID(self, args):
        # RFC 2971 3.1
        self.untagged('ID ("name" "mailspec-variants" "version" "1")')

    def cmd_ENABLE(self, args):
        # RFC 5161 3.1: "The ENABLE command is only valid in the authenticated
        # state"
        self.need("auth")
        if not args:
            raise _Bad("ENABLE needs capability names")
        enabled = []
        for a in args:
            if _text(a).upper() == "CONDSTORE":
                if not self.condstore:
                    enabled.append("CONDSTORE")
                self.condstore = True
        self.untagged("ENABLED" + "".join(" " + e for e in enabled))

    # -- not authenticated --
    def cmd_STARTTLS(self, args):
        # RFC 3501 6.2.1: BAD - "command unknown or arguments invalid"; STARTTLS
        # inside TLS is not available (not in CAPABILITY).
        self.need("nonauth")
        if self.tls or args:
            raise _Bad("TLS already active" if self.tls else "no arguments allowed")
        self.send("%s OK Begin TLS negotiation now" % self.tag)
        self.start_tls()
        self.tag = None
        return _NoReply

    def cmd_LOGIN(self, args):
        self.need("nonauth")
        if len(args) != 2:
            raise _Bad("Syntax: LOGIN user password")
        if _text(args[0]) != self.server.user or _text(args[1]) != self.server.password:
            # RFC 5530 3: AUTHENTICATIONFAILED
            raise _No("[AUTHENTICATIONFAILED] Authentication failed.")
        self.state = "auth"
        return "[CAPABILITY %s] Logged in" % self.caps()

    def cmd_AUTHENTICATE(self, args):
        self.need("nonauth")
        if not args or len(args) > 2:
            raise _Bad("Syntax: AUTHENTICATE mechanism [initial-response]")
        if _text(args[0]).upper() != "PLAIN":
            raise _No("unsupported authentication mechanism")
        if len(args) == 2:
            resp = _text(args[1])  # RFC 4959 (SASL-IR)
            if resp == "=":
                resp = ""
        else:
            # RFC 3501 7.5: continue-req = "+" SP (resp-text / base64) CRLF; an
            # empty base64 challenge.
            self.send("+ ")
            resp = self.read_line().decode("ascii", "replace")
            if resp == "*":
                # RFC 3501 6.2.2: "If the server receives such a response, it
                # MUST reject the AUTHENTICATE command by sending a tagged BAD
                # response."
                raise _Bad("AUTHENTICATE cancelled")
        ok = _check_plain(self.server, resp)
        if ok is None:
            raise _Bad("invalid base64 response")
        if not ok:
            raise _No("[AUTHENTICATIONFAILED] Authentication failed.")
        self.state = "auth"
        return "[CAPABILITY %s] Logged in" % self.caps()

    def read_line_unlocked(self):
        """Read a client line without holding the server lock."""
        self.server.lock.release()
        try:
            return self.read_line()
        finally:
            self.server.lock.acquire()

    # -- authenticated --
    def cmd_NAMESPACE(self, args):
        self.need("auth", "selected")
        # VARIANT: all personal mailboxes are under "INBOX." (Cyrus and Courier
        # style). RFC 2342 5 (ABNF):
        #   Namespace = nil / "(" 1*( "(" string SP (<"> QUOTED_CHAR <"> / nil)
        #               *(Namespace_Response_Extension) ")" ) ")"
        # and the prefix is the server's choice; RFC 2342 5 shows this very
        # response among its examples: * NAMESPACE (("INBOX." ".")) NIL NIL
        self.untagged('NAMESPACE ((%s %s)) NIL NIL' % (_quote(IMAP_PREFIX), _quote(IMAP_DELIM)))

    def select(self, args, readonly):
        self.need("auth", "selected")
        if not args or len(args) > 2:
            raise _Bad("Syntax: SELECT mailbox [(CONDSTORE)]")
        if len(args) == 2:
            if not isinstance(args[1], list) or [str(a).upper() for a in args[1]] != ["CONDSTORE"]:
                raise _Bad("unknown SELECT parameter")
            self.condstore = True  # RFC 7162 3.2: a CONDSTORE enabling command
        # RFC 3501 6.3.1: "If the client is permitted to modify the mailbox ...
        # a SELECT command automatically deselects any currently selected
        # mailbox before attempting the new selection."
        self.selected, self.view, self.known = None, [], {}
        self.state = "auth"
        name = self.mailbox_name(args[0])
        b = self.box(name)
        if b.noselect:
            raise _No("[CANNOT] mailbox is not selectable")
        self.selected, self.readonly, self.state = name, readonly, "selected"
        recent = 0
        for m in b.msgs:
            self.view.append(m.uid)
            self.known[m.uid] = frozenset(m.flags)
            if m.recent_owner is None and not readonly:
                m.recent_owner = self.sid
            if m.recent_owner in (self.sid, None):
                recent += 1
        unseen = [i + 1 for i, m in enumerate(b.msgs) if "\\Seen" not in m.flags]
        keywords = sorted({f for m in b.msgs for f in m.flags if not f.startswith("\\")})
        flags = " ".join(list(SYSTEM_FLAGS) + keywords)
        # VARIANT: the untagged responses in another order than Dovecot
        # (UIDVALIDITY first, EXISTS last), with RECENT, UNSEEN and HIGHESTMODSEQ.
        # RFC 3501 6.3.1 lists the REQUIRED responses (FLAGS, EXISTS, RECENT,
        # OK [UNSEEN], OK [PERMANENTFLAGS], OK [UIDNEXT], OK [UIDVALIDITY]) with
        # no order, and 2.2.2: "The client MUST be prepared to accept any
        # response at all times."
        self.untagged("OK [UIDVALIDITY %d] UIDs valid" % b.uidvalidity)
        # RFC 7162 3.1.2.1: "A server supporting the persistent storage of
        # mod-sequences for the mailbox MUST send the OK untagged response
        # including HIGHESTMODSEQ response code with every successful SELECT or
        # EXAMINE command"
        self.untagged("OK [HIGHESTMODSEQ %d] Highest" % b.highestmodseq)
        self.untagged("FLAGS (%s)" % flags)
        # RFC 3501 7.1: PERMANENTFLAGS; "\*" = new keywords may be created.
        self.untagged("OK [PERMANENTFLAGS (%s)] %s" % (
            "" if readonly else flags + " \\*", "No permanent flags permitted" if readonly
            else "Flags permitted"))
        self.untagged("OK [UIDNEXT %d] Predicted next UID" % b.uidnext)
        if unseen:
            self.untagged("OK [UNSEEN %d] First unseen" % unseen[0])
        self.untagged("%d RECENT" % recent)
        self.untagged("%d EXISTS" % len(b.msgs))
        # RFC 3501 6.3.1: "the server SHOULD prefix the text of the tagged OK
        # response with the "[READ-WRITE]" response code"; 6.3.2: the tagged OK
        # to EXAMINE "MUST begin with the "[READ-ONLY]" response code".
        return "[READ-ONLY] EXAMINE completed" if readonly else "[READ-WRITE] SELECT completed"

    def cmd_SELECT(self, args):
        return self.select(args, False)

    def cmd_EXAMINE(self, args):
        return self.select(args, True)

    def check_name(self, name):
        if name == "INBOX" or not name.startswith(IMAP_PREFIX) or name == IMAP_PREFIX or \
                name.endswith(IMAP_DELIM) or (IMAP_DELIM * 2) in name:
            return False
        return all(0x20 <= ord(c) < 0x7F for c in name)

    def cmd_CREATE(self, args):
        self.need("auth", "selected")
        if len(args) != 1:
            raise _Bad("Syntax: CREATE mailbox")
        name = self.mailbox_name(args[0])
        if name.endswith(IMAP_DELIM):
            # RFC 3501 6.3.3: a trailing delimiter only says inferiors will be
            # created: the name without it is created.
            name = name[:-1]
        if name == "INBOX":
            # RFC 3501 6.3.3: "It is an error to attempt to create INBOX"
            raise _No("[ALREADYEXISTS] INBOX always exists")
        b = self.server.boxes.get(name)
        if b is not None and not b.noselect:
            raise _No("[ALREADYEXISTS] mailbox already exists")
        if not self.check_name(name):
            raise _No("[CANNOT] personal mailboxes are created under %s" % IMAP_PREFIX)
        # RFC 3501 6.3.3: "the server SHOULD create any superior hierarchical
        # names that are needed for the CREATE command to be successfully
        # completed."
        parts = name.split(IMAP_DELIM)
        for k in range(2, len(parts)):
            sup = IMAP_DELIM.join(parts[:k])
            if sup not in self.server.boxes:
                self.server.boxes[sup] = _Mailbox()
        self.server.boxes[name] = _Mailbox()

    def cmd_DELETE(self, args):
        self.need("auth", "selected")
        if len(args) != 1:
            raise _Bad("Syntax: DELETE mailbox")
        name = self.mailbox_name(args[0])
        if name == "INBOX":
            # RFC 3501 6.3.4: "It is an error to attempt to delete INBOX or a
            # mailbox name that does not exist."
            raise _No("[CANNOT] INBOX cannot be deleted")
        b = self.box(name)
        if self.inferiors(name):
            # RFC 3501 6.3.4: with inferiors the messages go and the name becomes
            # \Noselect; "It is an error to attempt to delete a name that has
            # inferior hierarchical names and also has the \Noselect mailbox name
            # attribute"
            if b.noselect:
                raise _No("[INUSE] mailbox has inferiors")
            b.msgs = []
            b.noselect = True
        else:
            del self.server.boxes[name]
        if self.selected == name:
            self.selected, self.view, self.known, self.state = None, [], {}, "auth"

    def cmd_RENAME(self, args):
        self.need("auth", "selected")
        if len(args) != 2:
            raise _Bad("Syntax: RENAME from to")
        old, new = self.mailbox_name(args[0]), self.mailbox_name(args[1])
        b = self.box(old)
        if new in self.server.boxes:
            # RFC 3501 6.3.5: "It is an error to attempt to rename from a mailbox
            # name that does not exist or to a mailbox name that already exists."
            raise _No("[ALREADYEXISTS] target mailbox exists")
        if not self.check_name(new):
            raise _No("[CANNOT] personal mailboxes are under %s" % IMAP_PREFIX)
        parts = new.split(IMAP_DELIM)
        for k in range(2, len(parts)):
            sup = IMAP_DELIM.join(parts[:k])
            if sup not in self.server.boxes:
                self.server.boxes[sup] = _Mailbox()
        if old == "INBOX":
            # RFC 3501 6.3.5: renaming INBOX moves its messages to the new name
            # and leaves INBOX empty; its inferiors are not renamed.
            nb = _Mailbox()
            for m in b.msgs:
                nb.add(m.data, m.flags, m.date)
            b.msgs = []
            self.server.boxes[new] = nb
        else:
            for n in [old] + self.inferiors(old):
                self.server.boxes[new + n[len(old):]] = self.server.boxes.pop(n)
            if self.selected == old:
                self.selected, self.view, self.known, self.state = None, [], {}, "auth"

    def cmd_SUBSCRIBE(self, args):
        self.need("auth", "selected")
        if len(args) != 1:
            raise _Bad("Syntax: SUBSCRIBE mailbox")
        name = self.mailbox_name(args[0])
        self.box(name)
        self.server.subscribed.add(name)

    def cmd_UNSUBSCRIBE(self, args):
        self.need("auth", "selected")
        if len(args) != 1:
            raise _Bad("Syntax: UNSUBSCRIBE mailbox")
        name = self.mailbox_name(args[0])
        if name not in self.server.subscribed:
            raise _No("[NONEXISTENT] not subscribed")
        self.server.subscribed.discard(name)

    def list_name(self, name, literal):
        # VARIANT: the mailbox name of LIST/LSUB/STATUS responses as a string.
        # RFC 3501 9:  mailbox-list = "(" [mbx-list-flags] ")" SP
        #                 (DQUOTE QUOTED-CHAR DQUOTE / nil) SP mailbox
        #              mailbox = "INBOX" / astring
        #              astring = 1*ASTRING-CHAR / string
        #              string  = quoted / literal
        # and 4.3: "A string is in one of two forms: either literal or quoted
        # string. The literal form is the general form of string."
        return _literal(name) if literal else _quote(name)

    def cmd_LIST(self, args):
        self.need("auth", "selected")
        if len(args) != 2:
            raise _Bad("Syntax: LIST reference mailbox")
        ref, pat = _text(args[0]), _text(args[1])
        if pat == "":
            # RFC 3501 6.3.8: an empty mailbox name asks for the hierarchy
            # delimiter and the root name of the reference.
            root = ref.split(IMAP_DELIM)[0] + IMAP_DELIM if IMAP_DELIM in ref else ""
            self.untagged('LIST (\\Noselect) %s %s' % (_quote(IMAP_DELIM), _quote(root)))
            return
        full = ref + pat
        if full.upper() == "INBOX":
            full = "INBOX"
        elif full[:6].upper() == "INBOX" + IMAP_DELIM and not any(c in full[:6] for c in "*%"):
            full = "INBOX" + full[5:]
        names = set(self.server.boxes)
        # the superiors of existing names are part of the hierarchy
        for n in list(names):
            parts = n.split(IMAP_DELIM)
            names.update(IMAP_DELIM.join(parts[:k]) for k in range(1, len(parts)))
        for name in sorted(names):
            if not _match(full, name):
                continue
            b = self.server.boxes.get(name)
            attrs = []
            if b is None or b.noselect:
                attrs.append("\\Noselect")
            # RFC 3348: \HasChildren / \HasNoChildren
            attrs.append("\\HasChildren" if self.inferiors(name) else "\\HasNoChildren")
            # names two levels deep or more as literals, the others quoted
            self.untagged("LIST (%s) %s %s" % (" ".join(attrs), _quote(IMAP_DELIM),
                                                self.list_name(name, name.count(IMAP_DELIM) >= 2)))

    def cmd_LSUB(self, args):
        self.need("auth", "selected")
        if len(args) != 2:
            raise _Bad("Syntax: LSUB reference mailbox")
        full = _text(args[0]) + _text(args[1])
        if full.upper() == "INBOX":
            full = "INBOX"
        for name in sorted(self.server.subscribed):
            if _match(full, name):
                b = self.server.boxes.get(name)
                attrs = "\\Noselect" if b is None or b.noselect else ""
                # LSUB names always as literals
                self.untagged("LSUB (%s) %s %s" % (attrs, _quote(IMAP_DELIM),
                                                    self.list_name(name, True)))

    def cmd_STATUS(self, args):
        self.need("auth", "selected")
        if len(args) != 2 or not isinstance(args[1], list) or not args[1]:
            raise _Bad("Syntax: STATUS mailbox (items)")
        name = self.mailbox_name(args[0])
        b = self.box(name)
        if b.noselect:
            raise _No("[CANNOT] mailbox is not selectable")
        want = set()
        for a in args[1]:
            a = _text(a).upper()
            if a not in ("MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN",
                         "HIGHESTMODSEQ"):
                raise _Bad("unknown STATUS item " + a)
            want.add(a)
        if "HIGHESTMODSEQ" in want:
            self.condstore = True  # RFC 7162 3.1: a CONDSTORE enabling command
        values = {
            "MESSAGES": len(b.msgs),
            "RECENT": sum(1 for m in b.msgs if m.recent_owner in (None, self.sid)),
            "UIDNEXT": b.uidnext, "UIDVALIDITY": b.uidvalidity,
            "UNSEEN": sum(1 for m in b.msgs if "\\Seen" not in m.flags),
            "HIGHESTMODSEQ": b.highestmodseq}
        # the items in the server's order, not the request's: RFC 3501 9
        # status-att-list = status-att SP number *(SP status-att SP number)
        order = ["UIDVALIDITY", "UIDNEXT", "UNSEEN", "RECENT", "MESSAGES", "HIGHESTMODSEQ"]
        self.untagged("STATUS %s (%s)" % (self.list_name(name, False), " ".join(
            "%s %d" % (k, values[k]) for k in order if k in want)))

    def cmd_APPEND(self, args):
        self.need("auth", "selected")
        if len(args) < 2:
            raise _Bad("Syntax: APPEND mailbox [(flags)] [date-time] literal")
        name = self.mailbox_name(args[0])
        rest = list(args[1:])
        data = rest.pop()
        if not isinstance(data, bytes) or isinstance(data, _Atom):
            raise _Bad("message literal expected")
        flags, date = set(), None
        if rest and isinstance(rest[0], list):
            for f in rest.pop(0):
                f = _text(f)
                if f.lower() == "\\recent" or (f.startswith("\\") and f.capitalize() not in
                                                 {s.capitalize() for s in SYSTEM_FLAGS}):
                    raise _Bad("invalid flag " + f)
                flags.add(self.canon_flag(f))
        if rest:
            if not isinstance(rest[0], bytes):
                raise _Bad("date-time must be a quoted string")
            date = _parse_imap_date(rest.pop(0).decode("latin-1"))
        if rest:
            raise _Bad("too many arguments")
        b = self.server.boxes.get(name)
        if b is None or b.noselect:
            # RFC 3501 6.3.11: TRYCREATE when the mailbox does not exist
            raise _No("[TRYCREATE] no such mailbox")
        m = b.add(bytes(data), flags, date)
        if self.selected == name:
            # RFC 3501 6.3.11: "If the mailbox is currently selected, the normal
            # new message actions SHOULD occur."
            self.sync(expunges=False)
        # RFC 4315 3 (UIDPLUS)
        return "[APPENDUID %d %d] APPEND completed" % (b.uidvalidity, m.uid)

    @staticmethod
    def canon_flag(f):
        for s in SYSTEM_FLAGS:
            if f.lower() == s.lower():
                return s
        return f

    # -- selected --
    def cmd_UNSELECT(self, args):
        self.need("selected")
        self.selected, self.view, self.known, self.state = None, [], {}, "auth"

    def cmd_CLOSE(self, args):
        self.need("selected")
        # RFC 3501 6.4.2: removes \Deleted messages when read-write; "No untagged
        # EXPUNGE responses are sent."
        b = self.server.boxes.get(self.selected)
        if b is not None and not self.readonly:
            b.msgs = [m for m in b.msgs if "\\Deleted" not in m.flags]
        self.selected, self.view, self.known, self.state = None, [], {}, "auth"

    def expunge(self, uids=None):
        b = self.box(self.selected)
        if self.readonly:
            raise _No("[READ-ONLY] mailbox is read-only")
        gone = {m.uid for m in b.msgs if "\\Deleted" in m.flags and
                (uids is None or m.uid in uids)}
        b.msgs = [m for m in b.msgs if m.uid not in gone]
        if gone:
            b.highestmodseq += 1
        self.sync()

    def cmd_EXPUNGE(self, args):
        self.need("selected")
        self.expunge()

    def cmd_IDLE(self, args):
        self.need("auth", "selected")
        # RFC 2177 3: continuation request, untagged updates, DONE ends it.
        self.send("+ idling")
        self.sync()
        line = self.read_line_unlocked()
        if line.upper() != b"DONE":
            raise _Bad("expected DONE")
        self.sync()
        return "IDLE terminated"

    # -- FETCH --
    def fetch_items(self, spec):
        macros = {"ALL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"],
                  "FAST": ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
                  "FULL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"]}
        if isinstance(spec, _Atom) and spec.upper() in macros:
            return macros[spec.upper()]
        items = spec if isinstance(spec, list) else [spec]
        out = []
        for it in items:
            if not isinstance(it, _Atom):
                raise _Bad("invalid fetch attribute")
            u = it.upper()
            if u in ("FLAGS", "UID", "RFC822.SIZE", "INTERNALDATE", "ENVELOPE", "BODY",
                     "BODYSTRUCTURE", "RFC822", "RFC822.HEADER", "RFC822.TEXT", "MODSEQ"):
                out.append(u)
            elif re.fullmatch(r"BODY(\.PEEK)?\[.*\](<\d+\.\d+>)?", u, re.S):
                out.append(str(it))
            else:
                raise _Bad("invalid fetch attribute " + it)
        return out

    def section(self, m, spec):
        """(bytes, name for the response) of BODY[spec]."""
        mt = re.fullmatch(r"((?:[1-9]\d*\.)*[1-9]\d*)?\.?(.*)", spec, re.S)
        path = [int(p) for p in mt.group(1).split(".")] if mt.group(1) else []
        rest = mt.group(2)
        e = m.entity
        for n in path:
            kids = e.children()
            if n > len(kids):
                return b"", spec  # a part that does not exist: empty (RFC 3501 6.4.5)
            e = kids[n - 1]
        words = rest.split(" ", 1)
        kw = words[0].upper()
        target = e if not path else (e.inner if e.inner is not None else None)
        if kw == "":
            if not path:
                return m.data, ""
            return e.body, mt.group(1)
        prefix = mt.group(1) + "." if mt.group(1) else ""
        if kw == "MIME":
            if not path:
                raise _Bad("MIME needs a part number")
            return e.header, prefix + "MIME"
        if target is None:
            return b"", prefix + rest  # HEADER/TEXT of a part that is no message
        if kw == "TEXT":
            return target.body, prefix + "TEXT"
        if kw == "HEADER":
            return target.header, prefix + "HEADER"
        if kw in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
            if len(words) != 2:
                raise _Bad("header list expected")
            toks = _nest(_tokenize([words[1].encode("latin-1")]))
            if len(toks) != 1 or not isinstance(toks[0], list) or not toks[0]:
                raise _Bad("header list expected")
            names = [_text(t) for t in toks[0]]
            low = {n.lower() for n in names}
            keep = [v for n, v in _fields(target.header)
                    if (n.lower() in low) == (kw == "HEADER.FIELDS")]
            # VARIANT: no blank line for a message that has none. RFC 3501 6.4.5:
            # "Subsetting does not exclude the [RFC-2822] delimiting blank line
            # between the header and the body; the blank line is included in all
            # header fetches, except in the case of a message which has no body
            # and no blank line." (RFC 9051 6.4.5 keeps the sentence.)
            data = b"".join(keep) + (b"\r\n" if target.has_blank else b"")
            # VARIANT: the header-list with quoted names. RFC 3501 9:
            #   header-list = "(" header-fld-name *(SP header-fld-name) ")"
            #   header-fld-name = astring
            return data, "%s%s (%s)" % (prefix, kw, " ".join(_quote(n) for n in names))
        raise _Bad("invalid section " + spec)

    def fetch_one(self, i, m, items, uid_cmd, changedsince=None):
        set_seen = False
        parts = []
        names = list(items)
        if uid_cmd and "UID" not in names:
            # RFC 3501 6.4.8: UID FETCH responses include the UID.
            names.insert(0, "UID")
        if (changedsince is not None or self.condstore) and "MODSEQ" not in names and \
                changedsince is not None:
            names.append("MODSEQ")
        for it in names:
            u = it.upper()
            if u == "FLAGS":
                continue  # after the seen flag is known
            if u == "UID":
                parts.append("UID %d" % m.uid)
            elif u == "RFC822.SIZE":
                parts.append("RFC822.SIZE %d" % len(m.data))
            elif u == "INTERNALDATE":
                parts.append('INTERNALDATE "%s"' % _imap_date(m.date))
            elif u == "ENVELOPE":
                parts.append("ENVELOPE " + _envelope(m.entity.header))
            elif u == "BODY":
                parts.append("BODY " + _bodystructure(m.entity, False))
            elif u == "BODYSTRUCTURE":
                parts.append("BODYSTRUCTURE " + _bodystructure(m.entity, True))
            elif u == "MODSEQ":
                self.condstore = True
                parts.append("MODSEQ (%d)" % m.modseq)
            elif u in ("RFC822", "RFC822.HEADER", "RFC822.TEXT"):
                e = m.entity
                data = {"RFC822": m.data, "RFC822.HEADER": e.header, "RFC822.TEXT": e.body}[u]
                parts.append("%s %s" % (u, _literal(data)))
                set_seen |= u != "RFC822.HEADER"
            else:
                mt = re.fullmatch(r"BODY(\.PEEK)?\[(.*)\](?:<(\d+)\.(\d+)>)?", it, re.S | re.I)
                data, name = self.section(m, mt.group(2))
                origin = ""
                if mt.group(3) is not None:
                    start, count = int(mt.group(3)), int(mt.group(4))
                    data = data[start:start + count]
                    origin = "<%d>" % start
                parts.append("BODY[%s]%s %s" % (name, origin, _literal(data)))
                set_seen |= mt.group(1) is None
        if set_seen and not self.readonly and "\\Seen" not in m.flags:
            # RFC 3501 6.4.5: "The \Seen flag is implicitly set; if this causes
            # the flags to change, they SHOULD be included as part of the FETCH
            # responses."
            m.flags.add("\\Seen")
            self.server.boxes[self.selected].touch(m)
            if "FLAGS" not in [n.upper() for n in names]:
                names.append("FLAGS")
        if "FLAGS" in [n.upper() for n in names]:
            parts.append("FLAGS (%s)" % self.flag_list(m))
            self.known[m.uid] = frozenset(m.flags)
        self.send_fetch("%d FETCH (%s)" % (i + 1, " ".join(parts)))

    def send_fetch(self, text):
        # responses with literals hold CRLFs already
        self.send("* " + text)

    def fetch(self, args, uid_cmd):
        self.need("selected")
        if len(args) not in (2, 3):
            raise _Bad("Syntax: FETCH set items [(CHANGEDSINCE n)]")
        msgs = self.seqset(args[0], uid_cmd)
        items = self.fetch_items(args[1])
        changedsince = None
        if len(args) == 3:
            mod = args[2]
            if not isinstance(mod, list) or len(mod) != 2 or str(mod[0]).upper() != "CHANGEDSINCE" \
                    or not str(mod[1]).isdigit():
                raise _Bad("unknown FETCH modifier")
            changedsince = int(mod[1])
            self.condstore = True  # RFC 7162 3.1
        for i, m in msgs:
            if changedsince is not None and m.modseq <= changedsince:
                continue
            self.fetch_one(i, m, items, uid_cmd, changedsince)
        self.sync(expunges=False)

    def cmd_FETCH(self, args):
        return self.fetch(args, False)

    # -- STORE --
    def store(self, args, uid_cmd):
        self.need("selected")
        unchanged = None
        if len(args) >= 2 and isinstance(args[1], list):
            mod = args[1]
            if len(mod) != 2 or str(mod[0]).upper() != "UNCHANGEDSINCE" or \
                    not str(mod[1]).isdigit():
                raise _Bad("unknown STORE modifier")
            unchanged = int(mod[1])
            self.condstore = True  # RFC 7162 3.1
            args = [args[0]] + args[2:]
        if len(args) < 3 or not isinstance(args[1], _Atom):
            raise _Bad("Syntax: STORE set (+|-)FLAGS[.SILENT] flags")
        op = args[1].upper()
        mt = re.fullmatch(r"([+-]?)FLAGS(\.SILENT)?", op)
        if not mt:
            raise _Bad("invalid STORE item " + args[1])
        flag_args = args[2] if len(args) == 3 and isinstance(args[2], list) else args[2:]
        flags = set()
        for f in flag_args:
            f = _text(f) if not isinstance(f, list) else None
            if f is None or f.lower() == "\\recent" or (
                    f.startswith("\\") and f.lower() not in {s.lower() for s in SYSTEM_FLAGS}):
                raise _Bad("invalid flag")
            flags.add(self.canon_flag(f))
        msgs = self.seqset(args[0], uid_cmd)
        if self.readonly:
            raise _No("[READ-ONLY] mailbox is read-only")
        b = self.box(self.selected)
        modified = []
        for i, m in msgs:
            if unchanged is not None and m.modseq > unchanged:
                modified.append(m.uid if uid_cmd else i + 1)
                continue
            before = set(m.flags)
            if mt.group(1) == "+":
                m.flags |= flags
            elif mt.group(1) == "-":
                m.flags -= flags
            else:
                m.flags = set(flags)
            if m.flags != before:
                b.touch(m)
            self.known[m.uid] = frozenset(m.flags)
            if not mt.group(2) or (self.condstore and m.flags != before):
                # VARIANT: these FETCH responses in lower case. RFC 3501 9: "(2)
                # Except as noted otherwise, all alphabetic characters are
                # case-insensitive. The use of upper or lower case characters to
                # define token strings is for editorial clarity only.
                # Implementations MUST accept these strings in a
                # case-insensitive fashion." (RFC 9051 9 keeps it; RFC 5234
                # 2.3: ABNF strings are case-insensitive.)
                extra = (" uid %d" % m.uid if uid_cmd else "") + \
                    (" modseq (%d)" % m.modseq if self.condstore else "")
                self.untagged("%d fetch (flags (%s)%s)" % (i + 1, self.flag_list(m), extra))
        self.sync(expunges=False)
        if modified:
            # RFC 7162 3.1.3: the messages that failed the UNCHANGEDSINCE test
            return "[MODIFIED %s] Conditional STORE failed" % ",".join(map(str, modified))

    def cmd_STORE(self, args):
        return self.store(args, False)

    # -- SEARCH --
    def search_key(self, toks, m, seq, uid_cmd):
        """Evaluate one search key from toks (consumed) against message m."""
        if not toks:
            raise _Bad("search key expected")
        t = toks.pop(0)
        if isinstance(t, list):
            sub = list(t)
            ok = True
            while sub:
                ok &= self.search_key(sub, m, seq, uid_cmd)
            return ok
        if isinstance(t, bytes) and not isinstance(t, _Atom):
            raise _Bad("search key expected")
        k = t.upper()

        def arg():
            if not toks:
                raise _Bad("argument expected after " + k)
            return toks.pop(0)

        flag_keys = {"ANSWERED": "\\Answered", "DELETED": "\\Deleted", "DRAFT": "\\Draft",
                     "FLAGGED": "\\Flagged", "SEEN": "\\Seen"}
        if k == "ALL":
            return True
        if k in flag_keys:
            return flag_keys[k] in m.flags
        if k.startswith("UN") and k[2:] in flag_keys:
            return flag_keys[k[2:]] not in m.flags
        if k == "KEYWORD":
            return _text(arg()) in m.flags
        if k == "UNKEYWORD":
            return _text(arg()) not in m.flags
        if k == "RECENT":
            return self.is_recent(m)
        if k == "OLD":
            return not self.is_recent(m)
        if k == "NEW":
            return self.is_recent(m) and "\\Seen" not in m.flags
        if k == "NOT":
            return not self.search_key(toks, m, seq, uid_cmd)
        if k == "OR":
            a = self.search_key(toks, m, seq, uid_cmd)
            b = self.search_key(toks, m, seq, uid_cmd)
            return a or b
        if k in ("LARGER", "SMALLER"):
            n = _text(arg())
            if not n.isdigit():
                raise _Bad("number expected")
            return len(m.data) > int(n) if k == "LARGER" else len(m.data) < int(n)
        if k in ("BCC", "CC", "FROM", "SUBJECT", "TO"):
            needle = _text(arg())  # consumed even when the field is absent
            v = _field(m.entity.header, k.capitalize() if k != "BCC" else "Bcc")
            return v is not None and needle.lower() in v.lower()
        if k == "HEADER":
            name, needle = _text(arg()), _text(arg())
            v = _field(m.entity.header, name)
            return v is not None and needle.lower() in v.lower()
        if k in ("BODY", "TEXT"):
            needle = _text(arg()).lower().encode("utf-8")
            hay = m.entity.body if k == "BODY" else m.data
            return needle in hay.lower()
        if k in ("BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"):
            day = _parse_imap_date(_text(arg()))
            if k.startswith("SENT"):
                d = _field(m.entity.header, "Date")
                try:
                    t = email.utils.parsedate_to_datetime(d).timestamp() if d else m.date
                except (TypeError, ValueError):
                    t = m.date
                k = k[4:]
            else:
                t = m.date
            t = t - t % 86400
            return {"BEFORE": t < day, "ON": t == day, "SINCE": t >= day}[k]
        if k == "UID":
            spec = arg()
            return any(x is m for _, x in self.seqset(spec, True))
        if k == "MODSEQ":
            self.condstore = True  # RFC 7162 3.1
            n = _text(arg())
            if not n.isdigit():
                if not toks:
                    raise _Bad("MODSEQ value expected")
                arg()  # entry name
                n = _text(arg())
                if not n.isdigit():
                    raise _Bad("MODSEQ value expected")
            return m.modseq >= int(n)
        if re.fullmatch(r"[0-9*:,]+", k):
            return any(x is m for _, x in self.seqset(t, False))
        raise _Bad("unknown search key " + k)

    def search(self, args, uid_cmd):
        self.need("selected")
        args = list(args)
        if len(args) >= 2 and isinstance(args[0], _Atom) and args[0].upper() == "CHARSET":
            cs = _text(args[1]).upper()
            if cs not in ("US-ASCII", "UTF-8"):
                # RFC 3501 6.4.4: "If the server does not support the specified
                # [CHARSET], it MUST return a tagged NO response (not a BAD)."
                raise _No("[BADCHARSET (US-ASCII UTF-8)] unsupported charset")
            args = args[2:]
        if not args:
            raise _Bad("search criteria expected")
        b = self.box(self.selected)
        msgs = {m.uid: m for m in b.msgs}
        hits, top = [], 0
        uses_modseq = any(isinstance(a, _Atom) and a.upper() == "MODSEQ" for a in args)
        for i, uid in enumerate(self.view):
            m = msgs.get(uid)
            if m is None:
                continue
            toks = list(args)
            ok = True
            while toks:
                ok &= self.search_key(toks, m, i + 1, uid_cmd)
            if ok:
                hits.append(m.uid if uid_cmd else i + 1)
                top = max(top, m.modseq)
        tail = " (MODSEQ %d)" % top if uses_modseq and hits else ""
        self.untagged("SEARCH" + "".join(" %d" % h for h in hits) + tail)
        self.sync(expunges=False)

    def cmd_SEARCH(self, args):
        return self.search(args, False)

    # -- COPY / MOVE --
    def copy(self, args, uid_cmd, move):
        self.need("selected")
        if len(args) != 2:
            raise _Bad("Syntax: COPY set mailbox")
        msgs = self.seqset(args[0], uid_cmd)
        dest_name = self.mailbox_name(args[1])
        dest = self.server.boxes.get(dest_name)
        if dest is None or dest.noselect:
            # RFC 3501 6.4.7: TRYCREATE
            raise _No("[TRYCREATE] no such mailbox")
        if move and self.readonly:
            raise _No("[READ-ONLY] mailbox is read-only")
        src_uids, dst_uids = [], []
        for _, m in msgs:
            n = dest.add(m.data, m.flags - {"\\Recent"}, m.date)
            src_uids.append(m.uid)
            dst_uids.append(n.uid)
        code = "[COPYUID %d %s %s]" % (dest.uidvalidity, ",".join(map(str, src_uids)),
                                       ",".join(map(str, dst_uids))) if src_uids else ""
        if dest_name == self.selected:
            self.sync(expunges=False)
        if not move:
            return (code + " COPY completed").strip()
        # RFC 6851 3.3: COPYUID in an untagged OK before the EXPUNGEs.
        if code:
            self.untagged("OK %s Moved" % code)
        b = self.box(self.selected)
        gone = set(src_uids)
        b.msgs = [m for m in b.msgs if m.uid not in gone]
        self.sync()
        return "MOVE completed"

    def cmd_COPY(self, args):
        return self.copy(args, False, False)

    def cmd_MOVE(self, args):
        return self.copy(args, False, True)

    def cmd_UID(self, args):
        if not args or not isinstance(args[0], _Atom):
            raise _Bad("UID needs a command")
        sub, rest = args[0].upper(), args[1:]
        if sub == "FETCH":
            return self.fetch(rest, True)
        if sub == "STORE":
            return self.store(rest, True)
        if sub == "SEARCH":
            return self.search(rest, True)
        if sub in ("COPY", "MOVE"):
            return self.copy(rest, True, sub == "MOVE")
        if sub == "EXPUNGE":
            # RFC 4315 2.1 (UIDPLUS)
            self.need("selected")
            if len(rest) != 1:
                raise _Bad("Syntax: UID EXPUNGE set")
            return self.expunge({m.uid for _, m in self.seqset(rest[0], True)})
        raise _Bad("unknown UID command")


_NoReply = "\0noreply"


class ImapServer(_Server):
    """An in-memory IMAP4rev1 server: INBOX with seed messages, everything
    else under "INBOX."."""

    conn_class = _ImapConn

    def setup(self):
        self.boxes = _imap_seed()
        self.subscribed = set()


SERVERS = {"imap": ImapServer, "pop3": Pop3Server, "smtp": SmtpServer}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("protocol", choices=sorted(SERVERS))
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--implicit", action="store_true", help="implicit TLS")
    ap.add_argument("--lifetime", type=int, default=300)
    args = ap.parse_args()
    SERVERS[args.protocol](args.cert, args.key, implicit_tls=args.implicit,
                           lifetime=args.lifetime).serve_by_hand()


if __name__ == "__main__":
    main()
