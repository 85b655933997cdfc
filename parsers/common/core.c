/* The common parser core: limits, quirks, slices, numbers, cursor, lines. */
#include <string.h>

#include "mailspec/common.h"

void ms_limits_default(struct ms_limits *lim)
{
    memset(lim, 0, sizeof(*lim));
    /* RFC 5321 4.5.3.1.4-6: command line 512, text line 1000, reply line 512
     * (each including CRLF); 4.5.3.1.1-3: local part 64, domain 255, path 256. */
    lim->smtp_command_line = 512;
    lim->smtp_text_line = 1000;
    lim->smtp_reply_line = 512;
    lim->smtp_local_part = 64;
    lim->smtp_domain = 255;
    lim->smtp_path = 256;
    lim->smtp_reply_lines = 64;
    lim->smtp_params = 16;
    /* RFC 4954 4: a SASL line may be up to 12288 octets. */
    lim->smtp_sasl_line = 12288;
    lim->smtp_bdat_chunk = 64u * 1024 * 1024;
    /* RFC 2449 4: commands up to 255 octets, responses up to 512. */
    lim->pop3_command_line = 255;
    lim->pop3_response_line = 512;
    lim->pop3_text_line = 1000;
    lim->pop3_sasl_line = 12288;
    /* RFC 9051 sets no line limit; RFC 7162 3 asks clients to accept 8192. */
    lim->imap_line = 65536;
    lim->imap_literal = 64u * 1024 * 1024;
    lim->imap_message = 80u * 1024 * 1024;
    lim->imap_depth = 32;
    lim->imap_items = 4096;
    lim->lenient = 0;
}

void ms_quirk_add(struct ms_quirks *qs, size_t offset, const char *rule, const char *reason)
{
    if (qs->n >= MS_QUIRKS_MAX) {
        if (qs->dropped < UINT8_MAX)
            qs->dropped++;
        return;
    }
    qs->q[qs->n].offset = offset;
    qs->q[qs->n].rule = rule;
    qs->q[qs->n].reason = reason;
    qs->n++;
}

enum ms_status ms_number_parse(const char *p, size_t len, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (len == 0)
        return MS_FAIL;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (!ms_is_digit(ch))
            return MS_FAIL;
        unsigned d = (unsigned)(ch - '0');
        /* v * 10 + d <= max, checked without overflowing (d > max first:
         * max - d would wrap when max < 9) */
        if (d > max || v > (max - d) / 10)
            return MS_FAIL;
        v = v * 10 + d;
    }
    *out = v;
    return MS_OK;
}

const char *ms_error_code_name(enum ms_errcode code)
{
    switch (code) {
    case MS_ERR_NONE:
        return "none";
    case MS_ERR_SYNTAX:
        return "syntax";
    case MS_ERR_LIMIT:
        return "limit";
    case MS_ERR_TRUNCATED:
        return "truncated";
    case MS_ERR_STATE:
        return "state";
    }
    return "unknown";
}

enum ms_status ms_error_set(struct ms_error *err, size_t offset, enum ms_errcode code,
                            const char *rule, const char *reason, size_t skip)
{
    err->offset = offset;
    err->code = code;
    err->rule = rule;
    err->reason = reason;
    err->skip = skip;
    return MS_FAIL;
}

/* The one place a cursor records an error (skip is left to the caller). */
enum ms_status ms_fail_code_at(struct ms_cursor *c, size_t pos, enum ms_errcode code,
                               const char *rule, const char *reason)
{
    if (c->err) {
        c->err->offset = pos;
        c->err->code = code;
        c->err->rule = rule;
        c->err->reason = reason;
    }
    return MS_FAIL;
}

enum ms_status ms_fail_at(struct ms_cursor *c, size_t pos, const char *rule, const char *reason)
{
    return ms_fail_code_at(c, pos, MS_ERR_SYNTAX, rule, reason);
}

enum ms_status ms_fail(struct ms_cursor *c, const char *rule, const char *reason)
{
    return ms_fail_code_at(c, c->pos, MS_ERR_SYNTAX, rule, reason);
}

enum ms_status ms_fail_limit_at(struct ms_cursor *c, size_t pos, const char *rule,
                                const char *reason)
{
    return ms_fail_code_at(c, pos, MS_ERR_LIMIT, rule, reason);
}

enum ms_status ms_fail_limit(struct ms_cursor *c, const char *rule, const char *reason)
{
    return ms_fail_code_at(c, c->pos, MS_ERR_LIMIT, rule, reason);
}

enum ms_status ms_cursor_expect(struct ms_cursor *c, unsigned char ch, const char *rule,
                                const char *reason)
{
    if (c->pos < c->len && c->p[c->pos] == ch) {
        c->pos++;
        return MS_OK;
    }
    return ms_fail(c, rule, reason);
}

int ms_cursor_accept(struct ms_cursor *c, unsigned char ch)
{
    if (c->pos < c->len && c->p[c->pos] == ch) {
        c->pos++;
        return 1;
    }
    return 0;
}

int ms_cursor_accept_ci(struct ms_cursor *c, const char *lit)
{
    size_t n = strlen(lit);

    if (n > c->len - c->pos)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (ms_lower(c->p[c->pos + i]) != ms_lower((unsigned char)lit[i]))
            return 0;
    c->pos += n;
    return 1;
}

enum ms_status ms_cursor_expect_ci(struct ms_cursor *c, const char *lit, const char *rule,
                                   const char *reason)
{
    if (ms_cursor_accept_ci(c, lit))
        return MS_OK;
    return ms_fail(c, rule, reason);
}

size_t ms_cursor_span(struct ms_cursor *c, uint32_t cls, size_t max, struct ms_slice *out)
{
    size_t start = c->pos;
    size_t end = c->len - start > max ? start + max : c->len;
    size_t i = start;

    while (i < end && (ms_ctype[c->p[i]] & cls))
        i++;
    if (out) {
        out->ptr = (const char *)c->p + start;
        out->len = i - start;
    }
    c->pos = i;
    return i - start;
}

enum ms_status ms_cursor_token(struct ms_cursor *c, uint32_t cls, size_t max, struct ms_slice *out,
                               const char *rule, const char *reason)
{
    size_t start = c->pos;
    size_t n = ms_cursor_span(c, cls, max, out);

    if (n == 0)
        return ms_fail(c, rule, reason);
    /* A longer run than max is a limit violation, reported where it starts. */
    if (n == max && c->pos < c->len && (ms_ctype[c->p[c->pos]] & cls))
        return ms_fail_at(c, start + max, rule, "token longer than the limit");
    return MS_OK;
}

enum ms_status ms_cursor_number(struct ms_cursor *c, size_t max_digits, uint64_t max, uint64_t *out,
                                const char *rule)
{
    size_t start = c->pos;
    struct ms_slice d;

    /* Take every digit, so "123456789012" with max_digits 10 is an error,
     * not the number 1234567890 followed by garbage. */
    ms_cursor_span(c, MS_C_DIGIT, c->len - c->pos, &d);
    if (d.len == 0)
        return ms_fail_at(c, start, rule, "expected a number");
    if (d.len > max_digits || ms_number_parse(d.ptr, d.len, max, out) != MS_OK)
        return ms_fail_at(c, start, rule, "number out of range");
    return MS_OK;
}

void ms_cursor_rest(struct ms_cursor *c, struct ms_slice *out)
{
    out->ptr = (const char *)c->p + c->pos;
    out->len = c->len - c->pos;
    c->pos = c->len;
}

ssize_t ms_line_find(const char *buf, size_t len, size_t max, uint32_t lenient, size_t *text_len,
                     int *bare_lf, struct ms_error *err, const char *rule)
{
    size_t scan = len < max ? len : max;
    const char *lf = memchr(buf, '\n', scan);

    *bare_lf = 0;
    if (!lf) {
        if (len < max)
            return MS_PARTIAL;
        /* max bytes and no LF: whatever comes next, the line is too long.
         * Reported at the first byte past the limit, in every chunking. */
        return ms_error_set(err, max, MS_ERR_LIMIT, rule, "line longer than the limit", 0);
    }
    size_t end = (size_t)(lf - buf) + 1;
    size_t tl;
    if (end >= 2 && buf[end - 2] == '\r') {
        tl = end - 2;
    } else if (lenient & MS_LENIENT_BARE_LF) {
        tl = end - 1;
        *bare_lf = 1;
    } else {
        return ms_error_set(err, end - 1, MS_ERR_SYNTAX, rule, "bare LF: lines end with CRLF", end);
    }
    const char *cr = memchr(buf, '\r', tl);
    if (cr) {
        return ms_error_set(err, (size_t)(cr - buf), MS_ERR_SYNTAX, rule, "bare CR inside a line",
                            end);
    }
    *text_len = tl;
    return (ssize_t)end;
}

/* ---- output ---- */

void ms_out_init(struct ms_out *o, char *buf, size_t cap)
{
    o->buf = buf;
    o->cap = cap;
    o->len = 0;
    o->overflow = 0;
}

void ms_out_bytes(struct ms_out *o, const void *p, size_t n)
{
    if (o->overflow || n > o->cap - o->len) {
        o->overflow = 1;
        return;
    }
    if (n)
        memcpy(o->buf + o->len, p, n);
    o->len += n;
}

void ms_out_str(struct ms_out *o, const char *s)
{
    ms_out_bytes(o, s, strlen(s));
}

void ms_out_u64(struct ms_out *o, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    ms_out_bytes(o, tmp + i, sizeof(tmp) - i);
}

int ms_mutf7_feed(struct ms_mutf7 *m, unsigned char ch, uint32_t *cp)
{
    int d = ch >= 'A' && ch <= 'Z'   ? ch - 'A'
            : ch >= 'a' && ch <= 'z' ? ch - 'a' + 26
            : ch >= '0' && ch <= '9' ? ch - '0' + 52
            : ch == '+'              ? 62
            : ch == ','              ? 63
                                     : -1;
    if (d < 0)
        return MS_MUTF7_BAD_DIGIT;
    m->bits = (m->bits << 6) | (uint32_t)d;
    m->nbits += 6;
    if (m->nbits < 16)
        return MS_MUTF7_MORE;
    m->nbits -= 16;
    uint32_t u = (m->bits >> m->nbits) & 0xFFFFu;
    m->bits &= (1u << m->nbits) - 1;
    if (m->high) {
        if (u < 0xDC00 || u > 0xDFFF)
            return MS_MUTF7_HIGH_ALONE;
        *cp = 0x10000 + ((m->high - 0xD800) << 10) + (u - 0xDC00);
        m->high = 0;
        return MS_MUTF7_CHAR;
    }
    if (u >= 0xD800 && u <= 0xDBFF) {
        m->high = u;
        return MS_MUTF7_MORE;
    }
    if (u >= 0xDC00 && u <= 0xDFFF)
        return MS_MUTF7_LOW_ALONE;
    *cp = u;
    return MS_MUTF7_CHAR;
}

int ms_mutf7_end(const struct ms_mutf7 *m)
{
    if (m->nbits >= 6 || m->bits != 0)
        return MS_MUTF7_PADDING;
    return m->high ? MS_MUTF7_HIGH_ALONE : 0;
}

size_t ms_utf8_len(const unsigned char *p, size_t n)
{
    unsigned char b = p[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;

    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF) {
        need = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 3;
        if (b == 0xE0)
            lo = 0xA0; /* no overlong forms */
        if (b == 0xED)
            hi = 0x9F; /* no UTF-16 surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 4;
        if (b == 0xF0)
            lo = 0x90;
        if (b == 0xF4)
            hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        return 0;
    }
    if (n < need || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return need;
}

void ms_out_json_str(struct ms_out *o, const char *s, size_t n)
{
    static const char hexd[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;

    ms_out_bytes(o, "\"", 1);
    while (i < n) {
        unsigned char ch = p[i];
        if (ch >= 0x20 && ch < 0x7F && ch != '"' && ch != '\\') {
            run++;
            i++;
            continue;
        }
        ms_out_bytes(o, p + i - run, run);
        run = 0;
        size_t u = ch >= 0x80 ? ms_utf8_len(p + i, n - i) : 0;
        if (u) {
            ms_out_bytes(o, p + i, u);
            i += u;
            continue;
        }
        char esc[6] = {'\\', 'u', '0', '0', hexd[ch >> 4], hexd[ch & 15]};
        switch (ch) {
        case '"':
            ms_out_bytes(o, "\\\"", 2);
            break;
        case '\\':
            ms_out_bytes(o, "\\\\", 2);
            break;
        case '\r':
            ms_out_bytes(o, "\\r", 2);
            break;
        case '\n':
            ms_out_bytes(o, "\\n", 2);
            break;
        case '\t':
            ms_out_bytes(o, "\\t", 2);
            break;
        default:
            /* Control bytes and bytes that are not UTF-8: escaped by value,
             * so the JSON stays valid and no byte is hidden. */
            ms_out_bytes(o, esc, sizeof(esc));
            break;
        }
        i++;
    }
    ms_out_bytes(o, p + i - run, run);
    ms_out_bytes(o, "\"", 1);
}

void ms_out_json_slice(struct ms_out *o, struct ms_slice s)
{
    ms_out_json_str(o, s.ptr, s.len);
}

void ms_out_json_key(struct ms_out *o, const char *key)
{
    ms_out_bytes(o, ",\"", 2);
    ms_out_str(o, key);
    ms_out_bytes(o, "\":", 2);
}

void ms_out_json_quirks(struct ms_out *o, const struct ms_quirks *qs)
{
    if (qs->n == 0 && qs->dropped == 0)
        return;
    ms_out_json_key(o, "quirks");
    ms_out_bytes(o, "[", 1);
    for (unsigned i = 0; i < qs->n; i++) {
        if (i)
            ms_out_bytes(o, ",", 1);
        ms_out_str(o, "{\"offset\":");
        ms_out_u64(o, qs->q[i].offset);
        ms_out_str(o, ",\"rule\":");
        ms_out_json_str(o, qs->q[i].rule, strlen(qs->q[i].rule));
        ms_out_str(o, ",\"reason\":");
        ms_out_json_str(o, qs->q[i].reason, strlen(qs->q[i].reason));
        ms_out_bytes(o, "}", 1);
    }
    ms_out_bytes(o, "]", 1);
    if (qs->dropped) {
        ms_out_json_key(o, "quirks_dropped");
        ms_out_u64(o, qs->dropped);
    }
}

/* ---- limits and flags by name (for command lines and config) ---- */

#define LIMIT(f)                                                                                   \
    {                                                                                              \
#f, offsetof(struct ms_limits, f), sizeof(((struct ms_limits *)0)->f)                      \
    }
static const struct {
    const char *name;
    size_t off;
    size_t size;
} limit_fields[] = {
    LIMIT(smtp_command_line), LIMIT(smtp_text_line),    LIMIT(smtp_reply_line),
    LIMIT(smtp_local_part),   LIMIT(smtp_domain),       LIMIT(smtp_path),
    LIMIT(smtp_reply_lines),  LIMIT(smtp_params),       LIMIT(smtp_sasl_line),
    LIMIT(smtp_bdat_chunk),   LIMIT(pop3_command_line), LIMIT(pop3_response_line),
    LIMIT(pop3_text_line),    LIMIT(pop3_sasl_line),    LIMIT(imap_line),
    LIMIT(imap_literal),      LIMIT(imap_message),      LIMIT(imap_depth),
    LIMIT(imap_items),
};
#undef LIMIT

const char *const ms_limit_names[] = {
    "smtp_command_line", "smtp_text_line",  "smtp_reply_line",   "smtp_local_part",
    "smtp_domain",       "smtp_path",       "smtp_reply_lines",  "smtp_params",
    "smtp_sasl_line",    "smtp_bdat_chunk", "pop3_command_line", "pop3_response_line",
    "pop3_text_line",    "pop3_sasl_line",  "imap_line",         "imap_literal",
    "imap_message",      "imap_depth",      "imap_items",        NULL,
};

enum ms_status ms_limits_set(struct ms_limits *lim, const char *name, uint64_t value)
{
    for (size_t i = 0; i < sizeof(limit_fields) / sizeof(limit_fields[0]); i++) {
        if (strcmp(limit_fields[i].name, name) != 0)
            continue;
        char *field = (char *)lim + limit_fields[i].off;
        /* Zero would make every message an error; it is never meant. */
        if (value == 0)
            return MS_FAIL;
        switch (limit_fields[i].size) {
        case sizeof(uint32_t): {
            if (value > UINT32_MAX)
                return MS_FAIL;
            uint32_t v = (uint32_t)value;
            memcpy(field, &v, sizeof(v));
            return MS_OK;
        }
        case sizeof(uint64_t): {
            if (value > SIZE_MAX / 4)
                return MS_FAIL;
            memcpy(field, &value, sizeof(value));
            return MS_OK;
        }
        default:
            return MS_FAIL;
        }
    }
    return MS_FAIL;
}

enum ms_status ms_limits_get(const struct ms_limits *lim, const char *name, uint64_t *value)
{
    for (size_t i = 0; i < sizeof(limit_fields) / sizeof(limit_fields[0]); i++) {
        if (strcmp(limit_fields[i].name, name) != 0)
            continue;
        const char *field = (const char *)lim + limit_fields[i].off;
        if (limit_fields[i].size == sizeof(uint32_t)) {
            uint32_t v;
            memcpy(&v, field, sizeof(v));
            *value = v;
        } else {
            memcpy(value, field, sizeof(*value));
        }
        return MS_OK;
    }
    return MS_FAIL;
}

const char *const ms_lenient_help[] = {
    "bare-lf",      "accept LF without CR as a line end (enables SMTP smuggling)",
    "keyword-case", "accept lower-case keywords where upper case is required",
    "spaces",       "accept extra or missing spaces between words",
    "8bit",         "accept 8-bit bytes where only US-ASCII is allowed",
    "long-lines",   "accept lines over the RFC limit (up to the hard limit)",
    "imap-unknown", "IMAP: accept unknown untagged responses as raw (hides unsupported data)",
    "ehlo-line",    "SMTP: keep an EHLO line that is not an ehlo-keyword (AUTH=PLAIN) as text",
    NULL,           NULL,
};

uint32_t ms_lenient_flag(const char *name)
{
    static const uint32_t bits[] = {MS_LENIENT_BARE_LF, MS_LENIENT_KEYWORD_CASE, MS_LENIENT_SPACES,
                                    MS_LENIENT_8BIT, MS_LENIENT_LONG_LINES,
                                    /* MS_LENIENT_IMAP_UNKNOWN (mailspec/imap_response.h) */
                                    1u << 8,
                                    /* MS_LENIENT_SMTP_EHLO_LINE (mailspec/smtp.h) */
                                    1u << 9};

    for (size_t i = 0; ms_lenient_help[2 * i]; i++)
        if (strcmp(ms_lenient_help[2 * i], name) == 0)
            return bits[i];
    return 0;
}

size_t ms_stream_buffer_size(const struct ms_limits *lim)
{
    size_t n = 64 * 1024;
    size_t cand[] = {lim->smtp_command_line, lim->smtp_text_line,    lim->smtp_reply_line,
                     lim->smtp_sasl_line,    lim->pop3_command_line, lim->pop3_response_line,
                     lim->pop3_text_line,    lim->pop3_sasl_line,    lim->imap_line,
                     lim->imap_message};

    for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++)
        if (cand[i] > n)
            n = cand[i];
    /* Room for a multi-line SMTP reply of maximal lines. */
    if (lim->smtp_reply_line * lim->smtp_reply_lines > n)
        n = lim->smtp_reply_line * lim->smtp_reply_lines;
    return n + 4;
}

uint32_t ms_sasl_client_lines(struct ms_slice m, int initial_response)
{
    uint32_t ir = initial_response ? 1 : 0;

    if (ms_slice_ieq(m, "LOGIN"))
        return 2 - ir;
    if (ms_slice_ieq(m, "PLAIN") || ms_slice_ieq(m, "CRAM-MD5") || ms_slice_ieq(m, "EXTERNAL") ||
        ms_slice_ieq(m, "ANONYMOUS") || ms_slice_ieq(m, "XOAUTH2") ||
        ms_slice_ieq(m, "OAUTHBEARER"))
        return 1 - ir;
    if (m.len > 5 && ms_slice_ieq((struct ms_slice){m.ptr, 5}, "SCRAM"))
        return 3 - ir;
    return MS_SASL_LINES_UNKNOWN;
}
