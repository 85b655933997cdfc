/*
 * FETCH response data (RFC 9051 7.5.2 and 9 msg-att): flags, ENVELOPE,
 * INTERNALDATE, RFC822*, BODY/BODYSTRUCTURE, BODY[section]<origin>, BINARY
 * (RFC 3516), UID, MODSEQ (RFC 7162), EMAILID/THREADID (RFC 8474), SAVEDATE (RFC 8514),
 * PREVIEW (RFC 8970).
 */
#include <string.h>

#include "response_internal.h"

#define RULE_MSGATT  "RFC 9051 9 msg-att"
#define RULE_ENV     "RFC 9051 9 envelope"
#define RULE_ADDR    "RFC 9051 9 address"
#define RULE_BODY    "RFC 9051 9 body"
#define RULE_DATE    "RFC 9051 9 date-time"
#define RULE_SECTION "RFC 9051 9 section"

static enum ms_status nil_node(struct rp *p, struct rp_chain *ch)
{
    uint32_t i = 0;
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_NIL, MS_IMAP_R_NONE, &i));
    ms_imap_r_append(p, ch, i);
    return MS_OK;
}

/* address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")" */
static enum ms_status address(struct rp *p, struct rp_chain *ch)
{
    uint32_t a = 0;
    struct rp_chain f = {0, 0};

    MS_GUARD(ms_imap_r_open(p, RULE_ADDR));
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_ADDRESS, &a));
    for (int i = 0; i < 4; i++) {
        if (i)
            MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(ms_imap_r_nstring(p, RULE_ADDR, &f));
    }
    MS_GUARD(ms_imap_r_close(p, RULE_ADDR));
    p->r->nodes[a].child = f.first;
    ms_imap_r_append(p, ch, a);
    return MS_OK;
}

/* env-from etc. = "(" 1*address ")" / nil (no SP between addresses) */
static enum ms_status address_list(struct rp *p, struct rp_chain *ch)
{
    if (ms_imap_r_peek(p) != '(' && ms_imap_r_nil(p))
        return nil_node(p, ch);
    uint32_t l = 0;
    struct rp_chain kids = {0, 0};
    MS_GUARD(ms_imap_r_open(p, RULE_ENV));
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &l));
    do {
        MS_GUARD(address(p, &kids));
    } while (ms_imap_r_peek(p) == '(');
    MS_GUARD(ms_imap_r_close(p, RULE_ENV));
    p->r->nodes[l].child = kids.first;
    p->r->nodes[l].flags = 1; /* written without SP between elements */
    ms_imap_r_append(p, ch, l);
    return MS_OK;
}

/*
 * envelope = "(" env-date SP env-subject SP env-from SP env-sender SP
 *            env-reply-to SP env-to SP env-cc SP env-bcc SP env-in-reply-to SP
 *            env-message-id ")"
 */
enum ms_status ms_imap_r_envelope(struct rp *p, struct rp_chain *ch)
{
    uint32_t e = 0;
    struct rp_chain f = {0, 0};

    MS_GUARD(ms_imap_r_open(p, RULE_ENV));
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_ENVELOPE, &e));
    for (int i = 0; i < 10; i++) {
        if (i)
            MS_GUARD(ms_imap_r_sp(p));
        if (i >= 2 && i <= 7)
            MS_GUARD(address_list(p, &f));
        else
            MS_GUARD(ms_imap_r_nstring(p, RULE_ENV, &f));
    }
    MS_GUARD(ms_imap_r_close(p, RULE_ENV));
    p->r->nodes[e].child = f.first;
    ms_imap_r_append(p, ch, e);
    return MS_OK;
}

/*
 * date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP
 *             zone DQUOTE (RFC 9051 9); zone = ("+" / "-") 4DIGIT.
 */
static enum ms_status date_time(struct rp *p, struct rp_chain *ch)
{
    static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    struct ms_cursor *c = &p->c;
    const unsigned char *s = c->p + c->pos;
    size_t start = c->pos;

    /* A missing zone is a common server bug: name it (RFC 9051 9 zone). */
    if (ms_cursor_left(c) >= 22 && s[0] == '"' && s[21] == '"')
        return ms_fail_at(c, start + 21, RULE_DATE,
                          "date-time without a zone (\"+hhmm\" or \"-hhmm\")");
    if (ms_cursor_left(c) < 28 || s[0] != '"')
        return ms_fail(c, RULE_DATE, "expected \"dd-Mon-yyyy hh:mm:ss +zzzz\"");
    /* date-day-fixed = (SP DIGIT) / 2DIGIT */
    if (!((s[1] == ' ' || ms_is_digit(s[1])) && ms_is_digit(s[2])))
        return ms_fail_at(c, start + 1, RULE_DATE, "expected a two-character day");
    if (s[3] != '-' || s[7] != '-')
        return ms_fail_at(c, start + 3, RULE_DATE, "expected \"-\" around the month");
    int m = -1;
    unsigned char m0 = ms_lower(s[4]), m1 = ms_lower(s[5]), m2 = ms_lower(s[6]);
    for (int i = 0; i < 12; i++)
        if (m0 == months[3 * i] && m1 == months[3 * i + 1] && m2 == months[3 * i + 2]) {
            m = i;
            break;
        }
    if (m < 0)
        return ms_fail_at(c, start + 4, RULE_DATE, "expected a month name (Jan..Dec)");
    for (int i = 8; i < 12; i++)
        if (!ms_is_digit(s[i]))
            return ms_fail_at(c, start + (size_t)i, RULE_DATE, "expected a 4-digit year");
    if (s[12] != ' ')
        return ms_fail_at(c, start + 12, RULE_DATE, "expected SP after the year");
    /* time = 2DIGIT ":" 2DIGIT ":" 2DIGIT */
    static const char tpat[] = "99:99:99";
    for (int i = 0; i < 8; i++) {
        unsigned char t = s[13 + i];
        if (tpat[i] == '9' ? !ms_is_digit(t) : t != ':')
            return ms_fail_at(c, start + 13 + (size_t)i, RULE_DATE, "expected a time hh:mm:ss");
    }
    /* s[21] == DQUOTE was reported above as a missing zone. */
    if (s[21] != ' ')
        return ms_fail_at(c, start + 21, RULE_DATE, "expected SP before the zone");
    if (s[22] != '+' && s[22] != '-')
        return ms_fail_at(c, start + 22, RULE_DATE, "expected a zone (\"+hhmm\" or \"-hhmm\")");
    for (int i = 23; i < 27; i++)
        if (!ms_is_digit(s[i]))
            return ms_fail_at(c, start + (size_t)i, RULE_DATE, "expected a 4-digit zone");
    if (s[27] != '"')
        return ms_fail_at(c, start + 27, RULE_DATE, "expected DQUOTE after the zone");
    c->pos += 28;
    uint32_t i = 0;
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_QUOTED, MS_IMAP_R_DATETIME, &i));
    p->r->nodes[i].s.ptr = (const char *)s + 1;
    p->r->nodes[i].s.len = 26;
    ms_imap_r_append(p, ch, i);
    return MS_OK;
}

/* body-fld-param = "(" string SP string *(SP string SP string) ")" / nil */
static enum ms_status body_params(struct rp *p, struct rp_chain *ch)
{
    if (ms_imap_r_peek(p) != '(' && ms_imap_r_nil(p))
        return nil_node(p, ch);
    uint32_t l = 0;
    struct rp_chain kids = {0, 0};
    MS_GUARD(ms_imap_r_open(p, RULE_BODY));
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_PARAMS, &l));
    do {
        MS_GUARD(ms_imap_r_string(p, 0, "RFC 9051 9 body-fld-param", &kids));
        MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(ms_imap_r_string(p, 0, "RFC 9051 9 body-fld-param", &kids));
    } while (ms_imap_r_accept(p, ' '));
    MS_GUARD(ms_imap_r_close(p, RULE_BODY));
    p->r->nodes[l].child = kids.first;
    ms_imap_r_append(p, ch, l);
    return MS_OK;
}

/* body-fld-dsp = "(" string SP body-fld-param ")" / nil */
static enum ms_status body_dsp(struct rp *p, struct rp_chain *ch)
{
    if (ms_imap_r_peek(p) != '(' && ms_imap_r_nil(p))
        return nil_node(p, ch);
    uint32_t l = 0;
    struct rp_chain kids = {0, 0};
    MS_GUARD(ms_imap_r_open(p, RULE_BODY));
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &l));
    MS_GUARD(ms_imap_r_string(p, 0, "RFC 9051 9 body-fld-dsp", &kids));
    MS_GUARD(ms_imap_r_sp(p));
    MS_GUARD(body_params(p, &kids));
    MS_GUARD(ms_imap_r_close(p, RULE_BODY));
    p->r->nodes[l].child = kids.first;
    ms_imap_r_append(p, ch, l);
    return MS_OK;
}

/* body-fld-lang = nstring / "(" string *(SP string) ")" */
static enum ms_status body_lang(struct rp *p, struct rp_chain *ch)
{
    if (ms_imap_r_peek(p) != '(')
        return ms_imap_r_nstring(p, "RFC 9051 9 body-fld-lang", ch);
    uint32_t l = 0;
    struct rp_chain kids = {0, 0};
    MS_GUARD(ms_imap_r_open(p, RULE_BODY));
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &l));
    do {
        MS_GUARD(ms_imap_r_string(p, 0, "RFC 9051 9 body-fld-lang", &kids));
    } while (ms_imap_r_accept(p, ' '));
    MS_GUARD(ms_imap_r_close(p, RULE_BODY));
    p->r->nodes[l].child = kids.first;
    ms_imap_r_append(p, ch, l);
    return MS_OK;
}

/* body-extension = nstring / number / number64 / "(" body-extension *(SP ...) ")" */
static enum ms_status body_extension(struct rp *p, struct rp_chain *ch)
{
    struct ms_cursor *c = &p->c;
    int b = ms_cursor_peek(c);

    if (b == '(') {
        uint32_t l = 0;
        struct rp_chain kids = {0, 0};
        MS_GUARD(ms_imap_r_open(p, "RFC 9051 9 body-extension"));
        MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &l));
        do {
            MS_GUARD(body_extension(p, &kids));
        } while (ms_imap_r_accept(p, ' '));
        MS_GUARD(ms_imap_r_close(p, "RFC 9051 9 body-extension"));
        p->r->nodes[l].child = kids.first;
        ms_imap_r_append(p, ch, l);
        return MS_OK;
    }
    if (b >= 0 && ms_is_digit((unsigned char)b))
        return ms_imap_r_num_node(p, 0, 1, "RFC 9051 9 body-extension", ch);
    return ms_imap_r_nstring(p, "RFC 9051 9 body-extension", ch);
}

/* [SP dsp [SP lang [SP loc *(SP body-extension)]]], after md5 or params */
static enum ms_status body_ext_tail(struct rp *p, struct rp_chain *ch)
{
    if (!ms_imap_r_accept(p, ' '))
        return MS_OK;
    MS_GUARD(body_dsp(p, ch));
    if (!ms_imap_r_accept(p, ' '))
        return MS_OK;
    MS_GUARD(body_lang(p, ch));
    if (!ms_imap_r_accept(p, ' '))
        return MS_OK;
    MS_GUARD(ms_imap_r_nstring(p, "RFC 9051 9 body-fld-loc", ch));
    while (ms_imap_r_accept(p, ' '))
        MS_GUARD(body_extension(p, ch));
    return MS_OK;
}

static enum ms_status body(struct rp *p, struct rp_chain *ch);

/* body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart] */
static enum ms_status body_mpart(struct rp *p, uint32_t b)
{
    struct ms_cursor *c = &p->c;
    struct rp_chain kids = {0, 0};
    uint32_t nbodies = 0;

    while (ms_cursor_peek(c) == '(') {
        MS_GUARD(body(p, &kids));
        nbodies++;
    }
    p->r->nodes[b].aux = nbodies;
    MS_GUARD(ms_imap_r_sp(p));
    MS_GUARD(ms_imap_r_string(p, 0, "RFC 9051 9 media-subtype", &kids));
    /* body-ext-mpart = body-fld-param [SP dsp [SP lang [SP loc *(SP ext)]]] */
    if (ms_imap_r_accept(p, ' ')) {
        MS_GUARD(body_params(p, &kids));
        MS_GUARD(body_ext_tail(p, &kids));
    }
    p->r->nodes[b].child = kids.first;
    return MS_OK;
}

/*
 * body-type-1part = (body-type-basic / body-type-msg / body-type-text)
 *                   [SP body-ext-1part]
 */
static enum ms_status body_1part(struct rp *p, uint32_t b)
{
    struct rp_chain kids = {0, 0};
    struct ms_imap_response *r = p->r;

    MS_GUARD(ms_imap_r_string(p, 0, "RFC 9051 9 media-basic", &kids));
    struct ms_imap_node *type = &r->nodes[kids.last];
    MS_GUARD(ms_imap_r_sp(p));
    MS_GUARD(ms_imap_r_string(p, 0, "RFC 9051 9 media-subtype", &kids));
    struct ms_imap_node *sub = &r->nodes[kids.last];
    /* body-fields = param SP id SP desc SP enc SP octets */
    MS_GUARD(ms_imap_r_sp(p));
    MS_GUARD(body_params(p, &kids));
    MS_GUARD(ms_imap_r_sp(p));
    MS_GUARD(ms_imap_r_nstring(p, "RFC 9051 9 body-fld-id", &kids));
    MS_GUARD(ms_imap_r_sp(p));
    MS_GUARD(ms_imap_r_nstring(p, "RFC 9051 9 body-fld-desc", &kids));
    MS_GUARD(ms_imap_r_sp(p));
    MS_GUARD(ms_imap_r_string(p, 0, "RFC 9051 9 body-fld-enc", &kids));
    MS_GUARD(ms_imap_r_sp(p));
    MS_GUARD(ms_imap_r_num_node(p, 0, 0, "RFC 9051 9 body-fld-octets", &kids));

    /* Quoted type names are compared as written; escapes cannot make
     * "TEXT" or "MESSAGE". */
    uint32_t kind = MS_IMAP_BODY_BASIC;
    if (type->type == MS_IMAP_N_QUOTED && MS_IMAP_KW(type->s, "TEXT"))
        kind = MS_IMAP_BODY_TEXT;
    else if (type->type == MS_IMAP_N_QUOTED && MS_IMAP_KW(type->s, "MESSAGE") &&
             sub->type == MS_IMAP_N_QUOTED &&
             (MS_IMAP_KW(sub->s, "RFC822") || MS_IMAP_KW(sub->s, "GLOBAL")))
        kind = MS_IMAP_BODY_MESSAGE;
    r->nodes[b].aux = kind;
    if (kind == MS_IMAP_BODY_MESSAGE) {
        /* body-type-msg = media-message SP body-fields SP envelope SP body SP lines */
        MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(ms_imap_r_envelope(p, &kids));
        MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(body(p, &kids));
    }
    if (kind != MS_IMAP_BODY_BASIC) {
        MS_GUARD(ms_imap_r_sp(p));
        MS_GUARD(ms_imap_r_num_node(p, 0, 1, "RFC 9051 9 body-fld-lines", &kids));
    }
    /* body-ext-1part = body-fld-md5 [SP dsp [SP lang [SP loc *(SP ext)]]] */
    if (ms_imap_r_accept(p, ' ')) {
        MS_GUARD(ms_imap_r_nstring(p, "RFC 9051 9 body-fld-md5", &kids));
        MS_GUARD(body_ext_tail(p, &kids));
    }
    r->nodes[b].child = kids.first;
    return MS_OK;
}

/* body = "(" (body-type-1part / body-type-mpart) ")" */
static enum ms_status body(struct rp *p, struct rp_chain *ch)
{
    uint32_t b = 0;

    MS_GUARD(ms_imap_r_open(p, RULE_BODY));
    int mpart = ms_imap_r_peek(p) == '(';
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, mpart ? MS_IMAP_R_BODY_MPART : MS_IMAP_R_BODY, &b));
    if (mpart)
        MS_GUARD(body_mpart(p, b));
    else
        MS_GUARD(body_1part(p, b));
    MS_GUARD(ms_imap_r_close(p, RULE_BODY));
    ms_imap_r_append(p, ch, b);
    return MS_OK;
}

/* section-part = nz-number *("." nz-number) */
static enum ms_status section_part(struct rp *p)
{
    uint64_t v = 0;
    for (;;) {
        MS_GUARD(ms_imap_r_number(p, 1, 0, RULE_SECTION, &v));
        if (ms_imap_r_peek(p) != '.' || !ms_is_digit((unsigned char)ms_cursor_peek_at(&p->c, 1)))
            return MS_OK;
        p->c.pos++;
    }
}

/*
 * section = "[" [section-spec] "]"; section-spec = section-msgtext /
 * (section-part ["." section-text]); section-msgtext = "HEADER" /
 * "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"; section-text =
 * section-msgtext / "MIME". binary: "[" [section-part] "]".
 */
static enum ms_status section(struct rp *p, int binary)
{
    struct ms_cursor *c = &p->c;

    MS_GUARD(ms_cursor_expect(c, '[', RULE_SECTION, "expected \"[\""));
    if (ms_imap_r_accept(p, ']'))
        return MS_OK;
    int part = 0;
    int b = ms_cursor_peek(c);
    if (b >= 0 && ms_is_digit((unsigned char)b)) {
        MS_GUARD(section_part(p));
        part = 1;
        if (binary || !ms_imap_r_accept(p, '.'))
            return ms_cursor_expect(c, ']', RULE_SECTION, "expected \"]\"");
    } else if (binary) {
        return ms_fail(c, "RFC 9051 9 section-binary", "expected a part number or \"]\"");
    }
    if (ms_cursor_accept_ci(c, "HEADER.FIELDS")) {
        ms_cursor_accept_ci(c, ".NOT");
        MS_GUARD(ms_imap_r_sp(p));
        /* header-list = "(" header-fld-name *(SP header-fld-name) ")"; names are
         * astrings, validated here and kept inside the attribute's name. */
        MS_GUARD(ms_imap_r_open(p, "RFC 9051 9 header-list"));
        uint32_t keep = p->r->nnodes;
        do {
            struct rp_chain scratch = {0, 0};
            MS_GUARD(ms_imap_r_astring(p, "RFC 9051 9 header-fld-name", &scratch));
            p->r->nnodes = keep; /* the name stays in the slice, not the arena */
        } while (ms_imap_r_accept(p, ' '));
        MS_GUARD(ms_imap_r_close(p, "RFC 9051 9 header-list"));
    } else if (ms_cursor_accept_ci(c, "HEADER") || ms_cursor_accept_ci(c, "TEXT")) {
        /* done */
    } else if (part && ms_cursor_accept_ci(c, "MIME")) {
        /* done */
    } else {
        return ms_fail(c, RULE_SECTION, "expected HEADER, HEADER.FIELDS, TEXT or MIME");
    }
    return ms_cursor_expect(c, ']', RULE_SECTION, "expected \"]\"");
}

/* The attribute names a FETCH response may carry. */
enum att {
    A_FLAGS = 1,
    A_ENVELOPE,
    A_INTERNALDATE,
    A_RFC822,
    A_RFC822_HEADER,
    A_RFC822_TEXT,
    A_RFC822_SIZE,
    A_BODY,
    A_BODYSTRUCTURE,
    A_BODY_SECTION,
    A_BINARY,
    A_BINARY_SIZE,
    A_UID,
    A_MODSEQ,
    A_EMAILID,
    A_THREADID,
    A_SAVEDATE,
    A_PREVIEW,
};

/*
 * The attribute for a name (case-insensitive), or 0. A switch on the length
 * and the first letter leaves one or two candidates to compare, instead of
 * every name in turn.
 */
static int att_lookup(struct ms_slice n)
{
#define IS(lit) MS_IMAP_KW(n, lit)
    switch (n.len) {
    case 3:
        return IS("UID") ? A_UID : 0;
    case 4:
        return IS("BODY") ? A_BODY : 0;
    case 5:
        return IS("FLAGS") ? A_FLAGS : 0;
    case 6:
        switch (n.ptr[0] | 0x20) {
        case 'r':
            return IS("RFC822") ? A_RFC822 : 0;
        case 'b':
            return IS("BINARY") ? A_BINARY : 0;
        case 'm':
            return IS("MODSEQ") ? A_MODSEQ : 0;
        default:
            return 0;
        }
    case 7:
        switch (n.ptr[0] | 0x20) {
        case 'e':
            return IS("EMAILID") ? A_EMAILID : 0;
        case 'p':
            return IS("PREVIEW") ? A_PREVIEW : 0;
        default:
            return 0;
        }
    case 8:
        switch (n.ptr[0] | 0x20) {
        case 'e':
            return IS("ENVELOPE") ? A_ENVELOPE : 0;
        case 't':
            return IS("THREADID") ? A_THREADID : 0;
        case 's':
            return IS("SAVEDATE") ? A_SAVEDATE : 0;
        default:
            return 0;
        }
    case 11:
        if (IS("RFC822.TEXT"))
            return A_RFC822_TEXT;
        if (IS("RFC822.SIZE"))
            return A_RFC822_SIZE;
        return IS("BINARY.SIZE") ? A_BINARY_SIZE : 0;
    case 12:
        return IS("INTERNALDATE") ? A_INTERNALDATE : 0;
    case 13:
        if (IS("BODYSTRUCTURE"))
            return A_BODYSTRUCTURE;
        return IS("RFC822.HEADER") ? A_RFC822_HEADER : 0;
    default:
        return 0;
    }
#undef IS
}

/* One msg-att: name (with section and origin) SP value, as an ATTR SEQ. */
static enum ms_status msg_att(struct rp *p, struct rp_chain *ch)
{
    struct ms_cursor *c = &p->c;
    struct ms_imap_response *r = p->r;
    size_t start = c->pos;
    struct ms_slice name;
    uint32_t a = 0;
    struct rp_chain kv = {0, 0};
    int att = 0;

    /* Attribute names are atoms up to "[" (ATOM-CHAR excludes "]" but not "[") */
    name.ptr = (const char *)c->p + start;
    while (c->pos < c->len && ms_is(c->p[c->pos], MS_C_IMAP_ATOM) && c->p[c->pos] != '[')
        c->pos++;
    name.len = c->pos - start;
    if (name.len == 0)
        return ms_fail(c, RULE_MSGATT, "expected a FETCH attribute name");
    att = att_lookup(name);
    if (!att)
        return ms_fail_at(c, start, RULE_MSGATT, "unknown FETCH attribute");
    uint64_t origin = 0;
    int has_section = ms_cursor_peek(c) == '[';
    if (has_section) {
        if (att == A_BODY)
            att = A_BODY_SECTION;
        else if (att != A_BINARY && att != A_BINARY_SIZE)
            return ms_fail(c, RULE_MSGATT, "no section allowed after this attribute");
        MS_GUARD(section(p, att != A_BODY_SECTION));
        if (att != A_BINARY_SIZE && ms_imap_r_accept(p, '<')) {
            uint64_t o = 0;
            MS_GUARD(ms_imap_r_number(p, 0, 0, "RFC 9051 9 msg-att-static", &o));
            MS_GUARD(ms_cursor_expect(c, '>', "RFC 9051 9 msg-att-static", "expected \">\""));
            origin = o + 1;
        }
    } else if (att == A_BINARY || att == A_BINARY_SIZE) {
        return ms_fail(c, "RFC 9051 9 section-binary", "expected \"[\" after BINARY");
    }
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_SEQ, MS_IMAP_R_ATTR, &a));
    r->nodes[a].num = origin;
    r->nodes[a].flags = (uint16_t)att;
    uint32_t nn = 0;
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_ATOM, MS_IMAP_R_NONE, &nn));
    r->nodes[nn].s.ptr = (const char *)c->p + start;
    r->nodes[nn].s.len = c->pos - start;
    ms_imap_r_append(p, &kv, nn);
    MS_GUARD(ms_imap_r_sp(p));

    switch (att) {
    case A_FLAGS:
        MS_GUARD(ms_imap_r_flag_list(p, 0, "RFC 9051 9 flag-fetch", &kv));
        break;
    case A_ENVELOPE:
        MS_GUARD(ms_imap_r_envelope(p, &kv));
        break;
    case A_INTERNALDATE:
        MS_GUARD(date_time(p, &kv));
        break;
    case A_SAVEDATE:
        if (ms_imap_r_nil(p))
            MS_GUARD(nil_node(p, &kv));
        else
            MS_GUARD(date_time(p, &kv));
        break;
    case A_PREVIEW: /* RFC 8970 3: "PREVIEW" SP nstring */
    case A_RFC822:
    case A_RFC822_HEADER:
    case A_RFC822_TEXT:
    case A_BODY_SECTION:
        MS_GUARD(ms_imap_r_nstring(p, "RFC 9051 9 nstring", &kv));
        break;
    case A_BINARY:
        if (ms_cursor_peek(c) == '~')
            MS_GUARD(ms_imap_r_string(p, 1, "RFC 3516 4.2 literal8", &kv));
        else
            MS_GUARD(ms_imap_r_nstring(p, "RFC 9051 9 msg-att-static", &kv));
        break;
    case A_RFC822_SIZE:
        MS_GUARD(ms_imap_r_num_node(p, 0, 1, "RFC 9051 9 msg-att-static", &kv));
        break;
    case A_BINARY_SIZE:
        MS_GUARD(ms_imap_r_num_node(p, 0, 0, "RFC 9051 9 msg-att-static", &kv));
        break;
    case A_BODY:
    case A_BODYSTRUCTURE:
        MS_GUARD(body(p, &kv));
        break;
    case A_UID:
        MS_GUARD(ms_imap_r_num_node(p, 1, 0, "RFC 9051 9 uniqueid", &kv));
        break;
    case A_MODSEQ: {
        /* "MODSEQ" SP "(" permsg-modsequence ")" (RFC 7162 7) */
        uint32_t l = 0;
        struct rp_chain m = {0, 0};
        MS_GUARD(ms_imap_r_open(p, "RFC 7162 7 fetch-mod-resp"));
        MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &l));
        MS_GUARD(ms_imap_r_num_node(p, 1, 1, "RFC 7162 7 permsg-modsequence", &m));
        MS_GUARD(ms_imap_r_close(p, "RFC 7162 7 fetch-mod-resp"));
        r->nodes[l].child = m.first;
        ms_imap_r_append(p, &kv, l);
        break;
    }
    case A_EMAILID:
    case A_THREADID: {
        /* "(" objectid ")" (THREADID: or NIL); objectid = 1*255(ALPHA/DIGIT/"_"/"-") */
        if (att == A_THREADID && ms_imap_r_nil(p)) {
            MS_GUARD(nil_node(p, &kv));
            break;
        }
        uint32_t l = 0;
        struct rp_chain m = {0, 0};
        MS_GUARD(ms_imap_r_open(p, "RFC 8474 7 objectid"));
        MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &l));
        size_t os = c->pos;
        while (c->pos < c->len && c->pos - os < 255 &&
               (ms_is(c->p[c->pos], MS_C_ALPHA | MS_C_DIGIT) || c->p[c->pos] == '_' ||
                c->p[c->pos] == '-'))
            c->pos++;
        if (c->pos == os)
            return ms_fail(c, "RFC 8474 7 objectid", "expected an object id");
        uint32_t o = 0;
        MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_ATOM, MS_IMAP_R_NONE, &o));
        r->nodes[o].s.ptr = (const char *)c->p + os;
        r->nodes[o].s.len = c->pos - os;
        ms_imap_r_append(p, &m, o);
        MS_GUARD(ms_imap_r_close(p, "RFC 8474 7 objectid"));
        r->nodes[l].child = m.first;
        ms_imap_r_append(p, &kv, l);
        break;
    }
    default:
        return ms_fail_at(c, start, RULE_MSGATT, "unknown FETCH attribute");
    }
    r->nodes[a].child = kv.first;
    ms_imap_r_append(p, ch, a);
    return MS_OK;
}

/* msg-att = "(" (msg-att-dynamic / msg-att-static) *(SP ...) ")" */
enum ms_status ms_imap_r_msg_atts(struct rp *p, struct rp_chain *ch)
{
    uint32_t l = 0;
    struct rp_chain kids = {0, 0};

    MS_GUARD(ms_imap_r_open(p, RULE_MSGATT));
    MS_GUARD(ms_imap_r_node(p, MS_IMAP_N_LIST, MS_IMAP_R_NONE, &l));
    do {
        MS_GUARD(msg_att(p, &kids));
    } while (ms_imap_r_accept(p, ' '));
    MS_GUARD(ms_imap_r_close(p, RULE_MSGATT));
    p->r->nodes[l].child = kids.first;
    ms_imap_r_append(p, ch, l);
    return MS_OK;
}
