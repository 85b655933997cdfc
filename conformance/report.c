/* Reports: terminal, JSON, JUnit XML (report.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailspec/mailspec.h"
#include "report.h"

void ms_report_summarize(const struct ms_report *rep, struct ms_summary *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (size_t i = 0; i < rep->n; i++) {
        const struct ms_test_result *t = &rep->tests[i];
        switch (t->result) {
        case MS_RES_PASS:
            sum->pass++;
            break;
        case MS_RES_FAIL:
            sum->fail++;
            if (t->level == MS_LEVEL_MUST)
                sum->must_fail++;
            break;
        case MS_RES_NA:
            sum->skip++;
            break;
        default:
            sum->error++;
            break;
        }
    }
}

int ms_report_exit_code(const struct ms_report *rep)
{
    struct ms_summary s;

    ms_report_summarize(rep, &s);
    if (s.must_fail)
        return 1;
    if (s.error || rep->interrupted)
        return 2;
    return 0;
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

/* ---- JSON ---- */

static void json_str(FILE *f, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    size_t cap = n * 6 + 8;
    char *buf = malloc(cap);
    struct ms_out o;

    if (!buf) {
        fputs("\"\"", f);
        return;
    }
    ms_out_init(&o, buf, cap);
    ms_out_json_str(&o, s ? s : "", n);
    fwrite(o.buf, 1, o.len, f);
    free(buf);
}

static void json_kv(FILE *f, const char *k, const char *v, int comma)
{
    fprintf(f, "%s\"%s\":", comma ? "," : "", k);
    json_str(f, v);
}

static void json_tls(FILE *f, const struct ms_tls_info *t)
{
    fputs("{\"version\":", f);
    if (t->used)
        json_str(f, t->version);
    else
        fputs("null", f);
    fputs(",\"cipher\":", f);
    if (t->used)
        json_str(f, t->cipher);
    else
        fputs("null", f);
    fprintf(f, ",\"verified\":%s", t->used && t->verified ? "true" : "false");
    if (t->used) {
        json_kv(f, "subject", t->subject, 1);
        json_kv(f, "not_after", t->not_after, 1);
        json_kv(f, "verify_error", t->verify_error, 1);
    }
    fputs("}", f);
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

int ms_report_json(const struct ms_report *rep, const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct ms_summary s;
    struct ms_tls_info none;
    const struct ms_tls_info *tls = &none;

    if (!f) {
        fprintf(stderr, "mailspec: out of memory\n");
        return -1;
    }
    memset(&none, 0, sizeof(none));
    /* The run's TLS facts: the first test that completed a handshake. */
    for (size_t i = 0; i < rep->n; i++)
        if (rep->tests[i].tls.used) {
            tls = &rep->tests[i].tls;
            break;
        }
    ms_report_summarize(rep, &s);
    fputs("{", f);
    json_kv(f, "mailspec", MAILSPEC_VERSION, 0);
    json_kv(f, "command", rep->command, 1);
    json_kv(f, "protocol", rep->protocol ? rep->protocol : "", 1);
    json_kv(f, "host", rep->host, 1);
    uint64_t port = 0;
    if (rep->port && ms_number_parse(rep->port, strlen(rep->port), 65535, &port) != MS_OK)
        port = 0;
    fprintf(f, ",\"port\":%llu", (unsigned long long)port);
    json_kv(f, "transport", ms_tls_mode_name(rep->tls), 1);
    fputs(",\"tls\":", f);
    json_tls(f, tls);
    fprintf(f,
            ",\"summary\":{\"pass\":%zu,\"fail\":%zu,\"skip\":%zu,\"error\":%zu,\"total\":%zu,"
            "\"planned\":%zu,\"must_fail\":%zu}",
            s.pass, s.fail, s.skip, s.error, rep->n, rep->planned, s.must_fail);
    fprintf(f, ",\"interrupted\":%s,\"duration_ms\":%llu,\"exit\":%d",
            rep->interrupted ? "true" : "false", (unsigned long long)rep->duration_ms,
            ms_report_exit_code(rep));
    fputs(",\"tests\":[", f);
    for (size_t i = 0; i < rep->n; i++) {
        const struct ms_test_result *t = &rep->tests[i];
        fputs(i ? ",{" : "{", f);
        json_kv(f, "id", t->id, 0);
        json_kv(f, "title", t->title, 1);
        json_kv(f, "rfc", t->rfc, 1);
        json_kv(f, "level", ms_level_name(t->level), 1);
        json_kv(f, "result", ms_result_name(t->result), 1);
        json_kv(f, "message", t->message, 1);
        json_kv(f, "transcript", t->transcript, 1);
        json_kv(f, "file", t->file, 1);
        json_kv(f, "protocol", t->protocol, 1);
        fprintf(f, ",\"line\":%zu,\"duration_ms\":%llu,\"tls\":", t->fail_line,
                (unsigned long long)t->duration_ms);
        json_tls(f, &t->tls);
        fputs("}", f);
    }
    fputs("]}\n", f);
    return finish_mem(f, &buf, &len, path);
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

int ms_report_junit(const struct ms_report *rep, const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct ms_summary s;

    if (!f) {
        fprintf(stderr, "mailspec: out of memory\n");
        return -1;
    }
    ms_report_summarize(rep, &s);
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    fprintf(f, "<testsuites tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\">\n",
            rep->n, s.fail, s.error, s.skip);
    fputs("<testsuite name=\"mailspec ", f);
    xml_str(f, rep->command);
    fputs(" ", f);
    xml_str(f, rep->protocol ? rep->protocol : "");
    fprintf(f,
            " %s\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" "
            "time=\"%.3f\">\n",
            ms_tls_mode_name(rep->tls), rep->n, s.fail, s.error, s.skip,
            (double)rep->duration_ms / 1000.0);
    fputs("<properties><property name=\"host\" value=\"", f);
    xml_str(f, rep->host);
    fputs("\"/><property name=\"port\" value=\"", f);
    xml_str(f, rep->port);
    fprintf(f, "\"/><property name=\"transport\" value=\"%s\"/></properties>\n",
            ms_tls_mode_name(rep->tls));
    for (size_t i = 0; i < rep->n; i++) {
        const struct ms_test_result *t = &rep->tests[i];
        fputs("<testcase classname=\"", f);
        xml_str(f, t->protocol);
        fprintf(f, ".%s\" name=\"", ms_level_name(t->level));
        xml_str(f, t->id);
        if (t->title[0]) {
            fputs(": ", f);
            xml_str(f, t->title);
        }
        fputs("\" file=\"", f);
        xml_str(f, t->file);
        fprintf(f, "\" time=\"%.3f\">", (double)t->duration_ms / 1000.0);
        const char *tag = t->result == MS_RES_FAIL    ? "failure"
                          : t->result == MS_RES_ERROR ? "error"
                          : t->result == MS_RES_NA  ? "skipped"
                                                      : NULL;
        if (tag) {
            fprintf(f, "<%s message=\"", tag);
            xml_str(f, t->message);
            fprintf(f, "\">");
            if (t->rfc[0]) {
                fputs("RFC ", f);
                xml_str(f, t->rfc);
                fprintf(f, " (%s)\n", ms_level_name(t->level));
            }
            xml_str(f, t->message);
            fprintf(f, "</%s>", tag);
        }
        fputs("<system-out>", f);
        xml_str(f, t->transcript);
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
        return "\033[33m";
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
        return "SKIP ";
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
    if ((r->result == MS_RES_FAIL || r->result == MS_RES_ERROR) && r->transcript[0]) {
        fprintf(f, "      transcript (last lines):\n");
        tail_lines(f, r->transcript, verbose > 0 ? 1000 : 12);
    }
}

void ms_report_summary_line(FILE *f, const struct ms_report *rep, int color)
{
    struct ms_summary s;

    ms_report_summarize(rep, &s);
    fprintf(f, "%s%zu passed%s, %s%zu failed%s (%zu MUST), %zu skipped, %s%zu errors%s",
            color && s.pass ? "\033[32m" : "", s.pass, color && s.pass ? "\033[0m" : "",
            color && s.fail ? "\033[31m" : "", s.fail, color && s.fail ? "\033[0m" : "",
            s.must_fail, s.skip, color && s.error ? "\033[35m" : "", s.error,
            color && s.error ? "\033[0m" : "");
    if (rep->interrupted)
        fprintf(f, "; interrupted after %zu of %zu tests", rep->n, rep->planned);
    fprintf(f, " (%llu ms)\n", (unsigned long long)rep->duration_ms);
}
