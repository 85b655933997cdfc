"""End-to-end tests of `mailspec certify` (docs/certify.md).

Against the lab's real servers (Dovecot for IMAP/POP3, Postfix for SMTP) over
plain TCP, STARTTLS and implicit TLS: concrete test outcomes, the JSON report
contract, JUnit that parses, the HTML report and the --expect-fail
allow-list. Against deliberately non-compliant servers (noncompliant.py): the
tests meant to catch each flaw do, and no others.
"""

import base64
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import lab  # noqa: E402,F401  (pytest fixture)
from noncompliant import Pop3NoUserServer, SmtpServer  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SUITES = os.path.join(ROOT, "conformance", "suites")
MAILSPEC = os.environ.get("MAILSPEC", os.path.join(ROOT, "build", "mailspec"))
RUN_TIMEOUT = 180


def certify(*args, timeout=RUN_TIMEOUT):
    return subprocess.run([MAILSPEC, "certify", *args], capture_output=True, text=True,
                          timeout=timeout)


def results(report):
    return {t["id"]: t for t in report["tests"]}


def failed_ids(report):
    return {t["id"] for t in report["tests"] if t["result"] in ("fail", "error")}


# ------------------------------------------------------------ the suites --

def read_meta(path):
    meta = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"@(test|title|rfc|level|protocol|transport) (.*)$", line.rstrip("\n"))
            if m:
                meta[m.group(1)] = m.group(2)
    return meta


@pytest.mark.parametrize("proto", ["smtp", "pop3", "imap"])
def test_suite_metadata(proto):
    """Every test has an id (unique, prefixed by its protocol), a title, an
    RFC section, an RFC 2119 level and its protocol."""
    files = sorted(f for f in os.listdir(os.path.join(SUITES, proto)) if f.endswith(".session"))
    assert len(files) >= 25
    ids = set()
    for name in files:
        meta = read_meta(os.path.join(SUITES, proto, name))
        assert meta.get("test", "").startswith(proto + "."), name
        assert meta["test"] not in ids, meta["test"]
        ids.add(meta["test"])
        assert meta.get("title"), name
        assert re.match(r"^\d{3,4} \d+(\.\d+)*$", meta.get("rfc", "")), (name, meta.get("rfc"))
        assert meta.get("level") in ("MUST", "SHOULD", "MAY"), name
        assert meta.get("protocol") == proto, name
    # docs/suites.md lists every test with its level and RFC section
    with open(os.path.join(ROOT, "docs", "suites.md"), encoding="utf-8") as f:
        doc = f.read()
    for name in files:
        meta = read_meta(os.path.join(SUITES, proto, name))
        assert "| `%s` | %s | %s |" % (meta["test"], meta["level"], meta["rfc"]) in doc, name


@pytest.mark.parametrize("proto", ["smtp", "pop3", "imap"])
def test_list(mailspec, proto):
    r = certify("--protocol", proto, "--list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "script error" not in r.stdout
    assert len(lines) == len([f for f in os.listdir(os.path.join(SUITES, proto))
                              if f.endswith(".session")])
    assert all(line.startswith(proto + ".") for line in lines)


# ------------------------------------------------------------ usage --

def test_usage_errors(mailspec):
    assert certify().returncode == 2
    assert certify("--help").returncode == 0
    assert certify("--protocol", "nntp", "--host", "127.0.0.1").returncode == 2
    assert certify("--protocol", "smtp", "--host", "127.0.0.1", "--tls", "ssl").returncode == 2
    assert certify("--protocol", "smtp", "--host", "127.0.0.1", "--user", "u").returncode == 2
    assert certify("--protocol", "smtp", "--host", "127.0.0.1", "--jobs", "0").returncode == 2
    assert certify("--protocol", "smtp", "--host", "127.0.0.1", "--rcpt", "a b").returncode == 2
    assert certify("--html-from", "x.json").returncode == 2  # no --html


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_connection_refused_is_exit_2(mailspec, tmp_path):
    out = tmp_path / "r.json"
    r = certify("--protocol", "smtp", "--host", "127.0.0.1", "--port", str(free_port()),
                "--json", str(out))
    assert r.returncode == 2
    assert "cannot connect" in r.stderr
    assert not out.exists()


def test_silent_server_times_out(mailspec, tmp_path):
    """A server that accepts and never speaks: every wait is bounded."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    conns = []
    stop = threading.Event()

    def accept():
        ls.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(ls.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        out = tmp_path / "r.json"
        start = time.monotonic()
        r = certify("--protocol", "smtp", "--host", "127.0.0.1", "--port",
                    str(ls.getsockname()[1]), "--timeout", "1", "--only", "smtp.greeting.220",
                    "--json", str(out), timeout=30)
        assert time.monotonic() - start < 15
        report = json.loads(out.read_text())
        test = results(report)["smtp.greeting.220"]
        assert test["result"] == "error"
        assert "timed out" in test["message"]
        assert r.returncode == 1  # a MUST-level test did not pass
    finally:
        stop.set()
        t.join(2)
        for c in conns:
            c.close()
        ls.close()


def test_bad_allow_list_is_exit_2(mailspec, tmp_path, lab):
    bad = tmp_path / "expect.txt"
    bad.write_text("# comment\nsmtp.help.21x\n")
    r = certify("--protocol", "smtp", "--host", lab.host, "--port", str(lab.smtp_port),
                "--expect-fail", str(bad))
    assert r.returncode == 2
    assert "2: missing reason" in r.stderr


# ------------------------------------------------------------ the lab --

def lab_runs(lab):
    return {
        ("imap", "none"): (lab.imap_port, True),
        ("imap", "starttls"): (lab.imap_port, True),
        ("imap", "implicit"): (lab.imaps_port, True),
        ("pop3", "none"): (lab.pop3_port, True),
        ("pop3", "starttls"): (lab.pop3_port, True),
        ("pop3", "implicit"): (lab.pop3s_port, True),
        ("smtp", "none"): (lab.smtp_port, False),
        ("smtp", "starttls"): (lab.submission_port, True),
        ("smtp", "implicit"): (lab.smtps_port, True),
    }


_lab_cache = {}


def run_lab(lab, tmp_path_factory, proto, tls, *extra):
    """certify PROTO over TLS against the lab once per argument set."""
    key = (proto, tls, extra)
    if key in _lab_cache:
        return _lab_cache[key]
    port, creds = lab_runs(lab)[(proto, tls)]
    d = tmp_path_factory.mktemp("%s-%s" % (proto, tls))
    args = ["--protocol", proto, "--host", lab.host, "--port", str(port), "--tls", tls,
            "--cafile", lab.cafile, "--json", str(d / "r.json"), "--junit", str(d / "r.xml"),
            "--html", str(d / "r.html"), *extra]
    if creds:
        args += ["--user", lab.user, "--password", lab.password]
    r = certify(*args)
    assert (d / "r.json").exists(), r.stdout + r.stderr
    out = (r, json.loads((d / "r.json").read_text()), d)
    _lab_cache[key] = out
    return out


RUNS = [(p, t) for p in ("imap", "pop3", "smtp") for t in ("none", "starttls", "implicit")]


@pytest.mark.parametrize("proto,tls", RUNS)
def test_lab_report_contract(lab, tmp_path_factory, proto, tls):
    r, rep, d = run_lab(lab, tmp_path_factory, proto, tls)
    port, _ = lab_runs(lab)[(proto, tls)]
    assert rep["protocol"] == proto
    assert rep["host"] == lab.host
    assert rep["port"] == port
    assert rep["transport"] == tls
    for key in ("version", "cipher", "verified"):
        assert key in rep["tls"]
    if tls == "none":
        assert rep["tls"]["version"] is None
    else:
        assert rep["tls"]["version"] in ("TLSv1.2", "TLSv1.3")
        assert rep["tls"]["cipher"]
        assert rep["tls"]["verified"] is True
    for key in ("pass", "fail", "skip", "error"):
        assert isinstance(rep["summary"][key], int)
    assert sum(rep["summary"][k] for k in ("pass", "fail", "skip", "error")) == len(rep["tests"])
    # the suite, plus the two RFC 8996 TLS version tests on TLS transports
    assert len(rep["tests"]) == len(os.listdir(os.path.join(SUITES, proto))) + (tls != "none") * 2
    if tls != "none":
        versions = rep["tls_versions"]
        assert set(versions) == {"TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"}
        assert versions["TLSv1.2"] is True or versions["TLSv1.3"] is True
        assert rep["tls_min_version"] in versions
        assert versions[rep["tls_min_version"]] is True
    else:
        assert "tls_versions" not in rep
    for t in rep["tests"]:
        for key in ("id", "title", "rfc", "level", "result", "message", "transcript"):
            assert key in t, (t.get("id"), key)
        assert t["result"] in ("pass", "fail", "skip", "error")
        assert t["level"] in ("MUST", "SHOULD", "MAY")
        if t["result"] == "skip":
            assert t["message"], t["id"]  # skipped with the reason
        if t["result"] in ("pass", "fail") and ".tls.rfc8996." not in t["id"]:
            assert t["transcript"].count("\nS: ") >= 1, t["id"]
    # Credentials never reach a report.
    text = (d / "r.json").read_text() + (d / "r.xml").read_text() + (d / "r.html").read_text()
    assert lab.password not in text
    plain = base64.b64encode(b"\0" + lab.user.encode() + b"\0" + lab.password.encode()).decode()
    assert plain not in text
    # Exit status: Dovecot passes every MUST; Postfix 3.7 fails the smuggling MUSTs.
    assert r.returncode == (1 if proto == "smtp" else 0), r.stdout[-3000:]
    assert rep["compliant"] is (proto != "smtp")


@pytest.mark.parametrize("proto,tls", RUNS)
def test_lab_junit_and_html(lab, tmp_path_factory, proto, tls):
    _, rep, d = run_lab(lab, tmp_path_factory, proto, tls)
    root = ET.parse(str(d / "r.xml")).getroot()
    suites = root.findall("testsuite")
    assert len(suites) == 1
    cases = suites[0].findall("testcase")
    assert len(cases) == len(rep["tests"])
    assert int(suites[0].get("failures")) == rep["summary"]["fail"]
    assert int(suites[0].get("skipped")) == rep["summary"]["skip"]
    failing = [c for c in cases if c.find("failure") is not None]
    assert len(failing) == rep["summary"]["fail"]
    html = (d / "r.html").read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "<script src" not in html and "<link" not in html
    for t in rep["tests"]:
        assert ">%s</code>" % t["id"] in html
    assert "Compliance matrix" in html
    assert "<h3>RFC " in html


LAB_PASSES = {
    "imap": ["imap.greeting.ok", "imap.capability.imap4rev", "imap.logout.bye-ok-close",
             "imap.state.select-before-login", "imap.login.wrong-password-no",
             "imap.select.required-responses", "imap.examine.read-only-code",
             "imap.append.exists-selected", "imap.fetch.header-literal",
             "imap.store.flags-and-search", "imap.move.expunge", "imap.close.silent-expunge",
             "imap.idle.continuation-done", "imap.literal-plus.no-continuation",
             "imap.security.preauth-huge-literal", "imap.authenticate.cancel-bad"],
    "pop3": ["pop3.greeting.ok", "pop3.capa.list", "pop3.user-pass.login",
             "pop3.wrong-state.stat-before-login", "pop3.dele.marks-deleted",
             "pop3.rset.undeletes", "pop3.update.no-quit-no-delete", "pop3.retr.multiline",
             "pop3.uidl.one-message", "pop3.auth.cancel-err", "pop3.resp-codes.auth"],
    "smtp": ["smtp.greeting.220", "smtp.quit.221-close", "smtp.rcpt.before-mail-503",
             "smtp.rset.clears-transaction", "smtp.data.transaction", "smtp.data.dot-stuffing",
             "smtp.pipelining.in-order", "smtp.chunking.bdat-last", "smtp.size.too-big-552",
             "smtp.smuggling.cr-dot-cr", "smtp.rcpt.postmaster"],
}


@pytest.mark.parametrize("proto,tls", RUNS)
def test_lab_outcomes(lab, tmp_path_factory, proto, tls):
    _, rep, _ = run_lab(lab, tmp_path_factory, proto, tls)
    res = results(rep)
    for tid in LAB_PASSES[proto]:
        assert res[tid]["result"] == "pass", (tid, res[tid]["message"])
    if tls == "starttls":
        inj = {"imap": "imap.starttls.injection-discarded",
               "pop3": "pop3.stls.injection-discarded",
               "smtp": "smtp.starttls.injection-discarded"}[proto]
        assert res[inj]["result"] == "pass", res[inj]["message"]
    else:
        # STARTTLS-only tests are skipped with the reason on other transports.
        tid = {"imap": "imap.starttls.refused-inside-tls", "pop3": "pop3.stls.refused-inside-tls",
               "smtp": "smtp.starttls.refused-inside-tls"}[proto]
        assert res[tid]["result"] == "skip"
        assert "starttls" in res[tid]["message"]
    if proto == "smtp":
        # Postfix has no HELP (a SHOULD), and 3.7 ends DATA at a bare LF before "."
        # (smtpd_forbid_bare_newline = no): the three LF variants fail, CR does not.
        assert res["smtp.help.21x"]["result"] == "fail"
        assert "500" in res["smtp.help.21x"]["message"]
        for v in ("lf-dot-lf", "crlf-dot-lf", "lf-dot-crlf"):
            assert res["smtp.smuggling." + v]["result"] == "fail"
        expected = {"smtp.help.21x", "smtp.smuggling.lf-dot-lf", "smtp.smuggling.crlf-dot-lf",
                    "smtp.smuggling.lf-dot-crlf"}
        if tls != "none":
            # Postfix 3.7's default smtpd_tls_protocols still allows TLS 1.0 and 1.1
            # (checked by hand with openssl s_client -tls1); Dovecot refuses them.
            expected |= {"smtp.tls.rfc8996.no-tls1.0", "smtp.tls.rfc8996.no-tls1.1"}
            assert rep["tls_versions"]["TLSv1.0"] is True
            assert rep["tls_min_version"] == "TLSv1.0"
        assert failed_ids(rep) == expected
        if tls == "none":
            # port 25 of the lab offers no AUTH: AUTH tests are skipped, with the reason
            assert res["smtp.auth.cancel-501"]["result"] == "skip"
            assert "AUTH" in res["smtp.auth.cancel-501"]["message"]
        else:
            assert res["smtp.auth.cancel-501"]["result"] == "pass"
            assert res["smtp.auth.twice-503"]["result"] == "pass"
    else:
        assert failed_ids(rep) == set(), [(t, res[t]["message"]) for t in failed_ids(rep)]
        if tls != "none":
            assert res[proto + ".tls.rfc8996.no-tls1.0"]["result"] == "pass"
            assert res[proto + ".tls.rfc8996.no-tls1.1"]["result"] == "pass"
            assert rep["tls_versions"]["TLSv1.0"] is False
            assert rep["tls_min_version"] == "TLSv1.2"


def test_lab_imap_cleans_up(lab, tmp_path_factory):
    """Every mailbox the IMAP suite creates is deleted again."""
    import imaplib
    for tls in ("none", "starttls", "implicit"):
        run_lab(lab, tmp_path_factory, "imap", tls)
    conn = imaplib.IMAP4(lab.host, lab.imap_port, timeout=15)
    try:
        conn.login(lab.user, lab.password)
        typ, data = conn.list('""', "mailspec-*")
        assert typ == "OK"
        assert data == [None], data
        typ, data = conn.select("INBOX", readonly=True)
        assert int(data[0]) >= lab.seed_count  # INBOX untouched by the suites
    finally:
        conn.logout()


def test_lab_expect_fail(lab, tmp_path_factory, tmp_path):
    """The allow-list turns the known Postfix deviations into expected failures."""
    allow = tmp_path / "postfix.txt"
    allow.write_text("# Postfix 3.7 defaults\n"
                     "smtp.smuggling.*   smtpd_forbid_bare_newline = no (CVE-2023-51764)\n"
                     "smtp.vrfy.postmaster-25x  listed but passing\n")
    r, rep, d = run_lab(lab, tmp_path_factory, "smtp", "none", "--expect-fail", str(allow))
    assert r.returncode == 0, r.stdout[-2000:]
    res = results(rep)
    for v in ("lf-dot-lf", "crlf-dot-lf", "lf-dot-crlf"):
        t = res["smtp.smuggling." + v]
        assert t["result"] == "fail"
        assert t["expected_failure"] == "smtpd_forbid_bare_newline = no (CVE-2023-51764)"
    assert res["smtp.smuggling.cr-dot-cr"]["result"] == "pass"
    assert "expected_failure" in res["smtp.smuggling.cr-dot-cr"]  # listed by the prefix
    assert "expected_failure" not in res["smtp.help.21x"]
    assert rep["summary"]["xfail"] == 3
    assert rep["summary"]["xpass"] == 2  # cr-dot-cr and vrfy
    assert rep["compliant"] is True
    assert "expected failure (--expect-fail)" in r.stdout
    # JUnit: allow-listed failures are skipped, not failed
    suite = ET.parse(str(d / "r.xml")).getroot().find("testsuite")
    assert int(suite.get("failures")) == 1  # smtp.help.21x only
    html = (d / "r.html").read_text()
    assert "Allow-listed (--expect-fail): smtpd_forbid_bare_newline" in html


def test_lab_only(lab, tmp_path_factory):
    _, rep, _ = run_lab(lab, tmp_path_factory, "pop3", "none", "--only", "pop3.wrong-state.*",
                        "--only", "pop3.noop.ok")
    ids = {t["id"] for t in rep["tests"]}
    assert ids == {"pop3.wrong-state.pass-without-user", "pop3.wrong-state.stat-before-login",
                   "pop3.wrong-state.retr-before-login", "pop3.wrong-state.user-after-login",
                   "pop3.wrong-state.stls-after-login", "pop3.noop.ok"}


def test_lab_without_credentials_skips_logins(lab, tmp_path):
    out = tmp_path / "r.json"
    r = certify("--protocol", "imap", "--host", lab.host, "--port", str(lab.imap_port),
                "--json", str(out))
    assert r.returncode == 0
    res = results(json.loads(out.read_text()))
    assert res["imap.greeting.ok"]["result"] == "pass"
    assert res["imap.login.ok"]["result"] == "skip"
    assert "--user" in res["imap.login.ok"]["message"]


def test_html_from_matrix(lab, tmp_path_factory, tmp_path):
    paths = []
    for tls in ("none", "starttls", "implicit"):
        _, _, d = run_lab(lab, tmp_path_factory, "pop3", tls)
        paths.append(str(d / "r.json"))
    _, _, d = run_lab(lab, tmp_path_factory, "imap", "none")
    paths.append(str(d / "r.json"))
    out = tmp_path / "all.html"
    r = certify("--html-from", *paths, "--html", str(out))
    assert r.returncode == 0, r.stderr
    html = out.read_text()
    assert html.count("<h3>pop3</h3>") == 1 and html.count("<h3>imap</h3>") == 1
    # pop3 matrix: three transport columns
    pop = html[html.index("<h3>pop3</h3>"):html.index("<h3>imap</h3>")]
    for tls in ("none", "starttls", "implicit"):
        assert "pop3 %s<br>" % tls in pop
    assert pop.count("<tr><td class=id") == len(os.listdir(os.path.join(SUITES, "pop3"))) + 2
    bad = tmp_path / "bad.json"
    bad.write_text("{\"protocol\": 1")
    assert certify("--html-from", str(bad), "--html", str(tmp_path / "x.html")).returncode == 2


# ------------------------------------------------------ non-compliant servers --

INJECTION = {"smtp.starttls.injection-discarded"}
BARE_LF = {"smtp.smuggling.lf-dot-lf", "smtp.smuggling.crlf-dot-lf", "smtp.smuggling.lf-dot-crlf"}


def certify_server(lab, tmp_path, port, tls):
    out = tmp_path / ("nc-%s-%d.json" % (tls, port))
    r = certify("--protocol", "smtp", "--host", "127.0.0.1", "--port", str(port), "--tls", tls,
                "--cafile", lab.cafile, "--timeout", "3", "--json", str(out))
    return r, json.loads(out.read_text())


@pytest.fixture(scope="module")
def certs(lab):
    return os.path.join(lab.dir, "certs", "cert.pem"), os.path.join(lab.dir, "certs", "key.pem")


@pytest.mark.parametrize("tls", ["none", "starttls"])
def test_noncompliant_baseline_passes(lab, certs, tmp_path, tls):
    """The test servers without a flaw pass everything they run: the flaw tests
    below then measure the flaw alone."""
    with SmtpServer(*certs, flaw=None, lifetime=120) as srv:
        r, rep = certify_server(lab, tmp_path, srv.port, tls)
    assert failed_ids(rep) == set(), [(t["id"], t["message"]) for t in rep["tests"]
                                      if t["result"] in ("fail", "error")]
    assert r.returncode == 0
    assert results(rep)["smtp.smuggling.lf-dot-lf"]["result"] == "pass"
    if tls == "starttls":
        assert results(rep)["smtp.starttls.injection-discarded"]["result"] == "pass"
        assert results(rep)["smtp.tls.rfc8996.no-tls1.0"]["result"] == "pass"  # TLS >= 1.2


@pytest.mark.parametrize("tls", ["none", "starttls"])
def test_noncompliant_starttls_injection(lab, certs, tmp_path, tls):
    with SmtpServer(*certs, flaw="starttls-injection", lifetime=120) as srv:
        r, rep = certify_server(lab, tmp_path, srv.port, tls)
    if tls == "starttls":
        assert failed_ids(rep) == INJECTION
        t = results(rep)["smtp.starttls.injection-discarded"]
        assert t["level"] == "MUST"
        assert "500" in t["message"]  # the injected command's reply, inside TLS
        assert r.returncode == 1
    else:
        assert failed_ids(rep) == set()  # the flaw needs STARTTLS to show
        assert r.returncode == 0


@pytest.mark.parametrize("tls", ["none", "starttls"])
def test_noncompliant_bare_lf_end_of_data(lab, certs, tmp_path, tls):
    with SmtpServer(*certs, flaw="bare-lf", lifetime=120) as srv:
        r, rep = certify_server(lab, tmp_path, srv.port, tls)
    assert failed_ids(rep) == BARE_LF
    assert results(rep)["smtp.smuggling.cr-dot-cr"]["result"] == "pass"
    assert results(rep)["smtp.data.dot-stuffing"]["result"] == "pass"
    assert r.returncode == 1
    assert rep["summary"]["must_fail"] == 3


def test_pop3_without_user_is_not_accused(mailspec, tmp_path):
    """USER/PASS are optional (RFC 1939 7): a server whose CAPA lacks USER gets
    the login tests skipped with the reason, never failed."""
    out = tmp_path / "r.json"
    with Pop3NoUserServer(lifetime=120) as srv:
        r = certify("--protocol", "pop3", "--host", "127.0.0.1", "--port", str(srv.port),
                    "--user", "u", "--password", "p", "--timeout", "3", "--json", str(out))
    rep = json.loads(out.read_text())
    res = results(rep)
    assert failed_ids(rep) == set(), [(t, res[t]["message"]) for t in failed_ids(rep)]
    assert r.returncode == 0
    for tid in ("pop3.user-pass.login", "pop3.rset.undeletes", "pop3.dele.marks-deleted"):
        assert res[tid]["result"] == "skip"
        assert "USER" in res[tid]["message"]
    for tid in ("pop3.greeting.ok", "pop3.capa.list", "pop3.wrong-state.stat-before-login",
                "pop3.unknown.err", "pop3.wrong-state.pass-without-user"):
        assert res[tid]["result"] == "pass", (tid, res[tid]["message"])


def test_sigint_stops_and_reports(mailspec, tmp_path):
    """Ctrl-C: running tests stop promptly, the report of what ran is written,
    exit status 2."""
    import signal
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(32)
    conns = []
    stop = threading.Event()

    def accept():
        ls.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(ls.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    out = tmp_path / "r.json"
    try:
        p = subprocess.Popen([MAILSPEC, "certify", "--protocol", "imap", "--host", "127.0.0.1",
                              "--port", str(ls.getsockname()[1]), "--timeout", "60",
                              "--json", str(out)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        start = time.monotonic()
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=20)
        assert time.monotonic() - start < 5
        assert p.returncode == 2
        assert "interrupted" in err
        rep = json.loads(out.read_text())
        assert rep["interrupted"] is True
        assert rep["exit"] == 2
        assert len(rep["tests"]) < len(os.listdir(os.path.join(SUITES, "imap")))
    finally:
        stop.set()
        t.join(2)
        for c in conns:
            c.close()
        ls.close()


@pytest.mark.parametrize("variant", ["strict-bare-lf", "strict-bare-lf-close"])
def test_refusing_bare_lf_is_not_accused(lab, certs, tmp_path, variant):
    """Refusing a message with bare line ends (and even closing) is compliant:
    the smuggling tests pass through their alternative endings."""
    with SmtpServer(*certs, flaw=variant, lifetime=120) as srv:
        r, rep = certify_server(lab, tmp_path, srv.port, "none")
    res = results(rep)
    assert failed_ids(rep) == set(), [(t, res[t]["message"]) for t in failed_ids(rep)]
    assert r.returncode == 0
    for v in ("lf-dot-lf", "cr-dot-cr", "crlf-dot-lf", "lf-dot-crlf"):
        t = res["smtp.smuggling." + v]
        assert t["result"] == "pass"
        assert "passed with alternative ending %d" % (2 if variant == "strict-bare-lf" else 3) \
            in t["message"]


def test_smtp_credentials_on_an_mx_port(lab, tmp_path):
    """--user on a port without AUTH (the lab's port 25): transactions do not
    try to authenticate; the AUTH tests are skipped, not failed."""
    out = tmp_path / "r.json"
    certify("--protocol", "smtp", "--host", lab.host, "--port", str(lab.smtp_port),
            "--user", lab.user, "--password", lab.password, "--json", str(out))
    res = results(json.loads(out.read_text()))
    assert res["smtp.data.transaction"]["result"] == "pass", res["smtp.data.transaction"]
    assert "AUTH PLAIN" not in res["smtp.data.transaction"]["transcript"]
    assert res["smtp.auth.plain-235"]["result"] == "skip"


def test_jobs_parallel_same_results(lab, tmp_path_factory):
    """--jobs 4 runs the same tests to the same results, in suite order."""
    _, seq, _ = run_lab(lab, tmp_path_factory, "smtp", "none")
    _, par, _ = run_lab(lab, tmp_path_factory, "smtp", "none", "--jobs", "4")
    assert [t["id"] for t in par["tests"]] == [t["id"] for t in seq["tests"]]
    assert {t["id"]: t["result"] for t in par["tests"]} == \
        {t["id"]: t["result"] for t in seq["tests"]}
