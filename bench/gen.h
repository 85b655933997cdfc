/*
 * Deterministic input generators for make bench: a seeded PRNG (splitmix64)
 * builds realistic protocol streams in memory, so nothing is committed and
 * every run parses the same bytes.
 */
#ifndef MAILSPEC_BENCH_GEN_H
#define MAILSPEC_BENCH_GEN_H

#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer (bench code only; the parsers never allocate). */
struct bbuf {
    char *p;
    size_t len;
    size_t cap;
};

void bbuf_free(struct bbuf *b);

/*
 * One POP3 server reply and the command it answers: cmd is the index of the
 * command in the matching command stream, or -1 for the greeting;
 * new_session marks the greeting of a new connection.
 */
struct pop3_exchange {
    int64_t cmd;
    int new_session;
    size_t off;
    size_t len;
};

/* IMAP server stream: UID FETCH (FLAGS ENVELOPE BODYSTRUCTURE ...) batches. */
void gen_imap_fetch_envelope(struct bbuf *out, size_t target, uint64_t seed);
/* IMAP server stream: FETCH n (UID n BODY[] {4096} ...) batches. */
void gen_imap_fetch_literal(struct bbuf *out, size_t target, uint64_t seed);
/* IMAP client stream: FETCH/UID FETCH/SEARCH/STORE/APPEND (literals). */
void gen_imap_commands(struct bbuf *out, size_t target, uint64_t seed);
/*
 * SMTP sessions of a busy MX. Either buffer may be NULL; generation stops
 * when the first non-NULL buffer reaches target bytes.
 */
void gen_smtp(struct bbuf *cmds, struct bbuf *replies, size_t target, uint64_t seed);
/*
 * POP3 sessions (USER/PASS/STAT/LIST/UIDL/RETR/QUIT); cmds is required. With
 * replies != NULL (and ex, nex), generation stops when replies reach target
 * and *ex lists every reply with the command it answers; with replies ==
 * NULL, when cmds reach target.
 */
void gen_pop3(struct bbuf *cmds, struct bbuf *replies, struct pop3_exchange **ex, size_t *nex,
              size_t target, uint64_t seed);

#endif
