/*
 * The recorder (`mailspec record`, docs/record.md): a proxy between a real
 * client and a real server that writes each connection as a .session file.
 *
 * Three layers, each in its own file:
 *  - record_sanitize.c  no I/O: feeds both directions to the library's
 *    session driver (the strict framers and parsers) and renders each line
 *    as .session text from the driver's framing and typed views, replacing
 *    credentials with ${user}/${password}/${sasl_*} and volatile values
 *    with ${*}. Unit-tested.
 *  - record_writer.c    pure: splits each direction's bytes into lines,
 *    renders them through the sanitizer and hands finished .session lines to
 *    a sink (the proxy's sink writes and flushes them to the file).
 *  - record.c           the proxy: sockets, TLS on both sides, the file.
 */
#ifndef MAILSPEC_RECORD_H
#define MAILSPEC_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "mailspec/common.h"
#include "transport.h"

enum ms_rec_proto {
    MS_REC_SMTP = 1,
    MS_REC_POP3 = 2,
    MS_REC_IMAP = 3,
};

/* Parse "smtp", "pop3", "imap"; 0 when unknown. */
enum ms_rec_proto ms_rec_proto_parse(const char *name);
const char *ms_rec_proto_name(enum ms_rec_proto p);

/*
 * Receives one rendered line, in the order the lines were given: the text
 * after "C: "/"S: " (is_server says which), and whether the line ended with
 * CRLF (0: write "@nocrlf" before it).
 */
typedef void (*ms_rec_line_fn)(void *ctx, int is_server, const char *text, size_t n, int crlf);

struct ms_rec_drv; /* record_sanitize.c: the session driver and the held-back lines */

/*
 * Per-connection sanitizer. Both directions are fed, in the order they
 * flowed, to the library's session driver (mailspec/stream.h); what a line
 * is (a command, a SASL response, DATA or BDAT content, literal bytes, a
 * POP3 body line, a greeting, a STARTTLS go-ahead ...) and where its
 * credentials are come from the driver's framing and typed views. A line
 * is rendered once every byte of it has been classified, i.e. once the
 * message it belongs to is complete (or rejected); lines of both directions
 * are handed out in their original order, so a line can be held back until
 * an earlier one is done (an IMAP command with literals, a multi-line SMTP
 * reply).
 */
struct ms_rec_san {
    enum ms_rec_proto proto;
    int raw;    /* --raw: lines are escaped only (the driver still follows STARTTLS) */
    int tls_go; /* after a server line: the server said go ahead, TLS starts now */
    struct ms_rec_drv *d;
};

/*
 * The largest message the sanitizer's driver holds (32 MiB; docs/record.md
 * "Limits"); a bigger one is rejected and rendered conservatively. The fuzz
 * target lowers it to keep each run fast.
 */
extern size_t ms_rec_message_max;

/* Returns 0, or -1 when out of memory. out may be NULL (lines are dropped). */
int ms_rec_san_init(struct ms_rec_san *st, enum ms_rec_proto proto, int raw, ms_rec_line_fn out,
                    void *ctx);
void ms_rec_san_free(struct ms_rec_san *st);

/*
 * One line of one direction: line[0..n) without its terminator; crlf says
 * whether it ended with CRLF (0: the bytes stopped there, e.g. a segment
 * end; a bare LF the caller left in the text stays in it). Ready lines go
 * to out. After a server line, st->tls_go says that TLS starts right after
 * it.
 */
void ms_rec_sanitize(struct ms_rec_san *st, int is_server, const char *line, size_t n, int crlf);

/*
 * Hand out every held-back line now (TLS upgrade, a directive, the end):
 * bytes the driver has not classified yet are rendered conservatively
 * (docs/record.md "How redaction decides").
 */
void ms_rec_san_flush(struct ms_rec_san *st);

/*
 * Whether p[0..n) is one of the secrets the sanitizer has learned from the
 * dialogue (a password, a SASL blob): it masks every later occurrence of
 * those in every line it renders (docs/record.md). For tests and the fuzzer.
 */
int ms_rec_san_secret_known(const struct ms_rec_san *st, const char *p, size_t n);

/* ---- the line splitter and .session writer ---- */

/* Receives one finished .session line (without the final "\n"). */
typedef int (*ms_rec_sink_fn)(void *ctx, const char *line, size_t n);

#define MS_REC_PARTIAL_MAX 65536 /* longest line held back waiting for its CRLF */

struct ms_rec_writer {
    struct ms_rec_san san;
    ms_rec_sink_fn sink;
    void *ctx;
    int last_dir; /* -1 none yet, 0 client, 1 server */
    char pend[2][MS_REC_PARTIAL_MAX];
    size_t pend_len[2];
    char *render; /* scratch for one rendered line */
    size_t render_cap;
    int error;  /* the sink failed */
    int tls_go; /* a server line said "start TLS now"; the caller clears it */
};

/* Returns 0, or -1 when out of memory. */
int ms_rec_writer_init(struct ms_rec_writer *w, enum ms_rec_proto proto, int raw,
                       ms_rec_sink_fn sink, void *ctx);
void ms_rec_writer_free(struct ms_rec_writer *w);
/*
 * Bytes from one direction (0 client -> server, 1 server -> client).
 * Returns how many were taken: all n, except after a server line that said
 * "start TLS now" (w->tls_go): the bytes after that line are not taken (the
 * caller reports them as injected plaintext, docs/record.md).
 */
size_t ms_rec_writer_data(struct ms_rec_writer *w, int is_server, const char *b, size_t n);
/* Write out every held-back partial line (segment ends, TLS upgrade, close). */
void ms_rec_writer_flush(struct ms_rec_writer *w);
/* A directive or comment line, after flushing partial lines. */
void ms_rec_writer_line(struct ms_rec_writer *w, const char *text);

/* ---- the proxy (record.c) ---- */

/* Sessions recorded at once (--concurrency): the default and the bound. */
#define MS_REC_CONCURRENCY_DEFAULT 32
#define MS_REC_CONCURRENCY_MAX     256
/* --max-size default: bytes a .session file may take (64 MiB). */
#define MS_REC_MAX_SIZE_DEFAULT ((uint64_t)64 << 20)

struct ms_rec_options {
    const char *listen_host;
    unsigned listen_port;
    const char *connect_host; /* also the name verified in the server's certificate */
    unsigned connect_port;
    enum ms_rec_proto proto;
    enum ms_tls_mode tls;
    const char *out; /* a file, or a directory (one file per connection) */
    int out_is_dir;
    const char *cert, *key; /* our certificate toward the client */
    const char *cafile;     /* trust for the server's certificate */
    int insecure;           /* do not verify the server's certificate */
    int raw;                /* no rewriting */
    unsigned max_sessions;  /* 0: until SIGINT/SIGTERM */
    unsigned timeout;       /* seconds without traffic before a session ends */
    unsigned concurrency;   /* sessions at once */
    uint64_t max_size;      /* bytes a .session file may take; then recording stops */
    int quiet;
};

/*
 * Listen, proxy and record until max_sessions connections have been recorded
 * or SIGINT/SIGTERM. Returns MS_EXIT_OK, or MS_EXIT_USAGE when listening
 * failed or any session could not reach the server (messages on stderr).
 */
int ms_record_run(const struct ms_rec_options *o);

#endif
