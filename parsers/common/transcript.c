/*
 * The .session transcript reader (docs/architecture.md "`.session` files"): one item a
 * line, "C: " and "S: " lines with escapes, "#" comments, "@" directives.
 * Shared by `mailspec parse ... session`, the runner and the recorder.
 */
#include <string.h>

#include "mailspec/stream.h"

int ms_hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static int fail(struct ms_error *err, size_t offset, const char *reason)
{
    return ms_error_set(err, offset, MS_ERR_SYNTAX, "mailspec session format", reason, 0);
}

size_t ms_unescape_one(const char *p, size_t n, char *out, const char **why)
{
    if (n < 2) {
        *why = "backslash at the end of the line (write \\\\)";
        return 0;
    }
    switch (p[1]) {
    case '\\':
        *out = '\\';
        return 2;
    case 'r':
        *out = '\r';
        return 2;
    case 'n':
        *out = '\n';
        return 2;
    case 't':
        *out = '\t';
        return 2;
    case 'x': {
        int hi = n > 2 ? ms_hexval((unsigned char)p[2]) : -1;
        int lo = n > 3 ? ms_hexval((unsigned char)p[3]) : -1;
        if (hi < 0 || lo < 0) {
            *why = "\\x needs two hex digits";
            return 0;
        }
        *out = (char)(hi * 16 + lo);
        return 4;
    }
    default:
        *why = "unknown escape (use \\\\ \\r \\n \\t \\xHH)";
        return 0;
    }
}

/* Decode escapes of line[0..n) into scratch; returns decoded length or MS_FAIL. */
static ssize_t unescape(const char *line, size_t n, size_t base, char *scratch, size_t cap,
                        struct ms_error *err)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)line[i];
        if (o >= cap)
            return fail(err, base + i, "line longer than the reader's buffer");
        if (ch != '\\') {
            scratch[o++] = (char)ch;
            continue;
        }
        const char *why = NULL;
        size_t used = ms_unescape_one(line + i, n - i, &scratch[o], &why);
        if (used == 0)
            return fail(err, base + i, why);
        o++;
        i += used - 1;
    }
    return (ssize_t)o;
}

int ms_transcript_next(const char *text, size_t len, size_t *pos, struct ms_titem *item,
                       char *scratch, size_t cap, struct ms_error *err)
{
    size_t p = *pos;

    if (p == 0)
        item->line = 0;
    while (p < len) {
        const char *nl = memchr(text + p, '\n', len - p);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t next = nl ? end + 1 : len;
        size_t n = end - p;
        const char *line = text + p;
        size_t base = p;

        item->line++;
        if (n > 0 && line[n - 1] == '\r')
            n--; /* a file with CRLF line ends reads the same */
        p = next;
        if (n == 0 || line[0] == '#')
            continue;
        if (line[0] == '@') {
            item->type = MS_T_DIRECTIVE;
            item->data = line + 1;
            item->len = n - 1;
            *pos = p;
            return 1;
        }
        if (n < 2 || (line[0] != 'C' && line[0] != 'S') || line[1] != ':') {
            *pos = p;
            return fail(err, base,
                        "expected \"C: \", \"S: \", \"#\" or \"@\" at the start of the line");
        }
        item->type = line[0] == 'C' ? MS_T_CLIENT : MS_T_SERVER;
        size_t skip = 2;
        if (n > 2) {
            if (line[2] != ' ') {
                *pos = p;
                return fail(err, base + 2, "expected one space after the colon");
            }
            skip = 3;
        }
        ssize_t d = unescape(line + skip, n - skip, base + skip, scratch, cap, err);
        if (d < 0) {
            *pos = p;
            return MS_FAIL;
        }
        if ((size_t)d + 2 > cap) {
            *pos = p;
            return fail(err, base, "line longer than the reader's buffer");
        }
        scratch[d] = '\r';
        scratch[d + 1] = '\n';
        item->data = scratch;
        item->len = (size_t)d + 2;
        *pos = p;
        return 1;
    }
    *pos = p;
    return 0;
}
