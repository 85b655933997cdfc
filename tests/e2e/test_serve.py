"""`mailspec serve` against real mail clients (docs/serve.md).

Each real client runs once per client test (conformance/clients/<proto>/)
against mailspec on loopback; its verdicts must equal the ones recorded in
the table of docs/serve.md (RECORDED below), so a change in mailspec or in
a client shows up. A deliberately vulnerable fixture client
(clients/starttls_fixture.py) must be flagged by the injection and
stripping tests and its fixed twin must not. Hostile peers (garbage, huge
lines, a close mid-command, silence, no connection at all) must give a
clear result in bounded time.
"""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import MAILSPEC, ROOT

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = os.path.join(HERE, "clients")
sys.path.insert(0, CLIENTS)
import serve_certs  # noqa: E402

PY = "/usr/bin/python3"
USER, PASSWORD = "alice", "s3cret-pw"
SUITE = os.path.join(ROOT, "conformance", "clients")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("serve-certs")
    paths = serve_certs.make(str(d))
    paths["dir"] = str(d)
    msg = d / "msg.txt"
    msg.write_bytes(b"Subject: serve test\r\n\r\nHello.\r\n.leading dot\r\n")
    paths["msg"] = str(msg)
    for proto in ("imap", "pop3"):
        rc = d / ("fetchmailrc-" + proto)
        rc.write_text('poll localhost protocol %s user "%s" password "%s" sslcertck '
                      'sslcertfile "%s" sslproto "tls1.2+" keep mda "/bin/cat >/dev/null"\n'
                      % (proto.upper(), USER, PASSWORD, paths["ca"]))
        rc.chmod(0o600)
        paths["fetchmailrc-" + proto] = str(rc)
    # isync 1.4 (mbsync): PORT and DIR filled in per run
    mb = d / "mbsyncrc.in"
    mb.write_text("IMAPAccount serve\nHost localhost\nPort PORT\nUser %s\nPass %s\n"
                  "SSLType STARTTLS\nCertificateFile %s\nAuthMechs LOGIN PLAIN\n\n"
                  "IMAPStore remote\nAccount serve\n\n"
                  "MaildirStore local\nPath DIR/mail/\nInbox DIR/mail/INBOX\n\n"
                  "Channel inbox\nFar :remote:INBOX\nNear :local:\nCreate Near\nSync Pull\n"
                  "SyncState *\n" % (USER, PASSWORD, paths["ca"]))
    paths["mbsyncrc"] = str(mb)
    # getmail6 (implicit TLS only: it has no STARTTLS); PORT filled in per run
    gm = d / "getmailrc.in"
    gm.write_text("[retriever]\ntype = SimpleIMAPSSLRetriever\nserver = localhost\nport = PORT\n"
                  "username = %s\npassword = %s\nca_certs = %s\nmailboxes = (\"INBOX\",)\n\n"
                  "[destination]\ntype = MDA_external\npath = /bin/sh\n"
                  "arguments = (\"-c\", \"cat >/dev/null\")\nallow_root_commands = true\n\n"
                  "[options]\nread_all = true\ndelete = false\n" % (USER, PASSWORD, paths["ca"]))
    paths["getmailrc"] = str(gm)
    return paths


def serve(certs, tmp_path, proto, client, scripts=None, tls="starttls", timeout=3,
          client_timeout=20, extra=()):
    """Run mailspec serve; returns (process, report document or None)."""
    out = tmp_path / ("report-%d.json" % time.monotonic_ns())
    args = [MAILSPEC, "serve", "--protocol", proto, "--listen", "127.0.0.1:0",
            "--tls", tls, "--user", USER, "--password", PASSWORD,
            "--timeout", str(timeout), "--client-timeout", str(client_timeout),
            "--json", str(out), "-q"]
    if tls != "none":
        args += ["--cert", certs["server"], "--key", certs["server"],
                 "--cert-dir", certs["dir"]]
    if client is not None:
        args += ["--client", client]
    args += list(extra)
    args += scripts if scripts is not None else [os.path.join(SUITE, proto)]
    proc = subprocess.run(args, capture_output=True, timeout=600)
    doc = json.loads(out.read_text()) if out.exists() else None
    return proc, doc


def verdicts(doc):
    return {t["id"]: t["result"] for t in doc["tests"]}


IMAP_TESTS = ["imap.client.baseline", "imap.client.cert.expired", "imap.client.cert.selfsigned",
              "imap.client.cert.wrongname", "imap.client.starttls.capability-change",
              "imap.client.starttls.injection", "imap.client.starttls.preauth",
              "imap.client.starttls.refused", "imap.client.starttls.untagged-capability",
              "imap.client.robust.long-line", "imap.client.robust.malformed",
              "imap.client.tricky-message"]
SMTP_TESTS = ["smtp.client.baseline", "smtp.client.cert.expired", "smtp.client.cert.selfsigned",
              "smtp.client.cert.wrongname", "smtp.client.starttls.ehlo-after-tls",
              "smtp.client.starttls.injection", "smtp.client.starttls.refused",
              "smtp.client.robust.long-line", "smtp.client.robust.malformed"]
POP3_TESTS = ["pop3.client.baseline", "pop3.client.cert.expired", "pop3.client.cert.selfsigned",
              "pop3.client.cert.wrongname", "pop3.client.stls.injection",
              "pop3.client.stls.refused", "pop3.client.tricky-message"]
TESTS = {"imap": IMAP_TESTS, "smtp": SMTP_TESTS, "pop3": POP3_TESTS}


def client_command(name, proto, c):
    """The --client command of each client, configured to require STARTTLS
    and to trust only the test CA."""
    ca, u, p = c["ca"], USER, PASSWORD
    fixture = os.path.join(CLIENTS, "starttls_fixture.py")
    if name == "python":
        return "%s %s %s {port} starttls %s %s %s" % (
            PY, os.path.join(CLIENTS, "serve_py.py"), proto, ca, u, p)
    if name in ("fixture-vulnerable", "fixture-fixed"):
        return "%s %s %s %s {port} %s %s %s" % (PY, fixture, name.split("-")[1], proto, ca, u, p)
    if name == "curl" and proto == "imap":
        return ("curl -sS --ssl-reqd --cacert %s -u %s:%s 'imap://localhost:{port}/INBOX;UID=2'"
                % (ca, u, p))
    if name == "curl" and proto == "smtp":
        return ("curl -sS --ssl-reqd --cacert %s -u %s:%s smtp://localhost:{port} "
                "--mail-from a@example.org --mail-rcpt b@example.org -T %s" % (ca, u, p, c["msg"]))
    if name == "swaks":
        return ("swaks --server localhost --port {port} --tls --tls-verify --tls-ca-path %s "
                "--auth PLAIN --auth-user %s --auth-password %s --from a@example.org "
                "--to b@example.org" % (ca, u, p))
    if name == "msmtp":
        return ("msmtp --host=localhost --port={port} --tls=on --tls-starttls=on "
                "--tls-trust-file=%s --auth=plain --user=%s --passwordeval='echo %s' "
                "--from=a@example.org b@example.org < %s" % (ca, u, p, c["msg"]))
    if name == "curl" and proto == "pop3":
        return ("curl -sS --ssl-reqd --cacert %s -u %s:%s 'pop3://localhost:{port}/2'"
                % (ca, u, p))
    if name == "mbsync":
        return ("d=$(mktemp -d %s/mbsync.XXXXXX) && mkdir -p $d/mail && "
                "sed -e s/PORT/{port}/ -e \"s|DIR|$d|\" %s > $d/rc && HOME=$d mbsync -c $d/rc inbox"
                % (os.path.dirname(c["mbsyncrc"]), c["mbsyncrc"]))
    if name == "fetchmail":
        # a fresh home per run: fetchmail remembers POP3 UIDs it has seen
        # (and exits 1, "no mail", when there is nothing new)
        rc = c["fetchmailrc-" + proto]
        return ("d=$(mktemp -d %s/fetchmail.XXXXXX) && FETCHMAILHOME=$d HOME=$d "
                "fetchmail --nosyslog -f %s --service {port} localhost"
                % (os.path.dirname(rc), rc))
    raise AssertionError(name)


# The verdicts recorded in docs/serve.md ("Verdicts of real clients"): the
# tests each client fails; every other test of its protocol passes.
RECORDED = {
    ("python", "imap"): set(),
    ("python", "smtp"): set(),
    ("python", "pop3"): set(),
    ("curl", "pop3"): set(),
    ("fetchmail", "pop3"): set(),
    ("curl", "imap"): set(),
    ("curl", "smtp"): set(),
    ("swaks", "smtp"): {"smtp.client.starttls.injection", "smtp.client.cert.wrongname"},
    ("msmtp", "smtp"): set(),
    ("fetchmail", "imap"): set(),
    ("mbsync", "imap"): set(),
    ("fixture-fixed", "imap"): set(),
    ("fixture-fixed", "smtp"): set(),
    ("fixture-vulnerable", "imap"): {
        "imap.client.cert.expired", "imap.client.cert.selfsigned", "imap.client.cert.wrongname",
        "imap.client.starttls.capability-change", "imap.client.starttls.injection",
        "imap.client.starttls.preauth", "imap.client.starttls.refused"},
    ("fixture-vulnerable", "smtp"): {
        "smtp.client.cert.expired", "smtp.client.cert.selfsigned", "smtp.client.cert.wrongname",
        "smtp.client.starttls.injection", "smtp.client.starttls.refused"},
}
BINARIES = {"curl": "curl", "swaks": "swaks", "msmtp": "msmtp", "fetchmail": "fetchmail",
            "mbsync": "mbsync"}


@pytest.mark.parametrize("name,proto", sorted(RECORDED))
def test_real_client_verdicts(certs, tmp_path, name, proto):
    binary = BINARIES.get(name)
    assert binary is None or shutil.which(binary), \
        "%s is not installed: run scripts/install-deps.sh" % binary
    proc, doc = serve(certs, tmp_path, proto, client_command(name, proto, certs))
    assert doc is not None, proc.stderr.decode()
    got = verdicts(doc)
    tests = TESTS[proto]
    tests = tests + ["%s.client.implicit.cert.%s" % (proto, c)
                     for c in ("expired", "selfsigned", "wrongname")]
    want = {t: ("fail" if t in RECORDED[(name, proto)] else
                "not-applicable" if ".implicit." in t else "pass") for t in tests}
    assert got == want, "\n".join(
        "%s: %s %s" % (t["id"], t["result"], t["message"]) for t in doc["tests"])
    assert proc.returncode == (1 if any(
        t["result"] == "fail" and t["level"] == "MUST" for t in doc["tests"]) else 0)
    # the report judges a client; the password appears nowhere in it
    assert doc["judged"] == "client"
    text = json.dumps(doc)
    assert PASSWORD not in text


IMPLICIT = [("python", "imap"), ("curl", "imap"), ("getmail", "imap"), ("python", "smtp"),
            ("curl", "smtp"), ("python", "pop3"), ("curl", "pop3")]


@pytest.mark.parametrize("name,proto", IMPLICIT)
def test_implicit_tls_clients(certs, tmp_path, name, proto):
    """Over implicit TLS (RFC 8314): the baseline, the certificate and the
    robustness tests apply, the STARTTLS tests do not."""
    ca, u, p = certs["ca"], USER, PASSWORD
    if name == "python":
        cmd = "%s %s %s {port} implicit %s %s %s" % (
            PY, os.path.join(CLIENTS, "serve_py.py"), proto, ca, u, p)
    elif name == "curl" and proto == "smtp":
        cmd = ("curl -sS --cacert %s -u %s:%s smtps://localhost:{port} --mail-from a@example.org "
               "--mail-rcpt b@example.org -T %s" % (ca, u, p, certs["msg"]))
    elif name == "curl":
        path = "INBOX;UID=2" if proto == "imap" else "2"
        cmd = "curl -sS --cacert %s -u %s:%s '%ss://localhost:{port}/%s'" % (ca, u, p, proto, path)
    else:
        assert shutil.which("getmail"), "getmail is not installed: run scripts/install-deps.sh"
        cmd = ("d=$(mktemp -d %s/getmail.XXXXXX) && sed -e s/PORT/{port}/ %s > $d/getmailrc && "
               "getmail --getmaildir $d --rcfile getmailrc"
               % (os.path.dirname(certs["getmailrc"]), certs["getmailrc"]))
    d = os.path.join(SUITE, proto)
    scripts = [os.path.join(d, f) for f in sorted(os.listdir(d))
               if f.startswith(("00-", "implicit-", "robust-"))]
    proc, doc = serve(certs, tmp_path, proto, cmd, tls="implicit", scripts=scripts)
    got = verdicts(doc)
    assert len(got) == len(scripts) and set(got.values()) == {"pass"}, doc["tests"]
    assert proc.returncode == 0
    # the STARTTLS tests do not apply over implicit TLS
    refused = [f for f in os.listdir(d) if f.endswith("-refused.session")]
    proc, doc = serve(certs, tmp_path, proto, cmd, tls="implicit",
                      scripts=[os.path.join(d, refused[0])])
    assert set(verdicts(doc).values()) == {"not-applicable"}


def test_fixture_findings_name_the_bug(certs, tmp_path):
    """The vulnerable twin's injection and stripping failures say what was found."""
    proc, doc = serve(certs, tmp_path, "imap",
                      client_command("fixture-vulnerable", "imap", certs),
                      scripts=[os.path.join(SUITE, "imap", "starttls-injection.session"),
                               os.path.join(SUITE, "imap", "starttls-refused.session")])
    by = {t["id"]: t for t in doc["tests"]}
    inj = by["imap.client.starttls.injection"]
    assert inj["result"] == "fail" and inj["message"].startswith("FINDING: vulnerable to "
                                                                 "STARTTLS response injection")
    strip = by["imap.client.starttls.refused"]
    assert strip["result"] == "fail" and "LOGIN" in strip["message"]
    assert "${password}" in strip["transcript"]  # the cleartext LOGIN, redacted
    assert proc.returncode == 1


def test_reports(certs, tmp_path):
    """JSON, JUnit (valid against the xUnit schema) and HTML, as certify writes them."""
    junit, html = tmp_path / "r.xml", tmp_path / "r.html"
    proc, doc = serve(certs, tmp_path, "smtp", client_command("fixture-vulnerable", "smtp", certs),
                      scripts=[os.path.join(SUITE, "smtp", "starttls-refused.session")],
                      extra=["--junit", str(junit), "--html", str(html)])
    assert doc["host"] == "127.0.0.1" and doc["port"] > 0 and doc["transport"] == "starttls"
    assert doc["client"].endswith("alice ${password}")  # the --client command, masked
    assert PASSWORD not in json.dumps(doc)  # command line, --client, transcripts
    x = subprocess.run(["xmllint", "--noout", "--schema",
                        os.path.join(ROOT, "tests", "junit", "junit-10.xsd"), str(junit)],
                       capture_output=True)
    assert x.returncode == 0, x.stderr
    assert "smtp.client.starttls.refused" in junit.read_text()
    page = html.read_text()
    assert "smtp.client.starttls.refused" in page and PASSWORD not in page


def test_quit_after_refused_starttls_is_a_close(certs, tmp_path):
    """A client that answers the refused STARTTLS with QUIT (allowed) ends
    the session: that is the close the stripping test expects, not a
    failure (a false failure found while writing the tests)."""
    f = tmp_path / "quit.py"
    f.write_text("import smtplib, sys\n"
                 "c = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=5)\n"
                 "c.ehlo()\nc.docmd('STARTTLS')\nc.quit()\n")
    proc, doc = serve(certs, tmp_path, "smtp", "%s %s {port}" % (PY, f),
                      scripts=[os.path.join(SUITE, "smtp", "starttls-refused.session")])
    t = doc["tests"][0]
    assert t["result"] == "pass", t["message"]
    assert "C: quit\nS: 221 2.0.0 Bye\n@close" in t["transcript"]


def test_baseline_failure_blocks_exit_judgements(certs, tmp_path):
    """A client that fails against the compliant server too (wrong password)
    is not accused by the tests that judge its exit status."""
    bad = "%s %s imap {port} starttls %s %s wrong-password" % (
        PY, os.path.join(CLIENTS, "serve_py.py"), certs["ca"], USER)
    proc, doc = serve(certs, tmp_path, "imap", bad,
                      scripts=[os.path.join(SUITE, "imap", "00-baseline.session"),
                               os.path.join(SUITE, "imap", "starttls-capability-change.session")])
    got = verdicts(doc)
    assert got["imap.client.baseline"] == "fail"
    assert got["imap.client.starttls.capability-change"] == "blocked"
    t = [t for t in doc["tests"] if t["result"] == "blocked"][0]
    assert t["message"] == ("the client exited with status 1; not judged: the client fails the "
                            "baseline test too") and t["finding"] == ""


def test_builtin_server_alone(certs, tmp_path):
    """The built-in server alone (no scripts) over implicit TLS and in cleartext."""
    for proto, tls in (("pop3", "implicit"), ("imap", "implicit"), ("smtp", "none")):
        cmd = "%s %s %s {port} %s %s %s %s" % (PY, os.path.join(CLIENTS, "serve_py.py"), proto,
                                               tls, certs["ca"], USER, PASSWORD)
        proc, doc = serve(certs, tmp_path, proto, cmd, scripts=[], tls=tls)
        assert verdicts(doc) == {"serve.responder": "pass"}, doc["tests"][0]["transcript"]


def test_synchronizing_literal_gets_a_go_ahead(certs, tmp_path):
    """An IMAP client that announces {n} waits for "+" before the literal
    (RFC 9051 4.3): the built-in server sends it, once per literal."""
    f = tmp_path / "literal.py"
    f.write_text(
        "import socket, sys\n"
        "s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)\n"
        "r = s.makefile('rb')\n"
        "assert r.readline().startswith(b'* OK')\n"
        "s.sendall(b'a1 LOGIN {5}\\r\\n'); assert r.readline().startswith(b'+ ')\n"
        "s.sendall(b'%s {%d}\\r\\n'); assert r.readline().startswith(b'+ ')\n"
        "s.sendall(b'%s\\r\\n'); assert r.readline().startswith(b'a1 OK')\n"
        "s.sendall(b'a2 LOGOUT\\r\\n'); r.readline(); r.readline()\n"
        % (USER, len(PASSWORD), PASSWORD))
    proc, doc = serve(certs, tmp_path, "imap", "%s %s {port}" % (PY, f), scripts=[], tls="none")
    t = doc["tests"][0]
    assert t["result"] == "pass", t["transcript"]
    assert t["transcript"].count("S: + Ready for literal data") == 2
    assert "C: a1 LOGIN {5}\\r\\n%s ${password}" % USER in t["transcript"]


# ---------------------------------------------------------------- hostile --

def hostile(tmp_path, code):
    """A client command running code with s, a socket connected to mailspec."""
    f = tmp_path / "hostile.py"
    f.write_text("import socket, sys, time\n"
                 "s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n" + code + "\n")
    return "%s %s {port}" % (PY, f)


REFUSED = os.path.join(SUITE, "imap", "starttls-refused.session")


# The script waits for STARTTLS in its setup phase: whatever else the peer
# does blocks the test (never a crash, a hang or a made-up verdict), and the
# transcript says what happened.
@pytest.mark.parametrize("what,code,result,words,note", [
    ("garbage", "s.recv(100); s.sendall(bytes(range(256))*40 + b'\\r\\n'); time.sleep(1)",
     "blocked", "closed", "the client's message breaks"),
    ("huge-line", "s.recv(100); s.sendall(b'a1 ' + b'A'*(20<<20)); time.sleep(1)",
     "blocked", "closed", "the client's message breaks"),
    ("close-mid-command", "s.recv(100); s.sendall(b'a1 STARTT'); s.close()",
     "blocked", "closed", "inside a message"),
    ("silent", "time.sleep(30)", "blocked", "sent nothing", "killed after --client-timeout"),
    ("connects-and-closes", "s.close(); time.sleep(30)", "blocked", "closed",
     "killed after --client-timeout"),
])
def test_hostile_client(certs, tmp_path, what, code, result, words, note):
    start = time.monotonic()
    proc, doc = serve(certs, tmp_path, "imap", hostile(tmp_path, code), scripts=[REFUSED],
                      timeout=2,
                      client_timeout=6)
    elapsed = time.monotonic() - start
    assert proc.returncode in (1, 6), proc.stderr.decode()
    t = doc["tests"][0]
    assert t["result"] == result and words in t["message"], t
    assert note in t["transcript"], t["transcript"]
    assert elapsed < 30


@pytest.mark.parametrize("what,code,words", [
    ("hangs", "s.recv(100000); time.sleep(60)", "did not exit within 5 s (it hung)"),
    ("crashes", "import os, signal; s.recv(100000); os.kill(os.getpid(), signal.SIGSEGV)",
     "crashed (signal 11)"),
])
def test_robustness_verdicts(certs, tmp_path, what, code, words):
    """A client that hangs or crashes on the long line fails the robustness test."""
    proc, doc = serve(certs, tmp_path, "imap", hostile(tmp_path, code), timeout=2,
                      client_timeout=5,
                      scripts=[os.path.join(SUITE, "imap", "robust-long-line.session")])
    t = doc["tests"][0]
    assert t["result"] == "fail" and words in t["message"], t


def test_no_client_connects(certs, tmp_path):
    """--client that never connects, and manual mode with nobody connecting."""
    proc, doc = serve(certs, tmp_path, "smtp", "sleep 30", timeout=2, client_timeout=4,
                      scripts=[os.path.join(SUITE, "smtp", "00-baseline.session")])
    t = doc["tests"][0]
    assert (t["result"], proc.returncode) == ("blocked", 6)
    assert "no client connected" in t["message"]
    start = time.monotonic()
    proc, doc = serve(certs, tmp_path, "smtp", None, timeout=2,
                      scripts=[os.path.join(SUITE, "smtp", "00-baseline.session")])
    assert doc["tests"][0]["result"] == "blocked" and proc.returncode == 6
    assert time.monotonic() - start < 15


def test_busy_peer_is_bounded(certs, tmp_path):
    """Manual mode (no --client): a peer that sends NOOP forever is cut off
    at --client-timeout; serve ends with a result."""
    import re
    import socket
    out = tmp_path / "busy.json"
    p = subprocess.Popen([MAILSPEC, "serve", "--protocol", "imap", "--listen", "127.0.0.1:0",
                          "--timeout", "5", "--client-timeout", "3", "--json", str(out)],
                         stderr=subprocess.PIPE)
    try:
        line = p.stderr.readline().decode()
        port = int(re.search(r"port (\d+)", line).group(1))
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        start = time.monotonic()
        n = 0
        try:
            while time.monotonic() - start < 20:
                s.sendall(b"a%d NOOP\r\n" % n)
                n += 1
                time.sleep(0.05)
                s.recv(65536)
        except OSError:
            pass
        assert time.monotonic() - start < 10, "serve did not cut the session off"
        assert p.wait(timeout=20) == 6
    finally:
        p.kill()
        p.wait()
    t = json.loads(out.read_text())["tests"][0]
    assert t["result"] == "blocked" and "past --client-timeout" in t["message"], t["message"]


def test_make_install_puts_the_client_tests(tmp_path):
    build = os.path.dirname(os.path.abspath(MAILSPEC))
    r = subprocess.run(["make", "-s", "install", "BUILD=%s" % build, "PREFIX=%s" % tmp_path],
                       cwd=ROOT, capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    for proto in ("imap", "pop3", "smtp"):
        got = sorted(os.listdir(tmp_path / "share" / "mailspec" / "clients" / proto))
        assert got == sorted(f for f in os.listdir(os.path.join(SUITE, proto))
                             if f.endswith(".session"))


def test_usage_errors(certs, tmp_path):
    r = subprocess.run([MAILSPEC, "serve", "--protocol", "imap"], capture_output=True)
    assert r.returncode == 2 and b"--listen" in r.stderr
    bad = tmp_path / "bad.session"
    bad.write_text("@client-exit maybe\nS: * OK\n")
    r = subprocess.run([MAILSPEC, "serve", "--protocol", "imap", "--listen", "127.0.0.1:0",
                        str(bad)], capture_output=True)
    assert r.returncode == 2 and b"bad.session:1:1: error: @client-exit takes ok or any" in r.stderr
    bad.write_text("@protocol smtp\nS: 220 x\n@tls\n@tls-close\nC: NOOP\n")
    r = subprocess.run([MAILSPEC, "serve", "--protocol", "smtp", "--listen", "127.0.0.1:0",
                        str(bad)], capture_output=True, timeout=30)
    assert r.returncode == 2 and b"bad.session:4:1: error: @tls-close is not available" in r.stderr
