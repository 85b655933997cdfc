/*
 * The self-contained HTML report, rendered from one or more JSON reports
 * (the DESIGN.md contract), so `certify --html` and `certify --html-from
 * a.json b.json ...` share one renderer and the HTML never shows anything the
 * JSON does not hold.
 *
 * Also a small JSON reader (a DOM with malloc'd nodes; depth and size bounded)
 * used to load the reports.
 */
#ifndef MAILSPEC_REPORT_HTML_H
#define MAILSPEC_REPORT_HTML_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum ms_json_type {
    MS_JSON_NULL,
    MS_JSON_BOOL,
    MS_JSON_NUMBER,
    MS_JSON_STRING,
    MS_JSON_ARRAY,
    MS_JSON_OBJECT,
};

struct ms_json {
    enum ms_json_type type;
    char *key;   /* member name inside an object, else NULL */
    char *str;   /* STRING: decoded UTF-8 (NUL added); NUMBER: its text */
    size_t len;  /* bytes in str */
    int boolean; /* BOOL */
    struct ms_json *child, *next;
    size_t count; /* ARRAY/OBJECT: elements */
};

#define MS_JSON_MAX_DEPTH 64

/* Parse exactly one JSON value (whitespace around it allowed). NULL on error
 * with "offset N: reason" in err. */
struct ms_json *ms_json_parse(const char *text, size_t len, char *err, size_t errcap);
void ms_json_free(struct ms_json *v);
/* Member of an object by name, or NULL. */
const struct ms_json *ms_json_get(const struct ms_json *obj, const char *key);
/* A string member's text, or dflt when missing or not a string/number. */
const char *ms_json_gets(const struct ms_json *obj, const char *key, const char *dflt);

/* Nodes to build or extend a document (NULL when out of memory). */
struct ms_json *ms_json_new_string(const char *s);
struct ms_json *ms_json_new_number(uint64_t v);
struct ms_json *ms_json_new_bool(int b);
/* Set member key of obj to v (replacing an existing one; v is owned by obj
 * afterwards, freed on failure). Returns 0, or -1. */
int ms_json_set(struct ms_json *obj, const char *key, struct ms_json *v);
/* Serialize (compact; strings through ms_out_json_str). */
void ms_json_write(FILE *f, const struct ms_json *v);

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
