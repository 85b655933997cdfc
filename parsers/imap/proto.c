/* IMAP: the protocol description (commands from imap/command*.c, replies from response*.c). */
#include "mailspec/imap.h"

const struct ms_proto ms_imap_proto = {
    "imap", &ms_imap_commands_kind, &ms_imap_replies_kind, NULL, NULL,
};
