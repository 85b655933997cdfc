/*
 * SMTP command lines (RFC 5321 4.1.1, 4.1.2) and extensions: STARTTLS (3207),
 * AUTH (4954), BDAT (3030), ETRN (1985), SIZE (1870), BODY (6152, 3030),
 * SMTPUTF8 (6531), DSN parameters (3461). Also the SASL response lines that
 * follow AUTH; DATA content and BDAT chunks are in data.c.
 */
#include <string.h>

#include "mailspec/smtp.h"

#define R_LINE   "RFC 5321 4.5.3.1.4 command line"
#define R_CMD    "RFC 5321 4.1.1 command"
#define R_PARAM  "RFC 5321 4.1.2 esmtp-param"
#define R_STRING "RFC 5321 4.1.2 String"
#define R_SASL   "RFC 4954 4 base64"

/* sasl_left: a count, or one of these */
#define SASL_UNTIL_REPLY UINT32_MAX       /* a 334 came: lines until a final reply */
#define SASL_GUESS       (UINT32_MAX - 1) /* unknown mechanism, commands only */

static const struct {
    const char *name;
    uint8_t verb;
} verbs[] = {
    {"EHLO", MS_SMTP_EHLO}, {"HELO", MS_SMTP_HELO}, {"MAIL", MS_SMTP_MAIL},
    {"RCPT", MS_SMTP_RCPT}, {"DATA", MS_SMTP_DATA}, {"RSET", MS_SMTP_RSET},
    {"VRFY", MS_SMTP_VRFY}, {"EXPN", MS_SMTP_EXPN}, {"HELP", MS_SMTP_HELP},
    {"NOOP", MS_SMTP_NOOP}, {"QUIT", MS_SMTP_QUIT}, {"STARTTLS", MS_SMTP_STARTTLS},
    {"AUTH", MS_SMTP_AUTH}, {"BDAT", MS_SMTP_BDAT}, {"ETRN", MS_SMTP_ETRN},
};

const char *ms_smtp_verb_name(unsigned verb)
{
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (verbs[i].verb == verb)
            return verbs[i].name;
    return "";
}

static uint8_t verb_lookup(struct ms_slice w)
{
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (ms_slice_ieq(w, verbs[i].name))
            return verbs[i].verb;
    return MS_SMTP_NONE;
}

/* Exactly one SP; more (or none where the caller allows it) only as a quirk. */
static enum ms_status need_sp(struct ms_cursor *c, const struct ms_limits *lim,
                              struct ms_smtp_command *v, const char *rule, const char *reason)
{
    MS_GUARD(ms_cursor_expect(c, ' ', rule, reason));
    if (ms_cursor_peek(c) == ' ') {
        if (!(lim->lenient & MS_LENIENT_SPACES))
            return ms_fail(c, rule, "exactly one SP expected between words");
        ms_quirk_add(&v->quirks, c->pos, rule, "several SP between words");
        while (ms_cursor_accept(c, ' '))
            ;
    }
    return MS_OK;
}

static enum ms_status need_end(struct ms_cursor *c, const struct ms_limits *lim,
                               struct ms_smtp_command *v, const char *rule)
{
    if (ms_cursor_peek(c) == ' ' && (lim->lenient & MS_LENIENT_SPACES)) {
        size_t at = c->pos;
        while (ms_cursor_accept(c, ' '))
            ;
        if (ms_cursor_eof(c)) {
            ms_quirk_add(&v->quirks, at, rule, "trailing SP before CRLF");
            return MS_OK;
        }
        c->pos = at;
    }
    MS_ENSURE(ms_cursor_eof(c), c, rule,
              ms_cursor_peek(c) == ' ' && ms_cursor_left(c) == 1
                  ? "trailing SP before CRLF"
                  : "expected CRLF (end of the command)");
    return MS_OK;
}

/* 8-bit bytes: UTF-8 with SMTPUTF8 (RFC 6531), a quirk with MS_LENIENT_8BIT, else an error. */
static enum ms_status check_8bit(struct ms_cursor *c, const struct ms_limits *lim,
                                 struct ms_smtp_command *v, int allowed, size_t at)
{
    if (allowed)
        return MS_OK;
    if (lim->lenient & MS_LENIENT_8BIT) {
        ms_quirk_add(&v->quirks, at, "RFC 6531 3.4", "UTF-8 without SMTPUTF8");
        return MS_OK;
    }
    return ms_fail_at(c, at, "RFC 6531 3.4", "8-bit byte in a command without SMTPUTF8");
}

/* Is there anything but SP before the end of the line? */
static int more_words(const struct ms_cursor *c)
{
    for (size_t i = c->pos; i < c->len; i++)
        if (c->p[i] != ' ')
            return 1;
    return 0;
}

/* String = Atom / Quoted-string (RFC 5321 4.1.2), UTF-8 flagged in *u8. */
static enum ms_status parse_string(struct ms_cursor *c, struct ms_slice *out, size_t *u8)
{
    size_t start = c->pos;

    if (ms_cursor_accept(c, '"')) {
        for (;;) {
            int ch = ms_cursor_peek(c);
            if (ch == '"') {
                c->pos++;
                break;
            }
            if (ch == '\\') {
                int nx = ms_cursor_peek_at(c, 1);
                MS_ENSURE(nx >= 32 && nx <= 126, c, "RFC 5321 4.1.2 quoted-pairSMTP",
                          "expected a printable ASCII character after \"\\\"");
                c->pos += 2;
            } else if (ch >= 0x80) {
                int n = (int)ms_utf8_len(c->p + c->pos, c->len - c->pos);
                MS_ENSURE(n, c, "RFC 6531 3.3 qtextSMTP", "invalid UTF-8");
                if (*u8 == SIZE_MAX)
                    *u8 = c->pos;
                c->pos += (size_t)n;
            } else if (ch >= 0 && ms_is((unsigned char)ch, MS_C_SMTP_QTEXT)) {
                c->pos++;
            } else {
                return ms_fail(c, "RFC 5321 4.1.2 Quoted-string",
                               "expected qtextSMTP, \"\\\" or closing DQUOTE");
            }
        }
    } else {
        while (c->pos < c->len) {
            unsigned char ch = c->p[c->pos];
            if (ms_is(ch, MS_C_ATEXT)) {
                c->pos++;
            } else if (ch >= 0x80) {
                int n = (int)ms_utf8_len(c->p + c->pos, c->len - c->pos);
                MS_ENSURE(n, c, "RFC 6531 3.3 atext", "invalid UTF-8");
                if (*u8 == SIZE_MAX)
                    *u8 = c->pos;
                c->pos += (size_t)n;
            } else {
                break;
            }
        }
        MS_ENSURE(c->pos > start, c, R_STRING, "expected an Atom or a Quoted-string");
    }
    out->ptr = (const char *)c->p + start;
    out->len = c->pos - start;
    return MS_OK;
}

/* xtext = *( xchar / hexchar ), hexchar = "+" 2(DIGIT / %x41-46) (RFC 3461 4) */
static enum ms_status check_xtext(struct ms_cursor *c, size_t at, struct ms_slice s,
                                  const char *rule)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        if (ch == '+') {
            for (size_t k = 1; k <= 2; k++) {
                unsigned char h = i + k < s.len ? (unsigned char)s.ptr[i + k] : 0;
                if (!(ms_is_digit(h) || (h >= 'A' && h <= 'F')))
                    return ms_fail_at(c, at + i + k, rule,
                                      "expected two upper-case hex digits after \"+\"");
            }
            i += 2;
        } else if (!ms_is(ch, MS_C_XCHAR)) {
            return ms_fail_at(c, at + i, rule, "expected xchar or \"+\" hexchar");
        }
    }
    return MS_OK;
}

/* Typed parameters; generic ones only need esmtp-keyword ["=" esmtp-value]. */
static enum ms_status typed_param(struct ms_cursor *c, struct ms_smtp_command *v,
                                  const struct ms_smtp_param *p, size_t kat, size_t vat)
{
    int mail = v->verb == MS_SMTP_MAIL;
    struct ms_slice val = p->value;

#define WANT_MAIL(rule)  MS_ENSURE(mail, c, rule, "a MAIL FROM parameter, not allowed in RCPT TO")
#define WANT_VALUE(rule) MS_ENSURE(p->has_value, c, rule, "expected \"=\" and a value")
#define ONCE(cond, rule) MS_ENSURE(!(cond), c, rule, "parameter given twice")
    if (ms_slice_ieq(p->keyword, "SIZE")) {
        c->pos = kat;
        WANT_MAIL("RFC 1870 6 size-param");
        ONCE(v->has_size, "RFC 1870 6 size-param");
        WANT_VALUE("RFC 1870 6 size-param");
        if (val.len > 20 || ms_number_parse(val.ptr, val.len, UINT64_MAX, &v->size) != MS_OK)
            return ms_fail_at(c, vat, "RFC 1870 6 size-value", "expected 1*20DIGIT below 2^64");
        v->has_size = 1;
    } else if (ms_slice_ieq(p->keyword, "BODY")) {
        c->pos = kat;
        WANT_MAIL("RFC 6152 2 BODY");
        ONCE(v->body, "RFC 6152 2 BODY");
        WANT_VALUE("RFC 6152 2 BODY");
        if (ms_slice_ieq(val, "7BIT"))
            v->body = MS_SMTP_BODY_7BIT;
        else if (ms_slice_ieq(val, "8BITMIME"))
            v->body = MS_SMTP_BODY_8BITMIME;
        else if (ms_slice_ieq(val, "BINARYMIME"))
            v->body = MS_SMTP_BODY_BINARYMIME;
        else
            return ms_fail_at(c, vat, "RFC 6152 2 BODY",
                              "expected 7BIT, 8BITMIME or BINARYMIME (RFC 3030)");
    } else if (ms_slice_ieq(p->keyword, "SMTPUTF8")) {
        c->pos = kat;
        WANT_MAIL("RFC 6531 3.4 SMTPUTF8");
        ONCE(v->smtputf8, "RFC 6531 3.4 SMTPUTF8");
        MS_ENSURE(!p->has_value, c, "RFC 6531 3.4 SMTPUTF8", "SMTPUTF8 takes no value");
        v->smtputf8 = 1;
    } else if (ms_slice_ieq(p->keyword, "RET")) {
        c->pos = kat;
        WANT_MAIL("RFC 3461 4.3 RET");
        ONCE(v->ret, "RFC 3461 4.3 RET");
        WANT_VALUE("RFC 3461 4.3 RET");
        if (ms_slice_ieq(val, "FULL"))
            v->ret = 1;
        else if (ms_slice_ieq(val, "HDRS"))
            v->ret = 2;
        else
            return ms_fail_at(c, vat, "RFC 3461 4.3 RET", "expected FULL or HDRS");
    } else if (ms_slice_ieq(p->keyword, "ENVID")) {
        c->pos = kat;
        WANT_MAIL("RFC 3461 4.4 ENVID");
        ONCE(v->envid.ptr, "RFC 3461 4.4 ENVID");
        WANT_VALUE("RFC 3461 4.4 ENVID");
        MS_GUARD(check_xtext(c, vat, val, "RFC 3461 4.4 ENVID"));
        if (val.len > 100)
            return ms_fail_at(c, vat + 100, "RFC 3461 4.4 ENVID",
                              "ENVID longer than 100 characters");
        v->envid = val;
    } else if (ms_slice_ieq(p->keyword, "AUTH")) {
        c->pos = kat;
        WANT_MAIL("RFC 4954 5 auth-param");
        ONCE(v->auth.ptr, "RFC 4954 5 auth-param");
        WANT_VALUE("RFC 4954 5 auth-param");
        if (!ms_slice_eq(val, "<>"))
            MS_GUARD(check_xtext(c, vat, val, "RFC 4954 5 auth-param"));
        v->auth = val;
    } else if (ms_slice_ieq(p->keyword, "NOTIFY")) {
        c->pos = kat;
        MS_ENSURE(!mail, c, "RFC 3461 4.1 NOTIFY", "a RCPT TO parameter, not allowed in MAIL");
        ONCE(v->notify, "RFC 3461 4.1 NOTIFY");
        WANT_VALUE("RFC 3461 4.1 NOTIFY");
        size_t i = 0;
        while (i <= val.len) {
            const char *comma = memchr(val.ptr + i, ',', val.len - i);
            size_t e = comma ? (size_t)(comma - val.ptr) : val.len;
            struct ms_slice w = {val.ptr + i, e - i};
            uint8_t bit = ms_slice_ieq(w, "NEVER")     ? MS_SMTP_NOTIFY_NEVER
                          : ms_slice_ieq(w, "SUCCESS") ? MS_SMTP_NOTIFY_SUCCESS
                          : ms_slice_ieq(w, "FAILURE") ? MS_SMTP_NOTIFY_FAILURE
                          : ms_slice_ieq(w, "DELAY")   ? MS_SMTP_NOTIFY_DELAY
                                                       : 0;
            if (!bit)
                return ms_fail_at(c, vat + i, "RFC 3461 4.1 NOTIFY",
                                  "expected NEVER or a list of SUCCESS, FAILURE, DELAY");
            if (v->notify & bit)
                return ms_fail_at(c, vat + i, "RFC 3461 4.1 NOTIFY", "value listed twice");
            if ((bit == MS_SMTP_NOTIFY_NEVER && v->notify) || (v->notify & MS_SMTP_NOTIFY_NEVER))
                return ms_fail_at(c, vat + i, "RFC 3461 4.1 NOTIFY",
                                  "NEVER cannot be combined with other values");
            v->notify |= bit;
            i = e + 1;
        }
    } else if (ms_slice_ieq(p->keyword, "ORCPT")) {
        c->pos = kat;
        MS_ENSURE(!mail, c, "RFC 3461 4.2 ORCPT", "a RCPT TO parameter, not allowed in MAIL");
        ONCE(v->orcpt_type.ptr, "RFC 3461 4.2 ORCPT");
        WANT_VALUE("RFC 3461 4.2 ORCPT");
        const char *semi = memchr(val.ptr, ';', val.len);
        size_t tl = semi ? (size_t)(semi - val.ptr) : val.len;
        if (!semi || tl == 0)
            return ms_fail_at(c, vat + tl, "RFC 3461 4.2 ORCPT", "expected addr-type \";\" xtext");
        for (size_t i = 0; i < tl; i++)
            if (!ms_is((unsigned char)val.ptr[i], MS_C_ATEXT))
                return ms_fail_at(c, vat + i, "RFC 3461 4.2 addr-type", "expected an atom");
        struct ms_slice x = {val.ptr + tl + 1, val.len - tl - 1};
        MS_GUARD(check_xtext(c, vat + tl + 1, x, "RFC 3461 4.2 ORCPT"));
        v->orcpt_type = (struct ms_slice){val.ptr, tl};
        v->orcpt = x;
    }
#undef WANT_MAIL
#undef WANT_VALUE
#undef ONCE
    return MS_OK;
}

/* Mail-parameters / Rcpt-parameters: *(SP esmtp-param) up to the end. */
static enum ms_status parse_params(struct ms_cursor *c, const struct ms_limits *lim,
                                   struct ms_smtp_command *v, size_t *u8)
{
    size_t max = lim->smtp_params < MS_SMTP_PARAMS_MAX ? lim->smtp_params : MS_SMTP_PARAMS_MAX;

    while (!ms_cursor_eof(c)) {
        if (ms_cursor_peek(c) == ' ' && (lim->lenient & MS_LENIENT_SPACES)) {
            size_t at = c->pos;
            while (ms_cursor_accept(c, ' '))
                ;
            if (ms_cursor_eof(c)) {
                ms_quirk_add(&v->quirks, at, R_PARAM, "trailing SP before CRLF");
                return MS_OK;
            }
            if (c->pos - at > 1)
                ms_quirk_add(&v->quirks, at + 1, R_PARAM, "several SP between words");
        } else {
            MS_GUARD(ms_cursor_expect(c, ' ', R_PARAM, "expected SP before a parameter or CRLF"));
            if (ms_cursor_eof(c))
                return ms_fail_at(c, c->pos - 1, R_PARAM, "trailing SP before CRLF");
            if (ms_cursor_peek(c) == ' ')
                return ms_fail(c, R_PARAM, "exactly one SP expected between words");
        }
        if (v->nparams >= max)
            return ms_fail_limit(c, "RFC 5321 4.5.3.1 parameters", "too many ESMTP parameters");
        struct ms_smtp_param *p = &v->params[v->nparams];
        size_t kat = c->pos;
        int first = ms_cursor_peek(c);
        MS_ENSURE(first >= 0 && (ms_is_digit((unsigned char)first) ||
                                 ms_is((unsigned char)first, MS_C_ALPHA)),
                  c, "RFC 5321 4.1.2 esmtp-keyword", "expected a parameter keyword");
        ms_cursor_span(c, MS_C_LDH, c->len, &p->keyword);
        size_t vat = c->pos + 1;
        if (ms_cursor_accept(c, '=')) {
            size_t vs = c->pos;
            while (c->pos < c->len) {
                unsigned char ch = c->p[c->pos];
                if (ms_is(ch, MS_C_ESMTP_VALUE)) {
                    c->pos++;
                } else if (ch >= 0x80) {
                    /* RFC 6531 3.3: esmtp-value =/ UTF8-non-ascii */
                    int n = (int)ms_utf8_len(c->p + c->pos, c->len - c->pos);
                    MS_ENSURE(n, c, "RFC 6531 3.3 esmtp-value", "invalid UTF-8");
                    if (*u8 == SIZE_MAX)
                        *u8 = c->pos;
                    c->pos += (size_t)n;
                } else {
                    break;
                }
            }
            MS_ENSURE(c->pos > vs, c, "RFC 5321 4.1.2 esmtp-value", "expected a value after \"=\"");
            p->value.ptr = (const char *)c->p + vs;
            p->value.len = c->pos - vs;
            p->has_value = 1;
        } else {
            p->value.ptr = (const char *)c->p + c->pos;
            p->value.len = 0;
        }
        if (!ms_cursor_eof(c) && ms_cursor_peek(c) != ' ')
            return ms_fail(c, R_PARAM, "expected SP, \"=\" or CRLF after a parameter");
        size_t end = c->pos;
        MS_GUARD(typed_param(c, v, p, kat, vat));
        c->pos = end;
        v->nparams++;
    }
    return MS_OK;
}

/* "FROM:" / "TO:" -- no space around the colon (MS_LENIENT_SPACES: a quirk). */
static enum ms_status parse_from_to(struct ms_cursor *c, const struct ms_limits *lim,
                                    struct ms_smtp_command *v, const char *word, const char *rule)
{
    MS_GUARD(need_sp(c, lim, v, rule, "expected SP after the verb"));
    MS_GUARD(ms_cursor_expect_ci(
        c, word, rule, v->verb == MS_SMTP_MAIL ? "expected \"FROM:\"" : "expected \"TO:\""));
    if (ms_cursor_peek(c) == ' ') {
        if (!(lim->lenient & MS_LENIENT_SPACES))
            return ms_fail(c, rule, "no space allowed before \":\"");
        ms_quirk_add(&v->quirks, c->pos, rule, "SP before \":\"");
        while (ms_cursor_accept(c, ' '))
            ;
    }
    MS_GUARD(ms_cursor_expect(c, ':', rule, "expected \":\""));
    if (ms_cursor_peek(c) == ' ') {
        if (!(lim->lenient & MS_LENIENT_SPACES))
            return ms_fail(c, rule, "no space allowed after \":\"");
        ms_quirk_add(&v->quirks, c->pos, rule, "SP after \":\"");
        while (ms_cursor_accept(c, ' '))
            ;
    }
    return MS_OK;
}

/* RFC 4954 4: base64 with correct padding, or "=" when allow_eq. */
static enum ms_status check_base64(struct ms_cursor *c, struct ms_slice s, size_t at)
{
    size_t n = s.len, i = 0;

    while (i < n && ms_is((unsigned char)s.ptr[i], MS_C_BASE64))
        i++;
    size_t data = i;
    while (i < n && s.ptr[i] == '=' && i - data < 2)
        i++;
    if (i < n)
        return ms_fail_at(c, at + i, R_SASL, "expected base64 characters");
    if (n % 4 != 0)
        return ms_fail_at(c, at + n, R_SASL, "base64 length is not a multiple of 4");
    return MS_OK;
}

/* sasl-mech = 1*20 (UPPER-ALPHA / DIGIT / "-" / "_") (RFC 4422 3.1) */
static enum ms_status parse_mech(struct ms_cursor *c, const struct ms_limits *lim,
                                 struct ms_smtp_command *v)
{
    size_t start = c->pos;

    while (c->pos < c->len) {
        unsigned char ch = c->p[c->pos];
        if (ch >= 'a' && ch <= 'z') {
            if (!(lim->lenient & MS_LENIENT_KEYWORD_CASE))
                return ms_fail(c, "RFC 4422 3.1 sasl-mech", "mechanism names are upper case");
            ms_quirk_add(&v->quirks, c->pos, "RFC 4422 3.1 sasl-mech", "lower-case mechanism name");
            c->pos++;
        } else if ((ch >= 'A' && ch <= 'Z') || ms_is_digit(ch) || ch == '-' || ch == '_') {
            c->pos++;
        } else {
            break;
        }
    }
    MS_ENSURE(c->pos > start, c, "RFC 4422 3.1 sasl-mech", "expected a mechanism name");
    if (c->pos - start > 20)
        return ms_fail_at(c, start + 20, "RFC 4422 3.1 sasl-mech",
                          "mechanism name longer than 20 characters");
    v->arg.ptr = (const char *)c->p + start;
    v->arg.len = c->pos - start;
    return MS_OK;
}

/* How many SASL lines follow AUTH in a commands-only stream (see docs/smtp.md). */
static uint32_t sasl_lines(const struct ms_smtp_command *v)
{
    uint32_t n = ms_sasl_client_lines(v->arg, v->has_response);
    return n == MS_SASL_LINES_UNKNOWN ? SASL_GUESS : n;
}

static enum ms_status parse_command(struct ms_cursor *c, struct ms_smtp_cstate *st,
                                    const struct ms_limits *lim, struct ms_smtp_command *v)
{
    struct ms_slice w;
    size_t u8 = SIZE_MAX;

    ms_cursor_span(c, MS_C_ALPHA, 16, &w);
    MS_ENSURE(w.len > 0, c, R_CMD, "expected a command verb");
    v->verb = verb_lookup(w);
    if (v->verb != MS_SMTP_NONE && ms_cursor_peek(c) == '\t')
        return ms_fail(c, R_CMD, "SP, not HT, separates the verb from its argument");
    if (v->verb == MS_SMTP_NONE || (!ms_cursor_eof(c) && ms_cursor_peek(c) != ' '))
        return ms_fail_at(c, 0, R_CMD, "unknown command");
    switch (v->verb) {
    case MS_SMTP_EHLO:
    case MS_SMTP_HELO: {
        const char *rule =
            v->verb == MS_SMTP_EHLO ? "RFC 5321 4.1.1.1 ehlo" : "RFC 5321 4.1.1.1 helo";
        MS_GUARD(need_sp(c, lim, v, rule, "expected SP and a domain"));
        MS_GUARD(ms_smtp_host_parse(c, lim, v->verb == MS_SMTP_EHLO, 0, &v->host));
        return need_end(c, lim, v, rule);
    }
    case MS_SMTP_MAIL:
    case MS_SMTP_RCPT: {
        int mail = v->verb == MS_SMTP_MAIL;
        const char *rule = mail ? "RFC 5321 4.1.1.2 MAIL" : "RFC 5321 4.1.1.3 RCPT";
        MS_GUARD(parse_from_to(c, lim, v, mail ? "FROM" : "TO", rule));
        MS_GUARD(ms_smtp_path_parse(c, lim, mail, !mail, &v->path));
        MS_GUARD(parse_params(c, lim, v, &u8));
        int utf8_ok = mail ? v->smtputf8 : st->smtputf8;
        if (v->path.utf8)
            MS_GUARD(check_8bit(c, lim, v, utf8_ok, v->path.utf8_at));
        if (u8 != SIZE_MAX)
            MS_GUARD(check_8bit(c, lim, v, utf8_ok, u8));
        return MS_OK;
    }
    case MS_SMTP_VRFY:
    case MS_SMTP_EXPN: {
        const char *rule =
            v->verb == MS_SMTP_VRFY ? "RFC 5321 4.1.1.6 VRFY" : "RFC 5321 4.1.1.7 EXPN";
        MS_GUARD(need_sp(c, lim, v, rule, "expected SP and a String"));
        MS_GUARD(parse_string(c, &v->arg, &u8));
        /* RFC 6531 3.7.4.2: vrfy/expn may end with SP "SMTPUTF8" */
        size_t at = c->pos;
        if (ms_cursor_accept_ci(c, " SMTPUTF8") && ms_cursor_eof(c))
            v->smtputf8 = 1;
        else
            c->pos = at;
        MS_GUARD(need_end(c, lim, v, rule));
        if (u8 != SIZE_MAX)
            MS_GUARD(check_8bit(c, lim, v, v->smtputf8, u8));
        return MS_OK;
    }
    case MS_SMTP_HELP:
    case MS_SMTP_NOOP: {
        const char *rule =
            v->verb == MS_SMTP_HELP ? "RFC 5321 4.1.1.8 HELP" : "RFC 5321 4.1.1.9 NOOP";
        if (more_words(c)) {
            MS_GUARD(need_sp(c, lim, v, rule, "expected SP and a String, or CRLF"));
            MS_GUARD(parse_string(c, &v->arg, &u8));
            if (u8 != SIZE_MAX)
                MS_GUARD(check_8bit(c, lim, v, 0, u8));
        }
        return need_end(c, lim, v, rule);
    }
    case MS_SMTP_AUTH:
        MS_GUARD(need_sp(c, lim, v, "RFC 4954 4 AUTH", "expected SP and a mechanism"));
        MS_GUARD(parse_mech(c, lim, v));
        if (more_words(c)) {
            MS_GUARD(need_sp(c, lim, v, "RFC 4954 4 AUTH", "expected SP"));
            size_t at = c->pos;
            while (c->pos < c->len && c->p[c->pos] != ' ')
                c->pos++;
            v->response.ptr = (const char *)c->p + at;
            v->response.len = c->pos - at;
            v->has_response = 1;
            /* "=" is an initial response of zero length (RFC 4954 4). */
            if (!ms_slice_eq(v->response, "=")) {
                MS_ENSURE(v->response.len > 0, c, "RFC 4954 4 initial-response",
                          "expected base64 or \"=\"");
                MS_GUARD(check_base64(c, v->response, at));
            }
        }
        return need_end(c, lim, v, "RFC 4954 4 AUTH");
    case MS_SMTP_BDAT: {
        MS_GUARD(need_sp(c, lim, v, "RFC 3030 4 bdat-cmd", "expected SP and a chunk size"));
        /* chunk-size = 1*DIGIT: any number is grammatical, a big one is over
         * smtp_bdat_chunk. */
        size_t at = c->pos;
        if (ms_cursor_number(c, 20, lim->smtp_bdat_chunk, &v->chunk_size,
                             "RFC 3030 4 chunk-size") != MS_OK)
            return c->pos > at
                       ? ms_fail_limit_at(c, at, "RFC 3030 4 chunk-size", "number out of range")
                       : MS_FAIL;
        if (more_words(c)) {
            MS_GUARD(need_sp(c, lim, v, "RFC 3030 4 bdat-cmd", "expected SP"));
            MS_GUARD(ms_cursor_expect_ci(c, "LAST", "RFC 3030 4 end-marker", "expected LAST"));
            v->last = 1;
        }
        return need_end(c, lim, v, "RFC 3030 4 bdat-cmd");
    }
    case MS_SMTP_ETRN: {
        struct ms_smtp_host h;
        MS_GUARD(need_sp(c, lim, v, "RFC 1985 5 ETRN", "expected SP and a node name"));
        size_t at = c->pos;
        if (ms_cursor_accept(c, '#')) {
            struct ms_slice q;
            MS_GUARD(ms_cursor_token(c, MS_C_VCHAR, c->len, &q, "RFC 1985 5 ETRN",
                                     "expected a queue name after \"#\""));
        } else {
            ms_cursor_accept(c, '@');
            MS_GUARD(ms_smtp_host_parse(c, lim, 0, 0, &h));
        }
        v->arg.ptr = (const char *)c->p + at;
        v->arg.len = c->pos - at;
        return need_end(c, lim, v, "RFC 1985 5 ETRN");
    }
    case MS_SMTP_DATA:
        MS_GUARD(need_end(c, lim, v, "RFC 5321 4.1.1.4 DATA"));
        /* RFC 3030 3: BINARYMIME data goes with BDAT only, and BDAT and DATA
         * are not mixed in one transaction. */
        if (st->body == MS_SMTP_BODY_BINARYMIME)
            return ms_fail_code_at(c, 0, MS_ERR_STATE, "RFC 3030 3 BINARYMIME",
                                   "DATA after BODY=BINARYMIME (only BDAT may carry it)");
        if (st->bdat_used)
            return ms_fail_code_at(c, 0, MS_ERR_STATE, "RFC 3030 2 BDAT",
                                   "DATA in a transaction that used BDAT");
        return MS_OK;
    case MS_SMTP_RSET:
        return need_end(c, lim, v, "RFC 5321 4.1.1.5 RSET");
    case MS_SMTP_QUIT:
        return need_end(c, lim, v, "RFC 5321 4.1.1.10 QUIT");
    case MS_SMTP_STARTTLS:
        return need_end(c, lim, v, "RFC 3207 4 STARTTLS");
    default:
        return ms_fail_at(c, 0, R_CMD, "unknown command");
    }
}

static void transaction_reset(struct ms_smtp_cstate *st)
{
    st->smtputf8 = 0;
    st->body = 0;
    st->bdat_used = 0;
}

/*
 * ms_line_find with the search for the LF resumed where the last call
 * stopped, so a line that arrives byte by byte is scanned once (the driver
 * hands back the same bytes from the same start after MS_PARTIAL).
 */
static ssize_t find_line(struct ms_smtp_cstate *st, const char *buf, size_t len, size_t max,
                         uint32_t lenient, size_t *tl, int *bare, struct ms_error *err,
                         const char *rule)
{
    size_t scan = len < max ? len : max;
    size_t from = st->lscan <= scan ? st->lscan : 0;

    if (len < max && (from >= scan || !memchr(buf + from, '\n', scan - from))) {
        st->lscan = scan;
        return MS_PARTIAL;
    }
    st->lscan = 0;
    return ms_line_find(buf, len, max, lenient, tl, bare, err, rule);
}

static ssize_t command_line(struct ms_smtp_cstate *st, const struct ms_limits *lim, const char *buf,
                            size_t len, struct ms_smtp_command *v, int *done, struct ms_error *err)
{
    size_t tl;
    int bare;
    ssize_t n =
        find_line(st, buf, len, lim->smtp_command_line, lim->lenient, &tl, &bare, err, R_LINE);

    if (n == MS_PARTIAL)
        return n;
    if (n < 0) {
        st->sent++; /* the server answers a bad line too */
        return n;
    }
    memset(v, 0, sizeof(*v));
    v->type = MS_SMTP_T_COMMAND;
    v->raw.ptr = buf;
    v->raw.len = (size_t)n;
    if (bare)
        ms_quirk_add(&v->quirks, tl, "RFC 5321 2.3.8", "bare LF ends the line");
    struct ms_cursor c;
    ms_cursor_init(&c, buf, tl, err, R_LINE);
    if (parse_command(&c, st, lim, v) != MS_OK) {
        err->skip = (size_t)n;
        st->sent++;
        return MS_FAIL;
    }
    st->sent++;
    switch (v->verb) {
    case MS_SMTP_EHLO:
    case MS_SMTP_HELO:
    case MS_SMTP_RSET:
        transaction_reset(st);
        break;
    case MS_SMTP_MAIL:
        st->smtputf8 = v->smtputf8;
        st->body = v->body;
        st->bdat_used = 0;
        break;
    case MS_SMTP_DATA:
        /* Commands-only streams assume 354; a session's reply_seen corrects it. */
        st->mode = MS_SMTP_MODE_DATA;
        st->octets = st->lines = st->unstuffed = 0;
        st->quirks.n = st->quirks.dropped = 0;
        st->wait = MS_SMTP_WAIT_DATA;
        st->wait_index = st->sent;
        break;
    case MS_SMTP_BDAT:
        st->bdat_used = !v->last;
        if (v->chunk_size > 0) {
            st->mode = MS_SMTP_MODE_CHUNK;
            st->remaining = v->chunk_size;
            st->chunk_last = v->last;
            st->octets = 0;
        } else if (v->last) {
            transaction_reset(st);
        }
        break;
    case MS_SMTP_AUTH:
        st->sasl_left = sasl_lines(v);
        st->mode = st->sasl_left ? MS_SMTP_MODE_SASL : MS_SMTP_MODE_CMD;
        st->wait = MS_SMTP_WAIT_AUTH;
        st->wait_index = st->sent;
        break;
    default:
        break;
    }
    *done = 1;
    return n;
}

/* Is the line at buf a known command verb (for SASL_GUESS)? */
static int looks_like_command(const char *buf, size_t tl)
{
    size_t i = 0;

    while (i < tl && i < 16 && ms_is((unsigned char)buf[i], MS_C_ALPHA))
        i++;
    if (i == 0 || (i < tl && buf[i] != ' '))
        return 0;
    return verb_lookup((struct ms_slice){buf, i}) != MS_SMTP_NONE;
}

static ssize_t sasl_line(struct ms_smtp_cstate *st, const struct ms_limits *lim, const char *buf,
                         size_t len, struct ms_smtp_command *v, int *done, struct ms_error *err)
{
    size_t tl;
    int bare;
    ssize_t n = find_line(st, buf, len, lim->smtp_sasl_line, lim->lenient, &tl, &bare, err,
                          "RFC 4954 4 SASL response line");

    if (n == MS_PARTIAL)
        return n;
    if (n > 0 && st->sasl_left == SASL_GUESS && looks_like_command(buf, tl)) {
        st->mode = MS_SMTP_MODE_CMD;
        return command_line(st, lim, buf, len, v, done, err);
    }
    st->sent++;
    st->wait = MS_SMTP_WAIT_AUTH;
    st->wait_index = st->sent;
    if (st->sasl_left != SASL_UNTIL_REPLY && st->sasl_left != SASL_GUESS && --st->sasl_left == 0)
        st->mode = MS_SMTP_MODE_CMD;
    if (n < 0)
        return n;
    memset(v, 0, sizeof(*v));
    v->type = MS_SMTP_T_SASL;
    v->raw.ptr = buf;
    v->raw.len = (size_t)n;
    v->response.ptr = buf;
    v->response.len = tl;
    v->has_response = 1;
    if (bare)
        ms_quirk_add(&v->quirks, tl, "RFC 5321 2.3.8", "bare LF ends the line");
    if (tl == 1 && buf[0] == '*') {
        /* RFC 4954 4: "*" cancels the exchange. */
        v->cancel = 1;
        st->mode = MS_SMTP_MODE_CMD;
    } else {
        struct ms_cursor c;
        ms_cursor_init(&c, buf, tl, err, R_SASL);
        if (check_base64(&c, v->response, 0) != MS_OK) {
            err->skip = (size_t)n;
            return MS_FAIL;
        }
    }
    *done = 1;
    return n;
}

static ssize_t cmd_parse(void *state, const struct ms_limits *lim, const char *buf, size_t len,
                         void *view, int *done, struct ms_error *err)
{
    struct ms_smtp_cstate *st = state;
    struct ms_smtp_command *v = view;

    *done = 0;
    switch (st->mode) {
    case MS_SMTP_MODE_DATA:
        return ms_smtp_content_parse(st, lim, buf, len, v, done, err);
    case MS_SMTP_MODE_CHUNK:
        return ms_smtp_chunk_parse(st, lim, buf, len, v, done, err);
    case MS_SMTP_MODE_SASL:
        return sasl_line(st, lim, buf, len, v, done, err);
    default:
        return command_line(st, lim, buf, len, v, done, err);
    }
}

static void cmd_init(void *state, const struct ms_limits *lim)
{
    (void)lim;
    (void)state;
}

static void data_init(void *state, const struct ms_limits *lim)
{
    struct ms_smtp_cstate *st = state;
    (void)lim;
    st->mode = MS_SMTP_MODE_DATA;
}

/* ---- JSON ---- */

static void json_host(struct ms_out *o, const char *key, const struct ms_smtp_host *h)
{
    static const char *const types[] = {"none", "domain", "ipv4", "ipv6", "general"};

    ms_out_json_key(o, key);
    ms_out_json_slice(o, h->text);
    ms_out_json_key(o, "host_type");
    ms_out_str(o, "\"");
    ms_out_str(o, types[h->type < 5 ? h->type : 0]);
    ms_out_str(o, "\"");
    if (h->type == MS_SMTP_HOST_GENERAL) {
        ms_out_json_key(o, "tag");
        ms_out_json_slice(o, h->tag);
    }
    if (h->type >= MS_SMTP_HOST_IPV4) {
        ms_out_json_key(o, "address");
        ms_out_json_slice(o, h->value);
    }
}

static void json_path(struct ms_out *o, const struct ms_smtp_path *p)
{
    ms_out_json_key(o, "path");
    ms_out_json_slice(o, p->text);
    if (p->null) {
        ms_out_str(o, ",\"null_path\":true");
        return;
    }
    if (p->postmaster) {
        ms_out_str(o, ",\"postmaster\":true");
        return;
    }
    if (p->route.len) {
        ms_out_json_key(o, "route");
        ms_out_json_slice(o, p->route);
    }
    ms_out_json_key(o, "local");
    ms_out_json_slice(o, p->local);
    if (p->quoted)
        ms_out_str(o, ",\"quoted\":true");
    if (p->utf8)
        ms_out_str(o, ",\"utf8\":true");
    json_host(o, "domain", &p->domain);
}

static void json_cmd(const void *view, struct ms_out *o)
{
    const struct ms_smtp_command *v = view;

    switch (v->type) {
    case MS_SMTP_T_SASL:
        ms_out_str(o, ",\"type\":\"sasl\"");
        ms_out_json_key(o, "response");
        ms_out_json_slice(o, v->response);
        if (v->cancel)
            ms_out_str(o, ",\"cancel\":true");
        ms_out_json_quirks(o, &v->quirks);
        return;
    case MS_SMTP_T_DATA:
        ms_out_str(o, ",\"type\":\"data\",\"octets\":");
        ms_out_u64(o, v->octets);
        ms_out_str(o, ",\"lines\":");
        ms_out_u64(o, v->lines);
        ms_out_str(o, ",\"unstuffed\":");
        ms_out_u64(o, v->unstuffed);
        ms_out_json_quirks(o, &v->quirks);
        return;
    case MS_SMTP_T_CHUNK:
        ms_out_str(o, ",\"type\":\"chunk\",\"octets\":");
        ms_out_u64(o, v->octets);
        if (v->last)
            ms_out_str(o, ",\"last\":true");
        ms_out_json_quirks(o, &v->quirks);
        return;
    default:
        break;
    }
    ms_out_str(o, ",\"type\":\"command\",\"verb\":\"");
    ms_out_str(o, ms_smtp_verb_name(v->verb));
    ms_out_str(o, "\"");
    switch (v->verb) {
    case MS_SMTP_EHLO:
    case MS_SMTP_HELO:
        json_host(o, "domain", &v->host);
        break;
    case MS_SMTP_MAIL:
    case MS_SMTP_RCPT:
        json_path(o, &v->path);
        if (v->nparams) {
            ms_out_json_key(o, "params");
            ms_out_str(o, "[");
            for (unsigned i = 0; i < v->nparams; i++) {
                ms_out_str(o, i ? ",{\"keyword\":" : "{\"keyword\":");
                ms_out_json_slice(o, v->params[i].keyword);
                if (v->params[i].has_value) {
                    ms_out_str(o, ",\"value\":");
                    ms_out_json_slice(o, v->params[i].value);
                }
                ms_out_str(o, "}");
            }
            ms_out_str(o, "]");
        }
        if (v->has_size) {
            ms_out_json_key(o, "size");
            ms_out_u64(o, v->size);
        }
        if (v->body) {
            static const char *const b[] = {"", "7BIT", "8BITMIME", "BINARYMIME"};
            ms_out_json_key(o, "body");
            ms_out_json_str(o, b[v->body & 3], v->body == 1 ? 4 : v->body == 2 ? 8 : 10);
        }
        if (v->smtputf8)
            ms_out_str(o, ",\"smtputf8\":true");
        if (v->ret)
            ms_out_str(o, v->ret == 1 ? ",\"ret\":\"FULL\"" : ",\"ret\":\"HDRS\"");
        if (v->envid.ptr) {
            ms_out_json_key(o, "envid");
            ms_out_json_slice(o, v->envid);
        }
        if (v->auth.ptr) {
            ms_out_json_key(o, "auth");
            ms_out_json_slice(o, v->auth);
        }
        if (v->notify) {
            static const char *const nn[] = {"NEVER", "SUCCESS", "FAILURE", "DELAY"};
            int first = 1;
            ms_out_json_key(o, "notify");
            ms_out_str(o, "[");
            for (unsigned i = 0; i < 4; i++) {
                if (!(v->notify & (1u << i)))
                    continue;
                ms_out_str(o, first ? "\"" : ",\"");
                ms_out_str(o, nn[i]);
                ms_out_str(o, "\"");
                first = 0;
            }
            ms_out_str(o, "]");
        }
        if (v->orcpt_type.ptr) {
            ms_out_json_key(o, "orcpt_type");
            ms_out_json_slice(o, v->orcpt_type);
            ms_out_json_key(o, "orcpt");
            ms_out_json_slice(o, v->orcpt);
        }
        break;
    case MS_SMTP_VRFY:
    case MS_SMTP_EXPN:
    case MS_SMTP_HELP:
    case MS_SMTP_NOOP:
    case MS_SMTP_ETRN:
        if (v->arg.len) {
            ms_out_json_key(o, "arg");
            ms_out_json_slice(o, v->arg);
        }
        if (v->smtputf8)
            ms_out_str(o, ",\"smtputf8\":true");
        break;
    case MS_SMTP_AUTH:
        ms_out_json_key(o, "mechanism");
        ms_out_json_slice(o, v->arg);
        if (v->has_response) {
            ms_out_json_key(o, "initial_response");
            ms_out_json_slice(o, v->response);
        }
        break;
    case MS_SMTP_BDAT:
        ms_out_json_key(o, "size");
        ms_out_u64(o, v->chunk_size);
        if (v->last)
            ms_out_str(o, ",\"last\":true");
        break;
    default:
        break;
    }
    ms_out_json_quirks(o, &v->quirks);
}

/* ---- writer ---- */

static void put_slice(struct ms_out *o, struct ms_slice s)
{
    ms_out_bytes(o, s.ptr, s.len);
}

static ssize_t write_cmd(const void *view, char *out, size_t cap)
{
    const struct ms_smtp_command *v = view;
    struct ms_out o;

    if (v->type == MS_SMTP_T_DATA || v->type == MS_SMTP_T_CHUNK)
        return MS_FAIL; /* streamed: the content is not in the view */
    ms_out_init(&o, out, cap);
    if (v->quirks.n || v->quirks.dropped) {
        /* A lenient deviation is part of what was parsed: keep it. */
        put_slice(&o, v->raw);
        return o.overflow ? MS_FAIL : (ssize_t)o.len;
    }
    if (v->type == MS_SMTP_T_SASL) {
        put_slice(&o, v->response);
        ms_out_str(&o, "\r\n");
        return o.overflow ? MS_FAIL : (ssize_t)o.len;
    }
    ms_out_str(&o, ms_smtp_verb_name(v->verb));
    switch (v->verb) {
    case MS_SMTP_EHLO:
    case MS_SMTP_HELO:
        ms_out_str(&o, " ");
        put_slice(&o, v->host.text);
        break;
    case MS_SMTP_MAIL:
    case MS_SMTP_RCPT:
        ms_out_str(&o, v->verb == MS_SMTP_MAIL ? " FROM:" : " TO:");
        put_slice(&o, v->path.text);
        for (unsigned i = 0; i < v->nparams; i++) {
            ms_out_str(&o, " ");
            put_slice(&o, v->params[i].keyword);
            if (v->params[i].has_value) {
                ms_out_str(&o, "=");
                put_slice(&o, v->params[i].value);
            }
        }
        break;
    case MS_SMTP_VRFY:
    case MS_SMTP_EXPN:
    case MS_SMTP_HELP:
    case MS_SMTP_NOOP:
    case MS_SMTP_ETRN:
        if (v->arg.len) {
            ms_out_str(&o, " ");
            put_slice(&o, v->arg);
        }
        if (v->smtputf8)
            ms_out_str(&o, " SMTPUTF8");
        break;
    case MS_SMTP_AUTH:
        ms_out_str(&o, " ");
        put_slice(&o, v->arg);
        if (v->has_response) {
            ms_out_str(&o, " ");
            put_slice(&o, v->response);
        }
        break;
    case MS_SMTP_BDAT:
        ms_out_str(&o, " ");
        ms_out_u64(&o, v->chunk_size);
        if (v->last)
            ms_out_str(&o, " LAST");
        break;
    default:
        break;
    }
    ms_out_str(&o, "\r\n");
    return o.overflow ? MS_FAIL : (ssize_t)o.len;
}

const struct ms_kind ms_smtp_commands_kind = {
    "smtp",
    "commands",
    sizeof(struct ms_smtp_cstate),
    sizeof(struct ms_smtp_command),
    cmd_init,
    cmd_parse,
    json_cmd,
    write_cmd,
};

const struct ms_kind ms_smtp_data_kind = {
    "smtp",
    "data",
    sizeof(struct ms_smtp_cstate),
    sizeof(struct ms_smtp_command),
    data_init,
    cmd_parse,
    json_cmd,
    write_cmd,
};

/* ---- session hooks ---- */

void ms_smtp_reply_answers(struct ms_smtp_cstate *st, unsigned code, uint32_t failed_before)
{
    st->session = 1;
    /* Replies that failed to parse answered a command each; their codes are
     * unknown, so they end a wait without changing the stream's mode. */
    for (uint32_t i = 0; i < failed_before && st->answered < st->sent; i++) {
        st->answered++;
        if (st->wait != MS_SMTP_WAIT_NONE && st->answered == st->wait_index)
            st->wait = MS_SMTP_WAIT_NONE;
    }
    if (st->answered >= st->sent)
        return; /* the greeting, or a reply nobody asked for */
    st->answered++;
    if (st->wait == MS_SMTP_WAIT_NONE || st->answered != st->wait_index)
        return;
    uint8_t w = st->wait;
    st->wait = MS_SMTP_WAIT_NONE;
    st->lscan = 0; /* the mode may change: a pending line is searched anew */
    if (w == MS_SMTP_WAIT_DATA) {
        /* DATA refused (503, 554 ...): the next bytes are commands again,
         * unless content was already being sent. */
        if (code != 354 && st->mode == MS_SMTP_MODE_DATA && st->octets == 0)
            st->mode = MS_SMTP_MODE_CMD;
    } else if (code == 334) {
        if (st->mode == MS_SMTP_MODE_CMD || st->mode == MS_SMTP_MODE_SASL) {
            st->mode = MS_SMTP_MODE_SASL;
            st->sasl_left = SASL_UNTIL_REPLY;
        }
    } else if (st->mode == MS_SMTP_MODE_SASL) {
        st->mode = MS_SMTP_MODE_CMD; /* 235, 4xx, 5xx end the exchange */
    }
}
