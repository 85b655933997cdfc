/*
 * mailspec serve: the server half of .session scripts, judging a mail client
 * (docs/serve.md).
 *
 * A serve script is a .session file read from the server's side: `S:` lines
 * are sent (variables substituted), `C:` lines are patterns matched against
 * whole client commands as the strict command parsers framed them. The
 * script parser (parsers/common/script.c) reads it with the two roles
 * swapped, so its checks hold as they are (what is sent may only use
 * variables captured before; patterns capture). Two serve-only directives
 * (@client-exit, @cert) are taken out before it. What the script does not
 * script, a small built-in responder answers (serve_respond.c).
 */
#ifndef MAILSPEC_SERVE_H
#define MAILSPEC_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "mailspec/common.h"
#include "mailspec/script.h"
#include "mailspec/stream.h"
#include "runner.h"
#include "transport.h"

/* What a script expects of the --client command's exit (@client-exit). */
enum sv_exit { SV_EXIT_ANY = 0, SV_EXIT_OK = 1 };

/* A parsed serve script: the swapped script and the serve-only directives. */
struct sv_script {
    struct ms_script *s;
    uint8_t client_exit; /* enum sv_exit */
    char cert[33];       /* @cert NAME: serve this certificate ("" : --cert) */
    uint8_t tricky;      /* @mailbox tricky: message 2 holds response-like lines */
};

/*
 * Read a serve script from text[0..len). Returns 0, or -1 with line, column
 * and reason in err.
 */
int sv_script_parse(const char *text, size_t len, struct sv_script *out,
                    struct ms_script_error *err);
void sv_script_free(struct sv_script *s);

struct sv_opts {
    const char *protocol;
    enum ms_tls_mode tls;
    const char *user, *password; /* what the client will log in with; NULL: any */
    SSL_CTX *tls_ctx;            /* --cert/--key */
    const char *cert_dir;        /* @cert NAME: NAME.pem below it (cert and key) */
    unsigned timeout_ms;         /* each wait for the client */
    unsigned client_timeout_ms;  /* the --client command's whole run */
    const char *client;          /* the --client command ({port} replaced), or NULL */
    const char *port;            /* the listening port, for {port} */
    int listen_fd;
    struct ms_limits lim;
    volatile int *stop;
};

/*
 * Run one script: start the client (if any), serve its connection(s), judge.
 * Returns SV_ONLY_EXIT when the result is a failure only because of the
 * client's exit status (@client-exit ok), SV_ONLY_TLS_REFUSED when it is a
 * pass only because the client broke off the TLS handshake with the good
 * certificate (@tls-failure pass without @cert), else 0: the caller blocks
 * both when the client fails the baseline test too.
 */
enum { SV_ONLY_EXIT = 1, SV_ONLY_TLS_REFUSED = 2 };
int sv_run(const struct sv_script *ss, const char *file, const struct sv_opts *o,
           struct ms_test_result *r);

/* ---- the built-in responder (serve_respond.c) ---- */

/* The built-in server's state on one connection. */
struct sv_resp {
    const char *proto;
    const struct sv_opts *o;
    int tls;           /* TLS is on */
    int tls_available; /* --tls starttls and not yet upgraded */
    int authed;
    int selected;
    int pop3_user_given;
    int smtp_helo, smtp_mail, smtp_rcpt;
    /* SASL exchange in progress: 1 IMAP AUTHENTICATE / SMTP or POP3 AUTH PLAIN,
     * 2 SMTP AUTH LOGIN waiting for the user, 3 ... for the password */
    int sasl;
    int tricky; /* @mailbox tricky */
    char sasl_tag[256];
    char sasl_user[256];
    uint8_t flags[2]; /* IMAP flags of the two messages (SV_F_*) */
    uint8_t gone[2];  /* expunged (IMAP) or deleted (POP3) */
    /* set by the responder */
    int starttls; /* the answer was a go-ahead: TLS handshake next */
    int close;    /* the answer ends the session: close after it */
};

void sv_resp_init(struct sv_resp *r, const char *proto, const struct sv_opts *o);
/* The greeting of a compliant server. */
void sv_resp_greeting(struct sv_resp *r, struct ms_out *out);
/*
 * Answer one client message (its typed view, from kind ms_proto_find(proto)
 * ->commands) into out. raw: its bytes.
 */
void sv_resp_answer(struct sv_resp *r, const void *view, const char *raw, size_t rawlen,
                    struct ms_out *out);
/* Answer a message the command parser rejected. */
void sv_resp_bad(struct sv_resp *r, const char *raw, size_t rawlen, struct ms_out *out);

#endif
