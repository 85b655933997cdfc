/*
 * Baseline: libetpan's IMAP response parser (Debian libetpan-dev 1.9.4) over
 * the same bytes as mailspec's.
 *
 * libetpan reads through a mailstream; a custom mailstream_low driver serves
 * the in-memory buffer (as a socket would, in reads of the stream's buffer
 * size), so the figure includes libetpan's own line reading and literal
 * copying, which is what a libetpan client pays. Each response (untagged
 * data up to the tagged completion) is parsed with mailimap_response_parse
 * -- the function libetpan's mailimap_parse_response() calls after
 * mailimap_read_line() -- and freed with mailimap_response_free.
 *
 * The runs happen in a forked child so that a crash or a leak in libetpan
 * cannot take the benchmark down or skew the later measurements.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libetpan/libetpan.h>

#include "etpan.h"

/* Exported by libetpan but declared only in its uninstalled mailimap_parser.h. */
int mailimap_response_parse(mailstream *fd, MMAPString *buffer,
                            struct mailimap_parser_context *parser_ctx, size_t *indx,
                            struct mailimap_response **result, size_t progr_rate,
                            progress_function *progr_fun);

struct memsrc {
    const char *p;
    size_t len;
    size_t pos;
};

static ssize_t mem_read(mailstream_low *s, void *buf, size_t count)
{
    struct memsrc *m = s->data;
    size_t n = m->len - m->pos;
    if (n > count)
        n = count;
    memcpy(buf, m->p + m->pos, n);
    m->pos += n;
    return (ssize_t)n;
}

static ssize_t mem_write(mailstream_low *s, const void *buf, size_t count)
{
    (void)s;
    (void)buf;
    return (ssize_t)count;
}

static int mem_close(mailstream_low *s)
{
    (void)s;
    return 0;
}

static int mem_get_fd(mailstream_low *s)
{
    (void)s;
    return -1;
}

static void mem_free(mailstream_low *s)
{
    free(s);
}

static void mem_cancel(mailstream_low *s)
{
    (void)s;
}

static mailstream_low_driver mem_driver;

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

static void driver_init(void)
{
    mem_driver.mailstream_read = mem_read;
    mem_driver.mailstream_write = mem_write;
    mem_driver.mailstream_close = mem_close;
    mem_driver.mailstream_get_fd = mem_get_fd;
    mem_driver.mailstream_free = mem_free;
    mem_driver.mailstream_cancel = mem_cancel;
}

/* One pass: returns 0, or -1 with a message in err. */
static int one_pass(const char *buf, size_t len, uint64_t *messages, size_t *consumed, char *err,
                    size_t errcap)
{
    struct memsrc src = {buf, len, 0};
    mailstream_low *low = mailstream_low_new(&src, &mem_driver);
    mailstream *st = low ? mailstream_new(low, 65536) : NULL;
    MMAPString *line = mmap_string_new("");
    struct mailimap_parser_context ctx;
    int rc = 0;

    memset(&ctx, 0, sizeof(ctx));
    *messages = 0;
    if (!st || !line) {
        snprintf(err, errcap, "libetpan: cannot create a mailstream");
        return -1;
    }
    for (;;) {
        struct mailimap_response *resp = NULL;
        size_t indx = 0;
        if (!mailstream_read_line(st, line) || line->len == 0)
            break;
        int r = mailimap_response_parse(st, line, &ctx, &indx, &resp, 0, NULL);
        if (r != MAILIMAP_NO_ERROR) {
            size_t at = src.pos;
            snprintf(err, errcap, "mailimap_response_parse error %d near input offset %zu: %.80s",
                     r, at, line->str);
            rc = -1;
            break;
        }
        /* untagged data and continuations, plus the tagged completion */
        if (resp->rsp_cont_req_or_resp_data_list)
            *messages += (uint64_t)clist_count(resp->rsp_cont_req_or_resp_data_list);
        *messages += 1;
        mailimap_response_free(resp);
    }
    *consumed = src.pos;
    mmap_string_free(line);
    mailstream_close(st);
    return rc;
}

/* A greeting is not a response: skip the first line if it is "* OK ... ready". */
static size_t skip_greeting(const char *buf, size_t len)
{
    const char *lf = memchr(buf, '\n', len);
    if (len > 5 && memcmp(buf, "* OK ", 5) == 0 && lf)
        return (size_t)(lf - buf) + 1;
    return 0;
}

int etpan_bench(const char *buf, size_t len, int runs, struct etpan_result *res)
{
    int pfd[2];
    pid_t pid;

    memset(res, 0, sizeof(*res));
    driver_init();
    if (runs > ETPAN_MAX_RUNS)
        runs = ETPAN_MAX_RUNS;
    fflush(NULL);
    if (pipe(pfd) != 0) {
        snprintf(res->error, sizeof(res->error), "pipe: %s", strerror(errno));
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        snprintf(res->error, sizeof(res->error), "fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        struct etpan_result r;
        size_t skip = skip_greeting(buf, len), consumed = 0;
        memset(&r, 0, sizeof(r));
        close(pfd[0]);
        /* untimed warm-up pass, then the timed runs */
        for (int i = 0; i <= runs; i++) {
            double c0 = cpu_now();
            double t0 = now();
            int rc =
                one_pass(buf + skip, len - skip, &r.messages, &consumed, r.error, sizeof(r.error));
            double t1 = now();
            double c1 = cpu_now();
            if (rc != 0)
                break;
            if (i > 0) {
                r.cpu[r.runs] = c1 - c0;
                r.secs[r.runs++] = t1 - t0;
            } else if (t1 - t0 > 0 && 0.25 / (t1 - t0) > runs) {
                /* a short pass gets more runs, as mailspec's do (bench.c) */
                double want = 0.25 / (t1 - t0);
                runs = want > ETPAN_MAX_RUNS ? ETPAN_MAX_RUNS : (int)want;
            }
        }
        r.messages += skip ? 1 : 0; /* the greeting line, counted as one message */
        r.bytes = consumed + skip;
        ssize_t w = write(pfd[1], &r, sizeof(r));
        _exit(w == (ssize_t)sizeof(r) ? 0 : 1);
    }
    close(pfd[1]);
    size_t got = 0;
    while (got < sizeof(*res)) {
        ssize_t n = read(pfd[0], (char *)res + got, sizeof(*res) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(pfd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(status)) {
        snprintf(res->error, sizeof(res->error), "libetpan crashed (signal %d, %s)",
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
        res->runs = 0;
        return -1;
    }
    if (got != sizeof(*res)) {
        snprintf(res->error, sizeof(res->error), "libetpan child exited without a result");
        res->runs = 0;
        return -1;
    }
    return res->runs > 0 && res->error[0] == '\0' ? 0 : -1;
}

int etpan_parse(const char *buf, size_t len, uint64_t *messages, size_t *consumed, char *err,
                size_t errcap)
{
    driver_init();
    return one_pass(buf, len, messages, consumed, err, errcap);
}
