/*
 * Plain TCP and TLS transports (OpenSSL 3). Sockets are non-blocking; every
 * wait is a poll() bounded by the caller's deadline, in slices short enough
 * to notice a stop request (SIGINT) promptly.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "transport.h"

#define POLL_SLICE_MS 200

const char *ms_tls_mode_name(enum ms_tls_mode m)
{
    switch (m) {
    case MS_TLS_NONE:
        return "none";
    case MS_TLS_STARTTLS:
        return "starttls";
    case MS_TLS_IMPLICIT:
        return "implicit";
    default:
        return "?";
    }
}

int ms_tls_mode_parse(const char *s, enum ms_tls_mode *out)
{
    for (int m = MS_TLS_NONE; m <= MS_TLS_IMPLICIT; m++)
        if (strcmp(s, ms_tls_mode_name((enum ms_tls_mode)m)) == 0) {
            *out = (enum ms_tls_mode)m;
            return 0;
        }
    return -1;
}

uint64_t ms_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int left_ms(uint64_t deadline)
{
    uint64_t now = ms_now_ms();
    if (now >= deadline)
        return 0;
    uint64_t d = deadline - now;
    return d > POLL_SLICE_MS ? POLL_SLICE_MS : (int)d;
}

/* Wait for events on fd; 1 ready, 0 timeout (or stop), -1 error. */
static int wait_fd(int fd, short events, uint64_t deadline, volatile int *stop)
{
    for (;;) {
        if (stop && *stop)
            return 0;
        int ms = left_ms(deadline);
        if (ms == 0)
            return 0;
        struct pollfd p = {fd, events, 0};
        int r = poll(&p, 1, ms);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

void ms_tls_error(char *err, size_t errcap, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[200] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    snprintf(err, errcap, "%s%s%s", what, e ? ": " : "", buf);
    ERR_clear_error();
}

int ms_conn_open(struct ms_conn *c, const char *host, const char *port, uint64_t deadline,
                 char *err, size_t errcap)
{
    struct addrinfo hints, *res = NULL;
    char last[160] = "no address";

    memset(c, 0, sizeof(*c));
    c->fd = -1;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0) {
        snprintf(err, errcap, "cannot resolve %s: %s", host, gai_strerror(g));
        c->error = MS_CONN_E_RESOLVE;
        return -1;
    }
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
            close(fd);
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        int r = connect(fd, a->ai_addr, a->ai_addrlen);
        if (r != 0 && errno == EINPROGRESS) {
            int w = wait_fd(fd, POLLOUT, deadline, NULL);
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            if (w == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
                r = 0;
            else
                errno = w == 1 ? soerr : ETIMEDOUT;
        }
        if (r == 0) {
            c->fd = fd;
            freeaddrinfo(res);
            return 0;
        }
        snprintf(last, sizeof(last), "%s", strerror(errno));
        close(fd);
    }
    freeaddrinfo(res);
    snprintf(err, errcap, "cannot connect to %s port %s: %s", host, port, last);
    c->error = MS_CONN_E_CONNECT;
    return -1;
}

/* Drive an OpenSSL call that may want to read or write until done or deadline. */
static int ssl_wait(struct ms_conn *c, int r, uint64_t deadline, volatile int *stop)
{
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        return wait_fd(c->fd, POLLIN, deadline, stop);
    if (e == SSL_ERROR_WANT_WRITE)
        return wait_fd(c->fd, POLLOUT, deadline, stop);
    return -1;
}

static int is_ip(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

void *ms_tls_ctx_new(const struct ms_tls_opts *o, char *err, size_t errcap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (!ctx) {
        ms_tls_error(err, errcap, "cannot create a TLS context");
        return NULL;
    }
    /* Many servers close after BYE/QUIT without close_notify; the protocols
     * frame their own messages, so a bare EOF is a close, and an EOF inside
     * a message is caught by the framing (OpenSSL 3 would report an error). */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (o->exact_version) {
        static const int versions[] = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION,
                                       TLS1_3_VERSION};
        int v = versions[(o->exact_version - 10) & 3];
        /* old versions need security level 0 on this side: the server decides */
        SSL_CTX_set_security_level(ctx, 0);
        if (!SSL_CTX_set_min_proto_version(ctx, v) || !SSL_CTX_set_max_proto_version(ctx, v)) {
            ms_tls_error(err, errcap, "this OpenSSL cannot offer the TLS version");
            SSL_CTX_free(ctx);
            return NULL;
        }
    } else if (o->min_version == 13) {
        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    } else {
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    }
    if (o->cafile) {
        if (SSL_CTX_load_verify_locations(ctx, o->cafile, NULL) != 1) {
            ms_tls_error(err, errcap, "cannot load --cafile");
            SSL_CTX_free(ctx);
            return NULL;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        ms_tls_error(err, errcap, "cannot load the system certificate store");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (o->cert) {
        if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1) {
            ms_tls_error(err, errcap, "cannot load --cert");
            SSL_CTX_free(ctx);
            return NULL;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, o->key ? o->key : o->cert, SSL_FILETYPE_PEM) != 1) {
            ms_tls_error(err, errcap, "cannot load --key");
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    /* Verify always, fail the handshake only when not --insecure: the report
     * says whether the chain and name were good either way. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    return ctx;
}

void ms_tls_ctx_free(void *ctx)
{
    SSL_CTX_free(ctx);
}

int ms_conn_tls(struct ms_conn *c, const char *host, const struct ms_tls_opts *o, uint64_t deadline,
                char *err, size_t errcap)
{
    c->error = MS_CONN_E_TLS_LOCAL; /* until the handshake starts */
    c->ctx = ms_tls_ctx_new(o, err, errcap);
    if (!c->ctx)
        return -1;
    return ms_conn_tls_ctx(c, c->ctx, NULL, host, o, deadline, err, errcap);
}

int ms_conn_tls_ctx(struct ms_conn *c, void *ctx, void *session, const char *host,
                    const struct ms_tls_opts *o, uint64_t deadline, char *err, size_t errcap)
{
    const char *name = o->sni ? o->sni : host;

    c->error = MS_CONN_E_TLS_LOCAL; /* until the handshake starts */
    SSL *ssl = SSL_new(ctx);
    if (!ssl) {
        ms_tls_error(err, errcap, "cannot create a TLS session");
        return -1;
    }
    c->ssl = ssl;
    SSL_set_fd(ssl, c->fd);
    if (session)
        (void)SSL_set_session(ssl, session);
    if (!is_ip(name))
        SSL_set_tlsext_host_name(ssl, name);
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    if (is_ip(name))
        X509_VERIFY_PARAM_set1_ip_asc(vp, name);
    else
        X509_VERIFY_PARAM_set1_host(vp, name, 0);
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(ssl);
        if (r == 1)
            break;
        int w = ssl_wait(c, r, deadline, NULL);
        if (w == 0) {
            snprintf(err, errcap, "TLS handshake timed out");
            c->error = MS_CONN_E_TIMEOUT;
            return -1;
        }
        if (w < 0) {
            unsigned long le = ERR_peek_error();
            c->error = le && ERR_GET_REASON(le) == SSL_R_NO_PROTOCOLS_AVAILABLE
                           ? MS_CONN_E_TLS_LOCAL
                           : MS_CONN_E_TLS_HANDSHAKE;
            if (ERR_peek_error() == 0)
                snprintf(err, errcap,
                         "TLS handshake failed: the server closed the connection "
                         "or sent data that is not TLS");
            else
                ms_tls_error(err, errcap, "TLS handshake failed");
            return -1;
        }
    }
    struct ms_tls_info *t = &c->tls;
    memset(t, 0, sizeof(*t));
    t->used = 1;
    snprintf(t->version, sizeof(t->version), "%s", SSL_get_version(ssl));
    snprintf(t->cipher, sizeof(t->cipher), "%s", SSL_get_cipher_name(ssl));
    X509 *peer = SSL_get1_peer_certificate(ssl);
    long vr = SSL_get_verify_result(ssl);
    t->verified = peer && vr == X509_V_OK;
    if (!peer)
        snprintf(t->verify_error, sizeof(t->verify_error), "no peer certificate");
    else if (vr != X509_V_OK)
        snprintf(t->verify_error, sizeof(t->verify_error), "%s", X509_verify_cert_error_string(vr));
    if (peer) {
        X509_NAME_oneline(X509_get_subject_name(peer), t->subject, (int)sizeof(t->subject));
        BIO *b = BIO_new(BIO_s_mem());
        if (b) {
            if (ASN1_TIME_print(b, X509_get0_notAfter(peer)) == 1) {
                int n = BIO_read(b, t->not_after, (int)sizeof(t->not_after) - 1);
                t->not_after[n > 0 ? n : 0] = '\0';
            }
            BIO_free(b);
        }
        X509_free(peer);
    }
    if (!t->verified && !o->insecure) {
        snprintf(err, errcap, "certificate verification failed: %s (use --cafile or --insecure)",
                 t->verify_error);
        c->error = MS_CONN_E_TLS_VERIFY;
        return -1;
    }
    c->error = MS_CONN_E_NONE;
    return 0;
}

static void drop_ssl(struct ms_conn *c)
{
    SSL_free(c->ssl);
    c->ssl = NULL;
}

/*
 * After our close_notify: 1 when the next bytes on the socket start a TLS
 * record (content type 20..23, version major 3), 0 when they do not (or the
 * peer closed), -2 on timeout or stop.
 */
static int tls_record_next(struct ms_conn *c, uint64_t deadline, volatile int *stop)
{
    for (;;) {
        unsigned char hd[2];
        ssize_t k = recv(c->fd, hd, sizeof(hd), MSG_PEEK);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            return 0;
        if (k > 0)
            return hd[0] >= 0x14 && hd[0] <= 0x17 && (k < 2 || hd[1] == 0x03);
        if (wait_fd(c->fd, POLLIN, deadline, stop) != 1)
            return -2;
    }
}

int ms_conn_tls_close_notify(struct ms_conn *c, uint64_t deadline, char *err, size_t errcap)
{
    if (!c->ssl || c->tls_closing) {
        snprintf(err, errcap, "the connection is not in TLS (no close_notify to send)");
        c->error = MS_CONN_E_IO;
        return -1;
    }
    for (;;) {
        ERR_clear_error();
        int r = SSL_shutdown(c->ssl);
        if (r == 1) { /* the peer's close_notify had come already */
            c->tls_closing = 1;
            drop_ssl(c);
            return 0;
        }
        if (r == 0)
            break;
        int w = ssl_wait(c, r, deadline, NULL);
        if (w == 0) {
            snprintf(err, errcap, "sending the TLS close_notify timed out");
            c->error = MS_CONN_E_TIMEOUT;
            return -1;
        }
        if (w < 0) {
            ms_tls_error(err, errcap, "cannot send the TLS close_notify");
            c->error = MS_CONN_E_IO;
            return -1;
        }
    }
    c->tls_closing = 1;
    return 0;
}

int ms_conn_write(struct ms_conn *c, const char *buf, size_t n, uint64_t deadline, char *err,
                  size_t errcap)
{
    size_t off = 0;

    while (off < n) {
        if (c->ssl && !c->tls_closing) {
            ERR_clear_error();
            int chunk = n - off > (1u << 30) ? (1 << 30) : (int)(n - off);
            int r = SSL_write(c->ssl, buf + off, chunk);
            if (r > 0) {
                off += (size_t)r;
                continue;
            }
            int w = ssl_wait(c, r, deadline, NULL);
            if (w == 0) {
                snprintf(err, errcap, "write timed out");
                c->error = MS_CONN_E_TIMEOUT;
                return -1;
            }
            if (w < 0) {
                ms_tls_error(err, errcap, "TLS write failed");
                c->error = MS_CONN_E_IO;
                return -1;
            }
            continue;
        }
        ssize_t r = send(c->fd, buf + off, n - off, MSG_NOSIGNAL);
        if (r > 0) {
            off += (size_t)r;
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            if (wait_fd(c->fd, POLLOUT, deadline, NULL) != 1) {
                snprintf(err, errcap, "write timed out");
                c->error = MS_CONN_E_TIMEOUT;
                return -1;
            }
            continue;
        }
        snprintf(err, errcap, "write failed: %s", strerror(errno));
        c->error = MS_CONN_E_IO;
        return -1;
    }
    return 0;
}

ssize_t ms_conn_read(struct ms_conn *c, char *buf, size_t cap, uint64_t deadline,
                     volatile int *stop, char *err, size_t errcap)
{
    int chunk = cap > (1u << 30) ? (1 << 30) : (int)cap;
    int in_record = 0; /* after our close_notify: the next bytes were seen to be TLS */

    for (;;) {
        if (stop && *stop)
            return -2;
        if (c->ssl && c->tls_closing && !in_record && !SSL_has_pending(c->ssl)) {
            int k = tls_record_next(c, deadline, stop);
            if (k == -2)
                return -2;
            if (k == 0)
                drop_ssl(c);    /* cleartext (or EOF) follows */
            in_record = k == 1; /* OpenSSL may take the header and wait for the rest */
        }
        if (c->ssl) {
            ERR_clear_error();
            int r = SSL_read(c->ssl, buf, chunk);
            if (r > 0)
                return r;
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_ZERO_RETURN && c->tls_closing) {
                drop_ssl(c); /* the peer's close_notify: raw from here */
                continue;
            }
            if (e == SSL_ERROR_ZERO_RETURN)
                return 0;
            if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
                return 0; /* EOF without close_notify: the peer closed */
            int w = ssl_wait(c, r, deadline, stop);
            if (w == 0)
                return -2;
            if (w < 0) {
                ms_tls_error(err, errcap, "TLS read failed");
                c->error = MS_CONN_E_IO;
                return -1;
            }
            continue;
        }
        ssize_t r = recv(c->fd, buf, cap, 0);
        if (r >= 0)
            return r;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            int w = wait_fd(c->fd, POLLIN, deadline, stop);
            if (w == 0)
                return -2;
            if (w < 0) {
                snprintf(err, errcap, "poll failed: %s", strerror(errno));
                c->error = MS_CONN_E_IO;
                return -1;
            }
            continue;
        }
        if (errno == ECONNRESET)
            return 0;
        snprintf(err, errcap, "read failed: %s", strerror(errno));
        c->error = MS_CONN_E_IO;
        return -1;
    }
}

/*
 * SSL_has_pending, not SSL_pending: SSL_pending counts only decrypted bytes
 * of the current record, and misses records OpenSSL has already read from
 * the socket but not processed (e.g. a client's first command that arrived
 * with its Finished message). poll() cannot see those either, so a caller
 * that polls when this says 0 would stall until its timeout.
 */
int ms_conn_pending(const struct ms_conn *c)
{
    return c->ssl ? SSL_has_pending(c->ssl) : 0;
}

void ms_conn_close(struct ms_conn *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->ctx) {
        SSL_CTX_free(c->ctx);
        c->ctx = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}
