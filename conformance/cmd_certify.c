/*
 * mailspec certify: run a protocol's conformance suite (one .session file per
 * test) against one server over one transport, apply the --expect-fail
 * allow-list, and write the terminal summary, JSON, JUnit and HTML reports
 * (docs/certify.md).
 *
 * The runner (runner.h) executes each script; this file only plans the run,
 * provides the certify variables (${run}, ${rcpt}, ${from}), and reports.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "cli.h"
#include "expect.h"
#include "mailspec/mailspec.h"
#include "mailspec/script.h"
#include "report.h"
#include "report_html.h"
#include "runner.h"

#define CERT_MAX_TESTS 2000
#define CERT_MAX_ONLY  32
#define CERT_MAX_JOBS  16
#define CERT_MAX_ALT   4

/* Variables certify adds to the runner's builtins (user, password, host,
 * sasl_plain, ...): pasted into the script text before it is parsed. */
enum { V_RUN, V_RCPT, V_FROM, V_COUNT };
static const char *const var_names[V_COUNT] = {"run", "rcpt", "from"};
/* The runner's builtins that need --user and --password. */
static const char *const cred_vars[] = {
    "user", "password", "sasl_plain", "sasl_plain_authz", "sasl_user", "sasl_password"};
#define N_CRED_VARS (sizeof(cred_vars) / sizeof(cred_vars[0]))

struct cert_test {
    char *path;
    struct ms_test_result r;
    const char *xfail; /* allow-list reason when the id is listed */
    int ran;
    int refusal_passes; /* "# certify: tls-refusal-passes" in the script */
    /* "# certify: alternative" endings: more ways to pass (run_one) */
    struct ms_script *alt[CERT_MAX_ALT];
    size_t nalt;
};

struct certify {
    /* options */
    const char *protocol, *host, *port, *suite, *expect_path;
    const char *json, *junit, *html;
    const char *only[CERT_MAX_ONLY];
    size_t nonly;
    unsigned jobs;
    int list, quiet, verbose;
    struct ms_run_opts ro;
    char *vals[V_COUNT]; /* values, NULL when unavailable */
    /* base64 credentials as the runner sends them: masked in reports */
    char *secret[3];
    /* the plan */
    struct cert_test *t;
    size_t n;
    struct ms_expect expect;
    /* running */
    pthread_mutex_t mu;
    size_t next;
    size_t done;
    char suite_dir[PATH_MAX];
    /* accepted TLS versions (tls_versions[]): 1 yes, 0 no, -1 unknown */
    int tls_ok[4];
    int tls_probed;
    int pop3_no_user; /* CAPA answered without USER (pop3_user_probe) */
    int smtp_auth;    /* EHLO announces AUTH (smtp_auth_probe) */
};

static volatile int stop_flag;

static void on_sigint(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void certify_usage(FILE *f)
{
    fprintf(f, "usage: mailspec certify --protocol P --host H [OPTIONS]\n"
               "       mailspec certify --html-from A.json [B.json ...] --html OUT.html\n\n"
               "Run the protocol's conformance suite against one server over one transport.\n\n"
               "  --protocol P        smtp, pop3 or imap\n"
               "  --host H            server name or address\n"
               "  --port N            port (default: the protocol's port for --tls)\n"
               "  --tls MODE          none, starttls or implicit (default none)\n"
               "  --user U            login for tests that authenticate (skipped without)\n"
               "  --password W        its password\n"
               "  --cafile F          trust the CA certificates in F (default: system store)\n"
               "  --insecure          do not verify the server certificate\n"
               "  --tls-min V         refuse TLS below V (1.2 or 1.3; as in replay)\n"
               "  --suite DIR         directory of .session tests (default: the protocol's\n"
               "                      suite under conformance/suites/)\n"
               "  --only PATTERN      run only test ids equal to PATTERN, or starting with it\n"
               "                      when it ends in '*' (repeatable)\n"
               "  --expect-fail FILE  allow-list of known deviations: 'TEST-ID REASON' a line\n"
               "  --rcpt ADDR         SMTP recipient for transaction tests (default postmaster)\n"
               "  --mail-from ADDR    SMTP reverse-path (default: empty, the null path)\n"
               "  --run-id ID         unique name part for mailboxes the tests create\n"
               "  --timeout SECONDS   per expectation (default 10)\n"
               "  --jobs N            tests run in parallel, 1-16 (default 1)\n"
               "  --json F            JSON report (DESIGN.md contract; docs/certify.md)\n"
               "  --junit F           JUnit XML report\n"
               "  --html F            self-contained HTML report\n"
               "  --html-from F...    render the HTML report (--html) from JSON reports, e.g.\n"
               "                      one per transport: adds a compliance matrix\n"
               "  --list              list the tests of the suite and exit\n"
               "  -q, --quiet         print only the summary\n"
               "  -v, --verbose       print the transcript of each failed test\n"
               "  -h, --help          this help\n\n"
               "Exit status: 0 every MUST-level test passed (allow-listed failures excepted),\n"
               "1 a MUST-level test failed, 2 usage or connection error.\n");
}

/* ------------------------------------------------------------- variables -- */

static char *b64(const char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = malloc((n + 2) / 3 * 4 + 1), *q = o;
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)p[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)p[i + 2];
        *q++ = tab[(v >> 18) & 63];
        *q++ = tab[(v >> 12) & 63];
        *q++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *q++ = i + 2 < n ? tab[v & 63] : '=';
    }
    *q = '\0';
    return o;
}

static int set_vars(struct certify *c, const char *run_id, const char *rcpt, const char *from)
{
    char run[40];

    if (run_id) {
        snprintf(run, sizeof(run), "%s", run_id);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(run, sizeof(run), "ms%lx%04lx", (unsigned long)ts.tv_sec & 0xFFFFFFFu,
                 ((unsigned long)getpid() ^ (unsigned long)ts.tv_nsec) & 0xFFFFu);
    }
    c->vals[V_RUN] = strdup(run);
    c->vals[V_RCPT] = strdup(rcpt ? rcpt : "postmaster");
    c->vals[V_FROM] = strdup(from ? from : "");
    if (c->ro.user && c->ro.password) {
        size_t ul = strlen(c->ro.user), pl = strlen(c->ro.password);
        char *plain = malloc(ul + pl + 2);
        if (!plain)
            return -1;
        /* RFC 4616: [authzid] NUL authcid NUL passwd (the runner's ${sasl_plain}) */
        plain[0] = '\0';
        memcpy(plain + 1, c->ro.user, ul);
        plain[1 + ul] = '\0';
        memcpy(plain + 2 + ul, c->ro.password, pl);
        c->secret[0] = b64(plain, ul + pl + 2);
        free(plain);
        c->secret[1] = b64(c->ro.password, pl);
        c->secret[2] = strdup(c->ro.password);
        if (!c->secret[0] || !c->secret[1] || !c->secret[2])
            return -1;
    }
    return c->vals[V_RUN] && c->vals[V_RCPT] && c->vals[V_FROM] ? 0 : -1;
}

/* A value is safe to paste into script text: no escapes, no variables. */
static int safe_value(const char *v)
{
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x21 || *p == 0x7F || *p == '\\' || *p == '$' || *p == '>' ||
            *p == '<')
            return 0;
    return 1;
}

static int uses_var(const char *text, size_t len, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + nl + 3 <= len; i++)
        if (text[i] == '$' && text[i + 1] == '{' && memcmp(text + i + 2, name, nl) == 0 &&
            text[i + 2 + nl] == '}')
            return 1;
    return 0;
}

/*
 * Paste certify's variables into the script text (the runner knows only the
 * builtins). A variable without a value becomes
 * "unset" and *missing names it: the test is then skipped, but its metadata
 * still parses. Returns the new text (malloc'd), or NULL when out of memory.
 */
static char *expand(const struct certify *c, const char *text, size_t len, size_t *outlen,
                    const char **missing)
{
    size_t cap = len + 1;
    *missing = NULL;
    for (int v = 0; v < V_COUNT; v++)
        if (uses_var(text, len, var_names[v])) {
            if (!c->vals[v] && !*missing)
                *missing = var_names[v];
            /* at most one use per 4 bytes of text */
            cap += len / 4 * (c->vals[v] ? strlen(c->vals[v]) : 5);
        }
    /* "# certify: smtp-login" lines become an AUTH PLAIN exchange when
     * credentials are given (SMTP servers that only relay for users). */
    static const char login_mark[] = "# certify: smtp-login";
    static const char login_text[] = "C: AUTH PLAIN ${sasl_plain}\nS: 235 ${*}";
    int creds = c->ro.user && c->ro.password && c->smtp_auth;
    if (creds)
        cap += len / (sizeof(login_mark) - 1) * sizeof(login_text);
    char *o = malloc(cap), *q = o;
    if (!o)
        return NULL;
    for (size_t i = 0; i < len;) {
        int hit = -1;
        if (creds && (i == 0 || text[i - 1] == '\n') && len - i >= sizeof(login_mark) - 1 &&
            memcmp(text + i, login_mark, sizeof(login_mark) - 1) == 0 &&
            (i + sizeof(login_mark) - 1 == len || text[i + sizeof(login_mark) - 1] == '\n' ||
             text[i + sizeof(login_mark) - 1] == '\r')) {
            memcpy(q, login_text, sizeof(login_text) - 1);
            q += sizeof(login_text) - 1;
            i += sizeof(login_mark) - 1;
            continue;
        }
        if (text[i] == '$' && i + 1 < len && text[i + 1] == '{')
            for (int v = 0; v < V_COUNT && hit < 0; v++) {
                size_t nl = strlen(var_names[v]);
                if (i + nl + 3 <= len && memcmp(text + i + 2, var_names[v], nl) == 0 &&
                    text[i + 2 + nl] == '}')
                    hit = v;
            }
        if (hit < 0) {
            *q++ = text[i++];
            continue;
        }
        const char *val = c->vals[hit] ? c->vals[hit] : "unset";
        size_t vl = strlen(val);
        memcpy(q, val, vl);
        q += vl;
        i += strlen(var_names[hit]) + 3;
    }
    *q = '\0';
    *outlen = (size_t)(q - o);
    return o;
}

/* Replace every occurrence of secret in *s by label (credentials out of reports). */
static void mask(char **s, const char *secret, const char *label)
{
    size_t sl, ll = strlen(label), n = 0;
    char *p, *o, *q;

    if (!*s || !secret || (sl = strlen(secret)) < 4)
        return;
    for (p = strstr(*s, secret); p; p = strstr(p + sl, secret))
        n++;
    if (!n)
        return;
    o = malloc(strlen(*s) + n * ll + 1);
    if (!o)
        return;
    q = o;
    for (p = *s;;) {
        char *hit = strstr(p, secret);
        if (!hit) {
            size_t rest = strlen(p);
            memcpy(q, p, rest + 1);
            break;
        }
        memcpy(q, p, (size_t)(hit - p));
        q += hit - p;
        memcpy(q, label, ll);
        q += ll;
        p = hit + sl;
    }
    free(*s);
    *s = o;
}

/* ------------------------------------------------------------ the plan -- */

static int only_match(const struct certify *c, const char *id)
{
    if (!c->nonly)
        return 1;
    for (size_t i = 0; i < c->nonly; i++) {
        size_t l = strlen(c->only[i]);
        if (l && c->only[i][l - 1] == '*' ? strncmp(id, c->only[i], l - 1) == 0
                                          : strcmp(id, c->only[i]) == 0)
            return 1;
    }
    return 0;
}

static int dir_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Set suite_dir to base/rel/proto if that is a directory (rel may be ""). */
static int try_suite(struct certify *c, const char *base, const char *rel)
{
    int n = snprintf(c->suite_dir, sizeof(c->suite_dir), "%s%s%s%s", base, *base ? "/" : "", rel,
                     c->protocol);
    return n > 0 && (size_t)n < sizeof(c->suite_dir) && dir_exists(c->suite_dir);
}

/* The default suite: $MAILSPEC_SUITES/<proto>, else conformance/suites/<proto>
 * found walking up from the executable (build/, build/x/), else from cwd. */
static int find_suite(struct certify *c)
{
    char exe[PATH_MAX];
    const char *env = getenv("MAILSPEC_SUITES");

    if (c->suite) {
        int n = snprintf(c->suite_dir, sizeof(c->suite_dir), "%s", c->suite);
        return n > 0 && (size_t)n < sizeof(c->suite_dir) && dir_exists(c->suite_dir) ? 0 : -1;
    }
    if (env && *env && try_suite(c, env, ""))
        return 0;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        for (int up = 0; up < 5; up++) {
            char *slash = strrchr(exe, '/');
            if (!slash || slash == exe)
                break;
            *slash = '\0';
            if (try_suite(c, exe, "conformance/suites/"))
                return 0;
        }
    }
    return try_suite(c, "", "conformance/suites/") ? 0 : -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_plan(struct certify *c)
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
        names[nn] = malloc(strlen(c->suite_dir) + l + 2);
        if (!names[nn])
            break;
        snprintf(names[nn], strlen(c->suite_dir) + l + 2, "%s/%s", c->suite_dir, e->d_name);
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
    return 0;
}

static char *dupz(const char *s)
{
    return strdup(s ? s : "");
}

/* A result for a test that did not reach the runner. */
static void synth_result(struct ms_test_result *r, const char *path, const struct ms_script *s,
                         enum ms_result res, const char *msg)
{
    memset(r, 0, sizeof(*r));
    r->file = dupz(path);
    if (s) {
        r->id = dupz(s->id);
        r->title = dupz(s->title);
        r->rfc = dupz(s->rfc);
        r->protocol = dupz(s->protocol);
        r->level = s->level;
    } else {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        r->id = strdup(base);
        if (r->id && strlen(r->id) > 8)
            r->id[strlen(r->id) - 8] = '\0'; /* drop ".session" */
        r->title = dupz("");
        r->rfc = dupz("");
        r->protocol = dupz("");
        r->level = MS_LEVEL_MUST;
    }
    r->result = res;
    r->message = dupz(msg);
    r->transcript = dupz("");
}

/*
 * POP3: USER/PASS are optional commands (RFC 1939 7). Before the suite, ask
 * CAPA once, through the runner; a server that answers CAPA without USER
 * (RFC 2449 6.8) gets the tests that log in with USER skipped, not failed.
 */
static void pop3_user_probe(struct certify *c)
{
    static const char probe[] = "@test certify.pop3-user-probe\n@protocol pop3\n"
                                "S: +OK${*}\nC: CAPA\nS: +OK${*}\n@allow ${*}\nS: .\n"
                                "@requires USER\nC: QUIT\nS: +OK${*}\n";
    struct ms_script_error se;
    struct ms_test_result r;
    struct ms_script *s = ms_script_parse(probe, sizeof(probe) - 1, &se);

    if (!s)
        return;
    ms_run_script(s, "(certify: POP3 CAPA probe)", &c->ro, &r);
    c->pop3_no_user = r.result == MS_RES_NA;
    ms_test_result_free(&r);
    ms_script_free(s);
}

/*
 * SMTP: "# certify: smtp-login" becomes AUTH only when the server announces
 * AUTH (after the --tls upgrade): an MX port without AUTH is not asked to
 * authenticate just because --user was given.
 */
static void smtp_auth_probe(struct certify *c)
{
    static const char probe[] = "@test certify.smtp-auth-probe\n@protocol smtp\n"
                                "@allow 220-${*}\nS: 220 ${*}\nC: EHLO mailspec.invalid\n"
                                "@allow 250-${*}\nS: 250 ${*}\n@requires AUTH\n"
                                "C: QUIT\nS: 221 ${*}\n";
    struct ms_script_error se;
    struct ms_test_result r;
    struct ms_script *s = ms_script_parse(probe, sizeof(probe) - 1, &se);

    if (!s)
        return;
    ms_run_script(s, "(certify: SMTP EHLO probe)", &c->ro, &r);
    c->smtp_auth = r.result == MS_RES_PASS;
    ms_test_result_free(&r);
    ms_script_free(s);
}

/* Read, expand and parse a test file for its metadata (NULL if it does not parse). */
static struct ms_script *parse_meta(const struct certify *c, const char *path,
                                    struct ms_script_error *se)
{
    char *text = NULL, *exp;
    size_t len = 0, elen = 0;
    const char *missing;
    struct ms_script *s = NULL;

    se->line = se->col = 0;
    se->reason = "cannot read the file";
    if (ms_read_file(path, &text, &len) != 0)
        return NULL;
    exp = expand(c, text, len, &elen, &missing);
    if (exp)
        s = ms_script_parse(exp, elen, se);
    free(text);
    free(exp);
    return s;
}

/* Start of the line "# certify: WORD" at or after from, or len. */
static size_t find_mark(const char *text, size_t len, size_t from, const char *word)
{
    static const char pre[] = "\n# certify: ";
    size_t pl = sizeof(pre) - 1, wl = strlen(word);

    for (size_t i = from ? from - 1 : 0; i + pl + wl <= len; i++)
        if (memcmp(text + i, pre, pl) == 0 && memcmp(text + i + pl, word, wl) == 0 &&
            (i + pl + wl == len || text[i + pl + wl] == '\n' || text[i + pl + wl] == '\r'))
            return i + 1;
    return len;
}

/*
 * "# certify: either" and "# certify: or" lines split a test into a common
 * beginning and several endings, for servers the RFC lets answer in more than
 * one way (the script language has no alternation): the test passes when the
 * beginning followed by any one ending passes. Writes the variants' texts
 * (malloc'd) to out; returns their number (1 without markers), 0 when out
 * of memory.
 */
static size_t split_alternatives(const char *text, size_t len, char **out, size_t *outlen)
{
    size_t cut[CERT_MAX_ALT + 1], ncut = 0;
    size_t common = find_mark(text, len, 0, "either");

    if (common < len) {
        cut[ncut++] = common;
        while (ncut < CERT_MAX_ALT) {
            size_t next = find_mark(text, len, cut[ncut - 1] + 1, "or");
            if (next >= len)
                break;
            cut[ncut++] = next;
        }
    }
    if (ncut < 2) {
        out[0] = malloc(len + 1);
        if (!out[0])
            return 0;
        memcpy(out[0], text, len);
        out[0][len] = '\0';
        outlen[0] = len;
        return 1;
    }
    cut[ncut] = len;
    for (size_t k = 0; k < ncut; k++) {
        size_t from = cut[k], to = cut[k + 1];
        out[k] = malloc(common + (to - from) + 1);
        if (!out[k]) {
            while (k > 0)
                free(out[--k]);
            return 0;
        }
        memcpy(out[k], text, common);
        memcpy(out[k] + common, text + from, to - from);
        outlen[k] = common + (to - from);
        out[k][outlen[k]] = '\0';
    }
    return ncut;
}

/*
 * Read, expand and parse one test. Returns the script, or NULL with t->r
 * filled in (skip or error) when it cannot or must not run. Transport and
 * protocol applicability are the runner's to judge.
 */
static struct ms_script *prepare(struct certify *c, struct cert_test *t)
{
    char *text = NULL, *exp = NULL, msg[300];
    size_t len = 0, elen = 0;
    const char *missing = NULL;
    struct ms_script_error se = {0};
    struct ms_script *s = NULL;

    if (ms_read_file(t->path, &text, &len) != 0) {
        synth_result(&t->r, t->path, NULL, MS_RES_ERROR, "cannot read the test file");
        return NULL;
    }
    exp = expand(c, text, len, &elen, &missing);
    if (!exp) {
        synth_result(&t->r, t->path, NULL, MS_RES_ERROR, "out of memory");
        free(text);
        return NULL;
    }
    char *var[CERT_MAX_ALT];
    size_t vlen[CERT_MAX_ALT], nvar = split_alternatives(exp, elen, var, vlen);
    if (!nvar) {
        synth_result(&t->r, t->path, NULL, MS_RES_ERROR, "out of memory");
        free(text);
        free(exp);
        return NULL;
    }
    s = ms_script_parse(var[0], vlen[0], &se);
    t->nalt = 0;
    for (size_t k = 1; s && k < nvar; k++) {
        t->alt[t->nalt] = ms_script_parse(var[k], vlen[k], &se);
        if (!t->alt[t->nalt]) {
            ms_script_free(s);
            s = NULL;
            break;
        }
        t->nalt++;
    }
    for (size_t k = 0; k < nvar; k++)
        free(var[k]);
    if (!s) {
        for (size_t k = 0; k < t->nalt; k++)
            ms_script_free(t->alt[k]);
        t->nalt = 0;
    }
    t->refusal_passes = strstr(text, "\n# certify: tls-refusal-passes") != NULL;
    if (!s) {
        snprintf(msg, sizeof(msg), "script error at line %zu, column %zu: %s", se.line, se.col,
                 se.reason);
        synth_result(&t->r, t->path, NULL, MS_RES_ERROR, msg);
    } else {
        for (size_t k = 0; !missing && k < N_CRED_VARS; k++)
            if ((!c->ro.user || !c->ro.password) && uses_var(text, len, cred_vars[k]))
                missing = cred_vars[k];
    }
    if (s && !missing && c->pop3_no_user && strstr(text, "\nC: USER ${user}")) {
        synth_result(&t->r, t->path, s, MS_RES_NA,
                     "the server does not announce USER in CAPA (RFC 2449 6.8); USER and PASS "
                     "are optional (RFC 1939 7)");
        ms_script_free(s);
        s = NULL;
    }
    if (!s || missing) {
        for (size_t k = 0; k < t->nalt; k++)
            ms_script_free(t->alt[k]);
        t->nalt = 0;
    }
    if (s && missing) {
        snprintf(msg, sizeof(msg), "needs --user and --password (uses ${%s})", missing);
        synth_result(&t->r, t->path, s, MS_RES_NA, msg);
        ms_script_free(s);
        s = NULL;
    }
    free(text);
    free(exp);
    return s;
}

/* fail/error that the allow-list does not excuse */
static int counts_as_failure(const struct cert_test *t)
{
    return (t->r.result == MS_RES_FAIL || t->r.result == MS_RES_ERROR) && !t->xfail;
}

static void run_one(struct certify *c, struct cert_test *t)
{
    struct ms_script *s = prepare(c, t);

    if (s) {
        ms_run_script(s, t->path, &c->ro, &t->r);
        ms_script_free(s);
        /* Alternative endings (split_alternatives): the first that passes. */
        for (size_t k = 0; k < t->nalt; k++) {
            if (t->r.result != MS_RES_PASS && t->r.result != MS_RES_NA && !stop_flag) {
                struct ms_test_result ar;
                ms_run_script(t->alt[k], t->path, &c->ro, &ar);
                size_t ml = strlen(t->r.message) + strlen(ar.message) + 96;
                char *m = malloc(ml);
                if (ar.result == MS_RES_PASS) {
                    if (m)
                        snprintf(m, ml, "passed with alternative ending %zu (the first: %s)", k + 2,
                                 t->r.message);
                    ms_test_result_free(&t->r);
                    t->r = ar;
                } else {
                    if (m)
                        snprintf(m, ml, "%s\nalternative ending %zu: %s", t->r.message, k + 2,
                                 ar.message);
                    ms_test_result_free(&ar);
                }
                if (m) {
                    free(t->r.message);
                    t->r.message = m;
                }
            }
            ms_script_free(t->alt[k]);
        }
        t->nalt = 0;
        /*
         * Injection tests: a server that feeds the pipelined plaintext to its
         * TLS layer fails the handshake and so never runs it; that is safe.
         * The runner calls a failed handshake an error; here it is a pass.
         */
        if (t->refusal_passes && t->r.result == MS_RES_ERROR && t->r.message &&
            strstr(t->r.message, "TLS handshake failed")) {
            const char *why = "pass: the TLS handshake failed after the pipelined plaintext, so "
                              "the server did not run it as a command inside TLS\n";
            char *m = malloc(strlen(why) + strlen(t->r.message) + 1);
            if (m) {
                memcpy(m, why, strlen(why));
                memcpy(m + strlen(why), t->r.message, strlen(t->r.message) + 1);
                free(t->r.message);
                t->r.message = m;
                t->r.result = MS_RES_PASS;
            }
        }
    }
    /* Credentials never reach a report, whatever the runner shows. */
    static const char *const labels[3] = {"${sasl_plain}", "${sasl_password}", "${password}"};
    for (size_t k = 0; k < 3; k++) {
        mask(&t->r.transcript, c->secret[k], labels[k]);
        mask(&t->r.message, c->secret[k], labels[k]);
    }
    t->ran = 1;
}

static void *worker(void *arg)
{
    struct certify *c = arg;

    for (;;) {
        pthread_mutex_lock(&c->mu);
        size_t i = c->next < c->n && !stop_flag ? c->next++ : c->n;
        pthread_mutex_unlock(&c->mu);
        if (i >= c->n)
            return NULL;
        run_one(c, &c->t[i]);
        pthread_mutex_lock(&c->mu);
        struct ms_expect_entry *e = ms_expect_match(&c->expect, c->t[i].r.id ? c->t[i].r.id : "");
        c->t[i].xfail = e ? e->reason : NULL;
        c->done++;
        if (!c->quiet) {
            ms_report_progress(stdout, &c->t[i].r, c->done, c->n, ms_use_color(stdout),
                               c->verbose ? 1 : 0);
            if (c->t[i].xfail && c->t[i].r.result != MS_RES_PASS && c->t[i].r.result != MS_RES_NA)
                printf("      expected failure (--expect-fail): %s\n", c->t[i].xfail);
            else if (c->t[i].xfail && c->t[i].r.result == MS_RES_PASS)
                printf("      listed in --expect-fail but passed: %s\n", c->t[i].xfail);
            fflush(stdout);
        }
        pthread_mutex_unlock(&c->mu);
    }
}

static void run_all(struct certify *c)
{
    pthread_t th[CERT_MAX_JOBS];
    unsigned started = 0;

    pthread_mutex_init(&c->mu, NULL);
    c->next = 0;
    for (unsigned j = 1; j < c->jobs && j < c->n; j++)
        if (pthread_create(&th[started], NULL, worker, c) == 0)
            started++;
    worker(c);
    for (unsigned j = 0; j < started; j++)
        pthread_join(th[j], NULL);
    pthread_mutex_destroy(&c->mu);
}

/* ------------------------------------------------------------ TLS versions -- */

/*
 * Which TLS versions the server accepts: one handshake per version, each
 * limited to exactly that version, after the protocol's plaintext upgrade
 * for --tls starttls. The results become two synthesized tests (RFC 8996:
 * TLS 1.0 and 1.1 MUST NOT be negotiated) and the JSON's tls_versions.
 * transport.c sets only a minimum version, hence this small OpenSSL use.
 */
static const struct {
    const char *name;
    int version;
} tls_versions[] = {
    {"TLSv1.0", TLS1_VERSION},
    {"TLSv1.1", TLS1_1_VERSION},
    {"TLSv1.2", TLS1_2_VERSION},
    {"TLSv1.3", TLS1_3_VERSION},
};
#define N_TLS_VERSIONS 4

/* Read one line (through LF) into buf; returns its length or -1. */
static int plain_line(struct ms_conn *cn, char *buf, size_t cap, uint64_t dl)
{
    size_t n = 0;
    char err[160];
    while (n + 1 < cap) {
        ssize_t r = ms_conn_read(cn, buf + n, 1, dl, &stop_flag, err, sizeof(err));
        if (r <= 0)
            return -1;
        if (buf[n++] == '\n') {
            buf[n] = '\0';
            return (int)n;
        }
    }
    return -1;
}

/* SMTP: read a whole (multi-line) reply; returns its code or -1. */
static int smtp_reply(struct ms_conn *cn, char *buf, size_t cap, uint64_t dl)
{
    for (;;) {
        int n = plain_line(cn, buf, cap, dl);
        if (n < 4)
            return -1;
        if (buf[3] != '-')
            return (buf[0] - '0') * 100 + (buf[1] - '0') * 10 + (buf[2] - '0');
    }
}

/* The plaintext part of --tls starttls, one byte at a time so that nothing
 * of the TLS handshake is read by mistake. Returns 0 when TLS may start. */
static int plain_upgrade(const struct certify *c, struct ms_conn *cn, uint64_t dl)
{
    char buf[1024], err[160];

    if (strcmp(c->protocol, "smtp") == 0) {
        return smtp_reply(cn, buf, sizeof(buf), dl) == 220 &&
                       ms_conn_write(cn, "EHLO mailspec.invalid\r\n", 23, dl, err, sizeof(err)) ==
                           0 &&
                       smtp_reply(cn, buf, sizeof(buf), dl) == 250 &&
                       ms_conn_write(cn, "STARTTLS\r\n", 10, dl, err, sizeof(err)) == 0 &&
                       smtp_reply(cn, buf, sizeof(buf), dl) == 220
                   ? 0
                   : -1;
    }
    if (plain_line(cn, buf, sizeof(buf), dl) < 0)
        return -1;
    if (strcmp(c->protocol, "pop3") == 0)
        return ms_conn_write(cn, "STLS\r\n", 6, dl, err, sizeof(err)) == 0 &&
                       plain_line(cn, buf, sizeof(buf), dl) > 0 && strncmp(buf, "+OK", 3) == 0
                   ? 0
                   : -1;
    if (ms_conn_write(cn, "V1 STARTTLS\r\n", 13, dl, err, sizeof(err)) != 0)
        return -1;
    for (;;) {
        if (plain_line(cn, buf, sizeof(buf), dl) < 0)
            return -1;
        if (strncmp(buf, "V1 ", 3) == 0)
            return strncmp(buf, "V1 OK", 5) == 0 ? 0 : -1;
    }
}

/* 1 accepted, 0 refused, -1 could not tell (connection, local OpenSSL). */
static int try_tls_version(const struct certify *c, int version, char *why, size_t whycap)
{
    struct ms_conn cn;
    char err[200];
    uint64_t dl = ms_now_ms() + c->ro.timeout_ms;
    int res = -1;
    SSL_CTX *ctx = NULL;
    SSL *ssl = NULL;

    snprintf(why, whycap, "%s", "");
    if (ms_conn_open(&cn, c->ro.host, c->ro.port, dl, err, sizeof(err)) != 0) {
        snprintf(why, whycap, "%s", err);
        return -1;
    }
    if (c->ro.tls == MS_TLS_STARTTLS && plain_upgrade(c, &cn, dl) != 0) {
        snprintf(why, whycap, "%s", "the plaintext STARTTLS exchange failed");
        goto out;
    }
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        goto out;
    /* Old versions need security level 0 on this side: the server decides. */
    SSL_CTX_set_security_level(ctx, 0);
    if (!SSL_CTX_set_min_proto_version(ctx, version) ||
        !SSL_CTX_set_max_proto_version(ctx, version)) {
        snprintf(why, whycap, "%s", "this OpenSSL cannot offer the version");
        goto out;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    ssl = SSL_new(ctx);
    if (!ssl || !SSL_set_fd(ssl, cn.fd))
        goto out;
    /* SNI: a host name, never an address literal (RFC 6066 3) */
    char sni[256];
    snprintf(sni, sizeof(sni), "%s", c->ro.tlso.sni ? c->ro.tlso.sni : c->ro.host);
    if (strspn(sni, "0123456789.") != strlen(sni) && !strchr(sni, ':'))
        SSL_set_tlsext_host_name(ssl, sni);
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(ssl);
        if (r == 1) {
            res = SSL_version(ssl) == version;
            break;
        }
        int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            struct pollfd pfd = {cn.fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, 0};
            uint64_t now = ms_now_ms();
            if (now >= dl || stop_flag) {
                snprintf(why, whycap, "%s", "handshake timed out");
                break;
            }
            (void)poll(&pfd, 1, (int)(dl - now > 200 ? 200 : dl - now));
            continue;
        }
        unsigned long le = ERR_peek_error();
        if (le && ERR_GET_REASON(le) == SSL_R_NO_PROTOCOLS_AVAILABLE) {
            snprintf(why, whycap, "%s", "this OpenSSL cannot offer the version");
            break;
        }
        res = 0; /* the server refused or broke off the handshake */
        break;
    }
out:
    if (ssl)
        SSL_free(ssl);
    if (ctx)
        SSL_CTX_free(ctx);
    ERR_clear_error();
    ms_conn_close(&cn);
    return res;
}

static void tls_probe(struct certify *c)
{
    char why[200];

    if (c->ro.tls == MS_TLS_NONE)
        return;
    char whys[2][200];
    for (int i = 0; i < N_TLS_VERSIONS; i++) {
        c->tls_ok[i] = try_tls_version(c, tls_versions[i].version, why, sizeof(why));
        if (i < 2)
            snprintf(whys[i], sizeof(whys[i]), "%s", why);
    }
    c->tls_probed = 1;
    /* RFC 8996 2, 3: the two synthesized tests. */
    struct cert_test *nt = realloc(c->t, (c->n + 2) * sizeof(*nt));
    if (!nt)
        return;
    c->t = nt;
    for (int v = 0; v < 2; v++) {
        struct cert_test *t = &c->t[c->n++];
        char id[64], title[128], msg[512], tr[256];
        memset(t, 0, sizeof(*t));
        t->path = strdup("(certify TLS version probe)");
        snprintf(id, sizeof(id), "%s.tls.rfc8996.no-tls1.%d", c->protocol, v);
        snprintf(title, sizeof(title), "The server refuses to negotiate TLS 1.%d", v);
        snprintf(tr, sizeof(tr),
                 "# mailspec: TLS handshake offering only TLS 1.%d to %s port %s (%s): %s\n", v,
                 c->ro.host, c->ro.port, ms_tls_mode_name(c->ro.tls),
                 c->tls_ok[v] == 1   ? "accepted"
                 : c->tls_ok[v] == 0 ? "refused"
                                     : "could not tell");
        enum ms_result res = c->tls_ok[v] == 1   ? MS_RES_FAIL
                             : c->tls_ok[v] == 0 ? MS_RES_PASS
                                                 : MS_RES_NA;
        if (res == MS_RES_FAIL)
            snprintf(msg, sizeof(msg), "the server negotiated TLS 1.%d, which RFC 8996 forbids", v);
        else if (res == MS_RES_NA)
            snprintf(msg, sizeof(msg), "could not tell: %s", whys[v][0] ? whys[v] : "no handshake");
        else
            msg[0] = '\0';
        t->r.file = strdup(t->path ? t->path : "");
        t->r.id = strdup(id);
        t->r.title = strdup(title);
        t->r.rfc = strdup(v == 0 ? "8996 2" : "8996 3");
        t->r.protocol = strdup(c->protocol);
        t->r.level = MS_LEVEL_MUST;
        t->r.result = res;
        t->r.message = strdup(msg);
        t->r.transcript = strdup(tr);
        t->ran = 1;
        t->xfail = NULL;
        struct ms_expect_entry *e = ms_expect_match(&c->expect, id);
        if (e)
            t->xfail = e->reason;
    }
}

/* ------------------------------------------------------------ reporting -- */

static int list_tests(struct certify *c)
{
    for (size_t i = 0; i < c->n; i++) {
        struct ms_script_error se;
        struct ms_script *s = parse_meta(c, c->t[i].path, &se);
        if (!s) {
            printf("%-44s script error at line %zu: %s\n", c->t[i].path, se.line, se.reason);
            continue;
        }
        if (only_match(c, s->id))
            printf("%-44s %-6s %-14s %s\n", s->id, ms_level_name(s->level), s->rfc, s->title);
        ms_script_free(s);
    }
    return MS_EXIT_OK;
}

/* The connection the whole run depends on: refused or unreachable is exit 2. */
static int probe(struct certify *c)
{
    struct ms_conn conn;
    char err[256];
    uint64_t deadline = ms_now_ms() + c->ro.timeout_ms;

    if (ms_conn_open(&conn, c->ro.host, c->ro.port, deadline, err, sizeof(err)) != 0) {
        fprintf(stderr, "mailspec certify: cannot connect to %s port %s: %s\n", c->ro.host,
                c->ro.port, err);
        return -1;
    }
    if (c->ro.tls == MS_TLS_IMPLICIT &&
        ms_conn_tls(&conn, c->ro.host, &c->ro.tlso, deadline, err, sizeof(err)) != 0) {
        fprintf(stderr, "mailspec certify: TLS handshake with %s port %s failed: %s\n", c->ro.host,
                c->ro.port, err);
        ms_conn_close(&conn);
        return -1;
    }
    ms_conn_close(&conn);
    return 0;
}

static const struct ms_tls_info *run_tls(const struct certify *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->t[i].ran && c->t[i].r.tls.used)
            return &c->t[i].r.tls;
    return NULL;
}

/* The finished tests as the contiguous array report.c takes; xfail: the
 * allow-listed failures shown as skips with the reason (for JUnit). */
static struct ms_test_result *results(const struct certify *c, int xfail_as_skip, size_t *n,
                                      char ***msgs)
{
    struct ms_test_result *r = calloc(c->n ? c->n : 1, sizeof(*r));
    char **m = calloc(c->n ? c->n : 1, sizeof(*m));

    *n = 0;
    *msgs = m;
    if (!r || !m) {
        free(r);
        free(m);
        *msgs = NULL;
        return NULL;
    }
    for (size_t i = 0; i < c->n; i++) {
        const struct cert_test *t = &c->t[i];
        if (!t->ran)
            continue;
        r[*n] = t->r; /* shallow: the strings stay the test's */
        if (xfail_as_skip && t->xfail &&
            (t->r.result == MS_RES_FAIL || t->r.result == MS_RES_ERROR)) {
            size_t l = strlen(t->xfail) + strlen(t->r.message) + 80;
            m[*n] = malloc(l);
            if (m[*n]) {
                snprintf(m[*n], l, "expected failure (--expect-fail): %s\n%s", t->xfail,
                         t->r.message);
                r[*n].message = m[*n];
            }
            r[*n].result = MS_RES_NA;
        }
        (*n)++;
    }
    return r;
}

static void free_results(struct ms_test_result *r, char **m, size_t n)
{
    for (size_t i = 0; m && i < n; i++)
        free(m[i]);
    free(m);
    free(r);
}

static void fill_report(const struct certify *c, struct ms_report *rep,
                        const struct ms_test_result *r, size_t n, uint64_t ms)
{
    memset(rep, 0, sizeof(*rep));
    rep->command = "certify";
    rep->protocol = c->protocol;
    rep->host = c->ro.host;
    rep->port = c->ro.port;
    rep->tls = c->ro.tls;
    rep->tests = r;
    rep->n = n;
    rep->planned = c->n;
    rep->interrupted = stop_flag;
    rep->duration_ms = ms;
}

static unsigned must_failures(const struct certify *c)
{
    unsigned n = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->t[i].ran && c->t[i].r.level == MS_LEVEL_MUST && counts_as_failure(&c->t[i]))
            n++;
    return n;
}

static int exit_code(const struct certify *c)
{
    if (stop_flag) /* an interrupted run proves nothing either way */
        return MS_EXIT_USAGE;
    return must_failures(c) ? MS_EXIT_FAIL : MS_EXIT_OK;
}

static void summary(const struct certify *c, uint64_t ms)
{
    unsigned by_level[3][4] = {{0}}; /* level x (pass, fail, skip, xfail) */
    unsigned xpass = 0;
    struct ms_report rep;
    size_t n;
    char **m;
    struct ms_test_result *r = results(c, 0, &n, &m);

    fill_report(c, &rep, r, n, ms);
    printf("\n%s %s:%s over %s: ", c->protocol, c->ro.host, c->ro.port,
           ms_tls_mode_name(c->ro.tls));
    ms_report_summary_line(stdout, &rep, ms_use_color(stdout));
    printf("\n");
    free_results(r, m, n);
    for (size_t i = 0; i < c->n; i++) {
        const struct cert_test *t = &c->t[i];
        unsigned lv = t->r.level < 3 ? t->r.level : 0;
        if (!t->ran)
            continue;
        if (t->r.result == MS_RES_PASS)
            by_level[lv][0]++;
        else if (t->r.result == MS_RES_NA)
            by_level[lv][2]++;
        else if (counts_as_failure(t))
            by_level[lv][1]++;
        else
            by_level[lv][3]++;
        if (t->xfail && t->r.result == MS_RES_PASS)
            xpass++;
    }
    for (unsigned lv = 0; lv < 3; lv++)
        printf("  %-6s %u passed, %u failed or errors, %u skipped, %u allow-listed failures\n",
               ms_level_name(lv), by_level[lv][0], by_level[lv][1], by_level[lv][2],
               by_level[lv][3]);
    if (xpass)
        printf("  %u allow-listed test%s passed: prune the --expect-fail list\n", xpass,
               xpass == 1 ? "" : "s");
    const struct ms_tls_info *tls = run_tls(c);
    if (tls)
        printf("  TLS: %s %s, certificate %s%s%s (expires %s)\n", tls->version, tls->cipher,
               tls->verified ? "verified" : "NOT verified", tls->verify_error[0] ? ": " : "",
               tls->verify_error, tls->not_after);
    if (c->tls_probed) {
        printf("  TLS versions accepted:");
        for (int i = 0; i < N_TLS_VERSIONS; i++)
            printf(" %s %s", tls_versions[i].name,
                   c->tls_ok[i] == 1   ? "yes"
                   : c->tls_ok[i] == 0 ? "no"
                                       : "unknown");
        printf("\n");
    }
    printf("  verdict: %s\n", stop_flag          ? "none (interrupted)"
                              : must_failures(c) ? "NOT compliant (a MUST-level test failed)"
                                                 : "every MUST-level test passed");
}

/*
 * The JSON report: report.c's document (the DESIGN.md contract), extended
 * with what certify adds (docs/certify.md): expected_failure per allow-listed
 * test, summary.xfail/xpass, compliant, run_id, suite, and certify's exit.
 * Returns the text (malloc'd) or NULL.
 */
static char *json_text(const struct certify *c, uint64_t ms, size_t *len)
{
    char tmpl[] = "/tmp/mailspec-certify-XXXXXX", err[256], *text = NULL, *out = NULL;
    struct ms_report rep;
    size_t n, tl = 0;
    char **m;
    struct ms_test_result *r = results(c, 0, &n, &m);
    int fd = mkstemp(tmpl);

    if (!r || fd < 0) {
        free_results(r, m, n);
        if (fd >= 0) {
            close(fd);
            unlink(tmpl);
        }
        fprintf(stderr, "mailspec certify: cannot create a temporary file\n");
        return NULL;
    }
    close(fd);
    fill_report(c, &rep, r, n, ms);
    int rc = ms_report_json(&rep, tmpl);
    free_results(r, m, n);
    if (rc != 0 || ms_read_file(tmpl, &text, &tl) != 0) {
        unlink(tmpl);
        return NULL;
    }
    unlink(tmpl);
    struct ms_json *doc = ms_json_parse(text, tl, err, sizeof(err));
    free(text);
    if (!doc) {
        fprintf(stderr, "mailspec certify: report JSON unreadable: %s\n", err);
        return NULL;
    }
    const struct ms_json *tests = ms_json_get(doc, "tests");
    struct ms_json *summ = (struct ms_json *)ms_json_get(doc, "summary");
    unsigned xfail = 0, xpass = 0;
    struct ms_json *e = tests && tests->type == MS_JSON_ARRAY ? tests->child : NULL;
    for (size_t i = 0; i < c->n; i++) {
        const struct cert_test *t = &c->t[i];
        if (!t->ran)
            continue;
        if (!e)
            break;
        if (t->xfail) {
            ms_json_set(e, "expected_failure", ms_json_new_string(t->xfail));
            if (t->r.result == MS_RES_FAIL || t->r.result == MS_RES_ERROR)
                xfail++;
            else if (t->r.result == MS_RES_PASS)
                xpass++;
        }
        e = e->next;
    }
    int ok = summ && ms_json_set(summ, "xfail", ms_json_new_number(xfail)) == 0 &&
             ms_json_set(summ, "xpass", ms_json_new_number(xpass)) == 0 &&
             ms_json_set(summ, "must_fail_unexpected", ms_json_new_number(must_failures(c))) == 0 &&
             ms_json_set(doc, "compliant", ms_json_new_bool(must_failures(c) == 0)) == 0 &&
             ms_json_set(doc, "exit", ms_json_new_number((uint64_t)exit_code(c))) == 0 &&
             ms_json_set(doc, "run_id", ms_json_new_string(c->vals[V_RUN])) == 0 &&
             ms_json_set(doc, "suite", ms_json_new_string(c->suite_dir)) == 0;
    if (ok && c->tls_probed) {
        struct ms_json *tv = ms_json_parse("{}", 2, err, sizeof(err));
        const char *min = NULL;
        for (int i = 0; tv && i < N_TLS_VERSIONS; i++) {
            struct ms_json *b = c->tls_ok[i] < 0 ? ms_json_parse("null", 4, err, sizeof(err))
                                                 : ms_json_new_bool(c->tls_ok[i]);
            ok = ok && ms_json_set(tv, tls_versions[i].name, b) == 0;
            if (!min && c->tls_ok[i] == 1)
                min = tls_versions[i].name;
        }
        ok = ok && tv && ms_json_set(doc, "tls_versions", tv) == 0 &&
             ms_json_set(doc, "tls_min_version",
                         min ? ms_json_new_string(min)
                             : ms_json_parse("null", 4, err, sizeof(err))) == 0;
    }
    if (ok) {
        FILE *f = open_memstream(&out, len);
        if (f) {
            ms_json_write(f, doc);
            fputc('\n', f);
            if (fclose(f) != 0) {
                free(out);
                out = NULL;
            }
        }
    }
    ms_json_free(doc);
    if (!out)
        fprintf(stderr, "mailspec certify: out of memory writing the JSON report\n");
    return out;
}

static int write_reports(const struct certify *c, uint64_t ms)
{
    int rc = 0;
    size_t len = 0;
    char *json = NULL;

    if (c->json || c->html) {
        json = json_text(c, ms, &len);
        if (!json)
            return -1;
    }
    if (c->json) {
        if (strcmp(c->json, "-") == 0)
            rc |= fwrite(json, 1, len, stdout) == len ? 0 : -1;
        else
            rc |= ms_write_atomic(c->json, json, len);
    }
    if (c->junit) {
        size_t n;
        char **m;
        struct ms_test_result *r = results(c, 1, &n, &m);
        struct ms_report rep;
        if (!r) {
            rc = -1;
        } else {
            fill_report(c, &rep, r, n, ms);
            rc |= ms_report_junit(&rep, c->junit);
        }
        free_results(r, m, n);
    }
    if (c->html) {
        char err[256], *page = NULL;
        size_t plen = 0;
        struct ms_json *doc = ms_json_parse(json, len, err, sizeof(err));
        FILE *f = doc ? open_memstream(&page, &plen) : NULL;
        const struct ms_json *reps[1] = {doc};
        if (!f || ms_html_write(f, reps, 1, err, sizeof(err)) != 0) {
            fprintf(stderr, "mailspec certify: HTML report: %s\n", err);
            rc = -1;
        }
        if (f && fclose(f) == 0 && rc == 0) {
            if (strcmp(c->html, "-") == 0)
                rc |= fwrite(page, 1, plen, stdout) == plen ? 0 : -1;
            else
                rc |= ms_write_atomic(c->html, page, plen);
        }
        free(page);
        ms_json_free(doc);
    }
    free(json);
    return rc ? -1 : 0;
}

int ms_cmd_certify(int argc, char **argv)
{
    struct certify c;
    const char *html_from[64];
    size_t nhtml_from = 0;
    const char *run_id = NULL, *rcpt = NULL, *from = NULL, *tls = "none";
    int rc = MS_EXIT_USAGE;
    unsigned long jobs = 0; /* 0: the protocol's default */

    memset(&c, 0, sizeof(c));
    ms_run_opts_default(&c.ro);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE(name, dst)                                                                            \
    if (strcmp(a, name) == 0) {                                                                    \
        if (!v) {                                                                                  \
            fprintf(stderr, "mailspec certify: %s needs a value\n", name);                         \
            return MS_EXIT_USAGE;                                                                  \
        }                                                                                          \
        dst = v;                                                                                   \
        i++;                                                                                       \
        continue;                                                                                  \
    }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            certify_usage(stdout);
            return MS_EXIT_OK;
        }
        TAKE("--protocol", c.protocol)
        TAKE("--host", c.host)
        TAKE("--port", c.port)
        TAKE("--tls", tls)
        TAKE("--user", c.ro.user)
        TAKE("--password", c.ro.password)
        TAKE("--cafile", c.ro.tlso.cafile)
        TAKE("--suite", c.suite)
        TAKE("--expect-fail", c.expect_path)
        TAKE("--json", c.json)
        TAKE("--junit", c.junit)
        TAKE("--html", c.html)
        TAKE("--rcpt", rcpt)
        TAKE("--mail-from", from)
        TAKE("--run-id", run_id)
#undef TAKE
        if (strcmp(a, "--insecure") == 0) {
            c.ro.tlso.insecure = 1;
        } else if (strcmp(a, "--list") == 0) {
            c.list = 1;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            c.quiet = 1;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            c.verbose = 1;
        } else if (strcmp(a, "--only") == 0 && v) {
            if (c.nonly == CERT_MAX_ONLY) {
                fprintf(stderr, "mailspec certify: at most %d --only\n", CERT_MAX_ONLY);
                return MS_EXIT_USAGE;
            }
            c.only[c.nonly++] = v;
            i++;
        } else if ((strcmp(a, "--jobs") == 0 || strcmp(a, "--timeout") == 0 ||
                    strcmp(a, "--tls-min") == 0 || strcmp(a, "--min-tls") == 0) &&
                   v) {
            uint64_t n;
            if (strcmp(a, "--tls-min") == 0 || strcmp(a, "--min-tls") == 0) {
                if (strcmp(v, "1.2") != 0 && strcmp(v, "1.3") != 0) {
                    fprintf(stderr, "mailspec certify: --tls-min takes 1.2 or 1.3\n");
                    return MS_EXIT_USAGE;
                }
                c.ro.tlso.min_version = v[2] == '2' ? 12 : 13;
            } else if (ms_number_parse(v, strlen(v),
                                       strcmp(a, "--jobs") == 0 ? CERT_MAX_JOBS : 3600,
                                       &n) != MS_OK ||
                       n == 0) {
                fprintf(stderr, "mailspec certify: %s takes a number from 1 to %d\n", a,
                        strcmp(a, "--jobs") == 0 ? CERT_MAX_JOBS : 3600);
                return MS_EXIT_USAGE;
            } else if (strcmp(a, "--jobs") == 0) {
                jobs = (unsigned long)n;
            } else {
                c.ro.timeout_ms = (unsigned)n * 1000u;
            }
            i++;
        } else if (strcmp(a, "--html-from") == 0) {
            while (i + 1 < argc && (argv[i + 1][0] != '-' || argv[i + 1][1] == '\0')) {
                if (nhtml_from == sizeof(html_from) / sizeof(html_from[0])) {
                    fprintf(stderr, "mailspec certify: at most 64 --html-from reports\n");
                    return MS_EXIT_USAGE;
                }
                html_from[nhtml_from++] = argv[++i];
            }
            if (!nhtml_from) {
                fprintf(stderr, "mailspec certify: --html-from needs JSON report files\n");
                return MS_EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "mailspec certify: unknown or incomplete option '%s'\n", a);
            certify_usage(stderr);
            return MS_EXIT_USAGE;
        }
    }
    if (nhtml_from) {
        if (!c.html) {
            fprintf(stderr, "mailspec certify: --html-from needs --html OUT\n");
            return MS_EXIT_USAGE;
        }
        return ms_html_from_files(c.html, html_from, nhtml_from) == 0 ? MS_EXIT_OK : MS_EXIT_USAGE;
    }
    if (!c.protocol || (strcmp(c.protocol, "smtp") != 0 && strcmp(c.protocol, "pop3") != 0 &&
                        strcmp(c.protocol, "imap") != 0)) {
        fprintf(stderr, "mailspec certify: --protocol smtp, pop3 or imap is required\n");
        return MS_EXIT_USAGE;
    }
    if (strcmp(tls, "none") == 0)
        c.ro.tls = MS_TLS_NONE;
    else if (strcmp(tls, "starttls") == 0)
        c.ro.tls = MS_TLS_STARTTLS;
    else if (strcmp(tls, "implicit") == 0)
        c.ro.tls = MS_TLS_IMPLICIT;
    else {
        fprintf(stderr, "mailspec certify: --tls takes none, starttls or implicit\n");
        return MS_EXIT_USAGE;
    }
    if (!c.list && !c.host) {
        fprintf(stderr, "mailspec certify: --host is required\n");
        return MS_EXIT_USAGE;
    }
    if (!!c.ro.user != !!c.ro.password) {
        fprintf(stderr, "mailspec certify: --user and --password go together\n");
        return MS_EXIT_USAGE;
    }
    if ((rcpt && !safe_value(rcpt)) || (from && *from && !safe_value(from)) ||
        (run_id && !safe_value(run_id))) {
        fprintf(stderr, "mailspec certify: --rcpt, --mail-from and --run-id take plain "
                        "addresses/words (no spaces, '<', '>', '\\' or '$')\n");
        return MS_EXIT_USAGE;
    }
    /* One test at a time unless --jobs says otherwise: POP3 servers may lock
     * the maildrop per session (RFC 1939 8), and parallel sessions of one user
     * can trip server races that are not what a test checks (Dovecot's
     * Maildir CREATE sometimes answers ALREADYEXISTS for a new, unique name
     * when another session creates a mailbox at the same time). */
    c.jobs = jobs ? (unsigned)jobs : 1u;
    c.ro.protocol = c.protocol;
    c.ro.host = c.host ? c.host : "localhost";
    c.ro.port = c.port ? c.port : ms_default_port(c.protocol, c.ro.tls);
    c.ro.stop = &stop_flag;
    if (find_suite(&c) != 0) {
        fprintf(stderr, "mailspec certify: no suite directory %s (use --suite DIR)\n", c.suite_dir);
        return MS_EXIT_USAGE;
    }
    if (load_plan(&c) != 0)
        goto out;
    if (set_vars(&c, run_id, rcpt, from) != 0) {
        fprintf(stderr, "mailspec certify: out of memory\n");
        goto out;
    }
    if (c.list) {
        rc = list_tests(&c);
        goto out;
    }
    if (c.expect_path && ms_expect_load(c.expect_path, &c.expect) != 0)
        goto out;
    /* Tests outside --only are dropped from the plan, not reported. */
    if (c.nonly) {
        size_t k = 0;
        for (size_t i = 0; i < c.n; i++) {
            struct ms_script_error se;
            struct ms_script *s = parse_meta(&c, c.t[i].path, &se);
            /* A script that does not parse stays in the plan: it is an error. */
            if (!s || only_match(&c, s->id))
                c.t[k++] = c.t[i];
            else
                free(c.t[i].path);
            ms_script_free(s);
        }
        c.n = k;
        if (!k) {
            fprintf(stderr, "mailspec certify: no test matches --only\n");
            goto out;
        }
    }
    if (probe(&c) != 0)
        goto out;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_sigint);
    if (strcmp(c.protocol, "pop3") == 0)
        pop3_user_probe(&c);
    if (strcmp(c.protocol, "smtp") == 0 && c.ro.user)
        smtp_auth_probe(&c);
    if (!c.quiet)
        printf("mailspec certify: %zu %s tests from %s against %s:%s (%s)\n", c.n, c.protocol,
               c.suite_dir, c.ro.host, c.ro.port, ms_tls_mode_name(c.ro.tls));
    uint64_t t0 = ms_now_ms();
    run_all(&c);
    signal(SIGINT, SIG_DFL);
    if (!stop_flag)
        tls_probe(&c);
    uint64_t elapsed = ms_now_ms() - t0;
    summary(&c, elapsed);
    for (size_t i = 0; i < c.expect.n; i++)
        if (!c.expect.e[i].hits)
            printf("  note: --expect-fail line %zu (%s) matches no test\n", c.expect.e[i].line,
                   c.expect.e[i].pattern);
    rc = exit_code(&c);
    if (write_reports(&c, elapsed) != 0)
        rc = MS_EXIT_USAGE;
    if (stop_flag) {
        fprintf(stderr, "mailspec certify: interrupted\n");
        rc = MS_EXIT_USAGE;
    }
out:
    for (size_t i = 0; i < c.n; i++) {
        if (c.t[i].ran)
            ms_test_result_free(&c.t[i].r);
        free(c.t[i].path);
    }
    free(c.t);
    for (int v = 0; v < V_COUNT; v++)
        free(c.vals[v]);
    for (int k = 0; k < 3; k++)
        free(c.secret[k]);
    ms_expect_free(&c.expect);
    return rc;
}
