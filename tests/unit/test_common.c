/* Unit tests of the common core: numbers, cursor, lines, JSON, transcripts, driver. */
#include <string.h>

#include "harness.h"

static void test_number(void **st)
{
    uint64_t v;
    (void)st;
    assert_int_equal(ms_number_parse("0", 1, 10, &v), MS_OK);
    assert_int_equal(v, 0);
    assert_int_equal(ms_number_parse("4294967295", 10, UINT32_MAX, &v), MS_OK);
    assert_true(v == UINT32_MAX);
    /* 2^32: one past the 32-bit maximum */
    assert_int_equal(ms_number_parse("4294967296", 10, UINT32_MAX, &v), MS_FAIL);
    /* 2^63 - 1 ok for number64, 2^63 not */
    assert_int_equal(ms_number_parse("9223372036854775807", 19, INT64_MAX, &v), MS_OK);
    assert_int_equal(ms_number_parse("9223372036854775808", 19, INT64_MAX, &v), MS_FAIL);
    assert_int_equal(ms_number_parse("18446744073709551615", 20, UINT64_MAX, &v), MS_OK);
    assert_int_equal(ms_number_parse("18446744073709551616", 20, UINT64_MAX, &v), MS_FAIL);
    assert_int_equal(ms_number_parse("99999999999999999999999", 23, UINT64_MAX, &v), MS_FAIL);
    assert_int_equal(ms_number_parse("", 0, 10, &v), MS_FAIL);
    assert_int_equal(ms_number_parse("1a", 2, 100, &v), MS_FAIL);
    assert_int_equal(ms_number_parse("-1", 2, 100, &v), MS_FAIL);
    assert_int_equal(ms_number_parse("11", 2, 10, &v), MS_FAIL);
    assert_int_equal(ms_number_parse("10", 2, 10, &v), MS_OK);
    /* a maximum below 9: the last digit alone may be over it */
    assert_int_equal(ms_number_parse("3", 1, 3, &v), MS_OK);
    assert_int_equal(ms_number_parse("4", 1, 3, &v), MS_FAIL);
    assert_int_equal(ms_number_parse("16", 2, 5, &v), MS_FAIL);
    assert_int_equal(ms_number_parse("0", 1, 0, &v), MS_OK);
    assert_int_equal(ms_number_parse("1", 1, 0, &v), MS_FAIL);
}

static void test_cursor(void **st)
{
    struct ms_error err = {0};
    struct ms_cursor c;
    struct ms_slice s;
    uint64_t v;
    const char *in = ms_guarded("MAIL FROM:<a@b> 123456", 22);
    (void)st;

    ms_cursor_init(&c, in, 22, &err, "test");
    assert_int_equal(ms_cursor_expect_ci(&c, "mail from:", "r", "expected MAIL FROM:"), MS_OK);
    assert_int_equal(ms_cursor_expect(&c, '<', "r", "expected <"), MS_OK);
    assert_int_equal(ms_cursor_token(&c, MS_C_ATEXT, 64, &s, "r", "expected atext"), MS_OK);
    assert_true(ms_slice_eq(s, "a"));
    assert_int_equal(ms_cursor_expect(&c, '>', "r", "expected >"), MS_FAIL);
    assert_int_equal(err.offset, 12);
    assert_string_equal(err.reason, "expected >");
    assert_int_equal(ms_cursor_accept(&c, '@'), 1);
    assert_int_equal(ms_cursor_span(&c, MS_C_ALPHA, 100, &s), 1);
    assert_int_equal(ms_cursor_expect(&c, '>', "r", "x"), MS_OK);
    assert_int_equal(ms_cursor_accept(&c, ' '), 1);
    /* 6 digits with max_digits 5: an error at the number's start, not a cut */
    assert_int_equal(ms_cursor_number(&c, 5, 999999, &v, "r"), MS_FAIL);
    assert_int_equal(err.offset, 16);
    c.pos = 16;
    assert_int_equal(ms_cursor_number(&c, 6, 999999, &v, "r"), MS_OK);
    assert_true(v == 123456);
    assert_true(ms_cursor_eof(&c));
    assert_int_equal(ms_cursor_peek(&c), -1);
    assert_int_equal(ms_cursor_expect(&c, 'x', "r", "x"), MS_FAIL);
    /* token over the limit is an error at the limit */
    ms_cursor_init(&c, in, 4, &err, "test");
    assert_int_equal(ms_cursor_token(&c, MS_C_ALPHA, 3, &s, "r", "alpha"), MS_FAIL);
    assert_int_equal(err.offset, 3);
    assert_true(ms_slice_ieq((struct ms_slice){in, 4}, "mail"));
    assert_false(ms_slice_ieq((struct ms_slice){in, 4}, "mai"));
}

static void test_line_find(void **st)
{
    struct ms_error err = {0};
    size_t tl;
    int bare;
    (void)st;
    assert_int_equal(ms_line_find(ms_guarded("ab\r\ncd", 6), 6, 10, 0, &tl, &bare, &err, "r"), 4);
    assert_int_equal(tl, 2);
    assert_int_equal(ms_line_find(ms_guarded("abc", 3), 3, 10, 0, &tl, &bare, &err, "r"),
                     MS_PARTIAL);
    /* limit 5 including CRLF: "abc\r\n" fits, "abcd\r\n" does not */
    assert_int_equal(ms_line_find(ms_guarded("abc\r\n", 5), 5, 5, 0, &tl, &bare, &err, "r"), 5);
    assert_int_equal(ms_line_find(ms_guarded("abcd\r\n", 6), 6, 5, 0, &tl, &bare, &err, "r"),
                     MS_FAIL);
    assert_int_equal(err.offset, 5);
    assert_int_equal(ms_line_find(ms_guarded("abcd\r", 5), 5, 5, 0, &tl, &bare, &err, "r"),
                     MS_FAIL);
    assert_int_equal(err.offset, 5);
    assert_int_equal(ms_line_find(ms_guarded("ab\ncd", 5), 5, 10, 0, &tl, &bare, &err, "r"),
                     MS_FAIL);
    assert_int_equal(err.offset, 2);
    assert_string_equal(err.reason, "bare LF: lines end with CRLF");
    assert_int_equal(
        ms_line_find(ms_guarded("ab\ncd", 5), 5, 10, MS_LENIENT_BARE_LF, &tl, &bare, &err, "r"), 3);
    assert_int_equal(bare, 1);
    assert_int_equal(tl, 2);
    assert_int_equal(ms_line_find(ms_guarded("a\rb\r\n", 5), 5, 10, 0, &tl, &bare, &err, "r"),
                     MS_FAIL);
    assert_int_equal(err.offset, 1);
    assert_int_equal(err.skip, 5);
    assert_int_equal(ms_line_find(ms_guarded("\0\r\n", 3), 3, 10, 0, &tl, &bare, &err, "r"), 3);
}

static void test_json(void **st)
{
    char buf[256];
    struct ms_out o;
    (void)st;
    ms_out_init(&o, buf, sizeof(buf));
    ms_out_json_str(&o, "a\"b\\c\r\n\t\x01\xff\xc3\xa9z", 13);
    assert_false(o.overflow);
    buf[o.len] = '\0';
    assert_string_equal(buf, "\"a\\\"b\\\\c\\r\\n\\t\\u0001\\u00ff\xc3\xa9z\"");
    /* overlong UTF-8 and surrogates are not passed through */
    ms_out_init(&o, buf, sizeof(buf));
    ms_out_json_str(&o, "\xc0\xaf\xed\xa0\x80", 5);
    buf[o.len] = '\0';
    assert_string_equal(buf, "\"\\u00c0\\u00af\\u00ed\\u00a0\\u0080\"");
    /* overflow is reported, never a silent cut */
    ms_out_init(&o, buf, 4);
    ms_out_str(&o, "12345");
    assert_true(o.overflow);
    ms_out_init(&o, buf, sizeof(buf));
    ms_out_u64(&o, UINT64_MAX);
    buf[o.len] = '\0';
    assert_string_equal(buf, "18446744073709551615");
}

static void test_transcript(void **st)
{
    const char *t = "# comment\n\n@test x.y\nC: a1 NOOP\nS: a1 OK \\x41\\\\\\r\\t\nC:\n"
                    "S: crlf file\r\nX: bad\n";
    size_t pos = 0, len = strlen(t);
    char scratch[128];
    struct ms_titem it = {0};
    struct ms_error err;
    (void)st;

    assert_int_equal(ms_transcript_next(t, len, &pos, &it, scratch, sizeof(scratch), &err), 1);
    assert_int_equal(it.type, MS_T_DIRECTIVE);
    assert_int_equal(it.line, 3);
    assert_int_equal(it.len, 8);
    assert_memory_equal(it.data, "test x.y", 8);
    assert_int_equal(ms_transcript_next(t, len, &pos, &it, scratch, sizeof(scratch), &err), 1);
    assert_int_equal(it.type, MS_T_CLIENT);
    assert_int_equal(it.len, 9);
    assert_memory_equal(it.data, "a1 NOOP\r\n", 9);
    assert_int_equal(ms_transcript_next(t, len, &pos, &it, scratch, sizeof(scratch), &err), 1);
    assert_int_equal(it.type, MS_T_SERVER);
    assert_int_equal(it.len, 12);
    assert_memory_equal(it.data, "a1 OK A\\\r\t\r\n", 12);
    assert_int_equal(ms_transcript_next(t, len, &pos, &it, scratch, sizeof(scratch), &err), 1);
    assert_int_equal(it.type, MS_T_CLIENT);
    assert_int_equal(it.len, 2);
    assert_int_equal(ms_transcript_next(t, len, &pos, &it, scratch, sizeof(scratch), &err), 1);
    assert_int_equal(it.len, 11); /* the file's CR is not data */
    assert_int_equal(it.line, 7);
    assert_int_equal(ms_transcript_next(t, len, &pos, &it, scratch, sizeof(scratch), &err),
                     MS_FAIL);
    assert_int_equal(err.code, MS_ERR_SYNTAX);
    assert_int_equal(it.line, 8);
    assert_int_equal(ms_transcript_next(t, len, &pos, &it, scratch, sizeof(scratch), &err), 0);

    static const char *bad[] = {"C:x\n", "C: \\q\n", "C: \\x4\n", "C: a\\\n", " C: a\n", "Z\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ms_titem b = {0};
        pos = 0;
        assert_int_equal(
            ms_transcript_next(bad[i], strlen(bad[i]), &pos, &b, scratch, sizeof(scratch), &err),
            MS_FAIL);
    }
}

/*
 * A toy kind for testing the driver itself: every CRLF line (max 8 bytes) is
 * a message; a line starting with "!" is an error; "<" starts a streamed
 * message of lines that ends with a line ">".
 */
struct toy_state {
    int streaming;
    size_t pieces;
};
struct toy_view {
    struct ms_slice line;
    size_t pieces;
};

static ssize_t toy_parse(void *state, const struct ms_limits *lim, const char *buf, size_t len,
                         void *view, int *done, struct ms_error *err)
{
    struct toy_state *ts = state;
    struct toy_view *v = view;
    size_t tl;
    int bare;
    ssize_t n = ms_line_find(buf, len, 8, lim->lenient, &tl, &bare, err, "toy line");
    if (n <= 0)
        return n;
    if (tl > 0 && buf[0] == '!')
        return ms_error_set(err, 0, MS_ERR_SYNTAX, "toy", "bang", (size_t)n);
    if (tl > 0 && buf[0] == '<') {
        ts->streaming = 1;
        ts->pieces = 0;
    }
    if (ts->streaming) {
        ts->pieces++;
        if (tl == 1 && buf[0] == '>') {
            ts->streaming = 0;
            v->line = (struct ms_slice){buf, tl};
            v->pieces = ts->pieces;
            *done = 1;
        } else {
            *done = 0;
        }
        return n;
    }
    v->line = (struct ms_slice){buf, tl};
    v->pieces = 0;
    *done = 1;
    return n;
}

static void toy_json(const void *view, struct ms_out *o)
{
    const struct toy_view *v = view;
    ms_out_json_key(o, "line");
    ms_out_json_slice(o, v->line);
    ms_out_json_key(o, "pieces");
    ms_out_u64(o, v->pieces);
}

static ssize_t toy_write(const void *view, char *out, size_t cap)
{
    const struct toy_view *v = view;
    if (v->pieces)
        return MS_FAIL;
    if (cap < v->line.len + 2)
        return MS_FAIL;
    memcpy(out, v->line.ptr, v->line.len);
    memcpy(out + v->line.len, "\r\n", 2);
    return (ssize_t)(v->line.len + 2);
}

static const struct ms_kind toy = {
    "toy",    "lines",   sizeof(struct toy_state), sizeof(struct toy_view), NULL, toy_parse,
    toy_json, toy_write,
};

static void test_driver(void **st)
{
    (void)st;
    const char *r = ms_check_str(&toy, 0, "ab\r\ncd\r\n");
    assert_string_equal(r, "0+4 {\"line\":\"ab\",\"pieces\":0}\n"
                           "4+4 {\"line\":\"cd\",\"pieces\":0}\n");
    /* an error with a known end, then recovery */
    r = ms_check_str(&toy, 0, "!x\r\nok\r\n");
    assert_string_equal(r, "0 ERR 0 toy: bang\n4+4 {\"line\":\"ok\",\"pieces\":0}\n");
    /* a line too long: error at the limit, discard through the next LF */
    r = ms_check_str(&toy, 0, "0123456789\r\nok\r\n");
    assert_string_equal(r, "0 ERR 8 toy line: line longer than the limit\n"
                           "12+4 {\"line\":\"ok\",\"pieces\":0}\n");
    /* streamed message: one view at the end, spanning all pieces */
    r = ms_check_str(&toy, 0, "<a\r\nb\r\n>\r\nz\r\n");
    assert_string_equal(r, "0+10 {\"line\":\">\",\"pieces\":3}\n"
                           "10+3 {\"line\":\"z\",\"pieces\":0}\n");
    /* input ending inside a message */
    r = ms_check_str(&toy, 0, "ab\r\ncd");
    assert_string_equal(r, "0+4 {\"line\":\"ab\",\"pieces\":0}\n"
                           "4 ERR 6 end of input: input ends inside a message\n");
    r = ms_check_str(&toy, 0, "<a\r\n");
    assert_string_equal(r, "0 ERR 4 end of input: input ends inside a message\n");
    /* bare LF strict vs lenient */
    r = ms_check_str(&toy, 0, "ab\ncd\r\n");
    assert_string_equal(r, "0 ERR 2 toy line: bare LF: lines end with CRLF\n"
                           "3+4 {\"line\":\"cd\",\"pieces\":0}\n");
    r = ms_check_str(&toy, MS_LENIENT_BARE_LF, "ab\ncd\r\n");
    assert_string_equal(r, "0+3 {\"line\":\"ab\",\"pieces\":0}\n"
                           "3+4 {\"line\":\"cd\",\"pieces\":0}\n");
    r = ms_check_str(&toy, 0, "");
    assert_string_equal(r, "");
}

/* The driver with a buffer too small for a message: an error, then recovery. */
static size_t seen_msgs, seen_errs;
static uint64_t last_err_offset;
static enum ms_errcode last_err_code;
static void count_emit(void *ctx, const struct ms_kind *k, const void *view,
                       const struct ms_error *err, uint64_t offset, uint64_t length)
{
    (void)ctx;
    (void)k;
    (void)offset;
    (void)length;
    if (view)
        seen_msgs++;
    else {
        seen_errs++;
        last_err_offset = err->offset;
        last_err_code = err->code;
    }
}

static void test_driver_small_buffer(void **st)
{
    struct ms_limits lim;
    struct toy_state ts;
    struct toy_view tv;
    char buf[4];
    struct ms_stream s;
    (void)st;
    ms_limits_default(&lim);
    seen_msgs = seen_errs = 0;
    ms_stream_init(&s, &toy, &lim, &ts, &tv, buf, sizeof(buf), count_emit, NULL);
    /* fed byte by byte, "abcdef" cannot be buffered in 4 bytes */
    const char *in = "abcdef\r\nok\r\n";
    for (size_t i = 0; i < strlen(in); i++)
        ms_stream_feed(&s, in + i, 1);
    assert_int_equal(ms_stream_end(&s), 0);
    assert_int_equal(seen_errs, 1);
    assert_int_equal(last_err_offset, 4);
    assert_int_equal(last_err_code, MS_ERR_LIMIT); /* the stream buffer */
    assert_int_equal(seen_msgs, 1);
    /* the same in one chunk larger than the buffer */
    seen_msgs = seen_errs = 0;
    ms_stream_init(&s, &toy, &lim, &ts, &tv, buf, sizeof(buf), count_emit, NULL);
    ms_stream_feed(&s, "ok\r\nabcdef", 10);
    ms_stream_feed(&s, "\r\nok\r\n", 6);
    assert_int_equal(ms_stream_end(&s), 0);
    assert_int_equal(seen_msgs, 2);
    assert_int_equal(seen_errs, 1);
    assert_int_equal(last_err_code, MS_ERR_LIMIT);
    /* a 4-byte message fits the 4-byte buffer: no error */
    seen_msgs = seen_errs = 0;
    ms_stream_init(&s, &toy, &lim, &ts, &tv, buf, sizeof(buf), count_emit, NULL);
    for (size_t i = 0; i < 8; i++)
        ms_stream_feed(&s, &"ab\r\ncd\r\n"[i], 1);
    assert_int_equal(ms_stream_end(&s), 0);
    assert_int_equal(seen_msgs, 2);
    assert_int_equal(seen_errs, 0);
}

/* Error codes: the names, the cursor helpers, the line finder, the driver. */
static void test_error_codes(void **st)
{
    struct ms_error err = {0};
    struct ms_cursor c;
    struct ms_slice s;
    uint64_t v;
    size_t tl;
    int bare;
    (void)st;

    assert_int_equal(MS_ERR_NONE, 0);
    assert_string_equal(ms_error_code_name(MS_ERR_NONE), "none");
    assert_string_equal(ms_error_code_name(MS_ERR_SYNTAX), "syntax");
    assert_string_equal(ms_error_code_name(MS_ERR_LIMIT), "limit");
    assert_string_equal(ms_error_code_name(MS_ERR_TRUNCATED), "truncated");
    assert_string_equal(ms_error_code_name(MS_ERR_STATE), "state");
    assert_string_equal(ms_error_code_name((enum ms_errcode)99), "unknown");

    /* every cursor helper sets the code, overwriting an earlier one */
    const char *in = ms_guarded("abcd 12", 7);
    ms_cursor_init(&c, in, 7, &err, "test");
    err.code = MS_ERR_LIMIT;
    assert_int_equal(ms_cursor_expect(&c, 'x', "r", "x"), MS_FAIL);
    assert_int_equal(err.code, MS_ERR_SYNTAX);
    assert_int_equal(ms_fail_limit(&c, "r", "x"), MS_FAIL);
    assert_int_equal(err.code, MS_ERR_LIMIT);
    assert_int_equal(ms_fail(&c, "r", "x"), MS_FAIL);
    assert_int_equal(err.code, MS_ERR_SYNTAX);
    assert_int_equal(ms_fail_limit_at(&c, 3, "r", "x"), MS_FAIL);
    assert_int_equal(err.code, MS_ERR_LIMIT);
    assert_int_equal(err.offset, 3);
    assert_int_equal(ms_fail_at(&c, 2, "r", "x"), MS_FAIL);
    assert_int_equal(err.code, MS_ERR_SYNTAX);
    assert_int_equal(ms_fail_code_at(&c, 1, MS_ERR_STATE, "r", "x"), MS_FAIL);
    assert_int_equal(err.code, MS_ERR_STATE);
    assert_int_equal(err.offset, 1);
    assert_int_equal(ms_cursor_expect_ci(&c, "x", "r", "x"), MS_FAIL);
    assert_int_equal(err.code, MS_ERR_SYNTAX);
    /* a token over its (RFC) maximum and a number out of range are syntax */
    err.code = MS_ERR_NONE;
    assert_int_equal(ms_cursor_token(&c, MS_C_ALPHA, 3, &s, "r", "alpha"), MS_FAIL);
    assert_int_equal(err.code, MS_ERR_SYNTAX);
    c.pos = 5;
    err.code = MS_ERR_NONE;
    assert_int_equal(ms_cursor_number(&c, 2, 11, &v, "r"), MS_FAIL);
    assert_int_equal(err.code, MS_ERR_SYNTAX);
    /* no err: nothing is written, still MS_FAIL */
    ms_cursor_init(&c, in, 7, NULL, "test");
    assert_int_equal(ms_fail_limit(&c, "r", "x"), MS_FAIL);
    /* ms_error_set fills every field */
    assert_int_equal(ms_error_set(&err, 7, MS_ERR_TRUNCATED, "r", "why", 9), MS_FAIL);
    assert_int_equal(err.offset, 7);
    assert_int_equal(err.code, MS_ERR_TRUNCATED);
    assert_string_equal(err.rule, "r");
    assert_string_equal(err.reason, "why");
    assert_int_equal(err.skip, 9);

    /* lines: at the limit fine, one over it a limit; bare LF and CR syntax */
    assert_int_equal(ms_line_find(ms_guarded("abc\r\n", 5), 5, 5, 0, &tl, &bare, &err, "r"), 5);
    assert_int_equal(ms_line_find(ms_guarded("abcd\r\n", 6), 6, 5, 0, &tl, &bare, &err, "r"),
                     MS_FAIL);
    assert_int_equal(err.code, MS_ERR_LIMIT);
    assert_int_equal(ms_line_find(ms_guarded("ab\ncd", 5), 5, 10, 0, &tl, &bare, &err, "r"),
                     MS_FAIL);
    assert_int_equal(err.code, MS_ERR_SYNTAX);
    err.code = MS_ERR_LIMIT;
    assert_int_equal(ms_line_find(ms_guarded("a\rb\r\n", 5), 5, 10, 0, &tl, &bare, &err, "r"),
                     MS_FAIL);
    assert_int_equal(err.code, MS_ERR_SYNTAX);

    /* the driver (toy lines are at most 8 bytes) */
    assert_string_equal(ms_check_codes_str(&toy, 0, "123456\r\nok\r\n"), "");
    assert_string_equal(ms_check_codes_str(&toy, 0, "1234567\r\nok\r\n"), "limit");
    assert_string_equal(ms_check_codes_str(&toy, 0, "!x\r\n1234567\r\nab\ncd"),
                        "syntax limit syntax truncated");
    assert_string_equal(ms_check_codes_str(&toy, 0, "<a\r\n"), "truncated");
    assert_string_equal(ms_check_codes_str(&toy, MS_LENIENT_BARE_LF, "ab\ncd\r\n"), "");
}

static void test_quirks(void **st)
{
    struct ms_quirks qs = {0};
    char buf[4096];
    struct ms_out o;
    (void)st;
    for (int i = 0; i < MS_QUIRKS_MAX + 3; i++)
        ms_quirk_add(&qs, (size_t)i, "RFC x", "why");
    assert_int_equal(qs.n, MS_QUIRKS_MAX);
    assert_int_equal(qs.dropped, 3);
    ms_out_init(&o, buf, sizeof(buf));
    ms_out_json_quirks(&o, &qs);
    buf[o.len] = '\0';
    ms_assert_has(buf, ",\"quirks\":[{\"offset\":0,\"rule\":\"RFC x\",\"reason\":\"why\"}");
    ms_assert_has(buf, "\"quirks_dropped\":3");
    /* no quirks: nothing printed */
    struct ms_quirks none = {0};
    ms_out_init(&o, buf, sizeof(buf));
    ms_out_json_quirks(&o, &none);
    assert_int_equal(o.len, 0);
}

/* A toy protocol whose replies count the commands seen (session hooks). */
static int commands_seen;
static void toy_command_seen(void *reply_state, const void *command_view)
{
    (void)reply_state;
    assert_non_null(command_view);
    commands_seen++;
}

static const struct ms_proto toy_proto = {"toy", &toy, &toy, toy_command_seen, NULL};

static void test_session(void **st)
{
    struct ms_limits lim;
    (void)st;
    ms_limits_default(&lim);
    commands_seen = 0;
    const char *r =
        ms_check_session(&toy_proto, &lim, "@test t\nS: hi\nC: a\nS: <x\nS: >\nC: !\nC: b\n");
    assert_string_equal(r, "S 0+4 {\"line\":\"hi\",\"pieces\":0}\n"
                           "C 0+3 {\"line\":\"a\",\"pieces\":0}\n"
                           "S 4+7 {\"line\":\">\",\"pieces\":2}\n"
                           "C 3 ERR 3 toy: bang\n"
                           "C 6+3 {\"line\":\"b\",\"pieces\":0}\n");
    /* the hook saw the two valid commands, not the error */
    assert_int_equal(commands_seen, 2);
}

/*
 * A stream or session without an emit callback still counts messages and
 * errors (callers that only want the totals pass NULL), and ms_session_end
 * reports input ending inside a message on either side.
 */
static void test_stream_no_emit(void **st)
{
    struct ms_limits lim;
    struct toy_state ts;
    struct toy_view tv;
    char buf[64];
    struct ms_stream s;
    (void)st;
    ms_limits_default(&lim);
    ms_stream_init(&s, &toy, &lim, &ts, &tv, buf, sizeof(buf), NULL, NULL);
    ms_stream_feed(&s, "ok\r\n!x\r\n<a\r\n>\r\nab", 17);
    assert_int_equal(s.messages, 2);
    assert_int_equal(s.errors, 1);
    assert_int_equal(ms_stream_end(&s), 1); /* "ab" has no CRLF */
    assert_int_equal(s.errors, 2);
    assert_int_equal(s.offset, 17);
}

static void test_session_end_inside(void **st)
{
    struct ms_limits lim;
    struct toy_state cst, sst;
    struct toy_view cv, sv;
    char cbuf[64], sbuf[64];
    struct ms_session ss;
    (void)st;
    ms_limits_default(&lim);
    for (int side = 0; side < 3; side++) {
        commands_seen = 0;
        ms_session_init(&ss, &toy_proto, &lim, &cst, &cv, cbuf, sizeof(cbuf), &sst, &sv, sbuf,
                        sizeof(sbuf), NULL, NULL);
        ms_session_feed(&ss, 1, 1, "hi\r\n", 4);
        ms_session_feed(&ss, 0, 2, "a\r\n", 3);
        if (side == 1)
            ms_session_feed(&ss, 0, 3, "b", 1); /* client ends inside a command */
        if (side == 2)
            ms_session_feed(&ss, 1, 3, "<x\r\n", 4); /* server inside a streamed reply */
        assert_int_equal(ms_session_end(&ss), side != 0);
        assert_int_equal(commands_seen, 1);
        assert_int_equal(ss.c.messages + ss.s.messages, 2);
        assert_int_equal(ss.c.errors, side == 1);
        assert_int_equal(ss.s.errors, side == 2);
    }
}

static void test_limits(void **st)
{
    struct ms_limits lim;
    uint64_t v;
    (void)st;
    ms_limits_default(&lim);
    assert_int_equal(lim.smtp_command_line, 512);
    assert_int_equal(lim.pop3_command_line, 255);
    assert_int_equal(ms_limits_set(&lim, "smtp_command_line", 1000), MS_OK);
    assert_int_equal(lim.smtp_command_line, 1000);
    assert_int_equal(ms_limits_set(&lim, "imap_literal", 1ull << 32), MS_FAIL);
    assert_int_equal(ms_limits_set(&lim, "imap_literal", 100), MS_OK);
    assert_int_equal(ms_limits_get(&lim, "imap_literal", &v), MS_OK);
    assert_true(v == 100);
    assert_int_equal(ms_limits_set(&lim, "nope", 1), MS_FAIL);
    assert_int_equal(ms_limits_set(&lim, "imap_depth", 0), MS_FAIL);
    assert_int_equal(ms_lenient_flag("bare-lf"), MS_LENIENT_BARE_LF);
    assert_int_equal(ms_lenient_flag("nope"), 0);
}

static void test_registry(void **st)
{
    (void)st;
    const char *names[] = {"smtp", "pop3", "imap"};
    for (size_t i = 0; i < 3; i++) {
        const struct ms_proto *p = ms_proto_find(names[i]);
        assert_non_null(p);
        assert_string_equal(p->name, names[i]);
        assert_string_equal(p->commands->name, "commands");
        assert_string_equal(p->replies->name, "replies");
        assert_string_equal(p->commands->proto, names[i]);
    }
    assert_null(ms_proto_find("gopher"));
    assert_null(ms_proto_find("SMTP")); /* names are exact */
    size_t n = 0;
    for (const struct ms_proto *const *p = ms_protos(); *p; p++)
        n++;
    assert_int_equal(n, 3);
}

static void test_ctype(void **st)
{
    (void)st;
    /* RFC 9051: tag excludes "+", ASTRING-CHAR includes "]", ATOM-CHAR excludes it */
    assert_false(ms_is('+', MS_C_IMAP_TAG));
    assert_true(ms_is('+', MS_C_IMAP_ATOM));
    assert_true(ms_is(']', MS_C_IMAP_ASTRING));
    assert_false(ms_is(']', MS_C_IMAP_ATOM));
    assert_true(ms_is('%', MS_C_IMAP_LIST));
    assert_false(ms_is('{', MS_C_IMAP_ATOM));
    /* RFC 5321: qtextSMTP excludes DQUOTE and backslash */
    assert_false(ms_is('"', MS_C_SMTP_QTEXT));
    assert_false(ms_is('\\', MS_C_SMTP_QTEXT));
    assert_true(ms_is(' ', MS_C_SMTP_QTEXT));
    /* RFC 3461 xchar excludes "+" and "=" */
    assert_false(ms_is('+', MS_C_XCHAR));
    assert_false(ms_is('=', MS_C_XCHAR));
    assert_false(ms_is('=', MS_C_ESMTP_VALUE));
    assert_true(ms_is('+', MS_C_ESMTP_VALUE));
    assert_false(ms_is(0, MS_C_TEXT));
    assert_true(ms_is(0x80, MS_C_TEXT));
    assert_false(ms_is(0x80, MS_C_IMAP_TEXT));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_number),
        cmocka_unit_test(test_cursor),
        cmocka_unit_test(test_line_find),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_transcript),
        cmocka_unit_test(test_driver),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_ctype),
        cmocka_unit_test(test_driver_small_buffer),
        cmocka_unit_test(test_error_codes),
        cmocka_unit_test(test_quirks),
        cmocka_unit_test(test_session),
        cmocka_unit_test(test_stream_no_emit),
        cmocka_unit_test(test_session_end_inside),
        cmocka_unit_test(test_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
