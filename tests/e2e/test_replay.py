"""mailspec replay against small real servers (tests/e2e/hostile.py) on loopback."""
import json
import os
import signal
import socket
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

import hostile
from conftest import MAILSPEC, ROOT

EX = os.path.join(ROOT, "conformance", "examples")


def replay(*args, timeout=60):
    p = subprocess.run([MAILSPEC, "replay", *map(str, args)], capture_output=True,
                       timeout=timeout)
    p.out = p.stdout.decode("utf-8", "replace")
    p.err = p.stderr.decode("utf-8", "replace")
    return p


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.fixture
def certdir(tmp_path_factory):
    return str(tmp_path_factory.getbasetemp())


def report(path):
    with open(path) as f:
        return json.load(f)


def test_pass_and_json_report(tmp_path, certdir):
    out = tmp_path / "r.json"
    with hostile.Server(hostile.toy_imap, certdir=certdir) as srv:
        p = replay("--port", srv.port, "--json", out, os.path.join(EX, "imap", "capability.session"))
    assert p.returncode == 0, p.err
    r = report(out)
    assert r["protocol"] == "imap" and r["host"] == "127.0.0.1" and r["port"] == srv.port
    assert r["transport"] == "none"
    assert r["tls"] == {"version": None, "cipher": None, "verified": False}
    assert r["summary"]["pass"] == 1 and r["summary"]["fail"] == 0
    t = r["tests"][0]
    assert t["id"] == "imap.example.capability"
    assert t["rfc"] == "9051 6.1.1" and t["level"] == "MUST" and t["result"] == "pass"
    assert "C: a1 CAPABILITY" in t["transcript"]
    assert "S: * CAPABILITY IMAP4rev1" in t["transcript"]
    # the client really sent what the script says
    assert srv.client_lines[:2] == ["a1 CAPABILITY", "a2 LOGOUT"]


def test_mismatch_fails_diff_style(tmp_path, certdir):
    out, xml = tmp_path / "r.json", tmp_path / "r.xml"
    f = os.path.join(EX, "imap", "must-fail-wrong-tag.session")
    with hostile.Server(hostile.toy_imap, certdir=certdir) as srv:
        p = replay("--port", srv.port, "--json", out, "--junit", xml, f)
    assert p.returncode == 1, p.err
    t = report(out)["tests"][0]
    assert t["result"] == "fail"
    # the script named relative to its directory (no path of this machine)
    assert t["message"].startswith("must-fail-wrong-tag.session:9:")
    assert t["file"] == "must-fail-wrong-tag.session"
    assert "expected: S: a1 NO ${*}" in t["message"]
    assert "got:      S: a1 OK NOOP completed" in t["message"]
    assert "expected: S: a1 NO" in p.err and "transcript" in p.err
    root = ET.parse(xml).getroot()
    suite = root.find("testsuite")
    assert suite.get("failures") == "1"
    case = suite.find("testcase")
    assert case.find("failure") is not None
    assert "a1 NO" in case.find("failure").get("message")


def test_should_failure_exits_zero(tmp_path, certdir):
    """A SHOULD failure is reported but does not change the exit status: with
    a MUST test that passes, the run is compliant (0)."""
    s = write(tmp_path, "x.session", "@level SHOULD\n@protocol imap\nS: * OK ${*}\nC: a NOOP\nS: a NO x\n")
    must = os.path.join(EX, "imap", "capability.session")
    with hostile.Server(hostile.toy_imap, certdir=certdir) as srv:
        p = replay("--port", srv.port, "--json", tmp_path / "r.json", s, must)
        alone = replay("--port", srv.port, s)
    assert p.returncode == 0, p.err
    assert "FAIL" in p.err and "[SHOULD]" in p.err
    r = report(tmp_path / "r.json")
    assert r["summary"]["fail"] == 1 and r["summary"]["must_fail"] == 0 and r["exit"] == 0
    # alone: a test ran and none is MUST, so nothing makes it incomplete
    assert alone.returncode == 0, alone.err


def test_captures_unordered_and_variables(tmp_path, certdir):
    out = tmp_path / "r.json"
    with hostile.Server(hostile.toy_imap, certdir=certdir) as srv:
        p = replay("--port", srv.port, "--user", "alice", "--password", "pw d", "--json", out,
                   os.path.join(EX, "imap", "login-select.session"))
    assert p.returncode == 0, p.err + p.out
    assert "a1 LOGIN alice pw d" in srv.client_lines
    # a captured value that must be equal later: mismatch fails
    s = write(tmp_path, "cap.session",
              "@protocol imap\nS: * OK ${*}\nC: a SELECT INBOX\n@unordered\n"
              "S: * OK [UIDVALIDITY ${uv}] ${*}\nS: * ${n} EXISTS\nS: * FLAGS ${*}\n@end\n"
              "S: a OK ${*}\nC: b NOOP\nS: b OK NOOP ${uv}\n")
    with hostile.Server(hostile.toy_imap, certdir=certdir) as srv:
        p = replay("--port", srv.port, s)
    assert p.returncode == 1
    assert "expected: S: b OK NOOP ${uv}" in p.err


def test_forbid_and_allow(tmp_path, certdir):
    base = "@protocol imap\nS: * OK ${*}\nC: a SELECT INBOX\n%s\nS: a OK ${*}\n"
    with hostile.Server(hostile.toy_imap, certdir=certdir) as srv:
        ok = replay("--port", srv.port, write(tmp_path, "a.session", base % "@allow * ${*}"))
        no_allow = replay("--port", srv.port, write(tmp_path, "b.session", base % "@allow * OK ${*}"))
        forbid = replay("--port", srv.port,
                        write(tmp_path, "c.session", base % "@allow * ${*}\n@forbid * ${*} EXISTS"))
    assert ok.returncode == 0, ok.err
    assert no_allow.returncode == 1 and "got:      S: * FLAGS" in no_allow.err
    assert forbid.returncode == 1 and "forbidden response" in forbid.err


def test_malformed_script_runs_nothing(tmp_path, certdir):
    good = write(tmp_path, "good.session", "@protocol imap\nS: * OK ${*}\n")
    bad = write(tmp_path, "bad.session", "@protocol imap\nS: * OK ${*}\nC: a LOGIN ${nobody}\n")
    with hostile.Server(hostile.toy_imap, certdir=certdir) as srv:
        p = replay("--port", srv.port, good, bad)
        time.sleep(0.3)
        assert srv.connections == 0
    assert p.returncode == 2
    assert bad + ":3:12: error:" in p.err and "not set here" in p.err


def test_usage_errors():
    assert replay().returncode == 2
    assert replay("--tls", "sometimes", "x").returncode == 2
    assert replay("--jobs", "0", "x").returncode == 2
    p = replay("--help")
    assert p.returncode == 0 and "--timeout" in p.out


def test_connection_refused_is_blocked(tmp_path):
    """A connect failure judges nothing: the test is blocked (not the
    harness's error), and a blocked MUST test makes the run incomplete (6)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    out = tmp_path / "r.json"
    p = replay("--port", port, "--json", out, os.path.join(EX, "imap", "capability.session"))
    assert p.returncode == 6, p.err
    r = report(out)
    t = r["tests"][0]
    assert t["result"] == "blocked" and "cannot connect" in t["message"]
    assert r["summary"]["blocked"] == 1 and r["summary"]["error"] == 0 and r["exit"] == 6


def test_starttls_script_and_injection(tmp_path, certdir):
    out = tmp_path / "r.json"
    files = [os.path.join(EX, "imap", n) for n in ("starttls.session", "starttls-injection.session")]
    with hostile.Server(hostile.toy_imap, certdir=certdir) as srv:
        p = replay("--port", srv.port, "--cafile", srv.cafile, "--host", "localhost",
                   "--json", out, *files)
    assert p.returncode == 0, p.err
    r = report(out)
    assert r["tls"]["version"] in ("TLSv1.2", "TLSv1.3")
    assert r["tls"]["verified"] is True and r["tls"]["cipher"]
    assert r["tests"][0]["tls"]["subject"].endswith("CN=localhost")
    assert r["tests"][0]["tls"]["not_after"]
    # a server that executes the plaintext pipelined with STARTTLS fails
    def vuln(conn):
        hostile.toy_imap(conn, vulnerable=True)
    with hostile.Server(vuln, certdir=certdir) as srv:
        p = replay("--port", srv.port, "--insecure", files[1])
    assert p.returncode == 1, p.err
    assert "got:      S: a2 OK NOOP completed" in p.err


def test_plaintext_after_go_ahead_fails(tmp_path, certdir):
    def inject(conn):
        hostile.toy_imap(conn, inject_after_starttls="* OK injected\r\n")
    with hostile.Server(inject, certdir=certdir) as srv:
        p = replay("--port", srv.port, "--insecure", os.path.join(EX, "imap", "starttls.session"))
    assert p.returncode == 1, p.err
    assert "after its TLS go-ahead" in p.err


def test_verification(tmp_path, certdir):
    f = os.path.join(EX, "imap", "capability.session")
    with hostile.Server(hostile.toy_imap, tls=True, certdir=certdir) as srv:
        # system store does not trust the self-signed certificate
        untrusted = replay("--port", srv.port, "--tls", "implicit", f)
        # trusted CA, wrong name
        wrong = replay("--port", srv.port, "--tls", "implicit", "--cafile", srv.cafile,
                       "--sni", "mail.example.org", f)
        insecure = replay("--port", srv.port, "--tls", "implicit", "--insecure",
                          "--json", tmp_path / "i.json", f)
        ok = replay("--port", srv.port, "--tls", "implicit", "--cafile", srv.cafile,
                    "--tls-min", "1.3", "--json", tmp_path / "ok.json", f)
    # a TLS failure blocks the test; a blocked MUST test makes the run incomplete
    assert untrusted.returncode == 6 and "certificate verification failed" in untrusted.err
    assert wrong.returncode == 6 and "certificate verification failed" in wrong.err
    assert "BLOCK" in untrusted.err and "BLOCK" in wrong.err
    assert insecure.returncode == 0, insecure.err
    assert report(tmp_path / "i.json")["tls"]["verified"] is False
    assert ok.returncode == 0, ok.err
    r = report(tmp_path / "ok.json")
    assert r["tls"]["verified"] is True and r["tls"]["version"] == "TLSv1.3"
    assert r["transport"] == "implicit"


def test_auto_starttls_all_protocols(tmp_path, certdir):
    cases = [("imap", hostile.toy_imap, "capability.session"),
             ("smtp", hostile.toy_smtp, "ehlo-quit.session"),
             ("pop3", hostile.toy_pop3, "capa-quit.session")]  # a SHOULD test
    for proto, handler, name in cases:
        out = tmp_path / (proto + ".json")
        with hostile.Server(handler, certdir=certdir) as srv:
            p = replay("--port", srv.port, "--tls", "starttls", "--cafile", srv.cafile,
                       "--json", out, os.path.join(EX, proto, name))
        assert p.returncode == 0, (proto, p.err)
        r = report(out)
        assert r["tests"][0]["result"] == "pass", (proto, r["tests"][0]["message"])
        assert r["transport"] == "starttls" and r["tls"]["verified"] is True, proto
        assert "--tls starttls: upgrading" in r["tests"][0]["transcript"]


def test_implicit_tls_skips_at_tls_scripts(tmp_path, certdir):
    out = tmp_path / "r.json"
    with hostile.Server(hostile.toy_imap, tls=True, certdir=certdir) as srv:
        p = replay("--port", srv.port, "--tls", "implicit", "--insecure", "--json", out,
                   os.path.join(EX, "imap"))
    r = report(out)
    by_id = {t["id"]: t for t in r["tests"]}
    assert by_id["imap.example.starttls"]["result"] == "not-applicable"
    assert "implicit" in by_id["imap.example.starttls"]["message"]
    assert by_id["imap.example.capability"]["result"] == "pass"
    assert by_id["imap.example.must-fail"]["result"] == "fail"
    assert p.returncode == 1


def test_close_directive(tmp_path, certdir):
    ok = write(tmp_path, "ok.session", "@protocol smtp\nS: 220 ${*}\nC: QUIT\nS: 221 ${*}\n@close\n")
    notclosed = write(tmp_path, "nc.session", "@protocol smtp\nS: 220 ${*}\nC: NOOP\nS: 250 ${*}\n@close\n")
    with hostile.Server(hostile.toy_smtp, certdir=certdir) as srv:
        a = replay("--port", srv.port, ok)
        b = replay("--port", srv.port, "--timeout", "1", notclosed)
    assert a.returncode == 0, a.err
    assert b.returncode == 1 and "did not close the connection" in b.err


def test_connection_directive_and_segment(tmp_path, certdir):
    s = write(tmp_path, "c.session",
              "@protocol smtp\nS: 220 ${*}\n@segment\nC: NOOP\nC: NOOP\n@end\n"
              "S: 250 ${*}\nS: 250 ${*}\nC: QUIT\nS: 221 ${*}\n@close\n@connection\n"
              "S: 220 ${*}\nC: QUIT\nS: 221 ${*}\n")
    with hostile.Server(hostile.toy_smtp, certdir=certdir) as srv:
        p = replay("--port", srv.port, s)
        time.sleep(0.2)
        assert srv.connections == 2
    assert p.returncode == 0, p.err


def test_requires_skips(tmp_path, certdir):
    s = write(tmp_path, "r.session",
              "@protocol imap\nS: * OK ${*}\nC: a CAPABILITY\nS: * CAPABILITY ${*}\n"
              "S: a OK ${*}\n@requires CONDSTORE\nC: b NOOP\nS: b OK ${*}\n")
    with hostile.Server(hostile.toy_imap, certdir=certdir) as srv:
        p = replay("--port", srv.port, "--json", tmp_path / "r.json", s)
    # an absent option is not a failure; with no other test, no test ran (6)
    assert p.returncode == 6, p.err
    t = report(tmp_path / "r.json")["tests"][0]
    assert t["result"] == "not-supported" and "CONDSTORE" in t["message"]


def test_grammar_violation_fails_even_when_pattern_matches(tmp_path, certdir):
    """The pattern ${*} matches anything; the strict SMTP reply parser does not."""
    def bad_smtp(conn):
        conn.line("220 toy ready")
        conn.readline()
        conn.line("25O oops")  # letter O in the reply code
        conn.readline()
    s = write(tmp_path, "g.session", "@protocol smtp\nS: 220 ${*}\nC: NOOP\nS: ${*}\n")
    with hostile.Server(bad_smtp, certdir=certdir) as srv:
        p = replay("--port", srv.port, s)
    assert p.returncode == 1, p.err
    assert "breaks the grammar" in p.err and "RFC 5321" in p.err


def test_jobs_parallel(tmp_path, certdir):
    files = [write(tmp_path, "s%d.session" % i,
                   "@test par.%d\n@protocol smtp\nS: 220 ${*}\n@sleep 700\nC: QUIT\nS: 221 ${*}\n" % i)
             for i in range(6)]
    with hostile.Server(hostile.toy_smtp, certdir=certdir) as srv:
        t0 = time.monotonic()
        p = replay("--port", srv.port, "--jobs", "6", "--json", tmp_path / "r.json", *files)
        elapsed = time.monotonic() - t0
    assert p.returncode == 0, p.err
    assert elapsed < 3.0, elapsed  # 6 x 0.7 s in sequence would be 4.2 s
    ids = [t["id"] for t in report(tmp_path / "r.json")["tests"]]
    assert ids == ["par.%d" % i for i in range(6)]  # input order, not finish order


def test_sigint_writes_reports_of_finished_tests(tmp_path, certdir):
    files = [write(tmp_path, "a%d.session" % i,
                   "@test slow.%d\n@protocol smtp\nS: 220 ${*}\n@sleep %d\nC: QUIT\nS: 221 ${*}\n"
                   % (i, 100 if i == 0 else 20000)) for i in range(3)]
    out, xml = tmp_path / "r.json", tmp_path / "r.xml"
    with hostile.Server(hostile.toy_smtp, certdir=certdir) as srv:
        proc = subprocess.Popen([MAILSPEC, "replay", "--port", str(srv.port), "--json", str(out),
                                 "--junit", str(xml), *files],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 2, err
    r = report(out)
    assert r["interrupted"] is True
    assert [t["id"] for t in r["tests"]] == ["slow.0"]
    assert r["tests"][0]["result"] == "pass"
    ET.parse(xml)
    assert not [n for n in os.listdir(tmp_path) if ".tmp." in n]


def test_ipv6(tmp_path, certdir):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        srv = hostile.Server(hostile.toy_imap, certdir=certdir, family=socket.AF_INET6, host="::1")
    except OSError as e:
        pytest.skip("no ::1: %s" % e)
    with srv:
        p = replay("--host", "::1", "--port", srv.port, os.path.join(EX, "imap", "capability.session"))
    assert p.returncode == 0, p.err


def test_list(tmp_path):
    p = replay("--list", os.path.join(EX, "imap"))
    assert p.returncode == 0
    assert "imap.starttls.injection" in p.out and "MUST" in p.out


def test_no_color_when_not_tty(tmp_path, certdir):
    with hostile.Server(hostile.toy_imap, certdir=certdir) as srv:
        p = replay("--port", srv.port, os.path.join(EX, "imap", "capability.session"))
    assert "\033[" not in p.err


def test_quirk_opt_in(tmp_path, certdir):
    """A bare-LF reply breaks RFC 5321; @quirk bare-lf accepts it (named opt-in)."""
    def bare_lf_smtp(conn):
        conn.send("220 toy ready\n")
        conn.readline()
    strict = write(tmp_path, "s.session", "@protocol smtp\nS: 220 ${*}\nC: QUIT\n")
    lenient = write(tmp_path, "l.session", "@protocol smtp\n@quirk bare-lf\nS: 220 ${*}\nC: QUIT\n")
    with hostile.Server(bare_lf_smtp, certdir=certdir) as srv:
        a = replay("--port", srv.port, strict)
        b = replay("--port", srv.port, lenient)
    assert a.returncode == 1 and "bare LF" in a.err, a.err
    assert b.returncode == 0, b.err
