/*
 * IMAP server responses (RFC 9051 7, RFC 3501 7; CONDSTORE/QRESYNC 7162,
 * ESEARCH 4731, LIST-EXTENDED 5258, NAMESPACE 2342, ID 2971, BINARY 3516,
 * ENABLE 5161, UIDPLUS 4315, SORT/THREAD 5256, QUOTA 9208, ACL 4314,
 * METADATA 5464, CATENATE 4469 codes, ESORT/CONTEXT 5267, NOTIFY 5465 codes).
 *
 * A response is parsed into a fixed-size view: a few header fields and a tree
 * of nodes in an arena inside the view, linked by index (0 = none). Strings
 * are zero-copy slices into the caller's buffer: quoted strings keep their
 * escapes (the slice is what was between the quotes), literals point at the
 * literal bytes. Nothing is allocated or copied while parsing.
 */
#ifndef MAILSPEC_IMAP_RESPONSE_H
#define MAILSPEC_IMAP_RESPONSE_H

#include "imap_framer.h"
#include "stream.h"

/* Nodes in one view; the effective limit is min(MS_IMAP_NODES, lim->imap_items). */
#define MS_IMAP_NODES 4096

enum ms_imap_node_type {
    MS_IMAP_N_NIL = 1,
    MS_IMAP_N_NUMBER,   /* num */
    MS_IMAP_N_ATOM,     /* s: the atom (also flags, sequence sets, section names) */
    MS_IMAP_N_QUOTED,   /* s: the bytes between the quotes, escapes kept */
    MS_IMAP_N_LITERAL,  /* s: the literal's bytes */
    MS_IMAP_N_LITERAL8, /* s: the literal8's bytes (RFC 3516) */
    MS_IMAP_N_LIST,     /* parenthesised: children */
    MS_IMAP_N_SEQ,      /* children separated by SP, no parentheses */
};

/* What a node means where the grammar put it (for JSON and callers). */
enum ms_imap_node_role {
    MS_IMAP_R_NONE = 0,
    MS_IMAP_R_ENVELOPE,   /* LIST of 10 */
    MS_IMAP_R_ADDRESS,    /* LIST of 4 */
    MS_IMAP_R_BODY,       /* LIST: one part; aux = MS_IMAP_BODY_* */
    MS_IMAP_R_BODY_MPART, /* LIST: aux sub-bodies, then subtype and extensions */
    MS_IMAP_R_PARAMS,     /* LIST of attribute/value strings */
    MS_IMAP_R_ATTR,       /* SEQ: name ATOM, value; FETCH msg-att, STATUS, ESEARCH */
    MS_IMAP_R_CODE,       /* SEQ: code name ATOM, then arguments */
    MS_IMAP_R_DATETIME,   /* QUOTED date-time */
    MS_IMAP_R_NUMLIST,    /* ATOM: SP-separated nz-numbers (SEARCH) */
    MS_IMAP_R_SEQSET,     /* ATOM: sequence-set / uid-set */
    MS_IMAP_R_TEXT,       /* ATOM: free text (generic response code argument) */
    MS_IMAP_R_CORRELATOR, /* LIST ("TAG" string) of ESEARCH */
    MS_IMAP_R_QUOTA,      /* SEQ: resource name ATOM, usage, limit (RFC 9208) */
    MS_IMAP_R_THREAD,     /* SEQ of thread lists / LIST: numbers then nested lists
                           * (RFC 5256); no SP between two adjacent lists */
};

enum {
    MS_IMAP_BODY_BASIC = 0,
    MS_IMAP_BODY_TEXT = 1,
    MS_IMAP_BODY_MESSAGE = 2,
};

struct ms_imap_node {
    uint8_t type;   /* enum ms_imap_node_type */
    uint8_t role;   /* enum ms_imap_node_role */
    uint16_t flags; /* LIST: 1 = no SP between elements (address lists) */
    uint32_t next;  /* next sibling */
    uint32_t child; /* first child (LIST, SEQ) */
    uint32_t aux;   /* BODY: MS_IMAP_BODY_*; BODY_MPART: number of sub-bodies */
    uint64_t num;   /* NUMBER: the value; ATTR: origin + 1 of BODY[]<origin> (0: none) */
    struct ms_slice s;
};

enum ms_imap_resp_kind {
    MS_IMAP_TAGGED = 1,
    MS_IMAP_UNTAGGED,
    MS_IMAP_CONTINUE,
};

enum ms_imap_resp_type {
    MS_IMAP_OK = 1,
    MS_IMAP_NO,
    MS_IMAP_BAD,
    MS_IMAP_BYE,
    MS_IMAP_PREAUTH,
    MS_IMAP_CAPABILITY,
    MS_IMAP_ENABLED,
    MS_IMAP_LIST,
    MS_IMAP_LSUB,
    MS_IMAP_NAMESPACE,
    MS_IMAP_STATUS,
    MS_IMAP_SEARCH,
    MS_IMAP_ESEARCH,
    MS_IMAP_FLAGS,
    MS_IMAP_EXISTS,
    MS_IMAP_RECENT,
    MS_IMAP_EXPUNGE,
    MS_IMAP_FETCH,
    MS_IMAP_VANISHED,
    MS_IMAP_ID,
    MS_IMAP_SORT,       /* RFC 5256 4: like SEARCH (numbers, optional MODSEQ) */
    MS_IMAP_THREAD,     /* RFC 5256 4: data is one SEQ (role THREAD) of thread lists */
    MS_IMAP_QUOTA,      /* RFC 9208 5.1: quota root, LIST of (name usage limit) */
    MS_IMAP_QUOTAROOT,  /* RFC 9208 5.2: mailbox, quota root names */
    MS_IMAP_ACL,        /* RFC 4314 3.6: mailbox, then identifier/rights pairs */
    MS_IMAP_LISTRIGHTS, /* RFC 4314 3.7: mailbox, identifier, rights... */
    MS_IMAP_MYRIGHTS,   /* RFC 4314 3.8: mailbox, rights */
    MS_IMAP_METADATA,   /* RFC 5464 4.4: mailbox, then a PARAMS LIST or entry names */
    MS_IMAP_CONT,       /* continuation request */
    MS_IMAP_UNKNOWN,    /* MS_LENIENT_IMAP_UNKNOWN only: raw line in text */
    MS_IMAP_TYPE_MAX
};

/*
 * Common lenient flags honoured here, each deviation a quirk: MS_LENIENT_SPACES
 * (trailing SP before CRLF; "[CODE]" CRLF without SP and text),
 * MS_LENIENT_8BIT (bytes that are not UTF-8 in text and quoted strings).
 * A response with quirks is written back as its raw bytes.
 *
 * Lenient flag (protocol bits 8..31): accept an untagged response whose
 * keyword is not known, as a generic view holding the raw line, with a quirk.
 * Hides typos and unsupported extensions: a conformance run should not set it.
 */
#define MS_LENIENT_IMAP_UNKNOWN (1u << 8)

struct ms_imap_response {
    uint8_t kind;   /* enum ms_imap_resp_kind */
    uint8_t type;   /* enum ms_imap_resp_type */
    uint8_t base64; /* continuation: the text is base64 (RFC 9051 7.5) */
    struct ms_slice tag;
    uint64_t number;      /* "* n EXISTS/RECENT/EXPUNGE/FETCH" */
    uint32_t code;        /* resp-text-code node (role CODE), 0 if none */
    struct ms_slice text; /* resp-text text, continuation text, unknown raw line */
    uint32_t data;        /* first data node (siblings), 0 if none */
    uint32_t nnodes;      /* nodes[1..nnodes] are used */
    struct ms_slice raw;  /* the whole response, CRLF and literals included */
    struct ms_quirks quirks;
    struct ms_imap_node nodes[MS_IMAP_NODES + 1];
};

/*
 * Frame and parse one response from buf[0..len). Returns bytes consumed,
 * MS_PARTIAL, or MS_FAIL (err: offset, rule, reason, skip).
 */
MS_MUST_USE ssize_t ms_imap_response_parse(const struct ms_limits *lim, const char *buf, size_t len,
                                           struct ms_imap_response *r, struct ms_error *err);

/* Canonical bytes of a response; MS_FAIL when cap is too small. */
MS_MUST_USE ssize_t ms_imap_response_write(const struct ms_imap_response *r, char *out, size_t cap);
void ms_imap_response_json(const struct ms_imap_response *r, struct ms_out *out);

/* Lower-case name of a response type ("fetch"), or "?" */
const char *ms_imap_resp_type_name(unsigned type);

/* Server-to-client stream kind: "imap" "replies". */
extern const struct ms_kind ms_imap_replies_kind;

#endif
