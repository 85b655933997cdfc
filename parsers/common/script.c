/*
 * The session-script parser and pattern matcher (docs/session-format.md).
 *
 * A script is checked completely before it runs: every line is classified,
 * every escape decoded, every directive and its argument validated, every
 * block closed, and every variable a C: line sends is known to be set
 * (builtin or captured by an earlier S: line). Errors carry line and column.
 */
#include <stdlib.h>
#include <string.h>

#include "mailspec/script.h"
#include "mailspec/stream.h"

const char *const ms_script_builtin_vars[MS_VAR_BUILTINS] = {
    "user",      "password",      "host",        "sasl_plain", "sasl_plain_authz",
    "sasl_user", "sasl_password", "apop_digest", "run",        "rcpt",
    "from"};

struct parser {
    struct ms_script *s;
    struct ms_script_error *err;
    size_t steps_cap, parts_cap, bytes_cap;
    uint8_t known[MS_SCRIPT_MAX_VARS]; /* set before this point of the script */
    int block;                         /* 0, MS_STEP_SEGMENT or MS_STEP_UNORDERED */
    size_t block_line;
    uint8_t conn;        /* the connection of the next steps (index into s->conns) */
    uint32_t tls_done;   /* connections (bits) that already had their @tls */
    uint32_t tls_closed; /* connections (bits) after their @tls-close */
    uint32_t closed;     /* connections (bits) that @close closed */
    size_t closed_line[MS_SCRIPT_MAX_CONNS];
    size_t nocrlf_line;      /* an @nocrlf waits for its C:/S: line */
    size_t unsupported_line; /* an @unsupported waits for its S: line */
    uint8_t phase;           /* enum ms_phase of the next steps */
    int alt;                 /* inside @either ... @end */
    size_t alt_line;
    uint32_t alt_tls_closed;      /* tls_closed when @either opened */
    uint32_t alt_tls, alt_closed; /* tls_done, closed when @either opened (each branch
                                   * starts from them) */
    uint8_t alt_conn;             /* the connection @either opened on */
    int have_id, have_title, have_rfc, have_level, have_transport, have_protocol, have_quote;
    int have_tlsfail, have_finding, have_serial;
    size_t id_off, title_off, rfc_off, protocol_off, quote_off, finding_off; /* in bytes */
};

static struct ms_script *fail_at(struct parser *p, size_t line, size_t col, const char *reason)
{
    p->err->line = line;
    p->err->col = col;
    p->err->reason = reason;
    return NULL;
}

static int set_err(struct parser *p, size_t line, size_t col, const char *reason)
{
    p->err->line = line;
    p->err->col = col;
    p->err->reason = reason;
    return -1;
}

static int lit_eq(const char *p, size_t n, const char *lit, size_t litlen)
{
    return n == litlen && memcmp(p, lit, n) == 0;
}
#define LIT_EQ(p, n, lit) lit_eq((p), (n), (lit), sizeof(lit) - 1)

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

static int name_char(unsigned char ch)
{
    return ms_is(ch, MS_C_ALPHA | MS_C_DIGIT) || ch == '_' || ch == '-' || ch == '.';
}

/*
 * Double a growable array of elem-sized items (first size: init items).
 * Returns the new array, or NULL with an error set (arr is then unchanged).
 */
static void *grow_array(struct parser *p, void *arr, size_t *cap, size_t init, size_t elem,
                        size_t line, size_t col)
{
    size_t ncap = *cap ? *cap * 2 : init;
    void *n = realloc(arr, ncap * elem);
    if (!n) {
        set_err(p, line, col, "out of memory");
        return NULL;
    }
    *cap = ncap;
    return n;
}

static struct ms_step *new_step(struct parser *p, uint8_t type, size_t line, size_t col)
{
    if (p->s->nsteps >= MS_SCRIPT_MAX_STEPS) {
        set_err(p, line, col, "too many steps in one script");
        return NULL;
    }
    if (p->s->nsteps == p->steps_cap) {
        struct ms_step *ns = grow_array(p, p->s->steps, &p->steps_cap, 64, sizeof(*ns), line, col);
        if (!ns)
            return NULL;
        p->s->steps = ns;
    }
    struct ms_step *st = &p->s->steps[p->s->nsteps++];
    memset(st, 0, sizeof(*st));
    st->type = type;
    st->line = line;
    st->col = col;
    st->phase = p->phase;
    st->conn = p->conn;
    st->part0 = p->s->nparts;
    return st;
}

static struct ms_part *new_part(struct parser *p, struct ms_step *st, uint8_t kind, size_t line,
                                size_t col)
{
    if (st->nparts >= MS_SCRIPT_MAX_PARTS) {
        set_err(p, line, col, "too many literal and ${...} pieces in one line");
        return NULL;
    }
    if (p->s->nparts == p->parts_cap) {
        struct ms_part *np = grow_array(p, p->s->parts, &p->parts_cap, 128, sizeof(*np), line, col);
        if (!np)
            return NULL;
        p->s->parts = np;
    }
    struct ms_part *pt = &p->s->parts[p->s->nparts++];
    memset(pt, 0, sizeof(*pt));
    pt->kind = kind;
    pt->off = p->s->nbytes;
    st->nparts++;
    return pt;
}

/* bytes has room for every decoded byte plus one NUL per line (sized up front). */
static void put_byte(struct parser *p, char ch)
{
    if (p->s->nbytes < p->bytes_cap)
        p->s->bytes[p->s->nbytes++] = ch;
}

/* Copy raw[0..n) as a NUL-terminated metadata string; returns its offset. */
static size_t put_string(struct parser *p, const char *raw, size_t n)
{
    size_t off = p->s->nbytes;
    for (size_t i = 0; i < n; i++)
        put_byte(p, raw[i]);
    put_byte(p, '\0');
    return off;
}

static int find_var(struct parser *p, const char *name, size_t n, size_t line, size_t col)
{
    struct ms_script *s = p->s;

    for (size_t i = 0; i < s->nvars; i++)
        if (lit_eq(name, n, s->vars[i], strnlen(s->vars[i], MS_SCRIPT_MAX_NAME)))
            return (int)i;
    if (s->nvars >= MS_SCRIPT_MAX_VARS)
        return set_err(p, line, col, "too many distinct variables");
    memcpy(s->vars[s->nvars], name, n);
    s->vars[s->nvars][n] = '\0';
    return (int)s->nvars++;
}

/*
 * Parse the pattern raw[0..n) (col = column of raw[0]) into parts of st.
 * type: SEND (no wildcards, variables must be known), EXPECT (first use of an
 * unknown variable captures it), ALLOW/FORBID (no captures).
 */
static int parse_pattern(struct parser *p, struct ms_step *st, const char *raw, size_t n,
                         size_t line, size_t col)
{
    struct ms_part *lit = NULL;
    uint8_t captured[MS_SCRIPT_MAX_VARS] = {0};

    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)raw[i];
        if (ch == '$' && i + 1 < n && raw[i + 1] == '{') {
            const char *close = memchr(raw + i + 2, '}', n - i - 2);
            if (!close)
                return set_err(p, line, col + i, "\"${\" without a closing \"}\"");
            const char *name = raw + i + 2;
            size_t nl = (size_t)(close - name);
            lit = NULL;
            if (nl == 1 && name[0] == '*') {
                if (st->type == MS_STEP_SEND)
                    return set_err(p, line, col + i,
                                   "${*} matches server text; a C: line "
                                   "cannot send it");
                if (!new_part(p, st, MS_PART_ANY, line, col + i))
                    return -1;
                i += 3;
                continue;
            }
            uint8_t kind = MS_PART_VAR;
            size_t nameat = i + 2;
            if (nl > 5 && memcmp(name, "mbox:", 5) == 0) {
                /* ${mbox:name}: an IMAP mailbox in any encoding */
                kind = MS_PART_MBOX;
                name += 5;
                nl -= 5;
                nameat += 5;
            }
            if (nl == 0 || nl > MS_SCRIPT_MAX_NAME)
                return set_err(p, line, col + nameat, "variable name must be 1 to 32 characters");
            for (size_t k = 0; k < nl; k++)
                if (!name_char((unsigned char)name[k]))
                    return set_err(p, line, col + nameat + k,
                                   name[k] == ':' ? "unknown ${type:name}: the type is mbox"
                                                  : "variable names use letters, digits, '_', "
                                                    "'-' and '.'");
            int v = find_var(p, name, nl, line, col + i);
            if (v < 0)
                return -1;
            struct ms_part *pt = new_part(p, st, kind, line, col + i);
            if (!pt)
                return -1;
            pt->var = (uint16_t)v;
            if (!p->known[v]) {
                if (st->type == MS_STEP_SEND && LIT_EQ(name, nl, "sasl_redacted"))
                    return set_err(p, line, col + i,
                                   "${sasl_redacted} cannot be replayed: mailspec record wrote "
                                   "it for a SASL mechanism other than PLAIN/LOGIN (or a blob "
                                   "that did not decode), and nothing derives it from "
                                   "--user/--password; rewrite this exchange by hand");
                if (st->type != MS_STEP_EXPECT)
                    return set_err(p, line, col + i,
                                   st->type == MS_STEP_SEND
                                       ? "variable is not set here: not a builtin (user, "
                                         "password, host, sasl_*, apop_digest, run, rcpt, "
                                         "from) and not captured by an earlier S: line"
                                       : "@allow, @forbid and @unsupported cannot capture a "
                                         "variable");
                if (captured[v])
                    return set_err(p, line, col + i,
                                   "variable captured twice in one line (use two names)");
                captured[v] = 1;
                pt->capture = 1;
            }
            i = (size_t)(close - raw);
            continue;
        }
        char out = (char)ch;
        if (ch == '\\') {
            const char *why = NULL;
            size_t used = ms_unescape_one(raw + i, n - i, &out, &why);
            if (used == 0)
                return set_err(p, line, col + i, why);
            i += used - 1;
        }
        if (!lit) {
            lit = new_part(p, st, MS_PART_LIT, line, col + i);
            if (!lit)
                return -1;
        }
        put_byte(p, out);
        lit->len++;
    }
    for (size_t v = 0; v < MS_SCRIPT_MAX_VARS; v++)
        if (captured[v])
            p->known[v] = 1;
    return 0;
}

static int meta_once(struct parser *p, int *flag, size_t line)
{
    if (*flag)
        return set_err(p, line, 1, "metadata directive given twice");
    *flag = 1;
    return 0;
}

static int parse_transports(struct parser *p, const char *a, size_t n, size_t line, size_t col)
{
    size_t i = 0;

    while (i < n) {
        while (i < n && (is_space(a[i]) || a[i] == ','))
            i++;
        size_t w = i;
        while (i < n && !is_space(a[i]) && a[i] != ',')
            i++;
        if (w == i)
            break;
        if (LIT_EQ(a + w, i - w, "none") || LIT_EQ(a + w, i - w, "plain"))
            p->s->transports |= MS_TRANSPORT_NONE;
        else if (LIT_EQ(a + w, i - w, "starttls"))
            p->s->transports |= MS_TRANSPORT_STARTTLS;
        else if (LIT_EQ(a + w, i - w, "implicit"))
            p->s->transports |= MS_TRANSPORT_IMPLICIT;
        else
            return set_err(p, line, col + w, "@transport takes none, starttls and/or implicit");
    }
    if (!p->s->transports)
        return set_err(p, line, col, "@transport needs at least one of none, starttls, implicit");
    return 0;
}

/*
 * The steps after @end are common to every branch: each branch ends on the
 * connection it started on, so they run on the same one whichever was taken.
 */
static const char branch_conn_err[] =
    "each @either branch must end on the connection it started on (add @connection NAME)";

/* @connection NAME: the index of connection NAME, a new one on its first mention. */
static int conn_name(struct parser *p, const char *a, size_t an, size_t line, size_t acol)
{
    struct ms_script *s = p->s;

    if (an > MS_SCRIPT_MAX_NAME)
        return set_err(p, line, acol, "a connection name is 1 to 32 characters");
    for (size_t i = 0; i < an; i++)
        if (!name_char((unsigned char)a[i]))
            return set_err(p, line, acol + i,
                           "a connection name is one word of letters, digits, '_', '-' and '.'");
    for (size_t i = 0; i < s->nconns; i++)
        if (lit_eq(a, an, s->conns[i], strnlen(s->conns[i], MS_SCRIPT_MAX_NAME)))
            return (int)i;
    if (s->nconns >= MS_SCRIPT_MAX_CONNS)
        return set_err(p, line, acol, "at most 8 connections in one script");
    memcpy(s->conns[s->nconns], a, an);
    s->conns[s->nconns][an] = '\0';
    return (int)s->nconns++;
}

int ms_step_uses_conn(unsigned type)
{
    switch (type) {
    case MS_STEP_SEND:
    case MS_STEP_EXPECT:
    case MS_STEP_TLS:
    case MS_STEP_TLS_CLOSE:
    case MS_STEP_SEGMENT:
    case MS_STEP_UNORDERED:
    case MS_STEP_CLOSE:
    case MS_STEP_REQUIRES:
    case MS_STEP_LOGIN:
        return 1;
    default:
        return 0;
    }
}

/*
 * A step that needs the current connection open, after @close closed it
 * (and no bare @connection opened a new one): the script cannot run.
 */
static int closed_conn(struct parser *p, uint8_t type, size_t line)
{
    if (!(p->closed & (1u << p->conn)) || !ms_step_uses_conn(type))
        return 0;
    return set_err(p, line, 1,
                   p->s->named ? "this connection was closed by @close; a bare @connection opens "
                                 "a new one (or switch with @connection NAME)"
                               : "the connection was closed by @close; @connection opens a new "
                                 "one");
}

/* One directive: name[0..nn) at column 2, argument a[0..an) at column acol. */
static int directive(struct parser *p, const char *name, size_t nn, const char *a, size_t an,
                     size_t line, size_t acol)
{
    struct ms_script *s = p->s;
    struct ms_step *st;
    int no_arg = 0, need_arg = 0;
    uint8_t flow = 0;

    if (p->nocrlf_line)
        return set_err(p, p->nocrlf_line, 1, "@nocrlf must be followed by a C: or S: line");
    if (p->unsupported_line && !LIT_EQ(name, nn, "unsupported"))
        return set_err(p, p->unsupported_line, 1, "@unsupported must be followed by an S: line");
    if (LIT_EQ(name, nn, "nocrlf")) {
        /* a flag on the next line, not a step of its own (allowed in @segment) */
        if (an)
            return set_err(p, line, acol, "this directive takes no argument");
        if (p->block == MS_STEP_UNORDERED)
            return set_err(p, line, 1,
                           "@nocrlf cannot be used in @unordered (a line without CRLF "
                           "has no place in any order)");
        p->nocrlf_line = line;
        return 0;
    }
    if (LIT_EQ(name, nn, "tls"))
        flow = MS_STEP_TLS, no_arg = 1;
    else if (LIT_EQ(name, nn, "tls-close"))
        flow = MS_STEP_TLS_CLOSE, no_arg = 1;
    else if (LIT_EQ(name, nn, "segment"))
        flow = MS_STEP_SEGMENT, no_arg = 1;
    else if (LIT_EQ(name, nn, "unordered"))
        flow = MS_STEP_UNORDERED, no_arg = 1;
    else if (LIT_EQ(name, nn, "end"))
        flow = MS_STEP_END, no_arg = 1;
    else if (LIT_EQ(name, nn, "close"))
        flow = MS_STEP_CLOSE, no_arg = 1;
    else if (LIT_EQ(name, nn, "connection"))
        flow = an ? MS_STEP_SWITCH : MS_STEP_CONNECTION;
    else if (LIT_EQ(name, nn, "sleep"))
        flow = MS_STEP_SLEEP, need_arg = 1;
    else if (LIT_EQ(name, nn, "requires"))
        flow = MS_STEP_REQUIRES, need_arg = 1;
    else if (LIT_EQ(name, nn, "allow"))
        flow = MS_STEP_ALLOW, need_arg = 1;
    else if (LIT_EQ(name, nn, "forbid"))
        flow = MS_STEP_FORBID, need_arg = 1;
    else if (LIT_EQ(name, nn, "phase"))
        flow = MS_STEP_PHASE, need_arg = 1;
    else if (LIT_EQ(name, nn, "either"))
        flow = MS_STEP_EITHER, no_arg = 1;
    else if (LIT_EQ(name, nn, "or"))
        flow = MS_STEP_OR, no_arg = 1;
    else if (LIT_EQ(name, nn, "unsupported"))
        flow = MS_STEP_UNSUPPORTED, need_arg = 1;
    else if (LIT_EQ(name, nn, "login"))
        flow = MS_STEP_LOGIN, no_arg = 1;
    else if (LIT_EQ(name, nn, "serial"))
        no_arg = 1;
    else if (LIT_EQ(name, nn, "test") || LIT_EQ(name, nn, "title") || LIT_EQ(name, nn, "rfc") ||
             LIT_EQ(name, nn, "protocol") || LIT_EQ(name, nn, "level") ||
             LIT_EQ(name, nn, "transport") || LIT_EQ(name, nn, "quirk") ||
             LIT_EQ(name, nn, "quote") || LIT_EQ(name, nn, "tls-failure") ||
             LIT_EQ(name, nn, "finding"))
        need_arg = 1;
    else
        return set_err(p, line, 2, "unknown directive");

    if (no_arg && an)
        return set_err(p, line, acol, "this directive takes no argument");
    if (need_arg && !an)
        return set_err(p, line, 2 + nn, "this directive needs an argument");

    if (flow) {
        if (p->block && flow != MS_STEP_END)
            return set_err(p, line, 1,
                           "only C: lines (in @segment) or S: lines (in "
                           "@unordered) may appear before @end");
        if (closed_conn(p, flow, line) != 0)
            return -1;
        int target = flow == MS_STEP_SWITCH ? conn_name(p, a, an, line, acol) : 0;
        if (target < 0)
            return -1;
        switch (flow) {
        case MS_STEP_SWITCH:
            p->conn = (uint8_t)target;
            s->named = 1;
            break;
        case MS_STEP_END:
            if (p->block) {
                p->block = 0;
            } else if (p->alt) {
                if (p->conn != p->alt_conn)
                    return set_err(p, line, 1, branch_conn_err);
                p->alt = 0;
            } else {
                return set_err(p, line, 1, "@end without @segment, @unordered or @either");
            }
            break;
        case MS_STEP_EITHER:
            if (p->alt)
                return set_err(p, line, 1, "@either inside @either");
            if (s->nalts)
                return set_err(p, line, 1, "one @either block per script");
            p->alt = 1;
            p->alt_line = line;
            p->alt_tls = p->tls_done;
            p->alt_tls_closed = p->tls_closed;
            p->alt_closed = p->closed;
            p->alt_conn = p->conn;
            s->nalts = 1;
            break;
        case MS_STEP_OR:
            if (!p->alt)
                return set_err(p, line, 1, "@or outside @either");
            if (p->conn != p->alt_conn)
                return set_err(p, line, 1, branch_conn_err);
            if (s->nalts >= 8)
                return set_err(p, line, 1, "at most 8 branches in @either");
            s->nalts++;
            p->tls_done = p->alt_tls;
            p->tls_closed = p->alt_tls_closed;
            p->closed = p->alt_closed;
            break;
        case MS_STEP_PHASE:
            if (LIT_EQ(a, an, "setup"))
                p->phase = MS_PHASE_SETUP;
            else if (LIT_EQ(a, an, "check"))
                p->phase = MS_PHASE_CHECK;
            else if (LIT_EQ(a, an, "cleanup"))
                p->phase = MS_PHASE_CLEANUP;
            else
                return set_err(p, line, acol, "@phase takes setup, check or cleanup");
            s->has_phases = 1;
            break;
        case MS_STEP_UNSUPPORTED:
            p->unsupported_line = line;
            break;
        case MS_STEP_SEGMENT:
        case MS_STEP_UNORDERED:
            p->block = flow;
            p->block_line = line;
            break;
        case MS_STEP_TLS:
            if (p->tls_done & (1u << p->conn))
                return set_err(p, line, 1, "@tls twice in one connection");
            p->tls_done |= 1u << p->conn;
            s->has_tls = 1;
            break;
        case MS_STEP_TLS_CLOSE:
            /* without an @tls before it the connection is in TLS only over
             * --tls implicit or an automatic STARTTLS: the runner checks */
            if (p->tls_closed & (1u << p->conn))
                return set_err(p, line, 1,
                               "@tls-close twice in one connection (it is in cleartext after "
                               "the first)");
            if (s->has_tls && !(p->tls_done & (1u << p->conn)))
                return set_err(p, line, 1,
                               "@tls-close before this connection's @tls (it is not in TLS)");
            p->tls_closed |= 1u << p->conn;
            break;
        case MS_STEP_CONNECTION:
            p->tls_done &= ~(1u << p->conn);
            p->tls_closed &= ~(1u << p->conn);
            p->closed &= ~(1u << p->conn);
            break;
        case MS_STEP_CLOSE:
            p->closed |= 1u << p->conn;
            p->closed_line[p->conn] = line;
            break;
        default:
            break;
        }
        st = new_step(p, flow, line, 1);
        if (!st)
            return -1;
        if (flow == MS_STEP_SLEEP) {
            uint64_t ms;
            if (ms_number_parse(a, an, MS_SCRIPT_MAX_SLEEP_MS, &ms) != MS_OK)
                return set_err(p, line, acol, "@sleep takes milliseconds, 0 to 60000");
            st->arg = ms;
        } else if (flow == MS_STEP_REQUIRES) {
            for (size_t i = 0; i < an; i++)
                if (is_space(a[i]))
                    return set_err(p, line, acol + i, "@requires takes one capability word");
            struct ms_part *pt = new_part(p, st, MS_PART_LIT, line, acol);
            if (!pt)
                return -1;
            for (size_t i = 0; i < an; i++)
                put_byte(p, a[i]);
            pt->len = an;
        } else if (flow == MS_STEP_PHASE) {
            st->arg = p->phase;
        } else if (flow == MS_STEP_SWITCH) {
            st->arg = (uint64_t)target;
        } else if (flow == MS_STEP_ALLOW || flow == MS_STEP_FORBID || flow == MS_STEP_UNSUPPORTED) {
            return parse_pattern(p, st, a, an, line, acol);
        }
        return 0;
    }

    if (LIT_EQ(name, nn, "serial")) {
        /* the test changes or reads state of the whole account (\\Recent of
         * INBOX, a maildrop lock): certify runs it when no other test runs */
        if (meta_once(p, &p->have_serial, line))
            return -1;
        s->serial = 1;
    } else if (LIT_EQ(name, nn, "test")) {
        if (meta_once(p, &p->have_id, line))
            return -1;
        for (size_t i = 0; i < an; i++)
            if (!ms_is((unsigned char)a[i], MS_C_VCHAR))
                return set_err(p, line, acol + i, "a test id is one word of visible ASCII");
        p->id_off = put_string(p, a, an);
    } else if (LIT_EQ(name, nn, "title")) {
        if (meta_once(p, &p->have_title, line))
            return -1;
        p->title_off = put_string(p, a, an);
    } else if (LIT_EQ(name, nn, "rfc")) {
        if (meta_once(p, &p->have_rfc, line))
            return -1;
        p->rfc_off = put_string(p, a, an);
    } else if (LIT_EQ(name, nn, "protocol")) {
        if (meta_once(p, &p->have_protocol, line))
            return -1;
        if (!LIT_EQ(a, an, "smtp") && !LIT_EQ(a, an, "pop3") && !LIT_EQ(a, an, "imap"))
            return set_err(p, line, acol, "@protocol takes smtp, pop3 or imap");
        p->protocol_off = put_string(p, a, an);
    } else if (LIT_EQ(name, nn, "quote")) {
        if (meta_once(p, &p->have_quote, line))
            return -1;
        p->quote_off = put_string(p, a, an);
    } else if (LIT_EQ(name, nn, "finding")) {
        if (meta_once(p, &p->have_finding, line))
            return -1;
        p->finding_off = put_string(p, a, an);
    } else if (LIT_EQ(name, nn, "tls-failure")) {
        if (meta_once(p, &p->have_tlsfail, line))
            return -1;
        if (!LIT_EQ(a, an, "pass"))
            return set_err(p, line, acol, "@tls-failure takes pass");
        s->tls_failure_passes = 1;
    } else if (LIT_EQ(name, nn, "level")) {
        if (meta_once(p, &p->have_level, line))
            return -1;
        if (LIT_EQ(a, an, "MUST"))
            s->level = MS_LEVEL_MUST;
        else if (LIT_EQ(a, an, "SHOULD"))
            s->level = MS_LEVEL_SHOULD;
        else if (LIT_EQ(a, an, "MAY"))
            s->level = MS_LEVEL_MAY;
        else if (LIT_EQ(a, an, "info"))
            s->level = MS_LEVEL_INFO;
        else
            return set_err(p, line, acol, "@level takes MUST, SHOULD, MAY or info");
    } else if (LIT_EQ(name, nn, "transport")) {
        if (meta_once(p, &p->have_transport, line))
            return -1;
        return parse_transports(p, a, an, line, acol);
    } else if (LIT_EQ(name, nn, "quirk")) {
        char flag[40];
        if (an >= sizeof(flag))
            return set_err(p, line, acol, "unknown lenient flag (see mailspec parse --help)");
        memcpy(flag, a, an);
        flag[an] = '\0';
        uint32_t f = ms_lenient_flag(flag);
        if (!f)
            return set_err(p, line, acol, "unknown lenient flag (see mailspec parse --help)");
        s->lenient |= f;
    } else {
        return set_err(p, line, 2, "unknown directive");
    }
    return 0;
}

static int parse_line(struct parser *p, const char *ln, size_t n, size_t line)
{
    if (ln[0] == '@') {
        size_t nn = 0;
        while (1 + nn < n &&
               (ms_is((unsigned char)ln[1 + nn], MS_C_ALPHA) || (nn > 0 && ln[1 + nn] == '-')))
            nn++;
        if (nn == 0)
            return set_err(p, line, 2, "expected a directive name after '@'");
        size_t i = 1 + nn;
        if (i < n && !is_space(ln[i]))
            return set_err(p, line, i + 1, "unknown directive");
        while (i < n && is_space(ln[i]))
            i++;
        size_t end = n;
        while (end > i && is_space(ln[end - 1]))
            end--;
        return directive(p, ln + 1, nn, ln + i, end - i, line, i + 1);
    }
    if (n < 2 || (ln[0] != 'C' && ln[0] != 'S') || ln[1] != ':')
        return set_err(p, line, 1,
                       "expected \"C: \", \"S: \", \"#\" or \"@\" at the start of "
                       "the line");
    size_t skip = 2;
    if (n > 2) {
        if (ln[2] != ' ')
            return set_err(p, line, 3, "expected one space after the colon");
        skip = 3;
    }
    uint8_t type = ln[0] == 'C' ? MS_STEP_SEND : MS_STEP_EXPECT;
    if (p->unsupported_line && type != MS_STEP_EXPECT)
        return set_err(p, p->unsupported_line, 1, "@unsupported must be followed by an S: line");
    p->unsupported_line = 0;
    if (p->block == MS_STEP_SEGMENT && type != MS_STEP_SEND)
        return set_err(p, line, 1, "only C: lines may appear inside @segment");
    if (p->block == MS_STEP_UNORDERED && type != MS_STEP_EXPECT)
        return set_err(p, line, 1, "only S: lines may appear inside @unordered");
    if (closed_conn(p, type, line) != 0)
        return -1;
    struct ms_step *st = new_step(p, type, line, 1);
    if (!st)
        return -1;
    st->nocrlf = p->nocrlf_line != 0;
    p->nocrlf_line = 0;
    return parse_pattern(p, st, ln + skip, n - skip, line, skip + 1);
}

struct ms_script *ms_script_parse(const char *text, size_t len, struct ms_script_error *err)
{
    struct parser p;
    size_t lines = 1;

    memset(&p, 0, sizeof(p));
    p.err = err;
    err->line = 0;
    err->col = 0;
    err->reason = NULL;
    if (len > MS_SCRIPT_MAX_BYTES)
        return fail_at(&p, 1, 1, "script larger than 4 MiB");
    for (const char *q = text; q && (size_t)(q - text) < len;) {
        q = memchr(q, '\n', len - (size_t)(q - text));
        if (q) {
            lines++;
            q++;
        }
    }
    p.s = calloc(1, sizeof(*p.s));
    if (!p.s)
        return fail_at(&p, 0, 0, "out of memory");
    p.bytes_cap = len + lines + 8;
    p.s->bytes = malloc(p.bytes_cap);
    if (!p.s->bytes) {
        ms_script_free(p.s);
        return fail_at(&p, 0, 0, "out of memory");
    }
    /* Offset 0 is the empty string for absent metadata. */
    put_byte(&p, '\0');
    for (size_t i = 0; i < MS_VAR_BUILTINS; i++) {
        size_t n = 0;
        while (ms_script_builtin_vars[i][n])
            n++;
        memcpy(p.s->vars[i], ms_script_builtin_vars[i], n + 1);
        p.known[i] = 1;
    }
    p.s->nvars = MS_VAR_BUILTINS;
    memcpy(p.s->conns[0], "main", 5);
    p.s->nconns = 1;

    size_t pos = 0, line = 0;
    int rc = 0;
    while (pos < len && rc == 0) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t n = end - pos;
        const char *ln = text + pos;
        line++;
        pos = nl ? end + 1 : len;
        if (n > 0 && ln[n - 1] == '\r')
            n--; /* CRLF files read the same (as ms_transcript_next) */
        if (n == 0 || ln[0] == '#')
            continue;
        rc = parse_line(&p, ln, n, line);
    }
    if (rc == 0 && p.nocrlf_line)
        rc = set_err(&p, p.nocrlf_line, 1, "@nocrlf must be followed by a C: or S: line");
    if (rc == 0 && p.unsupported_line)
        rc = set_err(&p, p.unsupported_line, 1, "@unsupported must be followed by an S: line");
    if (rc == 0 && p.block)
        rc = set_err(&p, p.block_line, 1, "block opened here is not closed with @end");
    if (rc == 0 && p.alt)
        rc = set_err(&p, p.alt_line, 1, "@either opened here is not closed with @end");
    if (rc == 0 && p.s->nalts == 1)
        rc = set_err(&p, p.alt_line, 1, "@either needs at least one @or");
    if (rc == 0 && p.s->nsteps == 0)
        rc = set_err(&p, line ? line : 1, 1, "script has no C:, S: or flow lines");
    if (rc != 0) {
        ms_script_free(p.s);
        return NULL;
    }
    /* Metadata offsets become pointers now that bytes no longer moves. */
    struct ms_script *s = p.s;
    s->id = s->bytes + p.id_off;
    s->title = s->bytes + p.title_off;
    s->rfc = s->bytes + p.rfc_off;
    s->protocol = s->bytes + p.protocol_off;
    s->quote = s->bytes + p.quote_off;
    s->finding = s->bytes + p.finding_off;
    return s;
}

void ms_script_free(struct ms_script *s)
{
    if (!s)
        return;
    free(s->steps);
    free(s->parts);
    free(s->bytes);
    free(s);
}

/* ---- variables and matching ---- */

void ms_vars_init(struct ms_vars *vs)
{
    memset(vs->v, 0, sizeof(vs->v));
    vs->used = 0;
}

enum ms_status ms_vars_set(struct ms_vars *vs, size_t i, const char *p, size_t n)
{
    if (i >= MS_SCRIPT_MAX_VARS || n > sizeof(vs->buf) - vs->used)
        return MS_FAIL;
    if (n)
        memcpy(vs->buf + vs->used, p, n);
    vs->v[i].off = vs->used;
    vs->v[i].len = n;
    vs->v[i].bound = 1;
    vs->used += n;
    return MS_OK;
}

static int is_star(const struct ms_part *pt, const struct ms_vars *vs)
{
    return pt->kind == MS_PART_ANY || (pt->kind == MS_PART_VAR && !vs->v[pt->var].bound);
}

static struct ms_slice part_bytes(const struct ms_script *s, const struct ms_part *pt,
                                  const struct ms_vars *vs)
{
    struct ms_slice r;
    if (pt->kind == MS_PART_LIT) {
        r.ptr = s->bytes + pt->off;
        r.len = pt->len;
    } else {
        r.ptr = vs->buf + vs->v[pt->var].off;
        r.len = vs->v[pt->var].len;
    }
    return r;
}

static int bytes_eq(const char *a, const char *b, size_t n, unsigned flags)
{
    if (!(flags & MS_MATCH_NOCASE))
        return memcmp(a, b, n) == 0;
    for (size_t i = 0; i < n; i++)
        if (ms_lower((unsigned char)a[i]) != ms_lower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* An astring's encoding at t[0..n) (RFC 9051 4.1-4.3): its raw length, and
 * where its content is (quoted: with the escapes still in). 0: none here. */
struct astring {
    size_t raw, off, len;
    int quoted;
};

static int astring_at(const char *t, size_t n, struct astring *a)
{
    memset(a, 0, sizeof(*a));
    if (n == 0)
        return 0;
    if (t[0] == '"') {
        /* quoted = DQUOTE *QUOTED-CHAR DQUOTE; QUOTED-CHAR includes \" and \\ */
        for (size_t i = 1; i < n; i++) {
            if (t[i] == '\\') {
                if (i + 1 >= n || (t[i + 1] != '"' && t[i + 1] != '\\'))
                    return 0;
                i++;
            } else if (t[i] == '"') {
                a->raw = i + 1;
                a->off = 1;
                a->len = i - 1;
                a->quoted = 1;
                return 1;
            } else if (t[i] == '\r' || t[i] == '\n') {
                return 0;
            }
        }
        return 0;
    }
    if (t[0] == '{') {
        /* literal = "{" number64 ["+"] "}" CRLF *CHAR8 (RFC 9051 4.3, 7888) */
        size_t i = 1;
        uint64_t v = 0;
        while (i < n && ms_is_digit((unsigned char)t[i]) && i < 20) {
            v = v * 10 + (uint64_t)(t[i] - '0');
            i++;
        }
        if (i == 1 || i >= n)
            return 0;
        if (t[i] == '+')
            i++;
        if (i + 3 > n || t[i] != '}' || t[i + 1] != '\r' || t[i + 2] != '\n')
            return 0;
        i += 3;
        if (v > n - i)
            return 0;
        a->raw = i + (size_t)v;
        a->off = i;
        a->len = (size_t)v;
        return 1;
    }
    /* ASTRING-CHAR = ATOM-CHAR / resp-specials: anything visible but
     * "(" ")" "{" SP CTL "%" "*" DQUOTE "\" */
    size_t i = 0;
    while (i < n) {
        unsigned char ch = (unsigned char)t[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '(' || ch == ')' || ch == '{' || ch == '%' ||
            ch == '*' || ch == '"' || ch == '\\')
            break;
        i++;
    }
    a->raw = a->len = i;
    return i > 0;
}

/* The decoded content of a, byte by byte: returns the next byte index in t. */
static size_t astring_next(const char *t, const struct astring *a, size_t i, char *out)
{
    if (a->quoted && t[i] == '\\')
        i++;
    *out = t[i];
    return i + 1;
}

/* RFC 9051 5.1: INBOX is case-insensitive; every other name is exact. */
static int is_inbox(const char *p, size_t n)
{
    static const char inbox[] = "inbox";
    if (n != 5)
        return 0;
    for (size_t i = 0; i < 5; i++)
        if (ms_lower((unsigned char)p[i]) != inbox[i])
            return 0;
    return 1;
}

/* Decoded length of a (and the decoded bytes into out when not NULL). */
static size_t astring_decode(const char *t, const struct astring *a, char *out)
{
    size_t k = 0, end = a->off + a->len;
    for (size_t i = a->off; i < end; k++) {
        char ch;
        i = astring_next(t, a, i, &ch);
        if (out)
            out[k] = ch;
    }
    return k;
}

static size_t put_cp(uint32_t cp, char *out, size_t o, size_t cap)
{
    unsigned char b[4];
    size_t n;
    if (cp < 0x80)
        b[0] = (unsigned char)cp, n = 1;
    else if (cp < 0x800)
        b[0] = (unsigned char)(0xc0 | (cp >> 6)), b[1] = (unsigned char)(0x80 | (cp & 0x3f)), n = 2;
    else if (cp < 0x10000)
        b[0] = (unsigned char)(0xe0 | (cp >> 12)),
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f)),
        b[2] = (unsigned char)(0x80 | (cp & 0x3f)), n = 3;
    else
        b[0] = (unsigned char)(0xf0 | (cp >> 18)),
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f)),
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f)),
        b[3] = (unsigned char)(0x80 | (cp & 0x3f)), n = 4;
    if (n > cap - o)
        return SIZE_MAX;
    memcpy(out + o, b, n);
    return o + n;
}

/*
 * A mailbox name in modified UTF-7 (RFC 3501 5.1.3; RFC 9051 keeps it for
 * servers without UTF8=ACCEPT) as UTF-8 into out. Returns the length, or
 * SIZE_MAX when in[0..n) is not modified UTF-7 or has no "&" (nothing to decode).
 */
static size_t mutf7_decode(const char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    int any = 0;

    for (size_t i = 0; i < n;) {
        unsigned char ch = (unsigned char)in[i];
        if (ch != '&') {
            if (ch < 0x20 || ch > 0x7e || o >= cap)
                return SIZE_MAX;
            out[o++] = (char)ch;
            i++;
            continue;
        }
        any = 1;
        i++;
        if (i < n && in[i] == '-') { /* "&-" is "&" */
            if (o >= cap)
                return SIZE_MAX;
            out[o++] = '&';
            i++;
            continue;
        }
        struct ms_mutf7 m = {0, 0, 0};
        size_t start = i;
        while (i < n && in[i] != '-') {
            uint32_t cp = 0;
            int r = ms_mutf7_feed(&m, (unsigned char)in[i++], &cp);
            if (r < 0)
                return SIZE_MAX;
            if (r == MS_MUTF7_CHAR && (o = put_cp(cp, out, o, cap)) == SIZE_MAX)
                return SIZE_MAX;
        }
        /* a run ends with "-", holds something, and leaves only zero bits over */
        if (i >= n || i == start || ms_mutf7_end(&m) != 0)
            return SIZE_MAX;
        i++;
    }
    return any ? o : SIZE_MAX;
}

static int astring_eq(const char *t, const struct astring *a, struct ms_slice want)
{
    char got[1024], dec[2048];
    size_t n = astring_decode(t, a, NULL);

    if (n > sizeof(got))
        return 0;
    astring_decode(t, a, got);
    if (n == want.len && memcmp(got, want.ptr, n) == 0)
        return 1;
    if (want.len == 5 && is_inbox(want.ptr, 5) && is_inbox(got, n))
        return 1;
    /* the same name in modified UTF-7 on one side and UTF-8 on the other */
    size_t d = mutf7_decode(got, n, dec, sizeof(dec));
    if (d != SIZE_MAX && d == want.len && memcmp(dec, want.ptr, d) == 0)
        return 1;
    d = mutf7_decode(want.ptr, want.len, dec, sizeof(dec));
    return d != SIZE_MAX && d == n && memcmp(dec, got, n) == 0;
}

int ms_script_match(const struct ms_script *s, const struct ms_step *st, struct ms_vars *vs,
                    const char *line, size_t len, unsigned flags)
{
    const struct ms_part *parts = st->nparts ? s->parts + st->part0 : NULL;
    size_t np = st->nparts;
    size_t cap_start[MS_SCRIPT_MAX_PARTS], cap_end[MS_SCRIPT_MAX_PARTS];
    struct astring as[MS_SCRIPT_MAX_PARTS];
    size_t pi = 0, ti = 0, star_ti = 0;
    size_t star_pi = SIZE_MAX;

    /*
     * Glob matching with backtracking to the last wildcard only: O(len * parts).
     * Wildcards before the last one keep the shortest extent that lets the
     * rest match, which makes captures leftmost-shortest. A typed part
     * (${mbox:name}) takes exactly one token, like a literal.
     */
    for (;;) {
        if (pi == np) {
            if (ti == len)
                break;
        } else if (is_star(&parts[pi], vs)) {
            star_pi = pi;
            star_ti = ti;
            cap_start[pi] = ti;
            cap_end[pi] = ti;
            pi++;
            continue;
        } else if (parts[pi].kind == MS_PART_MBOX) {
            struct astring *a = &as[pi];
            if (astring_at(line + ti, len - ti, a) &&
                (!vs->v[parts[pi].var].bound ||
                 astring_eq(line + ti, a, part_bytes(s, &parts[pi], vs)))) {
                cap_start[pi] = ti;
                ti += a->raw;
                pi++;
                continue;
            }
        } else {
            struct ms_slice b = part_bytes(s, &parts[pi], vs);
            unsigned f = parts[pi].kind == MS_PART_LIT ? flags : 0;
            if (b.len <= len - ti && (b.len == 0 || bytes_eq(line + ti, b.ptr, b.len, f))) {
                ti += b.len;
                pi++;
                continue;
            }
        }
        if (star_pi == SIZE_MAX || star_ti >= len)
            return 0;
        star_ti++;
        cap_end[star_pi] = star_ti;
        ti = star_ti;
        pi = star_pi + 1;
    }
    /* The last wildcard, when it ends the pattern, takes the rest of the line. */
    if (np > 0 && is_star(&parts[np - 1], vs))
        cap_end[np - 1] = len;
    size_t need = 0;
    for (size_t i = 0; i < np; i++)
        if ((parts[i].kind == MS_PART_VAR || parts[i].kind == MS_PART_MBOX) &&
            !vs->v[parts[i].var].bound)
            need += parts[i].kind == MS_PART_MBOX ? as[i].len : cap_end[i] - cap_start[i];
    if (need > sizeof(vs->buf) - vs->used)
        return MS_FAIL;
    for (size_t i = 0; i < np; i++) {
        if (vs->v[parts[i].var].bound || parts[i].kind == MS_PART_LIT ||
            parts[i].kind == MS_PART_ANY)
            continue;
        if (parts[i].kind == MS_PART_MBOX) {
            /* decoded straight into the value space (need checked above) */
            size_t n = astring_decode(line + cap_start[i], &as[i], vs->buf + vs->used);
            vs->v[parts[i].var].off = vs->used;
            vs->v[parts[i].var].len = n;
            vs->v[parts[i].var].bound = 1;
            vs->used += n;
        } else if (ms_vars_set(vs, parts[i].var, line + cap_start[i], cap_end[i] - cap_start[i]) !=
                   MS_OK) {
            return MS_FAIL;
        }
    }
    return 1;
}

/* An IMAP astring for value v: an atom when it is one, else a quoted string. */
static ssize_t render_astring(struct ms_slice v, char *out, size_t cap)
{
    struct astring a;
    if (v.len > 0 && astring_at(v.ptr, v.len, &a) && !a.quoted && a.raw == v.len &&
        v.ptr[0] != '{') {
        if (v.len > cap)
            return MS_FAIL;
        memcpy(out, v.ptr, v.len);
        return (ssize_t)v.len;
    }
    size_t o = 0;
    if (cap < 2)
        return MS_FAIL;
    out[o++] = '"';
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] == '"' || v.ptr[i] == '\\') {
            if (o + 1 >= cap)
                return MS_FAIL;
            out[o++] = '\\';
        }
        if (o + 1 >= cap)
            return MS_FAIL;
        out[o++] = v.ptr[i];
    }
    out[o++] = '"';
    return (ssize_t)o;
}

ssize_t ms_script_render(const struct ms_script *s, const struct ms_step *st,
                         const struct ms_vars *vs, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < st->nparts; i++) {
        const struct ms_part *pt = &s->parts[st->part0 + i];
        if (pt->kind == MS_PART_ANY || (pt->kind != MS_PART_LIT && !vs->v[pt->var].bound))
            return MS_FAIL;
        struct ms_slice b = part_bytes(s, pt, vs);
        if (pt->kind == MS_PART_MBOX) {
            ssize_t k = render_astring(b, out + o, cap - o);
            if (k < 0)
                return MS_FAIL;
            o += (size_t)k;
            continue;
        }
        if (b.len > cap - o)
            return MS_FAIL;
        if (b.len)
            memcpy(out + o, b.ptr, b.len);
        o += b.len;
    }
    if (st->nocrlf)
        return (ssize_t)o;
    if (cap - o < 2)
        return MS_FAIL;
    out[o++] = '\r';
    out[o++] = '\n';
    return (ssize_t)o;
}

/* Length of the valid UTF-8 sequence at b[0..n) (2 to 4, RFC 3629 4), or 0. */
static size_t utf8_seq(const unsigned char *b, size_t n)
{
    size_t need;
    uint32_t cp;

    if (b[0] >= 0xc2 && b[0] <= 0xdf) {
        need = 2;
        cp = b[0] & 0x1fu;
    } else if (b[0] >= 0xe0 && b[0] <= 0xef) {
        need = 3;
        cp = b[0] & 0x0fu;
    } else if (b[0] >= 0xf0 && b[0] <= 0xf4) {
        need = 4;
        cp = b[0] & 0x07u;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((b[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (b[i] & 0x3fu);
    }
    /* overlong forms, surrogates and values past U+10FFFF are not UTF-8 */
    if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return need;
}

void ms_script_escape_opt(struct ms_out *o, const char *p, size_t n, unsigned flags)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *b = (const unsigned char *)p;

    for (size_t i = 0; i < n; i++) {
        unsigned char ch = b[i];
        char e[4] = {'\\', 'x', hex[ch >> 4], hex[ch & 15]};
        if (ch == '\\') {
            ms_out_bytes(o, "\\\\", 2);
        } else if (ch == '\r') {
            ms_out_bytes(o, "\\r", 2);
        } else if (ch == '\n') {
            ms_out_bytes(o, "\\n", 2);
        } else if (ch == '\t') {
            ms_out_bytes(o, "\\t", 2);
        } else if (ch == '$' && i + 1 < n && b[i + 1] == '{') {
            ms_out_bytes(o, e, 4); /* a literal "${" would read as a variable */
        } else if (ch < 0x20 || ch == 0x7f) {
            ms_out_bytes(o, e, 4);
        } else if (ch >= 0x80) {
            size_t k = (flags & MS_ESCAPE_UTF8) ? utf8_seq(b + i, n - i) : 0;
            if (k == 0) {
                ms_out_bytes(o, e, 4);
            } else {
                ms_out_bytes(o, p + i, k);
                i += k - 1;
            }
        } else {
            ms_out_bytes(o, p + i, 1);
        }
    }
}

void ms_script_escape(struct ms_out *o, const char *p, size_t n)
{
    ms_script_escape_opt(o, p, n, 0);
}

void ms_script_pattern_text(const struct ms_script *s, const struct ms_step *st, struct ms_out *o)
{
    for (size_t i = 0; i < st->nparts; i++) {
        const struct ms_part *pt = &s->parts[st->part0 + i];
        if (pt->kind == MS_PART_LIT) {
            ms_script_escape(o, s->bytes + pt->off, pt->len);
        } else if (pt->kind == MS_PART_ANY) {
            ms_out_bytes(o, "${*}", 4);
        } else {
            ms_out_bytes(o, "${", 2);
            if (pt->kind == MS_PART_MBOX)
                ms_out_bytes(o, "mbox:", 5);
            ms_out_bytes(o, s->vars[pt->var], strnlen(s->vars[pt->var], MS_SCRIPT_MAX_NAME));
            ms_out_bytes(o, "}", 1);
        }
    }
}

const char *ms_level_name(unsigned level)
{
    switch (level) {
    case MS_LEVEL_MUST:
        return "MUST";
    case MS_LEVEL_SHOULD:
        return "SHOULD";
    case MS_LEVEL_MAY:
        return "MAY";
    case MS_LEVEL_INFO:
        return "info";
    default:
        return "?";
    }
}
