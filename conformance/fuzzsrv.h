/*
 * mailspec fuzz-server (docs/fuzz-server.md): stateful fuzzing of a live
 * server. A case is a list of steps (bytes to send, a TLS handshake, a TLS
 * close_notify); mutations work on cases (fuzzsrv_mut.c, pure functions),
 * the executor runs one case on one connection and judges the replies
 * (fuzzsrv_exec.c), cmd_fuzz_server.c runs the campaign.
 */
#ifndef MAILSPEC_FUZZSRV_H
#define MAILSPEC_FUZZSRV_H

#include <stddef.h>
#include <stdint.h>

#include "cli_common.h"

#include "mailspec/common.h"
#include "mailspec/script.h"
#include "runner.h"

enum fz_op {
    FZ_SEND = 1,      /* write data (one write, or one byte per write with FZ_BYTEWISE) */
    FZ_TLS = 2,       /* TLS handshake now (after a STARTTLS go-ahead) */
    FZ_TLS_CLOSE = 3, /* send a TLS close_notify; later sends go in cleartext */
};

enum {
    FZ_BYTEWISE = 1, /* one byte per write */
    FZ_NOREPLY = 2,  /* the seed expects no reply to this step (literal or DATA lines) */
};

#define FZ_MAX_STEPS     64
#define FZ_MAX_STEP_DATA (64u * 1024)

struct fz_step {
    uint8_t op;    /* enum fz_op */
    uint8_t flags; /* FZ_BYTEWISE, FZ_NOREPLY */
    char *data;    /* FZ_SEND: malloc'd bytes */
    size_t len;
};

struct fz_case {
    struct fz_step *steps;
    size_t n;
    uint8_t pipeline; /* every FZ_SEND of the case before the first TLS step written at once */
};

void fz_case_free(struct fz_case *c);
/* Deep copy; 0 or -1 (out of memory). */
int fz_case_copy(struct fz_case *dst, const struct fz_case *src);
/* Append a step (data copied); 0 or -1 (too many steps, too long, memory). */
int fz_case_add(struct fz_case *c, uint8_t op, const char *data, size_t len);
/* Remove step i. */
void fz_case_remove(struct fz_case *c, size_t i);

/* Variable values for rendering seeds (NULL: a placeholder is sent). */
struct fz_vals {
    const char *user, *password, *host, *run, *rcpt, *from;
};

/*
 * A seed from a parsed script: its C: lines (rendered: variables the run
 * gives, "x" for others) up to its first @connection, @segment blocks as one
 * step, @tls as FZ_TLS. Returns 0, or -1 when the script gives no step.
 */
int fz_case_from_script(struct fz_case *c, const struct ms_script *s, const struct fz_vals *v);

/*
 * Mutate c in place with one to a few mutations: message level (hostile
 * values in place of a token: long runs, big numbers and literal sizes,
 * sequence sets, SASL-like blobs), byte level (a splice with other, bit
 * flips, CR/LF variants, NUL, 8-bit bytes), segmentation (pipelining, one
 * byte per write) and TLS events (close_notify mid-step followed by a
 * cleartext byte, plaintext after a STARTTLS line, a second STARTTLS).
 * other may be NULL. proto: "smtp", "imap", "pop3". Returns a short name of
 * the last mutation (static).
 */
const char *fz_mutate(struct fz_case *c, const struct fz_case *other, const char *proto,
                      struct ms_rng *r);

/*
 * Minimization: still(ctx, candidate) says whether the oracle still fires.
 * Drops steps, then shortens the last send step's bytes (halves, then
 * single bytes from the end), while still() holds, until deadline_ms
 * (ms_now_ms) or max_tries calls. c is replaced by the smallest case found.
 * Returns the number of still() calls.
 */
size_t fz_minimize(struct fz_case *c, int (*still)(void *, const struct fz_case *), void *ctx,
                   uint64_t deadline_ms, size_t max_tries);

/* ---- execution ---- */

/* What one case showed. */
enum fz_kind {
    FZ_NONE = 0,
    FZ_GRAMMAR = 1,  /* a reply that breaks the grammar (strict parser, echoes excluded) */
    FZ_LIVENESS = 2, /* afterwards, a fresh connection got no greeting or no NOOP answer */
    FZ_LATENCY = 3,  /* the probe after it took > 10x the baseline and > 1 s */
    FZ_STATE = 4,    /* IMAP: a tagged OK to a command the state forbids (before login) */
};
const char *fz_kind_name(int kind);

struct fz_target {
    const char *proto;
    const struct ms_proto *p;
    const char *host, *port;
    enum ms_tls_mode tls;
    const struct ms_tls_opts *tlso;
    void *ssl_ctx;          /* shared SSL_CTX (ms_tls_ctx_new) */
    unsigned timeout_ms;    /* connect, handshake, probe */
    unsigned reply_wait_ms; /* how long a step waits for its reply */
    struct ms_limits lim;
    const char *secret[3]; /* values never written into findings (password and its forms) */
    volatile int *stop;
};

/* One server message a step got, reduced to its shape (for feedback and the .session). */
struct fz_reply {
    uint32_t shape; /* hash of the reply's kind: code, tag status, untagged kind */
    uint8_t final;  /* SMTP/POP3: any reply; IMAP: tagged or continuation */
    uint8_t tagged; /* IMAP tagged response */
    uint8_t bad;    /* a message the strict parser rejected (not judged, or the finding) */
    char key[24];   /* what the .session expects: "250", "a1", "+", "*", "+OK" */
};

#define FZ_MAX_REPLIES 256

struct fz_result {
    int kind;            /* enum fz_kind (FZ_GRAMMAR only from fz_exec) */
    char detail[512];    /* rule and reason, or what the probe saw */
    char state_tag[24];  /* FZ_STATE: the tag of the OK that contradicts the state */
    int conn_failed;     /* could not connect, greet or hand-shake: not judged */
    int closed;          /* the server closed the connection */
    int closed_silently; /* ... without answering the last step */
    size_t nreplies;
    struct fz_reply replies[FZ_MAX_REPLIES];
    uint16_t step_of[FZ_MAX_REPLIES]; /* which step each reply answered (0: greeting) */
    uint64_t ms;
};

/* Per worker: buffers, and the TLS session kept for resumption. */
struct fz_exec;
struct fz_exec *fz_exec_new(const struct fz_target *t);
void fz_exec_free(struct fz_exec *e);

/* Run c on a new connection; fills r. */
void fz_exec(struct fz_exec *e, const struct fz_case *c, struct fz_result *r);

/*
 * The liveness probe: a fresh connection (TLS as --tls says, STARTTLS done
 * when --tls starttls) must give a greeting and answer a NOOP. Returns 0
 * (alive, *ms set), -1 (dead: why in detail), -2 (interrupted by the stop
 * flag: no verdict).
 */
int fz_probe(struct fz_exec *e, uint64_t *ms, char *detail, size_t cap);

/* ---- output ---- */

/*
 * The case as a .session (metadata, steps, the expectations of r, and for
 * liveness a new connection that must answer NOOP). Secrets replaced by
 * their variables. Malloc'd text, or NULL.
 */
char *fz_session_text(const struct fz_target *t, const struct fz_case *c, const struct fz_result *r,
                      int kind, const char *id, const char *detail);

#endif
