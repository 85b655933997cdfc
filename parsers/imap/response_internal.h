/* Shared by the IMAP response parser files (response*.c); not public. */
#ifndef MAILSPEC_IMAP_RESPONSE_INTERNAL_H
#define MAILSPEC_IMAP_RESPONSE_INTERNAL_H

#include <string.h>

#include "mailspec/imap_response.h"
#include "mailspec/scan.h"

/* Parser context: a cursor over one framed response and the view being built. */
struct rp {
    struct ms_cursor c;
    struct ms_imap_response *r;
    const struct ms_limits *lim;
    uint32_t max_nodes;
    unsigned depth;
};

/* Children being appended to a LIST/SEQ node (or the top-level data chain). */
struct rp_chain {
    uint32_t first, last;
};

#define RULE_SP       "RFC 9051 9 SP"
#define RULE_NUMBER   "RFC 9051 9 number"
#define RULE_NZ       "RFC 9051 9 nz-number"
#define RULE_NUMBER64 "RFC 9051 9 number64"
#define RULE_STRING   "RFC 9051 9 string"
#define RULE_QUOTED   "RFC 9051 9 quoted"
#define RULE_LITERAL  "RFC 9051 9 literal"
#define RULE_NSTRING  "RFC 9051 9 nstring"
#define RULE_ASTRING  "RFC 9051 9 astring"
#define RULE_ATOM     "RFC 9051 9 atom"
#define RULE_LISTP    "RFC 9051 9 list"

/*
 * The hot path of a FETCH response (ENVELOPE, BODYSTRUCTURE) is a few hundred
 * small tokens: strings, NILs, numbers, parentheses and SPs. Their readers are
 * inline here so that both response.c and response_fetch.c get them without a
 * call per token; the rare paths (errors, escapes, 8-bit) stay out of line.
 */

/* Inlined at every call site even where the compiler would rather not:
 * the string readers run once per token of an ENVELOPE or BODYSTRUCTURE. */
#if defined(__GNUC__) || defined(__clang__)
#define MS_IMAP_HOT         __attribute__((always_inline))
#define MS_IMAP_LIKELY(x)   __builtin_expect(!!(x), 1)
#define MS_IMAP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define MS_IMAP_HOT
#define MS_IMAP_LIKELY(x)   (x)
#define MS_IMAP_UNLIKELY(x) (x)
#endif

static inline void ms_imap_r_node_set(struct ms_imap_node *n, uint8_t type, uint8_t role,
                                      const char *ptr, size_t len)
{
    n->type = type;
    n->role = role;
    n->flags = 0;
    n->next = 0;
    n->child = 0;
    n->aux = 0;
    n->num = 0;
    n->s.ptr = ptr;
    n->s.len = len;
}

/* A new node in the view's arena (inline: one per token on the hot path). */
MS_MUST_USE static inline enum ms_status ms_imap_r_node(struct rp *p, uint8_t type, uint8_t role,
                                                        uint32_t *idx)
{
    struct ms_imap_response *r = p->r;

    if (r->nnodes >= p->max_nodes)
        return ms_fail_limit(&p->c, "mailspec imap_items",
                             "more items in the response than the limit (imap_items)");
    uint32_t i = ++r->nnodes;
    /* Field by field: a compound literal here becomes "rep stos" with gcc
     * -O2, which costs more than the nine stores. */
    ms_imap_r_node_set(&r->nodes[i], type, role, NULL, 0);
    *idx = i;
    return MS_OK;
}

static inline void ms_imap_r_append(struct rp *p, struct rp_chain *ch, uint32_t idx)
{
    if (ch->last)
        p->r->nodes[ch->last].next = idx;
    else
        ch->first = idx;
    ch->last = idx;
}

/* A node holding a slice, appended to ch. */
MS_MUST_USE static inline enum ms_status ms_imap_r_slice_node(struct rp *p, uint8_t type,
                                                              uint8_t role, const char *ptr,
                                                              size_t len, struct rp_chain *ch)
{
    struct ms_imap_response *r = p->r;

    if (r->nnodes >= p->max_nodes)
        return ms_fail_limit(&p->c, "mailspec imap_items",
                             "more items in the response than the limit (imap_items)");
    uint32_t i = ++r->nnodes;
    ms_imap_r_node_set(&r->nodes[i], type, role, ptr, len);
    ms_imap_r_append(p, ch, i);
    return MS_OK;
}

/* The next byte, or -1 at the end of the response. */
static inline int ms_imap_r_peek(const struct rp *p)
{
    return p->c.pos < p->c.len ? p->c.p[p->c.pos] : -1;
}

/* Consume ch if it is next. */
static inline int ms_imap_r_accept(struct rp *p, unsigned char ch)
{
    if (p->c.pos < p->c.len && p->c.p[p->c.pos] == ch) {
        p->c.pos++;
        return 1;
    }
    return 0;
}

/*
 * Case-insensitive keyword match against a literal of known length n. Servers
 * send keywords as the RFCs spell them, so an exact comparison (memcmp of a
 * constant length, inlined) comes first; a byte that differs still matches if
 * both are letters differing only in case.
 */
static inline int ms_imap_kw_eq(struct ms_slice s, const char *lit, size_t n)
{
    if (s.len != n)
        return 0;
    if (memcmp(s.ptr, lit, n) == 0)
        return 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char a = (unsigned char)s.ptr[i], b = (unsigned char)lit[i];
        if (a != b && ((a | 0x20) != (b | 0x20) || (b | 0x20) < 'a' || (b | 0x20) > 'z'))
            return 0;
    }
    return 1;
}
/* With a string literal: no strlen at run time. */
#define MS_IMAP_KW(s, lit) ms_imap_kw_eq((s), (lit), sizeof(lit) - 1)
/* SP, inline: the most common token. */
MS_MUST_USE static inline enum ms_status ms_imap_r_sp(struct rp *p)
{
    if (p->c.pos < p->c.len && p->c.p[p->c.pos] == ' ') {
        p->c.pos++;
        return MS_OK;
    }
    return ms_fail(&p->c, RULE_SP, "expected SP");
}

MS_MUST_USE enum ms_status ms_imap_r_depth_fail(struct rp *p);

/* "(" with the nesting limit (RFC 9051 sets none; lim->imap_depth does). */
MS_MUST_USE static inline enum ms_status ms_imap_r_open(struct rp *p, const char *rule)
{
    if (!ms_imap_r_accept(p, '('))
        return ms_fail(&p->c, rule, "expected \"(\"");
    if (++p->depth > p->lim->imap_depth)
        return ms_imap_r_depth_fail(p);
    return MS_OK;
}

MS_MUST_USE static inline enum ms_status ms_imap_r_close(struct rp *p, const char *rule)
{
    if (!ms_imap_r_accept(p, ')'))
        return ms_fail(&p->c, rule, "expected \")\"");
    p->depth--;
    return MS_OK;
}

/* "NIL" as a whole token (not the start of an atom such as "NILS"). */
static inline int ms_imap_r_nil(struct rp *p)
{
    struct ms_cursor *c = &p->c;
    size_t i = c->pos;

    if (c->len - i < 3 || (c->p[i] | 0x20) != 'n' || (c->p[i + 1] | 0x20) != 'i' ||
        (c->p[i + 2] | 0x20) != 'l')
        return 0;
    if (c->len - i > 3 && ms_is(c->p[i + 3], MS_C_IMAP_ASTRING))
        return 0;
    c->pos = i + 3;
    return 1;
}

MS_MUST_USE enum ms_status ms_imap_r_number_fail(struct rp *p, size_t start, size_t ndigits,
                                                 uint64_t v, int wide, const char *rule);

/*
 * number (32-bit) or number64 (63-bit), optionally nz (RFC 9051 9). Every
 * digit is taken (so "123456789012" is out of range, not a number followed by
 * garbage); at most 19 digits are accumulated, which cannot overflow 64 bits,
 * and more digits than the rule allows is an error anyway.
 */
MS_MUST_USE static inline enum ms_status ms_imap_r_number(struct rp *p, int nz, int wide,
                                                          const char *rule, uint64_t *v)
{
    struct ms_cursor *c = &p->c;
    size_t start = c->pos, i = start, end = c->len;
    uint64_t x = 0;

    while (i < end && ms_is_digit(c->p[i])) {
        if (i - start < 19)
            x = x * 10 + (uint64_t)(c->p[i] - '0');
        i++;
    }
    c->pos = i;
    size_t n = i - start;
    if (n == 0 || n > (wide ? 19u : 10u) || x > (wide ? (uint64_t)INT64_MAX : UINT32_MAX) ||
        (nz && x == 0))
        return ms_imap_r_number_fail(p, start, n, x, wide, rule);
    *v = x;
    return MS_OK;
}

MS_MUST_USE static inline enum ms_status ms_imap_r_num_node(struct rp *p, int nz, int wide,
                                                            const char *rule, struct rp_chain *ch)
{
    uint64_t v = 0;
    uint32_t i = 0;
    MS_GUARD(ms_imap_r_number(p, nz, wide, rule, &v));
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_NUMBER, MS_IMAP_R_NONE, &i));
    p->r->nodes[i].num = v;
    ms_imap_r_append(p, ch, i);
    return MS_OK;
}

/*
 * Index of the first byte in s[i..end) that is not a plain QUOTED-CHAR (that
 * is "\"", "\\", NUL, CR, LF or 8-bit), or end; never reads at or past end.
 */
static inline size_t ms_imap_qscan(const unsigned char *s, size_t i, size_t end)
{
    return ms_scan_any_from(s, i, end,
                            MS_SCAN_DQUOTE | MS_SCAN_BACKSLASH | MS_SCAN_NUL | MS_SCAN_CR |
                                MS_SCAN_LF | MS_SCAN_8BIT);
}

MS_MUST_USE enum ms_status ms_imap_r_quoted_slow(struct rp *p, const char *rule, size_t i,
                                                 struct ms_slice *out);

/*
 * quoted = DQUOTE *QUOTED-CHAR DQUOTE (RFC 9051 9), the cursor on the opening
 * DQUOTE. The common case (no escape, no 8-bit byte) is one scan; anything
 * else goes to ms_imap_r_quoted_slow, which checks it.
 */
MS_MUST_USE static inline enum ms_status ms_imap_r_quoted(struct rp *p, const char *rule,
                                                          struct ms_slice *out)
{
    struct ms_cursor *c = &p->c;
    size_t i = ms_imap_qscan(c->p, c->pos + 1, c->len);

    if (MS_IMAP_LIKELY(i < c->len && c->p[i] == '"')) {
        out->ptr = (const char *)c->p + c->pos + 1;
        out->len = i - c->pos - 1;
        c->pos = i + 1;
        return MS_OK;
    }
    return ms_imap_r_quoted_slow(p, rule, i, out);
}

MS_MUST_USE enum ms_status ms_imap_r_string_other(struct rp *p, int allow8, const char *rule,
                                                  struct rp_chain *ch);

/* string = quoted / literal; allow8: literal8 too (BINARY[] data). */
MS_IMAP_HOT MS_MUST_USE static inline enum ms_status
ms_imap_r_string(struct rp *p, int allow8, const char *rule, struct rp_chain *ch)
{
    if (ms_imap_r_peek(p) == '"') {
        struct ms_slice s;
        MS_GUARD(ms_imap_r_quoted(p, rule, &s));
        return ms_imap_r_slice_node(p, MS_IMAP_N_QUOTED, MS_IMAP_R_NONE, s.ptr, s.len, ch);
    }
    return ms_imap_r_string_other(p, allow8, rule, ch);
}

/* nstring = string / nil */
MS_IMAP_HOT MS_MUST_USE static inline enum ms_status
ms_imap_r_nstring(struct rp *p, const char *rule, struct rp_chain *ch)
{
    int b = ms_imap_r_peek(p);
    if (b == '"' || b == '{') /* the common case first */
        return ms_imap_r_string(p, 0, rule, ch);
    if (ms_imap_r_nil(p)) {
        uint32_t i = 0;
        MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_NIL, MS_IMAP_R_NONE, &i));
        ms_imap_r_append(p, ch, i);
        return MS_OK;
    }
    return ms_fail(&p->c, rule, "expected a string or NIL");
}

MS_MUST_USE enum ms_status ms_imap_r_astring(struct rp *p, const char *rule, struct rp_chain *ch);
MS_MUST_USE enum ms_status ms_imap_r_atom(struct rp *p, uint8_t role, const char *rule,
                                          struct rp_chain *ch);
MS_MUST_USE enum ms_status ms_imap_r_seqset(struct rp *p, int allow_star, const char *rule,
                                            struct rp_chain *ch);
MS_MUST_USE enum ms_status ms_imap_r_flag_list(struct rp *p, int perm, const char *rule,
                                               struct rp_chain *ch);
MS_MUST_USE enum ms_status ms_imap_r_ext_value(struct rp *p, const char *rule, struct rp_chain *ch);
MS_MUST_USE enum ms_status ms_imap_r_msg_atts(struct rp *p, struct rp_chain *ch);
MS_MUST_USE enum ms_status ms_imap_r_envelope(struct rp *p, struct rp_chain *ch);

#endif
