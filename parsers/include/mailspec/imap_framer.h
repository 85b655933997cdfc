/*
 * IMAP message framing (RFC 9051 4.3, 7888 LITERAL+/LITERAL-, 3516 BINARY),
 * shared by the command and the response parsers.
 */
#ifndef MAILSPEC_IMAP_FRAMER_H
#define MAILSPEC_IMAP_FRAMER_H

#include "common.h"

enum ms_imap_side {
    MS_IMAP_SERVER = 0, /* server-to-client: {n} and ~{n} literals */
    MS_IMAP_CLIENT = 1, /* client-to-server: also {n+} and {n-} */
};

/*
 * Find the end of one complete IMAP message at buf[0..len): a CRLF line and,
 * for each literal announced at the end of a line ("{n}", "~{n}", and on the
 * client side "{n+}", "{n-}"), n bytes followed by the rest of the message,
 * up to the CRLF of a line that announces no literal. Literal bytes are
 * skipped, never copied or inspected.
 *
 * Returns the message's length including its final CRLF, MS_PARTIAL, or
 * MS_FAIL: a line longer than lim->imap_line (literals excluded), a literal
 * size above 2^32-1 (RFC 9051 number) or above lim->imap_literal, a message
 * longer than lim->imap_message, bare CR or bare LF outside literals.
 * The same message gives the same result whatever follows it.
 */
MS_MUST_USE ssize_t ms_imap_frame(const struct ms_limits *lim, enum ms_imap_side side,
                                  const char *buf, size_t len, struct ms_error *err);

/*
 * Resumable framing for stream parsers: the same result as ms_imap_frame,
 * but a call after MS_PARTIAL continues where the previous one stopped
 * instead of rescanning the message, so feeding a message in n chunks costs
 * O(message) and not O(n * message). Valid only while buf starts with the
 * same message and only grows (as the stream driver guarantees); start with
 * a zeroed state; the state is reset whenever the result is not MS_PARTIAL.
 */
struct ms_imap_frame_state {
    size_t line;    /* start of the first line not yet verified */
    size_t scanned; /* bytes from line on known to hold no LF */
};
MS_MUST_USE ssize_t ms_imap_frame_resume(const struct ms_limits *lim, enum ms_imap_side side,
                                         const char *buf, size_t len,
                                         struct ms_imap_frame_state *st, struct ms_error *err);

#endif
