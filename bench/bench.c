/*
 * make bench: throughput of mailspec's framers and parsers on deterministic
 * generated streams, against a memchr line scan (the floor) and libetpan's
 * IMAP response parser (the baseline), on the same bytes in the same run.
 *
 * Everything goes through the public interface: ms_proto_find(name) and its
 * kinds, driven by ms_stream_feed in 64 KiB chunks (as reads from a socket
 * would arrive). A protocol that is not registered yet is reported as such;
 * no figure is ever made up.
 *
 * usage: bench [--quick] [--runs N] [--size-mb N] [--json FILE]
 *              [--mailspec PATH] [--data-dir DIR]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "etpan.h"
#include "gen.h"
#include "mailspec/imap_framer.h"
#include "mailspec/mailspec.h"

/*
 * The IMAP framer may not be linked in yet (it is being written): a weak
 * reference lets the bench build and say so instead of failing to link.
 */
extern __typeof__(ms_imap_frame) ms_imap_frame __attribute__((weak));

#define MAX_RUNS          16
#define CHUNK             (64 * 1024)
#define SLOW_PASS_SECONDS 5.0 /* one timed run only when a pass is this slow */

enum framer { FR_NONE, FR_LINES, FR_IMAP_SERVER, FR_IMAP_CLIENT };

enum method { M_MEMCHR, M_FRAMER, M_PARSER, M_LIBETPAN, M_CLI, M_COUNT };
static const char *const method_names[M_COUNT] = {"memchr", "framer", "parser", "libetpan", "cli"};

struct result {
    int ran;          /* figures below are valid */
    char status[320]; /* "ok", or why there is no figure */
    int runs;
    double secs[MAX_RUNS];
    double cpu[MAX_RUNS]; /* CPU time of each run (user + system) */
    double cpu_median;
    /* cli only: the same command on an empty file (exec, dynamic linking,
     * buffers, exit), median wall and CPU seconds */
    double startup, startup_cpu;
    double median;
    uint64_t bytes;    /* bytes processed per run */
    uint64_t messages; /* units per run: lines, frames, messages, responses */
    uint64_t errors;
    char first_error[640]; /* the first error reported, with its input line */
};

struct stream {
    const char *name;
    const char *proto;
    const char *kind; /* "commands" or "replies" */
    const char *what;
    enum framer framer;
    int etpan;
    int cli;
    struct bbuf data;
    /* POP3 replies: the exchanges and the matching command stream */
    struct pop3_exchange *ex;
    size_t nex;
    struct bbuf cmds;
    struct result res[M_COUNT];
    int selected; /* not excluded by --only */
};

static struct ms_limits g_lim;
static char *g_sbuf;
static size_t g_scap;

/* CPU time of this thread: what a run costs, whatever else the machine runs. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
    double t[MAX_RUNS];
    if (n <= 0)
        return 0;
    memcpy(t, v, (size_t)n * sizeof(double));
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static double mbs(const struct result *r)
{
    return r->ran && r->median > 0 ? (double)r->bytes / r->median / 1e6 : 0;
}

static double cpu_mbs(const struct result *r)
{
    return r->ran && r->cpu_median > 0 ? (double)r->bytes / r->cpu_median / 1e6 : 0;
}

static double msgs_per_s(const struct result *r)
{
    return r->ran && r->median > 0 ? (double)r->messages / r->median : 0;
}

/* Quote the input line around offset off into out, for error reports. */
static void describe_at(const struct bbuf *d, uint64_t off, char *out, size_t cap)
{
    size_t o = off < d->len ? (size_t)off : d->len;
    size_t s = o, e = o;
    while (s > 0 && d->p[s - 1] != '\n' && o - s < 160)
        s--;
    while (e < d->len && d->p[e] != '\r' && d->p[e] != '\n' && e - o < 160)
        e++;
    size_t n = 0;
    for (size_t i = s; i < e && n + 5 < cap; i++) {
        unsigned char c = (unsigned char)d->p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[n++] = (char)c;
        else
            n += (size_t)snprintf(out + n, cap - n, "\\x%02x", c);
    }
    out[n] = '\0';
}

/* ---- the passes: each returns 0 and fills units/errors, or -1 ---- */

struct pass_ctx {
    struct stream *st;
    uint64_t units;
    uint64_t errors;
    uint64_t err_offset;
    const char *err_rule, *err_reason;
    int have_err;
};

static int pass_memchr(struct pass_ctx *c)
{
    const char *p = c->st->data.p, *end = p + c->st->data.len;
    uint64_t n = 0;
    while (p < end) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        if (!lf)
            break;
        n++;
        p = lf + 1;
    }
    c->units = n;
    return 0;
}

static int pass_lines(struct pass_ctx *c)
{
    const char *p = c->st->data.p;
    size_t len = c->st->data.len, pos = 0;
    uint64_t n = 0;
    while (pos < len) {
        struct ms_error err = {0};
        size_t tl;
        int bare = 0;
        ssize_t r = ms_line_find(p + pos, len - pos, 1000, 0, &tl, &bare, &err, "bench");
        if (r <= 0) {
            c->errors++;
            if (!c->have_err) {
                c->have_err = 1;
                c->err_offset = pos + err.offset;
                c->err_rule = r == MS_PARTIAL ? "bench" : err.rule;
                c->err_reason = r == MS_PARTIAL ? "input ends inside a line" : err.reason;
            }
            break;
        }
        pos += (size_t)r;
        n++;
    }
    c->units = n;
    return 0;
}

static int pass_imap_frame(struct pass_ctx *c)
{
    const char *p = c->st->data.p;
    size_t len = c->st->data.len, pos = 0;
    uint64_t n = 0;
    enum ms_imap_side side = c->st->framer == FR_IMAP_CLIENT ? MS_IMAP_CLIENT : MS_IMAP_SERVER;
    while (pos < len) {
        struct ms_error err = {0};
        ssize_t r = ms_imap_frame(&g_lim, side, p + pos, len - pos, &err);
        if (r <= 0) {
            c->errors++;
            if (!c->have_err) {
                c->have_err = 1;
                c->err_offset = pos + err.offset;
                c->err_rule = r == MS_PARTIAL ? "bench" : err.rule;
                c->err_reason = r == MS_PARTIAL ? "input ends inside a message" : err.reason;
            }
            break;
        }
        pos += (size_t)r;
        n++;
    }
    c->units = n;
    return 0;
}

static void on_emit(void *ctx, const struct ms_kind *k, const void *view,
                    const struct ms_error *err, uint64_t offset, uint64_t length)
{
    struct pass_ctx *c = ctx;
    (void)k;
    (void)view;
    (void)length;
    if (err && !c->have_err) {
        c->have_err = 1;
        c->err_offset = err->offset;
        c->err_rule = err->rule;
        c->err_reason = err->reason;
        (void)offset;
    }
}

/*
 * The IMAP kinds are public symbols (imap_command.h, imap_response.h) before
 * "imap" is in the registry. While it is not, the bench uses them directly --
 * still the kind's own parse through ms_stream_feed -- and says so.
 */
extern const struct ms_kind ms_imap_commands_kind __attribute__((weak));
extern const struct ms_kind ms_imap_replies_kind __attribute__((weak));

static const struct ms_kind *registered_kind(const struct stream *st)
{
    const struct ms_proto *p = ms_proto_find(st->proto);
    if (!p)
        return NULL;
    return strcmp(st->kind, "commands") == 0 ? p->commands : p->replies;
}

static const struct ms_kind *kind_of(const struct stream *st)
{
    const struct ms_kind *k = registered_kind(st);
    if (k || strcmp(st->proto, "imap") != 0)
        return k;
    return strcmp(st->kind, "commands") == 0 ? &ms_imap_commands_kind : &ms_imap_replies_kind;
}

static void *g_state, *g_view;

static int pass_parser(struct pass_ctx *c)
{
    const struct ms_kind *k = kind_of(c->st);
    struct ms_stream s;
    const char *p = c->st->data.p;
    size_t len = c->st->data.len;

    ms_stream_init(&s, k, &g_lim, g_state, g_view, g_sbuf, g_scap, on_emit, c);
    for (size_t off = 0; off < len; off += CHUNK)
        ms_stream_feed(&s, p + off, len - off < CHUNK ? len - off : CHUNK);
    (void)ms_stream_end(&s); /* an open message counts in s.errors */
    c->units = s.messages;
    c->errors = s.errors;
    return 0;
}

/* ---- POP3 replies: each reply is told the command it answers ---- */

static char *g_cmd_views; /* parsed command views, view_size each */
static uint64_t g_ncmd_views;
static size_t g_cmd_view_size;

static void on_cmd(void *ctx, const struct ms_kind *k, const void *view, const struct ms_error *err,
                   uint64_t offset, uint64_t length)
{
    struct pass_ctx *c = ctx;
    (void)offset;
    (void)length;
    if (view) {
        memcpy(g_cmd_views + g_ncmd_views * k->view_size, view, k->view_size);
        g_ncmd_views++;
    } else if (err && !c->have_err) {
        c->have_err = 1;
        c->err_offset = err->offset;
        c->err_rule = err->rule;
        c->err_reason = err->reason;
    }
}

/* Parse the POP3 command stream once (untimed) to get the views. */
static int pop3_prepare(struct stream *st, char *why, size_t cap)
{
    const struct ms_proto *p = ms_proto_find("pop3");
    struct pass_ctx c = {st, 0, 0, 0, NULL, NULL, 0};
    struct ms_stream s;
    uint64_t ncmd = 0;

    if (!p->commands) {
        snprintf(why, cap, "pop3 commands kind not registered yet (needed to drive replies)");
        return -1;
    }
    for (size_t i = 0; i < st->cmds.len; i++)
        ncmd += st->cmds.p[i] == '\n';
    g_cmd_view_size = p->commands->view_size;
    free(g_cmd_views);
    g_cmd_views = calloc(ncmd + 1, g_cmd_view_size);
    g_ncmd_views = 0;
    void *state = calloc(1, p->commands->state_size + 1);
    void *view = calloc(1, p->commands->view_size + 1);
    if (!g_cmd_views || !state || !view) {
        snprintf(why, cap, "out of memory");
        free(state);
        free(view);
        return -1;
    }
    ms_stream_init(&s, p->commands, &g_lim, state, view, g_sbuf, g_scap, on_cmd, &c);
    ms_stream_feed(&s, st->cmds.p, st->cmds.len);
    int open = ms_stream_end(&s);
    free(state);
    free(view);
    if (s.errors || open || g_ncmd_views != ncmd) {
        char line[400];
        describe_at(&st->cmds, c.err_offset, line, sizeof(line));
        snprintf(why, cap,
                 "the matching pop3 command stream did not parse (%llu of %llu commands; "
                 "first error at %llu: %s: %s; line: %s)",
                 (unsigned long long)g_ncmd_views, (unsigned long long)ncmd,
                 (unsigned long long)c.err_offset, c.err_rule ? c.err_rule : "?",
                 c.err_reason ? c.err_reason : "?", line);
        return -1;
    }
    return 0;
}

static int pass_pop3_replies(struct pass_ctx *c)
{
    const struct ms_proto *p = ms_proto_find("pop3");
    const struct ms_kind *k = p->replies;
    struct stream *st = c->st;
    struct ms_stream s;
    uint64_t msgs = 0, errs = 0;
    int started = 0;

    for (size_t i = 0; i < st->nex; i++) {
        const struct pop3_exchange *e = &st->ex[i];
        if (e->new_session || !started) {
            /* a new connection: fresh reply state */
            if (started) {
                (void)ms_stream_end(&s);
                msgs += s.messages;
                errs += s.errors;
            }
            ms_stream_init(&s, k, &g_lim, g_state, g_view, g_sbuf, g_scap, on_emit, c);
            /* the driver's offsets restart per session: keep them absolute */
            s.offset = e->off;
            started = 1;
        }
        if (e->cmd >= 0 && p->command_seen)
            p->command_seen(s.state, g_cmd_views + (size_t)e->cmd * g_cmd_view_size);
        ms_stream_feed(&s, st->data.p + e->off, e->len);
    }
    if (started) {
        (void)ms_stream_end(&s);
        msgs += s.messages;
        errs += s.errors;
    }
    c->units = msgs;
    c->errors = errs;
    return 0;
}

/* ---- running a pass several times ---- */

/*
 * The machine is shared: a pass of a few milliseconds is easily hit by a
 * context switch. Short passes get more runs (up to MAX_RUNS, about
 * MIN_TIMED_SECONDS in all) so that the median is stable; never fewer than
 * asked for.
 */
#define MIN_TIMED_SECONDS 0.25
static int adapt_runs(int runs, double one)
{
    if (one <= 0)
        return MAX_RUNS;
    double want = MIN_TIMED_SECONDS / one;
    if (want > MAX_RUNS)
        want = MAX_RUNS;
    return want > runs ? (int)want : runs;
}

static double minimum(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        if (v[i] < m)
            m = v[i];
    return m;
}

typedef int (*pass_fn)(struct pass_ctx *);

static void measure(struct stream *st, enum method m, pass_fn fn, int runs)
{
    struct result *r = &st->res[m];
    struct pass_ctx c;

    /* untimed warm-up: page in the input, warm the caches, learn the counts */
    memset(&c, 0, sizeof(c));
    c.st = st;
    double t0 = now();
    fn(&c);
    double warm = now() - t0;
    r->messages = c.units;
    r->errors = c.errors;
    r->bytes = st->data.len;
    if (c.have_err) {
        char line[400];
        describe_at(&st->data, c.err_offset, line, sizeof(line));
        snprintf(r->first_error, sizeof(r->first_error), "offset %llu: %s: %s; line: %s",
                 (unsigned long long)c.err_offset, c.err_rule ? c.err_rule : "?",
                 c.err_reason ? c.err_reason : "?", line);
    }
    if (warm > SLOW_PASS_SECONDS)
        runs = 1; /* keep make bench bounded in time */
    else
        runs = adapt_runs(runs, warm);
    for (int i = 0; i < runs; i++) {
        memset(&c, 0, sizeof(c));
        c.st = st;
        double c0 = cpu_now();
        t0 = now();
        fn(&c);
        r->secs[r->runs] = now() - t0;
        r->cpu[r->runs++] = cpu_now() - c0;
    }
    r->median = median(r->secs, r->runs);
    r->cpu_median = median(r->cpu, r->runs);
    r->ran = 1;
    snprintf(r->status, sizeof(r->status), "%s",
             r->errors ? "ok (with errors, see first_error)" : "ok");
}

__attribute__((format(printf, 3, 4))) static void skip(struct stream *st, enum method m,
                                                       const char *fmt, ...)
{
    struct result *r = &st->res[m];
    va_list ap;
    r->ran = 0;
    va_start(ap, fmt);
    vsnprintf(r->status, sizeof(r->status), fmt, ap);
    va_end(ap);
}

/* ---- the CLI: mailspec parse PROTO KIND --quiet FILE ---- */

static int write_file(const char *path, const struct bbuf *b)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < b->len) {
        ssize_t w = write(fd, b->p + off, b->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    return close(fd);
}

/* Run the CLI once; returns its exit status (or -1), the wall and CPU time. */
static int run_cli(const char *exe, const struct stream *st, const char *file, double *secs,
                   double *cpu)
{
    struct rusage ru;
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execl(exe, exe, "parse", st->proto, st->kind, "--quiet", file, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    memset(&ru, 0, sizeof(ru));
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    *secs = now() - t0;
    *cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return -1;
}

static void measure_cli(struct stream *st, const char *exe, const char *dir, int runs)
{
    struct result *r = &st->res[M_CLI];
    char file[4096];
    double t, cpu;

    snprintf(file, sizeof(file), "%s/%s.txt", dir, st->name);
    if (write_file(file, &st->data) != 0) {
        skip(st, M_CLI, "skipped: cannot write %s", file);
        return;
    }
    int rc = run_cli(exe, st, file, &t, &cpu); /* warm-up, and the validity verdict */
    r->bytes = st->data.len;
    r->messages = st->res[M_PARSER].messages;
    if (rc < 0 || rc == 2 || rc == 127) {
        char why[64];
        snprintf(why, sizeof(why), "%d", rc);
        skip(st, M_CLI, "skipped: mailspec parse exited with status %s", why);
        return;
    }
    r->errors = rc != 0;
    if (t > SLOW_PASS_SECONDS)
        runs = 1;
    else
        runs = adapt_runs(runs, t);
    for (int i = 0; i < runs; i++) {
        run_cli(exe, st, file, &t, &cpu);
        r->secs[r->runs] = t;
        r->cpu[r->runs++] = cpu;
    }
    r->median = median(r->secs, r->runs);
    r->cpu_median = median(r->cpu, r->runs);
    r->ran = 1;

    /* the fixed cost of a process, to tell it from parsing speed */
    char empty[4096];
    struct bbuf none = {0};
    double ws[MAX_RUNS] = {0}, cs[MAX_RUNS] = {0};
    struct stream est = *st;
    snprintf(empty, sizeof(empty), "%s/empty.txt", dir);
    if (write_file(empty, &none) == 0) {
        est.data = none;
        for (int i = 0; i < r->runs; i++)
            run_cli(exe, &est, empty, &ws[i], &cs[i]);
        r->startup = median(ws, r->runs);
        r->startup_cpu = median(cs, r->runs);
    }
    snprintf(r->status, sizeof(r->status), "ok (exit %d%s)", rc,
             rc == 0 ? ", every message valid" : ", some message invalid");
}

/* ---- output ---- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

struct goal {
    const char *name;
    const char *stream;
    enum method num, den;
    double target;
    double ratio;     /* of wall-clock MB/s: the figure the goal is judged on */
    double cpu_ratio; /* of CPU-time MB/s: a cross-check on a busy machine */
    int known;
    char why[320];
};

static struct stream *find_stream(struct stream *s, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].name, name) == 0)
            return &s[i];
    return NULL;
}

static void eval_goal(struct goal *g, struct stream *ss, size_t n)
{
    struct stream *st = find_stream(ss, n, g->stream);
    g->known = 0;
    if (!st || !st->selected) {
        snprintf(g->why, sizeof(g->why), "stream not run");
        return;
    }
    const struct result *a = &st->res[g->num], *b = &st->res[g->den];
    if (!a->ran || !b->ran) {
        snprintf(g->why, sizeof(g->why), "%s: %s",
                 !a->ran ? method_names[g->num] : method_names[g->den],
                 !a->ran ? a->status : b->status);
        return;
    }
    if (a->errors || b->errors) {
        snprintf(g->why, sizeof(g->why), "not comparable: %s reported errors",
                 a->errors ? method_names[g->num] : method_names[g->den]);
        g->ratio = mbs(a) / mbs(b);
        return;
    }
    g->ratio = mbs(a) / mbs(b);
    g->cpu_ratio = cpu_mbs(b) > 0 ? cpu_mbs(a) / cpu_mbs(b) : 0;
    g->known = 1;
    /*
     * On a loaded machine a long pass (libetpan, the CLI) is preempted in
     * every run while a short one often is not, which inflates or deflates
     * wall-clock ratios. A goal counts as met only when the CPU-time ratio
     * agrees.
     */
    int wall_ok = g->ratio >= g->target, cpu_ok = g->cpu_ratio >= g->target;
    char extra[120] = "";
    if (g->num == M_CLI && a->startup_cpu > 0 && a->cpu_median > a->startup_cpu) {
        /* the CLI minus a process's fixed cost: is its parsing as fast? */
        double adj = (double)a->bytes / (a->cpu_median - a->startup_cpu) / 1e6;
        snprintf(extra, sizeof(extra),
                 "; without process start-up (%.1f ms CPU on an empty file): CPU ratio %.3f",
                 a->startup_cpu * 1e3, adj / cpu_mbs(b));
    }
    if (wall_ok && cpu_ok)
        snprintf(g->why, sizeof(g->why), "met%s", extra);
    else if (wall_ok)
        snprintf(g->why, sizeof(g->why),
                 "missed: met on wall clock only, the CPU-time ratio is %.3f (machine load)%s",
                 g->cpu_ratio, extra);
    else if (cpu_ok)
        snprintf(g->why, sizeof(g->why),
                 "missed on wall clock; the CPU-time ratio %.3f meets it (machine load?)%s",
                 g->cpu_ratio, extra);
    else
        snprintf(g->why, sizeof(g->why), "missed%s", extra);
}

/* The 1-minute load average: the machine is shared, so say how busy it was. */
static double loadavg(void)
{
    char line[128];
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fgets(line, sizeof(line), f))
            l = strtod(line, NULL);
        fclose(f);
    }
    return l;
}

static double g_load_start, g_load_end;

static void machine(char *model, size_t cap, long *cpus)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    snprintf(model, cap, "unknown");
    *cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c += 2;
                c[strcspn(c, "\n")] = '\0';
                snprintf(model, cap, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

static void print_table(struct stream *ss, size_t n)
{
    printf("\n%-20s %-9s %10s %10s %12s %10s %7s  %s\n", "stream", "method", "MB/s", "cpu MB/s",
           "msgs/s", "median ms", "errors", "note");
    printf("%.*s\n", 100,
           "-----------------------------------------------------------------"
           "-----------------------------------------------------------");
    for (size_t i = 0; i < n; i++) {
        struct stream *st = &ss[i];
        if (!st->selected)
            continue;
        const struct ms_kind *k = kind_of(st);
        printf("%s: %s (%.2f MB, %s %s", st->name, st->what, (double)st->data.len / 1e6, st->proto,
               st->kind);
        if (k)
            printf("; state %zu B, view %zu B", k->state_size, k->view_size);
        printf(")\n");
        for (int m = 0; m < M_COUNT; m++) {
            const struct result *r = &st->res[m];
            if (!r->status[0])
                continue;
            if (r->ran)
                printf("%-20s %-9s %10.1f %10.1f %12.0f %10.2f %7llu  %s\n", "", method_names[m],
                       mbs(r), cpu_mbs(r), msgs_per_s(r), r->median * 1e3,
                       (unsigned long long)r->errors, r->status);
            else
                printf("%-20s %-9s %10s %10s %12s %10s %7s  %s\n", "", method_names[m], "-", "-",
                       "-", "-", "-", r->status);
            if (r->first_error[0])
                printf("%-20s   first error: %s\n", "", r->first_error);
        }
    }
}

static int write_json(const char *path, struct stream *ss, size_t n, struct goal *goals,
                      size_t ngoals, int quick, int runs, const char *runner, const char *source)
{
    FILE *f = fopen(path, "w");
    char model[256], date[64];
    long cpus;
    time_t t = time(NULL);
    struct tm tm;

    if (!f)
        return -1;
    machine(model, sizeof(model), &cpus);
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(f, "{\n  \"date\": \"%s\",\n  \"machine\": {\"cpus\": %ld, \"model\": ", date, cpus);
    json_str(f, model);
    fprintf(f, ", \"loadavg_1min_start\": %.2f, \"loadavg_1min_end\": %.2f", g_load_start,
            g_load_end);
    fprintf(f, "},\n  \"source\": ");
    json_str(f, source);
    fprintf(f,
            ",\n  \"quick\": %s,\n  \"runs\": %d,\n  \"chunk_bytes\": %d,\n"
            "  \"units\": \"MB = 10^6 bytes; time = median wall clock (CLOCK_MONOTONIC)\",\n"
            "  \"streams\": [\n",
            quick ? "true" : "false", runs, CHUNK);
    int first_stream = 1;
    for (size_t i = 0; i < n; i++) {
        struct stream *st = &ss[i];
        if (!st->selected)
            continue;
        fprintf(f, "%s", first_stream ? "" : ",\n");
        first_stream = 0;
        fprintf(f,
                "    {\"name\": \"%s\", \"proto\": \"%s\", \"kind\": \"%s\", \"what\": ", st->name,
                st->proto, st->kind);
        json_str(f, st->what);
        fprintf(f, ", \"bytes\": %zu,", st->data.len);
        if (kind_of(st))
            fprintf(f, " \"state_size\": %zu, \"view_size\": %zu,", kind_of(st)->state_size,
                    kind_of(st)->view_size);
        fprintf(f, "\n     \"results\": {");
        int first = 1;
        for (int m = 0; m < M_COUNT; m++) {
            const struct result *r = &st->res[m];
            if (!r->status[0])
                continue;
            fprintf(f, "%s\n       \"%s\": {\"status\": ", first ? "" : ",", method_names[m]);
            first = 0;
            json_str(f, r->status);
            if (r->ran) {
                fprintf(f,
                        ", \"runs\": %d, \"median_s\": %.6f, \"min_s\": %.6f, "
                        "\"cpu_median_s\": %.6f, \"cpu_mb_per_s\": %.2f, "
                        "\"mb_per_s\": %.2f, \"messages\": %llu, \"messages_per_s\": %.0f, "
                        "\"errors\": %llu, \"secs\": [",
                        r->runs, r->median, minimum(r->secs, r->runs), r->cpu_median, cpu_mbs(r),
                        mbs(r), (unsigned long long)r->messages, msgs_per_s(r),
                        (unsigned long long)r->errors);
                for (int k = 0; k < r->runs; k++)
                    fprintf(f, "%s%.6f", k ? ", " : "", r->secs[k]);
                fprintf(f, "]");
            }
            if (r->startup > 0)
                fprintf(f, ", \"startup_median_s\": %.6f, \"startup_cpu_median_s\": %.6f",
                        r->startup, r->startup_cpu);
            if (r->first_error[0]) {
                fprintf(f, ", \"first_error\": ");
                json_str(f, r->first_error);
            }
            fprintf(f, "}");
        }
        fprintf(f, "}}");
    }
    fprintf(f, "\n  ],\n  \"goals\": [\n");
    for (size_t i = 0; i < ngoals; i++) {
        struct goal *g = &goals[i];
        fprintf(f, "    {\"name\": ");
        json_str(f, g->name);
        fprintf(f,
                ", \"stream\": \"%s\", \"ratio_of\": \"%s/%s MB/s\", \"target\": %.2f, "
                "\"ratio\": ",
                g->stream, method_names[g->num], method_names[g->den], g->target);
        if (g->ratio > 0)
            fprintf(f, "%.3f", g->ratio);
        else
            fprintf(f, "null");
        fprintf(f, ", \"cpu_ratio\": ");
        if (g->cpu_ratio > 0)
            fprintf(f, "%.3f", g->cpu_ratio);
        else
            fprintf(f, "null");
        fprintf(f, ", \"met\": %s, \"status\": ",
                g->known ? (strcmp(g->why, "met") == 0 ? "true" : "false") : "null");
        json_str(f, g->why);
        fprintf(f, "}%s\n", i + 1 < ngoals ? "," : "");
    }
    fprintf(f, "  ],\n  \"runner\": ");
    json_str(f, runner);
    fprintf(f, "\n}\n");
    return fclose(f);
}

/* The same table as markdown, for docs/performance.md. */
static int write_markdown(const char *path, struct stream *ss, size_t n, struct goal *goals,
                          size_t ngoals, const char *source)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "Source: %s. Load average %.2f at start, %.2f at end.\n\n", source, g_load_start,
            g_load_end);
    fprintf(f, "| stream | MB | method | MB/s | CPU MB/s | messages/s | median ms | errors | "
               "note |\n");
    fprintf(f, "|---|---:|---|---:|---:|---:|---:|---:|---|\n");
    for (size_t i = 0; i < n; i++) {
        struct stream *st = &ss[i];
        if (!st->selected)
            continue;
        for (int m = 0; m < M_COUNT; m++) {
            const struct result *r = &st->res[m];
            if (!r->status[0])
                continue;
            if (r->ran)
                fprintf(f, "| %s | %.1f | %s | %.1f | %.1f | %.0f | %.2f | %llu | %s |\n", st->name,
                        (double)st->data.len / 1e6, method_names[m], mbs(r), cpu_mbs(r),
                        msgs_per_s(r), r->median * 1e3, (unsigned long long)r->errors, r->status);
            else
                fprintf(f, "| %s | %.1f | %s | - | - | - | - | - | %s |\n", st->name,
                        (double)st->data.len / 1e6, method_names[m], r->status);
        }
    }
    fprintf(f, "\n| goal | ratio (wall) | ratio (CPU) | target | status |\n"
               "|---|---:|---:|---:|---|\n");
    for (size_t i = 0; i < ngoals; i++) {
        if (goals[i].ratio > 0)
            fprintf(f, "| %s | %.3f | %.3f | >= %.2f | %s |\n", goals[i].name, goals[i].ratio,
                    goals[i].cpu_ratio, goals[i].target, goals[i].why);
        else
            fprintf(f, "| %s | - | - | >= %.2f | unknown: %s |\n", goals[i].name, goals[i].target,
                    goals[i].why);
    }
    return fclose(f);
}

/* --only a,b: a stream is run when its name contains one of the words. */
static int selected_by(const char *only, const char *name)
{
    while (*only) {
        size_t n = strcspn(only, ",");
        char word[64];
        if (n > 0 && n < sizeof(word)) {
            memcpy(word, only, n);
            word[n] = '\0';
            if (strstr(name, word))
                return 1;
        }
        only += n;
        if (*only == ',')
            only++;
    }
    return 0;
}

/* ---- main ---- */

static void usage(void)
{
    fprintf(stderr, "usage: bench [--quick] [--runs N] [--size-mb N] [--json FILE] "
                    "[--mailspec PATH] [--data-dir DIR] [--runner TEXT] [--source TEXT] [--only "
                    "NAMES] [--markdown FILE]\n");
}

int main(int argc, char **argv)
{
    int quick = getenv("BENCH_QUICK") && strcmp(getenv("BENCH_QUICK"), "0") != 0;
    int runs = 0;
    double size_mb = 0;
    const char *json = "bench/results.json", *exe = NULL, *dir = "build/bench/data";
    const char *runner = "skipped: not measured";
    const char *source = "unknown";
    const char *only = NULL;
    const char *markdown = NULL;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            uint64_t v;
            i++;
            if (ms_number_parse(argv[i], strlen(argv[i]), MAX_RUNS, &v) != MS_OK) {
                usage();
                return 2;
            }
            runs = (int)v;
        } else if (strcmp(argv[i], "--size-mb") == 0 && i + 1 < argc)
            size_mb = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
            json = argv[++i];
        else if (strcmp(argv[i], "--mailspec") == 0 && i + 1 < argc)
            exe = argv[++i];
        else if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--runner") == 0 && i + 1 < argc)
            runner = argv[++i];
        else if (strcmp(argv[i], "--source") == 0 && i + 1 < argc)
            source = argv[++i];
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--markdown") == 0 && i + 1 < argc)
            markdown = argv[++i];
        else {
            usage();
            return 2;
        }
    }
    if (runs <= 0)
        runs = quick ? 3 : 5;
    if (runs > MAX_RUNS)
        runs = MAX_RUNS;
    if (size_mb <= 0)
        size_mb = quick ? 0.25 : 8;
    size_t target = (size_t)(size_mb * 1e6);

    ms_limits_default(&g_lim);
    g_scap = ms_stream_buffer_size(&g_lim);
    g_sbuf = malloc(g_scap);
    g_state = calloc(1, 1 << 20);
    g_view = calloc(1, 1 << 20);
    if (!g_sbuf || !g_state || !g_view) {
        fprintf(stderr, "bench: out of memory\n");
        return 2;
    }

    struct stream ss[] = {
        {.name = "imap-fetch-envelope",
         .proto = "imap",
         .kind = "replies",
         .what = "Dovecot-like UID FETCH (FLAGS INTERNALDATE ENVELOPE BODYSTRUCTURE)",
         .framer = FR_IMAP_SERVER,
         .etpan = 1,
         .cli = 1},
        {.name = "imap-fetch-literal",
         .proto = "imap",
         .kind = "replies",
         .what = "FETCH n (UID n BODY[] {4096} ...)",
         .framer = FR_IMAP_SERVER,
         .etpan = 1,
         .cli = 1},
        {.name = "imap-commands",
         .proto = "imap",
         .kind = "commands",
         .what = "client FETCH/UID FETCH/SEARCH/STORE/APPEND with literals",
         .framer = FR_IMAP_CLIENT,
         .cli = 1},
        {.name = "smtp-commands",
         .proto = "smtp",
         .kind = "commands",
         .what = "busy MX client side: EHLO, MAIL SIZE/BODY, many RCPT, dot-stuffed DATA",
         .framer = FR_LINES,
         .cli = 1},
        {.name = "smtp-replies",
         .proto = "smtp",
         .kind = "replies",
         .what = "Postfix-like: multi-line EHLO, 250 2.1.0, 354, queued as",
         .framer = FR_LINES,
         .cli = 1},
        {.name = "pop3-commands",
         .proto = "pop3",
         .kind = "commands",
         .what = "USER/PASS/STAT/LIST/UIDL/RETR/DELE/QUIT sessions",
         .framer = FR_LINES,
         .cli = 1},
        {.name = "pop3-replies",
         .proto = "pop3",
         .kind = "replies",
         .what = "Dovecot-like LIST/UIDL listings and dot-stuffed RETR, told each command",
         .framer = FR_LINES},
    };
    size_t n = sizeof(ss) / sizeof(ss[0]);

    g_load_start = loadavg();
    printf("bench: parsers from %s; load average %.2f on %ld CPUs\n", source, g_load_start,
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("bench: generating inputs (%.2f MB each, seeded)...\n", size_mb);
    fflush(stdout);
    /* only the selected streams (--only): profiles then show parsing only */
    for (size_t i = 0; i < n; i++)
        ss[i].selected = !only || selected_by(only, ss[i].name);
    if (ss[0].selected)
        gen_imap_fetch_envelope(&ss[0].data, target, 0x1001);
    if (ss[1].selected)
        gen_imap_fetch_literal(&ss[1].data, target, 0x1002);
    if (ss[2].selected)
        gen_imap_commands(&ss[2].data, target, 0x1003);
    if (ss[3].selected)
        gen_smtp(&ss[3].data, NULL, target, 0x1004);
    if (ss[4].selected)
        gen_smtp(NULL, &ss[4].data, target, 0x1005);
    if (ss[5].selected)
        gen_pop3(&ss[5].data, NULL, NULL, NULL, target, 0x1006);
    if (ss[6].selected)
        gen_pop3(&ss[6].cmds, &ss[6].data, &ss[6].ex, &ss[6].nex, target, 0x1007);

    if (exe && access(exe, X_OK) != 0)
        exe = NULL;
    if (exe)
        mkdir(dir, 0755);

    for (size_t i = 0; i < n; i++) {
        struct stream *st = &ss[i];
        const struct ms_kind *k = kind_of(st);
        if (!st->selected)
            continue;
        printf("bench: %s ...\n", st->name);
        fflush(stdout);
        measure(st, M_MEMCHR, pass_memchr, runs);
        if (st->framer == FR_LINES)
            measure(st, M_FRAMER, pass_lines, runs);
        else if (ms_imap_frame)
            measure(st, M_FRAMER, pass_imap_frame, runs);
        else
            skip(st, M_FRAMER, "%s", "not available yet: ms_imap_frame is not linked in");
        if (!k) {
            skip(st, M_PARSER, "not registered yet: %s",
                 ms_proto_find(st->proto) ? "the protocol has no such kind"
                                          : "ms_proto_find() does not know the protocol");
        } else if (k->state_size > (1 << 20) || k->view_size > (1 << 20)) {
            skip(st, M_PARSER, "%s", "skipped: state or view larger than the bench's 1 MiB");
        } else if (st->ex) {
            char why[300];
            if (pop3_prepare(st, why, sizeof(why)) == 0)
                measure(st, M_PARSER, pass_pop3_replies, runs);
            else
                skip(st, M_PARSER, "skipped: %s", why);
        } else {
            measure(st, M_PARSER, pass_parser, runs);
            if (!registered_kind(st)) {
                struct result *r = &st->res[M_PARSER];
                char note[sizeof(r->status)];
                snprintf(note, sizeof(note),
                         "%s; via the public ms_imap_%s_kind: \"imap\" is "
                         "not in the registry yet",
                         r->status, st->kind);
                memcpy(r->status, note, sizeof(note));
            }
        }
        if (st->etpan) {
            struct etpan_result er;
            struct result *r = &st->res[M_LIBETPAN];
            int rc = etpan_bench(st->data.p, st->data.len, runs, &er);
            r->bytes = st->data.len;
            r->messages = er.messages;
            if (rc == 0 && er.bytes == st->data.len) {
                r->runs = er.runs;
                memcpy(r->secs, er.secs, sizeof(double) * (size_t)er.runs);
                memcpy(r->cpu, er.cpu, sizeof(double) * (size_t)er.runs);
                r->median = median(r->secs, r->runs);
                r->cpu_median = median(r->cpu, r->runs);
                r->ran = 1;
                snprintf(r->status, sizeof(r->status), "ok (libetpan 1.9.4, forked)");
            } else {
                skip(st, M_LIBETPAN, "failed: %s",
                     er.error[0] ? er.error : "did not consume the whole input");
            }
        }
        if (st->cli) {
            if (!exe)
                skip(st, M_CLI, "%s", "skipped: build/bench/mailspec not built");
            else if (!registered_kind(st))
                skip(st, M_CLI, "skipped: %s %s not registered yet", st->proto, st->kind);
            else
                measure_cli(st, exe, dir, runs);
        }
    }

#define GOAL(n, s, a, b, t)                                                                        \
    {                                                                                              \
        .name = (n), .stream = (s), .num = (a), .den = (b), .target = (t)                          \
    }
    struct goal goals[] = {
        GOAL("IMAP ENVELOPE/BODYSTRUCTURE: parser vs libetpan", "imap-fetch-envelope", M_PARSER,
             M_LIBETPAN, 20),
        GOAL("IMAP 4 KiB literals: parser vs libetpan", "imap-fetch-literal", M_PARSER, M_LIBETPAN,
             2),
        GOAL("SMTP commands: parser vs memchr", "smtp-commands", M_PARSER, M_MEMCHR, 0.25),
        GOAL("SMTP replies: parser vs memchr", "smtp-replies", M_PARSER, M_MEMCHR, 0.25),
        GOAL("POP3 commands: parser vs memchr", "pop3-commands", M_PARSER, M_MEMCHR, 0.25),
        GOAL("POP3 replies: parser vs memchr", "pop3-replies", M_PARSER, M_MEMCHR, 0.25),
        GOAL("CLI parse imap replies vs library (same speed within noise)", "imap-fetch-envelope",
             M_CLI, M_PARSER, 0.9),
        /* the whole process (exec, dynamic loading, mapping the file, exit) vs libetpan's
         * in-memory parse; docs/performance.md gives the figures at --size-mb 20 */
        GOAL("parse process vs libetpan, 4 KiB literals", "imap-fetch-literal", M_CLI, M_LIBETPAN,
             2),
    };
#undef GOAL
    size_t ngoals = sizeof(goals) / sizeof(goals[0]);
    for (size_t i = 0; i < ngoals; i++)
        eval_goal(&goals[i], ss, n);

    g_load_end = loadavg();
    print_table(ss, n);
    printf("\ngoals:\n");
    for (size_t i = 0; i < ngoals; i++) {
        if (goals[i].ratio > 0)
            printf("  %-60s %8.3fx  (CPU time: %.3fx)  (goal >= %.2fx)  %s\n", goals[i].name,
                   goals[i].ratio, goals[i].cpu_ratio, goals[i].target, goals[i].why);
        else
            printf("  %-60s %8s   (goal >= %.2fx)  unknown: %s\n", goals[i].name, "-",
                   goals[i].target, goals[i].why);
    }
    printf("\nrunner: %s\n", runner);
    printf("load average (1 min): %.2f at start, %.2f at end\n", g_load_start, g_load_end);
    if (write_json(json, ss, n, goals, ngoals, quick, runs, runner, source) != 0) {
        fprintf(stderr, "bench: cannot write %s: %s\n", json, strerror(errno));
        return 2;
    }
    printf("bench: wrote %s\n", json);
    if (markdown) {
        if (write_markdown(markdown, ss, n, goals, ngoals, source) != 0) {
            fprintf(stderr, "bench: cannot write %s: %s\n", markdown, strerror(errno));
            return 2;
        }
        printf("bench: wrote %s\n", markdown);
    }
    for (size_t i = 0; i < n; i++) {
        bbuf_free(&ss[i].data);
        bbuf_free(&ss[i].cmds);
        free(ss[i].ex);
    }
    free(g_cmd_views);
    free(g_sbuf);
    free(g_state);
    free(g_view);
    return 0;
}
