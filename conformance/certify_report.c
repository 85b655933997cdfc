/*
 * certify's verdict and reports (certify.h). The report is one document
 * built in memory (report.c's, extended with what certify adds); JSON, JUnit
 * and HTML are rendered from it. With a report on stdout ("-") the human
 * summary goes to stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certify.h"
#include "cli.h"
#include "json.h"
#include "mailspec/mailspec.h"
#include "report.h"
#include "report_html.h"

/* fail/error that the allow-list does not excuse */
int certify_counts_as_failure(const struct cert_test *t)
{
    return (t->r.result == MS_RES_FAIL || t->r.result == MS_RES_ERROR) && !t->xfail;
}

/* MUST-level counts with allow-listed failures taken out. */
static void must_counts(const struct certify *c, size_t must[MS_RES_COUNT], size_t *must_fail,
                        size_t *errors, size_t *ran_any)
{
    memset(must, 0, MS_RES_COUNT * sizeof(must[0]));
    *must_fail = *errors = *ran_any = 0;
    for (size_t i = 0; i < c->n; i++) {
        const struct cert_test *t = &c->t[i];
        if (!t->ran)
            continue;
        if (t->r.result == MS_RES_PASS || t->r.result == MS_RES_FAIL)
            (*ran_any)++;
        if (t->r.result == MS_RES_ERROR && !t->xfail)
            (*errors)++;
        if (t->r.level != MS_LEVEL_MUST)
            continue;
        must[t->r.result < MS_RES_COUNT ? t->r.result : MS_RES_ERROR]++;
        if (t->r.result == MS_RES_FAIL && !t->xfail)
            (*must_fail)++;
    }
}

static enum ms_verdict verdict(const struct certify *c)
{
    size_t must[MS_RES_COUNT], mf, errs, ran_any;
    must_counts(c, must, &mf, &errs, &ran_any);
    return ms_verdict_of(must, mf, errs, c->stop && *c->stop, ran_any);
}

int certify_exit_code(const struct certify *c)
{
    return ms_verdict_exit(verdict(c));
}

/* The verdict in words: what was tested, and what it shows. */
static void verdict_text(const struct certify *c, char *out, size_t cap)
{
    size_t must[MS_RES_COUNT], mf, errs, ran_any;
    must_counts(c, must, &mf, &errs, &ran_any);
    size_t total = 0;
    for (unsigned r = 0; r < MS_RES_COUNT; r++)
        total += must[r];
    size_t ran = must[MS_RES_PASS] + must[MS_RES_FAIL];
    char tested[300];
    snprintf(tested, sizeof(tested),
             "%zu of %zu MUST tests ran; %zu not supported, %zu not applicable, %zu blocked", ran,
             total, must[MS_RES_NOT_SUPPORTED], must[MS_RES_NA], must[MS_RES_BLOCKED]);
    switch (verdict(c)) {
    case MS_VERDICT_FAIL:
        snprintf(out, cap, "NOT compliant: %zu MUST-level test%s failed (%s)", mf,
                 mf == 1 ? "" : "s", tested);
        break;
    case MS_VERDICT_ERROR:
        snprintf(out, cap, "none: %s (%s)",
                 c->stop && *c->stop ? "interrupted" : "the harness failed on some tests", tested);
        break;
    case MS_VERDICT_INCOMPLETE:
        snprintf(out, cap,
                 "incomplete: no MUST-level failure, but too little was tested to call "
                 "it compliant (%s)",
                 tested);
        break;
    case MS_VERDICT_PASS:
    default:
        snprintf(out, cap, "compliant: every MUST-level test that ran passed (%s)", tested);
        break;
    }
}

static const struct ms_tls_info *run_tls(const struct certify *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->t[i].ran && c->t[i].r.tls.used)
            return &c->t[i].r.tls;
    return NULL;
}

/* The finished tests as the contiguous array report.c takes (shallow copies). */
static struct ms_test_result *results(const struct certify *c, size_t *n)
{
    struct ms_test_result *r = calloc(c->n ? c->n : 1, sizeof(*r));
    *n = 0;
    if (!r)
        return NULL;
    for (size_t i = 0; i < c->n; i++)
        if (c->t[i].ran)
            r[(*n)++] = c->t[i].r;
    return r;
}

static void fill_report(const struct certify *c, struct ms_report *rep,
                        const struct ms_test_result *r, size_t n, uint64_t ms)
{
    memset(rep, 0, sizeof(*rep));
    rep->command = "certify";
    rep->protocol = c->protocol;
    rep->host = c->cli.ro.host;
    rep->port = c->cli.ro.port;
    rep->tls = c->cli.ro.tls;
    rep->tests = r;
    rep->n = n;
    rep->planned = c->n;
    rep->interrupted = c->stop && *c->stop;
    rep->duration_ms = ms;
    rep->cli = &c->cli;
}

void certify_summary(const struct certify *c, uint64_t ms)
{
    unsigned by_level[4][MS_RES_COUNT + 1]; /* level x result, + allow-listed */
    unsigned xpass = 0;
    struct ms_report rep;
    size_t n;
    struct ms_test_result *r = results(c, &n);
    FILE *f = c->out;
    char v[600];

    memset(by_level, 0, sizeof(by_level));
    fill_report(c, &rep, r, n, ms);
    fprintf(f, "\n%s %s:%s over %s: ", c->protocol, c->cli.ro.host, c->cli.ro.port,
            ms_tls_mode_name(c->cli.ro.tls));
    ms_report_summary_line(f, &rep, ms_use_color(f));
    free(r);
    for (size_t i = 0; i < c->n; i++) {
        const struct cert_test *t = &c->t[i];
        unsigned lv = t->r.level < 4 ? t->r.level : 0;
        if (!t->ran)
            continue;
        if (t->xfail && (t->r.result == MS_RES_FAIL || t->r.result == MS_RES_ERROR))
            by_level[lv][MS_RES_COUNT]++;
        else
            by_level[lv][t->r.result < MS_RES_COUNT ? t->r.result : MS_RES_ERROR]++;
        if (t->xfail && t->r.result == MS_RES_PASS)
            xpass++;
    }
    for (unsigned lv = 0; lv < 4; lv++)
        fprintf(f,
                "  %-6s %u passed, %u failed, %u blocked, %u not supported, %u not applicable, "
                "%u errors, %u allow-listed\n",
                ms_level_name(lv), by_level[lv][MS_RES_PASS], by_level[lv][MS_RES_FAIL],
                by_level[lv][MS_RES_BLOCKED], by_level[lv][MS_RES_NOT_SUPPORTED],
                by_level[lv][MS_RES_NA], by_level[lv][MS_RES_ERROR], by_level[lv][MS_RES_COUNT]);
    if (xpass)
        fprintf(f, "  %u allow-listed test%s passed: prune the --expect-fail list\n", xpass,
                xpass == 1 ? "" : "s");
    if (c->pf.policy[0])
        fprintf(f, "  login: %s\n", c->pf.policy);
    const struct ms_tls_info *tls = run_tls(c);
    if (tls)
        fprintf(f, "  TLS: %s %s, certificate %s%s%s (expires %s)\n", tls->version, tls->cipher,
                tls->verified ? "verified" : "NOT verified", tls->verify_error[0] ? ": " : "",
                tls->verify_error, tls->not_after);
    if (c->tls_probed) {
        fprintf(f, "  TLS versions accepted:");
        for (int i = 0; i < CERT_TLS_VERSIONS; i++)
            fprintf(f, " %s %s", certify_tls_version_names[i],
                    c->tls_ok[i] == 1   ? "yes"
                    : c->tls_ok[i] == 0 ? "no"
                                        : "unknown");
        fprintf(f, "\n");
    }
    verdict_text(c, v, sizeof(v));
    fprintf(f, "  verdict: %s\n", v);
}

/*
 * The document: report.c's (the contract of docs/architecture.md), extended with what
 * certify adds (docs/certify.md): expected_failure per allow-listed test,
 * summary.xfail/xpass, compliant, verdict, run_id, suite, login, tls_versions.
 */
static struct ms_json *certify_doc(const struct certify *c, uint64_t ms)
{
    struct ms_report rep;
    size_t n;
    struct ms_test_result *r = results(c, &n);
    char v[600];

    if (!r)
        return NULL;
    fill_report(c, &rep, r, n, ms);
    /* paths relative to the suite directory (docs/certify.md "Reports") */
    const char *bases[1] = {c->suite_dir};
    rep.bases = bases;
    rep.nbases = 1;
    struct ms_json *doc = ms_report_doc(&rep);
    char *suite = ms_report_shown_path(&rep, c->suite_dir);
    free(r);
    if (!doc || !suite) {
        ms_json_free(doc);
        free(suite);
        return NULL;
    }
    const struct ms_json *tests = ms_json_get(doc, "tests");
    struct ms_json *summ = (struct ms_json *)ms_json_get(doc, "summary");
    unsigned xfail = 0, xpass = 0;
    struct ms_json *e = tests && tests->type == MS_JSON_ARRAY ? tests->child : NULL;
    int ok = 1;
    for (size_t i = 0; i < c->n && e; i++) {
        const struct cert_test *t = &c->t[i];
        if (!t->ran)
            continue;
        if (t->xfail) {
            ok = ok && ms_json_set_str(e, "expected_failure", t->xfail) == 0;
            if (t->r.result == MS_RES_FAIL || t->r.result == MS_RES_ERROR)
                xfail++;
            else if (t->r.result == MS_RES_PASS)
                xpass++;
        }
        e = e->next;
    }
    size_t must[MS_RES_COUNT], mf, errs, ran_any;
    must_counts(c, must, &mf, &errs, &ran_any);
    verdict_text(c, v, sizeof(v));
    enum ms_verdict vd = verdict(c);
    ok = ok && summ && ms_json_set_num(summ, "xfail", xfail) == 0 &&
         ms_json_set_num(summ, "xpass", xpass) == 0 &&
         ms_json_set_num(summ, "must_fail_unexpected", mf) == 0 &&
         ms_json_set(doc, "compliant", ms_json_new_bool(vd == MS_VERDICT_PASS)) == 0 &&
         ms_json_set_str(doc, "verdict", v) == 0 &&
         ms_json_set_num(doc, "exit", (uint64_t)ms_verdict_exit(vd)) == 0 &&
         ms_json_set_str(doc, "run_id", c->cli.ro.run_id) == 0 &&
         ms_json_set_str(doc, "suite", suite) == 0;
    free(suite);
    struct ms_json *lg = ms_json_new(MS_JSON_OBJECT);
    ok = ok && lg && ms_json_set(lg, "checked", ms_json_new_bool(c->pf.login_checked)) == 0 &&
         ms_json_set(lg, "cleartext_refused", ms_json_new_bool(c->pf.cleartext_refused)) == 0 &&
         ms_json_set_str(lg, "policy", c->pf.policy) == 0 &&
         ms_json_set_str(lg, "capabilities", c->pf.caps ? c->pf.caps : "") == 0;
    ok = ok && ms_json_set(doc, "login", lg) == 0;
    if (ok && c->tls_probed) {
        struct ms_json *tv = ms_json_new(MS_JSON_OBJECT);
        const char *min = NULL;
        for (int i = 0; tv && i < CERT_TLS_VERSIONS; i++) {
            struct ms_json *b =
                c->tls_ok[i] < 0 ? ms_json_new(MS_JSON_NULL) : ms_json_new_bool(c->tls_ok[i]);
            ok = ok && ms_json_set(tv, certify_tls_version_names[i], b) == 0;
            if (!min && c->tls_ok[i] == 1)
                min = certify_tls_version_names[i];
        }
        ok = ok && tv && ms_json_set(doc, "tls_versions", tv) == 0 &&
             ms_json_set(doc, "tls_min_version",
                         min ? ms_json_new_string(min) : ms_json_new(MS_JSON_NULL)) == 0;
    }
    if (!ok) {
        ms_json_free(doc);
        fprintf(stderr, "mailspec certify: out of memory building the report\n");
        return NULL;
    }
    return doc;
}

int certify_write_reports(const struct certify *c, uint64_t ms)
{
    int rc = 0;

    if (!c->json && !c->html && !c->junit)
        return 0;
    struct ms_json *doc = certify_doc(c, ms);
    if (!doc)
        return -1;
    if (c->json)
        rc |= ms_report_write_json(doc, c->json);
    if (c->junit)
        rc |= ms_report_write_junit(doc, c->junit);
    if (c->html) {
        char err[256], *page = NULL;
        size_t plen = 0;
        FILE *f = open_memstream(&page, &plen);
        const struct ms_json *reps[1] = {doc};
        if (!f || ms_html_write(f, reps, 1, err, sizeof(err)) != 0) {
            fprintf(stderr, "mailspec certify: HTML report: %s\n", f ? err : "out of memory");
            rc = -1;
        }
        if (f && fclose(f) == 0 && rc == 0)
            rc |= ms_write_atomic(c->html, page, plen);
        free(page);
    }
    ms_json_free(doc);
    return rc ? -1 : 0;
}

void certify_verdict_line(const struct certify *c)
{
    char v[600];

    verdict_text(c, v, sizeof(v));
    fprintf(c->out, "%s %s:%s over %s: %s\n", c->protocol, c->cli.ro.host, c->cli.ro.port,
            ms_tls_mode_name(c->cli.ro.tls), v);
}
