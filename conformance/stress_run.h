/*
 * The stress run (stress.c): options, the event loop over N nonblocking
 * connections, statistics and the report. cmd_stress.c fills the options.
 */
#ifndef MAILSPEC_STRESS_RUN_H
#define MAILSPEC_STRESS_RUN_H

#include <stdint.h>

#include "cli_common.h"

struct ms_stress_opts {
    struct ms_cli *cli;    /* connection, TLS, credentials, --json, -q, -v */
    unsigned clients;      /* --clients (1..MS_STRESS_MAX_CLIENTS) */
    unsigned duration_s;   /* --duration */
    unsigned checkpoint_s; /* --checkpoint (0: only the final one) */
    uint64_t seed;         /* --seed */
    int seed_given;
    const char *log;       /* --log FILE: JSONL, one line a second */
    const char *mailbox;   /* --mailbox (default: mailspec-stress-<run id>) */
    int keep;              /* --keep: do not delete the mailbox at the end */
    const char *repro_dir; /* --repro DIR: reproducers (stress_repro.c) written there */
    /* SMTP: delivery checked over IMAP (docs/stress.md, "SMTP") */
    const char *check_host;     /* --check-host (default: --host) */
    const char *check_port;     /* --check-port: the recipient's IMAP port */
    enum ms_tls_mode check_tls; /* --check-tls (default: --tls) */
    int auth;                   /* --auth: AUTH PLAIN as --user before sending */
    unsigned settle_s;          /* --settle: wait this long for accepted mail to arrive */
};

#define MS_STRESS_MAX_CLIENTS 500

/* Run; returns the exit status (0 no inconsistency, 1 one found, 2 usage or
 * connection error). */
int ms_stress_run(const struct ms_stress_opts *o);

#endif
