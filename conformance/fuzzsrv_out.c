/*
 * fuzz-server's findings as .session scripts (docs/session-format.md) that
 * `mailspec replay` runs: the steps, what the server answered (as patterns
 * loose enough for any correct server), and for a liveness finding the
 * answer the trigger must get and a new connection that must answer NOOP.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzzsrv.h"
#include "mailspec/script.h"

struct sb {
    char *p;
    size_t len, cap;
    int oom;
};

static void sb_put(struct sb *b, const char *p, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 4096) + n;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sb *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* Bytes as .session text, each secret replaced by its variable. */
static void put_escaped(struct sb *b, const struct fz_target *t, const char *p, size_t n)
{
    static const char *const names[] = {"${password}", "${password}", "${password}"};
    char tmp[4 * 4096 + 16];
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        size_t hit = 0, which = 0;
        for (size_t k = 0; i < n && k < 3; k++) {
            const char *s = t->secret[k];
            size_t sl = s ? strlen(s) : 0;
            if (sl && sl <= n - i && memcmp(p + i, s, sl) == 0) {
                hit = sl;
                which = k;
                break;
            }
        }
        if (!hit && i < n)
            continue;
        for (size_t o = start; o < i;) {
            size_t chunk = i - o > 4096 ? 4096 : i - o;
            struct ms_out out;
            ms_out_init(&out, tmp, sizeof(tmp));
            ms_script_escape(&out, p + o, chunk);
            sb_put(b, tmp, out.len);
            o += chunk;
        }
        if (hit) {
            sb_str(b, names[which]);
            i += hit - 1;
            start = i + 1;
        }
    }
}

/* One C: line for data (CRLF at its end taken as the line end; else @nocrlf). */
static void put_send(struct sb *b, const struct fz_target *t, const char *p, size_t n)
{
    int crlf = n >= 2 && p[n - 2] == '\r' && p[n - 1] == '\n';
    if (!crlf)
        sb_str(b, "@nocrlf\n");
    sb_str(b, "C: ");
    put_escaped(b, t, p, crlf ? n - 2 : n);
    sb_str(b, "\n");
}

/* The expectations of the replies that answered step k (loose: the shape is not judged). */
static void put_replies(struct sb *b, const struct fz_target *t, const struct fz_result *r,
                        size_t step, const struct fz_step *st)
{
    int imap = strcmp(t->proto, "imap") == 0;
    if (!r && st) {
        /* a corpus entry: no run to copy; an answer where the seed had one, so that the
         * entry read back as a seed waits for its replies again */
        if (!(st->flags & FZ_NOREPLY))
            sb_str(b, "S: ${*}\n");
        return;
    }
    for (size_t i = 0; r && i < r->nreplies; i++) {
        if (r->step_of[i] != step)
            continue;
        const struct fz_reply *rp = &r->replies[i];
        if (!imap || rp->bad) {
            sb_str(b, "S: ${*}\n");
        } else if (rp->tagged && r->kind == FZ_STATE && strcmp(rp->key, r->state_tag) == 0) {
            /* the contradicting OK: @forbid at the top of the script judges it */
        } else if (rp->tagged) {
            sb_str(b, "S: ");
            put_escaped(b, t, rp->key, strlen(rp->key));
            sb_str(b, " ${*}\n");
        } else if (rp->key[0] == '+') {
            sb_str(b, "S: +${*}\n");
        }
        /* untagged: @allow * ${*} */
    }
}

/* The tag of an IMAP command line, or "" . */
static void imap_tag(const char *p, size_t n, char *tag, size_t cap)
{
    size_t k = 0;
    while (k < n && k + 1 < cap && p[k] != ' ' && p[k] != '\r' && p[k] != '\n' &&
           (unsigned char)p[k] > 0x20 && (unsigned char)p[k] < 0x7F && p[k] != '$' &&
           p[k] != '\\' && p[k] != '*' && p[k] != '+')
        k++;
    if (k < n && p[k] != ' ')
        k = 0;
    memcpy(tag, p, k);
    tag[k] = '\0';
}

char *fz_session_text(const struct fz_target *t, const struct fz_case *c, const struct fz_result *r,
                      int kind, const char *id, const char *detail)
{
    struct sb b = {0};
    int imap = strcmp(t->proto, "imap") == 0;
    int has_tls = 0, has_close = 0;

    for (size_t i = 0; i < c->n; i++) {
        has_tls |= c->steps[i].op == FZ_TLS;
        has_close |= c->steps[i].op == FZ_TLS_CLOSE;
    }
    sb_str(&b, "@test ");
    sb_str(&b, id);
    sb_str(&b, kind ? "\n@title fuzz-server finding: " : "\n@title fuzz-server corpus entry");
    sb_str(&b, kind ? fz_kind_name(kind) : "");
    sb_str(&b, "\n@level MUST\n@protocol ");
    sb_str(&b, t->proto);
    sb_str(&b, "\n@transport ");
    sb_str(&b, t->tls == MS_TLS_IMPLICIT ? "implicit"
               : has_tls                 ? "none starttls"
                                         : ms_tls_mode_name(t->tls));
    sb_str(&b, kind ? "\n@finding " : "");
    if (kind)
        sb_str(&b, kind == FZ_GRAMMAR   ? "the server sent a reply that breaks the protocol grammar"
                   : kind == FZ_LATENCY ? "the server became slow to answer a new connection"
                   : kind == FZ_STATE   ? "the server accepted a command its state forbids"
                                        : "the server stopped answering or accepting connections");
    /* the fuzzer did not judge 8-bit bytes and over-long lines (servers echo commands) */
    sb_str(&b, "\n@quirk 8bit\n@quirk long-lines\n# found by mailspec fuzz-server: ");
    {
        struct sb d = {0};
        for (const char *q = detail; *q; q++)
            sb_put(&d, *q == '\n' || *q == '\r' ? " " : q, 1);
        if (d.p)
            sb_str(&b, d.p);
        free(d.p);
    }
    sb_str(&b, "\n");
    if (has_close)
        sb_str(&b, "# The case sends a TLS close_notify (@tls-close), then cleartext; a correct\n"
                   "# server may answer in its grammar but must then close the connection.\n");
    if (kind == FZ_LATENCY)
        sb_str(&b, "# Timing is not judged by replay: run the script and compare the time.\n");
    if (imap)
        sb_str(&b, "@allow * ${*}\n");
    if (kind == FZ_STATE && r && r->state_tag[0]) {
        /* the command's answer may be anything but OK */
        sb_str(&b, "@forbid ");
        put_escaped(&b, t, r->state_tag, strlen(r->state_tag));
        sb_str(&b, " OK${*}\n@allow ");
        put_escaped(&b, t, r->state_tag, strlen(r->state_tag));
        sb_str(&b, " ${*}\n");
    }
    sb_str(&b, "S: ${*}\n");
    size_t i = 0;
    const char *last_line = NULL;
    size_t last_len = 0;
    if (c->pipeline) { /* the first run of sends was written at once */
        size_t j = 0;
        while (j < c->n && c->steps[j].op == FZ_SEND)
            j++;
        if (j) {
            sb_str(&b, "@segment\n");
            for (size_t k = 0; k < j; k++)
                put_send(&b, t, c->steps[k].data, c->steps[k].len);
            sb_str(&b, "@end\n");
            for (size_t k = 0; k < j; k++)
                put_replies(&b, t, r, k + 1, kind ? NULL : &c->steps[k]);
            last_line = c->steps[j - 1].data;
            last_len = c->steps[j - 1].len;
            i = j;
        }
    }
    for (; i < c->n; i++) {
        const struct fz_step *st = &c->steps[i];
        if (st->op == FZ_TLS_CLOSE) {
            /* the rest goes out in cleartext; what comes back is judged by the grammar,
             * and the server must close (it cannot go on after a close_notify) */
            sb_str(&b, "@tls-close\n");
            for (i++; i < c->n; i++)
                if (c->steps[i].op == FZ_SEND)
                    put_send(&b, t, c->steps[i].data, c->steps[i].len);
            sb_str(&b, "@allow ${*}\n@close\n");
            break;
        }
        if (st->op == FZ_TLS) {
            sb_str(&b, "@tls\n");
            continue;
        }
        if ((st->flags & FZ_BYTEWISE) && st->len <= 512) {
            for (size_t k = 0; k < st->len; k++)
                put_send(&b, t, st->data + k, 1);
        } else {
            put_send(&b, t, st->data, st->len);
        }
        last_line = st->data;
        last_len = st->len;
        put_replies(&b, t, r, i + 1, kind ? NULL : st);
    }
    if (kind == FZ_LIVENESS) {
        /* a correct server answers the last command (closed after a close_notify), and a
         * new connection */
        if (!has_close && last_line && last_len >= 2 && last_line[last_len - 1] == '\n' &&
            (r == NULL || r->nreplies == 0 || r->step_of[r->nreplies - 1] != c->n)) {
            if (!imap) {
                sb_str(&b, "S: ${*}\n");
            } else {
                char tag[64];
                imap_tag(last_line, last_len, tag, sizeof(tag));
                if (tag[0]) {
                    sb_str(&b, "S: ");
                    sb_str(&b, tag);
                    sb_str(&b, " ${*}\n");
                }
            }
        }
        sb_str(&b, "@connection\nS: ${*}\n");
        if (t->tls == MS_TLS_STARTTLS) {
            if (strcmp(t->proto, "smtp") == 0)
                sb_str(&b, "C: EHLO mailspec.invalid\nS: 250 ${*}\nC: STARTTLS\nS: 220 "
                           "${*}\n@tls\n");
            else if (imap)
                sb_str(&b, "C: mstls STARTTLS\nS: mstls OK ${*}\n@tls\n");
            else
                sb_str(&b, "C: STLS\nS: +OK${*}\n@tls\n");
        }
        if (imap)
            sb_str(&b, "C: msprobe NOOP\nS: msprobe OK ${*}\n");
        else if (strcmp(t->proto, "pop3") == 0)
            sb_str(&b, "C: NOOP\nS: ${*}\n");
        else
            sb_str(&b, "C: NOOP\nS: 250 ${*}\n");
    }
    if (kind == FZ_STATE && !has_close)
        sb_str(&b, "C: msstate NOOP\nS: msstate ${*}\n");
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
