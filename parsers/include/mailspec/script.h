/*
 * Session scripts: a .session file (docs/architecture.md "Contracts") read as a test.
 *
 * The parser turns the whole file into a flat list of steps (send, expect,
 * TLS upgrade, blocks, close, sleep, new connection, ...) plus metadata, and
 * checks it completely before anything runs: a malformed script is an error
 * naming its line and column. Patterns in S: lines are literal text with
 * ${*} (any text), and ${name} (a variable: sent in C: lines, captured or
 * compared in S: lines). See docs/session-format.md.
 *
 * libc only (the fuzz target links it without the runner). The parser
 * allocates the script with malloc; the matcher does not allocate.
 */
#ifndef MAILSPEC_SCRIPT_H
#define MAILSPEC_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* Hard bounds: a script beyond them is rejected, never truncated. */
#define MS_SCRIPT_MAX_BYTES    (4u * 1024 * 1024) /* the file */
#define MS_SCRIPT_MAX_STEPS    8192
#define MS_SCRIPT_MAX_PARTS    32 /* literal/variable pieces of one line */
#define MS_SCRIPT_MAX_VARS     64 /* distinct variable names, builtins included */
#define MS_SCRIPT_MAX_NAME     32
#define MS_SCRIPT_MAX_SLEEP_MS 60000u
#define MS_SCRIPT_VAR_BYTES    16384 /* all variable values of one run together */
#define MS_SCRIPT_MAX_CONNS    8     /* connections of one script, the first ("main") included */

/*
 * Builtin variables, set from the command line (always the first indices):
 * user, password, host, and the SASL forms derived from user and password
 * (what `mailspec record` writes in place of credentials): sasl_plain =
 * base64("\0user\0password"), sasl_plain_authz = base64("user\0user\0password"),
 * sasl_user = base64(user), sasl_password = base64(password); and POP3's
 * apop_digest = hex MD5 of the greeting's <timestamp> and the password (RFC
 * 1939 7), set by the runner from each connection's greeting.
 */
enum {
    MS_VAR_USER = 0,
    MS_VAR_PASSWORD = 1,
    MS_VAR_HOST = 2,
    MS_VAR_SASL_PLAIN = 3,
    MS_VAR_SASL_PLAIN_AUTHZ = 4,
    MS_VAR_SASL_USER = 5,
    MS_VAR_SASL_PASSWORD = 6,
    MS_VAR_APOP_DIGEST = 7,
    /* Run values (certify and replay options): a unique word for names the
     * test creates (--run-id), the SMTP recipient (--rcpt) and reverse-path
     * (--mail-from). */
    MS_VAR_RUN = 8,
    MS_VAR_RCPT = 9,
    MS_VAR_FROM = 10,
    MS_VAR_BUILTINS = 11
};
/* Their names, indexed by MS_VAR_*. */
extern const char *const ms_script_builtin_vars[MS_VAR_BUILTINS];

enum ms_step_type {
    MS_STEP_SEND = 1,    /* C: line: parts, CRLF appended */
    MS_STEP_EXPECT,      /* S: line: pattern, matched against one server line */
    MS_STEP_TLS,         /* @tls: TLS handshake on the open connection */
    MS_STEP_SEGMENT,     /* @segment: the following C: lines are written at once */
    MS_STEP_UNORDERED,   /* @unordered: the following S: lines in any order */
    MS_STEP_END,         /* @end: closes @segment or @unordered */
    MS_STEP_CLOSE,       /* @close: the server must close the connection */
    MS_STEP_SLEEP,       /* @sleep MS: arg = milliseconds */
    MS_STEP_CONNECTION,  /* @connection: close, open a new connection */
    MS_STEP_REQUIRES,    /* @requires CAP: skip unless a server line so far has CAP */
    MS_STEP_ALLOW,       /* @allow PATTERN: skip unexpected lines that match */
    MS_STEP_FORBID,      /* @forbid PATTERN: fail on unexpected lines that match */
    MS_STEP_PHASE,       /* @phase setup|check|cleanup: arg = enum ms_phase */
    MS_STEP_EITHER,      /* @either: the first of several alternative branches */
    MS_STEP_OR,          /* @or: the next branch; @end closes the last */
    MS_STEP_UNSUPPORTED, /* @unsupported PATTERN: the next S: step, answered so, is
                          * not-supported rather than failed */
    MS_STEP_LOGIN,       /* @login: SMTP AUTH PLAIN when credentials and AUTH PLAIN exist */
    MS_STEP_SWITCH,      /* @connection NAME: the steps after it run on connection arg
                          * (index into ms_script.conns), opened on first use */
    MS_STEP_TLS_CLOSE,   /* @tls-close: send a TLS close_notify, go on in cleartext */
};

/* A step of this type uses the current connection (it is opened for it on
 * first use; after @close it is a script error). */
int ms_step_uses_conn(unsigned type);

/* What a step is for (docs/session-format.md "Phases"). */
enum ms_phase {
    MS_PHASE_CHECK = 0,   /* the behaviour under test: a mismatch is a failure */
    MS_PHASE_SETUP = 1,   /* getting there: a mismatch blocks the test */
    MS_PHASE_CLEANUP = 2, /* tidying up: a mismatch is only noted */
};

enum ms_part_kind {
    MS_PART_LIT = 1, /* literal bytes */
    MS_PART_ANY,     /* ${*} */
    MS_PART_VAR,     /* ${name}; capture marks the first use of an unbound name in an S: line */
    MS_PART_MBOX,    /* ${mbox:name}: an IMAP astring in any encoding (atom, quoted,
                      * literal), compared or captured decoded (RFC 9051 4.3, 4.5) */
};

struct ms_part {
    uint8_t kind;
    uint8_t capture; /* MS_PART_VAR: this occurrence binds the variable */
    uint16_t var;    /* index into ms_script.vars */
    size_t off, len; /* MS_PART_LIT: bytes at script->bytes + off */
};

struct ms_step {
    uint8_t type;   /* enum ms_step_type */
    uint8_t nocrlf; /* SEND/EXPECT after @nocrlf: the line has no CRLF */
    size_t line;    /* 1-based */
    size_t col;     /* 1-based, where the item starts */
    size_t part0;   /* first part in script->parts */
    size_t nparts;  /* SEND/EXPECT/ALLOW/FORBID: pattern; REQUIRES: one literal */
    uint8_t phase;  /* enum ms_phase in force at this step */
    uint8_t conn;   /* the connection the step runs on (index into ms_script.conns) */
    uint64_t arg;   /* SLEEP: milliseconds; PHASE: enum ms_phase; SWITCH: connection */
};

/* The BCP 14 keyword of the sentence a test quotes; INFO: a sentence without one. */
enum ms_level { MS_LEVEL_MUST = 0, MS_LEVEL_SHOULD = 1, MS_LEVEL_MAY = 2, MS_LEVEL_INFO = 3 };

/* Bits of ms_script.transports: the --tls modes the test applies to. */
enum { MS_TRANSPORT_NONE = 1, MS_TRANSPORT_STARTTLS = 2, MS_TRANSPORT_IMPLICIT = 4 };

struct ms_script {
    /* Metadata, NUL-terminated strings inside bytes ("" when absent). */
    const char *id, *title, *rfc, *protocol, *quote;
    const char *finding; /* @finding: the finding a failure of this test is, in plain words */
    uint8_t level;       /* enum ms_level; MUST when absent */
    uint8_t has_phases;  /* the script has @phase lines */
    uint8_t nalts;       /* branches of its @either block (0: none) */
    uint8_t tls_failure_passes; /* @tls-failure pass: a failed @tls handshake passes */
    uint8_t transports;         /* 0 when absent: applies to every transport */
    uint8_t has_tls;            /* the script has an @tls step */
    uint8_t serial;             /* @serial: runs alone, never beside another test (--jobs) */
    uint32_t lenient;           /* MS_LENIENT_* flags from @quirk lines */
    struct ms_step *steps;
    size_t nsteps;
    struct ms_part *parts;
    size_t nparts;
    char vars[MS_SCRIPT_MAX_VARS][MS_SCRIPT_MAX_NAME + 1];
    size_t nvars;
    /* Connection names; conns[0] is "main", the connection a script starts
     * on. named: the script has an @connection NAME line (transcripts then
     * tag each line with its connection). */
    char conns[MS_SCRIPT_MAX_CONNS][MS_SCRIPT_MAX_NAME + 1];
    size_t nconns;
    uint8_t named;
    char *bytes; /* decoded literals and metadata */
    size_t nbytes;
};

struct ms_script_error {
    size_t line, col; /* 1-based; col counts bytes */
    const char *reason;
};

/*
 * Parse text[0..len) (need not be NUL-terminated). Returns a script to free
 * with ms_script_free, or NULL with err filled in (reason "out of memory" when
 * malloc failed).
 */
struct ms_script *ms_script_parse(const char *text, size_t len, struct ms_script_error *err);
void ms_script_free(struct ms_script *s);

/* Variable values during one run; capture binds, later uses compare. */
struct ms_vars {
    struct {
        size_t off, len;
        uint8_t bound;
    } v[MS_SCRIPT_MAX_VARS];
    char buf[MS_SCRIPT_VAR_BYTES];
    size_t used;
};

void ms_vars_init(struct ms_vars *vs);
/* Bind variable i to p[0..n). MS_FAIL when the value space is exhausted. */
MS_MUST_USE enum ms_status ms_vars_set(struct ms_vars *vs, size_t i, const char *p, size_t n);

/*
 * Match line[0..len) (without CRLF) against a step's pattern. On a match,
 * returns 1 and binds the captures into vs; on no match returns 0 and vs is
 * unchanged. Returns MS_FAIL when a capture does not fit into vs.
 * Leftmost-shortest: a wildcard or capture takes as little as the rest allows.
 */
/* Flags of ms_script_match. */
enum {
    /* Literal text compares ASCII case-insensitively (IMAP: RFC 9051 9 "all
     * alphabetic characters are case-insensitive"; SMTP: RFC 5321 2.4). */
    MS_MATCH_NOCASE = 1
};
MS_MUST_USE int ms_script_match(const struct ms_script *s, const struct ms_step *st,
                                struct ms_vars *vs, const char *line, size_t len, unsigned flags);

/*
 * Render a C: step with its variables into out (cap bytes), CRLF appended
 * (none after @nocrlf).
 * Returns the length, or MS_FAIL when a variable is unbound or cap is too small.
 */
MS_MUST_USE ssize_t ms_script_render(const struct ms_script *s, const struct ms_step *st,
                                     const struct ms_vars *vs, char *out, size_t cap);

/* The pattern of a step as script text (escaped, with ${...}); for messages. */
void ms_script_pattern_text(const struct ms_script *s, const struct ms_step *st, struct ms_out *o);

/* Flags of ms_script_escape_opt. */
enum {
    /* Keep valid UTF-8 sequences as they are (the recorder: 8-bit headers stay
     * readable); invalid, overlong and surrogate sequences are still \xHH. */
    MS_ESCAPE_UTF8 = 1
};

/*
 * Bytes as .session text: printable ASCII as is; \\ \r \n \t; "$" before
 * "{" as \x24 (it would start a variable); other bytes \xHH (lowercase hex),
 * except valid UTF-8 with MS_ESCAPE_UTF8. The one escaper of the runner and
 * the recorder; what it writes reads back (ms_transcript_next) as the bytes.
 */
void ms_script_escape_opt(struct ms_out *o, const char *p, size_t n, unsigned flags);
/* ms_script_escape_opt with no flags: every non-ASCII byte escaped. */
void ms_script_escape(struct ms_out *o, const char *p, size_t n);

/* "MUST", "SHOULD", "MAY", "info" */
const char *ms_level_name(unsigned level);

#endif
