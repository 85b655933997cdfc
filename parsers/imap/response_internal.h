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

MS_MUST_USE enum ms_status ms_imap_r_node(struct rp *p, uint8_t type, uint8_t role, uint32_t *idx);
void ms_imap_r_append(struct rp *p, struct rp_chain *ch, uint32_t idx);
MS_MUST_USE enum ms_status ms_imap_r_sp(struct rp *p);
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
