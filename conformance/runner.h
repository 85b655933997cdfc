/*
 * The runner: executes one parsed session script against a server and
 * produces one test result. Reusable by `mailspec replay` and `certify`.
 *
 * Server bytes are split into CRLF lines (bounded) for matching and fed, in
 * the same order, with the client's bytes, to the protocol's strict parsers
 * (ms_session), so a reply that breaks the grammar fails the test citing the
 * RFC rule even when the script's pattern matches.
 */
#ifndef MAILSPEC_RUNNER_H
#define MAILSPEC_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "mailspec/common.h"
#include "mailspec/script.h"
#include "transport.h"

/*
 * Results (docs/certify.md "Results"):
 *  pass           every step went as scripted;
 *  fail           the behaviour under test (a check step) breaks the script -
 *                 the one result that accuses the server;
 *  not-applicable the test does not apply here (transport, protocol, no
 *                 credentials, a server policy such as refusing cleartext login);
 *  error          the harness's own failure (script, memory, interrupted) -
 *                 never a server behaviour;
 *  blocked        a setup step did not go as scripted, or the server gave no
 *                 judgeable answer (timeout, close mid-response, over a limit);
 *  not-supported  an optional feature the test needs is absent (@requires,
 *                 @unsupported).
 */
enum ms_result {
    MS_RES_PASS = 0,
    MS_RES_FAIL = 1,
    MS_RES_NA = 2,
    MS_RES_ERROR = 3,
    MS_RES_BLOCKED = 4,
    MS_RES_NOT_SUPPORTED = 5,
    MS_RES_COUNT
};

/*
 * The runner's bounds on one server message, in one place: the IMAP literal
 * and message limits its strict parsers get, and the buffer that holds a
 * message whole (an SMTP reply, a POP3 response with its body, an IMAP
 * response with its literals). The buffer takes any message the parsers
 * accept - a literal of the full size, with or without CRLF inside - so a
 * legal message is never cut by the harness.
 */
#define MS_RUN_IMAP_LITERAL (8u * 1024 * 1024)
#define MS_RUN_MESSAGE_MAX  (MS_RUN_IMAP_LITERAL + 1024u * 1024)

struct ms_run_opts {
    const char *protocol; /* NULL: from the script's @protocol */
    const char *host;
    const char *port;
    enum ms_tls_mode tls;
    struct ms_tls_opts tlso;
    const char *user, *password;
    const char *run_id, *rcpt, *mail_from; /* ${run}, ${rcpt}, ${from} */
    /* The server refuses login on this (cleartext) transport (certify's
     * pre-flight): a step that would send the password is not run and the
     * test is not-applicable. */
    int cleartext_login_refused;
    /* POP3: the server's CAPA has no USER (RFC 2449 6.8): a USER line is
     * not-supported rather than a failed setup. */
    int pop3_no_user;
    /* SMTP: the server answers 530 to commands before STARTTLS on this
     * cleartext port (RFC 3207 4): such a 530 makes a test not-applicable. */
    int smtp_tls_required;
    unsigned timeout_ms;  /* each expectation (and connect, handshake, close) */
    size_t max_message;   /* longest server message accepted; 0: MS_RUN_MESSAGE_MAX */
    struct ms_limits lim; /* parser limits; the script's @quirk flags are added */
    volatile int *stop;   /* set (e.g. by SIGINT) to abandon the run */
    /* Called with each whole server message as the strict parsers framed it
     * (CRLF and literals included); NULL: none. certify's MIME oracle
     * (certify_mime.c) judges the typed FETCH views of these. */
    void (*on_message)(void *ctx, const char *msg, size_t len);
    void *on_message_ctx;
};

/* Fill in defaults: port from protocol and tls, timeout 10 s, runner limits. */
void ms_run_opts_default(struct ms_run_opts *o);
/* The well-known port for a protocol and mode ("143", "993", ...), or NULL. */
const char *ms_default_port(const char *protocol, enum ms_tls_mode tls);

struct ms_test_result {
    char *file;
    char *id, *title, *rfc, *protocol;
    unsigned level; /* enum ms_level */
    enum ms_result result;
    char *quote;      /* the RFC sentence the test checks (@quote), "" if none */
    char *finding;    /* on fail: the finding in plain words (@finding), else "" */
    char *message;    /* why it failed/was skipped/errored; "" on pass */
    char *transcript; /* the dialogue so far, as .session text */
    size_t fail_line; /* script line of the failure, 0 if none */
    struct ms_tls_info tls;
    uint64_t duration_ms;
    int interrupted; /* stopped by opts->stop */
    /* Where a run that did not pass stopped, for callers that switch on it
     * (certify's pre-flight): the transport's error code when connecting or
     * the TLS handshake failed, and whether the TLS upgrade failed. */
    enum ms_conn_error conn_error;
    int tls_failed;
    /* The last capability list the server announced (typed views), as
     * space-separated upper-case NAME and NAME=PARAM words; "" if none. */
    char *caps;
    /* The server's line the result is about (its key line: an SMTP reply's
     * last line, else the first), escaped and redacted; "" if none. */
    char *got;
};

/*
 * Run script s (read from file, for messages) with o. Always fills r (free
 * with ms_test_result_free); never blocks past the timeouts.
 */
void ms_run_script(const struct ms_script *s, const char *file, const struct ms_run_opts *o,
                   struct ms_test_result *r);
void ms_test_result_free(struct ms_test_result *r);

const char *ms_result_name(enum ms_result r);

/*
 * SASL PLAIN's message (RFC 4616: authzid NUL authcid NUL passwd), base64,
 * NUL-terminated in out[0..cap). Each of the three is at most
 * MS_SASL_FIELD_MAX bytes. Returns the base64 length, or -1 (too long, or
 * cap too small). The plain form is wiped before returning.
 */
#define MS_SASL_FIELD_MAX 1024
int ms_sasl_plain_b64(const char *authz, const char *user, const char *pw, char *out, size_t cap);

#endif
