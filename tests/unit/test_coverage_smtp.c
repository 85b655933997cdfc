/*
 * Negative-branch coverage of the SMTP command parser (RFC 5321 4.1 and the
 * extensions it parses: 1870, 3461, 4954, 6152, 6531): every error a client's
 * bytes can reach that the other tests do not, each with its exact offset and
 * reason, and the valid neighbour of each check. Every case runs through
 * ms_check (whole, at every split, byte by byte against guard pages, and
 * parse/write/parse for the valid ones). See docs/fuzzing.md "Coverage" for
 * what stays uncovered and why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mailspec/smtp.h"

struct ccase {
    uint32_t lenient;
    const char *in;
    size_t len;
    const char *out;
};

#define C(s) s, sizeof(s) - 1

/* A NULL out prints the rendering as a C string (to write a new case). */
static int run_cases(const struct ms_kind *k, const struct ccase *cs, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        struct ms_limits lim;
        ms_limits_default(&lim);
        lim.lenient = cs[i].lenient;
        const char *got = ms_check(k, &lim, cs[i].in, cs[i].len);
        if (cs[i].out == NULL || strcmp(got, cs[i].out) != 0) {
            printf("case %zu: got:\n     \"", i);
            for (const char *q = got; *q; q++) {
                unsigned char ch = (unsigned char)*q;
                if (ch == '"' || ch == '\\')
                    printf("\\%c", ch);
                else if (ch == '\n')
                    printf("\\n\"\n     \"");
                else if (ch < 32 || ch > 126)
                    printf("\\x%02x", ch);
                else
                    putchar(ch);
            }
            printf("\"\n");
            bad++;
        }
    }
    return bad;
}

#define SP MS_LENIENT_SPACES

/*
 * RFC 5321 4.1.2 Local-part (quoted-pairSMTP is %d92 %d32-126; qtextSMTP has
 * no HT), RFC 6531 3.3 UTF-8 in local parts and domains (only with SMTPUTF8 on
 * MAIL; EHLO stays ASCII), source-route domains, and 4.1.3 address literals:
 * Snum is 1*3DIGIT, IPv4 has exactly four, IPv6 has one "::" at most and no
 * lone leading or trailing ":", dcontent excludes SP, "[", "\" and "]".
 */
static const struct ccase path_cases[] = {
    {0, C("MAIL FROM:<\"a\\\"b\"@x.org>\r\n"),
     "0+26 "
     "{\"type\":\"command\",\"verb\":\"MAIL\",\"path\":\"<\\\"a\\\\\\\"b\\\"@x.org>\",\"local\":"
     "\"\\\"a\\\\\\\"b\\\"\",\"quoted\":true,\"domain\":\"x.org\",\"host_type\":\"domain\"}\n"},
    {0, C("MAIL FROM:<\"a\\\x01\"@x.org>\r\n"),
     "0 ERR 14 RFC 5321 4.1.2 quoted-pairSMTP: expected a printable ASCII character after "
     "\"\\\"\n"},
    {0, C("MAIL FROM:<\"a\\\x7f\"@x.org>\r\n"),
     "0 ERR 14 RFC 5321 4.1.2 quoted-pairSMTP: expected a printable ASCII character after "
     "\"\\\"\n"},
    {0, C("MAIL FROM:<\"\xc3\xa9\xc3\xa9\"@x.org> SMTPUTF8\r\n"),
     "0+35 "
     "{\"type\":\"command\",\"verb\":\"MAIL\",\"path\":\"<\\\"\xc3\xa9\xc3\xa9\\\"@x.org>\","
     "\"local\":\"\\\"\xc3\xa9\xc3\xa9\\\"\",\"quoted\":true,\"utf8\":true,\"domain\":\"x.org\","
     "\"host_type\":\"domain\",\"params\":[{\"keyword\":\"SMTPUTF8\"}],\"smtputf8\":true}\n"},
    {0, C("MAIL FROM:<\"a\xc3\xa9\"@x.org>\r\n"),
     "0 ERR 13 RFC 6531 3.4: 8-bit byte in a command without SMTPUTF8\n"},
    {0, C("MAIL FROM:<\"\xc3\"@x.org> SMTPUTF8\r\n"),
     "0 ERR 12 RFC 6531 3.3 qtextSMTP: invalid UTF-8 in a local part\n"},
    {0, C("MAIL FROM:<a\xff@x.org> SMTPUTF8\r\n"),
     "0 ERR 12 RFC 6531 3.3 atext: invalid UTF-8 in a local part\n"},
    {0, C("MAIL FROM:<\xc3\xa9\xc3\xa9@x.org> SMTPUTF8\r\n"),
     "0+33 "
     "{\"type\":\"command\",\"verb\":\"MAIL\",\"path\":\"<\xc3\xa9\xc3\xa9@x.org>\",\"local\":"
     "\"\xc3\xa9\xc3\xa9\",\"utf8\":true,\"domain\":\"x.org\",\"host_type\":\"domain\",\"params\":["
     "{\"keyword\":\"SMTPUTF8\"}],\"smtputf8\":true}\n"},
    {0, C("MAIL FROM:<a\xc3\xa9@x.org>\r\n"),
     "0 ERR 12 RFC 6531 3.4: 8-bit byte in a command without SMTPUTF8\n"},
    {0, C("MAIL FROM:<abc\r\n"),
     "0 ERR 14 RFC 5321 4.1.2 Mailbox: expected \"@\" after the local part\n"},
    {0, C("MAIL FROM:<a@x.\xc3\xa9.org> SMTPUTF8\r\n"),
     "0+33 "
     "{\"type\":\"command\",\"verb\":\"MAIL\",\"path\":\"<a@x.\xc3\xa9.org>\",\"local\":\"a\","
     "\"utf8\":true,\"domain\":\"x.\xc3\xa9.org\",\"host_type\":\"domain\",\"params\":[{"
     "\"keyword\":\"SMTPUTF8\"}],\"smtputf8\":true}\n"},
    {0, C("MAIL FROM:<a@x.\xc3\xa9.org>\r\n"),
     "0 ERR 15 RFC 6531 3.4: 8-bit byte in a command without SMTPUTF8\n"},
    {0, C("MAIL FROM:<\xc3\xa9@x.\xc3\xa9.org> SMTPUTF8\r\n"),
     "0+34 "
     "{\"type\":\"command\",\"verb\":\"MAIL\",\"path\":\"<\xc3\xa9@x.\xc3\xa9.org>\",\"local\":"
     "\"\xc3\xa9\",\"utf8\":true,\"domain\":\"x.\xc3\xa9.org\",\"host_type\":\"domain\",\"params\":"
     "[{\"keyword\":\"SMTPUTF8\"}],\"smtputf8\":true}\n"},
    {0, C("MAIL FROM:<a@x.\xc3> SMTPUTF8\r\n"),
     "0 ERR 15 RFC 6531 3.3 sub-domain: invalid UTF-8 in a domain\n"},
    {0, C("EHLO x.\xc3\xa9.org\r\n"),
     "0 ERR 7 RFC 6531 3.3 Mailbox: 8-bit byte in a domain (needs SMTPUTF8)\n"},
    {0, C("MAIL FROM:<@-x:a@b.org>\r\n"),
     "0 ERR 12 RFC 5321 4.1.2 Domain: a domain label must not start with \"-\"\n"},
    {0, C("MAIL FROM:<a@[1.2.3x4]>\r\n"),
     "0 ERR 14 RFC 5321 4.1.3 IPv4-address-literal: expected an IPv4 address (four numbers 0-255 "
     "with dots)\n"},
    {0, C("MAIL FROM:<a@[1.2.3.4.5]>\r\n"),
     "0 ERR 14 RFC 5321 4.1.3 IPv4-address-literal: expected an IPv4 address (four numbers 0-255 "
     "with dots)\n"},
    {0, C("MAIL FROM:<a@[1.2.3]>\r\n"),
     "0 ERR 14 RFC 5321 4.1.3 IPv4-address-literal: expected an IPv4 address (four numbers 0-255 "
     "with dots)\n"},
    {0, C("MAIL FROM:<a@[1234.1.1.1]>\r\n"),
     "0 ERR 14 RFC 5321 4.1.3 IPv4-address-literal: expected an IPv4 address (four numbers 0-255 "
     "with dots)\n"},
    {0, C("MAIL FROM:<a@[123.1.1.1]>\r\n"),
     "0+27 "
     "{\"type\":\"command\",\"verb\":\"MAIL\",\"path\":\"<a@[123.1.1.1]>\",\"local\":\"a\","
     "\"domain\":\"[123.1.1.1]\",\"host_type\":\"ipv4\",\"address\":\"123.1.1.1\"}\n"},
    {0, C("MAIL FROM:<a@[IPv6:1::2g]>\r\n"),
     "0 ERR 23 RFC 5321 4.1.3 IPv6-addr: invalid IPv6 address\n"},
    {0, C("MAIL FROM:<a@[IPv6:1::2:]>\r\n"),
     "0 ERR 24 RFC 5321 4.1.3 IPv6-addr: invalid IPv6 address\n"},
    {0, C("MAIL FROM:<a@[IPv6:1:::2]>\r\n"),
     "0 ERR 22 RFC 5321 4.1.3 IPv6-addr: invalid IPv6 address\n"},
    {0, C("MAIL FROM:<a@[IPv6::1]>\r\n"),
     "0 ERR 19 RFC 5321 4.1.3 IPv6-addr: invalid IPv6 address\n"},
    {0, C("MAIL FROM:<a@[IPv6:1::2::3]>\r\n"),
     "0 ERR 24 RFC 5321 4.1.3 IPv6-addr: invalid IPv6 address\n"},
    {0, C("MAIL FROM:<a@[1.2 .3.4]>\r\n"),
     "0 ERR 17 RFC 5321 4.1.3 address-literal: expected \"]\" to end the address literal\n"},
    {0, C("MAIL FROM:<a@[1.2[.3.4]>\r\n"),
     "0 ERR 17 RFC 5321 4.1.3 address-literal: expected \"]\" to end the address literal\n"},
    {0, C("MAIL FROM:<a@[1.2\\.3.4]>\r\n"),
     "0 ERR 17 RFC 5321 4.1.3 address-literal: expected \"]\" to end the address literal\n"},
    {0, C("MAIL FROM:<a@[1.2]3.4]>\r\n"),
     "0 ERR 14 RFC 5321 4.1.3 IPv4-address-literal: expected an IPv4 address (four numbers 0-255 "
     "with dots)\n"},
    {0, C("MAIL FROM:<a@[12345.1.1.1]>\r\n"),
     "0 ERR 14 RFC 5321 4.1.3 IPv4-address-literal: expected an IPv4 address (four numbers 0-255 "
     "with dots)\n"},
};

/*
 * String (VRFY/EXPN/HELP/NOOP), the typed MAIL/RCPT parameters (RFC 1870,
 * 3461, 4954 5, 6152, 6531 3.4: wrong command, given twice, value missing,
 * xtext; NOTIFY=NEVER alone), esmtp-keyword = (ALPHA / DIGIT) *(ALPHA /
 * DIGIT / "-"), UTF-8 esmtp-values (RFC 6531 3.3), FROM:/TO: and sasl-mech
 * (RFC 4422 3.1: 1*20 upper-case, digits, "-", "_").
 */
static const struct ccase cmd_cases[] = {
    {SP, C("QUIT x\r\n"), "0 ERR 4 RFC 5321 4.1.1.10 QUIT: expected CRLF (end of the command)\n"},
    {0, C("VRFY \"a\\\"b\"\r\n"),
     "0+13 {\"type\":\"command\",\"verb\":\"VRFY\",\"arg\":\"\\\"a\\\\\\\"b\\\"\"}\n"},
    {0, C("VRFY \"a\\\x01\"\r\n"),
     "0 ERR 7 RFC 5321 4.1.2 quoted-pairSMTP: expected a printable ASCII character after \"\\\"\n"},
    {0, C("VRFY \"\xc3\xa9\xc3\xa9\" SMTPUTF8\r\n"),
     "0+22 "
     "{\"type\":\"command\",\"verb\":\"VRFY\",\"arg\":\"\\\"\xc3\xa9\xc3\xa9\\\"\",\"smtputf8\":"
     "true}\n"},
    {0, C("VRFY \"\xc3\xa9\"\r\n"),
     "0 ERR 6 RFC 6531 3.4: 8-bit byte in a command without SMTPUTF8\n"},
    {0, C("VRFY \"\xc3\" SMTPUTF8\r\n"), "0 ERR 6 RFC 6531 3.3 qtextSMTP: invalid UTF-8\n"},
    {0, C("VRFY \"a\tb\"\r\n"),
     "0 ERR 7 RFC 5321 4.1.2 Quoted-string: expected qtextSMTP, \"\\\" or closing DQUOTE\n"},
    {0, C("VRFY \xc3\xa9\xc3\xa9 SMTPUTF8\r\n"),
     "0+20 "
     "{\"type\":\"command\",\"verb\":\"VRFY\",\"arg\":\"\xc3\xa9\xc3\xa9\",\"smtputf8\":true}\n"},
    {0, C("MAIL FROM:<a@b.org> SMTPUTF8 ENVID=\xc3\xa9\r\n"),
     "0 ERR 35 RFC 3461 4.4 ENVID: expected xchar or \"+\" hexchar\n"},
    {0, C("RCPT TO:<a@b.org> ORCPT=rfc822;a\xc3\xa9\r\n"),
     "0 ERR 32 RFC 3461 4.2 ORCPT: expected xchar or \"+\" hexchar\n"},
    {0, C("RCPT TO:<a@b.org> BODY=8BITMIME\r\n"),
     "0 ERR 18 RFC 6152 2 BODY: a MAIL FROM parameter, not allowed in RCPT TO\n"},
    {0, C("MAIL FROM:<a@b.org> BODY=7BIT BODY=8BITMIME\r\n"),
     "0 ERR 30 RFC 6152 2 BODY: parameter given twice\n"},
    {0, C("MAIL FROM:<a@b.org> BODY\r\n"),
     "0 ERR 20 RFC 6152 2 BODY: expected \"=\" and a value\n"},
    {0, C("RCPT TO:<a@b.org> SMTPUTF8\r\n"),
     "0 ERR 18 RFC 6531 3.4 SMTPUTF8: a MAIL FROM parameter, not allowed in RCPT TO\n"},
    {0, C("MAIL FROM:<a@b.org> SMTPUTF8 SMTPUTF8\r\n"),
     "0 ERR 29 RFC 6531 3.4 SMTPUTF8: parameter given twice\n"},
    {0, C("RCPT TO:<a@b.org> RET=HDRS\r\n"),
     "0 ERR 18 RFC 3461 4.3 RET: a MAIL FROM parameter, not allowed in RCPT TO\n"},
    {0, C("MAIL FROM:<a@b.org> RET=HDRS RET=FULL\r\n"),
     "0 ERR 29 RFC 3461 4.3 RET: parameter given twice\n"},
    {0, C("MAIL FROM:<a@b.org> RET\r\n"),
     "0 ERR 20 RFC 3461 4.3 RET: expected \"=\" and a value\n"},
    {0, C("MAIL FROM:<a@b.org> RET=FULL\r\n"),
     "0+30 "
     "{\"type\":\"command\",\"verb\":\"MAIL\",\"path\":\"<a@b.org>\",\"local\":\"a\",\"domain\":"
     "\"b.org\",\"host_type\":\"domain\",\"params\":[{\"keyword\":\"RET\",\"value\":\"FULL\"}],"
     "\"ret\":\"FULL\"}\n"},
    {0, C("RCPT TO:<a@b.org> ENVID=x\r\n"),
     "0 ERR 18 RFC 3461 4.4 ENVID: a MAIL FROM parameter, not allowed in RCPT TO\n"},
    {0, C("MAIL FROM:<a@b.org> ENVID=x ENVID=y\r\n"),
     "0 ERR 28 RFC 3461 4.4 ENVID: parameter given twice\n"},
    {0, C("MAIL FROM:<a@b.org> ENVID\r\n"),
     "0 ERR 20 RFC 3461 4.4 ENVID: expected \"=\" and a value\n"},
    {0, C("RCPT TO:<a@b.org> AUTH=<>\r\n"),
     "0 ERR 18 RFC 4954 5 auth-param: a MAIL FROM parameter, not allowed in RCPT TO\n"},
    {0, C("MAIL FROM:<a@b.org> AUTH=<> AUTH=a+40b\r\n"),
     "0 ERR 28 RFC 4954 5 auth-param: parameter given twice\n"},
    {0, C("MAIL FROM:<a@b.org> AUTH\r\n"),
     "0 ERR 20 RFC 4954 5 auth-param: expected \"=\" and a value\n"},
    {0, C("MAIL FROM:<a@b.org> AUTH=a+4x\r\n"),
     "0 ERR 28 RFC 4954 5 auth-param: expected two upper-case hex digits after \"+\"\n"},
    {0, C("RCPT TO:<a@b.org> NOTIFY=NEVER NOTIFY=DELAY\r\n"),
     "0 ERR 31 RFC 3461 4.1 NOTIFY: parameter given twice\n"},
    {0, C("RCPT TO:<a@b.org> NOTIFY\r\n"),
     "0 ERR 18 RFC 3461 4.1 NOTIFY: expected \"=\" and a value\n"},
    {0, C("RCPT TO:<a@b.org> NOTIFY=NEVER,SUCCESS\r\n"),
     "0 ERR 31 RFC 3461 4.1 NOTIFY: NEVER cannot be combined with other values\n"},
    {0, C("RCPT TO:<a@b.org> NOTIFY=SUCCESS,NEVER\r\n"),
     "0 ERR 33 RFC 3461 4.1 NOTIFY: NEVER cannot be combined with other values\n"},
    {0, C("MAIL FROM:<a@b.org> ORCPT=rfc822;a@b.org\r\n"),
     "0 ERR 20 RFC 3461 4.2 ORCPT: a RCPT TO parameter, not allowed in MAIL\n"},
    {0, C("RCPT TO:<a@b.org> ORCPT=rfc822;a ORCPT=rfc822;b\r\n"),
     "0 ERR 33 RFC 3461 4.2 ORCPT: parameter given twice\n"},
    {0, C("RCPT TO:<a@b.org> ORCPT\r\n"),
     "0 ERR 18 RFC 3461 4.2 ORCPT: expected \"=\" and a value\n"},
    {0, C("RCPT TO:<a@b.org> ORCPT=rfc@822;a\r\n"),
     "0 ERR 27 RFC 3461 4.2 addr-type: expected an atom\n"},
    {0, C("MAIL FROM:<a@b.org> -X=1\r\n"),
     "0 ERR 20 RFC 5321 4.1.2 esmtp-keyword: expected a parameter keyword\n"},
    {0, C("MAIL FROM:<a@b.org> \r\n"),
     "0 ERR 19 RFC 5321 4.1.2 esmtp-param: trailing SP before CRLF\n"},
    {0, C("MAIL FROM:<a@b.org> SMTPUTF8 X-V=\xc3\xa9\xc3\xa9\r\n"),
     "0+39 "
     "{\"type\":\"command\",\"verb\":\"MAIL\",\"path\":\"<a@b.org>\",\"local\":\"a\",\"domain\":"
     "\"b.org\",\"host_type\":\"domain\",\"params\":[{\"keyword\":\"SMTPUTF8\"},{\"keyword\":\"X-"
     "V\",\"value\":\"\xc3\xa9\xc3\xa9\"}],\"smtputf8\":true}\n"},
    {0, C("MAIL FROM:<a@b.org> SMTPUTF8 X-V=\xc3\r\n"),
     "0 ERR 33 RFC 6531 3.3 esmtp-value: invalid UTF-8\n"},
    {0, C("MAIL FROM:<a@b.org> X-V=\xc3\xa9\r\n"),
     "0 ERR 24 RFC 6531 3.4: 8-bit byte in a command without SMTPUTF8\n"},
    {SP, C("MAIL FROM:<a@b.org> SIZE=1\r\n"),
     "0+28 "
     "{\"type\":\"command\",\"verb\":\"MAIL\",\"path\":\"<a@b.org>\",\"local\":\"a\",\"domain\":"
     "\"b.org\",\"host_type\":\"domain\",\"params\":[{\"keyword\":\"SIZE\",\"value\":\"1\"}],"
     "\"size\":1}\n"},
    {SP, C("MAIL FROM:<a@b.org>  SIZE=1\r\n"),
     "0+29 "
     "{\"type\":\"command\",\"verb\":\"MAIL\",\"path\":\"<a@b.org>\",\"local\":\"a\",\"domain\":"
     "\"b.org\",\"host_type\":\"domain\",\"params\":[{\"keyword\":\"SIZE\",\"value\":\"1\"}],"
     "\"size\":1,\"quirks\":[{\"offset\":20,\"rule\":\"RFC 5321 4.1.2 "
     "esmtp-param\",\"reason\":\"several SP between words\"}]}\n"},
    {0, C("MAIL\r\n"), "0 ERR 4 RFC 5321 4.1.1.2 MAIL: expected SP after the verb\n"},
    {0, C("RCPT\r\n"), "0 ERR 4 RFC 5321 4.1.1.3 RCPT: expected SP after the verb\n"},
    {0, C("MAIL FROM<a@b.org>\r\n"), "0 ERR 9 RFC 5321 4.1.1.2 MAIL: expected \":\"\n"},
    {0, C("RCPT TO<a@b.org>\r\n"), "0 ERR 7 RFC 5321 4.1.1.3 RCPT: expected \":\"\n"},
    {0, C("AUTH plain\r\n"), "0 ERR 5 RFC 4422 3.1 sasl-mech: mechanism names are upper case\n"},
    {MS_LENIENT_KEYWORD_CASE, C("AUTH login\r\ndXNlcg==\r\ncGFzcw==\r\ndGVzdA==\r\n"),
     "0+12 "
     "{\"type\":\"command\",\"verb\":\"AUTH\",\"mechanism\":\"login\",\"quirks\":[{\"offset\":5,"
     "\"rule\":\"RFC 4422 3.1 sasl-mech\",\"reason\":\"lower-case mechanism "
     "name\"},{\"offset\":6,\"rule\":\"RFC 4422 3.1 sasl-mech\",\"reason\":\"lower-case mechanism "
     "name\"},{\"offset\":7,\"rule\":\"RFC 4422 3.1 sasl-mech\",\"reason\":\"lower-case mechanism "
     "name\"},{\"offset\":8,\"rule\":\"RFC 4422 3.1 sasl-mech\",\"reason\":\"lower-case mechanism "
     "name\"},{\"offset\":9,\"rule\":\"RFC 4422 3.1 sasl-mech\",\"reason\":\"lower-case mechanism "
     "name\"}]}\n"
     "12+10 {\"type\":\"sasl\",\"response\":\"dXNlcg==\"}\n"
     "22+10 {\"type\":\"sasl\",\"response\":\"cGFzcw==\"}\n"
     "32 ERR 32 RFC 5321 4.1.1 command: unknown command\n"},
    {0, C("AUTH PLAIN{\r\n"), "0 ERR 10 RFC 4954 4 AUTH: expected SP\n"},
    {0, C("AUTH =\r\n"), "0 ERR 5 RFC 4422 3.1 sasl-mech: expected a mechanism name\n"},
    {0, C("AUTH X_Y\r\nNOOP\r\n"),
     "0+10 {\"type\":\"command\",\"verb\":\"AUTH\",\"mechanism\":\"X_Y\"}\n"
     "10+6 {\"type\":\"command\",\"verb\":\"NOOP\"}\n"},
    {0, C("BDAT 0\r\nRSET\r\n"),
     "0+8 {\"type\":\"command\",\"verb\":\"BDAT\",\"size\":0}\n"
     "8+6 {\"type\":\"command\",\"verb\":\"RSET\"}\n"},
    {0, C("VRFY \"a\\\x7f\"\r\n"),
     "0 ERR 7 RFC 5321 4.1.2 quoted-pairSMTP: expected a printable ASCII character after \"\\\"\n"},
    {0, C("VRFY \"abc\r\n"),
     "0 ERR 9 RFC 5321 4.1.2 Quoted-string: expected qtextSMTP, \"\\\" or closing DQUOTE\n"},
    {0, C("VRFY a\xff\r\n"), "0 ERR 6 RFC 6531 3.3 atext: invalid UTF-8\n"},
    {0, C("MAIL FROM:<a@b.org> AUTH=e+3Dmc2@example.com\r\n"),
     "0+46 "
     "{\"type\":\"command\",\"verb\":\"MAIL\",\"path\":\"<a@b.org>\",\"local\":\"a\",\"domain\":"
     "\"b.org\",\"host_type\":\"domain\",\"params\":[{\"keyword\":\"AUTH\",\"value\":\"e+3Dmc2@"
     "example.com\"}],\"auth\":\"e+3Dmc2@example.com\"}\n"},
    {0, C("MAIL FROM:<a@b.org> 8X=1\r\n"),
     "0+26 "
     "{\"type\":\"command\",\"verb\":\"MAIL\",\"path\":\"<a@b.org>\",\"local\":\"a\",\"domain\":"
     "\"b.org\",\"host_type\":\"domain\",\"params\":[{\"keyword\":\"8X\",\"value\":\"1\"}]}\n"},
};

/*
 * Commands-only streams count the SASL lines per mechanism (docs/smtp.md): the
 * line after the last counted one is parsed as a command, so "dGVzdA==" there
 * is an unknown command. Unknown mechanisms end at a known verb followed by SP
 * or the end of the line.
 */
static const struct ccase sasl_cases[] = {
    {0, C("AUTH PLAIN\r\ndGVzdA==\r\ndGVzdA==\r\n"),
     "0+12 {\"type\":\"command\",\"verb\":\"AUTH\",\"mechanism\":\"PLAIN\"}\n"
     "12+10 {\"type\":\"sasl\",\"response\":\"dGVzdA==\"}\n"
     "22 ERR 22 RFC 5321 4.1.1 command: unknown command\n"},
    {0, C("AUTH PLAIN dGVzdA==\r\ndGVzdA==\r\n"),
     "0+21 "
     "{\"type\":\"command\",\"verb\":\"AUTH\",\"mechanism\":\"PLAIN\",\"initial_response\":"
     "\"dGVzdA==\"}\n"
     "21 ERR 21 RFC 5321 4.1.1 command: unknown command\n"},
    {0, C("AUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\ndGVzdA==\r\n"),
     "0+12 {\"type\":\"command\",\"verb\":\"AUTH\",\"mechanism\":\"LOGIN\"}\n"
     "12+10 {\"type\":\"sasl\",\"response\":\"dXNlcg==\"}\n"
     "22+10 {\"type\":\"sasl\",\"response\":\"cGFzcw==\"}\n"
     "32 ERR 32 RFC 5321 4.1.1 command: unknown command\n"},
    {0, C("AUTH LOGIN dXNlcg==\r\ncGFzcw==\r\ndGVzdA==\r\n"),
     "0+21 "
     "{\"type\":\"command\",\"verb\":\"AUTH\",\"mechanism\":\"LOGIN\",\"initial_response\":"
     "\"dXNlcg==\"}\n"
     "21+10 {\"type\":\"sasl\",\"response\":\"cGFzcw==\"}\n"
     "31 ERR 31 RFC 5321 4.1.1 command: unknown command\n"},
    {0, C("AUTH CRAM-MD5\r\ndGVzdA==\r\ndGVzdA==\r\n"),
     "0+15 {\"type\":\"command\",\"verb\":\"AUTH\",\"mechanism\":\"CRAM-MD5\"}\n"
     "15+10 {\"type\":\"sasl\",\"response\":\"dGVzdA==\"}\n"
     "25 ERR 25 RFC 5321 4.1.1 command: unknown command\n"},
    {0, C("AUTH EXTERNAL\r\n\r\ndGVzdA==\r\n"),
     "0+15 {\"type\":\"command\",\"verb\":\"AUTH\",\"mechanism\":\"EXTERNAL\"}\n"
     "15+2 {\"type\":\"sasl\",\"response\":\"\"}\n"
     "17 ERR 17 RFC 5321 4.1.1 command: unknown command\n"},
    {0, C("AUTH EXTERNAL =\r\ndGVzdA==\r\n"),
     "0+17 "
     "{\"type\":\"command\",\"verb\":\"AUTH\",\"mechanism\":\"EXTERNAL\",\"initial_response\":\"="
     "\"}\n"
     "17 ERR 17 RFC 5321 4.1.1 command: unknown command\n"},
    {0, C("AUTH ANONYMOUS\r\ndGVzdA==\r\ndGVzdA==\r\n"),
     "0+16 {\"type\":\"command\",\"verb\":\"AUTH\",\"mechanism\":\"ANONYMOUS\"}\n"
     "16+10 {\"type\":\"sasl\",\"response\":\"dGVzdA==\"}\n"
     "26 ERR 26 RFC 5321 4.1.1 command: unknown command\n"},
    {0, C("AUTH XOAUTH2\r\ndGVzdA==\r\ndGVzdA==\r\n"),
     "0+14 {\"type\":\"command\",\"verb\":\"AUTH\",\"mechanism\":\"XOAUTH2\"}\n"
     "14+10 {\"type\":\"sasl\",\"response\":\"dGVzdA==\"}\n"
     "24 ERR 24 RFC 5321 4.1.1 command: unknown command\n"},
    {0, C("AUTH OAUTHBEARER\r\ndGVzdA==\r\ndGVzdA==\r\n"),
     "0+18 {\"type\":\"command\",\"verb\":\"AUTH\",\"mechanism\":\"OAUTHBEARER\"}\n"
     "18+10 {\"type\":\"sasl\",\"response\":\"dGVzdA==\"}\n"
     "28 ERR 28 RFC 5321 4.1.1 command: unknown command\n"},
    {0, C("AUTH OAUTHBEARER dGVzdA==\r\ndGVzdA==\r\n"),
     "0+27 "
     "{\"type\":\"command\",\"verb\":\"AUTH\",\"mechanism\":\"OAUTHBEARER\",\"initial_response\":"
     "\"dGVzdA==\"}\n"
     "27 ERR 27 RFC 5321 4.1.1 command: unknown command\n"},
    {0, C("AUTH NTLM\r\nTlRMTVNTUAABAAAA\r\n\r\nNOOP\r\n"),
     "0+11 {\"type\":\"command\",\"verb\":\"AUTH\",\"mechanism\":\"NTLM\"}\n"
     "11+18 {\"type\":\"sasl\",\"response\":\"TlRMTVNTUAABAAAA\"}\n"
     "29+2 {\"type\":\"sasl\",\"response\":\"\"}\n"
     "31+6 {\"type\":\"command\",\"verb\":\"NOOP\"}\n"},
    {0, C("AUTH PLAIN\r\nA\r\nNOOP\r\n"),
     "0+12 {\"type\":\"command\",\"verb\":\"AUTH\",\"mechanism\":\"PLAIN\"}\n"
     "12 ERR 13 RFC 4954 4 base64: base64 length is not a multiple of 4\n"
     "15+6 {\"type\":\"command\",\"verb\":\"NOOP\"}\n"},
    {MS_LENIENT_BARE_LF, C("AUTH PLAIN\ndGVzdA==\nNOOP\n"),
     "0+11 "
     "{\"type\":\"command\",\"verb\":\"AUTH\",\"mechanism\":\"PLAIN\",\"quirks\":[{\"offset\":10,"
     "\"rule\":\"RFC 5321 2.3.8\",\"reason\":\"bare LF ends the line\"}]}\n"
     "11+9 {\"type\":\"sasl\",\"response\":\"dGVzdA==\",\"quirks\":[{\"offset\":8,\"rule\":\"RFC "
     "5321 2.3.8\",\"reason\":\"bare LF ends the line\"}]}\n"
     "20+5 {\"type\":\"command\",\"verb\":\"NOOP\",\"quirks\":[{\"offset\":4,\"rule\":\"RFC 5321 "
     "2.3.8\",\"reason\":\"bare LF ends the line\"}]}\n"},
    {0, C("AUTH NTLM\r\nTlRMTVNTUAABAAAAAAAA\r\nNOOP hello\r\n"),
     "0+11 {\"type\":\"command\",\"verb\":\"AUTH\",\"mechanism\":\"NTLM\"}\n"
     "11+22 {\"type\":\"sasl\",\"response\":\"TlRMTVNTUAABAAAAAAAA\"}\n"
     "33+12 {\"type\":\"command\",\"verb\":\"NOOP\",\"arg\":\"hello\"}\n"},
};

static void test_path_errors(void **st)
{
    (void)st;
    assert_int_equal(
        run_cases(&ms_smtp_commands_kind, path_cases, sizeof(path_cases) / sizeof(path_cases[0])),
        0);
}

static void test_command_errors(void **st)
{
    (void)st;
    assert_int_equal(
        run_cases(&ms_smtp_commands_kind, cmd_cases, sizeof(cmd_cases) / sizeof(cmd_cases[0])), 0);
}

static void test_sasl_lines(void **st)
{
    (void)st;
    assert_int_equal(
        run_cases(&ms_smtp_commands_kind, sasl_cases, sizeof(sasl_cases) / sizeof(sasl_cases[0])),
        0);
}

/* The view holds MS_SMTP_PARAMS_MAX parameters whatever smtp_params says. */
static void test_params_cap(void **st)
{
    char buf[512];
    struct ms_limits lim;
    size_t k;
    (void)st;
    ms_limits_default(&lim);
    lim.smtp_params = 2 * MS_SMTP_PARAMS_MAX;
    for (int extra = 0; extra <= 1; extra++) {
        k = (size_t)snprintf(buf, sizeof(buf), "MAIL FROM:<a@b.org>");
        for (int i = 0; i < MS_SMTP_PARAMS_MAX + extra; i++)
            k += (size_t)snprintf(buf + k, sizeof(buf) - k, " X%d", i);
        k += (size_t)snprintf(buf + k, sizeof(buf) - k, "\r\n");
        const char *r = ms_check(&ms_smtp_commands_kind, &lim, buf, k);
        if (!extra) {
            assert_int_equal(ms_last_errors, 0);
            ms_assert_has(r, "{\"keyword\":\"X31\"}]");
        } else {
            /* refused where the 33rd starts: 19 + 10 * 3 + 22 * 4 + 1 */
            assert_string_equal(r, "0 ERR 138 RFC 5321 4.5.3.1 parameters: too many ESMTP "
                                   "parameters\n");
        }
    }
}

static const char *session(const char *t)
{
    struct ms_limits lim;
    ms_limits_default(&lim);
    return ms_check_session(ms_proto_find("smtp"), &lim, t);
}

/* Reply accounting in sessions (docs/smtp.md "The command stream"). */
static void test_session_accounting(void **st)
{
    const char *r;
    (void)st;
    /* AUTH with an initial response answered 235: commands follow at once */
    r = session("S: 220 mx\nC: AUTH PLAIN AGEAYg==\nS: 235 2.7.0 ok\nC: NOOP\nS: 250 ok\n");
    ms_assert_lacks(r, "ERR");
    ms_assert_has(r, "C 21+6 {\"type\":\"command\",\"verb\":\"NOOP\"}");
    /* a bad reply with no command outstanding answers nothing */
    r = session("S: 220 mx\nS: 2x0 bad\nS: 250 unasked\nC: NOOP\nS: 250 ok\n");
    ms_assert_has(r, "ERR");
    ms_assert_has(r, "C 0+6 {\"type\":\"command\",\"verb\":\"NOOP\"}");
    /* a bad reply answers NOOP while AUTH's wait is pending (not its index);
     * the first 334 then answers AUTH LOGIN */
    r = session("S: 220 mx\nC: NOOP\nC: AUTH LOGIN\nS: 2x0 bad\nS: 334 VXNlcm5hbWU6\n"
                "C: dXNlcg==\nS: 334 UGFzc3dvcmQ6\nC: cGFzcw==\nS: 235 ok\nC: QUIT\n");
    ms_assert_has(r, "C 18+10 {\"type\":\"sasl\",\"response\":\"dXNlcg==\"}");
    ms_assert_has(r, "C 28+10 {\"type\":\"sasl\",\"response\":\"cGFzcw==\"}");
    ms_assert_has(r, "C 38+6 {\"type\":\"command\",\"verb\":\"QUIT\"}");
    /* a bad reply answers the first NOOP (no wait pending), the 250 the second,
     * so the 554 answers DATA and QUIT is a command */
    r = session("S: 220 mx\nC: NOOP\nC: NOOP\nS: 2x0 bad\nS: 250 ok\nC: DATA\nS: 554 no\n"
                "C: QUIT\n");
    ms_assert_lacks(r, "\"type\":\"data\"");
    ms_assert_has(r, "C 18+6 {\"type\":\"command\",\"verb\":\"QUIT\"}");
    /* a bad reply answering DATA ends the wait; its code is unknown, so DATA
     * stays assumed accepted (docs/smtp.md "Not checked / known gaps") */
    r = session("S: 220 mx\nC: DATA\nS: 3x4 bad\nS: 250 unasked\nC: x\nC: .\nC: QUIT\n");
    ms_assert_has(r, "C 6+6 {\"type\":\"data\",\"octets\":6,\"lines\":1");
    ms_assert_has(r, "C 12+6 {\"type\":\"command\",\"verb\":\"QUIT\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_errors),        cmocka_unit_test(test_command_errors),
        cmocka_unit_test(test_sasl_lines),         cmocka_unit_test(test_params_cap),
        cmocka_unit_test(test_session_accounting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
