/*
 * Fuzz target: the session layer (parsers/common/stream.c ms_session_*, the
 * transcript reader and every protocol's proto.c hooks), where the two
 * directions tell each other what they saw: SMTP's switch into and out of
 * DATA/BDAT/AUTH driven by the server's replies, the strict EHLO-reply check,
 * POP3 multi-line framing from the command sent, IMAP continuations.
 *
 * Input: data[0] the lenient flags (ms_fuzz_lenient), data[1] the protocol
 * (low two bits: smtp, pop3, imap, imap) and the mode (bit 7):
 *  - mode 0, records: the rest is records, each a header byte (bit 7: the
 *    server's direction; bits 0-6: length - 1) and that many bytes, fed in
 *    order, so the directions interleave at any byte;
 *  - mode 1, transcript: the rest is a .session transcript, read with
 *    ms_transcript_next and fed item by item.
 * Properties (abort on violation): the same items fed again with every item
 * cut into pieces (single bytes, or pieces derived from the input) give the
 * same messages, errors and offsets; every error carries a code.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mailspec/mailspec.h"

struct item {
    int server;
    size_t line;
    const char *p;
    size_t n;
};

static struct item items[4096];
static size_t nitems;

static void add(int server, size_t line, const char *p, size_t n)
{
    if (nitems < sizeof(items) / sizeof(items[0]))
        items[nitems++] = (struct item){server, line, p, n};
}

/* Every error must carry a code: forward to the renderer after checking. */
static void emit(void *ctx, int is_server, size_t line, const struct ms_kind *k, const void *view,
                 const struct ms_error *err, uint64_t offset, uint64_t length)
{
    if (!view && err->code == MS_ERR_NONE) {
        fprintf(stderr, "an error without a code: %s: %s\n", err->rule, err->reason);
        abort();
    }
    ms_run_session_emit(ctx, is_server, line, k, view, err, offset, length);
}

/* Feed every item, cut into pieces of at most step bytes (0: whole). */
static void run(const struct ms_proto *p, const struct ms_limits *lim, size_t step,
                struct ms_run *out)
{
    static void *cst, *cv, *sst, *sv;
    static char *cbuf, *sbuf;
    static size_t cap;
    if (!cbuf) {
        cap = ms_stream_buffer_size(lim);
        cbuf = malloc(cap);
        sbuf = malloc(cap);
        /* the largest state and view of the three protocols */
        size_t st = 0, vw = 0;
        const struct ms_proto *all[] = {ms_proto_find("smtp"), ms_proto_find("pop3"),
                                        ms_proto_find("imap")};
        for (size_t i = 0; i < 3; i++) {
            const struct ms_kind *ks[] = {all[i]->commands, all[i]->replies};
            for (size_t j = 0; j < 2; j++) {
                st = ks[j]->state_size > st ? ks[j]->state_size : st;
                vw = ks[j]->view_size > vw ? ks[j]->view_size : vw;
            }
        }
        cst = malloc(st);
        sst = malloc(st);
        cv = malloc(vw);
        sv = malloc(vw);
        if (!cbuf || !sbuf || !cst || !sst || !cv || !sv)
            abort();
    }
    struct ms_session ss;
    memset(out, 0, sizeof(*out));
    out->with_offsets = 1;
    ms_session_init(&ss, p, lim, cst, cv, cbuf, cap, sst, sv, sbuf, cap, emit, out);
    for (size_t i = 0; i < nitems; i++) {
        const struct item *it = &items[i];
        size_t k = step ? step : (it->n ? it->n : 1);
        for (size_t off = 0; off < it->n; off += k)
            ms_session_feed(&ss, it->server, it->line, it->p + off,
                            it->n - off < k ? it->n - off : k);
    }
    if (ms_session_end(&ss))
        ms_run_render(out, p->commands, NULL,
                      &(struct ms_error){.code = MS_ERR_TRUNCATED, .rule = "end", .reason = "open"},
                      0, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *scratch, *store;
    static size_t scratch_cap;
    struct ms_limits lim;

    if (size < 2)
        return 0;
    ms_fuzz_limits(&lim, data[0]);
    static const char *const names[] = {"smtp", "pop3", "imap", "imap"};
    const struct ms_proto *p = ms_proto_find(names[data[1] & 3]);
    int transcript = data[1] >> 7;
    const char *in = (const char *)data + 2;
    size_t len = size - 2, pos = 0;

    nitems = 0;
    if (transcript) {
        /* an item's bytes are at most its line's plus CRLF */
        size_t need = len + 3 + 2 * (sizeof(items) / sizeof(items[0]));
        if (scratch_cap < need) {
            free(scratch);
            free(store);
            scratch_cap = need;
            scratch = malloc(scratch_cap);
            store = malloc(scratch_cap);
            if (!scratch || !store)
                abort();
        }
        size_t used = 0;
        struct ms_titem it;
        struct ms_error err;
        int rc;
        while ((rc = ms_transcript_next(in, len, &pos, &it, scratch, scratch_cap, &err)) > 0) {
            if (it.type == MS_T_DIRECTIVE)
                continue;
            /* the bytes are in scratch, which the next call reuses */
            if (it.len > scratch_cap - used || nitems == sizeof(items) / sizeof(items[0]))
                break;
            memcpy(store + used, it.data, it.len);
            add(it.type == MS_T_SERVER, it.line, store + used, it.len);
            used += it.len;
        }
        if (rc < 0 && (err.offset > len || !err.reason))
            abort();
    } else {
        while (pos < len) {
            size_t n = (size_t)((unsigned char)in[pos] & 0x7f) + 1;
            int server = (unsigned char)in[pos] >> 7;
            pos++;
            if (n > len - pos)
                n = len - pos;
            add(server, 0, in + pos, n);
            pos += n;
        }
    }

    struct ms_run whole, bytes, pieces;
    run(p, &lim, 0, &whole);
    run(p, &lim, 1, &bytes);
    run(p, &lim, (size_t)(data[0] ^ data[1]) % 13 + 2, &pieces);
    const char *w = whole.text ? whole.text : "";
    if (strcmp(w, bytes.text ? bytes.text : "") != 0 ||
        strcmp(w, pieces.text ? pieces.text : "") != 0) {
        fprintf(stderr,
                "session split invariance violated (%s, lenient 0x%x)\n--- whole\n%s"
                "--- byte by byte\n%s--- pieces\n%s",
                p->name, (unsigned)lim.lenient, w, bytes.text ? bytes.text : "",
                pieces.text ? pieces.text : "");
        abort();
    }
    ms_run_free(&whole);
    ms_run_free(&bytes);
    ms_run_free(&pieces);
    return 0;
}
