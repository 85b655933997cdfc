/*
 * The --expect-fail allow-list: a per-server list of known deviations.
 *
 * Format (docs/certify.md), UTF-8 text, one entry a line:
 *
 *   # comment
 *   smtp.vrfy.252          server policy: VRFY disabled on purpose
 *   imap.literal-plus.*    LITERAL+ is advertised but broken (ticket 123)
 *
 * An entry is a test id, or an id prefix ending in '*', then at least one
 * space or tab, then a reason (mandatory: an allow-list without reasons is
 * how deviations become permanent). A test that fails and matches an entry is
 * an expected failure; one that matches and passes is reported as such so
 * the list can be pruned.
 */
#ifndef MAILSPEC_EXPECT_H
#define MAILSPEC_EXPECT_H

#include <stddef.h>

struct ms_expect_entry {
    char *pattern; /* test id, or prefix with a trailing '*' */
    char *reason;
    size_t line;   /* 1-based line in the file */
    unsigned hits; /* tests matched (filled in by ms_expect_match) */
};

struct ms_expect {
    struct ms_expect_entry *e;
    size_t n;
};

/*
 * Parse text[0..len). Returns 0, or -1 with a message "LINE: reason" in
 * err[0..errcap) (no entries kept). Limits: 4096 entries, 200-byte ids.
 */
int ms_expect_parse(const char *text, size_t len, struct ms_expect *out, char *err, size_t errcap);

/* Read and parse a file; prints the error to stderr. Returns 0 or -1. */
int ms_expect_load(const char *path, struct ms_expect *out);

/*
 * The entry that covers test id (an exact id beats the longest prefix), or
 * NULL. Counts a hit on the entry returned.
 */
struct ms_expect_entry *ms_expect_match(struct ms_expect *x, const char *id);

void ms_expect_free(struct ms_expect *x);

#endif
