/*
 * The built-in responder of `mailspec serve` (serve.h): a small compliant
 * server for what a script does not script - greeting, capabilities,
 * STARTTLS, login (PLAIN, LOGIN), and one mailbox of two messages (IMAP
 * SELECT/FETCH/SEARCH/STORE/EXPUNGE, POP3 STAT/LIST/UIDL/RETR/TOP/DELE, SMTP
 * EHLO/MAIL/RCPT/DATA). It answers from the typed views of the strict
 * command parsers; what it does not implement it refuses in the protocol's
 * words (IMAP BAD/NO, SMTP 502, POP3 -ERR), never with a made-up success.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "mailspec/imap_command.h"
#include "mailspec/pop3.h"
#include "mailspec/smtp.h"
#include "serve.h"

/* The mailbox: two plain-text messages (RFC 5322), UIDs 1 and 2. */
static const struct {
    const char *header, *body, *date, *envelope;
} msgs[2] = {
    {"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\n"
     "Subject: First message\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
     "Message-ID: <1@mailspec.invalid>\r\n\r\n",
     "Hello Bob,\r\nthis is the first message.\r\n", "01-Jan-2024 10:00:00 +0000",
     "(\"Mon, 01 Jan 2024 10:00:00 +0000\" \"First message\" ((\"Alice\" NIL \"alice\" "
     "\"example.org\")) ((\"Alice\" NIL \"alice\" \"example.org\")) ((\"Alice\" NIL \"alice\" "
     "\"example.org\")) ((\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL "
     "\"<1@mailspec.invalid>\")"},
    {"From: Carol <carol@example.org>\r\nTo: Bob <bob@example.org>\r\n"
     "Subject: Second message\r\nDate: Tue, 02 Jan 2024 11:00:00 +0000\r\n"
     "Message-ID: <2@mailspec.invalid>\r\n\r\n",
     "Hi Bob,\r\nthe second one.\r\n.leading dot\r\n", "02-Jan-2024 11:00:00 +0000",
     "(\"Tue, 02 Jan 2024 11:00:00 +0000\" \"Second message\" ((\"Carol\" NIL \"carol\" "
     "\"example.org\")) ((\"Carol\" NIL \"carol\" \"example.org\")) ((\"Carol\" NIL \"carol\" "
     "\"example.org\")) ((\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL "
     "\"<2@mailspec.invalid>\")"},
};

/* @mailbox tricky: message 2's text holds lines that look like responses in
 * every protocol, and a lone "." (RFC 1939 3: dot-stuffed in RETR); a client
 * must read them as data (inside an IMAP literal, a POP3 multi-line body). */
static const char tricky_body[] = "Hi Bob,\r\n* BYE this line is message text\r\n"
                                  "A001 OK neither is this\r\n.\r\n+OK nor this\r\n"
                                  "250 nor this\r\n";

static const char *body_of(const struct sv_resp *r, int i)
{
    return r->tricky && i == 1 ? tricky_body : msgs[i].body;
}

enum { F_SEEN = 1, F_ANSWERED = 2, F_FLAGGED = 4, F_DELETED = 8, F_DRAFT = 16 };
static const char *const flag_names[5] = {"\\Seen", "\\Answered", "\\Flagged", "\\Deleted",
                                          "\\Draft"};

static void outf(struct ms_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct ms_out *o, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0)
        ms_out_bytes(o, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static size_t body_lines(const char *b)
{
    size_t n = 0;
    for (; *b; b++)
        n += *b == '\n';
    return n;
}

void sv_resp_init(struct sv_resp *r, const char *proto, const struct sv_opts *o)
{
    memset(r, 0, sizeof(*r));
    r->proto = proto;
    r->o = o;
    r->tls = o->tls == MS_TLS_IMPLICIT;
    r->tls_available = o->tls == MS_TLS_STARTTLS;
}

void sv_resp_greeting(struct sv_resp *r, struct ms_out *out)
{
    if (strcmp(r->proto, "imap") == 0)
        ms_out_str(out, "* OK mailspec serve ready\r\n");
    else if (strcmp(r->proto, "smtp") == 0)
        ms_out_str(out, "220 mailspec.invalid ESMTP mailspec serve\r\n");
    else
        ms_out_str(out, "+OK mailspec serve ready\r\n");
}

/* The credentials check: any login when serve was given none. */
static int creds_ok(const struct sv_resp *r, const char *u, size_t ul, const char *p, size_t pl)
{
    const char *wu = r->o->user, *wp = r->o->password;
    if (!wu)
        return 1;
    return strlen(wu) == ul && memcmp(wu, u, ul) == 0 && wp && strlen(wp) == pl &&
           memcmp(wp, p, pl) == 0;
}

/* base64 p[0..n) decoded into out (cap bytes); -1 when it is not base64. */
static long b64_decode(const char *p, size_t n, char *out, size_t cap)
{
    if (n == 0 || n % 4 || n / 4 * 3 > cap)
        return -1;
    int k = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)p, (int)n);
    if (k < 0)
        return -1;
    if (p[n - 1] == '=')
        k--;
    if (n > 1 && p[n - 2] == '=')
        k--;
    return k;
}

/* SASL PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd. */
static int plain_ok(const struct sv_resp *r, const char *b64, size_t n)
{
    char buf[1024];
    long k = b64_decode(b64, n, buf, sizeof(buf));
    if (k < 0)
        return 0;
    const char *z1 = memchr(buf, '\0', (size_t)k);
    if (!z1)
        return 0;
    const char *u = z1 + 1;
    const char *z2 = memchr(u, '\0', (size_t)(buf + k - u));
    if (!z2)
        return 0;
    return creds_ok(r, u, (size_t)(z2 - u), z2 + 1, (size_t)(buf + k - z2 - 1));
}

/* ------------------------------------------------------------------ IMAP -- */

static const struct ms_imap_cnode *node(const struct ms_imap_command *c, uint32_t i)
{
    return i && i < c->nnodes ? &c->nodes[i] : NULL;
}

/* The i-th top-level argument (0-based), or NULL. */
static const struct ms_imap_cnode *arg(const struct ms_imap_command *c, unsigned i)
{
    const struct ms_imap_cnode *n = node(c, c->nodes[0].child);
    while (n && i--)
        n = node(c, n->next);
    return n;
}

/* An atom's text: its canonical keyword when the parser knows it, else as written. */
static struct ms_slice atom(const struct ms_imap_cnode *n)
{
    struct ms_slice a = {"", 0};
    if (n && n->kw) {
        a.ptr = n->kw;
        a.len = strlen(n->kw);
    } else if (n && n->text.ptr) {
        a = n->text;
    }
    return a;
}

/* A string argument's value (quoted: escapes removed) into out. */
static size_t str_value(const struct ms_imap_cnode *n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; n && i < n->text.len && k < cap; i++) {
        char ch = n->text.ptr[i];
        if (n->form == MS_IMAP_CF_QUOTED && ch == '\\' && i + 1 < n->text.len)
            ch = n->text.ptr[++i];
        out[k++] = ch;
    }
    return k;
}

static void imap_caps(const struct sv_resp *r, struct ms_out *o)
{
    ms_out_str(o, "IMAP4rev1 LITERAL+ ID NAMESPACE UNSELECT");
    if (r->tls_available)
        ms_out_str(o, " STARTTLS");
    if (!r->authed)
        ms_out_str(o, " AUTH=PLAIN");
}

/* Message numbers now present: seq n -> index. */
static int imap_present(const struct sv_resp *r, int idx[2])
{
    int n = 0;
    for (int i = 0; i < 2; i++)
        if (!r->gone[i])
            idx[n++] = i;
    return n;
}

/* Is value v in the sequence set text (RFC 9051 9 sequence-set), max for "*"? */
static int in_set(struct ms_slice s, uint64_t v, uint64_t max)
{
    size_t i = 0;
    while (i < s.len) {
        uint64_t a = 0, b;
        size_t j = i;
        while (j < s.len && s.ptr[j] != ':' && s.ptr[j] != ',')
            j++;
        if (j - i == 1 && s.ptr[i] == '*')
            a = max;
        else if (ms_number_parse(s.ptr + i, j - i, UINT32_MAX, &a) != MS_OK)
            return 0;
        b = a;
        if (j < s.len && s.ptr[j] == ':') {
            size_t k = ++j;
            while (j < s.len && s.ptr[j] != ',')
                j++;
            if (j - k == 1 && s.ptr[k] == '*')
                b = max;
            else if (ms_number_parse(s.ptr + k, j - k, UINT32_MAX, &b) != MS_OK)
                return 0;
        }
        if ((v >= a && v <= b) || (v >= b && v <= a))
            return 1;
        i = j + 1;
    }
    return 0;
}

static void imap_flags(uint8_t f, struct ms_out *o)
{
    ms_out_str(o, "(");
    int first = 1;
    for (int b = 0; b < 5; b++)
        if (f & (1 << b)) {
            outf(o, "%s%s", first ? "" : " ", flag_names[b]);
            first = 0;
        }
    ms_out_str(o, ")");
}

static void literal(struct ms_out *o, const char *p, size_t n)
{
    outf(o, "{%zu}\r\n", n);
    ms_out_bytes(o, p, n);
}

/* Header lines of msg whose field name is (or, with not, is not) in the list. */
static void header_fields(const struct ms_imap_command *c, const struct ms_imap_cnode *fa,
                          const char *hdr, int not, struct ms_out *o)
{
    const char *p = hdr;
    while (*p && !(p[0] == '\r' && p[1] == '\n')) {
        const char *eol = strstr(p, "\r\n");
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        size_t nl = colon ? (size_t)(colon - p) : 0;
        int in = 0;
        for (const struct ms_imap_cnode *h = node(c, fa->child); h; h = node(c, h->next)) {
            char name[128];
            size_t k = str_value(h, name, sizeof(name));
            if (k == nl && strncasecmp(name, p, nl) == 0)
                in = 1;
        }
        if (in != not )
            ms_out_bytes(o, p, (size_t)(eol + 2 - p));
        p = eol + 2;
    }
    ms_out_str(o, "\r\n");
}

/* One FETCH item of message i into o; 0 when it is not implemented. */
static int fetch_item(struct sv_resp *r, const struct ms_imap_command *c,
                      const struct ms_imap_cnode *fa, int i, struct ms_out *o, int *seen)
{
    const char *kw = fa->kw ? fa->kw : "";
    size_t hl = strlen(msgs[i].header), bl = strlen(body_of(r, i));
    if (strcmp(kw, "FLAGS") == 0) {
        ms_out_str(o, "FLAGS ");
        imap_flags(r->flags[i], o);
    } else if (strcmp(kw, "UID") == 0) {
        outf(o, "UID %d", i + 1);
    } else if (strcmp(kw, "RFC822.SIZE") == 0) {
        outf(o, "RFC822.SIZE %zu", hl + bl);
    } else if (strcmp(kw, "INTERNALDATE") == 0) {
        outf(o, "INTERNALDATE \"%s\"", msgs[i].date);
    } else if (strcmp(kw, "ENVELOPE") == 0) {
        outf(o, "ENVELOPE %s", msgs[i].envelope);
    } else if (strcmp(kw, "BODYSTRUCTURE") == 0 ||
               (strcmp(kw, "BODY") == 0 && !(fa->flags & MS_IMAP_CNF_SECTION))) {
        outf(o, "%s (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" %zu %zu%s)", kw,
             bl, body_lines(body_of(r, i)), kw[4] == 'S' ? " NIL NIL NIL NIL" : "");
    } else if (strcmp(kw, "RFC822") == 0 || strcmp(kw, "RFC822.HEADER") == 0 ||
               strcmp(kw, "RFC822.TEXT") == 0) {
        char all[2048];
        int n =
            snprintf(all, sizeof(all), "%s%s", kw[6] == '.' && kw[7] == 'T' ? "" : msgs[i].header,
                     kw[6] == '.' && kw[7] == 'H' ? "" : body_of(r, i));
        outf(o, "%s ", kw);
        literal(o, all, (size_t)n);
        *seen |= kw[6] != '.' || kw[7] == 'T';
    } else if (strcmp(kw, "BODY") == 0 || strcmp(kw, "BODY.PEEK") == 0) {
        char part[4096];
        struct ms_out po;
        ms_out_init(&po, part, sizeof(part));
        const char *k2 = fa->kw2 ? fa->kw2 : "";
        /* section-part: only "1" (the body of a single-part message, RFC 9051 6.4.5) */
        int part1 = fa->text.len == 1 && fa->text.ptr[0] == '1';
        if (fa->text.len && !part1)
            return 0;
        if (part1 && *k2 == '\0')
            ms_out_str(&po, body_of(r, i));
        else if (part1)
            return 0;
        else if (*k2 == '\0')
            outf(&po, "%s%s", msgs[i].header, body_of(r, i));
        else if (strcmp(k2, "HEADER") == 0)
            ms_out_str(&po, msgs[i].header);
        else if (strcmp(k2, "TEXT") == 0)
            ms_out_str(&po, body_of(r, i));
        else if (strcmp(k2, "HEADER.FIELDS") == 0 || strcmp(k2, "HEADER.FIELDS.NOT") == 0)
            header_fields(c, fa, msgs[i].header, k2[13] == '.', &po);
        else
            return 0;
        size_t off = 0, len = po.len;
        ms_out_str(o, "BODY[");
        if (part1)
            ms_out_str(o, "1");
        if (*k2)
            ms_out_str(o, k2);
        if (fa->flags & MS_IMAP_CNF_HEADERS) {
            ms_out_str(o, " (");
            int first = 1;
            for (const struct ms_imap_cnode *h = node(c, fa->child); h; h = node(c, h->next)) {
                char name[128];
                size_t k = str_value(h, name, sizeof(name));
                outf(o, "%s\"%.*s\"", first ? "" : " ", (int)k, name);
                first = 0;
            }
            ms_out_str(o, ")");
        }
        ms_out_str(o, "]");
        if (fa->flags & MS_IMAP_CNF_PARTIAL) {
            off = fa->num < len ? (size_t)fa->num : len;
            len = fa->num2 < len - off ? (size_t)fa->num2 : len - off;
            outf(o, "<%zu>", off);
        }
        ms_out_str(o, " ");
        literal(o, part + off, len);
        *seen |= strcmp(kw, "BODY") == 0;
    } else {
        return 0;
    }
    return 1;
}

static void imap_fetch(struct sv_resp *r, const struct ms_imap_command *c, const char *tag,
                       struct ms_out *o)
{
    const struct ms_imap_cnode *set = arg(c, 0), *atts = arg(c, 1);
    const struct ms_imap_cnode *list[64];
    size_t nl = 0;
    static const char *const fast[] = {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"};
    struct ms_imap_cnode macro[5];
    if (!set || !atts) {
        outf(o, "%s BAD FETCH needs a sequence set and items\r\n", tag);
        return;
    }
    if (atts->type == MS_IMAP_CN_ATOM) { /* ALL, FAST, FULL (RFC 9051 6.4.5) */
        struct ms_slice m = atom(atts);
        size_t n = m.len == 3 && strncasecmp(m.ptr, "ALL", 3) == 0    ? 4
                   : m.len == 4 && strncasecmp(m.ptr, "FAST", 4) == 0 ? 3
                                                                      : 5;
        for (size_t k = 0; k < n; k++) {
            memset(&macro[k], 0, sizeof(macro[k]));
            macro[k].kw = fast[k];
            list[nl++] = &macro[k];
        }
    } else if (atts->type == MS_IMAP_CN_LIST) {
        for (const struct ms_imap_cnode *a = node(c, atts->child); a && nl < 64;
             a = node(c, a->next))
            list[nl++] = a;
    } else {
        list[nl++] = atts;
    }
    int idx[2], n = imap_present(r, idx);
    for (int s = 0; s < n; s++) {
        int i = idx[s];
        if (!in_set(set->text, c->uid ? (uint64_t)i + 1 : (uint64_t)s + 1,
                    c->uid ? 2 : (uint64_t)n))
            continue;
        char buf[16384];
        struct ms_out mo;
        ms_out_init(&mo, buf, sizeof(buf));
        int seen = 0, has_uid = 0, has_flags = 0;
        for (size_t k = 0; k < nl; k++) {
            if (k)
                ms_out_str(&mo, " ");
            if (!fetch_item(r, c, list[k], i, &mo, &seen)) {
                outf(o, "%s NO [CANNOT] mailspec serve does not implement this FETCH item\r\n",
                     tag);
                return;
            }
            has_uid |= list[k]->kw && strcmp(list[k]->kw, "UID") == 0;
            has_flags |= list[k]->kw && strcmp(list[k]->kw, "FLAGS") == 0;
        }
        if (c->uid && !has_uid)
            outf(&mo, " UID %d", i + 1);
        if (seen && !(r->flags[i] & F_SEEN)) {
            r->flags[i] |= F_SEEN;
            if (!has_flags) {
                ms_out_str(&mo, " FLAGS ");
                imap_flags(r->flags[i], &mo);
            }
        }
        outf(o, "* %d FETCH (", s + 1);
        ms_out_bytes(o, buf, mo.len);
        ms_out_str(o, ")\r\n");
    }
    outf(o, "%s OK %sFETCH completed\r\n", tag, c->uid ? "UID " : "");
}

/* Does message i (seq s of n) match search key k? -1: key not implemented. */
static int search_key(const struct sv_resp *r, const struct ms_imap_command *c,
                      const struct ms_imap_cnode *k, int i, int s, int n)
{
    if (k->type == MS_IMAP_CN_SEQSET)
        return in_set(k->text, (uint64_t)s + 1, (uint64_t)n);
    if (k->type == MS_IMAP_CN_LIST) {
        for (const struct ms_imap_cnode *a = node(c, k->child); a; a = node(c, a->next)) {
            int m = search_key(r, c, a, i, s, n);
            if (m <= 0)
                return m;
        }
        return 1;
    }
    if (k->type != MS_IMAP_CN_SEARCH || !k->kw)
        return -1;
    static const struct {
        const char *kw;
        uint8_t flag, set;
    } fk[] = {{"SEEN", F_SEEN, 1},         {"UNSEEN", F_SEEN, 0},
              {"DELETED", F_DELETED, 1},   {"UNDELETED", F_DELETED, 0},
              {"FLAGGED", F_FLAGGED, 1},   {"UNFLAGGED", F_FLAGGED, 0},
              {"ANSWERED", F_ANSWERED, 1}, {"UNANSWERED", F_ANSWERED, 0}};
    if (strcmp(k->kw, "ALL") == 0)
        return 1;
    for (size_t j = 0; j < sizeof(fk) / sizeof(fk[0]); j++)
        if (strcmp(k->kw, fk[j].kw) == 0)
            return !!(r->flags[i] & fk[j].flag) == fk[j].set;
    const struct ms_imap_cnode *a = node(c, k->child);
    if (strcmp(k->kw, "NOT") == 0 && a) {
        int m = search_key(r, c, a, i, s, n);
        return m < 0 ? m : !m;
    }
    if (strcmp(k->kw, "UID") == 0 && a)
        return in_set(a->text, (uint64_t)i + 1, 2);
    return -1;
}

static void imap_search(struct sv_resp *r, const struct ms_imap_command *c, const char *tag,
                        struct ms_out *o)
{
    char res[64] = "";
    int idx[2], n = imap_present(r, idx);
    for (int s = 0; s < n; s++) {
        int m = 1;
        for (const struct ms_imap_cnode *k = arg(c, 0); k && m > 0; k = node(c, k->next)) {
            if (k->type == MS_IMAP_CN_ATOM && atom(k).len == 7 &&
                strncasecmp(atom(k).ptr, "CHARSET", 7) == 0) {
                k = node(c, k->next); /* its argument */
                if (!k)
                    break;
                continue;
            }
            m = search_key(r, c, k, idx[s], s, n);
        }
        if (m < 0) {
            outf(o, "%s NO [CANNOT] mailspec serve does not implement this search key\r\n", tag);
            return;
        }
        if (m)
            snprintf(res + strlen(res), sizeof(res) - strlen(res), " %d",
                     c->uid ? idx[s] + 1 : s + 1);
    }
    outf(o, "* SEARCH%s\r\n%s OK %sSEARCH completed\r\n", res, tag, c->uid ? "UID " : "");
}

static void imap_store(struct sv_resp *r, const struct ms_imap_command *c, const char *tag,
                       struct ms_out *o)
{
    const struct ms_imap_cnode *set = arg(c, 0), *what = arg(c, 1), *fl = arg(c, 2);
    if (!set || !what || !fl || what->type != MS_IMAP_CN_ATOM) {
        outf(o, "%s BAD STORE needs a set, an item and flags\r\n", tag);
        return;
    }
    char w[32];
    struct ms_slice wa = atom(what);
    size_t wl = wa.len < 31 ? wa.len : 31;
    memcpy(w, wa.ptr, wl);
    w[wl] = '\0';
    int mode = w[0] == '+' ? 1 : w[0] == '-' ? 2 : 0;
    int silent = wl > 7 && strncasecmp(w + wl - 7, ".SILENT", 7) == 0;
    uint8_t bits = 0;
    const struct ms_imap_cnode *f = fl->type == MS_IMAP_CN_LIST ? node(c, fl->child) : fl;
    for (; f; f = node(c, f->next))
        for (int b = 0; b < 5; b++)
            if (f->text.len == strlen(flag_names[b]) &&
                strncasecmp(f->text.ptr, flag_names[b], f->text.len) == 0)
                bits |= (uint8_t)(1 << b);
    int idx[2], n = imap_present(r, idx);
    for (int s = 0; s < n; s++) {
        int i = idx[s];
        if (!in_set(set->text, c->uid ? (uint64_t)i + 1 : (uint64_t)s + 1,
                    c->uid ? 2 : (uint64_t)n))
            continue;
        r->flags[i] = mode == 1   ? (uint8_t)(r->flags[i] | bits)
                      : mode == 2 ? (uint8_t)(r->flags[i] & ~bits)
                                  : bits;
        if (!silent || c->uid) {
            outf(o, "* %d FETCH (FLAGS ", s + 1);
            imap_flags(r->flags[i], o);
            if (c->uid)
                outf(o, " UID %d", i + 1);
            ms_out_str(o, ")\r\n");
        }
    }
    outf(o, "%s OK STORE completed\r\n", tag);
}

static void imap_select(struct sv_resp *r, const struct ms_imap_command *c, const char *tag,
                        struct ms_out *o)
{
    const struct ms_imap_cnode *mb = arg(c, 0);
    char name[64];
    size_t k = str_value(mb, name, sizeof(name));
    r->selected = 0;
    if (k != 5 || strncasecmp(name, "INBOX", 5) != 0) {
        outf(o, "%s NO [NONEXISTENT] only INBOX exists here\r\n", tag);
        return;
    }
    int idx[2], n = imap_present(r, idx), unseen = 0;
    for (int s = n - 1; s >= 0; s--)
        if (!(r->flags[idx[s]] & F_SEEN))
            unseen = s + 1;
    outf(o,
         "* %d EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Seen \\Answered \\Flagged \\Deleted "
         "\\Draft)\r\n* OK [PERMANENTFLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft)] "
         "Limited\r\n* OK [UIDVALIDITY 1] UIDs valid\r\n* OK [UIDNEXT 3] Predicted next UID\r\n",
         n);
    if (unseen)
        outf(o, "* OK [UNSEEN %d] First unseen\r\n", unseen);
    outf(o, "%s OK [READ-WRITE] %s completed\r\n", tag,
         c->cmd == MS_IMAP_CMD_EXAMINE ? "EXAMINE" : "SELECT");
    r->selected = 1;
}

static void imap_answer(struct sv_resp *r, const struct ms_imap_command *c, struct ms_out *o)
{
    char tag[256];
    int tl = c->tag.len < 255 ? (int)c->tag.len : 255;
    snprintf(tag, sizeof(tag), "%.*s", tl, c->tag.ptr);

    if (c->msg == MS_IMAP_MSG_SASL || c->msg == MS_IMAP_MSG_SASL_CANCEL) {
        r->sasl = 0;
        if (c->msg == MS_IMAP_MSG_SASL_CANCEL)
            outf(o, "%s BAD AUTHENTICATE canceled\r\n", r->sasl_tag);
        else if (plain_ok(r, c->line.ptr, c->line.len)) {
            r->authed = 1;
            outf(o, "%s OK [CAPABILITY ", r->sasl_tag);
            imap_caps(r, o);
            ms_out_str(o, "] AUTHENTICATE completed\r\n");
        } else
            outf(o, "%s NO [AUTHENTICATIONFAILED] Invalid credentials\r\n", r->sasl_tag);
        return;
    }
    if (c->msg == MS_IMAP_MSG_DONE) {
        outf(o, "%s OK IDLE done\r\n", r->sasl_tag);
        return;
    }
    const char *name = ms_imap_cmd_name((enum ms_imap_cmd)c->cmd);
    int need_auth = 0, need_sel = 0;
    switch (c->cmd) {
    case MS_IMAP_CMD_CAPABILITY:
        ms_out_str(o, "* CAPABILITY ");
        imap_caps(r, o);
        outf(o, "\r\n%s OK CAPABILITY completed\r\n", tag);
        return;
    case MS_IMAP_CMD_NOOP:
        outf(o, "%s OK NOOP completed\r\n", tag);
        return;
    case MS_IMAP_CMD_ID:
        outf(o, "* ID (\"name\" \"mailspec serve\")\r\n%s OK ID completed\r\n", tag);
        return;
    case MS_IMAP_CMD_LOGOUT:
        outf(o, "* BYE mailspec serve logging out\r\n%s OK LOGOUT completed\r\n", tag);
        r->close = 1;
        return;
    case MS_IMAP_CMD_STARTTLS:
        if (r->authed || !r->tls_available)
            outf(o, "%s BAD STARTTLS is not available now\r\n", tag);
        else {
            outf(o, "%s OK Begin TLS negotiation now\r\n", tag);
            r->starttls = 1;
        }
        return;
    case MS_IMAP_CMD_LOGIN: {
        if (r->authed) {
            outf(o, "%s BAD already authenticated\r\n", tag);
            return;
        }
        char u[256], p[256];
        size_t ul = str_value(arg(c, 0), u, sizeof(u)), pl = str_value(arg(c, 1), p, sizeof(p));
        if (creds_ok(r, u, ul, p, pl)) {
            r->authed = 1;
            outf(o, "%s OK [CAPABILITY ", tag);
            imap_caps(r, o);
            ms_out_str(o, "] LOGIN completed\r\n");
        } else
            outf(o, "%s NO [AUTHENTICATIONFAILED] Invalid credentials\r\n", tag);
        return;
    }
    case MS_IMAP_CMD_AUTHENTICATE: {
        const struct ms_imap_cnode *m = arg(c, 0), *ir = arg(c, 1);
        if (r->authed || !m || atom(m).len != 5 || strncasecmp(atom(m).ptr, "PLAIN", 5) != 0) {
            outf(o, "%s NO [CANNOT] only AUTHENTICATE PLAIN, before login\r\n", tag);
            return;
        }
        if (ir) {
            r->sasl_tag[0] = '\0';
            if (ir->text.len == 1 && ir->text.ptr[0] == '=')
                outf(o, "%s NO [AUTHENTICATIONFAILED] Invalid credentials\r\n", tag);
            else if (plain_ok(r, ir->text.ptr, ir->text.len)) {
                r->authed = 1;
                outf(o, "%s OK [CAPABILITY ", tag);
                imap_caps(r, o);
                ms_out_str(o, "] AUTHENTICATE completed\r\n");
            } else
                outf(o, "%s NO [AUTHENTICATIONFAILED] Invalid credentials\r\n", tag);
            return;
        }
        memcpy(r->sasl_tag, tag, (size_t)tl + 1);
        r->sasl = 1;
        ms_out_str(o, "+ \r\n");
        return;
    }
    case MS_IMAP_CMD_ENABLE:
        outf(o, "* ENABLED\r\n%s OK ENABLE completed\r\n", tag);
        return;
    case MS_IMAP_CMD_NAMESPACE:
    case MS_IMAP_CMD_LIST:
    case MS_IMAP_CMD_LSUB:
    case MS_IMAP_CMD_STATUS:
    case MS_IMAP_CMD_SELECT:
    case MS_IMAP_CMD_EXAMINE:
        need_auth = 1;
        break;
    case MS_IMAP_CMD_FETCH:
    case MS_IMAP_CMD_SEARCH:
    case MS_IMAP_CMD_STORE:
    case MS_IMAP_CMD_EXPUNGE:
    case MS_IMAP_CMD_CLOSE:
    case MS_IMAP_CMD_UNSELECT:
    case MS_IMAP_CMD_CHECK:
        need_auth = need_sel = 1;
        break;
    default:
        outf(o, "%s BAD mailspec serve does not implement %s\r\n", tag, name ? name : "this");
        return;
    }
    if ((need_auth && !r->authed) || (need_sel && !r->selected)) {
        outf(o, "%s BAD %s is not allowed in this state\r\n", tag, name);
        return;
    }
    switch (c->cmd) {
    case MS_IMAP_CMD_NAMESPACE:
        outf(o, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n%s OK NAMESPACE completed\r\n", tag);
        return;
    case MS_IMAP_CMD_LIST:
    case MS_IMAP_CMD_LSUB: {
        char pat[256];
        size_t k = str_value(arg(c, 1), pat, sizeof(pat));
        if (k == 0)
            outf(o, "* %s (\\Noselect) \"/\" \"\"\r\n", name);
        else if (memchr(pat, '*', k) || memchr(pat, '%', k) ||
                 (k == 5 && strncasecmp(pat, "INBOX", 5) == 0))
            outf(o, "* %s (\\HasNoChildren) \"/\" INBOX\r\n", name);
        outf(o, "%s OK %s completed\r\n", tag, name);
        return;
    }
    case MS_IMAP_CMD_STATUS: {
        char mb[64];
        size_t k = str_value(arg(c, 0), mb, sizeof(mb));
        if (k != 5 || strncasecmp(mb, "INBOX", 5) != 0) {
            outf(o, "%s NO [NONEXISTENT] only INBOX exists here\r\n", tag);
            return;
        }
        int idx[2], n = imap_present(r, idx), unseen = 0;
        for (int s = 0; s < n; s++)
            unseen += !(r->flags[idx[s]] & F_SEEN);
        ms_out_str(o, "* STATUS INBOX (");
        const struct ms_imap_cnode *l = arg(c, 1);
        int first = 1;
        for (const struct ms_imap_cnode *a = l ? node(c, l->child) : NULL; a;
             a = node(c, a->next)) {
            char it[32];
            struct ms_slice as = atom(a);
            size_t il = as.len < 31 ? as.len : 31;
            memcpy(it, as.ptr, il);
            it[il] = '\0';
            long v = strcasecmp(it, "MESSAGES") == 0      ? n
                     : strcasecmp(it, "UIDNEXT") == 0     ? 3
                     : strcasecmp(it, "UIDVALIDITY") == 0 ? 1
                     : strcasecmp(it, "UNSEEN") == 0      ? unseen
                     : strcasecmp(it, "RECENT") == 0      ? 0
                                                          : -1;
            if (v >= 0) {
                outf(o, "%s%s %ld", first ? "" : " ", it, v);
                first = 0;
            }
        }
        outf(o, ")\r\n%s OK STATUS completed\r\n", tag);
        return;
    }
    case MS_IMAP_CMD_SELECT:
    case MS_IMAP_CMD_EXAMINE:
        imap_select(r, c, tag, o);
        return;
    case MS_IMAP_CMD_FETCH:
        imap_fetch(r, c, tag, o);
        return;
    case MS_IMAP_CMD_SEARCH:
        imap_search(r, c, tag, o);
        return;
    case MS_IMAP_CMD_STORE:
        imap_store(r, c, tag, o);
        return;
    case MS_IMAP_CMD_EXPUNGE:
    case MS_IMAP_CMD_CLOSE: {
        int idx[2], n = imap_present(r, idx);
        for (int s = n - 1; s >= 0; s--)
            if (r->flags[idx[s]] & F_DELETED) {
                r->gone[idx[s]] = 1;
                if (c->cmd == MS_IMAP_CMD_EXPUNGE)
                    outf(o, "* %d EXPUNGE\r\n", s + 1);
            }
        if (c->cmd == MS_IMAP_CMD_CLOSE)
            r->selected = 0;
        outf(o, "%s OK %s completed\r\n", tag, name);
        return;
    }
    case MS_IMAP_CMD_UNSELECT:
        r->selected = 0;
        outf(o, "%s OK UNSELECT completed\r\n", tag);
        return;
    default:
        outf(o, "%s OK %s completed\r\n", tag, name);
        return;
    }
}

/* ------------------------------------------------------------------ SMTP -- */

static void smtp_auth_done(struct sv_resp *r, int ok, struct ms_out *o)
{
    r->sasl = 0;
    if (ok) {
        r->authed = 1;
        ms_out_str(o, "235 2.7.0 Authentication successful\r\n");
    } else
        ms_out_str(o, "535 5.7.8 Authentication credentials invalid\r\n");
}

static void smtp_answer(struct sv_resp *r, const struct ms_smtp_command *c, struct ms_out *o)
{
    if (c->type == MS_SMTP_T_SASL) {
        char buf[512];
        long k;
        if (c->cancel) {
            r->sasl = 0;
            ms_out_str(o, "501 5.7.0 Authentication canceled\r\n");
        } else if (r->sasl == 1) {
            smtp_auth_done(r, plain_ok(r, c->response.ptr, c->response.len), o);
        } else if (r->sasl == 2) {
            k = b64_decode(c->response.ptr, c->response.len, buf, sizeof(buf) - 1);
            snprintf(r->sasl_user, sizeof(r->sasl_user), "%.*s", k > 0 ? (int)k : 0, buf);
            r->sasl = 3;
            ms_out_str(o, "334 UGFzc3dvcmQ6\r\n");
        } else {
            k = b64_decode(c->response.ptr, c->response.len, buf, sizeof(buf));
            smtp_auth_done(
                r, k >= 0 && creds_ok(r, r->sasl_user, strlen(r->sasl_user), buf, (size_t)k), o);
        }
        return;
    }
    if (c->type == MS_SMTP_T_DATA) {
        r->smtp_mail = r->smtp_rcpt = 0;
        ms_out_str(o, "250 2.0.0 Ok: queued by mailspec serve\r\n");
        return;
    }
    if (c->type == MS_SMTP_T_CHUNK) {
        ms_out_str(o, "502 5.5.1 CHUNKING is not offered\r\n");
        return;
    }
    switch (c->verb) {
    case MS_SMTP_EHLO:
        r->smtp_helo = 1;
        r->smtp_mail = r->smtp_rcpt = 0;
        ms_out_str(o, "250-mailspec.invalid\r\n250-8BITMIME\r\n250-SIZE 10240000\r\n");
        if (r->tls_available)
            ms_out_str(o, "250-STARTTLS\r\n");
        if (!r->authed)
            ms_out_str(o, "250-AUTH PLAIN LOGIN\r\n");
        ms_out_str(o, "250 ENHANCEDSTATUSCODES\r\n");
        return;
    case MS_SMTP_HELO:
        r->smtp_helo = 1;
        ms_out_str(o, "250 mailspec.invalid\r\n");
        return;
    case MS_SMTP_STARTTLS:
        if (!r->tls_available)
            ms_out_str(o, "502 5.5.1 STARTTLS is not available now\r\n");
        else {
            ms_out_str(o, "220 2.0.0 Ready to start TLS\r\n");
            r->starttls = 1;
            r->smtp_helo = 0; /* RFC 3207 4.2: the client starts over with EHLO */
        }
        return;
    case MS_SMTP_AUTH: {
        const char *m = c->arg.ptr;
        size_t ml = c->arg.len;
        if (r->authed || !r->smtp_helo) {
            ms_out_str(o, "503 5.5.1 AUTH is not allowed now\r\n");
        } else if (ml == 5 && strncasecmp(m, "PLAIN", 5) == 0) {
            if (c->has_response && !(c->response.len == 1 && c->response.ptr[0] == '='))
                smtp_auth_done(r, plain_ok(r, c->response.ptr, c->response.len), o);
            else {
                r->sasl = 1;
                ms_out_str(o, "334 \r\n");
            }
        } else if (ml == 5 && strncasecmp(m, "LOGIN", 5) == 0) {
            r->sasl = 2;
            ms_out_str(o, "334 VXNlcm5hbWU6\r\n");
        } else
            ms_out_str(o, "504 5.5.4 Unrecognized authentication type\r\n");
        return;
    }
    case MS_SMTP_MAIL:
        if (!r->smtp_helo || r->smtp_mail)
            ms_out_str(o, "503 5.5.1 Bad sequence of commands\r\n");
        else {
            r->smtp_mail = 1;
            ms_out_str(o, "250 2.1.0 Ok\r\n");
        }
        return;
    case MS_SMTP_RCPT:
        if (!r->smtp_mail)
            ms_out_str(o, "503 5.5.1 Need MAIL first\r\n");
        else {
            r->smtp_rcpt++;
            ms_out_str(o, "250 2.1.5 Ok\r\n");
        }
        return;
    case MS_SMTP_DATA:
        if (!r->smtp_rcpt)
            ms_out_str(o, "503 5.5.1 Need RCPT first\r\n");
        else
            ms_out_str(o, "354 End data with <CR><LF>.<CR><LF>\r\n");
        return;
    case MS_SMTP_RSET:
        r->smtp_mail = r->smtp_rcpt = 0;
        ms_out_str(o, "250 2.0.0 Ok\r\n");
        return;
    case MS_SMTP_NOOP:
        ms_out_str(o, "250 2.0.0 Ok\r\n");
        return;
    case MS_SMTP_VRFY:
        ms_out_str(o, "252 2.0.0 Cannot VRFY user\r\n");
        return;
    case MS_SMTP_QUIT:
        ms_out_str(o, "221 2.0.0 Bye\r\n");
        r->close = 1;
        return;
    default:
        ms_out_str(o, "502 5.5.2 mailspec serve does not implement this command\r\n");
        return;
    }
}

/* ------------------------------------------------------------------ POP3 -- */

static void pop3_message(const struct sv_resp *r, struct ms_out *o, int i, long lines)
{
    /* RFC 1939 3: dot-stuffed, ended by "." */
    char all[2048];
    snprintf(all, sizeof(all), "%s%s", msgs[i].header, lines < 0 ? body_of(r, i) : "");
    if (lines >= 0) {
        const char *b = body_of(r, i);
        for (long k = 0; k < lines && *b; k++) {
            const char *e = strstr(b, "\r\n");
            snprintf(all + strlen(all), sizeof(all) - strlen(all), "%.*s", (int)(e + 2 - b), b);
            b = e + 2;
        }
    }
    for (const char *p = all; *p;) {
        const char *e = strstr(p, "\r\n");
        if (*p == '.')
            ms_out_str(o, ".");
        ms_out_bytes(o, p, (size_t)(e + 2 - p));
        p = e + 2;
    }
    ms_out_str(o, ".\r\n");
}

static void pop3_answer(struct sv_resp *r, const struct ms_pop3_command *c, struct ms_out *o)
{
    size_t sz[2] = {strlen(msgs[0].header) + strlen(body_of(r, 0)),
                    strlen(msgs[1].header) + strlen(body_of(r, 1))};
    if (c->cmd == MS_POP3_SASL_RESPONSE || c->cmd == MS_POP3_SASL_CANCEL) {
        r->sasl = 0;
        if (c->cmd == MS_POP3_SASL_CANCEL)
            ms_out_str(o, "-ERR AUTH canceled\r\n");
        else if (plain_ok(r, c->arg[0].ptr, c->arg[0].len)) {
            r->authed = 1;
            ms_out_str(o, "+OK logged in\r\n");
        } else
            ms_out_str(o, "-ERR [AUTH] invalid credentials\r\n");
        return;
    }
    int trans = r->authed;
    uint64_t m = c->num[0];
    int valid = m >= 1 && m <= 2 && !r->gone[m - 1];
    switch (c->cmd) {
    case MS_POP3_CAPA:
        ms_out_str(o, "+OK Capability list follows\r\nUSER\r\nUIDL\r\nTOP\r\nSASL PLAIN\r\n");
        if (r->tls_available)
            ms_out_str(o, "STLS\r\n");
        ms_out_str(o, ".\r\n");
        return;
    case MS_POP3_STLS:
        if (!r->tls_available || trans)
            ms_out_str(o, "-ERR STLS is not available now\r\n");
        else {
            ms_out_str(o, "+OK Begin TLS negotiation\r\n");
            r->starttls = 1;
        }
        return;
    case MS_POP3_USER:
        if (trans)
            ms_out_str(o, "-ERR already logged in\r\n");
        else {
            snprintf(r->sasl_user, sizeof(r->sasl_user), "%.*s", (int)c->arg[0].len, c->arg[0].ptr);
            r->pop3_user_given = 1;
            ms_out_str(o, "+OK send PASS\r\n");
        }
        return;
    case MS_POP3_PASS:
        if (trans || !r->pop3_user_given)
            ms_out_str(o, "-ERR USER first\r\n");
        else if (creds_ok(r, r->sasl_user, strlen(r->sasl_user), c->arg[0].ptr, c->arg[0].len)) {
            r->authed = 1;
            ms_out_str(o, "+OK logged in\r\n");
        } else {
            r->pop3_user_given = 0;
            ms_out_str(o, "-ERR [AUTH] invalid credentials\r\n");
        }
        return;
    case MS_POP3_AUTH:
        if (trans || c->nargs < 1 || c->arg[0].len != 5 ||
            strncasecmp(c->arg[0].ptr, "PLAIN", 5) != 0)
            ms_out_str(o, "-ERR only AUTH PLAIN, before login\r\n");
        else if (c->nargs == 2) {
            if (plain_ok(r, c->arg[1].ptr, c->arg[1].len)) {
                r->authed = 1;
                ms_out_str(o, "+OK logged in\r\n");
            } else
                ms_out_str(o, "-ERR [AUTH] invalid credentials\r\n");
        } else {
            r->sasl = 1;
            ms_out_str(o, "+ \r\n");
        }
        return;
    case MS_POP3_QUIT:
        for (int i = 0; trans && i < 2; i++)
            r->gone[i] |= (uint8_t)(r->flags[i] & F_DELETED);
        ms_out_str(o, "+OK mailspec serve signing off\r\n");
        r->close = 1;
        return;
    case MS_POP3_NOOP:
    case MS_POP3_STAT:
    case MS_POP3_LIST:
    case MS_POP3_UIDL:
    case MS_POP3_RETR:
    case MS_POP3_TOP:
    case MS_POP3_DELE:
    case MS_POP3_RSET:
        if (!trans) {
            ms_out_str(o, "-ERR not logged in\r\n");
            return;
        }
        break;
    default:
        ms_out_str(o, "-ERR mailspec serve does not implement this command\r\n");
        return;
    }
    int live[2] = {!(r->flags[0] & F_DELETED), !(r->flags[1] & F_DELETED)};
    if (c->nargs && c->cmd != MS_POP3_NOOP && c->cmd != MS_POP3_STAT && c->cmd != MS_POP3_RSET &&
        (!valid || !live[m - 1])) {
        ms_out_str(o, "-ERR no such message\r\n");
        return;
    }
    switch (c->cmd) {
    case MS_POP3_NOOP:
        ms_out_str(o, "+OK\r\n");
        return;
    case MS_POP3_STAT:
        outf(o, "+OK %d %zu\r\n", live[0] + live[1], (live[0] ? sz[0] : 0) + (live[1] ? sz[1] : 0));
        return;
    case MS_POP3_LIST:
    case MS_POP3_UIDL:
        if (c->nargs) {
            if (c->cmd == MS_POP3_LIST)
                outf(o, "+OK %lu %zu\r\n", (unsigned long)m, sz[m - 1]);
            else
                outf(o, "+OK %lu mailspec-uid-%lu\r\n", (unsigned long)m, (unsigned long)m);
            return;
        }
        ms_out_str(o, "+OK\r\n");
        for (int i = 0; i < 2; i++)
            if (live[i]) {
                if (c->cmd == MS_POP3_LIST)
                    outf(o, "%d %zu\r\n", i + 1, sz[i]);
                else
                    outf(o, "%d mailspec-uid-%d\r\n", i + 1, i + 1);
            }
        ms_out_str(o, ".\r\n");
        return;
    case MS_POP3_RETR:
        outf(o, "+OK %zu octets\r\n", sz[m - 1]);
        pop3_message(r, o, (int)m - 1, -1);
        return;
    case MS_POP3_TOP:
        ms_out_str(o, "+OK\r\n");
        pop3_message(r, o, (int)m - 1, c->num[1] > 1000 ? 1000 : (long)c->num[1]);
        return;
    case MS_POP3_DELE:
        r->flags[m - 1] |= F_DELETED;
        ms_out_str(o, "+OK deleted\r\n");
        return;
    case MS_POP3_RSET:
        r->flags[0] &= (uint8_t)~F_DELETED;
        r->flags[1] &= (uint8_t)~F_DELETED;
        ms_out_str(o, "+OK\r\n");
        return;
    default:
        return;
    }
}

void sv_resp_answer(struct sv_resp *r, const void *view, const char *raw, size_t rawlen,
                    struct ms_out *out)
{
    (void)raw;
    (void)rawlen;
    r->starttls = 0;
    if (strcmp(r->proto, "imap") == 0)
        imap_answer(r, view, out);
    else if (strcmp(r->proto, "smtp") == 0)
        smtp_answer(r, view, out);
    else
        pop3_answer(r, view, out);
}

void sv_resp_bad(struct sv_resp *r, const char *raw, size_t rawlen, struct ms_out *out)
{
    if (strcmp(r->proto, "imap") == 0) {
        /* the tag, when the line starts with one (RFC 9051 7.1.5: BAD, tagged if possible) */
        size_t n = 0;
        while (n < rawlen && n < 64 && raw[n] > ' ' && raw[n] < 0x7f && raw[n] != '{' &&
               raw[n] != '(' && raw[n] != '"' && raw[n] != '*' && raw[n] != '%')
            n++;
        if (n && n < rawlen && raw[n] == ' ')
            outf(out, "%.*s BAD syntax error\r\n", (int)n, raw);
        else
            ms_out_str(out, "* BAD syntax error\r\n");
        r->sasl = 0;
    } else if (strcmp(r->proto, "smtp") == 0) {
        ms_out_str(out, "500 5.5.2 Syntax error\r\n");
        r->sasl = 0;
    } else {
        ms_out_str(out, "-ERR syntax error\r\n");
        r->sasl = 0;
    }
}
