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

static void emit_session_render(void *ctx, int is_server, size_t line, const struct ms_kind *k,
                                const void *view, const struct ms_error *err, uint64_t offset,
                                uint64_t length)
{
    struct ms_run *r = ctx;
    (void)line;
    r->prefix = is_server ? "S " : "C ";
    ms_run_render(r, k, view, err, offset, length);
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
    ms_session_init(&ss, p, lim, cst, cv, cbuf, cap, sst, sv, sbuf, cap, emit_session_render, &r);
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
