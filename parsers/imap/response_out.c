/*
 * IMAP responses out: canonical bytes (the writer) and JSON.
 *
 * The writer emits keywords in upper case, numbers without leading zeros,
 * single SPs, and every string in the form it arrived in (quoted strings with
 * their escapes, literals as literals), so parse(write(parse(x))) == parse(x).
 */
#include <string.h>

#include "response_internal.h"

static const char *const type_names[MS_IMAP_TYPE_MAX] = {
    [MS_IMAP_OK] = "OK",
    [MS_IMAP_NO] = "NO",
    [MS_IMAP_BAD] = "BAD",
    [MS_IMAP_BYE] = "BYE",
    [MS_IMAP_PREAUTH] = "PREAUTH",
    [MS_IMAP_CAPABILITY] = "CAPABILITY",
    [MS_IMAP_ENABLED] = "ENABLED",
    [MS_IMAP_LIST] = "LIST",
    [MS_IMAP_LSUB] = "LSUB",
    [MS_IMAP_NAMESPACE] = "NAMESPACE",
    [MS_IMAP_STATUS] = "STATUS",
    [MS_IMAP_SEARCH] = "SEARCH",
    [MS_IMAP_ESEARCH] = "ESEARCH",
    [MS_IMAP_FLAGS] = "FLAGS",
    [MS_IMAP_EXISTS] = "EXISTS",
    [MS_IMAP_RECENT] = "RECENT",
    [MS_IMAP_EXPUNGE] = "EXPUNGE",
    [MS_IMAP_FETCH] = "FETCH",
    [MS_IMAP_VANISHED] = "VANISHED",
    [MS_IMAP_ID] = "ID",
    [MS_IMAP_SORT] = "SORT",
    [MS_IMAP_THREAD] = "THREAD",
    [MS_IMAP_QUOTA] = "QUOTA",
    [MS_IMAP_QUOTAROOT] = "QUOTAROOT",
    [MS_IMAP_ACL] = "ACL",
    [MS_IMAP_LISTRIGHTS] = "LISTRIGHTS",
    [MS_IMAP_MYRIGHTS] = "MYRIGHTS",
    [MS_IMAP_METADATA] = "METADATA",
    [MS_IMAP_CONT] = "+",
    [MS_IMAP_UNKNOWN] = "",
};

static const char *const json_names[MS_IMAP_TYPE_MAX] = {
    [MS_IMAP_OK] = "ok",
    [MS_IMAP_NO] = "no",
    [MS_IMAP_BAD] = "bad",
    [MS_IMAP_BYE] = "bye",
    [MS_IMAP_PREAUTH] = "preauth",
    [MS_IMAP_CAPABILITY] = "capability",
    [MS_IMAP_ENABLED] = "enabled",
    [MS_IMAP_LIST] = "list",
    [MS_IMAP_LSUB] = "lsub",
    [MS_IMAP_NAMESPACE] = "namespace",
    [MS_IMAP_STATUS] = "status",
    [MS_IMAP_SEARCH] = "search",
    [MS_IMAP_ESEARCH] = "esearch",
    [MS_IMAP_FLAGS] = "flags",
    [MS_IMAP_EXISTS] = "exists",
    [MS_IMAP_RECENT] = "recent",
    [MS_IMAP_EXPUNGE] = "expunge",
    [MS_IMAP_FETCH] = "fetch",
    [MS_IMAP_VANISHED] = "vanished",
    [MS_IMAP_ID] = "id",
    [MS_IMAP_SORT] = "sort",
    [MS_IMAP_THREAD] = "thread",
    [MS_IMAP_QUOTA] = "quota",
    [MS_IMAP_QUOTAROOT] = "quotaroot",
    [MS_IMAP_ACL] = "acl",
    [MS_IMAP_LISTRIGHTS] = "listrights",
    [MS_IMAP_MYRIGHTS] = "myrights",
    [MS_IMAP_METADATA] = "metadata",
    [MS_IMAP_CONT] = "continue",
    [MS_IMAP_UNKNOWN] = "unknown",
};

const char *ms_imap_resp_type_name(unsigned type)
{
    return type > 0 && type < MS_IMAP_TYPE_MAX ? json_names[type] : "?";
}

/* ---- writer ---- */

static void w_slice(struct ms_out *o, struct ms_slice s)
{
    ms_out_bytes(o, s.ptr, s.len);
}

static void w_node(struct ms_out *o, const struct ms_imap_response *r, uint32_t i);

static void w_children(struct ms_out *o, const struct ms_imap_response *r,
                       const struct ms_imap_node *n)
{
    uint32_t k = 0;
    int sep = !(n->type == MS_IMAP_N_LIST && n->flags == 1);
    uint32_t prev = 0;
    for (uint32_t c = n->child; c; prev = c, c = r->nodes[c].next, k++) {
        /* multipart bodies: no SP between the parts (RFC 9051 9 body-type-mpart);
         * threads: none between two adjacent thread lists (RFC 5256 4) */
        int glued = (n->role == MS_IMAP_R_BODY_MPART && k > 0 && k < n->aux) ||
                    (n->role == MS_IMAP_R_THREAD && prev && r->nodes[prev].type == MS_IMAP_N_LIST &&
                     r->nodes[c].type == MS_IMAP_N_LIST);
        if (k > 0 && sep && !glued)
            ms_out_bytes(o, " ", 1);
        w_node(o, r, c);
    }
}

static void w_node(struct ms_out *o, const struct ms_imap_response *r, uint32_t i)
{
    const struct ms_imap_node *n = &r->nodes[i];

    switch (n->type) {
    case MS_IMAP_N_NIL:
        ms_out_str(o, "NIL");
        break;
    case MS_IMAP_N_NUMBER:
        ms_out_u64(o, n->num);
        break;
    case MS_IMAP_N_ATOM:
        w_slice(o, n->s);
        break;
    case MS_IMAP_N_QUOTED:
        ms_out_bytes(o, "\"", 1);
        w_slice(o, n->s);
        ms_out_bytes(o, "\"", 1);
        break;
    case MS_IMAP_N_LITERAL:
    case MS_IMAP_N_LITERAL8:
        ms_out_str(o, n->type == MS_IMAP_N_LITERAL8 ? "~{" : "{");
        ms_out_u64(o, n->s.len);
        ms_out_str(o, "}\r\n");
        w_slice(o, n->s);
        break;
    case MS_IMAP_N_LIST:
        ms_out_bytes(o, "(", 1);
        w_children(o, r, n);
        ms_out_bytes(o, ")", 1);
        break;
    case MS_IMAP_N_SEQ:
        if (n->role == MS_IMAP_R_CODE)
            ms_out_bytes(o, "[", 1);
        w_children(o, r, n);
        if (n->role == MS_IMAP_R_CODE)
            ms_out_bytes(o, "]", 1);
        break;
    default:
        o->overflow = 1; /* not a node: refuse to write */
        break;
    }
}

/* keyword, then each data node after an SP */
static void w_data(struct ms_out *o, const struct ms_imap_response *r)
{
    ms_out_str(o, type_names[r->type]);
    for (uint32_t c = r->data; c; c = r->nodes[c].next) {
        ms_out_bytes(o, " ", 1);
        w_node(o, r, c);
    }
}

static void w_resp_text(struct ms_out *o, const struct ms_imap_response *r)
{
    if (r->code) {
        w_node(o, r, r->code);
        ms_out_bytes(o, " ", 1);
    }
    w_slice(o, r->text);
}

ssize_t ms_imap_response_write(const struct ms_imap_response *r, char *out, size_t cap)
{
    struct ms_out o;

    ms_out_init(&o, out, cap);
    if (r->type == 0 || r->type >= MS_IMAP_TYPE_MAX)
        return MS_FAIL;
    if (r->quirks.n || r->quirks.dropped) {
        /* Deviations accepted by a lenient flag have no canonical form:
         * the raw bytes keep them (and their quirks) for a re-parse. */
        ms_out_bytes(&o, r->raw.ptr, r->raw.len);
        return o.overflow ? MS_FAIL : (ssize_t)o.len;
    }
    switch (r->kind) {
    case MS_IMAP_CONTINUE:
        ms_out_str(&o, "+ ");
        w_resp_text(&o, r);
        break;
    case MS_IMAP_TAGGED:
        w_slice(&o, r->tag);
        ms_out_bytes(&o, " ", 1);
        ms_out_str(&o, type_names[r->type]);
        ms_out_bytes(&o, " ", 1);
        w_resp_text(&o, r);
        break;
    case MS_IMAP_UNTAGGED:
        ms_out_str(&o, "* ");
        switch (r->type) {
        case MS_IMAP_OK:
        case MS_IMAP_NO:
        case MS_IMAP_BAD:
        case MS_IMAP_BYE:
        case MS_IMAP_PREAUTH:
            ms_out_str(&o, type_names[r->type]);
            ms_out_bytes(&o, " ", 1);
            w_resp_text(&o, r);
            break;
        case MS_IMAP_UNKNOWN:
            w_slice(&o, r->text);
            break;
        case MS_IMAP_EXISTS:
        case MS_IMAP_RECENT:
        case MS_IMAP_EXPUNGE:
        case MS_IMAP_FETCH:
            ms_out_u64(&o, r->number);
            ms_out_bytes(&o, " ", 1);
            w_data(&o, r);
            break;
        default:
            w_data(&o, r);
            break;
        }
        break;
    default:
        return MS_FAIL;
    }
    ms_out_str(&o, "\r\n");
    if (o.overflow)
        return MS_FAIL;
    return (ssize_t)o.len;
}

/* ---- JSON ---- */

/* A JSON string of a slice, unescaping a quoted string's \" and \\. */
static void j_str(struct ms_out *o, const struct ms_imap_node *n)
{
    if (n->type != MS_IMAP_N_QUOTED || !memchr(n->s.ptr, '\\', n->s.len)) {
        ms_out_json_slice(o, n->s);
        return;
    }
    /* Escapes are ASCII, so runs between them never split a UTF-8 sequence:
     * each run goes through ms_out_json_str with its quotes peeled off. */
    ms_out_bytes(o, "\"", 1);
    const char *p = n->s.ptr, *end = n->s.ptr + n->s.len;
    while (p < end) {
        const char *bs = memchr(p, '\\', (size_t)(end - p));
        const char *stop = bs ? bs : end;
        if (stop > p) {
            size_t before = o->len;
            ms_out_json_str(o, p, (size_t)(stop - p));
            if (!o->overflow) {
                memmove(o->buf + before, o->buf + before + 1, o->len - before - 2);
                o->len -= 2;
            }
        }
        if (!bs)
            break;
        ms_out_str(o, bs[1] == '"' ? "\\\"" : "\\\\");
        p = bs + 2;
    }
    ms_out_bytes(o, "\"", 1);
}

static void j_node(struct ms_out *o, const struct ms_imap_response *r, uint32_t i);

static uint32_t nth(const struct ms_imap_response *r, uint32_t first, uint32_t k)
{
    uint32_t c = first;
    while (c && k--)
        c = r->nodes[c].next;
    return c;
}

static void j_array(struct ms_out *o, const struct ms_imap_response *r, uint32_t first)
{
    ms_out_bytes(o, "[", 1);
    for (uint32_t c = first; c; c = r->nodes[c].next) {
        if (c != first)
            ms_out_bytes(o, ",", 1);
        j_node(o, r, c);
    }
    ms_out_bytes(o, "]", 1);
}

static void j_member(struct ms_out *o, const struct ms_imap_response *r, const char *key,
                     uint32_t node, int *first)
{
    if (!node)
        return;
    if (!*first)
        ms_out_bytes(o, ",", 1);
    *first = 0;
    ms_out_bytes(o, "\"", 1);
    ms_out_str(o, key);
    ms_out_str(o, "\":");
    j_node(o, r, node);
}

static void j_fields(struct ms_out *o, const struct ms_imap_response *r, uint32_t first,
                     const char *const *keys, int *firstm)
{
    uint32_t c = first;
    for (size_t k = 0; keys[k] && c; k++, c = r->nodes[c].next)
        j_member(o, r, keys[k], c, firstm);
}

static void j_body_ext(struct ms_out *o, const struct ms_imap_response *r, uint32_t c,
                       const char *const *keys, int *fm)
{
    for (size_t k = 0; keys[k] && c; k++, c = r->nodes[c].next)
        j_member(o, r, keys[k], c, fm);
    if (c) {
        ms_out_str(o, ",\"extensions\":");
        j_array(o, r, c);
    }
}

static void j_body(struct ms_out *o, const struct ms_imap_response *r, const struct ms_imap_node *n)
{
    static const char *const fields[] = {"type",        "subtype",  "params", "id",
                                         "description", "encoding", "octets", NULL};
    static const char *const ext1[] = {"md5", "disposition", "language", "location", NULL};
    static const char *const extm[] = {"params", "disposition", "language", "location", NULL};
    int fm = 1;

    ms_out_bytes(o, "{", 1);
    if (n->role == MS_IMAP_R_BODY_MPART) {
        ms_out_str(o, "\"type\":\"MULTIPART\",\"parts\":[");
        uint32_t c = n->child;
        for (uint32_t k = 0; k < n->aux && c; k++, c = r->nodes[c].next) {
            if (k)
                ms_out_bytes(o, ",", 1);
            j_node(o, r, c);
        }
        ms_out_bytes(o, "]", 1);
        fm = 0;
        j_member(o, r, "subtype", c, &fm);
        j_body_ext(o, r, c ? r->nodes[c].next : 0, extm, &fm);
    } else {
        static const char *const kinds[] = {"basic", "text", "message"};
        ms_out_str(o, "\"kind\":\"");
        ms_out_str(o, kinds[n->aux < 3 ? n->aux : 0]);
        ms_out_bytes(o, "\"", 1);
        fm = 0;
        j_fields(o, r, n->child, fields, &fm);
        uint32_t c = nth(r, n->child, 7);
        if (n->aux == MS_IMAP_BODY_MESSAGE) {
            j_member(o, r, "envelope", c, &fm);
            c = c ? r->nodes[c].next : 0;
            j_member(o, r, "body", c, &fm);
            c = c ? r->nodes[c].next : 0;
        }
        if (n->aux != MS_IMAP_BODY_BASIC) {
            j_member(o, r, "lines", c, &fm);
            c = c ? r->nodes[c].next : 0;
        }
        j_body_ext(o, r, c, ext1, &fm);
    }
    ms_out_bytes(o, "}", 1);
}

/* BODY[section]<origin>: the section text and the origin, from the name. */
static void j_section(struct ms_out *o, const struct ms_imap_node *attr,
                      const struct ms_imap_node *name)
{
    const char *lb = memchr(name->s.ptr, '[', name->s.len);
    if (!lb)
        return;
    size_t from = (size_t)(lb - name->s.ptr) + 1, to = name->s.len;
    if (attr->num) {
        /* strip "<origin>" */
        while (to > from && name->s.ptr[to - 1] != '<')
            to--;
        if (to > from)
            to--;
    }
    if (to > from && name->s.ptr[to - 1] == ']')
        to--;
    ms_out_json_key(o, "section");
    ms_out_json_str(o, name->s.ptr + from, to - from);
    if (attr->num) {
        ms_out_json_key(o, "origin");
        ms_out_u64(o, attr->num - 1);
    }
}

static void j_node(struct ms_out *o, const struct ms_imap_response *r, uint32_t i)
{
    const struct ms_imap_node *n = &r->nodes[i];

    switch (n->role) {
    case MS_IMAP_R_ENVELOPE: {
        static const char *const keys[] = {"date",        "subject",    "from", "sender",
                                           "reply_to",    "to",         "cc",   "bcc",
                                           "in_reply_to", "message_id", NULL};
        int fm = 1;
        ms_out_bytes(o, "{", 1);
        j_fields(o, r, n->child, keys, &fm);
        ms_out_bytes(o, "}", 1);
        return;
    }
    case MS_IMAP_R_ADDRESS: {
        static const char *const keys[] = {"name", "adl", "mailbox", "host", NULL};
        int fm = 1;
        ms_out_bytes(o, "{", 1);
        j_fields(o, r, n->child, keys, &fm);
        /* RFC 9051 9 address: NIL host marks group syntax (RFC 5322 3.4) */
        uint32_t mb = nth(r, n->child, 2), host = nth(r, n->child, 3);
        if (host && r->nodes[host].type == MS_IMAP_N_NIL && mb)
            ms_out_str(o, r->nodes[mb].type == MS_IMAP_N_NIL ? ",\"group\":\"end\""
                                                             : ",\"group\":\"start\"");
        ms_out_bytes(o, "}", 1);
        return;
    }
    case MS_IMAP_R_BODY:
    case MS_IMAP_R_BODY_MPART:
        j_body(o, r, n);
        return;
    case MS_IMAP_R_PARAMS:
        ms_out_bytes(o, "[", 1);
        for (uint32_t c = n->child; c; c = r->nodes[c].next) {
            uint32_t v = r->nodes[c].next;
            if (c != n->child)
                ms_out_bytes(o, ",", 1);
            ms_out_bytes(o, "[", 1);
            j_node(o, r, c);
            if (v) {
                ms_out_bytes(o, ",", 1);
                j_node(o, r, v);
                c = v;
            }
            ms_out_bytes(o, "]", 1);
        }
        ms_out_bytes(o, "]", 1);
        return;
    case MS_IMAP_R_ATTR: {
        uint32_t name = n->child, val = name ? r->nodes[name].next : 0;
        ms_out_str(o, "{\"name\":");
        if (name)
            j_node(o, r, name);
        if (val) {
            ms_out_str(o, ",\"value\":");
            j_node(o, r, val);
        }
        /* flags: the FETCH attribute (0 for STATUS, ESEARCH, LIST items) */
        if (name && n->flags && r->nodes[name].type == MS_IMAP_N_ATOM)
            j_section(o, n, &r->nodes[name]);
        ms_out_bytes(o, "}", 1);
        return;
    }
    case MS_IMAP_R_QUOTA: {
        uint32_t name = n->child, use = name ? r->nodes[name].next : 0;
        uint32_t lim = use ? r->nodes[use].next : 0;
        ms_out_str(o, "{\"name\":");
        j_node(o, r, name);
        ms_out_str(o, ",\"usage\":");
        j_node(o, r, use);
        ms_out_str(o, ",\"limit\":");
        j_node(o, r, lim);
        ms_out_bytes(o, "}", 1);
        return;
    }
    case MS_IMAP_R_CODE: {
        uint32_t name = n->child;
        ms_out_str(o, "{\"name\":");
        if (name)
            j_node(o, r, name);
        if (name && r->nodes[name].next) {
            ms_out_str(o, ",\"args\":");
            j_array(o, r, r->nodes[name].next);
        }
        ms_out_bytes(o, "}", 1);
        return;
    }
    case MS_IMAP_R_NUMLIST: {
        /* validated SP-separated digits */
        ms_out_bytes(o, "[", 1);
        for (size_t k = 0; k < n->s.len; k++) {
            char ch = n->s.ptr[k];
            ms_out_bytes(o, ch == ' ' ? "," : &n->s.ptr[k], 1);
        }
        ms_out_bytes(o, "]", 1);
        return;
    }
    default:
        break;
    }
    switch (n->type) {
    case MS_IMAP_N_NIL:
        ms_out_str(o, "null");
        break;
    case MS_IMAP_N_NUMBER:
        ms_out_u64(o, n->num);
        break;
    case MS_IMAP_N_ATOM:
    case MS_IMAP_N_QUOTED:
    case MS_IMAP_N_LITERAL:
    case MS_IMAP_N_LITERAL8:
        j_str(o, n);
        break;
    default:
        j_array(o, r, n->child);
        break;
    }
}

static void j_key_node(struct ms_out *o, const struct ms_imap_response *r, const char *key,
                       uint32_t node)
{
    if (!node)
        return;
    ms_out_json_key(o, key);
    j_node(o, r, node);
}

void ms_imap_response_json(const struct ms_imap_response *r, struct ms_out *o)
{
    ms_out_json_key(o, "type");
    ms_out_str(o, "\"");
    ms_out_str(o, ms_imap_resp_type_name(r->type));
    ms_out_str(o, "\"");
    ms_out_json_key(o, "tag");
    if (r->kind == MS_IMAP_CONTINUE)
        ms_out_str(o, "\"+\"");
    else
        ms_out_json_slice(o, r->tag);
    switch (r->type) {
    case MS_IMAP_OK:
    case MS_IMAP_NO:
    case MS_IMAP_BAD:
    case MS_IMAP_BYE:
    case MS_IMAP_PREAUTH:
    case MS_IMAP_CONT:
        j_key_node(o, r, "code", r->code);
        if (r->base64) {
            ms_out_json_key(o, "base64");
            ms_out_json_slice(o, r->text);
        } else {
            ms_out_json_key(o, "text");
            ms_out_json_slice(o, r->text);
        }
        break;
    case MS_IMAP_UNKNOWN:
        ms_out_json_key(o, "raw");
        ms_out_json_slice(o, r->text);
        break;
    case MS_IMAP_CAPABILITY:
    case MS_IMAP_ENABLED:
        ms_out_json_key(o, "capabilities");
        j_array(o, r, r->data);
        break;
    case MS_IMAP_FLAGS:
        j_key_node(o, r, "flags", r->data);
        break;
    case MS_IMAP_LIST:
    case MS_IMAP_LSUB:
        j_key_node(o, r, "flags", r->data);
        j_key_node(o, r, "delimiter", nth(r, r->data, 1));
        j_key_node(o, r, "mailbox", nth(r, r->data, 2));
        j_key_node(o, r, "extended", nth(r, r->data, 3));
        break;
    case MS_IMAP_NAMESPACE:
        j_key_node(o, r, "personal", r->data);
        j_key_node(o, r, "other", nth(r, r->data, 1));
        j_key_node(o, r, "shared", nth(r, r->data, 2));
        break;
    case MS_IMAP_STATUS:
        j_key_node(o, r, "mailbox", r->data);
        j_key_node(o, r, "attrs", nth(r, r->data, 1));
        break;
    case MS_IMAP_SEARCH:
    case MS_IMAP_SORT: {
        uint32_t c = r->data;
        ms_out_json_key(o, "numbers");
        if (c && r->nodes[c].role == MS_IMAP_R_NUMLIST) {
            j_node(o, r, c);
            c = r->nodes[c].next;
        } else {
            ms_out_str(o, "[]");
        }
        if (c)
            j_key_node(o, r, "modseq", nth(r, r->nodes[c].child, 1));
        break;
    }
    case MS_IMAP_ESEARCH: {
        uint32_t c = r->data;
        int uid = 0;
        if (c && r->nodes[c].role == MS_IMAP_R_CORRELATOR) {
            j_key_node(o, r, "correlator", nth(r, r->nodes[c].child, 1));
            c = r->nodes[c].next;
        }
        if (c && r->nodes[c].type == MS_IMAP_N_ATOM) {
            uid = 1;
            c = r->nodes[c].next;
        }
        ms_out_json_key(o, "uid");
        ms_out_str(o, uid ? "true" : "false");
        ms_out_json_key(o, "returns");
        j_array(o, r, c);
        break;
    }
    case MS_IMAP_VANISHED: {
        uint32_t c = r->data;
        int earlier = c && r->nodes[c].type == MS_IMAP_N_LIST;
        ms_out_json_key(o, "earlier");
        ms_out_str(o, earlier ? "true" : "false");
        j_key_node(o, r, "uids", earlier ? r->nodes[c].next : c);
        break;
    }
    case MS_IMAP_ID:
        j_key_node(o, r, "params", r->data);
        break;
    case MS_IMAP_THREAD:
        ms_out_json_key(o, "threads");
        j_array(o, r, r->data ? r->nodes[r->data].child : 0);
        break;
    case MS_IMAP_QUOTA:
        j_key_node(o, r, "root", r->data);
        j_key_node(o, r, "resources", nth(r, r->data, 1));
        break;
    case MS_IMAP_ACL: {
        j_key_node(o, r, "mailbox", r->data);
        ms_out_json_key(o, "entries");
        ms_out_bytes(o, "[", 1);
        uint32_t c = r->data ? r->nodes[r->data].next : 0;
        for (int first = 1; c && r->nodes[c].next; c = r->nodes[r->nodes[c].next].next) {
            ms_out_str(o, first ? "[" : ",[");
            first = 0;
            j_node(o, r, c);
            ms_out_bytes(o, ",", 1);
            j_node(o, r, r->nodes[c].next);
            ms_out_bytes(o, "]", 1);
        }
        ms_out_bytes(o, "]", 1);
        break;
    }
    case MS_IMAP_LISTRIGHTS:
        j_key_node(o, r, "mailbox", r->data);
        j_key_node(o, r, "identifier", nth(r, r->data, 1));
        j_key_node(o, r, "required", nth(r, r->data, 2));
        ms_out_json_key(o, "optional");
        j_array(o, r, nth(r, r->data, 3));
        break;
    case MS_IMAP_MYRIGHTS:
        j_key_node(o, r, "mailbox", r->data);
        j_key_node(o, r, "rights", nth(r, r->data, 1));
        break;
    case MS_IMAP_METADATA: {
        uint32_t c = nth(r, r->data, 1);
        j_key_node(o, r, "mailbox", r->data);
        if (c && r->nodes[c].type == MS_IMAP_N_LIST) {
            j_key_node(o, r, "values", c);
        } else {
            ms_out_json_key(o, "entries");
            j_array(o, r, c);
        }
        break;
    }
    case MS_IMAP_QUOTAROOT:
        j_key_node(o, r, "mailbox", r->data);
        ms_out_json_key(o, "roots");
        j_array(o, r, r->data ? r->nodes[r->data].next : 0);
        break;
    case MS_IMAP_EXISTS:
    case MS_IMAP_RECENT:
        ms_out_json_key(o, "count");
        ms_out_u64(o, r->number);
        break;
    case MS_IMAP_EXPUNGE:
        ms_out_json_key(o, "seq");
        ms_out_u64(o, r->number);
        break;
    case MS_IMAP_FETCH:
        ms_out_json_key(o, "seq");
        ms_out_u64(o, r->number);
        ms_out_json_key(o, "attrs");
        j_array(o, r, r->data ? r->nodes[r->data].child : 0);
        break;
    default:
        break;
    }
    ms_out_json_quirks(o, &r->quirks);
}
