/*
 * The runner: one script, one server, one result (runner.h).
 *
 * Results: "fail" is the server's fault as far as the script can tell (a
 * reply that does not match, breaks the RFC grammar, is forbidden, or a
 * close that did not happen); "error" is a run that could not be judged
 * (connect/TLS failure, timeout, a line over the bound, binary data that
 * cannot be framed, a close in the middle of a response); "skip" is a test
 * that does not apply (transport, protocol, @requires).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "mailspec/mailspec.h"
#include "runner.h"

#define TRANSCRIPT_MAX (256u * 1024)
#define SEEN_MAX       (64u * 1024)
#define SEND_MAX       (64u * 1024)
#define MAX_FILTERS    64
#define READ_CHUNK     (64u * 1024)

/* A growable buffer that refuses to grow past max (curl's dynbuf habit). */
struct sbuf {
    char *p;
    size_t len, cap, max;
    int truncated;
};

static void sb_add(struct sbuf *b, const char *p, size_t n)
{
    if (b->truncated)
        return;
    if (n > b->max - b->len) {
        b->truncated = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 1024;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        if (ncap > b->max + 1)
            ncap = b->max + 1;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->truncated = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

struct rt {
    const struct ms_script *s;
    const char *file;
    const struct ms_run_opts *o;
    const char *pname;
    const struct ms_proto *proto;
    struct ms_limits lim;
    struct ms_conn conn;
    int open, eof;
    /* server bytes not yet consumed; rbuf[0..consumed) is the current line */
    char *rbuf;
    size_t rlen, rcap, rmax, consumed, scanned;
    struct ms_vars vars;
    /* strict parsers over both directions */
    int strict;
    struct ms_session ss;
    void *cst, *cv, *sst, *sv;
    char *cb, *sb;
    size_t bcap;
    int gram;          /* a server message broke the grammar */
    int gram_is_error; /* ... in a way that is a resource limit */
    char gram_msg[512];
    struct sbuf tr;   /* transcript */
    struct sbuf seen; /* server lines, for @requires */
    const struct ms_step *allow[MAX_FILTERS], *forbid[MAX_FILTERS];
    size_t nallow, nforbid;
    enum ms_result res;
    int done;
    char msg[4096];
    size_t fail_line;
    struct ms_tls_info tls;
    int auto_tls;
    char note[256];
    size_t conn_lines; /* server lines read on this connection */
    int apop;          /* POP3: 0 no greeting yet, 1 no <timestamp> in it, 2 derived */
};

static void finish(struct rt *t, enum ms_result res, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void finish(struct rt *t, enum ms_result res, size_t line, const char *fmt, ...)
{
    va_list ap;

    if (t->done)
        return;
    t->done = 1;
    t->res = res;
    t->fail_line = line;
    va_start(ap, fmt);
    vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
    va_end(ap);
}

const char *ms_result_name(enum ms_result r)
{
    switch (r) {
    case MS_RES_PASS:
        return "pass";
    case MS_RES_FAIL:
        return "fail";
    case MS_RES_SKIP:
        return "skip";
    case MS_RES_ERROR:
        return "error";
    default:
        return "?";
    }
}

const char *ms_default_port(const char *protocol, enum ms_tls_mode tls)
{
    if (!protocol)
        return NULL;
    int imp = tls == MS_TLS_IMPLICIT;
    if (strcmp(protocol, "smtp") == 0)
        return imp ? "465" : "25";
    if (strcmp(protocol, "imap") == 0)
        return imp ? "993" : "143";
    if (strcmp(protocol, "pop3") == 0)
        return imp ? "995" : "110";
    return NULL;
}

void ms_run_opts_default(struct ms_run_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->timeout_ms = 10000;
    o->max_line = 4u * 1024 * 1024;
    ms_limits_default(&o->lim);
    /* The runner holds at most one message per direction: keep that small
     * enough that a hostile server cannot make it large. */
    o->lim.imap_literal = 8u * 1024 * 1024;
    o->lim.imap_message = 9u * 1024 * 1024;
}

/* ---- transcript ---- */

/*
 * Values that are never printed (transcripts, messages, reports): the
 * password and what is derived from it. Where the script sends them the
 * transcript shows the variable; in any other text (a server that echoes
 * them) values of at least SECRET_MIN bytes are replaced by ${name} too
 * (shorter ones would match too much ordinary text).
 */
#define SECRET_MIN 3
static const uint16_t secret_vars[] = {MS_VAR_PASSWORD, MS_VAR_SASL_PLAIN, MS_VAR_SASL_PLAIN_AUTHZ,
                                       MS_VAR_SASL_PASSWORD, MS_VAR_APOP_DIGEST};

static int is_secret(size_t var)
{
    for (size_t i = 0; i < sizeof(secret_vars) / sizeof(secret_vars[0]); i++)
        if (secret_vars[i] == var)
            return 1;
    return 0;
}

/* The first occurrence of m[0..mn) (mn > 0) in p[0..n), or NULL (memmem is not C11/POSIX). */
static const char *find_bytes(const char *p, size_t n, const char *m, size_t mn)
{
    while (n >= mn) {
        const char *c = memchr(p, m[0], n - mn + 1);
        if (!c)
            return NULL;
        if (memcmp(c, m, mn) == 0)
            return c;
        n -= (size_t)(c - p) + 1;
        p = c + 1;
    }
    return NULL;
}

/* Offset of the first secret value in p[0..n) (the longest at that offset), or n. */
static size_t find_secret(const struct rt *t, const char *p, size_t n, size_t *var, size_t *len)
{
    size_t best = n;

    for (size_t i = 0; i < sizeof(secret_vars) / sizeof(secret_vars[0]); i++) {
        size_t v = secret_vars[i], vl = t->vars.v[v].len;
        if (!t->vars.v[v].bound || vl < SECRET_MIN)
            continue;
        size_t lim = best < n && best + vl <= n ? best + vl : n;
        const char *hit = find_bytes(p, lim, t->vars.buf + t->vars.v[v].off, vl);
        if (!hit)
            continue;
        size_t at = (size_t)(hit - p);
        if (at < best || (at == best && vl > *len)) {
            best = at;
            *var = v;
            *len = vl;
        }
    }
    return best;
}

/*
 * Escaped p[0..n) with secret values as ${name}, to o (bounded: stops once
 * o is full) or, when o is NULL, to the transcript (in pieces, so a long line
 * needs no large scratch buffer).
 */
static void esc_text(struct rt *t, struct ms_out *o, const char *p, size_t n)
{
    while (n > 0 && !(o && o->overflow)) {
        size_t var = 0, vl = 0;
        size_t k = find_secret(t, p, n, &var, &vl);
        for (size_t i = 0; i < k && !(o && o->overflow);) {
            struct ms_out piece;
            char buf[1024];
            size_t m = k - i > 200 ? 200 : k - i;
            ms_out_init(&piece, buf, sizeof(buf));
            ms_script_escape(o ? o : &piece, p + i, m);
            if (!o)
                sb_add(&t->tr, piece.buf, piece.len);
            i += m;
        }
        if (k == n)
            break;
        const char *name = t->s->vars[var];
        if (o) {
            ms_out_bytes(o, "${", 2);
            ms_out_bytes(o, name, strlen(name));
            ms_out_bytes(o, "}", 1);
        } else {
            sb_str(&t->tr, "${");
            sb_str(&t->tr, name);
            sb_str(&t->tr, "}");
        }
        p += k + vl;
        n -= k + vl;
    }
}

static void tr_line(struct rt *t, const char *prefix, const char *p, size_t n)
{
    sb_str(&t->tr, prefix);
    esc_text(t, NULL, p, n);
    sb_add(&t->tr, "\n", 1);
}

/* A C: step as sent, secret variables shown by name. */
static void tr_send(struct rt *t, const struct ms_step *st)
{
    if (st->nocrlf)
        sb_str(&t->tr, "@nocrlf\n");
    sb_str(&t->tr, "C: ");
    for (size_t i = 0; i < st->nparts; i++) {
        const struct ms_part *pt = &t->s->parts[st->part0 + i];
        if (pt->kind == MS_PART_LIT) {
            esc_text(t, NULL, t->s->bytes + pt->off, pt->len);
        } else if (pt->kind == MS_PART_VAR && is_secret(pt->var)) {
            sb_str(&t->tr, "${");
            sb_str(&t->tr, t->s->vars[pt->var]);
            sb_str(&t->tr, "}");
        } else if (pt->kind == MS_PART_VAR) {
            esc_text(t, NULL, t->vars.buf + t->vars.v[pt->var].off, t->vars.v[pt->var].len);
        }
    }
    sb_add(&t->tr, "\n", 1);
}

static void tr_note(struct rt *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tr_note(struct rt *t, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    sb_str(&t->tr, "# ");
    sb_str(&t->tr, buf);
    sb_add(&t->tr, "\n", 1);
}

/* Escaped, bounded text of a line (secrets redacted), for messages. */
static void esc_short(struct rt *t, char *out, size_t cap, const char *p, size_t n)
{
    struct ms_out o;
    size_t show = cap - 4 > 1200 ? 1200 : cap - 4;

    ms_out_init(&o, out, show);
    esc_text(t, &o, p, n);
    if (o.overflow) {
        o.len = o.cap;
        memcpy(out + o.len, "...", 3);
        o.len += 3;
    }
    out[o.len] = '\0';
}

static void pattern_short(const struct rt *t, const struct ms_step *st, char *out, size_t cap)
{
    struct ms_out o;

    ms_out_init(&o, out, cap - 4);
    ms_script_pattern_text(t->s, st, &o);
    if (o.overflow) {
        o.len = o.cap;
        memcpy(out + o.len, "...", 3);
        o.len += 3;
    }
    out[o.len] = '\0';
}

/* ---- strict parsers ---- */

static void on_msg(void *ctx, int is_server, size_t line, const struct ms_kind *k, const void *view,
                   const struct ms_error *err, uint64_t offset, uint64_t length)
{
    struct rt *t = ctx;
    (void)line;
    (void)k;
    (void)view;
    (void)length;
    /* Client errors are the script's business (negative tests send bad
     * commands on purpose); server errors fail the test. */
    if (!err || !is_server || t->gram)
        return;
    t->gram = 1;
    t->gram_is_error = err->rule && strncmp(err->rule, "mailspec", 8) == 0;
    snprintf(t->gram_msg, sizeof(t->gram_msg), "%s: %s (server stream offset %llu)",
             err->rule ? err->rule : "?", err->reason ? err->reason : "?",
             (unsigned long long)(err->offset ? err->offset : offset));
}

static int strict_init(struct rt *t)
{
    if (!t->proto)
        return 0;
    if (!t->cb) {
        t->bcap = ms_stream_buffer_size(&t->lim);
        t->cb = malloc(t->bcap);
        t->sb = malloc(t->bcap);
        t->cst = calloc(1, t->proto->commands->state_size);
        t->cv = calloc(1, t->proto->commands->view_size);
        t->sst = calloc(1, t->proto->replies->state_size);
        t->sv = calloc(1, t->proto->replies->view_size);
        if (!t->cb || !t->sb || !t->cst || !t->cv || !t->sst || !t->sv)
            return -1;
    }
    ms_session_init(&t->ss, t->proto, &t->lim, t->cst, t->cv, t->cb, t->bcap, t->sst, t->sv, t->sb,
                    t->bcap, on_msg, t);
    t->strict = 1;
    return 0;
}

/* ---- connection ---- */

static void close_conn(struct rt *t)
{
    if (t->open)
        ms_conn_close(&t->conn);
    t->open = 0;
    t->eof = 0;
    t->rlen = t->consumed = t->scanned = 0;
}

static uint64_t deadline(const struct rt *t)
{
    return ms_now_ms() + t->o->timeout_ms;
}

static int do_tls(struct rt *t, size_t line)
{
    char err[512];

    if (t->rlen > t->consumed) {
        finish(t, MS_RES_FAIL, line,
               "%s:%zu: the server sent %zu bytes after its TLS go-ahead and before the "
               "handshake (they would be taken as plaintext; RFC 3207 4.2 / RFC 9051 6.2.1 / "
               "RFC 2595 4)",
               t->file, line, t->rlen - t->consumed);
        return -1;
    }
    if (ms_conn_tls(&t->conn, t->o->host, &t->o->tlso, deadline(t), err, sizeof(err)) != 0) {
        tr_note(t, "mailspec: TLS handshake failed: %s", err);
        finish(t, MS_RES_ERROR, line, "%s:%zu: TLS: %s", t->file, line, err);
        return -1;
    }
    t->tls = t->conn.tls;
    tr_note(t, "mailspec: TLS %s %s, certificate %s%s%s", t->tls.version, t->tls.cipher,
            t->tls.verified ? "verified" : "NOT verified", t->tls.verified ? "" : ": ",
            t->tls.verified ? "" : t->tls.verify_error);
    return 0;
}

static int open_conn(struct rt *t, size_t line)
{
    char err[512];

    if (ms_conn_open(&t->conn, t->o->host, t->o->port, deadline(t), err, sizeof(err)) != 0) {
        finish(t, MS_RES_ERROR, line, "%s", err);
        return -1;
    }
    t->open = 1;
    t->conn_lines = 0;
    tr_note(t, "mailspec: connected to %s port %s", t->o->host, t->o->port);
    if (t->proto && strict_init(t) != 0) {
        finish(t, MS_RES_ERROR, line, "out of memory");
        return -1;
    }
    if (t->o->tls == MS_TLS_IMPLICIT && do_tls(t, line) != 0)
        return -1;
    t->auto_tls = t->o->tls == MS_TLS_STARTTLS && !t->s->has_tls;
    return 0;
}

/* ---- server lines ---- */

static int filter_match(struct rt *t, const struct ms_step *const *f, size_t n, const char *p,
                        size_t len)
{
    for (size_t i = 0; i < n; i++) {
        /* filters never capture; matching them leaves the variables alone */
        if (ms_script_match(t->s, f[i], &t->vars, p, len) == 1)
            return (int)i + 1;
    }
    return 0;
}

/* IMAP: a line that announces a literal over the limit is not waited for. */
static int literal_too_big(const struct rt *t, const char *p, size_t n, uint64_t *size)
{
    if (!t->pname || strcmp(t->pname, "imap") != 0 || n < 3 || p[n - 1] != '}')
        return 0;
    size_t i = n - 1;
    while (i > 0 && ms_is_digit((unsigned char)p[i - 1]))
        i--;
    if (i == n - 1 || i == 0 || p[i - 1] != '{')
        return 0;
    if (ms_number_parse(p + i, n - 1 - i, UINT64_MAX, size) != MS_OK)
        *size = UINT64_MAX;
    return *size > t->lim.imap_literal;
}

/*
 * Not a protocol line at all: a NUL byte, or control bytes in number (a
 * single stray control character is left to the grammar: that is a
 * conformance failure, not noise).
 */
static int is_binary(const char *p, size_t n)
{
    size_t ctl = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == 0)
            return 1;
        if (ch < 0x20 && ch != '\t' && ch != '\r')
            ctl++;
    }
    return ctl >= 4;
}

/*
 * POP3 APOP (RFC 1939 7): ${apop_digest} = hex MD5 of the greeting's
 * <timestamp> (angle brackets included) followed by the password. Derived
 * again from each connection's greeting; unset when it has no timestamp.
 */
static void greeting(struct rt *t, const char *p, size_t n)
{
    if (!t->pname || strcmp(t->pname, "pop3") != 0)
        return;
    t->vars.v[MS_VAR_APOP_DIGEST].bound = 0;
    t->apop = 1;
    const char *lt = NULL;
    for (size_t i = n; i > 0; i--)
        if (p[i - 1] == '<') {
            lt = p + i - 1;
            break;
        }
    const char *gt = lt ? memchr(lt, '>', n - (size_t)(lt - p)) : NULL;
    if (!gt || gt - lt < 2 || n < 3 || memcmp(p, "+OK", 3) != 0 || !t->o->password)
        return;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_md5(), NULL) == 1 &&
             EVP_DigestUpdate(c, lt, (size_t)(gt - lt) + 1) == 1 &&
             EVP_DigestUpdate(c, t->o->password, strlen(t->o->password)) == 1 &&
             EVP_DigestFinal_ex(c, md, &mdlen) == 1;
    EVP_MD_CTX_free(c);
    if (!ok)
        return;
    static const char hex[] = "0123456789abcdef";
    char out[2 * EVP_MAX_MD_SIZE];
    for (unsigned int i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    if (ms_vars_set(&t->vars, MS_VAR_APOP_DIGEST, out, 2 * (size_t)mdlen) == MS_OK)
        t->apop = 2;
}

/* Move the unconsumed server bytes to the start of rbuf. */
static void compact(struct rt *t)
{
    if (t->consumed) {
        memmove(t->rbuf, t->rbuf + t->consumed, t->rlen - t->consumed);
        t->rlen -= t->consumed;
        t->scanned = t->scanned > t->consumed ? t->scanned - t->consumed : 0;
        t->consumed = 0;
    }
}

/*
 * Read more server bytes into rbuf by dl. Returns 1 (bytes added, or t->eof
 * set), -2 on timeout (result not set), -1 with the result set.
 */
static int read_more(struct rt *t, uint64_t dl, size_t sline)
{
    char err[512];

    if (t->rcap - t->rlen < READ_CHUNK && t->rcap < t->rmax + 1) {
        size_t ncap = t->rcap ? t->rcap * 2 : 2 * READ_CHUNK;
        if (ncap > t->rmax + READ_CHUNK)
            ncap = t->rmax + READ_CHUNK;
        char *nb = realloc(t->rbuf, ncap);
        if (!nb) {
            finish(t, MS_RES_ERROR, sline, "out of memory");
            return -1;
        }
        t->rbuf = nb;
        t->rcap = ncap;
    }
    size_t room = t->rcap - t->rlen;
    if (room > READ_CHUNK)
        room = READ_CHUNK;
    ssize_t r = ms_conn_read(&t->conn, t->rbuf + t->rlen, room, dl, t->o->stop, err, sizeof(err));
    if (r > 0) {
        t->rlen += (size_t)r;
    } else if (r == 0) {
        t->eof = 1;
        tr_note(t, "mailspec: the server closed the connection");
    } else if (r == -2) {
        if (t->o->stop && *t->o->stop) {
            finish(t, MS_RES_ERROR, sline, "interrupted");
            return -1;
        }
        return -2;
    } else {
        finish(t, MS_RES_ERROR, sline, "%s:%zu: %s", t->file, sline, err);
        return -1;
    }
    return 1;
}

/*
 * The next server line (without its line end) in *p and *n.
 * Returns 1, 0 on a clean close at a line boundary, -1 with the result set,
 * -2 on timeout (result not set: the caller words it).
 */
static int get_line(struct rt *t, uint64_t dl, size_t sline, const char **p, size_t *n)
{
    compact(t);
    for (;;) {
        const char *lf =
            t->rlen > t->scanned ? memchr(t->rbuf + t->scanned, '\n', t->rlen - t->scanned) : NULL;
        if (lf) {
            size_t total = (size_t)(lf - t->rbuf) + 1;
            size_t len = total - 1;
            int bare = !(len > 0 && t->rbuf[len - 1] == '\r');
            if (!bare)
                len--;
            t->consumed = total;
            t->scanned = 0;
            tr_line(t, "S: ", t->rbuf, len);
            if (bare)
                tr_note(t, "the line above ended with a bare LF");
            if (is_binary(t->rbuf, len)) {
                finish(t, MS_RES_ERROR, sline,
                       "%s:%zu: the server sent binary data (NUL or many control bytes) that "
                       "cannot be framed as protocol lines",
                       t->file, sline);
                return -1;
            }
            uint64_t lit;
            if (literal_too_big(t, t->rbuf, len, &lit)) {
                finish(t, MS_RES_ERROR, sline,
                       "%s:%zu: the server announced a literal of %llu bytes, over the "
                       "runner's limit of %u (imap_literal)",
                       t->file, sline, (unsigned long long)lit, t->lim.imap_literal);
                return -1;
            }
            if (t->strict) {
                ms_session_feed(&t->ss, 1, sline, t->rbuf, total);
                if (t->gram) {
                    finish(t, t->gram_is_error ? MS_RES_ERROR : MS_RES_FAIL, sline,
                           "%s:%zu: the server's response breaks the grammar: %s", t->file, sline,
                           t->gram_msg);
                    return -1;
                }
            }
            if (t->seen.len + len + 1 <= t->seen.max) {
                sb_add(&t->seen, t->rbuf, len);
                sb_add(&t->seen, "\n", 1);
            }
            if (t->conn_lines++ == 0)
                greeting(t, t->rbuf, len);
            *p = t->rbuf;
            *n = len;
            return 1;
        }
        t->scanned = t->rlen;
        if (t->rlen >= t->rmax) {
            finish(t, MS_RES_ERROR, sline,
                   "%s:%zu: the server sent a line longer than %zu bytes without a line end",
                   t->file, sline, t->rmax);
            return -1;
        }
        if (t->eof) {
            if (t->rlen > 0) {
                tr_line(t, "# incomplete: ", t->rbuf, t->rlen);
                finish(t, MS_RES_ERROR, sline,
                       "%s:%zu: the server closed the connection in the middle of a line "
                       "(%zu bytes without a line end)",
                       t->file, sline, t->rlen);
                return -1;
            }
            return 0;
        }
        int r = read_more(t, dl, sline);
        if (r != 1)
            return r;
    }
}

/* A clean close while a line was expected: mid-response (error) or plain (fail). */
static void closed_early(struct rt *t, size_t sline, const char *want)
{
    if (t->strict && (t->ss.s.len > 0 || t->ss.s.in_msg))
        finish(t, MS_RES_ERROR, sline,
               "%s:%zu: the server closed the connection in the middle of a response "
               "(expected S: %s)",
               t->file, sline, want);
    else
        finish(t, MS_RES_FAIL, sline,
               "%s:%zu: the server closed the connection\n  expected: S: %s\n  got:      "
               "(connection closed)",
               t->file, sline, want);
}

/* A line no expectation took: forbidden (fail), allowed (skip it) or a mismatch. */
static int unexpected(struct rt *t, size_t sline, const char *p, size_t n, const char *want)
{
    char got[1024];
    int f = filter_match(t, t->forbid, t->nforbid, p, n);

    esc_short(t, got, sizeof(got), p, n);
    if (f) {
        finish(t, MS_RES_FAIL, sline,
               "%s:%zu: the server sent a forbidden response (@forbid at line %zu)\n  got: S: %s",
               t->file, sline, t->forbid[f - 1]->line, got);
        return -1;
    }
    if (filter_match(t, t->allow, t->nallow, p, n))
        return 0;
    finish(t, MS_RES_FAIL, sline,
           "%s:%zu: response does not match\n  expected: S: %s\n  got:      S: %s", t->file, sline,
           want, got);
    return -1;
}

static int run_expect(struct rt *t, const struct ms_step *st)
{
    uint64_t dl = deadline(t);
    char want[1024];

    pattern_short(t, st, want, sizeof(want));
    for (;;) {
        const char *p;
        size_t n;
        int r = get_line(t, dl, st->line, &p, &n);
        if (r == -2) {
            finish(t, MS_RES_ERROR, st->line, "%s:%zu: timed out after %u ms waiting for S: %s",
                   t->file, st->line, t->o->timeout_ms, want);
            return -1;
        }
        if (r < 0)
            return -1;
        if (r == 0) {
            closed_early(t, st->line, want);
            return -1;
        }
        int m = ms_script_match(t->s, st, &t->vars, p, n);
        if (m == 1)
            return 0;
        if (m < 0) {
            finish(t, MS_RES_ERROR, st->line, "%s:%zu: captured values exceed %u bytes", t->file,
                   st->line, MS_SCRIPT_VAR_BYTES);
            return -1;
        }
        if (unexpected(t, st->line, p, n, want) != 0)
            return -1;
    }
}

#define NOCRLF_SETTLE_MS 250

/* The length a pattern matches when fixed (literals, bound variables); else SIZE_MAX. */
static size_t fixed_len(const struct rt *t, const struct ms_step *st)
{
    size_t n = 0;

    for (size_t i = 0; i < st->nparts; i++) {
        const struct ms_part *pt = &t->s->parts[st->part0 + i];
        if (pt->kind == MS_PART_LIT)
            n += pt->len;
        else if (pt->kind == MS_PART_VAR && t->vars.v[pt->var].bound)
            n += t->vars.v[pt->var].len;
        else
            return SIZE_MAX;
    }
    return n;
}

/*
 * An S: line after @nocrlf: server bytes that are not (yet) a whole line.
 * A fixed pattern takes exactly its length (what follows, even CRLF, is the
 * next line's); one with ${*} or a capture takes what the server sent until
 * it paused (NOCRLF_SETTLE_MS without bytes) or closed. A line end within
 * those bytes is a mismatch: the server did end the line.
 */
static int run_expect_nocrlf(struct rt *t, const struct ms_step *st)
{
    uint64_t dl = deadline(t);
    size_t fixed = fixed_len(t, st), take;
    const char *end = NULL; /* what cut the bytes short: "a line end", "the close" */
    char want[1024], got[1024];

    pattern_short(t, st, want, sizeof(want));
    compact(t);
    for (;;) {
        const char *lf = t->rlen ? memchr(t->rbuf, '\n', t->rlen) : NULL;
        size_t upto = lf ? (size_t)(lf - t->rbuf) : t->rlen;
        if (fixed != SIZE_MAX && upto >= fixed) {
            take = fixed;
            break;
        }
        if (lf || t->eof) {
            take = lf && upto > 0 && t->rbuf[upto - 1] == '\r' ? upto - 1 : upto;
            /* a close ends a variable-length line; a fixed one it cuts short */
            if (lf)
                end = "then a line end";
            else if (fixed != SIZE_MAX)
                end = "then the connection closed";
            break;
        }
        if (t->rlen >= t->rmax) {
            finish(t, MS_RES_ERROR, st->line,
                   "%s:%zu: the server sent a line longer than %zu bytes without a line end",
                   t->file, st->line, t->rmax);
            return -1;
        }
        uint64_t rdl = dl;
        if (fixed == SIZE_MAX && t->rlen > 0 && ms_now_ms() + NOCRLF_SETTLE_MS < dl)
            rdl = ms_now_ms() + NOCRLF_SETTLE_MS;
        int r = read_more(t, rdl, st->line);
        if (r == -1)
            return -1;
        if (r == -2 && rdl < dl) {
            take = t->rlen; /* the server paused */
            break;
        }
        if (r == -2) {
            finish(t, MS_RES_ERROR, st->line,
                   "%s:%zu: timed out after %u ms waiting for @nocrlf S: %s (%zu bytes so far)",
                   t->file, st->line, t->o->timeout_ms, want, t->rlen);
            return -1;
        }
    }
    if (take == 0 && t->eof && t->rlen == 0) {
        closed_early(t, st->line, want);
        return -1;
    }
    sb_str(&t->tr, "@nocrlf\n");
    tr_line(t, "S: ", t->rbuf, take);
    if (is_binary(t->rbuf, take)) {
        finish(t, MS_RES_ERROR, st->line,
               "%s:%zu: the server sent binary data (NUL or many control bytes) that "
               "cannot be framed as protocol lines",
               t->file, st->line);
        return -1;
    }
    if (t->strict && !end) {
        ms_session_feed(&t->ss, 1, st->line, t->rbuf, take);
        if (t->gram) {
            finish(t, t->gram_is_error ? MS_RES_ERROR : MS_RES_FAIL, st->line,
                   "%s:%zu: the server's response breaks the grammar: %s", t->file, st->line,
                   t->gram_msg);
            return -1;
        }
    }
    if (t->seen.len + take + 1 <= t->seen.max) {
        sb_add(&t->seen, t->rbuf, take);
        sb_add(&t->seen, "\n", 1);
    }
    t->conn_lines++;
    int m = ms_script_match(t->s, st, &t->vars, t->rbuf, take);
    if (m < 0) {
        finish(t, MS_RES_ERROR, st->line, "%s:%zu: captured values exceed %u bytes", t->file,
               st->line, MS_SCRIPT_VAR_BYTES);
        return -1;
    }
    if (m == 1 && !end) {
        t->consumed = take;
        t->scanned = 0;
        return 0;
    }
    esc_short(t, got, sizeof(got), t->rbuf, take);
    finish(t, MS_RES_FAIL, st->line,
           "%s:%zu: response does not match\n  expected: @nocrlf S: %s (no line end)\n  got:      "
           "S: %s%s%s",
           t->file, st->line, want, got, end ? " - " : "", end ? end : "");
    return -1;
}

/* steps[first..end) are S: lines that may arrive in any order. */
static int run_unordered(struct rt *t, size_t first, size_t end)
{
    uint8_t got[MS_SCRIPT_MAX_STEPS / 8 + 1] = {0};
    size_t left = end - first;
    uint64_t dl = deadline(t);
    char want[1024];

    while (left > 0) {
        const struct ms_step *st0 = &t->s->steps[first];
        const char *p;
        size_t n;
        size_t i, k = 0;
        for (i = first; i < end && got[(i - first) / 8] & (1u << ((i - first) % 8)); i++)
            ;
        pattern_short(t, &t->s->steps[i], want, sizeof(want));
        int r = get_line(t, dl, st0->line, &p, &n);
        if (r == -2) {
            finish(t, MS_RES_ERROR, st0->line,
                   "%s:%zu: timed out after %u ms in an @unordered block, %zu line(s) not seen "
                   "(first: S: %s)",
                   t->file, t->s->steps[i].line, t->o->timeout_ms, left, want);
            return -1;
        }
        if (r < 0)
            return -1;
        if (r == 0) {
            closed_early(t, t->s->steps[i].line, want);
            return -1;
        }
        for (k = first; k < end; k++) {
            if (got[(k - first) / 8] & (1u << ((k - first) % 8)))
                continue;
            int m = ms_script_match(t->s, &t->s->steps[k], &t->vars, p, n);
            if (m < 0) {
                finish(t, MS_RES_ERROR, t->s->steps[k].line, "captured values exceed %u bytes",
                       MS_SCRIPT_VAR_BYTES);
                return -1;
            }
            if (m == 1)
                break;
        }
        if (k < end) {
            got[(k - first) / 8] |= (uint8_t)(1u << ((k - first) % 8));
            left--;
            continue;
        }
        if (unexpected(t, t->s->steps[i].line, p, n, want) != 0)
            return -1;
    }
    return 0;
}

static int send_bytes(struct rt *t, size_t line, const char *buf, size_t n)
{
    char err[512];

    if (ms_conn_write(&t->conn, buf, n, deadline(t), err, sizeof(err)) != 0) {
        finish(t, MS_RES_ERROR, line, "%s:%zu: %s", t->file, line, err);
        return -1;
    }
    if (t->strict)
        ms_session_feed(&t->ss, 0, line, buf, n);
    return 0;
}

static int pt_is_builtin(const struct ms_script *s, const char *name)
{
    for (size_t i = 0; i < MS_VAR_BUILTINS && i < s->nvars; i++)
        if (strcmp(s->vars[i], name) == 0)
            return 1;
    return 0;
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
    if (ul > 1024 || pl > 1024)
        return -1;
    char buf[2 * 1024 + 1024 + 3];
    size_t n = 0;
    buf[n++] = '\0';
    memcpy(buf + n, user, ul);
    n += ul;
    buf[n++] = '\0';
    memcpy(buf + n, pw, pl);
    n += pl;
    if (set_b64(vs, MS_VAR_SASL_PLAIN, buf, n) != 0)
        return -1;
    memmove(buf + ul, buf, n);
    memcpy(buf, user, ul);
    if (set_b64(vs, MS_VAR_SASL_PLAIN_AUTHZ, buf, n + ul) != 0)
        return -1;
    if (set_b64(vs, MS_VAR_SASL_USER, user, ul) != 0 ||
        set_b64(vs, MS_VAR_SASL_PASSWORD, pw, pl) != 0)
        return -1;
    return 0;
}

/* Render a C: step; lines of a @segment are collected and written at once. */
static int run_send(struct rt *t, const struct ms_step *st, struct sbuf *seg)
{
    char *buf = malloc(SEND_MAX);
    if (!buf) {
        finish(t, MS_RES_ERROR, st->line, "out of memory");
        return -1;
    }
    ssize_t n = ms_script_render(t->s, st, &t->vars, buf, SEND_MAX);
    if (n < 0) {
        const char *missing = NULL;
        for (size_t i = 0; i < st->nparts; i++) {
            const struct ms_part *pt = &t->s->parts[st->part0 + i];
            if (pt->kind == MS_PART_VAR && !t->vars.v[pt->var].bound)
                missing = t->s->vars[pt->var];
        }
        if (missing && strcmp(missing, "apop_digest") == 0 && t->apop == 1 && t->o->password)
            finish(t, MS_RES_ERROR, st->line,
                   "%s:%zu: variable ${apop_digest} is not set: the server's greeting has no "
                   "<timestamp> (RFC 1939 7: APOP needs one)",
                   t->file, st->line);
        else if (missing)
            finish(t, MS_RES_ERROR, st->line, "%s:%zu: variable ${%s} is not set%s", t->file,
                   st->line, missing,
                   strcmp(missing, "host") != 0 && pt_is_builtin(t->s, missing)
                       ? " (use --user/--password)"
                       : "");
        else
            finish(t, MS_RES_ERROR, st->line, "%s:%zu: line longer than %u bytes", t->file,
                   st->line, SEND_MAX);
        free(buf);
        return -1;
    }
    tr_send(t, st);
    int rc = 0;
    if (seg)
        sb_add(seg, buf, (size_t)n);
    else
        rc = send_bytes(t, st->line, buf, (size_t)n);
    free(buf);
    return rc;
}

/* Read lines until one starts with prefix (IMAP tagged reply / SMTP last line). */
static int auto_reply(struct rt *t, size_t line, const char *want, int smtp, const char **p,
                      size_t *n)
{
    uint64_t dl = deadline(t);
    for (;;) {
        int r = get_line(t, dl, line, p, n);
        if (r == -2 || r == 0) {
            finish(t, MS_RES_ERROR, line, "%s:%zu: --tls starttls: %s waiting for the %s reply",
                   t->file, line, r == 0 ? "connection closed" : "timed out", want);
            return -1;
        }
        if (r < 0)
            return -1;
        if (smtp && !(*n >= 4 && (*p)[3] == '-'))
            return 0;
        if (!smtp && *n >= strlen(want) && memcmp(*p, want, strlen(want)) == 0)
            return 0;
    }
}

static int has_word_ci(const char *hay, size_t n, const char *w)
{
    size_t wl = strlen(w);
    for (size_t i = 0; i + wl <= n; i++) {
        /* "250-STARTTLS", "* CAPABILITY IMAP4rev1", "AUTH=PLAIN" */
        if (i > 0 &&
            (ms_is((unsigned char)hay[i - 1], MS_C_ALPHA | MS_C_DIGIT) || hay[i - 1] == '='))
            continue;
        size_t k = 0;
        while (k < wl && ms_lower((unsigned char)hay[i + k]) == ms_lower((unsigned char)w[k]))
            k++;
        if (k < wl)
            continue;
        if (i + wl < n && (ms_is((unsigned char)hay[i + wl], MS_C_ALPHA | MS_C_DIGIT) ||
                           hay[i + wl] == '-' || hay[i + wl] == '='))
            continue;
        return 1;
    }
    return 0;
}

/* --tls starttls with a script that has no @tls: upgrade after the greeting. */
static int auto_starttls(struct rt *t, size_t line)
{
    const char *p;
    size_t n;

    t->auto_tls = 0;
    tr_note(t, "mailspec: --tls starttls: upgrading before the script's first command");
    if (strcmp(t->pname, "smtp") == 0) {
        size_t mark = t->seen.len;
        if (send_bytes(t, line, "EHLO mailspec.invalid\r\n", 23) != 0)
            return -1;
        tr_line(t, "C: ", "EHLO mailspec.invalid", 21);
        if (auto_reply(t, line, "EHLO", 1, &p, &n) != 0)
            return -1;
        if (n < 3 || memcmp(p, "250", 3) != 0) {
            finish(t, MS_RES_ERROR, line, "--tls starttls: EHLO was refused");
            return -1;
        }
        if (!has_word_ci(t->seen.p + mark, t->seen.len - mark, "STARTTLS")) {
            finish(t, MS_RES_ERROR, line, "--tls starttls: the server does not offer STARTTLS");
            return -1;
        }
        if (send_bytes(t, line, "STARTTLS\r\n", 10) != 0)
            return -1;
        tr_line(t, "C: ", "STARTTLS", 8);
        if (auto_reply(t, line, "STARTTLS", 1, &p, &n) != 0)
            return -1;
        if (n < 3 || memcmp(p, "220", 3) != 0) {
            finish(t, MS_RES_ERROR, line, "--tls starttls: STARTTLS was refused");
            return -1;
        }
    } else if (strcmp(t->pname, "imap") == 0) {
        if (send_bytes(t, line, "mstls STARTTLS\r\n", 16) != 0)
            return -1;
        tr_line(t, "C: ", "mstls STARTTLS", 14);
        if (auto_reply(t, line, "mstls ", 0, &p, &n) != 0)
            return -1;
        if (n < 9 || memcmp(p, "mstls OK", 8) != 0) {
            finish(t, MS_RES_ERROR, line, "--tls starttls: STARTTLS was refused");
            return -1;
        }
    } else {
        if (send_bytes(t, line, "STLS\r\n", 6) != 0)
            return -1;
        tr_line(t, "C: ", "STLS", 4);
        if (auto_reply(t, line, "", 0, &p, &n) != 0)
            return -1;
        if (n < 3 || memcmp(p, "+OK", 3) != 0) {
            finish(t, MS_RES_ERROR, line, "--tls starttls: STLS was refused");
            return -1;
        }
    }
    return do_tls(t, line);
}

static int run_close(struct rt *t, const struct ms_step *st)
{
    uint64_t dl = deadline(t);
    for (;;) {
        const char *p;
        size_t n;
        int r = get_line(t, dl, st->line, &p, &n);
        if (r == 0) {
            close_conn(t);
            return 0;
        }
        if (r == -2) {
            finish(t, MS_RES_FAIL, st->line,
                   "%s:%zu: the server did not close the connection within %u ms", t->file,
                   st->line, t->o->timeout_ms);
            return -1;
        }
        if (r < 0)
            return -1;
        if (unexpected(t, st->line, p, n, "(the server closes the connection)") != 0)
            return -1;
    }
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

static void run_steps(struct rt *t)
{
    const struct ms_script *s = t->s;
    struct sbuf seg = {NULL, 0, 0, 1u << 20, 0};
    int in_seg = 0;
    size_t seg_line = 0;

    if (open_conn(t, 1) != 0)
        return;
    for (size_t i = 0; i < s->nsteps && !t->done; i++) {
        const struct ms_step *st = &s->steps[i];
        if (t->o->stop && *t->o->stop) {
            finish(t, MS_RES_ERROR, st->line, "interrupted");
            break;
        }
        if (!t->open && st->type != MS_STEP_CONNECTION && st->type != MS_STEP_SLEEP &&
            st->type != MS_STEP_ALLOW && st->type != MS_STEP_FORBID) {
            finish(t, MS_RES_ERROR, st->line,
                   "%s:%zu: the connection was closed by @close; use @connection to open "
                   "another",
                   t->file, st->line);
            break;
        }
        switch (st->type) {
        case MS_STEP_SEND:
            if (t->auto_tls && auto_starttls(t, st->line) != 0)
                break;
            run_send(t, st, in_seg ? &seg : NULL);
            break;
        case MS_STEP_EXPECT:
            if (st->nocrlf)
                run_expect_nocrlf(t, st);
            else
                run_expect(t, st);
            break;
        case MS_STEP_SEGMENT:
            if (t->auto_tls && auto_starttls(t, st->line) != 0)
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
            run_unordered(t, i + 1, end);
            i = end; /* the @end */
            break;
        }
        case MS_STEP_END:
            if (in_seg) {
                in_seg = 0;
                if (seg.truncated)
                    finish(t, MS_RES_ERROR, seg_line, "%s:%zu: @segment larger than 1 MiB", t->file,
                           seg_line);
                else if (seg.len)
                    send_bytes(t, seg_line, seg.p, seg.len);
                tr_note(t, "@end of segment");
            }
            break;
        case MS_STEP_TLS:
            do_tls(t, st->line);
            break;
        case MS_STEP_CLOSE:
            run_close(t, st);
            break;
        case MS_STEP_SLEEP:
            sleep_ms(t, st->arg);
            break;
        case MS_STEP_CONNECTION:
            close_conn(t);
            tr_note(t, "@connection");
            open_conn(t, st->line);
            break;
        case MS_STEP_REQUIRES: {
            const struct ms_part *pt = &s->parts[st->part0];
            char cap[256];
            size_t n = pt->len < sizeof(cap) - 1 ? pt->len : sizeof(cap) - 1;
            memcpy(cap, s->bytes + pt->off, n);
            cap[n] = '\0';
            if (!has_word_ci(t->seen.p ? t->seen.p : "", t->seen.len, cap))
                finish(t, MS_RES_SKIP, st->line,
                       "%s:%zu: the server does not announce %s (@requires)", t->file, st->line,
                       cap);
            break;
        }
        case MS_STEP_ALLOW:
            if (t->nallow < MAX_FILTERS)
                t->allow[t->nallow++] = st;
            break;
        case MS_STEP_FORBID:
            if (t->nforbid < MAX_FILTERS)
                t->forbid[t->nforbid++] = st;
            break;
        default:
            break;
        }
    }
    free(seg.p);
    if (!t->done)
        finish(t, MS_RES_PASS, 0, "%s", "");
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

void ms_run_script(const struct ms_script *s, const char *file, const struct ms_run_opts *o,
                   struct ms_test_result *r)
{
    struct rt *t = calloc(1, sizeof(*t));
    uint64_t start = ms_now_ms();
    char idbuf[512];

    memset(r, 0, sizeof(*r));
    if (!t) {
        r->result = MS_RES_ERROR;
        r->message = dup_str("out of memory");
        return;
    }
    t->s = s;
    t->file = file;
    t->o = o;
    t->lim = o->lim;
    t->lim.lenient |= s->lenient;
    t->rmax = o->max_line ? o->max_line : 4u * 1024 * 1024;
    t->tr.max = TRANSCRIPT_MAX;
    t->seen.max = SEEN_MAX;
    ms_vars_init(&t->vars);
    if (o->user && ms_vars_set(&t->vars, MS_VAR_USER, o->user, strlen(o->user)) != MS_OK)
        finish(t, MS_RES_ERROR, 0, "--user too long");
    if (o->password &&
        ms_vars_set(&t->vars, MS_VAR_PASSWORD, o->password, strlen(o->password)) != MS_OK)
        finish(t, MS_RES_ERROR, 0, "--password too long");
    if (o->host && ms_vars_set(&t->vars, MS_VAR_HOST, o->host, strlen(o->host)) != MS_OK)
        finish(t, MS_RES_ERROR, 0, "--host too long");
    if (o->user && o->password && set_sasl_vars(&t->vars, o->user, o->password) != 0)
        finish(t, MS_RES_ERROR, 0, "--user/--password too long");

    t->pname = o->protocol ? o->protocol : (s->protocol[0] ? s->protocol : NULL);
    unsigned mode_bit = o->tls == MS_TLS_IMPLICIT   ? MS_TRANSPORT_IMPLICIT
                        : o->tls == MS_TLS_STARTTLS ? MS_TRANSPORT_STARTTLS
                                                    : MS_TRANSPORT_NONE;
    if (!t->pname) {
        finish(t, MS_RES_ERROR, 0, "%s: protocol unknown: give --protocol or @protocol", file);
    } else if (o->protocol && s->protocol[0] && strcmp(o->protocol, s->protocol) != 0) {
        finish(t, MS_RES_SKIP, 0, "%s: a %s test; this run is %s", file, s->protocol, o->protocol);
    } else if (s->transports && !(s->transports & mode_bit)) {
        char tt[64];
        transports_text(s->transports, tt, sizeof(tt));
        finish(t, MS_RES_SKIP, 0, "%s: applies to transport(s) %sbut this run uses --tls %s", file,
               tt, ms_tls_mode_name(o->tls));
    } else if (s->has_tls && o->tls == MS_TLS_IMPLICIT) {
        finish(t, MS_RES_SKIP, 0,
               "%s: the script upgrades with @tls; it does not apply over implicit TLS", file);
    } else if (!o->port) {
        finish(t, MS_RES_ERROR, 0, "no port: give --port");
    }
    if (!t->done) {
        t->proto = ms_proto_find(t->pname);
        if (!t->proto)
            snprintf(t->note, sizeof(t->note),
                     "note: no strict %s parser is registered in this build; responses were "
                     "matched but their syntax was not checked",
                     t->pname);
        run_steps(t);
    }
    close_conn(t);

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
    r->protocol = dup_str(t->pname ? t->pname : "");
    r->level = s->level;
    r->result = t->res;
    if (t->note[0] && t->res != MS_RES_SKIP) {
        char m[sizeof(t->msg) + sizeof(t->note) + 2];
        snprintf(m, sizeof(m), "%s%s%s", t->msg, t->msg[0] ? "\n" : "", t->note);
        r->message = dup_str(m);
    } else {
        r->message = dup_str(t->msg);
    }
    if (t->tr.truncated)
        sb_str(&t->tr, ""); /* keep what fits */
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
    r->duration_ms = ms_now_ms() - start;
    r->interrupted = o->stop && *o->stop;
    free(t->rbuf);
    free(t->tr.p);
    free(t->seen.p);
    free(t->cb);
    free(t->sb);
    free(t->cst);
    free(t->cv);
    free(t->sst);
    free(t->sv);
    free(t);
}

void ms_test_result_free(struct ms_test_result *r)
{
    free(r->file);
    free(r->id);
    free(r->title);
    free(r->rfc);
    free(r->protocol);
    free(r->message);
    free(r->transcript);
    memset(r, 0, sizeof(*r));
}
