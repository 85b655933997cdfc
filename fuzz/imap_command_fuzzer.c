/*
 * libFuzzer target: IMAP client commands (client-to-server bytes: commands
 * with literals, SASL lines inside AUTHENTICATE, DONE inside IDLE), checked
 * for split invariance and the parse/write/parse round trip (fuzz/check.h).
 * The first input byte selects the lenient flags (ms_fuzz_lenient).
 */
#include <stdint.h>

#include "check.h"
#include "mailspec/imap_command.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return ms_fuzz_kind(&ms_imap_commands_kind, data, size);
}
