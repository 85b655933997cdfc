/* Unit tests of fuzz-server's pure parts: seeds, mutations, minimization and the
 * .session writer (conformance/fuzzsrv_mut.c, fuzzsrv_out.c). */
#include <stdlib.h>
#include <string.h>

#include "fuzzsrv.h"
#include "harness.h"
#include "mailspec/script.h"
#include "mailspec/stream.h"

static struct ms_script *parse_ok(const char *text)
{
    struct ms_script_error err;
    struct ms_script *s = ms_script_parse(text, strlen(text), &err);
    if (!s)
        fail_msg("script error %zu:%zu: %s\n%s", err.line, err.col, err.reason, text);
    return s;
}

static int step_is(const struct fz_step *st, uint8_t op, const char *data)
{
    size_t n = data ? strlen(data) : 0;
    return st->op == op && st->len == n && (n == 0 || memcmp(st->data, data, n) == 0);
}

static void test_rng(void **state)
{
    (void)state;
    struct ms_rng a, b;
    ms_rng_seed(&a, 42);
    ms_rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(ms_rng_next(&a), ms_rng_next(&b));
        assert_true(ms_rng_below(&a, 7) < 7);
        (void)ms_rng_below(&b, 7);
    }
    ms_rng_seed(&b, 43);
    assert_int_not_equal(ms_rng_next(&a), ms_rng_next(&b));
    assert_int_equal(ms_rng_below(&a, 0), 0);
}

static void test_seed_from_script(void **state)
{
    (void)state;
    struct ms_script *s = parse_ok("@protocol smtp\n"
                                   "S: 220 ${*}\n"
                                   "C: EHLO ${host}\n"
                                   "S: 250 ${*}\n"
                                   "C: STARTTLS\n"
                                   "S: 220 ${*}\n"
                                   "@tls\n"
                                   "C: AUTH PLAIN ${sasl_plain}\n"
                                   "S: 235 ${*}\n"
                                   "C: DATA\n"
                                   "S: 354 ${*}\n"
                                   "C: Subject: x\n"
                                   "C: .\n"
                                   "S: 250 ${*}\n"
                                   "@segment\n"
                                   "C: RSET\n"
                                   "@nocrlf\n"
                                   "C: NOOP\n"
                                   "@end\n"
                                   "@connection\n"
                                   "C: QUIT\n");
    struct fz_vals v = {.user = "u", .password = "p", .host = "h.example"};
    struct fz_case c;
    assert_int_equal(fz_case_from_script(&c, s, &v), 0);
    assert_int_equal(c.n, 8); /* nothing after @connection */
    assert_true(step_is(&c.steps[0], FZ_SEND, "EHLO h.example\r\n"));
    assert_true(step_is(&c.steps[1], FZ_SEND, "STARTTLS\r\n"));
    assert_true(step_is(&c.steps[2], FZ_TLS, NULL));
    /* a variable the run does not give: a placeholder */
    assert_true(step_is(&c.steps[3], FZ_SEND, "AUTH PLAIN x\r\n"));
    assert_true(step_is(&c.steps[5], FZ_SEND, "Subject: x\r\n"));
    assert_true(step_is(&c.steps[6], FZ_SEND, ".\r\n"));
    assert_true(step_is(&c.steps[7], FZ_SEND, "RSET\r\nNOOP"));
    /* DATA lines the seed expects no reply to */
    assert_false(c.steps[4].flags & FZ_NOREPLY);
    assert_true(c.steps[5].flags & FZ_NOREPLY);
    assert_false(c.steps[0].flags & FZ_NOREPLY);
    fz_case_free(&c);
    ms_script_free(s);

    s = parse_ok("S: * OK x\n");
    assert_int_equal(fz_case_from_script(&c, s, &v), -1);
    ms_script_free(s);
}

static void make_case(struct fz_case *c)
{
    memset(c, 0, sizeof(*c));
    assert_int_equal(fz_case_add(c, FZ_SEND, "EHLO a\r\n", 8), 0);
    assert_int_equal(fz_case_add(c, FZ_SEND, "STARTTLS\r\n", 10), 0);
    assert_int_equal(fz_case_add(c, FZ_TLS, NULL, 0), 0);
    assert_int_equal(fz_case_add(c, FZ_SEND, "MAIL FROM:<a@b> SIZE=10\r\n", 25), 0);
    assert_int_equal(fz_case_add(c, FZ_SEND, "BDAT 5 LAST\r\nabcde", 18), 0);
}

static void test_mutate_bounded_and_deterministic(void **state)
{
    (void)state;
    struct fz_case base, other, a, b;
    struct ms_rng ra, rb;
    make_case(&base);
    make_case(&other);
    ms_rng_seed(&ra, 7);
    ms_rng_seed(&rb, 7);
    size_t close_notify = 0;
    for (int i = 0; i < 3000; i++) {
        assert_int_equal(fz_case_copy(&a, &base), 0);
        assert_int_equal(fz_case_copy(&b, &base), 0);
        const char *ma = fz_mutate(&a, &other, "smtp", &ra);
        const char *mb = fz_mutate(&b, &other, "smtp", &rb);
        assert_string_equal(ma, mb);
        assert_int_equal(a.n, b.n);
        assert_int_equal(a.pipeline, b.pipeline);
        assert_true(a.n >= 1 && a.n <= FZ_MAX_STEPS);
        for (size_t k = 0; k < a.n; k++) {
            assert_int_equal(a.steps[k].op, b.steps[k].op);
            assert_int_equal(a.steps[k].len, b.steps[k].len);
            assert_true(a.steps[k].len <= FZ_MAX_STEP_DATA);
            if (a.steps[k].len)
                assert_memory_equal(a.steps[k].data, b.steps[k].data, a.steps[k].len);
            if (a.steps[k].op == FZ_TLS_CLOSE) {
                /* a close_notify comes after TLS */
                close_notify++;
                int tls_before = 0;
                for (size_t j = 0; j < k; j++)
                    tls_before |= a.steps[j].op == FZ_TLS;
                assert_true(tls_before);
            }
        }
        fz_case_free(&a);
        fz_case_free(&b);
    }
    assert_true(close_notify > 0);
    fz_case_free(&base);
    fz_case_free(&other);
}

/* The oracle of the minimization test: some send step holds "XY". */
static int has_xy(void *ctx, const struct fz_case *c)
{
    size_t *calls = ctx;
    (*calls)++;
    for (size_t i = 0; i < c->n; i++)
        for (size_t k = 0; k + 1 < c->steps[i].len; k++)
            if (c->steps[i].data[k] == 'X' && c->steps[i].data[k + 1] == 'Y')
                return 1;
    return 0;
}

static void test_minimize(void **state)
{
    (void)state;
    struct fz_case c = {0};
    char big[3000];
    memset(big, 'a', sizeof(big));
    memcpy(big + 1777, "XY", 2);
    assert_int_equal(fz_case_add(&c, FZ_SEND, "EHLO a\r\n", 8), 0);
    assert_int_equal(fz_case_add(&c, FZ_SEND, big, sizeof(big)), 0);
    assert_int_equal(fz_case_add(&c, FZ_SEND, "QUIT\r\n", 6), 0);
    c.pipeline = 1;
    size_t calls = 0;
    size_t tries = fz_minimize(&c, has_xy, &calls, ms_now_ms() + 10000, 100000);
    assert_int_equal(tries, calls);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.pipeline, 0);
    assert_true(step_is(&c.steps[0], FZ_SEND, "XY"));
    fz_case_free(&c);

    /* the bound on tries holds */
    make_case(&c);
    calls = 0;
    tries = fz_minimize(&c, has_xy, &calls, ms_now_ms() + 10000, 3);
    assert_true(tries <= 3);
    assert_int_equal(c.n, 5); /* the oracle never held: nothing dropped */
    fz_case_free(&c);
}

static void test_session_text_reads_back(void **state)
{
    (void)state;
    struct fz_target t;
    memset(&t, 0, sizeof(t));
    t.proto = "smtp";
    t.p = ms_proto_find("smtp");
    t.tls = MS_TLS_NONE;
    t.secret[0] = "s3cret";
    struct fz_case c = {0};
    assert_int_equal(fz_case_add(&c, FZ_SEND, "EHLO a\r\n", 8), 0);
    assert_int_equal(fz_case_add(&c, FZ_SEND, "STARTTLS\r\n", 10), 0);
    assert_int_equal(fz_case_add(&c, FZ_TLS, NULL, 0), 0);
    assert_int_equal(fz_case_add(&c, FZ_SEND, "AUTH PLAIN s3cret\r\n", 19), 0);
    assert_int_equal(fz_case_add(&c, FZ_SEND, "x\0y\xff${z}\r\n\r", 12), 0);
    struct fz_result *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    r->nreplies = 2;
    r->replies[0].final = 1;
    r->step_of[0] = 0; /* greeting */
    r->replies[1].final = 1;
    r->step_of[1] = 1;
    char *text = fz_session_text(&t, &c, r, FZ_LIVENESS, "fuzz.liveness.001", "why\nnot");
    assert_non_null(text);
    assert_null(strstr(text, "s3cret"));
    ms_assert_has(text, "C: AUTH PLAIN ${password}\n");
    ms_assert_has(text, "@test fuzz.liveness.001\n");
    ms_assert_has(text, "# found by mailspec fuzz-server: why not\n");
    ms_assert_has(text, "C: EHLO a\nS: ${*}\n");
    ms_assert_has(text, "@connection\n");
    struct ms_script *s = parse_ok(text);
    struct fz_vals v = {.password = "s3cret"};
    struct fz_case back;
    assert_int_equal(fz_case_from_script(&back, s, &v), 0);
    assert_int_equal(back.n, c.n);
    for (size_t i = 0; i < c.n; i++) {
        assert_int_equal(back.steps[i].op, c.steps[i].op);
        assert_int_equal(back.steps[i].len, c.steps[i].len);
        if (c.steps[i].len)
            assert_memory_equal(back.steps[i].data, c.steps[i].data, c.steps[i].len);
    }
    fz_case_free(&back);
    ms_script_free(s);
    free(text);

    /* a close_notify is @tls-close, the cleartext after it C: lines, then the server
     * must close; the script reads back as the whole case */
    assert_int_equal(fz_case_add(&c, FZ_TLS_CLOSE, NULL, 0), 0);
    assert_int_equal(fz_case_add(&c, FZ_SEND, "x", 1), 0);
    text = fz_session_text(&t, &c, r, FZ_GRAMMAR, "fuzz.grammar.001", "bad");
    assert_non_null(text);
    ms_assert_has(text, "\n@tls-close\n@nocrlf\nC: x\n@allow ${*}\n@close\n");
    s = parse_ok(text);
    assert_int_equal(fz_case_from_script(&back, s, &v), 0);
    assert_int_equal(back.n, c.n);
    assert_int_equal(back.steps[c.n - 2].op, FZ_TLS_CLOSE);
    assert_int_equal(back.steps[c.n - 1].op, FZ_SEND);
    assert_int_equal(back.steps[c.n - 1].len, 1);
    fz_case_free(&back);
    ms_script_free(s);
    free(text);
    free(r);
    fz_case_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_seed_from_script),
        cmocka_unit_test(test_mutate_bounded_and_deterministic),
        cmocka_unit_test(test_minimize),
        cmocka_unit_test(test_session_text_reads_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
