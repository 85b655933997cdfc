/*
 * The report document: a small JSON DOM (malloc'd nodes). certify and replay
 * build their report in memory as one document; JSON, JUnit and HTML are
 * rendered from it (report.h, report_html.h). The reader bounds depth and
 * size, so `--html-from` can load reports written elsewhere.
 */
#ifndef MAILSPEC_JSON_H
#define MAILSPEC_JSON_H

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

/* An empty node of type (OBJECT, ARRAY, NULL). */
struct ms_json *ms_json_new(enum ms_json_type type);
/* Append v to an array (v is owned by arr afterwards, freed on failure). 0 or -1. */
int ms_json_append(struct ms_json *arr, struct ms_json *v);
int ms_json_set_str(struct ms_json *obj, const char *key, const char *s);
int ms_json_set_num(struct ms_json *obj, const char *key, uint64_t n);
/* The document as text with a final newline (malloc'd), or NULL. */
char *ms_json_text(const struct ms_json *v, size_t *len);

#endif
