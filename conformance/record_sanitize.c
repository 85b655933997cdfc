/*
 * The recorder's rewriting of each line into .session text (docs/record.md
 * "How redaction decides").
 *
 * What a line is comes from the library's session driver (mailspec/stream.h),
 * not from a model of its own: both directions are fed, in the order they
 * flowed, to the strict framers and parsers, which tell each other what they
 * saw (a 354 makes the next client bytes DATA content, a 334 or "+ " makes
 * them a SASL response, a tagged reply ends AUTHENTICATE, a POP3 +OK opens a
 * multi-line response because of the command it answers). Each complete
 * message comes back with its stream offsets and its typed view, and the
 * view says which bytes are what: the two astrings of an IMAP LOGIN (atom,
 * quoted or literal), the argument of PASS, the initial response of AUTH,
 * a SASL line, the bytes of a literal, the domain of an EHLO reply. Those
 * byte ranges ("spans") decide the rendering; bytes between messages that
 * the driver consumed as pieces of a streamed message (DATA content, a BDAT
 * chunk, a RETR body) are kept as they are.
 *
 * A line is rendered when every byte of it is classified, so a line of a
 * message that is not complete yet (an IMAP command waiting for its
 * literal, the first line of a multi-line reply) is held back, and so is
 * every later line of either direction: the output keeps the order of the
 * input.
 *
 * Bytes the parser rejects have no view. They are rendered conservatively:
 * a line that starts like a credential command (IMAP LOGIN/AUTHENTICATE,
 * SMTP AUTH, POP3 USER/PASS/APOP/AUTH) keeps its verb and loses everything
 * after it (and the rest of that message) to ${sasl_redacted}; a line the
 * driver expected to be a SASL response is redacted whole. The same rule
 * renders bytes that are still unclassified when the caller forces the
 * output out (TLS, a directive, the end of the connection).
 *
 * Credentials become ${user}/${password} (or a named SASL variable: a base64
 * blob of them) and are never copied to the output; values that change
 * between runs become ${*} (the server text rules below).
 *
 * Every credential found is also remembered as a secret (struct secret), and
 * every occurrence of a secret in any line rendered afterwards, in either
 * direction and whatever its length, is masked: a server that echoes the
 * password, a credential only the conservative rule found, a line cut in
 * the middle of a secret. An IMAP synchronizing literal the server refused
 * is noticed here (the driver cannot know): the bytes the driver takes as
 * that literal are the client's next command and get the conservative rule.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "mailspec/imap.h"
#include "mailspec/pop3.h"
#include "mailspec/script.h"
#include "mailspec/smtp.h"
#include "record.h"

size_t ms_rec_message_max = (size_t)32 << 20;

enum ms_rec_proto ms_rec_proto_parse(const char *name)
{
    if (strcmp(name, "smtp") == 0)
        return MS_REC_SMTP;
    if (strcmp(name, "pop3") == 0)
        return MS_REC_POP3;
    if (strcmp(name, "imap") == 0)
        return MS_REC_IMAP;
    return (enum ms_rec_proto)0;
}

const char *ms_rec_proto_name(enum ms_rec_proto p)
{
    switch (p) {
    case MS_REC_SMTP:
        return "smtp";
    case MS_REC_POP3:
        return "pop3";
    case MS_REC_IMAP:
        return "imap";
    default:
        return "?";
    }
}

/* ---- escaping and small helpers ---- */

/* .session text of b[0..n): the runner's escaper, keeping valid UTF-8 readable. */
static void esc(struct ms_out *out, const char *p, size_t n)
{
    ms_script_escape_opt(out, p, n, MS_ESCAPE_UTF8);
}

static int ieq(const char *p, size_t n, const char *lit)
{
    return ms_slice_ieq((struct ms_slice){p, n}, lit);
}

static int starts_ci(const char *p, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n >= m && ieq(p, m, lit);
}

/* The word starting at p[i] (up to SP or the end): its length. */
static size_t word_len(const char *p, size_t n, size_t i)
{
    size_t j = i;
    while (j < n && p[j] != ' ')
        j++;
    return j - i;
}

static void lit(struct ms_out *o, const char *s)
{
    ms_out_str(o, s);
}

#define V_REDACTED "${sasl_redacted}" /* a secret that no variable can stand for */
#define V_VOLATILE "${*}"

/* ---- server text: values that change between runs ---- */

/*
 * Replace "KEYWORD SP number" (UIDVALIDITY 123) with "KEYWORD ${*}" anywhere
 * outside literals; used for IMAP values that differ between runs.
 */
static const char *const imap_volatile_nums[] = {
    "UIDVALIDITY ", "UIDNEXT ", "HIGHESTMODSEQ ", "APPENDUID ", "COPYUID ", "MODSEQ (", NULL,
};

/* Render server text p[0..n) (no literal bytes inside) with volatile values as ${*}. */
static void imap_server_text(const char *p, size_t n, struct ms_out *o)
{
    size_t i = 0, from = 0;

    while (i < n) {
        const char *kw = NULL;
        for (size_t k = 0; imap_volatile_nums[k]; k++)
            if ((i == 0 || !ms_is((unsigned char)p[i - 1], MS_C_ALPHA)) &&
                starts_ci(p + i, n - i, imap_volatile_nums[k])) {
                kw = imap_volatile_nums[k];
                break;
            }
        if (kw) {
            size_t kl = strlen(kw), j = i + kl;
            /* APPENDUID/COPYUID: all of the response code's arguments */
            int whole = kw[0] == 'A' || kw[0] == 'C';
            size_t e = j;
            if (whole) {
                while (e < n && p[e] != ']')
                    e++;
            } else {
                while (e < n && ms_is_digit((unsigned char)p[e]))
                    e++;
            }
            if (e > j) {
                esc(o, p + from, j - from);
                lit(o, "${*}");
                i = from = e;
                continue;
            }
        }
        /* \Recent goes to the first session that sees a message (RFC 3501 2.3.2) */
        if (n - i >= 7 && memcmp(p + i, "\\Recent", 7) == 0 &&
            (i + 7 == n || p[i + 7] == ' ' || p[i + 7] == ')') && i > 0 &&
            (p[i - 1] == ' ' || p[i - 1] == '(')) {
            size_t b = p[i - 1] == ' ' ? i - 1 : i;
            size_t e = (b == i && i + 7 < n && p[i + 7] == ' ') ? i + 8 : i + 7;
            esc(o, p + from, b - from);
            lit(o, "${*}");
            i = from = e;
            continue;
        }
        if (i == 2 && n > 9 && p[0] == '*' && p[1] == ' ' && ms_is_digit((unsigned char)p[2])) {
            size_t e = i;
            while (e < n && ms_is_digit((unsigned char)p[e]))
                e++;
            if (n - e == 7 && ieq(p + e, 7, " RECENT")) {
                esc(o, p + from, i - from);
                lit(o, "${*}");
                i = from = e;
                continue;
            }
        }
        if (starts_ci(p + i, n - i, "INTERNALDATE \"")) {
            size_t j = i + 14, e = j;
            while (e < n && p[e] != '"')
                e++;
            if (e < n) {
                esc(o, p + from, j - from);
                lit(o, "${*}");
                i = from = e;
                continue;
            }
        }
        i++;
    }
    /* Dovecot's timings: "OK Fetch completed (0.001 + 0.000 secs)." */
    size_t tail = n;
    if (n > from + 6 && (ieq(p + n - 6, 6, "secs).") || ieq(p + n - 5, 5, "secs)"))) {
        size_t k = n;
        while (k > from && p[k - 1] != '(')
            k--;
        if (k > from + 1 && p[k - 2] == ' ' && k < n && ms_is_digit((unsigned char)p[k]))
            tail = k - 1;
    }
    esc(o, p + from, tail - from);
    if (tail < n)
        lit(o, "${*}");
}

/* SMTP reply text: "... queued as QUEUEID" (Postfix, Exim's "id=" is not rewritten). */
static void smtp_server_text(const char *p, size_t n, struct ms_out *o)
{
    for (size_t i = 0; i + 10 <= n; i++)
        if (starts_ci(p + i, n - i, "queued as ")) {
            if (i + 10 < n) {
                esc(o, p, i + 10);
                lit(o, V_VOLATILE);
                return;
            }
            break;
        }
    esc(o, p, n);
}

/* ---- classified byte ranges ---- */

enum span_act {
    SP_KEEP = 0, /* copied (escaped) */
    SP_TEXT,     /* server text: volatile values rewritten */
    SP_VAR,      /* replaced by var */
    SP_FALLBACK, /* rejected by the parser: the conservative rule */
};

/* What the driver expects the next client message to be (for rejected bytes). */
enum { K_COMMAND = 0, K_SASL, K_CONTENT };

struct span {
    uint64_t lo, hi; /* stream offsets of one direction */
    const char *var; /* SP_VAR */
    uint8_t act;
    uint8_t kind;  /* SP_FALLBACK: K_* */
    uint8_t carry; /* SP_FALLBACK: a credential verb was seen; the rest is redacted */
};

struct side {
    uint64_t fed;  /* bytes given to the driver */
    uint64_t done; /* bytes classified: spans cover [.., done) */
    struct span *sp;
    size_t head, n, cap;
    int after_error;    /* the driver is dropping the rest of a rejected message */
    uint8_t kind;       /* client: K_* for the message the driver parses next */
    uint8_t tail_carry; /* the carry of forced renders of the unclassified message */
    /* client: the bytes the driver takes as the literal of a synchronizing
     * literal the server refused (they are the client's next command) */
    uint64_t suspect_lo, suspect_hi;
    /* the last line of this side had no CRLF and ended with the first
     * cont_k bytes of the secret cont[0..cont_n) (NULL: none; secrets are
     * never freed before the end, their order may change) */
    const char *cont;
    size_t cont_n, cont_k;
};

/* A held-back line. */
struct pline {
    uint64_t off; /* stream offset of its first byte */
    size_t n, at; /* length (without CRLF), position in the byte store */
    uint8_t server, crlf;
};

enum { MECH_PLAIN = 1, MECH_LOGIN, MECH_OTHER };

/*
 * A secret the dialogue has shown (a password, a SASL blob): every later
 * rendering of every line, in both directions, masks each occurrence of it,
 * whatever its length (a server that echoes the password, a credential the
 * parser could not place). Longest first.
 */
struct secret {
    char *p;
    size_t n;
    const char *var; /* what a whole occurrence becomes */
};
#define SECRETS_MAX 63   /* a mask byte holds index + 1 in its low 6 bits */
#define MASK_START  0x80 /* mask byte: the first byte of an occurrence */

/* Bytes held back (lines waiting for an earlier line) before the oldest is forced out. */
#define QUEUE_MAX ((size_t)48 << 20)

struct ms_rec_drv {
    struct ms_rec_san *st;
    const struct ms_proto *mp;
    struct ms_limits lim;
    struct ms_session ss;
    void *cst, *cv, *sst, *sv;
    char *cb, *sb;
    struct side side[2];
    /* lines not handed out yet, and their bytes */
    struct pline *q;
    size_t qhead, qn, qcap;
    char *qb;
    size_t qbhead, qblen, qbcap;
    char *render;
    size_t rcap;
    ms_rec_line_fn out;
    void *ctx;
    /* What the views alone do not say: */
    uint64_t server_msgs;               /* server messages so far (the first is the greeting) */
    uint8_t mech;                       /* the mechanism of the last AUTH/AUTHENTICATE (its view) */
    unsigned step;                      /* SASL data items the client sent in that exchange */
    uint64_t smtp_answered;             /* the driver's count of answered SMTP commands */
    uint64_t ehlo_idx, starttls_idx;    /* SMTP: which command (1-based) was EHLO/HELO, STARTTLS */
    char tls_tag[MS_IMAP_CMD_TAG_KEEP]; /* IMAP: the tag of the STARTTLS sent */
    size_t tls_tag_len;
    /* IMAP: a client line ended in a synchronizing literal {n}, not answered yet */
    int lit_wait;
    /* a client line started like AUTH/AUTHENTICATE (auth_seen) and the server
     * answered with a challenge (force_sasl): the client's next line is a
     * SASL response even when the driver rejected the command */
    uint8_t auth_seen, force_sasl;
    uint64_t lit_at, lit_n;
    struct secret sec[SECRETS_MAX];
    size_t nsec;
    uint8_t *mask; /* per byte of the line being rendered: secret index + 1 | MASK_START */
    size_t maskcap;
    uint8_t susp_carry; /* the conservative rule's carry inside refused-literal bytes */
};

static int side_push(struct side *s, const struct span *v)
{
    if (s->head + s->n == s->cap) {
        if (s->head > 0) {
            memmove(s->sp, s->sp + s->head, s->n * sizeof(*s->sp));
            s->head = 0;
        } else {
            size_t nc = s->cap ? s->cap * 2 : 64;
            struct span *ns = realloc(s->sp, nc * sizeof(*ns));
            if (!ns)
                return -1;
            s->sp = ns;
            s->cap = nc;
        }
    }
    s->sp[s->head + s->n++] = *v;
    return 0;
}

/*
 * Classify [lo, hi) of one direction. What is classified already stays; a
 * gap before lo is what the driver consumed without a message: pieces of a
 * streamed message (kept), or the rest of a rejected one (fallback).
 */
static void classify(struct ms_rec_drv *z, int srv, uint64_t lo, uint64_t hi, const struct span *v)
{
    struct side *s = &z->side[srv];

    if (hi <= s->done)
        return;
    if (lo > s->done) {
        struct span gap = {0}; /* see fill_gap */
        gap.act = s->after_error ? SP_FALLBACK : SP_KEEP;
        gap.kind = s->kind;
        classify(z, srv, s->done, lo, &gap);
    } else {
        lo = s->done;
    }
    struct span *last = s->n ? &s->sp[s->head + s->n - 1] : NULL;
    /* kept and text ranges merge; a rejected message's tail continues it */
    if (last && last->hi == lo && last->act == v->act &&
        (v->act == SP_KEEP || v->act == SP_TEXT || (v->act == SP_FALLBACK && s->after_error))) {
        last->hi = hi;
    } else {
        struct span x = *v;
        x.lo = lo;
        x.hi = hi;
        if (side_push(s, &x) != 0) {
            /* out of memory: nothing can be classified safely; redact */
            if (last) {
                last->act = SP_VAR;
                last->var = V_REDACTED;
                last->hi = hi;
            }
        }
    }
    s->done = hi;
}

static void learn_password(struct ms_rec_drv *z, const char *p, size_t n);

/* Builds the spans of one message from its view: ranges in order, the rest default. */
struct marks {
    struct ms_rec_drv *z;
    int srv;
    const char *base; /* the message's first byte in memory */
    uint64_t off;     /* ... and in the stream */
    uint64_t cur, end;
    uint8_t def; /* SP_KEEP or SP_TEXT */
};

static void mark_init(struct marks *m, struct ms_rec_drv *z, int srv, const char *base,
                      uint64_t off, uint64_t len, uint8_t def)
{
    m->z = z;
    m->srv = srv;
    m->base = base;
    m->off = off;
    m->cur = off;
    m->end = off + len;
    m->def = def;
}

static void mark_to(struct marks *m, uint64_t to)
{
    struct span d = {0};
    d.act = m->def;
    if (to > m->cur)
        classify(m->z, m->srv, m->cur, to, &d);
    if (to > m->cur)
        m->cur = to;
}

/* The bytes of slice s (inside the message) become act (var for SP_VAR). */
static void mark(struct marks *m, struct ms_slice s, uint8_t act, const char *var)
{
    if (!s.ptr || s.len == 0 || !m->base || s.ptr < m->base)
        return;
    uint64_t lo = m->off + (uint64_t)(s.ptr - m->base), hi = lo + s.len;
    if (hi > m->end)
        hi = m->end;
    if (lo < m->cur) {
        /* out of order (not produced by the views used here): a secret is
         * never let through; anything else keeps its first classification */
        if (act != SP_VAR || hi <= m->cur)
            return;
        var = V_REDACTED;
        lo = m->cur;
    }
    mark_to(m, lo);
    if (act == SP_VAR && strcmp(var, "${password}") == 0)
        learn_password(m->z, s.ptr, s.len);
    struct span v = {0};
    v.act = act;
    v.var = var;
    classify(m->z, m->srv, lo, hi, &v);
    m->cur = hi;
}

static void mark_end(struct marks *m)
{
    mark_to(m, m->end);
}

/* ---- secrets ---- */

static void learn(struct ms_rec_drv *z, const char *p, size_t n, const char *var)
{
    size_t i;

    if (n == 0 || z->st->raw)
        return;
    for (i = 0; i < z->nsec; i++)
        if (z->sec[i].n == n && memcmp(z->sec[i].p, p, n) == 0)
            return;
    if (z->nsec == SECRETS_MAX) {
        /* bounded: the shortest secret without a replay variable (a guess
         * of the conservative rule, another mechanism's blob) makes room;
         * passwords and PLAIN/LOGIN blobs stay */
        for (i = z->nsec; i > 0 && strcmp(z->sec[i - 1].var, V_REDACTED) != 0; i--)
            ;
        if (i == 0)
            return;
        OPENSSL_cleanse(z->sec[i - 1].p, z->sec[i - 1].n);
        free(z->sec[i - 1].p);
        memmove(&z->sec[i - 1], &z->sec[i], (z->nsec - i) * sizeof(z->sec[0]));
        z->nsec--;
    }
    char *c = malloc(n);
    if (!c)
        return;
    memcpy(c, p, n);
    /* longest first: a longer secret that contains a shorter one wins */
    for (i = z->nsec; i > 0 && z->sec[i - 1].n < n; i--)
        z->sec[i] = z->sec[i - 1];
    z->sec[i] = (struct secret){c, n, var};
    z->nsec++;
}

/* A password as the client wrote it, and (a quoted string) unescaped. */
static void learn_password(struct ms_rec_drv *z, const char *p, size_t n)
{
    char buf[1024];
    size_t k = 0;

    learn(z, p, n, "${password}");
    if (!memchr(p, '\\', n) || n > sizeof(buf))
        return;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\' && i + 1 < n)
            i++;
        buf[k++] = p[i];
    }
    learn(z, buf, k, "${password}");
    OPENSSL_cleanse(buf, sizeof(buf));
}

/* base64 p[0..n) into buf (cap bytes): the decoded length, or -1. */
static long b64_decode(const char *p, size_t n, unsigned char *buf, size_t cap)
{
    if (n == 0 || n % 4 != 0 || n / 4 * 3 > cap)
        return -1;
    int d = EVP_DecodeBlock(buf, (const unsigned char *)p, (int)n);
    /* EVP_DecodeBlock counts the padding as zero bytes */
    int pad = (p[n - 1] == '=') + (n >= 2 && p[n - 2] == '=');
    return d >= pad ? (long)(d - pad) : -1;
}

/*
 * A SASL blob the client sent: the blob itself, and what it carries: the
 * password of PLAIN (authzid \0 authcid \0 passwd, RFC 4616 2) or, for
 * LOGIN's second response, the password itself.
 */
static void learn_blob(struct ms_rec_drv *z, const char *p, size_t n, const char *var, int mech,
                       int password_step, const char *pvar)
{
    unsigned char buf[3 * 1024];

    learn(z, p, n, var);
    long d = b64_decode(p, n, buf, sizeof(buf));
    if (d > 0) {
        size_t len = (size_t)d;
        const unsigned char *z1 = mech == MECH_PLAIN ? memchr(buf, 0, len) : NULL;
        const unsigned char *z2 = z1 ? memchr(z1 + 1, 0, len - (size_t)(z1 + 1 - buf)) : NULL;
        if (z2)
            learn(z, (const char *)z2 + 1, len - (size_t)(z2 + 1 - buf), pvar);
        else if (mech == MECH_LOGIN && password_step)
            learn(z, (const char *)buf, len, pvar);
    }
    OPENSSL_cleanse(buf, sizeof(buf));
}

/* ---- SASL ---- */

static uint8_t mech_class(struct ms_slice m)
{
    if (ms_slice_ieq(m, "PLAIN"))
        return MECH_PLAIN;
    if (ms_slice_ieq(m, "LOGIN"))
        return MECH_LOGIN;
    return MECH_OTHER;
}

/*
 * PLAIN: authzid \0 authcid \0 passwd (RFC 4616 2). ${sasl_plain} with an
 * empty authzid, ${sasl_plain_authz} with one (it may name a user), and
 * ${sasl_redacted} for anything else. Decoded on the stack with OpenSSL
 * (lax is fine: the parser has checked the base64), then wiped.
 */
static const char *plain_var(const char *p, size_t n)
{
    unsigned char buf[3 * 1024];
    const char *var = V_REDACTED;

    long d = b64_decode(p, n, buf, sizeof(buf));
    if (d >= 0) {
        size_t len = (size_t)d;
        const unsigned char *z1 = memchr(buf, 0, len);
        if (z1 && memchr(z1 + 1, 0, len - (size_t)(z1 + 1 - buf)))
            var = z1 == buf ? "${sasl_plain}" : "${sasl_plain_authz}";
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return var;
}

/*
 * One client SASL data item (initial response or a line after a challenge):
 * the variable that replaces it, or NULL to keep it ("=" empty, "*" cancel).
 */
static const char *sasl_var(struct ms_rec_drv *z, struct ms_slice r)
{
    unsigned step = z->step++;

    if (r.len == 0 || (r.len == 1 && (r.ptr[0] == '=' || r.ptr[0] == '*')))
        return NULL;
    switch (z->mech) {
    case MECH_PLAIN:
        return plain_var(r.ptr, r.len);
    case MECH_LOGIN:
        return step == 0 ? "${sasl_user}" : step == 1 ? "${sasl_password}" : V_REDACTED;
    default:
        return V_REDACTED;
    }
}

static void sasl_mark(struct marks *m, struct ms_slice r)
{
    unsigned step = m->z->step;
    const char *v = sasl_var(m->z, r);
    if (v) {
        mark(m, r, SP_VAR, v);
        /* the blob is the credential itself; ${sasl_user} is not a secret */
        if (strcmp(v, "${sasl_user}") != 0)
            learn_blob(m->z, r.ptr, r.len, v, m->z->mech, step == 1, "${password}");
    }
}

/* ---- what the driver expects next from the client ---- */

static uint8_t client_kind(const struct ms_rec_drv *z)
{
    if (z->force_sasl)
        return K_SASL;
    switch (z->st->proto) {
    case MS_REC_SMTP: {
        const struct ms_smtp_cstate *c = z->cst;
        return c->mode == MS_SMTP_MODE_SASL                                    ? K_SASL
               : c->mode == MS_SMTP_MODE_DATA || c->mode == MS_SMTP_MODE_CHUNK ? K_CONTENT
                                                                               : K_COMMAND;
    }
    case MS_REC_POP3:
        return ((const struct ms_pop3_command_state *)z->cst)->sasl ? K_SASL : K_COMMAND;
    case MS_REC_IMAP:
        return ((const struct ms_imap_command_state *)z->cst)->mode == MS_IMAP_CS_AUTH ? K_SASL
                                                                                       : K_COMMAND;
    default:
        return K_COMMAND;
    }
}

/* ---- client messages ---- */

static void smtp_command(struct ms_rec_drv *z, const struct ms_smtp_command *v, uint64_t off,
                         uint64_t len)
{
    struct marks m;
    const struct ms_smtp_cstate *c = z->cst;

    if (v->type == MS_SMTP_T_DATA || v->type == MS_SMTP_T_CHUNK) {
        struct span keep = {0};
        classify(z, 0, off, off + len, &keep); /* content: kept as it is */
        return;
    }
    mark_init(&m, z, 0, v->raw.ptr, off, len, SP_KEEP);
    if (v->type == MS_SMTP_T_SASL) {
        if (!v->cancel)
            sasl_mark(&m, v->response);
    } else if (v->verb == MS_SMTP_AUTH) {
        z->mech = mech_class(v->arg);
        z->step = 0;
        if (v->has_response)
            sasl_mark(&m, v->response);
    } else if (v->verb == MS_SMTP_EHLO || v->verb == MS_SMTP_HELO) {
        z->ehlo_idx = c->sent;
    } else if (v->verb == MS_SMTP_STARTTLS) {
        z->starttls_idx = c->sent;
    }
    mark_end(&m);
}

static void pop3_command(struct ms_rec_drv *z, const struct ms_pop3_command *v, uint64_t off,
                         uint64_t len)
{
    struct marks m;

    mark_init(&m, z, 0, v->raw.ptr, off, len, SP_KEEP);
    switch (v->cmd) {
    case MS_POP3_USER:
        mark(&m, v->arg[0], SP_VAR, "${user}");
        break;
    case MS_POP3_PASS:
        mark(&m, v->arg[0], SP_VAR, "${password}");
        break;
    case MS_POP3_APOP:
        /* the digest depends on the greeting's timestamp (RFC 1939 7) */
        mark(&m, v->arg[0], SP_VAR, "${user}");
        mark(&m, v->arg[1], SP_VAR, "${apop_digest}");
        break;
    case MS_POP3_AUTH:
        z->mech = mech_class(v->arg[0]);
        z->step = 0;
        if (v->nargs > 1)
            sasl_mark(&m, v->arg[1]);
        break;
    case MS_POP3_SASL_RESPONSE:
        sasl_mark(&m, v->arg[0]);
        break;
    default:
        break;
    }
    mark_end(&m);
}

static void imap_command(struct ms_rec_drv *z, const struct ms_imap_command *v, uint64_t off,
                         uint64_t len)
{
    struct marks m;

    if (v->msg != MS_IMAP_MSG_COMMAND) {
        /* a SASL line, "*", or DONE */
        mark_init(&m, z, 0, v->line.ptr, off, len, SP_KEEP);
        if (v->msg == MS_IMAP_MSG_SASL)
            sasl_mark(&m, v->line);
        mark_end(&m);
        return;
    }
    mark_init(&m, z, 0, v->tag.ptr, off, len, SP_KEEP);
    uint32_t a1 = v->nodes[0].child, a2 = a1 ? v->nodes[a1].next : 0;
    switch (v->cmd) {
    case MS_IMAP_CMD_LOGIN:
        /* userid SP password, both astring: atom, the inside of a quoted
         * string, or a literal's bytes (its {n} stays) */
        if (a1)
            mark(&m, v->nodes[a1].text, SP_VAR, "${user}");
        if (a2)
            mark(&m, v->nodes[a2].text, SP_VAR, "${password}");
        break;
    case MS_IMAP_CMD_AUTHENTICATE:
        z->mech = a1 ? mech_class(v->nodes[a1].text) : MECH_OTHER;
        z->step = 0;
        if (a2 && v->nodes[a2].type == MS_IMAP_CN_BASE64)
            sasl_mark(&m, v->nodes[a2].text);
        break;
    case MS_IMAP_CMD_STARTTLS:
        z->tls_tag_len = v->tag.len <= sizeof(z->tls_tag) ? v->tag.len : 0;
        memcpy(z->tls_tag, v->tag.ptr, z->tls_tag_len);
        break;
    default:
        break;
    }
    mark_end(&m);
}

/* ---- server messages ---- */

static void smtp_reply(struct ms_rec_drv *z, const struct ms_smtp_reply *r, uint64_t off,
                       uint64_t len)
{
    const struct ms_smtp_cstate *c = z->cst;
    struct marks m;
    /* the command this reply answers: the driver counts them (PIPELINING) */
    uint64_t answers = c->answered != z->smtp_answered ? c->answered : 0;
    z->smtp_answered = c->answered;

    if (z->server_msgs == 0) {
        /* "220 host ESMTP software": the host and software vary */
        mark_init(&m, z, 1, r->raw.ptr, off, len, SP_KEEP);
        for (uint16_t i = 0; i < r->nlines; i++)
            mark(&m, r->lines[i].text, SP_VAR, V_VOLATILE);
        mark_end(&m);
        return;
    }
    mark_init(&m, z, 1, r->raw.ptr, off, len, SP_TEXT);
    if (answers && answers == z->ehlo_idx && r->nlines > 0) {
        /* the first line of the EHLO reply: the server's name and greeting */
        mark(&m, r->lines[0].text, SP_VAR, V_VOLATILE);
    } else if (r->code == 334 && c->mode == MS_SMTP_MODE_SASL && z->mech == MECH_OTHER &&
               r->nlines > 0) {
        mark(&m, r->lines[0].text, SP_VAR, V_VOLATILE); /* a challenge: differs every time */
    }
    if (answers && answers == z->starttls_idx)
        z->st->tls_go = r->code == 220;
    mark_end(&m);
}

static void pop3_reply(struct ms_rec_drv *z, const struct ms_pop3_reply *r, uint64_t off,
                       uint64_t len)
{
    struct marks m;

    if (r->type == MS_POP3_R_BODY) {
        struct span keep = {0};
        classify(z, 1, off, off + len, &keep);
        return;
    }
    mark_init(&m, z, 1, r->raw.ptr, off, len, SP_KEEP);
    switch (r->type) {
    case MS_POP3_R_GREETING:
        /* "+OK Dovecot ready. <1.2.3@host>": the APOP timestamp varies */
        if (r->ok)
            mark(&m, r->text, SP_VAR, V_VOLATILE);
        break;
    case MS_POP3_R_CONTINUE:
        if (z->mech == MECH_OTHER)
            mark(&m, r->data, SP_VAR, V_VOLATILE);
        break;
    case MS_POP3_R_UID:
        mark(&m, r->uid, SP_VAR, V_VOLATILE); /* Dovecot's UIDs embed the UIDVALIDITY */
        break;
    case MS_POP3_R_STATUS:
        if (r->answers == MS_POP3_UIDL && r->has_arg && r->ok)
            mark(&m, r->uid, SP_VAR, V_VOLATILE);
        if (r->answers == MS_POP3_STLS)
            z->st->tls_go = r->ok;
        break;
    default:
        break;
    }
    mark_end(&m);
}

static void imap_reply(struct ms_rec_drv *z, const struct ms_imap_response *r, uint64_t off,
                       uint64_t len)
{
    struct marks m;

    if (z->server_msgs == 0 && r->kind == MS_IMAP_UNTAGGED &&
        (r->type == MS_IMAP_OK || r->type == MS_IMAP_PREAUTH)) {
        /* "* OK [CAPABILITY ...] Dovecot ready.": status and code stay */
        mark_init(&m, z, 1, r->raw.ptr, off, len, SP_KEEP);
        mark(&m, r->text, SP_VAR, V_VOLATILE);
        mark_end(&m);
        return;
    }
    mark_init(&m, z, 1, r->raw.ptr, off, len, SP_TEXT);
    if (z->lit_wait && r->kind == MS_IMAP_CONTINUE) {
        z->lit_wait = 0; /* go ahead: the literal follows */
    } else if (z->lit_wait && r->kind == MS_IMAP_TAGGED) {
        /* refused (RFC 9051 7.5): the client's next bytes are a new command,
         * but the driver takes the next lit_n of them as the literal */
        z->lit_wait = 0;
        z->side[0].suspect_lo = z->lit_at;
        z->side[0].suspect_hi = z->lit_at + z->lit_n;
    }
    if (r->kind == MS_IMAP_CONTINUE) {
        const struct ms_imap_command_state *c = z->cst;
        if (c->mode == MS_IMAP_CS_AUTH && z->mech == MECH_OTHER)
            mark(&m, r->text, SP_VAR, V_VOLATILE); /* a challenge */
    } else {
        /* literal bytes are never rewritten (nodes are in the order parsed) */
        for (uint32_t i = 1; i <= r->nnodes && i <= MS_IMAP_NODES; i++)
            if (r->nodes[i].type == MS_IMAP_N_LITERAL || r->nodes[i].type == MS_IMAP_N_LITERAL8)
                mark(&m, r->nodes[i].s, SP_KEEP, NULL);
    }
    if (r->kind == MS_IMAP_TAGGED && z->tls_tag_len && r->tag.len == z->tls_tag_len &&
        memcmp(r->tag.ptr, z->tls_tag, z->tls_tag_len) == 0) {
        z->st->tls_go = r->type == MS_IMAP_OK;
        z->tls_tag_len = 0;
    }
    mark_end(&m);
}

/*
 * Bytes before upto that the driver consumed without reporting a message:
 * pieces of a streamed message (DATA content, a BDAT chunk, a RETR body:
 * kept), or the rest of a rejected message it dropped (fallback).
 */
static void fill_gap(struct ms_rec_drv *z, int srv, uint64_t upto)
{
    struct side *s = &z->side[srv];
    if (upto > s->done) {
        struct span gap = {0};
        gap.act = s->after_error ? SP_FALLBACK : SP_KEEP;
        gap.kind = s->kind;
        classify(z, srv, s->done, upto, &gap);
    }
}

/* The session driver's report of one message or error. */
static void on_msg(void *ctx, int is_server, size_t line, const struct ms_kind *k, const void *view,
                   const struct ms_error *err, uint64_t offset, uint64_t length)
{
    struct ms_rec_drv *z = ctx;
    struct side *s = &z->side[is_server ? 1 : 0];
    (void)line;
    (void)k;

    fill_gap(z, is_server, offset);
    if (err) {
        struct span f = {0};
        f.act = SP_FALLBACK;
        f.kind = is_server ? K_COMMAND : s->kind;
        f.carry = s->tail_carry;
        s->after_error = 0; /* a new rejected message, not the tail of the last one */
        classify(z, is_server, offset, offset + length, &f);
        s->after_error = 1; /* the driver may drop more of it (through its LF) */
    } else {
        s->after_error = 0;
        switch (z->st->proto) {
        case MS_REC_SMTP:
            if (is_server)
                smtp_reply(z, view, offset, length);
            else
                smtp_command(z, view, offset, length);
            break;
        case MS_REC_POP3:
            if (is_server)
                pop3_reply(z, view, offset, length);
            else
                pop3_command(z, view, offset, length);
            break;
        default:
            if (is_server)
                imap_reply(z, view, offset, length);
            else
                imap_command(z, view, offset, length);
            break;
        }
    }
    if (is_server) {
        z->server_msgs++;
        if (z->auth_seen && view) {
            int challenge = z->st->proto == MS_REC_SMTP
                                ? ((const struct ms_smtp_reply *)view)->code == 334
                            : z->st->proto == MS_REC_POP3
                                ? ((const struct ms_pop3_reply *)view)->type == MS_POP3_R_CONTINUE
                                : ((const struct ms_imap_response *)view)->kind == MS_IMAP_CONTINUE;
            z->force_sasl = (uint8_t)challenge;
            z->auth_seen = (uint8_t)challenge;
        }
    }
    s->tail_carry = 0;
    /* a server message may change what the client's next bytes are */
    z->side[0].kind = client_kind(z);
}

/* ---- the conservative rule for bytes without a view ---- */

/*
 * If p[0..n) starts like a command that carries a credential: the length of
 * "VERB " (with the tag for IMAP) to keep; 0 otherwise.
 */
static size_t cred_prefix(enum ms_rec_proto proto, const char *p, size_t n)
{
    static const char *const smtp[] = {"AUTH", NULL};
    static const char *const pop3[] = {"USER", "PASS", "APOP", "AUTH", NULL};
    static const char *const imap[] = {"LOGIN", "AUTHENTICATE", NULL};
    const char *const *verbs = proto == MS_REC_SMTP ? smtp : proto == MS_REC_POP3 ? pop3 : imap;
    size_t i = 0;

    if (proto == MS_REC_IMAP) {
        i = word_len(p, n, 0);
        if (i == 0 || i >= n)
            return 0;
        i++;
    }
    size_t vl = word_len(p, n, i);
    for (size_t k = 0; verbs[k]; k++)
        if (ieq(p + i, vl, verbs[k]))
            return i + vl < n ? i + vl + 1 : n;
    return 0;
}

/* Whether p[0..n) starts like AUTH (SMTP, POP3) or "tag AUTHENTICATE" (IMAP). */
static int starts_auth(enum ms_rec_proto proto, const char *p, size_t n)
{
    size_t i = 0;

    if (proto == MS_REC_IMAP) {
        i = word_len(p, n, 0);
        if (i == 0 || i >= n)
            return 0;
        i++;
    }
    return ieq(p + i, word_len(p, n, i), proto == MS_REC_IMAP ? "AUTHENTICATE" : "AUTH");
}

/* Server bytes without a view: the text rules alone. */
static void server_text(enum ms_rec_proto proto, const char *p, size_t n, struct ms_out *o)
{
    if (proto == MS_REC_IMAP)
        imap_server_text(p, n, o);
    else if (proto == MS_REC_SMTP)
        smtp_server_text(p, n, o);
    else
        esc(o, p, n);
}

/*
 * A credential the conservative rule redacts (no view says where it is): the
 * last word of p[0..n), where credential commands carry their secret (the
 * password of LOGIN, the blob of AUTH), with and without quotes; a literal
 * announcement {n} is not one.
 */
static void learn_last_word(struct ms_rec_drv *z, const char *p, size_t n)
{
    while (n > 0 && p[n - 1] == ' ')
        n--;
    size_t b = n;
    while (b > 0 && p[b - 1] != ' ')
        b--;
    const char *w = p + b;
    size_t wl = n - b;
    if (wl == 0 || (wl >= 2 && w[0] == '{' && w[wl - 1] == '}'))
        return;
    learn(z, w, wl, V_REDACTED);
    if (wl >= 2 && w[0] == '"' && w[wl - 1] == '"')
        learn(z, w + 1, wl - 2, V_REDACTED);
}

/*
 * What follows the verb of a credential command the parser rejected
 * (tail[0..n)): PASS's argument; the second argument of LOGIN and of
 * AUTH/AUTHENTICATE (the password, the initial response), not the first (the
 * user, the mechanism); nothing of USER and APOP.
 */
static void learn_cred_tail(struct ms_rec_drv *z, const char *verb, size_t vl, const char *tail,
                            size_t n)
{
    if (ieq(verb, vl, "PASS")) {
        learn(z, tail, n, V_REDACTED);
        return;
    }
    if (!ieq(verb, vl, "LOGIN") && !ieq(verb, vl, "AUTH") && !ieq(verb, vl, "AUTHENTICATE"))
        return;
    size_t w1 = word_len(tail, n, 0);
    if (w1 + 1 < n)
        learn_last_word(z, tail + w1 + 1, n - w1 - 1);
}

/*
 * The piece p[0..n) of a line that starts at line (at = p - line) and that
 * no view covers.
 */
static void fallback(struct ms_rec_drv *z, int srv, struct span *f, const char *line, size_t at,
                     const char *p, size_t n, struct ms_out *o)
{
    enum ms_rec_proto proto = z->st->proto;

    if (srv) {
        server_text(proto, p, n, o);
        return;
    }
    if (f->kind == K_CONTENT) {
        esc(o, p, n); /* message content: never a command */
        return;
    }
    if (f->carry) {
        if (n)
            lit(o, V_REDACTED);
        learn_last_word(z, p, n);
        return;
    }
    /* a SASL response (in IMAP a line with SP is a command again) */
    if (f->kind == K_SASL && !(proto == MS_REC_IMAP && memchr(p, ' ', n))) {
        if (n == 1 && p[0] == '*') {
            esc(o, p, n);
        } else if (n) {
            lit(o, V_REDACTED);
            /* no view: the mechanism may be unknown; any decoded password */
            learn_blob(z, p, n, V_REDACTED, z->mech == MECH_PLAIN ? MECH_PLAIN : MECH_LOGIN, 1,
                       V_REDACTED);
        }
        return;
    }
    /* the line starts like a credential command (even when this piece
     * starts later in it): the verb stays, everything after it goes, and so
     * does the rest of the message (IMAP literals) */
    size_t keep = cred_prefix(proto, line, at + n);
    if (keep) {
        if (keep > at)
            esc(o, p, keep - at);
        if (keep < at + n) {
            lit(o, V_REDACTED);
            size_t from = keep > at ? keep - at : 0;
            size_t vs = keep - 1; /* the verb: the word before keep */
            while (vs > 0 && line[vs - 1] != ' ')
                vs--;
            learn_cred_tail(z, line + vs, keep - 1 - vs, p + from, n - from);
        }
        f->carry = 1;
        return;
    }
    esc(o, p, n);
}

/* ---- rendering held-back lines ---- */

static void render_piece(struct ms_rec_drv *z, int srv, struct span *s, const struct pline *L,
                         const char *p, uint64_t x, uint64_t e, struct ms_out *o)
{
    const char *b = p + (x - L->off);
    size_t n = (size_t)(e - x);

    switch (s->act) {
    case SP_KEEP:
        esc(o, b, n);
        break;
    case SP_TEXT:
        server_text(z->st->proto, b, n, o);
        break;
    case SP_VAR:
        /* a range inside this line is the variable; one that crosses a line
         * end (a credential with CRLF in it, a line cut short) is not
         * replayable */
        if (s->lo >= L->off && s->hi <= L->off + L->n)
            lit(o, s->var);
        else
            lit(o, srv ? V_VOLATILE : V_REDACTED);
        break;
    default:
        fallback(z, srv, s, p, (size_t)(x - L->off), b, n, o);
        break;
    }
}

/* What a masked occurrence of secret k becomes (whole: all of it in this line). */
static const char *mask_var(const struct ms_rec_drv *z, int srv, unsigned k, int whole)
{
    const char *v = z->sec[k].var;
    if (!whole)
        return srv ? V_VOLATILE : V_REDACTED;
    /* a server line may use what a replay derives from --user/--password */
    if (srv && strcmp(v, V_REDACTED) == 0)
        return V_VOLATILE;
    return v;
}

/* Mark p[a..b) as secret k (bytes already masked stay as they are). */
static void mask_set(struct ms_rec_drv *z, size_t a, size_t b, unsigned k, int whole)
{
    uint8_t v = (uint8_t)((k + 1) | (whole ? 0 : 0x40));
    int first = 1;
    for (size_t i = a; i < b; i++) {
        if (z->mask[i])
            continue;
        z->mask[i] = (uint8_t)(v | (first ? MASK_START : 0));
        first = 0;
    }
}

/*
 * Where the known secrets are in line L: every occurrence, and across a
 * line cut without CRLF (@nocrlf) the end of a secret's first part and the
 * start of the rest. Returns 0, or -1 when out of memory (then the line is
 * redacted whole).
 */
static int mask_line(struct ms_rec_drv *z, const struct pline *L, const char *p)
{
    struct side *s = &z->side[L->server];
    size_t n = L->n;

    if (n + 1 > z->maskcap) {
        uint8_t *m = realloc(z->mask, n + 1);
        if (!m)
            return -1;
        z->mask = m;
        z->maskcap = n + 1;
    }
    memset(z->mask, 0, n + 1);
    if (z->nsec == 0) {
        s->cont = NULL;
        return 0;
    }
    /* the rest of a secret whose first part ended the last line */
    if (s->cont) {
        size_t rest = s->cont_n - s->cont_k, m = rest < n ? rest : n;
        if (memcmp(p, s->cont + s->cont_k, m) == 0)
            mask_set(z, 0, m, 0, 0);
    }
    for (unsigned k = 0; k < z->nsec; k++) {
        const struct secret *c = &z->sec[k];
        for (size_t i = 0; i + c->n <= n;) {
            const char *hit = memchr(p + i, (unsigned char)c->p[0], n - i - c->n + 1);
            if (!hit)
                break;
            size_t a = (size_t)(hit - p);
            if (memcmp(hit, c->p, c->n) != 0) {
                i = a + 1;
                continue;
            }
            mask_set(z, a, a + c->n, k, 1);
            i = a + 1;
        }
    }
    /* a line cut without CRLF may end inside a secret */
    s->cont = NULL;
    if (!L->crlf) {
        for (unsigned k = 0; k < z->nsec && !s->cont; k++) {
            const struct secret *c = &z->sec[k];
            for (size_t len = c->n - 1 < n ? c->n - 1 : n; len > 0; len--)
                if (memcmp(p + n - len, c->p, len) == 0) {
                    mask_set(z, n - len, n, k, 0);
                    s->cont = c->p;
                    s->cont_n = c->n;
                    s->cont_k = len;
                    break;
                }
        }
    }
    return 0;
}

/*
 * Bytes [x, e) of line L under span sp, with the known secrets masked and
 * the bytes of a refused literal (a client command the driver took for
 * literal data) under the conservative rule.
 */
static void render_range(struct ms_rec_drv *z, int srv, struct span *sp, const struct pline *L,
                         const char *p, uint64_t x, uint64_t e, struct ms_out *o)
{
    const struct side *s = &z->side[srv];

    if (sp->act == SP_VAR) {
        render_piece(z, srv, sp, L, p, x, e, o);
        return;
    }
    while (x < e) {
        uint8_t mk = z->mask[x - L->off];
        uint64_t j = x + 1;
        if (mk) {
            while (j < e && z->mask[j - L->off] && !(z->mask[j - L->off] & MASK_START))
                j++;
            if (mk & MASK_START)
                lit(o, mask_var(z, srv, (unsigned)(mk & 0x3f) - 1, !(mk & 0x40)));
            x = j;
            continue;
        }
        while (j < e && !z->mask[j - L->off])
            j++;
        /* a refused literal's bytes: split at its bounds */
        if (!srv && sp->act == SP_KEEP && s->suspect_hi > x && s->suspect_lo < j) {
            if (s->suspect_lo > x) {
                j = s->suspect_lo;
            } else {
                if (s->suspect_hi < j)
                    j = s->suspect_hi;
                struct span t = {0};
                t.act = SP_FALLBACK;
                t.kind = K_COMMAND;
                t.carry = z->susp_carry;
                render_piece(z, srv, &t, L, p, x, j, o);
                z->susp_carry = t.carry;
                x = j;
                continue;
            }
        }
        render_piece(z, srv, sp, L, p, x, j, o);
        x = j;
    }
}

static void render_line(struct ms_rec_drv *z, const struct pline *L, struct ms_out *o)
{
    int srv = L->server;
    struct side *s = &z->side[srv];
    const char *p = z->qb ? z->qb + L->at : ""; /* nothing stored yet: an empty line */
    uint64_t x = L->off, end = L->off + L->n;
    size_t i = s->head;

    z->susp_carry = 0;
    if (mask_line(z, L, p) != 0) {
        lit(o, srv ? V_VOLATILE : V_REDACTED);
        x = end;
    }

    while (x < end) {
        while (i < s->head + s->n && s->sp[i].hi <= x)
            i++;
        if (i == s->head + s->n || s->sp[i].lo > x) {
            /* not classified yet (forced out; spans are contiguous up to
             * done): the conservative rule, with what the driver expects
             * now and what earlier forced lines of this message saw */
            struct span t = {0};
            t.act = SP_FALLBACK;
            t.kind = s->kind;
            t.carry = s->tail_carry;
            render_range(z, srv, &t, L, p, x, end, o);
            s->tail_carry = t.carry;
            break;
        }
        uint64_t e = s->sp[i].hi < end ? s->sp[i].hi : end;
        render_range(z, srv, &s->sp[i], L, p, x, e, o);
        x = e;
    }
    /* spans wholly before the next line of this side are done */
    uint64_t next = end + (L->crlf ? 2u : 0u);
    while (s->n && s->sp[s->head].hi <= next) {
        s->head++;
        s->n--;
    }
    if (s->n == 0)
        s->head = 0;
}

static int ensure_render(struct ms_rec_drv *z, size_t n)
{
    /* worst case: 16 bytes ("${sasl_redacted}") for each byte */
    size_t need = 16 * n + 64;
    if (need <= z->rcap)
        return 0;
    char *r = realloc(z->render, need);
    if (!r)
        return -1;
    z->render = r;
    z->rcap = need;
    return 0;
}

static void out_line(struct ms_rec_drv *z, int srv, const char *t, size_t n, int crlf)
{
    if (z->out)
        z->out(z->ctx, srv, t, n, crlf);
}

/* Hand out the head line: rendered from its spans (force: even if not all classified). */
static int pop_line(struct ms_rec_drv *z, int force)
{
    struct pline *L = &z->q[z->qhead];
    const struct side *s = &z->side[L->server];

    if (!force && s->done < L->off + L->n)
        return 0;
    if (ensure_render(z, L->n) != 0) {
        out_line(z, L->server, V_REDACTED, strlen(V_REDACTED), L->crlf); /* out of memory */
    } else {
        struct ms_out o;
        ms_out_init(&o, z->render, z->rcap);
        render_line(z, L, &o);
        out_line(z, L->server, o.buf, o.len, L->crlf);
    }
    z->qbhead = L->at + L->n;
    z->qhead++;
    z->qn--;
    if (z->qn == 0)
        z->qhead = z->qbhead = z->qblen = 0;
    return 1;
}

static void drain(struct ms_rec_drv *z)
{
    while (z->qn && pop_line(z, 0))
        ;
    /* bounded: the oldest lines are forced out when too much is held back */
    while (z->qn && z->qblen - z->qbhead > QUEUE_MAX)
        pop_line(z, 1);
}

static int queue_line(struct ms_rec_drv *z, int srv, uint64_t off, const char *line, size_t n,
                      int crlf)
{
    if (z->qhead + z->qn == z->qcap) {
        if (z->qhead > 0) {
            memmove(z->q, z->q + z->qhead, z->qn * sizeof(*z->q));
            z->qhead = 0;
        } else {
            size_t nc = z->qcap ? z->qcap * 2 : 64;
            struct pline *nq = realloc(z->q, nc * sizeof(*nq));
            if (!nq)
                return -1;
            z->q = nq;
            z->qcap = nc;
        }
    }
    if (z->qblen + n > z->qbcap) {
        if (z->qbhead > 0) {
            memmove(z->qb, z->qb + z->qbhead, z->qblen - z->qbhead);
            for (size_t i = 0; i < z->qn; i++)
                z->q[z->qhead + i].at -= z->qbhead;
            z->qblen -= z->qbhead;
            z->qbhead = 0;
        }
        if (z->qblen + n > z->qbcap) {
            size_t nc = z->qbcap ? z->qbcap : 4096;
            while (nc < z->qblen + n)
                nc *= 2;
            char *nb = realloc(z->qb, nc);
            if (!nb)
                return -1;
            z->qb = nb;
            z->qbcap = nc;
        }
    }
    if (n)
        memcpy(z->qb + z->qblen, line, n);
    z->q[z->qhead + z->qn++] = (struct pline){off, n, z->qblen, (uint8_t)srv, (uint8_t)crlf};
    z->qblen += n;
    return 0;
}

/*
 * A client line that ends in a synchronizing literal "{n}" (RFC 9051 4.3):
 * the client waits for "+" before the n bytes; a tagged reply instead
 * refuses them (see imap_reply). at: the stream offset after the line.
 */
static void note_sync_literal(struct ms_rec_drv *z, const char *line, size_t n, uint64_t at)
{
    uint64_t v = 0;
    size_t i;

    z->lit_wait = 0;
    if (n < 3 || line[n - 1] != '}')
        return;
    for (i = n - 1; i > 0 && ms_is_digit((unsigned char)line[i - 1]); i--)
        ;
    if (i == 0 || line[i - 1] != '{' || i == n - 1 || n - 1 - i > 10)
        return;
    for (size_t k = i; k < n - 1; k++)
        v = v * 10 + (uint64_t)(line[k] - '0');
    z->lit_wait = 1;
    z->lit_at = at;
    z->lit_n = v;
}

/* ---- API ---- */

int ms_rec_san_init(struct ms_rec_san *st, enum ms_rec_proto proto, int raw, ms_rec_line_fn out,
                    void *ctx)
{
    memset(st, 0, sizeof(*st));
    st->proto = proto;
    st->raw = raw;
    struct ms_rec_drv *z = calloc(1, sizeof(*z));
    if (!z)
        return -1;
    st->d = z;
    z->st = st;
    z->out = out;
    z->ctx = ctx;
    z->mp = ms_proto_find(ms_rec_proto_name(proto));
    if (!z->mp) {
        ms_rec_san_free(st);
        return -1;
    }
    /* The library's limits, with messages capped for a proxy that holds
     * them: a bigger one is rejected and rendered conservatively. */
    ms_limits_default(&z->lim);
    z->lim.imap_message = ms_rec_message_max;
    if (z->lim.imap_literal > z->lim.imap_message)
        z->lim.imap_literal = (uint32_t)z->lim.imap_message;
    if (proto != MS_REC_IMAP)
        z->lim.imap_message = z->lim.imap_line = 0; /* unused: no IMAP-sized buffers */
    size_t cap = ms_stream_buffer_size(&z->lim);
    z->cb = malloc(cap);
    z->sb = malloc(cap);
    z->cst = calloc(1, z->mp->commands->state_size);
    z->cv = calloc(1, z->mp->commands->view_size);
    z->sst = calloc(1, z->mp->replies->state_size);
    z->sv = calloc(1, z->mp->replies->view_size);
    if (!z->cb || !z->sb || !z->cst || !z->cv || !z->sst || !z->sv) {
        ms_rec_san_free(st);
        return -1;
    }
    ms_session_init(&z->ss, z->mp, &z->lim, z->cst, z->cv, z->cb, cap, z->sst, z->sv, z->sb, cap,
                    on_msg, z);
    z->side[0].kind = client_kind(z);
    return 0;
}

void ms_rec_san_free(struct ms_rec_san *st)
{
    struct ms_rec_drv *z = st->d;
    if (!z)
        return;
    free(z->cb);
    free(z->sb);
    free(z->cst);
    free(z->cv);
    free(z->sst);
    free(z->sv);
    free(z->side[0].sp);
    free(z->side[1].sp);
    free(z->q);
    if (z->qb)
        OPENSSL_cleanse(z->qb, z->qbcap); /* held-back lines may hold credentials */
    free(z->qb);
    free(z->render);
    for (size_t i = 0; i < z->nsec; i++) {
        OPENSSL_cleanse(z->sec[i].p, z->sec[i].n);
        free(z->sec[i].p);
    }
    free(z->mask);
    free(z);
    st->d = NULL;
}

void ms_rec_sanitize(struct ms_rec_san *st, int is_server, const char *line, size_t n, int crlf)
{
    struct ms_rec_drv *z = st->d;
    int d = is_server ? 1 : 0;
    struct side *s = &z->side[d];
    uint64_t off = s->fed;

    st->tls_go = 0;
    if (st->raw) {
        /* --raw: no rewriting, but the dialogue is still followed (STARTTLS) */
        if (ensure_render(z, n) == 0) {
            struct ms_out o;
            ms_out_init(&o, z->render, z->rcap);
            esc(&o, line, n);
            out_line(z, d, o.buf, o.len, crlf);
        }
    } else if (queue_line(z, d, off, line, n, crlf) != 0) {
        /* out of memory: what is held goes out now, this line redacted */
        ms_rec_san_flush(st);
        out_line(z, d, V_REDACTED, strlen(V_REDACTED), crlf);
    }
    if (!d)
        s->kind = client_kind(z);
    if (!d && crlf && st->proto == MS_REC_IMAP)
        note_sync_literal(z, line, n, off + n + 2);
    if (!d && !st->raw && starts_auth(st->proto, line, n))
        z->auth_seen = 1;
    ms_session_feed(&z->ss, d, 0, line, n);
    if (crlf)
        ms_session_feed(&z->ss, d, 0, "\r\n", 2);
    s->fed += n + (crlf ? 2u : 0u);
    fill_gap(z, d, d ? z->ss.s.offset : z->ss.c.offset);
    if (st->raw) {
        s->head = s->n = 0; /* nothing is rendered from spans */
        return;
    }
    drain(z);
}

void ms_rec_san_flush(struct ms_rec_san *st)
{
    struct ms_rec_drv *z = st->d;
    while (z && z->qn)
        pop_line(z, 1);
}

int ms_rec_san_secret_known(const struct ms_rec_san *st, const char *p, size_t n)
{
    const struct ms_rec_drv *z = st->d;
    for (size_t i = 0; z && i < z->nsec; i++)
        if (z->sec[i].n == n && memcmp(z->sec[i].p, p, n) == 0)
            return 1;
    return 0;
}
