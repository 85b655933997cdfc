/*
 * S: expectations against whole server messages (docs/session-format.md
 * "Messages").
 *
 * The server's bytes arrive framed: each read is one protocol message (an
 * SMTP reply with all its lines, a POP3 response with its multi-line body, an
 * IMAP response with its literals). A run of consecutive S: lines is matched
 * against messages in one of two ways:
 *
 *  - line by line: the run's S: lines take the message's lines in order
 *    (@allow may skip lines between them), and the message's last line must
 *    be taken by an S: line - so a continuation line can never end a run;
 *  - as a whole: one S: line matches the message's key text - the final line
 *    of an SMTP reply (the one that carries the reply code with SP), the
 *    status line of a POP3 response, an IMAP response with its literals
 *    inline; a pattern with CR or LF in it is matched against the whole
 *    message in every protocol.
 *
 * A message that neither takes is "unexpected": @unsupported, then @forbid,
 * then @allow decide, else the run fails (in a check step).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner_int.h"

#define NOCRLF_SETTLE_MS 250

static int is_run_step(const struct ms_step *st)
{
    return st->type == MS_STEP_EXPECT && !st->nocrlf;
}

/* A pattern that spans lines is matched against the whole message. */
static int multiline_pattern(const struct rt *t, const struct ms_step *st)
{
    for (size_t i = 0; i < st->nparts; i++) {
        const struct ms_part *pt = &t->s->parts[st->part0 + i];
        if (pt->kind == MS_PART_LIT && (memchr(t->s->bytes + pt->off, '\n', pt->len) ||
                                        memchr(t->s->bytes + pt->off, '\r', pt->len)))
            return 1;
    }
    return 0;
}

/* The text a step (or filter) is matched against when it takes the message whole. */
static void key_text(const struct rt *t, const struct ms_step *st, const char **p, size_t *n)
{
    const struct rt_line *l = rt_key_line(t);
    if ((st && multiline_pattern(t, st)) || strcmp(t->pname, "imap") == 0 || !l) {
        rt_msg_text(t, p, n);
        return;
    }
    *p = t->c->rbuf + l->off;
    *n = l->len;
}

static int match(struct rt *t, const struct ms_step *st, const char *p, size_t n)
{
    return ms_script_match(t->s, st, &t->vars, p, n, t->match_flags);
}

static int filter_match(struct rt *t, const struct ms_step *const *f, size_t nf, const char *p,
                        size_t len)
{
    for (size_t i = 0; i < nf; i++) {
        /* filters never capture; matching them leaves the variables alone */
        if (match(t, f[i], p, len) == 1)
            return (int)i + 1;
    }
    return 0;
}

static int too_many_captures(struct rt *t, size_t line)
{
    rt_finish(t, MS_RES_ERROR, line, "%s:%zu: captured values exceed %u bytes", t->file, line,
              MS_SCRIPT_VAR_BYTES);
    return -1;
}

/* The current message as escaped text for a message ("S: ..." per line). */
static void got_text(struct rt *t, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < t->c->nlines && o + 16 < cap; i++) {
        char one[1300];
        esc_short(t, one, sizeof(one), t->c->rbuf + t->c->lines[i].off, t->c->lines[i].len);
        int k = snprintf(out + o, cap - o, "%sS: %s", i ? "\n            " : "", one);
        if (k < 0 || (size_t)k >= cap - o) {
            snprintf(out + (cap > 4 ? cap - 4 : 0), cap > 4 ? 4 : cap, "...");
            return;
        }
        o += (size_t)k;
    }
}

/*
 * A message no S: line took (forbidden() has already judged it against
 * @forbid). @unsupported (for the S: line waited for) and @allow patterns are
 * matched against its key text; a message whose every line an @allow takes is
 * skipped too. Returns 0 (skipped) or -1 (the run is over).
 */
static int unexpected(struct rt *t, size_t sline, const char *want)
{
    char got[4096];
    const char *p;
    size_t n;

    key_text(t, NULL, &p, &n);
    got_text(t, got, sizeof(got));
    if (t->o->smtp_tls_required && !t->c->tls_now && strcmp(t->pname, "smtp") == 0 && n >= 3 &&
        memcmp(p, "530", 3) == 0) {
        /* RFC 3207 4: a server that requires TLS answers 530 until STARTTLS */
        rt_finish(t, MS_RES_NA, sline,
                  "%s:%zu: the server requires STARTTLS first on this port (RFC 3207 4: 530 "
                  "to every command but NOOP, EHLO, STARTTLS and QUIT)\n  got:      %s",
                  t->file, sline, got);
        return -1;
    }
    for (size_t i = 0; i < t->nunsup; i++)
        if (match(t, t->unsup[i], p, n) == 1) {
            rt_finish(t, MS_RES_NOT_SUPPORTED, sline,
                      "%s:%zu: the server does not support this (@unsupported at line %zu)\n"
                      "  got:      %s",
                      t->file, sline, t->unsup[i]->line, got);
            return -1;
        }
    if (filter_match(t, t->allow, t->nallow, p, n))
        return 0;
    size_t all = 0;
    for (size_t i = 0; i < t->c->nlines; i++)
        all += filter_match(t, t->allow, t->nallow, t->c->rbuf + t->c->lines[i].off,
                            t->c->lines[i].len) != 0;
    if (t->c->nlines > 1 && all == t->c->nlines)
        return 0;
    rt_finish(t, MS_RES_FAIL, sline,
              "%s:%zu: response does not match\n  expected: S: %s\n  got:      %s", t->file, sline,
              want, got);
    return -1;
}

/*
 * @forbid applies to every message the server sends, taken by an S: line or
 * not (imaptest's "!" lines): any line of it, or its key text, that matches
 * fails the step. Returns -1 when it did.
 */
static int forbidden(struct rt *t, size_t sline)
{
    const char *p;
    size_t n;
    int f = 0;
    char got[4096];

    if (!t->nforbid)
        return 0;
    key_text(t, NULL, &p, &n);
    f = filter_match(t, t->forbid, t->nforbid, p, n);
    for (size_t i = 0; !f && i < t->c->nlines; i++)
        f = filter_match(t, t->forbid, t->nforbid, t->c->rbuf + t->c->lines[i].off,
                         t->c->lines[i].len);
    if (!f)
        return 0;
    got_text(t, got, sizeof(got));
    rt_finish(t, MS_RES_FAIL, sline,
              "%s:%zu: the server sent a forbidden response (@forbid at line %zu)\n  got: %s",
              t->file, sline, t->forbid[f - 1]->line, got);
    return -1;
}

/* Why no message came: a timeout, or a close (in the middle of a response, or plain). */
static void no_message(struct rt *t, int r, size_t sline, const char *want)
{
    if (r == -2)
        rt_finish(t, MS_RES_BLOCKED, sline, "%s:%zu: no answer within %u ms (expected S: %s)%s",
                  t->file, sline, t->o->timeout_ms, want, t->lw_note);
    else if (t->c->strict && (t->c->ss.s.len > 0 || t->c->ss.s.in_msg))
        rt_finish(t, MS_RES_BLOCKED, sline,
                  "%s:%zu: the server closed the connection in the middle of a response "
                  "(expected S: %s)",
                  t->file, sline, want);
    else
        rt_finish(t, MS_RES_FAIL, sline,
                  "%s:%zu: the server closed the connection\n  expected: S: %s\n  got:      "
                  "(connection closed)",
                  t->file, sline, want);
}

/*
 * Line by line: the S: lines of the run (steps first..) take the message's
 * lines in order; filters between them apply from where they stand. Returns
 * the index of the last step used, or -1 (no match; variables restored by
 * the caller), -2 when captures overflow.
 */
static long by_lines(struct rt *t, size_t first)
{
    const struct ms_script *s = t->s;
    const struct ms_step *allow[RT_MAX_FILTERS];
    size_t nallow = t->nallow, k = first, used = 0;
    long last = -1;
    int last_taken = 0;

    memcpy(allow, t->allow, nallow * sizeof(allow[0]));
    for (size_t j = 0; j < t->c->nlines; j++) {
        const char *p = t->c->rbuf + t->c->lines[j].off;
        size_t n = t->c->lines[j].len;
        /* the next S: step of the run, activating the filters on the way */
        while (k < s->nsteps &&
               (s->steps[k].type == MS_STEP_ALLOW || s->steps[k].type == MS_STEP_FORBID)) {
            if (s->steps[k].type == MS_STEP_ALLOW && nallow < RT_MAX_FILTERS)
                allow[nallow++] = &s->steps[k];
            k++;
        }
        int pending = k < s->nsteps && is_run_step(&s->steps[k]);
        int m = pending ? match(t, &s->steps[k], p, n) : 0;
        if (m < 0)
            return -2;
        if (m == 1) {
            last = (long)k;
            k++;
            used++;
            last_taken = 1;
            continue;
        }
        if (!filter_match(t, allow, nallow, p, n)) {
            if (pending && last >= 0) {
                /* the run took this message's first lines, then a line did not match */
                char got[600], want[600];
                esc_short(t, got, sizeof(got), p, n);
                pattern_short(t, &s->steps[k], want, sizeof(want));
                snprintf(t->lw_note, sizeof(t->lw_note),
                         "\n  (earlier, line %zu of a message did not match line by line:\n"
                         "  expected: S: %s\n  got:      S: %s)",
                         j + 1, want, got);
            }
            /* two or more S: lines took lines of this message: the run
             * describes it line by line, and this line breaks it */
            return used >= 2 ? -3 : -1;
        }
        last_taken = 0;
    }
    if (!last_taken && used >= 2) {
        snprintf(t->lw_note, sizeof(t->lw_note),
                 "\n  (the message's last line was not taken by an S: line)");
        return -3;
    }
    return last_taken ? last : -1;
}

long rt_expect(struct rt *t, size_t i)
{
    const struct ms_step *st = &t->s->steps[i];
    uint64_t dl = rt_deadline(t);
    char want[1024];

    pattern_short(t, st, want, sizeof(want));
    for (;;) {
        int r = rt_get_msg(t, dl, st->line);
        if (r == -1)
            return -1;
        if (r == -2 || r == 0) {
            no_message(t, r, st->line, want);
            return -1;
        }
        if (forbidden(t, st->line) != 0)
            return -1;
        struct ms_vars saved = t->vars;
        long last = by_lines(t, i);
        if (last == -2)
            return too_many_captures(t, st->line);
        if (last >= 0)
            return last;
        if (last == -3) {
            char got[4096];
            got_text(t, got, sizeof(got));
            rt_finish(
                t, MS_RES_FAIL, st->line,
                "%s:%zu: the message does not match the S: lines from here on%s\n  got:      %s",
                t->file, st->line, t->lw_note, got);
            return -1;
        }
        t->vars = saved;
        const char *p;
        size_t n;
        key_text(t, st, &p, &n);
        int m = match(t, st, p, n);
        if (m < 0)
            return too_many_captures(t, st->line);
        if (m == 1)
            return (long)i;
        if (unexpected(t, st->line, want) != 0)
            return -1;
    }
}

int rt_msg_matches(struct rt *t, const struct ms_step *st)
{
    const char *p;
    size_t n;

    if (by_lines(t, (size_t)(st - t->s->steps)) >= 0)
        return 1;
    key_text(t, st, &p, &n);
    return match(t, st, p, n) == 1;
}

/* steps[first..end) are S: lines that may arrive in any order, each a whole message. */
int rt_unordered(struct rt *t, size_t first, size_t end)
{
    uint8_t got[MS_SCRIPT_MAX_STEPS / 8 + 1] = {0};
    size_t left = end - first;
    uint64_t dl = rt_deadline(t);
    char want[1024];

    while (left > 0) {
        size_t i, k;
        for (i = first; i < end && got[(i - first) / 8] & (1u << ((i - first) % 8)); i++)
            ;
        pattern_short(t, &t->s->steps[i], want, sizeof(want));
        int r = rt_get_msg(t, dl, t->s->steps[i].line);
        if (r == -1)
            return -1;
        if (r == -2 || r == 0) {
            no_message(t, r, t->s->steps[i].line, want);
            return -1;
        }
        if (forbidden(t, t->s->steps[i].line) != 0)
            return -1;
        for (k = first; k < end; k++) {
            if (got[(k - first) / 8] & (1u << ((k - first) % 8)))
                continue;
            const char *p;
            size_t n;
            key_text(t, &t->s->steps[k], &p, &n);
            int m = match(t, &t->s->steps[k], p, n);
            if (m < 0)
                return too_many_captures(t, t->s->steps[k].line);
            if (m == 1)
                break;
        }
        if (k < end) {
            got[(k - first) / 8] |= (uint8_t)(1u << ((k - first) % 8));
            left--;
            continue;
        }
        if (unexpected(t, t->s->steps[i].line, want) != 0)
            return -1;
    }
    return 0;
}

int rt_expect_close(struct rt *t, const struct ms_step *st)
{
    uint64_t dl = rt_deadline(t);
    for (;;) {
        int r = rt_get_msg(t, dl, st->line);
        if (r == 0) {
            rt_close(t);
            return 0;
        }
        if (r == -2) {
            rt_finish(t, MS_RES_FAIL, st->line,
                      "%s:%zu: the server did not close the connection within %u ms", t->file,
                      st->line, t->o->timeout_ms);
            return -1;
        }
        if (r < 0 || forbidden(t, st->line) != 0)
            return -1;
        if (unexpected(t, st->line, "(the server closes the connection)") != 0)
            return -1;
    }
}

/* The length a pattern matches when fixed (literals, bound variables); else SIZE_MAX. */
static size_t fixed_len(const struct rt *t, const struct ms_step *st)
{
    size_t n = 0;

    for (size_t i = 0; i < st->nparts; i++) {
        const struct ms_part *pt = &t->s->parts[st->part0 + i];
        if (pt->kind == MS_PART_LIT)
            n += pt->len;
        else if (pt->kind == MS_PART_VAR && t->vars.v[pt->var].bound)
            n += t->vars.v[pt->var].len;
        else
            return SIZE_MAX;
    }
    return n;
}

/*
 * An S: line after @nocrlf: server bytes that are not (yet) a whole line.
 * A fixed pattern takes exactly its length (what follows, even CRLF, is the
 * next line's); one with ${*} or a capture takes what the server sent until
 * it paused (NOCRLF_SETTLE_MS without bytes) or closed. A line end within
 * those bytes is a mismatch: the server did end the line.
 */
int rt_expect_nocrlf(struct rt *t, const struct ms_step *st)
{
    uint64_t dl = rt_deadline(t);
    size_t fixed = fixed_len(t, st), take;
    const char *end = NULL; /* what cut the bytes short: "a line end", "the close" */
    char want[1024], got[1024];

    pattern_short(t, st, want, sizeof(want));
    rt_compact(t);
    for (;;) {
        const char *lf = t->c->rlen ? memchr(t->c->rbuf, '\n', t->c->rlen) : NULL;
        size_t upto = lf ? (size_t)(lf - t->c->rbuf) : t->c->rlen;
        if (fixed != SIZE_MAX && upto >= fixed) {
            take = fixed;
            break;
        }
        if (lf || t->c->eof) {
            take = lf && upto > 0 && t->c->rbuf[upto - 1] == '\r' ? upto - 1 : upto;
            /* a close ends a variable-length line; a fixed one it cuts short */
            if (lf)
                end = "then a line end";
            else if (fixed != SIZE_MAX)
                end = "then the connection closed";
            break;
        }
        if (t->c->rlen >= t->rmax) {
            rt_finish(t, MS_RES_BLOCKED, st->line,
                      "%s:%zu: the server sent a line longer than %zu bytes without a line end",
                      t->file, st->line, t->rmax);
            return -1;
        }
        uint64_t rdl = dl;
        if (fixed == SIZE_MAX && t->c->rlen > 0 && ms_now_ms() + NOCRLF_SETTLE_MS < dl)
            rdl = ms_now_ms() + NOCRLF_SETTLE_MS;
        int r = rt_read_more(t, rdl, st->line);
        if (r == -1)
            return -1;
        if (r == -2 && rdl < dl) {
            take = t->c->rlen; /* the server paused */
            break;
        }
        if (r == -2) {
            rt_finish(t, MS_RES_BLOCKED, st->line,
                      "%s:%zu: no answer within %u ms waiting for @nocrlf S: %s (%zu bytes so far)",
                      t->file, st->line, t->o->timeout_ms, want, t->c->rlen);
            return -1;
        }
    }
    if (take == 0 && t->c->eof && t->c->rlen == 0) {
        no_message(t, 0, st->line, want);
        return -1;
    }
    tr_tag(t);
    sb_str(&t->tr, "@nocrlf\n");
    tr_line(t, "S: ", t->c->rbuf, take);
    if (!end && rt_feed_raw(t, st->line, t->c->rbuf, take) != 0)
        return -1;
    int m = match(t, st, t->c->rbuf, take);
    if (m < 0)
        return too_many_captures(t, st->line);
    if (m == 1 && !end) {
        t->c->consumed = take;
        t->c->scanned = take;
        t->c->nlines = 0;
        return 0;
    }
    esc_short(t, got, sizeof(got), t->c->rbuf, take);
    rt_finish(
        t, MS_RES_FAIL, st->line,
        "%s:%zu: response does not match\n  expected: @nocrlf S: %s (no line end)\n  got:      "
        "S: %s%s%s",
        t->file, st->line, want, got, end ? " - " : "", end ? end : "");
    return -1;
}
