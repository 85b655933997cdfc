/*
 * mailspec replay FILE|DIR...: run session scripts against a server
 * (docs/replay.md). Every script is parsed before anything runs; a malformed
 * one is a usage error naming file, line and column.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_common.h"
#include "json.h"
#include "mailspec/mailspec.h"
#include "mailspec/script.h"
#include "report.h"
#include "runner.h"

#define MAX_SCRIPTS 100000

static volatile int stop_flag; /* int: the runner's stop pointer; set by SIGINT */

static void on_sigint(int sig)
{
    (void)sig;
    stop_flag = 1;
}

struct item {
    char *path;
    struct ms_script *s;
    struct ms_test_result r;
    int finished;
};

struct pool {
    struct item *items;
    size_t n, done;
    const struct ms_run_opts *o;
    int color, verbose, quiet;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mailspec replay [OPTIONS] FILE|DIR...\n\n"
            "Run .session scripts (directories: every *.session below them, sorted) against\n"
            "a server and report each script's result. Suite files replay exactly as\n"
            "`mailspec certify` runs them (same variables, phases, @login).\n\n"
            "%s"
            "  --lenient FLAG              accept one deviation in every script (repeatable)\n"
            "Run:\n"
            "  --jobs N                    run N scripts at once (default 1)\n"
            "  --list                      parse the scripts, print their ids, run nothing\n"
            "  -q, --quiet                 only the summary line, no progress lines\n"
            "  -qq, --silent               print nothing but errors: the exit status tells\n"
            "  -v, --verbose               whole transcripts\n"
            "Reports ('-' is stdout, which then carries nothing else):\n"
            "  --json FILE, --junit FILE   written atomically, also after Ctrl-C\n"
            "  --html FILE                 not in replay: use `mailspec certify --html-from`\n\n"
            "Exit status: 0 every MUST-level script that ran passed and enough ran, 1 a\n"
            "MUST-level script failed, 2 usage error, a harness error or interrupted,\n"
            "6 incomplete (no script ran, say every one was not-applicable to --tls; MUST\n"
            "scripts blocked; or fewer than half of them ran).\n",
            ms_cli_conn_usage);
}

static int add_path(struct item **items, size_t *n, size_t *cap, const char *path)
{
    if (*n >= MAX_SCRIPTS) {
        fprintf(stderr, "mailspec replay: more than %d scripts\n", MAX_SCRIPTS);
        return -1;
    }
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        struct item *ni = realloc(*items, nc * sizeof(*ni));
        if (!ni)
            return -1;
        *items = ni;
        *cap = nc;
    }
    memset(&(*items)[*n], 0, sizeof(**items));
    size_t l = strlen(path);
    (*items)[*n].path = malloc(l + 1);
    if (!(*items)[*n].path)
        return -1;
    memcpy((*items)[*n].path, path, l + 1);
    (*n)++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Add path (a file, or every *.session below a directory, sorted). */
static int collect(struct item **items, size_t *n, size_t *cap, const char *path, int depth)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "mailspec replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return add_path(items, n, cap, path);
    if (depth > 16)
        return 0;
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "mailspec replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t nn = 0, nc = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t l = strlen(path) + strlen(e->d_name) + 2;
        char *full = malloc(l);
        if (!full) {
            rc = -1;
            break;
        }
        snprintf(full, l, "%s/%s", path, e->d_name);
        if (nn == nc) {
            nc = nc ? nc * 2 : 32;
            char **nnames = realloc(names, nc * sizeof(*names));
            if (!nnames) {
                free(full);
                rc = -1;
                break;
            }
            names = nnames;
        }
        names[nn++] = full;
    }
    closedir(d);
    if (nn)
        qsort(names, nn, sizeof(*names), cmp_str);
    for (size_t i = 0; i < nn; i++) {
        struct stat s2;
        size_t l = strlen(names[i]);
        if (rc == 0 && stat(names[i], &s2) == 0) {
            if (S_ISDIR(s2.st_mode))
                rc = collect(items, n, cap, names[i], depth + 1);
            else if (l > 8 && strcmp(names[i] + l - 8, ".session") == 0)
                rc = add_path(items, n, cap, names[i]);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

static void work(void *ctx, size_t i)
{
    struct pool *p = ctx;
    struct item *it = &p->items[i];
    ms_run_script(it->s, it->path, p->o, &it->r);
}

static void work_done(void *ctx, size_t i)
{
    struct pool *p = ctx;
    struct item *it = &p->items[i];
    /* a test cut short by Ctrl-C did not finish: it is not reported */
    it->finished = !(it->r.interrupted && it->r.result == MS_RES_ERROR);
    if (it->finished) {
        p->done++;
        if (!p->quiet) {
            ms_report_progress(stderr, &it->r, p->done, p->n, p->color, p->verbose);
            fflush(stderr);
        }
    }
}

enum { OPT_LENIENT = MS_OPT_CONN_LAST, OPT_JOBS, OPT_LIST, OPT_HTML };

static const struct option replay_options[] = {
    MS_CLI_CONN_OPTIONS,
    {"lenient", required_argument, NULL, OPT_LENIENT},
    {"jobs", required_argument, NULL, OPT_JOBS},
    {"list", no_argument, NULL, OPT_LIST},
    {"html", required_argument, NULL, OPT_HTML},
    {NULL, 0, NULL, 0},
};

/* Parse every script before anything runs: a malformed one means nothing runs. */
static int parse_all(struct item *items, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        char *text;
        size_t len;
        struct ms_script_error err;
        if (ms_read_file(items[i].path, &text, &len) != 0) {
            bad = 1;
            continue;
        }
        items[i].s = ms_script_parse(text, len, &err);
        free(text);
        if (!items[i].s) {
            fprintf(stderr, "%s:%zu:%zu: error: %s\n", items[i].path, err.line, err.col,
                    err.reason);
            bad = 1;
        }
    }
    if (bad)
        fprintf(stderr, "mailspec replay: no test was run (fix the scripts above)\n");
    return bad ? -1 : 0;
}

/* One protocol for the run: --protocol, or what every script says (NULL: mixed). */
static const char *run_protocol(const struct ms_run_opts *o, const struct item *items, size_t n)
{
    const char *proto = o->protocol;
    if (proto)
        return proto;
    for (size_t i = 0; i < n; i++) {
        const char *sp = items[i].s->protocol;
        if (!sp[0] || (proto && strcmp(proto, sp) != 0))
            return NULL;
        proto = sp;
    }
    return proto;
}

/* Ctrl-C and SIGTERM stop the run; a second one ends the process at once. */
static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sa.sa_flags = (int)SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* a server that closes while we write must be a result, not SIGPIPE
     * (OpenSSL writes with write(2), without MSG_NOSIGNAL) */
    signal(SIGPIPE, SIG_IGN);
}

/* When no script ran (passed or failed), the exit status alone would not say why. */
static void say_nothing_ran(const struct ms_report *rep, int rc)
{
    struct ms_summary s;

    ms_report_summarize(rep, &s);
    if (s.by[MS_RES_PASS] + s.by[MS_RES_FAIL] || rc != MS_EXIT_INCOMPLETE)
        return;
    fprintf(stderr,
            "mailspec replay: no script ran (%zu not applicable, %zu not supported, %zu "
            "blocked): exit %d, incomplete\n",
            s.by[MS_RES_NA], s.by[MS_RES_NOT_SUPPORTED], s.by[MS_RES_BLOCKED], rc);
}

/* The directories the scripts were named by (a directory operand, or a file
 * operand's directory): the report shows paths relative to them. */
static char **script_bases(char *const *ops, size_t n)
{
    char **b = calloc(n ? n : 1, sizeof(*b));
    for (size_t i = 0; b && i < n; i++) {
        struct stat st;
        const char *slash = strrchr(ops[i], '/');
        size_t l = stat(ops[i], &st) == 0 && S_ISDIR(st.st_mode) ? strlen(ops[i])
                   : slash                                       ? (size_t)(slash - ops[i])
                                                                 : 0;
        b[i] = malloc(l + 1);
        if (b[i]) {
            memcpy(b[i], ops[i], l);
            b[i][l] = '\0';
        }
    }
    return b;
}

struct replay_args {
    const char *json, *junit;
    uint64_t jobs;
    int list, quiet, verbose;
};

/* The options; -1 to go on, else the exit code. */
static int replay_options_parse(struct ms_cli *cli, struct replay_args *ra, int argc, char **argv)
{
    int code;

    optind = 1;
    while ((code = getopt_long(argc, argv, "qvh", replay_options, NULL)) != -1) {
        int r = ms_cli_option(cli, code, optarg);
        if (r < 0)
            return MS_EXIT_USAGE;
        if (r > 0)
            continue;
        switch (code) {
        case OPT_HTML:
            fprintf(stderr, "mailspec replay: --html is provided by `mailspec certify` "
                            "(render a replay's --json with --html-from)\n");
            return MS_EXIT_USAGE;
        case OPT_JOBS:
            if (ms_number_parse(optarg, strlen(optarg), 64, &ra->jobs) != MS_OK || ra->jobs == 0) {
                fprintf(stderr, "mailspec replay: --jobs: takes 1 to 64\n");
                return MS_EXIT_USAGE;
            }
            break;
        case OPT_LENIENT: {
            uint32_t f = ms_lenient_flag(optarg);
            if (!f) {
                fprintf(stderr, "mailspec replay: --lenient: unknown flag '%s'\n", optarg);
                return MS_EXIT_USAGE;
            }
            cli->ro.lim.lenient |= f;
            break;
        }
        case OPT_LIST:
            ra->list = 1;
            break;
        default:
            ms_cli_bad_option("replay", argc, argv);
            return MS_EXIT_USAGE;
        }
    }
    if (cli->help) {
        usage(stdout);
        return MS_EXIT_OK;
    }
    ra->quiet = cli->quiet;
    ra->verbose = cli->verbose;
    ra->json = cli->json;
    ra->junit = cli->junit;
    return -1;
}

int ms_cmd_replay(int argc, char **argv)
{
    struct ms_cli cli;
    struct ms_run_opts *o = &cli.ro;
    struct replay_args ra = {NULL, NULL, 1, 0, 0, 0};
    int rc = MS_EXIT_USAGE;
    struct item *items = NULL;
    size_t n = 0, cap = 0;

    ms_cli_init(&cli, "replay");
    ms_cli_args(&cli, argc, argv);
    if ((rc = replay_options_parse(&cli, &ra, argc, argv)) >= 0)
        goto out;
    rc = MS_EXIT_USAGE;
    if (optind >= argc) {
        usage(stderr);
        goto out;
    }
    if ((ra.json && strcmp(ra.json, "-") == 0) && (ra.junit && strcmp(ra.junit, "-") == 0)) {
        fprintf(stderr, "mailspec replay: only one of --json and --junit can be '-'\n");
        goto out;
    }
    for (int i = optind; i < argc; i++)
        if (collect(&items, &n, &cap, argv[i], 0) != 0)
            goto out;
    if (n == 0) {
        fprintf(stderr, "mailspec replay: no .session files found\n");
        goto out;
    }

    if (parse_all(items, n) != 0)
        goto out;
    if (ra.list) {
        for (size_t i = 0; i < n; i++)
            printf("%s\t%s\t%s\t%s\t%s\n", items[i].path, items[i].s->id,
                   ms_level_name(items[i].s->level), items[i].s->rfc, items[i].s->title);
        rc = MS_EXIT_OK;
        goto out;
    }
    const char *proto = run_protocol(o, items, n);
    if (!o->port && proto)
        o->port = ms_default_port(proto, o->tls);
    if (ms_cli_finish(&cli) != 0)
        goto out;
    if (!o->port) {
        fprintf(stderr, "mailspec replay: give --port (or --protocol, for its default port)\n");
        goto out;
    }

    catch_signals();
    o->stop = &stop_flag;

    struct pool pool;
    memset(&pool, 0, sizeof(pool));
    pool.items = items;
    pool.n = n;
    pool.o = o;
    pool.color = ms_use_color(stderr);
    pool.verbose = ra.verbose;
    pool.quiet = ra.quiet;
    uint64_t start = ms_now_ms();
    if (!ra.quiet)
        fprintf(stderr, "mailspec replay: %zu script(s) against %s port %s (--tls %s)\n", n,
                o->host, o->port, ms_tls_mode_name(o->tls));
    ms_pool_run(n, (unsigned)ra.jobs, &stop_flag, work, work_done, &pool);

    /* The finished tests, in input order. */
    struct ms_test_result *res = calloc(n, sizeof(*res));
    size_t nres = 0;
    if (!res) {
        fprintf(stderr, "mailspec replay: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (items[i].finished)
            res[nres++] = items[i].r;
    struct ms_report rep;
    memset(&rep, 0, sizeof(rep));
    rep.command = "replay";
    rep.protocol = proto ? proto : "";
    rep.host = o->host;
    rep.port = o->port;
    rep.tls = o->tls;
    rep.tests = res;
    rep.n = nres;
    rep.planned = n;
    rep.interrupted = stop_flag;
    rep.duration_ms = ms_now_ms() - start;
    if (ra.quiet < 2)
        ms_report_summary_line(stderr, &rep, pool.color);
    rc = ms_report_exit_code(&rep);
    if (!ra.quiet)
        say_nothing_ran(&rep, rc);
    rep.cli = &cli;
    char **bases = script_bases(argv + optind, (size_t)(argc - optind));
    rep.bases = (const char *const *)bases;
    rep.nbases = bases ? (size_t)(argc - optind) : 0;
    if (ra.json || ra.junit) {
        struct ms_json *doc = ms_report_doc(&rep);
        if (!doc || (ra.json && ms_report_write_json(doc, ra.json) != 0) ||
            (ra.junit && ms_report_write_junit(doc, ra.junit) != 0))
            rc = MS_EXIT_USAGE;
        ms_json_free(doc);
    }
    for (size_t i = 0; i < rep.nbases; i++)
        free(bases[i]);
    free(bases);
    free(res);
out:
    for (size_t i = 0; i < n; i++) {
        free(items[i].path);
        ms_script_free(items[i].s);
        ms_test_result_free(&items[i].r);
    }
    free(items);
    ms_cli_free(&cli);
    return rc;
}
