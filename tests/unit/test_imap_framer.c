/* Unit tests of the IMAP framer (RFC 9051 4.3, 7888, 3516) on both sides. */
#include <stdlib.h>
#include <string.h>

#include "frame_kinds.h"
#include "harness.h"
#include "mailspec/imap_framer.h"

/* Run the stateless and the resumable framer: both must give the same frames. */
static const char *run(const struct ms_kind *k, const struct ms_limits *lim, const char *in,
                       size_t len)
{
    static char *first;
    const struct ms_kind *twin =
        k == &ms_imap_server_frames ? &ms_imap_server_frames_r : &ms_imap_client_frames_r;

    free(first);
    first = strdup(ms_check(k, lim, in, len));
    assert_non_null(first);
    const char *second = ms_check(twin, lim, in, len);
    assert_string_equal(first, second);
    return second;
}

static const char *srv(const char *in)
{
    struct ms_limits lim;
    ms_limits_default(&lim);
    return run(&ms_imap_server_frames, &lim, in, strlen(in));
}

static const char *cli(const char *in)
{
    struct ms_limits lim;
    ms_limits_default(&lim);
    return run(&ms_imap_client_frames, &lim, in, strlen(in));
}

static void test_lines(void **st)
{
    (void)st;
    assert_string_equal(srv("* OK hi\r\na1 OK done\r\n"), "0+9 {\"msg\":\"* OK hi\\r\\n\"}\n"
                                                          "9+12 {\"msg\":\"a1 OK done\\r\\n\"}\n");
    /* empty line is a (bad, but framed) message of its own */
    assert_string_equal(srv("\r\n"), "0+2 {\"msg\":\"\\r\\n\"}\n");
    /* input ends inside a message */
    assert_string_equal(srv("* OK"), "0 ERR 4 end of input: input ends inside a message\n");
}

static void test_literals(void **st)
{
    (void)st;
    /* server: {n} and ~{n}; literal bytes may hold CR, LF, "{9}" */
    assert_string_equal(srv("* 1 FETCH (BODY[] {5}\r\na\r\nb} UID 3)\r\n* 2 EXISTS\r\n"),
                        "0+37 {\"msg\":\"* 1 FETCH (BODY[] {5}\\r\\na\\r\\nb} UID 3)\\r\\n\"}\n"
                        "37+12 {\"msg\":\"* 2 EXISTS\\r\\n\"}\n");
    static const char l8[] = "* 1 FETCH (BINARY[] ~{3}\r\n\0\r\n)\r\n";
    struct ms_limits lim;
    ms_limits_default(&lim);
    assert_string_equal(run(&ms_imap_server_frames, &lim, l8, sizeof(l8) - 1),
                        "0+32 {\"msg\":\"* 1 FETCH (BINARY[] ~{3}\\r\\n\\u0000\\r\\n)\\r\\n\"}\n");
    /* literal whose bytes end in "{2}\r\n": not an announcement, they are data */
    assert_string_equal(srv("* X {5}\r\n{2}\r\n\r\n"),
                        "0+16 {\"msg\":\"* X {5}\\r\\n{2}\\r\\n\\r\\n\"}\n");
    /* several literals, an empty one */
    assert_string_equal(srv("* X {0}\r\n {1}\r\nz\r\n"),
                        "0+18 {\"msg\":\"* X {0}\\r\\n {1}\\r\\nz\\r\\n\"}\n");
    /* client: {n+} and {n-} too; the server side does not take them as literals */
    assert_string_equal(cli("a APPEND x {3+}\r\nabc\r\n"),
                        "0+22 {\"msg\":\"a APPEND x {3+}\\r\\nabc\\r\\n\"}\n");
    assert_string_equal(cli("a APPEND x {3-}\r\nabc\r\n"),
                        "0+22 {\"msg\":\"a APPEND x {3-}\\r\\nabc\\r\\n\"}\n");
    assert_string_equal(srv("* X {3+}\r\nabc\r\n"), "0+10 {\"msg\":\"* X {3+}\\r\\n\"}\n"
                                                    "10+5 {\"msg\":\"abc\\r\\n\"}\n");
    /* not announcements: "{}", "{x}", no "{" */
    assert_string_equal(srv("* X {}\r\n"), "0+8 {\"msg\":\"* X {}\\r\\n\"}\n");
    assert_string_equal(srv("* X 5}\r\n"), "0+8 {\"msg\":\"* X 5}\\r\\n\"}\n");
    /* a line that is only an announcement is one too */
    assert_string_equal(srv("{5}\r\n"), "0 ERR 5 end of input: input ends inside a message\n");
    /* a short literal: the input ends inside the message */
    assert_string_equal(srv("* X {5}\r\nabc"),
                        "0 ERR 12 end of input: input ends inside a message\n");
}

static void test_limits(void **st)
{
    struct ms_limits lim;
    (void)st;
    /* 2^32-1 is a number, 2^32 is not */
    ms_limits_default(&lim);
    lim.imap_literal = UINT32_MAX;
    const char *big = "* X {4294967296}\r\n";
    assert_string_equal(run(&ms_imap_server_frames, &lim, big, strlen(big)),
                        "0 ERR 5 RFC 9051 9 literal: literal size above 4294967295 (32-bit "
                        "number)\n");
    const char *zeros = "* X {00000000001}\r\n";
    assert_string_equal(run(&ms_imap_server_frames, &lim, zeros, strlen(zeros)),
                        "0 ERR 5 RFC 9051 9 literal: literal size above 4294967295 (32-bit "
                        "number)\n");
    /* literal limit and limit + 1 */
    lim.imap_literal = 4;
    const char *ok = "* X {4}\r\nabcd\r\n";
    assert_string_equal(run(&ms_imap_server_frames, &lim, ok, strlen(ok)),
                        "0+15 {\"msg\":\"* X {4}\\r\\nabcd\\r\\n\"}\n");
    const char *over = "* X {5}\r\nabcde\r\n";
    assert_string_equal(run(&ms_imap_server_frames, &lim, over, strlen(over)),
                        "0 ERR 5 RFC 9051 9 literal: literal larger than the limit\n"
                        "9+7 {\"msg\":\"abcde\\r\\n\"}\n");
    /* line limit (CRLF included) and limit + 1 */
    ms_limits_default(&lim);
    lim.imap_line = 8;
    const char *l8 = "* 1 XY\r\n";
    assert_string_equal(run(&ms_imap_server_frames, &lim, l8, strlen(l8)),
                        "0+8 {\"msg\":\"* 1 XY\\r\\n\"}\n");
    const char *l9 = "* 1 XYZ\r\n";
    assert_string_equal(run(&ms_imap_server_frames, &lim, l9, strlen(l9)),
                        "0 ERR 8 RFC 9051 4 CRLF: line longer than the limit\n");
    /* the line limit applies to each line of a message, literals excluded */
    const char *ll = "* {10}\r\n0123456789 X\r\n";
    assert_string_equal(run(&ms_imap_server_frames, &lim, ll, strlen(ll)),
                        "0+22 {\"msg\":\"* {10}\\r\\n0123456789 X\\r\\n\"}\n");
    /* message limit and limit + 1 */
    ms_limits_default(&lim);
    lim.imap_message = 16;
    const char *m16 = "* {3}\r\nabc XY\r\n"; /* 15 bytes */
    assert_string_equal(run(&ms_imap_server_frames, &lim, m16, strlen(m16)),
                        "0+15 {\"msg\":\"* {3}\\r\\nabc XY\\r\\n\"}\n");
    const char *m17 = "* {3}\r\nabc XYZW\r\n"; /* 17 bytes */
    assert_string_equal(run(&ms_imap_server_frames, &lim, m17, strlen(m17)),
                        "0 ERR 16 RFC 9051 4 CRLF: message longer than the limit\n");
    const char *mlit = "* {10}\r\n0123456789\r\n";
    assert_string_equal(run(&ms_imap_server_frames, &lim, mlit, strlen(mlit)),
                        "0 ERR 3 RFC 9051 9 literal: message with this literal is longer "
                        "than the limit\n"
                        "8+12 {\"msg\":\"0123456789\\r\\n\"}\n");
}

static void test_bare(void **st)
{
    (void)st;
    assert_string_equal(srv("* OK a\nb\r\n* OK\r\n"),
                        "0 ERR 6 RFC 9051 4 CRLF: bare LF: lines end with CRLF\n"
                        "7+3 {\"msg\":\"b\\r\\n\"}\n"
                        "10+6 {\"msg\":\"* OK\\r\\n\"}\n");
    assert_string_equal(srv("* OK a\rb\r\n* OK\r\n"),
                        "0 ERR 6 RFC 9051 4 CRLF: bare CR inside a line\n"
                        "10+6 {\"msg\":\"* OK\\r\\n\"}\n");
    /* bare LF after a literal, on the continuation line */
    assert_string_equal(srv("* X {1}\r\nz\n"),
                        "0 ERR 10 RFC 9051 4 CRLF: bare LF: lines end with CRLF\n");
    assert_string_equal(srv("\n"), "0 ERR 0 RFC 9051 4 CRLF: bare LF: lines end with CRLF\n");
    /* NUL and 8-bit bytes are the parser's business, not the framer's */
    const char nul[] = "* OK \0\xff\r\n";
    struct ms_limits lim;
    ms_limits_default(&lim);
    assert_string_equal(run(&ms_imap_server_frames, &lim, nul, sizeof(nul) - 1),
                        "0+9 {\"msg\":\"* OK \\u0000\\u00ff\\r\\n\"}\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_bare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
