/*
 * Fuzz target: the recorder's redaction (conformance/record_sanitize.c
 * through the .session writer, record_writer.c), fed a two-direction
 * dialogue with random interleaving.
 *
 * Input: byte 0 chooses the protocol, byte 1 the secret's length (1 to 12),
 * the next bytes its letters. Then a program of steps, each a byte and its
 * arguments:
 *  - queue a token (a template of the protocol's commands or replies: LOGIN,
 *    PASS, AUTH PLAIN/LOGIN with the secret in it, literals, refusals, a
 *    server that echoes the secret, ...) or raw bytes for one direction;
 *  - deliver the next k queued bytes of one direction to the writer (so a
 *    line can be cut anywhere, with the other direction speaking between);
 *  - force the output out (what a comment, a directive or @tls does).
 *
 * The secret is made of upper-case letters that no template and no raw byte
 * can produce (raw bytes G-Z are lowered; templates are lower-case except
 * POP3's +OK/-ERR, whose letters the secret does not use), so the secret
 * reaches the input only where a template puts it: as a credential, or
 * echoed by the server once the recorder has learned it.
 *
 * Property, abort() on violation: once the recorder has learned the secret
 * (ms_rec_san_secret_known), no line it writes after that holds it, whole
 * (nor the PLAIN blob, nor the base64 of the secret, once learned; bytes
 * held back and written later are masked too); lines cut without CRLF (@nocrlf) are joined
 * before the search, variables count as a separator. Also the usual: no
 * sanitizer report, bounded output.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "mailspec/stream.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ALPHABET "GHIJLMNPQSTUVWXYZ" /* not K, O, R: +OK and -ERR use them */
#define OUT_MAX  (1u << 20)

struct out {
    char *text[2]; /* per direction: decoded output, variables as \1, lines as \n */
    size_t len[2], cap[2];
    int nocrlf; /* the next C:/S: line had no CRLF */
};

static void put(struct out *o, int d, const char *p, size_t n)
{
    if (o->len[d] + n > o->cap[d]) {
        size_t nc = o->cap[d] ? o->cap[d] : 4096;
        while (nc < o->len[d] + n)
            nc *= 2;
        char *t = realloc(o->text[d], nc);
        if (!t)
            abort();
        o->text[d] = t;
        o->cap[d] = nc;
    }
    memcpy(o->text[d] + o->len[d], p, n);
    o->len[d] += n;
}

/* The sink: decode each C:/S: line (escapes undone, ${...} as \1). */
static int sink(void *ctx, const char *line, size_t n)
{
    struct out *o = ctx;

    if (n == 7 && memcmp(line, "@nocrlf", 7) == 0) {
        o->nocrlf = 1;
        return 0;
    }
    if (n < 2 || (line[0] != 'C' && line[0] != 'S') || line[1] != ':')
        return 0;
    int d = line[0] == 'S';
    for (size_t i = n > 2 ? 3 : 2; i < n;) {
        if (line[i] == '$' && i + 1 < n && line[i + 1] == '{') {
            const char *e = memchr(line + i, '}', n - i);
            if (!e)
                abort(); /* an unterminated variable is not .session text */
            put(o, d, "\1", 1);
            i = (size_t)(e - line) + 1;
        } else if (line[i] == '\\') {
            char c;
            const char *why;
            size_t k = ms_unescape_one(line + i, n - i, &c, &why);
            if (k == 0)
                abort(); /* the writer's escapes must read back */
            put(o, d, &c, 1);
            i += k;
        } else {
            put(o, d, line + i, 1);
            i++;
        }
    }
    if (!o->nocrlf)
        put(o, d, "\n", 1);
    o->nocrlf = 0;
    return 0;
}

/* ---- the templates ---- */

/* $P the secret, $B base64("\0alice\0" secret), $L base64(secret), $N its
 * length, $M the length of "c login alice " secret (a refused literal's
 * bytes). Server templates with $P are echoes: queued only once known. */
static const char *const imap_c[] = {
    "a login alice $P\r\n",
    "a login alice \"$P\"\r\n",
    "a login {5}\r\n",
    "alice {$N}\r\n",
    "$P\r\n",
    "a authenticate plain\r\n",
    "a authenticate plain $B\r\n",
    "a authenticate login\r\n",
    "YWxpY2U=\r\n",
    "$L\r\n",
    "$B\r\n",
    "*\r\n",
    "b append inbox {$M}\r\n",
    "c login alice $P\r\n",
    "c noop\r\n",
    "d select inbox\r\n",
    "a starttls\r\n",
    "e logout\r\n",
    NULL,
};
static const char *const imap_s[] = {
    "* ok ready\r\n",
    "+ go ahead\r\n",
    "+ \r\n",
    "a ok done\r\n",
    "a no [authenticationfailed] bad password $P\r\n",
    "b no refused\r\n",
    "a no nope\r\n",
    "c ok noop\r\n",
    "* bye\r\n",
    "* 1 fetch (body[] {5}\r\nhello)\r\n",
    "c bad $P\r\n",
    NULL,
};
static const char *const pop3_c[] = {
    "user alice\r\n",
    "pass $P\r\n",
    "auth plain $B\r\n",
    "auth plain\r\n",
    "auth login\r\n",
    "YWxpY2U=\r\n",
    "$L\r\n",
    "$B\r\n",
    "*\r\n",
    "stat\r\n",
    "retr 1\r\n",
    "capa\r\n",
    "apop alice 0123456789abcdef0123456789abcdef\r\n",
    "quit\r\n",
    NULL,
};
static const char *const pop3_s[] = {
    "+OK ready <1.2@x>\r\n",       "+OK\r\n",     "-ERR bad password $P\r\n",    "+ \r\n",
    "+OK 2 octets\r\nhi\r\n.\r\n", "-ERR no\r\n", "-ERR [AUTH] $P is wrong\r\n", NULL,
};
static const char *const smtp_c[] = {
    "ehlo x\r\n",
    "auth plain $B\r\n",
    "auth plain\r\n",
    "auth login\r\n",
    "YWxpY2U=\r\n",
    "$L\r\n",
    "$B\r\n",
    "*\r\n",
    "mail from:<a@b>\r\n",
    "rcpt to:<c@d>\r\n",
    "data\r\n",
    "hello\r\n.\r\n",
    "noop\r\n",
    "quit\r\n",
    NULL,
};
static const char *const smtp_s[] = {
    "220 ready\r\n",
    "250 ok\r\n",
    "250-x\r\n250 auth plain login\r\n",
    "334 \r\n",
    "535 5.7.8 bad $P\r\n",
    "235 ok\r\n",
    "354 go\r\n",
    "221 bye\r\n",
    "535 5.7.8 $B refused\r\n",
    NULL,
};

struct dialogue {
    char secret[16], blob[64], b64[32];
    size_t slen, blen, b64len;
    char *q[2]; /* queued bytes per direction */
    size_t qlen[2], qhead[2], qcap[2];
};

static void queue(struct dialogue *g, int d, const char *p, size_t n)
{
    if (g->qlen[d] + n > g->qcap[d]) {
        size_t nc = g->qcap[d] ? g->qcap[d] * 2 : 1024;
        while (nc < g->qlen[d] + n)
            nc *= 2;
        char *t = realloc(g->q[d], nc);
        if (!t)
            abort();
        g->q[d] = t;
        g->qcap[d] = nc;
    }
    memcpy(g->q[d] + g->qlen[d], p, n);
    g->qlen[d] += n;
}

static void queue_num(struct dialogue *g, int d, size_t v)
{
    char b[24];
    size_t k = sizeof(b);
    do {
        b[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    queue(g, d, b + k, sizeof(b) - k);
}

static void queue_template(struct dialogue *g, int d, const char *t)
{
    for (; *t; t++) {
        if (*t != '$' || !t[1]) {
            queue(g, d, t, 1);
            continue;
        }
        switch (*++t) {
        case 'P':
            queue(g, d, g->secret, g->slen);
            break;
        case 'B':
            queue(g, d, g->blob, g->blen);
            break;
        case 'L':
            queue(g, d, g->b64, g->b64len);
            break;
        case 'N':
            queue_num(g, d, g->slen);
            break;
        case 'M':
            queue_num(g, d, strlen("c login alice ") + g->slen);
            break;
        default:
            queue(g, d, t - 1, 2);
            break;
        }
    }
}

/* The secret and its two base64 forms, and where the output stood when the
 * recorder learned each (-1: not yet): only what it wrote after that counts. */
struct forms {
    const char *p[3];
    size_t n[3];
    long at[3][2];
};

static void note_learned(struct forms *f, const struct ms_rec_writer *w, const struct out *o)
{
    for (int k = 0; k < 3; k++)
        if (f->at[k][0] < 0 && ms_rec_san_secret_known(&w->san, f->p[k], f->n[k]))
            for (int d = 0; d < 2; d++)
                f->at[k][d] = (long)o->len[d];
}

static int contains(const char *hay, size_t n, const char *needle, size_t m)
{
    if (m == 0 || m > n)
        return 0;
    for (size_t i = 0; i + m <= n; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum ms_rec_proto protos[] = {MS_REC_IMAP, MS_REC_POP3, MS_REC_SMTP};
    struct ms_rec_writer w;
    struct dialogue g;
    struct out o;
    size_t i = 0;

    if (size < 3)
        return 0;
    ms_rec_message_max = 1u << 16; /* the input is at most 4 KiB (.options) */
    memset(&g, 0, sizeof(g));
    memset(&o, 0, sizeof(o));
    enum ms_rec_proto proto = protos[data[i++] % 3];
    g.slen = 1 + data[i++] % 12;
    for (size_t k = 0; k < g.slen; k++)
        g.secret[k] = ALPHABET[(i < size ? data[i++] : 0) % (sizeof(ALPHABET) - 1)];
    {
        unsigned char plain[32];
        memcpy(plain, "\0alice\0", 7);
        memcpy(plain + 7, g.secret, g.slen);
        g.blen = (size_t)EVP_EncodeBlock((unsigned char *)g.blob, plain, (int)(7 + g.slen));
        g.b64len = (size_t)EVP_EncodeBlock((unsigned char *)g.b64, (const unsigned char *)g.secret,
                                           (int)g.slen);
    }
    const char *const *ct = proto == MS_REC_IMAP ? imap_c : proto == MS_REC_POP3 ? pop3_c : smtp_c;
    const char *const *stt = proto == MS_REC_IMAP ? imap_s : proto == MS_REC_POP3 ? pop3_s : smtp_s;
    size_t nct = 0, nst = 0;
    while (ct[nct])
        nct++;
    while (stt[nst])
        nst++;

    if (ms_rec_writer_init(&w, proto, 0, sink, &o) != 0)
        return 0;
    struct forms f = {
        {g.secret, g.blob, g.b64}, {g.slen, g.blen, g.b64len}, {{-1, -1}, {-1, -1}, {-1, -1}}};
    while (i < size && o.len[0] + o.len[1] < OUT_MAX) {
        uint8_t op = data[i++];
        int d = op & 1;
        uint8_t arg = i < size ? data[i++] : 0;
        switch ((op >> 1) % 5) {
        case 0: /* a template */
        case 1: {
            const char *t = d ? stt[arg % nst] : ct[arg % nct];
            /* a server echoes only what the client has sent (and the recorder learned) */
            if (d && strstr(t, "$P") && !ms_rec_san_secret_known(&w.san, g.secret, g.slen))
                break;
            if (d && strstr(t, "$B") && !ms_rec_san_secret_known(&w.san, g.blob, g.blen))
                break;
            queue_template(&g, d, t);
            break;
        }
        case 2: { /* raw bytes; G-Z lowered so they cannot spell the secret */
            size_t n = arg % 32;
            for (size_t k = 0; k < n && i < size; k++, i++) {
                char c = (char)data[i];
                if (c >= 'G' && c <= 'Z')
                    c = (char)(c - 'A' + 'a');
                queue(&g, d, &c, 1);
            }
            break;
        }
        case 3: { /* deliver: the next arg bytes of direction d (0: all) */
            size_t left = g.qlen[d] - g.qhead[d];
            size_t n = arg ? (arg < left ? arg : left) : left;
            if (n) {
                size_t used = ms_rec_writer_data(&w, d, g.q[d] + g.qhead[d], n);
                g.qhead[d] += n;
                if (w.tls_go) {
                    /* the proxy would start TLS here; what followed is injected plaintext */
                    w.tls_go = 0;
                    (void)used;
                    ms_rec_writer_line(&w, "@tls");
                }
            }
            break;
        }
        default: /* a comment forces everything out */
            ms_rec_writer_line(&w, "# forced");
            break;
        }
        note_learned(&f, &w, &o);
    }
    for (int d = 0; d < 2; d++)
        if (g.qlen[d] > g.qhead[d])
            (void)ms_rec_writer_data(&w, d, g.q[d] + g.qhead[d], g.qlen[d] - g.qhead[d]);
    ms_rec_writer_flush(&w);

    note_learned(&f, &w, &o);
    for (int k = 0; k < 3; k++)
        for (int d = 0; d < 2 && f.at[k][0] >= 0; d++)
            if (o.text[d] &&
                contains(o.text[d] + f.at[k][d], o.len[d] - (size_t)f.at[k][d], f.p[k], f.n[k]))
                abort(); /* a learned secret reached the .session text */
    ms_rec_writer_free(&w);
    for (int d = 0; d < 2; d++) {
        free(o.text[d]);
        free(g.q[d]);
    }
    return 0;
}
