/*
 * The recorder's server side of TLS: it terminates the client's TLS with its
 * own certificate (--cert/--key). The client side toward the real server is
 * the runner's transport (transport.h), not duplicated here.
 */
#ifndef MAILSPEC_RECORD_TLS_H
#define MAILSPEC_RECORD_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

/* A server context from PEM files. NULL with a message in err on failure. */
SSL_CTX *ms_rec_tls_server_ctx(const char *cert, const char *key, char *err, size_t errcap);

/*
 * TLS accept on the connected non-blocking socket fd by the deadline
 * (ms_now_ms() milliseconds). Returns the SSL, or NULL with a message in err.
 */
SSL *ms_rec_tls_accept(SSL_CTX *ctx, int fd, uint64_t deadline, char *err, size_t errcap);

#endif
