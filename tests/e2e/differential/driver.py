"""The differential test's machinery: send generated cases to a real
server, take its verdict, take mailspec's verdict on the same bytes, check
every reply with the strict reply parsers, and compare with the triage file.

Standard library only.  See docs/differential.md.
"""

import fnmatch
import json
import os
import re
import select
import socket
import subprocess
import time
from dataclasses import dataclass, field

WAIT = 3.0      # seconds for the answer to the case, and again up to the
                # close; a server that pauses after a failed login longer
                # (Cyrus: failedloginpause, 3 s) gets its own (srv.wait)
JUDGMENTS = ("mailspec-bug", "server-lenient", "server-bug", "ambiguous")

# mailspec's verdict on a case's bytes
MS_VALID, MS_INVALID, MS_TRUNCATED = "valid", "invalid", "truncated"
# the server's verdict
SV_ACCEPT = "accept"        # IMAP OK/NO, POP3 +OK/+ , SMTP 2xx/3xx
SV_REJECT = "reject"        # IMAP BAD, POP3 -ERR (syntax), SMTP 500/501/502/504/555
SV_REFUSED = "refused"      # parsed but refused: POP3 -ERR (semantic), SMTP other 4xx/5xx
SV_INCOMPLETE = "incomplete"  # no answer: the server waits for more bytes
SV_CLOSED = "closed"        # the server closed (or said BYE) without an answer

AGREE = {
    (MS_VALID, SV_ACCEPT), (MS_VALID, SV_REFUSED),
    (MS_INVALID, SV_REJECT), (MS_INVALID, SV_CLOSED),
    (MS_TRUNCATED, SV_INCOMPLETE),
}
# mailspec rejects, the server refused for another reason: the server never
# judged the syntax (e.g. SMTP 503 before reading the arguments).
UNJUDGED = {(MS_INVALID, SV_REFUSED)}

# POP3 has no syntax code: -ERR texts that mean "understood, but no".
POP3_SEMANTIC = re.compile(
    rb"-ERR (\[[^\]]*\] )?(There's no message|No such message|Message is deleted|"
    rb"Authentication failed|\[AUTH\]|Unknown authentication mechanism|"
    rb"Invalid (username|user name|login)|Unsupported authentication mechanism|"
    rb"Plaintext authentication disallowed|No username given|Already logged in|"
    rb"Authentication aborted|Invalid login|Unknown user|Can't|Disconnected|"
    rb"Mechanism|APOP not enabled|Login failed|Invalid message number:? [1-9][0-9]* *$|Message \d+ (does not exist|deleted))",
    re.I)
SMTP_SYNTAX = {500, 501, 502, 504, 555}


# ------------------------------------------------------------------ wire --

class Wire:
    """One connection: sends, reads with deadlines, records the transcript
    as ("C"|"S", bytes) events."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.setblocking(False)
        self.buf = b""          # received, not yet consumed by a reader
        self.events = []
        self.pending = b""      # received, not yet put in the transcript
        self.eof = False

    def send(self, data):
        self._flush_lines()
        self.events.append(("C", data))
        try:
            self.sock.setblocking(True)
            self.sock.sendall(data)
        except OSError:
            self.eof = True
        finally:
            self.sock.setblocking(False)

    def _flush_lines(self):
        # whole server lines go in the transcript before the next client bytes
        i = self.pending.rfind(b"\r\n")
        if i >= 0:
            self.events.append(("S", self.pending[:i + 2]))
            self.pending = self.pending[i + 2:]

    def _fill(self, deadline):
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            return False
        try:
            chunk = self.sock.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        self.pending += chunk
        return True

    def line(self, wait):
        """The next CRLF line (without CRLF), or None."""
        deadline = time.monotonic() + wait
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                out, self.buf = self.buf[:i], self.buf[i + 2:]
                return out
            if not self._fill(deadline):
                return None

    def take(self, n, wait):
        deadline = time.monotonic() + wait
        while len(self.buf) < n:
            if not self._fill(deadline):
                break
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def drain(self, wait):
        """Everything up to the close (or the deadline)."""
        deadline = time.monotonic() + wait
        while self._fill(deadline):
            pass
        out, self.buf = self.buf, b""
        return out

    def close(self):
        self._flush_lines()
        if self.pending:
            self.events.append(("S-partial", self.pending))
            self.pending = b""
        try:
            self.sock.close()
        except OSError:
            pass


def _wait(srv):
    return getattr(srv, "wait", WAIT)


LITERAL_END = re.compile(rb"~?\{(\d+)(\+?)\}\r\n")


def imap_read_response(w, wait):
    """One IMAP response line with its literals (bytes) or None."""
    out = b""
    while True:
        line = w.line(wait)
        if line is None:
            return out or None
        out += line
        m = re.search(rb"\{(\d+)\}$", line)
        if not m or int(m.group(1)) > 10 * 1024 * 1024:
            return out
        out += b"\r\n" + w.take(int(m.group(1)), wait)


@dataclass
class Outcome:
    verdict: str
    answer: bytes            # what decided the verdict (a line or two)
    events: list = field(default_factory=list)


def _imap_until_tag(w, tag, wait):
    while True:
        r = imap_read_response(w, wait)
        if r is None or r.startswith(tag + b" "):
            return r


def imap_capabilities(srv):
    w = Wire(srv.host, srv.port)
    try:
        greet = w.line(5) or b""
        w.send(b"c1 CAPABILITY\r\n")
        pre = _imap_caps(w, b"c1")
        w.send(b"c2 LOGIN %s %s\r\n" % (srv.user.encode(), srv.password.encode()))
        _imap_until_tag(w, b"c2", 5)
        w.send(b"c3 CAPABILITY\r\n")
        post = _imap_caps(w, b"c3")
        w.send(b"c4 LOGOUT\r\n")
        w.drain(2)
        del greet
        return pre | post
    finally:
        w.close()


def _imap_caps(w, tag):
    caps = set()
    while True:
        r = imap_read_response(w, 5)
        if r is None or r.startswith(tag + b" "):
            return caps
        if r.upper().startswith(b"* CAPABILITY "):
            caps |= {c.decode("ascii", "replace").upper() for c in r.split()[2:]}


def imap_setup(srv, mbox, messages):
    """Create the scratch mailbox with `messages` messages (fresh)."""
    w = Wire(srv.host, srv.port)
    try:
        w.line(5)
        w.send(b"s1 LOGIN %s %s\r\n" % (srv.user.encode(), srv.password.encode()))
        _imap_until_tag(w, b"s1", 5)
        imap_cleanup_on(w, mbox)
        w.send(b"s3 CREATE %s\r\n" % mbox.encode())
        _imap_until_tag(w, b"s3", 5)
        for i, msg in enumerate(messages):
            w.send(b"s4%d APPEND %s {%d}\r\n" % (i, mbox.encode(), len(msg)))
            w.line(5)
            w.send(msg + b"\r\n")
            _imap_until_tag(w, b"s4%d" % i, 5)
        w.send(b"s9 LOGOUT\r\n")
        w.drain(2)
    finally:
        w.close()


def imap_cleanup_on(w, mbox):
    w.send(b's2 LIST "" "%s*"\r\n' % mbox.encode())
    names = []
    while True:
        r = imap_read_response(w, 5)
        if r is None or r.startswith(b"s2 "):
            break
        m = re.match(rb'\* LIST \([^)]*\) (NIL|"(?:[^"\\]|\\.)*") (.*)$', r)
        if m:
            names.append(m.group(2))
    for i, name in enumerate(sorted(names, key=len, reverse=True)):
        w.send(b"s2%d DELETE %s\r\n" % (i, name))
        _imap_until_tag(w, b"s2%d" % i, 5)


def imap_cleanup(srv, mbox):
    w = Wire(srv.host, srv.port)
    try:
        w.line(5)
        w.send(b"s1 LOGIN %s %s\r\n" % (srv.user.encode(), srv.password.encode()))
        _imap_until_tag(w, b"s1", 5)
        imap_cleanup_on(w, mbox)
        w.send(b"s9 LOGOUT\r\n")
        w.drain(2)
    finally:
        w.close()


class MailboxGone(Exception):
    """The scratch mailbox went away: an earlier case deleted or renamed it."""


def imap_run(srv, case, mbox):
    w = Wire(srv.host, srv.port)
    try:
        if w.line(5) is None:
            return Outcome(SV_CLOSED, b"no greeting", w.events)
        if case.state == "selected":
            w.send(b"p1 LOGIN %s %s\r\n" % (srv.user.encode(), srv.password.encode()))
            _imap_until_tag(w, b"p1", 5)
            w.send(b"p2 SELECT %s\r\n" % mbox.encode())
            r = _imap_until_tag(w, b"p2", 5)
            if not r or not r.startswith(b"p2 OK"):
                raise MailboxGone("SELECT %s failed: %r" % (mbox, r))
        w.buf = b""
        # send up to each synchronizing literal, wait for "+" as a client must
        data, pos, seen = case.data, 0, []
        for m in LITERAL_END.finditer(data):
            if m.group(2):
                continue
            end = m.end()
            w.send(data[pos:end])
            pos = end
            r = imap_read_response(w, _wait(srv))
            seen.append(r)
            if r is None or not r.startswith(b"+"):
                break
        else:
            w.send(data[pos:])
            pos = len(data)
        w.send(b"zz LOGOUT\r\n")
        rest = w.drain(_wait(srv))
        responses = [r for r in seen if r] + rest.split(b"\r\n")
        return Outcome(*imap_verdict(responses), events=w.events)
    finally:
        w.close()


def imap_verdict(lines):
    answered, bad, bye = [], [], False
    # a BYE followed by a tagged OK answers a LOGOUT (ours or the case's)
    oks = [i for i, ln in enumerate(lines)
           if ln[:1] not in (b"*", b"+") and ln.split(b" ", 2)[1:2] in ([b"OK"], [b"ok"])]
    for i, ln in enumerate(lines):
        logged_out = any(j > i for j in oks)
        parts = ln.split(b" ", 2)
        if len(parts) < 2:
            continue
        tag, status = parts[0], parts[1].upper()
        if tag == b"*":
            if status == b"BAD":
                bad.append(ln)
            elif status == b"BYE" and not logged_out:
                bye = True
                bad.append(ln)
            continue
        if tag in (b"+", b"zz"):
            continue
        if status == b"BAD":
            bad.append(ln)
        elif status in (b"OK", b"NO"):
            answered.append(ln)
    if bad:
        return (SV_CLOSED if bye and not answered and len(bad) == 1 else SV_REJECT), bad[0][:200]
    if answered:
        return SV_ACCEPT, answered[-1][:200]
    return SV_INCOMPLETE, b""


def pop3_capabilities(srv):
    w = Wire(srv.host, srv.port)
    try:
        w.line(5)
        w.send(b"CAPA\r\n")
        caps = set()
        first = w.line(5) or b""
        while first.startswith(b"+OK"):
            ln = w.line(5)
            if ln is None or ln == b".":
                break
            caps.add(ln.split(b" ")[0].decode("ascii", "replace").upper())
        w.send(b"QUIT\r\n")
        w.drain(2)
        return caps
    finally:
        w.close()


def pop3_run(srv, case):
    w = Wire(srv.host, srv.port)
    try:
        if w.line(5) is None:
            return Outcome(SV_CLOSED, b"no greeting", w.events)
        if case.state == "trans":
            w.send(b"USER %s\r\n" % srv.user.encode())
            w.line(5)
            w.send(b"PASS %s\r\n" % srv.password.encode())
            r = w.line(5)
            if not r or not r.startswith(b"+OK"):
                raise RuntimeError("POP3 login failed: %r" % r)
        w.buf = b""
        # one line at a time, as a client without PIPELINING: each line's
        # status line decides (USER then PASS, AUTH then its SASL lines)
        firsts = []
        lines = case.data.split(b"\r\n")[:-1]
        for ln in lines:
            w.send(ln + b"\r\n")
            r = w.line(_wait(srv))
            firsts.append(r)
            if r is None:
                break
        # RSET first: a DELE of the case must never be committed by QUIT
        w.send(b"RSET\r\nQUIT\r\n" if case.state == "trans" else b"QUIT\r\n")
        w.drain(_wait(srv))
        verdicts = []
        for r in firsts:
            if r is None:
                verdicts.append((SV_CLOSED if w.eof else SV_INCOMPLETE, b""))
            elif r.startswith(b"+OK") or r.startswith(b"+ ") or r == b"+":
                verdicts.append((SV_ACCEPT, r[:200]))
            elif r.startswith(b"-ERR") and POP3_SEMANTIC.match(r):
                verdicts.append((SV_REFUSED, r[:200]))
            else:
                verdicts.append((SV_REJECT, r[:200]))
        for want in (SV_REJECT, SV_CLOSED, SV_INCOMPLETE, SV_REFUSED, SV_ACCEPT):
            for v, text in verdicts:
                if v == want:
                    return Outcome(v, text, w.events)
        return Outcome(SV_INCOMPLETE, b"", w.events)
    finally:
        w.close()


def smtp_reply(w, wait):
    lines = []
    while True:
        ln = w.line(wait)
        if ln is None:
            return lines
        lines.append(ln)
        if not (len(ln) >= 4 and ln[:3].isdigit() and ln[3:4] == b"-"):
            return lines


def smtp_capabilities(srv):
    w = Wire(srv.host, srv.port)
    try:
        smtp_reply(w, 5)
        w.send(b"EHLO differential.example\r\n")
        caps = {ln[4:].split(b" ")[0].decode("ascii", "replace").upper()
                for ln in smtp_reply(w, 5)[1:]}
        w.send(b"QUIT\r\n")
        w.drain(2)
        return caps
    finally:
        w.close()


def preamble(proto, state, srv, mbox=""):
    """The bytes a connection sends before the case (in one piece)."""
    if proto == "imap":
        if state != "selected":
            return b""
        return b"p1 LOGIN %s %s\r\np2 SELECT %s\r\n" % (
            srv.user.encode(), srv.password.encode(), mbox.encode())
    if proto == "pop3":
        if state != "trans":
            return b""
        return b"USER %s\r\nPASS %s\r\n" % (srv.user.encode(), srv.password.encode())
    return b"".join(SMTP_PREAMBLE[state]).replace(b"%(rcpt)s", srv.rcpt.encode())


SMTP_PREAMBLE = {
    "greet": [],
    "ehlo": [b"EHLO differential.example\r\n"],
    "mail": [b"EHLO differential.example\r\n", b"MAIL FROM:<differential@localhost>\r\n"],
}
SMTP_PREAMBLE["rcpt"] = SMTP_PREAMBLE["mail"] + [b"RCPT TO:<%(rcpt)s>\r\n"]


def smtp_run(srv, case, rcpt):
    w = Wire(srv.host, srv.port)
    try:
        g = smtp_reply(w, 5)
        if not g:
            return Outcome(SV_CLOSED, b"no greeting", w.events)
        for cmd in SMTP_PREAMBLE[case.state]:
            w.send(cmd.replace(b"%(rcpt)s", rcpt.encode()))
            r = smtp_reply(w, 5)
            if not r or r[-1][:1] not in (b"2",):
                raise RuntimeError("SMTP preamble %r failed: %r" % (cmd, r))
        w.buf = b""
        w.send(case.data)
        first = smtp_reply(w, _wait(srv))
        if first and first[-1][:3] == b"354":
            # DATA went in: the reply after the end of data judges the content
            first = smtp_reply(w, _wait(srv)) or first
        w.send(b"QUIT\r\n")
        w.drain(_wait(srv))
        if not first:
            return Outcome(SV_CLOSED if w.eof else SV_INCOMPLETE, b"", w.events)
        last = first[-1]
        code = int(last[:3]) if last[:3].isdigit() else 0
        if code in (221, 421) and not case.data.lstrip()[:4].upper() == b"QUIT":
            v = SV_CLOSED       # "Goodbye" to something else than QUIT
        elif code in SMTP_SYNTAX:
            v = SV_REJECT
        elif 200 <= code < 400:
            v = SV_ACCEPT
        else:
            v = SV_REFUSED
        return Outcome(v, last[:200], w.events)
    finally:
        w.close()


# -------------------------------------------------------------- mailspec --

def mailspec_json(mailspec, proto, kind, data, timeout=120, errors_only=False):
    """The JSON objects `mailspec parse` prints; with errors_only, only the
    invalid ones (a whole session's valid messages are many dicts, and this
    process's size is what every later child inherits as its max RSS)."""
    proc = subprocess.run([mailspec, "parse", proto, kind], input=data,
                          capture_output=True, timeout=timeout)
    if proc.returncode not in (0, 1):
        raise RuntimeError("mailspec parse %s %s: rc=%d %s" % (
            proto, kind, proc.returncode, proc.stderr.decode(errors="replace")))
    return [json.loads(ln) for ln in proc.stdout.splitlines()
            if ln and not (errors_only and b'"valid":false' not in ln)]


def _ms_verdict(msgs):
    if not msgs:
        return MS_TRUNCATED, None
    errs = [m for m in msgs if not m["valid"]]
    if not errs:
        return MS_VALID, None
    hard = [e for e in errs if e["error"]["code"] != "truncated"]
    if hard:
        return MS_INVALID, hard[0]["error"]
    return MS_TRUNCATED, errs[0]["error"]


# Cases whose bytes change the command parser's mode for what follows (SASL
# exchanges, IDLE, DATA, BDAT): parsed alone, never in the batch.
STATEFUL = re.compile(r"^(auth|authenticate|idle|data|bdat|enable|utf8)([.~-]|$)")


def mailspec_verdicts(mailspec, proto, cases, preamble):
    """{case id: (verdict, error)} from `mailspec parse PROTO commands` on
    the bytes each connection sent: preamble(case) (what put the server in
    the case's state, judged but not counted) and the case.  One process for
    all cases; a case alone where the batch's messages do not line up with
    its bytes, and the cases that change the parser's mode (STATEFUL)."""
    def alone(c):
        pre = preamble(c)
        msgs = mailspec_json(mailspec, proto, "commands", pre + c.data)
        return _ms_verdict([m for m in msgs if m["offset"] >= len(pre)])

    batch = [c for c in cases if not STATEFUL.search(c.id)]
    spans, chunks, pos = [], [], 0
    for c in batch:
        pre = preamble(c)
        spans.append((pos + len(pre), pos + len(pre) + len(c.data)))
        chunks += [pre, c.data]
        pos += len(pre) + len(c.data)
    msgs = mailspec_json(mailspec, proto, "commands", b"".join(chunks))
    per = [[] for _ in batch]
    bad = set()
    k = 0
    for m in msgs:
        off = m["offset"]
        while k < len(spans) and off >= spans[k][1]:
            k += 1
        if k == len(spans):
            break
        if off < spans[k][0]:
            if not m["valid"]:
                bad.add(k)      # the preamble failed: judge the case alone
            continue
        end = off + m.get("length", 1)
        if end > spans[k][1] or not m["valid"] and m["error"]["code"] == "truncated":
            bad.add(k)
        per[k].append(m)
    out = {}
    for i, c in enumerate(batch):
        out[c.id] = alone(c) if i in bad or not per[i] else _ms_verdict(per[i])
    for c in cases:
        if c.id not in out:
            out[c.id] = alone(c)
    return out


def escape(data):
    out = []
    for b in data:
        if b == 0x5C:
            out.append("\\\\")
        elif b == 0x0D:
            out.append("\\r")
        elif b == 0x0A:
            out.append("\\n")
        elif b == 0x09:
            out.append("\\t")
        elif b == 0x24 or b < 0x20 or b >= 0x7F:
            out.append("\\x%02X" % b)
        else:
            out.append(chr(b))
    return "".join(out)


def transcript(events):
    """A .session transcript of the events: one C:/S: item per CRLF line
    (bare CR and LF escaped inside it), @nocrlf for bytes without one."""
    out = []
    for who, data in events:
        if who == "S-partial":
            out.append("@nocrlf")
            out.append("S: " + escape(data))
            continue
        parts = data.split(b"\r\n")
        tail = parts.pop()
        for p in parts:
            out.append("%s: %s" % (who, escape(p)))
        if tail:
            out.append("@nocrlf")
            out.append("%s: %s" % (who, escape(tail)))
    return out


def reply_errors(mailspec, proto, outcomes):
    """{case id: [error, ...]} for the server messages of each case's
    transcript that the strict reply parser rejects.  One `parse PROTO
    session` for all transcripts (a connection's greeting is just another
    reply there); a case with errors in the batch is parsed alone, and only
    that verdict counts."""
    lines, owner = [], []
    for cid, o in outcomes.items():
        t = transcript(o.events)
        lines += t
        owner += [cid] * len(t)
    text = ("\n".join(lines) + "\n").encode()
    suspects = set()
    for m in mailspec_json(mailspec, proto, "session", text, errors_only=True):
        if m.get("dir") == "server":
            suspects.add(owner[min(m["line"], len(owner)) - 1])
    out = {}
    for cid in suspects:
        t = ("\n".join(transcript(outcomes[cid].events)) + "\n").encode()
        errs = [m["error"] for m in mailspec_json(mailspec, proto, "session", t, errors_only=True)
                if m.get("dir") == "server"]
        if errs:
            out[cid] = errs
    return out


# ---------------------------------------------------------------- triage --

@dataclass
class Entry:
    key: str          # server/proto/case-glob
    observed: str     # "verdict:<mailspec>/<server>" or "reply:<rule glob>"
    judgment: str
    rule: str
    reason: str
    lineno: int
    used: bool = False


def load_triage(path):
    entries = []
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            s = raw.strip()
            if not s or s.startswith("#"):
                continue
            parts = [p.strip() for p in s.split(" | ")]
            if len(parts) != 5:
                raise ValueError("%s:%d: want 5 fields separated by ' | ', got %d"
                                 % (path, n, len(parts)))
            e = Entry(*parts, lineno=n)
            if e.judgment not in JUDGMENTS:
                raise ValueError("%s:%d: judgment %r is not one of %s"
                                 % (path, n, e.judgment, ", ".join(JUDGMENTS)))
            if e.key.count("/") < 2:
                raise ValueError("%s:%d: key %r is not server/proto/case" % (path, n, e.key))
            entries.append(e)
    return entries


def match(entries, key, observed):
    for e in entries:
        if fnmatch.fnmatchcase(key, e.key) and fnmatch.fnmatchcase(observed, e.observed):
            e.used = True
            return e
    return None


def show(data, limit=100):
    s = escape(data)
    return s if len(s) <= limit else s[:limit] + "...(%d bytes)" % len(data)


def env_flag(name):
    return os.environ.get(name, "") not in ("", "0", "no")
