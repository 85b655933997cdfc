/*
 * Negative-branch coverage of the IMAP response parser (RFC 9051 9 and the
 * extensions it parses): every error a real server's bytes can reach, each
 * with its exact offset and reason. Every case runs through ms_check (whole,
 * at every split, byte by byte against guard pages, and parse/write/parse for
 * the valid ones). The sweeps at the end reach the limit checks (imap_items,
 * imap_depth) at every place a node is made and every place a response can be
 * cut short. See docs/fuzzing.md "Coverage" for what stays uncovered and why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mailspec/imap_command.h"
#include "mailspec/imap_response.h"

struct ccase {
    const char *in;
    size_t len;
    const char *out;
};

#define C(s) s, sizeof(s) - 1

static int run_cases(const struct ms_kind *k, const struct ccase *cs, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        struct ms_limits lim;
        ms_limits_default(&lim);
        const char *got = ms_check(k, &lim, cs[i].in, cs[i].len);
        if (cs[i].out == NULL) {
            printf("GEN %zu ", i);
            for (const char *q = got; *q; q++)
                printf("%02x", (unsigned char)*q);
            printf("\n");
            bad++;
        } else if (strcmp(got, cs[i].out) != 0) {
            printf("case %zu: %.*s\n  got:  %s  want: %s", i, (int)cs[i].len, cs[i].in, got,
                   cs[i].out);
            bad++;
        }
    }
    return bad;
}

static const struct ccase resp_cases[] = {
    /* "~{" (literal8) where only string is allowed: refused at the "~" */
    {C("* 1 FETCH (BODY (\"text\" ~{5}\r\nplain NIL NIL NIL \"7bit\" 1 1))\r\n"),
     "0 ERR 24 RFC 9051 9 media-subtype: expected a string (quoted or literal)\n"},
    {C("* 1 FETCH (INTERNALDATE \"17-Jul\")\r\n"),
     "0 ERR 24 RFC 9051 9 date-time: expected \"dd-Mon-yyyy hh:mm:ss +zzzz\"\n"},
    {C("* 1 FETCH (INTERNALDATE x17-Jul-1996 02:44:25 -0700\" UID 1)\r\n"),
     "0 ERR 24 RFC 9051 9 date-time: expected \"dd-Mon-yyyy hh:mm:ss +zzzz\"\n"},
    {C("* 1 FETCH (INTERNALDATE \"1-Jul-1996 02:44:25 -0700\")\r\n"),
     "0 ERR 25 RFC 9051 9 date-time: expected a two-character day\n"},
    {C("* 1 FETCH (INTERNALDATE \"x7-Jul-1996 02:44:25 -0700\")\r\n"),
     "0 ERR 25 RFC 9051 9 date-time: expected a two-character day\n"},
    {C("* 1 FETCH (INTERNALDATE \"1x-Jul-1996 02:44:25 -0700\")\r\n"),
     "0 ERR 25 RFC 9051 9 date-time: expected a two-character day\n"},
    {C("* 1 FETCH (INTERNALDATE \" 7-Jul-1996 02:44:25 -0700\")\r\n"),
     "0+55 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":[{\"name\":\"INTERNALDATE\",\"value\":"
     "\" 7-Jul-1996 02:44:25 -0700\"}]}\n"},
    {C("* 1 FETCH (INTERNALDATE \"17 Jul-1996 02:44:25 -0700\")\r\n"),
     "0 ERR 27 RFC 9051 9 date-time: expected \"-\" around the month\n"},
    {C("* 1 FETCH (INTERNALDATE \"17-Jul/1996 02:44:25 -0700\")\r\n"),
     "0 ERR 27 RFC 9051 9 date-time: expected \"-\" around the month\n"},
    {C("* 1 FETCH (INTERNALDATE \"17-Jul-996 02:44:25 -0700\")\r\n"),
     "0 ERR 35 RFC 9051 9 date-time: expected a 4-digit year\n"},
    {C("* 1 FETCH (INTERNALDATE \"17-Jul-19960 02:44:25 -0700\")\r\n"),
     "0 ERR 36 RFC 9051 9 date-time: expected SP after the year\n"},
    {C("* 1 FETCH (INTERNALDATE \"17-Jul-1996 02.44:25 -0700\")\r\n"),
     "0 ERR 39 RFC 9051 9 date-time: expected a time hh:mm:ss\n"},
    {C("* 1 FETCH (INTERNALDATE \"17-Jul-1996 0x:44:25 -0700\")\r\n"),
     "0 ERR 38 RFC 9051 9 date-time: expected a time hh:mm:ss\n"},
    {C("* 1 FETCH (INTERNALDATE \"17-Jul-1996 02:44:25x-0700\")\r\n"),
     "0 ERR 45 RFC 9051 9 date-time: expected SP before the zone\n"},
    {C("* 1 FETCH (INTERNALDATE \"17-Jul-1996 02:44:25 -070\")\r\n"),
     "0 ERR 50 RFC 9051 9 date-time: expected a 4-digit zone\n"},
    {C("* 1 FETCH (INTERNALDATE \"17-Jul-1996 02:44:25 -07000\")\r\n"),
     "0 ERR 51 RFC 9051 9 date-time: expected DQUOTE after the zone\n"},
    {C("* 1 FETCH (SAVEDATE \"17-Jul-1996 02:44:25 0700\")\r\n"),
     "0 ERR 42 RFC 9051 9 date-time: expected a zone (\"+hhmm\" or \"-hhmm\")\n"},
    {C("* 1 FETCH (FOO 1)\r\n"), "0 ERR 11 RFC 9051 9 msg-att: unknown FETCH attribute\n"},
    {C("* 1 FETCH (XXXXXX 1)\r\n"), "0 ERR 11 RFC 9051 9 msg-att: unknown FETCH attribute\n"},
    {C("* 1 FETCH (XXXXXXX 1)\r\n"), "0 ERR 11 RFC 9051 9 msg-att: unknown FETCH attribute\n"},
    {C("* 1 FETCH (XXXXXXXX 1)\r\n"), "0 ERR 11 RFC 9051 9 msg-att: unknown FETCH attribute\n"},
    {C("* 1 FETCH (RFC822.XXXX 1)\r\n"), "0 ERR 11 RFC 9051 9 msg-att: unknown FETCH attribute\n"},
    {C("* 1 FETCH (BODYSTRUCTUR3 1)\r\n"),
     "0 ERR 11 RFC 9051 9 msg-att: unknown FETCH attribute\n"},
    {C("* 1 FETCH (XX 1)\r\n"), "0 ERR 11 RFC 9051 9 msg-att: unknown FETCH attribute\n"},
    {C("* 1 FETCH (UID)\r\n"), "0 ERR 14 RFC 9051 9 SP: expected SP\n"},
    {C("* 1 FETCH (FLAGS[] ())\r\n"),
     "0 ERR 16 RFC 9051 9 msg-att: no section allowed after this attribute\n"},
    {C("* 1 FETCH (BINARY {3}\r\nabc)\r\n"),
     "0 ERR 17 RFC 9051 9 section-binary: expected \"[\" after BINARY\n"},
    {C("* 1 FETCH (BINARY.SIZE 3)\r\n"),
     "0 ERR 22 RFC 9051 9 section-binary: expected \"[\" after BINARY\n"},
    {C("* 1 FETCH (BINARY[1.TEXT] NIL)\r\n"), "0 ERR 19 RFC 9051 9 section: expected \"]\"\n"},
    {C("* 1 FETCH (BINARY[TEXT] NIL)\r\n"),
     "0 ERR 18 RFC 9051 9 section-binary: expected a part number or \"]\"\n"},
    {C("* 1 FETCH (BINARY[1] ~{3}\r\na\000c)\r\n"),
     "0+33 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":[{\"name\":\"BINARY[1]\",\"value\":"
     "\"a\\u0000c\",\"section\":\"1\"}]}\n"},
    {C("* 1 FETCH (BINARY.SIZE[1]<5> 3)\r\n"), "0 ERR 25 RFC 9051 9 SP: expected SP\n"},
    {C("* 1 FETCH (BODY[1.2.MIME] NIL)\r\n"),
     "0+32 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":[{\"name\":\"BODY[1.2.MIME]\","
     "\"value\":null,\"section\":\"1.2.MIME\"}]}\n"},
    {C("* 1 FETCH (BODY[MIME] NIL)\r\n"),
     "0 ERR 16 RFC 9051 9 section: expected HEADER, HEADER.FIELDS, TEXT or MIME\n"},
    {C("* 1 FETCH (BODY[1.MIME] NIL BODY[1.2.HEADER] NIL BODY[1.TEXT] NIL)\r\n"),
     "0+68 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":[{\"name\":\"BODY[1.MIME]\",\"value\":"
     "null,\"section\":\"1.MIME\"},{\"name\":\"BODY[1.2.HEADER]\",\"value\":null,\"section\":\"1.2."
     "HEADER\"},{\"name\":\"BODY[1.TEXT]\",\"value\":null,\"section\":\"1.TEXT\"}]}\n"},
    {C("* 1 FETCH (BODY[HEADER.FIELDS.NOT (A B)] NIL)\r\n"),
     "0+47 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":[{\"name\":\"BODY[HEADER.FIELDS.NOT (A "
     "B)]\",\"value\":null,\"section\":\"HEADER.FIELDS.NOT (A B)\"}]}\n"},
    {C("* 1 FETCH (BODY[HEADER.FIELDS A] NIL)\r\n"),
     "0 ERR 30 RFC 9051 9 header-list: expected \"(\"\n"},
    {C("* 1 FETCH (BODY[HEADER.FIELDS(A)] NIL)\r\n"), "0 ERR 29 RFC 9051 9 SP: expected SP\n"},
    {C("* 1 FETCH (BODY[HEADER.FIELDS ()] NIL)\r\n"),
     "0 ERR 31 RFC 9051 9 header-fld-name: expected an astring (atom, quoted or literal)\n"},
    {C("* 1 FETCH (BODY[HEADER.FIELDS (A] NIL)\r\n"),
     "0 ERR 38 RFC 9051 9 section: expected \"]\"\n"},
    {C("* 1 FETCH (BODY[TEXT NIL)\r\n"), "0 ERR 20 RFC 9051 9 section: expected \"]\"\n"},
    {C("* 1 FETCH (BODY[0] NIL)\r\n"),
     "0 ERR 16 RFC 9051 9 section: expected a non-zero number (nz-number)\n"},
    {C("* 1 FETCH (BODY[1.0] NIL)\r\n"),
     "0 ERR 18 RFC 9051 9 section: expected a non-zero number (nz-number)\n"},
    {C("* 1 FETCH (BODY[]<abc> NIL)\r\n"),
     "0 ERR 18 RFC 9051 9 msg-att-static: expected a number\n"},
    {C("* 1 FETCH (BODY[]<5 NIL)\r\n"), "0 ERR 19 RFC 9051 9 msg-att-static: expected \">\"\n"},
    {C("* 1 FETCH (EMAILID ())\r\n"), "0 ERR 20 RFC 8474 7 objectid: expected an object id\n"},
    {C("* 1 FETCH (EMAILID (M_a-b9) THREADID NIL)\r\n"),
     "0+43 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":[{\"name\":\"EMAILID\",\"value\":[\"M_"
     "a-b9\"]},{\"name\":\"THREADID\",\"value\":null}]}\n"},
    {C("* 1 FETCH (EMAILID (a.b))\r\n"), "0 ERR 21 RFC 8474 7 objectid: expected \")\"\n"},
    {C("* 1 FETCH (EMAILID x)\r\n"), "0 ERR 19 RFC 8474 7 objectid: expected \"(\"\n"},
    {C("* 1 FETCH (THREADID (T-1_x))\r\n"), "0+30 "
                                            "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":"
                                            "[{\"name\":\"THREADID\",\"value\":[\"T-1_x\"]}]}\n"},
    {C("* 1 FETCH (MODSEQ 5)\r\n"), "0 ERR 18 RFC 7162 7 fetch-mod-resp: expected \"(\"\n"},
    {C("* 1 FETCH (MODSEQ (0))\r\n"),
     "0 ERR 19 RFC 7162 7 permsg-modsequence: expected a non-zero number (nz-number)\n"},
    {C("* 1 FETCH (MODSEQ (5)\r\n"), "0 ERR 21 RFC 9051 9 msg-att: expected \")\"\n"},
    {C("* 1 FETCH (RFC822.SIZE x)\r\n"), "0 ERR 23 RFC 9051 9 msg-att-static: expected a number\n"},
    {C("* 1 FETCH (ENVELOPE NIL)\r\n"), "0 ERR 20 RFC 9051 9 envelope: expected \"(\"\n"},
    {C("* 1 FETCH (ENVELOPE (NIL NIL (NIL NIL NIL NIL) NIL NIL NIL NIL NIL NIL NIL))\r\n"),
     "0 ERR 30 RFC 9051 9 address: expected \"(\"\n"},
    {C("* 1 FETCH (ENVELOPE (NIL NIL ((NIL NIL NIL NIL)) NIL NIL NIL NIL NIL NIL))\r\n"),
     "0 ERR 72 RFC 9051 9 SP: expected SP\n"},
    {C("* 1 FETCH (ENVELOPE (NIL NIL ((NIL NIL NIL)) NIL NIL NIL NIL NIL NIL NIL))\r\n"),
     "0 ERR 42 RFC 9051 9 SP: expected SP\n"},
    {C("* 1 FETCH (ENVELOPE (NIL NIL ((NIL NIL NIL NIL) NIL NIL NIL NIL NIL NIL NIL))\r\n"),
     "0 ERR 47 RFC 9051 9 envelope: expected \")\"\n"},
    {C("* 1 FETCH (BODY (\"text\" \"plain\" (\"a\") NIL NIL \"7bit\" 1 1))\r\n"),
     "0 ERR 36 RFC 9051 9 SP: expected SP\n"},
    {C("* 1 FETCH (BODY (\"text\" \"plain\" () NIL NIL \"7bit\" 1 1))\r\n"),
     "0 ERR 33 RFC 9051 9 body-fld-param: expected a string (quoted or literal)\n"},
    {C("* 1 FETCH (BODY (\"text\" \"plain\" (\"a\" \"b\" NIL NIL \"7bit\" 1 1))\r\n"),
     "0 ERR 41 RFC 9051 9 body-fld-param: expected a string (quoted or literal)\n"},
    {C("* 1 FETCH (BODY (TEXT \"plain\" NIL NIL NIL \"7bit\" 1 1))\r\n"),
     "0 ERR 17 RFC 9051 9 media-basic: expected a string (quoted or literal)\n"},
    {C("* 1 FETCH (BODY (\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1 NIL (\"inline\") NIL))\r\n"),
     "0 ERR 68 RFC 9051 9 SP: expected SP\n"},
    {C("* 1 FETCH (BODY (\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1 NIL (\"inline\" x)))\r\n"),
     "0 ERR 69 RFC 9051 9 body: expected \"(\"\n"},
    {C("* 1 FETCH (BODY (\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1 NIL NIL (\"en\" x)))\r\n"),
     "0 ERR 69 RFC 9051 9 body-fld-lang: expected a string (quoted or literal)\n"},
    {C("* 1 FETCH (BODY (\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1 NIL NIL (\"en\") \"loc\" (1 "
       "(2 NIL \"x\") 3)))\r\n"),
     "0+97 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":[{\"name\":\"BODY\",\"value\":{"
     "\"kind\":\"text\",\"type\":\"text\",\"subtype\":\"plain\",\"params\":null,\"id\":null,"
     "\"description\":null,\"encoding\":\"7bit\",\"octets\":1,\"lines\":1,\"md5\":null,"
     "\"disposition\":null,\"language\":[\"en\"],\"location\":\"loc\",\"extensions\":[[1,[2,null,"
     "\"x\"],3]]}}]}\n"},
    {C("* 1 FETCH (BODY (\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1 NIL NIL NIL NIL (1 x)))\r\n"),
     "0 ERR 74 RFC 9051 9 body-extension: expected a string or NIL\n"},
    {C("* 1 FETCH (BODY (\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1 NIL NIL NIL NIL (1 2)\r\n"),
     "0 ERR 76 RFC 9051 9 body: expected \")\"\n"},
    {C("* 1 FETCH (BODY (\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 1 NIL (\"a\" \"b\" NIL NIL "
       "NIL \"7bit\" 1) 1))\r\n"),
     "0 ERR 57 RFC 9051 9 envelope: expected \"(\"\n"},
    {C("* 1 FETCH (BODY (\"message\" \"global\" NIL NIL NIL \"7bit\" 1 (NIL NIL NIL NIL NIL NIL "
       "NIL NIL NIL NIL) (\"a\" \"b\" NIL NIL NIL \"7bit\" 1) 1))\r\n"),
     "0+135 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":[{\"name\":\"BODY\",\"value\":{"
     "\"kind\":\"message\",\"type\":\"message\",\"subtype\":\"global\",\"params\":null,\"id\":null,"
     "\"description\":null,\"encoding\":\"7bit\",\"octets\":1,\"envelope\":{\"date\":null,"
     "\"subject\":null,\"from\":null,\"sender\":null,\"reply_to\":null,\"to\":null,\"cc\":null,"
     "\"bcc\":null,\"in_reply_to\":null,\"message_id\":null},\"body\":{\"kind\":\"basic\",\"type\":"
     "\"a\",\"subtype\":\"b\",\"params\":null,\"id\":null,\"description\":null,\"encoding\":"
     "\"7bit\",\"octets\":1},\"lines\":1}}]}\n"},
    {C("* 1 FETCH (BODY (\"message\" {6}\r\nrfc822 NIL NIL NIL \"7bit\" 1))\r\n"),
     "0+63 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":[{\"name\":\"BODY\",\"value\":{"
     "\"kind\":\"basic\",\"type\":\"message\",\"subtype\":\"rfc822\",\"params\":null,\"id\":null,"
     "\"description\":null,\"encoding\":\"7bit\",\"octets\":1}}]}\n"},
    {C("* 1 FETCH (BODY ({4}\r\ntext \"plain\" NIL NIL NIL \"7bit\" 1))\r\n"),
     "0+59 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":[{\"name\":\"BODY\",\"value\":{"
     "\"kind\":\"basic\",\"type\":\"text\",\"subtype\":\"plain\",\"params\":null,\"id\":null,"
     "\"description\":null,\"encoding\":\"7bit\",\"octets\":1}}]}\n"},
    {C("* 1 FETCH (BODY (\"message\" \"x\" NIL NIL NIL \"7bit\" 1))\r\n"),
     "0+55 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":[{\"name\":\"BODY\",\"value\":{"
     "\"kind\":\"basic\",\"type\":\"message\",\"subtype\":\"x\",\"params\":null,\"id\":null,"
     "\"description\":null,\"encoding\":\"7bit\",\"octets\":1}}]}\n"},
    {C("* 1 FETCH (BODY ((\"a\" \"b\" NIL NIL NIL \"7bit\" 1) \"mixed\" (\"b\" \"x\") (\"inline\" "
       "NIL) NIL NIL))\r\n"),
     "0+92 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":[{\"name\":\"BODY\",\"value\":{"
     "\"type\":\"MULTIPART\",\"parts\":[{\"kind\":\"basic\",\"type\":\"a\",\"subtype\":\"b\","
     "\"params\":null,\"id\":null,\"description\":null,\"encoding\":\"7bit\",\"octets\":1}],"
     "\"subtype\":\"mixed\",\"params\":[[\"b\",\"x\"]],\"disposition\":[\"inline\",null],"
     "\"language\":null,\"location\":null}}]}\n"},
    {C("* 1 FETCH (BODY ((\"a\" \"b\" NIL NIL NIL \"7bit\" 1) \"mixed\" x))\r\n"),
     "0 ERR 56 RFC 9051 9 body: expected \"(\"\n"},
    {C("* 1 FETCH (BODY ((\"a\" \"b\" NIL NIL NIL \"7bit\" 1)\"mixed\"))\r\n"),
     "0 ERR 47 RFC 9051 9 SP: expected SP\n"},
    {C("* 1 FETCH (BODY (\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 x))\r\n"),
     "0 ERR 53 RFC 9051 9 body-fld-lines: expected a number\n"},
    {C("* 1 FETCH (BODY (\"text\" \"plain\" NIL NIL NIL \"7bit\" x))\r\n"),
     "0 ERR 51 RFC 9051 9 body-fld-octets: expected a number\n"},
    {C("* OK [BADCHARSET (\"UTF-8\" US-ASCII)] x\r\n"),
     "0+40 "
     "{\"type\":\"ok\",\"tag\":\"*\",\"code\":{\"name\":\"BADCHARSET\",\"args\":[[\"UTF-8\",\"US-"
     "ASCII\"]]},\"text\":\"x\"}\n"},
    {C("* OK [BADCHARSET (UTF-8] x\r\n"), "0 ERR 23 RFC 9051 9 resp-text-code: expected \")\"\n"},
    {C("* OK [BADCHARSET UTF-8] x\r\n"), "0 ERR 17 RFC 9051 9 resp-text-code: expected \"(\"\n"},
    {C("* OK [BADCHARSET ( )] x\r\n"), "0 ERR 18 RFC 9051 9 resp-text-code: expected an atom\n"},
    {C("* OK [PERMANENTFLAGS(\\Seen)] x\r\n"), "0 ERR 20 RFC 9051 9 SP: expected SP\n"},
    {C("* OK [PERMANENTFLAGS (\\Seen \\*)] x\r\n"),
     "0+36 "
     "{\"type\":\"ok\",\"tag\":\"*\",\"code\":{\"name\":\"PERMANENTFLAGS\",\"args\":[[\"\\\\Seen\","
     "\"\\\\*\"]]},\"text\":\"x\"}\n"},
    {C("* OK [UIDNEXT] x\r\n"), "0 ERR 13 RFC 9051 9 SP: expected SP\n"},
    {C("* OK [APPENDUID 1] x\r\n"), "0 ERR 17 RFC 9051 9 SP: expected SP\n"},
    {C("* OK [APPENDUID 1 x] x\r\n"), "0 ERR 18 RFC 9051 9 resp-code-apnd: expected a number\n"},
    {C("* OK [APPENDUID x 1] x\r\n"), "0 ERR 16 RFC 9051 9 resp-code-apnd: expected a number\n"},
    {C("* OK [COPYUID 1 2] x\r\n"), "0 ERR 17 RFC 9051 9 SP: expected SP\n"},
    {C("* OK [COPYUID 1 2 x] x\r\n"), "0 ERR 18 RFC 9051 9 resp-code-copy: expected a number\n"},
    {C("* OK [COPYUID 1 x 3] x\r\n"), "0 ERR 16 RFC 9051 9 resp-code-copy: expected a number\n"},
    {C("* OK [HIGHESTMODSEQ] x\r\n"), "0 ERR 19 RFC 9051 9 SP: expected SP\n"},
    {C("* OK [MODIFIED] x\r\n"), "0 ERR 14 RFC 9051 9 SP: expected SP\n"},
    {C("* OK [MODIFIED 1:*,x] x\r\n"), "0 ERR 19 RFC 7162 7 resp-text-code: expected a number\n"},
    {C("* OK [XFOO ] x\r\n"),
     "0 ERR 11 RFC 9051 9 resp-text-code: expected text after the response code's SP\n"},
    {C("* OK [XFOO ]\r\n"),
     "0 ERR 11 RFC 9051 9 resp-text-code: expected text after the response code's SP\n"},
    {C("* OK [X\001] x\r\n"),
     "0 ERR 7 RFC 9051 9 resp-text-code: expected \"]\" after the response code\n"},
    {C("* OK [] x\r\n"), "0 ERR 6 RFC 9051 9 resp-text-code: expected an atom\n"},
    {C("* OK [CAPABILITY] x\r\n"),
     "0 ERR 16 RFC 9051 9 capability-data: capability list without IMAP4rev1 or IMAP4rev2\n"},
    {C("* ENABLED\r\n"), "0+11 {\"type\":\"enabled\",\"tag\":\"*\",\"capabilities\":[]}\n"},
    {C("* ENABLED CONDSTORE UTF8=ACCEPT\r\n"),
     "0+33 "
     "{\"type\":\"enabled\",\"tag\":\"*\",\"capabilities\":[\"CONDSTORE\",\"UTF8=ACCEPT\"]}\n"},
    {C("* LIST () \"/\" INBOX\r\n"),
     "0+21 "
     "{\"type\":\"list\",\"tag\":\"*\",\"flags\":[],\"delimiter\":\"/\",\"mailbox\":\"INBOX\"}\n"},
    {C("* LIST (\\Noselect \\x) \"/\" INBOX\r\n"),
     "0+33 "
     "{\"type\":\"list\",\"tag\":\"*\",\"flags\":[\"\\\\Noselect\",\"\\\\x\"],\"delimiter\":\"/"
     "\",\"mailbox\":\"INBOX\"}\n"},
    {C("* LIST (\\) \"/\" INBOX\r\n"),
     "0 ERR 9 RFC 9051 9 mbx-list-flags: expected a mailbox flag (\"\\\" atom)\n"},
    {C("* LIST (x) \"/\" INBOX\r\n"),
     "0 ERR 8 RFC 9051 9 mbx-list-flags: expected a mailbox flag (\"\\\" atom)\n"},
    {C("* LIST (\\A \"/\" INBOX\r\n"),
     "0 ERR 11 RFC 9051 9 mbx-list-flags: expected a mailbox flag (\"\\\" atom)\n"},
    {C("* LIST(\\A) \"/\" INBOX\r\n"), "0 ERR 6 RFC 9051 9 SP: expected SP\n"},
    {C("* LIST () \"/\"INBOX\r\n"), "0 ERR 13 RFC 9051 9 SP: expected SP\n"},
    {C("* LIST () NIL INBOX\r\n"),
     "0+21 "
     "{\"type\":\"list\",\"tag\":\"*\",\"flags\":[],\"delimiter\":null,\"mailbox\":\"INBOX\"}\n"},
    {C("* LIST () / INBOX\r\n"),
     "0 ERR 10 RFC 9051 9 mailbox-list: expected the hierarchy delimiter (quoted) or NIL\n"},
    {C("* LIST () \"\\\\\" INBOX\r\n"), "0+22 "
                                        "{\"type\":\"list\",\"tag\":\"*\",\"flags\":[],"
                                        "\"delimiter\":\"\\\\\",\"mailbox\":\"INBOX\"}\n"},
    {C("* LIST () \"\377\" INBOX\r\n"),
     "0 ERR 11 RFC 9051 9 quoted: 8-bit byte in a quoted string that is not UTF-8\n"},
    {C("* LIST () \"/\" INBOX (CHILDINFO (\"SUBSCRIBED\"))\r\n"),
     "0+48 "
     "{\"type\":\"list\",\"tag\":\"*\",\"flags\":[],\"delimiter\":\"/"
     "\",\"mailbox\":\"INBOX\",\"extended\":[{\"name\":\"CHILDINFO\",\"value\":[\"SUBSCRIBED\"]}]}"
     "\n"},
    {C("* LIST () \"/\" INBOX (OLDNAME (\"x\") X2 (1 2:3 * NIL a (b)))\r\n"),
     "0+60 "
     "{\"type\":\"list\",\"tag\":\"*\",\"flags\":[],\"delimiter\":\"/"
     "\",\"mailbox\":\"INBOX\",\"extended\":[{\"name\":\"OLDNAME\",\"value\":[\"x\"]},{\"name\":"
     "\"X2\",\"value\":[1,\"2:3\",\"*\",null,\"a\",[\"b\"]]}]}\n"},
    {C("* LIST () \"/\" INBOX (\"CHILDINFO\" x\r\n"),
     "0 ERR 34 RFC 9051 9 mbox-list-extended: expected \")\"\n"},
    {C("* LIST () \"/\" INBOX (CHILDINFO(x))\r\n"), "0 ERR 30 RFC 9051 9 SP: expected SP\n"},
    {C("* LIST () \"/\" INBOX (CHILDINFO ()\r\n"),
     "0 ERR 33 RFC 9051 9 mbox-list-extended: expected \")\"\n"},
    {C("* LIST () \"/\" INBOX ()\r\n"),
     "0+24 "
     "{\"type\":\"list\",\"tag\":\"*\",\"flags\":[],\"delimiter\":\"/"
     "\",\"mailbox\":\"INBOX\",\"extended\":[]}\n"},
    {C("* NAMESPACE NIL NIL NIL\r\n"),
     "0+25 "
     "{\"type\":\"namespace\",\"tag\":\"*\",\"personal\":null,\"other\":null,\"shared\":null}\n"},
    {C("* NAMESPACE ((\"\" \"/\")) NIL ((\"#shared\" NIL))\r\n"),
     "0+46 "
     "{\"type\":\"namespace\",\"tag\":\"*\",\"personal\":[[\"\",\"/"
     "\"]],\"other\":null,\"shared\":[[\"#shared\",null]]}\n"},
    {C("* NAMESPACE ((\"\" \"/\" \"X-PARAM\" (\"a\" \"b\"))) NIL NIL\r\n"),
     "0+52 "
     "{\"type\":\"namespace\",\"tag\":\"*\",\"personal\":[[\"\",\"/"
     "\",\"X-PARAM\",[\"a\",\"b\"]]],\"other\":null,\"shared\":null}\n"},
    {C("* NAMESPACE ((\"\" \"/\" \"X-PARAM\" (\"a\" x))) NIL NIL\r\n"),
     "0 ERR 36 RFC 9051 9 namespace-descr: expected a string (quoted or literal)\n"},
    {C("* NAMESPACE ((\"\" \"/\" \"X-PARAM\"(\"a\"))) NIL NIL\r\n"),
     "0 ERR 30 RFC 9051 9 SP: expected SP\n"},
    {C("* NAMESPACE ((\"\" \"/\" \"X-PARAM\" \"a\")) NIL NIL\r\n"),
     "0 ERR 31 RFC 9051 9 namespace-descr: expected \"(\"\n"},
    {C("* NAMESPACE ((\"\" \"/\" \"X-PARAM\" (\"a\")) NIL NIL\r\n"),
     "0 ERR 37 RFC 9051 9 namespace-descr: expected \")\"\n"},
    {C("* NAMESPACE ((\"\" \"/\" x)) NIL NIL\r\n"),
     "0 ERR 21 RFC 9051 9 namespace-descr: expected a string (quoted or literal)\n"},
    {C("* NAMESPACE ((\"\" \"/\") NIL NIL\r\n"),
     "0 ERR 21 RFC 9051 9 namespace-descr: expected \")\"\n"},
    {C("* NAMESPACE ((x \"/\")) NIL NIL\r\n"),
     "0 ERR 14 RFC 9051 9 namespace-descr: expected a string (quoted or literal)\n"},
    {C("* NAMESPACE ((\"\"\"/\")) NIL NIL\r\n"), "0 ERR 16 RFC 9051 9 SP: expected SP\n"},
    {C("* NAMESPACE ((\"\" \"ab\")) NIL NIL\r\n"),
     "0 ERR 17 RFC 9051 9 namespace-descr: hierarchy delimiter must be one quoted character or "
     "NIL\n"},
    {C("* NAMESPACE ((\"\" {1}\r\n/)) NIL NIL\r\n"),
     "0 ERR 17 RFC 9051 9 namespace-descr: hierarchy delimiter must be one quoted character or "
     "NIL\n"},
    {C("* NAMESPACE ((\"\" \"\")) NIL NIL\r\n"), "0 ERR 17 RFC 9051 9 namespace-descr: hierarchy "
                                                 "delimiter must be one quoted character or NIL\n"},
    {C("* NAMESPACE (\"\" \"/\") NIL NIL\r\n"),
     "0 ERR 13 RFC 9051 9 namespace-descr: expected \"(\"\n"},
    {C("* NAMESPACE x NIL NIL\r\n"), "0 ERR 12 RFC 9051 9 namespace-descr: expected \"(\"\n"},
    {C("* NAMESPACE NIL NIL\r\n"), "0 ERR 19 RFC 9051 9 SP: expected SP\n"},
    {C("* STATUS\r\n"), "0 ERR 8 RFC 9051 9 SP: expected SP\n"},
    {C("* STATUS INBOX\r\n"), "0 ERR 14 RFC 9051 9 SP: expected SP\n"},
    {C("* STATUS INBOX(MESSAGES 1)\r\n"), "0 ERR 14 RFC 9051 9 SP: expected SP\n"},
    {C("* STATUS INBOX ()\r\n"),
     "0+19 {\"type\":\"status\",\"tag\":\"*\",\"mailbox\":\"INBOX\",\"attrs\":[]}\n"},
    {C("* STATUS INBOX MESSAGES 1\r\n"), "0 ERR 15 RFC 9051 9 status-att-val: expected \"(\"\n"},
    {C("* STATUS INBOX (MESSAGES)\r\n"), "0 ERR 24 RFC 9051 9 SP: expected SP\n"},
    {C("* STATUS INBOX (MESSAGES x)\r\n"),
     "0 ERR 25 RFC 9051 9 status-att-val: expected a number\n"},
    {C("* STATUS INBOX (UIDNEXT 0)\r\n"),
     "0 ERR 24 RFC 9051 9 status-att-val: expected a non-zero number (nz-number)\n"},
    {C("* STATUS INBOX (SIZE x)\r\n"), "0 ERR 21 RFC 9051 9 status-att-val: expected a number\n"},
    {C("* STATUS INBOX (DELETED-STORAGE 5 SIZE 6)\r\n"),
     "0+43 "
     "{\"type\":\"status\",\"tag\":\"*\",\"mailbox\":\"INBOX\",\"attrs\":[{\"name\":\"DELETED-"
     "STORAGE\",\"value\":5},{\"name\":\"SIZE\",\"value\":6}]}\n"},
    {C("* STATUS INBOX (HIGHESTMODSEQ x)\r\n"),
     "0 ERR 30 RFC 7162 7 mod-sequence-valzer: expected a number\n"},
    {C("* STATUS INBOX (APPENDLIMIT NIL APPENDLIMIT 10)\r\n"),
     "0+49 "
     "{\"type\":\"status\",\"tag\":\"*\",\"mailbox\":\"INBOX\",\"attrs\":[{\"name\":"
     "\"APPENDLIMIT\",\"value\":null},{\"name\":\"APPENDLIMIT\",\"value\":10}]}\n"},
    {C("* STATUS INBOX (APPENDLIMIT x)\r\n"),
     "0 ERR 28 RFC 7889 4 append-limit: expected a number\n"},
    {C("* STATUS INBOX (MAILBOXID (F123))\r\n"),
     "0+35 "
     "{\"type\":\"status\",\"tag\":\"*\",\"mailbox\":\"INBOX\",\"attrs\":[{\"name\":\"MAILBOXID\","
     "\"value\":[\"F123\"]}]}\n"},
    {C("* STATUS INBOX (MAILBOXID (F123)\r\n"),
     "0 ERR 32 RFC 9051 9 status-att-val: expected \")\"\n"},
    {C("* STATUS INBOX (FOO 1)\r\n"),
     "0 ERR 16 RFC 9051 9 status-att-val: unknown STATUS attribute\n"},
    {C("* STATUS INBOX (1 1)\r\n"),
     "0 ERR 16 RFC 9051 9 status-att-val: unknown STATUS attribute\n"},
    {C("* STATUS INBOX (MESSAGES 1\r\n"), "0 ERR 26 RFC 9051 9 status-att-val: expected \")\"\n"},
    {C("* SEARCH 1 2 (MODSEQ 5)\r\n"),
     "0+25 {\"type\":\"search\",\"tag\":\"*\",\"numbers\":[1,2],\"modseq\":5}\n"},
    {C("* SEARCH 1 (MODSEQ 5)\r\n"),
     "0+23 {\"type\":\"search\",\"tag\":\"*\",\"numbers\":[1],\"modseq\":5}\n"},
    {C("* SEARCH (FOO 5)\r\n"), "0 ERR 10 RFC 7162 7 search-sort-mod-seq: expected MODSEQ\n"},
    {C("* SEARCH (MODSEQ5)\r\n"), "0 ERR 10 RFC 7162 7 search-sort-mod-seq: expected MODSEQ\n"},
    {C("* SEARCH (MODSEQ 0)\r\n"),
     "0 ERR 17 RFC 7162 7 search-sort-mod-seq: expected a non-zero number (nz-number)\n"},
    {C("* SEARCH (MODSEQ 5\r\n"), "0 ERR 18 RFC 7162 7 search-sort-mod-seq: expected \")\"\n"},
    {C("* SEARCH ((MODSEQ 5)\r\n"), "0 ERR 10 RFC 7162 7 search-sort-mod-seq: expected an atom\n"},
    {C("* SEARCH 1 x\r\n"), "0 ERR 11 RFC 9051 9 mailbox-data: expected a number\n"},
    {C("* ESEARCH (TAG \"a1\") UID MIN 1 MAX 2 ALL 1:2 COUNT 0 MODSEQ 9 X (1)\r\n"),
     "0+69 "
     "{\"type\":\"esearch\",\"tag\":\"*\",\"correlator\":\"a1\",\"uid\":true,\"returns\":[{"
     "\"name\":\"MIN\",\"value\":1},{\"name\":\"MAX\",\"value\":2},{\"name\":\"ALL\",\"value\":\"1:"
     "2\"},{\"name\":\"COUNT\",\"value\":0},{\"name\":\"MODSEQ\",\"value\":9},{\"name\":\"X\","
     "\"value\":[1]}]}\n"},
    {C("* ESEARCH (TAG \"a1\"\r\n"), "0 ERR 19 RFC 9051 9 esearch-response: expected \")\"\n"},
    {C("* ESEARCH (FOO \"a1\")\r\n"), "0 ERR 11 RFC 9051 9 search-correlator: expected TAG\n"},
    {C("* ESEARCH (TAG\"a1\")\r\n"), "0 ERR 14 RFC 9051 9 SP: expected SP\n"},
    {C("* ESEARCH (TAG \")\r\n"), "0 ERR 17 RFC 9051 9 tag-string: CR or LF in a quoted string\n"},
    {C("* ESEARCH (1 2)\r\n"), "0 ERR 11 RFC 9051 9 search-correlator: expected TAG\n"},
    {C("* ESEARCH MIN\r\n"), "0 ERR 13 RFC 9051 9 SP: expected SP\n"},
    {C("* ESEARCH MIN x\r\n"), "0 ERR 14 RFC 9051 9 esearch-response: expected a number\n"},
    {C("* ESEARCH ALL x\r\n"), "0 ERR 14 RFC 9051 9 esearch-response: expected a number\n"},
    {C("* ESEARCH COUNT x\r\n"), "0 ERR 16 RFC 9051 9 esearch-response: expected a number\n"},
    {C("* ESEARCH MODSEQ 0\r\n"),
     "0 ERR 17 RFC 9051 9 esearch-response: expected a non-zero number (nz-number)\n"},
    {C("* ESEARCH MIN 1 UID\r\n"), "0 ERR 19 RFC 9051 9 SP: expected SP\n"},
    {C("* ESEARCH X (\r\n"),
     "0 ERR 13 RFC 9051 9 search-ret-data-ext: expected an astring (atom, quoted or literal)\n"},
    {C("* ESEARCH 1\r\n"), "0 ERR 11 RFC 9051 9 SP: expected SP\n"},
    {C("* ID NIL\r\n"), "0+10 {\"type\":\"id\",\"tag\":\"*\",\"params\":null}\n"},
    {C("* ID ()\r\n"), "0+9 {\"type\":\"id\",\"tag\":\"*\",\"params\":[]}\n"},
    {C("* ID (\"name\" \"x\" \"v\" NIL)\r\n"),
     "0+27 {\"type\":\"id\",\"tag\":\"*\",\"params\":[[\"name\",\"x\"],[\"v\",null]]}\n"},
    {C("* ID\r\n"), "0 ERR 4 RFC 9051 9 SP: expected SP\n"},
    {C("* IDx\r\n"), "0 ERR 2 RFC 9051 9 response: unknown untagged response\n"},
    {C("* ID x\r\n"), "0 ERR 5 RFC 2971 4 id-params-list: expected \"(\"\n"},
    {C("* ID (\"name\")\r\n"), "0 ERR 12 RFC 9051 9 SP: expected SP\n"},
    {C("* ID (\"name\" x)\r\n"), "0 ERR 13 RFC 2971 4 id-params-list: expected a string or NIL\n"},
    {C("* ID (x \"a\")\r\n"),
     "0 ERR 6 RFC 2971 4 id-params-list: expected a string (quoted or literal)\n"},
    {C("* ID (\"name\" \"x\"\r\n"), "0 ERR 16 RFC 2971 4 id-params-list: expected \")\"\n"},
    {C("* VANISHED 1:3\r\n"),
     "0+16 {\"type\":\"vanished\",\"tag\":\"*\",\"earlier\":false,\"uids\":\"1:3\"}\n"},
    {C("* VANISHED (EARLIER) 1:3\r\n"),
     "0+26 {\"type\":\"vanished\",\"tag\":\"*\",\"earlier\":true,\"uids\":\"1:3\"}\n"},
    {C("* VANISHED (EARLIER)1:3\r\n"), "0 ERR 20 RFC 9051 9 SP: expected SP\n"},
    {C("* VANISHED (LATER) 1:3\r\n"), "0 ERR 11 RFC 7162 7 expunged-resp: expected (EARLIER)\n"},
    {C("* VANISHED\r\n"), "0 ERR 10 RFC 9051 9 SP: expected SP\n"},
    {C("* VANISHED x\r\n"), "0 ERR 11 RFC 7162 7 known-uids: expected a number\n"},
    {C("*\r\n"), "0 ERR 1 RFC 9051 9 response: expected SP after \"*\"\n"},
    {C("*x\r\n"), "0 ERR 1 RFC 9051 9 response: expected SP after \"*\"\n"},
    {C("* \r\n"), "0 ERR 2 RFC 9051 9 response: expected a response keyword\n"},
    {C("* 1\r\n"), "0 ERR 3 RFC 9051 9 SP: expected SP\n"},
    {C("* 1x\r\n"), "0 ERR 3 RFC 9051 9 SP: expected SP\n"},
    {C("* 1 \r\n"), "0 ERR 4 RFC 9051 9 response: expected EXISTS, RECENT, EXPUNGE or FETCH\n"},
    {C("* 1 FOO\r\n"), "0 ERR 4 RFC 9051 9 response: expected EXISTS, RECENT, EXPUNGE or FETCH\n"},
    {C("* 1 EXISTS x\r\n"), "0 ERR 10 RFC 9051 9 CRLF: expected CRLF at the end of the response\n"},
    {C("* 1 FETCH\r\n"), "0 ERR 9 RFC 9051 9 SP: expected SP\n"},
    {C("* FOO\r\n"), "0 ERR 2 RFC 9051 9 response: unknown untagged response\n"},
    {C("* OK\r\n"), "0 ERR 4 RFC 9051 9 resp-text: expected SP before resp-text\n"},
    {C("* OKx\r\n"), "0 ERR 2 RFC 9051 9 response: unknown untagged response\n"},
    {C("* CAPABILITY\r\n"),
     "0 ERR 12 RFC 9051 9 capability-data: capability list without IMAP4rev1 or IMAP4rev2\n"},
    {C("* CAPABILITY x\r\n"),
     "0 ERR 12 RFC 9051 9 capability-data: capability list without IMAP4rev1 or IMAP4rev2\n"},
    {C("* FLAGS\r\n"), "0 ERR 7 RFC 9051 9 SP: expected SP\n"},
    {C("* FLAGS x\r\n"), "0 ERR 8 RFC 9051 9 flag-list: expected \"(\"\n"},
    {C("* LIST\r\n"), "0 ERR 6 RFC 9051 9 SP: expected SP\n"},
    {C("a1 FOO x\r\n"), "0 ERR 3 RFC 9051 9 resp-cond-state: expected OK, NO or BAD\n"},
    {C("a1 OK\r\n"), "0 ERR 5 RFC 9051 9 resp-text: expected SP before resp-text\n"},
    {C("a1\r\n"), "0 ERR 2 RFC 9051 9 response: expected SP after the tag\n"},
    {C("a1 OK [ x\r\n"), "0 ERR 7 RFC 9051 9 resp-text-code: expected an atom\n"},
    {C("a1 OK x \r\n"), "0+10 {\"type\":\"ok\",\"tag\":\"a1\",\"text\":\"x \"}\n"},
    {C("a1 OK x  \r\n"), "0+11 {\"type\":\"ok\",\"tag\":\"a1\",\"text\":\"x  \"}\n"},
    {C("* OK \001\r\n"), "0+8 {\"type\":\"ok\",\"tag\":\"*\",\"text\":\"\\u0001\"}\n"},
    {C("* OK a\nb\r\n"), "0 ERR 6 RFC 9051 4 CRLF: bare LF: lines end with CRLF\n"
                         "7 ERR 8 RFC 9051 9 response: expected SP after the tag\n"},
    {C("* OK a\000b\r\n"), "0 ERR 6 RFC 9051 9 resp-text: NUL in text\n"},
    {C("* OK a\303\251 \340\244\204 \360\220\200\200 \364\217\277\277\r\n"),
     "0+24 {\"type\":\"ok\",\"tag\":\"*\",\"text\":\"a\303\251 \340\244\204 \360\220\200\200 "
     "\364\217\277\277\"}\n"},
    {C("* OK \200\r\n"), "0 ERR 5 RFC 9051 9 resp-text: 8-bit byte in text that is not UTF-8\n"},
    {C("* OK \301\201\r\n"),
     "0 ERR 5 RFC 9051 9 resp-text: 8-bit byte in text that is not UTF-8\n"},
    {C("* OK \365\200\200\200\r\n"),
     "0 ERR 5 RFC 9051 9 resp-text: 8-bit byte in text that is not UTF-8\n"},
    {C("* OK \340\200\200\r\n"),
     "0 ERR 5 RFC 9051 9 resp-text: 8-bit byte in text that is not UTF-8\n"},
    {C("* OK \355\240\200\r\n"),
     "0 ERR 5 RFC 9051 9 resp-text: 8-bit byte in text that is not UTF-8\n"},
    {C("* OK \360\200\200\200\r\n"),
     "0 ERR 5 RFC 9051 9 resp-text: 8-bit byte in text that is not UTF-8\n"},
    {C("* OK \364\220\200\200\r\n"),
     "0 ERR 5 RFC 9051 9 resp-text: 8-bit byte in text that is not UTF-8\n"},
    {C("* OK \342\202x\r\n"),
     "0 ERR 5 RFC 9051 9 resp-text: 8-bit byte in text that is not UTF-8\n"},
    {C("* OK \360\220\200x\r\n"),
     "0 ERR 5 RFC 9051 9 resp-text: 8-bit byte in text that is not UTF-8\n"},
    {C("* OK \303\r\n"), "0 ERR 5 RFC 9051 9 resp-text: 8-bit byte in text that is not UTF-8\n"},
    {C("* OK \360\220\r\n"),
     "0 ERR 5 RFC 9051 9 resp-text: 8-bit byte in text that is not UTF-8\n"},
    {C("* 1 FETCH (BODY[] \"a\303\251 \340\244\204 \360\220\200\200 \\\\ \\\" "
       "\364\217\277\277\")\r\n"),
     "0+46 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":[{\"name\":\"BODY[]\",\"value\":"
     "\"a\303\251 \340\244\204 \360\220\200\200 \\\\ \\\" "
     "\364\217\277\277\",\"section\":\"\"}]}\n"},
    {C("* 1 FETCH (BODY[] \"\200\")\r\n"),
     "0 ERR 19 RFC 9051 9 quoted: 8-bit byte in a quoted string that is not UTF-8\n"},
    {C("* 1 FETCH (BODY[] \"\360\220\200x\")\r\n"),
     "0 ERR 19 RFC 9051 9 quoted: 8-bit byte in a quoted string that is not UTF-8\n"},
    {C("* 1 FETCH (BODY[] \"\355\240\200\")\r\n"),
     "0 ERR 19 RFC 9051 9 quoted: 8-bit byte in a quoted string that is not UTF-8\n"},
    {C("* 1 FETCH (BODY[] \"\364\220\200\200\")\r\n"),
     "0 ERR 19 RFC 9051 9 quoted: 8-bit byte in a quoted string that is not UTF-8\n"},
    {C("* 1 FETCH (BODY[] \"\\a\")\r\n"),
     "0 ERR 19 RFC 9051 9 quoted: only \\\" and \\\\ may be escaped in a quoted string\n"},
    {C("* 1 FETCH (BODY[] \"a\\\")\r\n"),
     "0 ERR 23 RFC 9051 9 nstring: CR or LF in a quoted string\n"},
    {C("* 1 FETCH (BODY[] \"a\000\")\r\n"), "0 ERR 20 RFC 9051 9 quoted: NUL in a quoted string\n"},
    {C("* 1 FETCH (BODY[] \"a\nb\")\r\n"),
     "0 ERR 20 RFC 9051 4 CRLF: bare LF: lines end with CRLF\n"
     "21 ERR 22 RFC 9051 9 response: expected SP after the tag\n"},
    {C("* 1 FETCH (BODY[] \"a)\r\n"), "0 ERR 21 RFC 9051 9 nstring: CR or LF in a quoted string\n"},
    {C("* 1 FETCH (BODY[] {x}\r\nabc)\r\n"),
     "0 ERR 19 RFC 9051 9 literal: expected a number\n"
     "23 ERR 26 RFC 9051 9 response: expected SP after the tag\n"},
    {C("* 1 FETCH (BODY[] {3x\r\nabc)\r\n"),
     "0 ERR 20 RFC 9051 9 literal: expected \"}\" after the literal size\n"
     "23 ERR 26 RFC 9051 9 response: expected SP after the tag\n"},
    {C("* 1 FETCH (BODY[] {3}x\r\nabc)\r\n"),
     "0 ERR 21 RFC 9051 9 literal: expected CRLF after a literal's \"{n}\"\n"
     "24 ERR 27 RFC 9051 9 response: expected SP after the tag\n"},
    {C("* 1 FETCH (BODY[] {3}\r\na\000c)\r\n"), "0 ERR 24 RFC 9051 9 literal: NUL in a literal "
                                                "(CHAR8 excludes it; only literal8 may hold it)\n"},
    {C("* 1 FETCH (BODY[] {99999999999}\r\nabc)\r\n"),
     "0 ERR 19 RFC 9051 9 literal: literal size above 4294967295 (32-bit number)\n"
     "33 ERR 36 RFC 9051 9 response: expected SP after the tag\n"},
    {C("* 1 FETCH (BINARY[] ~{3}\r\na\000c)\r\n"),
     "0+32 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":[{\"name\":\"BINARY[]\",\"value\":"
     "\"a\\u0000c\",\"section\":\"\"}]}\n"},
    {C("* 1 FETCH (BINARY[] ~{3x\r\nabc)\r\n"),
     "0 ERR 23 RFC 9051 9 literal: expected \"}\" after the literal size\n"
     "26 ERR 29 RFC 9051 9 response: expected SP after the tag\n"},
    {C("* 1 FETCH (BODY[] ~{3}\r\nabc)\r\n"),
     "0 ERR 18 RFC 9051 9 nstring: expected a string or NIL\n"},
    {C("* 1 FETCH (RFC822.SIZE 99999999999)\r\n"),
     "0+37 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":[{\"name\":\"RFC822.SIZE\",\"value\":"
     "99999999999}]}\n"},
    {C("* 1 FETCH (MODSEQ (99999999999999999999))\r\n"),
     "0 ERR 19 RFC 7162 7 permsg-modsequence: number out of range\n"},
    {C("* 1 FETCH (MODSEQ (9223372036854775808))\r\n"),
     "0 ERR 19 RFC 7162 7 permsg-modsequence: number out of range\n"},
    {C("* 1 FETCH (MODSEQ (9223372036854775807))\r\n"),
     "0+42 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":[{\"name\":\"MODSEQ\",\"value\":["
     "9223372036854775807]}]}\n"},
    {C("* 1 FETCH (UID 4294967296)\r\n"), "0 ERR 15 RFC 9051 9 uniqueid: number out of range\n"},
    {C("* 1 FETCH (UID 4294967295)\r\n"), "0+28 "
                                          "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":[{"
                                          "\"name\":\"UID\",\"value\":4294967295}]}\n"},
    {C("* OK \360\r\n"), "0 ERR 5 RFC 9051 9 resp-text: 8-bit byte in text that is not UTF-8\n"},
    {C("* OK \340\240\r\n"),
     "0 ERR 5 RFC 9051 9 resp-text: 8-bit byte in text that is not UTF-8\n"},
    {C("* OK \342\202\300\r\n"),
     "0 ERR 5 RFC 9051 9 resp-text: 8-bit byte in text that is not UTF-8\n"},
    {C("* 1 FETCH (BINARY[1] ~3)\r\n"),
     "0 ERR 21 RFC 3516 4.2 literal8: expected a string (quoted or literal)\n"},
    {C("* ESEARCH X (1,2) Y (12ab) Z 3:*\r\n"),
     "0+34 "
     "{\"type\":\"esearch\",\"tag\":\"*\",\"uid\":false,\"returns\":[{\"name\":\"X\",\"value\":["
     "\"1,2\"]},{\"name\":\"Y\",\"value\":[\"12ab\"]},{\"name\":\"Z\",\"value\":\"3:*\"}]}\n"},
    {C("* ESEARCH MIN 1 UID 5\r\n"),
     "0 ERR 16 RFC 9051 9 esearch-response: UID must come first, once\n"},
    {C("* LIST () \"\303\251\" INBOX\r\n"), "0+22 "
                                            "{\"type\":\"list\",\"tag\":\"*\",\"flags\":[],"
                                            "\"delimiter\":\"\303\251\",\"mailbox\":\"INBOX\"}\n"},
    {C("* LIST () \"\303\251x\" INBOX\r\n"),
     "0 ERR 10 RFC 9051 9 mailbox-list: hierarchy delimiter must be exactly one character "
     "(QUOTED-CHAR)\n"},
    {C("* LIST () \"\303\" INBOX\r\n"),
     "0 ERR 11 RFC 9051 9 quoted: 8-bit byte in a quoted string that is not UTF-8\n"},
    {C("* 1 FETCH (BODY[1.FOO] NIL)\r\n"),
     "0 ERR 18 RFC 9051 9 section: expected HEADER, HEADER.FIELDS, TEXT or MIME\n"},
    {C("* 1 FETCH (RFCXXX 1)\r\n"), "0 ERR 11 RFC 9051 9 msg-att: unknown FETCH attribute\n"},
    {C("* 1 FETCH (MXXXXX 1)\r\n"), "0 ERR 11 RFC 9051 9 msg-att: unknown FETCH attribute\n"},
    {C("* 1 FETCH (BXXXXX 1)\r\n"), "0 ERR 11 RFC 9051 9 msg-att: unknown FETCH attribute\n"},
    {C("* 1 FETCH (PXXXXXX 1)\r\n"), "0 ERR 11 RFC 9051 9 msg-att: unknown FETCH attribute\n"},
    {C("* 1 FETCH (EXXXXXXX 1)\r\n"), "0 ERR 11 RFC 9051 9 msg-att: unknown FETCH attribute\n"},
    {C("* 1 FETCH (TXXXXXXX 1)\r\n"), "0 ERR 11 RFC 9051 9 msg-att: unknown FETCH attribute\n"},
    {C("* 1 FETCH (SXXXXXXX 1)\r\n"), "0 ERR 11 RFC 9051 9 msg-att: unknown FETCH attribute\n"},
    {C("* 1 FETCH (EXXXXXX 1)\r\n"), "0 ERR 11 RFC 9051 9 msg-att: unknown FETCH attribute\n"},
    {C("* 1 FETCH (UIX 1)\r\n"), "0 ERR 11 RFC 9051 9 msg-att: unknown FETCH attribute\n"},
    {C("* 1 FETCH (BODX 1)\r\n"), "0 ERR 11 RFC 9051 9 msg-att: unknown FETCH attribute\n"},
    {C("* 1 FETCH (FLAGX 1)\r\n"), "0 ERR 11 RFC 9051 9 msg-att: unknown FETCH attribute\n"},
    {C("* 1 FETCH (INTERNALDATX 1)\r\n"), "0 ERR 11 RFC 9051 9 msg-att: unknown FETCH attribute\n"},
};

static void test_response_errors(void **st)
{
    (void)st;
    assert_int_equal(
        run_cases(&ms_imap_replies_kind, resp_cases, sizeof(resp_cases) / sizeof(resp_cases[0])),
        0);
}

/* Valid responses that, between them, make a node at every place the parser makes one. */
static const char *const rich[] = {
    ("* 12 FETCH (FLAGS (\\Seen $X) UID 7 MODSEQ (9) EMAILID (M1) THREADID (T-1) "
     "INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" SAVEDATE NIL RFC822.SIZE 44 "
     "ENVELOPE (\"d\" \"s\" ((\"n\" NIL \"m\" \"h\")(NIL NIL \"a\" \"b\")) NIL NIL "
     "((NIL NIL \"t\" \"h\")) NIL NIL \"<r>\" \"<i>\") PREVIEW \"p\" THREADID NIL "
     "BODY[HEADER.FIELDS (A B)]<0> {2}\r\nab BINARY[1] ~{1}\r\nx BINARY.SIZE[1] 1 "
     "BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<id>\" \"d\" \"7bit\" 3 1 "
     "\"md5\" (\"inline\" (\"filename\" \"a\")) (\"en\" \"de\") \"loc\" 1 (2 (NIL \"x\")))"
     "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 9 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
     "(\"a\" \"b\" NIL NIL NIL \"base64\" 4) 2 NIL NIL \"fr\" NIL) "
     "\"mixed\" (\"boundary\" \"x\") (\"attachment\" NIL) NIL \"l\" 5))\r\n"),
    "* OK [BADCHARSET (UTF-8 \"X\")] a\r\n",
    "* OK [PERMANENTFLAGS (\\Seen \\*)] a\r\n",
    "* OK [CAPABILITY IMAP4rev1 IDLE] a\r\n",
    "a1 OK [APPENDUID 1 2:3] a\r\n",
    "a1 OK [COPYUID 1 1:2 3,4] a\r\n",
    "* OK [HIGHESTMODSEQ 9] a\r\n",
    "a1 OK [MODIFIED 1:*] a\r\n",
    "* NO [XFOO bar baz] a\r\n",
    "* FLAGS (\\Seen \\Draft)\r\n",
    "* ENABLED CONDSTORE\r\n",
    "* LIST (\\Noselect \\HasChildren) \"/\" \"A\" (CHILDINFO (\"SUBSCRIBED\") X (1 2:3 NIL))\r\n",
    "* LIST () NIL INBOX\r\n",
    "* NAMESPACE ((\"\" \"/\" \"X\" (\"a\" \"b\"))(\"p\" NIL)) NIL ((\"#s\" \"\\\\\"))\r\n",
    ("* STATUS INBOX (MESSAGES 1 UIDNEXT 2 SIZE 3 HIGHESTMODSEQ 4 APPENDLIMIT NIL "
     "APPENDLIMIT 5 MAILBOXID (F1))\r\n"),
    "* SEARCH 1 2 (MODSEQ 5)\r\n",
    "* ESEARCH (TAG \"a1\") UID MIN 1 ALL 1:2 COUNT 0 MODSEQ 9 X (1 (2))\r\n",
    "* ID (\"name\" \"x\" \"v\" NIL)\r\n",
    "* ID NIL\r\n",
    "* VANISHED (EARLIER) 1:3\r\n",
    "* 3 EXISTS\r\n",
    "* 1 FETCH (BODY (\"a\" \"b\" NIL NIL NIL \"7bit\" 1 NIL NIL NIL NIL (1 (2))))\r\n",
    "* 1 FETCH (BODY (\"a\" \"b\" NIL NIL NIL \"7bit\" 1 NIL NIL (\"en\") NIL))\r\n",
};

/* The offset of the single error line of a rendering ("<off> ERR <offset> ..."). */
static size_t err_offset(const char *r)
{
    const char *e = strstr(r, " ERR ");
    size_t v = 0;
    assert_non_null(e);
    for (e += 5; *e >= '0' && *e <= '9'; e++)
        v = v * 10 + (size_t)(*e - '0');
    return v;
}

/*
 * imap_items at every value below what a response needs: the parse fails with
 * the limit's error, exactly once, at an offset that never moves backwards as
 * the limit grows; at the needed value it succeeds. This reaches the arena
 * check of every node the parser makes for these responses.
 */
static void test_items_sweep(void **st)
{
    (void)st;
    for (size_t k = 0; k < sizeof(rich) / sizeof(rich[0]); k++) {
        struct ms_limits lim;
        ms_limits_default(&lim);
        size_t last = 0, n;
        for (n = 0; n < 400; n++) {
            lim.imap_items = n;
            const char *r = ms_check(&ms_imap_replies_kind, &lim, rich[k], strlen(rich[k]));
            if (ms_last_errors == 0)
                break;
            assert_int_equal(ms_last_errors, 1);
            assert_int_equal(ms_last_messages, 0);
            ms_assert_has(r, " ERR ");
            ms_assert_has(r, "mailspec imap_items: more items in the response than the limit");
            size_t off = err_offset(r);
            assert_true(off >= last);
            last = off;
        }
        assert_true(n < 400);
        assert_int_equal(ms_last_messages, 1);
    }
}

/* The same for imap_depth: every "(" the parser opens checks the nesting limit. */
static void test_depth_sweep(void **st)
{
    (void)st;
    for (size_t k = 0; k < sizeof(rich) / sizeof(rich[0]); k++) {
        struct ms_limits lim;
        ms_limits_default(&lim);
        unsigned d;
        for (d = 0; d < 16; d++) {
            lim.imap_depth = d;
            const char *r = ms_check(&ms_imap_replies_kind, &lim, rich[k], strlen(rich[k]));
            if (ms_last_errors == 0)
                break;
            assert_int_equal(ms_last_errors, 1);
            ms_assert_has(r, "mailspec imap_depth: parentheses nested deeper than the limit");
            /* the error names the "(" that went one level too deep */
            assert_int_equal(rich[k][err_offset(r)], '(');
        }
        assert_true(d < 16);
        assert_int_equal(ms_last_messages, 1);
    }
}

/*
 * Each response cut short after every byte (and ended with CRLF there) is one
 * error, never a message, and the error is never past the cut (plus the CRLF a
 * literal may swallow): every "expected ..." on the way is reached.
 */
static void test_cut_sweep(void **st)
{
    (void)st;
    for (size_t k = 0; k < sizeof(rich) / sizeof(rich[0]); k++) {
        size_t len = strlen(rich[k]);
        char *buf = malloc(len + 2);
        assert_non_null(buf);
        for (size_t i = 1; i + 2 < len; i++) {
            memcpy(buf, rich[k], i);
            memcpy(buf + i, "\r\n", 2);
            struct ms_limits lim;
            ms_limits_default(&lim);
            const char *r = ms_check(&ms_imap_replies_kind, &lim, buf, i + 2);
            if (ms_last_errors == 0)
                continue; /* a complete shorter response ("* SEARCH 1") */
            assert_int_equal(ms_last_messages, 0);
            assert_true(err_offset(r) <= i + 2);
        }
        free(buf);
    }
}

/* Valid commands that, between them, make a node at every place the command parser makes one. */
static const char *const rich_cmds[] = {
    "a ENABLE CONDSTORE UTF8=ACCEPT\r\n",
    "a CREATE MySpecial (USE (\\Drafts \\Sent))\r\n",
    "a SELECT INBOX (CONDSTORE)\r\n",
    "a SELECT INBOX (QRESYNC (1 2 1:9 (1:2 3:4)))\r\n",
    "a STATUS blurdybloop (UIDNEXT MESSAGES HIGHESTMODSEQ)\r\n",
    "a LIST (SPECIAL-USE REMOTE) \"\" (* %) RETURN (SUBSCRIBED CHILDREN STATUS (MESSAGES))\r\n",
    "a UID STORE 2:4 (UNCHANGEDSINCE 5) -FLAGS.SILENT (\\Seen $Junk)\r\n",
    ("a SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR (SEEN) NOT DELETED MODSEQ \"/flags/\\\\seen\" "
     "all 5 UID 1:* HEADER Subject \"x\" SINCE 1-Feb-1994\r\n"),
    "a UID SORT (REVERSE DATE SUBJECT) UTF-8 ALL\r\n",
    "a FETCH 2:4 (FLAGS BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.5> BINARY[1]) (CHANGEDSINCE 5)\r\n",
    "a UID FETCH 1 FULL (CHANGEDSINCE 5 VANISHED)\r\n",
    "a ID (\"name\" \"sodr\" \"version\" NIL)\r\n",
    "a APPEND saved (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {5}\r\nhello\r\n",
    "a SETQUOTA x (STORAGE 10)\r\n",
};

/* imap_items below what a command needs: the limit's error, once, never moving backwards. */
static void test_cmd_items_sweep(void **st)
{
    (void)st;
    for (size_t k = 0; k < sizeof(rich_cmds) / sizeof(rich_cmds[0]); k++) {
        struct ms_limits lim;
        ms_limits_default(&lim);
        const char *r = ms_check(&ms_imap_commands_kind, &lim, rich_cmds[k], strlen(rich_cmds[k]));
        if (ms_last_errors != 0)
            fail_msg("command %zu: %s", k, r);
        size_t last = 0, n;
        for (n = 0; n < 400; n++) {
            lim.imap_items = n;
            r = ms_check(&ms_imap_commands_kind, &lim, rich_cmds[k], strlen(rich_cmds[k]));
            if (ms_last_errors == 0)
                break;
            assert_int_equal(ms_last_errors, 1);
            assert_int_equal(ms_last_messages, 0);
            ms_assert_has(r, "imap_items");
            size_t off = err_offset(r);
            assert_true(off >= last);
            last = off;
        }
        assert_true(n < 400);
        assert_int_equal(ms_last_messages, 1);
    }
}

/* IMAP command errors the command tests do not reach. */
static const struct ccase cmd_cases[] = {
    {C("a SEARCH SINCE \"1-Feb-1994 ALL\r\n"),
     "0 ERR 26 RFC 9051 9 date: expected DQUOTE after the date\n"},
    {C("a SEARCH SINCE x\r\n"), "0 ERR 15 RFC 9051 9 date: expected a date (d-Mon-yyyy)\n"},
    {C("a SEARCH MODSEQ \"/flags/x\"5\r\n"),
     "0 ERR 26 RFC 7162 7 search-modseq-ext: expected SP\n"},
    /* charset = atom / quoted: no literal */
    {C("a SEARCH CHARSET {5}\r\nUTF-8 ALL\r\n"),
     "0 ERR 17 RFC 9051 9 charset: expected a charset (atom / quoted)\n"},
    {C("a FETCH 1 BODY[]<x>\r\n"), "0 ERR 17 RFC 9051 9 partial: expected a number\n"},
};

static void test_command_errors(void **st)
{
    (void)st;
    assert_int_equal(
        run_cases(&ms_imap_commands_kind, cmd_cases, sizeof(cmd_cases) / sizeof(cmd_cases[0])), 0);
}

/* RFC 2971 3.3 bounds of ID, LIST RETURN (), and STATUS items without SP. */
static void test_command_bounds(void **st)
{
    char buf[2048];
    size_t k;
    (void)st;
    /* 30 pairs are allowed, the 31st is refused where it starts */
    k = (size_t)snprintf(buf, sizeof(buf), "a ID (");
    for (int i = 0; i < 31; i++)
        k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%s\"f%d\" NIL", i ? " " : "", i);
    memcpy(buf + k, ")\r\n", 4);
    assert_string_equal(ms_check_str(&ms_imap_commands_kind, 0, buf),
                        "0 ERR 296 RFC 2971 3.3 id: more than 30 field-value pairs\n");
    /* a value of 1024 octets is allowed, 1025 is refused at its DQUOTE */
    for (size_t len = 1024; len <= 1025; len++) {
        k = (size_t)snprintf(buf, sizeof(buf), "a ID (\"f\" \"");
        memset(buf + k, 'v', len);
        k += len;
        memcpy(buf + k, "\")\r\n", 5);
        const char *r = ms_check_str(&ms_imap_commands_kind, 0, buf);
        if (len == 1024)
            assert_int_equal(ms_last_errors, 0);
        else
            assert_string_equal(r, "0 ERR 10 RFC 2971 3.3 id: value longer than 1024 octets\n");
    }
    ms_assert_has(ms_check_str(&ms_imap_commands_kind, 0, "a LIST \"\" % RETURN ()\r\n"),
                  "\"command\":\"LIST\"");
    assert_int_equal(ms_last_errors, 0);
    assert_string_equal(ms_check_str(&ms_imap_commands_kind, 0, "a STATUS x (MESSAGES\r\n"),
                        "0 ERR 20 RFC 9051 9 status: expected SP or \")\"\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_response_errors), cmocka_unit_test(test_items_sweep),
        cmocka_unit_test(test_depth_sweep),     cmocka_unit_test(test_cut_sweep),
        cmocka_unit_test(test_cmd_items_sweep), cmocka_unit_test(test_command_errors),
        cmocka_unit_test(test_command_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
