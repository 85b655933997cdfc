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
#include "report.h"
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

/* ---------------------------------------------------- citations, messages -- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* "5321 4.1.1.4" at s: the document's digits (*doc) and the section's
 * (*sec, 0 if none); returns the bytes taken, 0 when s is not one. */
static size_t rfc_ref(const char *s, size_t n, size_t *doc, size_t *sec)
{
    size_t i = 0;
    while (i < n && is_digit(s[i]))
        i++;
    if (i < 3 || i > 5)
        return 0;
    *doc = i;
    *sec = 0;
    if (i + 1 < n && s[i] == ' ' && is_digit(s[i + 1])) {
        size_t j = i + 1;
        while (j < n && (is_digit(s[j]) || (s[j] == '.' && j + 1 < n && is_digit(s[j + 1]))))
            j++;
        *sec = j - (i + 1);
        i = j;
    }
    return i;
}

/* A citation "RFC 5321 4.1.1.4" (the "RFC " before s already written by
 * the caller, or not) as a link to the RFC Editor's page and section. */
static void h_rfc_link(FILE *f, const char *s, size_t doc, size_t sec, const char *prefix)
{
    fputs("<a class=rfc href=\"https://www.rfc-editor.org/rfc/rfc", f);
    h_esc(f, s, doc);
    if (sec) {
        fputs("#section-", f);
        h_esc(f, s + doc + 1, sec);
    }
    fputs("\">", f);
    fputs(prefix, f);
    h_esc(f, s, doc + (sec ? sec + 1 : 0));
    fputs("</a>", f);
}

/* The test's @rfc value ("5321 4.1.1.4") as a link, else as text. */
static void h_rfc_field(FILE *f, const char *rfc, const char *prefix)
{
    size_t doc, sec, n = strlen(rfc), k = rfc_ref(rfc, n, &doc, &sec);
    if (k) {
        h_rfc_link(f, rfc, doc, sec, prefix);
        h_esc(f, rfc + k, n - k);
    } else {
        fputs(prefix, f);
        h_str(f, rfc[0] ? rfc : "?");
    }
}

/* Text with every "RFC NNNN[ X.Y]" citation in it linked. */
static void h_text_links(FILE *f, const char *s, size_t n)
{
    size_t from = 0;
    for (size_t i = 0; i + 4 < n; i++) {
        size_t doc, sec, k;
        if (memcmp(s + i, "RFC ", 4) != 0 ||
            (i > 0 && s[i - 1] != ' ' && s[i - 1] != '(' && s[i - 1] != '\n' && s[i - 1] != '/'))
            continue;
        k = rfc_ref(s + i + 4, n - i - 4, &doc, &sec);
        if (!k)
            continue;
        h_esc(f, s + from, i - from);
        h_rfc_link(f, s + i + 4, doc, sec, "RFC ");
        from = i = i + 4 + doc + (sec ? sec + 1 : 0);
        i--;
    }
    h_esc(f, s + from, n - from);
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/*
 * Where got first differs from the expected line exp: the length of their
 * common prefix (ASCII case folded, as the matcher folds protocol words),
 * or -1 when there is no telling: the lines are equal, or the expectation
 * is a pattern (${...}) at or before that point, which matches more than
 * its own text.
 */
static long first_diff(const char *exp, size_t en, const char *got, size_t gn)
{
    size_t i = 0;
    while (i < en && i < gn && lower(exp[i]) == lower(got[i]))
        i++;
    if (i == en && i == gn)
        return -1;
    for (size_t k = 0; k + 1 < en && k <= i; k++)
        if (exp[k] == '$' && exp[k + 1] == '{')
            return -1;
    return (long)i;
}

/* One line of a message with the byte at mark (-1: none) highlighted, its
 * number counted from from (where the compared text starts); at the end of
 * the line the mark is an empty box (the line is shorter). */
static void h_marked(FILE *f, const char *s, size_t n, long mark, size_t from)
{
    if (mark < 0 || (size_t)mark > n) {
        h_esc(f, s, n);
        return;
    }
    size_t m = (size_t)mark;
    h_esc(f, s, m);
    fprintf(f, "<mark class=diff title=\"first difference, byte %zu\">", m - from + 1);
    if (m < n)
        h_esc(f, s + m, 1);
    else
        fputs("&#8203;", f);
    fputs("</mark>", f);
    if (m < n)
        h_esc(f, s + m + 1, n - m - 1);
}

#define MSG_MAX_LINES 256

/* Where the text of a "  expected: " or "  got: " line starts, or 0. */
static size_t label_end(const char *s, size_t n, const char *label)
{
    size_t i = 0, l = strlen(label);
    while (i < n && s[i] == ' ')
        i++;
    if (n - i < l || memcmp(s + i, label, l) != 0)
        return 0;
    i += l;
    while (i < n && s[i] == ' ')
        i++;
    return i;
}

/*
 * A failure message as the runner wrote it, line breaks kept: "expected"
 * and "got" lines (docs/certify.md "Results") get the first differing byte
 * marked (against the got line most like the expectation: a multi-line
 * reply has several), and RFC citations elsewhere become links.
 */
static void h_message(FILE *f, const char *msg)
{
    const char *line[MSG_MAX_LINES];
    size_t len[MSG_MAX_LINES], nl = 0;
    long mark[MSG_MAX_LINES];
    size_t from[MSG_MAX_LINES];
    int data[MSG_MAX_LINES];

    for (const char *p = msg; *p && nl < MSG_MAX_LINES;) {
        const char *e = strchr(p, '\n');
        line[nl] = p;
        len[nl] = e ? (size_t)(e - p) : strlen(p);
        mark[nl] = -1;
        from[nl] = 0;
        data[nl] = 0;
        nl++;
        p = e ? e + 1 : p + strlen(p);
    }
    for (size_t i = 0; i < nl; i++) {
        size_t eo = label_end(line[i], len[i], "expected:");
        if (!eo)
            continue;
        data[i] = 1;
        /* the got lines: "  got: S: ..." and its continuations "      S: ..." */
        size_t best = 0, bo = 0, bestlen = 0;
        for (size_t j = i + 1; j < nl; j++) {
            size_t go = j == i + 1 ? label_end(line[j], len[j], "got:") : 0;
            if (j > i + 1)
                go = label_end(line[j], len[j], "S:") ? label_end(line[j], len[j], "") : 0;
            if (!go)
                break;
            data[j] = 1;
            size_t k = 0;
            while (k < len[i] - eo && k < len[j] - go &&
                   lower(line[i][eo + k]) == lower(line[j][go + k]))
                k++;
            if (!best || k > bestlen)
                best = j, bo = go, bestlen = k;
        }
        /* "S: (the server closes the connection)" describes, it is no line */
        if (!best || (len[i] - eo > 3 && line[i][eo + 3] == '('))
            continue;
        long d = first_diff(line[i] + eo, len[i] - eo, line[best] + bo, len[best] - bo);
        if (d >= 0) {
            mark[i] = (long)eo + d;
            mark[best] = (long)bo + d;
            from[i] = eo;
            from[best] = bo;
        }
    }
    fputs("<div class=msg>", f);
    for (size_t i = 0; i < nl; i++) {
        if (i)
            fputc('\n', f);
        if (data[i]) {
            /* protocol data: wrapped at the edge, not at its spaces */
            fputs("<span class=data>", f);
            h_marked(f, line[i], len[i], mark[i], from[i]);
            fputs("</span>", f);
        } else
            h_text_links(f, line[i], len[i]);
    }
    if (nl == MSG_MAX_LINES) {
        const char *rest = line[nl - 1] + len[nl - 1];
        h_text_links(f, rest, strlen(rest));
    }
    fputs("</div>\n", f);
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

/* MUST-level failures of the server: not the harness's errors, not
 * allow-listed failures (xfail). */
static unsigned must_failures(const struct ms_json *rep)
{
    unsigned n = 0;
    const struct ms_json *ts = tests_of(rep);
    for (const struct ms_json *t = ts ? ts->child : NULL; t; t = t->next)
        n += strcmp(ms_json_gets(t, "level", ""), "MUST") == 0 &&
             strcmp(test_result(t), "fail") == 0;
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
    /* a result no report has is not a column (pass and fail always are):
     * the table fits the page */
    int shown[NRESULTS];
    for (int k = 0; k < NRESULTS; k++)
        shown[k] = k < 2;
    for (size_t i = 0; i < n; i++) {
        unsigned c[NRESULTS];
        count_results(reps[i], c);
        for (int k = 0; k < NRESULTS; k++)
            shown[k] |= c[k] != 0;
    }
    fputs("<h2 id=summary>Summary</h2>\n<table class=sum><tr><th>Report</th><th>Protocol</th>"
          "<th>Server</th><th>Transport</th><th>TLS</th>",
          f);
    for (int k = 0; k < NRESULTS; k++)
        if (shown[k])
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
            if (shown[k])
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

        } else if (mf) {
            fprintf(f, "<td><span class=\"r fail\">%u MUST-level failure%s</span></td></tr>\n", mf,
                    mf == 1 ? "" : "s");
        } else {
            /* a report without certify's verdict (replay): its exit status
             * (docs/certify.md "Verdict"), else its counts */
            const char *ex = ms_json_gets(reps[i], "exit", NULL);
            if (ex ? strcmp(ex, "2") == 0 : c[NRESULTS - 1] != 0) /* error */
                fputs("<td><span class=\"r error\">no verdict</span><br><small>a harness error "
                      "or an interrupted run</small></td></tr>\n",
                      f);
            else if (ex && strcmp(ex, "0") != 0)
                fputs("<td><span class=\"r blocked\">incomplete</span><br><small>MUST-level "
                      "tests were blocked, or too few ran</small></td></tr>\n",
                      f);
            else
                fputs("<td><span class=\"r pass\">every MUST-level test that ran "
                      "passed</span></td></tr>\n",
                      f);
        }
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
            h_rfc_field(f, ms_json_gets(t, "rfc", ""), "");
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
    const char *rfc = ms_json_gets(t, "rfc", "");
    const struct ms_json *tr = ms_json_get(t, "transcript");
    /* what needs reading is open; passes and skips are one line each */
    int open = strcmp(res, "fail") == 0 || strcmp(res, "error") == 0;

    fprintf(f, "<details class=\"t %s\" id=\"r%zu-", res, ri + 1);
    h_jstr(f, t, "id", "");
    fprintf(f, "\"%s><summary>", open ? " open" : "");
    h_result(f, res);
    fputs(" <code>", f);
    h_jstr(f, t, "id", "");
    fputs("</code> ", f);
    h_jstr(f, t, "title", "");
    fputs(" <small>(", f);
    h_rfc_field(f, rfc, "RFC ");
    fputs(")</small></summary>\n", f);
    const char *quote = ms_json_gets(t, "quote", "");
    if (*quote) {
        fputs("<blockquote>", f);
        h_str(f, quote);
        fputs(" <small>(", f);
        h_rfc_field(f, rfc, "RFC ");
        fputs(", ", f);
        h_jstr(f, t, "level", "?");
        fputs(")</small></blockquote>\n", f);
    }
    if (*msg)
        h_message(f, msg);
    const char *xf = ms_json_gets(t, "expected_failure", NULL);
    if (xf) {
        fputs("<div class=msg>Allow-listed (--expect-fail): ", f);
        h_str(f, xf);
        fputs("</div>\n", f);
    }
    if (tr && tr->type != MS_JSON_NULL && !(tr->type == MS_JSON_STRING && tr->len == 0)) {
        fputs("<pre>", f);
        h_transcript(f, tr, 0);
        fputs("</pre>\n", f);
    }
    fputs("</details>\n", f);
}

/* When, with what and how the report was made (older reports may lack some). */
static void h_provenance(FILE *f, const struct ms_json *rep)
{
    static const char *const rows[][2] = {
        {"verdict", "Verdict"},         {"started", "Started (UTC)"},
        {"finished", "Finished (UTC)"}, {"mailspec_version", "mailspec version"},
        {"command_line", "Command"},    {"suite", "Suite"},
    };
    int any = 0;

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *v = ms_json_gets(rep, rows[i][0], NULL);
        if (!v)
            continue;
        if (!any)
            fputs("<table class=meta>", f);
        any = 1;
        fputs("<tr><th>", f);
        h_str(f, rows[i][1]);
        fputs("</th><td>", f);
        if (strcmp(rows[i][0], "command_line") == 0) {
            fputs("<code>", f);
            h_str(f, v);
            fputs("</code>", f);
        } else {
            h_str(f, v);
        }
        fputs("</td></tr>", f);
    }
    if (any)
        fputs("</table>\n", f);
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
    h_provenance(f, rep);
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
            size_t doc, sec;
            if (rfc_ref(rfc, dl, &doc, &sec) == dl)
                h_rfc_link(f, rfc, doc, 0, "RFC ");
            else {
                fputs("RFC ", f);
                h_esc(f, rfc, dl);
            }
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

/* Result colours on the badges (.r) and as the left border of a test; the
 * rest of a test's line stays black on white, readable in print too. */
static const char html_css[] =
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:110em}"
    "table{border-collapse:collapse;margin:1em 0}"
    "th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}"
    "th{background:#f0f0f0}td.n{text-align:right}td.id{font-family:monospace}"
    "table.meta th{width:11em;font-weight:600}table.meta code{white-space:pre-wrap;"
    "overflow-wrap:anywhere}"
    ".r{display:inline-block;padding:0 .4em;border-radius:3px;font-weight:600;"
    "font-family:monospace}"
    ".r.pass{background:#d6f5d6;color:#135e13}.r.fail{background:#fbd3d3;color:#8a1010}"
    ".r.xfail{background:#ffe8c2;color:#7a4b00}.r.xpass{background:#e2e8ff;color:#223c8a}"
    ".r.skip,.r.not-applicable{background:#eee;color:#555}"
    ".r.error{background:#ecd6f5;color:#5a1377}"
    ".r.blocked{background:#d9f0f5;color:#0b5566}"
    ".r.not-supported{background:#f3f0d9;color:#5e5410}"
    "blockquote{margin:.3em 0 .3em 1em;font-style:italic;color:#444}"
    "table.sum{width:100%}td.verdict{min-width:14em}"
    "details.t{margin:.25em 0;border-left:4px solid #ccc;padding-left:.5em}"
    "details.t>summary{cursor:pointer}"
    "details.t.fail,details.t.error{border-color:#d33}details.t.fail>summary{font-weight:600}"
    "details.t.pass{border-color:#3a3}details.t.xfail{border-color:#e9a33b}"
    "details.t.blocked{border-color:#3aa3b8}details.t.not-supported{border-color:#c9bb4a}"
    "details.t.xpass{border-color:#6b83d6}details.t.error{border-color:#9b45c2}"
    "details[open].t{padding-bottom:.4em}"
    "pre{background:#f7f7f7;padding:.5em;overflow:auto;font-size:90%;max-height:36em}"
    "@media print{pre{max-height:none;white-space:pre-wrap}details.t{break-inside:avoid}}"
    ".msg{margin:.4em 0 .4em 1em;white-space:pre-wrap;overflow-wrap:anywhere;"
    "font-family:monospace;font-size:90%}"
    ".msg .data{word-break:break-all}mark.diff{background:#ffb000;color:#000;outline:1px solid "
    "#a05a00}"
    "a.rfc{color:inherit}.ctl{color:#999}.na{color:#bbb}";

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
    char err[256], *page = NULL;
    size_t plen = 0;
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
    /* built in memory, then written as every report is (ms_write_atomic):
     * a temp file beside out and a rename, never through a symlink at out */
    f = open_memstream(&page, &plen);
    if (!f) {
        fprintf(stderr, "mailspec: out of memory\n");
        goto done;
    }
    if (ms_html_write(f, (const struct ms_json *const *)reps, n, err, sizeof(err)) != 0) {
        fprintf(stderr, "mailspec: %s: %s\n", out, err);
        goto done;
    }
    rc = 0;
done:
    if (f && fclose(f) != 0 && rc == 0) {
        fprintf(stderr, "mailspec: out of memory building %s\n", out);
        rc = -1;
    }
    if (rc == 0)
        rc = ms_write_atomic(out, page, plen);
    free(page);
    for (size_t i = 0; i < n; i++)
        ms_json_free(reps[i]);
    free(reps);
    return rc;
}
