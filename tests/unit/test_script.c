/* Unit tests of the session-script parser and matcher (parsers/common/script.c). */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mailspec/script.h"

static struct ms_script *parse_ok(const char *text)
{
    struct ms_script_error err;
    struct ms_script *s = ms_script_parse(text, strlen(text), &err);
    if (!s)
        fail_msg("unexpected script error %zu:%zu: %s", err.line, err.col, err.reason);
    return s;
}

/* Parse must fail at line:col with a reason containing needle. */
static void parse_bad(const char *text, size_t line, size_t col, const char *needle)
{
    struct ms_script_error err;
    struct ms_script *s = ms_script_parse(text, strlen(text), &err);
    if (s) {
        ms_script_free(s);
        fail_msg("script parsed but must fail: %s", text);
    }
    assert_non_null(err.reason);
    if (err.line != line || err.col != col)
        fail_msg("error at %zu:%zu (%s), expected %zu:%zu", err.line, err.col, err.reason, line,
                 col);
    ms_assert_has(err.reason, needle);
}

static void test_metadata_and_steps(void **st)
{
    (void)st;
    struct ms_script *s = parse_ok("# comment\n"
                                   "@test imap.starttls.injection\n"
                                   "@title Plaintext pipelined after STARTTLS is discarded\n"
                                   "@rfc 9051 6.2.1\n"
                                   "@level SHOULD\n"
                                   "@transport starttls, none\n"
                                   "@protocol imap\n"
                                   "@quirk bare-lf\n"
                                   "\n"
                                   "S: * OK ${*}\r\n"
                                   "@segment\n"
                                   "C: a1 STARTTLS\n"
                                   "C: a2 NOOP\n"
                                   "@end\n"
                                   "S: a1 OK ${*}\n"
                                   "@tls\n"
                                   "@sleep 250\n"
                                   "@requires IMAP4rev1\n"
                                   "C: a3 LOGIN ${user} ${password}\n"
                                   "@close\n");
    assert_string_equal(s->id, "imap.starttls.injection");
    assert_string_equal(s->title, "Plaintext pipelined after STARTTLS is discarded");
    assert_string_equal(s->rfc, "9051 6.2.1");
    assert_string_equal(s->protocol, "imap");
    assert_int_equal(s->level, MS_LEVEL_SHOULD);
    assert_int_equal(s->transports, MS_TRANSPORT_STARTTLS | MS_TRANSPORT_NONE);
    assert_true(s->lenient & MS_LENIENT_BARE_LF);
    assert_int_equal(s->has_tls, 1);
    static const uint8_t want[] = {MS_STEP_EXPECT,   MS_STEP_SEGMENT, MS_STEP_SEND, MS_STEP_SEND,
                                   MS_STEP_END,      MS_STEP_EXPECT,  MS_STEP_TLS,  MS_STEP_SLEEP,
                                   MS_STEP_REQUIRES, MS_STEP_SEND,    MS_STEP_CLOSE};
    assert_int_equal(s->nsteps, sizeof(want));
    for (size_t i = 0; i < sizeof(want); i++)
        assert_int_equal(s->steps[i].type, want[i]);
    assert_int_equal(s->steps[0].line, 10);
    assert_int_equal(s->steps[7].arg, 250);

    struct ms_vars vs;
    char out[256];
    ms_vars_init(&vs);
    /* user/password unset: the C: line cannot be rendered */
    assert_int_equal(ms_script_render(s, &s->steps[9], &vs, out, sizeof(out)), MS_FAIL);
    assert_int_equal(ms_vars_set(&vs, MS_VAR_USER, "alice", 5), MS_OK);
    assert_int_equal(ms_vars_set(&vs, MS_VAR_PASSWORD, "s3cret", 6), MS_OK);
    ssize_t n = ms_script_render(s, &s->steps[9], &vs, out, sizeof(out));
    assert_int_equal(n, 23);
    assert_memory_equal(out, "a3 LOGIN alice s3cret\r\n", 23);
    /* too small an output buffer is an error, not a cut */
    assert_int_equal(ms_script_render(s, &s->steps[9], &vs, out, 22), MS_FAIL);
    ms_script_free(s);
}

static void test_defaults(void **st)
{
    (void)st;
    struct ms_script *s = parse_ok("S: +OK\nC: QUIT");
    assert_string_equal(s->id, "");
    assert_string_equal(s->protocol, "");
    assert_int_equal(s->level, MS_LEVEL_MUST);
    assert_int_equal(s->transports, 0);
    assert_int_equal(s->nsteps, 2);
    assert_string_equal(ms_level_name(s->level), "MUST");
    ms_script_free(s);
}

static void test_errors(void **st)
{
    (void)st;
    parse_bad("S: ok\nX: bad\n", 2, 1, "expected \"C: \"");
    parse_bad("S:ok\n", 1, 3, "one space");
    parse_bad("C: a \\q\n", 1, 6, "unknown escape");
    parse_bad("C: a \\x4\n", 1, 6, "two hex digits");
    parse_bad("C: a \\", 1, 6, "backslash at the end");
    parse_bad("@frobnicate\n", 1, 2, "unknown directive");
    parse_bad("@tls now\n", 1, 6, "no argument");
    parse_bad("@sleep\n", 1, 7, "needs an argument");
    parse_bad("@sleep 60001\n", 1, 8, "0 to 60000");
    parse_bad("@sleep -1\n", 1, 8, "0 to 60000");
    parse_bad("@level must\nS: x\n", 1, 8, "MUST, SHOULD, MAY or info");
    parse_bad("@transport tcp\nS: x\n", 1, 12, "none, starttls");
    parse_bad("@quirk nonsense\nS: x\n", 1, 8, "lenient flag");
    parse_bad("@test a\n@test b\nS: x\n", 2, 1, "twice");
    parse_bad("@test a b\nS: x\n", 1, 8, "one word");
    parse_bad("@protocol http\nS: x\n", 1, 11, "smtp, pop3 or imap");
    parse_bad("C: LOGIN ${who}\n", 1, 10, "not set here");
    parse_bad("C: x ${*}\n", 1, 6, "cannot send");
    parse_bad("S: x ${a\n", 1, 6, "without a closing");
    parse_bad("S: x ${}\n", 1, 8, "1 to 32");
    parse_bad("S: x ${a b}\n", 1, 9, "letters, digits");
    parse_bad("S: ${a} ${a}\n", 1, 9, "captured twice");
    parse_bad("@allow * ${v}\nS: x\n", 1, 10, "cannot capture");
    parse_bad("@segment\nS: x\n@end\n", 2, 1, "only C: lines");
    parse_bad("@unordered\nC: x\n@end\n", 2, 1, "only S: lines");
    parse_bad("@segment\nC: x\n", 1, 1, "not closed");
    parse_bad("S: x\n@end\n", 2, 1, "@end without");
    parse_bad("@segment\n@tls\n@end\n", 2, 1, "before @end");
    parse_bad("S: x\n@tls\n@tls\n", 3, 1, "twice in one connection");
    parse_bad("# only a comment\n", 1, 1, "no C:, S:");
    parse_bad("", 1, 1, "no C:, S:");
    parse_bad("@requires A B\nS: x\n", 1, 12, "one capability word");
    parse_bad("S: x\n@ tls\n", 2, 2, "directive name");
    /* @tls may come again after @connection */
    struct ms_script *s = parse_ok("S: x\n@tls\n@connection\nS: y\n@tls\n");
    assert_int_equal(s->nsteps, 5);
    ms_script_free(s);
    /* the SASL forms of the credentials are builtins too */
    s = parse_ok("C: a AUTHENTICATE PLAIN ${sasl_plain}\nC: ${sasl_user}\nC: ${sasl_password}\n"
                 "C: ${sasl_plain_authz}\n");
    assert_int_equal(s->parts[s->steps[0].part0 + 1].var, MS_VAR_SASL_PLAIN);
    ms_script_free(s);
    /* ${sasl_redacted} says why it cannot be replayed */
    parse_bad("C: ${sasl_redacted}\n", 1, 4, "cannot be replayed");
    parse_bad("C: ${sasl_redacted}\n", 1, 4, "PLAIN/LOGIN");
    parse_bad("C: ${sasl_redacted}\n", 1, 4, "by hand");
    /* as does any other unknown variable */
    parse_bad("C: ${apop_secret}\n", 1, 4, "not set here");
    /* APOP's digest is a builtin (derived from the greeting) */
    s = parse_ok("S: +OK ${*}\nC: APOP ${user} ${apop_digest}\n");
    assert_int_equal(s->parts[s->steps[1].part0 + 3].var, MS_VAR_APOP_DIGEST);
    assert_string_equal(ms_script_builtin_vars[MS_VAR_APOP_DIGEST], "apop_digest");
    ms_script_free(s);
    /* a captured variable may be sent later */
    s = parse_ok("S: * OK [UIDVALIDITY ${uv}] x\nC: a SELECT ${uv}\n");
    ms_script_free(s);
}

static int match(struct ms_script *s, size_t step, struct ms_vars *vs, const char *line)
{
    return ms_script_match(s, &s->steps[step], vs, line, strlen(line), 0);
}

static void test_match(void **st)
{
    (void)st;
    struct ms_vars vs;
    struct ms_script *s = parse_ok("S: * OK ${*}\n"                     /* 0 */
                                   "S: * OK [UIDVALIDITY ${uv}] ${*}\n" /* 1 */
                                   "S: a1 OK [UIDVALIDITY ${uv}]\n"     /* 2 */
                                   "S: ${a}-${b}\n"                     /* 3 */
                                   "S: exact \\x41\\t\n"                /* 4 */
                                   "S: ${*}x${*}y\n"                    /* 5 */
                                   "S: \n"                              /* 6 */
                                   "S: \\x24{user} ${user}\n");         /* 7 */
    ms_vars_init(&vs);
    assert_int_equal(match(s, 0, &vs, "* OK Dovecot ready."), 1);
    assert_int_equal(match(s, 0, &vs, "* OK"), 0); /* the space is literal */
    assert_int_equal(match(s, 0, &vs, "* OK "), 1);
    assert_int_equal(match(s, 0, &vs, "* NO x"), 0);
    assert_int_equal(match(s, 0, &vs, "* OK x "), 1);

    assert_int_equal(match(s, 1, &vs, "* OK [UIDVALIDITY 1234] UIDs valid"), 1);
    assert_true(vs.v[s->steps[1].nparts ? s->parts[s->steps[1].part0 + 1].var : 0].bound);
    /* later use compares */
    assert_int_equal(match(s, 2, &vs, "a1 OK [UIDVALIDITY 999]"), 0);
    assert_int_equal(match(s, 2, &vs, "a1 OK [UIDVALIDITY 1234]"), 1);

    /* leftmost-shortest captures */
    assert_int_equal(match(s, 3, &vs, "x-y-z"), 1);
    size_t va = s->parts[s->steps[3].part0].var, vb = s->parts[s->steps[3].part0 + 2].var;
    assert_int_equal(vs.v[va].len, 1);
    assert_memory_equal(vs.buf + vs.v[va].off, "x", 1);
    assert_int_equal(vs.v[vb].len, 3);
    assert_memory_equal(vs.buf + vs.v[vb].off, "y-z", 3);

    assert_int_equal(match(s, 4, &vs, "exact A\t"), 1);
    assert_int_equal(match(s, 4, &vs, "exact A\t "), 0);
    assert_int_equal(match(s, 4, &vs, "exact A"), 0);

    assert_int_equal(match(s, 5, &vs, "aaxbbxccy"), 1);
    assert_int_equal(match(s, 5, &vs, "aaxbbxccyz"), 0);
    assert_int_equal(match(s, 5, &vs, "y"), 0);

    assert_int_equal(match(s, 6, &vs, ""), 1);
    assert_int_equal(match(s, 6, &vs, " "), 0);

    /* ${user} is a builtin: compared when set */
    assert_int_equal(ms_vars_set(&vs, MS_VAR_USER, "bob", 3), MS_OK);
    assert_int_equal(match(s, 7, &vs, "${user} bob"), 1);
    assert_int_equal(match(s, 7, &vs, "${user} alice"), 0);

    /* pattern text round-trips the escapes */
    char buf[128];
    struct ms_out o;
    ms_out_init(&o, buf, sizeof(buf));
    ms_script_pattern_text(s, &s->steps[4], &o);
    ms_out_bytes(&o, "", 1);
    assert_string_equal(buf, "exact A\\t");
    ms_out_init(&o, buf, sizeof(buf));
    ms_script_pattern_text(s, &s->steps[7], &o);
    ms_out_bytes(&o, "", 1);
    assert_string_equal(buf, "\\x24{user} ${user}");
    ms_script_free(s);
}

static void test_match_capture_space(void **st)
{
    (void)st;
    struct ms_vars vs;
    struct ms_script *s = parse_ok("S: ${v}\n");
    char big[MS_SCRIPT_VAR_BYTES + 1];
    memset(big, 'x', sizeof(big));
    ms_vars_init(&vs);
    /* a capture that does not fit is an error, not a silent cut */
    assert_int_equal(ms_script_match(s, &s->steps[0], &vs, big, sizeof(big), 0), MS_FAIL);
    ms_vars_init(&vs);
    assert_int_equal(ms_script_match(s, &s->steps[0], &vs, big, sizeof(big) - 1, 0), 1);
    ms_script_free(s);
}

/* Long lines, many steps: linear behaviour and hard bounds. */
static void test_bounds(void **st)
{
    (void)st;
    struct ms_script_error err;
    size_t n = (MS_SCRIPT_MAX_STEPS + 1) * 5;
    char *text = malloc(n + 1);
    assert_non_null(text);
    for (size_t i = 0; i < MS_SCRIPT_MAX_STEPS + 1; i++)
        memcpy(text + i * 5, "S: x\n", 5);
    struct ms_script *s = ms_script_parse(text, n, &err);
    assert_null(s);
    ms_assert_has(err.reason, "too many steps");
    assert_int_equal(err.line, MS_SCRIPT_MAX_STEPS + 1);
    s = ms_script_parse(text, n - 5, &err);
    assert_non_null(s);
    assert_int_equal(s->nsteps, MS_SCRIPT_MAX_STEPS);
    ms_script_free(s);
    free(text);

    char line[3 + 3 * (MS_SCRIPT_MAX_PARTS + 1) + 2];
    size_t o = 0;
    memcpy(line, "S: ", 3);
    o = 3;
    for (size_t i = 0; i < (MS_SCRIPT_MAX_PARTS + 1) / 2 + 1; i++) {
        memcpy(line + o, "a${*}", 5);
        o += 5;
        if (o + 5 >= sizeof(line))
            break;
    }
    s = ms_script_parse(line, o, &err);
    assert_null(s);
    ms_assert_has(err.reason, "too many literal");
    /* a script that is not NUL-terminated is read within its length */
    const char *g = ms_guarded("S: abc", 6);
    s = ms_script_parse(g, 6, &err);
    assert_non_null(s);
    ms_script_free(s);
}

/* @nocrlf: the next C:/S: line has no CRLF. */
static void test_nocrlf(void **st)
{
    (void)st;
    struct ms_vars vs;
    char out[64];
    struct ms_script *s = parse_ok("S: +OK hi\n"
                                   "@nocrlf\n"
                                   "# comments and blank lines may come between\n"
                                   "\n"
                                   "C: NOO\n"
                                   "C: NOOP\n"
                                   "@segment\n"
                                   "C: a\n"
                                   "@nocrlf\n"
                                   "C: b ${user}\n"
                                   "@end\n"
                                   "@nocrlf\n"
                                   "S: +OK part\n"
                                   "S: ial\n"
                                   "@nocrlf\n"
                                   "S:\n");
    /* a flag on the line, not a step of its own */
    assert_int_equal(s->nsteps, 10);
    static const uint8_t want_nocrlf[] = {0, 1, 0, 0, 0, 1, 0, 1, 0, 1};
    static const uint8_t want_type[] = {
        MS_STEP_EXPECT, MS_STEP_SEND, MS_STEP_SEND,   MS_STEP_SEGMENT, MS_STEP_SEND,
        MS_STEP_SEND,   MS_STEP_END,  MS_STEP_EXPECT, MS_STEP_EXPECT,  MS_STEP_EXPECT};
    for (size_t i = 0; i < s->nsteps; i++) {
        assert_int_equal(s->steps[i].type, want_type[i]);
        assert_int_equal(s->steps[i].nocrlf, want_nocrlf[i]);
    }
    ms_vars_init(&vs);
    assert_int_equal(ms_vars_set(&vs, MS_VAR_USER, "al", 2), MS_OK);
    /* rendered without CRLF, exactly its bytes; the next line has its CRLF */
    assert_int_equal(ms_script_render(s, &s->steps[1], &vs, out, sizeof(out)), 3);
    assert_memory_equal(out, "NOO", 3);
    assert_int_equal(ms_script_render(s, &s->steps[2], &vs, out, sizeof(out)), 6);
    assert_memory_equal(out, "NOOP\r\n", 6);
    assert_int_equal(ms_script_render(s, &s->steps[5], &vs, out, sizeof(out)), 4);
    assert_memory_equal(out, "b al", 4);
    /* no room needed for the CRLF it does not have */
    assert_int_equal(ms_script_render(s, &s->steps[1], &vs, out, 3), 3);
    assert_int_equal(ms_script_render(s, &s->steps[2], &vs, out, 5), MS_FAIL);
    /* matching is the same: the runner decides which bytes form the line */
    assert_int_equal(ms_script_match(s, &s->steps[7], &vs, "+OK part", 8, 0), 1);
    ms_script_free(s);

    parse_bad("@nocrlf\n", 1, 1, "followed by a C: or S: line");
    parse_bad("S: x\n@nocrlf\n# the end\n", 2, 1, "followed by a C: or S: line");
    parse_bad("@nocrlf\n@tls\nS: x\n", 1, 1, "followed by a C: or S: line");
    parse_bad("@nocrlf\n@nocrlf\nS: x\n", 1, 1, "followed by a C: or S: line");
    parse_bad("@nocrlf\n@test x\nS: x\n", 1, 1, "followed by a C: or S: line");
    parse_bad("@nocrlf yes\nS: x\n", 1, 9, "no argument");
    parse_bad("@unordered\n@nocrlf\nS: x\n@end\n", 2, 1, "@unordered");
    parse_bad("@segment\nC: x\n@nocrlf\n@end\n", 3, 1, "followed by a C: or S: line");
    /* CRLF line ends in the file read the same */
    s = parse_ok("@nocrlf\r\nC: x\r\n");
    assert_int_equal(s->steps[0].nocrlf, 1);
    ms_script_free(s);
}

/* The one escaper: ASCII-only by default, valid UTF-8 kept with MS_ESCAPE_UTF8. */
static void test_escape(void **st)
{
    (void)st;
    char buf[128];
    struct ms_out o;
    static const char in[] = "a\\b\r\n\t${x} caf\xc3\xa9 \xc3(\x7f\x01";
    ms_out_init(&o, buf, sizeof(buf));
    ms_script_escape(&o, in, sizeof(in) - 1);
    assert_false(o.overflow);
    assert_memory_equal(o.buf, "a\\\\b\\r\\n\\t\\x24{x} caf\\xc3\\xa9 \\xc3(\\x7f\\x01", o.len);
    ms_out_init(&o, buf, sizeof(buf));
    ms_script_escape_opt(&o, in, sizeof(in) - 1, MS_ESCAPE_UTF8);
    assert_memory_equal(o.buf, "a\\\\b\\r\\n\\t\\x24{x} caf\xc3\xa9 \\xc3(\\x7f\\x01", o.len);
    /* what it writes parses back to the same bytes */
    char line[160] = "C: ";
    memcpy(line + 3, o.buf, o.len);
    struct ms_script_error err;
    struct ms_script *s = ms_script_parse(line, 3 + o.len, &err);
    assert_non_null(s);
    assert_int_equal(s->steps[0].nparts, 1);
    assert_int_equal(s->parts[s->steps[0].part0].len, sizeof(in) - 1);
    assert_memory_equal(s->bytes + s->parts[s->steps[0].part0].off, in, sizeof(in) - 1);
    ms_script_free(s);
}

static int match_f(struct ms_script *s, size_t step, struct ms_vars *vs, const char *text, size_t n,
                   unsigned flags)
{
    return ms_script_match(s, &s->steps[step], vs, text, n, flags);
}
#define MATCH(s, i, vs, lit, flags) match_f((s), (i), (vs), (lit), sizeof(lit) - 1, (flags))

/* ${mbox:name}: one mailbox, any of its encodings, compared decoded (RFC 9051 4.3, 5.1). */
static void test_match_mbox(void **st)
{
    (void)st;
    struct ms_vars vs;
    struct ms_script *s =
        parse_ok("S: * LIST () \".\" ${mbox:box}\nS: * STATUS ${mbox:box} (MESSAGES 1)\n"
                 "C: a SELECT ${mbox:box}\nS: * LIST () \".\" ${mbox:inbox}\n");
    static const char *const forms[] = {
        "* STATUS INBOX.x (MESSAGES 1)",         /* atom */
        "* STATUS \"INBOX.x\" (MESSAGES 1)",     /* quoted */
        "* STATUS {7}\r\nINBOX.x (MESSAGES 1)",  /* literal */
        "* STATUS {7+}\r\nINBOX.x (MESSAGES 1)", /* non-synchronizing literal */
    };
    char out[64];

    /* captured decoded from each encoding, then compared in every other one */
    static const char *const first[] = {"* LIST () \".\" INBOX.x", "* LIST () \".\" \"INBOX.x\"",
                                        "* LIST () \".\" {7}\r\nINBOX.x"};
    for (size_t k = 0; k < 3; k++) {
        ms_vars_init(&vs);
        assert_int_equal(match_f(s, 0, &vs, first[k], strlen(first[k]), MS_MATCH_NOCASE), 1);
        int v = s->parts[s->steps[0].part0 + 1].var;
        assert_int_equal(vs.v[v].len, 7);
        assert_memory_equal(vs.buf + vs.v[v].off, "INBOX.x", 7);
        for (size_t f = 0; f < 4; f++)
            assert_int_equal(match_f(s, 1, &vs, forms[f], strlen(forms[f]), MS_MATCH_NOCASE), 1);
        /* a deliberately wrong mailbox still fails, in every encoding */
        assert_int_equal(MATCH(s, 1, &vs, "* STATUS INBOX.y (MESSAGES 1)", 0), 0);
        assert_int_equal(MATCH(s, 1, &vs, "* STATUS \"INBOX.xy\" (MESSAGES 1)", 0), 0);
        assert_int_equal(MATCH(s, 1, &vs, "* STATUS {7}\r\nINBOX.y (MESSAGES 1)", 0), 0);
        /* a literal whose count does not fit is no mailbox */
        assert_int_equal(MATCH(s, 1, &vs, "* STATUS {9}\r\nINBOX.x (MESSAGES 1)", 0), 0);
        /* sent as an atom when it is one */
        assert_int_equal(ms_script_render(s, &s->steps[2], &vs, out, sizeof(out)), 18);
        assert_memory_equal(out, "a SELECT INBOX.x\r\n", 18);
    }
    /* quoted escapes decode; a name with SP is sent quoted, escapes and all */
    ms_vars_init(&vs);
    assert_int_equal(MATCH(s, 0, &vs, "* LIST () \".\" \"a \\\"b\\\\\"", 0), 1);
    assert_int_equal(ms_script_render(s, &s->steps[2], &vs, out, sizeof(out)), 20);
    assert_memory_equal(out, "a SELECT \"a \\\"b\\\\\"\r\n", 20);
    assert_int_equal(MATCH(s, 1, &vs, "* STATUS {5}\r\na \"b\\ (MESSAGES 1)", 0), 1);
    assert_int_equal(MATCH(s, 1, &vs, "* STATUS \"a \\\"b\\\\\\\\\" (MESSAGES 1)", 0), 0);
    /* INBOX is case-insensitive, other names are not */
    ms_vars_init(&vs);
    assert_int_equal(ms_vars_set(&vs, (size_t)s->parts[s->steps[3].part0 + 1].var, "INBOX", 5),
                     MS_OK);
    assert_int_equal(MATCH(s, 3, &vs, "* LIST () \".\" inbox", 0), 1);
    assert_int_equal(MATCH(s, 3, &vs, "* LIST () \".\" \"InBox\"", 0), 1);
    assert_int_equal(MATCH(s, 3, &vs, "* LIST () \".\" INBOXES", 0), 0);
    ms_vars_init(&vs);
    assert_int_equal(MATCH(s, 0, &vs, "* LIST () \".\" Box", 0), 1);
    assert_int_equal(MATCH(s, 1, &vs, "* STATUS box (MESSAGES 1)", 0), 0);
    /* no astring at all */
    assert_int_equal(MATCH(s, 1, &vs, "* STATUS (MESSAGES 1)", 0), 0);
    assert_int_equal(MATCH(s, 1, &vs, "* STATUS \"Box (MESSAGES 1)", 0), 0);
    /* modified UTF-7 (RFC 3501 5.1.3) on one side, UTF-8 on the other */
    ms_vars_init(&vs);
    assert_int_equal(MATCH(s, 0, &vs,
                           "* LIST () \".\" \"Entw\xc3\xbc"
                           "rfe\"",
                           0),
                     1);
    assert_int_equal(MATCH(s, 1, &vs, "* STATUS Entw&APw-rfe (MESSAGES 1)", 0), 1);
    assert_int_equal(MATCH(s, 1, &vs, "* STATUS Entw&APc-rfe (MESSAGES 1)", 0), 0);
    ms_vars_init(&vs);
    assert_int_equal(MATCH(s, 0, &vs, "* LIST () \".\" Entw&APw-rfe", 0), 1);
    assert_int_equal(MATCH(s, 1, &vs,
                           "* STATUS \"Entw\xc3\xbc"
                           "rfe\" (MESSAGES 1)",
                           0),
                     1);
    /* "&-" is "&"; a run without its "-", or with bits left over, is no name */
    ms_vars_init(&vs);
    assert_int_equal(MATCH(s, 0, &vs, "* LIST () \".\" \"a&b\"", 0), 1);
    assert_int_equal(MATCH(s, 1, &vs, "* STATUS a&-b (MESSAGES 1)", 0), 1);
    assert_int_equal(MATCH(s, 1, &vs, "* STATUS a&b (MESSAGES 1)", 0), 1); /* the same bytes */
    assert_int_equal(MATCH(s, 1, &vs, "* STATUS a&Jjo-b (MESSAGES 1)", 0), 0);
    ms_vars_init(&vs);
    assert_int_equal(MATCH(s, 0, &vs, "* LIST () \".\" \"\xc3\xbc\"", 0), 1);
    assert_int_equal(MATCH(s, 1, &vs, "* STATUS &APw (MESSAGES 1)", 0), 0);
    assert_int_equal(MATCH(s, 1, &vs, "* STATUS &APx- (MESSAGES 1)", 0), 0);
    ms_script_free(s);
    parse_bad("S: ${mbx:a}\n", 1, 9, "the type is mbox");
    parse_bad("C: ${mbox:nope}\n", 1, 4, "not set here");
    parse_bad("@allow ${mbox:x}\n", 1, 8, "cannot capture");
}

/* Literal text compares case-insensitively only with MS_MATCH_NOCASE; variables never. */
static void test_match_nocase(void **st)
{
    (void)st;
    struct ms_vars vs;
    struct ms_script *s = parse_ok("S: * ${n} FETCH (FLAGS (${*}))\nS: a1 ${n}\n");

    ms_vars_init(&vs);
    assert_int_equal(MATCH(s, 0, &vs, "* 1 fetch (flags (\\Seen))", 0), 0);
    assert_int_equal(MATCH(s, 0, &vs, "* 1 fetch (flags (\\Seen))", MS_MATCH_NOCASE), 1);
    assert_int_equal(MATCH(s, 0, &vs, "* 1 fetch (flagz (\\Seen))", MS_MATCH_NOCASE), 0);
    assert_int_equal(MATCH(s, 1, &vs, "A1 1", MS_MATCH_NOCASE), 1);
    ms_script_free(s);
    s = parse_ok("S: ok ${v}\nS: ${v}\n");
    ms_vars_init(&vs);
    assert_int_equal(MATCH(s, 0, &vs, "OK Abc", MS_MATCH_NOCASE), 1);
    assert_int_equal(MATCH(s, 1, &vs, "abc", MS_MATCH_NOCASE), 0); /* a value is exact */
    assert_int_equal(MATCH(s, 1, &vs, "Abc", MS_MATCH_NOCASE), 1);
    ms_script_free(s);
}

/* The directives of phases, branches, unsupported answers, login and quotes. */
static void test_directives_new(void **st)
{
    (void)st;
    struct ms_script *s = parse_ok("@quote A server MUST do it.\n@level info\n@tls-failure pass\n"
                                   "@phase setup\nS: 220 ${*}\n@login\n@phase check\n"
                                   "@unsupported 502 ${*}\nS: 250 ${*}\n@either\nS: a\n@or\n"
                                   "@segment\nC: x\n@end\nS: b\n@end\n@phase cleanup\nC: QUIT\n");
    assert_string_equal(s->quote, "A server MUST do it.");
    assert_int_equal(s->level, MS_LEVEL_INFO);
    assert_string_equal(ms_level_name(s->level), "info");
    assert_int_equal(s->tls_failure_passes, 1);
    assert_int_equal(s->has_phases, 1);
    assert_int_equal(s->nalts, 2);
    assert_int_equal(s->steps[1].phase, MS_PHASE_SETUP);
    assert_int_equal(s->steps[2].type, MS_STEP_LOGIN);
    assert_int_equal(s->steps[4].type, MS_STEP_UNSUPPORTED);
    assert_int_equal(s->steps[5].phase, MS_PHASE_CHECK);
    assert_int_equal(s->steps[s->nsteps - 1].phase, MS_PHASE_CLEANUP);
    ms_script_free(s);
    /* without @phase every step is a check */
    s = parse_ok("S: x\nC: y\n");
    assert_int_equal(s->has_phases, 0);
    assert_int_equal(s->steps[0].phase, MS_PHASE_CHECK);
    assert_string_equal(s->quote, "");
    ms_script_free(s);
    parse_bad("@phase later\n", 1, 8, "setup, check or cleanup");
    parse_bad("@either\nS: a\n@end\n", 1, 1, "at least one @or");
    parse_bad("@either\nS: a\n@or\nS: b\n", 1, 1, "not closed");
    parse_bad("@or\n", 1, 1, "outside @either");
    parse_bad("@either\n@either\n", 2, 1, "inside @either");
    parse_bad("@unsupported -ERR${*}\nC: x\n", 1, 1, "followed by an S: line");
    parse_bad("@unsupported -ERR${*}\n", 1, 1, "followed by an S: line");
    parse_bad("@tls-failure fail\n", 1, 14, "takes pass");
    parse_bad("@level must\n", 1, 8, "MUST, SHOULD, MAY or info");
    parse_bad("@quote a\n@quote b\n", 2, 1, "twice");
    parse_bad("@segment\n@login\n@end\n", 2, 1, "before @end");
}

/* Several connections: @connection NAME switches, opening on first use. */
static void test_tls_close(void **st)
{
    (void)st;
    struct ms_script *s = parse_ok("S: x\n@tls\nC: BDAT 4\n@tls-close\n@nocrlf\nC: x\n@close\n"
                                   "@connection\nS: y\n@tls\n@tls-close\nC: z\n");
    assert_int_equal(s->nsteps, 11);
    assert_int_equal(s->steps[3].type, MS_STEP_TLS_CLOSE);
    assert_int_equal(s->steps[3].line, 4);
    assert_int_equal(s->steps[4].type, MS_STEP_SEND);
    assert_int_equal(s->steps[9].type, MS_STEP_TLS_CLOSE);
    assert_true(ms_step_uses_conn(MS_STEP_TLS_CLOSE));
    ms_script_free(s);
    /* without @tls in the script: --tls implicit or the automatic upgrade (the runner checks) */
    s = parse_ok("S: x\n@tls-close\nC: y\n");
    assert_int_equal(s->steps[1].type, MS_STEP_TLS_CLOSE);
    assert_int_equal(s->has_tls, 0);
    ms_script_free(s);
    /* @tls-close on each connection once, in each @either branch */
    s = parse_ok("S: x\n@tls\n@either\n@tls-close\nC: a\n@or\n@tls-close\nC: b\n@end\n");
    ms_script_free(s);
    parse_bad("S: x\n@tls\n@tls-close\n@tls-close\n", 4, 1, "@tls-close twice");
    parse_bad("S: x\n@tls\n@tls-close now\n", 3, 12, "takes no argument");
    parse_bad("S: x\n@tls\n@tls-close\n@tls\n", 4, 1, "@tls twice");
    /* the script upgrades with @tls, but this connection has not yet */
    parse_bad("S: x\n@tls\n@connection b\nS: y\n@tls-close\n", 5, 1,
              "before this connection's @tls");
    parse_bad("S: x\n@tls\n@close\n@tls-close\n", 4, 1, "closed by @close");
    parse_bad("@segment\nC: x\n@tls-close\n@end\n", 3, 1, "before @end");
}

static void test_connections(void **st)
{
    (void)st;
    struct ms_script *s = parse_ok("S: * OK x\nC: a NOOP\n@connection two\nS: * OK y\n@tls\n"
                                   "C: b NOOP\n@connection main\nS: a OK ${v}\n@connection two\n"
                                   "C: c ${v}\n@connection\n@tls\n");
    assert_int_equal(s->nconns, 2);
    assert_string_equal(s->conns[0], "main");
    assert_string_equal(s->conns[1], "two");
    assert_int_equal(s->named, 1);
    assert_int_equal(s->steps[1].conn, 0);
    assert_int_equal(s->steps[2].type, MS_STEP_SWITCH);
    assert_int_equal(s->steps[2].arg, 1);
    assert_int_equal(s->steps[3].conn, 1);
    assert_int_equal(s->steps[6].arg, 0);
    assert_int_equal(s->steps[7].conn, 0);
    /* a capture on one connection is sent on another */
    assert_int_equal(s->steps[9].conn, 1);
    assert_int_equal(s->steps[9].type, MS_STEP_SEND);
    /* the bare @connection still reopens the current one */
    assert_int_equal(s->steps[10].type, MS_STEP_CONNECTION);
    assert_int_equal(s->steps[10].conn, 1);
    ms_script_free(s);
    /* one-connection scripts are unchanged */
    s = parse_ok("S: x\n");
    assert_int_equal(s->nconns, 1);
    assert_int_equal(s->named, 0);
    ms_script_free(s);
    /* @tls is once per connection, counted per name */
    parse_bad("S: x\n@tls\n@connection b\n@tls\n@connection main\n@tls\n", 6, 1,
              "twice in one connection");
    /* names */
    parse_bad("@connection a b\nS: x\n", 1, 14, "one word");
    parse_bad("@connection a/b\nS: x\n", 1, 14, "one word");
    parse_bad("@connection abcdefghijabcdefghijabcdefghijabcdefghij\nS: x\n", 1, 13, "1 to 32");
    parse_bad("@connection c1\n@connection c2\n@connection c3\n@connection c4\n@connection c5\n"
              "@connection c6\n@connection c7\n@connection c8\nS: x\n",
              8, 13, "at most 8 connections");
    /* inside blocks and branches */
    parse_bad("@segment\n@connection b\n@end\n", 2, 1, "before @end");
    parse_bad("@unordered\n@connection b\n@end\n", 2, 1, "before @end");
    parse_bad("S: x\n@either\n@connection b\nS: y\n@or\nS: z\n@end\n", 5, 1,
              "must end on the connection it started on");
    parse_bad("S: x\n@either\nS: y\n@or\n@connection b\nS: z\n@end\n", 7, 1,
              "must end on the connection it started on");
    s = parse_ok("S: x\n@either\n@connection b\nS: y\n@connection main\n@or\nS: z\n@end\nS: w\n");
    assert_int_equal(s->steps[s->nsteps - 1].conn, 0);
    ms_script_free(s);
    /* a line for a connection that @close closed, without a new one */
    parse_bad("S: x\n@close\n@connection b\nS: y\n@connection main\nC: z\n", 6, 1,
              "closed by @close");
    parse_bad("S: x\n@close\nS: y\n", 3, 1, "closed by @close");
    s = parse_ok("S: x\n@close\n@connection\nS: y\n");
    ms_script_free(s);
    /* @serial: metadata, once, no argument */
    s = parse_ok("@serial\nS: x\n");
    assert_int_equal(s->serial, 1);
    assert_int_equal(s->nsteps, 1);
    ms_script_free(s);
    s = parse_ok("S: x\n");
    assert_int_equal(s->serial, 0);
    ms_script_free(s);
    parse_bad("@serial yes\nS: x\n", 1, 9, "no argument");
    parse_bad("@serial\n@serial\nS: x\n", 2, 1, "twice");
    /* each @either branch starts from the state before it */
    s = parse_ok("S: x\n@either\n@close\n@or\nC: y\n@end\n");
    ms_script_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metadata_and_steps),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_connections),
        cmocka_unit_test(test_tls_close),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_match_mbox),
        cmocka_unit_test(test_match_nocase),
        cmocka_unit_test(test_directives_new),
        cmocka_unit_test(test_match_capture_space),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_nocrlf),
        cmocka_unit_test(test_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
