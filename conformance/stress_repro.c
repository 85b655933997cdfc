/*
 * Reproducers for stress inconsistencies (docs/stress.md, "Reproducers").
 *
 * An inconsistency comes out of many sessions racing on one mailbox; most
 * kinds need that race and no script of one order of commands replays it.
 * Where the model's report names a sequence one session can run alone, the
 * reproducer is that sequence, the shortest that shows the broken rule, as
 * a .session for `mailspec replay`. stress runs it once against the server
 * and says whether it reproduces: a reproducer is a hypothesis about the
 * cause, and only the server's answer makes it one.
 */
#include <stdio.h>
#include <string.h>

#include "stress.h"

const char *ms_stress_repro_why_not(enum ms_stress_kind k, int imap)
{
    if (!imap)
        return "only IMAP inconsistencies have reproducers";
    switch (k) {
    case MS_SK_UID_REUSED:
        return NULL;
    case MS_SK_SYNTAX:
        return "the response depends on the mailbox's contents and history in the run, which "
               "the run deletes";
    default:
        return "the inconsistency needs sessions racing on one mailbox; a script replays one "
               "order of commands";
    }
}

/* APPEND of a 20-octet message to mailbox mb under tag, as .session lines. */
static int append_lines(char *out, size_t cap, const char *tag, const char *mb, int literal_plus,
                        const char *expect)
{
    return snprintf(out, cap,
                    "C: %s APPEND \"%s\" {20%s}\n"
                    "%s"
                    "C: Subject: x\n"
                    "C: \n"
                    "C: body\n"
                    "C: \n"
                    "S: %s OK%s\n",
                    tag, mb, literal_plus ? "+" : "", literal_plus ? "" : "S: + ${*}\n", tag,
                    expect);
}

size_t ms_stress_repro(enum ms_stress_kind k, const char *prefix, int literal_plus, char *out,
                       size_t cap)
{
    char mb[300], a1[600], a2[600];
    /* one answer to "which kinds have one": ms_stress_repro_why_not */
    if (ms_stress_repro_why_not(k, 1) || !prefix || !out || cap == 0)
        return 0;
    /* the prefix is the stress run's (Cyrus: INBOX.), ${run} makes the name new per replay */
    if ((size_t)snprintf(mb, sizeof(mb), "%smailspec-${run}-repro-uid", prefix) >= sizeof(mb) ||
        strpbrk(prefix, "\"\\\r\n"))
        return 0;
    if (append_lines(a1, sizeof(a1), "R4", mb, literal_plus,
                     " [APPENDUID ${uidvalidity} ${uid1}]${*}") >= (int)sizeof(a1) ||
        append_lines(a2, sizeof(a2), "R7", mb, literal_plus,
                     " [APPENDUID ${uidvalidity} ${*}]${*}") >= (int)sizeof(a2))
        return 0;
    int n = snprintf(
        out, cap,
        "@test stress.repro.uid-reused\n"
        "@title A message appended after the only one was expunged does not get its UID again\n"
        "@rfc 9051 2.3.1.1\n"
        "@quote A UID is an unsigned non-zero 32-bit value assigned to each message, which when "
        "used with the unique identifier validity value (see below) forms a 64-bit value that "
        "MUST NOT refer to any other message in the mailbox or any subsequent mailbox with the "
        "same name forever.\n"
        "@level MUST\n"
        "@finding a message appended after the mailbox's only message was expunged got that "
        "message's UID again\n"
        "@protocol imap\n"
        "# Written by mailspec stress for an inconsistency of kind uid-reused (an APPEND got\n"
        "# an [APPENDUID] UID that an earlier APPEND got). One session: APPEND, expunge it,\n"
        "# APPEND again; the new message must not get the first one's UID. Both APPENDs\n"
        "# must give the same UIDVALIDITY (with a new one a UID may be used again): the\n"
        "# second is a setup step, so a new UIDVALIDITY leaves the test blocked, not failed.\n"
        "@phase setup\n"
        "S: * OK ${*}\n"
        "@allow * ${*}\n"
        "C: R1 LOGIN \"${user}\" \"${password}\"\n"
        "S: R1 OK${*}\n"
        "C: R2 CREATE \"%s\"\n"
        "S: R2 OK${*}\n"
        "C: R3 SELECT \"%s\"\n"
        "S: R3 OK${*}\n"
        "%s"
        "C: R5 UID STORE ${uid1} +FLAGS (\\\\Deleted)\n"
        "S: R5 OK${*}\n"
        "C: R6 EXPUNGE\n"
        "S: R6 OK${*}\n"
        "%s"
        "@phase check\n"
        "@forbid * ${*} FETCH (UID ${uid1})\n"
        "@forbid * ${*} FETCH (UID ${uid1} ${*}\n"
        "C: R8 UID FETCH 1:* (UID)\n"
        "S: R8 OK${*}\n"
        "@phase cleanup\n"
        "C: R9 CLOSE\n"
        "S: R9 ${*}\n"
        "C: R10 DELETE \"%s\"\n"
        "S: R10 ${*}\n"
        "C: R11 LOGOUT\n"
        "S: R11 ${*}\n",
        mb, mb, a1, a2, mb);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}
