/*
 * The IMAP framer seen as stream kinds whose messages are its frames, so the
 * shared checks (fuzz/check.c) can split them: one kind per side, for the
 * stateless ms_imap_frame and for the resumable ms_imap_frame_resume. Used by
 * imap_framer_fuzzer and tests/unit/test_imap_framer.c.
 */
#ifndef MS_FUZZ_FRAME_KINDS_H
#define MS_FUZZ_FRAME_KINDS_H

#include "mailspec/mailspec.h"

extern const struct ms_kind ms_imap_server_frames, ms_imap_server_frames_r;
extern const struct ms_kind ms_imap_client_frames, ms_imap_client_frames_r;

#endif
