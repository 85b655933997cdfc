/*
 * Deterministic generators of realistic SMTP, POP3 and IMAP streams.
 *
 * The shapes follow what Postfix and Dovecot send and what busy clients send
 * to them: multi-line EHLO replies with enhanced status codes, dot-stuffed
 * DATA, POP3 LIST/UIDL listings of large mailboxes, IMAP ENVELOPE with
 * groups, escaped quotes, NIL and the occasional literal, BODYSTRUCTURE with
 * nested message/rfc822 and extension data.
 */
#include "gen.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffer ---- */

void bbuf_free(struct bbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static void reserve(struct bbuf *b, size_t n)
{
    if (b->len + n <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->len + n)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        fprintf(stderr, "bench: out of memory generating inputs\n");
        exit(2);
    }
    b->p = p;
    b->cap = cap;
}

static void put(struct bbuf *b, const void *p, size_t n)
{
    reserve(b, n);
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void puts_(struct bbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void putf(struct bbuf *b, const char *fmt, ...)
{
    va_list ap;
    char tmp[1024];

    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        fprintf(stderr, "bench: generator line too long\n");
        exit(2);
    }
    put(b, tmp, (size_t)n);
}

/* ---- PRNG: splitmix64, fixed seeds, so every run sees the same bytes ---- */

struct rng {
    uint64_t s;
};

static uint64_t next(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint32_t below(struct rng *r, uint32_t n)
{
    return (uint32_t)(((next(r) >> 32) * (uint64_t)n) >> 32);
}

static uint32_t range(struct rng *r, uint32_t lo, uint32_t hi)
{
    return lo + below(r, hi - lo + 1);
}

static int chance(struct rng *r, unsigned percent)
{
    return below(r, 100) < percent;
}

#define PICK(r, arr) ((arr)[below((r), (uint32_t)(sizeof(arr) / sizeof((arr)[0])))])

static const char *const first_names[] = {
    "John",  "Maria",  "Wei",    "Fatima", "Olivier", "Sven",  "Aiko", "Carlos",
    "Priya", "Dmitri", "Amelia", "Kwame",  "Lena",    "Marco", "Noor", "Tomasz",
};
static const char *const last_names[] = {
    "Smith", "Garcia", "Chen",  "Haddad", "Dubois", "Larsson", "Tanaka", "Silva",
    "Patel", "Ivanov", "Brown", "Mensah", "Becker", "Rossi",   "Khan",   "Nowak",
};
static const char *const domains[] = {
    "example.com",      "example.org",   "mail.example.net",    "lists.example.org",
    "corp.example.com", "example.co.uk", "student.example.edu", "newsletter.example.com",
};
static const char *const words[] = {
    "the",     "quarterly", "report",  "meeting",   "budget",   "review",  "update",
    "project", "deadline",  "invoice", "attached",  "please",   "thanks",  "schedule",
    "release", "notes",     "server",  "migration", "team",     "lunch",   "friday",
    "status",  "customer",  "ticket",  "draft",     "proposal", "summary", "call",
    "agenda",  "minutes",   "travel",  "approval",  "contract", "renewal", "weekly",
};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const wdays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const zones[] = {"+0000", "+0100", "+0200", "-0500", "-0800", "+0530", "+0900"};

/* A mailbox "first.last" or "flast" into buf. */
static void local_part(struct rng *r, char *buf, size_t cap)
{
    const char *f = PICK(r, first_names), *l = PICK(r, last_names);
    switch (below(r, 3)) {
    case 0:
        snprintf(buf, cap, "%s.%s", f, l);
        break;
    case 1:
        snprintf(buf, cap, "%c%s%u", f[0], l, below(r, 100));
        break;
    default:
        snprintf(buf, cap, "%s", f);
        break;
    }
    for (char *p = buf; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p | 0x20);
}

static void rfc5322_date(struct rng *r, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s, %u %s %u %02u:%02u:%02u %s", PICK(r, wdays), range(r, 1, 28),
             PICK(r, months), range(r, 2019, 2025), below(r, 24), below(r, 60), below(r, 60),
             PICK(r, zones));
}

/* A subject: a few words, sometimes "Re: " and sometimes a quoted phrase. */
static void subject(struct rng *r, char *buf, size_t cap)
{
    size_t n = 0;
    unsigned k = range(r, 2, 9);
    buf[0] = '\0';
    if (chance(r, 30))
        n += (size_t)snprintf(buf + n, cap - n, "Re: ");
    for (unsigned i = 0; i < k && n + 40 < cap; i++) {
        const char *w = PICK(r, words);
        if (i == 2 && chance(r, 15))
            n += (size_t)snprintf(buf + n, cap - n, "\"%s\" ", w); /* needs escaping */
        else if (i == 3 && chance(r, 5))
            n += (size_t)snprintf(buf + n, cap - n, "C:\\%s ", w); /* backslash */
        else
            n += (size_t)snprintf(buf + n, cap - n, "%s ", w);
    }
    if (n > 0)
        buf[n - 1] = '\0';
}

/* ---- message content (SMTP DATA, POP3 RETR, IMAP literals) ---- */

/*
 * Append a message of about size bytes: header then text lines. With
 * stuff != 0, lines starting with "." get another "." (RFC 5321 4.5.2,
 * RFC 1939 3); some lines start with "." on purpose.
 */
static void message(struct rng *r, struct bbuf *b, size_t size, int stuff)
{
    char lp[64], lp2[64], date[64], subj[256];
    size_t start = b->len;

    local_part(r, lp, sizeof(lp));
    local_part(r, lp2, sizeof(lp2));
    rfc5322_date(r, date, sizeof(date));
    subject(r, subj, sizeof(subj));
    putf(b,
         "Received: from mail-%u.%s (mail-%u.%s [192.0.2.%u])\r\n"
         "\tby mx.example.com (Postfix) with ESMTPS id 4Vf%06X\r\n"
         "\tfor <%s@example.com>; %s\r\n",
         below(r, 1000), PICK(r, domains), below(r, 1000), PICK(r, domains), below(r, 255),
         below(r, 0xffffff), lp2, date);
    putf(b, "From: %s <%s@%s>\r\nTo: <%s@example.com>\r\n", PICK(r, first_names), lp,
         PICK(r, domains), lp2);
    putf(b, "Subject: %s\r\nDate: %s\r\nMessage-ID: <%016llx@%s>\r\n", subj, date,
         (unsigned long long)next(r), PICK(r, domains));
    puts_(b, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
             "Content-Transfer-Encoding: 8bit\r\n\r\n");
    while (b->len - start < size) {
        char line[200];
        size_t n = 0;
        unsigned target = range(r, 0, 76);
        if (chance(r, 3))
            line[n++] = '.';
        while (n < target) {
            const char *w = PICK(r, words);
            size_t wl = strlen(w);
            if (n + wl + 1 >= sizeof(line) - 4)
                break;
            memcpy(line + n, w, wl);
            n += wl;
            line[n++] = ' ';
        }
        if (n > 0 && line[n - 1] == ' ')
            n--;
        if (stuff && n > 0 && line[0] == '.')
            put(b, ".", 1);
        put(b, line, n);
        put(b, "\r\n", 2);
    }
}

/* ---- IMAP strings ---- */

/* An IMAP quoted string (RFC 9051 quoted: "\" and DQUOTE escaped). */
static void imap_quoted(struct bbuf *b, const char *s)
{
    put(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            put(b, "\\", 1);
        put(b, s, 1);
    }
    put(b, "\"", 1);
}

/* A literal, as Dovecot sends strings it cannot quote (8-bit, CR, LF). */
static void imap_literal(struct bbuf *b, const char *s)
{
    putf(b, "{%zu}\r\n", strlen(s));
    puts_(b, s);
}

static void imap_address(struct rng *r, struct bbuf *b)
{
    char lp[64];
    local_part(r, lp, sizeof(lp));
    put(b, "(", 1);
    switch (below(r, 4)) {
    case 0:
        puts_(b, "NIL");
        break;
    case 1: {
        char name[128];
        /* "Smith, John" needs quotes inside the display name. */
        snprintf(name, sizeof(name), "\"%s, %s\"", PICK(r, last_names), PICK(r, first_names));
        imap_quoted(b, name);
        break;
    }
    case 2:
        puts_(b, "\"=?utf-8?q?J=C3=BCrgen_M=C3=BCller?=\"");
        break;
    default: {
        char name[128];
        snprintf(name, sizeof(name), "%s %s", PICK(r, first_names), PICK(r, last_names));
        imap_quoted(b, name);
        break;
    }
    }
    puts_(b, " NIL ");
    imap_quoted(b, lp);
    put(b, " ", 1);
    imap_quoted(b, PICK(r, domains));
    put(b, ")", 1);
}

/* RFC 9051 env-to etc.: "(" 1*address ")" / nil, groups as RFC 9051 7.5.2. */
static void imap_addr_list(struct rng *r, struct bbuf *b, unsigned max, unsigned group_pct)
{
    unsigned n = range(r, 1, max);
    put(b, "(", 1);
    if (chance(r, group_pct)) {
        /* group: start (NIL NIL "name" NIL), members, end (NIL NIL NIL NIL) */
        puts_(b, "(NIL NIL \"project-team\" NIL)");
        for (unsigned i = 0; i < n; i++)
            imap_address(r, b);
        puts_(b, "(NIL NIL NIL NIL)");
        if (chance(r, 50))
            imap_address(r, b);
    } else {
        for (unsigned i = 0; i < n; i++)
            imap_address(r, b);
    }
    put(b, ")", 1);
}

static void imap_envelope(struct rng *r, struct bbuf *b)
{
    char date[64], subj[256];
    struct bbuf from = {0};

    rfc5322_date(r, date, sizeof(date));
    subject(r, subj, sizeof(subj));
    put(b, "(", 1);
    imap_quoted(b, date);
    put(b, " ", 1);
    switch (below(r, 20)) {
    case 0:
        imap_literal(b, "Gr\xc3\xbc\xc3\x9f"
                        "e aus K\xc3\xb6ln \xe2\x80\x94 Besprechung");
        break;
    case 1:
        puts_(b, "NIL");
        break;
    default:
        imap_quoted(b, subj);
        break;
    }
    put(b, " ", 1);
    /* Dovecot repeats From as Sender and Reply-To when they are absent. */
    imap_addr_list(r, &from, 1, 0);
    put(b, from.p, from.len);
    put(b, " ", 1);
    put(b, from.p, from.len);
    put(b, " ", 1);
    if (chance(r, 20))
        imap_addr_list(r, b, 1, 0);
    else
        put(b, from.p, from.len);
    bbuf_free(&from);
    put(b, " ", 1);
    imap_addr_list(r, b, 4, 8); /* to */
    put(b, " ", 1);
    if (chance(r, 40))
        imap_addr_list(r, b, 3, 5); /* cc */
    else
        puts_(b, "NIL");
    puts_(b, " NIL "); /* bcc */
    if (chance(r, 40))
        putf(b, "\"<%016llx@%s>\"", (unsigned long long)next(r), PICK(r, domains));
    else
        puts_(b, "NIL");
    putf(b, " \"<%016llx.%u@%s>\")", (unsigned long long)next(r), below(r, 100000),
         PICK(r, domains));
}

/* body-ext-1part after md5: dsp, lang, loc (RFC 9051 7.5.2 BODYSTRUCTURE). */
static void imap_ext_1part(struct rng *r, struct bbuf *b, const char *filename)
{
    puts_(b, " NIL "); /* md5 */
    if (filename)
        putf(b, "(\"attachment\" (\"filename\" \"%s\" \"size\" \"%u\"))", filename,
             range(r, 1000, 900000));
    else if (chance(r, 20))
        puts_(b, "(\"inline\" NIL)");
    else
        puts_(b, "NIL");
    switch (below(r, 6)) {
    case 0:
        puts_(b, " \"en\"");
        break;
    case 1:
        puts_(b, " (\"en\" \"de\")");
        break;
    default:
        puts_(b, " NIL");
        break;
    }
    if (chance(r, 5))
        puts_(b, " \"http://www.example.com/docs/\"");
    else
        puts_(b, " NIL");
}

static void imap_text_part(struct rng *r, struct bbuf *b, const char *subtype)
{
    unsigned size = range(r, 100, 40000);
    putf(b, "(\"text\" \"%s\" (\"charset\" \"%s\"%s) NIL NIL \"%s\" %u %u", subtype,
         chance(r, 70) ? "utf-8" : "iso-8859-1", chance(r, 20) ? " \"format\" \"flowed\"" : "",
         chance(r, 50) ? "quoted-printable" : "7bit", size, size / 60 + 1);
    imap_ext_1part(r, b, NULL);
    put(b, ")", 1);
}

static void imap_basic_part(struct rng *r, struct bbuf *b)
{
    static const char *const types[][3] = {
        {"application", "pdf", "report.pdf"},
        {"image", "png", "chart.png"},
        {"application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet", "budget.xlsx"},
        {"application", "zip", "logs.zip"},
    };
    unsigned t = below(r, 4);
    putf(b, "(\"%s\" \"%s\" (\"name\" \"%s\") ", types[t][0], types[t][1], types[t][2]);
    if (t == 1)
        putf(b, "\"<part%u.%016llx@example.com>\"", below(r, 10), (unsigned long long)next(r));
    else
        puts_(b, "NIL");
    putf(b, " %s \"base64\" %u", chance(r, 20) ? "\"Quarterly figures\"" : "NIL",
         range(r, 2000, 2000000));
    imap_ext_1part(r, b, types[t][2]);
    put(b, ")", 1);
}

static void imap_alternative(struct rng *r, struct bbuf *b)
{
    put(b, "(", 1);
    imap_text_part(r, b, "plain");
    imap_text_part(r, b, "html");
    putf(b, " \"alternative\" (\"boundary\" \"----=_Part_%u_%u\") NIL NIL NIL)", below(r, 100000),
         below(r, 1000000));
}

static void imap_body(struct rng *r, struct bbuf *b, unsigned depth);

/* body-type-msg: message/rfc822 with its envelope, body and lines. */
static void imap_rfc822_part(struct rng *r, struct bbuf *b, unsigned depth)
{
    unsigned size = range(r, 1000, 60000);
    putf(b, "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" %u ", size);
    imap_envelope(r, b);
    put(b, " ", 1);
    imap_body(r, b, depth + 1);
    putf(b, " %u", size / 50 + 1);
    imap_ext_1part(r, b, chance(r, 50) ? "forwarded.eml" : NULL);
    put(b, ")", 1);
}

static void imap_body(struct rng *r, struct bbuf *b, unsigned depth)
{
    unsigned pick = depth > 1 ? below(r, 2) : below(r, 20);

    if (pick < 6) {
        imap_text_part(r, b, "plain");
    } else if (pick < 11) {
        imap_alternative(r, b);
    } else if (pick < 16) {
        put(b, "(", 1);
        imap_alternative(r, b);
        for (unsigned i = range(r, 1, 3); i > 0; i--)
            imap_basic_part(r, b);
        putf(b, " \"mixed\" (\"boundary\" \"b1_%016llx\") NIL NIL NIL)",
             (unsigned long long)next(r));
    } else if (pick < 19) {
        put(b, "(", 1);
        imap_text_part(r, b, "plain");
        imap_rfc822_part(r, b, depth);
        putf(b, " \"mixed\" (\"boundary\" \"fwd_%u\") NIL (\"en\") NIL)", below(r, 100000));
    } else {
        /* a bounce: multipart/report with delivery-status and the message */
        put(b, "(", 1);
        imap_text_part(r, b, "plain");
        puts_(b, "(\"message\" \"delivery-status\" NIL NIL \"Delivery report\" \"7bit\" 512"
                 " NIL NIL NIL NIL)");
        imap_rfc822_part(r, b, depth);
        putf(b,
             " \"report\" (\"report-type\" \"delivery-status\" \"boundary\" \"%u/mx\")"
             " NIL NIL NIL)",
             below(r, 1000000));
    }
}

static void imap_flags(struct rng *r, struct bbuf *b)
{
    static const char *const flags[] = {"(\\Seen)",
                                        "()",
                                        "(\\Seen \\Answered)",
                                        "(\\Seen $Forwarded)",
                                        "(\\Flagged \\Seen)",
                                        "(\\Seen $Label1 NonJunk)"};
    puts_(b, PICK(r, flags));
}

void gen_imap_fetch_envelope(struct bbuf *out, size_t target, uint64_t seed)
{
    struct rng r = {seed};
    unsigned seq = 0, tag = 0;

    puts_(out, "* OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE IDLE] Dovecot ready.\r\n");
    while (out->len < target) {
        tag++;
        for (unsigned i = 0; i < 100; i++) {
            seq++;
            putf(out, "* %u FETCH (UID %u RFC822.SIZE %u FLAGS ", seq, seq * 3 + 17,
                 range(&r, 900, 400000));
            imap_flags(&r, out);
            puts_(out, " INTERNALDATE ");
            {
                unsigned day = range(&r, 1, 28);
                if (day < 10)
                    putf(out, "\" %u-", day);
                else
                    putf(out, "\"%u-", day);
                putf(out, "%s-%u %02u:%02u:%02u %s\"", PICK(&r, months), range(&r, 2019, 2025),
                     below(&r, 24), below(&r, 60), below(&r, 60), PICK(&r, zones));
            }
            puts_(out, " ENVELOPE ");
            imap_envelope(&r, out);
            puts_(out, " BODYSTRUCTURE ");
            imap_body(&r, out, 0);
            puts_(out, ")\r\n");
        }
        putf(out, "A%05u OK Fetch completed (0.004 + 0.000 + 0.003 secs).\r\n", tag);
    }
}

void gen_imap_fetch_literal(struct bbuf *out, size_t target, uint64_t seed)
{
    struct rng r = {seed};
    unsigned seq = 0, tag = 0;
    struct bbuf msg = {0};

    puts_(out, "* OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE IDLE] Dovecot ready.\r\n");
    while (out->len < target) {
        tag++;
        for (unsigned i = 0; i < 100; i++) {
            seq++;
            msg.len = 0;
            message(&r, &msg, 4096, 0);
            /* exactly 4096 bytes, ending in CRLF */
            msg.p[4094] = '\r';
            msg.p[4095] = '\n';
            putf(out, "* %u FETCH (UID %u BODY[] {4096}\r\n", seq, seq + 1000);
            put(out, msg.p, 4096);
            puts_(out, ")\r\n");
        }
        putf(out, "A%05u OK Fetch completed (0.010 + 0.000 + 0.009 secs).\r\n", tag);
    }
    bbuf_free(&msg);
}

void gen_imap_commands(struct bbuf *out, size_t target, uint64_t seed)
{
    struct rng r = {seed};
    unsigned tag = 0;
    struct bbuf msg = {0};

    while (out->len < target) {
        unsigned lo = range(&r, 1, 50000), hi = lo + range(&r, 0, 200);
        tag++;
        putf(out, "a%05u ", tag);
        switch (below(&r, 12)) {
        case 0:
            puts_(out, chance(&r, 80) ? "SELECT INBOX\r\n" : "SELECT \"Archive/2023 Q4\"\r\n");
            break;
        case 1:
            putf(out, "UID FETCH %u:* (FLAGS)\r\n", lo);
            break;
        case 2:
            putf(out,
                 "FETCH %u:%u (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc "
                 "Subject Date Message-ID Content-Type)])\r\n",
                 lo, hi);
            break;
        case 3:
            putf(out, "UID FETCH %u,%u:%u (UID FLAGS INTERNALDATE ENVELOPE BODYSTRUCTURE)\r\n", lo,
                 lo + 2, hi + 2);
            break;
        case 4:
            putf(out, "UID FETCH %u BODY.PEEK[1.2]<0.%u>\r\n", lo, range(&r, 1024, 65536));
            break;
        case 5:
            putf(out, "UID SEARCH SINCE %u-%s-%u NOT DELETED FROM \"%s@%s\"\r\n", range(&r, 1, 28),
                 PICK(&r, months), range(&r, 2019, 2025), PICK(&r, first_names), PICK(&r, domains));
            break;
        case 6:
            puts_(out, chance(&r, 50) ? "SEARCH UNSEEN\r\n"
                                      : "UID SEARCH OR FLAGGED (UNSEEN LARGER 100000)\r\n");
            break;
        case 7: {
            /* a search string as a literal (8-bit text) */
            static const char text[] = "K\xc3\xb6ln";
            putf(out, "UID SEARCH CHARSET UTF-8 SUBJECT {%zu+}\r\n%s\r\n", sizeof(text) - 1, text);
            break;
        }
        case 8:
            putf(out, "UID STORE %u:%u +FLAGS.SILENT (\\Seen)\r\n", lo, hi);
            break;
        case 9:
            putf(out, "STORE %u -FLAGS (\\Flagged $Label1)\r\n", lo);
            break;
        case 10: {
            msg.len = 0;
            message(&r, &msg, range(&r, 1000, 8000), 0);
            unsigned day = range(&r, 10, 28);
            putf(out, "APPEND %s (\\Seen) \"%u-%s-%u %02u:%02u:%02u +0100\" {%zu%s}\r\n",
                 chance(&r, 50) ? "Sent" : "\"Sent Items\"", day, PICK(&r, months),
                 range(&r, 2019, 2025), below(&r, 24), below(&r, 60), below(&r, 60), msg.len,
                 chance(&r, 50) ? "+" : "");
            put(out, msg.p, msg.len);
            puts_(out, "\r\n");
            break;
        }
        default:
            puts_(out, "NOOP\r\n");
            break;
        }
    }
    bbuf_free(&msg);
}

/* ---- SMTP ---- */

static const char ehlo_reply[] = "250-mx.example.com\r\n"
                                 "250-PIPELINING\r\n"
                                 "250-SIZE 52428800\r\n"
                                 "250-ETRN\r\n"
                                 "250-STARTTLS\r\n"
                                 "250-ENHANCEDSTATUSCODES\r\n"
                                 "250-8BITMIME\r\n"
                                 "250-DSN\r\n"
                                 "250-SMTPUTF8\r\n"
                                 "250 CHUNKING\r\n";

void gen_smtp(struct bbuf *cmds, struct bbuf *replies, size_t target, uint64_t seed)
{
    struct rng r = {seed};
    struct bbuf *lead = cmds ? cmds : replies;
    if (!lead)
        return;
    while (lead->len < target) {
        if (replies)
            puts_(replies, "220 mx.example.com ESMTP Postfix (Debian/GNU)\r\n");
        if (cmds)
            putf(cmds, "EHLO mail-%u.%s\r\n", below(&r, 1000), PICK(&r, domains));
        if (replies)
            puts_(replies, ehlo_reply);
        unsigned ntx = chance(&r, 70) ? 1 : range(&r, 2, 4);
        for (unsigned t = 0; t < ntx; t++) {
            char lp[64];
            size_t size = range(&r, 800, 24000);
            local_part(&r, lp, sizeof(lp));
            if (cmds)
                putf(cmds, "MAIL FROM:<bounce+%s=%u@%s> SIZE=%zu BODY=%s\r\n", lp,
                     below(&r, 100000), PICK(&r, domains), size,
                     chance(&r, 70) ? "8BITMIME" : "7BIT");
            if (replies)
                puts_(replies, "250 2.1.0 Ok\r\n");
            /* recipients: mostly few, sometimes a mailing list fan-out */
            unsigned nrcpt = chance(&r, 80) ? range(&r, 1, 3) : range(&r, 4, 40);
            for (unsigned i = 0; i < nrcpt; i++) {
                local_part(&r, lp, sizeof(lp));
                if (cmds) {
                    if (chance(&r, 10))
                        putf(cmds,
                             "RCPT TO:<%s@example.com> NOTIFY=SUCCESS,FAILURE "
                             "ORCPT=rfc822;%s@example.com\r\n",
                             lp, lp);
                    else
                        putf(cmds, "RCPT TO:<%s@example.com>\r\n", lp);
                }
                if (replies) {
                    if (i > 0 && chance(&r, 5))
                        putf(replies,
                             "550 5.1.1 <%s@example.com>: Recipient address "
                             "rejected: User unknown in virtual mailbox table\r\n",
                             lp);
                    else
                        puts_(replies, "250 2.1.5 Ok\r\n");
                }
            }
            if (cmds) {
                puts_(cmds, "DATA\r\n");
                message(&r, cmds, size, 1);
                puts_(cmds, ".\r\n");
            }
            if (replies) {
                puts_(replies, "354 End data with <CR><LF>.<CR><LF>\r\n");
                putf(replies, "250 2.0.0 Ok: queued as 4Vf%02X%06X\r\n", below(&r, 256),
                     below(&r, 0xffffff));
            } else {
                (void)below(&r, 256);
                (void)below(&r, 0xffffff);
            }
            if (t + 1 < ntx && chance(&r, 10)) {
                if (cmds)
                    puts_(cmds, "RSET\r\n");
                if (replies)
                    puts_(replies, "250 2.0.0 Ok\r\n");
            }
        }
        if (cmds)
            puts_(cmds, "QUIT\r\n");
        if (replies)
            puts_(replies, "221 2.0.0 Bye\r\n");
    }
}

/* ---- POP3 ---- */

static void pop3_reply_start(struct bbuf *replies, struct pop3_exchange **ex, size_t *nex,
                             size_t *cap, int64_t cmd, int new_session)
{
    if (*nex == *cap) {
        *cap = *cap ? *cap * 2 : 1024;
        struct pop3_exchange *n = realloc(*ex, *cap * sizeof(**ex));
        if (!n) {
            fprintf(stderr, "bench: out of memory\n");
            exit(2);
        }
        *ex = n;
    }
    (*ex)[*nex].cmd = cmd;
    (*ex)[*nex].new_session = new_session;
    (*ex)[*nex].off = replies->len;
    (*ex)[*nex].len = 0;
}

static void pop3_reply_end(struct bbuf *replies, struct pop3_exchange *ex, size_t *nex)
{
    ex[*nex].len = replies->len - ex[*nex].off;
    (*nex)++;
}

void gen_pop3(struct bbuf *cmds, struct bbuf *replies, struct pop3_exchange **ex, size_t *nex,
              size_t target, uint64_t seed)
{
    struct rng r = {seed};
    struct bbuf *lead = replies ? replies : cmds;
    struct bbuf body = {0};
    size_t cap = 0;
    int64_t ncmd = 0;
    unsigned sizes[4000];

    if (ex) {
        *ex = NULL;
        *nex = 0;
    }
    if (!cmds || (replies && !ex))
        return; /* the command stream is always generated (see gen.h) */
#define REPLY(cmdidx, newsess, ...)                                                                \
    do {                                                                                           \
        if (replies) {                                                                             \
            pop3_reply_start(replies, ex, nex, &cap, (cmdidx), (newsess));                         \
            __VA_ARGS__;                                                                           \
            pop3_reply_end(replies, *ex, nex);                                                     \
        }                                                                                          \
    } while (0)
#define CMD(...)                                                                                   \
    do {                                                                                           \
        putf(cmds, __VA_ARGS__);                                                                   \
        ncmd++;                                                                                    \
    } while (0)

    while (lead->len < target) {
        char lp[64];
        unsigned n = chance(&r, 70) ? range(&r, 5, 300) : range(&r, 300, 4000);
        unsigned long total = 0;
        for (unsigned i = 0; i < n; i++) {
            sizes[i] = range(&r, 600, 60000);
            total += sizes[i];
        }
        local_part(&r, lp, sizeof(lp));
        REPLY(-1, 1,
              putf(replies, "+OK Dovecot ready. <%u.%u@mail.example.com>\r\n", below(&r, 100000),
                   below(&r, 1000000)));
        CMD("USER %s\r\n", lp);
        REPLY(ncmd - 1, 0, puts_(replies, "+OK\r\n"));
        CMD("PASS %016llx\r\n", (unsigned long long)next(&r));
        REPLY(ncmd - 1, 0, puts_(replies, "+OK Logged in.\r\n"));
        CMD("STAT\r\n");
        REPLY(ncmd - 1, 0, putf(replies, "+OK %u %lu\r\n", n, total));
        CMD("LIST\r\n");
        REPLY(ncmd - 1, 0, {
            putf(replies, "+OK %u messages:\r\n", n);
            for (unsigned i = 0; i < n; i++)
                putf(replies, "%u %u\r\n", i + 1, sizes[i]);
            puts_(replies, ".\r\n");
        });
        CMD("UIDL\r\n");
        REPLY(ncmd - 1, 0, {
            puts_(replies, "+OK\r\n");
            for (unsigned i = 0; i < n; i++)
                putf(replies, "%u %08X%08X\r\n", i + 1, i * 7 + 1, 0x5a5b1c2du + n);
            puts_(replies, ".\r\n");
        });
        unsigned nretr = range(&r, 1, 5), base = below(&r, n);
        for (unsigned k = 0; k < nretr; k++) {
            /* distinct messages: a deleted one would draw -ERR */
            unsigned m = (base + k) % n + 1;
            size_t sz = sizes[m - 1] < 30000 ? sizes[m - 1] : 30000;
            body.len = 0;
            if (replies) /* the command-only stream needs no bodies */
                message(&r, &body, sz, 1);
            if (k == 0 && chance(&r, 30)) {
                CMD("LIST %u\r\n", m);
                REPLY(ncmd - 1, 0, putf(replies, "+OK %u %u\r\n", m, sizes[m - 1]));
            }
            CMD("RETR %u\r\n", m);
            REPLY(ncmd - 1, 0, {
                putf(replies, "+OK %zu octets\r\n", body.len);
                put(replies, body.p, body.len);
                puts_(replies, ".\r\n");
            });
            if (chance(&r, 50)) {
                CMD("DELE %u\r\n", m);
                REPLY(ncmd - 1, 0, putf(replies, "+OK Marked to be deleted.\r\n"));
            }
        }
        CMD("QUIT\r\n");
        REPLY(ncmd - 1, 0, puts_(replies, "+OK Logging out, messages deleted.\r\n"));
    }
#undef REPLY
#undef CMD
    bbuf_free(&body);
}
