/* The protocols' descriptors (proto_desc.h). */
#include <string.h>

#include "proto_desc.h"

static const struct ms_proto_desc descs[] = {
    /* RFC 5321 4.5.4 / RFC 8314 3.3 (465); RFC 3207 4: EHLO first, then STARTTLS, 220 */
    {"smtp", "25", "465", "EHLO mailspec.invalid", "250", "STARTTLS", "", "220", "STARTTLS",
     "220 ${*}"},
    /* RFC 9051 6.2.1: tagged STARTTLS, OK; 993 (RFC 8314 3.3) */
    {"imap", "143", "993", NULL, NULL, "mstls STARTTLS", "mstls ", "mstls OK", "STARTTLS",
     "* ${*}"},
    /* RFC 2595 4: STLS, +OK; 995 */
    {"pop3", "110", "995", NULL, NULL, "STLS", "", "+OK", "STLS", "+OK${*}"},
};

const struct ms_proto_desc *ms_proto_desc(const char *name)
{
    for (size_t i = 0; name && i < sizeof(descs) / sizeof(descs[0]); i++)
        if (strcmp(descs[i].name, name) == 0)
            return &descs[i];
    return NULL;
}
