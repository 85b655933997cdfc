/*
 * Unit tests of the IMAP command parser (RFC 9051 / 3501 and extensions).
 * Every case goes through ms_check: whole, split at every byte, byte by byte
 * against guard pages, and parse/write/parse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mailspec/imap_command.h"

static const struct ms_kind *K = &ms_imap_commands_kind;

static const char *run(const char *in)
{
    return ms_check_str(K, 0, in);
}

static const char *run_n(const char *in, size_t len)
{
    struct ms_limits lim;
    ms_limits_default(&lim);
    return ms_check(K, &lim, in, len);
}

static const char *run_lim(const struct ms_limits *lim, const char *in)
{
    return ms_check(K, lim, in, strlen(in));
}

#define EXPECT(in, out) assert_string_equal(run(in), out)
#define CMD(tag, name)  "{\"type\":\"command\",\"tag\":\"" tag "\",\"command\":\"" name "\""

/* Parse one message directly and write it back: the canonical bytes. */
static const char *rewrite(const char *in)
{
    static char out[4096];
    struct ms_limits lim;
    struct ms_imap_command_state st;
    struct ms_imap_command *v = calloc(1, sizeof(*v));
    struct ms_error err = {0};
    int done = 0;

    assert_non_null(v);
    ms_limits_default(&lim);
    memset(&st, 0, sizeof(st));
    K->init(&st, &lim);
    ssize_t n = K->parse(&st, &lim, in, strlen(in), v, &done, &err);
    assert_true(n > 0);
    assert_int_equal(done, 1);
    ssize_t w = K->write(v, out, sizeof(out) - 1);
    assert_true(w > 0);
    out[w] = '\0';
    free(v);
    return out;
}

static void test_simple(void **st)
{
    (void)st;
    EXPECT("a1 CAPABILITY\r\n", "0+15 " CMD("a1", "CAPABILITY") "}\n");
    EXPECT("a2 noop\r\n", "0+9 " CMD("a2", "NOOP") "}\n");
    EXPECT("A LOGOUT\r\nB STARTTLS\r\nC NAMESPACE\r\n",
           "0+10 " CMD("A", "LOGOUT") "}\n10+12 " CMD("B", "STARTTLS") "}\n22+13 " CMD(
               "C", "NAMESPACE") "}\n");
    EXPECT("x CHECK\r\nx Close\r\nx UNSELECT\r\nx EXPUNGE\r\n",
           "0+9 " CMD("x", "CHECK") "}\n9+9 " CMD("x", "CLOSE") "}\n18+12 " CMD(
               "x", "UNSELECT") "}\n30+11 " CMD("x", "EXPUNGE") "}\n");
    /* tags: any ASTRING-CHAR but "+", including "]" */
    EXPECT("a]1.b NOOP\r\n", "0+12 " CMD("a]1.b", "NOOP") "}\n");
    /* arguments where none are allowed */
    EXPECT("a NOOP x\r\n", "0 ERR 6 RFC 9051 9 command: expected CRLF (end of the command)\n");
    EXPECT("a NOOP \r\n", "0 ERR 6 RFC 9051 9 command: trailing SP before CRLF\n");
    EXPECT("a  NOOP\r\n",
           "0 ERR 2 RFC 9051 9 command: exactly one SP between arguments (two found)\n");
    EXPECT("a \r\n", "0 ERR 2 RFC 9051 9 command: expected a command name\n");
    /* canonical writer: upper-case command names */
    assert_string_equal(rewrite("t1 noop\r\n"), "t1 NOOP\r\n");
    assert_string_equal(
        rewrite("t1 uid fetch 1:* (flags body.peek[header.fields (from)]<0.5>)\r\n"),
        "t1 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (from)]<0.5>)\r\n");
}

static void test_tag(void **st)
{
    (void)st;
    EXPECT("a+b NOOP\r\n", "0 ERR 1 RFC 9051 9 tag: \"+\" is not allowed in a tag\n");
    EXPECT("+ NOOP\r\n", "0 ERR 0 RFC 9051 9 tag: \"+\" is not allowed in a tag\n");
    EXPECT("* NOOP\r\n", "0 ERR 0 RFC 9051 9 tag: expected a tag (ASTRING-CHAR except \"+\")\n");
    EXPECT("a%b NOOP\r\n", "0 ERR 1 RFC 9051 9 tag: character not allowed in a tag\n");
    EXPECT("a(b NOOP\r\n", "0 ERR 1 RFC 9051 9 tag: character not allowed in a tag\n");
    EXPECT("ab\r\n", "0 ERR 2 RFC 9051 9 tag: expected SP and a command after the tag\n");
    EXPECT("\r\n", "0 ERR 0 RFC 9051 9 tag: expected a tag (ASTRING-CHAR except \"+\")\n");
    EXPECT("a\x80 NOOP\r\n", "0 ERR 1 RFC 9051 9 tag: character not allowed in a tag\n");
    /* unknown commands are errors, not generic views */
    EXPECT("a FROB x y\r\nb NOOP\r\n",
           "0 ERR 2 RFC 9051 9 command: unknown command\n12+8 " CMD("b", "NOOP") "}\n");
    EXPECT("a XLIST \"\" *\r\n", "0 ERR 2 RFC 9051 9 command: unknown command\n");
    EXPECT("a UID NOOP\r\n", "0 ERR 6 RFC 9051 9 uid: expected COPY, MOVE, FETCH, SEARCH, STORE, "
                             "EXPUNGE, SORT or THREAD after UID\n");
    EXPECT("a UID\r\n", "0 ERR 5 RFC 9051 9 uid: expected SP after UID\n");
}

static void test_lines(void **st)
{
    (void)st;
    /* bare LF, bare CR, NUL: the framer's errors, then recovery */
    EXPECT("a NOOP\nb NOOP\r\n", "0 ERR 6 RFC 9051 4 CRLF: bare LF: lines end with CRLF\n"
                                 "7+8 " CMD("b", "NOOP") "}\n");
    EXPECT("a NO\rOP\r\nb NOOP\r\n", "0 ERR 4 RFC 9051 4 CRLF: bare CR inside a line\n"
                                     "9+8 " CMD("b", "NOOP") "}\n");
    assert_string_equal(
        run_n("a LOGIN \0 x\r\n", 13),
        "0 ERR 8 RFC 9051 9 userid: expected an atom, a quoted string or a literal\n");
    assert_string_equal(run_n("a LOGIN \"a\0\" x\r\n", 16),
                        "0 ERR 10 RFC 9051 9 quoted: NUL inside a quoted string\n");
    /* the input ends inside a command */
    EXPECT("a NOOP", "0 ERR 6 end of input: input ends inside a message\n");
    /* line limit and limit + 1 (imap_line includes CRLF) */
    struct ms_limits lim;
    ms_limits_default(&lim);
    lim.imap_line = 10;
    assert_string_equal(run_lim(&lim, "abc NOOP\r\n"), "0+10 " CMD("abc", "NOOP") "}\n");
    assert_string_equal(run_lim(&lim, "abcd NOOP\r\n"),
                        "0 ERR 10 RFC 9051 4 CRLF: line longer than the limit\n");
}

static void test_strings(void **st)
{
    (void)st;
    EXPECT("a LOGIN fred \"sec\\\"r\\\\et\"\r\n",
           "0+27 " CMD("a", "LOGIN") ",\"args\":[{\"string\":\"fred\",\"form\":\"atom\"},"
                                     "{\"string\":\"sec\\\"r\\\\et\",\"form\":\"quoted\"}]}\n");
    EXPECT("a LOGIN {4}\r\nfred {3+}\r\nabc\r\n",
           "0+29 " CMD("a", "LOGIN") ",\"args\":[{\"string\":\"fred\",\"form\":\"literal\"},"
                                     "{\"string\":\"abc\",\"form\":\"literal+\"}]}\n");
    EXPECT("a LOGIN {0}\r\n \"\"\r\n",
           "0+18 " CMD("a", "LOGIN") ",\"args\":[{\"string\":\"\",\"form\":\"literal\"},"
                                     "{\"string\":\"\",\"form\":\"quoted\"}]}\n");
    /* NIL is an ordinary astring for LOGIN */
    EXPECT("a LOGIN NIL nil\r\n",
           "0+17 " CMD("a", "LOGIN") ",\"args\":[{\"string\":\"NIL\",\"form\":\"atom\"},"
                                     "{\"string\":\"nil\",\"form\":\"atom\"}]}\n");
    /* RFC 9051 quoted strings may hold UTF-8, not other 8-bit bytes */
    EXPECT("a LOGIN \"j\xc3\xa9r\xc3\xb4me\" x\r\n",
           "0+22 " CMD("a", "LOGIN") ",\"args\":[{\"string\":\"j\xc3\xa9r\xc3\xb4me\",\"form\":"
                                     "\"quoted\"},{\"string\":\"x\",\"form\":\"atom\"}]}\n");
    EXPECT("a LOGIN \"j\xe9r\" x\r\n",
           "0 ERR 10 RFC 9051 9 quoted: 8-bit byte that is not UTF-8 in a quoted string\n");
    EXPECT("a LOGIN j\xc3\xa9r x\r\n", "0 ERR 9 RFC 9051 9 userid: 8-bit byte in an atom (use a "
                                       "quoted string or literal; UTF-8 needs UTF8=ACCEPT)\n");
    EXPECT("a LOGIN \xc3\xa9 x\r\n",
           "0 ERR 8 RFC 9051 9 userid: 8-bit byte outside a quoted string or literal\n");
    EXPECT("a LOGIN \"a\\b\" x\r\n",
           "0 ERR 11 RFC 9051 9 quoted: backslash may only quote DQUOTE or backslash\n");
    EXPECT("a LOGIN \"abc x\r\n",
           "0 ERR 14 RFC 9051 9 quoted: quoted string not closed (expected DQUOTE)\n");
    EXPECT("a LOGIN x\r\n", "0 ERR 9 RFC 9051 9 login: expected SP\n");
    EXPECT("a LOGIN (x) y\r\n",
           "0 ERR 8 RFC 9051 9 userid: expected an atom, a quoted string or a literal\n");
}

static void test_literals(void **st)
{
    (void)st;
    /* 2^32: over the 32-bit number, whatever follows; the message is dropped */
    EXPECT("a NOOP\r\nb LOGIN {4294967296}\r\nc NOOP\r\n",
           "0+8 " CMD("a", "NOOP") "}\n"
                                   "8 ERR 17 RFC 9051 9 literal: literal size above 4294967295 "
                                   "(32-bit number)\n30+8 " CMD("c", "NOOP") "}\n");
    EXPECT("b LOGIN {99999999999999999999}\r\n",
           "0 ERR 9 RFC 9051 9 literal: literal size above 4294967295 (32-bit number)\n");
    /* 2^32-1 is a number, but over the caller's literal limit */
    EXPECT("b LOGIN {4294967295}\r\n",
           "0 ERR 9 RFC 9051 9 literal: literal larger than the limit\n");
    /* truncated literal */
    EXPECT("a LOGIN {5}\r\nab\r\n", "0 ERR 17 end of input: input ends inside a message\n");
    /* literal limit and limit + 1 */
    struct ms_limits lim;
    ms_limits_default(&lim);
    lim.imap_literal = 3;
    assert_string_equal(run_lim(&lim, "a LOGIN {3}\r\nabc x\r\n"),
                        "0+20 " CMD("a", "LOGIN") ",\"args\":[{\"string\":\"abc\",\"form\":"
                                                  "\"literal\"},{\"string\":\"x\",\"form\":"
                                                  "\"atom\"}]}\n");
    assert_string_equal(run_lim(&lim, "a LOGIN {4}\r\nabcd x\r\n"),
                        "0 ERR 9 RFC 9051 9 literal: literal larger than the limit\n"
                        "13 ERR 18 RFC 9051 9 command: unknown command\n");
    /* "{n-}" is not IMAP syntax */
    EXPECT(
        "a LOGIN {3-}\r\nabc x\r\n",
        "0 ERR 10 RFC 7888 4 literal: \"{n-}\" is not IMAP syntax (LITERAL- clients send {n+})\n");
    /* literal8 only for APPEND data */
    EXPECT("a LOGIN ~{3}\r\nabc x\r\n",
           "0 ERR 8 RFC 3516 4.2 literal8: literal8 (~{n}) is only allowed for APPEND data\n");
    /* NUL in a literal: CHAR8 excludes it; literal8 allows it */
    assert_string_equal(run_n("a LOGIN {3}\r\na\0b x\r\n", 20),
                        "0 ERR 14 RFC 9051 9 literal: NUL inside a literal (CHAR8 excludes it; "
                        "use literal8)\n");
    assert_string_equal(run_n("a APPEND box ~{3}\r\na\0b\r\n", 24),
                        "0+24 " CMD("a", "APPEND") ",\"args\":[{\"mailbox\":\"box\",\"form\":"
                                                   "\"atom\"},{\"message\":3,\"form\":"
                                                   "\"literal8\"}]}\n");
    /* a literal may hold CRLF and anything else */
    EXPECT("a LOGIN {4}\r\n\r\n\r\n x\r\n",
           "0+21 " CMD("a", "LOGIN") ",\"args\":[{\"string\":\"\\r\\n\\r\\n\",\"form\":"
                                     "\"literal\"},{\"string\":\"x\",\"form\":\"atom\"}]}\n");
    /* "{3}" not at the end of a line is no literal */
    EXPECT("a LOGIN {3}x y\r\n",
           "0 ERR 11 RFC 9051 9 literal: expected CRLF after the literal size\n");
}

static void test_authenticate(void **st)
{
    (void)st;
    EXPECT("a AUTHENTICATE PLAIN\r\nAGZyZWQAc2VjcmV0\r\na2 NOOP\r\n",
           "0+22 " CMD("a", "AUTHENTICATE") ",\"args\":[{\"atom\":\"PLAIN\"}]}\n"
                                            "22+18 {\"type\":\"sasl\",\"data\":"
                                            "\"AGZyZWQAc2VjcmV0\"}\n40+9 " CMD("a2", "NOOP") "}\n");
    /* SASL-IR (RFC 4959), "=" for an empty initial response */
    EXPECT("a AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0\r\n",
           "0+39 " CMD("a", "AUTHENTICATE") ",\"args\":[{\"atom\":\"PLAIN\"},{\"base64\":"
                                            "\"AGZyZWQAc2VjcmV0\"}]}\n");
    EXPECT("a AUTHENTICATE EXTERNAL =\r\n",
           "0+27 " CMD("a", "AUTHENTICATE") ",\"args\":[{\"atom\":\"EXTERNAL\"},{\"base64\":"
                                            "\"=\"}]}\n");
    EXPECT("a AUTHENTICATE PLAIN abc\r\n",
           "0 ERR 24 RFC 9051 9 base64: base64 length is not a multiple of 4\n");
    EXPECT("a AUTHENTICATE PLAIN a=bc\r\n",
           "0 ERR 22 RFC 9051 9 base64: \"=\" padding only at the end\n");
    EXPECT("a AUTHENTICATE\r\n", "0 ERR 14 RFC 9051 9 authenticate: expected SP\n");
    /* empty response, cancel, back to commands */
    EXPECT("a AUTHENTICATE GSSAPI\r\n\r\n*\r\nb NOOP\r\n",
           "0+23 " CMD("a", "AUTHENTICATE") ",\"args\":[{\"atom\":\"GSSAPI\"}]}\n"
                                            "23+2 {\"type\":\"sasl\",\"data\":\"\"}\n"
                                            "25+3 {\"type\":\"sasl-cancel\"}\n28+8 " CMD(
                                                "b", "NOOP") "}\n");
    /* after "*", a line without SP is a command error again */
    EXPECT("a AUTHENTICATE X\r\n*\r\nQUJD\r\n",
           "0+18 " CMD("a", "AUTHENTICATE") ",\"args\":[{\"atom\":\"X\"}]}\n"
                                            "18+3 {\"type\":\"sasl-cancel\"}\n"
                                            "21 ERR 25 RFC 9051 9 tag: expected SP and a command "
                                            "after the tag\n");
    /* bad base64 inside the exchange; the exchange continues */
    EXPECT("a AUTHENTICATE X\r\nQU!D\r\nQUJD\r\n",
           "0+18 " CMD("a", "AUTHENTICATE") ",\"args\":[{\"atom\":\"X\"}]}\n"
                                            "18 ERR 20 RFC 9051 9 base64: expected base64 "
                                            "(A-Z a-z 0-9 + / =)\n"
                                            "24+6 {\"type\":\"sasl\",\"data\":\"QUJD\"}\n");
}

static void test_bare_lf(void **st)
{
    (void)st;
    /* strict: a bare LF ends nothing */
    EXPECT("a AUTHENTICATE X\r\nQUJD\nb NOOP\r\n",
           "0+18 " CMD("a", "AUTHENTICATE") ",\"args\":[{\"atom\":\"X\"}]}\n"
                                            "18 ERR 22 RFC 9051 6.2.2 authenticate: bare LF: lines "
                                            "end with CRLF\n23+8 " CMD("b", "NOOP") "}\n");
    /* bare-lf: accepted for SASL lines and DONE, with a quirk */
    const char *r =
        ms_check_str(K, MS_LENIENT_BARE_LF, "a AUTHENTICATE X\r\nQUJD\nb IDLE\r\nDONE\n");
    ms_assert_has(r, "18+5 {\"type\":\"sasl\",\"data\":\"QUJD\",\"quirks\":[{\"offset\":4,"
                     "\"rule\":\"RFC 9051 9 CRLF\",\"reason\":\"bare LF ends the line\"}]}\n");
    ms_assert_has(r, "31+5 {\"type\":\"done\",\"quirks\":[{\"offset\":4,");
    /* but never for commands (the framer has no lenient mode) */
    r = ms_check_str(K, MS_LENIENT_BARE_LF, "a NOOP\nb NOOP\r\n");
    ms_assert_has(r, "0 ERR 6 RFC 9051 4 CRLF: bare LF: lines end with CRLF\n");
}

static void test_idle(void **st)
{
    (void)st;
    EXPECT("a IDLE\r\nDONE\r\nb NOOP\r\n",
           "0+8 " CMD("a", "IDLE") "}\n8+6 {\"type\":\"done\"}\n14+8 " CMD("b", "NOOP") "}\n");
    EXPECT("a IDLE\r\ndone\r\n", "0+8 " CMD("a", "IDLE") "}\n8+6 {\"type\":\"done\"}\n");
    /* anything else ends IDLE with an error */
    EXPECT("a IDLE\r\nb NOOP\r\nc NOOP\r\n",
           "0+8 " CMD("a", "IDLE") "}\n8 ERR 8 RFC 9051 9 idle: expected DONE to end IDLE\n"
                                   "16+8 " CMD("c", "NOOP") "}\n");
    EXPECT("a IDLE\r\nDONE \r\n",
           "0+8 " CMD("a", "IDLE") "}\n8 ERR 8 RFC 9051 9 idle: expected DONE to end IDLE\n");
    EXPECT("a IDLE x\r\n", "0 ERR 6 RFC 9051 9 command: expected CRLF (end of the command)\n");
}

static void test_mailbox(void **st)
{
    (void)st;
    /* an 8-bit byte ends an atom: named at that byte, with the mailbox rule */
    EXPECT("a STATUS INBOX\xc3\xa9 (MESSAGES)\r\n",
           "0 ERR 14 RFC 3501 5.1.3 mailbox: 8-bit byte in an atom (use a quoted string or "
           "literal; UTF-8 needs UTF8=ACCEPT)\n");
    EXPECT("a SELECT INBOX\xc3\xa9\r\n",
           "0 ERR 14 RFC 3501 5.1.3 mailbox: 8-bit byte in an atom (use a quoted string or "
           "literal; UTF-8 needs UTF8=ACCEPT)\n");
    EXPECT("a SELECT INBOX\r\n",
           "0+16 " CMD("a", "SELECT") ",\"args\":[{\"mailbox\":\"INBOX\",\"form\":\"atom\"}]}\n");
    /* RFC 3501 5.1.3 examples */
    EXPECT("a CREATE \"~peter/mail/&U,BTFw-/&ZeVnLIqe-\"\r\n",
           "0+44 " CMD("a", "CREATE") ",\"args\":[{\"mailbox\":\"~peter/mail/&U,BTFw-/"
                                      "&ZeVnLIqe-\",\"form\":\"quoted\"}]}\n");
    EXPECT("a CREATE &-&Jjo-!\r\n", "0+19 " CMD("a", "CREATE") ",\"args\":[{\"mailbox\":\"&-"
                                                               "&Jjo-!\",\"form\":\"atom\"}]}\n");
    /* surrogate pair U+1F600 */
    EXPECT("a CREATE &2D3eAA-\r\n", "0+19 " CMD("a", "CREATE") ",\"args\":[{\"mailbox\":\"&"
                                                               "2D3eAA-\",\"form\":\"atom\"}]}\n");
    EXPECT("a CREATE \"a&bc\"\r\n",
           "0 ERR 11 RFC 3501 5.1.3 mailbox: modified BASE64 after \"&\" not terminated by "
           "\"-\"\n");
    EXPECT("a CREATE &\r\n", "0 ERR 9 RFC 3501 5.1.3 mailbox: modified BASE64 after \"&\" not "
                             "terminated by \"-\"\n");
    /* &AGE- is "a": printable US-ASCII must represent itself */
    EXPECT("a CREATE &AGE-\r\n", "0 ERR 9 RFC 3501 5.1.3 mailbox: modified BASE64 encodes "
                                 "printable US-ASCII, which must represent itself\n");
    EXPECT("a CREATE &AO/-\r\n", "0 ERR 12 RFC 3501 5.1.3 mailbox: invalid character in "
                                 "modified BASE64 (A-Z a-z 0-9 + ,)\n");
    /* one base64 char: no whole UTF-16 unit; non-zero padding bits */
    EXPECT("a CREATE &A-\r\n", "0 ERR 11 RFC 3501 5.1.3 mailbox: modified BASE64 does not end "
                               "on a UTF-16 unit with zero padding\n");
    EXPECT("a CREATE &AOR-\r\n", "0 ERR 13 RFC 3501 5.1.3 mailbox: modified BASE64 does not end "
                                 "on a UTF-16 unit with zero padding\n");
    /* lone surrogates */
    EXPECT("a CREATE &2D0-\r\n",
           "0 ERR 13 RFC 3501 5.1.3 mailbox: unpaired UTF-16 high surrogate\n");
    EXPECT("a CREATE &3gA-\r\n",
           "0 ERR 12 RFC 3501 5.1.3 mailbox: unpaired UTF-16 low surrogate\n");
    /* 8-bit and control characters */
    EXPECT("a CREATE \"caf\xc3\xa9\"\r\n",
           "0 ERR 13 RFC 3501 5.1.3 mailbox: 8-bit byte in a mailbox name (modified UTF-7 "
           "expected; UTF-8 needs ENABLE UTF8=ACCEPT)\n");
    EXPECT("a CREATE {3}\r\na\tb\r\n",
           "0 ERR 15 RFC 3501 5.1.3 mailbox: control character in a mailbox name\n");
    /* after ENABLE UTF8=ACCEPT (RFC 6855) names are UTF-8 and "&" is plain */
    EXPECT("e ENABLE UTF8=ACCEPT\r\na CREATE \"caf\xc3\xa9 &\"\r\n",
           "0+22 " CMD("e", "ENABLE") ",\"args\":[{\"atom\":\"UTF8=ACCEPT\"}]}\n"
                                      "22+20 " CMD("a", "CREATE") ",\"args\":[{\"mailbox\":"
                                                                  "\"caf\xc3\xa9 &\",\"form\":"
                                                                  "\"quoted\"}]}\n");
    /* UTF-8 still goes in a quoted string or literal, never in an atom */
    EXPECT("e ENABLE UTF8=ACCEPT\r\na CREATE caf\xc3\xa9\r\n",
           "0+22 " CMD("e", "ENABLE") ",\"args\":[{\"atom\":\"UTF8=ACCEPT\"}]}\n"
                                      "22 ERR 34 RFC 3501 5.1.3 mailbox: 8-bit byte in an atom "
                                      "(UTF-8 goes in a quoted string or literal)\n");
    EXPECT("e ENABLE UTF8=ACCEPT\r\na CREATE {2}\r\n\xc3\x28\r\n",
           "0+22 " CMD("e", "ENABLE") ",\"args\":[{\"atom\":\"UTF8=ACCEPT\"}]}\n"
                                      "22 ERR 36 RFC 6855 3 mailbox: mailbox name is not valid "
                                      "UTF-8\n");
    EXPECT("a DELETE blurdybloop\r\nb SUBSCRIBE #news.comp.mail.mime\r\nc UNSUBSCRIBE x\r\n",
           "0+22 " CMD("a", "DELETE") ",\"args\":[{\"mailbox\":\"blurdybloop\",\"form\":"
                                      "\"atom\"}]}\n22+34 " CMD(
                                          "b", "SUBSCRIBE") ",\"args\":[{"
                                                            "\"mailbox\":"
                                                            "\"#news.comp."
                                                            "mail.mime\","
                                                            "\"form\":"
                                                            "\"atom\"}]}"
                                                            "\n56+17 " CMD("c", "UNSUBSCRI"
                                                                                "BE") ",\"a"
                                                                                      "rgs"
                                                                                      "\":"
                                                                                      "[{"
                                                                                      "\"m"
                                                                                      "ail"
                                                                                      "box"
                                                                                      "\":"
                                                                                      "\"x"
                                                                                      "\","
                                                                                      "\"f"
                                                                                      "orm"
                                                                                      "\":"
                                                                                      "\"a"
                                                                                      "tom"
                                                                                      "\"}"
                                                                                      "]}"
                                                                                      "\n");
    EXPECT("a RENAME blurdybloop sarasoop\r\n",
           "0+31 " CMD("a", "RENAME") ",\"args\":[{\"mailbox\":\"blurdybloop\",\"form\":\"atom\"},"
                                      "{\"mailbox\":\"sarasoop\",\"form\":\"atom\"}]}\n");
    /* CREATE with RFC 6154 USE */
    EXPECT("a CREATE MySpecial (USE (\\Drafts \\Sent))\r\n",
           "0+42 " CMD("a", "CREATE") ",\"args\":[{\"mailbox\":\"MySpecial\",\"form\":"
                                      "\"atom\"},{\"list\":[{\"atom\":\"USE\"},{\"list\":[{"
                                      "\"flag\":\"\\\\Drafts\"},{\"flag\":\"\\\\Sent\"}]}]}]}\n");
    EXPECT("a CREATE x (USE (Drafts))\r\n",
           "0 ERR 17 RFC 6154 6 use-attr: expected a special-use attribute (\\Sent ...)\n");
    /* RFC 4466 2.2: any create-param-name [SP tagged-ext-val] */
    EXPECT("a CREATE x (FOO)\r\n",
           "0+18 " CMD("a", "CREATE") ",\"args\":[{\"mailbox\":\"x\",\"form\":\"atom\"},{\"list\":["
                                      "{\"atom\":\"FOO\"}]}]}\n");
    EXPECT(
        "b CREATE x (USE (\\Sent) X-Y 5 Z (a (b c)) W 1:3,5)\r\n",
        "0+52 " CMD(
            "b",
            "CREATE") ",\"args\":[{\"mailbox\":\"x\",\"form\":\"atom\"},{\"list\":[{\"atom\":"
                      "\"USE\"},{\"list\":[{\"flag\":\"\\\\Sent\"}]},{\"atom\":\"X-Y\"},{"
                      "\"seqset\":\"5\"},{\"atom\":\"Z\"},{\"list\":[{\"string\":\"a\",\"form\":"
                      "\"atom\"},{\"list\":[{\"string\":\"b\",\"form\":\"atom\"},{\"string\":\"c\","
                      "\"form\":\"atom\"}]}]},{\"atom\":\"W\"},{\"seqset\":\"1:3,5\"}]}]}\n");
    EXPECT("c CREATE x (N 12345678901)\r\n",
           "0+28 " CMD("c", "CREATE") ",\"args\":[{\"mailbox\":\"x\",\"form\":\"atom\"},{\"list\":["
                                      "{\"atom\":\"N\"},{\"atom\":\"12345678901\"}]}]}\n");
    /* a number with leading zeros is kept as written (it writes back the same) */
    EXPECT("c CREATE x (y 00337191949)\r\n",
           "0+28 " CMD("c", "CREATE") ",\"args\":[{\"mailbox\":\"x\",\"form\":\"atom\"},{\"list\":["
                                      "{\"atom\":\"y\"},{\"atom\":\"00337191949\"}]}]}\n");
    EXPECT("c CREATE x (y 99999999999999999999)\r\n",
           "0 ERR 14 RFC 4466 2.1 tagged-ext-simple: number above 2^63-1 (number64)\n");
    EXPECT(
        "d CREATE x (1)\r\n",
        "0 ERR 12 RFC 4466 2.2 create-param-name: expected a parameter name (tagged-ext-label)\n");
    EXPECT(
        "e CREATE x ()\r\n",
        "0 ERR 12 RFC 4466 2.2 create-param-name: expected a parameter name (tagged-ext-label)\n");
    EXPECT("f CREATE x (USE (\\Recent))\r\n",
           "0+28 " CMD("f",
                       "CREATE") ",\"args\":[{\"mailbox\":\"x\",\"form\":\"atom\"},{\"list\":[{"
                                 "\"atom\":\"USE\"},{\"list\":[{\"flag\":\"\\\\Recent\"}]}]}]}\n");
    EXPECT("g CREATE x (FOO (a)\r\n",
           "0 ERR 19 RFC 4466 2.2 create-params: expected SP or \")\"\n");
    /* RFC 9051 9 flag: 'Does not include "\Recent"' */
    EXPECT("a STORE 1 +FLAGS (\\Seen \\Recent)\r\n",
           "0 ERR 24 RFC 9051 9 flag: \\Recent is set by the server, not a flag a client gives\n");
    EXPECT("a APPEND x (\\recent) {1+}\r\nx\r\n",
           "0 ERR 12 RFC 9051 9 flag: \\Recent is set by the server, not a flag a client gives\n");
    EXPECT("a STORE 1 FLAGS \\Recentx\r\n",
           "0+26 " CMD("a", "STORE") ",\"args\":[{\"seqset\":\"1\"},{\"atom\":\"FLAGS\"},{\"flag\":"
                                     "\"\\\\Recentx\"}]}\n");
    /* wildcards are not ASTRING-CHARs */
    EXPECT("a CREATE foo*\r\n", "0 ERR 12 RFC 4466 2.2 create-params: expected SP\n");
}

static void test_seqset(void **st)
{
    (void)st;
    EXPECT("a FETCH 1:*,3,5:7,* FLAGS\r\n",
           "0+27 " CMD("a", "FETCH") ",\"args\":[{\"seqset\":\"1:*,3,5:7,*\"},{\"fetch\":"
                                     "\"FLAGS\"}]}\n");
    EXPECT("a FETCH 0 ALL\r\n",
           "0 ERR 8 RFC 9051 9 sequence-set: 0 is not a message number (nz-number)\n");
    EXPECT("a FETCH 1:0 ALL\r\n",
           "0 ERR 10 RFC 9051 9 sequence-set: 0 is not a message number (nz-number)\n");
    EXPECT("a FETCH 01 ALL\r\n",
           "0 ERR 8 RFC 9051 9 sequence-set: a message number has no leading zero (nz-number)\n");
    EXPECT("a FETCH 1 FLAGS \r\n", "0 ERR 15 RFC 9051 9 command: trailing SP before CRLF\n");
    EXPECT("a FETCH 1 FLAGS (\r\n",
           "0 ERR 17 RFC 7162 3.1.4 fetch-modifier: expected CHANGEDSINCE or VANISHED\n");
    EXPECT("a FETCH 4294967295 FLAGS\r\n",
           "0+26 " CMD("a", "FETCH") ",\"args\":[{\"seqset\":\"4294967295\"},{\"fetch\":"
                                     "\"FLAGS\"}]}\n");
    EXPECT("a FETCH 4294967296 FLAGS\r\n", "0 ERR 8 RFC 9051 9 nz-number: number out of range\n");
    /* RFC 5182 "$": alone or last */
    EXPECT("a FETCH $ FLAGS\r\n",
           "0+17 " CMD("a", "FETCH") ",\"args\":[{\"seqset\":\"$\"},{\"fetch\":\"FLAGS\"}]}\n");
    EXPECT("a FETCH 1,$ FLAGS\r\n",
           "0+19 " CMD("a", "FETCH") ",\"args\":[{\"seqset\":\"1,$\"},{\"fetch\":\"FLAGS\"}]}\n");
    EXPECT("a FETCH $,1 FLAGS\r\n",
           "0 ERR 9 RFC 9051 9 sequence-set: expected \",\" or the end of the sequence set\n");
    EXPECT("a FETCH 1:2:3 FLAGS\r\n",
           "0 ERR 11 RFC 9051 9 sequence-set: expected \",\" or the end of the sequence set\n");
    EXPECT("a FETCH 1, FLAGS\r\n",
           "0 ERR 10 RFC 9051 9 sequence-set: expected a message number or \"*\"\n");
    EXPECT("a FETCH ,1 FLAGS\r\n",
           "0 ERR 8 RFC 9051 9 sequence-set: expected a message number or \"*\"\n");
    EXPECT("a COPY 2:4 MEETING\r\n",
           "0+20 " CMD("a", "COPY") ",\"args\":[{\"seqset\":\"2:4\"},{\"mailbox\":\"MEETING\","
                                    "\"form\":\"atom\"}]}\n");
    EXPECT("a UID MOVE 42:69 foo\r\n",
           "0+22 " CMD("a", "MOVE") ",\"uid\":true,\"args\":[{\"seqset\":\"42:69\"},{\"mailbox\":"
                                    "\"foo\",\"form\":\"atom\"}]}\n");
    EXPECT("a UID EXPUNGE 3000:3002\r\n",
           "0+25 " CMD("a", "EXPUNGE") ",\"uid\":true,\"args\":[{\"seqset\":\"3000:3002\"}]}\n");
    EXPECT("a UID EXPUNGE\r\n", "0 ERR 13 RFC 9051 9 uid-expunge: expected SP\n");
}

static void test_fetch(void **st)
{
    (void)st;
    EXPECT("a FETCH 1:* ALL\r\n",
           "0+17 " CMD("a", "FETCH") ",\"args\":[{\"seqset\":\"1:*\"},{\"atom\":\"ALL\"}]}\n");
    EXPECT("a FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n",
           "0+53 " CMD("a", "FETCH") ",\"args\":[{\"seqset\":\"2:4\"},{\"list\":[{\"fetch\":"
                                     "\"FLAGS\"},{\"fetch\":\"BODY\",\"section\":{\"text\":"
                                     "\"HEADER.FIELDS\",\"headers\":[{\"string\":\"DATE\","
                                     "\"form\":\"atom\"},{\"string\":\"FROM\",\"form\":"
                                     "\"atom\"}]}}]}]}\n");
    EXPECT("a UID FETCH 1:* (BODY.PEEK[1.2.MIME] BINARY.PEEK[1]<0.100> BINARY.SIZE[] MODSEQ) "
           "(CHANGEDSINCE 12345 VANISHED)\r\n",
           "0+112 " CMD("a", "FETCH") ",\"uid\":true,\"args\":[{\"seqset\":\"1:*\"},{\"list\":[{"
                                      "\"fetch\":\"BODY.PEEK\",\"section\":{\"part\":\"1.2\","
                                      "\"text\":\"MIME\"}},{\"fetch\":\"BINARY.PEEK\","
                                      "\"section\":{\"part\":\"1\"},\"partial\":{\"offset\":0,"
                                      "\"length\":100}},{\"fetch\":\"BINARY.SIZE\",\"section\":{}}"
                                      ",{\"fetch\":\"MODSEQ\"}]},{\"list\":[{\"atom\":"
                                      "\"CHANGEDSINCE\"},{\"number\":12345},{\"atom\":"
                                      "\"VANISHED\"}]}]}\n");
    EXPECT("a FETCH 1 (ENVELOPE INTERNALDATE RFC822 RFC822.HEADER RFC822.SIZE RFC822.TEXT BODY "
           "BODYSTRUCTURE UID BODY[] BODY[TEXT] BODY[3.HEADER.FIELDS.NOT (X-A \"X-B\")]<7.8>)\r\n",
           "0+164 " CMD("a", "FETCH") ",\"args\":[{\"seqset\":\"1\"},{\"list\":[{\"fetch\":"
                                      "\"ENVELOPE\"},{\"fetch\":\"INTERNALDATE\"},{\"fetch\":"
                                      "\"RFC822\"},{\"fetch\":\"RFC822.HEADER\"},{\"fetch\":"
                                      "\"RFC822.SIZE\"},{\"fetch\":\"RFC822.TEXT\"},{\"fetch\":"
                                      "\"BODY\"},{\"fetch\":\"BODYSTRUCTURE\"},{\"fetch\":"
                                      "\"UID\"},{\"fetch\":\"BODY\",\"section\":{}},{\"fetch\":"
                                      "\"BODY\",\"section\":{\"text\":\"TEXT\"}},{\"fetch\":"
                                      "\"BODY\",\"section\":{\"part\":\"3\",\"text\":"
                                      "\"HEADER.FIELDS.NOT\",\"headers\":[{\"string\":\"X-A\","
                                      "\"form\":\"atom\"},{\"string\":\"X-B\",\"form\":"
                                      "\"quoted\"}]},\"partial\":{\"offset\":7,\"length\":8}}]}]}"
                                      "\n");
    /* negatives */
    EXPECT("a FETCH 1 BODY[]<10>\r\n",
           "0 ERR 19 RFC 9051 9 partial: expected \".\" and a length (<offset.length>)\n");
    EXPECT("a FETCH 1 BODY[]<10.0>\r\n",
           "0 ERR 20 RFC 9051 9 partial: expected a non-zero number (digit-nz *DIGIT)\n");
    EXPECT("a FETCH 1 BODY[HEADER.FIELDS ()]\r\n",
           "0 ERR 30 RFC 9051 9 header-list: header list is empty\n");
    EXPECT("a FETCH 1 BODY[HEADER.FIELDS]\r\n", "0 ERR 28 RFC 9051 9 section-msgtext: expected "
                                                "SP\n");
    EXPECT("a FETCH 1 BODY[MIME]\r\n",
           "0 ERR 15 RFC 9051 9 section: MIME needs a part number (section-text)\n");
    EXPECT("a FETCH 1 BODY[0]\r\n",
           "0 ERR 15 RFC 9051 9 section-part: expected a non-zero number (digit-nz *DIGIT)\n");
    EXPECT("a FETCH 1 BODY[1.]\r\n", "0 ERR 17 RFC 9051 9 section: expected HEADER, "
                                     "HEADER.FIELDS[.NOT], TEXT or MIME\n");
    EXPECT("a FETCH 1 BODY.PEEK\r\n", "0 ERR 19 RFC 9051 9 section: expected \"[\"\n");
    EXPECT("a FETCH 1 BODY<0.1>\r\n",
           "0 ERR 14 RFC 9051 9 fetch-att: BODY<partial> needs a section: BODY[]<o.n>\n");
    EXPECT("a FETCH 1 BINARY[HEADER]\r\n", "0 ERR 17 RFC 3516 4.2 section-binary: expected \"]\" "
                                           "(section-binary is a part only)\n");
    EXPECT("a FETCH 1 BINARY.SIZE[1]<0.1>\r\n",
           "0 ERR 24 RFC 3516 4.2 fetch-att: BINARY.SIZE takes no partial\n");
    EXPECT("a FETCH 1 FLAGS[]\r\n",
           "0 ERR 15 RFC 9051 9 fetch-att: this attribute takes no section or partial\n");
    EXPECT("a FETCH 1 FOO\r\n", "0 ERR 10 RFC 9051 9 fetch-att: unknown FETCH attribute\n");
    EXPECT("a FETCH 1 ()\r\n", "0 ERR 11 RFC 9051 9 fetch-att: unknown FETCH attribute\n");
    EXPECT("a FETCH 1 (ALL)\r\n", "0 ERR 11 RFC 9051 9 fetch-att: unknown FETCH attribute\n");
    EXPECT("a FETCH 1 FLAGS (VANISHED)\r\n",
           "0 ERR 17 RFC 7162 3.2.6 fetch-modifier: VANISHED is only allowed in UID FETCH\n");
    EXPECT("a UID FETCH 1 FLAGS (VANISHED)\r\n",
           "0 ERR 30 RFC 7162 3.2.6 fetch-modifier: VANISHED requires CHANGEDSINCE\n");
    EXPECT("a FETCH 1 FLAGS (CHANGEDSINCE 0)\r\n",
           "0 ERR 30 RFC 7162 7 mod-sequence-value: expected a non-zero number (digit-nz "
           "*DIGIT)\n");
    EXPECT("a FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775808)\r\n",
           "0 ERR 30 RFC 7162 7 mod-sequence-value: number out of range\n");
}

static void test_search(void **st)
{
    (void)st;
    EXPECT("a SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
           "0+52 " CMD("a", "SEARCH") ",\"args\":[{\"search\":\"FLAGGED\"},{\"search\":\"SINCE\","
                                      "\"args\":[{\"date\":\"1-Feb-1994\"}]},{\"search\":\"NOT\","
                                      "\"args\":[{\"search\":\"FROM\",\"args\":[{\"string\":"
                                      "\"Smith\",\"form\":\"quoted\"}]}]}]}\n");
    EXPECT("a UID SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR (SUBJECT x TO y) HEADER X-Foo "
           "\"\"\r\n",
           "0+83 " CMD("a", "SEARCH") ",\"uid\":true,\"args\":[{\"atom\":\"RETURN\"},{\"list\":[{"
                                      "\"atom\":\"MIN\"},{\"atom\":\"COUNT\"}]},{\"atom\":"
                                      "\"CHARSET\"},{\"string\":\"UTF-8\",\"form\":\"atom\"},{"
                                      "\"search\":\"OR\",\"args\":[{\"list\":[{\"search\":"
                                      "\"SUBJECT\",\"args\":[{\"string\":\"x\",\"form\":"
                                      "\"atom\"}]},{\"search\":\"TO\",\"args\":[{\"string\":"
                                      "\"y\",\"form\":\"atom\"}]}]},{\"search\":\"HEADER\","
                                      "\"args\":[{\"string\":\"X-Foo\",\"form\":\"atom\"},{"
                                      "\"string\":\"\",\"form\":\"quoted\"}]}]}]}\n");
    EXPECT("a SEARCH RETURN () 1:5,$ UID 4:* LARGER 9223372036854775807 KEYWORD $Junk\r\n",
           "0+75 " CMD("a", "SEARCH") ",\"args\":[{\"atom\":\"RETURN\"},{\"list\":[]},{\"seqset\":"
                                      "\"1:5,$\"},{\"search\":\"UID\",\"args\":[{\"seqset\":"
                                      "\"4:*\"}]},{\"search\":\"LARGER\",\"args\":[{\"number\":"
                                      "9223372036854775807}]},{\"search\":\"KEYWORD\",\"args\":[{"
                                      "\"flag\":\"$Junk\"}]}]}\n");
    EXPECT("a SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX\r\n",
           "0+41 " CMD("a", "SEARCH") ",\"args\":[{\"atom\":\"CHARSET\"},{\"string\":\"UTF-8\","
                                      "\"form\":\"atom\"},{\"search\":\"TEXT\",\"args\":[{"
                                      "\"string\":\"XXXXXX\",\"form\":\"literal\"}]}]}\n");
    EXPECT("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338 SENTON \"3-Mar-2020\" YOUNGER "
           "60\r\n",
           "0+79 " CMD("a", "SEARCH") ",\"args\":[{\"search\":\"MODSEQ\",\"args\":[{\"string\":"
                                      "\"/flags/\\\\draft\",\"form\":\"quoted\"},{\"atom\":"
                                      "\"all\"},{\"number\":620162338}]},{\"search\":\"SENTON\","
                                      "\"args\":[{\"date\":\"3-Mar-2020\",\"form\":\"quoted\"}]},"
                                      "{\"search\":\"YOUNGER\",\"args\":[{\"number\":60}]}]}\n");
    /* negatives */
    EXPECT("a SEARCH\r\n", "0 ERR 8 RFC 9051 9 search: expected SP\n");
    EXPECT("a SEARCH FOO\r\n", "0 ERR 9 RFC 9051 9 search-key: unknown search key\n");
    EXPECT("a SEARCH FROM\r\n", "0 ERR 13 RFC 9051 9 search-key: expected SP\n");
    EXPECT("a SEARCH ()\r\n", "0 ERR 10 RFC 9051 9 search-key: unknown search key\n");
    EXPECT("a SEARCH OR ALL\r\n", "0 ERR 15 RFC 9051 9 search-key: expected SP\n");
    EXPECT("a SEARCH SINCE 1-Foo-1994\r\n",
           "0 ERR 17 RFC 9051 9 date: expected a month name (Jan ... Dec)\n");
    EXPECT("a SEARCH SINCE 32-Feb-1994\r\n",
           "0 ERR 15 RFC 9051 9 date: day of the month out of range (1-31)\n");
    EXPECT("a SEARCH SINCE 100-Feb-1994\r\n", "0 ERR 15 RFC 9051 9 date: number out of range\n");
    EXPECT("a SEARCH SINCE 1-Feb-94\r\n", "0 ERR 23 RFC 9051 9 date: expected a 4-digit year\n");
    EXPECT("a SEARCH SAVEDON\r\n", "0 ERR 16 RFC 9051 9 search-key: expected SP\n");
    EXPECT("a SEARCH SINCE 32-Feb-2020\r\n",
           "0 ERR 15 RFC 9051 9 date: day of the month out of range (1-31)\n");
    EXPECT("a SEARCH SINCE 0-Feb-2020\r\n",
           "0 ERR 15 RFC 9051 9 date: day of the month out of range (1-31)\n");
    EXPECT("a SEARCH SAVEDSINCE 1\r\n", "0 ERR 21 RFC 9051 9 date: expected \"-\" after the day\n");
    EXPECT("a SEARCH SAVEDATESUPPORTED x\r\n",
           "0 ERR 27 RFC 9051 9 search-key: unknown search key\n");
    EXPECT("a SEARCH KEYWORD \\Seen\r\n",
           "0 ERR 17 RFC 9051 9 flag-keyword: KEYWORD takes a keyword, not a system flag\n");
    EXPECT("a SEARCH RETURN (MIN MIN) ALL\r\n",
           "0 ERR 21 RFC 4731 3.1 search-return-opt: return option given twice\n");
    EXPECT("a SEARCH MODSEQ \"/x/y\" all 1\r\n",
           "0 ERR 16 RFC 7162 7 entry-flag-name: expected \"/flags/\" and a flag name\n");
    EXPECT("a SEARCH 0\r\n",
           "0 ERR 9 RFC 9051 9 sequence-set: 0 is not a message number (nz-number)\n");
    EXPECT("a SEARCH ALL \r\n", "0 ERR 12 RFC 9051 9 command: trailing SP before CRLF\n");
}

static void test_depth(void **st)
{
    (void)st;
    struct ms_limits lim;
    ms_limits_default(&lim);
    lim.imap_depth = 3;
    /* depth = nesting of keys: NOT, OR and "(" each add one */
    assert_string_equal(run_lim(&lim, "a SEARCH NOT NOT ALL\r\n"),
                        "0+22 " CMD("a", "SEARCH") ",\"args\":[{\"search\":\"NOT\",\"args\":[{"
                                                   "\"search\":\"NOT\",\"args\":[{\"search\":"
                                                   "\"ALL\"}]}]}]}\n");
    assert_string_equal(run_lim(&lim, "a SEARCH NOT NOT NOT ALL\r\n"),
                        "0 ERR 21 mailspec limit: nesting deeper than the limit (imap_depth)\n");
    assert_string_equal(run_lim(&lim, "a SEARCH ((ALL))\r\n"),
                        "0+18 " CMD("a", "SEARCH") ",\"args\":[{\"list\":[{\"list\":[{\"search\":"
                                                   "\"ALL\"}]}]}]}\n");
    assert_string_equal(run_lim(&lim, "a SEARCH (((ALL)))\r\n"),
                        "0 ERR 12 mailspec limit: nesting deeper than the limit (imap_depth)\n");
    assert_string_equal(run_lim(&lim, "a SEARCH OR (ALL) (NOT ALL)\r\n"),
                        "0 ERR 23 mailspec limit: nesting deeper than the limit (imap_depth)\n");
    /* a deep nest at the default limit (32): error, not a stack overflow */
    char buf[4200];
    size_t n = 0;
    memcpy(buf, "a SEARCH ", 9);
    n = 9;
    for (int i = 0; i < 2000; i++)
        buf[n++] = '(';
    memcpy(buf + n, "ALL\r\n", 6);
    assert_string_equal(run(buf),
                        "0 ERR 41 mailspec limit: nesting deeper than the limit (imap_depth)\n");
}

static void test_items(void **st)
{
    (void)st;
    struct ms_limits lim;
    ms_limits_default(&lim);
    lim.imap_items = 3;
    assert_string_equal(run_lim(&lim, "a STORE 1 FLAGS (a b c)\r\n"),
                        "0+25 " CMD("a", "STORE") ",\"args\":[{\"seqset\":\"1\"},{\"atom\":"
                                                  "\"FLAGS\"},{\"list\":[{\"flag\":\"a\"},{"
                                                  "\"flag\":\"b\"},{\"flag\":\"c\"}]}]}\n");
    assert_string_equal(run_lim(&lim, "a STORE 1 FLAGS (a b c d)\r\n"),
                        "0 ERR 24 mailspec limit: list has more items than the limit "
                        "(imap_items)\n");
    /* the view's arena: more nodes than it holds is an error, not an overflow */
    static char big[3 * 2100 + 64];
    size_t n = 0;
    memcpy(big, "a SEARCH", 8);
    n = 8;
    for (int i = 0; i < 2100; i++) {
        memcpy(big + n, " 1", 2);
        n += 2;
    }
    memcpy(big + n, "\r\n", 3);
    assert_string_equal(run(big), "0 ERR 4104 mailspec limit: command has more items than the "
                                  "view holds (2048)\n");
}

static void test_store(void **st)
{
    (void)st;
    EXPECT("a STORE 2:4 +FLAGS (\\Deleted)\r\n",
           "0+31 " CMD("a", "STORE") ",\"args\":[{\"seqset\":\"2:4\"},{\"atom\":\"+FLAGS\"},{"
                                     "\"list\":[{\"flag\":\"\\\\Deleted\"}]}]}\n");
    EXPECT("a UID STORE 2:4 (UNCHANGEDSINCE 0) -flags.silent \\Seen $Junk\r\n",
           "0+62 " CMD("a", "STORE") ",\"uid\":true,\"args\":[{\"seqset\":\"2:4\"},{\"list\":[{"
                                     "\"atom\":\"UNCHANGEDSINCE\"},{\"number\":0}]},{\"atom\":"
                                     "\"-FLAGS.SILENT\"},{\"flag\":\"\\\\Seen\"},{\"flag\":"
                                     "\"$Junk\"}]}\n");
    EXPECT("a STORE 1 FLAGS ()\r\n", "0+20 " CMD("a", "STORE") ",\"args\":[{\"seqset\":\"1\"},{"
                                                               "\"atom\":\"FLAGS\"},{\"list\":[]}"
                                                               "]}\n");
    EXPECT("a STORE 1 FLAGS\r\n", "0 ERR 15 RFC 9051 9 store-att-flags: expected SP\n");
    EXPECT("a STORE 1 *FLAGS (x)\r\n",
           "0 ERR 10 RFC 9051 9 store-att-flags: expected [+|-]FLAGS[.SILENT]\n");
    EXPECT("a STORE 1 FLAGS (\\)\r\n",
           "0 ERR 18 RFC 9051 9 flag: expected a flag (atom or \"\\\" atom)\n");
    EXPECT("a STORE 1 FLAGS (a  b)\r\n",
           "0 ERR 19 RFC 9051 9 flag: expected a flag (atom or \"\\\" atom)\n");
    /* a doubled SP is named at the second SP, whichever argument follows */
    EXPECT("a STORE  1 +FLAGS (\\Seen)\r\n",
           "0 ERR 8 RFC 9051 9 command: exactly one SP between arguments (two found)\n");
    EXPECT("a STORE 1  +FLAGS (\\Seen)\r\n",
           "0 ERR 10 RFC 9051 9 command: exactly one SP between arguments (two found)\n");
    EXPECT("a FETCH 1  FLAGS\r\n",
           "0 ERR 10 RFC 9051 9 command: exactly one SP between arguments (two found)\n");
    EXPECT("a UID FETCH  1 FLAGS\r\n",
           "0 ERR 12 RFC 9051 9 command: exactly one SP between arguments (two found)\n");
    EXPECT("a RENAME x  y\r\n",
           "0 ERR 11 RFC 9051 9 command: exactly one SP between arguments (two found)\n");
    EXPECT("a FETCH 1 FLAGS\r\n",
           "0+17 " CMD("a", "FETCH") ",\"args\":[{\"seqset\":\"1\"},{\"fetch\":\"FLAGS\"}]}\n");
}

static void test_append(void **st)
{
    (void)st;
    /* RFC 9051 6.3.12 example */
    EXPECT("A003 APPEND saved-messages (\\Seen) {5}\r\nhello\r\n",
           "0+47 " CMD("A003", "APPEND") ",\"args\":[{\"mailbox\":\"saved-messages\",\"form\":"
                                         "\"atom\"},{\"list\":[{\"flag\":\"\\\\Seen\"}]},{"
                                         "\"message\":5,\"form\":\"literal\"}]}\n");
    /* MULTIAPPEND (RFC 3502) with date-times and LITERAL+ */
    EXPECT("A003 APPEND x (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {5+}\r\nhello "
           "\"17-Feb-1994 01:02:03 +0100\" {3}\r\nabc\r\n",
           "0+102 " CMD("A003", "APPEND") ",\"args\":[{\"mailbox\":\"x\",\"form\":\"atom\"},{"
                                          "\"list\":[{\"flag\":\"\\\\Seen\"}]},{\"datetime\":\" "
                                          "7-Feb-1994 21:52:25 -0800\"},{\"message\":5,\"form\":"
                                          "\"literal+\"},{\"datetime\":\"17-Feb-1994 01:02:03 "
                                          "+0100\"},{\"message\":3,\"form\":\"literal\"}]}\n");
    EXPECT("a APPEND x \"hello\"\r\n",
           "0 ERR 12 RFC 9051 9 date-time: expected a 2-digit day (date-day-fixed)\n");
    EXPECT("a APPEND x hello\r\n",
           "0 ERR 11 RFC 9051 9 append-data: expected the message as a literal ({n} or ~{n})\n");
    EXPECT("a APPEND x \"7-Feb-1994 21:52:25 -0800\" {1}\r\nx\r\n",
           "0 ERR 12 RFC 9051 9 date-time: expected a 2-digit day (date-day-fixed)\n");
    EXPECT("a APPEND x \"07-Feb-1994 24:52:25 -0800\" {1}\r\nx\r\n",
           "0 ERR 24 RFC 9051 9 date-time: hours out of range (00-23)\n");
    EXPECT("a APPEND x \"32-Feb-1994 21:52:25 -0800\" {1}\r\nx\r\n",
           "0 ERR 12 RFC 9051 9 date-time: day of the month out of range (1-31)\n");
    EXPECT("a APPEND x \"00-Feb-1994 21:52:25 -0800\" {1}\r\nx\r\n",
           "0 ERR 12 RFC 9051 9 date-time: day of the month out of range (1-31)\n");
    EXPECT("a APPEND x \"01-Feb-1994 2:52:25 -0800\" {1}\r\nx\r\n",
           "0 ERR 24 RFC 9051 9 date-time: expected 2-digit hours\n");
    EXPECT("a APPEND x \"07-Feb-1994 21:52:25 0800\" {1}\r\nx\r\n",
           "0 ERR 33 RFC 9051 9 date-time: expected \"+\" or \"-\" starting the zone\n");
    EXPECT("a APPEND x {1}\r\nx \r\n", "0 ERR 18 RFC 9051 9 append-data: expected the message as "
                                       "a literal ({n} or ~{n})\n");
    /* RFC 4466 4: literal8 = "~{" number ["+"] "}" ... (LITERAL+/- with BINARY) */
    EXPECT("a APPEND x ~{1+}\r\nx\r\n",
           "0+21 " CMD("a", "APPEND") ",\"args\":[{\"mailbox\":\"x\",\"form\":\"atom\"},{"
                                      "\"message\":1,\"form\":\"literal8+\"}]}\n");
    EXPECT(
        "a APPEND x ~{1-}\r\nx\r\n",
        "0 ERR 14 RFC 7888 4 literal: \"{n-}\" is not IMAP syntax (LITERAL- clients send {n+})\n");
}

static void test_list(void **st)
{
    (void)st;
    EXPECT("a LIST \"\" *\r\n",
           "0+13 " CMD("a", "LIST") ",\"args\":[{\"mailbox\":\"\",\"form\":\"quoted\"},{"
                                    "\"mailbox\":\"*\",\"form\":\"atom\"}]}\n");
    EXPECT("a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" % RETURN (CHILDREN STATUS (MESSAGES "
           "UNSEEN))\r\n",
           "0+84 " CMD("a", "LIST") ",\"args\":[{\"list\":[{\"atom\":\"SUBSCRIBED\"},{\"atom\":"
                                    "\"RECURSIVEMATCH\"}]},{\"mailbox\":\"\",\"form\":"
                                    "\"quoted\"},{\"mailbox\":\"%\",\"form\":\"atom\"},{\"atom\":"
                                    "\"RETURN\"},{\"list\":[{\"atom\":\"CHILDREN\"},{\"atom\":"
                                    "\"STATUS\"},{\"list\":[{\"atom\":\"MESSAGES\"},{\"atom\":"
                                    "\"UNSEEN\"}]}]}]}\n");
    EXPECT("a LIST \"\" (\"INBOX\" %/x)\r\n",
           "0+25 " CMD("a", "LIST") ",\"args\":[{\"mailbox\":\"\",\"form\":\"quoted\"},{\"list\":["
                                    "{\"mailbox\":\"INBOX\",\"form\":\"quoted\"},{\"mailbox\":"
                                    "\"%/x\",\"form\":\"atom\"}]}]}\n");
    EXPECT("a LSUB \"#news.\" \"comp.mail.*\"\r\n",
           "0+31 " CMD("a", "LSUB") ",\"args\":[{\"mailbox\":\"#news.\",\"form\":\"quoted\"},{"
                                    "\"mailbox\":\"comp.mail.*\",\"form\":\"quoted\"}]}\n");
    EXPECT("a LIST (RECURSIVEMATCH) \"\" %\r\n",
           "0 ERR 23 RFC 5258 6 list-select-opts: RECURSIVEMATCH without SUBSCRIBED or another "
           "base option\n");
    EXPECT("a LIST (FOO) \"\" %\r\n",
           "0 ERR 8 RFC 5258 6 list-select-opts: unknown selection option\n");
    EXPECT("a LIST \"\" % RETURN (FOO)\r\n",
           "0 ERR 20 RFC 5258 6 return-option: unknown LIST return option\n");
    EXPECT("a LIST \"\"\r\n", "0 ERR 9 RFC 9051 9 list: expected SP\n");
    EXPECT("a LIST \"\" &AGE-*\r\n", "0 ERR 10 RFC 3501 5.1.3 mailbox: modified BASE64 encodes "
                                     "printable US-ASCII, which must represent itself\n");
}

static void test_status_select_id(void **st)
{
    (void)st;
    EXPECT("a STATUS blurdybloop (UIDNEXT MESSAGES HIGHESTMODSEQ)\r\n",
           "0+55 " CMD("a", "STATUS") ",\"args\":[{\"mailbox\":\"blurdybloop\",\"form\":"
                                      "\"atom\"},{\"list\":[{\"atom\":\"UIDNEXT\"},{\"atom\":"
                                      "\"MESSAGES\"},{\"atom\":\"HIGHESTMODSEQ\"}]}]}\n");
    EXPECT("a STATUS x ()\r\n", "0 ERR 12 RFC 9051 9 status-att: unknown status attribute\n");
    EXPECT("a STATUS x (FOO)\r\n", "0 ERR 12 RFC 9051 9 status-att: unknown status attribute\n");
    EXPECT("a SELECT INBOX (CONDSTORE)\r\n",
           "0+28 " CMD("a", "SELECT") ",\"args\":[{\"mailbox\":\"INBOX\",\"form\":\"atom\"},{"
                                      "\"list\":[{\"atom\":\"CONDSTORE\"}]}]}\n");
    /* RFC 7162 3.2.5.2 example */
    EXPECT("a EXAMINE INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541 (1:10 "
           "2:20)))\r\n",
           "0+83 " CMD("a", "EXAMINE") ",\"args\":[{\"mailbox\":\"INBOX\",\"form\":\"atom\"},{"
                                       "\"list\":[{\"atom\":\"QRESYNC\"},{\"list\":[{\"number\":"
                                       "67890007},{\"number\":90060115194045000},{\"seqset\":"
                                       "\"41:211,214:541\"},{\"list\":[{\"seqset\":\"1:10\"},{"
                                       "\"seqset\":\"2:20\"}]}]}]}]}\n");
    EXPECT("a SELECT INBOX (QRESYNC (1 2 1:*))\r\n",
           "0 ERR 31 RFC 7162 7 known-uids: \"*\" is not allowed in a known set\n");
    EXPECT("a SELECT INBOX (QRESYNC (1 2 (1:2 $)))\r\n",
           "0 ERR 34 RFC 7162 7 known-uids: \"$\" is not allowed in a known set\n");
    EXPECT("a SELECT INBOX ()\r\n", "0 ERR 16 RFC 4466 2.1 select-params: empty parameter list: "
                                    "\"(\" needs at least one select-param\n");
    EXPECT("a SELECT INBOX \r\n", "0 ERR 14 RFC 9051 9 command: trailing SP before CRLF\n");
    EXPECT("a LIST \"\" \"*\" \r\n", "0 ERR 13 RFC 9051 9 command: trailing SP before CRLF\n");
    EXPECT("a SELECT INBOX (FOO)\r\n", "0 ERR 16 RFC 7162 7 select-param: unknown SELECT "
                                       "parameter (CONDSTORE and QRESYNC are modelled)\n");
    EXPECT("a SELECT INBOX (CONDSTORE CONDSTORE)\r\n",
           "0 ERR 26 RFC 7162 7 select-param: parameter given twice\n");
    EXPECT("a SELECT INBOX (QRESYNC (0 1))\r\n",
           "0 ERR 25 RFC 9051 9 uidvalidity: expected a non-zero number (digit-nz *DIGIT)\n");
    EXPECT("a ID (\"name\" \"sodr\" \"version\" NIL)\r\n",
           "0+36 " CMD("a", "ID") ",\"args\":[{\"list\":[{\"string\":\"name\",\"form\":"
                                  "\"quoted\"},{\"string\":\"sodr\",\"form\":\"quoted\"},{"
                                  "\"string\":\"version\",\"form\":\"quoted\"},{\"nil\":null}]}"
                                  "]}\n");
    EXPECT("a ID NIL\r\n", "0+10 " CMD("a", "ID") ",\"args\":[{\"nil\":null}]}\n");
    /* RFC 2971 4: "(" #(string SPACE nstring) ")": "#" allows zero pairs */
    EXPECT("a ID ()\r\n", "0+9 " CMD("a", "ID") ",\"args\":[{\"list\":[]}]}\n");
    EXPECT("a ID ( )\r\n",
           "0 ERR 6 RFC 2971 4 id-params-list: expected a quoted string or a literal\n");
    EXPECT("a ID (name x)\r\n",
           "0 ERR 6 RFC 2971 4 id-params-list: expected a quoted string or a literal\n");
    EXPECT("a ID (\"0123456789012345678901234567890\" NIL)\r\n",
           "0 ERR 6 RFC 2971 3.3 id: field longer than 30 octets\n");
    EXPECT("a ENABLE\r\n", "0 ERR 8 RFC 5161 4 enable: expected SP\n");
}

static void test_session(void **st)
{
    (void)st;
    struct ms_limits lim;
    const struct ms_proto *p = ms_proto_find("imap");
    assert_non_null(p);
    ms_limits_default(&lim);
    /* The tagged reply to AUTHENTICATE ends the exchange (reply_seen hook):
     * a later line without SP is a bad command, not a SASL line. */
    const char *r = ms_check_session(p, &lim,
                                     "S: * OK ready\n"
                                     "C: z NOOP\n"
                                     "C: a AUTHENTICATE X\n"
                                     "S: z OK done\n"
                                     "S: + \n"
                                     "C: QUJD\n"
                                     "S: a OK logged in\n"
                                     "C: QUJD\n");
    ms_assert_has(r, "C 26+6 {\"type\":\"sasl\",\"data\":\"QUJD\"}\n");
    ms_assert_has(r, "C 32 ERR 36 RFC 9051 9 tag: expected SP and a command after the tag\n");
    ms_assert_lacks(r, "C 32+6");
    /* Without the reply, the same line is still a SASL line. */
    r = ms_check_session(p, &lim, "C: a AUTHENTICATE X\nC: QUJD\nC: QUJD\n");
    ms_assert_has(r, "C 24+6 {\"type\":\"sasl\",\"data\":\"QUJD\"}\n");
    /* IDLE: the tagged reply (server ended IDLE) means no DONE is expected. */
    r = ms_check_session(p, &lim, "C: a IDLE\nS: + idling\nS: a OK done\nC: b NOOP\n");
    ms_assert_has(r, "C 8+8 " CMD("b", "NOOP") "}\n");
}

/* Every search key, FETCH item and status item of the grammar, once. */
static void test_every_item(void **st)
{
    (void)st;
    const char *r = run("a SEARCH ALL ANSWERED BCC x BEFORE 1-Jan-2000 BODY x CC x DELETED "
                        "FLAGGED FROM x KEYWORD k NEW OLD ON 1-Jan-2000 RECENT SEEN SINCE "
                        "1-Jan-2000 SUBJECT x TEXT x TO x UNANSWERED UNDELETED UNFLAGGED "
                        "UNKEYWORD k UNSEEN DRAFT HEADER h x LARGER 1 NOT ALL OR ALL ALL "
                        "SENTBEFORE 1-Jan-2000 SENTON 1-Jan-2000 SENTSINCE 1-Jan-2000 SMALLER 1 "
                        "UID 1 UNDRAFT 1:* (ALL) MODSEQ 1 OLDER 1 YOUNGER 1 SAVEDBEFORE 1-Jan-2000 "
                        "SAVEDON 1-Jan-2000 SAVEDSINCE 1-Jan-2000 SAVEDATESUPPORTED\r\n");
    assert_int_equal(ms_last_errors, 0);
    static const char *const keys[] = {
        "ALL",     "ANSWERED",   "BCC",         "BEFORE",    "BODY",       "CC",
        "DELETED", "FLAGGED",    "FROM",        "KEYWORD",   "NEW",        "OLD",
        "ON",      "RECENT",     "SEEN",        "SINCE",     "SUBJECT",    "TEXT",
        "TO",      "UNANSWERED", "UNDELETED",   "UNFLAGGED", "UNKEYWORD",  "UNSEEN",
        "DRAFT",   "HEADER",     "LARGER",      "NOT",       "OR",         "SENTBEFORE",
        "SENTON",  "SENTSINCE",  "SMALLER",     "UID",       "UNDRAFT",    "MODSEQ",
        "OLDER",   "YOUNGER",    "SAVEDBEFORE", "SAVEDON",   "SAVEDSINCE", "SAVEDATESUPPORTED",
    };
    char needle[64];
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        snprintf(needle, sizeof(needle), "{\"search\":\"%s\"", keys[i]);
        ms_assert_has(r, needle);
    }
    r = run("a FETCH 1 (ENVELOPE FLAGS INTERNALDATE RFC822 RFC822.HEADER RFC822.SIZE "
            "RFC822.TEXT BODY BODYSTRUCTURE UID BODY[] BODY.PEEK[] BINARY[] BINARY.PEEK[] "
            "BINARY.SIZE[] MODSEQ SAVEDATE EMAILID THREADID)\r\n");
    assert_int_equal(ms_last_errors, 0);
    ms_assert_has(r, "{\"fetch\":\"THREADID\"}]}]}");
    /* RFC 8970 7: PREVIEW [SP "(" preview-mod *(SP preview-mod) ")"], preview-mod = "LAZY" */
    EXPECT("a FETCH 1 (PREVIEW (LAZY) FLAGS)\r\n",
           "0+34 " CMD("a", "FETCH") ",\"args\":[{\"seqset\":\"1\"},{\"list\":[{\"fetch\":"
                                     "\"PREVIEW\",\"modifiers\":[{\"atom\":\"LAZY\"}]},{\"fetch\":"
                                     "\"FLAGS\"}]}]}\n");
    EXPECT("a FETCH 1 PREVIEW\r\n",
           "0+19 " CMD("a", "FETCH") ",\"args\":[{\"seqset\":\"1\"},{\"fetch\":\"PREVIEW\"}]}\n");
    /* " (" after a bare PREVIEW that is no preview-mod list opens the fetch-modifiers */
    EXPECT("a UID FETCH 1 PREVIEW (CHANGEDSINCE 4)\r\n",
           "0+40 " CMD("a", "FETCH") ",\"uid\":true,\"args\":[{\"seqset\":\"1\"},{\"fetch\":"
                                     "\"PREVIEW\"},{\"list\":[{\"atom\":\"CHANGEDSINCE\"},{"
                                     "\"number\":4}]}]}\n");
    EXPECT("a FETCH 1 (PREVIEW (LAZY FOO))\r\n",
           "0 ERR 25 RFC 8970 7 preview-mod: expected LAZY\n");
    EXPECT("a FETCH 1 (PREVIEW[])\r\n",
           "0 ERR 18 RFC 9051 9 fetch-att: this attribute takes no section or partial\n");
    r = run("a FETCH 1 FAST\r\nb FETCH 1 FULL (CHANGEDSINCE 5)\r\n");
    assert_int_equal(ms_last_errors, 0);
    r = run("a STATUS x (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ "
            "APPENDLIMIT MAILBOXID)\r\n");
    assert_int_equal(ms_last_errors, 0);
    ms_assert_has(r, "{\"atom\":\"MAILBOXID\"}]}]}");
    r = run("a LIST (SPECIAL-USE REMOTE) \"\" * RETURN (SUBSCRIBED CHILDREN SPECIAL-USE)\r\n");
    assert_int_equal(ms_last_errors, 0);
    /* keywords are case-insensitive; JSON and writer use the canonical name */
    r = run("a uid search return (all) charset \"utf-8\" or seen not text {1+}\r\nx\r\n");
    assert_int_equal(ms_last_errors, 0);
    ms_assert_has(r, "\"command\":\"SEARCH\",\"uid\":true,\"args\":[{\"atom\":\"RETURN\"},{"
                     "\"list\":[{\"atom\":\"ALL\"}]},{\"atom\":\"CHARSET\"},{\"string\":\"utf-8\","
                     "\"form\":\"quoted\"},{\"search\":\"OR\"");
}

/* Extension commands real clients send: SORT/THREAD (5256), QUOTA (9208), COMPRESS (4978),
 * ACL (4314), METADATA (5464). */
static void test_extensions(void **st)
{
    (void)st;
    EXPECT(
        "a SETACL INBOX fred +rwipslda\r\n",
        "0+31 " CMD(
            "a",
            "SETACL") ",\"args\":[{\"mailbox\":\"INBOX\",\"form\":\"atom\"},{\"string\":\"fred\","
                      "\"form\":\"atom\"},{\"string\":\"+rwipslda\",\"form\":\"atom\"}]}\n");
    EXPECT("b DELETEACL INBOX \"fred\"\r\n",
           "0+26 " CMD("b", "DELETEACL") ",\"args\":[{\"mailbox\":\"INBOX\",\"form\":\"atom\"},{"
                                         "\"string\":\"fred\",\"form\":\"quoted\"}]}\n");
    EXPECT("c GETACL INBOX\r\n",
           "0+16 " CMD("c", "GETACL") ",\"args\":[{\"mailbox\":\"INBOX\",\"form\":\"atom\"}]}\n");
    EXPECT("d LISTRIGHTS INBOX smith\r\n",
           "0+26 " CMD("d", "LISTRIGHTS") ",\"args\":[{\"mailbox\":\"INBOX\",\"form\":\"atom\"},{"
                                          "\"string\":\"smith\",\"form\":\"atom\"}]}\n");
    EXPECT("e MYRIGHTS INBOX\r\n",
           "0+18 " CMD("e", "MYRIGHTS") ",\"args\":[{\"mailbox\":\"INBOX\",\"form\":\"atom\"}]}\n");
    EXPECT("f SETACL INBOX fred RW\r\n",
           "0 ERR 20 RFC 4314 7 mod-rights: rights are [+|-] then lower-case letters and digits\n");
    EXPECT(
        "g SETACL INBOX fred -\r\n",
        "0+23 " CMD(
            "g", "SETACL") ",\"args\":[{\"mailbox\":\"INBOX\",\"form\":\"atom\"},{\"string\":"
                           "\"fred\",\"form\":\"atom\"},{\"string\":\"-\",\"form\":\"atom\"}]}\n");
    EXPECT(
        "h SETMETADATA INBOX (/private/comment {4+}\r\nabcd /shared/x NIL)\r\n",
        "0+65 " CMD(
            "h",
            "SETMETADATA") ",\"args\":[{\"mailbox\":\"INBOX\",\"form\":\"atom\"},{\"list\":[{"
                           "\"string\":\"/private/"
                           "comment\",\"form\":\"atom\"},{\"string\":\"abcd\",\"form\":\"literal+"
                           "\"},{\"string\":\"/shared/x\",\"form\":\"atom\"},{\"nil\":null}]}]}\n");
    EXPECT(
        "i GETMETADATA \"\" /private/comment\r\n",
        "0+35 " CMD("i", "GETMETADATA") ",\"args\":[{\"mailbox\":\"\",\"form\":\"quoted\"},{"
                                        "\"string\":\"/private/comment\",\"form\":\"atom\"}]}\n");
    EXPECT(
        "j GETMETADATA (MAXSIZE 1024 DEPTH infinity) INBOX (/shared/comment /private/comment)\r\n",
        "0+86 " CMD("j",
                    "GETMETADATA") ",\"args\":[{\"list\":[{\"atom\":\"MAXSIZE\"},{\"number\":1024},"
                                   "{\"atom\":\"DEPTH\"},{\"atom\":\"infinity\"}]},{\"mailbox\":"
                                   "\"INBOX\",\"form\":\"atom\"},{\"list\":[{\"string\":\"/shared/"
                                   "comment\",\"form\":\"atom\"},{\"string\":\"/private/"
                                   "comment\",\"form\":\"atom\"}]}]}\n");
    EXPECT("l GETMETADATA (DEPTH 2) INBOX /x\r\n",
           "0 ERR 21 RFC 5464 5 scope-opt: expected 0, 1 or infinity\n");
    EXPECT("m SETMETADATA INBOX (/private/comment ~{3}\r\naxb)\r\n",
           "0+50 " CMD("m", "SETMETADATA") ",\"args\":[{\"mailbox\":\"INBOX\",\"form\":\"atom\"},{"
                                           "\"list\":[{\"string\":\"/private/"
                                           "comment\",\"form\":\"atom\"},{\"string\":\"axb\","
                                           "\"form\":\"literal8\"}]}]}\n");
    EXPECT("n GETMETADATA INBOX \"/private/*\"\r\n",
           "0 ERR 20 RFC 5464 5 entry: an entry name has no \"*\" or \"%\"\n");
    EXPECT("o GETMETADATA (DEPTH 1 DEPTH 0) INBOX /x\r\n",
           "0 ERR 23 RFC 5464 5 getmetadata-option: option given twice\n");
    EXPECT("p SETMETADATA INBOX ()\r\n",
           "0 ERR 21 RFC 5464 5 entry: expected an atom, a quoted string or a literal\n");
    EXPECT("q SETACL INBOX fred\r\n", "0 ERR 19 RFC 9051 9 command: expected SP\n");
    EXPECT("a UID SORT (REVERSE DATE SUBJECT) UTF-8 ALL\r\n",
           "0+45 " CMD("a", "SORT") ",\"uid\":true,\"args\":[{\"list\":[{\"atom\":\"REVERSE\"},{"
                                    "\"atom\":\"DATE\"},{\"atom\":\"SUBJECT\"}]},{\"string\":"
                                    "\"UTF-8\",\"form\":\"atom\"},{\"search\":\"ALL\"}]}\n");
    EXPECT("a THREAD REFERENCES US-ASCII SINCE 1-Feb-1994 UNDELETED\r\n",
           "0+57 " CMD("a", "THREAD") ",\"args\":[{\"atom\":\"REFERENCES\"},{\"string\":"
                                      "\"US-ASCII\",\"form\":\"atom\"},{\"search\":\"SINCE\","
                                      "\"args\":[{\"date\":\"1-Feb-1994\"}]},{\"search\":"
                                      "\"UNDELETED\"}]}\n");
    /* the charset is not optional in SORT/THREAD */
    EXPECT("a SORT (DATE) ALL\r\n", "0 ERR 17 RFC 5256 5 search-criteria: expected SP\n");
    EXPECT("a SORT (REVERSE) UTF-8 ALL\r\n", "0 ERR 8 RFC 5256 5 sort-key: unknown sort key\n");
    EXPECT("a SORT () UTF-8 ALL\r\n", "0 ERR 8 RFC 5256 5 sort-key: unknown sort key\n");
    EXPECT("a GETQUOTAROOT INBOX\r\n",
           "0+22 " CMD("a",
                       "GETQUOTAROOT") ",\"args\":[{\"mailbox\":\"INBOX\",\"form\":\"atom\"}]}\n");
    EXPECT("b GETQUOTA \"\"\r\n",
           "0+15 " CMD("b", "GETQUOTA") ",\"args\":[{\"string\":\"\",\"form\":\"quoted\"}]}\n");
    const char *q = "{\"string\":\"\",\"form\":\"quoted\"},{\"list\":[{\"atom\":\"STORAGE\"},{"
                    "\"number\":512}]}";
    ms_assert_has(run("c SETQUOTA \"\" (STORAGE 512)\r\n"), q);
    assert_int_equal(ms_last_errors, 0);
    EXPECT("c SETQUOTA x (STORAGE)\r\n", "0 ERR 21 RFC 9208 7 setquota-list: expected SP\n");
    EXPECT("a COMPRESS DEFLATE\r\n",
           "0+20 " CMD("a", "COMPRESS") ",\"args\":[{\"atom\":\"DEFLATE\"}]}\n");
}

/* CATENATE (RFC 4469 5), ESORT/CONTEXT return options and CANCELUPDATE (RFC 5267 3.1, 4.2,
 * 4.4; RFC 9394 3 negative ranges), NOTIFY (RFC 5465 8): accepted forms, then refused ones. */
static void test_catenate_context_notify(void **st)
{
    (void)st;
    EXPECT("A003 APPEND Drafts (\\Seen $MDNSent) CATENATE (URL "
           "\"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER\" TEXT {6}\r\n\r\n--\r\n URL "
           "/Drafts;UIDVALIDITY=385759045/;UID=30)\r\n",
           "0+167 "
           "{\"type\":\"command\",\"tag\":\"A003\",\"command\":\"APPEND\",\"args\":[{\"mailbox\":"
           "\"Drafts\",\"form\":\"atom\"},{\"list\":[{\"flag\":\"\\\\Seen\"},{\"flag\":\"$"
           "MDNSent\"}]},{\"atom\":\"CATENATE\"},{\"list\":[{\"atom\":\"URL\"},{\"string\":\"/"
           "Drafts;UIDVALIDITY=385759045/;UID=20/"
           ";section=HEADER\",\"form\":\"quoted\"},{\"atom\":\"TEXT\"},{\"message\":6,\"form\":"
           "\"literal\"},{\"atom\":\"URL\"},{\"string\":\"/Drafts;UIDVALIDITY=385759045/"
           ";UID=30\",\"form\":\"atom\"}]}]}\n");
    EXPECT("a APPEND x CATENATE (TEXT {2+}\r\nab) (\\Seen) {1}\r\nx\r\n",
           "0+52 "
           "{\"type\":\"command\",\"tag\":\"a\",\"command\":\"APPEND\",\"args\":[{\"mailbox\":"
           "\"x\",\"form\":\"atom\"},{\"atom\":\"CATENATE\"},{\"list\":[{\"atom\":\"TEXT\"},{"
           "\"message\":2,\"form\":\"literal+\"}]},{\"list\":[{\"flag\":\"\\\\Seen\"}]},{"
           "\"message\":1,\"form\":\"literal\"}]}\n");
    EXPECT("a APPEND x CATENATE (TEXT \"x\")\r\n",
           "0 ERR 26 RFC 4469 5 text-literal: expected a literal ({n})\n");
    EXPECT("a APPEND x CATENATE ()\r\n", "0 ERR 21 RFC 4469 5 cat-part: expected TEXT or URL\n");
    EXPECT("a APPEND x CATENATE (FOO x)\r\n",
           "0 ERR 21 RFC 4469 5 cat-part: expected TEXT or URL\n");
    EXPECT("a APPEND x CATENATE (URL)\r\n", "0 ERR 24 RFC 4469 5 cat-part: expected SP\n");
    EXPECT("a UID SORT RETURN (MIN COUNT PARTIAL 1:100) (REVERSE DATE) UTF-8 ALL\r\n",
           "0+70 "
           "{\"type\":\"command\",\"tag\":\"a\",\"command\":\"SORT\",\"uid\":true,\"args\":[{"
           "\"atom\":\"RETURN\"},{\"list\":[{\"atom\":\"MIN\"},{\"atom\":\"COUNT\"},{\"atom\":"
           "\"PARTIAL\"},{\"atom\":\"1:100\"}]},{\"list\":[{\"atom\":\"REVERSE\"},{\"atom\":"
           "\"DATE\"}]},{\"string\":\"UTF-8\",\"form\":\"atom\"},{\"search\":\"ALL\"}]}\n");
    EXPECT("a SORT RETURN () (ARRIVAL) UTF-8 ALL\r\n",
           "0+38 "
           "{\"type\":\"command\",\"tag\":\"a\",\"command\":\"SORT\",\"args\":[{\"atom\":"
           "\"RETURN\"},{\"list\":[]},{\"list\":[{\"atom\":\"ARRIVAL\"}]},{\"string\":\"UTF-8\","
           "\"form\":\"atom\"},{\"search\":\"ALL\"}]}\n");
    EXPECT("a SORT RETURN (UPDATE CONTEXT) ARRIVAL UTF-8 ALL\r\n",
           "0 ERR 31 RFC 5256 5 sort-criteria: expected \"(\"\n");
    EXPECT("a SEARCH RETURN (PARTIAL -1:-100 UPDATE CONTEXT SAVE) UNSEEN\r\n",
           "0+62 "
           "{\"type\":\"command\",\"tag\":\"a\",\"command\":\"SEARCH\",\"args\":[{\"atom\":"
           "\"RETURN\"},{\"list\":[{\"atom\":\"PARTIAL\"},{\"atom\":\"-1:-100\"},{\"atom\":"
           "\"UPDATE\"},{\"atom\":\"CONTEXT\"},{\"atom\":\"SAVE\"}]},{\"search\":\"UNSEEN\"}]}\n");
    EXPECT("a SEARCH RETURN (PARTIAL 1:-100) ALL\r\n",
           "0 ERR 27 RFC 5267 4.4 partial-range: a range from the start has no \"-\" on its end\n");
    EXPECT("a SEARCH RETURN (PARTIAL 0:10) ALL\r\n",
           "0 ERR 25 RFC 5267 4.4 partial-range: expected a non-zero number (digit-nz *DIGIT)\n");
    EXPECT("a SEARCH RETURN (PARTIAL) ALL\r\n",
           "0 ERR 24 RFC 5267 4.4 search-return-opt: expected SP\n");
    EXPECT("a SEARCH RETURN (UPDATE UPDATE) ALL\r\n",
           "0 ERR 24 RFC 4731 3.1 search-return-opt: return option given twice\n");
    EXPECT("a SEARCH RETURN (XFOO) ALL\r\n", "0 ERR 17 RFC 9051 9 search-return-opt: expected MIN, "
                                             "MAX, ALL, COUNT, SAVE, UPDATE, CONTEXT or PARTIAL\n");
    EXPECT("b NOTIFY SET STATUS (selected (MessageNew (uid body.peek[header.fields (from to "
           "subject)]) MessageExpunge)) (subtree Lists (MessageNew))\r\n",
           "0+138 "
           "{\"type\":\"command\",\"tag\":\"b\",\"command\":\"NOTIFY\",\"args\":[{\"atom\":\"SET\"}"
           ",{\"atom\":\"STATUS\"},{\"list\":[{\"atom\":\"selected\"},{\"list\":[{\"atom\":"
           "\"MessageNew\"},{\"list\":[{\"fetch\":\"UID\"},{\"fetch\":\"BODY.PEEK\",\"section\":{"
           "\"text\":\"HEADER.FIELDS\",\"headers\":[{\"string\":\"from\",\"form\":\"atom\"},{"
           "\"string\":\"to\",\"form\":\"atom\"},{\"string\":\"subject\",\"form\":\"atom\"}]}}]},{"
           "\"atom\":\"MessageExpunge\"}]}]},{\"list\":[{\"atom\":\"subtree\"},{\"mailbox\":"
           "\"Lists\",\"form\":\"atom\"},{\"list\":[{\"atom\":\"MessageNew\"}]}]}]}\n");
    EXPECT("c NOTIFY NONE\r\n", "0+15 "
                                "{\"type\":\"command\",\"tag\":\"c\",\"command\":\"NOTIFY\","
                                "\"args\":[{\"atom\":\"NONE\"}]}\n");
    EXPECT("d NOTIFY set (Mailboxes (INBOX Drafts) NONE) (inboxes (XFutureEvent)) "
           "(selected-delayed (FlagChange AnnotationChange MailboxName SubscriptionChange "
           "MailboxMetadataChange ServerMetadataChange))\r\n",
           "0+194 "
           "{\"type\":\"command\",\"tag\":\"d\",\"command\":\"NOTIFY\",\"args\":[{\"atom\":\"SET\"}"
           ",{\"list\":[{\"atom\":\"mailboxes\"},{\"list\":[{\"mailbox\":\"INBOX\",\"form\":"
           "\"atom\"},{\"mailbox\":\"Drafts\",\"form\":\"atom\"}]},{\"atom\":\"NONE\"}]},{\"list\":"
           "[{\"atom\":\"inboxes\"},{\"list\":[{\"atom\":\"XFutureEvent\"}]}]},{\"list\":[{"
           "\"atom\":\"selected-delayed\"},{\"list\":[{\"atom\":\"FlagChange\"},{\"atom\":"
           "\"AnnotationChange\"},{\"atom\":\"MailboxName\"},{\"atom\":\"SubscriptionChange\"},{"
           "\"atom\":\"MailboxMetadataChange\"},{\"atom\":\"ServerMetadataChange\"}]}]}]}\n");
    EXPECT("a NOTIFY SET (elsewhere (MessageNew))\r\n",
           "0 ERR 14 RFC 5465 8 filter-mailboxes: expected selected, selected-delayed, inboxes, "
           "personal, subscribed, subtree or mailboxes\n");
    EXPECT("a NOTIFY SET\r\n", "0 ERR 12 RFC 5465 8 notify-set: expected SP\n");
    EXPECT("a NOTIFY SET (selected ())\r\n",
           "0 ERR 24 RFC 5465 8 event-ext: expected an event name\n");
    EXPECT("a NOTIFY SET (mailboxes (MessageNew))\r\n",
           "0 ERR 36 RFC 5465 8 event-group: expected SP\n");
    EXPECT("a NOTIFY SET (selected (MessageNew (FOO)))\r\n",
           "0 ERR 36 RFC 9051 9 fetch-att: unknown FETCH attribute\n");
    EXPECT("a NOTIFY SET (personal (MessageNew MessageExpunge)) \r\n",
           "0 ERR 51 RFC 9051 9 command: trailing SP before CRLF\n");
    EXPECT("a NOTIFY\r\n", "0 ERR 8 RFC 5465 8 notify: expected SP\n");
    EXPECT("a CANCELUPDATE \"A01\" \"B02\"\r\n",
           "0+28 "
           "{\"type\":\"command\",\"tag\":\"a\",\"command\":\"CANCELUPDATE\",\"args\":[{\"string\":"
           "\"A01\",\"form\":\"quoted\"},{\"string\":\"B02\",\"form\":\"quoted\"}]}\n");
    EXPECT("a CANCELUPDATE\r\n",
           "0+16 {\"type\":\"command\",\"tag\":\"a\",\"command\":\"CANCELUPDATE\"}\n");
    EXPECT("a CANCELUPDATE A01\r\n",
           "0 ERR 15 RFC 5267 4.2 cancelupdate: expected the tag of a search, quoted\n");
    EXPECT("a CANCELUPDATE \"A01\" \r\n", "0 ERR 20 RFC 9051 9 command: trailing SP before CRLF\n");
    EXPECT("a NOTIFY SET (personal (MessageNew MessageExpunge))(inboxes NONE)\r\n",
           "0 ERR 51 RFC 5465 8 event-groups: expected SP\n");
    EXPECT("a NOTIFY SET STATUSX (inboxes NONE)\r\n",
           "0 ERR 13 RFC 5465 8 event-group: expected \"(\"\n");
    EXPECT("a NOTIFY SET (subtree (INBOX) NONE)\r\n",
           "0+37 "
           "{\"type\":\"command\",\"tag\":\"a\",\"command\":\"NOTIFY\",\"args\":[{\"atom\":\"SET\"}"
           ",{\"list\":[{\"atom\":\"subtree\"},{\"list\":[{\"mailbox\":\"INBOX\",\"form\":\"atom\"}"
           "]},{\"atom\":\"NONE\"}]}]}\n");
    EXPECT("a SORT RETURN (ALL) (DATE) UTF-8 ALL\r\n",
           "0+38 "
           "{\"type\":\"command\",\"tag\":\"a\",\"command\":\"SORT\",\"args\":[{\"atom\":"
           "\"RETURN\"},{\"list\":[{\"atom\":\"ALL\"}]},{\"list\":[{\"atom\":\"DATE\"}]},{"
           "\"string\":\"UTF-8\",\"form\":\"atom\"},{\"search\":\"ALL\"}]}\n");
    /* canonical forms: keywords upper case, NOTIFY filters and events as RFC 5465 spells them */
    assert_string_equal(rewrite("a uid sort return (min partial 1:5) (date) utf-8 all\r\n"),
                        "a UID SORT RETURN (MIN PARTIAL 1:5) (DATE) utf-8 ALL\r\n");
    assert_string_equal(
        rewrite(
            "a notify set status (SELECTED (messagenew (uid) messageexpunge)) (INBOXES none)\r\n"),
        "a NOTIFY SET STATUS (selected (MessageNew (UID) MessageExpunge)) (inboxes NONE)\r\n");
    assert_string_equal(rewrite("a append x catenate (text {1+}\r\nx url \"/a\")\r\n"),
                        "a APPEND x CATENATE (TEXT {1+}\r\nx URL \"/a\")\r\n");
}

/* The code of every kind of error: syntax, each limit at and one over it,
 * truncated input. */
static const char *codes(const struct ms_limits *lim, const char *in)
{
    return ms_check_codes(&ms_imap_commands_kind, lim, in, strlen(in));
}

static void test_error_codes(void **st)
{
    struct ms_limits lim;
    (void)st;
    ms_limits_default(&lim);

    /* syntax */
    assert_string_equal(codes(&lim, "a1 FOO\r\n"), "syntax");
    assert_string_equal(codes(&lim, "a1 NOOP\n"), "syntax");
    assert_string_equal(codes(&lim, "a1 IDLE\r\nDONX\r\n"), "syntax");
    assert_string_equal(codes(&lim, "a1 IDLE\r\nDONE\r\n"), "");
    /* truncated: inside a line, inside a literal */
    assert_string_equal(codes(&lim, "a1 NOOP"), "truncated");
    assert_string_equal(codes(&lim, "a1 LOGIN {4}\r\nab"), "truncated");
    /* line, 16 bytes with CRLF */
    lim.imap_line = 16;
    assert_string_equal(codes(&lim, "a1 LOGIN ab cd\r\n"), "");
    assert_string_equal(codes(&lim, "a1 LOGIN abc cd\r\n"), "limit");
    ms_limits_default(&lim);
    /* literal size; above 32 bits too (RFC 9051 literals are number64) */
    lim.imap_literal = 4;
    assert_string_equal(codes(&lim, "a1 LOGIN {4}\r\nabcd cd\r\n"), "");
    assert_string_equal(codes(&lim, "a1 LOGIN {5}\r\n"), "limit");
    ms_limits_default(&lim);
    assert_string_equal(codes(&lim, "a1 LOGIN {4294967296}\r\n"), "limit");
    assert_string_equal(codes(&lim, "a1 LOGIN {99999999999}\r\n"), "limit");
    /* whole message, literals included */
    lim.imap_message = 23;
    assert_string_equal(codes(&lim, "a1 LOGIN {4}\r\nabcd cd\r\n"), "");
    lim.imap_message = 22;
    assert_string_equal(codes(&lim, "a1 LOGIN {4}\r\nabcd cd\r\n"), "limit");
    ms_limits_default(&lim);
    /* nesting of search keys (the key list itself is depth 1) */
    lim.imap_depth = 2;
    assert_string_equal(codes(&lim, "a1 SEARCH (SEEN)\r\n"), "");
    assert_string_equal(codes(&lim, "a1 SEARCH ((SEEN))\r\n"), "limit");
    ms_limits_default(&lim);
    /* items of one list */
    lim.imap_items = 2;
    assert_string_equal(codes(&lim, "a1 FETCH 1 (FLAGS UID)\r\n"), "");
    assert_string_equal(codes(&lim, "a1 FETCH 1 (FLAGS UID RFC822.SIZE)\r\n"), "limit");
    ms_limits_default(&lim);
    /* the view's capacity (MS_IMAP_CMD_NODES): 2047 search keys fit, 2048 do not */
    static char big[16384];
    for (size_t keys = 2047; keys <= 2048; keys++) {
        size_t n = 0;
        memcpy(big, "a1 SEARCH", 9);
        n += 9;
        for (size_t i = 0; i < keys; i++, n += 5)
            memcpy(big + n, " SEEN", 5);
        memcpy(big + n, "\r\n", 2);
        n += 2;
        assert_string_equal(ms_check_codes(&ms_imap_commands_kind, &lim, big, n),
                            keys == 2047 ? "" : "limit");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple),
        cmocka_unit_test(test_tag),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_authenticate),
        cmocka_unit_test(test_idle),
        cmocka_unit_test(test_mailbox),
        cmocka_unit_test(test_seqset),
        cmocka_unit_test(test_fetch),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_items),
        cmocka_unit_test(test_store),
        cmocka_unit_test(test_append),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_status_select_id),
        cmocka_unit_test(test_session),
        cmocka_unit_test(test_every_item),
        cmocka_unit_test(test_extensions),
        cmocka_unit_test(test_bare_lf),
        cmocka_unit_test(test_error_codes),
        cmocka_unit_test(test_catenate_context_notify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
