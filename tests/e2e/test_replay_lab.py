"""mailspec replay of conformance/examples against the lab's real servers
(Dovecot IMAP/POP3, Postfix SMTP) over every transport."""
import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import MAILSPEC, ROOT, verdict_exit  # noqa: E402
from lab import lab  # noqa: E402,F401  (pytest fixture)

EX = os.path.join(ROOT, "conformance", "examples")


def registered(proto):
    """Whether this build has a strict parser for proto (all three do now)."""
    p = subprocess.run([MAILSPEC, "parse", proto, "replies", "-q"], input=b"",
                       capture_output=True, timeout=10)
    return b"unknown protocol" not in p.stderr


def replay(lab, tmp_path, proto, tls, port, *paths, extra=()):
    assert registered(proto), "no %s parser registered in this build" % proto
    out = tmp_path / ("%s-%s.json" % (proto, tls))
    p = subprocess.run(
        [MAILSPEC, "replay", "--protocol", proto, "--host", "localhost", "--port", str(port),
         "--tls", tls, "--cafile", lab.cafile, "--user", lab.user, "--password", lab.password,
         "--timeout", "10", "--json", str(out), *extra, *paths],
        capture_output=True, timeout=180)
    rep = json.loads(out.read_text())
    return p, rep, {t["id"]: t for t in rep["tests"]}


def ports(lab):
    return {
        ("imap", "none"): lab.imap_port, ("imap", "starttls"): lab.imap_port,
        ("imap", "implicit"): lab.imaps_port,
        ("pop3", "none"): lab.pop3_port, ("pop3", "starttls"): lab.pop3_port,
        ("pop3", "implicit"): lab.pop3s_port,
        ("smtp", "none"): lab.smtp_port, ("smtp", "starttls"): lab.smtp_port,
        ("smtp", "implicit"): lab.smtps_port,
    }


EXPECT = {
    # id -> result per transport (none, starttls, implicit); scripts with @tls
    # do not apply to --tls implicit
    "imap.example.capability": ("pass", "pass", "pass"),
    "imap.example.starttls": ("pass", "pass", "not-applicable"),
    # Dovecot 2.3 does not run the pipelined plaintext, but it does not discard
    # it either: it feeds it to SSL_accept, so the handshake fails (the example
    # has no @tls-failure pass: not judged, blocked; its log says
    # "SSL_accept() syscall failed").
    "imap.starttls.injection": ("blocked", "blocked", "not-applicable"),
    "imap.example.login-select": ("pass", "pass", "pass"),
    "imap.example.authenticate-plain": ("pass", "pass", "pass"),
    "imap.example.must-fail": ("fail", "fail", "fail"),
    "smtp.example.ehlo-quit": ("pass", "pass", "pass"),
    "smtp.example.starttls": ("pass", "pass", "not-applicable"),
    "pop3.example.capa-quit": ("pass", "pass", "pass"),
    "pop3.example.stls": ("pass", "pass", "not-applicable"),
}


@pytest.mark.parametrize("proto", ["imap", "pop3", "smtp"])
@pytest.mark.parametrize("tls", ["none", "starttls", "implicit"])
def test_examples_against_lab(lab, tmp_path, proto, tls):
    p, rep, by_id = replay(lab, tmp_path, proto, tls, ports(lab)[(proto, tls)],
                           os.path.join(EX, proto))
    col = ("none", "starttls", "implicit").index(tls)
    for tid, t in by_id.items():
        want = EXPECT[tid][col]
        assert t["result"] == want, "%s over %s: %s\n%s\n%s" % (
            tid, tls, t["result"], t["message"], t["transcript"][-2000:])
    assert set(by_id) == {k for k in EXPECT if k.startswith(proto + ".")}
    if tls != "none":
        assert rep["tls"]["version"] in ("TLSv1.2", "TLSv1.3")
        assert rep["tls"]["verified"] is True
        assert rep["tls"]["cipher"]
    want_rc = verdict_exit([(t["level"], EXPECT[tid][col]) for tid, t in by_id.items()])
    if (proto, tls) == ("pop3", "implicit"):
        assert want_rc == 6  # the only MUST example (stls) does not apply: 0 of 1 ran
    assert p.returncode == want_rc, p.stderr.decode()
    assert rep["exit"] == want_rc


def test_lab_wrong_password_fails(lab, tmp_path):
    s = tmp_path / "login.session"
    s.write_text("@test lab.login.ok\n@protocol imap\nS: * OK ${*}\n"
                 "C: a1 LOGIN ${user} ${password}\n@allow * ${*}\nS: a1 OK ${*}\n")
    p, _, by_id = replay(lab, tmp_path, "imap", "implicit", lab.imaps_port, str(s),
                         extra=("--password", "not-the-password"))
    assert by_id["lab.login.ok"]["result"] == "fail"
    assert "a1 NO" in by_id["lab.login.ok"]["message"]
    assert p.returncode == 1


def test_lab_name_check(lab, tmp_path):
    """The lab certificate is for localhost: a wrong SNI name must not verify."""
    assert registered("imap"), "no imap parser registered in this build"
    out = tmp_path / "r.json"
    p = subprocess.run(
        [MAILSPEC, "replay", "--host", "127.0.0.1", "--sni", "wrong.example", "--port",
         str(lab.imaps_port), "--tls", "implicit", "--cafile", lab.cafile, "--json", str(out),
         os.path.join(EX, "imap", "capability.session")], capture_output=True, timeout=60)
    # the TLS failure blocks the test: a blocked MUST test, so incomplete (6)
    assert p.returncode == 6, p.stderr.decode()
    t = json.loads(out.read_text())["tests"][0]
    assert t["result"] == "blocked" and "verification failed" in t["message"]
