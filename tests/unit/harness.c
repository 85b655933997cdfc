/* Unit-test harness: guard pages, every-split runs, round trips (fuzz/check.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"

size_t ms_last_messages, ms_last_errors;

struct region {
    char *base;
    size_t size;
};

/* The end of a readable region of at least need bytes, followed by PROT_NONE. */
static char *region_end(struct region *g, size_t need)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t want = ((need + page - 1) / page + 1) * page;

    if (want > g->size) {
        if (g->base)
            munmap(g->base, g->size + page);
        g->base =
            mmap(NULL, want + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        assert_true(g->base != MAP_FAILED);
        assert_int_equal(mprotect(g->base + want, page, PROT_NONE), 0);
        g->size = want;
    }
    return g->base + g->size;
}

static struct region input_region, stream_region;

const char *ms_guarded(const char *data, size_t len)
{
    char *end = region_end(&input_region, len);
    memmove(end - len, data, len);
    return end - len;
}

static char *result;

const char *ms_check(const struct ms_kind *k, const struct ms_limits *lim, const char *in,
                     size_t len)
{
    size_t cap = 1u << 20;
    char *sbuf = region_end(&stream_region, cap) - cap;
    struct ms_run whole;
    /* The input itself must not live in the guarded region chunks are copied to. */
    char *copy = malloc(len ? len : 1);

    assert_non_null(copy);
    memcpy(copy, in, len);
    char *msg = ms_check_kind(k, lim, copy, len, 1, ms_guarded, sbuf, cap, &whole);
    free(copy);
    if (msg) {
        print_error("%s\n", msg);
        free(msg);
        ms_run_free(&whole);
        fail();
    }
    ms_last_messages = whole.messages;
    ms_last_errors = whole.errors;
    free(result);
    result = whole.text;
    whole.text = NULL;
    ms_run_free(&whole);
    return result;
}

const char *ms_check_str(const struct ms_kind *k, uint32_t lenient, const char *in)
{
    struct ms_limits lim;
    ms_limits_default(&lim);
    lim.lenient = lenient;
    return ms_check(k, &lim, in, strlen(in));
}

void ms_assert_has_(const char *hay, const char *needle, const char *file, int line)
{
    if (!strstr(hay, needle)) {
        print_error("expected to find\n  %s\nin\n%s", needle, hay);
        _fail(file, line);
    }
}

void ms_assert_lacks_(const char *hay, const char *needle, const char *file, int line)
{
    if (strstr(hay, needle)) {
        print_error("expected NOT to find\n  %s\nin\n%s", needle, hay);
        _fail(file, line);
    }
}

/* ---- error codes ---- */

struct codes {
    char text[1024];
    size_t len;
    int none; /* an error with MS_ERR_NONE was seen */
};

static void emit_code(void *ctx, const struct ms_kind *k, const void *view,
                      const struct ms_error *err, uint64_t offset, uint64_t length)
{
    struct codes *cs = ctx;
    (void)k;
    (void)offset;
    (void)length;
    if (view)
        return;
    if (err->code == MS_ERR_NONE)
        cs->none = 1;
    int n = snprintf(cs->text + cs->len, sizeof(cs->text) - cs->len, "%s%s", cs->len ? " " : "",
                     ms_error_code_name(err->code));
    assert_true(n > 0 && (size_t)n < sizeof(cs->text) - cs->len);
    cs->len += (size_t)n;
}

/* One run with chunks ending at the offsets in cuts[0..ncuts) (and at len). */
static void codes_run(const struct ms_kind *k, const struct ms_limits *lim, const char *in,
                      size_t len, const size_t *cuts, size_t ncuts, struct codes *cs)
{
    size_t cap = 1u << 20;
    char *buf = malloc(cap);
    void *state = calloc(1, k->state_size + 1);
    void *view = calloc(1, k->view_size + 1);
    struct ms_stream s;
    size_t at = 0;

    assert_non_null(buf);
    assert_non_null(state);
    assert_non_null(view);
    memset(cs, 0, sizeof(*cs));
    ms_stream_init(&s, k, lim, state, view, buf, cap, emit_code, cs);
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        if (end > at)
            ms_stream_feed(&s, ms_guarded(in + at, end - at), end - at);
        at = end;
    }
    ms_stream_end(&s);
    free(buf);
    free(state);
    free(view);
}

static char *codes_result;

const char *ms_check_codes(const struct ms_kind *k, const struct ms_limits *lim, const char *in,
                           size_t len)
{
    struct codes whole, other;
    char *copy = malloc(len ? len : 1);
    size_t *cuts = malloc((len ? len : 1) * sizeof(*cuts));

    assert_non_null(copy);
    assert_non_null(cuts);
    memcpy(copy, in, len); /* ms_guarded reuses the region in may live in */
    codes_run(k, lim, copy, len, NULL, 0, &whole);
    if (whole.none)
        fail_msg("an error without a code (MS_ERR_NONE): %s", whole.text);
    for (size_t i = 1; i < len; i++) {
        codes_run(k, lim, copy, len, &i, 1, &other);
        if (strcmp(other.text, whole.text) != 0)
            fail_msg("split at %zu: codes \"%s\", whole: \"%s\"", i, other.text, whole.text);
    }
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    codes_run(k, lim, copy, len, cuts, len, &other);
    if (strcmp(other.text, whole.text) != 0)
        fail_msg("byte by byte: codes \"%s\", whole: \"%s\"", other.text, whole.text);
    free(copy);
    free(cuts);
    free(codes_result);
    codes_result = malloc(whole.len + 1);
    assert_non_null(codes_result);
    memcpy(codes_result, whole.text, whole.len + 1);
    return codes_result;
}

const char *ms_check_codes_str(const struct ms_kind *k, uint32_t lenient, const char *in)
{
    struct ms_limits lim;
    ms_limits_default(&lim);
    lim.lenient = lenient;
    return ms_check_codes(k, &lim, in, strlen(in));
}

const char *ms_check_session(const struct ms_proto *p, const struct ms_limits *lim,
                             const char *transcript)
{
    size_t cap = 1u << 20, len = strlen(transcript), pos = 0;
    char *cbuf = malloc(cap), *sbuf = malloc(cap), *scratch = malloc(len + 3);
    void *cst = calloc(1, p->commands->state_size + 1);
    void *cv = calloc(1, p->commands->view_size + 1);
    void *sst = calloc(1, p->replies->state_size + 1);
    void *sv = calloc(1, p->replies->view_size + 1);
    struct ms_run r = {0};
    struct ms_session ss;
    struct ms_titem item = {0};
    struct ms_error err;
    int rc;

    r.with_offsets = 1;
    ms_session_init(&ss, p, lim, cst, cv, cbuf, cap, sst, sv, sbuf, cap, ms_run_session_emit, &r);
    while ((rc = ms_transcript_next(transcript, len, &pos, &item, scratch, len + 3, &err)) > 0)
        if (item.type != MS_T_DIRECTIVE)
            ms_session_feed(&ss, item.type == MS_T_SERVER, item.line, item.data, item.len);
    if (rc < 0)
        fail_msg("transcript line %zu: %s", item.line, err.reason);
    ms_session_end(&ss);
    if (!r.text) {
        r.text = malloc(1);
        assert_non_null(r.text);
        r.text[0] = '\0';
    }
    free(cbuf);
    free(sbuf);
    free(scratch);
    free(cst);
    free(cv);
    free(sst);
    free(sv);
    free(result);
    result = r.text;
    r.text = NULL;
    ms_run_free(&r);
    return result;
}

static void emit_session_code(void *ctx, int is_server, size_t line, const struct ms_kind *k,
                              const void *view, const struct ms_error *err, uint64_t offset,
                              uint64_t length)
{
    struct codes *cs = ctx;
    (void)line;
    (void)k;
    (void)offset;
    (void)length;
    if (view)
        return;
    if (err->code == MS_ERR_NONE)
        cs->none = 1;
    int n = snprintf(cs->text + cs->len, sizeof(cs->text) - cs->len, "%s%s%s", cs->len ? " " : "",
                     is_server ? "S:" : "C:", ms_error_code_name(err->code));
    assert_true(n > 0 && (size_t)n < sizeof(cs->text) - cs->len);
    cs->len += (size_t)n;
}

const char *ms_check_session_codes(const struct ms_proto *p, const struct ms_limits *lim,
                                   const char *transcript)
{
    size_t cap = 1u << 20, len = strlen(transcript), pos = 0;
    char *cbuf = malloc(cap), *sbuf = malloc(cap), *scratch = malloc(len + 3);
    void *cst = calloc(1, p->commands->state_size + 1);
    void *cv = calloc(1, p->commands->view_size + 1);
    void *sst = calloc(1, p->replies->state_size + 1);
    void *sv = calloc(1, p->replies->view_size + 1);
    struct codes cs;
    struct ms_session ss;
    struct ms_titem item = {0};
    struct ms_error err;
    int rc;

    assert_true(cbuf && sbuf && scratch && cst && cv && sst && sv);
    memset(&cs, 0, sizeof(cs));
    ms_session_init(&ss, p, lim, cst, cv, cbuf, cap, sst, sv, sbuf, cap, emit_session_code, &cs);
    while ((rc = ms_transcript_next(transcript, len, &pos, &item, scratch, len + 3, &err)) > 0)
        if (item.type != MS_T_DIRECTIVE)
            ms_session_feed(&ss, item.type == MS_T_SERVER, item.line, item.data, item.len);
    if (rc < 0)
        fail_msg("transcript line %zu: %s", item.line, err.reason);
    ms_session_end(&ss);
    if (cs.none)
        fail_msg("an error without a code (MS_ERR_NONE): %s", cs.text);
    free(cbuf);
    free(sbuf);
    free(scratch);
    free(cst);
    free(cv);
    free(sst);
    free(sv);
    free(codes_result);
    codes_result = malloc(cs.len + 1);
    assert_non_null(codes_result);
    memcpy(codes_result, cs.text, cs.len + 1);
    return codes_result;
}
