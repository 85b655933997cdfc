"""`mailspec parse imap commands`: client-to-server IMAP bytes on stdin."""
import pytest

from conftest import run_mailspec


@pytest.fixture(autouse=True)
def imap_registered(mailspec):
    r = run_mailspec(["parse", "imap", "commands"], b"")
    if r.rc == 2 and "unknown protocol" in r.stderr:
        pytest.skip("imap protocol not registered yet (parsers/imap/proto.c)")


def test_session_all_valid(parse):
    data = (b"1 CAPABILITY\r\n"
            b"2 AUTHENTICATE PLAIN\r\n"
            b"AHVzZXIAcGFzcw==\r\n"
            b"3 SELECT INBOX (CONDSTORE)\r\n"
            b"4 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From Subject)]<0.512>)\r\n"
            b"5 IDLE\r\n"
            b"DONE\r\n"
            b"6 APPEND Sent (\\Seen) {5+}\r\nhello\r\n"
            b"7 LOGOUT\r\n")
    r = parse("imap", "commands", data)
    assert r.rc == 0, r.stdout + r.stderr
    types = [m["type"] for m in r.messages]
    assert types == ["command", "command", "sasl", "command", "command", "command", "done",
                     "command", "command"]
    fetch = r.messages[4]
    assert fetch["command"] == "FETCH" and fetch["uid"] is True
    att = fetch["args"][1]["list"][1]
    assert att["fetch"] == "BODY.PEEK"
    assert att["section"]["text"] == "HEADER.FIELDS"
    assert [h["string"] for h in att["section"]["headers"]] == ["From", "Subject"]
    assert att["partial"] == {"offset": 0, "length": 512}
    append = r.messages[7]
    assert append["args"][2] == {"message": 5, "form": "literal+"}
    # offsets and lengths cover the stream exactly
    pos = 0
    for m in r.messages:
        assert m["offset"] == pos
        pos += m["length"]
    assert pos == len(data)


def test_errors_cite_rules_and_recover(parse):
    data = (b"a FETCH 0 ALL\r\n"
            b"b+ NOOP\r\n"
            b"c CREATE &AGE-\r\n"
            b"d FETCH 1 BODY[]<10>\r\n"
            b"e LOGIN {4294967296}\r\n"
            b"f NOOP\r\n")
    r = parse("imap", "commands", data)
    assert r.rc == 1
    errs = r.errors
    assert len(errs) == 5
    assert errs[0]["error"]["rule"] == "RFC 9051 9 sequence-set"
    assert errs[0]["error"]["offset"] == 8
    assert errs[1]["error"]["rule"] == "RFC 9051 9 tag"
    assert errs[2]["error"]["rule"] == "RFC 3501 5.1.3 mailbox"
    assert errs[3]["error"]["rule"] == "RFC 9051 9 partial"
    assert "32-bit" in errs[4]["error"]["reason"]
    assert r.valid[-1]["tag"] == "f"


def test_truncated_literal_exits_one(parse):
    r = parse("imap", "commands", b"a LOGIN {10}\r\nabc")
    assert r.rc == 1
    assert r.errors and not r.valid


def test_search_depth_limit(parse):
    ok = b"a SEARCH NOT NOT ALL\r\n"
    deep = b"a SEARCH NOT NOT NOT ALL\r\n"
    assert parse("imap", "commands", ok, "--limit", "imap_depth=3").rc == 0
    r = parse("imap", "commands", deep, "--limit", "imap_depth=3")
    assert r.rc == 1
    assert "imap_depth" in r.errors[0]["error"]["reason"]


def test_utf8_mailbox_needs_enable(parse):
    name = "caf\u00e9".encode()
    r = parse("imap", "commands", b'a CREATE "' + name + b'"\r\n')
    assert r.rc == 1
    r = parse("imap", "commands", b"e ENABLE UTF8=ACCEPT\r\na CREATE \"" + name + b"\"\r\n")
    assert r.rc == 0
    assert r.messages[1]["args"][0]["mailbox"] == "caf\u00e9"


def test_session_reply_ends_authenticate(tmp_path):
    # The tagged reply to AUTHENTICATE ends the SASL exchange (reply_seen
    # hook), so a later line without SP is a bad command, not a SASL line.
    t = tmp_path / "auth.session"
    t.write_text("S: * OK ready\n"
                 "C: z NOOP\n"
                 "C: a AUTHENTICATE PLAIN\n"
                 "S: z OK done\n"
                 "S: + \n"
                 "C: AHVzZXIAcGFzcw==\n"
                 "S: a OK logged in\n"
                 "C: QUJD\n"
                 "C: b IDLE\n"
                 "S: + idling\n"
                 "C: DONE\n"
                 "S: b OK idle done\n")
    r = run_mailspec(["parse", "imap", "session", str(t)])
    assert r.rc == 1
    client = [m for m in r.messages if m["dir"] == "client"]
    assert [m.get("type") for m in client] == ["command", "command", "sasl", None, "command",
                                               "done"]
    assert client[3]["error"]["rule"] == "RFC 9051 9 tag"
    assert all(m["valid"] for m in r.messages if m["dir"] == "server")
