/*
 * The runner: one script, one server, one result (runner.h).
 *
 * This file runs the steps: phases (setup / check / cleanup), @either
 * branches, @requires and @login against the capabilities the server
 * announced, and the result. The wire and the framing of server messages
 * are runner_io.c's; matching S: lines against messages is runner_expect.c's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "proto_desc.h"
#include "runner_int.h"

void rt_finish(struct rt *t, enum ms_result res, size_t line, const char *fmt, ...)
{
    va_list ap;
    char m[sizeof(t->msg)];

    if (t->done)
        return;
    va_start(ap, fmt);
    vsnprintf(m, sizeof(m), fmt, ap);
    va_end(ap);
    if (t->phase == MS_PHASE_CLEANUP && (res == MS_RES_FAIL || res == MS_RES_BLOCKED)) {
        /* The behaviour under test is judged: tidying up is not. */
        snprintf(t->cleanup_note, sizeof(t->cleanup_note),
                 "note: a cleanup step did not go as scripted (not judged): %.900s", m);
        res = MS_RES_PASS;
        m[0] = '\0';
    } else if (t->phase == MS_PHASE_SETUP && res == MS_RES_FAIL) {
        /* Setup failed: the behaviour under test was never reached. */
        res = MS_RES_BLOCKED;
        static const char pre[] = "setup step did not go as scripted: ";
        size_t ml = strnlen(m, sizeof(m) - sizeof(pre));
        memmove(m + sizeof(pre) - 1, m, ml);
        memcpy(m, pre, sizeof(pre) - 1);
        m[sizeof(pre) - 1 + ml] = '\0';
    }
    /* the server's message the verdict is about, for callers that show it alone */
    const struct rt_line *l = rt_key_line(t);
    if (l && res != MS_RES_PASS)
        esc_short(t, t->got, sizeof(t->got), t->c->rbuf + l->off, l->len);
    /* several connections: the message says on which one it happened */
    if (t->s->named && res != MS_RES_PASS && m[0] && t->c && t->c->opened) {
        size_t ml = strnlen(m, sizeof(m));
        snprintf(m + ml, sizeof(m) - ml, "\n  on connection: %s", t->c->name);
    }
    t->done = 1;
    t->res = res;
    t->fail_line = line;
    memcpy(t->msg, m, sizeof(m));
}

const char *ms_result_name(enum ms_result r)
{
    switch (r) {
    case MS_RES_PASS:
        return "pass";
    case MS_RES_FAIL:
        return "fail";
    case MS_RES_NA:
        return "not-applicable";
    case MS_RES_ERROR:
        return "error";
    case MS_RES_BLOCKED:
        return "blocked";
    case MS_RES_NOT_SUPPORTED:
        return "not-supported";
    default:
        return "?";
    }
}

const char *ms_default_port(const char *protocol, enum ms_tls_mode tls)
{
    const struct ms_proto_desc *d = ms_proto_desc(protocol);
    return d ? (tls == MS_TLS_IMPLICIT ? d->tls_port : d->port) : NULL;
}

void ms_run_opts_default(struct ms_run_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->timeout_ms = 10000;
    o->max_message = MS_RUN_MESSAGE_MAX;
    ms_limits_default(&o->lim);
    /* The runner holds at most one message per direction: keep that small
     * enough that a hostile server cannot make it large. */
    o->lim.imap_literal = MS_RUN_IMAP_LITERAL;
    o->lim.imap_message = MS_RUN_MESSAGE_MAX;
}

static int pt_is_builtin(const struct ms_script *s, const char *name)
{
    for (size_t i = 0; i < MS_VAR_BUILTINS && i < s->nvars; i++)
        if (strcmp(s->vars[i], name) == 0)
            return 1;
    return 0;
}

int ms_sasl_plain_b64(const char *authz, const char *user, const char *pw, char *out, size_t cap)
{
    size_t al = strlen(authz), ul = strlen(user), pl = strlen(pw), n = 0;
    unsigned char raw[3 * MS_SASL_FIELD_MAX + 2];
    if (al > MS_SASL_FIELD_MAX || ul > MS_SASL_FIELD_MAX || pl > MS_SASL_FIELD_MAX)
        return -1;
    if (cap < 4 * ((al + ul + pl + 2 + 2) / 3) + 1)
        return -1;
    memcpy(raw, authz, al);
    n = al;
    raw[n++] = '\0';
    memcpy(raw + n, user, ul);
    n += ul;
    raw[n++] = '\0';
    memcpy(raw + n, pw, pl);
    n += pl;
    int k = EVP_EncodeBlock((unsigned char *)out, raw, (int)n);
    memset(raw, 0, n);
    return k;
}

/* Bind variable v to base64(p[0..n)). */
static int set_b64(struct ms_vars *vs, size_t v, const char *p, size_t n)
{
    size_t cap = 4 * ((n + 2) / 3) + 1;
    unsigned char *out = malloc(cap);
    if (!out)
        return -1;
    int k = EVP_EncodeBlock(out, (const unsigned char *)p, (int)n);
    int rc = k >= 0 && ms_vars_set(vs, v, (const char *)out, (size_t)k) == MS_OK ? 0 : -1;
    free(out);
    return rc;
}

/* The SASL forms of --user/--password, as `mailspec record` names them. */
static int set_sasl_vars(struct ms_vars *vs, const char *user, const char *pw)
{
    size_t ul = strlen(user), pl = strlen(pw);
    char b64[4 * ((3 * MS_SASL_FIELD_MAX + 2 + 2) / 3) + 1];
    int k = ms_sasl_plain_b64("", user, pw, b64, sizeof(b64));
    if (k < 0 || ms_vars_set(vs, MS_VAR_SASL_PLAIN, b64, (size_t)k) != MS_OK)
        return -1;
    k = ms_sasl_plain_b64(user, user, pw, b64, sizeof(b64));
    if (k < 0 || ms_vars_set(vs, MS_VAR_SASL_PLAIN_AUTHZ, b64, (size_t)k) != MS_OK)
        return -1;
    if (set_b64(vs, MS_VAR_SASL_USER, user, ul) != 0 ||
        set_b64(vs, MS_VAR_SASL_PASSWORD, pw, pl) != 0)
        return -1;
    return 0;
}

/* Render a C: step; lines of a @segment are collected and written at once. */
static int run_send(struct rt *t, const struct ms_step *st, struct sbuf *seg)
{
    /* Never the password on a transport where the server refuses cleartext
     * login (LOGINDISABLED, RFC 9051 6.2.3; certify's pre-flight for POP3
     * and SMTP): the test cannot apply here. */
    uint64_t vars = rt_step_vars(t->s, st);
    int secret = (vars & RT_SECRET_VARS) != 0;
    int pop3_user = strcmp(t->pname, "pop3") == 0 && (vars & RT_VAR(MS_VAR_USER));
    if (!t->c->tls_now && (secret || pop3_user) &&
        (t->o->cleartext_login_refused ||
         (secret && !t->c->secret_sent && strcmp(t->pname, "imap") == 0 &&
          rt_has_cap(t, "LOGINDISABLED", 13)))) {
        rt_finish(t, MS_RES_NA, st->line,
                  "%s:%zu: the server refuses login over this cleartext connection%s; the "
                  "credentials were not sent",
                  t->file, st->line,
                  rt_has_cap(t, "LOGINDISABLED", 13) ? " (it announces LOGINDISABLED)" : "");
        return -1;
    }
    if (t->o->pop3_no_user && strcmp(t->pname, "pop3") == 0 && st->nparts &&
        t->s->parts[st->part0].kind == MS_PART_LIT && t->s->parts[st->part0].len >= 5 &&
        memcmp(t->s->bytes + t->s->parts[st->part0].off, "USER ", 5) == 0) {
        rt_finish(t, MS_RES_NOT_SUPPORTED, st->line,
                  "%s:%zu: the server does not announce USER in CAPA (RFC 2449 6.8); USER and "
                  "PASS are optional (RFC 1939 7)",
                  t->file, st->line);
        return -1;
    }
    char *buf = malloc(RT_SEND_MAX);
    if (!buf) {
        rt_finish(t, MS_RES_ERROR, st->line, "out of memory");
        return -1;
    }
    ssize_t n = ms_script_render(t->s, st, &t->vars, buf, RT_SEND_MAX);
    if (n < 0) {
        const char *missing = NULL;
        for (size_t i = 0; i < st->nparts; i++) {
            const struct ms_part *pt = &t->s->parts[st->part0 + i];
            if (pt->kind != MS_PART_LIT && pt->kind != MS_PART_ANY && !t->vars.v[pt->var].bound)
                missing = t->s->vars[pt->var];
        }
        if (missing && strcmp(missing, "apop_digest") == 0 && t->c->apop == 1 && t->o->password)
            rt_finish(t, MS_RES_NOT_SUPPORTED, st->line,
                      "%s:%zu: the server's greeting has no <timestamp>: it does not offer APOP "
                      "(RFC 1939 7)",
                      t->file, st->line);
        else if (missing)
            rt_finish(t, MS_RES_ERROR, st->line, "%s:%zu: variable ${%s} is not set%s", t->file,
                      st->line, missing,
                      strcmp(missing, "host") != 0 && pt_is_builtin(t->s, missing)
                          ? " (use --user/--password)"
                          : "");
        else
            rt_finish(t, MS_RES_ERROR, st->line, "%s:%zu: line longer than %u bytes", t->file,
                      st->line, RT_SEND_MAX);
        free(buf);
        return -1;
    }
    tr_send(t, st);
    if (secret)
        t->c->secret_sent = 1;
    int rc = 0;
    if (seg)
        sb_add(seg, buf, (size_t)n);
    else
        rc = rt_send_bytes(t, st->line, buf, (size_t)n);
    free(buf);
    return rc;
}

/* Send a fixed line of the harness's own (auto STARTTLS, @login), shown in the transcript. */
static int send_own(struct rt *t, size_t line, const char *text, const char *shown)
{
    size_t n = strlen(text);
    char buf[4096];
    if (n + 2 > sizeof(buf)) {
        rt_finish(t, MS_RES_ERROR, line, "line too long");
        return -1;
    }
    memcpy(buf, text, n);
    memcpy(buf + n, "\r\n", 2);
    tr_line(t, "C: ", shown, strlen(shown));
    return rt_send_bytes(t, line, buf, n + 2);
}

/* The next whole message for the harness's own exchanges; 0 when it came. */
static int own_reply(struct rt *t, size_t line, const char *what)
{
    int r = rt_get_msg(t, rt_deadline(t), line);
    if (r == 1)
        return 0;
    if (r != -1)
        rt_finish(t, MS_RES_BLOCKED, line, "%s:%zu: %s: %s", t->file, line, what,
                  r == 0 ? "the connection closed" : "no answer in time");
    return -1;
}

/* The key line of the current message: SMTP's final line, else the first. */
static int msg_starts(const struct rt *t, const char *prefix)
{
    size_t n = strlen(prefix);
    const struct rt_line *l = rt_key_line(t);
    return l && l->len >= n && memcmp(t->c->rbuf + l->off, prefix, n) == 0;
}

/* --tls starttls with a script that has no @tls: upgrade after the greeting (a setup step). */
static int auto_starttls(struct rt *t, size_t line)
{
    const struct ms_proto_desc *d = ms_proto_desc(t->pname);
    uint8_t phase = t->phase;
    int ok = -1;

    t->c->auto_tls = 0;
    t->phase = MS_PHASE_SETUP;
    tr_note(t, "mailspec: --tls starttls: upgrading before the script's first command");
    if (!d) {
        rt_finish(t, MS_RES_ERROR, line, "--tls starttls: unknown protocol");
        goto out;
    }
    if (d->pre) {
        if (send_own(t, line, d->pre, d->pre) != 0 ||
            own_reply(t, line, "--tls starttls: the command before STARTTLS") != 0)
            goto out;
        if (!msg_starts(t, d->pre_ok)) {
            rt_finish(t, MS_RES_BLOCKED, line, "--tls starttls: %s was refused", d->pre);
            goto out;
        }
        if (!rt_has_cap(t, d->starttls_cap, strlen(d->starttls_cap))) {
            t->tls_failed = 1;
            rt_finish(t, MS_RES_NA, line, "--tls starttls: the server does not offer %s",
                      d->starttls_cap);
            goto out;
        }
    }
    if (send_own(t, line, d->starttls, d->starttls) != 0)
        goto out;
    do { /* IMAP: untagged responses may come before the tagged answer */
        if (own_reply(t, line, "--tls starttls: the upgrade") != 0)
            goto out;
    } while (!msg_starts(t, d->starttls_answer));
    if (!msg_starts(t, d->starttls_ok)) {
        t->tls_failed = 1;
        rt_finish(t, MS_RES_BLOCKED, line, "--tls starttls: the server refused the upgrade");
        goto out;
    }
    ok = rt_tls(t, line);
out:
    t->phase = phase;
    return ok;
}

/*
 * @login (SMTP): AUTH PLAIN with the run's credentials when they were given
 * and the last EHLO announced AUTH with PLAIN; otherwise nothing (a server
 * that relays without AUTH is tested as it is). A refusal blocks the test
 * in a setup step.
 */
static int run_login(struct rt *t, const struct ms_step *st)
{
    if (strcmp(t->pname, "smtp") != 0 || !t->o->user || !t->o->password)
        return 0;
    /* the server logs users in only inside TLS (certify's pre-flight): the
     * test, which needs a login here, does not apply on this connection */
    if (!t->c->tls_now && t->o->cleartext_login_refused) {
        rt_finish(t, MS_RES_NA, st->line,
                  "%s:%zu: the server refuses login over this cleartext connection; the "
                  "credentials were not sent",
                  t->file, st->line);
        return -1;
    }
    if (!rt_has_cap(t, "AUTH=PLAIN", 10))
        return 0;
    t->c->secret_sent = 1;
    const struct ms_vars *v = &t->vars;
    char cmd[4096];
    int k = snprintf(cmd, sizeof(cmd), "AUTH PLAIN %.*s", (int)v->v[MS_VAR_SASL_PLAIN].len,
                     v->buf + v->v[MS_VAR_SASL_PLAIN].off);
    if (k < 0 || (size_t)k >= sizeof(cmd)) {
        rt_finish(t, MS_RES_ERROR, st->line, "--user/--password too long");
        return -1;
    }
    if (send_own(t, st->line, cmd, "AUTH PLAIN ${sasl_plain}") != 0 ||
        own_reply(t, st->line, "@login") != 0)
        return -1;
    if (!msg_starts(t, "235")) {
        rt_finish(t, MS_RES_FAIL, st->line,
                  "%s:%zu: @login: AUTH PLAIN was refused (a success is 235, RFC 4954 6)", t->file,
                  st->line);
        return -1;
    }
    return 0;
}

static void sleep_ms(const struct rt *t, uint64_t ms)
{
    uint64_t end = ms_now_ms() + ms;
    while (ms_now_ms() < end && !(t->o->stop && *t->o->stop)) {
        uint64_t left = end - ms_now_ms();
        if (left > 100)
            left = 100;
        struct timespec ts = {0, (long)left * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void add_filter(struct rt *t, const struct ms_step *st)
{
    if (st->type == MS_STEP_ALLOW && t->nallow < RT_MAX_FILTERS)
        t->allow[t->nallow++] = st;
    else if (st->type == MS_STEP_FORBID && t->nforbid < RT_MAX_FILTERS)
        t->forbid[t->nforbid++] = st;
}

/* @requires CAP: the last capability list the server sent names CAP (or NAME=PARAM). */
static void run_requires(struct rt *t, const struct ms_step *st)
{
    const struct ms_part *pt = &t->s->parts[st->part0];
    const char *cap = t->s->bytes + pt->off;

    if (!t->c->caps_seen) {
        rt_finish(t, MS_RES_ERROR, st->line,
                  "%s:%zu: @requires before any capability list (put it after CAPABILITY, "
                  "EHLO or CAPA)",
                  t->file, st->line);
        return;
    }
    if (!rt_has_cap(t, cap, pt->len))
        rt_finish(t, MS_RES_NOT_SUPPORTED, st->line,
                  "%s:%zu: the server does not announce %.*s (@requires)", t->file, st->line,
                  (int)pt->len, cap);
}

/*
 * @either branches: the steps of the branches this run does not take are
 * skipped. *branch is -1 outside @either; *depth counts the @segment and
 * @unordered blocks open in a skipped branch (their @end is theirs).
 * Returns 1 when st is not to be run.
 */
static int branch_skip(const struct rt *t, const struct ms_step *st, int in_block, int *branch,
                       int *depth)
{
    if (st->type == MS_STEP_EITHER) {
        *branch = 0;
        return 1;
    }
    if (*branch < 0)
        return 0;
    if (st->type == MS_STEP_OR && *depth == 0) {
        (*branch)++;
        return 1;
    }
    int taken = (unsigned)*branch == t->variant;
    if (st->type == MS_STEP_END && *depth == 0 && !in_block) {
        *branch = -1; /* the @either's own @end */
        return 1;
    }
    if (taken)
        return 0;
    if (st->type == MS_STEP_SEGMENT || st->type == MS_STEP_UNORDERED)
        (*depth)++;
    else if (st->type == MS_STEP_END)
        (*depth)--;
    return 1;
}

/*
 * In tidy_up: the message answers the step though it does not match, when
 * both start with the same first word that is no "*" or "+" (an IMAP tag: a
 * CLOSE refused because the setup never selected the mailbox still lets the
 * DELETE after it run).
 */
static int tidy_answered(const struct rt *t, const struct ms_step *st)
{
    const struct ms_script *s = t->s;
    const struct rt_line *k = rt_key_line(t);
    if (!k || st->nparts == 0 || s->parts[st->part0].kind != MS_PART_LIT)
        return 0;
    const char *w = s->bytes + s->parts[st->part0].off;
    size_t wn = 0, n = s->parts[st->part0].len;
    while (wn < n && w[wn] != ' ')
        wn++;
    if (wn == 0 || wn == n || w[0] == '*' || w[0] == '+')
        return 0;
    const char *l = t->c->rbuf + k->off;
    return k->len > wn && l[wn] == ' ' && memcmp(l, w, wn) == 0;
}

/*
 * After a run that stopped early, the script's cleanup steps (DELETE the
 * mailbox the test created, LOGOUT) still run, best effort: the verdict is
 * already made and nothing here changes it. Stops at the first step that
 * cannot run (a variable never captured, no answer within --timeout, a close).
 */
static void tidy_up(struct rt *t)
{
    const struct ms_script *s = t->s;
    size_t first = s->nsteps;

    if (t->o->stop && *t->o->stop)
        return;
    while (first > 0 && s->steps[first - 1].phase == MS_PHASE_CLEANUP)
        first--;
    if (first == s->nsteps || first == 0)
        return;
    /* the cleanup steps run on the connection of the first of them; the
     * steps of a connection never opened (or gone) are skipped, those of
     * the others still run: a connection opened late in the setup must not
     * keep the first one from deleting what it created */
    t->c = &t->conns[s->steps[first].conn];
    int skip = !t->c->open || t->c->eof, noted = 0;
    for (size_t i = first; i < s->nsteps; i++) {
        const struct ms_step *st = &s->steps[i];
        if (st->type == MS_STEP_SWITCH) {
            t->c = &t->conns[st->arg];
            skip = !t->c->open || t->c->eof;
        } else if (skip) {
            continue;
        } else if (st->type == MS_STEP_SEND) {
            char buf[4096];
            ssize_t n = ms_script_render(s, st, &t->vars, buf, sizeof(buf));
            if (n < 0 || (rt_step_vars(s, st) & RT_SECRET_VARS))
                return;
            if (!noted++)
                tr_note(t,
                        "mailspec: the run stopped early; its cleanup steps follow (not judged)");
            tr_send(t, st);
            char err[256];
            if (ms_conn_write(&t->c->conn, buf, (size_t)n, ms_now_ms() + 2000, err, sizeof(err)) !=
                0) {
                skip = 1; /* this connection is gone */
                continue;
            }
            if (t->c->strict)
                ms_session_feed(&t->c->ss, 0, st->line, buf, (size_t)n);
        } else if (st->type == MS_STEP_EXPECT && !st->nocrlf) {
            /* the message this S: line is for, past any the server sent
             * unasked (a late EXISTS): DELETE is done before the next run
             * creates the mailbox again */
            uint64_t dl = rt_deadline(t);
            do {
                if (rt_get_msg(t, dl, st->line) != 1) {
                    skip = 1; /* no answer: go on with the other connections */
                    break;
                }
            } while (!rt_msg_matches(t, st) && !tidy_answered(t, st));
        }
    }
}

static void run_steps(struct rt *t)
{
    const struct ms_script *s = t->s;
    struct sbuf seg = {NULL, 0, 0, 1u << 20, 0};
    int in_seg = 0, branch = -1, depth = 0;
    size_t seg_line = 0;

    t->phase = s->nsteps ? s->steps[0].phase : MS_PHASE_CHECK;
    /* The first connection opens at once, as a one-connection script always
     * did (its greeting is the first S:); the others on their first use. A
     * script that starts with @connection NAME does not open "main". */
    size_t f = 0;
    while (f < s->nsteps && !ms_step_uses_conn(s->steps[f].type) &&
           s->steps[f].type != MS_STEP_SWITCH)
        f++;
    if ((f == s->nsteps || s->steps[f].type != MS_STEP_SWITCH) && rt_open(t, 1) != 0)
        return;
    for (size_t i = 0; i < s->nsteps && !t->done; i++) {
        const struct ms_step *st = &s->steps[i];
        if (t->o->stop && *t->o->stop) {
            rt_finish(t, MS_RES_ERROR, st->line, "interrupted");
            break;
        }
        if (branch_skip(t, st, in_seg, &branch, &depth))
            continue;
        t->phase = st->phase;
        if (!t->c->open && ms_step_uses_conn(st->type)) {
            if (t->c->opened) {
                rt_finish(t, MS_RES_ERROR, st->line,
                          "%s:%zu: the connection was closed by @close; use @connection to open "
                          "another",
                          t->file, st->line);
                break;
            }
            if (rt_open(t, st->line) != 0)
                break;
        }
        switch (st->type) {
        case MS_STEP_SEND:
            if (t->c->auto_tls && auto_starttls(t, st->line) != 0)
                break;
            run_send(t, st, in_seg ? &seg : NULL);
            break;
        case MS_STEP_EXPECT:
            if (st->nocrlf) {
                rt_expect_nocrlf(t, st);
            } else {
                long last = rt_expect(t, i);
                /* filters between the S: lines that took the message apply from now on */
                for (size_t k = i + 1; last >= 0 && k <= (size_t)last; k++)
                    add_filter(t, &s->steps[k]);
                if (last >= 0)
                    i = (size_t)last;
            }
            t->nunsup = 0;
            break;
        case MS_STEP_SEGMENT:
            if (t->c->auto_tls && auto_starttls(t, st->line) != 0)
                break;
            in_seg = 1;
            seg_line = st->line;
            seg.len = 0;
            tr_note(t, "@segment: the next lines are written at once");
            break;
        case MS_STEP_UNORDERED: {
            size_t end = i + 1;
            while (end < s->nsteps && s->steps[end].type != MS_STEP_END)
                end++;
            tr_note(t, "@unordered");
            rt_unordered(t, i + 1, end);
            t->nunsup = 0;
            i = end; /* the @end */
            break;
        }
        case MS_STEP_END:
            if (in_seg) {
                in_seg = 0;
                if (seg.truncated)
                    rt_finish(t, MS_RES_ERROR, seg_line, "%s:%zu: @segment larger than 1 MiB",
                              t->file, seg_line);
                else if (seg.len)
                    rt_send_bytes(t, seg_line, seg.p, seg.len);
                tr_note(t, "@end of segment");
            }
            break;
        case MS_STEP_TLS:
            rt_tls(t, st->line);
            break;
        case MS_STEP_TLS_CLOSE:
            if (t->c->auto_tls && auto_starttls(t, st->line) != 0)
                break;
            rt_tls_close(t, st->line);
            break;
        case MS_STEP_CLOSE:
            rt_expect_close(t, st);
            break;
        case MS_STEP_SLEEP:
            sleep_ms(t, st->arg);
            break;
        case MS_STEP_CONNECTION:
            rt_close(t);
            tr_note(t, "@connection");
            rt_open(t, st->line);
            break;
        case MS_STEP_SWITCH:
            t->c = &t->conns[st->arg];
            break;
        case MS_STEP_REQUIRES:
            run_requires(t, st);
            break;
        case MS_STEP_ALLOW:
        case MS_STEP_FORBID:
            add_filter(t, st);
            break;
        case MS_STEP_UNSUPPORTED:
            if (t->nunsup < RT_MAX_UNSUP)
                t->unsup[t->nunsup++] = st;
            break;
        case MS_STEP_LOGIN:
            if (t->c->auto_tls && auto_starttls(t, st->line) != 0)
                break;
            run_login(t, st);
            break;
        case MS_STEP_PHASE:
            tr_note(t, "@phase %s",
                    st->arg == MS_PHASE_SETUP     ? "setup"
                    : st->arg == MS_PHASE_CLEANUP ? "cleanup"
                                                  : "check");
            break;
        default:
            break;
        }
    }
    free(seg.p);
    if (!t->done)
        rt_finish(t, MS_RES_PASS, 0, "%s", "");
    else if (t->res != MS_RES_PASS && !in_seg)
        tidy_up(t);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s ? s : "");
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, s ? s : "", n + 1);
    return d;
}

/* The transports a script applies to, as text. */
static void transports_text(unsigned mask, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s%s", mask & MS_TRANSPORT_NONE ? "none " : "",
             mask & MS_TRANSPORT_STARTTLS ? "starttls " : "",
             mask & MS_TRANSPORT_IMPLICIT ? "implicit " : "");
}

/* Bind the builtins given on the command line. Returns 0 or -1 (result set). */
static int bind_builtins(struct rt *t)
{
    const struct ms_run_opts *o = t->o;
    const char *vals[MS_VAR_BUILTINS] = {0};

    vals[MS_VAR_USER] = o->user;
    vals[MS_VAR_PASSWORD] = o->password;
    vals[MS_VAR_HOST] = o->host;
    /* ${run}: --run-id, then a part of this script's own (its file name
     * hashed), so scripts that run at once (--jobs) never share a mailbox
     * name: "ms1a2b3c-5f03e1" */
    char run[64];
    if (o->run_id) {
        uint32_t h = 2166136261u; /* FNV-1a */
        for (const char *c = t->file; *c; c++)
            h = (h ^ (unsigned char)*c) * 16777619u;
        /* a later @either branch runs again from the start: a name of its
         * own, so a mailbox the last run could not delete does not block it */
        if (t->variant)
            snprintf(run, sizeof(run), "%.40s-%06x-%u", o->run_id, (unsigned)(h & 0xffffffu),
                     t->variant + 1);
        else
            snprintf(run, sizeof(run), "%.40s-%06x", o->run_id, (unsigned)(h & 0xffffffu));
        vals[MS_VAR_RUN] = run;
    }
    vals[MS_VAR_RCPT] = o->rcpt;
    vals[MS_VAR_FROM] = o->mail_from;
    for (size_t i = 0; i < MS_VAR_BUILTINS; i++)
        if (vals[i] && ms_vars_set(&t->vars, i, vals[i], strlen(vals[i])) != MS_OK) {
            rt_finish(t, MS_RES_ERROR, 0, "--%s too long", ms_script_builtin_vars[i]);
            return -1;
        }
    if (o->password && strpbrk(o->password, "\"\\")) {
        size_t n = strlen(o->password), k = 0;
        t->pw_quoted = malloc(2 * n + 1);
        if (!t->pw_quoted) {
            rt_finish(t, MS_RES_ERROR, 0, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            if (o->password[i] == '"' || o->password[i] == '\\')
                t->pw_quoted[k++] = '\\';
            t->pw_quoted[k++] = o->password[i];
        }
        t->pw_quoted_len = k;
    }
    if (o->user && o->password && set_sasl_vars(&t->vars, o->user, o->password) != 0) {
        rt_finish(t, MS_RES_ERROR, 0, "--user/--password too long");
        return -1;
    }
    return 0;
}

/* The script sends the user name or the password (or a form of them). */
static int sends_credentials(const struct ms_script *s)
{
    for (size_t i = 0; i < s->nsteps; i++)
        if (s->steps[i].type == MS_STEP_SEND &&
            (rt_step_vars(s, &s->steps[i]) & RT_CREDENTIAL_VARS))
            return 1;
    return 0;
}

/* Whether the script applies to this run; finishes t (not-applicable, error) when not. */
static void applicability(struct rt *t)
{
    const struct ms_run_opts *o = t->o;
    const struct ms_script *s = t->s;
    unsigned mode_bit = o->tls == MS_TLS_IMPLICIT   ? MS_TRANSPORT_IMPLICIT
                        : o->tls == MS_TLS_STARTTLS ? MS_TRANSPORT_STARTTLS
                                                    : MS_TRANSPORT_NONE;
    if (!t->pname) {
        rt_finish(t, MS_RES_ERROR, 0, "%s: protocol unknown: give --protocol or @protocol",
                  t->file);
    } else if (o->protocol && s->protocol[0] && strcmp(o->protocol, s->protocol) != 0) {
        rt_finish(t, MS_RES_NA, 0, "%s: a %s test; this run is %s", t->file, s->protocol,
                  o->protocol);
    } else if (s->transports && !(s->transports & mode_bit)) {
        char tt[64];
        transports_text(s->transports, tt, sizeof(tt));
        rt_finish(t, MS_RES_NA, 0, "%s: applies to transport(s) %sbut this run uses --tls %s",
                  t->file, tt, ms_tls_mode_name(o->tls));
    } else if (s->has_tls && o->tls == MS_TLS_IMPLICIT) {
        rt_finish(t, MS_RES_NA, 0,
                  "%s: the script upgrades with @tls; it does not apply over implicit TLS",
                  t->file);
    } else if (!o->port) {
        rt_finish(t, MS_RES_ERROR, 0, "no port: give --port");
    } else if ((!o->user || !o->password) && sends_credentials(s)) {
        rt_finish(t, MS_RES_NA, 0, "%s: the test logs in: give --user and --password", t->file);
    }
}

/* One run of the script (one @either branch). */
static struct rt *run_variant(const struct ms_script *s, const char *file,
                              const struct ms_run_opts *o, unsigned variant)
{
    struct rt *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->s = s;
    t->file = file;
    t->o = o;
    t->variant = variant;
    t->lim = o->lim;
    t->lim.lenient |= s->lenient;
    t->rmax = o->max_message ? o->max_message : MS_RUN_MESSAGE_MAX;
    for (size_t i = 0; i < s->nconns && i < MS_SCRIPT_MAX_CONNS; i++)
        t->conns[i].name = s->conns[i];
    t->c = &t->conns[0];
    t->tr.max = RT_TRANSCRIPT_MAX;
    ms_vars_init(&t->vars);
    t->pname = o->protocol ? o->protocol : (s->protocol[0] ? s->protocol : NULL);
    t->match_flags = t->pname && (strcmp(t->pname, "imap") == 0 || strcmp(t->pname, "smtp") == 0)
                         ? MS_MATCH_NOCASE
                         : 0;
    if (bind_builtins(t) == 0)
        applicability(t);
    if (!t->done) {
        t->proto = ms_proto_find(t->pname);
        if (!t->proto)
            snprintf(t->note, sizeof(t->note),
                     "note: no strict %s parser is registered in this build; responses were "
                     "matched but their syntax was not checked",
                     t->pname);
        if (s->nalts)
            tr_note(t, "mailspec: @either branch %u of %u", variant + 1, s->nalts);
        run_steps(t);
    }
    rt_close_all(t);
    return t;
}

static void rt_free(struct rt *t)
{
    if (!t)
        return;
    rt_close_all(t);
    free(t->tr.p);
    free(t->pw_quoted);
    free(t);
}

/* A result the other branches may still turn into a pass. */
static int may_retry(enum ms_result r)
{
    return r == MS_RES_FAIL || r == MS_RES_BLOCKED;
}

void ms_run_script(const struct ms_script *s, const char *file, const struct ms_run_opts *o,
                   struct ms_test_result *r)
{
    uint64_t start = ms_now_ms();
    char idbuf[512];

    memset(r, 0, sizeof(*r));
    struct rt *t = run_variant(s, file, o, 0);
    if (!t) {
        r->result = MS_RES_ERROR;
        r->message = dup_str("out of memory");
        return;
    }
    /* @either: the test passes when the common steps and any one branch do. */
    char *others = NULL;
    for (unsigned v = 1; v < s->nalts && may_retry(t->res) && !(o->stop && *o->stop); v++) {
        struct rt *a = run_variant(s, file, o, v);
        if (!a)
            break;
        size_t ml = strlen(t->msg) + strlen(a->msg) + (others ? strlen(others) : 0) + 96;
        char *m = malloc(ml);
        if (a->res == MS_RES_PASS) {
            if (m)
                snprintf(m, ml, "passed with @either branch %u (branch 1: %s)", v + 1, t->msg);
            rt_free(t);
            t = a;
            if (m)
                snprintf(t->msg, sizeof(t->msg), "%s", m);
            free(m);
            break;
        }
        if (m)
            snprintf(m, ml, "%s\nbranch %u: %s", others ? others : "", v + 1, a->msg);
        free(others);
        others = m;
        rt_free(a);
    }
    if (others && t->res != MS_RES_PASS) {
        size_t l = strlen(t->msg);
        snprintf(t->msg + l, sizeof(t->msg) - l, "%s", others);
    }
    free(others);

    /* the result */
    if (s->id[0]) {
        r->id = dup_str(s->id);
    } else {
        /* no @test: the file name without directories and extension */
        const char *b = strrchr(file, '/');
        b = b ? b + 1 : file;
        size_t n = strlen(b);
        if (n > 8 && strcmp(b + n - 8, ".session") == 0)
            n -= 8;
        snprintf(idbuf, sizeof(idbuf), "%.*s", (int)(n < 400 ? n : 400), b);
        r->id = dup_str(idbuf);
    }
    r->file = dup_str(file);
    r->title = dup_str(s->title);
    r->rfc = dup_str(s->rfc);
    r->quote = dup_str(s->quote);
    r->finding = dup_str(t->res == MS_RES_FAIL ? s->finding : "");
    r->protocol = dup_str(t->pname ? t->pname : "");
    r->level = s->level;
    r->result = t->res;
    {
        char m[sizeof(t->msg) + sizeof(t->note) + sizeof(t->cleanup_note) + 4];
        if (t->res == MS_RES_FAIL && s->finding[0])
            snprintf(m, sizeof(m), "FINDING: %s\n%s", s->finding, t->msg);
        else
            snprintf(m, sizeof(m), "%s", t->msg);
        if (t->cleanup_note[0])
            snprintf(m + strlen(m), sizeof(m) - strlen(m), "%s%s", m[0] ? "\n" : "",
                     t->cleanup_note);
        if (t->note[0] && t->res != MS_RES_NA)
            snprintf(m + strlen(m), sizeof(m) - strlen(m), "%s%s", m[0] ? "\n" : "", t->note);
        r->message = dup_str(m);
    }
    r->transcript = dup_str(t->tr.p ? t->tr.p : "");
    if (t->tr.truncated && r->transcript) {
        char *nt = realloc(r->transcript, strlen(r->transcript) + 40);
        if (nt) {
            r->transcript = nt;
            memcpy(nt + strlen(nt), "# ... transcript truncated\n", 28);
        }
    }
    r->fail_line = t->fail_line;
    r->tls = t->tls;
    r->conn_error = t->conn_error;
    r->tls_failed = t->tls_failed;
    r->caps = rt_caps_text(t);
    r->got = dup_str(t->got);
    r->duration_ms = ms_now_ms() - start;
    r->interrupted = o->stop && *o->stop;
    rt_free(t);
}

void ms_test_result_free(struct ms_test_result *r)
{
    free(r->file);
    free(r->id);
    free(r->title);
    free(r->rfc);
    free(r->quote);
    free(r->finding);
    free(r->protocol);
    free(r->message);
    free(r->transcript);
    free(r->caps);
    free(r->got);
    memset(r, 0, sizeof(*r));
}
