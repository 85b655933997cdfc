/*
 * POP3 (RFC 1939, 2449 CAPA/PIPELINING/RESP-CODES, 2595 STLS, 3206, 5034
 * AUTH, 6856 UTF8): command and reply parsers and writers for the stream
 * driver (stream.h). See docs/pop3.md for the JSON fields and framing rules.
 */
#ifndef MAILSPEC_POP3_H
#define MAILSPEC_POP3_H

#include "stream.h"

/* The commands (and the two kinds of SASL client line, RFC 5034 4). */
enum ms_pop3_cmd {
    MS_POP3_NONE = 0, /* no command: a reply nothing asked for */
    MS_POP3_USER,
    MS_POP3_PASS,
    MS_POP3_APOP,
    MS_POP3_STAT,
    MS_POP3_LIST,
    MS_POP3_RETR,
    MS_POP3_DELE,
    MS_POP3_NOOP,
    MS_POP3_RSET,
    MS_POP3_QUIT,
    MS_POP3_TOP,
    MS_POP3_UIDL,
    MS_POP3_CAPA,
    MS_POP3_STLS,
    MS_POP3_AUTH,
    MS_POP3_UTF8,
    MS_POP3_LANG,          /* RFC 6856 3 */
    MS_POP3_SASL_RESPONSE, /* a base64 line inside an AUTH exchange */
    MS_POP3_SASL_CANCEL,   /* "*": the client cancels the AUTH exchange */
    MS_POP3_CMD_COUNT,
};

/* "RETR", ..., "sasl-response"; "" for MS_POP3_NONE. */
const char *ms_pop3_cmd_name(enum ms_pop3_cmd cmd);

/* Message numbers are RFC 1939 msg-numbers: 1..2^32-1 here (an implementation limit). */
#define MS_POP3_MSG_MAX UINT32_MAX

/* One command line (or one SASL client line). */
struct ms_pop3_command {
    enum ms_pop3_cmd cmd;
    uint8_t nargs;          /* arguments present */
    struct ms_slice arg[2]; /* USER name / PASS password / APOP name digest /
                             * AUTH mechanism [initial-response] / SASL data;
                             * for numeric commands the digits as sent */
    uint64_t num[2];        /* numeric arguments: msg, and TOP's line count */
    struct ms_slice raw;    /* the whole line with its CRLF (written back when
                             * quirks make the canonical form differ) */
    struct ms_quirks quirks;
};

/*
 * Command stream state. sasl counts the SASL response lines still expected:
 * AUTH sets it from the mechanism (ms_sasl_client_lines; MS_POP3_SASL_GUESS
 * for a mechanism whose exchange length is not known: lines are SASL lines
 * until one starts with a POP3 keyword). In a session the replies also
 * decide: a "+ " continuation makes at least one more line a SASL line, the
 * final +OK/-ERR to AUTH ends the exchange, and so does "*" from the client.
 */
#define MS_POP3_SASL_GUESS 0xff
struct ms_pop3_command_state {
    uint8_t sasl;
    uint8_t utf8; /* UTF8 was sent: USER/PASS/APOP may carry UTF-8 (RFC 6856 2) */
};

/* Tell the command state that the server sent a "+ " SASL continuation (on:
 * at least one more client line is a SASL line) or ended the exchange (off). */
void ms_pop3_commands_expect_sasl(struct ms_pop3_command_state *st, int on);

enum ms_pop3_reply_type {
    MS_POP3_R_GREETING = 1, /* the server greeting (RFC 1939 4) */
    MS_POP3_R_STATUS,       /* +OK / -ERR status line */
    MS_POP3_R_CONTINUE,     /* "+ " SASL continuation (RFC 5034 4) */
    MS_POP3_R_SCAN,         /* one line of a multi-line LIST: msg octets */
    MS_POP3_R_UID,          /* one line of a multi-line UIDL: msg uid */
    MS_POP3_R_CAPABILITY,   /* one line of a CAPA response (RFC 2449 5) */
    MS_POP3_R_BODY,         /* a RETR/TOP message body, streamed */
    MS_POP3_R_END,          /* "." ending a multi-line LIST/UIDL/CAPA/LANG */
    MS_POP3_R_LANGUAGE,     /* one line of a multi-line LANG: tag description */
};

/* Capabilities with a meaning of their own (RFC 2449 6, 3206, 5034, 2595, 6856). */
enum ms_pop3_capa {
    MS_POP3_CAPA_OTHER = 0,
    MS_POP3_CAPA_TOP,
    MS_POP3_CAPA_USER,
    MS_POP3_CAPA_SASL,
    MS_POP3_CAPA_RESP_CODES,
    MS_POP3_CAPA_LOGIN_DELAY,
    MS_POP3_CAPA_PIPELINING,
    MS_POP3_CAPA_EXPIRE,
    MS_POP3_CAPA_UIDL,
    MS_POP3_CAPA_IMPLEMENTATION,
    MS_POP3_CAPA_STLS,
    MS_POP3_CAPA_UTF8,
    MS_POP3_CAPA_AUTH_RESP_CODE,
    MS_POP3_CAPA_LANG,
};

#define MS_POP3_CODE_LEVELS 4 /* levels of one response code, "SYS/TEMP" is 2 */
#define MS_POP3_CAPA_PARAMS 16
#define MS_POP3_UID_MAX     70 /* RFC 1939 7: 1 to 70 characters */

struct ms_pop3_reply {
    enum ms_pop3_reply_type type;
    enum ms_pop3_cmd answers; /* the command this answers (MS_POP3_NONE: unknown) */
    uint8_t ok;               /* +OK (1) or -ERR (0) */
    uint8_t multiline;        /* a status line that opens a multi-line response */
    uint8_t has_arg;          /* the answered command had an argument */
    /* status lines: text after "+OK " / "-ERR ", and its response code */
    struct ms_slice text;
    struct ms_slice code; /* inside "[...]", len 0 when absent; levels below */
    uint8_t nlevels;
    struct ms_slice timestamp; /* greeting: "<...>" (APOP, RFC 1939 7), or len 0 */
    /* STAT: count octets; LIST: msg octets; UIDL: msg uid; body: octets lines */
    uint64_t count, msg, octets, lines;
    struct ms_slice uid;
    struct ms_slice tag;   /* LANG: the language tag; text holds the description */
    struct ms_slice extra; /* what follows a scan listing's size (with its SP) */
    /* continuation data (base64) */
    struct ms_slice data;
    /* capabilities */
    enum ms_pop3_capa capa;
    struct ms_slice name; /* params below */
    uint8_t nparams;
    uint8_t per_user; /* LOGIN-DELAY/EXPIRE ... USER, UTF8 USER */
    uint8_t never;    /* EXPIRE NEVER */
    uint64_t value;   /* LOGIN-DELAY seconds, EXPIRE days */
    /* END: lines of the multi-line response */
    uint64_t entries;
    struct ms_slice raw; /* the line with its CRLF (not for bodies) */
    /*
     * The arrays come last and are valid up to their counts (nlevels,
     * nparams, quirks.n) only: the parser clears the fields above for each
     * line but not these (most lines are listing or body lines that never
     * use them).
     */
    struct ms_slice levels[MS_POP3_CODE_LEVELS];
    struct ms_slice params[MS_POP3_CAPA_PARAMS];
    struct ms_quirks quirks;
};

#define MS_POP3_PENDING_MAX 64

/*
 * Reply stream state: whether the greeting has come, the commands still
 * waiting for a reply (a bounded queue: RFC 2449 6.6 PIPELINING), and the
 * multi-line response in progress.
 */
struct ms_pop3_reply_state {
    uint8_t pending[MS_POP3_PENDING_MAX]; /* cmd | 0x80 when it had an argument */
    uint8_t head, count;
    uint8_t greeting_done;
    uint8_t multi; /* the command whose multi-line response is open, or 0 */
    uint8_t multi_arg;
    uint8_t utf8;        /* the server accepted UTF8 (RFC 6856 2) */
    uint32_t lost;       /* commands not queued because the queue was full */
    uint64_t lines;      /* lines of the open multi-line response */
    uint64_t octets;     /* body octets after dot-unstuffing */
    uint64_t wire;       /* body bytes on the wire so far (quirk offsets) */
    struct ms_quirks bq; /* quirks of the body so far */
};

/*
 * Tell the reply state that cmd was sent (has_arg: it had an argument, which
 * makes LIST and UIDL single-line). Replies are matched to commands in order.
 */
void ms_pop3_replies_expect(struct ms_pop3_reply_state *st, enum ms_pop3_cmd cmd, int has_arg);
/* The stream starts after the greeting: the first line is not a greeting. */
void ms_pop3_replies_skip_greeting(struct ms_pop3_reply_state *st);

extern const struct ms_kind ms_pop3_commands_kind;
extern const struct ms_kind ms_pop3_replies_kind;
extern const struct ms_proto ms_pop3_proto;

/* RFC 4648 4 base64 as RFC 5034 uses it: 4-char groups, "=" padding at the end only. */
int ms_pop3_base64_valid(const char *p, size_t n);

#endif
