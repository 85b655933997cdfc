"""`mailspec parse imap commands`: client-to-server IMAP bytes on stdin."""
import pytest

from conftest import run_mailspec


@pytest.fixture(autouse=True)
def built(mailspec):
    """Every test needs the binary (the fixture asserts it is built)."""
    return mailspec


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


def _imaplib_traffic():
    """Run Python's imaplib against a minimal scripted server on loopback and
    return the exact bytes the client sent (a real client's encoding of
    strings, literals, flags, dates and SASL)."""
    import imaplib
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    sent = bytearray()

    def serve():
        conn, _ = srv.accept()
        conn.settimeout(10)
        f = conn.makefile("rb")

        def line():
            data = f.readline()
            sent.extend(data)
            return data

        conn.sendall(b"* OK ready\r\n")
        while True:
            first = cmd = line()
            if not cmd:
                break
            while cmd.rstrip(b"\r\n").endswith(b"}"):   # synchronizing literal
                n = int(cmd.rstrip(b"\r\n").rsplit(b"{", 1)[1][:-1])
                conn.sendall(b"+ go\r\n")
                data = f.read(n)
                sent.extend(data)
                cmd = line()
            words = first.rstrip(b"\r\n").split(b" ")
            tag, name = words[0], words[1].upper()
            if name == b"UID":
                name = words[2].upper()
            if name == b"CAPABILITY":
                conn.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN IDLE MOVE\r\n")
            if name == b"AUTHENTICATE":
                conn.sendall(b"+ \r\n")
                line()
            if name == b"LOGOUT":
                conn.sendall(b"* BYE bye\r\n" + tag + b" OK done\r\n")
                break
            conn.sendall(tag + b" OK done\r\n")
        conn.close()

    th = threading.Thread(target=serve)
    th.start()
    m = imaplib.IMAP4("127.0.0.1", srv.getsockname()[1], timeout=10)
    m.authenticate("PLAIN", lambda _: b"\0user\0pass word")
    m.select('"Sent Items"')
    m.list('""', "*")
    m.status("INBOX", "(MESSAGES UNSEEN UIDNEXT)")
    m.search(None, "(FROM \"Smith\" SINCE 1-Feb-1994)")
    m.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])")
    m.store("1:3", "+FLAGS", "(\\Deleted)")
    m.append("INBOX", "(\\Seen)", imaplib.Time2Internaldate(0),
             b"Subject: hi\r\n\r\nhello\r\n")
    m.copy("1", "Archive")
    m.create("caf&AOk-")
    m.rename("old", "new")
    m.expunge()
    m.close()
    m.logout()
    th.join()
    srv.close()
    return bytes(sent)


def test_imaplib_traffic_is_valid(parse):
    data = _imaplib_traffic()
    r = parse("imap", "commands", data)
    assert r.rc == 0, r.stdout
    names = [m.get("command") for m in r.messages if m["type"] == "command"]
    for n in ["AUTHENTICATE", "SELECT", "LIST", "STATUS", "SEARCH", "FETCH", "STORE", "APPEND",
              "COPY", "CREATE", "RENAME", "EXPUNGE", "CLOSE", "LOGOUT"]:
        assert n in names
    assert [m["type"] for m in r.messages].count("sasl") == 1
    append = [m for m in r.messages if m.get("command") == "APPEND"][0]
    assert append["args"][-1]["form"] == "literal"
