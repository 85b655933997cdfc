/*
 * fuzz-server's cases: building them from seeds, mutating them and
 * minimizing them (fuzzsrv.h). Pure functions of their inputs and the
 * generator: the unit tests run them without a server.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzzsrv.h"
#include "transport.h"

void fz_case_free(struct fz_case *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->steps[i].data);
    free(c->steps);
    memset(c, 0, sizeof(*c));
}

int fz_case_add(struct fz_case *c, uint8_t op, const char *data, size_t len)
{
    if (c->n >= FZ_MAX_STEPS || len > FZ_MAX_STEP_DATA)
        return -1;
    if (c->n % 8 == 0) {
        struct fz_step *s = realloc(c->steps, (c->n + 8) * sizeof(*s));
        if (!s)
            return -1;
        c->steps = s;
    }
    struct fz_step *st = &c->steps[c->n];
    memset(st, 0, sizeof(*st));
    st->op = op;
    if (len) {
        st->data = malloc(len);
        if (!st->data)
            return -1;
        memcpy(st->data, data, len);
        st->len = len;
    }
    c->n++;
    return 0;
}

int fz_case_copy(struct fz_case *dst, const struct fz_case *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->pipeline = src->pipeline;
    for (size_t i = 0; i < src->n; i++) {
        if (fz_case_add(dst, src->steps[i].op, src->steps[i].data, src->steps[i].len) != 0) {
            fz_case_free(dst);
            return -1;
        }
        dst->steps[i].flags = src->steps[i].flags;
    }
    return 0;
}

void fz_case_remove(struct fz_case *c, size_t i)
{
    if (i >= c->n)
        return;
    free(c->steps[i].data);
    memmove(&c->steps[i], &c->steps[i + 1], (c->n - i - 1) * sizeof(c->steps[0]));
    c->n--;
}

/* Insert a step before position i (data copied). */
static int case_insert(struct fz_case *c, size_t i, uint8_t op, const char *data, size_t len)
{
    if (fz_case_add(c, op, data, len) != 0)
        return -1;
    if (i < c->n - 1) {
        struct fz_step t = c->steps[c->n - 1];
        memmove(&c->steps[i + 1], &c->steps[i], (c->n - 1 - i) * sizeof(t));
        c->steps[i] = t;
    }
    return 0;
}

/* ---- seeds ---- */

static const char *var_value(const struct ms_script *s, uint16_t var, const struct fz_vals *v)
{
    const char *name = s->vars[var];
    if (strcmp(name, "user") == 0)
        return v->user;
    if (strcmp(name, "password") == 0)
        return v->password;
    if (strcmp(name, "host") == 0)
        return v->host;
    if (strcmp(name, "run") == 0)
        return v->run;
    if (strcmp(name, "rcpt") == 0)
        return v->rcpt;
    if (strcmp(name, "from") == 0)
        return v->from ? v->from : "";
    return NULL;
}

/* Render one C: step: literal parts, variables the run gives, "x" for others. */
static size_t render(const struct ms_script *s, const struct ms_step *st, const struct fz_vals *v,
                     char *out, size_t cap)
{
    size_t n = 0;
    for (size_t k = 0; k < st->nparts; k++) {
        const struct ms_part *p = &s->parts[st->part0 + k];
        const char *src = "x";
        size_t len = 1;
        if (p->kind == MS_PART_LIT) {
            src = s->bytes + p->off;
            len = p->len;
        } else if (p->kind == MS_PART_VAR || p->kind == MS_PART_MBOX) {
            const char *val = var_value(s, p->var, v);
            if (val) {
                src = val;
                len = strlen(val);
            } else if (p->kind == MS_PART_MBOX) {
                src = "INBOX";
                len = 5;
            }
        }
        if (len > cap - n)
            len = cap - n;
        memcpy(out + n, src, len);
        n += len;
    }
    if (!st->nocrlf && cap - n >= 2) {
        memcpy(out + n, "\r\n", 2);
        n += 2;
    }
    return n;
}

/* Does the script expect a server message before its next C: line (from step i on)? */
static int reply_follows(const struct ms_script *s, size_t i)
{
    for (; i < s->nsteps; i++) {
        uint8_t ty = s->steps[i].type;
        if (ty == MS_STEP_EXPECT || ty == MS_STEP_UNORDERED || ty == MS_STEP_EITHER ||
            ty == MS_STEP_CLOSE)
            return 1;
        if (ty == MS_STEP_SEND || ty == MS_STEP_SEGMENT || ty == MS_STEP_TLS ||
            ty == MS_STEP_CONNECTION)
            return 0;
    }
    return 0;
}

int fz_case_from_script(struct fz_case *c, const struct ms_script *s, const struct fz_vals *v)
{
    char *buf = malloc(FZ_MAX_STEP_DATA);
    size_t seg = 0;
    int in_seg = 0;

    memset(c, 0, sizeof(*c));
    if (!buf)
        return -1;
    for (size_t i = 0; i < s->nsteps; i++) {
        const struct ms_step *st = &s->steps[i];
        if (st->type == MS_STEP_CONNECTION)
            break;
        if (st->type == MS_STEP_SEGMENT) {
            in_seg = 1;
            seg = 0;
        } else if (st->type == MS_STEP_END && in_seg) {
            in_seg = 0;
            if (seg && fz_case_add(c, FZ_SEND, buf, seg) != 0)
                break;
            if (seg && !reply_follows(s, i + 1))
                c->steps[c->n - 1].flags |= FZ_NOREPLY;
        } else if (st->type == MS_STEP_SEND) {
            if (in_seg) {
                seg += render(s, st, v, buf + seg, FZ_MAX_STEP_DATA - seg);
            } else {
                size_t n = render(s, st, v, buf, FZ_MAX_STEP_DATA);
                if (fz_case_add(c, FZ_SEND, buf, n) != 0)
                    break;
                if (!reply_follows(s, i + 1))
                    c->steps[c->n - 1].flags |= FZ_NOREPLY;
            }
        } else if (st->type == MS_STEP_TLS) {
            if (fz_case_add(c, FZ_TLS, NULL, 0) != 0)
                break;
        } else if (st->type == MS_STEP_TLS_CLOSE) {
            if (fz_case_add(c, FZ_TLS_CLOSE, NULL, 0) != 0)
                break;
        }
    }
    free(buf);
    if (c->n == 0) {
        fz_case_free(c);
        return -1;
    }
    return 0;
}

/* ---- mutations ---- */

/* Replace data[off..off+del) of step st by rep[0..n). 0 or -1. */
static int step_splice(struct fz_step *st, size_t off, size_t del, const char *rep, size_t n)
{
    if (off > st->len)
        off = st->len;
    if (del > st->len - off)
        del = st->len - off;
    size_t len = st->len - del + n;
    if (len > FZ_MAX_STEP_DATA || len == 0)
        return -1;
    char *d = malloc(len);
    if (!d)
        return -1;
    memcpy(d, st->data, off);
    memcpy(d + off, rep, n);
    memcpy(d + off + n, st->data + off + del, st->len - off - del);
    free(st->data);
    st->data = d;
    st->len = len;
    return 0;
}

/* A send step at random, or -1. */
static long pick_send(const struct fz_case *c, struct ms_rng *r)
{
    size_t nsend = 0;
    for (size_t i = 0; i < c->n; i++)
        nsend += c->steps[i].op == FZ_SEND;
    if (!nsend)
        return -1;
    size_t k = ms_rng_below(r, nsend);
    for (size_t i = 0; i < c->n; i++)
        if (c->steps[i].op == FZ_SEND && k-- == 0)
            return (long)i;
    return -1;
}

/* Token boundaries: the k-th run of bytes between SP, "=", ":", "<", ">", "(", ")", "[", "]", "{",
 * "}", CR, LF. */
static int is_sep(char ch)
{
    return ch == ' ' || ch == '=' || ch == ':' || ch == '<' || ch == '>' || ch == '(' ||
           ch == ')' || ch == '[' || ch == ']' || ch == '{' || ch == '}' || ch == '\r' ||
           ch == '\n' || ch == ',';
}

/* A random token of st: [*off, *off + *len). 0, or -1 when there is none. */
static int pick_token(const struct fz_step *st, struct ms_rng *r, size_t *off, size_t *len)
{
    size_t count = 0;
    for (size_t i = 0; i < st->len; i++)
        if (!is_sep(st->data[i]) && (i == 0 || is_sep(st->data[i - 1])))
            count++;
    if (!count)
        return -1;
    size_t k = ms_rng_below(r, count);
    for (size_t i = 0; i < st->len; i++)
        if (!is_sep(st->data[i]) && (i == 0 || is_sep(st->data[i - 1])) && k-- == 0) {
            size_t e = i;
            while (e < st->len && !is_sep(st->data[e]))
                e++;
            *off = i;
            *len = e - i;
            return 0;
        }
    return -1;
}

/* Hostile values for a token: lengths at and around the protocols' limits, numbers at
 * the integer widths, literal sizes, sequence sets, SASL-like blobs. */
static size_t hostile_value(struct ms_rng *r, char *out, size_t cap)
{
    static const char *const fixed[] = {
        "0",
        "-1",
        "4294967295",
        "4294967296",
        "18446744073709551615",
        "99999999999999999999999",
        "*",
        "1:*",
        "*:1",
        "4294967295:1",
        "1,2,3,1:2,*",
        "0:0",
        "1:4294967296",
        "{4294967295}",
        "{4294967296+}",
        "{0}",
        "~{10}",
        "{-1}",
        "\"\"",
        "\"\\\"",
        "()",
        "((((((((((((((((",
        "=",
        "==",
        "*",
        "AGZvbwBiYXI=",
        "=====",
        "%",
        "\\",
        "NIL",
        "<>",
        "<<>>",
        "@",
        ".",
        "..",
        "\xff\xfe",
        "\xc3\xa9",
        "&AOk-",
        "\"unterminated",
    };
    static const size_t lengths[] = {63,  64,  65,   255,  256,  257,   511,
                                     512, 513, 1000, 1001, 4096, 12289, 65536};
    size_t kind = ms_rng_below(r, 3);
    if (kind == 0) {
        const char *v = fixed[ms_rng_below(r, sizeof(fixed) / sizeof(fixed[0]))];
        size_t n = strlen(v);
        if (n > cap)
            n = cap;
        memcpy(out, v, n);
        return n;
    }
    size_t n = lengths[ms_rng_below(r, sizeof(lengths) / sizeof(lengths[0]))];
    if (n > cap)
        n = cap;
    static const char fill[] = "A9xZ=+/.";
    char ch = fill[ms_rng_below(r, sizeof(fill) - 1)];
    if (kind == 1) {
        memset(out, ch, n);
    } else { /* a run of digits: a number far beyond any width */
        for (size_t i = 0; i < n; i++)
            out[i] = (char)('1' + (char)(i % 9));
    }
    return n;
}

static const char *mut_value(struct fz_case *c, struct ms_rng *r)
{
    long i = pick_send(c, r);
    size_t off, len;
    if (i < 0 || pick_token(&c->steps[i], r, &off, &len) != 0)
        return NULL;
    char v[65536];
    size_t n = hostile_value(r, v, sizeof(v));
    return step_splice(&c->steps[i], off, len, v, n) == 0 ? "value" : NULL;
}

static const char *mut_bytes(struct fz_case *c, struct ms_rng *r)
{
    long i = pick_send(c, r);
    if (i < 0)
        return NULL;
    struct fz_step *st = &c->steps[i];
    size_t off = ms_rng_below(r, st->len + 1);
    static const char *const ins[] = {"\r",     "\n",    "\r\n",      "\0",   "\xff", "\x80",
                                      "\r\r\n", "\n.\n", "\r\n.\r\n", "\x1b", "\t",   " "};
    switch (ms_rng_below(r, 5)) {
    case 0: /* bit flip */
        if (!st->len)
            return NULL;
        off = ms_rng_below(r, st->len);
        st->data[off] = (char)(st->data[off] ^ (char)(1u << ms_rng_below(r, 8)));
        return "bitflip";
    case 1: { /* insert a control or 8-bit sequence */
        const char *s = ins[ms_rng_below(r, sizeof(ins) / sizeof(ins[0]))];
        size_t n = s[0] ? strlen(s) : 1;
        return step_splice(st, off, 0, s, n) == 0 ? "insert" : NULL;
    }
    case 2: { /* CRLF variants: the step's line ends become LF, CR or nothing */
        static const char *const ends[] = {"\n", "\r", "\r\r\n", ""};
        const char *e = ends[ms_rng_below(r, 4)];
        for (size_t k = 0; k + 1 < st->len; k++)
            if (st->data[k] == '\r' && st->data[k + 1] == '\n') {
                if (step_splice(st, k, 2, e, strlen(e)) != 0)
                    return NULL;
                return "crlf";
            }
        return NULL;
    }
    case 3: /* delete a range */
        if (st->len < 2)
            return NULL;
        return step_splice(st, off, 1 + ms_rng_below(r, 8), "", 0) == 0 ? "delete" : NULL;
    default: /* duplicate a range */
        if (!st->len)
            return NULL;
        {
            off = ms_rng_below(r, st->len);
            size_t n = 1 + ms_rng_below(r, st->len - off);
            char tmp[FZ_MAX_STEP_DATA];
            memcpy(tmp, st->data + off, n);
            return step_splice(st, off, 0, tmp, n) == 0 ? "dup-bytes" : NULL;
        }
    }
}

static const char *mut_steps(struct fz_case *c, const struct fz_case *other, struct ms_rng *r)
{
    long i = pick_send(c, r);
    if (i < 0)
        return NULL;
    switch (ms_rng_below(r, 4)) {
    case 0: /* duplicate a step */
        return case_insert(c, (size_t)i + 1, FZ_SEND, c->steps[i].data, c->steps[i].len) == 0
                   ? "dup-step"
                   : NULL;
    case 1: /* drop a step */
        if (c->n < 2)
            return NULL;
        fz_case_remove(c, (size_t)i);
        return "drop-step";
    case 2: { /* swap with the next send step */
        for (size_t k = (size_t)i + 1; k < c->n; k++)
            if (c->steps[k].op == FZ_SEND) {
                struct fz_step t = c->steps[i];
                c->steps[i] = c->steps[k];
                c->steps[k] = t;
                return "swap";
            }
        return NULL;
    }
    default: { /* a step of another seed inserted here */
        if (!other)
            return NULL;
        long j = pick_send(other, r);
        if (j < 0)
            return NULL;
        return case_insert(c, (size_t)i + ms_rng_below(r, 2), FZ_SEND, other->steps[j].data,
                           other->steps[j].len) == 0
                   ? "splice-step"
                   : NULL;
    }
    }
}

/* Byte-level splice: the head of one of our steps, the tail of one of other's. */
static const char *mut_splice(struct fz_case *c, const struct fz_case *other, struct ms_rng *r)
{
    long i = pick_send(c, r), j = other ? pick_send(other, r) : -1;
    if (i < 0 || j < 0)
        return NULL;
    struct fz_step *a = &c->steps[i];
    const struct fz_step *b = &other->steps[j];
    size_t ka = ms_rng_below(r, a->len + 1), kb = ms_rng_below(r, b->len + 1);
    return step_splice(a, ka, a->len - ka, b->data + kb, b->len - kb) == 0 ? "splice" : NULL;
}

static const char *mut_segments(struct fz_case *c, struct ms_rng *r)
{
    if (ms_rng_below(r, 2)) {
        c->pipeline = (uint8_t)!c->pipeline;
        return "pipeline";
    }
    long i = pick_send(c, r);
    if (i < 0)
        return NULL;
    c->steps[i].flags ^= FZ_BYTEWISE;
    return "bytewise";
}

static int has_tls(const struct fz_case *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->steps[i].op == FZ_TLS)
            return 1;
    return 0;
}

/* The STARTTLS command line of proto. */
static const char *starttls_line(const char *proto)
{
    return strcmp(proto, "imap") == 0   ? "st1 STARTTLS\r\n"
           : strcmp(proto, "pop3") == 0 ? "STLS\r\n"
                                        : "STARTTLS\r\n";
}

static const char *mut_tls(struct fz_case *c, const char *proto, struct ms_rng *r)
{
    size_t tls_at = c->n;
    for (size_t i = 0; i < c->n; i++)
        if (c->steps[i].op == FZ_TLS) {
            tls_at = i;
            break;
        }
    switch (ms_rng_below(r, 3)) {
    case 0: { /* close_notify in the middle of a step after TLS, then one cleartext byte */
        if (tls_at >= c->n)
            return NULL;
        size_t cand = 0;
        for (size_t i = tls_at + 1; i < c->n; i++)
            cand += c->steps[i].op == FZ_SEND;
        if (!cand)
            return NULL;
        size_t k = ms_rng_below(r, cand), i = tls_at + 1;
        for (; i < c->n; i++)
            if (c->steps[i].op == FZ_SEND && k-- == 0)
                break;
        struct fz_step *st = &c->steps[i];
        /* cut the step: inside a BDAT chunk, a DATA body or a literal when there is one */
        size_t cut = st->len ? 1 + ms_rng_below(r, st->len) : 0;
        for (size_t q = 0; q + 1 < st->len; q++)
            if (st->data[q] == '\r' && st->data[q + 1] == '\n' && q + 2 < st->len) {
                cut = q + 2 + ms_rng_below(r, st->len - q - 1);
                break;
            }
        if (cut < st->len)
            st->len = cut; /* the bytes stay allocated; len is what is sent */
        while (c->n > i + 1)
            fz_case_remove(c, c->n - 1);
        static const char bytes[] = "x\r\n.Q\x15";
        char b = bytes[ms_rng_below(r, sizeof(bytes) - 1)];
        if (fz_case_add(c, FZ_TLS_CLOSE, NULL, 0) != 0 || fz_case_add(c, FZ_SEND, &b, 1) != 0)
            return NULL;
        return "close-notify";
    }
    case 1: { /* plaintext pipelined after STARTTLS, in the same write */
        for (size_t i = 0; i + 1 < c->n; i++)
            if (c->steps[i + 1].op == FZ_TLS && c->steps[i].op == FZ_SEND) {
                long j = pick_send(c, r);
                if (j < 0)
                    return NULL;
                char tmp[FZ_MAX_STEP_DATA];
                size_t n = c->steps[j].len;
                memcpy(tmp, c->steps[j].data, n);
                return step_splice(&c->steps[i], c->steps[i].len, 0, tmp, n) == 0 ? "inject" : NULL;
            }
        return NULL;
    }
    default: { /* STARTTLS (again, or for the first time) somewhere */
        const char *l = starttls_line(proto);
        size_t at = 1 + ms_rng_below(r, c->n);
        if (case_insert(c, at, FZ_SEND, l, strlen(l)) != 0)
            return NULL;
        if (!has_tls(c) && case_insert(c, at + 1, FZ_TLS, NULL, 0) != 0)
            return NULL;
        return "starttls";
    }
    }
}

const char *fz_mutate(struct fz_case *c, const struct fz_case *other, const char *proto,
                      struct ms_rng *r)
{
    const char *last = "none";
    size_t rounds = 1 + ms_rng_below(r, 3);
    for (size_t k = 0; k < rounds; k++) {
        const char *m = NULL;
        for (int tries = 0; tries < 4 && !m; tries++) {
            size_t w = ms_rng_below(r, 100);
            if (w < 30)
                m = mut_value(c, r);
            else if (w < 55)
                m = mut_bytes(c, r);
            else if (w < 75)
                m = mut_steps(c, other, r);
            else if (w < 83)
                m = mut_splice(c, other, r);
            else if (w < 90)
                m = mut_segments(c, r);
            else
                m = mut_tls(c, proto, r);
        }
        if (m)
            last = m;
    }
    return last;
}

/* ---- minimization ---- */

size_t fz_minimize(struct fz_case *c, int (*still)(void *, const struct fz_case *), void *ctx,
                   uint64_t deadline_ms, size_t max_tries)
{
    size_t tries = 0;
    struct fz_case t;

#define BUDGET() (tries < max_tries && ms_now_ms() < deadline_ms)
    /* drop whole steps, from the end backwards (later steps are less often needed) */
    for (int changed = 1; changed && BUDGET();) {
        changed = 0;
        for (size_t i = c->n; i-- > 0 && BUDGET();) {
            if (c->n < 2 || fz_case_copy(&t, c) != 0)
                break;
            fz_case_remove(&t, i);
            tries++;
            if (still(ctx, &t)) {
                fz_case_free(c);
                *c = t;
                changed = 1;
            } else {
                fz_case_free(&t);
            }
        }
    }
    /* pipelining and byte-per-write off when they are not needed */
    if (c->pipeline && BUDGET() && fz_case_copy(&t, c) == 0) {
        t.pipeline = 0;
        tries++;
        if (still(ctx, &t)) {
            fz_case_free(c);
            *c = t;
        } else {
            fz_case_free(&t);
        }
    }
    /* shorten the longest send step: halve runs, then single bytes from the end */
    for (size_t chunk = 4096; chunk >= 1 && BUDGET(); chunk /= 2) {
        size_t longest = c->n;
        for (size_t i = 0; i < c->n; i++)
            if (c->steps[i].op == FZ_SEND &&
                (longest == c->n || c->steps[i].len > c->steps[longest].len))
                longest = i;
        if (longest == c->n)
            break;
        for (size_t off = 0; BUDGET();) {
            struct fz_step *st = &c->steps[longest];
            if (off + chunk > st->len || st->len <= chunk)
                break;
            if (fz_case_copy(&t, c) != 0)
                break;
            if (step_splice(&t.steps[longest], off, chunk, "", 0) != 0) {
                fz_case_free(&t);
                break;
            }
            tries++;
            if (still(ctx, &t)) {
                fz_case_free(c);
                *c = t;
            } else {
                fz_case_free(&t);
                off += chunk;
            }
        }
        if (chunk == 1)
            break;
    }
#undef BUDGET
    return tries;
}
