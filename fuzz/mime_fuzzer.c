/*
 * libFuzzer target: the MIME walker (parsers/common/mime.c) that certify's
 * MIME oracle runs over the messages it appends (docs/mime-oracle.md). The
 * input is one whole message.
 *
 * Properties, with abort() on violation (besides ASan/UBSan):
 *  - a non-empty message always walks (MS_OK), an empty one never does;
 *  - every entity's ranges lie inside the message, header and body tile the
 *    entity (hdr_len + body_len = len, body after header);
 *  - parts nest: a child lies inside its parent's body, siblings in order
 *    without overlap, nchildren counts the child list, parents come first;
 *    an ENCAP is exactly its message/rfc822 part's body;
 *  - the counts hold: lines = the body's LFs, lines_open - lines is 0 or 1;
 *    at most MS_MIME_MAX_ENTITIES entities, depth at most MS_MIME_MAX_DEPTH;
 *  - section numbers: a PART's is its parent's base "." its position;
 *  - walking twice gives the same entities (no hidden state);
 *  - the field reader and the decoders stay inside their inputs and caps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailspec/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ms_mime m1, m2;

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static void check_entity(const char *msg, size_t size, uint32_t i)
{
    const struct ms_mime_entity *e = &m1.e[i];
    CHECK(e->off <= size && e->len <= size - e->off);
    CHECK(e->hdr_off == e->off && e->hdr_len + e->body_len == e->len);
    CHECK(e->body_off == e->off + e->hdr_len);
    CHECK(e->depth <= MS_MIME_MAX_DEPTH);
    CHECK(e->nparams <= MS_MIME_MAX_PARAMS);
    uint64_t lf = 0;
    for (size_t k = 0; k < e->body_len; k++)
        lf += msg[e->body_off + k] == '\n';
    CHECK(e->lines == lf && (e->lines_open == lf || e->lines_open == lf + 1));
    CHECK(memchr(e->section, '\0', sizeof(e->section)) != NULL);
    CHECK(e->type.len > 0 && e->subtype.len > 0);
    if (i == 0)
        CHECK(e->role == MS_MIME_ROOT && e->parent == 0 && e->off == 0 && e->len == size);
    else
        CHECK(e->parent >= 1 && e->parent - 1 < i);
    uint32_t count = 0;
    size_t end = e->body_off;
    for (uint32_t c = e->child; c; c = m1.e[c - 1].next) {
        const struct ms_mime_entity *ch = &m1.e[c - 1];
        CHECK(c - 1 > i && c <= m1.n && ch->parent == i + 1 && ch->depth == e->depth + 1);
        CHECK(ch->off >= end && ch->off + ch->len <= e->body_off + e->body_len);
        end = ch->off + ch->len;
        CHECK(++count <= MS_MIME_MAX_ENTITIES);
        if (ch->role == MS_MIME_ENCAP)
            CHECK(e->message && ch->off == e->body_off && ch->len == e->body_len);
        if (ch->role == MS_MIME_PART && ch->section[0]) {
            const char *base = e->role == MS_MIME_PART ? e->section : e->msg_section;
            size_t bl = strlen(base);
            CHECK(strncmp(ch->section, base, bl) == 0);
            CHECK(bl == 0 || ch->section[bl] == '.');
            char want[16];
            size_t k = 0;
            uint32_t v = count;
            char rev[16];
            do
                rev[k++] = (char)('0' + v % 10);
            while ((v /= 10) != 0);
            for (size_t j = 0; j < k; j++)
                want[j] = rev[k - 1 - j];
            want[k] = '\0';
            CHECK(strcmp(ch->section + bl + (bl > 0), want) == 0);
        }
    }
    CHECK(count == e->nchildren);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *msg = (const char *)data;
    struct ms_error err;
    enum ms_status st = ms_mime_walk(msg, size, &m1, &err);
    if (size == 0) {
        CHECK(st == MS_FAIL);
        return 0;
    }
    CHECK(st == MS_OK && m1.n >= 1 && m1.n <= MS_MIME_MAX_ENTITIES);
    for (uint32_t i = 0; i < m1.n; i++)
        check_entity(msg, size, i);
    CHECK(ms_mime_walk(msg, size, &m2, &err) == MS_OK && m2.n == m1.n);
    for (uint32_t i = 0; i < m1.n; i++)
        CHECK(m1.e[i].off == m2.e[i].off && m1.e[i].len == m2.e[i].len &&
              strcmp(m1.e[i].section, m2.e[i].section) == 0);
    /* the field reader, unfolding and the decoders over the root's header */
    const struct ms_mime_entity *r = &m1.e[0];
    size_t pos = 0, fields = 0;
    struct ms_slice name, line, value;
    char out[256];
    while (ms_mime_next_field(msg + r->hdr_off, r->hdr_len, &pos, &name, &line, &value)) {
        CHECK(line.ptr >= msg && line.ptr + line.len <= msg + r->hdr_off + r->hdr_len);
        CHECK(value.ptr >= line.ptr && value.ptr + value.len <= line.ptr + line.len);
        CHECK(name.ptr == line.ptr && name.len > 0 && name.len < line.len);
        CHECK(ms_mime_unfold(value, out, sizeof(out)) <= sizeof(out));
        CHECK(++fields <= r->hdr_len);
    }
    CHECK(ms_mime_qp_decode(msg, size, out, sizeof(out)) <= sizeof(out));
    CHECK(ms_mime_unquote((struct ms_slice){msg, size}, out, sizeof(out)) <= sizeof(out));
    return 0;
}
