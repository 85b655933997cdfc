/* mailspec: conformance test and fuzzing harness for SMTP, IMAP and POP3. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "mailspec/mailspec.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"parse", ms_cmd_parse, "frame and parse protocol bytes, print JSON per message"},
    {"record", ms_cmd_record, "proxy a real client and server, write .session files"},
    {"replay", ms_cmd_replay, "run .session scripts against a server, report per test"},
    {"certify", ms_cmd_certify, "run a conformance suite against a server, write reports"},
    {"serve", ms_cmd_serve, "play the server for a mail client, judge the client"},
    {"fuzz-server", ms_cmd_fuzz_server, "fuzz a live server, write findings as .session files"},
    {"stress", ms_cmd_stress, "many clients on one mailbox, server state checked against a model"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: mailspec COMMAND [OPTIONS] [ARGS]\n\n"
               "Conformance test and fuzzing harness for SMTP, IMAP and POP3.\n\n"
               "Commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'mailspec COMMAND --help' for a command's options.\n"
               "Exit status: 0 success, 1 invalid input or failed test, 2 usage or I/O "
               "error.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return MS_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return MS_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("mailspec %s\n", MAILSPEC_VERSION);
        return MS_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
            /* getopt_long names argv[0] in its messages: "mailspec certify: ..." */
            char name[32];
            snprintf(name, sizeof(name), "mailspec %s", commands[i].name);
            argv[1] = name;
            return commands[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "mailspec: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return MS_EXIT_USAGE;
}
