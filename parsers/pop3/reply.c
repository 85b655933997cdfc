/*
 * POP3 replies (RFC 1939 3-7, RFC 2449 5-8, RFC 3206, RFC 5034 4, RFC 6856).
 *
 * Framing: whether a +OK opens a multi-line response depends on the command
 * it answers (RFC 1939 3), so the state keeps the queue of commands sent and
 * not yet answered. Each line is one message: the status line, then each
 * LIST/UIDL/CAPA line and the terminating ".", while a RETR/TOP body is
 * streamed line by line (O(1) memory) and reported once, at its ".".
 * Lines inside a multi-line response (and the status line opening one) are
 * reported once a byte after them has arrived, so input that stops inside a
 * multi-line response ends inside a message.
 */
#include <string.h>

#include "pop3_int.h"

#define R_STATUS "RFC 1939 3"
#define R_LEN    "RFC 2449 4"
#define R_CODE   "RFC 2449 8"
#define R_GREET  "RFC 1939 4"
#define R_APOP   "RFC 1939 7"
#define R_SCAN   "RFC 1939 5"
#define R_UIDL   "RFC 1939 7"
#define R_CAPA   "RFC 2449 5"
#define R_SASL   "RFC 5034 4"
#define R_DOT    "RFC 1939 3"
#define R_UTF8   "RFC 6856 2"

static enum ms_pop3_cmd head_cmd(const struct ms_pop3_reply_state *st, int *has_arg)
{
    if (st->count == 0) {
        *has_arg = 0;
        return MS_POP3_NONE;
    }
    uint8_t e = st->pending[st->head];
    *has_arg = (e & 0x80) != 0;
    return (enum ms_pop3_cmd)(e & 0x7F);
}

static void pop(struct ms_pop3_reply_state *st)
{
    if (st->count == 0)
        return;
    st->head = (uint8_t)((st->head + 1) % MS_POP3_PENDING_MAX);
    st->count--;
}

static int opens_multiline(enum ms_pop3_cmd cmd, int has_arg)
{
    switch (cmd) {
    case MS_POP3_LIST:
    case MS_POP3_UIDL:
    case MS_POP3_LANG:
        return !has_arg; /* RFC 1939 5, 7, RFC 6856 3: with an argument, single-line */
    case MS_POP3_RETR:
    case MS_POP3_TOP:
    case MS_POP3_CAPA:
        return 1;
    default:
        return 0;
    }
}

/*
 * Clear a view before a line is parsed into it: every field but the arrays
 * at the end, which are valid up to their counts only (pop3.h). Lines are
 * short and many; clearing all 752 bytes per line was 16 % of the time.
 */
static inline int accept_sp(struct ms_cursor *c)
{
    if (c->pos < c->len && c->p[c->pos] == ' ') {
        c->pos++;
        return 1;
    }
    return 0;
}

static void view_clear(struct ms_pop3_reply *v)
{
    memset(v, 0, offsetof(struct ms_pop3_reply, levels));
    v->quirks.n = 0;
    v->quirks.dropped = 0;
}

/*
 * Text bytes (RFC 2449 9: CHAR, %x01-7F); UTF-8 once the server accepted
 * UTF8 (RFC 6856 2); 8-bit bytes as a quirk with MS_LENIENT_8BIT.
 */
static enum ms_status text_bytes(struct ms_cursor *c, size_t end, int utf8,
                                 const struct ms_limits *lim, struct ms_quirks *q)
{
    while (c->pos < end) {
        unsigned char ch = c->p[c->pos];
        if (ch != 0 && ch < 0x80) {
            c->pos++;
            continue;
        }
        if (ch == 0)
            return ms_fail(c, R_STATUS, "NUL in a response line");
        if (utf8) {
            size_t u = ms_utf8_len(c->p + c->pos, end - c->pos);
            if (u == 0)
                return ms_fail(c, R_UTF8, "invalid UTF-8 in a response line");
            c->pos += u;
            continue;
        }
        if (!(lim->lenient & MS_LENIENT_8BIT))
            return ms_fail(c, R_STATUS, "8-bit byte: response text is US-ASCII");
        ms_quirk_add(q, c->pos, R_STATUS, "8-bit byte in response text");
        c->pos++;
    }
    return MS_OK;
}

/* RFC 2449 8: resp-code = "[" resp-level *("/" resp-level) "]" */
static enum ms_status resp_code(struct ms_cursor *c, struct ms_pop3_reply *v)
{
    size_t open = c->pos;

    c->pos++; /* "[" */
    for (;;) {
        size_t start = c->pos;
        while (!ms_cursor_eof(c) && ms_is(c->p[c->pos], MS_C_VCHAR) && c->p[c->pos] != '/' &&
               c->p[c->pos] != ']' && c->p[c->pos] != '[')
            c->pos++;
        if (c->pos == start)
            return ms_fail(c, R_CODE, "expected a response code level");
        if (v->nlevels >= MS_POP3_CODE_LEVELS)
            return ms_fail_limit_at(c, start, R_CODE, "response code has too many levels");
        v->levels[v->nlevels++] = (struct ms_slice){(const char *)c->p + start, c->pos - start};
        if (ms_cursor_accept(c, '/'))
            continue;
        if (ms_cursor_accept(c, ']'))
            break;
        return ms_fail(c, R_CODE, "expected \"/\" or \"]\" in the response code");
    }
    v->code = (struct ms_slice){(const char *)c->p + open + 1, c->pos - open - 2};
    return MS_OK;
}

/* RFC 5322 3.2.3 dot-atom-text: atext runs separated by single dots. */
static int dot_atom(const unsigned char *p, size_t n)
{
    if (n == 0 || p[0] == '.' || p[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '.') {
            if (p[i - 1] == '.')
                return 0;
        } else if (!ms_is(p[i], MS_C_ATEXT)) {
            return 0;
        }
    }
    return 1;
}

/*
 * RFC 1939 7 / RFC 2449 9: the APOP timestamp is an RFC 822 msg-id; checked
 * as RFC 5322 3.6.4 msg-id = "<" dot-atom-text "@" (dot-atom-text /
 * no-fold-literal) ">".
 */
static enum ms_status timestamp(struct ms_cursor *c, size_t end, struct ms_pop3_reply *v)
{
    size_t open = c->pos;
    const unsigned char *gt = memchr(c->p + open, '>', end - open);

    if (!gt)
        return ms_fail(c, R_APOP, "the timestamp \"<\" has no closing \">\"");
    size_t close = (size_t)(gt - c->p);
    const unsigned char *at = memchr(c->p + open, '@', close - open);
    if (!at)
        return ms_fail_at(c, open, R_APOP, "the timestamp is a msg-id: <left@right>");
    size_t a = (size_t)(at - c->p);
    if (!dot_atom(c->p + open + 1, a - open - 1))
        return ms_fail_at(c, open + 1, R_APOP, "msg-id left part is a dot-atom");
    const unsigned char *r = c->p + a + 1;
    size_t rn = close - a - 1;
    int ok = dot_atom(r, rn);
    if (!ok && rn >= 2 && r[0] == '[' && r[rn - 1] == ']') {
        ok = 1;
        for (size_t i = 1; i + 1 < rn; i++)
            if (!ms_is(r[i], MS_C_VCHAR) || r[i] == '[' || r[i] == ']' || r[i] == '\\')
                ok = 0;
    }
    if (!ok)
        return ms_fail_at(c, a + 1, R_APOP, "msg-id right part is a dot-atom or [literal]");
    v->timestamp = (struct ms_slice){(const char *)c->p + open, close + 1 - open};
    c->pos = close + 1;
    if (memchr(c->p + c->pos, '<', end - c->pos))
        return ms_fail_at(
            c, (size_t)((const unsigned char *)memchr(c->p + c->pos, '<', end - c->pos) - c->p),
            R_APOP, "only one timestamp in the greeting");
    return MS_OK;
}

/*
 * Read a number of digits (all of them) no greater than max. Listing lines
 * are mostly numbers: runs of up to 19 digits (below 10^19, so no overflow)
 * are read here in the same loop that finds them and compared with max;
 * longer ones go through the one checked reader, ms_number_parse. The result
 * is the same: the value, or the range error when it is above max.
 */
static enum ms_status number(struct ms_cursor *c, uint64_t max, uint64_t *out, const char *rule,
                             const char *what, const char *range)
{
    size_t start = c->pos, i = start;
    uint64_t v = 0;

    while (i < c->len && ms_is_digit(c->p[i])) {
        v = v * 10 + (unsigned)(c->p[i] - '0');
        i++;
    }
    c->pos = i;
    if (i == start)
        return ms_fail(c, rule, what);
    /* RFC 1939 sets no maximum: a bigger number is over mailspec's limit. */
    if (i - start > 19) {
        if (ms_number_parse((const char *)c->p + start, i - start, max, &v) != MS_OK)
            return ms_fail_limit_at(c, start, rule, range);
    } else if (v > max) {
        return ms_fail_limit_at(c, start, rule, range);
    }
    *out = v;
    return MS_OK;
}

static enum ms_status msg_number(struct ms_cursor *c, uint64_t *out, const char *rule)
{
    size_t start = c->pos;
    MS_GUARD(number(c, MS_POP3_MSG_MAX, out, rule, "expected a message number",
                    "message number above 4294967295"));
    if (*out == 0)
        return ms_fail_at(c, start, rule, "message numbers start at 1");
    return MS_OK;
}

/* RFC 1939 5: scan listing / drop listing: n SP octets [SP anything] */
static enum ms_status listing(struct ms_cursor *c, struct ms_pop3_reply *v, int drop)
{
    if (drop)
        MS_GUARD(number(c, UINT64_MAX, &v->count, R_SCAN, "expected the message count",
                        "message count above 2^64-1"));
    else
        MS_GUARD(msg_number(c, &v->msg, R_SCAN));
    if (!accept_sp(c))
        return ms_fail(c, R_SCAN, "expected SP after the message number");
    MS_GUARD(number(c, UINT64_MAX, &v->octets, R_SCAN, "expected a size in octets",
                    "size above 2^64-1 octets"));
    if (!ms_cursor_eof(c)) {
        if (ms_cursor_peek(c) != ' ')
            return ms_fail(c, R_SCAN, "expected SP or CRLF after the size");
        ms_cursor_rest(c, &v->extra);
    }
    return MS_OK;
}

/* RFC 1939 7: unique-id listing: msg SP uid, uid = 1*70 of %x21-7E */
static enum ms_status uid_listing(struct ms_cursor *c, struct ms_pop3_reply *v)
{
    MS_GUARD(msg_number(c, &v->msg, R_UIDL));
    if (!accept_sp(c))
        return ms_fail(c, R_UIDL, "expected SP after the message number");
    MS_GUARD(ms_cursor_token(c, MS_C_VCHAR, MS_POP3_UID_MAX, &v->uid, R_UIDL,
                             "expected a unique-id (printable ASCII)"));
    if (!ms_cursor_eof(c))
        return ms_fail(c, R_UIDL, "expected CRLF after the unique-id");
    return MS_OK;
}

static enum ms_status status_keyword(struct ms_cursor *c, struct ms_pop3_reply *v,
                                     const struct ms_limits *lim)
{
    size_t start = c->pos;

    if (ms_cursor_left(c) >= 3 && memcmp(c->p, "+OK", 3) == 0) {
        c->pos += 3;
        v->ok = 1;
    } else if (ms_cursor_left(c) >= 4 && memcmp(c->p, "-ERR", 4) == 0) {
        c->pos += 4;
    } else if ((lim->lenient & MS_LENIENT_KEYWORD_CASE) &&
               (ms_cursor_accept_ci(c, "+ok") || ms_cursor_accept_ci(c, "-err"))) {
        v->ok = c->p[start] == '+';
        ms_quirk_add(&v->quirks, start, R_STATUS, "status indicator not in upper case");
    } else {
        return ms_fail(c, R_STATUS, "expected +OK or -ERR (upper case)");
    }
    if (ms_cursor_eof(c))
        return MS_OK;
    return ms_cursor_expect(c, ' ', R_STATUS, "expected SP or CRLF after the status indicator");
}

/* A status line's text: [resp-code] then text (RFC 2449 9). */
static enum ms_status status_text(struct ms_cursor *c, struct ms_pop3_reply *v,
                                  const struct ms_limits *lim, int utf8, int greeting)
{
    size_t start = c->pos;

    if (ms_cursor_peek(c) == '[')
        MS_GUARD(resp_code(c, v));
    size_t rest = c->pos;
    if (greeting) {
        const unsigned char *lt = memchr(c->p + c->pos, '<', c->len - c->pos);
        size_t ts = lt ? (size_t)(lt - c->p) : c->len;
        MS_GUARD(text_bytes(c, ts, utf8, lim, &v->quirks));
        if (lt) {
            MS_GUARD(timestamp(c, c->len, v));
            MS_GUARD(text_bytes(c, c->len, utf8, lim, &v->quirks));
        }
    } else {
        MS_GUARD(text_bytes(c, c->len, utf8, lim, &v->quirks));
    }
    v->text = (struct ms_slice){(const char *)c->p + start, c->len - start};
    c->pos = rest; /* typed parsers read the text again */
    return MS_OK;
}

static const struct {
    const char *name;
    enum ms_pop3_capa capa;
} capas[] = {
    {"TOP", MS_POP3_CAPA_TOP},
    {"USER", MS_POP3_CAPA_USER},
    {"SASL", MS_POP3_CAPA_SASL},
    {"RESP-CODES", MS_POP3_CAPA_RESP_CODES},
    {"LOGIN-DELAY", MS_POP3_CAPA_LOGIN_DELAY},
    {"PIPELINING", MS_POP3_CAPA_PIPELINING},
    {"EXPIRE", MS_POP3_CAPA_EXPIRE},
    {"UIDL", MS_POP3_CAPA_UIDL},
    {"IMPLEMENTATION", MS_POP3_CAPA_IMPLEMENTATION},
    {"STLS", MS_POP3_CAPA_STLS},
    {"UTF8", MS_POP3_CAPA_UTF8},
    {"AUTH-RESP-CODE", MS_POP3_CAPA_AUTH_RESP_CODE},
    {"LANG", MS_POP3_CAPA_LANG},
};

/* RFC 2449 5: capability = capa-tag *(SP param); cchar excludes "." */
static enum ms_status capability(struct ms_cursor *c, struct ms_pop3_reply *v)
{
    size_t start = c->pos;
    size_t poff[MS_POP3_CAPA_PARAMS];

    while (!ms_cursor_eof(c) && ms_is(c->p[c->pos], MS_C_VCHAR) && c->p[c->pos] != '.')
        c->pos++;
    if (c->pos == start)
        return ms_fail(c, R_CAPA, "expected a capability name (printable ASCII except \".\")");
    v->name = (struct ms_slice){(const char *)c->p + start, c->pos - start};
    while (!ms_cursor_eof(c)) {
        MS_GUARD(ms_cursor_expect(c, ' ', R_CAPA, "expected SP between capability parameters"));
        size_t ps = c->pos;
        struct ms_slice p;
        MS_GUARD(ms_cursor_token(c, MS_C_VCHAR, ms_cursor_left(c), &p, R_CAPA,
                                 "expected a parameter (printable ASCII)"));
        if (v->nparams >= MS_POP3_CAPA_PARAMS)
            return ms_fail_limit_at(c, ps, R_CAPA, "more capability parameters than the limit");
        poff[v->nparams] = ps;
        v->params[v->nparams++] = p;
    }
    for (size_t i = 0; i < sizeof(capas) / sizeof(capas[0]); i++)
        if (ms_slice_ieq(v->name, capas[i].name))
            v->capa = capas[i].capa;
    switch (v->capa) {
    case MS_POP3_CAPA_TOP:
    case MS_POP3_CAPA_USER:
    case MS_POP3_CAPA_RESP_CODES:
    case MS_POP3_CAPA_PIPELINING:
    case MS_POP3_CAPA_UIDL:
    case MS_POP3_CAPA_STLS:
    case MS_POP3_CAPA_AUTH_RESP_CODE:
    case MS_POP3_CAPA_LANG:
        if (v->nparams)
            return ms_fail_at(c, poff[0], R_CAPA, "this capability takes no parameters");
        return MS_OK;
    case MS_POP3_CAPA_UTF8:
        /* RFC 6856 2: "UTF8" [SP "USER"] */
        if (v->nparams > 1 || (v->nparams == 1 && !ms_slice_ieq(v->params[0], "USER")))
            return ms_fail_at(c, poff[0], "RFC 6856 2", "UTF8 takes only the parameter USER");
        v->per_user = v->nparams == 1;
        return MS_OK;
    case MS_POP3_CAPA_SASL:
        /* RFC 2449 6.3 / RFC 4422 3.1: mechanism names. An empty list is
         * not forbidden (capability = capa-tag *(SP param), RFC 2449 9):
         * Dovecot sends "SASL" alone when no mechanism is allowed before TLS. */
        for (unsigned i = 0; i < v->nparams; i++) {
            struct ms_slice m = v->params[i];
            if (m.len > 20)
                return ms_fail_at(c, poff[i], "RFC 4422 3.1",
                                  "SASL mechanism names are at most 20 characters");
            for (size_t k = 0; k < m.len; k++) {
                unsigned char ch = (unsigned char)m.ptr[k];
                if (!(ch >= 'A' && ch <= 'Z') && !ms_is_digit(ch) && ch != '-' && ch != '_')
                    return ms_fail_at(c, poff[i] + k, "RFC 4422 3.1",
                                      "SASL mechanism names are A-Z, 0-9, - and _");
            }
        }
        return MS_OK;
    case MS_POP3_CAPA_LOGIN_DELAY:
    case MS_POP3_CAPA_EXPIRE: {
        /* RFC 2449 6.5, 6.7: LOGIN-DELAY delay-secs [SP "USER"];
         * EXPIRE (expire-days / "NEVER") [SP "USER"] */
        const char *rule = v->capa == MS_POP3_CAPA_EXPIRE ? "RFC 2449 6.7" : "RFC 2449 6.5";
        if (v->nparams == 0 || v->nparams > 2)
            return ms_fail(c, rule, "expected a number and an optional USER");
        struct ms_slice p = v->params[0];
        if (v->capa == MS_POP3_CAPA_EXPIRE && ms_slice_ieq(p, "NEVER")) {
            v->never = 1;
        } else if (ms_number_parse(p.ptr, p.len, UINT32_MAX, &v->value) != MS_OK) {
            return ms_fail_at(c, poff[0], rule,
                              v->capa == MS_POP3_CAPA_EXPIRE
                                  ? "expected days (a number up to 4294967295) or NEVER"
                                  : "expected seconds (a number up to 4294967295)");
        }
        if (v->nparams == 2) {
            if (!ms_slice_ieq(v->params[1], "USER"))
                return ms_fail_at(c, poff[1], rule, "expected USER after the value");
            v->per_user = 1;
        }
        return MS_OK;
    }
    default:
        return MS_OK;
    }
}

/*
 * RFC 6856 3: a line of the LANG listing: a language tag (RFC 5646, checked
 * as letters, digits and "-"), then SP and a description in UTF-8.
 */
static enum ms_status language(struct ms_cursor *c, struct ms_pop3_reply *v,
                               const struct ms_limits *lim)
{
    size_t start = c->pos;

    while (!ms_cursor_eof(c) &&
           (ms_is(c->p[c->pos], MS_C_ALPHA | MS_C_DIGIT) || c->p[c->pos] == '-'))
        c->pos++;
    if (c->pos == start || !ms_is(c->p[start], MS_C_ALPHA))
        return ms_fail_at(c, start, "RFC 6856 3", "expected a language tag");
    v->tag = (struct ms_slice){(const char *)c->p + start, c->pos - start};
    /* no description: an empty slice that still points into the line (JSON
     * writers do pointer arithmetic on it; NULL + 0 is undefined) */
    v->text = (struct ms_slice){(const char *)c->p + c->pos, 0};
    if (ms_cursor_eof(c))
        return MS_OK;
    MS_GUARD(ms_cursor_expect(c, ' ', "RFC 6856 3", "expected SP after the language tag"));
    size_t d = c->pos;
    MS_GUARD(text_bytes(c, c->len, 1, lim, &v->quirks));
    v->text = (struct ms_slice){(const char *)c->p + d, c->len - d};
    return MS_OK;
}

/* A line that begins with "." inside a multi-line response (RFC 1939 3). */
static enum ms_status unstuff(struct ms_cursor *c)
{
    if (ms_cursor_peek(c) != '.')
        return MS_OK;
    if (ms_cursor_peek_at(c, 1) != '.')
        return ms_fail_at(c, 0, R_DOT, "line starts with \".\" but is not dot-stuffed");
    c->pos++;
    return MS_OK;
}

static ssize_t multi_line(struct ms_pop3_reply_state *st, const struct ms_limits *lim,
                          const char *buf, size_t len, struct ms_pop3_reply *v, int *done,
                          struct ms_error *err)
{
    enum ms_pop3_cmd cmd = (enum ms_pop3_cmd)st->multi;
    int body = cmd == MS_POP3_RETR || cmd == MS_POP3_TOP;
    size_t max = cmd == MS_POP3_CAPA ? lim->pop3_response_line : lim->pop3_text_line;
    struct ms_quirks *q = body ? &st->bq : &v->quirks;
    struct ms_cursor c;
    size_t tl;

    /* A body line fills nothing in the view (only the final "." does). */
    if (!body)
        view_clear(v);
    ssize_t n = ms_pop3_line_fast(lim, buf, len, max, &tl, q, body ? (size_t)st->wire : 0, err,
                                  cmd == MS_POP3_CAPA ? R_CAPA : R_LEN);
    if (n <= 0) {
        if (n == MS_FAIL && body)
            st->wire += err->skip;
        return n;
    }
    if (!body) {
        v->answers = cmd;
        v->has_arg = st->multi_arg;
    }
    if (tl == 1 && buf[0] == '.') {
        /* the end of the multi-line response */
        if (body) {
            view_clear(v);
            v->answers = cmd;
            v->has_arg = st->multi_arg;
            v->type = MS_POP3_R_BODY;
            v->octets = st->octets;
            v->lines = st->lines;
            v->quirks = st->bq;
        } else {
            v->type = MS_POP3_R_END;
            v->entries = st->lines;
        }
        v->raw = (struct ms_slice){buf, (size_t)n}; /* the "." line */
        st->multi = 0;
        st->lines = st->octets = st->wire = 0;
        memset(&st->bq, 0, sizeof(st->bq));
        *done = 1;
        return n;
    }
    /* Entries are reported when the next byte is there (see the top). */
    if (!body && (size_t)n >= len)
        return MS_PARTIAL;
    ms_cursor_init(&c, buf, tl, err, R_DOT);
    enum ms_status s = unstuff(&c);
    if (s == MS_OK && body) {
        const void *nul = memchr(buf, '\0', tl);
        if (nul)
            s = ms_fail_at(&c, (size_t)((const char *)nul - buf), "RFC 5322 2.3",
                           "NUL in a message body");
    } else if (s == MS_OK && cmd == MS_POP3_CAPA) {
        v->type = MS_POP3_R_CAPABILITY;
        s = capability(&c, v);
    } else if (s == MS_OK && cmd == MS_POP3_LANG) {
        v->type = MS_POP3_R_LANGUAGE;
        s = language(&c, v, lim);
    } else if (s == MS_OK && cmd == MS_POP3_LIST) {
        v->type = MS_POP3_R_SCAN;
        s = listing(&c, v, 0);
    } else if (s == MS_OK) {
        v->type = MS_POP3_R_UID;
        s = uid_listing(&c, v);
    }
    /* Counted even when bad: the line belongs to the response either way. */
    st->lines++;
    if (body) {
        st->wire += (uint64_t)n;
        st->octets += tl - c.pos + 2;
    }
    if (s != MS_OK) {
        err->skip = (size_t)n;
        return MS_FAIL;
    }
    if (body) {
        *done = 0;
    } else {
        v->raw = (struct ms_slice){buf, (size_t)n};
        *done = 1;
    }
    return n;
}

static void rep_init(void *state, const struct ms_limits *lim)
{
    (void)lim;
    memset(state, 0, sizeof(struct ms_pop3_reply_state));
}

/* After a bad status line: frame what follows as if it had been well-formed. */
static void status_failed(struct ms_pop3_reply_state *st, const char *buf, size_t tl, int greeting)
{
    int has_arg;
    enum ms_pop3_cmd cmd = head_cmd(st, &has_arg);

    if (greeting) {
        st->greeting_done = 1;
        return;
    }
    int ok = tl >= 3 && buf[0] == '+' && ms_lower((unsigned char)buf[1]) == 'o' &&
             ms_lower((unsigned char)buf[2]) == 'k';
    int err = tl >= 4 && buf[0] == '-' && ms_lower((unsigned char)buf[1]) == 'e' &&
              ms_lower((unsigned char)buf[2]) == 'r' && ms_lower((unsigned char)buf[3]) == 'r';
    if (cmd == MS_POP3_AUTH && !ok && !err)
        return; /* a bad continuation: AUTH still waits for its final status */
    pop(st);
    if (ok && opens_multiline(cmd, has_arg)) {
        st->multi = (uint8_t)cmd;
        st->multi_arg = (uint8_t)has_arg;
    }
}

static enum ms_status parse_status(struct ms_pop3_reply_state *st, const struct ms_limits *lim,
                                   struct ms_cursor *c, struct ms_pop3_reply *v, int greeting,
                                   enum ms_pop3_cmd cmd, int has_arg)
{
    /* RFC 5034 4: continue-req = "+" SP [base64] CRLF */
    if (!greeting && ms_cursor_peek(c) == '+' &&
        (ms_cursor_peek_at(c, 1) == ' ' || ms_cursor_peek_at(c, 1) == -1)) {
        v->type = MS_POP3_R_CONTINUE;
        if (cmd != MS_POP3_AUTH && cmd != MS_POP3_NONE)
            return ms_fail(c, R_SASL, "a continuation request, but the command was not AUTH");
        c->pos++;
        if (ms_cursor_eof(c)) {
            if (!(lim->lenient & MS_LENIENT_SPACES))
                return ms_fail(c, R_SASL, "expected SP after \"+\"");
            ms_quirk_add(&v->quirks, 1, R_SASL, "continuation without SP after \"+\"");
        } else {
            c->pos++;
        }
        ms_cursor_rest(c, &v->data);
        for (size_t k = 0; k < v->data.len; k++)
            if (!ms_is((unsigned char)v->data.ptr[k], MS_C_BASE64) && v->data.ptr[k] != '=')
                return ms_fail_at(c, 2 + k, R_SASL, "a continuation carries base64");
        if (!ms_pop3_base64_valid(v->data.ptr, v->data.len))
            return ms_fail_at(c, 2, R_SASL, "base64 is groups of 4 with \"=\" padding at the end");
        return MS_OK;
    }
    v->type = greeting ? MS_POP3_R_GREETING : MS_POP3_R_STATUS;
    MS_GUARD(status_keyword(c, v, lim));
    MS_GUARD(status_text(c, v, lim, st->utf8, greeting));
    if (greeting || !v->ok)
        return MS_OK;
    v->multiline = (uint8_t)opens_multiline(cmd, has_arg);
    if (cmd == MS_POP3_STAT)
        return listing(c, v, 1);
    if (cmd == MS_POP3_LIST && has_arg)
        return listing(c, v, 0);
    if (cmd == MS_POP3_UIDL && has_arg)
        return uid_listing(c, v);
    return MS_OK;
}

static ssize_t rep_parse(void *state, const struct ms_limits *lim, const char *buf, size_t len,
                         void *view, int *done, struct ms_error *err)
{
    struct ms_pop3_reply_state *st = state;
    struct ms_pop3_reply *v = view;
    struct ms_cursor c;
    size_t tl;
    int has_arg;

    if (st->multi)
        return multi_line(st, lim, buf, len, v, done, err);
    view_clear(v);

    int greeting = !st->greeting_done;
    enum ms_pop3_cmd cmd = greeting ? MS_POP3_NONE : head_cmd(st, &has_arg);
    if (greeting)
        has_arg = 0;
    size_t max = lim->pop3_response_line;
    /* A SASL continuation may be as long as a SASL line (RFC 5034 4). */
    if ((cmd == MS_POP3_AUTH || (!greeting && cmd == MS_POP3_NONE)) && lim->pop3_sasl_line > max)
        max = lim->pop3_sasl_line;
    ssize_t n = ms_pop3_line_fast(lim, buf, len, max, &tl, &v->quirks, 0, err, R_LEN);
    if (n == MS_PARTIAL)
        return n;
    if (n < 0) {
        /* Too long: max bytes are here, enough to see the status indicator. */
        status_failed(st, buf, err->skip ? err->skip : (len < max ? len : max), greeting);
        return n;
    }
    v->raw = (struct ms_slice){buf, (size_t)n};
    ms_cursor_init(&c, buf, tl, err, R_STATUS);
    enum ms_status s = parse_status(st, lim, &c, v, greeting, cmd, has_arg);
    /* RFC 2449 4: status lines (not continuations) are at most 512 octets. */
    if (s == MS_OK && v->type != MS_POP3_R_CONTINUE && (size_t)n > lim->pop3_response_line &&
        max > lim->pop3_response_line) {
        if (lim->lenient & MS_LENIENT_LONG_LINES)
            ms_quirk_add(&v->quirks, lim->pop3_response_line, R_LEN, "line longer than the limit");
        else
            s = ms_fail_limit_at(&c, lim->pop3_response_line, R_LEN, "line longer than the limit");
    }
    if (s != MS_OK) {
        status_failed(st, buf, tl, greeting);
        err->skip = (size_t)n;
        return MS_FAIL;
    }
    if (v->multiline && (size_t)n >= len)
        return MS_PARTIAL; /* reported with the next byte (see the top) */
    v->answers = cmd;
    v->has_arg = (uint8_t)has_arg;
    if (greeting) {
        st->greeting_done = 1;
    } else if (v->type != MS_POP3_R_CONTINUE) {
        pop(st);
        if (v->multiline) {
            st->multi = (uint8_t)cmd;
            st->multi_arg = (uint8_t)has_arg;
            st->lines = st->octets = st->wire = 0;
        }
        if (cmd == MS_POP3_UTF8 && v->ok)
            st->utf8 = 1;
    }
    *done = 1;
    return n;
}

static void json_u64(struct ms_out *o, const char *key, uint64_t v)
{
    ms_out_json_key(o, key);
    ms_out_u64(o, v);
}

static void json_answers(struct ms_out *o, const struct ms_pop3_reply *v)
{
    if (v->answers == MS_POP3_NONE)
        return;
    ms_out_json_key(o, "answers");
    ms_out_str(o, "\"");
    ms_out_str(o, ms_pop3_cmd_name(v->answers));
    ms_out_str(o, "\"");
}

static void rep_json(const void *view, struct ms_out *o)
{
    const struct ms_pop3_reply *v = view;

    ms_out_json_key(o, "type");
    switch (v->type) {
    case MS_POP3_R_GREETING:
    case MS_POP3_R_STATUS:
        ms_out_str(o, v->type == MS_POP3_R_GREETING ? "\"greeting\"" : "\"status\"");
        ms_out_json_key(o, "status");
        ms_out_str(o, v->ok ? "\"+OK\"" : "\"-ERR\"");
        json_answers(o, v);
        if (v->multiline)
            ms_out_str(o, ",\"multiline\":true");
        ms_out_json_key(o, "text");
        ms_out_json_slice(o, v->text);
        if (v->nlevels) {
            ms_out_json_key(o, "code");
            ms_out_json_slice(o, v->code);
            ms_out_json_key(o, "code_levels");
            ms_out_str(o, "[");
            for (unsigned i = 0; i < v->nlevels; i++) {
                if (i)
                    ms_out_str(o, ",");
                ms_out_json_slice(o, v->levels[i]);
            }
            ms_out_str(o, "]");
        }
        if (v->timestamp.len) {
            ms_out_json_key(o, "timestamp");
            ms_out_json_slice(o, v->timestamp);
        }
        if (v->ok && v->answers == MS_POP3_STAT) {
            json_u64(o, "count", v->count);
            json_u64(o, "octets", v->octets);
        } else if (v->ok && v->answers == MS_POP3_LIST && v->has_arg) {
            json_u64(o, "msg", v->msg);
            json_u64(o, "octets", v->octets);
        } else if (v->ok && v->answers == MS_POP3_UIDL && v->has_arg) {
            json_u64(o, "msg", v->msg);
            ms_out_json_key(o, "uid");
            ms_out_json_slice(o, v->uid);
        }
        if (v->extra.len) {
            ms_out_json_key(o, "extra");
            ms_out_json_slice(o, v->extra);
        }
        break;
    case MS_POP3_R_CONTINUE:
        ms_out_str(o, "\"continue\"");
        json_answers(o, v);
        ms_out_json_key(o, "data");
        ms_out_json_slice(o, v->data);
        break;
    case MS_POP3_R_SCAN:
        ms_out_str(o, "\"scan_listing\"");
        json_u64(o, "msg", v->msg);
        json_u64(o, "octets", v->octets);
        if (v->extra.len) {
            ms_out_json_key(o, "extra");
            ms_out_json_slice(o, v->extra);
        }
        break;
    case MS_POP3_R_UID:
        ms_out_str(o, "\"uid_listing\"");
        json_u64(o, "msg", v->msg);
        ms_out_json_key(o, "uid");
        ms_out_json_slice(o, v->uid);
        break;
    case MS_POP3_R_CAPABILITY:
        ms_out_str(o, "\"capability\"");
        ms_out_json_key(o, "name");
        ms_out_json_slice(o, v->name);
        ms_out_json_key(o, "params");
        ms_out_str(o, "[");
        for (unsigned i = 0; i < v->nparams; i++) {
            if (i)
                ms_out_str(o, ",");
            ms_out_json_slice(o, v->params[i]);
        }
        ms_out_str(o, "]");
        if (v->capa == MS_POP3_CAPA_LOGIN_DELAY)
            json_u64(o, "delay", v->value);
        if (v->capa == MS_POP3_CAPA_EXPIRE) {
            if (v->never)
                ms_out_str(o, ",\"never\":true");
            else
                json_u64(o, "days", v->value);
        }
        if (v->per_user)
            ms_out_str(o, ",\"per_user\":true");
        if (v->capa == MS_POP3_CAPA_OTHER)
            ms_out_str(o, ",\"known\":false");
        break;
    case MS_POP3_R_LANGUAGE:
        ms_out_str(o, "\"language\"");
        ms_out_json_key(o, "tag");
        ms_out_json_slice(o, v->tag);
        ms_out_json_key(o, "description");
        ms_out_json_slice(o, v->text);
        break;
    case MS_POP3_R_BODY:
        ms_out_str(o, "\"body\"");
        json_answers(o, v);
        json_u64(o, "octets", v->octets);
        json_u64(o, "lines", v->lines);
        break;
    case MS_POP3_R_END:
        ms_out_str(o, "\"end\"");
        json_answers(o, v);
        json_u64(o, "entries", v->entries);
        break;
    default:
        ms_out_str(o, "\"unknown\"");
        break;
    }
    ms_out_json_quirks(o, &v->quirks);
}

static ssize_t rep_write(const void *view, char *out, size_t cap)
{
    const struct ms_pop3_reply *v = view;
    struct ms_out o;

    ms_out_init(&o, out, cap);
    if (v->type == MS_POP3_R_BODY) {
        /* The body was streamed: only an empty one can be written back. */
        if (v->lines)
            return MS_FAIL;
        if (v->quirks.n || v->quirks.dropped)
            ms_out_bytes(&o, v->raw.ptr, v->raw.len);
        else
            ms_out_str(&o, ".\r\n");
    } else if (v->quirks.n || v->quirks.dropped) {
        ms_out_bytes(&o, v->raw.ptr, v->raw.len);
    } else {
        switch (v->type) {
        case MS_POP3_R_GREETING:
        case MS_POP3_R_STATUS:
            ms_out_str(&o, v->ok ? "+OK" : "-ERR");
            if (v->text.len) {
                ms_out_str(&o, " ");
                ms_out_bytes(&o, v->text.ptr, v->text.len);
            }
            break;
        case MS_POP3_R_CONTINUE:
            ms_out_str(&o, "+ ");
            ms_out_bytes(&o, v->data.ptr, v->data.len);
            break;
        case MS_POP3_R_SCAN:
            ms_out_u64(&o, v->msg);
            ms_out_str(&o, " ");
            ms_out_u64(&o, v->octets);
            ms_out_bytes(&o, v->extra.ptr, v->extra.len);
            break;
        case MS_POP3_R_UID:
            ms_out_u64(&o, v->msg);
            ms_out_str(&o, " ");
            ms_out_bytes(&o, v->uid.ptr, v->uid.len);
            break;
        case MS_POP3_R_CAPABILITY:
            ms_out_bytes(&o, v->name.ptr, v->name.len);
            for (unsigned i = 0; i < v->nparams; i++) {
                ms_out_str(&o, " ");
                ms_out_bytes(&o, v->params[i].ptr, v->params[i].len);
            }
            break;
        case MS_POP3_R_LANGUAGE:
            ms_out_bytes(&o, v->tag.ptr, v->tag.len);
            if (v->text.len) {
                ms_out_str(&o, " ");
                ms_out_bytes(&o, v->text.ptr, v->text.len);
            }
            break;
        case MS_POP3_R_END:
            ms_out_str(&o, ".");
            break;
        default:
            return MS_FAIL;
        }
        ms_out_str(&o, "\r\n");
    }
    if (o.overflow)
        return MS_FAIL;
    return (ssize_t)o.len;
}

const struct ms_kind ms_pop3_replies_kind = {
    .proto = "pop3",
    .name = "replies",
    .state_size = sizeof(struct ms_pop3_reply_state),
    .view_size = sizeof(struct ms_pop3_reply),
    .init = rep_init,
    .parse = rep_parse,
    .json = rep_json,
    .write = rep_write,
};
