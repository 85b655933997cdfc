/*
 * The stream driver: arbitrary chunks in, complete messages and errors out,
 * with the same results and offsets whatever the chunking.
 *
 * Complete messages are parsed in place in the caller's chunk (zero copy);
 * only the incomplete tail of a chunk is copied into the stream's buffer.
 */
#include <string.h>

#include "mailspec/stream.h"

/* Smallest piece of a new chunk appended to a buffered partial message. */
#define STREAM_MIN_TAKE 4096

void ms_stream_init(struct ms_stream *s, const struct ms_kind *kind, const struct ms_limits *lim,
                    void *state, void *view, char *buf, size_t cap, ms_emit_fn emit, void *ctx)
{
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->lim = lim;
    s->state = state;
    s->view = view;
    s->buf = buf;
    s->cap = cap;
    s->emit = emit;
    s->ctx = ctx;
    memset(state, 0, kind->state_size);
    if (kind->init)
        kind->init(state, lim);
}

/* Forget the bytes of a failed message; skip==0: drop through the next LF. */
static void report_error(struct ms_stream *s, struct ms_error *err)
{
    uint64_t start = s->in_msg ? s->msg_start : s->offset;
    struct ms_error abs = *err;

    abs.offset = (size_t)(s->offset + err->offset);
    s->errors++;
    s->in_msg = 0;
    if (s->emit)
        s->emit(s->ctx, s->kind, NULL, &abs, start, err->skip);
}

/*
 * Run the parser over buf[0..len). Returns bytes consumed (>= 0; 0 means
 * partial). On an error, the bytes of the bad message that are known are
 * consumed; unknown ones are left to discard mode.
 */
static size_t step(struct ms_stream *s, const char *buf, size_t len, int *partial)
{
    struct ms_error err = {0};
    int done = 0;
    ssize_t r = s->kind->parse(s->state, s->lim, buf, len, s->view, &done, &err);

    *partial = 0;
    if (r > 0) {
        size_t n = (size_t)r;
        if (!s->in_msg) {
            s->msg_start = s->offset;
            s->in_msg = 1;
        }
        if (done) {
            s->messages++;
            s->in_msg = 0;
            if (s->emit)
                s->emit(s->ctx, s->kind, s->view, NULL, s->msg_start, s->offset + n - s->msg_start);
        }
        return n;
    }
    if (r == MS_PARTIAL) {
        *partial = 1;
        return 0;
    }
    if (err.skip > len)
        err.skip = len;
    if (err.offset > len)
        err.offset = len;
    report_error(s, &err);
    if (err.skip == 0) {
        /* Drop through the first LF at or after the error. */
        const char *lf = memchr(buf + err.offset, '\n', len - err.offset);
        if (lf)
            return (size_t)(lf - buf) + 1;
        s->discarding = 1;
        return len;
    }
    return err.skip;
}

void ms_stream_feed(struct ms_stream *s, const char *data, size_t n)
{
    while (n > 0) {
        if (s->discarding) {
            const char *lf = memchr(data, '\n', n);
            size_t k = lf ? (size_t)(lf - data) + 1 : n;
            s->offset += k;
            data += k;
            n -= k;
            if (lf)
                s->discarding = 0;
            continue;
        }
        int partial;
        if (s->len == 0) {
            size_t k = step(s, data, n, &partial);
            if (!partial) {
                s->offset += k;
                data += k;
                n -= k;
                continue;
            }
            if (n > s->cap) {
                /* A message larger than the caller's buffer. */
                struct ms_error err;
                ms_error_set(&err, s->cap, MS_ERR_LIMIT, "mailspec buffer",
                             "message larger than the stream buffer", 0);
                report_error(s, &err);
                s->discarding = 1;
                continue;
            }
            memcpy(s->buf, data, n);
            s->len = n;
            return;
        }
        /* Complete the buffered message with new data, growing it
         * geometrically (at least STREAM_MIN_TAKE, at most what fits) rather
         * than copying the whole chunk: a message buffered at the end of one
         * chunk usually ends a few bytes into the next, and the rest of that
         * chunk is parsed in place. Parsers give the same results however the
         * input is split, so this changes only how much is copied. */
        size_t old = s->len;
        size_t take = n < s->cap - old ? n : s->cap - old;
        size_t want = old > STREAM_MIN_TAKE ? old : STREAM_MIN_TAKE;
        if (take > want)
            take = want;
        memcpy(s->buf + old, data, take);
        size_t k = step(s, s->buf, old + take, &partial);
        if (partial) {
            s->len = old + take;
            data += take;
            n -= take;
            if (s->len == s->cap) {
                struct ms_error err;
                ms_error_set(&err, s->cap, MS_ERR_LIMIT, "mailspec buffer",
                             "message larger than the stream buffer", 0);
                report_error(s, &err);
                s->len = 0;
                s->offset += s->cap;
                s->discarding = 1;
            }
            continue;
        }
        s->offset += k;
        if (k >= old) {
            /* Continue from the caller's chunk, zero copy again. */
            data += k - old;
            n -= k - old;
            s->len = 0;
        } else {
            memmove(s->buf, s->buf + k, old - k);
            s->len = old - k;
        }
    }
}

int ms_stream_end(struct ms_stream *s)
{
    if (s->len == 0 && !s->in_msg)
        return 0;
    struct ms_error err;
    ms_error_set(&err, s->len, MS_ERR_TRUNCATED, "end of input", "input ends inside a message", 0);
    report_error(s, &err);
    s->offset += s->len;
    s->len = 0;
    return 1;
}

/* ---- sessions ---- */

static void session_emit(struct ms_session *ss, int is_server, const struct ms_kind *k,
                         const void *view, const struct ms_error *err, uint64_t offset,
                         uint64_t length)
{
    if (view) {
        if (!is_server && ss->proto->command_seen)
            ss->proto->command_seen(ss->s.state, view);
        if (is_server && ss->proto->reply_seen)
            ss->proto->reply_seen(ss->c.state, view);
    }
    if (ss->emit)
        ss->emit(ss->ctx, is_server, ss->line, k, view, err, offset, length);
}

static void emit_client(void *ctx, const struct ms_kind *k, const void *view,
                        const struct ms_error *err, uint64_t offset, uint64_t length)
{
    session_emit(ctx, 0, k, view, err, offset, length);
}

static void emit_server(void *ctx, const struct ms_kind *k, const void *view,
                        const struct ms_error *err, uint64_t offset, uint64_t length)
{
    session_emit(ctx, 1, k, view, err, offset, length);
}

void ms_session_init(struct ms_session *ss, const struct ms_proto *p, const struct ms_limits *lim,
                     void *cstate, void *cview, char *cbuf, size_t ccap, void *sstate, void *sview,
                     char *sbuf, size_t scap, ms_session_emit_fn emit, void *ctx)
{
    memset(ss, 0, sizeof(*ss));
    ss->proto = p;
    ss->emit = emit;
    ss->ctx = ctx;
    ms_stream_init(&ss->c, p->commands, lim, cstate, cview, cbuf, ccap, emit_client, ss);
    ms_stream_init(&ss->s, p->replies, lim, sstate, sview, sbuf, scap, emit_server, ss);
}

void ms_session_feed(struct ms_session *ss, int is_server, size_t line, const char *data, size_t n)
{
    ss->line = line;
    ms_stream_feed(is_server ? &ss->s : &ss->c, data, n);
}

int ms_session_end(struct ms_session *ss)
{
    int a = ms_stream_end(&ss->c);
    int b = ms_stream_end(&ss->s);
    return a || b;
}
