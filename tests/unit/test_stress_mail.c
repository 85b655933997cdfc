/* Unit tests of SMTP stress's messages and delivery ledger
 * (conformance/stress_mail.c): the messages are made again byte for byte,
 * stuffing is undone exactly, a delivered copy is told from a notification
 * and from other mail, and the ledger tells lost from duplicated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#include "stress.h"

#define CAP 70000

static size_t make(uint64_t serial, unsigned session, char *out)
{
    size_t n = ms_stress_mail_make(42, "run1", "a@x.test", "b@x.test", session, serial, out, CAP);
    assert_true(n > 0);
    return n;
}

static void test_make(void **state)
{
    (void)state;
    char *a = malloc(CAP), *b = malloc(CAP);
    int big = 0, odd = 0;
    for (uint64_t serial = 0; serial < 300; serial++) {
        size_t n = make(serial, 3, a);
        assert_int_equal(make(serial, 3, b), n); /* the same arguments, the same bytes */
        assert_memory_equal(a, b, n);
        char tag[64];
        int tl = snprintf(tag, sizeof(tag), "X-Mailspec-Stress: run1 3 %llu\r\n",
                          (unsigned long long)serial);
        assert_memory_equal(a, tag, (size_t)tl);
        assert_non_null(strstr(a, "\r\nMessage-ID: <stress.run1.3."));
        /* CRLF lines of at most 1000 octets, printable ASCII and tabs */
        size_t ls = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)a[i];
            if (c == '\n') {
                assert_true(i > 0 && a[i - 1] == '\r');
                assert_true(i + 1 - ls <= 1000);
                odd += a[ls] == '.';
                ls = i + 1;
            } else if (c == '\r') {
                assert_true(i + 1 < n && a[i + 1] == '\n');
            } else {
                assert_true((c >= 32 && c < 127) || c == '\t');
            }
        }
        assert_int_equal(ls, n);
        big += n > 10000;
    }
    assert_true(big > 0); /* now and then a long message */
    assert_true(odd > 0); /* and lines that need stuffing */
    size_t n = make(7, 1, a);
    assert_true(make(8, 1, b) != n || memcmp(a, b, n) != 0);
    assert_int_equal(ms_stress_mail_make(42, "run1", "a@x.test", "b@x.test", 1, 7, b, 100), 0);
    free(a);
    free(b);
}

/* RFC 5321 4.5.2, the receiver's side */
static size_t unstuff(const char *w, size_t n, char *out)
{
    size_t k = 0;
    int bol = 1;
    for (size_t i = 0; i < n; i++) {
        if (bol && w[i] == '.' && i + 2 < n && w[i + 1] == '\r' && w[i + 2] == '\n')
            return k; /* the end of data */
        if (bol && w[i] == '.') {
            bol = 0;
            continue;
        }
        out[k++] = w[i];
        bol = w[i] == '\n';
    }
    return (size_t)-1;
}

static void test_stuff(void **state)
{
    (void)state;
    char *m = malloc(CAP), *w = malloc(2 * CAP + 8), *u = malloc(CAP);
    for (uint64_t serial = 0; serial < 100; serial++) {
        size_t n = make(serial, 0, m);
        size_t wn = ms_stress_mail_stuff(m, n, w, 2 * CAP + 8);
        assert_true(wn >= n + 3);
        assert_memory_equal(w + wn - 5, "\r\n.\r\n", 5);
        assert_int_equal(unstuff(w, wn, u), n);
        assert_memory_equal(u, m, n);
    }
    const char *s = ".\r\n..x\r\nok\r\n";
    assert_int_equal(ms_stress_mail_stuff(s, strlen(s), w, 100), strlen(s) + 2 + 3);
    assert_memory_equal(w, "..\r\n...x\r\nok\r\n.\r\n", strlen(s) + 5);
    assert_int_equal(ms_stress_mail_stuff(s, strlen(s), w, 10), 0);
    free(m);
    free(w);
    free(u);
}

static void test_find(void **state)
{
    (void)state;
    char *m = malloc(CAP), *st = malloc(CAP + 512);
    size_t n = make(12, 4, m);
    struct ms_stress_mail_found f;
    const char *prefix = "Return-Path: <a@x.test>\r\nReceived: from c\r\n\tby s; date\r\n";
    size_t pl = strlen(prefix);

    memcpy(st, prefix, pl);
    memcpy(st + pl, m, n);
    assert_int_equal(ms_stress_mail_find("run1", st, pl + n, &f), 0);
    assert_int_equal(f.kind, MS_MAIL_COPY);
    assert_int_equal(f.serial, 12);
    assert_int_equal(f.session, 4);
    assert_int_equal(f.start, pl);
    assert_true(f.prefix_fields && f.has_received);
    assert_int_equal(ms_stress_mail_diff(m, n, st + f.start, n), (size_t)-1);

    /* no trace field added */
    assert_int_equal(ms_stress_mail_find("run1", m, n, &f), 0);
    assert_true(f.kind == MS_MAIL_COPY && f.start == 0 && f.prefix_fields && !f.has_received);

    /* text that is not a header field before it */
    const char *junk = "Received: from c\r\nnot a field\r\n";
    memcpy(st, junk, strlen(junk));
    memcpy(st + strlen(junk), m, n);
    assert_int_equal(ms_stress_mail_find("run1", st, strlen(junk) + n, &f), 0);
    assert_true(f.kind == MS_MAIL_COPY && !f.prefix_fields);

    /* another run's message, and a tag line without its serial */
    assert_int_equal(ms_stress_mail_find("run2", st, strlen(junk) + n, &f), 0);
    assert_int_equal(f.kind, MS_MAIL_NOT_OURS);
    const char *cut = "X-Mailspec-Stress: run1 4\r\n\r\nbody\r\n";
    assert_int_equal(ms_stress_mail_find("run1", cut, strlen(cut), &f), 0);
    assert_int_equal(f.kind, MS_MAIL_NOT_OURS);

    /* a notification quoting the message's header: a bounce, not a copy */
    const char *dsn = "From: MAILER-DAEMON\r\nSubject: Undelivered\r\n\r\nsorry\r\n\r\n";
    memcpy(st, dsn, strlen(dsn));
    memcpy(st + strlen(dsn), m, n);
    assert_int_equal(ms_stress_mail_find("run1", st, strlen(dsn) + n, &f), 0);
    assert_true(f.kind == MS_MAIL_BOUNCE && f.serial == 12);

    /* a copy with LF line ends: found; it differs from what was sent */
    const char *lf = "Received: x\nX-Mailspec-Stress: run1 4 12\nFrom: a\n\nbody\n";
    assert_int_equal(ms_stress_mail_find("run1", lf, strlen(lf), &f), 0);
    assert_true(f.kind == MS_MAIL_COPY && f.has_received && f.start == 12);
    assert_int_equal(ms_stress_mail_diff(m, n, lf + f.start, strlen(lf) - f.start),
                     strlen("X-Mailspec-Stress: run1 4 12")); /* CR */

    /* every prefix of a copy: no read past its end, never a wrong serial */
    memcpy(st, prefix, pl);
    memcpy(st + pl, m, n);
    for (size_t k = 0; k <= pl + 200; k++) {
        char *t = malloc(k ? k : 1);
        memcpy(t, st, k);
        assert_int_equal(ms_stress_mail_find("run1", t, k, &f), 0);
        /* the tag line counts once it is whole: "... 4 1" cut from "4 12" is no tag */
        assert_true(f.kind == MS_MAIL_NOT_OURS || (f.kind == MS_MAIL_COPY && f.serial == 12));
        free(t);
    }
    free(m);
    free(st);
}

static void test_diff(void **state)
{
    (void)state;
    assert_int_equal(ms_stress_mail_diff("abc", 3, "abc", 3), (size_t)-1);
    assert_int_equal(ms_stress_mail_diff("abc", 3, "abd", 3), 2);
    assert_int_equal(ms_stress_mail_diff("abc", 3, "ab", 2), 2);
    assert_int_equal(ms_stress_mail_diff("ab", 2, "abc", 3), 2);
    assert_int_equal(ms_stress_mail_diff("", 0, "", 0), (size_t)-1);
}

static void test_ledger(void **state)
{
    (void)state;
    struct ms_stress_ledger l;
    assert_int_equal(ms_stress_ledger_init(&l, 8), 0);
    for (uint64_t i = 0; i < 8; i++)
        assert_int_equal(ms_stress_ledger_next(&l), i);
    assert_int_equal(ms_stress_ledger_next(&l), UINT64_MAX); /* full */
    ms_stress_ledger_accepted(&l, 0, 1);
    ms_stress_ledger_accepted(&l, 1, 1);
    ms_stress_ledger_accepted(&l, 2, 1);
    ms_stress_ledger_accepted(&l, 3, 0); /* refused */
    ms_stress_ledger_accepted(&l, 4, 1);
    ms_stress_ledger_accepted(&l, 99, 1); /* out of range: ignored */
    assert_int_equal(l.accepted, 4);
    assert_int_equal(l.missing, 4);
    assert_int_equal(ms_stress_ledger_arrived(&l, 0, 0), MS_ARRIVED_FIRST);
    assert_int_equal(ms_stress_ledger_arrived(&l, 0, 0), MS_ARRIVED_AGAIN);
    assert_int_equal(l.duplicates, 1);
    assert_int_equal(ms_stress_ledger_arrived(&l, 3, 0), MS_ARRIVED_NOT_ACCEPTED);
    assert_int_equal(ms_stress_ledger_arrived(&l, 5, 0), MS_ARRIVED_NOT_ACCEPTED); /* no answer */
    assert_int_equal(ms_stress_ledger_arrived(&l, 1, 1), MS_ARRIVED_FIRST);        /* bounced */
    assert_int_equal(l.bounced, 1);
    assert_int_equal(l.missing, 2); /* 2 and 4 */
    assert_int_equal(ms_stress_ledger_undelivered(&l, 0), 2);
    assert_int_equal(ms_stress_ledger_undelivered(&l, 0), 4); /* 2 is reported already */
    assert_int_equal(ms_stress_ledger_undelivered(&l, 0), UINT64_MAX);
    assert_int_equal(ms_stress_ledger_arrived(&l, 4, 0), MS_ARRIVED_FIRST); /* late */
    assert_int_equal(l.missing, 1);
    ms_stress_ledger_free(&l);

    assert_int_equal(ms_stress_ledger_init(&l, 8), 0);
    assert_int_equal(ms_stress_ledger_arrived(&l, 0, 0), MS_ARRIVED_UNKNOWN); /* never sent */
    assert_int_equal(l.seen, 0);
    ms_stress_ledger_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_make), cmocka_unit_test(test_stuff),  cmocka_unit_test(test_find),
        cmocka_unit_test(test_diff), cmocka_unit_test(test_ledger),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
