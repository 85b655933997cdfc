/*
 * The MIME walker (mime.h): a message's entities and what IMAP derives from
 * them (RFC 9051 6.4.5 section numbers, 7.5.2 body fields). Used by certify's
 * MIME oracle (conformance/certify_mime.c) to know what a server must answer
 * about a message it was given; docs/mime-oracle.md.
 */
#include "mailspec/mime.h"

static int is_wsp(unsigned char ch)
{
    return ch == ' ' || ch == '\t';
}

/* The line at p[pos..n): its end (after the LF, or n) and its content length
 * without the line end. */
static size_t line_end(const char *p, size_t n, size_t pos, size_t *content)
{
    const char *lf = memchr(p + pos, '\n', n - pos);
    if (!lf) {
        *content = n - pos;
        return n;
    }
    size_t e = (size_t)(lf - p);
    *content = e - pos - (e > pos && p[e - 1] == '\r');
    return e + 1;
}

int ms_mime_next_field(const char *hdr, size_t n, size_t *pos, struct ms_slice *name,
                       struct ms_slice *line, struct ms_slice *value)
{
    while (*pos < n) {
        size_t start = *pos, content;
        size_t end = line_end(hdr, n, start, &content);
        if (content == 0)
            return 0; /* the empty line that ends the header */
        /* continuation lines of this field */
        while (end < n && is_wsp((unsigned char)hdr[end])) {
            size_t c2;
            end = line_end(hdr, n, end, &c2);
        }
        *pos = end;
        const char *colon = memchr(hdr + start, ':', content);
        /* RFC 5322 3.6.8: field-name = 1*ftext (printable US-ASCII except ":");
         * a line that is not a field (or a stray continuation) is skipped */
        if (!colon || colon == hdr + start || is_wsp((unsigned char)hdr[start]))
            continue;
        size_t nl = (size_t)(colon - (hdr + start));
        while (nl > 0 && is_wsp((unsigned char)hdr[start + nl - 1]))
            nl--; /* obs-optional: WSP before the colon (RFC 5322 4.5.8) */
        name->ptr = hdr + start;
        name->len = nl;
        line->ptr = hdr + start;
        line->len = end - start;
        value->ptr = colon + 1;
        size_t vend = end;
        if (vend > start && hdr[vend - 1] == '\n')
            vend -= 1 + (vend - 1 > start && hdr[vend - 2] == '\r');
        value->len = vend > (size_t)(colon + 1 - hdr) ? vend - (size_t)(colon + 1 - hdr) : 0;
        return 1;
    }
    return 0;
}

int ms_mime_field(const char *hdr, size_t n, const char *name, size_t name_len, size_t idx,
                  struct ms_slice *line, struct ms_slice *value)
{
    size_t pos = 0;
    struct ms_slice fname;
    while (ms_mime_next_field(hdr, n, &pos, &fname, line, value))
        if (ms_slice_ieqn(fname, name, name_len) && idx-- == 0)
            return 1;
    return 0;
}

size_t ms_mime_unfold(struct ms_slice v, char *out, size_t cap)
{
    size_t o = 0;
    int space = 0;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char ch = (unsigned char)v.ptr[i];
        if (ch == '\r' || ch == '\n' || is_wsp(ch)) {
            space = 1;
            continue;
        }
        if (space && o > 0 && o < cap)
            out[o++] = ' ';
        space = 0;
        if (o < cap)
            out[o++] = (char)ch;
    }
    return o;
}

size_t ms_mime_unquote(struct ms_slice v, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < v.len && o < cap; i++) {
        if (v.ptr[i] == '\\' && i + 1 < v.len)
            i++;
        out[o++] = v.ptr[i];
    }
    return o;
}

static int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = ms_lower(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

size_t ms_mime_qp_decode(const char *p, size_t n, char *out, size_t cap)
{
    size_t o = 0, i = 0;
    while (i < n && o < cap) {
        unsigned char ch = (unsigned char)p[i];
        if (is_wsp(ch)) {
            /* transport padding: white space before a line end is dropped */
            size_t j = i;
            while (j < n && is_wsp((unsigned char)p[j]))
                j++;
            if (j == n || p[j] == '\r' || p[j] == '\n') {
                i = j;
                continue;
            }
            out[o++] = (char)ch;
            i++;
        } else if (ch == '=') {
            size_t j = i + 1;
            while (j < n && is_wsp((unsigned char)p[j]))
                j++;
            if (j == n) { /* "=" at the very end: a soft break */
                i = j;
            } else if (p[j] == '\n' || (p[j] == '\r' && j + 1 < n && p[j + 1] == '\n')) {
                i = j + (p[j] == '\r' ? 2 : 1); /* soft line break */
            } else if (i + 2 < n && hexval((unsigned char)p[i + 1]) >= 0 &&
                       hexval((unsigned char)p[i + 2]) >= 0) {
                out[o++] =
                    (char)(hexval((unsigned char)p[i + 1]) * 16 + hexval((unsigned char)p[i + 2]));
                i += 3;
            } else {
                out[o++] = '='; /* malformed: kept */
                i++;
            }
        } else {
            out[o++] = (char)ch;
            i++;
        }
    }
    return o;
}

int ms_mime_param_get(const struct ms_mime_entity *e, const char *name, struct ms_slice *value,
                      int *quoted)
{
    for (uint8_t i = 0; i < e->nparams; i++)
        if (ms_slice_ieq(e->params[i].name, name)) {
            *value = e->params[i].value;
            if (quoted)
                *quoted = e->params[i].quoted;
            return 1;
        }
    return 0;
}

/* ---- Content-Type (RFC 2045 5.1) ---- */

struct ct_cursor {
    const char *p;
    size_t n, i;
};

/* CFWS: white space, line ends (folding) and comments (nesting bounded). */
static void skip_cfws(struct ct_cursor *c)
{
    unsigned depth = 0;
    while (c->i < c->n) {
        unsigned char ch = (unsigned char)c->p[c->i];
        if (depth == 0 && (is_wsp(ch) || ch == '\r' || ch == '\n')) {
            c->i++;
        } else if (ch == '(') {
            if (depth < MS_MIME_MAX_DEPTH)
                depth++;
            c->i++;
        } else if (depth > 0 && ch == ')') {
            depth--;
            c->i++;
        } else if (depth > 0) {
            c->i += ch == '\\' && c->i + 1 < c->n ? 2 : 1;
        } else {
            return;
        }
    }
}

/* RFC 2045 5.1: token := 1*<any (US-ASCII) CHAR except SPACE, CTLs, or tspecials> */
static int is_token_char(unsigned char ch)
{
    if (ch <= 0x20 || ch >= 0x7f)
        return 0;
    for (const char *t = "()<>@,;:\\\"/[]?="; *t; t++)
        if ((unsigned char)*t == ch)
            return 0;
    return 1;
}

static int ct_token(struct ct_cursor *c, struct ms_slice *out)
{
    size_t s = c->i;
    while (c->i < c->n && is_token_char((unsigned char)c->p[c->i]))
        c->i++;
    out->ptr = c->p + s;
    out->len = c->i - s;
    return out->len > 0;
}

/* quoted-string (RFC 5322 3.2.4): the bytes between the quotes, escapes kept. */
static int ct_quoted(struct ct_cursor *c, struct ms_slice *out)
{
    size_t s = ++c->i;
    while (c->i < c->n && c->p[c->i] != '"')
        c->i += c->p[c->i] == '\\' && c->i + 1 < c->n ? 2 : 1;
    if (c->i >= c->n)
        return 0;
    out->ptr = c->p + s;
    out->len = c->i - s;
    c->i++;
    return 1;
}

/* type "/" subtype *(";" parameter); 0 when type/subtype do not parse. */
static int parse_ctype(struct ms_slice v, struct ms_mime_entity *e)
{
    struct ct_cursor c = {v.ptr, v.len, 0};
    skip_cfws(&c);
    if (!ct_token(&c, &e->type))
        return 0;
    skip_cfws(&c);
    if (c.i >= c.n || c.p[c.i] != '/')
        return 0;
    c.i++;
    skip_cfws(&c);
    if (!ct_token(&c, &e->subtype))
        return 0;
    for (;;) {
        skip_cfws(&c);
        if (c.i >= c.n || c.p[c.i] != ';')
            break;
        c.i++;
        skip_cfws(&c);
        struct ms_mime_param pm = {{NULL, 0}, {NULL, 0}, 0};
        if (!ct_token(&c, &pm.name))
            break; /* a trailing ";" or garbage: the parameters end here */
        skip_cfws(&c);
        if (c.i >= c.n || c.p[c.i] != '=')
            break;
        c.i++;
        skip_cfws(&c);
        if (c.i < c.n && c.p[c.i] == '"') {
            if (!ct_quoted(&c, &pm.value))
                break;
            pm.quoted = 1;
        } else if (!ct_token(&c, &pm.value)) {
            break;
        }
        if (e->nparams == MS_MIME_MAX_PARAMS) {
            e->flags |= MS_MIME_F_PARAMS_CUT;
            break;
        }
        e->params[e->nparams++] = pm;
    }
    return 1;
}

/* ---- the walk ---- */

struct walk {
    const char *msg;
    size_t len;
    struct ms_mime *m;
};

/* dst = base "." k (or k when base is empty); 0 when it does not fit. */
static int section_join(char *dst, const char *base, uint32_t k)
{
    size_t bl = 0;
    while (bl < MS_MIME_MAX_SECTION && base[bl])
        bl++;
    char digits[12];
    size_t nd = 0;
    do {
        digits[nd++] = (char)('0' + k % 10);
        k /= 10;
    } while (k && nd < sizeof(digits));
    if (bl + (bl > 0) + nd + 1 > MS_MIME_MAX_SECTION)
        return 0;
    if (dst != base)
        memmove(dst, base, bl);
    size_t o = bl;
    if (bl)
        dst[o++] = '.';
    while (nd)
        dst[o++] = digits[--nd];
    dst[o] = '\0';
    return 1;
}

static void section_copy(char *dst, const char *src)
{
    size_t i = 0;
    while (i + 1 < MS_MIME_MAX_SECTION && src[i]) {
        dst[i] = src[i];
        i++;
    }
    dst[i] = '\0';
}

/* Split the entity's bytes into header and body, count the body's lines. */
static void split_entity(const struct walk *w, struct ms_mime_entity *e)
{
    size_t pos = e->off, end = e->off + e->len;
    e->hdr_off = e->off;
    for (;;) {
        if (pos >= end) { /* no empty line: everything is header */
            e->flags |= MS_MIME_F_NO_SEPARATOR;
            e->hdr_len = e->len;
            e->body_off = end;
            e->body_len = 0;
            break;
        }
        size_t content;
        size_t next = line_end(w->msg, end, pos, &content);
        if (next <= end && w->msg[next - 1] == '\n' &&
            (next - pos == 1 || w->msg[next - 2] != '\r'))
            e->flags |= MS_MIME_F_BARE_LF;
        if (content == 0 && next > pos) {
            e->hdr_len = next - e->off;
            e->body_off = next;
            e->body_len = end - next;
            break;
        }
        pos = next;
    }
    uint64_t lines = 0;
    const char *b = w->msg + e->body_off;
    for (size_t i = 0; i < e->body_len; i++)
        lines += b[i] == '\n';
    e->lines = lines;
    e->lines_open = lines + (e->body_len > 0 && b[e->body_len - 1] != '\n');
}

static void set_type(struct ms_mime_entity *e, const struct ms_mime_entity *parent, const char *msg)
{
    struct ms_slice line, value;
    (void)msg;
    if (e->hdr_len &&
        ms_mime_field(msg + e->hdr_off, e->hdr_len, "Content-Type", 12, 0, &line, &value)) {
        if (parse_ctype(value, e))
            goto have;
        e->flags |= MS_MIME_F_BAD_TYPE;
        e->nparams = 0;
    }
    /* RFC 2045 5.2 default text/plain; RFC 2046 5.1.5 in a digest message/rfc822 */
    e->defaulted = 1;
    if (parent && parent->multipart && ms_slice_ieq(parent->subtype, "digest")) {
        e->type = (struct ms_slice){"message", 7};
        e->subtype = (struct ms_slice){"rfc822", 6};
    } else {
        e->type = (struct ms_slice){"text", 4};
        e->subtype = (struct ms_slice){"plain", 5};
    }
have:
    if (ms_slice_ieq(e->type, "multipart")) {
        struct ms_slice bnd;
        int quoted = 0;
        if (ms_mime_param_get(e, "boundary", &bnd, &quoted) && bnd.len > 0 &&
            !(quoted && memchr(bnd.ptr, '\\', bnd.len))) {
            e->multipart = 1;
            e->boundary = bnd;
        } else {
            e->flags |= MS_MIME_F_NO_BOUNDARY;
        }
    } else if (ms_slice_ieq(e->type, "message") &&
               (ms_slice_ieq(e->subtype, "rfc822") || ms_slice_ieq(e->subtype, "global"))) {
        e->message = 1;
    }
}

/* Line at s (of the body b[0..n)) is a delimiter "--" boundary ["--"] LWSP
 * line end: returns 1, 2 for the close delimiter, 0 not one. */
static int delimiter(const char *b, size_t n, size_t s, struct ms_slice bnd, size_t *next)
{
    size_t content;
    size_t e = line_end(b, n, s, &content);
    if (content < 2 + bnd.len || b[s] != '-' || b[s + 1] != '-' ||
        memcmp(b + s + 2, bnd.ptr, bnd.len) != 0)
        return 0;
    size_t k = s + 2 + bnd.len;
    int close = 0;
    if (k + 1 < s + content + 1 && k + 2 <= s + content && b[k] == '-' && b[k + 1] == '-') {
        close = 1;
        k += 2;
    }
    while (k < s + content && is_wsp((unsigned char)b[k]))
        k++;
    if (k != s + content)
        return 0; /* "--boundaryX": another boundary, or text */
    *next = e;
    return close ? 2 : 1;
}

static uint32_t add_entity(struct walk *w, uint8_t role, uint32_t parent, uint16_t depth,
                           size_t off, size_t len);

/* The parts of multipart entity ei (RFC 2046 5.1.1). */
static void walk_multipart(struct walk *w, uint32_t ei, const char *base)
{
    struct ms_mime_entity *e = &w->m->e[ei];
    const char *b = w->msg + e->body_off;
    size_t n = e->body_len, pos = 0, part_start = 0;
    struct ms_slice bnd = e->boundary;
    uint16_t depth = (uint16_t)(e->depth + 1);
    uint32_t k = 0, prev = 0;
    int open = 0, closed = 0;
    char sect[MS_MIME_MAX_SECTION];

    while (pos < n && !closed) {
        size_t next, content;
        int d = delimiter(b, n, pos, bnd, &next);
        if (!d) {
            pos = line_end(b, n, pos, &content);
            continue;
        }
        if (open) {
            /* the CRLF before the delimiter belongs to it */
            size_t pe = pos;
            if (pe > part_start && b[pe - 1] == '\n')
                pe -= 1 + (pe - 1 > part_start && b[pe - 2] == '\r');
            uint32_t c = add_entity(w, MS_MIME_PART, ei + 1, depth, e->body_off + part_start,
                                    pe - part_start);
            e = &w->m->e[ei];
            if (!c) {
                e->flags |= MS_MIME_F_TOO_DEEP;
                return;
            }
            if (prev)
                w->m->e[prev - 1].next = c;
            else
                e->child = c;
            prev = c;
            e->nchildren++;
        }
        if (d == 2) {
            closed = 1;
            break;
        }
        open = 1;
        part_start = next;
        pos = next;
        (void)k;
    }
    if (open && !closed) {
        e->flags |= MS_MIME_F_NO_CLOSE;
        uint32_t c =
            add_entity(w, MS_MIME_PART, ei + 1, depth, e->body_off + part_start, n - part_start);
        e = &w->m->e[ei];
        if (!c) {
            e->flags |= MS_MIME_F_TOO_DEEP;
        } else {
            if (prev)
                w->m->e[prev - 1].next = c;
            else
                e->child = c;
            e->nchildren++;
        }
    }
    /* number the parts: base.1, base.2, ... (RFC 9051 6.4.5) and walk them */
    k = 0;
    for (uint32_t c = w->m->e[ei].child; c; c = w->m->e[c - 1].next) {
        k++;
        if (!section_join(sect, base, k)) {
            w->m->e[ei].flags |= MS_MIME_F_TOO_DEEP;
            sect[0] = '\0';
        }
        section_copy(w->m->e[c - 1].section, sect);
    }
}

static void walk_entity(struct walk *w, uint32_t ei);

static uint32_t add_entity(struct walk *w, uint8_t role, uint32_t parent, uint16_t depth,
                           size_t off, size_t len)
{
    if (w->m->n >= MS_MIME_MAX_ENTITIES || depth > MS_MIME_MAX_DEPTH)
        return 0;
    struct ms_mime_entity *e = &w->m->e[w->m->n];
    memset(e, 0, sizeof(*e));
    e->role = role;
    e->parent = parent;
    e->depth = depth;
    e->off = off;
    e->len = len;
    return ++w->m->n;
}

static void walk_entity(struct walk *w, uint32_t ei)
{
    struct ms_mime_entity *e = &w->m->e[ei];
    const struct ms_mime_entity *parent = e->parent ? &w->m->e[e->parent - 1] : NULL;
    char base[MS_MIME_MAX_SECTION];

    split_entity(w, e);
    set_type(e, parent, w->msg);
    if (e->role == MS_MIME_ROOT || e->role == MS_MIME_ENCAP) {
        /* a message: its body is part 1 of it unless it is a multipart */
        if (!e->multipart && !section_join(e->section, e->msg_section, 1)) {
            e->flags |= MS_MIME_F_TOO_DEEP;
            e->section[0] = '\0';
        }
        section_copy(base, e->msg_section);
    } else {
        section_copy(base, e->section);
    }
    if (e->multipart) {
        walk_multipart(w, ei, base);
    } else if (e->message && e->section[0]) {
        /* the message inside: HEADER and TEXT under this part's number */
        uint32_t c = add_entity(w, MS_MIME_ENCAP, ei + 1, (uint16_t)(e->depth + 1), e->body_off,
                                e->body_len);
        e = &w->m->e[ei];
        if (!c) {
            e->flags |= MS_MIME_F_TOO_DEEP;
            return;
        }
        e->child = c;
        e->nchildren = 1;
        section_copy(w->m->e[c - 1].msg_section, e->section);
    }
    /* the children: each walked after its siblings were added */
    for (uint32_t c = w->m->e[ei].child; c; c = w->m->e[c - 1].next)
        walk_entity(w, c - 1);
}

enum ms_status ms_mime_walk(const char *msg, size_t len, struct ms_mime *m, struct ms_error *err)
{
    struct walk w = {msg, len, m};
    m->n = 0;
    if (!msg || len == 0)
        return ms_error_set(err, 0, MS_ERR_SYNTAX, "RFC 5322 3.5 message",
                            "an empty message has no header", 0);
    uint32_t r = add_entity(&w, MS_MIME_ROOT, 0, 0, 0, len);
    (void)r;
    walk_entity(&w, 0);
    return MS_OK;
}
