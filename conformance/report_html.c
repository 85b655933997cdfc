/*
 * Self-contained HTML report from JSON report documents (report_html.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "mailspec/common.h"
#include "mailspec/stream.h"
#include "json.h"
#include "report_html.h"

/* ------------------------------------------------------------ HTML writer -- */

/* Text as HTML: markup characters escaped, controls other than LF/TAB shown
 * as \xHH so a transcript's CR, NUL or ESC bytes are visible, not lost. */
static void h_esc(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        case '\n':
        case '\t':
            fputc(c, f);
            break;
        default:
            if (c < 0x20 || c == 0x7F)
                fprintf(f, "<span class=ctl>\\x%02X</span>", c);
            else
                fputc(c, f);
        }
    }
}

static void h_str(FILE *f, const char *s)
{
    h_esc(f, s, strlen(s));
}

static void h_jstr(FILE *f, const struct ms_json *obj, const char *key, const char *dflt)
{
    h_str(f, ms_json_gets(obj, key, dflt));
}

/* pass, fail, xfail (allow-listed failure), xpass, blocked, not-supported,
 * not-applicable, error ("skip" of older reports is shown as it is). */
static const char *test_result(const struct ms_json *t)
{
    const char *r = ms_json_gets(t, "result", "error");
    const struct ms_json *x = ms_json_get(t, "expected_failure");
    int expected = x && (x->type == MS_JSON_STRING || (x->type == MS_JSON_BOOL && x->boolean));

    if (strcmp(r, "fail") == 0)
        return expected ? "xfail" : "fail";
    if (strcmp(r, "pass") == 0)
        return expected ? "xpass" : "pass";
    static const char *const known[] = {"blocked", "not-supported", "not-applicable",
                                        "skip",    "xfail",         "xpass"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(r, known[i]) == 0)
            return known[i];
    return "error";
}

static void h_result(FILE *f, const char *res)
{
    fprintf(f, "<span class=\"r %s\">%s</span>", res, res);
}

/* The transcript: a string, or a list of strings/objects (rendered generically
 * so a richer runner format still shows). */
static void h_transcript(FILE *f, const struct ms_json *v, unsigned depth)
{
    if (!v || depth > 8)
        return;
    switch (v->type) {
    case MS_JSON_STRING:
    case MS_JSON_NUMBER:
        h_esc(f, v->str, v->len);
        break;
    case MS_JSON_BOOL:
        fputs(v->boolean ? "true" : "false", f);
        break;
    case MS_JSON_ARRAY:
        for (const struct ms_json *e = v->child; e; e = e->next) {
            h_transcript(f, e, depth + 1);
            if (e->type != MS_JSON_STRING || !e->len || e->str[e->len - 1] != '\n')
                fputc('\n', f);
        }
        break;
    case MS_JSON_OBJECT:
        for (const struct ms_json *e = v->child; e; e = e->next) {
            if (e != v->child)
                fputc(' ', f);
            if (e->type != MS_JSON_STRING ||
                (strcmp(e->key, "text") != 0 && strcmp(e->key, "data") != 0)) {
                h_str(f, e->key);
                fputc('=', f);
            }
            h_transcript(f, e, depth + 1);
        }
        break;
    case MS_JSON_NULL:
    default:
        break;
    }
}

static const struct ms_json *tests_of(const struct ms_json *rep)
{
    const struct ms_json *t = ms_json_get(rep, "tests");
    return t && t->type == MS_JSON_ARRAY ? t : NULL;
}

static const struct ms_json *find_test(const struct ms_json *rep, const char *id)
{
    const struct ms_json *ts = tests_of(rep);
    for (const struct ms_json *t = ts ? ts->child : NULL; t; t = t->next)
        if (strcmp(ms_json_gets(t, "id", ""), id) == 0)
            return t;
    return NULL;
}

/* "5321 4.1.1.1" -> the document "5321" (n bytes). */
static size_t rfc_doc(const char *rfc)
{
    size_t n = 0;
    while (rfc[n] && rfc[n] != ' ')
        n++;
    return n;
}

static void column_name(FILE *f, const struct ms_json *rep)
{
    h_jstr(f, rep, "protocol", "?");
    fputc(' ', f);
    h_jstr(f, rep, "transport", "?");
    fputs("<br><small>", f);
    h_jstr(f, rep, "host", "?");
    fputc(':', f);
    h_jstr(f, rep, "port", "?");
    fputs("</small>", f);
}

static unsigned must_failures(const struct ms_json *rep)
{
    unsigned n = 0;
    const struct ms_json *ts = tests_of(rep);
    for (const struct ms_json *t = ts ? ts->child : NULL; t; t = t->next) {
        const char *r = test_result(t);
        if (strcmp(ms_json_gets(t, "level", ""), "MUST") == 0 &&
            (strcmp(r, "fail") == 0 || strcmp(r, "error") == 0))
            n++;
    }
    return n;
}

#define NRESULTS 9
static const char *const result_names[NRESULTS] = {"pass",           "fail",    "xfail",
                                                   "xpass",          "blocked", "not-supported",
                                                   "not-applicable", "skip",    "error"};

static void count_results(const struct ms_json *rep, unsigned c[NRESULTS])
{
    const struct ms_json *ts = tests_of(rep);
    memset(c, 0, NRESULTS * sizeof(c[0]));
    for (const struct ms_json *t = ts ? ts->child : NULL; t; t = t->next) {
        const char *r = test_result(t);
        for (int i = 0; i < NRESULTS; i++)
            if (strcmp(r, result_names[i]) == 0)
                c[i]++;
    }
}

static void h_summary(FILE *f, const struct ms_json *const *reps, size_t n)
{
    fputs("<h2 id=summary>Summary</h2>\n<table class=sum><tr><th>Report</th><th>Protocol</th>"
          "<th>Server</th><th>Transport</th><th>TLS</th>",
          f);
    for (int k = 0; k < NRESULTS; k++)
        fprintf(f, "<th>%s</th>", result_names[k]);
    fputs("<th>Verdict</th></tr>\n", f);
    for (size_t i = 0; i < n; i++) {
        const struct ms_json *tls = ms_json_get(reps[i], "tls");
        const struct ms_json *ver = ms_json_get(tls, "verified");
        unsigned c[NRESULTS], mf = must_failures(reps[i]);
        count_results(reps[i], c);
        fprintf(f, "<tr><td><a href=\"#rep%zu\">#%zu</a></td><td>", i + 1, i + 1);
        h_jstr(f, reps[i], "protocol", "?");
        fputs("</td><td>", f);
        h_jstr(f, reps[i], "host", "?");
        fputc(':', f);
        h_jstr(f, reps[i], "port", "?");
        fputs("</td><td>", f);
        h_jstr(f, reps[i], "transport", "?");
        fputs("</td><td>", f);
        if (tls && tls->type == MS_JSON_OBJECT && ms_json_gets(tls, "version", NULL)) {
            h_jstr(f, tls, "version", "");
            fputc(' ', f);
            h_jstr(f, tls, "cipher", "");
            if (ver && ver->type == MS_JSON_BOOL)
                fputs(ver->boolean ? " <span class=\"r pass\">certificate verified</span>"
                                   : " <span class=\"r fail\">certificate NOT verified</span>",
                      f);
        } else {
            fputs("none", f);
        }
        fputs("</td>", f);
        for (int k = 0; k < NRESULTS; k++)
            fprintf(f, "<td class=n>%u</td>", c[k]);
        const char *verdict = ms_json_gets(reps[i], "verdict", NULL);
        const struct ms_json *comp = ms_json_get(reps[i], "compliant");
        if (verdict) {
            /* the verdict's word as a badge, the rest (what was tested) below it */
            const char *colon = strchr(verdict, ':');
            size_t head = colon ? (size_t)(colon - verdict) : strlen(verdict);
            fprintf(f, "<td class=verdict><span class=\"r %s\">",
                    comp && comp->type == MS_JSON_BOOL && comp->boolean ? "pass"
                    : mf                                                ? "fail"
                                                                        : "blocked");
            h_esc(f, verdict, head);
            fputs("</span>", f);
            if (colon) {
                fputs("<br><small>", f);
                h_str(f, colon + 1);
                fputs("</small>", f);
            }
            fputs("</td></tr>\n", f);

        } else if (mf)
            fprintf(f, "<td><span class=\"r fail\">%u MUST-level failure%s</span></td></tr>\n", mf,
                    mf == 1 ? "" : "s");
        else
            fputs("<td><span class=\"r pass\">every MUST passed</span></td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

/* One matrix per protocol: rows are that protocol's test ids (first
 * appearance order), columns its reports (one per transport/server). */
static void h_matrix_proto(FILE *f, const struct ms_json *const *reps, size_t n, const char *proto)
{
    fputs("<h3>", f);
    h_str(f, proto);
    fputs("</h3>\n<table class=matrix><tr><th>Test</th><th>Level</th><th>RFC</th>", f);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ms_json_gets(reps[i], "protocol", "?"), proto) != 0)
            continue;
        fprintf(f, "<th><a href=\"#rep%zu\">", i + 1);
        column_name(f, reps[i]);
        fputs("</a></th>", f);
    }
    fputs("</tr>\n", f);
    for (size_t i = 0; i < n; i++) {
        const struct ms_json *ts = tests_of(reps[i]);
        if (strcmp(ms_json_gets(reps[i], "protocol", "?"), proto) != 0)
            continue;
        for (const struct ms_json *t = ts ? ts->child : NULL; t; t = t->next) {
            const char *id = ms_json_gets(t, "id", "");
            int seen = 0;
            for (size_t j = 0; j < i && !seen; j++)
                seen = strcmp(ms_json_gets(reps[j], "protocol", "?"), proto) == 0 &&
                       find_test(reps[j], id) != NULL;
            for (const struct ms_json *u = ts->child; u != t && !seen; u = u->next)
                seen = strcmp(ms_json_gets(u, "id", ""), id) == 0;
            if (seen)
                continue;
            fputs("<tr><td class=id title=\"", f);
            h_jstr(f, t, "title", "");
            fputs("\">", f);
            h_str(f, id);
            fputs("</td><td>", f);
            h_jstr(f, t, "level", "");
            fputs("</td><td>", f);
            h_jstr(f, t, "rfc", "");
            fputs("</td>", f);
            for (size_t j = 0; j < n; j++) {
                if (strcmp(ms_json_gets(reps[j], "protocol", "?"), proto) != 0)
                    continue;
                const struct ms_json *tj = find_test(reps[j], id);
                fputs("<td>", f);
                if (tj) {
                    fprintf(f, "<a href=\"#r%zu-", j + 1);
                    h_str(f, id);
                    fputs("\">", f);
                    h_result(f, test_result(tj));
                    fputs("</a>", f);
                } else {
                    fputs("<span class=na>&ndash;</span>", f);
                }
                fputs("</td>", f);
            }
            fputs("</tr>\n", f);
        }
    }
    fputs("</table>\n", f);
}

static void h_matrix(FILE *f, const struct ms_json *const *reps, size_t n)
{
    fputs("<h2 id=matrix>Compliance matrix</h2>\n", f);
    for (size_t i = 0; i < n; i++) {
        const char *proto = ms_json_gets(reps[i], "protocol", "?");
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(ms_json_gets(reps[j], "protocol", "?"), proto) == 0;
        if (!seen)
            h_matrix_proto(f, reps, n, proto);
    }
}

static int level_rank(const char *lvl)
{
    if (strcmp(lvl, "MUST") == 0)
        return 0;
    if (strcmp(lvl, "SHOULD") == 0)
        return 1;
    if (strcmp(lvl, "MAY") == 0)
        return 2;
    return 3;
}

static void h_test(FILE *f, size_t ri, const struct ms_json *t)
{
    const char *res = test_result(t);
    const char *msg = ms_json_gets(t, "message", "");
    const struct ms_json *tr = ms_json_get(t, "transcript");

    fprintf(f, "<details class=\"t %s\" id=\"r%zu-", res, ri + 1);
    h_jstr(f, t, "id", "");
    fputs("\"><summary>", f);
    h_result(f, res);
    fputs(" <code>", f);
    h_jstr(f, t, "id", "");
    fputs("</code> ", f);
    h_jstr(f, t, "title", "");
    fputs(" <small>(RFC ", f);
    h_jstr(f, t, "rfc", "?");
    fputs(")</small></summary>\n", f);
    const char *quote = ms_json_gets(t, "quote", "");
    if (*quote) {
        fputs("<blockquote>", f);
        h_str(f, quote);
        fputs(" <small>(RFC ", f);
        h_jstr(f, t, "rfc", "?");
        fputs(", ", f);
        h_jstr(f, t, "level", "?");
        fputs(")</small></blockquote>\n", f);
    }
    if (*msg) {
        fputs("<p class=msg>", f);
        h_str(f, msg);
        fputs("</p>\n", f);
    }
    const char *xf = ms_json_gets(t, "expected_failure", NULL);
    if (xf) {
        fputs("<p class=msg>Allow-listed (--expect-fail): ", f);
        h_str(f, xf);
        fputs("</p>\n", f);
    }
    if (tr && tr->type != MS_JSON_NULL) {
        fputs("<pre>", f);
        h_transcript(f, tr, 0);
        fputs("</pre>\n", f);
    }
    fputs("</details>\n", f);
}

static void h_report(FILE *f, size_t ri, const struct ms_json *rep)
{
    const struct ms_json *ts = tests_of(rep);

    fprintf(f, "<h2 id=rep%zu>#%zu ", ri + 1, ri + 1);
    h_jstr(f, rep, "protocol", "?");
    fputs(" over ", f);
    h_jstr(f, rep, "transport", "?");
    fputs(" &mdash; ", f);
    h_jstr(f, rep, "host", "?");
    fputc(':', f);
    h_jstr(f, rep, "port", "?");
    fputs("</h2>\n", f);
    /* Group by RFC document (first appearance order), then by level. */
    for (const struct ms_json *t = ts ? ts->child : NULL; t; t = t->next) {
        const char *rfc = ms_json_gets(t, "rfc", "");
        size_t dl = rfc_doc(rfc);
        int seen = 0;
        for (const struct ms_json *u = ts->child; u != t && !seen; u = u->next) {
            const char *ur = ms_json_gets(u, "rfc", "");
            seen = rfc_doc(ur) == dl && strncmp(ur, rfc, dl) == 0;
        }
        if (seen)
            continue;
        fputs("<h3>", f);
        if (dl) {
            fputs("RFC ", f);
            h_esc(f, rfc, dl);
        } else {
            fputs("No RFC given", f);
        }
        fputs("</h3>\n", f);
        for (int rank = 0; rank < 4; rank++) {
            int header = 0;
            for (const struct ms_json *u = t; u; u = u->next) {
                const char *ur = ms_json_gets(u, "rfc", "");
                const char *lvl = ms_json_gets(u, "level", "");
                if (rfc_doc(ur) != dl || strncmp(ur, rfc, dl) != 0 || level_rank(lvl) != rank)
                    continue;
                if (!header) {
                    fputs("<h4>", f);
                    h_str(f, rank < 3 ? lvl : "Other levels");
                    fputs("</h4>\n", f);
                    header = 1;
                }
                h_test(f, ri, u);
            }
        }
    }
}

static const char html_css[] =
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}"
    "th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}"
    "th{background:#f0f0f0}td.n{text-align:right}td.id{font-family:monospace}"
    ".r{display:inline-block;padding:0 .4em;border-radius:3px;font-weight:600;"
    "font-family:monospace}"
    ".pass{background:#d6f5d6;color:#135e13}.fail{background:#fbd3d3;color:#8a1010}"
    ".xfail{background:#ffe8c2;color:#7a4b00}.xpass{background:#e2e8ff;color:#223c8a}"
    ".skip,.not-applicable{background:#eee;color:#555}.error{background:#ecd6f5;color:#5a1377}"
    ".blocked{background:#d9f0f5;color:#0b5566}.not-supported{background:#f3f0d9;color:#5e5410}"
    "blockquote{margin:.3em 0 .3em 1em;font-style:italic;color:#444}"
    "td.verdict{min-width:22em}"
    "details.t{margin:.2em 0;border-left:4px solid #ccc;padding-left:.5em}"
    "details.t.fail,details.t.error{border-color:#d33}"
    "details.t.pass{border-color:#3a3}details.t.skip{border-color:#aaa}"
    "pre{background:#f7f7f7;padding:.5em;overflow-x:auto;font-size:90%}"
    ".ctl{color:#999}.msg{margin:.3em 0 .3em 1em;white-space:pre-wrap}.na{color:#bbb}";

int ms_html_write(FILE *f, const struct ms_json *const *reps, size_t n, char *err, size_t errcap)
{
    static const char *const required[] = {"protocol", "host", "port", "transport", "tests"};

    for (size_t i = 0; i < n; i++) {
        if (!reps[i] || reps[i]->type != MS_JSON_OBJECT) {
            snprintf(err, errcap, "report %zu is not a JSON object", i + 1);
            return -1;
        }
        for (size_t k = 0; k < sizeof(required) / sizeof(required[0]); k++)
            if (!ms_json_get(reps[i], required[k])) {
                snprintf(err, errcap, "report %zu lacks \"%s\"", i + 1, required[k]);
                return -1;
            }
        if (!tests_of(reps[i])) {
            snprintf(err, errcap, "report %zu: \"tests\" is not a list", i + 1);
            return -1;
        }
    }
    fprintf(f,
            "<!DOCTYPE html>\n<html lang=en><head><meta charset=\"utf-8\">"
            "<title>mailspec compliance report</title><style>%s</style></head><body>\n"
            "<h1>mailspec compliance report</h1>\n<p>%zu report%s. Levels are the RFC's own "
            "words for the behaviour checked (RFC 2119). Only MUST-level failures make a "
            "server non-compliant; <b>blocked</b> tests were not judged (a setup step did not "
            "go as scripted), <b>not-supported</b> ones need an optional feature the server lacks, "
            "<b>not-applicable</b> ones do not apply to the run; <b>xfail</b> marks a failure "
            "allow-listed with "
            "<code>--expect-fail</code>, <b>xpass</b> an allow-listed test that passed.</p>\n"
            "<p><a href=\"#summary\">Summary</a> &middot; <a href=\"#matrix\">Compliance "
            "matrix</a></p>\n",
            html_css, n, n == 1 ? "" : "s");
    h_summary(f, reps, n);
    h_matrix(f, reps, n);
    for (size_t i = 0; i < n; i++)
        h_report(f, i, reps[i]);
    fputs("</body></html>\n", f);
    if (ferror(f)) {
        snprintf(err, errcap, "write error: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int ms_html_from_files(const char *out, const char *const *paths, size_t n)
{
    struct ms_json **reps = calloc(n ? n : 1, sizeof(*reps));
    char err[256];
    int rc = -1;
    FILE *f = NULL;

    if (!reps) {
        fprintf(stderr, "mailspec: out of memory\n");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char *text = NULL;
        size_t len = 0;
        if (ms_read_file(paths[i], &text, &len) != 0)
            goto done;
        reps[i] = ms_json_parse(text, len, err, sizeof(err));
        free(text);
        if (!reps[i]) {
            fprintf(stderr, "mailspec: %s: not JSON: %s\n", paths[i], err);
            goto done;
        }
    }
    f = strcmp(out, "-") == 0 ? stdout : fopen(out, "w");
    if (!f) {
        fprintf(stderr, "mailspec: cannot write %s: %s\n", out, strerror(errno));
        goto done;
    }
    if (ms_html_write(f, (const struct ms_json *const *)reps, n, err, sizeof(err)) != 0) {
        fprintf(stderr, "mailspec: %s: %s\n", out, err);
        goto done;
    }
    rc = 0;
done:
    if (f && f != stdout && fclose(f) != 0 && rc == 0) {
        fprintf(stderr, "mailspec: cannot write %s: %s\n", out, strerror(errno));
        rc = -1;
    }
    if (f == stdout && fflush(stdout) != 0)
        rc = -1;
    for (size_t i = 0; i < n; i++)
        ms_json_free(reps[i]);
    free(reps);
    return rc;
}
