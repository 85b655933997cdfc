/*
 * The MIME walker: one whole Internet message (RFC 5322) split into its MIME
 * entities (RFC 2045, RFC 2046 multipart and message/rfc822), with what IMAP
 * derives from each (RFC 9051 6.4.5 section numbers, 7.5.2 body fields):
 * the byte ranges of HEADER, TEXT, MIME and the body, the body's size in
 * octets and lines, the Content-Type with its parameters. docs/mime-oracle.md.
 *
 * Bytes with a length, never a C string; zero-copy slices into the caller's
 * message; no allocation; bounded depth and number of entities; linear in
 * the message size times the nesting depth. Lenient where real messages are
 * (a bare LF ends a line too, a multipart without its close delimiter ends
 * with its body), and says so in the entity's flags.
 */
#ifndef MAILSPEC_MIME_H
#define MAILSPEC_MIME_H

#include "common.h"

#define MS_MIME_MAX_ENTITIES 128 /* entities in one message */
#define MS_MIME_MAX_DEPTH    16  /* nested multiparts and messages */
#define MS_MIME_MAX_PARAMS   16  /* Content-Type parameters kept per entity */
#define MS_MIME_MAX_SECTION  64  /* "1.2.3" as text, NUL included */

/* Where an entity stands (RFC 9051 6.4.5). */
enum ms_mime_role {
    MS_MIME_ROOT = 1, /* the message itself */
    MS_MIME_PART,     /* a body part of a multipart */
    MS_MIME_ENCAP,    /* the message inside a message/rfc822 part */
};

/* Entity flags: the deviations the walker accepted. */
enum {
    MS_MIME_F_NO_SEPARATOR = 1u << 0, /* no empty line: all header, empty body */
    MS_MIME_F_BARE_LF = 1u << 1,      /* a line ended in LF without CR */
    MS_MIME_F_NO_BOUNDARY = 1u << 2,  /* multipart without a boundary: a leaf */
    MS_MIME_F_NO_CLOSE = 1u << 3,     /* multipart without its close delimiter */
    MS_MIME_F_BAD_TYPE = 1u << 4,     /* Content-Type did not parse: the default */
    MS_MIME_F_TOO_DEEP = 1u << 5,     /* nesting or entity limit: children dropped */
    MS_MIME_F_PARAMS_CUT = 1u << 6,   /* more than MS_MIME_MAX_PARAMS parameters */
};

/* A Content-Type parameter: the name, the value as written (a quoted
 * string's bytes between the quotes, escapes kept: quoted = 1). */
struct ms_mime_param {
    struct ms_slice name, value;
    uint8_t quoted;
};

struct ms_mime_entity {
    uint8_t role;       /* enum ms_mime_role */
    uint8_t multipart;  /* Content-Type multipart/<any> with a boundary */
    uint8_t message;    /* Content-Type message/rfc822: the child is the ENCAP */
    uint8_t defaulted;  /* no (usable) Content-Type: the RFC 2045 5.2 / 2046 5.1.5 default */
    uint16_t depth;     /* 0 for the root */
    uint16_t flags;     /* MS_MIME_F_* */
    uint32_t parent;    /* index + 1 of the parent entity, 0 for the root */
    uint32_t nchildren; /* parts of a multipart; 1 (the ENCAP) for message/rfc822 */
    uint32_t child;     /* index + 1 of the first child, 0 if none */
    uint32_t next;      /* index + 1 of the next sibling, 0 if none */
    /* The IMAP part number ("1", "2.1"), "" where there is none (a multipart
     * root, a multipart inside message/rfc822). */
    char section[MS_MIME_MAX_SECTION];
    /* Root and ENCAP: the prefix of HEADER and TEXT ("" for the root, the
     * message/rfc822 part's number otherwise). */
    char msg_section[MS_MIME_MAX_SECTION];
    /* Byte ranges in the message: the entity (header and body), the header
     * with the empty line after it (HEADER, MIME), the body (TEXT, BODY[n]). */
    size_t off, len, hdr_off, hdr_len, body_off, body_len;
    /* Lines of the body: its line ends; lines_open adds a last line that has
     * none (RFC 9051 7.5.2 leaves which to count to the server). */
    uint64_t lines, lines_open;
    /* Content-Type (the default's words when defaulted) */
    struct ms_slice type, subtype;
    struct ms_mime_param params[MS_MIME_MAX_PARAMS];
    uint8_t nparams;
    struct ms_slice boundary; /* multipart: the boundary, decoded when it was unescaped */
};

struct ms_mime {
    struct ms_mime_entity e[MS_MIME_MAX_ENTITIES];
    uint32_t n;
};

/*
 * Walk msg[0..len) into m. Never fails on content (a message is whatever
 * bytes were sent; deviations are flags); returns MS_OK, or MS_FAIL when
 * len is 0 (err says so). The entities form a tree (child, next, parent):
 * the root is e[0], a parent comes before its children, siblings in order.
 */
MS_MUST_USE enum ms_status ms_mime_walk(const char *msg, size_t len, struct ms_mime *m,
                                        struct ms_error *err);

/*
 * The idx-th (from 0) field named name (case-insensitive, RFC 5322 1.2.2) in
 * the header hdr[0..n): the whole field lines, CRLF included (*line), and the
 * raw value after the colon up to its last line end (*value, folding kept).
 * Returns 1 found, 0 not.
 */
int ms_mime_field(const char *hdr, size_t n, const char *name, size_t name_len, size_t idx,
                  struct ms_slice *line, struct ms_slice *value);

/*
 * Iterate over the fields of hdr[0..n): *pos starts at 0; each call sets the
 * field's name, its whole lines and its value; returns 0 at the end.
 */
int ms_mime_next_field(const char *hdr, size_t n, size_t *pos, struct ms_slice *name,
                       struct ms_slice *line, struct ms_slice *value);

/*
 * Unfold a field value (RFC 5322 2.2.3: remove each CRLF before WSP), with
 * runs of SP/HTAB made one SP and the ends trimmed, into out[0..cap).
 * Returns the length (cut at cap).
 */
size_t ms_mime_unfold(struct ms_slice v, char *out, size_t cap);

/* The value of parameter name (case-insensitive) of entity e, 1 found. */
int ms_mime_param_get(const struct ms_mime_entity *e, const char *name, struct ms_slice *value,
                      int *quoted);

/* A quoted-string's content unescaped (RFC 5322 3.2.4 quoted-pair) into
 * out[0..cap); returns the length (cut at cap). */
size_t ms_mime_unquote(struct ms_slice v, char *out, size_t cap);

/*
 * Quoted-printable decoding (RFC 2045 6.7): "=XX", soft line breaks ("="
 * before a line end) removed, transport padding before a line end dropped.
 * A malformed "=" is kept as it is (RFC 2045 6.7 note (2)'s advice).
 * Returns the length written to out[0..cap) (cut at cap).
 */
size_t ms_mime_qp_decode(const char *p, size_t n, char *out, size_t cap);

#endif
