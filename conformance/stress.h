/*
 * mailspec stress (docs/stress.md): many IMAP clients on one mailbox, every
 * response parsed by the strict parsers, and a model of what each session
 * and the mailbox may legally show.
 *
 * The model (stress_model.c) is pure: no I/O, fed with what the typed views
 * said, in the order the server said it. It reports an inconsistency only
 * where no legal server behaviour explains what was seen (a false report is
 * the worst bug): what IMAP leaves open - unsolicited FETCH at any time,
 * EXPUNGE held back until a command allows it, another session's change
 * announced late - is accepted, and checks that depend on the mailbox being
 * quiet wait for a checkpoint.
 */
#ifndef MAILSPEC_STRESS_H
#define MAILSPEC_STRESS_H

#include <stddef.h>
#include <stdint.h>

/* Sessions that get a keyword of their own (mskw0 .. mskw63). */
#define MS_STRESS_OWNERS 64

/* System flags the model tracks (\Recent is per session and not compared). */
enum {
    MS_SF_SEEN = 1u << 0,
    MS_SF_ANSWERED = 1u << 1,
    MS_SF_FLAGGED = 1u << 2,
    MS_SF_DELETED = 1u << 3,
    MS_SF_DRAFT = 1u << 4,
};

/* A message's flags: system flags, the sessions' own keywords, and every
 * other flag as an order-independent sum of hashes. */
struct ms_stress_flags {
    uint32_t sys;
    uint64_t own;
    uint64_t other;
};

/* Add one flag (as the server wrote it) to f. */
void ms_stress_flags_add(struct ms_stress_flags *f, const char *p, size_t n);

enum ms_stress_kind {
    MS_SK_SEQ_BEFORE_EXISTS = 1, /* FETCH/EXPUNGE of a number EXISTS never announced */
    MS_SK_EXISTS_DOWN,           /* EXISTS reduced the message count */
    MS_SK_UID_CHANGED,           /* a message's UID changed in one session */
    MS_SK_UID_ORDER,             /* UIDs not ascending with sequence numbers */
    MS_SK_UID_REUSED,            /* a new message got a UID used before */
    MS_SK_CONTENT_CHANGED,       /* RFC822.SIZE, BODYSTRUCTURE or BODY[] of a UID changed */
    MS_SK_STORE_RESULT,          /* STORE's returned flags lack its own change */
    MS_SK_LOST_FLAG,             /* a completed flag change was lost (non-atomic update) */
    MS_SK_MODSEQ_BACK,           /* a message's MODSEQ went down in one session */
    MS_SK_CHECKPOINT,            /* sessions disagree on a quiet mailbox */
    MS_SK_SYNTAX,                /* a response the strict parser rejects */
    MS_SK_POP3,                  /* POP3: UIDL, count or size inconsistent */
    MS_SK_UNDELIVERED,           /* SMTP: accepted (250), neither delivered nor bounced (info) */
    MS_SK_DUPLICATE,             /* SMTP: delivered twice (info: no MUST forbids it) */
    MS_SK_ALTERED,               /* SMTP: delivered, not as sent (info, RFC 5321 4.5.2) */
    MS_SK_NO_TRACE,              /* SMTP: delivered without a Received: field added */
};

const char *ms_stress_kind_name(enum ms_stress_kind k);

struct ms_stress_issue {
    enum ms_stress_kind kind;
    int session, other; /* -1: none */
    uint32_t uid;
    const char *rfc;   /* "RFC 9051 2.3.1.1" */
    const char *level; /* "MUST", "SHOULD" */
    char text[320];
};

typedef void (*ms_stress_report_fn)(void *ctx, const struct ms_stress_issue *is);

/* What the mailbox model remembers of one UID (direct-mapped cache). */
struct ms_stress_slot {
    uint32_t uid; /* 0: empty */
    uint8_t expunged, have_size, have_bs, have_body, appended;
    uint32_t size;
    uint64_t bs_hash, body_hash;
    int first_session;           /* who saw the remembered values first */
    uint64_t own_known, own_set; /* owner keyword state after completed STOREs */
};

/* What a correct server may show for a message another session expunged
 * (RFC 2180 4.1: a STORE without effect, fake or empty FETCH data, e.g.
 * RFC822.SIZE 0), but not for a live one: a STORE whose returned flags lack
 * its change, a size, structure or body that differs from before. Reported
 * at the next checkpoint if the message still exists then (an expunge is
 * permanent, so it existed when the data was sent). */
struct ms_stress_suspect {
    enum ms_stress_kind kind;
    uint32_t uid;
    int session, other;
    char text[200];
};
#define MS_STRESS_SUSPECTS 64

struct ms_stress_mbox {
    struct ms_stress_slot *slots;
    size_t nslots; /* a power of two */
    struct ms_stress_suspect suspects[MS_STRESS_SUSPECTS];
    unsigned nsuspects;
    ms_stress_report_fn report;
    void *ctx;
    unsigned issues;
    /* how often each kind of check ran (the report shows the model worked) */
    uint64_t n_uid_checks, n_content_checks, n_store_checks, n_modseq_checks;
    uint64_t n_checkpoint_views, n_owner_checks;
};

int ms_stress_mbox_init(struct ms_stress_mbox *mb, size_t nslots, ms_stress_report_fn report,
                        void *ctx);
void ms_stress_mbox_free(struct ms_stress_mbox *mb);
/* The slot for uid (claimed and cleared when another UID held it). */
struct ms_stress_slot *ms_stress_slot_get(struct ms_stress_mbox *mb, uint32_t uid);

/* One session's view of the selected mailbox: the sequence number -> UID
 * map and what it last saw of each message. */
struct ms_stress_view {
    int session;
    struct ms_stress_mbox *mb;
    uint32_t exists;
    size_t cap;
    uint32_t *uid;                 /* [seq - 1]: 0 unknown */
    uint64_t *modseq;              /* [seq - 1]: 0 unknown */
    struct ms_stress_flags *flags; /* [seq - 1] */
    uint8_t *have_flags;           /* [seq - 1] */
    /* The server referred to a message this session was never told about:
     * the map may be off from there on, so per-session checks rest until
     * the next SELECT (the driver selects again at once). */
    int desync;
    /* A FETCH for a number beyond the count: judged when the command
     * completes (an EXISTS later in the same response clears it). */
    uint32_t pending_seq, pending_had;
    /* MODSEQ is judged from the second command that carried it on: the
     * values of the command that enabled CONDSTORE are not (Dovecot reports
     * the highest mod-sequence there for a fresh message, then its own). */
    int modseq_armed, modseq_in_cmd;
};

int ms_stress_view_init(struct ms_stress_view *v, struct ms_stress_mbox *mb, int session);
void ms_stress_view_free(struct ms_stress_view *v);
/* SELECT began: nothing is known (the EXISTS that follows sets the count). */
void ms_stress_view_reset(struct ms_stress_view *v);
/* "* n EXISTS". Returns 0, or -1 when out of memory. */
int ms_stress_view_exists(struct ms_stress_view *v, uint32_t n);
/* The command's tagged response came: a sequence number still beyond what
 * EXISTS announced is reported now. */
void ms_stress_view_command_done(struct ms_stress_view *v);
/* "* n EXPUNGE". */
void ms_stress_view_expunge(struct ms_stress_view *v, uint32_t seq);

/* What one FETCH response carried. */
struct ms_stress_fetch {
    uint32_t seq;
    uint32_t uid; /* 0: not in the response */
    int has_flags;
    struct ms_stress_flags flags;
    int has_size;
    uint32_t size;
    int has_bs;
    uint64_t bs_hash;
    int has_body; /* BODY[] whole */
    uint64_t body_hash;
    uint64_t modseq; /* 0: none */
};

/* "* seq FETCH (...)". Returns the message's UID as far as known (0: unknown). */
uint32_t ms_stress_view_fetch(struct ms_stress_view *v, const struct ms_stress_fetch *f);

/* APPEND completed with [APPENDUID v uid] for a message whose bytes hash to
 * body_hash. */
void ms_stress_appended(struct ms_stress_mbox *mb, int session, uint32_t uid, uint64_t body_hash);

/*
 * A UID STORE +FLAGS/-FLAGS of the session's own keyword completed OK.
 * seen: the command's responses carried FLAGS for uid, with has_kw telling
 * whether the keyword was among them.
 */
void ms_stress_own_store(struct ms_stress_mbox *mb, int session, uint32_t uid, int add, int seen,
                         int has_kw);
/* A STORE of the own keyword was sent or failed: its state is unknown. */
void ms_stress_own_unknown(struct ms_stress_mbox *mb, int session, uint32_t uid);

/*
 * A checkpoint: no command ran in any session after each session's NOOP,
 * and each view holds a fresh FETCH 1:* (UID FLAGS). Compares the views
 * (message count, UIDs, flags), the owner keywords against completed STOREs,
 * and settles the suspects. Views with a gap (a message without UID or
 * flags) are left out.
 */
void ms_stress_checkpoint(struct ms_stress_mbox *mb, struct ms_stress_view *const *views, size_t n);

/*
 * POP3 (RFC 1939): within a session the message numbers, their sizes and
 * unique-ids are fixed (stress never sends DELE); across sessions a
 * unique-id names one message, so its size and content never change.
 */
#define MS_STRESS_P3_UID 70 /* RFC 1939 7: 1 to 70 characters */
struct ms_stress_p3slot {
    char uid[MS_STRESS_P3_UID + 1]; /* "": empty */
    uint8_t have_size, have_body;
    int first_session;
    uint64_t size, body_hash;
};
struct ms_stress_p3view {
    int session;
    struct ms_stress_mbox *mb;
    struct ms_stress_p3slot *slots; /* shared by every session */
    size_t nslots;                  /* a power of two */
    uint32_t count;                 /* STAT at login */
    size_t cap;
    char (*uid)[MS_STRESS_P3_UID + 1]; /* [msg - 1], "" unknown */
    uint64_t *size;                    /* [msg - 1], with have_size */
    uint8_t *have_size;
};
/* A session logged in and STAT said count. Returns 0, or -1 (memory). */
int ms_stress_p3_begin(struct ms_stress_p3view *v, uint32_t count);
void ms_stress_p3_free(struct ms_stress_p3view *v);
void ms_stress_p3_stat(struct ms_stress_p3view *v, uint32_t count);
void ms_stress_p3_size(struct ms_stress_p3view *v, uint64_t msg, uint64_t size);
void ms_stress_p3_uid(struct ms_stress_p3view *v, uint64_t msg, const char *uid, size_t n);
/* RETR msg gave a body (as sent, dot-stuffed) hashing to hash. */
void ms_stress_p3_body(struct ms_stress_p3view *v, uint64_t msg, uint64_t hash);

/* FNV-1a 64, for bodies and canonical BODYSTRUCTUREs. */
uint64_t ms_stress_hash(uint64_t h, const void *p, size_t n);

/* ---- SMTP stress: the messages and the delivery ledger (stress_mail.c) ---- */

/* The message of (session, serial), CRLF lines, not dot-stuffed: its first
 * line is "X-Mailspec-Stress: <run id> <session> <serial>", a full header
 * follows (Date, From, To, Message-ID: nothing an MTA adds when missing),
 * then printable ASCII lines of up to 998 octets and lines that try
 * transparency (RFC 5321 4.5.2). The same arguments give the same bytes.
 * Returns the length, or 0 if cap is too small. */
size_t ms_stress_mail_make(uint64_t seed, const char *run_id, const char *from, const char *rcpt,
                           unsigned session, uint64_t serial, char *out, size_t cap);
/* The DATA form: dot-stuffed, ended by ".\r\n". 0 if cap is too small. */
size_t ms_stress_mail_stuff(const char *msg, size_t n, char *out, size_t cap);

enum ms_stress_mail_kind { MS_MAIL_NOT_OURS = 0, MS_MAIL_COPY, MS_MAIL_BOUNCE };
struct ms_stress_mail_found {
    enum ms_stress_mail_kind kind;
    unsigned session;
    uint64_t serial;
    size_t start;      /* where the message as sent begins (COPY) */
    int prefix_fields; /* everything before start is header fields */
    int has_received;  /* ... and a Received: field is among them */
};
/* Recognise a stored message: a copy of one of run_id's messages (its tag
 * line in the top-level header), a notification quoting one (the tag line
 * further in), or neither. Returns 0. */
int ms_stress_mail_find(const char *run_id, const char *m, size_t n,
                        struct ms_stress_mail_found *f);
/* The first offset where got differs from want, or (size_t)-1 if equal. */
size_t ms_stress_mail_diff(const char *want, size_t wn, const char *got, size_t gn);

/* What happened to each serial number: a byte each in a table of fixed
 * size (memory does not grow with the run). */
struct ms_stress_ledger {
    uint8_t *st;
    uint64_t cap, next;
    uint64_t accepted, seen, bounced, duplicates;
    uint64_t missing; /* accepted messages neither delivered nor bounced yet */
};
enum ms_stress_arrival {
    MS_ARRIVED_FIRST,        /* a copy of an accepted message, or a notification */
    MS_ARRIVED_AGAIN,        /* a second copy */
    MS_ARRIVED_NOT_ACCEPTED, /* a copy of a message whose DATA was refused or unanswered */
    MS_ARRIVED_UNKNOWN,      /* a serial never handed out */
};
int ms_stress_ledger_init(struct ms_stress_ledger *l, uint64_t cap);
void ms_stress_ledger_free(struct ms_stress_ledger *l);
/* A new serial, or UINT64_MAX when the table is full. */
uint64_t ms_stress_ledger_next(struct ms_stress_ledger *l);
/* DATA of serial ended: ok, accepted (250); else refused or unanswered. */
void ms_stress_ledger_accepted(struct ms_stress_ledger *l, uint64_t serial, int ok);
enum ms_stress_arrival ms_stress_ledger_arrived(struct ms_stress_ledger *l, uint64_t serial,
                                                int bounce);
/* The next serial from `from` on that is accepted and neither delivered nor
 * bounced (counted in l->missing), marked reported; UINT64_MAX: none. */
uint64_t ms_stress_ledger_undelivered(struct ms_stress_ledger *l, uint64_t from);
#define MS_STRESS_HASH_INIT 0xcbf29ce484222325ull

/* ---- reproducers (stress_repro.c) ---- */

/* Why an inconsistency of kind k (IMAP when imap) has no reproducer, or NULL
 * when ms_stress_repro builds one. */
const char *ms_stress_repro_why_not(enum ms_stress_kind k, int imap);
/* The reproducer of kind k as .session text in out[0..cap), NUL-terminated:
 * one session on a new mailbox under prefix (the run's: "", "INBOX.", ...),
 * APPEND with LITERAL+ when literal_plus. Returns its length, or 0 (no
 * reproducer for k, a prefix that cannot be quoted, cap too small). */
size_t ms_stress_repro(enum ms_stress_kind k, const char *prefix, int literal_plus, char *out,
                       size_t cap);

#endif
