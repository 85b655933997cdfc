/*
 * The shared byte scanners (mailspec/scan.h) against plain reference loops:
 * every length 0..70 (several 16- and 8-byte blocks, overlapping last
 * blocks, the 64-byte cut of ms_scan_lf), every position of every byte that
 * matters, the input ending at a PROT_NONE page so that a read past the end
 * crashes. Built normally this checks the SSE2 paths (and SWAR for 8..15
 * bytes); built with -DMS_NO_SIMD, the portable fallback.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "mailspec/scan.h"

#define MAXLEN 70

/* Bytes that stop some scan, their neighbours, and the ends of the ranges. */
static const unsigned char interesting[] = {
    0x00, 0x01, '\t', '\n', 0x0b, '\r', 0x1f, ' ',  '!',  '"',  '#',  '/',  '0',  '9',
    ':',  '[',  '\\', ']',  'a',  '}',  '~',  0x7f, 0x80, 0x81, 0xc3, 0xfe, 0xff,
};
#define NINTERESTING (sizeof(interesting) / sizeof(interesting[0]))

/* The reference: the stop set, byte by byte, written out from its definition. */
static int ref_stops(unsigned char b, unsigned set, unsigned lo, unsigned hi)
{
    if ((set & MS_SCAN_NUL) && b == 0x00)
        return 1;
    if ((set & MS_SCAN_LF) && b == 0x0a)
        return 1;
    if ((set & MS_SCAN_CR) && b == 0x0d)
        return 1;
    if ((set & MS_SCAN_DQUOTE) && b == 0x22)
        return 1;
    if ((set & MS_SCAN_BACKSLASH) && b == 0x5c)
        return 1;
    if ((set & MS_SCAN_8BIT) && b > 0x7f)
        return 1;
    return lo != 0 && !(b >= lo && b <= hi);
}

static size_t ref_find(const unsigned char *p, size_t n, unsigned set, unsigned lo, unsigned hi)
{
    size_t i = 0;
    while (i < n && !ref_stops(p[i], set, lo, hi))
        i++;
    return i;
}

static size_t ref_crlf_line(const unsigned char *l, size_t scan, unsigned set, unsigned lo,
                            unsigned hi)
{
    size_t j = 0;
    while (j < scan && l[j] != '\n')
        j++;
    if (j == scan || j == 0 || l[j - 1] != '\r')
        return 0;
    for (size_t k = 0; k + 1 < j; k++)
        if (l[k] == '\r' || ref_stops(l[k], set, lo, hi))
            return 0;
    return j + 1;
}

/* Every buffer of length 0..MAXLEN: all fill, or one interesting byte at one place. */
struct gen {
    size_t len, pos;
    unsigned b; /* index into interesting; NINTERESTING: none */
    unsigned char buf[MAXLEN + 32];
};

static void gen_fill(struct gen *g, unsigned char fill)
{
    memset(g->buf, fill, sizeof(g->buf));
    if (g->b < NINTERESTING && g->pos < g->len)
        g->buf[g->pos] = interesting[g->b];
}

/* The range scans that the parsers use and some others: [lo, hi] with 1 <= lo <= hi <= 0x7E. */
static const unsigned ranges[][2] = {
    {0, 0}, {0x20, 0x7e}, {0x21, 0x7e}, {0x30, 0x39}, {0x01, 0x7e}, {0x7e, 0x7e}, {0x01, 0x01},
};
#define NRANGES (sizeof(ranges) / sizeof(ranges[0]))

/* A byte that no scan below stops at ("a" is inside every range but [0x30, 0x39]). */
static unsigned char neutral(unsigned lo, unsigned hi)
{
    return lo == 0x30 ? '5' : (lo == hi ? (unsigned char)lo : 'a');
}

static void check_find(const unsigned char *in, size_t n, size_t avail, unsigned set, unsigned lo,
                       unsigned hi)
{
    const unsigned char *g = (const unsigned char *)ms_guarded((const char *)in, avail);
    size_t want = ref_find(in, n, set, lo, hi);
    size_t got = ms_scan_find(g, n, avail, set, lo, hi);
    if (got != want) {
        print_error("ms_scan_find n=%zu avail=%zu set=%#x lo=%#x hi=%#x: %zu, expected %zu\n", n,
                    avail, set, lo, hi, got, want);
        fail();
    }
    /* from a start index: the bytes before it are never looked at */
    static const size_t from[] = {1, 5, 8, 15, 16, 17, 33};
    for (unsigned k = 0; k < sizeof(from) / sizeof(from[0]) && from[k] <= n; k++) {
        size_t f = from[k], w = f + ref_find(in + f, n - f, set, lo, hi);
        size_t r = ms_scan_find_from(g, f, n, avail, set, lo, hi);
        if (r != w) {
            print_error("ms_scan_find_from %zu n=%zu avail=%zu set=%#x lo=%#x hi=%#x: %zu, "
                        "expected %zu\n",
                        f, n, avail, set, lo, hi, r, w);
            fail();
        }
    }
}

/* ms_scan_find (so ms_scan_any and ms_scan_run): every set and range, with and without slack. */
static void test_find(void **state)
{
    static const size_t slack[] = {1, 7, 8, 15, 16, 17, 31};
    static const unsigned char past[] = {0x00, '\n', '\r', '"', '\\', 0x1f, ' ', '~', 0x7f, 0x80};
    struct gen g;

    (void)state;
    for (unsigned r = 0; r < NRANGES; r++) {
        unsigned lo = ranges[r][0], hi = ranges[r][1];
        /* with a range, the named bytes matter less: fewer sets */
        unsigned nsets = lo ? 4 : 64, step = lo ? 21 : 1;
        for (unsigned s = 0; s < nsets; s++) {
            unsigned set = (s * step) & 63;
            for (g.len = 0; g.len <= MAXLEN; g.len++)
                for (g.b = 0; g.b <= NINTERESTING; g.b++)
                    for (g.pos = 0; g.pos < (g.b < NINTERESTING ? g.len : 1); g.pos++) {
                        gen_fill(&g, neutral(lo, hi));
                        check_find(g.buf, g.len, g.len, set, lo, hi);
                        /* bytes past n may be read but never count: put stop
                         * bytes (of some set) there, after a body with one odd
                         * byte last or none */
                        if ((g.b == NINTERESTING || g.pos + 1 == g.len) && g.len < MAXLEN &&
                            (lo || (s & 7) == 0 || s == 63))
                            for (unsigned k = 0; k < sizeof(slack) / sizeof(slack[0]); k++)
                                for (unsigned f = 0; f < sizeof(past); f++) {
                                    memset(g.buf + g.len, past[f], slack[k]);
                                    check_find(g.buf, g.len, g.len + slack[k], set, lo, hi);
                                    /* and a neutral byte first: a hit past n, not at n */
                                    g.buf[g.len] = neutral(lo, hi);
                                    check_find(g.buf, g.len, g.len + slack[k], set, lo, hi);
                                }
                    }
        }
    }
}

/* The wrappers with the constant arguments the parsers pass (folded differently). */
static void test_callers(void **state)
{
    struct gen g;

    (void)state;
    for (g.len = 0; g.len <= MAXLEN; g.len++)
        for (g.b = 0; g.b <= NINTERESTING; g.b++)
            for (g.pos = 0; g.pos < (g.b < NINTERESTING ? g.len : 1); g.pos++) {
                gen_fill(&g, 'a');
                const unsigned char *p = (const unsigned char *)ms_guarded((char *)g.buf, g.len);
                const unsigned q = MS_SCAN_DQUOTE | MS_SCAN_BACKSLASH | MS_SCAN_NUL | MS_SCAN_CR |
                                   MS_SCAN_LF | MS_SCAN_8BIT;
                /* imap/response_internal.h: quoted strings */
                assert_int_equal(ms_scan_any(p, g.len, q), ref_find(g.buf, g.len, q, 0, 0));
                for (size_t f = 0; f <= g.len; f += 3)
                    assert_int_equal(ms_scan_any_from(p, f, g.len, q),
                                     f + ref_find(g.buf + f, g.len - f, q, 0, 0));
                /* smtp/data.c: CR, NUL, 8-bit */
                assert_int_equal(
                    ms_scan_any(p, g.len, MS_SCAN_CR | MS_SCAN_NUL | MS_SCAN_8BIT),
                    ref_find(g.buf, g.len, MS_SCAN_CR | MS_SCAN_NUL | MS_SCAN_8BIT, 0, 0));
                /* smtp/reply.c: SP..~; pop3: VCHAR, VCHAR / SP */
                assert_int_equal(ms_scan_run(p, g.len, g.len, 0x20, 0x7e),
                                 ref_find(g.buf, g.len, 0, 0x20, 0x7e));
                assert_int_equal(ms_scan_run(p, g.len, g.len, 0x21, 0x7e),
                                 ref_find(g.buf, g.len, 0, 0x21, 0x7e));
            }
}

/* ms_scan_lf: the first LF, before and after the 64-byte cut, with other bytes around. */
static void test_lf(void **state)
{
    struct gen g;

    (void)state;
    for (g.len = 0; g.len <= MAXLEN; g.len++)
        for (g.b = 0; g.b <= NINTERESTING; g.b++)
            for (g.pos = 0; g.pos < (g.b < NINTERESTING ? g.len : 1); g.pos++)
                for (size_t lf = 0; lf <= g.len; lf++) { /* lf == len: none */
                    gen_fill(&g, 'a');
                    if (lf < g.len)
                        g.buf[lf] = '\n';
                    const unsigned char *p =
                        (const unsigned char *)ms_guarded((char *)g.buf, g.len);
                    size_t want = ref_find(g.buf, g.len, MS_SCAN_LF, 0, 0);
                    size_t got = ms_scan_lf(p, g.len);
                    if (got != want) {
                        print_error(
                            "ms_scan_lf len=%zu lf=%zu byte %#x at %zu: %zu, expected %zu\n", g.len,
                            lf, g.b < NINTERESTING ? interesting[g.b] : 0, g.pos, got, want);
                        fail();
                    }
                }
}

/* ms_scan_crlf_line: a CRLF at every place (or none), one odd byte at every place. */
static void test_crlf_line(void **state)
{
    static const unsigned sets[][3] = {
        {MS_SCAN_CR | MS_SCAN_NUL | MS_SCAN_8BIT, 0, 0}, /* smtp/data.c, no 8BITMIME */
        {MS_SCAN_CR | MS_SCAN_NUL, 0, 0},                /* smtp/data.c, 8BITMIME */
        {0, 0x20, 0x7e},                                 /* smtp/reply.c */
        {MS_SCAN_DQUOTE, 0, 0},                          /* CR only by default */
    };
    static const unsigned char odd[] = {0x00, '\n', '\r', 0x1f, ' ', '"', '~', 0x7f, 0x80, 0xff};
    unsigned char buf[MAXLEN + 1];

    (void)state;
    for (unsigned s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
        unsigned set = sets[s][0], lo = sets[s][1], hi = sets[s][2];
        for (size_t len = 0; len <= MAXLEN; len++)
            for (size_t e = 0; e <= len; e++) /* LF at e, CR at e - 1; e == len: no CRLF */
                for (unsigned b = 0; b <= sizeof(odd); b++)
                    for (size_t pos = 0; pos < (b < sizeof(odd) ? len : 1); pos++) {
                        memset(buf, 'a', sizeof(buf));
                        if (e < len) {
                            buf[e] = '\n';
                            if (e > 0)
                                buf[e - 1] = '\r';
                        }
                        if (b < sizeof(odd))
                            buf[pos] = odd[b];
                        const unsigned char *p =
                            (const unsigned char *)ms_guarded((char *)buf, len);
                        size_t want = ref_crlf_line(buf, len, set, lo, hi);
                        size_t got = ms_scan_crlf_line(p, len, set, lo, hi);
                        if (got != want) {
                            print_error("ms_scan_crlf_line len=%zu crlf at %zu, byte %#x at %zu, "
                                        "set %u: %zu, expected %zu\n",
                                        len, e, b < sizeof(odd) ? odd[b] : 0, pos, s, got, want);
                            fail();
                        }
                    }
    }
}

/* Two CRs in a row across a block boundary, and CR CR LF: never a plain line. */
static void test_crlf_line_blocks(void **state)
{
    unsigned char buf[MAXLEN + 1];

    (void)state;
    for (size_t len = 2; len <= MAXLEN; len++)
        for (size_t e = 1; e < len; e++)
            for (size_t c2 = 0; c2 < e; c2++) {
                memset(buf, 'x', sizeof(buf));
                buf[e] = '\n';
                buf[e - 1] = '\r';
                buf[c2] = '\r';
                const unsigned char *p = (const unsigned char *)ms_guarded((char *)buf, len);
                size_t want = ref_crlf_line(buf, len, 0, 0, 0);
                assert_int_equal(ms_scan_crlf_line(p, len, 0, 0, 0), want);
                assert_int_equal(want, c2 == e - 1 ? e + 1 : 0);
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_callers),
        cmocka_unit_test(test_lf),
        cmocka_unit_test(test_crlf_line),
        cmocka_unit_test(test_crlf_line_blocks),
    };
    printf("scan: %s\n", MS_SCAN_SSE2   ? "SSE2 paths"
                         : MS_SCAN_SWAR ? "SWAR fallback"
                                        : "plain loops");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
