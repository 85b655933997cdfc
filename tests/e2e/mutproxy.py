"""A mutating proxy in front of a real server, for "fails for the right reason" tests.

A semantic conformance test must be able to fail. The real servers of the lab
pass; to show that a test fails when a server gets the behaviour wrong, put a
:class:`MutatingProxy` between mailspec and the real server and let it plant
exactly one fault: rewrite, drop or add one server line (a wrong
BODYSTRUCTURE, a lost EXISTS, a stale flag) or one client line.

Rules are applied to whole lines (CRLF included in what the pattern sees) in
the direction they name, in order; each is ``Rule(direction, pattern,
replacement, count=None, connection=None)``:

- ``direction``: ``"s2c"`` (server to client) or ``"c2s"``;
- ``pattern``: a ``bytes`` regular expression matched with ``re.search``;
- ``replacement``: ``bytes`` for ``re.sub`` (``\\1`` groups work), ``None``
  drops the whole line, or a callable ``(line) -> bytes`` (return ``b""`` to
  drop);
- ``count``: how many lines it may change over the proxy's life (None: all);
- ``connection``: the 1-based number of the connection it applies to
  (None: all), for faults seen by one session of several.

Plain TCP only (the planted fault needs the bytes in clear); an IMAP literal
is passed through as data, never matched. Bounded: an idle timeout per
connection and a lifetime for the whole proxy. Only the standard library is
used::

    with MutatingProxy(lab.imap_port, [Rule("s2c", rb"^\\* \\d+ EXISTS", None)]) as p:
        run mailspec against 127.0.0.1:p.port

``p.changed`` counts the lines each rule changed (by index), so a test can
check that the fault was really planted.
"""

import re
import socket
import threading

from loopback import LoopbackServer

_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")


class Rule:
    def __init__(self, direction, pattern, replacement, count=None, connection=None):
        if direction not in ("s2c", "c2s"):
            raise ValueError("direction must be 's2c' or 'c2s'")
        self.direction = direction
        self.pattern = re.compile(pattern)
        self.replacement = replacement
        self.count = count
        self.connection = connection
        self.changed = 0

    def apply(self, line, connection):
        if self.count is not None and self.changed >= self.count:
            return line
        if self.connection is not None and self.connection != connection:
            return line
        if not self.pattern.search(line):
            return line
        self.changed += 1
        if self.replacement is None:
            return b""
        if callable(self.replacement):
            return self.replacement(line)
        return self.pattern.sub(self.replacement, line)


class MutatingProxy(LoopbackServer):
    """Listen on 127.0.0.1, relay each connection to upstream, rewriting lines."""

    def __init__(self, upstream_port, rules, upstream_host="127.0.0.1", lifetime=120,
                 io_timeout=30):
        super().__init__(lifetime=lifetime, io_timeout=io_timeout)
        self.upstream = (upstream_host, upstream_port)
        self.rules = list(rules)
        self.lock = threading.Lock()

    @property
    def changed(self):
        return [r.changed for r in self.rules]

    def _rewrite(self, direction, line, connection):
        with self.lock:
            for rule in self.rules:
                if rule.direction == direction:
                    line = rule.apply(line, connection)
                    if not line:
                        return b""
        return line

    def _pump(self, src, dst, direction, connection):
        buf = b""
        literal = 0  # bytes of an IMAP literal still to pass through unchanged
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                buf += data
                out = b""
                while buf:
                    if literal:
                        take = buf[:literal]
                        out += take
                        literal -= len(take)
                        buf = buf[len(take):]
                        continue
                    end = buf.find(b"\n")
                    if end < 0:
                        break
                    line, buf = buf[:end + 1], buf[end + 1:]
                    m = _LITERAL.search(line)
                    if m:
                        literal = int(m.group(1))
                    out += self._rewrite(direction, line, connection)
                if out:
                    dst.sendall(out)
            if buf:
                dst.sendall(buf)
        except OSError:
            pass
        finally:
            for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
                try:
                    s.shutdown(how)
                except OSError:
                    pass

    def handle_connection(self, sock):
        with self.lock:
            number = self.connections
        try:
            up = socket.create_connection(self.upstream, timeout=self.io_timeout)
        except OSError:
            sock.close()
            return
        up.settimeout(self.io_timeout)
        t = threading.Thread(target=self._pump, args=(up, sock, "s2c", number), daemon=True)
        t.start()
        self._pump(sock, up, "c2s", number)
        t.join(self.io_timeout + 1)
        up.close()
        sock.close()
