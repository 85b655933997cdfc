/*
 * Property checks shared by the fuzz targets and the unit tests: run a kind's
 * stream parser over an input in several chunkings and compare the rendered
 * results (split invariance), then write every view back and parse again
 * (parse/write/parse round trip).
 */
#ifndef MS_FUZZ_CHECK_H
#define MS_FUZZ_CHECK_H

#include <stddef.h>

#include "mailspec/mailspec.h"

struct ms_run {
    char *text; /* one line per message/error, NUL-terminated */
    size_t len, cap;
    size_t messages, errors;
    int with_offsets;
    int collect;   /* write every view back into written */
    int writable;  /* every view could be written */
    char *written; /* the written views, concatenated */
    size_t wlen, wcap;
    const char *prefix;
};

/* Where chunks are placed before feeding (e.g. against a guard page). */
typedef const char *(*ms_place_fn)(const char *data, size_t len);

/* Feed in[0..len) split at cuts[0..ncuts) (ascending, within (0, len)). */
void ms_run_kind(const struct ms_kind *k, const struct ms_limits *lim, const char *in, size_t len,
                 const size_t *cuts, size_t ncuts, ms_place_fn place, char *sbuf, size_t scap,
                 struct ms_run *out);
void ms_run_free(struct ms_run *r);

/* Append one message or error line to a run (used by session rendering). */
void ms_run_render(struct ms_run *r, const struct ms_kind *k, const void *view,
                   const struct ms_error *err, uint64_t offset, uint64_t length);

/*
 * Check an input: whole; split at every position (every_split) or at a few
 * positions derived from the input; byte by byte (when every_split or the
 * input is short); then the round trip. Returns NULL when every property
 * holds, else a malloc'd description of the first violation. *whole receives
 * the whole run (free with ms_run_free).
 */
char *ms_check_kind(const struct ms_kind *k, const struct ms_limits *lim, const char *in,
                    size_t len, int every_split, ms_place_fn place, char *sbuf, size_t scap,
                    struct ms_run *whole);

/*
 * The lenient flags a fuzz input asks for (llhttp's fuzzer habit, so the
 * lenient paths are fuzzed as well as the strict ones): bit i of the
 * selector byte turns on the i-th flag of ms_lenient_help (0 bare-lf,
 * 1 keyword-case, 2 spaces, 3 8bit, 4 long-lines, 5 imap-unknown,
 * 6 ehlo-line; bit 7 the eighth flag, when one is added). 0 is strict.
 */
uint32_t ms_fuzz_lenient(uint8_t selector);
/* The fuzzers' limits: small, so short inputs reach them; lenient from selector. */
void ms_fuzz_limits(struct ms_limits *lim, uint8_t selector);

/* A session emit callback that renders into the ms_run ctx, each line
 * prefixed "C " or "S " by direction (for ms_session_init). */
void ms_run_session_emit(void *ctx, int is_server, size_t line, const struct ms_kind *k,
                         const void *view, const struct ms_error *err, uint64_t offset,
                         uint64_t length);

/*
 * libFuzzer entry helper: data[0] selects the lenient flags
 * (ms_fuzz_lenient), data[1..size) is the stream, checked with the fuzzers'
 * limits; abort() on violation. An empty input is skipped.
 */
int ms_fuzz_kind(const struct ms_kind *k, const uint8_t *data, size_t size);

#endif
