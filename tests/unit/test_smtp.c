/*
 * SMTP parser tests: commands, paths, ESMTP parameters, the DATA/BDAT/AUTH
 * streams, replies and sessions. Every case runs through ms_check (whole,
 * split at every byte, byte by byte against guard pages, round trip).
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "mailspec/smtp.h"

#define CMDS  (&ms_smtp_commands_kind)
#define REPS  (&ms_smtp_replies_kind)
#define DATAK (&ms_smtp_data_kind)

/* Parse in (NUL-terminated) as kind k; expect no error and n messages. */
static const char *ok_(const struct ms_kind *k, uint32_t lenient, const char *in, size_t n,
                       const char *file, int line)
{
    const char *r = ms_check_str(k, lenient, in);
    if (ms_last_errors != 0 || (n && ms_last_messages != n)) {
        print_error("input: %s\nexpected %zu messages and no error, got:\n%s", in, n, r);
        _fail(file, line);
    }
    return r;
}
#define OK(k, in)       ok_((k), 0, (in), 0, __FILE__, __LINE__)
#define OKN(k, in, n)   ok_((k), 0, (in), (n), __FILE__, __LINE__)
#define OKL(k, len, in) ok_((k), (len), (in), 0, __FILE__, __LINE__)

/* Expect an error whose rendering contains needle ("ERR <off> <rule>: <reason>"). */
static const char *bad_(const struct ms_kind *k, uint32_t lenient, const char *in,
                        const char *needle, const char *file, int line)
{
    const char *r = ms_check_str(k, lenient, in);
    if (ms_last_errors == 0 || !strstr(r, needle)) {
        print_error("input: %s\nexpected an error containing\n  %s\ngot:\n%s", in, needle, r);
        _fail(file, line);
    }
    return r;
}
#define BAD(k, in, needle)       bad_((k), 0, (in), (needle), __FILE__, __LINE__)
#define BADL(k, len, in, needle) bad_((k), (len), (in), (needle), __FILE__, __LINE__)

static char big[70000];

/* "MAIL FROM:<" local "@" domain ">\r\n" with given lengths. */
static const char *mail_with(size_t local, size_t label, size_t labels, size_t last)
{
    size_t n = 0;
    n += (size_t)snprintf(big + n, sizeof(big) - n, "MAIL FROM:<");
    memset(big + n, 'l', local);
    n += local;
    big[n++] = '@';
    for (size_t i = 0; i < labels; i++) {
        memset(big + n, 'd', label);
        n += label;
        big[n++] = '.';
    }
    memset(big + n, 'e', last);
    n += last;
    n += (size_t)snprintf(big + n, sizeof(big) - n, ">\r\n");
    return big;
}

static void test_verbs(void **st)
{
    (void)st;
    const char *r = OKN(CMDS,
                        "EHLO client.example\r\nHELO client.example\r\nRSET\r\nNOOP\r\n"
                        "NOOP hello\r\nHELP\r\nHELP MAIL\r\nVRFY smith\r\nEXPN \"list x\"\r\n"
                        "STARTTLS\r\nETRN @example.org\r\nETRN #queue1\r\nETRN example.org\r\n"
                        "QUIT\r\n",
                        14);
    ms_assert_has(r, "\"verb\":\"EHLO\",\"domain\":\"client.example\",\"host_type\":\"domain\"");
    ms_assert_has(r, "\"verb\":\"EXPN\",\"arg\":\"\\\"list x\\\"\"");
    ms_assert_has(r, "\"verb\":\"ETRN\",\"arg\":\"#queue1\"");
    /* verbs are case-insensitive, the view shows the canonical name */
    r = OKN(CMDS, "ehlo x.org\r\nmail from:<a@b.org>\r\nRcPt To:<c@d.org>\r\nqUiT\r\n", 4);
    ms_assert_has(r, "\"verb\":\"MAIL\"");
    ms_assert_has(r, "\"verb\":\"RCPT\"");
    /* unknown verbs */
    r = BAD(CMDS, "FOO bar\r\nQUIT\r\n", "0 ERR 0 RFC 5321 4.1.1 command: unknown command");
    ms_assert_has(r, "9+6 {\"type\":\"command\",\"verb\":\"QUIT\"}");
    BAD(CMDS, "MAILX FROM:<a@b>\r\n", "unknown command");
    BAD(CMDS, "QUIT2\r\n", "unknown command");
    BAD(CMDS, "\r\n", "expected a command verb");
    BAD(CMDS, " QUIT\r\n", "expected a command verb");
    /* arguments where none are allowed, missing ones */
    BAD(CMDS, "DATA x\r\n", "ERR 4 RFC 5321 4.1.1.4 DATA: expected CRLF");
    BAD(CMDS, "QUIT now\r\n", "RFC 5321 4.1.1.10 QUIT");
    BAD(CMDS, "STARTTLS x\r\n", "RFC 3207 4 STARTTLS");
    BAD(CMDS, "RSET x\r\n", "RFC 5321 4.1.1.5 RSET");
    BAD(CMDS, "EHLO\r\n", "ERR 4 RFC 5321 4.1.1.1 ehlo: expected SP and a domain");
    BAD(CMDS, "EHLO \r\n", "expected a domain label");
    BAD(CMDS, "VRFY\r\n", "RFC 5321 4.1.1.6 VRFY");
    BAD(CMDS, "VRFY a b\r\n", "ERR 6 RFC 5321 4.1.1.6 VRFY: expected CRLF");
    BAD(CMDS, "VRFY <a@b>\r\n", "expected an Atom or a Quoted-string");
    BAD(CMDS, "NOOP a b\r\n", "RFC 5321 4.1.1.9 NOOP");
    BAD(CMDS, "ETRN\r\n", "RFC 1985 5 ETRN");
    BAD(CMDS, "ETRN #\r\n", "expected a queue name");
    /* trailing SP: strict error, lenient quirk */
    BAD(CMDS, "QUIT \r\n", "ERR 4 RFC 5321 4.1.1.10 QUIT: trailing SP before CRLF");
    BAD(CMDS, "QUIT  \r\n", "ERR 4 RFC 5321 4.1.1.10 QUIT: expected CRLF");
    r = OKL(CMDS, MS_LENIENT_SPACES, "QUIT \r\n");
    ms_assert_has(r, "\"quirks\":[{\"offset\":4,\"rule\":\"RFC 5321 4.1.1.10 QUIT\","
                     "\"reason\":\"trailing SP before CRLF\"}]");
    BAD(CMDS, "EHLO  x.org\r\n", "exactly one SP expected");
    r = OKL(CMDS, MS_LENIENT_SPACES, "EHLO  x.org\r\n");
    ms_assert_has(r, "several SP between words");
}

static void test_lines(void **st)
{
    (void)st;
    /* 512 octets with CRLF is the longest command line; 513 is an error at 512 */
    memset(big, 0, sizeof(big));
    memcpy(big, "NOOP ", 5);
    memset(big + 5, 'a', 505);
    memcpy(big + 510, "\r\n", 3);
    OKN(CMDS, big, 1);
    memset(big + 5, 'a', 506);
    memcpy(big + 511, "\r\n", 3);
    const char *r = BAD(CMDS, big, "0 ERR 512 RFC 5321 4.5.3.1.4 command line: line longer");
    (void)r;
    /* bare LF, bare CR, NUL, 8-bit, truncated */
    BAD(CMDS, "QUIT\n", "0 ERR 4 RFC 5321 4.5.3.1.4 command line: bare LF");
    r = OKL(CMDS, MS_LENIENT_BARE_LF, "QUIT\nNOOP\r\n");
    ms_assert_has(r, "0+5 {\"type\":\"command\",\"verb\":\"QUIT\",\"quirks\":[{\"offset\":4,"
                     "\"rule\":\"RFC 5321 2.3.8\",\"reason\":\"bare LF ends the line\"}]}");
    BAD(CMDS, "QU\rIT\r\n", "0 ERR 2 RFC 5321 4.5.3.1.4 command line: bare CR inside a line");
    {
        struct ms_limits lim;
        ms_limits_default(&lim);
        r = ms_check(CMDS, &lim, "NOOP a\0b\r\nQUIT\r\n", 16);
        ms_assert_has(r, "0 ERR 6 RFC 5321 4.1.1.9 NOOP: expected CRLF");
        ms_assert_has(r, "10+6 {\"type\":\"command\",\"verb\":\"QUIT\"}");
        r = ms_check(CMDS, &lim, "QU\0T\r\n", 6);
        ms_assert_has(r, "unknown command");
    }
    BAD(CMDS, "NOOP \xc3\xa9\r\n", "ERR 5 RFC 6531 3.4: 8-bit byte in a command without SMTPUTF8");
    BAD(CMDS, "QU\xc9T\r\n", "unknown command");
    /* HT after a known verb: the separator is wrong, not the verb */
    BAD(CMDS, "EHLO\t[127.0.0.1]\r\n",
        "0 ERR 4 RFC 5321 4.1.1 command: SP, not HT, separates the verb from its argument");
    BAD(CMDS, "MAIL\tFROM:<a@b>\r\n", "0 ERR 4 RFC 5321 4.1.1 command: SP, not HT");
    BAD(CMDS, "EHLX\t[127.0.0.1]\r\n", "0 ERR 0 RFC 5321 4.1.1 command: unknown command");
    OKN(CMDS, "EHLO [127.0.0.1]\r\n", 1);
    r = BAD(CMDS, "MAIL FROM:<a@b.org>", "0 ERR 19 end of input: input ends inside a message");
    r = BAD(CMDS, "QUIT\r", "end of input");
}

static void test_paths(void **st)
{
    (void)st;
    const char *r;
    r = OKN(CMDS, "MAIL FROM:<>\r\n", 1);
    ms_assert_has(r, "\"path\":\"<>\",\"null_path\":true");
    BAD(CMDS, "RCPT TO:<>\r\n", "ERR 9 RFC 5321 4.1.2 Forward-path: the null path");
    r = OKN(CMDS, "RCPT TO:<Postmaster>\r\nRCPT TO:<postMASTER>\r\n", 2);
    ms_assert_has(r, "\"path\":\"<postMASTER>\",\"postmaster\":true");
    BAD(CMDS, "MAIL FROM:<Postmaster>\r\n", "expected \"@\"");
    r = OKN(CMDS, "RCPT TO:<Postmaster@example.org>\r\n", 1);
    ms_assert_has(r, "\"local\":\"Postmaster\",\"domain\":\"example.org\"");
    /* quoted local parts */
    r = OKN(CMDS, "MAIL FROM:<\"john smith\\\"x\"@example.org>\r\n", 1);
    ms_assert_has(r, "\"quoted\":true");
    BAD(CMDS, "MAIL FROM:<\"a\x01\"@b.org>\r\n", "RFC 5321 4.1.2 Quoted-string");
    BAD(CMDS, "MAIL FROM:<\"a\\\x01\"@b.org>\r\n", "quoted-pairSMTP");
    BAD(CMDS, "MAIL FROM:<\"abc@b.org>\r\n", "Quoted-string");
    /* dot-strings */
    OKN(CMDS, "MAIL FROM:<a.b.c!#$%&'*+-/=?^_`{|}~@b.org>\r\n", 1);
    BAD(CMDS, "MAIL FROM:<a..b@b.org>\r\n",
        "ERR 13 RFC 5321 4.1.2 Dot-string: expected atext after");
    BAD(CMDS, "MAIL FROM:<.a@b.org>\r\n",
        "ERR 11 RFC 5321 4.1.2 Dot-string: expected a local part");
    BAD(CMDS, "MAIL FROM:<a.@b.org>\r\n", "ERR 13 RFC 5321 4.1.2 Dot-string");
    BAD(CMDS, "MAIL FROM:<a b@b.org>\r\n", "expected \"@\" after the local part");
    BAD(CMDS, "MAIL FROM:<a@b.org\r\n", "expected \">\" to end the path");
    BAD(CMDS, "MAIL FROM:a@b.org\r\n", "ERR 10 RFC 5321 4.1.2 Path: expected \"<\"");
    BAD(CMDS, "MAIL FROM:<@b.org>\r\n", "expected \":\" after the source route");
    /* source routes: accepted, reported */
    r = OKN(CMDS, "RCPT TO:<@a.org,@b.org:u@c.org>\r\n", 1);
    ms_assert_has(r, "\"route\":\"@a.org,@b.org\",\"local\":\"u\",\"domain\":\"c.org\"");
    BAD(CMDS, "RCPT TO:<@a.org,b.org:u@c.org>\r\n", "RFC 5321 4.1.2 A-d-l");
    /* local part 64 / 65 */
    OKN(CMDS, mail_with(64, 3, 1, 3), 1);
    BAD(CMDS, mail_with(65, 3, 1, 3), "ERR 75 RFC 5321 4.5.3.1.1 local-part: local part longer");
    /* label 63 / 64 */
    OKN(CMDS, mail_with(1, 63, 1, 3), 1);
    BAD(CMDS, mail_with(1, 64, 1, 3), "ERR 76 RFC 1035 2.3.4 label: domain label longer than 63");
    /* domain 255 / 256 (path limit raised so only the domain limit counts) */
    {
        struct ms_limits lim;
        ms_limits_default(&lim);
        lim.smtp_path = 1000;
        /* 3 labels of 63 + dots = 192, + last label 63 = 255 */
        mail_with(1, 63, 3, 63);
        r = ms_check(CMDS, &lim, big, strlen(big));
        ms_assert_lacks(r, "ERR");
        /* "a." + 3 * "63." + 62 = 256: an error at the 256th octet (13 + 255) */
        mail_with(1, 63, 3, 62);
        size_t n = strlen(big);
        memmove(big + 15, big + 13, n - 13 + 1);
        big[13] = 'a';
        big[14] = '.';
        r = ms_check(CMDS, &lim, big, strlen(big));
        ms_assert_has(r, "0 ERR 268 RFC 5321 4.5.3.1.2 domain: domain longer than the limit");
    }
    /* path 256 / 257: "<" 64 "@" 189 ">" = 256 */
    OKN(CMDS, mail_with(64, 63, 2, 61), 1);
    BAD(CMDS, mail_with(64, 63, 2, 62),
        "ERR 266 RFC 5321 4.5.3.1.3 path: path longer than the limit");
    /* domains */
    BAD(CMDS, "MAIL FROM:<a@-b.org>\r\n",
        "ERR 13 RFC 5321 4.1.2 Domain: a domain label must not start");
    BAD(CMDS, "MAIL FROM:<a@b-.org>\r\n",
        "ERR 14 RFC 5321 4.1.2 Domain: a domain label must not end");
    BAD(CMDS, "MAIL FROM:<a@b..org>\r\n", "expected a domain label after");
    BAD(CMDS, "MAIL FROM:<a@b.org.>\r\n", "expected a domain label after");
    BAD(CMDS, "MAIL FROM:<a@>\r\n", "expected a domain label");
    BAD(CMDS, "MAIL FROM:<a@b_c.org>\r\n", "expected \">\"");
    OKN(CMDS, "MAIL FROM:<a@3com.example>\r\n", 1);
}

static void test_literals(void **st)
{
    (void)st;
    static const char *const good[] = {
        "[1.2.3.4]",
        "[255.255.255.255]",
        "[0.0.0.0]",
        "[01.2.3.4]",
        "[IPv6:1:2:3:4:5:6:7:8]",
        "[IPv6:::]",
        "[IPv6:::1]",
        "[IPv6:1::]",
        "[IPv6:1:2:3:4:5:6::]",
        "[IPv6:1::8]",
        "[IPv6:ffff:FFFF::abcd]",
        "[IPv6:1:2:3:4:5:6:1.2.3.4]",
        "[IPv6:::ffff:1.2.3.4]",
        "[IPv6:::1.2.3.4]",
        "[IPv6:1:2:3:4::1.2.3.4]",
        "[ipv6:::1]",
        "[x-tag:any!thing]",
        "[tag1:a]",
    };
    static const char *const bad[] = {
        "[256.1.1.1]",
        "[1.2.3]",
        "[1.2.3.4.5]",
        "[1234.1.1.1]",
        "[1.2.3.]",
        "[]",
        "[a.b.c.d]",
        "[IPv6:1:2:3:4:5:6:7]",
        "[IPv6:1:2:3:4:5:6:7:8:9]",
        "[IPv6:1::2::3]",
        "[IPv6:1:2:3:4:5:6:7::]",
        "[IPv6:12345::]",
        "[IPv6:g::]",
        "[IPv6:1:2:3:4:5:1.2.3.4]",
        "[IPv6:1:2:3:4:5::1.2.3.4]",
        "[IPv6:::1.2.3.256]",
        "[IPv6:1:]",
        "[IPv6::1]",
        "[IPv6:]",
        "[IPv6:1.2.3.4]",
        "[tag-:x]",
        "[:x]",
        "[tag:]",
        "[tag:a[b]",
        "[ta_g:x]",
        "[1.2.3.4",
        "[IPv6:::1:1.2.3.4:1]",
    };
    char buf[128];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(buf, sizeof(buf), "MAIL FROM:<a@%s>\r\nEHLO %s\r\n", good[i], good[i]);
        OKN(CMDS, buf, 2);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(buf, sizeof(buf), "MAIL FROM:<a@%s>\r\n", bad[i]);
        BAD(CMDS, buf, "RFC 5321 4.1.3");
    }
    const char *r = OKN(CMDS, "EHLO [IPv6:::1]\r\n", 1);
    ms_assert_has(r, "\"domain\":\"[IPv6:::1]\",\"host_type\":\"ipv6\",\"address\":\"::1\"");
    r = OKN(CMDS, "EHLO [x-tag:abc]\r\n", 1);
    ms_assert_has(r, "\"host_type\":\"general\",\"tag\":\"x-tag\",\"address\":\"abc\"");
    r = OKN(CMDS, "EHLO [10.0.0.1]\r\n", 1);
    ms_assert_has(r, "\"host_type\":\"ipv4\",\"address\":\"10.0.0.1\"");
    /* HELO takes a Domain only */
    BAD(CMDS, "HELO [1.2.3.4]\r\n", "RFC 5321 4.1.1.1 helo");
    /* error offsets inside literals */
    BAD(CMDS, "EHLO [IPv6:1::2::3]\r\n", "0 ERR 16 RFC 5321 4.1.3 IPv6-addr: invalid IPv6 address");
    BAD(CMDS, "EHLO [1.2.3.999]\r\n", "0 ERR 6 RFC 5321 4.1.3 IPv4-address-literal");
    BAD(CMDS, "EHLO x.org.\r\n", "expected a domain label after");
    BAD(CMDS, "EHLO [IPv6:::1\r\n", "expected \"]\" to end the address literal");
    BAD(CMDS, "MAIL FROM:<a@[1.2.3.\xc3\xa9]> SMTPUTF8\r\n", "8-bit byte in an address literal");
    OKN(CMDS, "EHLO [IPV6:0:0:0:0:0:0:0:1]\r\n", 1);
}

static void test_params(void **st)
{
    (void)st;
    const char *r;
    r = OKN(CMDS,
            "MAIL FROM:<a@b.org> SIZE=0 BODY=8BITMIME RET=HDRS ENVID=QQ+2B1 AUTH=<> X-FOO=bar "
            "NOVALUE\r\n",
            1);
    ms_assert_has(r,
                  "\"params\":[{\"keyword\":\"SIZE\",\"value\":\"0\"},{\"keyword\":\"BODY\","
                  "\"value\":\"8BITMIME\"},{\"keyword\":\"RET\",\"value\":\"HDRS\"},{\"keyword\":"
                  "\"ENVID\",\"value\":\"QQ+2B1\"},{\"keyword\":\"AUTH\",\"value\":\"<>\"},"
                  "{\"keyword\":\"X-FOO\",\"value\":\"bar\"},{\"keyword\":\"NOVALUE\"}],"
                  "\"size\":0,\"body\":\"8BITMIME\",\"ret\":\"HDRS\",\"envid\":\"QQ+2B1\","
                  "\"auth\":\"<>\"");
    /* SIZE: 2^32 fine, 2^64-1 fine, 2^64 overflow, 21 digits */
    r = OKN(CMDS, "MAIL FROM:<a@b.org> SIZE=4294967296\r\n", 1);
    ms_assert_has(r, "\"size\":4294967296");
    r = OKN(CMDS, "MAIL FROM:<a@b.org> SIZE=18446744073709551615\r\n", 1);
    ms_assert_has(r, "\"size\":18446744073709551615");
    BAD(CMDS, "MAIL FROM:<a@b.org> SIZE=18446744073709551616\r\n",
        "0 ERR 25 RFC 1870 6 size-value: expected 1*20DIGIT below 2^64");
    BAD(CMDS, "MAIL FROM:<a@b.org> SIZE=000000000000000000001\r\n", "RFC 1870 6 size-value");
    BAD(CMDS, "MAIL FROM:<a@b.org> SIZE=12a\r\n", "RFC 1870 6 size-value");
    BAD(CMDS, "MAIL FROM:<a@b.org> SIZE\r\n", "ERR 20 RFC 1870 6 size-param: expected \"=\"");
    BAD(CMDS, "MAIL FROM:<a@b.org> SIZE=1 SIZE=2\r\n", "parameter given twice");
    BAD(CMDS, "RCPT TO:<a@b.org> SIZE=1\r\n", "a MAIL FROM parameter");
    /* BODY, SMTPUTF8, RET, ENVID, AUTH */
    OKN(CMDS, "MAIL FROM:<a@b.org> BODY=7bit\r\nMAIL FROM:<a@b.org> BODY=BINARYMIME\r\n", 2);
    BAD(CMDS, "MAIL FROM:<a@b.org> BODY=9BIT\r\n", "RFC 6152 2 BODY: expected 7BIT");
    BAD(CMDS, "MAIL FROM:<a@b.org> SMTPUTF8=yes\r\n", "SMTPUTF8 takes no value");
    BAD(CMDS, "MAIL FROM:<a@b.org> RET=ALL\r\n", "RFC 3461 4.3 RET: expected FULL or HDRS");
    BAD(CMDS, "MAIL FROM:<a@b.org> ENVID=a+2b\r\n",
        "ERR 29 RFC 3461 4.4 ENVID: expected two upper-case");
    BAD(CMDS, "MAIL FROM:<a@b.org> ENVID=a+\r\n", "RFC 3461 4.4 ENVID");
    BAD(CMDS, "MAIL FROM:<a@b.org> AUTH=a+zz\r\n", "RFC 4954 5 auth-param");
    {
        char buf[256];
        int n = snprintf(buf, sizeof(buf), "MAIL FROM:<a@b.org> ENVID=");
        memset(buf + n, 'e', 100);
        memcpy(buf + n + 100, "\r\n", 3);
        OKN(CMDS, buf, 1);
        memset(buf + n, 'e', 101);
        memcpy(buf + n + 101, "\r\n", 3);
        BAD(CMDS, buf, "ENVID longer than 100");
    }
    /* NOTIFY, ORCPT (RCPT only) */
    r = OKN(CMDS, "RCPT TO:<a@b.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a+40b.org\r\n", 1);
    ms_assert_has(
        r, "\"notify\":[\"SUCCESS\",\"DELAY\"],\"orcpt_type\":\"rfc822\",\"orcpt\":\"a+40b.org\"");
    OKN(CMDS, "RCPT TO:<a@b.org> NOTIFY=NEVER\r\n", 1);
    BAD(CMDS, "RCPT TO:<a@b.org> NOTIFY=NEVER,DELAY\r\n", "NEVER cannot be combined");
    BAD(CMDS, "RCPT TO:<a@b.org> NOTIFY=DELAY,DELAY\r\n", "value listed twice");
    BAD(CMDS, "RCPT TO:<a@b.org> NOTIFY=SOMETIMES\r\n", "ERR 25 RFC 3461 4.1 NOTIFY");
    BAD(CMDS, "RCPT TO:<a@b.org> NOTIFY=SUCCESS,\r\n", "RFC 3461 4.1 NOTIFY");
    BAD(CMDS, "MAIL FROM:<a@b.org> NOTIFY=NEVER\r\n", "a RCPT TO parameter");
    BAD(CMDS, "RCPT TO:<a@b.org> ORCPT=rfc822\r\n", "expected addr-type");
    BAD(CMDS, "RCPT TO:<a@b.org> ORCPT=;a\r\n", "expected addr-type");
    BAD(CMDS, "RCPT TO:<a@b.org> ORCPT=rfc822;a+4\r\n", "RFC 3461 4.2 ORCPT");
    /* esmtp-keyword / esmtp-value syntax */
    BAD(CMDS, "MAIL FROM:<a@b.org> -X=1\r\n", "ERR 20 RFC 5321 4.1.2 esmtp-keyword");
    BAD(CMDS, "MAIL FROM:<a@b.org> X=\r\n", "ERR 22 RFC 5321 4.1.2 esmtp-value");
    BAD(CMDS, "MAIL FROM:<a@b.org> X=a=b\r\n", "ERR 23 RFC 5321 4.1.2 esmtp-param");
    BAD(CMDS, "MAIL FROM:<a@b.org>X=1\r\n", "ERR 19 RFC 5321 4.1.2 esmtp-param: expected SP");
    /* a doubled or trailing SP is named as such, at the SP (not as a keyword error) */
    BAD(CMDS, "MAIL FROM:<a@b.org>  X=1\r\n",
        "0 ERR 20 RFC 5321 4.1.2 esmtp-param: exactly one SP expected between words");
    BAD(CMDS, "MAIL FROM:<a@b> \r\n",
        "0 ERR 15 RFC 5321 4.1.2 esmtp-param: trailing SP before CRLF");
    BAD(CMDS, "RCPT TO:<a@b> NOTIFY=NEVER \r\n",
        "0 ERR 26 RFC 5321 4.1.2 esmtp-param: trailing SP before CRLF");
    BAD(CMDS, "MAIL FROM:<a@b> -X\r\n", "0 ERR 16 RFC 5321 4.1.2 esmtp-keyword");
    BAD(CMDS, "RSET \r\n", "0 ERR 4 RFC 5321 4.1.1.5 RSET: trailing SP before CRLF");
    BAD(CMDS, "RSET x\r\n", "0 ERR 4 RFC 5321 4.1.1.5 RSET: expected CRLF");
    OKN(CMDS, "MAIL FROM:<a@b> X=1\r\nRSET\r\n", 2);
    r = OKL(CMDS, MS_LENIENT_SPACES, "MAIL FROM:<a@b.org>  X=1 \r\n");
    ms_assert_has(r, "several SP between words");
    ms_assert_has(r, "trailing SP before CRLF");
    /* parameter count: 16 fine, 17 an error */
    {
        char buf[512];
        int n = snprintf(buf, sizeof(buf), "MAIL FROM:<a@b.org>");
        for (int i = 0; i < 16; i++)
            n += snprintf(buf + n, sizeof(buf) - (size_t)n, " P%d=v", i);
        snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
        OKN(CMDS, buf, 1);
        snprintf(buf + n, sizeof(buf) - (size_t)n, " Q=1\r\n");
        BAD(CMDS, buf, "too many ESMTP parameters");
    }
}

static void test_colon_spaces(void **st)
{
    (void)st;
    BAD(CMDS, "MAIL FROM: <a@b.org>\r\n", "0 ERR 10 RFC 5321 4.1.1.2 MAIL: no space allowed after");
    BAD(CMDS, "MAIL FROM :<a@b.org>\r\n", "0 ERR 9 RFC 5321 4.1.1.2 MAIL: no space allowed before");
    BAD(CMDS, "RCPT TO: <a@b.org>\r\n", "0 ERR 8 RFC 5321 4.1.1.3 RCPT: no space allowed after");
    BAD(CMDS, "MAIL TO:<a@b.org>\r\n", "expected \"FROM:\"");
    BAD(CMDS, "RCPT FROM:<a@b.org>\r\n", "expected \"TO:\"");
    const char *r = OKL(CMDS, MS_LENIENT_SPACES, "MAIL FROM: <a@b.org>\r\nRCPT TO : <c@d.org>\r\n");
    ms_assert_has(r, "\"quirks\":[{\"offset\":10,\"rule\":\"RFC 5321 4.1.1.2 MAIL\","
                     "\"reason\":\"SP after \\\":\\\"\"}]");
    ms_assert_has(r, "SP before \\\":\\\"");
}

static void test_smtputf8(void **st)
{
    (void)st;
    const char *r;
    /* U+03B4 in the local part, U+00FC in the domain */
    r = OKN(CMDS,
            "MAIL FROM:<\xce\xb4@b\xc3\xbc"
            "cher.example> SMTPUTF8\r\n"
            "RCPT TO:<\xce\xb4@example.org>\r\nRSET\r\n",
            3);
    ms_assert_has(r, "\"utf8\":true");
    ms_assert_has(r, "\"smtputf8\":true");
    BAD(CMDS, "MAIL FROM:<\xce\xb4@example.org>\r\n", "0 ERR 11 RFC 6531 3.4: 8-bit byte");
    BAD(CMDS, "MAIL FROM:<a@b\xc3\xbc.org>\r\n", "0 ERR 14 RFC 6531 3.4");
    /* RCPT inherits SMTPUTF8 from the transaction; RSET ends it */
    BAD(CMDS, "MAIL FROM:<a@b.org>\r\nRCPT TO:<\xce\xb4@example.org>\r\n", "RFC 6531 3.4");
    BAD(CMDS, "MAIL FROM:<a@b.org> SMTPUTF8\r\nRSET\r\nRCPT TO:<\xce\xb4@example.org>\r\n",
        "RFC 6531 3.4");
    /* invalid UTF-8 is an error even with SMTPUTF8 */
    BAD(CMDS, "MAIL FROM:<\xc3\x28@example.org> SMTPUTF8\r\n",
        "0 ERR 11 RFC 6531 3.3 atext: invalid UTF-8");
    BAD(CMDS, "MAIL FROM:<\xed\xa0\x80@example.org> SMTPUTF8\r\n", "invalid UTF-8");
    BAD(CMDS, "MAIL FROM:<a@\xff.org> SMTPUTF8\r\n", "invalid UTF-8 in a domain");
    /* lenient 8BIT: a quirk */
    r = OKL(CMDS, MS_LENIENT_8BIT, "MAIL FROM:<\xce\xb4@example.org>\r\n");
    ms_assert_has(r, "UTF-8 without SMTPUTF8");
    /* EHLO takes ASCII only */
    BAD(CMDS, "EHLO b\xc3\xbc.org\r\n", "8-bit byte in a domain");
    /* VRFY with SMTPUTF8 (RFC 6531 3.7.4.2) */
    OKN(CMDS, "VRFY \xce\xb4 SMTPUTF8\r\n", 1);
    BAD(CMDS, "VRFY \xce\xb4\r\n", "RFC 6531 3.4");
}

static void test_data(void **st)
{
    (void)st;
    const char *r;
    r = OKN(CMDS, "DATA\r\nSubject: x\r\n\r\n..hidden\r\nbody\r\n.\r\nQUIT\r\n", 3);
    assert_string_equal(r, "0+6 {\"type\":\"command\",\"verb\":\"DATA\"}\n"
                           "6+33 {\"type\":\"data\",\"octets\":33,\"lines\":4,\"unstuffed\":29}\n"
                           "39+6 {\"type\":\"command\",\"verb\":\"QUIT\"}\n");
    /* empty mail data */
    r = OKN(DATAK, ".\r\n", 1);
    assert_string_equal(r, "0+3 {\"type\":\"data\",\"octets\":3,\"lines\":0,\"unstuffed\":0}\n");
    /* "." with more on the line is stuffing, not the end */
    r = OKN(DATAK, ". \r\n.x\r\n.\r\n", 1);
    ms_assert_has(r, "\"octets\":11,\"lines\":2,\"unstuffed\":6");
    /* truncated content */
    BAD(DATAK, "abc\r\n", "0 ERR 5 end of input: input ends inside a message");
    BAD(DATAK, "abc\r\n.", "end of input");
    BAD(DATAK, "abc\r\n.\r", "end of input");
    /* text line 1000 / 1001 */
    memset(big, 0, sizeof(big));
    memset(big, 'x', 998);
    memcpy(big + 998, "\r\n.\r\n", 6);
    r = OKN(DATAK, big, 1);
    ms_assert_has(r, "\"octets\":1003,\"lines\":1");
    memset(big, 'x', 999);
    memcpy(big + 999, "\r\nok\r\n.\r\n", 10);
    r = BAD(DATAK, big, "0 ERR 1000 RFC 5321 4.5.3.1.6 text line: mail data line longer");
    /* the rest of the long line is skipped, the data still ends at CRLF.CRLF */
    ms_assert_has(r, "1000+8 {\"type\":\"data\",\"octets\":8,\"lines\":2,\"unstuffed\":5}");
    /* a long line whose CR is the 1000th byte */
    memset(big, 'x', 999);
    memcpy(big + 999, "\r\n.\r\n", 6);
    r = BAD(DATAK, big, "0 ERR 1000 RFC 5321 4.5.3.1.6 text line");
    ms_assert_has(r, "1000+4 {\"type\":\"data\",\"octets\":4,\"lines\":1");
    /* NUL */
    {
        struct ms_limits lim;
        ms_limits_default(&lim);
        r = ms_check(DATAK, &lim, "a\0b\r\n.\r\n", 8);
        ms_assert_has(r, "0 ERR 1 RFC 5322 2.3 / RFC 2045 2.8: NUL in mail data");
        ms_assert_has(r, "5+3 {\"type\":\"data\"");
    }
    /* 8-bit only with BODY=8BITMIME / BINARYMIME / SMTPUTF8 */
    BAD(DATAK, "caf\xc3\xa9\r\n.\r\n", "0 ERR 3 RFC 5321 2.4 / RFC 6152 3: 8-bit mail data");
    OKN(CMDS, "MAIL FROM:<a@b.org> BODY=8BITMIME\r\nDATA\r\ncaf\xc3\xa9\r\n.\r\n", 3);
    OKN(CMDS, "MAIL FROM:<a@b.org> SMTPUTF8\r\nDATA\r\ncaf\xc3\xa9\r\n.\r\n", 3);
    /* the transaction ends with the data: the next one is 7-bit again */
    BAD(CMDS, "MAIL FROM:<a@b.org> BODY=8BITMIME\r\nDATA\r\n.\r\nDATA\r\n\xe9\r\n.\r\n",
        "8-bit mail data");
    r = OKL(DATAK, MS_LENIENT_8BIT, "caf\xc3\xa9\r\n.\r\n");
    ms_assert_has(r, "\"quirks\":[{\"offset\":3,\"rule\":\"RFC 6152 3\"");
}

/*
 * Mail data is checked several bytes at a time (16 with SSE2, 8 otherwise,
 * the last block overlapping) and several lines per call: a bad byte at
 * every position of lines of 1-40 bytes, after a good line, gives the error
 * and offset of the byte-by-byte check, and the lines around it are counted.
 * The long tail puts 16-byte blocks over every line (a CRLF split across two
 * blocks included), the short one the memchr fallback near the end.
 */
static void test_data_blocks(void **st)
{
    (void)st;
    static const char first[] = "first line\r\n"; /* 12 bytes */
    static const char *const tails[] = {
        "tail\r\n.\r\n",
        "tail-yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\r\n.\r\n",
    };
    static const char *const reasons[] = {
        "RFC 5321 2.3.8 / 4.1.1.4 DATA: bare CR in mail data: CR and LF only occur together",
        "RFC 5321 2.3.8 / 4.1.1.4 DATA: bare LF in mail data: CR and LF only occur together",
        "RFC 5322 2.3 / RFC 2045 2.8: NUL in mail data",
        "RFC 5321 2.4 / RFC 6152 3: 8-bit mail data without BODY=8BITMIME",
    };
    static const char bads[] = {'\r', '\n', '\0', '\xe9'};
    struct ms_limits lim;
    char in[160], want[256];
    const char *r;

    ms_limits_default(&lim);
    for (size_t k = 0; k < 2; k++)
        for (size_t n = 0; n <= 40; n++) {
            size_t len = 0, tl = strlen(tails[k]) - 3;
            memcpy(in, first, 12);
            len = 12;
            memset(in + len, 'x', n);
            len += n;
            memcpy(in + len, "\r\n", 2);
            memcpy(in + len + 2, tails[k], tl + 3);
            len += 2 + tl + 3;
            r = ms_check(DATAK, &lim, in, len);
            assert_int_equal(ms_last_errors, 0);
            snprintf(want, sizeof(want), "0+%zu {\"type\":\"data\",\"octets\":%zu,\"lines\":3,",
                     len, len);
            ms_assert_has(r, want);
            for (size_t i = 0; i < n; i++) {
                for (size_t b = 0; b < sizeof(bads); b++) {
                    in[12 + i] = bads[b];
                    r = ms_check(DATAK, &lim, in, len);
                    snprintf(want, sizeof(want), "0 ERR %zu %s", 12 + i, reasons[b]);
                    ms_assert_has(r, want);
                    /* the bad line is dropped; the data goes on after it */
                    snprintf(
                        want, sizeof(want),
                        "%zu+%zu {\"type\":\"data\",\"octets\":%zu,\"lines\":1,\"unstuffed\":%zu}",
                        12 + n + 2, tl + 3, tl + 3, tl);
                    ms_assert_has(r, want);
                    in[12 + i] = 'x';
                }
                /* lenient 8-bit: one quirk at the byte's offset in the data */
                in[12 + i] = '\x80';
                in[12 + n - 1] = '\xff';
                lim.lenient = MS_LENIENT_8BIT;
                r = ms_check(DATAK, &lim, in, len);
                lim.lenient = 0;
                assert_int_equal(ms_last_errors, 0);
                snprintf(want, sizeof(want),
                         "\"lines\":3,\"unstuffed\":%zu,\"quirks\":[{\"offset\":%zu,\"rule\":"
                         "\"RFC 6152 3\"",
                         len - 3, 12 + i);
                ms_assert_has(r, want);
                in[12 + i] = 'x';
                in[12 + n - 1] = 'x';
            }
        }
}

static void test_smuggling(void **st)
{
    (void)st;
    const char *r;
    /* Each end-of-data look-alike is named and never ends the data. */
    r = BAD(DATAK, "a\n.\nMAIL FROM:<x@y.org>\r\n.\r\n",
            "0 ERR 1 RFC 5321 2.3.8 / 4.1.1.4 DATA: bare LF in mail data: \"\\n.\\n\" is an "
            "end-of-data smuggling sequence");
    ms_assert_has(r, "25+3 {\"type\":\"data\",\"octets\":3,\"lines\":0");
    ms_assert_lacks(r, "\"verb\":\"MAIL\"");
    BAD(DATAK, "a\r.\rMAIL FROM:<x@y.org>\r\n.\r\n",
        "0 ERR 1 RFC 5321 2.3.8 / 4.1.1.4 DATA: "
        "bare CR in mail data: \"\\r.\\r\" is");
    BAD(DATAK, "a\r\n.\nMAIL FROM:<x@y.org>\r\n.\r\n",
        "0 ERR 4 RFC 5321 2.3.8 / 4.1.1.4 DATA: bare LF in mail data: \"\\r\\n.\\n\" is");
    BAD(DATAK, "a\n.\r\nMAIL FROM:<x@y.org>\r\n.\r\n",
        "0 ERR 1 RFC 5321 2.3.8 / 4.1.1.4 DATA: bare LF in mail data: \"\\n.\\r\\n\" is");
    BAD(DATAK, "a\r.\nb\r\n.\r\n", "bare CR in mail data: \"\\r.\\n\" is");
    BAD(DATAK, "a\r.\r\nb\r\n.\r\n", "bare CR in mail data: \"\\r.\\r\\n\" is");
    BAD(DATAK, "a\r\n.\rb\r\n.\r\n", "bare CR in mail data: \"\\r\\n.\\r\" is");
    BAD(DATAK, "a\n.\rb\r\n.\r\n", "bare LF in mail data: \"\\n.\\r\" is");
    /* plain bare LF / CR */
    BAD(DATAK, "a\nb\r\n.\r\n",
        "0 ERR 1 RFC 5321 2.3.8 / 4.1.1.4 DATA: bare LF in mail data: CR "
        "and LF only occur together as CRLF");
    BAD(DATAK, "a\rb\r\n.\r\n", "bare CR in mail data: CR and LF only");
    /* lenient: accepted as data and named in a quirk; still not the end of data */
    r = OKL(DATAK, MS_LENIENT_BARE_LF, "a\n.\nb\r\nc\r.\r\n.\r\n");
    assert_int_equal(ms_last_messages, 1);
    ms_assert_has(r,
                  "\"octets\":15,\"lines\":2,\"unstuffed\":12,\"quirks\":[{\"offset\":1,"
                  "\"rule\":\"RFC 5321 2.3.8 / 4.1.1.4 DATA\",\"reason\":\"bare LF in mail data: "
                  "\\\"\\\\n.\\\\n\\\" is an end-of-data smuggling sequence, not an end\"}");
    ms_assert_has(r,
                  "{\"offset\":8,\"rule\":\"RFC 5321 2.3.8 / 4.1.1.4 DATA\",\"reason\":\"bare CR "
                  "in mail data: \\\"\\\\r.\\\\r\\\\n\\\" is");
}

static void test_bdat(void **st)
{
    (void)st;
    const char *r;
    struct ms_limits lim;
    ms_limits_default(&lim);
    /* chunk bytes are binary: CR, LF, NUL, ".\r\n" are data */
    r = ms_check(CMDS, &lim, "BDAT 7\r\n\0\r\n.\r\n\nBDAT 3 LAST\r\nabcQUIT\r\n", 37);
    assert_string_equal(r,
                        "0+8 {\"type\":\"command\",\"verb\":\"BDAT\",\"size\":7}\n"
                        "8+7 {\"type\":\"chunk\",\"octets\":7}\n"
                        "15+13 {\"type\":\"command\",\"verb\":\"BDAT\",\"size\":3,\"last\":true}\n"
                        "28+3 {\"type\":\"chunk\",\"octets\":3,\"last\":true}\n"
                        "31+6 {\"type\":\"command\",\"verb\":\"QUIT\"}\n");
    r = OKN(CMDS, "BDAT 0 LAST\r\nQUIT\r\n", 2);
    ms_assert_has(r, "\"size\":0,\"last\":true");
    r = OKN(CMDS, "bdat 005 last\r\n12345", 2);
    BAD(CMDS, "BDAT\r\n", "RFC 3030 4 bdat-cmd");
    BAD(CMDS, "BDAT x\r\n", "ERR 5 RFC 3030 4 chunk-size: expected a number");
    BAD(CMDS, "BDAT 1 FIRST\r\n", "RFC 3030 4 end-marker");
    BAD(CMDS, "BDAT 18446744073709551616\r\n", "ERR 5 RFC 3030 4 chunk-size: number out of range");
    lim.smtp_bdat_chunk = 10;
    r = ms_check(CMDS, &lim, "BDAT 10\r\n0123456789", 19);
    ms_assert_lacks(r, "ERR");
    r = ms_check(CMDS, &lim, "BDAT 11\r\n", 9);
    ms_assert_has(r, "0 ERR 5 RFC 3030 4 chunk-size: number out of range");
    /* RFC 3030: BINARYMIME only with BDAT; no DATA in a BDAT transaction */
    BAD(CMDS, "MAIL FROM:<a@b.org> BODY=BINARYMIME\r\nDATA\r\n",
        "37 ERR 37 RFC 3030 3 BINARYMIME: DATA after BODY=BINARYMIME");
    BAD(CMDS, "MAIL FROM:<a@b.org>\r\nBDAT 1\r\nxDATA\r\n",
        "30 ERR 30 RFC 3030 2 BDAT: DATA in a transaction that used BDAT");
    OKN(CMDS, "MAIL FROM:<a@b.org>\r\nBDAT 1 LAST\r\nxMAIL FROM:<a@b.org>\r\nDATA\r\n.\r\n", 6);
    OKN(CMDS, "MAIL FROM:<a@b.org> BODY=BINARYMIME\r\nRSET\r\nDATA\r\n.\r\n", 4);
    /* truncated chunk */
    BAD(CMDS, "BDAT 10\r\nabc", "9 ERR 12 end of input");
}

static void test_auth(void **st)
{
    (void)st;
    const char *r;
    r = OKN(CMDS, "AUTH PLAIN AGEAYg==\r\nQUIT\r\n", 2);
    ms_assert_has(r, "\"verb\":\"AUTH\",\"mechanism\":\"PLAIN\",\"initial_response\":\"AGEAYg==\"");
    ms_assert_has(r, "\"verb\":\"QUIT\"");
    r = OKN(CMDS, "AUTH PLAIN =\r\nQUIT\r\n", 2);
    ms_assert_has(r, "\"initial_response\":\"=\"");
    r = OKN(CMDS, "AUTH PLAIN\r\nAGEAYg==\r\nQUIT\r\n", 3);
    ms_assert_has(r, "12+10 {\"type\":\"sasl\",\"response\":\"AGEAYg==\"}");
    r = OKN(CMDS, "AUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\nQUIT\r\n", 4);
    r = OKN(CMDS, "AUTH LOGIN dXNlcg==\r\ncGFzcw==\r\nQUIT\r\n", 3);
    ms_assert_has(r, "\"type\":\"sasl\",\"response\":\"cGFzcw==\"");
    r = OKN(CMDS, "AUTH CRAM-MD5\r\ndXNlciBhYmNk\r\nNOOP\r\n", 3);
    r = OKN(CMDS, "AUTH PLAIN\r\n*\r\nQUIT\r\n", 3);
    ms_assert_has(r, "{\"type\":\"sasl\",\"response\":\"*\",\"cancel\":true}");
    /* LOGIN cancelled after the first line: back to commands */
    r = OKN(CMDS, "AUTH LOGIN\r\n*\r\nQUIT\r\n", 3);
    ms_assert_has(r, "\"verb\":\"QUIT\"");
    /* an empty response is valid base64 */
    OKN(CMDS, "AUTH PLAIN\r\n\r\nQUIT\r\n", 3);
    /* unknown mechanism: SASL lines until a line that is a command */
    r = OKN(CMDS, "AUTH GSSAPI\r\nYWJj\r\nYWJjZA==\r\nQUIT\r\n", 4);
    ms_assert_has(r, "\"type\":\"sasl\",\"response\":\"YWJjZA==\"");
    ms_assert_has(r, "\"verb\":\"QUIT\"");
    /* bad base64 */
    r = BAD(CMDS, "AUTH PLAIN\r\nAGE!Yg==\r\nQUIT\r\n",
            "12 ERR 15 RFC 4954 4 base64: expected base64");
    ms_assert_has(r, "\"verb\":\"QUIT\"");
    BAD(CMDS, "AUTH PLAIN\r\nAGEAYg=\r\n", "base64 length is not a multiple of 4");
    BAD(CMDS, "AUTH PLAIN\r\nAG===\r\n", "expected base64");
    BAD(CMDS, "AUTH PLAIN AGE\r\n", "ERR 14 RFC 4954 4 base64: base64 length");
    BAD(CMDS, "AUTH PLAIN YWJj b\r\n", "RFC 4954 4 AUTH: expected CRLF");
    BAD(CMDS, "AUTH\r\n", "RFC 4954 4 AUTH");
    BAD(CMDS, "AUTH plain\r\n", "0 ERR 5 RFC 4422 3.1 sasl-mech: mechanism names are upper case");
    r = OKL(CMDS, MS_LENIENT_KEYWORD_CASE, "AUTH plain AGEAYg==\r\n");
    ms_assert_has(r, "lower-case mechanism name");
    OKN(CMDS, "AUTH ABCDEFGHIJKLMNOPQRST\r\n", 1);
    BAD(CMDS, "AUTH ABCDEFGHIJKLMNOPQRSTU\r\n",
        "0 ERR 25 RFC 4422 3.1 sasl-mech: mechanism name longer");
    /* SASL line limit (smaller for the test): 22 octets with CRLF fine, 23 an error */
    struct ms_limits lim;
    ms_limits_default(&lim);
    lim.smtp_sasl_line = 22;
    r = ms_check(CMDS, &lim, "AUTH PLAIN\r\nYWJjZGVmZ2hpamtsbW5v\r\n", 34);
    ms_assert_lacks(r, "ERR");
    r = ms_check(CMDS, &lim, "AUTH PLAIN\r\nYWJjZGVmZ2hpamtsbW5vc\r\n", 35);
    ms_assert_has(r, "12 ERR 34 RFC 4954 4 SASL response line: line longer than the limit");
    /* the SASL line limit is not the command line limit */
    ms_limits_default(&lim);
    memset(big, 0, sizeof(big));
    memcpy(big, "AUTH PLAIN\r\n", 12);
    memset(big + 12, 'A', 4000);
    memcpy(big + 4012, "\r\nQUIT\r\n", 9);
    r = ms_check(CMDS, &lim, big, strlen(big));
    ms_assert_lacks(r, "ERR");
}

static void test_replies(void **st)
{
    (void)st;
    const char *r;
    r = OKN(REPS,
            "220 mx.example ESMTP\r\n250 2.1.0 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
            "221 2.0.0 Bye\r\n",
            4);
    ms_assert_has(r, "{\"type\":\"reply\",\"code\":250,\"lines\":[{\"text\":\"2.1.0 "
                     "Ok\",\"enhanced\":\"2.1.0\"}]}");
    r = OKN(REPS, "250\r\n250 \r\n334 \r\n250-\r\n250 x\r\n", 4);
    assert_string_equal(
        r,
        "0+5 {\"type\":\"reply\",\"code\":250,\"lines\":[{\"text\":\"\"}]}\n"
        "5+6 {\"type\":\"reply\",\"code\":250,\"lines\":[{\"text\":\"\"}]}\n"
        "11+6 {\"type\":\"reply\",\"code\":334,\"lines\":[{\"text\":\"\"}]}\n"
        "17+13 {\"type\":\"reply\",\"code\":250,\"lines\":[{\"text\":\"\"},{\"text\":\"x\"}]}\n");
    /* reply codes: 2-5, 0-5, 0-9 */
    OKN(REPS, "200 a\r\n559 b\r\n", 2);
    BAD(REPS, "199 x\r\n", "0 ERR 0 RFC 5321 4.2 Reply-code");
    BAD(REPS, "600 x\r\n", "RFC 5321 4.2 Reply-code");
    BAD(REPS, "260 x\r\n", "RFC 5321 4.2 Reply-code");
    BAD(REPS, "25x x\r\n", "RFC 5321 4.2 Reply-code");
    BAD(REPS, "25\r\n", "RFC 5321 4.2 Reply-code");
    BAD(REPS, "250x\r\n", "0 ERR 3 RFC 5321 4.2 Reply-line: expected SP or CRLF");
    /* same code on every line */
    r = BAD(REPS, "250-a\r\n251-b\r\n250 c\r\n220 next\r\n",
            "0 ERR 7 RFC 5321 4.2 Reply-line: every line of a multi-line reply has the same code");
    ms_assert_has(r, "21+10 {\"type\":\"reply\",\"code\":220");
    /* enhanced status codes */
    r = OKN(REPS, "550-5.1.1 no such\r\n550 5.1.1 user\r\n", 1);
    ms_assert_has(r, "{\"text\":\"5.1.1 no such\",\"enhanced\":\"5.1.1\"},{\"text\":\"5.1.1 "
                     "user\",\"enhanced\":\"5.1.1\"}");
    OKN(REPS, "250 2.999.999\r\n", 1);
    BAD(REPS, "250 4.1.0 Ok\r\n", "0 ERR 4 RFC 3463 2 class: enhanced status class differs");
    BAD(REPS, "550 2.1.0 no\r\n", "RFC 3463 2 class");
    BAD(REPS, "550 5.1000.1 no\r\n", "0 ERR 9 RFC 3463 2 status-code: subject has more than 3");
    BAD(REPS, "550 5.1.1000 no\r\n", "0 ERR 11 RFC 3463 2 status-code: detail has more than 3");
    r = OKN(REPS, "250 1.2.3 version\r\n250 2.1 x\r\n250 2.1.0.1 x\r\n354 2.0.0 go\r\n", 4);
    ms_assert_lacks(r, "enhanced");
    /* detail of 1-3 digits, at the end or before SP (the short form has its own path) */
    r = OKN(REPS, "250 2.1.0\r\n250 2.1.00 a\r\n250 2.1.000\r\n250 2.12.0 b\r\n", 4);
    ms_assert_has(r, "\"enhanced\":\"2.1.0\"}");
    ms_assert_has(r, "\"enhanced\":\"2.1.00\"}");
    ms_assert_has(r, "\"enhanced\":\"2.1.000\"}");
    ms_assert_has(r, "\"enhanced\":\"2.12.0\"}");
    r = OKN(REPS, "250 2.1.0x\r\n250 2.1.x\r\n250 2.x.0\r\n", 3);
    ms_assert_lacks(r, "enhanced");
    BAD(REPS, "250 2.1.0000\r\n", "0 ERR 11 RFC 3463 2 status-code: detail has more than 3");
    BAD(REPS, "450 5.1.1\r\n", "0 ERR 4 RFC 3463 2 class");
    /* text: HT allowed; control bytes, 8-bit, bare CR/LF */
    OKN(REPS, "250 a\tb\r\n", 1);
    BAD(REPS, "250 a\x01z\r\n", "0 ERR 5 RFC 5321 4.2 textstring: control byte");
    BAD(REPS, "250 caf\xc3\xa9\r\n", "0 ERR 7 RFC 5321 4.2 textstring: 8-bit byte");
    r = OKL(REPS, MS_LENIENT_8BIT, "250 caf\xc3\xa9\r\n");
    ms_assert_has(r, "\"quirks\":[{\"offset\":7,");
    {
        struct ms_limits lim;
        ms_limits_default(&lim);
        r = ms_check(REPS, &lim, "250 a\0b\r\n", 9);
        ms_assert_has(r, "0 ERR 5 RFC 5321 4.2 textstring: control byte");
    }
    BAD(REPS, "250 ok\n", "0 ERR 6 RFC 5321 4.5.3.1.5 reply line: bare LF");
    BAD(REPS, "250-a\r\n250 o\rk\r\n", "0 ERR 12 RFC 5321 4.5.3.1.5 reply line: bare CR");
    r = OKL(REPS, MS_LENIENT_BARE_LF, "250-a\n250 ok\n");
    ms_assert_has(r, "bare LF ends the line");
    /* truncated */
    BAD(REPS, "250-a\r\n250 b", "0 ERR 12 end of input");
    BAD(REPS, "250-a\r\n", "end of input");
    /* reply line 512 / 513 */
    memset(big, 0, sizeof(big));
    memcpy(big, "250 ", 4);
    memset(big + 4, 'a', 506);
    memcpy(big + 510, "\r\n", 3);
    OKN(REPS, big, 1);
    memset(big + 4, 'a', 507);
    memcpy(big + 511, "\r\n", 3);
    BAD(REPS, big, "0 ERR 512 RFC 5321 4.5.3.1.5 reply line: line longer than the limit");
    /* line count limit: 3 fine, 4 an error */
    struct ms_limits lim;
    ms_limits_default(&lim);
    lim.smtp_reply_lines = 3;
    r = ms_check(REPS, &lim, "250-a\r\n250-b\r\n250 c\r\n", 21);
    ms_assert_lacks(r, "ERR");
    r = ms_check(REPS, &lim, "250-a\r\n250-b\r\n250-c\r\n250 d\r\n", 28);
    ms_assert_has(r, "0 ERR 21 RFC 5321 4.2 Reply-line: more lines in one reply than the limit");
    /* a limit above the view's capacity: the view's 128 lines are the limit */
    lim.smtp_reply_lines = 1000;
    memset(big, 0, sizeof(big));
    for (int i = 0; i < 128; i++)
        memcpy(big + 7 * i, "250-a\r\n", 7);
    memcpy(big + 7 * 127, "250 a\r\n", 8);
    r = ms_check(REPS, &lim, big, strlen(big));
    ms_assert_lacks(r, "ERR");
    memcpy(big + 7 * 127, "250-a\r\n250 a\r\n", 15);
    r = ms_check(REPS, &lim, big, strlen(big));
    ms_assert_has(r, "0 ERR 896 RFC 5321 4.2 Reply-line: more lines in one reply than the limit");
}

/*
 * Reply lines are checked 16/8 bytes at a time (SP..~ only) before the
 * byte-by-byte textstring check: each odd byte at every position of a last
 * line of 1-40 text bytes gives the byte-by-byte error at its offset, and the
 * next reply parses.
 */
static void test_reply_blocks(void **st)
{
    (void)st;
    static const struct {
        char byte;
        const char *err; /* NULL: accepted */
    } odd[] = {
        {'\t', NULL},
        {'\x7f', "RFC 5321 4.2 textstring: control byte in reply text"},
        {'\x01', "RFC 5321 4.2 textstring: control byte in reply text"},
        {'\0', "RFC 5321 4.2 textstring: control byte in reply text"},
        {'\r', "RFC 5321 4.5.3.1.5 reply line: bare CR inside a line"},
        {'\n', "RFC 5321 4.5.3.1.5 reply line: bare LF: lines end with CRLF"},
        {'\xe9', "RFC 5321 4.2 textstring: 8-bit byte in reply text"},
        {'\x80', "RFC 5321 4.2 textstring: 8-bit byte in reply text"},
    };
    struct ms_limits lim;
    char in[128], want[256];
    const char *r;

    ms_limits_default(&lim);
    for (size_t n = 1; n <= 40; n++) {
        size_t len = 0;
        memcpy(in, "250-first\r\n250 ", 15);
        len = 15;
        memset(in + len, '~', n);
        len += n;
        /* a long next reply: 16-byte blocks cover every line of the first */
        memcpy(in + len, "\r\n221 bye-yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\r\n", 48);
        len += 48;
        r = ms_check(REPS, &lim, in, len);
        assert_int_equal(ms_last_errors, 0);
        assert_int_equal(ms_last_messages, 2);
        for (size_t i = 0; i < n; i++) {
            for (size_t b = 0; b < sizeof(odd) / sizeof(odd[0]); b++) {
                in[15 + i] = odd[b].byte;
                r = ms_check(REPS, &lim, in, len);
                if (!odd[b].err) {
                    assert_int_equal(ms_last_errors, 0);
                } else {
                    snprintf(want, sizeof(want), "0 ERR %zu %s", 15 + i, odd[b].err);
                    ms_assert_has(r, want);
                }
                snprintf(want, sizeof(want), "%zu+46 {\"type\":\"reply\",\"code\":221", 15 + n + 2);
                ms_assert_has(r, want);
                in[15 + i] = '~';
            }
            /* lenient 8-bit: a quirk at the byte's offset in the reply */
            in[15 + i] = '\xc3';
            lim.lenient = MS_LENIENT_8BIT;
            r = ms_check(REPS, &lim, in, len);
            lim.lenient = 0;
            assert_int_equal(ms_last_errors, 0);
            snprintf(want, sizeof(want), "\"quirks\":[{\"offset\":%zu,", 15 + i);
            ms_assert_has(r, want);
            in[15 + i] = '~';
        }
    }
}

static void test_ehlo_reply(void **st)
{
    (void)st;
    const char *r;
    r = OKN(REPS,
            "250-mx.example Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
            "250-AUTH PLAIN LOGIN CRAM-MD5\r\n250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n",
            1);
    ms_assert_has(r, "\"ehlo\":{\"domain\":\"mx.example\",\"greet\":\"Hello\",\"keywords\":["
                     "{\"keyword\":\"PIPELINING\"},{\"keyword\":\"SIZE\",\"params\":\"10240000\"},"
                     "{\"keyword\":\"AUTH\",\"params\":\"PLAIN LOGIN CRAM-MD5\"},"
                     "{\"keyword\":\"ENHANCEDSTATUSCODES\"},{\"keyword\":\"SMTPUTF8\"}],"
                     "\"size\":10240000,\"auth\":[\"PLAIN\",\"LOGIN\",\"CRAM-MD5\"]}");
    /* SIZE without a number: no fixed maximum announced */
    r = OKN(REPS, "250-mx\r\n250 SIZE\r\n", 1);
    ms_assert_has(r, "\"size\":0");
    /* lines that are not ehlo-lines: not typed as EHLO outside a session */
    r = OKN(REPS, "250-mx\r\n250 AUTH=PLAIN\r\n", 1);
    ms_assert_lacks(r, "\"ehlo\"");
    r = OKN(REPS, "250-mx\r\n250 SIZE 18446744073709551616\r\n", 1);
    ms_assert_lacks(r, "\"ehlo\"");
    r = OKN(REPS, "250-mx\r\n250 SIZE 18446744073709551615\r\n", 1);
    ms_assert_has(r, "\"size\":18446744073709551615");
    r = OKN(REPS, "250 only one line\r\n", 1);
    ms_assert_lacks(r, "\"ehlo\"");
}

static const char *session(const char *t)
{
    struct ms_limits lim;
    ms_limits_default(&lim);
    return ms_check_session(&ms_smtp_proto, &lim, t);
}

static void test_sessions(void **st)
{
    (void)st;
    const char *r;
    /* accepted DATA */
    r = session("S: 220 mx.example ESMTP\n"
                "C: EHLO client.example\n"
                "S: 250-mx.example\nS: 250-PIPELINING\nS: 250 8BITMIME\n"
                "C: MAIL FROM:<a@b.org>\nS: 250 2.1.0 Ok\n"
                "C: RCPT TO:<c@d.org>\nS: 250 2.1.5 Ok\n"
                "C: DATA\nS: 354 go ahead\n"
                "C: Subject: hi\nC:\nC: ..dot\nC: .\nS: 250 2.0.0 queued\n"
                "C: QUIT\nS: 221 2.0.0 Bye\n");
    ms_assert_lacks(r, "ERR");
    ms_assert_has(r, "C 67+25 {\"type\":\"data\",\"octets\":25,\"lines\":3,\"unstuffed\":21}");
    ms_assert_has(r, "C 92+6 {\"type\":\"command\",\"verb\":\"QUIT\"}");
    ms_assert_has(r, "\"ehlo\":{\"domain\":\"mx.example\"");
    /* rejected DATA: what follows is commands again */
    r = session("S: 220 mx\nC: MAIL FROM:<a@b.org>\nS: 250 ok\n"
                "C: DATA\nS: 503 5.5.1 Error: need RCPT command\n"
                "C: RSET\nS: 250 ok\nC: QUIT\nS: 221 bye\n");
    ms_assert_lacks(r, "ERR");
    ms_assert_lacks(r, "\"type\":\"data\"");
    ms_assert_has(r, "C 27+6 {\"type\":\"command\",\"verb\":\"RSET\"}");
    /* pipelined MAIL/RCPT/DATA: the third reply answers DATA */
    r = session("S: 220 mx\nC: MAIL FROM:<a@b.org>\nC: RCPT TO:<c@d.org>\nC: DATA\n"
                "S: 250 ok\nS: 250 ok\nS: 354 go\nC: x\nC: .\nS: 250 ok\nC: QUIT\n");
    ms_assert_lacks(r, "ERR");
    ms_assert_has(r, "\"type\":\"data\",\"octets\":6,\"lines\":1");
    /* pipelined, RCPT refused, DATA refused */
    r = session("S: 220 mx\nC: MAIL FROM:<a@b.org>\nC: RCPT TO:<c@d.org>\nC: DATA\n"
                "S: 250 ok\nS: 550 no\nS: 554 no valid recipients\nC: QUIT\n");
    ms_assert_lacks(r, "ERR");
    ms_assert_has(r, "\"verb\":\"QUIT\"");
    /* AUTH LOGIN refused after the password: QUIT is a command */
    r = session("S: 220 mx\nC: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: dXNlcg==\nS: 334 UGFzc3dvcmQ6\n"
                "C: cGFzcw==\nS: 535 5.7.8 Error\nC: QUIT\nS: 221 bye\n");
    ms_assert_lacks(r, "ERR");
    ms_assert_has(r, "\"type\":\"sasl\",\"response\":\"cGFzcw==\"");
    ms_assert_has(r, "\"verb\":\"QUIT\"");
    /* AUTH LOGIN refused after the user name: the next line is a command */
    r = session("S: 220 mx\nC: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: dXNlcg==\n"
                "S: 535 5.7.8 no\nC: QUIT\nS: 221 bye\n");
    ms_assert_lacks(r, "ERR");
    ms_assert_has(r, "\"verb\":\"QUIT\"");
    /* AUTH PLAIN with an initial response the server asks more of (334) */
    r = session("S: 220 mx\nC: AUTH XOAUTH2 dG9rZW4=\nS: 334 eyJzdGF0dXMiOiI0MDEifQ==\n"
                "C:\nS: 535 5.7.8 no\nC: QUIT\n");
    ms_assert_lacks(r, "ERR");
    ms_assert_has(r, "\"type\":\"sasl\",\"response\":\"\"");
    /* unknown mechanism: the replies decide */
    r = session("S: 220 mx\nC: AUTH X-MECH\nS: 334 \nC: UVVJVA==\nS: 334 \nC: NOOP\nS: 235 ok\n"
                "C: NOOP\nS: 250 ok\n");
    ms_assert_lacks(r, "ERR");
    ms_assert_has(r, "\"type\":\"sasl\",\"response\":\"NOOP\"");
    ms_assert_has(r, "\"verb\":\"NOOP\"");
    /* an invalid reply still answers its command: the refused DATA after it
     * is matched to DATA, so RSET is a command */
    r = session("S: 220 mx\nC: MAIL FROM:<a@b.org>\nC: RCPT TO:<c@d.org>\nC: DATA\n"
                "S: 250 ok\nS: 250 caf\xc3\xa9\nS: 554 no valid recipients\nC: RSET\n");
    ms_assert_has(r, "RFC 5321 4.2 textstring");
    ms_assert_has(r, "\"verb\":\"RSET\"");
    ms_assert_lacks(r, "\"type\":\"data\"");
    /* EHLO reply typed strictly in a session */
    r = session("S: 220 mx\nC: EHLO c.org\nS: 250-mx.example\nS: 250 AUTH=PLAIN\n");
    ms_assert_has(r, "S 8 ERR 32 RFC 5321 4.1.1.1 ehlo-line");
    r = session("S: 220 mx\nC: EHLO c.org\nS: 250 -bad.example\n");
    ms_assert_has(r, "RFC 5321 4.1.2 Domain");
}

/* The writers: canonical bytes, quirky views written as received. */
static const char *write_one(const struct ms_kind *k, uint32_t lenient, const char *in)
{
    static char out[1024];
    static unsigned char state[sizeof(struct ms_smtp_cstate) + sizeof(struct ms_smtp_rstate)];
    static struct ms_smtp_command cv;
    static struct ms_smtp_reply rv;
    void *view = k == CMDS ? (void *)&cv : (void *)&rv;
    struct ms_limits lim;
    struct ms_error err = {0};
    int done = 0;

    memset(state, 0, sizeof(state));
    ms_limits_default(&lim);
    lim.lenient = lenient;
    ssize_t n = k->parse(state, &lim, in, strlen(in), view, &done, &err);
    assert_true(n > 0);
    assert_int_equal(done, 1);
    ssize_t w = k->write(view, out, sizeof(out) - 1);
    assert_true(w > 0);
    out[w] = '\0';
    /* too small a buffer is an error, never a cut */
    assert_int_equal(k->write(view, out, (size_t)w - 1), MS_FAIL);
    out[w] = '\0';
    return out;
}

static void test_writers(void **st)
{
    (void)st;
    assert_string_equal(write_one(CMDS, 0, "mail from:<a@b.org> size=10 X\r\n"),
                        "MAIL FROM:<a@b.org> size=10 X\r\n");
    assert_string_equal(write_one(CMDS, 0, "rcpt to:<postmaster>\r\n"), "RCPT TO:<postmaster>\r\n");
    assert_string_equal(write_one(CMDS, 0, "bdat 007 last\r\n"), "BDAT 7 LAST\r\n");
    assert_string_equal(write_one(CMDS, 0, "auth PLAIN =\r\n"), "AUTH PLAIN =\r\n");
    assert_string_equal(write_one(CMDS, 0, "vrfy x SMTPUTF8\r\n"), "VRFY x SMTPUTF8\r\n");
    assert_string_equal(write_one(CMDS, MS_LENIENT_SPACES, "MAIL FROM: <a@b.org>\r\n"),
                        "MAIL FROM: <a@b.org>\r\n");
    assert_string_equal(write_one(REPS, 0, "250-a\r\n250 \r\n"), "250-a\r\n250\r\n");
    assert_string_equal(write_one(REPS, MS_LENIENT_BARE_LF, "250 a\n"), "250 a\n");
}

static void test_reply_api(void **st)
{
    struct ms_limits lim;
    struct ms_smtp_reply v;
    struct ms_error err = {0};
    (void)st;
    ms_limits_default(&lim);
    const char *in = ms_guarded("250-a\r\n250 2.0.0 b\r\nxx", 22);
    assert_int_equal(ms_smtp_reply_parse(&lim, in, 22, &v, &err), 20);
    assert_int_equal(v.code, 250);
    assert_int_equal(v.nlines, 2);
    assert_int_equal(v.lines[1].enhanced.len, 5);
    in = ms_guarded("250-a\r\n250 b", 12);
    assert_int_equal(ms_smtp_reply_parse(&lim, in, 12, &v, &err), MS_PARTIAL);
    in = ms_guarded("250-a\r\n550 b\r\n", 14);
    assert_int_equal(ms_smtp_reply_parse(&lim, in, 14, &v, &err), MS_FAIL);
    assert_int_equal(err.offset, 7);
    assert_int_equal(err.skip, 14);
}

/* The code of every kind of error: syntax, each limit at and one over it,
 * truncated input, state. */
static const char *codes(const struct ms_kind *k, const struct ms_limits *lim, const char *in)
{
    return ms_check_codes(k, lim, in, strlen(in));
}

static void test_error_codes(void **st)
{
    struct ms_limits lim;
    (void)st;
    ms_limits_default(&lim);

    /* syntax */
    assert_string_equal(codes(CMDS, &lim, "MAIL FROM:a@b.c\r\n"), "syntax");
    assert_string_equal(codes(CMDS, &lim, "NOOP\n"), "syntax");
    assert_string_equal(codes(CMDS, &lim, "BDAT x\r\n"), "syntax");
    assert_string_equal(codes(REPS, &lim, "99 x\r\n"), "syntax");
    assert_string_equal(ms_check_codes(DATAK, &lim, "a\0b\r\n.\r\n", 8), "syntax");
    /* truncated */
    assert_string_equal(codes(CMDS, &lim, "NOOP\r\nNOOP"), "truncated");
    assert_string_equal(codes(REPS, &lim, "250-a\r\n"), "truncated");
    assert_string_equal(codes(DATAK, &lim, "abc\r\n"), "truncated");
    /* state: DATA where the transaction allows only BDAT */
    assert_string_equal(codes(CMDS, &lim, "MAIL FROM:<a@b.c> BODY=BINARYMIME\r\nDATA\r\n"),
                        "state");
    assert_string_equal(codes(CMDS, &lim, "MAIL FROM:<a@b.c>\r\nBDAT 1\r\nxDATA\r\n"), "state");
    assert_string_equal(codes(CMDS, &lim, "MAIL FROM:<a@b.c>\r\nDATA\r\n"), "");

    /* command line: 16 bytes with CRLF */
    lim.smtp_command_line = 16;
    assert_string_equal(codes(CMDS, &lim, "NOOP 123456789\r\n"), "");
    assert_string_equal(codes(CMDS, &lim, "NOOP 1234567890\r\n"), "limit");
    ms_limits_default(&lim);
    /* local part, domain, path (with its angle brackets) */
    lim.smtp_local_part = 4;
    assert_string_equal(codes(CMDS, &lim, "MAIL FROM:<abcd@x.y>\r\n"), "");
    assert_string_equal(codes(CMDS, &lim, "MAIL FROM:<abcde@x.y>\r\n"), "limit");
    ms_limits_default(&lim);
    lim.smtp_domain = 5;
    assert_string_equal(codes(CMDS, &lim, "MAIL FROM:<a@x.yzw>\r\n"), "");
    assert_string_equal(codes(CMDS, &lim, "MAIL FROM:<a@x.yzwv>\r\n"), "limit");
    ms_limits_default(&lim);
    lim.smtp_path = 12;
    assert_string_equal(codes(CMDS, &lim, "MAIL FROM:<ab@cd.efgh>\r\n"), "");
    assert_string_equal(codes(CMDS, &lim, "MAIL FROM:<ab@cd.efghi>\r\n"), "limit");
    ms_limits_default(&lim);
    /* but a domain label over 63 octets breaks RFC 1035's grammar */
    assert_string_equal(codes(CMDS, &lim,
                              "MAIL FROM:<a@"
                              "a234567890123456789012345678901234567890123456789012345678901234"
                              ".c>\r\n"),
                        "syntax");
    /* ESMTP parameters */
    lim.smtp_params = 2;
    assert_string_equal(codes(CMDS, &lim, "MAIL FROM:<a@b.c> SIZE=1 BODY=8BITMIME\r\n"), "");
    assert_string_equal(codes(CMDS, &lim, "MAIL FROM:<a@b.c> SIZE=1 BODY=8BITMIME SMTPUTF8\r\n"),
                        "limit");
    ms_limits_default(&lim);
    /* BDAT chunk size: any number of digits is grammatical */
    lim.smtp_bdat_chunk = 3;
    assert_string_equal(codes(CMDS, &lim, "BDAT 3 LAST\r\nabc"), "");
    assert_string_equal(codes(CMDS, &lim, "BDAT 4 LAST\r\n"), "limit");
    assert_string_equal(codes(CMDS, &lim, "BDAT 123456789012345678901234 LAST\r\n"), "limit");
    ms_limits_default(&lim);
    /* reply line and lines per reply */
    lim.smtp_reply_line = 10;
    assert_string_equal(codes(REPS, &lim, "250 abcd\r\n"), "");
    assert_string_equal(codes(REPS, &lim, "250 abcde\r\n"), "limit");
    ms_limits_default(&lim);
    lim.smtp_reply_lines = 2;
    assert_string_equal(codes(REPS, &lim, "250-a\r\n250 b\r\n"), "");
    assert_string_equal(codes(REPS, &lim, "250-a\r\n250-b\r\n250 c\r\n"), "limit");
    ms_limits_default(&lim);
    /* mail data lines */
    lim.smtp_text_line = 10;
    assert_string_equal(codes(DATAK, &lim, "abcdefgh\r\n.\r\n"), "");
    assert_string_equal(codes(DATAK, &lim, "abcdefghi\r\n.\r\n"), "limit");
    ms_limits_default(&lim);
    /* a session: the client's and the server's errors */
    assert_string_equal(ms_check_session_codes(&ms_smtp_proto, &lim,
                                               "S: 220 x\nC: EHLO x\nS: 250 x\n"
                                               "C: MAIL FROM:a\nS: 501 no\n"
                                               "C: MAIL FROM:<a@b.c> BODY=BINARYMIME\n"
                                               "S: 250 ok\nC: DATA\nS: 99 x\n"),
                        "C:syntax C:state S:syntax");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verbs),       cmocka_unit_test(test_lines),
        cmocka_unit_test(test_paths),       cmocka_unit_test(test_literals),
        cmocka_unit_test(test_params),      cmocka_unit_test(test_colon_spaces),
        cmocka_unit_test(test_smtputf8),    cmocka_unit_test(test_data),
        cmocka_unit_test(test_data_blocks), cmocka_unit_test(test_smuggling),
        cmocka_unit_test(test_bdat),        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_replies),     cmocka_unit_test(test_reply_blocks),
        cmocka_unit_test(test_ehlo_reply),  cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_writers),     cmocka_unit_test(test_reply_api),
        cmocka_unit_test(test_error_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
