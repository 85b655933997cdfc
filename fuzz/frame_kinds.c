/* The IMAP framer as stream kinds (see frame_kinds.h). */
#include <string.h>

#include "frame_kinds.h"

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
static ssize_t frame_parse_r(enum ms_imap_side side, void *state, const struct ms_limits *lim,
                             const char *buf, size_t len, void *view, int *done,
                             struct ms_error *err)
{
    struct frame_view *v = view;
    ssize_t n = ms_imap_frame_resume(lim, side, buf, len, state, err);
    if (n > 0) {
        v->msg.ptr = buf;
        v->msg.len = (size_t)n;
        *done = 1;
    }
    return n;
}

static ssize_t server_parse_r(void *state, const struct ms_limits *lim, const char *buf, size_t len,
                              void *view, int *done, struct ms_error *err)
{
    return frame_parse_r(MS_IMAP_SERVER, state, lim, buf, len, view, done, err);
}

static ssize_t client_parse_r(void *state, const struct ms_limits *lim, const char *buf, size_t len,
                              void *view, int *done, struct ms_error *err)
{
    return frame_parse_r(MS_IMAP_CLIENT, state, lim, buf, len, view, done, err);
}

static void frame_json(const void *view, struct ms_out *o)
{
    const struct frame_view *v = view;
    ms_out_json_key(o, "msg");
    ms_out_json_slice(o, v->msg);
}

static ssize_t frame_write(const void *view, char *out, size_t cap)
{
    const struct frame_view *v = view;
    if (cap < v->msg.len)
        return MS_FAIL;
    memcpy(out, v->msg.ptr, v->msg.len);
    return (ssize_t)v->msg.len;
}

const struct ms_kind ms_imap_server_frames = {
    "imap", "server-frames", 1,          sizeof(struct frame_view),
    NULL,   server_parse,    frame_json, frame_write,
};
const struct ms_kind ms_imap_server_frames_r = {
    "imap",
    "server-frames",
    sizeof(struct ms_imap_frame_state),
    sizeof(struct frame_view),
    NULL,
    server_parse_r,
    frame_json,
    frame_write,
};
const struct ms_kind ms_imap_client_frames_r = {
    "imap",
    "client-frames",
    sizeof(struct ms_imap_frame_state),
    sizeof(struct frame_view),
    NULL,
    client_parse_r,
    frame_json,
    frame_write,
};
const struct ms_kind ms_imap_client_frames = {
    "imap", "client-frames", 1,          sizeof(struct frame_view),
    NULL,   client_parse,    frame_json, frame_write,
};
