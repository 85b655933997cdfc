/*
 * Unit tests of mailspec serve (conformance/serve*.c): serve scripts read
 * with the roles swapped and the serve-only directives, and the built-in
 * server's answers, which must pass the strict reply parsers (a built-in
 * server that sent broken replies would make clients fail for mailspec's
 * fault). Each check has a case that must be rejected.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mailspec/imap_command.h"
#include "mailspec/pop3.h"
#include "mailspec/script.h"
#include "mailspec/smtp.h"
#include "serve.h"

static int parse(const char *text, struct sv_script *ss, struct ms_script_error *err)
{
    return sv_script_parse(text, strlen(text), ss, err);
}

static void test_roles_swap(void **state)
{
    (void)state;
    struct sv_script ss;
    struct ms_script_error err;
    assert_int_equal(parse("S: * OK hi\nC: ${t} LOGIN ${*}\nS: ${t} OK done\n", &ss, &err), 0);
    assert_int_equal(ss.s->nsteps, 3);
    assert_int_equal(ss.s->steps[0].type, MS_STEP_SEND);   /* S: is sent */
    assert_int_equal(ss.s->steps[1].type, MS_STEP_EXPECT); /* C: is expected */
    assert_int_equal(ss.s->steps[2].type, MS_STEP_SEND);
    assert_int_equal(ss.client_exit, SV_EXIT_ANY);
    assert_string_equal(ss.cert, "");
    /* the pattern captures the tag; the next S: line sends it */
    struct ms_vars vs;
    ms_vars_init(&vs);
    const char *cmd = "a7 LOGIN alice secret";
    assert_int_equal(ms_script_match(ss.s, &ss.s->steps[1], &vs, cmd, strlen(cmd), 0), 1);
    char out[64];
    ssize_t n = ms_script_render(ss.s, &ss.s->steps[2], &vs, out, sizeof(out));
    assert_true(n > 0);
    assert_memory_equal(out, "a7 OK done\r\n", (size_t)n);
    sv_script_free(&ss);
    /* sending a variable nothing captured yet is an error, as for certify's C: lines */
    assert_int_equal(parse("S: ${t} OK\n", &ss, &err), -1);
    assert_int_equal(err.line, 1);
}

static void test_serve_directives(void **state)
{
    (void)state;
    struct sv_script ss;
    struct ms_script_error err;
    assert_int_equal(
        parse("@client-exit ok\n@cert wrong-name\n@mailbox tricky\n@allow ${*}\n", &ss, &err), 0);
    assert_int_equal(ss.client_exit, SV_EXIT_OK);
    assert_string_equal(ss.cert, "wrong-name");
    assert_int_equal(ss.tricky, 1);
    sv_script_free(&ss);

    static const struct {
        const char *text;
        size_t line;
    } bad[] = {
        {"@client-exit maybe\n@allow ${*}\n", 1},
        {"@client-exit ok\n@client-exit any\n@allow ${*}\n", 2},
        {"@allow ${*}\n@cert ../etc/key\n", 2},
        {"@cert a\n@cert b\n@allow ${*}\n", 2},
        {"S: * OK\n@requires STARTTLS\n", 2},
        {"S: * OK\n@login\n", 2},
        {"S: * OK\n@nocrlf\nC: a\n", 3},
        {"@allow ${*}\n@mailbox other\n", 2},
        {"@mailbox tricky\n@mailbox tricky\n@allow ${*}\n", 2},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        assert_int_equal(parse(bad[i].text, &ss, &err), -1);
        assert_int_equal(err.line, bad[i].line);
    }
}

/*
 * Run commands (one per line, "\n"-separated, CRLF added) through the
 * built-in server and return the dialogue as a .session transcript.
 */
static char *dialogue(const char *proto_name, const char *const *cmds, size_t n,
                      const struct sv_opts *o)
{
    const struct ms_proto *p = ms_proto_find(proto_name);
    struct ms_limits lim;
    ms_limits_default(&lim);
    void *st = calloc(1, p->commands->state_size);
    void *view = calloc(1, p->commands->view_size);
    char *tr = calloc(1, 1 << 20);
    struct ms_out t;
    ms_out_init(&t, tr, (1 << 20) - 1);
    static char buf[65536];
    struct ms_out out;
    struct sv_resp r;
    sv_resp_init(&r, proto_name, o);
    p->commands->init(st, &lim);
    ms_out_init(&out, buf, sizeof(buf));
    sv_resp_greeting(&r, &out);
    for (size_t i = 0;; i++) {
        /* the answer, one S: line per line */
        for (size_t a = 0; a < out.len;) {
            size_t e = a;
            while (e + 1 < out.len && !(buf[e] == '\r' && buf[e + 1] == '\n'))
                e++;
            ms_out_str(&t, "S: ");
            ms_script_escape(&t, buf + a, e - a);
            ms_out_str(&t, "\n");
            a = e + 2;
        }
        if (i == n)
            break;
        char line[1024];
        int k = snprintf(line, sizeof(line), "%s\r\n", cmds[i]);
        ms_out_str(&t, "C: ");
        ms_script_escape(&t, cmds[i], strlen(cmds[i]));
        ms_out_str(&t, "\n");
        int done = 0;
        struct ms_error err;
        for (size_t off = 0; off < (size_t)k;) {
            /* DATA content comes in pieces; the view is complete at its end */
            ssize_t used =
                p->commands->parse(st, &lim, line + off, (size_t)k - off, view, &done, &err);
            assert_true(used > 0);
            off += (size_t)used;
        }
        assert_true(done);
        ms_out_init(&out, buf, sizeof(buf));
        sv_resp_answer(&r, view, line, (size_t)k, &out);
        assert_false(out.overflow);
        /* the session hooks a real run gets from its reply stream */
        if (strcmp(proto_name, "imap") == 0 && out.len > 2 && buf[0] != '+') {
            const struct ms_imap_command *c = view;
            ms_imap_command_tagged_reply(st, c->tag.ptr, c->tag.len);
        }
        if (strcmp(proto_name, "smtp") == 0 && out.len >= 3)
            ms_smtp_reply_answers(
                st, (unsigned)((buf[0] - '0') * 100 + (buf[1] - '0') * 10 + (buf[2] - '0')), 0);
    }
    tr[t.len] = '\0';
    free(st);
    free(view);
    return tr;
}

static void test_imap_answers_parse(void **state)
{
    (void)state;
    struct sv_opts o;
    memset(&o, 0, sizeof(o));
    o.user = "alice";
    o.password = "secret";
    o.tls = MS_TLS_NONE;
    static const char *const cmds[] = {
        "a0 CAPABILITY",
        "a1 SELECT INBOX", /* not yet: BAD */
        "a2 LOGIN alice wrong",
        "a3 LOGIN alice \"secret\"",
        "a4 SELECT INBOX",
        "a5 FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE "
        "BODY.PEEK[HEADER.FIELDS (Subject From)])",
        "a6 UID FETCH 2 (BODY[]<0.20> BODY[TEXT] BODY[1] RFC822.HEADER)",
        "a7 FETCH 1 FULL",
        "a8 SEARCH UNSEEN",
        "a9 UID SEARCH NOT SEEN UID 1:*",
        "b1 STORE 1 +FLAGS (\\Deleted)",
        "b2 STATUS INBOX (MESSAGES UNSEEN UIDNEXT)",
        "b3 LIST \"\" *",
        "b4 EXPUNGE",
        "b5 FETCH 1 BINARY[]",
        "b6 NAMESPACE",
        "b7 LOGOUT",
    };
    char *tr = dialogue("imap", cmds, sizeof(cmds) / sizeof(cmds[0]), &o);
    struct ms_limits lim;
    ms_limits_default(&lim);
    const char *r = ms_check_session(ms_proto_find("imap"), &lim, tr);
    ms_assert_lacks(r, " ERR ");
    /* the answers say what a compliant server says */
    ms_assert_has(tr, "S: a1 BAD");
    ms_assert_has(tr, "S: a2 NO [AUTHENTICATIONFAILED]");
    ms_assert_has(tr, "S: a3 OK");
    ms_assert_has(tr, "S: * 2 EXISTS");
    ms_assert_has(tr, "S: * SEARCH 1\nS: a8 OK"); /* a6 set \\Seen on 2 (BODY[TEXT]) */
    ms_assert_has(tr, "S: * 1 FETCH (FLAGS (\\\\Deleted))");
    ms_assert_has(tr, "S: * 1 EXPUNGE");
    ms_assert_has(tr, "S: b5 NO [CANNOT]");
    ms_assert_has(tr, "BODY[]<0> {20}");
    free(tr);
}

static void test_smtp_and_pop3_answers_parse(void **state)
{
    (void)state;
    struct sv_opts o;
    memset(&o, 0, sizeof(o));
    o.user = "alice";
    o.password = "secret";
    o.tls = MS_TLS_STARTTLS;
    static const char *const smtp[] = {
        "EHLO client.example",
        "MAIL FROM:<a@example.org>",
        "RCPT TO:<b@example.org>",
        "DATA",
        "Subject: x\r\n\r\nhello\r\n.",
        "AUTH PLAIN AGFsaWNlAHdyb25n", /* \0alice\0wrong */
        "AUTH PLAIN AGFsaWNlAHNlY3JldA==",
        "BDAT 0 LAST",
        "QUIT",
    };
    char *tr = dialogue("smtp", smtp, sizeof(smtp) / sizeof(smtp[0]), &o);
    struct ms_limits lim;
    ms_limits_default(&lim);
    ms_assert_lacks(ms_check_session(ms_proto_find("smtp"), &lim, tr), " ERR ");
    ms_assert_has(tr, "S: 250-STARTTLS");
    ms_assert_has(tr, "S: 535 ");
    ms_assert_has(tr, "S: 235 ");
    ms_assert_has(tr, "S: 250 2.0.0 Ok: queued");
    free(tr);

    static const char *const pop3[] = {
        "CAPA",   "STAT",   "USER alice", "PASS secret", "STAT",   "LIST",
        "UIDL 2", "RETR 2", "TOP 1 0",    "DELE 1",      "RETR 1", "QUIT",
    };
    tr = dialogue("pop3", pop3, sizeof(pop3) / sizeof(pop3[0]), &o);
    ms_assert_lacks(ms_check_session(ms_proto_find("pop3"), &lim, tr), " ERR ");
    ms_assert_has(tr, "C: STAT\nS: -ERR");
    ms_assert_has(tr, "S: +OK 2 ");
    ms_assert_has(tr, "S: ..leading dot"); /* RFC 1939 3: dot-stuffed */
    ms_assert_has(tr, "C: RETR 1\nS: -ERR no such message");
    free(tr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles_swap),
        cmocka_unit_test(test_serve_directives),
        cmocka_unit_test(test_imap_answers_parse),
        cmocka_unit_test(test_smtp_and_pop3_answers_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
