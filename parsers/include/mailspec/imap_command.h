/*
 * IMAP client commands (RFC 9051 and RFC 3501, with LITERAL+/LITERAL- 7888,
 * BINARY 3516, MULTIAPPEND 3502, SASL-IR 4959, ID 2971, LIST-EXTENDED 5258,
 * LIST-STATUS 5819, ESEARCH 4731, SEARCHRES 5182, CONDSTORE/QRESYNC 7162,
 * MOVE 6851, UNSELECT 3691, ENABLE 5161, UTF8=ACCEPT 6855, IDLE 2177, CATENATE 4469,
 * ESORT/CONTEXT 5267, NOTIFY 5465).
 *
 * A command is framed first (ms_imap_frame, client side: the whole command
 * with its literals), then parsed with a cursor bounded to it into a typed,
 * zero-copy view. The view owns a fixed arena of nodes: the command's
 * arguments are a tree of typed nodes (strings, sequence sets, FETCH
 * attributes, search keys, lists ...), node 0 being the list of top-level
 * arguments. Nothing is allocated; slices point into the parsed bytes.
 *
 * Stream state: after AUTHENTICATE the client sends SASL responses (one
 * base64 line each, "*" cancels) and after IDLE only "DONE"; the state tracks
 * both, and ENABLE UTF8=ACCEPT (mailbox names are UTF-8 from then on).
 * See docs/imap-commands.md for the JSON fields and every check.
 */
#ifndef MAILSPEC_IMAP_COMMAND_H
#define MAILSPEC_IMAP_COMMAND_H

#include "common.h"
#include "stream.h"

/* What a client message is. */
enum ms_imap_msg {
    MS_IMAP_MSG_COMMAND = 0,     /* tag SP command CRLF */
    MS_IMAP_MSG_SASL = 1,        /* a base64 line inside AUTHENTICATE */
    MS_IMAP_MSG_SASL_CANCEL = 2, /* "*" inside AUTHENTICATE */
    MS_IMAP_MSG_DONE = 3,        /* "DONE" ending IDLE */
};

enum ms_imap_cmd {
    MS_IMAP_CMD_NONE = 0,
    MS_IMAP_CMD_CAPABILITY,
    MS_IMAP_CMD_NOOP,
    MS_IMAP_CMD_LOGOUT,
    MS_IMAP_CMD_STARTTLS,
    MS_IMAP_CMD_AUTHENTICATE,
    MS_IMAP_CMD_LOGIN,
    MS_IMAP_CMD_ENABLE,
    MS_IMAP_CMD_SELECT,
    MS_IMAP_CMD_EXAMINE,
    MS_IMAP_CMD_CREATE,
    MS_IMAP_CMD_DELETE,
    MS_IMAP_CMD_RENAME,
    MS_IMAP_CMD_SUBSCRIBE,
    MS_IMAP_CMD_UNSUBSCRIBE,
    MS_IMAP_CMD_LIST,
    MS_IMAP_CMD_LSUB,
    MS_IMAP_CMD_NAMESPACE,
    MS_IMAP_CMD_STATUS,
    MS_IMAP_CMD_APPEND,
    MS_IMAP_CMD_IDLE,
    MS_IMAP_CMD_CHECK,
    MS_IMAP_CMD_CLOSE,
    MS_IMAP_CMD_UNSELECT,
    MS_IMAP_CMD_EXPUNGE,
    MS_IMAP_CMD_SEARCH,
    MS_IMAP_CMD_FETCH,
    MS_IMAP_CMD_STORE,
    MS_IMAP_CMD_COPY,
    MS_IMAP_CMD_MOVE,
    MS_IMAP_CMD_ID,
    MS_IMAP_CMD_SORT,         /* RFC 5256 */
    MS_IMAP_CMD_THREAD,       /* RFC 5256 */
    MS_IMAP_CMD_GETQUOTA,     /* RFC 9208 */
    MS_IMAP_CMD_GETQUOTAROOT, /* RFC 9208 */
    MS_IMAP_CMD_SETQUOTA,     /* RFC 9208 */
    MS_IMAP_CMD_COMPRESS,     /* RFC 4978 */
    MS_IMAP_CMD_SETACL,       /* RFC 4314 */
    MS_IMAP_CMD_DELETEACL,    /* RFC 4314 */
    MS_IMAP_CMD_GETACL,       /* RFC 4314 */
    MS_IMAP_CMD_LISTRIGHTS,   /* RFC 4314 */
    MS_IMAP_CMD_MYRIGHTS,     /* RFC 4314 */
    MS_IMAP_CMD_SETMETADATA,  /* RFC 5464 */
    MS_IMAP_CMD_GETMETADATA,  /* RFC 5464 */
    MS_IMAP_CMD_NOTIFY,       /* RFC 5465 */
    MS_IMAP_CMD_CANCELUPDATE, /* RFC 5267 */
    MS_IMAP_CMD_COUNT_
};

/* Node types of the argument tree. */
enum ms_imap_cnode_type {
    MS_IMAP_CN_LIST = 0, /* "(" children ")"; node 0: the top-level arguments */
    MS_IMAP_CN_ATOM,     /* a keyword (kw, canonical upper case) or an atom (text) */
    MS_IMAP_CN_NUMBER,   /* number / number64: num */
    MS_IMAP_CN_STRING,   /* astring / string / nstring: text, form */
    MS_IMAP_CN_MAILBOX,  /* a mailbox name or LIST pattern: text, form */
    MS_IMAP_CN_MESSAGE,  /* APPEND message data: text (the literal), form */
    MS_IMAP_CN_NIL,      /* NIL */
    MS_IMAP_CN_SEQSET,   /* sequence-set (validated): text */
    MS_IMAP_CN_FLAG,     /* flag: text ("\Seen", "$Junk", ...) */
    MS_IMAP_CN_FETCH,    /* fetch-att: kw, section, partial, PREVIEW modifiers */
    MS_IMAP_CN_SEARCH,   /* search-key: kw, children are its arguments */
    MS_IMAP_CN_DATE,     /* date: text (without quotes), form */
    MS_IMAP_CN_DATETIME, /* date-time: text (without quotes) */
    MS_IMAP_CN_BASE64,   /* SASL initial response: text ("=" for empty) */
};

/* How a string was written. */
enum ms_imap_cform {
    MS_IMAP_CF_ATOM = 0,      /* 1*ASTRING-CHAR (or list-char for patterns) */
    MS_IMAP_CF_QUOTED,        /* DQUOTE ... DQUOTE; text is the raw inside, escapes kept */
    MS_IMAP_CF_LITERAL,       /* {n} CRLF: text is the n bytes */
    MS_IMAP_CF_LITERAL_PLUS,  /* {n+} CRLF (LITERAL+ / LITERAL-, RFC 7888) */
    MS_IMAP_CF_LITERAL8,      /* ~{n} CRLF (BINARY, RFC 3516) */
    MS_IMAP_CF_LITERAL8_PLUS, /* ~{n+} CRLF (BINARY with LITERAL+ or LITERAL-, RFC 4466 4) */
};

/* Node flags. */
enum {
    MS_IMAP_CNF_SECTION = 1u << 0, /* FETCH: has [section] */
    MS_IMAP_CNF_PARTIAL = 1u << 1, /* FETCH: has <offset.length> */
    MS_IMAP_CNF_HEADERS = 1u << 2, /* FETCH: section has a header list (children) */
    MS_IMAP_CNF_MODS = 1u << 3,    /* FETCH PREVIEW: has "(" preview-mod ... ")" (children) */
};

struct ms_imap_cnode {
    uint8_t type;   /* enum ms_imap_cnode_type */
    uint8_t form;   /* enum ms_imap_cform, strings and dates */
    uint8_t flags;  /* MS_IMAP_CNF_* */
    uint32_t child; /* first child node index, 0 = none */
    uint32_t next;  /* next sibling index, 0 = none */
    uint32_t nchild;
    uint32_t tail;        /* last child (used while building) */
    const char *kw;       /* canonical keyword (static), or NULL */
    const char *kw2;      /* FETCH: section-text keyword ("HEADER.FIELDS" ...), or NULL */
    struct ms_slice text; /* atom, string content, sequence set, FETCH section part */
    uint64_t num, num2;   /* number; FETCH partial offset and length */
};

/* Nodes one view holds; a command needing more is an error. */
#define MS_IMAP_CMD_NODES 2048

struct ms_imap_command {
    uint8_t msg; /* enum ms_imap_msg */
    uint8_t cmd; /* enum ms_imap_cmd */
    uint8_t uid; /* "UID" prefix */
    struct ms_slice tag;
    struct ms_slice line; /* SASL: the base64 line (without CRLF) */
    struct ms_quirks quirks;
    uint32_t nnodes;
    struct ms_imap_cnode nodes[MS_IMAP_CMD_NODES];
};

/* Per-stream state of the client side. */
enum ms_imap_cstate_mode {
    MS_IMAP_CS_COMMAND = 0,
    MS_IMAP_CS_AUTH = 1, /* inside AUTHENTICATE: SASL lines until a command or "*" */
    MS_IMAP_CS_IDLE = 2, /* inside IDLE: "DONE" */
};

#define MS_IMAP_CMD_TAG_KEEP 64
struct ms_imap_command_state {
    uint8_t mode; /* enum ms_imap_cstate_mode */
    uint8_t utf8; /* ENABLE UTF8=ACCEPT sent: mailbox names are UTF-8 */
    /* The tag of the AUTHENTICATE/IDLE in progress (a copy: the command's
     * bytes are gone by the time the reply comes); tag_len 0 when longer
     * than MS_IMAP_CMD_TAG_KEEP (then any tagged reply ends the exchange). */
    uint8_t tag_len;
    char tag[MS_IMAP_CMD_TAG_KEEP];
};

/* The canonical name of a command ("FETCH"), or NULL. */
const char *ms_imap_cmd_name(enum ms_imap_cmd cmd);

/*
 * Tell the command side that the exchange it is in has ended: back to
 * commands. For session hooks.
 */
void ms_imap_command_exchange_end(struct ms_imap_command_state *st);

/*
 * Session hook (struct ms_proto reply_seen): a tagged reply (tag, tag_len)
 * arrived. If it answers the AUTHENTICATE or IDLE in progress, the exchange
 * is over; other replies change nothing. Uses only the reply's tag.
 */
void ms_imap_command_tagged_reply(struct ms_imap_command_state *st, const char *tag,
                                  size_t tag_len);

/* ("imap", "commands") */
extern const struct ms_kind ms_imap_commands_kind;

#endif
