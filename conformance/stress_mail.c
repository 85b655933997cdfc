/*
 * SMTP stress (docs/stress.md, "SMTP"): the messages the sending sessions
 * submit, how a message read back over IMAP is recognised, and the ledger of
 * what was accepted and what arrived. Pure: no I/O.
 *
 * A message is made again from (seed, run id, session, serial) when it comes
 * back, so nothing of its bytes is kept while it travels: the ledger holds a
 * few bits per serial number in a table of fixed size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_common.h"
#include "stress.h"

#define HDR "X-Mailspec-Stress: "

/* Body lines that try the server's transparency (RFC 5321 4.5.2) and its
 * keeping of every character: a lone ".", leading dots, trailing blanks,
 * tabs, an empty line, a line that looks like the end of the header. */
static const char *const odd_lines[] = {
    ".",
    "..",
    ".leading dot",
    "...three",
    " . ",
    "trailing blanks   ",
    "\ttab\tseparated\t",
    "",
    "Subject: not a header (in the body)",
    "=?UTF-8?Q?not_decoded?=",
    ". ",
    "-- ",
};

static size_t put(char *out, size_t cap, size_t k, const char *s, size_t n)
{
    if (k + n > cap)
        return cap + 1;
    memcpy(out + k, s, n);
    return k + n;
}

size_t ms_stress_mail_make(uint64_t seed, const char *run_id, const char *from, const char *rcpt,
                           unsigned session, uint64_t serial, char *out, size_t cap)
{
    struct ms_rng r;
    char line[1024];
    size_t k = 0;
    int n;

    ms_rng_seed(&r, seed ^ (serial * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)session << 40));
    n = snprintf(line, sizeof(line),
                 HDR "%s %u %llu\r\n"
                     "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
                     "From: <%s>\r\n"
                     "To: <%s>\r\n"
                     "Message-ID: <stress.%s.%u.%llu@mailspec.invalid>\r\n"
                     "Subject: mailspec stress %s %llu\r\n"
                     "MIME-Version: 1.0\r\n"
                     "Content-Type: text/plain; charset=us-ascii\r\n"
                     "\r\n",
                 run_id, session, (unsigned long long)serial, from, rcpt, run_id, session,
                 (unsigned long long)serial, run_id, (unsigned long long)serial);
    if (n < 0 || (size_t)n >= sizeof(line))
        return 0;
    k = put(out, cap, k, line, (size_t)n);
    /* mostly short messages, now and then one of tens of kilobytes */
    size_t want = 64 + ms_rng_below(&r, ms_rng_below(&r, 16) == 0 ? 60000 : 3000);
    size_t body = 0;
    while (body < want && k <= cap) {
        size_t len;
        unsigned pick = (unsigned)ms_rng_below(&r, 20);
        if (pick < 3) {
            const char *s = odd_lines[ms_rng_below(&r, sizeof(odd_lines) / sizeof(odd_lines[0]))];
            len = strlen(s);
            memcpy(line, s, len);
        } else {
            /* printable ASCII; lines up to 998 octets (RFC 5321 4.5.3.1.6) */
            len = pick == 3 ? 900 + ms_rng_below(&r, 99) : ms_rng_below(&r, 100);
            for (size_t i = 0; i < len; i++)
                line[i] = (char)(' ' + ms_rng_below(&r, 95));
            if (len && line[0] == '.' && ms_rng_below(&r, 2))
                line[0] = 'x';
        }
        line[len++] = '\r';
        line[len++] = '\n';
        k = put(out, cap, k, line, len);
        body += len;
    }
    return k <= cap ? k : 0;
}

size_t ms_stress_mail_stuff(const char *msg, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    int bol = 1;
    for (size_t i = 0; i < n; i++) {
        if (bol && msg[i] == '.')
            k = put(out, cap, k, ".", 1);
        k = put(out, cap, k, msg + i, 1);
        bol = msg[i] == '\n';
    }
    k = put(out, cap, k, ".\r\n", 3);
    return k <= cap ? k : 0;
}

/* Parse "<run id> <session> <serial>" at p (up to the line end). */
static int parse_tag(const char *run_id, const char *p, const char *end, unsigned *session,
                     uint64_t *serial)
{
    size_t rl = strlen(run_id);
    if ((size_t)(end - p) <= rl || memcmp(p, run_id, rl) != 0 || p[rl] != ' ')
        return -1;
    p += rl + 1;
    uint64_t v[2] = {0, 0};
    for (int f = 0; f < 2; f++) {
        const char *s = p;
        while (p < end && *p >= '0' && *p <= '9' && v[f] < UINT64_MAX / 10)
            v[f] = v[f] * 10 + (uint64_t)(*p++ - '0');
        if (p == s || (f == 0 && (p >= end || *p != ' ')))
            return -1;
        p++;
    }
    if (v[0] > 0xffffffffu)
        return -1;
    *session = (unsigned)v[0];
    *serial = v[1];
    return 0;
}

int ms_stress_mail_find(const char *run_id, const char *m, size_t n, struct ms_stress_mail_found *f)
{
    size_t hl = strlen(HDR);
    size_t hdr_end = n;

    memset(f, 0, sizeof(*f));
    f->kind = MS_MAIL_NOT_OURS;
    /* the top-level header ends at the first empty line */
    for (size_t i = 0; i + 1 < n; i++)
        if (m[i] == '\n' &&
            (m[i + 1] == '\n' || (m[i + 1] == '\r' && i + 2 < n && m[i + 2] == '\n'))) {
            hdr_end = i + 1;
            break;
        }
    for (size_t i = 0; i < n; i++) {
        if (i && m[i - 1] != '\n')
            continue;
        if (n - i < hl || memcmp(m + i, HDR, hl) != 0)
            continue;
        const char *le = memchr(m + i + hl, '\n', n - i - hl);
        if (!le)
            continue; /* a tag line counts once it is whole */
        const char *end = le;
        if (end > m + i + hl && end[-1] == '\r')
            end--;
        if (parse_tag(run_id, m + i + hl, end, &f->session, &f->serial) != 0)
            continue;
        if (i < hdr_end) {
            f->kind = MS_MAIL_COPY;
            f->start = i;
            /* what was put before the message: header fields only, and
             * trace among them (RFC 5321 4.4) */
            f->prefix_fields = 1;
            for (size_t j = 0; j < i;) {
                const char *e = memchr(m + j, '\n', i - j);
                size_t ll = e ? (size_t)(e - (m + j)) : i - j;
                const char *colon = memchr(m + j, ':', ll);
                if (m[j] != ' ' && m[j] != '\t' && (!colon || colon == m + j))
                    f->prefix_fields = 0;
                if (ll >= 9 && strncasecmp(m + j, "received:", 9) == 0)
                    f->has_received = 1;
                j += ll + 1;
            }
            return 0;
        }
        f->kind = MS_MAIL_BOUNCE; /* quoted inside another message: a notification */
        f->start = i;
        return 0;
    }
    return 0;
}

size_t ms_stress_mail_diff(const char *want, size_t wn, const char *got, size_t gn)
{
    size_t k = 0;
    while (k < wn && k < gn && want[k] == got[k])
        k++;
    return k == wn && k == gn ? (size_t)-1 : k;
}

/* ---- the ledger ---- */

enum { L_ACCEPTED = 1, L_SEEN = 2, L_BOUNCED = 4, L_REPORTED = 8, L_REFUSED = 16 };

int ms_stress_ledger_init(struct ms_stress_ledger *l, uint64_t cap)
{
    memset(l, 0, sizeof(*l));
    l->st = calloc(cap, 1);
    if (!l->st)
        return -1;
    l->cap = cap;
    return 0;
}

void ms_stress_ledger_free(struct ms_stress_ledger *l)
{
    free(l->st);
    l->st = NULL;
}

uint64_t ms_stress_ledger_next(struct ms_stress_ledger *l)
{
    return l->next < l->cap ? l->next++ : UINT64_MAX;
}

/* Accepted and neither delivered nor bounced (yet). */
static int pending(uint8_t s)
{
    return (s & (L_ACCEPTED | L_SEEN | L_BOUNCED)) == L_ACCEPTED;
}

/* Set bits of a serial, keeping the count of pending ones. */
static void mark(struct ms_stress_ledger *l, uint64_t serial, uint8_t bits)
{
    uint8_t *s = &l->st[serial];
    int was = pending(*s);
    *s |= bits;
    if (pending(*s) && !was)
        l->missing++;
    else if (!pending(*s) && was)
        l->missing--;
}

void ms_stress_ledger_accepted(struct ms_stress_ledger *l, uint64_t serial, int ok)
{
    if (serial >= l->cap)
        return;
    mark(l, serial, ok ? L_ACCEPTED : L_REFUSED);
    if (ok)
        l->accepted++;
}

enum ms_stress_arrival ms_stress_ledger_arrived(struct ms_stress_ledger *l, uint64_t serial,
                                                int bounce)
{
    if (serial >= l->next)
        return MS_ARRIVED_UNKNOWN;
    uint8_t s = l->st[serial];
    if (bounce) {
        if (!(s & L_BOUNCED))
            l->bounced++;
        mark(l, serial, L_BOUNCED);
        return MS_ARRIVED_FIRST;
    }
    if (s & L_SEEN) {
        l->duplicates++;
        return MS_ARRIVED_AGAIN;
    }
    mark(l, serial, L_SEEN);
    l->seen++;
    return (s & L_ACCEPTED) ? MS_ARRIVED_FIRST : MS_ARRIVED_NOT_ACCEPTED;
}

uint64_t ms_stress_ledger_undelivered(struct ms_stress_ledger *l, uint64_t from)
{
    for (uint64_t i = from; i < l->next; i++)
        if (pending(l->st[i]) && !(l->st[i] & L_REPORTED)) {
            l->st[i] |= L_REPORTED;
            return i;
        }
    return UINT64_MAX;
}
