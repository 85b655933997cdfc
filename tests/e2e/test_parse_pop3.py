"""`mailspec parse pop3 commands|replies|session`: exit codes and JSON."""

from conftest import run_mailspec

SESSION = b"""# RFC 1939 style session
S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>
C: CAPA
S: +OK Capability list follows
S: TOP
S: UIDL
S: SASL PLAIN
S: PIPELINING
S: .
C: USER mrose
S: +OK
C: PASS secret word
S: +OK maildrop has 2 messages (320 octets)
C: STAT
S: +OK 2 320
C: LIST
S: +OK 2 messages
S: 1 120
S: 2 200
S: .
C: UIDL 1
S: +OK 1 whqtswO00WBw418f9t5JxYwZ
C: RETR 1
S: +OK 120 octets
S: Subject: hi
S:
S: ..dotted line
S: .
C: DELE 1
S: +OK deleted
C: QUIT
S: +OK bye
"""


def test_commands_valid(parse):
    r = parse("pop3", "commands", b"USER bob\r\nPASS a b\r\nretr 1\r\nTOP 2 0\r\nQUIT\r\n")
    assert r.rc == 0, r.stderr
    assert [m["command"] for m in r.messages] == ["USER", "PASS", "RETR", "TOP", "QUIT"]
    assert r.messages[1]["password"] == "a b"
    assert r.messages[2]["msg"] == 1
    assert r.messages[3]["lines"] == 0
    assert all(m["valid"] and m["type"] == "command" for m in r.messages)
    assert r.messages[0]["offset"] == 0 and r.messages[0]["length"] == 10


def test_commands_invalid_exit_1(parse):
    r = parse("pop3", "commands", b"FOO\r\nRETR 0\r\nRETR 4294967296\r\nNOOP\r\n")
    assert r.rc == 1
    errs = r.errors
    assert len(errs) == 3
    assert errs[0]["error"]["reason"] == "unknown command"
    assert errs[0]["error"]["rule"] == "RFC 1939 3"
    assert errs[1]["error"]["reason"] == "message numbers start at 1"
    assert errs[2]["error"]["reason"] == "message number above 4294967295"
    assert r.valid[-1]["command"] == "NOOP"


def test_command_line_limit(parse):
    ok = b"USER " + b"x" * 248 + b"\r\n"
    assert len(ok) == 255
    assert parse("pop3", "commands", ok).rc == 0
    r = parse("pop3", "commands", b"USER " + b"x" * 249 + b"\r\n")
    assert r.rc == 1
    assert r.errors[0]["error"]["offset"] == 255
    # a raised limit accepts it
    r = parse("pop3", "commands", b"USER " + b"x" * 249 + b"\r\n", "--limit",
              "pop3_command_line=256")
    assert r.rc == 0


def test_commands_truncated_exit_1(parse):
    r = parse("pop3", "commands", b"NOOP\r\nRETR 1")
    assert r.rc == 1
    assert r.errors[0]["error"]["reason"] == "input ends inside a message"


def test_commands_sasl(parse):
    r = parse("pop3", "commands", b"AUTH PLAIN\r\nAGJvYgBzZWNyZXQ=\r\nAUTH LOGIN\r\n*\r\n")
    assert r.rc == 0
    assert [m["type"] for m in r.messages] == ["command", "sasl_response", "command",
                                               "sasl_cancel"]


def test_replies_default_rule(parse):
    # alone, the first line is the greeting and every +OK is single-line
    r = parse("pop3", "replies", b"+OK hi <a.b@c>\r\n+OK 2 320\r\n-ERR [SYS/TEMP] later\r\n")
    assert r.rc == 0
    assert r.messages[0]["type"] == "greeting"
    assert r.messages[0]["timestamp"] == "<a.b@c>"
    assert r.messages[1]["type"] == "status"
    assert "answers" not in r.messages[1]
    assert r.messages[2]["code_levels"] == ["SYS", "TEMP"]


def test_replies_invalid(parse):
    r = parse("pop3", "replies", b"+OK\r\n+ok lower\r\n-ERR [x\r\n+OK a\rb\r\n")
    assert r.rc == 1
    assert [e["error"]["rule"] for e in r.errors] == ["RFC 1939 3", "RFC 2449 8", "RFC 2449 4"]
    r = parse("pop3", "replies", b"+OK\r\n+ok lower\r\n", "--lenient", "keyword-case")
    assert r.rc == 0
    assert r.messages[1]["quirks"][0]["reason"] == "status indicator not in upper case"


def test_response_line_limit(parse):
    ok = b"+OK " + b"a" * 506 + b"\r\n"
    assert parse("pop3", "replies", ok).rc == 0
    r = parse("pop3", "replies", b"+OK " + b"a" * 507 + b"\r\n")
    assert r.rc == 1
    assert r.errors[0]["error"]["offset"] == 512


def test_session_framing(parse):
    r = parse("pop3", "session", SESSION)
    assert r.rc == 0, r.stdout
    server = [m for m in r.messages if m["dir"] == "server"]
    types = [m["type"] for m in server]
    assert types == ["greeting", "status", "capability", "capability", "capability",
                     "capability", "end", "status", "status", "status", "status",
                     "scan_listing", "scan_listing", "end", "status", "status", "body",
                     "status", "status"]
    stat = server[9]
    assert stat["answers"] == "STAT" and stat["count"] == 2 and stat["octets"] == 320
    uidl = server[14]
    assert uidl["uid"] == "whqtswO00WBw418f9t5JxYwZ"
    body = server[16]
    assert body["answers"] == "RETR"
    # "Subject: hi" CRLF, CRLF, ".dotted line" CRLF after unstuffing
    assert body["octets"] == 13 + 2 + 14 and body["lines"] == 3
    client = [m for m in r.messages if m["dir"] == "client"]
    assert [m["command"] for m in client] == ["CAPA", "USER", "PASS", "STAT", "LIST", "UIDL",
                                              "RETR", "DELE", "QUIT"]


def test_session_from_file_and_truncated(tmp_path):
    p = tmp_path / "s.session"
    p.write_bytes(SESSION)
    r = run_mailspec(["parse", "pop3", "session", str(p)])
    assert r.rc == 0
    # a RETR whose body never ends: the input ends inside a message
    p.write_bytes(b"S: +OK\nC: RETR 1\nS: +OK\nS: line\n")
    r = run_mailspec(["parse", "pop3", "session", str(p)])
    assert r.rc == 1
    assert r.errors[-1]["error"]["reason"] == "input ends inside a message"
    # bad dot-stuffing inside a body
    p.write_bytes(b"S: +OK\nC: RETR 1\nS: +OK\nS: .oops\nS: .\n")
    r = run_mailspec(["parse", "pop3", "session", str(p)])
    assert r.rc == 1
    assert "dot-stuffed" in r.errors[0]["error"]["reason"]


def test_replies_file_and_quiet(tmp_path):
    p = tmp_path / "r.bin"
    p.write_bytes(b"+OK ready\r\n-ERR x\r\n")
    r = run_mailspec(["parse", "pop3", "replies", str(p)])
    assert r.rc == 0 and len(r.messages) == 2
    r = run_mailspec(["parse", "pop3", "replies", "--quiet", str(p)])
    assert r.rc == 0 and r.stdout == ""
    p.write_bytes(b"+OK ready\r\nnonsense\r\n")
    r = run_mailspec(["parse", "pop3", "replies", "-q", str(p)])
    assert r.rc == 1 and r.stdout == ""


def test_usage_errors(parse):
    assert run_mailspec(["parse", "pop3", "frames"], b"").rc == 2
    assert run_mailspec(["parse", "pop3", "commands", "/nonexistent/x"]).rc == 2
    assert run_mailspec(["parse", "pop3", "replies", "--lenient", "nope"], b"").rc == 2
    # a malformed transcript is a usage error
    assert run_mailspec(["parse", "pop3", "session"], b"X: nonsense\n").rc == 2


def test_empty_input(parse):
    for kind in ("commands", "replies", "session"):
        r = parse("pop3", kind, b"")
        assert r.rc == 0 and r.messages == []


# ---- against a real server (Dovecot in the lab, see tests/e2e/lab.py) ----

from lab import lab  # noqa: E402,F401  (pytest fixture)
import socket  # noqa: E402


def _esc(b):
    out = []
    for ch in b:
        if ch == 0x5C:
            out.append("\\\\")
        elif 0x20 <= ch < 0x7F:
            out.append(chr(ch))
        else:
            out.append("\\x%02x" % ch)
    return "".join(out)


def _dovecot_dialogue(lab, batches):
    """Send each batch of commands in one write (pipelining), read the replies
    (knowing which are multi-line), return the transcript as .session bytes."""
    s = socket.create_connection((lab.host, lab.pop3_port), timeout=20)
    f = s.makefile("rb")
    lines = []

    def readline():
        line = f.readline()
        assert line.endswith(b"\r\n"), line
        lines.append("S: " + _esc(line[:-2]))
        return line

    readline()
    for batch in batches:
        s.sendall(b"".join(c.encode() + b"\r\n" for c in batch))
        for c in batch:
            lines.append("C: " + _esc(c.encode()))
        for c in batch:
            first = readline()
            multi = c in ("CAPA", "LIST", "UIDL") or c.startswith(("RETR ", "TOP "))
            if multi and first.startswith(b"+OK"):
                while readline() != b".\r\n":
                    pass
    s.close()
    return ("\n".join(lines) + "\n").encode()


def test_dovecot_session_frames_exactly(lab, parse):
    t = _dovecot_dialogue(lab, [
        ["CAPA"], ["USER " + lab.user], ["PASS " + lab.password],
        ["STAT", "LIST", "UIDL", "UIDL 1", "LIST 2"],       # pipelined (RFC 2449 6.6)
        ["TOP 1 2", "RETR 1", "RETR 2", "RETR 3", "RETR 4", "RETR 99"],
        ["DELE 1", "RSET", "NOOP", "QUIT"]])
    r = parse("pop3", "session", t)
    assert r.rc == 0, [m for m in r.messages if not m["valid"]]
    server = [m for m in r.messages if m["dir"] == "server"]
    assert server[0]["type"] == "greeting"
    caps = {m["name"].upper() for m in server if m["type"] == "capability"}
    assert {"TOP", "UIDL", "USER", "PIPELINING", "RESP-CODES"} <= caps
    sizes = {m["msg"]: m["octets"] for m in server if m["type"] == "scan_listing"}
    assert len(sizes) >= 4
    bodies = [m for m in server if m["type"] == "body" and m["answers"] == "RETR"]
    # the dot-unstuffed body is exactly the size LIST announced (RFC 1939 5)
    assert [b["octets"] for b in bodies] == [sizes[1], sizes[2], sizes[3], sizes[4]]
    stat = next(m for m in server if m.get("answers") == "STAT")
    assert stat["count"] == len(sizes) and stat["octets"] == sum(sizes.values())
    retr99 = [m for m in server if m.get("answers") == "RETR" and m["type"] == "status"]
    assert retr99[-1]["status"] == "-ERR"
    assert server[-1]["answers"] == "QUIT"
