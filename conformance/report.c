/* Reports: terminal, JSON, JUnit XML (report.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

int ms_write_atomic(const char *path, const char *data, size_t n)
{
    if (strcmp(path, "-") == 0) {
        if (fwrite(data, 1, n, stdout) != n || fflush(stdout) != 0) {
            fprintf(stderr, "mailspec: cannot write to stdout: %s\n", strerror(errno));
            return -1;
        }
        return 0;
    }
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 16);
    if (!tmp) {
        fprintf(stderr, "mailspec: out of memory\n");
        return -1;
    }
    snprintf(tmp, pl + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "mailspec: cannot create %s: %s\n", tmp, strerror(errno));
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
    /* reports are read by other tools: make the file world-readable like a
     * normal output file rather than mkstemp's 0600 */
    (void)fchmod(fd, 0644);
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

static struct ms_json *test_doc(const struct ms_test_result *t)
{
    struct ms_json *o = ms_json_new(MS_JSON_OBJECT);
    int ok = o && ms_json_set_str(o, "id", t->id) == 0 &&
             ms_json_set_str(o, "title", t->title) == 0 && ms_json_set_str(o, "rfc", t->rfc) == 0 &&
             ms_json_set_str(o, "quote", t->quote) == 0 &&
             ms_json_set_str(o, "finding", t->finding ? t->finding : "") == 0 &&
             ms_json_set_str(o, "level", ms_level_name(t->level)) == 0 &&
             ms_json_set_str(o, "result", ms_result_name(t->result)) == 0 &&
             ms_json_set_str(o, "message", t->message) == 0 &&
             ms_json_set_str(o, "transcript", t->transcript) == 0 &&
             ms_json_set_str(o, "file", t->file) == 0 &&
             ms_json_set_str(o, "protocol", t->protocol) == 0 &&
             ms_json_set_num(o, "line", t->fail_line) == 0 &&
             ms_json_set_num(o, "duration_ms", t->duration_ms) == 0 &&
             ms_json_set(o, "tls", tls_doc(&t->tls)) == 0;
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
        ok = ms_json_append(tests, test_doc(&rep->tests[i])) == 0;
    ok = ok && ms_json_set(d, "tests", tests) == 0;
    tests = NULL;
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

/* XML 1.0 text: escaped, control characters and invalid UTF-8 as U+FFFD. */
static void xml_str(FILE *f, const char *s)
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

/* JUnit: fail is <failure>, error <error>; the results that judged nothing
 * (blocked, not-applicable, not-supported) are <skipped> with their reason. */
static const char *junit_tag(const char *result)
{
    if (strcmp(result, "fail") == 0)
        return "failure";
    if (strcmp(result, "error") == 0)
        return "error";
    if (strcmp(result, "pass") == 0)
        return NULL;
    return "skipped";
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
        const char *tag = junit_tag(ms_json_gets(t, "result", "error"));
        /* an allow-listed failure is written as <skipped> below: count it so */
        if (tag && ms_json_gets(t, "expected_failure", NULL))
            tag = "skipped";
        n++;
        nfail += tag && strcmp(tag, "failure") == 0;
        nerr += tag && strcmp(tag, "error") == 0;
        nskip += tag && strcmp(tag, "skipped") == 0;
    }
    const char *transport = ms_json_gets(doc, "transport", "");
    double secs = (double)strtoull(ms_json_gets(doc, "duration_ms", "0"), NULL, 10) / 1000.0;
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    fprintf(f, "<testsuites tests=\"%zu\" failures=\"%zu\" errors=\"%zu\">\n", n, nfail, nerr);
    fputs("<testsuite name=\"mailspec ", f);
    xml_str(f, ms_json_gets(doc, "command", ""));
    fputs(" ", f);
    xml_str(f, ms_json_gets(doc, "protocol", ""));
    fputs(" ", f);
    xml_str(f, transport);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n",
            n, nfail, nerr, nskip, secs);
    fputs("<properties><property name=\"host\" value=\"", f);
    xml_str(f, ms_json_gets(doc, "host", ""));
    fputs("\"/><property name=\"port\" value=\"", f);
    xml_str(f, ms_json_gets(doc, "port", ""));
    fputs("\"/><property name=\"transport\" value=\"", f);
    xml_str(f, transport);
    fputs("\"/></properties>\n", f);
    for (const struct ms_json *t = tests ? tests->child : NULL; t; t = t->next) {
        const char *result = ms_json_gets(t, "result", "error");
        const char *xf = ms_json_gets(t, "expected_failure", NULL);
        const char *tag = junit_tag(result);
        const char *msg = ms_json_gets(t, "message", "");
        const char *rfc = ms_json_gets(t, "rfc", "");
        const char *quote = ms_json_gets(t, "quote", "");
        const char *level = ms_json_gets(t, "level", "");
        const char *title = ms_json_gets(t, "title", "");
        /* an allow-listed failure is reported, not counted against the run */
        if (xf && tag && strcmp(tag, "skipped") != 0)
            tag = "skipped";
        fputs("<testcase classname=\"", f);
        xml_str(f, ms_json_gets(t, "protocol", ""));
        fputs(".", f);
        xml_str(f, level);
        fputs("\" name=\"", f);
        xml_str(f, ms_json_gets(t, "id", ""));
        if (title[0]) {
            fputs(": ", f);
            xml_str(f, title);
        }
        fprintf(f, "\" time=\"%.3f\">",
                (double)strtoull(ms_json_gets(t, "duration_ms", "0"), NULL, 10) / 1000.0);
        if (tag) {
            fprintf(f, "<%s message=\"", tag);
            if (xf) {
                fputs("expected failure (--expect-fail): ", f);
                xml_str(f, xf);
                fputs(": ", f);
            } else if (strcmp(tag, "skipped") == 0) {
                xml_str(f, result);
                fputs(": ", f);
            }
            xml_str(f, msg);
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
            fprintf(f, "</%s>", tag);
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
