/*
 * mailspec certify: run a protocol's conformance suite (one .session file per
 * test) against one server over one transport (docs/certify.md). This file
 * holds the options and the order of things; certify.h names the parts.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certify.h"
#include "cli.h"
#include "mailspec/mailspec.h"
#include "report.h"
#include "report_html.h"

static volatile int stop_flag;

static void on_sigint(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void certify_usage(FILE *f)
{
    fprintf(f,
            "usage: mailspec certify --protocol P --host H [OPTIONS]\n"
            "       mailspec certify --html-from A.json [B.json ...] --html OUT.html\n"
            "       mailspec certify --targets FILE --out DIR [OPTIONS]\n\n"
            "Run the protocol's conformance suite against one server over one transport.\n"
            "Before the suite, connect, greeting, TLS and login are checked once.\n"
            "SMTP: the transaction tests submit real messages to --rcpt (default postmaster);\n"
            "certify says how many before it starts.\n\n"
            "%s"
            "Suite:\n"
            "  --suite DIR                 directory of .session tests (default: the\n"
            "                              protocol's suite in $MAILSPEC_SUITES/, next to the\n"
            "                              binary in ../share/mailspec/suites/, or in the\n"
            "                              source tree's conformance/suites/)\n"
            "  --only PATTERN              only test ids equal to PATTERN, or starting with it\n"
            "                              when it ends in '*' (repeatable)\n"
            "  --expect-fail FILE          allow-list of known deviations: 'TEST-ID REASON'\n"
            "  --jobs N                    tests run at once, 1-16 (default 4, with --targets\n"
            "                              1; @serial and POP3 tests one by one at the end;\n"
            "                              a test blocked beside others runs again alone)\n"
            "  --list                      list the tests (generated ones too) and exit\n"
            "Reports ('-' is stdout, which then carries nothing else):\n"
            "  --json F, --junit F, --html F\n"
            "  --html-from F...            render the HTML report (--html) from JSON reports,\n"
            "                              e.g. one per transport: adds a compliance matrix\n"
            "  -q, --quiet                 print only the verdict line\n"
            "  -qq, --silent               print nothing but errors: the exit status tells\n"
            "  -v, --verbose               print the transcript of each failed test\n"
            "  -h, --help                  this help\n\n"
            "Exit status: 0 compliant (every MUST-level test that ran passed, and enough ran),\n"
            "1 a MUST-level test failed, 2 usage, connection or harness error (or interrupted),\n"
            "3 no greeting or not a server of --protocol, 4 TLS failed, 5 login failed,\n"
            "6 incomplete: no MUST failure, but MUST tests were blocked or fewer than half\n"
            "of those that apply ran. See docs/certify.md.\n",
            ms_cli_conn_usage);
    certify_targets_usage(f);
}

enum {
    OPT_SUITE = MS_OPT_CONN_LAST,
    OPT_ONLY,
    OPT_EXPECT,
    OPT_JOBS,
    OPT_LIST,
    OPT_HTML,
    OPT_HTML_FROM
};

static const struct option certify_options[] = {
    MS_CLI_CONN_OPTIONS,
    CERT_TARGETS_OPTIONS,
    {"suite", required_argument, NULL, OPT_SUITE},
    {"only", required_argument, NULL, OPT_ONLY},
    {"expect-fail", required_argument, NULL, OPT_EXPECT},
    {"jobs", required_argument, NULL, OPT_JOBS},
    {"list", no_argument, NULL, OPT_LIST},
    {"html", required_argument, NULL, OPT_HTML},
    {"html-from", no_argument, NULL, OPT_HTML_FROM},
    {NULL, 0, NULL, 0},
};

/* Options; returns -1 to go on, else the exit code. */
static int parse_options(struct certify *c, int argc, char **argv, int *html_from)
{
    int code;
    uint64_t v;

    opterr = 1;
    optind = 1;
    while ((code = getopt_long(argc, argv, "qvh", certify_options, NULL)) != -1) {
        int r = ms_cli_option(&c->cli, code, optarg);
        if (r < 0)
            return MS_EXIT_USAGE;
        if (r > 0)
            continue;
        switch (code) {
        case OPT_SUITE:
            c->suite = optarg;
            break;
        case OPT_ONLY:
            if (c->nonly == CERT_MAX_ONLY) {
                fprintf(stderr, "mailspec certify: at most %d --only\n", CERT_MAX_ONLY);
                return MS_EXIT_USAGE;
            }
            c->only[c->nonly++] = optarg;
            break;
        case OPT_EXPECT:
            c->expect_path = optarg;
            break;
        case OPT_JOBS:
            if (ms_number_parse(optarg, strlen(optarg), CERT_MAX_JOBS, &v) != MS_OK || v == 0) {
                fprintf(stderr, "mailspec certify: --jobs: takes a number from 1 to %d\n",
                        CERT_MAX_JOBS);
                return MS_EXIT_USAGE;
            }
            c->jobs = (unsigned)v;
            break;
        case OPT_LIST:
            c->list = 1;
            break;
        case OPT_HTML:
            c->html = optarg;
            break;
        case OPT_HTML_FROM:
            *html_from = 1;
            break;
        default:
            if ((r = certify_targets_option(code, optarg)) > 0)
                break;
            if (r == 0)
                ms_cli_bad_option("certify", argc, argv);
            return MS_EXIT_USAGE;
        }
    }
    if (c->cli.help) {
        certify_usage(stdout);
        return MS_EXIT_OK;
    }
    c->rcpt_given = c->cli.ro.rcpt != NULL;
    c->quiet = c->cli.quiet;
    c->verbose = c->cli.verbose;
    c->json = c->cli.json;
    c->junit = c->cli.junit;
    return -1;
}

/* At most one report on stdout, and then the human output goes to stderr. */
static int check_outputs(struct certify *c)
{
    int on_stdout = (c->json && strcmp(c->json, "-") == 0) +
                    (c->junit && strcmp(c->junit, "-") == 0) +
                    (c->html && strcmp(c->html, "-") == 0);
    if (on_stdout > 1) {
        fprintf(stderr, "mailspec certify: only one of --json, --junit, --html can be '-'\n");
        return -1;
    }
    c->out = on_stdout ? stderr : stdout;
    return 0;
}

/* SMTP: the messages the suite will submit, and to whom, before it does. */
static void announce_messages(const struct certify *c)
{
    size_t n = certify_messages_planned(c);
    const struct ms_run_opts *o = &c->cli.ro;

    if (n)
        fprintf(stderr,
                "mailspec certify: the tests will submit up to %zu message%s to <%s>%s, from "
                "<%s>; change the recipient with --rcpt ADDR, the sender with --mail-from ADDR\n",
                n, n == 1 ? "" : "s", o->rcpt, c->rcpt_given ? "" : " (the default recipient)",
                o->mail_from);
}

static int run(struct certify *c)
{
    if (c->expect_path && ms_expect_load(c->expect_path, &c->expect) != 0)
        return MS_EXIT_USAGE;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_sigint);
    certify_preflight(c);
    if (c->pf.exit) {
        signal(SIGINT, SIG_DFL);
        fprintf(stderr, "mailspec certify: %s\n", c->pf.why);
        fprintf(stderr, "mailspec certify: no test was run (exit %d: see docs/certify.md)\n",
                c->pf.exit);
        return c->pf.exit;
    }
    if (!c->quiet) {
        size_t planned = c->n;
        for (int v = 0; c->cli.ro.tls != MS_TLS_NONE && v < CERT_PROBE_TESTS; v++)
            planned += (size_t)c->probe_selected[v];
        fprintf(c->out, "mailspec certify: %zu %s tests from %s against %s:%s (%s)\n", planned,
                c->protocol, c->suite_dir, c->cli.ro.host, c->cli.ro.port,
                ms_tls_mode_name(c->cli.ro.tls));
        if (c->pf.policy[0])
            fprintf(c->out, "mailspec certify: login: %s\n", c->pf.policy);
        announce_messages(c);
    }
    uint64_t t0 = ms_now_ms();
    certify_run_all(c);
    signal(SIGINT, SIG_DFL);
    if (!stop_flag)
        certify_tls_probe(c);
    uint64_t elapsed = ms_now_ms() - t0;
    if (!c->quiet)
        certify_summary(c, elapsed);
    else if (c->quiet == 1)
        certify_verdict_line(c);
    for (size_t i = 0; !c->quiet && i < c->expect.n; i++)
        if (!c->expect.e[i].hits)
            fprintf(c->out, "  note: --expect-fail line %zu (%s) matches no test\n",
                    c->expect.e[i].line, c->expect.e[i].pattern);
    int rc = certify_exit_code(c);
    if (certify_write_reports(c, elapsed) != 0)
        rc = MS_EXIT_USAGE;
    if (stop_flag) {
        fprintf(stderr, "mailspec certify: interrupted\n");
        rc = MS_EXIT_USAGE;
    }
    return rc;
}

/* Tests at once by default: scripts never share a mailbox (${run} has a part
 * of each script's own) and tests that must run alone run after the others
 * (certify_plan.c), so parallel is safe; 4 sessions of one user is what
 * servers allow per IP by default (Dovecot mail_max_userip_connections 10). */
#define CERT_DEFAULT_JOBS 4

/*
 * --jobs when not given: CERT_DEFAULT_JOBS, but 1 with --targets (in the
 * parent and in each target's child, which gets the same arguments): there
 * the targets run side by side instead, one per host at a time by default
 * (docs/certify.md "Many servers").
 */
static unsigned default_jobs(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--targets") == 0 || strncmp(argv[i], "--targets=", 10) == 0)
            return 1;
    }
    return CERT_DEFAULT_JOBS;
}

int ms_cmd_certify(int argc, char **argv)
{
    struct certify c;
    int html_from = 0, rc;

    memset(&c, 0, sizeof(c));
    ms_cli_init(&c.cli, "certify");
    ms_cli_args(&c.cli, argc, argv);
    c.stop = &stop_flag;
    c.cli.ro.stop = &stop_flag;
    if ((rc = parse_options(&c, argc, argv, &html_from)) >= 0)
        return rc;
    if (!c.jobs)
        c.jobs = default_jobs(argc, argv);
    if (certify_targets_requested())
        return certify_targets_run(&c, html_from, argc, argv);
    if (html_from) {
        if (!c.html) {
            fprintf(stderr, "mailspec certify: --html-from needs --html OUT\n");
            return MS_EXIT_USAGE;
        }
        if (optind >= argc) {
            fprintf(stderr, "mailspec certify: --html-from needs JSON report files\n");
            return MS_EXIT_USAGE;
        }
        return ms_html_from_files(c.html, (const char *const *)argv + optind,
                                  (size_t)(argc - optind)) == 0
                   ? MS_EXIT_OK
                   : MS_EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "mailspec certify: unexpected argument '%s' (see --help)\n", argv[optind]);
        return MS_EXIT_USAGE;
    }
    c.protocol = c.cli.ro.protocol;
    if (!c.protocol) {
        fprintf(stderr, "mailspec certify: --protocol smtp, pop3 or imap is required\n");
        return MS_EXIT_USAGE;
    }
    if (!c.list && !c.cli.ro.host) {
        fprintf(stderr, "mailspec certify: --host is required\n");
        return MS_EXIT_USAGE;
    }
    if (check_outputs(&c) != 0 || ms_cli_finish(&c.cli) != 0)
        return MS_EXIT_USAGE;
    if (c.cli.ro.user && !c.cli.ro.password) {
        fprintf(stderr, "mailspec certify: --user needs a password (--password, --password-file "
                        "or MAILSPEC_PASSWORD)\n");
        ms_cli_free(&c.cli);
        return MS_EXIT_USAGE;
    }
    rc = MS_EXIT_USAGE;
    if (certify_find_suite(&c) == 0 && certify_load_plan(&c) == 0 && certify_apply_only(&c) == 0)
        rc = c.list ? certify_list(&c) : run(&c);
    for (size_t i = 0; i < c.n; i++) {
        if (c.t[i].ran)
            ms_test_result_free(&c.t[i].r);
        free(c.t[i].path);
    }
    free(c.t);
    free(c.pf.caps);
    ms_expect_free(&c.expect);
    ms_cli_free(&c.cli);
    return rc;
}
