/*
 * The report document (json.h): a small JSON DOM that reads, builds and
 * writes the reports. Depth and size are bounded when reading.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "mailspec/common.h"
#include "mailspec/stream.h"

/* ------------------------------------------------------------ JSON reader -- */

struct jr {
    const char *p;
    size_t len, pos;
    char *err;
    size_t errcap;
    int failed;
};

static void *jr_fail(struct jr *r, const char *why)
{
    if (!r->failed && r->errcap)
        snprintf(r->err, r->errcap, "offset %zu: %s", r->pos, why);
    r->failed = 1;
    return NULL;
}

static void jr_ws(struct jr *r)
{
    while (r->pos < r->len && (r->p[r->pos] == ' ' || r->p[r->pos] == '\t' ||
                               r->p[r->pos] == '\n' || r->p[r->pos] == '\r'))
        r->pos++;
}

void ms_json_free(struct ms_json *v)
{
    while (v) {
        struct ms_json *next = v->next;
        ms_json_free(v->child);
        free(v->key);
        free(v->str);
        free(v);
        v = next;
    }
}

static int jr_hex4(struct jr *r, uint32_t *out)
{
    uint32_t v = 0;
    if (r->len - r->pos < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        int h = ms_hexval((unsigned char)r->p[r->pos + (size_t)i]);
        if (h < 0)
            return -1;
        v = (v << 4) | (uint32_t)h;
    }
    r->pos += 4;
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A string at r->pos (on the opening quote): decoded into a new buffer. */
static char *jr_string(struct jr *r, size_t *outlen)
{
    size_t start = ++r->pos, n = 0;
    /* Decoded text is never longer than the escaped text. */
    size_t end = start;
    while (end < r->len && r->p[end] != '"') {
        if (r->p[end] == '\\')
            end++;
        end++;
    }
    if (end >= r->len)
        return jr_fail(r, "unterminated string");
    char *s = malloc(end - start + 1);
    if (!s)
        return jr_fail(r, "out of memory");
    while (r->pos < end) {
        unsigned char c = (unsigned char)r->p[r->pos];
        if (c < 0x20) {
            free(s);
            return jr_fail(r, "control character in string");
        }
        if (c >= 0x80) {
            /* RFC 8259 8.1: JSON text is UTF-8; the writer escapes any other
             * byte, so a raw one would not read back as itself */
            size_t u = ms_utf8_len((const unsigned char *)r->p + r->pos, end - r->pos);
            if (u == 0) {
                free(s);
                return jr_fail(r, "invalid UTF-8 in string");
            }
            memcpy(s + n, r->p + r->pos, u);
            n += u;
            r->pos += u;
            continue;
        }
        if (c != '\\') {
            s[n++] = (char)c;
            r->pos++;
            continue;
        }
        r->pos++;
        char e = r->p[r->pos++];
        switch (e) {
        case '"':
        case '\\':
        case '/':
            s[n++] = e;
            break;
        case 'b':
            s[n++] = '\b';
            break;
        case 'f':
            s[n++] = '\f';
            break;
        case 'n':
            s[n++] = '\n';
            break;
        case 'r':
            s[n++] = '\r';
            break;
        case 't':
            s[n++] = '\t';
            break;
        case 'u': {
            uint32_t cp, lo;
            if (jr_hex4(r, &cp) != 0) {
                free(s);
                return jr_fail(r, "bad \\u escape");
            }
            if (cp >= 0xD800 && cp < 0xDC00 && end - r->pos >= 6 && r->p[r->pos] == '\\' &&
                r->p[r->pos + 1] == 'u') {
                size_t save = r->pos;
                r->pos += 2;
                if (jr_hex4(r, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000)
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                else
                    r->pos = save;
            }
            if (cp >= 0xD800 && cp < 0xE000)
                cp = 0xFFFD; /* lone surrogate */
            /* \uXXXX is 6 bytes of input; UTF-8 needs at most 4 (a pair: 12 -> 4). */
            n += put_utf8(s + n, cp);
            break;
        }
        default:
            free(s);
            return jr_fail(r, "bad escape in string");
        }
    }
    r->pos = end + 1;
    s[n] = '\0';
    *outlen = n;
    return s;
}

static struct ms_json *jr_value(struct jr *r, unsigned depth);

static struct ms_json *jr_new(struct jr *r, enum ms_json_type t)
{
    struct ms_json *v = calloc(1, sizeof(*v));
    if (!v)
        return jr_fail(r, "out of memory");
    v->type = t;
    return v;
}

static struct ms_json *jr_container(struct jr *r, unsigned depth, int is_obj)
{
    struct ms_json *v = jr_new(r, is_obj ? MS_JSON_OBJECT : MS_JSON_ARRAY), **tail;
    char close = is_obj ? '}' : ']';

    if (!v)
        return NULL;
    if (depth >= MS_JSON_MAX_DEPTH) {
        free(v);
        return jr_fail(r, "nesting too deep");
    }
    tail = &v->child;
    r->pos++;
    jr_ws(r);
    if (r->pos < r->len && r->p[r->pos] == close) {
        r->pos++;
        return v;
    }
    for (;;) {
        char *key = NULL;
        size_t klen;
        jr_ws(r);
        if (is_obj) {
            if (r->pos >= r->len || r->p[r->pos] != '"') {
                ms_json_free(v);
                return jr_fail(r, "expected a member name");
            }
            key = jr_string(r, &klen);
            if (!key) {
                ms_json_free(v);
                return NULL;
            }
            if (strlen(key) != klen) {
                /* names are C strings here: "a\u0000b" would be read as "a" */
                free(key);
                ms_json_free(v);
                return jr_fail(r, "NUL in a member name");
            }
            jr_ws(r);
            if (r->pos >= r->len || r->p[r->pos] != ':') {
                free(key);
                ms_json_free(v);
                return jr_fail(r, "expected ':'");
            }
            r->pos++;
        }
        struct ms_json *e = jr_value(r, depth + 1);
        if (!e) {
            free(key);
            ms_json_free(v);
            return NULL;
        }
        e->key = key;
        *tail = e;
        tail = &e->next;
        v->count++;
        jr_ws(r);
        if (r->pos < r->len && r->p[r->pos] == ',') {
            r->pos++;
            continue;
        }
        if (r->pos < r->len && r->p[r->pos] == close) {
            r->pos++;
            return v;
        }
        ms_json_free(v);
        return jr_fail(r, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static struct ms_json *jr_value(struct jr *r, unsigned depth)
{
    struct ms_json *v;

    jr_ws(r);
    if (r->pos >= r->len)
        return jr_fail(r, "expected a value");
    char c = r->p[r->pos];
    if (c == '{' || c == '[')
        return jr_container(r, depth, c == '{');
    if (c == '"') {
        size_t n;
        char *s = jr_string(r, &n);
        if (!s)
            return NULL;
        v = jr_new(r, MS_JSON_STRING);
        if (!v) {
            free(s);
            return NULL;
        }
        v->str = s;
        v->len = n;
        return v;
    }
    static const struct {
        const char *lit;
        enum ms_json_type t;
        int b;
    } words[] = {{"true", MS_JSON_BOOL, 1}, {"false", MS_JSON_BOOL, 0}, {"null", MS_JSON_NULL, 0}};
    for (size_t i = 0; i < 3; i++) {
        size_t wl = strlen(words[i].lit);
        if (r->len - r->pos >= wl && memcmp(r->p + r->pos, words[i].lit, wl) == 0) {
            r->pos += wl;
            v = jr_new(r, words[i].t);
            if (v)
                v->boolean = words[i].b;
            return v;
        }
    }
    /* number = [ "-" ] int [ frac ] [ exp ] (RFC 8259 6); kept as text. */
    size_t s = r->pos;
    if (r->pos < r->len && r->p[r->pos] == '-')
        r->pos++;
    size_t digits = r->pos;
    while (r->pos < r->len && r->p[r->pos] >= '0' && r->p[r->pos] <= '9')
        r->pos++;
    if (r->pos == digits)
        return jr_fail(r, "unexpected character");
    if (r->p[digits] == '0' && r->pos - digits > 1) {
        r->pos = digits;
        return jr_fail(r, "leading zero in a number");
    }
    if (r->pos < r->len && r->p[r->pos] == '.') {
        r->pos++;
        size_t f = r->pos;
        while (r->pos < r->len && r->p[r->pos] >= '0' && r->p[r->pos] <= '9')
            r->pos++;
        if (r->pos == f)
            return jr_fail(r, "digits expected after '.'");
    }
    if (r->pos < r->len && (r->p[r->pos] == 'e' || r->p[r->pos] == 'E')) {
        r->pos++;
        if (r->pos < r->len && (r->p[r->pos] == '+' || r->p[r->pos] == '-'))
            r->pos++;
        size_t f = r->pos;
        while (r->pos < r->len && r->p[r->pos] >= '0' && r->p[r->pos] <= '9')
            r->pos++;
        if (r->pos == f)
            return jr_fail(r, "digits expected in exponent");
    }
    v = jr_new(r, MS_JSON_NUMBER);
    if (!v)
        return NULL;
    v->len = r->pos - s;
    v->str = malloc(v->len + 1);
    if (!v->str) {
        free(v);
        return jr_fail(r, "out of memory");
    }
    memcpy(v->str, r->p + s, v->len);
    v->str[v->len] = '\0';
    return v;
}

struct ms_json *ms_json_parse(const char *text, size_t len, char *err, size_t errcap)
{
    struct jr r = {text, len, 0, err, errcap, 0};
    struct ms_json *v = jr_value(&r, 0);

    if (!v)
        return NULL;
    jr_ws(&r);
    if (r.pos != r.len) {
        ms_json_free(v);
        return jr_fail(&r, "trailing data after the value");
    }
    return v;
}

const struct ms_json *ms_json_get(const struct ms_json *obj, const char *key)
{
    if (!obj || obj->type != MS_JSON_OBJECT)
        return NULL;
    for (const struct ms_json *m = obj->child; m; m = m->next)
        if (m->key && strcmp(m->key, key) == 0)
            return m;
    return NULL;
}

const char *ms_json_gets(const struct ms_json *obj, const char *key, const char *dflt)
{
    const struct ms_json *v = ms_json_get(obj, key);
    if (v && (v->type == MS_JSON_STRING || v->type == MS_JSON_NUMBER))
        return v->str;
    return dflt;
}

struct ms_json *ms_json_new_string(const char *s)
{
    struct ms_json *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    v->type = MS_JSON_STRING;
    v->str = strdup(s);
    v->len = v->str ? strlen(s) : 0;
    if (!v->str) {
        free(v);
        return NULL;
    }
    return v;
}

struct ms_json *ms_json_new_number(uint64_t n)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)n);
    struct ms_json *v = ms_json_new_string(buf);
    if (v)
        v->type = MS_JSON_NUMBER;
    return v;
}

struct ms_json *ms_json_new_bool(int b)
{
    struct ms_json *v = calloc(1, sizeof(*v));
    if (v) {
        v->type = MS_JSON_BOOL;
        v->boolean = b != 0;
    }
    return v;
}

int ms_json_set(struct ms_json *obj, const char *key, struct ms_json *v)
{
    struct ms_json **pp;

    if (!v)
        return -1;
    if (!obj || obj->type != MS_JSON_OBJECT || v->next || v->key) {
        ms_json_free(v);
        return -1;
    }
    v->key = strdup(key);
    if (!v->key) {
        ms_json_free(v);
        return -1;
    }
    for (pp = &obj->child; *pp; pp = &(*pp)->next)
        if ((*pp)->key && strcmp((*pp)->key, key) == 0) {
            struct ms_json *old = *pp;
            v->next = old->next;
            old->next = NULL;
            *pp = v;
            ms_json_free(old);
            return 0;
        }
    *pp = v;
    obj->count++;
    return 0;
}

static void jw_str(FILE *f, const char *s, size_t n)
{
    size_t cap = 6 * n + 3;
    char *buf = malloc(cap);
    struct ms_out o;

    if (!buf) {
        fputs("\"\"", f);
        return;
    }
    ms_out_init(&o, buf, cap);
    ms_out_json_str(&o, s, n);
    fwrite(o.buf, 1, o.len, f);
    free(buf);
}

void ms_json_write(FILE *f, const struct ms_json *v)
{
    switch (v->type) {
    case MS_JSON_NULL:
        fputs("null", f);
        break;
    case MS_JSON_BOOL:
        fputs(v->boolean ? "true" : "false", f);
        break;
    case MS_JSON_NUMBER:
        fwrite(v->str, 1, v->len, f);
        break;
    case MS_JSON_STRING:
        jw_str(f, v->str, v->len);
        break;
    case MS_JSON_ARRAY:
    case MS_JSON_OBJECT:
    default:
        fputc(v->type == MS_JSON_OBJECT ? '{' : '[', f);
        for (const struct ms_json *e = v->child; e; e = e->next) {
            if (e != v->child)
                fputc(',', f);
            if (v->type == MS_JSON_OBJECT) {
                jw_str(f, e->key ? e->key : "", e->key ? strlen(e->key) : 0);
                fputc(':', f);
            }
            ms_json_write(f, e);
        }
        fputc(v->type == MS_JSON_OBJECT ? '}' : ']', f);
        break;
    }
}

struct ms_json *ms_json_new(enum ms_json_type type)
{
    struct ms_json *v = calloc(1, sizeof(*v));
    if (v)
        v->type = type;
    return v;
}

int ms_json_append(struct ms_json *arr, struct ms_json *v)
{
    struct ms_json **pp;

    if (!v)
        return -1;
    if (!arr || arr->type != MS_JSON_ARRAY || v->next || v->key) {
        ms_json_free(v);
        return -1;
    }
    for (pp = &arr->child; *pp; pp = &(*pp)->next)
        ;
    *pp = v;
    arr->count++;
    return 0;
}

int ms_json_set_str(struct ms_json *obj, const char *key, const char *s)
{
    return ms_json_set(obj, key, ms_json_new_string(s ? s : ""));
}

int ms_json_set_num(struct ms_json *obj, const char *key, uint64_t n)
{
    return ms_json_set(obj, key, ms_json_new_number(n));
}

char *ms_json_text(const struct ms_json *v, size_t *len)
{
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    if (!f)
        return NULL;
    ms_json_write(f, v);
    fputc('\n', f);
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    *len = n;
    return out;
}
