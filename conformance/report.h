/*
 * Reports of a run: terminal progress and summary, JSON (docs/architecture.md "Contracts")
 * and JUnit XML. Files are written atomically (temp file + rename), so a
 * reader never sees half a report, even after SIGINT.
 * Shared by `mailspec replay` and `mailspec certify`.
 */
#ifndef MAILSPEC_REPORT_H
#define MAILSPEC_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli_common.h"
#include "json.h"
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
    /* Provenance (docs/certify.md "Reports"): the command line (the password
     * masked) and the start time; NULL: none. The end is when the document
     * is built. */
    const struct ms_cli *cli;
    /* Directories (the suite) that paths in the report are shown relative
     * to: no absolute path of the machine that ran it reaches a report. */
    const char *const *bases;
    size_t nbases;
};

struct ms_summary {
    size_t by[MS_RES_COUNT];        /* tests per result */
    size_t must[MS_RES_COUNT];      /* MUST-level tests per result */
    size_t pass, fail, skip, error; /* the contract's four (skip: not-applicable + not-supported) */
    size_t must_fail;               /* failed tests of level MUST */
};

void ms_report_summarize(const struct ms_report *rep, struct ms_summary *sum);

/*
 * The verdict of a run (docs/certify.md "Verdict"), from its MUST-level
 * counts: FAIL when a MUST test failed; ERROR when the harness failed or the
 * run was interrupted; INCOMPLETE when no test of any level ran (ran_any:
 * passed or failed), a MUST test was blocked, or fewer than half of the MUST
 * tests that apply (all but not-supported) ran;
 * else PASS.
 */
enum ms_verdict { MS_VERDICT_PASS, MS_VERDICT_FAIL, MS_VERDICT_INCOMPLETE, MS_VERDICT_ERROR };
enum ms_verdict ms_verdict_of(const size_t must[MS_RES_COUNT], size_t must_fail, size_t errors,
                              int interrupted, size_t ran_any);
/* 0, 1 (MS_EXIT_FAIL), 6 (MS_EXIT_INCOMPLETE) or 2. */
int ms_verdict_exit(enum ms_verdict v);
int ms_report_exit_code(const struct ms_report *rep);

/* The report as one document (json.h): what JSON, JUnit and HTML render. */
struct ms_json *ms_report_doc(const struct ms_report *rep);
/* A path as reports show it (malloc'd, NULL when out of memory): relative to
 * the base it lies under, else as given when relative, else ".../" and its
 * last component. */
char *ms_report_shown_path(const struct ms_report *rep, const char *path);
/* "-" writes to stdout. Return 0, or -1 with a message on stderr. */
int ms_report_write_json(const struct ms_json *doc, const char *path);
int ms_report_write_junit(const struct ms_json *doc, const char *path);

/*
 * Write data to path atomically: a new temp file in the same directory
 * (O_CREAT|O_EXCL|O_NOFOLLOW, a random name, mode 0666 less the umask), then
 * rename over path, so a reader never sees half a report and a symlink
 * planted at path is replaced, not followed. "-" writes to stdout.
 */
int ms_write_atomic(const char *path, const char *data, size_t n);

/* Colour on f: not when NO_COLOR is set or f is not a terminal. */
int ms_use_color(FILE *f);
/* One progress line for a finished test ("[ 3/12] PASS id title"), with the
 * message and the transcript's tail for fail/error when verbose >= 0. */
void ms_report_progress(FILE *f, const struct ms_test_result *r, size_t done, size_t total,
                        int color, int verbose);
void ms_report_summary_line(FILE *f, const struct ms_report *rep, int color);

#endif
