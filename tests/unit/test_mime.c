/*
 * The MIME walker (parsers/common/mime.c): sections, byte ranges, sizes and
 * Content-Type of each entity, and its bounds. It takes a whole message (the
 * oracle built it), so there is no split to run; every message is placed
 * against a PROT_NONE guard page so a read past its end crashes.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "mailspec/mime.h"

static struct ms_mime mm;

static const struct ms_mime *walk(const char *s, size_t n)
{
    struct ms_error err;
    const char *g = ms_guarded(s, n);
    assert_int_equal(ms_mime_walk(g, n, &mm, &err), MS_OK);
    /* every range inside the message, every child inside its parent */
    for (uint32_t i = 0; i < mm.n; i++) {
        const struct ms_mime_entity *e = &mm.e[i];
        assert_true(e->off + e->len <= n);
        assert_int_equal(e->hdr_off, e->off);
        assert_int_equal(e->hdr_len + e->body_len, e->len);
        assert_int_equal(e->body_off, e->off + e->hdr_len);
        if (e->parent) {
            const struct ms_mime_entity *p = &mm.e[e->parent - 1];
            assert_true(e->parent - 1 < i);
            assert_true(e->off >= p->body_off && e->off + e->len <= p->body_off + p->body_len);
        }
    }
    return &mm;
}
#define WALK(lit) walk(lit, sizeof(lit) - 1)

static const struct ms_mime_entity *by_section(const struct ms_mime *m, const char *s)
{
    for (uint32_t i = 0; i < m->n; i++)
        if (strcmp(m->e[i].section, s) == 0)
            return &m->e[i];
    return NULL;
}

static void test_simple(void **state)
{
    (void)state;
    static const char msg[] = "Subject: hi\r\nFrom: a@b.example\r\n\r\nline 1\r\nline 2\r\n";
    const struct ms_mime *m = WALK(msg);
    assert_int_equal(m->n, 1);
    const struct ms_mime_entity *e = &m->e[0];
    assert_string_equal(e->section, "1");
    assert_string_equal(e->msg_section, "");
    assert_int_equal(e->hdr_len, 34);
    assert_int_equal(e->body_len, 16);
    assert_int_equal(e->lines, 2);
    assert_int_equal(e->lines_open, 2);
    assert_true(e->defaulted);
    assert_true(ms_slice_ieq(e->type, "text") && ms_slice_ieq(e->subtype, "plain"));
    assert_int_equal(e->flags, 0);
    assert_memory_equal(msg + e->body_off, "line 1\r\nline 2\r\n", 16);
}

static void test_no_separator(void **state)
{
    (void)state;
    static const char msg[] = "Subject: none\r\nX-A: b\r\n";
    const struct ms_mime *m = WALK(msg);
    assert_int_equal(m->n, 1);
    assert_int_equal(m->e[0].hdr_len, sizeof(msg) - 1);
    assert_int_equal(m->e[0].body_len, 0);
    assert_int_equal(m->e[0].lines, 0);
    assert_true(m->e[0].flags & MS_MIME_F_NO_SEPARATOR);
    /* the last line without its line end is header too */
    static const char cut[] = "Subject: none";
    m = WALK(cut);
    assert_int_equal(m->e[0].hdr_len, 13);
    assert_true(m->e[0].flags & MS_MIME_F_NO_SEPARATOR);
}

static void test_open_last_line(void **state)
{
    (void)state;
    static const char msg[] = "A: b\r\n\r\none\r\ntwo";
    const struct ms_mime *m = WALK(msg);
    assert_int_equal(m->e[0].lines, 1);
    assert_int_equal(m->e[0].lines_open, 2);
    assert_int_equal(m->e[0].body_len, 8);
}

static const char mixed[] = "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
                            "\r\n"
                            "preamble\r\n"
                            "--b1\r\n"
                            "Content-Type: text/plain; charset=utf-8\r\n"
                            "\r\n"
                            "first\r\n"
                            "--b1 \t\r\n"
                            "Content-Type: multipart/alternative; boundary=b2\r\n"
                            "\r\n"
                            "--b2\r\n"
                            "\r\n"
                            "plain\r\n"
                            "--b2\r\n"
                            "Content-Type: text/html\r\n"
                            "\r\n"
                            "<p>html</p>\r\n"
                            "--b2--\r\n"
                            "--b1--\r\n"
                            "epilogue\r\n";

static void test_multipart_nested(void **state)
{
    (void)state;
    const struct ms_mime *m = WALK(mixed);
    assert_int_equal(m->n, 5);
    assert_string_equal(m->e[0].section, "");
    assert_true(m->e[0].multipart);
    assert_int_equal(m->e[0].nchildren, 2);
    assert_int_equal(m->e[0].flags, 0);
    const struct ms_mime_entity *p1 = by_section(m, "1");
    assert_non_null(p1);
    assert_int_equal(p1->role, MS_MIME_PART);
    /* the CRLF before "--b1" belongs to the delimiter: "first" is 5 octets */
    assert_int_equal(p1->body_len, 5);
    assert_int_equal(p1->lines, 0);
    assert_int_equal(p1->lines_open, 1);
    assert_memory_equal(mixed + p1->body_off, "first", 5);
    struct ms_slice cs;
    assert_true(ms_mime_param_get(p1, "CHARSET", &cs, NULL));
    assert_true(ms_slice_eq(cs, "utf-8"));
    const struct ms_mime_entity *p2 = by_section(m, "2");
    assert_non_null(p2);
    assert_true(p2->multipart);
    assert_true(ms_slice_eq(p2->boundary, "b2"));
    const struct ms_mime_entity *p21 = by_section(m, "2.1");
    const struct ms_mime_entity *p22 = by_section(m, "2.2");
    assert_non_null(p21);
    assert_non_null(p22);
    assert_true(p21->defaulted);
    assert_int_equal(p21->hdr_len, 2); /* only the empty line */
    assert_memory_equal(mixed + p21->body_off, "plain", p21->body_len);
    assert_int_equal(p22->body_len, 11);
    assert_true(ms_slice_ieq(p22->subtype, "html"));
    assert_int_equal(p2->parent, 1);
    assert_int_equal(p21->parent - 1, (uint32_t)(p2 - m->e));
}

static void test_message_rfc822(void **state)
{
    (void)state;
    static const char msg[] = "Content-Type: multipart/mixed; boundary=X\r\n"
                              "\r\n"
                              "--X\r\n"
                              "\r\n"
                              "intro\r\n"
                              "--X\r\n"
                              "Content-Type: message/rfc822\r\n"
                              "\r\n"
                              "Subject: inner\r\n"
                              "Content-Type: multipart/mixed; boundary=Y\r\n"
                              "\r\n"
                              "--Y\r\n"
                              "\r\n"
                              "a\r\n"
                              "--Y\r\n"
                              "Content-Type: message/rfc822\r\n"
                              "\r\n"
                              "Subject: innermost\r\n"
                              "\r\n"
                              "deep\r\n"
                              "--Y--\r\n"
                              "--X--\r\n";
    const struct ms_mime *m = WALK(msg);
    const struct ms_mime_entity *p2 = by_section(m, "2");
    assert_non_null(p2);
    assert_true(p2->message);
    assert_int_equal(p2->nchildren, 1);
    const struct ms_mime_entity *enc = &m->e[p2->child - 1];
    assert_int_equal(enc->role, MS_MIME_ENCAP);
    assert_string_equal(enc->msg_section, "2");
    assert_string_equal(enc->section, ""); /* a multipart has no number of its own */
    assert_int_equal(enc->off, p2->body_off);
    assert_int_equal(enc->len, p2->body_len);
    assert_non_null(by_section(m, "2.1"));
    const struct ms_mime_entity *p22 = by_section(m, "2.2");
    assert_non_null(p22);
    assert_true(p22->message);
    const struct ms_mime_entity *inner = &m->e[p22->child - 1];
    /* a non-multipart message inside 2.2: its body is part 2.2.1 */
    assert_string_equal(inner->msg_section, "2.2");
    assert_string_equal(inner->section, "2.2.1");
    assert_memory_equal(msg + inner->body_off, "deep", 4);
    assert_int_equal(inner->body_len, 4);
    struct ms_slice line, v;
    assert_true(ms_mime_field(msg + enc->hdr_off, enc->hdr_len, "subject", 7, 0, &line, &v));
    assert_true(ms_slice_eq(v, " inner"));
}

static void test_top_level_rfc822(void **state)
{
    (void)state;
    /* a message/rfc822 message: part 1 is the message inside (1.HEADER, 1.TEXT) */
    static const char msg[] = "Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nbody\r\n";
    const struct ms_mime *m = WALK(msg);
    assert_int_equal(m->n, 2);
    assert_string_equal(m->e[0].section, "1");
    assert_true(m->e[0].message);
    assert_int_equal(m->e[1].role, MS_MIME_ENCAP);
    assert_string_equal(m->e[1].msg_section, "1");
    assert_string_equal(m->e[1].section, "1.1");
    assert_int_equal(m->e[1].body_len, 6);
}

static void test_params(void **state)
{
    (void)state;
    static const char msg[] = "Content-Type: (comment) text/plain (c) ;\r\n"
                              " name=\"a \\\"q\\\" b.txt\"; format=flowed;\r\n"
                              "\ttitle*0*=us-ascii'en'part1; title*1=part2 ;\r\n"
                              "\r\n"
                              "x";
    const struct ms_mime *m = WALK(msg);
    const struct ms_mime_entity *e = &m->e[0];
    assert_false(e->defaulted);
    assert_int_equal(e->nparams, 4);
    struct ms_slice v;
    int q = 0;
    assert_true(ms_mime_param_get(e, "name", &v, &q));
    assert_true(q);
    char buf[64];
    size_t n = ms_mime_unquote(v, buf, sizeof(buf));
    assert_int_equal(n, 11);
    assert_memory_equal(buf, "a \"q\" b.txt", 11);
    assert_true(ms_mime_param_get(e, "title*0*", &v, &q));
    assert_true(ms_slice_eq(v, "us-ascii'en'part1"));
    assert_true(ms_mime_param_get(e, "TITLE*1", &v, &q));
    assert_false(ms_mime_param_get(e, "charset", &v, &q));
}

static void test_bad_type_and_digest(void **state)
{
    (void)state;
    static const char bad[] = "Content-Type: text\r\n\r\nbody";
    const struct ms_mime *m = WALK(bad);
    assert_true(m->e[0].defaulted);
    assert_true(m->e[0].flags & MS_MIME_F_BAD_TYPE);
    static const char nob[] = "Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\na\r\n--x--\r\n";
    m = WALK(nob);
    assert_int_equal(m->n, 1);
    assert_false(m->e[0].multipart);
    assert_true(m->e[0].flags & MS_MIME_F_NO_BOUNDARY);
    static const char dig[] = "Content-Type: multipart/digest; boundary=d\r\n\r\n"
                              "--d\r\n\r\nSubject: m\r\n\r\nb\r\n--d--\r\n";
    m = WALK(dig);
    assert_int_equal(m->n, 3);
    assert_true(m->e[1].defaulted);
    assert_true(m->e[1].message);
    assert_string_equal(m->e[2].section, "1.1");
}

static void test_no_close_and_lookalikes(void **state)
{
    (void)state;
    static const char msg[] = "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                              "--bb\r\n" /* another boundary: preamble text */
                              "--b\r\n\r\none\r\n--b-x\r\nstill one\r\n--b\r\n\r\ntwo\r\n";
    const struct ms_mime *m = WALK(msg);
    assert_int_equal(m->n, 3);
    assert_true(m->e[0].flags & MS_MIME_F_NO_CLOSE);
    assert_int_equal(m->e[1].body_len, 21); /* "one\r\n--b-x\r\nstill one" */
    assert_int_equal(m->e[2].body_len, 5);  /* "two\r\n": to the end */
}

static void test_bare_lf(void **state)
{
    (void)state;
    static const char msg[] = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n";
    const struct ms_mime *m = WALK(msg);
    assert_true(m->e[0].flags & MS_MIME_F_BARE_LF);
    assert_int_equal(m->n, 2);
    assert_int_equal(m->e[1].body_len, 1);
}

static void test_limits(void **state)
{
    (void)state;
    /* nesting deeper than MS_MIME_MAX_DEPTH: cut, flagged, no crash */
    static char deep[8192];
    size_t o = 0;
    for (int i = 0; i < MS_MIME_MAX_DEPTH + 4; i++)
        o += (size_t)snprintf(deep + o, sizeof(deep) - o,
                              "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
    o += (size_t)snprintf(deep + o, sizeof(deep) - o, "\r\nleaf\r\n");
    const struct ms_mime *m = walk(deep, o);
    assert_true(m->n <= MS_MIME_MAX_DEPTH + 1);
    int cut = 0;
    for (uint32_t i = 0; i < m->n; i++)
        cut |= m->e[i].flags & MS_MIME_F_TOO_DEEP;
    assert_true(cut);
    /* more parts than MS_MIME_MAX_ENTITIES */
    static char wide[16384];
    o = (size_t)snprintf(wide, sizeof(wide), "Content-Type: multipart/mixed; boundary=w\r\n\r\n");
    for (int i = 0; i < MS_MIME_MAX_ENTITIES + 10; i++)
        o += (size_t)snprintf(wide + o, sizeof(wide) - o, "--w\r\n\r\n%d\r\n", i);
    o += (size_t)snprintf(wide + o, sizeof(wide) - o, "--w--\r\n");
    m = walk(wide, o);
    assert_int_equal(m->n, MS_MIME_MAX_ENTITIES);
    assert_true(m->e[0].flags & MS_MIME_F_TOO_DEEP);
    struct ms_error err;
    assert_int_equal(ms_mime_walk("", 0, &mm, &err), MS_FAIL);
}

static void test_fields_and_unfold(void **state)
{
    (void)state;
    static const char hdr[] = "Subject: a\r\n  folded\t line\r\nX-A : 1\r\nnot a field\r\n"
                              "x-a: 2\r\n\r\nX-A: body\r\n";
    struct ms_slice line, v;
    assert_true(ms_mime_field(hdr, sizeof(hdr) - 1, "SUBJECT", 7, 0, &line, &v));
    assert_int_equal(line.len, 28);
    char out[64];
    size_t n = ms_mime_unfold(v, out, sizeof(out));
    assert_int_equal(n, 13);
    assert_memory_equal(out, "a folded line", 13);
    assert_true(ms_mime_field(hdr, sizeof(hdr) - 1, "x-a", 3, 1, &line, &v));
    assert_true(ms_slice_eq(v, " 2"));
    /* the field after the empty line is body, not header */
    assert_false(ms_mime_field(hdr, sizeof(hdr) - 1, "x-a", 3, 2, &line, &v));
    assert_int_equal(ms_mime_unfold((struct ms_slice){" \r\n ", 4}, out, sizeof(out)), 0);
}

static void test_qp(void **state)
{
    (void)state;
    static const char in[] = "caf=C3=A9 =\r\nsoft  \r\nx=4z=\n=3d=";
    char out[64];
    size_t n = ms_mime_qp_decode(in, sizeof(in) - 1, out, sizeof(out));
    static const char want[] = "caf\xc3\xa9 soft\r\nx=4z=";
    assert_int_equal(n, sizeof(want) - 1);
    assert_memory_equal(out, want, n);
    assert_int_equal(ms_mime_qp_decode(in, sizeof(in) - 1, out, 3), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple),
        cmocka_unit_test(test_no_separator),
        cmocka_unit_test(test_open_last_line),
        cmocka_unit_test(test_multipart_nested),
        cmocka_unit_test(test_message_rfc822),
        cmocka_unit_test(test_top_level_rfc822),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_bad_type_and_digest),
        cmocka_unit_test(test_no_close_and_lookalikes),
        cmocka_unit_test(test_bare_lf),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_fields_and_unfold),
        cmocka_unit_test(test_qp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
