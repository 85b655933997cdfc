/* Reports: terminal, JSON, JUnit XML (report.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailspec/mailspec.h"
#include "cli.h"
#include "json.h"
#include "report.h"

void ms_report_summarize(const struct ms_report *rep, struct ms_summary *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (size_t i = 0; i < rep->n; i++) {
        const struct ms_test_result *t = &rep->tests[i];
        unsigned r = t->result < MS_RES_COUNT ? t->result : MS_RES_ERROR;
        sum->by[r]++;
        if (t->level == MS_LEVEL_MUST)
            sum->must[r]++;
    }
    sum->pass = sum->by[MS_RES_PASS];
    sum->fail = sum->by[MS_RES_FAIL];
    sum->error = sum->by[MS_RES_ERROR];
    sum->skip = sum->by[MS_RES_NA] + sum->by[MS_RES_NOT_SUPPORTED];
    sum->must_fail = sum->must[MS_RES_FAIL];
}

enum ms_verdict ms_verdict_of(const size_t must[MS_RES_COUNT], size_t must_fail, size_t errors,
                              int interrupted, size_t ran_any)
{
    size_t applicable = 0, ran = must[MS_RES_PASS] + must[MS_RES_FAIL];
    for (unsigned r = 0; r < MS_RES_COUNT; r++)
        if (r != MS_RES_NOT_SUPPORTED)
            applicable += must[r];
    if (must_fail)
        return MS_VERDICT_FAIL;
    if (errors || interrupted)
        return MS_VERDICT_ERROR;
    /* no test at all ran (a wrong --tls, say): nothing was shown */
    if (ran_any == 0 || must[MS_RES_BLOCKED] || 2 * ran < applicable)
        return MS_VERDICT_INCOMPLETE;
    return MS_VERDICT_PASS;
}

int ms_verdict_exit(enum ms_verdict v)
{
    switch (v) {
    case MS_VERDICT_PASS:
        return MS_EXIT_OK;
    case MS_VERDICT_FAIL:
        return MS_EXIT_FAIL;
    case MS_VERDICT_INCOMPLETE:
        return MS_EXIT_INCOMPLETE;
    case MS_VERDICT_ERROR:
    default:
        return MS_EXIT_USAGE;
    }
}

int ms_report_exit_code(const struct ms_report *rep)
{
    struct ms_summary s;

    ms_report_summarize(rep, &s);
    return ms_verdict_exit(ms_verdict_of(s.must, s.must_fail, s.error, rep->interrupted,
                                         s.by[MS_RES_PASS] + s.by[MS_RES_FAIL]));
}

/* A temp name beside path, not yet taken: "path.tmp.XXXXXXXX" with random
 * letters, opened O_EXCL (never an existing file or a planted symlink). */
static int open_temp(const char *path, char *tmp, size_t cap)
{
    static const char abc[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned char rnd[10];
        char suffix[sizeof(rnd) + 1];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)attempt;
            for (size_t i = 0; i < sizeof(rnd); i++, x = x * 6364136223846793005u + 1)
                rnd[i] = (unsigned char)(x >> 56);
        }
        for (size_t i = 0; i < sizeof(rnd); i++)
            suffix[i] = abc[rnd[i] % (sizeof(abc) - 1)];
        suffix[sizeof(rnd)] = '\0';
        snprintf(tmp, cap, "%s.tmp.%s", path, suffix);
        /* 0666: the umask decides who may read the report, as for any
         * output file (docs/certify.md "Reports") */
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

int ms_write_atomic(const char *path, const char *data, size_t n)
{
    if (strcmp(path, "-") == 0) {
        if (fwrite(data, 1, n, stdout) != n || fflush(stdout) != 0) {
            fprintf(stderr, "mailspec: cannot write to stdout: %s\n", strerror(errno));
            return -1;
        }
        return 0;
    }
    size_t cap = strlen(path) + 32;
    char *tmp = malloc(cap);
    if (!tmp) {
        fprintf(stderr, "mailspec: out of memory\n");
        return -1;
    }
    int fd = open_temp(path, tmp, cap);
    if (fd < 0) {
        fprintf(stderr, "mailspec: cannot write %s (a temporary file beside it): %s\n", path,
                strerror(errno));
        free(tmp);
        return -1;
    }
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, data + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "mailspec: cannot write %s: %s\n", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            free(tmp);
            return -1;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "mailspec: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

/* open_memstream updates buf and len only at fflush/fclose: read them after. */
static int finish_mem(FILE *f, char **bufp, size_t *lenp, const char *path)
{
    int closed = fclose(f);
    char *buf = *bufp;
    size_t len = *lenp;
    if (closed != 0 || !buf) {
        free(buf);
        fprintf(stderr, "mailspec: out of memory building %s\n", path);
        return -1;
    }
    int rc = ms_write_atomic(path, buf, len);
    free(buf);
    return rc;
}

/* ---- the report document ---- */

static struct ms_json *tls_doc(const struct ms_tls_info *t)
{
    struct ms_json *o = ms_json_new(MS_JSON_OBJECT);
    int ok = o != NULL;
    ok = ok &&
         ms_json_set(o, "version",
                     t->used ? ms_json_new_string(t->version) : ms_json_new(MS_JSON_NULL)) == 0;
    ok =
        ok && ms_json_set(o, "cipher",
                          t->used ? ms_json_new_string(t->cipher) : ms_json_new(MS_JSON_NULL)) == 0;
    ok = ok && ms_json_set(o, "verified", ms_json_new_bool(t->used && t->verified)) == 0;
    if (ok && t->used)
        ok = ms_json_set_str(o, "subject", t->subject) == 0 &&
             ms_json_set_str(o, "not_after", t->not_after) == 0 &&
             ms_json_set_str(o, "verify_error", t->verify_error) == 0;
    if (!ok) {
        ms_json_free(o);
        return NULL;
    }
    return o;
}

/* ---- provenance and paths (docs/certify.md "Reports") ---- */

#define SECRET_SHOWN "${password}"

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ISO 8601 in UTC, to the second: 2026-12-06T07:08:52Z */
static void iso_utc(uint64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000u);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, cap, "unknown");
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* s with every occurrence of needle (not empty) replaced by repl (malloc'd). */
static char *replace_all(const char *s, const char *needle, const char *repl)
{
    size_t nl = strlen(needle), rl = strlen(repl), hits = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + nl, needle))
        hits++;
    char *out = malloc(strlen(s) + hits * rl + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = s, *q; (q = strstr(p, needle)) != NULL; p = q + nl) {
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, repl, rl);
        o += rl;
        s = q + nl;
    }
    memcpy(o, s, strlen(s) + 1);
    return out;
}

/* base without trailing slashes (its length), 0 for "" and "/". */
static size_t base_len(const char *base)
{
    size_t n = base ? strlen(base) : 0;
    while (n > 0 && base[n - 1] == '/')
        n--;
    return n;
}

/* Where a path may start inside a message: its start, or after a separator. */
static int path_boundary(const char *s, size_t i)
{
    return i == 0 || strchr(" \t\n(\"'=:,[", s[i - 1]) != NULL;
}

char *ms_report_shown_path(const struct ms_report *rep, const char *path)
{
    for (size_t b = 0; rep && b < rep->nbases; b++) {
        size_t bl = base_len(rep->bases[b]);
        if (bl && strncmp(path, rep->bases[b], bl) == 0 && path[bl] == '/') {
            const char *rest = path + bl;
            while (*rest == '/')
                rest++;
            if (*rest)
                return dup_n(rest, strlen(rest));
        }
    }
    if (path[0] != '/')
        return dup_n(path, strlen(path));
    size_t n = base_len(path);
    const char *last = path + n;
    while (last > path && last[-1] != '/')
        last--;
    if (last == path + n) /* "/" alone */
        return dup_n(path, strlen(path));
    char *out = malloc(n - (size_t)(last - path) + 5);
    if (out)
        snprintf(out, n - (size_t)(last - path) + 5, ".../%.*s", (int)(path + n - last), last);
    return out;
}

/* Every string of the document with "BASE/" taken off the paths that start
 * with it (messages name their script as "path:line: ..."). In place: the
 * text only gets shorter. */
static void strip_bases(struct ms_json *v, const struct ms_report *rep, unsigned depth)
{
    for (; v && depth < MS_JSON_MAX_DEPTH; v = v->next) {
        if (v->type == MS_JSON_STRING && v->str) {
            for (size_t b = 0; b < rep->nbases; b++) {
                const char *base = rep->bases[b];
                size_t bl = base_len(base), o = 0;
                if (!bl)
                    continue;
                for (size_t i = 0; i < v->len;) {
                    if (path_boundary(v->str, i) && v->len - i > bl &&
                        memcmp(v->str + i, base, bl) == 0 && v->str[i + bl] == '/') {
                        i += bl;
                        while (i < v->len && v->str[i] == '/')
                            i++;
                        continue;
                    }
                    v->str[o++] = v->str[i++];
                }
                v->str[o] = '\0';
                v->len = o;
            }
        }
        strip_bases(v->child, rep, depth + 1);
    }
}

/* One argument as the report shows it (malloc'd): the password masked, an
 * absolute path (alone or as --opt=PATH) shown by ms_report_shown_path. */
static char *shown_arg(const struct ms_report *rep, const char *arg, int password_value)
{
    const char *secret = rep->cli ? rep->cli->ro.password : NULL;
    char *a;

    if (password_value)
        return dup_n(SECRET_SHOWN, strlen(SECRET_SHOWN));
    if (strncmp(arg, "--password=", 11) == 0)
        return dup_n("--password=" SECRET_SHOWN, strlen("--password=" SECRET_SHOWN));
    a = secret && *secret ? replace_all(arg, secret, SECRET_SHOWN) : dup_n(arg, strlen(arg));
    if (!a)
        return NULL;
    const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
    const char *path = a[0] == '/' ? a : eq && eq[1] == '/' ? eq + 1 : NULL;
    if (!path)
        return a;
    char *sp = ms_report_shown_path(rep, path);
    char *out = sp ? malloc((size_t)(path - a) + strlen(sp) + 1) : NULL;
    if (out)
        snprintf(out, (size_t)(path - a) + strlen(sp) + 1, "%.*s%s", (int)(path - a), a, sp);
    free(sp);
    free(a);
    return out;
}

/* A word a POSIX shell reads back as itself, else single-quoted. */
static void shell_word(FILE *f, const char *w)
{
    if (*w && strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                        "_@%+=:,./-") == strlen(w)) {
        fputs(w, f);
        return;
    }
    fputc('\'', f);
    for (const char *p = w; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", f);
        else
            fputc(*p, f);
    }
    fputc('\'', f);
}

/* started, finished, mailspec_version, argv and command_line. */
static int provenance(struct ms_json *d, const struct ms_report *rep)
{
    char when[40];
    char *line = NULL;
    size_t linelen = 0;
    struct ms_json *argv = ms_json_new(MS_JSON_ARRAY);
    FILE *f = open_memstream(&line, &linelen);
    int ok = argv && f && ms_json_set_str(d, "mailspec_version", MAILSPEC_VERSION) == 0;

    if (ok && rep->cli && rep->cli->started_ms) {
        iso_utc(rep->cli->started_ms, when, sizeof(when));
        ok = ms_json_set_str(d, "started", when) == 0;
    }
    iso_utc(wall_ms(), when, sizeof(when));
    ok = ok && ms_json_set_str(d, "finished", when) == 0;
    /* argv[0] is the subcommand: the program's name goes first */
    ok = ok && ms_json_append(argv, ms_json_new_string("mailspec")) == 0;
    if (ok)
        fputs("mailspec", f);
    int argc = rep->cli ? rep->cli->argc : 0;
    for (int i = 0; ok && i < argc; i++) {
        const char *prev = i > 0 ? rep->cli->argv[i - 1] : "";
        const char *arg = rep->cli->argv[i];
        /* main() names argv[0] "mailspec certify" for getopt_long's messages */
        if (i == 0 && strncmp(arg, "mailspec ", 9) == 0)
            arg += 9;
        char *a = shown_arg(rep, arg, strcmp(prev, "--password") == 0);
        ok = a && ms_json_append(argv, ms_json_new_string(a)) == 0;
        if (ok) {
            fputc(' ', f);
            shell_word(f, a);
        }
        free(a);
    }
    if (f && fclose(f) != 0)
        ok = 0;
    ok = ok && line && ms_json_set(d, "argv", argv) == 0;
    argv = NULL;
    ok = ok && ms_json_set_str(d, "command_line", line) == 0;
    ms_json_free(argv);
    free(line);
    return ok ? 0 : -1;
}

static struct ms_json *test_doc(const struct ms_report *rep, const struct ms_test_result *t)
{
    struct ms_json *o = ms_json_new(MS_JSON_OBJECT);
    char *file = ms_report_shown_path(rep, t->file ? t->file : "");
    int ok =
        o && ms_json_set_str(o, "id", t->id) == 0 && ms_json_set_str(o, "title", t->title) == 0 &&
        ms_json_set_str(o, "rfc", t->rfc) == 0 && ms_json_set_str(o, "quote", t->quote) == 0 &&
        ms_json_set_str(o, "finding", t->finding ? t->finding : "") == 0 &&
        ms_json_set_str(o, "level", ms_level_name(t->level)) == 0 &&
        ms_json_set_str(o, "result", ms_result_name(t->result)) == 0 &&
        ms_json_set_str(o, "message", t->message) == 0 &&
        ms_json_set_str(o, "transcript", t->transcript) == 0 && file &&
        ms_json_set_str(o, "file", file) == 0 && ms_json_set_str(o, "protocol", t->protocol) == 0 &&
        ms_json_set_num(o, "line", t->fail_line) == 0 &&
        ms_json_set_num(o, "duration_ms", t->duration_ms) == 0 &&
        ms_json_set(o, "tls", tls_doc(&t->tls)) == 0;
    free(file);
    if (!ok) {
        ms_json_free(o);
        return NULL;
    }
    return o;
}

struct ms_json *ms_report_doc(const struct ms_report *rep)
{
    struct ms_summary s;
    struct ms_tls_info none;
    const struct ms_tls_info *tls = &none;

    memset(&none, 0, sizeof(none));
    /* The run's TLS facts: the first test that completed a handshake. */
    for (size_t i = 0; i < rep->n; i++)
        if (rep->tests[i].tls.used) {
            tls = &rep->tests[i].tls;
            break;
        }
    ms_report_summarize(rep, &s);
    uint64_t port = 0;
    if (rep->port && ms_number_parse(rep->port, strlen(rep->port), 65535, &port) != MS_OK)
        port = 0;
    struct ms_json *d = ms_json_new(MS_JSON_OBJECT), *sum = ms_json_new(MS_JSON_OBJECT),
                   *tests = ms_json_new(MS_JSON_ARRAY);
    int ok = d && sum && tests;
    ok = ok && ms_json_set_str(d, "mailspec", MAILSPEC_VERSION) == 0 &&
         ms_json_set_str(d, "command", rep->command) == 0 &&
         ms_json_set_str(d, "protocol", rep->protocol ? rep->protocol : "") == 0 &&
         ms_json_set_str(d, "host", rep->host) == 0 && ms_json_set_num(d, "port", port) == 0 &&
         ms_json_set_str(d, "transport", ms_tls_mode_name(rep->tls)) == 0 &&
         ms_json_set(d, "tls", tls_doc(tls)) == 0;
    /* summary: the contract's pass/fail/skip/error (skip = not-applicable +
     * not-supported), and each result kind on its own */
    ok = ok && ms_json_set_num(sum, "pass", s.pass) == 0 &&
         ms_json_set_num(sum, "fail", s.fail) == 0 && ms_json_set_num(sum, "skip", s.skip) == 0 &&
         ms_json_set_num(sum, "error", s.error) == 0 &&
         ms_json_set_num(sum, "blocked", s.by[MS_RES_BLOCKED]) == 0 &&
         ms_json_set_num(sum, "not_applicable", s.by[MS_RES_NA]) == 0 &&
         ms_json_set_num(sum, "not_supported", s.by[MS_RES_NOT_SUPPORTED]) == 0 &&
         ms_json_set_num(sum, "total", rep->n) == 0 &&
         ms_json_set_num(sum, "planned", rep->planned) == 0 &&
         ms_json_set_num(sum, "must_fail", s.must_fail) == 0 &&
         ms_json_set_num(sum, "must_total",
                         s.must[MS_RES_PASS] + s.must[MS_RES_FAIL] + s.must[MS_RES_NA] +
                             s.must[MS_RES_ERROR] + s.must[MS_RES_BLOCKED] +
                             s.must[MS_RES_NOT_SUPPORTED]) == 0 &&
         ms_json_set_num(sum, "must_ran", s.must[MS_RES_PASS] + s.must[MS_RES_FAIL]) == 0;
    ok = ok && ms_json_set(d, "summary", sum) == 0;
    sum = NULL;
    ok = ok && ms_json_set(d, "interrupted", ms_json_new_bool(rep->interrupted)) == 0 &&
         ms_json_set_num(d, "duration_ms", rep->duration_ms) == 0 &&
         ms_json_set_num(d, "exit", (uint64_t)ms_report_exit_code(rep)) == 0;
    for (size_t i = 0; ok && i < rep->n; i++)
        ok = ms_json_append(tests, test_doc(rep, &rep->tests[i])) == 0;
    ok = ok && ms_json_set(d, "tests", tests) == 0;
    tests = NULL;
    ok = ok && provenance(d, rep) == 0;
    if (ok)
        strip_bases(d->child, rep, 0);
    if (!ok) {
        ms_json_free(d);
        ms_json_free(sum);
        ms_json_free(tests);
        fprintf(stderr, "mailspec: out of memory building the report\n");
        return NULL;
    }
    return d;
}

int ms_report_write_json(const struct ms_json *doc, const char *path)
{
    size_t len = 0;
    char *text = ms_json_text(doc, &len);
    if (!text) {
        fprintf(stderr, "mailspec: out of memory writing %s\n", path);
        return -1;
    }
    int rc = ms_write_atomic(path, text, len);
    free(text);
    return rc;
}

/* ---- JUnit XML ---- */

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t k;
    uint32_t cp, min;

    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xe0) == 0xc0)
        k = 2, cp = p[0] & 0x1fu, min = 0x80;
    else if ((p[0] & 0xf0) == 0xe0)
        k = 3, cp = p[0] & 0x0fu, min = 0x800;
    else if ((p[0] & 0xf8) == 0xf0)
        k = 4, cp = p[0] & 0x07u, min = 0x10000;
    else
        return 0;
    if (k > n)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
        return 0;
    return k;
}

/* XML 1.0 text: escaped, control characters and invalid UTF-8 as U+FFFD.
 * In an attribute value (attr) the line ends and tabs are character
 * references, which attribute-value normalization would turn into spaces. */
static void xml_esc(FILE *f, const char *s, int attr)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p);

    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '&')
            fputs("&amp;", f);
        else if (c == '<')
            fputs("&lt;", f);
        else if (c == '>')
            fputs("&gt;", f);
        else if (c == '"')
            fputs("&quot;", f);
        else if (c == '\'')
            fputs("&apos;", f);
        else if (attr && (c == '\t' || c == '\n' || c == '\r'))
            fprintf(f, "&#%d;", c);
        else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            fputs("\xef\xbf\xbd", f);
        else if (c < 0x80)
            fputc(c, f);
        else {
            size_t k = utf8_len(p + i, n - i);
            if (k == 0) {
                fputs("\xef\xbf\xbd", f);
                i++;
                continue;
            }
            fwrite(p + i, 1, k, f);
            i += k;
            continue;
        }
        i++;
    }
}

static void xml_str(FILE *f, const char *s)
{
    xml_esc(f, s, 0);
}

static void xml_attr(FILE *f, const char *s)
{
    xml_esc(f, s, 1);
}

/*
 * How a test appears in JUnit (docs/certify.md "JUnit"). <failure> is kept
 * for what fails the run (exit 1): a MUST-level failure that is not
 * allow-listed. A SHOULD/MAY/info failure, an allow-listed failure, and the
 * results that judged nothing (blocked, not-applicable, not-supported) are
 * <skipped> with a message that says which; error is <error>. The schema
 * CI tools check (tests/junit/junit-10.xsd) has no other element for it.
 */
struct junit_case {
    const char *tag;    /* NULL: passed */
    const char *note;   /* the message's first words */
    const char *detail; /* then this (may be NULL), then ": " and the test's message */
};

static struct junit_case junit_case(const struct ms_json *t)
{
    const char *result = ms_json_gets(t, "result", "error");
    const char *level = ms_json_gets(t, "level", "");
    const char *xf = ms_json_gets(t, "expected_failure", NULL);
    struct junit_case jc = {NULL, "", NULL};

    if (strcmp(result, "pass") == 0)
        return jc;
    if (xf && (strcmp(result, "fail") == 0 || strcmp(result, "error") == 0)) {
        jc.tag = "skipped";
        jc.note = "expected failure (--expect-fail): ";
        jc.detail = xf;
    } else if (strcmp(result, "fail") == 0 && strcmp(level, "MUST") == 0) {
        jc.tag = "failure";
    } else if (strcmp(result, "fail") == 0) {
        jc.tag = "skipped";
        jc.note = "failed at level ";
        jc.detail = level;
    } else if (strcmp(result, "error") == 0) {
        jc.tag = "error";
    } else {
        jc.tag = "skipped";
        jc.detail = result;
    }
    return jc;
}

static void junit_message(FILE *f, const struct junit_case *jc, const char *msg)
{
    xml_attr(f, jc->note);
    if (jc->detail) {
        xml_attr(f, jc->detail);
        if (strcmp(jc->note, "failed at level ") == 0)
            xml_attr(f, " (not counted: only MUST-level failures fail the run)");
        xml_attr(f, ": ");
    }
    xml_attr(f, msg);
}

static void junit_property(FILE *f, const struct ms_json *doc, const char *key)
{
    const char *v = ms_json_gets(doc, key, NULL);
    if (!v)
        return;
    fputs("<property name=\"", f);
    xml_attr(f, key);
    fputs("\" value=\"", f);
    xml_attr(f, v);
    fputs("\"/>", f);
}

int ms_report_write_junit(const struct ms_json *doc, const char *path)
{
    char *buf = NULL;
    size_t len = 0, n = 0, nfail = 0, nerr = 0, nskip = 0;
    FILE *f = open_memstream(&buf, &len);
    const struct ms_json *tests = ms_json_get(doc, "tests");

    if (!f) {
        fprintf(stderr, "mailspec: out of memory\n");
        return -1;
    }
    for (const struct ms_json *t = tests ? tests->child : NULL; t; t = t->next) {
        struct junit_case jc = junit_case(t);
        n++;
        nfail += jc.tag && strcmp(jc.tag, "failure") == 0;
        nerr += jc.tag && strcmp(jc.tag, "error") == 0;
        nskip += jc.tag && strcmp(jc.tag, "skipped") == 0;
    }
    const char *transport = ms_json_gets(doc, "transport", "");
    const char *started = ms_json_gets(doc, "started", NULL);
    double secs = (double)strtoull(ms_json_gets(doc, "duration_ms", "0"), NULL, 10) / 1000.0;
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    fprintf(f,
            "<testsuites name=\"mailspec\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
            "time=\"%.3f\">\n",
            n, nfail, nerr, secs);
    fputs("<testsuite name=\"mailspec ", f);
    xml_attr(f, ms_json_gets(doc, "command", ""));
    fputs(" ", f);
    xml_attr(f, ms_json_gets(doc, "protocol", ""));
    fputs(" ", f);
    xml_attr(f, transport);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\"", n,
            nfail, nerr, nskip, secs);
    if (started) {
        fputs(" timestamp=\"", f);
        xml_attr(f, started);
        fputs("\"", f);
    }
    fputs(">\n<properties>", f);
    static const char *const props[] = {
        "mailspec_version", "started", "finished", "command_line", "host", "port",
        "transport",        "suite",   "verdict",  "exit"};
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
        junit_property(f, doc, props[i]);
    fputs("</properties>\n", f);
    for (const struct ms_json *t = tests ? tests->child : NULL; t; t = t->next) {
        struct junit_case jc = junit_case(t);
        const char *msg = ms_json_gets(t, "message", "");
        const char *rfc = ms_json_gets(t, "rfc", "");
        const char *quote = ms_json_gets(t, "quote", "");
        const char *level = ms_json_gets(t, "level", "");
        const char *title = ms_json_gets(t, "title", "");
        fputs("<testcase classname=\"", f);
        xml_attr(f, ms_json_gets(t, "protocol", ""));
        fputs(".", f);
        xml_attr(f, level);
        fputs("\" name=\"", f);
        xml_attr(f, ms_json_gets(t, "id", ""));
        if (title[0]) {
            fputs(": ", f);
            xml_attr(f, title);
        }
        fprintf(f, "\" time=\"%.3f\">",
                (double)strtoull(ms_json_gets(t, "duration_ms", "0"), NULL, 10) / 1000.0);
        if (jc.tag) {
            fprintf(f, "<%s message=\"", jc.tag);
            junit_message(f, &jc, msg);
            fprintf(f, "\">");
            if (rfc[0]) {
                fputs("RFC ", f);
                xml_str(f, rfc);
                fputs(" (", f);
                xml_str(f, level);
                fputs(")\n", f);
            }
            if (quote[0]) {
                fputs("\"", f);
                xml_str(f, quote);
                fputs("\"\n", f);
            }
            xml_str(f, msg);
            fprintf(f, "</%s>", jc.tag);
        }
        fputs("<system-out>", f);
        xml_str(f, ms_json_gets(t, "transcript", ""));
        fputs("</system-out></testcase>\n", f);
    }
    fputs("</testsuite>\n</testsuites>\n", f);
    return finish_mem(f, &buf, &len, path);
}

/* ---- terminal ---- */

int ms_use_color(FILE *f)
{
    const char *nc = getenv("NO_COLOR");
    if (nc && nc[0])
        return 0;
    return isatty(fileno(f));
}

static const char *res_color(enum ms_result r)
{
    switch (r) {
    case MS_RES_PASS:
        return "\033[32m";
    case MS_RES_FAIL:
        return "\033[31m";
    case MS_RES_NA:
    case MS_RES_NOT_SUPPORTED:
        return "\033[33m";
    case MS_RES_BLOCKED:
        return "\033[36m";
    default:
        return "\033[35m";
    }
}

static const char *res_upper(enum ms_result r)
{
    switch (r) {
    case MS_RES_PASS:
        return "PASS ";
    case MS_RES_FAIL:
        return "FAIL ";
    case MS_RES_NA:
        return "N/A  ";
    case MS_RES_NOT_SUPPORTED:
        return "NOSUP";
    case MS_RES_BLOCKED:
        return "BLOCK";
    default:
        return "ERROR";
    }
}

/* The last lines of text, indented. */
static void tail_lines(FILE *f, const char *text, size_t lines)
{
    size_t n = strlen(text);
    size_t i = n, seen = 0;

    while (i > 0) {
        if (text[i - 1] == '\n' && i != n && ++seen >= lines)
            break;
        i--;
    }
    const char *p = text + i;
    /* several connections: the tail starts with the connection it is on
     * (the last "@connection NAME" line before it, docs/session-format.md) */
    const char *conn = NULL;
    for (const char *q = text; q < p; q = strchr(q, '\n') + 1) {
        if (strncmp(q, "@connection ", 12) == 0)
            conn = q;
        if (!strchr(q, '\n'))
            break;
    }
    if (conn && strncmp(p, "@connection ", 12) != 0) {
        const char *e = strchr(conn, '\n');
        fprintf(f, "      | %.*s\n", (int)(e ? (size_t)(e - conn) : strlen(conn)), conn);
    }
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        fprintf(f, "      | %.*s\n", (int)l, p);
        p += l + (e ? 1 : 0);
    }
}

void ms_report_progress(FILE *f, const struct ms_test_result *r, size_t done, size_t total,
                        int color, int verbose)
{
    fprintf(f, "[%*zu/%zu] %s%s%s %s",
            total >= 100  ? 3
            : total >= 10 ? 2
                          : 1,
            done, total, color ? res_color(r->result) : "", res_upper(r->result),
            color ? "\033[0m" : "", r->id);
    if (r->title[0])
        fprintf(f, " - %s", r->title);
    if (r->level != MS_LEVEL_MUST)
        fprintf(f, " [%s]", ms_level_name(r->level));
    fprintf(f, " (%llu ms)\n", (unsigned long long)r->duration_ms);
    if (verbose < 0)
        return;
    if (r->result != MS_RES_PASS && r->message[0]) {
        const char *p = r->message;
        while (*p) {
            const char *e = strchr(p, '\n');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            fprintf(f, "      %.*s\n", (int)l, p);
            p += l + (e ? 1 : 0);
        }
    }
    if ((r->result == MS_RES_FAIL || r->result == MS_RES_ERROR || r->result == MS_RES_BLOCKED) &&
        r->transcript[0]) {
        fprintf(f, "      transcript (last lines):\n");
        tail_lines(f, r->transcript, verbose > 0 ? 1000 : 12);
    }
}

void ms_report_summary_line(FILE *f, const struct ms_report *rep, int color)
{
    struct ms_summary s;

    ms_report_summarize(rep, &s);
    fprintf(f,
            "%s%zu passed%s, %s%zu failed%s (%zu MUST), %zu blocked, %zu not applicable, "
            "%zu not supported, %s%zu errors%s",
            color && s.pass ? "\033[32m" : "", s.pass, color && s.pass ? "\033[0m" : "",
            color && s.fail ? "\033[31m" : "", s.fail, color && s.fail ? "\033[0m" : "",
            s.must_fail, s.by[MS_RES_BLOCKED], s.by[MS_RES_NA], s.by[MS_RES_NOT_SUPPORTED],
            color && s.error ? "\033[35m" : "", s.error, color && s.error ? "\033[0m" : "");
    if (rep->interrupted)
        fprintf(f, "; interrupted after %zu of %zu tests", rep->n, rep->planned);
    fprintf(f, " (%llu ms)\n", (unsigned long long)rep->duration_ms);
}
