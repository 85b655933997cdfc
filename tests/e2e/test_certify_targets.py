"""End-to-end tests of `mailspec certify --targets FILE --out DIR`
(docs/certify.md "Many servers").

Against the lab's real servers (Dovecot, Postfix) on several protocols and
transports plus a port nobody listens on: one JSON report per target, the
same results as a one-server run, summary.json, the table, the exit status
rule. Against small loopback servers (loopback.py, hostile.py): the bound on
connections per host and on targets at once, a target that hangs
(--target-timeout) or crashes, Ctrl-C. And the targets file's errors.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import lab  # noqa: E402,F401  (pytest fixture)
from loopback import LoopbackServer  # noqa: E402
import hostile  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MAILSPEC = os.environ.get("MAILSPEC", os.path.join(ROOT, "build", "mailspec"))
RUN_TIMEOUT = 240


def certify(*args, env=None, timeout=RUN_TIMEOUT):
    return subprocess.run([MAILSPEC, "certify", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def stem(proto, host, port, tls):
    return "%s-%s-%s-%s" % (proto, host, port, tls)


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def worst(exits):
    """docs/certify.md "Many servers": 2 when a target did not run to a
    verdict, else 1 when one failed, else 6 when one is incomplete, else 0."""
    if any(e not in (0, 1, 6) for e in exits):
        return 2
    return 1 if 1 in exits else 6 if 6 in exits else 0


# ------------------------------------------------------------ the lab --

def lab_targets(lab):
    return [
        ("imap", lab.host, lab.imap_port, "none"),
        ("imap", lab.host, lab.imaps_port, "implicit"),
        ("pop3", lab.host, lab.pop3_port, "starttls"),
        ("pop3", lab.host, lab.pop3s_port, "implicit"),
        ("smtp", lab.host, lab.submission_port, "starttls"),
    ]


def write_targets(path, targets, extra=""):
    lines = ["# mailspec certify --targets (e2e)", ""]
    for proto, host, port, tls in targets:
        lines.append("%-5s %s\t%d  %s" % (proto, host, port, tls))
    path.write_text("\n".join(lines) + "\n" + extra)


def test_lab_targets(lab, tmp_path):
    """IMAP, POP3 and SMTP on several transports and one unreachable port,
    credentials from a file: one report and log per target, each the same
    as a one-server run would write; summary.json in file order; a table and
    a progress line per target; exit 2 (one target could not be run); the
    password nowhere."""
    dead = free_port()
    targets = lab_targets(lab) + [("imap", "127.0.0.1", dead, "none")]
    tfile = tmp_path / "targets.txt"
    write_targets(tfile, targets, extra="   # indented comment\n\n")
    pw = tmp_path / "pw"
    pw.write_text(lab.password + "\n")
    out = tmp_path / "out"
    start = time.monotonic()
    r = certify("--targets", str(tfile), "--out", str(out), "--user", lab.user,
                "--password-file", str(pw), "--cafile", lab.cafile, "--parallel", "3")
    secs = time.monotonic() - start
    assert r.returncode == 2, r.stdout + r.stderr

    names = {stem(*t) for t in targets}
    files = set(os.listdir(out))
    assert files == {n + ".json" for n in names} | {n + ".log" for n in names} | {"summary.json"}

    summ = read_json(out / "summary.json")
    assert summ["command"] == "certify" and summ["exit"] == 2
    assert summ["targets_file"] == str(tfile)
    assert summ["interrupted"] is False
    rows = summ["targets"]
    assert [(t["protocol"], t["host"], t["port"], t["transport"]) for t in rows] == targets
    assert [t["line"] for t in rows] == list(range(3, 3 + len(targets)))
    expected = {"imap": 0, "pop3": 0, "smtp": 1}  # the lab's Postfix: bare-LF smuggling MUSTs
    for row, (proto, host, port, tls) in zip(rows, targets):
        rep = read_json(out / row["report"])
        assert row["report"] == stem(proto, host, port, tls) + ".json"
        assert (rep["protocol"], rep["host"], rep["port"], rep["transport"]) == \
            (proto, host, port, tls)
        assert row["exit"] == rep["exit"], row
        assert row["summary"] == rep["summary"]
        assert row["verdict"] == rep["verdict"]
        if port == dead:
            assert row["exit"] == 2 and row["outcome"] == "error"
            assert "cannot connect" in row["error"] and str(dead) in row["error"]
            assert rep["tests"] == [] and rep["compliant"] is False
            assert rep["verdict"].startswith("none: no test was run (error): cannot connect")
            assert "cannot connect" in (out / row["log"]).read_text()
        else:
            assert row["exit"] == expected[proto], (row, (out / row["log"]).read_text()[-3000:])
            assert row["outcome"] == ("compliant" if expected[proto] == 0 else "not-compliant")
            assert row["compliant"] is (expected[proto] == 0)
            assert row["error"] == ""
            assert len(rep["tests"]) == row["summary"]["total"] > 10
            assert rep["login"]["checked"] is True
            # the log is the one-server run's terminal output
            log = (out / row["log"]).read_text()
            assert "verdict:" in log and re.search(r"\[ *1/", log)
    assert summ["counts"] == {"targets": 6, "compliant": 4, "not_compliant": 1, "incomplete": 0,
                              "not_run": 1}
    assert worst([t["exit"] for t in rows]) == summ["exit"]

    # the terminal: a progress line per target on stderr, a table row per target on stdout
    assert len([ln for ln in r.stderr.splitlines() if "] " in ln and ": exit " in ln]) == 6
    assert "cannot connect" in r.stderr
    for proto, host, port, tls in targets:
        assert any(ln.startswith("%s %s:%d %s " % (proto, host, port, tls))
                   for ln in r.stdout.splitlines()), r.stdout
    assert "6 targets: 4 compliant, 1 not compliant, 0 incomplete, 1 not run" in r.stdout

    # no secret in anything written
    text = r.stdout + r.stderr + "".join((out / f).read_text() for f in files)
    assert lab.password not in text

    # the same results as certify of that one server
    one = tmp_path / "one.json"
    env = dict(os.environ, MAILSPEC_PASSWORD=lab.password)
    r1 = certify("--protocol", "imap", "--host", lab.host, "--port", str(lab.imaps_port),
                 "--tls", "implicit", "--user", lab.user, "--cafile", lab.cafile,
                 "--json", str(one), env=env)
    assert r1.returncode == 0
    many = read_json(out / (stem("imap", lab.host, lab.imaps_port, "implicit") + ".json"))
    assert {t["id"]: t["result"] for t in many["tests"]} == \
        {t["id"]: t["result"] for t in read_json(one)["tests"]}
    assert secs < 200


@pytest.mark.parametrize("case", ["pass", "incomplete", "fail"])
def test_lab_exit_rule(lab, tmp_path, case):
    """The worst target decides: all compliant 0; an incomplete one (no
    credentials) 6; a failed one beats incomplete: 1."""
    creds = ["--user", lab.user, "--password", lab.password]
    if case == "pass":
        targets, extra, want = [("imap", lab.host, lab.imap_port, "none"),
                                ("pop3", lab.host, lab.pop3_port, "none")], creds, [0, 0]
    elif case == "incomplete":
        targets, extra, want = [("imap", lab.host, lab.imap_port, "none"),
                                ("imap", lab.host, lab.imaps_port, "implicit")], [], [6, 6]
    else:
        targets, extra, want = [("imap", lab.host, lab.imap_port, "none"),
                                ("smtp", lab.host, lab.smtp_port, "none")], [], [6, 1]
    tfile = tmp_path / "t"
    write_targets(tfile, targets)
    out = tmp_path / "out"
    r = certify("--targets", str(tfile), "--out", str(out), "--cafile", lab.cafile, *extra)
    summ = read_json(out / "summary.json")
    assert [t["exit"] for t in summ["targets"]] == want, r.stdout + r.stderr
    assert r.returncode == summ["exit"] == worst(want) == {"pass": 0, "incomplete": 6,
                                                           "fail": 1}[case]


def test_lab_options_reach_each_target(lab, tmp_path):
    """Options with values that certify alone knows (--expect-fail, --jobs,
    --rcpt) reach every target intact, and --html renders one page of all
    the targets' reports."""
    allow = tmp_path / "allow"
    allow.write_text("smtp.smuggling.*  lab Postfix: bare LF ends DATA\n"
                     "smtp.tls.rfc8996.*  lab Postfix: old TLS versions\n")
    targets = [("smtp", lab.host, lab.submission_port, "starttls"),
               ("imap", lab.host, lab.imap_port, "none")]
    tfile = tmp_path / "t"
    write_targets(tfile, targets)
    out = tmp_path / "out"
    html = tmp_path / "all.html"
    r = certify("--targets", str(tfile), "--expect-fail", str(allow), "--out", str(out),
                "--jobs", "2", "--html", str(html), "--user", lab.user,
                "--password", lab.password, "--rcpt", lab.address, "--cafile", lab.cafile)
    assert r.returncode == 0, r.stdout + r.stderr
    summ = read_json(out / "summary.json")
    assert [t["outcome"] for t in summ["targets"]] == ["compliant", "compliant"]
    smtp = read_json(out / summ["targets"][0]["report"])
    assert smtp["summary"]["xfail"] >= 3
    assert all("expected_failure" in t for t in smtp["tests"] if t["id"].startswith("smtp.smug"))
    assert any("RCPT TO:<%s>" % lab.address in t["transcript"] for t in smtp["tests"])
    page = html.read_text()
    assert "%s" % lab.submission_port in page and "%s" % lab.imap_port in page
    assert lab.password not in page


# ------------------------------------------------- the bound per host --

class Gauge:
    """Connections open at once, across several servers."""

    def __init__(self):
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.total = 0

    def enter(self):
        with self.lock:
            self.now += 1
            self.total += 1
            self.most = max(self.most, self.now)

    def leave(self):
        with self.lock:
            self.now -= 1


class HoldAndClose(LoopbackServer):
    """Accepts, holds the connection HOLD seconds without a word, closes:
    certify's pre-flight then stops with exit 3 (no greeting), having opened
    two connections one after the other (the second asks whether a TLS
    handshake would be answered)."""

    HOLD = 0.6

    def __init__(self, gauge):
        super().__init__(lifetime=60, io_timeout=5)
        self.gauge = gauge

    def handle_connection(self, sock):
        self.gauge.enter()
        try:
            time.sleep(self.HOLD)
        finally:
            self.gauge.leave()
            sock.close()


def run_held(tmp_path, n, *opts):
    gauge = Gauge()
    servers = [HoldAndClose(gauge).start() for _ in range(n)]
    try:
        tfile = tmp_path / "t"
        write_targets(tfile, [("imap", "127.0.0.1", s.port, "none") for s in servers])
        out = tmp_path / "out"
        start = time.monotonic()
        r = certify("--targets", str(tfile), "--out", str(out), "--timeout", "5", *opts,
                    timeout=60)
        secs = time.monotonic() - start
    finally:
        for s in servers:
            s.stop()
    return r, gauge, secs, read_json(out / "summary.json")


@pytest.mark.parametrize("per_host,parallel,most", [(None, "6", 1), ("2", "6", 2),
                                                    ("3", "6", 3), ("6", "1", 1),
                                                    ("6", "6", 6)])
def test_connections_per_host_are_bounded(mailspec, tmp_path, per_host, parallel, most):
    """Six targets on one host: at most --per-host connections to it (by
    default --jobs: one target at a time), and at most --parallel targets, at
    once; each bound is reached (so the test sees the bound, not a slow
    start)."""
    opts = ["--per-host", per_host] if per_host else []
    r, gauge, secs, summ = run_held(tmp_path, 6, *opts, "--parallel", parallel)
    assert r.returncode == 2, r.stderr
    # each target connects once for its greeting, and once more to tell a
    # silent TLS port from a silent plain one (certify's pre-flight)
    assert gauge.total == 12
    assert gauge.most == most, (gauge.most, r.stderr)
    assert secs >= HoldAndClose.HOLD * (6 // most) - 0.1
    assert [t["outcome"] for t in summ["targets"]] == ["no-greeting"] * 6
    assert summ["per_host"] == int(per_host or 1) and summ["parallel"] == int(parallel)


# ------------------------------------ a target that hangs or crashes --

def child_pids(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(x) for x in f.read().split()]


def test_a_hanging_target_is_stopped(mailspec, tmp_path):
    """A server that never greets, with --timeout longer than
    --target-timeout: the target is stopped (timed-out, exit 2) and the
    others' results are kept."""
    dead = free_port()
    with hostile.Server(hostile.silent, lifetime=60) as srv:
        tfile = tmp_path / "t"
        write_targets(tfile, [("imap", "127.0.0.1", srv.port, "none"),
                              ("smtp", "127.0.0.1", dead, "none")])
        out = tmp_path / "out"
        start = time.monotonic()
        r = certify("--targets", str(tfile), "--out", str(out), "--timeout", "60",
                    "--target-timeout", "2", timeout=60)
        secs = time.monotonic() - start
    assert r.returncode == 2
    assert 1.5 < secs < 2 + 5 + 3, secs  # the timeout, at most the grace period after it
    summ = read_json(out / "summary.json")
    hung, other = summ["targets"]
    assert hung["outcome"] == "timed-out" and hung["exit"] == 2, hung
    assert "timed-out after 2 s" in r.stderr
    assert read_json(out / hung["report"])["exit"] == 2
    assert other["outcome"] == "error" and "cannot connect" in other["error"]


def test_a_crashed_target_loses_only_its_result(mailspec, tmp_path):
    """A target's process that dies of a signal is 'crashed' (exit 2) in the
    summary, with a report of its own; the other target still runs."""
    dead = free_port()
    with hostile.Server(hostile.silent, lifetime=60) as srv:
        tfile = tmp_path / "t"
        write_targets(tfile, [("pop3", "127.0.0.1", srv.port, "none"),
                              ("smtp", "127.0.0.1", dead, "none")])
        out = tmp_path / "out"
        p = subprocess.Popen([MAILSPEC, "certify", "--targets", str(tfile), "--out", str(out),
                              "--timeout", "30", "--parallel", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 10
            while srv.connections == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            kids = child_pids(p.pid)
            assert len(kids) == 1, kids
            os.kill(kids[0], signal.SIGSEGV)
            stdout, stderr = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert p.returncode == 2, stderr
    summ = read_json(out / "summary.json")
    crashed, other = summ["targets"]
    assert crashed["outcome"] == "crashed" and crashed["exit"] == 2
    assert "signal %d" % signal.SIGSEGV in stderr
    rep = read_json(out / crashed["report"])
    assert rep["exit"] == 2 and rep["tests"] == [] and "crashed" in rep["verdict"]
    assert other["outcome"] == "error"  # ran after the crash
    assert summ["counts"]["not_run"] == 2


@pytest.mark.parametrize("signo", [signal.SIGINT, signal.SIGTERM])
def test_sigint_stops_the_run_and_writes_the_summary(mailspec, tmp_path, signo):
    """Ctrl-C (or SIGTERM to the run): the running target stops, those not
    started are not-run, summary.json is written, exit 2."""
    with hostile.Server(hostile.silent, lifetime=60) as srv:
        tfile = tmp_path / "t"
        write_targets(tfile, [("imap", "127.0.0.1", srv.port, "none"),
                              ("pop3", "127.0.0.1", srv.port, "none"),
                              ("smtp", "127.0.0.1", srv.port, "none")])
        out = tmp_path / "out"
        p = subprocess.Popen([MAILSPEC, "certify", "--targets", str(tfile), "--out", str(out),
                              "--timeout", "30", "--parallel", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 10
            while srv.connections == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            start = time.monotonic()
            p.send_signal(signo)
            _, stderr = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert time.monotonic() - start < 5
    assert p.returncode == 2
    assert "interrupted" in stderr
    summ = read_json(out / "summary.json")
    assert summ["interrupted"] is True and summ["exit"] == 2
    assert [t["outcome"] for t in summ["targets"]] == ["error", "not-run", "not-run"]
    assert srv.connections == 1
    assert [read_json(out / t["report"])["exit"] for t in summ["targets"]] == [2, 2, 2]


# ------------------------------------------------ the file and options --

@pytest.mark.parametrize("line,why", [
    ("imap 127.0.0.1 143", "four fields"),
    ("imap 127.0.0.1 143 none extra", "four fields"),
    ("nntp 127.0.0.1 119 none", "protocol 'nntp'"),
    ("imap 127.0.0.1 0 none", "port '0'"),
    ("imap 127.0.0.1 65536 none", "port '65536'"),
    ("imap 127.0.0.1 abc none", "port 'abc'"),
    ("imap 127.0.0.1 143 ssl", "TLS 'ssl'"),
    ("imap -x 143 none", "host '-x'"),
    ("imap 127.0.0.1 143 none\x01", "control character"),
    ("imap 127.0.0.1 2 none", "the same target as line 2"),
])
def test_malformed_line_is_a_usage_error(mailspec, tmp_path, line, why):
    """A malformed line stops the run before any target: exit 2,
    FILE:LINE: reason, no output directory."""
    tfile = tmp_path / "t"
    tfile.write_text("# header\nimap 127.0.0.1 2 none\n\n" + line + "\n")
    out = tmp_path / "out"
    r = certify("--targets", str(tfile), "--out", str(out))
    assert r.returncode == 2
    assert "%s:4: " % tfile in r.stderr and why in r.stderr, r.stderr
    assert not out.exists()


def test_comments_blank_lines_and_crlf(mailspec, tmp_path):
    """'#' to the end of a line is a comment, blank lines and CRLF are fine;
    host names are compared without case (one file name per target)."""
    a, b = free_port(), free_port()
    tfile = tmp_path / "t"
    tfile.write_bytes(("# all\r\n\r\n  \t\r\nimap Localhost %d none # the first\r\n"
                       "smtp 127.0.0.1 %d implicit\r\n" % (a, b)).encode())
    out = tmp_path / "out"
    r = certify("--targets", str(tfile), "--out", str(out), "-q")
    assert r.returncode == 2, r.stderr
    summ = read_json(out / "summary.json")
    assert [(t["line"], t["report"]) for t in summ["targets"]] == [
        (4, "imap-localhost-%d-none.json" % a), (5, "smtp-127.0.0.1-%d-implicit.json" % b)]
    assert r.stderr == ""  # -q: no progress lines
    dup = tmp_path / "dup"
    dup.write_text("imap localhost 1 none\nimap LOCALHOST 1 none\n")
    r = certify("--targets", str(dup), "--out", str(out))
    assert r.returncode == 2 and ":2: the same target as line 1" in r.stderr


def test_file_names_are_safe(mailspec, tmp_path):
    """An IPv6 address: its ':' does not reach the file name."""
    tfile = tmp_path / "t"
    tfile.write_text("pop3 ::1 %d none\n" % free_port())
    out = tmp_path / "out"
    r = certify("--targets", str(tfile), "--out", str(out))
    assert r.returncode == 2
    row = read_json(out / "summary.json")["targets"][0]
    assert row["host"] == "::1"
    assert row["report"].startswith("pop3-__1-") and (out / row["report"]).exists()


def test_option_errors(mailspec, tmp_path):
    tfile = tmp_path / "t"
    tfile.write_text("imap 127.0.0.1 1 none\nsmtp 127.0.0.1 2 none\n")
    out = str(tmp_path / "out")
    base = ["--targets", str(tfile), "--out", out]
    cases = [
        (["--targets", str(tfile)], "needs --out"),
        (base + ["--host", "h"], "--host cannot be used with --targets"),
        (base + ["--tls", "none"], "--tls cannot be used with --targets"),
        (base + ["--port", "1"], "--port cannot be used"),
        (base + ["--protocol", "imap"], "--protocol cannot be used"),
        (base + ["--json", "x.json"], "--json cannot be used"),
        (base + ["--junit", "x.xml"], "--junit cannot be used"),
        (base + ["--html", "-"], "--html - cannot be used"),
        (base + ["--html-from"], "--html-from cannot be used"),
        (base + ["--list"], "--list cannot be used"),
        (base + ["--expect-fail", str(tmp_path / "nope")], "cannot open"),
        (base + ["--jobs", "3", "--per-host", "2"], "more than --per-host 2"),
        (base + ["--parallel", "0"], "--parallel: takes a number from 1 to 64"),
        (base + ["--per-host", "65"], "--per-host: takes a number from 1 to 64"),
        (base + ["--target-timeout", "x"], "--target-timeout: takes"),
        (base + ["--user", "u"], "--user needs a password"),
        (base + ["--suite", "/tmp"], "--suite with --targets: every target must be of one"),
        (base + ["--only", "imap.login.ok"], "--only with --targets"),
        (["--targets", str(tmp_path / "missing"), "--out", out], "cannot open"),
        (base + ["extra"], "unexpected argument 'extra'"),
    ]
    for args, why in cases:
        r = certify(*args)
        assert r.returncode == 2, args
        assert why in r.stderr, (args, r.stderr)
        assert not os.path.exists(out), args
    # the options of --targets alone
    for opt, val in (("--out", out), ("--parallel", "2"), ("--per-host", "2"),
                     ("--target-timeout", "9")):
        r = certify("--protocol", "imap", "--host", "127.0.0.1", "--port", "1", opt, val)
        assert r.returncode == 2 and "%s goes with --targets FILE" % opt in r.stderr, r.stderr
        assert "cannot connect" not in r.stderr  # stopped before connecting
    empty = tmp_path / "empty"
    empty.write_text("# nothing\n\n")
    r = certify("--targets", str(empty), "--out", out)
    assert r.returncode == 2 and "no targets" in r.stderr
    afile = tmp_path / "afile"
    afile.write_text("")
    r = certify("--targets", str(tfile), "--out", str(afile))
    assert r.returncode == 2 and "not a directory" in r.stderr


def test_help_documents_targets(mailspec):
    r = certify("--help")
    assert r.returncode == 0
    for opt in ("--targets FILE", "--out DIR", "--parallel N", "--per-host N",
                "--target-timeout SECONDS"):
        assert opt in r.stdout, opt
