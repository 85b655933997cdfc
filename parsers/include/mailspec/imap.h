/* IMAP: framer, server responses and client commands (umbrella header). */
#ifndef MAILSPEC_IMAP_H
#define MAILSPEC_IMAP_H

#include "imap_framer.h"
#include "imap_response.h"
#include "imap_command.h"

#endif
