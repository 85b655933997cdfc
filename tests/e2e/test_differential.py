"""Differential test: generated command lines (valid and mutated, see
differential/gen.py) go to real servers and through `mailspec parse`; the
two verdicts are compared, and every reply the servers sent goes through
the strict reply parsers.  Every disagreement and every rejected reply must
be listed in differential/triage.txt with the RFC rule and a judgment;
an unlisted one fails the test.  Entries that no longer occur are reported
as a warning.  docs/differential.md explains how to read and extend it.

Servers: the lab (Dovecot IMAP/POP3, Postfix SMTP) and the matrix (Cyrus
IMAP/POP3, Exim SMTP); MAILSPEC_DIFF_MATRIX=0 leaves the matrix out.
"""

import base64
import collections
import os
import sys
import time
import warnings
from dataclasses import dataclass

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "differential"))

import driver  # noqa: E402
import gen  # noqa: E402
from conftest import MAILSPEC  # noqa: E402
from matrix import matrix_fixture  # noqa: E402

TRIAGE = os.path.join(HERE, "differential", "triage.txt")
REPORT_DIR = os.environ.get("MAILSPEC_DIFF_REPORT",
                            os.path.join(HERE, "..", "..", "build", "differential"))

cyrus = matrix_fixture("cyrus")
exim = matrix_fixture("exim")


@dataclass
class Target:
    name: str       # server name, first part of a triage key
    host: str
    port: int
    user: str
    password: str
    rcpt: str = ""
    mbox: str = gen.MBOX
    wait: float = driver.WAIT


def _target(request, server, proto):
    if server in ("dovecot", "postfix"):
        src = request.getfixturevalue("lab")
        rcpt = src.address
    else:
        src = request.getfixturevalue(server)
        rcpt = "%s@%s" % (src.user, src.env.get("MAILSPEC_MATRIX_EXIM_DOMAIN", "localhost")) \
            if server == "exim" else ""
    # Cyrus keeps every folder under "INBOX." (no altnamespace)
    mbox = "INBOX." + gen.MBOX if server == "cyrus" else gen.MBOX
    # Cyrus pauses 3 s after a failed login (failedloginpause): wait longer
    wait = 5.0 if server == "cyrus" else driver.WAIT
    return Target(server, src.host, getattr(src, proto + "_port"), src.user, src.password,
                  rcpt, mbox, wait)


RUNS = [("dovecot", "imap"), ("dovecot", "pop3"), ("postfix", "smtp")]
MATRIX_RUNS = [("cyrus", "imap"), ("cyrus", "pop3"), ("exim", "smtp")]


def _params():
    out = [pytest.param(s, p, id="%s-%s" % (s, p)) for s, p in RUNS]
    for s, p in MATRIX_RUNS:
        out.append(pytest.param(s, p, id="%s-%s" % (s, p), marks=pytest.mark.skipif(
            os.environ.get("MAILSPEC_DIFF_MATRIX", "1") in ("0", "no"),
            reason="matrix servers left out with MAILSPEC_DIFF_MATRIX=0")))
    return out


def _run_cases(tgt, proto, cases, damage):
    caps = {"imap": driver.imap_capabilities, "pop3": driver.pop3_capabilities,
            "smtp": driver.smtp_capabilities}[proto](tgt)
    sent, skipped, outcomes, prev = [], [], {}, None
    if proto == "imap":
        driver.imap_setup(tgt, tgt.mbox, [gen.MESSAGE] * 3)
    try:
        for c in cases:
            if c.requires and c.requires.upper() not in caps:
                skipped.append(c)
                continue
            sent.append(c)
            if proto == "imap":
                try:
                    outcomes[c.id] = driver.imap_run(tgt, c, tgt.mbox)
                except driver.MailboxGone as e:
                    # the case before deleted or renamed the scratch mailbox
                    damage.append("%s (before %s): %s" % (prev, c.id, e))
                    driver.imap_setup(tgt, tgt.mbox, [gen.MESSAGE] * 3)
                    outcomes[c.id] = driver.imap_run(tgt, c, tgt.mbox)
                prev = c.id
            elif proto == "pop3":
                outcomes[c.id] = driver.pop3_run(tgt, c)
            else:
                outcomes[c.id] = driver.smtp_run(tgt, c, tgt.rcpt)
    finally:
        if proto == "imap":
            driver.imap_cleanup(tgt, tgt.mbox)
    return sent, skipped, outcomes


@pytest.mark.parametrize("server,proto", _params())
def test_differential(request, server, proto):
    t0 = time.monotonic()
    tgt = _target(request, server, proto)
    cases = gen.generate(proto, tgt.user, tgt.password, tgt.mbox)
    damage = []
    sent, skipped, outcomes = _run_cases(tgt, proto, cases, damage)
    ms = driver.mailspec_verdicts(MAILSPEC, proto, sent,
                                  lambda c: driver.preamble(proto, c.state, tgt, tgt.mbox))
    replies = driver.reply_errors(MAILSPEC, proto, outcomes)
    entries = driver.load_triage(TRIAGE)

    counts = collections.Counter()
    unlisted, listed, report = [], collections.Counter(), []
    # secrets by what they are, never printed: the password and its SASL forms
    secrets = [(tgt.password.encode(), b"${password}"),
               (base64.b64encode(b"\0%s\0%s" % (tgt.user.encode(), tgt.password.encode())),
                b"${sasl_plain}"),
               (base64.b64encode(tgt.password.encode()), b"${sasl_password}")]

    def shown(data):
        for value, name in secrets:
            data = data.replace(value, name)
        return driver.show(data)

    for c in sent:
        o = outcomes[c.id]
        mv, err = ms[c.id]
        pair = (mv, o.verdict)
        key = "%s/%s/%s" % (server, proto, c.id)
        if pair in driver.AGREE:
            counts["agree"] += 1
            continue
        if pair in driver.UNJUDGED:
            counts["unjudged"] += 1
            continue
        observed = "verdict:%s/%s" % pair
        e = driver.match(entries, key, observed)
        why = "%s: %s" % (err["rule"], err["reason"]) if err else ""
        line = "%s | %s | mailspec: %s | server: %s | sent: %s" % (
            key, observed, why or mv, shown(o.answer), shown(c.data))
        report.append(line)
        if e is None:
            counts["unlisted"] += 1
            unlisted.append("%s\n    suggested: %s | %s | <judgment> | <RFC rule> | <reason>"
                            % (line, key, observed))
        else:
            counts[e.judgment] += 1
            listed[(e.judgment, e.key, e.observed)] += 1

    reply_unlisted = []
    for cid, errs in sorted(replies.items()):
        key = "%s/%s/%s" % (server, proto, cid)
        sbytes = b"".join(d for who, d in outcomes[cid].events if who != "C")

        def near(err):
            # the server's bytes around the error (offsets count its direction)
            off = err["offset"]
            return shown(sbytes[max(0, off - 40):off + 40])
        if proto == "pop3" and (ms[cid][0], outcomes[cid].verdict) in (
                (driver.MS_INVALID, driver.SV_ACCEPT), (driver.MS_INVALID, driver.SV_REFUSED)):
            # mailspec rejected a command the server took: the reply parser
            # frames what follows without it (a multi-line answer is read as
            # status lines, docs/pop3.md "Framing"), so these errors say
            # nothing new.
            counts["reply-unframed"] += len(errs)
            report += ["%s | reply-unframed:%s | %s (offset %s)"
                       % (key, e["rule"], e["reason"], e["offset"]) for e in errs]
            continue
        for err in errs:
            observed = "reply:%s" % err["rule"]
            e = driver.match(entries, key, observed)
            line = "%s | %s | %s (offset %s) | server sent: ...%s..." % (
                key, observed, err["reason"], err["offset"], near(err))
            report.append(line)
            counts["reply-errors"] += 1
            if e is None:
                reply_unlisted.append("%s\n    suggested: %s | %s | <judgment> | <RFC rule> | <reason>"
                                      % (line, key, observed))
            else:
                counts["reply-" + e.judgment] += 1
                listed[(e.judgment, e.key, e.observed)] += 1

    prefix = "%s/%s/" % (server, proto)
    stale = [e for e in entries if not e.used and e.key.startswith(prefix)]
    summary = ("%s %s: %d cases generated, %d sent, %d skipped (capability not announced); "
               "%d agree, %d unjudged, disagreements: %s; replies rejected: %d (%s) "
               "(+%d after a command disagreement); %.1fs"
               % (server, proto, len(cases), len(sent), len(skipped), counts["agree"],
                  counts["unjudged"],
                  ", ".join("%s %d" % (j, counts[j]) for j in driver.JUDGMENTS + ("unlisted",)),
                  counts["reply-errors"],
                  ", ".join("%s %d" % (j, counts["reply-" + j]) for j in driver.JUDGMENTS),
                  counts["reply-unframed"], time.monotonic() - t0))
    os.makedirs(REPORT_DIR, exist_ok=True)
    with open(os.path.join(REPORT_DIR, "%s-%s.txt" % (server, proto)), "w", encoding="utf-8") as f:
        f.write(summary + "\n\n" + "\n".join(report) + "\n")
        for d in damage:
            f.write("scratch mailbox lost: %s\n" % d)
    print("\n" + summary)
    for d in damage:
        print("scratch mailbox lost: %s" % d)
    for e in stale:
        warnings.warn("differential: triage.txt:%d %s | %s no longer occurs (stale)"
                      % (e.lineno, e.key, e.observed))
    assert len(sent) > 0.5 * len(cases), summary
    assert not unlisted and not reply_unlisted, (
        "%s\n%d disagreement(s) and %d rejected reply(ies) not in %s:\n%s"
        % (summary, len(unlisted), len(reply_unlisted), TRIAGE,
           "\n".join(unlisted + reply_unlisted)))


# ------------------------------------------- the machinery itself (no server) --

def test_generator_is_deterministic_and_stable():
    a = gen.generate("imap", "u", "p")
    assert [(c.id, c.data) for c in a] == [(c.id, c.data) for c in gen.generate("imap", "u", "p")]
    # a case's mutations depend on its own id only: dropping other cases
    # changes nothing for the ones left
    valid = [c for c in a if c.valid is True]
    full = {c.id: c.data for c in gen.mutate(valid, per_case=3)}
    part = {c.id: c.data for c in gen.mutate(valid[::2], per_case=3)}
    assert part and all(full[k] == v for k, v in part.items())
    total = sum(len(gen.generate(p)) for p in ("imap", "pop3", "smtp"))
    assert 500 <= total <= 1500, total


def test_imap_server_verdict():
    v = driver.imap_verdict
    assert v([b"a OK done", b"* BYE Logging out", b"zz OK bye"])[0] == driver.SV_ACCEPT
    assert v([b"a NO [TRYCREATE] no", b"zz OK bye"])[0] == driver.SV_ACCEPT
    assert v([b"a BAD syntax", b"zz OK bye"])[0] == driver.SV_REJECT
    assert v([b"* BAD Error in IMAP tag", b"zz OK bye"])[0] == driver.SV_REJECT
    assert v([b"* BYE Fatal error: num too big"])[0] == driver.SV_CLOSED
    # the case's own LOGOUT: BYE then its tagged OK
    assert v([b"* BYE LOGOUT received", b"a OK Completed"])[0] == driver.SV_ACCEPT
    assert v([b"+ OK", b""])[0] == driver.SV_INCOMPLETE


def test_triage_file_is_well_formed():
    entries = driver.load_triage(TRIAGE)
    seen = set()
    for e in entries:
        assert (e.key, e.observed) not in seen, "duplicate entry line %d" % e.lineno
        seen.add((e.key, e.observed))
        assert e.observed.startswith(("verdict:", "reply:")), e.lineno
        assert e.rule and e.reason, e.lineno


def test_batched_verdicts_equal_verdicts_alone():
    """One `mailspec parse` for all cases must give each case the verdict it
    gets alone (preamble included)."""
    @dataclass
    class Peer:
        user: str = "alice"
        password: str = "alice-secret"
        rcpt: str = "alice@localhost"

    peer = Peer()
    for proto in ("imap", "pop3", "smtp"):
        cases = gen.generate(proto, peer.user, peer.password)

        def pre(c):
            return driver.preamble(proto, c.state, peer, gen.MBOX)

        batch = driver.mailspec_verdicts(MAILSPEC, proto, cases, pre)
        for c in [c for i, c in enumerate(cases) if i % 7 == 0 or driver.STATEFUL.search(c.id)]:
            msgs = driver.mailspec_json(MAILSPEC, proto, "commands", pre(c) + c.data)
            alone = driver._ms_verdict([m for m in msgs if m["offset"] >= len(pre(c))])
            assert batch[c.id][0] == alone[0], (proto, c.id, batch[c.id], alone)
