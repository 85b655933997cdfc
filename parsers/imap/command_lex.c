/*
 * IMAP command tokens (RFC 9051 9 Formal Syntax): nodes, SP, keywords,
 * numbers, strings and literals, mailbox names (RFC 3501 5.1.3 modified
 * UTF-7, RFC 6855 UTF-8), sequence sets (with RFC 5182 "$"), dates, flags.
 */
#include <string.h>

#include "command_internal.h"

uint32_t ms_icp_node(struct ms_icp *p, uint32_t parent, uint8_t type)
{
    struct ms_imap_command *v = p->v;
    struct ms_imap_cnode *par = &v->nodes[parent];

    if (v->nnodes >= MS_IMAP_CMD_NODES) {
        ms_fail_limit(&p->c, R_LIMIT, "command has more items than the view holds (2048)");
        return 0;
    }
    if (par->nchild >= p->lim->imap_items) {
        ms_fail_limit(&p->c, R_LIMIT, "list has more items than the limit (imap_items)");
        return 0;
    }
    uint32_t i = v->nnodes++;
    struct ms_imap_cnode *n = &v->nodes[i];
    memset(n, 0, sizeof(*n));
    n->type = type;
    if (par->nchild == 0)
        par->child = i;
    else
        v->nodes[par->tail].next = i;
    par->tail = i;
    par->nchild++;
    return i;
}

/*
 * One SP between arguments. A doubled SP is reported at the second one
 * (no rule of RFC 9051 9 allows two), whatever the argument after it.
 */
enum ms_status ms_icp_sp(struct ms_icp *p, const char *rule)
{
    struct ms_cursor *c = &p->c;

    if (ms_cursor_peek(c) == ' ' && ms_cursor_peek_at(c, 1) == ' ')
        return ms_fail_at(c, c->pos + 1, "RFC 9051 9 command",
                          "exactly one SP between arguments (two found)");
    return ms_cursor_expect(c, ' ', rule, "expected SP");
}

enum ms_status ms_icp_sp_more(struct ms_icp *p, const char *rule)
{
    struct ms_cursor *c = &p->c;

    if (ms_cursor_peek(c) == ' ' && ms_cursor_peek_at(c, 1) < 0)
        return ms_fail(c, "RFC 9051 9 command", "trailing SP before CRLF");
    return ms_icp_sp(p, rule);
}

int ms_icp_at_delim(const struct ms_icp *p)
{
    int ch = ms_cursor_peek(&p->c);
    return ch < 0 || ch == ' ' || ch == ')';
}

int ms_icp_keyword(struct ms_icp *p, const char *const *table)
{
    struct ms_cursor *c = &p->c;
    size_t start = c->pos;
    /* The longest keyword that matches and is followed by a delimiter. */
    int best = -1;
    size_t best_len = 0;

    for (int i = 0; table[i]; i++) {
        c->pos = start;
        if (!ms_cursor_accept_ci(c, table[i]))
            continue;
        int ch = ms_cursor_peek(c);
        if (ch >= 0 && ch != ' ' && ch != '(' && ch != ')' && ch != '[' && ch != '<')
            continue;
        if (c->pos - start > best_len) {
            best = i;
            best_len = c->pos - start;
        }
    }
    c->pos = start + best_len;
    return best;
}

enum ms_status ms_icp_number(struct ms_icp *p, uint64_t min, uint64_t max, const char *rule,
                             uint64_t *out)
{
    struct ms_cursor *c = &p->c;
    size_t start = c->pos;

    /* digit-nz *DIGIT where zero is excluded: no leading zeros there. */
    if (min > 0 && ms_cursor_peek(c) == '0')
        return ms_fail(c, rule, "expected a non-zero number (digit-nz *DIGIT)");
    MS_GUARD(ms_cursor_number(c, 20, max, out, rule));
    if (*out < min)
        return ms_fail_at(c, start, rule, "number out of range");
    return MS_OK;
}

enum ms_status ms_icp_number_node(struct ms_icp *p, uint32_t parent, uint64_t min, uint64_t max,
                                  const char *rule)
{
    uint64_t v;
    MS_GUARD(ms_icp_number(p, min, max, rule, &v));
    uint32_t n = ms_icp_node(p, parent, MS_IMAP_CN_NUMBER);
    if (!n)
        return MS_FAIL;
    p->v->nodes[n].num = v;
    return MS_OK;
}

enum ms_status ms_icp_kw_node(struct ms_icp *p, uint32_t parent, const char *kw)
{
    uint32_t n = ms_icp_node(p, parent, MS_IMAP_CN_ATOM);
    if (!n)
        return MS_FAIL;
    p->v->nodes[n].kw = kw;
    return MS_OK;
}

enum ms_status ms_icp_atom(struct ms_icp *p, uint32_t parent, const char *rule, const char *reason)
{
    struct ms_slice s;
    MS_GUARD(ms_cursor_token(&p->c, MS_C_IMAP_ATOM, p->lim->imap_line, &s, rule, reason));
    uint32_t n = ms_icp_node(p, parent, MS_IMAP_CN_ATOM);
    if (!n)
        return MS_FAIL;
    p->v->nodes[n].text = s;
    return MS_OK;
}

enum ms_status ms_icp_depth(struct ms_icp *p, unsigned depth)
{
    if (depth > p->lim->imap_depth)
        return ms_fail_limit(&p->c, R_LIMIT, "nesting deeper than the limit (imap_depth)");
    return MS_OK;
}

/* ---- strings ---- */

/*
 * quoted = DQUOTE *QUOTED-CHAR DQUOTE
 * QUOTED-CHAR = <any TEXT-CHAR except quoted-specials> / "\" quoted-specials /
 *               UTF8-2 / UTF8-3 / UTF8-4   (RFC 9051; RFC 3501 has no UTF-8)
 */
static enum ms_status read_quoted(struct ms_icp *p, struct ms_slice *out)
{
    struct ms_cursor *c = &p->c;

    MS_GUARD(ms_cursor_expect(c, '"', R_QUOTED, "expected DQUOTE"));
    size_t start = c->pos;
    for (;;) {
        int ch = ms_cursor_peek(c);
        if (ch < 0)
            return ms_fail(c, R_QUOTED, "quoted string not closed (expected DQUOTE)");
        if (ch == '"')
            break;
        if (ch == '\\') {
            int e = ms_cursor_peek_at(c, 1);
            if (e != '"' && e != '\\') {
                c->pos++;
                return ms_fail(c, R_QUOTED, "backslash may only quote DQUOTE or backslash");
            }
            c->pos += 2;
            continue;
        }
        if (ch == '\r' || ch == '\n')
            return ms_fail(c, R_QUOTED, "CR or LF inside a quoted string (use a literal)");
        if (ch == 0)
            return ms_fail(c, R_QUOTED, "NUL inside a quoted string");
        if (ch >= 0x80) {
            size_t u = ms_utf8_len(c->p + c->pos, c->len - c->pos);
            if (u == 0)
                return ms_fail(c, R_QUOTED, "8-bit byte that is not UTF-8 in a quoted string");
            c->pos += u;
            continue;
        }
        c->pos++;
    }
    out->ptr = (const char *)c->p + start;
    out->len = c->pos - start;
    c->pos++; /* closing DQUOTE */
    return MS_OK;
}

/*
 * literal  = "{" number64 ["+"] "}" CRLF *CHAR8       (RFC 9051, 7888)
 * literal8 = "~{" number64 ["+"] "}" CRLF *OCTET      (RFC 3516; "+" RFC 4466 4:
 *            only when BINARY and LITERAL+ or LITERAL- are both in force, a
 *            capability question for the session, not the grammar)
 * Sizes are held to 32 bits and lim->imap_literal (the framer checked the
 * same); the bytes are sliced, not copied.
 */
static enum ms_status read_literal(struct ms_icp *p, unsigned allowed, uint8_t *form,
                                   struct ms_slice *out)
{
    struct ms_cursor *c = &p->c;
    size_t start = c->pos;
    int eight = ms_cursor_accept(c, '~');
    const char *rule = eight ? R_LITERAL8 : R_LITERAL;
    uint64_t n;

    if (eight && !(allowed & (1u << MS_IMAP_CF_LITERAL8)))
        return ms_fail_at(c, start, R_LITERAL8, "literal8 (~{n}) is only allowed for APPEND data");
    MS_GUARD(ms_cursor_expect(c, '{', rule, "expected {"));
    size_t num_at = c->pos;
    /* Digits above 32 bits are a number64 over the limit, not bad syntax. */
    if (ms_cursor_number(c, 20, UINT32_MAX, &n, rule) != MS_OK)
        return c->pos > num_at ? ms_fail_limit_at(c, num_at, rule, "number out of range") : MS_FAIL;
    if (n > p->lim->imap_literal)
        return ms_fail_limit_at(c, num_at, R_LIMIT, "literal larger than the limit (imap_literal)");
    *form = eight ? MS_IMAP_CF_LITERAL8 : MS_IMAP_CF_LITERAL;
    if (ms_cursor_peek(c) == '+') {
        c->pos++;
        *form = eight ? MS_IMAP_CF_LITERAL8_PLUS : MS_IMAP_CF_LITERAL_PLUS;
    } else if (ms_cursor_peek(c) == '-') {
        /* RFC 7888 LITERAL- restricts {n+} to n <= 4096; "{n-}" is no syntax. */
        return ms_fail(c, "RFC 7888 4 literal",
                       "\"{n-}\" is not IMAP syntax (LITERAL- clients send {n+})");
    }
    MS_GUARD(ms_cursor_expect(c, '}', rule, "expected } after the literal size"));
    if (!ms_cursor_accept(c, '\r') || !ms_cursor_accept(c, '\n'))
        return ms_fail(c, rule, "expected CRLF after the literal size");
    if (n > ms_cursor_left(c))
        return ms_fail(c, rule, "literal data truncated");
    out->ptr = (const char *)c->p + c->pos;
    out->len = (size_t)n;
    if (!eight) {
        /* CHAR8 = %x01-ff */
        const char *nul = memchr(out->ptr, 0, out->len);
        if (nul)
            return ms_fail_at(c, c->pos + (size_t)(nul - out->ptr), rule,
                              "NUL inside a literal (CHAR8 excludes it; use literal8)");
    }
    c->pos += (size_t)n;
    return MS_OK;
}

enum ms_status ms_icp_string(struct ms_icp *p, uint32_t parent, uint8_t type, unsigned allowed,
                             const char *rule, uint32_t *idx)
{
    struct ms_cursor *c = &p->c;
    struct ms_slice s = {NULL, 0};
    uint8_t form = MS_IMAP_CF_ATOM;
    int ch = ms_cursor_peek(c);

    if (ch == '"') {
        MS_GUARD(read_quoted(p, &s));
        form = MS_IMAP_CF_QUOTED;
    } else if (ch == '{' || ch == '~') {
        MS_GUARD(read_literal(p, allowed, &form, &s));
        if (!(allowed & (1u << form)))
            return ms_fail(c, rule, "a literal is not allowed here");
    } else {
        uint32_t cls = (allowed & MS_ICP_LISTCHAR) ? MS_C_IMAP_LIST : MS_C_IMAP_ASTRING;
        size_t start = c->pos;
        ms_cursor_span(c, cls, c->len - c->pos, &s);
        if ((allowed & MS_ICP_NIL) && ms_slice_ieq(s, "NIL")) {
            uint32_t n = ms_icp_node(p, parent, MS_IMAP_CN_NIL);
            if (!n)
                return MS_FAIL;
            if (idx)
                *idx = n;
            return MS_OK;
        }
        if (s.len == 0 || !(allowed & (1u << MS_IMAP_CF_ATOM))) {
            c->pos = start;
            if (ch >= 0x80)
                return ms_fail(c, rule, "8-bit byte outside a quoted string or literal");
            return ms_fail(c, rule,
                           (allowed & (1u << MS_IMAP_CF_ATOM))
                               ? "expected an atom, a quoted string or a literal"
                               : "expected a quoted string or a literal");
        }
        if (ms_cursor_peek(c) >= 0x80)
            return ms_fail(c, rule,
                           p->st->utf8
                               ? "8-bit byte in an atom (UTF-8 goes in a quoted string or literal)"
                               : "8-bit byte in an atom (use a quoted string or literal; "
                                 "UTF-8 needs UTF8=ACCEPT)");
        form = MS_IMAP_CF_ATOM;
    }
    uint32_t n = ms_icp_node(p, parent, type);
    if (!n)
        return MS_FAIL;
    p->v->nodes[n].form = form;
    p->v->nodes[n].text = s;
    if (idx)
        *idx = n;
    return MS_OK;
}

/* ---- mailbox names ---- */

/*
 * Walk a string's content as decoded bytes (quoted: escapes removed),
 * keeping the raw offset of each byte for error positions.
 */
struct strwalk {
    const unsigned char *p;
    size_t n, i;
    int quoted;
};

static int sw_next(struct strwalk *w, size_t *at)
{
    if (w->i >= w->n)
        return -1;
    if (w->quoted && w->p[w->i] == '\\' && w->i + 1 < w->n)
        w->i++;
    *at = w->i;
    return w->p[w->i++];
}

/*
 * RFC 3501 5.1.3: printable US-ASCII except "&" represents itself; "&-" is
 * "&"; other characters are modified BASE64 (RFC 2152 with "," for "/") of
 * UTF-16 between "&" and "-", which must not encode printable US-ASCII, must
 * be whole UTF-16 units with zero padding bits, and pair surrogates.
 * With UTF8=ACCEPT (RFC 6855 3) names are UTF-8 instead.
 */
static enum ms_status check_mailbox(struct ms_icp *p, const struct ms_imap_cnode *nd)
{
    struct ms_cursor *c = &p->c;
    size_t base = (size_t)((const unsigned char *)nd->text.ptr - c->p);
    struct strwalk w = {(const unsigned char *)nd->text.ptr, nd->text.len, 0,
                        nd->form == MS_IMAP_CF_QUOTED};
    size_t at = 0;
    int ch;

    while ((ch = sw_next(&w, &at)) >= 0) {
        if (ch < 0x20 || ch == 0x7F)
            return ms_fail_at(c, base + at, R_MAILBOX, "control character in a mailbox name");
        if (ch >= 0x80) {
            if (!p->st->utf8)
                return ms_fail_at(c, base + at, R_MAILBOX,
                                  "8-bit byte in a mailbox name (modified UTF-7 expected; "
                                  "UTF-8 needs ENABLE UTF8=ACCEPT)");
            size_t u = ms_utf8_len(w.p + at, w.n - at);
            if (u == 0)
                return ms_fail_at(c, base + at, "RFC 6855 3 mailbox",
                                  "mailbox name is not valid UTF-8");
            w.i = at + u; /* UTF-8 bytes never need quoting */
            continue;
        }
        if (ch != '&' || p->st->utf8)
            continue;
        size_t amp = at;
        struct ms_mutf7 m = {0, 0, 0};
        uint32_t count = 0, cp = 0;
        for (;;) {
            ch = sw_next(&w, &at);
            if (ch < 0)
                return ms_fail_at(c, base + amp, R_MAILBOX,
                                  "modified BASE64 after \"&\" not terminated by \"-\"");
            if (ch == '-')
                break;
            count++;
            switch (ms_mutf7_feed(&m, (unsigned char)ch, &cp)) {
            case MS_MUTF7_BAD_DIGIT:
                return ms_fail_at(c, base + at, R_MAILBOX,
                                  "invalid character in modified BASE64 (A-Z a-z 0-9 + ,)");
            case MS_MUTF7_HIGH_ALONE:
                return ms_fail_at(c, base + at, R_MAILBOX,
                                  "UTF-16 high surrogate not followed by a low one");
            case MS_MUTF7_LOW_ALONE:
                return ms_fail_at(c, base + at, R_MAILBOX, "unpaired UTF-16 low surrogate");
            case MS_MUTF7_CHAR:
                if (cp >= 0x20 && cp <= 0x7E)
                    return ms_fail_at(c, base + amp, R_MAILBOX,
                                      "modified BASE64 encodes printable US-ASCII, which must "
                                      "represent itself");
                break;
            default:
                break;
            }
        }
        if (count == 0)
            continue; /* "&-" */
        int e = ms_mutf7_end(&m);
        if (e == MS_MUTF7_PADDING)
            return ms_fail_at(c, base + at, R_MAILBOX,
                              "modified BASE64 does not end on a UTF-16 unit with zero padding");
        if (e == MS_MUTF7_HIGH_ALONE)
            return ms_fail_at(c, base + at, R_MAILBOX, "unpaired UTF-16 high surrogate");
    }
    return MS_OK;
}

enum ms_status ms_icp_mailbox(struct ms_icp *p, uint32_t parent)
{
    uint32_t n;
    MS_GUARD(ms_icp_string(p, parent, MS_IMAP_CN_MAILBOX, MS_ICP_ASTRING, R_MAILBOX, &n));
    return check_mailbox(p, &p->v->nodes[n]);
}

enum ms_status ms_icp_pattern(struct ms_icp *p, uint32_t parent)
{
    uint32_t n;
    MS_GUARD(ms_icp_string(p, parent, MS_IMAP_CN_MAILBOX, MS_ICP_ASTRING | MS_ICP_LISTCHAR,
                           "RFC 9051 9 list-mailbox", &n));
    return check_mailbox(p, &p->v->nodes[n]);
}

/* ---- sequence sets ---- */

/* seq-number = nz-number / "*" */
static enum ms_status seq_number(struct ms_icp *p, int star)
{
    struct ms_cursor *c = &p->c;
    uint64_t v;

    if (ms_cursor_peek(c) == '*') {
        if (!star)
            return ms_fail(c, "RFC 7162 7 known-uids", "\"*\" is not allowed in a known set");
        c->pos++;
        return MS_OK;
    }
    int ch = ms_cursor_peek(c);
    if (ch == '0')
        return ms_fail(c, R_SEQSET,
                       ms_cursor_peek_at(c, 1) >= '0' && ms_cursor_peek_at(c, 1) <= '9'
                           ? "a message number has no leading zero (nz-number)"
                           : "0 is not a message number (nz-number)");
    if (ch < 0 || !ms_is_digit((unsigned char)ch))
        return ms_fail(c, R_SEQSET, "expected a message number or \"*\"");
    return ms_icp_number(p, 1, UINT32_MAX, R_NZ, &v);
}

/*
 * sequence-set = (seq-number / seq-range) ["," sequence-set]
 * sequence-set =/ seq-last-command     ; "$", RFC 5182
 * seq-range    = seq-number ":" seq-number
 * So "$" may stand alone or end a list ("1,$"), never lead it.
 */
static enum ms_status seqset(struct ms_icp *p, uint32_t parent, int known)
{
    struct ms_cursor *c = &p->c;
    size_t start = c->pos;

    for (;;) {
        if (ms_cursor_peek(c) == '$' && known)
            return ms_fail(c, "RFC 7162 7 known-uids", "\"$\" is not allowed in a known set");
        if (ms_cursor_accept(c, '$'))
            break;
        MS_GUARD(seq_number(p, !known));
        if (ms_cursor_accept(c, ':'))
            MS_GUARD(seq_number(p, !known));
        if (!ms_cursor_accept(c, ','))
            break;
    }
    int ch = ms_cursor_peek(c);
    if (ch == ':' || ch == ',' || ch == '$' || ch == '*' ||
        (ch >= 0 && ms_is_digit((unsigned char)ch)))
        return ms_fail(c, R_SEQSET, "expected \",\" or the end of the sequence set");
    uint32_t n = ms_icp_node(p, parent, MS_IMAP_CN_SEQSET);
    if (!n)
        return MS_FAIL;
    p->v->nodes[n].text.ptr = (const char *)c->p + start;
    p->v->nodes[n].text.len = c->pos - start;
    return MS_OK;
}

enum ms_status ms_icp_seqset(struct ms_icp *p, uint32_t parent)
{
    return seqset(p, parent, 0);
}

/* RFC 7162 7: known-uids, known-sequence-set, known-uid-set: "*" is not allowed
 * (they list existing messages; "$" is meaningless there too). */
enum ms_status ms_icp_seqset_known(struct ms_icp *p, uint32_t parent)
{
    return seqset(p, parent, 1);
}

/* ---- dates ---- */

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
                                     "Aug", "Sep", "Oct", "Nov", "Dec", NULL};

/* 2DIGIT no greater than max: "reason" when the digits are missing, "range"
 * when they are there but name an impossible value. */
static enum ms_status two_digits(struct ms_icp *p, unsigned max, const char *rule,
                                 const char *reason, const char *range)
{
    int a = ms_cursor_peek(&p->c), b = ms_cursor_peek_at(&p->c, 1);
    if (a < 0 || b < 0 || !ms_is_digit((unsigned char)a) || !ms_is_digit((unsigned char)b))
        return ms_fail(&p->c, rule, reason);
    if ((unsigned)((a - '0') * 10 + (b - '0')) > max)
        return ms_fail(&p->c, rule, range);
    p->c.pos += 2;
    return MS_OK;
}

static enum ms_status month_year(struct ms_icp *p, const char *rule)
{
    struct ms_cursor *c = &p->c;
    int ok = 0;

    MS_GUARD(ms_cursor_expect(c, '-', rule, "expected \"-\" after the day"));
    for (int i = 0; months[i] && !ok; i++)
        ok = ms_cursor_accept_ci(c, months[i]);
    if (!ok)
        return ms_fail(c, rule, "expected a month name (Jan ... Dec)");
    MS_GUARD(ms_cursor_expect(c, '-', rule, "expected \"-\" after the month"));
    for (int i = 0; i < 4; i++) {
        int d = ms_cursor_peek(c);
        if (d < 0 || !ms_is_digit((unsigned char)d))
            return ms_fail(c, rule, "expected a 4-digit year");
        c->pos++;
    }
    return MS_OK;
}

/* date = date-text / DQUOTE date-text DQUOTE; date-text = date-day "-" date-month "-"
 * date-year; date-day = 1*2DIGIT */
enum ms_status ms_icp_date(struct ms_icp *p, uint32_t parent)
{
    struct ms_cursor *c = &p->c;
    int q = ms_cursor_accept(c, '"');
    size_t start = c->pos;
    uint64_t day;

    if (ms_cursor_peek(c) < 0 || !ms_is_digit((unsigned char)ms_cursor_peek(c)))
        return ms_fail(c, R_DATE, "expected a date (d-Mon-yyyy)");
    MS_GUARD(ms_cursor_number(c, 2, 99, &day, R_DATE));
    if (day == 0 || day > 31)
        return ms_fail_at(c, start, R_DATE, "day of the month out of range (1-31)");
    MS_GUARD(month_year(p, R_DATE));
    size_t end = c->pos;
    if (q)
        MS_GUARD(ms_cursor_expect(c, '"', R_DATE, "expected DQUOTE after the date"));
    uint32_t n = ms_icp_node(p, parent, MS_IMAP_CN_DATE);
    if (!n)
        return MS_FAIL;
    p->v->nodes[n].form = q ? MS_IMAP_CF_QUOTED : MS_IMAP_CF_ATOM;
    p->v->nodes[n].text.ptr = (const char *)c->p + start;
    p->v->nodes[n].text.len = end - start;
    return MS_OK;
}

/* date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
 * date-day-fixed = (SP DIGIT) / 2DIGIT; time = 2DIGIT ":" 2DIGIT ":" 2DIGIT;
 * zone = ("+" / "-") 4DIGIT */
enum ms_status ms_icp_datetime(struct ms_icp *p, uint32_t parent)
{
    struct ms_cursor *c = &p->c;

    MS_GUARD(ms_cursor_expect(c, '"', R_DATETIME, "expected DQUOTE before the date-time"));
    size_t start = c->pos;
    if (ms_cursor_accept(c, ' ')) {
        int d = ms_cursor_peek(c);
        if (d < '1' || d > '9')
            return ms_fail(c, R_DATETIME, "expected a day digit");
        c->pos++;
    } else {
        MS_GUARD(two_digits(p, 31, R_DATETIME, "expected a 2-digit day (date-day-fixed)",
                            "day of the month out of range (1-31)"));
        if (c->p[c->pos - 2] == '0' && c->p[c->pos - 1] == '0')
            return ms_fail_at(c, c->pos - 2, R_DATETIME, "day of the month out of range (1-31)");
    }
    MS_GUARD(month_year(p, R_DATETIME));
    MS_GUARD(ms_cursor_expect(c, ' ', R_DATETIME, "expected SP before the time"));
    MS_GUARD(two_digits(p, 23, R_DATETIME, "expected 2-digit hours", "hours out of range (00-23)"));
    MS_GUARD(ms_cursor_expect(c, ':', R_DATETIME, "expected \":\""));
    MS_GUARD(
        two_digits(p, 59, R_DATETIME, "expected 2-digit minutes", "minutes out of range (00-59)"));
    MS_GUARD(ms_cursor_expect(c, ':', R_DATETIME, "expected \":\""));
    MS_GUARD(
        two_digits(p, 60, R_DATETIME, "expected 2-digit seconds", "seconds out of range (00-60)"));
    MS_GUARD(ms_cursor_expect(c, ' ', R_DATETIME, "expected SP before the zone"));
    if (!ms_cursor_accept(c, '+') && !ms_cursor_accept(c, '-'))
        return ms_fail(c, R_DATETIME, "expected \"+\" or \"-\" starting the zone");
    MS_GUARD(two_digits(p, 99, R_DATETIME, "expected a 4-digit zone", "expected a 4-digit zone"));
    MS_GUARD(two_digits(p, 59, R_DATETIME, "expected a 4-digit zone",
                        "zone minutes out of range (00-59)"));
    size_t end = c->pos;
    MS_GUARD(ms_cursor_expect(c, '"', R_DATETIME, "expected DQUOTE after the date-time"));
    uint32_t n = ms_icp_node(p, parent, MS_IMAP_CN_DATETIME);
    if (!n)
        return MS_FAIL;
    p->v->nodes[n].text.ptr = (const char *)c->p + start;
    p->v->nodes[n].text.len = end - start;
    return MS_OK;
}

/* ---- flags ---- */

/* flag = "\Answered" / ... / flag-keyword / flag-extension; flag-keyword = atom;
 * flag-extension = "\" atom */
static enum ms_status flag_token(struct ms_icp *p, uint32_t parent, int client_flag)
{
    struct ms_cursor *c = &p->c;
    size_t start = c->pos;
    struct ms_slice s;

    int sys = ms_cursor_accept(c, '\\');
    if (ms_cursor_span(c, MS_C_IMAP_ATOM, c->len - c->pos, &s) == 0)
        return ms_fail(c, R_FLAG, "expected a flag (atom or \"\\\" atom)");
    /* RFC 9051 9 flag: 'Does not include "\Recent"' (the server sets it) */
    if (client_flag && sys && ms_slice_ieq(s, "Recent"))
        return ms_fail_at(c, start, R_FLAG,
                          "\\Recent is set by the server, not a flag a client gives");
    uint32_t n = ms_icp_node(p, parent, MS_IMAP_CN_FLAG);
    if (!n)
        return MS_FAIL;
    p->v->nodes[n].text.ptr = (const char *)c->p + start;
    p->v->nodes[n].text.len = c->pos - start;
    return MS_OK;
}

enum ms_status ms_icp_flag(struct ms_icp *p, uint32_t parent)
{
    return flag_token(p, parent, 1);
}

enum ms_status ms_icp_flag_any(struct ms_icp *p, uint32_t parent)
{
    return flag_token(p, parent, 0);
}

/* flag-list = "(" [flag *(SP flag)] ")" */
enum ms_status ms_icp_flag_list(struct ms_icp *p, uint32_t parent)
{
    struct ms_cursor *c = &p->c;

    MS_GUARD(ms_cursor_expect(c, '(', "RFC 9051 9 flag-list", "expected \"(\""));
    uint32_t l = ms_icp_node(p, parent, MS_IMAP_CN_LIST);
    if (!l)
        return MS_FAIL;
    if (ms_cursor_accept(c, ')'))
        return MS_OK;
    for (;;) {
        MS_GUARD(ms_icp_flag(p, l));
        if (ms_cursor_accept(c, ')'))
            return MS_OK;
        MS_GUARD(ms_cursor_expect(c, ' ', "RFC 9051 9 flag-list", "expected SP or \")\""));
    }
}
