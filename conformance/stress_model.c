/*
 * The stress model (stress.h): per session, the sequence number -> UID map
 * as the server announced it; per mailbox, what each UID was. Every check
 * names the RFC sentence that makes the observation impossible on a correct
 * server; whatever a correct server may legally do is accepted.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stress.h"

const char *ms_stress_kind_name(enum ms_stress_kind k)
{
    switch (k) {
    case MS_SK_SEQ_BEFORE_EXISTS:
        return "seq-before-exists";
    case MS_SK_EXISTS_DOWN:
        return "exists-decreased";
    case MS_SK_UID_CHANGED:
        return "uid-changed";
    case MS_SK_UID_ORDER:
        return "uid-order";
    case MS_SK_UID_REUSED:
        return "uid-reused";
    case MS_SK_CONTENT_CHANGED:
        return "content-changed";
    case MS_SK_STORE_RESULT:
        return "store-result";
    case MS_SK_LOST_FLAG:
        return "lost-flag-update";
    case MS_SK_MODSEQ_BACK:
        return "modseq-decreased";
    case MS_SK_CHECKPOINT:
        return "checkpoint";
    case MS_SK_SYNTAX:
        return "syntax";
    case MS_SK_UNDELIVERED:
        return "smtp-undelivered";
    case MS_SK_DUPLICATE:
        return "smtp-duplicate";
    case MS_SK_ALTERED:
        return "smtp-altered";
    case MS_SK_NO_TRACE:
        return "smtp-no-trace";
    case MS_SK_POP3:
        return "pop3";
    default:
        return "?";
    }
}

uint64_t ms_stress_hash(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static int ieq(const char *p, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    if (n != l)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char a = p[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a + 32);
        if (a != lit[i])
            return 0;
    }
    return 1;
}

void ms_stress_flags_add(struct ms_stress_flags *f, const char *p, size_t n)
{
    static const struct {
        const char *name;
        uint32_t bit;
    } sys[] = {{"\\seen", MS_SF_SEEN},
               {"\\answered", MS_SF_ANSWERED},
               {"\\flagged", MS_SF_FLAGGED},
               {"\\deleted", MS_SF_DELETED},
               {"\\draft", MS_SF_DRAFT}};

    if (ieq(p, n, "\\recent"))
        return; /* per session (RFC 9051 drops it; 3501 2.3.2) */
    for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
        if (ieq(p, n, sys[i].name)) {
            f->sys |= sys[i].bit;
            return;
        }
    /* mskw0 .. mskw63: the sessions' own keywords */
    if (n >= 5 && n <= 6 && ieq(p, 4, "mskw")) {
        unsigned v = 0;
        int ok = 1;
        for (size_t i = 4; i < n; i++) {
            if (p[i] < '0' || p[i] > '9' || (i == 4 && p[i] == '0' && n == 6))
                ok = 0;
            else
                v = v * 10 + (unsigned)(p[i] - '0');
        }
        if (ok && v < MS_STRESS_OWNERS) {
            f->own |= 1ull << v;
            return;
        }
    }
    /* keywords are case-insensitive: hash the lower-case form */
    uint64_t h = MS_STRESS_HASH_INIT;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        h = ms_stress_hash(h, &c, 1);
    }
    f->other += h;
}

static void report(struct ms_stress_mbox *mb, enum ms_stress_kind kind, int session, int other,
                   uint32_t uid, const char *rfc, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

static void report(struct ms_stress_mbox *mb, enum ms_stress_kind kind, int session, int other,
                   uint32_t uid, const char *rfc, const char *level, const char *fmt, ...)
{
    struct ms_stress_issue is;
    va_list ap;

    memset(&is, 0, sizeof(is));
    is.kind = kind;
    is.session = session;
    is.other = other;
    is.uid = uid;
    is.rfc = rfc;
    is.level = level;
    va_start(ap, fmt);
    vsnprintf(is.text, sizeof(is.text), fmt, ap);
    va_end(ap);
    mb->issues++;
    if (mb->report)
        mb->report(mb->ctx, &is);
}

int ms_stress_mbox_init(struct ms_stress_mbox *mb, size_t nslots, ms_stress_report_fn fn, void *ctx)
{
    size_t n = 1;
    while (n < nslots)
        n <<= 1;
    memset(mb, 0, sizeof(*mb));
    mb->slots = calloc(n, sizeof(*mb->slots));
    if (!mb->slots)
        return -1;
    mb->nslots = n;
    mb->report = fn;
    mb->ctx = ctx;
    return 0;
}

void ms_stress_mbox_free(struct ms_stress_mbox *mb)
{
    free(mb->slots);
    mb->slots = NULL;
}

struct ms_stress_slot *ms_stress_slot_get(struct ms_stress_mbox *mb, uint32_t uid)
{
    struct ms_stress_slot *s = &mb->slots[uid & (mb->nslots - 1)];
    if (s->uid != uid) {
        memset(s, 0, sizeof(*s));
        s->uid = uid;
        s->first_session = -1;
    }
    return s;
}

/* The slot of uid when it is remembered, else NULL (never evicts). */
static struct ms_stress_slot *slot_find(struct ms_stress_mbox *mb, uint32_t uid)
{
    struct ms_stress_slot *s = &mb->slots[uid & (mb->nslots - 1)];
    return s->uid == uid ? s : NULL;
}

int ms_stress_view_init(struct ms_stress_view *v, struct ms_stress_mbox *mb, int session)
{
    memset(v, 0, sizeof(*v));
    v->mb = mb;
    v->session = session;
    return 0;
}

void ms_stress_view_free(struct ms_stress_view *v)
{
    free(v->uid);
    free(v->modseq);
    free(v->flags);
    free(v->have_flags);
    memset(v, 0, sizeof(*v));
}

void ms_stress_view_reset(struct ms_stress_view *v)
{
    v->exists = 0;
    v->desync = 0;
    v->pending_seq = 0;
}

static int view_grow(struct ms_stress_view *v, size_t need)
{
    if (need <= v->cap)
        return 0;
    size_t cap = v->cap ? v->cap : 64;
    while (cap < need)
        cap *= 2;
    uint32_t *u = realloc(v->uid, cap * sizeof(*u));
    if (u)
        v->uid = u;
    uint64_t *m = realloc(v->modseq, cap * sizeof(*m));
    if (m)
        v->modseq = m;
    struct ms_stress_flags *f = realloc(v->flags, cap * sizeof(*f));
    if (f)
        v->flags = f;
    uint8_t *h = realloc(v->have_flags, cap);
    if (h)
        v->have_flags = h;
    if (!u || !m || !f || !h)
        return -1;
    v->cap = cap;
    return 0;
}

/* Grow the view to n messages (new ones unknown). 0, or -1 (memory). */
static int view_grow_to(struct ms_stress_view *v, uint32_t n)
{
    if (view_grow(v, n) != 0)
        return -1;
    for (uint32_t i = v->exists; i < n; i++) {
        v->uid[i] = 0;
        v->modseq[i] = 0;
        v->have_flags[i] = 0;
        memset(&v->flags[i], 0, sizeof(v->flags[i]));
    }
    if (n > v->exists)
        v->exists = n;
    return 0;
}

int ms_stress_view_exists(struct ms_stress_view *v, uint32_t n)
{
    if (v->desync && v->pending_seq && n >= v->pending_seq)
        v->pending_seq = 0; /* announced late, but within the same response */
    if (n < v->exists && v->desync) {
        v->exists = n; /* the server's count, unjudged */
        return 0;
    }
    if (n < v->exists) {
        /* RFC 9051 7.5.1: only EXPUNGE reduces the count; an EXISTS that
         * would is not permitted. The view keeps its count. */
        report(v->mb, MS_SK_EXISTS_DOWN, v->session, -1, 0, "RFC 9051 7.5.1", "MUST",
               "EXISTS announced %u messages after %u without an EXPUNGE in between", n, v->exists);
        return 0;
    }
    return view_grow_to(v, n);
}

void ms_stress_view_command_done(struct ms_stress_view *v)
{
    if (v->modseq_in_cmd)
        v->modseq_armed = 1;
    if (!v->pending_seq)
        return;
    /* RFC 9051 5.2: the server MUST send mailbox size updates when it
     * observes a size change while processing a command; 2.3.1.2: sequence
     * numbers run from 1 to the number of messages, which EXISTS and
     * EXPUNGE told this session. The command ended without announcing it. */
    report(v->mb, MS_SK_SEQ_BEFORE_EXISTS, v->session, -1, 0, "RFC 9051 5.2", "MUST",
           "FETCH response for message %u when EXISTS and EXPUNGE responses left %u messages in "
           "this session, and the command completed without an EXISTS for it",
           v->pending_seq, v->pending_had);
    v->pending_seq = 0;
}

void ms_stress_view_expunge(struct ms_stress_view *v, uint32_t seq)
{
    if (seq == 0 || seq > v->exists) {
        if (v->desync)
            return;
        v->desync = 1;
        report(v->mb, MS_SK_SEQ_BEFORE_EXISTS, v->session, -1, 0, "RFC 9051 5.2", "MUST",
               "EXPUNGE %u when EXISTS and EXPUNGE responses left %u messages in this session", seq,
               v->exists);
        return;
    }
    /* a number not yet announced moves down with the messages before it:
     * "* 44 FETCH", "* 2 EXPUNGE", "* 43 EXISTS" announce the same message */
    if (v->pending_seq && seq < v->pending_seq)
        v->pending_seq--;
    if (v->pending_seq && seq <= v->pending_had)
        v->pending_had--;
    uint32_t uid = v->uid[seq - 1];
    if (uid) {
        struct ms_stress_slot *s = slot_find(v->mb, uid);
        if (!s)
            s = ms_stress_slot_get(v->mb, uid);
        s->expunged = 1;
    }
    size_t rest = v->exists - seq;
    memmove(&v->uid[seq - 1], &v->uid[seq], rest * sizeof(v->uid[0]));
    memmove(&v->modseq[seq - 1], &v->modseq[seq], rest * sizeof(v->modseq[0]));
    memmove(&v->flags[seq - 1], &v->flags[seq], rest * sizeof(v->flags[0]));
    memmove(&v->have_flags[seq - 1], &v->have_flags[seq], rest);
    v->exists--;
}

/* Check that uid fits between the known UIDs below and above seq. */
static void check_order(struct ms_stress_view *v, uint32_t seq, uint32_t uid)
{
    for (uint32_t i = seq - 1; i > 0; i--)
        if (v->uid[i - 1]) {
            if (v->uid[i - 1] >= uid)
                report(v->mb, MS_SK_UID_ORDER, v->session, -1, uid, "RFC 9051 2.3.1.1", "MUST",
                       "message %u has UID %u but message %u before it has UID %u: UIDs must "
                       "ascend with sequence numbers",
                       seq, uid, i, v->uid[i - 1]);
            break;
        }
    for (uint32_t i = seq + 1; i <= v->exists; i++)
        if (v->uid[i - 1]) {
            if (v->uid[i - 1] <= uid)
                report(v->mb, MS_SK_UID_ORDER, v->session, -1, uid, "RFC 9051 2.3.1.1", "MUST",
                       "message %u has UID %u but message %u after it has UID %u: UIDs must "
                       "ascend with sequence numbers",
                       seq, uid, i, v->uid[i - 1]);
            break;
        }
}

/* Remember a suspect (one per message and kind; the rest are dropped). */
static void suspect(struct ms_stress_mbox *mb, enum ms_stress_kind kind, int session, int other,
                    uint32_t uid, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void suspect(struct ms_stress_mbox *mb, enum ms_stress_kind kind, int session, int other,
                    uint32_t uid, const char *fmt, ...)
{
    va_list ap;
    for (unsigned k = 0; k < mb->nsuspects; k++)
        if (mb->suspects[k].uid == uid && mb->suspects[k].kind == kind)
            return;
    if (mb->nsuspects >= MS_STRESS_SUSPECTS)
        return;
    struct ms_stress_suspect *x = &mb->suspects[mb->nsuspects++];
    x->kind = kind;
    x->uid = uid;
    x->session = session;
    x->other = other;
    va_start(ap, fmt);
    vsnprintf(x->text, sizeof(x->text), fmt, ap);
    va_end(ap);
}

/* RFC 9051 2.3.1.1: a UID names one message for the life of the
 * UIDVALIDITY; its size, structure and body never change. The first values
 * seen are kept; a difference is a suspect until a checkpoint shows the
 * message alive (fake data for an expunged message is legal, RFC 2180 4.1). */
static uint32_t content_check(struct ms_stress_view *v, const struct ms_stress_fetch *f,
                              uint32_t uid)
{
    struct ms_stress_mbox *mb = v->mb;
    if (!(f->has_size || f->has_bs || f->has_body))
        return uid;
    struct ms_stress_slot *s = ms_stress_slot_get(mb, uid);
    mb->n_content_checks++;
    if (f->has_size && s->have_size && s->size != f->size)
        suspect(mb, MS_SK_CONTENT_CHANGED, v->session, s->first_session, uid,
                "UID %u: RFC822.SIZE %u, earlier %u", uid, f->size, s->size);
    else if (f->has_size && !s->have_size) {
        s->have_size = 1;
        s->size = f->size;
    }
    if (f->has_bs && s->have_bs && s->bs_hash != f->bs_hash)
        suspect(mb, MS_SK_CONTENT_CHANGED, v->session, s->first_session, uid,
                "UID %u: BODYSTRUCTURE differs from an earlier one", uid);
    else if (f->has_bs && !s->have_bs) {
        s->have_bs = 1;
        s->bs_hash = f->bs_hash;
    }
    if (f->has_body && s->have_body && s->body_hash != f->body_hash)
        suspect(mb, MS_SK_CONTENT_CHANGED, v->session, s->first_session, uid,
                s->appended ? "UID %u: BODY[] differs from the message APPENDed as this UID"
                            : "UID %u: BODY[] differs from an earlier BODY[]",
                uid);
    else if (f->has_body && !s->have_body) {
        s->have_body = 1;
        s->body_hash = f->body_hash;
    }
    if (s->first_session < 0)
        s->first_session = v->session;
    return uid;
}

uint32_t ms_stress_view_fetch(struct ms_stress_view *v, const struct ms_stress_fetch *f)
{
    struct ms_stress_mbox *mb = v->mb;

    if (f->seq == 0)
        return 0;
    if (f->seq > v->exists) {
        /* RFC 9051 5.2 (judged at the end of the command, below): the map
         * is the server's word from here on, per-session checks rest */
        if (!v->desync) {
            v->desync = 1;
            v->pending_had = v->exists;
        }
        if (v->pending_seq < f->seq)
            v->pending_seq = f->seq;
        if (view_grow_to(v, f->seq) != 0)
            return 0;
    }
    uint32_t i = f->seq - 1;
    if (v->desync) {
        /* the map may be off: keep it, judge nothing per session, and
         * check contents only by the UID the response carries */
        if (f->uid)
            v->uid[i] = f->uid;
        if (!f->uid)
            return 0;
        struct ms_stress_fetch g = *f;
        g.modseq = 0;
        return content_check(v, &g, f->uid);
    }
    uint32_t uid = v->uid[i];
    if (f->uid) {
        mb->n_uid_checks++;
        if (uid && uid != f->uid) {
            report(mb, MS_SK_UID_CHANGED, v->session, -1, f->uid, "RFC 9051 2.3.1.1", "MUST",
                   "message %u had UID %u and now has UID %u in the same session", f->seq, uid,
                   f->uid);
        } else if (!uid) {
            check_order(v, f->seq, f->uid);
        }
        v->uid[i] = uid = f->uid;
    }
    if (f->has_flags) {
        v->flags[i] = f->flags;
        v->have_flags[i] = 1;
    }
    if (f->modseq && !v->modseq_armed)
        v->modseq_in_cmd = 1;
    else if (f->modseq) {
        mb->n_modseq_checks += uid && v->modseq[i];
        if (uid && v->modseq[i] && f->modseq < v->modseq[i])
            report(mb, MS_SK_MODSEQ_BACK, v->session, -1, uid, "RFC 7162 2", "MUST",
                   "UID %u: MODSEQ %llu after %llu in the same session", uid,
                   (unsigned long long)f->modseq, (unsigned long long)v->modseq[i]);
        if (f->modseq > v->modseq[i])
            v->modseq[i] = f->modseq;
    }
    if (!uid)
        return uid;
    return content_check(v, f, uid);
}

void ms_stress_appended(struct ms_stress_mbox *mb, int session, uint32_t uid, uint64_t body_hash)
{
    struct ms_stress_slot *s = slot_find(mb, uid);
    /* RFC 9051 2.3.1.1: UIDs are assigned in strictly ascending order and
     * never reused: two APPENDs that got the same UID prove reuse. A BODY[]
     * seen under this UID that differs may be fake data of an expunged
     * message (RFC 2180 4.1): a suspect until a checkpoint. Its EXPUNGE
     * alone proves nothing (another session may have fetched and expunged
     * this very message before our tagged OK arrived). */
    if (s && s->appended) {
        report(mb, MS_SK_UID_REUSED, session, s->first_session, uid, "RFC 9051 2.3.1.1", "MUST",
               "APPEND got [APPENDUID] UID %u, which an earlier APPEND got too%s", uid,
               s->expunged ? " (expunged since)" : "");
        return;
    }
    if (s && s->have_body && s->body_hash != body_hash) {
        suspect(mb, MS_SK_UID_REUSED, session, s->first_session, uid,
                "APPEND got [APPENDUID] UID %u, but a BODY[] fetched under that UID earlier is "
                "another message",
                uid);
        return;
    }
    s = ms_stress_slot_get(mb, uid);
    s->appended = 1;
    s->have_body = 1;
    s->body_hash = body_hash;
    s->first_session = session;
}

void ms_stress_own_unknown(struct ms_stress_mbox *mb, int session, uint32_t uid)
{
    if (session < 0 || session >= MS_STRESS_OWNERS)
        return;
    struct ms_stress_slot *s = slot_find(mb, uid);
    if (s)
        s->own_known &= ~(1ull << session);
}

void ms_stress_own_store(struct ms_stress_mbox *mb, int session, uint32_t uid, int add, int seen,
                         int has_kw)
{
    if (session < 0 || session >= MS_STRESS_OWNERS)
        return;
    uint64_t bit = 1ull << session;
    if (!seen) {
        /* no FETCH for it: expunged meanwhile, or the server sent none */
        ms_stress_own_unknown(mb, session, uid);
        return;
    }
    struct ms_stress_slot *s = ms_stress_slot_get(mb, uid);
    mb->n_store_checks++;
    if (!has_kw != !add) {
        /* RFC 9051 6.4.6: the new value of the flags is returned as if a
         * FETCH of them was done. A message expunged by another session
         * before this STORE ran may legally keep its old flags: suspect
         * until a checkpoint shows the message still exists. */
        s->own_known &= ~bit;
        suspect(mb, MS_SK_STORE_RESULT, session, -1, uid,
                "UID STORE %u %cFLAGS (mskw%d) completed OK but the FLAGS it returned %s mskw%d",
                uid, add ? '+' : '-', session, add ? "lack" : "still have", session);
        return;
    }
    s->own_known |= bit;
    if (add)
        s->own_set |= bit;
    else
        s->own_set &= ~bit;
}

/* A view fit for a checkpoint: every message has its UID and fresh flags. */
static int view_complete(const struct ms_stress_view *v)
{
    if (v->desync)
        return 0;
    for (uint32_t i = 0; i < v->exists; i++)
        if (!v->uid[i] || !v->have_flags[i])
            return 0;
    return 1;
}

static int uid_index(const struct ms_stress_view *v, uint32_t uid)
{
    /* UIDs ascend with sequence numbers (checked): binary search */
    uint32_t lo = 0, hi = v->exists;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (v->uid[mid] == uid)
            return (int)mid;
        if (v->uid[mid] < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

void ms_stress_checkpoint(struct ms_stress_mbox *mb, struct ms_stress_view *const *views, size_t n)
{
    const struct ms_stress_view *ref = NULL;

    for (size_t k = 0; k < n; k++) {
        const struct ms_stress_view *v = views[k];
        if (!view_complete(v))
            continue;
        mb->n_checkpoint_views++;
        if (!ref) {
            ref = v;
        } else {
            /* RFC 9051 5.2: the server MUST send mailbox size updates when it
             * observes a change while processing a command, and SHOULD send
             * EXPUNGE and FETCH for another agent's changes: after NOOP on a
             * quiet mailbox every session shows the same messages. */
            if (v->exists != ref->exists) {
                report(mb, MS_SK_CHECKPOINT, v->session, ref->session, 0, "RFC 9051 5.2", "SHOULD",
                       "checkpoint: with no command running, after NOOP session %d shows %u "
                       "messages and session %d shows %u",
                       v->session, v->exists, ref->session, ref->exists);
            } else {
                for (uint32_t i = 0; i < v->exists; i++)
                    if (v->uid[i] != ref->uid[i]) {
                        report(mb, MS_SK_CHECKPOINT, v->session, ref->session, v->uid[i],
                               "RFC 9051 5.2", "SHOULD",
                               "checkpoint: message %u is UID %u in session %d and UID %u in "
                               "session %d",
                               i + 1, v->uid[i], v->session, ref->uid[i], ref->session);
                        break;
                    }
            }
            /* Flags of the messages both show: FETCH FLAGS returns the
             * message's flags, and nothing changed them since. */
            for (uint32_t i = 0; i < v->exists; i++) {
                int j = uid_index(ref, v->uid[i]);
                if (j < 0)
                    continue;
                const struct ms_stress_flags *a = &v->flags[i], *b = &ref->flags[j];
                if (a->sys != b->sys || a->own != b->own || a->other != b->other) {
                    report(mb, MS_SK_CHECKPOINT, v->session, ref->session, v->uid[i],
                           "RFC 9051 5.2", "SHOULD",
                           "checkpoint: UID %u has different flags in session %d and session %d "
                           "with no command running (a flag change not announced)",
                           v->uid[i], v->session, ref->session);
                    break;
                }
            }
        }
        /* Owner keywords after completed STOREs: only that session changes
         * its keyword, so the flags must show the last completed change. */
        for (uint32_t i = 0; i < v->exists; i++) {
            struct ms_stress_slot *s = slot_find(mb, v->uid[i]);
            if (!s || !s->own_known)
                continue;
            mb->n_owner_checks++;
            uint64_t diff = (v->flags[i].own ^ s->own_set) & s->own_known;
            if (diff) {
                int owner = __builtin_ctzll(diff);
                report(mb, MS_SK_LOST_FLAG, v->session, owner, v->uid[i], "RFC 9051 6.4.6", "MUST",
                       "UID %u: session %d's STORE %cFLAGS (mskw%d) completed, but at the "
                       "checkpoint session %d shows the keyword %s (a lost or non-atomic flag "
                       "update)",
                       v->uid[i], owner, (s->own_set >> owner) & 1 ? '+' : '-', owner, v->session,
                       (v->flags[i].own >> owner) & 1 ? "set" : "not set");
                /* one report per message and owner */
                s->own_known &= ~(1ull << owner);
            }
        }
    }
    /* Suspects whose message still exists: the STORE ran on a live message. */
    if (ref)
        for (unsigned k = 0; k < mb->nsuspects; k++) {
            const struct ms_stress_suspect *x = &mb->suspects[k];
            if (uid_index(ref, x->uid) >= 0)
                report(mb, x->kind, x->session, x->other, x->uid,
                       x->kind == MS_SK_STORE_RESULT ? "RFC 9051 6.4.6" : "RFC 9051 2.3.1.1",
                       "MUST", "%s, and the message still exists at a checkpoint", x->text);
        }
    mb->nsuspects = 0;
}

/* ---- POP3 ---- */

int ms_stress_p3_begin(struct ms_stress_p3view *v, uint32_t count)
{
    if (count > v->cap) {
        size_t cap = count < 64 ? 64 : count;
        void *u = realloc(v->uid, cap * sizeof(*v->uid));
        if (u)
            v->uid = u;
        uint64_t *z = realloc(v->size, cap * sizeof(*z));
        if (z)
            v->size = z;
        uint8_t *h = realloc(v->have_size, cap);
        if (h)
            v->have_size = h;
        if (!u || !z || !h)
            return -1;
        v->cap = cap;
    }
    v->count = count;
    for (uint32_t i = 0; i < count; i++) {
        v->uid[i][0] = '\0';
        v->have_size[i] = 0;
    }
    return 0;
}

void ms_stress_p3_free(struct ms_stress_p3view *v)
{
    free(v->uid);
    free(v->size);
    free(v->have_size);
    v->uid = NULL;
    v->size = NULL;
    v->have_size = NULL;
    v->cap = 0;
}

static struct ms_stress_p3slot *p3_slot(struct ms_stress_p3view *v, const char *uid, int claim)
{
    uint64_t h = ms_stress_hash(MS_STRESS_HASH_INIT, uid, strlen(uid));
    struct ms_stress_p3slot *s = &v->slots[h & (v->nslots - 1)];
    if (strcmp(s->uid, uid) == 0)
        return s;
    if (!claim)
        return NULL;
    memset(s, 0, sizeof(*s));
    snprintf(s->uid, sizeof(s->uid), "%s", uid);
    s->first_session = v->session;
    return s;
}

/* A message number outside the session's STAT count: ignored, not judged
 * (RFC 1939 locks the maildrop against removal and change, but does not
 * say that new mail stays out of a session). */
static int p3_bad_msg(const struct ms_stress_p3view *v, uint64_t msg)
{
    return msg < 1 || msg > v->count;
}

void ms_stress_p3_stat(struct ms_stress_p3view *v, uint32_t count)
{
    /* RFC 1939 4: the lock keeps messages from being removed before the
     * UPDATE state; stress sends no DELE, so the count cannot go down. */
    if (count < v->count)
        report(v->mb, MS_SK_POP3, v->session, -1, 0, "RFC 1939 4", "MUST",
               "STAT counted %u messages and %u earlier in the same session (no DELE was sent)",
               count, v->count);
}

/* Compare what the session knows of msg with what its unique-id named. */
static void p3_cross(struct ms_stress_p3view *v, uint64_t msg)
{
    uint32_t i = (uint32_t)(msg - 1);
    if (!v->uid[i][0] || !v->have_size[i])
        return;
    struct ms_stress_p3slot *s = p3_slot(v, v->uid[i], 1);
    v->mb->n_content_checks++;
    if (s->have_size && s->size != v->size[i])
        report(v->mb, MS_SK_POP3, v->session, s->first_session, 0, "RFC 1939 7", "MUST",
               "unique-id %s: message size %llu, earlier %llu (a unique-id names one message "
               "across sessions)",
               v->uid[i], (unsigned long long)v->size[i], (unsigned long long)s->size);
    s->have_size = 1;
    s->size = v->size[i];
}

void ms_stress_p3_size(struct ms_stress_p3view *v, uint64_t msg, uint64_t size)
{
    if (p3_bad_msg(v, msg))
        return;
    uint32_t i = (uint32_t)(msg - 1);
    if (v->have_size[i] && v->size[i] != size)
        report(v->mb, MS_SK_POP3, v->session, -1, 0, "RFC 1939 4", "MUST",
               "LIST: message %llu has %llu octets and %llu earlier in the same session",
               (unsigned long long)msg, (unsigned long long)size, (unsigned long long)v->size[i]);
    v->have_size[i] = 1;
    v->size[i] = size;
    p3_cross(v, msg);
}

void ms_stress_p3_uid(struct ms_stress_p3view *v, uint64_t msg, const char *uid, size_t n)
{
    char u[MS_STRESS_P3_UID + 1];
    if (p3_bad_msg(v, msg) || n == 0 || n > MS_STRESS_P3_UID)
        return;
    memcpy(u, uid, n);
    u[n] = '\0';
    uint32_t i = (uint32_t)(msg - 1);
    v->mb->n_uid_checks++;
    if (v->uid[i][0] && strcmp(v->uid[i], u) != 0) {
        report(v->mb, MS_SK_POP3, v->session, -1, 0, "RFC 1939 7", "MUST",
               "UIDL: message %llu has unique-id %s and %s earlier in the same session",
               (unsigned long long)msg, u, v->uid[i]);
        return;
    }
    if (!v->uid[i][0] && v->count <= 4096)
        for (uint32_t k = 0; k < v->count; k++)
            if (k != i && strcmp(v->uid[k], u) == 0) {
                report(v->mb, MS_SK_POP3, v->session, -1, 0, "RFC 1939 7", "MUST",
                       "UIDL: messages %u and %llu have the same unique-id %s", k + 1,
                       (unsigned long long)msg, u);
                break;
            }
    memcpy(v->uid[i], u, n + 1);
    p3_cross(v, msg);
}

void ms_stress_p3_body(struct ms_stress_p3view *v, uint64_t msg, uint64_t hash)
{
    if (p3_bad_msg(v, msg))
        return;
    uint32_t i = (uint32_t)(msg - 1);
    if (!v->uid[i][0])
        return;
    struct ms_stress_p3slot *s = p3_slot(v, v->uid[i], 1);
    v->mb->n_content_checks++;
    if (s->have_body && s->body_hash != hash)
        report(v->mb, MS_SK_POP3, v->session, s->first_session, 0, "RFC 1939 7", "MUST",
               "unique-id %s: RETR gave other bytes than before (a unique-id names one message)",
               v->uid[i]);
    s->have_body = 1;
    s->body_hash = hash;
}
