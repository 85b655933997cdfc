/*
 * fuzz-server's executor (fuzzsrv.h): one case on one connection, its
 * server bytes framed by the strict parsers (ms_session, both directions, as
 * the runner does), each reply reduced to a shape, and the grammar oracle;
 * the liveness probe. Every wait has a deadline.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "fuzzsrv.h"
#include "mailspec/stream.h"
#include "proto_desc.h"
#include "transport.h"

#define RX_CAP    (256u * 1024) /* server bytes kept per connection, for shapes and echo checks */
#define TX_CAP    (256u * 1024) /* client bytes kept per connection */
#define QUIET_MS  5             /* after a reply, how long more replies may follow at once */
#define LINGER_MS 1000u         /* after our close_notify, how long the server has to react */

struct fz_exec {
    const struct fz_target *t;
    struct ms_conn conn;
    int open, tls_on, tls_closed, eof;
    void *sess; /* SSL_SESSION * kept for resumption */
    /* the strict parsers, both directions */
    struct ms_session ss;
    void *cst, *cv, *sst, *sv;
    char *cb, *sb;
    size_t bcap;
    char *rx, *tx;
    size_t rxlen, txlen;
    uint64_t rxoff; /* stream offset of rx[0] (always 0: rx is the connection's start) */
    /* what the current run saw */
    struct fz_result *r;
    uint16_t cur_step;
    size_t finals, msgs;
    int judging;
    int stls_pause; /* not judging since a STARTTLS/STLS was sent: TLS bytes may follow */
    int sent_ctl;   /* the client sent NUL, bare CR/LF or other control bytes */
    /* IMAP state: authenticated (PREAUTH, or a tagged OK to a command that may have
     * logged in), and the tag and command word of every whole line sent on the
     * connection; tx[tags_from] starts the line not yet ended */
    int imap_auth;
    size_t ntags, tags_from;
    struct {
        char tag[24], verb[24];
    } tags[64];
};

const char *fz_kind_name(int kind)
{
    switch (kind) {
    case FZ_GRAMMAR:
        return "grammar";
    case FZ_LIVENESS:
        return "liveness";
    case FZ_LATENCY:
        return "latency";
    case FZ_STATE:
        return "state";
    default:
        return "none";
    }
}

static uint32_t fnv(uint32_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
}

/* The first space-separated word of p[0..n) from *i on (upper-cased into w). */
static size_t word(const char *p, size_t n, size_t *i, char *w, size_t cap)
{
    size_t k = 0;
    while (*i < n && p[*i] == ' ')
        (*i)++;
    while (*i < n && p[*i] != ' ' && p[*i] != '\r' && p[*i] != '\n') {
        if (k + 1 < cap)
            w[k++] = (char)(p[*i] >= 'a' && p[*i] <= 'z' ? p[*i] - 32 : p[*i]);
        (*i)++;
    }
    w[k] = '\0';
    return k;
}

/* A reply's shape: SMTP the code and enhanced class of its last line; POP3 the status and
 * [CODE]; IMAP "*" and its kind (the word after a number), a tag's status and [CODE], "+". */
static void shape_of(struct fz_exec *e, uint64_t off, uint64_t len, struct fz_reply *out)
{
    memset(out, 0, sizeof(*out));
    if (off >= e->rxlen) {
        out->shape = 1;
        out->final = 1;
        snprintf(out->key, sizeof(out->key), "?");
        return;
    }
    const char *p = e->rx + off;
    size_t n = (size_t)(off + len <= e->rxlen ? len : e->rxlen - off);
    const char *proto = e->t->proto;
    char w1[24], w2[24], w3[24];
    size_t i = 0;
    uint32_t h = fnv(2166136261u, proto, strlen(proto));

    if (strcmp(proto, "smtp") == 0) {
        /* the last line: after the last CRLF before the end */
        size_t last = 0;
        for (size_t k = 0; k + 2 < n; k++)
            if (p[k] == '\n')
                last = k + 1;
        i = last;
        word(p, n, &i, w1, sizeof(w1));
        word(p, n, &i, w2, sizeof(w2));
        if (strlen(w1) > 3)
            w1[3] = '\0';
        h = fnv(h, w1, strlen(w1));
        if (w2[0] >= '2' && w2[0] <= '5' && w2[1] == '.')
            h = fnv(h, w2, 3);
        out->final = 1;
        snprintf(out->key, sizeof(out->key), "%s", w1);
    } else if (strcmp(proto, "pop3") == 0) {
        word(p, n, &i, w1, sizeof(w1));
        word(p, n, &i, w2, sizeof(w2));
        h = fnv(h, w1, strlen(w1));
        if (w2[0] == '[')
            h = fnv(h, w2, strlen(w2));
        out->final = 1;
        snprintf(out->key, sizeof(out->key), "%s", w1);
    } else {
        word(p, n, &i, w1, sizeof(w1));
        word(p, n, &i, w2, sizeof(w2));
        word(p, n, &i, w3, sizeof(w3));
        h = fnv(h, w1[0] == '*' || w1[0] == '+' ? w1 : "tag", 1);
        if (w1[0] == '*' && w2[0] >= '0' && w2[0] <= '9')
            h = fnv(h, w3, strlen(w3));
        else if (w1[0] != '+')
            h = fnv(h, w2, strlen(w2));
        if (w1[0] != '*' && w1[0] != '+' && w3[0] == '[')
            h = fnv(h, w3, strcspn(w3, "]"));
        out->final = w1[0] != '*';
        out->tagged = w1[0] != '*' && w1[0] != '+';
        snprintf(out->key, sizeof(out->key), "%s", w1[0] ? w1 : "?");
    }
    out->shape = h ? h : 1;
}

/*
 * Is the grammar error at offset an echo of the client's bytes? Servers put
 * bytes of bad commands into reply text (docs/differential.md): 8-bit bytes,
 * bare CR, long parameters. When the bytes around the error also stand in
 * what the client sent, or the line holds control bytes the client sent, the
 * reply is not judged (when in doubt, no finding).
 */
static int is_echo(const struct fz_exec *e, uint64_t off)
{
    if (off >= e->rxlen)
        return 1;
    size_t o = (size_t)off;
    size_t ls = o, le = o;
    while (ls > 0 && e->rx[ls - 1] != '\n')
        ls--;
    while (le < e->rxlen && e->rx[le] != '\n')
        le++;
    for (size_t k = ls; k < le; k++) {
        unsigned char ch = (unsigned char)e->rx[k];
        if ((ch < 0x20 && ch != '\t' && ch != '\r') || ch == 0x7F || ch >= 0x80)
            if (e->sent_ctl || ch >= 0x80)
                return 1;
    }
    unsigned char eb = (unsigned char)e->rx[o];
    if ((eb == '\r' || eb == '\n' || eb == 0) && e->sent_ctl)
        return 1;
    /* the word that holds the error, when the client sent it: a tag or argument
     * echoed (Cyrus answers with the tag it got, docs/differential.md); words of
     * plain letters and digits only when long enough not to be common words */
    size_t ws = o, we = o;
    while (ws > ls && e->rx[ws - 1] != ' ')
        ws--;
    while (we < le && e->rx[we] != ' ' && e->rx[we] != '\r')
        we++;
    if (we > ws) {
        int odd = 0;
        for (size_t k = ws; k < we; k++)
            odd |= !ms_is((unsigned char)e->rx[k], MS_C_ALPHA | MS_C_DIGIT);
        if (odd || we - ws >= 6)
            for (size_t k = 0; k + (we - ws) <= e->txlen; k++)
                if (memcmp(e->tx + k, e->rx + ws, we - ws) == 0)
                    return 1;
    }
    /* the bytes around the error in what the client sent */
    size_t a = o >= ls + 3 ? o - 3 : ls, b = o + 4 <= le ? o + 4 : le;
    if (b > a && b - a >= 3)
        for (size_t k = 0; k + (b - a) <= e->txlen; k++)
            if (memcmp(e->tx + k, e->rx + a, b - a) == 0)
                return 1;
    return 0;
}

/* Is verb one of the n words of v? */
static int verb_in(const char *verb, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(verb, v[i]) == 0)
            return 1;
    return 0;
}

/* Commands RFC 9051 6.3 and 6.4 allow only in the authenticated or selected state. */
static int needs_auth(const char *verb)
{
    static const char *const v[] = {
        "SELECT", "EXAMINE", "CREATE",  "DELETE", "RENAME",    "SUBSCRIBE",   "UNSUBSCRIBE",
        "LIST",   "LSUB",    "STATUS",  "APPEND", "FETCH",     "STORE",       "SEARCH",
        "COPY",   "MOVE",    "EXPUNGE", "UID",    "NAMESPACE", "GETQUOTAROOT"};
    return verb_in(verb, v, sizeof(v) / sizeof(v[0]));
}

/* Commands of any state that do not change it (RFC 9051 6.1, STARTTLS 6.2.1, ID RFC
 * 2971): an OK to one of them leaves the session as it was. */
static int keeps_state(const char *verb)
{
    static const char *const v[] = {"CAPABILITY", "NOOP", "STARTTLS", "ID"};
    return verb_in(verb, v, sizeof(v) / sizeof(v[0]));
}

/*
 * The state oracle (IMAP): a tagged OK to a command of the authenticated state
 * while the session is not authenticated contradicts RFC 9051 6.3. Authenticated
 * means a PREAUTH greeting or a tagged OK to any command that may have logged in:
 * LOGIN, AUTHENTICATE, and every command mailspec cannot tell apart from them (a
 * verb it does not know, a mangled line a lenient server read as LOGIN). Judged
 * only where the tag names exactly one whole line sent on this connection, and
 * while the framing is sure; when in doubt, the state is taken as authenticated.
 */
static void imap_state(struct fz_exec *e, uint64_t off, uint64_t len, const struct fz_reply *rp)
{
    char w1[24], w2[24];
    size_t i = 0;
    if (off >= e->rxlen)
        return;
    const char *p = e->rx + off;
    size_t n = (size_t)(off + len <= e->rxlen ? len : e->rxlen - off);
    word(p, n, &i, w1, sizeof(w1));
    word(p, n, &i, w2, sizeof(w2));
    if (e->msgs == 1 && strcmp(w1, "*") == 0 && strcmp(w2, "PREAUTH") == 0)
        e->imap_auth = 1;
    if (!rp->tagged || strcmp(w2, "OK") != 0)
        return;
    size_t hits = 0, at = 0;
    for (size_t k = 0; k < e->ntags; k++)
        if (strcmp(e->tags[k].tag, rp->key) == 0) {
            hits++;
            at = k;
        }
    if (hits != 1 || e->ntags >= sizeof(e->tags) / sizeof(e->tags[0])) {
        /* an OK to a command we cannot name may have been a login: from here on the
         * state is not known, so nothing more is judged */
        e->imap_auth = 1;
        return;
    }
    const char *verb = e->tags[at].verb;
    if (needs_auth(verb)) {
        if (!e->imap_auth && e->judging && e->r->kind == FZ_NONE) {
            e->r->kind = FZ_STATE;
            snprintf(e->r->state_tag, sizeof(e->r->state_tag), "%s", rp->key);
            snprintf(e->r->detail, sizeof(e->r->detail),
                     "tagged OK to %s before authentication (RFC 9051 6.3: a command of the "
                     "authenticated state)",
                     verb);
        }
    } else if (!keeps_state(verb)) {
        e->imap_auth = 1;
    }
}

/* Note the tag and command word of a whole line sent (IMAP), for the state oracle. */
static void imap_tag_line(struct fz_exec *e, const char *p, size_t n)
{
    size_t i = 0;
    char tag[24], verb[24];
    if (e->ntags >= sizeof(e->tags) / sizeof(e->tags[0]))
        return; /* full: no more judgements */
    word(p, n, &i, tag, sizeof(tag));
    word(p, n, &i, verb, sizeof(verb));
    /* a byte a server may take for a separator or drop (TAB, NUL, a bare CR): the
     * command word is not sure */
    for (size_t k = 0; k < n; k++)
        if ((unsigned char)p[k] < 0x20 && !(p[k] == '\r' && k + 1 == n)) {
            snprintf(verb, sizeof(verb), "?");
            break;
        }
    snprintf(e->tags[e->ntags].tag, sizeof(e->tags[0].tag), "%s", tag);
    snprintf(e->tags[e->ntags].verb, sizeof(e->tags[0].verb), "%s", verb);
    e->ntags++;
}

/* After a write: the lines it ended, read from the whole sent stream (a step may end
 * inside a line that the next one finishes). Bytes past TX_CAP are not kept: from
 * there on no line is known. */
static void imap_tags(struct fz_exec *e, size_t kept, size_t n)
{
    if (kept < n) {
        e->ntags = sizeof(e->tags) / sizeof(e->tags[0]);
        return;
    }
    for (size_t k = e->tags_from; k < e->txlen; k++)
        if (e->tx[k] == '\n') {
            imap_tag_line(e, e->tx + e->tags_from, k - e->tags_from);
            e->tags_from = k + 1;
        }
}

static void on_msg(void *ctx, int is_server, size_t line, const struct ms_kind *k, const void *view,
                   const struct ms_error *err, uint64_t offset, uint64_t length)
{
    struct fz_exec *e = ctx;
    struct fz_result *r = e->r;
    (void)line;
    (void)k;
    (void)view;
    if (!is_server) {
        /* a command mailspec rejects but the server may take: POP3 frames its
         * replies by the command, so the framing of what follows is not sure */
        if (err && strcmp(e->t->proto, "pop3") == 0)
            e->judging = 0;
        return;
    }
    if (err) {
        uint64_t at = err->offset ? err->offset : offset;
        if (e->judging && err->code == MS_ERR_SYNTAX && r->kind == FZ_NONE && !is_echo(e, at)) {
            r->kind = FZ_GRAMMAR;
            snprintf(r->detail, sizeof(r->detail), "%s: %s (server stream offset %llu)",
                     err->rule ? err->rule : "?", err->reason ? err->reason : "?",
                     (unsigned long long)at);
        }
        e->judging = 0; /* the framing after a bad message is not sure */
        e->msgs++;
        e->finals++;
        if (r->nreplies < FZ_MAX_REPLIES) { /* a message all the same: the .session expects it */
            struct fz_reply *rp = &r->replies[r->nreplies];
            memset(rp, 0, sizeof(*rp));
            rp->shape = 2;
            rp->final = 1;
            rp->bad = 1;
            snprintf(rp->key, sizeof(rp->key), "?");
            r->step_of[r->nreplies++] = e->cur_step;
        }
        return;
    }
    e->msgs++;
    if (r->nreplies < FZ_MAX_REPLIES) {
        struct fz_reply *rp = &r->replies[r->nreplies];
        shape_of(e, offset, length, rp);
        r->step_of[r->nreplies] = e->cur_step;
        r->nreplies++;
        if (strcmp(e->t->proto, "imap") == 0)
            imap_state(e, offset, length, rp);
        if (rp->final)
            e->finals++;
    } else {
        e->finals++;
    }
}

struct fz_exec *fz_exec_new(const struct fz_target *t)
{
    struct fz_exec *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->t = t;
    e->conn.fd = -1;
    e->bcap = ms_stream_buffer_size(&t->lim);
    e->cb = malloc(e->bcap);
    e->sb = malloc(e->bcap);
    e->cst = calloc(1, t->p->commands->state_size);
    e->cv = calloc(1, t->p->commands->view_size);
    e->sst = calloc(1, t->p->replies->state_size);
    e->sv = calloc(1, t->p->replies->view_size);
    e->rx = malloc(RX_CAP);
    e->tx = malloc(TX_CAP);
    if (!e->cb || !e->sb || !e->cst || !e->cv || !e->sst || !e->sv || !e->rx || !e->tx) {
        fz_exec_free(e);
        return NULL;
    }
    return e;
}

static void conn_close(struct fz_exec *e)
{
    if (!e->open)
        return;
    if (e->conn.ssl && !e->tls_closed) {
        /* keep the session for the next handshake (TLS 1.3: its ticket came with the data) */
        SSL_SESSION *s = SSL_get1_session(e->conn.ssl);
        if (s && SSL_SESSION_is_resumable(s)) {
            if (e->sess)
                SSL_SESSION_free(e->sess);
            e->sess = s;
        } else if (s) {
            SSL_SESSION_free(s);
        }
    }
    ms_conn_close(&e->conn);
    e->open = 0;
}

void fz_exec_free(struct fz_exec *e)
{
    if (!e)
        return;
    conn_close(e);
    if (e->sess)
        SSL_SESSION_free(e->sess);
    free(e->cb);
    free(e->sb);
    free(e->cst);
    free(e->cv);
    free(e->sst);
    free(e->sv);
    free(e->rx);
    free(e->tx);
    free(e);
}

static int handshake(struct fz_exec *e, uint64_t dl, char *err, size_t cap)
{
    const struct fz_target *t = e->t;
    if (ms_conn_tls_ctx(&e->conn, t->ssl_ctx, e->sess, t->host, t->tlso, dl, err, cap) != 0) {
        if (e->sess) { /* a stale session: drop it, the next handshake is a full one */
            SSL_SESSION_free(e->sess);
            e->sess = NULL;
        }
        return -1;
    }
    e->tls_on = 1;
    return 0;
}

/* Feed server bytes to the parsers (and keep them). */
static void got(struct fz_exec *e, const char *p, size_t n)
{
    size_t keep = n <= RX_CAP - e->rxlen ? n : RX_CAP - e->rxlen;
    memcpy(e->rx + e->rxlen, p, keep);
    e->rxlen += keep;
    ms_session_feed(&e->ss, 1, 0, p, n);
}

/* Read what is there by the deadline: 1 bytes came, 0 closed, -2 timeout, -1 error. */
static int rd(struct fz_exec *e, uint64_t dl)
{
    char buf[16384], err[256];
    if (e->eof)
        return 0;
    /* after our close_notify the transport tells TLS records from cleartext */
    ssize_t n = ms_conn_read(&e->conn, buf, sizeof(buf), dl, e->t->stop, err, sizeof(err));
    if (n > 0) {
        got(e, buf, (size_t)n);
        return 1;
    }
    if (n == 0 || n == -1) {
        e->eof = 1;
        return 0;
    }
    return -2;
}

/*
 * Wait for the answer to what was just sent: want final messages, or (once
 * one came) a short quiet gap, or nothing for wait_ms, or the close. With want
 * ANY_BYTES no count of replies says when to stop (after our close_notify no
 * reply is owed: the server closes, or answers something, which is judged like
 * any reply - cleartext garbage is a grammar finding): the first bytes, then a
 * quiet gap.
 */
#define ANY_BYTES SIZE_MAX
static void await(struct fz_exec *e, size_t want, unsigned wait_ms)
{
    size_t f0 = e->finals;
    uint64_t end = ms_now_ms() + wait_ms;
    int got_bytes = 0;
    for (;;) {
        size_t got_f = e->finals - f0;
        int got = want == ANY_BYTES ? got_bytes : got_f > 0;
        if (e->t->stop && *e->t->stop)
            return;
        if (want != ANY_BYTES && got_f >= want)
            return;
        uint64_t now = ms_now_ms();
        uint64_t dl = got ? now + QUIET_MS : end;
        if (dl > end)
            dl = end;
        if (now >= dl && !ms_conn_pending(&e->conn))
            return;
        int k = rd(e, dl);
        if (k == 0 || k == -1)
            return;
        if (k == 1)
            got_bytes = 1;
        else if (k == -2 && (got || ms_now_ms() >= end))
            return;
    }
}

/* Do the bytes hold a command that may switch the connection's encoding:
 * STARTTLS, STLS, or IMAP COMPRESS (RFC 4978: DEFLATE after the OK)? */
static int has_starttls(const char *p, size_t n)
{
    static const char *const words[] = {"starttls", "stls", "compress"};
    for (size_t w = 0; w < 3; w++) {
        size_t wl = strlen(words[w]);
        for (size_t k = 0; k + wl <= n; k++) {
            size_t m = 0;
            while (m < wl && ms_lower((unsigned char)p[k + m]) == (unsigned char)words[w][m])
                m++;
            if (m == wl)
                return 1;
        }
    }
    return 0;
}

static int wr(struct fz_exec *e, const char *p, size_t n, int bytewise)
{
    char err[256];
    uint64_t dl = ms_now_ms() + e->t->timeout_ms;
    size_t keep = n <= TX_CAP - e->txlen ? n : TX_CAP - e->txlen;
    memcpy(e->tx + e->txlen, p, keep);
    e->txlen += keep;
    for (size_t k = 0; k < n; k++) {
        unsigned char ch = (unsigned char)p[k];
        if ((ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\n') || ch == 0x7F ||
            (ch == '\r' && (k + 1 >= n || p[k + 1] != '\n')) ||
            (ch == '\n' && (k == 0 || p[k - 1] != '\r')))
            e->sent_ctl = 1;
    }
    ms_session_feed(&e->ss, 0, 0, p, n);
    if (strcmp(e->t->proto, "imap") == 0)
        imap_tags(e, keep, n);
    if (e->judging && has_starttls(p, n)) {
        /* after a go-ahead the server speaks TLS (an alert when the client sends
         * cleartext) or DEFLATE: those bytes are no reply; judged again after our
         * TLS handshake */
        e->judging = 0;
        e->stls_pause = 1;
    }
    for (size_t off = 0; off < n;) {
        size_t chunk = bytewise ? 1 : n - off;
        if (e->tls_closed) {
            ssize_t w = send(e->conn.fd, p + off, chunk, MSG_NOSIGNAL);
            if (w <= 0) {
                if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
                    struct pollfd pf = {e->conn.fd, POLLOUT, 0};
                    if (poll(&pf, 1, (int)e->t->timeout_ms) > 0)
                        continue;
                }
                return -1;
            }
            off += (size_t)w;
            continue;
        }
        if (ms_conn_write(&e->conn, p + off, chunk, dl, err, sizeof(err)) != 0)
            return -1;
        off += chunk;
    }
    return 0;
}

static size_t lines_in(const char *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += p[i] == '\n';
    return k;
}

/* Connect, TLS for --tls implicit, greeting. 0 or -1 (r->conn_failed, detail). */
static int conn_open(struct fz_exec *e, struct fz_result *r)
{
    const struct fz_target *t = e->t;
    char err[512];
    uint64_t dl = ms_now_ms() + t->timeout_ms;

    e->tls_on = e->tls_closed = e->eof = 0;
    e->rxlen = e->txlen = 0;
    e->finals = e->msgs = 0;
    e->sent_ctl = 0;
    e->judging = 1;
    e->stls_pause = 0;
    e->imap_auth = 0;
    e->ntags = e->tags_from = 0;
    e->cur_step = 0;
    ms_session_init(&e->ss, t->p, &t->lim, e->cst, e->cv, e->cb, e->bcap, e->sst, e->sv, e->sb,
                    e->bcap, on_msg, e);
    if (ms_conn_open(&e->conn, t->host, t->port, dl, err, sizeof(err)) != 0) {
        r->conn_failed = 1;
        snprintf(r->detail, sizeof(r->detail), "%s", err);
        return -1;
    }
    e->open = 1;
    if (t->tls == MS_TLS_IMPLICIT && handshake(e, dl, err, sizeof(err)) != 0) {
        r->conn_failed = 1;
        snprintf(r->detail, sizeof(r->detail), "%s", err);
        return -1;
    }
    /* the greeting: any first message */
    while (e->msgs == 0 && ms_now_ms() < dl && !(t->stop && *t->stop)) {
        int k = rd(e, dl);
        if (k == 0 || k == -1 || (k == -2 && ms_now_ms() >= dl))
            break;
    }
    if (e->msgs == 0) {
        r->conn_failed = 1;
        snprintf(r->detail, sizeof(r->detail), "no greeting within %u ms%s", t->timeout_ms,
                 e->eof ? " (the server closed the connection)" : "");
        return -1;
    }
    return 0;
}

static void run(struct fz_exec *e, const struct fz_case *c, struct fz_result *r, unsigned wait_ms)
{
    char err[512];
    uint64_t t0 = ms_now_ms();

    memset(r, 0, sizeof(*r));
    e->r = r;
    if (conn_open(e, r) != 0) {
        conn_close(e);
        r->ms = ms_now_ms() - t0;
        return;
    }
    size_t last_send = 0, last_want = 0, f_before_last = 0;
    for (size_t i = 0; i < c->n && !e->eof; i++) {
        const struct fz_step *st = &c->steps[i];
        if (e->t->stop && *e->t->stop)
            break;
        e->cur_step = (uint16_t)(i + 1);
        if (st->op == FZ_SEND) {
            if (c->pipeline && i == 0) { /* the first run of sends in one write */
                size_t j = i, total = 0;
                while (j < c->n && c->steps[j].op == FZ_SEND)
                    total += c->steps[j++].len;
                char *buf = malloc(total ? total : 1);
                if (!buf)
                    break;
                size_t o = 0;
                for (size_t k = i; k < j; k++) {
                    memcpy(buf + o, c->steps[k].data, c->steps[k].len);
                    o += c->steps[k].len;
                }
                f_before_last = e->finals;
                int w = wr(e, buf, total, 0);
                last_want = lines_in(buf, total);
                free(buf);
                last_send = j;
                i = j - 1;
                if (w != 0)
                    break;
                await(e, last_want, wait_ms);
                continue;
            }
            f_before_last = e->finals;
            if (wr(e, st->data, st->len, st->flags & FZ_BYTEWISE) != 0)
                break;
            last_send = i + 1;
            last_want = st->flags & FZ_NOREPLY ? 0 : lines_in(st->data, st->len);
            await(e, last_want, last_want ? wait_ms : 0);
        } else if (st->op == FZ_TLS) {
            if (e->tls_on)
                continue; /* a TLS handshake inside TLS: not what the servers do */
            uint64_t dl = ms_now_ms() + e->t->timeout_ms;
            if (handshake(e, dl, err, sizeof(err)) != 0)
                break; /* refused upgrade, or not TLS: the case ends */
            if (e->stls_pause) {
                e->stls_pause = 0;
                e->judging = 1;
            }
        } else if (st->op == FZ_TLS_CLOSE) {
            if (!e->tls_on || e->tls_closed)
                continue;
            char cerr[256];
            (void)ms_conn_tls_close_notify(&e->conn, ms_now_ms() + e->t->timeout_ms, cerr,
                                           sizeof(cerr));
            e->tls_closed = 1;
            await(e, ANY_BYTES, e->t->timeout_ms < LINGER_MS ? e->t->timeout_ms : LINGER_MS);
        }
    }
    r->closed = e->eof;
    r->closed_silently = e->eof && last_send && last_want && e->finals == f_before_last;
    conn_close(e);
    r->ms = ms_now_ms() - t0;
}

void fz_exec(struct fz_exec *e, const struct fz_case *c, struct fz_result *r)
{
    run(e, c, r, e->t->reply_wait_ms);
}

/* The probe's case: the STARTTLS upgrade for --tls starttls, then NOOP. */
static void probe_case(const struct fz_target *t, struct fz_case *c)
{
    const struct ms_proto_desc *d = ms_proto_desc(t->proto);
    char line[128];
    memset(c, 0, sizeof(*c));
    if (t->tls == MS_TLS_STARTTLS && d) {
        if (d->pre) {
            int n = snprintf(line, sizeof(line), "%s\r\n", d->pre);
            (void)fz_case_add(c, FZ_SEND, line, (size_t)n);
        }
        int n = snprintf(line, sizeof(line), "%s\r\n", d->starttls);
        (void)fz_case_add(c, FZ_SEND, line, (size_t)n);
        (void)fz_case_add(c, FZ_TLS, NULL, 0);
    }
    const char *noop = strcmp(t->proto, "imap") == 0 ? "msprobe NOOP\r\n" : "NOOP\r\n";
    (void)fz_case_add(c, FZ_SEND, noop, strlen(noop));
}

int fz_probe(struct fz_exec *e, uint64_t *ms, char *detail, size_t cap)
{
    struct fz_case c;
    struct fz_result *r = malloc(sizeof(*r));
    int rc = -1;

    if (!r) {
        snprintf(detail, cap, "out of memory");
        return -1;
    }
    probe_case(e->t, &c);
    run(e, &c, r, e->t->timeout_ms);
    *ms = r->ms;
    /* alive: a greeting, and the last reply answers the NOOP */
    int answered =
        r->nreplies >= 2 && r->step_of[r->nreplies - 1] == c.n && r->replies[r->nreplies - 1].final;
    if (e->t->stop && *e->t->stop)
        rc = -2; /* interrupted: no verdict */
    else if (r->conn_failed)
        snprintf(detail, cap, "a new connection failed: %s", r->detail);
    else if (!answered)
        snprintf(detail, cap,
                 "a new connection got a greeting but no answer to NOOP within "
                 "%u ms%s",
                 e->t->timeout_ms, r->closed ? " (closed)" : "");
    else
        rc = 0;
    fz_case_free(&c);
    free(r);
    return rc;
}
