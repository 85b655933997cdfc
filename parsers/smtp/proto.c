/* SMTP as a protocol: both directions and what each tells the other. */
#include "mailspec/smtp.h"

/* The next reply answers EHLO: type it strictly (RFC 5321 4.1.1.1). */
static void command_seen(void *reply_state, const void *command_view)
{
    struct ms_smtp_rstate *rs = reply_state;
    const struct ms_smtp_command *v = command_view;

    rs->expect_ehlo = v->type == MS_SMTP_T_COMMAND && v->verb == MS_SMTP_EHLO;
}

/* 354 or not after DATA; 334 or a final reply after AUTH (RFC 4954 4). */
static void reply_seen(void *command_state, const void *reply_view)
{
    const struct ms_smtp_reply *r = reply_view;

    ms_smtp_reply_answers(command_state, r->code, r->failed_before);
}

const struct ms_proto ms_smtp_proto = {
    "smtp", &ms_smtp_commands_kind, &ms_smtp_replies_kind, command_seen, reply_seen,
};
