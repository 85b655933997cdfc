"""Secrets are masked in every output, whatever their length (issue 15 item 10).

A small POP3 and SMTP server on loopback echoes back what the client sent
to log in - the password, the AUTH PLAIN blob padded and unpadded, the
AUTH LOGIN password blob and the APOP digest - in its replies. `mailspec
replay` and `mailspec certify` run against it with every report (--json,
--junit, --html, and `certify --html-from` on replay's JSON) and -v (the
transcripts on the terminal). No output may hold the secret or a form
derived from it, for passwords of 1, 2 and 3 bytes and a long one.

The short passwords use bytes that ordinary output never holds ("^", "Qz",
"Qzj"): each test first checks that on a run whose password is a different
one, so a hit can only be a leak. A one-byte password is masked wherever
that byte stands; the reports must still parse and show ${password} where
the server echoed it.
"""
import base64
import hashlib
import json
import os
import subprocess
import xml.etree.ElementTree as ET

import pytest

import hostile
from conftest import MAILSPEC

USER = "echo"
LONG = "long-Secret-9TW7"
PASSWORDS = ["^", "Qz", "Qzj", LONG]
TS = "<1896.697170952@echo.invalid>"
RUN_TIMEOUT = 240


def b64(data):
    return base64.b64encode(data).decode()


def forms(password):
    """The password and every form of it the runner derives (padded and not)."""
    pw = password.encode()
    blobs = [b64(b"\0" + USER.encode() + b"\0" + pw),
             b64(USER.encode() + b"\0" + USER.encode() + b"\0" + pw),
             b64(pw)]
    digest = hashlib.md5(TS.encode() + pw).hexdigest()
    return [password, digest] + blobs + [b.rstrip("=") for b in blobs]


def b64_text(blob):
    """What the client revealed in a base64 blob: the blob, unpadded, and the
    password it carries (the text after the last NUL), or [] if it is not
    base64."""
    try:
        raw = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
    except ValueError:
        return []
    pw = raw.rsplit(b"\0", 1)[-1].decode("utf-8", "replace")
    return [blob, blob.rstrip("=")] + ([pw] if pw.isprintable() and pw else [])


class Echo:
    """Per connection: what the client revealed, echoed in every later reply."""

    def __init__(self, conn):
        self.conn = conn
        self.seen = []

    def tail(self):
        return (" " + " ".join(self.seen)) if self.seen else ""

    def reply(self, text):
        self.conn.line(text + self.tail())


def commands(conn):
    """Each client line as (VERB, the rest) until the client leaves."""
    while True:
        line = conn.readline()
        if line is None:
            return
        verb, _, arg = line.partition(" ")
        yield verb.upper(), arg


def echo_pop3(conn):
    e = Echo(conn)
    conn.line("+OK echo ready " + TS)
    for verb, arg in commands(conn):
        if verb == "CAPA":
            for text in ("+OK", "USER", "SASL PLAIN", "."):
                conn.line(text)
        elif verb == "USER":
            e.reply("+OK send PASS")
        elif verb == "PASS":
            e.seen.append(arg)
            e.reply("+OK welcome")
        elif verb == "APOP":
            e.seen.append(arg.rpartition(" ")[2])
            e.reply("+OK apop")
        elif verb == "AUTH":
            mech, _, blob = arg.partition(" ")
            if not blob:
                conn.line("+ ")
                blob = conn.readline() or ""
            e.seen.extend(b64_text(blob))
            e.reply("+OK authenticated")
        elif verb == "QUIT":
            e.reply("+OK bye")
            return
        else:
            e.reply("-ERR unknown command")


def echo_smtp(conn):
    e = Echo(conn)
    conn.line("220 echo.invalid ESMTP ready")
    for verb, arg in commands(conn):
        if verb == "EHLO":
            conn.line("250-echo.invalid hello" + e.tail())
            conn.line("250-AUTH PLAIN LOGIN")
            conn.line("250 8BITMIME")
        elif verb == "AUTH":
            mech, _, blob = arg.partition(" ")
            if mech.upper() == "LOGIN":
                if not blob:
                    conn.line("334 VXNlcm5hbWU6")
                    conn.readline()
                conn.line("334 UGFzc3dvcmQ6")
                blob = conn.readline() or ""
            elif not blob:
                conn.line("334 ")
                blob = conn.readline() or ""
            e.seen.extend(b64_text(blob))
            e.reply("235 2.7.0 accepted")
        elif verb == "DATA":
            conn.line("354 go ahead")
            while conn.readline() not in (None, "."):
                pass
            e.reply("250 2.0.0 queued")
        elif verb in ("HELO", "MAIL", "RCPT", "RSET", "NOOP"):
            e.reply("250 2.0.0 ok")
        elif verb == "QUIT":
            e.reply("221 2.0.0 bye")
            return
        else:
            e.reply("500 5.5.2 unknown command")


HANDLERS = {"pop3": echo_pop3, "smtp": echo_smtp}


def run(*args, env_password=None):
    env = dict(os.environ)
    env.pop("MAILSPEC_PASSWORD", None)
    if env_password is not None:
        env["MAILSPEC_PASSWORD"] = env_password
    return subprocess.run([MAILSPEC, *map(str, args)], capture_output=True, timeout=RUN_TIMEOUT,
                          env=env)


def strings(node):
    """Every string in a JSON document (decoded: no escape can hide a secret)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)


def outputs(procs, files):
    """Every output as text: the terminal streams, the report files as bytes
    read back, and the JSON reports' decoded strings."""
    texts = {}
    for name, p in procs.items():
        texts[name + ".stdout"] = p.stdout.decode("utf-8", "replace")
        texts[name + ".stderr"] = p.stderr.decode("utf-8", "replace")
    for f in files:
        texts[f.name] = f.read_text(errors="replace")
        if f.suffix == ".json":
            texts[f.name + " (decoded)"] = "\n".join(strings(json.loads(f.read_text())))
        elif f.suffix == ".xml":
            root = ET.fromstring(f.read_text())  # well-formed
            texts[f.name + " (decoded)"] = "\n".join(
                (el.text or "") + "\n" + "\n".join(el.attrib.values()) for el in root.iter())
    return texts


POP3_SCRIPT = """@protocol pop3
S: +OK ${*}
C: USER ${user}
S: +OK ${*}
C: PASS ${password}
S: +OK welcome ${*}
C: AUTH PLAIN ${sasl_plain}
S: +OK this never matches
"""


def replay_outputs(tmp_path, password):
    """replay -v with --json and --junit, then certify --html-from its JSON."""
    script = tmp_path / "echo.session"
    script.write_text(POP3_SCRIPT)
    js, xml, html = tmp_path / "replay.json", tmp_path / "replay.xml", tmp_path / "replay.html"
    with hostile.Server(echo_pop3, lifetime=RUN_TIMEOUT) as srv:
        p = run("replay", "--port", srv.port, "--user", USER, "--timeout", 3, "-v",
                "--json", js, "--junit", xml, script, env_password=password)
    assert p.returncode == 1, p.stderr.decode()[-2000:]
    h = run("certify", "--html-from", js, "--html", html)
    assert h.returncode == 0, h.stderr.decode()
    return {"replay": p, "html-from": h}, [js, xml, html], srv


def certify_outputs(tmp_path, proto, password):
    js, xml, html = (tmp_path / ("certify-%s.%s" % (proto, ext)) for ext in ("json", "xml", "html"))
    with hostile.Server(HANDLERS[proto], lifetime=RUN_TIMEOUT) as srv:
        p = run("certify", "--protocol", proto, "--port", srv.port, "--user", USER,
                "--timeout", 2, "--jobs", 4, "-v", "--json", js, "--junit", xml, "--html", html,
                env_password=password)
    # the suite ran after the login (a verdict, not a pre-flight exit)
    assert p.returncode in (0, 1, 6), (p.returncode, p.stderr.decode()[-2000:])
    assert json.loads(js.read_text())["login"]["checked"] is True
    return {"certify": p}, [js, xml, html], srv


_CONTROL = {}


def control(tmp_path_factory, what):
    """The outputs of a run with the long password: the short passwords' forms
    must not be in them, or finding them later would prove nothing."""
    if what not in _CONTROL:
        d = tmp_path_factory.mktemp("control-" + what)
        if what == "replay":
            procs, files, _ = replay_outputs(d, LONG)
        else:
            procs, files, _ = certify_outputs(d, what, LONG)
        _CONTROL[what] = "\n".join(outputs(procs, files).values())
    return _CONTROL[what]


def assert_masked(texts, password, control_text):
    for form in forms(password):
        if password != LONG:
            assert form not in control_text, ("a bad test password: %r occurs in ordinary "
                                               "output" % form)
        for where, text in texts.items():
            assert form not in text, (where, form, text[:3000])


@pytest.mark.parametrize("password", PASSWORDS, ids=["1-byte", "2-byte", "3-byte", "long"])
def test_replay_masks_echoed_secrets(tmp_path, tmp_path_factory, password):
    procs, files, srv = replay_outputs(tmp_path, password)
    # the secrets went over the wire, and the server echoed them
    assert "PASS " + password in srv.client_lines
    assert "AUTH PLAIN " + forms(password)[2] in srv.client_lines
    texts = outputs(procs, files)
    assert_masked(texts, password, control(tmp_path_factory, "replay"))
    t = json.loads(files[0].read_text())["tests"][0]
    assert "C: PASS ${password}\n" in t["transcript"]
    assert "S: +OK welcome ${password}\n" in t["transcript"]
    # the blob, padded and unpadded, and the password it carries
    assert "S: +OK authenticated ${password} ${sasl_plain} ${sasl_plain}" in t["transcript"]
    assert "${sasl_plain}" in t["message"]
    assert "S: +OK welcome ${password}" in procs["replay"].stderr.decode()  # -v
    assert "${password}" in files[2].read_text()  # the HTML shows the transcript


@pytest.mark.parametrize("proto", ["pop3", "smtp"])
@pytest.mark.parametrize("password", PASSWORDS, ids=["1-byte", "2-byte", "3-byte", "long"])
def test_certify_masks_echoed_secrets(tmp_path, tmp_path_factory, proto, password):
    procs, files, srv = certify_outputs(tmp_path, proto, password)
    sent = "\n".join(srv.client_lines)
    assert (("PASS " + password) if proto == "pop3" else forms(password)[2]) in sent
    texts = outputs(procs, files)
    assert_masked(texts, password, control(tmp_path_factory, proto))
    rep = json.loads(files[0].read_text())
    shown = "\n".join(t["transcript"] for t in rep["tests"])
    assert "${password}" in shown and "${sasl_plain}" in shown
    assert "${password}" in procs["certify"].stdout.decode() + procs["certify"].stderr.decode()


def echo_imap(conn):
    """LOGIN answered NO with its arguments echoed as the client sent them."""
    conn.line("* OK echo ready")
    while True:
        line = conn.readline()
        if line is None:
            return
        tag, _, rest = line.partition(" ")
        cmd, _, args = rest.partition(" ")
        if cmd.upper() == "LOGOUT":
            conn.line("* BYE bye")
            conn.line(tag + " OK LOGOUT completed")
            return
        conn.line(tag + " NO [AUTHENTICATIONFAILED] no such user or password: " + args)


def test_imap_quoted_password_is_masked(tmp_path, tmp_path_factory):
    """${mbox:password} sends a password with '"' as a quoted string
    ("Qz\\"9"); a server that echoes that form must not show it either."""
    password = 'Qz"9'
    script = tmp_path / "login.session"
    script.write_text("@protocol imap\nS: * OK ${*}\nC: a1 LOGIN ${user} ${mbox:password}\n"
                      "S: a1 OK ${*}\n")
    js, xml = tmp_path / "r.json", tmp_path / "r.xml"
    with hostile.Server(echo_imap, lifetime=RUN_TIMEOUT) as srv:
        p = run("replay", "--port", srv.port, "--user", USER, "--timeout", 3, "-v",
                "--json", js, "--junit", xml, script, env_password=password)
    assert p.returncode == 1, p.stderr.decode()[-2000:]
    assert 'a1 LOGIN echo "Qz\\"9"' in srv.client_lines  # the quoted form went out
    texts = outputs({"replay": p}, [js, xml])
    assert "Qz" not in control(tmp_path_factory, "replay")
    for where, text in texts.items():
        assert "Qz" not in text, (where, text[:3000])
    t = json.loads(js.read_text())["tests"][0]
    assert 'password: echo "${password}"' in t["transcript"]
    assert 'password: echo "${password}"' in t["message"]
