/*
 * Transports for the runner: plain TCP (IPv4/IPv6 via getaddrinfo), TLS on
 * an open connection (STARTTLS/STLS upgrade or implicit TLS) with OpenSSL 3.
 *
 * Every wait is bounded by a deadline (poll); nothing here blocks forever.
 */
#ifndef MAILSPEC_TRANSPORT_H
#define MAILSPEC_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum ms_tls_mode { MS_TLS_NONE = 0, MS_TLS_STARTTLS = 1, MS_TLS_IMPLICIT = 2 };

/* "none", "starttls", "implicit" (the --tls values of replay, certify, record). */
const char *ms_tls_mode_name(enum ms_tls_mode m);
/* The mode named s; -1 when s is not one of the three names. */
int ms_tls_mode_parse(const char *s, enum ms_tls_mode *out);

struct ms_tls_opts {
    const char *cafile; /* NULL: the system store */
    const char *cert;   /* client certificate (PEM), or NULL */
    const char *key;    /* its key (PEM); NULL: in cert */
    const char *sni;    /* server name to send and verify; NULL: the host */
    int insecure;       /* do not verify the chain or the name */
    int min_version;    /* 0, 12 or 13 */
    /* Offer exactly this version (10, 11, 12, 13; 0: no) at security level
     * 0, so that the server alone decides: certify's TLS-version probe. */
    int exact_version;
};

/* What the handshake gave; copied into the reports. */
struct ms_tls_info {
    int used;         /* a handshake completed */
    char version[16]; /* "TLSv1.3" */
    char cipher[64];
    int verified; /* chain and host name verified */
    char verify_error[128];
    char subject[256];  /* peer certificate subject (one line) */
    char not_after[64]; /* peer certificate expiry, "Jan  1 00:00:00 2030 GMT" */
};

/* Why the last ms_conn_* call failed: callers switch on this, never on the text. */
enum ms_conn_error {
    MS_CONN_E_NONE = 0,
    MS_CONN_E_RESOLVE,       /* the host name does not resolve */
    MS_CONN_E_CONNECT,       /* refused or unreachable */
    MS_CONN_E_TIMEOUT,       /* the deadline passed */
    MS_CONN_E_TLS_LOCAL,     /* our TLS setup (context, --cafile, --cert) */
    MS_CONN_E_TLS_HANDSHAKE, /* the server refused or broke off the handshake */
    MS_CONN_E_TLS_VERIFY,    /* its certificate did not verify */
    MS_CONN_E_IO,            /* read or write failed on an open connection */
};

struct ms_conn {
    int fd;
    enum ms_conn_error error; /* of the last call that failed */
    void *ssl;                /* SSL *, or NULL on a plain connection */
    void *ctx;                /* SSL_CTX * */
    struct ms_tls_info tls;
    int tls_closing; /* our close_notify went out (ms_conn_tls_close_notify) */
};

/* Monotonic milliseconds. */
uint64_t ms_now_ms(void);

/*
 * Connect to host:port (numeric or name, IPv4 or IPv6) by the deadline.
 * Returns 0, or -1 with a message in err.
 */
int ms_conn_open(struct ms_conn *c, const char *host, const char *port, uint64_t deadline,
                 char *err, size_t errcap);

/* TLS handshake on the open connection. host: for SNI and the name check. */
int ms_conn_tls(struct ms_conn *c, const char *host, const struct ms_tls_opts *o, uint64_t deadline,
                char *err, size_t errcap);

/*
 * The same handshake on a context made once (ms_tls_ctx_new) and shared by
 * many connections (fuzz-server); session (SSL_SESSION *, or NULL) is
 * offered for resumption. c->ctx stays NULL: the caller frees the context.
 */
void *ms_tls_ctx_new(const struct ms_tls_opts *o, char *err, size_t errcap);
void ms_tls_ctx_free(void *ctx);
int ms_conn_tls_ctx(struct ms_conn *c, void *ctx, void *session, const char *host,
                    const struct ms_tls_opts *o, uint64_t deadline, char *err, size_t errcap);

/*
 * Send a TLS close_notify (once; the peer's is not awaited) and go on in
 * cleartext on the same socket: writes go out raw; reads still take TLS
 * records (data, the peer's close_notify) until the peer's close_notify or
 * the first byte that does not start a TLS record, then raw. Returns 0, or
 * -1 (err) when the connection is not in TLS or the alert cannot be sent.
 */
int ms_conn_tls_close_notify(struct ms_conn *c, uint64_t deadline, char *err, size_t errcap);

/* Write all of buf by the deadline. Returns 0 or -1 (err). */
int ms_conn_write(struct ms_conn *c, const char *buf, size_t n, uint64_t deadline, char *err,
                  size_t errcap);

/*
 * Read up to cap bytes, waiting until the deadline. Returns bytes read (> 0),
 * 0 on an orderly close, -1 on an error (err), -2 on timeout.
 * *stop, when non-NULL and set, also ends the wait (returns -2).
 */
ssize_t ms_conn_read(struct ms_conn *c, char *buf, size_t cap, uint64_t deadline,
                     volatile int *stop, char *err, size_t errcap);

/*
 * Nonzero when TLS holds bytes poll() cannot see (decrypted data, or records
 * read from the socket and not yet processed): read before polling.
 */
int ms_conn_pending(const struct ms_conn *c);

void ms_conn_close(struct ms_conn *c);

/* "what: <first OpenSSL error>" (or "what" alone) into err; clears the queue. */
void ms_tls_error(char *err, size_t errcap, const char *what);

#endif
