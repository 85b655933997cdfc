/*
 * The runner's side of the wire (runner_int.h): the connection, server bytes
 * framed into whole protocol messages by the strict parsers (an SMTP reply
 * with all its lines, a POP3 response with its multi-line body, an IMAP
 * response with its literals), the capabilities those messages announce
 * (read from the parsers' typed views, never by searching text), and the
 * transcript with secrets shown by name.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "runner_int.h"

#define READ_CHUNK (64u * 1024)

void sb_add(struct sbuf *b, const char *p, size_t n)
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

void sb_str(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

uint64_t rt_deadline(const struct rt *t)
{
    return ms_now_ms() + t->o->timeout_ms;
}

/* ---- transcript ---- */

/*
 * Values that are never printed (transcripts, messages, reports): the
 * password and what is derived from it. Where the script sends them the
 * transcript shows the variable; in any other text (a server that echoes
 * them) every occurrence is replaced by ${name} too, whatever its length:
 * a one-byte password is masked wherever that byte stands (the text reads
 * worse, but it does not hold the secret). The base64 forms are also found
 * without their '=' padding (a server may echo the blob unpadded), and the
 * password also as IMAP quoted-string content (t->pw_quoted).
 */
static int is_secret(size_t var)
{
    return var < MS_VAR_BUILTINS && (RT_SECRET_VARS & RT_VAR(var)) != 0;
}

static int is_base64_secret(size_t var)
{
    return var == MS_VAR_SASL_PLAIN || var == MS_VAR_SASL_PLAIN_AUTHZ ||
           var == MS_VAR_SASL_PASSWORD;
}

uint64_t rt_step_vars(const struct ms_script *s, const struct ms_step *st)
{
    uint64_t set = 0;
    for (size_t i = 0; i < st->nparts; i++) {
        const struct ms_part *pt = &s->parts[st->part0 + i];
        if (pt->kind != MS_PART_LIT && pt->kind != MS_PART_ANY)
            set |= RT_VAR(pt->var);
    }
    return set;
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

/*
 * The secrets of a run, searched in one text: each keeps the offset of its
 * next occurrence, found again only once the text is consumed past it, so
 * masking is linear in the text however many short secrets it holds.
 */
#define RT_NSECRETS 8
struct secret_scan {
    struct {
        const char *p;
        size_t len, pad; /* pad: '=' bytes that may follow (base64) */
        size_t var, next;
    } s[RT_NSECRETS];
    size_t n;
};

static void scan_init(const struct rt *t, struct secret_scan *sc)
{
    sc->n = 0;
    for (size_t v = 0; v < MS_VAR_BUILTINS && sc->n < RT_NSECRETS; v++) {
        size_t vl = t->vars.v[v].len;
        if (!is_secret(v) || !t->vars.v[v].bound || vl == 0)
            continue;
        const char *p = t->vars.buf + t->vars.v[v].off;
        size_t pad = 0;
        while (is_base64_secret(v) && pad < 2 && vl - pad > 1 && p[vl - pad - 1] == '=')
            pad++;
        sc->s[sc->n].p = p;
        sc->s[sc->n].len = vl - pad;
        sc->s[sc->n].pad = pad;
        sc->s[sc->n].var = v;
        sc->s[sc->n].next = SIZE_MAX; /* not searched yet */
        sc->n++;
    }
    if (t->pw_quoted && sc->n < RT_NSECRETS) {
        sc->s[sc->n].p = t->pw_quoted;
        sc->s[sc->n].len = t->pw_quoted_len;
        sc->s[sc->n].pad = 0;
        sc->s[sc->n].var = MS_VAR_PASSWORD;
        sc->s[sc->n].next = SIZE_MAX;
        sc->n++;
    }
}

/*
 * In p[0..n), with the secrets' next occurrences at or after from: the
 * offset of the first secret (the longest at that offset), or n.
 */
static size_t scan_next(struct secret_scan *sc, const char *p, size_t n, size_t from, size_t *var,
                        size_t *len)
{
    size_t best = n;
    for (size_t i = 0; i < sc->n; i++) {
        if (sc->s[i].next == SIZE_MAX || sc->s[i].next < from) {
            const char *hit = find_bytes(p + from, n - from, sc->s[i].p, sc->s[i].len);
            sc->s[i].next = hit ? (size_t)(hit - p) : n;
        }
        size_t at = sc->s[i].next;
        if (at >= n || at > best)
            continue;
        size_t l = sc->s[i].len;
        while (l - sc->s[i].len < sc->s[i].pad && at + l < n && p[at + l] == '=')
            l++;
        if (at < best || l > *len) {
            best = at;
            *var = sc->s[i].var;
            *len = l;
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
    struct secret_scan sc;
    size_t pos = 0;

    scan_init(t, &sc);
    while (pos < n && !(o ? o->overflow : t->tr.truncated)) {
        size_t var = 0, vl = 0;
        size_t k = scan_next(&sc, p, n, pos, &var, &vl);
        for (size_t i = pos; i < k && !(o ? o->overflow : t->tr.truncated);) {
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
        pos = k + vl;
    }
}

void tr_tag(struct rt *t)
{
    if (!t->s->named || !t->c || t->tr_conn == t->c)
        return;
    /* the transcript reads as a script: the connection switches as there */
    sb_str(&t->tr, "@connection ");
    sb_str(&t->tr, t->c->name);
    sb_add(&t->tr, "\n", 1);
    t->tr_conn = t->c;
}

void tr_line(struct rt *t, const char *prefix, const char *p, size_t n)
{
    tr_tag(t);
    sb_str(&t->tr, prefix);
    esc_text(t, NULL, p, n);
    sb_add(&t->tr, "\n", 1);
}

/* A C: step as sent, secret variables shown by name. */
void tr_send(struct rt *t, const struct ms_step *st)
{
    if (st->nocrlf) {
        tr_tag(t);
        sb_str(&t->tr, "@nocrlf\n");
    }
    tr_tag(t);
    sb_str(&t->tr, "C: ");
    for (size_t i = 0; i < st->nparts; i++) {
        const struct ms_part *pt = &t->s->parts[st->part0 + i];
        if (pt->kind == MS_PART_LIT) {
            esc_text(t, NULL, t->s->bytes + pt->off, pt->len);
        } else if (pt->kind != MS_PART_ANY && is_secret(pt->var)) {
            sb_str(&t->tr, "${");
            sb_str(&t->tr, t->s->vars[pt->var]);
            sb_str(&t->tr, "}");
        } else if (pt->kind != MS_PART_ANY) {
            esc_text(t, NULL, t->vars.buf + t->vars.v[pt->var].off, t->vars.v[pt->var].len);
        }
    }
    sb_add(&t->tr, "\n", 1);
}

void tr_note(struct rt *t, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    tr_tag(t);
    sb_str(&t->tr, "# ");
    sb_str(&t->tr, buf);
    sb_add(&t->tr, "\n", 1);
}

/* Escaped, bounded text (secrets redacted), for messages. */
void esc_short(struct rt *t, char *out, size_t cap, const char *p, size_t n)
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

void pattern_short(const struct rt *t, const struct ms_step *st, char *out, size_t cap)
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

/* ---- capabilities, from the typed views ---- */

static unsigned char caps_upper(unsigned char ch)
{
    return ch >= 'a' && ch <= 'z' ? (unsigned char)(ch - 32) : ch;
}

static void caps_reset(struct rt *t)
{
    t->c->caps_len = 0;
    t->c->caps_seen = 1;
}

/* Add "NAME" or "NAME=PARAM" (upper-cased; capability names are case-insensitive). */
static void caps_add(struct rt *t, struct ms_slice name, struct ms_slice param)
{
    size_t need = name.len + (param.len ? param.len + 1 : 0) + 1;
    if (!name.len || need > sizeof(t->c->caps) - t->c->caps_len)
        return;
    char *o = t->c->caps + t->c->caps_len;
    for (size_t i = 0; i < name.len; i++)
        *o++ = (char)caps_upper((unsigned char)name.ptr[i]);
    if (param.len) {
        *o++ = '=';
        for (size_t i = 0; i < param.len; i++)
            *o++ = (char)caps_upper((unsigned char)param.ptr[i]);
    }
    *o++ = '\0';
    t->c->caps_len += need;
}

/* Each SP-separated word of params as NAME=WORD. */
static void caps_add_params(struct rt *t, struct ms_slice name, struct ms_slice params)
{
    size_t j = 0;
    while (j < params.len) {
        size_t e = j;
        while (e < params.len && params.ptr[e] != ' ')
            e++;
        if (e > j)
            caps_add(t, name, (struct ms_slice){params.ptr + j, e - j});
        j = e + 1;
    }
}

int rt_has_cap(const struct rt *t, const char *cap, size_t n)
{
    for (size_t i = 0; i < t->c->caps_len;) {
        size_t l = strlen(t->c->caps + i);
        if (l == n) {
            size_t k = 0;
            while (k < n && t->c->caps[i + k] == (char)caps_upper((unsigned char)cap[k]))
                k++;
            if (k == n)
                return 1;
        }
        i += l + 1;
    }
    return 0;
}

char *rt_caps_text(const struct rt *t)
{
    char *o = malloc(t->c->caps_len + 1);
    if (!o)
        return NULL;
    for (size_t i = 0; i < t->c->caps_len; i++)
        o[i] = t->c->caps[i] ? t->c->caps[i] : ' ';
    o[t->c->caps_len ? t->c->caps_len - 1 : 0] = '\0';
    return o;
}

static void imap_caps(struct rt *t, const struct ms_imap_response *r, uint32_t first)
{
    caps_reset(t);
    for (uint32_t i = first; i; i = r->nodes[i].next)
        if (r->nodes[i].type == MS_IMAP_N_ATOM)
            caps_add(t, r->nodes[i].s, (struct ms_slice){NULL, 0});
}

/*
 * POP3 APOP (RFC 1939 7): ${apop_digest} = hex MD5 of the greeting's
 * <timestamp> (angle brackets included) followed by the password. Derived
 * again from each connection's greeting; unset when it has no timestamp.
 */
static void apop_digest(struct rt *t, struct ms_slice ts)
{
    t->vars.v[MS_VAR_APOP_DIGEST].bound = 0;
    t->c->apop = 1;
    if (!ts.len || !t->o->password)
        return;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_md5(), NULL) == 1 &&
             EVP_DigestUpdate(c, ts.ptr, ts.len) == 1 &&
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
        t->c->apop = 2;
}

/* A complete server message: where it ends, and what it announces. */
static void server_msg(struct rt *t, const void *view)
{
    if (strcmp(t->pname, "smtp") == 0) {
        const struct ms_smtp_reply *r = view;
        t->c->msg_end = 1;
        if (r->is_ehlo && r->code == 250) {
            caps_reset(t);
            for (uint16_t i = 0; i < r->nkeywords; i++) {
                caps_add(t, r->keywords[i].keyword, (struct ms_slice){NULL, 0});
                caps_add_params(t, r->keywords[i].keyword, r->keywords[i].params);
            }
        }
    } else if (strcmp(t->pname, "imap") == 0) {
        const struct ms_imap_response *r = view;
        t->c->msg_end = 1;
        if (r->type == MS_IMAP_CAPABILITY)
            imap_caps(t, r, r->data);
        else if (r->code && r->nodes[r->code].child) {
            uint32_t name = r->nodes[r->code].child;
            if (ms_slice_ieq(r->nodes[name].s, "CAPABILITY"))
                imap_caps(t, r, r->nodes[name].next);
        }
    } else {
        /* POP3 frames a multi-line response line by line: the status line
         * opens it, "." (or the end of a streamed body) closes it. */
        const struct ms_pop3_reply *r = view;
        if (r->type == MS_POP3_R_GREETING) {
            apop_digest(t, r->timestamp);
            t->c->msg_end = 1;
        } else if (r->type == MS_POP3_R_STATUS && r->multiline) {
            t->c->pop3_open = 1;
            if (r->answers == MS_POP3_CAPA)
                caps_reset(t);
        } else if (r->type == MS_POP3_R_CAPABILITY) {
            caps_add(t, r->name, (struct ms_slice){NULL, 0});
            for (uint8_t i = 0; i < r->nparams; i++)
                caps_add(t, r->name, r->params[i]);
        } else if (r->type == MS_POP3_R_END || r->type == MS_POP3_R_BODY) {
            t->c->pop3_open = 0;
            t->c->msg_end = 1;
        } else if (!t->c->pop3_open) {
            t->c->msg_end = 1;
        }
    }
}

static void on_msg(void *ctx, int is_server, size_t line, const struct ms_kind *k, const void *view,
                   const struct ms_error *err, uint64_t offset, uint64_t length)
{
    struct rt *t = ctx;
    (void)line;
    (void)k;
    (void)length;
    /* Client errors are the script's business (negative tests send bad
     * commands on purpose). */
    if (!is_server)
        return;
    if (!err) {
        server_msg(t, view);
        return;
    }
    /* The stream drops the bad message through its line end: the framing
     * goes on from the next line. */
    t->c->msg_end = 1;
    t->c->pop3_open = 0;
    if (t->c->gram)
        return;
    t->c->gram = 1;
    /* our limit is not a verdict on the server; syntax, state and truncation are */
    t->c->gram_code = err->code == MS_ERR_LIMIT ? 2 : 1;
    snprintf(t->c->gram_msg, sizeof(t->c->gram_msg), "%s: %s (server stream offset %llu)",
             err->rule ? err->rule : "?", err->reason ? err->reason : "?",
             (unsigned long long)(err->offset ? err->offset : offset));
}

/*
 * A grammar complaint about what was just read. In a check step it is the
 * verdict (a limit of ours blocks instead); in a setup or cleanup step it is
 * not what the test checks: noted, and the test goes on (another test owns
 * that message's grammar). Returns -1 when the run ends.
 */
int rt_grammar_verdict(struct rt *t, size_t sline)
{
    if (!t->c->gram)
        return 0;
    t->c->gram = 0;
    if (t->c->gram_code == 2) {
        rt_finish(t, MS_RES_BLOCKED, sline,
                  "%s:%zu: the server's response is beyond this run's limits: %s", t->file, sline,
                  t->c->gram_msg);
        return -1;
    }
    if (t->phase != MS_PHASE_CHECK) {
        tr_note(t,
                "mailspec: the response above breaks the grammar (%s); not judged here: a %s "
                "step",
                t->c->gram_msg, t->phase == MS_PHASE_SETUP ? "setup" : "cleanup");
        return 0;
    }
    rt_finish(t, MS_RES_FAIL, sline, "%s:%zu: the server's response breaks the grammar: %s",
              t->file, sline, t->c->gram_msg);
    return -1;
}

static int strict_init(struct rt *t)
{
    if (!t->proto)
        return 0;
    if (!t->c->cb) {
        t->c->bcap = ms_stream_buffer_size(&t->lim);
        t->c->cb = malloc(t->c->bcap);
        t->c->sb = malloc(t->c->bcap);
        t->c->cst = calloc(1, t->proto->commands->state_size);
        t->c->cv = calloc(1, t->proto->commands->view_size);
        t->c->sst = calloc(1, t->proto->replies->state_size);
        t->c->sv = calloc(1, t->proto->replies->view_size);
        if (!t->c->cb || !t->c->sb || !t->c->cst || !t->c->cv || !t->c->sst || !t->c->sv)
            return -1;
    }
    ms_session_init(&t->c->ss, t->proto, &t->lim, t->c->cst, t->c->cv, t->c->cb, t->c->bcap,
                    t->c->sst, t->c->sv, t->c->sb, t->c->bcap, on_msg, t);
    t->c->strict = 1;
    return 0;
}

/* ---- connection ---- */

void rt_close(struct rt *t)
{
    if (t->c->open)
        ms_conn_close(&t->c->conn);
    t->c->open = 0;
    t->c->eof = 0;
    t->c->tls_now = 0;
    t->c->rlen = t->c->consumed = t->c->scanned = 0;
    t->c->nlines = 0;
    t->c->pop3_open = 0;
}

void rt_close_all(struct rt *t)
{
    struct rt_conn *cur = t->c;
    for (size_t i = 0; i < MS_SCRIPT_MAX_CONNS; i++) {
        struct rt_conn *c = &t->conns[i];
        t->c = c;
        rt_close(t);
        free(c->rbuf);
        free(c->lines);
        free(c->cb);
        free(c->sb);
        free(c->cst);
        free(c->cv);
        free(c->sst);
        free(c->sv);
        c->rbuf = c->cb = c->sb = NULL;
        c->lines = NULL;
        c->cst = c->cv = c->sst = c->sv = NULL;
        c->rcap = c->lines_cap = 0;
    }
    t->c = cur;
}

int rt_tls(struct rt *t, size_t line)
{
    char err[512];

    if (t->c->rlen > t->c->consumed) {
        rt_finish(t, MS_RES_FAIL, line,
                  "%s:%zu: the server sent %zu bytes after its TLS go-ahead and before the "
                  "handshake (they would be taken as plaintext; RFC 3207 4.2 / RFC 9051 6.2.1 / "
                  "RFC 2595 4)",
                  t->file, line, t->c->rlen - t->c->consumed);
        return -1;
    }
    if (ms_conn_tls(&t->c->conn, t->o->host, &t->o->tlso, rt_deadline(t), err, sizeof(err)) != 0) {
        tr_note(t, "mailspec: TLS handshake failed: %s", err);
        t->conn_error = t->c->conn.error;
        t->tls_failed = 1;
        if (t->s->tls_failure_passes && t->c->conn.error == MS_CONN_E_TLS_HANDSHAKE) {
            /* @tls-failure pass: the server could not run the pipelined
             * plaintext inside TLS, since TLS never started */
            rt_finish(t, MS_RES_PASS, line,
                      "the TLS handshake failed after the pipelined plaintext, so the server "
                      "did not run it as a command inside TLS (%s)",
                      err);
        } else {
            rt_finish(t, t->c->conn.error == MS_CONN_E_TLS_LOCAL ? MS_RES_ERROR : MS_RES_BLOCKED,
                      line, "%s:%zu: TLS: %s", t->file, line, err);
        }
        return -1;
    }
    t->tls = t->c->conn.tls;
    t->c->tls_now = 1;
    tr_note(t, "mailspec: TLS %s %s, certificate %s%s%s", t->tls.version, t->tls.cipher,
            t->tls.verified ? "verified" : "NOT verified", t->tls.verified ? "" : ": ",
            t->tls.verified ? "" : t->tls.verify_error);
    return 0;
}

int rt_tls_close(struct rt *t, size_t line)
{
    char err[512];

    if (!t->c->tls_now) {
        rt_finish(t, MS_RES_ERROR, line,
                  "%s:%zu: @tls-close: the connection is not in TLS (no @tls before it, and "
                  "this run is not --tls implicit or an automatic STARTTLS)",
                  t->file, line);
        return -1;
    }
    if (ms_conn_tls_close_notify(&t->c->conn, rt_deadline(t), err, sizeof(err)) != 0) {
        rt_finish(t, MS_RES_BLOCKED, line, "%s:%zu: @tls-close: %s", t->file, line, err);
        return -1;
    }
    t->c->tls_now = 0;
    tr_note(t, "mailspec: TLS close_notify sent; cleartext from here (the server's TLS records "
               "are read until its close_notify)");
    return 0;
}

int rt_open(struct rt *t, size_t line)
{
    char err[512];

    if (ms_conn_open(&t->c->conn, t->o->host, t->o->port, rt_deadline(t), err, sizeof(err)) != 0) {
        t->conn_error = t->c->conn.error;
        rt_finish(t, MS_RES_BLOCKED, line, "%s", err);
        return -1;
    }
    t->c->open = 1;
    t->c->opened = 1;
    t->c->secret_sent = 0;
    t->c->caps_len = 0; /* capabilities are per connection */
    t->c->caps_seen = 0;
    tr_note(t, "mailspec: connected to %s port %s", t->o->host, t->o->port);
    if (t->proto && strict_init(t) != 0) {
        rt_finish(t, MS_RES_ERROR, line, "out of memory");
        return -1;
    }
    if (t->o->tls == MS_TLS_IMPLICIT && rt_tls(t, line) != 0)
        return -1;
    t->c->auto_tls = t->o->tls == MS_TLS_STARTTLS && !t->s->has_tls;
    return 0;
}

int rt_send_bytes(struct rt *t, size_t line, const char *buf, size_t n)
{
    char err[512];

    if (ms_conn_write(&t->c->conn, buf, n, rt_deadline(t), err, sizeof(err)) != 0) {
        rt_finish(t, MS_RES_BLOCKED, line, "%s:%zu: %s", t->file, line, err);
        return -1;
    }
    if (t->c->strict)
        ms_session_feed(&t->c->ss, 0, line, buf, n);
    return 0;
}

/* ---- server messages ---- */

/* Drop the current message; the bytes after it move to the start of rbuf. */
void rt_compact(struct rt *t)
{
    if (t->c->consumed) {
        memmove(t->c->rbuf, t->c->rbuf + t->c->consumed, t->c->rlen - t->c->consumed);
        t->c->rlen -= t->c->consumed;
        t->c->scanned = t->c->scanned > t->c->consumed ? t->c->scanned - t->c->consumed : 0;
        t->c->consumed = 0;
    }
    t->c->nlines = 0;
}

/*
 * Read more server bytes into rbuf by dl. Returns 1 (bytes added, or t->c->eof
 * set), -2 on timeout (result not set), -1 with the result set.
 */
int rt_read_more(struct rt *t, uint64_t dl, size_t sline)
{
    char err[512];

    if (t->c->rcap - t->c->rlen < READ_CHUNK && t->c->rcap < t->rmax + READ_CHUNK) {
        size_t ncap = t->c->rcap ? t->c->rcap * 2 : 2 * READ_CHUNK;
        if (ncap > t->rmax + READ_CHUNK)
            ncap = t->rmax + READ_CHUNK;
        char *nb = realloc(t->c->rbuf, ncap);
        if (!nb) {
            rt_finish(t, MS_RES_ERROR, sline, "out of memory");
            return -1;
        }
        t->c->rbuf = nb;
        t->c->rcap = ncap;
    }
    size_t room = t->c->rcap - t->c->rlen;
    if (room > READ_CHUNK)
        room = READ_CHUNK;
    ssize_t r =
        ms_conn_read(&t->c->conn, t->c->rbuf + t->c->rlen, room, dl, t->o->stop, err, sizeof(err));
    if (r > 0) {
        t->c->rlen += (size_t)r;
    } else if (r == 0) {
        t->c->eof = 1;
        tr_note(t, "mailspec: the server closed the connection");
    } else if (r == -2) {
        if (t->o->stop && *t->o->stop) {
            rt_finish(t, MS_RES_ERROR, sline, "interrupted");
            return -1;
        }
        return -2;
    } else {
        rt_finish(t, MS_RES_BLOCKED, sline, "%s:%zu: %s", t->file, sline, err);
        return -1;
    }
    return 1;
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

static int add_line(struct rt *t, size_t off, size_t len, size_t sline)
{
    if (t->c->nlines == t->c->lines_cap) {
        size_t ncap = t->c->lines_cap ? t->c->lines_cap * 2 : 16;
        struct rt_line *nl = realloc(t->c->lines, ncap * sizeof(*nl));
        if (!nl) {
            rt_finish(t, MS_RES_ERROR, sline, "out of memory");
            return -1;
        }
        t->c->lines = nl;
        t->c->lines_cap = ncap;
    }
    t->c->lines[t->c->nlines].off = off;
    t->c->lines[t->c->nlines].len = len;
    t->c->nlines++;
    return 0;
}

/*
 * A setup or cleanup step reads the server's messages with the lenient flags
 * that keep a message whole (each deviation a quirk), so one grammar
 * violation - a private EHLO keyword with '=' - is judged once, by the test
 * that checks that message, and does not block every test that only passes
 * through it. Bare LF is never among them: it changes where messages end.
 */
static void set_lenient(struct rt *t)
{
    static const uint32_t passing = MS_LENIENT_KEYWORD_CASE | MS_LENIENT_SPACES | MS_LENIENT_8BIT |
                                    MS_LENIENT_LONG_LINES | MS_LENIENT_IMAP_UNKNOWN |
                                    MS_LENIENT_SMTP_EHLO_LINE;
    t->lim.lenient = t->o->lim.lenient | t->s->lenient;
    if (t->phase != MS_PHASE_CHECK)
        t->lim.lenient |= passing;
}

int rt_get_msg(struct rt *t, uint64_t dl, size_t sline)
{
    rt_compact(t);
    for (;;) {
        size_t from = t->c->consumed;
        const char *lf = t->c->rlen > t->c->scanned
                             ? memchr(t->c->rbuf + t->c->scanned, '\n', t->c->rlen - t->c->scanned)
                             : NULL;
        if (lf) {
            size_t total = (size_t)(lf - t->c->rbuf) + 1;
            size_t len = total - 1 - from;
            int bare = !(len > 0 && t->c->rbuf[from + len - 1] == '\r');
            if (!bare)
                len--;
            t->c->consumed = total;
            t->c->scanned = total;
            tr_line(t, "S: ", t->c->rbuf + from, len);
            if (bare)
                tr_note(t, "the line above ended with a bare LF");
            if (is_binary(t->c->rbuf + from, len)) {
                rt_finish(t, MS_RES_BLOCKED, sline,
                          "%s:%zu: the server sent binary data (NUL or many control bytes) that "
                          "cannot be framed as protocol lines",
                          t->file, sline);
                return -1;
            }
            if (add_line(t, from, len, sline) != 0)
                return -1;
            t->c->msg_end = !t->c->strict; /* without a parser, every line is a message */
            if (t->c->strict) {
                set_lenient(t);
                ms_session_feed(&t->c->ss, 1, sline, t->c->rbuf + from, total - from);
                if (rt_grammar_verdict(t, sline) != 0)
                    return -1;
            }
            if (t->c->msg_end) {
                if (t->o->on_message)
                    t->o->on_message(t->o->on_message_ctx, t->c->rbuf, t->c->consumed);
                return 1;
            }
            continue;
        }
        t->c->scanned = t->c->rlen;
        if (t->c->rlen >= t->rmax) {
            rt_finish(t, MS_RES_BLOCKED, sline,
                      "%s:%zu: the server sent a message longer than %zu bytes (this run's "
                      "limit)",
                      t->file, sline, t->rmax);
            return -1;
        }
        if (t->c->eof) {
            if (t->c->rlen > 0) {
                tr_line(t, "# incomplete: ", t->c->rbuf + t->c->consumed,
                        t->c->rlen - t->c->consumed);
                rt_finish(t, MS_RES_BLOCKED, sline,
                          "%s:%zu: the server closed the connection in the middle of a %s "
                          "(%zu bytes)",
                          t->file, sline, t->c->consumed ? "message" : "line", t->c->rlen);
                return -1;
            }
            return 0;
        }
        int r = rt_read_more(t, dl, sline);
        if (r != 1)
            return r;
    }
}

const struct rt_line *rt_key_line(const struct rt *t)
{
    if (!t->c->nlines)
        return NULL;
    return t->pname && strcmp(t->pname, "smtp") == 0 ? &t->c->lines[t->c->nlines - 1]
                                                     : &t->c->lines[0];
}

void rt_msg_text(const struct rt *t, const char **p, size_t *n)
{
    *p = t->c->rbuf;
    *n = t->c->nlines ? t->c->lines[t->c->nlines - 1].off + t->c->lines[t->c->nlines - 1].len : 0;
}

int rt_feed_raw(struct rt *t, size_t sline, const char *p, size_t n)
{
    if (!t->c->strict)
        return 0;
    set_lenient(t);
    ms_session_feed(&t->c->ss, 1, sline, p, n);
    return rt_grammar_verdict(t, sline);
}
