/*
 * Fuzz target: the session-script parser and matcher (parsers/common/script.c).
 *
 * Malformed scripts are expected and fine (the parser must reject them with a
 * line and column inside the input). Properties checked, abort() on violation:
 *  - determinism: parsing the same bytes twice gives the same steps and parts;
 *  - error positions lie inside the input;
 *  - round trip: every S: pattern written back with ms_script_pattern_text
 *    parses to the same pieces;
 *  - every S: pattern without ${mbox:...} matches the line made of its
 *    literals with every wildcard empty, with and without MS_MATCH_NOCASE;
 *  - run as the runner runs it (variables kept from line to line, C: lines
 *    rendered), the script gives the same matches, values and bytes twice.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailspec/script.h"

/*
 * Any bytes as server text: the matcher (typed ${mbox:...} tokens, quoted
 * strings, literal counts) must stay inside them and agree with itself: the
 * same text matches the same way twice.
 */
static void foreign_match(const struct ms_script *s, const struct ms_step *st, const char *text,
                          size_t n)
{
    static struct ms_vars v1, v2;
    for (unsigned flags = 0; flags <= MS_MATCH_NOCASE; flags++) {
        ms_vars_init(&v1);
        ms_vars_init(&v2);
        int a = ms_script_match(s, st, &v1, text, n, flags);
        int b = ms_script_match(s, st, &v2, text, n, flags);
        if (a != b || v1.used != v2.used || memcmp(v1.buf, v2.buf, v1.used) != 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The script run as the runner runs it: one set of variables for the whole
 * script, the built-in ones bound (an ASCII word, a UTF-8 mailbox name, its
 * modified UTF-7 form, INBOX in another case), every S: line matched against
 * the input bytes in turn (so a variable captured by one line is compared by
 * the next: typed ${mbox:...} equality through quoting, literals, INBOX and
 * modified UTF-7) and every C: line rendered with the values so far. Twice,
 * with the same results.
 */
static size_t run_once(const struct ms_script *s, const char *text, size_t n, struct ms_vars *vs,
                       char *out, size_t cap)
{
    static const char *const values[MS_VAR_BUILTINS] = {
        "alice", "p\"w", "Entw\xc3\xbcrfe", "AGFsaWNlAHB3", "", "&AOQ-b", "inBox", "a b",
        "r1",    "{3}",  "\xe2\x82\xac"};
    size_t h = 0;

    ms_vars_init(vs);
    for (size_t i = 0; i < MS_VAR_BUILTINS; i++)
        if (ms_vars_set(vs, i, values[i], strlen(values[i])) != MS_OK)
            abort();
    for (size_t i = 0; i < s->nsteps; i++) {
        const struct ms_step *st = &s->steps[i];
        if (st->type == MS_STEP_EXPECT) {
            h = h * 31 + (size_t)(ms_script_match(s, st, vs, text, n, 0) + 2);
        } else if (st->type == MS_STEP_SEND) {
            ssize_t k = ms_script_render(s, st, vs, out, cap);
            h = h * 31 + (size_t)(k + 2);
            if (k > 0)
                for (ssize_t j = 0; j < k; j++)
                    h = h * 31 + (unsigned char)out[j];
        }
    }
    return h;
}

static void run_match(const struct ms_script *s, const char *text, size_t n)
{
    static struct ms_vars v1, v2;
    static char o1[1 << 16], o2[1 << 16];
    if (run_once(s, text, n, &v1, o1, sizeof(o1)) != run_once(s, text, n, &v2, o2, sizeof(o2)) ||
        v1.used != v2.used || memcmp(v1.buf, v2.buf, v1.used) != 0)
        abort();
}

static void same_scripts(const struct ms_script *a, const struct ms_script *b)
{
    if (a->nsteps != b->nsteps || a->nparts != b->nparts || a->nvars != b->nvars ||
        a->level != b->level || a->transports != b->transports || a->lenient != b->lenient ||
        a->nalts != b->nalts || a->has_phases != b->has_phases ||
        a->tls_failure_passes != b->tls_failure_passes || strcmp(a->quote, b->quote) != 0 ||
        strcmp(a->finding, b->finding) != 0)
        abort();
    for (size_t i = 0; i < a->nsteps; i++)
        if (a->steps[i].type != b->steps[i].type || a->steps[i].line != b->steps[i].line ||
            a->steps[i].nparts != b->steps[i].nparts || a->steps[i].arg != b->steps[i].arg ||
            a->steps[i].phase != b->steps[i].phase)
            abort();
    for (size_t i = 0; i < a->nparts; i++) {
        const struct ms_part *x = &a->parts[i], *y = &b->parts[i];
        if (x->kind != y->kind || x->var != y->var || x->capture != y->capture || x->len != y->len)
            abort();
        if (x->kind == MS_PART_LIT && memcmp(a->bytes + x->off, b->bytes + y->off, x->len) != 0)
            abort();
    }
}

/* The S: pattern of step st, written back and parsed alone, has the same pieces. */
static void round_trip(const struct ms_script *s, const struct ms_step *st)
{
    static char text[1 << 20];
    struct ms_out o;
    struct ms_script_error err;

    ms_out_init(&o, text, sizeof(text));
    /* Variables the step compares (set earlier in the script) are set first
     * here too, one capture line each, so the line parses alone the same way. */
    size_t pre = 0;
    for (size_t i = 0; i < st->nparts; i++) {
        const struct ms_part *x = &s->parts[st->part0 + i];
        if ((x->kind == MS_PART_VAR || x->kind == MS_PART_MBOX) && !x->capture &&
            x->var >= MS_VAR_BUILTINS) {
            ms_out_str(&o, "S: ${");
            ms_out_str(&o, s->vars[x->var]);
            ms_out_str(&o, "}\n");
            pre++;
        }
    }
    ms_out_bytes(&o, "S: ", 3);
    ms_script_pattern_text(s, st, &o);
    if (o.overflow)
        return;
    struct ms_script *r = ms_script_parse(text, o.len, &err);
    if (!r) {
        if (err.reason && strcmp(err.reason, "out of memory") == 0)
            return;
        abort();
    }
    if (r->nsteps != pre + 1 || r->steps[pre].nparts != st->nparts)
        abort();
    for (size_t i = 0; i < st->nparts; i++) {
        const struct ms_part *x = &s->parts[st->part0 + i], *y = &r->parts[r->steps[pre].part0 + i];
        if (x->kind != y->kind || x->len != y->len)
            abort();
        if (x->kind == MS_PART_LIT && memcmp(s->bytes + x->off, r->bytes + y->off, x->len) != 0)
            abort();
        if ((x->kind == MS_PART_VAR || x->kind == MS_PART_MBOX) &&
            strcmp(s->vars[x->var], r->vars[y->var]) != 0)
            abort();
    }
    ms_script_free(r);
}

/* Literals with every wildcard and unbound variable empty must match. */
static void self_match(const struct ms_script *s, const struct ms_step *st)
{
    static char line[1 << 20];
    static struct ms_vars vs;
    size_t n = 0;

    ms_vars_init(&vs);
    for (size_t i = 0; i < st->nparts; i++) {
        const struct ms_part *pt = &s->parts[st->part0 + i];
        if (pt->kind == MS_PART_MBOX)
            return; /* needs a mailbox token, not empty text */
        if (pt->kind != MS_PART_LIT)
            continue;
        if (pt->len > sizeof(line) - n)
            return;
        memcpy(line + n, s->bytes + pt->off, pt->len);
        n += pt->len;
    }
    if (ms_script_match(s, st, &vs, line, n, 0) != 1)
        abort();
    /* the same text matches case-insensitively too */
    ms_vars_init(&vs);
    if (ms_script_match(s, st, &vs, line, n, MS_MATCH_NOCASE) != 1)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ms_script_error e1, e2;
    struct ms_script *a = ms_script_parse((const char *)data, size, &e1);
    struct ms_script *b = ms_script_parse((const char *)data, size, &e2);

    if (!a || !b) {
        if (a || b)
            abort(); /* one parse succeeded, the other did not */
        if (e1.line != e2.line || e1.col != e2.col || e1.reason != e2.reason || !e1.reason)
            abort();
        /* line 1 col 1 is allowed for an empty script; otherwise inside the input */
        if (strcmp(e1.reason, "out of memory") != 0 && e1.line > 1 + size)
            abort();
        return 0;
    }
    same_scripts(a, b);
    for (size_t i = 0; i < a->nsteps; i++)
        if (a->steps[i].type == MS_STEP_EXPECT) {
            round_trip(a, &a->steps[i]);
            self_match(a, &a->steps[i]);
            foreign_match(a, &a->steps[i], (const char *)data, size);
        }
    run_match(a, (const char *)data, size);
    ms_script_free(a);
    ms_script_free(b);
    return 0;
}
