/*
 * What the harness knows about each protocol apart from its grammar (which
 * is the parsers'), in one table: well-known ports, the STARTTLS exchange,
 * the greeting. Used by the runner's --tls starttls upgrade, the default
 * ports of every command, and certify's pre-flight and TLS-version probe.
 */
#ifndef MAILSPEC_PROTO_DESC_H
#define MAILSPEC_PROTO_DESC_H

struct ms_proto_desc {
    const char *name;            /* "smtp", "imap", "pop3" */
    const char *port, *tls_port; /* well-known ports: plain, implicit TLS */
    const char *pre, *pre_ok;    /* a command needed before STARTTLS (SMTP EHLO), its reply */
    const char *starttls;        /* the upgrade command line */
    const char *starttls_answer; /* prefix of the message that answers it (IMAP: the tag) */
    const char *starttls_ok;     /* prefix of a go-ahead */
    const char *starttls_cap;    /* the capability that announces it */
    const char *greeting;        /* a session script pattern of the greeting */
};

/* The descriptor of protocol name, or NULL. */
const struct ms_proto_desc *ms_proto_desc(const char *name);

#endif
