/*
 * mailspec serve: one script against one client (serve.h, docs/serve.md).
 *
 * The client's bytes are framed and parsed by the protocol's strict command
 * parser; every complete command (or grammar error) drives the script: an
 * expected `C:` pattern advances it, a forbidden one fails it, an allowed
 * one (and everything after the script's last step) is answered by the
 * built-in responder. What mailspec sends goes through the strict reply
 * parser too, so the command side knows when a reply opens DATA, a SASL
 * exchange or a POP3 multi-line response.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "mailspec/imap_command.h"
#include "mailspec/pop3.h"
#include "mailspec/smtp.h"
#include "record_tls.h"
#include "serve.h"

#define SV_TRANSCRIPT_MAX (256u * 1024)
#define SV_LOG_MAX        (10u * 1024 * 1024)
#define SV_STREAM_BUF     (MS_RUN_MESSAGE_MAX)

/* ---------------------------------------------------------- the script -- */

static int directive_is(const char *p, size_t n, const char *name, const char **arg, size_t *argn)
{
    size_t k = strlen(name);
    if (n < k || memcmp(p, name, k) != 0 || (n > k && p[k] != ' '))
        return 0;
    size_t a = k;
    while (a < n && p[a] == ' ')
        a++;
    size_t e = n;
    while (e > a && (p[e - 1] == ' ' || p[e - 1] == '\r'))
        e--;
    *arg = p + a;
    *argn = e - a;
    return 1;
}

int sv_script_parse(const char *text, size_t len, struct sv_script *out,
                    struct ms_script_error *err)
{
    memset(out, 0, sizeof(*out));
    char *t = malloc(len + 1);
    if (!t) {
        err->line = err->col = 1;
        err->reason = "out of memory";
        return -1;
    }
    memcpy(t, text, len);
    t[len] = '\0';
    int seen_exit = 0;
    size_t line = 1;
    for (size_t i = 0; i < len; line++) {
        size_t e = i;
        while (e < len && t[e] != '\n')
            e++;
        const char *arg;
        size_t an;
        /* the roles swap: the script's C: lines are the patterns, S: lines are sent */
        if (e - i >= 2 && (t[i] == 'C' || t[i] == 'S') && t[i + 1] == ':')
            t[i] = t[i] == 'C' ? 'S' : 'C';
        else if (directive_is(t + i, e - i, "@client-exit", &arg, &an)) {
            if (seen_exit || !((an == 2 && memcmp(arg, "ok", 2) == 0) ||
                               (an == 3 && memcmp(arg, "any", 3) == 0))) {
                err->line = line;
                err->col = 1;
                err->reason =
                    seen_exit ? "@client-exit given twice" : "@client-exit takes ok or any";
                free(t);
                return -1;
            }
            seen_exit = 1;
            out->client_exit = an == 2 ? SV_EXIT_OK : SV_EXIT_ANY;
            t[i] = '#';
        } else if (directive_is(t + i, e - i, "@mailbox", &arg, &an)) {
            if (out->tricky || an != 6 || memcmp(arg, "tricky", 6) != 0) {
                err->line = line;
                err->col = 1;
                err->reason = "@mailbox takes tricky, once";
                free(t);
                return -1;
            }
            out->tricky = 1;
            t[i] = '#';
        } else if (directive_is(t + i, e - i, "@cert", &arg, &an)) {
            int ok = an > 0 && an < sizeof(out->cert) && !out->cert[0];
            for (size_t k = 0; ok && k < an; k++)
                ok = (arg[k] >= 'a' && arg[k] <= 'z') || (arg[k] >= '0' && arg[k] <= '9') ||
                     arg[k] == '-' || arg[k] == '_';
            if (!ok) {
                err->line = line;
                err->col = 1;
                err->reason = "@cert takes one name (a-z, 0-9, '-', '_'), once";
                free(t);
                return -1;
            }
            memcpy(out->cert, arg, an);
            out->cert[an] = '\0';
            t[i] = '#';
        }
        i = e + 1;
    }
    out->s = ms_script_parse(t, len, err);
    free(t);
    if (!out->s)
        return -1;
    for (size_t i = 0; i < out->s->nsteps; i++) {
        const struct ms_step *st = &out->s->steps[i];
        const char *why = NULL;
        switch (st->type) {
        case MS_STEP_REQUIRES:
        case MS_STEP_UNSUPPORTED:
        case MS_STEP_LOGIN:
        case MS_STEP_EITHER:
        case MS_STEP_OR:
            why = "not available in serve scripts (@requires, @unsupported, @login, @either)";
            break;
        case MS_STEP_TLS_CLOSE:
            why = "@tls-close is not available in serve scripts";
            break;
        case MS_STEP_EXPECT:
            if (st->nocrlf)
                why = "@nocrlf on a C: line is not available in serve scripts";
            break;
        default:
            break;
        }
        if (why) {
            err->line = st->line;
            err->col = st->col;
            err->reason = why;
            ms_script_free(out->s);
            out->s = NULL;
            return -1;
        }
    }
    return 0;
}

void sv_script_free(struct sv_script *s)
{
    ms_script_free(s->s);
    s->s = NULL;
}

/* ------------------------------------------------------------- the run -- */

enum { W_NONE = 0, W_EXPECT, W_UNORDERED, W_CLOSE };

struct sv {
    const struct sv_script *ss;
    const struct ms_script *s;
    const struct sv_opts *o;
    const struct ms_proto *proto;
    struct ms_test_result *r;
    unsigned mflags;
    struct ms_limits lim;
    /* the connection */
    struct ms_conn c;
    int open;
    SSL_CTX *ctx;
    /* client -> server and server -> client, framed by the strict parsers */
    struct ms_stream cs, rs;
    void *cstate, *cview, *rstate, *rview;
    char *cbuf, *rbuf;
    /* the client's recent bytes (for the raw text of each command) */
    char *log;
    size_t loglen, logcap;
    uint64_t logbase;
    /* the script */
    size_t i;
    int waiting;
    size_t ufirst, uend;
    uint8_t umatched[256];
    size_t allow[64], nallow, forbid[64], nforbid;
    uint8_t phase;
    struct ms_vars vars;
    int in_segment;
    char *seg;
    size_t seglen;
    int script_done;
    /* set while handling a message, acted on by the loop */
    int tls_pending, closing, next_conn;
    int saw_connection;
    /* the verdict so far */
    int decided;
    struct sv_resp resp;
    char *tr;
    size_t trlen;
    int tr_full;
    int write_failed;
    size_t sent;           /* writes on this connection */
    int tls_refused;       /* passed because the client broke off the handshake */
    uint64_t lit_go_ahead; /* stream offset of the last literal given a "+" */
};

static void tr_add(struct sv *v, const char *s, size_t n)
{
    if (v->tr_full)
        return;
    if (v->trlen + n + 64 > SV_TRANSCRIPT_MAX) {
        const char *cut = "# (transcript cut at 256 KiB)\n";
        memcpy(v->tr + v->trlen, cut, strlen(cut));
        v->trlen += strlen(cut);
        v->tr_full = 1;
        return;
    }
    memcpy(v->tr + v->trlen, s, n);
    v->trlen += n;
}

static void tr_note(struct sv *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tr_note(struct sv *v, const char *fmt, ...)
{
    char buf[1200];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t k = (size_t)n < sizeof(buf) - 2 ? (size_t)n : sizeof(buf) - 3;
    tr_add(v, "# ", 2);
    tr_add(v, buf, k);
    tr_add(v, "\n", 1);
}

/* One item, escaped: "S: " or "C: " and the bytes without their CRLF, then
 * suffix as it is (a ${variable} in place of a credential). */
static void tr_item_sfx(struct sv *v, const char *prefix, const char *p, size_t n,
                        const char *suffix)
{
    char buf[4096];
    struct ms_out o;
    ms_out_init(&o, buf, sizeof(buf));
    int cut = n > 1000;
    ms_script_escape(&o, p, cut ? 1000 : n);
    tr_add(v, prefix, strlen(prefix));
    tr_add(v, buf, o.len);
    if (cut) {
        char more[64];
        int k = snprintf(more, sizeof(more), "\n# (%zu more bytes)", n - 1000);
        tr_add(v, more, (size_t)k);
    }
    tr_add(v, suffix, strlen(suffix));
    tr_add(v, "\n", 1);
}

static void tr_item(struct sv *v, const char *prefix, const char *p, size_t n)
{
    tr_item_sfx(v, prefix, p, n, "");
}

/* Lines sent by mailspec, one S: item each. */
static void tr_sent(struct sv *v, const char *p, size_t n)
{
    while (n) {
        size_t k = 0;
        while (k < n && p[k] != '\n')
            k++;
        size_t l = k > 0 && p[k - 1] == '\r' ? k - 1 : k;
        if (k == n) {
            tr_add(v, "@nocrlf\n", 8);
            l = k;
        }
        tr_item(v, "S: ", p, l);
        if (k == n)
            break;
        p += k + 1;
        n -= k + 1;
    }
}

static char *dupn(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

static char *dups(const char *s)
{
    return dupn(s ? s : "", s ? strlen(s) : 0);
}

/* The verdict: the first one stands. */
static void decide(struct sv *v, enum ms_result res, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void decide(struct sv *v, enum ms_result res, size_t line, const char *fmt, ...)
{
    if (v->decided)
        return;
    char buf[1200];
    int off = 0;
    if (res == MS_RES_FAIL && v->s->finding[0])
        off = snprintf(buf, sizeof(buf), "FINDING: %s: ", v->s->finding);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + off, sizeof(buf) - (size_t)off, fmt, ap);
    va_end(ap);
    v->decided = 1;
    v->r->result = res;
    v->r->fail_line = line;
    free(v->r->message);
    v->r->message = dups(buf);
    if (res == MS_RES_FAIL) {
        free(v->r->finding);
        v->r->finding = dups(v->s->finding);
    }
    tr_note(v, "%s: %s", ms_result_name(res), buf);
}

static void pattern_text(const struct sv *v, const struct ms_step *st, char *out, size_t cap)
{
    struct ms_out o;
    ms_out_init(&o, out, cap - 1);
    ms_script_pattern_text(v->s, st, &o);
    out[o.len] = '\0';
}

/* Bytes to the client, through the reply parser (and into the transcript). */
static void send_bytes(struct sv *v, const char *p, size_t n)
{
    char err[256];
    if (!n || !v->open)
        return;
    v->sent++;
    tr_sent(v, p, n);
    ms_stream_feed(&v->rs, p, n);
    if (ms_conn_write(&v->c, p, n, ms_now_ms() + v->o->timeout_ms, err, sizeof(err)) != 0) {
        tr_note(v, "writing to the client failed: %s", err);
        v->write_failed = 1;
    }
}

static void r_emit(void *ctx, const struct ms_kind *k, const void *view, const struct ms_error *err,
                   uint64_t off, uint64_t len)
{
    struct sv *v = ctx;
    (void)k;
    (void)off;
    (void)len;
    if (view && v->proto->reply_seen)
        v->proto->reply_seen(v->cstate, view);
    if (err)
        tr_note(v, "(mailspec's reply breaks %s: %s - as the script sent it)", err->rule,
                err->reason);
}

static void advance(struct sv *v);

/* The text a transcript shows for a client message: credentials replaced (by type). */
static size_t shown_text(const struct sv *v, const void *view, const char *raw, size_t n, char *out,
                         size_t cap, const char **suffix)
{
    *suffix = "";
    /* The view's slices point into the parser's copy of the message, not
     * into raw: offsets are taken from the view and applied to raw. */
    char keep[300];
    size_t keepn = 0;
    const char *repl = NULL;
    if (view && strcmp(v->proto->name, "imap") == 0) {
        const struct ms_imap_command *c = view;
        const struct ms_imap_cnode *a = c->nnodes > 1 ? &c->nodes[c->nodes[0].child] : NULL;
        if (c->msg == MS_IMAP_MSG_SASL) {
            repl = "${sasl_redacted}";
        } else if (c->msg == MS_IMAP_MSG_COMMAND && a && c->nodes[0].child &&
                   (c->cmd == MS_IMAP_CMD_LOGIN || c->cmd == MS_IMAP_CMD_AUTHENTICATE) &&
                   (c->cmd == MS_IMAP_CMD_LOGIN || a->next)) {
            size_t end = (size_t)(a->text.ptr + a->text.len - c->tag.ptr);
            if (a->form == MS_IMAP_CF_QUOTED)
                end++;
            keepn = end <= n && end < sizeof(keep) ? end : 0;
            memcpy(keep, raw, keepn);
            repl = c->cmd == MS_IMAP_CMD_LOGIN ? " ${password}" : " ${sasl_redacted}";
        }
    } else if (view && strcmp(v->proto->name, "smtp") == 0) {
        const struct ms_smtp_command *c = view;
        if (c->type == MS_SMTP_T_SASL && !c->cancel)
            repl = "${sasl_redacted}";
        else if (c->type == MS_SMTP_T_COMMAND && c->verb == MS_SMTP_AUTH && c->has_response) {
            int k = snprintf(keep, sizeof(keep), "AUTH %.*s",
                             (int)(c->arg.len < 64 ? c->arg.len : 64), c->arg.ptr);
            keepn = (size_t)k;
            repl = " ${sasl_redacted}";
        }
    } else if (view) {
        const struct ms_pop3_command *c = view;
        if (c->cmd == MS_POP3_PASS)
            repl = "PASS ${password}";
        else if (c->cmd == MS_POP3_SASL_RESPONSE)
            repl = "${sasl_redacted}";
        else if (c->cmd == MS_POP3_AUTH && c->nargs == 2) {
            int k = snprintf(keep, sizeof(keep), "AUTH %.*s",
                             (int)(c->arg[0].len < 64 ? c->arg[0].len : 64), c->arg[0].ptr);
            keepn = (size_t)k;
            repl = " ${sasl_redacted}";
        }
    }
    if (!repl) {
        size_t k = n < cap ? n : cap;
        memcpy(out, raw, k);
        /* a password the client sent in a command the parser could not type */
        const char *pw = v->o->password;
        if (!view && pw && *pw) {
            size_t pl = strlen(pw);
            for (size_t i = 0; i + pl <= k; i++)
                if (memcmp(out + i, pw, pl) == 0)
                    memset(out + i, '*', pl);
        }
        return k;
    }
    if (keepn > cap)
        keepn = cap;
    memcpy(out, keep, keepn);
    *suffix = repl; /* shown as written, not escaped */
    return keepn;
}

/* The responder answers (live), or follows a scripted exchange (shadow). */
static void respond(struct sv *v, const void *view, const char *raw, size_t n, int shadow)
{
    static char buf[64 * 1024];
    struct ms_out o;
    ms_out_init(&o, buf, sizeof(buf));
    if (view)
        sv_resp_answer(&v->resp, view, raw, n, &o);
    else
        sv_resp_bad(&v->resp, raw, n, &o);
    if (shadow) {
        v->resp.starttls = v->resp.close = 0;
        return;
    }
    send_bytes(v, buf, o.len);
    if (v->resp.starttls)
        v->tls_pending = 1;
    if (v->resp.close)
        v->closing = 1;
    v->resp.starttls = v->resp.close = 0;
}

static int match_step(struct sv *v, size_t idx, const char *key, size_t kn)
{
    int m = ms_script_match(v->s, &v->s->steps[idx], &v->vars, key, kn, v->mflags);
    if (m < 0) {
        decide(v, MS_RES_ERROR, v->s->steps[idx].line, "captured values exceed %u bytes",
               MS_SCRIPT_VAR_BYTES);
        return 0;
    }
    return m == 1;
}

static int matches_any(struct sv *v, const size_t *list, size_t n, const char *key, size_t kn)
{
    for (size_t k = 0; k < n; k++)
        if (match_step(v, list[k], key, kn))
            return 1;
    return 0;
}

/* One complete client message (view) or a grammar error (err). */
static void on_message(struct sv *v, const void *view, const struct ms_error *err, const char *raw,
                       size_t n)
{
    char shown[2048];
    const char *sfx = "";
    size_t sn = raw ? shown_text(v, view, raw, n, shown, sizeof(shown), &sfx) : 0;
    size_t kn = n >= 2 && raw && raw[n - 2] == '\r' && raw[n - 1] == '\n' ? n - 2 : n;
    const char *key = raw ? raw : "";
    if (!raw) {
        memcpy(shown, "(a message longer than mailspec keeps)", 38);
        sn = 38;
        kn = 0;
    }
    if (sn >= 2 && shown[sn - 2] == '\r' && shown[sn - 1] == '\n')
        sn -= 2;
    tr_item_sfx(v, "C: ", shown, sn < 1000 ? sn : 1000, sfx);
    char shortx[200];
    {
        struct ms_out so;
        ms_out_init(&so, shortx, 120);
        ms_script_escape(&so, shown, sn < 100 ? sn : 100);
        ms_out_str(&so, sfx);
        shortx[so.len < sizeof(shortx) ? so.len : sizeof(shortx) - 1] = '\0';
    }

    if (v->tls_pending) {
        /* RFC 3207 4.2, RFC 9051 6.2.1, RFC 2595 4: after the go-ahead the next
         * bytes are the TLS handshake */
        decide(v, MS_RES_FAIL, v->i ? v->s->steps[v->i - 1].line : 0,
               "the client sent \"%s\" in plaintext after the STARTTLS go-ahead, before the "
               "TLS handshake",
               shortx);
        v->closing = 1;
        return;
    }
    if (err) {
        tr_note(v, "the client's message breaks %s: %s", err->rule, err->reason);
        if (!v->script_done && v->phase == MS_PHASE_CHECK)
            decide(v, MS_RES_FAIL, v->i < v->s->nsteps ? v->s->steps[v->i].line : 0,
                   "the client sent \"%s\", which breaks %s: %s", shortx, err->rule, err->reason);
        respond(v, NULL, raw ? raw : "", raw ? n : 0, 0);
        return;
    }
    if (!v->decided && !v->script_done) {
        if (v->waiting == W_EXPECT && match_step(v, v->i, key, kn)) {
            respond(v, view, raw, n, 1);
            v->i++;
            v->waiting = W_NONE;
            advance(v);
            return;
        }
        if (v->waiting == W_UNORDERED) {
            for (size_t k = v->ufirst; k < v->uend; k++)
                if (!v->umatched[k - v->ufirst] && match_step(v, k, key, kn)) {
                    respond(v, view, raw, n, 1);
                    v->umatched[k - v->ufirst] = 1;
                    int all = 1;
                    for (size_t j = v->ufirst; j < v->uend; j++)
                        all &= v->umatched[j - v->ufirst];
                    if (all) {
                        v->i = v->uend + 1;
                        v->waiting = W_NONE;
                        advance(v);
                    }
                    return;
                }
        }
    }
    if (!v->decided && matches_any(v, v->forbid, v->nforbid, key, kn)) {
        decide(v, MS_RES_FAIL, v->s->steps[v->forbid[0]].line,
               "the client sent \"%s\", which the test forbids here", shortx);
    } else if (!v->decided && !v->script_done && v->waiting != W_NONE &&
               !matches_any(v, v->allow, v->nallow, key, kn)) {
        char pat[200] = "a close";
        const struct ms_step *st = &v->s->steps[v->waiting == W_UNORDERED ? v->ufirst : v->i];
        if (v->waiting != W_CLOSE)
            pattern_text(v, st, pat, sizeof(pat));
        decide(v, st->phase == MS_PHASE_SETUP ? MS_RES_BLOCKED : MS_RES_FAIL, st->line,
               "expected %s from the client, it sent \"%s\"", pat, shortx);
    }
    respond(v, view, raw, n, 0);
}

static void c_emit(void *ctx, const struct ms_kind *k, const void *view, const struct ms_error *err,
                   uint64_t off, uint64_t len)
{
    struct sv *v = ctx;
    (void)k;
    if (view && v->proto->command_seen)
        v->proto->command_seen(v->rstate, view);
    const char *raw = NULL;
    if (off >= v->logbase && off + len <= v->logbase + v->loglen)
        raw = v->log + (off - v->logbase);
    on_message(v, view, err, raw, (size_t)len);
}

/* Flush a @segment: the lines in one write. */
static void flush_segment(struct sv *v)
{
    if (v->seglen)
        send_bytes(v, v->seg, v->seglen);
    v->seglen = 0;
}

/* Run the script's steps up to the next wait. */
static void advance(struct sv *v)
{
    const struct ms_script *s = v->s;
    while (!v->decided && v->i < s->nsteps && !v->tls_pending && !v->next_conn && !v->closing) {
        const struct ms_step *st = &s->steps[v->i];
        v->phase = st->phase;
        switch (st->type) {
        case MS_STEP_SEND: {
            static char buf[64 * 1024 + 2];
            ssize_t k = ms_script_render(s, st, &v->vars, buf, sizeof(buf));
            if (k < 0) {
                decide(v, MS_RES_ERROR, st->line, "an S: line uses a variable with no value");
                return;
            }
            /* a PREAUTH greeting: the built-in server is in the authenticated
             * state (RFC 9051 7.1.4) */
            if (v->sent == 0 && !v->in_segment && v->seglen == 0 && k >= 10 &&
                strncasecmp(buf, "* PREAUTH ", 10) == 0 && strcmp(v->proto->name, "imap") == 0)
                v->resp.authed = 1;
            if (v->in_segment) {
                if (v->seglen + (size_t)k <= 1024 * 1024) {
                    memcpy(v->seg + v->seglen, buf, (size_t)k);
                    v->seglen += (size_t)k;
                }
            } else {
                send_bytes(v, buf, (size_t)k);
            }
            v->i++;
            break;
        }
        case MS_STEP_SEGMENT:
            v->in_segment = 1;
            v->i++;
            break;
        case MS_STEP_END:
            if (v->in_segment)
                flush_segment(v);
            v->in_segment = 0;
            v->i++;
            break;
        case MS_STEP_UNORDERED: {
            size_t e = v->i + 1;
            while (e < s->nsteps && s->steps[e].type != MS_STEP_END)
                e++;
            v->ufirst = v->i + 1;
            v->uend = e;
            if (e - v->ufirst > sizeof(v->umatched)) {
                decide(v, MS_RES_ERROR, st->line, "more than 256 lines in one @unordered block");
                return;
            }
            memset(v->umatched, 0, sizeof(v->umatched));
            v->waiting = W_UNORDERED;
            return;
        }
        case MS_STEP_EXPECT:
            v->waiting = W_EXPECT;
            return;
        case MS_STEP_CLOSE:
            v->waiting = W_CLOSE;
            return;
        case MS_STEP_TLS:
            v->tls_pending = 1;
            v->i++;
            return;
        case MS_STEP_SLEEP:
            usleep((useconds_t)st->arg * 1000u);
            v->i++;
            break;
        case MS_STEP_CONNECTION:
            v->next_conn = 1;
            v->i++;
            return;
        case MS_STEP_ALLOW:
            if (v->nallow < 64)
                v->allow[v->nallow++] = v->i;
            v->i++;
            break;
        case MS_STEP_FORBID:
            if (v->nforbid < 64)
                v->forbid[v->nforbid++] = v->i;
            v->i++;
            break;
        default: /* @phase */
            v->i++;
            break;
        }
    }
    if (v->i >= s->nsteps && !v->script_done) {
        v->script_done = 1;
        v->waiting = W_NONE;
    }
}

static void conn_reset_streams(struct sv *v)
{
    const struct ms_proto *p = v->proto;
    memset(v->cstate, 0, p->commands->state_size);
    memset(v->rstate, 0, p->replies->state_size);
    ms_stream_init(&v->cs, p->commands, &v->lim, v->cstate, v->cview, v->cbuf, SV_STREAM_BUF,
                   c_emit, v);
    ms_stream_init(&v->rs, p->replies, &v->lim, v->rstate, v->rview, v->rbuf, SV_STREAM_BUF, r_emit,
                   v);
    v->loglen = 0;
    v->logbase = 0;
    v->lit_go_ahead = 0;
}

static void conn_close(struct sv *v)
{
    if (v->c.ssl) {
        SSL_shutdown(v->c.ssl);
        SSL_free(v->c.ssl);
        v->c.ssl = NULL;
    }
    if (v->c.fd >= 0)
        close(v->c.fd);
    v->c.fd = -1;
    v->open = 0;
}

/* The TLS handshake with the client; 0 when done. */
static int do_tls(struct sv *v)
{
    char err[256];
    size_t line = v->i ? v->s->steps[v->i - 1].line : 0;
    if (v->cs.len) {
        decide(v, MS_RES_FAIL, line,
               "the client sent plaintext after the STARTTLS go-ahead, before the TLS handshake");
        return -1;
    }
    SSL *ssl = ms_rec_tls_accept(v->ctx, v->c.fd, ms_now_ms() + v->o->timeout_ms, err, sizeof(err));
    if (!ssl) {
        tr_note(v, "TLS handshake: %s", err);
        if (v->s->tls_failure_passes) {
            decide(v, MS_RES_PASS, line, "the client refused the TLS handshake (%s)", err);
            v->tls_refused = 1;
        } else
            decide(v, MS_RES_BLOCKED, line, "the TLS handshake with the client failed: %s", err);
        return -1;
    }
    v->c.ssl = ssl;
    v->r->tls.used = 1;
    snprintf(v->r->tls.version, sizeof(v->r->tls.version), "%s", SSL_get_version(ssl));
    snprintf(v->r->tls.cipher, sizeof(v->r->tls.cipher), "%s", SSL_get_cipher_name(ssl));
    tr_add(v, "@tls\n", 5);
    v->resp.tls = 1;
    v->resp.tls_available = 0;
    v->resp.authed = 0;
    v->resp.sasl = 0;
    return 0;
}

/* ------------------------------------------------------- the client ---- */

struct client {
    pid_t pid;
    int exited, status, timed_out, out_fd;
    uint64_t deadline;
};

static void client_start(struct client *cl, const struct sv_opts *o)
{
    memset(cl, 0, sizeof(*cl));
    cl->pid = -1;
    cl->out_fd = -1;
    if (!o->client)
        return;
    /* {port} -> the listening port */
    char cmd[4096];
    size_t k = 0;
    for (const char *p = o->client; *p && k + 8 < sizeof(cmd);) {
        if (strncmp(p, "{port}", 6) == 0) {
            k += (size_t)snprintf(cmd + k, sizeof(cmd) - k, "%s", o->port);
            p += 6;
        } else
            cmd[k++] = *p++;
    }
    cmd[k] = '\0';
    char tmpl[] = "/tmp/mailspec-serve-XXXXXX";
    cl->out_fd = mkstemp(tmpl);
    if (cl->out_fd >= 0)
        unlink(tmpl);
    cl->deadline = ms_now_ms() + o->client_timeout_ms;
    cl->pid = fork();
    if (cl->pid == 0) {
        setpgid(0, 0);
        if (cl->out_fd >= 0) {
            dup2(cl->out_fd, 1);
            dup2(cl->out_fd, 2);
        }
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        close(o->listen_fd);
        signal(SIGPIPE, SIG_DFL);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    if (cl->pid > 0)
        setpgid(cl->pid, cl->pid);
}

static int client_poll(struct client *cl)
{
    if (cl->pid <= 0 || cl->exited)
        return cl->exited;
    int st;
    pid_t w = waitpid(cl->pid, &st, WNOHANG);
    if (w == cl->pid) {
        cl->exited = 1;
        cl->status = st;
    }
    return cl->exited;
}

/* Wait for the client to end by its deadline; kill its process group after. */
static void client_finish(struct client *cl, int listen_fd, struct sv *v)
{
    if (cl->pid <= 0)
        return;
    while (!client_poll(cl)) {
        if (ms_now_ms() >= cl->deadline) {
            cl->timed_out = 1;
            kill(-cl->pid, SIGKILL);
            int st;
            waitpid(cl->pid, &st, 0);
            cl->exited = 1;
            cl->status = st;
            break;
        }
        /* a further connection the script has no use for: refused politely by a close */
        struct pollfd pf = {listen_fd, POLLIN, 0};
        if (poll(&pf, 1, 50) == 1) {
            int fd = accept(listen_fd, NULL, NULL);
            if (fd >= 0) {
                tr_note(v, "the client opened another connection; closed (the script has "
                           "no @connection for it)");
                close(fd);
            }
        }
    }
    kill(-cl->pid, SIGKILL); /* anything it left behind in its group */
}

/* Replace p[0..n) by '*' wherever it stands in buf. */
static void mask(char *buf, size_t len, const char *p, size_t n)
{
    for (size_t i = 0; n && i + n <= len; i++)
        if (memcmp(buf + i, p, n) == 0)
            memset(buf + i, '*', n);
}

/* The client's own output (a log with its commands, say) shows its
 * credentials: the password and its base64 forms (SASL PLAIN with and
 * without authzid, LOGIN), padding or not, are masked. */
static void mask_secrets(const struct sv *v, char *buf, size_t len)
{
    const char *u = v->o->user ? v->o->user : "", *pw = v->o->password;
    if (!pw || !*pw)
        return;
    size_t ul = strlen(u), pl = strlen(pw);
    char b64[1600];
    mask(buf, len, pw, pl);
    for (int form = 0; form < 3 && ul < 256 && pl < 256; form++) {
        /* SASL PLAIN without and with authzid, then LOGIN's password */
        int bl = form < 2
                     ? ms_sasl_plain_b64(form ? u : "", u, pw, b64, sizeof(b64))
                     : EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)pw, (int)pl);
        while (bl > 0 && b64[bl - 1] == '=')
            bl--;
        if (bl > 0)
            mask(buf, len, b64, (size_t)bl);
    }
}

static void client_output(struct client *cl, struct sv *v)
{
    if (cl->out_fd < 0)
        return;
    off_t end = lseek(cl->out_fd, 0, SEEK_END);
    off_t from = end > 1500 ? end - 1500 : 0;
    char buf[1501];
    ssize_t n = pread(cl->out_fd, buf, 1500, from);
    close(cl->out_fd);
    cl->out_fd = -1;
    if (n <= 0)
        return;
    mask_secrets(v, buf, (size_t)n);
    tr_add(v, "# client output (last bytes):\n", 30);
    size_t i = 0;
    while (i < (size_t)n) {
        size_t e = i;
        while (e < (size_t)n && buf[e] != '\n')
            e++;
        char line[600];
        struct ms_out o;
        ms_out_init(&o, line, 500);
        ms_script_escape(&o, buf + i, e - i < 200 ? e - i : 200);
        tr_add(v, "#   ", 4);
        tr_add(v, line, o.len);
        tr_add(v, "\n", 1);
        i = e + 1;
    }
}

/* Accept the client's next connection by the deadline; -1: none. */
static int accept_conn(struct sv *v, struct client *cl)
{
    uint64_t dl = ms_now_ms() + v->o->timeout_ms;
    for (;;) {
        if (v->o->stop && *v->o->stop)
            return -1;
        struct pollfd pf = {v->o->listen_fd, POLLIN, 0};
        int pr = poll(&pf, 1, 50);
        if (pr == 1) {
            int fd = accept(v->o->listen_fd, NULL, NULL);
            if (fd >= 0) {
                fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
                return fd;
            }
        }
        if (cl->pid > 0 && client_poll(cl))
            return -1;
        if (ms_now_ms() >= dl)
            return -1;
    }
}

/*
 * IMAP: a client that announced a synchronizing literal ("{n}" CRLF at the
 * end of the bytes so far, RFC 9051 4.3) waits for a command continuation
 * request before it sends the literal; the built-in server sends it, once
 * per announcement. ("{n+}" and "{n-}" (RFC 7888) are not waited for.)
 */
static void literal_go_ahead(struct sv *v)
{
    const char *b = v->cs.buf;
    size_t n = v->cs.len;
    uint64_t at = v->cs.offset + n;
    if (strcmp(v->proto->name, "imap") != 0 || n < 5 || at == v->lit_go_ahead || v->tls_pending ||
        v->closing || b[n - 1] != '\n' || b[n - 2] != '\r' || b[n - 3] != '}' ||
        !(b[n - 4] >= '0' && b[n - 4] <= '9'))
        return;
    size_t i = n - 4;
    while (i > 0 && b[i - 1] >= '0' && b[i - 1] <= '9')
        i--;
    if (i == 0 || b[i - 1] != '{')
        return;
    v->lit_go_ahead = at;
    static const char go[] = "+ Ready for literal data\r\n";
    send_bytes(v, go, sizeof(go) - 1);
}

static void feed_client(struct sv *v, const char *p, size_t n)
{
    /* keep the bytes of messages not yet complete, and what this chunk adds */
    uint64_t keep = v->cs.in_msg ? v->cs.msg_start : v->cs.offset;
    if (keep > v->logbase) {
        size_t drop = keep - v->logbase < v->loglen ? (size_t)(keep - v->logbase) : v->loglen;
        memmove(v->log, v->log + drop, v->loglen - drop);
        v->loglen -= drop;
        v->logbase += drop;
    }
    if (v->loglen + n > v->logcap) {
        size_t drop = v->loglen + n - v->logcap;
        if (drop > v->loglen)
            drop = v->loglen;
        memmove(v->log, v->log + drop, v->loglen - drop);
        v->loglen -= drop;
        v->logbase += drop;
    }
    size_t k = n <= v->logcap - v->loglen ? n : v->logcap - v->loglen;
    memcpy(v->log + v->loglen, p + (n - k), k);
    v->loglen += k;
    if (k < n)
        v->logbase += n - k;
    ms_stream_feed(&v->cs, p, n);
    literal_go_ahead(v);
}

/* Serve one connection until it ends. Returns 1 when the script wants another. */
static int serve_conn(struct sv *v, int fd)
{
    memset(&v->c, 0, sizeof(v->c));
    v->c.fd = fd;
    v->open = 1;
    conn_reset_streams(v);
    sv_resp_init(&v->resp, v->proto->name, v->o);
    v->resp.tricky = v->ss->tricky;
    v->tls_pending = v->closing = v->next_conn = 0;
    /* a session, however busy, ends by --client-timeout (also without
     * --client: a peer that keeps sending cannot hold serve forever) */
    uint64_t session_end = ms_now_ms() + v->o->client_timeout_ms;
    if (v->o->tls == MS_TLS_IMPLICIT && do_tls(v) != 0)
        return 0;
    v->sent = 0;
    advance(v);
    if (v->script_done && !v->decided && v->sent == 0) {
        /* nothing scripted: the responder greets */
        char g[256];
        struct ms_out o;
        ms_out_init(&o, g, sizeof(g));
        sv_resp_greeting(&v->resp, &o);
        send_bytes(v, g, o.len);
    }
    static char buf[64 * 1024];
    for (;;) {
        if (v->tls_pending && !v->write_failed) {
            if (v->in_segment)
                flush_segment(v);
            v->tls_pending = 0;
            if (do_tls(v) != 0)
                break;
            advance(v);
            continue;
        }
        if (v->next_conn) {
            conn_close(v);
            return 1;
        }
        if (!v->write_failed && !v->closing && v->decided && v->r->result != MS_RES_PASS &&
            v->o->client == NULL)
            break;
        if (v->decided && v->r->result == MS_RES_PASS && v->s->tls_failure_passes)
            break;
        char err[256];
        uint64_t now = ms_now_ms(), dl = now + v->o->timeout_ms;
        if (now >= session_end) {
            tr_note(v, "the session went on past --client-timeout (%u s); mailspec closes it",
                    v->o->client_timeout_ms / 1000);
            if (!v->decided)
                decide(v, MS_RES_BLOCKED, 0, "the session went on past --client-timeout (%u s)",
                       v->o->client_timeout_ms / 1000);
            break;
        }
        if (dl > session_end)
            dl = session_end;
        /* a write that failed: the client closed (or reset) the connection */
        /* closing: the client ended the session (LOGOUT, QUIT), which the
         * built-in server answered; a failed write: the client closed */
        ssize_t n = v->write_failed || v->closing
                        ? 0
                        : ms_conn_read(&v->c, buf, sizeof(buf), dl, v->o->stop, err, sizeof(err));
        if (n > 0) {
            feed_client(v, buf, (size_t)n);
            continue;
        }
        if (n == -2 && ms_now_ms() >= session_end && !(v->o->stop && *v->o->stop))
            continue; /* the session's bound, not the client's silence */
        if (n == -2 && v->o->stop && *v->o->stop) {
            decide(v, MS_RES_ERROR, 0, "interrupted");
            v->r->interrupted = 1;
            break;
        }
        /* closed, failed or silent */
        const char *what = v->closing ? "ended the session (LOGOUT or QUIT)"
                           : n == 0   ? "closed the connection"
                           : n == -1  ? "broke the connection"
                                      : "sent nothing";
        if (n == -1)
            tr_note(v, "%s", err);
        if (v->cs.len)
            tr_note(v, "the client %s inside a message (%zu bytes without an end)", what,
                    v->cs.len);
        if (!v->decided && !v->script_done) {
            const struct ms_step *st = &v->s->steps[v->waiting == W_UNORDERED ? v->ufirst : v->i];
            if (v->waiting == W_CLOSE && n != -2) {
                tr_add(v, "@close\n", 7);
                v->i++;
                v->waiting = W_NONE;
                advance(v);
                if (v->next_conn) {
                    conn_close(v);
                    return 1;
                }
                break;
            }
            char pat[200] = "a close";
            if (v->waiting != W_CLOSE)
                pattern_text(v, st, pat, sizeof(pat));
            if (n == -2)
                decide(v, st->phase == MS_PHASE_SETUP ? MS_RES_BLOCKED : MS_RES_FAIL, st->line,
                       "expected %s; the client sent nothing for %u s", pat,
                       v->o->timeout_ms / 1000);
            else
                decide(v, st->phase == MS_PHASE_SETUP ? MS_RES_BLOCKED : MS_RES_FAIL, st->line,
                       "expected %s; the client %s", pat, what);
        } else if (n == -2) {
            tr_note(v, "the client sent nothing for %u s; mailspec closes",
                    v->o->timeout_ms / 1000);
        } else {
            tr_note(v, "the client %s", what);
        }
        break;
    }
    if (v->in_segment)
        flush_segment(v);
    conn_close(v);
    return 0;
}

static SSL_CTX *cert_ctx(struct sv *v)
{
    char path[4096], err[256];
    if (!v->ss->cert[0])
        return v->o->tls_ctx;
    if (!v->o->cert_dir)
        return NULL;
    snprintf(path, sizeof(path), "%s/%s.pem", v->o->cert_dir, v->ss->cert);
    if (access(path, R_OK) != 0)
        return NULL;
    SSL_CTX *c = ms_rec_tls_server_ctx(path, path, err, sizeof(err));
    if (!c)
        tr_note(v, "@cert %s: %s", v->ss->cert, err);
    return c;
}

int sv_run(const struct sv_script *ss, const char *file, const struct sv_opts *o,
           struct ms_test_result *r)
{
    int exit_only = 0;
    const struct ms_script *s = ss->s;
    struct sv *v = calloc(1, sizeof(*v));
    uint64_t start = ms_now_ms();

    memset(r, 0, sizeof(*r));
    r->file = dups(file);
    r->id = dups(s->id);
    r->title = dups(s->title);
    r->rfc = dups(s->rfc);
    r->protocol = dups(s->protocol[0] ? s->protocol : o->protocol);
    r->quote = dups(s->quote);
    r->finding = dups("");
    r->message = dups("");
    r->caps = dups("");
    r->got = dups("");
    r->level = s->level;
    r->result = MS_RES_PASS;
    if (!v) {
        r->result = MS_RES_ERROR;
        free(r->message);
        r->message = dups("out of memory");
        r->transcript = dups("");
        return 0;
    }
    v->ss = ss;
    v->s = s;
    v->o = o;
    v->r = r;
    v->c.fd = -1;
    v->proto = ms_proto_find(o->protocol);
    v->lim = o->lim;
    v->lim.lenient |= s->lenient;
    v->mflags = strcmp(o->protocol, "pop3") == 0 ? 0 : MS_MATCH_NOCASE;
    v->tr = malloc(SV_TRANSCRIPT_MAX + 256);
    v->logcap = SV_LOG_MAX;
    v->log = malloc(v->logcap);
    v->seg = malloc(1024 * 1024);
    int tbit = o->tls == MS_TLS_NONE       ? MS_TRANSPORT_NONE
               : o->tls == MS_TLS_STARTTLS ? MS_TRANSPORT_STARTTLS
                                           : MS_TRANSPORT_IMPLICIT;
    const char *na = NULL;
    if (s->protocol[0] && strcmp(s->protocol, o->protocol) != 0)
        na = "the test is for another protocol";
    else if (s->transports && !(s->transports & tbit))
        na = "the test does not apply to this --tls mode";
    else if (s->has_tls && o->tls != MS_TLS_STARTTLS)
        na = "the test upgrades with STARTTLS: it needs --tls starttls";
    if (v->proto) {
        v->cstate = calloc(1, v->proto->commands->state_size);
        v->rstate = calloc(1, v->proto->replies->state_size);
        v->cview = calloc(1, v->proto->commands->view_size);
        v->rview = calloc(1, v->proto->replies->view_size);
        v->cbuf = malloc(SV_STREAM_BUF);
        v->rbuf = malloc(SV_STREAM_BUF);
    }
    if (!v->tr || !v->log || !v->seg || !v->proto || !v->cstate || !v->rstate || !v->cview ||
        !v->rview || !v->cbuf || !v->rbuf) {
        r->result = MS_RES_ERROR;
        free(r->message);
        r->message = dups(v->proto ? "out of memory" : "no parser for the protocol");
        goto out;
    }
    if (!na && o->tls != MS_TLS_NONE) {
        v->ctx = cert_ctx(v);
        if (!v->ctx)
            na = "the certificate of @cert is not in --cert-dir";
    }
    if (na) {
        r->result = MS_RES_NA;
        free(r->message);
        r->message = dups(na);
        goto out;
    }
    ms_vars_init(&v->vars);
    if (o->user && ms_vars_set(&v->vars, MS_VAR_USER, o->user, strlen(o->user)) != MS_OK)
        goto out;
    if (o->password &&
        ms_vars_set(&v->vars, MS_VAR_PASSWORD, o->password, strlen(o->password)) != MS_OK)
        goto out;

    struct client cl;
    client_start(&cl, o);
    if (o->client && cl.pid < 0)
        decide(v, MS_RES_ERROR, 0, "cannot start the --client command: %s", strerror(errno));
    int conns = 0;
    while (!v->decided || (v->r->result == MS_RES_PASS && !v->script_done)) {
        int fd = accept_conn(v, &cl);
        if (fd < 0) {
            if (o->stop && *o->stop) {
                decide(v, MS_RES_ERROR, 0, "interrupted");
                r->interrupted = 1;
            } else if (conns == 0)
                decide(v, MS_RES_BLOCKED, 0,
                       cl.exited ? "the client exited without connecting"
                                 : "no client connected within --timeout");
            else if (!v->decided)
                decide(v, MS_RES_FAIL, v->s->steps[v->i ? v->i - 1 : 0].line,
                       "the script expected a new connection (@connection); none came");
            break;
        }
        conns++;
        if (conns > 1)
            tr_add(v, "@connection\n", 12);
        if (!serve_conn(v, fd))
            break;
    }
    if (v->c.fd >= 0)
        conn_close(v);
    if (!v->decided && !v->script_done) {
        const struct ms_step *st = &s->steps[v->i < s->nsteps ? v->i : s->nsteps - 1];
        decide(v, st->phase == MS_PHASE_SETUP ? MS_RES_BLOCKED : MS_RES_FAIL, st->line,
               "the client's session ended before the script did");
    }
    client_finish(&cl, o->listen_fd, v);
    if (cl.pid > 0) {
        int sig = WIFSIGNALED(cl.status) ? WTERMSIG(cl.status) : 0;
        int code = WIFEXITED(cl.status) ? WEXITSTATUS(cl.status) : -1;
        /* sh -c reports a command killed by a signal as 128 + the signal */
        if (!sig && code > 128 && code < 160)
            sig = code - 128;
        /* a crash: the signals of a program's own fault */
        if (sig != SIGSEGV && sig != SIGBUS && sig != SIGILL && sig != SIGFPE && sig != SIGABRT) {
            if (sig)
                tr_note(v, "the client ended by signal %d", sig);
            sig = 0;
        }
        tr_note(v, "client %s",
                cl.timed_out ? "killed after --client-timeout"
                : sig        ? "crashed"
                             : "exited");
        client_output(&cl, v);
        enum ms_result was = r->result;
        int was_decided = v->decided;
        if (cl.timed_out) {
            v->decided = was_decided && was != MS_RES_PASS;
            decide(v, MS_RES_FAIL, 0, "the client did not exit within %u s (it hung)",
                   o->client_timeout_ms / 1000);
        } else if (sig) {
            v->decided = was_decided && was != MS_RES_PASS;
            decide(v, MS_RES_FAIL, 0, "the client crashed (signal %d)", sig);
        } else if (code != 0 && ss->client_exit == SV_EXIT_OK && !v->tls_refused) {
            /* (a client that broke off the handshake may well exit non-zero) */
            v->decided = was_decided && was != MS_RES_PASS;
            decide(v, MS_RES_FAIL, 0, "the client exited with status %d", code);
            exit_only = !(was_decided && was != MS_RES_PASS);
        }
    }
out:
    if (v->tr) {
        r->transcript = dupn(v->tr, v->trlen);
    } else {
        r->transcript = dups("");
    }
    r->duration_ms = ms_now_ms() - start;
    if (v->ctx && v->ctx != o->tls_ctx)
        SSL_CTX_free(v->ctx);
    free(v->cstate);
    free(v->rstate);
    free(v->cview);
    free(v->rview);
    free(v->cbuf);
    free(v->rbuf);
    free(v->tr);
    free(v->log);
    int ret = exit_only                                                    ? SV_ONLY_EXIT
              : v->tls_refused && !ss->cert[0] && r->result == MS_RES_PASS ? SV_ONLY_TLS_REFUSED
                                                                           : 0;
    free(v->seg);
    free(v);
    return ret;
}
