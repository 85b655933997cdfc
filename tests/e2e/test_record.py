"""End-to-end tests of ``mailspec record`` against the lab (Dovecot + Postfix).

Real clients (imaplib, poplib, smtplib) talk to the recorder, the recorder to
the lab; the tests check the .session files it writes: exact dialogue, no
clear-text credentials, variables where credentials were, ``@tls`` right after
the server's go-ahead, and (once ``mailspec replay`` exists) that a recording
replays against the same server and fails at the right line against a changed
one.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients"))
import mailclients as mc  # noqa: E402

from conftest import MAILSPEC  # noqa: E402


def certs(lab):
    d = os.path.join(lab.dir, "certs")
    return os.path.join(d, "cert.pem"), os.path.join(d, "key.pem"), os.path.join(d, "ca.pem")


def record(lab, tmp_path, protocol, upstream_port, scenario, tls="none", name="s.session",
           upstream_host="localhost"):
    """Run scenario through a recorder; returns (text, Recorder)."""
    cert, key, ca = certs(lab)
    out = str(tmp_path / name)
    tls_args = dict(cert=cert, key=key, cafile=ca) if tls != "none" else {}
    with mc.Recorder(MAILSPEC, protocol, upstream_host, upstream_port, out, tls=tls,
                     **tls_args) as rec:
        scenario("localhost", rec.port, tls, lab.ssl_context(), lab.user, lab.password)
        rc = rec.wait()
    assert rc == 0, rec.stderr
    with open(out, encoding="utf-8") as f:
        return f.read(), rec


def lines(text):
    return [l for l in text.splitlines() if l and not l.startswith("#")]


def assert_no_secret(lab, text):
    assert lab.password not in text
    assert "YWxpY2Utc2VjcmV0" not in text  # base64("alice-secret")
    assert "AGFsaWNlAGFsaWNlLXNlY3JldA" not in text  # base64("\0alice\0alice-secret")


def replay_available():
    r = subprocess.run([MAILSPEC, "replay", "--help"], capture_output=True)
    return r.returncode == 0


def replay(lab, path, protocol, port, tls="none", host="localhost", extra=()):
    args = [MAILSPEC, "replay", "--protocol", protocol, "--host", host, "--port", str(port),
            "--tls", tls, "--user", lab.user, "--password", lab.password,
            "--cafile", certs(lab)[2], *extra, path]
    return subprocess.run(args, capture_output=True, timeout=60)


# ------------------------------------------------------------- the files --

def test_imap_plain_login(lab, tmp_path, mailspec):
    text, rec = record(lab, tmp_path, "imap", lab.imap_port, mc.imap_readonly)
    assert_no_secret(lab, text)
    ls = lines(text)
    assert ls[0] == "@protocol imap"
    assert ls[1].startswith("S: * OK [CAPABILITY IMAP4rev1") and ls[1].endswith("${*}")
    login = [l for l in ls if l.startswith("C: ") and " LOGIN " in l]
    assert len(login) == 1 and login[0].endswith(' LOGIN ${user} "${password}"'), login
    assert "S: * OK [UIDVALIDITY ${*}] UIDs valid" in ls
    assert any(l.startswith("S: * 1 FETCH (UID 1 FLAGS (") for l in ls)
    assert any("BODYSTRUCTURE" in l for l in ls)
    assert "@tls" not in ls
    assert "wrote " + str(tmp_path / "s.session") in rec.stderr


def test_imap_starttls_marks_tls(lab, tmp_path):
    text, _ = record(lab, tmp_path, "imap", lab.imap_port, mc.imap_readonly, tls="starttls")
    assert_no_secret(lab, text)
    ls = lines(text)
    i = ls.index("@tls")
    assert ls[i - 2].endswith(" STARTTLS") and ls[i - 2].startswith("C: ")
    assert ls[i - 1].startswith("S: ") and " OK " in ls[i - 1]
    assert ls[i + 1].startswith("C: ")
    # after TLS Dovecot no longer offers STARTTLS
    assert "STARTTLS" in ls[1] and all("STARTTLS" not in l for l in ls[i + 1:])


def test_imaps_implicit_and_sasl(lab, tmp_path):
    text, _ = record(lab, tmp_path, "imap", lab.imaps_port, mc.imap_authenticate_plain,
                     tls="implicit")
    assert_no_secret(lab, text)
    ls = lines(text)
    assert "@tls" not in ls  # the session starts after the handshake
    assert ls[1].startswith("S: * OK ")
    i = next(k for k, l in enumerate(ls) if l.endswith(" AUTHENTICATE PLAIN"))
    assert ls[i + 1] == "S: + "
    assert ls[i + 2] == "C: ${sasl_plain}"


def test_pop3_plain(lab, tmp_path):
    text, _ = record(lab, tmp_path, "pop3", lab.pop3_port, mc.pop3_readonly)
    assert_no_secret(lab, text)
    ls = lines(text)
    assert ls[1] == "S: +OK ${*}"
    assert "C: USER ${user}" in ls and "C: PASS ${password}" in ls
    u = ls.index("C: UIDL")
    assert ls[u + 1].startswith("S: +OK") and ls[u + 2] == "S: 1 ${*}"
    assert "C: RETR 1" in ls and "C: TOP 2 3" in ls
    assert ls[-1] == "@close" or ls[-2].startswith("S: +OK")


def test_pop3_stls(lab, tmp_path):
    text, _ = record(lab, tmp_path, "pop3", lab.pop3_port, mc.pop3_readonly, tls="starttls")
    ls = lines(text)
    i = ls.index("@tls")
    assert ls[i - 2] == "C: STLS" and ls[i - 1].startswith("S: +OK")
    assert_no_secret(lab, text)


def test_smtp_submission_starttls_auth(lab, tmp_path):
    text, _ = record(lab, tmp_path, "smtp", lab.submission_port, mc.smtp_send_auth,
                     tls="starttls")
    assert_no_secret(lab, text)
    ls = lines(text)
    assert ls[1] == "S: 220 ${*}"
    i = ls.index("@tls")
    assert ls[i - 2] == "C: STARTTLS" and ls[i - 1].startswith("S: 220 ")
    assert "C: AUTH PLAIN ${sasl_plain}" in ls
    assert any(l.startswith("S: 250 2.0.0 Ok: queued as ${*}") for l in ls)
    assert "C: ." in ls


def test_smtps_auth_login(lab, tmp_path):
    text, _ = record(lab, tmp_path, "smtp", lab.smtps_port, mc.smtp_auth_login, tls="implicit")
    assert_no_secret(lab, text)
    ls = lines(text)
    i = ls.index("C: AUTH LOGIN")
    assert ls[i + 1].startswith("S: 334 ") and ls[i + 2] == "C: ${sasl_user}"
    assert ls[i + 3].startswith("S: 334 ") and ls[i + 4] == "C: ${sasl_password}"


def test_smtp_pipelining_one_write(lab, tmp_path):
    text, _ = record(lab, tmp_path, "smtp", lab.smtp_port, mc.smtp_pipelining)
    ls = lines(text)
    i = ls.index("C: MAIL FROM:<bob@localhost>")
    # the four pipelined commands are recorded together, before any reply
    assert ls[i + 1:i + 4] == ["C: RCPT TO:<alice@localhost>", "C: RCPT TO:<nobody@localhost>",
                               "C: DATA"]
    assert ls[i + 4].startswith("S: 250")


def test_raw_keeps_everything(lab, tmp_path):
    cert, key, ca = certs(lab)
    out = str(tmp_path / "raw.session")
    with mc.Recorder(MAILSPEC, "pop3", "localhost", lab.pop3_port, out,
                     extra=["--raw"]) as rec:
        mc.pop3_dele("localhost", rec.port, "none", None, lab.user, lab.password)
        assert rec.wait() == 0
    text = open(out, encoding="utf-8").read()
    assert "C: PASS %s" % lab.password in text
    assert "${" not in text.replace("${user}/${password}", "")  # only the header mentions them


def test_several_sessions_into_directory(lab, tmp_path):
    out = tmp_path / "dir"
    out.mkdir()
    with mc.Recorder(MAILSPEC, "imap", "localhost", lab.imap_port, str(out), max_sessions=3,
                     extra=["--concurrency", "2"]) as rec:
        for _ in range(3):
            mc.imap_authenticate_login("localhost", rec.port, "none", None, lab.user,
                                       lab.password)
        assert rec.wait() == 0, rec.stderr
    names = sorted(os.listdir(out))
    assert names == ["imap-1.session", "imap-2.session", "imap-3.session"]
    for n in names:
        text = (out / n).read_text()
        assert_no_secret(lab, text)
        assert "C: ${sasl_user}" in text and "C: ${sasl_password}" in text


def test_partial_line_and_sigint(lab, tmp_path):
    """Bytes without CRLF are written with @nocrlf; SIGINT ends cleanly with the file complete."""
    out = str(tmp_path / "int.session")
    with mc.Recorder(MAILSPEC, "smtp", "localhost", lab.smtp_port, out, max_sessions=0) as rec:
        s = socket.create_connection(("127.0.0.1", rec.port), timeout=10)
        f = s.makefile("rb")
        assert f.readline().startswith(b"220 ")
        s.sendall(b"NOOP\r\nNOO")
        assert f.readline().startswith(b"250 ")
        time.sleep(0.5)  # let the recorder write what it has
        text = open(out, encoding="utf-8").read()
        assert "C: NOOP\n" in text  # flushed while the session runs
        rec.proc.send_signal(signal.SIGINT)
        assert rec.wait() == 0, rec.stderr
        s.close()
    ls = open(out, encoding="utf-8").read().splitlines()
    # "NOO" went out before the server's answer to NOOP: it is written there, without CRLF
    assert ls[-5:-1] == ["C: NOOP", "@nocrlf", "C: NOO", "S: 250 2.0.0 Ok"]
    assert ls[-1] == "# recording stopped (SIGINT/SIGTERM)"


# ---------------------------------------------------------------- errors --

@pytest.mark.parametrize("args,needle", [
    ([], "required"),
    (["--listen", "127.0.0.1", "--connect", "x:1", "--protocol", "imap", "--out", "/tmp/x"],
     "HOST:PORT"),
    (["--listen", "127.0.0.1:0", "--connect", "x:1", "--protocol", "imap", "--out", "/tmp/x"],
     "port 1-65535"),
    (["--listen", "127.0.0.1:1", "--connect", "x:1", "--protocol", "nntp", "--out", "/tmp/x"],
     "--protocol: takes smtp, pop3 or imap"),
    (["--listen", "127.0.0.1:1", "--connect", "x:1", "--protocol", "imap", "--out", "/tmp/x",
      "--tls", "implicit"], "needs --cert"),
    (["--listen", "127.0.0.1:1", "--connect", "x:1", "--protocol", "imap", "--out", "/tmp/x",
      "--tls", "bogus"], "--tls: takes none, starttls or implicit"),
    (["--bogus"], "unrecognized option '--bogus'"),
    (["--listen", "127.0.0.1:1", "--connect", "x:1", "--protocol", "imap",
      "--out", "/nonexistent-dir/"], "no such directory"),
])
def test_usage_errors(args, needle, mailspec):
    r = subprocess.run([mailspec, "record", *args], capture_output=True, timeout=10)
    assert r.returncode == 2
    assert needle in r.stderr.decode()


def test_help(mailspec):
    r = subprocess.run([mailspec, "record", "--help"], capture_output=True, timeout=10)
    assert r.returncode == 0 and b"--listen ADDR:PORT" in r.stdout
    r = subprocess.run([mailspec, "--help"], capture_output=True, timeout=10)
    assert b"record" in r.stdout


def test_listen_in_use(mailspec, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = subprocess.run([mailspec, "record", "--listen", "127.0.0.1:%d" % port, "--connect",
                            "127.0.0.1:1", "--protocol", "smtp", "--out",
                            str(tmp_path / "x.session")], capture_output=True, timeout=10)
    assert r.returncode == 2 and b"cannot listen" in r.stderr


def test_server_unreachable(mailspec, tmp_path):
    dead = mc.free_port()
    out = str(tmp_path / "dead.session")
    with mc.Recorder(mailspec, "smtp", "127.0.0.1", dead, out) as rec:
        c = socket.create_connection(("127.0.0.1", rec.port), timeout=10)
        assert c.recv(100) == b""  # closed at once
        c.close()
        assert rec.wait() == 2
    assert "cannot connect" in rec.stderr
    assert "# could not connect to the server" in open(out).read()


def test_server_certificate_verified(lab, tmp_path, mailspec):
    """Without --cafile (or --insecure) the lab's self-signed server is refused."""
    cert, key, _ = certs(lab)
    out = str(tmp_path / "v.session")
    with mc.Recorder(mailspec, "imap", "localhost", lab.imaps_port, out, tls="implicit",
                     cert=cert, key=key) as rec:
        c = socket.create_connection(("127.0.0.1", rec.port), timeout=10)
        c.settimeout(10)
        try:
            assert c.recv(100) == b""
        except ConnectionResetError:
            pass
        c.close()
        assert rec.wait() == 2
    assert "verif" in rec.stderr


# ---------------------------------------------------------------- corpus --

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "corpus",
                      "sessions")
SASL_VARS = ("${sasl_plain}", "${sasl_user}", "${sasl_password}", "${apop_digest}")


def corpus_files():
    out = []
    for proto in ("imap", "pop3", "smtp"):
        d = os.path.join(CORPUS, proto)
        if os.path.isdir(d):
            out += [os.path.join(d, n) for n in sorted(os.listdir(d)) if n.endswith(".session")]
    return out


def test_corpus_has_every_protocol():
    names = {os.path.basename(os.path.dirname(p)) for p in corpus_files()}
    assert names == {"imap", "pop3", "smtp"}


@pytest.mark.parametrize("path", corpus_files(), ids=os.path.basename)
def test_corpus_file(path, mailspec):
    text = open(path, encoding="utf-8").read()
    for secret in ("alice-secret", "bob-secret", "YWxpY2Utc2VjcmV0", "Ym9iLXNlY3JldA",
                   "AGFsaWNlAGFsaWNlLXNlY3JldA"):
        assert secret not in text
    assert "${password}" in text or any(v in text for v in SASL_VARS) or "AUTH" not in text
    # the runner's script parser accepts it (SASL variables included: the
    # runner derives them; test_record_replay.py replays the whole corpus)
    r = subprocess.run([mailspec, "replay", "--list", path], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode()
