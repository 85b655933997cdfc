/*
 * Unit-test harness shared by every parser test (cmocka).
 *
 * ms_check() runs one input through a kind's stream parser at once, split at
 * every byte position, and byte by byte, each chunk placed against a
 * PROT_NONE guard page so any read past the given bytes crashes. Every run
 * must report the same messages, errors and offsets; the rendering of the
 * whole run is returned for the test to compare with what it expects.
 * Inputs without errors are also written back with kind->write and parsed
 * again: the views must be the same (parse/write/parse round trip).
 */
#ifndef MS_TEST_HARNESS_H
#define MS_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mailspec/mailspec.h"

/* A copy of data[0..len) whose last byte sits just before a PROT_NONE page. */
const char *ms_guarded(const char *data, size_t len);

/*
 * Render of a run: one line per message or error:
 *   "<offset>+<length> <json>\n"   or   "<offset> ERR <erroffset> <rule>: <reason>\n"
 * Returned pointer is valid until the next ms_check call.
 */
const char *ms_check(const struct ms_kind *k, const struct ms_limits *lim, const char *in,
                     size_t len);

/* Convenience: ms_check with default limits (and lenient flags). */
const char *ms_check_str(const struct ms_kind *k, uint32_t lenient, const char *in);

/* Number of messages / errors seen by the last ms_check whole run. */
extern size_t ms_last_messages, ms_last_errors;

/* Assert that haystack contains needle (with a readable failure). */
#define ms_assert_has(hay, needle)   ms_assert_has_((hay), (needle), __FILE__, __LINE__)
#define ms_assert_lacks(hay, needle) ms_assert_lacks_((hay), (needle), __FILE__, __LINE__)
void ms_assert_has_(const char *hay, const char *needle, const char *file, int line);
void ms_assert_lacks_(const char *hay, const char *needle, const char *file, int line);

/*
 * The codes of a run's errors (enum ms_errcode), in order, as their names
 * separated by one space ("syntax limit truncated"; "" without errors). The
 * input is run whole, split at every byte position, and byte by byte: every
 * run must give the same codes, and no error may have MS_ERR_NONE.
 */
const char *ms_check_codes(const struct ms_kind *k, const struct ms_limits *lim, const char *in,
                           size_t len);
/* ms_check_codes with default limits (and lenient flags). */
const char *ms_check_codes_str(const struct ms_kind *k, uint32_t lenient, const char *in);

/* Run a .session transcript; render lines are prefixed "C " or "S ". */
const char *ms_check_session(const struct ms_proto *p, const struct ms_limits *lim,
                             const char *transcript);

/* The codes of a transcript's errors, each prefixed "C:" or "S:" ("S:limit"). */
const char *ms_check_session_codes(const struct ms_proto *p, const struct ms_limits *lim,
                                   const char *transcript);

#endif
