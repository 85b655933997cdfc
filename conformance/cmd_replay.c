/*
 * mailspec replay FILE|DIR...: run session scripts against a server
 * (docs/replay.md). Every script is parsed before anything runs; a malformed
 * one is a usage error naming file, line and column.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
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
    size_t n, next, done;
    const struct ms_run_opts *o;
    pthread_mutex_t mu;
    int color, verbose, quiet;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mailspec replay [OPTIONS] FILE|DIR...\n\n"
            "Run .session scripts (directories: every *.session below them, sorted) against\n"
            "a server and report pass/fail/skip/error per script.\n\n"
            "Server:\n"
            "  --protocol smtp|pop3|imap   default: the scripts' @protocol\n"
            "  --host HOST                 default 127.0.0.1 (name, IPv4 or IPv6)\n"
            "  --port PORT                 default: the protocol's port for --tls\n"
            "  --tls none|starttls|implicit\n"
            "                              starttls: scripts without @tls are upgraded\n"
            "                              after the greeting (EHLO+STARTTLS, STARTTLS, STLS)\n"
            "  --user U, --password P      values of ${user} and ${password}\n"
            "TLS:\n"
            "  --cafile FILE               trust these CAs instead of the system store\n"
            "  --insecure                  do not fail on an unverified certificate\n"
            "  --cert FILE, --key FILE     client certificate and key (PEM)\n"
            "  --tls-min 1.2|1.3           minimum TLS version (default 1.2)\n"
            "  --sni NAME                  server name to send and verify (default --host)\n"
            "Run:\n"
            "  --jobs N                    run N scripts at once (default 1)\n"
            "  --timeout SECONDS           bound on each expected reply (default 10)\n"
            "  --lenient FLAG              accept one deviation in every script (repeatable)\n"
            "  --list                      parse the scripts, print their ids, run nothing\n"
            "  -q, --quiet                 no progress lines;  -v, --verbose  whole transcripts\n"
            "Reports:\n"
            "  --json FILE, --junit FILE   ('-': stdout); written atomically, also after Ctrl-C\n"
            "  --html FILE                 not in replay: use `mailspec certify` for HTML\n\n"
            "Exit status: 0 every MUST-level test passed, 1 a MUST-level test failed,\n"
            "2 usage error, a test error (connection, TLS, timeout) or interrupted.\n");
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

static void *worker(void *arg)
{
    struct pool *p = arg;

    for (;;) {
        pthread_mutex_lock(&p->mu);
        if (stop_flag || p->next >= p->n) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        struct item *it = &p->items[p->next++];
        pthread_mutex_unlock(&p->mu);

        ms_run_script(it->s, it->path, p->o, &it->r);

        pthread_mutex_lock(&p->mu);
        /* a test cut short by Ctrl-C did not finish: it is not reported */
        it->finished = !(it->r.interrupted && it->r.result == MS_RES_ERROR);
        if (it->finished) {
            p->done++;
            if (!p->quiet) {
                ms_report_progress(stderr, &it->r, p->done, p->n, p->color, p->verbose);
                fflush(stderr);
            }
        }
        pthread_mutex_unlock(&p->mu);
    }
}

static int parse_uint(const char *s, uint64_t max, uint64_t *v)
{
    return ms_number_parse(s, strlen(s), max, v) == MS_OK ? 0 : -1;
}

int ms_cmd_replay(int argc, char **argv)
{
    struct ms_run_opts o;
    const char *json = NULL, *junit = NULL;
    uint64_t jobs = 1, secs = 10;
    int list = 0, quiet = 0, verbose = 0, rc = MS_EXIT_USAGE;
    struct item *items = NULL;
    size_t n = 0, cap = 0;
    const char **paths = calloc((size_t)argc + 1, sizeof(*paths));
    size_t npaths = 0;

    ms_run_opts_default(&o);
    if (!paths)
        return MS_EXIT_USAGE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE(opt) (strcmp(a, opt) == 0 && v && (i++, 1))
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            free(paths);
            return MS_EXIT_OK;
        } else if (TAKE("--protocol")) {
            if (strcmp(v, "smtp") != 0 && strcmp(v, "pop3") != 0 && strcmp(v, "imap") != 0) {
                fprintf(stderr, "mailspec replay: --protocol takes smtp, pop3 or imap\n");
                goto out;
            }
            o.protocol = v;
        } else if (TAKE("--host")) {
            o.host = v;
        } else if (TAKE("--port")) {
            uint64_t port;
            if (parse_uint(v, 65535, &port) != 0 || port == 0) {
                fprintf(stderr, "mailspec replay: --port takes 1 to 65535\n");
                goto out;
            }
            o.port = v;
        } else if (TAKE("--tls")) {
            if (ms_tls_mode_parse(v, &o.tls) != 0) {
                fprintf(stderr, "mailspec replay: --tls takes none, starttls or implicit\n");
                goto out;
            }
        } else if (TAKE("--user")) {
            o.user = v;
        } else if (TAKE("--password")) {
            o.password = v;
        } else if (TAKE("--cafile")) {
            o.tlso.cafile = v;
        } else if (strcmp(a, "--insecure") == 0) {
            o.tlso.insecure = 1;
        } else if (TAKE("--cert")) {
            o.tlso.cert = v;
        } else if (TAKE("--key")) {
            o.tlso.key = v;
        } else if (TAKE("--sni")) {
            o.tlso.sni = v;
        } else if (TAKE("--tls-min")) {
            if (strcmp(v, "1.2") == 0)
                o.tlso.min_version = 12;
            else if (strcmp(v, "1.3") == 0)
                o.tlso.min_version = 13;
            else {
                fprintf(stderr, "mailspec replay: --tls-min takes 1.2 or 1.3\n");
                goto out;
            }
        } else if (TAKE("--json")) {
            json = v;
        } else if (TAKE("--junit")) {
            junit = v;
        } else if (TAKE("--html")) {
            fprintf(stderr, "mailspec replay: --html is provided by `mailspec certify` "
                            "(render a replay's --json with it)\n");
            goto out;
        } else if (TAKE("--jobs")) {
            if (parse_uint(v, 64, &jobs) != 0 || jobs == 0) {
                fprintf(stderr, "mailspec replay: --jobs takes 1 to 64\n");
                goto out;
            }
        } else if (TAKE("--timeout")) {
            if (parse_uint(v, 3600, &secs) != 0 || secs == 0) {
                fprintf(stderr, "mailspec replay: --timeout takes 1 to 3600 seconds\n");
                goto out;
            }
        } else if (TAKE("--lenient")) {
            uint32_t f = ms_lenient_flag(v);
            if (!f) {
                fprintf(stderr, "mailspec replay: unknown lenient flag '%s'\n", v);
                goto out;
            }
            o.lim.lenient |= f;
        } else if (strcmp(a, "--list") == 0) {
            list = 1;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            verbose = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "mailspec replay: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            goto out;
        } else {
            paths[npaths++] = a;
        }
#undef TAKE
    }
    if (npaths == 0) {
        usage(stderr);
        goto out;
    }
    o.timeout_ms = (unsigned)(secs * 1000);
    for (size_t i = 0; i < npaths; i++)
        if (collect(&items, &n, &cap, paths[i], 0) != 0)
            goto out;
    if (n == 0) {
        fprintf(stderr, "mailspec replay: no .session files found\n");
        goto out;
    }

    /* Parse everything first: a malformed script means nothing runs. */
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
    if (bad) {
        fprintf(stderr, "mailspec replay: no test was run (fix the scripts above)\n");
        goto out;
    }
    if (list) {
        for (size_t i = 0; i < n; i++)
            printf("%s\t%s\t%s\t%s\t%s\n", items[i].path, items[i].s->id,
                   ms_level_name(items[i].s->level), items[i].s->rfc, items[i].s->title);
        rc = MS_EXIT_OK;
        goto out;
    }
    /* One protocol for the run: --protocol, or what every script says. */
    const char *proto = o.protocol;
    if (!proto) {
        for (size_t i = 0; i < n; i++) {
            const char *sp = items[i].s->protocol;
            if (!sp[0] || (proto && strcmp(proto, sp) != 0)) {
                proto = NULL;
                break;
            }
            proto = sp;
        }
    }
    if (!o.port)
        o.port = ms_default_port(proto, o.tls);
    if (!o.port) {
        fprintf(stderr, "mailspec replay: give --port (or --protocol, for its default port)\n");
        goto out;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sa.sa_flags = (int)SA_RESETHAND; /* a second Ctrl-C ends the process at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* a server that closes while we write must be an error result, not SIGPIPE
     * (OpenSSL writes with write(2), without MSG_NOSIGNAL) */
    signal(SIGPIPE, SIG_IGN);
    o.stop = &stop_flag;

    struct pool pool;
    memset(&pool, 0, sizeof(pool));
    pool.items = items;
    pool.n = n;
    pool.o = &o;
    pool.color = ms_use_color(stderr);
    pool.verbose = verbose;
    pool.quiet = quiet;
    pthread_mutex_init(&pool.mu, NULL);
    uint64_t start = ms_now_ms();
    size_t nthreads = jobs < n ? (size_t)jobs : n;
    pthread_t th[64];
    size_t started = 0;
    if (!quiet)
        fprintf(stderr, "mailspec replay: %zu script(s) against %s port %s (--tls %s)\n", n, o.host,
                o.port, ms_tls_mode_name(o.tls));
    for (size_t i = 1; i < nthreads; i++)
        if (pthread_create(&th[started], NULL, worker, &pool) == 0)
            started++;
    worker(&pool);
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&pool.mu);

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
    rep.host = o.host;
    rep.port = o.port;
    rep.tls = o.tls;
    rep.tests = res;
    rep.n = nres;
    rep.planned = n;
    rep.interrupted = stop_flag;
    rep.duration_ms = ms_now_ms() - start;
    if (!quiet)
        ms_report_summary_line(stderr, &rep, pool.color);
    rc = ms_report_exit_code(&rep);
    if (json && ms_report_json(&rep, json) != 0)
        rc = MS_EXIT_USAGE;
    if (junit && ms_report_junit(&rep, junit) != 0)
        rc = MS_EXIT_USAGE;
    free(res);
out:
    for (size_t i = 0; i < n; i++) {
        free(items[i].path);
        ms_script_free(items[i].s);
        ms_test_result_free(&items[i].r);
    }
    free(items);
    free(paths);
    return rc;
}
