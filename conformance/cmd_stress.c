/*
 * mailspec stress: many clients on one mailbox, every response parsed, the
 * server's state checked against a model (docs/stress.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_common.h"
#include "mailspec/mailspec.h"
#include "stress_run.h"

enum {
    OPT_CLIENTS = MS_OPT_CONN_LAST,
    OPT_DURATION,
    OPT_SEED,
    OPT_LOG,
    OPT_CHECKPOINT,
    OPT_MAILBOX,
    OPT_KEEP,
    OPT_CHECK_HOST,
    OPT_CHECK_PORT,
    OPT_CHECK_TLS,
    OPT_AUTH,
    OPT_SETTLE,
    OPT_REPRO,
};

static const struct option stress_options[] = {
    MS_CLI_CONN_OPTIONS,
    {"clients", required_argument, NULL, OPT_CLIENTS},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"seed", required_argument, NULL, OPT_SEED},
    {"log", required_argument, NULL, OPT_LOG},
    {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
    {"mailbox", required_argument, NULL, OPT_MAILBOX},
    {"keep", no_argument, NULL, OPT_KEEP},
    {"check-host", required_argument, NULL, OPT_CHECK_HOST},
    {"check-port", required_argument, NULL, OPT_CHECK_PORT},
    {"check-tls", required_argument, NULL, OPT_CHECK_TLS},
    {"auth", no_argument, NULL, OPT_AUTH},
    {"settle", required_argument, NULL, OPT_SETTLE},
    {"repro", required_argument, NULL, OPT_REPRO},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mailspec stress --protocol imap|pop3 --user U --password-file F [OPTIONS]\n"
            "       mailspec stress --protocol smtp --rcpt ADDR --check-port N --user U\n"
            "                       --password-file F [OPTIONS]\n\n"
            "Run many clients at once against a server, with a weighted random mix of\n"
            "commands; parse every response strictly and check the server's state against\n"
            "a model of what each session may legally see. IMAP: one mailbox shared by all\n"
            "sessions (UIDs, sequence numbers, message contents, flags, MODSEQ,\n"
            "checkpoints). POP3: the user's maildrop, read only (unique-ids, sizes and\n"
            "bodies stable within and across sessions). SMTP: every session submits\n"
            "messages to --rcpt; each accepted one is read back over IMAP (as --user) and\n"
            "must arrive exactly once, as sent, after added trace fields.\n\n"
            "%s"
            "Stress:\n"
            "  --clients N                 concurrent sessions (default 10, max %d)\n"
            "  --duration SECONDS          how long to run (default 10)\n"
            "  --checkpoint SECONDS        IMAP: pause every client and compare their views\n"
            "                              this often (default 5; 0: only at the end)\n"
            "  --seed N                    random seed, for a reproducible command mix\n"
            "  --mailbox NAME              IMAP: the mailbox to create and use (default\n"
            "                              mailspec-stress-<run id>); deleted at the end\n"
            "  --keep                      keep the mailbox\n"
            "  --repro DIR                 IMAP: write a reproducer .session into DIR for\n"
            "                              each kind of inconsistency that has one, and\n"
            "                              run it once to say whether it reproduces\n"
            "SMTP:\n"
            "  --rcpt ADDR                 the recipient of every message (required); the\n"
            "                              reverse-path is ADDR too unless --mail-from\n"
            "  --check-port PORT           IMAP port of ADDR's mailbox, read as --user\n"
            "                              (required); --mailbox: where mail is delivered\n"
            "                              (default INBOX)\n"
            "  --check-host HOST           host of that IMAP port (default: --host)\n"
            "  --check-tls MODE            TLS of the IMAP port (default: --tls)\n"
            "  --auth                      AUTH PLAIN as --user before sending\n"
            "  --settle SECONDS            after the run, wait for accepted messages until\n"
            "                              none has arrived for this long (default 60)\n"
            "  --json FILE                 summary: commands, seconds, commands_per_second,\n"
            "                              inconsistencies, ... ('-': stdout)\n"
            "  --log FILE                  one JSON line a second: commands/s, latency\n"
            "                              percentiles per command, errors\n"
            "  -q, --quiet                 no progress line; -qq: nothing but errors\n"
            "  -v, --verbose               print each inconsistency with its transcripts\n\n"
            "Exit status: 0 no inconsistency, 1 an inconsistency was found, 2 usage or\n"
            "connection error.\n",
            ms_cli_conn_usage, MS_STRESS_MAX_CLIENTS);
}

static int number(const char *opt, const char *arg, uint64_t max, uint64_t min, uint64_t *out)
{
    if (ms_number_parse(arg, strlen(arg), max, out) != MS_OK || *out < min) {
        fprintf(stderr, "mailspec stress: --%s: takes %llu to %llu\n", opt, (unsigned long long)min,
                (unsigned long long)max);
        return -1;
    }
    return 0;
}

int ms_cmd_stress(int argc, char **argv)
{
    struct ms_cli cli;
    struct ms_stress_opts so;
    uint64_t v;
    int code, rc = MS_EXIT_USAGE, check_tls_given = 0;

    ms_cli_init(&cli, "stress");
    ms_cli_args(&cli, argc, argv);
    memset(&so, 0, sizeof(so));
    so.cli = &cli;
    so.clients = 10;
    so.duration_s = 10;
    so.checkpoint_s = 5;
    so.settle_s = 60;
    optind = 1;
    while ((code = getopt_long(argc, argv, "qvh", stress_options, NULL)) != -1) {
        int r = ms_cli_option(&cli, code, optarg);
        if (r < 0)
            goto out;
        if (r > 0)
            continue;
        switch (code) {
        case OPT_CLIENTS:
            if (number("clients", optarg, MS_STRESS_MAX_CLIENTS, 1, &v) != 0)
                goto out;
            so.clients = (unsigned)v;
            break;
        case OPT_DURATION:
            if (number("duration", optarg, 86400, 1, &v) != 0)
                goto out;
            so.duration_s = (unsigned)v;
            break;
        case OPT_CHECKPOINT:
            if (number("checkpoint", optarg, 86400, 0, &v) != 0)
                goto out;
            so.checkpoint_s = (unsigned)v;
            break;
        case OPT_SEED:
            if (number("seed", optarg, UINT64_MAX, 0, &v) != 0)
                goto out;
            so.seed = v;
            so.seed_given = 1;
            break;
        case OPT_LOG:
            so.log = optarg;
            break;
        case OPT_MAILBOX:
            if (!*optarg || strlen(optarg) > 200 || strpbrk(optarg, "\"\\\r\n%*") != NULL) {
                fprintf(stderr, "mailspec stress: --mailbox: takes a name of 1 to 200 "
                                "characters without quotes, backslashes, %% or *\n");
                goto out;
            }
            so.mailbox = optarg;
            break;
        case OPT_KEEP:
            so.keep = 1;
            break;
        case OPT_REPRO:
            if (!*optarg) {
                fprintf(stderr, "mailspec stress: --repro: takes a directory\n");
                goto out;
            }
            so.repro_dir = optarg;
            break;
        case OPT_CHECK_HOST:
            if (!*optarg || strpbrk(optarg, " \r\n")) {
                fprintf(stderr, "mailspec stress: --check-host: takes a host name or address\n");
                goto out;
            }
            so.check_host = optarg;
            break;
        case OPT_CHECK_PORT:
            if (number("check-port", optarg, 65535, 1, &v) != 0)
                goto out;
            so.check_port = optarg;
            break;
        case OPT_CHECK_TLS:
            if (ms_tls_mode_parse(optarg, &so.check_tls) != 0) {
                fprintf(stderr, "mailspec stress: --check-tls: takes none, starttls or implicit\n");
                goto out;
            }
            check_tls_given = 1;
            break;
        case OPT_AUTH:
            so.auth = 1;
            break;
        case OPT_SETTLE:
            if (number("settle", optarg, 3600, 1, &v) != 0)
                goto out;
            so.settle_s = (unsigned)v;
            break;
        default:
            ms_cli_bad_option("stress", argc, argv);
            goto out;
        }
    }
    if (cli.help) {
        usage(stdout);
        rc = MS_EXIT_OK;
        goto out;
    }
    if (optind < argc) {
        fprintf(stderr, "mailspec stress: unexpected argument '%s'\n", argv[optind]);
        goto out;
    }
    if (!cli.ro.protocol) {
        fprintf(stderr, "mailspec stress: --protocol is required (imap, pop3 or smtp)\n");
        goto out;
    }
    int smtp = strcmp(cli.ro.protocol, "smtp") == 0;
    if (smtp && (!cli.ro.rcpt || !so.check_port)) {
        fprintf(stderr, "mailspec stress: --protocol smtp needs --rcpt ADDR and --check-port "
                        "(the IMAP port where ADDR's mail is read back)\n");
        goto out;
    }
    if (!smtp && (so.check_port || so.check_host || check_tls_given || so.auth)) {
        fprintf(stderr, "mailspec stress: --check-host, --check-port, --check-tls and --auth are "
                        "for --protocol smtp\n");
        goto out;
    }
    if (cli.junit) {
        fprintf(stderr, "mailspec stress: --junit is not supported (use --json)\n");
        goto out;
    }
    if (ms_cli_finish(&cli) != 0)
        goto out;
    if (!check_tls_given)
        so.check_tls = cli.ro.tls;
    if (!cli.ro.user || !cli.ro.password) {
        fprintf(stderr, "mailspec stress: --user and a password (--password-file, --password or "
                        "MAILSPEC_PASSWORD) are required\n");
        goto out;
    }
    rc = ms_stress_run(&so);
out:
    ms_cli_free(&cli);
    return rc;
}
