#!/usr/bin/env python3
"""Regenerate corpus/sessions/<protocol>/*.session: real clients (imaplib,
poplib, smtplib, a raw PIPELINING client) talking to the lab's Dovecot and
Postfix through ``mailspec record``.

    /usr/bin/python3 tests/e2e/clients/record_corpus.py [--mailspec build/mailspec]
        [--lab-dir DIR] [--out corpus/sessions] [--only NAME...]

Without --lab-dir a fresh lab is started in a temporary directory (needs
root) and stopped at the end, so the recordings start from the seeded
mailboxes; they replay against a fresh lab (`scripts/lab start`) with
``mailspec replay --user alice --password alice-secret``. Recordings that use
SASL contain ${sasl_plain}/${sasl_user}/${sasl_password} (see docs/record.md).
"""

import argparse
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import mailclients as mc  # noqa: E402
import lab as labmod  # noqa: E402

# name, protocol, lab port attribute, --tls, scenario. Order matters: mail
# sent over SMTP lands in alice's INBOX, so SMTP comes last.
PLAN = [
    ("login-list-select-fetch", "imap", "imap_port", "none", mc.imap_readonly),
    ("starttls-login-fetch", "imap", "imap_port", "starttls", mc.imap_readonly),
    ("implicit-login-fetch", "imap", "imaps_port", "implicit", mc.imap_readonly),
    ("authenticate-plain-fetch-body", "imap", "imaps_port", "implicit",
     mc.imap_authenticate_plain),
    ("authenticate-login", "imap", "imap_port", "none", mc.imap_authenticate_login),
    ("append-store-copy-move-expunge", "imap", "imap_port", "none", mc.imap_mailbox_ops),
    ("user-pass-stat-list-uidl-retr-top", "pop3", "pop3_port", "none", mc.pop3_readonly),
    ("stls-user-pass-retr", "pop3", "pop3_port", "starttls", mc.pop3_readonly),
    ("implicit-user-pass-retr", "pop3", "pop3s_port", "implicit", mc.pop3_readonly),
    ("dele-rset", "pop3", "pop3_port", "none", mc.pop3_dele),
    ("auth-plain", "pop3", "pop3_port", "none", mc.pop3_auth_plain),
    ("send-noauth", "smtp", "smtp_port", "none", mc.smtp_send_noauth),
    ("starttls-send-noauth", "smtp", "smtp_port", "starttls", mc.smtp_send_noauth),
    ("pipelining", "smtp", "smtp_port", "none", mc.smtp_pipelining),
    ("submission-starttls-auth-plain-send", "smtp", "submission_port", "starttls",
     mc.smtp_send_auth),
    ("smtps-auth-plain-send", "smtp", "smtps_port", "implicit", mc.smtp_send_auth),
    ("smtps-auth-login", "smtp", "smtps_port", "implicit", mc.smtp_auth_login),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mailspec", default=os.path.join(ROOT, "build", "mailspec"))
    ap.add_argument("--lab-dir", help="use the lab already running there")
    ap.add_argument("--out", default=os.path.join(ROOT, "corpus", "sessions"))
    ap.add_argument("--only", nargs="*", help="record only these names")
    a = ap.parse_args()

    started = None
    if a.lab_dir:
        lab = labmod.lab_from_env(labmod.lab_env(a.lab_dir))
    else:
        lab = started = labmod.start_lab()
    try:
        cert, key, ca = (os.path.join(lab.dir, "certs", n) for n in ("cert.pem", "key.pem",
                                                                      "ca.pem"))
        ctx = lab.ssl_context()
        bad = 0
        for name, proto, port_attr, tls, scenario in PLAN:
            if a.only and name not in a.only:
                continue
            d = os.path.join(a.out, proto)
            os.makedirs(d, exist_ok=True)
            path = os.path.join(d, name + ".session")
            kw = dict(cert=cert, key=key, cafile=ca) if tls != "none" else {}
            with mc.Recorder(a.mailspec, proto, "localhost", getattr(lab, port_attr), path,
                             tls=tls, **kw) as rec:
                scenario("localhost", rec.port, tls, ctx, lab.user, lab.password)
                rc = rec.wait()
            text = open(path, encoding="utf-8").read()
            if rc != 0 or lab.password in text:
                print("FAILED %s (rc=%s)\n%s" % (path, rc, rec.stderr), file=sys.stderr)
                bad += 1
                continue
            # the strict parsers' view of the recording (informational)
            p = subprocess.run([a.mailspec, "parse", proto, "session", "--quiet", path],
                               capture_output=True)
            print("%-60s %4d lines  parse rc=%d" % (os.path.relpath(path, ROOT),
                                                   text.count("\n"), p.returncode))
        return 1 if bad else 0
    finally:
        if started is not None:
            labmod.stop_lab(started.dir)
            shutil.rmtree(started.dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
