/* Helpers shared by the POP3 command and reply parsers (not public API). */
#ifndef MAILSPEC_POP3_INT_H
#define MAILSPEC_POP3_INT_H

#include <string.h>

#include "mailspec/pop3.h"
#include "mailspec/scan.h"

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
 * Length of the run of VCHAR (%x21-7E, RFC 1939 3), and SP when sp_ok, at
 * the start of p[0..n). p[n..avail) may be read (the rest of the caller's
 * buffer: avail >= n) but never counts, so that a keyword or an argument of
 * a few bytes is classified in one 16-byte block, without a loop exit to
 * mispredict.
 */
static inline size_t ms_pop3_vchar_run(const unsigned char *p, size_t n, size_t avail, int sp_ok)
{
    return ms_scan_run(p, n, avail, sp_ok ? 0x20u : 0x21u, 0x7e);
}

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

/* Four bytes as one word: p[0] in the low byte, whatever the machine's byte order. */
#define MS_POP3_KW4(a, b, c, d)                                                                    \
    ((uint32_t)(unsigned char)(a) | (uint32_t)(unsigned char)(b) << 8 |                            \
     (uint32_t)(unsigned char)(c) << 16 | (uint32_t)(unsigned char)(d) << 24)

/* The command whose keyword is kw (case-insensitive), or MS_POP3_NONE. */
static inline enum ms_pop3_cmd ms_pop3_cmd_lookup(struct ms_slice kw)
{
    /*
     * Only the real keywords (USER .. LANG), never the SASL pseudo-commands.
     * Every keyword is 3 or 4 characters (RFC 1939 3). The sixteen 4-letter
     * ones are found without a search or a chain of compares (whose
     * mispredicted branches cost more than the rest of a short command):
     * the keyword, folded to lower case, is one 32-bit word; a multiplier
     * found offline maps the sixteen words to sixteen distinct slots
     * (w * 0x3ee9d549 >> 28, a minimal perfect hash), and one compare with
     * the slot's word decides. tests/unit/test_pop3.c checks every keyword
     * in three casings and near misses.
     */
    static const struct {
        uint32_t w;
        uint8_t cmd;
    } slots[16] = {
        [0] = {MS_POP3_KW4('a', 'u', 't', 'h'), MS_POP3_AUTH},
        [1] = {MS_POP3_KW4('s', 't', 'a', 't'), MS_POP3_STAT},
        [2] = {MS_POP3_KW4('l', 'a', 'n', 'g'), MS_POP3_LANG},
        [3] = {MS_POP3_KW4('q', 'u', 'i', 't'), MS_POP3_QUIT},
        [4] = {MS_POP3_KW4('r', 's', 'e', 't'), MS_POP3_RSET},
        [5] = {MS_POP3_KW4('l', 'i', 's', 't'), MS_POP3_LIST},
        [6] = {MS_POP3_KW4('r', 'e', 't', 'r'), MS_POP3_RETR},
        [7] = {MS_POP3_KW4('u', 's', 'e', 'r'), MS_POP3_USER},
        [8] = {MS_POP3_KW4('a', 'p', 'o', 'p'), MS_POP3_APOP},
        [9] = {MS_POP3_KW4('d', 'e', 'l', 'e'), MS_POP3_DELE},
        [10] = {MS_POP3_KW4('u', 't', 'f', '8'), MS_POP3_UTF8},
        [11] = {MS_POP3_KW4('p', 'a', 's', 's'), MS_POP3_PASS},
        [12] = {MS_POP3_KW4('u', 'i', 'd', 'l'), MS_POP3_UIDL},
        [13] = {MS_POP3_KW4('n', 'o', 'o', 'p'), MS_POP3_NOOP},
        [14] = {MS_POP3_KW4('c', 'a', 'p', 'a'), MS_POP3_CAPA},
        [15] = {MS_POP3_KW4('s', 't', 'l', 's'), MS_POP3_STLS},
    };
    const unsigned char *p = (const unsigned char *)kw.ptr;

    if (kw.len == 3)
        return ms_lower(p[0]) == 't' && ms_lower(p[1]) == 'o' && ms_lower(p[2]) == 'p'
                   ? MS_POP3_TOP
                   : MS_POP3_NONE;
    if (kw.len != 4)
        return MS_POP3_NONE;
    /*
     * Setting bit 0x20 lower-cases a letter, and a byte becomes a given
     * lower-case letter only if it is that letter in either case, so every
     * letter position compares as ms_lower would. The one digit ("UTF8")
     * is checked exactly: 0x18 | 0x20 is "8" too.
     */
    uint32_t w = MS_POP3_KW4(p[0], p[1], p[2], p[3]) | 0x20202020u;
    unsigned slot = (unsigned)((uint32_t)(w * 0x3ee9d549u) >> 28);
    if (slots[slot].w != w || (slots[slot].cmd == MS_POP3_UTF8 && p[3] != '8'))
        return MS_POP3_NONE;
    return (enum ms_pop3_cmd)slots[slot].cmd;
}

#endif
