/* Unit tests of the replay reports (conformance/report.c): escaping, exit codes, atomic writes. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "cli.h"
#include "report.h"

static char dir[] = "/tmp/ms-report-XXXXXX";

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static struct ms_test_result mk(const char *id, enum ms_result res, unsigned level, const char *msg,
                                const char *transcript)
{
    struct ms_test_result r;
    memset(&r, 0, sizeof(r));
    r.id = (char *)id;
    r.title = (char *)"t <&> \"q\"";
    r.rfc = (char *)"9051 6.2.1";
    r.file = (char *)"x.session";
    r.protocol = (char *)"imap";
    r.level = level;
    r.result = res;
    r.message = (char *)msg;
    r.transcript = (char *)transcript;
    return r;
}

static void test_exit_codes(void **st)
{
    (void)st;
    struct ms_test_result t[3] = {
        mk("a", MS_RES_PASS, MS_LEVEL_MUST, "", ""),
        mk("b", MS_RES_FAIL, MS_LEVEL_SHOULD, "m", ""),
        mk("c", MS_RES_NA, MS_LEVEL_MUST, "m", ""),
    };
    struct ms_report rep = {"replay", "imap", "h", "143", MS_TLS_NONE, t, 3, 3, 0, 0};
    assert_int_equal(ms_report_exit_code(&rep), 0); /* a SHOULD failure is not fatal */
    t[2].result = MS_RES_ERROR;
    assert_int_equal(ms_report_exit_code(&rep), 2);
    t[1].level = MS_LEVEL_MUST;
    assert_int_equal(ms_report_exit_code(&rep), 1); /* a MUST failure wins */
    t[1].result = MS_RES_PASS;
    t[2].result = MS_RES_PASS;
    rep.interrupted = 1;
    assert_int_equal(ms_report_exit_code(&rep), 2);
    struct ms_summary s;
    ms_report_summarize(&rep, &s);
    assert_int_equal(s.pass, 3);
    rep.interrupted = 0;
    assert_int_equal(ms_report_exit_code(&rep), 0);
    /* a blocked MUST test: no failure, but not compliant either */
    t[2].result = MS_RES_BLOCKED;
    assert_int_equal(ms_report_exit_code(&rep), MS_EXIT_INCOMPLETE);
    /* fewer than half of the applicable MUST tests ran */
    t[1].result = MS_RES_NA;
    t[2].result = MS_RES_NA;
    assert_int_equal(ms_report_exit_code(&rep), MS_EXIT_INCOMPLETE);
    /* an absent optional feature does not count against the run */
    t[1].result = MS_RES_NOT_SUPPORTED;
    t[2].result = MS_RES_NOT_SUPPORTED;
    assert_int_equal(ms_report_exit_code(&rep), 0);
    ms_report_summarize(&rep, &s);
    assert_int_equal(s.skip, 2);
    assert_int_equal(s.by[MS_RES_NOT_SUPPORTED], 2);
    /* nothing ran at all */
    t[0].result = MS_RES_NA;
    assert_int_equal(ms_report_exit_code(&rep), MS_EXIT_INCOMPLETE);
    /* a run without MUST tests that passed is not incomplete */
    t[0].level = t[1].level = t[2].level = MS_LEVEL_INFO;
    t[0].result = MS_RES_PASS;
    assert_int_equal(ms_report_exit_code(&rep), 0);
}

static void test_json_and_junit_escape(void **st)
{
    (void)st;
    /* invalid UTF-8, NUL-free control bytes, XML and JSON specials */
    const char *nasty = "bad \xff\xfe utf8 \x01\x1b ctl <tag> & \"quote\" \\ \xc3\xa9";
    struct ms_test_result t[1] = {mk("id-1", MS_RES_FAIL, MS_LEVEL_MUST, nasty, nasty)};
    struct ms_report rep = {"replay", "imap", "h\"ost", "143", MS_TLS_IMPLICIT, t, 1, 1, 0, 5};
    char jp[64], xp[64];
    snprintf(jp, sizeof(jp), "%s/r.json", dir);
    snprintf(xp, sizeof(xp), "%s/r.xml", dir);
    struct ms_json *doc = ms_report_doc(&rep);
    assert_non_null(doc);
    assert_int_equal(ms_report_write_json(doc, jp), 0);
    const char *j = slurp(jp);
    ms_assert_has(j, "\"host\":\"h\\\"ost\"");
    ms_assert_has(j, "\"port\":143");
    ms_assert_has(j, "\"transport\":\"implicit\"");
    ms_assert_has(j, "\"tls\":{\"version\":null,\"cipher\":null,\"verified\":false}");
    ms_assert_has(j, "\"summary\":{\"pass\":0,\"fail\":1,\"skip\":0,\"error\":0");
    ms_assert_has(j, "\"result\":\"fail\"");
    ms_assert_has(j, "\\u0001");
    ms_assert_lacks(j, "\xff");
    ms_assert_lacks(j, "\x01");
    assert_int_equal(ms_report_write_junit(doc, xp), 0);
    ms_json_free(doc);
    const char *x = slurp(xp);
    ms_assert_has(x, "failures=\"1\"");
    ms_assert_has(x, "&lt;tag&gt; &amp; &quot;quote&quot;");
    ms_assert_has(x, "\xc3\xa9");                     /* valid UTF-8 kept */
    ms_assert_has(x, "bad \xef\xbf\xbd\xef\xbf\xbd"); /* invalid bytes replaced */
    ms_assert_lacks(x, "\xff");
    ms_assert_lacks(x, "\x01");
    ms_assert_lacks(x, "\x1b");
    ms_assert_has(x, "<failure message=");
}

static void test_atomic_write(void **st)
{
    (void)st;
    char p[64];
    snprintf(p, sizeof(p), "%s/a.txt", dir);
    assert_int_equal(ms_write_atomic(p, "one", 3), 0);
    assert_int_equal(ms_write_atomic(p, "second", 6), 0);
    assert_string_equal(slurp(p), "second");
    /* no temporary file is left behind */
    DIR *d = opendir(dir);
    struct dirent *e;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp."))
            fail_msg("temporary file left: %s", e->d_name);
    closedir(d);
    /* a directory that does not exist: an error, not a crash */
    assert_int_equal(ms_write_atomic("/nonexistent-dir/x.json", "x", 1), -1);
}

static int setup(void **st)
{
    (void)st;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_json_and_junit_escape),
        cmocka_unit_test(test_atomic_write),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
