"""The multi-session IMAP tests (conformance/suites/imap/multi-*.session) fail
for the right reason: each runs through the mutating proxy (mutproxy.py) in
front of the lab Dovecot with exactly one fault planted - a lost EXISTS, a
stale flag, an EXPUNGE in the middle of a FETCH, another UIDVALIDITY - and must
then fail with the message that names that fault; through the same proxy
with no fault planted, every one of them passes.

Connections are numbered in the order mailspec opens them: 1 is a script's
first connection ("main"), 2 its "b", 3 its "c"; an @either branch that runs
again opens the next numbers (the rules of the IDLE tests name both runs).
"""

import json
import os
import re
import subprocess

import pytest

from conftest import MAILSPEC, ROOT
from lab import lab  # noqa: F401
from mutproxy import MutatingProxy, Rule

SUITE = os.path.join(ROOT, "conformance", "suites", "imap")

# a rule that raises in the proxy's thread would cut the connection: a
# failure for the wrong reason, so it fails the test instead
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


def run(lab, port, tmp_path, name):  # noqa: F811
    """Replay one multi test against 127.0.0.1:port; its result object."""
    out = tmp_path / ("%s.json" % name)
    p = subprocess.run(
        [MAILSPEC, "replay", "--protocol", "imap", "--host", "127.0.0.1", "--port", str(port),
         "--user", lab.user, "--password", lab.password, "--timeout", "5", "--json", str(out),
         os.path.join(SUITE, "multi-%s.session" % name)],
        capture_output=True, timeout=120)
    assert out.exists(), p.stderr.decode("utf-8", "replace")
    tests = json.loads(out.read_text())["tests"]
    assert len(tests) == 1
    return tests[0]


def prepend(extra):
    """A rule replacement that puts the line(s) extra before the matched line."""
    return lambda line: extra + line


def stale_uidnext():
    """Give the second STATUS UIDNEXT of a connection the value of the first."""
    seen = {}

    def rewrite(line):
        m = re.search(rb"\(UIDNEXT (\d+)\)", line)
        if "first" not in seen:
            seen["first"] = m.group(1)
            return line
        return line[:m.start(1)] + seen["first"] + line[m.end(1):]
    return rewrite


# name -> (rules, what the failure message must contain)
FAULTS = {
    "append-exists-noop": ([Rule("s2c", rb"^\* 1 EXISTS", None, connection=1)],
                           "expected: S: * 1 EXISTS"),
    "append-exists-examine": ([Rule("s2c", rb"^\* 1 EXISTS", None, connection=1)],
                              "expected: S: * 1 EXISTS"),
    "append-two-exists": ([Rule("s2c", rb"^\* 2 EXISTS", b"* 1 EXISTS", connection=1)],
                          "expected: S: * 2 EXISTS"),
    "copy-exists": ([Rule("s2c", rb"^\* 1 EXISTS", None, connection=1)],
                    "expected: S: * 1 EXISTS"),
    "move-exists": ([Rule("s2c", rb"^\* 1 EXISTS", None, connection=1)],
                    "expected: S: * 1 EXISTS"),
    "move-expunge": ([Rule("s2c", rb"^\* 1 EXPUNGE", None, connection=1)],
                     "expected: S: * 1 EXPUNGE"),
    # both runs of the @either: main is connection 1, then 3
    "idle-exists": ([Rule("s2c", rb"^\* 1 EXISTS", None, connection=1),
                     Rule("s2c", rb"^\* 1 EXISTS", None, connection=3)],
                    "expected: S: * 1 EXISTS"),
    "idle-expunge": ([Rule("s2c", rb"^\* 1 EXPUNGE", None, connection=1),
                      Rule("s2c", rb"^\* 1 EXPUNGE", None, connection=3)],
                     "expected: S: * 1 EXPUNGE"),
    "idle-flags": ([Rule("s2c", rb"^\* 1 FETCH .*\\Flagged", None, connection=1),
                    Rule("s2c", rb"^\* 1 FETCH .*\\Flagged", None, connection=3)],
                   "expected: S: * 1 FETCH (${*}\\\\Flagged${*})"),
    "expunge-noop": ([Rule("s2c", rb"^\* 1 EXPUNGE", None, connection=1)],
                     "expected: S: * 1 EXPUNGE"),
    # an EXPUNGE in the middle of the answer to FETCH, STORE, SEARCH
    "expunge-not-during-fetch": ([Rule("s2c", rb"^\* 2 FETCH", prepend(b"* 1 EXPUNGE\r\n"),
                                       count=1, connection=1)],
                                 "got:      S: * 1 EXPUNGE"),
    "expunge-not-during-store": ([Rule("s2c", rb"^\* 2 FETCH \(.*\\Seen",
                                       prepend(b"* 1 EXPUNGE\r\n"), count=1, connection=1)],
                                 "got:      S: * 1 EXPUNGE"),
    "expunge-not-during-search": ([Rule("s2c", rb"^\* SEARCH", prepend(b"* 1 EXPUNGE\r\n"),
                                        count=1, connection=1)],
                                  "got:      S: * 1 EXPUNGE"),
    "expunge-renumber": ([Rule("s2c", rb"^\* 2 FETCH \(UID \d+\)", b"* 2 FETCH (UID 999999)",
                               connection=1)],
                         "expected: S: * 2 FETCH (UID ${uid3})"),
    "flags-flagged-noop": ([Rule("s2c", rb"^\* 1 FETCH .*\\Flagged", None, connection=1)],
                           "expected: S: * 1 FETCH (${*}\\\\Flagged${*})"),
    "flags-seen-noop": ([Rule("s2c", rb"^\* 1 FETCH .*\\Seen", None, connection=1)],
                        "expected: S: * 1 FETCH (${*}\\\\Seen${*})"),
    "flags-deleted-noop": ([Rule("s2c", rb"^\* 1 FETCH .*\\Deleted", None, connection=1)],
                           "expected: S: * 1 FETCH (${*}\\\\Deleted${*})"),
    "flags-keyword-noop": ([Rule("s2c", rb"^\* 1 FETCH .*mailspecKw", None, connection=1)],
                           "expected: S: * 1 FETCH (${*}mailspecKw${*})"),
    # a stale flag: the update after the removal still shows \Flagged
    "flags-removed-noop": ([Rule("s2c", rb"^(\* 1 FETCH \((?:UID \d+ )?FLAGS \()(?!.*Flagged)",
                                 rb"\1\\Flagged ", count=1, connection=1)],
                           "forbidden response"),
    "flags-fetch": ([Rule("s2c", rb"^\* 1 FETCH .*\\Answered", None, connection=1)],
                    "expected: S: * 1 FETCH (${*}\\\\Answered${*})"),
    "uidvalidity-select": ([Rule("s2c", rb"\[UIDVALIDITY \d+\]", b"[UIDVALIDITY 1]",
                                 connection=2)],
                           "expected: S: * OK [UIDVALIDITY ${uv}]"),
    "uidnext-select": ([Rule("s2c", rb"\[UIDNEXT \d+\]", b"[UIDNEXT 999999]", connection=2)],
                       "expected: S: * OK [UIDNEXT ${un}]"),
    "uidvalidity-status": ([Rule("s2c", rb"UIDVALIDITY \d+\)", b"UIDVALIDITY 1)", connection=2)],
                           "expected: S: * STATUS ${*} (UIDVALIDITY ${uv})"),
    "uidnext-status": ([Rule("s2c", rb"UIDNEXT \d+\)", b"UIDNEXT 999999)", connection=2)],
                       "expected: S: * STATUS ${*} (UIDNEXT ${un})"),
    "uidnext-after-append": ([Rule("s2c", rb"^\* STATUS .*\(UIDNEXT \d+\)", stale_uidnext(),
                                   connection=1)],
                             "forbidden response"),
    "uid-same": ([Rule("s2c", rb"^\* 1 FETCH \(UID \d+\)", b"* 1 FETCH (UID 999999)",
                       connection=1)],
                 "expected: S: * 1 FETCH (UID ${uid})"),
    "status-messages": ([Rule("s2c", rb"\(MESSAGES 2\)", b"(MESSAGES 1)", connection=1)],
                        "expected: S: * STATUS ${*} (MESSAGES 2)"),
    "select-both": ([Rule("s2c", rb"^\* 1 EXISTS", None, connection=2)],
                    "expected: S: * 1 EXISTS"),
    # both sessions claim \Recent
    "recent-one-session": ([Rule("s2c", rb"^\* 1 FETCH \(FLAGS \(\)\)\r\n",
                                 lambda line: b"* 1 FETCH (FLAGS (\\Recent))\r\n")],
                           "expected: S: * 1 FETCH (FLAGS ())"),
    # a deleted mailbox that can still be selected (and, in the second run, a
    # DELETE that claims to have worked)
    "delete-selected-elsewhere": ([Rule("s2c", rb"^S2 NO[^\r\n]*", b"S2 OK [READ-WRITE] done")],
                                  "expected: S: S2 NO${*}"),
    "create-list": ([Rule("s2c", rb"^\* LIST ", None, connection=1)],
                    "expected: S: * LIST (${*})"),
    "delete-list": ([Rule("s2c", rb"^L2 OK", prepend(b'* LIST () "/" "ghost"\r\n'),
                          connection=1)],
                    'got:      S: * LIST () "/" "ghost"'),
}


def suite_names():
    return sorted(f[len("multi-"):-len(".session")] for f in os.listdir(SUITE)
                  if f.startswith("multi-") and f.endswith(".session"))


def test_every_multi_test_has_a_fault():
    assert suite_names() == sorted(FAULTS)


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fails_for_the_right_reason(lab, tmp_path, name):  # noqa: F811
    rules, needle = FAULTS[name]
    with MutatingProxy(lab.imap_port, rules) as p:
        t = run(lab, p.port, tmp_path, name)
        changed = p.changed
    assert any(changed), "the fault was never planted: %s" % changed
    assert t["result"] == "fail", (t["result"], t["message"], t["transcript"][-3000:])
    assert needle in t["message"], (needle, t["message"])


def test_all_pass_through_an_empty_proxy(lab, tmp_path):  # noqa: F811
    out = tmp_path / "all.json"
    with MutatingProxy(lab.imap_port, [], lifetime=300) as p:
        proc = subprocess.run(
            [MAILSPEC, "replay", "--protocol", "imap", "--host", "127.0.0.1", "--port",
             str(p.port), "--user", lab.user, "--password", lab.password, "--timeout", "5",
             # one at a time: replay has no lone rerun of a blocked test, and Dovecot
             # can refuse a CREATE beside concurrent sessions (docs/certify.md)
             "--jobs", "1", "--json", str(out)]
            + [os.path.join(SUITE, "multi-%s.session" % n) for n in suite_names()],
            capture_output=True, timeout=300)
    tests = json.loads(out.read_text())["tests"]
    assert len(tests) == len(FAULTS)
    bad = [(t["id"], t["result"], t["message"]) for t in tests if t["result"] != "pass"]
    assert not bad, bad
    assert proc.returncode == 0


def test_serial_runs_alone(lab, tmp_path):  # noqa: F811
    """certify --jobs 4 (the default) runs the other tests first, then an
    @serial test alone: the serial test is short and the others long, so in
    parallel it would finish first; run alone it finishes last."""
    suite = tmp_path / "suite"
    suite.mkdir()
    body = ("@protocol imap\n@level info\n@quote -\nS: * OK ${*}\n@sleep %d\n"
            "C: Z1 LOGOUT\nS: * BYE ${*}\nS: Z1 OK${*}\n")
    for name in ("a", "b", "c"):
        (suite / ("%s.session" % name)).write_text("@test t.%s\n" % name + body % 700)
    (suite / "s.session").write_text("@test t.serial\n@serial\n" + body % 50)
    p = subprocess.run(
        [MAILSPEC, "certify", "--protocol", "imap", "--host", "127.0.0.1", "--port",
         str(lab.imap_port), "--tls", "none", "--suite", str(suite), "--timeout", "5"],
        capture_output=True, timeout=120)
    out = p.stdout.decode()
    done = [line.split()[2] for line in out.splitlines() if re.match(r"^\[\d/4\] PASS", line)]
    assert len(done) == 4, out
    assert done[-1] == "t.serial", out
    assert sorted(done[:3]) == ["t.a", "t.b", "t.c"], out
    # and with --jobs 1 it is simply in suite order
    p = subprocess.run(
        [MAILSPEC, "certify", "--protocol", "imap", "--host", "127.0.0.1", "--port",
         str(lab.imap_port), "--tls", "none", "--suite", str(suite), "--timeout", "5",
         "--jobs", "1"],
        capture_output=True, timeout=120)
    out = p.stdout.decode()
    done = [line.split()[2] for line in out.splitlines() if re.match(r"^\[\d/4\] PASS", line)]
    assert done == ["t.a", "t.b", "t.c", "t.serial"], out


def test_blocked_in_parallel_runs_again_alone(lab, tmp_path):  # noqa: F811
    """A test blocked while others ran beside it (a server tripping over
    concurrent sessions of one user) runs again alone after the parallel part,
    and only that run's result counts; with --jobs 1 there is no second run.
    The proxy refuses the first NOOP of t.c's setup, once."""
    suite = tmp_path / "suite"
    suite.mkdir()
    slow = ("@protocol imap\n@level info\n@quote -\nS: * OK ${*}\n@sleep 500\n"
            "C: Z1 LOGOUT\nS: * BYE ${*}\nS: Z1 OK${*}\n")
    for name in ("a", "b"):
        (suite / ("%s.session" % name)).write_text("@test t.%s\n" % name + slow)
    (suite / "c.session").write_text(
        "@test t.c\n@protocol imap\n@level info\n@quote -\n@phase setup\nS: * OK ${*}\n"
        "C: K1 NOOP\nS: K1 OK${*}\n@phase check\nC: Z1 LOGOUT\nS: * BYE ${*}\nS: Z1 OK${*}\n")

    def certify(port, jobs):
        out = tmp_path / ("r%s.json" % jobs)
        p = subprocess.run(
            [MAILSPEC, "certify", "--protocol", "imap", "--host", "127.0.0.1", "--port",
             str(port), "--tls", "none", "--suite", str(suite), "--timeout", "5",
             "--jobs", jobs, "--json", str(out)], capture_output=True, timeout=120)
        res = {t["id"]: t for t in json.loads(out.read_text())["tests"]}
        return p, res

    for jobs, expect in (("4", "pass"), ("1", "blocked")):
        rule = Rule("s2c", rb"^K1 OK", b"K1 NO planted refusal\r\n", count=1)
        with MutatingProxy(lab.imap_port, [rule]) as proxy:
            p, res = certify(proxy.port, jobs)
        assert rule.changed == 1
        assert len(res) == 3, res.keys()
        assert res["t.c"]["result"] == expect, (jobs, res["t.c"])
        # progress shows each test once
        assert p.stdout.decode().count(" t.c") == 1, p.stdout.decode()


def replay_tidy(lab, tmp_path, text, run_id):
    """Replay a script whose setup stops early (blocked) against the lab:
    its output, and the mailboxes named after run_id left behind."""
    script = tmp_path / "t.session"
    script.write_text(text)
    p = subprocess.run(
        [MAILSPEC, "replay", "--protocol", "imap", "--host", "127.0.0.1", "--port",
         str(lab.imap_port), "--user", lab.user, "--password", lab.password, "--timeout", "5",
         "--run-id", run_id, "-v", str(script)], capture_output=True, timeout=60)
    import imaplib
    m = imaplib.IMAP4("127.0.0.1", lab.imap_port, timeout=10)
    m.login(lab.user, lab.password)
    left = [x for x in m.list()[1] if run_id.encode() in x]
    m.logout()
    return p.stdout.decode() + p.stderr.decode(), left


def test_cleanup_goes_on_after_a_refused_step(lab, tmp_path):  # noqa: F811
    """After a setup that stopped early, a cleanup step the server refuses
    (CLOSE with nothing selected: "T9 BAD") does not end the tidying: the
    DELETE after it still runs, so no mailbox is left behind."""
    out, left = replay_tidy(lab, tmp_path, (
        "@test t.tidy\n@protocol imap\n@level info\n@quote -\n@phase setup\nS: * OK ${*}\n"
        "@allow * ${*}\nC: L1 LOGIN \"${user}\" \"${password}\"\nS: L1 OK${*}\n"
        "C: C1 CREATE \"mailspec-${run}-tidy\"\nS: C1 OK${*}\n"
        "C: S1 SELECT \"mailspec-${run}-tidy-missing\"\nS: S1 OK${*}\n"
        "@phase check\nC: N1 NOOP\nS: N1 OK${*}\n"
        "@phase cleanup\nC: T9 CLOSE\nS: T9 OK${*}\nC: D9 DELETE \"mailspec-${run}-tidy\"\n"
        "S: D9 OK${*}\nC: Z9 LOGOUT\nS: * BYE ${*}\nS: Z9 OK${*}\n"), "tidycheck")
    assert "BLOCK t.tidy" in out, out
    assert "D9 OK" in out, out
    assert not left, left


def test_cleanup_skips_a_connection_never_opened(lab, tmp_path):  # noqa: F811
    """A setup that stopped before its second connection opened: the
    cleanup steps of that connection are skipped, those of the first still
    run, so the mailbox it created is deleted (multi-flags-fetch left one
    behind in a CI run: the tidying stopped at "@connection b")."""
    out, left = replay_tidy(lab, tmp_path, (
        "@test t.tidy2\n@protocol imap\n@level info\n@quote -\n@phase setup\nS: * OK ${*}\n"
        "@allow * ${*}\nC: L1 LOGIN \"${user}\" \"${password}\"\nS: L1 OK${*}\n"
        "C: C1 CREATE \"mailspec-${run}-tidy2\"\nS: C1 OK${*}\n"
        "C: S1 SELECT \"mailspec-${run}-tidy2-missing\"\nS: S1 OK${*}\n"
        "@connection b\nS: * OK ${*}\nC: L1 LOGIN \"${user}\" \"${password}\"\nS: L1 OK${*}\n"
        "@connection main\n@phase check\nC: N1 NOOP\nS: N1 OK${*}\n"
        "@phase cleanup\n@connection b\nC: Z8 LOGOUT\nS: * BYE ${*}\nS: Z8 OK${*}\n"
        "@connection main\nC: D9 DELETE \"mailspec-${run}-tidy2\"\nS: D9 OK${*}\n"
        "C: Z9 LOGOUT\nS: * BYE ${*}\nS: Z9 OK${*}\n"), "tidycheck2")
    assert "BLOCK t.tidy2" in out, out
    assert "D9 OK" in out and "Z8 LOGOUT" not in out, out
    assert not left, left
