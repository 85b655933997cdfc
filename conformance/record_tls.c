/* The recorder's TLS server side (record_tls.h). */
#include <poll.h>
#include <stdio.h>

#include <openssl/err.h>

#include "record_tls.h"
#include "transport.h"

SSL_CTX *ms_rec_tls_server_ctx(const char *cert, const char *key, char *err, size_t errcap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (!ctx) {
        ms_tls_error(err, errcap, "SSL_CTX_new");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        ms_tls_error(err, errcap, "cannot load --cert");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        ms_tls_error(err, errcap, "cannot load --key");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ms_tls_error(err, errcap, "--key does not match --cert");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL *ms_rec_tls_accept(SSL_CTX *ctx, int fd, uint64_t deadline, char *err, size_t errcap)
{
    SSL *ssl = SSL_new(ctx);

    if (!ssl) {
        ms_tls_error(err, errcap, "SSL_new");
        return NULL;
    }
    if (SSL_set_fd(ssl, fd) != 1) {
        ms_tls_error(err, errcap, "SSL_set_fd");
        SSL_free(ssl);
        return NULL;
    }
    for (;;) {
        ERR_clear_error();
        int r = SSL_accept(ssl);
        if (r == 1)
            return ssl;
        int e = SSL_get_error(ssl, r);
        uint64_t now = ms_now_ms();
        if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || now >= deadline) {
            if (now >= deadline)
                snprintf(err, errcap, "TLS handshake with the client timed out");
            else
                ms_tls_error(err, errcap, "TLS handshake with the client failed");
            SSL_free(ssl);
            return NULL;
        }
        struct pollfd p = {fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, 0};
        uint64_t left = deadline - now;
        (void)poll(&p, 1, left > 1000 ? 1000 : (int)left);
    }
}
