/*
 * libFuzzer target: POP3 commands (client-to-server bytes), checked for split
 * invariance and the parse/write/parse round trip (fuzz/check.h). The first
 * input byte selects the lenient flags (ms_fuzz_lenient).
 */
#include <stdint.h>

#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return ms_fuzz_kind(&ms_pop3_commands_kind, data, size);
}
