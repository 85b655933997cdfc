/*
 * The protocol-independent stream driver.
 *
 * Every protocol direction is described by a struct ms_kind: a parse
 * function over contiguous bytes plus a JSON renderer and a writer. The
 * driver feeds it bytes in arbitrary chunks, buffers only the incomplete
 * message (in a buffer the caller provides), and reports each complete
 * message or error with its absolute stream offset. The CLI, the unit tests
 * (split at every byte), the fuzzers and the runner all use this one driver,
 * so chunking can never change what is reported.
 */
#ifndef MAILSPEC_STREAM_H
#define MAILSPEC_STREAM_H

#include "common.h"

struct ms_kind {
    const char *proto; /* "smtp", "pop3", "imap" */
    const char *name;  /* "commands" or "replies" */
    size_t state_size; /* per-stream state, zeroed then init()ed */
    size_t view_size;  /* one message view */
    void (*init)(void *state, const struct ms_limits *lim);
    /*
     * Parse from buf[0..len). Returns:
     *  > 0  bytes consumed; *done = 1 when view holds a complete message,
     *       *done = 0 when the bytes were a piece of a streamed message
     *       (SMTP DATA content, BDAT chunks) absorbed into state;
     *  MS_PARTIAL  buf holds no complete message (or piece) yet;
     *  MS_FAIL     err filled in; offsets relative to buf.
     * It must give the same result for the same message whatever follows it
     * in buf, and must not read beyond buf[len - 1].
     */
    ssize_t (*parse)(void *state, const struct ms_limits *lim, const char *buf, size_t len,
                     void *view, int *done, struct ms_error *err);
    /* The view's fields as JSON members, each preceded by a comma. */
    void (*json)(const void *view, struct ms_out *out);
    /*
     * Canonical bytes for a view. Returns the length written, or MS_FAIL when
     * cap is too small or the view cannot be written (e.g. streamed content).
     */
    ssize_t (*write)(const void *view, char *out, size_t cap);
};

/* A protocol: its two directions and what each tells the other in a session. */
struct ms_proto {
    const char *name;
    const struct ms_kind *commands;
    const struct ms_kind *replies;
    /* A complete command was sent: tell the reply side (may be NULL). */
    void (*command_seen)(void *reply_state, const void *command_view);
    /* A complete reply arrived: tell the command side (may be NULL). */
    void (*reply_seen)(void *command_state, const void *reply_view);
};

/* The registered protocols; NULL when unknown. */
const struct ms_proto *ms_proto_find(const char *name);
const struct ms_proto *const *ms_protos(void);

/*
 * Called for each message (view != NULL, err == NULL) or error (view == NULL,
 * err != NULL with an absolute offset). offset/length: the message's bytes in
 * the stream (for an error, where the bad message started and how many bytes
 * were skipped). For a streamed message, the view is the final one.
 */
typedef void (*ms_emit_fn)(void *ctx, const struct ms_kind *k, const void *view,
                           const struct ms_error *err, uint64_t offset, uint64_t length);

struct ms_stream {
    const struct ms_kind *kind;
    const struct ms_limits *lim;
    void *state;
    void *view;
    char *buf; /* bytes of the incomplete message */
    size_t cap;
    size_t len;
    uint64_t offset;    /* stream offset of the next unparsed byte (buf[0]) */
    uint64_t msg_start; /* where the current streamed message began */
    int in_msg;         /* a streamed message has pieces consumed */
    int discarding;     /* after an error: dropping bytes through the next LF */
    uint64_t messages, errors;
    ms_emit_fn emit;
    void *ctx;
};

/* state and view must hold kind->state_size and kind->view_size bytes. */
void ms_stream_init(struct ms_stream *s, const struct ms_kind *kind, const struct ms_limits *lim,
                    void *state, void *view, char *buf, size_t cap, ms_emit_fn emit, void *ctx);
void ms_stream_feed(struct ms_stream *s, const char *data, size_t n);
/* End of input. Returns 1 (and emits an error) if it ended inside a message. */
int ms_stream_end(struct ms_stream *s);

/* ---- .session transcripts (docs/architecture.md "Contracts") ---- */
enum ms_titem_type {
    MS_T_CLIENT = 'C',    /* C: line, data holds the bytes with CRLF */
    MS_T_SERVER = 'S',    /* S: line */
    MS_T_DIRECTIVE = '@', /* @word rest: data holds the line after '@' */
};

struct ms_titem {
    enum ms_titem_type type;
    size_t line;      /* 1-based line number in the file */
    const char *data; /* unescaped bytes (in the caller's scratch buffer) */
    size_t len;
};

/* Value of a hex digit, or -1. */
int ms_hexval(unsigned char ch);

/*
 * Decode the .session escape at p[0..n) (p[0] is the backslash): \\ \r \n
 * \t \xHH. Returns the bytes it spans (2 or 4) with the byte in *out, or 0
 * with the reason in *why. Shared by the transcript reader, the script parser
 * and the recorder, so every tool reads escapes alike.
 */
size_t ms_unescape_one(const char *p, size_t n, char *out, const char **why);

/*
 * Read the next item of a transcript from text[*pos..len). Comments and blank
 * lines are skipped. Escapes (\\ \r \n \t \xHH) are decoded into scratch
 * (cap bytes), and C:/S: items get CRLF appended.
 * Returns 1 with an item, 0 at the end, MS_FAIL on a malformed line (err:
 * offset in the file, reason; item->line set).
 */
MS_MUST_USE int ms_transcript_next(const char *text, size_t len, size_t *pos, struct ms_titem *item,
                                   char *scratch, size_t cap, struct ms_error *err);

/*
 * A session: two streams, client->server and server->client, fed from a
 * transcript in order, telling each other what they saw (ms_proto hooks).
 * emit receives each message/error; is_server says which direction.
 */
typedef void (*ms_session_emit_fn)(void *ctx, int is_server, size_t line, const struct ms_kind *k,
                                   const void *view, const struct ms_error *err, uint64_t offset,
                                   uint64_t length);

struct ms_session {
    const struct ms_proto *proto;
    struct ms_stream c, s;
    size_t line;
    ms_session_emit_fn emit;
    void *ctx;
};

/* Memory for both directions is the caller's (sizes from the kinds). */
void ms_session_init(struct ms_session *ss, const struct ms_proto *p, const struct ms_limits *lim,
                     void *cstate, void *cview, char *cbuf, size_t ccap, void *sstate, void *sview,
                     char *sbuf, size_t scap, ms_session_emit_fn emit, void *ctx);
void ms_session_feed(struct ms_session *ss, int is_server, size_t line, const char *data, size_t n);
/* Returns 1 if either direction ended inside a message. */
int ms_session_end(struct ms_session *ss);

#endif
