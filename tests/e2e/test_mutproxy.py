"""The mutating proxy (mutproxy.py) plants exactly the fault it is told to, and
a certify run through an empty proxy gives the same verdicts as without it."""

import imaplib

from lab import lab  # noqa: F401
from mutproxy import MutatingProxy, Rule


def test_proxy_passes_through_and_rewrites(lab):  # noqa: F811
    rules = [Rule("s2c", rb"^(\* \d+) EXISTS", rb"\1 EXISTZ", count=1)]
    with MutatingProxy(lab.imap_port, rules) as p:
        m = imaplib.IMAP4("127.0.0.1", p.port, timeout=10)
        m.login(lab.user, lab.password)
        typ, data = m.select("INBOX")
        assert typ == "OK"
        # the EXISTS was rewritten: imaplib saw EXISTZ, no EXISTS
        assert data == [None]
        assert "EXISTZ" in m.untagged_responses
        m.logout()
        assert p.changed == [1]


def test_drop_rule_counts(lab):  # noqa: F811
    rules = [Rule("s2c", rb"^\* CAPABILITY ", lambda line: line),  # counts, changes nothing
             Rule("s2c", rb"^\* CAPABILITY ", None, connection=2)]
    with MutatingProxy(lab.imap_port, rules) as p:
        for _ in range(2):
            m = imaplib.IMAP4("127.0.0.1", p.port, timeout=10)
            m.capability()
            m.logout()
        seen, dropped = p.changed
        assert seen >= 2 and dropped * 2 == seen
