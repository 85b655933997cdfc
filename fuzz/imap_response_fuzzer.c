/*
 * libFuzzer target: IMAP server responses (greeting, status responses with
 * codes, continuation requests, untagged data, FETCH with ENVELOPE,
 * BODYSTRUCTURE, sections and literals). The first input byte selects the
 * lenient flags (ms_fuzz_lenient, fuzz/check.h: spaces, 8bit, imap-unknown
 * reach the quirk paths and the raw writer), the rest is the response
 * stream, checked for split invariance and the parse/write/parse round trip
 * (fuzz/check.h).
 */
#include <stdint.h>

#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return ms_fuzz_kind(&ms_imap_replies_kind, data, size);
}
