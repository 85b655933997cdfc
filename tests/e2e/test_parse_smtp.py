"""`mailspec parse smtp ...`: the SMTP parsers through the command line."""
import os

from conftest import run_mailspec

SESSION_ACCEPTED = b"""# Postfix-like submission, DATA accepted
S: 220 mx.example.org ESMTP Postfix
C: EHLO client.example.org
S: 250-mx.example.org
S: 250-PIPELINING
S: 250-SIZE 10240000
S: 250-AUTH PLAIN LOGIN
S: 250-ENHANCEDSTATUSCODES
S: 250 8BITMIME
C: AUTH LOGIN
S: 334 VXNlcm5hbWU6
C: dXNlcg==
S: 334 UGFzc3dvcmQ6
C: cGFzcw==
S: 235 2.7.0 Authentication successful
C: MAIL FROM:<a@example.org> SIZE=120
S: 250 2.1.0 Ok
C: RCPT TO:<b@example.net>
S: 250 2.1.5 Ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C: Subject: test
C:
C: ..a line that starts with a dot
C: QUIT
C: .
S: 250 2.0.0 Ok: queued as 4ABC
C: QUIT
S: 221 2.0.0 Bye
"""

SESSION_REJECTED = b"""S: 220 mx.example.org ESMTP
C: EHLO client.example.org
S: 250 mx.example.org
C: DATA
S: 503 5.5.1 Error: need RCPT command
C: RSET
S: 250 2.0.0 Ok
C: QUIT
S: 221 2.0.0 Bye
"""


def test_commands_stdin_valid(mailspec):
    r = run_mailspec(["parse", "smtp", "commands"],
                     b"EHLO x.example\r\nMAIL FROM:<a@b.example> SIZE=10\r\n"
                     b"RCPT TO:<Postmaster>\r\nQUIT\r\n")
    assert r.rc == 0, r.stderr
    assert [m["verb"] for m in r.messages] == ["EHLO", "MAIL", "RCPT", "QUIT"]
    mail = r.messages[1]
    assert mail["offset"] == 16 and mail["length"] == 33
    assert mail["local"] == "a" and mail["domain"] == "b.example" and mail["size"] == 10
    assert r.messages[2]["postmaster"] is True


def test_commands_file(mailspec, tmp_path):
    f = tmp_path / "cmds.txt"
    f.write_bytes(b"DATA\r\nhello\r\n..x\r\n.\r\nQUIT\r\n")
    r = run_mailspec(["parse", "smtp", "commands", str(f)])
    assert r.rc == 0
    data = r.messages[1]
    assert data["type"] == "data"
    assert (data["octets"], data["lines"], data["unstuffed"]) == (15, 2, 11)
    assert r.messages[2]["verb"] == "QUIT"


def test_invalid_command_exit_1(mailspec):
    r = run_mailspec(["parse", "smtp", "commands"], b"FROB x\r\nMAIL FROM: <a@b.org>\r\nNOOP\r\n")
    assert r.rc == 1
    assert len(r.errors) == 2 and len(r.valid) == 1
    assert r.errors[0]["error"]["reason"] == "unknown command"
    assert r.errors[1]["error"]["offset"] == 18
    assert "no space allowed after" in r.errors[1]["error"]["reason"]


def test_lenient_spaces_quirk(mailspec):
    r = run_mailspec(["parse", "smtp", "commands", "--lenient", "spaces"],
                     b"MAIL FROM: <a@b.org>\r\n")
    assert r.rc == 0
    assert r.messages[0]["quirks"][0]["reason"] == 'SP after ":"'


def test_truncated_exit_1(mailspec):
    r = run_mailspec(["parse", "smtp", "commands"], b"QUIT")
    assert r.rc == 1
    assert r.errors[0]["error"]["rule"] == "end of input"


def test_smuggling_named(mailspec):
    r = run_mailspec(["parse", "smtp", "commands"],
                     b"DATA\r\nx\n.\nMAIL FROM:<evil@b.org>\r\n.\r\nQUIT\r\n")
    assert r.rc == 1
    assert '"\\n.\\n" is an end-of-data smuggling sequence' in r.errors[0]["error"]["reason"]
    # the smuggled MAIL stayed data, the real end of data came later
    assert [m.get("verb", m["type"]) for m in r.valid] == ["DATA", "data", "QUIT"]


def test_replies(mailspec):
    r = run_mailspec(["parse", "smtp", "replies"],
                     b"220 mx ESMTP\r\n250-mx\r\n250-SIZE 1000\r\n250 AUTH PLAIN LOGIN\r\n"
                     b"550 5.1.1 unknown\r\n")
    assert r.rc == 0
    assert [m["code"] for m in r.messages] == [220, 250, 550]
    assert r.messages[1]["ehlo"]["size"] == 1000
    assert r.messages[1]["ehlo"]["auth"] == ["PLAIN", "LOGIN"]
    assert r.messages[2]["lines"][0]["enhanced"] == "5.1.1"


def test_reply_errors(mailspec):
    r = run_mailspec(["parse", "smtp", "replies"], b"250-a\r\n251 b\r\n250 4.0.0 x\r\n")
    assert r.rc == 1
    assert r.errors[0]["error"]["offset"] == 7
    assert r.errors[1]["error"]["rule"] == "RFC 3463 2 class"


def test_limit_option(mailspec):
    r = run_mailspec(["parse", "smtp", "commands", "--limit", "smtp_command_line=11"],
                     b"NOOP abcd\r\nNOOP abcde\r\n")
    assert r.rc == 1
    assert len(r.valid) == 1
    assert r.errors[0]["error"]["offset"] == 22


def test_session_accepted_data(mailspec, tmp_path):
    f = tmp_path / "ok.session"
    f.write_bytes(SESSION_ACCEPTED)
    r = run_mailspec(["parse", "smtp", "session", str(f)])
    assert r.rc == 0, r.stdout
    client = [m for m in r.messages if m["dir"] == "client"]
    kinds = [m.get("verb", m["type"]) for m in client]
    assert kinds == ["EHLO", "AUTH", "sasl", "sasl", "MAIL", "RCPT", "DATA", "data", "QUIT"]
    data = client[7]
    # "QUIT" inside the data is data, not a command
    assert data["lines"] == 4 and data["line"] == 26
    ehlo = [m for m in r.messages if m["dir"] == "server" and m["code"] == 250][0]
    assert ehlo["ehlo"]["auth"] == ["PLAIN", "LOGIN"]


def test_session_rejected_data(mailspec, tmp_path):
    f = tmp_path / "rej.session"
    f.write_bytes(SESSION_REJECTED)
    r = run_mailspec(["parse", "smtp", "session", str(f)])
    assert r.rc == 0, r.stdout
    client = [m for m in r.messages if m["dir"] == "client"]
    # after 503 the next lines are commands again, not mail data
    assert [m["verb"] for m in client] == ["EHLO", "DATA", "RSET", "QUIT"]


def test_session_stdin_and_quiet(mailspec):
    r = run_mailspec(["parse", "smtp", "session", "-q"], SESSION_REJECTED)
    assert r.rc == 0 and r.stdout == ""
    r = run_mailspec(["parse", "smtp", "session", "-q"], b"S: 220 mx\nC: FROB\n")
    assert r.rc == 1 and r.stdout == ""


def test_usage_errors(mailspec):
    r = run_mailspec(["parse", "smtp", "gossip"], b"")
    assert r.rc == 2
    r = run_mailspec(["parse", "smtp", "commands", "/nonexistent/smtp"])
    assert r.rc == 2


def test_seed_corpus_replays(mailspec):
    root = os.path.join(os.path.dirname(__file__), "..", "..", "corpus", "fuzz", "smtp_reply_fuzzer")
    with open(os.path.join(root, "ehlo"), "rb") as f:
        seed = f.read()
    assert seed[0] == 0  # the lenient-flags byte (docs/fuzzing.md): strict
    r = run_mailspec(["parse", "smtp", "replies"], seed[1:])
    assert r.rc == 0
    assert len(r.messages) == 1 and len(r.messages[0]["lines"]) == 12
