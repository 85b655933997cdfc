/*
 * Unit tests of the runner (conformance/runner*.c) against a tiny in-process
 * fake server: a thread that listens on 127.0.0.1 (an ephemeral port),
 * accepts a connection and plays a canned exchange - "send these bytes",
 * "read this many lines", "read a line that must be exactly this" - then
 * closes (and, for @either, accepts the next connection). Every wait is
 * bounded (poll, 5 s); the thread is joined before the test checks anything.
 *
 * Each behaviour has a positive case and a deliberately wrong expectation
 * that must still fail: a runner that passes everything is caught.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "mailspec/script.h"
#include "runner.h"

/* ---- the fake server ---- */

#define FS_WAIT_MS 5000

enum fs_op {
    FS_SEND = 1, /* send s */
    FS_LINES,    /* read until n more CRLF-terminated lines arrived */
    FS_LINE,     /* read one line; it must be s exactly (line end excluded) */
    FS_CONN,     /* close this connection (lingering), accept the next */
    FS_ACCEPT,   /* accept one more connection, keep the others open; it is current */
    FS_USE,      /* connection n (0: the first accepted) is current again */
};

struct fs_step {
    enum fs_op op;
    const char *s;
    unsigned n;
};

#define SEND(x)                                                                                    \
    {                                                                                              \
        FS_SEND, (x), 0                                                                            \
    }
#define LINES(k)                                                                                   \
    {                                                                                              \
        FS_LINES, NULL, (k)                                                                        \
    }
#define LINE(x)                                                                                    \
    {                                                                                              \
        FS_LINE, (x), 1                                                                            \
    }
#define NEXT_CONN                                                                                  \
    {                                                                                              \
        FS_CONN, NULL, 0                                                                           \
    }
#define ACCEPT                                                                                     \
    {                                                                                              \
        FS_ACCEPT, NULL, 0                                                                         \
    }
#define USE(k)                                                                                     \
    {                                                                                              \
        FS_USE, NULL, (k)                                                                          \
    }
#define NSTEPS(a)  (sizeof(a) / sizeof((a)[0]))
#define FS_MAX_FDS 4

struct fake {
    int lfd;
    char port[16];
    pthread_t th;
    const struct fs_step *steps;
    size_t nsteps;
    char got[32768]; /* every byte the client sent, on every connection; NUL-terminated */
    size_t got_len;
    size_t done; /* steps completed */
    unsigned conns;
    char err[512]; /* the first problem: a line that differed, a timeout */
};

static void fs_note(struct fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fs_note(struct fake *f, const char *fmt, ...)
{
    va_list ap;
    if (f->err[0])
        return;
    va_start(ap, fmt);
    vsnprintf(f->err, sizeof(f->err), fmt, ap);
    va_end(ap);
}

/* Read what the client sent. 1: bytes, 0: the client closed, -1: timeout, error or full. */
static int fs_fill(struct fake *f, int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, FS_WAIT_MS) != 1)
        return -1;
    size_t room = sizeof(f->got) - 1 - f->got_len;
    if (room == 0)
        return -1;
    ssize_t r = recv(fd, f->got + f->got_len, room, 0);
    if (r < 0)
        return errno == ECONNRESET ? 0 : -1;
    if (r == 0)
        return 0;
    f->got_len += (size_t)r;
    f->got[f->got_len] = '\0';
    return 1;
}

static int fs_send(int fd, const char *s)
{
    size_t n = strlen(s), off = 0;
    while (off < n) {
        struct pollfd p = {fd, POLLOUT, 0};
        if (poll(&p, 1, FS_WAIT_MS) != 1)
            return -1;
        ssize_t r = send(fd, s + off, n - off, MSG_NOSIGNAL);
        if (r <= 0)
            return -1;
        off += (size_t)r;
    }
    return 0;
}

/* Wait for k (>= 1) more lines from *rpos; the last one is (*last, *lastn). 1, 0 closed, -1. */
static int fs_lines(struct fake *f, int fd, size_t *rpos, unsigned k, const char **last,
                    size_t *lastn)
{
    for (;;) {
        size_t p = *rpos, ls = p;
        unsigned seen = 0;
        while (seen < k) {
            const char *lf = p < f->got_len ? memchr(f->got + p, '\n', f->got_len - p) : NULL;
            if (!lf)
                break;
            ls = p;
            p = (size_t)(lf - f->got) + 1;
            seen++;
        }
        if (seen == k) {
            *last = f->got + ls;
            *lastn = p - ls - 1;
            if (*lastn && (*last)[*lastn - 1] == '\r')
                (*lastn)--;
            *rpos = p;
            return 1;
        }
        int r = fs_fill(f, fd);
        if (r <= 0)
            return r;
    }
}

/* The next connection, within FS_WAIT_MS; -1 (noted) when none came. */
static int fs_accept(struct fake *f, size_t i)
{
    struct pollfd pl = {f->lfd, POLLIN, 0};
    if (poll(&pl, 1, FS_WAIT_MS) != 1) {
        fs_note(f, "no connection within %d ms (step %zu)", FS_WAIT_MS, i);
        return -1;
    }
    int fd = accept(f->lfd, NULL, NULL);
    if (fd < 0) {
        fs_note(f, "accept: %s", strerror(errno));
        return -1;
    }
    f->conns++;
    return fd;
}

/* A lingering close: what the client still sends is recorded, then its close. */
static void fs_close(struct fake *f, int fd)
{
    shutdown(fd, SHUT_WR);
    while (fs_fill(f, fd) == 1)
        ;
    close(fd);
}

static void *fs_main(void *arg)
{
    struct fake *f = arg;
    size_t i = 0;

    for (;;) {
        int fds[FS_MAX_FDS], nfds = 1;
        int fd = fs_accept(f, i);
        if (fd < 0)
            break;
        fds[0] = fd;
        size_t rpos = f->got_len;
        int alive = 1;
        for (; i < f->nsteps && f->steps[i].op != FS_CONN; i++) {
            const struct fs_step *st = &f->steps[i];
            if (st->op == FS_ACCEPT || st->op == FS_USE) {
                /* several connections at once: bytes are read only from the
                 * current one, so each is read in its order */
                if (st->op == FS_ACCEPT && nfds < FS_MAX_FDS && (fd = fs_accept(f, i)) >= 0)
                    fds[nfds++] = fd;
                else if (st->op == FS_USE && st->n < (unsigned)nfds)
                    fd = fds[st->n];
                else {
                    fs_note(f, "step %zu: no such connection", i);
                    alive = 0;
                    continue;
                }
                rpos = f->got_len;
                alive = 1;
                f->done++;
                continue;
            }
            if (!alive)
                continue; /* the client left: on to the next connection's steps */
            if (st->op == FS_SEND) {
                alive = fs_send(fd, st->s) == 0;
            } else {
                const char *l = NULL;
                size_t n = 0;
                int r = fs_lines(f, fd, &rpos, st->n, &l, &n);
                if (r < 0)
                    fs_note(f, "step %zu: nothing read within %d ms", i, FS_WAIT_MS);
                if (r != 1) {
                    alive = 0;
                    continue;
                }
                if (st->op == FS_LINE && (strlen(st->s) != n || memcmp(st->s, l, n) != 0)) {
                    fs_note(f, "step %zu: expected the client line \"%s\", got \"%.*s\"", i, st->s,
                            (int)n, l);
                    alive = 0;
                    continue;
                }
            }
            if (alive)
                f->done++;
        }
        for (int k = 0; k < nfds; k++)
            fs_close(f, fds[k]);
        if (i >= f->nsteps)
            break;
        i++; /* the FS_CONN */
        f->done++;
    }
    return NULL;
}

static void fs_start(struct fake *f, const struct fs_step *steps, size_t n)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);

    memset(f, 0, sizeof(*f));
    f->steps = steps;
    f->nsteps = n;
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f->lfd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(f->lfd, 4), 0);
    assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &al), 0);
    snprintf(f->port, sizeof(f->port), "%u", (unsigned)ntohs(a.sin_port));
    assert_int_equal(pthread_create(&f->th, NULL, fs_main, f), 0);
}

static void fs_join(struct fake *f)
{
    pthread_join(f->th, NULL);
    close(f->lfd);
}

/* ---- one run of a script against the fake ---- */

#define USER     "alice"
#define PASSWORD "s3cretPW9"
/* base64("\0alice\0s3cretPW9"): ${sasl_plain} */
#define SASL_PLAIN "AGFsaWNlAHMzY3JldFBXOQ=="

enum { CRED = 1, REFUSED = 2 };

struct tc {
    struct fake f;
    struct ms_test_result r;
    int cred;
    int line; /* the case's line in this file, for failure reports */
};

#define tc_run(...) tc_run_at(__LINE__, __VA_ARGS__)
static void tc_run_at(int line, struct tc *c, const struct fs_step *steps, size_t n,
                      const char *protocol, const char *script, unsigned flags)
{
    struct ms_script_error err;
    struct ms_script *s = ms_script_parse(script, strlen(script), &err);
    struct ms_run_opts o;

    if (!s)
        fail_msg("script error %zu:%zu: %s\n%s", err.line, err.col, err.reason, script);
    fs_start(&c->f, steps, n);
    ms_run_opts_default(&o);
    o.host = "127.0.0.1";
    o.port = c->f.port;
    o.protocol = protocol;
    o.timeout_ms = 3000;
    c->cred = (flags & CRED) != 0;
    if (c->cred) {
        o.user = USER;
        o.password = PASSWORD;
    }
    o.cleartext_login_refused = (flags & REFUSED) != 0;
    c->line = line;
    ms_run_script(s, "t.session", &o, &c->r);
    fs_join(&c->f);
    ms_script_free(s);
}

static const char *nz(const char *s)
{
    return s ? s : "(null)";
}

/* What the runner did and what the fake saw, then the test fails. */
static void tc_fail(struct tc *c, const char *why)
{
    print_error(
        "FAILED (the case at %s:%d): %s\n  r.result:  %s\n  r.message: %s\n  r.transcript:\n%s\n"
        "  fake: %zu of %zu steps, %u connection(s)%s%s\n  fake read:\n%s\n",
        __FILE__, c->line, why, ms_result_name(c->r.result), nz(c->r.message), nz(c->r.transcript),
        c->f.done, c->f.nsteps, c->f.conns, c->f.err[0] ? ", " : "", c->f.err, c->f.got);
    ms_test_result_free(&c->r);
    fail();
}

enum { SERVER_DONE = 1 };

/*
 * The result must be want, the message must contain needle (when given);
 * with SERVER_DONE the fake must have played every step (the runner sent
 * exactly the lines it waited for). The password never appears in the
 * transcript or the message.
 */
static void tc_expect(struct tc *c, enum ms_result want, const char *needle, unsigned flags)
{
    char why[512];

    if (c->r.result != want) {
        snprintf(why, sizeof(why), "result %s, expected %s", ms_result_name(c->r.result),
                 ms_result_name(want));
        tc_fail(c, why);
    }
    if (needle && !strstr(nz(c->r.message), needle)) {
        snprintf(why, sizeof(why), "the message lacks \"%s\"", needle);
        tc_fail(c, why);
    }
    if ((flags & SERVER_DONE) && (c->f.done != c->f.nsteps || c->f.err[0]))
        tc_fail(c, "the fake server did not play its whole exchange");
    if (c->cred && (strstr(nz(c->r.transcript), PASSWORD) || strstr(nz(c->r.message), PASSWORD) ||
                    strstr(nz(c->r.transcript), SASL_PLAIN)))
        tc_fail(c, "the password is in the transcript or the message");
}

static void tc_end(struct tc *c)
{
    ms_test_result_free(&c->r);
}

/* Shorthand: run, expect, free. */
#define one(...) one_at(__LINE__, __VA_ARGS__)
static void one_at(int line, const struct fs_step *steps, size_t n, const char *protocol,
                   const char *script, unsigned runflags, enum ms_result want, const char *needle,
                   unsigned flags)
{
    struct tc c;
    tc_run_at(line, &c, steps, n, protocol, script, runflags);
    tc_expect(&c, want, needle, flags);
    tc_end(&c);
}

/* ---- 1. IMAP mailbox names in every encoding ---- */

static const char imap_mbox_script[] = "@phase setup\n"
                                       "S: * OK ${*}\n"
                                       "C: A0 LOGIN ${user} ${password}\n"
                                       "S: A0 OK ${*}\n"
                                       "@phase check\n"
                                       "C: A1 LIST \"\" \"INBOX.*\"\n"
                                       "S: * LIST (${*}) ${*} ${mbox:box}\n"
                                       "S: * LIST (${*}) ${*} ${mbox:box}\n"
                                       "S: A1 OK ${*}\n"
                                       "C: A2 STATUS ${mbox:box} (MESSAGES)\n"
                                       "S: * STATUS ${mbox:box} (MESSAGES 1)\n"
                                       "S: A2 OK ${*}\n";

static void test_imap_mbox(void **state)
{
    (void)state;
    static const char *const status[] = {
        "* STATUS \"INBOX.x\" (MESSAGES 1)\r\n",
        "* STATUS INBOX.x (MESSAGES 1)\r\n",
        "* STATUS {7}\r\nINBOX.x (MESSAGES 1)\r\n",
    };
    for (size_t k = 0; k < 3; k++) {
        /* the name comes quoted, then as a literal; STATUS names it in a third form */
        const struct fs_step steps[] = {
            SEND("* OK ready\r\n"),
            LINE("A0 LOGIN alice s3cretPW9"),
            SEND("A0 OK welcome alice s3cretPW9\r\n"), /* echoes the password */
            LINE("A1 LIST \"\" \"INBOX.*\""),
            SEND("* LIST () \".\" \"INBOX.x\"\r\n* LIST () \".\" {7}\r\nINBOX.x\r\nA1 OK done\r\n"),
            LINE("A2 STATUS INBOX.x (MESSAGES)"),
            SEND(status[k]),
            SEND("A2 OK done\r\n"),
        };
        struct tc c;
        tc_run(&c, steps, NSTEPS(steps), "imap", imap_mbox_script, CRED);
        tc_expect(&c, MS_RES_PASS, NULL, SERVER_DONE);
        ms_assert_has(c.f.got, PASSWORD); /* it was sent: the transcript check means something */
        ms_assert_has(c.r.transcript, "${password}");
        tc_end(&c);

        /* wrong: STATUS names another mailbox (in the same encoding) */
        const char *wrong[] = {
            "* STATUS \"INBOX.y\" (MESSAGES 1)\r\n",
            "* STATUS INBOX.y (MESSAGES 1)\r\n",
            "* STATUS {7}\r\nINBOX.y (MESSAGES 1)\r\n",
        };
        const struct fs_step bad[] = {
            SEND("* OK ready\r\n"),
            LINE("A0 LOGIN alice s3cretPW9"),
            SEND("A0 OK welcome\r\n"),
            LINE("A1 LIST \"\" \"INBOX.*\""),
            SEND("* LIST () \".\" \"INBOX.x\"\r\n* LIST () \".\" {7}\r\nINBOX.x\r\nA1 OK done\r\n"),
            LINE("A2 STATUS INBOX.x (MESSAGES)"),
            SEND(wrong[k]),
            SEND("A2 OK done\r\n"),
        };
        one(bad, NSTEPS(bad), "imap", imap_mbox_script, CRED, MS_RES_FAIL, "does not match", 0);
    }
    /* wrong: the second LIST (a literal) names another mailbox than the first */
    const struct fs_step bad2[] = {
        SEND("* OK ready\r\n"),
        LINE("A0 LOGIN alice s3cretPW9"),
        SEND("A0 OK welcome\r\n"),
        LINE("A1 LIST \"\" \"INBOX.*\""),
        SEND("* LIST () \".\" \"INBOX.x\"\r\n* LIST () \".\" {7}\r\nINBOX.z\r\nA1 OK done\r\n"),
        LINE("A2 STATUS INBOX.x (MESSAGES)"),
        SEND("* STATUS INBOX.x (MESSAGES 1)\r\nA2 OK done\r\n"),
    };
    one(bad2, NSTEPS(bad2), "imap", imap_mbox_script, CRED, MS_RES_FAIL, "does not match", 0);
}

/* ---- 2. SMTP multi-line replies: the continuation-line trap ---- */

static void test_smtp_multiline(void **state)
{
    (void)state;
    const struct fs_step help[] = {
        SEND("220 x\r\n"), LINE("HELP"),        SEND("214-a\r\n214-b\r\n214 end\r\n"),
        LINE("QUIT"),      SEND("221 bye\r\n"),
    };
    /* whole: "21${*}" takes the reply by its final line; 221 then meets 221 */
    one(help, NSTEPS(help), "smtp", "S: 220 ${*}\nC: HELP\nS: 21${*}\nC: QUIT\nS: 221 ${*}\n", 0,
        MS_RES_PASS, NULL, SERVER_DONE);
    /* line by line */
    one(help, NSTEPS(help), "smtp",
        "S: 220 ${*}\nC: HELP\nS: 214-a\nS: 214-b\nS: 214 end\nC: QUIT\nS: 221 ${*}\n", 0,
        MS_RES_PASS, NULL, SERVER_DONE);
    /* an @allow for the continuation lines, then the final line */
    one(help, NSTEPS(help), "smtp",
        "S: 220 ${*}\nC: HELP\n@allow 214-${*}\nS: 214 ${*}\nC: QUIT\nS: 221 ${*}\n", 0,
        MS_RES_PASS, NULL, SERVER_DONE);
    /* wrong: HELP is not answered 250 */
    one(help, NSTEPS(help), "smtp", "S: 220 ${*}\nC: HELP\nS: 250 ${*}\nC: QUIT\nS: 221 ${*}\n", 0,
        MS_RES_FAIL, "does not match", 0);
    /* wrong: line by line, but the reply's last line is left over (no S: takes it) */
    one(help, NSTEPS(help), "smtp",
        "S: 220 ${*}\nC: HELP\nS: 214-a\nS: 214-b\nC: QUIT\nS: 221 ${*}\n", 0, MS_RES_FAIL,
        "does not match", 0);
    /* wrong: a continuation line is not the reply's end ("214-a" must not satisfy 214 a) */
    one(help, NSTEPS(help), "smtp", "S: 220 ${*}\nC: HELP\nS: 214 a\nC: QUIT\nS: 221 ${*}\n", 0,
        MS_RES_FAIL, "does not match", 0);

    /* a multi-line greeting */
    const struct fs_step greet[] = {
        SEND("220-a\r\n220 b\r\n"),
        LINE("QUIT"),
        SEND("221 bye\r\n"),
    };
    one(greet, NSTEPS(greet), "smtp", "S: 220 ${*}\nC: QUIT\nS: 221 ${*}\n", 0, MS_RES_PASS, NULL,
        SERVER_DONE);
    one(greet, NSTEPS(greet), "smtp", "S: 220 a\nC: QUIT\nS: 221 ${*}\n", 0, MS_RES_FAIL,
        "does not match", 0);
}

/* ---- 3. IMAP literals: whole responses, with and without the header separator ---- */

static const char fetch14[] =
    "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {14}\r\nSubject: x\r\n\r\n)\r\nT1 OK done\r\n";
static const char fetch12[] =
    "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {12}\r\nSubject: x\r\n)\r\nT1 OK done\r\n";

#define fetch_case(...) fetch_case_at(__LINE__, __VA_ARGS__)
static void fetch_case_at(int line, const char *answer, const char *script, enum ms_result want)
{
    const struct fs_step steps[] = {
        SEND("* OK ready\r\n"), LINE("A0 LOGIN alice s3cretPW9"),
        SEND("A0 OK hi\r\n"),   LINE("T1 FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]"),
        SEND(answer),
    };
    char full[2048];
    snprintf(full, sizeof(full),
             "@phase setup\nS: * OK ${*}\nC: A0 LOGIN ${user} ${password}\nS: A0 OK ${*}\n"
             "@phase check\nC: T1 FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]\n%s",
             script);
    one_at(line, steps, NSTEPS(steps), "imap", full, CRED, want,
           want == MS_RES_FAIL ? "does not match" : NULL, want == MS_RES_PASS ? SERVER_DONE : 0);
}

static void test_imap_literal(void **state)
{
    (void)state;
    static const char whole[] =
        "S: * 1 FETCH (BODY[HEADER.FIELDS (${*})] {${n}}\\r\\nSubject: x${*})\nS: T1 OK ${*}\n";
    fetch_case(fetch14, whole, MS_RES_PASS);
    fetch_case(fetch12, whole, MS_RES_PASS);
    /* line by line, the literal's lines as S: lines */
    fetch_case(fetch14,
               "S: * 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {14}\nS: Subject: x\nS:\nS: )\n"
               "S: T1 OK done\n",
               MS_RES_PASS);
    fetch_case(fetch12,
               "S: * 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {12}\nS: Subject: x\nS: )\n"
               "S: T1 OK done\n",
               MS_RES_PASS);
    /* literal text compares case-insensitively in IMAP */
    fetch_case(fetch14,
               "S: * 1 fetch (body[header.fields (subject)] {14}\\r\\nsubject: X\\r\\n\\r\\n)\n"
               "S: t1 ok DONE\n",
               MS_RES_PASS);
    /* wrong: {14} expected, 12 came */
    static const char want14[] =
        "S: * 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {14}\\r\\nSubject: x${*})\nS: T1 OK ${*}\n";
    fetch_case(fetch14, want14, MS_RES_PASS);
    fetch_case(fetch12, want14, MS_RES_FAIL);
    /* wrong: another subject */
    fetch_case(fetch14,
               "S: * 1 FETCH (BODY[HEADER.FIELDS (${*})] {${n}}\\r\\nSubject: y${*})\n"
               "S: T1 OK ${*}\n",
               MS_RES_FAIL);
    /* wrong: line by line, with the separator line missing */
    fetch_case(fetch14,
               "S: * 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {14}\nS: Subject: x\nS: )\n"
               "S: T1 OK done\n",
               MS_RES_FAIL);

    /*
     * Unexpected untagged responses carrying literals are skipped whole by
     * @allow * ${*}: their literal lines ("Subject: x", "", and one that
     * looks like the tagged answer) are not matched on their own.
     */
    const struct fs_step noop[] = {
        SEND("* OK ready\r\n"),
        LINE("T2 NOOP"),
        SEND("* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {14}\r\nSubject: x\r\n\r\n)\r\n"
             "* 2 FETCH (BODY[TEXT] {12}\r\nT2 NO fake\r\n)\r\n"
             "T2 OK done\r\n"),
        LINE("T3 LOGOUT"),
        SEND("* BYE bye\r\nT3 OK done\r\n"),
    };
    one(noop, NSTEPS(noop), "imap",
        "S: * OK ${*}\n@allow * ${*}\nC: T2 NOOP\nS: T2 OK done\nC: T3 LOGOUT\nS: T3 OK ${*}\n", 0,
        MS_RES_PASS, NULL, SERVER_DONE);
    /* the literal line that looks like the tagged answer is not the tagged answer */
    one(noop, NSTEPS(noop), "imap", "S: * OK ${*}\n@allow * ${*}\nC: T2 NOOP\nS: T2 NO ${*}\n", 0,
        MS_RES_FAIL, "does not match", 0);
    /* wrong: an @allow that does not take these responses */
    one(noop, NSTEPS(noop), "imap", "S: * OK ${*}\n@allow * 3 ${*}\nC: T2 NOOP\nS: T2 OK done\n", 0,
        MS_RES_FAIL, "does not match", 0);
    /* wrong: no @allow at all */
    one(noop, NSTEPS(noop), "imap", "S: * OK ${*}\nC: T2 NOOP\nS: T2 OK done\n", 0, MS_RES_FAIL,
        "does not match", 0);
}

/* ---- 4. @requires reads the parsed capability list, never the greeting text ---- */

static void test_requires(void **state)
{
    (void)state;
    static const char smtp_script[] = "S: 220 ${*}\nC: EHLO me.example\nS: 250 ${*}\n"
                                      "@requires %s\nC: QUIT\nS: 221 ${*}\n";
    char script[512];

    /* AUTH only in the greeting text */
    const struct fs_step noauth[] = {
        SEND("220 mx ESMTP AUTH ready\r\n"),
        LINE("EHLO me.example"),
        SEND("250-mx\r\n250 PIPELINING\r\n"),
        LINE("QUIT"),
        SEND("221 bye\r\n"),
    };
    struct tc c;
    snprintf(script, sizeof(script), smtp_script, "AUTH");
    tc_run(&c, noauth, NSTEPS(noauth), "smtp", script, 0);
    tc_expect(&c, MS_RES_NOT_SUPPORTED, "AUTH", 0);
    ms_assert_lacks(c.r.caps, "AUTH");
    ms_assert_has(c.r.caps, "PIPELINING");
    ms_assert_lacks(c.f.got, "QUIT"); /* the test stopped at @requires */
    tc_end(&c);
    snprintf(script, sizeof(script), smtp_script, "PIPELINING");
    one(noauth, NSTEPS(noauth), "smtp", script, 0, MS_RES_PASS, NULL, SERVER_DONE);
    /* @requires before EHLO: only the greeting so far, no capability list */
    one(noauth, NSTEPS(noauth), "smtp",
        "S: 220 ${*}\n@requires AUTH\nC: EHLO me.example\nS: 250 ${*}\n", 0, MS_RES_ERROR,
        "before any capability list", 0);

    /* AUTH in the EHLO reply, with its mechanisms */
    const struct fs_step auth[] = {
        SEND("220 mx ESMTP ready\r\n"),
        LINE("EHLO me.example"),
        SEND("250-mx\r\n250-AUTH PLAIN LOGIN\r\n250 PIPELINING\r\n"),
        LINE("QUIT"),
        SEND("221 bye\r\n"),
    };
    snprintf(script, sizeof(script), smtp_script, "AUTH=PLAIN");
    one(auth, NSTEPS(auth), "smtp", script, 0, MS_RES_PASS, NULL, SERVER_DONE);
    snprintf(script, sizeof(script), smtp_script, "auth");
    one(auth, NSTEPS(auth), "smtp", script, 0, MS_RES_PASS, NULL, SERVER_DONE);
    /* wrong: a mechanism it does not offer (not-supported is what a wrong @requires gives) */
    snprintf(script, sizeof(script), smtp_script, "AUTH=CRAM-MD5");
    one(auth, NSTEPS(auth), "smtp", script, 0, MS_RES_NOT_SUPPORTED, "AUTH=CRAM-MD5", 0);
    /* wrong: the reply is expected with AUTH on its final line */
    one(auth, NSTEPS(auth), "smtp",
        "S: 220 ${*}\nC: EHLO me.example\nS: 250 AUTH${*}\nC: QUIT\nS: 221 ${*}\n", 0, MS_RES_FAIL,
        "does not match", 0);

    /* IMAP: IDLE in a CAPABILITY response */
    static const char imap_script[] = "S: * OK ${*}\nC: C1 CAPABILITY\nS: * CAPABILITY ${*}\n"
                                      "S: C1 OK ${*}\n@requires IDLE\nC: C2 NOOP\nS: C2 OK ${*}\n";
    const struct fs_step idle[] = {
        SEND("* OK ready\r\n"),
        LINE("C1 CAPABILITY"),
        SEND("* CAPABILITY IMAP4rev1 IDLE\r\nC1 OK done\r\n"),
        LINE("C2 NOOP"),
        SEND("C2 OK done\r\n"),
    };
    one(idle, NSTEPS(idle), "imap", imap_script, 0, MS_RES_PASS, NULL, SERVER_DONE);
    /* IDLE only in the greeting's text */
    const struct fs_step noidle[] = {
        SEND("* OK IMAP4rev1 IDLE ready\r\n"),
        LINE("C1 CAPABILITY"),
        SEND("* CAPABILITY IMAP4rev1\r\nC1 OK done\r\n"),
        LINE("C2 NOOP"),
        SEND("C2 OK done\r\n"),
    };
    one(noidle, NSTEPS(noidle), "imap", imap_script, 0, MS_RES_NOT_SUPPORTED, "IDLE", 0);
    /* @requires before any capability list */
    one(noidle, NSTEPS(noidle), "imap", "S: * OK ${*}\n@requires IDLE\nC: C1 CAPABILITY\n", 0,
        MS_RES_ERROR, "before any capability list", 0);
    /* a CAPABILITY response code in the greeting is a capability list */
    const struct fs_step code[] = {
        SEND("* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n"),
        LINE("C2 NOOP"),
        SEND("C2 OK done\r\n"),
    };
    one(code, NSTEPS(code), "imap", "S: * OK ${*}\n@requires IDLE\nC: C2 NOOP\nS: C2 OK ${*}\n", 0,
        MS_RES_PASS, NULL, SERVER_DONE);
    one(code, NSTEPS(code), "imap", "S: * OK ${*}\n@requires ENABLE\nC: C2 NOOP\nS: C2 OK ${*}\n",
        0, MS_RES_NOT_SUPPORTED, "ENABLE", 0);
}

/* ---- 5. POP3 multi-line responses ---- */

static void test_pop3_multiline(void **state)
{
    (void)state;
    const struct fs_step capa[] = {
        SEND("+OK ready\r\n"), LINE("CAPA"),        SEND("+OK\r\nUSER\r\nTOP\r\n.\r\n"),
        LINE("QUIT"),          SEND("+OK bye\r\n"),
    };
    /* one S: for the whole response; the next answer is QUIT's (no leftover lines) */
    one(capa, NSTEPS(capa), "pop3", "S: +OK${*}\nC: CAPA\nS: +OK${*}\nC: QUIT\nS: +OK bye\n", 0,
        MS_RES_PASS, NULL, SERVER_DONE);
    /* the capability list is read from it */
    struct tc c;
    tc_run(&c, capa, NSTEPS(capa), "pop3",
           "S: +OK${*}\nC: CAPA\nS: +OK${*}\n@requires TOP\nC: QUIT\nS: +OK bye\n", 0);
    tc_expect(&c, MS_RES_PASS, NULL, SERVER_DONE);
    ms_assert_has(c.r.caps, "TOP");
    tc_end(&c);
    /* line by line */
    one(capa, NSTEPS(capa), "pop3",
        "S: +OK${*}\nC: CAPA\nS: +OK\nS: USER\nS: TOP\nS: .\nC: QUIT\nS: +OK bye\n", 0, MS_RES_PASS,
        NULL, SERVER_DONE);
    /* wrong: the response's lines were taken with it, they do not answer QUIT */
    one(capa, NSTEPS(capa), "pop3", "S: +OK${*}\nC: CAPA\nS: +OK${*}\nC: QUIT\nS: TOP\n", 0,
        MS_RES_FAIL, "does not match", 0);
    /* wrong: CAPA is not refused */
    one(capa, NSTEPS(capa), "pop3", "S: +OK${*}\nC: CAPA\nS: -ERR${*}\nC: QUIT\nS: +OK bye\n", 0,
        MS_RES_FAIL, "does not match", 0);
}

/*
 * A line-by-line run that leaves the response's last line (".") untaken is a
 * wrong expectation: it must fail. (The whole-message rule matches "+OK"
 * against the status line; USER and TOP must not then wait for a message the
 * server will never send.)
 */
static void test_pop3_partial_run(void **state)
{
    (void)state;
    const struct fs_step capa[] = {
        SEND("+OK ready\r\n"), LINE("CAPA"),        SEND("+OK\r\nUSER\r\nTOP\r\n.\r\n"),
        LINE("QUIT"),          SEND("+OK bye\r\n"),
    };
    one(capa, NSTEPS(capa), "pop3",
        "S: +OK${*}\nC: CAPA\nS: +OK\nS: USER\nS: TOP\nC: QUIT\nS: +OK bye\n", 0, MS_RES_FAIL,
        "does not match", 0);
}

/* ---- 6. phases and @unsupported ---- */

static void test_phases(void **state)
{
    (void)state;
    static const char setup_script[] = "@phase setup\nS: 220 ${*}\nC: EHLO me.example\n"
                                       "S: 250 ${*}\n@phase check\nC: NOOP\nS: 250 ${*}\n";
    const struct fs_step refused[] = {
        SEND("220 mx\r\n"), LINE("EHLO me.example"), SEND("550 no\r\n"),
        LINE("NOOP"),       SEND("250 ok\r\n"),
    };
    one(refused, NSTEPS(refused), "smtp", setup_script, 0, MS_RES_BLOCKED, "setup", 0);
    const struct fs_step fine[] = {
        SEND("220 mx\r\n"), LINE("EHLO me.example"), SEND("250 mx\r\n"),
        LINE("NOOP"),       SEND("250 ok\r\n"),
    };
    one(fine, NSTEPS(fine), "smtp", setup_script, 0, MS_RES_PASS, NULL, SERVER_DONE);
    /* wrong: the check step's mismatch is a failure */
    one(fine, NSTEPS(fine), "smtp",
        "@phase setup\nS: 220 ${*}\nC: EHLO me.example\nS: 250 ${*}\n@phase check\nC: NOOP\n"
        "S: 251 ${*}\n",
        0, MS_RES_FAIL, "does not match", 0);

    /* a cleanup mismatch is only a note */
    const struct fs_step cleanup[] = {
        SEND("220 mx\r\n"), LINE("NOOP"), SEND("250 ok\r\n"), LINE("QUIT"), SEND("500 what\r\n"),
    };
    struct tc c;
    tc_run(&c, cleanup, NSTEPS(cleanup), "smtp",
           "S: 220 ${*}\nC: NOOP\nS: 250 ${*}\n@phase cleanup\nC: QUIT\nS: 221 ${*}\n", 0);
    tc_expect(&c, MS_RES_PASS, "cleanup", SERVER_DONE);
    tc_end(&c);
    /* wrong: the same mismatch in a check step fails */
    one(cleanup, NSTEPS(cleanup), "smtp",
        "S: 220 ${*}\nC: NOOP\nS: 250 ${*}\nC: QUIT\nS: 221 ${*}\n", 0, MS_RES_FAIL,
        "does not match", 0);

    /* @unsupported */
    static const char unsup[] = "S: 220 ${*}\nC: VRFY alice\n@unsupported 502 ${*}\nS: 250 ${*}\n"
                                "C: QUIT\nS: 221 ${*}\n";
    const struct fs_step v502[] = {
        SEND("220 mx\r\n"), LINE("VRFY alice"),  SEND("502 no\r\n"),
        LINE("QUIT"),       SEND("221 bye\r\n"),
    };
    const struct fs_step v550[] = {
        SEND("220 mx\r\n"), LINE("VRFY alice"),  SEND("550 no\r\n"),
        LINE("QUIT"),       SEND("221 bye\r\n"),
    };
    const struct fs_step v250[] = {
        SEND("220 mx\r\n"), LINE("VRFY alice"),  SEND("250 alice <alice@mx>\r\n"),
        LINE("QUIT"),       SEND("221 bye\r\n"),
    };
    one(v502, NSTEPS(v502), "smtp", unsup, 0, MS_RES_NOT_SUPPORTED, "@unsupported", 0);
    one(v550, NSTEPS(v550), "smtp", unsup, 0, MS_RES_FAIL, "does not match", 0);
    one(v250, NSTEPS(v250), "smtp", unsup, 0, MS_RES_PASS, NULL, SERVER_DONE);
    /* @unsupported is for the next S: only (here the greeting), not VRFY's answer */
    one(v502, NSTEPS(v502), "smtp",
        "@unsupported 502 ${*}\nS: 220 ${*}\nC: VRFY alice\nS: 250 ${*}\n", 0, MS_RES_FAIL,
        "does not match", 0);
}

/* ---- 7. @either ---- */

static void test_either(void **state)
{
    (void)state;
    const struct fs_step two[] = {
        SEND("220 mx\r\n"),  LINE("NOOP"), SEND("250 ok\r\n"),  LINE("QUIT"),
        SEND("221 bye\r\n"), NEXT_CONN,    SEND("220 mx\r\n"),  LINE("NOOP"),
        SEND("250 ok\r\n"),  LINE("QUIT"), SEND("221 bye\r\n"),
    };
    struct tc c;
    tc_run(&c, two, NSTEPS(two), "smtp",
           "S: 220 ${*}\nC: NOOP\n@either\nS: 500 ${*}\n@or\nS: 250 ${*}\n@end\nC: QUIT\n"
           "S: 221 ${*}\n",
           0);
    tc_expect(&c, MS_RES_PASS, "branch 2", 0);
    assert_int_equal(c.f.conns, 2);
    tc_end(&c);
    /* wrong: no branch matches */
    tc_run(&c, two, NSTEPS(two), "smtp",
           "S: 220 ${*}\nC: NOOP\n@either\nS: 500 ${*}\n@or\nS: 554 ${*}\n@end\nC: QUIT\n"
           "S: 221 ${*}\n",
           0);
    tc_expect(&c, MS_RES_FAIL, "branch 2:", 0);
    assert_int_equal(c.f.conns, 2);
    tc_end(&c);
    /* the first branch passes: one connection only */
    const struct fs_step first[] = {
        SEND("220 mx\r\n"), LINE("NOOP"), SEND("250 ok\r\n"), LINE("QUIT"), SEND("221 bye\r\n"),
    };
    one(first, NSTEPS(first), "smtp",
        "S: 220 ${*}\nC: NOOP\n@either\nS: 250 ${*}\n@or\nS: 500 ${*}\n@end\nC: QUIT\n"
        "S: 221 ${*}\n",
        0, MS_RES_PASS, NULL, SERVER_DONE);
}

/* ---- 8. case ---- */

static void test_case(void **state)
{
    (void)state;
    const struct fs_step lower[] = {
        SEND("* OK ready\r\n"),
        LINE("F1 FETCH 1 FLAGS"),
        SEND("* 1 fetch (flags (\\Seen))\r\nF1 ok done\r\n"),
    };
    one(lower, NSTEPS(lower), "imap",
        "S: * OK ${*}\nC: F1 FETCH 1 FLAGS\nS: * 1 FETCH (FLAGS (${*}))\nS: F1 OK ${*}\n", 0,
        MS_RES_PASS, NULL, SERVER_DONE);
    /* wrong: another flag */
    one(lower, NSTEPS(lower), "imap",
        "S: * OK ${*}\nC: F1 FETCH 1 FLAGS\nS: * 1 FETCH (FLAGS (\\\\Deleted))\nS: F1 OK ${*}\n", 0,
        MS_RES_FAIL, NULL, 0);
    /* POP3 status indicators are upper case: "+ok" is no "+OK" */
    const struct fs_step pop[] = {
        SEND("+ok ready\r\n"),
        LINE("QUIT"),
        SEND("+OK bye\r\n"),
    };
    one(pop, NSTEPS(pop), "pop3", "S: +OK${*}\nC: QUIT\nS: +OK${*}\n", 0, MS_RES_FAIL, NULL, 0);
    const struct fs_step popbye[] = {
        SEND("+OK ready\r\n"),
        LINE("QUIT"),
        SEND("+OK BYE\r\n"),
    };
    one(popbye, NSTEPS(popbye), "pop3", "S: +OK${*}\nC: QUIT\nS: +OK BYE\n", 0, MS_RES_PASS, NULL,
        SERVER_DONE);
    one(popbye, NSTEPS(popbye), "pop3", "S: +OK${*}\nC: QUIT\nS: +OK bye\n", 0, MS_RES_FAIL,
        "does not match", 0);
    /* SMTP: literal text is case-insensitive */
    const struct fs_step smtpbye[] = {
        SEND("220 MX.EXAMPLE ESMTP\r\n"),
        LINE("QUIT"),
        SEND("221 BYE\r\n"),
    };
    one(smtpbye, NSTEPS(smtpbye), "smtp", "S: 220 mx.example esmtp\nC: QUIT\nS: 221 bye\n", 0,
        MS_RES_PASS, NULL, SERVER_DONE);
    one(smtpbye, NSTEPS(smtpbye), "smtp", "S: 220 mx.example esmtp\nC: QUIT\nS: 221 bye now\n", 0,
        MS_RES_FAIL, "does not match", 0);
}

/* ---- 9. the password is never sent in cleartext after LOGINDISABLED ---- */

static void test_logindisabled(void **state)
{
    (void)state;
    const struct fs_step disabled[] = {
        SEND("* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi\r\n"),
        LINES(1),
        SEND("L1 OK hi\r\n"),
    };
    struct tc c;
    tc_run(&c, disabled, NSTEPS(disabled), "imap",
           "S: * OK ${*}\nC: L1 LOGIN ${user} ${password}\nS: L1 OK ${*}\n", CRED);
    tc_expect(&c, MS_RES_NA, "LOGINDISABLED", 0);
    ms_assert_lacks(c.f.got, PASSWORD);
    ms_assert_lacks(c.f.got, "LOGIN");
    tc_end(&c);
    /* nor a SASL form of it */
    tc_run(&c, disabled, NSTEPS(disabled), "imap",
           "S: * OK ${*}\nC: L1 AUTHENTICATE PLAIN ${sasl_plain}\nS: L1 OK ${*}\n", CRED);
    tc_expect(&c, MS_RES_NA, "LOGINDISABLED", 0);
    ms_assert_lacks(c.f.got, PASSWORD);
    ms_assert_lacks(c.f.got, SASL_PLAIN);
    tc_end(&c);
    /* LOGINDISABLED announced in a CAPABILITY response */
    const struct fs_step capdisabled[] = {
        SEND("* OK hi\r\n"),
        LINE("C1 CAPABILITY"),
        SEND("* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\nC1 OK done\r\n"),
        LINES(1),
        SEND("L1 OK hi\r\n"),
    };
    tc_run(&c, capdisabled, NSTEPS(capdisabled), "imap",
           "S: * OK ${*}\nC: C1 CAPABILITY\nS: * CAPABILITY ${*}\nS: C1 OK ${*}\n"
           "C: L1 LOGIN ${user} ${password}\nS: L1 OK ${*}\n",
           CRED);
    tc_expect(&c, MS_RES_NA, "LOGINDISABLED", 0);
    ms_assert_lacks(c.f.got, PASSWORD);
    ms_assert_lacks(c.f.got, "L1 LOGIN");
    tc_end(&c);
    /* the pre-flight's word (cleartext_login_refused) works the same */
    const struct fs_step plain[] = {
        SEND("* OK [CAPABILITY IMAP4rev1] hi\r\n"),
        LINE("L1 LOGIN alice s3cretPW9"),
        SEND("L1 OK hello alice, your password is s3cretPW9\r\n"),
    };
    tc_run(&c, plain, NSTEPS(plain), "imap",
           "S: * OK ${*}\nC: L1 LOGIN ${user} ${password}\nS: L1 OK ${*}\n", CRED | REFUSED);
    tc_expect(&c, MS_RES_NA, "refuses login", 0);
    ms_assert_lacks(c.f.got, PASSWORD);
    tc_end(&c);
    /* where login is allowed the password goes out, and the transcript names it only */
    tc_run(&c, plain, NSTEPS(plain), "imap",
           "S: * OK ${*}\nC: L1 LOGIN ${user} ${password}\nS: L1 OK ${*}\n", CRED);
    tc_expect(&c, MS_RES_PASS, NULL, SERVER_DONE);
    ms_assert_has(c.f.got, PASSWORD);
    ms_assert_has(c.r.transcript, "C: L1 LOGIN alice ${password}");
    ms_assert_has(c.r.transcript, "your password is ${password}");
    tc_end(&c);
    /* wrong: the server's answer is not the one expected (and the password still stays out) */
    tc_run(&c, plain, NSTEPS(plain), "imap",
           "S: * OK ${*}\nC: L1 LOGIN ${user} ${password}\nS: L1 NO ${*}\n", CRED);
    tc_expect(&c, MS_RES_FAIL, "does not match", 0);
    tc_end(&c);
}

/*
 * The runner's message buffer takes every message its IMAP parser accepts:
 * a literal just under the literal limit, without a CRLF inside, passes (it
 * was blocked as "longer than 4194304 bytes" when the buffer was 4 MiB and
 * the literal limit 8 MiB); one byte over the literal limit is blocked by
 * the parser's limit, not judged as the server's fault.
 */
static char *big_fetch(size_t size, size_t body)
{
    static const char tail[] = ")\r\nT1 OK done\r\n";
    char head[96];
    int hn = snprintf(head, sizeof(head), "* 1 FETCH (BODY[] {%zu}\r\n", size);
    char *m = malloc((size_t)hn + body + sizeof(tail));
    assert_non_null(m);
    memcpy(m, head, (size_t)hn);
    memset(m + hn, 'a', body);
    memcpy(m + (size_t)hn + body, tail, sizeof(tail));
    return m;
}

static void test_big_literal(void **state)
{
    (void)state;
    static const char script[] = "S: * OK ${*}\nC: T1 FETCH 1 BODY[]\n"
                                 "S: * 1 FETCH (BODY[] {${n}}\\r\\n${*})\nS: T1 OK ${*}\n";
    size_t size = MS_RUN_IMAP_LITERAL - 10;
    char *legal = big_fetch(size, size);
    const struct fs_step ok[] = {SEND("* OK ready\r\n"), LINE("T1 FETCH 1 BODY[]"), SEND(legal)};
    one(ok, NSTEPS(ok), "imap", script, 0, MS_RES_PASS, NULL, SERVER_DONE);
    free(legal);

    char *over = big_fetch(MS_RUN_IMAP_LITERAL + 1, 64);
    const struct fs_step too_big[] = {SEND("* OK ready\r\n"), LINE("T1 FETCH 1 BODY[]"),
                                      SEND(over)};
    one(too_big, NSTEPS(too_big), "imap", script, 0, MS_RES_BLOCKED, "beyond this run's limits", 0);
    free(over);
}

/* ---- 12. several connections in one script ---- */

static const char multi_script[] = "@protocol imap\n"
                                   "S: * OK ${*}\n"
                                   "C: a1 LOGIN ${user} ${password}\n"
                                   "S: a1 OK ${*}\n"
                                   "@connection two\n"
                                   "S: * OK ${*}\n"
                                   "C: b1 LOGIN ${user} ${password}\n"
                                   "S: b1 OK ${*}\n"
                                   "C: b2 NOOP\n"
                                   "S: * ${n} EXISTS\n"
                                   "S: b2 OK ${*}\n"
                                   "@connection main\n"
                                   "C: a2 FETCH ${n} FLAGS\n"
                                   "S: * ${n} FETCH (FLAGS ())\n"
                                   "S: a2 OK ${*}\n";

/* The fake's side of multi_script up to the last answer. */
#define MULTI_EXCHANGE                                                                             \
    SEND("* OK [CAPABILITY IMAP4rev1 IDLE] first\r\n"), LINE("a1 LOGIN alice s3cretPW9"),          \
        SEND("a1 OK in\r\n"), ACCEPT, SEND("* OK [CAPABILITY IMAP4rev1] second\r\n"),              \
        LINE("b1 LOGIN alice s3cretPW9"), SEND("b1 OK in\r\n"), LINE("b2 NOOP"),                   \
        SEND("* 7 EXISTS\r\nb2 OK done\r\n"), USE(0), LINE("a2 FETCH 7 FLAGS")

static void test_multi(void **state)
{
    (void)state;
    /* two connections open at once, interleaved; the capture of one is sent on the other */
    const struct fs_step two[] = {
        MULTI_EXCHANGE,
        SEND("* 7 FETCH (FLAGS ())\r\na2 OK done\r\n"),
    };
    struct tc c;
    tc_run(&c, two, NSTEPS(two), "imap", multi_script, CRED);
    tc_expect(&c, MS_RES_PASS, NULL, SERVER_DONE);
    assert_int_equal(c.f.conns, 2);
    /* each transcript line names its connection; secrets stay masked */
    static const char first[] = "@connection main\n# mailspec: connected";
    if (strncmp(c.r.transcript, first, sizeof(first) - 1) != 0 ||
        !strstr(c.r.transcript, "@connection two\n# mailspec: connected") ||
        !strstr(c.r.transcript, "S: * OK [CAPABILITY IMAP4rev1] second\n"
                                "C: b1 LOGIN alice ${password}\n") ||
        !strstr(c.r.transcript, "@connection main\nC: a2 FETCH 7 FLAGS\nS: * 7 FETCH") ||
        strstr(c.r.transcript, "@connection main\n@connection"))
        tc_fail(&c, "the transcript does not show which connection each line is on");
    tc_end(&c);

    /* wrong: the first connection's FETCH answer is missing; the message names it */
    const struct fs_step lost[] = {
        MULTI_EXCHANGE,
        SEND("a2 OK done\r\n"),
    };
    one(lost, NSTEPS(lost), "imap", multi_script, CRED, MS_RES_FAIL, "on connection: main", 0);

    /* framing is per connection: a message the second connection left half
     * sent does not swallow the first connection's answer */
    const struct fs_step half[] = {
        SEND("* OK first\r\n"),
        LINE("a1 NOOP"),
        SEND("a1 OK done\r\n"),
        ACCEPT,
        SEND("* OK second\r\n"),
        LINE("b1 NOOP"),
        SEND("b1 OK done\r\n* 1 FETCH (BODY[] {10}\r\nabc"),
        USE(0),
        LINE("a2 NOOP"),
        SEND("a2 OK done\r\n"),
    };
    one(half, NSTEPS(half), "imap",
        "S: * OK ${*}\nC: a1 NOOP\nS: a1 OK ${*}\n@connection b\nS: * OK second\nC: b1 NOOP\n"
        "S: b1 OK ${*}\n@connection main\nC: a2 NOOP\nS: a2 OK ${*}\n",
        0, MS_RES_PASS, NULL, SERVER_DONE);

    /* capabilities are per connection: @requires on the second reads its greeting */
    const struct fs_step caps[] = {
        SEND("* OK [CAPABILITY IMAP4rev1 IDLE] first\r\n"),
        ACCEPT,
        SEND("* OK [CAPABILITY IMAP4rev1] second\r\n"),
    };
    one(caps, NSTEPS(caps), "imap",
        "S: * OK ${*}\n@requires IDLE\n@connection b\nS: * OK ${*}\n@requires IDLE\n", 0,
        MS_RES_NOT_SUPPORTED, "does not announce IDLE", SERVER_DONE);

    /* a script that starts with @connection NAME opens only that connection */
    const struct fs_step only[] = {
        SEND("* OK hi\r\n"),
        LINE("x1 NOOP"),
        SEND("x1 OK done\r\n"),
    };
    struct tc d;
    tc_run(&d, only, NSTEPS(only), "imap",
           "@connection solo\nS: * OK ${*}\nC: x1 NOOP\nS: x1 OK ${*}\n", 0);
    tc_expect(&d, MS_RES_PASS, NULL, SERVER_DONE);
    assert_int_equal(d.f.conns, 1);
    if (!strstr(d.r.transcript, "@connection solo\n# mailspec: connected") ||
        strstr(d.r.transcript, "@connection main"))
        tc_fail(&d, "the transcript does not show the connection");
    tc_end(&d);

    /* no answer on the second connection within --timeout: blocked, bounded */
    const struct fs_step silent[] = {
        SEND("* OK first\r\n"),
        ACCEPT,
    };
    one(silent, NSTEPS(silent), "imap", "S: * OK ${*}\n@connection b\nS: * OK ${*}\n", 0,
        MS_RES_BLOCKED, "no answer within", 0);
}

/* ---- 13. ${run}: --run-id plus a part of each script's own ---- */

/* The line the script "C: x ${run}" sends, run from file. */
static void run_value(const char *file, char *out, size_t cap)
{
    static const char script[] = "S: 220 ${*}\nC: x ${run}\nS: 250 ${*}\n";
    const struct fs_step steps[] = {SEND("220 hi\r\n"), LINES(1), SEND("250 ok\r\n")};
    struct ms_script_error err;
    struct ms_script *s = ms_script_parse(script, strlen(script), &err);
    struct ms_run_opts o;
    struct tc c;

    assert_non_null(s);
    fs_start(&c.f, steps, NSTEPS(steps));
    ms_run_opts_default(&o);
    o.port = c.f.port;
    o.protocol = "smtp";
    o.timeout_ms = 3000;
    o.run_id = "rid7";
    ms_run_script(s, file, &o, &c.r);
    fs_join(&c.f);
    ms_script_free(s);
    assert_int_equal(c.r.result, MS_RES_PASS);
    snprintf(out, cap, "%s", c.f.got);
    ms_test_result_free(&c.r);
}

static void test_run_unique(void **state)
{
    (void)state;
    char a[64], b[64], a2[64];
    run_value("suites/imap/one.session", a, sizeof(a));
    run_value("suites/imap/two.session", b, sizeof(b));
    run_value("suites/imap/one.session", a2, sizeof(a2));
    /* "x rid7-" and six hex digits */
    assert_int_equal(strlen(a), strlen("x rid7-") + 6 + 2);
    assert_memory_equal(a, "x rid7-", 7);
    for (size_t i = 7; i < 13; i++)
        assert_true(strchr("0123456789abcdef", a[i]) != NULL);
    /* two scripts never share it; one script always gets the same */
    assert_string_not_equal(a, b);
    assert_string_equal(a, a2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_imap_mbox),      cmocka_unit_test(test_smtp_multiline),
        cmocka_unit_test(test_imap_literal),   cmocka_unit_test(test_requires),
        cmocka_unit_test(test_pop3_multiline), cmocka_unit_test(test_pop3_partial_run),
        cmocka_unit_test(test_phases),         cmocka_unit_test(test_either),
        cmocka_unit_test(test_case),           cmocka_unit_test(test_logindisabled),
        cmocka_unit_test(test_big_literal),    cmocka_unit_test(test_multi),
        cmocka_unit_test(test_run_unique),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
