/*
 * SMTP (RFC 5321) and its extensions: commands (with the DATA, BDAT and AUTH
 * streams that follow them) and replies. See docs/smtp.md.
 */
#ifndef MAILSPEC_SMTP_H
#define MAILSPEC_SMTP_H

#include "common.h"
#include "stream.h"

/*
 * Lenient flag (protocol bits 8..31; IMAP uses bit 8): an EHLO reply line
 * that is not ehlo-keyword *(SP ehlo-param) (RFC 5321 4.1.1.1), such as the
 * pre-standard "AUTH=PLAIN LOGIN", is kept as text and reported as a quirk
 * instead of failing the reply. The runner reads setup steps' replies so.
 */
#define MS_LENIENT_SMTP_EHLO_LINE (1u << 9)

/* Fixed sizes of the view arrays; the limits in struct ms_limits apply too. */
#define MS_SMTP_PARAMS_MAX      32  /* ESMTP parameters stored per MAIL/RCPT */
#define MS_SMTP_REPLY_LINES_MAX 128 /* lines stored per reply */
#define MS_SMTP_AUTH_MECHS_MAX  32  /* mechanisms of an EHLO AUTH line */

enum ms_smtp_verb {
    MS_SMTP_NONE = 0,
    MS_SMTP_EHLO,
    MS_SMTP_HELO,
    MS_SMTP_MAIL,
    MS_SMTP_RCPT,
    MS_SMTP_DATA,
    MS_SMTP_RSET,
    MS_SMTP_VRFY,
    MS_SMTP_EXPN,
    MS_SMTP_HELP,
    MS_SMTP_NOOP,
    MS_SMTP_QUIT,
    MS_SMTP_STARTTLS,
    MS_SMTP_AUTH,
    MS_SMTP_BDAT,
    MS_SMTP_ETRN,
};

/* What a message of the command stream is. */
enum ms_smtp_ctype {
    MS_SMTP_T_COMMAND = 0, /* a command line */
    MS_SMTP_T_SASL,        /* a SASL response line after AUTH (RFC 4954 4) */
    MS_SMTP_T_DATA,        /* mail data after DATA, up to CRLF.CRLF (streamed) */
    MS_SMTP_T_CHUNK,       /* the bytes of one BDAT chunk (streamed) */
};

enum ms_smtp_host_type {
    MS_SMTP_HOST_NONE = 0,
    MS_SMTP_HOST_DOMAIN,  /* Domain (RFC 5321 4.1.2) */
    MS_SMTP_HOST_IPV4,    /* [IPv4-address-literal] (4.1.3) */
    MS_SMTP_HOST_IPV6,    /* [IPv6:IPv6-addr] */
    MS_SMTP_HOST_GENERAL, /* [Standardized-tag:dcontent] */
};

/* A Domain or address-literal. text is all of it (with the brackets). */
struct ms_smtp_host {
    struct ms_slice text;
    struct ms_slice tag;   /* General-address-literal tag, or "IPv6" */
    struct ms_slice value; /* the literal's address (without tag and brackets) */
    uint8_t type;          /* enum ms_smtp_host_type */
    uint8_t utf8;          /* has UTF-8 U-labels (RFC 6531) */
};

/* Reverse-path / Forward-path (RFC 5321 4.1.2). */
struct ms_smtp_path {
    struct ms_slice text;  /* "<...>" as sent */
    struct ms_slice route; /* A-d-l without the final ":" (obsolete source route) */
    struct ms_slice local; /* Local-part as sent (a Quoted-string keeps its quotes) */
    struct ms_smtp_host domain;
    uint8_t null;       /* "<>" */
    uint8_t postmaster; /* "<Postmaster>" without a domain (RCPT only) */
    uint8_t quoted;     /* Local-part is a Quoted-string */
    uint8_t utf8;       /* UTF-8 in the local part or the domain */
    size_t utf8_at;     /* cursor position of its first 8-bit byte */
};

struct ms_smtp_param {
    struct ms_slice keyword;
    struct ms_slice value;
    uint8_t has_value;
};

enum ms_smtp_body {
    MS_SMTP_BODY_NONE = 0,
    MS_SMTP_BODY_7BIT,
    MS_SMTP_BODY_8BITMIME,
    MS_SMTP_BODY_BINARYMIME
};
enum {
    MS_SMTP_NOTIFY_NEVER = 1,
    MS_SMTP_NOTIFY_SUCCESS = 2,
    MS_SMTP_NOTIFY_FAILURE = 4,
    MS_SMTP_NOTIFY_DELAY = 8
};

/* One message of the command stream. */
struct ms_smtp_command {
    uint8_t type; /* enum ms_smtp_ctype */
    uint8_t verb; /* enum ms_smtp_verb */
    /* EHLO/HELO: the client's Domain or address-literal */
    struct ms_smtp_host host;
    /* MAIL/RCPT */
    struct ms_smtp_path path;
    struct ms_smtp_param params[MS_SMTP_PARAMS_MAX];
    uint8_t nparams;
    /* typed ESMTP parameters */
    uint8_t has_size, body, smtputf8, ret; /* ret: 1 FULL, 2 HDRS */
    uint64_t size;                         /* SIZE= (RFC 1870) */
    struct ms_slice envid;                 /* ENVID= xtext (RFC 3461) */
    uint8_t notify;                        /* MS_SMTP_NOTIFY_* bits (RFC 3461) */
    struct ms_slice orcpt_type, orcpt;     /* ORCPT=addr-type;xtext (RFC 3461) */
    struct ms_slice auth;                  /* AUTH= xtext or "<>" (RFC 4954 5) */
    /* VRFY/EXPN/HELP/NOOP String, ETRN node, AUTH mechanism */
    struct ms_slice arg;
    /* AUTH initial response ("=" is an empty one), or a SASL line */
    struct ms_slice response;
    uint8_t has_response;
    uint8_t cancel; /* SASL line "*" */
    /* BDAT */
    uint64_t chunk_size;
    uint8_t last;
    /* DATA content / BDAT chunk (streamed; the view at their end) */
    uint64_t octets;     /* bytes on the wire, DATA terminator included */
    uint64_t lines;      /* DATA content lines, terminator excluded */
    uint64_t unstuffed;  /* mail data bytes after dot-unstuffing (RFC 5321 4.5.2) */
    struct ms_slice raw; /* the message's bytes (not for streamed types) */
    struct ms_quirks quirks;
};

struct ms_smtp_reply_line {
    struct ms_slice text;     /* after "ddd-" / "ddd " */
    struct ms_slice enhanced; /* "2.1.0" (RFC 2034/3463), or len 0 */
};

struct ms_smtp_ehlo_keyword {
    struct ms_slice keyword;
    struct ms_slice params; /* after the keyword's SP, or len 0 */
};

/* One complete (possibly multi-line) reply. */
struct ms_smtp_reply {
    uint16_t code;
    uint16_t nlines;
    struct ms_smtp_reply_line lines[MS_SMTP_REPLY_LINES_MAX];
    /* EHLO reply (RFC 5321 4.1.1.1): typed when every line after the first
     * is an ehlo-line, or (session) when the reply answers an EHLO. */
    uint8_t is_ehlo;
    struct ms_slice ehlo_domain, ehlo_greet;
    uint16_t nkeywords;
    struct ms_smtp_ehlo_keyword keywords[MS_SMTP_REPLY_LINES_MAX];
    uint8_t has_size;
    uint64_t size; /* SIZE (RFC 1870), 0 = no fixed maximum */
    uint8_t nauth;
    struct ms_slice auth[MS_SMTP_AUTH_MECHS_MAX];
    struct ms_slice raw;
    struct ms_quirks quirks;
    /* replies before this one that failed to parse (they answered commands
     * too; the session hook keeps the command side's count aligned) */
    uint32_t failed_before;
};

/* Command-stream state (opaque to callers; sizes are in the kinds). */
struct ms_smtp_cstate {
    uint8_t mode; /* what the next bytes are */
    uint8_t long_line, prev_cr;
    uint8_t smtputf8, body; /* of the current mail transaction */
    uint8_t session;        /* replies are being seen (reply_seen) */
    uint8_t wait;           /* which reply is awaited: 0, DATA, AUTH */
    uint32_t sasl_left;     /* SASL lines expected (UINT32_MAX: until a reply ends it) */
    uint64_t remaining;     /* BDAT bytes still to come */
    uint8_t chunk_last;
    uint8_t bdat_used; /* BDAT seen in the current transaction */
    /* bytes of the pending (incomplete) line already searched for its end,
     * so a line that arrives byte by byte is scanned once */
    size_t lscan;
    uint64_t sent, answered, wait_index;
    uint64_t octets, lines, unstuffed;
    struct ms_quirks quirks;
};

struct ms_smtp_rstate {
    size_t fpos;   /* bytes of the current reply already framed */
    size_t flines; /* its lines framed so far */
    uint8_t expect_ehlo;
    uint8_t fodd;    /* a line framed so far has a byte outside SP..~ (or a bare LF) */
    uint32_t failed; /* replies that failed since the last valid one */
};

extern const struct ms_kind ms_smtp_commands_kind;
extern const struct ms_kind ms_smtp_replies_kind;
/* The command stream starting inside DATA content (for fuzzing and tests). */
extern const struct ms_kind ms_smtp_data_kind;
extern const struct ms_proto ms_smtp_proto;

/* The canonical upper-case name of a verb, or "" */
const char *ms_smtp_verb_name(unsigned verb);

/*
 * Parse one Domain or address-literal (RFC 5321 4.1.2, 4.1.3) that fills
 * c up to its end or up to a byte that cannot continue it. utf8: accept
 * UTF-8 U-labels (RFC 6531). Errors through the cursor.
 */
MS_MUST_USE enum ms_status ms_smtp_host_parse(struct ms_cursor *c, const struct ms_limits *lim,
                                              int allow_literal, int utf8,
                                              struct ms_smtp_host *out);

/*
 * Parse a Path, "<>" (allow_null) or "<Postmaster>" (allow_postmaster) at the
 * cursor. Valid UTF-8 (RFC 6531) is accepted in the local part and domain and
 * flagged in out->utf8 / out->utf8_at: the caller decides whether SMTPUTF8
 * allows it (the parameter comes after the path).
 */
MS_MUST_USE enum ms_status ms_smtp_path_parse(struct ms_cursor *c, const struct ms_limits *lim,
                                              int allow_null, int allow_postmaster,
                                              struct ms_smtp_path *out);

/* One complete reply at buf[0..len): bytes consumed, MS_PARTIAL or MS_FAIL. */
MS_MUST_USE ssize_t ms_smtp_reply_parse(const struct ms_limits *lim, const char *buf, size_t len,
                                        struct ms_smtp_reply *out, struct ms_error *err);

/* Internal: shared between the command-stream files. */
ssize_t ms_smtp_content_parse(struct ms_smtp_cstate *st, const struct ms_limits *lim,
                              const char *buf, size_t len, struct ms_smtp_command *v, int *done,
                              struct ms_error *err);
ssize_t ms_smtp_chunk_parse(struct ms_smtp_cstate *st, const struct ms_limits *lim, const char *buf,
                            size_t len, struct ms_smtp_command *v, int *done, struct ms_error *err);
/* A reply with this code arrived (session): DATA refused, AUTH continues or ends;
 * failed_before invalid replies came before it. */
void ms_smtp_reply_answers(struct ms_smtp_cstate *st, unsigned code, uint32_t failed_before);

enum { MS_SMTP_MODE_CMD = 0, MS_SMTP_MODE_DATA, MS_SMTP_MODE_CHUNK, MS_SMTP_MODE_SASL };
enum { MS_SMTP_WAIT_NONE = 0, MS_SMTP_WAIT_DATA, MS_SMTP_WAIT_AUTH };

#endif
