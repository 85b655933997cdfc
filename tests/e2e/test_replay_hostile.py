"""Hostile servers: each must give that test a clear `blocked` (the server
gave no answer that can be judged; never the harness's `error`, never a
`fail`) within its timeout, never a crash or a hang, with the runner's
memory under 64 MiB. A blocked MUST test makes the run incomplete: exit 6."""
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

import hostile
from conftest import MAILSPEC

MAX_RSS_KIB = 64 * 1024
if "ASAN_OPTIONS" in os.environ:  # a sanitizer build's shadow memory is not ours
    MAX_RSS_KIB = 1024 * 1024


# The max RSS of a process exec'd straight from pytest is at least pytest's
# own peak: Linux carries the high-water mark of the address space a process
# leaves through execve into its ru_maxrss, and pytest's grows with the suite
# (about 70 MiB in the whole e2e run, over MAX_RSS_KIB whatever mailspec
# does). So a small launcher (a fresh interpreter without site) forks the
# measured program and reports that child's own ru_maxrss on a pipe; the
# floor is then the launcher's few MiB.
LAUNCHER = r"""
import os, signal, sys
w = int(sys.argv[1])
pid = os.fork()
if pid == 0:
    try:
        os.close(w)
        os.execv(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, st, ru = os.wait4(pid, 0)
os.write(w, b"%d" % ru.ru_maxrss)
if os.WIFSIGNALED(st):
    signal.signal(os.WTERMSIG(st), signal.SIG_DFL)
    os.kill(os.getpid(), os.WTERMSIG(st))
os._exit(os.waitstatus_to_exitcode(st))
"""


def spawn_rss(argv, **kw):
    """Start argv under the launcher (its own process group); returns the
    process and the pipe end its max RSS in KiB arrives on."""
    r, w = os.pipe()
    try:
        proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", LAUNCHER, str(w), *argv],
                                pass_fds=(w,), start_new_session=True, **kw)
    finally:
        os.close(w)
    return proc, r


def reap_rss(proc, r, options=0):
    """wait4 the launcher: (pid, exit code, max RSS in KiB); pid 0 while it runs."""
    pid, status, _ = os.wait4(proc.pid, options)
    if not pid:
        return 0, None, None
    with os.fdopen(r, "rb") as f:
        got = f.read()
    assert got, "the launcher reported no RSS"
    proc.returncode = os.waitstatus_to_exitcode(status)
    return pid, proc.returncode, int(got)


def run_rss(args, timeout, exe=None):
    """Like run_measured, but measures the child's own max RSS (see LAUNCHER)."""
    t0 = time.monotonic()
    proc, r = spawn_rss([exe or MAILSPEC, *map(str, args)], stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE)
    err = b""
    deadline = t0 + timeout
    os.set_blocking(proc.stderr.fileno(), False)
    while True:
        pid, _, rss = reap_rss(proc, r, os.WNOHANG)
        try:
            chunk = proc.stderr.read()
            if chunk:
                err += chunk
        except (BlockingIOError, TypeError):
            pass
        if pid:
            break
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            os.wait4(proc.pid, 0)
            os.close(r)
            pytest.fail("mailspec hung (killed after %ss)" % timeout)
        time.sleep(0.05)
    rest = proc.stderr.read() or b""
    err += rest
    proc.err = err.decode("utf-8", "replace")
    return proc, time.monotonic() - t0, rss


def session(tmp_path, proto, text):
    p = tmp_path / ("%s.session" % proto)
    p.write_text("@protocol %s\n%s" % (proto, text))
    return str(p)


IMAP = "S: * OK ${*}\nC: a1 FETCH 1 BODY[]\nS: * 1 FETCH ${*}\nS: a1 OK ${*}\n"
SMTP = "S: 220 ${*}\nC: EHLO x\n@allow 250-${*}\nS: 250 ${*}\n"


@pytest.mark.parametrize("handler,proto,script,needle", [
    (hostile.never_ends_line, "imap", IMAP, "the server sent a message longer than"),
    (hostile.huge_literal, "imap", IMAP, "literal"),
    (hostile.drip, "imap", IMAP, "no answer within 3000 ms"),
    (hostile.garbage, "smtp", SMTP, "binary data"),
    (hostile.close_mid_response, "smtp", SMTP, "middle of"),
    (hostile.silent, "smtp", SMTP, "no answer within 3000 ms"),
])
def test_hostile_server_is_blocked(tmp_path, handler, proto, script, needle):
    out, xml = tmp_path / "r.json", tmp_path / "r.xml"
    with hostile.Server(handler, certdir=str(tmp_path)) as srv:
        proc, secs, rss = run_rss(["replay", "--port", srv.port, "--timeout", "3",
                                   "--json", out, "--junit", xml,
                                   session(tmp_path, proto, script)], timeout=30)
    # whatever bytes the server sent, both reports are well-formed
    case = ET.parse(xml).getroot().find("testsuite").find("testcase")
    skipped = case.find("skipped")  # judged nothing: <skipped> with the reason
    assert skipped is not None and case.find("error") is None and case.find("failure") is None
    assert needle in skipped.get("message"), skipped.get("message")
    assert proc.returncode == 6, proc.err
    r = json.loads(out.read_text())
    t = r["tests"][0]
    assert t["result"] == "blocked", t
    assert needle in t["message"], t["message"]
    assert r["summary"]["blocked"] == 1 and r["summary"]["error"] == 0
    assert secs < 3 + 5, secs  # its timeout plus slack
    assert rss < MAX_RSS_KIB, "max RSS %d KiB" % rss


def test_tls_handshake_failure(tmp_path):
    out = tmp_path / "r.json"
    with hostile.Server(hostile.not_tls, certdir=str(tmp_path)) as srv:
        proc, secs, rss = run_rss(["replay", "--port", srv.port, "--tls", "implicit",
                                   "--insecure", "--timeout", "3", "--json", out,
                                   session(tmp_path, "imap", IMAP)], timeout=30)
    assert proc.returncode == 6, proc.err
    t = json.loads(out.read_text())["tests"][0]
    assert t["result"] == "blocked" and "TLS handshake failed" in t["message"], t
    assert secs < 8 and rss < MAX_RSS_KIB


def test_tls_handshake_stall(tmp_path):
    """A server that accepts TCP and never answers the ClientHello."""
    out = tmp_path / "r.json"
    with hostile.Server(hostile.silent, certdir=str(tmp_path)) as srv:
        proc, secs, _ = run_rss(["replay", "--port", srv.port, "--tls", "implicit", "--insecure",
                                 "--timeout", "2", "--json", out,
                                 session(tmp_path, "imap", IMAP)], timeout=30)
    assert proc.returncode == 6, proc.err
    t = json.loads(out.read_text())["tests"][0]
    assert t["result"] == "blocked" and "TLS" in t["message"], t
    assert "timed out" in t["message"] or "no answer within" in t["message"], t
    assert secs < 7


def test_several_hostile_in_parallel(tmp_path):
    """--jobs with hostile servers: all blocked, bounded time and memory."""
    handlers = [hostile.never_ends_line, hostile.huge_literal, hostile.drip, hostile.silent]
    servers = [hostile.Server(h, certdir=str(tmp_path)) for h in handlers]
    for s in servers:
        s.__enter__()
    try:
        # one invocation per server, four scripts each, all at once
        procs = []
        for i, s in enumerate(servers):
            d = tmp_path / ("d%d" % i)
            d.mkdir()
            scripts = [session(d, "imap", IMAP)]
            for k in range(3):
                p = d / ("extra%d.session" % k)
                p.write_text("@protocol imap\n" + IMAP)
                scripts.append(str(p))
            procs.append(spawn_rss(
                [MAILSPEC, "replay", "--port", str(s.port), "--jobs", "4", "--timeout", "3",
                 "--json", str(d / "r.json"), *scripts],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        t0 = time.monotonic()
        for i, (p, r) in enumerate(procs):
            _, code, rss = reap_rss(p, r)
            assert code == 6
            assert rss < MAX_RSS_KIB, rss
            r = json.loads((tmp_path / ("d%d" % i) / "r.json").read_text())
            assert [t["result"] for t in r["tests"]] == ["blocked"] * 4
        assert time.monotonic() - t0 < 15
    finally:
        for s in servers:
            s.stop()


def test_rss_is_the_childs_own():
    """The measurement is the child's memory, not pytest's: with this process
    grown past 80 MiB a small child still measures small, and a child that
    touches 80 MiB measures at least that."""
    touch = "b = bytearray(80 << 20); b[::4096] = b'\\1' * len(range(0, len(b), 4096))"
    big = bytearray(80 << 20)
    big[::4096] = b"\1" * len(range(0, len(big), 4096))
    proc, _, small = run_rss(["-I", "-S", "-c", "pass"], timeout=30, exe=sys.executable)
    del big
    assert proc.returncode == 0, proc.err
    assert small < 64 * 1024, "max RSS %d KiB" % small
    proc, _, rss = run_rss(["-I", "-S", "-c", touch], timeout=30, exe=sys.executable)
    assert proc.returncode == 0, proc.err
    assert rss >= 80 * 1024, "max RSS %d KiB" % rss
