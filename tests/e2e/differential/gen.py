"""Generator of valid and mutated command lines for the differential test.

Deterministic: every case has a stable id, and the mutations chosen for a
valid case come from a random.Random seeded with SEED and the case's id, so
adding a case never changes the others.  Standard library only.

A case is what one connection sends after its preamble (the preamble puts
the server in the case's ``state``):

    IMAP  notauth   greeting only
          selected  LOGIN, SELECT of the scratch mailbox (MBOX)
    POP3  auth      greeting only
          trans     USER and PASS done
    SMTP  greet     greeting only
          ehlo      EHLO done
          mail      EHLO, MAIL FROM done
          rcpt      EHLO, MAIL FROM, RCPT TO done

``data`` is the bytes sent, CRLF-terminated (mutations may put bare CR, LF
or NUL inside).  ``requires`` names a capability the server must announce
(IMAP CAPABILITY, SMTP EHLO keyword, POP3 CAPA) for the case to be sent.

Run ``python3 gen.py [imap|pop3|smtp]`` to print the cases.
"""

import base64
import random
import sys
from dataclasses import dataclass

SEED = 16
MBOX = "mspdiff"            # the scratch mailbox the IMAP cases work in
NOMBOX = "mspdiff-none"     # a mailbox that never exists
CRLF = b"\r\n"

MESSAGE = (b"From: a@example.org\r\nTo: b@example.org\r\nSubject: differential\r\n"
           b"Message-ID: <d1@example.org>\r\n\r\nhello\r\n")


@dataclass
class Case:
    id: str
    proto: str
    state: str
    data: bytes
    requires: str = ""
    valid: bool = True     # generated as valid (before mutation)


# ------------------------------------------------------------ mutations --

def _lines(data):
    """The first line of data (without CRLF) and the rest (from its CRLF)."""
    i = data.find(CRLF)
    return data[:i], data[i:]


def _sp_positions(line):
    return [i for i, c in enumerate(line) if c == 0x20]


def m_trailing_sp(line, rng):
    return line + b" "


def m_double_sp(line, rng):
    sps = _sp_positions(line)
    if not sps:
        return None
    i = rng.choice(sps)
    return line[:i] + b" " + line[i:]


def m_missing_sp(line, rng):
    sps = _sp_positions(line)
    if not sps:
        return None
    i = rng.choice(sps)
    return line[:i] + line[i + 1:]


def m_tab(line, rng):
    sps = _sp_positions(line)
    if not sps:
        return None
    i = rng.choice(sps)
    return line[:i] + b"\t" + line[i + 1:]


def _insert(line, rng, byte):
    if len(line) < 2:
        return None
    i = rng.randrange(1, len(line))
    return line[:i] + byte + line[i:]


def m_8bit(line, rng):
    return _insert(line, rng, b"\xe9")


def m_utf8(line, rng):
    return _insert(line, rng, "\u00e9".encode())


def m_nul(line, rng):
    return _insert(line, rng, b"\x00")


def m_bare_cr(line, rng):
    return _insert(line, rng, b"\r")


def m_bare_lf(line, rng):
    return _insert(line, rng, b"\n")


def m_lower(line, rng):
    return line.lower()


def m_leading_sp(line, rng):
    return b" " + line


GENERIC = {
    "trailing-sp": m_trailing_sp, "double-sp": m_double_sp, "missing-sp": m_missing_sp,
    "tab": m_tab, "8bit": m_8bit, "utf8": m_utf8, "nul": m_nul, "bare-cr": m_bare_cr,
    "bare-lf": m_bare_lf, "lower": m_lower, "leading-sp": m_leading_sp,
}


def mutate(cases, per_case=2, names=None):
    """For every valid one-line case, `per_case` generic mutations chosen
    by a Random seeded with SEED and the case id; ids get `~mutation`."""
    out = []
    names = sorted(names or GENERIC)
    for c in cases:
        if c.data.count(CRLF) != 1:
            continue        # literals: mutated by the targeted cases
        rng = random.Random("%d:%s:%s" % (SEED, c.proto, c.id))
        line, rest = _lines(c.data)
        picked = rng.sample(names, min(per_case, len(names)))
        for name in sorted(picked):
            new = GENERIC[name](line, rng)
            if new is None or new == line:
                continue
            out.append(Case("%s~%s" % (c.id, name), c.proto, c.state, new + rest,
                            c.requires, valid=False))
    return out


def lit(data, plus=False, binary=False):
    """An IMAP literal announcing len(data)."""
    return b"%s{%d%s}\r\n%s" % (b"~" if binary else b"", len(data), b"+" if plus else b"", data)


# ----------------------------------------------------------------- IMAP --

IMAP_SELECTED = [
    # id, line after the tag, requires
    ("capability", "CAPABILITY", ""),
    ("noop", "NOOP", ""),
    ("check", "CHECK", ""),
    ("namespace", "NAMESPACE", "NAMESPACE"),
    ("id.nil", "ID NIL", "ID"),
    ("id.pairs", 'ID ("name" "mailspec" "version" NIL)', "ID"),
    ("id.empty", "ID ()", "ID"),
    ("enable.condstore", "ENABLE CONDSTORE", "ENABLE"),
    ("enable.two", "ENABLE CONDSTORE QRESYNC", "ENABLE"),
    ("list.all", 'LIST "" "*"', ""),
    ("list.percent", 'LIST "" %', ""),
    ("list.atom-ref", "LIST INBOX *", ""),
    ("list.subscribed", 'LIST (SUBSCRIBED) "" "*"', "LIST-EXTENDED"),
    ("list.special-use", 'LIST (SPECIAL-USE) "" "*"', "SPECIAL-USE"),
    ("list.patterns", 'LIST "" ("INBOX" "Sent")', "LIST-EXTENDED"),
    ("list.return-children", 'LIST "" "*" RETURN (CHILDREN)', "LIST-EXTENDED"),
    ("list.return-status", 'LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN))', "LIST-STATUS"),
    ("list.recursivematch", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "*"', "LIST-EXTENDED"),
    ("lsub", 'LSUB "" "*"', ""),
    ("status.basic", "STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)", ""),
    ("status.size", "STATUS INBOX (SIZE)", "STATUS=SIZE"),
    ("status.modseq", "STATUS INBOX (HIGHESTMODSEQ)", "CONDSTORE"),
    ("status.quoted", 'STATUS "INBOX" (MESSAGES)', ""),
    ("create.new", "CREATE %s-c1" % MBOX, ""),
    ("create.use", "CREATE %s-c2 (USE (\\Archive))" % MBOX, "CREATE-SPECIAL-USE"),
    ("delete.missing", "DELETE %s" % NOMBOX, ""),
    ("rename.missing", "RENAME %s %s-x" % (NOMBOX, NOMBOX), ""),
    ("subscribe", "SUBSCRIBE INBOX", ""),
    ("unsubscribe", "UNSUBSCRIBE %s" % NOMBOX, ""),
    ("select.inbox", "SELECT INBOX", ""),
    ("examine.inbox", "EXAMINE INBOX", ""),
    ("select.condstore", "SELECT INBOX (CONDSTORE)", "CONDSTORE"),
    ("select.quoted", 'EXAMINE "%s"' % MBOX, ""),
    ("fetch.flags", "FETCH 1 FLAGS", ""),
    ("fetch.list", "FETCH 1:* (FLAGS UID)", ""),
    ("fetch.all", "FETCH 1 ALL", ""),
    ("fetch.fast", "FETCH 1:2 FAST", ""),
    ("fetch.full", "FETCH 1 FULL", ""),
    ("fetch.body", "FETCH 1 BODY[]", ""),
    ("fetch.peek-header", "FETCH 1 BODY.PEEK[HEADER]", ""),
    ("fetch.header-fields", "FETCH 1 BODY.PEEK[HEADER.FIELDS (From Subject)]", ""),
    ("fetch.header-fields-not", "FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (To)]", ""),
    ("fetch.text-partial", "FETCH 1 BODY.PEEK[TEXT]<0.10>", ""),
    ("fetch.part", "FETCH 1 BODY.PEEK[1]", ""),
    ("fetch.part-mime", "FETCH 1 BODY.PEEK[1.MIME]", ""),
    ("fetch.bodystructure", "FETCH 1 (BODYSTRUCTURE ENVELOPE)", ""),
    ("fetch.body-nosection", "FETCH 1 BODY", ""),
    ("fetch.internaldate", "FETCH 1 (INTERNALDATE RFC822.SIZE)", ""),
    ("fetch.rfc822", "FETCH 1 (RFC822.HEADER RFC822.TEXT)", ""),
    ("fetch.rfc822-whole", "FETCH 1 RFC822", ""),
    ("fetch.binary", "FETCH 1 BINARY.PEEK[1]", "BINARY"),
    ("fetch.binary-size", "FETCH 1 BINARY.SIZE[1]", "BINARY"),
    ("fetch.binary-partial", "FETCH 1 BINARY.PEEK[1]<0.5>", "BINARY"),
    ("fetch.modseq", "FETCH 1 (FLAGS MODSEQ)", "CONDSTORE"),
    ("fetch.changedsince", "FETCH 1:* (FLAGS) (CHANGEDSINCE 1)", "CONDSTORE"),
    ("fetch.savedate", "FETCH 1 SAVEDATE", "SAVEDATE"),
    ("fetch.preview", "FETCH 1 PREVIEW", "PREVIEW"),
    ("fetch.preview-lazy", "FETCH 1 (PREVIEW (LAZY))", "PREVIEW"),
    ("fetch.objectid", "FETCH 1 (EMAILID THREADID)", "OBJECTID"),
    ("fetch.seqset", "FETCH 1,2:3,* (UID)", ""),
    ("fetch.star-range", "FETCH *:1 UID", ""),
    ("uid.fetch", "UID FETCH 1:* FLAGS", ""),
    ("store.add", "STORE 1 +FLAGS (\\Seen)", ""),
    ("store.silent", "STORE 1 -FLAGS.SILENT \\Flagged", ""),
    ("store.replace-empty", "STORE 2 FLAGS ()", ""),
    ("store.keyword", "STORE 2 +FLAGS ($MailspecDiff)", ""),
    ("store.unchangedsince", "STORE 1 (UNCHANGEDSINCE 1000000) +FLAGS (\\Answered)", "CONDSTORE"),
    ("uid.store", "UID STORE 1:* +FLAGS.SILENT (\\Draft)", ""),
    ("copy", "COPY 1 %s" % MBOX, ""),
    ("copy.missing", "COPY 1 %s" % NOMBOX, ""),
    ("uid.copy", "UID COPY 1 %s" % MBOX, "UIDPLUS"),
    ("move.none", "UID MOVE 999999 %s" % MBOX, "MOVE"),
    ("expunge", "EXPUNGE", ""),
    ("uid.expunge", "UID EXPUNGE 999999", "UIDPLUS"),
    ("search.all", "SEARCH ALL", ""),
    ("search.flags", "SEARCH UNSEEN ANSWERED DRAFT FLAGGED", ""),
    ("search.from", 'SEARCH FROM "example"', ""),
    ("search.charset", 'SEARCH CHARSET UTF-8 SUBJECT "diff"', ""),
    ("search.or", "SEARCH OR SEEN FLAGGED", ""),
    ("search.not", "SEARCH NOT DELETED", ""),
    ("search.group", "SEARCH (SEEN UNSEEN) ALL", ""),
    ("search.seqset", "SEARCH 1:2", ""),
    ("search.uid", "SEARCH UID 1:*", ""),
    ("search.since", "SEARCH SINCE 1-Jan-2020", ""),
    ("search.before-quoted", 'SEARCH BEFORE "01-Jan-2030"', ""),
    ("search.on", "SEARCH ON 6-Dec-2026", ""),
    ("search.sent", "SEARCH SENTSINCE 1-Feb-1994 SENTBEFORE 1-Jan-2100", ""),
    ("search.size", "SEARCH LARGER 10 SMALLER 100000", ""),
    ("search.header", "SEARCH HEADER Subject differential", ""),
    ("search.keyword", "SEARCH KEYWORD $MailspecDiff UNKEYWORD $Other", ""),
    ("search.text", 'SEARCH BODY "hello" TEXT "hello"', ""),
    ("search.rev1", "SEARCH NEW OLD RECENT", ""),
    ("search.return", "SEARCH RETURN (MIN MAX COUNT) ALL", "ESEARCH"),
    ("search.return-all", "SEARCH RETURN (ALL) 1:*", "ESEARCH"),
    ("search.return-save", "SEARCH RETURN (SAVE) ALL", "SEARCHRES"),
    ("search.modseq", "SEARCH MODSEQ 1", "CONDSTORE"),
    ("search.within", "SEARCH YOUNGER 100000 OLDER 1", "WITHIN"),
    ("search.savedbefore", "SEARCH SAVEDBEFORE 1-Jan-2100", "SAVEDATE"),
    ("search.savedatesupported", "SEARCH SAVEDATESUPPORTED", "SAVEDATE"),
    ("uid.search", "UID SEARCH ALL", ""),
    ("sort.date", "SORT (DATE) UTF-8 ALL", "SORT"),
    ("sort.reverse", "SORT (REVERSE SUBJECT ARRIVAL) US-ASCII ALL", "SORT"),
    ("sort.display", "SORT (DISPLAYFROM) UTF-8 ALL", "SORT=DISPLAY"),
    ("uid.sort", "UID SORT (SIZE) UTF-8 1:*", "SORT"),
    ("thread.references", "THREAD REFERENCES UTF-8 ALL", "THREAD=REFERENCES"),
    ("thread.orderedsubject", "THREAD ORDEREDSUBJECT US-ASCII ALL", "THREAD=ORDEREDSUBJECT"),
    ("getquotaroot", "GETQUOTAROOT INBOX", "QUOTA"),
    ("unselect", "UNSELECT", "UNSELECT"),
    ("close", "CLOSE", ""),
    ("logout", "LOGOUT", ""),
]

IMAP_NOTAUTH = [
    ("capability.notauth", "CAPABILITY", ""),
    ("noop.notauth", "NOOP", ""),
    ("login.atoms", "LOGIN {user} {password}", ""),
    ("login.quoted", 'LOGIN "{user}" "{password}"', ""),
    ("authenticate.plain-ir", "AUTHENTICATE PLAIN {plain}", "SASL-IR"),
    ("id.notauth", 'ID ("name" "mailspec")', "ID"),
    ("logout.notauth", "LOGOUT", ""),
]

# Targeted mutations: (id, state, data after "a ", requires); data is str or bytes.
IMAP_TARGETED = [
    # tags (RFC 9051 9: tag = 1*<any ASTRING-CHAR except "+">)
    ("tag.rbracket", "selected", b"a] NOOP", "", "tag"),
    ("tag.plus", "selected", b"a+ NOOP", "", "tag"),
    ("tag.star", "selected", b"* NOOP", "", "tag"),
    ("tag.percent", "selected", b"a% NOOP", "", "tag"),
    ("tag.paren", "selected", b"a( NOOP", "", "tag"),
    ("tag.brace", "selected", b"a{ NOOP", "", "tag"),
    ("tag.quote", "selected", b'a" NOOP', "", "tag"),
    ("tag.backslash", "selected", b"a\\ NOOP", "", "tag"),
    ("tag.long", "selected", b"t" * 200 + b" NOOP", "", "tag"),
    ("tag.missing", "selected", b"NOOP", "", "tag"),
    ("tag.empty", "selected", b" NOOP", "", "tag"),
    ("tag.8bit", "selected", b"t\xe9 NOOP", "", "tag"),
    ("tag.ctl", "selected", b"t\x01 NOOP", "", "tag"),
    ("empty-line", "selected", b"", "", "tag"),
    # command names
    ("cmd.unknown", "selected", b"a XMAILSPEC", "", None),
    ("cmd.unknown-args", "selected", b"a FROBNICATE 1 2", "", None),
    ("cmd.uid-noop", "selected", b"a UID NOOP", "", None),
    ("cmd.mixed-case", "selected", b"a NoOp", "", None),
    ("cmd.noop-arg", "selected", b"a NOOP extra", "", None),
    ("cmd.capability-arg", "selected", b"a CAPABILITY x", "", None),
    ("cmd.logout-arg", "selected", b"a LOGOUT now", "", None),
    # numbers
    ("num.zero", "selected", b"a FETCH 0 FLAGS", "", None),
    ("num.leading-zero", "selected", b"a FETCH 01 FLAGS", "", None),
    ("num.2^32", "selected", b"a FETCH 4294967296 FLAGS", "", None),
    ("num.2^32-1", "selected", b"a UID FETCH 4294967295 FLAGS", "", None),
    ("num.negative", "selected", b"a FETCH -1 FLAGS", "", None),
    ("num.range-zero", "selected", b"a FETCH 0:* FLAGS", "", None),
    ("num.empty-range", "selected", b"a FETCH 1: FLAGS", "", None),
    ("num.comma-end", "selected", b"a FETCH 1, FLAGS", "", None),
    ("num.larger-2^32", "selected", b"a SEARCH LARGER 4294967296", "", None),
    ("num.larger-leading-zero", "selected", b"a SEARCH LARGER 010", "", None),
    ("num.partial-zero-length", "selected", b"a FETCH 1 BODY.PEEK[]<0.0>", "", None),
    ("num.partial-2^32", "selected", b"a FETCH 1 BODY.PEEK[]<4294967296.1>", "", None),
    ("num.section-zero", "selected", b"a FETCH 1 BODY.PEEK[0]", "", None),
    ("num.modseq-2^63", "selected", b"a FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775808)", "CONDSTORE", None),
    ("num.changedsince-zero", "selected", b"a FETCH 1 (FLAGS) (CHANGEDSINCE 0)", "CONDSTORE", None),
    ("num.dollar", "selected", b"a FETCH $ FLAGS", "SEARCHRES", None),
    # dates
    ("date.day32", "selected", b"a SEARCH SINCE 32-Feb-2020", "", None),
    ("date.day0", "selected", b"a SEARCH SINCE 0-Feb-2020", "", None),
    ("date.month", "selected", b"a SEARCH SINCE 1-Foo-2020", "", None),
    ("date.month-case", "selected", b"a SEARCH SINCE 1-feb-2020", "", None),
    ("date.year2", "selected", b"a SEARCH SINCE 1-Feb-20", "", None),
    ("date.three-digit-day", "selected", b"a SEARCH SINCE 001-Feb-2020", "", None),
    ("date.iso", "selected", b"a SEARCH SINCE 2020-02-01", "", None),
    ("date.feb30", "selected", b"a SEARCH SINCE 30-Feb-2020", "", None),
    ("date.quoted-unclosed", "selected", b'a SEARCH SINCE "1-Feb-2020', "", None),
    ("append.datetime-bad-zone", "selected",
     b'a APPEND ' + MBOX.encode() + b' "06-Dec-2026 07:00:00 0000" ' + lit(MESSAGE, plus=True), "LITERAL+", None),
    ("append.datetime-day1", "selected",
     b'a APPEND ' + MBOX.encode() + b' "6-Dec-2026 07:00:00 +0000" ' + lit(MESSAGE, plus=True), "LITERAL+", None),
    ("append.datetime-hour25", "selected",
     b'a APPEND ' + MBOX.encode() + b' " 6-Dec-2026 25:00:00 +0000" ' + lit(MESSAGE, plus=True), "LITERAL+", None),
    # parentheses
    ("paren.unclosed-fetch", "selected", b"a FETCH 1 (FLAGS UID", "", None),
    ("paren.extra-close", "selected", b"a FETCH 1 (FLAGS))", "", None),
    ("paren.empty-fetch", "selected", b"a FETCH 1 ()", "", None),
    ("paren.search-unclosed", "selected", b"a SEARCH (SEEN", "", None),
    ("paren.search-empty", "selected", b"a SEARCH ()", "", None),
    ("paren.store-unclosed", "selected", b"a STORE 1 +FLAGS (\\Seen", "", None),
    ("paren.status-empty", "selected", b"a STATUS INBOX ()", "", None),
    ("paren.select-empty", "selected", b"a SELECT INBOX ()", "", None),
    ("paren.header-fields-empty", "selected", b"a FETCH 1 BODY.PEEK[HEADER.FIELDS ()]", "", None),
    ("paren.bracket-unclosed", "selected", b"a FETCH 1 BODY.PEEK[HEADER", "", None),
    ("paren.nested-search", "selected", b"a SEARCH ((((SEEN))))", "", None),
    ("paren.deep-search", "selected", b"a SEARCH " + b"(" * 40 + b"ALL" + b")" * 40, "", None),
    ("paren.id-unclosed", "selected", b'a ID ("name" "x"', "ID", None),
    ("paren.id-odd", "selected", b'a ID ("name")', "ID", None),
    # strings
    ("string.unclosed", "selected", b'a STATUS "INBOX (MESSAGES)', "", None),
    ("string.bad-escape", "selected", b'a SEARCH SUBJECT "a\\b"', "", None),
    ("string.escaped-quote", "selected", b'a SEARCH SUBJECT "a\\"b"', "", None),
    ("string.8bit-quoted", "selected", b'a SEARCH SUBJECT "\xe9"', "", None),
    ("string.utf8-quoted", "selected", b'a SEARCH CHARSET UTF-8 SUBJECT "\xc3\xa9"', "", None),
    ("string.nul-quoted", "selected", b'a SEARCH SUBJECT "a\x00b"', "", None),
    ("string.atom-specials", "selected", b"a SEARCH SUBJECT a%b", "", None),
    ("string.atom-bracket", "selected", b"a SEARCH SUBJECT a]b", "", None),
    ("mailbox.8bit", "selected", b"a STATUS INB\xe9X (MESSAGES)", "", None),
    ("mailbox.mutf7", "selected", b"a STATUS &AOk- (MESSAGES)", "", None),
    ("mailbox.mutf7-ascii", "selected", b"a STATUS &AGE- (MESSAGES)", "", None),
    ("mailbox.mutf7-unterminated", "selected", b"a STATUS &AOk (MESSAGES)", "", None),
    ("mailbox.wildcard-status", "selected", b"a STATUS INBOX* (MESSAGES)", "", None),
    ("list.8bit-pattern", "selected", b'a LIST "" "\xe9*"', "", None),
    # literals
    ("literal.login-sync", "notauth", None, "", "login-literal"),
    ("literal.nonsync", "selected", b"a STATUS " + lit(b"INBOX", plus=True) + b" (MESSAGES)", "LITERAL+", None),
    ("literal.sync", "selected", b"a STATUS " + lit(b"INBOX") + b" (MESSAGES)", "", None),
    ("literal.nul", "selected", b"a SEARCH SUBJECT " + lit(b"ab\x00cd", plus=True), "LITERAL+", None),
    ("literal.8bit", "selected", b"a SEARCH CHARSET UTF-8 SUBJECT " + lit("\u00e9t\u00e9".encode(), plus=True), "LITERAL+", None),
    ("literal.bad-size", "selected", b"a STATUS {abc}\r\nINBOX (MESSAGES)", "", None),
    ("literal.negative", "selected", b"a STATUS {-5}\r\nINBOX (MESSAGES)", "", None),
    ("literal.2^32", "selected", b"a STATUS {4294967296+}\r\nINBOX (MESSAGES)", "LITERAL+", None),
    ("literal.minus", "selected", b"a STATUS {5-}\r\nINBOX (MESSAGES)", "", None),
    ("literal.not-at-eol", "selected", b"a STATUS {5} INBOX (MESSAGES)", "", None),
    ("literal.binary-status", "selected", b"a STATUS " + lit(b"INBOX", plus=True, binary=True) + b" (MESSAGES)", "BINARY", None),
    ("literal.space-before-crlf", "selected", b"a STATUS {5+} \r\nINBOX (MESSAGES)", "LITERAL+", None),
    ("literal.leading-zero", "selected", b"a STATUS {05+}\r\nINBOX (MESSAGES)", "LITERAL+", None),
    ("append.sync", "selected", b"a APPEND " + MBOX.encode() + b" " + lit(MESSAGE), "", None),
    ("append.nonsync", "selected", b"a APPEND " + MBOX.encode() + b" (\\Seen) " + lit(MESSAGE, plus=True), "LITERAL+", None),
    ("append.datetime", "selected",
     b'a APPEND ' + MBOX.encode() + b' (\\Seen) " 6-Dec-2026 07:00:00 +0000" ' + lit(MESSAGE, plus=True), "LITERAL+", None),
    ("append.multi", "selected",
     b"a APPEND " + MBOX.encode() + b" " + lit(MESSAGE, plus=True) + b" " + lit(MESSAGE, plus=True), "MULTIAPPEND", None),
    ("append.binary", "selected", b"a APPEND " + MBOX.encode() + b" " + lit(MESSAGE, binary=True), "BINARY", None),
    ("append.binary-nonsync", "selected", b"a APPEND " + MBOX.encode() + b" " + lit(MESSAGE, plus=True, binary=True), "BINARY", None),
    ("append.nul-in-literal", "selected", b"a APPEND " + MBOX.encode() + b" " + lit(MESSAGE.replace(b"hello", b"he\x00lo"), plus=True), "LITERAL+", None),
    ("append.empty-flags", "selected", b"a APPEND " + MBOX.encode() + b" () " + lit(MESSAGE, plus=True), "LITERAL+", None),
    ("append.no-literal", "selected", b"a APPEND " + MBOX.encode() + b' "hello"', "", None),
    ("append.recent-flag", "selected", b"a APPEND " + MBOX.encode() + b" (\\Recent) " + lit(MESSAGE, plus=True), "LITERAL+", None),
    ("idle.done", "selected", b"a IDLE\r\nDONE", "IDLE", None),
    ("idle.done-lower", "selected", b"a IDLE\r\ndone", "IDLE", None),
    # fetch and search specifics
    ("fetch.unknown-item", "selected", b"a FETCH 1 XITEM", "", None),
    ("fetch.macro-in-list", "selected", b"a FETCH 1 (ALL)", "", None),
    ("fetch.peek-no-section", "selected", b"a FETCH 1 BODY.PEEK", "", None),
    ("fetch.mime-no-part", "selected", b"a FETCH 1 BODY.PEEK[MIME]", "", None),
    ("fetch.binary-header", "selected", b"a FETCH 1 BINARY.PEEK[HEADER]", "BINARY", None),
    ("fetch.vanished-no-uid", "selected", b"a FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)", "QRESYNC", None),
    ("fetch.modifier-twice", "selected", b"a FETCH 1 FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)", "CONDSTORE", None),
    ("search.unknown-key", "selected", b"a SEARCH XKEY", "", None),
    ("search.charset-unknown", "selected", b"a SEARCH CHARSET X-UNKNOWN-9 ALL", "", None),
    ("search.return-unknown", "selected", b"a SEARCH RETURN (XOPT) ALL", "ESEARCH", None),
    ("search.return-twice", "selected", b"a SEARCH RETURN (MIN MIN) ALL", "ESEARCH", None),
    ("search.or-one", "selected", b"a SEARCH OR SEEN", "", None),
    ("search.no-key", "selected", b"a SEARCH", "", None),
    ("search.header-no-value", "selected", b"a SEARCH HEADER Subject", "", None),
    ("sort.no-charset", "selected", b"a SORT (DATE) ALL", "SORT", None),
    ("sort.empty", "selected", b"a SORT () UTF-8 ALL", "SORT", None),
    ("sort.unknown-key", "selected", b"a SORT (COLOR) UTF-8 ALL", "SORT", None),
    ("thread.unknown-alg", "selected", b"a THREAD XALG UTF-8 ALL", "THREAD=REFERENCES", None),
    ("store.bad-op", "selected", b"a STORE 1 *FLAGS (\\Seen)", "", None),
    ("store.recent", "selected", b"a STORE 1 +FLAGS (\\Recent)", "", None),
    ("store.unknown-system-flag", "selected", b"a STORE 1 +FLAGS (\\Xyz)", "", None),
    ("store.no-flags", "selected", b"a STORE 1 +FLAGS", "", None),
    ("select.unknown-param", "selected", b"a SELECT INBOX (XPARAM)", "", None),
    ("select.qresync-not-enabled", "selected", b"a SELECT INBOX (QRESYNC (1 1))", "QRESYNC", None),
    ("select.qresync", "selected", b"a ENABLE QRESYNC\r\nb SELECT INBOX (QRESYNC (1 1))", "QRESYNC", None),
    ("list.unknown-option", "selected", b'a LIST (XOPT) "" "*"', "LIST-EXTENDED", None),
    ("list.recursivematch-alone", "selected", b'a LIST (RECURSIVEMATCH) "" "*"', "LIST-EXTENDED", None),
    ("list.return-unknown", "selected", b'a LIST "" "*" RETURN (XOPT)', "LIST-EXTENDED", None),
    ("list.one-arg", "selected", b'a LIST ""', "", None),
    ("status.unknown-item", "selected", b"a STATUS INBOX (XITEM)", "", None),
    ("status.recent", "selected", b"a STATUS INBOX (RECENT)", "", None),
    ("create.unknown-param", "selected", b"a CREATE " + MBOX.encode() + b"-c3 (XPARAM)", "", None),
    ("enable.none", "selected", b"a ENABLE", "ENABLE", None),
    ("enable.unknown", "selected", b"a ENABLE XUNKNOWN", "ENABLE", None),
    ("enable.utf8", "selected", b"a ENABLE UTF8=ACCEPT", "UTF8=ACCEPT", None),
    ("id.key-too-long", "selected", b'a ID ("' + b"k" * 31 + b'" "v")', "ID", None),
    ("id.nil-key", "selected", b'a ID (NIL "v")', "ID", None),
    ("uid.bad-command", "selected", b"a UID CHECK", "", None),
    ("authenticate.no-ir", "notauth", b"a AUTHENTICATE PLAIN\r\n*", "", None),
    ("authenticate.bad-base64", "notauth", b"a AUTHENTICATE PLAIN AB=C", "SASL-IR", None),
    ("authenticate.empty-ir", "notauth", b"a AUTHENTICATE PLAIN =", "SASL-IR", None),
    ("login.one-arg", "notauth", b"a LOGIN alice", "", None),
    ("login.three-args", "notauth", b"a LOGIN alice b c", "", None),
    ("starttls.arg", "notauth", b"a STARTTLS now", "STARTTLS", None),
    ("compress.unknown", "selected", b"a COMPRESS XZIP", "COMPRESS=DEFLATE", None),
    # lines
    ("line.long-atom", "selected", b"a SEARCH SUBJECT " + b"x" * 8000, "", None),
    ("line.over-64k", "selected", b"a SEARCH SUBJECT " + b"x" * 70000, "", None),
    ("line.many-items", "selected", b"a FETCH " + b",".join(b"%d" % i for i in range(1, 2000)) + b" UID", "", None),
    ("line.bare-lf-end", "selected", b"a NOOP\n", "", None),
    ("line.two-commands-lf", "selected", b"a NOOP\nb NOOP", "", None),
    ("line.cr-only", "selected", b"a NOOP\rb NOOP", "", None),
]


def imap_cases(user="user", password="password"):
    def fill(text):
        plain = base64.b64encode(b"\0%s\0%s" % (user.encode(), password.encode())).decode()
        return text.replace("{user}", user).replace("{password}", password).replace("{plain}", plain)

    valid = []
    for cid, text, req in IMAP_SELECTED:
        valid.append(Case(cid, "imap", "selected", b"a " + text.encode() + CRLF, req))
    for cid, text, req in IMAP_NOTAUTH:
        valid.append(Case(cid, "imap", "notauth", b"a " + fill(text).encode() + CRLF, req))
    valid.append(Case("login.literal", "imap", "notauth",
                      b"a LOGIN " + lit(user.encode()) + b" " + lit(password.encode(), plus=True) + CRLF,
                      "LITERAL+"))
    cases = valid + mutate(valid, per_case=3)
    for cid, state, data, req, kind in IMAP_TARGETED:
        if data is None:
            data = b"a LOGIN " + lit(user.encode()) + b" " + lit(password.encode())
        cases.append(Case(cid, "imap", state, data + CRLF, req, valid=None))
    return cases


# ----------------------------------------------------------------- POP3 --

POP3_VALID = [
    ("stat", "trans", "STAT", ""),
    ("list", "trans", "LIST", ""),
    ("list.msg", "trans", "LIST 1", ""),
    ("list.missing", "trans", "LIST 99", ""),
    ("uidl", "trans", "UIDL", "UIDL"),
    ("uidl.msg", "trans", "UIDL 2", "UIDL"),
    ("retr", "trans", "RETR 1", ""),
    ("retr.missing", "trans", "RETR 99", ""),
    ("top", "trans", "TOP 1 0", "TOP"),
    ("top.lines", "trans", "TOP 2 3", "TOP"),
    ("dele", "trans", "DELE 1", ""),
    ("noop", "trans", "NOOP", ""),
    ("rset", "trans", "RSET", ""),
    ("capa.trans", "trans", "CAPA", ""),
    ("quit.trans", "trans", "QUIT", ""),
    ("capa", "auth", "CAPA", ""),
    ("user", "auth", "USER {user}", "USER"),
    ("user-pass", "auth", "USER {user}\r\nPASS {password}", "USER"),
    ("pass.spaces", "auth", "USER {user}\r\nPASS pass word with spaces", "USER"),
    ("auth.plain-ir", "auth", "AUTH PLAIN {plain}", "SASL"),
    ("auth.plain", "auth", "AUTH PLAIN\r\n{plain}", "SASL"),
    ("auth.login", "auth", "AUTH LOGIN\r\n{b64user}\r\n{b64password}", "SASL"),
    ("auth.cancel", "auth", "AUTH PLAIN\r\n*", "SASL"),
    ("quit", "auth", "QUIT", ""),
    ("utf8", "auth", "UTF8", "UTF8"),
    ("lang", "auth", "LANG", "LANG"),
]

POP3_TARGETED = [
    ("num.zero", "trans", "RETR 0", ""),
    ("num.leading-zero", "trans", "RETR 01", ""),
    ("num.2^32", "trans", "LIST 4294967296", ""),
    ("num.2^32-1", "trans", "LIST 4294967295", ""),
    ("num.negative", "trans", "DELE -1", ""),
    ("num.plus", "trans", "LIST +1", ""),
    ("num.hex", "trans", "LIST 0x1", ""),
    ("num.huge", "trans", "LIST 99999999999999999999999", ""),
    ("top.no-lines", "trans", "TOP 1", "TOP"),
    ("top.negative-lines", "trans", "TOP 1 -1", "TOP"),
    ("top.2^64-lines", "trans", "TOP 1 18446744073709551616", "TOP"),
    ("top.extra", "trans", "TOP 1 1 1", "TOP"),
    ("retr.no-arg", "trans", "RETR", ""),
    ("retr.two-args", "trans", "RETR 1 2", ""),
    ("stat.arg", "trans", "STAT 1", ""),
    ("noop.arg", "trans", "NOOP x", ""),
    ("quit.arg", "trans", "QUIT now", ""),
    ("capa.arg", "trans", "CAPA x", ""),
    ("uidl.alpha", "trans", "UIDL one", "UIDL"),
    ("cmd.unknown", "trans", "XMSP", ""),
    ("cmd.long-keyword", "trans", "RETRIEVE 1", ""),
    ("cmd.short-keyword", "trans", "RE 1", ""),
    ("cmd.empty", "trans", "", ""),
    ("cmd.user-in-trans", "trans", "USER {user}", "USER"),
    ("line.256", "trans", "NOOP " + "x" * 250, ""),
    ("line.over-255", "trans", "LIST " + "1" * 300, ""),
    ("line.1000", "trans", "XLONG " + "x" * 1000, ""),
    ("line.bare-lf", "trans", "STAT\nNOOP", ""),
    ("line.cr", "trans", "STAT\rNOOP", ""),
    ("user.no-arg", "auth", "USER", "USER"),
    ("user.two-args", "auth", "USER a b", "USER"),
    ("user.8bit", "auth", b"USER \xe9", "USER"),
    ("user.utf8", "auth", "USER \u00e9t\u00e9".encode(), "USER"),
    ("user.long", "auth", "USER " + "u" * 245, "USER"),
    ("pass.no-user", "auth", "PASS secret", "USER"),
    ("pass.empty", "auth", "USER {user}\r\nPASS", "USER"),
    ("apop.bad-digest", "auth", "APOP {user} 0123", ""),
    ("apop.upper-digest", "auth", "APOP {user} 0123456789ABCDEF0123456789ABCDEF", ""),
    ("apop.valid-shape", "auth", "APOP {user} 0123456789abcdef0123456789abcdef", ""),
    ("auth.lower-mech", "auth", "AUTH plain {plain}", "SASL"),
    ("auth.unknown-mech", "auth", "AUTH XMECH", "SASL"),
    ("auth.no-mech", "auth", "AUTH", "SASL"),
    ("auth.bad-base64", "auth", "AUTH PLAIN AB=C", "SASL"),
    ("auth.empty-ir", "auth", "AUTH PLAIN =", "SASL"),
    ("auth.long-mech", "auth", "AUTH ABCDEFGHIJKLMNOPQRSTU", "SASL"),
    ("stls.arg", "auth", "STLS now", "STLS"),
    ("retr.in-auth", "auth", "RETR 1", ""),
    ("lang.bad-range", "auth", "LANG en_US", "LANG"),
    ("utf8.arg", "auth", "UTF8 x", "UTF8"),
]


def pop3_cases(user="user", password="password"):
    plain = base64.b64encode(b"\0%s\0%s" % (user.encode(), password.encode())).decode()

    def fill(text):
        if isinstance(text, bytes):
            return text
        return text.format(user=user, password=password, plain=plain,
                           b64user=base64.b64encode(user.encode()).decode(),
                           b64password=base64.b64encode(password.encode()).decode()).encode()

    valid = [Case(cid, "pop3", st, fill(t) + CRLF, req) for cid, st, t, req in POP3_VALID]
    cases = valid + mutate(valid, per_case=4)
    for cid, st, t, req in POP3_TARGETED:
        cases.append(Case(cid, "pop3", st, fill(t) + CRLF, req, valid=None))
    return cases


# ----------------------------------------------------------------- SMTP --

SMTP_VALID = [
    ("ehlo", "greet", "EHLO client.example.org", ""),
    ("ehlo.ipv4", "greet", "EHLO [127.0.0.1]", ""),
    ("ehlo.ipv6", "greet", "EHLO [IPv6:::1]", ""),
    ("ehlo.general-literal", "greet", "EHLO [x-tag:abc]", ""),
    ("helo", "greet", "HELO client.example.org", ""),
    ("noop.greet", "greet", "NOOP", ""),
    ("rset.greet", "greet", "RSET", ""),
    ("quit.greet", "greet", "QUIT", ""),
    ("mail", "ehlo", "MAIL FROM:<a@localhost>", ""),
    ("mail.null", "ehlo", "MAIL FROM:<>", ""),
    ("mail.quoted-local", "ehlo", 'MAIL FROM:<"a b"@localhost>', ""),
    ("mail.dotted", "ehlo", "MAIL FROM:<first.last@sub.example.org>", ""),
    ("mail.route", "ehlo", "MAIL FROM:<@relay.example.org:a@example.org>", ""),
    ("mail.literal-domain", "ehlo", "MAIL FROM:<a@[127.0.0.1]>", ""),
    ("mail.size", "ehlo", "MAIL FROM:<a@localhost> SIZE=100", "SIZE"),
    ("mail.body-8bit", "ehlo", "MAIL FROM:<a@localhost> BODY=8BITMIME", "8BITMIME"),
    ("mail.body-7bit", "ehlo", "MAIL FROM:<a@localhost> BODY=7BIT", "8BITMIME"),
    ("mail.smtputf8", "ehlo", "MAIL FROM:<a@localhost> SMTPUTF8", "SMTPUTF8"),
    ("mail.utf8-local", "ehlo", "MAIL FROM:<\u00e9t\u00e9@localhost> SMTPUTF8", "SMTPUTF8"),
    ("mail.ret-envid", "ehlo", "MAIL FROM:<a@localhost> RET=HDRS ENVID=abc+2Bdef", "DSN"),
    ("mail.all-params", "ehlo", "MAIL FROM:<a@localhost> SIZE=10 BODY=8BITMIME RET=FULL", "DSN"),
    ("mail.lower-from", "ehlo", "mail from:<a@localhost>", ""),
    ("rcpt", "mail", "RCPT TO:<alice@localhost>", ""),
    ("rcpt.postmaster", "mail", "RCPT TO:<Postmaster>", ""),
    ("rcpt.notify", "mail", "RCPT TO:<alice@localhost> NOTIFY=SUCCESS,FAILURE", "DSN"),
    ("rcpt.notify-never", "mail", "RCPT TO:<alice@localhost> NOTIFY=NEVER", "DSN"),
    ("rcpt.orcpt", "mail", "RCPT TO:<alice@localhost> ORCPT=rfc822;alice@localhost", "DSN"),
    ("rcpt.relay-denied", "mail", "RCPT TO:<a@elsewhere.example.org>", ""),
    ("data", "rcpt", "DATA\r\nSubject: x\r\n\r\nbody\r\n..dot\r\n.", ""),
    ("bdat", "rcpt", "BDAT 7 LAST\r\nhello", "CHUNKING"),
    ("bdat.zero", "rcpt", "BDAT 0 LAST", "CHUNKING"),
    ("vrfy", "ehlo", "VRFY alice", "VRFY"),
    ("vrfy.path", "ehlo", "VRFY <alice@localhost>", "VRFY"),
    ("expn", "ehlo", "EXPN list", ""),
    ("help", "ehlo", "HELP", ""),
    ("help.arg", "ehlo", "HELP MAIL", ""),
    ("noop", "ehlo", "NOOP", ""),
    ("noop.arg", "ehlo", "NOOP anything goes", ""),
    ("rset", "mail", "RSET", ""),
    ("quit", "ehlo", "QUIT", ""),
    ("etrn", "ehlo", "ETRN example.org", "ETRN"),
    ("etrn.at", "ehlo", "ETRN @example.org", "ETRN"),
    ("starttls.ehlo", "ehlo", "STARTTLS", "STARTTLS"),
    ("auth.plain", "ehlo", "AUTH PLAIN {plain}", "AUTH"),
]

SMTP_TARGETED = [
    ("cmd.unknown", "ehlo", "XMAILSPEC", ""),
    ("cmd.empty", "ehlo", "", ""),
    ("cmd.verb-only-mail", "ehlo", "MAIL", ""),
    ("cmd.long-verb", "ehlo", "NOOPX", ""),
    ("ehlo.no-arg", "greet", "EHLO", ""),
    ("ehlo.two-args", "greet", "EHLO a.example b.example", ""),
    ("ehlo.underscore", "greet", "EHLO my_host.example", ""),
    ("ehlo.trailing-dot", "greet", "EHLO host.example.", ""),
    ("ehlo.hyphen-start", "greet", "EHLO -host.example", ""),
    ("ehlo.bad-ipv4", "greet", "EHLO [256.1.1.1]", ""),
    ("ehlo.bare-ipv4", "greet", "EHLO 127.0.0.1", ""),
    ("ehlo.bad-ipv6", "greet", "EHLO [IPv6:1:2:3:4:5:6:7:8:9]", ""),
    ("ehlo.unclosed-literal", "greet", "EHLO [127.0.0.1", ""),
    ("ehlo.8bit", "greet", b"EHLO h\xe9.example", ""),
    ("ehlo.utf8", "greet", "EHLO \u00e9t\u00e9.example", ""),
    ("ehlo.long-label", "greet", "EHLO " + "a" * 64 + ".example", ""),
    ("helo.literal", "greet", "HELO [127.0.0.1]", ""),
    ("mail.space-after-colon", "ehlo", "MAIL FROM: <a@localhost>", ""),
    ("mail.space-before-colon", "ehlo", "MAIL FROM :<a@localhost>", ""),
    ("mail.no-brackets", "ehlo", "MAIL FROM:a@localhost", ""),
    ("mail.no-colon", "ehlo", "MAIL FROM <a@localhost>", ""),
    ("mail.unclosed", "ehlo", "MAIL FROM:<a@localhost", ""),
    ("mail.no-domain", "ehlo", "MAIL FROM:<a>", ""),
    ("mail.double-at", "ehlo", "MAIL FROM:<a@@localhost>", ""),
    ("mail.double-dot", "ehlo", "MAIL FROM:<a..b@localhost>", ""),
    ("mail.leading-dot", "ehlo", "MAIL FROM:<.a@localhost>", ""),
    ("mail.domain-dot-end", "ehlo", "MAIL FROM:<a@localhost.>", ""),
    ("mail.8bit-local", "ehlo", b"MAIL FROM:<\xe9@localhost>", ""),
    ("mail.utf8-no-smtputf8", "ehlo", "MAIL FROM:<\u00e9@localhost>", ""),
    ("mail.long-local", "ehlo", "MAIL FROM:<" + "l" * 65 + "@localhost>", ""),
    ("mail.size-bad", "ehlo", "MAIL FROM:<a@localhost> SIZE=abc", "SIZE"),
    ("mail.size-2^64", "ehlo", "MAIL FROM:<a@localhost> SIZE=18446744073709551616", "SIZE"),
    ("mail.size-twice", "ehlo", "MAIL FROM:<a@localhost> SIZE=1 SIZE=2", "SIZE"),
    ("mail.body-unknown", "ehlo", "MAIL FROM:<a@localhost> BODY=9BIT", "8BITMIME"),
    ("mail.body-binarymime", "ehlo", "MAIL FROM:<a@localhost> BODY=BINARYMIME", "BINARYMIME"),
    ("mail.ret-bad", "ehlo", "MAIL FROM:<a@localhost> RET=ALL", "DSN"),
    ("mail.envid-bad-xtext", "ehlo", "MAIL FROM:<a@localhost> ENVID=a+zz", "DSN"),
    ("mail.unknown-param", "ehlo", "MAIL FROM:<a@localhost> XPARAM=1", ""),
    ("mail.param-empty-value", "ehlo", "MAIL FROM:<a@localhost> SIZE=", "SIZE"),
    ("mail.smtputf8-value", "ehlo", "MAIL FROM:<a@localhost> SMTPUTF8=yes", "SMTPUTF8"),
    ("mail.notify-on-mail", "ehlo", "MAIL FROM:<a@localhost> NOTIFY=NEVER", "DSN"),
    ("mail.quoted-unclosed", "ehlo", 'MAIL FROM:<"a@localhost>', ""),
    ("mail.quoted-8bit", "ehlo", b'MAIL FROM:<"\xe9"@localhost>', ""),
    ("mail.bad-literal", "ehlo", "MAIL FROM:<a@[300.0.0.1]>", ""),
    ("mail.ipv6-literal", "ehlo", "MAIL FROM:<a@[IPv6:2001:db8::1]>", ""),
    ("mail.ipv6-too-many", "ehlo", "MAIL FROM:<a@[IPv6:1::2:3:4:5:6:7:8]>", ""),
    ("mail.route-bad", "ehlo", "MAIL FROM:<@relay.example.org,a@example.org>", ""),
    ("mail.line-513", "ehlo", "MAIL FROM:<a@localhost> XPAD=" + "p" * 482, ""),
    ("mail.path-257", "ehlo", "MAIL FROM:<" + "a" * 60 + "@" + ".".join(["d" * 60] * 3) + "." + "e" * 10 + ">", ""),
    ("rcpt.postmaster-lower", "mail", "RCPT TO:<postmaster>", ""),
    ("rcpt.no-brackets", "mail", "RCPT TO:alice@localhost", ""),
    ("rcpt.space-after-colon", "mail", "RCPT TO: <alice@localhost>", ""),
    ("rcpt.null", "mail", "RCPT TO:<>", ""),
    ("rcpt.notify-bad", "mail", "RCPT TO:<alice@localhost> NOTIFY=SOMETIMES", "DSN"),
    ("rcpt.notify-never-mixed", "mail", "RCPT TO:<alice@localhost> NOTIFY=NEVER,SUCCESS", "DSN"),
    ("rcpt.orcpt-no-type", "mail", "RCPT TO:<alice@localhost> ORCPT=alice@localhost", "DSN"),
    ("rcpt.size-param", "mail", "RCPT TO:<alice@localhost> SIZE=10", "SIZE"),
    ("rcpt.from-keyword", "mail", "RCPT FROM:<alice@localhost>", ""),
    ("data.arg", "rcpt", "DATA now", ""),
    ("data.8bit-no-body", "rcpt", b"DATA\r\nSubject: x\r\n\r\n\xe9\r\n.", ""),
    ("data.nul", "rcpt", b"DATA\r\nSubject: x\r\n\r\na\x00b\r\n.", ""),
    ("data.bare-lf", "rcpt", b"DATA\r\nSubject: x\r\n\r\na\nb\r\n.", ""),
    ("data.undotted", "rcpt", b"DATA\r\nSubject: x\r\n\r\n.x\r\n.", ""),
    ("data.long-line", "rcpt", b"DATA\r\nSubject: x\r\n\r\n" + b"y" * 1200 + b"\r\n.", ""),
    ("bdat.no-size", "rcpt", "BDAT", "CHUNKING"),
    ("bdat.bad-size", "rcpt", "BDAT x", "CHUNKING"),
    ("bdat.bad-last", "rcpt", "BDAT 0 FINAL", "CHUNKING"),
    ("vrfy.no-arg", "ehlo", "VRFY", "VRFY"),
    ("vrfy.smtputf8", "ehlo", "VRFY alice SMTPUTF8", "SMTPUTF8"),
    ("expn.no-arg", "ehlo", "EXPN", ""),
    ("rset.arg", "ehlo", "RSET now", ""),
    ("quit.arg", "ehlo", "QUIT now", ""),
    ("starttls.arg", "ehlo", "STARTTLS now", "STARTTLS"),
    ("etrn.no-arg", "ehlo", "ETRN", "ETRN"),
    ("etrn.bad-domain", "ehlo", "ETRN -bad-", "ETRN"),
    ("auth.bad-base64", "ehlo", "AUTH PLAIN AB=C", "AUTH"),
    ("auth.no-mech", "ehlo", "AUTH", "AUTH"),
    ("line.bare-lf", "ehlo", "NOOP\nNOOP", ""),
    ("line.cr", "ehlo", "NOOP\rNOOP", ""),
    ("line.over-512", "ehlo", "NOOP " + "n" * 600, ""),
    ("line.over-2048", "ehlo", "NOOP " + "n" * 3000, ""),
]


def smtp_cases(user="user", password="password"):
    plain = base64.b64encode(b"\0%s\0%s" % (user.encode(), password.encode())).decode()

    def enc(t):
        return t if isinstance(t, bytes) else t.replace("{plain}", plain).encode()

    valid = [Case(cid, "smtp", st, enc(t) + CRLF, req) for cid, st, t, req in SMTP_VALID]
    cases = valid + mutate(valid, per_case=4)
    for cid, st, t, req in SMTP_TARGETED:
        cases.append(Case(cid, "smtp", st, enc(t) + CRLF, req, valid=None))
    return cases


GENERATORS = {"imap": imap_cases, "pop3": pop3_cases, "smtp": smtp_cases}


def generate(proto, user="user", password="password", mbox=MBOX):
    """The cases of PROTO; `mbox` renames the scratch mailbox (a server
    that keeps every folder under "INBOX." needs "INBOX.mspdiff")."""
    cases = GENERATORS[proto](user, password)
    if mbox != MBOX:
        for c in cases:     # never inside a literal: lengths stay right
            c.data = c.data.replace(MBOX.encode(), mbox.encode())
    ids = [c.id for c in cases]
    dup = {i for i in ids if ids.count(i) > 1}
    assert not dup, "duplicate case ids: %s" % sorted(dup)
    return cases


if __name__ == "__main__":
    for p in sys.argv[1:] or sorted(GENERATORS):
        for c in generate(p):
            print("%s/%s [%s] %r" % (p, c.id, c.state, c.data[:120]))
