/*
 * certify's MIME oracle (docs/mime-oracle.md). certify builds a set of
 * messages, knows from the MIME walker (parsers/common/mime.c) what an IMAP
 * server must say about each (sections, sizes, lines, header fields), appends
 * them to a fresh mailbox and asks: BODYSTRUCTURE, BODY, ENVELOPE,
 * RFC822.SIZE, BODY[section]<partial>, HEADER.FIELDS(.NOT), MIME, BINARY,
 * SEARCH. Each test is a generated .session script run by the runner like
 * any other (connection, TLS, login, setup/check/cleanup phases, redaction,
 * transcript); the runner hands every whole server message to this file
 * (ms_run_opts.on_message), and when the script passed, the typed views of
 * the FETCH and SEARCH answers are compared with the walker's values.
 * Compared semantically: type, subtype and parameter names without case,
 * parameter order free, strings decoded (quoted or literal), NIL where the
 * RFC says NIL; what the RFC leaves to the server (extension data a server
 * may omit, lines of a last line without CRLF, Content-Type defaults beyond
 * text/plain) is not judged.
 */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "certify.h"
#include "mailspec/mailspec.h"
#include "mailspec/mime.h"
#include "mailspec/script.h"

#define MIME_PREFIX "mime:"
#define STR_MAX     (256u * 1024) /* one decoded string of a response */
#define MAX_FAILS   6

/* ---- the messages ---- */

enum { M_SIMPLE, M_NOSEP, M_LONG, M_8BIT, M_ENCODED, M_MIXED, M_ALT, M_RFC822, M_PARAMS, M_COUNT };
#define BIT(m) (1u << (m))
#define M_ALL  (BIT(M_COUNT) - 1)

struct mmsg {
    const char *name, *what;
    const char *bytes;
    size_t len;
    struct ms_mime mime;
};

static const char msg_simple[] = "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
                                 "From: Ann Example <ann@example.org>\r\n"
                                 "To: bob@example.net, \"Carol Q. Public\" <carol@example.com>\r\n"
                                 "Cc: Dave <dave@example.net>\r\n"
                                 "Subject: quarterly\r\n report\r\n"
                                 "Message-ID: <simple.1@mailspec.example>\r\n"
                                 "In-Reply-To: <parent.0@mailspec.example>\r\n"
                                 "X-Mailspec-Tag: blue\r\n"
                                 "\r\n"
                                 "Hello Bob,\r\n"
                                 "the zebraword is in this body.\r\n"
                                 "Regards\r\n";

static const char msg_nosep[] = "Date: Tue, 8 Feb 1994 10:00:00 +0000\r\n"
                                "From: bob@example.net\r\n"
                                "Subject: header only\r\n"
                                "Message-ID: <nosep.1@mailspec.example>\r\n";

static const char msg_8bit[] = "Date: Wed, 9 Feb 1994 10:00:00 +0000\r\n"
                               "From: Ann Example <ann@example.org>\r\n"
                               "Subject: eight bit body\r\n"
                               "MIME-Version: 1.0\r\n"
                               "Content-Type: text/plain; charset=utf-8\r\n"
                               "Content-Transfer-Encoding: 8bit\r\n"
                               "X-Mailspec-Tag: green\r\n"
                               "\r\n"
                               "Gr\xc3\xbc\xc3\x9f"
                               "e aus K\xc3\xb6ln\r\n"
                               "\xe2\x82\xac 5\r\n";

static const char msg_encoded[] =
    "Date: Thu, 10 Feb 1994 10:00:00 +0000\r\n"
    "From: =?UTF-8?Q?J=C3=B6rg?= <joerg@example.com>\r\n"
    "To: =?ISO-8859-1?Q?Andr=E9?= <andre@example.com>\r\n"
    "Subject: =?UTF-8?B?R3LDvMOfZQ==?= =?ISO-8859-1?Q?aus_K=F6ln?=\r\n"
    "Message-ID: <encoded.1@mailspec.example>\r\n"
    "\r\n"
    "Encoded words in the header only.\r\n";

static const char msg_mixed[] = "Date: Fri, 11 Feb 1994 10:00:00 +0000\r\n"
                                "From: Ann Example <ann@example.org>\r\n"
                                "To: bob@example.net\r\n"
                                "Subject: mixed with attachment\r\n"
                                "Message-ID: <mixed.1@mailspec.example>\r\n"
                                "MIME-Version: 1.0\r\n"
                                "Content-Type: multipart/mixed; boundary=\"=_outer_1\"\r\n"
                                "X-Mailspec-Tag: blue\r\n"
                                "\r\n"
                                "This is a MIME message.\r\n"
                                "--=_outer_1\r\n"
                                "Content-Type: text/plain; charset=utf-8\r\n"
                                "Content-Transfer-Encoding: quoted-printable\r\n"
                                "\r\n"
                                "Caf=C3=A9 au lait, a soft=\r\n"
                                " break.\r\n"
                                "--=_outer_1\r\n"
                                "Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
                                "Content-Transfer-Encoding: base64\r\n"
                                "Content-Disposition: attachment; filename=\"data file.bin\"\r\n"
                                "Content-ID: <part2@mailspec.example>\r\n"
                                "Content-Description: some bytes\r\n"
                                "\r\n"
                                "SGVsbG8sIGJhc2U2NCB3b3JsZCEKU2Vjb25kIGxpbmUs\r\n"
                                "IHdpdGggbW9yZSB0ZXh0Lgo=\r\n"
                                "--=_outer_1--\r\n"
                                "epilogue\r\n";

static const char msg_alt[] = "Date: Sat, 12 Feb 1994 10:00:00 +0000\r\n"
                              "From: Carol <carol@example.com>\r\n"
                              "To: Ann Example <ann@example.org>\r\n"
                              "Subject: alternative inside mixed\r\n"
                              "Message-ID: <alt.1@mailspec.example>\r\n"
                              "MIME-Version: 1.0\r\n"
                              "Content-Type: multipart/mixed; boundary=outer2\r\n"
                              "\r\n"
                              "--outer2\r\n"
                              "Content-Type: multipart/alternative; boundary=inner2\r\n"
                              "\r\n"
                              "--inner2\r\n"
                              "Content-Type: text/plain; charset=us-ascii\r\n"
                              "\r\n"
                              "plain text\r\n"
                              "of two lines\r\n"
                              "--inner2\r\n"
                              "Content-Type: text/html; charset=us-ascii\r\n"
                              "\r\n"
                              "<p>html text</p>\r\n"
                              "--inner2--\r\n"
                              "\r\n"
                              "--outer2\r\n"
                              "Content-Type: image/png\r\n"
                              "Content-Transfer-Encoding: base64\r\n"
                              "\r\n"
                              "iVBORw0KGgo=\r\n"
                              "--outer2--\r\n";

static const char msg_rfc822[] = "Date: Sun, 13 Feb 1994 10:00:00 +0000\r\n"
                                 "From: Bob <bob@example.net>\r\n"
                                 "To: Ann Example <ann@example.org>\r\n"
                                 "Subject: Fwd: the inner message\r\n"
                                 "Message-ID: <fwd.1@mailspec.example>\r\n"
                                 "MIME-Version: 1.0\r\n"
                                 "Content-Type: multipart/mixed; boundary=fwd3\r\n"
                                 "\r\n"
                                 "--fwd3\r\n"
                                 "Content-Type: text/plain\r\n"
                                 "\r\n"
                                 "See the forwarded message.\r\n"
                                 "--fwd3\r\n"
                                 "Content-Type: message/rfc822\r\n"
                                 "\r\n"
                                 "Date: Sat, 12 Feb 1994 09:00:00 +0000\r\n"
                                 "From: Dave <dave@example.net>\r\n"
                                 "Reply-To: Replies <replies@example.net>\r\n"
                                 "To: Bob <bob@example.net>\r\n"
                                 "Subject: the inner message\r\n"
                                 "Message-ID: <inner.1@mailspec.example>\r\n"
                                 "MIME-Version: 1.0\r\n"
                                 "Content-Type: multipart/alternative; boundary=in3\r\n"
                                 "\r\n"
                                 "--in3\r\n"
                                 "Content-Type: text/plain\r\n"
                                 "\r\n"
                                 "inner plain\r\n"
                                 "--in3\r\n"
                                 "Content-Type: text/html\r\n"
                                 "\r\n"
                                 "<b>inner html</b>\r\n"
                                 "--in3--\r\n"
                                 "\r\n"
                                 "--fwd3--\r\n";

static const char msg_params[] =
    "Date: Mon, 14 Feb 1994 10:00:00 +0000\r\n"
    "From: Ann Example <ann@example.org>\r\n"
    "Subject: parameters\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=\"US-ASCII\"; format=flowed;\r\n"
    " name=\"semi;colon \\\"quoted\\\" name.txt\"\r\n"
    "Content-Disposition: inline; filename=\"semi;colon.txt\"\r\n"
    "\r\n"
    "Parameters with quoted strings.\r\n";

/* 1200 octets on one line: above RFC 5322 2.1.1's 998 (a server may refuse it) */
static char msg_long[1600];

static struct mmsg msgs[M_COUNT];
static pthread_once_t msgs_once = PTHREAD_ONCE_INIT;

static void msg_set(int i, const char *name, const char *what, const char *b, size_t n)
{
    struct ms_error err;
    msgs[i].name = name;
    msgs[i].what = what;
    msgs[i].bytes = b;
    msgs[i].len = n;
    if (ms_mime_walk(b, n, &msgs[i].mime, &err) != MS_OK)
        msgs[i].mime.n = 0;
}

static void msgs_build(void)
{
    size_t o = (size_t)snprintf(msg_long, sizeof(msg_long),
                                "Date: Tue, 15 Feb 1994 10:00:00 +0000\r\n"
                                "From: bob@example.net\r\n"
                                "Subject: a long line\r\n"
                                "\r\n");
    for (size_t i = 0; i < 1200; i++)
        msg_long[o++] = (char)('a' + i % 26);
    memcpy(msg_long + o, "\r\nshort\r\n", 9);
    o += 9;
#define SET(i, n, w, b) msg_set(i, n, w, b, sizeof(b) - 1)
    SET(M_SIMPLE, "simple", "text/plain without MIME headers", msg_simple);
    SET(M_NOSEP, "no-separator", "a header without an empty line or body", msg_nosep);
    msg_set(M_LONG, "long-line", "a body line of 1200 octets", msg_long, o);
    SET(M_8BIT, "8bit", "an 8bit UTF-8 text body", msg_8bit);
    SET(M_ENCODED, "encoded-words", "RFC 2047 encoded words in the header", msg_encoded);
    SET(M_MIXED, "mixed", "multipart/mixed: quoted-printable text and a base64 attachment",
        msg_mixed);
    SET(M_ALT, "alternative", "multipart/alternative nested in multipart/mixed", msg_alt);
    SET(M_RFC822, "rfc822", "a message/rfc822 part holding a multipart message", msg_rfc822);
    SET(M_PARAMS, "params", "Content-Type parameters in quoted strings", msg_params);
#undef SET
}

/* ---- the oracle's state for one test ---- */

struct collected {
    char *p;
    size_t len;
};

struct oracle {
    const struct mtest *t;
    int pass;      /* 0: writing the script; 1: judging the answers */
    FILE *script;  /* pass 0 */
    unsigned tags; /* probes so far (P1, P2, ...) */
    /* pass 1: the server's messages, and for each probe where its answer is */
    struct collected *got;
    size_t ngot, capgot, bytes;
    size_t *from, *to; /* probe k: got[from[k]..to[k]) came before its tagged answer */
    size_t nprobes;
    struct ms_imap_response *resp; /* scratch: one parsed response */
    struct ms_limits lim;
    char *s1, *s2; /* string scratch, STR_MAX each */
    int fails;
    char why[4000];
    int broken; /* the answer could not be judged (blocked) */
};

struct mtest {
    const char *id, *title, *rfc, *quote;
    unsigned level;
    unsigned msgs;        /* BIT(M_...) appended, in index order */
    const char *requires; /* capability, or NULL */
    const char *setup;    /* extra setup lines after SELECT, or NULL */
    void (*check)(struct oracle *o);
};

static void fail(struct oracle *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct oracle *o, const char *fmt, ...)
{
    if (o->pass != 1)
        return;
    o->fails++;
    size_t l = strlen(o->why);
    if (o->fails > MAX_FAILS) {
        if (o->fails == MAX_FAILS + 1 && l + 40 < sizeof(o->why))
            snprintf(o->why + l, sizeof(o->why) - l, "\n(further differences not shown)");
        return;
    }
    if (l && l + 1 < sizeof(o->why))
        o->why[l++] = '\n', o->why[l] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->why + l, sizeof(o->why) - l, fmt, ap);
    va_end(ap);
}

/* The sequence number of message m in this test's mailbox (0: not there). */
static unsigned seq_of(const struct oracle *o, int m)
{
    if (!(o->t->msgs & BIT(m)))
        return 0;
    unsigned n = 0;
    for (int i = 0; i <= m; i++)
        n += (o->t->msgs >> i) & 1u;
    return n;
}

/* Send one command as a check step; in pass 1, return the probe number. */
static size_t probe(struct oracle *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t probe(struct oracle *o, const char *fmt, ...)
{
    size_t k = ++o->tags;
    if (o->pass == 0) {
        va_list ap;
        fprintf(o->script, "C: P%zu ", k);
        va_start(ap, fmt);
        vfprintf(o->script, fmt, ap);
        va_end(ap);
        fprintf(o->script, "\nS: P%zu OK${*}\n", k);
    }
    return k;
}

/* Parse collected message i into o->resp; 0 on success. */
static int parse_got(struct oracle *o, size_t i)
{
    struct ms_error err;
    ssize_t n = ms_imap_response_parse(&o->lim, o->got[i].p, o->got[i].len, o->resp, &err);
    return n > 0 ? 0 : -1;
}

/* The i-th (from 0) untagged FETCH response about message seq in probe k's
 * answer, parsed into o->resp; 0 when there is none. */
static int fetch_resp(struct oracle *o, size_t k, unsigned seq, size_t *i)
{
    if (k >= o->nprobes)
        return 0;
    for (; *i < o->to[k]; (*i)++) {
        if (*i < o->from[k] || parse_got(o, *i) != 0)
            continue;
        if (o->resp->type == MS_IMAP_FETCH && o->resp->number == seq) {
            (*i)++;
            return 1;
        }
    }
    return 0;
}

static uint32_t first_att(const struct ms_imap_response *r)
{
    uint32_t d = r->data;
    if (d && r->nodes[d].type == MS_IMAP_N_LIST)
        d = r->nodes[d].child;
    return d;
}

static int name_is(struct ms_slice s, const char *name, int prefix)
{
    size_t n = strlen(name);
    if (s.len < n || strncasecmp(s.ptr, name, n) != 0)
        return 0;
    return prefix || s.len == n;
}

/*
 * The attribute name (prefix: the name starts with it) of message seq in
 * probe k's answer: its ATTR node in o->resp, 0 when the server sent none
 * (said as a failure: FETCH returns what was asked).
 */
static uint32_t fetch_att(struct oracle *o, size_t k, unsigned seq, const char *name, int prefix,
                          const char *asked)
{
    if (o->pass != 1)
        return 0;
    size_t i = 0;
    while (fetch_resp(o, k, seq, &i)) {
        const struct ms_imap_response *r = o->resp;
        for (uint32_t a = first_att(r); a; a = r->nodes[a].next) {
            uint32_t nm = r->nodes[a].child;
            if (r->nodes[a].role == MS_IMAP_R_ATTR && nm && name_is(r->nodes[nm].s, name, prefix))
                return a;
        }
    }
    fail(o, "FETCH %u (%s): the server sent no %s%s for message %u", seq, asked, name,
         prefix ? "...]" : "", seq);
    return 0;
}

static uint32_t att_value(const struct ms_imap_response *r, uint32_t a)
{
    uint32_t nm = a ? r->nodes[a].child : 0;
    return nm ? r->nodes[nm].next : 0;
}

/* A string node decoded into buf (quoted: escapes removed; literal: as is).
 * Returns the length, -1 for NIL, -2 when the node is not a string. */
static long nstr(const struct ms_imap_response *r, uint32_t v, char *buf, size_t cap)
{
    if (!v)
        return -2;
    const struct ms_imap_node *n = &r->nodes[v];
    switch (n->type) {
    case MS_IMAP_N_NIL:
        return -1;
    case MS_IMAP_N_QUOTED:
        return (long)ms_mime_unquote(n->s, buf, cap);
    case MS_IMAP_N_LITERAL:
    case MS_IMAP_N_LITERAL8:
    case MS_IMAP_N_ATOM: {
        size_t l = n->s.len < cap ? n->s.len : cap;
        memcpy(buf, n->s.ptr, l);
        return (long)l;
    }
    default:
        return -2;
    }
}

/* Text for a message: the first 60 bytes, escaped. */
static const char *shown(const char *p, long n, char *out, size_t cap)
{
    size_t o = 0;
    if (n < 0) {
        snprintf(out, cap, "%s", n == -1 ? "NIL" : "(not a string)");
        return out;
    }
    out[o++] = '"';
    for (long i = 0; i < n && o + 8 < cap; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (i == 60) {
            o += (size_t)snprintf(out + o, cap - o, "...");
            break;
        }
        if (ch == '\r')
            o += (size_t)snprintf(out + o, cap - o, "\\r");
        else if (ch == '\n')
            o += (size_t)snprintf(out + o, cap - o, "\\n");
        else if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
            o += (size_t)snprintf(out + o, cap - o, "\\x%02X", ch);
        else
            out[o++] = (char)ch;
    }
    if (o + 2 < cap)
        out[o++] = '"';
    out[o] = '\0';
    return out;
}

/* ---- header values ---- */

/* Field name of header hdr, unfolded and whitespace-normalised, into out;
 * -1 when absent. */
static long field_text(struct ms_slice hdr, const char *name, char *out, size_t cap)
{
    struct ms_slice line, value;
    if (!ms_mime_field(hdr.ptr, hdr.len, name, strlen(name), 0, &line, &value))
        return -1;
    return (long)ms_mime_unfold(value, out, cap);
}

static struct ms_slice ent_header(const struct mmsg *m, const struct ms_mime_entity *e)
{
    return (struct ms_slice){m->bytes + e->hdr_off, e->hdr_len};
}

/* Compare a string the server sent with the expected text, both with
 * folding undone and white space runs as one SP (servers differ in both). */
static void cmp_text(struct oracle *o, const struct ms_imap_response *r, uint32_t v,
                     const char *exp, long el, const char *what)
{
    char a[200], b[200];
    long gl = nstr(r, v, o->s1, STR_MAX);
    if (gl >= 0)
        gl = (long)ms_mime_unfold((struct ms_slice){o->s1, (size_t)gl}, o->s2, STR_MAX);
    if (el < 0 && gl == -1)
        return;
    if (el >= 0 && gl >= 0 && el == gl && memcmp(exp, o->s2, (size_t)el) == 0)
        return;
    fail(o, "%s: the server says %s; the message has %s", what, shown(o->s2, gl, a, sizeof(a)),
         el < 0 ? "none (NIL)" : shown(exp, el, b, sizeof(b)));
}

/* ---- addresses (the simple forms the messages use) ---- */

struct addr {
    char name[128], mailbox[128], host[128];
    int has_name;
};

static void trim(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

static void copy_part(char *dst, size_t cap, const char *p, size_t n)
{
    n = n < cap - 1 ? n : cap - 1;
    memcpy(dst, p, n);
    dst[n] = '\0';
}

/* RFC 5322 3.4 address-list, for what the messages hold: [phrase] "<" addr-spec ">" or addr-spec.
 */
static size_t parse_addrs(const char *v, size_t n, struct addr *out, size_t max)
{
    size_t k = 0, s = 0;
    int q = 0, angle = 0;
    for (size_t i = 0; i <= n && k < max; i++) {
        if (i < n && v[i] == '"' && (i == 0 || v[i - 1] != '\\'))
            q = !q;
        if (i < n && !q && v[i] == '<')
            angle = 1;
        if (i < n && !q && v[i] == '>')
            angle = 0;
        if (i < n && (q || angle || v[i] != ','))
            continue;
        const char *p = v + s;
        size_t l = i - s;
        s = i + 1;
        trim(&p, &l);
        if (!l)
            continue;
        struct addr *a = &out[k++];
        memset(a, 0, sizeof(*a));
        const char *lt = memchr(p, '<', l);
        const char *spec = p;
        size_t sl = l;
        if (lt) {
            const char *np = p;
            size_t nl = (size_t)(lt - p);
            trim(&np, &nl);
            if (nl >= 2 && np[0] == '"' && np[nl - 1] == '"') {
                char tmp[128];
                size_t u = ms_mime_unquote((struct ms_slice){np + 1, nl - 2}, tmp, sizeof(tmp));
                copy_part(a->name, sizeof(a->name), tmp, u);
            } else {
                copy_part(a->name, sizeof(a->name), np, nl);
            }
            a->has_name = nl > 0;
            spec = lt + 1;
            const char *gt = memchr(spec, '>', l - (size_t)(spec - p));
            sl = gt ? (size_t)(gt - spec) : l - (size_t)(spec - p);
        }
        const char *at = NULL;
        for (size_t j = 0; j < sl; j++)
            if (spec[j] == '@')
                at = spec + j;
        if (at) {
            copy_part(a->mailbox, sizeof(a->mailbox), spec, (size_t)(at - spec));
            copy_part(a->host, sizeof(a->host), at + 1, sl - (size_t)(at - spec) - 1);
        } else {
            copy_part(a->mailbox, sizeof(a->mailbox), spec, sl);
        }
    }
    return k;
}

static void cmp_addrs(struct oracle *o, const struct ms_imap_response *r, uint32_t v,
                      struct ms_slice hdr, const char *field, const char *dflt, const char *what)
{
    char val[1024], src[120];
    long vl = field_text(hdr, field, val, sizeof(val));
    snprintf(src, sizeof(src), "the message's %s field", field);
    if ((vl < 0 || vl == 0) && dflt) { /* RFC 3501 7.4.2: absent or empty: from From */
        vl = field_text(hdr, dflt, val, sizeof(val));
        snprintf(src, sizeof(src),
                 "the message has no %s field: RFC 3501 7.4.2 defaults it from %s, which", field,
                 dflt);
    }
    if (vl < 0) {
        if (!v || r->nodes[v].type != MS_IMAP_N_NIL)
            fail(o, "%s: the server sends addresses; the message has no %s field (NIL)", what,
                 field);
        return;
    }
    struct addr want[8];
    size_t nw = parse_addrs(val, (size_t)vl, want, 8), ng = 0;
    if (!v || r->nodes[v].type != MS_IMAP_N_LIST) {
        fail(o, "%s: the server sends NIL; %s has %zu address(es)", what, src, nw);
        return;
    }
    for (uint32_t a = r->nodes[v].child; a; a = r->nodes[a].next, ng++) {
        if (ng >= nw)
            continue;
        uint32_t nm = r->nodes[a].child, adl = nm ? r->nodes[nm].next : 0;
        uint32_t mb = adl ? r->nodes[adl].next : 0, host = mb ? r->nodes[mb].next : 0;
        char label[300];
        snprintf(label, sizeof(label), "%s, address %zu, personal name", what, ng + 1);
        cmp_text(o, r, nm, want[ng].name, want[ng].has_name ? (long)strlen(want[ng].name) : -1,
                 label);
        long ml = nstr(r, mb, o->s1, STR_MAX);
        if (ml != (long)strlen(want[ng].mailbox) ||
            memcmp(o->s1, want[ng].mailbox, (size_t)ml) != 0) {
            char a1[200];
            fail(o, "%s, address %zu: mailbox name %s; the message has \"%s\"", what, ng + 1,
                 shown(o->s1, ml, a1, sizeof(a1)), want[ng].mailbox);
        }
        long hl = nstr(r, host, o->s1, STR_MAX);
        if (hl != (long)strlen(want[ng].host) ||
            strncasecmp(o->s1, want[ng].host, (size_t)hl) != 0) {
            char a1[200];
            fail(o, "%s, address %zu: host name %s; the message has \"%s\"", what, ng + 1,
                 shown(o->s1, hl, a1, sizeof(a1)), want[ng].host);
        }
    }
    if (ng != nw)
        fail(o, "%s: the server lists %zu address(es); %s has %zu", what, ng, src, nw);
}

/* RFC 3501 7.4.2 ENVELOPE of the header hdr. */
static void cmp_envelope(struct oracle *o, const struct ms_imap_response *r, uint32_t env,
                         struct ms_slice hdr, const char *label)
{
    static const char *const strs[] = {"Date", "Subject"};
    char what[200], val[2048];
    if (!env || r->nodes[env].role != MS_IMAP_R_ENVELOPE) {
        fail(o, "%s: not an envelope structure", label);
        return;
    }
    uint32_t f[10] = {0}, c = r->nodes[env].child;
    for (int i = 0; i < 10 && c; i++, c = r->nodes[c].next)
        f[i] = c;
    for (int i = 0; i < 2; i++) {
        snprintf(what, sizeof(what), "%s, %s", label, i ? "subject" : "date");
        long l = field_text(hdr, strs[i], val, sizeof(val));
        cmp_text(o, r, f[i], val, l, what);
    }
    static const char *const af[] = {"From", "Sender", "Reply-To", "To", "Cc", "Bcc"};
    static const char *const an[] = {"from", "sender", "reply-to", "to", "cc", "bcc"};
    for (int i = 0; i < 6; i++) {
        snprintf(what, sizeof(what), "%s, %s", label, an[i]);
        cmp_addrs(o, r, f[2 + i], hdr, af[i], i == 1 || i == 2 ? "From" : NULL, what);
    }
    snprintf(what, sizeof(what), "%s, in-reply-to", label);
    long l = field_text(hdr, "In-Reply-To", val, sizeof(val));
    cmp_text(o, r, f[8], val, l, what);
    snprintf(what, sizeof(what), "%s, message-id", label);
    l = field_text(hdr, "Message-ID", val, sizeof(val));
    cmp_text(o, r, f[9], val, l, what);
}

/* ---- body structure ---- */

static const char *ent_label(const struct ms_mime_entity *e, char *out, size_t cap)
{
    if (e->role == MS_MIME_ROOT && e->multipart)
        snprintf(out, cap, "the message (multipart/%.*s)", (int)e->subtype.len, e->subtype.ptr);
    else if (e->section[0])
        snprintf(out, cap, "part %s (%.*s/%.*s)", e->section, (int)e->type.len, e->type.ptr,
                 (int)e->subtype.len, e->subtype.ptr);
    else
        snprintf(out, cap, "the message in part %s (multipart/%.*s)", e->msg_section,
                 (int)e->subtype.len, e->subtype.ptr);
    return out;
}

static int str_ieq(const struct ms_imap_response *r, uint32_t v, struct ms_slice want, char *buf)
{
    long l = nstr(r, v, buf, STR_MAX);
    return l >= 0 && (size_t)l == want.len && strncasecmp(buf, want.ptr, want.len) == 0;
}

/* The walker's parameter value decoded. */
static size_t param_value(const struct ms_mime_param *p, char *out, size_t cap)
{
    if (p->quoted)
        return ms_mime_unquote(p->value, out, cap);
    size_t n = p->value.len < cap ? p->value.len : cap;
    memcpy(out, p->value.ptr, n);
    return n;
}

/* Each parameter the part has is in the server's list with its value
 * (names without case, order free; charset values without case, RFC 2046 4.1.2). */
static void cmp_params(struct oracle *o, const struct ms_imap_response *r, uint32_t v,
                       const struct ms_mime_param *ps, size_t np, const char *label)
{
    for (size_t i = 0; i < np; i++) {
        char want[512], a[200], b[200];
        size_t wl = param_value(&ps[i], want, sizeof(want));
        int charset = ms_slice_ieq(ps[i].name, "charset");
        uint32_t found = 0;
        if (v && r->nodes[v].type == MS_IMAP_N_LIST)
            for (uint32_t c = r->nodes[v].child; c && r->nodes[c].next;
                 c = r->nodes[r->nodes[c].next].next)
                if (str_ieq(r, c, ps[i].name, o->s1)) {
                    found = r->nodes[c].next;
                    break;
                }
        if (!found) {
            fail(o, "%s: the parameter list has no \"%.*s\" (the message has %.*s=%s)", label,
                 (int)ps[i].name.len, ps[i].name.ptr, (int)ps[i].name.len, ps[i].name.ptr,
                 shown(want, (long)wl, b, sizeof(b)));
            continue;
        }
        long gl = nstr(r, found, o->s1, STR_MAX);
        if (gl != (long)wl ||
            (charset ? strncasecmp(o->s1, want, wl) : memcmp(o->s1, want, wl)) != 0)
            fail(o, "%s: parameter \"%.*s\" is %s; the message has %s", label, (int)ps[i].name.len,
                 ps[i].name.ptr, shown(o->s1, gl, a, sizeof(a)),
                 shown(want, (long)wl, b, sizeof(b)));
    }
}

/* Content-Disposition of the header, as the extension data's body disposition. */
static void cmp_disposition(struct oracle *o, const struct ms_imap_response *r, uint32_t v,
                            struct ms_slice hdr, const char *label)
{
    struct ms_slice line, value;
    if (!v || !ms_mime_field(hdr.ptr, hdr.len, "Content-Disposition", 19, 0, &line, &value))
        return; /* not sent by the server (optional), or none in the message: not judged */
    /* RFC 2183 2: disposition-type *(";" parameter) is Content-Type's syntax
     * after "x/": the walker's parser reads it */
    char fake[256];
    int n = snprintf(fake, sizeof(fake), "Content-Type: x/%.*s\r\n\r\n",
                     (int)(value.len < 200 ? value.len : 200), value.ptr);
    struct ms_error err;
    if (n <= 0 || (size_t)n >= sizeof(fake))
        return;
    struct ms_mime *m = malloc(sizeof(*m));
    if (!m)
        return;
    if (ms_mime_walk(fake, (size_t)n, m, &err) != MS_OK || m->e[0].defaulted) {
        free(m);
        return;
    }
    char what[200];
    snprintf(what, sizeof(what), "%s, body disposition", label);
    if (r->nodes[v].type != MS_IMAP_N_LIST) {
        fail(o, "%s: the server sends NIL; the part has Content-Disposition %.*s", what,
             (int)m->e[0].subtype.len, m->e[0].subtype.ptr);
    } else {
        uint32_t t = r->nodes[v].child;
        if (!str_ieq(r, t, m->e[0].subtype, o->s1))
            fail(o, "%s: the type is not \"%.*s\"", what, (int)m->e[0].subtype.len,
                 m->e[0].subtype.ptr);
        else
            cmp_params(o, r, r->nodes[t].next, m->e[0].params, m->e[0].nparams, what);
    }
    free(m);
}

static void cmp_body(struct oracle *o, const struct ms_imap_response *r, uint32_t n,
                     const struct mmsg *m, uint32_t ei, int ext);

static uint32_t nth(const struct ms_imap_response *r, uint32_t c, unsigned k)
{
    while (c && k--)
        c = r->nodes[c].next;
    return c;
}

static void cmp_single(struct oracle *o, const struct ms_imap_response *r, uint32_t n,
                       const struct mmsg *m, uint32_t ei, int ext, const char *label)
{
    const struct ms_mime_entity *e = &m->mime.e[ei];
    struct ms_slice hdr = ent_header(m, e);
    char val[1024], what[240];
    uint32_t c = r->nodes[n].child;

    if (!str_ieq(r, c, e->type, o->s1) || !str_ieq(r, nth(r, c, 1), e->subtype, o->s2)) {
        char a[200], b[200];
        long tl = nstr(r, c, o->s1, STR_MAX), sl = nstr(r, nth(r, c, 1), o->s2, STR_MAX);
        fail(o, "%s: the server says type %s subtype %s%s", label, shown(o->s1, tl, a, sizeof(a)),
             shown(o->s2, sl, b, sizeof(b)),
             e->defaulted ? " (the part has no Content-Type: RFC 2045 5.2 makes it text/plain)"
                          : "");
        return;
    }
    if (!e->defaulted) {
        snprintf(what, sizeof(what), "%s, body parameters", label);
        cmp_params(o, r, nth(r, c, 2), e->params, e->nparams, what);
    }
    static const char *const hf[] = {"Content-ID", "Content-Description"};
    static const char *const hn[] = {"body id", "body description"};
    for (unsigned i = 0; i < 2; i++) {
        long l = field_text(hdr, hf[i], val, sizeof(val));
        uint32_t v = nth(r, c, 3 + i);
        if (l < 0 && v && r->nodes[v].type != MS_IMAP_N_NIL && nstr(r, v, o->s1, STR_MAX) == 0)
            continue; /* "" for a field the part does not have: not judged */
        snprintf(what, sizeof(what), "%s, %s", label, hn[i]);
        cmp_text(o, r, v, val, l, what);
    }
    long el = field_text(hdr, "Content-Transfer-Encoding", val, sizeof(val));
    if (el < 0) /* RFC 2045 6.1: "Content-Transfer-Encoding: 7BIT" is assumed */
        el = (long)snprintf(val, sizeof(val), "7BIT");
    if (!str_ieq(r, nth(r, c, 5), (struct ms_slice){val, (size_t)el}, o->s1)) {
        char a[200], b[200];
        long gl = nstr(r, nth(r, c, 5), o->s1, STR_MAX);
        fail(o, "%s, body encoding: the server says %s; the part's is %s", label,
             shown(o->s1, gl, a, sizeof(a)), shown(val, el, b, sizeof(b)));
    }
    uint32_t oc = nth(r, c, 6);
    if (!oc || r->nodes[oc].type != MS_IMAP_N_NUMBER || r->nodes[oc].num != e->body_len)
        fail(o,
             "%s, body size: the server says %llu octets; the body has %zu (RFC 3501 7.4.2: "
             "the size in its transfer encoding)",
             label, oc ? (unsigned long long)r->nodes[oc].num : 0ULL, e->body_len);
    uint32_t next = nth(r, c, 7);
    if (e->message && e->child) {
        if (r->nodes[n].aux != MS_IMAP_BODY_MESSAGE) {
            fail(o, "%s: no envelope, body structure and lines after the basic fields", label);
            return;
        }
        const struct ms_mime_entity *enc = &m->mime.e[e->child - 1];
        snprintf(what, sizeof(what), "%s, the envelope of the message inside", label);
        cmp_envelope(o, r, next, ent_header(m, enc), what);
        next = next ? r->nodes[next].next : 0;
        cmp_body(o, r, next, m, e->child - 1, ext);
        next = next ? r->nodes[next].next : 0;
    }
    if (r->nodes[n].aux == MS_IMAP_BODY_TEXT || r->nodes[n].aux == MS_IMAP_BODY_MESSAGE) {
        /* lines: a last line without CRLF may count or not (servers differ) */
        if (!next || r->nodes[next].type != MS_IMAP_N_NUMBER ||
            (r->nodes[next].num != e->lines && r->nodes[next].num != e->lines_open))
            fail(o, "%s, size in text lines: the server says %llu; the body has %llu", label,
                 next ? (unsigned long long)r->nodes[next].num : 0ULL,
                 (unsigned long long)e->lines);
        next = next ? r->nodes[next].next : 0;
    }
    if (!ext) {
        if (next)
            fail(o,
                 "%s: BODY carries extension data (RFC 3501 7.4.2: \"Extension data is never "
                 "returned with the BODY fetch\")",
                 label);
        return;
    }
    /* extension data: body MD5 (not judged), body disposition */
    next = next ? r->nodes[next].next : 0;
    cmp_disposition(o, r, next, hdr, label);
}

static void cmp_body(struct oracle *o, const struct ms_imap_response *r, uint32_t n,
                     const struct mmsg *m, uint32_t ei, int ext)
{
    const struct ms_mime_entity *e = &m->mime.e[ei];
    char label[160];
    ent_label(e, label, sizeof(label));
    if (!n) {
        fail(o, "%s: missing from the body structure", label);
        return;
    }
    uint8_t role = r->nodes[n].role;
    if (e->multipart != (role == MS_IMAP_R_BODY_MPART)) {
        fail(o, "%s: the server describes it as %s", label,
             role == MS_IMAP_R_BODY_MPART ? "a multipart" : "a single part");
        return;
    }
    if (!e->multipart) {
        cmp_single(o, r, n, m, ei, ext, label);
        return;
    }
    if (r->nodes[n].aux != e->nchildren)
        fail(o, "%s: the server lists %u body parts; the message has %u", label, r->nodes[n].aux,
             e->nchildren);
    uint32_t c = r->nodes[n].child, k = 0;
    for (uint32_t ch = e->child; ch && k < r->nodes[n].aux; ch = m->mime.e[ch - 1].next, k++) {
        cmp_body(o, r, c, m, ch - 1, ext);
        c = c ? r->nodes[c].next : 0;
    }
    c = nth(r, r->nodes[n].child, r->nodes[n].aux); /* the subtype */
    if (!str_ieq(r, c, e->subtype, o->s1))
        fail(o, "%s: the multipart subtype is not \"%.*s\"", label, (int)e->subtype.len,
             e->subtype.ptr);
    uint32_t x = c ? r->nodes[c].next : 0;
    if (!ext && x)
        fail(o,
             "%s: BODY carries extension data (RFC 3501 7.4.2: \"Extension data is never "
             "returned with the BODY fetch\")",
             label);
    else if (ext && x) {
        char what[200];
        snprintf(what, sizeof(what), "%s, body parameters", label);
        cmp_params(o, r, x, e->params, e->nparams, what);
    }
}

/* ---- the checks ---- */

static void check_structure(struct oracle *o, int m, const char *item, int ext)
{
    unsigned seq = seq_of(o, m);
    size_t k = probe(o, "FETCH %u (%s)", seq, item);
    uint32_t a = fetch_att(o, k, seq, item, 0, item);
    if (!a || !msgs[m].mime.n)
        return;
    cmp_body(o, o->resp, att_value(o->resp, a), &msgs[m], 0, ext);
}

static void check_envelope(struct oracle *o, int m)
{
    unsigned seq = seq_of(o, m);
    size_t k = probe(o, "FETCH %u (ENVELOPE)", seq);
    uint32_t a = fetch_att(o, k, seq, "ENVELOPE", 0, "ENVELOPE");
    if (!a)
        return;
    char label[120];
    snprintf(label, sizeof(label), "ENVELOPE of message %u (%s)", seq, msgs[m].name);
    cmp_envelope(o, o->resp, att_value(o->resp, a), ent_header(&msgs[m], &msgs[m].mime.e[0]),
                 label);
}

/* BODY.PEEK[spec]<partial> of message m against want[0..wl). origin: the
 * partial's first octet, or -1 for none. */
static void check_bytes(struct oracle *o, int m, const char *att, const char *spec,
                        const char *want, size_t wl, long origin, size_t count)
{
    unsigned seq = seq_of(o, m);
    char item[200], partial[48] = "";
    if (origin >= 0)
        snprintf(partial, sizeof(partial), "<%ld.%zu>", origin, count);
    snprintf(item, sizeof(item), "%s%s]%s", att, spec, partial);
    size_t k = probe(o, "FETCH %u (%s)", seq, item);
    /* the answer's name: BODY[spec], BINARY[spec] (without .PEEK) */
    char name[64];
    size_t al = strlen(att);
    if (al > 6 && strncmp(att + al - 6, ".PEEK[", 6) == 0)
        snprintf(name, sizeof(name), "%.*s[", (int)(al - 6), att);
    else
        snprintf(name, sizeof(name), "%s", att);
    uint32_t a = fetch_att(o, k, seq, name, 1, item);
    if (!a)
        return;
    const struct ms_imap_response *r = o->resp;
    if (origin >= 0) {
        if ((size_t)origin >= wl) {
            wl = 0;
        } else {
            want += origin;
            wl -= (size_t)origin;
            wl = wl < count ? wl : count;
        }
        if (r->nodes[a].num != (uint64_t)origin + 1)
            fail(o, "FETCH %u (%s): the answer does not say <%ld> after the section", seq, item,
                 origin);
    }
    long gl = nstr(r, att_value(r, a), o->s1, STR_MAX);
    if (gl == (long)wl && memcmp(o->s1, want, wl) == 0)
        return;
    size_t d = 0;
    while (gl >= 0 && d < (size_t)gl && d < wl && o->s1[d] == want[d])
        d++;
    char a1[200], b1[200];
    if (gl < 0)
        fail(o,
             "FETCH %u (%s) of message \"%s\": the server sends %s; the message has %zu "
             "octets there",
             seq, item, msgs[m].name, gl == -1 ? "NIL" : "no string", wl);
    else
        fail(o,
             "FETCH %u (%s) of message \"%s\": the server sends %ld octets, the message has "
             "%zu there; they differ from octet %zu: the server's %s, the message's %s",
             seq, item, msgs[m].name, gl, wl, d, shown(o->s1 + d, gl - (long)d, a1, sizeof(a1)),
             shown(want + d, (long)(wl - d), b1, sizeof(b1)));
}

/* The entity of message m with IMAP part number sect. */
static const struct ms_mime_entity *part(int m, const char *sect)
{
    for (uint32_t i = 0; i < msgs[m].mime.n; i++)
        if (strcmp(msgs[m].mime.e[i].section, sect) == 0)
            return &msgs[m].mime.e[i];
    return NULL;
}

static void check_size(struct oracle *o, int m)
{
    unsigned seq = seq_of(o, m);
    size_t k = probe(o, "FETCH %u (RFC822.SIZE)", seq);
    uint32_t a = fetch_att(o, k, seq, "RFC822.SIZE", 0, "RFC822.SIZE");
    if (!a)
        return;
    uint32_t v = att_value(o->resp, a);
    if (!v || o->resp->nodes[v].num != msgs[m].len)
        fail(o, "RFC822.SIZE of message %u (%s): the server says %llu; %zu octets were appended",
             seq, msgs[m].name, v ? (unsigned long long)o->resp->nodes[v].num : 0ULL, msgs[m].len);
}

static void t_size(struct oracle *o)
{
    for (int m = 0; m < M_COUNT; m++)
        if (o->t->msgs & BIT(m))
            check_size(o, m);
}

static void t_bs_text(struct oracle *o)
{
    check_structure(o, M_SIMPLE, "BODYSTRUCTURE", 1);
    check_structure(o, M_8BIT, "BODYSTRUCTURE", 1);
}
static void t_bs_nosep(struct oracle *o)
{
    check_structure(o, M_NOSEP, "BODYSTRUCTURE", 1);
}
static void t_bs_mixed(struct oracle *o)
{
    check_structure(o, M_MIXED, "BODYSTRUCTURE", 1);
}
static void t_bs_nested(struct oracle *o)
{
    check_structure(o, M_ALT, "BODYSTRUCTURE", 1);
}
static void t_bs_rfc822(struct oracle *o)
{
    check_structure(o, M_RFC822, "BODYSTRUCTURE", 1);
}
static void t_bs_params(struct oracle *o)
{
    check_structure(o, M_PARAMS, "BODYSTRUCTURE", 1);
}
static void t_body(struct oracle *o)
{
    check_structure(o, M_MIXED, "BODY", 0);
    check_structure(o, M_RFC822, "BODY", 0);
}
static void t_env(struct oracle *o)
{
    check_envelope(o, M_SIMPLE);
    check_envelope(o, M_MIXED);
}
static void t_env_defaults(struct oracle *o)
{
    check_envelope(o, M_NOSEP);
    check_envelope(o, M_RFC822);
}
static void t_env_encoded(struct oracle *o)
{
    check_envelope(o, M_ENCODED);
}

static void t_header(struct oracle *o)
{
    static const int ms[] = {M_SIMPLE, M_MIXED, M_NOSEP};
    for (size_t i = 0; i < 3; i++) {
        const struct ms_mime_entity *e = &msgs[ms[i]].mime.e[0];
        check_bytes(o, ms[i], "BODY.PEEK[", "HEADER", msgs[ms[i]].bytes + e->hdr_off, e->hdr_len,
                    -1, 0);
    }
}
static void t_text(struct oracle *o)
{
    static const int ms[] = {M_SIMPLE, M_MIXED, M_NOSEP};
    for (size_t i = 0; i < 3; i++) {
        const struct ms_mime_entity *e = &msgs[ms[i]].mime.e[0];
        check_bytes(o, ms[i], "BODY.PEEK[", "TEXT", msgs[ms[i]].bytes + e->body_off, e->body_len,
                    -1, 0);
    }
}
static void t_full(struct oracle *o)
{
    static const int ms[] = {M_SIMPLE, M_NOSEP, M_ENCODED, M_PARAMS};
    for (size_t i = 0; i < 4; i++)
        check_bytes(o, ms[i], "BODY.PEEK[", "", msgs[ms[i]].bytes, msgs[ms[i]].len, -1, 0);
}
static void t_long(struct oracle *o)
{
    check_bytes(o, M_LONG, "BODY.PEEK[", "", msgs[M_LONG].bytes, msgs[M_LONG].len, -1, 0);
    check_size(o, M_LONG);
}
static void t_8bit(struct oracle *o)
{
    const struct ms_mime_entity *e = &msgs[M_8BIT].mime.e[0];
    check_bytes(o, M_8BIT, "BODY.PEEK[", "TEXT", msgs[M_8BIT].bytes + e->body_off, e->body_len, -1,
                0);
    check_bytes(o, M_8BIT, "BODY.PEEK[", "1", msgs[M_8BIT].bytes + e->body_off, e->body_len, -1, 0);
}

/* BODY[n] of every numbered entity of message m (the body of each part). */
static void parts_of(struct oracle *o, int m)
{
    for (uint32_t i = 0; i < msgs[m].mime.n; i++) {
        const struct ms_mime_entity *e = &msgs[m].mime.e[i];
        if (e->section[0])
            check_bytes(o, m, "BODY.PEEK[", e->section, msgs[m].bytes + e->body_off, e->body_len,
                        -1, 0);
    }
}
static void t_parts(struct oracle *o)
{
    parts_of(o, M_MIXED);
    parts_of(o, M_ALT);
}
static void t_rfc822_sections(struct oracle *o)
{
    parts_of(o, M_RFC822);
    for (uint32_t i = 0; i < msgs[M_RFC822].mime.n; i++) {
        const struct ms_mime_entity *e = &msgs[M_RFC822].mime.e[i];
        char spec[80];
        if (e->role != MS_MIME_ENCAP)
            continue;
        snprintf(spec, sizeof(spec), "%s.HEADER", e->msg_section);
        check_bytes(o, M_RFC822, "BODY.PEEK[", spec, msgs[M_RFC822].bytes + e->hdr_off, e->hdr_len,
                    -1, 0);
        snprintf(spec, sizeof(spec), "%s.TEXT", e->msg_section);
        check_bytes(o, M_RFC822, "BODY.PEEK[", spec, msgs[M_RFC822].bytes + e->body_off,
                    e->body_len, -1, 0);
    }
}
static void mime_of(struct oracle *o, int m)
{
    for (uint32_t i = 0; i < msgs[m].mime.n; i++) {
        const struct ms_mime_entity *e = &msgs[m].mime.e[i];
        char spec[80];
        if (e->role != MS_MIME_PART)
            continue;
        snprintf(spec, sizeof(spec), "%s.MIME", e->section);
        check_bytes(o, m, "BODY.PEEK[", spec, msgs[m].bytes + e->hdr_off, e->hdr_len, -1, 0);
    }
}
static void t_mime(struct oracle *o)
{
    mime_of(o, M_MIXED);
    mime_of(o, M_ALT);
    mime_of(o, M_RFC822);
}
static void t_partial(struct oracle *o)
{
    const struct mmsg *s = &msgs[M_SIMPLE], *x = &msgs[M_MIXED];
    check_bytes(o, M_SIMPLE, "BODY.PEEK[", "", s->bytes, s->len, 0, 10);
    check_bytes(o, M_SIMPLE, "BODY.PEEK[", "", s->bytes, s->len, 17, 25);
    const struct ms_mime_entity *e = &s->mime.e[0];
    check_bytes(o, M_SIMPLE, "BODY.PEEK[", "TEXT", s->bytes + e->body_off, e->body_len, 6, 9);
    /* running past the end: truncated */
    check_bytes(o, M_SIMPLE, "BODY.PEEK[", "TEXT", s->bytes + e->body_off, e->body_len,
                (long)e->body_len - 4, 100);
    const struct ms_mime_entity *p2 = part(M_MIXED, "2");
    if (p2)
        check_bytes(o, M_MIXED, "BODY.PEEK[", "2", x->bytes + p2->body_off, p2->body_len, 4, 12);
}
static void t_partial_beyond(struct oracle *o)
{
    const struct mmsg *s = &msgs[M_SIMPLE];
    check_bytes(o, M_SIMPLE, "BODY.PEEK[", "", s->bytes, s->len, (long)s->len + 10, 5);
}

/* The header lines of hdr whose names are (not: are not) in names, then
 * the empty line (RFC 3501 6.4.5), into out. */
static size_t header_subset(struct ms_slice hdr, const char *const *names, int not, char *out,
                            size_t cap)
{
    size_t pos = 0, o = 0;
    struct ms_slice name, line, value;
    while (ms_mime_next_field(hdr.ptr, hdr.len, &pos, &name, &line, &value)) {
        int in = 0;
        for (size_t i = 0; names[i]; i++)
            in |= ms_slice_ieq(name, names[i]);
        if (in != not &&o + line.len < cap) {
            memcpy(out + o, line.ptr, line.len);
            o += line.len;
        }
    }
    if (o + 2 <= cap) {
        memcpy(out + o, "\r\n", 2);
        o += 2;
    }
    return o;
}

static void fields_check(struct oracle *o, int m, const char *prefix, const char *const *names,
                         const char *list, int not, const struct ms_mime_entity *e)
{
    char want[4096], spec[200];
    size_t wl = header_subset(ent_header(&msgs[m], e), names, not, want, sizeof(want));
    snprintf(spec, sizeof(spec), "%sHEADER.FIELDS%s (%s)", prefix, not ? ".NOT" : "", list);
    check_bytes(o, m, "BODY.PEEK[", spec, want, wl, -1, 0);
}
static void t_fields(struct oracle *o)
{
    static const char *const names[] = {"Subject", "To", "X-Mailspec-Absent", NULL};
    fields_check(o, M_SIMPLE, "", names, "SUBJECT to X-Mailspec-Absent", 0,
                 &msgs[M_SIMPLE].mime.e[0]);
    fields_check(o, M_MIXED, "", names, "SUBJECT to X-Mailspec-Absent", 0,
                 &msgs[M_MIXED].mime.e[0]);
}
static void t_fields_not(struct oracle *o)
{
    static const char *const names[] = {"Subject", "To", "x-mailspec-tag", NULL};
    fields_check(o, M_SIMPLE, "", names, "Subject TO X-MAILSPEC-TAG", 1, &msgs[M_SIMPLE].mime.e[0]);
    fields_check(o, M_MIXED, "", names, "Subject TO X-MAILSPEC-TAG", 1, &msgs[M_MIXED].mime.e[0]);
}
static void t_fields_rfc822(struct oracle *o)
{
    static const char *const names[] = {"Subject", "Reply-To", NULL};
    for (uint32_t i = 0; i < msgs[M_RFC822].mime.n; i++) {
        const struct ms_mime_entity *e = &msgs[M_RFC822].mime.e[i];
        char prefix[80];
        if (e->role != MS_MIME_ENCAP)
            continue;
        snprintf(prefix, sizeof(prefix), "%s.", e->msg_section);
        fields_check(o, M_RFC822, prefix, names, "SUBJECT REPLY-TO", 0, e);
        fields_check(o, M_RFC822, prefix, names, "SUBJECT REPLY-TO", 1, e);
    }
}

/* The content of part sect of message m after its transfer encoding is
 * undone (RFC 2045 6.7 quoted-printable, 6.8 base64: OpenSSL's decoder). */
static size_t decoded(int m, const struct ms_mime_entity *e, char *out, size_t cap)
{
    char cte[64];
    long l = field_text(ent_header(&msgs[m], e), "Content-Transfer-Encoding", cte, sizeof(cte));
    const char *p = msgs[m].bytes + e->body_off;
    if (l == 16 && strncasecmp(cte, "quoted-printable", 16) == 0)
        return ms_mime_qp_decode(p, e->body_len, out, cap);
    if (l == 6 && strncasecmp(cte, "base64", 6) == 0) {
        EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
        int n1 = 0, n2 = 0;
        if (!ctx || e->body_len * 3 / 4 + 3 > cap)
            return 0;
        EVP_DecodeInit(ctx);
        if (EVP_DecodeUpdate(ctx, (unsigned char *)out, &n1, (const unsigned char *)p,
                             (int)e->body_len) < 0 ||
            EVP_DecodeFinal(ctx, (unsigned char *)out + n1, &n2) < 0)
            n1 = n2 = 0;
        EVP_ENCODE_CTX_free(ctx);
        return (size_t)(n1 + n2);
    }
    size_t n = e->body_len < cap ? e->body_len : cap;
    memcpy(out, p, n);
    return n;
}

static void binary_check(struct oracle *o, int m, const char *sect)
{
    const struct ms_mime_entity *e = part(m, sect);
    char *w = e ? malloc(8192) : NULL;
    if (!w)
        return;
    size_t wl = decoded(m, e, w, 8192);
    check_bytes(o, m, "BINARY.PEEK[", sect, w, wl, -1, 0);
    unsigned seq = seq_of(o, m);
    size_t k = probe(o, "FETCH %u (BINARY.SIZE[%s])", seq, sect);
    uint32_t a = fetch_att(o, k, seq, "BINARY.SIZE[", 1, "BINARY.SIZE");
    uint32_t v = a ? att_value(o->resp, a) : 0;
    if (a && (!v || o->resp->nodes[v].num != wl))
        fail(o,
             "FETCH %u (BINARY.SIZE[%s]): the server says %llu; the decoded part has %zu "
             "octets",
             seq, sect, v ? (unsigned long long)o->resp->nodes[v].num : 0ULL, wl);
    free(w);
}
static void t_binary_b64(struct oracle *o)
{
    binary_check(o, M_MIXED, "2");
}
static void t_binary_qp(struct oracle *o)
{
    binary_check(o, M_MIXED, "1");
}

/* ---- SEARCH ---- */

/* p[0..n) contains needle, ASCII case-insensitively (RFC 3501 6.4.4). */
static int bytes_have(const char *p, size_t n, const char *needle)
{
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= n; i++)
        if (strncasecmp(p + i, needle, nl) == 0)
            return 1;
    return 0;
}

/* Does the unfolded field name of message m contain needle (without case)? */
static int field_has(int m, const char *name, const char *needle)
{
    char v[2048];
    long l = field_text(ent_header(&msgs[m], &msgs[m].mime.e[0]), name, v, sizeof(v) - 1);
    if (l < 0)
        return 0;
    return bytes_have(v, (size_t)l, needle);
}

/* The numbers of a SEARCH list (sep ' ') or an ESEARCH ALL sequence set
 * (sep ',', ranges a:b) as bits 0..30; bit 31 for one beyond. */
static unsigned seq_bits(struct ms_slice s, char sep)
{
    unsigned got = 0;
    size_t a = 0;
    for (size_t j = 0; j <= s.len; j++) {
        if (j < s.len && s.ptr[j] != sep)
            continue;
        const char *colon = memchr(s.ptr + a, ':', j - a);
        uint64_t lo = 0, hi = 0;
        size_t n1 = colon ? (size_t)(colon - (s.ptr + a)) : j - a;
        if (j > a && ms_number_parse(s.ptr + a, n1, UINT32_MAX, &lo) == MS_OK &&
            (!colon || ms_number_parse(colon + 1, j - a - n1 - 1, UINT32_MAX, &hi) == MS_OK)) {
            if (!colon)
                hi = lo;
            if (lo > hi) {
                uint64_t t = lo;
                lo = hi;
                hi = t;
            }
            for (uint64_t v = lo; v <= hi && v <= 32; v++)
                got |= v >= 1 && v <= 31 ? 1u << (v - 1) : 1u << 31;
            if (hi > 32)
                got |= 1u << 31;
        } else if (j > a) {
            got |= 1u << 31;
        }
        a = j + 1;
    }
    return got;
}

static void search_check(struct oracle *o, const char *key, unsigned want)
{
    size_t k = probe(o, "SEARCH %s", key);
    if (o->pass != 1 || k >= o->nprobes)
        return;
    unsigned got = 0;
    int seen = 0;
    for (size_t i = o->from[k]; i < o->to[k]; i++) {
        if (parse_got(o, i) != 0)
            continue;
        const struct ms_imap_response *r = o->resp;
        if (r->type == MS_IMAP_SEARCH) {
            seen = 1;
            uint32_t d = r->data;
            if (d && r->nodes[d].role == MS_IMAP_R_NUMLIST)
                got |= seq_bits(r->nodes[d].s, ' ');
        } else if (r->type == MS_IMAP_ESEARCH) {
            /* an IMAP4rev2 server answers ESEARCH (RFC 9051 7.3.4): its ALL */
            seen = 1;
            for (uint32_t d = r->data; d; d = r->nodes[d].next) {
                uint32_t nm = r->nodes[d].role == MS_IMAP_R_ATTR ? r->nodes[d].child : 0;
                uint32_t v = nm ? r->nodes[nm].next : 0;
                if (v && ms_slice_ieq(r->nodes[nm].s, "ALL"))
                    got |= seq_bits(r->nodes[v].s, ',');
            }
        }
    }
    if (!seen) {
        fail(o, "SEARCH %s: the server sent no SEARCH response", key);
        return;
    }
    if (got == want)
        return;
    char g[160] = "", w[160] = "";
    for (unsigned i = 0; i < 32; i++) {
        if (got & (1u << i))
            snprintf(g + strlen(g), sizeof(g) - strlen(g), " %u", i + 1);
        if (want & (1u << i))
            snprintf(w + strlen(w), sizeof(w) - strlen(w), " %u", i + 1);
    }
    fail(o, "SEARCH %s: the server found messages {%s }; the messages that match are {%s }", key, g,
         w);
}

/* The sequence numbers of this test's messages for which pred holds. */
static unsigned set_where(const struct oracle *o, int (*pred)(int m, const void *arg),
                          const void *arg)
{
    unsigned s = 0;
    for (int m = 0; m < M_COUNT; m++)
        if ((o->t->msgs & BIT(m)) && pred(m, arg))
            s |= 1u << (seq_of(o, m) - 1);
    return s;
}

struct fpred {
    const char *field, *needle;
};
static int p_field(int m, const void *arg)
{
    const struct fpred *f = arg;
    return field_has(m, f->field, f->needle);
}
static int p_has_field(int m, const void *arg)
{
    struct ms_slice line, value;
    const struct ms_mime_entity *e = &msgs[m].mime.e[0];
    return ms_mime_field(msgs[m].bytes + e->hdr_off, e->hdr_len, arg, strlen(arg), 0, &line,
                         &value);
}
static int p_larger(int m, const void *arg)
{
    return msgs[m].len > *(const size_t *)arg;
}
static int p_smaller(int m, const void *arg)
{
    return msgs[m].len < *(const size_t *)arg;
}
static int p_body(int m, const void *arg)
{
    const struct ms_mime_entity *e = &msgs[m].mime.e[0];
    return bytes_have(msgs[m].bytes + e->body_off, e->body_len, arg);
}
static int p_text(int m, const void *arg)
{
    return bytes_have(msgs[m].bytes, msgs[m].len, arg);
}

static void t_search_header(struct oracle *o)
{
    static const struct fpred from = {"From", "example.org"}, subj = {"Subject", "QUARTERLY"},
                              to = {"To", "carol@example.com"}, tag = {"X-Mailspec-Tag", "blue"};
    search_check(o, "FROM \"example.org\"", set_where(o, p_field, &from));
    search_check(o, "SUBJECT \"QUARTERLY\"", set_where(o, p_field, &subj));
    search_check(o, "TO carol@example.com", set_where(o, p_field, &to));
    search_check(o, "HEADER X-Mailspec-Tag \"blue\"", set_where(o, p_field, &tag));
}
static void t_search_header_empty(struct oracle *o)
{
    search_check(o, "HEADER X-Mailspec-Tag \"\"", set_where(o, p_has_field, "X-Mailspec-Tag"));
}
static void t_search_size(struct oracle *o)
{
    size_t s = msgs[M_SIMPLE].len, x = msgs[M_MIXED].len;
    char key[64];
    snprintf(key, sizeof(key), "LARGER %zu", s);
    search_check(o, key, set_where(o, p_larger, &s));
    snprintf(key, sizeof(key), "SMALLER %zu", s);
    search_check(o, key, set_where(o, p_smaller, &s));
    snprintf(key, sizeof(key), "LARGER %zu", x - 1);
    size_t x1 = x - 1;
    search_check(o, key, set_where(o, p_larger, &x1));
}
static void t_search_text(struct oracle *o)
{
    search_check(o, "BODY zebraword", set_where(o, p_body, "zebraword"));
    search_check(o, "TEXT zebraword", set_where(o, p_text, "zebraword"));
    search_check(o, "TEXT \"alternative inside\"", set_where(o, p_text, "alternative inside"));
}
static void t_search_flags(struct oracle *o)
{
    unsigned all = (1u << seq_of(o, M_PARAMS)) - 1, seen = 1u << (seq_of(o, M_MIXED) - 1);
    search_check(o, "SEEN", seen);
    search_check(o, "UNSEEN", all & ~seen);
}
static void t_search_logic(struct oracle *o)
{
    static const struct fpred subj = {"Subject", "quarterly"}, from = {"From", "bob@"};
    unsigned all = set_where(o, p_text, ""), s = set_where(o, p_field, &subj),
             f = set_where(o, p_field, &from);
    search_check(o, "ALL", all);
    search_check(o, "NOT SUBJECT quarterly", all & ~s);
    search_check(o, "OR SUBJECT quarterly FROM bob@", s | f);
    search_check(o, "2:3", 6u & all);
    search_check(o, "1,3:* NOT 4", all & ~2u & ~8u);
}

/* ---- SORT (RFC 5256) ---- */

/* RFC 5322 3.3 date-time ("[Dow,] D Mon YYYY HH:MM[:SS] +ZZZZ") as minutes
 * since 1970 in UTC (RFC 5256 2.2: the sent date, by its zone); -1 when it
 * does not read. Enough for the oracle's own Date fields. */
static long long date_minutes(const char *v, size_t n)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const char *comma = memchr(v, ',', n);
    size_t i = comma ? (size_t)(comma - v) + 1 : 0;
    uint64_t num[5] = {0}, zone = 0; /* day, year, hour, minute, second */
    int mon = -1, k = 0, sign = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == ':'))
            i++;
        size_t a = i;
        while (i < n && v[i] != ' ' && v[i] != ':')
            i++;
        if (i == a)
            break;
        if (k == 1 && mon < 0) { /* the month name, after the day */
            for (int m = 0; m < 12; m++)
                if (i - a == 3 && strncasecmp(v + a, months + 3 * m, 3) == 0)
                    mon = m;
            if (mon < 0)
                return -1;
        } else if (v[a] == '+' || v[a] == '-') { /* the zone ends it */
            sign = v[a] == '-' ? -1 : 1;
            if (ms_number_parse(v + a + 1, i - a - 1, 9999, &zone) != MS_OK)
                return -1;
            break;
        } else if (k < 5 && ms_number_parse(v + a, i - a, 9999, &num[k]) == MS_OK) {
            k++;
        } else {
            return -1;
        }
    }
    if (k < 4 || mon < 0 || !sign)
        return -1;
    /* days from 1970-01-01 (Howard Hinnant's days_from_civil) */
    long long y = (long long)num[1] - (mon < 2), m = mon + 1, d = (long long)num[0];
    long long era = y / 400, yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    long long z = (long long)(zone / 100 * 60 + zone % 100) * sign;
    return days * 1440 + (long long)num[2] * 60 + (long long)num[3] - z;
}

static long long sort_key(int m, int by_date)
{
    if (!by_date)
        return (long long)msgs[m].len;
    char v[200];
    long l = field_text(ent_header(&msgs[m], &msgs[m].mime.e[0]), "Date", v, sizeof(v));
    return l < 0 ? -1 : date_minutes(v, (size_t)l);
}

/* SORT (criterion) US-ASCII ALL against the order the oracle computes (the
 * messages' keys are distinct, so no tie-break is involved). */
static void sort_check(struct oracle *o, const char *criterion, int by_date, int reverse)
{
    unsigned want[M_COUNT], nw = 0;
    long long key[M_COUNT];
    for (int m = 0; m < M_COUNT; m++)
        if (o->t->msgs & BIT(m)) {
            key[nw] = sort_key(m, by_date);
            want[nw++] = seq_of(o, m);
        }
    for (unsigned a = 1; a < nw; a++) /* insertion sort: a handful of messages */
        for (unsigned b = a; b > 0 && (reverse ? key[b] > key[b - 1] : key[b] < key[b - 1]); b--) {
            long long tk = key[b];
            unsigned ts = want[b];
            key[b] = key[b - 1], want[b] = want[b - 1];
            key[b - 1] = tk, want[b - 1] = ts;
        }
    size_t k = probe(o, "SORT (%s) US-ASCII ALL", criterion);
    if (o->pass != 1 || k >= o->nprobes)
        return;
    char g[160] = "", w[160] = "";
    int seen = 0;
    for (size_t i = o->from[k]; i < o->to[k]; i++) {
        if (parse_got(o, i) != 0 || o->resp->type != MS_IMAP_SORT)
            continue;
        seen = 1;
        uint32_t d = o->resp->data;
        if (d && o->resp->nodes[d].role == MS_IMAP_R_NUMLIST)
            snprintf(g + strlen(g), sizeof(g) - strlen(g), " %.*s", (int)o->resp->nodes[d].s.len,
                     o->resp->nodes[d].s.ptr);
    }
    for (unsigned j = 0; j < nw; j++)
        snprintf(w + strlen(w), sizeof(w) - strlen(w), " %u", want[j]);
    if (!seen)
        fail(o, "SORT (%s): the server sent no SORT response", criterion);
    else if (strcmp(g, w) != 0)
        fail(o, "SORT (%s): the server's order is (%s ); the messages' order is (%s )", criterion,
             g, w);
}

static void t_sort_size(struct oracle *o)
{
    sort_check(o, "SIZE", 0, 0);
    sort_check(o, "REVERSE SIZE", 0, 1);
}
static void t_sort_date(struct oracle *o)
{
    sort_check(o, "DATE", 1, 0);
    sort_check(o, "REVERSE DATE", 1, 1);
}

/* ---- the tests ---- */

#define Q_BODYSIZE                                                                                 \
    "A number giving the size of the body in octets. Note that this size is the size in its "      \
    "transfer encoding and not the resulting size after any decoding."
#define Q_SECTION "A string expressing the body contents of the specified section."
#define Q_MSG                                                                                      \
    "A body type of type MESSAGE and subtype RFC822 contains, immediately after the basic "        \
    "fields, the envelope structure, body structure, and size in text lines of the "               \
    "encapsulated message."
#define Q_FIELDS                                                                                   \
    "The subset returned by HEADER.FIELDS contains only those header fields with a field-name "    \
    "that matches one of the names in the list; similarly, the subset returned by "                \
    "HEADER.FIELDS.NOT contains only the header fields with a non-matching field-name."
#define Q_SUBSTR                                                                                   \
    "In all search keys that use strings, a message matches the key if the string is a "           \
    "substring of the field. The matching is case-insensitive."

#define ALLM M_ALL
/* the Date fields differ in day or zone: no two sort equal */
#define SORTSET   (BIT(M_SIMPLE) | BIT(M_NOSEP) | BIT(M_8BIT) | BIT(M_MIXED) | BIT(M_RFC822))
#define SEARCHSET (BIT(M_SIMPLE) | BIT(M_NOSEP) | BIT(M_ENCODED) | BIT(M_MIXED) | BIT(M_ALT))

static const struct mtest tests[] = {
    {"rfc822-size", "RFC822.SIZE is the size of the message appended", "3501 7.4.2",
     "RFC822.SIZE A number expressing the [RFC-2822] size of the message.", MS_LEVEL_INFO,
     ALLM & ~BIT(M_LONG), NULL, NULL, t_size},
    {"bodystructure.text", "BODYSTRUCTURE of text/plain messages: type, parameters, size, lines",
     "3501 7.4.2",
     "A body type of type TEXT contains, immediately after the basic fields, the size of the "
     "body in text lines.",
     MS_LEVEL_INFO, BIT(M_SIMPLE) | BIT(M_8BIT), NULL, NULL, t_bs_text},
    {"bodystructure.no-separator", "BODYSTRUCTURE of a message without a body", "3501 7.4.2",
     Q_BODYSIZE, MS_LEVEL_INFO, BIT(M_NOSEP), NULL, NULL, t_bs_nosep},
    {"bodystructure.multipart", "BODYSTRUCTURE of multipart/mixed: parts, encodings, sizes",
     "3501 7.4.2", Q_BODYSIZE, MS_LEVEL_INFO, BIT(M_MIXED), NULL, NULL, t_bs_mixed},
    {"bodystructure.nested", "BODYSTRUCTURE of multipart/alternative inside multipart/mixed",
     "3501 7.4.2",
     "Multiple parts are indicated by parenthesis nesting. Instead of a body type as the first "
     "element of the parenthesized list, there is a sequence of one or more nested body "
     "structures.",
     MS_LEVEL_INFO, BIT(M_ALT), NULL, NULL, t_bs_nested},
    {"bodystructure.rfc822", "BODYSTRUCTURE of a message/rfc822 part: envelope, body, lines",
     "3501 7.4.2", Q_MSG, MS_LEVEL_INFO, BIT(M_RFC822), NULL, NULL, t_bs_rfc822},
    {"bodystructure.params", "BODYSTRUCTURE parameters in quoted strings, decoded", "3501 7.4.2",
     "A parenthesized list of attribute/value pairs [e.g., (\"foo\" \"bar\" \"baz\" \"rag\") "
     "where \"bar\" is the value of \"foo\" and \"rag\" is the value of \"baz\"] as defined in "
     "[MIME-IMB].",
     MS_LEVEL_INFO, BIT(M_PARAMS), NULL, NULL, t_bs_params},
    {"body.non-extensible", "BODY is BODYSTRUCTURE without extension data", "3501 7.4.2",
     "A form of BODYSTRUCTURE without extension data.", MS_LEVEL_INFO, BIT(M_MIXED) | BIT(M_RFC822),
     NULL, NULL, t_body},
    {"envelope.fields", "ENVELOPE date, subject, addresses, in-reply-to, message-id", "3501 7.4.2",
     "The fields of the envelope structure are in the following order: date, subject, from, "
     "sender, reply-to, to, cc, bcc, in-reply-to, and message-id.",
     MS_LEVEL_INFO, BIT(M_SIMPLE) | BIT(M_MIXED), NULL, NULL, t_env},
    {"envelope.defaults", "ENVELOPE sender and reply-to default to from; absent fields are NIL",
     "3501 7.4.2",
     "Note that the server MUST default the reply-to and sender fields from the from field; a "
     "client is not expected to know to do this.",
     MS_LEVEL_MUST, BIT(M_NOSEP) | BIT(M_RFC822), NULL, NULL, t_env_defaults},
    {"envelope.encoded-words", "ENVELOPE keeps RFC 2047 encoded words as sent", "3501 7.4.2",
     "This is computed by the server by parsing the [RFC-2822] header into the component parts, "
     "defaulting various fields as necessary.",
     MS_LEVEL_INFO, BIT(M_ENCODED), NULL, NULL, t_env_encoded},
    {"section.header", "BODY[HEADER] is the header with its empty line", "3501 6.4.5",
     "The HEADER, HEADER.FIELDS, and HEADER.FIELDS.NOT part specifiers refer to the [RFC-2822] "
     "header of the message or of an encapsulated [MIME-IMT] MESSAGE/RFC822 message.",
     MS_LEVEL_INFO, BIT(M_SIMPLE) | BIT(M_NOSEP) | BIT(M_MIXED), NULL, NULL, t_header},
    {"section.text", "BODY[TEXT] is the body without the header", "3501 6.4.5",
     "The TEXT part specifier refers to the text body of the message, omitting the [RFC-2822] "
     "header.",
     MS_LEVEL_INFO, BIT(M_SIMPLE) | BIT(M_NOSEP) | BIT(M_MIXED), NULL, NULL, t_text},
    {"section.full", "BODY[] is the message as appended", "3501 7.4.2", Q_SECTION, MS_LEVEL_INFO,
     BIT(M_SIMPLE) | BIT(M_NOSEP) | BIT(M_ENCODED) | BIT(M_PARAMS), NULL, NULL, t_full},
    {"section.parts", "BODY[n] of every part of nested multiparts", "3501 6.4.5",
     "Multipart messages are assigned consecutive part numbers, as are immediate sub-parts of "
     "multipart messages.",
     MS_LEVEL_INFO, BIT(M_MIXED) | BIT(M_ALT), NULL, NULL, t_parts},
    {"section.rfc822", "BODY[n], n.HEADER, n.TEXT and n.1 of a message/rfc822 part", "3501 6.4.5",
     "The HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, and TEXT part specifiers can be the sole "
     "part specifier or can be prefixed by one or more numeric part specifiers, provided that "
     "the numeric part specifier refers to a part of type MESSAGE/RFC822.",
     MS_LEVEL_INFO, BIT(M_RFC822), NULL, NULL, t_rfc822_sections},
    {"section.mime", "BODY[n.MIME] is the part's MIME header", "3501 6.4.5",
     "The MIME part specifier refers to the [MIME-IMB] header for this part.", MS_LEVEL_INFO,
     BIT(M_MIXED) | BIT(M_ALT) | BIT(M_RFC822), NULL, NULL, t_mime},
    {"section.partial", "BODY[section]<origin.count> is that substring, cut at the end",
     "3501 7.4.2",
     "If the origin octet is specified, this string is a substring of the entire body contents, "
     "starting at that origin octet.",
     MS_LEVEL_INFO, BIT(M_SIMPLE) | BIT(M_MIXED), NULL, NULL, t_partial},
    {"section.partial-beyond", "BODY[]<origin.count> past the end is an empty string", "3501 6.4.5",
     "If the starting octet is beyond the end of the text, an empty string is "
     "returned.",
     MS_LEVEL_INFO, BIT(M_SIMPLE), NULL, NULL, t_partial_beyond},
    {"section.header-fields", "BODY[HEADER.FIELDS (...)] holds exactly the named fields",
     "3501 6.4.5", Q_FIELDS, MS_LEVEL_INFO, BIT(M_SIMPLE) | BIT(M_MIXED), NULL, NULL, t_fields},
    {"section.header-fields-not", "BODY[HEADER.FIELDS.NOT (...)] holds every other field",
     "3501 6.4.5", Q_FIELDS, MS_LEVEL_INFO, BIT(M_SIMPLE) | BIT(M_MIXED), NULL, NULL, t_fields_not},
    {"section.header-fields-rfc822", "BODY[n.HEADER.FIELDS(.NOT)] of a message/rfc822 part",
     "3501 6.4.5", Q_FIELDS, MS_LEVEL_INFO, BIT(M_RFC822), NULL, NULL, t_fields_rfc822},
    {"long-line", "A message with a 1200-octet line comes back unchanged", "3501 7.4.2", Q_SECTION,
     MS_LEVEL_INFO, BIT(M_LONG), NULL, NULL, t_long},
    {"8bit-body", "An 8bit UTF-8 body comes back unchanged in BODY[TEXT] and BODY[1]", "3501 7.4.2",
     Q_SECTION, MS_LEVEL_INFO, BIT(M_8BIT), NULL, NULL, t_8bit},
    {"binary.base64", "BINARY[n] of a base64 part is the decoded content, BINARY.SIZE its size",
     "3516 4.3",
     "An <nstring> or <literal8> expressing the content of the specified section after removing "
     "any Content-Transfer-Encoding-related encoding.",
     MS_LEVEL_INFO, BIT(M_MIXED), "BINARY", NULL, t_binary_b64},
    {"binary.quoted-printable", "BINARY[n] of a quoted-printable part is the decoded content",
     "3516 4.3",
     "An <nstring> or <literal8> expressing the content of the specified section after removing "
     "any Content-Transfer-Encoding-related encoding.",
     MS_LEVEL_INFO, BIT(M_MIXED), "BINARY", NULL, t_binary_qp},
    {"search.header", "SEARCH FROM, SUBJECT, TO, HEADER find the messages whose field has it",
     "3501 6.4.4", Q_SUBSTR, MS_LEVEL_INFO, SEARCHSET, NULL, NULL, t_search_header},
    {"search.header-empty", "SEARCH HEADER name \"\" finds every message with that field",
     "9051 6.4.4",
     "If the string to search is zero-length, this matches all messages that have a header line "
     "with the specified field-name regardless of the contents.",
     MS_LEVEL_INFO, SEARCHSET, NULL, NULL, t_search_header_empty},
    {"search.size", "SEARCH LARGER and SMALLER compare with the exact size", "3501 6.4.4",
     "LARGER <n> Messages with an [RFC-2822] size larger than the specified number of octets.",
     MS_LEVEL_INFO, SEARCHSET, NULL, NULL, t_search_size},
    {"search.text", "SEARCH BODY and TEXT find a word of a plain text body", "3501 6.4.4",
     "BODY <string> Messages that contain the specified string in the body of the message.",
     MS_LEVEL_INFO, SEARCHSET, NULL, NULL, t_search_text},
    {"search.flags", "SEARCH SEEN and UNSEEN after STORE +FLAGS (\\Seen)", "3501 6.4.4",
     "SEEN Messages that have the \\Seen flag set.", MS_LEVEL_INFO,
     BIT(M_SIMPLE) | BIT(M_MIXED) | BIT(M_PARAMS), NULL, "STORE2", t_search_flags},
    {"search.logic", "SEARCH ALL, NOT, OR and sequence sets", "3501 6.4.4",
     "OR <search-key1> <search-key2> Messages that match either search key.", MS_LEVEL_INFO,
     SEARCHSET, NULL, NULL, t_search_logic},
    {"sort.size", "SORT (SIZE) and (REVERSE SIZE) order the messages by their size", "5256 3",
     "SIZE Size of the message in octets.", MS_LEVEL_INFO, SORTSET, "SORT", NULL, t_sort_size},
    {"sort.date", "SORT (DATE) and (REVERSE DATE) order by the Date field in UTC", "5256 3",
     "DATE Sent date and time, as described in section 2.2.", MS_LEVEL_INFO, SORTSET, "SORT", NULL,
     t_sort_date},
};
#define NTESTS (sizeof(tests) / sizeof(tests[0]))

/* ---- generating the script ---- */

static const struct mtest *find_test(const char *path)
{
    static const char pre[] = MIME_PREFIX "imap.mime.";
    if (strncmp(path, pre, sizeof(pre) - 1) != 0)
        return NULL;
    for (size_t i = 0; i < NTESTS; i++)
        if (strcmp(path + sizeof(pre) - 1, tests[i].id) == 0)
            return &tests[i];
    return NULL;
}

int certify_mime_path(const char *path)
{
    return strncmp(path, MIME_PREFIX, sizeof(MIME_PREFIX) - 1) == 0;
}

int certify_mime_add(struct certify *c)
{
    if (c->suite || strcmp(c->protocol, "imap") != 0)
        return 0;
    struct cert_test *nt = realloc(c->t, (c->n + NTESTS) * sizeof(*c->t));
    if (!nt)
        return -1;
    c->t = nt;
    for (size_t i = 0; i < NTESTS; i++) {
        char p[128];
        snprintf(p, sizeof(p), MIME_PREFIX "imap.mime.%s", tests[i].id);
        memset(&c->t[c->n], 0, sizeof(c->t[c->n]));
        if (!(c->t[c->n].path = strdup(p)))
            return -1;
        c->n++;
    }
    return 0;
}

/* The message's bytes as the text of a C: line (docs/session-format.md escapes). */
static void put_escaped(FILE *f, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '\r')
            fputs("\\r", f);
        else if (ch == '\n')
            fputs("\\n", f);
        else if (ch < 0x20 || ch >= 0x7f || ch == '\\' || ch == '$')
            fprintf(f, "\\x%02X", ch);
        else
            fputc(ch, f);
    }
}

/* The mailbox of test t: a short unique name under the run. */
static void mbox_name(const struct mtest *t, char *out, size_t cap)
{
    snprintf(out, cap, "${prefix}mailspec-${run}-mime%zu", (size_t)(t - tests));
}

static char *gen_script(const struct mtest *t, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    char mb[96];
    if (!f)
        return NULL;
    mbox_name(t, mb, sizeof(mb));
    fprintf(f,
            "@test imap.mime.%s\n@title %s\n@rfc %s\n@quote %s\n@level %s\n@protocol imap\n"
            "@phase setup\nS: * OK ${*}\n@allow * ${*}\nC: C0 CAPABILITY\nS: C0 OK${*}\n"
            "C: L1 LOGIN \"${user}\" \"${password}\"\nS: L1 OK${*}\n",
            t->id, t->title, t->rfc, t->quote, ms_level_name(t->level));
    if (t->requires)
        fprintf(f, "C: C1 CAPABILITY\nS: C1 OK${*}\n@requires %s\n", t->requires);
    fprintf(f,
            "C: N1 NAMESPACE\nS: * NAMESPACE ((${mbox:prefix} ${*})${*}\nS: N1 OK${*}\n"
            "C: M1 CREATE \"%s\"\nS: M1 OK${*}\n",
            mb);
    for (int m = 0; m < M_COUNT; m++) {
        if (!(t->msgs & BIT(m)))
            continue;
        fprintf(f, "C: A%d APPEND \"%s\" {%zu}\nS: + ${*}\nC: ", m, mb, msgs[m].len);
        put_escaped(f, msgs[m].bytes, msgs[m].len);
        fputc('\n', f);
        if (m == M_LONG) /* a line above RFC 5322 2.1.1's 998: a server may refuse it */
            fprintf(f, "@unsupported A%d NO${*}\n@unsupported A%d BAD${*}\n", m, m);
        fprintf(f, "S: A%d OK${*}\n", m);
    }
    fprintf(f, "C: S1 SELECT \"%s\"\nS: S1 OK${*}\n", mb);
    if (t->setup && strcmp(t->setup, "STORE2") == 0) /* \Seen on the second message */
        fprintf(f, "C: F1 STORE 2 +FLAGS.SILENT (\\\\Seen)\nS: F1 OK${*}\n");
    fprintf(f, "@phase check\n");
    struct oracle o;
    memset(&o, 0, sizeof(o));
    o.t = t;
    o.script = f;
    t->check(&o);
    fprintf(f,
            "@phase cleanup\nC: Z1 CLOSE\nS: Z1 OK${*}\nC: Z2 DELETE \"%s\"\nS: Z2 OK${*}\n"
            "C: Z3 LOGOUT\nS: * BYE ${*}\nS: Z3 OK${*}\n",
            mb);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

struct ms_script *certify_mime_script(const char *path, struct ms_script_error *se)
{
    const struct mtest *t = find_test(path);
    se->line = se->col = 0;
    if (!t) {
        se->reason = "no such MIME oracle test";
        return NULL;
    }
    pthread_once(&msgs_once, msgs_build);
    size_t len = 0;
    char *text = gen_script(t, &len);
    if (!text) {
        se->reason = "out of memory";
        return NULL;
    }
    struct ms_script *s = ms_script_parse(text, len, se);
    free(text);
    return s;
}

/* ---- running and judging ---- */

static void on_message(void *ctx, const char *p, size_t n)
{
    struct oracle *o = ctx;
    if (o->broken || o->bytes + n > 64u * 1024 * 1024)
        return;
    if (o->ngot == o->capgot) {
        size_t nc = o->capgot ? 2 * o->capgot : 64;
        struct collected *g = realloc(o->got, nc * sizeof(*g));
        if (!g) {
            o->broken = 1;
            return;
        }
        o->got = g;
        o->capgot = nc;
    }
    char *c = malloc(n ? n : 1);
    if (!c) {
        o->broken = 1;
        return;
    }
    memcpy(c, p, n);
    o->got[o->ngot].p = c;
    o->got[o->ngot].len = n;
    o->ngot++;
    o->bytes += n;
}

/* Where each probe's answer is: the messages between the previous tagged
 * response and "P<k> OK". */
static void index_probes(struct oracle *o)
{
    size_t last = 0;
    for (size_t i = 0; i < o->ngot; i++) {
        if (parse_got(o, i) != 0 || o->resp->kind != MS_IMAP_TAGGED)
            continue;
        struct ms_slice tag = o->resp->tag;
        uint64_t k = 0;
        if (tag.len > 1 && tag.ptr[0] == 'P' &&
            ms_number_parse(tag.ptr + 1, tag.len - 1, 100000, &k) == MS_OK && k < o->nprobes) {
            o->from[k] = last;
            o->to[k] = i;
        }
        last = i + 1;
    }
}

static char *dupf(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", a, *a && *b ? "\n" : "", b);
    return s;
}

void certify_mime_run(const struct ms_script *s, const char *path, const struct ms_run_opts *ro,
                      struct ms_test_result *r)
{
    const struct mtest *t = find_test(path);
    struct oracle o;
    struct ms_run_opts opts = *ro;

    memset(&o, 0, sizeof(o));
    o.t = t;
    opts.on_message = on_message;
    opts.on_message_ctx = &o;
    ms_run_script(s, path, &opts, r);
    if (t && r->result == MS_RES_PASS) {
        o.pass = 1;
        o.nprobes = 1024;
        o.from = calloc(o.nprobes, sizeof(size_t));
        o.to = calloc(o.nprobes, sizeof(size_t));
        o.resp = malloc(sizeof(*o.resp));
        o.s1 = malloc(STR_MAX);
        o.s2 = malloc(STR_MAX);
        ms_limits_default(&o.lim);
        o.lim.imap_literal = MS_RUN_IMAP_LITERAL;
        if (!o.from || !o.to || !o.resp || !o.s1 || !o.s2 || o.broken) {
            r->result = MS_RES_ERROR;
            free(r->message);
            r->message = strdup("out of memory while judging the answers");
        } else {
            index_probes(&o);
            t->check(&o);
            if (o.fails) {
                char *m = dupf(o.why, r->message ? r->message : "");
                r->result = MS_RES_FAIL;
                free(r->message);
                r->message = m;
            }
        }
    }
    for (size_t i = 0; i < o.ngot; i++)
        free(o.got[i].p);
    free(o.got);
    free(o.from);
    free(o.to);
    free(o.resp);
    free(o.s1);
    free(o.s2);
}
