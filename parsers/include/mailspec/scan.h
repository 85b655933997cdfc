/*
 * mailspec byte scanners: the one place where the parsers' hot loops look at
 * 16 (SSE2) or 8 (SWAR) bytes at a time. Every primitive has the SSE2 path,
 * one portable fallback (SWAR on little-endian GCC/Clang, else a plain loop)
 * that -DMS_NO_SIMD forces, and the same result whichever path runs.
 *
 * Loads never reach past the bytes a caller allows: a last block that would
 * run past the end overlaps the one before it instead (its first bytes are
 * known not to stop the scan, so the first hit in it is still exact), and
 * SWAR words are read with memcpy. tests/unit/test_scan.c checks every
 * primitive against a plain loop for every length 0..70 and every position of
 * every byte that matters, with the input ending at a PROT_NONE page.
 *
 * Header-only: the SSE2 loops are always inlined, so that they sit where
 * they are used and the constant arguments (which bytes stop a scan) fold
 * away; the path for fewer than 16 bytes is kept out of line there (cold),
 * so that it takes no registers from the parsers' hot loops.
 */
#ifndef MAILSPEC_SCAN_H
#define MAILSPEC_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__) && !defined(MS_NO_SIMD) && (defined(__GNUC__) || defined(__clang__))
#define MS_SCAN_SSE2 1
#include <emmintrin.h>
#else
#define MS_SCAN_SSE2 0
#endif

/*
 * Always inlined: an out-of-line copy (gcc makes one for a function this
 * size) costs a call per scan and loses the constant folding of set.
 */
#if defined(__GNUC__) || defined(__clang__)
#define MS_SCAN_INLINE static inline __attribute__((always_inline))
#else
#define MS_SCAN_INLINE static inline
#endif

#if defined(__GNUC__) || defined(__clang__)
#define MS_SCAN_LIKELY(x) __builtin_expect(!!(x), 1)
#else
#define MS_SCAN_LIKELY(x) (x)
#endif

/* Out of line where SSE2 makes it the cold path (unused: not every file scans). */
#if MS_SCAN_SSE2
#define MS_SCAN_COLD static __attribute__((noinline, unused))
#else
#define MS_SCAN_COLD static inline
#endif

/* The index of the first hit in a word needs the byte order (and ctzll). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ &&                        \
    (defined(__GNUC__) || defined(__clang__))
#define MS_SCAN_SWAR 1
#else
#define MS_SCAN_SWAR 0
#endif

/*
 * Bytes that stop a scan. Callers pass constants, so the tests for the
 * bytes they do not name fold away. Add a byte here when a scan needs it.
 */
enum {
    MS_SCAN_NUL = 1u << 0,
    MS_SCAN_LF = 1u << 1,
    MS_SCAN_CR = 1u << 2,
    MS_SCAN_DQUOTE = 1u << 3,
    MS_SCAN_BACKSLASH = 1u << 4,
    MS_SCAN_8BIT = 1u << 5, /* %x80-FF */
};

/*
 * The stop set of a scan: the bytes named in set, and, when lo != 0, every
 * byte outside [lo, hi] (1 <= lo <= hi <= 0x7E, so 8-bit bytes are outside).
 */
MS_SCAN_INLINE int ms_scan_stops(unsigned char b, unsigned set, unsigned lo, unsigned hi)
{
    return ((set & MS_SCAN_NUL) && b == 0) || ((set & MS_SCAN_LF) && b == '\n') ||
           ((set & MS_SCAN_CR) && b == '\r') || ((set & MS_SCAN_DQUOTE) && b == '"') ||
           ((set & MS_SCAN_BACKSLASH) && b == '\\') || ((set & MS_SCAN_8BIT) && b >= 0x80) ||
           (lo != 0 && (b < lo || b > hi));
}

/* A named byte that the range leaves out already needs no test of its own. */
MS_SCAN_INLINE int ms_scan_named_(unsigned set, unsigned flag, unsigned b, unsigned lo, unsigned hi)
{
    return (set & flag) && !(lo != 0 && (b < lo || b > hi));
}

#if MS_SCAN_SSE2
/* Bit k set: byte k of x stops the scan. high: all ones when 8-bit bytes stop. */
MS_SCAN_INLINE unsigned ms_scan_mask16_(__m128i x, unsigned set, unsigned lo, unsigned hi,
                                        __m128i high)
{
    __m128i hit = _mm_and_si128(x, high); /* movemask takes each byte's top bit */

    if (ms_scan_named_(set, MS_SCAN_NUL, 0u, lo, hi))
        hit = _mm_or_si128(hit, _mm_cmpeq_epi8(x, _mm_setzero_si128()));
    if (ms_scan_named_(set, MS_SCAN_LF, (unsigned)'\n', lo, hi))
        hit = _mm_or_si128(hit, _mm_cmpeq_epi8(x, _mm_set1_epi8('\n')));
    if (ms_scan_named_(set, MS_SCAN_CR, (unsigned)'\r', lo, hi))
        hit = _mm_or_si128(hit, _mm_cmpeq_epi8(x, _mm_set1_epi8('\r')));
    if (ms_scan_named_(set, MS_SCAN_DQUOTE, (unsigned)'"', lo, hi))
        hit = _mm_or_si128(hit, _mm_cmpeq_epi8(x, _mm_set1_epi8('"')));
    if (ms_scan_named_(set, MS_SCAN_BACKSLASH, (unsigned)'\\', lo, hi))
        hit = _mm_or_si128(hit, _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
    /* signed compares: bytes >= 0x80 are negative, so below lo too */
    if (lo != 0)
        hit = _mm_or_si128(hit, _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8((char)lo)),
                                             _mm_cmpgt_epi8(x, _mm_set1_epi8((char)hi))));
    return (unsigned)_mm_movemask_epi8(hit);
}

MS_SCAN_INLINE __m128i ms_scan_high16_(unsigned set)
{
    return _mm_set1_epi8((set & MS_SCAN_8BIT) ? (char)-1 : 0);
}
#endif

#if MS_SCAN_SWAR
/*
 * The top bit of byte k set when byte k of x stops the scan; exact for the
 * lowest such byte (borrows and carries only move up from a byte that is
 * flagged already), which is all a scan reads.
 */
MS_SCAN_INLINE uint64_t ms_scan_mask8_(uint64_t x, unsigned set, unsigned lo, unsigned hi)
{
    const uint64_t ones = 0x0101010101010101u, top = 0x8080808080808080u;
    uint64_t m = (set & MS_SCAN_8BIT) ? x & top : 0;

    /* (y - 0x01..) & ~y & 0x80..: the lowest zero byte of y */
#define MS_SCAN_HZ_(y) (((y)-ones) & ~(y)&top)
    if (ms_scan_named_(set, MS_SCAN_NUL, 0u, lo, hi))
        m |= MS_SCAN_HZ_(x);
    if (ms_scan_named_(set, MS_SCAN_LF, (unsigned)'\n', lo, hi))
        m |= MS_SCAN_HZ_(x ^ (ones * '\n'));
    if (ms_scan_named_(set, MS_SCAN_CR, (unsigned)'\r', lo, hi))
        m |= MS_SCAN_HZ_(x ^ (ones * '\r'));
    if (ms_scan_named_(set, MS_SCAN_DQUOTE, (unsigned)'"', lo, hi))
        m |= MS_SCAN_HZ_(x ^ (ones * '"'));
    if (ms_scan_named_(set, MS_SCAN_BACKSLASH, (unsigned)'\\', lo, hi))
        m |= MS_SCAN_HZ_(x ^ (ones * '\\'));
#undef MS_SCAN_HZ_
    /* below lo: (x - lo..) & ~x; above hi (up to 0x7F): x + (0x7F - hi)..;
     * 8-bit: x itself */
    if (lo != 0)
        m |= (((x - ones * lo) & ~x) | (x + ones * (0x7fu - hi)) | x) & top;
    return m;
}
#endif

/*
 * ms_scan_find when fewer than 16 bytes may be read, or without SSE2: 8 at a
 * time (SWAR), then byte by byte. With SSE2 this is the cold path and kept
 * out of line, so that it takes no registers in the hot loops that inline
 * ms_scan_find (gcc still specialises it for constant sets).
 */
MS_SCAN_COLD size_t ms_scan_find_short_(const unsigned char *p, size_t i, size_t n, size_t avail,
                                        unsigned set, unsigned lo, unsigned hi)
{
#if MS_SCAN_SWAR
    if (avail - i >= 8) {
        uint64_t x, m;
        for (;;) {
            memcpy(&x, p + i, sizeof(x));
            m = ms_scan_mask8_(x, set, lo, hi);
            if (m)
                break;
            i += 8;
            if (i >= n)
                return n;
            if (avail - i < 8)
                i = avail - 8; /* the last word overlaps the one before it */
        }
        size_t r = i + (unsigned)(__builtin_ctzll(m) >> 3);
        return r > n ? n : r;
    }
#else
    (void)avail;
#endif
    while (i < n && !ms_scan_stops(p[i], set, lo, hi))
        i++;
    return i;
}

/*
 * The index of the first byte of p[i..n) in the stop set (set, lo, hi: see
 * ms_scan_stops), or n (i <= n). p[n..avail) may be read (avail >= n: the
 * rest of the caller's buffer, which lets short inputs use whole blocks) but
 * never counts; p[0..i) is never read.
 */
MS_SCAN_INLINE size_t ms_scan_find_from(const unsigned char *p, size_t i, size_t n, size_t avail,
                                        unsigned set, unsigned lo, unsigned hi)
{
#if MS_SCAN_SSE2
    if (avail - i >= 16) {
        const __m128i high = ms_scan_high16_(set);
        unsigned m;
        /* the first block decides most scans (a quoted string, a keyword,
         * an argument): nothing else on its path */
        for (;;) {
            m = ms_scan_mask16_(_mm_loadu_si128((const __m128i *)(const void *)(p + i)), set, lo,
                                hi, high);
            if (MS_SCAN_LIKELY(m != 0))
                break;
            i += 16;
            if (i >= n)
                return n;
            if (avail - i < 16)
                i = avail - 16; /* the last block overlaps the one before it */
        }
        size_t r = i + (unsigned)__builtin_ctz(m);
        /* a hit in p[n..avail); none when avail == n (folds away then) */
        return avail > n && r > n ? n : r;
    }
#endif
    return ms_scan_find_short_(p, i, n, avail, set, lo, hi);
}

/* ms_scan_find_from p[0..n). */
MS_SCAN_INLINE size_t ms_scan_find(const unsigned char *p, size_t n, size_t avail, unsigned set,
                                   unsigned lo, unsigned hi)
{
    return ms_scan_find_from(p, 0, n, avail, set, lo, hi);
}

/*
 * The index of the first byte of p[0..n) named in set (MS_SCAN_* flags; set
 * may depend on run-time state, e.g. MS_SCAN_8BIT), or n.
 */
MS_SCAN_INLINE size_t ms_scan_any(const unsigned char *p, size_t n, unsigned set)
{
    return ms_scan_find(p, n, n, set, 0, 0);
}

/* ms_scan_any over p[i..n) (i <= n), for a scan that starts at a cursor. */
MS_SCAN_INLINE size_t ms_scan_any_from(const unsigned char *p, size_t i, size_t n, unsigned set)
{
    return ms_scan_find_from(p, i, n, n, set, 0, 0);
}

/*
 * The length of the run of bytes in [lo, hi] (1 <= lo <= hi <= 0x7E) at the
 * start of p[0..n); p[n..avail) may be read but never counts. VCHAR is
 * [0x21, 0x7E], VCHAR or SP [0x20, 0x7E].
 */
MS_SCAN_INLINE size_t ms_scan_run(const unsigned char *p, size_t n, size_t avail, unsigned lo,
                                  unsigned hi)
{
    return ms_scan_find(p, n, avail, 0, lo, hi);
}

/*
 * The index of the first LF in p[0..n), or n: memchr, with an SSE2 fast path
 * for short lines (commands of ~10 bytes, where memchr's set-up, a call
 * through the PLT with alignment and page checks, costs more than the
 * search). Blocks are read only while 16 bytes remain, for the first 64
 * bytes; memchr does the rest.
 */
MS_SCAN_INLINE size_t ms_scan_lf(const unsigned char *p, size_t n)
{
    size_t i = 0;
#if MS_SCAN_SSE2
    const __m128i lf = _mm_set1_epi8('\n');

    for (; i + 16 <= n && i < 64; i += 16) {
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + i)), lf));
        if (m)
            return i + (unsigned)__builtin_ctz(m);
    }
#endif
    const unsigned char *q = (const unsigned char *)memchr(p + i, '\n', n - i);
    return q != NULL ? (size_t)(q - p) : n;
}

/*
 * The length (CRLF included) of the line at l when its first LF is within
 * l[0..scan), a CR comes right before that LF, and no byte before that CR
 * is in the stop set (set, lo, hi: see ms_scan_stops; a CR always stops):
 * a line that needs no byte-by-byte check. 0 for any other line (no LF yet,
 * bare CR or LF, an odd byte): the caller's byte-by-byte path then decides.
 *
 * One pass, 16 bytes at a time, for the end and the odd bytes together
 * (blocks may run past the line, never past scan); fewer than 16 bytes left
 * before the end is found, and the fallback: memchr for the LF, then
 * ms_scan_find over the line.
 */
MS_SCAN_INLINE size_t ms_scan_crlf_line(const unsigned char *l, size_t scan, unsigned set,
                                        unsigned lo, unsigned hi)
{
    set |= MS_SCAN_CR;
#if MS_SCAN_SSE2
    const __m128i lfs = _mm_set1_epi8('\n'), crs = _mm_set1_epi8('\r');
    const __m128i high = ms_scan_high16_(set);
    unsigned cr_last = 0; /* 1 << 16: the previous block ended in a CR */
    size_t i = 0;

    while (scan - i >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(l + i));
        unsigned lfm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, lfs));
        unsigned crm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, crs));
        unsigned bad = ms_scan_mask16_(x, set, lo, hi, high);
        if (lfm) {
            unsigned j = (unsigned)__builtin_ctz(lfm), want;
            if (j == 0) /* the CR before it ended the previous block, or it is bare */
                return cr_last ? i + 1 : 0;
            /* a CR right before the LF, no stop byte before that CR, and no
             * CR pending from the previous block */
            want = 1u << (j - 1);
            if ((bad & (want - 1)) | cr_last | (want & ~crm))
                return 0;
            return i + j + 1;
        }
        /* no stop byte but a CR in the last place, and none pending */
        if ((bad & ~(crm & 0x8000u)) | cr_last)
            return 0;
        cr_last = (crm & 0x8000u) << 1;
        i += 16;
    }
#endif
    const unsigned char *lf = (const unsigned char *)memchr(l, '\n', scan);
    if (lf == NULL || lf == l || lf[-1] != '\r')
        return 0;
    size_t t = (size_t)(lf - l) - 1;
    return ms_scan_find(l, t, t, set, lo, hi) == t ? t + 2 : 0;
}

#endif
