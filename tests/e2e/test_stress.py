"""mailspec stress: planted state bugs found, their fixed twin and the lab's
Dovecot left alone, usage errors (docs/stress.md)."""
import json
import os
import subprocess
import time

import pytest

from stress_fixture import StressImap, StressSmtp

PASSWORD = "s3cret-Stress"


def run(mailspec, tmp_path, *args, timeout=120, env=None):
    out = tmp_path / "stress.json"
    proc = subprocess.run([mailspec, "stress", "--json", str(out), *args], capture_output=True,
                          timeout=timeout, env=env)
    doc = json.loads(out.read_text()) if out.exists() else None
    return proc, doc


def fixture_run(mailspec, tmp_path, bug, seconds):
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    with StressImap(bug=bug, lifetime=seconds + 60) as srv:
        return run(mailspec, tmp_path, "--protocol", "imap", "--host", "127.0.0.1", "--port",
                   str(srv.port), "--user", "tester", "--password-file", str(pw), "--clients",
                   "10", "--duration", str(seconds), "--checkpoint", "2", "--seed", "1", "-q")


def check_doc(doc):
    for key in ("commands", "seconds", "commands_per_second", "inconsistencies"):
        assert key in doc, key
    assert isinstance(doc["inconsistencies"], list)
    assert doc["commands"] > 0 and doc["commands_per_second"] > 0


def test_planted_uid_reuse_is_found(mailspec, tmp_path):
    proc, doc = fixture_run(mailspec, tmp_path, "uid-reuse", 20)
    assert proc.returncode == 1, proc.stderr
    check_doc(doc)
    kinds = {i["kind"] for i in doc["inconsistencies"]}
    assert kinds & {"uid-reused", "content-changed"}, kinds
    first = doc["inconsistencies"][0]
    assert first["rfc"].startswith("RFC 9051") and first["level"] == "MUST"
    # the sessions' last lines come along, the password never does
    assert any("C: " in t and "S: " in t for t in first["transcripts"].values())
    blob = proc.stderr.decode() + json.dumps(doc)
    assert PASSWORD not in blob
    assert "${password}" in json.dumps(doc) or "LOGIN" not in json.dumps(doc)


def test_uid_reuse_reproducer_replays(mailspec, tmp_path):
    # --repro: the uid-reused inconsistency gets a one-session reproducer, run
    # once by stress (it reproduces: the JSON says replayable); mailspec replay
    # fails it on the buggy server and passes it on the fixed twin. A kind that
    # needs sessions racing says why it has none.
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    repro = tmp_path / "repro"
    with StressImap(bug="uid-reuse", lifetime=90) as srv:
        proc, doc = run(mailspec, tmp_path, "--protocol", "imap", "--host", "127.0.0.1",
                        "--port", str(srv.port), "--user", "tester", "--password-file", str(pw),
                        "--clients", "10", "--duration", "20", "--checkpoint", "2", "--seed", "1",
                        "--repro", str(repro), "-q")
        assert proc.returncode == 1, proc.stderr
        reused = [i for i in doc["inconsistencies"] if i["kind"] == "uid-reused"]
        assert reused, doc["inconsistencies"]
        assert all(i["replayable"] is True for i in reused), reused
        session = reused[0]["session"]
        assert session == str(repro / "repro-uid-reused.session")
        others = [i for i in doc["inconsistencies"] if i["kind"] != "uid-reused"]
        assert all(i["replayable"] is False and i["not_replayable_because"] for i in others)
        text = open(session).read()
        assert PASSWORD not in text and "${password}" in text
        bad = subprocess.run([mailspec, "replay", "--port", str(srv.port), "--user", "tester",
                              "--password-file", str(pw), "--timeout", "5", session],
                             capture_output=True, timeout=60)
        assert bad.returncode == 1, bad.stdout.decode() + bad.stderr.decode()
        assert b"forbidden" in bad.stdout + bad.stderr
    with StressImap(bug=None, lifetime=60) as twin:
        good = subprocess.run([mailspec, "replay", "--port", str(twin.port), "--user", "tester",
                               "--password-file", str(pw), "--timeout", "5", session],
                              capture_output=True, timeout=60)
        assert good.returncode == 0, good.stdout.decode() + good.stderr.decode()


def test_reproducer_that_does_not_reproduce_says_so(mailspec, tmp_path):
    # lost-flag-update needs two sessions racing: no reproducer, and the reason
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    with StressImap(bug="lost-flag", lifetime=60) as srv:
        proc, doc = run(mailspec, tmp_path, "--protocol", "imap", "--host", "127.0.0.1",
                        "--port", str(srv.port), "--user", "tester", "--password-file", str(pw),
                        "--clients", "10", "--duration", "20", "--checkpoint", "2", "--seed", "1",
                        "--repro", str(tmp_path / "repro"), "-q")
    assert proc.returncode == 1, proc.stderr
    lost = [i for i in doc["inconsistencies"] if i["kind"] == "lost-flag-update"]
    assert lost and all(i["replayable"] is False and "racing" in i["not_replayable_because"]
                        for i in lost), lost
    assert not (tmp_path / "repro").exists() or not list((tmp_path / "repro").iterdir())


def test_planted_lost_flag_update_is_found(mailspec, tmp_path):
    proc, doc = fixture_run(mailspec, tmp_path, "lost-flag", 20)
    assert proc.returncode == 1, proc.stderr
    kinds = {i["kind"] for i in doc["inconsistencies"]}
    assert "lost-flag-update" in kinds, kinds
    assert not kinds & {"uid-reused", "content-changed", "uid-order", "uid-changed"}, kinds


def test_fixed_twin_is_clean(mailspec, tmp_path):
    proc, doc = fixture_run(mailspec, tmp_path, None, 15)
    assert proc.returncode == 0, proc.stderr
    check_doc(doc)
    assert doc["inconsistencies"] == []
    # the model did check: UIDs, contents, STORE results, checkpoints
    assert doc["checkpoints"] >= 3
    for key in ("uid", "content", "store_result", "checkpoint_views", "owner_keywords"):
        assert doc["checks"][key] > 0, key


@pytest.mark.parametrize("tls", ["none", "implicit", "starttls"])
def test_lab_dovecot_no_inconsistency(mailspec, tmp_path, lab, tls):
    pw = tmp_path / "pw"
    pw.write_text(lab.password + "\n")
    port = lab.imaps_port if tls == "implicit" else lab.imap_port
    log = tmp_path / "log.jsonl"
    proc, doc = run(mailspec, tmp_path, "--protocol", "imap", "--host", lab.host, "--port",
                    str(port), "--tls", tls, "--cafile", lab.cafile, "--user", lab.user,
                    "--password-file", str(pw), "--clients", "5", "--duration", "4",
                    "--checkpoint", "1", "--log", str(log), "-q")
    assert proc.returncode == 0, json.dumps(doc and doc["inconsistencies"], indent=1)[:6000]
    check_doc(doc)
    assert doc["inconsistencies"] == []
    assert doc["tls"] == tls and doc["errors"]["timeout"] == 0
    assert doc["checks"]["checkpoint_views"] > 0
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(lines) >= 3
    assert "commands_per_second" in lines[0] and "latency_ms" in lines[0]
    assert lab.password not in proc.stderr.decode() + json.dumps(doc)


def test_usage_errors(mailspec, tmp_path):
    def rc(*args, env=None):
        return run(mailspec, tmp_path, *args, timeout=30, env=env)[0].returncode

    assert rc("--user", "u", "--password", "p") == 2                      # no --protocol
    assert rc("--protocol", "imap", "--clients", "0", "--user", "u", "--password", "p") == 2
    assert rc("--protocol", "imap", "--duration", "x", "--user", "u", "--password", "p") == 2
    assert rc("--protocol", "imap") == 2                                  # no credentials
    assert rc("--protocol", "smtp", "--user", "u", "--password", "p") == 2  # no --rcpt
    assert rc("--protocol", "smtp", "--rcpt", "a@b", "--user", "u", "--password", "p") == 2
    assert rc("--protocol", "imap", "--check-port", "143", "--user", "u", "--password", "p") == 2
    assert rc("--protocol", "smtp", "--rcpt", "a@b", "--check-port", "143", "--check-tls", "x",
              "--user", "u", "--password", "p") == 2
    assert rc("--protocol", "imap", "--user", "u", "--password", "p", "--bogus") == 2
    assert rc("--protocol", "imap", "--user", "u", "--password", "p", "extra") == 2
    # nothing listens there
    env = dict(os.environ, MAILSPEC_PASSWORD="p")
    assert rc("--protocol", "imap", "--port", "1", "--user", "u", "--timeout", "2",
              env=env) == 2
    out = subprocess.run([mailspec, "stress", "--help"], capture_output=True, timeout=10)
    assert out.returncode == 0 and b"--clients" in out.stdout and b"--duration" in out.stdout


def test_refused_login_is_a_connection_error(mailspec, tmp_path, lab):
    proc, doc = run(mailspec, tmp_path, "--protocol", "imap", "--host", lab.host, "--port",
                    str(lab.imap_port), "--user", lab.user, "--password", "wrong-pw",
                    "--duration", "2", timeout=60)
    assert proc.returncode == 2
    assert b"LOGIN" in proc.stderr and b"wrong-pw" not in proc.stderr


def pop3_fixture_run(mailspec, tmp_path, bug, seconds, messy=False):
    from stress_fixture import StressPop3
    with StressPop3(bug=bug, lifetime=seconds + 60, messy=messy) as srv:
        return run(mailspec, tmp_path, "--protocol", "pop3", "--host", "127.0.0.1", "--port",
                   str(srv.port), "--user", "tester", "--password", PASSWORD, "--clients", "5",
                   "--duration", str(seconds), "--seed", "1", "-q")


def test_pop3_unique_id_naming_two_messages_is_found(mailspec, tmp_path):
    proc, doc = pop3_fixture_run(mailspec, tmp_path, "uidl-by-position", 8)
    assert proc.returncode == 1, proc.stderr
    kinds = {i["kind"] for i in doc["inconsistencies"]}
    assert kinds == {"pop3"}, kinds
    assert any("unique-id" in i["message"] for i in doc["inconsistencies"])
    assert PASSWORD not in proc.stderr.decode() + json.dumps(doc)


def test_pop3_fixed_twin_is_clean(mailspec, tmp_path):
    proc, doc = pop3_fixture_run(mailspec, tmp_path, None, 6)
    assert proc.returncode == 0, proc.stderr
    check_doc(doc)
    assert doc["inconsistencies"] == []
    assert doc["checks"]["uid"] > 0 and doc["checks"]["content"] > 0
    assert doc["by_command"]["QUIT"]["count"] > 0  # sessions were compared


def test_pop3_message_content_is_not_judged(mailspec, tmp_path):
    """RETR/TOP relay the stored message: its 1200-octet lines, NUL and bare
    CR are the message's syntax, not the server's (only framing is judged)."""
    proc, doc = pop3_fixture_run(mailspec, tmp_path, None, 4, messy=True)
    assert proc.returncode == 0, json.dumps(doc and doc["inconsistencies"], indent=1)[:3000]
    check_doc(doc)
    assert doc["inconsistencies"] == []
    assert doc["checks"]["content"] > 0


@pytest.mark.parametrize("tls", ["none", "implicit"])
def test_lab_dovecot_pop3_no_inconsistency(mailspec, tmp_path, lab, tls):
    port = lab.pop3s_port if tls == "implicit" else lab.pop3_port
    proc, doc = run(mailspec, tmp_path, "--protocol", "pop3", "--host", lab.host, "--port",
                    str(port), "--tls", tls, "--cafile", lab.cafile, "--user", lab.user,
                    "--password", lab.password, "--clients", "5", "--duration", "3", "-q")
    assert proc.returncode == 0, proc.stderr
    check_doc(doc)
    assert doc["inconsistencies"] == [] and doc["protocol"] == "pop3"
    assert doc["checks"]["content"] > 0


def test_lab_dovecot_pop3_message_with_long_lines(mailspec, tmp_path, lab):
    """A delivered message with a 1200-octet line (Postfix takes it, Dovecot
    relays it as stored) is no syntax inconsistency of the POP3 server. As
    the second user: the first user's maildrop stays as other tests left it."""
    import poplib
    import smtplib

    poplib._MAXLINE = 1 << 20  # other tests deliver long lines to bob as well
    body = "Subject: stress long line\r\n\r\n" + "x" * 1200 + "\r\n"
    with smtplib.SMTP(lab.host, lab.smtp_port, timeout=30) as s:
        s.sendmail("", [lab.address2], body.encode())
    for _ in range(100):  # delivery is asynchronous
        p = poplib.POP3(lab.host, lab.pop3_port, timeout=30)
        p.user(lab.user2)
        p.pass_(lab.password2)
        found = any(b"x" * 1200 in b"\r\n".join(p.retr(i + 1)[1])
                    for i in range(p.stat()[0]))
        p.quit()
        if found:
            break
        time.sleep(0.1)
    assert found, "the message was not delivered"
    proc, doc = run(mailspec, tmp_path, "--protocol", "pop3", "--host", lab.host, "--port",
                    str(lab.pop3_port), "--user", lab.user2, "--password", lab.password2,
                    "--clients", "3", "--duration", "2", "-q")
    assert proc.returncode == 0, json.dumps(doc and doc["inconsistencies"], indent=1)[:3000]
    assert doc["inconsistencies"] == [] and doc["checks"]["content"] > 0


# ---- SMTP: delivery read back over IMAP ----

def smtp_fixture_run(mailspec, tmp_path, bug, seconds=2, settle=3):
    """stress --protocol smtp against StressSmtp, which delivers into a
    StressImap's mailbox (read back by the checker)."""
    with StressImap(bug=None, lifetime=seconds + settle + 60) as imap, \
            StressSmtp(imap, bug=bug, lifetime=seconds + settle + 60) as smtp:
        return run(mailspec, tmp_path, "--protocol", "smtp", "--host", "127.0.0.1", "--port",
                   str(smtp.port), "--rcpt", "tester@fixture.test", "--check-port", str(imap.port),
                   "--user", "tester", "--password", PASSWORD, "--clients", "3", "--duration",
                   str(seconds), "--settle", str(settle), "--seed", "5", "-q")


def test_smtp_fixed_twin_delivers_every_message_as_sent(mailspec, tmp_path):
    proc, doc = smtp_fixture_run(mailspec, tmp_path, None)
    assert proc.returncode == 0, proc.stderr
    check_doc(doc)
    d = doc["delivery"]
    assert doc["inconsistencies"] == [] and doc["protocol"] == "smtp"
    assert d["accepted"] > 50 and d["accepted"] == d["delivered"] == d["as_sent"], d
    assert d["missing"] == d["undelivered"] == d["duplicates"] == d["altered"] == 0, d
    for k in ("MAIL", "RCPT", "DATA", "DATA-END"):
        assert doc["by_command"][k]["count"] > 0, k


@pytest.mark.parametrize("bug,kind,level,rc", [
    ("lose", "smtp-undelivered", "info", 0),  # 250, then dropped: no wait proves a loss
    ("notrace", "smtp-no-trace", "MUST", 1),  # no Received: RFC 5321 4.4
    ("dup", "smtp-duplicate", "info", 0),     # no MUST forbids it: reported, not judged
    ("dot", "smtp-altered", "info", 0),       # leading dots kept: RFC 5321 4.5.2 (no keyword)
])
def test_smtp_planted_delivery_bugs(mailspec, tmp_path, bug, kind, level, rc):
    proc, doc = smtp_fixture_run(mailspec, tmp_path, bug)
    assert proc.returncode == rc, proc.stderr
    kinds = {(i["kind"], i["level"]) for i in doc["inconsistencies"]}
    assert kinds == {(kind, level)}, kinds
    assert doc["info_count"] == (len(doc["inconsistencies"]) if level == "info" else 0)
    first = doc["inconsistencies"][0]
    assert first["rfc"].startswith("RFC 5321")
    d = doc["delivery"]
    counts = {"smtp-undelivered": d["undelivered"], "smtp-no-trace": d["without_trace"],
              "smtp-duplicate": d["duplicates"], "smtp-altered": d["altered"]}
    assert counts[kind] > 0 and sum(counts.values()) == counts[kind], d
    if bug == "lose":  # every 20th accepted message
        assert abs(d["undelivered"] - d["accepted"] // 20) <= 1, d
    assert PASSWORD not in proc.stderr.decode() + json.dumps(doc)


def test_smtp_notification_is_not_a_lost_message(mailspec, tmp_path):
    """A message that bounced (a notification quoting it reaches the mailbox
    of the reverse-path, which is --rcpt's) is not lost: RFC 5321 6.1."""
    proc, doc = smtp_fixture_run(mailspec, tmp_path, "bounce")
    assert proc.returncode == 0, proc.stderr
    d = doc["delivery"]
    assert doc["inconsistencies"] == [], doc["inconsistencies"][:2]
    assert d["bounced"] > 0 and d["missing"] == 0 and d["undelivered"] == 0, d
    assert d["delivered"] + d["bounced"] == d["accepted"], d


@pytest.mark.parametrize("smtp,tls,imap,check_tls,auth", [
    ("smtp_port", "none", "imap_port", "none", False),
    ("submission_port", "starttls", "imaps_port", "implicit", True),
])
def test_lab_postfix_delivers_to_dovecot(mailspec, tmp_path, lab, smtp, tls, imap, check_tls,
                                         auth):
    """Postfix (pipe to dovecot-lda) into the scratch user's INBOX: every
    accepted message arrives once, as sent, after Return-Path and Received."""
    args = ["--protocol", "smtp", "--host", lab.host, "--port", str(getattr(lab, smtp)), "--tls",
            tls, "--cafile", lab.cafile, "--rcpt", lab.address3, "--check-port",
            str(getattr(lab, imap)), "--check-tls", check_tls, "--user", lab.user3, "--password",
            lab.password3, "--clients", "4", "--duration", "2", "--settle", "60", "-q"]
    if auth:
        args.append("--auth")
    proc, doc = run(mailspec, tmp_path, *args, timeout=180)
    assert proc.returncode == 0, proc.stderr.decode() + json.dumps(doc and doc["inconsistencies"])
    d = doc["delivery"]
    assert d["accepted"] > 20 and d["accepted"] == d["delivered"] == d["as_sent"], d
    assert doc["inconsistencies"] == []
    assert lab.password3 not in proc.stderr.decode() + json.dumps(doc)


def test_smtp_interrupted_wait_ends_at_once_without_verdict(mailspec, tmp_path):
    """SIGINT while waiting for the last messages ends the run at once; the
    messages still missing are not reported, and the exit status says the
    delivery was not checked to the end (2)."""
    import signal
    with StressImap(bug=None, lifetime=90) as imap, StressSmtp(imap, bug="lose", lifetime=90) as smtp:
        out = tmp_path / "stress.json"
        proc = subprocess.Popen(
            [mailspec, "stress", "--json", str(out), "--protocol", "smtp", "--host", "127.0.0.1",
             "--port", str(smtp.port), "--rcpt", "t@fixture.test", "--check-port", str(imap.port),
             "--user", "tester", "--password", PASSWORD, "--clients", "2", "--duration", "2",
             "--settle", "60", "-q"], stderr=subprocess.PIPE)
        time.sleep(5)  # 2 s of sending, then the wait for the dropped messages
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert time.monotonic() - t0 < 5
        assert proc.returncode == 2, err
        assert b"interrupted" in err, err
        doc = json.loads(out.read_text())
        assert doc["delivery"]["missing"] > 0 and doc["delivery"]["undelivered"] == 0
