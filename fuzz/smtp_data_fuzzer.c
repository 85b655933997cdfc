/*
 * libFuzzer target: the SMTP command stream starting inside DATA
 * content (dot-stuffing, bare CR/LF, end-of-data smuggling sequences).
 * The first input byte selects the lenient flags (ms_fuzz_lenient).
 * Checked for split invariance and the parse/write/parse round trip
 * (fuzz/check.h).
 */
#include <stdint.h>

#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return ms_fuzz_kind(&ms_smtp_data_kind, data, size);
}
