/*
 * Reports of a run: terminal progress and summary, JSON (DESIGN.md contract)
 * and JUnit XML. Files are written atomically (temp file + rename), so a
 * reader never sees half a report, even after SIGINT.
 * Shared by `mailspec replay` and `mailspec certify`.
 */
#ifndef MAILSPEC_REPORT_H
#define MAILSPEC_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "runner.h"

struct ms_report {
    const char *command; /* "replay", "certify" */
    const char *protocol;
    const char *host;
    const char *port;
    enum ms_tls_mode tls;
    const struct ms_test_result *tests; /* the finished tests, in input order */
    size_t n;
    size_t planned; /* tests that were to run (n < planned after SIGINT) */
    int interrupted;
    uint64_t duration_ms;
};

struct ms_summary {
    size_t pass, fail, skip, error;
    size_t must_fail; /* failed tests of level MUST */
};

void ms_report_summarize(const struct ms_report *rep, struct ms_summary *sum);

/*
 * Exit status (DESIGN.md): 1 when a MUST-level test failed, else 2 when a
 * test could not be judged (error) or the run was interrupted, else 0.
 */
int ms_report_exit_code(const struct ms_report *rep);

/* "-" writes to stdout. Return 0, or -1 with a message on stderr. */
int ms_report_json(const struct ms_report *rep, const char *path);
int ms_report_junit(const struct ms_report *rep, const char *path);

/* Write data to path atomically (temp file in the same directory + rename). */
int ms_write_atomic(const char *path, const char *data, size_t n);

/* Colour on f: not when NO_COLOR is set or f is not a terminal. */
int ms_use_color(FILE *f);
/* One progress line for a finished test ("[ 3/12] PASS id title"), with the
 * message and the transcript's tail for fail/error when verbose >= 0. */
void ms_report_progress(FILE *f, const struct ms_test_result *r, size_t done, size_t total,
                        int color, int verbose);
void ms_report_summary_line(FILE *f, const struct ms_report *rep, int color);

#endif
