/*
 * Internal interface between the files of the IMAP command parser
 * (command.c, command_lex.c, command_fetch.c, command_search.c).
 */
#ifndef MAILSPEC_IMAP_COMMAND_INTERNAL_H
#define MAILSPEC_IMAP_COMMAND_INTERNAL_H

#include "mailspec/imap_command.h"

/* Parse context: a cursor bounded to one framed command (final CRLF excluded). */
struct ms_icp {
    struct ms_cursor c;
    const struct ms_limits *lim;
    struct ms_imap_command *v;
    const struct ms_imap_command_state *st;
};

#define R_SEQSET   "RFC 9051 9 sequence-set"
#define R_NZ       "RFC 9051 9 nz-number"
#define R_NUMBER   "RFC 9051 9 number"
#define R_NUMBER64 "RFC 9051 9 number64"
#define R_ASTRING  "RFC 9051 9 astring"
#define R_STRING   "RFC 9051 9 string"
#define R_QUOTED   "RFC 9051 9 quoted"
#define R_LITERAL  "RFC 9051 9 literal"
#define R_LITERAL8 "RFC 3516 4.2 literal8"
#define R_MAILBOX  "RFC 3501 5.1.3 mailbox"
#define R_DATE     "RFC 9051 9 date"
#define R_DATETIME "RFC 9051 9 date-time"
#define R_FLAG     "RFC 9051 9 flag"
#define R_SP       "RFC 9051 9 SP"
#define R_FETCH    "RFC 9051 9 fetch-att"
#define R_SECTION  "RFC 9051 9 section"
#define R_SEARCH   "RFC 9051 9 search-key"
#define R_LIMIT    "mailspec limit"

/* A new node of type appended to parent's children; 0 (error set) when full. */
uint32_t ms_icp_node(struct ms_icp *p, uint32_t parent, uint8_t type);

/* Exactly one SP. */
MS_MUST_USE enum ms_status ms_icp_sp(struct ms_icp *p, const char *rule);
/* The SP before an optional trailing element: a SP that ends the line is
 * reported as a trailing space, not as a malformed element after it. */
MS_MUST_USE enum ms_status ms_icp_sp_more(struct ms_icp *p, const char *rule);
/* A keyword from table (NULL-terminated, upper case) followed by a delimiter
 * (SP, "(", ")", "[", "<", end): its index, or -1 (cursor unchanged). */
int ms_icp_keyword(struct ms_icp *p, const char *const *table);
/* True if the next byte ends a token: SP, ")", or the end. */
int ms_icp_at_delim(const struct ms_icp *p);

/* Numbers: value in [min, max]; nz forbids leading zeros (digit-nz *DIGIT). */
MS_MUST_USE enum ms_status ms_icp_number(struct ms_icp *p, uint64_t min, uint64_t max,
                                         const char *rule, uint64_t *out);

/* String forms; allowed is a mask of 1u << MS_IMAP_CF_*. */
#define MS_ICP_ASTRING                                                                             \
    ((1u << MS_IMAP_CF_ATOM) | (1u << MS_IMAP_CF_QUOTED) | (1u << MS_IMAP_CF_LITERAL) |            \
     (1u << MS_IMAP_CF_LITERAL_PLUS))
#define MS_ICP_STRING   (MS_ICP_ASTRING & ~(1u << MS_IMAP_CF_ATOM))
#define MS_ICP_NIL      (1u << 7) /* NIL allowed (nstring): makes a NIL node */
#define MS_ICP_LISTCHAR (1u << 6) /* atom form uses list-char (LIST patterns) */

/* A string argument as a node of type (STRING, MAILBOX, MESSAGE); *idx = node. */
MS_MUST_USE enum ms_status ms_icp_string(struct ms_icp *p, uint32_t parent, uint8_t type,
                                         unsigned allowed, const char *rule, uint32_t *idx);
/* A mailbox (astring, validated as modified UTF-7 or UTF-8). */
MS_MUST_USE enum ms_status ms_icp_mailbox(struct ms_icp *p, uint32_t parent);
/* A LIST/LSUB pattern: list-mailbox = 1*list-char / string. */
MS_MUST_USE enum ms_status ms_icp_pattern(struct ms_icp *p, uint32_t parent);
/* sequence-set (with "*" and RFC 5182 "$") as a node. */
MS_MUST_USE enum ms_status ms_icp_seqset(struct ms_icp *p, uint32_t parent);
/* The same without "*" and "$" (RFC 7162 known-uids / seq-match-data). */
MS_MUST_USE enum ms_status ms_icp_seqset_known(struct ms_icp *p, uint32_t parent);
/* date (optionally quoted) / date-time as nodes. */
MS_MUST_USE enum ms_status ms_icp_date(struct ms_icp *p, uint32_t parent);
MS_MUST_USE enum ms_status ms_icp_datetime(struct ms_icp *p, uint32_t parent);
/* flag / flag-list "(" [flag *(SP flag)] ")". */
MS_MUST_USE enum ms_status ms_icp_flag(struct ms_icp *p, uint32_t parent);
/* "\" atom or atom without the flag rule's exclusion of \Recent (use-attr) */
MS_MUST_USE enum ms_status ms_icp_flag_any(struct ms_icp *p, uint32_t parent);
MS_MUST_USE enum ms_status ms_icp_flag_list(struct ms_icp *p, uint32_t parent);
/* An atom node (text as sent). */
MS_MUST_USE enum ms_status ms_icp_atom(struct ms_icp *p, uint32_t parent, const char *rule,
                                       const char *reason);
/* A keyword node with a canonical name. */
MS_MUST_USE enum ms_status ms_icp_kw_node(struct ms_icp *p, uint32_t parent, const char *kw);
/* A number node. */
MS_MUST_USE enum ms_status ms_icp_number_node(struct ms_icp *p, uint32_t parent, uint64_t min,
                                              uint64_t max, const char *rule);

/* Nesting depth guard (search keys): fails beyond lim->imap_depth. */
MS_MUST_USE enum ms_status ms_icp_depth(struct ms_icp *p, unsigned depth);

/* FETCH: the attribute specification after "FETCH SP sequence-set SP". */
MS_MUST_USE enum ms_status ms_icp_fetch_atts(struct ms_icp *p, uint32_t parent);
/* SEARCH: [RETURN (...)] [CHARSET x] keys, after "SEARCH". */
MS_MUST_USE enum ms_status ms_icp_search(struct ms_icp *p, uint32_t parent);
/* "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")", the cursor after
 * "RETURN" (SEARCH, and ESORT's SORT RETURN, RFC 5267 3.1). */
MS_MUST_USE enum ms_status ms_icp_return_opts(struct ms_icp *p, uint32_t parent);
/* "(" fetch-att *(SP fetch-att) ")" as a LIST node (NOTIFY MessageNew, RFC 5465 8). */
MS_MUST_USE enum ms_status ms_icp_fetch_att_list(struct ms_icp *p, uint32_t parent);
/* search-key *(SP search-key) to the end of the command (SORT, THREAD). */
MS_MUST_USE enum ms_status ms_icp_search_keys(struct ms_icp *p, uint32_t parent);

/* Valid UTF-8 sequence length at p[0..n) (RFC 3629), 0 if invalid. */

#endif
