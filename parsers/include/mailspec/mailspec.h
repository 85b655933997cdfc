/* libmailspec: hardened, zero-copy parsers for SMTP, POP3 and IMAP. */
#ifndef MAILSPEC_H
#define MAILSPEC_H

#include "common.h"
#include "stream.h"
#include "imap.h"
#include "pop3.h"
#include "smtp.h"

#define MAILSPEC_VERSION "0.1.0"

#endif
