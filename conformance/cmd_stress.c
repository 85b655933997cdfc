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
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mailspec stress --protocol imap|pop3 --user U --password-file F [OPTIONS]\n\n"
            "Run many clients at once against a server, with a weighted random mix of\n"
            "commands; parse every response strictly and check the server's state against\n"
            "a model of what each session may legally see. IMAP: one mailbox shared by all\n"
            "sessions (UIDs, sequence numbers, message contents, flags, MODSEQ,\n"
            "checkpoints). POP3: the user's maildrop, read only (unique-ids, sizes and\n"
            "bodies stable within and across sessions).\n\n"
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
    int code, rc = MS_EXIT_USAGE;

    ms_cli_init(&cli, "stress");
    ms_cli_args(&cli, argc, argv);
    memset(&so, 0, sizeof(so));
    so.cli = &cli;
    so.clients = 10;
    so.duration_s = 10;
    so.checkpoint_s = 5;
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
        fprintf(stderr, "mailspec stress: --protocol is required (imap or pop3)\n");
        goto out;
    }
    if (strcmp(cli.ro.protocol, "imap") != 0 && strcmp(cli.ro.protocol, "pop3") != 0) {
        fprintf(stderr,
                "mailspec stress: --protocol %s: only imap and pop3 are implemented so far\n",
                cli.ro.protocol);
        goto out;
    }
    if (cli.junit) {
        fprintf(stderr, "mailspec stress: --junit is not supported (use --json)\n");
        goto out;
    }
    if (ms_cli_finish(&cli) != 0)
        goto out;
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
