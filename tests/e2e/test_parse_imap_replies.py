"""`mailspec parse imap replies`: exit codes, JSON, and a real Dovecot session."""

import os
import socket
import sys

import pytest

from conftest import run_mailspec

sys.path.insert(0, os.path.dirname(__file__))
from lab import lab  # noqa: E402,F401  (pytest fixture)

RFC_STREAM = (
    b"* OK [CAPABILITY IMAP4rev2 IMAP4rev1 STARTTLS AUTH=PLAIN] IMAP4rev2 Service Ready\r\n"
    b"+ Ready for additional command text\r\n"
    b"a001 OK [READ-WRITE] LOGIN completed\r\n"
    b"* 172 EXISTS\r\n"
    b"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"
    b"* OK [UIDNEXT 4392] Predicted next UID\r\n"
    b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
    b"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n"
    b"* LIST () \"/\" blurdybloop\r\n"
    b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n"
    b"* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
    b"RFC822.SIZE 4286 ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
    b"\"IMAP4rev2 WG mtg summary and minutes\" ((\"Terry Gray\" NIL \"gray\" "
    b"\"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
    b"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" "
    b"\"cac.washington.edu\")) ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")"
    b"(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL "
    b"\"<B27397-0100000@cac.washington.edu>\") "
    b"BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\r\n"
    b"* 13 FETCH (UID 9 BODY[]<0> {5}\r\nhello)\r\n"
    b"A003 OK [APPENDUID 38505 3955] APPEND completed\r\n"
    b"* BYE IMAP4rev2 Server logging out\r\n"
)


def test_replies_valid(parse):
    r = parse("imap", "replies", RFC_STREAM)
    assert r.rc == 0, r.stdout + r.stderr
    assert len(r.messages) == 14
    assert all(m["valid"] for m in r.messages)
    types = [m["type"] for m in r.messages]
    assert types[:4] == ["ok", "continue", "ok", "exists"]
    fetch = [m for m in r.messages if m["type"] == "fetch"][0]
    assert fetch["seq"] == 12
    env = [a for a in fetch["attrs"] if a["name"] == "ENVELOPE"][0]["value"]
    assert env["subject"] == "IMAP4rev2 WG mtg summary and minutes"
    assert env["cc"][1] == {"name": "John Klensin", "adl": None, "mailbox": "KLENSIN",
                            "host": "MIT.EDU"}
    body = [a for a in fetch["attrs"] if a["name"] == "BODY"][0]["value"]
    assert body["kind"] == "text" and body["octets"] == 3028 and body["lines"] == 92
    lit = r.messages[11]
    assert lit["attrs"][1] == {"name": "BODY[]<0>", "value": "hello", "section": "",
                               "origin": 0}
    # offsets and lengths cover the stream exactly
    assert sum(m["length"] for m in r.messages) == len(RFC_STREAM)


@pytest.mark.parametrize("data,offset,rule", [
    (b"* 0 FETCH (UID 1)\r\n", 2, "nz-number"),
    (b"* LIST () \"ab\" INBOX\r\n", 10, "mailbox-list"),
    (b"* 1 FETCH (INTERNALDATE \"17-Jul-1996 02:44:25\")\r\n", 45, "date-time"),
    (b"* 1 FETCH (FLAGS (\\Seen)\r\n", 24, "msg-att"),
    (b"* 1 FETCH (BODY[] {4294967296}\r\n", 19, "literal"),
    (b"* OK a\rb\r\n", 6, "CRLF"),
])
def test_replies_invalid(parse, data, offset, rule):
    r = parse("imap", "replies", data)
    assert r.rc == 1
    err = r.errors[0]["error"]
    assert err["offset"] == offset
    assert rule in err["rule"] or rule in err["reason"]


def test_replies_truncated_literal(parse):
    r = parse("imap", "replies", b"* 1 FETCH (BODY[] {10}\r\nabc")
    assert r.rc == 1
    assert r.errors[0]["error"]["reason"] == "input ends inside a message"


def test_replies_recovers_after_error(parse):
    r = parse("imap", "replies", b"* 0 EXISTS x\r\n* 1 EXISTS\r\n")
    assert r.rc == 1
    assert [m["valid"] for m in r.messages] == [False, True]
    assert r.messages[1]["count"] == 1


def test_replies_depth_limit(parse):
    data = (b"* 1 FETCH (BODY (\"a\" \"b\" NIL NIL NIL \"7bit\" 1 NIL NIL NIL NIL "
            b"(((1)))))\r\n")
    assert parse("imap", "replies", data, "--limit", "imap_depth=5").rc == 0
    r = parse("imap", "replies", data, "--limit", "imap_depth=4")
    assert r.rc == 1
    assert "imap_depth" in r.errors[0]["error"]["rule"]


def test_replies_lenient_unknown(parse):
    data = b"* XYZZY foo (bar)\r\n* 1 EXISTS\r\n"
    r = parse("imap", "replies", data)
    assert r.rc == 1
    assert r.errors[0]["error"]["reason"] == "unknown untagged response"
    r = parse("imap", "replies", data, "--lenient", "imap-unknown")
    assert r.rc == 0
    assert r.messages[0]["type"] == "unknown"
    assert r.messages[0]["raw"] == "XYZZY foo (bar)"
    assert r.messages[0]["quirks"][0]["reason"] == "unknown untagged response accepted"


# ---- real Dovecot (scripts/lab) ----

COMMANDS = [
    b"a1 LOGIN {user} {password}",
    b"a2 CAPABILITY",
    b"a3 ENABLE CONDSTORE",
    b"a4 LIST \"\" \"*\"",
    b"a5 NAMESPACE",
    b"a6 STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)",
    b"a7 SELECT INBOX",
    b"a8 FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE MODSEQ)",
    b"a9 UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] BODY.PEEK[TEXT]<0.10> "
    b"BINARY.PEEK[1] BINARY.SIZE[1] BODY)",
    b"a10 SEARCH ALL",
    b"a11 UID SEARCH RETURN (MIN MAX COUNT ALL) ALL",
    b"a12 ID (\"name\" \"mailspec\")",
    b"a13 NOOP",
    b"a14 LOGOUT",
]


def _read_tagged(sock, data, tag):
    """Read until the tagged completion line for tag (with its CRLF) is in data."""
    start = max(len(data) - 2, 0)
    while True:
        i = data.find(b"\r\n" + tag + b" ", start)
        if i >= 0 and data.find(b"\r\n", i + 2) >= 0:
            return data
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_dovecot_session_replies_all_valid(lab, parse):
    raw = socket.create_connection((lab.host, lab.imaps_port), timeout=20)
    sock = lab.ssl_context().wrap_socket(raw, server_hostname=lab.host)
    try:
        data = b""
        while b"\r\n" not in data:
            data += sock.recv(65536)
        for cmd in COMMANDS:
            line = cmd.replace(b"{user}", lab.user.encode()).replace(
                b"{password}", lab.password.encode())
            tag = line.split(b" ", 1)[0]
            sock.sendall(line + b"\r\n")
            data = _read_tagged(sock, data, tag)
    finally:
        sock.close()
    if os.environ.get("MAILSPEC_IMAP_CAPTURE"):
        # seeds for the fuzzers: MAILSPEC_IMAP_CAPTURE=path pytest ...
        with open(os.environ["MAILSPEC_IMAP_CAPTURE"], "wb") as f:
            f.write(data)
    r = parse("imap", "replies", data)
    assert r.rc == 0, "\n".join(str(m) for m in r.errors) + "\n" + data.decode("latin-1")[:2000]
    types = {m["type"] for m in r.messages}
    assert {"ok", "capability", "list", "namespace", "status", "fetch", "search",
            "esearch", "bye"} <= types
    fetches = [m for m in r.messages if m["type"] == "fetch"]
    names = {a["name"].upper() for m in fetches for a in m["attrs"]}
    assert {"ENVELOPE", "BODYSTRUCTURE", "MODSEQ", "INTERNALDATE", "UID"} <= names
    tagged = [m for m in r.messages if m["tag"] not in ("*", "+")]
    assert len(tagged) == len(COMMANDS)


def test_file_input_is_parsed_like_stdin(parse, tmp_path):
    """A regular FILE is mapped and fed in one piece; stdin is read in 1 MiB
    chunks: both must give the same messages, offsets and errors, with
    literals across the chunk boundaries, an error in the middle and a
    message left open at the end."""
    body = b"x" * (400 << 10)
    data = (b"".join(b"* %d FETCH (BODY[] {%d}\r\n" % (i, len(body)) + body + b")\r\n"
                     for i in range(1, 7))
            + b"* 2 FETCH (FLAGS (\\Seen)) junk\r\n"
            + b"* 3 FETCH (BODY[] {5}\r\nabcde)\r\na OK done\r\n"
            + b"* 4 FETCH (BODY[] {9}\r\nabc")
    f = tmp_path / "replies"
    f.write_bytes(data)
    from_stdin = parse("imap", "replies", data)
    from_file = run_mailspec(["parse", "imap", "replies", str(f)])
    assert from_file.rc == from_stdin.rc == 1
    assert from_file.stdout == from_stdin.stdout
    assert [m.get("valid") for m in from_file.messages] == [True] * 6 + [False, True, True, False]
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    r = run_mailspec(["parse", "imap", "replies", str(empty)])
    assert r.rc == 0 and r.stdout == ""
