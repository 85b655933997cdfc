/* libetpan baseline for the IMAP response streams (bench/etpan.c). */
#ifndef MAILSPEC_BENCH_ETPAN_H
#define MAILSPEC_BENCH_ETPAN_H

#include <stddef.h>
#include <stdint.h>

#define ETPAN_MAX_RUNS 16

struct etpan_result {
    int runs;                    /* timed runs that completed */
    double secs[ETPAN_MAX_RUNS]; /* wall clock of each run */
    double cpu[ETPAN_MAX_RUNS];  /* CPU time of each run */
    uint64_t messages;           /* responses parsed in one run */
    uint64_t bytes;              /* bytes consumed in one run */
    char error[256];             /* empty when every run parsed everything */
};

/* Runs libetpan over buf in a forked child. Returns 0 on success. */
int etpan_bench(const char *buf, size_t len, int runs, struct etpan_result *res);

#endif
