/*
 * SMTP replies (RFC 5321 4.2): single and multi-line, enhanced status codes
 * (RFC 2034, 3463), and a typed view of EHLO replies (4.1.1.1, SIZE 1870,
 * AUTH 4954).
 */
#include <string.h>

#include "mailspec/scan.h"
#include "mailspec/smtp.h"

#define R_REPLY "RFC 5321 4.2 Reply-line"
#define R_LINE  "RFC 5321 4.5.3.1.5 reply line"
#define R_ENH   "RFC 3463 2 status-code"
#define R_EHLO  "RFC 5321 4.1.1.1 ehlo-ok-rsp"

/*
 * 1 when every byte of p[0..n) is SP..~ (%x20-7E): such a line has no bare
 * CR for the framer and nothing for parse_lines' byte-by-byte textstring
 * check to reject or report.
 */
static inline int plain(const unsigned char *p, size_t n)
{
    return ms_scan_run(p, n, n, 0x20, 0x7e) == n;
}

/*
 * Find the end of one reply: lines up to one whose fourth byte is not "-".
 * Progress is kept in rs so that a reply arriving byte by byte is scanned
 * once (linear time); the driver always hands back the same bytes from the
 * same start after MS_PARTIAL. A plain line (CRLF-terminated, SP..~ only) is
 * framed here in one memchr; any other goes through ms_line_find and is
 * remembered in rs->fodd, so parse_lines checks its bytes one by one.
 */
static ssize_t frame(struct ms_smtp_rstate *rs, const struct ms_limits *lim, const char *buf,
                     size_t len, struct ms_error *err)
{
    size_t max_lines = lim->smtp_reply_lines < MS_SMTP_REPLY_LINES_MAX ? lim->smtp_reply_lines
                                                                       : MS_SMTP_REPLY_LINES_MAX;
    size_t max = lim->smtp_reply_line;

    if (rs->fpos > len) {
        rs->fpos = 0;
        rs->flines = 0;
        rs->fodd = 0;
    }
    for (;;) {
        size_t tl, ls = rs->fpos, left = len - ls;
        const unsigned char *l = (const unsigned char *)buf + ls;
        const unsigned char *lf = memchr(l, '\n', left < max ? left : max);
        ssize_t n;
        if (lf != NULL && lf != l && lf[-1] == '\r' && plain(l, (size_t)(lf - l) - 1)) {
            tl = (size_t)(lf - l) - 1;
            n = (ssize_t)tl + 2;
        } else {
            int bare;
            n = ms_line_find(buf + ls, left, max, lim->lenient, &tl, &bare, err, R_LINE);
            if (n == MS_PARTIAL)
                return n;
            if (n < 0) {
                err->offset += ls;
                if (err->skip)
                    err->skip += ls;
                rs->fpos = rs->flines = 0;
                rs->fodd = 0;
                return n;
            }
            rs->fodd = 1;
        }
        rs->fpos += (size_t)n;
        rs->flines++;
        if (rs->flines > max_lines) {
            ms_error_set(err, ls, MS_ERR_LIMIT, "RFC 5321 4.2 Reply-line",
                         "more lines in one reply than the limit", rs->fpos);
            rs->fpos = rs->flines = 0;
            rs->fodd = 0;
            return MS_FAIL;
        }
        if (!(tl >= 4 && buf[ls + 3] == '-')) {
            size_t total = rs->fpos;
            rs->fpos = rs->flines = 0;
            return (ssize_t)total;
        }
    }
}

/* "2.1.0": class "." subject "." detail (RFC 3463 2), at the start of text. */
static enum ms_status enhanced(struct ms_cursor *c, uint16_t code, struct ms_smtp_reply_line *l)
{
    const char *t = l->text.ptr;
    size_t n = l->text.len, i = 2, d1, d2;
    size_t at = c->pos;

    if (n < 5 || (t[0] != '2' && t[0] != '4' && t[0] != '5') || t[1] != '.')
        return MS_OK;
    while (i < n && ms_is_digit((unsigned char)t[i]))
        i++;
    d1 = i - 2;
    if (d1 == 0 || i >= n || t[i] != '.')
        return MS_OK;
    size_t s2 = ++i;
    while (i < n && ms_is_digit((unsigned char)t[i]))
        i++;
    d2 = i - s2;
    if (d2 == 0 || (i < n && t[i] != ' '))
        return MS_OK;
    /* It has the shape of a status code: now it must be a valid one. */
    if (d1 > 3)
        return ms_fail_at(c, at + 2 + 3, R_ENH, "subject has more than 3 digits");
    if (d2 > 3)
        return ms_fail_at(c, at + s2 + 3, R_ENH, "detail has more than 3 digits");
    if ((unsigned)(t[0] - '0') != code / 100u)
        return ms_fail_at(c, at, "RFC 3463 2 class",
                          "enhanced status class differs from the reply code's first digit");
    l->enhanced.ptr = t;
    l->enhanced.len = i;
    return MS_OK;
}

/* ehlo-line = ehlo-keyword *( SP ehlo-param ) (RFC 5321 4.1.1.1); *kl: the keyword's length */
static int ehlo_line(const struct ms_slice *t, size_t *bad, size_t *kl)
{
    const unsigned char *p = (const unsigned char *)t->ptr;
    size_t n = t->len, i = 0;

    if (n == 0 || !(ms_is(p[0], MS_C_ALPHA) || ms_is_digit(p[0]))) {
        *bad = 0;
        return 0;
    }
    while (i < n && ms_is(p[i], MS_C_LDH))
        i++;
    *kl = i;
    while (i < n) {
        if (p[i] != ' ' || i + 1 >= n || !ms_is(p[i + 1], MS_C_VCHAR)) {
            *bad = p[i] == ' ' ? i + 1 : i;
            return 0;
        }
        i++;
        while (i < n && ms_is(p[i], MS_C_VCHAR))
            i++;
    }
    return 1;
}

static enum ms_status type_ehlo(struct ms_cursor *c, const struct ms_limits *lim, int strict,
                                struct ms_smtp_reply *v, const size_t *starts)
{
    struct ms_slice t0 = v->lines[0].text;
    if (!strict && v->nlines < 2)
        return MS_OK; /* not typed: most 250 replies are one line */
    const char *sp = t0.len ? memchr(t0.ptr, ' ', t0.len) : NULL;
    size_t dl = sp ? (size_t)(sp - t0.ptr) : t0.len;

    if (!strict && dl == 0)
        return MS_OK;
    v->ehlo_domain = (struct ms_slice){t0.ptr, dl};
    v->ehlo_greet = sp ? (struct ms_slice){sp + 1, t0.len - dl - 1} : (struct ms_slice){t0.ptr, 0};
    if (strict) {
        struct ms_cursor d;
        struct ms_smtp_host h;
        ms_cursor_init(&d, (const char *)c->p, starts[0] + dl, c->err, R_EHLO);
        d.pos = starts[0];
        if (ms_smtp_host_parse(&d, lim, 1, 0, &h) != MS_OK)
            return MS_FAIL;
        if (!ms_cursor_eof(&d))
            return ms_fail(&d, R_EHLO, "expected a Domain or address literal");
    }
    for (uint16_t i = 1; i < v->nlines; i++) {
        struct ms_slice t = v->lines[i].text;
        size_t bad, kl;
        if (!ehlo_line(&t, &bad, &kl)) {
            if (!strict) {
                v->nkeywords = 0;
                v->nauth = 0;
                v->has_size = 0;
                return MS_OK;
            }
            if (lim->lenient & MS_LENIENT_SMTP_EHLO_LINE) {
                /* e.g. the pre-RFC 2554 "AUTH=PLAIN LOGIN": kept as text, not a keyword */
                ms_quirk_add(&v->quirks, starts[i] + bad, "RFC 5321 4.1.1.1 ehlo-line",
                             "not ehlo-keyword *(SP ehlo-param): not taken as a keyword");
                continue;
            }
            return ms_fail_at(c, starts[i] + bad, "RFC 5321 4.1.1.1 ehlo-line",
                              "expected ehlo-keyword *(SP ehlo-param)");
        }
        struct ms_smtp_ehlo_keyword *k = &v->keywords[v->nkeywords++];
        k->keyword = (struct ms_slice){t.ptr, kl};
        k->params = kl < t.len ? (struct ms_slice){t.ptr + kl + 1, t.len - kl - 1}
                               : (struct ms_slice){t.ptr + kl, 0};
        if (ms_slice_ieq(k->keyword, "SIZE")) {
            /* RFC 1870 4: "SIZE" [SP 1*20DIGIT]; 0 means no fixed maximum. */
            uint64_t sz = 0;
            if (k->params.len &&
                (k->params.len > 20 ||
                 ms_number_parse(k->params.ptr, k->params.len, UINT64_MAX, &sz) != MS_OK)) {
                if (!strict) {
                    v->nkeywords = 0;
                    v->nauth = 0;
                    v->has_size = 0;
                    return MS_OK;
                }
                return ms_fail_at(c, starts[i] + kl + 1, "RFC 1870 4 SIZE",
                                  "expected the maximum size as 1*20DIGIT below 2^64");
            }
            v->has_size = 1;
            v->size = sz;
        } else if (ms_slice_ieq(k->keyword, "AUTH")) {
            size_t j = 0;
            while (j < k->params.len && v->nauth < MS_SMTP_AUTH_MECHS_MAX) {
                size_t e = j;
                while (e < k->params.len && k->params.ptr[e] != ' ')
                    e++;
                v->auth[v->nauth++] = (struct ms_slice){k->params.ptr + j, e - j};
                j = e + 1;
            }
        }
    }
    v->is_ehlo = 1;
    return MS_OK;
}

/* Not memset: the view is ~9 KiB and most replies use one line of it.
 * Every member read later is set here or when its line is parsed. */
static void view_reset(struct ms_smtp_reply *v, const char *buf, size_t total)
{
    v->code = 0;
    v->nlines = 0;
    v->is_ehlo = 0;
    v->ehlo_domain.ptr = v->ehlo_greet.ptr = buf;
    v->ehlo_domain.len = v->ehlo_greet.len = 0;
    v->nkeywords = 0;
    v->has_size = 0;
    v->size = 0;
    v->nauth = 0;
    v->quirks.n = v->quirks.dropped = 0;
    v->raw.ptr = buf;
    v->raw.len = total;
}

/*
 * The common case in one pass: a reply whose lines are all in buf, end in
 * CRLF, hold only SP..~, and parse without an error. Returns its length, or
 * 0 for anything else (incomplete, odd bytes, an error, too many lines):
 * frame and parse_lines then decide, byte by byte, with the error and its
 * offset. What this accepts, they accept with the same view.
 */
static size_t reply_fast(const struct ms_limits *lim, int expect_ehlo, const char *buf, size_t len,
                         struct ms_smtp_reply *v, struct ms_error *err)
{
    size_t max = lim->smtp_reply_line, pos = 0;
    size_t max_lines = lim->smtp_reply_lines < MS_SMTP_REPLY_LINES_MAX ? lim->smtp_reply_lines
                                                                       : MS_SMTP_REPLY_LINES_MAX;
    size_t starts[MS_SMTP_REPLY_LINES_MAX];
    struct ms_cursor c;
    uint16_t n = 0, code = 0;
    int more;

    ms_cursor_init(&c, buf, len, err, R_REPLY);
    do {
        const unsigned char *l = (const unsigned char *)buf + pos;
        size_t left = len - pos;
        size_t scan = left < max ? left : max, ll = ms_scan_crlf_line(l, scan, 0, 0x20, 0x7e);
        if (ll == 0)
            return 0;
        size_t tl = ll - 2, ts = pos + 4;
        /* Reply-code = %x32-35 %x30-35 %x30-39 */
        if (tl < 3 || n >= max_lines || (unsigned)(l[0] - '2') > 3u ||
            (unsigned)(l[1] - '0') > 5u || (unsigned)(l[2] - '0') > 9u)
            return 0;
        uint16_t lc = (uint16_t)((l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0'));
        if (n == 0)
            code = lc;
        else if (lc != code)
            return 0;
        more = tl >= 4 && l[3] == '-';
        if (tl == 3)
            ts = pos + 3;
        else if (!more && l[3] != ' ')
            return 0;
        struct ms_smtp_reply_line *rl = &v->lines[n];
        rl->text.ptr = buf + ts;
        rl->text.len = pos + tl - ts;
        rl->enhanced.ptr = buf + ts;
        rl->enhanced.len = 0;
        /* enhanced() looks for "d.": most lines answer "no" on the first
         * bytes; a valid "c.d.d{1,3}" of the reply's class (one-digit
         * subject, detail of at most 3 digits: e <= 7) is taken here */
        const unsigned char *t = (const unsigned char *)buf + ts;
        size_t tn = rl->text.len;
        if (code / 100 != 3 && tn >= 5 && t[1] == '.') {
            size_t e = 5;
            while (e < tn && e < 7 && ms_is_digit(t[e]))
                e++;
            if ((unsigned)(t[0] - '0') == code / 100u && ms_is_digit(t[2]) && t[3] == '.' &&
                ms_is_digit(t[4]) && (e == tn || t[e] == ' ')) {
                rl->enhanced.len = e;
            } else {
                c.len = pos + tl;
                c.pos = ts;
                if (enhanced(&c, code, rl) != MS_OK)
                    return 0;
            }
        }
        starts[n++] = ts;
        pos += tl + 2;
    } while (more);
    view_reset(v, buf, pos);
    v->code = code;
    v->nlines = n;
    c.len = pos;
    /* a one-line 250 is typed only when it answers an EHLO (type_ehlo) */
    if (code == 250 && (expect_ehlo || n >= 2) &&
        type_ehlo(&c, lim, expect_ehlo, v, starts) != MS_OK)
        return 0;
    return pos;
}

/* Parse the framed reply buf[0..total); odd: a line is not plain (see frame). */
static enum ms_status parse_lines(const struct ms_limits *lim, int expect_ehlo, int odd,
                                  const char *buf, size_t total, struct ms_smtp_reply *v,
                                  struct ms_error *err)
{
    struct ms_cursor c;
    size_t pos = 0;
    size_t starts[MS_SMTP_REPLY_LINES_MAX];

    view_reset(v, buf, total);
    ms_cursor_init(&c, buf, total, err, R_REPLY);
    while (pos < total) {
        /* Framing ended the reply at the first line without "-" as its
         * fourth byte (a line shorter than 4 bytes ends it too, and then
         * pos + 3 is its CR or LF, or past total): that line ends at total. */
        size_t le = total;
        if (pos + 3 < total && buf[pos + 3] == '-') {
            const char *lf = memchr(buf + pos, '\n', total - pos);
            le = (size_t)(lf - buf) + 1; /* framing found it */
        }
        size_t te = (le >= pos + 2 && buf[le - 2] == '\r') ? le - 2 : le - 1;
        int last = le == total;
        struct ms_smtp_reply_line *l = &v->lines[v->nlines];

        if (te == le - 1)
            ms_quirk_add(&v->quirks, te, "RFC 5321 2.3.8", "bare LF ends the line");
        c.len = te;
        c.pos = pos;
        /* Reply-code = %x32-35 %x30-35 %x30-39 */
        const unsigned char *d = (const unsigned char *)buf + pos;
        if (te - pos < 3 || (unsigned)(d[0] - '2') > 3u || (unsigned)(d[1] - '0') > 5u ||
            (unsigned)(d[2] - '0') > 9u)
            return ms_fail(&c, "RFC 5321 4.2 Reply-code", "expected a reply code (2-5, 0-5, 0-9)");
        uint16_t code = (uint16_t)((d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0'));
        if (v->nlines == 0)
            v->code = code;
        else if (code != v->code)
            return ms_fail(&c, R_REPLY, "every line of a multi-line reply has the same code");
        c.pos = pos + 3;
        if (last) {
            /* SP, or CRLF right after the code */
            if (te > pos + 3 && buf[pos + 3] != ' ')
                return ms_fail(&c, R_REPLY, "expected SP or CRLF after the reply code");
            if (te > pos + 3)
                c.pos++;
        } else {
            c.pos++; /* "-" (framing) */
        }
        size_t ts = c.pos;
        for (c.pos = odd ? c.pos : te; c.pos < te; c.pos++) {
            unsigned char ch = c.p[c.pos];
            if (ch == '\t' || (ch >= 32 && ch <= 126))
                continue;
            if (ch >= 0x80) {
                if (!(lim->lenient & MS_LENIENT_8BIT))
                    return ms_fail(&c, "RFC 5321 4.2 textstring",
                                   "8-bit byte in reply text (only HT, SP and printable ASCII)");
                ms_quirk_add(&v->quirks, c.pos, "RFC 5321 4.2 textstring",
                             "8-bit byte in reply text");
                continue;
            }
            return ms_fail(&c, "RFC 5321 4.2 textstring",
                           "control byte in reply text (only HT, SP and printable ASCII)");
        }
        l->text.ptr = buf + ts;
        l->text.len = te - ts;
        l->enhanced.ptr = buf + ts;
        l->enhanced.len = 0;
        c.pos = ts;
        if (code / 100 != 3)
            MS_GUARD(enhanced(&c, code, l));
        starts[v->nlines] = ts;
        v->nlines++;
        pos = le;
    }
    c.len = total;
    if (v->code == 250)
        MS_GUARD(type_ehlo(&c, lim, expect_ehlo, v, starts));
    return MS_OK;
}

static ssize_t reply_parse_state(struct ms_smtp_rstate *rs, const struct ms_limits *lim,
                                 const char *buf, size_t len, struct ms_smtp_reply *v,
                                 struct ms_error *err)
{
    if (rs->fpos == 0) {
        size_t total = reply_fast(lim, rs->expect_ehlo, buf, len, v, err);
        if (total) {
            rs->expect_ehlo = 0;
            v->failed_before = rs->failed;
            rs->failed = 0;
            return (ssize_t)total;
        }
    }
    ssize_t n = frame(rs, lim, buf, len, err);
    int expect = rs->expect_ehlo, odd = rs->fodd;

    if (n == MS_PARTIAL)
        return n;
    rs->expect_ehlo = 0;
    rs->fodd = 0;
    if (n > 0 && parse_lines(lim, expect, odd, buf, (size_t)n, v, err) != MS_OK) {
        err->skip = (size_t)n;
        n = MS_FAIL;
    }
    if (n < 0) {
        if (rs->failed < UINT32_MAX)
            rs->failed++;
        return n;
    }
    v->failed_before = rs->failed;
    rs->failed = 0;
    return n;
}

ssize_t ms_smtp_reply_parse(const struct ms_limits *lim, const char *buf, size_t len,
                            struct ms_smtp_reply *out, struct ms_error *err)
{
    struct ms_smtp_rstate rs;

    memset(&rs, 0, sizeof(rs));
    err->skip = 0;
    return reply_parse_state(&rs, lim, buf, len, out, err);
}

static ssize_t rep_parse(void *state, const struct ms_limits *lim, const char *buf, size_t len,
                         void *view, int *done, struct ms_error *err)
{
    ssize_t n = reply_parse_state(state, lim, buf, len, view, err);

    *done = n > 0;
    return n;
}

static void rep_json(const void *view, struct ms_out *o)
{
    const struct ms_smtp_reply *v = view;

    ms_out_str(o, ",\"type\":\"reply\",\"code\":");
    ms_out_u64(o, v->code);
    ms_out_json_key(o, "lines");
    ms_out_str(o, "[");
    for (unsigned i = 0; i < v->nlines; i++) {
        ms_out_str(o, i ? ",{\"text\":" : "{\"text\":");
        ms_out_json_slice(o, v->lines[i].text);
        if (v->lines[i].enhanced.len) {
            ms_out_str(o, ",\"enhanced\":");
            ms_out_json_slice(o, v->lines[i].enhanced);
        }
        ms_out_str(o, "}");
    }
    ms_out_str(o, "]");
    if (v->is_ehlo) {
        ms_out_str(o, ",\"ehlo\":{\"domain\":");
        ms_out_json_slice(o, v->ehlo_domain);
        if (v->ehlo_greet.len) {
            ms_out_str(o, ",\"greet\":");
            ms_out_json_slice(o, v->ehlo_greet);
        }
        ms_out_str(o, ",\"keywords\":[");
        for (unsigned i = 0; i < v->nkeywords; i++) {
            ms_out_str(o, i ? ",{\"keyword\":" : "{\"keyword\":");
            ms_out_json_slice(o, v->keywords[i].keyword);
            if (v->keywords[i].params.len) {
                ms_out_str(o, ",\"params\":");
                ms_out_json_slice(o, v->keywords[i].params);
            }
            ms_out_str(o, "}");
        }
        ms_out_str(o, "]");
        if (v->has_size) {
            ms_out_str(o, ",\"size\":");
            ms_out_u64(o, v->size);
        }
        if (v->nauth) {
            ms_out_str(o, ",\"auth\":[");
            for (unsigned i = 0; i < v->nauth; i++) {
                if (i)
                    ms_out_str(o, ",");
                ms_out_json_slice(o, v->auth[i]);
            }
            ms_out_str(o, "]");
        }
        ms_out_str(o, "}");
    }
    ms_out_json_quirks(o, &v->quirks);
}

static ssize_t rep_write(const void *view, char *out, size_t cap)
{
    const struct ms_smtp_reply *v = view;
    struct ms_out o;
    char code[3] = {(char)('0' + v->code / 100), (char)('0' + v->code / 10 % 10),
                    (char)('0' + v->code % 10)};

    ms_out_init(&o, out, cap);
    if (v->quirks.n || v->quirks.dropped) {
        ms_out_bytes(&o, v->raw.ptr, v->raw.len);
        return o.overflow ? MS_FAIL : (ssize_t)o.len;
    }
    for (unsigned i = 0; i < v->nlines; i++) {
        int last = i + 1 == v->nlines;
        ms_out_bytes(&o, code, 3);
        if (!last)
            ms_out_str(&o, "-");
        else if (v->lines[i].text.len)
            ms_out_str(&o, " ");
        ms_out_bytes(&o, v->lines[i].text.ptr, v->lines[i].text.len);
        ms_out_str(&o, "\r\n");
    }
    return o.overflow ? MS_FAIL : (ssize_t)o.len;
}

const struct ms_kind ms_smtp_replies_kind = {
    "smtp",
    "replies",
    sizeof(struct ms_smtp_rstate),
    sizeof(struct ms_smtp_reply),
    NULL,
    rep_parse,
    rep_json,
    rep_write,
};
