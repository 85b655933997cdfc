/*
 * mailspec serve: play the server half of .session scripts and judge the
 * mail client that connects (docs/serve.md). With --client, runs the
 * client command once per script; without it, waits for a connection per
 * script (manual testing), each wait bounded by --timeout.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_common.h"
#include "json.h"
#include "mailspec/mailspec.h"
#include "record_tls.h"
#include "report.h"
#include "report_html.h"
#include "serve.h"

static volatile int stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mailspec serve --protocol P --listen ADDR:PORT [--tls none|starttls|implicit\n"
            "                      --cert FILE --key FILE] [--user U --password P]\n"
            "                      [--client 'COMMAND {port}'] [OPTIONS] [SCRIPT|DIR...]\n\n"
            "Play the server half of .session scripts (S: lines sent, C: lines expected from\n"
            "the client and checked by the strict command parsers) and judge the client.\n"
            "What a script does not script, a small built-in server answers. Without\n"
            "scripts, the built-in server alone serves one connection.\n\n"
            "  --protocol smtp|pop3|imap   the protocol\n"
            "  --listen ADDR:PORT          where to listen (PORT 0: any free port, printed)\n"
            "  --tls none|starttls|implicit  (default none)\n"
            "  --cert FILE, --key FILE     the server certificate and key (PEM; with --tls)\n"
            "  --cert-dir DIR              certificates the scripts name with @cert NAME\n"
            "                              (DIR/NAME.pem: certificate and key)\n"
            "  --user U, --password P      the credentials the client will use (without them\n"
            "                              any login is accepted); --password-file FILE\n"
            "  --client 'COMMAND {port}'   run COMMAND (sh -c) once per script, {port}\n"
            "                              replaced by the listening port; its exit status\n"
            "                              is judged too\n"
            "  --client-timeout SECONDS    bound on each client run and each session\n"
            "                              (default 30)\n"
            "  --timeout SECONDS           bound on each wait for the client (default 10)\n"
            "  -q, --quiet, --silent, -v, --verbose\n"
            "Reports ('-' is stdout, which then carries nothing else):\n"
            "  --json FILE, --junit FILE, --html FILE\n\n"
            "Exit status: 0 the client passed every MUST-level test, 1 it failed one,\n"
            "2 usage or I/O error, 6 incomplete (tests blocked or not applicable).\n");
}

enum {
    OPT_LISTEN = MS_OPT_CONN_LAST,
    OPT_CLIENT,
    OPT_CLIENT_TIMEOUT,
    OPT_CERT_DIR,
    OPT_HTML,
};

static const struct option serve_options[] = {
    MS_CLI_PEER_OPTIONS,
    {"user", required_argument, NULL, MS_OPT_USER},
    {"password", required_argument, NULL, MS_OPT_PASSWORD},
    {"password-file", required_argument, NULL, MS_OPT_PASSWORD_FILE},
    {"timeout", required_argument, NULL, MS_OPT_TIMEOUT},
    {"json", required_argument, NULL, MS_OPT_JSON},
    {"junit", required_argument, NULL, MS_OPT_JUNIT},
    {"verbose", no_argument, NULL, 'v'},
    {"silent", no_argument, NULL, MS_OPT_SILENT},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"client", required_argument, NULL, OPT_CLIENT},
    {"client-timeout", required_argument, NULL, OPT_CLIENT_TIMEOUT},
    {"cert-dir", required_argument, NULL, OPT_CERT_DIR},
    {"html", required_argument, NULL, OPT_HTML},
    {NULL, 0, NULL, 0},
};

struct item {
    char *path;
    struct sv_script ss;
    struct ms_test_result r;
    int exit_only;
};

struct items {
    struct item *v;
    size_t n, cap;
};

static int add_item(struct items *it, const char *path)
{
    if (it->n == it->cap) {
        size_t nc = it->cap ? it->cap * 2 : 32;
        struct item *nv = realloc(it->v, nc * sizeof(*nv));
        if (!nv || it->n >= 10000)
            return -1;
        it->v = nv;
        it->cap = nc;
    }
    memset(&it->v[it->n], 0, sizeof(it->v[0]));
    it->v[it->n].path = strdup(path);
    return it->v[it->n++].path ? 0 : -1;
}

static int session_file(const struct dirent *e)
{
    size_t l = strlen(e->d_name);
    return e->d_name[0] != '.' && l > 8 && strcmp(e->d_name + l - 8, ".session") == 0;
}

/* A file, or the *.session files directly in a directory, sorted. */
static int collect(struct items *it, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "mailspec serve: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return add_item(it, path);
    struct dirent **names;
    int n = scandir(path, &names, session_file, alphasort);
    if (n < 0) {
        fprintf(stderr, "mailspec serve: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char full[4096];
        snprintf(full, sizeof(full), "%s/%s", path, names[i]->d_name);
        if (rc == 0 && add_item(it, full) != 0)
            rc = -1;
        free(names[i]);
    }
    free(names);
    return rc;
}

/* Listen on addr:port; the chosen port into port_out. */
static int listen_on(const char *spec, char *port_out, size_t cap)
{
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || !colon[1]) {
        fprintf(stderr, "mailspec serve: --listen takes ADDR:PORT\n");
        return -1;
    }
    char host[256];
    size_t hl = (size_t)(colon - spec);
    if (hl >= sizeof(host))
        hl = sizeof(host) - 1;
    memcpy(host, spec, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int g = getaddrinfo(host, colon + 1, &hints, &ai);
    if (g != 0) {
        fprintf(stderr, "mailspec serve: --listen %s: %s\n", spec, gai_strerror(g));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 16) != 0) {
        fprintf(stderr, "mailspec serve: --listen %s: %s\n", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char hbuf[64];
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
        getnameinfo((struct sockaddr *)&ss, sl, hbuf, sizeof(hbuf), port_out, (socklen_t)cap,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The --client command as reports show it: the password masked. */
static char *masked(const char *cmd, const char *pw)
{
    size_t pl = pw ? strlen(pw) : 0, n = strlen(cmd);
    char *out = malloc(n * 11 + 1);
    size_t k = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        if (pl && strncmp(cmd + i, pw, pl) == 0) {
            memcpy(out + k, "${password}", 11);
            k += 11;
            i += pl;
        } else
            out[k++] = cmd[i++];
    }
    out[k] = '\0';
    return out;
}

static int write_reports(const struct ms_report *rep, const char *json, const char *junit,
                         const char *html, const char *client_shown)
{
    if (!json && !junit && !html)
        return 0;
    struct ms_json *doc = ms_report_doc(rep);
    int rc = 0;
    if (!doc)
        return -1;
    /* serve's own fields: the report judges a client */
    if (ms_json_set_str(doc, "judged", "client") != 0 ||
        (client_shown && ms_json_set_str(doc, "client", client_shown) != 0))
        rc = -1;
    if (json)
        rc |= ms_report_write_json(doc, json);
    if (junit)
        rc |= ms_report_write_junit(doc, junit);
    if (html) {
        char err[256], *page = NULL;
        size_t plen = 0;
        FILE *f = open_memstream(&page, &plen);
        const struct ms_json *reps[1] = {doc};
        if (!f || ms_html_write(f, reps, 1, err, sizeof(err)) != 0) {
            fprintf(stderr, "mailspec serve: HTML report: %s\n", f ? err : "out of memory");
            rc = -1;
        }
        if (f && fclose(f) == 0 && rc == 0)
            rc |= ms_write_atomic(html, page, plen);
        free(page);
    }
    ms_json_free(doc);
    return rc ? -1 : 0;
}

/* A client that fails the baseline test (a session against the compliant
 * built-in server) cannot be judged by its exit status in the other tests. */
static int is_baseline(const struct ms_test_result *r)
{
    size_t l = r->id ? strlen(r->id) : 0;
    return l >= 9 && strcmp(r->id + l - 9, ".baseline") == 0;
}

static void apply_baseline(struct items *it, size_t done)
{
    int baseline_failed = 0;
    for (size_t i = 0; i < done; i++)
        if (is_baseline(&it->v[i].r) && it->v[i].r.result != MS_RES_PASS)
            baseline_failed = 1;
    for (size_t i = 0; baseline_failed && i < done; i++) {
        struct ms_test_result *r = &it->v[i].r;
        if (!it->v[i].exit_only || is_baseline(r))
            continue;
        /* no finding: the test did not judge (the failure's own words stay) */
        const char *why = r->message;
        size_t fl = r->finding ? strlen(r->finding) : 0;
        if (fl && strncmp(why, "FINDING: ", 9) == 0 && strncmp(why + 9, r->finding, fl) == 0 &&
            strncmp(why + 9 + fl, ": ", 2) == 0)
            why += 11 + fl;
        size_t ml = strlen(why) + 120;
        char *m = malloc(ml);
        if (!m)
            continue;
        snprintf(m, ml, "%s; not judged: the client fails the baseline test too", why);
        free(r->message);
        r->message = m;
        r->result = MS_RES_BLOCKED;
        free(r->finding);
        r->finding = strdup("");
    }
}

int ms_cmd_serve(int argc, char **argv)
{
    struct ms_cli cli;
    struct items it = {NULL, 0, 0};
    const char *listen_spec = NULL, *html = NULL;
    struct sv_opts so;
    int rc = MS_EXIT_USAGE, code, fd = -1;
    char port[32] = "";
    char *shown = NULL;
    char **margv = NULL;

    memset(&so, 0, sizeof(so));
    so.client_timeout_ms = 30000;
    so.listen_fd = -1;
    ms_cli_init(&cli, "serve");
    optind = 1;
    while ((code = getopt_long(argc, argv, "qvh", serve_options, NULL)) != -1) {
        int r = ms_cli_option(&cli, code, optarg);
        if (r < 0)
            goto out;
        if (r > 0)
            continue;
        uint64_t n;
        switch (code) {
        case OPT_LISTEN:
            listen_spec = optarg;
            break;
        case OPT_CLIENT:
            so.client = optarg;
            break;
        case OPT_CLIENT_TIMEOUT:
            if (ms_number_parse(optarg, strlen(optarg), 3600, &n) != MS_OK || n == 0) {
                fprintf(stderr, "mailspec serve: --client-timeout: takes 1 to 3600 seconds\n");
                goto out;
            }
            so.client_timeout_ms = (unsigned)n * 1000u;
            break;
        case OPT_CERT_DIR:
            so.cert_dir = optarg;
            break;
        case OPT_HTML:
            html = optarg;
            break;
        default:
            ms_cli_bad_option("serve", argc, argv);
            goto out;
        }
    }
    if (cli.help) {
        usage(stdout);
        rc = MS_EXIT_OK;
        goto out;
    }
    struct ms_run_opts *o = &cli.ro;
    if (!o->protocol || !listen_spec) {
        fprintf(stderr, "mailspec serve: give --protocol and --listen\n");
        usage(stderr);
        goto out;
    }
    if (o->tls != MS_TLS_NONE && !o->tlso.cert) {
        fprintf(stderr, "mailspec serve: --tls %s needs --cert and --key\n",
                ms_tls_mode_name(o->tls));
        goto out;
    }
    if ((cli.json && strcmp(cli.json, "-") == 0) + (cli.junit && strcmp(cli.junit, "-") == 0) +
            (html && strcmp(html, "-") == 0) >
        1) {
        fprintf(stderr, "mailspec serve: only one of --json, --junit, --html can be '-'\n");
        goto out;
    }
    if (ms_cli_finish(&cli) != 0)
        goto out;
    for (int i = optind; i < argc; i++)
        if (collect(&it, argv[i]) != 0)
            goto out;
    int bad = 0;
    for (size_t i = 0; i < it.n; i++) {
        char *text;
        size_t len;
        struct ms_script_error err;
        if (ms_read_file(it.v[i].path, &text, &len) != 0) {
            bad = 1;
            continue;
        }
        if (sv_script_parse(text, len, &it.v[i].ss, &err) != 0) {
            fprintf(stderr, "%s:%zu:%zu: error: %s\n", it.v[i].path, err.line, err.col, err.reason);
            bad = 1;
        }
        free(text);
    }
    if (bad) {
        fprintf(stderr, "mailspec serve: no test was run (fix the scripts above)\n");
        goto out;
    }
    if (it.n == 0) {
        /* no scripts: the built-in server alone, one connection */
        static const char builtin[] = "@test serve.responder\n@title The built-in server "
                                      "alone\n@level info\n@client-exit ok\n@allow ${*}\n";
        struct ms_script_error err;
        if (add_item(&it, "(built-in)") != 0 ||
            sv_script_parse(builtin, sizeof(builtin) - 1, &it.v[0].ss, &err) != 0) {
            fprintf(stderr, "mailspec serve: the built-in script: %s\n", err.reason);
            goto out;
        }
    }
    if (o->tls != MS_TLS_NONE) {
        char err[256];
        so.tls_ctx = ms_rec_tls_server_ctx(o->tlso.cert, o->tlso.key ? o->tlso.key : o->tlso.cert,
                                           err, sizeof(err));
        if (!so.tls_ctx) {
            fprintf(stderr, "mailspec serve: %s\n", err);
            goto out;
        }
    }
    fd = listen_on(listen_spec, port, sizeof(port));
    if (fd < 0)
        goto out;
    /* the report's command line: the password masked in --client too */
    margv = calloc((size_t)argc + 1, sizeof(*margv));
    if (!margv)
        goto out;
    for (int i = 0; i < argc; i++)
        margv[i] = so.client && argv[i] == so.client ? masked(argv[i], o->password) : argv[i];
    ms_cli_args(&cli, argc, margv);
    shown = so.client ? masked(so.client, o->password) : NULL;

    so.protocol = o->protocol;
    so.tls = o->tls;
    so.user = o->user;
    so.password = o->password;
    so.timeout_ms = o->timeout_ms;
    so.port = port;
    so.listen_fd = fd;
    so.lim = o->lim;
    so.stop = &stop_flag;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = (int)SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int color = ms_use_color(stderr);
    if (cli.quiet < 2)
        fprintf(stderr, "mailspec serve: listening on %s port %s (%s, --tls %s), %zu script(s)\n",
                listen_spec, port, o->protocol, ms_tls_mode_name(o->tls), it.n);
    uint64_t start = ms_now_ms();
    size_t done = 0;
    for (size_t i = 0; i < it.n && !stop_flag; i++) {
        it.v[i].exit_only = sv_run(&it.v[i].ss, it.v[i].path, &so, &it.v[i].r);
        done++;
        if (!cli.quiet)
            ms_report_progress(stderr, &it.v[i].r, done, it.n, color, cli.verbose);
    }
    apply_baseline(&it, done);
    struct ms_test_result *res = calloc(done ? done : 1, sizeof(*res));
    if (!res)
        goto out;
    for (size_t i = 0; i < done; i++)
        res[i] = it.v[i].r;
    struct ms_report rep;
    memset(&rep, 0, sizeof(rep));
    rep.command = "serve";
    rep.protocol = o->protocol;
    /* the address serve listened on, without the port (which is "port") */
    char host[256];
    {
        const char *colon = strrchr(listen_spec, ':');
        size_t hl = colon ? (size_t)(colon - listen_spec) : strlen(listen_spec);
        if (hl >= 2 && listen_spec[0] == '[' && listen_spec[hl - 1] == ']')
            snprintf(host, sizeof(host), "%.*s", (int)(hl - 2), listen_spec + 1);
        else
            snprintf(host, sizeof(host), "%.*s", (int)hl, listen_spec);
    }
    rep.host = host;
    rep.port = port;
    rep.tls = o->tls;
    rep.tests = res;
    rep.n = done;
    rep.planned = it.n;
    rep.interrupted = stop_flag;
    rep.duration_ms = ms_now_ms() - start;
    rep.cli = &cli;
    char *bases[1] = {NULL};
    rep.bases = (const char *const *)bases;
    rep.nbases = 0;
    if (cli.quiet < 2)
        ms_report_summary_line(stderr, &rep, color);
    rc = ms_report_exit_code(&rep);
    if (write_reports(&rep, cli.json, cli.junit, html, shown) != 0)
        rc = MS_EXIT_USAGE;
    free(res);
out:
    if (fd >= 0)
        close(fd);
    for (size_t i = 0; i < it.n; i++) {
        free(it.v[i].path);
        sv_script_free(&it.v[i].ss);
        ms_test_result_free(&it.v[i].r);
    }
    free(it.v);
    if (margv) {
        for (int i = 0; i < argc; i++)
            if (margv[i] != argv[i])
                free(margv[i]);
        free(margv);
    }
    free(shown);
    if (so.tls_ctx)
        SSL_CTX_free(so.tls_ctx);
    ms_cli_free(&cli);
    return rc;
}
