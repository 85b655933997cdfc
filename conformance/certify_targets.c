/*
 * certify --targets FILE: certify many servers in one run (docs/certify.md
 * "Many servers: --targets").
 *
 * Each target is one certify run in a child process of this one: fork, then
 * the same ms_cmd_certify with the target's --protocol, --host, --port, --tls
 * and --json put in front of the user's own options. So there is one place
 * for the certify logic, every option means what it means for one server,
 * and a target that crashes or hangs loses only its own result. This parent
 * stays single-threaded (nothing but fork, poll and waitpid): it starts the
 * children within --parallel and --per-host, relays each child's stderr into
 * the target's log, stops a child that outlives --target-timeout, and then
 * writes summary.json and a table.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "certify.h"
#include "cli.h"
#include "json.h"
#include "mailspec/mailspec.h"
#include "proto_desc.h"
#include "report.h"
#include "report_html.h"

#define TG_MAX_TARGETS  1000
#define TG_MAX_PARALLEL 64
#define TG_MAX_HOST     255
#define TG_ERR_CAP      2000 /* bytes of a target's stderr kept for the summary */
#define TG_GRACE_MS     5000 /* after SIGINT, before SIGKILL */
#define TG_POLL_MS      100
#define TG_STEM_CAP     (8 + TG_MAX_HOST + 16)

/* The options of this file; one set per process (the command line's). */
static struct {
    const char *file, *out;
    unsigned per_host, parallel, timeout_s;
    const char *given; /* the first option of this file given (its name), for a message */
    int child;         /* in a target's child: the options were the parent's */
} tg = {NULL, NULL, 0, 4, 3600, NULL, 0}; /* per_host 0: --jobs */

static volatile sig_atomic_t tg_stop;

enum tg_state { TG_WAITING, TG_RUNNING, TG_DONE };

struct target {
    size_t line; /* in FILE */
    char proto[8], host[TG_MAX_HOST + 1], port[8];
    enum ms_tls_mode tls;
    char stem[TG_STEM_CAP]; /* proto-host-port-tls, safe characters */
    size_t host_id;         /* targets with the same host (case-insensitive) share it */
    enum tg_state state;
    pid_t pid;
    int errfd;             /* the child's stderr (read end), -1 when closed */
    int logfd;             /* the target's log, -1 when closed */
    int exit;              /* the child's exit status, or 2 when it did not end by itself */
    int signo;             /* the child died of this signal, 0 if not */
    int timed_out, killed; /* stopped for --target-timeout; SIGKILL sent */
    uint64_t start_ms, end_ms, sigint_ms;
    char err[TG_ERR_CAP + 1]; /* the start of its stderr */
    size_t errlen;
};

struct tg_run {
    struct target *t;
    size_t n, nhosts, done;
    unsigned *host_conns; /* connections in use per host */
    unsigned conns;       /* connections one target uses: --jobs */
};

void certify_targets_usage(FILE *f)
{
    fprintf(f, "\nMany servers (docs/certify.md \"Many servers\"):\n"
               "  --targets FILE              certify each line 'PROTOCOL HOST PORT TLS' of FILE\n"
               "                              ('#' comments); every other option applies to each\n"
               "  --out DIR                   one JSON report and log per target, summary.json\n"
               "  --parallel N                targets run at once, 1-64 (default 4)\n"
               "  --per-host N                connections open at once to one host, 1-64; a\n"
               "                              target uses --jobs of them (default --jobs: one\n"
               "                              target per host at a time)\n"
               "  --target-timeout SECONDS    stop a target that runs longer (default 3600)\n"
               "  --html F                    with --targets: one page from all their reports\n"
               "Exit status with --targets: 2 when a target did not run to a verdict (its exit\n"
               "was 2-5, it crashed or timed out), else 1 when one failed, else 6 when one is\n"
               "incomplete, else 0.\n");
}

int certify_targets_option(int code, const char *arg)
{
    uint64_t v, max = TG_MAX_PARALLEL;
    unsigned *dst;
    const char *name;

    switch (code) {
    case CERT_OPT_TARGETS:
        tg.file = arg;
        return 1;
    case CERT_OPT_OUT:
        if (!*arg) {
            fprintf(stderr, "mailspec certify: --out: needs a directory\n");
            return -1;
        }
        tg.out = arg;
        tg.given = tg.given ? tg.given : "out";
        return 1;
    case CERT_OPT_PARALLEL:
        name = "parallel", dst = &tg.parallel;
        break;
    case CERT_OPT_PER_HOST:
        name = "per-host", dst = &tg.per_host;
        break;
    case CERT_OPT_TARGET_TIMEOUT:
        name = "target-timeout", max = 86400, dst = &tg.timeout_s;
        break;
    default:
        return 0;
    }
    if (ms_number_parse(arg, strlen(arg), max, &v) != MS_OK || v == 0) {
        fprintf(stderr, "mailspec certify: --%s: takes a number from 1 to %llu\n", name,
                (unsigned long long)max);
        return -1;
    }
    *dst = (unsigned)v;
    tg.given = tg.given ? tg.given : name;
    return 1;
}

int certify_targets_requested(void)
{
    /* --out and the others without --targets: certify_targets_run says so */
    return (tg.file || tg.given) && !tg.child;
}

/* ---- the targets file ---- */

/* "mailspec certify: FILE:LINE: reason"; returns -1. */
static int file_error(size_t line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int file_error(size_t line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "mailspec certify: %s:%zu: ", tg.file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return -1;
}

/* The report's file name: proto-host-port-tls, lower case, [a-z0-9.-] only. */
static void make_stem(struct target *t)
{
    snprintf(t->stem, sizeof(t->stem), "%s-%s-%s-%s", t->proto, t->host, t->port,
             ms_tls_mode_name(t->tls));
    for (char *p = t->stem; *p; p++) {
        unsigned char ch = (unsigned char)tolower((unsigned char)*p);
        *p = (char)(isalnum(ch) || ch == '.' || ch == '-' ? ch : '_');
    }
}

/* One non-comment line: exactly four fields. */
static int parse_line(struct tg_run *r, size_t lineno, char *s)
{
    char *f[5];
    size_t nf = 0;
    uint64_t port;

    for (char *p = s; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (nf == 5)
            break;
        f[nf++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
    }
    if (nf == 0)
        return 0;
    if (nf != 4)
        return file_error(lineno, "expected 'PROTOCOL HOST PORT TLS' (four fields), not %zu", nf);
    if (r->n == TG_MAX_TARGETS)
        return file_error(lineno, "more than %d targets", TG_MAX_TARGETS);
    struct target *t = &r->t[r->n];
    memset(t, 0, sizeof(*t));
    t->line = lineno;
    t->errfd = t->logfd = -1;
    if (!ms_proto_desc(f[0]))
        return file_error(lineno, "protocol '%.300s': takes smtp, pop3 or imap", f[0]);
    snprintf(t->proto, sizeof(t->proto), "%s", f[0]);
    if (strlen(f[1]) > TG_MAX_HOST || f[1][0] == '-')
        return file_error(lineno, "host '%.300s': not a host name or address", f[1]);
    snprintf(t->host, sizeof(t->host), "%s", f[1]);
    if (ms_number_parse(f[2], strlen(f[2]), 65535, &port) != MS_OK || port == 0)
        return file_error(lineno, "port '%.300s': takes a number from 1 to 65535", f[2]);
    snprintf(t->port, sizeof(t->port), "%u", (unsigned)port);
    if (ms_tls_mode_parse(f[3], &t->tls) != 0)
        return file_error(lineno, "TLS '%.300s': takes none, starttls or implicit", f[3]);
    make_stem(t);
    t->host_id = r->nhosts;
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->t[i].stem, t->stem) == 0)
            return file_error(lineno, "the same target as line %zu", r->t[i].line);
        if (strcasecmp(r->t[i].host, t->host) == 0)
            t->host_id = r->t[i].host_id;
    }
    if (t->host_id == r->nhosts)
        r->nhosts++;
    r->n++;
    return 0;
}

static int load_targets(struct tg_run *r)
{
    char *text = NULL;
    size_t len = 0, lineno = 0;

    if (ms_read_file(tg.file, &text, &len) != 0)
        return -1;
    r->t = calloc(TG_MAX_TARGETS, sizeof(*r->t));
    if (!r->t) {
        free(text);
        fprintf(stderr, "mailspec certify: out of memory\n");
        return -1;
    }
    int rc = 0;
    for (size_t pos = 0; pos < len && rc == 0;) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        lineno++;
        char *s = text + pos;
        size_t n = end - pos;
        if (n && s[n - 1] == '\r')
            n--;
        s[n] = '\0';
        for (size_t i = 0; i < n && rc == 0; i++)
            if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
                rc = file_error(lineno, "a control character or NUL byte");
            else if (s[i] == '#')
                s[i] = '\0', n = i; /* a comment to the end of the line */
        if (rc == 0)
            rc = parse_line(r, lineno, s);
        pos = end + 1;
    }
    free(text);
    if (rc == 0 && r->n == 0) {
        fprintf(stderr, "mailspec certify: %s: no targets\n", tg.file);
        rc = -1;
    }
    return rc;
}

/* ---- the options, checked once here rather than once per target ---- */

/* Whether the command line sets one of the options each target sets itself.
 * The shared parser keeps no record of what was given (--tls none is the
 * default), so read argv again with the shared table; the certify-only
 * options are unknown to it and ignored. */
static const char *target_option_given(int argc, char **argv)
{
    static const struct option shared[] = {
        MS_CLI_CONN_OPTIONS, CERT_TARGETS_OPTIONS, {NULL, 0, NULL, 0}};
    const char *given = NULL;
    int code, save_opterr = opterr;
    /* on a copy: getopt_long moves what it takes for operands (the values of
     * the options it does not know) to the end */
    char **av = calloc((size_t)argc + 1, sizeof(*av));

    if (!av)
        return "(out of memory)";
    memcpy(av, argv, (size_t)argc * sizeof(*av));
    opterr = 0;
    optind = 1;
    while (!given && (code = getopt_long(argc, av, "qvh", shared, NULL)) != -1) {
        given = code == MS_OPT_PROTOCOL ? "--protocol"
                : code == MS_OPT_HOST   ? "--host"
                : code == MS_OPT_PORT   ? "--port"
                : code == MS_OPT_TLS    ? "--tls"
                : code == MS_OPT_JSON   ? "--json"
                : code == MS_OPT_JUNIT  ? "--junit"
                                        : NULL;
    }
    opterr = save_opterr;
    optind = 1;
    free(av);
    return given;
}

static int check_options(struct certify *c, int html_from, int argc, char **argv)
{
    const char *given = target_option_given(argc, argv);

    if (given) {
        fprintf(stderr, "mailspec certify: %s cannot be used with --targets (%s)\n", given,
                strcmp(given, "--json") == 0 || strcmp(given, "--junit") == 0
                    ? "the reports go to --out DIR"
                    : "each line of the file gives protocol, host, port and TLS");
        return -1;
    }
    if (html_from || c->list || (c->html && strcmp(c->html, "-") == 0)) {
        fprintf(stderr, "mailspec certify: %s cannot be used with --targets\n",
                c->list     ? "--list"
                : html_from ? "--html-from"
                            : "--html -");
        return -1;
    }
    if (!tg.out) {
        fprintf(stderr, "mailspec certify: --targets needs --out DIR for the reports\n");
        return -1;
    }
    /* One target per host at a time unless told otherwise: side by side,
     * sessions of one user can trip the server over its own concurrency
     * (docs/certify.md "Many servers"), which blocks tests. */
    if (!tg.per_host)
        tg.per_host = c->jobs;
    if (c->jobs > tg.per_host) {
        fprintf(stderr,
                "mailspec certify: --jobs %u opens %u connections to a host at once: more "
                "than --per-host %u\n",
                c->jobs, c->jobs, tg.per_host);
        return -1;
    }
    /* the files each target will read: fail here, not N times */
    if (c->expect_path) {
        if (ms_expect_load(c->expect_path, &c->expect) != 0)
            return -1;
        ms_expect_free(&c->expect);
    }
    int rc = ms_cli_finish(&c->cli);
    if (rc == 0 && c->cli.ro.user && !c->cli.ro.password) {
        fprintf(stderr, "mailspec certify: --user needs a password (--password, --password-file "
                        "or MAILSPEC_PASSWORD)\n");
        rc = -1;
    }
    ms_cli_free(&c->cli);
    return rc;
}

static int make_out_dir(void)
{
    struct stat st;

    if (mkdir(tg.out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "mailspec certify: --out %s: %s\n", tg.out, strerror(errno));
        return -1;
    }
    if (stat(tg.out, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "mailspec certify: --out %s: not a directory\n", tg.out);
        return -1;
    }
    return 0;
}

static void out_path(char *buf, size_t cap, const char *stem, const char *ext)
{
    snprintf(buf, cap, "%s/%s%s", tg.out, stem, ext);
}

/* ---- running the targets ---- */

/* SIGINT or SIGTERM: stop the running targets, start no more, write the summary. */
static void on_stop(int sig)
{
    (void)sig;
    tg_stop = 1;
}

/* In the child: the target's certify run, as `mailspec certify` with the
 * target's options in front of the user's. Never returns. */
static void child_run(struct tg_run *r, struct target *t, int errw, int argc, char **argv)
{
    char json[PATH_MAX];
    char **av = calloc((size_t)argc + 12, sizeof(*av));
    int ac = 0, null = open("/dev/null", O_RDONLY);

    tg.child = 1;
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (null >= 0)
        dup2(null, 0);
    dup2(t->logfd, 1);
    dup2(errw, 2);
    if (errw != 2)
        close(errw);
    for (size_t i = 0; i < r->n; i++) /* the other children's */
        if (&r->t[i] != t) {
            if (r->t[i].errfd >= 0)
                close(r->t[i].errfd);
            if (r->t[i].logfd >= 0)
                close(r->t[i].logfd);
        }
    if (!av)
        _exit(MS_EXIT_USAGE);
    out_path(json, sizeof(json), t->stem, ".json");
    av[ac++] = argv[0];
    av[ac++] = "--protocol";
    av[ac++] = t->proto;
    av[ac++] = "--host";
    av[ac++] = t->host;
    av[ac++] = "--port";
    av[ac++] = t->port;
    av[ac++] = "--tls";
    av[ac++] = (char *)ms_tls_mode_name(t->tls);
    av[ac++] = "--json";
    av[ac++] = json;
    for (int i = 1; i < argc; i++)
        av[ac++] = argv[i];
    int rc = ms_cmd_certify(ac, av);
    fflush(NULL);
    _exit(rc);
}

static int start_target(struct tg_run *r, struct target *t, int argc, char **argv)
{
    char path[PATH_MAX];
    int p[2];

    out_path(path, sizeof(path), t->stem, ".json");
    if (unlink(path) != 0 && errno != ENOENT) {
        snprintf(t->err, sizeof(t->err), "cannot remove the old report %.1000s: %s", path,
                 strerror(errno));
        return -1;
    }
    out_path(path, sizeof(path), t->stem, ".log");
    t->logfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0666);
    if (t->logfd < 0) {
        snprintf(t->err, sizeof(t->err), "cannot write %.1000s: %s", path, strerror(errno));
        return -1;
    }
    if (pipe(p) != 0) {
        snprintf(t->err, sizeof(t->err), "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    t->start_ms = ms_now_ms();
    t->pid = fork();
    if (t->pid == 0) {
        close(p[0]);
        child_run(r, t, p[1], argc, argv);
    }
    close(p[1]);
    if (t->pid < 0) {
        t->pid = 0;
        close(p[0]);
        snprintf(t->err, sizeof(t->err), "fork: %s", strerror(errno));
        return -1;
    }
    t->errfd = p[0];
    fcntl(t->errfd, F_SETFL, O_NONBLOCK);
    t->state = TG_RUNNING;
    r->host_conns[t->host_id] += r->conns;
    return 0;
}

/* Copy what the child wrote on stderr into its log and keep the start.
 * Returns what read() did: > 0 bytes, 0 at the end, < 0 nothing yet. */
static ssize_t relay(struct target *t)
{
    char buf[4096];
    ssize_t k = read(t->errfd, buf, sizeof(buf));

    if (k > 0) {
        size_t n = (size_t)k, room = TG_ERR_CAP - t->errlen;
        if (write(t->logfd, buf, n) < 0) {
            /* the log is lost; the summary keeps the start */
        }
        memcpy(t->err + t->errlen, buf, n < room ? n : room);
        t->errlen += n < room ? n : room;
        t->err[t->errlen] = '\0';
    }
    return k;
}

/* All that is left, once the child has ended. */
static void drain(struct target *t)
{
    ssize_t k;

    while (t->errfd >= 0 && ((k = relay(t)) > 0 || (k < 0 && errno == EINTR)))
        ;
    if (t->errfd >= 0)
        close(t->errfd);
    t->errfd = -1;
}

static const char *tls_name(const struct target *t)
{
    return ms_tls_mode_name(t->tls);
}

/* What the target's run says about the server: a verdict, or none. */
enum tg_verdict { TG_COMPLIANT, TG_NOT_COMPLIANT, TG_INCOMPLETE, TG_NO_VERDICT };

static enum tg_verdict verdict_of(const struct target *t)
{
    if (t->state != TG_DONE || !t->pid || t->signo || t->timed_out)
        return TG_NO_VERDICT;
    return t->exit == MS_EXIT_OK           ? TG_COMPLIANT
           : t->exit == MS_EXIT_FAIL       ? TG_NOT_COMPLIANT
           : t->exit == MS_EXIT_INCOMPLETE ? TG_INCOMPLETE
                                           : TG_NO_VERDICT;
}

/* The outcome as a word, from the exit status (docs/certify.md "Exit status"). */
static const char *outcome(const struct target *t)
{
    if (t->state != TG_DONE || !t->pid)
        return "not-run";
    if (t->timed_out)
        return "timed-out";
    if (t->signo)
        return "crashed";
    switch (t->exit) {
    case MS_EXIT_OK:
        return "compliant";
    case MS_EXIT_FAIL:
        return "not-compliant";
    case MS_EXIT_INCOMPLETE:
        return "incomplete";
    case MS_EXIT_GREETING:
        return "no-greeting";
    case MS_EXIT_TLS:
        return "tls-failed";
    case MS_EXIT_LOGIN:
        return "login-failed";
    default:
        return "error";
    }
}

/* The first line of the target's stderr, without the command's prefix. */
static void first_line(const struct target *t, char *buf, size_t cap)
{
    const char *s = t->err, *pre = "mailspec certify: ";
    while (*s == '\n')
        s++;
    if (strncmp(s, pre, strlen(pre)) == 0)
        s += strlen(pre);
    size_t n = strcspn(s, "\n");
    snprintf(buf, cap, "%.*s", (int)n, s);
}

/* A verdict: compliant, NOT compliant or incomplete (docs/certify.md "Exit status"). */
static int judged(int code)
{
    return code == MS_EXIT_OK || code == MS_EXIT_FAIL || code == MS_EXIT_INCOMPLETE;
}

/* A report file, parsed; NULL (message printed) when it cannot be read. */
static struct ms_json *read_report(const char *path)
{
    char err[200], *text = NULL;
    size_t len = 0;

    if (ms_read_file(path, &text, &len) != 0)
        return NULL;
    struct ms_json *doc = ms_json_parse(text, len, err, sizeof(err));
    free(text);
    if (!doc)
        fprintf(stderr, "mailspec certify: %s: %s\n", path, err);
    return doc;
}

/* The exit status the target's report states, or -1 without a report. */
static int report_exit(const struct target *t)
{
    char path[PATH_MAX];
    uint64_t v = 0;

    out_path(path, sizeof(path), t->stem, ".json");
    if (access(path, F_OK) != 0)
        return -1;
    struct ms_json *doc = read_report(path);
    const char *e = doc ? ms_json_gets(doc, "exit", NULL) : NULL;
    int rc = e && ms_number_parse(e, strlen(e), 255, &v) == MS_OK ? (int)v : -1;
    ms_json_free(doc);
    return rc;
}

static void finished(struct tg_run *r, struct target *t, int status, FILE *progress)
{
    char why[300];

    drain(t);
    if (t->logfd >= 0)
        close(t->logfd);
    t->logfd = -1;
    t->end_ms = ms_now_ms();
    t->state = TG_DONE;
    r->done++;
    r->host_conns[t->host_id] -= r->conns;
    if (WIFEXITED(status)) {
        t->exit = WEXITSTATUS(status);
    } else {
        t->exit = MS_EXIT_USAGE;
        t->signo = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    }
    if (t->timed_out)
        t->exit = MS_EXIT_USAGE;
    /* A verdict comes with the report that states it (each target has
     * --json): an exit of 0, 1 or 6 without one is some other end (a
     * sanitizer's exit after a crash), not a verdict about the server. */
    if (judged(t->exit) && report_exit(t) != t->exit) {
        int n = snprintf(t->err + t->errlen, sizeof(t->err) - t->errlen,
                         "mailspec certify: exit %d without a report stating it: not a verdict\n",
                         t->exit);
        t->errlen += n > 0 && (size_t)n < sizeof(t->err) - t->errlen ? (size_t)n : 0;
        t->exit = MS_EXIT_USAGE;
    }
    if (!progress)
        return;
    first_line(t, why, sizeof(why));
    fprintf(progress, "mailspec certify: [%zu/%zu] %s %s:%s (%s): exit %d, %s", r->done, r->n,
            t->proto, t->host, t->port, tls_name(t), t->exit, outcome(t));
    if (t->timed_out)
        fprintf(progress, " after %u s", tg.timeout_s);
    else if (t->signo)
        fprintf(progress, " (signal %d)", t->signo);
    if (!judged(t->exit) && why[0])
        fprintf(progress, ": %s", why);
    fprintf(progress, " (%.1f s)\n", (double)(t->end_ms - t->start_ms) / 1000.0);
    fflush(progress);
}

/* The next target that may start now: in file order, its host has room. */
static struct target *next_target(struct tg_run *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->t[i].state == TG_WAITING && r->host_conns[r->t[i].host_id] + r->conns <= tg.per_host)
            return &r->t[i];
    return NULL;
}

/* Stop a child: SIGINT first (certify then writes what it has), SIGKILL
 * after a grace period. */
static void stop_child(struct target *t, uint64_t now)
{
    if (!t->sigint_ms) {
        t->sigint_ms = now;
        kill(t->pid, SIGINT);
    } else if (!t->killed && now - t->sigint_ms > TG_GRACE_MS) {
        t->killed = 1;
        kill(t->pid, SIGKILL);
    }
}

static void run_targets(struct tg_run *r, int argc, char **argv, FILE *progress)
{
    struct pollfd pfd[TG_MAX_PARALLEL];
    size_t running = 0;

    while (r->done < r->n) {
        struct target *t;
        while (!tg_stop && running < tg.parallel && (t = next_target(r)) != NULL) {
            if (start_target(r, t, argc, argv) == 0) {
                running++;
                continue;
            }
            /* could not even start: a result of its own */
            if (t->logfd >= 0)
                close(t->logfd);
            t->logfd = -1;
            t->state = TG_DONE;
            t->exit = MS_EXIT_USAGE;
            t->errlen = strlen(t->err);
            r->done++;
            if (progress)
                fprintf(progress, "mailspec certify: [%zu/%zu] %s %s:%s (%s): exit 2, %s\n",
                        r->done, r->n, t->proto, t->host, t->port, tls_name(t), t->err);
        }
        if (tg_stop)
            for (size_t i = 0; i < r->n; i++)
                if (r->t[i].state == TG_WAITING) {
                    r->t[i].state = TG_DONE; /* never started: outcome not-run */
                    r->t[i].exit = MS_EXIT_USAGE;
                    r->done++;
                }
        nfds_t np = 0;
        for (size_t i = 0; i < r->n && np < TG_MAX_PARALLEL; i++)
            if (r->t[i].state == TG_RUNNING && r->t[i].errfd >= 0) {
                pfd[np].fd = r->t[i].errfd;
                pfd[np].events = POLLIN;
                np++;
            }
        if (running)
            poll(np ? pfd : NULL, np, TG_POLL_MS);
        uint64_t now = ms_now_ms();
        for (size_t i = 0; i < r->n; i++) {
            t = &r->t[i];
            if (t->state != TG_RUNNING)
                continue;
            ssize_t k = 1; /* a bounded share per round: one child cannot hold the loop */
            for (int j = 0; j < 16 && t->errfd >= 0 && (k = relay(t)) > 0; j++)
                ;
            if (k == 0) {
                close(t->errfd); /* the end of its stderr; the exit comes soon */
                t->errfd = -1;
            }
            int status;
            pid_t w = waitpid(t->pid, &status, WNOHANG);
            if (w == t->pid) {
                finished(r, t, status, progress);
                running--;
                continue;
            }
            if (now - t->start_ms > (uint64_t)tg.timeout_s * 1000u) {
                t->timed_out = 1;
                stop_child(t, now);
            } else if (tg_stop) {
                stop_child(t, now);
            }
        }
    }
}

/* ---- the summary ---- */

static struct ms_json *target_doc(const struct target *t, const struct ms_json *rep)
{
    struct ms_json *o = ms_json_new(MS_JSON_OBJECT);
    char file[TG_STEM_CAP + 8];
    uint64_t port = 0;

    if (!o)
        return NULL;
    if (ms_number_parse(t->port, strlen(t->port), 65535, &port) != MS_OK)
        port = 0;
    int ok = ms_json_set_num(o, "line", t->line) == 0 &&
             ms_json_set_str(o, "protocol", t->proto) == 0 &&
             ms_json_set_str(o, "host", t->host) == 0 && ms_json_set_num(o, "port", port) == 0 &&
             ms_json_set_str(o, "transport", tls_name(t)) == 0 &&
             ms_json_set_num(o, "exit", (uint64_t)t->exit) == 0 &&
             ms_json_set_str(o, "outcome", outcome(t)) == 0 &&
             ms_json_set(o, "compliant", ms_json_new_bool(verdict_of(t) == TG_COMPLIANT)) == 0;
    snprintf(file, sizeof(file), "%s.json", t->stem);
    ok = ok && ms_json_set_str(o, "report", file) == 0;
    snprintf(file, sizeof(file), "%s.log", t->stem);
    ok = ok && ms_json_set_str(o, "log", t->pid ? file : "") == 0;
    ok = ok && ms_json_set_num(o, "duration_ms", t->end_ms - t->start_ms) == 0;
    const char *verdict = rep ? ms_json_gets(rep, "verdict", "") : "";
    ok = ok && ms_json_set_str(o, "verdict", verdict) == 0;
    /* what the target said on stderr, when it did not run to a verdict */
    ok = ok && ms_json_set_str(o, "error", judged(t->exit) ? "" : t->err) == 0;
    const struct ms_json *sum = rep ? ms_json_get(rep, "summary") : NULL;
    struct ms_json *copy = ms_json_new(MS_JSON_OBJECT);
    for (const struct ms_json *m = sum && sum->type == MS_JSON_OBJECT ? sum->child : NULL;
         ok && copy && m; m = m->next)
        if (m->type == MS_JSON_NUMBER) {
            uint64_t v = 0;
            ok = ms_number_parse(m->str, m->len, UINT64_MAX, &v) == MS_OK &&
                 ms_json_set_num(copy, m->key, v) == 0;
        }
    ok = ok && copy && ms_json_set(o, "summary", copy) == 0;
    if (!ok) {
        ms_json_free(o);
        return NULL;
    }
    return o;
}

/* A target that wrote no report (it stopped before the suite, crashed or was
 * not started) gets one all the same: report.c's document with no tests, its
 * exit status and what it said. */
static int write_stub_report(const struct target *t, const char *path)
{
    struct ms_report rep;
    char why[TG_ERR_CAP + 64];

    memset(&rep, 0, sizeof(rep));
    rep.command = "certify";
    rep.protocol = t->proto;
    rep.host = t->host;
    rep.port = t->port;
    rep.tls = t->tls;
    rep.interrupted = tg_stop;
    rep.duration_ms = t->end_ms - t->start_ms;
    struct ms_json *doc = ms_report_doc(&rep);
    if (!doc)
        return -1;
    first_line(t, why, sizeof(why));
    char v[TG_ERR_CAP + 100];
    snprintf(v, sizeof(v), "none: no test was run (%s)%s%s", outcome(t), why[0] ? ": " : "", why);
    int ok = ms_json_set_num(doc, "exit", (uint64_t)t->exit) == 0 &&
             ms_json_set(doc, "compliant", ms_json_new_bool(0)) == 0 &&
             ms_json_set_str(doc, "verdict", v) == 0 && ms_json_set_str(doc, "error", t->err) == 0;
    int rc = ok ? ms_report_write_json(doc, path) : -1;
    ms_json_free(doc);
    return rc;
}

/* The target's report as the child wrote it (or the stub), parsed. */
static struct ms_json *load_report(const struct target *t)
{
    char path[PATH_MAX];

    out_path(path, sizeof(path), t->stem, ".json");
    if (access(path, F_OK) != 0 && write_stub_report(t, path) != 0)
        return NULL;
    return read_report(path);
}

/*
 * The run's exit status, the worst of the targets' (docs/certify.md "Many
 * servers"): 2 when any target did not run to a verdict (its own exit 2-5,
 * crashed, timed out, not started), else 1 when any failed, else 6 when any
 * is incomplete, else 0.
 */
static int worst_exit(const struct tg_run *r)
{
    int any_fail = 0, any_incomplete = 0;
    for (size_t i = 0; i < r->n; i++) {
        enum tg_verdict v = verdict_of(&r->t[i]);
        if (v == TG_NO_VERDICT)
            return MS_EXIT_USAGE;
        any_fail |= v == TG_NOT_COMPLIANT;
        any_incomplete |= v == TG_INCOMPLETE;
    }
    return any_fail ? MS_EXIT_FAIL : any_incomplete ? MS_EXIT_INCOMPLETE : MS_EXIT_OK;
}

/* A count of the "summary" of a report or of a summary.json row. */
static uint64_t count(const struct ms_json *rep, const char *key)
{
    const struct ms_json *sum = rep ? ms_json_get(rep, "summary") : NULL;
    const char *s = sum ? ms_json_gets(sum, key, "0") : "0";
    uint64_t v = 0;
    if (ms_number_parse(s, strlen(s), UINT64_MAX, &v) != MS_OK)
        v = 0;
    return v;
}

/* The compact table on the terminal: one row per target, in file order. */
static void print_table(FILE *f, const struct tg_run *r, const struct ms_json *rows)
{
    int w = 6;
    char label[TG_MAX_HOST + 64];

    for (size_t i = 0; i < r->n; i++) {
        const struct target *t = &r->t[i];
        int k =
            snprintf(label, sizeof(label), "%s %s:%s %s", t->proto, t->host, t->port, tls_name(t));
        if (k > w)
            w = k;
    }
    fprintf(f, "\n%-*s %4s  %-13s %5s %5s %7s %5s %5s %5s %7s\n", w, "TARGET", "EXIT", "OUTCOME",
            "PASS", "FAIL", "BLOCKED", "N/A", "N/S", "ERR", "SECONDS");
    const struct ms_json *row = rows && rows->type == MS_JSON_ARRAY ? rows->child : NULL;
    for (size_t i = 0; i < r->n && row; i++, row = row->next) {
        const struct target *t = &r->t[i];
        snprintf(label, sizeof(label), "%s %s:%s %s", t->proto, t->host, t->port, tls_name(t));
        fprintf(f, "%-*s %4d  %-13s %5llu %5llu %7llu %5llu %5llu %5llu %7.1f\n", w, label, t->exit,
                outcome(t), (unsigned long long)count(row, "pass"),
                (unsigned long long)count(row, "fail"), (unsigned long long)count(row, "blocked"),
                (unsigned long long)count(row, "not_applicable"),
                (unsigned long long)count(row, "not_supported"),
                (unsigned long long)count(row, "error"),
                (double)(t->end_ms - t->start_ms) / 1000.0);
    }
}

/* --html F: one page from every target's report (as --html-from would). */
static int write_html(const struct tg_run *r, const char *html)
{
    char(*paths)[PATH_MAX] = calloc(r->n, sizeof(*paths));
    const char **list = calloc(r->n, sizeof(*list));
    int rc = -1;

    if (paths && list) {
        for (size_t i = 0; i < r->n; i++) {
            out_path(paths[i], sizeof(paths[i]), r->t[i].stem, ".json");
            list[i] = paths[i];
        }
        rc = ms_html_from_files(html, list, r->n);
    } else {
        fprintf(stderr, "mailspec certify: out of memory\n");
    }
    free(paths);
    free(list);
    return rc;
}

static int write_summary(const struct tg_run *r, int rc, uint64_t ms, FILE *out)
{
    struct ms_json *doc = ms_json_new(MS_JSON_OBJECT), *arr = ms_json_new(MS_JSON_ARRAY),
                   *counts = ms_json_new(MS_JSON_OBJECT);
    size_t by[4] = {0, 0, 0, 0}; /* enum tg_verdict */
    int ok = doc && arr && counts;

    /* one report in memory at a time: the row keeps what the table needs */
    for (size_t i = 0; ok && i < r->n; i++) {
        const struct target *t = &r->t[i];
        struct ms_json *rep = load_report(t);
        by[verdict_of(t)]++;
        ok = ms_json_append(arr, target_doc(t, rep)) == 0;
        ms_json_free(rep);
    }
    ok = ok && ms_json_set_num(counts, "targets", r->n) == 0 &&
         ms_json_set_num(counts, "compliant", by[0]) == 0 &&
         ms_json_set_num(counts, "not_compliant", by[1]) == 0 &&
         ms_json_set_num(counts, "incomplete", by[2]) == 0 &&
         ms_json_set_num(counts, "not_run", by[3]) == 0;
    ok = ok && ms_json_set_str(doc, "mailspec", MAILSPEC_VERSION) == 0 &&
         ms_json_set_str(doc, "command", "certify") == 0 &&
         ms_json_set_str(doc, "targets_file", tg.file) == 0 &&
         ms_json_set_num(doc, "exit", (uint64_t)rc) == 0 &&
         ms_json_set(doc, "interrupted", ms_json_new_bool(tg_stop)) == 0 &&
         ms_json_set_num(doc, "duration_ms", ms) == 0 &&
         ms_json_set_num(doc, "parallel", tg.parallel) == 0 &&
         ms_json_set_num(doc, "per_host", tg.per_host) == 0 &&
         ms_json_set(doc, "counts", counts) == 0;
    counts = NULL;
    ok = ok && ms_json_set(doc, "targets", arr) == 0;
    arr = NULL;
    char path[PATH_MAX];
    out_path(path, sizeof(path), "summary", ".json");
    int wrc = ok ? ms_report_write_json(doc, path) : -1;
    if (!ok)
        fprintf(stderr, "mailspec certify: out of memory building %s\n", path);
    if (ok && out) {
        print_table(out, r, ms_json_get(doc, "targets"));
        fprintf(out,
                "\n%zu target%s: %zu compliant, %zu not compliant, %zu incomplete, %zu not "
                "run to a verdict; exit %d\nreports: %s/ (summary.json)\n",
                r->n, r->n == 1 ? "" : "s", by[0], by[1], by[2], by[3], rc, tg.out);
    }
    ms_json_free(doc);
    ms_json_free(arr);
    ms_json_free(counts);
    return wrc;
}

int certify_targets_run(struct certify *c, int html_from, int argc, char **argv)
{
    struct tg_run r;

    memset(&r, 0, sizeof(r));
    if (!tg.file) {
        fprintf(stderr, "mailspec certify: --%s goes with --targets FILE\n", tg.given);
        return MS_EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "mailspec certify: unexpected argument '%s' (see --help)\n", argv[optind]);
        return MS_EXIT_USAGE;
    }
    if (check_options(c, html_from, argc, argv) != 0 || load_targets(&r) != 0) {
        free(r.t);
        return MS_EXIT_USAGE;
    }
    /* a suite, and test ids, belong to one protocol */
    for (size_t i = 1; (c->suite || c->nonly) && i < r.n; i++)
        if (strcmp(r.t[i].proto, r.t[0].proto) != 0) {
            fprintf(stderr,
                    "mailspec certify: %s with --targets: every target must be of one "
                    "protocol (line %zu is %s, line %zu %s)\n",
                    c->suite ? "--suite" : "--only", r.t[0].line, r.t[0].proto, r.t[i].line,
                    r.t[i].proto);
            free(r.t);
            return MS_EXIT_USAGE;
        }
    r.host_conns = calloc(r.nhosts, sizeof(*r.host_conns));
    r.conns = c->jobs ? c->jobs : 1;
    if (!r.host_conns || make_out_dir() != 0) {
        free(r.t);
        free(r.host_conns);
        return MS_EXIT_USAGE;
    }
    FILE *progress = c->cli.quiet ? NULL : stderr;
    if (progress)
        fprintf(progress,
                "mailspec certify: %zu targets from %s, %u at a time, at most %u connections "
                "per host; reports in %s/\n",
                r.n, tg.file, tg.parallel, tg.per_host, tg.out);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    uint64_t t0 = ms_now_ms();
    run_targets(&r, argc, argv, progress);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    int rc = worst_exit(&r);
    if (write_summary(&r, rc, ms_now_ms() - t0, stdout) != 0)
        rc = MS_EXIT_USAGE;
    if (c->html && write_html(&r, c->html) != 0)
        rc = MS_EXIT_USAGE;
    if (tg_stop) {
        fprintf(stderr, "mailspec certify: interrupted\n");
        rc = MS_EXIT_USAGE;
    }
    free(r.t);
    free(r.host_conns);
    return rc;
}
