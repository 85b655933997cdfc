/* Unit tests of mailspec certify's own pieces: the --expect-fail allow-list,
 * the JSON reader and the HTML report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#include "expect.h"
#include "report_html.h"

static void test_expect_parse(void **st)
{
    const char *text = "# known deviations of mx.example\n"
                       "\n"
                       "smtp.vrfy.252   VRFY disabled by policy\r\n"
                       "   imap.literal-plus.*\tLITERAL+ broken, ticket 123  \n"
                       "imap.literal-plus.append  exact entry wins\n"
                       "pop3.*  everything POP3"; /* no final newline */
    struct ms_expect x;
    char err[128];
    (void)st;

    assert_int_equal(ms_expect_parse(text, strlen(text), &x, err, sizeof(err)), 0);
    assert_int_equal(x.n, 4);
    assert_string_equal(x.e[0].pattern, "smtp.vrfy.252");
    assert_string_equal(x.e[0].reason, "VRFY disabled by policy");
    assert_int_equal(x.e[0].line, 3);
    assert_string_equal(x.e[1].pattern, "imap.literal-plus.*");
    assert_string_equal(x.e[1].reason, "LITERAL+ broken, ticket 123");
    assert_int_equal(x.e[3].line, 6);

    struct ms_expect_entry *e = ms_expect_match(&x, "smtp.vrfy.252");
    assert_non_null(e);
    assert_string_equal(e->reason, "VRFY disabled by policy");
    /* an exact id is not a prefix */
    assert_null(ms_expect_match(&x, "smtp.vrfy.2520"));
    assert_null(ms_expect_match(&x, "smtp.vrfy"));
    e = ms_expect_match(&x, "imap.literal-plus.create");
    assert_non_null(e);
    assert_string_equal(e->pattern, "imap.literal-plus.*");
    /* exact beats the prefix, whatever the order */
    e = ms_expect_match(&x, "imap.literal-plus.append");
    assert_non_null(e);
    assert_string_equal(e->reason, "exact entry wins");
    e = ms_expect_match(&x, "pop3.stat");
    assert_non_null(e);
    assert_string_equal(e->pattern, "pop3.*");
    assert_int_equal(x.e[1].hits, 1);
    assert_null(ms_expect_match(&x, "imap.literal"));
    ms_expect_free(&x);
    assert_int_equal(x.n, 0);
}

static void test_expect_errors(void **st)
{
    static const struct {
        const char *text;
        const char *err;
    } bad[] = {
        {"smtp.vrfy\n", "1: missing reason after the test id"},
        {"# c\nsmtp.vrfy   \n", "2: missing reason after the test id"},
        {"smtp.v*rfy reason\n", "1: bad character in test id ('*' only at the end of a prefix)"},
        {"smtp/vrfy reason\n", "1: bad character in test id ('*' only at the end of a prefix)"},
        {"!x reason\n", "1: expected a test id (letters, digits, . - _)"},
        {"a r\na r2\n", "2: duplicate entry"},
        {"a r\x01\n", "1: control character in line"},
        {"a r\0x\n", "1: control character in line"},
    };
    struct ms_expect x;
    char err[128];
    (void)st;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = strlen(bad[i].text);
        if (i == 7)
            len = 6; /* embedded NUL */
        err[0] = '\0';
        assert_int_equal(ms_expect_parse(bad[i].text, len, &x, err, sizeof(err)), -1);
        assert_string_equal(err, bad[i].err);
        assert_int_equal(x.n, 0);
        assert_null(x.e);
    }
    /* 200-byte id ok, 201 not */
    char line[300];
    memset(line, 'a', 201);
    memcpy(line + 201, " r\n", 4);
    assert_int_equal(ms_expect_parse(line + 1, 203, &x, err, sizeof(err)), 0);
    ms_expect_free(&x);
    assert_int_equal(ms_expect_parse(line, 204, &x, err, sizeof(err)), -1);
    assert_string_equal(err, "1: test id longer than 200 bytes");
    /* empty file and comments only: no entries, no error */
    assert_int_equal(ms_expect_parse("# x\n\n  \n", 8, &x, err, sizeof(err)), 0);
    assert_int_equal(x.n, 0);
    ms_expect_free(&x);
}

static void test_json(void **st)
{
    const char *text = " {\"a\": [1, -2.5e3, true, false, null, \"x\\u00e9\\ud83d\\ude00\\n\"],"
                       " \"b\": {}, \"c\": \"\\\"q\\\\\", \"d\": []} ";
    char err[128];
    (void)st;

    struct ms_json *v = ms_json_parse(text, strlen(text), err, sizeof(err));
    assert_non_null(v);
    assert_int_equal(v->type, MS_JSON_OBJECT);
    assert_int_equal(v->count, 4);
    const struct ms_json *a = ms_json_get(v, "a");
    assert_non_null(a);
    assert_int_equal(a->count, 6);
    assert_string_equal(a->child->str, "1");
    assert_string_equal(a->child->next->str, "-2.5e3");
    assert_int_equal(a->child->next->next->boolean, 1);
    const struct ms_json *s = a->child->next->next->next->next->next;
    assert_int_equal(s->type, MS_JSON_STRING);
    assert_string_equal(s->str, "x\xc3\xa9\xf0\x9f\x98\x80\n");
    assert_string_equal(ms_json_gets(v, "c", NULL), "\"q\\");
    assert_null(ms_json_get(v, "zz"));
    assert_string_equal(ms_json_gets(v, "zz", "dflt"), "dflt");
    assert_int_equal(ms_json_get(v, "d")->count, 0);
    ms_json_free(v);

    static const char *const bad[] = {
        "",        "{",        "[1,]",       "{\"a\" 1}", "\"abc",     "01x", "1 2", "[-]",
        "\"\\q\"", "\"a\nb\"", "{\"a\":1,}", "tru",       "\"\\u12\"", "1.",  "1e",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = ms_json_parse(bad[i], strlen(bad[i]), err, sizeof(err));
        if (v)
            fail_msg("accepted bad JSON #%zu: %s", i, bad[i]);
        assert_true(strncmp(err, "offset ", 7) == 0);
    }
    /* depth: 65 nested arrays fail, 64 parse */
    char deep[200];
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    assert_null(ms_json_parse(deep, 130, err, sizeof(err)));
    assert_non_null(strstr(err, "nesting too deep"));
    v = ms_json_parse(deep + 1, 128, err, sizeof(err));
    assert_non_null(v);
    ms_json_free(v);
}

static char *render(const char *const *jsons, size_t n, int *rc)
{
    struct ms_json *reps[4];
    char err[128], *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    for (size_t i = 0; i < n; i++) {
        reps[i] = ms_json_parse(jsons[i], strlen(jsons[i]), err, sizeof(err));
        if (!reps[i])
            fail_msg("bad test JSON: %s", err);
    }
    *rc = ms_html_write(f, (const struct ms_json *const *)reps, n, err, sizeof(err));
    fclose(f);
    for (size_t i = 0; i < n; i++)
        ms_json_free(reps[i]);
    if (*rc != 0) {
        free(buf);
        return strdup(err);
    }
    return buf;
}

#define REP(transport, port, res2)                                                                 \
    "{\"protocol\":\"smtp\",\"host\":\"127.0.0.1\",\"port\":" port ",\"transport\":\"" transport   \
    "\",\"tls\":{\"version\":\"TLSv1.3\",\"cipher\":\"TLS_AES_256_GCM_SHA384\",\"verified\":"      \
    "true},\"summary\":{\"pass\":1,\"fail\":1,\"skip\":0,\"error\":0},\"tests\":["                 \
    "{\"id\":\"smtp.greeting\",\"title\":\"Greeting is 220\",\"rfc\":\"5321 4.3.1\","              \
    "\"level\":\"MUST\",\"result\":\"pass\",\"message\":\"\",\"transcript\":"                      \
    "\"S: 220 mx <ok>\\r\\nC: QUIT\\n\"},"                                                         \
    "{\"id\":\"smtp.vrfy\",\"title\":\"VRFY answered\",\"rfc\":\"5321 3.5.3\","                    \
    "\"level\":\"SHOULD\",\"result\":\"" res2 "\",\"message\":\"expected 250, got 502\","          \
    "\"transcript\":[\"C: VRFY x\",{\"dir\":\"S\",\"text\":\"502 no\"}]}]}"

static void test_html(void **st)
{
    const char *one[] = {REP("starttls", "25", "fail")};
    int rc;
    (void)st;

    char *h = render(one, 1, &rc);
    assert_int_equal(rc, 0);
    ms_assert_has(h, "<!DOCTYPE html>");
    ms_assert_has(h, "</html>\n");
    /* self-contained: no external resources */
    ms_assert_lacks(h, "<script src");
    ms_assert_lacks(h, "<link");
    /* the RFC group's heading links to the RFC */
    ms_assert_has(h, "<h3><a class=rfc href=\"https://www.rfc-editor.org/rfc/rfc5321\">RFC "
                     "5321</a></h3>");
    ms_assert_has(h, "<h4>MUST</h4>");
    ms_assert_has(h, "<h4>SHOULD</h4>");
    /* transcript escaped, CR made visible */
    ms_assert_has(h, "S: 220 mx &lt;ok&gt;<span class=ctl>\\x0D</span>\nC: QUIT\n");
    ms_assert_has(h, "C: VRFY x\ndir=S 502 no\n");
    ms_assert_has(h, "expected 250, got 502");
    /* a SHOULD failure is not a MUST failure */
    ms_assert_has(h, "every MUST-level test that ran passed");
    ms_assert_has(h, "TLSv1.3 TLS_AES_256_GCM_SHA384");
    ms_assert_has(h, "certificate verified");
    free(h);

    /* MUST failure, allow-listed failure, matrix over two reports */
    const char *two[] = {
        REP("none", "25", "fail"),
        "{\"protocol\":\"smtp\",\"host\":\"h\",\"port\":465,\"transport\":\"implicit\","
        "\"tls\":{\"version\":null},\"summary\":{},\"tests\":["
        "{\"id\":\"smtp.greeting\",\"title\":\"t\",\"rfc\":\"5321 4.3.1\",\"level\":\"MUST\","
        "\"result\":\"fail\",\"message\":\"m\",\"transcript\":\"\"},"
        "{\"id\":\"smtp.vrfy\",\"title\":\"t\",\"rfc\":\"5321 3.5.3\",\"level\":\"SHOULD\","
        "\"result\":\"fail\",\"expected_failure\":\"policy <x>\",\"message\":\"\","
        "\"transcript\":\"\"},"
        "{\"id\":\"smtp.only-here\",\"title\":\"t\",\"rfc\":\"3207 4\",\"level\":\"MAY\","
        "\"result\":\"skip\",\"message\":\"STARTTLS not advertised\",\"transcript\":null}]}",
    };
    h = render(two, 2, &rc);
    assert_int_equal(rc, 0);
    ms_assert_has(h, "1 MUST-level failure<");
    ms_assert_has(h, "<span class=\"r xfail\">xfail</span>");
    ms_assert_has(h, "Allow-listed (--expect-fail): policy &lt;x&gt;");
    ms_assert_has(h, "<h3><a class=rfc href=\"https://www.rfc-editor.org/rfc/rfc3207\">RFC "
                     "3207</a></h3>");
    /* the test only the second report has: a dash in the first column */
    ms_assert_has(h, "smtp.only-here</td><td>MAY</td><td><a class=rfc "
                     "href=\"https://www.rfc-editor.org/rfc/rfc3207#section-4\">3207 "
                     "4</a></td><td><span class=na>");
    ms_assert_has(h, "<a href=\"#r2-smtp.greeting\"><span class=\"r fail\">fail</span>");
    ms_assert_has(h, "<a href=\"#r1-smtp.greeting\"><span class=\"r pass\">pass</span>");
    /* each test id appears once as a matrix row */
    const char *p = strstr(h, "<td class=id title=\"Greeting is 220\">smtp.greeting</td>");
    assert_non_null(p);
    assert_null(strstr(p + 1, "<td class=id title=\"t\">smtp.greeting</td>"));
    free(h);

    /* missing contract fields are an error, not an empty page */
    const char *broken[] = {"{\"protocol\":\"smtp\",\"host\":\"h\",\"port\":1,\"tests\":[]}"};
    h = render(broken, 1, &rc);
    assert_int_equal(rc, -1);
    assert_string_equal(h, "report 1 lacks \"transport\"");
    free(h);
}

static void test_json_edit(void **st)
{
    const char *text = "{\"a\":1,\"s\":{\"pass\":2},\"t\":[{\"id\":\"x\"}],\"q\":\"\\u00e9\\\"\"}";
    char err[128], *buf = NULL;
    size_t len = 0;
    (void)st;

    struct ms_json *v = ms_json_parse(text, strlen(text), err, sizeof(err));
    assert_non_null(v);
    struct ms_json *sum = (struct ms_json *)ms_json_get(v, "s");
    assert_int_equal(ms_json_set(sum, "xfail", ms_json_new_number(3)), 0);
    assert_int_equal(ms_json_set(v, "a", ms_json_new_bool(0)), 0); /* replaces */
    assert_int_equal(ms_json_set(v->child->next->next->child, "expected_failure",
                                 ms_json_new_string("why \"not\"")),
                     0);
    /* not an object: refused, the value freed (ASan would see a leak) */
    assert_int_equal(
        ms_json_set((struct ms_json *)ms_json_get(v, "t"), "k", ms_json_new_string("v")), -1);
    assert_int_equal(ms_json_set(v, "k", NULL), -1);
    FILE *f = open_memstream(&buf, &len);
    ms_json_write(f, v);
    fclose(f);
    assert_string_equal(buf, "{\"a\":false,\"s\":{\"pass\":2,\"xfail\":3},\"t\":[{\"id\":\"x\","
                             "\"expected_failure\":\"why \\\"not\\\"\"}],\"q\":\"\xc3\xa9\\\"\"}");
    /* what is written parses back to the same text */
    struct ms_json *w = ms_json_parse(buf, len, err, sizeof(err));
    assert_non_null(w);
    char *buf2 = NULL;
    size_t len2 = 0;
    f = open_memstream(&buf2, &len2);
    ms_json_write(f, w);
    fclose(f);
    assert_string_equal(buf, buf2);
    assert_int_equal(ms_json_get(v, "s")->count, 2);
    free(buf);
    free(buf2);
    ms_json_free(v);
    ms_json_free(w);
}

static void test_html_matrix_per_protocol(void **st)
{
    const char *two[] = {
        "{\"protocol\":\"imap\",\"host\":\"h\",\"port\":143,\"transport\":\"none\",\"tests\":["
        "{\"id\":\"imap.noop\",\"level\":\"MUST\",\"rfc\":\"9051 6.1.2\",\"result\":\"pass\"}]}",
        "{\"protocol\":\"pop3\",\"host\":\"h\",\"port\":110,\"transport\":\"none\",\"tests\":["
        "{\"id\":\"pop3.noop\",\"level\":\"MUST\",\"rfc\":\"1939 5\",\"result\":\"error\"}]}",
    };
    int rc;
    (void)st;
    char *h = render(two, 2, &rc);
    assert_int_equal(rc, 0);
    /* one table per protocol, each with only its own column */
    const char *a = strstr(h, "<h3>imap</h3>");
    const char *b = strstr(h, "<h3>pop3</h3>");
    assert_non_null(a);
    assert_non_null(b);
    assert_true(a < b);
    assert_null(strstr(a, "<span class=na>")); /* no empty cells: columns are per protocol */
    ms_assert_has(h, "<span class=\"r error\">error</span>");
    /* an error at MUST is the harness's failure, not the server's */
    ms_assert_lacks(h, "MUST-level failure<");
    ms_assert_has(h, "<span class=\"r error\">no verdict</span>");
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expect_parse), cmocka_unit_test(test_expect_errors),
        cmocka_unit_test(test_json),         cmocka_unit_test(test_html),
        cmocka_unit_test(test_json_edit),    cmocka_unit_test(test_html_matrix_per_protocol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
