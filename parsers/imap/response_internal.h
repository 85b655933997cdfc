/* Shared by the IMAP response parser files (response*.c); not public. */
#ifndef MAILSPEC_IMAP_RESPONSE_INTERNAL_H
#define MAILSPEC_IMAP_RESPONSE_INTERNAL_H

#include "mailspec/imap_response.h"

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

/* A new node in the view's arena (inline: one per token on the hot path). */
MS_MUST_USE static inline enum ms_status ms_imap_r_node(struct rp *p, uint8_t type, uint8_t role,
                                                        uint32_t *idx)
{
    struct ms_imap_response *r = p->r;

    if (r->nnodes >= p->max_nodes)
        return ms_fail(&p->c, "mailspec imap_items",
                       "more items in the response than the limit (imap_items)");
    uint32_t i = ++r->nnodes;
    struct ms_imap_node *n = &r->nodes[i];
    n->type = type;
    n->role = role;
    n->flags = 0;
    n->next = 0;
    n->child = 0;
    n->aux = 0;
    n->num = 0;
    n->s.ptr = NULL;
    n->s.len = 0;
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

/* Case-insensitive keyword match against a literal of known length n. */
static inline int ms_imap_kw_eq(struct ms_slice s, const char *lit, size_t n)
{
    if (s.len != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (ms_lower((unsigned char)s.ptr[i]) != ms_lower((unsigned char)lit[i]))
            return 0;
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
MS_MUST_USE enum ms_status ms_imap_r_open(struct rp *p, const char *rule);
MS_MUST_USE enum ms_status ms_imap_r_close(struct rp *p, const char *rule);
int ms_imap_r_nil(struct rp *p);
MS_MUST_USE enum ms_status ms_imap_r_number(struct rp *p, int nz, int wide, const char *rule,
                                            uint64_t *v);
MS_MUST_USE enum ms_status ms_imap_r_num_node(struct rp *p, int nz, int wide, const char *rule,
                                              struct rp_chain *ch);
MS_MUST_USE enum ms_status ms_imap_r_string(struct rp *p, int allow8, const char *rule,
                                            struct rp_chain *ch);
MS_MUST_USE enum ms_status ms_imap_r_nstring(struct rp *p, const char *rule, struct rp_chain *ch);
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
