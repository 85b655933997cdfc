/*
 * libFuzzer target: the IMAP framer (ms_imap_frame), both sides.
 *
 * Properties, with abort() on violation:
 *  - stream level: framing through the stream driver gives the same frames
 *    and errors in every chunking (ms_fuzz_kind over a "frames" kind), for
 *    the stateless ms_imap_frame and the resumable ms_imap_frame_resume;
 *  - prefix level: for the first message of the input, every prefix of it is
 *    either MS_PARTIAL or the very same result (same length, or same error
 *    offset and reason); a complete message is never reported before all of
 *    its bytes are there. Prefixes are exact-size heap copies, so ASan catches
 *    any read past the given length.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct frame_view {
    struct ms_slice msg;
};

static ssize_t frame_parse(enum ms_imap_side side, const struct ms_limits *lim, const char *buf,
                           size_t len, void *view, int *done, struct ms_error *err)
{
    struct frame_view *v = view;
    ssize_t n = ms_imap_frame(lim, side, buf, len, err);
    if (n > 0) {
        v->msg.ptr = buf;
        v->msg.len = (size_t)n;
        *done = 1;
    }
    return n;
}

static ssize_t server_parse(void *state, const struct ms_limits *lim, const char *buf, size_t len,
                            void *view, int *done, struct ms_error *err)
{
    (void)state;
    return frame_parse(MS_IMAP_SERVER, lim, buf, len, view, done, err);
}

static ssize_t client_parse(void *state, const struct ms_limits *lim, const char *buf, size_t len,
                            void *view, int *done, struct ms_error *err)
{
    (void)state;
    return frame_parse(MS_IMAP_CLIENT, lim, buf, len, view, done, err);
}

/* The resumable framer, as the stream kinds use it: state carries the scan. */
static ssize_t server_parse_r(void *state, const struct ms_limits *lim, const char *buf, size_t len,
                              void *view, int *done, struct ms_error *err)
{
    struct frame_view *v = view;
    ssize_t n = ms_imap_frame_resume(lim, MS_IMAP_SERVER, buf, len, state, err);
    if (n > 0) {
        v->msg.ptr = buf;
        v->msg.len = (size_t)n;
        *done = 1;
    }
    return n;
}

static ssize_t client_parse_r(void *state, const struct ms_limits *lim, const char *buf, size_t len,
                              void *view, int *done, struct ms_error *err)
{
    struct frame_view *v = view;
    ssize_t n = ms_imap_frame_resume(lim, MS_IMAP_CLIENT, buf, len, state, err);
    if (n > 0) {
        v->msg.ptr = buf;
        v->msg.len = (size_t)n;
        *done = 1;
    }
    return n;
}

static void frame_json(const void *view, struct ms_out *o)
{
    const struct frame_view *v = view;
    ms_out_json_key(o, "len");
    ms_out_u64(o, v->msg.len);
}

static ssize_t frame_write(const void *view, char *out, size_t cap)
{
    const struct frame_view *v = view;
    if (cap < v->msg.len)
        return MS_FAIL;
    memcpy(out, v->msg.ptr, v->msg.len);
    return (ssize_t)v->msg.len;
}

static const struct ms_kind server_frames = {
    "imap", "server-frames", 1,          sizeof(struct frame_view),
    NULL,   server_parse,    frame_json, frame_write,
};
static const struct ms_kind server_frames_r = {
    "imap",
    "server-frames",
    sizeof(struct ms_imap_frame_state),
    sizeof(struct frame_view),
    NULL,
    server_parse_r,
    frame_json,
    frame_write,
};
static const struct ms_kind client_frames_r = {
    "imap",
    "client-frames",
    sizeof(struct ms_imap_frame_state),
    sizeof(struct frame_view),
    NULL,
    client_parse_r,
    frame_json,
    frame_write,
};
static const struct ms_kind client_frames = {
    "imap", "client-frames", 1,          sizeof(struct frame_view),
    NULL,   client_parse,    frame_json, frame_write,
};

static ssize_t frame_copy(const struct ms_limits *lim, enum ms_imap_side side, const uint8_t *d,
                          size_t n, struct ms_error *err)
{
    char *copy = malloc(n ? n : 1);
    if (!copy)
        abort();
    memcpy(copy, d, n);
    ssize_t r = ms_imap_frame(lim, side, copy, n, err);
    free(copy);
    return r;
}

static void check_prefixes(const struct ms_limits *lim, enum ms_imap_side side, const uint8_t *data,
                           size_t size)
{
    struct ms_error whole = {0, NULL, NULL, 0};
    ssize_t r = frame_copy(lim, side, data, size, &whole);
    size_t step = size > 256 ? size / 64 + 1 : 1;

    for (size_t k = 0; k < size; k += step) {
        struct ms_error e = {0, NULL, NULL, 0};
        ssize_t p = frame_copy(lim, side, data, k, &e);
        if (p == MS_PARTIAL)
            continue;
        if (p != r)
            abort(); /* a prefix decided differently from the whole */
        if (p > 0 && (size_t)p > k)
            abort(); /* a message longer than the bytes given */
        if (p == MS_FAIL && (e.offset != whole.offset || e.reason != whole.reason))
            abort();
    }
    /* exactly the message's bytes: the same length */
    if (r > 0) {
        struct ms_error e = {0, NULL, NULL, 0};
        if (frame_copy(lim, side, data, (size_t)r, &e) != r)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ms_limits lim;

    ms_limits_default(&lim);
    /* Small limits so the fuzzer reaches them (as ms_fuzz_kind does). */
    lim.imap_literal = 4096;
    lim.imap_message = 65536;
    lim.imap_line = 8192;
    check_prefixes(&lim, MS_IMAP_SERVER, data, size);
    check_prefixes(&lim, MS_IMAP_CLIENT, data, size);
    ms_fuzz_kind(&server_frames, data, size);
    ms_fuzz_kind(&client_frames, data, size);
    ms_fuzz_kind(&server_frames_r, data, size);
    ms_fuzz_kind(&client_frames_r, data, size);
    return 0;
}
