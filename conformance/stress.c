/*
 * The stress run (stress_run.h, docs/stress.md): N IMAP sessions on one
 * mailbox in one process, one poll() loop over nonblocking connections,
 * one command in flight per session. Every server message is framed and
 * parsed by the strict response parser; the typed views feed the model
 * (stress_model.c). Memory does not grow with the run's length: transcripts
 * are rings, latencies histograms, the UID cache a fixed table.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "cli_common.h"
#include "json.h"
#include "mailspec/imap_response.h"
#include "mailspec/mailspec.h"
#include "mailspec/mime.h"
#include "mailspec/pop3.h"
#include "mailspec/script.h"
#include "mailspec/smtp.h"
#include "report.h"
#include "stress.h"
#include "stress_run.h"
#include "transport.h"

/* ---- commands and their statistics ---- */

enum kind {
    K_NOOP,
    K_FETCH,
    K_FETCH_STRUCT,
    K_FETCH_BODY,
    K_UID_FETCH,
    K_STORE_ADD,
    K_STORE_REMOVE,
    K_STORE_DELETED,
    K_EXPUNGE,
    K_APPEND,
    K_SEARCH,
    K_COPY,
    K_SELECT,
    K_CP_NOOP,
    K_CP_FETCH,
    /* POP3 */
    K_P3_STAT,
    K_P3_LIST,
    K_P3_LIST1,
    K_P3_UIDL,
    K_P3_UIDL1,
    K_P3_RETR,
    K_P3_TOP,
    K_P3_NOOP,
    K_P3_QUIT,
    /* SMTP: one kind a command of the transaction */
    K_SM_MAIL,
    K_SM_RCPT,
    K_SM_DATA,
    K_SM_BODY,
    K_SM_RSET,
    K_SM_NOOP,
    K_SM_QUIT,
    K_CHECK, /* the delivery checker's UID FETCH (not in the statistics) */
    K_COUNT
};

static const char *const kind_names[K_COUNT] = {
    "NOOP",
    "FETCH",
    "FETCH-STRUCTURE",
    "FETCH-BODY",
    "UID-FETCH",
    "STORE+",
    "STORE-",
    "STORE-DELETED",
    "EXPUNGE",
    "APPEND",
    "SEARCH",
    "COPY",
    "SELECT",
    "CHECKPOINT-NOOP",
    "CHECKPOINT-FETCH",
    "STAT",
    "LIST",
    "LIST-ONE",
    "UIDL",
    "UIDL-ONE",
    "RETR",
    "TOP",
    "POP3-NOOP",
    "QUIT",
    "MAIL",
    "RCPT",
    "DATA",
    "DATA-END",
    "RSET",
    "SMTP-NOOP",
    "SMTP-QUIT",
    "CHECK-FETCH",
};

/* The POP3 mix: listings, one-message queries, bodies; QUIT now and then
 * (a new session then compares unique-ids, sizes and bodies across
 * sessions). No DELE: the maildrop is the user's. */
static const unsigned p3_weights[K_COUNT] = {
    [K_P3_STAT] = 10, [K_P3_LIST] = 10, [K_P3_LIST1] = 10, [K_P3_UIDL] = 15, [K_P3_UIDL1] = 10,
    [K_P3_RETR] = 10, [K_P3_TOP] = 10,  [K_P3_NOOP] = 10,  [K_P3_QUIT] = 2,
};

/* Weights of the random mix (imaptest-like: mostly FETCH and STORE). */
static const unsigned weights[K_COUNT] = {
    [K_NOOP] = 5,       [K_FETCH] = 20,     [K_FETCH_STRUCT] = 8,  [K_FETCH_BODY] = 5,
    [K_UID_FETCH] = 10, [K_STORE_ADD] = 15, [K_STORE_REMOVE] = 10, [K_STORE_DELETED] = 4,
    [K_EXPUNGE] = 4,    [K_APPEND] = 8,     [K_SEARCH] = 5,        [K_COPY] = 2,
    [K_SELECT] = 1,
};

/* Latency histogram: 8 buckets per power of two of microseconds. */
#define LAT_BUCKETS 256
struct hist {
    uint32_t b[LAT_BUCKETS];
    uint64_t n, max_us;
};

static unsigned lat_bucket(uint64_t us)
{
    if (us < 8)
        return (unsigned)us;
    unsigned lg = 63u - (unsigned)__builtin_clzll(us);
    unsigned sub = (unsigned)((us >> (lg - 3)) & 7u);
    unsigned b = (lg - 2) * 8 + sub;
    return b < LAT_BUCKETS ? b : LAT_BUCKETS - 1;
}

static uint64_t bucket_upper(unsigned b)
{
    if (b < 8)
        return b;
    unsigned lg = b / 8 + 2, sub = b % 8;
    return ((8ull + sub + 1) << (lg - 3)) - 1;
}

static void hist_add(struct hist *h, uint64_t us)
{
    h->b[lat_bucket(us)]++;
    h->n++;
    if (us > h->max_us)
        h->max_us = us;
}

/* The p-th percentile (0..100) in microseconds: a bucket's upper bound. */
static uint64_t hist_pct(const struct hist *h, unsigned p)
{
    if (!h->n)
        return 0;
    uint64_t want = (h->n * p + 99) / 100, seen = 0;
    for (unsigned b = 0; b < LAT_BUCKETS; b++) {
        seen += h->b[b];
        if (seen >= want && seen > 0) {
            uint64_t u = bucket_upper(b);
            return u < h->max_us ? u : h->max_us;
        }
    }
    return h->max_us;
}

/* ---- sessions ---- */

#define RING_LINES 40
#define RING_WIDTH 200

struct client {
    int id;
    int up;
    struct ms_conn conn;
    char *buf;
    size_t len, cap;
    unsigned tagn;
    char tag[24];
    int busy;
    enum kind kind;
    uint64_t sent_us;
    int selecting; /* SELECT sent, its EXISTS not yet seen */
    /* APPEND without LITERAL+: the literal waits for the continuation */
    char *lit;
    size_t litlen;
    uint64_t append_hash;
    /* UID STORE of the own keyword in flight */
    uint32_t st_uid;
    int st_own, st_add, st_seen, st_haskw;
    int bye;
    int setup;     /* setup commands: not in the statistics */
    int last_type; /* the last tagged response's type */
    uint64_t appended;
    struct ms_stress_view view;
    /* POP3 */
    struct ms_pop3_reply_state p3s;
    struct ms_stress_p3view p3v;
    int p3_cmd, p3_ok, p3_quit, p3_counted;
    uint64_t p3_msg, p3_hash;
    /* SMTP */
    int checker;  /* the IMAP session that reads delivered mail back */
    int sm_abort; /* this transaction ends with RSET after RCPT */
    uint64_t sm_serial;
    char ring[RING_LINES][RING_WIDTH];
    unsigned ring_next, ring_n;
};

#define MAX_ISSUES_KEPT 100 /* inconsistencies in the summary (all are counted) */

struct stress {
    const struct ms_stress_opts *o;
    const struct ms_run_opts *ro;
    struct client *c;
    unsigned n;
    struct ms_stress_mbox mb;
    struct ms_imap_response *resp;
    char mailbox[256];
    int literal_plus, uidplus, condstore, own_keywords;
    int pop3;
    struct ms_stress_p3slot *p3slots;
    struct ms_pop3_reply *p3r;
    struct ms_rng rng;
    /* SMTP */
    int smtp;
    unsigned nall; /* sessions, the checker included */
    struct ms_smtp_reply *smr;
    struct ms_stress_ledger led;
    char *mk, *wire; /* a message made, and its DATA form */
    size_t mkcap, wirecap;
    const char *from;
    uint32_t chk_from, chk_max_uid; /* the checker fetches UIDs from chk_from on */
    uint32_t chk_cmd_from;          /* ... and the current UID FETCH from this one */
    double settle_secs;             /* waited after the run for the last messages */
    uint64_t last_arrival_us, chk_fetches, verified, arrived_unaccepted;
    unsigned nreported[4]; /* undelivered, duplicate, altered, no-trace: shown up to 10 each */
    uint64_t nfound[4];
    /* statistics */
    uint64_t commands, sec_commands, errors, sec_errors;
    uint64_t err_timeout, err_no, err_bad, err_disconnect, err_reconnect;
    uint64_t checkpoints;
    struct hist lat[K_COUNT], sec_lat[K_COUNT];
    uint64_t count[K_COUNT];
    struct ms_json *issues;
    unsigned nissues, ninfo; /* ninfo: of level info (no effect on the exit status) */
    /* --repro: the kept issues' JSON objects and kinds, and the run's mailbox prefix */
    struct ms_json *issue_obj[MAX_ISSUES_KEPT];
    enum ms_stress_kind issue_kind[MAX_ISSUES_KEPT];
    unsigned nissue_obj;
    char prefix[16];
    FILE *log;
    int quiet, verbose;
};

static volatile sig_atomic_t stop_flag;

static void on_sigint(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint32_t rnd_below(struct stress *st, uint32_t n)
{
    return (uint32_t)ms_rng_below(&st->rng, n);
}

/* One transcript line, escaped, cut to the ring's width. */
static void ring_add(struct client *c, char dir, const char *p, size_t n)
{
    char *l = c->ring[c->ring_next];
    size_t k = 0;

    l[k++] = dir;
    l[k++] = ':';
    l[k++] = ' ';
    while (n && (p[n - 1] == '\n' || p[n - 1] == '\r'))
        n--;
    for (size_t i = 0; i < n && k + 5 < RING_WIDTH; i++) {
        unsigned char b = (unsigned char)p[i];
        if (b == '\\') {
            l[k++] = '\\';
            l[k++] = '\\';
        } else if (b < 0x20 || b >= 0x7f) {
            static const char hex[] = "0123456789ABCDEF";
            l[k++] = '\\';
            l[k++] = 'x';
            l[k++] = hex[b >> 4];
            l[k++] = hex[b & 15];
        } else {
            l[k++] = (char)b;
        }
    }
    l[k] = '\0';
    c->ring_next = (c->ring_next + 1) % RING_LINES;
    if (c->ring_n < RING_LINES)
        c->ring_n++;
}

/* The ring as .session text (oldest first), malloc'd. */
static char *ring_text(const struct client *c)
{
    size_t cap = RING_LINES * (RING_WIDTH + 1) + 1, k = 0;
    char *t = malloc(cap);
    if (!t)
        return NULL;
    unsigned first = (c->ring_next + RING_LINES - c->ring_n) % RING_LINES;
    for (unsigned i = 0; i < c->ring_n; i++) {
        const char *l = c->ring[(first + i) % RING_LINES];
        size_t n = strlen(l);
        memcpy(t + k, l, n);
        k += n;
        t[k++] = '\n';
    }
    t[k] = '\0';
    return t;
}

/* ---- inconsistencies ---- */

static void on_issue(void *ctx, const struct ms_stress_issue *is)
{
    struct stress *st = ctx;

    st->nissues++;
    if (strcmp(is->level, "info") == 0)
        st->ninfo++;
    if (st->quiet < 2)
        fprintf(stderr, "mailspec stress: inconsistency (%s, session %d): %s [%s %s]\n",
                ms_stress_kind_name(is->kind), is->session, is->text, is->rfc, is->level);
    if (st->nissues > MAX_ISSUES_KEPT)
        return;
    struct ms_json *o = ms_json_new(MS_JSON_OBJECT), *tr = ms_json_new(MS_JSON_OBJECT);
    if (!o || !tr) {
        ms_json_free(o);
        ms_json_free(tr);
        return;
    }
    ms_json_set_str(o, "kind", ms_stress_kind_name(is->kind));
    ms_json_set_str(o, "message", is->text);
    ms_json_set_str(o, "rfc", is->rfc);
    ms_json_set_str(o, "level", is->level);
    ms_json_set_num(o, "session", (uint64_t)(is->session >= 0 ? is->session : 0));
    if (is->other >= 0 && is->other != is->session)
        ms_json_set_num(o, "other_session", (uint64_t)is->other);
    if (is->uid)
        ms_json_set_num(o, "uid", is->uid);
    int who[2] = {is->session, is->other};
    for (int k = 0; k < 2; k++) {
        if (who[k] < 0 || (unsigned)who[k] >= st->nall || (k == 1 && who[1] == who[0]))
            continue;
        char *t = ring_text(&st->c[who[k]]);
        char key[16];
        snprintf(key, sizeof(key), "%d", who[k]);
        if (t) {
            ms_json_set_str(tr, key, t);
            if (st->verbose && st->quiet < 2)
                fprintf(stderr, "--- session %d, last lines:\n%s", who[k], t);
        }
        free(t);
    }
    ms_json_set(o, "transcripts", tr);
    if (st->o->repro_dir) {
        const char *why = ms_stress_repro_why_not(is->kind, !st->pop3 && !st->smtp);
        if (why) {
            ms_json_set(o, "replayable", ms_json_new_bool(0));
            ms_json_set_str(o, "not_replayable_because", why);
        } else if (st->nissue_obj < MAX_ISSUES_KEPT) { /* its reproducer runs at the end */
            st->issue_obj[st->nissue_obj] = o;
            st->issue_kind[st->nissue_obj++] = is->kind;
        }
    }
    ms_json_append(st->issues, o);
}

static void syntax_issue(struct stress *st, struct client *c, const struct ms_error *err, size_t at)
{
    struct ms_stress_issue is;
    memset(&is, 0, sizeof(is));
    is.kind = MS_SK_SYNTAX;
    is.session = c->id;
    is.other = -1;
    is.rfc = err->rule                 ? err->rule
             : st->smtp && !c->checker ? "RFC 5321 4.2"
             : st->pop3                ? "RFC 1939 3"
                                       : "RFC 9051 9";
    is.level = "MUST";
    size_t show = c->len - at < 60 ? c->len - at : 60;
    char esc[256];
    size_t k = 0;
    for (size_t i = 0; i < show && k + 5 < sizeof(esc); i++) {
        unsigned char b = (unsigned char)c->buf[at + i];
        if (b < 0x20 || b >= 0x7f || b == '\\')
            k += (size_t)snprintf(esc + k, sizeof(esc) - k, "\\x%02X", b);
        else
            esc[k++] = (char)b;
    }
    esc[k] = '\0';
    snprintf(is.text, sizeof(is.text), "the strict parser rejects a response at byte %zu: %s (%s)",
             err->offset, err->reason ? err->reason : "invalid", esc);
    st->mb.issues++;
    on_issue(st, &is);
}

/* ---- connections ---- */

static void client_drop(struct client *c)
{
    ms_conn_close(&c->conn);
    c->up = 0;
    c->busy = 0;
    c->len = 0;
    free(c->lit);
    c->lit = NULL;
}

static int client_send(struct stress *st, struct client *c, const char *p, size_t n,
                       const char *shown)
{
    char err[200];
    ring_add(c, 'C', shown ? shown : p, shown ? strlen(shown) : n);
    if (ms_conn_write(&c->conn, p, n, ms_now_ms() + st->ro->timeout_ms, err, sizeof(err)) != 0) {
        if (st->quiet < 2 && st->verbose)
            fprintf(stderr, "mailspec stress: session %d: %s\n", c->id, err);
        return -1;
    }
    return 0;
}

/* ---- reading the typed views ---- */

static int kw(struct ms_slice s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.len != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char a = s.ptr[i];
        if (a >= 'a' && a <= 'z')
            a = (char)(a - 32);
        if (a != lit[i])
            return 0;
    }
    return 1;
}

static const struct ms_imap_node *node(const struct ms_imap_response *r, uint32_t i)
{
    return i && i <= r->nnodes ? &r->nodes[i] : NULL;
}

/* A number written as NUMBER or ATOM (sequence sets of one number). */
static int node_u32(const struct ms_imap_node *n, uint32_t *out)
{
    uint64_t v = 0;
    if (!n)
        return -1;
    if (n->type == MS_IMAP_N_NUMBER)
        v = n->num;
    else if (n->type != MS_IMAP_N_ATOM ||
             ms_number_parse(n->s.ptr, n->s.len, UINT32_MAX, &v) != MS_OK)
        return -1;
    if (v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Hash a string's content: quoted strings unescaped, NIL as "". */
static uint64_t hash_string(uint64_t h, const struct ms_imap_node *n, int fold)
{
    for (size_t i = 0; i < n->s.len; i++) {
        char b = n->s.ptr[i];
        if (n->type == MS_IMAP_N_QUOTED && b == '\\' && i + 1 < n->s.len)
            b = n->s.ptr[++i];
        if (fold && b >= 'A' && b <= 'Z')
            b = (char)(b + 32);
        h = ms_stress_hash(h, &b, 1);
    }
    return h;
}

/* A canonical hash of a BODYSTRUCTURE tree: strings by content (quoted or
 * literal, case folded, NIL as ""), numbers by value, lists by shape. */
static uint64_t hash_tree(const struct ms_imap_response *r, uint32_t i, uint64_t h, unsigned depth)
{
    for (const struct ms_imap_node *n = node(r, i); n && depth < 64; n = node(r, n->next)) {
        char t;
        switch (n->type) {
        case MS_IMAP_N_LIST:
        case MS_IMAP_N_SEQ:
            h = ms_stress_hash(h, "(", 1);
            h = hash_tree(r, n->child, h, depth + 1);
            t = ')';
            break;
        case MS_IMAP_N_NUMBER:
            h = ms_stress_hash(h, &n->num, sizeof(n->num));
            t = 'n';
            break;
        case MS_IMAP_N_NIL:
            t = 's';
            break;
        default:
            h = hash_string(h, n, 1);
            t = 's';
            break;
        }
        h = ms_stress_hash(h, &t, 1);
    }
    return h;
}

/* The items of a FETCH response into f (zeroed by the caller); the BODY[]
 * value is also returned (NULL: none). */
static const struct ms_imap_node *fetch_items(const struct ms_imap_response *r,
                                              struct ms_stress_fetch *fp)
{
    struct ms_stress_fetch f = *fp;
    const struct ms_imap_node *list = node(r, r->data), *body = NULL;
    for (const struct ms_imap_node *a = list ? node(r, list->child) : NULL; a;
         a = node(r, a->next)) {
        const struct ms_imap_node *name = node(r, a->child);
        const struct ms_imap_node *val = name ? node(r, name->next) : NULL;
        if (!name || !val)
            continue;
        if (kw(name->s, "UID")) {
            (void)node_u32(val, &f.uid);
        } else if (kw(name->s, "FLAGS")) {
            f.has_flags = 1;
            for (const struct ms_imap_node *fl = node(r, val->child); fl; fl = node(r, fl->next))
                ms_stress_flags_add(&f.flags, fl->s.ptr, fl->s.len);
        } else if (kw(name->s, "RFC822.SIZE")) {
            f.has_size = node_u32(val, &f.size) == 0;
        } else if (kw(name->s, "BODYSTRUCTURE")) {
            f.has_bs = 1;
            f.bs_hash = hash_tree(r, val->child, MS_STRESS_HASH_INIT, 0);
        } else if (kw(name->s, "BODY[]") && a->num == 0 && val->type != MS_IMAP_N_NIL) {
            f.has_body = 1;
            f.body_hash = hash_string(MS_STRESS_HASH_INIT, val, 0);
            body = val;
        } else if (kw(name->s, "MODSEQ")) {
            const struct ms_imap_node *m = node(r, val->child);
            if (m && m->type == MS_IMAP_N_NUMBER)
                f.modseq = m->num;
        }
    }
    *fp = f;
    return body;
}

static void on_fetch(struct client *c, const struct ms_imap_response *r)
{
    struct ms_stress_fetch f;

    memset(&f, 0, sizeof(f));
    if (r->number > UINT32_MAX)
        return;
    f.seq = (uint32_t)r->number;
    (void)fetch_items(r, &f);
    uint32_t uid = ms_stress_view_fetch(&c->view, &f);
    if (c->busy && c->st_own && f.has_flags && uid && uid == c->st_uid) {
        c->st_seen = 1;
        c->st_haskw = (int)((f.flags.own >> c->id) & 1);
    }
}

/* The first ATOM after a code's name, and the code name itself. */
static const struct ms_imap_node *code_arg(const struct ms_imap_response *r, const char *name,
                                           unsigned k)
{
    const struct ms_imap_node *cn = node(r, r->code);
    const struct ms_imap_node *n = cn ? node(r, cn->child) : NULL;
    if (!n || !kw(n->s, name))
        return NULL;
    for (n = node(r, n->next); n && k; k--)
        n = node(r, n->next);
    return n;
}

static void on_capability(struct stress *st, const struct ms_imap_response *r, uint32_t first)
{
    for (const struct ms_imap_node *n = node(r, first); n; n = node(r, n->next)) {
        if (kw(n->s, "LITERAL+"))
            st->literal_plus = 1;
        else if (kw(n->s, "UIDPLUS"))
            st->uidplus = 1;
        else if (kw(n->s, "CONDSTORE"))
            st->condstore = 1;
    }
}

static void finish_command(struct stress *st, struct client *c, const struct ms_imap_response *r);
static void chk_response(struct stress *st, struct client *c, const struct ms_imap_response *r);

/* One parsed server message. */
static void on_response(struct stress *st, struct client *c, const struct ms_imap_response *r)
{
    size_t first = r->raw.len;
    const char *lf = memchr(r->raw.ptr, '\n', r->raw.len);
    if (lf)
        first = (size_t)(lf - r->raw.ptr) + 1;
    ring_add(c, 'S', r->raw.ptr, first);

    if (r->kind == MS_IMAP_CONTINUE) {
        if (c->lit) {
            char *lit = c->lit;
            c->lit = NULL;
            if (client_send(st, c, lit, c->litlen, "(the message)") != 0)
                c->bye = 1;
            free(lit);
        }
        return;
    }
    if (r->kind == MS_IMAP_TAGGED) {
        finish_command(st, c, r);
        return;
    }
    if (c->checker) {
        chk_response(st, c, r);
        return;
    }
    switch (r->type) {
    case MS_IMAP_EXISTS:
        if (r->number <= UINT32_MAX) {
            if (c->selecting) {
                ms_stress_view_reset(&c->view);
                c->selecting = 0;
            }
            (void)ms_stress_view_exists(&c->view, (uint32_t)r->number);
        }
        break;
    case MS_IMAP_EXPUNGE:
        if (r->number <= UINT32_MAX && !c->selecting)
            ms_stress_view_expunge(&c->view, (uint32_t)r->number);
        break;
    case MS_IMAP_FETCH:
        if (!c->selecting)
            on_fetch(c, r);
        break;
    case MS_IMAP_CAPABILITY:
        on_capability(st, r, r->data);
        break;
    case MS_IMAP_OK:
        if (code_arg(r, "CAPABILITY", 0))
            on_capability(st, r, (uint32_t)(code_arg(r, "CAPABILITY", 0) - r->nodes));
        else if (code_arg(r, "PERMANENTFLAGS", 0)) {
            const struct ms_imap_node *l = code_arg(r, "PERMANENTFLAGS", 0);
            for (const struct ms_imap_node *fl = node(r, l->child); fl; fl = node(r, fl->next))
                if (fl->s.len == 2 && fl->s.ptr[0] == '\\' && fl->s.ptr[1] == '*')
                    st->own_keywords = 1;
        }
        break;
    case MS_IMAP_BYE:
        c->bye = 1;
        break;
    default:
        break;
    }
}

static void finish_command(struct stress *st, struct client *c, const struct ms_imap_response *r)
{
    if (!c->busy)
        return;
    if (r->tag.len != strlen(c->tag) || memcmp(r->tag.ptr, c->tag, r->tag.len) != 0)
        return; /* not ours: counted by the tag check of the next command */
    uint64_t us = now_us() - c->sent_us;
    c->busy = 0;
    c->last_type = r->type;
    ms_stress_view_command_done(&c->view);
    if (c->setup) {
        c->selecting = 0;
        return;
    }
    st->commands++;
    st->sec_commands++;
    st->count[c->kind]++;
    hist_add(&st->lat[c->kind], us);
    hist_add(&st->sec_lat[c->kind], us);
    if (r->type == MS_IMAP_NO) {
        st->err_no++;
    } else if (r->type == MS_IMAP_BAD) {
        st->err_bad++;
        st->errors++;
        st->sec_errors++;
    }
    if (c->kind == K_APPEND && r->type == MS_IMAP_OK) {
        const struct ms_imap_node *u = code_arg(r, "APPENDUID", 1);
        uint32_t uid;
        if (u && node_u32(u, &uid) == 0)
            ms_stress_appended(&st->mb, c->id, uid, c->append_hash);
    }
    if (c->st_own) {
        if (r->type == MS_IMAP_OK)
            ms_stress_own_store(&st->mb, c->id, c->st_uid, c->st_add, c->st_seen, c->st_haskw);
        else
            ms_stress_own_unknown(&st->mb, c->id, c->st_uid);
        c->st_own = 0;
    }
    if (c->kind == K_SELECT && r->type != MS_IMAP_OK)
        c->bye = 1; /* no mailbox selected: start the session again */
    c->selecting = 0;
}

/* ---- POP3 ---- */

#define P3_SLOTS 4096 /* POP3 unique-ids remembered across sessions */

/* A command's answer is complete (POP3, SMTP): the statistics, setup steps
 * aside. Returns 1 when it was a setup step. */
static int command_done(struct stress *st, struct client *c, int ok)
{
    uint64_t us = now_us() - c->sent_us;
    c->busy = 0;
    c->last_type = ok ? MS_IMAP_OK : MS_IMAP_NO;
    if (c->setup)
        return 1;
    st->commands++;
    st->sec_commands++;
    st->count[c->kind]++;
    hist_add(&st->lat[c->kind], us);
    hist_add(&st->sec_lat[c->kind], us);
    if (!ok)
        st->err_no++;
    return 0;
}

/* A POP3 command's reply is complete. */
static void p3_done(struct stress *st, struct client *c, int ok)
{
    if (!c->busy)
        return;
    if (c->p3_cmd == MS_POP3_QUIT)
        c->p3_quit = 1;
    (void)command_done(st, c, ok);
}

static void on_p3(struct stress *st, struct client *c, const struct ms_pop3_reply *r)
{
    struct ms_stress_p3view *v = &c->p3v;

    if (r->type != MS_POP3_R_BODY)
        ring_add(c, 'S', r->raw.ptr, r->raw.len);
    switch (r->type) {
    case MS_POP3_R_GREETING:
        c->busy = 0;
        c->last_type = r->ok ? MS_IMAP_OK : MS_IMAP_NO;
        break;
    case MS_POP3_R_STATUS:
        c->p3_ok = r->ok;
        if (r->ok && r->answers == MS_POP3_STAT && r->count <= UINT32_MAX) {
            if (!c->p3_counted) {
                if (ms_stress_p3_begin(v, (uint32_t)r->count) != 0)
                    c->bye = 1;
                c->p3_counted = 1;
            } else {
                ms_stress_p3_stat(v, (uint32_t)r->count);
            }
        } else if (r->ok && r->answers == MS_POP3_LIST && r->has_arg && c->p3_counted) {
            ms_stress_p3_size(v, r->msg, r->octets);
        } else if (r->ok && r->answers == MS_POP3_UIDL && r->has_arg && c->p3_counted) {
            ms_stress_p3_uid(v, r->msg, r->uid.ptr, r->uid.len);
        }
        if (!r->multiline)
            p3_done(st, c, r->ok);
        break;
    case MS_POP3_R_SCAN:
        if (c->p3_counted)
            ms_stress_p3_size(v, r->msg, r->octets);
        break;
    case MS_POP3_R_UID:
        if (c->p3_counted)
            ms_stress_p3_uid(v, r->msg, r->uid.ptr, r->uid.len);
        break;
    case MS_POP3_R_BODY:
        ring_add(c, 'S', ".", 1);
        if (r->answers == MS_POP3_RETR && c->p3_counted)
            ms_stress_p3_body(v, c->p3_msg, c->p3_hash);
        p3_done(st, c, 1);
        break;
    case MS_POP3_R_END:
        p3_done(st, c, 1);
        break;
    default:
        break;
    }
}

/* Drop the off parsed bytes from c->buf; rc, or -1 once the server said BYE. */
static int drop_parsed(struct client *c, size_t off, int rc)
{
    if (off) {
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
    }
    return c->bye ? -1 : rc;
}

/*
 * A RETR/TOP body is the stored message, relayed: its own syntax (lines over
 * 1000 octets, NUL, a bare CR inside a CRLF-ended line) is the message's, not
 * the server's. Only the POP3 framing is judged there: CRLF line ends, dot
 * stuffing and the "." that ends the response.
 */
static int p3_content_fault(const struct ms_error *err, const char *line, size_t avail)
{
    int stuffed_ok = line[0] != '.' || (avail > 1 && line[1] == '.');
    return err->skip > 0 && err->offset < avail && stuffed_ok &&
           (line[err->offset] == '\0' || line[err->offset] == '\r');
}

static int p3_parse(struct stress *st, struct client *c)
{
    size_t off = 0;
    int rc = 0;
    struct ms_limits body_lim = st->ro->lim;

    /* body lines may be as long as a message (client_read bounds the buffer) */
    if (body_lim.pop3_text_line < st->ro->max_message)
        body_lim.pop3_text_line = st->ro->max_message;
    while (off < c->len) {
        struct ms_error err = {0};
        int done = 0;
        int body = c->p3s.multi == MS_POP3_RETR || c->p3s.multi == MS_POP3_TOP;
        ssize_t n = ms_pop3_replies_kind.parse(&c->p3s, body ? &body_lim : &st->ro->lim,
                                               c->buf + off, c->len - off, st->p3r, &done, &err);
        if (n == MS_PARTIAL)
            break;
        if (n < 0 && body && p3_content_fault(&err, c->buf + off, c->len - off))
            n = (ssize_t)err.skip; /* a body line all the same */
        if (n < 0) {
            syntax_issue(st, c, &err, off);
            rc = -1;
            break;
        }
        if (!done) /* a body line, as sent (dot-stuffed) */
            c->p3_hash = ms_stress_hash(c->p3_hash, c->buf + off, (size_t)n);
        else
            on_p3(st, c, st->p3r);
        off += (size_t)n;
    }
    return drop_parsed(c, off, rc);
}

static void on_sm(struct stress *st, struct client *c, const struct ms_smtp_reply *r);

/* One IMAP response or SMTP reply at p: parsed and handled. */
static ssize_t one_message(struct stress *st, struct client *c, const char *p, size_t n,
                           struct ms_error *err)
{
    ssize_t k;
    if (st->smtp && !c->checker) {
        k = ms_smtp_reply_parse(&st->ro->lim, p, n, st->smr, err);
        if (k > 0)
            on_sm(st, c, st->smr);
    } else {
        k = ms_imap_response_parse(&st->ro->lim, p, n, st->resp, err);
        if (k > 0)
            on_response(st, c, st->resp);
    }
    return k;
}

/* Parse what is buffered. Returns -1 when the session must be dropped. */
static int client_parse(struct stress *st, struct client *c)
{
    size_t off = 0;
    int rc = 0;

    if (st->pop3)
        return p3_parse(st, c);

    while (off < c->len) {
        struct ms_error err = {0};
        ssize_t n = one_message(st, c, c->buf + off, c->len - off, &err);
        if (n == MS_PARTIAL)
            break;
        if (n < 0) {
            syntax_issue(st, c, &err, off);
            rc = -1;
            break;
        }
        off += (size_t)n;
    }
    return drop_parsed(c, off, rc);
}

/* Read what the connection has now (no waiting). 0, or -1 closed/failed. */
static int client_read(struct stress *st, struct client *c)
{
    char err[200];
    for (;;) {
        if (c->cap - c->len < 16384) {
            size_t cap = c->cap ? c->cap * 2 : 65536;
            if (cap > st->ro->max_message + 65536)
                return -1;
            char *b = realloc(c->buf, cap);
            if (!b)
                return -1;
            c->buf = b;
            c->cap = cap;
        }
        ssize_t n =
            ms_conn_read(&c->conn, c->buf + c->len, c->cap - c->len, 0, NULL, err, sizeof(err));
        if (n == -2)
            return 0;
        if (n <= 0)
            return -1;
        c->len += (size_t)n;
        if (client_parse(st, c) != 0)
            return -1;
        if (!ms_conn_pending(&c->conn) && c->cap - c->len >= 16384)
            continue;
    }
}

/* Send bytes as command k (one in flight). */
static int send_raw(struct stress *st, struct client *c, enum kind k, const char *b, size_t n,
                    const char *shown)
{
    c->kind = k;
    c->busy = 1;
    c->sent_us = now_us();
    return client_send(st, c, b, n, shown);
}

/* Send one command (tag added). shown: the transcript's form, or NULL. */
static int send_command(struct stress *st, struct client *c, enum kind k, const char *line,
                        size_t n, const char *shown)
{
    char head[32];
    snprintf(c->tag, sizeof(c->tag), "%c%u", 'a' + (char)(c->id % 26), ++c->tagn);
    int h = snprintf(head, sizeof(head), "%s ", c->tag);
    size_t total = (size_t)h + n;
    char stackbuf[1024];
    char *b = total <= sizeof(stackbuf) ? stackbuf : malloc(total);
    if (!b)
        return -1;
    memcpy(b, head, (size_t)h);
    memcpy(b + h, line, n);
    char shown_buf[RING_WIDTH];
    const char *sh = NULL;
    if (shown) {
        snprintf(shown_buf, sizeof(shown_buf), "%s %s", c->tag, shown);
        sh = shown_buf;
    } else {
        /* the first line only (an APPEND's message follows it) */
        const char *lf = memchr(b, '\n', total);
        size_t fl = lf ? (size_t)(lf - b) : total;
        if (fl >= sizeof(shown_buf))
            fl = sizeof(shown_buf) - 1;
        memcpy(shown_buf, b, fl);
        shown_buf[fl] = '\0';
        sh = shown_buf;
    }
    int rc = send_raw(st, c, k, b, total, sh);
    if (b != stackbuf)
        free(b);
    return rc;
}

/* Wait for the current command's tagged response (setup steps). Returns 0 on
 * OK, 1 on NO/BAD, -1 on a closed connection or timeout. */
static int wait_tagged(struct stress *st, struct client *c, int *ok)
{
    uint64_t deadline = ms_now_ms() + st->ro->timeout_ms;
    char err[200];
    *ok = 0;
    while (c->busy) {
        if (ms_now_ms() >= deadline || stop_flag)
            return -1;
        if (c->cap - c->len < 16384) {
            size_t cap = c->cap ? c->cap * 2 : 65536;
            char *b = cap <= st->ro->max_message + 65536 ? realloc(c->buf, cap) : NULL;
            if (!b)
                return -1;
            c->buf = b;
            c->cap = cap;
        }
        ssize_t n = ms_conn_read(&c->conn, c->buf + c->len, c->cap - c->len, deadline, NULL, err,
                                 sizeof(err));
        if (n <= 0)
            return -1;
        c->len += (size_t)n;
        if (client_parse(st, c) != 0)
            return -1;
    }
    *ok = c->last_type == MS_IMAP_OK;
    return 0;
}

static int sync_command(struct stress *st, struct client *c, enum kind k, const char *line,
                        const char *shown, int *ok)
{
    c->setup = 1;
    int rc = send_command(st, c, k, line, strlen(line), shown) != 0 ? -1 : wait_tagged(st, c, ok);
    c->setup = 0;
    return rc;
}

/* An IMAP quoted string of s (no CR, LF or NUL: checked by the caller). */
static void quoted(char *out, size_t cap, const char *s)
{
    size_t k = 0;
    if (cap < 3)
        return;
    out[k++] = '"';
    for (; *s && k + 3 < cap; s++) {
        if (*s == '"' || *s == '\\')
            out[k++] = '\\';
        out[k++] = *s;
    }
    out[k++] = '"';
    out[k] = '\0';
}

/* The greeting: one untagged response. */
static int read_greeting(struct stress *st, struct client *c, char *err, size_t errcap)
{
    uint64_t deadline = ms_now_ms() + st->ro->timeout_ms;
    for (;;) {
        struct ms_error pe = {0};
        if (c->len) {
            ssize_t n = ms_imap_response_parse(&st->ro->lim, c->buf, c->len, st->resp, &pe);
            if (n > 0) {
                on_response(st, c, st->resp);
                memmove(c->buf, c->buf + n, c->len - (size_t)n);
                c->len -= (size_t)n;
                if (st->resp->type == MS_IMAP_BYE) {
                    snprintf(err, errcap, "the server greeted with BYE");
                    return -1;
                }
                return 0;
            }
            if (n != MS_PARTIAL) {
                syntax_issue(st, c, &pe, 0);
                snprintf(err, errcap, "the greeting is not a valid IMAP response");
                return -1;
            }
        }
        if (!c->buf || c->cap - c->len < 4096) {
            size_t cap = c->cap ? c->cap * 2 : 65536;
            char *b = realloc(c->buf, cap);
            if (!b)
                return -1;
            c->buf = b;
            c->cap = cap;
        }
        ssize_t n =
            ms_conn_read(&c->conn, c->buf + c->len, c->cap - c->len, deadline, NULL, err, errcap);
        if (n == -2)
            snprintf(err, errcap, "no greeting within --timeout");
        if (n == 0)
            snprintf(err, errcap, "the server closed the connection before its greeting");
        if (n <= 0)
            return -1;
        c->len += (size_t)n;
    }
}

/* The host a session connects to: the checker of an SMTP run may have its own. */
static const char *client_host(const struct stress *st, const struct client *c)
{
    return c->checker && st->o->check_host ? st->o->check_host : st->ro->host;
}

/* After a positive STARTTLS (STLS) answer: nothing may come before TLS. */
static int tls_upgrade(struct stress *st, struct client *c, const char *what, char *err,
                       size_t errcap)
{
    if (c->len) {
        snprintf(err, errcap, "the server sent data after its %s answer, before TLS", what);
        return -1;
    }
    return ms_conn_tls(&c->conn, client_host(st, c), &st->ro->tlso,
                       ms_now_ms() + st->ro->timeout_ms, err, errcap);
}

/* POP3 and SMTP: connect (implicit TLS if asked) and wait for the greeting,
 * the first reply. 0 when it is positive, 1 when not, -1 on an error. */
static int line_open(struct stress *st, struct client *c, char *err, size_t errcap)
{
    const struct ms_run_opts *ro = st->ro;
    int ok;

    c->len = 0;
    c->busy = 0;
    c->bye = 0;
    c->p3_quit = 0;
    if (ms_conn_open(&c->conn, ro->host, ro->port, ms_now_ms() + ro->timeout_ms, err, errcap) != 0)
        return -1;
    if (ro->tls == MS_TLS_IMPLICIT &&
        ms_conn_tls(&c->conn, ro->host, &ro->tlso, ms_now_ms() + ro->timeout_ms, err, errcap) != 0)
        return -1;
    c->busy = 1;
    c->setup = 1;
    int rc = wait_tagged(st, c, &ok);
    c->setup = 0;
    return rc != 0 || !ok ? 1 : 0;
}

/*
 * Connect, greet, STARTTLS, LOGIN, CAPABILITY, SELECT. first: the first
 * session of the run, which also creates the mailbox. Returns 0, or -1 with
 * a message in err.
 */
static int client_setup(struct stress *st, struct client *c, int first, char *err, size_t errcap)
{
    const struct ms_run_opts *ro = st->ro;
    uint64_t deadline = ms_now_ms() + ro->timeout_ms;
    char line[600], u[260], p[260];
    int ok;

    c->len = 0;
    c->busy = 0;
    c->bye = 0;
    c->selecting = 0;
    c->st_own = 0;
    /* the checker of an SMTP run: the recipient's IMAP port */
    const char *port = c->checker ? st->o->check_port : ro->port;
    enum ms_tls_mode tls = c->checker ? st->o->check_tls : ro->tls;
    if (ms_conn_open(&c->conn, client_host(st, c), port, deadline, err, errcap) != 0)
        return -1;
    if (tls == MS_TLS_IMPLICIT &&
        ms_conn_tls(&c->conn, client_host(st, c), &ro->tlso, deadline, err, errcap) != 0)
        return -1;
    if (read_greeting(st, c, err, errcap) != 0)
        return -1;
    if (tls == MS_TLS_STARTTLS) {
        if (sync_command(st, c, K_NOOP, "STARTTLS\r\n", NULL, &ok) != 0 || !ok) {
            snprintf(err, errcap, "STARTTLS was refused or not answered");
            return -1;
        }
        if (tls_upgrade(st, c, "STARTTLS", err, errcap) != 0)
            return -1;
    }
    quoted(u, sizeof(u), ro->user);
    quoted(p, sizeof(p), ro->password);
    snprintf(line, sizeof(line), "LOGIN %s %s\r\n", u, p);
    char shown[300];
    snprintf(shown, sizeof(shown), "LOGIN %s ${password}", u);
    int rc = sync_command(st, c, K_NOOP, line, shown, &ok);
    memset(line, 0, sizeof(line));
    memset(p, 0, sizeof(p));
    if (rc != 0 || !ok) {
        snprintf(err, errcap, "LOGIN as %s was refused or not answered", ro->user);
        return -1;
    }
    if (first && sync_command(st, c, K_NOOP, "CAPABILITY\r\n", NULL, &ok) != 0) {
        snprintf(err, errcap, "CAPABILITY was not answered");
        return -1;
    }
    /* CONDSTORE on from the start of the session (RFC 7162 3.1), not by
     * the first FETCH MODSEQ; its result does not matter */
    c->view.modseq_armed = c->view.modseq_in_cmd = 0;
    if (st->condstore && sync_command(st, c, K_NOOP, "ENABLE CONDSTORE\r\n", NULL, &ok) != 0) {
        snprintf(err, errcap, "ENABLE was not answered");
        return -1;
    }
    if (first) {
        /* servers that keep every mailbox under INBOX (Cyrus without
         * altnamespace) refuse a top-level name: try INBOX's children */
        static const char *const prefixes[] = {"", "INBOX.", "INBOX/"};
        char base[256];
        snprintf(base, sizeof(base), "%s", st->mailbox);
        for (size_t k = 0; k < sizeof(prefixes) / sizeof(prefixes[0]); k++) {
            char mb[300];
            snprintf(st->mailbox, sizeof(st->mailbox), "%s%s", prefixes[k], base);
            quoted(mb, sizeof(mb), st->mailbox);
            snprintf(line, sizeof(line), "CREATE %s\r\n", mb);
            if (sync_command(st, c, K_NOOP, line, NULL, &ok) != 0) {
                snprintf(err, errcap, "CREATE was not answered");
                return -1;
            }
            snprintf(st->prefix, sizeof(st->prefix), "%s", prefixes[k]);
            if (ok || st->o->mailbox)
                break; /* --mailbox: used as given (it may exist) */
        }
        if (!ok && !st->o->mailbox) {
            snprintf(err, errcap, "CREATE %s (or under INBOX) was refused", base);
            return -1;
        }
    }
    char mb[300];
    quoted(mb, sizeof(mb), st->mailbox);
    snprintf(line, sizeof(line), "%s %s\r\n", c->checker ? "EXAMINE" : "SELECT", mb);
    c->selecting = 1;
    if (sync_command(st, c, K_SELECT, line, NULL, &ok) != 0 || !ok) {
        snprintf(err, errcap, "SELECT %s was refused or not answered", st->mailbox);
        return -1;
    }
    c->up = 1;
    return 0;
}

/* Send a POP3 command line (CRLF added). */
static int p3_send(struct stress *st, struct client *c, enum kind k, enum ms_pop3_cmd cmd,
                   int has_arg, const char *line, const char *shown)
{
    char b[600];
    int n = snprintf(b, sizeof(b), "%s\r\n", line);
    if (n < 0 || (size_t)n >= sizeof(b))
        return -1;
    ms_pop3_replies_expect(&c->p3s, cmd, has_arg);
    c->p3_cmd = cmd;
    c->p3_ok = 0;
    c->p3_hash = MS_STRESS_HASH_INIT;
    int rc = send_raw(st, c, k, b, (size_t)n, shown ? shown : line);
    memset(b, 0, sizeof(b));
    return rc;
}

static int p3_sync(struct stress *st, struct client *c, enum ms_pop3_cmd cmd, int has_arg,
                   const char *line, const char *shown, int *ok)
{
    c->setup = 1;
    int rc =
        p3_send(st, c, K_P3_NOOP, cmd, has_arg, line, shown) != 0 ? -1 : wait_tagged(st, c, ok);
    c->setup = 0;
    return rc;
}

/* Connect, greeting, STLS, USER/PASS, STAT (the session's count). */
static int p3_setup(struct stress *st, struct client *c, char *err, size_t errcap)
{
    const struct ms_run_opts *ro = st->ro;
    char line[600], shown[300];
    int ok;

    c->p3_counted = 0;
    ms_pop3_replies_kind.init(&c->p3s, &ro->lim);
    int rc = line_open(st, c, err, errcap);
    if (rc != 0) {
        if (rc > 0)
            snprintf(err, errcap, "no POP3 greeting (+OK) within --timeout");
        return -1;
    }
    if (ro->tls == MS_TLS_STARTTLS) {
        if (p3_sync(st, c, MS_POP3_STLS, 0, "STLS", NULL, &ok) != 0 || !ok) {
            snprintf(err, errcap, "STLS was refused or not answered");
            return -1;
        }
        if (tls_upgrade(st, c, "STLS", err, errcap) != 0)
            return -1;
    }
    snprintf(line, sizeof(line), "USER %s", ro->user);
    if (p3_sync(st, c, MS_POP3_USER, 1, line, NULL, &ok) != 0 || !ok) {
        snprintf(err, errcap, "USER %s was refused or not answered", ro->user);
        return -1;
    }
    snprintf(line, sizeof(line), "PASS %s", ro->password);
    snprintf(shown, sizeof(shown), "PASS ${password}");
    rc = p3_sync(st, c, MS_POP3_PASS, 1, line, shown, &ok);
    memset(line, 0, sizeof(line));
    if (rc != 0 || !ok) {
        snprintf(err, errcap, "PASS for %s was refused or not answered", ro->user);
        return -1;
    }
    if (p3_sync(st, c, MS_POP3_STAT, 0, "STAT", NULL, &ok) != 0 || !ok || !c->p3_counted) {
        snprintf(err, errcap, "STAT was refused or not answered");
        return -1;
    }
    c->up = 1;
    return 0;
}

static int p3_send_random(struct stress *st, struct client *c)
{
    char line[64];
    unsigned total = 0;
    for (int k = 0; k < K_COUNT; k++)
        total += p3_weights[k];
    unsigned r = rnd_below(st, total);
    enum kind k = K_P3_NOOP;
    for (int i = 0; i < K_COUNT; i++) {
        if (r < p3_weights[i]) {
            k = (enum kind)i;
            break;
        }
        r -= p3_weights[i];
    }
    uint32_t count = c->p3v.count;
    if (count == 0 && (k == K_P3_LIST1 || k == K_P3_UIDL1 || k == K_P3_RETR || k == K_P3_TOP))
        k = K_P3_UIDL;
    uint32_t msg = count ? rnd_below(st, count) + 1 : 1;
    c->p3_msg = msg;
    switch (k) {
    case K_P3_STAT:
        return p3_send(st, c, k, MS_POP3_STAT, 0, "STAT", NULL);
    case K_P3_LIST:
        return p3_send(st, c, k, MS_POP3_LIST, 0, "LIST", NULL);
    case K_P3_LIST1:
        snprintf(line, sizeof(line), "LIST %u", msg);
        return p3_send(st, c, k, MS_POP3_LIST, 1, line, NULL);
    case K_P3_UIDL:
        return p3_send(st, c, k, MS_POP3_UIDL, 0, "UIDL", NULL);
    case K_P3_UIDL1:
        snprintf(line, sizeof(line), "UIDL %u", msg);
        return p3_send(st, c, k, MS_POP3_UIDL, 1, line, NULL);
    case K_P3_RETR:
        snprintf(line, sizeof(line), "RETR %u", msg);
        return p3_send(st, c, k, MS_POP3_RETR, 1, line, NULL);
    case K_P3_TOP:
        snprintf(line, sizeof(line), "TOP %u 0", msg);
        return p3_send(st, c, k, MS_POP3_TOP, 1, line, NULL);
    case K_P3_QUIT:
        return p3_send(st, c, k, MS_POP3_QUIT, 0, "QUIT", NULL);
    default:
        return p3_send(st, c, K_P3_NOOP, MS_POP3_NOOP, 0, "NOOP", NULL);
    }
}

/* ---- the command mix ---- */

#define MSG_TARGET_MAX 60 /* expunge more when the mailbox grows past this */

/* A random message with a known UID: its sequence number, or 0. */
static uint32_t pick_known(struct stress *st, struct client *c)
{
    uint32_t e = c->view.exists;
    if (!e)
        return 0;
    uint32_t s = rnd_below(st, e) + 1;
    for (uint32_t k = 0; k < e; k++) {
        uint32_t q = (s + k - 1) % e + 1;
        if (c->view.uid[q - 1])
            return q;
    }
    return 0;
}

static int send_append(struct stress *st, struct client *c)
{
    char msg[4096], line[600], mb[300];
    uint64_t id = ++c->appended;
    unsigned pad = rnd_below(st, 40);
    int n = snprintf(msg, sizeof(msg),
                     "From: mailspec stress <stress@example.org>\r\n"
                     "To: <stress@example.org>\r\n"
                     "Subject: stress %s %d.%llu\r\n"
                     "Message-ID: <%s.%d.%llu@stress.mailspec>\r\n"
                     "Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n"
                     "MIME-Version: 1.0\r\n"
                     "Content-Type: text/plain; charset=us-ascii\r\n"
                     "\r\n"
                     "Message %llu of session %d.\r\n",
                     st->ro->run_id, c->id, (unsigned long long)id, st->ro->run_id, c->id,
                     (unsigned long long)id, (unsigned long long)id, c->id);
    for (unsigned i = 0; i < pad && n + 80 < (int)sizeof(msg); i++)
        n += snprintf(msg + n, sizeof(msg) - (size_t)n, "padding line %u of %u\r\n", i, pad);
    c->append_hash = ms_stress_hash(MS_STRESS_HASH_INIT, msg, (size_t)n);
    quoted(mb, sizeof(mb), st->mailbox);
    if (st->literal_plus) {
        int h = snprintf(line, sizeof(line), "APPEND %s {%d+}\r\n", mb, n);
        char *all = malloc((size_t)h + (size_t)n + 2);
        if (!all)
            return -1;
        memcpy(all, line, (size_t)h);
        memcpy(all + h, msg, (size_t)n);
        memcpy(all + h + n, "\r\n", 2);
        int rc = send_command(st, c, K_APPEND, all, (size_t)h + (size_t)n + 2, NULL);
        free(all);
        return rc;
    }
    c->lit = malloc((size_t)n + 2);
    if (!c->lit)
        return -1;
    memcpy(c->lit, msg, (size_t)n);
    memcpy(c->lit + n, "\r\n", 2);
    c->litlen = (size_t)n + 2;
    int h = snprintf(line, sizeof(line), "APPEND %s {%d}\r\n", mb, n);
    return send_command(st, c, K_APPEND, line, (size_t)h, NULL);
}

static int send_random(struct stress *st, struct client *c)
{
    char line[400], mb[300];
    uint32_t e = c->view.exists;
    unsigned total = 0;
    for (int k = 0; k < K_COUNT; k++)
        total += weights[k];
    unsigned r = rnd_below(st, total);
    enum kind k = K_NOOP;
    for (int i = 0; i < K_COUNT; i++) {
        if (r < weights[i]) {
            k = (enum kind)i;
            break;
        }
        r -= weights[i];
    }
    /* the server referred to a message it never announced: select again
     * so that the model has a map it can judge by */
    if (c->view.desync)
        k = K_SELECT;
    /* keep the mailbox between a few and MSG_TARGET_MAX messages */
    if (e > MSG_TARGET_MAX && (k == K_APPEND || k == K_COPY))
        k = rnd_below(st, 2) ? K_STORE_DELETED : K_EXPUNGE;
    if (e < 5 && (k == K_EXPUNGE || k == K_STORE_DELETED))
        k = K_APPEND;
    if (e == 0 && k != K_NOOP && k != K_SELECT && k != K_SEARCH)
        k = K_APPEND;
    const char *modseq = st->condstore ? " MODSEQ" : "";
    uint32_t a = e ? rnd_below(st, e) + 1 : 1, b = e ? rnd_below(st, e) + 1 : 1;
    if (a > b) {
        uint32_t t = a;
        a = b;
        b = t;
    }
    uint32_t seq;
    switch (k) {
    case K_NOOP:
        snprintf(line, sizeof(line), "NOOP\r\n");
        break;
    case K_FETCH:
        snprintf(line, sizeof(line), "FETCH %u:%u (UID FLAGS%s)\r\n", a, b, modseq);
        break;
    case K_FETCH_STRUCT:
        snprintf(line, sizeof(line), "FETCH %u (UID RFC822.SIZE BODYSTRUCTURE)\r\n", a);
        break;
    case K_FETCH_BODY:
        snprintf(line, sizeof(line), "FETCH %u (UID BODY.PEEK[])\r\n", a);
        break;
    case K_UID_FETCH:
        seq = pick_known(st, c);
        snprintf(line, sizeof(line), "UID FETCH %u:* (FLAGS%s)\r\n",
                 seq ? c->view.uid[seq - 1] : 1u, modseq);
        break;
    case K_STORE_ADD:
    case K_STORE_REMOVE:
    case K_STORE_DELETED: {
        seq = pick_known(st, c);
        /* the newest message now and then: expunging the last message is
         * where a server that reuses UIDs shows it */
        if (k == K_STORE_DELETED && e && c->view.uid[e - 1] && rnd_below(st, 3) == 0)
            seq = e;
        if (!seq) {
            k = K_FETCH;
            snprintf(line, sizeof(line), "FETCH 1:* (UID FLAGS)\r\n");
            break;
        }
        uint32_t uid = c->view.uid[seq - 1];
        char flag[32];
        int own = 0;
        if (k == K_STORE_DELETED) {
            snprintf(flag, sizeof(flag), "\\Deleted");
        } else if (st->own_keywords && c->id < MS_STRESS_OWNERS && rnd_below(st, 10) < 7) {
            snprintf(flag, sizeof(flag), "mskw%d", c->id);
            own = 1;
        } else {
            static const char *const sys[] = {"\\Seen", "\\Flagged", "\\Answered"};
            snprintf(flag, sizeof(flag), "%s", sys[rnd_below(st, 3)]);
        }
        int add = k != K_STORE_REMOVE;
        snprintf(line, sizeof(line), "UID STORE %u %cFLAGS (%s)\r\n", uid, add ? '+' : '-', flag);
        if (own) {
            ms_stress_own_unknown(&st->mb, c->id, uid);
            c->st_own = 1;
            c->st_uid = uid;
            c->st_add = add;
            c->st_seen = 0;
            c->st_haskw = 0;
        }
        break;
    }
    case K_EXPUNGE:
        snprintf(line, sizeof(line), "EXPUNGE\r\n");
        break;
    case K_APPEND:
        return send_append(st, c);
    case K_SEARCH: {
        static const char *const keys[] = {"FLAGGED", "UNSEEN", "DELETED", "ALL"};
        snprintf(line, sizeof(line), "%sSEARCH %s\r\n", rnd_below(st, 2) ? "UID " : "",
                 keys[rnd_below(st, 4)]);
        break;
    }
    case K_COPY:
        quoted(mb, sizeof(mb), st->mailbox);
        snprintf(line, sizeof(line), "COPY %u %s\r\n", a, mb);
        break;
    case K_SELECT:
        quoted(mb, sizeof(mb), st->mailbox);
        snprintf(line, sizeof(line), "SELECT %s\r\n", mb);
        c->selecting = 1;
        break;
    default:
        snprintf(line, sizeof(line), "NOOP\r\n");
        k = K_NOOP;
        break;
    }
    return send_command(st, c, k, line, strlen(line), NULL);
}

/* ---- SMTP: sessions that submit mail, and the checker that reads it back ---- */

#define SM_MAX_MESSAGE 70000 /* the largest message ms_stress_mail_make makes */
#define SM_SHOW_EACH   10    /* delivery findings shown one by one; then counted */

/* Send one SMTP command line (CRLF added) as command k. */
static int sm_send(struct stress *st, struct client *c, enum kind k, const char *line,
                   const char *shown)
{
    char b[600];
    int n = snprintf(b, sizeof(b), "%s\r\n", line);
    if (n < 0 || (size_t)n >= sizeof(b))
        return -1;
    int rc = send_raw(st, c, k, b, (size_t)n, shown ? shown : line);
    memset(b, 0, sizeof(b));
    return rc;
}

static int sm_sync(struct stress *st, struct client *c, const char *line, const char *shown,
                   int *ok)
{
    c->setup = 1;
    int rc = sm_send(st, c, K_SM_NOOP, line, shown) != 0 ? -1 : wait_tagged(st, c, ok);
    c->setup = 0;
    return rc;
}

/* The message of this transaction, dot-stuffed, then ".". */
static int sm_send_body(struct stress *st, struct client *c)
{
    size_t n = ms_stress_mail_make(st->o->seed, st->ro->run_id, st->from, st->ro->rcpt,
                                   (unsigned)c->id, c->sm_serial, st->mk, st->mkcap);
    size_t w = n ? ms_stress_mail_stuff(st->mk, n, st->wire, st->wirecap) : 0;
    char shown[80];
    if (!w)
        return -1;
    snprintf(shown, sizeof(shown), "(message %llu, %zu octets) .", (unsigned long long)c->sm_serial,
             n);
    return send_raw(st, c, K_SM_BODY, st->wire, w, shown);
}

/* One complete reply: the transaction's next step. */
static void on_sm(struct stress *st, struct client *c, const struct ms_smtp_reply *r)
{
    const char *lf = memchr(r->raw.ptr, '\n', r->raw.len);
    ring_add(c, 'S', r->raw.ptr, lf ? (size_t)(lf - r->raw.ptr) + 1 : r->raw.len);
    if (r->code == 421)
        c->bye = 1; /* the server closes the session (RFC 5321 3.8) */
    if (!c->busy || command_done(st, c, r->code / 100 == 2 || r->code / 100 == 3))
        return;
    int rc = 0;
    switch (c->kind) {
    case K_SM_MAIL:
        rc = r->code == 250 ? 0 : 1;
        if (!rc) {
            char line[300];
            snprintf(line, sizeof(line), "RCPT TO:<%s>", st->ro->rcpt);
            rc = sm_send(st, c, K_SM_RCPT, line, NULL);
        }
        break;
    case K_SM_RCPT:
        rc = r->code == 250 || r->code == 251 ? 0 : 1;
        if (!rc)
            rc = c->sm_abort ? 1 : sm_send(st, c, K_SM_DATA, "DATA", NULL);
        break;
    case K_SM_DATA:
        rc = r->code == 354 ? sm_send_body(st, c) : 1;
        if (rc)
            ms_stress_ledger_accepted(&st->led, c->sm_serial, 0);
        break;
    case K_SM_BODY:
        /* RFC 5321 4.1.1.4: 250 after the end of data takes responsibility */
        ms_stress_ledger_accepted(&st->led, c->sm_serial, r->code == 250);
        break;
    case K_SM_QUIT:
        c->p3_quit = 1;
        break;
    default:
        break;
    }
    if (rc > 0 && !c->bye) /* refused in the middle: end the transaction */
        rc = sm_send(st, c, K_SM_RSET, "RSET", NULL);
    if (rc < 0)
        c->bye = 1;
}

/* Connect, greeting, EHLO, STARTTLS and EHLO again, AUTH PLAIN (--auth). */
static int sm_setup(struct stress *st, struct client *c, char *err, size_t errcap)
{
    const struct ms_run_opts *ro = st->ro;
    int ok;

    int rc = line_open(st, c, err, errcap);
    if (rc != 0) {
        if (rc > 0)
            snprintf(err, errcap, "no SMTP greeting (220) within --timeout");
        return -1;
    }
    if (sm_sync(st, c, "EHLO mailspec.invalid", NULL, &ok) != 0 || !ok) {
        snprintf(err, errcap, "EHLO was refused or not answered");
        return -1;
    }
    if (ro->tls == MS_TLS_STARTTLS) {
        if (sm_sync(st, c, "STARTTLS", NULL, &ok) != 0 || !ok) {
            snprintf(err, errcap, "STARTTLS was refused or not answered");
            return -1;
        }
        if (tls_upgrade(st, c, "STARTTLS", err, errcap) != 0)
            return -1;
        if (sm_sync(st, c, "EHLO mailspec.invalid", NULL, &ok) != 0 || !ok) {
            snprintf(err, errcap, "EHLO after STARTTLS was refused or not answered");
            return -1;
        }
    }
    if (st->o->auth) {
        /* RFC 4954: AUTH PLAIN with the initial response (RFC 4616) */
        char line[600];
        memcpy(line, "AUTH PLAIN ", 11);
        int k = ms_sasl_plain_b64("", ro->user, ro->password, line + 11, sizeof(line) - 11 - 2);
        if (k < 0) {
            snprintf(err, errcap, "the user name and password are too long for AUTH PLAIN");
            return -1;
        }
        rc = sm_sync(st, c, line, "AUTH PLAIN ${sasl_plain}", &ok);
        memset(line, 0, sizeof(line));
        if (rc != 0 || !ok) {
            snprintf(err, errcap, "AUTH PLAIN as %s was refused or not answered", ro->user);
            return -1;
        }
    }
    c->up = 1;
    return 0;
}

/* The SMTP mix: mostly whole transactions; one in six of them ends with
 * RSET after RCPT; NOOP, RSET, and now and then QUIT and a new session. */
static int sm_send_random(struct stress *st, struct client *c)
{
    unsigned r = rnd_below(st, 20);
    if (r < 16) {
        uint64_t serial = ms_stress_ledger_next(&st->led);
        if (serial == UINT64_MAX) /* the ledger is full: no new messages */
            return sm_send(st, c, K_SM_NOOP, "NOOP", NULL);
        char line[300];
        c->sm_serial = serial;
        c->sm_abort = r < 2;
        snprintf(line, sizeof(line), "MAIL FROM:<%s>", st->from);
        return sm_send(st, c, K_SM_MAIL, line, NULL);
    }
    if (r < 18)
        return sm_send(st, c, K_SM_NOOP, "NOOP", NULL);
    if (r < 19)
        return sm_send(st, c, K_SM_RSET, "RSET", NULL);
    return sm_send(st, c, K_SM_QUIT, "QUIT", NULL);
}

/* A delivery finding: shown one by one up to SM_SHOW_EACH of a kind, then
 * counted only (the summary has every count). */
static void delivery_issue(struct stress *st, struct client *sender, enum ms_stress_kind kind,
                           const char *rfc, const char *level, uint32_t uid, const char *text)
{
    unsigned k = kind == MS_SK_UNDELIVERED ? 0
                 : kind == MS_SK_DUPLICATE ? 1
                 : kind == MS_SK_ALTERED   ? 2
                                           : 3;
    st->nfound[k]++;
    if (st->nreported[k] >= SM_SHOW_EACH)
        return;
    st->nreported[k]++;
    struct ms_stress_issue is;
    memset(&is, 0, sizeof(is));
    is.kind = kind;
    is.session = sender ? sender->id : (int)st->n;
    is.other = (int)st->n; /* the checker */
    is.uid = uid;
    is.rfc = rfc;
    is.level = level;
    snprintf(is.text, sizeof(is.text), "%s", text);
    on_issue(st, &is);
}

/* One message the checker fetched: recognise it, check it against the
 * message made again from its tag. */
static void chk_message(struct stress *st, uint32_t uid, const char *m, size_t n)
{
    struct ms_stress_mail_found f;
    char text[320];

    (void)ms_stress_mail_find(st->ro->run_id, m, n, &f);
    if (f.kind == MS_MAIL_NOT_OURS)
        return;
    enum ms_stress_arrival a =
        ms_stress_ledger_arrived(&st->led, f.serial, f.kind == MS_MAIL_BOUNCE);
    st->last_arrival_us = now_us();
    if (f.kind == MS_MAIL_BOUNCE)
        return; /* a notification (RFC 5321 6.1): the message is not lost */
    if (a == MS_ARRIVED_UNKNOWN)
        return; /* a serial never handed out: not this run's message */
    if (a == MS_ARRIVED_NOT_ACCEPTED)
        st->arrived_unaccepted++; /* DATA refused or unanswered, delivered all the same: not judged
                                   */
    struct client *sender = f.session < st->n ? &st->c[f.session] : NULL;
    if (a == MS_ARRIVED_AGAIN) {
        snprintf(text, sizeof(text),
                 "message %llu (session %u) was delivered a second time, as UID %u; mailspec "
                 "sent it once (RFC 5321 has no MUST against duplicates: reported, not judged)",
                 (unsigned long long)f.serial, f.session, uid);
        delivery_issue(st, sender, MS_SK_DUPLICATE, "RFC 5321 6.1", "info", uid, text);
        return;
    }
    size_t wn = ms_stress_mail_make(st->o->seed, st->ro->run_id, st->from, st->ro->rcpt, f.session,
                                    f.serial, st->mk, st->mkcap);
    size_t d = ms_stress_mail_diff(st->mk, wn, m + f.start, n - f.start);
    if (d != (size_t)-1) {
        size_t line = 1;
        for (size_t i = 0; i < d && i < wn; i++)
            line += st->mk[i] == '\n';
        snprintf(text, sizeof(text),
                 "message %llu (UID %u) is not stored as sent: the first difference is at octet "
                 "%zu (line %zu) of the %zu octets sent; the stored copy has %zu octets from the "
                 "tag line on",
                 (unsigned long long)f.serial, uid, d, line, wn, n - f.start);
        delivery_issue(st, sender, MS_SK_ALTERED, "RFC 5321 4.5.2", "info", uid, text);
    } else if (!f.prefix_fields) {
        snprintf(text, sizeof(text),
                 "message %llu (UID %u): what was put before the message as sent is not header "
                 "fields (%zu octets)",
                 (unsigned long long)f.serial, uid, f.start);
        delivery_issue(st, sender, MS_SK_ALTERED, "RFC 5321 4.4", "info", uid, text);
    } else {
        st->verified++;
    }
    if (f.prefix_fields && !f.has_received) {
        snprintf(text, sizeof(text),
                 "message %llu (UID %u) was delivered without a Received: field before it (%zu "
                 "octets were added before the message as sent)",
                 (unsigned long long)f.serial, uid, f.start);
        delivery_issue(st, sender, MS_SK_NO_TRACE, "RFC 5321 4.4", "MUST", uid, text);
    }
}

/* The checker's untagged responses: FETCH (UID BODY[]), UIDNEXT, BYE. */
static void chk_response(struct stress *st, struct client *c, const struct ms_imap_response *r)
{
    if (r->type == MS_IMAP_BYE) {
        c->bye = 1;
        return;
    }
    if (r->type == MS_IMAP_OK) {
        const struct ms_imap_node *u = code_arg(r, "UIDNEXT", 0);
        uint32_t next;
        if (u && node_u32(u, &next) == 0 && st->chk_from == 0)
            st->chk_from = next ? next : 1; /* mail from before the run is not read */
        return;
    }
    if (r->type != MS_IMAP_FETCH)
        return;
    struct ms_stress_fetch f;
    memset(&f, 0, sizeof(f));
    const struct ms_imap_node *body = fetch_items(r, &f);
    uint32_t uid = f.uid;
    /* "u:*" names the last message even when its UID is below u (RFC 9051 6.4.9) */
    if (!body || !uid || uid < st->chk_cmd_from)
        return;
    if (uid > st->chk_max_uid)
        st->chk_max_uid = uid;
    if (body->type != MS_IMAP_N_QUOTED) {
        chk_message(st, uid, body->s.ptr, body->s.len);
        return;
    }
    char *q = malloc(body->s.len + 1); /* a quoted body: unescaped */
    if (!q)
        return;
    chk_message(st, uid, q, ms_mime_unquote(body->s, q, body->s.len));
    free(q);
}

/* Fetch what arrived since the last check. */
static int chk_send(struct stress *st, struct client *c)
{
    char line[80];
    uint32_t from = st->chk_max_uid >= st->chk_from ? st->chk_max_uid + 1 : st->chk_from;
    if (from == 0)
        from = 1;
    snprintf(line, sizeof(line), "UID FETCH %u:* (UID BODY.PEEK[])\r\n", from);
    st->chk_cmd_from = from;
    c->setup = 1; /* not in the statistics */
    int rc = send_command(st, c, K_CHECK, line, strlen(line), NULL);
    if (rc == 0)
        st->chk_fetches++;
    return rc;
}

/*
 * The end of an SMTP run: accepted messages neither delivered nor bounced.
 * Reported, not judged: RFC 5321 sets no time for delivery, and a message
 * deferred for a retry is not lost, so no wait can prove a loss.
 */
static void report_undelivered(struct stress *st, double quiet_s, int bounces_return)
{
    uint64_t from = 0, serial;
    char text[320];
    while ((serial = ms_stress_ledger_undelivered(&st->led, from)) != UINT64_MAX) {
        from = serial + 1;
        snprintf(text, sizeof(text),
                 "message %llu was accepted (250 after DATA) but neither delivered to %s nor %s "
                 "when the run ended, %.0f s after the last arrival (it may still be queued: "
                 "reported, not judged)",
                 (unsigned long long)serial, st->ro->rcpt,
                 bounces_return ? "bounced back to it (the reverse-path)"
                                : "seen again (bounces go to --mail-from, not read)",
                 quiet_s);
        delivery_issue(st, NULL, MS_SK_UNDELIVERED, "RFC 5321 6.1", "info", 0, text);
    }
}

/* ---- the loop ---- */

enum cp_phase { CP_NONE, CP_DRAIN, CP_NOOP, CP_FETCH };

static void restart_client(struct stress *st, struct client *c, const char *why)
{
    char err[300];
    if (st->quiet < 2 && st->verbose && !c->p3_quit)
        fprintf(stderr, "mailspec stress: session %d: %s; reconnecting\n", c->id, why);
    client_drop(c);
    if (!c->p3_quit) {
        st->errors++;
        st->sec_errors++;
    }
    c->p3_quit = 0;
    if ((st->pop3                  ? p3_setup(st, c, err, sizeof(err))
         : st->smtp && !c->checker ? sm_setup(st, c, err, sizeof(err))
                                   : client_setup(st, c, 0, err, sizeof(err))) != 0) {
        client_drop(c);
        st->err_reconnect++;
        if (st->quiet < 2)
            fprintf(stderr, "mailspec stress: session %d: %s\n", c->id, err);
    }
}

static void write_log_line(struct stress *st, double t, double secs)
{
    if (!st->log)
        return;
    fprintf(st->log,
            "{\"t\":%.3f,\"commands\":%llu,\"commands_per_second\":%.1f,\"errors\":%llu,"
            "\"inconsistencies\":%u,\"latency_ms\":{",
            t, (unsigned long long)st->sec_commands,
            secs > 0 ? (double)st->sec_commands / secs : 0.0, (unsigned long long)st->sec_errors,
            st->nissues);
    int firstk = 1;
    for (int k = 0; k < K_COUNT; k++) {
        const struct hist *h = &st->sec_lat[k];
        if (!h->n)
            continue;
        fprintf(st->log,
                "%s\"%s\":{\"n\":%llu,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f}",
                firstk ? "" : ",", kind_names[k], (unsigned long long)h->n,
                (double)hist_pct(h, 50) / 1000.0, (double)hist_pct(h, 90) / 1000.0,
                (double)hist_pct(h, 99) / 1000.0, (double)h->max_us / 1000.0);
        firstk = 0;
    }
    fprintf(st->log, "}}\n");
    fflush(st->log);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void run_checkpoint(struct stress *st)
{
    struct ms_stress_view **views = calloc(st->n, sizeof(*views));
    size_t k = 0;
    if (!views)
        return;
    for (unsigned i = 0; i < st->n; i++)
        if (st->c[i].up)
            views[k++] = &st->c[i].view;
    ms_stress_checkpoint(&st->mb, views, k);
    free(views);
    st->checkpoints++;
}

static struct ms_json *fnum(double v, int decimals)
{
    char t[64];
    snprintf(t, sizeof(t), "%.*f", decimals, v);
    struct ms_json *j = ms_json_new_string(t);
    if (j)
        j->type = MS_JSON_NUMBER;
    return j;
}

static int write_summary(struct stress *st, double secs, double cpu, const char *path)
{
    struct ms_json *d = ms_json_new(MS_JSON_OBJECT), *by = ms_json_new(MS_JSON_OBJECT),
                   *errs = ms_json_new(MS_JSON_OBJECT);
    const struct ms_run_opts *ro = st->ro;
    if (!d || !by || !errs) {
        ms_json_free(d);
        ms_json_free(by);
        ms_json_free(errs);
        return -1;
    }
    ms_json_set_str(d, "mailspec_version", MAILSPEC_VERSION);
    ms_json_set_str(d, "protocol", ro->protocol);
    ms_json_set_str(d, "host", ro->host);
    ms_json_set_str(d, "port", ro->port);
    ms_json_set_str(d, "tls", ms_tls_mode_name(ro->tls));
    ms_json_set_str(d, "mailbox", st->mailbox);
    ms_json_set_num(d, "clients", st->n);
    ms_json_set_num(d, "seed", st->o->seed);
    ms_json_set_num(d, "commands", st->commands);
    ms_json_set(d, "seconds", fnum(secs, 3));
    ms_json_set(d, "commands_per_second", fnum(secs > 0 ? (double)st->commands / secs : 0, 1));
    ms_json_set(d, "cpu_seconds", fnum(cpu, 3));
    ms_json_set(d, "cpu_share", fnum(secs > 0 ? cpu / secs : 0, 3));
    ms_json_set(d, "cpu_us_per_command",
                fnum(st->commands ? cpu * 1e6 / (double)st->commands : 0, 1));
    ms_json_set_num(d, "checkpoints", st->checkpoints);
    struct ms_json *feat = ms_json_new(MS_JSON_OBJECT), *chk = ms_json_new(MS_JSON_OBJECT);
    if (feat) {
        ms_json_set(feat, "literal_plus", ms_json_new_bool(st->literal_plus));
        ms_json_set(feat, "uidplus", ms_json_new_bool(st->uidplus));
        ms_json_set(feat, "condstore", ms_json_new_bool(st->condstore));
        ms_json_set(feat, "keywords", ms_json_new_bool(st->own_keywords));
        ms_json_set(d, "server_features", feat);
    }
    if (chk) {
        ms_json_set_num(chk, "uid", st->mb.n_uid_checks);
        ms_json_set_num(chk, "content", st->mb.n_content_checks);
        ms_json_set_num(chk, "store_result", st->mb.n_store_checks);
        ms_json_set_num(chk, "modseq", st->mb.n_modseq_checks);
        ms_json_set_num(chk, "checkpoint_views", st->mb.n_checkpoint_views);
        ms_json_set_num(chk, "owner_keywords", st->mb.n_owner_checks);
        ms_json_set(d, "checks", chk);
    }
    ms_json_set_num(errs, "timeout", st->err_timeout);
    ms_json_set_num(errs, "bad", st->err_bad);
    ms_json_set_num(errs, "no", st->err_no);
    ms_json_set_num(errs, "disconnect", st->err_disconnect);
    ms_json_set_num(errs, "reconnect_failed", st->err_reconnect);
    ms_json_set(d, "errors", errs);
    for (int k = 0; k < K_COUNT; k++) {
        const struct hist *h = &st->lat[k];
        if (!h->n)
            continue;
        struct ms_json *o = ms_json_new(MS_JSON_OBJECT);
        if (!o)
            continue;
        ms_json_set_num(o, "count", h->n);
        ms_json_set(o, "p50_ms", fnum((double)hist_pct(h, 50) / 1000.0, 3));
        ms_json_set(o, "p90_ms", fnum((double)hist_pct(h, 90) / 1000.0, 3));
        ms_json_set(o, "p99_ms", fnum((double)hist_pct(h, 99) / 1000.0, 3));
        ms_json_set(o, "max_ms", fnum((double)h->max_us / 1000.0, 3));
        ms_json_set(by, kind_names[k], o);
    }
    ms_json_set(d, "by_command", by);
    if (st->smtp) {
        struct ms_json *dl = ms_json_new(MS_JSON_OBJECT);
        if (dl) {
            ms_json_set_str(dl, "rcpt", ro->rcpt);
            ms_json_set_num(dl, "sent", st->led.next);
            ms_json_set_num(dl, "accepted", st->led.accepted);
            ms_json_set_num(dl, "delivered", st->led.seen);
            ms_json_set_num(dl, "as_sent", st->verified);
            ms_json_set_num(dl, "bounced", st->led.bounced);
            ms_json_set_num(dl, "missing", st->led.missing);
            ms_json_set_num(dl, "duplicates", st->led.duplicates);
            ms_json_set_num(dl, "undelivered", st->nfound[0]);
            ms_json_set_num(dl, "altered", st->nfound[2]);
            ms_json_set_num(dl, "without_trace", st->nfound[3]);
            ms_json_set_num(dl, "delivered_not_accepted", st->arrived_unaccepted);
            ms_json_set_num(dl, "checks", st->chk_fetches);
            ms_json_set(dl, "settle_seconds", fnum(st->settle_secs, 3));
            ms_json_set(d, "delivery", dl);
        }
    }
    ms_json_set_num(d, "inconsistency_count", st->nissues);
    ms_json_set_num(d, "info_count", st->ninfo);
    ms_json_set(d, "inconsistencies", st->issues);
    st->issues = NULL;
    int rc = ms_report_write_json(d, path);
    ms_json_free(d);
    return rc;
}

/* ---- reproducers (--repro, stress_repro.c) ---- */

/*
 * For each kind of inconsistency kept that has a reproducer: write it into
 * --repro DIR, run it once against the server (a new mailbox, a run id of its
 * own) and mark the kind's issues with the file and whether it reproduces
 * (the server fails it). Returns 0, or -1 when DIR or a file cannot be written.
 */
static int run_repros(struct stress *st)
{
    const char *dir = st->o->repro_dir;
    int done[MS_SK_NO_TRACE + 1] = {0}, rc = 0;
    if (!dir || !st->nissue_obj)
        return 0;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "mailspec stress: --repro %s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (unsigned i = 0; i < st->nissue_obj; i++) {
        enum ms_stress_kind k = st->issue_kind[i];
        if ((unsigned)k > MS_SK_NO_TRACE || done[k])
            continue;
        done[k] = 1;
        char text[4096], path[4096], run_id[96], why[400];
        size_t n = ms_stress_repro(k, st->prefix, st->literal_plus, text, sizeof(text));
        int reproduces = 0;
        snprintf(path, sizeof(path), "%s/repro-%s.session", dir, ms_stress_kind_name(k));
        snprintf(why, sizeof(why), "no reproducer could be built for this server");
        if (n) {
            FILE *f = fopen(path, "w");
            int wrote = f && fwrite(text, 1, n, f) == n;
            if (f && fclose(f) != 0)
                wrote = 0;
            if (!wrote) {
                fprintf(stderr, "mailspec stress: %s: %s\n", path, strerror(errno));
                rc = -1;
                continue;
            }
            struct ms_script_error se;
            struct ms_script *sc = ms_script_parse(text, n, &se);
            if (!sc) {
                snprintf(why, sizeof(why), "the reproducer does not parse (line %zu: %s)", se.line,
                         se.reason);
            } else {
                struct ms_run_opts ro = *st->ro;
                struct ms_test_result r;
                snprintf(run_id, sizeof(run_id), "%s-r", st->ro->run_id);
                ro.run_id = run_id;
                ro.stop = NULL;
                ms_run_script(sc, path, &ro, &r);
                reproduces = r.result == MS_RES_FAIL;
                snprintf(why, sizeof(why),
                         "its reproducer did not fail here (%s%s%s): the inconsistency needs "
                         "more than the one sequence it replays",
                         ms_result_name(r.result), r.message && *r.message ? ": " : "",
                         r.message ? r.message : "");
                ms_test_result_free(&r);
                ms_script_free(sc);
            }
            if (st->quiet < 2)
                fprintf(stderr, "stress: %s: reproducer %s %s\n", ms_stress_kind_name(k), path,
                        reproduces ? "reproduces it (replay fails)"
                                   : "does not reproduce it: not replayable");
        }
        for (unsigned j = i; j < st->nissue_obj; j++) {
            if (st->issue_kind[j] != k)
                continue;
            if (n)
                ms_json_set_str(st->issue_obj[j], "session", path);
            ms_json_set(st->issue_obj[j], "replayable", ms_json_new_bool(reproduces));
            if (!reproduces)
                ms_json_set_str(st->issue_obj[j], "not_replayable_because", why);
        }
    }
    return rc;
}

int ms_stress_run(const struct ms_stress_opts *o)
{
    struct stress sst, *st = &sst;
    const struct ms_run_opts *ro = &o->cli->ro;
    char err[300];
    int rc = MS_EXIT_USAGE;

    memset(st, 0, sizeof(*st));
    st->o = o;
    st->ro = ro;
    st->n = o->clients;
    st->quiet = o->cli->quiet;
    st->verbose = o->cli->verbose;
    ms_rng_seed(&st->rng,
                o->seed_given ? o->seed : (uint64_t)time(NULL) ^ ((uint64_t)now_us() << 20));
    if (strpbrk(ro->password, "\r\n") || strpbrk(ro->user, "\r\n")) {
        fprintf(stderr, "mailspec stress: the user name and password must be one line each\n");
        return MS_EXIT_USAGE;
    }
    if (o->mailbox)
        snprintf(st->mailbox, sizeof(st->mailbox), "%s", o->mailbox);
    else
        snprintf(st->mailbox, sizeof(st->mailbox), "mailspec-stress-%s", ro->run_id);
    st->pop3 = strcmp(ro->protocol, "pop3") == 0;
    st->smtp = strcmp(ro->protocol, "smtp") == 0;
    st->nall = st->n + (st->smtp ? 1 : 0); /* SMTP: the checker is the last session */
    if (st->smtp) {
        snprintf(st->mailbox, sizeof(st->mailbox), "%s", o->mailbox ? o->mailbox : "INBOX");
        /* notifications of failed delivery come back to the mailbox read */
        st->from = ro->mail_from && *ro->mail_from ? ro->mail_from : ro->rcpt;
        st->mkcap = SM_MAX_MESSAGE;
        st->wirecap = 2 * SM_MAX_MESSAGE + 8;
        st->mk = malloc(st->mkcap);
        st->wire = malloc(st->wirecap);
        st->smr = malloc(sizeof(*st->smr));
        if (!st->mk || !st->wire || !st->smr || ms_stress_ledger_init(&st->led, 1u << 22) != 0) {
            fprintf(stderr, "mailspec stress: out of memory\n");
            goto out;
        }
    }
    st->p3slots = calloc(P3_SLOTS, sizeof(*st->p3slots));
    st->p3r = malloc(sizeof(*st->p3r));
    if (!st->p3slots || !st->p3r) {
        fprintf(stderr, "mailspec stress: out of memory\n");
        goto out;
    }
    st->resp = malloc(sizeof(*st->resp));
    st->c = calloc(st->n + 1, sizeof(*st->c));
    st->issues = ms_json_new(MS_JSON_ARRAY);
    if (!st->resp || !st->c || !st->issues ||
        ms_stress_mbox_init(&st->mb, 1u << 16, on_issue, st) != 0) {
        fprintf(stderr, "mailspec stress: out of memory\n");
        goto out;
    }
    if (o->log) {
        st->log = strcmp(o->log, "-") == 0 ? stdout : fopen(o->log, "w");
        if (!st->log) {
            fprintf(stderr, "mailspec stress: --log %s: %s\n", o->log, strerror(errno));
            goto out;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    for (unsigned i = 0; i < st->nall; i++) {
        struct client *c = &st->c[i];
        c->id = (int)i;
        c->conn.fd = -1;
        c->checker = st->smtp && i == st->n;
        ms_stress_view_init(&c->view, &st->mb, (int)i);
        c->p3v.session = (int)i;
        c->p3v.mb = &st->mb;
        c->p3v.slots = st->p3slots;
        c->p3v.nslots = P3_SLOTS;
        if ((st->pop3 ? p3_setup(st, c, err, sizeof(err))
             : st->smtp && !c->checker
                 ? sm_setup(st, c, err, sizeof(err))
                 : client_setup(st, c, i == 0 && !st->smtp, err, sizeof(err))) != 0) {
            if (c->checker)
                fprintf(stderr, "mailspec stress: the IMAP session that reads %s's mail: %s\n",
                        ro->rcpt, err);
            else
                fprintf(stderr, "mailspec stress: session %u: %s\n", i, err);
            goto out;
        }
    }

    double cpu0 = cpu_seconds();
    uint64_t start = now_us(), end = start + (uint64_t)o->duration_s * 1000000u;
    uint64_t next_sec = start + 1000000u, sec_start = start;
    uint64_t next_cp = o->checkpoint_s && !st->pop3 && !st->smtp
                           ? start + (uint64_t)o->checkpoint_s * 1000000u
                           : UINT64_MAX;
    uint64_t timeout_us = (uint64_t)ro->timeout_ms * 1000u;
    enum cp_phase cp = CP_NONE;
    int stopping = 0, final_cp_done = 0, settled = 0;
    uint64_t next_check = start, settle_end = 0, sent_end = 0;
    struct pollfd *pfd = calloc(st->nall, sizeof(*pfd));
    unsigned *pidx = calloc(st->nall, sizeof(*pidx));
    if (!pfd || !pidx) {
        free(pfd);
        free(pidx);
        goto out;
    }

    for (;;) {
        uint64_t now = now_us();
        if (!stopping && (now >= end || stop_flag)) {
            stopping = 1;
            if (cp == CP_NONE && !st->pop3 && !st->smtp)
                cp = CP_DRAIN; /* the final checkpoint (IMAP) */
        }
        if (cp == CP_NONE && now >= next_cp) {
            cp = CP_DRAIN;
            next_cp = now + (uint64_t)o->checkpoint_s * 1000000u;
        }
        if (now >= next_sec) {
            double secs = (double)(now - sec_start) / 1e6;
            if (st->quiet == 0 && settle_end)
                fprintf(stderr,
                        "\rstress: %3llus waiting for %llu accepted messages to arrive (%llus "
                        "at most)  %u findings ",
                        (unsigned long long)((now - start) / 1000000u),
                        (unsigned long long)st->led.missing,
                        (unsigned long long)(now < settle_end ? (settle_end - now) / 1000000u : 0),
                        st->nissues);
            else if (st->quiet == 0)
                fprintf(stderr,
                        "\rstress: %3llus %7.0f commands/s  %llu errors  %u inconsistencies ",
                        (unsigned long long)((now - start) / 1000000u),
                        secs > 0 ? (double)st->sec_commands / secs : 0.0,
                        (unsigned long long)st->errors, st->nissues);
            write_log_line(st, (double)(now - start) / 1e6, secs);
            st->sec_commands = st->sec_errors = 0;
            memset(st->sec_lat, 0, sizeof(st->sec_lat));
            sec_start = now;
            next_sec = now + 1000000u;
        }
        unsigned busy = 0, up = 0;
        for (unsigned i = 0; i < st->n; i++) {
            busy += st->c[i].up && st->c[i].busy;
            up += st->c[i].up != 0;
        }
        if (up == 0) {
            fprintf(stderr, "mailspec stress: every session is down\n");
            rc = MS_EXIT_USAGE;
            free(pfd);
            free(pidx);
            goto out;
        }
        /* checkpoint phases advance when every session is idle */
        if (busy == 0 && cp != CP_NONE) {
            if (cp == CP_DRAIN || cp == CP_NOOP) {
                enum cp_phase next = cp == CP_DRAIN ? CP_NOOP : CP_FETCH;
                for (unsigned i = 0; i < st->n; i++) {
                    struct client *c = &st->c[i];
                    if (!c->up)
                        continue;
                    int r2 = 0;
                    if (next == CP_NOOP)
                        r2 = send_command(st, c, K_CP_NOOP, "NOOP\r\n", 6, NULL);
                    else if (c->view.exists) {
                        memset(c->view.have_flags, 0, c->view.exists);
                        r2 = send_command(st, c, K_CP_FETCH, "FETCH 1:* (UID FLAGS)\r\n", 23, NULL);
                    }
                    if (r2 != 0)
                        restart_client(st, c, "write failed");
                }
                cp = next;
                continue;
            }
            /* CP_FETCH done */
            run_checkpoint(st);
            cp = CP_NONE;
            if (stopping) {
                final_cp_done = 1;
                break;
            }
        }
        if (stopping && busy == 0 && cp == CP_NONE && !final_cp_done) {
            if (!st->smtp)
                break;
            /* SMTP: every transaction has ended; wait until each
             * accepted message has arrived or bounced, as long as mail
             * keeps arriving: until nothing came for --settle seconds
             * (and ten times that at most) */
            struct client *k = &st->c[st->n];
            if (!settle_end) {
                sent_end = now; /* commands/s: over the time commands were sent */
                settle_end = now + 10 * (uint64_t)o->settle_s * 1000000u;
                next_check = now;
            }
            uint64_t quiet =
                now - (st->last_arrival_us > sent_end ? st->last_arrival_us : sent_end);
            if (!k->busy && st->led.missing == 0) {
                settled = 1;
                break;
            }
            if (stop_flag) /* interrupted while waiting: not checked to the end */
                break;
            if (!k->busy &&
                (now >= settle_end || quiet >= (uint64_t)o->settle_s * 1000000u || !k->up))
                break;
        }
        if (cp == CP_NONE && !stopping)
            for (unsigned i = 0; i < st->n; i++) {
                struct client *c = &st->c[i];
                if (c->up && !c->busy &&
                    (st->pop3   ? p3_send_random(st, c)
                     : st->smtp ? sm_send_random(st, c)
                                : send_random(st, c)) != 0)
                    restart_client(st, c, "write failed");
            }
        if (st->smtp && st->c[st->n].up && !st->c[st->n].busy && now >= next_check) {
            /* the checker reads what arrived, twice a second (more often
             * while waiting for the last messages) */
            if (chk_send(st, &st->c[st->n]) != 0)
                restart_client(st, &st->c[st->n], "write failed");
            next_check = now + (settle_end ? 200000u : 500000u);
        }
        /* read what is there; poll only when TLS holds nothing back */
        unsigned np = 0;
        int pending = 0;
        for (unsigned i = 0; i < st->nall; i++) {
            struct client *c = &st->c[i];
            if (!c->up)
                continue;
            if (ms_conn_pending(&c->conn))
                pending = 1;
            pfd[np].fd = c->conn.fd;
            pfd[np].events = POLLIN;
            pfd[np].revents = 0;
            pidx[np++] = i;
        }
        int pr = poll(pfd, np, pending ? 0 : 50);
        if (pr < 0 && errno != EINTR)
            break;
        now = now_us();
        for (unsigned j = 0; j < np; j++) {
            struct client *c = &st->c[pidx[j]];
            if (!(pfd[j].revents & (POLLIN | POLLHUP | POLLERR)) && !ms_conn_pending(&c->conn)) {
                if (c->busy && now - c->sent_us > timeout_us) {
                    st->err_timeout++;
                    restart_client(st, c, "command timed out");
                }
                continue;
            }
            if (client_read(st, c) != 0 || c->p3_quit) {
                if (!c->p3_quit)
                    st->err_disconnect++;
                restart_client(st, c,
                               c->p3_quit ? "QUIT"
                               : c->bye   ? "the server said BYE"
                                          : "connection closed");
            }
        }
    }
    free(pfd);
    free(pidx);
    if (st->quiet == 0)
        fprintf(stderr, "\n");

    double secs = (double)((sent_end ? sent_end : now_us()) - start) / 1e6;
    st->settle_secs = sent_end ? (double)(now_us() - sent_end) / 1e6 : 0;
    double cpu = cpu_seconds() - cpu0;
    int unchecked = 0;
    if (st->smtp) {
        /* judged only if the checker read the mailbox to the end */
        const struct client *k = &st->c[st->n];
        uint64_t last = st->last_arrival_us > sent_end ? st->last_arrival_us : sent_end;
        double quiet = last ? (double)(now_us() - last) / 1e6 : 0;
        int bounces_return = strcmp(st->from, ro->rcpt) == 0;
        if (k->up && !k->busy && !stop_flag)
            report_undelivered(st, quiet, bounces_return); /* none when settled */
        else if (!settled)
            unchecked = 1;
        if (unchecked && st->quiet < 2)
            fprintf(stderr,
                    "mailspec stress: %s: delivery was not checked to the end (no message is "
                    "reported undelivered)\n",
                    stop_flag ? "interrupted" : "the IMAP session that reads the mail is down");
    }
    /* log out; the first session that is up deletes the mailbox */
    int deleted = o->keep || st->smtp;
    for (unsigned i = 0; i < st->nall; i++) {
        struct client *c = &st->c[i];
        int ok;
        if (!c->up)
            continue;
        if (st->pop3) {
            (void)p3_send(st, c, K_P3_QUIT, MS_POP3_QUIT, 0, "QUIT", NULL);
            continue;
        }
        if (st->smtp && !c->checker) {
            (void)sm_send(st, c, K_SM_QUIT, "QUIT", NULL);
            continue;
        }
        if (!deleted) {
            char line[400], mb[300];
            quoted(mb, sizeof(mb), st->mailbox);
            snprintf(line, sizeof(line), "CLOSE\r\n");
            (void)sync_command(st, c, K_NOOP, line, NULL, &ok);
            snprintf(line, sizeof(line), "DELETE %s\r\n", mb);
            if (sync_command(st, c, K_NOOP, line, NULL, &ok) == 0)
                deleted = 1;
        }
        (void)send_command(st, c, K_NOOP, "LOGOUT\r\n", 8, NULL);
    }
    if (st->quiet < 2)
        fprintf(stderr,
                "stress: %llu commands in %.1f s: %.0f commands/s, %u inconsistencies, %llu "
                "errors, mailspec CPU %.0f%%\n",
                (unsigned long long)st->commands, secs, secs > 0 ? (double)st->commands / secs : 0,
                st->nissues, (unsigned long long)st->errors, secs > 0 ? 100 * cpu / secs : 0.0);
    if (st->smtp && st->quiet < 2)
        fprintf(stderr,
                "stress: %llu messages accepted, %llu delivered (%llu as sent), %llu bounced, "
                "%llu missing, %llu duplicates\n",
                (unsigned long long)st->led.accepted, (unsigned long long)st->led.seen,
                (unsigned long long)st->verified, (unsigned long long)st->led.bounced,
                (unsigned long long)st->led.missing, (unsigned long long)st->led.duplicates);
    /* info findings (no MUST broken) do not change the exit status; an SMTP
     * run whose mail could not be read back to the end has no verdict */
    rc = st->nissues > st->ninfo ? MS_EXIT_FAIL : MS_EXIT_OK;
    if (rc == MS_EXIT_OK && st->smtp && unchecked)
        rc = MS_EXIT_USAGE;
    if (!stop_flag && run_repros(st) != 0)
        rc = MS_EXIT_USAGE;
    if (o->cli->json && write_summary(st, secs, cpu, o->cli->json) != 0)
        rc = MS_EXIT_USAGE;
out:
    if (st->c)
        for (unsigned i = 0; i < st->nall; i++) {
            client_drop(&st->c[i]);
            free(st->c[i].buf);
            ms_stress_view_free(&st->c[i].view);
            ms_stress_p3_free(&st->c[i].p3v);
        }
    free(st->c);
    free(st->resp);
    free(st->p3r);
    free(st->p3slots);
    free(st->smr);
    free(st->mk);
    free(st->wire);
    ms_stress_ledger_free(&st->led);
    ms_json_free(st->issues);
    ms_stress_mbox_free(&st->mb);
    if (st->log && st->log != stdout)
        fclose(st->log);
    return rc;
}
