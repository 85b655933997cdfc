"""`mailspec certify` against compliant servers that use legal variants.

variants.py holds small in-memory IMAP, SMTP and POP3 servers that follow the
RFCs but answer with encodings Dovecot and Postfix do not use (quoted and
literal mailbox names, a personal namespace under "INBOX.", lower-case FETCH
responses, a multi-line SMTP greeting and HELP, an APOP greeting, ...; each
variant quotes the RFC text that allows it). A conformance harness must not
accuse a compliant server: every test passes or is skipped, over plain TCP,
STARTTLS/STLS and implicit TLS.
"""

import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import lab  # noqa: E402,F401  (pytest fixture: the certificates)
from variants import ImapServer, Pop3Server, SmtpServer, USER, PASSWORD  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MAILSPEC = os.environ.get("MAILSPEC", os.path.join(ROOT, "build", "mailspec"))
SERVERS = {"imap": ImapServer, "pop3": Pop3Server, "smtp": SmtpServer}
RUNS = [(p, t) for p in ("imap", "pop3", "smtp") for t in ("none", "starttls", "implicit")]


@pytest.fixture(scope="module")
def certs(lab):
    return os.path.join(lab.dir, "certs", "cert.pem"), os.path.join(lab.dir, "certs", "key.pem")


def certify_variant(lab, certs, tmp_path, proto, tls):
    out = tmp_path / ("%s-%s.json" % (proto, tls))
    with SERVERS[proto](*certs, implicit_tls=(tls == "implicit"), lifetime=240,
                        io_timeout=15) as srv:
        r = subprocess.run([MAILSPEC, "certify", "--protocol", proto, "--host", "127.0.0.1",
                            "--port", str(srv.port), "--tls", tls, "--cafile", lab.cafile,
                            "--user", USER, "--password", PASSWORD, "--timeout", "5",
                            "--json", str(out)],
                           capture_output=True, text=True, timeout=200)
    assert out.exists(), r.stdout[-3000:] + r.stderr
    return r, json.loads(out.read_text())


@pytest.mark.parametrize("proto,tls", RUNS)
def test_legal_variants_are_not_accused(mailspec, lab, certs, tmp_path, proto, tls):
    r, rep = certify_variant(lab, certs, tmp_path, proto, tls)
    assert rep["transport"] == tls
    bad = [t for t in rep["tests"] if t["result"] in ("fail", "error")]
    assert not bad, "%d test(s) accuse a compliant server:\n%s" % (len(bad), "\n".join(
        "%s [%s]: %s" % (t["id"], t["result"], t["message"]) for t in bad))
    assert rep["summary"]["pass"] > 0
    assert r.returncode == 0, r.stdout[-3000:]
