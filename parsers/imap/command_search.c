/*
 * SEARCH (RFC 9051 6.4.4 and 9 search-key; RFC 3501 NEW/OLD/RECENT;
 * ESEARCH RETURN options RFC 4731 / 9051, SAVE RFC 5182; MODSEQ RFC 7162 3.1.5;
 * OLDER/YOUNGER RFC 5032; SAVEDBEFORE/SAVEDON/SAVEDSINCE/SAVEDATESUPPORTED
 * RFC 8514 5; CONTEXT=SEARCH/ESORT return options RFC 5267 4.4, 9394 3). Nesting ("(...)", NOT, OR)
 * is bounded by lim->imap_depth, so recursion depth is bounded.
 */
#include <string.h>

#include "command_internal.h"

enum karg {
    K_NONE,
    K_ASTRING,
    K_DATE,
    K_KEYWORD,
    K_HEADER,
    K_NUMBER64,
    K_NOT,
    K_OR,
    K_SEQSET,
    K_MODSEQ,
    K_NZ,
};

static const char *const keys[] = {
    "ALL",     "ANSWERED",   "BCC",         "BEFORE",    "BODY",       "CC",
    "DELETED", "FLAGGED",    "FROM",        "KEYWORD",   "NEW",        "OLD",
    "ON",      "RECENT",     "SEEN",        "SINCE",     "SUBJECT",    "TEXT",
    "TO",      "UNANSWERED", "UNDELETED",   "UNFLAGGED", "UNKEYWORD",  "UNSEEN",
    "DRAFT",   "HEADER",     "LARGER",      "NOT",       "OR",         "SENTBEFORE",
    "SENTON",  "SENTSINCE",  "SMALLER",     "UID",       "UNDRAFT",    "MODSEQ",
    "OLDER",   "YOUNGER",    "SAVEDBEFORE", "SAVEDON",   "SAVEDSINCE", "SAVEDATESUPPORTED",
    NULL,
};
static const unsigned char key_arg[] = {
    K_NONE,    K_NONE, K_ASTRING, K_DATE, K_ASTRING, K_ASTRING,  K_NONE,   K_NONE,    K_ASTRING,
    K_KEYWORD, K_NONE, K_NONE,    K_DATE, K_NONE,    K_NONE,     K_DATE,   K_ASTRING, K_ASTRING,
    K_ASTRING, K_NONE, K_NONE,    K_NONE, K_KEYWORD, K_NONE,     K_NONE,   K_HEADER,  K_NUMBER64,
    K_NOT,     K_OR,   K_DATE,    K_DATE, K_DATE,    K_NUMBER64, K_SEQSET, K_NONE,    K_MODSEQ,
    K_NZ,      K_NZ,   K_DATE,    K_DATE, K_DATE,    K_NONE,
};

static enum ms_status search_key(struct ms_icp *p, uint32_t parent, unsigned depth);

/*
 * search-modsequence = "MODSEQ" [search-modseq-ext] SP mod-sequence-valzer
 * search-modseq-ext  = SP entry-name SP entry-type-req
 * entry-name = DQUOTE "/flags/" attr-flag DQUOTE;  entry-type-req = "priv" / "shared" / "all"
 */
static enum ms_status modseq(struct ms_icp *p, uint32_t k)
{
    struct ms_cursor *c = &p->c;

    if (ms_cursor_peek(c) == '"') {
        uint32_t n;
        size_t at = c->pos;
        MS_GUARD(ms_icp_string(p, k, MS_IMAP_CN_STRING, 1u << MS_IMAP_CF_QUOTED,
                               "RFC 7162 7 entry-name", &n));
        struct ms_slice s = p->v->nodes[n].text;
        if (s.len <= 7 || !ms_slice_ieq((struct ms_slice){s.ptr, 7}, "/flags/"))
            return ms_fail_at(c, at, "RFC 7162 7 entry-flag-name",
                              "expected \"/flags/\" and a flag name");
        MS_GUARD(ms_icp_sp(p, "RFC 7162 7 search-modseq-ext"));
        static const char *const types[] = {"PRIV", "SHARED", "ALL", NULL};
        int t = ms_icp_keyword(p, types);
        if (t < 0)
            return ms_fail(c, "RFC 7162 7 entry-type-req", "expected priv, shared or all");
        static const char *const lower[] = {"priv", "shared", "all"};
        MS_GUARD(ms_icp_kw_node(p, k, lower[t]));
        MS_GUARD(ms_icp_sp(p, "RFC 7162 7 search-modsequence"));
    }
    return ms_icp_number_node(p, k, 0, INT64_MAX, "RFC 7162 7 mod-sequence-valzer");
}

static enum ms_status search_key(struct ms_icp *p, uint32_t parent, unsigned depth)
{
    struct ms_cursor *c = &p->c;
    int ch = ms_cursor_peek(c);

    MS_GUARD(ms_icp_depth(p, depth));
    if (ch == '(') {
        c->pos++;
        uint32_t l = ms_icp_node(p, parent, MS_IMAP_CN_LIST);
        if (!l)
            return MS_FAIL;
        for (;;) {
            MS_GUARD(search_key(p, l, depth + 1));
            if (ms_cursor_accept(c, ')'))
                return MS_OK;
            MS_GUARD(ms_cursor_expect(c, ' ', R_SEARCH, "expected SP or \")\""));
        }
    }
    if (ch == '*' || ch == '$' || (ch >= '0' && ch <= '9'))
        return ms_icp_seqset(p, parent);
    int i = ms_icp_keyword(p, keys);
    if (i < 0)
        return ms_fail(c, R_SEARCH, "unknown search key");
    uint32_t k = ms_icp_node(p, parent, MS_IMAP_CN_SEARCH);
    if (!k)
        return MS_FAIL;
    p->v->nodes[k].kw = keys[i];
    if (key_arg[i] == K_NONE)
        return MS_OK;
    MS_GUARD(ms_icp_sp(p, R_SEARCH));
    switch (key_arg[i]) {
    case K_ASTRING:
        return ms_icp_string(p, k, MS_IMAP_CN_STRING, MS_ICP_ASTRING, R_SEARCH, NULL);
    case K_DATE:
        return ms_icp_date(p, k);
    case K_KEYWORD:
        if (ms_cursor_peek(c) == '\\')
            return ms_fail(c, "RFC 9051 9 flag-keyword",
                           "KEYWORD takes a keyword, not a system flag");
        return ms_icp_flag(p, k);
    case K_HEADER:
        MS_GUARD(ms_icp_string(p, k, MS_IMAP_CN_STRING, MS_ICP_ASTRING,
                               "RFC 9051 9 header-fld-name", NULL));
        MS_GUARD(ms_icp_sp(p, R_SEARCH));
        return ms_icp_string(p, k, MS_IMAP_CN_STRING, MS_ICP_ASTRING, R_SEARCH, NULL);
    case K_NUMBER64:
        return ms_icp_number_node(p, k, 0, INT64_MAX, R_NUMBER64);
    case K_NZ:
        return ms_icp_number_node(p, k, 1, UINT32_MAX, "RFC 5032 3 search-key");
    case K_NOT:
        return search_key(p, k, depth + 1);
    case K_OR:
        MS_GUARD(search_key(p, k, depth + 1));
        MS_GUARD(ms_icp_sp(p, R_SEARCH));
        return search_key(p, k, depth + 1);
    case K_SEQSET:
        return ms_icp_seqset(p, k);
    case K_MODSEQ:
        return modseq(p, k);
    default:
        return ms_fail(c, R_SEARCH, "internal: key kind");
    }
}

/* partial-range = nz-number ":" nz-number (RFC 5267 4.4); RFC 9394 3 adds
 * "-" nz-number ":" "-" nz-number (counted from the end). Kept as an atom. */
static enum ms_status partial_range(struct ms_icp *p, uint32_t parent)
{
    struct ms_cursor *c = &p->c;
    size_t start = c->pos;
    uint64_t v;
    int neg = ms_cursor_accept(c, '-');
    const char *r = neg ? "RFC 9394 3 partial-range-last" : "RFC 5267 4.4 partial-range";

    MS_GUARD(ms_icp_number(p, 1, UINT32_MAX, r, &v));
    MS_GUARD(ms_cursor_expect(c, ':', r, "expected \":\" (partial-range = n:m)"));
    if (neg)
        MS_GUARD(ms_cursor_expect(c, '-', r, "both ends of a negative range have \"-\""));
    else if (ms_cursor_peek(c) == '-')
        return ms_fail(c, r, "a range from the start has no \"-\" on its end");
    MS_GUARD(ms_icp_number(p, 1, UINT32_MAX, r, &v));
    uint32_t n = ms_icp_node(p, parent, MS_IMAP_CN_ATOM);
    if (!n)
        return MS_FAIL;
    p->v->nodes[n].text = (struct ms_slice){(const char *)c->p + start, c->pos - start};
    return MS_OK;
}

/*
 * search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"
 * search-return-opt  = "MIN" / "MAX" / "ALL" / "COUNT" / "SAVE"      (RFC 9051 9, 5182)
 * search-return-opt =/ "UPDATE" / "CONTEXT" / "PARTIAL" SP partial-range  (RFC 5267 4.4)
 * Also sort-return-opts of ESORT (RFC 5267 3.1). The cursor is after "RETURN".
 */
enum ms_status ms_icp_return_opts(struct ms_icp *p, uint32_t parent)
{
    struct ms_cursor *c = &p->c;
    static const char *const opts[] = {"MIN",    "MAX",     "ALL",     "COUNT", "SAVE",
                                       "UPDATE", "CONTEXT", "PARTIAL", NULL};
    unsigned seen = 0;

    MS_GUARD(ms_icp_kw_node(p, parent, "RETURN"));
    MS_GUARD(ms_icp_sp(p, "RFC 9051 9 search-return-opts"));
    MS_GUARD(ms_cursor_expect(c, '(', "RFC 9051 9 search-return-opts", "expected \"(\""));
    uint32_t l = ms_icp_node(p, parent, MS_IMAP_CN_LIST);
    if (!l)
        return MS_FAIL;
    if (ms_cursor_accept(c, ')'))
        return MS_OK;
    for (;;) {
        size_t o = c->pos;
        int k = ms_icp_keyword(p, opts);
        if (k < 0)
            return ms_fail(c, "RFC 9051 9 search-return-opt",
                           "expected MIN, MAX, ALL, COUNT, SAVE, UPDATE, CONTEXT or PARTIAL");
        if (seen & (1u << k))
            return ms_fail_at(c, o, "RFC 4731 3.1 search-return-opt", "return option given twice");
        seen |= 1u << k;
        MS_GUARD(ms_icp_kw_node(p, l, opts[k]));
        if (k == 7) {
            MS_GUARD(ms_icp_sp(p, "RFC 5267 4.4 search-return-opt"));
            MS_GUARD(partial_range(p, l));
        }
        if (ms_cursor_accept(c, ')'))
            return MS_OK;
        MS_GUARD(ms_cursor_expect(c, ' ', "RFC 9051 9 search-return-opts", "expected SP or \")\""));
    }
}

/*
 * search = "SEARCH" [search-return-opts] SP search-program
 * search-program = ["CHARSET" SP charset SP] search-key *(SP search-key)
 */
enum ms_status ms_icp_search(struct ms_icp *p, uint32_t parent)
{
    struct ms_cursor *c = &p->c;

    MS_GUARD(ms_icp_sp(p, "RFC 9051 9 search"));
    size_t at = c->pos;
    if (ms_cursor_accept_ci(c, "RETURN") && ms_cursor_peek(c) == ' ') {
        MS_GUARD(ms_icp_return_opts(p, parent));
        MS_GUARD(ms_icp_sp(p, "RFC 9051 9 search"));
    } else {
        c->pos = at;
    }
    at = c->pos;
    if (ms_cursor_accept_ci(c, "CHARSET") && ms_cursor_peek(c) == ' ') {
        MS_GUARD(ms_icp_kw_node(p, parent, "CHARSET"));
        c->pos++;
        /* charset = atom / quoted */
        if (ms_cursor_peek(c) == '"') {
            MS_GUARD(ms_icp_string(p, parent, MS_IMAP_CN_STRING, 1u << MS_IMAP_CF_QUOTED,
                                   "RFC 9051 9 charset", NULL));
        } else {
            uint32_t n = ms_icp_node(p, parent, MS_IMAP_CN_STRING);
            if (!n)
                return MS_FAIL;
            MS_GUARD(ms_cursor_token(c, MS_C_IMAP_ATOM, c->len - c->pos, &p->v->nodes[n].text,
                                     "RFC 9051 9 charset", "expected a charset (atom / quoted)"));
        }
        MS_GUARD(ms_icp_sp(p, "RFC 9051 9 search-program"));
    } else {
        c->pos = at;
    }
    return ms_icp_search_keys(p, parent);
}

/* search-key *(SP search-key), to the end of the command */
enum ms_status ms_icp_search_keys(struct ms_icp *p, uint32_t parent)
{
    for (;;) {
        MS_GUARD(search_key(p, parent, 1));
        if (ms_cursor_eof(&p->c))
            return MS_OK;
        MS_GUARD(ms_icp_sp_more(p, "RFC 9051 9 search-program"));
    }
}
