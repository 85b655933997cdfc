"""Record with ``mailspec record``, replay with ``mailspec replay``.

A fresh recording must replay against the same server (credentials come from
--user/--password, volatile values were turned into ${*}); replayed through a
proxy that changes one thing the server says, it must fail at exactly the
line of the file where that thing was recorded.

These recordings use the lab's second user (bob): the other e2e tests deliver
mail to alice, which would change what bob's mailbox holds between recording
and replay.
"""

import json
import os
import re
import socket
import subprocess
import sys
import threading

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients"))
import mailclients as mc  # noqa: E402

from conftest import MAILSPEC  # noqa: E402


def certs(lab):
    d = os.path.join(lab.dir, "certs")
    return os.path.join(d, "cert.pem"), os.path.join(d, "key.pem"), os.path.join(d, "ca.pem")


def record_bob(lab, tmp_path, protocol, port, scenario, tls="none", name="rec.session"):
    cert, key, ca = certs(lab)
    out = str(tmp_path / name)
    kw = dict(cert=cert, key=key, cafile=ca) if tls != "none" else {}
    with mc.Recorder(MAILSPEC, protocol, "localhost", port, out, tls=tls, **kw) as rec:
        scenario("localhost", rec.port, tls, lab.ssl_context(), lab.user2, lab.password2)
        assert rec.wait() == 0, rec.stderr
    text = open(out, encoding="utf-8").read()
    assert lab.password2 not in text
    return out, text


def replay(lab, path, protocol, port, tls="none", json_out=None):
    args = [MAILSPEC, "replay", "--protocol", protocol, "--host", "localhost", "--port",
            str(port), "--tls", tls, "--user", lab.user2, "--password", lab.password2,
            "--cafile", certs(lab)[2], "--timeout", "10"]
    if json_out:
        args += ["--json", json_out]
    return subprocess.run(args + [path], capture_output=True, timeout=120)


def line_of(text, needle):
    """1-based line number of the first line of the file containing needle."""
    for i, line in enumerate(text.split("\n"), 1):
        if needle in line:
            return i
    raise AssertionError("%r not in the recording" % needle)


def message_start(text, lineno):
    """The script line where the server message that holds line lineno is
    expected: S: lines are matched against whole messages, so a changed line
    inside a multi-line SMTP reply (250-... continuation lines) is reported
    at the reply's first S: line. Other messages here are one line."""
    lines = text.split("\n")
    i = lineno
    while i > 1 and re.match(r"S: \d{3}-", lines[i - 2]) and \
            re.match(r"S: \d{3}[- ]", lines[i - 1]):
        i -= 1
    return i


# ------------------------------------------------ same server: must pass --

@pytest.mark.parametrize("protocol,port_attr,tls,scenario", [
    ("imap", "imap_port", "none", mc.imap_readonly),
    ("imap", "imap_port", "starttls", mc.imap_readonly),
    ("imap", "imaps_port", "implicit", mc.imap_readonly),
    ("pop3", "pop3_port", "none", mc.pop3_readonly),
    ("pop3", "pop3_port", "starttls", mc.pop3_dele),
    ("pop3", "pop3s_port", "implicit", mc.pop3_readonly),
    ("smtp", "smtp_port", "none", mc.smtp_send_noauth),
    ("smtp", "smtp_port", "none", mc.smtp_pipelining),
])
def test_fresh_recording_replays(lab, tmp_path, protocol, port_attr, tls, scenario):
    port = getattr(lab, port_attr)
    path, text = record_bob(lab, tmp_path, protocol, port, scenario, tls=tls)
    if tls == "starttls":
        assert "\n@tls\n" in text
    # a recording with @tls starts plain: the script itself says when TLS starts
    r = replay(lab, path, protocol, port, tls="none" if tls == "starttls" else tls,
               json_out=str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode() + "\n" + text
    report = json.load(open(tmp_path / "r.json"))
    assert report["summary"]["pass"] == 1 and report["summary"]["fail"] == 0


# ---------------------------------------- changed server: must fail there --

class MutatingProxy:
    """Relays to the lab, replacing one byte string in what the server says."""

    def __init__(self, port, old, new):
        self.upstream = port
        self.old, self.new = old, new
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(30)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            c, _ = self.sock.accept()
        except OSError:
            return
        s = socket.create_connection(("127.0.0.1", self.upstream), timeout=30)
        c.settimeout(30)

        def pump(a, b, mutate):
            try:
                while True:
                    data = a.recv(65536)
                    if not data:
                        break
                    if mutate:
                        data = data.replace(self.old, self.new)
                    b.sendall(data)
            except OSError:
                pass
            for x in (a, b):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        t = threading.Thread(target=pump, args=(c, s, False), daemon=True)
        t.start()
        pump(s, c, True)
        t.join(10)
        c.close()
        s.close()

    def close(self):
        self.sock.close()
        self.thread.join(10)


@pytest.mark.parametrize("protocol,port_attr,scenario,old,new", [
    # a different answer to LOGIN
    ("imap", "imap_port", mc.imap_readonly, b"OK Logged in", b"OK Logged on"),
    # one capability less after login
    ("imap", "imap_port", mc.imap_readonly, b" SPECIAL-USE", b""),
    # POP3: a different size in LIST
    ("pop3", "pop3_port", mc.pop3_readonly, b"+OK Logged in.", b"+OK Welcome."),
    # SMTP: PIPELINING no longer advertised
    ("smtp", "smtp_port", mc.smtp_send_noauth, b"250-PIPELINING\r\n", b""),
])
def test_changed_server_fails_at_the_line(lab, tmp_path, protocol, port_attr, scenario, old,
                                          new):
    port = getattr(lab, port_attr)
    path, text = record_bob(lab, tmp_path, protocol, port, scenario)
    changed_line = line_of(text, old.decode().strip())
    expected_lines = {changed_line, message_start(text, changed_line)}
    proxy = MutatingProxy(port, old, new)
    try:
        r = replay(lab, path, protocol, proxy.port, json_out=str(tmp_path / "r.json"))
    finally:
        proxy.close()
    out = r.stdout.decode() + r.stderr.decode()
    assert r.returncode == 1, out
    # the report names the file and the line where the recording and the
    # server part (or the first line of the message that holds it), and
    # shows what the server sent
    assert any("%s:%d:" % (os.path.basename(path), n) in out for n in expected_lines), \
        (expected_lines, out)
    if new:
        assert new.decode().strip() in out
    report = json.load(open(tmp_path / "r.json"))
    assert report["summary"]["fail"] == 1


# ------------------------------------------------ SASL recordings ---------

@pytest.mark.parametrize("protocol,port_attr,tls,scenario", [
    ("imap", "imaps_port", "implicit", mc.imap_authenticate_plain),
    ("imap", "imap_port", "none", mc.imap_authenticate_login),
    ("pop3", "pop3_port", "none", mc.pop3_auth_plain),
    ("smtp", "submission_port", "starttls", mc.smtp_send_auth),
    ("smtp", "smtps_port", "implicit", mc.smtp_auth_login),
])
def test_sasl_recording_replays(lab, tmp_path, protocol, port_attr, tls, scenario):
    """SASL blobs are recorded as ${sasl_*} variables, which the runner derives
    from --user/--password (docs/record.md): the recording holds no credential
    and replays against the same server."""
    port = getattr(lab, port_attr)
    path, text = record_bob(lab, tmp_path, protocol, port, scenario, tls=tls)
    assert "${sasl_" in text
    for secret in ("bob-secret", "Ym9iLXNlY3JldA", "AGJvYgBib2Itc2VjcmV0"):
        assert secret not in text
    r = replay(lab, path, protocol, port, tls="none" if tls == "starttls" else tls)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    # and prints none of it either (the transcript shows the variables)
    for secret in ("bob-secret", "Ym9iLXNlY3JldA", "AGJvYgBib2Itc2VjcmV0"):
        assert secret.encode() not in r.stdout + r.stderr


# ------------------------------------------------ bytes without CRLF -------

def test_nocrlf_recording_replays(lab, tmp_path):
    """A client that left bytes without CRLF: recorded with @nocrlf, replayed
    byte for byte (the server answers the NOOP, then sees 'NOO' and a close)."""
    out = str(tmp_path / "partial.session")
    with mc.Recorder(MAILSPEC, "smtp", "localhost", lab.smtp_port, out) as rec:
        s = socket.create_connection(("127.0.0.1", rec.port), timeout=10)
        f = s.makefile("rb")
        assert f.readline().startswith(b"220 ")
        s.sendall(b"NOOP\r\nNOO")
        assert f.readline().startswith(b"250 ")
        f.close()  # the makefile holds the socket open too
        s.close()
        assert rec.wait() == 0, rec.stderr
    text = open(out, encoding="utf-8").read()
    assert "C: NOOP\n@nocrlf\nC: NOO\nS: 250 2.0.0 Ok\n" in text
    r = replay(lab, out, "smtp", lab.smtp_port, json_out=str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    t = json.load(open(tmp_path / "r.json"))["tests"][0]
    assert "@nocrlf\nC: NOO\n" in t["transcript"]


# ------------------------------------------------ the corpus, fresh lab ----

@pytest.fixture(scope="module")
def fresh_lab():
    """A lab of its own, started for this module: the corpus was recorded
    from a fresh lab and replays against the same state (the shared `lab`
    has mail delivered by other tests). Stopped by this fixture."""
    import shutil

    import lab as labmod
    if os.geteuid() != 0:
        pytest.skip("the mail lab needs root (Postfix and Dovecot run as their own instances)")
    fresh = labmod.start_lab()
    try:
        yield fresh
    finally:
        labmod.stop_lab(fresh.dir)
        shutil.rmtree(fresh.dir, ignore_errors=True)


def test_corpus_replays_on_a_fresh_lab(fresh_lab, tmp_path):
    """Every corpus/sessions file replays, in the order it was recorded
    (record_corpus.PLAN: the IMAP and POP3 sessions change the mailbox the
    later ones see), with alice's credentials: SASL ones included."""
    import record_corpus
    corpus = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "corpus",
                          "sessions")
    on_disk = sorted(os.path.join(p, n) for p in ("imap", "pop3", "smtp")
                     for n in os.listdir(os.path.join(corpus, p)) if n.endswith(".session"))
    planned = sorted(os.path.join(proto, name + ".session")
                     for name, proto, _, _, _ in record_corpus.PLAN)
    assert on_disk == planned and len(planned) == 17
    ca = certs(fresh_lab)[2]
    results = {}
    for name, proto, port_attr, tls, _ in record_corpus.PLAN:
        path = os.path.join(corpus, proto, name + ".session")
        # a STARTTLS recording has its own @tls: it replays with --tls none
        mode = "none" if tls == "starttls" else tls
        out = str(tmp_path / (name + ".json"))
        r = subprocess.run([MAILSPEC, "replay", "--protocol", proto, "--host", "localhost",
                            "--port", str(getattr(fresh_lab, port_attr)), "--tls", mode,
                            "--cafile", ca, "--user", fresh_lab.user,
                            "--password", fresh_lab.password, "--timeout", "10",
                            "--json", out, path], capture_output=True, timeout=120)
        rep = json.load(open(out))
        results[name] = (r.returncode, rep["summary"]["pass"],
                         r.stderr.decode(errors="replace")[-1500:])
        assert fresh_lab.password.encode() not in r.stdout + r.stderr
    failed = {n: v for n, v in results.items() if v[0] != 0 or v[1] != 1}
    assert not failed, "\n\n".join("%s: rc=%d\n%s" % (n, v[0], v[2]) for n, v in failed.items())
    assert len(results) == 17
