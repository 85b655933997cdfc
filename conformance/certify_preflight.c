/*
 * Before the suite, certify checks once what every test depends on -
 * connecting, the greeting, TLS, the capabilities and the login - and stops
 * with a distinct exit code and a plain message when one fails (the
 * swaks habit: the exit code says where it broke). It also learns the
 * server's policy on cleartext login without sending the password where
 * the server said it refuses it. After the suite, the TLS-version probe.
 *
 * Every check is a small script run by the runner, so the pre-flight frames
 * and parses the server's answers exactly as the tests do, and reads the
 * capabilities from the parsed views.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certify.h"
#include "cli.h"
#include "mailspec/mailspec.h"
#include "mailspec/script.h"
#include "mailspec/stream.h"
#include "proto_desc.h"

/* Line 3 of every pre-flight script is the greeting. */
#define GREETING_LINE 3

/* Greeting and capabilities, no credentials. */
static const char *const hello[] = {
    /* imap */
    "@test certify.preflight\n@protocol imap\nS: * ${*}\n@allow * ${*}\nC: P1 CAPABILITY\n"
    "S: P1 OK${*}\nC: P2 LOGOUT\n@phase cleanup\nS: P2 OK${*}\n",
    /* pop3: CAPA is optional (RFC 2449 5) */
    "@test certify.preflight\n@protocol pop3\nS: +OK${*}\nC: CAPA\n@either\nS: +OK${*}\n@or\n"
    "S: -ERR${*}\n@end\nC: QUIT\n@phase cleanup\nS: +OK${*}\n",
    /* smtp */
    "@test certify.preflight\n@protocol smtp\nS: 220 ${*}\nC: EHLO mailspec.invalid\n"
    "S: 250 ${*}\nC: QUIT\n@phase cleanup\nS: 221 ${*}\n",
};

/* The login, with the real credentials. */
static const char *const login[] = {
    "@test certify.preflight-login\n@protocol imap\nS: * ${*}\n@allow * ${*}\n"
    "C: P1 LOGIN ${mbox:user} ${mbox:password}\nS: P1 OK${*}\nC: P2 LOGOUT\n@phase cleanup\n"
    "S: P2 OK${*}\n",
    "@test certify.preflight-login\n@protocol pop3\nS: +OK${*}\nC: USER ${user}\nS: +OK${*}\n"
    "C: PASS ${password}\nS: +OK${*}\nC: QUIT\n@phase cleanup\nS: +OK${*}\n",
    "@test certify.preflight-login\n@protocol smtp\nS: 220 ${*}\nC: EHLO mailspec.invalid\n"
    "S: 250 ${*}\n@login\nC: QUIT\n@phase cleanup\nS: 221 ${*}\n",
};

/* SMTP on a cleartext port: does the server require STARTTLS first (RFC 3207 4)?
 * Most servers answer RSET with 250: the QUIT is a cleanup step, so that it is
 * still sent then and its 221 comes at once (with QUIT in the check phase, the
 * cleanup waited for a 221 to a QUIT never sent: 2 s of every SMTP run). */
static const char smtp_tls_required[] =
    "@test certify.preflight-tls-required\n@protocol smtp\nS: 220 ${*}\nC: EHLO mailspec.invalid\n"
    "S: 250 ${*}\nC: RSET\nS: 530 ${*}\n@phase cleanup\nC: QUIT\nS: 221 ${*}\n";

/* POP3 without USER: SASL PLAIN (RFC 5034) */
static const char pop3_sasl_login[] =
    "@test certify.preflight-login\n@protocol pop3\nS: +OK${*}\nC: AUTH PLAIN ${sasl_plain}\n"
    "S: +OK${*}\nC: QUIT\n@phase cleanup\nS: +OK${*}\n";

/* The protocols in the order of the tables here. */
static const char *const proto_names[] = {"imap", "pop3", "smtp"};
static const char *const proto_upper[] = {"IMAP", "POP3", "SMTP"};
static const char *const proto_article[] = {"an", "a", "an"};

static int proto_index(const char *p)
{
    return strcmp(p, proto_names[0]) == 0 ? 0 : strcmp(p, proto_names[1]) == 0 ? 1 : 2;
}

/* Run a built-in script with ro (tls: the mode to use). 0 when it parsed. */
static int run_builtin(const char *text, const struct ms_run_opts *ro, enum ms_tls_mode tls,
                       struct ms_test_result *r)
{
    struct ms_script_error se;
    struct ms_run_opts o = *ro;
    struct ms_script *s = ms_script_parse(text, strlen(text), &se);

    memset(r, 0, sizeof(*r));
    if (!s)
        return -1; /* a bug in the scripts above: the unit tests parse them */
    if (o.tls != tls) {
        o.tls = tls;
        o.port = ro->port; /* the same port: STARTTLS on the plain one */
    }
    ms_run_script(s, "(certify pre-flight)", &o, r);
    ms_script_free(s);
    return 0;
}

/* " NAME " in the space-separated capability words. */
static int has_cap(const char *caps, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = caps ? caps : ""; *p;) {
        const char *e = strchr(p, ' ');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && memcmp(p, name, n) == 0)
            return 1;
        p += l + (e ? 1 : 0);
    }
    return 0;
}

/* ------------------------------------------------ what the port speaks -- */

/* How long the checks below wait, once the pre-flight has failed: a server
 * sends its greeting, or answers a ClientHello, at once (a quarter of
 * --timeout, 0.25 to 2 seconds). */
static uint64_t probe_deadline(const struct ms_run_opts *ro)
{
    unsigned ms = ro->timeout_ms / 4;
    ms = ms > 2000 ? 2000 : ms < 250 ? 250 : ms;
    return ms_now_ms() + ms;
}

/* Whether line (without its CRLF) is a greeting of protocol pi: it matches
 * the protocol's greeting pattern (proto_desc.h) and its strict reply parser
 * takes it as one complete message. */
static int is_greeting_of(int pi, const char *line, size_t len)
{
    const struct ms_proto *p = ms_proto_find(proto_names[pi]);
    const struct ms_kind *k = p ? p->replies : NULL;
    struct ms_script_error se;
    struct ms_limits lim;
    char text[64], msg[1024];
    int ok = 0, done = 0;

    if (!k || len + 2 > sizeof(msg))
        return 0;
    snprintf(text, sizeof(text), "S: %s\n", ms_proto_desc(proto_names[pi])->greeting);
    struct ms_script *s = ms_script_parse(text, strlen(text), &se);
    struct ms_vars *vs = malloc(sizeof(*vs)); /* 16 KiB */
    if (vs)
        ms_vars_init(vs);
    ok = s && vs && s->nsteps && s->steps[0].type == MS_STEP_EXPECT &&
         ms_script_match(s, &s->steps[0], vs, line, len, MS_MATCH_NOCASE) == 1;
    free(vs);
    ms_script_free(s);
    void *state = ok ? calloc(1, k->state_size) : NULL, *view = ok ? calloc(1, k->view_size) : NULL;
    if (state && view) {
        struct ms_error err;
        memcpy(msg, line, len);
        memcpy(msg + len, "\r\n", 2);
        ms_limits_default(&lim);
        if (k->init)
            k->init(state, &lim);
        ok = k->parse(state, &lim, msg, len + 2, view, &done, &err) == (ssize_t)(len + 2) && done;
    } else {
        ok = 0;
    }
    free(state);
    free(view);
    return ok;
}

/* The protocol (proto_names index) line is a greeting of, or -1. */
static int greeting_protocol(const char *line, size_t len)
{
    for (int pi = 0; pi < 3; pi++)
        if (is_greeting_of(pi, line, len))
            return pi;
    return -1;
}

/* The first line the server sends on a new plain connection, without its
 * line end, NUL-terminated; 0 when no complete line came. */
static size_t plain_greeting(const struct ms_run_opts *ro, char *line, size_t cap)
{
    struct ms_conn conn;
    char err[256];
    size_t n = 0;
    uint64_t dl = probe_deadline(ro);

    line[0] = '\0';
    if (ms_conn_open(&conn, ro->host, ro->port, dl, err, sizeof(err)) != 0)
        return 0;
    while (n + 1 < cap && !memchr(line, '\n', n)) {
        ssize_t r = ms_conn_read(&conn, line + n, cap - 1 - n, dl, ro->stop, err, sizeof(err));
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    ms_conn_close(&conn);
    const char *lf = memchr(line, '\n', n);
    n = lf ? (size_t)(lf - line) : 0;
    n -= n && line[n - 1] == '\r';
    line[n] = '\0';
    return n;
}

/* Whether a TLS handshake succeeds on a new connection (any certificate). */
static int speaks_tls(const struct ms_run_opts *ro)
{
    struct ms_conn conn;
    struct ms_tls_opts t = ro->tlso;
    char err[256];
    uint64_t dl = probe_deadline(ro);

    t.insecure = 1; /* the question is whether TLS is spoken, not whom to trust */
    int ok = ms_conn_open(&conn, ro->host, ro->port, dl, err, sizeof(err)) == 0 &&
             ms_conn_tls(&conn, ro->host, &t, dl, err, sizeof(err)) == 0;
    ms_conn_close(&conn);
    return ok;
}

/* line for a message: printable ASCII, at most 100 bytes. */
static void shown(const char *line, char *out, size_t cap)
{
    size_t n = 0;
    for (; line[n] && n + 1 < cap && n < 100; n++)
        out[n] = line[n] >= 0x20 && line[n] < 0x7F ? line[n] : '?';
    out[n] = '\0';
}

/* Why the first exchange failed, as an exit code and a message: with the
 * transport or the protocol the port speaks when it is not the one asked
 * for (greeting_protocol, plain_greeting, speaks_tls). */
static void hello_failed(struct certify *c, const struct ms_test_result *r)
{
    struct cert_preflight *pf = &c->pf;
    const struct ms_run_opts *ro = &c->cli.ro;
    const char *proto = c->protocol;
    int pi = proto_index(proto), gp;
    char line[1024], say[104];

    if (r->result == MS_RES_ERROR) {
        pf->exit = MS_EXIT_USAGE;
        snprintf(pf->why, sizeof(pf->why), "%s", r->message);
    } else if (r->conn_error == MS_CONN_E_RESOLVE || r->conn_error == MS_CONN_E_CONNECT ||
               (r->conn_error == MS_CONN_E_TIMEOUT && !r->tls_failed)) {
        pf->exit = MS_EXIT_USAGE;
        snprintf(pf->why, sizeof(pf->why), "%s", r->message);
    } else if (r->tls_failed) {
        pf->exit = MS_EXIT_TLS;
        size_t n = 0;
        if (ro->tls == MS_TLS_IMPLICIT && r->conn_error == MS_CONN_E_TLS_HANDSHAKE &&
            (n = plain_greeting(ro, line, sizeof(line))) > 0 &&
            (gp = greeting_protocol(line, n)) >= 0) {
            shown(line, say, sizeof(say));
            snprintf(pf->why, sizeof(pf->why),
                     "%s port %s speaks plain text here, not TLS: it greets like %s %s server "
                     "(\"%s\"): use --tls none, or --tls starttls to upgrade",
                     ro->host, ro->port, proto_article[gp], proto_upper[gp], say);
        } else {
            snprintf(pf->why, sizeof(pf->why), "TLS with %s port %s failed: %s", ro->host, ro->port,
                     r->message);
        }
    } else if (r->fail_line == GREETING_LINE) {
        pf->exit = MS_EXIT_GREETING;
        const char *got = r->got ? r->got : "";
        gp = got[0] ? greeting_protocol(got, strlen(got)) : -1;
        if (gp >= 0 && gp != pi) {
            shown(got, say, sizeof(say));
            snprintf(pf->why, sizeof(pf->why),
                     "this is not %s %s server: its greeting looks like %s (\"%s\"); check "
                     "--port and --protocol\n%s port %s did not greet like %s %s server",
                     proto_article[pi], proto_upper[pi], proto_upper[gp], say, ro->host, ro->port,
                     proto_article[pi], proto);
        } else if (!got[0] && ro->tls != MS_TLS_IMPLICIT && speaks_tls(ro)) {
            snprintf(pf->why, sizeof(pf->why),
                     "the server speaks TLS here: use --tls implicit (%s port %s sent no "
                     "greeting in plain text, and a TLS handshake with it succeeds)\n%s",
                     ro->host, ro->port, r->message);
        } else {
            snprintf(pf->why, sizeof(pf->why), "%s port %s did not greet like %s %s server:\n%s",
                     ro->host, ro->port, proto_article[pi], proto, r->message);
        }
    } else {
        pf->exit = MS_EXIT_GREETING;
        snprintf(pf->why, sizeof(pf->why), "%s port %s does not answer like %s %s server:\n%s",
                 ro->host, ro->port, proto_article[pi], proto, r->message);
    }
}

/* The login script for this server, or NULL when it cannot log in with USER/PASS/LOGIN/AUTH. */
static const char *login_script(const struct certify *c, const char *caps)
{
    int pi = proto_index(c->protocol);
    if (pi == 1 && caps[0] && !has_cap(caps, "USER"))
        return has_cap(caps, "SASL=PLAIN") ? pop3_sasl_login : NULL;
    if (pi == 2 && !has_cap(caps, "AUTH=PLAIN"))
        return NULL;
    return login[pi];
}

/* Log in inside TLS on the same port (STARTTLS/STLS): 1 accepted, 0 refused, -1 cannot tell. */
static int login_in_tls(struct certify *c, const char *caps_plain)
{
    struct ms_test_result h, l;
    const char *stls = proto_index(c->protocol) == 1 ? "STLS" : "STARTTLS";

    if (!has_cap(caps_plain, stls))
        return -1;
    if (run_builtin(hello[proto_index(c->protocol)], &c->cli.ro, MS_TLS_STARTTLS, &h) != 0)
        return -1;
    const char *script = h.result == MS_RES_PASS ? login_script(c, h.caps) : NULL;
    int rc = -1;
    if (script && run_builtin(script, &c->cli.ro, MS_TLS_STARTTLS, &l) == 0) {
        rc = l.result == MS_RES_PASS;
        ms_test_result_free(&l);
    }
    ms_test_result_free(&h);
    return rc;
}

void certify_preflight(struct certify *c)
{
    struct cert_preflight *pf = &c->pf;
    struct ms_run_opts *ro = &c->cli.ro;
    int pi = proto_index(c->protocol);
    struct ms_test_result h, l;

    memset(pf, 0, sizeof(*pf));
    if (run_builtin(hello[pi], ro, ro->tls, &h) != 0) {
        pf->exit = MS_EXIT_USAGE;
        snprintf(pf->why, sizeof(pf->why), "internal error: a pre-flight script does not parse");
        return;
    }
    if (h.result != MS_RES_PASS) {
        hello_failed(c, &h);
        ms_test_result_free(&h);
        return;
    }
    pf->caps = h.caps;
    h.caps = NULL;
    ms_test_result_free(&h);
    if (pi == 2 && ro->tls == MS_TLS_NONE && run_builtin(smtp_tls_required, ro, ro->tls, &h) == 0) {
        if (h.result == MS_RES_PASS) {
            ro->smtp_tls_required = 1;
            snprintf(pf->policy, sizeof(pf->policy),
                     "the server requires STARTTLS before mail on this port (530, RFC 3207 4)");
        }
        ms_test_result_free(&h);
    }
    if (!ro->user || !ro->password)
        return;

    int plain = ro->tls == MS_TLS_NONE;
    if (pi == 0 && plain && has_cap(pf->caps, "LOGINDISABLED")) {
        /* RFC 9051 6.2.3: the password is not sent here at all */
        pf->cleartext_refused = 1;
        snprintf(pf->policy, sizeof(pf->policy),
                 "the server announces LOGINDISABLED: it refuses login before STARTTLS");
    } else if (pi == 1 && pf->caps[0] && !has_cap(pf->caps, "USER") &&
               !has_cap(pf->caps, "SASL=PLAIN")) {
        if (plain && login_in_tls(c, pf->caps) == 1) {
            pf->cleartext_refused = 1;
            pf->login_checked = 1;
            ro->cleartext_login_refused = 1;
            snprintf(pf->policy, sizeof(pf->policy),
                     "CAPA offers no USER or SASL PLAIN before STLS; login works inside TLS");
        } else {
            ro->pop3_no_user = !has_cap(pf->caps, "USER");
            snprintf(pf->policy, sizeof(pf->policy),
                     "CAPA offers neither USER nor SASL PLAIN: the credentials were not checked");
        }
        return;
    } else if (pi == 2 && !has_cap(pf->caps, "AUTH=PLAIN")) {
        if (plain && login_in_tls(c, pf->caps) == 1) {
            pf->cleartext_refused = 1;
            pf->login_checked = 1;
            ro->cleartext_login_refused = 1;
            snprintf(pf->policy, sizeof(pf->policy), "EHLO offers AUTH only after STARTTLS");
        } else {
            snprintf(pf->policy, sizeof(pf->policy),
                     "EHLO offers no AUTH PLAIN here: --user/--password are not used");
        }
        return;
    }
    if (pf->cleartext_refused) {
        int ok = login_in_tls(c, pf->caps);
        if (ok == 0) {
            pf->exit = MS_EXIT_LOGIN;
            snprintf(pf->why, sizeof(pf->why),
                     "login as %s failed inside TLS (the server refuses it in cleartext)",
                     ro->user);
        }
        pf->login_checked = ok == 1;
        ro->cleartext_login_refused = 1;
        return;
    }
    const char *script = login_script(c, pf->caps);
    if (!script || run_builtin(script, ro, ro->tls, &l) != 0)
        return;
    if (l.result == MS_RES_PASS) {
        pf->login_checked = 1;
    } else if (plain && login_in_tls(c, pf->caps) == 1) {
        /* refused here, accepted inside TLS: a policy, not wrong credentials */
        pf->cleartext_refused = 1;
        pf->login_checked = 1;
        ro->cleartext_login_refused = 1;
        snprintf(pf->policy, sizeof(pf->policy),
                 "login is refused in cleartext and accepted inside TLS");
    } else if (l.result == MS_RES_ERROR) {
        pf->exit = MS_EXIT_USAGE;
        snprintf(pf->why, sizeof(pf->why), "%s", l.message);
    } else {
        pf->exit = MS_EXIT_LOGIN;
        if (l.got && l.got[0])
            snprintf(pf->why, sizeof(pf->why), "the server refused the login as %s: %s", ro->user,
                     l.got);
        else
            snprintf(pf->why, sizeof(pf->why), "the login as %s did not succeed:\n%s", ro->user,
                     l.message);
    }
    ms_test_result_free(&l);
}

/* ------------------------------------------------------------ TLS versions -- */

const char *const certify_tls_version_names[CERT_TLS_VERSIONS] = {"TLSv1.0", "TLSv1.1", "TLSv1.2",
                                                                  "TLSv1.3"};

/*
 * Which TLS versions the server accepts: one handshake per version, each
 * offering exactly that version, after the plaintext upgrade for --tls
 * starttls. The results become two tests (RFC 8996: TLS 1.0 and 1.1 MUST
 * NOT be negotiated) and the JSON's tls_versions.
 */
static int try_version(struct certify *c, int v, char *why, size_t cap)
{
    char text[200];
    struct ms_test_result r;
    struct ms_run_opts o = c->cli.ro;
    int pi = proto_index(c->protocol);

    o.tlso.exact_version = v;
    o.tlso.insecure = 1; /* the version is the question here, not the certificate */
    /* starttls: the script needs a command for the runner to upgrade before */
    snprintf(text, sizeof(text), "@protocol %s\nS: %s\n%s", c->protocol,
             ms_proto_desc(c->protocol)->greeting,
             c->cli.ro.tls != MS_TLS_STARTTLS ? ""
             : pi == 0                        ? "C: V1 NOOP\nS: V1 OK${*}\n"
                                              : "C: NOOP\nS: ${*}\n");
    if (run_builtin(text, &o, o.tls, &r) != 0)
        return -1;
    int res = r.result == MS_RES_PASS                                   ? 1
              : r.tls_failed && r.conn_error == MS_CONN_E_TLS_HANDSHAKE ? 0
                                                                        : -1;
    snprintf(why, cap, "%s", res < 0 ? r.message : "");
    ms_test_result_free(&r);
    return res;
}

/* RFC 8996 2, 3: the tests the probe generates, in the order of tls_ok. */
const struct cert_generated certify_probe_tests[CERT_PROBE_TESTS] = {
    {"tls.rfc8996.no-tls1.0", "The server refuses to negotiate TLS 1.0", "8996 2",
     "TLS 1.0 MUST NOT be used.", "negotiates TLS 1.0, which RFC 8996 deprecates"},
    {"tls.rfc8996.no-tls1.1", "The server refuses to negotiate TLS 1.1", "8996 3",
     "TLS 1.1 MUST NOT be used.", "negotiates TLS 1.1, which RFC 8996 deprecates"},
};

void certify_probe_id(const struct certify *c, int i, char *out, size_t cap)
{
    snprintf(out, cap, "%s.%s", c->protocol, certify_probe_tests[i].suffix);
}

void certify_tls_probe(struct certify *c)
{
    char whys[CERT_TLS_VERSIONS][300];
    int nsel = 0;

    for (int v = 0; v < CERT_PROBE_TESTS; v++)
        nsel += c->probe_selected[v];
    if (c->cli.ro.tls == MS_TLS_NONE || !nsel)
        return;
    for (int i = 0; i < CERT_TLS_VERSIONS; i++)
        c->tls_ok[i] = try_version(c, 10 + i, whys[i], sizeof(whys[i]));
    c->tls_probed = 1;
    struct cert_test *nt = realloc(c->t, (c->n + (size_t)nsel) * sizeof(*nt));
    if (!nt)
        return;
    c->t = nt;
    for (int v = 0; v < CERT_PROBE_TESTS; v++) {
        const struct cert_generated *g = &certify_probe_tests[v];
        if (!c->probe_selected[v])
            continue;
        struct cert_test *t = &c->t[c->n++];
        char id[64], msg[512], tr[256];
        memset(t, 0, sizeof(*t));
        t->path = strdup("(certify TLS version probe)");
        certify_probe_id(c, v, id, sizeof(id));
        snprintf(tr, sizeof(tr),
                 "# mailspec: TLS handshake offering only TLS 1.%d to %s port %s (%s): %s\n", v,
                 c->cli.ro.host, c->cli.ro.port, ms_tls_mode_name(c->cli.ro.tls),
                 c->tls_ok[v] == 1   ? "accepted"
                 : c->tls_ok[v] == 0 ? "refused"
                                     : "could not tell");
        enum ms_result res = c->tls_ok[v] == 1   ? MS_RES_FAIL
                             : c->tls_ok[v] == 0 ? MS_RES_PASS
                                                 : MS_RES_NA;
        if (res == MS_RES_FAIL)
            snprintf(msg, sizeof(msg), "the server negotiated TLS 1.%d, which RFC 8996 forbids", v);
        else if (res == MS_RES_NA)
            snprintf(msg, sizeof(msg), "could not tell: %.400s",
                     whys[v][0] ? whys[v] : "no handshake");
        else
            msg[0] = '\0';
        t->r.file = strdup(t->path ? t->path : "");
        t->r.id = strdup(id);
        t->r.title = strdup(g->title);
        t->r.rfc = strdup(g->rfc);
        t->r.quote = strdup(g->quote);
        t->r.protocol = strdup(c->protocol);
        t->r.finding = strdup(res == MS_RES_FAIL ? g->finding : "");
        t->r.level = MS_LEVEL_MUST;
        t->r.result = res;
        t->r.message = strdup(msg);
        t->r.transcript = strdup(tr);
        t->r.caps = strdup("");
        t->ran = 1;
        struct ms_expect_entry *e = ms_expect_match(&c->expect, id);
        t->xfail = e ? e->reason : NULL;
    }
}
