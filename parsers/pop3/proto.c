/* POP3: the protocol description, session hooks and shared helpers. */
#include <string.h>

#include "pop3_int.h"

static const char *const cmd_names[MS_POP3_CMD_COUNT] = {
    [MS_POP3_NONE] = "",
    [MS_POP3_USER] = "USER",
    [MS_POP3_PASS] = "PASS",
    [MS_POP3_APOP] = "APOP",
    [MS_POP3_STAT] = "STAT",
    [MS_POP3_LIST] = "LIST",
    [MS_POP3_RETR] = "RETR",
    [MS_POP3_DELE] = "DELE",
    [MS_POP3_NOOP] = "NOOP",
    [MS_POP3_RSET] = "RSET",
    [MS_POP3_QUIT] = "QUIT",
    [MS_POP3_TOP] = "TOP",
    [MS_POP3_UIDL] = "UIDL",
    [MS_POP3_CAPA] = "CAPA",
    [MS_POP3_STLS] = "STLS",
    [MS_POP3_AUTH] = "AUTH",
    [MS_POP3_UTF8] = "UTF8",
    [MS_POP3_LANG] = "LANG",
    [MS_POP3_SASL_RESPONSE] = "sasl-response",
    [MS_POP3_SASL_CANCEL] = "sasl-cancel",
};

const char *ms_pop3_cmd_name(enum ms_pop3_cmd cmd)
{
    if ((unsigned)cmd >= MS_POP3_CMD_COUNT)
        return "";
    return cmd_names[cmd];
}

int ms_pop3_base64_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;

    /* RFC 5034 6: base64 = base64-terminal / (1*(4base64-char) [base64-terminal]);
     * i.e. groups of four, "=" only as padding of the last group. */
    if (n % 4 != 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (ms_is(p[i], MS_C_BASE64))
            continue;
        if (p[i] != '=' || i + 2 < n)
            return 0;
        /* "=" may be the last byte, or the last two ("xx=="). */
        if (i == n - 2 && p[n - 1] != '=')
            return 0;
        if (i % 4 < 2)
            return 0;
    }
    return 1;
}

ssize_t ms_pop3_line(const struct ms_limits *lim, const char *buf, size_t len, size_t max,
                     size_t *tl, struct ms_quirks *q, size_t base, struct ms_error *err,
                     const char *rule)
{
    size_t hard = max;
    int bare = 0;

    if (lim->lenient & MS_LENIENT_LONG_LINES)
        hard = max > SIZE_MAX / 16 ? SIZE_MAX : max * 16;
    ssize_t n = ms_line_find(buf, len, hard, lim->lenient, tl, &bare, err, rule);
    if (n <= 0)
        return n;
    if ((size_t)n > max)
        ms_quirk_add(q, base + max, rule, "line longer than the limit");
    if (bare)
        ms_quirk_add(q, base + *tl, rule, "bare LF: lines end with CRLF");
    return n;
}

void ms_pop3_commands_expect_sasl(struct ms_pop3_command_state *st, int on)
{
    if (!on)
        st->sasl = 0;
    else if (!st->sasl)
        st->sasl = 1;
}

void ms_pop3_replies_expect(struct ms_pop3_reply_state *st, enum ms_pop3_cmd cmd, int has_arg)
{
    if (cmd <= MS_POP3_NONE || cmd > MS_POP3_LANG)
        return;
    if (st->count >= MS_POP3_PENDING_MAX) {
        /* Documented: the reply to a command beyond the queue is framed as a
         * reply to no command (single-line). */
        if (st->lost < UINT32_MAX)
            st->lost++;
        return;
    }
    st->pending[(st->head + st->count) % MS_POP3_PENDING_MAX] =
        (uint8_t)((unsigned)cmd | (has_arg ? 0x80u : 0u));
    st->count++;
}

void ms_pop3_replies_skip_greeting(struct ms_pop3_reply_state *st)
{
    st->greeting_done = 1;
}

static void command_seen(void *reply_state, const void *command_view)
{
    const struct ms_pop3_command *c = command_view;
    ms_pop3_replies_expect(reply_state, c->cmd, c->nargs > 0);
}

static void reply_seen(void *command_state, const void *reply_view)
{
    const struct ms_pop3_reply *r = reply_view;
    struct ms_pop3_command_state *cs = command_state;

    /* RFC 5034 4: a continuation asks for one more client line; the final
     * +OK/-ERR to AUTH ends the exchange. */
    if (r->type == MS_POP3_R_CONTINUE)
        ms_pop3_commands_expect_sasl(cs, 1);
    else if (r->type == MS_POP3_R_STATUS && r->answers == MS_POP3_AUTH)
        ms_pop3_commands_expect_sasl(cs, 0);
    if (r->type == MS_POP3_R_STATUS && r->answers == MS_POP3_UTF8 && r->ok)
        cs->utf8 = 1;
}

const struct ms_proto ms_pop3_proto = {
    .name = "pop3",
    .commands = &ms_pop3_commands_kind,
    .replies = &ms_pop3_replies_kind,
    .command_seen = command_seen,
    .reply_seen = reply_seen,
};
