/*
 * libFuzzer target: IMAP server responses (greeting, status responses with
 * codes, continuation requests, untagged data, FETCH with ENVELOPE,
 * BODYSTRUCTURE, sections and literals). Checked for split invariance and the
 * parse/write/parse round trip (fuzz/check.h).
 *
 * Inputs of even length run strict (ms_fuzz_kind's default limits); inputs of
 * odd length run with the lenient flags the parser honours (spaces, 8bit,
 * imap-unknown), so the quirk paths and the raw writer are fuzzed too. The
 * choice depends only on the input: the target stays deterministic.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_lenient(const uint8_t *data, size_t size)
{
    static char *sbuf;
    static size_t scap;
    struct ms_limits lim;
    struct ms_run whole;

    ms_limits_default(&lim);
    lim.imap_literal = 4096;
    lim.imap_message = 65536;
    lim.imap_line = 8192;
    lim.lenient = MS_LENIENT_SPACES | MS_LENIENT_8BIT | MS_LENIENT_IMAP_UNKNOWN;
    if (!sbuf) {
        scap = ms_stream_buffer_size(&lim);
        sbuf = malloc(scap);
        if (!sbuf)
            abort();
    }
    char *msg = ms_check_kind(&ms_imap_replies_kind, &lim, (const char *)data, size, 0, NULL, sbuf,
                              scap, &whole);
    ms_run_free(&whole);
    if (msg) {
        fprintf(stderr, "property violated (lenient): %s\n", msg);
        free(msg);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size % 2)
        return fuzz_lenient(data, size);
    return ms_fuzz_kind(&ms_imap_replies_kind, data, size);
}
