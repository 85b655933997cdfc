"""`mailspec certify` against the server matrix (scripts/matrix): Cyrus IMAP
and POP3, Exim SMTP and the TLS-only Dovecot's IMAP and POP3, over every
transport each offers, with --user/--password and --cafile.

Each server+protocol has a reviewed expectation file
``tests/e2e/expect/<server>-<proto>.txt``: the tests that server FAILS, each
with the transports it fails on, the RFC sentence that makes it a real
deviation and one line of evidence. A run fails on

- a "fail" that is not listed for that transport (a new deviation, or a false
  failure of the suite or the engine: review it, never list it blindly),
- a listed test that does not fail on a transport it is listed for,
- any "error" (the harness's own failure),
- an exit status other than the one docs/certify.md's verdict rule gives,
- a run that judged (almost) nothing, or a report that shows the password.

The entries of a case are also handed to certify as ``--expect-fail`` (so the
exit status is 0 or 6 when the list is right), which checks the allow-list
against real servers too.

The whole matrix takes well under a minute of certify runs (POP3 with
--jobs 1: servers may lock the maildrop per session, RFC 1939 8).
"""

import base64
import json
import os
import re
import subprocess

import pytest

from matrix import matrix_fixture

cyrus = matrix_fixture("cyrus")
exim = matrix_fixture("exim")
dovecot_tlsonly = matrix_fixture("dovecot-tlsonly")

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECT_DIR = os.path.join(HERE, "expect")
TIMEOUT = 5  # certify --timeout: seconds per expectation

# (server, protocol, case, port attribute of MatrixServer, --tls, --jobs, at
# least this many passes). A case is "<port>/<tls>": Exim has two ports with
# a plain start (smtp: STARTTLS, no AUTH; submission: AUTH only after
# STARTTLS). The pass minimums are about 3/4 of what the servers pass today:
# they catch a run that silently stopped judging (everything blocked or
# skipped), not a single test that changed.
CASES = [
    ("cyrus", "imap", "imap/none", "imap", "none", 4, 33),
    ("cyrus", "imap", "imap/starttls", "imap", "starttls", 4, 37),
    ("cyrus", "imap", "imaps/implicit", "imaps", "implicit", 4, 35),
    ("cyrus", "pop3", "pop3/none", "pop3", "none", 1, 19),
    ("cyrus", "pop3", "pop3/starttls", "pop3", "starttls", 1, 22),
    ("cyrus", "pop3", "pop3s/implicit", "pop3s", "implicit", 1, 20),
    ("exim", "smtp", "smtp/none", "smtp", "none", 4, 22),
    ("exim", "smtp", "smtp/starttls", "smtp", "starttls", 4, 24),
    ("exim", "smtp", "submission/none", "submission", "none", 4, 9),
    ("exim", "smtp", "submission/starttls", "submission", "starttls", 4, 28),
    ("exim", "smtp", "smtps/implicit", "smtps", "implicit", 4, 25),
    ("dovecot-tlsonly", "imap", "imap/none", "imap", "none", 4, 6),
    ("dovecot-tlsonly", "imap", "imap/starttls", "imap", "starttls", 4, 39),
    ("dovecot-tlsonly", "imap", "imaps/implicit", "imaps", "implicit", 4, 36),
    ("dovecot-tlsonly", "pop3", "pop3/none", "pop3", "none", 1, 5),
    ("dovecot-tlsonly", "pop3", "pop3/starttls", "pop3", "starttls", 1, 22),
    ("dovecot-tlsonly", "pop3", "pop3s/implicit", "pop3s", "implicit", 1, 20),
]

# Known engine problems that keep a case from running as it should. strict:
# the day the engine is fixed the case XPASSes, which fails the run, so this
# marker gets removed.
KNOWN_ENGINE_BUGS = {}

RESULTS = ("pass", "fail", "blocked", "not-supported", "not-applicable", "error")
FIELDS = ("transports", "rfc", "quote", "evidence")
ID_RE = re.compile(r"^[A-Za-z0-9._-]+$")


def case_id(case):
    return "%s-%s-%s" % (case[0], case[1], case[2].replace("/", "-"))


def params():
    out = []
    for case in CASES:
        bug = KNOWN_ENGINE_BUGS.get(case[:3])
        marks = [pytest.mark.xfail(reason=bug, strict=True)] if bug else []
        out.append(pytest.param(*case, id=case_id(case), marks=marks))
    return out


# ------------------------------------------------------- expectation files --

def load_expectations(server, proto):
    """Parse expect/<server>-<proto>.txt: {test id: {field: value}}."""
    path = os.path.join(EXPECT_DIR, "%s-%s.txt" % (server, proto))
    entries = {}
    current = None
    with open(path, encoding="utf-8") as f:
        for no, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            where = "%s:%d" % (path, no)
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if not line[0].isspace():
                tid = line.strip()
                assert ID_RE.match(tid), "%s: a test id alone on its line: %r" % (where, line)
                assert tid not in entries, "%s: %s listed twice" % (where, tid)
                current = entries[tid] = {"line": where}
                continue
            assert current is not None, "%s: a field before any test id" % where
            name, sep, value = line.strip().partition(":")
            assert sep and name in FIELDS, "%s: expected one of %s" % (where, ", ".join(FIELDS))
            assert name not in current, "%s: %s given twice" % (where, name)
            current[name] = value.strip()
    for tid, e in entries.items():
        missing = [n for n in FIELDS if not e.get(n)]
        assert not missing, "%s (%s): missing %s" % (e["line"], tid, ", ".join(missing))
        e["transports"] = e["transports"].split()
        q = e["quote"]
        assert len(q) > 2 and q[0] == '"' and q[-1] == '"', \
            "%s (%s): the quote is written in double quotes" % (e["line"], tid)
        e["quote"] = q[1:-1]
        assert re.search(r"\b(MUST|SHALL|REQUIRED|SHOULD|RECOMMENDED|MAY|OPTIONAL)\b",
                         e["quote"]), "%s (%s): the quote has no BCP 14 keyword" % (e["line"], tid)
    return entries


@pytest.mark.parametrize("server,proto", sorted({(c[0], c[1]) for c in CASES}))
def test_expectation_file_is_well_formed(server, proto):
    """Every entry has its fields, and names only cases that exist."""
    known = {c[2] for c in CASES if c[0] == server and c[1] == proto}
    for tid, e in load_expectations(server, proto).items():
        assert tid.startswith(proto + "."), "%s: %s is not a %s test" % (e["line"], tid, proto)
        bad = [t for t in e["transports"] if t not in known]
        assert not bad, "%s (%s): unknown case(s) %s; known: %s" % (
            e["line"], tid, bad, " ".join(sorted(known)))


# ----------------------------------------------------------------- helpers --

def secret_forms(user, password):
    """The password and the encodings of it a report could leak."""
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    return [password, b64(password), b64("\0%s\0%s" % (user, password)),
            b64("%s\0%s\0%s" % (user, user, password))]


def expected_exit(tests):
    """docs/certify.md, Verdict: 1 iff a MUST test failed (allow-listed ones
    excepted); else 6 if no test of any level ran (pass or fail), a MUST test
    was blocked, or fewer than half of the MUST tests that apply (all but
    not-supported) ran; else 0."""
    must = [t for t in tests if t["level"] == "MUST"]
    if any(t["result"] == "fail" and not t.get("expected_failure") for t in must):
        return 1
    ran_any = any(t["result"] in ("pass", "fail") for t in tests)
    applies = [t for t in must if t["result"] != "not-supported"]
    ran = [t for t in must if t["result"] in ("pass", "fail")]
    if not ran_any or any(t["result"] == "blocked" for t in must) or 2 * len(ran) < len(applies):
        return 6
    return 0


def sends_credentials(path):
    """Whether a suite test sends the password in some form (it logs in)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return False  # the certify TLS probes have no file
    return bool(re.search(r"^C:.*\$\{(password|sasl_[a-z_]+|apop_digest)\}", text, re.M)
                or re.search(r"^@login\b", text, re.M))


def short(t):
    return "%s [%s] %s: %s" % (t["id"], t["level"], t["result"],
                               " / ".join(t.get("message", "").splitlines()[:3]))


# -------------------------------------------------------------------- test --

@pytest.mark.parametrize("server,proto,case,port_attr,tls,jobs,min_pass", params())
def test_certify_matrix(request, mailspec, tmp_path, server, proto, case, port_attr, tls,
                        jobs, min_pass):
    srv = request.getfixturevalue(server.replace("-", "_"))
    port = srv.port(port_attr)
    assert port, "%s offers no %s port" % (server, port_attr)

    expect = load_expectations(server, proto)
    listed = {tid: e for tid, e in expect.items() if case in e["transports"]}
    allow = tmp_path / "expect-fail.txt"
    allow.write_text("".join("%s  reviewed deviation (%s): %s\n" % (tid, e["rfc"], e["evidence"])
                             for tid, e in sorted(listed.items())), encoding="utf-8")

    args = [mailspec, "certify", "--protocol", proto, "--host", srv.host, "--port", str(port),
            "--tls", tls, "--cafile", srv.cafile, "--user", srv.user,
            "--password", srv.password, "--timeout", str(TIMEOUT), "--jobs", str(jobs),
            "--expect-fail", str(allow), "--json", "-", "-q"]
    proc = subprocess.run(args, capture_output=True, timeout=300, check=False)
    out = proc.stdout.decode("utf-8")
    err = proc.stderr.decode("utf-8", "replace")
    ctx = "certify %s %s over %s (port %d), exit %d\nstderr:\n%s\n%s" % (
        server, proto, case, port, proc.returncode, err[-3000:], srv.log_tail(20))
    assert out.strip(), "no JSON report\n" + ctx
    report = json.loads(out)
    tests = report["tests"]
    counts = {r: sum(1 for t in tests if t["result"] == r) for r in RESULTS}
    print("\n%s: %s exit %d (%d ms)" % (case_id((server, proto, case)),
                                        " ".join("%s=%d" % kv for kv in counts.items()),
                                        proc.returncode, report.get("duration_ms", -1)))

    # The password shows nowhere, in no encoding (docs/certify.md).
    for form in secret_forms(srv.user, srv.password):
        assert form not in out, "the JSON report shows the password (%r)\n%s" % (form, ctx)
        assert form not in err, "the terminal output shows the password (%r)\n%s" % (form, ctx)

    # Every result is one of the documented ones; none is the harness's error.
    assert set(t["result"] for t in tests) <= set(RESULTS), ctx
    errors = [short(t) for t in tests if t["result"] == "error"]
    assert not errors, "harness errors:\n  %s\n%s" % ("\n  ".join(errors), ctx)
    assert report["summary"]["error"] == 0, ctx

    # The run judged something: a real certification, not an empty one.
    assert len(tests) == report["summary"]["total"] == report["summary"]["planned"], ctx
    assert counts["pass"] >= min_pass, "only %d tests passed (at least %d expected)\n%s" % (
        counts["pass"], min_pass, ctx)
    assert report["summary"]["must_ran"] > 0, ctx

    # The failures are exactly the reviewed ones for this case.
    failed = {t["id"]: t for t in tests if t["result"] == "fail"}
    unlisted = [short(failed[i]) for i in sorted(failed) if i not in listed]
    assert not unlisted, (
        "failures not in tests/e2e/expect/%s-%s.txt for %s: review each against its RFC "
        "sentence (a real deviation: list it; a legal behaviour: fix the suite or the "
        "engine)\n  %s\n%s" % (server, proto, case, "\n  ".join(unlisted), ctx))
    by_id = {t["id"]: t for t in tests}
    stale = ["%s (%s)" % (i, by_id[i]["result"] if i in by_id else "not run")
             for i in sorted(listed) if i not in failed]
    assert not stale, ("listed in tests/e2e/expect/%s-%s.txt for %s but did not fail: "
                       "prune the entry\n  %s\n%s" % (server, proto, case,
                                                      "\n  ".join(stale), ctx))
    for tid, e in listed.items():
        t = failed[tid]
        assert t.get("expected_failure"), "%s: --expect-fail did not apply\n%s" % (tid, ctx)
        assert " ".join(t["quote"].split()) == " ".join(e["quote"].split()), (
            "%s: the quote in %s is not the test's @quote:\n  listed: %s\n  test:   %s"
            % (tid, e["line"], e["quote"], t["quote"]))
    assert report["summary"]["xpass"] == 0, ctx

    # The exit status follows the documented verdict rule.
    want = expected_exit(tests)
    assert proc.returncode == want == report["exit"], (
        "exit %d, JSON exit %s, the verdict rule gives %d (%s)\n%s"
        % (proc.returncode, report["exit"], want, report.get("verdict"), ctx))

    # A server that refuses cleartext login, on its plain port.
    if server == "dovecot-tlsonly" and tls == "none":
        login = report["login"]
        assert login["cleartext_refused"] is True, "login: %r\n%s" % (login, ctx)
        # "file" is relative to the suite directory (docs/certify.md "JSON report")
        suite = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                             "conformance", "suites", proto)
        logs_in = [t for t in tests if t.get("file")
                   and sends_credentials(os.path.join(suite, t["file"]))]
        assert len(logs_in) >= 10, "the suite has hardly any test that logs in?\n" + ctx
        wrong = []
        for t in logs_in:
            if t["result"] == "not-applicable":
                continue
            # A test that stops at an earlier @requires of the mechanism it
            # would use (AUTH=PLAIN, SASL=PLAIN: not offered before TLS) is
            # not-supported before it gets to the credentials: accepted, the
            # password is not sent either way.
            if (t["result"] == "not-supported"
                    and re.search(r"does not announce (AUTH|SASL)=", t.get("message", ""))):
                continue
            wrong.append(short(t))
        assert not wrong, ("tests that log in must be not-applicable when the server "
                           "refuses cleartext login:\n  %s\n%s" % ("\n  ".join(wrong), ctx))
        assert proc.returncode == 6, "expected 6 (incomplete), got %d\n%s" % (
            proc.returncode, ctx)
