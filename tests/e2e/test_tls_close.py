"""@tls-close (docs/session-format.md): a TLS close_notify, then cleartext on
the same connection. A fixture SMTP server upgrades with STARTTLS, answers
NOOP inside TLS, and after the client's close_notify (with or without its
own close_notify back) goes on in cleartext: it answers NOOP and QUIT raw.
"""
import socket
import ssl
import subprocess

import pytest

import hostile
from conftest import MAILSPEC

HEAD = ("@protocol smtp\nS: 220 ${*}\nC: EHLO x\n@allow 250-${*}\nS: 250 ${*}\n"
        "C: STARTTLS\nS: 220 ${*}\n@tls\nC: NOOP\nS: 250 2.0.0 tls ok\n")
AFTER = "@tls-close\nC: NOOP\nS: %s\nC: QUIT\nS: 221 ${*}\n@close\n"


def cleartext_after_close_notify(reply_close_notify):
    def handler(conn):
        conn.line("220 fixture.test ESMTP")
        assert conn.readline().upper().startswith("EHLO")
        conn.line("250-fixture.test")
        conn.line("250 STARTTLS")
        assert conn.readline().upper() == "STARTTLS"
        conn.line("220 2.0.0 Ready to start TLS")
        conn.starttls()
        assert conn.readline().upper() == "NOOP"
        conn.line("250 2.0.0 tls ok")
        if conn.sock.recv(100) != b"":  # b"" only at the client's close_notify
            return
        if reply_close_notify:
            conn.sock = conn.sock.unwrap()  # our close_notify back, then raw
        else:
            timeout = conn.sock.gettimeout()
            conn.sock = socket.socket(fileno=conn.sock.detach())  # no close_notify back
            conn.sock.settimeout(timeout)  # the fd stays non-blocking: keep the timeout
        conn.server.close_notify_seen = True
        while True:
            line = conn.readline()
            if line is None:
                return
            if line.upper() == "NOOP":
                conn.line("250 2.0.0 cleartext ok")
            elif line.upper() == "QUIT":
                conn.line("221 2.0.0 Bye")
                return
            else:
                conn.line("502 5.5.2 Error: command not recognized")
    return handler


def replay(tmp_path, srv, text, tls="starttls"):
    path = tmp_path / "t.session"
    path.write_text(text)
    proc = subprocess.run([MAILSPEC, "replay", "--protocol", "smtp", "--port", str(srv.port),
                           "--tls", tls, "--cafile", srv.cafile, "--timeout", "5", str(path)],
                          capture_output=True, timeout=60)
    return proc.returncode, (proc.stdout + proc.stderr).decode("utf-8", "replace")


@pytest.mark.parametrize("reply_close_notify", [True, False])
def test_cleartext_after_close_notify_passes(tmp_path, reply_close_notify):
    with hostile.Server(cleartext_after_close_notify(reply_close_notify),
                        certdir=str(tmp_path)) as srv:
        srv.close_notify_seen = False
        rc, log = replay(tmp_path, srv, HEAD + AFTER % "250 2.0.0 cleartext ok")
    assert rc == 0, log
    assert srv.close_notify_seen and srv.client_lines[-2:] == ["NOOP", "QUIT"], log


@pytest.mark.parametrize("reply_close_notify", [True, False])
def test_expecting_tls_data_after_close_notify_fails(tmp_path, reply_close_notify):
    # the server answers in cleartext, not as it did inside TLS: a mismatch
    with hostile.Server(cleartext_after_close_notify(reply_close_notify),
                        certdir=str(tmp_path)) as srv:
        rc, log = replay(tmp_path, srv, HEAD + AFTER % "250 2.0.0 tls ok")
    assert rc == 1, log
    assert "cleartext ok" in log, log


def test_tls_close_without_tls_is_an_error(tmp_path):
    # no @tls in the script and --tls none: the connection is not in TLS at run time
    with hostile.Server(hostile.toy_smtp, certdir=str(tmp_path)) as srv:
        rc, log = replay(tmp_path, srv, "@protocol smtp\nS: 220 ${*}\n@tls-close\nC: NOOP\n"
                         "S: 250 ${*}\n", tls="none")
    assert rc not in (0, 1), log
    assert "@tls-close: the connection is not in TLS" in log, log


def test_tls_close_before_tls_is_a_script_error(tmp_path):
    with hostile.Server(hostile.toy_smtp, certdir=str(tmp_path)) as srv:
        rc, log = replay(tmp_path, srv, "@protocol smtp\nS: 220 ${*}\nC: STARTTLS\n"
                         "S: 220 ${*}\n@tls\n@connection b\nS: 220 ${*}\n@tls-close\n")
    assert rc not in (0, 1), log
    assert "before this connection's @tls" in log, log
