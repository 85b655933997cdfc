/* IMAP: the protocol description (commands from imap/command*.c, replies from response*.c). */
#include "mailspec/imap.h"

/* A tagged reply ends the AUTHENTICATE or IDLE exchange it answers
 * (the command side otherwise has to guess; docs/imap-commands.md). */
static void imap_reply_seen(void *command_state, const void *reply_view)
{
    const struct ms_imap_response *r = reply_view;

    if (r->kind == MS_IMAP_TAGGED)
        ms_imap_command_tagged_reply(command_state, r->tag.ptr, r->tag.len);
}

const struct ms_proto ms_imap_proto = {
    "imap", &ms_imap_commands_kind, &ms_imap_replies_kind, NULL, imap_reply_seen,
};
