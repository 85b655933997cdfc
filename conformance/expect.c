/* The --expect-fail allow-list (expect.h, docs/certify.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "expect.h"

#define EXPECT_MAX_ENTRIES 4096
#define EXPECT_MAX_ID      200

static int id_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

static char *dup_bytes(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

void ms_expect_free(struct ms_expect *x)
{
    for (size_t i = 0; i < x->n; i++) {
        free(x->e[i].pattern);
        free(x->e[i].reason);
    }
    free(x->e);
    x->e = NULL;
    x->n = 0;
}

static int fail(struct ms_expect *x, char *err, size_t errcap, size_t line, const char *why)
{
    ms_expect_free(x);
    if (errcap)
        snprintf(err, errcap, "%zu: %s", line, why);
    return -1;
}

int ms_expect_parse(const char *text, size_t len, struct ms_expect *out, char *err, size_t errcap)
{
    size_t pos = 0, line = 0, cap = 0;

    out->e = NULL;
    out->n = 0;
    while (pos < len) {
        size_t end = pos, a, b;
        while (end < len && text[end] != '\n')
            end++;
        size_t next = end < len ? end + 1 : end;
        line++;
        if (end > pos && text[end - 1] == '\r')
            end--;
        a = pos;
        while (a < end && (text[a] == ' ' || text[a] == '\t'))
            a++;
        if (a == end || text[a] == '#') {
            pos = next;
            continue;
        }
        for (size_t i = a; i < end; i++)
            if (((unsigned char)text[i] < 0x20 && text[i] != '\t') || text[i] == 0x7F)
                return fail(out, err, errcap, line, "control character in line");
        b = a;
        while (b < end && id_char((unsigned char)text[b]))
            b++;
        if (b < end && text[b] == '*')
            b++;
        if (b == a)
            return fail(out, err, errcap, line, "expected a test id (letters, digits, . - _)");
        if (b - a > EXPECT_MAX_ID)
            return fail(out, err, errcap, line, "test id longer than 200 bytes");
        if (b < end && text[b] != ' ' && text[b] != '\t')
            return fail(out, err, errcap, line,
                        "bad character in test id ('*' only at the end of a prefix)");
        size_t r = b;
        while (r < end && (text[r] == ' ' || text[r] == '\t'))
            r++;
        size_t re = end;
        while (re > r && (text[re - 1] == ' ' || text[re - 1] == '\t'))
            re--;
        if (r == re)
            return fail(out, err, errcap, line, "missing reason after the test id");
        if (out->n == EXPECT_MAX_ENTRIES)
            return fail(out, err, errcap, line, "more than 4096 entries");
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct ms_expect_entry *ne = realloc(out->e, ncap * sizeof(*ne));
            if (!ne)
                return fail(out, err, errcap, line, "out of memory");
            out->e = ne;
            cap = ncap;
        }
        struct ms_expect_entry *e = &out->e[out->n];
        e->pattern = dup_bytes(text + a, b - a);
        e->reason = dup_bytes(text + r, re - r);
        e->line = line;
        e->hits = 0;
        out->n++;
        if (!e->pattern || !e->reason)
            return fail(out, err, errcap, line, "out of memory");
        for (size_t i = 0; i + 1 < out->n; i++)
            if (strcmp(out->e[i].pattern, e->pattern) == 0)
                return fail(out, err, errcap, line, "duplicate entry");
        pos = next;
    }
    return 0;
}

int ms_expect_load(const char *path, struct ms_expect *out)
{
    char *text = NULL, err[256];
    size_t len = 0;

    if (ms_read_file(path, &text, &len) != 0)
        return -1;
    int rc = ms_expect_parse(text, len, out, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "mailspec: %s:%s\n", path, err);
    free(text);
    return rc;
}

struct ms_expect_entry *ms_expect_match(struct ms_expect *x, const char *id)
{
    struct ms_expect_entry *best = NULL;
    size_t best_len = 0;

    for (size_t i = 0; i < x->n; i++) {
        struct ms_expect_entry *e = &x->e[i];
        size_t pl = strlen(e->pattern);
        if (pl && e->pattern[pl - 1] == '*') {
            if (strncmp(id, e->pattern, pl - 1) == 0 && (!best || pl - 1 > best_len) &&
                !(best && best_len == (size_t)-1)) {
                best = e;
                best_len = pl - 1;
            }
        } else if (strcmp(id, e->pattern) == 0) {
            best = e;
            best_len = (size_t)-1; /* exact: beats any prefix */
        }
    }
    if (best)
        best->hits++;
    return best;
}
