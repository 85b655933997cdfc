/*
 * certify's plan (certify.h): find the suite, load its tests, filter them
 * with --only, list them, and run them on the worker pool. Every test is a
 * script run by the runner exactly as `mailspec replay` runs it: the run
 * values (${run}, ${rcpt}, ${from}) and the login step (@login) are the
 * runner's, so a suite file replays the same way.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certify.h"
#include "cli.h"
#include "mailspec/mailspec.h"
#include "mailspec/script.h"
#include "report.h"

static int dir_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Set suite_dir to base/rel/proto if that is a directory (rel may be ""); add
 * the path to the list of places looked in either way. */
static int try_suite(struct certify *c, const char *base, const char *rel, char *looked, size_t cap)
{
    int n = snprintf(c->suite_dir, sizeof(c->suite_dir), "%s%s%s%s", base, *base ? "/" : "", rel,
                     c->protocol);
    size_t l = strlen(looked);
    char canon[PATH_MAX];
    if (n > 0 && (size_t)n < sizeof(c->suite_dir) && dir_exists(c->suite_dir)) {
        if (strstr(c->suite_dir, "/../") && realpath(c->suite_dir, canon))
            memcpy(c->suite_dir, canon, strlen(canon) + 1); /* both PATH_MAX */
        return 1;
    }
    if (n > 0 && l < cap)
        snprintf(looked + l, cap - l, "  %s\n", c->suite_dir);
    return 0;
}

/*
 * The default suite, the first of: $MAILSPEC_SUITES/<proto>; next to the
 * binary as installed (<prefix>/bin/mailspec: <prefix>/share/mailspec/suites);
 * conformance/suites/<proto> walking up from the binary (the build tree:
 * build/, build/x/); conformance/suites/<proto> under the current directory.
 */
int certify_find_suite(struct certify *c)
{
    char exe[PATH_MAX], looked[4 * PATH_MAX + 64] = "";
    const char *env = getenv("MAILSPEC_SUITES");

    if (c->suite) {
        int n = snprintf(c->suite_dir, sizeof(c->suite_dir), "%s", c->suite);
        if (n > 0 && (size_t)n < sizeof(c->suite_dir) && dir_exists(c->suite_dir))
            return 0;
        fprintf(stderr, "mailspec certify: --suite %s: not a directory\n", c->suite);
        return -1;
    }
    if (env && *env && try_suite(c, env, "", looked, sizeof(looked)))
        return 0;
    if (!env || !*env)
        snprintf(looked, sizeof(looked), "  $MAILSPEC_SUITES/%s (MAILSPEC_SUITES is not set)\n",
                 c->protocol);
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash && slash != exe) {
            *slash = '\0'; /* the binary's directory */
            if (try_suite(c, exe, "../share/mailspec/suites/", looked, sizeof(looked)))
                return 0;
        }
        for (int up = 0; up < 4; up++) {
            if (try_suite(c, exe, "conformance/suites/", looked, sizeof(looked)))
                return 0;
            slash = strrchr(exe, '/');
            if (!slash || slash == exe)
                break;
            *slash = '\0';
        }
    }
    if (try_suite(c, "", "conformance/suites/", looked, sizeof(looked)))
        return 0;
    fprintf(stderr,
            "mailspec certify: no %s suite found; looked in:\n%s"
            "Point at one with --suite DIR (a directory of .session tests) or with\n"
            "MAILSPEC_SUITES=DIR (a directory holding imap/, pop3/ and smtp/), e.g. the\n"
            "share/mailspec/suites of an installed mailspec or the conformance/suites of its\n"
            "source.\n",
            c->protocol, looked);
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int certify_load_plan(struct certify *c)
{
    DIR *d = opendir(c->suite_dir);
    char **names = NULL;
    size_t nn = 0;
    struct dirent *e;

    if (!d) {
        fprintf(stderr, "mailspec certify: cannot open suite %s: %s\n", c->suite_dir,
                strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 9 || strcmp(e->d_name + l - 8, ".session") != 0 || e->d_name[0] == '.')
            continue;
        if (nn == CERT_MAX_TESTS) {
            fprintf(stderr, "mailspec certify: more than %d tests in %s\n", CERT_MAX_TESTS,
                    c->suite_dir);
            break;
        }
        char **nb = realloc(names, (nn + 1) * sizeof(*names));
        if (!nb)
            break;
        names = nb;
        size_t pl = strlen(c->suite_dir) + l + 2;
        if (!(names[nn] = malloc(pl)))
            break;
        snprintf(names[nn], pl, "%s/%s", c->suite_dir, e->d_name);
        nn++;
    }
    closedir(d);
    if (nn)
        qsort(names, nn, sizeof(*names), cmp_str);
    c->t = calloc(nn ? nn : 1, sizeof(*c->t));
    if (!c->t) {
        for (size_t i = 0; i < nn; i++)
            free(names[i]);
        free(names);
        return -1;
    }
    for (size_t i = 0; i < nn; i++)
        c->t[i].path = names[i];
    c->n = nn;
    free(names);
    if (!nn) {
        fprintf(stderr, "mailspec certify: no .session tests in %s\n", c->suite_dir);
        return -1;
    }
    return certify_mime_add(c); /* the MIME oracle's tests (IMAP, default suite) */
}

/* Read and parse a test file (NULL with se filled in when it does not parse). */
static struct ms_script *load_script(const char *path, struct ms_script_error *se)
{
    char *text = NULL;
    size_t len = 0;

    se->line = se->col = 0;
    if (certify_mime_path(path)) /* a MIME oracle test: its script is generated */
        return certify_mime_script(path, se);
    se->reason = "cannot read the file";
    if (ms_read_file(path, &text, &len) != 0)
        return NULL;
    struct ms_script *s = ms_script_parse(text, len, se);
    free(text);
    return s;
}

static int only_match(const char *pat, const char *id)
{
    size_t l = strlen(pat);
    return l && pat[l - 1] == '*' ? strncmp(id, pat, l - 1) == 0 : strcmp(id, pat) == 0;
}

int certify_list(struct certify *c)
{
    for (size_t i = 0; i < c->n; i++) {
        struct ms_script_error se;
        struct ms_script *s = load_script(c->t[i].path, &se);
        if (!s) {
            printf("%-44s script error at line %zu: %s\n", c->t[i].path, se.line, se.reason);
            continue;
        }
        printf("%-44s %-6s %-14s %s\n", s->id, ms_level_name(s->level), s->rfc, s->title);
        ms_script_free(s);
    }
    for (int v = 0; v < CERT_PROBE_TESTS; v++) {
        const struct cert_generated *g = &certify_probe_tests[v];
        char id[64];
        if (!c->probe_selected[v])
            continue;
        certify_probe_id(c, v, id, sizeof(id));
        printf("%-44s %-6s %-14s %s (TLS-version probe: --tls starttls or implicit)\n", id,
               ms_level_name(MS_LEVEL_MUST), g->rfc, g->title);
    }
    return MS_EXIT_OK;
}

int certify_apply_only(struct certify *c)
{
    unsigned hits[CERT_MAX_ONLY] = {0};
    size_t k = 0;
    int nprobe = 0;

    for (int v = 0; v < CERT_PROBE_TESTS; v++) {
        char id[64];
        certify_probe_id(c, v, id, sizeof(id));
        c->probe_selected[v] = !c->nonly;
        for (size_t j = 0; j < c->nonly; j++)
            if (only_match(c->only[j], id)) {
                hits[j]++;
                c->probe_selected[v] = 1;
            }
        nprobe += c->probe_selected[v];
    }
    if (!c->nonly)
        return 0;
    for (size_t i = 0; i < c->n; i++) {
        struct ms_script_error se;
        struct ms_script *s = load_script(c->t[i].path, &se);
        int keep = !s; /* a script that does not parse stays: it is an error */
        for (size_t j = 0; s && j < c->nonly; j++)
            if (only_match(c->only[j], s->id)) {
                hits[j]++;
                keep = 1;
            }
        if (keep)
            c->t[k++] = c->t[i];
        else
            free(c->t[i].path);
        ms_script_free(s);
    }
    c->n = k;
    int bad = 0;
    for (size_t j = 0; j < c->nonly; j++)
        if (!hits[j]) {
            fprintf(stderr, "mailspec certify: --only %s matches no test (see --list)\n",
                    c->only[j]);
            bad = 1;
        }
    if (!bad && !c->list && c->n == 0 && c->cli.ro.tls == MS_TLS_NONE && nprobe) {
        fprintf(stderr,
                "mailspec certify: --only chose only the TLS-version probe, which runs with "
                "--tls starttls or implicit\n");
        bad = 1;
    }
    return bad ? -1 : 0;
}

/* Step st sends exactly the literal word w (case-insensitive), or starts with it
 * and ends with tail when tail is given. */
static int sends_literal(const struct ms_script *s, const struct ms_step *st, const char *w,
                         const char *tail)
{
    if (st->type != MS_STEP_SEND || st->nparts != 1 || s->parts[st->part0].kind != MS_PART_LIT)
        return 0;
    const char *p = s->bytes + s->parts[st->part0].off;
    size_t n = s->parts[st->part0].len, wl = strlen(w), tl = tail ? strlen(tail) : 0;
    if (n < wl + tl || strncasecmp(p, w, wl) != 0)
        return 0;
    return tail ? strncasecmp(p + n - tl, tail, tl) == 0 : n == wl;
}

/* Step st sends the variable var. */
static int sends_var(const struct ms_script *s, const struct ms_step *st, unsigned var)
{
    for (size_t k = 0; st->type == MS_STEP_SEND && k < st->nparts; k++)
        if (s->parts[st->part0 + k].kind == MS_PART_VAR && s->parts[st->part0 + k].var == var)
            return 1;
    return 0;
}

size_t certify_messages_planned(const struct certify *c)
{
    unsigned bit = c->cli.ro.tls == MS_TLS_IMPLICIT   ? MS_TRANSPORT_IMPLICIT
                   : c->cli.ro.tls == MS_TLS_STARTTLS ? MS_TRANSPORT_STARTTLS
                                                      : MS_TRANSPORT_NONE;
    size_t n = 0;

    if (strcmp(c->protocol, "smtp") != 0)
        return 0;
    for (size_t i = 0; i < c->n; i++) {
        struct ms_script_error se;
        struct ms_script *s = load_script(c->t[i].path, &se);
        if (!s)
            continue;
        int rcpt = 0; /* a RCPT TO with ${rcpt} came first: the message goes somewhere */
        size_t m = 0;
        for (size_t k = 0; (!s->transports || (s->transports & bit)) && k < s->nsteps; k++) {
            const struct ms_step *st = &s->steps[k];
            rcpt |= sends_var(s, st, MS_VAR_RCPT);
            if (rcpt &&
                (sends_literal(s, st, "DATA", NULL) || sends_literal(s, st, "BDAT ", " LAST")))
                m++;
        }
        /* a branch of @either that does not pass runs the script again from the start */
        n += m * (s->nalts ? s->nalts : 1);
        ms_script_free(s);
    }
    return n;
}

/* A result for a test that did not reach the runner. */
static void synth_result(struct ms_test_result *r, const char *path, enum ms_result res,
                         const char *msg)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    memset(r, 0, sizeof(*r));
    r->file = strdup(path);
    r->id = strdup(base);
    if (r->id && strlen(r->id) > 8)
        r->id[strlen(r->id) - 8] = '\0'; /* drop ".session" */
    r->title = strdup("");
    r->rfc = strdup("");
    r->quote = strdup("");
    r->finding = strdup("");
    r->protocol = strdup("");
    r->level = MS_LEVEL_MUST;
    r->result = res;
    r->message = strdup(msg);
    r->transcript = strdup("");
    r->caps = strdup("");
}

static void run_with(struct certify *c, size_t i, const struct ms_run_opts *ro)
{
    struct cert_test *t = &c->t[i];
    struct ms_script_error se;
    struct ms_script *s = load_script(t->path, &se);

    if (!s) {
        char msg[300];
        snprintf(msg, sizeof(msg), "script error at line %zu, column %zu: %s", se.line, se.col,
                 se.reason);
        synth_result(&t->r, t->path, MS_RES_ERROR, msg);
    } else {
        if (certify_mime_path(t->path))
            certify_mime_run(s, t->path, ro, &t->r);
        else
            ms_run_script(s, t->path, ro, &t->r);
        ms_script_free(s);
    }
    t->ran = 1;
}

static void run_one(void *ctx, size_t i)
{
    struct certify *c = ctx;
    run_with(c, i, &c->cli.ro);
}

static void one_done(void *ctx, size_t i)
{
    struct certify *c = ctx;
    struct cert_test *t = &c->t[i];
    struct ms_expect_entry *e = ms_expect_match(&c->expect, t->r.id ? t->r.id : "");

    t->xfail = e ? e->reason : NULL;
    c->done++;
    if (c->quiet)
        return;
    ms_report_progress(c->out, &t->r, c->done, c->n, ms_use_color(c->out), c->verbose ? 1 : 0);
    if (t->xfail && certify_counts_as_failure(t) == 0 &&
        (t->r.result == MS_RES_FAIL || t->r.result == MS_RES_ERROR))
        fprintf(c->out, "      expected failure (--expect-fail): %s\n", t->xfail);
    else if (t->xfail && t->r.result == MS_RES_PASS)
        fprintf(c->out, "      listed in --expect-fail but passed: %s\n", t->xfail);
    fflush(c->out);
}

/* The tests of one pool run: indexes into c->t. */
struct batch {
    struct certify *c;
    size_t *idx;
};

static void batch_one(void *ctx, size_t i)
{
    struct batch *b = ctx;
    run_one(b->c, b->idx[i]);
}

static void batch_done(void *ctx, size_t i)
{
    struct batch *b = ctx;
    one_done(b->c, b->idx[i]);
}

/*
 * A test blocked while others ran beside it gets a second run alone: a
 * server may trip over concurrent sessions of one user (Dovecot 2.3 can
 * refuse a CREATE of a new, unique name with [ALREADYEXISTS] while another
 * session changes its mailbox list), and blocked is no verdict. Only the
 * lone run's result is shown and counted.
 */
static void par_done(void *ctx, size_t i)
{
    struct batch *b = ctx;
    struct cert_test *t = &b->c->t[b->idx[i]];

    if (t->r.result == MS_RES_BLOCKED && !*b->c->stop) {
        t->rerun = 1;
        return;
    }
    one_done(b->c, b->idx[i]);
}

static void rerun_one(void *ctx, size_t i)
{
    struct batch *b = ctx;
    struct cert_test *t = &b->c->t[b->idx[i]];

    /* a run id of its own: a mailbox the first run left (Dovecot's
     * refused CREATE may still create it) does not block the second */
    struct ms_run_opts ro = b->c->cli.ro;
    char id[96];
    if (ro.run_id) {
        snprintf(id, sizeof(id), "%.80sr", ro.run_id);
        ro.run_id = id;
    }
    /* what the first run met stays in the result, after the lone run's own */
    char first[600];
    snprintf(first, sizeof(first), "first run, beside other tests (%llu ms): blocked: %.480s",
             (unsigned long long)t->r.duration_ms, t->r.message ? t->r.message : "");
    ms_test_result_free(&t->r);
    run_with(b->c, b->idx[i], &ro);
    size_t n = t->r.message ? strlen(t->r.message) : 0;
    char *m = malloc(n + strlen(first) + 2);
    if (m) {
        snprintf(m, n + strlen(first) + 2, "%s%s%s", n ? t->r.message : "", n ? "\n" : "", first);
        free(t->r.message);
        t->r.message = m;
    }
}

/*
 * A test that must run alone (docs/certify.md "Parallel runs"): it says
 * @serial, or it is a POP3 test (a POP3 session holds an exclusive lock on
 * the maildrop, RFC 1939 8, so a second session of the user may be refused).
 */
static int runs_alone(const struct certify *c, const struct cert_test *t)
{
    struct ms_script_error se;

    if (strcmp(c->protocol, "pop3") == 0)
        return 1;
    struct ms_script *s = load_script(t->path, &se);
    int alone = s && s->serial;
    ms_script_free(s);
    return alone;
}

/*
 * --jobs N (default 4): the tests run N at a time, each on connections of
 * its own and with mailbox names of its own (${run} has a part of each
 * script's own); then the tests that must run alone, one by one.
 */
void certify_run_all(struct certify *c)
{
    size_t *idx = malloc((c->n ? c->n : 1) * sizeof(*idx));
    if (!idx || c->jobs <= 1) {
        free(idx);
        ms_pool_run(c->n, c->jobs, c->stop, run_one, one_done, c);
        return;
    }
    size_t np = 0, ns = c->n;
    for (size_t i = 0; i < c->n; i++) {
        if (runs_alone(c, &c->t[i]))
            idx[--ns] = i; /* from the end: reversed below */
        else
            idx[np++] = i;
    }
    for (size_t a = ns, z = c->n; a + 1 < z; a++, z--) {
        size_t tmp = idx[a];
        idx[a] = idx[z - 1];
        idx[z - 1] = tmp;
    }
    struct batch par = {c, idx}, alone = {c, idx + ns};
    ms_pool_run(np, c->jobs, c->stop, batch_one, par_done, &par);
    /* the blocked ones of the parallel part, alone, before the @serial ones */
    size_t nr = 0;
    size_t *again = malloc((np ? np : 1) * sizeof(*again));
    for (size_t k = 0; k < np; k++)
        if (c->t[idx[k]].rerun) {
            if (again)
                again[nr++] = idx[k];
            else
                one_done(c, idx[k]); /* no memory for a rerun: the first result stands */
        }
    struct batch re = {c, again};
    if (nr)
        ms_pool_run(nr, 1, c->stop, rerun_one, batch_done, &re);
    free(again);
    ms_pool_run(c->n - ns, 1, c->stop, batch_one, batch_done, &alone);
    free(idx);
}
