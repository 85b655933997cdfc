/* Helpers shared by the POP3 command and reply parsers (not public API). */
#ifndef MAILSPEC_POP3_INT_H
#define MAILSPEC_POP3_INT_H

#include <string.h>

#include "mailspec/pop3.h"

/*
 * Find the CRLF line at buf[0..len) of at most max bytes (CRLF included).
 * Lenient flags: MS_LENIENT_BARE_LF (a bare LF ends the line) and
 * MS_LENIENT_LONG_LINES (lines up to 16 * max) are accepted as quirks in q,
 * with offsets relative to base. Returns as ms_line_find.
 */
MS_MUST_USE ssize_t ms_pop3_line(const struct ms_limits *lim, const char *buf, size_t len,
                                 size_t max, size_t *tl, struct ms_quirks *q, size_t base,
                                 struct ms_error *err, const char *rule);

/*
 * ms_pop3_line for the common case, inline: a strict CRLF line within max
 * bytes. Anything else (no LF yet, bare LF or CR, a long line, a lenient
 * flag that applies to lines) goes to ms_pop3_line, which decides as before:
 * this only saves two calls per line (POP3 lines are short, and per-line
 * costs dominate).
 */
static inline MS_MUST_USE ssize_t ms_pop3_line_fast(const struct ms_limits *lim, const char *buf,
                                                    size_t len, size_t max, size_t *tl,
                                                    struct ms_quirks *q, size_t base,
                                                    struct ms_error *err, const char *rule)
{
    if (!(lim->lenient & (MS_LENIENT_BARE_LF | MS_LENIENT_LONG_LINES))) {
        const char *lf = memchr(buf, '\n', len < max ? len : max);
        if (lf && lf > buf && lf[-1] == '\r') {
            size_t t = (size_t)(lf - buf) - 1;
            if (!memchr(buf, '\r', t)) {
                *tl = t;
                return (ssize_t)(t + 2);
            }
        }
    }
    return ms_pop3_line(lim, buf, len, max, tl, q, base, err, rule);
}

/* Length of the valid UTF-8 sequence (RFC 3629 4) at p[0..n), or 0. */
size_t ms_pop3_utf8_len(const unsigned char *p, size_t n);

/* The command whose keyword is kw (case-insensitive), or MS_POP3_NONE. */
enum ms_pop3_cmd ms_pop3_cmd_lookup(struct ms_slice kw);

#endif
