/*
 * Mail data after DATA (RFC 5321 4.1.1.4, 4.5.2) and BDAT chunks (RFC 3030),
 * parsed as streamed messages in O(1) memory: every complete line in the
 * buffer (or any number of chunk bytes) per call, one view at the end.
 *
 * The end of data is CRLF "." CRLF and nothing else. The sequences that
 * other implementations have taken for it ("\n.\n", "\r.\r", "\r\n.\n",
 * "\n.\r\n", ...: SMTP smuggling) are named in the error, or in the quirk
 * when MS_LENIENT_BARE_LF accepts the bare CR/LF as data, and never end it.
 */
#include <string.h>

#include "mailspec/scan.h"
#include "mailspec/smtp.h"

#define R_DATA "RFC 5321 2.3.8 / 4.1.1.4 DATA"
#define R_TEXT "RFC 5321 4.5.3.1.6 text line"

enum { T_CRLF = 0, T_LF = 1, T_CR = 2 };

/* [line end before "."][line end after "."]; the reason names the bare byte at the error. */
static const char *const smuggle[3][3] = {
    {NULL, "bare LF in mail data: \"\\r\\n.\\n\" is an end-of-data smuggling sequence, not an end",
     "bare CR in mail data: \"\\r\\n.\\r\" is an end-of-data smuggling sequence, not an end"},
    {"bare LF in mail data: \"\\n.\\r\\n\" is an end-of-data smuggling sequence, not an end",
     "bare LF in mail data: \"\\n.\\n\" is an end-of-data smuggling sequence, not an end",
     "bare LF in mail data: \"\\n.\\r\" is an end-of-data smuggling sequence, not an end"},
    {"bare CR in mail data: \"\\r.\\r\\n\" is an end-of-data smuggling sequence, not an end",
     "bare CR in mail data: \"\\r.\\n\" is an end-of-data smuggling sequence, not an end",
     "bare CR in mail data: \"\\r.\\r\" is an end-of-data smuggling sequence, not an end"},
};

/* Why the bare CR or LF at buf[i] of the line buf[0..n) (CRLF at n-2) is wrong. */
static const char *bare_reason(const char *buf, size_t n, size_t i)
{
    int t1 = buf[i] == '\n' ? T_LF : T_CR;

    if (i == 1 && buf[0] == '.')
        return smuggle[T_CRLF][t1];
    if (i + 2 < n && buf[i + 1] == '.' && (buf[i + 2] == '\r' || buf[i + 2] == '\n')) {
        int t2 = T_LF;
        if (buf[i + 2] == '\r')
            t2 = (i + 3 < n && buf[i + 3] == '\n') ? T_CRLF : T_CR;
        return smuggle[t1][t2];
    }
    return t1 == T_LF ? "bare LF in mail data: CR and LF only occur together as CRLF"
                      : "bare CR in mail data: CR and LF only occur together as CRLF";
}

static void stats_reset(struct ms_smtp_cstate *st)
{
    st->octets = st->lines = st->unstuffed = 0;
    st->quirks.n = st->quirks.dropped = 0;
}

static ssize_t fail(struct ms_smtp_cstate *st, struct ms_error *err, size_t off, size_t skip,
                    enum ms_errcode code, const char *rule, const char *reason)
{
    ms_error_set(err, off, code, rule, reason, skip);
    /* The bad line is dropped; the view at the end of data covers what follows. */
    stats_reset(st);
    return MS_FAIL;
}

/* After a line over the limit: consume the rest of it, up to its CRLF. */
static ssize_t long_tail(struct ms_smtp_cstate *st, const char *buf, size_t len)
{
    size_t pos = 0, end = 0;

    if (st->prev_cr && buf[0] == '\n') {
        end = 1;
    } else {
        const char *lf;
        while (pos < len && (lf = memchr(buf + pos, '\n', len - pos)) != NULL) {
            size_t j = (size_t)(lf - buf);
            if (j > 0 && buf[j - 1] == '\r') {
                end = j + 1;
                break;
            }
            pos = j + 1;
        }
    }
    size_t n = end ? end : len;
    if (end) {
        st->long_line = 0;
        st->lines++;
    }
    st->prev_cr = buf[n - 1] == '\r';
    st->octets += n;
    st->unstuffed += n;
    return (ssize_t)n;
}

/* CRLF "." CRLF (end bytes, the terminator's CRLF included): the end of the mail data (4.1.1.4). */
static void data_end(struct ms_smtp_cstate *st, size_t end, struct ms_smtp_command *v)
{
    memset(v, 0, sizeof(*v));
    v->type = MS_SMTP_T_DATA;
    v->octets = st->octets + end;
    v->lines = st->lines;
    v->unstuffed = st->unstuffed;
    v->quirks = st->quirks;
    st->mode = MS_SMTP_MODE_CMD;
    st->sent++;
    st->smtputf8 = st->body = st->bdat_used = 0;
    stats_reset(st);
}

/*
 * The one line at buf[0..len), checked byte by byte: the reference for every
 * error, reason, offset and quirk. Returns its length, MS_PARTIAL or MS_FAIL;
 * *done at the end of data.
 */
static ssize_t one_line(struct ms_smtp_cstate *st, const struct ms_limits *lim, const char *buf,
                        size_t len, struct ms_smtp_command *v, int *done, struct ms_error *err)
{
    size_t max = lim->smtp_text_line, scan = len < max ? len : max, end = 0;
    /* Resume where the last call stopped: the driver hands back the same
     * bytes from the same start after MS_PARTIAL. */
    size_t pos = st->lscan <= scan ? st->lscan : 0;
    const char *lf;

    /* A line ends at the first CRLF; bare LFs inside it are data (or errors). */
    while (pos < scan && (lf = memchr(buf + pos, '\n', scan - pos)) != NULL) {
        size_t j = (size_t)(lf - buf);
        if (j > 0 && buf[j - 1] == '\r') {
            end = j + 1;
            break;
        }
        pos = j + 1;
    }
    if (!end) {
        if (len < max) {
            st->lscan = scan;
            return MS_PARTIAL;
        }
        st->lscan = 0;
        st->long_line = 1;
        st->prev_cr = buf[max - 1] == '\r';
        return fail(st, err, max, max, MS_ERR_LIMIT, R_TEXT,
                    "mail data line longer than the limit");
    }
    st->lscan = 0;
    size_t tl = end - 2;
    if (tl == 1 && buf[0] == '.') {
        data_end(st, end, v);
        *done = 1;
        return (ssize_t)end;
    }
    int eight_ok =
        st->body == MS_SMTP_BODY_8BITMIME || st->body == MS_SMTP_BODY_BINARYMIME || st->smtputf8;
    int eight_seen = 0;
    for (size_t i = 0; i < tl; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if (ch == '\r' || ch == '\n') {
            const char *why = bare_reason(buf, end, i);
            if (!(lim->lenient & MS_LENIENT_BARE_LF))
                return fail(st, err, i, end, MS_ERR_SYNTAX, R_DATA, why);
            ms_quirk_add(&st->quirks, (size_t)st->octets + i, R_DATA, why);
        } else if (ch == 0) {
            return fail(st, err, i, end, MS_ERR_SYNTAX, "RFC 5322 2.3 / RFC 2045 2.8",
                        "NUL in mail data");
        } else if (ch >= 0x80 && !eight_ok && !eight_seen) {
            eight_seen = 1;
            if (!(lim->lenient & MS_LENIENT_8BIT))
                return fail(st, err, i, end, MS_ERR_SYNTAX, "RFC 5321 2.4 / RFC 6152 3",
                            "8-bit mail data without BODY=8BITMIME");
            ms_quirk_add(&st->quirks, (size_t)st->octets + i, "RFC 6152 3",
                         "8-bit mail data without BODY=8BITMIME");
        }
    }
    st->octets += end;
    st->lines++;
    /* RFC 5321 4.5.2: a leading "." of a line is removed by the receiver. */
    st->unstuffed += buf[0] == '.' ? end - 1 : end;
    return (ssize_t)end;
}

/*
 * As many complete lines as buf holds, in one call (a streamed piece,
 * *done = 0), up to and including the "." line (*done = 1). A line that is
 * not plain (no CRLF within the limit, a bare CR or LF, NUL, 8-bit where it
 * is not allowed, incomplete) ends the piece before it, and is then handled
 * alone by one_line at the start of the next call: every error and quirk has
 * the offset it has when the content arrives one line per call.
 */
ssize_t ms_smtp_content_parse(struct ms_smtp_cstate *st, const struct ms_limits *lim,
                              const char *buf, size_t len, struct ms_smtp_command *v, int *done,
                              struct ms_error *err)
{
    size_t max = lim->smtp_text_line, p = 0;
    int eight_ok =
        st->body == MS_SMTP_BODY_8BITMIME || st->body == MS_SMTP_BODY_BINARYMIME || st->smtputf8;
    /* A line with none of these (8-bit only where it is not allowed) needs
     * no byte-by-byte check: one_line says which byte is wrong and why. */
    unsigned odd = MS_SCAN_CR | MS_SCAN_NUL | (eight_ok ? 0u : MS_SCAN_8BIT);

    *done = 0;
    if (st->long_line)
        return long_tail(st, buf, len);
    if (st->lscan) {
        /* the rest of a line searched before: resume its search */
        ssize_t r = one_line(st, lim, buf, len, v, done, err);
        if (r <= 0 || *done)
            return r;
        p = (size_t)r;
    }
    for (;;) {
        while (p < len) {
            const unsigned char *l = (const unsigned char *)buf + p;
            size_t left = len - p, scan = left < max ? left : max;
            size_t end = ms_scan_crlf_line(l, scan, odd, 0, 0);
            if (end == 0)
                break;
            if (end == 3 && l[0] == '.') {
                data_end(st, end, v);
                *done = 1;
                return (ssize_t)(p + end);
            }
            st->octets += end;
            st->lines++;
            /* RFC 5321 4.5.2: a leading "." of a line is removed by the receiver. */
            st->unstuffed += l[0] == '.' ? end - 1 : end;
            p += end;
        }
        if (p > 0)
            return (ssize_t)p;
        ssize_t r = one_line(st, lim, buf, len, v, done, err);
        if (r <= 0 || *done)
            return r;
        p = (size_t)r;
    }
}

ssize_t ms_smtp_chunk_parse(struct ms_smtp_cstate *st, const struct ms_limits *lim, const char *buf,
                            size_t len, struct ms_smtp_command *v, int *done, struct ms_error *err)
{
    size_t take = len < st->remaining ? len : (size_t)st->remaining;

    (void)lim;
    (void)err;
    (void)buf;
    /* BDAT bytes are binary (RFC 3030 2): counted, never inspected. */
    st->octets += take;
    st->remaining -= take;
    *done = 0;
    if (st->remaining == 0) {
        memset(v, 0, sizeof(*v));
        v->type = MS_SMTP_T_CHUNK;
        v->octets = st->octets;
        v->last = st->chunk_last;
        st->octets = 0;
        st->mode = MS_SMTP_MODE_CMD;
        if (st->chunk_last)
            st->smtputf8 = st->body = st->bdat_used = 0;
        *done = 1;
    }
    return (ssize_t)take;
}
