/*
 * The recorder (`mailspec record`, docs/record.md): a proxy between a real
 * client and a real server that writes each connection as a .session file.
 *
 * Three layers, each in its own file:
 *  - record_sanitize.c  pure: follows the dialogue line by line (IMAP
 *    literals, SMTP DATA/BDAT, SASL exchanges, STARTTLS/STLS) and renders each
 *    line as .session text, replacing credentials with ${user}/${password}
 *    and volatile values with ${*}. No I/O; unit-tested.
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

/* SASL mechanisms the sanitizer knows how to rewrite. */
enum ms_rec_sasl {
    MS_SASL_NONE = 0,
    MS_SASL_PLAIN,
    MS_SASL_LOGIN,
    MS_SASL_OTHER, /* CRAM-MD5, SCRAM, ...: client data is redacted, not replayable */
};

/*
 * Per-connection dialogue state. Zero it, then set proto (and raw: no
 * rewriting at all, bytes are only escaped).
 */
struct ms_rec_san {
    enum ms_rec_proto proto;
    int raw;
    /* set by the sanitizer */
    int greeted;           /* the server greeting has been rendered */
    enum ms_rec_sasl sasl; /* a SASL exchange is running */
    unsigned sasl_step;    /* client data lines seen in it */
    int starttls_sent;     /* IMAP: client asked for STARTTLS, no answer yet */
    int tls_go;            /* server said go ahead: the caller upgrades now */
    int smtp_in_data;      /* SMTP: client lines are message content */
    int smtp_ehlo_seen;    /* SMTP: the first line of the EHLO reply was rendered */
    uint64_t bdat_left;    /* SMTP: BDAT bytes still to come from the client */
    uint64_t lit_left[2];  /* IMAP: literal bytes still to come, [0] client [1] server */
    int lit_cred;          /* IMAP client: the pending literal is user (1) / pass (2) */
    int pop3_in_multi;     /* POP3: server lines are multi-line content */
    int pop3_uidl;         /* POP3: the multi-line response is UIDL */
    char tag[64];          /* IMAP: tag of the running AUTHENTICATE/STARTTLS */
    size_t tag_len;
    /* SMTP/POP3: kinds of the commands sent and not answered yet (PIPELINING) */
    uint8_t q[64];
    uint8_t qh, qn;
};

void ms_rec_san_init(struct ms_rec_san *st, enum ms_rec_proto proto, int raw);

/*
 * Render one line of one direction as the text after "C: "/"S: ".
 * line[0..n) excludes the terminator; crlf says whether the line ended with
 * CRLF (0: the bytes stopped there, e.g. a segment end or a bare LF that the
 * caller left in the text). Updates the dialogue state. After a server line,
 * st->tls_go tells the caller that TLS starts right after it.
 */
void ms_rec_sanitize(struct ms_rec_san *st, int is_server, const char *line, size_t n, int crlf,
                     struct ms_out *out);

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
/* Bytes from one direction (0 client -> server, 1 server -> client). */
void ms_rec_writer_data(struct ms_rec_writer *w, int is_server, const char *b, size_t n);
/* Write out every held-back partial line (segment ends, TLS upgrade, close). */
void ms_rec_writer_flush(struct ms_rec_writer *w);
/* A directive or comment line, after flushing partial lines. */
void ms_rec_writer_line(struct ms_rec_writer *w, const char *text);

/* ---- the proxy (record.c) ---- */

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
    int quiet;
};

/*
 * Listen, proxy and record until max_sessions connections have been recorded
 * or SIGINT/SIGTERM. Returns MS_EXIT_OK, or MS_EXIT_USAGE when listening
 * failed or any session could not reach the server (messages on stderr).
 */
int ms_record_run(const struct ms_rec_options *o);

#endif
