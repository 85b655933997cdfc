/*
 * Unit tests of the recorder's pure layers: escaping, the line writer and the
 * sanitizer (credentials and volatile values), positive and negative cases.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "harness.h"
#include "mailspec/script.h"
#include "record.h"
#include "transport.h"

static char file[1 << 18];
static size_t file_len;

static int sink(void *ctx, const char *line, size_t n)
{
    (void)ctx;
    assert_true(file_len + n + 1 < sizeof(file));
    memcpy(file + file_len, line, n);
    file_len += n;
    file[file_len++] = '\n';
    file[file_len] = '\0';
    return 0;
}

/*
 * Record a dialogue: each chunk starts with 'C' or 'S' (its direction), the
 * rest are its bytes. Returns the .session text. Every dialogue is recorded
 * twice, the second time with each chunk split at every byte: the file must
 * not change (what a line is comes from the session driver, which gives
 * the same results however its input is split).
 */
static const char *rec_raw(enum ms_rec_proto p, int raw, const char *const *chunks)
{
    static struct ms_rec_writer w;
    static char first[sizeof(file)];

    for (int split = 0; split < 2; split++) {
        file_len = 0;
        file[0] = '\0';
        assert_int_equal(ms_rec_writer_init(&w, p, raw, sink, NULL), 0);
        for (size_t i = 0; chunks[i]; i++) {
            const char *b = chunks[i] + 1;
            size_t n = strlen(b);
            if (!split)
                ms_rec_writer_data(&w, chunks[i][0] == 'S', b, n);
            else
                for (size_t k = 0; k < n; k++)
                    ms_rec_writer_data(&w, chunks[i][0] == 'S', b + k, 1);
        }
        ms_rec_writer_flush(&w);
        ms_rec_writer_free(&w);
        if (!split)
            memcpy(first, file, file_len + 1);
        else
            assert_string_equal(file, first);
    }
    return file;
}

#define REC(p, ...) rec_raw((p), 0, (const char *const[]){__VA_ARGS__, NULL})
#define RAW(p, ...) rec_raw((p), 1, (const char *const[]){__VA_ARGS__, NULL})

/* One line through the sanitizer: its rendering. */
static const char *esc(const char *b, size_t n)
{
    static char buf[1024];
    struct ms_out o;
    ms_out_init(&o, buf, sizeof(buf) - 1);
    ms_script_escape_opt(&o, b, n, MS_ESCAPE_UTF8);
    assert_false(o.overflow);
    buf[o.len] = '\0';
    return buf;
}

static void test_escape(void **st)
{
    (void)st;
    assert_string_equal(esc("a b", 3), "a b");
    assert_string_equal(esc("a\\b", 3), "a\\\\b");
    assert_string_equal(esc("\r\n\t", 3), "\\r\\n\\t");
    assert_string_equal(esc("\x00\x01\x7f", 3), "\\x00\\x01\\x7f");
    /* valid UTF-8 stays, invalid bytes are escaped one by one */
    assert_string_equal(esc("caf\xc3\xa9", 5), "caf\xc3\xa9");
    assert_string_equal(esc("\xc3", 1), "\\xc3");
    assert_string_equal(esc("\xc3\x28", 2), "\\xc3(");
    assert_string_equal(esc("\xc0\xaf", 2), "\\xc0\\xaf");          /* overlong */
    assert_string_equal(esc("\xed\xa0\x80", 3), "\\xed\\xa0\\x80"); /* surrogate */
    assert_string_equal(esc("\xf0\x9f\x98\x80", 4), "\xf0\x9f\x98\x80");
    /* "${" would be a variable; a lone "$" is fine */
    assert_string_equal(esc("a${x}", 5), "a\\x24{x}");
    assert_string_equal(esc("$5 $", 4), "$5 $");
    /* spaces are kept as they are: the reader eats exactly one after "C:" */
    assert_string_equal(esc(" x ", 3), " x ");
}

/* What the writer produces reads back (ms_transcript_next) as the same bytes. */
static void test_writer_roundtrip(void **st)
{
    static const char *const chunks[] = {
        "S* OK hi\r\n", "Ca1 NOOP\r\n",   "Sa1 OK \\ done\x01\xff\r\n",
        "C\r\n",        "C bare\nlf\r\n", NULL};
    char scratch[256];
    char want[2][256];
    size_t wl[2] = {0, 0}, got[2] = {0, 0};
    (void)st;

    const char *t = rec_raw(MS_REC_IMAP, 1, chunks);
    for (size_t i = 0; chunks[i]; i++) {
        int d = chunks[i][0] == 'S';
        size_t n = strlen(chunks[i] + 1);
        memcpy(want[d] + wl[d], chunks[i] + 1, n);
        wl[d] += n;
    }
    size_t pos = 0;
    struct ms_titem item;
    struct ms_error err;
    int r;
    char back[2][256];
    while ((r = ms_transcript_next(t, strlen(t), &pos, &item, scratch, sizeof(scratch), &err)) ==
           1) {
        assert_int_not_equal(item.type, MS_T_DIRECTIVE);
        int d = item.type == MS_T_SERVER;
        memcpy(back[d] + got[d], item.data, item.len);
        got[d] += item.len;
    }
    assert_int_equal(r, 0);
    for (int d = 0; d < 2; d++) {
        assert_int_equal(got[d], wl[d]);
        assert_memory_equal(back[d], want[d], wl[d]);
    }
}

static void test_writer_segments(void **st)
{
    (void)st;
    /* a line split by TCP is joined again */
    assert_string_equal(REC(MS_REC_IMAP, "S* OK [CAP] x\r\n", "Ca1 NO", "COP\r\n"),
                        "S: * OK [CAP] ${*}\nC: a1 NOOP\n");
    /* CR and LF in different segments */
    assert_string_equal(REC(MS_REC_IMAP, "S* OK x\r", "S\n"), "S: * OK ${*}\n");
    /* bytes without CRLF before the other side speaks: @nocrlf */
    assert_string_equal(REC(MS_REC_SMTP, "S220 x\r\n", "CNOOP", "S500 what\r\n"),
                        "S: 220 ${*}\n@nocrlf\nC: NOOP\nS: 500 what\n");
    /* and at the end of the connection */
    assert_string_equal(REC(MS_REC_POP3, "S+OK hi\r\n", "CQUIT"),
                        "S: +OK ${*}\n@nocrlf\nC: QUIT\n");
    /* an empty line is "C:" alone */
    assert_string_equal(RAW(MS_REC_SMTP, "C\r\n"), "C:\n");
    /* bare LF stays inside the line */
    assert_string_equal(RAW(MS_REC_SMTP, "Ca\nb\r\n"), "C: a\\nb\n");
}

static void test_writer_long_line(void **st)
{
    static char big[MS_REC_PARTIAL_MAX + 10];
    static struct ms_rec_writer w;
    (void)st;

    memset(big, 'x', sizeof(big));
    file_len = 0;
    assert_int_equal(ms_rec_writer_init(&w, MS_REC_SMTP, 1, sink, NULL), 0);
    ms_rec_writer_data(&w, 0, big, sizeof(big));
    ms_rec_writer_data(&w, 0, "\r\n", 2);
    ms_rec_writer_flush(&w);
    ms_rec_writer_free(&w);
    /* the first MS_REC_PARTIAL_MAX bytes as a line without CRLF, then the rest */
    assert_int_equal(file_len, 8 + 3 + MS_REC_PARTIAL_MAX + 1 + 3 + 10 + 1);
    assert_memory_equal(file, "@nocrlf\nC: xxx", 14);
    assert_string_equal(file + file_len - 15, "\nC: xxxxxxxxxx\n");
}

static void test_imap_login(void **st)
{
    (void)st;
    const char *t =
        REC(MS_REC_IMAP, "S* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] Dovecot ready.\r\n",
            "Ca1 LOGIN alice \"alice-secret\"\r\n", "Sa1 OK [CAPABILITY IMAP4rev1] Logged in\r\n");
    assert_string_equal(t, "S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ${*}\n"
                           "C: a1 LOGIN ${user} \"${password}\"\n"
                           "S: a1 OK [CAPABILITY IMAP4rev1] Logged in\n");
    ms_assert_lacks(t, "alice-secret");
    /* quoted with escapes, case-insensitive command */
    t = REC(MS_REC_IMAP, "S* OK x\r\n", "CA001 login \"al\\\"ice\" \"p\\\\w d\"\r\n");
    assert_string_equal(t, "S: * OK ${*}\nC: A001 login \"${user}\" \"${password}\"\n");
    /* literals: the credential bytes are replaced, the counts stay */
    t = REC(MS_REC_IMAP, "S* OK x\r\n", "Ca LOGIN {5}\r\n", "S+ OK\r\n", "Calice {12}\r\n",
            "S+ OK\r\n", "Calice-secret\r\n", "Sa OK done\r\n", "Cb NOOP\r\n");
    assert_string_equal(t, "S: * OK ${*}\nC: a LOGIN {5}\nS: + OK\nC: ${user} {12}\nS: + OK\n"
                           "C: ${password}\nS: a OK done\nC: b NOOP\n");
    ms_assert_lacks(t, "secret");
    /* negative: LOGIN as a mailbox name or in other commands is not touched */
    t = REC(MS_REC_IMAP, "S* OK x\r\n", "Ca SELECT LOGIN\r\n", "Cb LIST \"\" LOGIN\r\n");
    assert_string_equal(t, "S: * OK ${*}\nC: a SELECT LOGIN\nC: b LIST \"\" LOGIN\n");
    /* negative: a message literal containing "x LOGIN a b" is data */
    t = REC(MS_REC_IMAP, "S* OK x\r\n", "Ca APPEND INBOX {19}\r\n", "S+ go\r\n",
            "Cx LOGIN user pass\r\n\r\n", "Sa OK APPEND\r\n");
    assert_string_equal(t, "S: * OK ${*}\nC: a APPEND INBOX {19}\nS: + go\n"
                           "C: x LOGIN user pass\nC:\nS: a OK APPEND\n");
    /* the same with a wrong count: the command is rejected (a bare LF after
     * the literal), nothing says what its lines are, and a line that starts
     * like LOGIN is redacted to be safe */
    t = REC(MS_REC_IMAP, "S* OK x\r\n", "Ca APPEND INBOX {20}\r\n", "S+ go\r\n",
            "Cx LOGIN user pass\r\n\r\n", "Sa BAD no\r\n");
    assert_string_equal(t, "S: * OK ${*}\nC: a APPEND INBOX {20}\nS: + go\n"
                           "C: x LOGIN ${sasl_redacted}\nC:\nS: a BAD no\n");
}

static void test_imap_authenticate(void **st)
{
    (void)st;
    /* PLAIN with SASL-IR: base64("\0alice\0alice-secret") */
    const char *t =
        REC(MS_REC_IMAP, "S* OK x\r\n", "Ca1 AUTHENTICATE PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA==\r\n",
            "Sa1 OK Logged in\r\n");
    assert_string_equal(t, "S: * OK ${*}\nC: a1 AUTHENTICATE PLAIN ${sasl_plain}\n"
                           "S: a1 OK Logged in\n");
    ms_assert_lacks(t, "AGFsaWNl");
    /* PLAIN after a continuation; authzid set */
    t = REC(MS_REC_IMAP, "S* OK x\r\n", "Ca1 AUTHENTICATE PLAIN\r\n", "S+ \r\n",
            "CYWxpY2UAYWxpY2UAYWxpY2Utc2VjcmV0\r\n", "Sa1 OK yes\r\n", "Ca2 NOOP\r\n");
    assert_string_equal(t, "S: * OK ${*}\nC: a1 AUTHENTICATE PLAIN\nS: + \n"
                           "C: ${sasl_plain_authz}\nS: a1 OK yes\nC: a2 NOOP\n");
    /* LOGIN: user then password */
    t = REC(MS_REC_IMAP, "S* OK x\r\n", "Ca1 AUTHENTICATE LOGIN\r\n", "S+ VXNlcm5hbWU6\r\n",
            "CYWxpY2U=\r\n", "S+ UGFzc3dvcmQ6\r\n", "CYWxpY2Utc2VjcmV0\r\n", "Sa1 OK\r\n");
    assert_string_equal(t, "S: * OK ${*}\nC: a1 AUTHENTICATE LOGIN\nS: + VXNlcm5hbWU6\n"
                           "C: ${sasl_user}\nS: + UGFzc3dvcmQ6\nC: ${sasl_password}\nS: a1 OK\n");
    /* CRAM-MD5: challenge varies, response redacted; cancel "*" kept */
    t = REC(MS_REC_IMAP, "S* OK x\r\n", "Ca1 AUTHENTICATE CRAM-MD5\r\n", "S+ PDE4OTYuNjk3\r\n",
            "C*\r\n", "Sa1 BAD cancelled\r\n");
    assert_string_equal(t, "S: * OK ${*}\nC: a1 AUTHENTICATE CRAM-MD5\nS: + ${*}\nC: *\n"
                           "S: a1 BAD cancelled\n");
    /* negative: garbage that is not PLAIN is still not written */
    t = REC(MS_REC_IMAP, "S* OK x\r\n", "Ca1 AUTHENTICATE PLAIN c2VjcmV0\r\n");
    assert_string_equal(t, "S: * OK ${*}\nC: a1 AUTHENTICATE PLAIN ${sasl_redacted}\n");
}

static void test_imap_volatile(void **st)
{
    (void)st;
    const char *t =
        REC(MS_REC_IMAP, "S* OK x\r\n", "Ca SELECT INBOX\r\n",
            "S* OK [UIDVALIDITY 1732634259] UIDs valid\r\n* OK [UIDNEXT 5] Predicted next UID\r\n"
            "* OK [HIGHESTMODSEQ 7] Highest\r\n* 4 EXISTS\r\n",
            "Sa OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n",
            "Cb FETCH 1 (INTERNALDATE UID)\r\n",
            "S* 1 FETCH (UID 1 INTERNALDATE \"26-Nov-2026 13:37:39 +0000\" MODSEQ (3))\r\n",
            "Sb OK Fetch completed (0.002 + 0.000 + 0.001 secs).\r\n", "Cc APPEND INBOX {3}\r\n",
            "S+ OK\r\n", "Cabc\r\n",
            "Sc OK [APPENDUID 1732634259 5] Append completed (0.005 + 0.000 secs).\r\n",
            "Sd OK [COPYUID 1732634259 1:2 6:7] Moved\r\n",
            "S* STATUS INBOX (MESSAGES 4 UIDNEXT 5 UIDVALIDITY 99)\r\n");
    assert_string_equal(t, "S: * OK ${*}\nC: a SELECT INBOX\n"
                           "S: * OK [UIDVALIDITY ${*}] UIDs valid\n"
                           "S: * OK [UIDNEXT ${*}] Predicted next UID\n"
                           "S: * OK [HIGHESTMODSEQ ${*}] Highest\n"
                           "S: * 4 EXISTS\n"
                           "S: a OK [READ-WRITE] Select completed ${*}\n"
                           "C: b FETCH 1 (INTERNALDATE UID)\n"
                           "S: * 1 FETCH (UID 1 INTERNALDATE \"${*}\" MODSEQ (${*}))\n"
                           "S: b OK Fetch completed ${*}\n"
                           "C: c APPEND INBOX {3}\nS: + OK\nC: abc\n"
                           "S: c OK [APPENDUID ${*}] Append completed ${*}\n"
                           "S: d OK [COPYUID ${*}] Moved\n"
                           "S: * STATUS INBOX (MESSAGES 4 UIDNEXT ${*} UIDVALIDITY ${*})\n");
    /* negative: literal bytes from the server are never rewritten */
    t = REC(MS_REC_IMAP, "S* OK x\r\n",
            "S* 1 FETCH (BODY[] {36}\r\nX-Note: UIDVALIDITY 12 (0.1 secs).\r\n)\r\n",
            "S* 2 FETCH (FLAGS (\\Seen) UID 9)\r\n");
    assert_string_equal(t, "S: * OK ${*}\nS: * 1 FETCH (BODY[] {36}\n"
                           "S: X-Note: UIDVALIDITY 12 (0.1 secs).\nS: )\n"
                           "S: * 2 FETCH (FLAGS (\\\\Seen) UID 9)\n");
    /* \Recent and RECENT depend on which session saw the message first */
    t = REC(MS_REC_IMAP, "S* OK x\r\n", "S* 4 RECENT\r\n* 1 FETCH (FLAGS (\\Seen \\Recent))\r\n",
            "S* 2 FETCH (FLAGS (\\Recent))\r\n* 3 FETCH (FLAGS (\\Recent \\Seen) UID 3)\r\n",
            "S* 4 FETCH (FLAGS (\\Recently))\r\n* 4 RECENTLY\r\n");
    assert_string_equal(t, "S: * OK ${*}\nS: * ${*} RECENT\n"
                           "S: * 1 FETCH (FLAGS (\\\\Seen${*}))\n"
                           "S: * 2 FETCH (FLAGS (${*}))\n"
                           "S: * 3 FETCH (FLAGS (${*}\\\\Seen) UID 3)\n"
                           "S: * 4 FETCH (FLAGS (\\\\Recently))\nS: * 4 RECENTLY\n");
    /* negative: numbers that only look alike stay */
    t = REC(MS_REC_IMAP, "S* OK x\r\n", "S* OK [XUIDNEXT 5] no\r\n", "Sa OK took (many secs).\r\n");
    assert_string_equal(t, "S: * OK ${*}\nS: * OK [XUIDNEXT 5] no\nS: a OK took (many secs).\n");
}

static void test_imap_starttls(void **st)
{
    struct ms_rec_san s;
    (void)st;

    assert_int_equal(ms_rec_san_init(&s, MS_REC_IMAP, 0, NULL, NULL), 0);
    ms_rec_sanitize(&s, 1, "* OK hi", 7, 1);
    assert_false(s.tls_go);
    ms_rec_sanitize(&s, 0, "t1 STARTTLS", 11, 1);
    ms_rec_sanitize(&s, 1, "* OK other", 10, 1);
    assert_false(s.tls_go);
    ms_rec_sanitize(&s, 1, "t1 OK Begin TLS negotiation now.", 32, 1);
    assert_true(s.tls_go);
    ms_rec_san_free(&s);
    /* refused: no upgrade */
    assert_int_equal(ms_rec_san_init(&s, MS_REC_IMAP, 1, NULL, NULL), 0);
    ms_rec_sanitize(&s, 1, "* OK hi", 7, 1);
    ms_rec_sanitize(&s, 0, "t1 STARTTLS", 11, 1);
    ms_rec_sanitize(&s, 1, "t1 BAD TLS is active", 20, 1);
    assert_false(s.tls_go);
    ms_rec_san_free(&s);
    /* the writer reports it after the server line (also in --raw) */
    const char *t =
        RAW(MS_REC_IMAP, "S* OK x\r\n", "Ca STARTTLS\r\n", "Sa OK Begin TLS negotiation now.\r\n");
    assert_string_equal(t, "S: * OK x\nC: a STARTTLS\nS: a OK Begin TLS negotiation now.\n");
}

static void test_smtp(void **st)
{
    (void)st;
    const char *t = REC(
        MS_REC_SMTP, "S220 mail.example ESMTP Postfix (Debian/GNU)\r\n", "CEHLO client\r\n",
        "S250-localhost\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n",
        "CAUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA==\r\n", "S235 2.7.0 Authentication successful\r\n",
        "CMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n",
        "S250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
        "CAUTH LOGIN x\r\nQUIT\r\n.\r\n", "S250 2.0.0 Ok: queued as 4XyZ12abc\r\n", "CQUIT\r\n",
        "S221 2.0.0 Bye\r\n");
    assert_string_equal(t, "S: 220 ${*}\nC: EHLO client\nS: 250-${*}\nS: 250-PIPELINING\n"
                           "S: 250-AUTH PLAIN LOGIN\nS: 250 8BITMIME\n"
                           "C: AUTH PLAIN ${sasl_plain}\n"
                           "S: 235 2.7.0 Authentication successful\n"
                           "C: MAIL FROM:<a@b>\nC: RCPT TO:<c@d>\nC: DATA\n"
                           "S: 250 2.1.0 Ok\nS: 250 2.1.5 Ok\n"
                           "S: 354 End data with <CR><LF>.<CR><LF>\n"
                           "C: AUTH LOGIN x\nC: QUIT\nC: .\n"
                           "S: 250 2.0.0 Ok: queued as ${*}\nC: QUIT\nS: 221 2.0.0 Bye\n");
    ms_assert_lacks(t, "AGFsaWNl");
    /* AUTH LOGIN without initial response, multi-line greeting */
    t = REC(MS_REC_SMTP, "S220-first\r\n220 second\r\n", "CAUTH LOGIN\r\n", "S334 VXNlcm5hbWU6\r\n",
            "CYWxpY2U=\r\n", "S334 UGFzc3dvcmQ6\r\n", "CYWxpY2Utc2VjcmV0\r\n", "S235 ok\r\n",
            "CNOOP\r\n");
    assert_string_equal(t, "S: 220-${*}\nS: 220 ${*}\nC: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\n"
                           "C: ${sasl_user}\nS: 334 UGFzc3dvcmQ6\nC: ${sasl_password}\n"
                           "S: 235 ok\nC: NOOP\n");
    /* LOGIN with initial response: that is the user */
    t = REC(MS_REC_SMTP, "S220 x\r\n", "CAUTH LOGIN YWxpY2U=\r\n", "S334 UGFzc3dvcmQ6\r\n",
            "CYWxpY2Utc2VjcmV0\r\n", "S535 5.7.8 no\r\n", "CNOOP\r\n");
    assert_string_equal(t, "S: 220 ${*}\nC: AUTH LOGIN ${sasl_user}\nS: 334 UGFzc3dvcmQ6\n"
                           "C: ${sasl_password}\nS: 535 5.7.8 no\nC: NOOP\n");
    /* negative: "AUTH" inside DATA is content; a rejected DATA does not start content */
    t = REC(MS_REC_SMTP, "S220 x\r\n", "CDATA\r\n", "S554 5.5.1 no valid recipients\r\n",
            "CAUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA==\r\n");
    assert_string_equal(t, "S: 220 ${*}\nC: DATA\nS: 554 5.5.1 no valid recipients\n"
                           "C: AUTH PLAIN ${sasl_plain}\n");
    /* BDAT chunk bytes are data, the next command is a command */
    t = REC(MS_REC_SMTP, "S220 x\r\n", "CBDAT 5 LAST\r\nAUTH NOOP\r\n");
    assert_string_equal(t, "S: 220 ${*}\nC: BDAT 5 LAST\nC: AUTH NOOP\n");
    /* STARTTLS go-ahead */
    struct ms_rec_san s;
    assert_int_equal(ms_rec_san_init(&s, MS_REC_SMTP, 0, NULL, NULL), 0);
    ms_rec_sanitize(&s, 1, "220 x", 5, 1);
    ms_rec_sanitize(&s, 0, "EHLO a", 6, 1);
    ms_rec_sanitize(&s, 0, "STARTTLS", 8, 1);
    ms_rec_sanitize(&s, 1, "250 ok", 6, 1);
    assert_false(s.tls_go); /* that 250 answered EHLO */
    ms_rec_sanitize(&s, 1, "220 2.0.0 Ready to start TLS", 28, 1);
    assert_true(s.tls_go);
    ms_rec_sanitize(&s, 0, "STARTTLS", 8, 1);
    ms_rec_sanitize(&s, 1, "454 4.7.0 TLS not available", 27, 1);
    assert_false(s.tls_go);
    ms_rec_san_free(&s);
}

static void test_pop3(void **st)
{
    (void)st;
    const char *t =
        REC(MS_REC_POP3, "S+OK Dovecot ready. <1896.697170952@dbc.mtview.ca.us>\r\n",
            "CUSER alice\r\n", "S+OK\r\n", "CPASS alice-secret\r\n", "S+OK Logged in.\r\n",
            "CUIDL\r\n", "S+OK\r\n1 00000001674589d3\r\n2 00000002674589d3\r\n.\r\n", "CUIDL 2\r\n",
            "S+OK 2 00000002674589d3\r\n", "CRETR 1\r\n", "S+OK 5 octets\r\nUSER x\r\n..\r\n.\r\n",
            "CAPOP alice c4c9334bac59000000000000000000f0\r\n", "S-ERR no\r\n", "CSTAT\r\n",
            "S+OK 4 1000\r\n");
    assert_string_equal(t, "S: +OK ${*}\nC: USER ${user}\nS: +OK\nC: PASS ${password}\n"
                           "S: +OK Logged in.\nC: UIDL\nS: +OK\nS: 1 ${*}\nS: 2 ${*}\nS: .\n"
                           "C: UIDL 2\nS: +OK 2 ${*}\nC: RETR 1\nS: +OK 5 octets\nS: USER x\n"
                           "S: ..\nS: .\nC: APOP ${user} ${apop_digest}\nS: -ERR no\n"
                           "C: STAT\nS: +OK 4 1000\n");
    ms_assert_lacks(t, "secret");
    ms_assert_lacks(t, "c4c9334bac5");
    /* a digest the parser rejects (not 32 hex digits): all arguments go */
    t = REC(MS_REC_POP3, "S+OK x\r\n", "CAPOP alice c4c9334bac5\r\n", "S-ERR no\r\n");
    assert_string_equal(t, "S: +OK ${*}\nC: APOP ${sasl_redacted}\nS: -ERR no\n");
    /* a -ERR to a multi-line command has no content; pipelined commands */
    t = REC(MS_REC_POP3, "S+OK\r\n", "CLIST 9\r\nLIST\r\nUIDL 7\r\n",
            "S-ERR no such message\r\n+OK 1 messages\r\n1 120\r\n.\r\n-ERR no\r\n");
    assert_string_equal(t, "S: +OK\nC: LIST 9\nC: LIST\nC: UIDL 7\nS: -ERR no such message\n"
                           "S: +OK 1 messages\nS: 1 120\nS: .\nS: -ERR no\n");
    /* SASL PLAIN after a continuation */
    t = REC(MS_REC_POP3, "S+OK x\r\n", "CAUTH PLAIN\r\n", "S+ \r\n",
            "CAGFsaWNlAGFsaWNlLXNlY3JldA==\r\n", "S+OK Logged in.\r\n", "CUSER bob\r\n");
    assert_string_equal(t, "S: +OK ${*}\nC: AUTH PLAIN\nS: + \nC: ${sasl_plain}\n"
                           "S: +OK Logged in.\nC: USER ${user}\n");
    /* STLS */
    struct ms_rec_san s;
    assert_int_equal(ms_rec_san_init(&s, MS_REC_POP3, 0, NULL, NULL), 0);
    ms_rec_sanitize(&s, 1, "+OK x", 5, 1);
    ms_rec_sanitize(&s, 0, "STLS", 4, 1);
    ms_rec_sanitize(&s, 1, "+OK Begin TLS negotiation", 25, 1);
    assert_true(s.tls_go);
    ms_rec_san_free(&s);
}

/*
 * What a line is comes from the session driver's framing and typed views,
 * not from the text of the line: each case has a line that looks like a
 * credential command but is data, or a credential that does not look like
 * one.
 */
static void test_driver_decides(void **st)
{
    (void)st;
    /* IMAP: literal bytes that read like a LOGIN are data (LITERAL+ too) */
    const char *t = REC(MS_REC_IMAP, "S* OK x\r\n",
                        "Ca APPEND INBOX {20+}\r\na1 LOGIN user pass\r\n\r\n", "Sa OK APPEND\r\n");
    assert_string_equal(t, "S: * OK ${*}\nC: a APPEND INBOX {20+}\nC: a1 LOGIN user pass\nC:\n"
                           "S: a OK APPEND\n");
    /* IMAP: a password sent as a literal is a credential all the same */
    t = REC(MS_REC_IMAP, "S* OK x\r\n", "Ca1 LOGIN alice {6}\r\n", "S+ OK\r\n", "Csecret\r\n",
            "Sa1 OK Logged in\r\n");
    assert_string_equal(t, "S: * OK ${*}\nC: a1 LOGIN ${user} {6}\nS: + OK\nC: ${password}\n"
                           "S: a1 OK Logged in\n");
    ms_assert_lacks(t, "secret");
    /* IMAP: the SASL lines after AUTHENTICATE PLAIN without initial response */
    t = REC(MS_REC_IMAP, "S* OK x\r\n", "Ca1 AUTHENTICATE PLAIN\r\n", "S+ \r\n",
            "CAGFsaWNlAGFsaWNlLXNlY3JldA==\r\n", "Sa1 OK yes\r\n", "Ca2 LOGOUT\r\n");
    assert_string_equal(t, "S: * OK ${*}\nC: a1 AUTHENTICATE PLAIN\nS: + \nC: ${sasl_plain}\n"
                           "S: a1 OK yes\nC: a2 LOGOUT\n");
    /* IMAP: "*" ends the exchange for the driver, so a command pipelined
     * before the server's answer is a command, not a SASL response */
    t = REC(MS_REC_IMAP, "S* OK x\r\n", "Ca1 AUTHENTICATE PLAIN\r\n", "S+ \r\n",
            "C*\r\na2 SELECT INBOX\r\n", "Sa1 BAD cancelled\r\na2 OK done\r\n");
    assert_string_equal(t, "S: * OK ${*}\nC: a1 AUTHENTICATE PLAIN\nS: + \nC: *\n"
                           "C: a2 SELECT INBOX\nS: a1 BAD cancelled\nS: a2 OK done\n");
    /* IMAP: a synchronizing literal the server refused was never sent; the
     * driver frames the next command into it, the parser rejects the whole,
     * and the LOGIN line in it is redacted to be safe */
    t = REC(MS_REC_IMAP, "S* OK x\r\n", "Ca SELECT {5}\r\n", "Sa BAD no literals today\r\n",
            "Cb LOGIN alice secret\r\n", "Sb OK\r\n");
    assert_string_equal(t, "S: * OK ${*}\nC: a SELECT {5}\nS: a BAD no literals today\n"
                           "C: b LOGIN ${sasl_redacted}\nS: b OK\n");
    ms_assert_lacks(t, "secret");
    /* IMAP: a LOGIN the parser rejects loses all its arguments */
    t = REC(MS_REC_IMAP, "S* OK x\r\n", "Ca LOGIN alice secret extra\r\n", "Cb LOGIN secret\r\n",
            "Cc login\r\n");
    assert_string_equal(t,
                        "S: * OK ${*}\nC: a LOGIN ${sasl_redacted}\nC: b LOGIN ${sasl_redacted}\n"
                        "C: c login\n");
    ms_assert_lacks(t, "secret");
    /* IMAP: the connection ends inside a LOGIN with literals: what was held
     * back is written conservatively */
    t = REC(MS_REC_IMAP, "S* OK x\r\n", "Ca LOGIN {5}\r\n", "S+ OK\r\n", "Calice {6}\r\n",
            "S+ OK\r\n", "Csec");
    assert_string_equal(t, "S: * OK ${*}\nC: a LOGIN ${sasl_redacted}\nS: + OK\n"
                           "C: ${sasl_redacted}\nS: + OK\n@nocrlf\nC: ${sasl_redacted}\n");
    ms_assert_lacks(t, "alice");

    /* SMTP: DATA content that reads like AUTH is content */
    t = REC(MS_REC_SMTP, "S220 x\r\n", "CMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n",
            "S250 ok\r\n250 ok\r\n354 go\r\n",
            "CAUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA==\r\nUSER x\r\n.\r\n", "S250 ok\r\n");
    assert_string_equal(t, "S: 220 ${*}\nC: MAIL FROM:<a@b>\nC: RCPT TO:<c@d>\nC: DATA\n"
                           "S: 250 ok\nS: 250 ok\nS: 354 go\n"
                           "C: AUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA==\nC: USER x\nC: .\n"
                           "S: 250 ok\n");
    /* SMTP: a BDAT chunk over several lines is content, what follows it a command */
    t = REC(MS_REC_SMTP, "S220 x\r\n",
            "CBDAT 44\r\nAUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA==\r\nx\r\n",
            "CAUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA==\r\n");
    assert_string_equal(t, "S: 220 ${*}\nC: BDAT 44\n"
                           "C: AUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA==\nC: x\n"
                           "C: AUTH PLAIN ${sasl_plain}\n");
    /* ... and with a wrong count, the rest of the line after the chunk is
     * a command the parser rejects: redacted, since the line reads like AUTH */
    t = REC(MS_REC_SMTP, "S220 x\r\n", "CBDAT 2\r\nAUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA==\r\n");
    assert_string_equal(t, "S: 220 ${*}\nC: BDAT 2\nC: AUTH ${sasl_redacted}\n");
    /* SMTP: PLAIN with an initial response expects no more lines: the next
     * one is a command even before the reply */
    t = REC(MS_REC_SMTP, "S220 x\r\n", "CAUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA==\r\nNOOP\r\n",
            "S235 ok\r\n250 ok\r\n");
    assert_string_equal(t, "S: 220 ${*}\nC: AUTH PLAIN ${sasl_plain}\nC: NOOP\nS: 235 ok\n"
                           "S: 250 ok\n");
    /* SMTP: a SASL response the parser rejects (not base64) is still redacted */
    t = REC(MS_REC_SMTP, "S220 x\r\n", "CAUTH LOGIN\r\n", "S334 VXNlcm5hbWU6\r\n",
            "Calice secret!\r\n", "S501 bad\r\n");
    assert_string_equal(t, "S: 220 ${*}\nC: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\n"
                           "C: ${sasl_redacted}\nS: 501 bad\n");
    ms_assert_lacks(t, "secret");
    /* SMTP: an unknown mechanism: challenges vary, responses are redacted */
    t = REC(MS_REC_SMTP, "S220 x\r\n", "CAUTH CRAM-MD5\r\n", "S334 PDE4OTYuNjk3\r\n",
            "CYWxpY2UgYjkxM2E2\r\n", "S235 ok\r\n", "CNOOP\r\n");
    assert_string_equal(t, "S: 220 ${*}\nC: AUTH CRAM-MD5\nS: 334 ${*}\nC: ${sasl_redacted}\n"
                           "S: 235 ok\nC: NOOP\n");

    /* POP3: body lines of RETR that read like commands are data */
    t = REC(MS_REC_POP3, "S+OK x\r\n", "CRETR 1\r\n",
            "S+OK 20 octets\r\nPASS foo\r\nUSER bar\r\n.\r\n", "CPASS foo\r\n");
    assert_string_equal(t, "S: +OK ${*}\nC: RETR 1\nS: +OK 20 octets\nS: PASS foo\nS: USER bar\n"
                           "S: .\nC: PASS ${password}\n");
    /* POP3: a continuation makes the next client line a SASL response */
    t = REC(MS_REC_POP3, "S+OK x\r\n", "CAUTH LOGIN\r\n", "S+ VXNlcm5hbWU6\r\n", "CYWxpY2U=\r\n",
            "S+ UGFzc3dvcmQ6\r\n", "CYWxpY2Utc2VjcmV0\r\n", "S+OK in\r\n", "CSTAT\r\n");
    assert_string_equal(t, "S: +OK ${*}\nC: AUTH LOGIN\nS: + VXNlcm5hbWU6\nC: ${sasl_user}\n"
                           "S: + UGFzc3dvcmQ6\nC: ${sasl_password}\nS: +OK in\nC: STAT\n");
    /* POP3: a PASS the parser rejects (a bare CR in it) is still redacted */
    t = REC(MS_REC_POP3, "S+OK x\r\n", "CPASS se\rcret\r\n", "S-ERR no\r\n");
    assert_string_equal(t, "S: +OK ${*}\nC: PASS ${sasl_redacted}\nS: -ERR no\n");
    ms_assert_lacks(t, "cret");
}

/*
 * Property: in --raw mode the file reads back (ms_transcript_next, with
 * @nocrlf dropping the CRLF the reader adds) as exactly the bytes of each
 * direction, whatever the bytes and however they were chunked.
 */
static void test_raw_roundtrip_random(void **st)
{
    static struct ms_rec_writer w;
    static char want[2][4096], got[2][8192], scratch[1 << 18];
    uint32_t seed = 12345;
    (void)st;

    for (int round = 0; round < 300; round++) {
        size_t wl[2] = {0, 0}, gl[2] = {0, 0};
        file_len = 0;
        file[0] = '\0';
        enum ms_rec_proto p = (enum ms_rec_proto)(1 + round % 3);
        assert_int_equal(ms_rec_writer_init(&w, p, 1, sink, NULL), 0);
        for (int chunk = 0; chunk < 12; chunk++) {
            char b[300];
            seed = seed * 1103515245u + 12345u;
            int d = (seed >> 16) & 1;
            size_t n = (seed >> 8) % sizeof(b);
            for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                /* mostly text, some CR/LF/NUL/backslash/dollar/8-bit */
                static const char pick[] = "ab ${}\\\r\n\r\n\x00\xff\xc3\xa9";
                b[i] = (seed >> 20) % 4 ? pick[(seed >> 8) % (sizeof(pick) - 1)]
                                        : (char)((seed >> 12) & 0xff);
            }
            ms_rec_writer_data(&w, d, b, n);
            memcpy(want[d] + wl[d], b, n);
            wl[d] += n;
        }
        ms_rec_writer_flush(&w);
        ms_rec_writer_free(&w);

        size_t pos = 0;
        int nocrlf = 0, r;
        struct ms_titem item;
        struct ms_error err;
        while ((r = ms_transcript_next(file, file_len, &pos, &item, scratch, sizeof(scratch),
                                       &err)) == 1) {
            if (item.type == MS_T_DIRECTIVE) {
                assert_true(item.len == 6 && memcmp(item.data, "nocrlf", 6) == 0);
                nocrlf = 1;
                continue;
            }
            int d = item.type == MS_T_SERVER;
            size_t n = item.len - (nocrlf ? 2 : 0);
            assert_true(gl[d] + n <= sizeof(got[d]));
            memcpy(got[d] + gl[d], item.data, n);
            gl[d] += n;
            nocrlf = 0;
        }
        assert_int_equal(r, 0);
        for (int d = 0; d < 2; d++) {
            assert_int_equal(gl[d], wl[d]);
            assert_memory_equal(got[d], want[d], wl[d]);
        }
    }
}

/* The sanitizer on random input: no crash, no read past the line (ASan). */
static void test_sanitize_random(void **st)
{
    static struct ms_rec_writer w;
    uint32_t seed = 777;
    static const char *const words[] = {"a1 LOGIN ",
                                        "AUTHENTICATE PLAIN ",
                                        "AUTH LOGIN ",
                                        "{3}",
                                        "{99999999999}",
                                        "\r\n",
                                        "USER x",
                                        "PASS y",
                                        "UIDL",
                                        "STLS",
                                        "STARTTLS",
                                        "DATA",
                                        "354 go",
                                        "BDAT 4 ",
                                        "* OK [UIDVALIDITY 1] ",
                                        "INTERNALDATE \"",
                                        "\\Recent",
                                        "* 3 RECENT",
                                        " secs).",
                                        "+ ",
                                        "334 ",
                                        ".",
                                        "\"",
                                        "=",
                                        "*",
                                        "AGFsaWNlAGFsaWNl",
                                        "queued as ",
                                        "250-",
                                        " "};
    (void)st;

    for (int round = 0; round < 400; round++) {
        file_len = 0;
        assert_int_equal(ms_rec_writer_init(&w, (enum ms_rec_proto)(1 + round % 3), 0, sink, NULL),
                         0);
        for (int k = 0; k < 40; k++) {
            seed = seed * 1103515245u + 12345u;
            const char *wd = words[(seed >> 16) % (sizeof(words) / sizeof(words[0]))];
            ms_rec_writer_data(&w, (seed >> 4) & 1, wd, strlen(wd));
        }
        ms_rec_writer_flush(&w);
        ms_rec_writer_free(&w);
    }
}

static void test_raw(void **st)
{
    (void)st;
    const char *t = RAW(MS_REC_IMAP, "S* OK [UIDVALIDITY 5] hi\r\n", "Ca LOGIN alice secret\r\n");
    assert_string_equal(t, "S: * OK [UIDVALIDITY 5] hi\nC: a LOGIN alice secret\n");
}

/* A throwaway self-signed server context (P-256), built in memory. */
static SSL_CTX *test_server_ctx(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(k);
    assert_non_null(x);
    assert_non_null(ctx);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, k), 1);
    X509_free(x);
    EVP_PKEY_free(k);
    return ctx;
}

/*
 * ms_conn_pending must see TLS records that OpenSSL has read from the socket
 * but not yet decrypted: poll() cannot, so the recorder's relay (which polls
 * only when this says 0) would stall until its timeout. SSL_pending misses
 * them; read-ahead makes the case deterministic.
 */
static void test_conn_pending_sees_unprocessed_records(void **st)
{
    (void)st;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    SSL_CTX *sctx = test_server_ctx();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the server: two records, one line each, then wait for the close */
        close(sv[0]);
        signal(SIGPIPE, SIG_IGN);
        SSL *ssl = SSL_new(sctx);
        char b;
        SSL_set_fd(ssl, sv[1]);
        if (SSL_accept(ssl) != 1 || SSL_write(ssl, "a\r\n", 3) != 3 ||
            SSL_write(ssl, "b\r\n", 3) != 3)
            _exit(1);
        while (SSL_read(ssl, &b, 1) > 0)
            ;
        _exit(0);
    }
    close(sv[1]);
    SSL_CTX_free(sctx);
    struct ms_conn c;
    struct ms_tls_opts o;
    char err[256], buf[3];
    memset(&c, 0, sizeof(c));
    memset(&o, 0, sizeof(o));
    o.insecure = 1;
    c.fd = sv[0];
    int fl = fcntl(c.fd, F_GETFL);
    assert_int_equal(fcntl(c.fd, F_SETFL, fl | O_NONBLOCK), 0);
    assert_int_equal(ms_conn_tls(&c, "localhost", &o, ms_now_ms() + 10000, err, sizeof(err)), 0);
    SSL_set_read_ahead(c.ssl, 1);
    /* both records are on the socket before the first read */
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    assert_int_equal(ms_conn_read(&c, buf, 3, ms_now_ms() + 5000, NULL, err, sizeof(err)), 3);
    assert_memory_equal(buf, "a\r\n", 3);
    /* the second record sits in OpenSSL's buffer: poll sees nothing... */
    struct pollfd p = {c.fd, POLLIN, 0};
    assert_int_equal(poll(&p, 1, 0), 0);
    assert_int_equal(SSL_pending(c.ssl), 0);
    /* ...and ms_conn_pending says read now */
    assert_int_not_equal(ms_conn_pending(&c), 0);
    assert_int_equal(ms_conn_read(&c, buf, 3, ms_now_ms() + 5000, NULL, err, sizeof(err)), 3);
    assert_memory_equal(buf, "b\r\n", 3);
    assert_int_equal(ms_conn_pending(&c), 0);
    ms_conn_close(&c);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("TLS test server: status %d", status);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_writer_roundtrip),
        cmocka_unit_test(test_writer_segments),
        cmocka_unit_test(test_writer_long_line),
        cmocka_unit_test(test_imap_login),
        cmocka_unit_test(test_imap_authenticate),
        cmocka_unit_test(test_imap_volatile),
        cmocka_unit_test(test_imap_starttls),
        cmocka_unit_test(test_smtp),
        cmocka_unit_test(test_pop3),
        cmocka_unit_test(test_driver_decides),
        cmocka_unit_test(test_raw),
        cmocka_unit_test(test_raw_roundtrip_random),
        cmocka_unit_test(test_sanitize_random),
        cmocka_unit_test(test_conn_pending_sees_unprocessed_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
