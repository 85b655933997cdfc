/*
 * FETCH attributes (RFC 9051 6.4.5 and 9 fetch-att, RFC 3501 RFC822.*,
 * RFC 3516 BINARY, RFC 7162 MODSEQ/CHANGEDSINCE/VANISHED, RFC 8514 SAVEDATE,
 * RFC 8474 EMAILID/THREADID, RFC 8970 PREVIEW).
 */
#include <string.h>

#include "command_internal.h"

enum att_kind {
    A_PLAIN,   /* no section, no partial */
    A_BODY,    /* BODY: optional section (then optional partial) */
    A_SECTION, /* BODY.PEEK: section required, partial optional */
    A_BINARY,  /* BINARY[.PEEK]: section-binary required, partial optional */
    A_BINSIZE, /* BINARY.SIZE: section-binary required, no partial */
    A_PREVIEW, /* PREVIEW: optional SP "(" preview-mod *(SP preview-mod) ")" */
};

static const char *const atts[] = {
    "ENVELOPE",    "FLAGS",       "INTERNALDATE", "RFC822",        "RFC822.HEADER",
    "RFC822.SIZE", "RFC822.TEXT", "BODY",         "BODYSTRUCTURE", "UID",
    "BODY.PEEK",   "BINARY",      "BINARY.PEEK",  "BINARY.SIZE",   "MODSEQ",
    "SAVEDATE",    "EMAILID",     "THREADID",     "PREVIEW",       NULL,
};
static const unsigned char att_kind[] = {
    A_PLAIN, A_PLAIN, A_PLAIN, A_PLAIN,   A_PLAIN,   A_PLAIN,  A_PLAIN,
    A_BODY,  A_PLAIN, A_PLAIN, A_SECTION, A_BINARY,  A_BINARY, A_BINSIZE,
    A_PLAIN, A_PLAIN, A_PLAIN, A_PLAIN,   A_PREVIEW,
};

static const char *const macros[] = {"ALL", "FAST", "FULL", NULL};

/* header-list = "(" header-fld-name *(SP header-fld-name) ")"; header-fld-name = astring */
static enum ms_status header_list(struct ms_icp *p, uint32_t parent)
{
    struct ms_cursor *c = &p->c;

    MS_GUARD(ms_cursor_expect(c, '(', "RFC 9051 9 header-list", "expected \"(\""));
    if (ms_cursor_peek(c) == ')')
        return ms_fail(c, "RFC 9051 9 header-list", "header list is empty");
    for (;;) {
        MS_GUARD(ms_icp_string(p, parent, MS_IMAP_CN_STRING, MS_ICP_ASTRING,
                               "RFC 9051 9 header-fld-name", NULL));
        if (ms_cursor_accept(c, ')'))
            return MS_OK;
        MS_GUARD(ms_cursor_expect(c, ' ', "RFC 9051 9 header-list", "expected SP or \")\""));
    }
}

/* section-part = nz-number *("." nz-number) */
static enum ms_status section_part(struct ms_icp *p, uint32_t idx)
{
    struct ms_cursor *c = &p->c;
    size_t start = c->pos;
    uint64_t v;

    for (;;) {
        MS_GUARD(ms_icp_number(p, 1, UINT32_MAX, "RFC 9051 9 section-part", &v));
        if (ms_cursor_peek(c) == '.' && ms_cursor_peek_at(c, 1) >= '0' &&
            ms_cursor_peek_at(c, 1) <= '9') {
            c->pos++;
            continue;
        }
        break;
    }
    struct ms_imap_cnode *nd = &p->v->nodes[idx];
    nd->text.ptr = (const char *)c->p + start;
    nd->text.len = c->pos - start;
    return MS_OK;
}

/*
 * section = "[" [section-spec] "]"
 * section-spec = section-msgtext / (section-part ["." section-text])
 * section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"
 * section-text = section-msgtext / "MIME"
 */
static enum ms_status section(struct ms_icp *p, uint32_t idx, int binary)
{
    struct ms_cursor *c = &p->c;
    const char *rule = binary ? "RFC 3516 4.2 section-binary" : R_SECTION;

    MS_GUARD(ms_cursor_expect(c, '[', rule, "expected \"[\""));
    p->v->nodes[idx].flags |= MS_IMAP_CNF_SECTION;
    if (ms_cursor_accept(c, ']'))
        return MS_OK;
    int ch = ms_cursor_peek(c);
    int part = ch >= '0' && ch <= '9';
    if (part)
        MS_GUARD(section_part(p, idx));
    if (binary)
        return ms_cursor_expect(c, ']', rule, "expected \"]\" (section-binary is a part only)");
    if (part && !ms_cursor_accept(c, '.'))
        return ms_cursor_expect(c, ']', rule, "expected \".\" or \"]\" after the part");
    static const char *const texts[] = {
        "HEADER.FIELDS.NOT", "HEADER.FIELDS", "HEADER", "TEXT", "MIME", NULL};
    int t = -1;
    for (int i = 0; texts[i] && t < 0; i++) {
        size_t at = c->pos;
        if (!ms_cursor_accept_ci(c, texts[i]))
            continue;
        int nx = ms_cursor_peek(c);
        if (nx == ']' || nx == ' ')
            t = i;
        else
            c->pos = at;
    }
    if (t < 0)
        return ms_fail(c, rule,
                       part ? "expected HEADER, HEADER.FIELDS[.NOT], TEXT or MIME"
                            : "expected a part number, HEADER, HEADER.FIELDS[.NOT] or TEXT");
    if (t == 4 && !part)
        return ms_fail_at(c, c->pos - 4, rule, "MIME needs a part number (section-text)");
    p->v->nodes[idx].kw2 = texts[t];
    if (t <= 1) {
        MS_GUARD(ms_icp_sp(p, "RFC 9051 9 section-msgtext"));
        p->v->nodes[idx].flags |= MS_IMAP_CNF_HEADERS;
        MS_GUARD(header_list(p, idx));
    }
    return ms_cursor_expect(c, ']', rule, "expected \"]\"");
}

/* partial = "<" number64 "." nz-number64 ">" */
static enum ms_status partial(struct ms_icp *p, uint32_t idx)
{
    struct ms_cursor *c = &p->c;
    uint64_t o, n;

    MS_GUARD(ms_cursor_expect(c, '<', "RFC 9051 9 partial", "expected \"<\""));
    MS_GUARD(ms_icp_number(p, 0, INT64_MAX, "RFC 9051 9 partial", &o));
    MS_GUARD(ms_cursor_expect(c, '.', "RFC 9051 9 partial",
                              "expected \".\" and a length (<offset.length>)"));
    MS_GUARD(ms_icp_number(p, 1, INT64_MAX, "RFC 9051 9 partial", &n));
    MS_GUARD(ms_cursor_expect(c, '>', "RFC 9051 9 partial", "expected \">\""));
    struct ms_imap_cnode *nd = &p->v->nodes[idx];
    nd->flags |= MS_IMAP_CNF_PARTIAL;
    nd->num = o;
    nd->num2 = n;
    return MS_OK;
}

/*
 * fetch-att =/ "PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"]; preview-mod = "LAZY"
 * (RFC 8970 7). " (" that does not open a preview-mod list is left for the
 * fetch-modifiers that may follow ("FETCH 1 PREVIEW (CHANGEDSINCE 5)").
 */
static enum ms_status preview_mods(struct ms_icp *p, uint32_t idx)
{
    struct ms_cursor *c = &p->c;
    const char *r = "RFC 8970 7 preview-mod";
    static const char *const mods[] = {"LAZY", NULL};
    size_t at = c->pos;

    if (!ms_cursor_accept(c, ' ') || !ms_cursor_accept(c, '('))
        goto none;
    if (ms_icp_keyword(p, mods) < 0)
        goto none;
    c->pos = at + 2;
    p->v->nodes[idx].flags |= MS_IMAP_CNF_MODS;
    for (;;) {
        if (ms_icp_keyword(p, mods) < 0)
            return ms_fail(c, r, "expected LAZY");
        MS_GUARD(ms_icp_kw_node(p, idx, mods[0]));
        if (ms_cursor_accept(c, ')'))
            return MS_OK;
        MS_GUARD(ms_cursor_expect(c, ' ', r, "expected SP or \")\""));
    }
none:
    c->pos = at;
    return MS_OK;
}

static enum ms_status fetch_att(struct ms_icp *p, uint32_t parent)
{
    struct ms_cursor *c = &p->c;
    int k = ms_icp_keyword(p, atts);

    if (k < 0)
        return ms_fail(c, R_FETCH, "unknown FETCH attribute");
    uint32_t idx = ms_icp_node(p, parent, MS_IMAP_CN_FETCH);
    if (!idx)
        return MS_FAIL;
    p->v->nodes[idx].kw = atts[k];
    int ch = ms_cursor_peek(c);
    switch (att_kind[k]) {
    case A_PLAIN:
        if (ch == '[' || ch == '<')
            return ms_fail(c, R_FETCH, "this attribute takes no section or partial");
        return MS_OK;
    case A_BODY:
        if (ch == '<')
            return ms_fail(c, R_FETCH, "BODY<partial> needs a section: BODY[]<o.n>");
        if (ch != '[')
            return MS_OK;
        MS_GUARD(section(p, idx, 0));
        break;
    case A_SECTION:
        MS_GUARD(section(p, idx, 0));
        break;
    case A_BINARY:
        MS_GUARD(section(p, idx, 1));
        break;
    case A_BINSIZE:
        MS_GUARD(section(p, idx, 1));
        if (ms_cursor_peek(c) == '<')
            return ms_fail(c, "RFC 3516 4.2 fetch-att", "BINARY.SIZE takes no partial");
        return MS_OK;
    case A_PREVIEW:
        if (ch == '[' || ch == '<')
            return ms_fail(c, R_FETCH, "this attribute takes no section or partial");
        return preview_mods(p, idx);
    default:
        return ms_fail(c, R_FETCH, "internal: attribute kind");
    }
    if (ms_cursor_peek(c) == '<')
        MS_GUARD(partial(p, idx));
    return MS_OK;
}

/* "(" fetch-att *(SP fetch-att) ")": FETCH's list and NOTIFY's MessageNew list */
static enum ms_status att_list(struct ms_icp *p, uint32_t parent, const char *rule)
{
    struct ms_cursor *c = &p->c;

    MS_GUARD(ms_cursor_expect(c, '(', rule, "expected \"(\""));
    uint32_t l = ms_icp_node(p, parent, MS_IMAP_CN_LIST);
    if (!l)
        return MS_FAIL;
    for (;;) {
        MS_GUARD(fetch_att(p, l));
        if (ms_cursor_accept(c, ')'))
            return MS_OK;
        MS_GUARD(ms_cursor_expect(c, ' ', rule, "expected SP or \")\""));
    }
}

/*
 * fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
 *         "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]
 * fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")"   (RFC 7162 3.1.4)
 * fetch-modifier  = "CHANGEDSINCE" SP mod-sequence-value / "VANISHED" (UID FETCH only)
 */
enum ms_status ms_icp_fetch_atts(struct ms_icp *p, uint32_t parent)
{
    struct ms_cursor *c = &p->c;

    if (ms_cursor_peek(c) == '(') {
        MS_GUARD(att_list(p, parent, R_FETCH));
    } else {
        int m = ms_icp_keyword(p, macros);
        if (m >= 0) {
            MS_GUARD(ms_icp_kw_node(p, parent, macros[m]));
        } else {
            MS_GUARD(fetch_att(p, parent));
        }
    }
    if (ms_cursor_eof(c))
        return MS_OK;
    MS_GUARD(ms_icp_sp_more(p, "RFC 7162 3.1.4 fetch-modifiers"));
    MS_GUARD(ms_cursor_expect(c, '(', "RFC 7162 3.1.4 fetch-modifiers", "expected \"(\""));
    uint32_t l = ms_icp_node(p, parent, MS_IMAP_CN_LIST);
    if (!l)
        return MS_FAIL;
    int changed = 0, vanished = 0;
    for (;;) {
        size_t at = c->pos;
        if (ms_cursor_accept_ci(c, "CHANGEDSINCE") && ms_cursor_peek(c) == ' ') {
            if (changed)
                return ms_fail_at(c, at, "RFC 7162 3.1.4 fetch-modifier",
                                  "CHANGEDSINCE given twice");
            changed = 1;
            MS_GUARD(ms_icp_kw_node(p, l, "CHANGEDSINCE"));
            c->pos++;
            MS_GUARD(ms_icp_number_node(p, l, 1, INT64_MAX, "RFC 7162 7 mod-sequence-value"));
        } else if ((c->pos = at, ms_cursor_accept_ci(c, "VANISHED")) && ms_icp_at_delim(p)) {
            if (!p->v->uid)
                return ms_fail_at(c, at, "RFC 7162 3.2.6 fetch-modifier",
                                  "VANISHED is only allowed in UID FETCH");
            if (vanished)
                return ms_fail_at(c, at, "RFC 7162 3.2.6 fetch-modifier", "VANISHED given twice");
            vanished = 1;
            MS_GUARD(ms_icp_kw_node(p, l, "VANISHED"));
        } else {
            return ms_fail_at(c, at, "RFC 7162 3.1.4 fetch-modifier",
                              "expected CHANGEDSINCE or VANISHED");
        }
        if (ms_cursor_accept(c, ')'))
            break;
        MS_GUARD(
            ms_cursor_expect(c, ' ', "RFC 7162 3.1.4 fetch-modifiers", "expected SP or \")\""));
    }
    /* RFC 7162 3.2.6: VANISHED requires CHANGEDSINCE. */
    if (vanished && !changed)
        return ms_fail(c, "RFC 7162 3.2.6 fetch-modifier", "VANISHED requires CHANGEDSINCE");
    return MS_OK;
}

/* "(" fetch-att *(SP fetch-att) ")": the attributes NOTIFY's MessageNew asks for
 * (RFC 5465 8 message-event); no macros and no fetch-modifiers there. */
enum ms_status ms_icp_fetch_att_list(struct ms_icp *p, uint32_t parent)
{
    return att_list(p, parent, "RFC 5465 8 message-event");
}
