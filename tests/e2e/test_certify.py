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
import hostile  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SUITES = os.path.join(ROOT, "conformance", "suites")
MAILSPEC = os.environ.get("MAILSPEC", os.path.join(ROOT, "build", "mailspec"))
RUN_TIMEOUT = 180


def certify(*args, timeout=RUN_TIMEOUT):
    return subprocess.run([MAILSPEC, "certify", *args], capture_output=True, text=True,
                          timeout=timeout)


def results(report):
    return {t["id"]: t for t in report["tests"]}


RESULTS = ("pass", "fail", "blocked", "not-supported", "not-applicable", "error")
LEVELS = ("MUST", "SHOULD", "MAY", "info")


def failed_ids(report):
    """Tests that did not go as they should against a server that is meant to
    pass them: failed, blocked (not judged) or the harness's own error."""
    return {t["id"] for t in report["tests"] if t["result"] in ("fail", "blocked", "error")}


# ------------------------------------------------------------ the suites --

def read_meta(path):
    meta = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"@(test|title|rfc|level|protocol|transport|quote) (.*)$",
                         line.rstrip("\n"))
            if m:
                meta[m.group(1)] = m.group(2)
    return meta


@pytest.mark.parametrize("proto", ["smtp", "pop3", "imap"])
def test_suite_metadata(proto):
    """Every test has an id (unique, prefixed by its protocol), a title, an
    RFC section, the quoted RFC sentence, its level (the BCP 14 keyword of
    that sentence, or info) and its protocol."""
    files = sorted(f for f in os.listdir(os.path.join(SUITES, proto)) if f.endswith(".session"))
    assert len(files) >= 25
    ids = set()
    for name in files:
        meta = read_meta(os.path.join(SUITES, proto, name))
        assert meta.get("test", "").startswith(proto + "."), name
        assert meta["test"] not in ids, meta["test"]
        ids.add(meta["test"])
        assert meta.get("title"), name
        # a section number, or the abstract (RFC 2971's only statement of what ID is for)
        assert re.match(r"^\d{3,4} (\d+(\.\d+)*|abstract)$", meta.get("rfc", "")), \
            (name, meta.get("rfc"))
        assert meta.get("level") in LEVELS, name
        assert meta.get("quote"), name
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
    # the suite's tests, the MIME oracle's (IMAP, generated: docs/mime-oracle.md), then
    # the two the TLS-version probe generates
    n_mime = len([line for line in lines if line.startswith("imap.mime.")])
    assert (n_mime >= 20) == (proto == "imap")
    assert len(lines) == len([f for f in os.listdir(os.path.join(SUITES, proto))
                              if f.endswith(".session")]) + n_mime + 2
    assert lines[-1].startswith(proto + ".tls.rfc8996.no-tls1.1 ")
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
    # an --only pattern that matches no test is an error, not an empty run
    r = certify("--protocol", "smtp", "--host", "127.0.0.1", "--only", "smtp.no-such-test")
    assert r.returncode == 2 and "matches no test" in r.stderr
    r = certify("--protocol", "smtp", "--host", "127.0.0.1", "--only", "nosuch.*")
    assert r.returncode == 2 and "matches no test" in r.stderr
    # only one report can take stdout
    r = certify("--protocol", "smtp", "--host", "127.0.0.1", "--json", "-", "--junit", "-")
    assert r.returncode == 2 and r.stdout == ""


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


def test_silent_server_is_exit_3(mailspec, tmp_path):
    """A server that accepts and never speaks: the pre-flight waits --timeout
    for the greeting, then stops with exit 3 and writes no report."""
    with hostile.Server(hostile.silent, lifetime=60) as srv:
        for proto in ("smtp", "imap"):
            out = tmp_path / ("%s.json" % proto)
            start = time.monotonic()
            r = certify("--protocol", proto, "--host", "127.0.0.1", "--port", str(srv.port),
                        "--timeout", "2", "--json", str(out), timeout=30)
            secs = time.monotonic() - start
            assert r.returncode == 3, r.stdout + r.stderr
            # bounded by --timeout (greeting, cleanup) and the check whether the
            # port speaks TLS instead (a quarter of --timeout, at least 0.25 s)
            assert 1.5 < secs < 2 + 3 + 0.5, secs
            assert "did not greet like an %s server" % proto in r.stderr
            assert "no answer within 2000 ms" in r.stderr
            assert "no test was run" in r.stderr
            assert not out.exists()


def test_imap_suite_at_a_pop3_port_is_exit_3(lab, tmp_path):
    """The IMAP suite pointed at a POP3 server: exit 3 before any test."""
    out = tmp_path / "r.json"
    r = certify("--protocol", "imap", "--host", lab.host, "--port", str(lab.pop3_port),
                "--timeout", "5", "--json", str(out), timeout=30)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "did not greet like an imap server" in r.stderr
    assert not out.exists()
    assert "[ 1/" not in r.stdout + r.stderr  # no test ran


WRONG_PASSWORD = "not-alices-password-4711"


def wrong_password_run(lab, tmp_path, proto):
    port, tls = {"imap": (lab.imaps_port, "implicit"), "pop3": (lab.pop3_port, "none"),
                 "smtp": (lab.submission_port, "starttls")}[proto]
    out = tmp_path / ("%s.json" % proto)
    r = certify("--protocol", proto, "--host", lab.host, "--port", str(port), "--tls", tls,
                "--cafile", lab.cafile, "--user", lab.user, "--password", WRONG_PASSWORD,
                "--json", str(out), "--junit", str(tmp_path / "r.xml"), timeout=60)
    return r, out


@pytest.mark.parametrize("proto", ["imap", "pop3", "smtp"])
def test_wrong_password_is_exit_5(lab, tmp_path, proto):
    """A login refused everywhere stops the run before the suite: exit 5, the
    reason on stderr, no report, and the password is not printed."""
    r, out = wrong_password_run(lab, tmp_path, proto)
    assert r.returncode == 5, r.stdout + r.stderr
    assert "refused the login as %s" % lab.user in r.stderr
    assert "no test was run" in r.stderr
    assert not out.exists() and not (tmp_path / "r.xml").exists()
    assert WRONG_PASSWORD not in r.stdout + r.stderr


@pytest.mark.parametrize("proto,refusal", [("imap", "Authentication failed"),
                                           ("pop3", "Authentication failed"),
                                           ("smtp", "535")])
def test_wrong_password_message_is_plain(lab, tmp_path, proto, refusal):
    """The exit-5 message is meant for a person (certify_preflight.c: "a plain
    message"): it shows the server's refusal, not the pre-flight's internal
    script (its line numbers and patterns)."""
    r, _ = wrong_password_run(lab, tmp_path, proto)
    assert r.returncode == 5
    assert refusal in r.stderr, r.stderr
    assert "(certify pre-flight)" not in r.stderr, r.stderr
    assert "${" not in r.stderr, r.stderr


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
    summ = rep["summary"]
    for key in ("pass", "fail", "skip", "error", "blocked", "not_applicable", "not_supported",
                "must_total", "must_ran"):
        assert isinstance(summ[key], int), key
    # skip is the contract's count of the tests that judged nothing by design
    assert summ["skip"] == summ["not_applicable"] + summ["not_supported"]
    assert sum(summ[k] for k in ("pass", "fail", "skip", "error", "blocked")) == len(rep["tests"])
    by_result = {r: sum(t["result"] == r for t in rep["tests"]) for r in RESULTS}
    assert by_result["pass"] == summ["pass"] and by_result["fail"] == summ["fail"]
    assert by_result["blocked"] == summ["blocked"] and by_result["error"] == summ["error"]
    assert by_result["not-applicable"] == summ["not_applicable"]
    assert by_result["not-supported"] == summ["not_supported"]
    must = [t for t in rep["tests"] if t["level"] == "MUST"]
    assert summ["must_total"] == len(must)
    assert summ["must_ran"] == sum(t["result"] in ("pass", "fail") for t in must)
    # the suite, plus the two RFC 8996 TLS version tests on TLS transports
    # the suite's files, the MIME oracle's generated tests (IMAP), the TLS-version probe's
    n_mime = len([t for t in rep["tests"] if t["id"].startswith("imap.mime.")])
    assert (n_mime >= 20) == (proto == "imap")
    assert len(rep["tests"]) == (len(os.listdir(os.path.join(SUITES, proto))) + n_mime
                                 + (tls != "none") * 2)
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
        assert t["result"] in RESULTS
        assert t["level"] in LEVELS
        if t["result"] not in ("pass", "fail"):
            assert t["message"], t["id"]  # not judged: with the reason
        assert t.get("quote"), t["id"]  # the RFC sentence the verdict is about
        if t["result"] in ("pass", "fail") and ".tls.rfc8996." not in t["id"]:
            assert t["transcript"].count("\nS: ") >= 1, t["id"]
    # Credentials never reach a report.
    text = (d / "r.json").read_text() + (d / "r.xml").read_text() + (d / "r.html").read_text()
    assert lab.password not in text
    plain = base64.b64encode(b"\0" + lab.user.encode() + b"\0" + lab.password.encode()).decode()
    assert plain not in text
    # Exit status: Dovecot passes every MUST; Postfix 3.7 fails the smuggling MUSTs.
    assert r.returncode == (1 if proto == "smtp" else 0), r.stdout[-3000:]
    assert rep["exit"] == r.returncode
    assert rep["compliant"] is (proto != "smtp")
    assert rep["verdict"].startswith("NOT compliant" if proto == "smtp" else "compliant:")
    assert rep["verdict"] in r.stdout


def assert_junit_counts(suite):
    """The <testsuite> counts are the counts of its elements (CI tools read
    the attributes)."""
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases)
    for attr, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
        assert int(suite.get(attr)) == sum(c.find(tag) is not None for c in cases), attr


@pytest.mark.parametrize("proto,tls", RUNS)
def test_lab_junit_and_html(lab, tmp_path_factory, proto, tls):
    _, rep, d = run_lab(lab, tmp_path_factory, proto, tls)
    root = ET.parse(str(d / "r.xml")).getroot()
    suites = root.findall("testsuite")
    assert len(suites) == 1
    cases = suites[0].findall("testcase")
    assert len(cases) == len(rep["tests"])
    # <failure> is what fails the run: a MUST-level failure (docs/certify.md "JUnit")
    must_fail = [t for t in rep["tests"] if t["result"] == "fail" and t["level"] == "MUST"]
    assert int(suites[0].get("failures")) == len(must_fail)
    # blocked, not-applicable and not-supported judged nothing, and failures
    # below MUST do not fail the run: <skipped>
    assert int(suites[0].get("skipped")) == (rep["summary"]["skip"] + rep["summary"]["blocked"] +
                                             rep["summary"]["fail"] - len(must_fail))
    failing = [c for c in cases if c.find("failure") is not None]
    assert len(failing) == len(must_fail)
    assert_junit_counts(suites[0])
    html = (d / "r.html").read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "<script src" not in html and "<link" not in html
    for t in rep["tests"]:
        assert ">%s</code>" % t["id"] in html
    assert "Compliance matrix" in html
    # RFC groups, each heading a link to its RFC
    assert re.search(r'<h3><a class=rfc href="https://www.rfc-editor.org/rfc/rfc\d+">RFC \d+',
                     html)


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
        # STARTTLS-only tests do not apply to other transports (with the reason).
        tid = {"imap": "imap.starttls.refused-inside-tls", "pop3": "pop3.stls.refused-inside-tls",
               "smtp": "smtp.starttls.refused-inside-tls"}[proto]
        assert res[tid]["result"] == "not-applicable"
        assert "starttls" in res[tid]["message"]
    if proto == "smtp":
        # Postfix has no HELP: it answers 500, which the suite takes as an
        # unimplemented optional command (@unsupported), not a failure.
        assert res["smtp.help.21x"]["result"] == "not-supported"
        assert "500" in res["smtp.help.21x"]["message"]
        # 3.7 ends DATA at a bare LF before "." (smtpd_forbid_bare_newline = no):
        # the three LF variants fail, CR does not; the message names the finding.
        for v in ("lf-dot-lf", "crlf-dot-lf", "lf-dot-crlf"):
            t = res["smtp.smuggling." + v]
            assert t["result"] == "fail"
            assert t["message"].startswith("FINDING: SMTP smuggling"), t["message"]
            assert t["finding"].startswith("SMTP smuggling")
        expected = {"smtp.smuggling.lf-dot-lf", "smtp.smuggling.crlf-dot-lf",
                    "smtp.smuggling.lf-dot-crlf"}
        if tls != "none":
            # Postfix 3.7's default smtpd_tls_protocols still allows TLS 1.0 and 1.1
            # (checked by hand with openssl s_client -tls1); Dovecot refuses them.
            expected |= {"smtp.tls.rfc8996.no-tls1.0", "smtp.tls.rfc8996.no-tls1.1"}
            assert rep["tls_versions"]["TLSv1.0"] is True
            assert rep["tls_min_version"] == "TLSv1.0"
        assert failed_ids(rep) == expected
        if tls == "none":
            # port 25 of the lab offers no AUTH: AUTH tests are not-supported, with the reason
            assert res["smtp.auth.cancel-501"]["result"] == "not-supported"
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
    # JUnit: allow-listed failures are skipped, not failed; with smtp.help.21x
    # now not-supported, nothing else fails, so CI stays green
    suite = ET.parse(str(d / "r.xml")).getroot().find("testsuite")
    cases = {c.get("name").split(":")[0]: c for c in suite.findall("testcase")}
    for v in ("lf-dot-lf", "crlf-dot-lf", "lf-dot-crlf"):
        skipped = cases["smtp.smuggling." + v].find("skipped")
        assert skipped is not None
        assert skipped.get("message").startswith("expected failure (--expect-fail): ")
    assert not [c for c in suite.findall("testcase") if c.find("failure") is not None]
    assert int(suite.get("failures")) == 0
    assert_junit_counts(suite)
    html = (d / "r.html").read_text()
    assert "Allow-listed (--expect-fail): smtpd_forbid_bare_newline" in html


def test_lab_only(lab, tmp_path_factory):
    _, rep, _ = run_lab(lab, tmp_path_factory, "pop3", "none", "--only", "pop3.wrong-state.*",
                        "--only", "pop3.noop.ok")
    ids = {t["id"] for t in rep["tests"]}
    assert ids == {"pop3.wrong-state.pass-without-user", "pop3.wrong-state.stat-before-login",
                   "pop3.wrong-state.retr-before-login", "pop3.wrong-state.user-after-login",
                   "pop3.wrong-state.stls-after-login", "pop3.noop.ok"}


def test_lab_without_credentials_is_incomplete(lab, tmp_path):
    """Without --user the tests that log in do not apply, and too few MUST
    tests run to call the server compliant: exit 6, the verdict says so."""
    out = tmp_path / "r.json"
    r = certify("--protocol", "imap", "--host", lab.host, "--port", str(lab.imap_port),
                "--json", str(out))
    assert r.returncode == 6, r.stdout[-2000:] + r.stderr
    rep = json.loads(out.read_text())
    res = results(rep)
    assert res["imap.greeting.ok"]["result"] == "pass"
    assert res["imap.login.ok"]["result"] == "not-applicable"
    assert "--user" in res["imap.login.ok"]["message"]
    assert failed_ids(rep) == set()
    assert rep["exit"] == 6 and rep["compliant"] is False
    assert rep["verdict"].startswith("incomplete")
    assert "verdict: incomplete" in r.stdout
    # fewer than half of the MUST tests that apply (all but not-supported) ran
    must = [t for t in rep["tests"] if t["level"] == "MUST"]
    applicable = [t for t in must if t["result"] != "not-supported"]
    ran = [t for t in must if t["result"] in ("pass", "fail")]
    assert 0 < len(ran) and 2 * len(ran) < len(applicable)
    assert rep["summary"]["must_ran"] == len(ran)


def test_report_to_stdout(lab, tmp_path):
    """--json - / --junit -: stdout carries that report and nothing else; the
    progress, summary and verdict go to stderr."""
    args = ["--protocol", "pop3", "--host", lab.host, "--port", str(lab.pop3_port),
            "--user", lab.user, "--password", lab.password]
    r = certify(*args, "--json", "-")
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.lstrip().startswith("{") and r.stdout.rstrip().endswith("}")
    rep = json.loads(r.stdout)  # the whole of stdout is one JSON document
    assert rep["protocol"] == "pop3" and rep["exit"] == 0 and rep["tests"]
    assert "[ 1/" in r.stderr and "verdict: compliant" in r.stderr
    assert "[ 1/" not in r.stdout and "verdict:" not in r.stdout.replace('"verdict":', "")
    r = certify(*args, "--junit", "-", "--json", str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr[-2000:]
    root = ET.fromstring(r.stdout)  # the whole of stdout is the XML document
    assert len(root.find("testsuite").findall("testcase")) == len(rep["tests"])
    assert "verdict: compliant" in r.stderr
    assert json.loads((tmp_path / "r.json").read_text())["exit"] == 0


def secret_forms(user, password):
    return [password,
            base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode(),
            base64.b64encode(user.encode() + b"\0" + user.encode() + b"\0" +
                             password.encode()).decode(),
            base64.b64encode(password.encode()).decode()]


def test_password_file(lab, tmp_path):
    """--password-file reads the password (first line) so it is not on the
    command line; it logs in, and neither it nor a form derived from it shows
    in stdout, stderr (-v prints the transcripts of failed tests) or a report."""
    pw = tmp_path / "pw"
    pw.write_text(lab.password + "\n")
    os.chmod(pw, 0o600)
    d = tmp_path
    # SMTP submission: AUTH PLAIN in the @login step of the (failing) tests
    r = certify("--protocol", "smtp", "--host", lab.host, "--port", str(lab.submission_port),
                "--tls", "starttls", "--cafile", lab.cafile, "--user", lab.user,
                "--password-file", str(pw), "-v", "--json", str(d / "r.json"),
                "--junit", str(d / "r.xml"), "--html", str(d / "r.html"))
    assert r.returncode == 1, r.stderr + r.stdout[-2000:]  # the smuggling MUSTs, as in the lab runs
    rep = json.loads((d / "r.json").read_text())
    res = results(rep)
    assert res["smtp.auth.plain-235"]["result"] == "pass", res["smtp.auth.plain-235"]["message"]
    assert rep["login"]["checked"] is True
    assert "AUTH PLAIN ${sasl_plain}" in res["smtp.auth.plain-235"]["transcript"]
    assert "transcript" in r.stdout  # -v did print transcripts
    text = r.stdout + r.stderr + (d / "r.json").read_text() + (d / "r.xml").read_text() + \
        (d / "r.html").read_text()
    for secret in secret_forms(lab.user, lab.password):
        assert secret not in text, secret
    # the same through MAILSPEC_PASSWORD, for IMAP
    env = dict(os.environ, MAILSPEC_PASSWORD=lab.password)
    r = subprocess.run([MAILSPEC, "certify", "--protocol", "imap", "--host", lab.host,
                        "--port", str(lab.imaps_port), "--tls", "implicit", "--cafile", lab.cafile,
                        "--user", lab.user, "-v", "--json", "-"], capture_output=True, text=True,
                       env=env, timeout=RUN_TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads(r.stdout)
    assert results(rep)["imap.login.ok"]["result"] == "pass"
    for secret in secret_forms(lab.user, lab.password):
        assert secret not in r.stdout + r.stderr, secret
    # a password file that cannot be read is a usage error before anything runs
    r = certify("--protocol", "imap", "--host", lab.host, "--port", str(lab.imap_port),
                "--user", lab.user, "--password-file", str(tmp_path / "missing"))
    assert r.returncode == 2 and "cannot open" in r.stderr


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
    the login tests as not-supported with the reason, never failed; an absent
    option does not count against the verdict."""
    out = tmp_path / "r.json"
    with Pop3NoUserServer(lifetime=120) as srv:
        r = certify("--protocol", "pop3", "--host", "127.0.0.1", "--port", str(srv.port),
                    "--user", "u", "--password", "p", "--timeout", "3", "--json", str(out))
    rep = json.loads(out.read_text())
    res = results(rep)
    assert failed_ids(rep) == set(), [(t, res[t]["message"]) for t in failed_ids(rep)]
    assert r.returncode == 0
    for tid in ("pop3.user-pass.login", "pop3.rset.undeletes", "pop3.dele.marks-deleted"):
        assert res[tid]["result"] == "not-supported"
        assert "USER" in res[tid]["message"]
    assert rep["compliant"] is True
    for tid in ("pop3.greeting.ok", "pop3.capa.list", "pop3.wrong-state.stat-before-login",
                "pop3.unknown.err", "pop3.wrong-state.pass-without-user"):
        assert res[tid]["result"] == "pass", (tid, res[tid]["message"])


def imap_that_stalls(conn):
    """Greets and answers CAPABILITY and LOGOUT (enough for certify's
    pre-flight), then never answers anything else: every test waits."""
    conn.line("* OK [CAPABILITY IMAP4rev1] stalling server ready")
    while True:
        line = conn.readline()
        if line is None:
            return
        tag, _, cmd = line.partition(" ")
        if cmd.upper() == "CAPABILITY":
            conn.line("* CAPABILITY IMAP4rev1")
            conn.line(tag + " OK CAPABILITY completed")
        elif cmd.upper() == "LOGOUT":
            conn.line("* BYE logging out")
            conn.line(tag + " OK LOGOUT completed")
            return


def test_sigint_stops_and_reports(mailspec, tmp_path):
    """Ctrl-C: running tests stop promptly, the report of what ran is written,
    exit status 2."""
    import signal
    out = tmp_path / "r.json"
    with hostile.Server(imap_that_stalls, lifetime=60) as srv:
        p = subprocess.Popen([MAILSPEC, "certify", "--protocol", "imap", "--host", "127.0.0.1",
                              "--port", str(srv.port), "--timeout", "60", "--jobs", "1",
                              "--json", str(out)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1.5)
            start = time.monotonic()
            p.send_signal(signal.SIGINT)
            _, err = p.communicate(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        assert time.monotonic() - start < 5
        # the pre-flight passed: the suite was running when the signal came
        assert srv.client_lines[:2] == ["P1 CAPABILITY", "P2 LOGOUT"], srv.client_lines
    assert p.returncode == 2
    assert "interrupted" in err
    rep = json.loads(out.read_text())
    assert rep["interrupted"] is True
    assert rep["exit"] == 2
    assert rep["verdict"].startswith("none: interrupted")
    assert 0 < len(rep["tests"]) < len(os.listdir(os.path.join(SUITES, "imap")))
    # the test that was waiting is the harness's error (interrupted), not the server's
    assert [t["result"] for t in rep["tests"]].count("error") >= 1
    assert all(t["result"] != "fail" for t in rep["tests"])


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
        assert "passed with @either branch %d" % (2 if variant == "strict-bare-lf" else 3) \
            in t["message"]


def test_smtp_credentials_on_an_mx_port(lab, tmp_path):
    """--user on a port without AUTH (the lab's port 25): transactions do not
    try to authenticate; the AUTH tests are not-supported, not failed."""
    out = tmp_path / "r.json"
    certify("--protocol", "smtp", "--host", lab.host, "--port", str(lab.smtp_port),
            "--user", lab.user, "--password", lab.password, "--json", str(out))
    res = results(json.loads(out.read_text()))
    assert res["smtp.data.transaction"]["result"] == "pass", res["smtp.data.transaction"]
    assert "AUTH PLAIN" not in res["smtp.data.transaction"]["transcript"]
    assert res["smtp.auth.plain-235"]["result"] == "not-supported"
    assert "AUTH" in res["smtp.auth.plain-235"]["message"]


def test_jobs_parallel_same_results(lab, tmp_path_factory):
    """--jobs 4 runs the same tests to the same results, in suite order."""
    _, seq, _ = run_lab(lab, tmp_path_factory, "smtp", "none")
    _, par, _ = run_lab(lab, tmp_path_factory, "smtp", "none", "--jobs", "4")
    assert [t["id"] for t in par["tests"]] == [t["id"] for t in seq["tests"]]
    assert {t["id"]: t["result"] for t in par["tests"]} == \
        {t["id"]: t["result"] for t in seq["tests"]}
