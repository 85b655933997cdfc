/*
 * libFuzzer target: the IMAP framer (ms_imap_frame), both sides. The first
 * input byte selects the lenient flags (ms_fuzz_lenient, fuzz/check.h), the
 * rest is the byte stream.
 *
 * Properties, with abort() on violation:
 *  - stream level: framing through the stream driver gives the same frames
 *    and errors in every chunking (ms_fuzz_kind over a "frames" kind), for
 *    the stateless ms_imap_frame and the resumable ms_imap_frame_resume;
 *  - prefix level: for the first message of the input, every prefix of it is
 *    either MS_PARTIAL or the very same result (same length, or same error
 *    offset and reason); a complete message is never reported before all of
 *    its bytes are there. Prefixes are exact-size heap copies, so ASan catches
 *    any read past the given length.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "frame_kinds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ssize_t frame_copy(const struct ms_limits *lim, enum ms_imap_side side, const uint8_t *d,
                          size_t n, struct ms_error *err)
{
    char *copy = malloc(n ? n : 1);
    if (!copy)
        abort();
    memcpy(copy, d, n);
    ssize_t r = ms_imap_frame(lim, side, copy, n, err);
    free(copy);
    return r;
}

static void check_prefixes(const struct ms_limits *lim, enum ms_imap_side side, const uint8_t *data,
                           size_t size)
{
    struct ms_error whole = {0};
    ssize_t r = frame_copy(lim, side, data, size, &whole);
    size_t step = size > 256 ? size / 64 + 1 : 1;

    for (size_t k = 0; k < size; k += step) {
        struct ms_error e = {0};
        ssize_t p = frame_copy(lim, side, data, k, &e);
        if (p == MS_PARTIAL)
            continue;
        if (p != r)
            abort(); /* a prefix decided differently from the whole */
        if (p > 0 && (size_t)p > k)
            abort(); /* a message longer than the bytes given */
        if (p == MS_FAIL && (e.offset != whole.offset || e.reason != whole.reason))
            abort();
    }
    /* exactly the message's bytes: the same length */
    if (r > 0) {
        struct ms_error e = {0};
        if (frame_copy(lim, side, data, (size_t)r, &e) != r)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ms_limits lim;

    if (size == 0)
        return 0;
    /* the limits and lenient flags ms_fuzz_kind takes from data[0] */
    ms_fuzz_limits(&lim, data[0]);
    check_prefixes(&lim, MS_IMAP_SERVER, data + 1, size - 1);
    check_prefixes(&lim, MS_IMAP_CLIENT, data + 1, size - 1);
    ms_fuzz_kind(&ms_imap_server_frames, data, size);
    ms_fuzz_kind(&ms_imap_client_frames, data, size);
    ms_fuzz_kind(&ms_imap_server_frames_r, data, size);
    ms_fuzz_kind(&ms_imap_client_frames_r, data, size);
    return 0;
}
