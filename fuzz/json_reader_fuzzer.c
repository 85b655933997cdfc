/*
 * libFuzzer target: the JSON reader of conformance/json.c, which
 * `mailspec certify --html-from` uses to load reports written elsewhere
 * (untrusted files). The input is the file's bytes.
 *
 * Properties, with abort() on violation (besides ASan/UBSan/LeakSanitizer):
 *  - a rejected input says why ("offset N: reason", N within the input);
 *  - an accepted document written back (ms_json_text) parses again to an
 *    equal document (types, member names, string bytes, number text, order);
 *  - writing is canonical: the second writing is byte for byte the first;
 *  - the accessors the HTML renderer uses agree with the tree.
 *
 * json.c needs only libc and libmailspec, so it is compiled into the target:
 * every build of the fuzz targets (make fuzz, the sanitizer replay of
 * make fuzz-replay, make coverage, ClusterFuzzLite's build.sh) links it
 * without a rule of its own.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../conformance/json.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static int json_equal(const struct ms_json *a, const struct ms_json *b, unsigned depth)
{
    if (depth > MS_JSON_MAX_DEPTH + 1 || a->type != b->type || (!a->key) != (!b->key))
        return 0;
    if (a->key && strcmp(a->key, b->key) != 0)
        return 0;
    switch (a->type) {
    case MS_JSON_BOOL:
        return a->boolean == b->boolean;
    case MS_JSON_NUMBER:
    case MS_JSON_STRING:
        return same_bytes(a->str, a->len, b->str, b->len) && a->str[a->len] == '\0';
    case MS_JSON_ARRAY:
    case MS_JSON_OBJECT: {
        const struct ms_json *x = a->child, *y = b->child;
        size_t n = 0;
        for (; x && y; x = x->next, y = y->next, n++)
            if (!json_equal(x, y, depth + 1))
                return 0;
        return !x && !y && n == a->count && n == b->count;
    }
    case MS_JSON_NULL:
    default:
        return 1;
    }
}

/* ms_json_get finds the first member of each name; ms_json_gets its text. */
static void check_accessors(const struct ms_json *v)
{
    if (v->type != MS_JSON_OBJECT)
        return;
    for (const struct ms_json *m = v->child; m; m = m->next) {
        const struct ms_json *first = ms_json_get(v, m->key);
        if (!first || strcmp(first->key, m->key) != 0)
            abort();
        const char *t = ms_json_gets(v, m->key, NULL);
        int text = first->type == MS_JSON_STRING || first->type == MS_JSON_NUMBER;
        if (text ? t != first->str : t != NULL)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256] = "";
    struct ms_json *v = ms_json_parse((const char *)data, size, err, sizeof(err));

    if (!v) {
        size_t off = 0;
        if (strncmp(err, "offset ", 7) != 0 || !strchr(err, ':'))
            abort(); /* a rejection without its place and reason */
        for (const char *p = err + 7; *p >= '0' && *p <= '9'; p++)
            off = off * 10 + (size_t)(*p - '0');
        if (off > size)
            abort();
        return 0;
    }
    check_accessors(v);
    size_t n1 = 0, n2 = 0;
    char *t1 = ms_json_text(v, &n1);
    if (!t1)
        abort();
    struct ms_json *w = ms_json_parse(t1, n1, err, sizeof(err));
    if (!w) {
        fprintf(stderr, "written document does not parse: %s\n%.*s\n", err, (int)n1, t1);
        abort();
    }
    if (!json_equal(v, w, 0)) {
        fprintf(stderr, "parse(write(parse(x))) != parse(x)\n%.*s\n", (int)n1, t1);
        abort();
    }
    char *t2 = ms_json_text(w, &n2);
    if (!t2 || !same_bytes(t1, n1, t2, n2))
        abort(); /* the writing is not canonical */
    free(t1);
    free(t2);
    ms_json_free(v);
    ms_json_free(w);
    return 0;
}
