/*
 * IMAP client commands: stream state (AUTHENTICATE, IDLE, UTF8=ACCEPT),
 * command dispatch (RFC 9051 9 command), JSON rendering and the writer.
 * Argument grammar lives in command_lex.c, command_fetch.c, command_search.c.
 */
#include <string.h>

#include "command_internal.h"
#include "mailspec/imap_framer.h"

#define R_COMMAND "RFC 9051 9 command"
#define R_TAG     "RFC 9051 9 tag"
#define R_BASE64  "RFC 9051 9 base64"

/* ---- per-command argument grammars ---- */

static enum ms_status a_none(struct ms_icp *p)
{
    (void)p;
    return MS_OK;
}

/* authenticate = "AUTHENTICATE" SP auth-type [SP initial-resp] (RFC 9051, 4959)
 * initial-resp = (base64 / "=") */
static enum ms_status check_base64(struct ms_cursor *c, size_t start, size_t end)
{
    size_t n = end - start, pad = 0;

    for (size_t i = start; i < end; i++) {
        unsigned char ch = c->p[i];
        if (ch == '=') {
            if (i + 2 < end || (i + 2 == end && c->p[i + 1] != '='))
                return ms_fail_at(c, i, R_BASE64, "\"=\" padding only at the end");
            pad++;
            continue;
        }
        if (!ms_is(ch, MS_C_BASE64))
            return ms_fail_at(c, i, R_BASE64, "expected base64 (A-Z a-z 0-9 + / =)");
    }
    if (n % 4 != 0)
        return ms_fail_at(c, end, R_BASE64, "base64 length is not a multiple of 4");
    (void)pad;
    return MS_OK;
}

static enum ms_status a_authenticate(struct ms_icp *p)
{
    struct ms_cursor *c = &p->c;

    MS_GUARD(ms_icp_sp(p, "RFC 9051 9 authenticate"));
    MS_GUARD(ms_icp_atom(p, 0, "RFC 9051 9 auth-type", "expected a SASL mechanism name"));
    if (ms_cursor_eof(c))
        return MS_OK;
    MS_GUARD(ms_icp_sp_more(p, "RFC 4959 7 authenticate"));
    size_t start = c->pos;
    if (ms_cursor_accept(c, '=') && ms_cursor_eof(c)) {
        /* "=": an empty initial response */
    } else {
        c->pos = start;
        while (!ms_cursor_eof(c) && (ms_is(c->p[c->pos], MS_C_BASE64) || c->p[c->pos] == '='))
            c->pos++;
        if (c->pos == start)
            return ms_fail(c, "RFC 4959 7 initial-resp", "expected base64 or \"=\"");
        MS_GUARD(check_base64(c, start, c->pos));
    }
    uint32_t n = ms_icp_node(p, 0, MS_IMAP_CN_BASE64);
    if (!n)
        return MS_FAIL;
    p->v->nodes[n].text.ptr = (const char *)c->p + start;
    p->v->nodes[n].text.len = c->pos - start;
    return MS_OK;
}

/* login = "LOGIN" SP userid SP password; both astring */
static enum ms_status a_login(struct ms_icp *p)
{
    MS_GUARD(ms_icp_sp(p, "RFC 9051 9 login"));
    MS_GUARD(ms_icp_string(p, 0, MS_IMAP_CN_STRING, MS_ICP_ASTRING, "RFC 9051 9 userid", NULL));
    MS_GUARD(ms_icp_sp(p, "RFC 9051 9 login"));
    return ms_icp_string(p, 0, MS_IMAP_CN_STRING, MS_ICP_ASTRING, "RFC 9051 9 password", NULL);
}

/* enable = "ENABLE" 1*(SP capability)  (RFC 5161) */
static enum ms_status a_enable(struct ms_icp *p)
{
    do {
        MS_GUARD(ms_icp_sp(p, "RFC 5161 4 enable"));
        MS_GUARD(ms_icp_atom(p, 0, "RFC 9051 9 capability", "expected a capability name"));
    } while (!ms_cursor_eof(&p->c));
    return MS_OK;
}

static enum ms_status a_mailbox(struct ms_icp *p)
{
    MS_GUARD(ms_icp_sp(p, R_COMMAND));
    return ms_icp_mailbox(p, 0);
}

/*
 * create = "CREATE" SP mailbox [create-params]                       (RFC 4466 2.2)
 * create-params = SP "(" create-param *(SP create-param) ")"
 * create-param = create-param-name [SP create-param-value]           (RFC 4466 2.2)
 * create-param-name = tagged-ext-label; create-param-value = tagged-ext-val
 * tagged-ext-val = tagged-ext-simple / "(" [tagged-ext-comp] ")"
 * tagged-ext-simple = sequence-set / number / number64
 * tagged-ext-comp = astring / tagged-ext-comp *(SP tagged-ext-comp) / "(" tagged-ext-comp ")"
 * USE is modelled:
 * create-param =/ "USE" SP "(" [use-attr *(SP use-attr)] ")"        (RFC 6154 6)
 * use-attr = "\All" / "\Archive" / "\Drafts" / "\Flagged" / "\Junk" / "\Sent" /
 *            "\Trash" / use-attr-ext ("\" atom)
 */
/* tagged-ext-comp, inside "(" ... ")" (RFC 4466 2.1); depth-bounded */
static enum ms_status ext_comp(struct ms_icp *p, uint32_t parent, unsigned depth)
{
    struct ms_cursor *c = &p->c;
    const char *r = "RFC 4466 2.1 tagged-ext-comp";

    MS_GUARD(ms_icp_depth(p, depth));
    uint32_t l = ms_icp_node(p, parent, MS_IMAP_CN_LIST);
    if (!l)
        return MS_FAIL;
    if (ms_cursor_accept(c, ')'))
        return MS_OK;
    for (;;) {
        if (ms_cursor_accept(c, '('))
            MS_GUARD(ext_comp(p, l, depth + 1));
        else
            MS_GUARD(ms_icp_string(p, l, MS_IMAP_CN_STRING, MS_ICP_ASTRING, r, NULL));
        if (ms_cursor_accept(c, ')'))
            return MS_OK;
        MS_GUARD(ms_cursor_expect(c, ' ', r, "expected SP or \")\""));
    }
}

/* tagged-ext-label = tagged-label-fchar *tagged-label-char (RFC 4466 2.1) */
static enum ms_status ext_label(struct ms_icp *p, uint32_t parent, const char *rule)
{
    struct ms_cursor *c = &p->c;
    size_t start = c->pos;
    int ch = ms_cursor_peek(c);

    if (!(ch >= 0 && (ms_is((unsigned char)ch, MS_C_ALPHA) || ch == '-' || ch == '_' || ch == '.')))
        return ms_fail(c, rule, "expected a parameter name (tagged-ext-label)");
    while ((ch = ms_cursor_peek(c)) >= 0 &&
           (ms_is((unsigned char)ch, MS_C_ALPHA) || ms_is_digit((unsigned char)ch) || ch == '-' ||
            ch == '_' || ch == '.' || ch == ':'))
        c->pos++;
    uint32_t n = ms_icp_node(p, parent, MS_IMAP_CN_ATOM);
    if (!n)
        return MS_FAIL;
    p->v->nodes[n].text = (struct ms_slice){(const char *)c->p + start, c->pos - start};
    return MS_OK;
}

static enum ms_status a_create(struct ms_icp *p)
{
    struct ms_cursor *c = &p->c;
    const char *r = "RFC 6154 6 create-param";

    MS_GUARD(a_mailbox(p));
    if (ms_cursor_eof(c))
        return MS_OK;
    MS_GUARD(ms_icp_sp_more(p, "RFC 4466 2.2 create-params"));
    MS_GUARD(ms_cursor_expect(c, '(', "RFC 4466 2.2 create-params", "expected \"(\""));
    uint32_t l = ms_icp_node(p, 0, MS_IMAP_CN_LIST);
    if (!l)
        return MS_FAIL;
    for (;;) {
        size_t at = c->pos;
        if (ms_cursor_accept_ci(c, "USE") && ms_cursor_peek(c) == ' ' &&
            ms_cursor_peek_at(c, 1) == '(') {
            MS_GUARD(ms_icp_kw_node(p, l, "USE"));
            c->pos += 2;
            uint32_t u = ms_icp_node(p, l, MS_IMAP_CN_LIST);
            if (!u)
                return MS_FAIL;
            if (!ms_cursor_accept(c, ')')) {
                for (;;) {
                    if (ms_cursor_peek(c) != '\\')
                        return ms_fail(c, "RFC 6154 6 use-attr",
                                       "expected a special-use attribute (\\Sent ...)");
                    MS_GUARD(ms_icp_flag_any(p, u));
                    if (ms_cursor_accept(c, ')'))
                        break;
                    MS_GUARD(ms_cursor_expect(c, ' ', r, "expected SP or \")\""));
                }
            }
        } else {
            c->pos = at;
            MS_GUARD(ext_label(p, l, "RFC 4466 2.2 create-param-name"));
            int ch = ms_cursor_peek_at(c, 1);
            if (ms_cursor_peek(c) == ' ' &&
                (ch == '(' || ch == '*' || ch == '$' || (ch >= '0' && ch <= '9'))) {
                c->pos++;
                if (ms_cursor_accept(c, '(')) {
                    MS_GUARD(ext_comp(p, l, 2));
                } else {
                    /* tagged-ext-simple: a number / number64 that is no
                     * sequence set (leading zeros, or beyond 32 bits) is kept
                     * as written (an atom node), so it writes back the same;
                     * else a sequence set */
                    size_t d = c->pos;
                    uint64_t v;
                    while (d < c->len && ms_is_digit(c->p[d]))
                        d++;
                    if (d > c->pos && (d == c->len || c->p[d] == ' ' || c->p[d] == ')') &&
                        (d - c->pos > 10 || c->p[c->pos] == '0')) {
                        if (ms_number_parse((const char *)c->p + c->pos, d - c->pos, INT64_MAX,
                                            &v) != MS_OK)
                            return ms_fail_limit(c, "RFC 4466 2.1 tagged-ext-simple",
                                                 "number above 2^63-1 (number64)");
                        uint32_t n = ms_icp_node(p, l, MS_IMAP_CN_ATOM);
                        if (!n)
                            return MS_FAIL;
                        p->v->nodes[n].text =
                            (struct ms_slice){(const char *)c->p + c->pos, d - c->pos};
                        c->pos = d;
                    } else
                        MS_GUARD(ms_icp_seqset(p, l));
                }
            }
        }
        if (ms_cursor_accept(c, ')'))
            return MS_OK;
        MS_GUARD(ms_cursor_expect(c, ' ', "RFC 4466 2.2 create-params", "expected SP or \")\""));
    }
}

/* rename = "RENAME" SP mailbox SP mailbox */
static enum ms_status a_rename(struct ms_icp *p)
{
    MS_GUARD(a_mailbox(p));
    MS_GUARD(ms_icp_sp(p, "RFC 9051 9 rename"));
    return ms_icp_mailbox(p, 0);
}

/*
 * select = "SELECT" SP mailbox [select-params]
 * select-params = SP "(" select-param *(SP select-param) ")"
 * select-param = "CONDSTORE" / "QRESYNC" SP "(" uidvalidity SP mod-sequence-value
 *                [SP known-uids] [SP seq-match-data] ")"          (RFC 7162 3.1.8, 3.2.5)
 * seq-match-data = "(" known-sequence-set SP known-uid-set ")"
 */
static enum ms_status a_select(struct ms_icp *p)
{
    struct ms_cursor *c = &p->c;
    const char *r = "RFC 7162 7 select-param";

    MS_GUARD(a_mailbox(p));
    if (ms_cursor_eof(c))
        return MS_OK;
    MS_GUARD(ms_icp_sp_more(p, "RFC 9051 9 select-params"));
    MS_GUARD(ms_cursor_expect(c, '(', "RFC 9051 9 select-params", "expected \"(\""));
    uint32_t l = ms_icp_node(p, 0, MS_IMAP_CN_LIST);
    if (!l)
        return MS_FAIL;
    static const char *const params[] = {"CONDSTORE", "QRESYNC", NULL};
    unsigned seen = 0;
    if (ms_cursor_peek(c) == ')')
        return ms_fail(c, "RFC 4466 2.1 select-params",
                       "empty parameter list: \"(\" needs at least one select-param");
    for (;;) {
        size_t at = c->pos;
        int k = ms_icp_keyword(p, params);
        if (k < 0)
            return ms_fail(c, r, "unknown SELECT parameter (CONDSTORE and QRESYNC are modelled)");
        if (seen & (1u << k))
            return ms_fail_at(c, at, r, "parameter given twice");
        seen |= 1u << k;
        MS_GUARD(ms_icp_kw_node(p, l, params[k]));
        if (k == 1) {
            MS_GUARD(ms_icp_sp(p, r));
            MS_GUARD(ms_cursor_expect(c, '(', r, "expected \"(\" after QRESYNC"));
            uint32_t q = ms_icp_node(p, l, MS_IMAP_CN_LIST);
            if (!q)
                return MS_FAIL;
            MS_GUARD(ms_icp_number_node(p, q, 1, UINT32_MAX, "RFC 9051 9 uidvalidity"));
            MS_GUARD(ms_icp_sp(p, r));
            MS_GUARD(ms_icp_number_node(p, q, 1, INT64_MAX, "RFC 7162 7 mod-sequence-value"));
            int known = 0;
            while (ms_cursor_accept(c, ' ')) {
                if (ms_cursor_accept(c, '(')) {
                    uint32_t m = ms_icp_node(p, q, MS_IMAP_CN_LIST);
                    if (!m)
                        return MS_FAIL;
                    MS_GUARD(ms_icp_seqset_known(p, m));
                    MS_GUARD(ms_icp_sp(p, "RFC 7162 7 seq-match-data"));
                    MS_GUARD(ms_icp_seqset_known(p, m));
                    MS_GUARD(
                        ms_cursor_expect(c, ')', "RFC 7162 7 seq-match-data", "expected \")\""));
                    break;
                }
                if (known)
                    return ms_fail(c, r, "expected \"(\" (seq-match-data)");
                known = 1;
                MS_GUARD(ms_icp_seqset_known(p, q));
            }
            MS_GUARD(ms_cursor_expect(c, ')', r, "expected \")\" closing QRESYNC"));
        }
        if (ms_cursor_accept(c, ')'))
            return MS_OK;
        MS_GUARD(ms_cursor_expect(c, ' ', "RFC 9051 9 select-params", "expected SP or \")\""));
    }
}

static const char *const status_atts[] = {
    "MESSAGES", "UIDNEXT",       "UIDVALIDITY", "UNSEEN",    "DELETED", "SIZE",
    "RECENT",   "HIGHESTMODSEQ", "APPENDLIMIT", "MAILBOXID", NULL,
};

/* "(" status-att *(SP status-att) ")" */
static enum ms_status status_list(struct ms_icp *p, uint32_t parent, const char *rule)
{
    struct ms_cursor *c = &p->c;

    MS_GUARD(ms_cursor_expect(c, '(', rule, "expected \"(\""));
    uint32_t l = ms_icp_node(p, parent, MS_IMAP_CN_LIST);
    if (!l)
        return MS_FAIL;
    for (;;) {
        int k = ms_icp_keyword(p, status_atts);
        if (k < 0)
            return ms_fail(c, "RFC 9051 9 status-att", "unknown status attribute");
        MS_GUARD(ms_icp_kw_node(p, l, status_atts[k]));
        if (ms_cursor_accept(c, ')'))
            return MS_OK;
        MS_GUARD(ms_cursor_expect(c, ' ', rule, "expected SP or \")\""));
    }
}

/* status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")" */
static enum ms_status a_status(struct ms_icp *p)
{
    MS_GUARD(a_mailbox(p));
    MS_GUARD(ms_icp_sp(p, "RFC 9051 9 status"));
    return status_list(p, 0, "RFC 9051 9 status");
}

/* lsub = "LSUB" SP mailbox SP list-mailbox (RFC 3501) */
static enum ms_status a_lsub(struct ms_icp *p)
{
    MS_GUARD(a_mailbox(p));
    MS_GUARD(ms_icp_sp(p, "RFC 3501 9 lsub"));
    return ms_icp_pattern(p, 0);
}

/*
 * list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]
 * (RFC 5258 6, RFC 6154 6, RFC 5819 4; RFC 9051 9)
 */
static enum ms_status a_list(struct ms_icp *p)
{
    struct ms_cursor *c = &p->c;
    const char *r = "RFC 5258 6 list-select-opts";

    MS_GUARD(ms_icp_sp(p, "RFC 9051 9 list"));
    if (ms_cursor_accept(c, '(')) {
        static const char *const sel[] = {"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE",
                                          NULL};
        unsigned seen = 0;
        uint32_t l = ms_icp_node(p, 0, MS_IMAP_CN_LIST);
        if (!l)
            return MS_FAIL;
        if (!ms_cursor_accept(c, ')')) {
            for (;;) {
                int k = ms_icp_keyword(p, sel);
                if (k < 0)
                    return ms_fail(c, r, "unknown selection option");
                seen |= 1u << k;
                MS_GUARD(ms_icp_kw_node(p, l, sel[k]));
                if (ms_cursor_accept(c, ')'))
                    break;
                MS_GUARD(ms_cursor_expect(c, ' ', r, "expected SP or \")\""));
            }
        }
        /* RFC 5258 3.1: RECURSIVEMATCH needs a base option (SUBSCRIBED / SPECIAL-USE). */
        if ((seen & 4u) && !(seen & (1u | 8u)))
            return ms_fail(c, r, "RECURSIVEMATCH without SUBSCRIBED or another base option");
        MS_GUARD(ms_icp_sp(p, "RFC 5258 6 list"));
    }
    MS_GUARD(ms_icp_mailbox(p, 0));
    MS_GUARD(ms_icp_sp(p, "RFC 9051 9 list"));
    if (ms_cursor_accept(c, '(')) {
        /* patterns = "(" list-mailbox *(SP list-mailbox) ")" */
        uint32_t l = ms_icp_node(p, 0, MS_IMAP_CN_LIST);
        if (!l)
            return MS_FAIL;
        for (;;) {
            MS_GUARD(ms_icp_pattern(p, l));
            if (ms_cursor_accept(c, ')'))
                break;
            MS_GUARD(ms_cursor_expect(c, ' ', "RFC 5258 6 patterns", "expected SP or \")\""));
        }
    } else {
        MS_GUARD(ms_icp_pattern(p, 0));
    }
    if (ms_cursor_eof(c))
        return MS_OK;
    MS_GUARD(ms_icp_sp_more(p, "RFC 5258 6 list-return-opts"));
    MS_GUARD(ms_cursor_expect_ci(c, "RETURN", "RFC 5258 6 list-return-opts", "expected RETURN"));
    MS_GUARD(ms_icp_kw_node(p, 0, "RETURN"));
    MS_GUARD(ms_icp_sp(p, "RFC 5258 6 list-return-opts"));
    MS_GUARD(ms_cursor_expect(c, '(', "RFC 5258 6 list-return-opts", "expected \"(\""));
    uint32_t l = ms_icp_node(p, 0, MS_IMAP_CN_LIST);
    if (!l)
        return MS_FAIL;
    if (ms_cursor_accept(c, ')'))
        return MS_OK;
    static const char *const ret[] = {"SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS", NULL};
    for (;;) {
        int k = ms_icp_keyword(p, ret);
        if (k < 0)
            return ms_fail(c, "RFC 5258 6 return-option", "unknown LIST return option");
        MS_GUARD(ms_icp_kw_node(p, l, ret[k]));
        if (k == 3) {
            MS_GUARD(ms_icp_sp(p, "RFC 5819 4 return-option"));
            MS_GUARD(status_list(p, l, "RFC 5819 4 return-option"));
        }
        if (ms_cursor_accept(c, ')'))
            return MS_OK;
        MS_GUARD(ms_cursor_expect(c, ' ', "RFC 5258 6 list-return-opts", "expected SP or \")\""));
    }
}

/*
 * append-data =/ "CATENATE" SP "(" cat-part *(SP cat-part) ")"       (RFC 4469 5)
 * cat-part = text-literal / url; text-literal = "TEXT" SP literal; url = "URL" SP astring
 * The cursor is after "CATENATE". Nodes: CATENATE, then a list of TEXT message / URL string.
 */
static enum ms_status append_catenate(struct ms_icp *p)
{
    struct ms_cursor *c = &p->c;
    static const char *const parts[] = {"TEXT", "URL", NULL};

    MS_GUARD(ms_icp_kw_node(p, 0, "CATENATE"));
    MS_GUARD(ms_icp_sp(p, "RFC 4469 5 append-data"));
    MS_GUARD(ms_cursor_expect(c, '(', "RFC 4469 5 append-data", "expected \"(\" after CATENATE"));
    uint32_t l = ms_icp_node(p, 0, MS_IMAP_CN_LIST);
    if (!l)
        return MS_FAIL;
    for (;;) {
        int k = ms_icp_keyword(p, parts);
        if (k < 0)
            return ms_fail(c, "RFC 4469 5 cat-part", "expected TEXT or URL");
        MS_GUARD(ms_icp_kw_node(p, l, parts[k]));
        MS_GUARD(ms_icp_sp(p, "RFC 4469 5 cat-part"));
        if (k == 0) {
            if (ms_cursor_peek(c) != '{')
                return ms_fail(c, "RFC 4469 5 text-literal", "expected a literal ({n})");
            MS_GUARD(ms_icp_string(p, l, MS_IMAP_CN_MESSAGE,
                                   (1u << MS_IMAP_CF_LITERAL) | (1u << MS_IMAP_CF_LITERAL_PLUS),
                                   "RFC 4469 5 text-literal", NULL));
        } else {
            MS_GUARD(
                ms_icp_string(p, l, MS_IMAP_CN_STRING, MS_ICP_ASTRING, "RFC 4469 5 url", NULL));
        }
        if (ms_cursor_accept(c, ')'))
            return MS_OK;
        MS_GUARD(ms_cursor_expect(c, ' ', "RFC 4469 5 append-data", "expected SP or \")\""));
    }
}

/*
 * append = "APPEND" SP mailbox 1*append-message          (RFC 3502 MULTIAPPEND, 9051)
 * append-message = append-opts SP append-data
 * append-opts = [SP flag-list] [SP date-time]
 * append-data = literal / literal8                        (RFC 3516)
 * append-data =/ "CATENATE" SP "(" cat-part *(SP cat-part) ")"    (RFC 4469 5)
 */
static enum ms_status a_append(struct ms_icp *p)
{
    struct ms_cursor *c = &p->c;

    MS_GUARD(a_mailbox(p));
    do {
        MS_GUARD(ms_icp_sp(p, "RFC 9051 9 append"));
        if (ms_cursor_peek(c) == '(') {
            MS_GUARD(ms_icp_flag_list(p, 0));
            MS_GUARD(ms_icp_sp(p, "RFC 9051 9 append"));
        }
        if (ms_cursor_peek(c) == '"') {
            MS_GUARD(ms_icp_datetime(p, 0));
            MS_GUARD(ms_icp_sp(p, "RFC 9051 9 append"));
        }
        size_t at = c->pos;
        if (ms_cursor_accept_ci(c, "CATENATE") && ms_cursor_peek(c) == ' ') {
            MS_GUARD(append_catenate(p));
            continue;
        }
        c->pos = at;
        int ch = ms_cursor_peek(c);
        if (ch != '{' && ch != '~')
            return ms_fail(c, "RFC 9051 9 append-data",
                           "expected the message as a literal ({n} or ~{n})");
        MS_GUARD(ms_icp_string(p, 0, MS_IMAP_CN_MESSAGE,
                               MS_ICP_STRING | (1u << MS_IMAP_CF_LITERAL8) |
                                   (1u << MS_IMAP_CF_LITERAL8_PLUS),
                               "RFC 9051 9 append-data", NULL));
    } while (!ms_cursor_eof(c));
    return MS_OK;
}

static enum ms_status a_seqset_mailbox(struct ms_icp *p)
{
    MS_GUARD(ms_icp_sp(p, R_COMMAND));
    MS_GUARD(ms_icp_seqset(p, 0));
    MS_GUARD(ms_icp_sp(p, R_COMMAND));
    return ms_icp_mailbox(p, 0);
}

static enum ms_status a_expunge(struct ms_icp *p)
{
    /* uid-expunge = "UID" SP "EXPUNGE" SP sequence-set (RFC 4315, 9051) */
    if (!p->v->uid)
        return MS_OK;
    MS_GUARD(ms_icp_sp(p, "RFC 9051 9 uid-expunge"));
    return ms_icp_seqset(p, 0);
}

static enum ms_status a_search(struct ms_icp *p)
{
    return ms_icp_search(p, 0);
}

static enum ms_status a_fetch(struct ms_icp *p)
{
    MS_GUARD(ms_icp_sp(p, "RFC 9051 9 fetch"));
    MS_GUARD(ms_icp_seqset(p, 0));
    MS_GUARD(ms_icp_sp(p, "RFC 9051 9 fetch"));
    return ms_icp_fetch_atts(p, 0);
}

/*
 * store = "STORE" SP sequence-set [store-modifiers] SP store-att-flags
 * store-modifiers = SP "(" "UNCHANGEDSINCE" SP mod-sequence-valzer ")"   (RFC 7162 3.1.3)
 * store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))
 */
static enum ms_status a_store(struct ms_icp *p)
{
    struct ms_cursor *c = &p->c;
    const char *r = "RFC 9051 9 store-att-flags";

    MS_GUARD(ms_icp_sp(p, "RFC 9051 9 store"));
    MS_GUARD(ms_icp_seqset(p, 0));
    MS_GUARD(ms_icp_sp(p, "RFC 9051 9 store"));
    if (ms_cursor_accept(c, '(')) {
        uint32_t l = ms_icp_node(p, 0, MS_IMAP_CN_LIST);
        if (!l)
            return MS_FAIL;
        MS_GUARD(ms_cursor_expect_ci(c, "UNCHANGEDSINCE", "RFC 7162 7 store-modifier",
                                     "expected UNCHANGEDSINCE"));
        MS_GUARD(ms_icp_kw_node(p, l, "UNCHANGEDSINCE"));
        MS_GUARD(ms_icp_sp(p, "RFC 7162 7 store-modifier"));
        MS_GUARD(ms_icp_number_node(p, l, 0, INT64_MAX, "RFC 7162 7 mod-sequence-valzer"));
        MS_GUARD(ms_cursor_expect(c, ')', "RFC 7162 7 store-modifiers", "expected \")\""));
        MS_GUARD(ms_icp_sp(p, "RFC 9051 9 store"));
    }
    static const char *const ops[] = {"FLAGS",  "FLAGS.SILENT",  "+FLAGS", "+FLAGS.SILENT",
                                      "-FLAGS", "-FLAGS.SILENT", NULL};
    int k = ms_icp_keyword(p, ops);
    if (k < 0)
        return ms_fail(c, r, "expected [+|-]FLAGS[.SILENT]");
    MS_GUARD(ms_icp_kw_node(p, 0, ops[k]));
    MS_GUARD(ms_icp_sp(p, r));
    if (ms_cursor_peek(c) == '(')
        return ms_icp_flag_list(p, 0);
    for (;;) {
        MS_GUARD(ms_icp_flag(p, 0));
        if (ms_cursor_eof(c))
            return MS_OK;
        MS_GUARD(ms_icp_sp(p, r));
    }
}

/*
 * id = "ID" SP id-params-list                                        (RFC 2971 4)
 * id-params-list = "(" #(string SP nstring) ")" / nil   (RFC 822 "#": zero or more)
 * At most 30 pairs, fields up to 30 octets, values up to 1024 (RFC 2971 3.3).
 */
static enum ms_status a_id(struct ms_icp *p)
{
    struct ms_cursor *c = &p->c;
    const char *r = "RFC 2971 4 id-params-list";

    MS_GUARD(ms_icp_sp(p, "RFC 2971 4 id"));
    if (ms_cursor_accept_ci(c, "NIL")) {
        uint32_t n = ms_icp_node(p, 0, MS_IMAP_CN_NIL);
        return n ? MS_OK : MS_FAIL;
    }
    MS_GUARD(ms_cursor_expect(c, '(', r, "expected \"(\" or NIL"));
    uint32_t l = ms_icp_node(p, 0, MS_IMAP_CN_LIST);
    if (!l)
        return MS_FAIL;
    if (ms_cursor_accept(c, ')'))
        return MS_OK;
    for (unsigned pairs = 0;; pairs++) {
        uint32_t f, v;
        size_t at = c->pos;
        if (pairs == 30)
            return ms_fail(c, "RFC 2971 3.3 id", "more than 30 field-value pairs");
        MS_GUARD(ms_icp_string(p, l, MS_IMAP_CN_STRING, MS_ICP_STRING, r, &f));
        if (p->v->nodes[f].text.len > 30)
            return ms_fail_at(c, at, "RFC 2971 3.3 id", "field longer than 30 octets");
        MS_GUARD(ms_icp_sp(p, r));
        at = c->pos;
        MS_GUARD(ms_icp_string(p, l, MS_IMAP_CN_STRING, MS_ICP_STRING | MS_ICP_NIL, r, &v));
        if (p->v->nodes[v].text.len > 1024)
            return ms_fail_at(c, at, "RFC 2971 3.3 id", "value longer than 1024 octets");
        if (ms_cursor_accept(c, ')'))
            return MS_OK;
        MS_GUARD(ms_cursor_expect(c, ' ', r, "expected SP or \")\""));
    }
}

/* charset SP (RFC 5256 search-criteria: the charset is not optional) */
static enum ms_status charset_sp(struct ms_icp *p, const char *rule)
{
    if (ms_cursor_peek(&p->c) == '"') {
        MS_GUARD(ms_icp_string(p, 0, MS_IMAP_CN_STRING, 1u << MS_IMAP_CF_QUOTED, rule, NULL));
    } else {
        uint32_t n = ms_icp_node(p, 0, MS_IMAP_CN_STRING);
        if (!n)
            return MS_FAIL;
        MS_GUARD(ms_cursor_token(&p->c, MS_C_IMAP_ATOM, ms_cursor_left(&p->c), &p->v->nodes[n].text,
                                 rule, "expected a charset"));
    }
    return ms_icp_sp(p, rule);
}

/*
 * sort = ["UID" SP] "SORT" SP sort-criteria SP search-criteria     (RFC 5256 5)
 * sort =/ ["UID" SP] "SORT" search-return-opts SP sort-criteria SP search-criteria
 *   (ESORT and CONTEXT=SORT, RFC 5267 3.1 and 4.4: MIN MAX ALL COUNT SAVE UPDATE CONTEXT PARTIAL)
 * sort-criteria = "(" sort-criterion *(SP sort-criterion) ")"
 * sort-criterion = ["REVERSE" SP] sort-key
 * sort-key = "ARRIVAL" / "CC" / "DATE" / "FROM" / "SIZE" / "SUBJECT" / "TO"
 *            / "DISPLAYFROM" / "DISPLAYTO"                         (RFC 5957)
 * search-criteria = charset 1*(SP search-key)
 */
static enum ms_status a_sort(struct ms_icp *p)
{
    struct ms_cursor *c = &p->c;
    const char *r = "RFC 5256 5 sort-criteria";
    static const char *const keys[] = {"ARRIVAL", "CC", "DATE",        "FROM",      "SIZE",
                                       "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO", NULL};

    MS_GUARD(ms_icp_sp(p, "RFC 5256 5 sort"));
    size_t at = c->pos;
    if (ms_cursor_accept_ci(c, "RETURN") && ms_cursor_peek(c) == ' ') {
        MS_GUARD(ms_icp_return_opts(p, 0));
        MS_GUARD(ms_icp_sp(p, "RFC 5267 3.1 sort"));
    } else {
        c->pos = at;
    }
    MS_GUARD(ms_cursor_expect(c, '(', r, "expected \"(\""));
    uint32_t l = ms_icp_node(p, 0, MS_IMAP_CN_LIST);
    if (!l)
        return MS_FAIL;
    for (;;) {
        at = c->pos;
        if (ms_cursor_accept_ci(c, "REVERSE") && ms_cursor_peek(c) == ' ') {
            MS_GUARD(ms_icp_kw_node(p, l, "REVERSE"));
            c->pos++;
        } else {
            c->pos = at;
        }
        int k = ms_icp_keyword(p, keys);
        if (k < 0)
            return ms_fail(c, "RFC 5256 5 sort-key", "unknown sort key");
        MS_GUARD(ms_icp_kw_node(p, l, keys[k]));
        if (ms_cursor_accept(c, ')'))
            break;
        MS_GUARD(ms_cursor_expect(c, ' ', r, "expected SP or \")\""));
    }
    MS_GUARD(ms_icp_sp(p, "RFC 5256 5 sort"));
    MS_GUARD(charset_sp(p, "RFC 5256 5 search-criteria"));
    return ms_icp_search_keys(p, 0);
}

/* thread = ["UID" SP] "THREAD" SP thread-alg SP search-criteria     (RFC 5256 5)
 * thread-alg = "ORDEREDSUBJECT" / "REFERENCES" / thread-alg-ext (atom) */
static enum ms_status a_thread(struct ms_icp *p)
{
    MS_GUARD(ms_icp_sp(p, "RFC 5256 5 thread"));
    MS_GUARD(ms_icp_atom(p, 0, "RFC 5256 5 thread-alg", "expected a threading algorithm"));
    MS_GUARD(ms_icp_sp(p, "RFC 5256 5 thread"));
    MS_GUARD(charset_sp(p, "RFC 5256 5 search-criteria"));
    return ms_icp_search_keys(p, 0);
}

/* getquota = "GETQUOTA" SP quota-root-name; quota-root-name = astring (RFC 9208 7) */
static enum ms_status a_getquota(struct ms_icp *p)
{
    MS_GUARD(ms_icp_sp(p, "RFC 9208 7 getquota"));
    return ms_icp_string(p, 0, MS_IMAP_CN_STRING, MS_ICP_ASTRING, "RFC 9208 7 quota-root-name",
                         NULL);
}

/*
 * setquota = "SETQUOTA" SP quota-root-name SP setquota-list          (RFC 9208 7)
 * setquota-list = "(" [setquota-resource *(SP setquota-resource)] ")"
 * setquota-resource = resource-name SP resource-limit; resource-limit = number64
 */
static enum ms_status a_setquota(struct ms_icp *p)
{
    struct ms_cursor *c = &p->c;
    const char *r = "RFC 9208 7 setquota-list";

    MS_GUARD(a_getquota(p));
    MS_GUARD(ms_icp_sp(p, "RFC 9208 7 setquota"));
    MS_GUARD(ms_cursor_expect(c, '(', r, "expected \"(\""));
    uint32_t l = ms_icp_node(p, 0, MS_IMAP_CN_LIST);
    if (!l)
        return MS_FAIL;
    if (ms_cursor_accept(c, ')'))
        return MS_OK;
    for (;;) {
        MS_GUARD(ms_icp_atom(p, l, "RFC 9208 7 resource-name", "expected a resource name"));
        MS_GUARD(ms_icp_sp(p, r));
        MS_GUARD(ms_icp_number_node(p, l, 0, INT64_MAX, "RFC 9208 7 resource-limit"));
        if (ms_cursor_accept(c, ')'))
            return MS_OK;
        MS_GUARD(ms_cursor_expect(c, ' ', r, "expected SP or \")\""));
    }
}

/*
 * ACL (RFC 4314 7): identifier = astring; rights = astring ("only lowercase
 * ASCII letters and digits are allowed"); mod-rights = astring ("+rights to
 * add, -rights to remove, rights to replace").
 */
static enum ms_status acl_string(struct ms_icp *p, const char *rule, int rights, int mod)
{
    uint32_t n;
    size_t at = p->c.pos;

    MS_GUARD(ms_icp_sp(p, R_COMMAND));
    at = p->c.pos;
    MS_GUARD(ms_icp_string(p, 0, MS_IMAP_CN_STRING, MS_ICP_ASTRING, rule, &n));
    if (!rights)
        return MS_OK;
    struct ms_slice s = p->v->nodes[n].text;
    size_t k = mod && s.len && (s.ptr[0] == '+' || s.ptr[0] == '-') ? 1 : 0;
    for (; k < s.len; k++) {
        unsigned char ch = (unsigned char)s.ptr[k];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
            return ms_fail_at(&p->c, at, rule,
                              mod ? "rights are [+|-] then lower-case letters and digits"
                                  : "rights are lower-case letters and digits");
    }
    return MS_OK;
}

/* setacl = "SETACL" SP mailbox SP identifier SP mod-rights (RFC 4314 7) */
static enum ms_status a_setacl(struct ms_icp *p)
{
    MS_GUARD(a_mailbox(p));
    MS_GUARD(acl_string(p, "RFC 4314 7 identifier", 0, 0));
    return acl_string(p, "RFC 4314 7 mod-rights", 1, 1);
}

/* deleteacl / listrights = "..." SP mailbox SP identifier (RFC 4314 7) */
static enum ms_status a_mailbox_identifier(struct ms_icp *p)
{
    MS_GUARD(a_mailbox(p));
    return acl_string(p, "RFC 4314 7 identifier", 0, 0);
}

/*
 * METADATA (RFC 5464 5):
 * setmetadata  = "SETMETADATA" SP mailbox SP entry-values
 * entry-values = "(" entry-value *(SP entry-value) ")"
 * entry-value  = entry SP value;  value = nstring / literal8
 * getmetadata  = "GETMETADATA" [SP getmetadata-options] SP mailbox SP entries
 * getmetadata-options = "(" getmetadata-option *(SP getmetadata-option) ")"
 * getmetadata-option = "MAXSIZE" SP number / "DEPTH" SP ("0" / "1" / "infinity")
 * entries = entry / "(" entry *(SP entry) ")"
 * entry = astring ("MUST NOT contain asterisk or percent")
 */
static enum ms_status md_entry(struct ms_icp *p, uint32_t parent)
{
    uint32_t n;
    size_t at = p->c.pos;

    MS_GUARD(ms_icp_string(p, parent, MS_IMAP_CN_STRING, MS_ICP_ASTRING, "RFC 5464 5 entry", &n));
    struct ms_slice s = p->v->nodes[n].text;
    if (memchr(s.ptr, '*', s.len) || memchr(s.ptr, '%', s.len))
        return ms_fail_at(&p->c, at, "RFC 5464 5 entry", "an entry name has no \"*\" or \"%\"");
    return MS_OK;
}

static enum ms_status a_setmetadata(struct ms_icp *p)
{
    struct ms_cursor *c = &p->c;
    const char *r = "RFC 5464 5 entry-values";

    MS_GUARD(a_mailbox(p));
    MS_GUARD(ms_icp_sp(p, "RFC 5464 5 setmetadata"));
    MS_GUARD(ms_cursor_expect(c, '(', r, "expected \"(\""));
    uint32_t l = ms_icp_node(p, 0, MS_IMAP_CN_LIST);
    if (!l)
        return MS_FAIL;
    for (;;) {
        MS_GUARD(md_entry(p, l));
        MS_GUARD(ms_icp_sp(p, "RFC 5464 5 entry-value"));
        MS_GUARD(ms_icp_string(p, l, MS_IMAP_CN_STRING,
                               MS_ICP_STRING | MS_ICP_NIL | (1u << MS_IMAP_CF_LITERAL8) |
                                   (1u << MS_IMAP_CF_LITERAL8_PLUS),
                               "RFC 5464 5 value", NULL));
        if (ms_cursor_accept(c, ')'))
            return MS_OK;
        MS_GUARD(ms_cursor_expect(c, ' ', r, "expected SP or \")\""));
    }
}

static enum ms_status a_getmetadata(struct ms_icp *p)
{
    struct ms_cursor *c = &p->c;
    const char *r = "RFC 5464 5 getmetadata-option";

    MS_GUARD(ms_icp_sp(p, R_COMMAND));
    if (ms_cursor_accept(c, '(')) {
        uint32_t l = ms_icp_node(p, 0, MS_IMAP_CN_LIST);
        if (!l)
            return MS_FAIL;
        static const char *const opts[] = {"MAXSIZE", "DEPTH", NULL};
        unsigned seen = 0;
        for (;;) {
            size_t at = c->pos;
            int k = ms_icp_keyword(p, opts);
            if (k < 0)
                return ms_fail(c, r, "expected MAXSIZE or DEPTH");
            if (seen & (1u << k))
                return ms_fail_at(c, at, r, "option given twice");
            seen |= 1u << k;
            MS_GUARD(ms_icp_kw_node(p, l, opts[k]));
            MS_GUARD(ms_icp_sp(p, r));
            if (k == 0) {
                MS_GUARD(ms_icp_number_node(p, l, 0, UINT32_MAX, "RFC 5464 5 maxsize-opt"));
            } else {
                static const char *const depths[] = {"0", "1", "INFINITY", NULL};
                static const char *const canon[] = {"0", "1", "infinity"};
                int d = ms_icp_keyword(p, depths);
                if (d < 0)
                    return ms_fail(c, "RFC 5464 5 scope-opt", "expected 0, 1 or infinity");
                MS_GUARD(ms_icp_kw_node(p, l, canon[d]));
            }
            if (ms_cursor_accept(c, ')'))
                break;
            MS_GUARD(
                ms_cursor_expect(c, ' ', "RFC 5464 5 getmetadata-options", "expected SP or \")\""));
        }
        MS_GUARD(ms_icp_sp(p, "RFC 5464 5 getmetadata"));
    }
    MS_GUARD(ms_icp_mailbox(p, 0));
    MS_GUARD(ms_icp_sp(p, "RFC 5464 5 getmetadata"));
    if (!ms_cursor_accept(c, '('))
        return md_entry(p, 0);
    uint32_t l = ms_icp_node(p, 0, MS_IMAP_CN_LIST);
    if (!l)
        return MS_FAIL;
    for (;;) {
        MS_GUARD(md_entry(p, l));
        if (ms_cursor_accept(c, ')'))
            return MS_OK;
        MS_GUARD(ms_cursor_expect(c, ' ', "RFC 5464 5 entries", "expected SP or \")\""));
    }
}

/* compress = "COMPRESS" SP algorithm; algorithm = "DEFLATE" (RFC 4978 4). The bytes
 * after the server's OK are compressed; this parser does not inflate them. */
static enum ms_status a_compress(struct ms_icp *p)
{
    MS_GUARD(ms_icp_sp(p, "RFC 4978 4 compress"));
    return ms_icp_atom(p, 0, "RFC 4978 4 algorithm", "expected a compression algorithm");
}

/*
 * notify = "NOTIFY" SP (notify-set / notify-none)                      (RFC 5465 8)
 * notify-set = "SET" [status-indicator] SP event-groups;  notify-none = "NONE"
 * status-indicator = SP "STATUS";  event-groups = event-group *(SP event-group)
 * event-group = "(" filter-mailboxes SP events ")"
 * filter-mailboxes = filter-mailboxes-selected / filter-mailboxes-other
 * filter-mailboxes-selected = "selected" / "selected-delayed"
 * filter-mailboxes-other = "inboxes" / "personal" / "subscribed" /
 *                          ("subtree" SP one-or-more-mailbox) / ("mailboxes" SP
 * one-or-more-mailbox) one-or-more-mailbox = mailbox / many-mailboxes; many-mailboxes = "(" mailbox
 * *(SP mailbox) ")" events = ("(" event *(SP event) ")") / "NONE" event = message-event /
 * mailbox-event / user-event / event-ext;  event-ext = atom message-event = ("MessageNew" [SP "("
 * fetch-att *(SP fetch-att) ")"]) / "MessageExpunge" / "FlagChange" / "AnnotationChange"
 * mailbox-event = "MailboxName" / "SubscriptionChange" / "MailboxMetadataChange"
 * user-event = "ServerMetadataChange"
 * Nodes: SET [STATUS] then one list per event group (filter [mailbox / list], NONE / list of
 * events, MessageNew followed by its fetch-att list), or NONE.
 */
static enum ms_status notify_events(struct ms_icp *p, uint32_t parent)
{
    struct ms_cursor *c = &p->c;
    const char *r = "RFC 5465 8 events";
    static const char *const names[] = {"MESSAGENEW",
                                        "MESSAGEEXPUNGE",
                                        "FLAGCHANGE",
                                        "ANNOTATIONCHANGE",
                                        "MAILBOXNAME",
                                        "SUBSCRIPTIONCHANGE",
                                        "MAILBOXMETADATACHANGE",
                                        "SERVERMETADATACHANGE",
                                        NULL};
    static const char *const canon[] = {"MessageNew",
                                        "MessageExpunge",
                                        "FlagChange",
                                        "AnnotationChange",
                                        "MailboxName",
                                        "SubscriptionChange",
                                        "MailboxMetadataChange",
                                        "ServerMetadataChange"};

    if (ms_icp_keyword(p, (const char *const[]){"NONE", NULL}) == 0)
        return ms_icp_kw_node(p, parent, "NONE");
    MS_GUARD(ms_cursor_expect(c, '(', r, "expected \"(\" and events, or NONE"));
    uint32_t l = ms_icp_node(p, parent, MS_IMAP_CN_LIST);
    if (!l)
        return MS_FAIL;
    for (;;) {
        int k = ms_icp_keyword(p, names);
        if (k >= 0) {
            MS_GUARD(ms_icp_kw_node(p, l, canon[k]));
        } else {
            MS_GUARD(ms_icp_atom(p, l, "RFC 5465 8 event-ext", "expected an event name"));
        }
        if (k == 0 && ms_cursor_peek(c) == ' ' && ms_cursor_peek_at(c, 1) == '(') {
            c->pos++;
            MS_GUARD(ms_icp_fetch_att_list(p, l));
        }
        if (ms_cursor_accept(c, ')'))
            return MS_OK;
        MS_GUARD(ms_cursor_expect(c, ' ', r, "expected SP or \")\""));
    }
}

static enum ms_status notify_group(struct ms_icp *p, uint32_t parent)
{
    struct ms_cursor *c = &p->c;
    const char *r = "RFC 5465 8 filter-mailboxes";
    static const char *const filters[] = {"SELECTED",   "SELECTED-DELAYED", "INBOXES",   "PERSONAL",
                                          "SUBSCRIBED", "SUBTREE",          "MAILBOXES", NULL};
    static const char *const canon[] = {"selected",   "selected-delayed", "inboxes",  "personal",
                                        "subscribed", "subtree",          "mailboxes"};

    MS_GUARD(ms_cursor_expect(c, '(', "RFC 5465 8 event-group", "expected \"(\""));
    uint32_t g = ms_icp_node(p, parent, MS_IMAP_CN_LIST);
    if (!g)
        return MS_FAIL;
    int k = ms_icp_keyword(p, filters);
    if (k < 0)
        return ms_fail(c, r,
                       "expected selected, selected-delayed, inboxes, personal, subscribed, "
                       "subtree or mailboxes");
    MS_GUARD(ms_icp_kw_node(p, g, canon[k]));
    if (k >= 5) {
        /* one-or-more-mailbox = mailbox / "(" mailbox *(SP mailbox) ")" */
        MS_GUARD(ms_icp_sp(p, r));
        if (ms_cursor_accept(c, '(')) {
            uint32_t m = ms_icp_node(p, g, MS_IMAP_CN_LIST);
            if (!m)
                return MS_FAIL;
            for (;;) {
                MS_GUARD(ms_icp_mailbox(p, m));
                if (ms_cursor_accept(c, ')'))
                    break;
                MS_GUARD(
                    ms_cursor_expect(c, ' ', "RFC 5465 8 many-mailboxes", "expected SP or \")\""));
            }
        } else {
            MS_GUARD(ms_icp_mailbox(p, g));
        }
    }
    MS_GUARD(ms_icp_sp(p, "RFC 5465 8 event-group"));
    MS_GUARD(notify_events(p, g));
    return ms_cursor_expect(c, ')', "RFC 5465 8 event-group", "expected \")\"");
}

static enum ms_status a_notify(struct ms_icp *p)
{
    struct ms_cursor *c = &p->c;
    static const char *const ops[] = {"SET", "NONE", NULL};

    MS_GUARD(ms_icp_sp(p, "RFC 5465 8 notify"));
    int k = ms_icp_keyword(p, ops);
    if (k < 0)
        return ms_fail(c, "RFC 5465 8 notify", "expected SET or NONE");
    MS_GUARD(ms_icp_kw_node(p, 0, ops[k]));
    if (k == 1)
        return MS_OK;
    size_t at = c->pos;
    if (ms_cursor_accept_ci(c, " STATUS") && ms_icp_at_delim(p)) {
        MS_GUARD(ms_icp_kw_node(p, 0, "STATUS"));
    } else {
        c->pos = at;
    }
    MS_GUARD(ms_icp_sp(p, "RFC 5465 8 notify-set"));
    for (;;) {
        MS_GUARD(notify_group(p, 0));
        if (ms_cursor_eof(c))
            return MS_OK;
        MS_GUARD(ms_icp_sp_more(p, "RFC 5465 8 event-groups"));
    }
}

/* cancelupdate = "CANCELUPDATE" *(SP quoted)                          (RFC 5267 4.2) */
static enum ms_status a_cancelupdate(struct ms_icp *p)
{
    while (!ms_cursor_eof(&p->c)) {
        MS_GUARD(ms_icp_sp_more(p, "RFC 5267 4.2 cancelupdate"));
        if (ms_cursor_peek(&p->c) != '"')
            return ms_fail(&p->c, "RFC 5267 4.2 cancelupdate",
                           "expected the tag of a search, quoted");
        MS_GUARD(ms_icp_string(p, 0, MS_IMAP_CN_STRING, 1u << MS_IMAP_CF_QUOTED,
                               "RFC 5267 4.2 cancelupdate", NULL));
    }
    return MS_OK;
}

struct cmd_def {
    const char *name;
    uint8_t cmd;
    uint8_t uid_ok; /* may follow "UID" */
    enum ms_status (*args)(struct ms_icp *p);
};

static const struct cmd_def cmds[] = {
    {"CAPABILITY", MS_IMAP_CMD_CAPABILITY, 0, a_none},
    {"NOOP", MS_IMAP_CMD_NOOP, 0, a_none},
    {"LOGOUT", MS_IMAP_CMD_LOGOUT, 0, a_none},
    {"STARTTLS", MS_IMAP_CMD_STARTTLS, 0, a_none},
    {"AUTHENTICATE", MS_IMAP_CMD_AUTHENTICATE, 0, a_authenticate},
    {"LOGIN", MS_IMAP_CMD_LOGIN, 0, a_login},
    {"ENABLE", MS_IMAP_CMD_ENABLE, 0, a_enable},
    {"SELECT", MS_IMAP_CMD_SELECT, 0, a_select},
    {"EXAMINE", MS_IMAP_CMD_EXAMINE, 0, a_select},
    {"CREATE", MS_IMAP_CMD_CREATE, 0, a_create},
    {"DELETE", MS_IMAP_CMD_DELETE, 0, a_mailbox},
    {"RENAME", MS_IMAP_CMD_RENAME, 0, a_rename},
    {"SUBSCRIBE", MS_IMAP_CMD_SUBSCRIBE, 0, a_mailbox},
    {"UNSUBSCRIBE", MS_IMAP_CMD_UNSUBSCRIBE, 0, a_mailbox},
    {"LIST", MS_IMAP_CMD_LIST, 0, a_list},
    {"LSUB", MS_IMAP_CMD_LSUB, 0, a_lsub},
    {"NAMESPACE", MS_IMAP_CMD_NAMESPACE, 0, a_none},
    {"STATUS", MS_IMAP_CMD_STATUS, 0, a_status},
    {"APPEND", MS_IMAP_CMD_APPEND, 0, a_append},
    {"IDLE", MS_IMAP_CMD_IDLE, 0, a_none},
    {"CHECK", MS_IMAP_CMD_CHECK, 0, a_none},
    {"CLOSE", MS_IMAP_CMD_CLOSE, 0, a_none},
    {"UNSELECT", MS_IMAP_CMD_UNSELECT, 0, a_none},
    {"EXPUNGE", MS_IMAP_CMD_EXPUNGE, 1, a_expunge},
    {"SEARCH", MS_IMAP_CMD_SEARCH, 1, a_search},
    {"FETCH", MS_IMAP_CMD_FETCH, 1, a_fetch},
    {"STORE", MS_IMAP_CMD_STORE, 1, a_store},
    {"COPY", MS_IMAP_CMD_COPY, 1, a_seqset_mailbox},
    {"MOVE", MS_IMAP_CMD_MOVE, 1, a_seqset_mailbox},
    {"ID", MS_IMAP_CMD_ID, 0, a_id},
    {"SORT", MS_IMAP_CMD_SORT, 1, a_sort},
    {"THREAD", MS_IMAP_CMD_THREAD, 1, a_thread},
    {"GETQUOTA", MS_IMAP_CMD_GETQUOTA, 0, a_getquota},
    {"GETQUOTAROOT", MS_IMAP_CMD_GETQUOTAROOT, 0, a_mailbox},
    {"SETQUOTA", MS_IMAP_CMD_SETQUOTA, 0, a_setquota},
    {"COMPRESS", MS_IMAP_CMD_COMPRESS, 0, a_compress},
    {"SETACL", MS_IMAP_CMD_SETACL, 0, a_setacl},
    {"DELETEACL", MS_IMAP_CMD_DELETEACL, 0, a_mailbox_identifier},
    {"GETACL", MS_IMAP_CMD_GETACL, 0, a_mailbox},
    {"LISTRIGHTS", MS_IMAP_CMD_LISTRIGHTS, 0, a_mailbox_identifier},
    {"MYRIGHTS", MS_IMAP_CMD_MYRIGHTS, 0, a_mailbox},
    {"SETMETADATA", MS_IMAP_CMD_SETMETADATA, 0, a_setmetadata},
    {"GETMETADATA", MS_IMAP_CMD_GETMETADATA, 0, a_getmetadata},
    {"NOTIFY", MS_IMAP_CMD_NOTIFY, 0, a_notify},
    {"CANCELUPDATE", MS_IMAP_CMD_CANCELUPDATE, 0, a_cancelupdate},
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

const char *ms_imap_cmd_name(enum ms_imap_cmd cmd)
{
    for (size_t i = 0; i < NCMDS; i++)
        if (cmds[i].cmd == cmd)
            return cmds[i].name;
    return NULL;
}

void ms_imap_command_exchange_end(struct ms_imap_command_state *st)
{
    st->mode = MS_IMAP_CS_COMMAND;
}

void ms_imap_command_tagged_reply(struct ms_imap_command_state *st, const char *tag, size_t tag_len)
{
    if (st->mode == MS_IMAP_CS_COMMAND)
        return;
    /* A reply to an earlier pipelined command does not end the exchange. */
    if (st->tag_len && (tag_len != st->tag_len || memcmp(tag, st->tag, tag_len) != 0))
        return;
    st->mode = MS_IMAP_CS_COMMAND;
}

/* command = tag SP (command-any / command-auth / command-nonauth / command-select) CRLF */
static enum ms_status parse_command(struct ms_icp *p)
{
    struct ms_cursor *c = &p->c;
    struct ms_imap_command *v = p->v;
    struct ms_slice name;

    int ch = ms_cursor_peek(c);
    if (ch < 0 || !ms_is((unsigned char)ch, MS_C_IMAP_TAG))
        return ms_fail(c, R_TAG,
                       ch == '+' ? "\"+\" is not allowed in a tag"
                                 : "expected a tag (ASTRING-CHAR except \"+\")");
    ms_cursor_span(c, MS_C_IMAP_TAG, c->len, &v->tag);
    ch = ms_cursor_peek(c);
    if (ch == '+')
        return ms_fail(c, R_TAG, "\"+\" is not allowed in a tag");
    if (ch != ' ')
        return ms_fail(c, R_TAG,
                       ch < 0 ? "expected SP and a command after the tag"
                              : "character not allowed in a tag");
    MS_GUARD(ms_icp_sp(p, R_TAG));
    size_t at = c->pos;
    ms_cursor_span(c, MS_C_IMAP_ATOM, c->len, &name);
    if (name.len == 0)
        return ms_fail(c, R_COMMAND, "expected a command name");
    if (ms_slice_ieq(name, "UID")) {
        v->uid = 1;
        MS_GUARD(ms_cursor_expect(c, ' ', "RFC 9051 9 uid", "expected SP after UID"));
        at = c->pos;
        ms_cursor_span(c, MS_C_IMAP_ATOM, c->len, &name);
    }
    const struct cmd_def *d = NULL;
    for (size_t i = 0; i < NCMDS && !d; i++)
        if (ms_slice_ieq(name, cmds[i].name))
            d = &cmds[i];
    if (!d)
        return ms_fail_at(
            c, at, v->uid ? "RFC 9051 9 uid" : R_COMMAND,
            v->uid ? "expected COPY, MOVE, FETCH, SEARCH, STORE, EXPUNGE, SORT or THREAD after UID"
                   : "unknown command");
    if (v->uid && !d->uid_ok)
        return ms_fail_at(
            c, at, "RFC 9051 9 uid",
            "expected COPY, MOVE, FETCH, SEARCH, STORE, EXPUNGE, SORT or THREAD after UID");
    v->cmd = d->cmd;
    MS_GUARD(d->args(p));
    if (!ms_cursor_eof(c))
        return ms_fail(c, R_COMMAND,
                       ms_cursor_peek(c) == ' ' && ms_cursor_left(c) == 1
                           ? "trailing SP before CRLF"
                           : "expected CRLF (end of the command)");
    return MS_OK;
}

static void view_reset(struct ms_imap_command *v)
{
    v->msg = MS_IMAP_MSG_COMMAND;
    v->cmd = MS_IMAP_CMD_NONE;
    v->uid = 0;
    v->tag.ptr = NULL;
    v->tag.len = 0;
    v->line.ptr = NULL;
    v->line.len = 0;
    memset(&v->quirks, 0, sizeof(v->quirks));
    memset(&v->nodes[0], 0, sizeof(v->nodes[0]));
    v->nnodes = 1;
}

/* Inside AUTHENTICATE: a line without SP is a SASL response (base64, or "*"). */
static ssize_t parse_sasl(struct ms_imap_command_state *st, const struct ms_limits *lim,
                          const char *buf, size_t len, struct ms_imap_command *v, int *done,
                          struct ms_error *err, int *is_command)
{
    size_t tl;
    int bare;
    ssize_t n = ms_line_find(buf, len, lim->imap_line, lim->lenient, &tl, &bare, err,
                             "RFC 9051 6.2.2 authenticate");
    *is_command = 0;
    if (n <= 0)
        return n;
    if (memchr(buf, ' ', tl)) {
        /* Base64 has no SP and every command has one: the exchange is over. */
        *is_command = 1;
        return 0;
    }
    view_reset(v);
    v->line.ptr = buf;
    v->line.len = tl;
    if (bare)
        ms_quirk_add(&v->quirks, tl, "RFC 9051 9 CRLF", "bare LF ends the line");
    if (tl == 1 && buf[0] == '*') {
        v->msg = MS_IMAP_MSG_SASL_CANCEL;
        st->mode = MS_IMAP_CS_COMMAND;
    } else {
        struct ms_cursor c;
        ms_cursor_init(&c, buf, tl, err, R_BASE64);
        if (check_base64(&c, 0, tl) != MS_OK) {
            err->skip = (size_t)n;
            return MS_FAIL;
        }
        v->msg = MS_IMAP_MSG_SASL;
    }
    *done = 1;
    return n;
}

/* Inside IDLE: "DONE" (RFC 2177 3, RFC 9051 6.3.13). */
static ssize_t parse_done(struct ms_imap_command_state *st, const struct ms_limits *lim,
                          const char *buf, size_t len, struct ms_imap_command *v, int *done,
                          struct ms_error *err)
{
    size_t tl;
    int bare;
    ssize_t n = ms_line_find(buf, len, lim->imap_line, lim->lenient, &tl, &bare, err,
                             "RFC 9051 6.3.13 idle");
    if (n <= 0)
        return n;
    /* Like servers that answer anything else with BAD, IDLE ends either way. */
    st->mode = MS_IMAP_CS_COMMAND;
    if (!ms_slice_ieq((struct ms_slice){buf, tl}, "DONE"))
        return ms_error_set(err, 0, MS_ERR_SYNTAX, "RFC 9051 9 idle", "expected DONE to end IDLE",
                            (size_t)n);
    view_reset(v);
    v->msg = MS_IMAP_MSG_DONE;
    v->line.ptr = buf;
    v->line.len = tl;
    if (bare)
        ms_quirk_add(&v->quirks, tl, "RFC 9051 9 CRLF", "bare LF ends the line");
    *done = 1;
    return n;
}

static ssize_t cmd_parse(void *state, const struct ms_limits *lim, const char *buf, size_t len,
                         void *view, int *done, struct ms_error *err)
{
    struct ms_imap_command_state *st = state;
    struct ms_imap_command *v = view;

    *done = 0;
    if (st->mode == MS_IMAP_CS_IDLE)
        return parse_done(st, lim, buf, len, v, done, err);
    if (st->mode == MS_IMAP_CS_AUTH) {
        int is_command;
        ssize_t r = parse_sasl(st, lim, buf, len, v, done, err, &is_command);
        if (!is_command)
            return r;
    }
    ssize_t n = ms_imap_frame(lim, MS_IMAP_CLIENT, buf, len, err);
    if (n == MS_FAIL)
        st->mode = MS_IMAP_CS_COMMAND;
    if (n <= 0)
        return n;
    /* Complete: from here on the state may change. */
    st->mode = MS_IMAP_CS_COMMAND;
    view_reset(v);
    size_t end = (size_t)n;
    if (end >= 2 && buf[end - 2] == '\r')
        end -= 2;
    else {
        end -= 1;
        ms_quirk_add(&v->quirks, end, "RFC 9051 9 CRLF", "bare LF ends the command");
    }
    struct ms_icp p;
    ms_cursor_init(&p.c, buf, end, err, R_COMMAND);
    p.lim = lim;
    p.v = v;
    p.st = st;
    if (parse_command(&p) != MS_OK) {
        err->skip = (size_t)n;
        return MS_FAIL;
    }
    switch (v->cmd) {
    case MS_IMAP_CMD_AUTHENTICATE:
    case MS_IMAP_CMD_IDLE:
        st->mode = v->cmd == MS_IMAP_CMD_IDLE ? MS_IMAP_CS_IDLE : MS_IMAP_CS_AUTH;
        st->tag_len = 0;
        if (v->tag.len <= MS_IMAP_CMD_TAG_KEEP) {
            memcpy(st->tag, v->tag.ptr, v->tag.len);
            st->tag_len = (uint8_t)v->tag.len;
        }
        break;
    case MS_IMAP_CMD_ENABLE:
        /* RFC 6855 3: once UTF8=ACCEPT is enabled, mailbox names are UTF-8. */
        for (uint32_t i = v->nodes[0].child; i; i = v->nodes[i].next)
            if (ms_slice_ieq(v->nodes[i].text, "UTF8=ACCEPT"))
                st->utf8 = 1;
        break;
    default:
        break;
    }
    *done = 1;
    return (ssize_t)n;
}

static void cmd_init(void *state, const struct ms_limits *lim)
{
    struct ms_imap_command_state *st = state;
    (void)lim;
    st->mode = MS_IMAP_CS_COMMAND;
    st->utf8 = 0;
}

/* ---- JSON ---- */

/* A string's value: quoted strings with their escapes removed. */
static void json_text(struct ms_out *o, struct ms_slice s, int quoted)
{
    char tmp[512 * 6 + 8];
    struct ms_out t;
    size_t i = 0;

    ms_out_bytes(o, "\"", 1);
    while (i < s.len) {
        size_t j = i;
        /* A run without backslashes, at most 512 bytes, not cutting UTF-8. */
        while (j < s.len && j - i < 512 && !(quoted && s.ptr[j] == '\\'))
            j++;
        while (j < s.len && j > i && ((unsigned char)s.ptr[j] & 0xC0) == 0x80)
            j--;
        if (j == i && quoted && s.ptr[j] == '\\') {
            if (j + 1 < s.len) {
                ms_out_bytes(o, s.ptr[j + 1] == '"' ? "\\\"" : "\\\\", 2);
                i = j + 2;
            } else {
                i = j + 1;
            }
            continue;
        }
        if (j == i)
            j = i + 1;
        ms_out_init(&t, tmp, sizeof(tmp));
        ms_out_json_str(&t, s.ptr + i, j - i);
        ms_out_bytes(o, tmp + 1, t.len - 2);
        i = j;
    }
    ms_out_bytes(o, "\"", 1);
}

static const char *const form_names[] = {"atom",     "quoted",   "literal",
                                         "literal+", "literal8", "literal8+"};

static void json_node(struct ms_out *o, const struct ms_imap_command *v, uint32_t i);

static void json_children(struct ms_out *o, const struct ms_imap_command *v, uint32_t i)
{
    ms_out_bytes(o, "[", 1);
    for (uint32_t k = v->nodes[i].child; k; k = v->nodes[k].next) {
        if (k != v->nodes[i].child)
            ms_out_bytes(o, ",", 1);
        json_node(o, v, k);
    }
    ms_out_bytes(o, "]", 1);
}

/* Our own keyword tables: plain ASCII, nothing to escape. */
static void json_static(struct ms_out *o, const char *s)
{
    ms_out_bytes(o, "\"", 1);
    ms_out_str(o, s);
    ms_out_bytes(o, "\"", 1);
}

static void json_kw(struct ms_out *o, const struct ms_imap_cnode *n)
{
    if (n->kw)
        json_static(o, n->kw);
    else
        ms_out_json_slice(o, n->text);
}

static void json_node(struct ms_out *o, const struct ms_imap_command *v, uint32_t i)
{
    const struct ms_imap_cnode *n = &v->nodes[i];

    switch (n->type) {
    case MS_IMAP_CN_LIST:
        ms_out_str(o, "{\"list\":");
        json_children(o, v, i);
        break;
    case MS_IMAP_CN_ATOM:
        ms_out_str(o, "{\"atom\":");
        json_kw(o, n);
        break;
    case MS_IMAP_CN_NUMBER:
        ms_out_str(o, "{\"number\":");
        ms_out_u64(o, n->num);
        break;
    case MS_IMAP_CN_STRING:
    case MS_IMAP_CN_MAILBOX:
        ms_out_str(o, n->type == MS_IMAP_CN_STRING ? "{\"string\":" : "{\"mailbox\":");
        json_text(o, n->text, n->form == MS_IMAP_CF_QUOTED);
        ms_out_str(o, ",\"form\":\"");
        ms_out_str(o, form_names[n->form]);
        ms_out_str(o, "\"");
        break;
    case MS_IMAP_CN_MESSAGE:
        ms_out_str(o, "{\"message\":");
        ms_out_u64(o, n->text.len);
        ms_out_str(o, ",\"form\":\"");
        ms_out_str(o, form_names[n->form]);
        ms_out_str(o, "\"");
        break;
    case MS_IMAP_CN_NIL:
        ms_out_str(o, "{\"nil\":null");
        break;
    case MS_IMAP_CN_SEQSET:
        ms_out_str(o, "{\"seqset\":");
        ms_out_json_slice(o, n->text);
        break;
    case MS_IMAP_CN_FLAG:
        ms_out_str(o, "{\"flag\":");
        ms_out_json_slice(o, n->text);
        break;
    case MS_IMAP_CN_FETCH:
        ms_out_str(o, "{\"fetch\":");
        json_kw(o, n);
        if (n->flags & MS_IMAP_CNF_SECTION) {
            ms_out_str(o, ",\"section\":{");
            int comma = 0;
            if (n->text.len) {
                ms_out_str(o, "\"part\":");
                ms_out_json_slice(o, n->text);
                comma = 1;
            }
            if (n->kw2) {
                ms_out_str(o, comma ? ",\"text\":" : "\"text\":");
                json_static(o, n->kw2);
            }
            if (n->flags & MS_IMAP_CNF_HEADERS) {
                ms_out_str(o, ",\"headers\":");
                json_children(o, v, i);
            }
            ms_out_str(o, "}");
        }
        if (n->flags & MS_IMAP_CNF_PARTIAL) {
            ms_out_str(o, ",\"partial\":{\"offset\":");
            ms_out_u64(o, n->num);
            ms_out_str(o, ",\"length\":");
            ms_out_u64(o, n->num2);
            ms_out_str(o, "}");
        }
        if (n->flags & MS_IMAP_CNF_MODS) {
            ms_out_str(o, ",\"modifiers\":");
            json_children(o, v, i);
        }
        break;
    case MS_IMAP_CN_SEARCH:
        ms_out_str(o, "{\"search\":");
        json_kw(o, n);
        if (n->nchild) {
            ms_out_str(o, ",\"args\":");
            json_children(o, v, i);
        }
        break;
    case MS_IMAP_CN_DATE:
        ms_out_str(o, "{\"date\":");
        ms_out_json_slice(o, n->text);
        if (n->form == MS_IMAP_CF_QUOTED)
            ms_out_str(o, ",\"form\":\"quoted\"");
        break;
    case MS_IMAP_CN_DATETIME:
        ms_out_str(o, "{\"datetime\":");
        ms_out_json_slice(o, n->text);
        break;
    case MS_IMAP_CN_BASE64:
        ms_out_str(o, "{\"base64\":");
        ms_out_json_slice(o, n->text);
        break;
    default:
        ms_out_str(o, "{\"unknown\":null");
        break;
    }
    ms_out_str(o, "}");
}

static void cmd_json(const void *view, struct ms_out *o)
{
    const struct ms_imap_command *v = view;

    switch (v->msg) {
    case MS_IMAP_MSG_SASL:
        ms_out_str(o, ",\"type\":\"sasl\",\"data\":");
        ms_out_json_slice(o, v->line);
        break;
    case MS_IMAP_MSG_SASL_CANCEL:
        ms_out_str(o, ",\"type\":\"sasl-cancel\"");
        break;
    case MS_IMAP_MSG_DONE:
        ms_out_str(o, ",\"type\":\"done\"");
        break;
    default: {
        const char *name = ms_imap_cmd_name((enum ms_imap_cmd)v->cmd);
        ms_out_str(o, ",\"type\":\"command\",\"tag\":");
        ms_out_json_slice(o, v->tag);
        ms_out_str(o, ",\"command\":");
        json_static(o, name ? name : "");
        if (v->uid)
            ms_out_str(o, ",\"uid\":true");
        if (v->nodes[0].nchild) {
            ms_out_str(o, ",\"args\":");
            json_children(o, v, 0);
        }
        break;
    }
    }
    ms_out_json_quirks(o, &v->quirks);
}

/* ---- writer ---- */

static void w_node(struct ms_out *o, const struct ms_imap_command *v, uint32_t i);

static void w_children(struct ms_out *o, const struct ms_imap_command *v, uint32_t i)
{
    for (uint32_t k = v->nodes[i].child; k; k = v->nodes[k].next) {
        if (k != v->nodes[i].child)
            ms_out_bytes(o, " ", 1);
        w_node(o, v, k);
    }
}

static void w_kw(struct ms_out *o, const struct ms_imap_cnode *n)
{
    if (n->kw)
        ms_out_str(o, n->kw);
    else
        ms_out_bytes(o, n->text.ptr, n->text.len);
}

static void w_string(struct ms_out *o, const struct ms_imap_cnode *n)
{
    switch (n->form) {
    case MS_IMAP_CF_QUOTED:
        ms_out_bytes(o, "\"", 1);
        ms_out_bytes(o, n->text.ptr, n->text.len);
        ms_out_bytes(o, "\"", 1);
        return;
    case MS_IMAP_CF_LITERAL:
    case MS_IMAP_CF_LITERAL_PLUS:
    case MS_IMAP_CF_LITERAL8:
    case MS_IMAP_CF_LITERAL8_PLUS: {
        int eight = n->form == MS_IMAP_CF_LITERAL8 || n->form == MS_IMAP_CF_LITERAL8_PLUS;
        int plus = n->form == MS_IMAP_CF_LITERAL_PLUS || n->form == MS_IMAP_CF_LITERAL8_PLUS;
        ms_out_str(o, eight ? "~{" : "{");
        ms_out_u64(o, n->text.len);
        ms_out_str(o, plus ? "+}\r\n" : "}\r\n");
        ms_out_bytes(o, n->text.ptr, n->text.len);
        return;
    }
    default:
        ms_out_bytes(o, n->text.ptr, n->text.len);
        return;
    }
}

static void w_node(struct ms_out *o, const struct ms_imap_command *v, uint32_t i)
{
    const struct ms_imap_cnode *n = &v->nodes[i];

    switch (n->type) {
    case MS_IMAP_CN_LIST:
        ms_out_bytes(o, "(", 1);
        w_children(o, v, i);
        ms_out_bytes(o, ")", 1);
        break;
    case MS_IMAP_CN_ATOM:
        w_kw(o, n);
        break;
    case MS_IMAP_CN_NUMBER:
        ms_out_u64(o, n->num);
        break;
    case MS_IMAP_CN_STRING:
    case MS_IMAP_CN_MAILBOX:
    case MS_IMAP_CN_MESSAGE:
        w_string(o, n);
        break;
    case MS_IMAP_CN_NIL:
        ms_out_str(o, "NIL");
        break;
    case MS_IMAP_CN_SEQSET:
    case MS_IMAP_CN_FLAG:
    case MS_IMAP_CN_BASE64:
        ms_out_bytes(o, n->text.ptr, n->text.len);
        break;
    case MS_IMAP_CN_FETCH:
        w_kw(o, n);
        if (n->flags & MS_IMAP_CNF_SECTION) {
            ms_out_bytes(o, "[", 1);
            ms_out_bytes(o, n->text.ptr, n->text.len);
            if (n->kw2) {
                if (n->text.len)
                    ms_out_bytes(o, ".", 1);
                ms_out_str(o, n->kw2);
            }
            if (n->flags & MS_IMAP_CNF_HEADERS) {
                ms_out_bytes(o, " (", 2);
                w_children(o, v, i);
                ms_out_bytes(o, ")", 1);
            }
            ms_out_bytes(o, "]", 1);
        }
        if (n->flags & MS_IMAP_CNF_PARTIAL) {
            ms_out_bytes(o, "<", 1);
            ms_out_u64(o, n->num);
            ms_out_bytes(o, ".", 1);
            ms_out_u64(o, n->num2);
            ms_out_bytes(o, ">", 1);
        }
        if (n->flags & MS_IMAP_CNF_MODS) {
            ms_out_bytes(o, " (", 2);
            w_children(o, v, i);
            ms_out_bytes(o, ")", 1);
        }
        break;
    case MS_IMAP_CN_SEARCH:
        w_kw(o, n);
        for (uint32_t k = n->child; k; k = v->nodes[k].next) {
            ms_out_bytes(o, " ", 1);
            w_node(o, v, k);
        }
        break;
    case MS_IMAP_CN_DATE:
        if (n->form == MS_IMAP_CF_QUOTED)
            ms_out_bytes(o, "\"", 1);
        ms_out_bytes(o, n->text.ptr, n->text.len);
        if (n->form == MS_IMAP_CF_QUOTED)
            ms_out_bytes(o, "\"", 1);
        break;
    case MS_IMAP_CN_DATETIME:
        ms_out_bytes(o, "\"", 1);
        ms_out_bytes(o, n->text.ptr, n->text.len);
        ms_out_bytes(o, "\"", 1);
        break;
    default:
        o->overflow = 1; /* cannot happen: refuse rather than write garbage */
        break;
    }
}

static ssize_t cmd_write(const void *view, char *out, size_t cap)
{
    const struct ms_imap_command *v = view;
    struct ms_out o;

    /* A view with quirks is not RFC-clean: its canonical form would parse
     * to a different view (without the quirks), so it is not written. */
    if (v->quirks.n || v->quirks.dropped)
        return MS_FAIL;
    ms_out_init(&o, out, cap);
    switch (v->msg) {
    case MS_IMAP_MSG_SASL:
        ms_out_bytes(&o, v->line.ptr, v->line.len);
        break;
    case MS_IMAP_MSG_SASL_CANCEL:
        ms_out_str(&o, "*");
        break;
    case MS_IMAP_MSG_DONE:
        ms_out_str(&o, "DONE");
        break;
    default: {
        const char *name = ms_imap_cmd_name((enum ms_imap_cmd)v->cmd);
        if (!name || v->tag.len == 0)
            return MS_FAIL;
        ms_out_bytes(&o, v->tag.ptr, v->tag.len);
        ms_out_str(&o, v->uid ? " UID " : " ");
        ms_out_str(&o, name);
        for (uint32_t k = v->nodes[0].child; k; k = v->nodes[k].next) {
            ms_out_bytes(&o, " ", 1);
            w_node(&o, v, k);
        }
        break;
    }
    }
    ms_out_str(&o, "\r\n");
    if (o.overflow)
        return MS_FAIL;
    return (ssize_t)o.len;
}

const struct ms_kind ms_imap_commands_kind = {
    "imap",
    "commands",
    sizeof(struct ms_imap_command_state),
    sizeof(struct ms_imap_command),
    cmd_init,
    cmd_parse,
    cmd_json,
    cmd_write,
};
