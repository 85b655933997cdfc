/* POP3 commands and replies: every rule, limit and limit+1, framing, sessions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const struct ms_kind *const CMD = &ms_pop3_commands_kind;

/* ---- a replies kind whose init sets the pending commands (every split) ---- */

static char g_pending[1024];
static struct ms_kind g_rep;

static void rep_init_pending(void *state, const struct ms_limits *lim)
{
    const char *spec = g_pending;
    size_t len = strnlen(g_pending, sizeof(g_pending));

    ms_pop3_replies_kind.init(state, lim);
    /* "-" first: the greeting is still to come; otherwise it has been seen. */
    if (len == 0 || spec[0] != '-')
        ms_pop3_replies_skip_greeting(state);
    /* words separated by " " or "-"; "RETR+" = RETR with an argument */
    for (size_t i = 0; i < len;) {
        if (spec[i] == ' ' || spec[i] == '-') {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && spec[i] != ' ' && spec[i] != '-')
            i++;
        size_t n = i - start;
        int arg = spec[i - 1] == '+';
        if (arg)
            n--;
        int found = 0;
        for (int c = MS_POP3_USER; c <= MS_POP3_LANG; c++) {
            const char *name = ms_pop3_cmd_name((enum ms_pop3_cmd)c);
            if (strlen(name) == n && memcmp(name, spec + start, n) == 0) {
                ms_pop3_replies_expect(state, (enum ms_pop3_cmd)c, arg);
                found = 1;
            }
        }
        if (!found)
            fail_msg("bad pending spec %.*s", (int)n, spec + start);
    }
}

/* Replies with pending commands ("RETR+" = with an argument; "-" first = greeting). */
static const char *rep_n(const char *pending, uint32_t lenient, const char *in, size_t len)
{
    struct ms_limits lim;

    ms_limits_default(&lim);
    lim.lenient = lenient;
    snprintf(g_pending, sizeof(g_pending), "%s", pending);
    g_rep = ms_pop3_replies_kind;
    g_rep.init = rep_init_pending;
    return ms_check(&g_rep, &lim, in, len);
}

static const char *rep(const char *pending, uint32_t lenient, const char *in)
{
    return rep_n(pending, lenient, in, strlen(in));
}

static const char *cmd(uint32_t lenient, const char *in)
{
    return ms_check_str(CMD, lenient, in);
}

static const char *repeat(char ch, size_t n)
{
    static char buf[4][16384];
    static int k;
    char *b = buf[k++ % 4];
    memset(b, ch, n);
    b[n] = '\0';
    return b;
}

/* ---- commands ---- */

static void test_cmd_all(void **st)
{
    (void)st;
    const char *r = cmd(0, "USER bob\r\nPASS sec ret \r\nAPOP mrose "
                           "c4c9334bac560ecc979e58001b3e22fb\r\nSTAT\r\nLIST\r\nLIST 2\r\n"
                           "RETR 1\r\nDELE 1\r\nNOOP\r\nRSET\r\nTOP 1 10\r\nUIDL\r\nUIDL 3\r\n"
                           "CAPA\r\nSTLS\r\nUTF8\r\nQUIT\r\n");
    assert_string_equal(
        r, "0+10 {\"type\":\"command\",\"command\":\"USER\",\"name\":\"bob\"}\n"
           "10+15 {\"type\":\"command\",\"command\":\"PASS\",\"password\":\"sec ret \"}\n"
           "25+45 {\"type\":\"command\",\"command\":\"APOP\",\"name\":\"mrose\","
           "\"digest\":\"c4c9334bac560ecc979e58001b3e22fb\"}\n"
           "70+6 {\"type\":\"command\",\"command\":\"STAT\"}\n"
           "76+6 {\"type\":\"command\",\"command\":\"LIST\"}\n"
           "82+8 {\"type\":\"command\",\"command\":\"LIST\",\"msg\":2}\n"
           "90+8 {\"type\":\"command\",\"command\":\"RETR\",\"msg\":1}\n"
           "98+8 {\"type\":\"command\",\"command\":\"DELE\",\"msg\":1}\n"
           "106+6 {\"type\":\"command\",\"command\":\"NOOP\"}\n"
           "112+6 {\"type\":\"command\",\"command\":\"RSET\"}\n"
           "118+10 {\"type\":\"command\",\"command\":\"TOP\",\"msg\":1,\"lines\":10}\n"
           "128+6 {\"type\":\"command\",\"command\":\"UIDL\"}\n"
           "134+8 {\"type\":\"command\",\"command\":\"UIDL\",\"msg\":3}\n"
           "142+6 {\"type\":\"command\",\"command\":\"CAPA\"}\n"
           "148+6 {\"type\":\"command\",\"command\":\"STLS\"}\n"
           "154+6 {\"type\":\"command\",\"command\":\"UTF8\"}\n"
           "160+6 {\"type\":\"command\",\"command\":\"QUIT\"}\n");
    /* keywords are case-insensitive (RFC 1939 3); the writer upper-cases them */
    r = cmd(0, "retr 7\r\nQuIt\r\ntop 1 0\r\nlist 007\r\n");
    assert_string_equal(r, "0+8 {\"type\":\"command\",\"command\":\"RETR\",\"msg\":7}\n"
                           "8+6 {\"type\":\"command\",\"command\":\"QUIT\"}\n"
                           "14+9 {\"type\":\"command\",\"command\":\"TOP\",\"msg\":1,\"lines\":0}\n"
                           "23+10 {\"type\":\"command\",\"command\":\"LIST\",\"msg\":7}\n");
}

static void test_cmd_errors(void **st)
{
    (void)st;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"FOO\r\n", "0 ERR 0 RFC 1939 3: unknown command\n"},
        {"XTND XMIT\r\n", "0 ERR 0 RFC 1939 3: unknown command\n"},
        {"RETRIEVE 1\r\n", "0 ERR 0 RFC 1939 3: keywords are 3 or 4 characters\n"},
        {"RE\r\n", "0 ERR 0 RFC 1939 3: keywords are 3 or 4 characters\n"},
        {"\r\n", "0 ERR 0 RFC 1939 3: expected a command keyword\n"},
        {" STAT\r\n", "0 ERR 0 RFC 1939 3: expected a command keyword\n"},
        {"STAT 1\r\n", "0 ERR 5 RFC 1939 3: this command takes no arguments\n"},
        {"QUIT now\r\n", "0 ERR 5 RFC 1939 3: this command takes no arguments\n"},
        {"RETR\r\n", "0 ERR 4 RFC 1939 3: needs a message number\n"},
        {"DELE 1 2\r\n", "0 ERR 7 RFC 1939 3: takes one argument, a message number\n"},
        {"RETR 0\r\n", "0 ERR 5 RFC 1939 5: message numbers start at 1\n"},
        {"RETR -1\r\n", "0 ERR 5 RFC 1939 5: expected a message number (digits)\n"},
        {"RETR 1a\r\n", "0 ERR 6 RFC 1939 5: expected a message number (digits)\n"},
        {"LIST 1 2\r\n", "0 ERR 7 RFC 1939 3: takes at most one argument, a message number\n"},
        {"UIDL x\r\n", "0 ERR 5 RFC 1939 5: expected a message number (digits)\n"},
        {"TOP 1\r\n", "0 ERR 5 RFC 1939 3: TOP needs a message number and a line count\n"},
        {"TOP 1 2 3\r\n", "0 ERR 8 RFC 1939 3: TOP takes two arguments\n"},
        {"TOP 1 x\r\n", "0 ERR 6 RFC 1939 5: expected a line count (digits)\n"},
        {"USER\r\n", "0 ERR 4 RFC 1939 3: USER needs a mailbox name\n"},
        {"USER a b\r\n", "0 ERR 7 RFC 1939 3: USER takes one argument\n"},
        {"PASS\r\n", "0 ERR 4 RFC 1939 7: PASS needs a password\n"},
        {"PASS \r\n", "0 ERR 5 RFC 1939 7: PASS needs a password\n"},
        {"APOP bob\r\n", "0 ERR 8 RFC 1939 3: APOP needs a name and a digest\n"},
        {"APOP bob C4C9334BAC560ECC979E58001B3E22FB\r\n",
         "0 ERR 9 RFC 1939 7: the digest is 32 lower-case hex digits\n"},
        {"APOP bob c4c9334bac560ecc979e58001b3e22f\r\n",
         "0 ERR 9 RFC 1939 7: the digest is 32 lower-case hex digits\n"},
        {"RETR  1\r\n", "0 ERR 5 RFC 1939 3: one SP between arguments, not several\n"},
        {"RETR 1 \r\n", "0 ERR 6 RFC 1939 3: trailing space after the command\n"},
        {"STAT \r\n", "0 ERR 4 RFC 1939 3: trailing space after the command\n"},
        {"STAT\tx\r\n", "0 ERR 4 RFC 1939 3: expected SP or CRLF after the keyword\n"},
        {"AUTH\r\n", "0 ERR 4 RFC 1939 3: AUTH needs a mechanism name\n"},
        {"AUTH PL@IN\r\n",
         "0 ERR 7 RFC 4422 3.1: SASL mechanism names are letters, digits, - and _\n"},
        {"AUTH ABCDEFGHIJKLMNOPQRSTU\r\n",
         "0 ERR 25 RFC 4422 3.1: SASL mechanism names are at most 20 characters\n"},
        {"AUTH PLAIN abc\r\n", "0 ERR 11 RFC 5034 4: the initial response is not base64\n"},
        {"AUTH PLAIN a=bc\r\n", "0 ERR 11 RFC 5034 4: the initial response is not base64\n"},
        {"AUTH PLAIN AAAA x\r\n",
         "0 ERR 16 RFC 1939 3: AUTH takes a mechanism and an optional initial response\n"},
        /* NUL, 8-bit, control bytes */
        {"USER a\0b\r\n", "0 ERR 6 RFC 1939 3: NUL in a command line\n"},
        {"USER \xc3\xa9\r\n", "0 ERR 5 RFC 1939 3: 8-bit byte: arguments are printable US-ASCII\n"},
        {"USER a\x01\r\n",
         "0 ERR 6 RFC 1939 3: control character: arguments are printable US-ASCII\n"},
        {"PASS a\x7f\r\n",
         "0 ERR 6 RFC 1939 3: control character: arguments are printable US-ASCII\n"},
        /* bare CR, bare LF, truncated */
        {"NO\rOP\r\n", "0 ERR 2 RFC 2449 4: bare CR inside a line\n"},
        {"NOOP\nQUIT\r\n", "0 ERR 4 RFC 2449 4: bare LF: lines end with CRLF\n"
                           "5+6 {\"type\":\"command\",\"command\":\"QUIT\"}\n"},
        {"RETR 1", "0 ERR 6 end of input: input ends inside a message\n"},
        {"RETR 1\r", "0 ERR 7 end of input: input ends inside a message\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ms_limits lim;
        ms_limits_default(&lim);
        /* explicit length: some cases hold a NUL */
        size_t len = strlen(cases[i].in);
        if (strncmp(cases[i].in, "USER a", 6) == 0 && cases[i].in[6] == '\0')
            len = 10;
        const char *r = ms_check(CMD, &lim, cases[i].in, len);
        if (strcmp(r, cases[i].want) != 0)
            fail_msg("case %zu %s\nwant %sgot  %s", i, cases[i].in, cases[i].want, r);
    }
    /* errors resynchronise: the next command parses */
    const char *r = cmd(0, "RETR 0\r\nNOOP\r\n");
    assert_string_equal(r, "0 ERR 5 RFC 1939 5: message numbers start at 1\n"
                           "8+6 {\"type\":\"command\",\"command\":\"NOOP\"}\n");
}

static void test_cmd_numbers(void **st)
{
    (void)st;
    /* message numbers: 2^32-1 is the largest, 2^32 overflows */
    assert_string_equal(cmd(0, "RETR 4294967295\r\n"),
                        "0+17 {\"type\":\"command\",\"command\":\"RETR\",\"msg\":4294967295}\n");
    assert_string_equal(cmd(0, "RETR 4294967296\r\n"),
                        "0 ERR 5 RFC 1939 5: message number above 4294967295\n");
    assert_string_equal(cmd(0, "DELE 18446744073709551616\r\n"),
                        "0 ERR 5 RFC 1939 5: message number above 4294967295\n");
    /* TOP's line count: 2^64-1 fits, 2^64 does not */
    assert_string_equal(cmd(0, "TOP 1 18446744073709551615\r\n"),
                        "0+28 {\"type\":\"command\",\"command\":\"TOP\",\"msg\":1,"
                        "\"lines\":18446744073709551615}\n");
    assert_string_equal(cmd(0, "TOP 1 18446744073709551616\r\n"),
                        "0 ERR 6 RFC 1939 5: line count above 2^64-1\n");
    /* up to 9 digits are read inline, longer runs by ms_number_parse: the
     * same values and errors either side of the switch */
    assert_string_equal(cmd(0, "RETR 999999999\r\n"),
                        "0+16 {\"type\":\"command\",\"command\":\"RETR\",\"msg\":999999999}\n");
    assert_string_equal(cmd(0, "RETR 1000000000\r\n"),
                        "0+17 {\"type\":\"command\",\"command\":\"RETR\",\"msg\":1000000000}\n");
    assert_string_equal(cmd(0, "RETR 000000000\r\n"),
                        "0 ERR 5 RFC 1939 5: message numbers start at 1\n");
    assert_string_equal(cmd(0, "RETR 0000000000\r\n"),
                        "0 ERR 5 RFC 1939 5: message numbers start at 1\n");
    assert_string_equal(cmd(0, "LIST 00000000004294967295\r\n"),
                        "0+27 {\"type\":\"command\",\"command\":\"LIST\",\"msg\":4294967295}\n");
    assert_string_equal(cmd(0, "LIST 99999999999\r\n"),
                        "0 ERR 5 RFC 1939 5: message number above 4294967295\n");
    assert_string_equal(cmd(0, "DELE 12345678901x\r\n"),
                        "0 ERR 16 RFC 1939 5: expected a message number (digits)\n");
}

/*
 * The keyword lookup (one 32-bit switch, proto.c): every keyword in upper,
 * lower and mixed case is its command; one letter off, or one byte too few
 * or too many, is not.
 */
static void test_cmd_keywords(void **st)
{
    (void)st;
    static const char *const args[MS_POP3_CMD_COUNT] = {
        [MS_POP3_USER] = " bob",
        [MS_POP3_PASS] = " x",
        [MS_POP3_APOP] = " bob c4c9334bac560ecc979e58001b3e22fb",
        [MS_POP3_RETR] = " 1",
        [MS_POP3_DELE] = " 1",
        [MS_POP3_TOP] = " 1 2",
        [MS_POP3_AUTH] = " PLAIN =",
    };
    for (int c = MS_POP3_USER; c <= MS_POP3_LANG; c++) {
        const char *name = ms_pop3_cmd_name((enum ms_pop3_cmd)c);
        size_t n = strlen(name);
        char want[64], in[96], kw[8];
        snprintf(want, sizeof(want), "{\"type\":\"command\",\"command\":\"%s\"", name);
        for (int variant = 0; variant < 3; variant++) {
            for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char)name[i];
                int low = variant == 1 || (variant == 2 && i % 2 == 1);
                kw[i] = (char)(low && ch >= 'A' && ch <= 'Z' ? ch | 0x20 : ch);
            }
            kw[n] = '\0';
            snprintf(in, sizeof(in), "%s%s\r\n", kw, args[c] ? args[c] : "");
            ms_assert_has(cmd(0, in), want);
        }
        /* the last letter one off: no keyword ends like that */
        memcpy(kw, name, n + 1);
        kw[n - 1] = (char)(kw[n - 1] + 1);
        snprintf(in, sizeof(in), "%s\r\n", kw);
        assert_string_equal(cmd(0, in), "0 ERR 0 RFC 1939 3: unknown command\n");
        /* one byte more, one byte less */
        snprintf(in, sizeof(in), "%sS\r\n", name);
        assert_string_equal(cmd(0, in), n == 4
                                            ? "0 ERR 0 RFC 1939 3: keywords are 3 or 4 characters\n"
                                            : "0 ERR 0 RFC 1939 3: unknown command\n");
        snprintf(in, sizeof(in), "%.*s\r\n", (int)(n - 1), name);
        assert_string_equal(cmd(0, in), n == 3
                                            ? "0 ERR 0 RFC 1939 3: keywords are 3 or 4 characters\n"
                                            : "0 ERR 0 RFC 1939 3: unknown command\n");
    }
    /* bytes that equal a keyword letter once bit 0x20 is set are not letters */
    assert_string_equal(cmd(0, "{UIT\r\n"), "0 ERR 0 RFC 1939 3: unknown command\n");
    assert_string_equal(cmd(0, "QUI\x7f\r\n"), "0 ERR 0 RFC 1939 3: unknown command\n");
    assert_string_equal(cmd(0, "TO@\r\n"), "0 ERR 0 RFC 1939 3: unknown command\n");
    assert_string_equal(cmd(0, "TOP\r\n"),
                        "0 ERR 3 RFC 1939 3: TOP needs a message number and a line count\n");
}

/*
 * A strict CRLF line is parsed without a search for CR first (command.c):
 * a bare CR must still be reported as such wherever it is, and a failed
 * first attempt must leave no trace (AUTH's SASL state, UTF8, quirks).
 */
static void test_cmd_bare_cr_fast_path(void **st)
{
    (void)st;
    assert_string_equal(cmd(0, "RETR 1\r2\r\n"), "0 ERR 6 RFC 2449 4: bare CR inside a line\n");
    assert_string_equal(cmd(0, "PASS a\rb\r\n"), "0 ERR 6 RFC 2449 4: bare CR inside a line\n");
    assert_string_equal(cmd(0, "STAT\r\r\n"), "0 ERR 4 RFC 2449 4: bare CR inside a line\n");
    assert_string_equal(cmd(0, "\r\r\n"), "0 ERR 0 RFC 2449 4: bare CR inside a line\n");
    /* the SASL line after AUTH: still one, after a bad one the next is a command */
    assert_string_equal(cmd(0, "AUTH PLAIN\r\nAA\rAA\r\nSTAT\r\n"),
                        "0+12 {\"type\":\"command\",\"command\":\"AUTH\",\"mechanism\":\"PLAIN\"}\n"
                        "12 ERR 14 RFC 5034 4: bare CR inside a line\n"
                        "19+6 {\"type\":\"command\",\"command\":\"STAT\"}\n");
    /* a bad AUTH line does not start an exchange, a bad UTF8 does not enable UTF-8 */
    assert_string_equal(cmd(0, "AUTH PLAIN\r\r\nSTAT\r\n"),
                        "0 ERR 10 RFC 2449 4: bare CR inside a line\n"
                        "13+6 {\"type\":\"command\",\"command\":\"STAT\"}\n");
    assert_string_equal(cmd(0, "UTF8\r\r\nUSER b\xc3\xa9\r\n"),
                        "0 ERR 4 RFC 2449 4: bare CR inside a line\n"
                        "7 ERR 13 RFC 1939 3: 8-bit byte: arguments are printable US-ASCII\n");
    /* quirks of a failed attempt are not kept: the lenient retry reports its own */
    assert_string_equal(cmd(MS_LENIENT_8BIT, "USER \xe9\rx\r\nUSER \xe9\r\n"),
                        "0 ERR 6 RFC 2449 4: bare CR inside a line\n"
                        "10+8 {\"type\":\"command\",\"command\":\"USER\",\"name\":\"\\u00e9\","
                        "\"quirks\":[{\"offset\":5,\"rule\":\"RFC 1939 3\",\"reason\":\"8-bit "
                        "byte in an argument\"}]}\n");
}

static void test_cmd_limits(void **st)
{
    char buf[600];
    (void)st;
    /* RFC 2449 4: 255 octets including CRLF */
    snprintf(buf, sizeof(buf), "USER %s\r\n", repeat('x', 248));
    assert_int_equal(strlen(buf), 255);
    ms_assert_has(cmd(0, buf), "0+255 {\"type\":\"command\",\"command\":\"USER\"");
    snprintf(buf, sizeof(buf), "USER %s\r\nNOOP\r\n", repeat('x', 249));
    assert_string_equal(cmd(0, buf), "0 ERR 255 RFC 2449 4: line longer than the limit\n"
                                     "256+6 {\"type\":\"command\",\"command\":\"NOOP\"}\n");
    /* lenient long lines: accepted as a quirk at the limit */
    snprintf(buf, sizeof(buf), "USER %s\r\n", repeat('x', 249));
    ms_assert_has(cmd(MS_LENIENT_LONG_LINES, buf),
                  "\"quirks\":[{\"offset\":255,\"rule\":\"RFC 2449 4\","
                  "\"reason\":\"line longer than the limit\"}]");
    /* a raised limit */
    struct ms_limits lim;
    ms_limits_default(&lim);
    lim.pop3_command_line = 256;
    snprintf(buf, sizeof(buf), "USER %s\r\n", repeat('x', 249));
    ms_assert_has(ms_check(CMD, &lim, buf, strlen(buf)), "0+256 {");
}

static void test_cmd_lenient(void **st)
{
    (void)st;
    const char *r = cmd(MS_LENIENT_SPACES, "TOP  1  2 \r\n");
    assert_string_equal(r, "0+12 {\"type\":\"command\",\"command\":\"TOP\",\"msg\":1,\"lines\":2,"
                           "\"quirks\":[{\"offset\":3,\"rule\":\"RFC 1939 3\",\"reason\":"
                           "\"extra or trailing spaces\"},{\"offset\":6,\"rule\":\"RFC 1939 3\","
                           "\"reason\":\"extra or trailing spaces\"},{\"offset\":9,\"rule\":"
                           "\"RFC 1939 3\",\"reason\":\"extra or trailing spaces\"}]}\n");
    r = cmd(MS_LENIENT_8BIT, "USER j\xc3\xb6rg\r\n");
    ms_assert_has(r, "\"name\":\"j\xc3\xb6rg\",\"quirks\":[{\"offset\":6,");
    r = cmd(MS_LENIENT_BARE_LF, "NOOP\nQUIT\r\n");
    ms_assert_has(r, "0+5 {\"type\":\"command\",\"command\":\"NOOP\",\"quirks\":[{\"offset\":4,"
                     "\"rule\":\"RFC 2449 4\",\"reason\":\"bare LF: lines end with CRLF\"}]}\n");
    /* keyword case needs no flag: POP3 keywords are case-insensitive */
    assert_int_equal(ms_last_errors, 0);
}

static void test_cmd_utf8(void **st)
{
    (void)st;
    /* RFC 6856 2: after UTF8, USER and PASS may carry UTF-8 */
    const char *r = cmd(0, "UTF8\r\nUSER j\xc3\xb6rg\r\nPASS p\xc3\xa4ss w\r\n");
    ms_assert_has(r, "\"name\":\"j\xc3\xb6rg\"}");
    ms_assert_has(r, "\"password\":\"p\xc3\xa4ss w\"}");
    assert_int_equal(ms_last_errors, 0);
    r = cmd(0, "UTF8\r\nUSER j\xc3\r\n");
    ms_assert_has(r, "6 ERR 12 RFC 6856 2: invalid UTF-8 in an argument\n");
    r = cmd(0, "UTF8\r\nUSER \xc0\xaf\r\n");
    ms_assert_has(r, "ERR 11 RFC 6856 2: invalid UTF-8 in an argument\n");
    /* still US-ASCII only for numbers */
    r = cmd(0, "UTF8\r\nRETR \xc3\xa9\r\n");
    ms_assert_has(r, "ERR 11 RFC 1939 3: 8-bit byte");
}

static void test_cmd_lang(void **st)
{
    (void)st;
    /* RFC 6856 3: LANG [SP (language-range / "*")] */
    const char *r = cmd(0, "LANG\r\nLANG es\r\nlang *\r\nLANG en-US\r\nLANG zh-Hant-1996\r\n");
    assert_string_equal(r, "0+6 {\"type\":\"command\",\"command\":\"LANG\"}\n"
                           "6+9 {\"type\":\"command\",\"command\":\"LANG\",\"range\":\"es\"}\n"
                           "15+8 {\"type\":\"command\",\"command\":\"LANG\",\"range\":\"*\"}\n"
                           "23+12 {\"type\":\"command\",\"command\":\"LANG\",\"range\":\"en-US\"}\n"
                           "35+19 {\"type\":\"command\",\"command\":\"LANG\",\"range\":"
                           "\"zh-Hant-1996\"}\n");
    static const struct {
        const char *in, *want;
    } bad[] = {
        {"LANG 1en\r\n", "0 ERR 5 RFC 4647 2.1: expected a language range"},
        {"LANG en-\r\n", "0 ERR 8 RFC 4647 2.1: empty subtag in a language range\n"},
        {"LANG -en\r\n", "0 ERR 5 RFC 4647 2.1: empty subtag in a language range\n"},
        {"LANG en--US\r\n", "0 ERR 8 RFC 4647 2.1: empty subtag in a language range\n"},
        {"LANG abcdefghi\r\n", "0 ERR 13 RFC 4647 2.1: expected a language range"},
        {"LANG abcdefgh\r\n", "0+15 {"},
        {"LANG en_US\r\n", "0 ERR 7 RFC 4647 2.1: expected a language range"},
        {"LANG en de\r\n", "0 ERR 8 RFC 1939 3: LANG takes at most one language range\n"},
        {"LANG **\r\n", "0 ERR 5 RFC 4647 2.1: expected a language range"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = cmd(0, bad[i].in);
        if (strncmp(r, bad[i].want, strlen(bad[i].want)) != 0)
            fail_msg("case %zu %s\nwant %s\ngot  %s", i, bad[i].in, bad[i].want, r);
    }
}

static void test_cmd_sasl(void **st)
{
    (void)st;
    /* RFC 5034 4: AUTH without initial response, then a base64 line */
    const char *r = cmd(0, "AUTH PLAIN\r\nAGJvYgBzZWNyZXQ=\r\nNOOP\r\n");
    assert_string_equal(r,
                        "0+12 {\"type\":\"command\",\"command\":\"AUTH\",\"mechanism\":\"PLAIN\"}\n"
                        "12+18 {\"type\":\"sasl_response\",\"data\":\"AGJvYgBzZWNyZXQ=\"}\n"
                        "30+6 {\"type\":\"command\",\"command\":\"NOOP\"}\n");
    r = cmd(0, "AUTH CRAM-MD5\r\n*\r\n");
    assert_string_equal(
        r, "0+15 {\"type\":\"command\",\"command\":\"AUTH\",\"mechanism\":\"CRAM-MD5\"}\n"
           "15+3 {\"type\":\"sasl_cancel\"}\n");
    /* an empty response line is empty base64 */
    r = cmd(0, "AUTH X-Y_Z\r\n\r\n");
    ms_assert_has(r, "12+2 {\"type\":\"sasl_response\",\"data\":\"\"}\n");
    /* initial response: no SASL line follows; "=" is an empty one */
    r = cmd(0, "auth plain AGJvYgBzZWNyZXQ=\r\nAUTH PLAIN =\r\nNOOP\r\n");
    assert_string_equal(r,
                        "0+29 {\"type\":\"command\",\"command\":\"AUTH\",\"mechanism\":\"plain\","
                        "\"initial_response\":\"AGJvYgBzZWNyZXQ=\"}\n"
                        "29+14 {\"type\":\"command\",\"command\":\"AUTH\",\"mechanism\":\"PLAIN\","
                        "\"initial_response\":\"=\"}\n"
                        "43+6 {\"type\":\"command\",\"command\":\"NOOP\"}\n");
    /* commands only: the mechanism says how many SASL lines follow (LOGIN 2,
     * 1 after an initial response; SCRAM 3); "*" ends the exchange early */
    r = cmd(0, "AUTH LOGIN\r\nYWxpY2U=\r\ncGFzcw==\r\nSTAT\r\n");
    assert_string_equal(r,
                        "0+12 {\"type\":\"command\",\"command\":\"AUTH\",\"mechanism\":\"LOGIN\"}\n"
                        "12+10 {\"type\":\"sasl_response\",\"data\":\"YWxpY2U=\"}\n"
                        "22+10 {\"type\":\"sasl_response\",\"data\":\"cGFzcw==\"}\n"
                        "32+6 {\"type\":\"command\",\"command\":\"STAT\"}\n");
    r = cmd(0, "AUTH LOGIN YWxpY2U=\r\nSTAT\r\nNOOP\r\n");
    ms_assert_has(r, "21+6 {\"type\":\"sasl_response\",\"data\":\"STAT\"}\n"
                     "27+6 {\"type\":\"command\",\"command\":\"NOOP\"}\n");
    r = cmd(0, "AUTH SCRAM-SHA-1\r\nYWFh\r\nYmJi\r\n\r\nNOOP\r\n");
    ms_assert_has(r, "30+2 {\"type\":\"sasl_response\",\"data\":\"\"}\n"
                     "32+6 {\"type\":\"command\",\"command\":\"NOOP\"}\n");
    r = cmd(0, "AUTH LOGIN\r\n*\r\nSTAT\r\n");
    ms_assert_has(r, "12+3 {\"type\":\"sasl_cancel\"}\n"
                     "15+6 {\"type\":\"command\",\"command\":\"STAT\"}\n");
    /* an unknown mechanism: SASL lines until one starts with a POP3 keyword */
    r = cmd(0, "AUTH GSSAPI\r\nYWFh\r\nYmJiYmJi\r\nQUIT\r\n");
    assert_string_equal(
        r, "0+13 {\"type\":\"command\",\"command\":\"AUTH\",\"mechanism\":\"GSSAPI\"}\n"
           "13+6 {\"type\":\"sasl_response\",\"data\":\"YWFh\"}\n"
           "19+10 {\"type\":\"sasl_response\",\"data\":\"YmJiYmJi\"}\n"
           "29+6 {\"type\":\"command\",\"command\":\"QUIT\"}\n");
    /* bad SASL lines */
    r = cmd(0, "AUTH PLAIN\r\nab!d\r\n");
    ms_assert_has(r, "12 ERR 14 RFC 5034 4: a SASL response is base64 or \"*\"\n");
    r = cmd(0, "AUTH PLAIN\r\nabc\r\nNOOP\r\n");
    assert_string_equal(r,
                        "0+12 {\"type\":\"command\",\"command\":\"AUTH\",\"mechanism\":"
                        "\"PLAIN\"}\n12 ERR 12 RFC 5034 4: base64 is groups of 4 with \"=\" "
                        "padding at the end\n17+6 {\"type\":\"command\",\"command\":\"NOOP\"}\n");
    r = cmd(0, "AUTH PLAIN\r\nab=c\r\n");
    ms_assert_has(r, "ERR 12 RFC 5034 4: base64 is groups");
    r = cmd(0, "AUTH PLAIN\r\n* \r\n");
    ms_assert_has(r, "12 ERR 12 RFC 5034 4: a SASL response is base64");
    /* a SASL line may be longer than a command line (up to pop3_sasl_line) */
    char *big = malloc(13000);
    assert_non_null(big);
    snprintf(big, 13000, "AUTH PLAIN\r\n%s\r\n", repeat('A', 12284));
    r = cmd(0, big);
    ms_assert_has(r, "12+12286 {\"type\":\"sasl_response\"");
    snprintf(big, 13000, "AUTH PLAIN\r\n%s\r\nNOOP\r\n", repeat('A', 12288));
    r = cmd(0, big);
    ms_assert_has(r, "12 ERR 12300 RFC 5034 4: line longer than the limit\n");
    ms_assert_has(r, "{\"type\":\"command\",\"command\":\"NOOP\"}");
    free(big);
}

/* ---- replies ---- */

static void test_rep_greeting(void **st)
{
    (void)st;
    /* RFC 1939 7 example */
    const char *r = rep("-", 0, "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n");
    assert_string_equal(r, "0+57 {\"type\":\"greeting\",\"status\":\"+OK\",\"text\":\"POP3 server "
                           "ready <1896.697170952@dbc.mtview.ca.us>\",\"timestamp\":"
                           "\"<1896.697170952@dbc.mtview.ca.us>\"}\n");
    r = rep("-", 0, "+OK\r\n+OK x\r\n");
    assert_string_equal(r, "0+5 {\"type\":\"greeting\",\"status\":\"+OK\",\"text\":\"\"}\n"
                           "5+7 {\"type\":\"status\",\"status\":\"+OK\",\"text\":\"x\"}\n");
    r = rep("-", 0, "-ERR [SYS/TEMP] try later\r\n");
    ms_assert_has(r, "{\"type\":\"greeting\",\"status\":\"-ERR\",\"text\":\"[SYS/TEMP] try later\","
                     "\"code\":\"SYS/TEMP\",\"code_levels\":[\"SYS\",\"TEMP\"]}");
    r = rep("-", 0, "+OK ready <a@[127.0.0.1]> x\r\n");
    ms_assert_has(r, "\"timestamp\":\"<a@[127.0.0.1]>\"");
    static const struct {
        const char *in, *want;
    } bad[] = {
        {"+OK <abc>\r\n", "0 ERR 4 RFC 1939 7: the timestamp is a msg-id: <left@right>\n"},
        {"+OK <abc\r\n", "0 ERR 4 RFC 1939 7: the timestamp \"<\" has no closing \">\"\n"},
        {"+OK <a..b@c>\r\n", "0 ERR 5 RFC 1939 7: msg-id left part is a dot-atom\n"},
        {"+OK <a@c.>\r\n", "0 ERR 7 RFC 1939 7: msg-id right part is a dot-atom or [literal]\n"},
        {"+OK <a@b> <c@d>\r\n", "0 ERR 10 RFC 1939 7: only one timestamp in the greeting\n"},
        {"+ ready\r\n", "0 ERR 0 RFC 1939 3: expected +OK or -ERR (upper case)\n"},
        {"* OK IMAP\r\n", "0 ERR 0 RFC 1939 3: expected +OK or -ERR (upper case)\n"},
        {"+OKready\r\n", "0 ERR 3 RFC 1939 3: expected SP or CRLF after the status indicator\n"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = rep("-", 0, bad[i].in);
        if (strcmp(r, bad[i].want) != 0)
            fail_msg("case %zu %s\nwant %sgot  %s", i, bad[i].in, bad[i].want, r);
    }
    /* after a bad greeting, the next line is not a greeting */
    r = rep("-", 0, "+OK <x>\r\n+OK\r\n");
    ms_assert_has(r, "9+5 {\"type\":\"status\"");
}

static void test_rep_status(void **st)
{
    (void)st;
    /* no pending command: every +OK/-ERR is single-line */
    const char *r = rep("", 0, "+OK\r\n-ERR no such message\r\n+OK \r\n");
    assert_string_equal(r, "0+5 {\"type\":\"status\",\"status\":\"+OK\",\"text\":\"\"}\n"
                           "5+22 {\"type\":\"status\",\"status\":\"-ERR\",\"text\":\"no such "
                           "message\"}\n"
                           "27+6 {\"type\":\"status\",\"status\":\"+OK\",\"text\":\"\"}\n");
    /* RFC 2449 8 / RFC 3206 response codes */
    r = rep("", 0,
            "-ERR [IN-USE] locked\r\n-ERR [LOGIN-DELAY] wait\r\n-ERR [AUTH] no\r\n"
            "-ERR [UTF8] need it\r\n-ERR [SYS/PERM]\r\n-ERR [X-A/B/C/D]x\r\n");
    ms_assert_has(r, "\"code\":\"IN-USE\",\"code_levels\":[\"IN-USE\"]");
    ms_assert_has(r, "\"code\":\"LOGIN-DELAY\"");
    ms_assert_has(r, "\"code\":\"AUTH\"");
    ms_assert_has(r, "\"code\":\"UTF8\"");
    ms_assert_has(r, "\"code\":\"SYS/PERM\",\"code_levels\":[\"SYS\",\"PERM\"]");
    ms_assert_has(r, "\"code_levels\":[\"X-A\",\"B\",\"C\",\"D\"]");
    assert_int_equal(ms_last_errors, 0);
    static const struct {
        const char *in, *want;
    } bad[] = {
        {"-ERR [SYS/]\r\n", "0 ERR 10 RFC 2449 8: expected a response code level\n"},
        {"-ERR []\r\n", "0 ERR 6 RFC 2449 8: expected a response code level\n"},
        {"-ERR [IN-USE\r\n", "0 ERR 12 RFC 2449 8: expected \"/\" or \"]\" in the response code\n"},
        {"-ERR [IN USE] x\r\n",
         "0 ERR 8 RFC 2449 8: expected \"/\" or \"]\" in the response code\n"},
        {"-ERR [A/B/C/D/E]\r\n", "0 ERR 14 RFC 2449 8: response code has too many levels\n"},
        {"+ok\r\n", "0 ERR 0 RFC 1939 3: expected +OK or -ERR (upper case)\n"},
        {"-Err x\r\n", "0 ERR 0 RFC 1939 3: expected +OK or -ERR (upper case)\n"},
        {"OK\r\n", "0 ERR 0 RFC 1939 3: expected +OK or -ERR (upper case)\n"},
        {"-ERR\tx\r\n", "0 ERR 4 RFC 1939 3: expected SP or CRLF after the status indicator\n"},
        {"+OK a\0b\r\n", "0 ERR 5 RFC 1939 3: NUL in a response line\n"},
        {"+OK caf\xc3\xa9\r\n", "0 ERR 7 RFC 1939 3: 8-bit byte: response text is US-ASCII\n"},
        {"+OK a\rb\r\n", "0 ERR 5 RFC 2449 4: bare CR inside a line\n"},
        {"+OK a\n", "0 ERR 5 RFC 2449 4: bare LF: lines end with CRLF\n"},
        {"+OK", "0 ERR 3 end of input: input ends inside a message\n"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = strlen(bad[i].in);
        if (strncmp(bad[i].in, "+OK a", 5) == 0 && bad[i].in[5] == '\0')
            len = 9;
        r = rep_n("", 0, bad[i].in, len);
        if (strcmp(r, bad[i].want) != 0)
            fail_msg("case %zu %s\nwant %sgot  %s", i, bad[i].in, bad[i].want, r);
    }
    /* lenient: lower-case status and 8-bit text are quirks */
    r = rep("", MS_LENIENT_KEYWORD_CASE, "+ok fine\r\n-err bad\r\n");
    assert_string_equal(r, "0+10 {\"type\":\"status\",\"status\":\"+OK\",\"text\":\"fine\","
                           "\"quirks\":[{\"offset\":0,\"rule\":\"RFC 1939 3\",\"reason\":"
                           "\"status indicator not in upper case\"}]}\n"
                           "10+10 {\"type\":\"status\",\"status\":\"-ERR\",\"text\":\"bad\","
                           "\"quirks\":[{\"offset\":0,\"rule\":\"RFC 1939 3\",\"reason\":"
                           "\"status indicator not in upper case\"}]}\n");
    r = rep("", MS_LENIENT_8BIT, "+OK caf\xc3\xa9\r\n");
    ms_assert_has(r, "\"text\":\"caf\xc3\xa9\",\"quirks\":[{\"offset\":7,");
    /* after UTF8 is accepted, UTF-8 text is fine, invalid UTF-8 is not */
    r = rep("UTF8", 0, "+OK UTF8 enabled\r\n-ERR caf\xc3\xa9\r\n-ERR \xc3\x28\r\n");
    ms_assert_has(r, "\"text\":\"caf\xc3\xa9\"}");
    ms_assert_has(r, "30 ERR 35 RFC 6856 2: invalid UTF-8 in a response line\n");
}

static void test_rep_limits(void **st)
{
    char buf[2048];
    (void)st;
    /* RFC 2449 4: 512 octets including CRLF */
    snprintf(buf, sizeof(buf), "+OK %s\r\n", repeat('a', 506));
    assert_int_equal(strlen(buf), 512);
    ms_assert_has(rep("", 0, buf), "0+512 {\"type\":\"status\"");
    snprintf(buf, sizeof(buf), "+OK %s\r\n+OK\r\n", repeat('a', 507));
    assert_string_equal(rep("", 0, buf),
                        "0 ERR 512 RFC 2449 4: line longer than the limit\n"
                        "513+5 {\"type\":\"status\",\"status\":\"+OK\",\"text\":\"\"}\n");
    /* the greeting too */
    snprintf(buf, sizeof(buf), "+OK %s\r\n", repeat('a', 507));
    ms_assert_has(rep("-", 0, buf), "0 ERR 512 RFC 2449 4: line longer than the limit\n");
    /* a status line to AUTH is still 512 even though a continuation may be longer */
    snprintf(buf, sizeof(buf), "-ERR %s\r\n", repeat('a', 506));
    ms_assert_has(rep("AUTH", 0, buf), "0 ERR 512 RFC 2449 4: line longer than the limit\n");
    snprintf(buf, sizeof(buf), "-ERR %s\r\n", repeat('a', 506));
    ms_assert_has(rep("AUTH", MS_LENIENT_LONG_LINES, buf),
                  "\"quirks\":[{\"offset\":512,\"rule\":\"RFC 2449 4\"");
}

static void test_rep_stat_list_uidl(void **st)
{
    (void)st;
    const char *r =
        rep("STAT LIST+ UIDL+", 0, "+OK 2 320\r\n+OK 2 200\r\n+OK 2 QhdPYR:00WBw1Ph7x7\r\n");
    assert_string_equal(
        r, "0+11 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"STAT\",\"text\":\"2 320\","
           "\"count\":2,\"octets\":320}\n"
           "11+11 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"LIST\",\"text\":\"2 200\","
           "\"msg\":2,\"octets\":200}\n"
           "22+26 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"UIDL\",\"text\":"
           "\"2 QhdPYR:00WBw1Ph7x7\",\"msg\":2,\"uid\":\"QhdPYR:00WBw1Ph7x7\"}\n");
    /* what follows the size is allowed (RFC 1939 5) */
    r = rep("STAT", 0, "+OK 0 0 empty maildrop\r\n");
    ms_assert_has(r, "\"count\":0,\"octets\":0,\"extra\":\" empty maildrop\"}");
    /* -ERR answers carry no listing */
    r = rep("LIST+ STAT", 0, "-ERR no such message, only 2 messages in maildrop\r\n-ERR x\r\n");
    assert_int_equal(ms_last_errors, 0);
    ms_assert_has(r, "\"answers\":\"LIST\"");
    static const struct {
        const char *pending, *in, *want;
    } bad[] = {
        {"STAT", "+OK two 320\r\n", "0 ERR 4 RFC 1939 5: expected the message count\n"},
        {"STAT", "+OK 2\r\n", "0 ERR 5 RFC 1939 5: expected SP after the message number\n"},
        {"STAT", "+OK 2  320\r\n", "0 ERR 6 RFC 1939 5: expected a size in octets\n"},
        {"STAT", "+OK 2 320x\r\n", "0 ERR 9 RFC 1939 5: expected SP or CRLF after the size\n"},
        {"STAT", "+OK\r\n", "0 ERR 3 RFC 1939 5: expected the message count\n"},
        {"STAT", "+OK 2 18446744073709551616\r\n",
         "0 ERR 6 RFC 1939 5: size above 2^64-1 octets\n"},
        {"LIST+", "+OK 0 200\r\n", "0 ERR 4 RFC 1939 5: message numbers start at 1\n"},
        {"LIST+", "+OK 4294967296 200\r\n",
         "0 ERR 4 RFC 1939 5: message number above 4294967295\n"},
        {"UIDL+", "+OK 1\r\n", "0 ERR 5 RFC 1939 7: expected SP after the message number\n"},
        {"UIDL+", "+OK 1 a b\r\n", "0 ERR 7 RFC 1939 7: expected CRLF after the unique-id\n"},
        {"UIDL+", "+OK 1 \r\n", "0 ERR 6 RFC 1939 7: expected a unique-id (printable ASCII)\n"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = rep(bad[i].pending, 0, bad[i].in);
        if (strcmp(r, bad[i].want) != 0)
            fail_msg("case %zu %s\nwant %sgot  %s", i, bad[i].in, bad[i].want, r);
    }
    /* 2^32-1 and 2^64-1 fit */
    r = rep("LIST+", 0, "+OK 4294967295 18446744073709551615\r\n");
    ms_assert_has(r, "\"msg\":4294967295,\"octets\":18446744073709551615}");
    /* runs of up to 19 digits are read inline, longer ones by
     * ms_number_parse: the same values and errors on both sides */
    r = rep("LIST+", 0, "+OK 0000000000000000001 9999999999999999999\r\n");
    ms_assert_has(r, "\"msg\":1,\"octets\":9999999999999999999}");
    r = rep("LIST+", 0, "+OK 00000000000000000001 000000000000000000018446744073709551615\r\n");
    ms_assert_has(r, "\"msg\":1,\"octets\":18446744073709551615}");
    assert_string_equal(rep("LIST+", 0, "+OK 1 99999999999999999999\r\n"),
                        "0 ERR 6 RFC 1939 5: size above 2^64-1 octets\n");
    assert_string_equal(rep("LIST+", 0, "+OK 0000000000000000000 1\r\n"),
                        "0 ERR 4 RFC 1939 5: message numbers start at 1\n");
    assert_string_equal(rep("LIST+", 0, "+OK 9999999999 1\r\n"),
                        "0 ERR 4 RFC 1939 5: message number above 4294967295\n");
    assert_string_equal(rep("LIST", 0, "+OK\r\n4294967296 1\r\n1 18446744073709551616\r\n.\r\n"),
                        "0+5 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"LIST\","
                        "\"multiline\":true,\"text\":\"\"}\n"
                        "5 ERR 5 RFC 1939 5: message number above 4294967295\n"
                        "19 ERR 21 RFC 1939 5: size above 2^64-1 octets\n"
                        "43+3 {\"type\":\"end\",\"answers\":\"LIST\",\"entries\":2}\n");
}

/*
 * The view is cleared per line except its arrays (valid up to their counts):
 * a line after one with a response code, parameters or quirks must not show
 * any of them.
 */
static void test_rep_view_reuse(void **st)
{
    (void)st;
    const char *r =
        rep("STAT CAPA STAT", MS_LENIENT_KEYWORD_CASE,
            "-ERR [SYS/TEMP/X] busy\r\n+ok\r\nSASL PLAIN LOGIN\r\nEXPIRE NEVER USER\r\nTOP\r\n"
            ".\r\n+OK 1 2\r\n");
    assert_string_equal(
        r, "0+24 {\"type\":\"status\",\"status\":\"-ERR\",\"answers\":\"STAT\",\"text\":"
           "\"[SYS/TEMP/X] busy\",\"code\":\"SYS/TEMP/X\",\"code_levels\":[\"SYS\",\"TEMP\","
           "\"X\"]}\n"
           "24+5 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"CAPA\",\"multiline\":"
           "true,\"text\":\"\",\"quirks\":[{\"offset\":0,\"rule\":\"RFC 1939 3\",\"reason\":"
           "\"status indicator not in upper case\"}]}\n"
           "29+18 {\"type\":\"capability\",\"name\":\"SASL\",\"params\":[\"PLAIN\",\"LOGIN\"]}\n"
           "47+19 {\"type\":\"capability\",\"name\":\"EXPIRE\",\"params\":[\"NEVER\",\"USER\"],"
           "\"never\":true,\"per_user\":true}\n"
           "66+5 {\"type\":\"capability\",\"name\":\"TOP\",\"params\":[]}\n"
           "71+3 {\"type\":\"end\",\"answers\":\"CAPA\",\"entries\":3}\n"
           "74+9 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"STAT\",\"text\":\"1 2\","
           "\"count\":1,\"octets\":2}\n");
}

static void test_rep_multiline_list(void **st)
{
    (void)st;
    /* RFC 1939 5 LIST example */
    const char *r = rep("LIST", 0, "+OK 2 messages (320 octets)\r\n1 120\r\n2 200 x y\r\n.\r\n");
    assert_string_equal(
        r, "0+29 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"LIST\",\"multiline\":true,"
           "\"text\":\"2 messages (320 octets)\"}\n"
           "29+7 {\"type\":\"scan_listing\",\"msg\":1,\"octets\":120}\n"
           "36+11 {\"type\":\"scan_listing\",\"msg\":2,\"octets\":200,\"extra\":\" x y\"}\n"
           "47+3 {\"type\":\"end\",\"answers\":\"LIST\",\"entries\":2}\n");
    /* -ERR to LIST is single-line; the next reply answers the next command */
    r = rep("LIST NOOP", 0, "-ERR locked\r\n+OK\r\n");
    ms_assert_has(r, "0+13 {\"type\":\"status\",\"status\":\"-ERR\",\"answers\":\"LIST\"");
    ms_assert_has(r, "13+5 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"NOOP\"");
    /* an empty listing */
    r = rep("LIST", 0, "+OK\r\n.\r\n");
    ms_assert_has(r, "5+3 {\"type\":\"end\",\"answers\":\"LIST\",\"entries\":0}\n");
    /* bad entries are errors; the listing goes on */
    r = rep("LIST", 0, "+OK\r\n0 1\r\n1 x\r\n..1 2\r\n.1 2\r\n4294967296 1\r\n2 3\r\n.\r\n");
    assert_string_equal(
        r, "0+5 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"LIST\",\"multiline\":true,"
           "\"text\":\"\"}\n"
           "5 ERR 5 RFC 1939 5: message numbers start at 1\n"
           "10 ERR 12 RFC 1939 5: expected a size in octets\n"
           "15 ERR 16 RFC 1939 5: expected a message number\n"
           "22 ERR 22 RFC 1939 3: line starts with \".\" but is not dot-stuffed\n"
           "28 ERR 28 RFC 1939 5: message number above 4294967295\n"
           "42+5 {\"type\":\"scan_listing\",\"msg\":2,\"octets\":3}\n"
           "47+3 {\"type\":\"end\",\"answers\":\"LIST\",\"entries\":6}\n");
    /* input that ends inside the listing is an unfinished message */
    r = rep("LIST", 0, "+OK\r\n1 120\r\n");
    assert_string_equal(
        r, "0+5 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"LIST\",\"multiline\":true,"
           "\"text\":\"\"}\n"
           "5 ERR 12 end of input: input ends inside a message\n");
    r = rep("LIST", 0, "+OK\r\n");
    assert_string_equal(r, "0 ERR 5 end of input: input ends inside a message\n");
    /* bare LF inside a listing */
    r = rep("LIST", 0, "+OK\r\n1 2\n.\r\n");
    ms_assert_has(r, "5 ERR 8 RFC 2449 4: bare LF: lines end with CRLF\n");
    ms_assert_has(r, "{\"type\":\"end\",\"answers\":\"LIST\",\"entries\":0}");
}

static void test_rep_multiline_uidl(void **st)
{
    char buf[512];
    (void)st;
    const char *r =
        rep("UIDL", 0, "+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n");
    assert_string_equal(
        r, "0+5 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"UIDL\",\"multiline\":true,"
           "\"text\":\"\"}\n"
           "5+28 {\"type\":\"uid_listing\",\"msg\":1,\"uid\":\"whqtswO00WBw418f9t5JxYwZ\"}\n"
           "33+22 {\"type\":\"uid_listing\",\"msg\":2,\"uid\":\"QhdPYR:00WBw1Ph7x7\"}\n"
           "55+3 {\"type\":\"end\",\"answers\":\"UIDL\",\"entries\":2}\n");
    /* RFC 1939 7: 1 to 70 characters of 0x21-0x7E */
    snprintf(buf, sizeof(buf), "+OK\r\n1 %s\r\n.\r\n", repeat('u', 70));
    ms_assert_has(rep("UIDL", 0, buf), "{\"type\":\"uid_listing\",\"msg\":1,\"uid\":\"uuuu");
    assert_int_equal(ms_last_errors, 0);
    snprintf(buf, sizeof(buf), "+OK\r\n1 %s\r\n.\r\n", repeat('u', 71));
    ms_assert_has(rep("UIDL", 0, buf), "5 ERR 77 RFC 1939 7: token longer than the limit\n");
    snprintf(buf, sizeof(buf), "+OK 1 %s\r\n", repeat('u', 71));
    ms_assert_has(rep("UIDL+", 0, buf), "0 ERR 76 RFC 1939 7: token longer than the limit\n");
    r = rep("UIDL", 0, "+OK\r\n1 a\x7f\r\n1 \xc3\xa9\r\n.\r\n");
    ms_assert_has(r, "5 ERR 8 RFC 1939 7: expected CRLF after the unique-id\n");
    ms_assert_has(r, "11 ERR 13 RFC 1939 7: expected a unique-id (printable ASCII)\n");
}

static void test_rep_capa(void **st)
{
    (void)st;
    const char *r = rep("CAPA", 0,
                        "+OK Capability list follows\r\nTOP\r\nUSER\r\nSASL PLAIN "
                        "SCRAM-SHA-256\r\nRESP-CODES\r\nLOGIN-DELAY 900\r\nPIPELINING\r\n"
                        "EXPIRE 60 USER\r\nUIDL\r\nIMPLEMENTATION Dovecot 2.3\r\nSTLS\r\n"
                        "UTF8 USER\r\nAUTH-RESP-CODE\r\nX-FOO bar\r\n.\r\n");
    assert_int_equal(ms_last_errors, 0);
    ms_assert_has(r, "{\"type\":\"capability\",\"name\":\"TOP\",\"params\":[]}");
    ms_assert_has(r, "{\"type\":\"capability\",\"name\":\"SASL\",\"params\":[\"PLAIN\","
                     "\"SCRAM-SHA-256\"]}");
    ms_assert_has(r, "\"name\":\"LOGIN-DELAY\",\"params\":[\"900\"],\"delay\":900}");
    ms_assert_has(r, "\"name\":\"EXPIRE\",\"params\":[\"60\",\"USER\"],\"days\":60,"
                     "\"per_user\":true}");
    ms_assert_has(r, "\"name\":\"IMPLEMENTATION\",\"params\":[\"Dovecot\",\"2.3\"]}");
    ms_assert_has(r, "\"name\":\"UTF8\",\"params\":[\"USER\"],\"per_user\":true}");
    ms_assert_has(r, "\"name\":\"X-FOO\",\"params\":[\"bar\"],\"known\":false}");
    ms_assert_has(r, "{\"type\":\"end\",\"answers\":\"CAPA\",\"entries\":13}");
    r = rep("CAPA", 0, "+OK\r\nEXPIRE NEVER\r\nexpire 0\r\n.\r\n");
    ms_assert_has(r, "\"params\":[\"NEVER\"],\"never\":true}");
    ms_assert_has(r, "\"name\":\"expire\",\"params\":[\"0\"],\"days\":0}");
    static const struct {
        const char *line, *want;
    } bad[] = {
        {"TOP 1", "5 ERR 9 RFC 2449 5: this capability takes no parameters\n"},
        {"SASL plain", "5 ERR 10 RFC 4422 3.1: SASL mechanism names are A-Z, 0-9, - and _\n"},
        {"LOGIN-DELAY", "5 ERR 16 RFC 2449 6.5: expected a number and an optional USER\n"},
        {"LOGIN-DELAY x", "5 ERR 17 RFC 2449 6.5: expected seconds (a number up to 4294967295)\n"},
        {"LOGIN-DELAY 4294967296",
         "5 ERR 17 RFC 2449 6.5: expected seconds (a number up to 4294967295)\n"},
        {"EXPIRE 1 ALL", "5 ERR 14 RFC 2449 6.7: expected USER after the value\n"},
        {"UTF8 ALL", "5 ERR 10 RFC 6856 2: UTF8 takes only the parameter USER\n"},
        {"X.Y", "5 ERR 6 RFC 2449 5: expected SP between capability parameters\n"},
        {"A  B", "5 ERR 7 RFC 2449 5: expected a parameter (printable ASCII)\n"},
        {"A B ", "5 ERR 9 RFC 2449 5: expected a parameter (printable ASCII)\n"},
        {" A", "5 ERR 5 RFC 2449 5: expected a capability name (printable ASCII except \".\")\n"},
        {"A \xc3\xa9", "5 ERR 7 RFC 2449 5: expected a parameter (printable ASCII)\n"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char in[256];
        snprintf(in, sizeof(in), "+OK\r\n%s\r\n.\r\n", bad[i].line);
        r = rep("CAPA", 0, in);
        if (!strstr(r, bad[i].want) || !strstr(r, "\"type\":\"end\""))
            fail_msg("case %zu %s\nwant %sgot  %s", i, bad[i].line, bad[i].want, r);
    }
    /* SASL with no mechanism is not forbidden (capability = capa-tag *(SP param),
     * RFC 2449 9): Dovecot sends it before TLS when plaintext login is off */
    r = rep("CAPA", 0, "+OK\r\nSASL\r\n.\r\n");
    ms_assert_has(r, "\"name\":\"SASL\",\"params\":[]");
    ms_assert_lacks(r, "ERR");
    /* capability lines are limited to 512 octets (RFC 2449 9) */
    char buf[1200];
    snprintf(buf, sizeof(buf), "+OK\r\nX %s\r\n.\r\n", repeat('p', 508));
    ms_assert_has(rep("CAPA", 0, buf), "{\"type\":\"capability\",\"name\":\"X\"");
    assert_int_equal(ms_last_errors, 0);
    snprintf(buf, sizeof(buf), "+OK\r\nX %s\r\n.\r\n", repeat('p', 509));
    ms_assert_has(rep("CAPA", 0, buf), "5 ERR 517 RFC 2449 5: line longer than the limit\n");
}

static void test_rep_lang(void **st)
{
    (void)st;
    /* RFC 6856 3: LANG without an argument lists the languages */
    const char *r = rep("LANG LANG+", 0,
                        "+OK Language listing follows:\r\nen English\r\nen-boont English "
                        "Boontling dialect\r\nes Espa\xc3\xb1ol\r\nde\r\n.\r\n+OK es Idioma "
                        "cambiado\r\n");
    assert_string_equal(
        r, "0+31 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"LANG\",\"multiline\":true,"
           "\"text\":\"Language listing follows:\"}\n"
           "31+12 {\"type\":\"language\",\"tag\":\"en\",\"description\":\"English\"}\n"
           "43+36 {\"type\":\"language\",\"tag\":\"en-boont\",\"description\":\"English "
           "Boontling dialect\"}\n"
           "79+13 {\"type\":\"language\",\"tag\":\"es\",\"description\":\"Espa\xc3\xb1ol\"}\n"
           "92+4 {\"type\":\"language\",\"tag\":\"de\",\"description\":\"\"}\n"
           "96+3 {\"type\":\"end\",\"answers\":\"LANG\",\"entries\":4}\n"
           "99+24 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"LANG\",\"text\":\"es "
           "Idioma cambiado\"}\n");
    r = rep("LANG", 0, "+OK\r\n1x y\r\nen\tx\r\nes \xc3\x28\r\n.\r\n");
    ms_assert_has(r, "5 ERR 5 RFC 6856 3: expected a language tag\n");
    ms_assert_has(r, "11 ERR 13 RFC 6856 3: expected SP after the language tag\n");
    ms_assert_has(r, "17 ERR 20 RFC 6856 2: invalid UTF-8 in a response line\n");
    ms_assert_has(r, "{\"type\":\"end\",\"answers\":\"LANG\",\"entries\":3}");
    /* the LANG capability takes no parameters */
    r = rep("CAPA", 0, "+OK\r\nLANG\r\nLANG x\r\n.\r\n");
    ms_assert_has(r, "{\"type\":\"capability\",\"name\":\"LANG\",\"params\":[]}");
    ms_assert_has(r, "11 ERR 16 RFC 2449 5: this capability takes no parameters\n");
}

/* Fuzz finding (corpus/regressions/pop3_reply_fuzzer/lang-no-description):
 * a LANG line without a description had a NULL text slice, and the JSON
 * writer computed NULL + 0 (undefined; clang's UBSan reports it, gcc's not). */
static void test_rep_lang_empty_description_slice(void **st)
{
    struct ms_limits lim;
    struct ms_pop3_reply_state rs;
    struct ms_pop3_reply v;
    struct ms_error err;
    int done = 0;
    (void)st;
    ms_limits_default(&lim);
    memset(&rs, 0, sizeof(rs));
    ms_pop3_replies_kind.init(&rs, &lim);
    ms_pop3_replies_skip_greeting(&rs);
    ms_pop3_replies_expect(&rs, MS_POP3_LANG, 0);
    const char *in = ms_guarded("+OK\r\nde\r\n.\r\n", 12);
    assert_int_equal(ms_pop3_replies_kind.parse(&rs, &lim, in, 12, &v, &done, &err), 5);
    assert_int_equal(ms_pop3_replies_kind.parse(&rs, &lim, in + 5, 7, &v, &done, &err), 4);
    assert_int_equal(v.type, MS_POP3_R_LANGUAGE);
    assert_int_equal(v.text.len, 0);
    assert_non_null(v.text.ptr);
    assert_ptr_equal(v.text.ptr, in + 7);
}

static void test_rep_body(void **st)
{
    (void)st;
    /* RFC 1939 7 RETR: dot-stuffed body; octets counted after unstuffing */
    const char *r =
        rep("RETR+", 0, "+OK 120 octets\r\nSubject: x\r\n\r\n..dot\r\n...\r\nend\r\n.\r\n");
    assert_string_equal(
        r, "0+16 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"RETR\",\"multiline\":true,"
           "\"text\":\"120 octets\"}\n"
           "16+34 {\"type\":\"body\",\"answers\":\"RETR\",\"octets\":29,\"lines\":5}\n");
    /* an empty body */
    r = rep("TOP+", 0, "+OK\r\n.\r\n");
    ms_assert_has(r, "5+3 {\"type\":\"body\",\"answers\":\"TOP\",\"octets\":0,\"lines\":0}\n");
    /* the next reply answers the next command */
    r = rep("RETR+ DELE+ QUIT", 0, "+OK\r\na\r\n.\r\n+OK deleted\r\n+OK bye\r\n");
    ms_assert_has(r, "5+6 {\"type\":\"body\",\"answers\":\"RETR\",\"octets\":3,\"lines\":1}\n");
    ms_assert_has(r, "\"answers\":\"DELE\",\"text\":\"deleted\"}");
    ms_assert_has(r, "\"answers\":\"QUIT\",\"text\":\"bye\"}");
    /* -ERR to RETR: no body */
    r = rep("RETR+ NOOP", 0, "-ERR no such message\r\n+OK\r\n");
    ms_assert_has(r, "\"answers\":\"NOOP\"");
    assert_int_equal(ms_last_errors, 0);
    /* 8-bit is fine in a body; NUL, bare CR, bare LF and unstuffed dots are not */
    r = rep("RETR+", 0, "+OK\r\ncaf\xc3\xa9 \xff\r\n.\r\n");
    ms_assert_has(r, "{\"type\":\"body\",\"answers\":\"RETR\",\"octets\":9,\"lines\":1}");
    assert_int_equal(ms_last_errors, 0);
    static const char mixed[] = "+OK\r\na\r\nb\0c\r\n.x\r\nd\re\r\nf\ng\r\n.\r\n";
    r = rep_n("RETR+", 0, mixed, sizeof(mixed) - 1);
    assert_string_equal(
        r, "0+5 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"RETR\",\"multiline\":true,"
           "\"text\":\"\"}\n"
           "5 ERR 9 RFC 5322 2.3: NUL in a message body\n"
           "13 ERR 13 RFC 1939 3: line starts with \".\" but is not dot-stuffed\n"
           "17 ERR 18 RFC 2449 4: bare CR inside a line\n"
           "22 ERR 23 RFC 2449 4: bare LF: lines end with CRLF\n"
           "24+6 {\"type\":\"body\",\"answers\":\"RETR\",\"octets\":15,\"lines\":4}\n");
    /* body lines up to pop3_text_line (1000 with CRLF) */
    char *buf = malloc(4096);
    assert_non_null(buf);
    snprintf(buf, 4096, "+OK\r\n%s\r\n.\r\n", repeat('b', 998));
    ms_assert_has(rep("RETR+", 0, buf), "{\"type\":\"body\",\"answers\":\"RETR\",\"octets\":1000,"
                                        "\"lines\":1}");
    snprintf(buf, 4096, "+OK\r\n%s\r\n.\r\n", repeat('b', 999));
    ms_assert_has(rep("RETR+", 0, buf), "5 ERR 1005 RFC 2449 4: line longer than the limit\n");
    /* lenient bare LF in a body: a quirk in the body view, offset in the body */
    r = rep("RETR+", MS_LENIENT_BARE_LF, "+OK\r\nab\ncd\r\n.\r\n");
    ms_assert_has(r, "{\"type\":\"body\",\"answers\":\"RETR\",\"octets\":8,\"lines\":2,"
                     "\"quirks\":[{\"offset\":2,");
    /* an empty body ended by a bare LF: the quirk survives the round trip */
    r = rep("RETR+", MS_LENIENT_BARE_LF, "+OK\r\n.\n");
    ms_assert_has(r, "5+2 {\"type\":\"body\",\"answers\":\"RETR\",\"octets\":0,\"lines\":0,"
                     "\"quirks\":[{\"offset\":1,");
    /* truncated inside a body */
    r = rep("RETR+", 0, "+OK\r\nabc\r\n");
    ms_assert_has(r, "5 ERR 10 end of input: input ends inside a message\n");
    r = rep("RETR+", 0, "+OK\r\nabc\r\n.");
    ms_assert_has(r, "5 ERR 11 end of input: input ends inside a message\n");
    free(buf);
}

static void test_rep_sasl(void **st)
{
    (void)st;
    const char *r = rep("AUTH", 0,
                        "+ \r\n+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuZXhhbXBsZS5uZXQ+\r\n"
                        "+OK maildrop locked and ready\r\n+OK\r\n");
    assert_string_equal(
        r, "0+4 {\"type\":\"continue\",\"answers\":\"AUTH\",\"data\":\"\"}\n"
           "4+56 {\"type\":\"continue\",\"answers\":\"AUTH\",\"data\":"
           "\"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuZXhhbXBsZS5uZXQ+\"}\n"
           "60+31 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"AUTH\",\"text\":"
           "\"maildrop locked and ready\"}\n"
           "91+5 {\"type\":\"status\",\"status\":\"+OK\",\"text\":\"\"}\n");
    /* not base64; "+" without SP; a continuation for another command */
    r = rep("AUTH", 0, "+ abc\r\n+ a!cd\r\n+\r\n-ERR\r\n");
    assert_string_equal(r, "0 ERR 2 RFC 5034 4: base64 is groups of 4 with \"=\" padding at "
                           "the end\n"
                           "7 ERR 10 RFC 5034 4: a continuation carries base64\n"
                           "15 ERR 16 RFC 5034 4: expected SP after \"+\"\n"
                           "18+6 {\"type\":\"status\",\"status\":\"-ERR\",\"answers\":\"AUTH\","
                           "\"text\":\"\"}\n");
    r = rep("AUTH", MS_LENIENT_SPACES, "+\r\n");
    ms_assert_has(r, "\"quirks\":[{\"offset\":1,\"rule\":\"RFC 5034 4\"");
    r = rep("USER", 0, "+ abcd\r\n+OK\r\n");
    assert_string_equal(r, "0 ERR 0 RFC 5034 4: a continuation request, but the command was "
                           "not AUTH\n"
                           "8+5 {\"type\":\"status\",\"status\":\"+OK\",\"text\":\"\"}\n");
    /* with no pending command a continuation is accepted */
    r = rep("", 0, "+ abcd\r\n");
    assert_string_equal(r, "0+8 {\"type\":\"continue\",\"data\":\"abcd\"}\n");
}

static void test_rep_pipelining(void **st)
{
    (void)st;
    /* RFC 2449 6.6: replies come in the order of the commands */
    const char *r = rep("STAT LIST UIDL+ RETR+ TOP+ CAPA QUIT", 0,
                        "+OK 1 5\r\n+OK\r\n1 5\r\n.\r\n+OK 1 u1\r\n+OK\r\nab\r\n.\r\n"
                        "+OK\r\nab\r\n.\r\n+OK\r\nTOP\r\n.\r\n+OK bye\r\n+OK x\r\n");
    assert_string_equal(
        r, "0+9 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"STAT\",\"text\":\"1 5\","
           "\"count\":1,\"octets\":5}\n"
           "9+5 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"LIST\",\"multiline\":true,"
           "\"text\":\"\"}\n"
           "14+5 {\"type\":\"scan_listing\",\"msg\":1,\"octets\":5}\n"
           "19+3 {\"type\":\"end\",\"answers\":\"LIST\",\"entries\":1}\n"
           "22+10 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"UIDL\",\"text\":\"1 u1\","
           "\"msg\":1,\"uid\":\"u1\"}\n"
           "32+5 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"RETR\",\"multiline\":true,"
           "\"text\":\"\"}\n"
           "37+7 {\"type\":\"body\",\"answers\":\"RETR\",\"octets\":4,\"lines\":1}\n"
           "44+5 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"TOP\",\"multiline\":true,"
           "\"text\":\"\"}\n"
           "49+7 {\"type\":\"body\",\"answers\":\"TOP\",\"octets\":4,\"lines\":1}\n"
           "56+5 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"CAPA\",\"multiline\":true,"
           "\"text\":\"\"}\n"
           "61+5 {\"type\":\"capability\",\"name\":\"TOP\",\"params\":[]}\n"
           "66+3 {\"type\":\"end\",\"answers\":\"CAPA\",\"entries\":1}\n"
           "69+9 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"QUIT\",\"text\":\"bye\"}\n"
           "78+7 {\"type\":\"status\",\"status\":\"+OK\",\"text\":\"x\"}\n");
    /* a queue overflow is bounded: the lost commands' replies are single-line */
    struct ms_pop3_reply_state rs;
    memset(&rs, 0, sizeof(rs));
    for (int i = 0; i < MS_POP3_PENDING_MAX + 3; i++)
        ms_pop3_replies_expect(&rs, MS_POP3_NOOP, 0);
    assert_int_equal(rs.count, MS_POP3_PENDING_MAX);
    assert_int_equal(rs.lost, 3);
    /* through the parser: the 65th command (LIST) is lost, its +OK is single-line */
    char spec[1024], in[1024];
    size_t sp = 0, ip = 0;
    for (int i = 0; i < MS_POP3_PENDING_MAX; i++) {
        memcpy(spec + sp, "NOOP ", 5);
        sp += 5;
        memcpy(in + ip, "+OK\r\n", 5);
        ip += 5;
    }
    memcpy(spec + sp, "LIST", 5);
    memcpy(in + ip, "+OK\r\n1 2\r\n", 11);
    in[ip + 11] = '\0';
    const char *lost = rep(spec, 0, in);
    ms_assert_has(lost, "315+5 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"NOOP\"");
    ms_assert_has(lost, "320+5 {\"type\":\"status\",\"status\":\"+OK\",\"text\":\"\"}\n");
    ms_assert_has(lost, "325 ERR 325 RFC 1939 3: expected +OK or -ERR (upper case)\n");
    ms_pop3_replies_expect(&rs, MS_POP3_SASL_RESPONSE, 0); /* not a command: ignored */
    ms_pop3_replies_expect(&rs, MS_POP3_NONE, 0);
    assert_int_equal(rs.lost, 3);
}

static void test_rep_bad_status_framing(void **st)
{
    (void)st;
    /* a bad +OK to RETR still opens the body: the body is not read as replies */
    const char *r = rep("RETR+ NOOP", 0, "+OK \x01\xff\r\n-ERR fake\r\n.\r\n+OK\r\n");
    assert_string_equal(
        r, "0 ERR 5 RFC 1939 3: 8-bit byte: response text is US-ASCII\n"
           "8+14 {\"type\":\"body\",\"answers\":\"RETR\",\"octets\":11,\"lines\":1}\n"
           "22+5 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"NOOP\",\"text\":\"\"}\n");
}

static void test_session(void **st)
{
    (void)st;
    struct ms_limits lim;
    ms_limits_default(&lim);
    const char *t = "S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\n"
                    "C: CAPA\n"
                    "S: +OK Capability list follows\n"
                    "S: TOP\n"
                    "S: UIDL\n"
                    "S: SASL PLAIN\n"
                    "S: .\n"
                    "C: USER mrose\n"
                    "S: +OK mrose is a real hoopy frood\n"
                    "C: PASS secret\n"
                    "S: +OK mrose's maildrop has 2 messages (320 octets)\n"
                    "C: STAT\n"
                    "S: +OK 2 320\n"
                    "C: LIST\n"
                    "S: +OK 2 messages (320 octets)\n"
                    "S: 1 120\n"
                    "S: 2 200\n"
                    "S: .\n"
                    "C: UIDL 1\n"
                    "S: +OK 1 whqtswO00WBw418f9t5JxYwZ\n"
                    "C: RETR 1\n"
                    "S: +OK 120 octets\n"
                    "S: Subject: hi\n"
                    "S: \n"
                    "S: ..leading dot\n"
                    "S: .\n"
                    "C: TOP 2 0\n"
                    "S: +OK\n"
                    "S: Subject: two\n"
                    "S: .\n"
                    "C: DELE 1\n"
                    "S: +OK message 1 deleted\n"
                    "C: QUIT\n"
                    "S: +OK dewey POP3 server signing off (maildrop empty)\n";
    const char *r = ms_check_session(&ms_pop3_proto, &lim, t);
    assert_string_equal(
        r,
        "S 0+57 {\"type\":\"greeting\",\"status\":\"+OK\",\"text\":\"POP3 server ready "
        "<1896.697170952@dbc.mtview.ca.us>\",\"timestamp\":\"<1896.697170952@dbc.mtview.ca.us>\"}\n"
        "C 0+6 {\"type\":\"command\",\"command\":\"CAPA\"}\n"
        "S 57+29 "
        "{\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"CAPA\",\"multiline\":true,\"text\":"
        "\"Capability list follows\"}\n"
        "S 86+5 {\"type\":\"capability\",\"name\":\"TOP\",\"params\":[]}\n"
        "S 91+6 {\"type\":\"capability\",\"name\":\"UIDL\",\"params\":[]}\n"
        "S 97+12 {\"type\":\"capability\",\"name\":\"SASL\",\"params\":[\"PLAIN\"]}\n"
        "S 109+3 {\"type\":\"end\",\"answers\":\"CAPA\",\"entries\":3}\n"
        "C 6+12 {\"type\":\"command\",\"command\":\"USER\",\"name\":\"mrose\"}\n"
        "S 112+33 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"USER\",\"text\":\"mrose is "
        "a real hoopy frood\"}\n"
        "C 18+13 {\"type\":\"command\",\"command\":\"PASS\",\"password\":\"secret\"}\n"
        "S 145+50 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"PASS\",\"text\":\"mrose's "
        "maildrop has 2 messages (320 octets)\"}\n"
        "C 31+6 {\"type\":\"command\",\"command\":\"STAT\"}\n"
        "S 195+11 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"STAT\",\"text\":\"2 "
        "320\",\"count\":2,\"octets\":320}\n"
        "C 37+6 {\"type\":\"command\",\"command\":\"LIST\"}\n"
        "S 206+29 "
        "{\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"LIST\",\"multiline\":true,\"text\":"
        "\"2 messages (320 octets)\"}\n"
        "S 235+7 {\"type\":\"scan_listing\",\"msg\":1,\"octets\":120}\n"
        "S 242+7 {\"type\":\"scan_listing\",\"msg\":2,\"octets\":200}\n"
        "S 249+3 {\"type\":\"end\",\"answers\":\"LIST\",\"entries\":2}\n"
        "C 43+8 {\"type\":\"command\",\"command\":\"UIDL\",\"msg\":1}\n"
        "S 252+32 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"UIDL\",\"text\":\"1 "
        "whqtswO00WBw418f9t5JxYwZ\",\"msg\":1,\"uid\":\"whqtswO00WBw418f9t5JxYwZ\"}\n"
        "C 51+8 {\"type\":\"command\",\"command\":\"RETR\",\"msg\":1}\n"
        "S 284+16 "
        "{\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"RETR\",\"multiline\":true,\"text\":"
        "\"120 octets\"}\n"
        "S 300+33 {\"type\":\"body\",\"answers\":\"RETR\",\"octets\":29,\"lines\":3}\n"
        "C 59+9 {\"type\":\"command\",\"command\":\"TOP\",\"msg\":2,\"lines\":0}\n"
        "S 333+5 "
        "{\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"TOP\",\"multiline\":true,\"text\":"
        "\"\"}\n"
        "S 338+17 {\"type\":\"body\",\"answers\":\"TOP\",\"octets\":14,\"lines\":1}\n"
        "C 68+8 {\"type\":\"command\",\"command\":\"DELE\",\"msg\":1}\n"
        "S 355+23 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"DELE\",\"text\":\"message "
        "1 deleted\"}\n"
        "C 76+6 {\"type\":\"command\",\"command\":\"QUIT\"}\n"
        "S 378+52 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"QUIT\",\"text\":\"dewey "
        "POP3 server signing off (maildrop empty)\"}\n");
}

static void test_session_sasl(void **st)
{
    (void)st;
    struct ms_limits lim;
    ms_limits_default(&lim);
    /* a two-step SASL exchange: the replies tell the command side what comes */
    const char *t = "S: +OK ready\n"
                    "C: AUTH SCRAM-SHA-1 biwsbj11c2VyLHI9Zm9v\n"
                    "S: + cj1mb28sZk9V\n"
                    "C: Yz1iaXdz\n"
                    "S: + dj1ybUY5\n"
                    "C: \n"
                    "S: +OK logged in\n"
                    "C: UTF8\n"
                    "S: +OK\n"
                    "C: USER j\\xc3\\xb6rg\n"
                    "S: -ERR [AUTH] caf\\xc3\\xa9\n"
                    "C: QUIT\n"
                    "S: +OK\n";
    const char *r = ms_check_session(&ms_pop3_proto, &lim, t);
    ms_assert_has(r, "C 39+10 {\"type\":\"sasl_response\",\"data\":\"Yz1iaXdz\"}\n");
    ms_assert_has(r, "C 49+2 {\"type\":\"sasl_response\",\"data\":\"\"}\n");
    ms_assert_has(r, "\"answers\":\"AUTH\",\"text\":\"logged in\"}");
    ms_assert_has(r, "C 57+12 {\"type\":\"command\",\"command\":\"USER\"");
    ms_assert_has(r, "\"code\":\"AUTH\"");
    ms_assert_has(r, "\"answers\":\"QUIT\"");
    ms_assert_lacks(r, " ERR ");
    /* a session whose command is rejected: its reply is read as a reply to nothing */
    t = "S: +OK\nC: XTND\nS: -ERR unknown\nC: LIST\nS: +OK\nS: 1 2\nS: .\n";
    r = ms_check_session(&ms_pop3_proto, &lim, t);
    ms_assert_has(r, "C 0 ERR 0 RFC 1939 3: unknown command\n");
    ms_assert_has(r, "S 5+14 {\"type\":\"status\",\"status\":\"-ERR\",\"text\":\"unknown\"}\n");
    ms_assert_has(r, "{\"type\":\"end\",\"answers\":\"LIST\",\"entries\":1}");
}

static void cmd_init_sasl(void *state, const struct ms_limits *lim)
{
    ms_pop3_commands_kind.init(state, lim);
    ms_pop3_commands_expect_sasl(state, 1);
}

static void test_cmd_expect_sasl(void **st)
{
    (void)st;
    /* a caller that saw a "+ " continuation: the next line is a SASL response */
    struct ms_kind k = ms_pop3_commands_kind;
    k.init = cmd_init_sasl;
    const char *r = ms_check_str(&k, 0, "QUIT\r\nQUIT\r\n");
    assert_string_equal(r, "0+6 {\"type\":\"sasl_response\",\"data\":\"QUIT\"}\n"
                           "6+6 {\"type\":\"command\",\"command\":\"QUIT\"}\n");
    /* a bad SASL line also ends the wait */
    r = ms_check_str(&k, 0, "US ER\r\nUSER x\r\n");
    assert_string_equal(r, "0 ERR 2 RFC 5034 4: a SASL response is base64 or \"*\"\n"
                           "7+8 {\"type\":\"command\",\"command\":\"USER\",\"name\":\"x\"}\n");
}

static void test_writers(void **st)
{
    (void)st;
    struct ms_pop3_command c;
    char out[64];
    memset(&c, 0, sizeof(c));
    c.cmd = MS_POP3_TOP;
    c.nargs = 2;
    c.num[0] = 3;
    c.num[1] = 0;
    ssize_t n = ms_pop3_commands_kind.write(&c, out, sizeof(out));
    assert_int_equal(n, 9);
    assert_memory_equal(out, "TOP 3 0\r\n", 9);
    /* too small a buffer is a failure, never a cut */
    assert_int_equal(ms_pop3_commands_kind.write(&c, out, 8), MS_FAIL);
    struct ms_pop3_reply r;
    memset(&r, 0, sizeof(r));
    r.type = MS_POP3_R_BODY;
    r.lines = 3;
    assert_int_equal(ms_pop3_replies_kind.write(&r, out, sizeof(out)), MS_FAIL);
    r.lines = 0;
    assert_int_equal(ms_pop3_replies_kind.write(&r, out, sizeof(out)), 3);
    assert_string_equal(ms_pop3_cmd_name(MS_POP3_UIDL), "UIDL");
    assert_string_equal(ms_pop3_cmd_name((enum ms_pop3_cmd)999), "");
    assert_true(ms_pop3_base64_valid("", 0));
    assert_true(ms_pop3_base64_valid("ab==", 4));
    assert_true(ms_pop3_base64_valid("abc=", 4));
    assert_false(ms_pop3_base64_valid("a===", 4));
    assert_false(ms_pop3_base64_valid("====", 4));
    assert_false(ms_pop3_base64_valid("ab=c", 4));
    assert_false(ms_pop3_base64_valid("ab==abcd", 8));
    assert_false(ms_pop3_base64_valid("abcde", 5));
}

/*
 * APOP timestamps whose right part is a domain literal (RFC 5322 3.4.1
 * dtext: VCHAR except "[", "]" and "\"), and a CAPA line with one parameter
 * more than the view holds (MS_POP3_CAPA_PARAMS).
 */
static void test_rep_coverage(void **st)
{
    const char *bad = "0 ERR 12 RFC 1939 7: msg-id right part is a dot-atom or [literal]\n";
    (void)st;
    assert_string_equal(rep("-", 0, "+OK hi <1.2@[10.0.0.1]>\r\n"),
                        "0+25 {\"type\":\"greeting\",\"status\":\"+OK\",\"text\":\"hi "
                        "<1.2@[10.0.0.1]>\",\"timestamp\":\"<1.2@[10.0.0.1]>\"}\n");
    assert_string_equal(rep("-", 0, "+OK hi <1.2@[a[b]>\r\n"), bad);
    assert_string_equal(rep("-", 0, "+OK hi <1.2@[a]b]>\r\n"), bad);
    assert_string_equal(rep("-", 0, "+OK hi <1.2@[a\\b]>\r\n"), bad);
    assert_string_equal(rep("-", 0,
                            "+OK hi <1.2@[a\x7f"
                            "b]>\r\n"),
                        bad);
    /* 16 parameters fit; the 17th is refused at its first byte */
    ms_assert_has(rep("CAPA", 0, "+OK\r\nX 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\r\n.\r\n"),
                  "\"params\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\","
                  "\"12\",\"13\",\"14\",\"15\",\"16\"]");
    assert_string_equal(
        rep("CAPA", 0, "+OK\r\nX 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\r\n.\r\n"),
        "0+5 {\"type\":\"status\",\"status\":\"+OK\",\"answers\":\"CAPA\",\"multiline\":true,"
        "\"text\":\"\"}\n"
        "5 ERR 46 RFC 2449 5: more capability parameters than the limit\n"
        "50+3 {\"type\":\"end\",\"answers\":\"CAPA\",\"entries\":1}\n");
}

/* The code of every kind of error: syntax, each limit at and one over it,
 * truncated input. */
static const char *codes(const struct ms_kind *k, const struct ms_limits *lim, const char *in)
{
    return ms_check_codes(k, lim, in, strlen(in));
}

static void test_error_codes(void **st)
{
    const struct ms_kind *cmds = &ms_pop3_commands_kind, *reps = &ms_pop3_replies_kind;
    struct ms_limits lim;
    (void)st;
    ms_limits_default(&lim);

    /* syntax */
    assert_string_equal(codes(cmds, &lim, "XYZZY\r\n"), "syntax");
    assert_string_equal(codes(cmds, &lim, "RETR 0\r\n"), "syntax");
    assert_string_equal(codes(cmds, &lim, "NOOP\n"), "syntax");
    assert_string_equal(codes(reps, &lim, "OK x\r\n"), "syntax");
    /* truncated */
    assert_string_equal(codes(cmds, &lim, "NOOP\r\nNOOP"), "truncated");
    assert_string_equal(codes(reps, &lim, "+OK x"), "truncated");
    /* command line, 10 bytes with CRLF */
    lim.pop3_command_line = 10;
    assert_string_equal(codes(cmds, &lim, "USER abc\r\n"), "");
    assert_string_equal(codes(cmds, &lim, "USER abcd\r\n"), "limit");
    ms_limits_default(&lim);
    /* numbers RFC 1939 does not bound, over mailspec's 32 and 64 bits */
    assert_string_equal(codes(cmds, &lim, "RETR 4294967295\r\n"), "");
    assert_string_equal(codes(cmds, &lim, "RETR 4294967296\r\n"), "limit");
    assert_string_equal(codes(cmds, &lim, "TOP 1 18446744073709551615\r\n"), "");
    assert_string_equal(codes(cmds, &lim, "TOP 1 18446744073709551616\r\n"), "limit");
    /* response line: the greeting, and a later status line */
    lim.pop3_response_line = 10;
    assert_string_equal(codes(reps, &lim, "+OK abcd\r\n"), "");
    assert_string_equal(codes(reps, &lim, "+OK abcde\r\n"), "limit");
    assert_string_equal(codes(reps, &lim, "+OK abcd\r\n+OK abcd\r\n"), "");
    assert_string_equal(codes(reps, &lim, "+OK abcd\r\n+OK abcde\r\n"), "limit");
    ms_limits_default(&lim);
    /* response code levels (the view holds MS_POP3_CODE_LEVELS) */
    assert_string_equal(codes(reps, &lim, "+OK [A/B/C/D] x\r\n"), "");
    assert_string_equal(codes(reps, &lim, "+OK [A/B/C/D/E] x\r\n"), "limit");
    /* replies that need their command: sessions */
    assert_string_equal(ms_check_session_codes(&ms_pop3_proto, &lim,
                                               "S: +OK hi\nC: LIST 1\nS: +OK 4294967295 100\n"
                                               "C: LIST 1\nS: +OK 4294967296 100\n"
                                               "C: STAT\nS: +OK 18446744073709551615 1\n"
                                               "C: STAT\nS: +OK 18446744073709551616 1\n"
                                               "C: STAT\nS: +OK x 1\n"),
                        "S:limit S:limit S:syntax");
    /* CAPA parameters (the view holds MS_POP3_CAPA_PARAMS) */
    for (int params = MS_POP3_CAPA_PARAMS; params <= MS_POP3_CAPA_PARAMS + 1; params++) {
        char t[512];
        int n = snprintf(t, sizeof(t), "S: +OK hi\nC: CAPA\nS: +OK\nS: X");
        for (int i = 0; i < params; i++)
            n += snprintf(t + n, sizeof(t) - (size_t)n, " p");
        snprintf(t + n, sizeof(t) - (size_t)n, "\nS: .\n");
        assert_string_equal(ms_check_session_codes(&ms_pop3_proto, &lim, t),
                            params == MS_POP3_CAPA_PARAMS ? "" : "S:limit");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd_all),
        cmocka_unit_test(test_cmd_errors),
        cmocka_unit_test(test_cmd_numbers),
        cmocka_unit_test(test_cmd_keywords),
        cmocka_unit_test(test_cmd_bare_cr_fast_path),
        cmocka_unit_test(test_cmd_limits),
        cmocka_unit_test(test_cmd_lenient),
        cmocka_unit_test(test_cmd_utf8),
        cmocka_unit_test(test_cmd_lang),
        cmocka_unit_test(test_cmd_sasl),
        cmocka_unit_test(test_rep_greeting),
        cmocka_unit_test(test_rep_status),
        cmocka_unit_test(test_rep_limits),
        cmocka_unit_test(test_rep_stat_list_uidl),
        cmocka_unit_test(test_rep_view_reuse),
        cmocka_unit_test(test_rep_multiline_list),
        cmocka_unit_test(test_rep_multiline_uidl),
        cmocka_unit_test(test_rep_capa),
        cmocka_unit_test(test_rep_lang),
        cmocka_unit_test(test_rep_lang_empty_description_slice),
        cmocka_unit_test(test_rep_body),
        cmocka_unit_test(test_rep_sasl),
        cmocka_unit_test(test_rep_pipelining),
        cmocka_unit_test(test_rep_bad_status_framing),
        cmocka_unit_test(test_session),
        cmocka_unit_test(test_session_sasl),
        cmocka_unit_test(test_cmd_expect_sasl),
        cmocka_unit_test(test_writers),
        cmocka_unit_test(test_rep_coverage),
        cmocka_unit_test(test_error_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
