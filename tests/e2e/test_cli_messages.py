"""The command line as a new user meets it (certify, replay, make install).

--only and --list with the generated TLS-version probe tests; clear messages
for a bad port, a refused connection, TLS and plain text on the wrong port,
the wrong protocol on a port, a typo; replay when nothing ran; the SMTP
notice of the messages a run submits; `make install` and finding the suites;
-q (one line) and -qq/--silent (nothing but errors).

Servers: the lab (real Dovecot and Postfix) where a real server shows the
behaviour; a free port (nothing listening) for a refused connection.
"""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import lab  # noqa: E402,F401  (pytest fixture)
from test_certify import free_port  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SUITES = os.path.join(ROOT, "conformance", "suites")
MAILSPEC = os.environ.get("MAILSPEC", os.path.join(ROOT, "build", "mailspec"))


def run(*args, binary=None, timeout=120, cwd=None, env=None):
    return subprocess.run([binary or MAILSPEC, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


def certify(*args, **kw):
    return run("certify", *args, **kw)


def list_ids(out):
    return [line.split()[0] for line in out.splitlines() if line.strip()]


# ------------------------------------------------------- --only, --list --

def test_only_pattern_matching_nothing_is_an_error_even_beside_one_that_matches(mailspec):
    """Every --only pattern must match: with --list too, and before any
    connection is made."""
    r = certify("--protocol", "imap", "--list", "--only", "imap.noop.ok", "--only", "nosuch")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "--only nosuch matches no test" in r.stderr
    r = certify("--protocol", "imap", "--host", "127.0.0.1", "--port", str(free_port()),
                "--only", "imap.noop.ok", "--only", "imap.nosuch*")
    assert r.returncode == 2 and "--only imap.nosuch* matches no test" in r.stderr
    assert "cannot connect" not in r.stderr  # checked before the server is contacted
    # every pattern matching: fine
    r = certify("--protocol", "imap", "--list", "--only", "imap.noop.ok", "--only", "imap.greeting*")
    assert r.returncode == 0, r.stderr
    assert list_ids(r.stdout) == ["imap.greeting.ok", "imap.noop.ok"]


@pytest.mark.parametrize("proto", ["imap", "pop3", "smtp"])
def test_list_shows_the_generated_tls_probe_tests(mailspec, proto):
    ids = [proto + ".tls.rfc8996.no-tls1.0", proto + ".tls.rfc8996.no-tls1.1"]
    r = certify("--protocol", proto, "--list")
    assert r.returncode == 0, r.stderr
    listed = list_ids(r.stdout)
    assert listed[-2:] == ids
    n_mime = len([i for i in listed if i.startswith("imap.mime.")])  # generated (IMAP)
    assert len(listed) == len([f for f in os.listdir(os.path.join(SUITES, proto))
                               if f.endswith(".session")]) + n_mime + 2
    line = [ln for ln in r.stdout.splitlines() if ln.startswith(ids[0])][0]
    assert "MUST" in line and "8996 2" in line and "--tls starttls or implicit" in line
    r = certify("--protocol", proto, "--list", "--only", proto + ".tls.*")
    assert r.returncode == 0 and list_ids(r.stdout) == ids, r.stdout + r.stderr
    r = certify("--protocol", proto, "--list", "--only", ids[1])
    assert r.returncode == 0 and list_ids(r.stdout) == ids[1:]


def test_only_the_probe_over_plain_text_is_an_error(mailspec):
    r = certify("--protocol", "imap", "--host", "127.0.0.1", "--port", str(free_port()),
                "--only", "imap.tls.rfc8996.no-tls1.0")
    assert r.returncode == 2
    assert "runs with --tls starttls or implicit" in r.stderr


def test_only_selects_probe_tests_in_a_run(lab, tmp_path):
    """--only chooses a generated test like any other, and leaves the others
    out of the report."""
    out = tmp_path / "r.json"
    r = certify("--protocol", "imap", "--host", lab.host, "--port", str(lab.imaps_port),
                "--tls", "implicit", "--cafile", lab.cafile,
                "--only", "imap.tls.rfc8996.no-tls1.1", "--json", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.load(open(out))
    assert [t["id"] for t in rep["tests"]] == ["imap.tls.rfc8996.no-tls1.1"]
    assert rep["tests"][0]["result"] == "pass"  # Dovecot refuses TLS 1.1
    assert "1 imap tests" in r.stdout
    # a suite test alone: no probe test in the report
    r = certify("--protocol", "imap", "--host", lab.host, "--port", str(lab.imaps_port),
                "--tls", "implicit", "--cafile", lab.cafile, "--only", "imap.noop.ok",
                "--json", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    assert [t["id"] for t in json.load(open(out))["tests"]] == ["imap.noop.ok"]


# ------------------------------------------------------------- messages --

def test_port_that_is_not_a_number(mailspec):
    for cmd in ("certify", "replay"):
        r = run(cmd, "--protocol", "imap", "--host", "127.0.0.1", "--port", "abc", "x.session")
        assert r.returncode == 2
        assert r.stderr.strip() == "mailspec %s: --port: takes a number from 1 to 65535" % cmd
        assert "Servname" not in r.stderr


def test_refused_connection_is_reported_once(mailspec):
    port = free_port()
    r = certify("--protocol", "imap", "--host", "127.0.0.1", "--port", str(port))
    assert r.returncode == 2
    assert r.stderr.count("Connection refused") == 1, r.stderr
    assert r.stderr.count("cannot connect") == 1, r.stderr
    assert "cannot connect to 127.0.0.1 port %d: Connection refused" % port in r.stderr


def test_option_typo_prints_a_hint_not_the_help(mailspec):
    for cmd in ("certify", "replay"):
        r = run(cmd, "--protocl", "imap")
        assert r.returncode == 2
        assert r.stderr.startswith("mailspec %s: unrecognized option '--protocl'" % cmd)
        assert "see 'mailspec %s --help'" % cmd in r.stderr
        assert len(r.stderr.splitlines()) <= 2, r.stderr
        assert "usage:" not in r.stderr and r.stdout == ""


def test_parse_option_typo_prints_a_hint_not_the_help(mailspec):
    # before or after the operands (getopt_long), a value missing, a typo
    for args in (("--frob", "imap", "commands"), ("imap", "commands", "--frob"),
                 ("imap", "commands", "--limit")):
        r = run("parse", *args)
        assert r.returncode == 2, args
        assert r.stderr.startswith("mailspec parse: unknown or incomplete option"), r.stderr
        assert "see 'mailspec parse --help'" in r.stderr
        assert len(r.stderr.splitlines()) == 2, r.stderr
        assert "usage:" not in r.stderr and r.stdout == ""
    # options may follow the operands
    r = subprocess.run([MAILSPEC, "parse", "imap", "commands", "-", "--quiet"],
                       input=b"a NOOP\r\n", capture_output=True, timeout=30)
    assert r.returncode == 0 and r.stdout == b"", r


@pytest.mark.parametrize("proto,port,tls", [("imap", "imaps_port", "none"),
                                            ("imap", "imaps_port", "starttls"),
                                            ("pop3", "pop3s_port", "none"),
                                            ("smtp", "smtps_port", "none")])
def test_plain_text_spoken_to_a_tls_port(lab, proto, port, tls):
    r = certify("--protocol", proto, "--host", lab.host, "--port", str(getattr(lab, port)),
                "--tls", tls, "--cafile", lab.cafile, "--timeout", "2", timeout=60)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "the server speaks TLS here: use --tls implicit" in r.stderr
    assert "no test was run" in r.stderr and "NOT compliant" not in r.stdout + r.stderr


@pytest.mark.parametrize("proto,port,greets", [("imap", "imap_port", "an IMAP server"),
                                               ("pop3", "pop3_port", "a POP3 server"),
                                               ("smtp", "smtp_port", "an SMTP server")])
def test_tls_spoken_to_a_plain_port(lab, proto, port, greets):
    r = certify("--protocol", proto, "--host", lab.host, "--port", str(getattr(lab, port)),
                "--tls", "implicit", "--cafile", lab.cafile, "--timeout", "5", timeout=60)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "speaks plain text here, not TLS: it greets like %s" % greets in r.stderr
    assert "use --tls none, or --tls starttls" in r.stderr
    assert "wrong version number" not in r.stderr


@pytest.mark.parametrize("proto,port,other", [("imap", "pop3_port", "POP3"),
                                              ("imap", "smtp_port", "SMTP"),
                                              ("pop3", "imap_port", "IMAP"),
                                              ("pop3", "smtp_port", "SMTP"),
                                              ("smtp", "imap_port", "IMAP"),
                                              ("smtp", "pop3_port", "POP3")])
def test_wrong_protocol_on_a_port(lab, tmp_path, proto, port, other):
    """The suite of one protocol at another protocol's port: exit 3 (docs/certify.md),
    a plain sentence naming both, no test run, no report, never 'NOT compliant'."""
    out = tmp_path / "r.json"
    r = certify("--protocol", proto, "--host", lab.host, "--port", str(getattr(lab, port)),
                "--timeout", "3", "--json", str(out), timeout=60)
    assert r.returncode == 3, r.stdout + r.stderr
    article = "a" if proto == "pop3" else "an"
    assert "this is not %s %s server: its greeting looks like %s" % (
        article, proto.upper(), other) in r.stderr, r.stderr
    assert "NOT compliant" not in r.stdout + r.stderr
    assert "[ 1/" not in r.stdout + r.stderr and not out.exists()


def test_right_protocol_is_not_called_wrong(lab):
    r = certify("--protocol", "imap", "--host", lab.host, "--port", str(lab.imap_port),
                "--only", "imap.noop.ok")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "this is not" not in r.stderr and "speaks" not in r.stderr


# --------------------------------------------------------------- replay --

def test_replay_says_when_no_script_ran(lab):
    """Every script not-applicable to --tls none: exit 6, and a line that says
    nothing ran (the summary alone read like a quiet success)."""
    scripts = sorted(os.path.join(SUITES, "imap", f) for f in os.listdir(os.path.join(SUITES, "imap"))
                     if f.startswith("starttls"))
    r = run("replay", "--protocol", "imap", "--host", lab.host, "--port", str(lab.imap_port),
            *scripts)
    assert r.returncode == 6, r.stderr
    assert "no script ran (%d not applicable, 0 not supported, 0 blocked): exit 6" % len(scripts) \
        in r.stderr
    # one that runs: no such line
    r = run("replay", "--protocol", "imap", "--host", lab.host, "--port", str(lab.imap_port),
            os.path.join(SUITES, "imap", "noop.session"))
    assert r.returncode == 0 and "no script ran" not in r.stderr


# ---------------------------------------------------- SMTP: messages sent --

def planned_messages(tls, only_prefix):
    """The messages the chosen SMTP tests submit at most, counted from the suite
    files: a DATA or BDAT ... LAST after a RCPT TO:<${rcpt}>, in tests for this
    transport, times the branches of the test's @either (each may run)."""
    n = 0
    for f in sorted(os.listdir(os.path.join(SUITES, "smtp"))):
        text = open(os.path.join(SUITES, "smtp", f)).read()
        if not re.search(r"^@test %s" % re.escape(only_prefix), text, re.M):
            continue
        m = re.search(r"^@transport (.*)$", text, re.M)
        if m and tls not in m.group(1).split():
            continue
        after = text.split("C: RCPT TO:<${rcpt}>", 1)
        branches = 1 + len(re.findall(r"^@or$", text, re.M)) if "\n@either\n" in text else 1
        if len(after) == 2:
            n += branches * len(re.findall(r"^C: (DATA|BDAT \d+ LAST)$", after[1], re.M))
    return n


def test_smtp_certify_says_how_many_messages_and_to_whom(lab):
    n = planned_messages("none", "smtp.")
    assert n >= 8
    r = certify("--protocol", "smtp", "--host", lab.host, "--port", str(lab.smtp_port),
                "--only", "smtp.noop.250", "--only", "smtp.noop.before-ehlo", timeout=120)
    assert "submit" not in r.stderr  # no transaction among the chosen tests
    r = certify("--protocol", "smtp", "--host", lab.host, "--port", str(lab.smtp_port),
                "--only", "smtp.data*", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    k = planned_messages("none", "smtp.data")
    assert k >= 2
    first = r.stderr.splitlines()[0]
    assert first == ("mailspec certify: the tests will submit up to %d messages to <postmaster> "
                     % k +
                     "(the default recipient), from <>; change the recipient with --rcpt ADDR, "
                     "the sender with --mail-from ADDR"), r.stderr
    r = certify("--protocol", "smtp", "--host", lab.host, "--port", str(lab.smtp_port),
                "--rcpt", lab.address, "--mail-from", lab.address2, "--list")
    assert "submit" not in r.stderr  # --list sends nothing
    r = certify("--protocol", "smtp", "--host", lab.host, "--port", str(lab.smtp_port),
                "--rcpt", lab.address, "--mail-from", lab.address2, "--only", "smtp.smuggling*",
                timeout=120)
    assert ("up to %d messages to <%s>, from <%s>" % (planned_messages("none", "smtp.smuggling"),
                                                       lab.address, lab.address2)) in r.stderr
    assert "default recipient" not in r.stderr


def inbox_count(lab, settle=2.0, limit=30.0):
    """alice's INBOX size over IMAP once it has not changed for `settle` seconds
    (Postfix delivers asynchronously)."""
    import imaplib
    import time

    def count():
        conn = imaplib.IMAP4(lab.host, lab.imap_port)
        try:
            conn.login(lab.user, lab.password)
            return int(conn.select("INBOX", readonly=True)[1][0])
        finally:
            conn.logout()

    last, since, end = count(), time.monotonic(), time.monotonic() + limit
    while time.monotonic() < end:
        time.sleep(0.5)
        now = count()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= settle:
            break
    return last


def test_smtp_announced_count_bounds_what_is_delivered(lab):
    """The number announced is an upper bound of the messages that really
    arrive (the lab's Postfix fails three smuggling tests, each of whose
    @either branches runs the test again)."""
    before = inbox_count(lab)
    r = certify("--protocol", "smtp", "--host", lab.host, "--port", str(lab.smtp_port),
                "--rcpt", lab.address, "--only", "smtp.smuggling*", "--only", "smtp.data.transaction",
                timeout=180)
    m = re.search(r"will submit up to (\d+) messages to <%s>" % re.escape(lab.address), r.stderr)
    assert m, r.stderr
    announced = int(m.group(1))
    assert announced == planned_messages("none", "smtp.smuggling") + planned_messages(
        "none", "smtp.data.transaction")
    delivered = inbox_count(lab) - before
    assert 1 <= delivered <= announced, (delivered, announced)


def test_rcpt_and_mail_from_are_documented(mailspec):
    h = certify("--help").stdout
    assert "--rcpt ADDR" in h and "--mail-from ADDR" in h and "postmaster" in h
    assert "submit real messages" in h
    man = open(os.path.join(ROOT, "docs", "mailspec.1")).read()
    assert "\\-\\-rcpt" in man and "\\-\\-mail\\-from" in man and "postmaster" in man
    doc = open(os.path.join(ROOT, "docs", "certify.md")).read()
    assert "`--rcpt`, `--mail-from`" in doc and "how many at most and to whom" in doc


# ------------------------------------------------------------- -q, -qq --

def test_quiet_prints_only_the_verdict_line(lab):
    base = ["--protocol", "imap", "--host", lab.host, "--port", str(lab.imap_port),
            "--only", "imap.noop.ok"]
    r = certify(*base, "-q")
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.count("\n") == 1, r.stdout
    assert r.stdout.startswith("imap %s:%d over none: compliant: " % (lab.host, lab.imap_port))
    for silent in ("-qq", "--silent"):
        r = certify(*base, silent)
        assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    # silent still reports errors, and the exit status tells
    r = certify("--protocol", "imap", "--host", lab.host, "--port", str(lab.pop3_port), "-qq",
                "--timeout", "3")
    assert r.returncode == 3 and r.stdout == "" and "this is not an IMAP server" in r.stderr
    # replay: -q the summary line, -qq nothing
    noop = os.path.join(SUITES, "imap", "noop.session")
    r = run("replay", "--protocol", "imap", "--host", lab.host, "--port", str(lab.imap_port),
            "-q", noop)
    assert r.returncode == 0 and r.stdout == "" and r.stderr.count("\n") == 1
    assert r.stderr.startswith("1 passed, 0 failed")
    r = run("replay", "--protocol", "imap", "--host", lab.host, "--port", str(lab.imap_port),
            "--silent", noop)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_quiet_levels_are_documented(mailspec):
    for cmd in ("certify", "replay"):
        h = run(cmd, "--help").stdout
        assert "-qq, --silent" in h
    man = open(os.path.join(ROOT, "docs", "mailspec.1")).read()
    assert "\\-\\-silent" in man and "\\-qq" in man


# -------------------------------------------------------------- install --

def make_install(*assignments):
    # the binary under test: its build directory is the one make installs from
    build = os.path.dirname(os.path.abspath(MAILSPEC))
    return subprocess.run(["make", "-s", "install", "BUILD=%s" % build, *assignments], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_make_install_and_the_installed_binary_finds_its_suites(lab, tmp_path):
    prefix = tmp_path / "prefix"
    r = make_install("PREFIX=%s" % prefix)
    assert r.returncode == 0, r.stdout + r.stderr
    exe = prefix / "bin" / "mailspec"
    assert os.access(exe, os.X_OK)
    assert (prefix / "share" / "man" / "man1" / "mailspec.1").is_file()
    for proto in ("imap", "pop3", "smtp"):
        src = sorted(f for f in os.listdir(os.path.join(SUITES, proto)) if f.endswith(".session"))
        assert sorted(os.listdir(prefix / "share" / "mailspec" / "suites" / proto)) == src
    # run from elsewhere, without MAILSPEC_SUITES: the suites beside the binary
    env = {k: v for k, v in os.environ.items() if k != "MAILSPEC_SUITES"}
    r = run("certify", "--protocol", "pop3", "--list", binary=str(exe), cwd=str(tmp_path), env=env)
    assert r.returncode == 0, r.stderr
    assert "pop3.noop.ok" in r.stdout
    out = tmp_path / "r.json"
    r = run("certify", "--protocol", "imap", "--host", lab.host, "--port", str(lab.imap_port),
            "--only", "imap.noop.ok", "--json", str(out), binary=str(exe), cwd=str(tmp_path),
            env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.load(open(out))
    # the report names the suite without the machine's absolute path
    assert rep["suite"] == ".../imap", rep["suite"]
    assert [t["id"] for t in rep["tests"]] == ["imap.noop.ok"]
    assert rep["tests"][0]["result"] == "pass"


def test_make_install_with_destdir(mailspec, tmp_path):
    dest = tmp_path / "stage"
    r = make_install("PREFIX=/opt/mailspec", "DESTDIR=%s" % dest)
    assert r.returncode == 0, r.stdout + r.stderr
    exe = dest / "opt" / "mailspec" / "bin" / "mailspec"
    r = run("certify", "--protocol", "smtp", "--list", binary=str(exe), cwd=str(tmp_path))
    assert r.returncode == 0 and "smtp.noop.250" in r.stdout, r.stderr
    assert (dest / "opt" / "mailspec" / "share" / "man" / "man1" / "mailspec.1").is_file()


def test_copied_binary_without_suites_says_where_it_looked(mailspec, tmp_path):
    exe = tmp_path / "bin" / "mailspec"
    exe.parent.mkdir()
    shutil.copy(MAILSPEC, exe)
    env = {k: v for k, v in os.environ.items() if k != "MAILSPEC_SUITES"}
    r = run("certify", "--protocol", "imap", "--list", binary=str(exe), cwd=str(tmp_path), env=env)
    assert r.returncode == 2 and r.stdout == ""
    assert "no imap suite found; looked in:" in r.stderr
    assert str(tmp_path / "bin" / ".." / "share" / "mailspec" / "suites" / "imap") in r.stderr
    assert "MAILSPEC_SUITES is not set" in r.stderr
    assert "--suite DIR" in r.stderr and "MAILSPEC_SUITES=DIR" in r.stderr
    # pointing it either way works
    r = run("certify", "--protocol", "imap", "--list", binary=str(exe), cwd=str(tmp_path),
            env=dict(env, MAILSPEC_SUITES=SUITES))
    assert r.returncode == 0 and "imap.noop.ok" in r.stdout
    r = run("certify", "--protocol", "imap", "--list", "--suite", os.path.join(SUITES, "imap"),
            binary=str(exe), cwd=str(tmp_path), env=env)
    assert r.returncode == 0 and "imap.noop.ok" in r.stdout
    r = run("certify", "--protocol", "imap", "--list", "--suite", str(tmp_path / "nope"),
            binary=str(exe), cwd=str(tmp_path), env=env)
    assert r.returncode == 2 and "--suite %s: not a directory" % (tmp_path / "nope") in r.stderr
