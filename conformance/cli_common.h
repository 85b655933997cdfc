/*
 * What certify and replay share on their command lines: one getopt_long
 * table for the connection, TLS, credential and run-value options, one
 * handler, one error style ("mailspec CMD: --opt: reason"), and one worker
 * pool. `--opt=value` and `--opt value` both work.
 */
#ifndef MAILSPEC_CLI_COMMON_H
#define MAILSPEC_CLI_COMMON_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include "runner.h"

/* Option codes above the char range: long options only. */
enum {
    MS_OPT_PROTOCOL = 0x100,
    MS_OPT_HOST,
    MS_OPT_PORT,
    MS_OPT_TLS,
    MS_OPT_USER,
    MS_OPT_PASSWORD,
    MS_OPT_PASSWORD_FILE,
    MS_OPT_CAFILE,
    MS_OPT_INSECURE,
    MS_OPT_CERT,
    MS_OPT_KEY,
    MS_OPT_SNI,
    MS_OPT_TLS_MIN,
    MS_OPT_TIMEOUT,
    MS_OPT_RUN_ID,
    MS_OPT_RCPT,
    MS_OPT_MAIL_FROM,
    MS_OPT_JSON,
    MS_OPT_JUNIT,
    MS_OPT_SILENT,
    MS_OPT_CONN_LAST /* commands number their own options from here */
};

/* The shared entries of a command's getopt_long table (no terminator):
 * those every command that talks to a server takes (record too), then the
 * client's (certify, replay). */
/* clang-format off */
#define MS_CLI_PEER_OPTIONS                                          \
    {"protocol", required_argument, NULL, MS_OPT_PROTOCOL},          \
    {"tls", required_argument, NULL, MS_OPT_TLS},                    \
    {"cafile", required_argument, NULL, MS_OPT_CAFILE},              \
    {"insecure", no_argument, NULL, MS_OPT_INSECURE},                \
    {"cert", required_argument, NULL, MS_OPT_CERT},                  \
    {"key", required_argument, NULL, MS_OPT_KEY},                    \
    {"quiet", no_argument, NULL, 'q'},                               \
    {"help", no_argument, NULL, 'h'}
#define MS_CLI_CONN_OPTIONS                                          \
    MS_CLI_PEER_OPTIONS,                                             \
    {"host", required_argument, NULL, MS_OPT_HOST},                  \
    {"port", required_argument, NULL, MS_OPT_PORT},                  \
    {"user", required_argument, NULL, MS_OPT_USER},                  \
    {"password", required_argument, NULL, MS_OPT_PASSWORD},          \
    {"password-file", required_argument, NULL, MS_OPT_PASSWORD_FILE},\
    {"sni", required_argument, NULL, MS_OPT_SNI},                    \
    {"tls-min", required_argument, NULL, MS_OPT_TLS_MIN},            \
    {"min-tls", required_argument, NULL, MS_OPT_TLS_MIN},            \
    {"timeout", required_argument, NULL, MS_OPT_TIMEOUT},            \
    {"run-id", required_argument, NULL, MS_OPT_RUN_ID},              \
    {"rcpt", required_argument, NULL, MS_OPT_RCPT},                  \
    {"mail-from", required_argument, NULL, MS_OPT_MAIL_FROM},        \
    {"json", required_argument, NULL, MS_OPT_JSON},                  \
    {"junit", required_argument, NULL, MS_OPT_JUNIT},                \
    {"verbose", no_argument, NULL, 'v'},                             \
    {"silent", no_argument, NULL, MS_OPT_SILENT}
/* clang-format on */

/* The usage lines of the shared options. */
extern const char ms_cli_conn_usage[];

struct ms_cli {
    const char *cmd; /* "certify", "replay": for messages */
    struct ms_run_opts ro;
    const char *password_file;
    char *password_buf; /* read from --password-file (freed by ms_cli_free) */
    char run_buf[40];
    const char *json, *junit; /* report files ("-": stdout) */
    int quiet;                /* 1 (-q): one summary line; 2 (-qq, --silent): nothing but errors */
    int verbose, help;
    /* The command line and when the command started, for the reports
     * (ms_cli_args). getopt_long permutes argv in place (operands after the
     * options, each option next to its value): the same command. */
    int argc;
    char *const *argv;
    uint64_t started_ms; /* wall clock, ms since the epoch */
};

void ms_cli_init(struct ms_cli *c, const char *cmd);
/*
 * Handle option code with argument arg (the shared ones, and -q, -v, -h,
 * --json, --junit). Returns 1 when it was a shared option, 0 when it is not
 * one, -1 on a bad value (message printed).
 */
int ms_cli_option(struct ms_cli *c, int code, const char *arg);
/*
 * After the options: the password from --password-file or MAILSPEC_PASSWORD,
 * the default port, a run id. Returns 0, or -1 (message printed).
 */
int ms_cli_finish(struct ms_cli *c);
void ms_cli_free(struct ms_cli *c);

/* Keep the command line (argv[0] is the subcommand) and the start time for
 * the reports. */
void ms_cli_args(struct ms_cli *c, int argc, char **argv);

/* An unknown option or missing value, as getopt_long reported it: one line and a hint. */
void ms_cli_bad_option(const char *cmd, int argc, char **argv);

/*
 * Run work(ctx, i) for i in [0, n) on up to jobs threads; done(ctx, i) is
 * called under one lock, in completion order. Stops handing out work once
 * *stop is set.
 */
void ms_pool_run(size_t n, unsigned jobs, volatile int *stop, void (*work)(void *, size_t),
                 void (*done)(void *, size_t), void *ctx);

/* A deterministic generator (xorshift64*) for runs repeatable with --seed
 * (fuzz-server's mutations, stress's command mix); seed 0 is replaced by a
 * fixed non-zero value. */
struct ms_rng {
    uint64_t s;
};
void ms_rng_seed(struct ms_rng *r, uint64_t seed);
uint64_t ms_rng_next(struct ms_rng *r);
/* Uniform enough in [0, n); 0 when n is 0. */
size_t ms_rng_below(struct ms_rng *r, size_t n);

#endif
