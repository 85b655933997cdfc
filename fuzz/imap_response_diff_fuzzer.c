/*
 * Differential fuzzing: mailspec's IMAP response parser against libetpan's
 * mailimap_response_parse (Debian libetpan 1.9.4) on the same bytes.
 *
 * mailspec is strict and libetpan is lax, so the direction that matters is:
 * an input mailspec ACCEPTS must be accepted by libetpan too, unless the input
 * uses grammar libetpan 1.9.4 does not implement (listed in skip_reason, each
 * triaged against RFC 9051 in docs/fuzzing.md). A disagreement there aborts.
 * The other direction (mailspec rejects, libetpan accepts) is expected for
 * malformed input; with MS_DIFF_LOG=1 it is printed for triage.
 *
 * libetpan's response grammar ends each response at a tagged completion, so
 * only inputs whose last response is tagged are compared.
 * Built and replayed with detect_leaks=0: libetpan 1.9.4 leaks on some error
 * paths (see docs/fuzzing.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bench/etpan.h"
#include "mailspec/mailspec.h"

static int contains_ci(const char *p, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    for (size_t i = 0; m <= n && i <= n - m; i++) {
        size_t j = 0;
        while (j < m && ms_lower((unsigned char)p[i + j]) == ms_lower((unsigned char)lit[j]))
            j++;
        if (j == m)
            return 1;
    }
    return 0;
}

/*
 * libetpan matches the mbx-list-sflag names and \Noinferiors by prefix, so a valid
 * flag-extension such as "\Noselectx" (RFC 9051 9: "\" atom) is rejected.
 */
static int sflag_prefix(const char *p, size_t n)
{
    static const char *const sflags[] = {"\\Noselect", "\\Marked", "\\Unmarked", "\\Noinferiors"};
    for (size_t f = 0; f < sizeof(sflags) / sizeof(sflags[0]); f++) {
        size_t m = strlen(sflags[f]);
        for (size_t i = 0; m < n && i < n - m; i++) {
            size_t j = 0;
            while (j < m &&
                   ms_lower((unsigned char)p[i + j]) == ms_lower((unsigned char)sflags[f][j]))
                j++;
            if (j == m && ms_is((unsigned char)p[i + m], MS_C_IMAP_ATOM))
                return 1;
        }
    }
    return 0;
}

/*
 * Valid RFC grammar that libetpan 1.9.4 does not parse, found by triage
 * (docs/fuzzing.md): inputs using it are not compared.
 */
static const char *skip_reason(const struct ms_imap_response *r, const char *msg, size_t n)
{
    switch (r->type) {
    case MS_IMAP_PREAUTH:
        return "PREAUTH is a greeting, not a response";
    case MS_IMAP_BYE:
        /* RFC 9051 allows "* BYE" before a tagged OK (LOGOUT); libetpan takes
         * it as response-fatal, ending the response, and then fails on the
         * tagged line (stream error). */
        return r->kind == MS_IMAP_UNTAGGED ? "untagged BYE before a tagged response" : NULL;
    case MS_IMAP_ESEARCH:
        return "ESEARCH (RFC 4731) is not implemented by libetpan";
    case MS_IMAP_ID:
        /* RFC 2971 4: "(" #(string SPACE nstring) ")", and RFC 822's "#"
         * allows zero elements; libetpan wants at least one pair */
        return contains_ci(msg, n, "()") ? "ID with an empty parameter list (RFC 2971 4)" : NULL;
    case MS_IMAP_SEARCH:
    case MS_IMAP_SORT:
        return contains_ci(msg, n, "(MODSEQ") ? "SEARCH/SORT ... (MODSEQ n) (RFC 7162 3.1.5)"
                                              : NULL;
    case MS_IMAP_THREAD:
        return "THREAD (RFC 5256) is not implemented by libetpan's response parser";
    case MS_IMAP_FETCH:
        if (contains_ci(msg, n, "BINARY"))
            return "BINARY fetch data (RFC 3516)";
        /* libetpan special-cases an address host that starts "qq.com\" (a
         * workaround for a server's broken quoting) and then fails on the
         * valid string: "qq.com\"", "qq.com\"x", "QQ.COM\"* " */
        return contains_ci(msg, n, "\"qq.com\\\"") ? "libetpan's qq.com address-host workaround"
                                                   : NULL;
    case MS_IMAP_LIST:
    case MS_IMAP_LSUB:
        /* mbox-list-extended (RFC 5258 9) ends the line with ")" */
        if (n >= 3 && msg[n - 3] == ')')
            return "LIST extended data (RFC 5258)";
        return sflag_prefix(msg, n) ? "libetpan bug: list flag with an sflag name as prefix" : NULL;
    default:
        return NULL;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ms_imap_response r;
    struct ms_limits lim;
    struct ms_error err;
    const char *buf = (const char *)data;
    size_t off = 0, n = 0;
    int last_ends = 0, ok = 1;

    ms_limits_default(&lim);
    lim.imap_literal = 4096;
    lim.imap_message = 65536;
    while (off < size) {
        ssize_t k = ms_imap_response_parse(&lim, buf + off, size - off, &r, &err);
        if (k <= 0) {
            ok = 0;
            break;
        }
        if (skip_reason(&r, buf + off, (size_t)k))
            return 0;
        n++;
        off += (size_t)k;
        /* libetpan reads "* BYE" as response-data and then wants a tagged
         * completion (the grammar is ambiguous there): compare only inputs
         * that end with a tagged response. */
        last_ends = r.kind == MS_IMAP_TAGGED;
    }
    if (n == 0 || !last_ends)
        return 0;

    uint64_t msgs = 0;
    size_t consumed = 0;
    char why[256] = "";
    int etpan_ok = etpan_parse(buf, ok ? size : off, &msgs, &consumed, why, sizeof(why)) == 0;
    if (ok && !etpan_ok) {
        fprintf(stderr, "disagreement: mailspec accepts %zu responses, libetpan rejects: %s\n", n,
                why);
        abort();
    }
    if (!ok && getenv("MS_DIFF_LOG"))
        fprintf(stderr, "mailspec rejects at %zu (%s: %s); libetpan %s\n", off + err.offset,
                err.rule, err.reason, etpan_ok ? "accepts the prefix" : "rejects too");
    return 0;
}
