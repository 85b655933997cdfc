/*
 * mailspec fuzz-server (docs/fuzz-server.md): a fuzzing campaign against a
 * live server. Workers (threads) each run cases on their own connections;
 * the corpus, the reply shapes seen and the findings are shared under one
 * lock. A liveness failure pauses every worker while the recent cases are
 * re-run one at a time to find and minimize the one that caused it.
 */
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "certify.h"
#include "cli.h"
#include "cli_common.h"
#include "fuzzsrv.h"
#include "json.h"
#include "mailspec/mailspec.h"
#include "mailspec/script.h"
#include "mailspec/stream.h"
#include "proto_desc.h"

#define MAX_CORPUS   4096
#define SHAPE_SET    (1u << 16)
#define RING         64
#define MAX_FINDINGS 32
#define RECOVER_MS   20000u
#define MINIMIZE_MS  20000u

enum {
    OPT_DURATION = MS_OPT_CONN_LAST,
    OPT_OUT,
    OPT_MAX_SESSIONS,
    OPT_SEED,
    OPT_JOBS,
    OPT_YES,
    OPT_PROBE_EVERY,
    OPT_MAX_FINDINGS,
};

static const struct option options[] = {
    MS_CLI_CONN_OPTIONS,
    {"duration", required_argument, NULL, OPT_DURATION},
    {"out", required_argument, NULL, OPT_OUT},
    {"max-sessions", required_argument, NULL, OPT_MAX_SESSIONS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"jobs", required_argument, NULL, OPT_JOBS},
    {"yes", no_argument, NULL, OPT_YES},
    {"probe-every", required_argument, NULL, OPT_PROBE_EVERY},
    {"max-findings", required_argument, NULL, OPT_MAX_FINDINGS},
    {NULL, 0, NULL, 0},
};

static volatile int stop_flag;

static void on_sigint(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mailspec fuzz-server --protocol P --out DIR [OPTIONS] [SEEDS...]\n\n"
            "Fuzz a live server: mutate seed sessions (suite files and recorded sessions;\n"
            "default: the protocol's suite, plus DIR/corpus from an earlier run) at the\n"
            "message, byte, segment and TLS levels; watch for replies that break the\n"
            "grammar, a server that stops answering new connections, slow answers, and\n"
            "(IMAP) an OK to a command of the authenticated state before login.\n"
            "Findings are minimized and written as DIR/*.session (run them with\n"
            "`mailspec replay`) with a JSON record each; DIR/summary.json sums up.\n\n"
            "%s"
            "Campaign:\n"
            "  --out DIR                   findings, corpus and summary.json (required)\n"
            "  --duration SECONDS          stop after this long (default 60)\n"
            "  --max-sessions N            stop after N cases\n"
            "  --max-findings N            stop after N findings\n"
            "  --seed N                    the generator's seed (default: from the clock)\n"
            "  --jobs N                    connections at once (default 8, at most 64)\n"
            "  --probe-every N             liveness probe after every N cases per job\n"
            "                              (default 8; also after any abrupt close)\n"
            "  --yes                       fuzz a host that is not a loopback address\n"
            "  --timeout SECONDS           also bounds each probe and handshake (default 10)\n"
            "  -q, --quiet                 no progress line\n\n"
            "Exit status: 0 nothing found, 1 a finding, 2 usage error or the server was\n"
            "not reachable at the start.\n",
            ms_cli_conn_usage);
}

/* ---- the campaign ---- */

struct finding_rec {
    int kind;
    char rule[256];
};

struct camp {
    struct fz_target t;
    struct fz_vals vals;
    const char *out;
    unsigned jobs, probe_every, quiet;
    uint64_t seed, max_sessions, duration_s, max_findings;
    uint64_t t0, deadline;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* corpus */
    struct fz_case *corpus;
    size_t ncorpus, nseeds, next_seed;
    uint32_t *shapes;
    size_t nshapes;
    /* recent cases, for liveness triage */
    struct fz_case ring[RING];
    size_t ring_next, ring_n;
    /* counters */
    uint64_t sessions, probes, unreproduced, liveness_repeats;
    uint64_t base_ms[32];
    size_t nbase;
    /* pausing for triage */
    int paused, in_flight, triaging;
    /* findings */
    struct finding_rec found[MAX_FINDINGS];
    size_t nfound;
    struct ms_json *records;
    int dead; /* the server never came back: the campaign ends */
};

static int shape_add(struct camp *c, uint32_t h)
{
    if (!h)
        h = 1;
    size_t i = h & (SHAPE_SET - 1);
    for (size_t k = 0; k < SHAPE_SET; k++, i = (i + 1) & (SHAPE_SET - 1)) {
        if (c->shapes[i] == h)
            return 0;
        if (c->shapes[i] == 0) {
            if (c->nshapes >= SHAPE_SET / 2)
                return 0;
            c->shapes[i] = h;
            c->nshapes++;
            return 1;
        }
    }
    return 0;
}

/* The verb of a step: its first word (IMAP: the word after the tag), upper case. */
static uint32_t verb_hash(const char *proto, const struct fz_step *st)
{
    size_t i = 0, n = st->len;
    uint32_t h = 2166136261u;
    if (st->op != FZ_SEND)
        return st->op;
    if (strcmp(proto, "imap") == 0) {
        while (i < n && st->data[i] != ' ' && st->data[i] != '\n')
            i++;
        if (i < n && st->data[i] == ' ')
            i++;
    }
    for (size_t k = 0; i < n && k < 12 && st->data[i] > ' '; i++, k++) {
        unsigned char ch = (unsigned char)st->data[i];
        h ^= (ch >= 'a' && ch <= 'z') ? ch - 32u : ch;
        h *= 16777619u;
    }
    return h;
}

/* New (verb, reply shape, TLS) pairs: the case joins the corpus. Under the lock. */
static int feedback(struct camp *c, const struct fz_case *k, const struct fz_result *r)
{
    int fresh = 0;
    for (size_t i = 0; i < r->nreplies; i++) {
        size_t s = r->step_of[i];
        uint32_t v = s && s <= k->n ? verb_hash(c->t.proto, &k->steps[s - 1]) : 0;
        int tls = 0;
        for (size_t j = 0; j < s && j < k->n; j++)
            tls |= k->steps[j].op == FZ_TLS;
        uint32_t h = (v * 31u + r->replies[i].shape) * 2u + (uint32_t)tls;
        fresh |= shape_add(c, h);
    }
    return fresh;
}

static int corpus_add(struct camp *c, const struct fz_case *k)
{
    if (c->ncorpus >= MAX_CORPUS)
        return -1;
    if (fz_case_copy(&c->corpus[c->ncorpus], k) != 0)
        return -1;
    c->ncorpus++;
    return 0;
}

/* ---- findings ---- */

/* The rule part of a grammar detail (before the offset). */
static void rule_of(const char *detail, char *out, size_t cap)
{
    const char *p = strstr(detail, " (server stream offset");
    size_t n = p ? (size_t)(p - detail) : strlen(detail);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, detail, n);
    out[n] = '\0';
}

static int already(struct camp *c, int kind, const char *rule)
{
    for (size_t i = 0; i < c->nfound; i++)
        if (c->found[i].kind == kind &&
            ((kind != FZ_GRAMMAR && kind != FZ_STATE) || strcmp(c->found[i].rule, rule) == 0))
            return 1;
    return 0;
}

static int write_file(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    size_t w = fwrite(text, 1, n, f);
    int rc = fclose(f);
    return w == n && rc == 0 ? 0 : -1;
}

/* Write the finding (session + JSON record). Under the lock. */
static void report(struct camp *c, int kind, const struct fz_case *k, const struct fz_result *r,
                   const char *detail, const char *how)
{
    char rule[256] = "", id[64], path[4096];
    if (kind == FZ_GRAMMAR || kind == FZ_STATE)
        rule_of(detail, rule, sizeof(rule));
    if (already(c, kind, rule) || c->nfound >= MAX_FINDINGS)
        return;
    size_t no = c->nfound + 1;
    snprintf(id, sizeof(id), "fuzz.%s.%03zu", fz_kind_name(kind), no);
    char *text = fz_session_text(&c->t, k, r, kind, id, detail);
    if (!text)
        return;
    snprintf(path, sizeof(path), "%s/finding-%03zu-%s.session", c->out, no, fz_kind_name(kind));
    if (write_file(path, text, strlen(text)) != 0)
        fprintf(stderr, "mailspec fuzz-server: cannot write %s: %s\n", path, strerror(errno));
    free(text);
    struct ms_json *rec = ms_json_new(MS_JSON_OBJECT);
    char base[96];
    snprintf(base, sizeof(base), "finding-%03zu-%s.session", no, fz_kind_name(kind));
    if (rec) {
        ms_json_set_str(rec, "id", id);
        ms_json_set_str(rec, "kind", fz_kind_name(kind));
        ms_json_set_str(rec, "detail", detail);
        ms_json_set_str(rec, "session", base);
        ms_json_set_num(rec, "steps", k->n);
        ms_json_set_str(rec, "minimized", how);
        ms_json_set(rec, "replayable", ms_json_new_bool(kind != FZ_LATENCY));
        if (kind == FZ_LATENCY)
            ms_json_set_str(rec, "not_replayable_because", "replay does not judge timing");
        size_t tn = 0;
        char *rt = ms_json_text(rec, &tn);
        snprintf(path, sizeof(path), "%s/finding-%03zu-%s.json", c->out, no, fz_kind_name(kind));
        if (rt)
            (void)write_file(path, rt, tn);
        free(rt);
        ms_json_append(c->records, rec);
    }
    c->found[c->nfound].kind = kind;
    snprintf(c->found[c->nfound].rule, sizeof(c->found[0].rule), "%s", rule);
    c->nfound++;
    fprintf(stderr, "\nmailspec fuzz-server: FINDING %s: %s -> %s/%s\n", fz_kind_name(kind), detail,
            c->out, base);
}

/* ---- oracles re-run (minimization) ---- */

struct still_ctx {
    struct camp *c;
    struct fz_exec *e;
    int kind;
    char rule[256];
    struct fz_result *r;
};

/* Wait until a probe succeeds again; 0, or -1 when the server stays dead. */
static int recover(struct camp *c, struct fz_exec *e)
{
    char d[600];
    uint64_t ms, end = ms_now_ms() + RECOVER_MS;
    while (ms_now_ms() < end && !stop_flag) {
        if (fz_probe(e, &ms, d, sizeof(d)) == 0)
            return 0;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    (void)c;
    return -1;
}

static int still_fires(void *ctx, const struct fz_case *k)
{
    struct still_ctx *s = ctx;
    char d[600], rule[256];
    uint64_t ms;
    if (stop_flag)
        return 0;
    fz_exec(s->e, k, s->r);
    if (s->kind == FZ_GRAMMAR || s->kind == FZ_STATE) {
        rule_of(s->r->detail, rule, sizeof(rule));
        return s->r->kind == s->kind && strcmp(rule, s->rule) == 0;
    }
    int dead = fz_probe(s->e, &ms, d, sizeof(d)) == -1;
    if (dead)
        (void)recover(s->c, s->e);
    return dead;
}

/* A grammar violation or a state contradiction: re-run, minimize, report. */
static void reply_found(struct camp *c, struct fz_exec *e, const struct fz_case *k,
                        const struct fz_result *r0)
{
    struct still_ctx s = {c, e, r0->kind, "", NULL};
    struct fz_case m;
    rule_of(r0->detail, s.rule, sizeof(s.rule));
    pthread_mutex_lock(&c->mu);
    int dup = already(c, s.kind, s.rule);
    pthread_mutex_unlock(&c->mu);
    if (dup)
        return;
    s.r = malloc(sizeof(*s.r));
    if (!s.r || fz_case_copy(&m, k) != 0) {
        free(s.r);
        return;
    }
    if (!still_fires(&s, &m)) {
        pthread_mutex_lock(&c->mu);
        c->unreproduced++;
        pthread_mutex_unlock(&c->mu);
    } else {
        size_t tries = fz_minimize(&m, still_fires, &s, ms_now_ms() + MINIMIZE_MS, 400);
        still_fires(&s, &m); /* the replies of the minimized case, for its expectations */
        char how[64];
        snprintf(how, sizeof(how), "%zu re-runs", tries);
        pthread_mutex_lock(&c->mu);
        report(c, s.kind, &m, s.r->kind == s.kind ? s.r : NULL,
               s.r->kind == s.kind ? s.r->detail : r0->detail, how);
        pthread_mutex_unlock(&c->mu);
    }
    fz_case_free(&m);
    free(s.r);
}

/* Pause the other workers (they finish their case); returns 0 when this worker triages. */
static int pause_all(struct camp *c)
{
    pthread_mutex_lock(&c->mu);
    if (c->triaging) {
        pthread_mutex_unlock(&c->mu);
        return -1;
    }
    c->triaging = 1;
    c->paused = 1;
    c->in_flight--; /* this worker's own case is over */
    while (c->in_flight > 0)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

static void resume_all(struct camp *c)
{
    pthread_mutex_lock(&c->mu);
    c->paused = 0;
    c->triaging = 0;
    c->in_flight++;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* A probe failed (dead) or was slow (kind FZ_LATENCY): find the case that did it. */
static void triage(struct camp *c, struct fz_exec *e, int kind, const char *why)
{
    if (pause_all(c) != 0)
        return;
    pthread_mutex_lock(&c->mu);
    int dup = already(c, kind, "");
    pthread_mutex_unlock(&c->mu);
    if (recover(c, e) != 0) {
        if (stop_flag) { /* interrupted: no verdict */
            resume_all(c);
            return;
        }
        /* the server never came back: the most recent case is the finding, unminimized */
        pthread_mutex_lock(&c->mu);
        if (c->ring_n && !dup) {
            char d[800];
            snprintf(d, sizeof(d), "%s; the server did not recover within %u s", why,
                     RECOVER_MS / 1000);
            report(c, FZ_LIVENESS, &c->ring[(c->ring_next + RING - 1) % RING], NULL, d,
                   "not minimized: the server did not come back");
        }
        c->dead = 1;
        stop_flag = 1;
        pthread_mutex_unlock(&c->mu);
        resume_all(c);
        return;
    }
    if (dup) {
        c->liveness_repeats++;
        resume_all(c);
        return;
    }
    struct still_ctx s = {c, e, FZ_LIVENESS, "", malloc(sizeof(struct fz_result))};
    int hit = 0;
    /* the recent cases, newest first, each followed by a probe */
    for (size_t i = 0; s.r && i < c->ring_n && !stop_flag && !hit; i++) {
        struct fz_case *k = &c->ring[(c->ring_next + RING - 1 - i) % RING];
        if (kind == FZ_LATENCY) {
            uint64_t ms;
            char d[600];
            fz_exec(e, k, s.r);
            uint64_t limit = 0;
            pthread_mutex_lock(&c->mu);
            if (c->nbase)
                limit = c->base_ms[c->nbase / 2] * 10;
            pthread_mutex_unlock(&c->mu);
            if (limit < 1000)
                limit = 1000;
            /* slow after the case, fast without it, and slow after it again: the case,
             * not a busy machine, made the server slow */
            uint64_t ms_plain = 0, ms_again = 0;
            if (fz_probe(e, &ms, d, sizeof(d)) == 0 && ms > limit &&
                fz_probe(e, &ms_plain, d, sizeof(d)) == 0 && ms_plain <= limit / 2 &&
                (fz_exec(e, k, s.r), fz_probe(e, &ms_again, d, sizeof(d)) == 0) &&
                ms_again > limit) {
                char det[700];
                snprintf(det, sizeof(det),
                         "a new connection took %llu ms to answer NOOP after "
                         "this case (baseline median %llu ms)",
                         (unsigned long long)ms,
                         (unsigned long long)(c->nbase ? c->base_ms[c->nbase / 2] : 0));
                pthread_mutex_lock(&c->mu);
                report(c, FZ_LATENCY, k, s.r, det, "not minimized (timing)");
                pthread_mutex_unlock(&c->mu);
                hit = 1;
            }
            continue;
        }
        if (still_fires(&s, k)) {
            struct fz_case m;
            if (fz_case_copy(&m, k) != 0)
                break;
            size_t tries = fz_minimize(&m, still_fires, &s, ms_now_ms() + MINIMIZE_MS, 200);
            /* the replies of the minimized case (the server dies again: recover after) */
            fz_exec(e, &m, s.r);
            uint64_t ms;
            char d[600];
            if (fz_probe(e, &ms, d, sizeof(d)) != 0)
                (void)recover(c, e);
            char how[64];
            snprintf(how, sizeof(how), "%zu re-runs", tries);
            pthread_mutex_lock(&c->mu);
            report(c, FZ_LIVENESS, &m, s.r, why, how);
            pthread_mutex_unlock(&c->mu);
            fz_case_free(&m);
            hit = 1;
        }
    }
    if (!hit && !stop_flag) {
        pthread_mutex_lock(&c->mu);
        c->unreproduced++;
        pthread_mutex_unlock(&c->mu);
    }
    free(s.r);
    resume_all(c);
}

/* ---- workers ---- */

struct worker {
    struct camp *c;
    unsigned idx;
};

static int time_up(struct camp *c)
{
    return stop_flag || ms_now_ms() >= c->deadline ||
           (c->max_sessions && c->sessions >= c->max_sessions) ||
           (c->max_findings && c->nfound >= c->max_findings);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct camp *c = w->c;
    struct ms_rng rng;
    struct fz_exec *e = fz_exec_new(&c->t);
    struct fz_result *r = malloc(sizeof(*r));
    unsigned since_probe = 0;

    ms_rng_seed(&rng, c->seed * 1000003u + w->idx + 1);
    if (!e || !r) {
        fz_exec_free(e);
        free(r);
        return NULL;
    }
    pthread_mutex_lock(&c->mu);
    c->in_flight++;
    pthread_mutex_unlock(&c->mu);
    for (;;) {
        struct fz_case k;
        pthread_mutex_lock(&c->mu);
        while (c->paused && !stop_flag) {
            c->in_flight--;
            pthread_cond_broadcast(&c->cv);
            while (c->paused && !stop_flag)
                pthread_cond_wait(&c->cv, &c->mu);
            c->in_flight++;
        }
        if (time_up(c)) {
            c->in_flight--;
            pthread_cond_broadcast(&c->cv);
            pthread_mutex_unlock(&c->mu);
            break;
        }
        c->sessions++;
        int fresh_seed = c->next_seed < c->nseeds;
        size_t pick = fresh_seed ? c->next_seed++ : ms_rng_below(&rng, c->ncorpus);
        int ok = fz_case_copy(&k, &c->corpus[pick]) == 0;
        const struct fz_case *other = &c->corpus[ms_rng_below(&rng, c->ncorpus)];
        if (ok && !fresh_seed)
            (void)fz_mutate(&k, other, c->t.proto, &rng);
        pthread_mutex_unlock(&c->mu);
        if (!ok)
            continue;
        fz_exec(e, &k, r);
        pthread_mutex_lock(&c->mu);
        fz_case_free(&c->ring[c->ring_next]);
        (void)fz_case_copy(&c->ring[c->ring_next], &k);
        c->ring_next = (c->ring_next + 1) % RING;
        if (c->ring_n < RING)
            c->ring_n++;
        if (!r->conn_failed && feedback(c, &k, r) && !fresh_seed)
            (void)corpus_add(c, &k);
        pthread_mutex_unlock(&c->mu);
        if (r->kind == FZ_GRAMMAR || r->kind == FZ_STATE)
            reply_found(c, e, &k, r);
        if (r->conn_failed || r->closed_silently || ++since_probe >= c->probe_every) {
            uint64_t ms;
            char d[600];
            since_probe = 0;
            pthread_mutex_lock(&c->mu);
            c->probes++;
            pthread_mutex_unlock(&c->mu);
            int pr = fz_probe(e, &ms, d, sizeof(d));
            if (pr == -1 && !stop_flag) {
                triage(c, e, FZ_LIVENESS, d);
            } else if (pr == 0) {
                pthread_mutex_lock(&c->mu);
                uint64_t median = c->nbase ? c->base_ms[c->nbase / 2] : 0;
                int full = c->nbase >= 8;
                if (c->nbase < 32) { /* the baseline: the first probes, kept sorted */
                    size_t i = c->nbase++;
                    while (i > 0 && c->base_ms[i - 1] > ms) {
                        c->base_ms[i] = c->base_ms[i - 1];
                        i--;
                    }
                    c->base_ms[i] = ms;
                }
                pthread_mutex_unlock(&c->mu);
                if (full && ms > 1000 && ms > 10 * median) {
                    char why[200];
                    snprintf(why, sizeof(why), "probe took %llu ms", (unsigned long long)ms);
                    triage(c, e, FZ_LATENCY, why);
                }
            }
        }
        fz_case_free(&k);
    }
    fz_exec_free(e);
    free(r);
    return NULL;
}

/* ---- seeds ---- */

static int load_seed_file(struct camp *c, const char *path, int quiet_errors)
{
    char *text = NULL;
    size_t len = 0;
    struct ms_script_error err = {0};
    if (ms_read_file(path, &text, &len) != 0)
        return -1;
    struct ms_script *s = ms_script_parse(text, len, &err);
    free(text);
    if (!s) {
        if (!quiet_errors)
            fprintf(stderr, "mailspec fuzz-server: %s:%zu:%zu: error: %s\n", path, err.line,
                    err.col, err.reason);
        return -1;
    }
    int rc = 0;
    if (!*s->protocol || strcmp(s->protocol, c->t.proto) == 0) {
        struct fz_case k;
        if (fz_case_from_script(&k, s, &c->vals) == 0) {
            /* --tls starttls: the upgrade first, unless the seed does its own */
            int has_tls = 0;
            for (size_t i = 0; i < k.n; i++)
                has_tls |= k.steps[i].op == FZ_TLS;
            if (c->t.tls == MS_TLS_STARTTLS && !has_tls) {
                const struct ms_proto_desc *d = ms_proto_desc(c->t.proto);
                struct fz_case u = {0};
                char line[128];
                int n;
                if (d->pre) {
                    n = snprintf(line, sizeof(line), "%s\r\n", d->pre);
                    (void)fz_case_add(&u, FZ_SEND, line, (size_t)n);
                }
                n = snprintf(line, sizeof(line), "%s\r\n", d->starttls);
                (void)fz_case_add(&u, FZ_SEND, line, (size_t)n);
                (void)fz_case_add(&u, FZ_TLS, NULL, 0);
                for (size_t i = 0; i < k.n; i++)
                    if (fz_case_add(&u, k.steps[i].op, k.steps[i].data, k.steps[i].len) == 0)
                        u.steps[u.n - 1].flags = k.steps[i].flags;
                fz_case_free(&k);
                k = u;
            }
            if (c->ncorpus < MAX_CORPUS)
                c->corpus[c->ncorpus++] = k;
            else
                fz_case_free(&k);
        }
    }
    ms_script_free(s);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A file, or every *.session in a directory (sorted). */
static int load_seeds(struct camp *c, const char *path, int missing_ok)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (missing_ok)
            return 0;
        fprintf(stderr, "mailspec fuzz-server: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return load_seed_file(c, path, 0);
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "mailspec fuzz-server: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 9 || strcmp(de->d_name + l - 8, ".session") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof(*nn));
            if (!nn)
                break;
            names = nn;
        }
        size_t pl = strlen(path) + l + 2;
        names[n] = malloc(pl);
        if (!names[n])
            break;
        snprintf(names[n], pl, "%s/%s", path, de->d_name);
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp_str);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (load_seed_file(c, names[i], missing_ok) != 0 && !missing_ok)
            rc = -1;
        free(names[i]);
    }
    free(names);
    return rc;
}

/* The corpus for the next run: DIR/corpus/NNNNN.session (cases with a close_notify left out). */
static void save_corpus(struct camp *c)
{
    char dir[4096], path[4200];
    snprintf(dir, sizeof(dir), "%s/corpus", c->out);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return;
    for (size_t i = c->nseeds; i < c->ncorpus; i++) {
        const struct fz_case *k = &c->corpus[i];
        int skip = 0;
        for (size_t j = 0; j < k->n; j++)
            skip |= k->steps[j].op == FZ_TLS_CLOSE;
        if (skip)
            continue;
        char id[48];
        snprintf(id, sizeof(id), "fuzz.corpus.%llx.%zu", (unsigned long long)c->seed, i);
        char *text = fz_session_text(&c->t, k, NULL, FZ_NONE, id, "corpus entry");
        if (!text)
            continue;
        snprintf(path, sizeof(path), "%s/%llx-%05zu.session", dir, (unsigned long long)c->seed, i);
        (void)write_file(path, text, strlen(text));
        free(text);
    }
}

/* Every address of host is a loopback one. */
static int is_loopback(const char *host)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return 1; /* the connection fails later with a clear message */
    int lo = 1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            const struct sockaddr_in *s = (const void *)a->ai_addr;
            lo &= (ntohl(s->sin_addr.s_addr) >> 24) == 127;
        } else if (a->ai_family == AF_INET6) {
            const struct sockaddr_in6 *s = (const void *)a->ai_addr;
            lo &= IN6_IS_ADDR_LOOPBACK(&s->sin6_addr);
        }
    }
    freeaddrinfo(res);
    return lo;
}

static void progress(struct camp *c, int final)
{
    double secs = (double)(ms_now_ms() - c->t0) / 1000.0;
    fprintf(stderr,
            "%sfuzz-server: %llu sessions, %.1f/s, corpus %zu, reply shapes %zu, findings %zu%s",
            isatty(2) && !final ? "\r" : "", (unsigned long long)c->sessions,
            secs > 0 ? (double)c->sessions / secs : 0.0, c->ncorpus, c->nshapes, c->nfound,
            isatty(2) && !final ? "   " : "\n");
}

static int write_summary(struct camp *c, struct ms_cli *cli)
{
    double secs = (double)(ms_now_ms() - c->t0) / 1000.0;
    struct ms_json *j = ms_json_new(MS_JSON_OBJECT);
    char path[4096], num[64];
    if (!j)
        return -1;
    ms_json_set_str(j, "protocol", c->t.proto);
    ms_json_set_str(j, "host", c->t.host);
    ms_json_set_str(j, "port", c->t.port);
    ms_json_set_str(j, "tls", ms_tls_mode_name(c->t.tls));
    ms_json_set_str(j, "mailspec_version", MAILSPEC_VERSION);
    ms_json_set_num(j, "sessions", c->sessions);
    snprintf(num, sizeof(num), "%.3f", secs);
    struct ms_json *n = ms_json_new_number(0);
    if (n) {
        free(n->str);
        n->str = strdup(num);
        n->len = n->str ? strlen(n->str) : 0;
        ms_json_set(j, "seconds", n);
    }
    snprintf(num, sizeof(num), "%.1f", secs > 0 ? (double)c->sessions / secs : 0.0);
    n = ms_json_new_number(0);
    if (n) {
        free(n->str);
        n->str = strdup(num);
        n->len = n->str ? strlen(n->str) : 0;
        ms_json_set(j, "sessions_per_second", n);
    }
    ms_json_set_num(j, "seed", c->seed);
    ms_json_set_num(j, "jobs", c->jobs);
    ms_json_set_num(j, "probes", c->probes);
    ms_json_set_num(j, "corpus", c->ncorpus);
    ms_json_set_num(j, "seeds", c->nseeds);
    ms_json_set_num(j, "reply_shapes", c->nshapes);
    ms_json_set_num(j, "unreproduced", c->unreproduced);
    ms_json_set(j, "server_recovered", ms_json_new_bool(!c->dead));
    ms_json_set(j, "findings", c->records);
    c->records = NULL;
    (void)cli;
    size_t tl = 0;
    char *text = ms_json_text(j, &tl);
    snprintf(path, sizeof(path), "%s/summary.json", c->out);
    int rc = text ? write_file(path, text, tl) : -1;
    if (rc != 0)
        fprintf(stderr, "mailspec fuzz-server: cannot write %s\n", path);
    free(text);
    ms_json_free(j);
    return rc;
}

int ms_cmd_fuzz_server(int argc, char **argv)
{
    struct ms_cli cli;
    struct camp *c = calloc(1, sizeof(*c));
    int code, yes = 0, rc = MS_EXIT_USAGE, seed_given = 0;
    uint64_t v;

    if (!c) {
        fprintf(stderr, "mailspec fuzz-server: out of memory\n");
        return MS_EXIT_USAGE;
    }
    ms_cli_init(&cli, "fuzz-server");
    c->duration_s = 60;
    c->jobs = 8;
    c->probe_every = 8;
    optind = 1;
    while ((code = getopt_long(argc, argv, "qvh", options, NULL)) != -1) {
        int r = ms_cli_option(&cli, code, optarg);
        if (r < 0)
            goto out;
        if (r > 0)
            continue;
        switch (code) {
        case OPT_DURATION:
            if (ms_number_parse(optarg, strlen(optarg), 86400 * 7, &v) != MS_OK || v == 0) {
                fprintf(stderr, "mailspec fuzz-server: --duration: takes 1 to 604800 seconds\n");
                goto out;
            }
            c->duration_s = v;
            break;
        case OPT_OUT:
            c->out = optarg;
            break;
        case OPT_MAX_SESSIONS:
            if (ms_number_parse(optarg, strlen(optarg), UINT64_MAX >> 1, &v) != MS_OK || v == 0) {
                fprintf(stderr, "mailspec fuzz-server: --max-sessions: takes a number from 1\n");
                goto out;
            }
            c->max_sessions = v;
            break;
        case OPT_SEED:
            if (ms_number_parse(optarg, strlen(optarg), UINT64_MAX >> 1, &v) != MS_OK) {
                fprintf(stderr, "mailspec fuzz-server: --seed: takes a number\n");
                goto out;
            }
            c->seed = v;
            seed_given = 1;
            break;
        case OPT_JOBS:
            if (ms_number_parse(optarg, strlen(optarg), 64, &v) != MS_OK || v == 0) {
                fprintf(stderr, "mailspec fuzz-server: --jobs: takes 1 to 64\n");
                goto out;
            }
            c->jobs = (unsigned)v;
            break;
        case OPT_PROBE_EVERY:
            if (ms_number_parse(optarg, strlen(optarg), 100000, &v) != MS_OK || v == 0) {
                fprintf(stderr, "mailspec fuzz-server: --probe-every: takes 1 to 100000\n");
                goto out;
            }
            c->probe_every = (unsigned)v;
            break;
        case OPT_MAX_FINDINGS:
            if (ms_number_parse(optarg, strlen(optarg), MAX_FINDINGS, &v) != MS_OK || v == 0) {
                fprintf(stderr, "mailspec fuzz-server: --max-findings: takes 1 to %d\n",
                        MAX_FINDINGS);
                goto out;
            }
            c->max_findings = v;
            break;
        case OPT_YES:
            yes = 1;
            break;
        default:
            ms_cli_bad_option("fuzz-server", argc, argv);
            goto out;
        }
    }
    if (cli.help) {
        usage(stdout);
        rc = MS_EXIT_OK;
        goto out;
    }
    if (!cli.ro.protocol) {
        fprintf(stderr, "mailspec fuzz-server: --protocol is required (smtp, pop3 or imap)\n");
        goto out;
    }
    if (!c->out) {
        fprintf(stderr, "mailspec fuzz-server: --out DIR is required\n");
        goto out;
    }
    if (ms_cli_finish(&cli) != 0)
        goto out;
    if (!is_loopback(cli.ro.host)) {
        fprintf(stderr,
                "mailspec fuzz-server: WARNING: %s is not a loopback address: fuzzing sends "
                "hostile input that may crash or disturb the server and anyone using it\n",
                cli.ro.host);
        if (!yes) {
            fprintf(stderr, "mailspec fuzz-server: add --yes to fuzz it anyway\n");
            goto out;
        }
    }
    if (mkdir(c->out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "mailspec fuzz-server: --out %s: %s\n", c->out, strerror(errno));
        goto out;
    }
    c->quiet = (unsigned)cli.quiet;
    c->t.proto = cli.ro.protocol;
    c->t.p = ms_proto_find(c->t.proto);
    c->t.host = cli.ro.host;
    c->t.port = cli.ro.port;
    c->t.tls = cli.ro.tls;
    c->t.tlso = &cli.ro.tlso;
    c->t.timeout_ms = cli.ro.timeout_ms;
    c->t.reply_wait_ms = 100;
    ms_limits_default(&c->t.lim);
    /* what servers legally or commonly vary: 8-bit text and long lines echoed from commands
     * (docs/differential.md); only syntax errors count as findings */
    c->t.lim.lenient |= MS_LENIENT_8BIT | MS_LENIENT_LONG_LINES;
    c->t.secret[0] = cli.ro.password;
    c->t.stop = &stop_flag;
    c->vals.user = cli.ro.user;
    c->vals.password = cli.ro.password;
    c->vals.host = cli.ro.host;
    c->vals.run = cli.ro.run_id;
    c->vals.rcpt = cli.ro.rcpt;
    c->vals.from = cli.ro.mail_from;
    if (!c->t.p) {
        fprintf(stderr, "mailspec fuzz-server: no parser for %s in this build\n", c->t.proto);
        goto out;
    }
    if (!seed_given)
        c->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
    c->corpus = calloc(MAX_CORPUS, sizeof(*c->corpus));
    c->shapes = calloc(SHAPE_SET, sizeof(*c->shapes));
    c->records = ms_json_new(MS_JSON_ARRAY);
    if (!c->corpus || !c->shapes || !c->records) {
        fprintf(stderr, "mailspec fuzz-server: out of memory\n");
        goto out;
    }
    /* seeds: the arguments, or the protocol's suite; then the saved corpus */
    if (optind < argc) {
        for (int i = optind; i < argc; i++)
            if (load_seeds(c, argv[i], 0) != 0)
                goto out;
    } else {
        struct certify *cf = calloc(1, sizeof(*cf));
        if (!cf)
            goto out;
        cf->protocol = c->t.proto;
        int found = certify_find_suite(cf) == 0;
        if (found)
            (void)load_seeds(c, cf->suite_dir, 0);
        free(cf);
        if (!found)
            goto out;
    }
    char cdir[4096];
    snprintf(cdir, sizeof(cdir), "%s/corpus", c->out);
    (void)load_seeds(c, cdir, 1);
    c->nseeds = c->ncorpus;
    if (!c->ncorpus) {
        fprintf(stderr, "mailspec fuzz-server: no seed for %s (no C: line in the seeds)\n",
                c->t.proto);
        goto out;
    }
    if (c->t.tls != MS_TLS_NONE) {
        char err[512];
        c->t.ssl_ctx = ms_tls_ctx_new(c->t.tlso, err, sizeof(err));
        if (!c->t.ssl_ctx) {
            fprintf(stderr, "mailspec fuzz-server: %s\n", err);
            goto out;
        }
    }
    /* the server must answer before anything is fuzzed */
    {
        struct fz_exec *e = fz_exec_new(&c->t);
        char d[600];
        uint64_t ms;
        int alive = e && fz_probe(e, &ms, d, sizeof(d)) == 0;
        fz_exec_free(e);
        if (!alive) {
            fprintf(stderr, "mailspec fuzz-server: %s port %s: %s\n", c->t.host, c->t.port,
                    e ? d : "out of memory");
            goto out;
        }
    }
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->t0 = ms_now_ms();
    c->deadline = c->t0 + c->duration_s * 1000u;
    if (!c->quiet)
        fprintf(stderr,
                "fuzz-server: %s %s port %s (tls %s), %zu seeds, %u jobs, seed %llu, up to %llu "
                "s\n",
                c->t.proto, c->t.host, c->t.port, ms_tls_mode_name(c->t.tls), c->nseeds, c->jobs,
                (unsigned long long)c->seed, (unsigned long long)c->duration_s);
    struct worker ws[64];
    pthread_t th[64];
    unsigned started = 0;
    for (unsigned i = 0; i < c->jobs; i++) {
        ws[i].c = c;
        ws[i].idx = i;
        if (pthread_create(&th[i], NULL, worker_main, &ws[i]) == 0)
            started++;
        else
            break;
    }
    uint64_t last = ms_now_ms();
    for (;;) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&c->mu);
        int done = time_up(c) && c->in_flight <= 0;
        if (time_up(c))
            pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        if (done || stop_flag)
            break;
        uint64_t now = ms_now_ms();
        if (!c->quiet && now - last >= (isatty(2) ? 1000u : 5000u)) {
            pthread_mutex_lock(&c->mu);
            progress(c, 0);
            pthread_mutex_unlock(&c->mu);
            last = now;
        }
    }
    pthread_mutex_lock(&c->mu);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (!c->quiet || c->nfound)
        progress(c, 1);
    save_corpus(c);
    if (write_summary(c, &cli) != 0)
        goto out;
    if (c->dead)
        fprintf(stderr, "mailspec fuzz-server: the server stopped answering and did not "
                        "recover; the campaign ended early\n");
    rc = c->nfound ? MS_EXIT_FAIL : MS_EXIT_OK;
out:
    if (c->corpus)
        for (size_t i = 0; i < c->ncorpus; i++)
            fz_case_free(&c->corpus[i]);
    for (size_t i = 0; i < RING; i++)
        fz_case_free(&c->ring[i]);
    free(c->corpus);
    free(c->shapes);
    ms_json_free(c->records);
    if (c->t.ssl_ctx)
        ms_tls_ctx_free(c->t.ssl_ctx);
    free(c);
    ms_cli_free(&cli);
    return rc;
}
