/*
 * mailspec parse PROTO KIND [FILE]: frame and parse every message, print one
 * JSON object per message or error (docs/parse-json.md).
 */
#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "mailspec/mailspec.h"

struct printer {
    int quiet;
    int is_session;
    char *out;
    size_t cap;
    int write_error;
};

static void parse_usage(FILE *f)
{
    fprintf(f, "usage: mailspec parse PROTO KIND [OPTIONS] [FILE]\n\n"
               "Frame and parse protocol bytes from FILE (or stdin) with the strict\n"
               "parsers and print one JSON object per message or error.\n\n"
               "  PROTO   smtp, pop3 or imap\n"
               "  KIND    commands  client-to-server bytes\n"
               "          replies   server-to-client bytes\n"
               "          session   a .session transcript (C:/S: lines), both directions\n\n"
               "Options:\n"
               "  -q, --quiet           print nothing; the exit status tells\n"
               "  --lenient FLAG        accept one deviation (reported as a quirk); repeatable\n"
               "  --limit NAME=VALUE    change a limit (see --list-limits)\n"
               "  --list-limits         print the limits and their defaults\n"
               "  -h, --help            this help\n\n"
               "Lenient flags:\n");
    for (size_t i = 0; ms_lenient_help[2 * i]; i++)
        fprintf(f, "  %-14s %s\n", ms_lenient_help[2 * i], ms_lenient_help[2 * i + 1]);
    fprintf(f, "\nExit status: 0 every message valid, 1 any message invalid or the input\n"
               "ends inside a message, 2 usage or I/O error.\n");
}

static void flush_line(struct printer *pr, struct ms_out *o)
{
    if (o->overflow) {
        /* Never print a cut line: say what happened instead. */
        ms_out_init(o, pr->out, pr->cap);
        ms_out_str(o, "{\"valid\":false,\"error\":{\"rule\":\"mailspec output\","
                      "\"reason\":\"JSON for this message exceeds the output buffer\"}}");
    }
    ms_out_bytes(o, "\n", 1);
    if (fwrite(o->buf, 1, o->len, stdout) != o->len)
        pr->write_error = 1;
}

static void print_msg(struct printer *pr, int is_server, size_t line, const struct ms_kind *k,
                      const void *view, const struct ms_error *err, uint64_t offset,
                      uint64_t length)
{
    struct ms_out o;

    if (pr->quiet)
        return;
    ms_out_init(&o, pr->out, pr->cap);
    ms_out_str(&o, "{\"offset\":");
    ms_out_u64(&o, offset);
    if (view) {
        ms_out_str(&o, ",\"length\":");
        ms_out_u64(&o, length);
    }
    if (pr->is_session) {
        ms_out_str(&o, is_server ? ",\"dir\":\"server\"" : ",\"dir\":\"client\"");
        ms_out_str(&o, ",\"line\":");
        ms_out_u64(&o, line);
    }
    if (view) {
        ms_out_str(&o, ",\"valid\":true");
        k->json(view, &o);
    } else {
        ms_out_str(&o, ",\"valid\":false,\"error\":{\"offset\":");
        ms_out_u64(&o, err->offset);
        ms_out_str(&o, ",\"code\":");
        const char *code = ms_error_code_name(err->code);
        ms_out_json_str(&o, code, strlen(code));
        ms_out_str(&o, ",\"rule\":");
        ms_out_json_str(&o, err->rule, strlen(err->rule));
        ms_out_str(&o, ",\"reason\":");
        ms_out_json_str(&o, err->reason, strlen(err->reason));
        ms_out_str(&o, "}");
    }
    ms_out_str(&o, "}");
    flush_line(pr, &o);
}

static void emit_stream(void *ctx, const struct ms_kind *k, const void *view,
                        const struct ms_error *err, uint64_t offset, uint64_t length)
{
    print_msg(ctx, 0, 0, k, view, err, offset, length);
}

static void emit_session(void *ctx, int is_server, size_t line, const struct ms_kind *k,
                         const void *view, const struct ms_error *err, uint64_t offset,
                         uint64_t length)
{
    print_msg(ctx, is_server, line, k, view, err, offset, length);
}

int ms_read_file(const char *path, char **out, size_t *len)
{
    int fd = (!path || strcmp(path, "-") == 0) ? STDIN_FILENO : open(path, O_RDONLY);
    size_t cap = 1 << 16, n = 0;
    char *buf;

    if (fd < 0) {
        fprintf(stderr, "mailspec: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fprintf(stderr, "mailspec: out of memory reading %s\n", path ? path : "stdin");
            break;
        }
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                continue;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r == 0) {
            buf[n] = '\0';
            if (fd != STDIN_FILENO)
                close(fd);
            *out = buf;
            *len = n;
            return 0;
        }
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "mailspec: cannot read %s: %s\n", path ? path : "stdin",
                    strerror(errno));
            free(buf);
            break;
        }
        n += (size_t)r;
    }
    if (fd != STDIN_FILENO)
        close(fd);
    return -1;
}

/* Stream a file through one direction in chunks: memory stays bounded. */
static int parse_stream(const struct ms_kind *k, const struct ms_limits *lim, const char *path,
                        struct printer *pr)
{
    int fd = (!path || strcmp(path, "-") == 0) ? STDIN_FILENO : open(path, O_RDONLY);
    size_t cap = ms_stream_buffer_size(lim);
    size_t chunk = 1 << 20;
    char *sbuf = malloc(cap), *in = malloc(chunk);
    void *state = calloc(1, k->state_size), *view = calloc(1, k->view_size);
    struct ms_stream s;
    int rc = MS_EXIT_USAGE;

    if (fd < 0) {
        fprintf(stderr, "mailspec: cannot open %s: %s\n", path, strerror(errno));
        goto out;
    }
    if (!sbuf || !in || !state || !view) {
        fprintf(stderr, "mailspec: out of memory\n");
        goto out;
    }
    ms_stream_init(&s, k, lim, state, view, sbuf, cap, emit_stream, pr);
    /* A regular file is mapped and fed in place: no read() copy, and the
     * stream driver parses whole messages straight from the mapping. */
    struct stat st;
    if (fd != STDIN_FILENO && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (uint64_t)st.st_size <= SIZE_MAX) {
        size_t size = (size_t)st.st_size;
        void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (map != MAP_FAILED) {
            (void)madvise(map, size, MADV_SEQUENTIAL);
            ms_stream_feed(&s, map, size);
            munmap(map, size);
            goto done;
        }
    }
    for (;;) {
        ssize_t r = read(fd, in, chunk);
        if (r == 0)
            break;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "mailspec: cannot read %s: %s\n", path ? path : "stdin",
                    strerror(errno));
            goto out;
        }
        ms_stream_feed(&s, in, (size_t)r);
    }
done:;
    int open_msg = ms_stream_end(&s);
    rc = (s.errors || open_msg) ? MS_EXIT_FAIL : MS_EXIT_OK;
out:
    if (fd > STDIN_FILENO)
        close(fd);
    free(sbuf);
    free(in);
    free(state);
    free(view);
    return rc;
}

static int parse_session(const struct ms_proto *p, const struct ms_limits *lim, const char *path,
                         struct printer *pr)
{
    size_t cap = ms_stream_buffer_size(lim);
    char *text = NULL, *cbuf = malloc(cap), *sbuf = malloc(cap), *scratch = NULL;
    void *cst = calloc(1, p->commands->state_size), *cv = calloc(1, p->commands->view_size);
    void *sst = calloc(1, p->replies->state_size), *sv = calloc(1, p->replies->view_size);
    size_t len = 0, pos = 0;
    struct ms_session ss;
    struct ms_titem item = {0};
    int rc = MS_EXIT_USAGE;

    if (!cbuf || !sbuf || !cst || !cv || !sst || !sv) {
        fprintf(stderr, "mailspec: out of memory\n");
        goto out;
    }
    if (ms_read_file(path, &text, &len) != 0)
        goto out;
    scratch = malloc(len + 3);
    if (!scratch) {
        fprintf(stderr, "mailspec: out of memory\n");
        goto out;
    }
    ms_session_init(&ss, p, lim, cst, cv, cbuf, cap, sst, sv, sbuf, cap, emit_session, pr);
    for (;;) {
        struct ms_error err;
        int r = ms_transcript_next(text, len, &pos, &item, scratch, len + 3, &err);
        if (r == 0)
            break;
        if (r < 0) {
            /* A malformed transcript is a usage error: the file is not a session. */
            fprintf(stderr, "mailspec: %s:%zu: %s\n", path ? path : "stdin", item.line, err.reason);
            goto out;
        }
        if (item.type == MS_T_DIRECTIVE)
            continue; /* directives drive the runner, not the parsers */
        ms_session_feed(&ss, item.type == MS_T_SERVER, item.line, item.data, item.len);
    }
    int open_msg = ms_session_end(&ss);
    rc = (ss.c.errors || ss.s.errors || open_msg) ? MS_EXIT_FAIL : MS_EXIT_OK;
out:
    free(text);
    free(scratch);
    free(cbuf);
    free(sbuf);
    free(cst);
    free(cv);
    free(sst);
    free(sv);
    return rc;
}

static int list_limits(void)
{
    struct ms_limits lim;

    ms_limits_default(&lim);
    for (size_t i = 0; ms_limit_names[i]; i++) {
        uint64_t v = 0;
        if (ms_limits_get(&lim, ms_limit_names[i], &v) == MS_OK)
            printf("%-20s %llu\n", ms_limit_names[i], (unsigned long long)v);
    }
    return MS_EXIT_OK;
}

int ms_cmd_parse(int argc, char **argv)
{
    struct printer pr = {0};
    struct ms_limits lim;
    const char *pos[3] = {NULL, NULL, NULL};
    int npos = 0, rc;

    ms_limits_default(&lim);
    enum { O_LIST_LIMITS = 256, O_LENIENT, O_LIMIT };
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"quiet", no_argument, NULL, 'q'},
        {"list-limits", no_argument, NULL, O_LIST_LIMITS},
        {"lenient", required_argument, NULL, O_LENIENT},
        {"limit", required_argument, NULL, O_LIMIT},
        {NULL, 0, NULL, 0},
    };
    int code;
    opterr = 0;
    optind = 1;
    while ((code = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (code) {
        case 'h':
            parse_usage(stdout);
            return MS_EXIT_OK;
        case 'q':
            pr.quiet = 1;
            break;
        case O_LIST_LIMITS:
            return list_limits();
        case O_LENIENT: {
            uint32_t f = ms_lenient_flag(optarg);
            if (!f) {
                fprintf(stderr, "mailspec parse: unknown lenient flag '%s'\n", optarg);
                return MS_EXIT_USAGE;
            }
            lim.lenient |= f;
            break;
        }
        case O_LIMIT: {
            const char *spec = optarg;
            const char *eq = strchr(spec, '=');
            char name[64];
            uint64_t v;
            size_t nl = eq ? (size_t)(eq - spec) : 0;
            if (!eq || nl >= sizeof(name) ||
                ms_number_parse(eq + 1, strlen(eq + 1), UINT64_MAX, &v) != MS_OK) {
                fprintf(stderr, "mailspec parse: --limit takes NAME=NUMBER, got '%s'\n", spec);
                return MS_EXIT_USAGE;
            }
            memcpy(name, spec, nl);
            name[nl] = '\0';
            if (ms_limits_set(&lim, name, v) != MS_OK) {
                fprintf(stderr, "mailspec parse: unknown limit or value out of range: '%s'\n",
                        spec);
                return MS_EXIT_USAGE;
            }
            break;
        }
        default:
            fprintf(stderr, "mailspec parse: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            fprintf(stderr, "mailspec parse: see 'mailspec parse --help'\n");
            return MS_EXIT_USAGE;
        }
    }
    for (; optind < argc; optind++) {
        if (npos == 3) {
            fprintf(stderr, "mailspec parse: too many arguments\n");
            return MS_EXIT_USAGE;
        }
        pos[npos++] = argv[optind];
    }
    if (npos < 2) {
        parse_usage(stderr);
        return MS_EXIT_USAGE;
    }
    const struct ms_proto *p = ms_proto_find(pos[0]);
    if (!p) {
        fprintf(stderr, "mailspec parse: unknown protocol '%s' (smtp, pop3, imap)\n", pos[0]);
        return MS_EXIT_USAGE;
    }
    pr.cap = 1 << 20;
    pr.out = malloc(pr.cap);
    if (!pr.out) {
        fprintf(stderr, "mailspec: out of memory\n");
        return MS_EXIT_USAGE;
    }
    if (strcmp(pos[1], "commands") == 0) {
        rc = parse_stream(p->commands, &lim, pos[2], &pr);
    } else if (strcmp(pos[1], "replies") == 0) {
        rc = parse_stream(p->replies, &lim, pos[2], &pr);
    } else if (strcmp(pos[1], "session") == 0) {
        pr.is_session = 1;
        rc = parse_session(p, &lim, pos[2], &pr);
    } else {
        fprintf(stderr, "mailspec parse: unknown kind '%s' (commands, replies, session)\n", pos[1]);
        rc = MS_EXIT_USAGE;
    }
    free(pr.out);
    if (fflush(stdout) != 0 || ferror(stdout) || pr.write_error) {
        fprintf(stderr, "mailspec parse: error writing output: %s\n", strerror(errno));
        return MS_EXIT_USAGE;
    }
    return rc;
}
