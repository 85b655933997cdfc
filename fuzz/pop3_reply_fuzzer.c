/*
 * libFuzzer target: POP3 replies (server-to-client bytes). Whether a +OK opens
 * a multi-line response depends on the command it answers, so the first input
 * byte chooses the state the reply stream starts in:
 *   bit 7      the greeting is still to come (else it has been seen);
 *   bits 0-6   modulo 36: 0 no pending command, 1..17 the command
 *              MS_POP3_USER..MS_POP3_LANG without an argument, 18..34 with one
 *              (35 no command either).
 * The second byte selects the lenient flags (ms_fuzz_lenient, fuzz/check.h).
 * The rest is the reply stream, checked for split invariance and the
 * parse/write/parse round trip (fuzz/check.h); every run (whole, split, byte
 * by byte, written back) starts from the same state.
 */
#include <stdint.h>

#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t selector;
static struct ms_kind kind;

static void init_selected(void *state, const struct ms_limits *lim)
{
    unsigned c = (selector & 0x7Fu) % 36u;

    ms_pop3_replies_kind.init(state, lim);
    if (!(selector & 0x80u))
        ms_pop3_replies_skip_greeting(state);
    if (c >= 1 && c <= 17)
        ms_pop3_replies_expect(state, (enum ms_pop3_cmd)(MS_POP3_USER + (c - 1)), 0);
    else if (c >= 18 && c <= 34)
        ms_pop3_replies_expect(state, (enum ms_pop3_cmd)(MS_POP3_USER + (c - 18)), 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    selector = data[0];
    kind = ms_pop3_replies_kind;
    kind.init = init_selected;
    return ms_fuzz_kind(&kind, data + 1, size - 1);
}
