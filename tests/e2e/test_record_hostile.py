"""``mailspec record`` against hostile peers on loopback (docs/record.md).

Each test starts a small Python peer (client, server or both) that misbehaves
in one precise way, runs the recorder between them, and checks what the
recorder did: CPU time, what it relayed, what it wrote, how fast it stopped.
Every peer is bounded in time (socket timeouts, the servers' lifetime) and
stopped by the test; the recorder is stopped by PID.
"""

import base64
import os
import signal
import socket
import ssl
import sys
import threading
import time

import pytest

import hostile
from conftest import MAILSPEC

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients"))
import mailclients as mc  # noqa: E402

PASSWORD = "Sekr1tPw"


# ------------------------------------------------------------- helpers --

def cpu_seconds(pid):
    """utime + stime of pid and its children (the recorder forks one per session)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            pids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def read_file(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def client_ctx(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    return ctx


def recv_line(sock):
    """One line, read a byte at a time (nothing after its LF is consumed)."""
    out = b""
    while not out.endswith(b"\n"):
        b = sock.recv(1)
        if not b:
            break
        out += b
    return out


def recv_all(sock, limit=64 << 20):
    out = b""
    while len(out) < limit:
        try:
            b = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not b:
            break
        out += b
    return out


def partial_tls_record(tls_sock):
    """Write, below TLS, the header of a 64-byte application-data record and
    10 of its bytes, then nothing: the peer holds an incomplete record."""
    os.write(tls_sock.fileno(), b"\x17\x03\x03\x00\x40" + b"\x00" * 10)


def stop_recorder(rec, sig=signal.SIGTERM, within=5.0):
    """Signal the recorder; returns the seconds it took to exit (killed after within)."""
    t0 = time.monotonic()
    rec.proc.send_signal(sig)
    try:
        rec.wait(timeout=within)
    except Exception:
        rec.proc.kill()
        rec.wait(timeout=5)
        return float("inf")
    return time.monotonic() - t0


# ------------------------------------- 1. stalled partial TLS record --

def test_partial_tls_record_from_server_does_not_spin(tmp_path):
    """The server completes the handshake, greets, sends part of a TLS record
    and stalls: the recorder waits in poll (near-idle CPU), still relays the
    client's command to the server, and its idle timeout still fires."""
    got = []
    stop = threading.Event()

    def handler(conn):
        conn.line("* OK ready")
        time.sleep(0.2)
        partial_tls_record(conn.sock)
        line = conn.readline()
        got.append(line)
        stop.wait(15)

    with hostile.Server(handler, tls=True, certdir=str(tmp_path)) as srv:
        cert, key = hostile.make_cert(str(tmp_path))
        out = str(tmp_path / "s.session")
        with mc.Recorder(MAILSPEC, "imap", "localhost", srv.port, out, tls="implicit",
                         cert=cert, key=key, cafile=srv.cafile, timeout=4) as rec:
            c = client_ctx(srv.cafile).wrap_socket(
                socket.create_connection(("127.0.0.1", rec.port), timeout=10))
            assert recv_line(c) == b"* OK ready\r\n"
            time.sleep(0.5)  # the partial record has reached the recorder
            c.sendall(b"a NOOP\r\n")
            cpu0, t0 = cpu_seconds(rec.proc.pid), time.monotonic()
            time.sleep(2.5)
            cpu = cpu_seconds(rec.proc.pid) - cpu0
            wall = time.monotonic() - t0
            assert got == ["a NOOP"], "the client's command was not relayed"
            assert cpu < 0.25 * wall, "recorder used %.2f s CPU in %.2f s" % (cpu, wall)
            # nothing else happens: the idle timeout (4 s) ends the session
            rc = rec.wait(timeout=10)
            stop.set()
            c.close()
    assert rc == 0, rec.stderr
    text = read_file(out)
    assert "C: a NOOP" in text
    assert "# idle timeout" in text


def test_partial_tls_record_from_client_does_not_spin(tmp_path):
    """The client sends part of a TLS record and stalls: near-idle CPU, the
    server's later message is still relayed to the client."""
    stop = threading.Event()

    def handler(conn):
        conn.line("* OK ready")
        time.sleep(1.0)
        conn.line("* OK still here")
        stop.wait(15)

    with hostile.Server(handler, tls=True, certdir=str(tmp_path)) as srv:
        cert, key = hostile.make_cert(str(tmp_path))
        out = str(tmp_path / "c.session")
        with mc.Recorder(MAILSPEC, "imap", "localhost", srv.port, out, tls="implicit",
                         cert=cert, key=key, cafile=srv.cafile, timeout=5) as rec:
            c = client_ctx(srv.cafile).wrap_socket(
                socket.create_connection(("127.0.0.1", rec.port), timeout=10))
            assert recv_line(c) == b"* OK ready\r\n"
            partial_tls_record(c)
            time.sleep(0.3)
            cpu0, t0 = cpu_seconds(rec.proc.pid), time.monotonic()
            assert recv_line(c) == b"* OK still here\r\n"
            time.sleep(2.0)
            cpu = cpu_seconds(rec.proc.pid) - cpu0
            wall = time.monotonic() - t0
            assert cpu < 0.25 * wall, "recorder used %.2f s CPU in %.2f s" % (cpu, wall)
            rc = rec.wait(timeout=10)
            stop.set()
            c.close()
    assert rc == 0, rec.stderr
    text = read_file(out)
    assert "S: * OK still here" in text and "# idle timeout" in text


# --------------------------------------------- 3. --out and symlinks --

def one_session(out, srv_port, extra=(), sessions=1):
    """Record `sessions` SMTP sessions (EHLO, QUIT) to out; returns the Recorder."""
    with mc.Recorder(MAILSPEC, "smtp", "127.0.0.1", srv_port, out, max_sessions=sessions,
                     extra=extra, timeout=5) as rec:
        for _ in range(sessions):
            try:
                s = socket.create_connection(("127.0.0.1", rec.port), timeout=5)
                f = s.makefile("rb")
                if f.readline().startswith(b"220"):
                    s.sendall(b"EHLO x\r\nQUIT\r\n")
                    recv_all(s)
                s.close()
            except OSError:
                pass
        rec.wait(timeout=15)
    return rec


def test_out_refuses_a_planted_symlink(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "rec.session"
    os.symlink(str(victim), str(out))
    with hostile.Server(hostile.toy_smtp) as srv:
        rec = one_session(str(out), srv.port)
    assert rec.rc == 2
    assert "symbolic link" in rec.stderr
    assert victim.read_text() == "precious\n"
    assert os.path.islink(str(out))


def test_out_refuses_a_planted_symlink_for_later_sessions(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    os.symlink(str(victim), str(tmp_path / "rec-2.session"))
    with hostile.Server(hostile.toy_smtp) as srv:
        rec = one_session(str(tmp_path / "rec.session"), srv.port, sessions=2)
    assert rec.rc == 2 and "symbolic link" in rec.stderr
    assert victim.read_text() == "precious\n"
    assert "S: 221" in read_file(str(tmp_path / "rec.session"))  # the first one is recorded


def test_out_replaces_an_old_recording_with_mode_0600(tmp_path):
    out = tmp_path / "rec.session"
    out.write_text("old\n")
    os.chmod(str(out), 0o644)
    with hostile.Server(hostile.toy_smtp) as srv:
        rec = one_session(str(out), srv.port)
    assert rec.rc == 0, rec.stderr
    assert "old" not in out.read_text() and "S: 221" in out.read_text()
    assert os.stat(str(out)).st_mode & 0o777 == 0o600


# ----------------------------------------- 4. STARTTLS response injection --

def starttls_client(port, cafile):
    """STARTTLS through the recorder; returns (plaintext seen after the
    go-ahead, the lines after TLS)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    assert recv_line(s).startswith(b"* OK")
    s.sendall(b"a STARTTLS\r\n")
    assert recv_line(s).startswith(b"a OK")
    s.settimeout(1.0)
    try:
        extra = s.recv(4096)  # the recorder now waits for our ClientHello
    except socket.timeout:
        extra = b""
    s.settimeout(10)
    t = client_ctx(cafile).wrap_socket(s)
    t.sendall(b"b NOOP\r\n")
    after = [recv_line(t)]
    t.sendall(b"c LOGOUT\r\n")
    after += [recv_line(t), recv_line(t)]
    t.close()
    return extra, after


def test_starttls_injection_is_not_forwarded_and_is_a_finding(tmp_path):
    def injecting(conn):
        hostile.toy_imap(conn, inject_after_starttls="* OK [ALERT] injected\r\n")

    with hostile.Server(injecting, certdir=str(tmp_path)) as srv:
        cert, key = hostile.make_cert(str(tmp_path))
        out = str(tmp_path / "inj.session")
        with mc.Recorder(MAILSPEC, "imap", "localhost", srv.port, out, tls="starttls",
                         cert=cert, key=key, cafile=srv.cafile) as rec:
            extra, after = starttls_client(rec.port, srv.cafile)
            assert rec.wait() == 0, rec.stderr
        assert extra == b"", "plaintext after the go-ahead was forwarded: %r" % extra
        assert after[0].startswith(b"b OK")
        text = read_file(out)
        assert "injected" not in text
        ls = text.splitlines()
        i = ls.index("@tls")
        assert ls[i - 3].startswith("S: a OK")
        assert ls[i - 2].startswith("# STARTTLS injection: the server sent 23 bytes")
        assert ls[i - 1].startswith("@finding ")
        assert "STARTTLS injection" in rec.stderr
        # replayed against the same injecting server, the file does not pass
        r = mc_replay(out, srv.port, srv.cafile)
        assert r.returncode == 1, r.stdout + r.stderr
        assert b"STARTTLS" in r.stdout + r.stderr


def test_starttls_without_injection_has_no_finding(tmp_path):
    with hostile.Server(hostile.toy_imap, certdir=str(tmp_path)) as srv:
        cert, key = hostile.make_cert(str(tmp_path))
        out = str(tmp_path / "ok.session")
        with mc.Recorder(MAILSPEC, "imap", "localhost", srv.port, out, tls="starttls",
                         cert=cert, key=key, cafile=srv.cafile) as rec:
            extra, after = starttls_client(rec.port, srv.cafile)
            assert rec.wait() == 0, rec.stderr
        assert extra == b"" and after[0].startswith(b"b OK")
        text = read_file(out)
        assert "@finding" not in text and "injection" not in text
        r = mc_replay(out, srv.port, srv.cafile)
        assert r.returncode == 0, r.stdout + r.stderr


def mc_replay(path, port, cafile):
    import subprocess
    return subprocess.run([MAILSPEC, "replay", "--protocol", "imap", "--host", "127.0.0.1",
                           "--port", str(port), "--tls", "none", "--cafile", cafile,
                           "--timeout", "5", path], capture_output=True, timeout=60)


# --------------------------------------------- 5. idle clients and slots --

def test_idle_clients_do_not_starve_a_real_client(tmp_path):
    """Eight clients connect and say nothing; a ninth gets its greeting at once."""
    out = tmp_path / "dir"
    out.mkdir()
    with hostile.Server(hostile.toy_smtp) as srv:
        with mc.Recorder(MAILSPEC, "smtp", "127.0.0.1", srv.port, str(out), max_sessions=0,
                         timeout=20) as rec:
            idle = []
            for _ in range(8):
                s = socket.create_connection(("127.0.0.1", rec.port), timeout=30)
                idle.append(s)
            t0 = time.monotonic()
            s = socket.create_connection(("127.0.0.1", rec.port), timeout=30)
            greeting = recv_line(s)
            latency = time.monotonic() - t0
            s.sendall(b"QUIT\r\n")
            assert recv_line(s).startswith(b"221")
            s.close()
            assert greeting.startswith(b"220 "), greeting
            assert latency < 1.5, "greeting after %.2f s" % latency
            for i in idle:
                i.close()
            assert stop_recorder(rec) < 2
    assert rec.rc == 0, rec.stderr


# ------------------------------------------------------- 6. SIGTERM --

def test_sigterm_during_upstream_tls_handshake(tmp_path):
    """The server accepts TCP and never answers the ClientHello."""
    with hostile.Server(hostile.silent) as srv:
        cert, key = hostile.make_cert(str(tmp_path))
        out = str(tmp_path / "hs.session")
        with mc.Recorder(MAILSPEC, "imap", "localhost", srv.port, out, tls="implicit",
                         cert=cert, key=key, cafile=cert, max_sessions=0, timeout=30) as rec:
            c = socket.create_connection(("127.0.0.1", rec.port), timeout=10)
            time.sleep(0.7)  # the recorder is in its handshake with the server
            took = stop_recorder(rec)
            c.close()
    assert took < 1.0, "exit took %.1f s" % took
    assert rec.rc == 0, rec.stderr
    assert read_file(out).rstrip("\n").endswith("# recording stopped (SIGINT/SIGTERM)")


def test_sigterm_during_client_tls_handshake(tmp_path):
    """The client connects and never sends its ClientHello."""
    with hostile.Server(hostile.toy_imap, tls=True, certdir=str(tmp_path)) as srv:
        cert, key = hostile.make_cert(str(tmp_path))
        out = str(tmp_path / "acc.session")
        with mc.Recorder(MAILSPEC, "imap", "localhost", srv.port, out, tls="implicit",
                         cert=cert, key=key, cafile=srv.cafile, max_sessions=0,
                         timeout=30) as rec:
            c = socket.create_connection(("127.0.0.1", rec.port), timeout=10)
            time.sleep(0.7)
            took = stop_recorder(rec)
            c.close()
    assert took < 1.0, "exit took %.1f s" % took
    assert rec.rc == 0, rec.stderr
    assert read_file(out).rstrip("\n").endswith("# recording stopped (SIGINT/SIGTERM)")


def test_sigterm_while_the_client_does_not_read(tmp_path):
    """The server floods, the client reads nothing: the recorder waits in a write."""
    def flood(conn):
        conn.line("* OK ready")
        block = b"* OK " + b"x" * 8000 + b"\r\n"
        while not conn.stop.is_set():
            try:
                conn.send(block)
            except OSError:
                return

    with hostile.Server(flood) as srv:
        out = str(tmp_path / "fl.session")
        with mc.Recorder(MAILSPEC, "imap", "127.0.0.1", srv.port, out, max_sessions=0,
                         timeout=30) as rec:
            c = socket.create_connection(("127.0.0.1", rec.port), timeout=10)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            time.sleep(1.0)
            took = stop_recorder(rec)
            c.close()
            srv.stop()
    assert took < 1.0, "exit took %.1f s" % took
    assert rec.rc == 0, rec.stderr
    assert read_file(out).rstrip("\n").endswith("# recording stopped (SIGINT/SIGTERM)")


# --------------------------------------------------------- 7. half-close --

def test_client_half_close_is_relayed(tmp_path):
    with hostile.Server(hostile.toy_smtp) as srv:
        out = str(tmp_path / "hc.session")
        with mc.Recorder(MAILSPEC, "smtp", "127.0.0.1", srv.port, out, timeout=5) as rec:
            s = socket.create_connection(("127.0.0.1", rec.port), timeout=10)
            assert recv_line(s).startswith(b"220")
            s.sendall(b"EHLO x\r\nQUIT\r\n")
            s.shutdown(socket.SHUT_WR)
            rest = recv_all(s)
            s.close()
            assert rec.wait() == 0, rec.stderr
    assert b"250 STARTTLS\r\n" in rest and rest.endswith(b"221 2.0.0 Bye\r\n"), rest
    ls = read_file(out).splitlines()
    assert ls.index("C: EHLO x") + 1 == ls.index("C: QUIT") < ls.index("S: 221 2.0.0 Bye")
    if "# the client closed the connection" in ls:
        # the server closed after the client: not an expectation a replay could meet
        assert ls[-1] == "# the server closed the connection after the client"
        assert "@close" not in ls
    else:
        # the server's close was read before the client's (both were waiting)
        assert ls[-1] == "@close"


def test_server_close_still_recorded_as_close(tmp_path):
    with hostile.Server(hostile.toy_smtp) as srv:
        out = str(tmp_path / "sc.session")
        with mc.Recorder(MAILSPEC, "smtp", "127.0.0.1", srv.port, out, timeout=5) as rec:
            s = socket.create_connection(("127.0.0.1", rec.port), timeout=10)
            assert recv_line(s).startswith(b"220")
            s.sendall(b"QUIT\r\n")
            assert recv_all(s).startswith(b"221")
            s.close()
            assert rec.wait() == 0, rec.stderr
    ls = read_file(out).splitlines()
    assert ls[-2:] == ["S: 221 2.0.0 Bye", "@close"]


# ------------------------------------------------------- 8. size cap --

def test_size_cap_stops_recording_but_not_relaying(tmp_path):
    line = b"* OK " + bytes(range(1, 9)) * 128 + b"\r\n"  # control bytes: 4x when escaped
    count = 3000  # ~3 MiB relayed, ~12 MiB if all were written

    def chatty(conn):
        conn.line("* OK ready")
        for _ in range(count):
            conn.send(line)
        conn.line("* BYE done")

    with hostile.Server(chatty) as srv:
        out = str(tmp_path / "big.session")
        with mc.Recorder(MAILSPEC, "imap", "127.0.0.1", srv.port, out, timeout=5,
                         extra=["--max-size", "1"]) as rec:
            s = socket.create_connection(("127.0.0.1", rec.port), timeout=10)
            got = recv_all(s)
            s.close()
            assert rec.wait() == 0, rec.stderr
    assert got.count(line) == count and got.endswith(b"* BYE done\r\n")
    size = os.path.getsize(out)
    assert 1000000 < size <= 1 << 20, size
    ls = read_file(out).splitlines()
    assert ls[-1].startswith("# size cap reached (--max-size)")
    assert "size cap reached" in rec.stderr


def test_size_cap_option_is_checked(mailspec):
    import subprocess
    r = subprocess.run([mailspec, "record", "--listen", "127.0.0.1:1", "--connect", "x:1",
                        "--protocol", "imap", "--out", "/tmp/x", "--max-size", "lots"],
                       capture_output=True, timeout=10)
    assert r.returncode == 2 and b"--max-size" in r.stderr


# ------------------------------------- 2, 10. credentials in .session files --

def scripted(greeting, answer):
    """A server handler: the greeting, then answer(line) -> the reply (str,
    possibly several lines) for each client line; None ends the session."""
    def handler(conn):
        conn.line(greeting)
        while True:
            line = conn.readline()
            if line is None:
                return
            reply = answer(line)
            if reply is None:
                return
            conn.send(reply)
    return handler


def record_dialogue(tmp_path, proto, handler, client, name="cred.session", extra=()):
    """Run client(sock) through a recorder to handler; returns (file text, stderr)."""
    with hostile.Server(handler) as srv:
        out = str(tmp_path / name)
        with mc.Recorder(MAILSPEC, proto, "127.0.0.1", srv.port, out, timeout=5,
                         extra=extra) as rec:
            s = socket.create_connection(("127.0.0.1", rec.port), timeout=10)
            client(s)
            s.close()
            assert rec.wait() == 0, rec.stderr
        return read_file(out), rec.stderr, srv


def say_and_read(s, data, lines=1):
    s.sendall(data)
    return [recv_line(s) for _ in range(lines)]


def imap_answer(line):
    tag, _, rest = line.partition(" ")
    verb = rest.split(" ")[0].upper()
    if rest.endswith("}") and not rest.endswith("+}"):
        return tag + " NO [LIMIT] literal refused\r\n"  # a synchronizing literal, refused
    if verb == "LOGIN":
        return tag + " NO [AUTHENTICATIONFAILED] bad password " + rest.split(" ")[-1] + "\r\n"
    if verb == "LOGOUT":
        return "* BYE bye\r\n" + tag + " OK done\r\n"
    return tag + " OK done\r\n"


def test_refused_login_literal_then_login_with_echo(tmp_path):
    """2a + 2c: `a LOGIN {5}` refused; the next LOGIN and the server's echo of
    the password must not be in the file."""
    def client(s):
        recv_line(s)
        say_and_read(s, b"a LOGIN {5}\r\n")
        say_and_read(s, b"b LOGIN alice %s\r\n" % PASSWORD.encode())
        say_and_read(s, b"c LOGOUT\r\n", 2)

    text, _, _ = record_dialogue(tmp_path, "imap", scripted("* OK ready", imap_answer), client)
    assert PASSWORD not in text, text
    assert "S: b NO [AUTHENTICATIONFAILED] bad password ${*}" in text, text


def test_refused_append_literal_does_not_hide_a_login(tmp_path):
    """2a: an APPEND literal refused: the client's next command (a LOGIN of
    exactly the literal's length) is a command, not message data."""
    login = b"b LOGIN alice " + PASSWORD.encode()

    def client(s):
        recv_line(s)
        say_and_read(s, b"a APPEND INBOX {%d}\r\n" % len(login))
        say_and_read(s, login + b"\r\n")
        say_and_read(s, b"c LOGOUT\r\n", 2)

    text, _, _ = record_dialogue(tmp_path, "imap", scripted("* OK ready", imap_answer), client)
    assert PASSWORD not in text, text
    assert "C: b LOGIN ${sasl_redacted}" in text, text


def test_accepted_append_literal_is_still_data(tmp_path):
    """The negative case: a literal the server accepts is message data, copied."""
    body = b"Subject: b LOGIN alice notasecret"

    def answer(line):
        if line.endswith("}"):
            return "+ go ahead\r\n"
        return imap_answer(line)

    def client(s):
        recv_line(s)
        say_and_read(s, b"a APPEND INBOX {%d}\r\n" % len(body))
        say_and_read(s, body + b"\r\n")
        say_and_read(s, b"c LOGOUT\r\n", 2)

    text, _, _ = record_dialogue(tmp_path, "imap", scripted("* OK ready", answer), client)
    assert "C: Subject: b LOGIN alice notasecret" in text, text


def pop3_answer(line):
    verb = line.split(" ")[0].upper()
    if verb == "PASS":
        return "-ERR bad password " + line[5:] + "\r\n"
    if verb == "QUIT":
        return "+OK bye\r\n"
    return "+OK\r\n"


@pytest.mark.parametrize("password", [PASSWORD, "xy", "Q"])
def test_pop3_server_echo_is_masked_whatever_the_length(tmp_path, password):
    """2c + 10: the server echoes the password; also 1- and 2-byte ones."""
    def client(s):
        recv_line(s)
        say_and_read(s, b"USER alice\r\n")
        say_and_read(s, b"PASS %s\r\n" % password.encode())
        say_and_read(s, b"QUIT\r\n")

    text, _, srv = record_dialogue(tmp_path, "pop3", scripted("+OK ready", pop3_answer), client)
    body = [l for l in text.splitlines() if l.startswith(("C:", "S:"))]
    assert not any(password in l for l in body), body
    assert "S: -ERR bad password ${password}" in body
    assert "C: PASS ${password}" in body


def test_pop3_echo_recording_replays(tmp_path):
    """The masked echo is ${password}: the file replays against the same server."""
    import subprocess

    def client(s):
        recv_line(s)
        say_and_read(s, b"USER alice\r\n")
        say_and_read(s, b"PASS %s\r\n" % PASSWORD.encode())
        say_and_read(s, b"QUIT\r\n")

    with hostile.Server(scripted("+OK ready", pop3_answer)) as srv:
        out = str(tmp_path / "echo.session")
        with mc.Recorder(MAILSPEC, "pop3", "127.0.0.1", srv.port, out, timeout=5) as rec:
            s = socket.create_connection(("127.0.0.1", rec.port), timeout=10)
            client(s)
            s.close()
            assert rec.wait() == 0, rec.stderr
        r = subprocess.run([MAILSPEC, "replay", "--protocol", "pop3", "--host", "127.0.0.1",
                            "--port", str(srv.port), "--user", "alice", "--password", PASSWORD,
                            "--timeout", "5", out], capture_output=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        assert PASSWORD.encode() not in r.stdout + r.stderr


def test_pop3_password_cut_by_the_other_direction(tmp_path):
    """2b: `PASS Sek`, the server speaks, `r1tPw`; then the server echoes it."""
    def handler(conn):
        conn.line("+OK ready")
        conn.readline()  # USER
        conn.line("+OK")
        time.sleep(0.3)  # the client has sent half of PASS
        conn.line("+OK unsolicited")
        line = conn.readline()
        conn.line("-ERR bad password " + line[5:])
        conn.readline()
        conn.line("+OK bye")

    def client(s):
        recv_line(s)
        say_and_read(s, b"USER alice\r\n")
        s.sendall(b"PASS " + PASSWORD[:3].encode())
        assert recv_line(s) == b"+OK unsolicited\r\n"
        say_and_read(s, PASSWORD[3:].encode() + b"\r\n")
        say_and_read(s, b"QUIT\r\n")

    text, _, _ = record_dialogue(tmp_path, "pop3", handler, client)
    body = "".join(l[3:] for l in text.splitlines() if l.startswith("C:"))
    assert PASSWORD not in text and PASSWORD[:3] not in body and PASSWORD[3:] not in body, text
    assert "@nocrlf" in text


def smtp_answer(line):
    verb = line.split(" ")[0].upper()
    if verb == "AUTH":
        return "535 5.7.8 bad credentials: " + line + "\r\n"
    if verb == "QUIT":
        return "221 bye\r\n"
    return "250 ok\r\n"


def test_smtp_auth_plain_cut_and_echoed(tmp_path):
    """2b + 2c: the initial response cut by a server line, then echoed whole."""
    blob = base64.b64encode(b"\0alice\0" + PASSWORD.encode())

    def handler(conn):
        conn.line("220 ready")
        conn.readline()
        conn.line("250 ok")
        time.sleep(0.3)
        conn.line("250 unsolicited")
        line = conn.readline()
        conn.line("535 5.7.8 bad credentials: " + line)
        conn.readline()
        conn.line("221 bye")

    def client(s):
        recv_line(s)
        say_and_read(s, b"EHLO x\r\n")
        s.sendall(b"AUTH PLAIN " + blob[:9])
        assert recv_line(s) == b"250 unsolicited\r\n"
        say_and_read(s, blob[9:] + b"\r\n")
        say_and_read(s, b"QUIT\r\n")

    text, _, _ = record_dialogue(tmp_path, "smtp", handler, client)
    assert blob.decode() not in text and blob[:9].decode() not in text, text
    assert blob[9:].decode() not in text, text


def test_smtp_auth_login_the_parser_rejects(tmp_path):
    """A lower-case `auth login` the strict parser does not take: the lines
    after the server's 334 challenges are still SASL responses, redacted."""
    def handler(conn):
        conn.line("220 ready")
        conn.readline()
        conn.line("334 VXNlcm5hbWU6")
        conn.readline()
        conn.line("334 UGFzc3dvcmQ6")
        conn.readline()
        conn.line("535 5.7.8 bad")
        conn.readline()
        conn.line("221 bye")

    def client(s):
        recv_line(s)
        say_and_read(s, b"auth login\r\n")
        say_and_read(s, base64.b64encode(b"alice") + b"\r\n")
        say_and_read(s, base64.b64encode(PASSWORD.encode()) + b"\r\n")
        say_and_read(s, b"QUIT\r\n")

    text, _, _ = record_dialogue(tmp_path, "smtp", handler, client)
    assert base64.b64encode(PASSWORD.encode()).decode() not in text, text
    assert text.count("C: ${sasl_redacted}") == 2, text
