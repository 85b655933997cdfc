/* Unit tests of the replay reports (conformance/report.c): escaping, exit codes, atomic writes. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "cli.h"
#include "cli_common.h"
#include "mailspec/mailspec.h"
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
    struct ms_report rep = {"replay", "imap", "h", "143", MS_TLS_NONE, t, 3,
                            3,        0,      0,   NULL,  NULL,        0};
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
    struct ms_report rep = {"replay", "imap", "h\"ost", "143", MS_TLS_IMPLICIT, t, 1, 1, 0,
                            5,        NULL,   NULL,     0};
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

/* The provenance fields; the password masked wherever it stands in argv;
 * paths relative to the suite directory, absolute ones cut to ".../name". */
static void test_provenance_and_paths(void **st)
{
    (void)st;
    char *argv[] = {"certify",
                    "--user",
                    "alice",
                    "--password",
                    "Sekr3t",
                    "--password=Sekr3t",
                    "--mail-from=xSekr3tx",
                    "--json",
                    "/home/me/out/r.json",
                    "--suite=/opt/suites/imap",
                    "--cafile",
                    "/opt/suites/imap/ca.pem",
                    NULL};
    struct ms_cli cli;
    ms_cli_init(&cli, "certify");
    ms_cli_args(&cli, 12, argv);
    cli.ro.password = "Sekr3t";
    struct ms_test_result t[2] = {
        mk("a", MS_RES_FAIL, MS_LEVEL_MUST,
           "/opt/suites/imap/a.session:3: response does not match\n  expected: S: x", ""),
        mk("b", MS_RES_NA, MS_LEVEL_MUST, "(/opt/suites/imap/b.session: n/a) /opt/suites/imapx/c",
           ""),
    };
    t[0].file = (char *)"/opt/suites/imap/a.session";
    t[1].file = (char *)"/elsewhere/b.session";
    const char *bases[] = {"/opt/suites/imap/"};
    struct ms_report rep = {"certify", "imap", "h", "143", MS_TLS_NONE, t, 2,
                            2,         0,      5,   &cli,  bases,       1};
    char jp[64];
    snprintf(jp, sizeof(jp), "%s/p.json", dir);
    struct ms_json *doc = ms_report_doc(&rep);
    assert_non_null(doc);
    assert_int_equal(ms_report_write_json(doc, jp), 0);
    ms_json_free(doc);
    const char *j = slurp(jp);
    ms_assert_has(j, "\"mailspec_version\":\"" MAILSPEC_VERSION "\"");
    ms_assert_has(j, "\"started\":\"20");
    ms_assert_has(j, "\"finished\":\"20");
    ms_assert_has(j, "\"argv\":[\"mailspec\",\"certify\",\"--user\",\"alice\",\"--password\","
                     "\"${password}\",\"--password=${password}\",\"--mail-from=x${password}x\"");
    ms_assert_has(j, "\"--json\",\".../r.json\",\"--suite=.../imap\",\"--cafile\",\"ca.pem\"]");
    ms_assert_has(j, "\"command_line\":\"mailspec certify --user alice --password '${password}' ");
    ms_assert_lacks(j, "Sekr3t");
    ms_assert_has(j, "\"file\":\"a.session\"");
    ms_assert_has(j, "\"file\":\".../b.session\"");
    ms_assert_has(j, "\"message\":\"a.session:3: response does not match");
    ms_assert_has(j, "(b.session: n/a) /opt/suites/imapx/c"); /* not the base: kept */
    ms_assert_lacks(j, "/home/me");
    const char *started = strstr(j, "\"started\":\"");
    assert_non_null(started);
    /* ISO 8601, UTC: 2026-12-06T07:08:52Z */
    assert_int_equal(strspn(started + 11, "0123456789-T:Z"), 20);
    assert_int_equal(started[11 + 19], 'Z');
}

/* JUnit: newlines in failure@message as &#10;; a SHOULD failure is not a
 * <failure> (it does not fail the run). */
static void test_junit_levels_and_newlines(void **st)
{
    (void)st;
    struct ms_test_result t[3] = {
        mk("must", MS_RES_FAIL, MS_LEVEL_MUST, "line one\n  expected: x\n  got:      y", ""),
        mk("should", MS_RES_FAIL, MS_LEVEL_SHOULD, "soft\nfail", ""),
        mk("blocked", MS_RES_BLOCKED, MS_LEVEL_MUST, "no answer", ""),
    };
    struct ms_report rep = {"replay", "imap", "h", "143", MS_TLS_NONE, t, 3,
                            3,        0,      5,   NULL,  NULL,        0};
    char xp[64];
    snprintf(xp, sizeof(xp), "%s/l.xml", dir);
    struct ms_json *doc = ms_report_doc(&rep);
    assert_non_null(doc);
    assert_int_equal(ms_report_write_junit(doc, xp), 0);
    ms_json_free(doc);
    const char *x = slurp(xp);
    ms_assert_has(x, "<failure message=\"line one&#10;  expected: x&#10;  got:      y\">");
    ms_assert_has(x, "<skipped message=\"failed at level SHOULD (not counted: only MUST-level "
                     "failures fail the run): soft&#10;fail\">");
    ms_assert_has(x, "<skipped message=\"blocked: no answer\">");
    ms_assert_has(x, "failures=\"1\" errors=\"0\" skipped=\"2\"");
    ms_assert_has(x, "<testsuites name=\"mailspec\" tests=\"3\" failures=\"1\"");
}

/* The file mode follows the umask; a symlink planted at the destination is
 * replaced, its target left alone. */
static void test_atomic_write_mode_and_symlink(void **st)
{
    (void)st;
    char p[64], target[64];
    struct stat sb;
    snprintf(p, sizeof(p), "%s/m.json", dir);
    mode_t old = umask(077);
    assert_int_equal(ms_write_atomic(p, "x", 1), 0);
    umask(022);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(ms_write_atomic(p, "y", 1), 0);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644);
    umask(old);
    snprintf(target, sizeof(target), "%s/victim", dir);
    FILE *f = fopen(target, "w");
    assert_non_null(f);
    fputs("keep", f);
    fclose(f);
    unlink(p);
    assert_int_equal(symlink(target, p), 0);
    assert_int_equal(ms_write_atomic(p, "report", 6), 0);
    assert_string_equal(slurp(target), "keep");
    assert_int_equal(lstat(p, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_string_equal(slurp(p), "report");
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
        cmocka_unit_test(test_provenance_and_paths),
        cmocka_unit_test(test_junit_levels_and_newlines),
        cmocka_unit_test(test_atomic_write_mode_and_symlink),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
