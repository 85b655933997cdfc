"""The reports a run writes (docs/certify.md "Reports"): JSON, JUnit and HTML.

- provenance: started, finished (ISO 8601 UTC), mailspec_version and the
  command line, with the password masked in both --password forms;
- no absolute path of the machine that ran the tests anywhere in a report:
  test files and messages relative to the suite directory;
- JUnit: valid against the xUnit schema Jenkins uses (tests/junit/junit-10.xsd,
  checked with xmllint), newlines kept in failure@message, <failure> only for
  what fails the run (a MUST-level failure);
- HTML: message line breaks kept, the first differing byte marked, failures
  open, RFC citations linked;
- files: mode from the umask, written atomically, a symlink at the
  destination replaced and never followed (also `certify --html-from`).

Real servers: the lab (Dovecot, Postfix) for passing and failing certify runs;
small loopback servers (noncompliant.py, hostile.py) for failures, blocked,
not-supported and error results no real server shows on demand.
"""
import json
import os
import re
import shutil
import stat
import subprocess
import xml.etree.ElementTree as ET

import pytest

import hostile
from conftest import MAILSPEC, ROOT
from lab import lab  # noqa: F401  (pytest fixture)
from noncompliant import SmtpServer

XSD = os.path.join(ROOT, "tests", "junit", "junit-10.xsd")
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SECRET = "Pw-7f3e-s3cret"
RUN_TIMEOUT = 180


def run(*args, umask=None, timeout=RUN_TIMEOUT):
    pre = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.run([MAILSPEC, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, preexec_fn=pre)


def version():
    return run("--version").stdout.split()[-1]


def xmllint_ok(path):
    """The JUnit file against the schema: (ok, xmllint's words)."""
    assert shutil.which("xmllint"), "xmllint missing: scripts/install-deps.sh installs it"
    p = subprocess.run(["xmllint", "--noout", "--schema", XSD, str(path)], capture_output=True,
                       text=True, timeout=60)
    return p.returncode == 0, p.stderr


def texts(*paths):
    return "".join(open(p, encoding="utf-8").read() for p in paths)


def assert_provenance(rep, argv_tail):
    assert ISO_UTC.match(rep["started"]), rep["started"]
    assert ISO_UTC.match(rep["finished"]), rep["finished"]
    assert rep["started"] <= rep["finished"]
    assert rep["mailspec_version"] == version()
    assert rep["argv"][0] == "mailspec"
    assert rep["argv"][-len(argv_tail):] == argv_tail
    assert rep["command_line"].startswith("mailspec " + rep["argv"][1] + " ")


def assert_no_machine_paths(text, *dirs):
    for d in (ROOT, *dirs):
        assert str(d) not in text
    # no absolute path at all: what a path looks like in these reports
    assert not re.search(r"(?<![\w.])/(?:tmp|home|root|work|usr|opt|var)/", text), \
        re.search(r".{60}(?<![\w.])/(?:tmp|home|root|work|usr|opt|var)/.{60}", text)


# ------------------------------------------------------ a failing certify --

@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    cert, key = str(d / "cert.pem"), str(d / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture(scope="module")
def failing_certify(certs, tmp_path_factory):
    """certify against an SMTP server that ends DATA at a bare LF (3 MUST
    failures with multi-line messages), with a password on the command line."""
    d = tmp_path_factory.mktemp("failing")
    with SmtpServer(*certs, flaw="bare-lf", lifetime=150) as srv:
        r = run("certify", "--protocol", "smtp", "--host", "127.0.0.1", "--port", srv.port,
                "--timeout", "3", "--user", "alice", "--password", SECRET,
                "--json", d / "r.json", "--junit", d / "r.xml", "--html", d / "r.html")
    return r, json.loads((d / "r.json").read_text()), d


def test_failing_certify_provenance_and_paths(failing_certify):
    r, rep, d = failing_certify
    assert r.returncode == 1, r.stderr[-2000:]
    assert_provenance(rep, ["--json", ".../r.json", "--junit", ".../r.xml",
                            "--html", ".../r.html"])
    i = rep["argv"].index("--password")
    assert rep["argv"][i + 1] == "${password}"
    assert "--password '${password}'" in rep["command_line"]
    all_text = texts(d / "r.json", d / "r.xml", d / "r.html")
    assert SECRET not in all_text
    assert_no_machine_paths(all_text, d)
    assert rep["suite"] == ".../smtp"
    for t in rep["tests"]:
        assert t["file"].endswith(".session") and "/" not in t["file"], t["file"]
    fail = {t["id"]: t for t in rep["tests"]}["smtp.smuggling.lf-dot-lf"]
    assert fail["message"].count("\n") >= 3
    assert re.search(r"(^|\n)smuggling-lf-dot-lf\.session:\d+: response does not match\n",
                     fail["message"]), fail["message"]


def test_failing_certify_junit_schema_and_newlines(failing_certify):
    _, rep, d = failing_certify
    ok, why = xmllint_ok(d / "r.xml")
    assert ok, why
    suite = ET.parse(str(d / "r.xml")).getroot().find("testsuite")
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    for key in ("started", "finished", "mailspec_version", "command_line"):
        assert props[key] == rep[key]
    assert suite.get("timestamp") == rep["started"]
    cases = {c.get("name").split(":")[0]: c for c in suite.findall("testcase")}
    msg = cases["smtp.smuggling.lf-dot-lf"].find("failure").get("message")
    assert msg == {t["id"]: t for t in rep["tests"]}["smtp.smuggling.lf-dot-lf"]["message"]
    assert "\n  expected: S: 221 ${*}\n  got:      S: 250" in msg
    assert "&#10;" in (d / "r.xml").read_text()
    must_fail = [t for t in rep["tests"] if t["result"] == "fail" and t["level"] == "MUST"]
    assert int(suite.get("failures")) == len(must_fail) == 3


def test_failing_certify_html(failing_certify):
    _, rep, d = failing_certify
    html = (d / "r.html").read_text()
    # failures open, passes closed
    assert re.search(r'<details class="t fail" id="r1-smtp\.smuggling\.lf-dot-lf" open>', html)
    assert re.search(r'<details class="t pass" id="r1-smtp\.ehlo\.250">', html)
    one = html[html.index('id="r1-smtp.smuggling.lf-dot-lf"'):]
    one = one[:one.index("</details>")]
    # the message's line breaks are kept (a pre-wrap block, real newlines)
    plain = re.sub(r"<[^>]+>", "", one)
    assert "response does not match\n  expected: S: 221 ${*}\n  got:      S: 250 2.0.0" in plain
    assert ".msg{" in html and "white-space:pre-wrap" in html
    # first differing byte: "221" against "250" differ at the second digit
    assert '<mark class=diff title="first difference, byte 5">2</mark>1 ${*}' in one
    assert '<mark class=diff title="first difference, byte 5">5</mark>0 2.0.0' in one
    # RFC citations are links to the section
    assert ('href="https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.4">RFC 5321 4.1.1.4</a>'
            in one)
    for key in ("started", "finished", "mailspec_version"):
        assert rep[key] in html
    assert "--password &#39;${password}&#39;" in html


# --------------------------------------------------- replay: every result --

def long_imap(conn):
    """IMAP enough for the scripts below; NOOP's reply is a long line."""
    conn.line("* OK [CAPABILITY IMAP4rev1] long-line toy ready")
    while True:
        line = conn.readline()
        if line is None:
            return
        tag, _, rest = line.partition(" ")
        cmd = rest.split(" ")[0].upper()
        if cmd == "NOOP":
            conn.line(tag + " OK " + "x" * 300 + "A" + "y" * 80)
        elif cmd == "LOGOUT":
            conn.line("* BYE bye")
            conn.line(tag + " OK LOGOUT completed")
            return
        else:
            conn.line(tag + " BAD unknown command")


HEAD = "@test reports.%s\n@title %s\n@rfc 9051 %s\n@level %s\n@protocol imap\nS: * OK ${*}\n"
SCRIPTS = {
    "long.session": HEAD % ("long-line", "A long reply that differs late", "7.1", "MUST") +
    "C: a1 NOOP\nS: a1 OK " + "x" * 300 + "B" + "y" * 80 + "\n",
    "should.session": HEAD % ("should", "A SHOULD-level expectation", "6.1.2", "SHOULD") +
    "C: a1 NOOP\nS: a1 OK short\n",
    "pass.session": HEAD % ("pass", "NOOP is answered", "6.1.2", "MUST") +
    "C: a1 NOOP\nS: a1 OK ${*}\n",
    "blocked.session": HEAD % ("blocked", "A failed setup step", "6.1.2", "MUST") +
    "@phase setup\nC: a1 FROB\nS: a1 OK ${*}\n@phase check\nC: a2 NOOP\nS: a2 OK ${*}\n",
    "unsupported.session": HEAD % ("unsupported", "An absent extension", "6.1.1", "MUST") +
    "@requires X-NOTHERE\nC: a1 NOOP\nS: a1 OK ${*}\n",
    "error.session": HEAD % ("error", "A variable this run cannot set", "6.1.2", "MUST") +
    "C: a1 NOOP ${apop_digest}\nS: a1 OK ${*}\n",
}


def write_suite(d, names):
    d.mkdir(parents=True, exist_ok=True)
    for n in names:
        (d / n).write_text(SCRIPTS[n])
    return d


@pytest.fixture
def certdir(tmp_path_factory):
    return str(tmp_path_factory.getbasetemp())


def replay_run(tmp_path, certdir, names, *extra, umask=None):
    suite = write_suite(tmp_path / "suite", names)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    with hostile.Server(long_imap, certdir=certdir) as srv:
        p = run("replay", "--port", srv.port, "--timeout", "2", "--user", "bob",
                "--password=" + SECRET, *extra,
                "--json", out / "r.json", "--junit", out / "r.xml", suite, umask=umask)
    return p, json.loads((out / "r.json").read_text()), out, suite


def test_replay_every_result_provenance_paths_schema(tmp_path, certdir):
    p, rep, out, suite = replay_run(tmp_path, certdir, sorted(SCRIPTS))
    res = {t["id"].split(".")[1]: t for t in rep["tests"]}
    assert {k: t["result"] for k, t in res.items()} == {
        "long-line": "fail", "should": "fail", "pass": "pass", "blocked": "blocked",
        "unsupported": "not-supported", "error": "error"}, p.stderr
    assert p.returncode == 1  # the MUST-level failure
    assert_provenance(rep, ["--json", ".../r.json", "--junit", ".../r.xml", ".../suite"])
    assert "--password=${password}" in rep["argv"]
    assert "'--password=${password}'" in rep["command_line"]
    text = texts(out / "r.json", out / "r.xml")
    assert SECRET not in text
    assert_no_machine_paths(text, tmp_path)
    assert res["long-line"]["file"] == "long.session"
    assert res["long-line"]["message"].startswith("long.session:")
    ok, why = xmllint_ok(out / "r.xml")
    assert ok, why
    suite_el = ET.parse(str(out / "r.xml")).getroot().find("testsuite")
    cases = {c.get("name").split(":")[0].split(".")[1]: c for c in suite_el.findall("testcase")}
    assert cases["long-line"].find("failure") is not None
    assert cases["should"].find("failure") is None
    sk = cases["should"].find("skipped").get("message")
    assert sk.startswith("failed at level SHOULD (not counted: only MUST-level failures fail "
                         "the run): should.session:")
    assert "\n  expected: S: a1 OK short\n" in sk
    assert cases["error"].find("error") is not None
    for k in ("blocked", "unsupported"):
        assert cases[k].find("skipped") is not None
    assert (suite_el.get("failures"), suite_el.get("errors"), suite_el.get("skipped")) == \
        ("1", "1", "3")
    # the HTML rendered from this JSON: the late difference of the long line
    # is marked (byte 310 of "S: a1 OK xxx...": 9 + 300 + 1)
    html = out / "r.html"
    r = run("certify", "--html-from", out / "r.json", "--html", html)
    assert r.returncode == 0, r.stderr
    page = html.read_text()
    assert page.count('<mark class=diff title="first difference, byte 310">') == 2
    assert '<mark class=diff title="first difference, byte 310">B</mark>' + "y" * 80 in page
    assert '<mark class=diff title="first difference, byte 310">A</mark>' + "y" * 80 in page
    assert re.search(r'<details class="t error" id="r1-reports\.error" open>', page)
    # the summary counts the server's MUST failures, not the harness's error
    assert '<span class="r fail">1 MUST-level failure</span>' in page
    assert re.search(r'<details class="t blocked" id="r1-reports\.blocked">', page)


def test_junit_should_failure_with_exit_0_is_not_a_failure(tmp_path, certdir):
    """Exit 0 (only a SHOULD failed): CI must not see a <failure>."""
    p, rep, out, _ = replay_run(tmp_path, certdir, ["should.session", "pass.session"])
    assert p.returncode == 0, p.stderr
    assert rep["summary"]["fail"] == 1
    root = ET.parse(str(out / "r.xml")).getroot()
    assert not list(root.iter("failure"))
    assert root.get("failures") == "0" and root.find("testsuite").get("failures") == "0"
    assert len(list(root.iter("skipped"))) == 1
    ok, why = xmllint_ok(out / "r.xml")
    assert ok, why


# ------------------------------------------------------------ report files --

@pytest.mark.parametrize("umask,mode", [(0o077, 0o600), (0o022, 0o644), (0o027, 0o640)])
def test_report_mode_follows_umask(tmp_path, certdir, umask, mode):
    p, _, out, _ = replay_run(tmp_path, certdir, ["pass.session"], umask=umask)
    assert p.returncode == 0, p.stderr
    html = out / "r.html"
    r = run("certify", "--html-from", out / "r.json", "--html", html, umask=umask)
    assert r.returncode == 0, r.stderr
    for name in ("r.json", "r.xml", "r.html"):
        assert stat.S_IMODE(os.stat(out / name).st_mode) == mode, name
    assert not [n for n in os.listdir(out) if ".tmp." in n]


def test_symlink_at_destination_is_replaced_not_followed(tmp_path, certdir):
    p, _, out, _ = replay_run(tmp_path, certdir, ["pass.session"])
    assert p.returncode == 0, p.stderr
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    for name, args in (("h.html", ["certify", "--html-from", out / "r.json", "--html"]),
                       ("j.json", None)):
        dest = out / name
        os.symlink(victim, dest)
        if args:
            r = run(*args, dest)
            assert r.returncode == 0, r.stderr
            assert dest.read_text().startswith("<!DOCTYPE html>")
        else:
            with hostile.Server(long_imap, certdir=certdir) as srv:
                r = run("replay", "--port", srv.port, "--json", dest,
                        tmp_path / "suite" / "pass.session")
            assert r.returncode == 0, r.stderr
            assert json.loads(dest.read_text())["summary"]["pass"] == 1
        assert victim.read_text() == "precious\n"
        assert not os.path.islink(dest)
    assert not [n for n in os.listdir(out) if ".tmp." in n]


def test_html_from_unwritable_destination_is_an_error(tmp_path, certdir):
    p, _, out, _ = replay_run(tmp_path, certdir, ["pass.session"])
    r = run("certify", "--html-from", out / "r.json", "--html", tmp_path / "nodir" / "x.html")
    assert r.returncode == 2
    assert "cannot write" in r.stderr and "x.html" in r.stderr


# ---------------------------------------------------------------- the lab --

@pytest.mark.parametrize("proto,port_attr", [("imap", "imap_port"), ("smtp", "smtp_port")])
def test_lab_reports(lab, tmp_path, proto, port_attr):  # noqa: F811
    """Dovecot (every MUST passes, with a login) and Postfix (fails the
    smuggling MUSTs): JUnit valid against the schema either way, no secret,
    no machine path."""
    d = tmp_path
    creds = []
    if proto == "imap":
        creds = ["--user", lab.user, "--password", lab.password]
    r = run("certify", "--protocol", proto, "--host", lab.host, "--port", getattr(lab, port_attr),
            *creds, "--cafile", lab.cafile,
            "--json", d / "r.json", "--junit", d / "r.xml", "--html", d / "r.html")
    rep = json.loads((d / "r.json").read_text())
    assert r.returncode == (1 if proto == "smtp" else 0), r.stdout[-2000:]
    assert_provenance(rep, ["--json", ".../r.json", "--junit", ".../r.xml",
                            "--html", ".../r.html"])
    ok, why = xmllint_ok(d / "r.xml")
    assert ok, why
    text = texts(d / "r.json", d / "r.xml", d / "r.html")
    assert lab.password not in text
    if creds:
        assert rep["argv"][rep["argv"].index("--password") + 1] == "${password}"
    assert_no_machine_paths(text, d, lab.dir)
    suite = ET.parse(str(d / "r.xml")).getroot().find("testsuite")
    must_fail = [t for t in rep["tests"] if t["result"] == "fail" and t["level"] == "MUST"
                 and "expected_failure" not in t]
    assert int(suite.get("failures")) == len(must_fail)
    html = (d / "r.html").read_text()
    assert (' open>' in html) == bool([t for t in rep["tests"]
                                       if t["result"] in ("fail", "error")])
