/*
 * mailspec common parser core: slices, bounded cursor, character classes,
 * errors and quirks, limits, the one overflow-checked number reader, line
 * scanning, and the protocol-independent stream driver.
 *
 * libc only; nothing here allocates.
 */
#ifndef MAILSPEC_COMMON_H
#define MAILSPEC_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h> /* ssize_t */

#if defined(__GNUC__) || defined(__clang__)
#define MS_MUST_USE __attribute__((warn_unused_result))
#else
#define MS_MUST_USE
#endif

/*
 * Status values. Parse functions return ssize_t: bytes consumed (> 0), or
 * MS_PARTIAL (more input is needed), or MS_FAIL (err filled in).
 * Internal steps return enum ms_status: MS_OK or MS_FAIL (or MS_PARTIAL).
 */
enum ms_status {
    MS_OK = 0,
    MS_PARTIAL = -1,
    MS_FAIL = -2,
};

/* A zero-copy view into the caller's buffer. */
struct ms_slice {
    const char *ptr;
    size_t len;
};

/*
 * What kind of error a struct ms_error is. Callers switch on this, never on
 * the wording of rule or reason (which may change). The values are stable:
 * new ones may be added at the end, existing ones keep their number.
 */
enum ms_errcode {
    /* No error: what a zeroed struct ms_error holds. Never reported. */
    MS_ERR_NONE = 0,
    /* The bytes break the protocol's grammar: an RFC's ABNF, including its
     * fixed maxima (a 63-octet domain label, a 70-character POP3 unique-id,
     * 20-character SASL mechanism names), its character sets (ill-formed
     * UTF-8, base64, 8-bit bytes where the session has not enabled them:
     * those depend on state but are byte-level grammar, not MS_ERR_STATE),
     * and bare CR or LF. Also a malformed .session transcript line
     * (ms_transcript_next). */
    MS_ERR_SYNTAX = 1,
    /* Longer, more or deeper than this implementation accepts: a field of
     * struct ms_limits (line and path lengths, reply lines, ESMTP
     * parameters, BDAT chunk size, IMAP line, literal and message sizes,
     * items and nesting depth), a view's fixed capacity (ESMTP parameters,
     * reply lines, POP3 response-code levels and CAPA parameters, IMAP
     * command nodes), a number wider than mailspec holds where the RFC sets
     * no maximum (POP3 message numbers over 2^32-1 and counts over 2^64-1,
     * IMAP literal sizes over 2^32-1), or the stream buffer ("mailspec
     * buffer"). Several default limits are the RFC's own maxima (SMTP
     * and POP3 line lengths, SMTP local part, domain and path); rule then
     * still cites that RFC section, but the code is MS_ERR_LIMIT because the
     * caller's limit is what rejected the message. */
    MS_ERR_LIMIT = 2,
    /* The input ended inside a message (ms_stream_end). */
    MS_ERR_TRUNCATED = 3,
    /* A well-formed message that the protocol state does not allow here (SMTP
     * DATA in a transaction that used BDAT or BODY=BINARYMIME). */
    MS_ERR_STATE = 4,
};

/* "none", "syntax", "limit", "truncated", "state"; "unknown" for other values. */
const char *ms_error_code_name(enum ms_errcode code);

/*
 * Why a message was rejected. offset is relative to the buffer the parse
 * function was given (the stream driver makes it absolute). rule and reason
 * are static strings for people: rule names the RFC, section and grammar rule
 * broken (or "mailspec ..." for mailspec's own limits), reason says what was
 * expected. code is for programs, see enum ms_errcode; every error has one
 * other than MS_ERR_NONE.
 *
 * skip: on MS_FAIL, how many bytes from the start of the buffer belong to the
 * bad message, so a caller can resynchronise after it; 0 when the message's
 * end is not known yet (the caller then discards through the next LF).
 *
 * Initialise with {0} or designated initialisers: fields may be added.
 */
struct ms_error {
    size_t offset;
    const char *rule;
    const char *reason;
    size_t skip;
    enum ms_errcode code;
};

/*
 * Fill in err's offset, code, rule, reason and skip, and return MS_FAIL: for
 * errors raised without a cursor (framers, line finders, the stream driver).
 */
enum ms_status ms_error_set(struct ms_error *err, size_t offset, enum ms_errcode code,
                            const char *rule, const char *reason, size_t skip);

/*
 * A deviation that a lenient flag made acceptable. It is still reported, so
 * that a user sees every byte that was not RFC-clean.
 */
struct ms_quirk {
    size_t offset; /* relative to the start of the message */
    const char *rule;
    const char *reason;
};

#define MS_QUIRKS_MAX 8
struct ms_quirks {
    struct ms_quirk q[MS_QUIRKS_MAX];
    uint8_t n;
    uint8_t dropped; /* quirks beyond MS_QUIRKS_MAX, counted, not stored */
};

void ms_quirk_add(struct ms_quirks *qs, size_t offset, const char *rule, const char *reason);

/*
 * Lenient flags. Strict parsing is the default; each flag accepts exactly one
 * deviation, and each accepted deviation is reported as a quirk.
 */
enum {
    /* LF without CR ends a line. Enables SMTP smuggling (a bare "\n.\n" may
     * end DATA for one hop and not the next): use with caution. */
    MS_LENIENT_BARE_LF = 1u << 0,
    /* Lower-case keywords where the RFC requires upper case (POP3 +OK/-ERR). */
    MS_LENIENT_KEYWORD_CASE = 1u << 1,
    /* Extra or missing spaces between words (several SP, trailing SP). */
    MS_LENIENT_SPACES = 1u << 2,
    /* 8-bit bytes where the grammar allows only US-ASCII. */
    MS_LENIENT_8BIT = 1u << 3,
    /* Lines over the RFC limit (the caller's hard limit still applies). */
    MS_LENIENT_LONG_LINES = 1u << 4,
    /* Protocol-specific flags use bits 8..31, see the protocol headers. */
};

/*
 * Every length, count and depth has a limit. ms_limits_default() fills in the
 * RFC minimums; callers may raise or lower any of them.
 * Line lengths include the terminating CRLF.
 */
struct ms_limits {
    /* SMTP, RFC 5321 4.5.3.1 */
    size_t smtp_command_line; /* 512 */
    size_t smtp_text_line;    /* 1000 (DATA content lines) */
    size_t smtp_reply_line;   /* 512 */
    size_t smtp_local_part;   /* 64 */
    size_t smtp_domain;       /* 255 */
    size_t smtp_path;         /* 256, including the angle brackets */
    size_t smtp_reply_lines;  /* lines in one multi-line reply */
    size_t smtp_params;       /* ESMTP parameters on one MAIL/RCPT */
    size_t smtp_sasl_line;    /* 12288, RFC 4954 4 */
    uint64_t smtp_bdat_chunk; /* largest BDAT chunk accepted */
    /* POP3, RFC 2449 4 */
    size_t pop3_command_line;  /* 255 */
    size_t pop3_response_line; /* 512 */
    size_t pop3_text_line;     /* lines of multi-line responses (1000) */
    size_t pop3_sasl_line;     /* 12288 */
    /* IMAP, RFC 9051 4 and 2.2 (no fixed line limit in the RFC) */
    size_t imap_line;      /* one line, literals excluded */
    uint32_t imap_literal; /* one literal's size */
    size_t imap_message;   /* a whole command or response with its literals */
    unsigned imap_depth;   /* nesting of lists and search keys */
    size_t imap_items;     /* elements of one list, attributes of one FETCH */
    /* MS_LENIENT_* flags */
    uint32_t lenient;
};

void ms_limits_default(struct ms_limits *lim);

/*
 * Set a limit by its field name ("smtp_command_line", ...). Returns MS_OK, or
 * MS_FAIL for an unknown name or a value out of the field's range.
 */
MS_MUST_USE enum ms_status ms_limits_set(struct ms_limits *lim, const char *name, uint64_t value);
MS_MUST_USE enum ms_status ms_limits_get(const struct ms_limits *lim, const char *name,
                                         uint64_t *value);
/* Names of the settable limits, NULL-terminated. */
extern const char *const ms_limit_names[];

/* The MS_LENIENT_* bit for a flag name ("bare-lf", ...), or 0 if unknown. */
uint32_t ms_lenient_flag(const char *name);
/* Flag names with a one-line description each, NULL-terminated pairs. */
extern const char *const ms_lenient_help[];

/* A stream buffer size large enough for the largest message the limits allow. */
size_t ms_stream_buffer_size(const struct ms_limits *lim);

/* ---- character classes (one table, generated by scripts/gen_ctype.py) ---- */
enum {
    MS_C_DIGIT = 1u << 0,
    MS_C_ALPHA = 1u << 1,
    MS_C_HEX = 1u << 2,
    MS_C_VCHAR = 1u << 3,          /* %x21-7E */
    MS_C_ATEXT = 1u << 4,          /* RFC 5322 3.2.3 atext */
    MS_C_LDH = 1u << 5,            /* ALPHA / DIGIT / "-" */
    MS_C_SMTP_QTEXT = 1u << 6,     /* RFC 5321 4.1.2 qtextSMTP */
    MS_C_XCHAR = 1u << 7,          /* RFC 3461 4 xchar */
    MS_C_ESMTP_VALUE = 1u << 8,    /* RFC 5321 4.1.2 esmtp-value chars */
    MS_C_IMAP_ATOM = 1u << 9,      /* RFC 9051 ATOM-CHAR */
    MS_C_IMAP_ASTRING = 1u << 10,  /* ASTRING-CHAR */
    MS_C_IMAP_TAG = 1u << 11,      /* tag chars: ASTRING-CHAR except "+" */
    MS_C_IMAP_LIST = 1u << 12,     /* list-char */
    MS_C_TEXT = 1u << 13,          /* any byte except NUL, CR, LF */
    MS_C_BASE64 = 1u << 14,        /* ALPHA / DIGIT / "+" / "/" */
    MS_C_CTL = 1u << 15,           /* %x00-1F / %x7F */
    MS_C_IMAP_QSPECIAL = 1u << 16, /* DQUOTE / "\" */
    MS_C_SPACE = 1u << 17,         /* SP / HTAB */
    MS_C_8BIT = 1u << 18,          /* %x80-FF */
    MS_C_IMAP_TEXT = 1u << 19,     /* TEXT-CHAR: %x01-7F except CR LF */
};

extern const uint32_t ms_ctype[256];

static inline int ms_is(unsigned char ch, uint32_t cls)
{
    return (ms_ctype[ch] & cls) != 0;
}
static inline int ms_is_digit(unsigned char ch)
{
    return ch >= '0' && ch <= '9';
}
static inline unsigned char ms_lower(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') ? (unsigned char)(ch | 0x20) : ch;
}

/*
 * Length of the UTF-8 sequence at p[0..n) (n >= 1): 1 for US-ASCII, 2-4 for a
 * well-formed sequence (RFC 3629 4: no overlong forms, no surrogates, nothing
 * above U+10FFFF), 0 when ill-formed or cut short.
 */
size_t ms_utf8_len(const unsigned char *p, size_t n);

/*
 * Modified UTF-7 (RFC 3501 5.1.3), the mailbox-name encoding: the modified
 * BASE64 ("," for "/") of UTF-16 between "&" and "-", fed one character at
 * a time. One decoder for the IMAP command parser's check and the script
 * matcher's comparison.
 */
struct ms_mutf7 {
    uint32_t bits, nbits; /* BASE64 bits not yet a UTF-16 unit */
    uint32_t high;        /* a high surrogate waiting for its low one, or 0 */
};
enum {
    MS_MUTF7_MORE = 0,        /* no character yet */
    MS_MUTF7_CHAR = 1,        /* *cp holds a code point */
    MS_MUTF7_BAD_DIGIT = -1,  /* not a modified BASE64 character */
    MS_MUTF7_LOW_ALONE = -2,  /* a low surrogate without a high one */
    MS_MUTF7_HIGH_ALONE = -3, /* a high surrogate not followed by a low one */
    MS_MUTF7_PADDING = -4,    /* the run does not end on a whole unit with zero bits */
};
/* One character after "&" (not the closing "-"). */
int ms_mutf7_feed(struct ms_mutf7 *m, unsigned char ch, uint32_t *cp);
/* At the closing "-": 0, MS_MUTF7_PADDING or MS_MUTF7_HIGH_ALONE. */
int ms_mutf7_end(const struct ms_mutf7 *m);

/* Case-insensitive ASCII comparison of a slice with lit[0..n). */
static inline int ms_slice_ieqn(struct ms_slice s, const char *lit, size_t n)
{
    if (s.len != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (ms_lower((unsigned char)s.ptr[i]) != ms_lower((unsigned char)lit[i]))
            return 0;
    return 1;
}
/* Exact comparison of a slice with lit[0..n). */
static inline int ms_slice_eqn(struct ms_slice s, const char *lit, size_t n)
{
    return s.len == n && (n == 0 || memcmp(s.ptr, lit, n) == 0);
}
/*
 * Comparisons with a C string literal (our own constant, never input): once
 * inlined, the literal's length is folded at compile time, so the length
 * check comes first and costs nothing.
 */
static inline int ms_slice_ieq(struct ms_slice s, const char *lit)
{
    return ms_slice_ieqn(s, lit, strlen(lit));
}
static inline int ms_slice_eq(struct ms_slice s, const char *lit)
{
    return ms_slice_eqn(s, lit, strlen(lit));
}

/*
 * The one number reader: ASCII digits in p[0..len) (all of them, at least one)
 * as an unsigned value no greater than max. Returns MS_OK, or MS_FAIL on an
 * empty input, a non-digit, or a value above max (no wrap-around, ever).
 */
MS_MUST_USE enum ms_status ms_number_parse(const char *p, size_t len, uint64_t max, uint64_t *out);

/* ---- bounded read cursor ---- */
/*
 * All parser reads go through a cursor over one complete message, so a parser
 * cannot read past the bytes it was given. Running out of bytes is MS_FAIL
 * (the framer already established that the message is complete).
 */
struct ms_cursor {
    const unsigned char *p;
    size_t len;
    size_t pos;
    struct ms_error *err;
    const char *eol_rule; /* rule cited when input ends early */
};

static inline void ms_cursor_init(struct ms_cursor *c, const char *buf, size_t len,
                                  struct ms_error *err, const char *eol_rule)
{
    c->p = (const unsigned char *)buf;
    c->len = len;
    c->pos = 0;
    c->err = err;
    c->eol_rule = eol_rule;
}
static inline size_t ms_cursor_left(const struct ms_cursor *c)
{
    return c->len - c->pos;
}
static inline int ms_cursor_eof(const struct ms_cursor *c)
{
    return c->pos >= c->len;
}
/* The next byte, or -1 at the end. */
static inline int ms_cursor_peek(const struct ms_cursor *c)
{
    return c->pos < c->len ? c->p[c->pos] : -1;
}
static inline int ms_cursor_peek_at(const struct ms_cursor *c, size_t ahead)
{
    return ahead < c->len - c->pos ? c->p[c->pos + ahead] : -1;
}
static inline const char *ms_cursor_ptr(const struct ms_cursor *c)
{
    return (const char *)c->p + c->pos;
}

/*
 * Record an error at the cursor (or at pos) and return MS_FAIL. ms_fail and
 * ms_fail_at (and everything built on them: MS_ENSURE, ms_cursor_expect,
 * ms_cursor_token, ms_cursor_number) report MS_ERR_SYNTAX; ms_fail_limit and
 * ms_fail_limit_at report MS_ERR_LIMIT; ms_fail_code_at any code.
 */
enum ms_status ms_fail(struct ms_cursor *c, const char *rule, const char *reason);
enum ms_status ms_fail_at(struct ms_cursor *c, size_t pos, const char *rule, const char *reason);
enum ms_status ms_fail_limit(struct ms_cursor *c, const char *rule, const char *reason);
enum ms_status ms_fail_limit_at(struct ms_cursor *c, size_t pos, const char *rule,
                                const char *reason);
enum ms_status ms_fail_code_at(struct ms_cursor *c, size_t pos, enum ms_errcode code,
                               const char *rule, const char *reason);

/* Consume byte ch or fail naming it. */
MS_MUST_USE enum ms_status ms_cursor_expect(struct ms_cursor *c, unsigned char ch, const char *rule,
                                            const char *reason);
/* Consume the literal (case-insensitively) or fail. */
MS_MUST_USE enum ms_status ms_cursor_expect_ci(struct ms_cursor *c, const char *lit,
                                               const char *rule, const char *reason);
/* If the next bytes match lit case-insensitively, consume them and return 1. */
int ms_cursor_accept_ci(struct ms_cursor *c, const char *lit);
/* If the next byte is ch, consume it and return 1. */
int ms_cursor_accept(struct ms_cursor *c, unsigned char ch);
/* Take the longest run (at most max bytes) of bytes in class cls. */
size_t ms_cursor_span(struct ms_cursor *c, uint32_t cls, size_t max, struct ms_slice *out);
/* Take a run of 1..max bytes of class cls, or fail with rule/reason. A run
 * longer than max is MS_ERR_SYNTAX: max is meant for the RFC's own maxima. */
MS_MUST_USE enum ms_status ms_cursor_token(struct ms_cursor *c, uint32_t cls, size_t max,
                                           struct ms_slice *out, const char *rule,
                                           const char *reason);
/* Read digits (at most max_digits) as a number <= max, or fail
 * (MS_ERR_SYNTAX; a number over a struct ms_limits field is the caller's to
 * report as MS_ERR_LIMIT). */
MS_MUST_USE enum ms_status ms_cursor_number(struct ms_cursor *c, size_t max_digits, uint64_t max,
                                            uint64_t *out, const char *rule);
/* Take everything up to the end of the cursor. */
void ms_cursor_rest(struct ms_cursor *c, struct ms_slice *out);

#define MS_GUARD(expr)                                                                             \
    do {                                                                                           \
        enum ms_status ms_guard_st_ = (expr);                                                      \
        if (ms_guard_st_ != MS_OK)                                                                 \
            return ms_guard_st_;                                                                   \
    } while (0)

#define MS_ENSURE(cond, c, rule, reason)                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return ms_fail((c), (rule), (reason));                                                 \
    } while (0)

/* ---- lines ---- */
/*
 * Find the end of the CRLF-terminated line at buf[0..len).
 * max is the longest line allowed, CRLF included.
 * Returns the line's length including its terminator, MS_PARTIAL when no LF
 * has come yet within max bytes, or MS_FAIL: line too long (offset = max,
 * MS_ERR_LIMIT), bare LF, or bare CR inside the line (offset of the
 * offending byte, MS_ERR_SYNTAX).
 * With MS_LENIENT_BARE_LF a bare LF ends the line and *bare_lf is set.
 * *text_len is the length without the terminator.
 */
MS_MUST_USE ssize_t ms_line_find(const char *buf, size_t len, size_t max, uint32_t lenient,
                                 size_t *text_len, int *bare_lf, struct ms_error *err,
                                 const char *rule);

/* ---- JSON output (used by the CLI, the tests and the fuzzers) ---- */
/*
 * An append-only output buffer with a fixed capacity. Appends past the end are
 * dropped and overflow is set, so output is never silently truncated: the
 * caller checks overflow.
 */
struct ms_out {
    char *buf;
    size_t cap;
    size_t len;
    int overflow;
};
void ms_out_init(struct ms_out *o, char *buf, size_t cap);
void ms_out_bytes(struct ms_out *o, const void *p, size_t n);
void ms_out_str(struct ms_out *o, const char *s);
void ms_out_u64(struct ms_out *o, uint64_t v);
/* A JSON string (quoted, escaped; bytes that are not valid UTF-8 become \u00XX). */
void ms_out_json_str(struct ms_out *o, const char *p, size_t n);
void ms_out_json_slice(struct ms_out *o, struct ms_slice s);
/* ,"key": */
void ms_out_json_key(struct ms_out *o, const char *key);
void ms_out_json_quirks(struct ms_out *o, const struct ms_quirks *qs);

/*
 * How many client lines follow an AUTH/AUTHENTICATE command for a SASL
 * mechanism, when only the client's bytes are known (a commands-only stream;
 * in a session the server's continuations and final reply decide):
 * LOGIN 2, SCRAM-* 3 (client-first, client-final, the empty line after
 * server-final), PLAIN, CRAM-MD5, EXTERNAL, ANONYMOUS, XOAUTH2 and
 * OAUTHBEARER 1, each one fewer with an initial response;
 * MS_SASL_LINES_UNKNOWN for any other mechanism.
 */
#define MS_SASL_LINES_UNKNOWN UINT32_MAX
uint32_t ms_sasl_client_lines(struct ms_slice mechanism, int initial_response);

#endif
