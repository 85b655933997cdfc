/*
 * IMAP server responses (RFC 9051 7 and 9 "response"): the grammar's tokens,
 * status responses with their response codes, and the untagged data other
 * than FETCH (response_fetch.c). JSON and the writer are in response_out.c.
 *
 * One framed response is parsed with a cursor bounded to it; every token is a
 * slice into the input, every structure a node in the view's arena.
 */
#include <string.h>

#include "response_internal.h"

#define slice_node ms_imap_r_slice_node

#define RULE_RESPONSE "RFC 9051 9 response"
#define RULE_TEXT     "RFC 9051 9 resp-text"
#define RULE_CODE     "RFC 9051 9 resp-text-code"
#define RULE_TAG      "RFC 9051 9 tag"
#define RULE_CRLF     "RFC 9051 9 CRLF"
#define RULE_SEQSET   "RFC 9051 9 sequence-set"
#define RULE_FLAG     "RFC 9051 9 flag"
#define RULE_MAILBOX  "RFC 9051 9 mailbox-list"
#define RULE_CONT     "RFC 9051 7.5 continue-req"

/* ---- tokens (the common cases are inline in response_internal.h) ---- */

enum ms_status ms_imap_r_depth_fail(struct rp *p)
{
    return ms_fail_limit_at(&p->c, p->c.pos - 1, "mailspec imap_depth",
                            "parentheses nested deeper than the limit (imap_depth)");
}

/* Why ms_imap_r_number refused ndigits digits at start (value v if <= 19 digits). */
enum ms_status ms_imap_r_number_fail(struct rp *p, size_t start, size_t ndigits, uint64_t v,
                                     int wide, const char *rule)
{
    if (ndigits == 0)
        return ms_fail_at(&p->c, start, rule, "expected a number");
    if (ndigits > (wide ? 19u : 10u) || v > (wide ? (uint64_t)INT64_MAX : UINT32_MAX))
        return ms_fail_at(&p->c, start, rule, "number out of range");
    return ms_fail_at(&p->c, start, rule, "expected a non-zero number (nz-number)");
}

/* Length of a valid UTF-8 sequence (RFC 3629 4) of 2..4 bytes at p, or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char b = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;

    if (b >= 0xC2 && b <= 0xDF)
        need = 2;
    else if (b >= 0xE0 && b <= 0xEF) {
        need = 3;
        lo = b == 0xE0 ? 0xA0 : 0x80;
        hi = b == 0xED ? 0x9F : 0xBF;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 4;
        lo = b == 0xF0 ? 0x90 : 0x80;
        hi = b == 0xF4 ? 0x8F : 0xBF;
    } else
        return 0;
    if (n < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return need;
}

/*
 * quoted = DQUOTE *QUOTED-CHAR DQUOTE; QUOTED-CHAR is a TEXT-CHAR other than
 * DQUOTE and "\", "\" DQUOTE, "\\", or UTF-8 (RFC 9051 9). Only those two
 * escapes exist; NUL, CR and LF cannot appear at all. ms_imap_r_quoted
 * handles the plain case; this is entered at the first byte i that is not a
 * plain QUOTED-CHAR, the cursor still on the opening DQUOTE.
 */
enum ms_status ms_imap_r_quoted_slow(struct rp *p, const char *rule, size_t i, struct ms_slice *out)
{
    struct ms_cursor *c = &p->c;
    const unsigned char *s = c->p;
    size_t end = c->len;

    for (;;) {
        /* Plain QUOTED-CHARs (the caller's scan stopped at i: a no-op then). */
        i = ms_imap_qscan(s, i, end);
        if (i >= end)
            return ms_fail_at(c, i, rule, "unterminated quoted string");
        unsigned char ch = s[i];
        if (ch == '"')
            break;
        if (ch == '\\') {
            if (i + 1 >= end || (s[i + 1] != '"' && s[i + 1] != '\\'))
                return ms_fail_at(c, i, RULE_QUOTED,
                                  "only \\\" and \\\\ may be escaped in a quoted string");
            i += 2;
            continue;
        }
        if (ch >= 0x80) {
            size_t u = utf8_seq(s + i, end - i);
            if (u == 0) {
                if (!(p->lim->lenient & MS_LENIENT_8BIT))
                    return ms_fail_at(c, i, RULE_QUOTED,
                                      "8-bit byte in a quoted string that is not UTF-8");
                ms_quirk_add(&p->r->quirks, i, RULE_QUOTED,
                             "8-bit byte in a quoted string that is not UTF-8");
                u = 1;
            }
            i += u;
            continue;
        }
        if (ch == 0)
            return ms_fail_at(c, i, RULE_QUOTED, "NUL in a quoted string");
        return ms_fail_at(c, i, rule, "CR or LF in a quoted string");
    }
    out->ptr = (const char *)s + c->pos + 1;
    out->len = i - c->pos - 1;
    c->pos = i + 1;
    return MS_OK;
}

/*
 * literal = "{" number64 "}" CRLF *CHAR8 (CHAR8 excludes NUL);
 * literal8 = "~{" number64 "}" CRLF *OCTET (RFC 3516). The framer already
 * bounded the size by imap_literal; the bytes are skipped, not copied.
 */
static enum ms_status literal_body(struct rp *p, int is8, struct ms_slice *out)
{
    struct ms_cursor *c = &p->c;
    uint64_t n = 0;

    c->pos += is8 ? 2 : 1;
    size_t num_at = c->pos;
    /* Digits above 32 bits are a number64 over the limit, not bad syntax
     * (the framer refused them already). */
    if (ms_cursor_number(c, 10, UINT32_MAX, &n, RULE_LITERAL) != MS_OK)
        return c->pos > num_at ? ms_fail_limit_at(c, num_at, RULE_LITERAL, "number out of range")
                               : MS_FAIL;
    MS_GUARD(ms_cursor_expect(c, '}', RULE_LITERAL, "expected \"}\" after the literal size"));
    if (ms_cursor_left(c) < 2 || c->p[c->pos] != '\r' || c->p[c->pos + 1] != '\n')
        return ms_fail(c, RULE_LITERAL, "expected CRLF after a literal's \"{n}\"");
    c->pos += 2;
    if (ms_cursor_left(c) < n)
        return ms_fail(c, RULE_LITERAL, "literal shorter than its announced size");
    out->ptr = ms_cursor_ptr(c);
    out->len = (size_t)n;
    if (!is8) {
        const char *nul = memchr(out->ptr, 0, out->len);
        if (nul)
            return ms_fail_at(c, c->pos + (size_t)(nul - out->ptr), RULE_LITERAL,
                              "NUL in a literal (CHAR8 excludes it; only literal8 may hold it)");
    }
    c->pos += (size_t)n;
    return MS_OK;
}

/* string other than quoted: literal, literal8 (allow8), or an error. */
enum ms_status ms_imap_r_string_other(struct rp *p, int allow8, const char *rule,
                                      struct rp_chain *ch)
{
    struct ms_slice s;
    int b = ms_imap_r_peek(p);

    if (b == '{') {
        MS_GUARD(literal_body(p, 0, &s));
        return slice_node(p, MS_IMAP_N_LITERAL, MS_IMAP_R_NONE, s.ptr, s.len, ch);
    }
    if (b == '~' && allow8 && ms_cursor_peek_at(&p->c, 1) == '{') {
        MS_GUARD(literal_body(p, 1, &s));
        return slice_node(p, MS_IMAP_N_LITERAL8, MS_IMAP_R_NONE, s.ptr, s.len, ch);
    }
    return ms_fail(&p->c, rule, "expected a string (quoted or literal)");
}

/* An atom stopped by an 8-bit byte: say so rather than "expected SP". */
static enum ms_status no_8bit(struct rp *p, const char *rule)
{
    int b = ms_imap_r_peek(p);
    if (b >= 0x80)
        return ms_fail(&p->c, rule, "8-bit byte in an atom (ATOM-CHAR is US-ASCII)");
    return MS_OK;
}

/* astring = 1*ASTRING-CHAR / string */
enum ms_status ms_imap_r_astring(struct rp *p, const char *rule, struct rp_chain *ch)
{
    int b = ms_imap_r_peek(p);
    if (b == '"' || b == '{')
        return ms_imap_r_string(p, 0, rule, ch);
    struct ms_slice s;
    MS_GUARD(ms_cursor_token(&p->c, MS_C_IMAP_ASTRING, SIZE_MAX, &s, rule,
                             "expected an astring (atom, quoted or literal)"));
    MS_GUARD(no_8bit(p, rule));
    return slice_node(p, MS_IMAP_N_ATOM, MS_IMAP_R_NONE, s.ptr, s.len, ch);
}

enum ms_status ms_imap_r_atom(struct rp *p, uint8_t role, const char *rule, struct rp_chain *ch)
{
    struct ms_slice s;
    MS_GUARD(ms_cursor_token(&p->c, MS_C_IMAP_ATOM, SIZE_MAX, &s, rule, "expected an atom"));
    MS_GUARD(no_8bit(p, rule));
    return slice_node(p, MS_IMAP_N_ATOM, role, s.ptr, s.len, ch);
}

/*
 * sequence-set = (seq-number / seq-range) ["," sequence-set], seq-number =
 * nz-number / "*" (RFC 9051 9); uid-set the same without "*" (RFC 4315 4).
 * Kept as one ATOM slice.
 */
enum ms_status ms_imap_r_seqset(struct rp *p, int allow_star, const char *rule, struct rp_chain *ch)
{
    struct ms_cursor *c = &p->c;
    size_t start = c->pos;
    uint64_t v = 0;

    for (;;) {
        for (int k = 0; k < 2; k++) {
            if (allow_star && ms_imap_r_accept(p, '*')) {
                /* "*" */
            } else {
                MS_GUARD(ms_imap_r_number(p, 1, 0, rule, &v));
            }
            if (k == 0 && !ms_imap_r_accept(p, ':'))
                break;
        }
        if (!ms_imap_r_accept(p, ','))
            break;
    }
    return slice_node(p, MS_IMAP_N_ATOM, MS_IMAP_R_SEQSET, (const char *)c->p + start,
                      c->pos - start, ch);
}

/* flag = "\" atom / atom (keyword); flag-perm adds "\*" (RFC 9051 9). */
static enum ms_status flag(struct rp *p, int perm, struct rp_chain *ch)
{
    struct ms_cursor *c = &p->c;
    size_t start = c->pos;

    if (ms_imap_r_accept(p, '\\')) {
        if (perm && ms_imap_r_accept(p, '*'))
            return slice_node(p, MS_IMAP_N_ATOM, MS_IMAP_R_NONE, (const char *)c->p + start, 2, ch);
    }
    struct ms_slice s;
    MS_GUARD(ms_cursor_token(c, MS_C_IMAP_ATOM, SIZE_MAX, &s, RULE_FLAG, "expected a flag"));
    MS_GUARD(no_8bit(p, RULE_FLAG));
    return slice_node(p, MS_IMAP_N_ATOM, MS_IMAP_R_NONE, (const char *)c->p + start, c->pos - start,
                      ch);
}

/* "(" [flag *(SP flag)] ")" */
enum ms_status ms_imap_r_flag_list(struct rp *p, int perm, const char *rule, struct rp_chain *ch)
{
    uint32_t l = 0;
    struct rp_chain kids = {0, 0};

    MS_GUARD(ms_imap_r_open(p, rule));
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &l));
    if (ms_imap_r_peek(p) != ')') {
        do {
            MS_GUARD(flag(p, perm, &kids));
        } while (ms_imap_r_accept(p, ' '));
    }
    MS_GUARD(ms_imap_r_close(p, rule));
    p->r->nodes[l].child = kids.first;
    ms_imap_r_append(p, ch, l);
    return MS_OK;
}

/*
 * tagged-ext-val (RFC 9051 9, 4466 2.1): sequence-set / number64 / astring /
 * "(" [values] ")". Numbers followed by ":" or "," are sequence sets.
 */
enum ms_status ms_imap_r_ext_value(struct rp *p, const char *rule, struct rp_chain *ch)
{
    struct ms_cursor *c = &p->c;
    int b = ms_cursor_peek(c);

    if (b == '(') {
        uint32_t l = 0;
        struct rp_chain kids = {0, 0};
        MS_GUARD(ms_imap_r_open(p, rule));
        MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &l));
        if (ms_cursor_peek(c) != ')') {
            do {
                MS_GUARD(ms_imap_r_ext_value(p, rule, &kids));
            } while (ms_imap_r_accept(p, ' '));
        }
        MS_GUARD(ms_imap_r_close(p, rule));
        p->r->nodes[l].child = kids.first;
        ms_imap_r_append(p, ch, l);
        return MS_OK;
    }
    if (b >= 0 && (ms_is_digit((unsigned char)b) || b == '*')) {
        size_t save = c->pos;
        ms_cursor_span(c, MS_C_DIGIT, SIZE_MAX, NULL);
        int nb = ms_cursor_peek(c);
        c->pos = save;
        if (b == '*' || nb == ':' || nb == ',')
            return ms_imap_r_seqset(p, 1, rule, ch);
        if (nb < 0 || !ms_is((unsigned char)nb, MS_C_IMAP_ASTRING))
            return ms_imap_r_num_node(p, 0, 1, rule, ch);
    }
    if (ms_imap_r_nil(p)) {
        uint32_t i = 0;
        MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_NIL, MS_IMAP_R_NONE, &i));
        ms_imap_r_append(p, ch, i);
        return MS_OK;
    }
    return ms_imap_r_astring(p, rule, ch);
}

/* ---- resp-text ---- */

/* text = 1*(TEXT-CHAR / UTF8-2 / UTF8-3 / UTF8-4), up to the CRLF. */
static enum ms_status text_run(struct rp *p, const char *rule, struct ms_slice *out)
{
    struct ms_cursor *c = &p->c;
    size_t i = c->pos, end = c->len;

    while (i < end) {
        unsigned char ch = c->p[i];
        if (ms_ctype[ch] & MS_C_IMAP_TEXT) {
            i++;
            continue;
        }
        if (ch == '\r')
            break;
        if (ch >= 0x80) {
            size_t u = utf8_seq(c->p + i, end - i);
            if (u == 0) {
                if (!(p->lim->lenient & MS_LENIENT_8BIT))
                    return ms_fail_at(c, i, rule, "8-bit byte in text that is not UTF-8");
                ms_quirk_add(&p->r->quirks, i, rule, "8-bit byte in text that is not UTF-8");
                u = 1;
            }
            i += u;
            continue;
        }
        return ms_fail_at(c, i, rule, ch == 0 ? "NUL in text" : "LF in text");
    }
    out->ptr = (const char *)c->p + c->pos;
    out->len = i - c->pos;
    c->pos = i;
    return MS_OK;
}

#define name_is(s, lit) MS_IMAP_KW(s, lit)

#define KW(n)                                                                                      \
    {                                                                                              \
        n, sizeof(n) - 1                                                                           \
    }
static const struct {
    const char *n;
    size_t len;
} nullary_codes[] = {
    KW("ALERT"),
    KW("PARSE"),
    KW("READ-ONLY"),
    KW("READ-WRITE"),
    KW("TRYCREATE"),
    KW("UIDNOTSTICKY"),
    KW("UNAVAILABLE"),
    KW("AUTHENTICATIONFAILED"),
    KW("AUTHORIZATIONFAILED"),
    KW("EXPIRED"),
    KW("PRIVACYREQUIRED"),
    KW("CONTACTADMIN"),
    KW("NOPERM"),
    KW("INUSE"),
    KW("EXPUNGEISSUED"),
    KW("CORRUPTION"),
    KW("SERVERBUG"),
    KW("CLIENTBUG"),
    KW("CANNOT"),
    KW("LIMIT"),
    KW("OVERQUOTA"),
    KW("ALREADYEXISTS"),
    KW("NONEXISTENT"),
    KW("NOTSAVED"),
    KW("HASCHILDREN"),
    KW("CLOSED"),
    KW("UNKNOWN-CTE"),
    KW("NOMODSEQ"),
    KW("TOOBIG"),               /* RFC 4469 5 toobig-response-code */
    KW("NOTIFICATIONOVERFLOW"), /* RFC 5465 8 resp-text-code */
};
#undef KW

/* capability *(SP capability) ...; one of them must name the protocol. */
static enum ms_status capabilities(struct rp *p, const char *rule, int need_rev,
                                   struct rp_chain *kids)
{
    size_t start = p->c.pos;
    int rev = 0;

    /* SP then an atom: a trailing SP is left for the end-of-response check */
    while (ms_imap_r_peek(p) == ' ' && ms_cursor_peek_at(&p->c, 1) > ' ') {
        p->c.pos++;
        MS_GUARD(ms_imap_r_atom(p, MS_IMAP_R_NONE, rule, kids));
        struct ms_slice s = p->r->nodes[kids->last].s;
        if (name_is(s, "IMAP4rev1") || name_is(s, "IMAP4rev2"))
            rev = 1;
    }
    if (need_rev && !rev)
        return ms_fail_at(&p->c, start, rule, "capability list without IMAP4rev1 or IMAP4rev2");
    return MS_OK;
}

/* resp-text-code (RFC 9051 7.1 and 9; RFC 4315 3; RFC 7162 3.1, 3.2). */
static enum ms_status resp_code(struct rp *p)
{
    struct ms_cursor *c = &p->c;
    uint32_t code = 0;
    struct rp_chain top = {0, 0}, kids = {0, 0};

    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_SEQ, MS_IMAP_R_CODE, &code));
    ms_imap_r_append(p, &top, code);
    MS_GUARD(ms_imap_r_atom(p, MS_IMAP_R_NONE, RULE_CODE, &kids));
    struct ms_slice name = p->r->nodes[kids.last].s;

    for (size_t i = 0; i < sizeof(nullary_codes) / sizeof(nullary_codes[0]); i++) {
        if (ms_imap_kw_eq(name, nullary_codes[i].n, nullary_codes[i].len)) {
            p->r->nodes[code].child = kids.first;
            p->r->code = code;
            return MS_OK;
        }
    }
    if (name_is(name, "BADCHARSET")) {
        /* "BADCHARSET" [SP "(" charset *(SP charset) ")"], charset = atom / quoted */
        if (ms_imap_r_accept(p, ' ')) {
            uint32_t l = 0;
            struct rp_chain cs = {0, 0};
            MS_GUARD(ms_imap_r_open(p, RULE_CODE));
            MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &l));
            do {
                if (ms_cursor_peek(c) == '"')
                    MS_GUARD(ms_imap_r_string(p, 0, RULE_CODE, &cs));
                else
                    MS_GUARD(ms_imap_r_atom(p, MS_IMAP_R_NONE, RULE_CODE, &cs));
            } while (ms_imap_r_accept(p, ' '));
            MS_GUARD(ms_imap_r_close(p, RULE_CODE));
            p->r->nodes[l].child = cs.first;
            ms_imap_r_append(p, &kids, l);
        }
    } else if (name_is(name, "CAPABILITY")) {
        MS_GUARD(capabilities(p, "RFC 9051 9 capability-data", 1, &kids));
    } else if (name_is(name, "PERMANENTFLAGS")) {
        MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(ms_imap_r_flag_list(p, 1, "RFC 9051 9 flag-perm", &kids));
    } else if (name_is(name, "UIDNEXT") || name_is(name, "UIDVALIDITY") ||
               name_is(name, "UNSEEN")) {
        MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(ms_imap_r_num_node(p, 1, 0, RULE_CODE, &kids));
    } else if (name_is(name, "APPENDUID")) {
        /* RFC 4315 / 9051: "APPENDUID" SP nz-number SP append-uid */
        MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(ms_imap_r_num_node(p, 1, 0, "RFC 9051 9 resp-code-apnd", &kids));
        MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(ms_imap_r_seqset(p, 0, "RFC 9051 9 resp-code-apnd", &kids));
    } else if (name_is(name, "COPYUID")) {
        MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(ms_imap_r_num_node(p, 1, 0, "RFC 9051 9 resp-code-copy", &kids));
        MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(ms_imap_r_seqset(p, 0, "RFC 9051 9 resp-code-copy", &kids));
        MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(ms_imap_r_seqset(p, 0, "RFC 9051 9 resp-code-copy", &kids));
    } else if (name_is(name, "HIGHESTMODSEQ")) {
        MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(ms_imap_r_num_node(p, 1, 1, "RFC 7162 7 mod-sequence-value", &kids));
    } else if (name_is(name, "MODIFIED")) {
        MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(ms_imap_r_seqset(p, 1, "RFC 7162 7 resp-text-code", &kids));
    } else if (name_is(name, "BADEVENT")) {
        /* unsupported-events-code = "BADEVENT" SP "(" event *(SP event) ")" (RFC 5465 8);
         * the events are taken as their names (atoms) */
        const char *r = "RFC 5465 8 unsupported-events-code";
        uint32_t l = 0;
        struct rp_chain ev = {0, 0};
        MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(ms_imap_r_open(p, r));
        MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &l));
        do
            MS_GUARD(ms_imap_r_atom(p, MS_IMAP_R_NONE, r, &ev));
        while (ms_imap_r_accept(p, ' '));
        MS_GUARD(ms_imap_r_close(p, r));
        p->r->nodes[l].child = ev.first;
        ms_imap_r_append(p, &kids, l);
    } else if (name_is(name, "NOUPDATE")) {
        /* resp-text-code =/ "NOUPDATE" SP quoted (RFC 5267 4.2): the tag of the search */
        struct ms_slice q;
        MS_GUARD(ms_imap_r_sp(p));
        if (ms_imap_r_peek(p) != '"')
            return ms_fail(c, "RFC 5267 4.2 resp-text-code", "expected the search's tag, quoted");
        MS_GUARD(ms_imap_r_quoted(p, "RFC 5267 4.2 resp-text-code", &q));
        MS_GUARD(slice_node(p, MS_IMAP_N_QUOTED, MS_IMAP_R_NONE, q.ptr, q.len, &kids));
    } else if (name_is(name, "BADURL")) {
        /* badurl-response-code = "BADURL" SP url-resp-text (RFC 4469 5, errata 2002):
         * url-resp-text = 1*(%x01-09 / %x0B-0C / %x0E-5C / %x5E-FE), 8-bit included */
        MS_GUARD(ms_imap_r_sp(p));
        size_t start = c->pos;
        while (c->pos < c->len) {
            unsigned char b = c->p[c->pos];
            if (b == 0 || b == '\r' || b == '\n' || b == ']' || b == 0xFF)
                break;
            c->pos++;
        }
        if (c->pos == start)
            return ms_fail(c, "RFC 4469 5 url-resp-text", "expected the URL that failed");
        MS_GUARD(slice_node(p, MS_IMAP_N_ATOM, MS_IMAP_R_TEXT, (const char *)c->p + start,
                            c->pos - start, &kids));
    } else if (ms_imap_r_accept(p, ' ')) {
        /* atom [SP 1*<any TEXT-CHAR except "]">] */
        size_t start = c->pos;
        while (c->pos < c->len && (ms_ctype[c->p[c->pos]] & MS_C_IMAP_TEXT) && c->p[c->pos] != ']')
            c->pos++;
        if (c->pos == start)
            return ms_fail(c, RULE_CODE, "expected text after the response code's SP");
        MS_GUARD(slice_node(p, MS_IMAP_N_ATOM, MS_IMAP_R_TEXT, (const char *)c->p + start,
                            c->pos - start, &kids));
    }
    p->r->nodes[code].child = kids.first;
    p->r->code = code;
    return MS_OK;
}

/* resp-text = ["[" resp-text-code "]" SP] [text] (RFC 9051 9) */
static enum ms_status resp_text(struct rp *p)
{
    struct ms_cursor *c = &p->c;

    if (ms_imap_r_accept(p, '[')) {
        MS_GUARD(resp_code(p));
        MS_GUARD(ms_cursor_expect(c, ']', RULE_CODE, "expected \"]\" after the response code"));
        if (ms_cursor_peek(c) == '\r' && (p->lim->lenient & MS_LENIENT_SPACES)) {
            /* "[CODE]" CRLF: RFC 9051 9 resp-text wants SP (and RFC 3501 text) */
            ms_quirk_add(&p->r->quirks, c->pos, RULE_TEXT, "no SP after the response code \"]\"");
            p->r->text.ptr = ms_cursor_ptr(c);
            p->r->text.len = 0;
            return MS_OK;
        }
        MS_GUARD(ms_cursor_expect(c, ' ', RULE_TEXT, "expected SP after \"]\""));
    }
    return text_run(p, RULE_TEXT, &p->r->text);
}

/* continue-req = "+" SP (resp-text / base64) CRLF (RFC 9051 7.5) */
static enum ms_status continuation(struct rp *p)
{
    struct ms_cursor *c = &p->c;
    struct ms_imap_response *r = p->r;

    r->kind = MS_IMAP_CONTINUE;
    r->type = MS_IMAP_CONT;
    c->pos++;
    MS_GUARD(ms_cursor_expect(c, ' ', RULE_CONT, "expected SP after \"+\""));
    /* base64 = *(4base64-char) [base64-terminal]: all base64 chars, a
     * multiple of 4 long, "=" padding only at the end. Otherwise text. */
    size_t i = c->pos, end = c->len;
    while (i < end && ms_is(c->p[i], MS_C_BASE64))
        i++;
    size_t pad = 0;
    while (i < end && c->p[i] == '=' && pad < 2) {
        i++;
        pad++;
    }
    size_t n = i - c->pos;
    if (n > 0 && n % 4 == 0 && i < end && c->p[i] == '\r') {
        r->base64 = 1;
        r->text.ptr = (const char *)c->p + c->pos;
        r->text.len = n;
        c->pos = i;
        return MS_OK;
    }
    return resp_text(p);
}

/* ---- untagged data (RFC 9051 7.2-7.4) ---- */

static enum ms_status list_data(struct rp *p, struct rp_chain *data)
{
    struct ms_cursor *c = &p->c;

    /* "(" [mbx-list-flags] ")": each flag "\" atom */
    uint32_t l = 0;
    struct rp_chain flags = {0, 0};
    MS_GUARD(ms_imap_r_sp(p));
    MS_GUARD(ms_imap_r_open(p, RULE_MAILBOX));
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &l));
    if (ms_cursor_peek(c) != ')') {
        do {
            size_t start = c->pos;
            MS_GUARD(ms_cursor_expect(c, '\\', "RFC 9051 9 mbx-list-flags",
                                      "expected a mailbox flag (\"\\\" atom)"));
            struct ms_slice s;
            MS_GUARD(ms_cursor_token(c, MS_C_IMAP_ATOM, SIZE_MAX, &s, "RFC 9051 9 mbx-list-flags",
                                     "expected a mailbox flag (\"\\\" atom)"));
            MS_GUARD(slice_node(p, MS_IMAP_N_ATOM, MS_IMAP_R_NONE, (const char *)c->p + start,
                                c->pos - start, &flags));
        } while (ms_imap_r_accept(p, ' '));
    }
    MS_GUARD(ms_imap_r_close(p, RULE_MAILBOX));
    p->r->nodes[l].child = flags.first;
    ms_imap_r_append(p, data, l);
    MS_GUARD(ms_imap_r_sp(p));
    /* (DQUOTE QUOTED-CHAR DQUOTE / nil): exactly one character */
    if (!ms_imap_r_nil(p)) {
        if (ms_cursor_peek(c) != '"')
            return ms_fail(c, RULE_MAILBOX, "expected the hierarchy delimiter (quoted) or NIL");
        size_t start = c->pos;
        struct ms_slice s;
        MS_GUARD(ms_imap_r_quoted(p, RULE_MAILBOX, &s));
        size_t one = s.len == 0 ? 0 : (s.ptr[0] == '\\' ? 2 : 1);
        if (s.len > 0 && (unsigned char)s.ptr[0] >= 0x80)
            one = utf8_seq((const unsigned char *)s.ptr, s.len);
        if (s.len == 0 || one != s.len)
            return ms_fail_at(c, start, RULE_MAILBOX,
                              "hierarchy delimiter must be exactly one character (QUOTED-CHAR)");
        MS_GUARD(slice_node(p, MS_IMAP_N_QUOTED, MS_IMAP_R_NONE, s.ptr, s.len, data));
    } else {
        uint32_t n = 0;
        MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_NIL, MS_IMAP_R_NONE, &n));
        ms_imap_r_append(p, data, n);
    }
    MS_GUARD(ms_imap_r_sp(p));
    MS_GUARD(ms_imap_r_astring(p, "RFC 9051 9 mailbox", data));
    if (ms_cursor_peek(c) == ' ' && ms_cursor_peek_at(c, 1) == '(') {
        /* mbox-list-extended = "(" [item *(SP item)] ")",
         * item = mbox-list-extended-item-tag SP tagged-ext-val (RFC 5258 / 9051) */
        c->pos++;
        uint32_t x = 0;
        struct rp_chain items = {0, 0};
        MS_GUARD(ms_imap_r_open(p, "RFC 9051 9 mbox-list-extended"));
        MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &x));
        if (ms_cursor_peek(c) != ')') {
            do {
                uint32_t it = 0;
                struct rp_chain kv = {0, 0};
                MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_SEQ, MS_IMAP_R_ATTR, &it));
                MS_GUARD(ms_imap_r_astring(p, "RFC 9051 9 mbox-list-extended-item-tag", &kv));
                MS_GUARD(ms_imap_r_sp(p));
                MS_GUARD(ms_imap_r_ext_value(p, "RFC 9051 9 tagged-ext-val", &kv));
                p->r->nodes[it].child = kv.first;
                ms_imap_r_append(p, &items, it);
            } while (ms_imap_r_accept(p, ' '));
        }
        MS_GUARD(ms_imap_r_close(p, "RFC 9051 9 mbox-list-extended"));
        p->r->nodes[x].child = items.first;
        ms_imap_r_append(p, data, x);
    }
    return MS_OK;
}

/* Namespace = nil / "(" 1*Namespace-Descr ")" (RFC 2342 5, RFC 9051 9) */
static enum ms_status nspace(struct rp *p, struct rp_chain *data)
{
    struct ms_cursor *c = &p->c;
    const char *rule = "RFC 9051 9 namespace-descr";

    if (ms_imap_r_nil(p)) {
        uint32_t n = 0;
        MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_NIL, MS_IMAP_R_NONE, &n));
        ms_imap_r_append(p, data, n);
        return MS_OK;
    }
    uint32_t l = 0;
    struct rp_chain descrs = {0, 0};
    MS_GUARD(ms_imap_r_open(p, rule));
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &l));
    do {
        uint32_t d = 0;
        struct rp_chain f = {0, 0};
        MS_GUARD(ms_imap_r_open(p, rule));
        MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &d));
        MS_GUARD(ms_imap_r_string(p, 0, rule, &f));
        MS_GUARD(ms_imap_r_sp(p));
        if (ms_imap_r_nil(p)) {
            uint32_t n = 0;
            MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_NIL, MS_IMAP_R_NONE, &n));
            ms_imap_r_append(p, &f, n);
        } else {
            size_t start = c->pos;
            MS_GUARD(ms_imap_r_string(p, 0, rule, &f));
            struct ms_imap_node *dn = &p->r->nodes[f.last];
            if (dn->type != MS_IMAP_N_QUOTED || dn->s.len == 0 ||
                dn->s.len != (dn->s.ptr[0] == '\\' ? 2u : 1u))
                return ms_fail_at(c, start, rule,
                                  "hierarchy delimiter must be one quoted character or NIL");
        }
        /* Namespace-Response-Extensions: *(SP string SP "(" string *(SP string) ")") */
        while (ms_imap_r_accept(p, ' ')) {
            MS_GUARD(ms_imap_r_string(p, 0, rule, &f));
            MS_GUARD(ms_imap_r_sp(p));
            uint32_t v = 0;
            struct rp_chain vals = {0, 0};
            MS_GUARD(ms_imap_r_open(p, rule));
            MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &v));
            do {
                MS_GUARD(ms_imap_r_string(p, 0, rule, &vals));
            } while (ms_imap_r_accept(p, ' '));
            MS_GUARD(ms_imap_r_close(p, rule));
            p->r->nodes[v].child = vals.first;
            ms_imap_r_append(p, &f, v);
        }
        MS_GUARD(ms_imap_r_close(p, rule));
        p->r->nodes[d].child = f.first;
        ms_imap_r_append(p, &descrs, d);
    } while (ms_cursor_peek(c) == '(');
    MS_GUARD(ms_imap_r_close(p, rule));
    p->r->nodes[l].child = descrs.first;
    p->r->nodes[l].flags = 1; /* 1*Namespace-Descr: no SP between them */
    ms_imap_r_append(p, data, l);
    return MS_OK;
}

/* status-att-val (RFC 9051 9, 3501 MESSAGES/RECENT, 7162 HIGHESTMODSEQ, 8438 SIZE) */
static enum ms_status status_data(struct rp *p, struct rp_chain *data)
{
    struct ms_cursor *c = &p->c;
    const char *rule = "RFC 9051 9 status-att-val";

    MS_GUARD(ms_imap_r_sp(p));
    MS_GUARD(ms_imap_r_astring(p, "RFC 9051 9 mailbox", data));
    MS_GUARD(ms_imap_r_sp(p));
    uint32_t l = 0;
    struct rp_chain atts = {0, 0};
    MS_GUARD(ms_imap_r_open(p, rule));
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &l));
    if (ms_cursor_peek(c) != ')') {
        do {
            uint32_t a = 0;
            struct rp_chain kv = {0, 0};
            MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_SEQ, MS_IMAP_R_ATTR, &a));
            size_t at = c->pos;
            MS_GUARD(ms_imap_r_atom(p, MS_IMAP_R_NONE, rule, &kv));
            struct ms_slice n = p->r->nodes[kv.last].s;
            MS_GUARD(ms_imap_r_sp(p));
            if (name_is(n, "MESSAGES") || name_is(n, "UNSEEN") || name_is(n, "DELETED") ||
                name_is(n, "RECENT"))
                MS_GUARD(ms_imap_r_num_node(p, 0, 0, rule, &kv));
            else if (name_is(n, "UIDNEXT") || name_is(n, "UIDVALIDITY"))
                MS_GUARD(ms_imap_r_num_node(p, 1, 0, rule, &kv));
            else if (name_is(n, "SIZE") || name_is(n, "DELETED-STORAGE"))
                MS_GUARD(ms_imap_r_num_node(p, 0, 1, rule, &kv));
            else if (name_is(n, "HIGHESTMODSEQ"))
                MS_GUARD(ms_imap_r_num_node(p, 0, 1, "RFC 7162 7 mod-sequence-valzer", &kv));
            else if (name_is(n, "APPENDLIMIT")) {
                if (ms_imap_r_nil(p)) {
                    uint32_t z = 0;
                    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_NIL, MS_IMAP_R_NONE, &z));
                    ms_imap_r_append(p, &kv, z);
                } else
                    MS_GUARD(ms_imap_r_num_node(p, 0, 1, "RFC 7889 4 append-limit", &kv));
            } else if (name_is(n, "MAILBOXID"))
                MS_GUARD(ms_imap_r_ext_value(p, "RFC 8474 7 objectid", &kv));
            else
                return ms_fail_at(c, at, rule, "unknown STATUS attribute");
            p->r->nodes[a].child = kv.first;
            ms_imap_r_append(p, &atts, a);
        } while (ms_imap_r_accept(p, ' '));
    }
    MS_GUARD(ms_imap_r_close(p, rule));
    p->r->nodes[l].child = atts.first;
    ms_imap_r_append(p, data, l);
    return MS_OK;
}

/* "SEARCH" *(SP nz-number) [SP "(" "MODSEQ" SP mod-sequence-value ")"] */
static enum ms_status search_data(struct rp *p, struct rp_chain *data)
{
    struct ms_cursor *c = &p->c;
    size_t first = 0, last = 0;
    uint64_t v = 0;

    while (ms_cursor_peek(c) == ' ' && ms_cursor_peek_at(c, 1) > ' ' &&
           ms_cursor_peek_at(c, 1) != '(') {
        c->pos++;
        if (!first)
            first = c->pos;
        MS_GUARD(ms_imap_r_number(p, 1, 0, "RFC 9051 9 mailbox-data", &v));
        last = c->pos;
    }
    if (first)
        MS_GUARD(slice_node(p, MS_IMAP_N_ATOM, MS_IMAP_R_NUMLIST, (const char *)c->p + first,
                            last - first, data));
    if (ms_cursor_peek(c) == ' ' && ms_cursor_peek_at(c, 1) == '(') {
        c->pos++;
        const char *rule = "RFC 7162 7 search-sort-mod-seq";
        uint32_t l = 0;
        struct rp_chain kids = {0, 0};
        MS_GUARD(ms_imap_r_open(p, rule));
        MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &l));
        size_t at = c->pos;
        MS_GUARD(ms_imap_r_atom(p, MS_IMAP_R_NONE, rule, &kids));
        if (!name_is(p->r->nodes[kids.last].s, "MODSEQ"))
            return ms_fail_at(c, at, rule, "expected MODSEQ");
        MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(ms_imap_r_num_node(p, 1, 1, rule, &kids));
        MS_GUARD(ms_imap_r_close(p, rule));
        p->r->nodes[l].child = kids.first;
        ms_imap_r_append(p, data, l);
    }
    return MS_OK;
}

/*
 * ret-data-addto = "ADDTO" SP "(" context-position SP sequence-set
 *                  *(SP context-position SP sequence-set) ")"; REMOVEFROM the same;
 * context-position = number                                            (RFC 5267 4.3)
 */
static enum ms_status esearch_context(struct rp *p, struct rp_chain *kv)
{
    const char *rule = "RFC 5267 4.3 ret-data-addto";
    uint32_t l = 0;
    struct rp_chain kids = {0, 0};

    MS_GUARD(ms_imap_r_open(p, rule));
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &l));
    do {
        MS_GUARD(ms_imap_r_num_node(p, 0, 0, "RFC 5267 4.3 context-position", &kids));
        MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(ms_imap_r_seqset(p, 0, rule, &kids));
    } while (ms_imap_r_accept(p, ' '));
    MS_GUARD(ms_imap_r_close(p, rule));
    p->r->nodes[l].child = kids.first;
    ms_imap_r_append(p, kv, l);
    return MS_OK;
}

/*
 * ret-data-partial = "PARTIAL" SP "(" partial-range SP partial-results ")"
 * partial-range = nz-number ":" nz-number; partial-results = sequence-set / "NIL"
 * (RFC 5267 4.4); RFC 9394 3 adds partial-range-last = "-" nz-number ":" "-" nz-number.
 */
static enum ms_status esearch_partial(struct rp *p, struct rp_chain *kv)
{
    struct ms_cursor *c = &p->c;
    const char *rule = "RFC 5267 4.4 ret-data-partial";
    uint32_t l = 0;
    uint64_t v = 0;
    struct rp_chain kids = {0, 0};

    MS_GUARD(ms_imap_r_open(p, rule));
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &l));
    size_t start = c->pos;
    int neg = ms_imap_r_accept(p, '-');
    const char *rr = neg ? "RFC 9394 3 partial-range-last" : "RFC 5267 4.4 partial-range";
    MS_GUARD(ms_imap_r_number(p, 1, 0, rr, &v));
    MS_GUARD(ms_cursor_expect(c, ':', rr, "expected \":\" (partial-range = n:m)"));
    if (neg && !ms_imap_r_accept(p, '-'))
        return ms_fail(c, rr, "both ends of a negative range have \"-\"");
    if (!neg && ms_imap_r_peek(p) == '-')
        return ms_fail(c, rr, "a range from the start has no \"-\" on its end");
    MS_GUARD(ms_imap_r_number(p, 1, 0, rr, &v));
    MS_GUARD(slice_node(p, MS_IMAP_N_ATOM, MS_IMAP_R_NONE, (const char *)c->p + start,
                        c->pos - start, &kids));
    MS_GUARD(ms_imap_r_sp(p));
    if (ms_imap_r_nil(p)) {
        uint32_t n = 0;
        MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_NIL, MS_IMAP_R_NONE, &n));
        ms_imap_r_append(p, &kids, n);
    } else {
        MS_GUARD(ms_imap_r_seqset(p, 0, "RFC 5267 4.4 partial-results", &kids));
    }
    MS_GUARD(ms_imap_r_close(p, rule));
    p->r->nodes[l].child = kids.first;
    ms_imap_r_append(p, kv, l);
    return MS_OK;
}

/* esearch-response (RFC 9051 9, RFC 4731 3.1; ADDTO/REMOVEFROM/PARTIAL RFC 5267 4.3, 4.4) */
static enum ms_status esearch_data(struct rp *p, struct rp_chain *data)
{
    struct ms_cursor *c = &p->c;
    const char *rule = "RFC 9051 9 esearch-response";

    if (ms_cursor_peek(c) == ' ' && ms_cursor_peek_at(c, 1) == '(') {
        /* search-correlator = SP "(" "TAG" SP tag-string ")" */
        c->pos++;
        uint32_t l = 0;
        struct rp_chain kids = {0, 0};
        MS_GUARD(ms_imap_r_open(p, rule));
        MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_CORRELATOR, &l));
        size_t at = c->pos;
        MS_GUARD(ms_imap_r_atom(p, MS_IMAP_R_NONE, rule, &kids));
        if (!name_is(p->r->nodes[kids.last].s, "TAG"))
            return ms_fail_at(c, at, "RFC 9051 9 search-correlator", "expected TAG");
        MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(ms_imap_r_astring(p, "RFC 9051 9 tag-string", &kids));
        MS_GUARD(ms_imap_r_close(p, rule));
        p->r->nodes[l].child = kids.first;
        ms_imap_r_append(p, data, l);
    }
    int first = 1;
    while (ms_imap_r_accept(p, ' ')) {
        uint32_t a = 0;
        struct rp_chain kv = {0, 0};
        size_t at = c->pos;
        MS_GUARD(ms_imap_r_atom(p, MS_IMAP_R_NONE, rule, &kv));
        struct ms_slice n = p->r->nodes[kv.last].s;
        if (first && name_is(n, "UID")) {
            first = 0;
            ms_imap_r_append(p, data, kv.first);
            continue;
        }
        first = 0;
        MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_SEQ, MS_IMAP_R_ATTR, &a));
        MS_GUARD(ms_imap_r_sp(p));
        if (name_is(n, "MIN") || name_is(n, "MAX"))
            MS_GUARD(ms_imap_r_num_node(p, 1, 0, rule, &kv));
        else if (name_is(n, "ALL"))
            MS_GUARD(ms_imap_r_seqset(p, 0, rule, &kv));
        else if (name_is(n, "COUNT"))
            MS_GUARD(ms_imap_r_num_node(p, 0, 0, rule, &kv));
        else if (name_is(n, "MODSEQ"))
            MS_GUARD(ms_imap_r_num_node(p, 1, 1, rule, &kv));
        else if (name_is(n, "ADDTO") || name_is(n, "REMOVEFROM"))
            MS_GUARD(esearch_context(p, &kv));
        else if (name_is(n, "PARTIAL"))
            MS_GUARD(esearch_partial(p, &kv));
        else if (name_is(n, "UID"))
            return ms_fail_at(c, at, rule, "UID must come first, once");
        else
            MS_GUARD(ms_imap_r_ext_value(p, "RFC 9051 9 search-ret-data-ext", &kv));
        p->r->nodes[a].child = kv.first;
        ms_imap_r_append(p, data, a);
    }
    return MS_OK;
}

/* "ID" SP id-params-list; "(" *(string SP nstring) ")" / nil (RFC 2971 4) */
static enum ms_status id_data(struct rp *p, struct rp_chain *data)
{
    struct ms_cursor *c = &p->c;
    const char *rule = "RFC 2971 4 id-params-list";

    MS_GUARD(ms_imap_r_sp(p));
    if (ms_imap_r_nil(p)) {
        uint32_t n = 0;
        MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_NIL, MS_IMAP_R_NONE, &n));
        ms_imap_r_append(p, data, n);
        return MS_OK;
    }
    uint32_t l = 0;
    struct rp_chain kids = {0, 0};
    MS_GUARD(ms_imap_r_open(p, rule));
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_PARAMS, &l));
    if (ms_cursor_peek(c) != ')') {
        do {
            MS_GUARD(ms_imap_r_string(p, 0, rule, &kids));
            MS_GUARD(ms_imap_r_sp(p));
            MS_GUARD(ms_imap_r_nstring(p, rule, &kids));
        } while (ms_imap_r_accept(p, ' '));
    }
    MS_GUARD(ms_imap_r_close(p, rule));
    p->r->nodes[l].child = kids.first;
    ms_imap_r_append(p, data, l);
    return MS_OK;
}

/*
 * thread-list    = "(" (thread-members / thread-nested) ")"
 * thread-members = nz-number *(SP nz-number) [SP thread-nested]
 * thread-nested  = 2*thread-list                              (RFC 5256 4)
 * Recursion is bounded by lim->imap_depth (ms_imap_r_open).
 */
static enum ms_status thread_list(struct rp *p, struct rp_chain *out);

static enum ms_status thread_nested(struct rp *p, struct rp_chain *kids)
{
    const char *rule = "RFC 5256 4 thread-nested";
    size_t at = p->c.pos;
    unsigned n = 0;

    while (ms_cursor_peek(&p->c) == '(') {
        MS_GUARD(thread_list(p, kids));
        n++;
    }
    if (n < 2)
        return ms_fail_at(&p->c, at, rule, "a nested thread has at least two branches");
    return MS_OK;
}

static enum ms_status thread_list(struct rp *p, struct rp_chain *out)
{
    struct ms_cursor *c = &p->c;
    const char *rule = "RFC 5256 4 thread-list";
    uint32_t l = 0;
    struct rp_chain kids = {0, 0};

    MS_GUARD(ms_imap_r_open(p, rule));
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_THREAD, &l));
    if (ms_cursor_peek(c) == '(') {
        MS_GUARD(thread_nested(p, &kids));
    } else {
        for (;;) {
            MS_GUARD(ms_imap_r_num_node(p, 1, 0, "RFC 5256 4 thread-members", &kids));
            if (!ms_imap_r_accept(p, ' '))
                break;
            if (ms_cursor_peek(c) == '(') {
                MS_GUARD(thread_nested(p, &kids));
                break;
            }
        }
    }
    MS_GUARD(ms_imap_r_close(p, rule));
    p->r->nodes[l].child = kids.first;
    ms_imap_r_append(p, out, l);
    return MS_OK;
}

/* thread-data = "THREAD" [SP 1*thread-list] (RFC 5256 4) */
static enum ms_status thread_data(struct rp *p, struct rp_chain *data)
{
    if (!ms_imap_r_accept(p, ' '))
        return MS_OK;
    uint32_t s = 0;
    struct rp_chain kids = {0, 0};
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_SEQ, MS_IMAP_R_THREAD, &s));
    do
        MS_GUARD(thread_list(p, &kids));
    while (ms_cursor_peek(&p->c) == '(');
    p->r->nodes[s].child = kids.first;
    ms_imap_r_append(p, data, s);
    return MS_OK;
}

/*
 * quota-response = "QUOTA" SP quota-root-name SP quota-list
 * quota-list     = "(" quota-resource *(SP quota-resource) ")"
 * quota-resource = resource-name SP resource-usage SP resource-limit
 * (RFC 9208 7; usage and limit are number64). RFC 2087's "(" #quota_resource ")"
 * allowed an empty list, which RFC 9208 servers may still send: accepted.
 */
static enum ms_status quota_data(struct rp *p, struct rp_chain *data)
{
    struct ms_cursor *c = &p->c;

    MS_GUARD(ms_imap_r_sp(p));
    MS_GUARD(ms_imap_r_astring(p, "RFC 9208 7 quota-root-name", data));
    MS_GUARD(ms_imap_r_sp(p));
    uint32_t l = 0;
    struct rp_chain res = {0, 0};
    MS_GUARD(ms_imap_r_open(p, "RFC 9208 7 quota-list"));
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &l));
    if (ms_cursor_peek(c) != ')') {
        do {
            uint32_t a = 0;
            struct rp_chain kv = {0, 0};
            MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_SEQ, MS_IMAP_R_QUOTA, &a));
            MS_GUARD(ms_imap_r_atom(p, MS_IMAP_R_NONE, "RFC 9208 7 resource-name", &kv));
            MS_GUARD(ms_imap_r_sp(p));
            MS_GUARD(ms_imap_r_num_node(p, 0, 1, "RFC 9208 7 resource-usage", &kv));
            MS_GUARD(ms_imap_r_sp(p));
            MS_GUARD(ms_imap_r_num_node(p, 0, 1, "RFC 9208 7 resource-limit", &kv));
            p->r->nodes[a].child = kv.first;
            ms_imap_r_append(p, &res, a);
        } while (ms_imap_r_accept(p, ' '));
    }
    MS_GUARD(ms_imap_r_close(p, "RFC 9208 7 quota-list"));
    p->r->nodes[l].child = res.first;
    ms_imap_r_append(p, data, l);
    return MS_OK;
}

/* quotaroot-response = "QUOTAROOT" SP mailbox *(SP quota-root-name) (RFC 9208 7) */
static enum ms_status quotaroot_data(struct rp *p, struct rp_chain *data)
{
    MS_GUARD(ms_imap_r_sp(p));
    MS_GUARD(ms_imap_r_astring(p, "RFC 9051 9 mailbox", data));
    while (ms_imap_r_accept(p, ' '))
        MS_GUARD(ms_imap_r_astring(p, "RFC 9208 7 quota-root-name", data));
    return MS_OK;
}

/* rights = astring, "only lowercase ASCII letters and digits" (RFC 4314 7) */
static enum ms_status acl_rights(struct rp *p, struct rp_chain *data)
{
    size_t at = p->c.pos;
    MS_GUARD(ms_imap_r_astring(p, "RFC 4314 7 rights", data));
    struct ms_imap_node *n = &p->r->nodes[data->last];
    for (size_t k = 0; k < n->s.len; k++) {
        unsigned char ch = (unsigned char)n->s.ptr[k];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
            return ms_fail_at(&p->c, at, "RFC 4314 7 rights",
                              "rights are lower-case letters and digits");
    }
    return MS_OK;
}

/*
 * acl-data        = "ACL" SP mailbox *(SP identifier SP rights)
 * listrights-data = "LISTRIGHTS" SP mailbox SP identifier SP rights *(SP rights)
 * myrights-data   = "MYRIGHTS" SP mailbox SP rights                 (RFC 4314 7)
 */
static enum ms_status acl_data(struct rp *p, uint8_t type, struct rp_chain *data)
{
    MS_GUARD(ms_imap_r_sp(p));
    MS_GUARD(ms_imap_r_astring(p, "RFC 9051 9 mailbox", data));
    if (type == MS_IMAP_MYRIGHTS) {
        MS_GUARD(ms_imap_r_sp(p));
        return acl_rights(p, data);
    }
    if (type == MS_IMAP_LISTRIGHTS) {
        MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(ms_imap_r_astring(p, "RFC 4314 7 identifier", data));
        MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(acl_rights(p, data));
        while (ms_imap_r_accept(p, ' '))
            MS_GUARD(acl_rights(p, data));
        return MS_OK;
    }
    while (ms_imap_r_accept(p, ' ')) {
        MS_GUARD(ms_imap_r_astring(p, "RFC 4314 7 identifier", data));
        MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(acl_rights(p, data));
    }
    return MS_OK;
}

/*
 * metadata-resp = "METADATA" SP mailbox SP (entry-values / entry-list)
 * entry-values  = "(" entry-value *(SP entry-value) ")";  entry-value = entry SP value
 * entry-list    = entry *(SP entry);  entry = astring;  value = nstring / literal8
 * (RFC 5464 5)
 */
static enum ms_status metadata_data(struct rp *p, struct rp_chain *data)
{
    const char *rule = "RFC 5464 5 entry-values";

    MS_GUARD(ms_imap_r_sp(p));
    MS_GUARD(ms_imap_r_astring(p, "RFC 9051 9 mailbox", data));
    MS_GUARD(ms_imap_r_sp(p));
    if (ms_cursor_peek(&p->c) != '(') {
        do
            MS_GUARD(ms_imap_r_astring(p, "RFC 5464 5 entry", data));
        while (ms_imap_r_accept(p, ' '));
        return MS_OK;
    }
    uint32_t l = 0;
    struct rp_chain kids = {0, 0};
    MS_GUARD(ms_imap_r_open(p, rule));
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_PARAMS, &l));
    do {
        MS_GUARD(ms_imap_r_astring(p, "RFC 5464 5 entry", &kids));
        MS_GUARD(ms_imap_r_sp(p));
        if (ms_imap_r_peek(p) == '~')
            MS_GUARD(ms_imap_r_string(p, 1, "RFC 5464 5 value", &kids));
        else
            MS_GUARD(ms_imap_r_nstring(p, "RFC 5464 5 value", &kids));
    } while (ms_imap_r_accept(p, ' '));
    MS_GUARD(ms_imap_r_close(p, rule));
    p->r->nodes[l].child = kids.first;
    ms_imap_r_append(p, data, l);
    return MS_OK;
}

/* "VANISHED" [SP "(EARLIER)"] SP known-uids (RFC 7162 3.2.10) */
static enum ms_status vanished_data(struct rp *p, struct rp_chain *data)
{
    struct ms_cursor *c = &p->c;

    MS_GUARD(ms_imap_r_sp(p));
    if (ms_cursor_peek(c) == '(') {
        if (!ms_cursor_accept_ci(c, "(EARLIER)"))
            return ms_fail(c, "RFC 7162 7 expunged-resp", "expected (EARLIER)");
        uint32_t l = 0, e = 0;
        MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &l));
        MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_ATOM, MS_IMAP_R_NONE, &e));
        p->r->nodes[e].s.ptr = ms_cursor_ptr(c) - 8;
        p->r->nodes[e].s.len = 7;
        p->r->nodes[l].child = e;
        ms_imap_r_append(p, data, l);
        MS_GUARD(ms_imap_r_sp(p));
    }
    return ms_imap_r_seqset(p, 1, "RFC 7162 7 known-uids", data);
}

/* ---- the response ---- */

struct keyword {
    const char *name;
    size_t len;
    uint8_t type;
};

static const struct keyword untagged_words[] = {
    {"OK", 2, MS_IMAP_OK},
    {"NO", 2, MS_IMAP_NO},
    {"BAD", 3, MS_IMAP_BAD},
    {"BYE", 3, MS_IMAP_BYE},
    {"PREAUTH", 7, MS_IMAP_PREAUTH},
    {"CAPABILITY", 10, MS_IMAP_CAPABILITY},
    {"ENABLED", 7, MS_IMAP_ENABLED},
    {"LIST", 4, MS_IMAP_LIST},
    {"LSUB", 4, MS_IMAP_LSUB},
    {"NAMESPACE", 9, MS_IMAP_NAMESPACE},
    {"STATUS", 6, MS_IMAP_STATUS},
    {"SEARCH", 6, MS_IMAP_SEARCH},
    {"ESEARCH", 7, MS_IMAP_ESEARCH},
    {"FLAGS", 5, MS_IMAP_FLAGS},
    {"VANISHED", 8, MS_IMAP_VANISHED},
    {"ID", 2, MS_IMAP_ID},
    {"SORT", 4, MS_IMAP_SORT},
    {"THREAD", 6, MS_IMAP_THREAD},
    {"QUOTA", 5, MS_IMAP_QUOTA},
    {"QUOTAROOT", 9, MS_IMAP_QUOTAROOT},
    {"ACL", 3, MS_IMAP_ACL},
    {"LISTRIGHTS", 10, MS_IMAP_LISTRIGHTS},
    {"MYRIGHTS", 8, MS_IMAP_MYRIGHTS},
    {"METADATA", 8, MS_IMAP_METADATA},
    {NULL, 0, 0},
};

static const struct keyword numbered_words[] = {
    {"EXISTS", 6, MS_IMAP_EXISTS},
    {"RECENT", 6, MS_IMAP_RECENT},
    {"EXPUNGE", 7, MS_IMAP_EXPUNGE},
    {"FETCH", 5, MS_IMAP_FETCH},
    {NULL, 0, 0},
};

static uint8_t keyword_find(const struct keyword *t, struct ms_slice s)
{
    for (size_t i = 0; t[i].name; i++)
        if (ms_imap_kw_eq(s, t[i].name, t[i].len))
            return t[i].type;
    return 0;
}

static enum ms_status untagged(struct rp *p)
{
    struct ms_cursor *c = &p->c;
    struct ms_imap_response *r = p->r;
    struct rp_chain data = {0, 0};
    struct ms_slice word;

    r->kind = MS_IMAP_UNTAGGED;
    r->tag.ptr = (const char *)c->p;
    r->tag.len = 1;
    c->pos++;
    MS_GUARD(ms_cursor_expect(c, ' ', RULE_RESPONSE, "expected SP after \"*\""));
    int b = ms_cursor_peek(c);
    if (b >= 0 && ms_is_digit((unsigned char)b)) {
        /* message-data = nz-number SP ("EXPUNGE" / ("FETCH" SP msg-att));
         * mailbox-data: number SP "EXISTS" / number SP "RECENT" */
        size_t at = c->pos;
        MS_GUARD(ms_imap_r_number(p, 0, 0, RULE_NUMBER, &r->number));
        MS_GUARD(ms_imap_r_sp(p));
        size_t wat = c->pos;
        MS_GUARD(ms_cursor_token(c, MS_C_IMAP_ATOM, SIZE_MAX, &word, RULE_RESPONSE,
                                 "expected EXISTS, RECENT, EXPUNGE or FETCH"));
        r->type = keyword_find(numbered_words, word);
        if (!r->type)
            return ms_fail_at(c, wat, RULE_RESPONSE, "expected EXISTS, RECENT, EXPUNGE or FETCH");
        if ((r->type == MS_IMAP_EXPUNGE || r->type == MS_IMAP_FETCH) && r->number == 0)
            return ms_fail_at(c, at, "RFC 9051 9 message-data",
                              "expected a non-zero number (nz-number)");
        if (r->type == MS_IMAP_FETCH) {
            MS_GUARD(ms_imap_r_sp(p));
            MS_GUARD(ms_imap_r_msg_atts(p, &data));
        }
        r->data = data.first;
        return MS_OK;
    }
    size_t wat = c->pos;
    MS_GUARD(ms_cursor_token(c, MS_C_IMAP_ATOM, SIZE_MAX, &word, RULE_RESPONSE,
                             "expected a response keyword"));
    r->type = keyword_find(untagged_words, word);
    switch (r->type) {
    case MS_IMAP_OK:
    case MS_IMAP_NO:
    case MS_IMAP_BAD:
    case MS_IMAP_BYE:
    case MS_IMAP_PREAUTH:
        MS_GUARD(ms_cursor_expect(c, ' ', RULE_TEXT, "expected SP before resp-text"));
        MS_GUARD(resp_text(p));
        break;
    case MS_IMAP_CAPABILITY:
        MS_GUARD(capabilities(p, "RFC 9051 9 capability-data", 1, &data));
        break;
    case MS_IMAP_ENABLED:
        MS_GUARD(capabilities(p, "RFC 9051 9 enable-data", 0, &data));
        break;
    case MS_IMAP_FLAGS:
        MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(ms_imap_r_flag_list(p, 0, "RFC 9051 9 flag-list", &data));
        break;
    case MS_IMAP_LIST:
    case MS_IMAP_LSUB:
        MS_GUARD(list_data(p, &data));
        break;
    case MS_IMAP_NAMESPACE:
        for (int i = 0; i < 3; i++) {
            MS_GUARD(ms_imap_r_sp(p));
            MS_GUARD(nspace(p, &data));
        }
        break;
    case MS_IMAP_STATUS:
        MS_GUARD(status_data(p, &data));
        break;
    case MS_IMAP_SEARCH:
    case MS_IMAP_SORT: /* sort-data = "SORT" *(SP nz-number) [SP search-sort-mod-seq] */
        MS_GUARD(search_data(p, &data));
        break;
    case MS_IMAP_THREAD:
        MS_GUARD(thread_data(p, &data));
        break;
    case MS_IMAP_QUOTA:
        MS_GUARD(quota_data(p, &data));
        break;
    case MS_IMAP_QUOTAROOT:
        MS_GUARD(quotaroot_data(p, &data));
        break;
    case MS_IMAP_ACL:
    case MS_IMAP_LISTRIGHTS:
    case MS_IMAP_MYRIGHTS:
        MS_GUARD(acl_data(p, r->type, &data));
        break;
    case MS_IMAP_METADATA:
        MS_GUARD(metadata_data(p, &data));
        break;
    case MS_IMAP_ESEARCH:
        MS_GUARD(esearch_data(p, &data));
        break;
    case MS_IMAP_VANISHED:
        MS_GUARD(vanished_data(p, &data));
        break;
    case MS_IMAP_ID:
        MS_GUARD(id_data(p, &data));
        break;
    default:
        if (!(p->lim->lenient & MS_LENIENT_IMAP_UNKNOWN))
            return ms_fail_at(c, wat, RULE_RESPONSE, "unknown untagged response");
        /* The whole line after "* ", literals included, kept raw. */
        r->type = MS_IMAP_UNKNOWN;
        ms_quirk_add(&r->quirks, wat, RULE_RESPONSE, "unknown untagged response accepted");
        r->text.ptr = (const char *)c->p + wat;
        r->text.len = c->len - 2 - wat;
        c->pos = c->len - 2;
        break;
    }
    r->data = data.first;
    return MS_OK;
}

static enum ms_status tagged(struct rp *p)
{
    struct ms_cursor *c = &p->c;
    struct ms_imap_response *r = p->r;
    struct ms_slice word;

    r->kind = MS_IMAP_TAGGED;
    MS_GUARD(ms_cursor_token(c, MS_C_IMAP_TAG, SIZE_MAX, &r->tag, RULE_TAG,
                             "expected a tag, \"*\" or \"+\""));
    MS_GUARD(ms_cursor_expect(c, ' ', RULE_RESPONSE, "expected SP after the tag"));
    size_t wat = c->pos;
    MS_GUARD(ms_cursor_token(c, MS_C_IMAP_ATOM, SIZE_MAX, &word, "RFC 9051 9 resp-cond-state",
                             "expected OK, NO or BAD"));
    r->type = keyword_find(untagged_words, word);
    if (r->type != MS_IMAP_OK && r->type != MS_IMAP_NO && r->type != MS_IMAP_BAD)
        return ms_fail_at(c, wat, "RFC 9051 9 resp-cond-state", "expected OK, NO or BAD");
    MS_GUARD(ms_cursor_expect(c, ' ', RULE_TEXT, "expected SP before resp-text"));
    return resp_text(p);
}

static enum ms_status response(struct rp *p)
{
    struct ms_cursor *c = &p->c;
    int b = ms_cursor_peek(c);

    if (b == '+')
        MS_GUARD(continuation(p));
    else if (b == '*')
        MS_GUARD(untagged(p));
    else
        MS_GUARD(tagged(p));
    /* Trailing SPs before the CRLF, with MS_LENIENT_SPACES only. */
    if (ms_cursor_peek(c) == ' ' && (p->lim->lenient & MS_LENIENT_SPACES)) {
        size_t at = c->pos;
        while (c->pos < c->len && c->p[c->pos] == ' ')
            c->pos++;
        if (ms_cursor_left(c) == 2)
            ms_quirk_add(&p->r->quirks, at, RULE_CRLF, "trailing SP before CRLF");
        else
            c->pos = at;
    }
    /* The framer guarantees a final CRLF; anything before it is an error. */
    if (ms_cursor_left(c) != 2 || c->p[c->pos] != '\r')
        return ms_fail(c, RULE_CRLF,
                       ms_cursor_left(c) > 2 && c->p[c->pos] == '\r'
                           ? "bytes after CRLF (a line ending in {n} announces a literal)"
                           : "expected CRLF at the end of the response");
    c->pos += 2;
    return MS_OK;
}

/* Parse one framed response buf[0..n). */
static ssize_t parse_framed(const struct ms_limits *lim, const char *buf, size_t n,
                            struct ms_imap_response *r, struct ms_error *err)
{
    struct rp p;
    ms_cursor_init(&p.c, buf, n, err, RULE_RESPONSE);
    p.r = r;
    p.lim = lim;
    p.depth = 0;
    p.max_nodes = lim->imap_items < MS_IMAP_NODES ? (uint32_t)lim->imap_items : MS_IMAP_NODES;
    r->kind = 0;
    r->type = 0;
    r->base64 = 0;
    r->tag.ptr = NULL;
    r->tag.len = 0;
    r->number = 0;
    r->code = 0;
    r->text.ptr = NULL;
    r->text.len = 0;
    r->data = 0;
    r->nnodes = 0;
    r->quirks.n = 0;
    r->quirks.dropped = 0;
    r->raw.ptr = buf;
    r->raw.len = n;
    if (response(&p) != MS_OK) {
        err->skip = n;
        return MS_FAIL;
    }
    return (ssize_t)n;
}

ssize_t ms_imap_response_parse(const struct ms_limits *lim, const char *buf, size_t len,
                               struct ms_imap_response *r, struct ms_error *err)
{
    ssize_t n = ms_imap_frame(lim, MS_IMAP_SERVER, buf, len, err);
    if (n <= 0)
        return n;
    return parse_framed(lim, buf, (size_t)n, r, err);
}

/* The stream kind frames resumably: chunked input costs O(message). */
static ssize_t replies_parse(void *state, const struct ms_limits *lim, const char *buf, size_t len,
                             void *view, int *done, struct ms_error *err)
{
    ssize_t n = ms_imap_frame_resume(lim, MS_IMAP_SERVER, buf, len, state, err);
    if (n <= 0)
        return n;
    n = parse_framed(lim, buf, (size_t)n, view, err);
    if (n > 0)
        *done = 1;
    return n;
}

static void replies_json(const void *view, struct ms_out *out)
{
    ms_imap_response_json(view, out);
}

static ssize_t replies_write(const void *view, char *out, size_t cap)
{
    return ms_imap_response_write(view, out, cap);
}

const struct ms_kind ms_imap_replies_kind = {
    "imap",
    "replies",
    sizeof(struct ms_imap_frame_state),
    sizeof(struct ms_imap_response),
    NULL,
    replies_parse,
    replies_json,
    replies_write,
};
