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

/*
 * Parse buf as a stream of IMAP responses with libetpan, in this process (the
 * differential fuzzer's use). Returns 0 when every response parsed, -1 with
 * a message in err otherwise; *messages counts responses, *consumed the bytes
 * libetpan read.
 */
int etpan_parse(const char *buf, size_t len, uint64_t *messages, size_t *consumed, char *err,
                size_t errcap);

#endif
