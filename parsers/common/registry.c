/* The protocols libmailspec knows, for the CLI, tests and fuzzers. */
#include <string.h>

#include "mailspec/stream.h"

/*
 * Each protocol directory defines one struct ms_proto (parsers/<p>/proto.c)
 * and adds one line here.
 */

extern const struct ms_proto ms_imap_proto;
extern const struct ms_proto ms_pop3_proto;
extern const struct ms_proto ms_smtp_proto;
static const struct ms_proto *const protos[] = {
    &ms_imap_proto,
    &ms_pop3_proto,
    &ms_smtp_proto,
    NULL,
};

const struct ms_proto *const *ms_protos(void)
{
    return protos;
}

const struct ms_proto *ms_proto_find(const char *name)
{
    for (size_t i = 0; protos[i]; i++)
        if (strcmp(protos[i]->name, name) == 0)
            return protos[i];
    return NULL;
}
