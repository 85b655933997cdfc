/*
 * The recorder's rewriting of one line into .session text (docs/record.md).
 *
 * Pure: no I/O, no allocation. It follows just enough of each dialogue to
 * know what a line is: IMAP literals (whose bytes are never rewritten), SMTP
 * DATA and BDAT content, SASL exchanges, the STARTTLS/STLS go-ahead, POP3
 * multi-line responses. Credentials become ${user}/${password} (or a named
 * SASL variable: a base64 blob of them) and are never copied to the output;
 * values that change between runs become ${*}.
 */
#include <string.h>

#include "mailspec/script.h"
#include "record.h"

enum ms_rec_proto ms_rec_proto_parse(const char *name)
{
    if (strcmp(name, "smtp") == 0)
        return MS_REC_SMTP;
    if (strcmp(name, "pop3") == 0)
        return MS_REC_POP3;
    if (strcmp(name, "imap") == 0)
        return MS_REC_IMAP;
    return (enum ms_rec_proto)0;
}

const char *ms_rec_proto_name(enum ms_rec_proto p)
{
    switch (p) {
    case MS_REC_SMTP:
        return "smtp";
    case MS_REC_POP3:
        return "pop3";
    case MS_REC_IMAP:
        return "imap";
    default:
        return "?";
    }
}

void ms_rec_san_init(struct ms_rec_san *st, enum ms_rec_proto proto, int raw)
{
    memset(st, 0, sizeof(*st));
    st->proto = proto;
    st->raw = raw;
}

/* ---- escaping ---- */

/* .session text of b[0..n): the runner's escaper, keeping valid UTF-8 readable. */
static void esc(struct ms_out *out, const char *p, size_t n)
{
    ms_script_escape_opt(out, p, n, MS_ESCAPE_UTF8);
}

/* ---- small helpers over (pointer, length) ---- */

static int ieq(const char *p, size_t n, const char *lit)
{
    return ms_slice_ieq((struct ms_slice){p, n}, lit);
}

static int starts_ci(const char *p, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n >= m && ieq(p, m, lit);
}

/* The word starting at p[i] (up to SP or the end): its length. */
static size_t word_len(const char *p, size_t n, size_t i)
{
    size_t j = i;
    while (j < n && p[j] != ' ')
        j++;
    return j - i;
}

static void lit(struct ms_out *o, const char *s)
{
    ms_out_str(o, s);
}

/* If p[0..n) ends with an IMAP literal announcement {N}, {N+}, {N-}: N. */
static int literal_at_end(const char *p, size_t n, uint64_t *size)
{
    size_t end, start;

    if (n < 3 || p[n - 1] != '}')
        return 0;
    end = n - 1;
    if (p[end - 1] == '+' || p[end - 1] == '-')
        end--;
    start = end;
    while (start > 0 && ms_is_digit((unsigned char)p[start - 1]))
        start--;
    if (start == end || start == 0 || p[start - 1] != '{')
        return 0;
    return ms_number_parse(p + start, end - start, UINT32_MAX, size) == MS_OK;
}

/* RFC 4648 base64 decode into out (cap bytes); returns length or -1. */
static ssize_t b64_decode(const char *p, size_t n, unsigned char *out, size_t cap)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0, i = 0;

    for (; i < n && p[i] != '='; i++) {
        unsigned char ch = (unsigned char)p[i];
        unsigned v;
        if (ch >= 'A' && ch <= 'Z')
            v = (unsigned)(ch - 'A');
        else if (ch >= 'a' && ch <= 'z')
            v = (unsigned)(ch - 'a' + 26);
        else if (ms_is_digit(ch))
            v = (unsigned)(ch - '0' + 52);
        else if (ch == '+')
            v = 62;
        else if (ch == '/')
            v = 63;
        else
            return -1;
        acc = (acc << 6) | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    for (; i < n; i++)
        if (p[i] != '=')
            return -1;
    return (ssize_t)o;
}

/*
 * One client SASL data line (initial response or a line after a challenge),
 * rendered without ever copying it: PLAIN -> ${sasl_plain} (base64 of
 * "\0user\0password"), LOGIN -> ${sasl_user} then ${sasl_password}, any other
 * mechanism -> ${sasl_redacted}. "*" (cancel) and "=" (empty) stay.
 */
static void sasl_data(struct ms_rec_san *st, const char *p, size_t n, struct ms_out *o)
{
    unsigned step = st->sasl_step++;

    if ((n == 1 && (p[0] == '*' || p[0] == '=')) || n == 0) {
        esc(o, p, n);
        return;
    }
    switch (st->sasl) {
    case MS_SASL_PLAIN: {
        /* authzid \0 authcid \0 passwd (RFC 4616 2); an authzid equal to the
         * authcid or empty is the same identity, anything else is kept
         * out of the file too (it may name a user). */
        unsigned char buf[1024];
        ssize_t d = b64_decode(p, n, buf, sizeof(buf));
        const unsigned char *z1 = d > 0 ? memchr(buf, 0, (size_t)d) : NULL;
        if (z1 && memchr(z1 + 1, 0, (size_t)d - (size_t)(z1 + 1 - buf)))
            lit(o, z1 == buf ? "${sasl_plain}" : "${sasl_plain_authz}");
        else
            lit(o, "${sasl_redacted}");
        break;
    }
    case MS_SASL_LOGIN:
        lit(o, step == 0 ? "${sasl_user}" : step == 1 ? "${sasl_password}" : "${sasl_redacted}");
        break;
    case MS_SASL_NONE:
    case MS_SASL_OTHER:
    default:
        lit(o, "${sasl_redacted}");
        break;
    }
}

static enum ms_rec_sasl sasl_mech(const char *p, size_t n)
{
    if (ieq(p, n, "PLAIN"))
        return MS_SASL_PLAIN;
    if (ieq(p, n, "LOGIN"))
        return MS_SASL_LOGIN;
    return MS_SASL_OTHER;
}

/*
 * "AUTH MECH [initial]" / "tag AUTHENTICATE MECH [initial]" from p[i]: the
 * mechanism is copied, the initial response replaced. Starts the exchange.
 */
static void sasl_start(struct ms_rec_san *st, const char *p, size_t n, size_t i, struct ms_out *o)
{
    size_t ml = word_len(p, n, i);

    st->sasl = sasl_mech(p + i, ml);
    st->sasl_step = 0;
    esc(o, p + i, ml);
    i += ml;
    if (i < n) {
        ms_out_bytes(o, " ", 1);
        sasl_data(st, p + i + 1, n - i - 1, o);
    }
}

/*
 * Replace "KEYWORD SP number" (UIDVALIDITY 123) with "KEYWORD ${*}" anywhere
 * outside literals; used for IMAP values that differ between runs.
 */
static const char *const imap_volatile_nums[] = {
    "UIDVALIDITY ", "UIDNEXT ", "HIGHESTMODSEQ ", "APPENDUID ", "COPYUID ", "MODSEQ (", NULL,
};

/* Render server text p[0..n) (no literal bytes inside) with volatile values as ${*}. */
static void imap_server_text(const char *p, size_t n, struct ms_out *o)
{
    size_t i = 0, from = 0;

    while (i < n) {
        const char *kw = NULL;
        for (size_t k = 0; imap_volatile_nums[k]; k++)
            if ((i == 0 || !ms_is((unsigned char)p[i - 1], MS_C_ALPHA)) &&
                starts_ci(p + i, n - i, imap_volatile_nums[k])) {
                kw = imap_volatile_nums[k];
                break;
            }
        if (kw) {
            size_t kl = strlen(kw), j = i + kl;
            /* APPENDUID/COPYUID: all of the response code's arguments */
            int whole = kw[0] == 'A' || kw[0] == 'C';
            size_t e = j;
            if (whole) {
                while (e < n && p[e] != ']')
                    e++;
            } else {
                while (e < n && ms_is_digit((unsigned char)p[e]))
                    e++;
            }
            if (e > j) {
                esc(o, p + from, j - from);
                lit(o, "${*}");
                i = from = e;
                continue;
            }
        }
        /* \Recent goes to the first session that sees a message (RFC 3501 2.3.2) */
        if (n - i >= 7 && memcmp(p + i, "\\Recent", 7) == 0 &&
            (i + 7 == n || p[i + 7] == ' ' || p[i + 7] == ')') && i > 0 &&
            (p[i - 1] == ' ' || p[i - 1] == '(')) {
            size_t b = p[i - 1] == ' ' ? i - 1 : i;
            size_t e = (b == i && i + 7 < n && p[i + 7] == ' ') ? i + 8 : i + 7;
            esc(o, p + from, b - from);
            lit(o, "${*}");
            i = from = e;
            continue;
        }
        if (i == 2 && n > 9 && p[0] == '*' && p[1] == ' ' && ms_is_digit((unsigned char)p[2])) {
            size_t e = i;
            while (e < n && ms_is_digit((unsigned char)p[e]))
                e++;
            if (n - e == 7 && ieq(p + e, 7, " RECENT")) {
                esc(o, p + from, i - from);
                lit(o, "${*}");
                i = from = e;
                continue;
            }
        }
        if (starts_ci(p + i, n - i, "INTERNALDATE \"")) {
            size_t j = i + 14, e = j;
            while (e < n && p[e] != '"')
                e++;
            if (e < n) {
                esc(o, p + from, j - from);
                lit(o, "${*}");
                i = from = e;
                continue;
            }
        }
        i++;
    }
    /* Dovecot's timings: "OK Fetch completed (0.001 + 0.000 secs)." */
    size_t tail = n;
    if (n > from + 6 && (ieq(p + n - 6, 6, "secs).") || ieq(p + n - 5, 5, "secs)"))) {
        size_t k = n;
        while (k > from && p[k - 1] != '(')
            k--;
        if (k > from + 1 && p[k - 2] == ' ' && k < n && ms_is_digit((unsigned char)p[k]))
            tail = k - 1;
    }
    esc(o, p + from, tail - from);
    if (tail < n)
        lit(o, "${*}");
}

/* ---- IMAP ---- */

/*
 * LOGIN arguments from p[i]: astring SP astring (RFC 9051 6.2.3). arg says
 * which one comes next (0 user, 1 password). A literal announcement at the
 * end is copied and its bytes are marked as that credential.
 */
static void imap_login_args(struct ms_rec_san *st, const char *p, size_t n, size_t i, int arg,
                            struct ms_out *o)
{
    static const char *const var[2] = {"${user}", "${password}"};

    while (i < n && arg < 2) {
        uint64_t size;
        if (p[i] == '{' && literal_at_end(p + i, n - i, &size)) {
            esc(o, p + i, n - i);
            st->lit_left[0] = size;
            st->lit_cred = arg + 1;
            return;
        }
        if (p[i] == '"') {
            size_t j = i + 1;
            while (j < n && p[j] != '"') {
                if (p[j] == '\\' && j + 1 < n)
                    j++;
                j++;
            }
            lit(o, "\"");
            lit(o, var[arg]);
            lit(o, "\"");
            i = j < n ? j + 1 : n;
        } else {
            lit(o, var[arg]);
            i += word_len(p, n, i);
        }
        arg++;
        if (i < n && p[i] == ' ') {
            ms_out_bytes(o, " ", 1);
            i++;
        }
    }
    if (i < n)
        esc(o, p + i, n - i); /* whatever follows (a malformed line) */
}

static void save_tag(struct ms_rec_san *st, const char *p, size_t n)
{
    st->tag_len = n < sizeof(st->tag) ? n : 0;
    memcpy(st->tag, p, st->tag_len);
}

static void imap_client(struct ms_rec_san *st, const char *p, size_t n, struct ms_out *o)
{
    size_t tl = word_len(p, n, 0), i, cl;

    if (st->sasl != MS_SASL_NONE) {
        sasl_data(st, p, n, o);
        return;
    }
    i = tl + 1;
    if (tl == 0 || i >= n) {
        esc(o, p, n);
        return;
    }
    cl = word_len(p, n, i);
    if (ieq(p + i, cl, "LOGIN") && i + cl < n) {
        esc(o, p, i + cl + 1);
        imap_login_args(st, p, n, i + cl + 1, 0, o);
        return;
    }
    if (ieq(p + i, cl, "AUTHENTICATE") && i + cl < n) {
        save_tag(st, p, tl);
        esc(o, p, i + cl + 1);
        sasl_start(st, p, n, i + cl + 1, o);
        return;
    }
    if (ieq(p + i, cl, "STARTTLS") && i + cl == n) {
        save_tag(st, p, tl);
        st->starttls_sent = 1;
    }
    esc(o, p, n);
}

static int is_tagged(const struct ms_rec_san *st, const char *p, size_t n)
{
    return st->tag_len > 0 && n > st->tag_len && p[st->tag_len] == ' ' &&
           memcmp(p, st->tag, st->tag_len) == 0;
}

static void imap_server(struct ms_rec_san *st, const char *p, size_t n, struct ms_out *o)
{
    if (!st->greeted) {
        /* "* OK [CAPABILITY ...] Dovecot ready.": status and code stay */
        st->greeted = 1;
        if (starts_ci(p, n, "* OK ") || starts_ci(p, n, "* PREAUTH ")) {
            size_t i = p[2] == 'O' || p[2] == 'o' ? 5 : 10;
            if (i < n && p[i] == '[') {
                while (i < n && p[i] != ']')
                    i++;
                if (i < n)
                    i++;
                if (i < n && p[i] == ' ')
                    i++;
            }
            esc(o, p, i);
            lit(o, "${*}");
            return;
        }
    }
    if (st->sasl != MS_SASL_NONE) {
        if (is_tagged(st, p, n)) {
            st->sasl = MS_SASL_NONE;
        } else if (n >= 1 && p[0] == '+' && st->sasl == MS_SASL_OTHER) {
            lit(o, "+ ${*}"); /* a challenge: differs every time */
            return;
        }
    }
    if (st->starttls_sent && is_tagged(st, p, n)) {
        st->starttls_sent = 0;
        st->tls_go = starts_ci(p + st->tag_len + 1, n - st->tag_len - 1, "OK");
    }
    imap_server_text(p, n, o);
}

/* ---- SMTP ---- */

/* Kinds of commands whose replies matter, queued in order (PIPELINING). */
enum { Q_OTHER = 0, Q_EHLO, Q_DATA, Q_STARTTLS, Q_AUTH, Q_POP3_MULTI, Q_POP3_UIDL, Q_POP3_UIDL1 };

static void q_push(struct ms_rec_san *st, uint8_t kind)
{
    if (st->qn < sizeof(st->q))
        st->q[(st->qh + st->qn++) % sizeof(st->q)] = kind;
}

static uint8_t q_peek(const struct ms_rec_san *st)
{
    return st->qn ? st->q[st->qh] : (uint8_t)Q_OTHER;
}

static void q_pop(struct ms_rec_san *st)
{
    if (st->qn) {
        st->qh = (uint8_t)((st->qh + 1) % sizeof(st->q));
        st->qn--;
    }
}

/* SMTP/POP3 "AUTH mech [initial-response]" (vl: length of the verb): 1 when rendered. */
static int auth_command(struct ms_rec_san *st, const char *p, size_t n, size_t vl, struct ms_out *o)
{
    if (!ieq(p, vl, "AUTH") || vl >= n)
        return 0;
    esc(o, p, vl + 1);
    sasl_start(st, p, n, vl + 1, o);
    q_push(st, Q_AUTH);
    return 1;
}

static void smtp_client(struct ms_rec_san *st, const char *p, size_t n, struct ms_out *o)
{
    size_t vl = word_len(p, n, 0);

    if (st->smtp_in_data) {
        if (n == 1 && p[0] == '.')
            st->smtp_in_data = 0;
        esc(o, p, n);
        return;
    }
    if (st->sasl != MS_SASL_NONE) {
        sasl_data(st, p, n, o);
        return;
    }
    if (auth_command(st, p, n, vl, o))
        return;
    if (ieq(p, vl, "EHLO") || ieq(p, vl, "HELO"))
        q_push(st, Q_EHLO);
    else if (ieq(p, vl, "DATA") && vl == n)
        q_push(st, Q_DATA);
    else if (ieq(p, vl, "STARTTLS") && vl == n)
        q_push(st, Q_STARTTLS);
    else if (ieq(p, vl, "BDAT") && vl < n) {
        size_t sl = word_len(p, n, vl + 1);
        uint64_t size;
        if (ms_number_parse(p + vl + 1, sl, UINT64_MAX, &size) == MS_OK)
            st->bdat_left = size;
        q_push(st, Q_OTHER);
    } else
        q_push(st, Q_OTHER);
    esc(o, p, n);
}

static void smtp_server(struct ms_rec_san *st, const char *p, size_t n, struct ms_out *o)
{
    int last = n < 4 || p[3] != '-'; /* "250 " ends a reply, "250-" continues */
    uint8_t kind = q_peek(st);

    if (!st->greeted) {
        /* "220 host ESMTP software": the host and software vary */
        if (last)
            st->greeted = 1;
        if (n >= 4) {
            esc(o, p, 4);
            lit(o, "${*}");
            return;
        }
        esc(o, p, n);
        return;
    }
    if (kind == Q_AUTH && n >= 3 && memcmp(p, "334", 3) == 0) {
        /* a challenge: the client's answer follows; the reply is not final */
        if (st->sasl == MS_SASL_OTHER) {
            lit(o, "334 ${*}");
            return;
        }
        esc(o, p, n);
        return;
    }
    if (kind == Q_EHLO && !st->smtp_ehlo_seen && n >= 4) {
        /* first line of the EHLO reply: the server's name and greeting */
        esc(o, p, 4);
        lit(o, "${*}");
        st->smtp_ehlo_seen = 1;
    } else {
        const char *q = NULL;
        for (size_t i = 0; i + 10 <= n; i++)
            if (starts_ci(p + i, n - i, "queued as ")) {
                q = p + i + 10;
                break;
            }
        if (q && q < p + n) {
            esc(o, p, (size_t)(q - p));
            lit(o, "${*}");
        } else {
            esc(o, p, n);
        }
    }
    if (!last)
        return;
    st->smtp_ehlo_seen = 0;
    if (kind == Q_DATA && n >= 3 && memcmp(p, "354", 3) == 0)
        st->smtp_in_data = 1;
    if (kind == Q_STARTTLS)
        st->tls_go = n >= 3 && memcmp(p, "220", 3) == 0;
    if (kind == Q_AUTH)
        st->sasl = MS_SASL_NONE;
    q_pop(st);
}

/* ---- POP3 ---- */

static void pop3_client(struct ms_rec_san *st, const char *p, size_t n, struct ms_out *o)
{
    size_t vl = word_len(p, n, 0);

    if (st->sasl != MS_SASL_NONE) {
        sasl_data(st, p, n, o);
        return;
    }
    /* credentials: the verb stays, its arguments become variables (the APOP
     * digest depends on the greeting's timestamp, RFC 1939 7) */
    static const char *const creds[][2] = {
        {"USER", "${user}"}, {"PASS", "${password}"}, {"APOP", "${user} ${apop_digest}"}};
    for (size_t i = 0; i < sizeof(creds) / sizeof(creds[0]); i++)
        if (ieq(p, vl, creds[i][0]) && vl < n) {
            esc(o, p, vl + 1);
            lit(o, creds[i][1]);
            q_push(st, Q_OTHER);
            return;
        }
    if (auth_command(st, p, n, vl, o))
        return;
    /* RFC 1939 / 2449: which commands get a multi-line answer */
    if (ieq(p, vl, "CAPA") || ieq(p, vl, "RETR") || ieq(p, vl, "TOP") ||
        ((ieq(p, vl, "LIST") || ieq(p, vl, "AUTH")) && vl == n))
        q_push(st, Q_POP3_MULTI);
    else if (ieq(p, vl, "UIDL"))
        q_push(st, vl == n ? Q_POP3_UIDL : Q_POP3_UIDL1);
    else if (ieq(p, vl, "STLS") && vl == n)
        q_push(st, Q_STARTTLS);
    else
        q_push(st, Q_OTHER);
    esc(o, p, n);
}

static void pop3_server(struct ms_rec_san *st, const char *p, size_t n, struct ms_out *o)
{
    int ok = starts_ci(p, n, "+OK");

    if (!st->greeted) {
        /* "+OK Dovecot ready. <1.2.3@host>": the APOP timestamp varies */
        st->greeted = 1;
        if (ok) {
            lit(o, n > 3 ? "+OK ${*}" : "+OK");
            return;
        }
        esc(o, p, n);
        return;
    }
    if (st->pop3_in_multi) {
        if (n == 1 && p[0] == '.') {
            st->pop3_in_multi = 0;
            st->pop3_uidl = 0;
        } else if (st->pop3_uidl && n > 0 && p[0] != '.') {
            /* "msg uid": Dovecot's UIDs embed the UIDVALIDITY */
            size_t w = word_len(p, n, 0);
            esc(o, p, w < n ? w + 1 : n);
            if (w < n)
                lit(o, "${*}");
            return;
        }
        esc(o, p, n);
        return;
    }
    uint8_t kind = q_peek(st);
    if (kind == Q_AUTH && n >= 1 && p[0] == '+' && !ok) {
        if (st->sasl == MS_SASL_OTHER)
            lit(o, "+ ${*}");
        else
            esc(o, p, n);
        return;
    }
    if (kind == Q_POP3_UIDL1 && ok) {
        /* "+OK msg uid" */
        size_t w = n > 4 ? word_len(p, n, 4) : 0;
        if (w && 4 + w < n) {
            esc(o, p, 4 + w + 1);
            lit(o, "${*}");
        } else {
            esc(o, p, n);
        }
    } else {
        esc(o, p, n);
    }
    if (ok && (kind == Q_POP3_MULTI || kind == Q_POP3_UIDL)) {
        st->pop3_in_multi = 1;
        st->pop3_uidl = kind == Q_POP3_UIDL;
    }
    if (kind == Q_STARTTLS)
        st->tls_go = ok;
    if (kind == Q_AUTH)
        st->sasl = MS_SASL_NONE;
    q_pop(st);
}

/* ---- one line ---- */

void ms_rec_sanitize(struct ms_rec_san *st, int is_server, const char *line, size_t n, int crlf,
                     struct ms_out *out)
{
    int d = is_server ? 1 : 0;
    uint64_t total = (uint64_t)n + (crlf ? 2u : 0u);

    st->tls_go = 0;
    if (st->raw) {
        /* --raw: no rewriting, but the dialogue is still followed (STARTTLS) */
        struct ms_out none;
        ms_out_init(&none, NULL, 0);
        st->raw = 0;
        ms_rec_sanitize(st, is_server, line, n, crlf, &none);
        st->raw = 1;
        esc(out, line, n);
        return;
    }
    /* bytes of a literal or BDAT chunk: copied (or, for a credential, replaced) */
    uint64_t *left = st->proto == MS_REC_IMAP                   ? &st->lit_left[d]
                     : (!is_server && st->proto == MS_REC_SMTP) ? &st->bdat_left
                                                                : NULL;
    if (left && *left > 0) {
        if (*left >= total) {
            /* the whole line (and its CRLF) is literal data */
            *left -= total;
            if (!is_server && st->lit_cred)
                lit(out, "${redacted}"); /* a credential with a line end in it */
            else
                esc(out, line, n);
            return;
        }
        size_t k = (size_t)*left; /* < n + 2; the CRLF can't be split by a literal end here */
        if (k > n)
            k = n;
        *left = 0;
        if (st->proto == MS_REC_IMAP && !is_server && st->lit_cred) {
            int arg = st->lit_cred;
            st->lit_cred = 0;
            lit(out, arg == 1 ? "${user}" : "${password}");
            if (arg == 1 && k < n && line[k] == ' ') {
                ms_out_bytes(out, " ", 1);
                imap_login_args(st, line, n, k + 1, 1, out);
            } else {
                esc(out, line + k, n - k);
            }
            return;
        }
        esc(out, line, k);
        line += k;
        n -= k;
        if (st->proto != MS_REC_IMAP) {
            smtp_client(st, line, n, out); /* a command right after the BDAT chunk */
            return;
        }
        /* IMAP: the rest continues the command/response (maybe another literal) */
        if (is_server)
            imap_server_text(line, n, out);
        else
            esc(out, line, n);
        if (crlf) {
            uint64_t size;
            if (literal_at_end(line, n, &size))
                st->lit_left[d] = size;
        }
        return;
    }
    switch (st->proto) {
    case MS_REC_IMAP:
        if (is_server)
            imap_server(st, line, n, out);
        else
            imap_client(st, line, n, out);
        if (crlf && st->lit_left[d] == 0) {
            uint64_t size;
            if (literal_at_end(line, n, &size))
                st->lit_left[d] = size;
        }
        break;
    case MS_REC_SMTP:
        if (is_server)
            smtp_server(st, line, n, out);
        else
            smtp_client(st, line, n, out);
        break;
    case MS_REC_POP3:
        if (is_server)
            pop3_server(st, line, n, out);
        else
            pop3_client(st, line, n, out);
        break;
    default:
        esc(out, line, n);
        break;
    }
}
