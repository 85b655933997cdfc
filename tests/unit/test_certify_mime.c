/*
 * certify's MIME oracle (conformance/certify_mime.c): which plans get its
 * tests, and that every generated script parses, names its test, and keeps
 * the suites' rule that @level is the BCP 14 keyword of its @quote
 * (docs/suites.md "Conventions", what scripts/lint checks for suite files).
 */
#include <stdlib.h>
#include <string.h>

#include "certify.h"
#include "harness.h"
#include "mailspec/script.h"

static void free_plan(struct certify *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->t[i].path);
    free(c->t);
    c->t = NULL;
    c->n = 0;
}

static void test_which_plans(void **state)
{
    (void)state;
    struct certify c;
    memset(&c, 0, sizeof(c));
    c.protocol = "pop3";
    assert_int_equal(certify_mime_add(&c), 0);
    assert_int_equal(c.n, 0);
    c.protocol = "imap";
    c.suite = "/some/dir"; /* --suite: the user's scripts alone */
    assert_int_equal(certify_mime_add(&c), 0);
    assert_int_equal(c.n, 0);
    c.suite = NULL;
    assert_int_equal(certify_mime_add(&c), 0);
    assert_true(c.n >= 20);
    for (size_t i = 0; i < c.n; i++) {
        assert_true(certify_mime_path(c.t[i].path));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(c.t[i].path, c.t[j].path);
    }
    free_plan(&c);
    assert_false(certify_mime_path("conformance/suites/imap/fetch.session"));
    struct ms_script_error se;
    assert_null(certify_mime_script("mime:imap.mime.no-such-test", &se));
    assert_non_null(se.reason);
}

static int has_word(const char *s, const char *w)
{
    const char *p = strstr(s, w);
    return p != NULL;
}

static void test_scripts(void **state)
{
    (void)state;
    struct certify c;
    memset(&c, 0, sizeof(c));
    c.protocol = "imap";
    assert_int_equal(certify_mime_add(&c), 0);
    for (size_t i = 0; i < c.n; i++) {
        struct ms_script_error se = {0, 0, NULL};
        struct ms_script *s = certify_mime_script(c.t[i].path, &se);
        if (!s)
            fail_msg("%s: line %zu: %s", c.t[i].path, se.line, se.reason);
        assert_string_equal(s->id, c.t[i].path + 5); /* after "mime:" */
        assert_string_equal(s->protocol, "imap");
        assert_true(s->title[0] && s->rfc[0] && s->quote[0]);
        int must = has_word(s->quote, "MUST") || has_word(s->quote, "REQUIRED") ||
                   has_word(s->quote, "SHALL");
        int should = has_word(s->quote, "SHOULD") || has_word(s->quote, "RECOMMENDED");
        int may = has_word(s->quote, "MAY") || has_word(s->quote, "OPTIONAL");
        switch (s->level) {
        case MS_LEVEL_MUST:
            assert_true(must);
            break;
        case MS_LEVEL_SHOULD:
            assert_true(should);
            break;
        case MS_LEVEL_MAY:
            assert_true(may);
            break;
        default:
            assert_false(must || should || may);
            break;
        }
        assert_true(s->nsteps > 10);
        ms_script_free(s);
    }
    free_plan(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_which_plans),
        cmocka_unit_test(test_scripts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
