/* Unit tests of the stress model (conformance/stress_model.c): every check
 * fires on what no correct server can show, and stays quiet on what IMAP
 * allows (late announcements, data of a message expunged meanwhile). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#include "mailspec/script.h"
#include "stress.h"

struct seen {
    unsigned n;
    enum ms_stress_kind kind[32];
};

static void collect(void *ctx, const struct ms_stress_issue *is)
{
    struct seen *s = ctx;
    if (s->n < 32)
        s->kind[s->n] = is->kind;
    s->n++;
    assert_true(is->text[0] != '\0');
    assert_non_null(is->rfc);
    assert_non_null(is->level);
}

struct env {
    struct seen seen;
    struct ms_stress_mbox mb;
    struct ms_stress_view v[3];
};

static void setup_env(struct env *e, uint32_t exists)
{
    memset(e, 0, sizeof(*e));
    assert_int_equal(ms_stress_mbox_init(&e->mb, 1024, collect, &e->seen), 0);
    for (int i = 0; i < 3; i++) {
        ms_stress_view_init(&e->v[i], &e->mb, i);
        assert_int_equal(ms_stress_view_exists(&e->v[i], exists), 0);
    }
}

static void free_env(struct env *e)
{
    for (int i = 0; i < 3; i++)
        ms_stress_view_free(&e->v[i]);
    ms_stress_mbox_free(&e->mb);
}

static struct ms_stress_fetch fuid(uint32_t seq, uint32_t uid)
{
    struct ms_stress_fetch f;
    memset(&f, 0, sizeof(f));
    f.seq = seq;
    f.uid = uid;
    return f;
}

static void flags_of(struct ms_stress_fetch *f, const char *list)
{
    /* space-separated flags */
    f->has_flags = 1;
    memset(&f->flags, 0, sizeof(f->flags));
    while (*list) {
        const char *sp = strchr(list, ' ');
        size_t n = sp ? (size_t)(sp - list) : strlen(list);
        if (n)
            ms_stress_flags_add(&f->flags, list, n);
        list += n + (sp != NULL);
    }
}

static void test_seq_before_exists(void **st)
{
    struct env e;
    (void)st;
    setup_env(&e, 2);
    struct ms_stress_fetch f = fuid(2, 10);
    ms_stress_view_fetch(&e.v[0], &f);
    assert_int_equal(e.seen.n, 0);
    f = fuid(3, 11); /* only 2 announced */
    ms_stress_view_fetch(&e.v[0], &f);
    assert_int_equal(e.seen.n, 0); /* judged when the command completes */
    ms_stress_view_command_done(&e.v[0]);
    assert_int_equal(e.seen.n, 1);
    assert_int_equal(e.seen.kind[0], MS_SK_SEQ_BEFORE_EXISTS);
    /* reported once: the view takes the server's count, and rests its
     * per-session checks until the next SELECT */
    ms_stress_view_fetch(&e.v[0], &f);
    ms_stress_view_command_done(&e.v[0]);
    assert_int_equal(e.seen.n, 1);
    assert_int_equal(e.v[0].exists, 3);
    assert_int_equal(e.v[0].desync, 1);
    ms_stress_view_expunge(&e.v[0], 5);
    assert_int_equal(ms_stress_view_exists(&e.v[0], 1), 0);
    assert_int_equal(e.seen.n, 1);
    /* an EXISTS later in the same response: not reported */
    f = fuid(3, 11);
    ms_stress_view_fetch(&e.v[1], &f);
    assert_int_equal(ms_stress_view_exists(&e.v[1], 3), 0);
    ms_stress_view_command_done(&e.v[1]);
    assert_int_equal(e.seen.n, 1);
    /* an EXPUNGE below the pending number renumbers it: "* 3 FETCH" (2
     * told), "* 1 EXPUNGE", "* 2 EXISTS" announce the same message (session
     * 0); "* 1 EXISTS" there does not: reported (session 1) */
    struct env e2;
    setup_env(&e2, 2);
    for (unsigned i = 0; i < 2; i++) {
        f = fuid(3, 11);
        ms_stress_view_fetch(&e2.v[i], &f);
        ms_stress_view_expunge(&e2.v[i], 1);
        assert_int_equal(ms_stress_view_exists(&e2.v[i], 2 - i), 0);
        ms_stress_view_command_done(&e2.v[i]);
        assert_int_equal(e2.seen.n, i);
    }
    assert_int_equal(e2.seen.kind[0], MS_SK_SEQ_BEFORE_EXISTS);
    for (int i = 0; i < 3; i++)
        ms_stress_view_free(&e2.v[i]);
    ms_stress_mbox_free(&e2.mb);
    /* a content change is still noted by the UID the response carries */
    struct ms_stress_fetch g = fuid(1, 40);
    g.has_size = 1;
    g.size = 5;
    ms_stress_view_fetch(&e.v[2], &g);
    g.size = 6;
    ms_stress_view_fetch(&e.v[0], &g);
    assert_int_equal(e.mb.nsuspects, 1);
    e.mb.nsuspects = 0;
    /* SELECT again: judged again */
    ms_stress_view_reset(&e.v[0]);
    assert_int_equal(ms_stress_view_exists(&e.v[0], 3), 0);
    ms_stress_view_expunge(&e.v[0], 5);
    assert_int_equal(e.seen.n, 2);
    assert_int_equal(e.seen.kind[1], MS_SK_SEQ_BEFORE_EXISTS);
    /* after EXISTS the number is fine */
    ms_stress_view_reset(&e.v[2]);
    assert_int_equal(ms_stress_view_exists(&e.v[2], 4), 0);
    f = fuid(4, 12);
    ms_stress_view_fetch(&e.v[2], &f);
    assert_int_equal(e.seen.n, 2);
    free_env(&e);
}

static void test_exists_down(void **st)
{
    struct env e;
    (void)st;
    setup_env(&e, 5);
    assert_int_equal(ms_stress_view_exists(&e.v[0], 5), 0); /* the same count again: fine */
    assert_int_equal(e.seen.n, 0);
    assert_int_equal(ms_stress_view_exists(&e.v[0], 4), 0);
    assert_int_equal(e.seen.n, 1);
    assert_int_equal(e.seen.kind[0], MS_SK_EXISTS_DOWN);
    /* a new SELECT starts over: a smaller count is no decrease */
    ms_stress_view_reset(&e.v[1]);
    assert_int_equal(ms_stress_view_exists(&e.v[1], 1), 0);
    assert_int_equal(e.seen.n, 1);
    free_env(&e);
}

static void test_uid_map(void **st)
{
    struct env e;
    (void)st;
    setup_env(&e, 3);
    struct ms_stress_fetch f = fuid(1, 10);
    ms_stress_view_fetch(&e.v[0], &f);
    f = fuid(3, 30);
    ms_stress_view_fetch(&e.v[0], &f);
    f = fuid(2, 20);
    ms_stress_view_fetch(&e.v[0], &f);
    f = fuid(2, 20); /* the same again: fine */
    ms_stress_view_fetch(&e.v[0], &f);
    assert_int_equal(e.seen.n, 0);
    /* EXPUNGE 1 shifts: message 1 is now UID 20 */
    ms_stress_view_expunge(&e.v[0], 1);
    f = fuid(1, 20);
    ms_stress_view_fetch(&e.v[0], &f);
    assert_int_equal(e.seen.n, 0);
    f = fuid(1, 21); /* a changed UID */
    ms_stress_view_fetch(&e.v[0], &f);
    assert_int_equal(e.seen.n, 1);
    assert_int_equal(e.seen.kind[0], MS_SK_UID_CHANGED);
    free_env(&e);
}

static void test_uid_order(void **st)
{
    struct env e;
    (void)st;
    setup_env(&e, 4);
    struct ms_stress_fetch f = fuid(1, 10);
    ms_stress_view_fetch(&e.v[0], &f);
    f = fuid(4, 40);
    ms_stress_view_fetch(&e.v[0], &f);
    f = fuid(3, 35); /* between: fine */
    ms_stress_view_fetch(&e.v[0], &f);
    assert_int_equal(e.seen.n, 0);
    f = fuid(2, 36); /* above message 3's UID */
    ms_stress_view_fetch(&e.v[0], &f);
    assert_int_equal(e.seen.n, 1);
    assert_int_equal(e.seen.kind[0], MS_SK_UID_ORDER);
    /* another session: below message 1's UID */
    f = fuid(1, 10);
    ms_stress_view_fetch(&e.v[1], &f);
    f = fuid(2, 9);
    ms_stress_view_fetch(&e.v[1], &f);
    assert_int_equal(e.seen.n, 2);
    assert_int_equal(e.seen.kind[1], MS_SK_UID_ORDER);
    free_env(&e);
}

/* A quiet view for checkpoints: messages 1..n with the given UIDs, no flags. */
static void cp_view(struct ms_stress_view *v, const uint32_t *uids, uint32_t n)
{
    ms_stress_view_reset(v);
    assert_int_equal(ms_stress_view_exists(v, n), 0);
    for (uint32_t i = 0; i < n; i++) {
        struct ms_stress_fetch f = fuid(i + 1, uids[i]);
        f.has_flags = 1;
        ms_stress_view_fetch(v, &f);
    }
}

static void test_content(void **st)
{
    struct env e;
    struct ms_stress_view *vs[1];
    (void)st;
    setup_env(&e, 1);
    vs[0] = &e.v[0];
    struct ms_stress_fetch f = fuid(1, 7);
    f.has_size = 1;
    f.size = 100;
    f.has_bs = 1;
    f.bs_hash = 55;
    ms_stress_view_fetch(&e.v[0], &f);
    ms_stress_view_fetch(&e.v[1], &f); /* another session, the same message */
    /* fake data for a message another session expunged (RFC 2180 4.1):
     * a suspect only, dropped when the message is gone at the checkpoint */
    f.size = 0;
    ms_stress_view_fetch(&e.v[2], &f);
    assert_int_equal(e.seen.n, 0);
    uint32_t none[1] = {8};
    cp_view(&e.v[0], none, 1);
    ms_stress_checkpoint(&e.mb, vs, 1);
    assert_int_equal(e.seen.n, 0);
    /* the same on a message that is still there: reported, once */
    f.size = 101;
    ms_stress_view_fetch(&e.v[2], &f);
    ms_stress_view_fetch(&e.v[2], &f);
    f.size = 100;
    f.bs_hash = 56;
    ms_stress_view_fetch(&e.v[1], &f); /* the structure: a suspect of the same kind */
    uint32_t alive[1] = {7};
    cp_view(&e.v[0], alive, 1);
    ms_stress_checkpoint(&e.mb, vs, 1);
    assert_int_equal(e.seen.n, 1);
    assert_int_equal(e.seen.kind[0], MS_SK_CONTENT_CHANGED);
    free_env(&e);
}

static void test_appended(void **st)
{
    struct env e;
    struct ms_stress_view *vs[1];
    (void)st;
    setup_env(&e, 1);
    vs[0] = &e.v[0];
    ms_stress_appended(&e.mb, 0, 5, 1111);
    struct ms_stress_fetch f = fuid(1, 5);
    f.has_body = 1;
    f.body_hash = 1111;
    ms_stress_view_fetch(&e.v[1], &f);
    assert_int_equal(e.seen.n, 0);
    /* the message was expunged by someone before our APPEND OK arrived:
     * not a reuse (the same message) */
    ms_stress_view_expunge(&e.v[1], 1);
    ms_stress_appended(&e.mb, 2, 6, 2222);
    struct ms_stress_fetch g = fuid(1, 6);
    assert_int_equal(ms_stress_view_exists(&e.v[1], 1), 0);
    ms_stress_view_fetch(&e.v[1], &g);
    assert_int_equal(e.seen.n, 0);
    /* a BODY[] seen under UID 7 before its APPENDUID, another message:
     * a suspect (it may be fake data) until a checkpoint */
    struct ms_stress_fetch h = fuid(1, 7);
    h.has_body = 1;
    h.body_hash = 4444;
    ms_stress_view_fetch(&e.v[2], &h);
    ms_stress_appended(&e.mb, 0, 7, 5555);
    assert_int_equal(e.seen.n, 0);
    /* another APPEND gets UID 5 again: reuse, at once */
    ms_stress_appended(&e.mb, 1, 5, 3333);
    assert_int_equal(e.seen.n, 1);
    assert_int_equal(e.seen.kind[0], MS_SK_UID_REUSED);
    /* BODY[] that differs from the appended bytes, message alive */
    g.has_body = 1;
    g.body_hash = 9;
    ms_stress_view_fetch(&e.v[0], &g);
    assert_int_equal(e.seen.n, 1);
    uint32_t alive[2] = {6, 7};
    cp_view(&e.v[0], alive, 2);
    ms_stress_checkpoint(&e.mb, vs, 1);
    assert_int_equal(e.seen.n, 3);
    assert_int_equal(e.seen.kind[1], MS_SK_UID_REUSED);
    assert_int_equal(e.seen.kind[2], MS_SK_CONTENT_CHANGED);
    free_env(&e);
}

static void test_modseq(void **st)
{
    struct env e;
    (void)st;
    setup_env(&e, 1);
    struct ms_stress_fetch f = fuid(1, 3);
    /* the command that enabled CONDSTORE is not judged */
    f.modseq = 50;
    ms_stress_view_fetch(&e.v[0], &f);
    ms_stress_view_fetch(&e.v[1], &f);
    ms_stress_view_command_done(&e.v[0]);
    ms_stress_view_command_done(&e.v[1]);
    assert_int_equal(e.seen.n, 0);
    f.modseq = 10;
    ms_stress_view_fetch(&e.v[0], &f);
    f.modseq = 12;
    ms_stress_view_fetch(&e.v[0], &f);
    /* another session may still see the older value (announced late) */
    f.modseq = 10;
    ms_stress_view_fetch(&e.v[1], &f);
    assert_int_equal(e.seen.n, 0);
    f.modseq = 11;
    ms_stress_view_fetch(&e.v[0], &f);
    assert_int_equal(e.seen.n, 1);
    assert_int_equal(e.seen.kind[0], MS_SK_MODSEQ_BACK);
    free_env(&e);
}

static void test_flags_parse(void **st)
{
    struct ms_stress_fetch a, b;
    (void)st;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    flags_of(&a, "\\Seen $Junk mskw3 \\Recent Foo");
    flags_of(&b, "foo \\SEEN MSKW3 $junk");
    assert_int_equal(a.flags.sys, MS_SF_SEEN);
    assert_true(a.flags.own == (1ull << 3));
    /* case-insensitive, order-independent, \Recent ignored */
    assert_true(memcmp(&a.flags, &b.flags, sizeof(a.flags)) == 0);
    flags_of(&b, "\\Seen $Junk mskw03 Foo"); /* mskw03 is not an own keyword */
    assert_true(b.flags.own == 0);
    flags_of(&b, "\\Seen mskw64");
    assert_true(b.flags.own == 0 && b.flags.other != 0);
}

/* Three sessions with the same two messages and flags. */
static void quiet_views(struct env *e, const char *f1, const char *f2)
{
    for (int i = 0; i < 3; i++) {
        struct ms_stress_fetch f = fuid(1, 1);
        flags_of(&f, i == 2 && f2 ? f2 : f1);
        ms_stress_view_fetch(&e->v[i], &f);
        f = fuid(2, 2);
        flags_of(&f, "\\Seen");
        ms_stress_view_fetch(&e->v[i], &f);
    }
}

static void test_checkpoint(void **st)
{
    struct env e;
    struct ms_stress_view *vs[3];
    (void)st;

    setup_env(&e, 2);
    for (int i = 0; i < 3; i++)
        vs[i] = &e.v[i];
    quiet_views(&e, "\\Flagged mskw1", NULL);
    ms_stress_own_store(&e.mb, 1, 1, 1, 1, 1); /* session 1 set mskw1 on UID 1 */
    ms_stress_checkpoint(&e.mb, vs, 3);
    assert_int_equal(e.seen.n, 0);
    assert_true(e.mb.n_checkpoint_views == 3 && e.mb.n_owner_checks > 0);

    /* a flag change one session never sees */
    quiet_views(&e, "\\Flagged mskw1", "mskw1");
    ms_stress_checkpoint(&e.mb, vs, 3);
    assert_int_equal(e.seen.n, 1);
    assert_int_equal(e.seen.kind[0], MS_SK_CHECKPOINT);

    /* session 1's completed +FLAGS lost in every session */
    quiet_views(&e, "\\Flagged", NULL);
    ms_stress_checkpoint(&e.mb, vs, 3);
    assert_int_equal(e.seen.n, 2);
    assert_int_equal(e.seen.kind[1], MS_SK_LOST_FLAG);

    /* a different message count */
    assert_int_equal(ms_stress_view_exists(&e.v[2], 3), 0);
    struct ms_stress_fetch f = fuid(3, 3);
    flags_of(&f, "");
    ms_stress_view_fetch(&e.v[2], &f);
    quiet_views(&e, "\\Flagged", NULL);
    ms_stress_checkpoint(&e.mb, vs, 3);
    assert_int_equal(e.seen.n, 3);
    assert_int_equal(e.seen.kind[2], MS_SK_CHECKPOINT);

    /* a view with a gap (a message without UID) is left out */
    assert_int_equal(ms_stress_view_exists(&e.v[0], 3), 0);
    assert_int_equal(ms_stress_view_exists(&e.v[1], 3), 0);
    ms_stress_view_fetch(&e.v[1], &f);
    e.v[1].have_flags[0] = 0;
    ms_stress_checkpoint(&e.mb, vs, 3);
    assert_int_equal(e.seen.n, 3);
    free_env(&e);
}

static void test_store_result(void **st)
{
    struct env e;
    struct ms_stress_view *vs[1];
    (void)st;

    setup_env(&e, 2);
    vs[0] = &e.v[0];
    /* +FLAGS returned flags without the keyword: suspect only */
    ms_stress_own_store(&e.mb, 2, 1, 1, 1, 0);
    /* -FLAGS with no FETCH at all (expunged meanwhile): nothing */
    ms_stress_own_store(&e.mb, 2, 2, 0, 0, 0);
    assert_int_equal(e.seen.n, 0);
    /* the message is gone at the checkpoint: the STORE may have run on an
     * expunged message, nothing to report */
    ms_stress_view_reset(&e.v[0]);
    assert_int_equal(ms_stress_view_exists(&e.v[0], 1), 0);
    struct ms_stress_fetch f = fuid(1, 2);
    flags_of(&f, "");
    ms_stress_view_fetch(&e.v[0], &f);
    ms_stress_checkpoint(&e.mb, vs, 1);
    assert_int_equal(e.seen.n, 0);
    /* the same on a message that still exists at the checkpoint */
    ms_stress_own_store(&e.mb, 2, 2, 1, 1, 0);
    ms_stress_checkpoint(&e.mb, vs, 1);
    assert_int_equal(e.seen.n, 1);
    assert_int_equal(e.seen.kind[0], MS_SK_STORE_RESULT);
    free_env(&e);
}

static void test_pop3(void **st)
{
    struct seen seen;
    struct ms_stress_mbox mb;
    struct ms_stress_p3slot slots[16];
    struct ms_stress_p3view a, b;
    (void)st;

    memset(&seen, 0, sizeof(seen));
    memset(slots, 0, sizeof(slots));
    assert_int_equal(ms_stress_mbox_init(&mb, 16, collect, &seen), 0);
    memset(&a, 0, sizeof(a));
    a.mb = &mb;
    a.slots = slots;
    a.nslots = 16;
    b = a;
    b.session = 1;
    assert_int_equal(ms_stress_p3_begin(&a, 3), 0);
    assert_int_equal(ms_stress_p3_begin(&b, 4), 0); /* a new message in a later session: fine */
    ms_stress_p3_uid(&a, 1, "u1", 2);
    ms_stress_p3_size(&a, 1, 100);
    ms_stress_p3_body(&a, 1, 77);
    ms_stress_p3_uid(&a, 2, "u2", 2);
    ms_stress_p3_size(&a, 5, 1); /* beyond the count: not judged */
    ms_stress_p3_stat(&a, 4);    /* new mail: not judged */
    /* the other session lists in another order: same unique-id, same message */
    ms_stress_p3_uid(&b, 3, "u1", 2);
    ms_stress_p3_size(&b, 3, 100);
    ms_stress_p3_body(&b, 3, 77);
    assert_int_equal(seen.n, 0);
    /* the same unique-id with another size, another body */
    ms_stress_p3_uid(&b, 4, "u2", 2); /* duplicate of nothing yet in b */
    ms_stress_p3_size(&b, 1, 50);
    ms_stress_p3_uid(&b, 1, "u1", 2); /* u1 is message 3 in b: duplicate */
    assert_int_equal(seen.n, 2);      /* duplicate; and u1 with 50 octets */
    ms_stress_p3_body(&b, 3, 78);
    assert_int_equal(seen.n, 3);
    /* within a session: a changed unique-id, a changed size, a lower count */
    ms_stress_p3_uid(&a, 2, "zz", 2);
    ms_stress_p3_size(&a, 2, 10);
    ms_stress_p3_size(&a, 2, 11);
    ms_stress_p3_stat(&a, 2);
    /* 11 octets: within the session and against u2's 10 from before */
    assert_int_equal(seen.n, 7);
    for (unsigned i = 0; i < 7; i++)
        assert_int_equal(seen.kind[i], MS_SK_POP3);
    ms_stress_p3_free(&a);
    ms_stress_p3_free(&b);
    ms_stress_mbox_free(&mb);
}

/* Reproducers (stress_repro.c): only uid-reused has one; it parses, with and
 * without LITERAL+, under a prefix; the password stays a variable; a prefix
 * that cannot be quoted, or a buffer too small, gives none. */
static void test_repro(void **state)
{
    (void)state;
    char text[4096];
    assert_null(ms_stress_repro_why_not(MS_SK_UID_REUSED, 1));
    assert_non_null(ms_stress_repro_why_not(MS_SK_UID_REUSED, 0));
    for (int k = MS_SK_SEQ_BEFORE_EXISTS; k <= MS_SK_NO_TRACE; k++) {
        if (k == MS_SK_UID_REUSED)
            continue;
        assert_non_null(ms_stress_repro_why_not((enum ms_stress_kind)k, 1));
        assert_int_equal(ms_stress_repro((enum ms_stress_kind)k, "", 1, text, sizeof(text)), 0);
    }
    for (int lp = 0; lp < 2; lp++) {
        size_t n = ms_stress_repro(MS_SK_UID_REUSED, lp ? "INBOX." : "", lp, text, sizeof(text));
        assert_true(n > 0 && n == strlen(text));
        struct ms_script_error se;
        struct ms_script *s = ms_script_parse(text, n, &se);
        if (!s)
            fail_msg("line %zu: %s", se.line, se.reason);
        ms_script_free(s);
        assert_non_null(strstr(text, lp ? "APPEND \"INBOX.mailspec-${run}-repro-uid\" {20+}"
                                        : "APPEND \"mailspec-${run}-repro-uid\" {20}"));
        assert_true((strstr(text, "S: + ${*}") != NULL) == !lp);
        assert_non_null(strstr(text, "@forbid * ${*} FETCH (UID ${uid1})"));
        assert_non_null(strstr(text, "\"${password}\""));
        /* every length short of the whole text gives none, not a cut script */
        assert_int_equal(ms_stress_repro(MS_SK_UID_REUSED, lp ? "INBOX." : "", lp, text, n), 0);
    }
    assert_int_equal(ms_stress_repro(MS_SK_UID_REUSED, "a\"b", 1, text, sizeof(text)), 0);
    assert_int_equal(ms_stress_repro(MS_SK_UID_REUSED, NULL, 1, text, sizeof(text)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_before_exists),
        cmocka_unit_test(test_exists_down),
        cmocka_unit_test(test_uid_map),
        cmocka_unit_test(test_uid_order),
        cmocka_unit_test(test_content),
        cmocka_unit_test(test_appended),
        cmocka_unit_test(test_modseq),
        cmocka_unit_test(test_flags_parse),
        cmocka_unit_test(test_checkpoint),
        cmocka_unit_test(test_store_result),
        cmocka_unit_test(test_pop3),
        cmocka_unit_test(test_repro),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
