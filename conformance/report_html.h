/*
 * The self-contained HTML report, rendered from one or more report documents
 * (json.h; the JSON contract of docs/architecture.md), so `certify --html` and `certify
 * --html-from a.json b.json ...` share one renderer and the HTML never shows
 * anything the JSON does not hold.
 */
#ifndef MAILSPEC_REPORT_HTML_H
#define MAILSPEC_REPORT_HTML_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "json.h"

/*
 * Write the HTML page for n parsed reports: summary, compliance matrix (test
 * x report), then each report's results grouped by RFC and level, with the
 * transcripts. Returns 0, or -1 when a report lacks the contract's fields
 * (message in err) or on a write error.
 */
int ms_html_write(FILE *f, const struct ms_json *const *reports, size_t n, char *err,
                  size_t errcap);

/* Read JSON report files and write the HTML page to out ("-": stdout).
 * Returns 0, or -1 with a message on stderr. */
int ms_html_from_files(const char *out, const char *const *paths, size_t n);

#endif
