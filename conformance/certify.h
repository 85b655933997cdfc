/*
 * mailspec certify, in four parts:
 *   cmd_certify.c        options and the order of things
 *   certify_plan.c       the suite: finding, listing and running its tests
 *   certify_preflight.c  connect, greeting, TLS and login checked once before
 *                        the suite; the TLS-version probe after it
 *   certify_report.c     the verdict, the terminal summary, the reports
 */
#ifndef MAILSPEC_CERTIFY_H
#define MAILSPEC_CERTIFY_H

#include <limits.h>
#include <stdio.h>

#include "cli_common.h"
#include "expect.h"
#include "runner.h"

#define CERT_MAX_TESTS    2000
#define CERT_MAX_ONLY     32
#define CERT_MAX_JOBS     16
#define CERT_TLS_VERSIONS 4
#define CERT_PROBE_TESTS  2 /* the tests the TLS-version probe generates */

/* A test the harness generates rather than reads from the suite (the
 * TLS-version probe's): listed by --list and chosen by --only like any other. */
struct cert_generated {
    const char *suffix; /* the id after "<protocol>." */
    const char *title, *rfc, *quote, *finding;
};

struct cert_test {
    char *path;
    struct ms_test_result r;
    const char *xfail; /* allow-list reason when the id is listed */
    int ran;
    int rerun; /* blocked while other tests ran beside it: runs again alone */
};

/* What the pre-flight learnt (certify_preflight.c). */
struct cert_preflight {
    int exit;              /* 0, or MS_EXIT_USAGE/GREETING/TLS/LOGIN: the run stops */
    char why[1200];        /* the plain message for that exit */
    char *caps;            /* the capabilities the server announced on this transport */
    int login_checked;     /* the credentials were accepted */
    int cleartext_refused; /* login works only inside TLS: tests that log in are n/a */
    char policy[300];      /* what the server said about cleartext login, for the report */
};

struct certify {
    struct ms_cli cli; /* connection options; cli.ro is the runner's */
    const char *protocol, *suite, *expect_path;
    const char *json, *junit, *html;
    const char *only[CERT_MAX_ONLY];
    size_t nonly;
    unsigned jobs;
    int list, verbose;
    int quiet;      /* 1 (-q): only the verdict line; 2 (-qq, --silent): only errors */
    int rcpt_given; /* --rcpt was on the command line */
    FILE *out;      /* the human output: stdout, or stderr when a report goes to stdout */
    /* the plan */
    struct cert_test *t;
    size_t n;
    struct ms_expect expect;
    char suite_dir[PATH_MAX];
    size_t done;
    volatile int *stop;
    struct cert_preflight pf;
    /* accepted TLS versions: 1 yes, 0 no, -1 unknown */
    int tls_ok[CERT_TLS_VERSIONS];
    int tls_probed;
    int probe_selected[CERT_PROBE_TESTS]; /* --only chose it (every one without --only) */
};

/* certify_plan.c */
/* The suite directory (--suite, $MAILSPEC_SUITES, next to the binary, the
 * source tree); -1 with a message saying where it looked. */
int certify_find_suite(struct certify *c);
int certify_load_plan(struct certify *c);
int certify_list(struct certify *c);
/* Drop the tests --only does not name (generated ones included); -1 when a
 * pattern matches nothing or nothing would run. */
int certify_apply_only(struct certify *c);
void certify_run_all(struct certify *c);
/* SMTP: how many messages the chosen tests may submit to --rcpt on this
 * transport at most (a DATA or BDAT LAST after a RCPT TO:<${rcpt}>, times the
 * branches of the script's @either, each of which may run); 0 for the others. */
size_t certify_messages_planned(const struct certify *c);

/* certify_mime.c: the MIME oracle (docs/mime-oracle.md), tests generated
 * from messages certify builds, named by a path "mime:<id>". */
/* Append the oracle's tests to the plan (IMAP with the default suite); -1 on
 * out of memory. */
int certify_mime_add(struct certify *c);
/* path names an oracle test. */
int certify_mime_path(const char *path);
/* The generated script of oracle test path (NULL with se filled in). */
struct ms_script *certify_mime_script(const char *path, struct ms_script_error *se);
/* Run it like ms_run_script, then judge the server's typed FETCH/SEARCH answers. */
void certify_mime_run(const struct ms_script *s, const char *path, const struct ms_run_opts *o,
                      struct ms_test_result *r);

/* certify_preflight.c */
void certify_preflight(struct certify *c);
void certify_tls_probe(struct certify *c);
extern const char *const certify_tls_version_names[CERT_TLS_VERSIONS];
extern const struct cert_generated certify_probe_tests[CERT_PROBE_TESTS];
/* "<protocol>.<suffix>" of generated test i. */
void certify_probe_id(const struct certify *c, int i, char *out, size_t cap);

/* certify_report.c */
int certify_exit_code(const struct certify *c);
void certify_summary(const struct certify *c, uint64_t ms);
/* -q: the verdict alone, on one line. */
void certify_verdict_line(const struct certify *c);
int certify_write_reports(const struct certify *c, uint64_t ms);
/* A test's result as the allow-list sees it: fail/error that it does not excuse. */
int certify_counts_as_failure(const struct cert_test *t);

/* certify_targets.c: --targets FILE, many servers in one run, each in a
 * child process running the one-server certify (docs/certify.md "Many
 * servers"). Its options enter certify's getopt_long table here. */
enum {
    CERT_OPT_TARGETS = 0x300,
    CERT_OPT_OUT,
    CERT_OPT_PARALLEL,
    CERT_OPT_PER_HOST,
    CERT_OPT_TARGET_TIMEOUT
};
/* clang-format off */
#define CERT_TARGETS_OPTIONS                                              \
    {"targets", required_argument, NULL, CERT_OPT_TARGETS},               \
    {"out", required_argument, NULL, CERT_OPT_OUT},                       \
    {"parallel", required_argument, NULL, CERT_OPT_PARALLEL},             \
    {"per-host", required_argument, NULL, CERT_OPT_PER_HOST},             \
    {"target-timeout", required_argument, NULL, CERT_OPT_TARGET_TIMEOUT}
/* clang-format on */
/* 1 an option of --targets (stored), 0 not one, -1 a bad value (message printed). */
int certify_targets_option(int code, const char *arg);
/* --targets was given (and this is not already one target's run). */
int certify_targets_requested(void);
/* After the options: run every target; the exit status. */
int certify_targets_run(struct certify *c, int html_from, int argc, char **argv);
/* The help lines of those options. */
void certify_targets_usage(FILE *f);

#endif
