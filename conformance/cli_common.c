/* Shared command-line options and the worker pool (cli_common.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_common.h"
#include "mailspec/mailspec.h"

const char ms_cli_conn_usage[] =
    "Server:\n"
    "  --protocol smtp|pop3|imap   the protocol\n"
    "  --host HOST                 name, IPv4 or IPv6 address (default 127.0.0.1)\n"
    "  --port PORT                 default: the protocol's port for --tls\n"
    "  --tls none|starttls|implicit  (default none)\n"
    "  --timeout SECONDS           bound on each expected reply (default 10)\n"
    "Credentials (never printed; shown as ${password} in transcripts):\n"
    "  --user U                    login name\n"
    "  --password P                its password (visible to other local users: prefer\n"
    "                              --password-file or MAILSPEC_PASSWORD)\n"
    "  --password-file FILE        read the password from the first line of FILE\n"
    "TLS:\n"
    "  --cafile FILE               trust these CAs instead of the system store\n"
    "  --insecure                  do not fail on an unverified certificate\n"
    "  --cert FILE, --key FILE     client certificate and key (PEM)\n"
    "  --sni NAME                  server name to send and verify (default --host)\n"
    "  --tls-min 1.2|1.3           minimum TLS version (default 1.2)\n"
    "Run values (the scripts' ${run}, ${rcpt}, ${from}):\n"
    "  --run-id WORD               unique name part for mailboxes the tests create\n"
    "  --rcpt ADDR                 SMTP recipient for transaction tests (default\n"
    "                              postmaster): they submit real messages to it\n"
    "  --mail-from ADDR            SMTP reverse-path (default: empty, the null path)\n";

void ms_cli_init(struct ms_cli *c, const char *cmd)
{
    memset(c, 0, sizeof(*c));
    c->cmd = cmd;
    ms_run_opts_default(&c->ro);
}

static int bad(const struct ms_cli *c, const char *opt, const char *why)
{
    fprintf(stderr, "mailspec %s: --%s: %s\n", c->cmd, opt, why);
    return -1;
}

/* A value pasted into SMTP paths and mailbox names: a plain word. */
static int plain_word(const char *v)
{
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x21 || *p == 0x7F || *p == '\\' || *p == '$' || *p == '>' ||
            *p == '<' || *p == '"')
            return 0;
    return 1;
}

int ms_cli_option(struct ms_cli *c, int code, const char *arg)
{
    struct ms_run_opts *o = &c->ro;
    uint64_t v;

    switch (code) {
    case MS_OPT_PROTOCOL:
        if (strcmp(arg, "smtp") != 0 && strcmp(arg, "pop3") != 0 && strcmp(arg, "imap") != 0)
            return bad(c, "protocol", "takes smtp, pop3 or imap");
        o->protocol = arg;
        return 1;
    case MS_OPT_HOST:
        if (!*arg)
            return bad(c, "host", "needs a name or address");
        o->host = arg;
        return 1;
    case MS_OPT_PORT:
        if (ms_number_parse(arg, strlen(arg), 65535, &v) != MS_OK || v == 0)
            return bad(c, "port", "takes a number from 1 to 65535");
        o->port = arg;
        return 1;
    case MS_OPT_TLS:
        if (ms_tls_mode_parse(arg, &o->tls) != 0)
            return bad(c, "tls", "takes none, starttls or implicit");
        return 1;
    case MS_OPT_USER:
        o->user = arg;
        return 1;
    case MS_OPT_PASSWORD:
        o->password = arg;
        return 1;
    case MS_OPT_PASSWORD_FILE:
        c->password_file = arg;
        return 1;
    case MS_OPT_CAFILE:
        o->tlso.cafile = arg;
        return 1;
    case MS_OPT_INSECURE:
        o->tlso.insecure = 1;
        return 1;
    case MS_OPT_CERT:
        o->tlso.cert = arg;
        return 1;
    case MS_OPT_KEY:
        o->tlso.key = arg;
        return 1;
    case MS_OPT_SNI:
        o->tlso.sni = arg;
        return 1;
    case MS_OPT_TLS_MIN:
        if (strcmp(arg, "1.2") != 0 && strcmp(arg, "1.3") != 0)
            return bad(c, "tls-min", "takes 1.2 or 1.3");
        o->tlso.min_version = arg[2] == '2' ? 12 : 13;
        return 1;
    case MS_OPT_TIMEOUT:
        if (ms_number_parse(arg, strlen(arg), 3600, &v) != MS_OK || v == 0)
            return bad(c, "timeout", "takes 1 to 3600 seconds");
        o->timeout_ms = (unsigned)v * 1000u;
        return 1;
    case MS_OPT_RUN_ID:
        if (!*arg || strlen(arg) > 32 || !plain_word(arg))
            return bad(c, "run-id", "takes a plain word of 1 to 32 characters");
        o->run_id = arg;
        return 1;
    case MS_OPT_RCPT:
        if (!*arg || !plain_word(arg))
            return bad(c, "rcpt", "takes a plain address (no spaces, '<', '>', '\\', '\"' or '$')");
        o->rcpt = arg;
        return 1;
    case MS_OPT_JSON:
        c->json = arg;
        return 1;
    case MS_OPT_JUNIT:
        c->junit = arg;
        return 1;
    case 'q':
        c->quiet += c->quiet < 2;
        return 1;
    case MS_OPT_SILENT:
        c->quiet = 2;
        return 1;
    case 'v':
        c->verbose = 1;
        return 1;
    case 'h':
        c->help = 1;
        return 1;
    case MS_OPT_MAIL_FROM:
        if (*arg && !plain_word(arg))
            return bad(c, "mail-from",
                       "takes a plain address (no spaces, '<', '>', '\\', '\"' or '$')");
        o->mail_from = arg;
        return 1;
    default:
        return 0;
    }
}

/* The first line of path (without its line end), malloc'd. */
static char *first_line(const struct ms_cli *c, const char *path)
{
    char *text = NULL;
    size_t len = 0;

    if (ms_read_file(path, &text, &len) != 0)
        return NULL;
    size_t n = 0;
    while (n < len && text[n] != '\n' && text[n] != '\r')
        n++;
    if (n == 0 || memchr(text, '\0', n)) {
        fprintf(stderr, "mailspec %s: --password-file %s: the first line is empty or binary\n",
                c->cmd, path);
        free(text);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

int ms_cli_finish(struct ms_cli *c)
{
    struct ms_run_opts *o = &c->ro;
    const char *env = getenv("MAILSPEC_PASSWORD");

    if (c->password_file && o->password) {
        fprintf(stderr, "mailspec %s: give --password or --password-file, not both\n", c->cmd);
        return -1;
    }
    if (c->password_file) {
        c->password_buf = first_line(c, c->password_file);
        if (!c->password_buf)
            return -1;
        o->password = c->password_buf;
    } else if (!o->password && env && *env && o->user) {
        o->password = env;
    }
    if (o->password && !o->user) {
        fprintf(stderr, "mailspec %s: a password without --user\n", c->cmd);
        return -1;
    }
    if (!o->port)
        o->port = ms_default_port(o->protocol, o->tls);
    if (!o->run_id) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(c->run_buf, sizeof(c->run_buf), "ms%lx%04lx",
                 (unsigned long)ts.tv_sec & 0xFFFFFFFu,
                 ((unsigned long)getpid() ^ (unsigned long)ts.tv_nsec) & 0xFFFFu);
        o->run_id = c->run_buf;
    }
    if (!o->rcpt)
        o->rcpt = "postmaster";
    if (!o->mail_from)
        o->mail_from = "";
    return 0;
}

void ms_cli_free(struct ms_cli *c)
{
    if (c->password_buf) {
        memset(c->password_buf, 0, strlen(c->password_buf));
        free(c->password_buf);
    }
    c->password_buf = NULL;
}

void ms_cli_bad_option(const char *cmd, int argc, char **argv)
{
    /* getopt_long printed what was wrong; point at the help instead of
     * repeating all of it */
    (void)argc;
    (void)argv;
    fprintf(stderr, "mailspec %s: see 'mailspec %s --help'\n", cmd, cmd);
}

void ms_cli_args(struct ms_cli *c, int argc, char **argv)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    c->started_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    c->argc = argc;
    c->argv = argv;
}

/* ---- the worker pool ---- */

struct pool {
    size_t n, next;
    volatile int *stop;
    void (*work)(void *, size_t);
    void (*done)(void *, size_t);
    void *ctx;
    pthread_mutex_t mu;
};

static void *pool_worker(void *arg)
{
    struct pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t i = p->next < p->n && !(p->stop && *p->stop) ? p->next++ : p->n;
        pthread_mutex_unlock(&p->mu);
        if (i >= p->n)
            return NULL;
        p->work(p->ctx, i);
        pthread_mutex_lock(&p->mu);
        if (p->done)
            p->done(p->ctx, i);
        pthread_mutex_unlock(&p->mu);
    }
}

void ms_pool_run(size_t n, unsigned jobs, volatile int *stop, void (*work)(void *, size_t),
                 void (*done)(void *, size_t), void *ctx)
{
    struct pool p = {n, 0, stop, work, done, ctx, PTHREAD_MUTEX_INITIALIZER};
    pthread_t th[64];
    size_t started = 0;

    for (unsigned j = 1; j < jobs && j < n && started < 64; j++)
        if (pthread_create(&th[started], NULL, pool_worker, &p) == 0)
            started++;
    pool_worker(&p);
    for (size_t j = 0; j < started; j++)
        pthread_join(th[j], NULL);
    pthread_mutex_destroy(&p.mu);
}

void ms_rng_seed(struct ms_rng *r, uint64_t seed)
{
    r->s = seed ? seed : 0x9E3779B97F4A7C15ull;
}

uint64_t ms_rng_next(struct ms_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

size_t ms_rng_below(struct ms_rng *r, size_t n)
{
    return n ? (size_t)(ms_rng_next(r) % n) : 0;
}
