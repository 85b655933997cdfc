/*
 * mailspec record: parse the command line, then run the recording proxy
 * (record.c). docs/record.md describes the options and the output.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_common.h"
#include "mailspec/mailspec.h"
#include "record.h"

static void record_usage(FILE *f)
{
    fprintf(f, "usage: mailspec record --listen ADDR:PORT --connect HOST:PORT --protocol P\n"
               "                       [--tls none|starttls|implicit] --out FILE|DIR [OPTIONS]\n\n"
               "A proxy between a real client and a real server: every client connection is\n"
               "relayed to HOST:PORT and written as a .session file (both directions, exact\n"
               "bytes, line by line, flushed as it goes). Credentials become ${user} and\n"
               "${password} (SASL blobs: ${sasl_plain}, ${sasl_user}, ${sasl_password}) and\n"
               "values that change between runs become ${*}, so the file replays with\n"
               "'mailspec replay'. See docs/record.md.\n\n"
               "Options:\n"
               "  --listen ADDR:PORT    where clients connect (e.g. 127.0.0.1:10143)\n"
               "  --connect HOST:PORT   the real server; HOST is also the name verified in\n"
               "                        its certificate\n"
               "  --protocol P          smtp, pop3 or imap\n"
               "  --tls MODE            none (default): plain; a STARTTLS/STLS upgrade is\n"
               "                        followed when --cert/--key are given;\n"
               "                        starttls: plain first, upgrade followed (needs --cert);\n"
               "                        implicit: TLS from the first byte (needs --cert)\n"
               "  --out FILE|DIR        one .session per connection: in DIR as\n"
               "                        <protocol>-<n>.session, or FILE, FILE-2, ...\n"
               "  --cert FILE --key FILE  our certificate and key toward the client (PEM)\n"
               "  --cafile FILE         trust anchors for the server's certificate\n"
               "  --insecure            do not verify the server's certificate\n"
               "  --raw                 rewrite nothing (the file may hold credentials)\n"
               "  --max-sessions N      exit after N connections (default: until SIGINT)\n"
               "  --concurrency N       connections recorded at once (default 32, max 256);\n"
               "                        more wait in the listen queue\n"
               "  --timeout S           end a session after S seconds without traffic;\n"
               "                        also bounds connects and handshakes (default 120)\n"
               "  --max-size MIB        stop writing a .session file at MIB mebibytes (the\n"
               "                        connection is still relayed; default 64, 0: no cap)\n"
               "  -q, --quiet           no progress messages on stderr\n"
               "  -h, --help            this help\n\n"
               "SIGINT or SIGTERM stops recording; open sessions are closed and their\n"
               "files end with a comment saying so.\n"
               "Exit status: 0 success, 2 usage error, or a session could not reach the\n"
               "server (connection or TLS failure).\n");
}

/* "HOST:PORT" or "[V6]:PORT" into host (cap bytes) and port. */
static int split_hostport(const char *opt, const char *s, char *host, size_t cap, unsigned *port)
{
    const char *colon = strrchr(s, ':');
    const char *h = s;
    size_t hl;
    uint64_t v;

    if (!colon || colon == s) {
        fprintf(stderr, "mailspec record: %s takes HOST:PORT, got '%s'\n", opt, s);
        return -1;
    }
    hl = (size_t)(colon - s);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= cap || ms_number_parse(colon + 1, strlen(colon + 1), 65535, &v) != MS_OK ||
        v == 0) {
        fprintf(stderr, "mailspec record: %s takes HOST:PORT (port 1-65535), got '%s'\n", opt, s);
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (unsigned)v;
    return 0;
}

static int number_opt(const char *opt, const char *s, uint64_t max, unsigned *out)
{
    uint64_t v;
    if (ms_number_parse(s, strlen(s), max, &v) != MS_OK) {
        fprintf(stderr, "mailspec record: %s takes a number up to %llu, got '%s'\n", opt,
                (unsigned long long)max, s);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

enum {
    OPT_LISTEN = MS_OPT_CONN_LAST,
    OPT_CONNECT,
    OPT_OUT,
    OPT_RAW,
    OPT_MAX_SESSIONS,
    OPT_CONCURRENCY,
    OPT_TIMEOUT,
    OPT_MAX_SIZE
};

/* The shared options record takes (cli_common.h), and its own. */
static const struct option record_options[] = {
    MS_CLI_PEER_OPTIONS,
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"connect", required_argument, NULL, OPT_CONNECT},
    {"out", required_argument, NULL, OPT_OUT},
    {"raw", no_argument, NULL, OPT_RAW},
    {"max-sessions", required_argument, NULL, OPT_MAX_SESSIONS},
    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"max-size", required_argument, NULL, OPT_MAX_SIZE},
    {NULL, 0, NULL, 0},
};

/* The options into o (listen and connect as given); -1 to go on, else the exit code. */
static int record_options_parse(struct ms_rec_options *o, const char **listen, const char **connect,
                                int argc, char **argv)
{
    struct ms_cli cli;
    int code;

    ms_cli_init(&cli, "record");
    optind = 1;
    while ((code = getopt_long(argc, argv, "qh", record_options, NULL)) != -1) {
        int r = ms_cli_option(&cli, code, optarg);
        if (r < 0)
            return MS_EXIT_USAGE;
        if (r > 0)
            continue;
        switch (code) {
        case OPT_LISTEN:
            *listen = optarg;
            break;
        case OPT_CONNECT:
            *connect = optarg;
            break;
        case OPT_OUT:
            o->out = optarg;
            break;
        case OPT_RAW:
            o->raw = 1;
            break;
        case OPT_MAX_SESSIONS:
            if (number_opt("--max-sessions", optarg, 1000000, &o->max_sessions) != 0)
                return MS_EXIT_USAGE;
            break;
        case OPT_CONCURRENCY:
            if (number_opt("--concurrency", optarg, MS_REC_CONCURRENCY_MAX, &o->concurrency) != 0 ||
                o->concurrency == 0) {
                fprintf(stderr, "mailspec record: --concurrency takes 1 to %d\n",
                        MS_REC_CONCURRENCY_MAX);
                return MS_EXIT_USAGE;
            }
            break;
        case OPT_MAX_SIZE: {
            unsigned mib;
            if (number_opt("--max-size", optarg, 1048576, &mib) != 0)
                return MS_EXIT_USAGE;
            o->max_size = (uint64_t)mib << 20;
            break;
        }
        case OPT_TIMEOUT:
            if (number_opt("--timeout", optarg, 86400, &o->timeout) != 0 || o->timeout == 0) {
                fprintf(stderr, "mailspec record: --timeout takes 1 to 86400 seconds\n");
                return MS_EXIT_USAGE;
            }
            break;
        default:
            ms_cli_bad_option("record", argc, argv);
            return MS_EXIT_USAGE;
        }
    }
    if (cli.help) {
        record_usage(stdout);
        return MS_EXIT_OK;
    }
    if (optind < argc) {
        fprintf(stderr, "mailspec record: unexpected argument '%s' (see --help)\n", argv[optind]);
        return MS_EXIT_USAGE;
    }
    o->proto = cli.ro.protocol ? ms_rec_proto_parse(cli.ro.protocol) : (enum ms_rec_proto)0;
    o->tls = cli.ro.tls;
    o->cafile = cli.ro.tlso.cafile;
    o->insecure = cli.ro.tlso.insecure;
    o->cert = cli.ro.tlso.cert;
    o->key = cli.ro.tlso.key;
    o->quiet = cli.quiet;
    return -1;
}

int ms_cmd_record(int argc, char **argv)
{
    static char lhost[256], chost[256];
    struct ms_rec_options o;
    const char *listen = NULL, *connect = NULL;
    int rc;

    memset(&o, 0, sizeof(o));
    o.timeout = 120;
    o.concurrency = MS_REC_CONCURRENCY_DEFAULT;
    o.max_size = MS_REC_MAX_SIZE_DEFAULT;
    if ((rc = record_options_parse(&o, &listen, &connect, argc, argv)) >= 0)
        return rc;
    if (!listen || !connect || !o.proto || !o.out) {
        fprintf(stderr, "mailspec record: --listen, --connect, --protocol and --out are "
                        "required (see 'mailspec record --help')\n");
        return MS_EXIT_USAGE;
    }
    if (split_hostport("--listen", listen, lhost, sizeof(lhost), &o.listen_port) != 0 ||
        split_hostport("--connect", connect, chost, sizeof(chost), &o.connect_port) != 0)
        return MS_EXIT_USAGE;
    o.listen_host = lhost;
    o.connect_host = chost;
    if (!o.cert != !o.key) {
        fprintf(stderr, "mailspec record: --cert and --key go together\n");
        return MS_EXIT_USAGE;
    }
    if (o.tls != MS_TLS_NONE && !o.cert) {
        fprintf(stderr,
                "mailspec record: --tls %s needs --cert and --key (the certificate "
                "the client sees)\n",
                ms_tls_mode_name(o.tls));
        return MS_EXIT_USAGE;
    }
    struct stat sb;
    size_t ol = strlen(o.out);
    if (stat(o.out, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        o.out_is_dir = 1;
    } else if (ol > 0 && o.out[ol - 1] == '/') {
        fprintf(stderr, "mailspec record: --out %s: no such directory\n", o.out);
        return MS_EXIT_USAGE;
    }
    return ms_record_run(&o);
}
