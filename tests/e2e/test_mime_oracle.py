"""certify's MIME oracle (docs/mime-oracle.md) against the lab Dovecot: every
oracle test passes on the real server, and each fails for the right reason,
with a message in plain words, when a mutating proxy (mutproxy.py) plants one
fault: a wrong BODYSTRUCTURE size, RFC822.SIZE, ENVELOPE subject, section
contents, partial origin, SEARCH result, SORT order, or extension data in BODY."""

import json
import os
import subprocess

import pytest

from lab import lab  # noqa: F401  (pytest fixture)
from matrix import matrix_fixture
from mutproxy import MutatingProxy, Rule

cyrus = matrix_fixture("cyrus")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MAILSPEC = os.environ.get("MAILSPEC", os.path.join(ROOT, "build", "mailspec"))


# One test at a time: with parallel sessions the lab Dovecot (2.3) now and then
# answers CREATE of a new, unique name with NO [ALREADYEXISTS] while another
# session deletes its own mailbox; the test is then blocked (never failed).
def certify(lab, port, tmp_path, only, jobs="1", extra=()):  # noqa: F811
    report = tmp_path / "r.json"
    proc = subprocess.run(
        [MAILSPEC, "certify", "--protocol", "imap", "--host", "127.0.0.1", "--port", str(port),
         "--user", lab.user, "--password", lab.password, "--only", only, "--jobs", jobs,
         "--timeout", "10", "--json", str(report), "-q", *extra],
        capture_output=True, text=True, timeout=120)
    assert report.exists(), proc.stderr
    return proc, {t["id"]: t for t in json.loads(report.read_text())["tests"]}


def test_list_has_the_oracle(mailspec):
    out = subprocess.run([mailspec, "certify", "--protocol", "imap", "--list"],
                         capture_output=True, text=True, timeout=30).stdout
    ids = [line.split()[0] for line in out.splitlines() if line.startswith("imap.mime.")]
    assert len(ids) >= 20 and len(set(ids)) == len(ids)
    # not with --suite (a directory of the user's scripts), nor for other protocols
    out = subprocess.run([mailspec, "certify", "--protocol", "imap", "--list", "--suite",
                          os.path.join(ROOT, "conformance", "suites", "imap")],
                         capture_output=True, text=True, timeout=30).stdout
    assert "imap.mime." not in out
    out = subprocess.run([mailspec, "certify", "--protocol", "pop3", "--list"],
                         capture_output=True, text=True, timeout=30).stdout
    assert "imap.mime." not in out


def test_all_pass_on_dovecot(lab, tmp_path):  # noqa: F811
    proc, tests = certify(lab, lab.imap_port, tmp_path, "imap.mime.*")
    assert len(tests) >= 30
    bad = {i: (t["result"], t["message"]) for i, t in tests.items() if t["result"] != "pass"}
    assert not bad, bad
    assert proc.returncode == 0, proc.stderr


def test_all_pass_on_dovecot_over_starttls(lab, tmp_path):  # noqa: F811
    proc, tests = certify(lab, lab.imap_port, tmp_path, "imap.mime.*",
                          extra=("--tls", "starttls", "--cafile", lab.cafile))
    bad = {i: (t["result"], t["message"]) for i, t in tests.items() if t["result"] != "pass"}
    assert not bad, bad


def test_all_pass_on_cyrus(cyrus, tmp_path):
    """Cyrus IMAP 3.6 (folders under INBOX., implicit TLS): no false failure."""
    proc, tests = certify(cyrus, cyrus.imaps_port, tmp_path, "imap.mime.*",
                          extra=("--tls", "implicit", "--cafile", cyrus.cafile))
    assert len(tests) >= 30
    bad = {i: (t["result"], t["message"]) for i, t in tests.items() if t["result"] != "pass"}
    assert not bad, bad
    assert proc.returncode == 0, proc.stderr


def test_all_pass_through_an_empty_proxy(lab, tmp_path):  # noqa: F811
    with MutatingProxy(lab.imap_port, []) as p:
        _, tests = certify(lab, p.port, tmp_path, "imap.mime.*")
    assert all(t["result"] == "pass" for t in tests.values()), \
        {i: t["message"] for i, t in tests.items() if t["result"] != "pass"}


# (test, rule, words the failure message must hold)
FAULTS = [
    ("imap.mime.bodystructure.multipart",
     Rule("s2c", rb'(?i)("QUOTED-PRINTABLE" )(\d+)', rb"\g<1>999", count=1),
     ["part 1 (text/plain)", "body size", "999 octets", "the body has 35"]),
    ("imap.mime.bodystructure.nested",
     Rule("s2c", rb'(?i)"ALTERNATIVE"', rb'"related"', count=1),
     ["part 1 (multipart/alternative)", "subtype is not \"alternative\""]),
    ("imap.mime.bodystructure.rfc822",
     Rule("s2c", rb'"the inner message"', rb'"another subject"', count=1),
     ["part 2 (message/rfc822)", "envelope of the message inside, subject",
      "\"another subject\"", "\"the inner message\""]),
    ("imap.mime.rfc822-size",
     Rule("s2c", rb"RFC822\.SIZE (\d+)", rb"RFC822.SIZE 7", count=1),
     ["RFC822.SIZE of message 1 (simple)", "the server says 7", "octets were appended"]),
    ("imap.mime.envelope.fields",
     Rule("s2c", rb'"mixed with attachment"', rb'"mixed with attachmant"', count=1),
     ["ENVELOPE of message 2 (mixed), subject", "\"mixed with attachmant\"",
      "the message has \"mixed with attachment\""]),
    ("imap.mime.envelope.defaults",
     Rule("s2c", rb'^(\* \d+ FETCH \(ENVELOPE \("[^"]*" "[^"]*" (\(\([^)]*\)\)) )\2',
          rb"\1NIL", count=1),
     ["sender: the server sends NIL", "no Sender field: RFC 3501 7.4.2 defaults it from From",
      "1 address(es)"]),
    ("imap.mime.section.parts",
     Rule("c2s", rb"FETCH 1 \(BODY\.PEEK\[1\]\)", rb"FETCH 1 (BODY.PEEK[2])", count=1),
     ["FETCH 1 (BODY.PEEK[1]) of message \"mixed\"", "they differ from octet 0"]),
    ("imap.mime.section.partial",
     Rule("c2s", rb"BODY\.PEEK\[\]<17\.25>", rb"BODY.PEEK[]<18.25>", count=1),
     ["does not say <17>", "they differ from octet 0"]),
    ("imap.mime.search.header",
     Rule("s2c", rb"^\* SEARCH 1 4\r\n", rb"* SEARCH 1\r\n", count=1),
     ["SEARCH FROM \"example.org\": the server found messages { 1 }",
      "the messages that match are { 1 4 }"]),
    ("imap.mime.search.header",  # the same wrong answer as an IMAP4rev2 server's ESEARCH
     Rule("s2c", rb"^\* SEARCH 1 4\r\n", rb'* ESEARCH (TAG "P1") ALL 1:4\r\n', count=1),
     ["SEARCH FROM \"example.org\": the server found messages { 1 2 3 4 }"]),
    ("imap.mime.sort.size",
     Rule("s2c", rb"^\* SORT (\d+) (\d+)", rb"* SORT \2 \1", count=1),
     ["SORT (SIZE): the server's order is", "the messages' order is"]),
    ("imap.mime.body.non-extensible",
     Rule("s2c", rb'(?i)"MIXED"\)\)', rb'"mixed" ("boundary" "x")))', count=1),
     ["BODY carries extension data"]),
]


@pytest.mark.parametrize("test_id,rule,words", FAULTS, ids=[f[0] for f in FAULTS])
def test_planted_fault_fails_the_right_test(lab, tmp_path, test_id, rule, words):  # noqa: F811
    with MutatingProxy(lab.imap_port, [rule]) as p:
        proc, tests = certify(lab, p.port, tmp_path, test_id)
        assert p.changed == [1], "the fault was not planted"
    t = tests[test_id]
    assert t["result"] == "fail", (t["result"], t["message"])
    for w in words:
        assert w in t["message"], (w, t["message"])
    if t["level"] == "MUST":
        assert proc.returncode == 1


def test_esearch_answer_is_read(lab, tmp_path):  # noqa: F811
    """An IMAP4rev2 server answers SEARCH with ESEARCH (RFC 9051 7.3.4): the
    same set as ESEARCH ALL passes."""
    rule = Rule("s2c", rb"^\* SEARCH 1 4\r\n", rb'* ESEARCH (TAG "P1") ALL 1,4\r\n', count=1)
    with MutatingProxy(lab.imap_port, [rule]) as p:
        _, tests = certify(lab, p.port, tmp_path, "imap.mime.search.header")
        assert p.changed == [1]
    t = tests["imap.mime.search.header"]
    assert t["result"] == "pass", t["message"]


def test_docs_list_every_oracle_test(mailspec):
    out = subprocess.run([mailspec, "certify", "--protocol", "imap", "--list"],
                         capture_output=True, text=True, timeout=30).stdout
    with open(os.path.join(ROOT, "docs", "suites.md"), encoding="utf-8") as f:
        doc = f.read()
    for line in out.splitlines():
        if line.startswith("imap.mime."):
            tid, level, r1, r2 = line.split()[:4]
            assert "| `%s` | %s | %s %s |" % (tid, level, r1, r2) in doc, tid
