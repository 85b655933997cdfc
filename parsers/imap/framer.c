/*
 * IMAP message framing (RFC 9051 4.3 literal, 7888 literal+/literal-, 3516
 * literal8): one CRLF line, or several lines joined by literals.
 *
 * Stateless and linear: each call scans the message from its start, one
 * memchr per line, and jumps over literal bytes without reading them. Every
 * decision depends only on bytes that must be present for it, in a fixed
 * order, so the result (and any error offset) is the same in every chunking.
 */
#include <string.h>

#include "mailspec/imap_framer.h"

#define RULE_LINE    "RFC 9051 4 CRLF"
#define RULE_LITERAL "RFC 9051 9 literal"

static ssize_t frame_fail(struct ms_error *err, size_t offset, enum ms_errcode code,
                          const char *rule, const char *reason)
{
    return ms_error_set(err, offset, code, rule, reason, 0);
}

/*
 * If the line text buf[start..end) ends with a literal announcement, return 1
 * and its size in *size; *num_at is where the number starts. Return 0 for no
 * announcement, MS_FAIL for a size over 32 bits. "{n}" and "~{n}" (server and
 * client), "{n+}" and "{n-}" (client only).
 */
static int literal_announced(const char *buf, size_t start, size_t end, enum ms_imap_side side,
                             uint64_t *size, size_t *num_at)
{
    size_t i = end;

    if (i - start < 3 || buf[i - 1] != '}')
        return 0;
    i--;
    if (side == MS_IMAP_CLIENT && (buf[i - 1] == '+' || buf[i - 1] == '-'))
        i--;
    size_t digits_end = i;
    while (i > start && ms_is_digit((unsigned char)buf[i - 1]))
        i--;
    if (i == digits_end || i == start || buf[i - 1] != '{')
        return 0;
    *num_at = i;
    /* Sizes are held to 32 bits (imap_literal is 32-bit; RFC 9051 allows a
     * number64, so a bigger size is over the limit, not bad syntax). More
     * than 10 digits can only be bigger (or padded with zeros, which we
     * refuse rather than scan without bound). */
    if (digits_end - i > 10 || ms_number_parse(buf + i, digits_end - i, UINT32_MAX, size) != MS_OK)
        return MS_FAIL;
    return 1;
}

ssize_t ms_imap_frame_resume(const struct ms_limits *lim, enum ms_imap_side side, const char *buf,
                             size_t len, struct ms_imap_frame_state *st, struct ms_error *err)
{
    size_t pos = st->line; /* start of the current line */
    size_t scanned = st->scanned;
    size_t msg_max = lim->imap_message;

    st->line = 0;
    st->scanned = 0;
    for (;;) {
        /* The line may extend to the line limit or the message limit. */
        size_t line_end_max = pos + lim->imap_line;
        size_t scan_end = line_end_max < msg_max ? line_end_max : msg_max;
        size_t avail = len < scan_end ? len : scan_end;
        size_t from = pos + scanned;
        const char *lf = avail > from ? memchr(buf + from, '\n', avail - from) : NULL;

        if (!lf) {
            if (len < scan_end) {
                st->line = pos;
                st->scanned = avail > pos ? avail - pos : 0;
                return MS_PARTIAL;
            }
            if (line_end_max <= msg_max)
                return frame_fail(err, scan_end, MS_ERR_LIMIT, RULE_LINE,
                                  "line longer than the limit");
            return frame_fail(err, scan_end, MS_ERR_LIMIT, RULE_LINE,
                              "message longer than the limit");
        }
        scanned = 0;
        size_t lf_at = (size_t)(lf - buf);
        if (lf_at == pos || buf[lf_at - 1] != '\r')
            return frame_fail(err, lf_at, MS_ERR_SYNTAX, RULE_LINE, "bare LF: lines end with CRLF");
        const char *cr = memchr(buf + pos, '\r', lf_at - 1 - pos);
        if (cr)
            return frame_fail(err, (size_t)(cr - buf), MS_ERR_SYNTAX, RULE_LINE,
                              "bare CR inside a line");
        size_t next = lf_at + 1;

        uint64_t size = 0;
        size_t num_at = 0;
        int lit = literal_announced(buf, pos, lf_at - 1, side, &size, &num_at);
        if (lit == 0)
            return (ssize_t)next;
        if (lit < 0)
            return frame_fail(err, num_at, MS_ERR_LIMIT, RULE_LITERAL,
                              "literal size above 4294967295 (32-bit number)");
        if (size > lim->imap_literal)
            return frame_fail(err, num_at, MS_ERR_LIMIT, RULE_LITERAL,
                              "literal larger than the limit");
        /* The literal and at least a CRLF must fit in the message. */
        if (next > msg_max || size + 2 > msg_max - next)
            return frame_fail(err, num_at, MS_ERR_LIMIT, RULE_LITERAL,
                              "message with this literal is longer than the limit");
        pos = next + (size_t)size;
        if (len < pos) {
            /* The literal's bytes are not all here: resume after them. */
            st->line = pos;
            st->scanned = 0;
            return MS_PARTIAL;
        }
    }
}

ssize_t ms_imap_frame(const struct ms_limits *lim, enum ms_imap_side side, const char *buf,
                      size_t len, struct ms_error *err)
{
    struct ms_imap_frame_state st = {0, 0};
    return ms_imap_frame_resume(lim, side, buf, len, &st, err);
}
