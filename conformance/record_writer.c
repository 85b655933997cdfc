/*
 * The recorder's .session writer: turns the two byte streams of a proxied
 * connection into C:/S: lines, in the order the bytes flowed.
 *
 * A line is everything up to and including CRLF (a bare LF or CR stays in the
 * line as \n or \r, so the bytes are kept exactly). Bytes without their CRLF
 * yet are held back until the CRLF comes; if the other direction speaks
 * first, the connection ends, TLS starts, or the line grows past
 * MS_REC_PARTIAL_MAX, they are written as they are, preceded by "@nocrlf"
 * (the next line is sent/expected without the CRLF the reader adds).
 * Holding back joins lines that TCP split into several segments, which is
 * what a reader of the file wants; the byte stream stays identical.
 *
 * The sanitizer may hold finished lines back too, until the message they
 * belong to is complete (record_sanitize.c); it hands them out in order.
 */
#include <stdlib.h>
#include <string.h>

#include "record.h"

static void sink(struct ms_rec_writer *w, const char *p, size_t n)
{
    if (!w->error && w->sink(w->ctx, p, n) != 0)
        w->error = 1;
}

/* A line the sanitizer has rendered: "C: "/"S: " and the text. */
static void san_out(void *ctx, int is_server, const char *text, size_t n, int crlf)
{
    struct ms_rec_writer *w = ctx;
    struct ms_out o;

    ms_out_init(&o, w->render, w->render_cap);
    ms_out_str(&o, is_server ? "S: " : "C: ");
    ms_out_bytes(&o, text, n);
    if (o.overflow) {
        /* never write a cut line */
        ms_out_init(&o, w->render, w->render_cap);
        ms_out_str(&o, "# mailspec record: a line did not fit the render buffer");
    } else if (o.len == 3) {
        o.len = 2; /* "C:" alone is an empty line */
    }
    if (!crlf)
        sink(w, "@nocrlf", 7);
    sink(w, o.buf, o.len);
}

int ms_rec_writer_init(struct ms_rec_writer *w, enum ms_rec_proto proto, int raw,
                       ms_rec_sink_fn sink_fn, void *ctx)
{
    memset(w, 0, sizeof(*w));
    w->sink = sink_fn;
    w->ctx = ctx;
    w->last_dir = -1;
    /* worst case: every byte becomes a 16-byte variable, plus the prefix */
    w->render_cap = 16 * MS_REC_PARTIAL_MAX + 1024;
    w->render = malloc(w->render_cap);
    if (!w->render)
        return -1;
    if (ms_rec_san_init(&w->san, proto, raw, san_out, w) != 0) {
        free(w->render);
        w->render = NULL;
        return -1;
    }
    return 0;
}

void ms_rec_writer_free(struct ms_rec_writer *w)
{
    ms_rec_san_free(&w->san);
    free(w->render);
    w->render = NULL;
}

/* Line line[0..n) of direction d (crlf: it ended with CRLF, not included). */
static void emit(struct ms_rec_writer *w, int d, const char *line, size_t n, int crlf)
{
    ms_rec_sanitize(&w->san, d, line, n, crlf);
    if (d == 1 && w->san.tls_go)
        w->tls_go = 1;
}

static void flush_dir(struct ms_rec_writer *w, int d)
{
    if (w->pend_len[d]) {
        emit(w, d, w->pend[d], w->pend_len[d], 0);
        w->pend_len[d] = 0;
    }
}

size_t ms_rec_writer_data(struct ms_rec_writer *w, int is_server, const char *b, size_t n)
{
    int d = is_server ? 1 : 0;

    if (w->last_dir >= 0 && w->last_dir != d)
        flush_dir(w, !d);
    w->last_dir = d;
    for (size_t i = 0; i < n;) {
        const char *lf = memchr(b + i, '\n', n - i);
        size_t take = lf ? (size_t)(lf - (b + i)) + 1 : n - i;
        size_t room = MS_REC_PARTIAL_MAX - w->pend_len[d];
        if (take > room)
            take = room;
        memcpy(w->pend[d] + w->pend_len[d], b + i, take);
        w->pend_len[d] += take;
        i += take;
        size_t len = w->pend_len[d];
        if (len >= 2 && w->pend[d][len - 1] == '\n' && w->pend[d][len - 2] == '\r') {
            emit(w, d, w->pend[d], len - 2, 1);
            w->pend_len[d] = 0;
            if (w->tls_go)
                return i; /* what follows the go-ahead is not part of the plaintext dialogue */
        } else if (len == MS_REC_PARTIAL_MAX) {
            /* a CR at the end may be the first half of CRLF: keep it */
            if (w->pend[d][len - 1] == '\r') {
                emit(w, d, w->pend[d], len - 1, 0);
                w->pend[d][0] = '\r';
                w->pend_len[d] = 1;
            } else {
                flush_dir(w, d);
            }
        }
    }
    return n;
}

void ms_rec_writer_flush(struct ms_rec_writer *w)
{
    flush_dir(w, 0);
    flush_dir(w, 1);
    ms_rec_san_flush(&w->san);
}

void ms_rec_writer_line(struct ms_rec_writer *w, const char *text)
{
    ms_rec_writer_flush(w);
    sink(w, text, strlen(text));
}
