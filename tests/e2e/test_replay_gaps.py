"""mailspec replay: what `mailspec record` writes and the runner must understand.

- ``@nocrlf`` lines (bytes without CRLF) in both directions;
- ``${apop_digest}`` derived from the POP3 greeting's timestamp (RFC 1939 7),
  against a small POP3 server that checks the digest (the lab's Dovecot offers
  APOP only with a plaintext-capable passdb and the APOP mechanism enabled,
  which the lab does not configure);
- ``${sasl_redacted}`` is refused with a message that says why;
- the password and its derived forms never appear in terminal output,
  transcripts, JSON or JUnit reports.
"""
import base64
import hashlib
import json
import socket
import time

import pytest

import hostile
from test_replay import replay, write

USER, PASSWORD = "mrose", "tanstaaf"
# RFC 1939 7: the example's timestamp and digest
TS = "<1896.697170952@dbc.mtview.ca.us>"
DIGEST = "c4c9334bac560ecc979e58001b3e22fb"


def raw_until(conn, want, timeout=5.0):
    """Client bytes (no line framing) until conn.buf holds exactly `want`."""
    end = time.monotonic() + timeout
    conn.sock.settimeout(0.2)
    while conn.buf != want and len(conn.buf) < len(want) and time.monotonic() < end:
        try:
            chunk = conn.sock.recv(4096)
        except socket.timeout:
            continue
        if not chunk:
            break
        conn.buf += chunk
    got, conn.buf = conn.buf, b""
    conn.server.raw.append(got)
    conn.sock.settimeout(10)
    return got


# ---------------------------------------------------------------- @nocrlf --

def nocrlf_server(conn):
    conn.line("+OK hi")
    if conn.readline() != "NOOP":
        return
    conn.line("+OK")
    raw_until(conn, b"NOO")           # the client's bytes without CRLF
    conn.send("+OK part")             # a reply split in two writes
    time.sleep(0.3)
    conn.send("ial\r\n")
    conn.send("+OK bye")              # then the last bytes and a close
    time.sleep(0.1)


NOCRLF_SCRIPT = """@protocol pop3
S: +OK hi
C: NOOP
S: +OK
@nocrlf
C: NOO
@nocrlf
S: +OK part
S: ial
@nocrlf
S: +OK ${*}
@close
"""


def test_nocrlf_both_directions(tmp_path):
    f = write(tmp_path, "nocrlf.session", NOCRLF_SCRIPT)
    out = tmp_path / "r.json"
    srv = hostile.Server(nocrlf_server)
    srv.raw = []
    with srv:
        p = replay("--port", srv.port, "--json", out, f)
    assert p.returncode == 0, p.out + p.err
    # exactly "NOO" went out, no CRLF
    assert srv.raw == [b"NOO"]
    t = json.load(open(out))["tests"][0]
    # the transcript is .session text that says so again
    assert "@nocrlf\nC: NOO\n" in t["transcript"]
    assert "@nocrlf\nS: +OK part\nS: ial\n" in t["transcript"]
    assert "@nocrlf\nS: +OK bye\n" in t["transcript"]


def test_nocrlf_server_that_ends_the_line_fails(tmp_path):
    def srv_fn(conn):
        conn.line("+OK hi")
        conn.readline()
        conn.line("+OK bye")
        time.sleep(0.1)
    f = write(tmp_path, "x.session", "@protocol pop3\nS: +OK hi\nC: QUIT\n@nocrlf\nS: +OK ${*}\n")
    with hostile.Server(srv_fn) as srv:
        p = replay("--port", srv.port, f)
    assert p.returncode == 1, p.out + p.err
    assert "x.session:5: response does not match" in p.err
    assert "expected: @nocrlf S: +OK ${*} (no line end)" in p.err
    assert "got:      S: +OK bye - then a line end" in p.err


def test_nocrlf_fixed_pattern_mismatch_fails(tmp_path):
    def srv_fn(conn):
        conn.line("+OK hi")
        conn.send("+OK parX")
        time.sleep(0.5)
    f = write(tmp_path, "x.session", "@protocol pop3\nS: +OK hi\n@nocrlf\nS: +OK part\n")
    with hostile.Server(srv_fn) as srv:
        p = replay("--port", srv.port, "--timeout", "3", f)
    assert p.returncode == 1, p.out + p.err
    assert "x.session:4: response does not match" in p.err


def test_nocrlf_is_checked_before_running(tmp_path):
    f = write(tmp_path, "x.session", "S: +OK\n@nocrlf\n@close\n")
    p = replay("--port", 1, f)
    assert p.returncode == 2
    assert "x.session:2:1: error: @nocrlf must be followed by a C: or S: line" in p.err


# ------------------------------------------------------------------- APOP --

def apop_server(conn, greeting_ts=TS):
    """POP3 that accepts APOP only with the right digest (RFC 1939 7)."""
    ts = greeting_ts if greeting_ts is not None else ""
    conn.line("+OK POP3 server ready " + ts)
    while True:
        line = conn.readline()
        if line is None:
            return
        words = line.split(" ")
        verb = words[0].upper()
        if verb == "APOP" and len(words) == 3:
            want = hashlib.md5((ts + PASSWORD).encode()).hexdigest()
            ok = words[1] == USER and words[2] == want
            conn.server.apop.append(ok)
            conn.line("+OK maildrop has 0 messages" if ok else "-ERR permission denied")
        elif verb == "USER":
            conn.line("+OK")
        elif verb == "PASS":
            # a careless server that echoes the password back
            conn.line("-ERR wrong password " + " ".join(words[1:]))
        elif verb == "AUTH":
            conn.line("-ERR wrong blob " + " ".join(words[2:]))
        elif verb == "QUIT":
            conn.line("+OK bye")
            return
        else:
            conn.line("-ERR unknown")


APOP_SCRIPT = """@protocol pop3
S: +OK ${*}
C: APOP ${user} ${apop_digest}
S: +OK ${*}
C: QUIT
S: +OK bye
@close
@connection
S: +OK ${*}
C: APOP ${user} ${apop_digest}
S: +OK ${*}
C: QUIT
S: +OK bye
"""


def test_apop_digest_from_the_greeting(tmp_path):
    # the RFC's own example first: a known digest
    assert hashlib.md5((TS + PASSWORD).encode()).hexdigest() == DIGEST
    f = write(tmp_path, "apop.session", APOP_SCRIPT)
    out = tmp_path / "r.json"
    stamps = iter([TS, "<42.1732634259@other.example>"])
    srv = hostile.Server(lambda c: apop_server(c, next(stamps)))
    srv.apop = []
    with srv:
        p = replay("--port", srv.port, "--user", USER, "--password", PASSWORD, "--json", out, f)
    assert p.returncode == 0, p.out + p.err
    # both connections sent the digest of their own greeting
    assert srv.apop == [True, True]
    sent = [ln for ln in srv.client_lines if ln.startswith("APOP")]
    assert sent[0] == "APOP %s %s" % (USER, DIGEST)
    assert sent[1] != sent[0]
    t = json.load(open(out))["tests"][0]
    assert "C: APOP mrose ${apop_digest}" in t["transcript"]
    assert DIGEST not in t["transcript"]


def test_apop_without_timestamp_says_so(tmp_path):
    """A greeting without <timestamp> means the server does not offer APOP
    (RFC 1939 7): the test is not-supported, with the reason, and nothing is
    sent in place of the digest."""
    f = write(tmp_path, "apop.session", APOP_SCRIPT)
    out = tmp_path / "r.json"
    srv = hostile.Server(lambda c: apop_server(c, None))
    srv.apop = []
    with srv:
        p = replay("--port", srv.port, "--user", USER, "--password", PASSWORD, "--json", out, f)
    # an absent option; as the only test, no test ran: incomplete (6)
    assert p.returncode == 6, p.out + p.err
    assert "apop.session:3:" in p.err
    assert "greeting has no <timestamp>" in p.err and "APOP" in p.err
    assert "NOSUP" in p.err
    t = json.load(open(out))["tests"][0]
    assert t["result"] == "not-supported" and "<timestamp>" in t["message"]
    assert srv.apop == []
    assert not [ln for ln in srv.client_lines if ln.startswith("APOP")]


def test_apop_without_password_says_so(tmp_path):
    """Without --password a test that logs in does not apply to the run."""
    f = write(tmp_path, "apop.session", APOP_SCRIPT)
    out = tmp_path / "r.json"
    srv = hostile.Server(apop_server)
    srv.apop = []
    with srv:
        p = replay("--port", srv.port, "--user", USER, "--json", out, f)
    assert p.returncode == 6, p.out + p.err
    assert "give --user and --password" in p.err
    t = json.load(open(out))["tests"][0]
    assert t["result"] == "not-applicable" and "--password" in t["message"]
    assert srv.apop == []


# ---------------------------------------------------------- sasl_redacted --

def test_sasl_redacted_is_refused_with_the_reason(tmp_path):
    f = write(tmp_path, "cram.session",
              "@protocol imap\nS: * OK ${*}\nC: a1 AUTHENTICATE CRAM-MD5\nS: + ${*}\n"
              "C: ${sasl_redacted}\nS: a1 OK ${*}\n")
    p = replay("--port", 1, "--user", USER, "--password", PASSWORD, f)
    assert p.returncode == 2
    assert "cram.session:5:4: error: ${sasl_redacted} cannot be replayed" in p.err
    assert "PLAIN/LOGIN" in p.err and "by hand" in p.err


# -------------------------------------------------------------- redaction --

SECRETS = [
    PASSWORD,
    DIGEST,
    base64.b64encode(b"\0" + USER.encode() + b"\0" + PASSWORD.encode()).decode(),
    base64.b64encode(PASSWORD.encode()).decode(),
]

LEAKY_SCRIPT = """@protocol pop3
S: +OK ${*}
C: APOP ${user} ${apop_digest}
S: +OK ${*}
C: USER ${user}
S: +OK
C: PASS ${password}
S: -ERR wrong password ${password}
C: AUTH PLAIN ${sasl_plain}
S: +OK this line does not come
"""


@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_password_never_printed(tmp_path, verbose):
    """A failing replay prints its transcript and message everywhere: the
    terminal, JSON and JUnit. None may hold the password or what derives
    from it (a server that echoes the password included)."""
    f = write(tmp_path, "leak.session", LEAKY_SCRIPT)
    out, xml = tmp_path / "r.json", tmp_path / "r.xml"
    srv = hostile.Server(apop_server)
    srv.apop = []
    with srv:
        p = replay("--port", srv.port, "--user", USER, "--password", PASSWORD, "--json", out,
                   "--junit", xml, *verbose, f)
    assert p.returncode == 1, p.out + p.err
    # the secrets did go over the wire
    assert srv.apop == [True]
    assert "PASS " + PASSWORD in srv.client_lines
    assert "AUTH PLAIN " + SECRETS[2] in srv.client_lines
    texts = {"stdout": p.out, "stderr": p.err, "json": out.read_text(), "junit": xml.read_text()}
    for where, text in texts.items():
        for secret in SECRETS:
            assert secret not in text, (where, secret, text)
    t = json.load(open(out))["tests"][0]
    assert "C: PASS ${password}\n" in t["transcript"]
    assert "S: -ERR wrong password ${password}\n" in t["transcript"]
    assert "C: AUTH PLAIN ${sasl_plain}\n" in t["transcript"]
    assert "S: -ERR wrong blob ${sasl_plain}" in t["message"]
    assert "C: PASS ${password}" in p.err
