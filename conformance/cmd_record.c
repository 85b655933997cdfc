/*
 * mailspec record: parse the command line, then run the recording proxy
 * (record.c). docs/record.md describes the options and the output.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
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
               "  --concurrency N       connections recorded at once (default 4, max 64)\n"
               "  --timeout S           end a session after S seconds without traffic;\n"
               "                        also bounds connects and handshakes (default 120)\n"
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

int ms_cmd_record(int argc, char **argv)
{
    static char lhost[256], chost[256];
    struct ms_rec_options o;
    const char *listen = NULL, *connect = NULL, *proto = NULL, *tls = "none";

    memset(&o, 0, sizeof(o));
    o.timeout = 120;
    o.concurrency = 4;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            record_usage(stdout);
            return MS_EXIT_OK;
        } else if (strcmp(a, "--raw") == 0) {
            o.raw = 1, takes = 0;
        } else if (strcmp(a, "--insecure") == 0) {
            o.insecure = 1, takes = 0;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            o.quiet = 1, takes = 0;
        } else if (!v) {
            fprintf(stderr, "mailspec record: unknown option or missing value: '%s'\n", a);
            record_usage(stderr);
            return MS_EXIT_USAGE;
        } else if (strcmp(a, "--listen") == 0) {
            listen = v;
        } else if (strcmp(a, "--connect") == 0) {
            connect = v;
        } else if (strcmp(a, "--protocol") == 0) {
            proto = v;
        } else if (strcmp(a, "--tls") == 0) {
            tls = v;
        } else if (strcmp(a, "--out") == 0) {
            o.out = v;
        } else if (strcmp(a, "--cert") == 0) {
            o.cert = v;
        } else if (strcmp(a, "--key") == 0) {
            o.key = v;
        } else if (strcmp(a, "--cafile") == 0) {
            o.cafile = v;
        } else if (strcmp(a, "--max-sessions") == 0) {
            if (number_opt(a, v, 1000000, &o.max_sessions) != 0)
                return MS_EXIT_USAGE;
        } else if (strcmp(a, "--concurrency") == 0) {
            if (number_opt(a, v, 64, &o.concurrency) != 0 || o.concurrency == 0) {
                fprintf(stderr, "mailspec record: --concurrency takes 1 to 64\n");
                return MS_EXIT_USAGE;
            }
        } else if (strcmp(a, "--timeout") == 0) {
            if (number_opt(a, v, 86400, &o.timeout) != 0 || o.timeout == 0) {
                fprintf(stderr, "mailspec record: --timeout takes 1 to 86400 seconds\n");
                return MS_EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "mailspec record: unknown option '%s'\n", a);
            record_usage(stderr);
            return MS_EXIT_USAGE;
        }
        i += takes;
    }
    if (!listen || !connect || !proto || !o.out) {
        fprintf(stderr, "mailspec record: --listen, --connect, --protocol and --out are "
                        "required\n");
        record_usage(stderr);
        return MS_EXIT_USAGE;
    }
    if (split_hostport("--listen", listen, lhost, sizeof(lhost), &o.listen_port) != 0 ||
        split_hostport("--connect", connect, chost, sizeof(chost), &o.connect_port) != 0)
        return MS_EXIT_USAGE;
    o.listen_host = lhost;
    o.connect_host = chost;
    o.proto = ms_rec_proto_parse(proto);
    if (!o.proto) {
        fprintf(stderr, "mailspec record: unknown protocol '%s' (smtp, pop3, imap)\n", proto);
        return MS_EXIT_USAGE;
    }
    if (ms_tls_mode_parse(tls, &o.tls) != 0) {
        fprintf(stderr, "mailspec record: --tls takes none, starttls or implicit, got '%s'\n", tls);
        return MS_EXIT_USAGE;
    }
    if (!o.cert != !o.key) {
        fprintf(stderr, "mailspec record: --cert and --key go together\n");
        return MS_EXIT_USAGE;
    }
    if (o.tls != MS_TLS_NONE && !o.cert) {
        fprintf(stderr,
                "mailspec record: --tls %s needs --cert and --key (the certificate "
                "the client sees)\n",
                tls);
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
