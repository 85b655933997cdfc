"""A small multi-session IMAP server for the `mailspec stress` tests, with
planted state bugs that no real server in the lab shows.

One shared mailbox; every session keeps its own view (the sequence number ->
UID map it was told about) and is told about other sessions' changes the way
RFC 9051 allows: EXISTS, EXPUNGE and unsolicited FETCH FLAGS on NOOP, APPEND,
COPY and EXPUNGE; never EXPUNGE during FETCH, STORE or SEARCH (a message
expunged meanwhile is still served from its tombstone there).

Planted bugs (``bug=``):

- ``None``: the fixed twin: a correct server as far as stress can see.
- ``"uid-reuse"``: a new message gets the highest UID in the mailbox plus
  one, so the UID of an expunged last message is given again (RFC 9051
  2.3.1.1: UIDs strictly ascend and are never reused).
- ``"lost-flag"``: STORE is a read-modify-write without the lock, so two
  sessions changing flags of the same message at once lose one change.

``StressSmtp`` delivers what it accepts into a ``StressImap``'s mailbox,
for ``stress --protocol smtp``; its bugs are in its docstring.

Run by hand: ``python3 stress_fixture.py [BUG]`` prints the port.
"""

import bisect
import re
import sys
import threading
import time

from loopback import LoopbackServer

SYSTEM_FLAGS = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"]


class Message:
    def __init__(self, uid, body, flags=()):
        self.uid = uid
        self.body = body
        self.flags = list(flags)
        self.ver = 1


class Mailbox:
    def __init__(self, bug):
        self.bug = bug
        self.lock = threading.Lock()
        self.msgs = []        # Message, in UID order
        self.gone = {}        # uid -> Message: tombstones of expunged messages
        self.next_uid = 1

    def new_uid(self):
        if self.bug == "uid-reuse":
            return (self.msgs[-1].uid + 1) if self.msgs else self.next_uid
        uid = self.next_uid
        self.next_uid += 1
        return uid

    def add(self, body, flags=()):
        m = Message(self.new_uid(), body, flags)
        self.msgs.append(m)
        return m.uid

    def by_uid(self, uid):
        i = bisect.bisect_left(self.msgs, uid, key=lambda m: m.uid)  # msgs are in UID order
        return self.msgs[i] if i < len(self.msgs) and self.msgs[i].uid == uid else None


def fmt_flags(flags):
    return "(" + " ".join(flags) + ")"


def bodystructure(body):
    head, _, text = body.partition(b"\r\n\r\n")
    return '("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" %d %d)' % (
        len(text), text.count(b"\n"))


class Session:
    def __init__(self, server, sock):
        self.srv = server
        self.mb = server.mailbox
        self.sock = sock
        self.rfile = sock.makefile("rb")
        self.view = []       # UIDs, sequence order
        self.seen_ver = {}   # uid -> version last told
        self.selected = False

    def send(self, text):
        if isinstance(text, str):
            text = text.encode()
        self.sock.sendall(text)

    # -- the view --
    def msg(self, uid):
        return self.mb.by_uid(uid) or self.mb.gone.get(uid)

    def sync(self, expunge=True):
        """Tell this session what changed (caller holds the lock)."""
        out = []
        live = {m.uid for m in self.mb.msgs}
        if expunge:
            i = len(self.view)
            while i > 0:
                i -= 1
                if self.view[i] not in live:
                    out.append("* %d EXPUNGE\r\n" % (i + 1))
                    del self.view[i]
        last = self.view[-1] if self.view else 0
        new = [m.uid for m in self.mb.msgs if m.uid > last]
        if new and self.selected:
            self.view.extend(new)
            out.append("* %d EXISTS\r\n" % len(self.view))
            for u in new:
                self.seen_ver[u] = self.mb.by_uid(u).ver
        for seq, uid in enumerate(self.view, 1):
            m = self.mb.by_uid(uid)
            if m and self.seen_ver.get(uid) != m.ver:
                self.seen_ver[uid] = m.ver
                out.append("* %d FETCH (UID %d FLAGS %s)\r\n" % (seq, uid, fmt_flags(m.flags)))
        return "".join(out)

    def seqs(self, spec):
        n = len(self.view)
        out = []
        for part in spec.split(","):
            a, _, b = part.partition(":")
            lo = n if a == "*" else int(a)
            hi = lo if not b else (n if b == "*" else int(b))
            lo, hi = min(lo, hi), max(lo, hi)
            out.extend(range(max(lo, 1), min(hi, n) + 1))
        return out

    def uid_seqs(self, spec):
        a, _, b = spec.partition(":")
        lo = int(a)
        hi = lo if not b else (10 ** 12 if b == "*" else int(b))
        out = [i + 1 for i, u in enumerate(self.view) if lo <= u <= hi]
        if not out and b == "*" and self.view:
            out = [len(self.view)]  # n:* always includes the last message
        return out

    def fetch_line(self, seq, items, uid_cmd):
        uid = self.view[seq - 1]
        m = self.msg(uid)
        parts = []
        if uid_cmd or "UID" in items:
            parts.append("UID %d" % uid)
        if "FLAGS" in items:
            parts.append("FLAGS " + fmt_flags(m.flags))
            self.seen_ver[uid] = m.ver
        if "RFC822.SIZE" in items:
            parts.append("RFC822.SIZE %d" % len(m.body))
        if "BODYSTRUCTURE" in items:
            parts.append("BODYSTRUCTURE " + bodystructure(m.body))
        text = "* %d FETCH (%s" % (seq, " ".join(parts))
        if "BODY.PEEK[]" in items:
            return (text + "%sBODY[] {%d}\r\n" % (" " if parts else "", len(m.body))).encode() + \
                m.body + b")\r\n"
        return (text + ")\r\n").encode()

    # -- commands --
    def run(self):
        self.send("* OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS] stress fixture ready\r\n")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            m = re.search(rb"\{(\d+)\+\}\r\n$", line)
            if m:
                lit = self.rfile.read(int(m.group(1)))
                rest = self.rfile.readline()
                line = line[:m.start()] + b"{}" + rest
            else:
                lit = None
            words = line.decode("latin-1").rstrip("\r\n").split(" ")
            tag, cmd, args = words[0], words[1].upper() if len(words) > 1 else "", words[2:]
            if cmd == "UID" and args:
                cmd, args, uid_cmd = "UID " + args[0].upper(), args[1:], True
            else:
                uid_cmd = False
            if cmd == "LOGOUT":
                self.send("* BYE bye\r\n%s OK LOGOUT done\r\n" % tag)
                return
            out = self.command(tag, cmd, args, lit, uid_cmd)
            self.send(out)

    def command(self, tag, cmd, args, lit, uid_cmd):
        mb = self.mb
        if cmd in ("LOGIN", "CREATE", "DELETE"):
            return "%s OK %s done\r\n" % (tag, cmd)
        if cmd == "CAPABILITY":
            return "* CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS\r\n%s OK done\r\n" % tag
        if cmd == "STARTTLS":
            return "%s NO no TLS here\r\n" % tag
        with mb.lock:
            if cmd in ("SELECT", "EXAMINE"):
                self.selected = True
                self.view = [m.uid for m in mb.msgs]
                self.seen_ver = {m.uid: m.ver for m in mb.msgs}
                return ("* FLAGS (%s)\r\n* OK [PERMANENTFLAGS (%s \\*)] ok\r\n* %d EXISTS\r\n"
                        "* OK [UIDVALIDITY 1] ok\r\n%s OK [READ-WRITE] SELECT done\r\n" % (
                            " ".join(SYSTEM_FLAGS), " ".join(SYSTEM_FLAGS), len(self.view), tag))
            if cmd == "NOOP":
                return self.sync() + "%s OK NOOP done\r\n" % tag
            if cmd == "CLOSE":
                mb.msgs = [m for m in mb.msgs if "\\Deleted" not in m.flags]
                self.selected = False
                return "%s OK CLOSE done\r\n" % tag
            if cmd == "APPEND":
                uid = mb.add(lit)
                return self.sync() + "%s OK [APPENDUID 1 %d] APPEND done\r\n" % (tag, uid)
            if cmd == "EXPUNGE":
                for m in mb.msgs:
                    if "\\Deleted" in m.flags:
                        mb.gone[m.uid] = m
                mb.msgs = [m for m in mb.msgs if "\\Deleted" not in m.flags]
                return self.sync() + "%s OK EXPUNGE done\r\n" % tag
            if cmd == "COPY":
                for seq in self.seqs(args[0]):
                    src = self.msg(self.view[seq - 1])
                    mb.add(src.body, src.flags)
                return self.sync() + "%s OK COPY done\r\n" % tag
            if cmd in ("FETCH", "UID FETCH"):
                items = " ".join(args[1:]).strip("()").replace("(", " ").replace(")", " ").split()
                items = [i.upper() for i in items]
                seqs = self.uid_seqs(args[0]) if uid_cmd else self.seqs(args[0])
                out = [self.sync(expunge=False).encode()]
                for seq in seqs:
                    out.append(self.fetch_line(seq, items, uid_cmd))
                return b"".join(out) + ("%s OK FETCH done\r\n" % tag).encode()
            if cmd in ("SEARCH", "UID SEARCH"):
                key = args[0].upper() if args else "ALL"
                hits = []
                for seq, uid in enumerate(self.view, 1):
                    f = self.msg(uid).flags
                    if key == "ALL" or (key == "FLAGGED" and "\\Flagged" in f) or \
                            (key == "DELETED" and "\\Deleted" in f) or \
                            (key == "UNSEEN" and "\\Seen" not in f):
                        hits.append(uid if uid_cmd else seq)
                return "* SEARCH%s\r\n%s OK SEARCH done\r\n" % (
                    "".join(" %d" % h for h in hits), tag)
        if cmd == "UID STORE":
            return self.store(tag, int(args[0]), args[1].upper(), args[2].strip("()"))
        return "%s BAD unknown command\r\n" % tag

    def store(self, tag, uid, op, flag):
        mb = self.mb
        with mb.lock:
            m = mb.by_uid(uid)
            if m is None:
                return "%s OK STORE done (expunged)\r\n" % tag
            flags = list(m.flags)
        if mb.bug != "lost-flag":
            mb.lock.acquire()
            flags = list(m.flags)
        else:
            time.sleep(0.003)  # the planted race: read, wait, write back
            mb.lock.acquire()
        try:
            if op == "+FLAGS" and flag not in flags:
                flags.append(flag)
            elif op == "-FLAGS" and flag in flags:
                flags.remove(flag)
            m.flags = flags
            m.ver += 1
            seq = self.view.index(uid) + 1 if uid in self.view else 0
            out = self.sync(expunge=False)
            if seq:
                self.seen_ver[uid] = m.ver
                out += "* %d FETCH (UID %d FLAGS %s)\r\n" % (seq, uid, fmt_flags(m.flags))
            return out + "%s OK STORE done\r\n" % tag
        finally:
            mb.lock.release()


class StressImap(LoopbackServer):
    """The fixture server; ``bug`` as in the module's docstring."""

    def __init__(self, bug=None, lifetime=120):
        super().__init__(lifetime=lifetime, io_timeout=30, backlog=64)
        self.mailbox = Mailbox(bug)

    def handle_connection(self, sock):
        try:
            Session(self, sock).run()
        except (OSError, ValueError, IndexError):
            pass
        finally:
            sock.close()


if __name__ == "__main__":
    StressImap(sys.argv[1] if len(sys.argv) > 1 else None, lifetime=600).serve_by_hand()


class StressPop3(LoopbackServer):
    """A POP3 maildrop of a few messages. ``bug="uidl-by-position"`` gives a
    message's position as its unique-id and lists the maildrop in another
    order in every session, so one unique-id names different messages in
    different sessions (RFC 1939 7); ``None`` is the fixed twin."""

    def __init__(self, bug=None, lifetime=120, count=6, messy=False):
        super().__init__(lifetime=lifetime, io_timeout=30, backlog=64)
        self.bug = bug
        self.msgs = [("Subject: pop3 %d\r\n\r\n%s\r\n" % (i, "line\r\n" * (i + 1))).encode()
                     for i in range(count)]
        if messy:
            # a stored message that is not RFC 5322-clean, relayed as it is (a
            # correct POP3 server does not repair the message): lines of 1200
            # octets in the header and the body, a NUL, a bare CR
            self.msgs.append(b"Subject: messy " + b"h" * 1200 + b"\r\n\r\n" + b"b" * 1200 +
                             b"\r\nnul\x00here\r\nbare\rcr\r\n..stuffed\r\n")
        self.sessions = 0
        self.lock = threading.Lock()

    def handle_connection(self, sock):
        try:
            self.serve(sock)
        except (OSError, ValueError, IndexError):
            pass
        finally:
            sock.close()

    def serve(self, sock):
        with self.lock:
            self.sessions += 1
            k = self.sessions
        order = list(range(len(self.msgs)))
        if self.bug == "uidl-by-position":
            order = order[k % len(order):] + order[:k % len(order)]
        drop = [self.msgs[i] for i in order]
        uids = [str(n + 1) if self.bug == "uidl-by-position" else "m%d" % i
                for n, i in enumerate(order)]
        rfile = sock.makefile("rb")
        sock.sendall(b"+OK stress pop3 fixture\r\n")
        while True:
            line = rfile.readline()
            if not line:
                return
            words = line.decode("latin-1").split()
            cmd = words[0].upper() if words else ""
            arg = int(words[1]) if len(words) > 1 and words[1].isdigit() else None
            if cmd in ("USER", "PASS", "NOOP"):
                out = "+OK\r\n"
            elif cmd == "STAT":
                out = "+OK %d %d\r\n" % (len(drop), sum(len(m) for m in drop))
            elif cmd in ("LIST", "UIDL") and arg is None:
                out = "+OK\r\n" + "".join(
                    "%d %s\r\n" % (n + 1, len(m) if cmd == "LIST" else uids[n])
                    for n, m in enumerate(drop)) + ".\r\n"
            elif cmd in ("LIST", "UIDL", "RETR", "TOP") and arg and 1 <= arg <= len(drop):
                m = drop[arg - 1]
                if cmd == "LIST":
                    out = "+OK %d %d\r\n" % (arg, len(m))
                elif cmd == "UIDL":
                    out = "+OK %d %s\r\n" % (arg, uids[arg - 1])
                else:
                    body = m if cmd == "RETR" else m.split(b"\r\n\r\n")[0] + b"\r\n\r\n"
                    sock.sendall(b"+OK\r\n" + body + b".\r\n")
                    continue
            elif cmd == "QUIT":
                sock.sendall(b"+OK bye\r\n")
                return
            else:
                out = "-ERR no\r\n"
            sock.sendall(out.encode())


class StressSmtp(LoopbackServer):
    """An SMTP server that delivers every accepted message into ``imap``'s
    mailbox (a StressImap), a Received: field put before it. Planted bugs
    (``bug=``), each on every 20th accepted message unless said otherwise:

    - ``None``: the fixed twin.
    - ``"lose"``: answered 250, then dropped (RFC 5321 6.1).
    - ``"dup"``: stored twice.
    - ``"dot"``: no dot-unstuffing, on every message (RFC 5321 4.5.2).
    - ``"notrace"``: no Received: field, on every message (RFC 5321 4.4).
    - ``"bounce"``: not delivered; a notification quoting its header is put
      in the mailbox instead (RFC 5321 6.1: compliant, nothing is lost).
    """

    def __init__(self, imap, bug=None, lifetime=120):
        super().__init__(lifetime=lifetime, io_timeout=30, backlog=64)
        self.imap = imap
        self.bug = bug
        self.lock = threading.Lock()
        self.accepted = 0

    def deliver(self, data):
        with self.lock:
            self.accepted += 1
            n = self.accepted
        if self.bug == "lose" and n % 20 == 0:
            return
        if self.bug == "bounce" and n % 20 == 0:
            head = data.split(b"\r\n\r\n", 1)[0]
            data = (b"From: MAILER-DAEMON@fixture\r\nSubject: Undelivered Mail Returned to "
                    b"Sender\r\n\r\nThe message below could not be delivered.\r\n\r\n" + head +
                    b"\r\n")
        if self.bug != "notrace":
            data = b"Received: from client by fixture; Thu, 1 Jan 2026 00:00:00 +0000\r\n" + data
        mb = self.imap.mailbox
        with mb.lock:
            mb.add(data)
            if self.bug == "dup" and n % 20 == 0:
                mb.add(data)

    def handle_connection(self, sock):
        rfile = sock.makefile("rb")
        try:
            sock.sendall(b"220 stress fixture ESMTP\r\n")
            while True:
                line = rfile.readline()
                if not line:
                    return
                verb = line[:4].upper()
                if verb == b"EHLO":
                    sock.sendall(b"250-fixture\r\n250 8BITMIME\r\n")
                elif verb == b"DATA":
                    sock.sendall(b"354 go ahead\r\n")
                    data = []
                    while True:
                        dl = rfile.readline()
                        if not dl or dl == b".\r\n":
                            break
                        if dl.startswith(b".") and self.bug != "dot":
                            dl = dl[1:]
                        data.append(dl)
                    if not dl:
                        return
                    self.deliver(b"".join(data))
                    sock.sendall(b"250 accepted\r\n")
                elif verb == b"QUIT":
                    sock.sendall(b"221 bye\r\n")
                    return
                elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                    sock.sendall(b"250 ok\r\n")
                else:
                    sock.sendall(b"502 not implemented\r\n")
        except (OSError, ValueError):
            pass
        finally:
            sock.close()
