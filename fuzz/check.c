/* Split-invariance and round-trip checks (see check.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static void grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t nc = *cap ? *cap : 4096;
    while (nc < need)
        nc *= 2;
    char *nb = realloc(*buf, nc);
    if (!nb)
        abort(); /* test code: no way to go on */
    *buf = nb;
    *cap = nc;
}

static void append(struct ms_run *r, const char *p, size_t n)
{
    grow(&r->text, &r->cap, r->len + n + 1);
    memcpy(r->text + r->len, p, n);
    r->len += n;
    r->text[r->len] = '\0';
}

void ms_run_render(struct ms_run *r, const struct ms_kind *k, const void *view,
                   const struct ms_error *err, uint64_t offset, uint64_t length)
{
    static char line[1 << 20];
    static char body[1 << 20];
    struct ms_out o, b;

    ms_out_init(&o, line, sizeof(line));
    if (r->prefix)
        ms_out_str(&o, r->prefix);
    if (view) {
        if (r->with_offsets) {
            ms_out_u64(&o, offset);
            ms_out_str(&o, "+");
            ms_out_u64(&o, length);
            ms_out_str(&o, " ");
        }
        ms_out_init(&b, body, sizeof(body));
        k->json(view, &b);
        /* json() emits ",key:value" members: drop the leading comma. */
        ms_out_str(&o, "{");
        if (b.len > 0 && body[0] == ',')
            ms_out_bytes(&o, body + 1, b.len - 1);
        else
            ms_out_bytes(&o, body, b.len);
        ms_out_str(&o, "}");
        if (b.overflow)
            ms_out_str(&o, " (json overflow)");
        if (r->collect) {
            grow(&r->written, &r->wcap, r->wlen + 65536);
            ssize_t w = k->write ? k->write(view, r->written + r->wlen, r->wcap - r->wlen) : -1;
            if (w < 0)
                r->writable = 0;
            else
                r->wlen += (size_t)w;
        }
    } else {
        ms_out_u64(&o, offset);
        ms_out_str(&o, " ERR ");
        ms_out_u64(&o, err->offset);
        ms_out_str(&o, " ");
        ms_out_str(&o, err->rule ? err->rule : "(null rule)");
        ms_out_str(&o, ": ");
        ms_out_str(&o, err->reason ? err->reason : "(null reason)");
        r->writable = 0;
    }
    ms_out_str(&o, "\n");
    append(r, line, o.len);
}

static void emit(void *ctx, const struct ms_kind *k, const void *view, const struct ms_error *err,
                 uint64_t offset, uint64_t length)
{
    ms_run_render(ctx, k, view, err, offset, length);
}

void ms_run_session_emit(void *ctx, int is_server, size_t line, const struct ms_kind *k,
                         const void *view, const struct ms_error *err, uint64_t offset,
                         uint64_t length)
{
    struct ms_run *r = ctx;
    (void)line;
    r->prefix = is_server ? "S " : "C ";
    ms_run_render(r, k, view, err, offset, length);
}

void ms_run_kind(const struct ms_kind *k, const struct ms_limits *lim, const char *in, size_t len,
                 const size_t *cuts, size_t ncuts, ms_place_fn place, char *sbuf, size_t scap,
                 struct ms_run *out)
{
    /* Reused across runs: views can be hundreds of KiB (IMAP node arenas)
     * and a fresh calloc per run dominated the fuzzers' time. The driver
     * resets the state; a parser must not depend on the view's old contents
     * (it already sees the previous message's view within one run). */
    static void *state, *view;
    static size_t state_cap, view_cap;
    struct ms_stream s;
    size_t prev = 0;

    if (k->state_size + 1 > state_cap) {
        free(state);
        state_cap = k->state_size + 1;
        state = calloc(1, state_cap);
    }
    if (k->view_size + 1 > view_cap) {
        free(view);
        view_cap = k->view_size + 1;
        view = calloc(1, view_cap);
    }
    if (!state || !view)
        abort();
    append(out, "", 0);
    ms_stream_init(&s, k, lim, state, view, sbuf, scap, emit, out);
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        if (end > prev)
            ms_stream_feed(&s, place ? place(in + prev, end - prev) : in + prev, end - prev);
        prev = end;
    }
    ms_stream_end(&s);
    out->messages = (size_t)s.messages;
    out->errors = (size_t)s.errors;
}

void ms_run_free(struct ms_run *r)
{
    free(r->text);
    free(r->written);
    memset(r, 0, sizeof(*r));
}

static char *describe(const char *what, const struct ms_run *a, const struct ms_run *b)
{
    size_t n = strlen(what) + a->len + b->len + 64;
    char *m = malloc(n);
    if (m)
        snprintf(m, n, "%s\n--- expected\n%s--- got\n%s", what, a->text, b->text);
    return m;
}

static char *compare_split(const struct ms_kind *k, const struct ms_limits *lim, const char *in,
                           size_t len, const size_t *cuts, size_t ncuts, ms_place_fn place,
                           char *sbuf, size_t scap, const struct ms_run *whole, const char *what)
{
    struct ms_run r = {0};
    char *msg = NULL;

    r.with_offsets = 1;
    ms_run_kind(k, lim, in, len, cuts, ncuts, place, sbuf, scap, &r);
    if (strcmp(r.text, whole->text) != 0)
        msg = describe(what, whole, &r);
    ms_run_free(&r);
    return msg;
}

char *ms_check_kind(const struct ms_kind *k, const struct ms_limits *lim, const char *in,
                    size_t len, int every_split, ms_place_fn place, char *sbuf, size_t scap,
                    struct ms_run *whole)
{
    char *msg = NULL;
    char what[96];

    memset(whole, 0, sizeof(*whole));
    whole->with_offsets = 1;
    whole->writable = 1;
    whole->collect = 1;
    ms_run_kind(k, lim, in, len, NULL, 0, place, sbuf, scap, whole);

    size_t step = 1;
    if (!every_split && len > 64)
        step = len / 16 + 1;
    for (size_t cut = 1; cut < len && !msg; cut += step) {
        snprintf(what, sizeof(what), "split at %zu differs from the whole run", cut);
        msg = compare_split(k, lim, in, len, &cut, 1, place, sbuf, scap, whole, what);
    }
    /* Byte by byte costs O(n^2) in re-parsing: fuzzers do it on short inputs. */
    if (!msg && len > 1 && (every_split || len <= 256)) {
        size_t *cuts = malloc(len * sizeof(*cuts));
        if (!cuts)
            abort();
        for (size_t i = 1; i < len; i++)
            cuts[i - 1] = i;
        msg = compare_split(k, lim, in, len, cuts, len - 1, place, sbuf, scap, whole,
                            "byte-by-byte run differs from the whole run");
        free(cuts);
    }
    if (!msg && whole->writable && whole->errors == 0 && whole->messages > 0) {
        struct ms_run a = {0}, b = {0};
        ms_run_kind(k, lim, in, len, NULL, 0, place, sbuf, scap, &a);
        ms_run_kind(k, lim, whole->written, whole->wlen, NULL, 0, place, sbuf, scap, &b);
        if (strcmp(a.text, b.text) != 0)
            msg = describe("parse(write(parse(x))) differs from parse(x)", &a, &b);
        ms_run_free(&a);
        ms_run_free(&b);
    }
    return msg;
}

uint32_t ms_fuzz_lenient(uint8_t selector)
{
    static uint32_t bit[8];
    static int ready;

    if (!ready) {
        unsigned i = 0;
        for (; ms_lenient_help[2 * i]; i++)
            if (i < 8)
                bit[i] = ms_lenient_flag(ms_lenient_help[2 * i]);
        if (i > 8)
            abort(); /* a ninth flag no selector bit reaches: give it a second byte */
        ready = 1;
    }
    uint32_t f = 0;
    for (unsigned i = 0; i < 8; i++)
        if (selector & (1u << i))
            f |= bit[i];
    return f;
}

void ms_fuzz_limits(struct ms_limits *lim, uint8_t selector)
{
    ms_limits_default(lim);
    /* Small limits so the fuzzer reaches them with short inputs. */
    lim->imap_literal = 4096;
    lim->imap_message = 65536;
    lim->imap_line = 8192;
    lim->smtp_bdat_chunk = 4096;
    lim->lenient = ms_fuzz_lenient(selector);
}

int ms_fuzz_kind(const struct ms_kind *k, const uint8_t *data, size_t size)
{
    static char *sbuf;
    static size_t scap;
    struct ms_limits lim;
    struct ms_run whole;

    if (size == 0)
        return 0;
    ms_fuzz_limits(&lim, data[0]);
    data++;
    size--;
    if (!sbuf) {
        scap = ms_stream_buffer_size(&lim);
        sbuf = malloc(scap);
        if (!sbuf)
            abort();
    }
    char *msg = ms_check_kind(k, &lim, (const char *)data, size, 0, NULL, sbuf, scap, &whole);
    ms_run_free(&whole);
    if (msg) {
        fprintf(stderr, "property violated (lenient 0x%x): %s\n", (unsigned)lim.lenient, msg);
        free(msg);
        abort();
    }
    return 0;
}
