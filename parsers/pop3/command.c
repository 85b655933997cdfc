/*
 * POP3 commands (RFC 1939 3, 5-7; RFC 2449 4-5; RFC 2595 4; RFC 5034 4;
 * RFC 6856 2): one CRLF line each, at most 255 octets (RFC 2449 4), or a SASL
 * client line inside an AUTH exchange.
 */
#include <string.h>

#include "pop3_int.h"

#define R_CMD   "RFC 1939 3"
#define R_LEN   "RFC 2449 4"
#define R_SASL  "RFC 5034 4"
#define R_APOP  "RFC 1939 7"
#define R_MSG   "RFC 1939 5"
#define R_UTF8  "RFC 6856 2"
#define ARG_MAX 3 /* arguments counted (two stored, the third only for the error) */

struct args {
    /* the view's arg[]: the first two arguments are read into it directly
     * (copying them from a local array was a store-forwarding stall: two
     * 8-byte stores read back as one 16-byte load, a quarter of the time) */
    struct ms_slice *a;
    size_t off[ARG_MAX];
    unsigned n;
};

/*
 * Bytes allowed in an argument: printable US-ASCII (RFC 1939 3); UTF-8 in
 * USER/PASS/APOP names after UTF8 (RFC 6856 2); 8-bit with the lenient flag.
 */
static enum ms_status arg_bytes_rest(struct ms_cursor *c, size_t avail, int utf8_ok, int space_ok,
                                     const struct ms_limits *lim, struct ms_quirks *q)
{
    const unsigned char *p = c->p;
    const size_t n = c->len;

    for (;;) {
        /* the common bytes in a tight loop over locals (the cursor's fields
         * would be stored and reloaded at every byte) */
        size_t i = c->pos;
        i += ms_pop3_vchar_run(p + i, n - i, avail - i, space_ok);
        c->pos = i;
        if (i >= n)
            return MS_OK;
        unsigned char ch = p[i];
        if (ch == ' ')
            return MS_OK;
        if (ch >= 0x80 && utf8_ok) {
            size_t u = ms_utf8_len(c->p + c->pos, c->len - c->pos);
            if (u == 0)
                return ms_fail(c, R_UTF8, "invalid UTF-8 in an argument");
            c->pos += u;
            continue;
        }
        if (ch >= 0x80 && (lim->lenient & MS_LENIENT_8BIT)) {
            ms_quirk_add(q, c->pos, R_CMD, "8-bit byte in an argument");
            c->pos++;
            continue;
        }
        if (ch == 0)
            return ms_fail(c, R_CMD, "NUL in a command line");
        if (ch >= 0x80)
            return ms_fail(c, R_CMD, "8-bit byte: arguments are printable US-ASCII");
        return ms_fail(c, R_CMD, "control character: arguments are printable US-ASCII");
    }
    return MS_OK;
}

/* The common case inline: the argument ends at SP or at the end of the line. */
static inline enum ms_status arg_bytes(struct ms_cursor *c, size_t avail, int utf8_ok, int space_ok,
                                       const struct ms_limits *lim, struct ms_quirks *q)
{
    size_t i = c->pos + ms_pop3_vchar_run(c->p + c->pos, c->len - c->pos, avail - c->pos, space_ok);

    c->pos = i;
    if (i >= c->len || c->p[i] == ' ')
        return MS_OK;
    return arg_bytes_rest(c, avail, utf8_ok, space_ok, lim, q);
}

/* Single SP between arguments (RFC 1939 3), or several with MS_LENIENT_SPACES. */
static enum ms_status read_args(struct ms_cursor *c, size_t avail, struct args *a, int utf8_ok,
                                const struct ms_limits *lim, struct ms_quirks *q)
{
    a->n = 0;
    while (!ms_cursor_eof(c)) {
        size_t sp = c->pos;
        if (c->p[sp] != ' ')
            return ms_fail(c, R_CMD, "expected SP between arguments");
        c->pos++;
        if (ms_cursor_peek(c) == ' ' || ms_cursor_eof(c)) {
            if (!(lim->lenient & MS_LENIENT_SPACES))
                return ms_fail_at(c, ms_cursor_eof(c) ? sp : c->pos, R_CMD,
                                  ms_cursor_eof(c) ? "trailing space after the command"
                                                   : "one SP between arguments, not several");
            ms_quirk_add(q, sp, R_CMD, "extra or trailing spaces");
            while (ms_cursor_accept(c, ' '))
                ;
            if (ms_cursor_eof(c))
                break;
        }
        size_t start = c->pos;
        MS_GUARD(arg_bytes(c, avail, utf8_ok, 0, lim, q));
        if (a->n < 2) {
            a->a[a->n].ptr = (const char *)c->p + start;
            a->a[a->n].len = c->pos - start;
        }
        if (a->n < ARG_MAX)
            a->off[a->n] = start;
        if (a->n < ARG_MAX + 1)
            a->n++;
    }
    return MS_OK;
}

/* RFC 1939 5: msg is a message-number, 1-based. */
static enum ms_status msg_number(struct ms_cursor *c, struct args *a, unsigned i, uint64_t *out)
{
    struct ms_slice s = a->a[i];
    uint64_t v = 0;

    for (size_t k = 0; k < s.len; k++) {
        unsigned char ch = (unsigned char)s.ptr[k];
        if (!ms_is_digit(ch))
            return ms_fail_at(c, a->off[i] + k, R_MSG, "expected a message number (digits)");
        v = v * 10 + (unsigned)(ch - '0');
    }
    /* Up to 9 digits the value is below 10^9 <= MS_POP3_MSG_MAX and was
     * read without overflow; longer runs go through the one checked reader. */
    if ((s.len == 0 || s.len > 9) && ms_number_parse(s.ptr, s.len, MS_POP3_MSG_MAX, &v) != MS_OK)
        return ms_fail_limit_at(c, a->off[i], R_MSG, "message number above 4294967295");
    *out = v;
    if (*out == 0)
        return ms_fail_at(c, a->off[i], R_MSG, "message numbers start at 1");
    return MS_OK;
}

static enum ms_status nargs_between(struct ms_cursor *c, const struct args *a, unsigned lo,
                                    unsigned hi, const char *msg_few, const char *msg_many)
{
    if (a->n < lo)
        return ms_fail(c, R_CMD, msg_few);
    if (a->n > hi)
        return ms_fail_at(c, a->off[hi < ARG_MAX ? hi : ARG_MAX - 1], R_CMD, msg_many);
    return MS_OK;
}

/* RFC 4422 3.1: sasl-mech = 1*20mech-char (upper-case letters, digits, - and _;
 * the AUTH command accepts either case). */
static enum ms_status mechanism(struct ms_cursor *c, const struct args *a)
{
    struct ms_slice m = a->a[0];

    if (m.len > 20)
        return ms_fail_at(c, a->off[0] + 20, "RFC 4422 3.1",
                          "SASL mechanism names are at most 20 characters");
    for (size_t k = 0; k < m.len; k++) {
        unsigned char ch = (unsigned char)m.ptr[k];
        if (!ms_is(ch, MS_C_ALPHA | MS_C_DIGIT) && ch != '-' && ch != '_')
            return ms_fail_at(c, a->off[0] + k, "RFC 4422 3.1",
                              "SASL mechanism names are letters, digits, - and _");
    }
    return MS_OK;
}

/* RFC 4647 2.1: language-range = (1*8ALPHA *("-" 1*8alphanum)) / "*" */
static enum ms_status language_range(struct ms_cursor *c, const struct args *a)
{
    struct ms_slice r = a->a[0];
    size_t start = 0;
    unsigned subtag = 0;

    if (r.len == 1 && r.ptr[0] == '*')
        return MS_OK;
    for (size_t k = 0; k <= r.len; k++) {
        if (k < r.len && r.ptr[k] != '-') {
            unsigned char ch = (unsigned char)r.ptr[k];
            /* the first subtag is letters only, later ones letters and digits */
            if (!(ms_is(ch, MS_C_ALPHA) || (subtag > 0 && ms_is_digit(ch))) || k - start >= 8)
                return ms_fail_at(c, a->off[0] + k, "RFC 4647 2.1",
                                  "expected a language range: subtags of 1-8 letters "
                                  "(digits after the first), or \"*\"");
            continue;
        }
        if (k == start)
            return ms_fail_at(c, a->off[0] + k, "RFC 4647 2.1", "empty subtag in a language range");
        start = k + 1;
        subtag++;
    }
    return MS_OK;
}

/* avail: bytes readable at c->p (>= c->len), for the SSE2 runs (pop3_int.h) */
static enum ms_status parse_command(struct ms_pop3_command_state *st, const struct ms_limits *lim,
                                    struct ms_cursor *c, size_t avail, struct ms_pop3_command *v)
{
    struct ms_slice kw;
    struct args a; /* read_args fills it up to a.n */

    a.a = v->arg;
    a.n = 0;

    /* the keyword: a run of VCHAR (inline, over locals: commands are ~10
     * bytes, so per-command costs are a large share of the time) */
    size_t kl = ms_pop3_vchar_run(c->p, c->len, avail, 0);
    c->pos = kl;
    kw = (struct ms_slice){(const char *)c->p, kl};
    if (kw.len == 0)
        return ms_fail(c, R_CMD, "expected a command keyword");
    v->cmd = ms_pop3_cmd_lookup(kw);
    if (v->cmd == MS_POP3_NONE) {
        if (kw.len < 3 || kw.len > 4)
            return ms_fail_at(c, 0, R_CMD, "keywords are 3 or 4 characters");
        return ms_fail_at(c, 0, R_CMD, "unknown command");
    }
    if (!ms_cursor_eof(c) && ms_cursor_peek(c) != ' ')
        return ms_fail(c, R_CMD, "expected SP or CRLF after the keyword");

    /* RFC 1939 7: PASS has exactly one argument, so spaces are part of it. */
    if (v->cmd == MS_POP3_PASS) {
        if (ms_cursor_eof(c))
            return ms_fail(c, R_APOP, "PASS needs a password");
        c->pos++;
        size_t start = c->pos;
        MS_GUARD(arg_bytes(c, avail, st->utf8, 1, lim, &v->quirks));
        if (c->pos == start)
            return ms_fail(c, R_APOP, "PASS needs a password");
        v->arg[0] = (struct ms_slice){(const char *)c->p + start, c->pos - start};
        v->nargs = 1;
        return MS_OK;
    }
    int utf8_ok = st->utf8 && (v->cmd == MS_POP3_USER || v->cmd == MS_POP3_APOP);
    MS_GUARD(read_args(c, avail, &a, utf8_ok, lim, &v->quirks));
    v->nargs = (uint8_t)(a.n > 2 ? 2 : a.n);

    switch (v->cmd) {
    case MS_POP3_STAT:
    case MS_POP3_NOOP:
    case MS_POP3_RSET:
    case MS_POP3_QUIT:
    case MS_POP3_CAPA:
    case MS_POP3_STLS:
    case MS_POP3_UTF8:
        MS_GUARD(nargs_between(c, &a, 0, 0, "", "this command takes no arguments"));
        if (v->cmd == MS_POP3_UTF8)
            st->utf8 = 1;
        return MS_OK;
    case MS_POP3_LIST:
    case MS_POP3_UIDL:
        MS_GUARD(nargs_between(c, &a, 0, 1, "", "takes at most one argument, a message number"));
        if (a.n == 1)
            MS_GUARD(msg_number(c, &a, 0, &v->num[0]));
        return MS_OK;
    case MS_POP3_RETR:
    case MS_POP3_DELE:
        MS_GUARD(nargs_between(c, &a, 1, 1, "needs a message number",
                               "takes one argument, a message number"));
        return msg_number(c, &a, 0, &v->num[0]);
    case MS_POP3_TOP:
        MS_GUARD(nargs_between(c, &a, 2, 2, "TOP needs a message number and a line count",
                               "TOP takes two arguments"));
        MS_GUARD(msg_number(c, &a, 0, &v->num[0]));
        for (size_t k = 0; k < a.a[1].len; k++)
            if (!ms_is_digit((unsigned char)a.a[1].ptr[k]))
                return ms_fail_at(c, a.off[1] + k, R_MSG, "expected a line count (digits)");
        if (ms_number_parse(a.a[1].ptr, a.a[1].len, UINT64_MAX, &v->num[1]) != MS_OK)
            return ms_fail_limit_at(c, a.off[1], R_MSG, "line count above 2^64-1");
        return MS_OK;
    case MS_POP3_USER:
        return nargs_between(c, &a, 1, 1, "USER needs a mailbox name", "USER takes one argument");
    case MS_POP3_APOP:
        MS_GUARD(nargs_between(c, &a, 2, 2, "APOP needs a name and a digest",
                               "APOP takes two arguments"));
        /* RFC 1939 7: the digest is 16 octets as 32 lower-case hex digits. */
        if (a.a[1].len != 32)
            return ms_fail_at(c, a.off[1], R_APOP, "the digest is 32 lower-case hex digits");
        for (size_t k = 0; k < 32; k++) {
            unsigned char ch = (unsigned char)a.a[1].ptr[k];
            if (!ms_is_digit(ch) && !(ch >= 'a' && ch <= 'f'))
                return ms_fail_at(c, a.off[1] + k, R_APOP,
                                  "the digest is 32 lower-case hex digits");
        }
        return MS_OK;
    case MS_POP3_LANG:
        /* RFC 6856 3: LANG [SP (language-range / "*")] */
        MS_GUARD(nargs_between(c, &a, 0, 1, "", "LANG takes at most one language range"));
        if (a.n == 1)
            return language_range(c, &a);
        return MS_OK;
    case MS_POP3_AUTH:
        MS_GUARD(nargs_between(c, &a, 1, 2, "AUTH needs a mechanism name",
                               "AUTH takes a mechanism and an optional initial response"));
        MS_GUARD(mechanism(c, &a));
        if (a.n == 2) {
            /* RFC 5034 4: "=" is an empty initial response. */
            struct ms_slice ir = a.a[1];
            if (!(ir.len == 1 && ir.ptr[0] == '=') && !ms_pop3_base64_valid(ir.ptr, ir.len))
                return ms_fail_at(c, a.off[1], R_SASL, "the initial response is not base64");
        }
        {
            uint32_t lines = ms_sasl_client_lines(a.a[0], a.n == 2);
            st->sasl = lines == MS_SASL_LINES_UNKNOWN ? MS_POP3_SASL_GUESS : (uint8_t)lines;
        }
        return MS_OK;
    default:
        return ms_fail_at(c, 0, R_CMD, "unknown command");
    }
}

/* RFC 5034 4: a client line in an AUTH exchange: base64, or "*" to cancel. */
static enum ms_status parse_sasl(struct ms_cursor *c, struct ms_pop3_command *v)
{
    if (c->len == 1 && c->p[0] == '*') {
        v->cmd = MS_POP3_SASL_CANCEL;
        return MS_OK;
    }
    v->cmd = MS_POP3_SASL_RESPONSE;
    v->arg[0] = (struct ms_slice){(const char *)c->p, c->len};
    v->nargs = 1;
    if (!ms_pop3_base64_valid((const char *)c->p, c->len)) {
        for (size_t k = 0; k < c->len; k++)
            if (!ms_is(c->p[k], MS_C_BASE64) && c->p[k] != '=')
                return ms_fail_at(c, k, R_SASL, "a SASL response is base64 or \"*\"");
        return ms_fail_at(c, 0, R_SASL, "base64 is groups of 4 with \"=\" padding at the end");
    }
    return MS_OK;
}

/* The SASL count after one SASL line. */
static uint8_t sasl_after(uint8_t sasl)
{
    return sasl == MS_POP3_SASL_GUESS ? sasl : (uint8_t)(sasl - 1);
}

/* For MS_POP3_SASL_GUESS: does the line start with a POP3 keyword followed by
 * SP or the end of the line? (Then it is a command and ends the exchange.) */
static int looks_like_command(const char *buf, size_t len)
{
    size_t k = 0;

    while (k < len && k < 5 && buf[k] != ' ' && buf[k] != '\r' && buf[k] != '\n')
        k++;
    /* the delimiter must be there: the same answer for every split of the input */
    if (k < 3 || k > 4 || k == len || (buf[k] != ' ' && buf[k] != '\r' && buf[k] != '\n'))
        return 0;
    return ms_pop3_cmd_lookup((struct ms_slice){buf, k}) != MS_POP3_NONE;
}

static void cmd_init(void *state, const struct ms_limits *lim)
{
    (void)lim;
    memset(state, 0, sizeof(struct ms_pop3_command_state));
}

static ssize_t cmd_parse(void *state, const struct ms_limits *lim, const char *buf, size_t len,
                         void *view, int *done, struct ms_error *err)
{
    struct ms_pop3_command_state *st = state;
    struct ms_pop3_command *v = view;
    struct ms_cursor c;
    size_t tl;
    uint8_t sasl = st->sasl;

    /* Everything but the quirk array, which is read up to quirks.n only:
     * a command is ~10 bytes, clearing 272 bytes each time showed up. */
    memset(v, 0, offsetof(struct ms_pop3_command, quirks));
    v->quirks.n = 0;
    v->quirks.dropped = 0;
    if (sasl == MS_POP3_SASL_GUESS && looks_like_command(buf, len < 6 ? len : 6))
        sasl = st->sasl = 0;
    size_t max = sasl ? lim->pop3_sasl_line : lim->pop3_command_line;
    /*
     * Fast path for a strict CRLF line: the line is not searched for a bare
     * CR first, because a successful parse has checked every byte before the
     * CRLF against classes without CR (keyword, arguments, base64). When the
     * parse fails, the command is parsed again below exactly as before, so
     * that a bare CR is still reported as such (and nothing the first
     * attempt did is kept: it changes the state only on success).
     */
    if (!(lim->lenient & (MS_LENIENT_BARE_LF | MS_LENIENT_LONG_LINES))) {
        /* POP3 commands are ~10 bytes: ms_scan_lf finds most ends in one
         * 16-byte compare, where memchr's set-up costs more than the search */
        size_t scan = len < max ? len : max;
        size_t lf = ms_scan_lf((const unsigned char *)buf, scan);
        if (lf < scan && lf > 0 && buf[lf - 1] == '\r') {
            size_t fn = lf + 1;
            st->sasl = sasl ? sasl_after(sasl) : 0;
            v->raw = (struct ms_slice){buf, fn};
            ms_cursor_init(&c, buf, fn - 2, err, R_CMD);
            if ((sasl ? parse_sasl(&c, v) : parse_command(st, lim, &c, len, v)) == MS_OK) {
                if (v->cmd == MS_POP3_SASL_CANCEL)
                    st->sasl = 0;
                *done = 1;
                return (ssize_t)fn;
            }
            st->sasl = sasl;
            memset(v, 0, offsetof(struct ms_pop3_command, quirks));
            v->quirks.n = 0;
            v->quirks.dropped = 0;
        }
    }
    ssize_t n = ms_pop3_line(lim, buf, len, max, &tl, &v->quirks, 0, err, sasl ? R_SASL : R_LEN);
    if (n == MS_PARTIAL)
        return n;
    /* A line in the AUTH exchange, good or bad, is the one the server waited for. */
    st->sasl = sasl ? sasl_after(sasl) : 0;
    if (n < 0)
        return n;
    v->raw = (struct ms_slice){buf, (size_t)n};
    ms_cursor_init(&c, buf, tl, err, R_CMD);
    if ((sasl ? parse_sasl(&c, v) : parse_command(st, lim, &c, len, v)) != MS_OK) {
        err->skip = (size_t)n;
        return MS_FAIL;
    }
    if (v->cmd == MS_POP3_SASL_CANCEL)
        st->sasl = 0;
    *done = 1;
    return n;
}

static void cmd_json(const void *view, struct ms_out *o)
{
    const struct ms_pop3_command *v = view;

    ms_out_json_key(o, "type");
    if (v->cmd == MS_POP3_SASL_RESPONSE || v->cmd == MS_POP3_SASL_CANCEL) {
        ms_out_str(o, v->cmd == MS_POP3_SASL_CANCEL ? "\"sasl_cancel\"" : "\"sasl_response\"");
        if (v->cmd == MS_POP3_SASL_RESPONSE) {
            ms_out_json_key(o, "data");
            ms_out_json_slice(o, v->arg[0]);
        }
        ms_out_json_quirks(o, &v->quirks);
        return;
    }
    ms_out_str(o, "\"command\"");
    ms_out_json_key(o, "command");
    /* names are static ASCII literals without quotes or escapes */
    ms_out_str(o, "\"");
    ms_out_str(o, ms_pop3_cmd_name(v->cmd));
    ms_out_str(o, "\"");
    switch (v->cmd) {
    case MS_POP3_LIST:
    case MS_POP3_UIDL:
    case MS_POP3_RETR:
    case MS_POP3_DELE:
    case MS_POP3_TOP:
        if (v->nargs >= 1) {
            ms_out_json_key(o, "msg");
            ms_out_u64(o, v->num[0]);
        }
        if (v->cmd == MS_POP3_TOP) {
            ms_out_json_key(o, "lines");
            ms_out_u64(o, v->num[1]);
        }
        break;
    case MS_POP3_USER:
    case MS_POP3_APOP:
        ms_out_json_key(o, "name");
        ms_out_json_slice(o, v->arg[0]);
        if (v->cmd == MS_POP3_APOP) {
            ms_out_json_key(o, "digest");
            ms_out_json_slice(o, v->arg[1]);
        }
        break;
    case MS_POP3_PASS:
        ms_out_json_key(o, "password");
        ms_out_json_slice(o, v->arg[0]);
        break;
    case MS_POP3_LANG:
        if (v->nargs) {
            ms_out_json_key(o, "range");
            ms_out_json_slice(o, v->arg[0]);
        }
        break;
    case MS_POP3_AUTH:
        ms_out_json_key(o, "mechanism");
        ms_out_json_slice(o, v->arg[0]);
        if (v->nargs == 2) {
            ms_out_json_key(o, "initial_response");
            ms_out_json_slice(o, v->arg[1]);
        }
        break;
    default:
        break;
    }
    ms_out_json_quirks(o, &v->quirks);
}

static ssize_t cmd_write(const void *view, char *out, size_t cap)
{
    const struct ms_pop3_command *v = view;
    struct ms_out o;

    ms_out_init(&o, out, cap);
    if (v->quirks.n || v->quirks.dropped) {
        /* The canonical form would lose the deviations the quirks report. */
        ms_out_bytes(&o, v->raw.ptr, v->raw.len);
    } else if (v->cmd == MS_POP3_SASL_CANCEL) {
        ms_out_str(&o, "*\r\n");
    } else if (v->cmd == MS_POP3_SASL_RESPONSE) {
        ms_out_bytes(&o, v->arg[0].ptr, v->arg[0].len);
        ms_out_str(&o, "\r\n");
    } else {
        int numeric = v->cmd == MS_POP3_LIST || v->cmd == MS_POP3_UIDL || v->cmd == MS_POP3_RETR ||
                      v->cmd == MS_POP3_DELE || v->cmd == MS_POP3_TOP;
        ms_out_str(&o, ms_pop3_cmd_name(v->cmd));
        for (unsigned i = 0; i < v->nargs && i < 2; i++) {
            ms_out_str(&o, " ");
            if (numeric)
                ms_out_u64(&o, v->num[i]);
            else
                ms_out_bytes(&o, v->arg[i].ptr, v->arg[i].len);
        }
        ms_out_str(&o, "\r\n");
    }
    if (o.overflow)
        return MS_FAIL;
    return (ssize_t)o.len;
}

const struct ms_kind ms_pop3_commands_kind = {
    .proto = "pop3",
    .name = "commands",
    .state_size = sizeof(struct ms_pop3_command_state),
    .view_size = sizeof(struct ms_pop3_command),
    .init = cmd_init,
    .parse = cmd_parse,
    .json = cmd_json,
    .write = cmd_write,
};
