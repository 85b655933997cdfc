/*
 * The runner's internals, shared by its files (not a public interface):
 *   runner.c        the step loop, alternatives, phases and the result
 *   runner_io.c     connection, server messages (framed by the strict
 *                   parsers), capabilities from their typed views, transcript
 *   runner_expect.c S: expectations matched against whole messages
 */
#ifndef MAILSPEC_RUNNER_INT_H
#define MAILSPEC_RUNNER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "mailspec/mailspec.h"
#include "runner.h"

#define RT_TRANSCRIPT_MAX (256u * 1024)
#define RT_SEND_MAX       (64u * 1024)
#define RT_MAX_FILTERS    64
#define RT_MAX_UNSUP      8
#define RT_CAPS_MAX       (8u * 1024)

/* A growable buffer that refuses to grow past max (curl's dynbuf habit). */
struct sbuf {
    char *p;
    size_t len, cap, max;
    int truncated;
};
void sb_add(struct sbuf *b, const char *p, size_t n);
void sb_str(struct sbuf *b, const char *s);

/* One line of the current server message: rbuf[off..off+len), line end excluded. */
struct rt_line {
    size_t off, len;
};

/*
 * One connection of a script (docs/session-format.md "Several connections"):
 * its socket, its server bytes and their framing (a session driver of its
 * own, so each connection's messages are framed by what was sent on it),
 * and what the server announced on it.
 */
struct rt_conn {
    const char *name; /* ms_script.conns[i] */
    struct ms_conn conn;
    int open, eof;
    int opened; /* it was opened once (a closed one is not opened again by itself) */
    /* server bytes; rbuf[0..consumed) is the current message */
    char *rbuf;
    size_t rlen, rcap, consumed, scanned;
    struct rt_line *lines; /* the current message's lines */
    size_t nlines, lines_cap;
    /* strict parsers over both directions; they also frame the messages */
    int strict;
    struct ms_session ss;
    void *cst, *cv, *sst, *sv;
    char *cb, *sb;
    size_t bcap;
    int msg_end;   /* the line just fed ended a server message */
    int pop3_open; /* POP3: a multi-line response is open */
    int gram;      /* a server message broke the grammar */
    int gram_code; /* 1 grammar (MS_ERR_SYNTAX, _STATE, _TRUNCATED), 2 our limit (MS_ERR_LIMIT) */
    char gram_msg[512];
    /* capabilities announced on this connection (typed views), "\0"-separated
     * upper-case "NAME" and "NAME=PARAM" entries */
    char caps[RT_CAPS_MAX];
    size_t caps_len;
    int caps_seen;
    int tls_now;     /* this connection is inside TLS */
    int secret_sent; /* the password (or a form of it) was sent on this connection */
    int auto_tls;    /* --tls starttls: upgrade before the first command */
    int apop;        /* POP3: 0 no greeting yet, 1 no <timestamp> in it, 2 derived */
};

struct rt {
    const struct ms_script *s;
    const char *file;
    const struct ms_run_opts *o;
    const char *pname;
    const struct ms_proto *proto;
    unsigned match_flags; /* MS_MATCH_NOCASE for IMAP and SMTP */
    unsigned variant;     /* the @either branch this run takes */
    struct ms_limits lim;
    struct rt_conn conns[MS_SCRIPT_MAX_CONNS];
    struct rt_conn *c;             /* the current connection */
    const struct rt_conn *tr_conn; /* the connection of the transcript's last line */
    size_t rmax;                   /* the bound of one server message */
    struct ms_vars vars;
    /* The password as the content of an IMAP quoted string ('"' and '\\'
     * escaped, RFC 9051 4.3), the form ${mbox:password} may send and a server
     * may echo; masked like the password. NULL when it is the password. */
    char *pw_quoted;
    size_t pw_quoted_len;
    struct sbuf tr; /* transcript */
    const struct ms_step *allow[RT_MAX_FILTERS], *forbid[RT_MAX_FILTERS];
    size_t nallow, nforbid;
    const struct ms_step *unsup[RT_MAX_UNSUP]; /* @unsupported for the next S: */
    size_t nunsup;
    uint8_t phase; /* of the step being run */
    enum ms_result res;
    int done;
    char msg[4096];
    char cleanup_note[1024];
    char lw_note[1400]; /* why a run did not take a message line by line */
    char got[1300];     /* the server's line the verdict is about (escaped, redacted) */
    size_t fail_line;
    struct ms_tls_info tls;
    enum ms_conn_error conn_error; /* why connecting or TLS failed */
    int tls_failed;
    char note[256];
};

/* The result, once; a mismatch in a setup step blocks, in a cleanup step it is a note. */
void rt_finish(struct rt *t, enum ms_result res, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void tr_note(struct rt *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tr_line(struct rt *t, const char *prefix, const char *p, size_t n);
void tr_send(struct rt *t, const struct ms_step *st);
void esc_short(struct rt *t, char *out, size_t cap, const char *p, size_t n);
void pattern_short(const struct rt *t, const struct ms_step *st, char *out, size_t cap);
uint64_t rt_deadline(const struct rt *t);

/* runner_io.c */
int rt_open(struct rt *t, size_t line);
void rt_close(struct rt *t);
/* Close every connection and free their buffers. */
void rt_close_all(struct rt *t);
/* Before a transcript line of a script with named connections: "@connection
 * NAME" when the line is on another connection than the line before. */
void tr_tag(struct rt *t);
int rt_tls(struct rt *t, size_t line);
/* @tls-close: a TLS close_notify, then cleartext on the same connection. */
int rt_tls_close(struct rt *t, size_t line);
int rt_send_bytes(struct rt *t, size_t line, const char *buf, size_t n);
int rt_read_more(struct rt *t, uint64_t dl, size_t sline);
void rt_compact(struct rt *t);
/*
 * The next whole server message (t->lines, t->nlines; bytes rbuf[0..consumed)).
 * Returns 1, 0 on a clean close at a message boundary, -1 with the result
 * set, -2 on timeout (result not set: the caller words it).
 */
int rt_get_msg(struct rt *t, uint64_t dl, size_t sline);
/*
 * The line that stands for the current message (NULL when there is none): an
 * SMTP reply's final line (the one with the code and SP), else the first
 * (a POP3 status line, the head of an IMAP response).
 */
const struct rt_line *rt_key_line(const struct rt *t);
/* The server's message as one text (lines joined by their line ends). */
void rt_msg_text(const struct rt *t, const char **p, size_t *n);
/* Feed raw server bytes (an @nocrlf expectation) to the strict parsers. */
int rt_feed_raw(struct rt *t, size_t sline, const char *p, size_t n);
int rt_has_cap(const struct rt *t, const char *cap, size_t n);
/* The capabilities as space-separated words (malloc'd). */
char *rt_caps_text(const struct rt *t);
/* A strict parser's complaint about the message just read: fail/block, or a note. */
int rt_grammar_verdict(struct rt *t, size_t sline);
/* Sets of variables, one bit per index (MS_SCRIPT_MAX_VARS is 64). */
#define RT_VAR(v) (UINT64_C(1) << (v))
/* Never printed: the password and what is derived from it. */
#define RT_SECRET_VARS                                                                             \
    (RT_VAR(MS_VAR_PASSWORD) | RT_VAR(MS_VAR_SASL_PLAIN) | RT_VAR(MS_VAR_SASL_PLAIN_AUTHZ) |       \
     RT_VAR(MS_VAR_SASL_PASSWORD) | RT_VAR(MS_VAR_APOP_DIGEST))
/* What a test needs --user/--password for. */
#define RT_CREDENTIAL_VARS (RT_SECRET_VARS | RT_VAR(MS_VAR_USER) | RT_VAR(MS_VAR_SASL_USER))
/* The variables a step sends (or matches), as a set. */
uint64_t rt_step_vars(const struct ms_script *s, const struct ms_step *st);

/* runner_expect.c */
/* S: steps from index i on (a run of S: lines); returns the last step consumed, or -1. */
long rt_expect(struct rt *t, size_t i);
int rt_expect_nocrlf(struct rt *t, const struct ms_step *st);
int rt_unordered(struct rt *t, size_t first, size_t end);
int rt_expect_close(struct rt *t, const struct ms_step *st);
/* The current message is taken by the S: step st (line by line or whole): 1, else 0. */
int rt_msg_matches(struct rt *t, const struct ms_step *st);

#endif
