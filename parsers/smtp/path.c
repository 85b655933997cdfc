/*
 * RFC 5321 4.1.2 / 4.1.3: Path, Mailbox, Local-part, Domain and address
 * literals (IPv4, IPv6 in every form, General-address-literal), with the
 * RFC 6531 (SMTPUTF8) UTF-8 extensions of Local-part and Domain.
 */
#include <string.h>

#include "mailspec/smtp.h"

#define R_DOMAIN  "RFC 5321 4.1.2 Domain"
#define R_LITERAL "RFC 5321 4.1.3 address-literal"
#define R_IPV4    "RFC 5321 4.1.3 IPv4-address-literal"
#define R_IPV6    "RFC 5321 4.1.3 IPv6-addr"
#define R_GENERAL "RFC 5321 4.1.3 General-address-literal"
#define R_LOCAL   "RFC 5321 4.1.2 Local-part"
#define R_PATH    "RFC 5321 4.1.2 Path"
#define R_ADL     "RFC 5321 4.1.2 A-d-l"

/* sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str] (or a U-label). */
static enum ms_status parse_domain(struct ms_cursor *c, const struct ms_limits *lim, int utf8,
                                   struct ms_smtp_host *out)
{
    size_t start = c->pos;

    for (;;) {
        size_t ls = c->pos;
        while (c->pos < c->len) {
            unsigned char ch = c->p[c->pos];
            if (ms_is(ch, MS_C_LDH)) {
                c->pos++;
            } else if (ch >= 0x80) {
                if (!utf8)
                    return ms_fail(c, "RFC 6531 3.3 Mailbox",
                                   "8-bit byte in a domain (needs SMTPUTF8)");
                int n = (int)ms_utf8_len(c->p + c->pos, c->len - c->pos);
                if (!n)
                    return ms_fail(c, "RFC 6531 3.3 sub-domain", "invalid UTF-8 in a domain");
                c->pos += (size_t)n;
                out->utf8 = 1;
            } else {
                break;
            }
        }
        if (c->pos == ls)
            return ms_fail(c, R_DOMAIN, "expected a domain label (letter or digit)");
        if (c->p[ls] == '-')
            return ms_fail_at(c, ls, R_DOMAIN, "a domain label must not start with \"-\"");
        if (c->p[c->pos - 1] == '-')
            return ms_fail_at(c, c->pos - 1, R_DOMAIN, "a domain label must not end with \"-\"");
        if (c->pos - ls > 63)
            return ms_fail_at(c, ls + 63, "RFC 1035 2.3.4 label",
                              "domain label longer than 63 octets");
        if (!(c->pos + 1 < c->len && c->p[c->pos] == '.' &&
              (ms_is(c->p[c->pos + 1], MS_C_LDH) || c->p[c->pos + 1] >= 0x80))) {
            if (c->pos < c->len && c->p[c->pos] == '.') {
                c->pos++;
                return ms_fail(c, R_DOMAIN, "expected a domain label after \".\"");
            }
            break;
        }
        c->pos++;
    }
    if (c->pos - start > lim->smtp_domain)
        return ms_fail_limit_at(c, start + lim->smtp_domain, "RFC 5321 4.5.3.1.2 domain",
                                "domain longer than the limit");
    out->type = MS_SMTP_HOST_DOMAIN;
    out->text.ptr = (const char *)c->p + start;
    out->text.len = c->pos - start;
    return MS_OK;
}

/* Snum 3("." Snum), Snum = 1*3DIGIT in 0..255; at p[*i..n) */
static int ipv4_at(const unsigned char *p, size_t n, size_t *i)
{
    size_t k = *i;

    for (int part = 0; part < 4; part++) {
        if (part) {
            if (k >= n || p[k] != '.')
                return 0;
            k++;
        }
        size_t ds = k;
        unsigned v = 0;
        while (k < n && ms_is_digit(p[k]) && k - ds < 4) {
            v = v * 10 + (unsigned)(p[k] - '0');
            k++;
        }
        if (k == ds || k - ds > 3 || v > 255)
            return 0;
    }
    *i = k;
    return 1;
}

/* IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp (RFC 5321 4.1.3). */
static int ipv6_ok(const unsigned char *s, size_t n, size_t *bad)
{
    size_t i = 0;
    int groups = 0, dc = -1;

    *bad = 0;
    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        dc = 0;
        i = 2;
        if (i == n)
            return 1;
    } else if (n == 0 || s[0] == ':') {
        return 0;
    }
    for (;;) {
        size_t j = i;
        while (j < n && ms_is(s[j], MS_C_HEX))
            j++;
        if (j < n && s[j] == '.') {
            /* IPv6v4: the IPv4 address ends the literal and counts as 2 groups. */
            size_t k = i;
            if (!ipv4_at(s, n, &k) || k != n) {
                *bad = i;
                return 0;
            }
            groups += 2;
            break;
        }
        if (j == i || j - i > 4) {
            *bad = j == i ? i : i + 4;
            return 0;
        }
        groups++;
        i = j;
        if (i == n)
            break;
        if (s[i] != ':') {
            *bad = i;
            return 0;
        }
        i++;
        if (i < n && s[i] == ':') {
            if (dc >= 0) {
                *bad = i;
                return 0;
            }
            dc = groups;
            i++;
            if (i == n)
                break;
        } else if (i == n) {
            *bad = i;
            return 0;
        }
    }
    if (groups > 8) {
        *bad = n;
        return 0;
    }
    /* Without "::" exactly 8 groups; "::" stands for at least two, so at
     * most 6 others (IPv6-comp 6, IPv6v4-comp 4 + the IPv4's 2). */
    if ((dc < 0 && groups != 8) || (dc >= 0 && groups > 6)) {
        *bad = n;
        return 0;
    }
    return 1;
}

static enum ms_status parse_literal(struct ms_cursor *c, struct ms_smtp_host *out)
{
    size_t start = c->pos;

    MS_GUARD(ms_cursor_expect(c, '[', R_LITERAL, "expected \"[\""));
    size_t cs = c->pos;
    /* dcontent = %d33-90 / %d94-126: everything printable but "[", "\", "]". */
    while (c->pos < c->len) {
        unsigned char ch = c->p[c->pos];
        if (ch < 33 || ch > 126 || ch == '[' || ch == '\\' || ch == ']')
            break;
        c->pos++;
    }
    size_t ce = c->pos;
    if (c->pos < c->len && c->p[c->pos] >= 0x80)
        return ms_fail(c, R_LITERAL, "8-bit byte in an address literal");
    MS_GUARD(ms_cursor_expect(c, ']', R_LITERAL, "expected \"]\" to end the address literal"));
    const unsigned char *s = c->p + cs;
    size_t n = ce - cs;
    const unsigned char *colon = n ? memchr(s, ':', n) : NULL;
    out->text.ptr = (const char *)c->p + start;
    out->text.len = c->pos - start;
    if (!colon) {
        size_t i = 0;
        if (!ipv4_at(s, n, &i) || i != n)
            return ms_fail_at(c, cs, R_IPV4,
                              "expected an IPv4 address (four numbers 0-255 with dots)");
        out->type = MS_SMTP_HOST_IPV4;
        out->value.ptr = (const char *)s;
        out->value.len = n;
        return MS_OK;
    }
    size_t tl = (size_t)(colon - s);
    out->tag.ptr = (const char *)s;
    out->tag.len = tl;
    out->value.ptr = (const char *)colon + 1;
    out->value.len = n - tl - 1;
    if (ms_slice_ieq(out->tag, "IPv6")) {
        size_t bad;
        if (!ipv6_ok(colon + 1, n - tl - 1, &bad))
            return ms_fail_at(c, cs + tl + 1 + bad, R_IPV6, "invalid IPv6 address");
        out->type = MS_SMTP_HOST_IPV6;
        return MS_OK;
    }
    /* Standardized-tag = Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig */
    if (tl == 0)
        return ms_fail_at(c, cs, R_GENERAL, "expected a Standardized-tag before \":\"");
    for (size_t i = 0; i < tl; i++)
        if (!ms_is(s[i], MS_C_LDH))
            return ms_fail_at(c, cs + i, R_GENERAL, "expected letters, digits or \"-\" in the tag");
    if (s[tl - 1] == '-')
        return ms_fail_at(c, cs + tl - 1, R_GENERAL, "a Standardized-tag must not end with \"-\"");
    if (out->value.len == 0)
        return ms_fail_at(c, cs + tl + 1, R_GENERAL, "expected dcontent after the tag");
    out->type = MS_SMTP_HOST_GENERAL;
    return MS_OK;
}

enum ms_status ms_smtp_host_parse(struct ms_cursor *c, const struct ms_limits *lim,
                                  int allow_literal, int utf8, struct ms_smtp_host *out)
{
    memset(out, 0, sizeof(*out));
    if (ms_cursor_peek(c) == '[') {
        if (!allow_literal)
            return ms_fail(c, "RFC 5321 4.1.1.1 helo", "expected a Domain, not an address literal");
        return parse_literal(c, out);
    }
    return parse_domain(c, lim, utf8, out);
}

/* Dot-string / Quoted-string, with UTF-8 (RFC 6531 3.3). */
static enum ms_status parse_local(struct ms_cursor *c, const struct ms_limits *lim,
                                  struct ms_smtp_path *out)
{
    size_t start = c->pos;

    if (ms_cursor_accept(c, '"')) {
        out->quoted = 1;
        for (;;) {
            int ch = ms_cursor_peek(c);
            if (ch == '"') {
                c->pos++;
                break;
            }
            if (ch == '\\') {
                int nx = ms_cursor_peek_at(c, 1);
                if (nx < 32 || nx > 126)
                    return ms_fail_at(c, c->pos + 1, "RFC 5321 4.1.2 quoted-pairSMTP",
                                      "expected a printable ASCII character after \"\\\"");
                c->pos += 2;
            } else if (ch >= 0x80) {
                int n = (int)ms_utf8_len(c->p + c->pos, c->len - c->pos);
                if (!n)
                    return ms_fail(c, "RFC 6531 3.3 qtextSMTP", "invalid UTF-8 in a local part");
                if (!out->utf8)
                    out->utf8_at = c->pos;
                out->utf8 = 1;
                c->pos += (size_t)n;
            } else if (ch >= 0 && ms_is((unsigned char)ch, MS_C_SMTP_QTEXT)) {
                c->pos++;
            } else {
                return ms_fail(c, "RFC 5321 4.1.2 Quoted-string",
                               "expected qtextSMTP, \"\\\" or closing DQUOTE");
            }
        }
    } else {
        for (;;) {
            size_t as = c->pos;
            while (c->pos < c->len) {
                unsigned char ch = c->p[c->pos];
                if (ms_is(ch, MS_C_ATEXT)) {
                    c->pos++;
                } else if (ch >= 0x80) {
                    int n = (int)ms_utf8_len(c->p + c->pos, c->len - c->pos);
                    if (!n)
                        return ms_fail(c, "RFC 6531 3.3 atext", "invalid UTF-8 in a local part");
                    if (!out->utf8)
                        out->utf8_at = c->pos;
                    out->utf8 = 1;
                    c->pos += (size_t)n;
                } else {
                    break;
                }
            }
            if (c->pos == as)
                return ms_fail(c, "RFC 5321 4.1.2 Dot-string",
                               as == start ? "expected a local part (atext or DQUOTE)"
                                           : "expected atext after \".\"");
            if (!ms_cursor_accept(c, '.'))
                break;
        }
    }
    if (c->pos - start > lim->smtp_local_part)
        return ms_fail_limit_at(c, start + lim->smtp_local_part, "RFC 5321 4.5.3.1.1 local-part",
                                "local part longer than the limit");
    out->local.ptr = (const char *)c->p + start;
    out->local.len = c->pos - start;
    return MS_OK;
}

enum ms_status ms_smtp_path_parse(struct ms_cursor *c, const struct ms_limits *lim, int allow_null,
                                  int allow_postmaster, struct ms_smtp_path *out)
{
    size_t start = c->pos;

    memset(out, 0, sizeof(*out));
    MS_GUARD(ms_cursor_expect(c, '<', R_PATH, "expected \"<\""));
    if (ms_cursor_accept(c, '>')) {
        if (!allow_null)
            return ms_fail_at(c, start + 1, "RFC 5321 4.1.2 Forward-path",
                              "the null path \"<>\" is only allowed in MAIL FROM");
        out->null = 1;
    } else if (allow_postmaster && ms_cursor_accept_ci(c, "postmaster>")) {
        /* RFC 5321 4.1.1.3: "<Postmaster>" without a domain, any case. */
        out->postmaster = 1;
        out->local.ptr = (const char *)c->p + start + 1;
        out->local.len = 10;
    } else {
        if (ms_cursor_peek(c) == '@') {
            /* A-d-l = At-domain *( "," At-domain ) ":" -- obsolete source
             * route, accepted and reported (RFC 5321 4.1.2, C). */
            size_t rs = c->pos;
            for (;;) {
                struct ms_smtp_host h;
                MS_GUARD(ms_cursor_expect(c, '@', R_ADL, "expected \"@\" in a source route"));
                MS_GUARD(parse_domain(c, lim, 0, &h));
                if (!ms_cursor_accept(c, ','))
                    break;
            }
            out->route.ptr = (const char *)c->p + rs;
            out->route.len = c->pos - rs;
            MS_GUARD(ms_cursor_expect(c, ':', R_ADL, "expected \":\" after the source route"));
        }
        MS_GUARD(parse_local(c, lim, out));
        MS_GUARD(ms_cursor_expect(c, '@', "RFC 5321 4.1.2 Mailbox",
                                  "expected \"@\" after the local part"));
        if (ms_cursor_peek(c) == '[') {
            MS_GUARD(parse_literal(c, &out->domain));
        } else {
            size_t ds = c->pos;
            memset(&out->domain, 0, sizeof(out->domain));
            MS_GUARD(parse_domain(c, lim, 1, &out->domain));
            if (out->domain.utf8) {
                for (size_t i = ds; i < c->pos; i++) {
                    if (c->p[i] >= 0x80) {
                        if (!out->utf8)
                            out->utf8_at = i;
                        break;
                    }
                }
                out->utf8 = 1;
            }
        }
        MS_GUARD(ms_cursor_expect(c, '>', R_PATH, "expected \">\" to end the path"));
    }
    if (c->pos - start > lim->smtp_path)
        return ms_fail_limit_at(c, start + lim->smtp_path, "RFC 5321 4.5.3.1.3 path",
                                "path longer than the limit");
    out->text.ptr = (const char *)c->p + start;
    out->text.len = c->pos - start;
    return MS_OK;
}
