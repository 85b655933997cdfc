/*
 * mailspec record: a proxy between a real client and a real server that
 * writes every connection as a .session file (docs/record.md).
 *
 * The parent accepts connections and forks one child per connection (at
 * most o->concurrency at once); the child connects to the server, relays
 * bytes both ways and feeds them to the .session writer, which writes each
 * line to the file as soon as it is complete (write(2), no stdio buffer), so
 * a crash loses nothing already relayed. TLS is terminated on both sides:
 * our certificate toward the client, the runner's verified TLS client
 * toward the server.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "cli.h"
#include "mailspec/mailspec.h"
#include "record.h"
#include "record_tls.h"
#include "transport.h"

static volatile int stop_flag; /* set by SIGINT/SIGTERM (int: ms_conn_read takes it) */

/*
 * A child in a step that waits inside the transport (connect, a TLS
 * handshake on either side) cannot see stop_flag there: the handler ends it
 * at once. Everything relayed so far is already in the file (those steps
 * come right after a flush), so the file only needs its last comment.
 */
static volatile sig_atomic_t blocking_file = -1;
/* A child's two sockets while it relays: shut down by the handler, so a
 * write waiting for a peer that does not read returns at once. */
static volatile sig_atomic_t relay_fd[2] = {-1, -1};

#define STOPPED_COMMENT "# recording stopped (SIGINT/SIGTERM)"

static void on_signal(int sig)
{
    int saved = errno;
    (void)sig;
    stop_flag = 1;
    if (blocking_file >= 0) {
        static const char msg[] = STOPPED_COMMENT "\n";
        ssize_t w = write(blocking_file, msg, sizeof(msg) - 1);
        (void)w;
        _exit(MS_EXIT_OK);
    }
    for (int i = 0; i < 2; i++)
        if (relay_fd[i] >= 0)
            (void)shutdown(relay_fd[i], SHUT_RDWR);
    errno = saved;
}

static void install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* ---- the session file ---- */

struct session {
    const struct ms_rec_options *o;
    int file;
    const char *path;
    struct ms_rec_writer w;
    struct ms_conn client; /* ssl: ours (ctx stays NULL: shared server_ctx) */
    struct ms_conn server; /* the runner's transport */
    SSL_CTX *server_ctx;   /* ours, toward the client */
    uint64_t written;      /* bytes in the file */
    int capped;            /* --max-size reached: nothing more is written */
};

static void say(const struct session *s, const char *what, const char *detail);

/* Room kept under --max-size for the line that says the cap was reached. */
#define CAP_NOTE                                                                                   \
    "# size cap reached (--max-size): recording stopped here, the connection is still relayed"

static int file_write(struct session *s, const char *line, size_t n)
{
    struct iovec iov[2] = {{(void *)line, n}, {"\n", 1}};
    size_t total = n + 1;

    while (total > 0) {
        ssize_t w = writev(s->file, iov, 2);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        total -= (size_t)w;
        /* a short write: finish the rest plainly */
        size_t done = (size_t)w;
        for (int i = 0; i < 2; i++) {
            size_t k = done < iov[i].iov_len ? done : iov[i].iov_len;
            iov[i].iov_base = (char *)iov[i].iov_base + k;
            iov[i].iov_len -= k;
            done -= k;
        }
    }
    s->written += n + 1;
    return 0;
}

/* The writer's sink: each line once, until --max-size (docs/record.md). */
static int file_sink(void *ctx, const char *line, size_t n)
{
    struct session *s = ctx;

    if (s->capped)
        return 0;
    if (s->o->max_size && s->written + n + 1 + sizeof(CAP_NOTE) > s->o->max_size) {
        s->capped = 1;
        say(s, "size cap reached (--max-size): recording stopped, the connection is still relayed",
            NULL);
        return file_write(s, CAP_NOTE, strlen(CAP_NOTE));
    }
    return file_write(s, line, n);
}

/* A message on stderr: "mailspec record: PATH: what[: detail]". */
static void say(const struct session *s, const char *what, const char *detail)
{
    if (!s->o->quiet)
        fprintf(stderr, "mailspec record: %s: %s%s%s\n", s->path, what, detail ? ": " : "",
                detail ? detail : "");
}

static void comment(struct session *s, const char *text)
{
    char line[512];
    snprintf(line, sizeof(line), "# %s", text);
    ms_rec_writer_line(&s->w, line);
}

static void header(struct session *s)
{
    char line[512], when[64];
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(line, sizeof(line), "# recorded by mailspec record %s on %s", MAILSPEC_VERSION, when);
    ms_rec_writer_line(&s->w, line);
    snprintf(line, sizeof(line), "# server %s:%u, --tls %s%s", s->o->connect_host,
             s->o->connect_port, ms_tls_mode_name(s->o->tls),
             s->o->raw ? ", --raw (nothing rewritten: may hold credentials)"
                       : ", credentials as ${user}/${password}, volatile values as ${*}");
    ms_rec_writer_line(&s->w, line);
    snprintf(line, sizeof(line), "@protocol %s", ms_rec_proto_name(s->o->proto));
    ms_rec_writer_line(&s->w, line);
}

/* ---- connecting ---- */

/* TLS on both ends: first toward the server (it waits for us), then the client. */
static int start_tls(struct session *s, char *err, size_t errcap)
{
    struct ms_tls_opts t;
    uint64_t deadline = ms_now_ms() + (uint64_t)s->o->timeout * 1000u;
    int rc = -1;

    memset(&t, 0, sizeof(t));
    t.cafile = s->o->cafile;
    t.insecure = s->o->insecure;
    blocking_file = s->file; /* SIGTERM ends the handshakes at once */
    if (!stop_flag && ms_conn_tls(&s->server, s->o->connect_host, &t, deadline, err, errcap) == 0) {
        s->client.ssl = ms_rec_tls_accept(s->server_ctx, s->client.fd, deadline, err, errcap);
        rc = s->client.ssl ? 0 : -1;
    }
    blocking_file = -1;
    if (stop_flag)
        snprintf(err, errcap, "stopped by a signal");
    return rc;
}

/* ---- the relay ---- */

enum { RELAY_OK = 0, RELAY_SERVER_ERROR = 1 };

/*
 * Plaintext the server sent after its STARTTLS go-ahead, before the
 * handshake: RFC 3207 4.2, RFC 2595 4, RFC 9051 6.2.1 say it must not be
 * taken as part of the dialogue. It is not forwarded; the file says so, and
 * its @finding makes a replay against the same server fail at @tls with that
 * text (the runner fails @tls when the server sent anything after the
 * go-ahead). The bytes themselves are not written (they are the server's,
 * unsanitized).
 */
static void injection(struct session *s, size_t n)
{
    char line[256];

    snprintf(line, sizeof(line),
             "# STARTTLS injection: the server sent %zu byte%s after its go-ahead, before TLS "
             "(not forwarded to the client, not recorded)",
             n, n == 1 ? "" : "s");
    ms_rec_writer_line(&s->w, line);
    ms_rec_writer_line(&s->w, "@finding the server sent plaintext after its STARTTLS go-ahead "
                              "(STARTTLS response injection)");
    snprintf(line, sizeof(line),
             "STARTTLS injection: the server sent %zu byte%s of plaintext after its go-ahead "
             "(not forwarded)",
             n, n == 1 ? "" : "s");
    say(s, line, NULL);
}

/* No more bytes go from us to c (the other side closed its direction). */
static void half_close(struct ms_conn *c)
{
    if (c->ssl) {
        ERR_clear_error();
        (void)SSL_shutdown(c->ssl); /* close_notify; reading stays possible */
        ERR_clear_error();
    }
    (void)shutdown(c->fd, SHUT_WR);
}

/*
 * Relay both directions until the server closes, an error, the idle
 * timeout or a signal. Direction d: 0 client -> server, 1 server -> client.
 * The client's close is relayed as a half-close (shutdown of the write side
 * toward the server) and the server's direction goes on until it closes.
 */
static int relay(struct session *s)
{
    static char buf[1 << 16];
    char err[512];
    struct pollfd p[2];
    int open[2] = {1, 1};
    /*
     * TLS holds bytes it cannot use yet (part of a record): SSL_has_pending
     * stays true, but only the socket can bring the rest, so that direction
     * waits in poll() like any other (a read there would return nothing,
     * again and again, at full CPU).
     */
    int stalled[2] = {0, 0};

    relay_fd[0] = s->client.fd;
    relay_fd[1] = s->server.fd;
    for (;;) {
        struct ms_conn *conn[2] = {&s->client, &s->server};
        int ready[2];
        for (int d = 0; d < 2; d++)
            ready[d] = open[d] && !stalled[d] && ms_conn_pending(conn[d]);
        if (stop_flag) {
            comment(s, "recording stopped (SIGINT/SIGTERM)");
            return RELAY_OK;
        }
        if (!ready[0] && !ready[1]) {
            for (int d = 0; d < 2; d++)
                p[d] = (struct pollfd){open[d] ? conn[d]->fd : -1, POLLIN, 0};
            int r = poll(p, 2, (int)s->o->timeout * 1000);
            if (stop_flag) {
                comment(s, "recording stopped (SIGINT/SIGTERM)");
                return RELAY_OK;
            }
            if (r < 0 && errno == EINTR)
                continue;
            if (r == 0) {
                comment(s, "idle timeout: connection closed by mailspec record");
                return RELAY_OK;
            }
            if (r < 0)
                return RELAY_OK;
            for (int d = 0; d < 2; d++)
                if (p[d].revents & (POLLIN | POLLHUP | POLLERR)) {
                    ready[d] = 1;
                    stalled[d] = 0;
                }
        }
        for (int d = 1; d >= 0; d--) {
            if (!ready[d] || !open[d])
                continue;
            struct ms_conn *from = conn[d];
            struct ms_conn *to = conn[!d];
            uint64_t deadline = ms_now_ms() + (uint64_t)s->o->timeout * 1000u;
            /*
             * Deadline "now": poll() above does the waiting. A readable TLS
             * socket may carry no application data (a session ticket, a part
             * of a record); waiting for data there would stall the other
             * direction.
             */
            ssize_t n =
                ms_conn_read(from, buf, sizeof(buf), ms_now_ms(), &stop_flag, err, sizeof(err));
            if (n == -2 && !stop_flag) {
                stalled[d] = ms_conn_pending(from);
                continue;
            }
            if (n <= 0) {
                ms_rec_writer_flush(&s->w);
                if (stop_flag) {
                    comment(s, "recording stopped (SIGINT/SIGTERM)");
                    return RELAY_OK;
                }
                if (d && open[0])
                    /* the server closed: an expectation a replay can check */
                    ms_rec_writer_line(&s->w, "@close");
                else if (d)
                    /* after the client: a replay cannot expect it (it does not close first) */
                    comment(s, "the server closed the connection after the client");
                else
                    comment(s, "the client closed the connection");
                /* the server's close ends the session (closing the client's
                 * side too, as a server's close means); the client's is
                 * relayed as a half-close and the server's answers still
                 * reach the client */
                open[d] = 0;
                if (n < 0 || d || !open[1])
                    return RELAY_OK;
                half_close(to);
                continue;
            }
            size_t used = ms_rec_writer_data(&s->w, d, buf, (size_t)n);
            size_t fwd = d && s->w.tls_go ? used : (size_t)n;
            if (ms_conn_write(to, buf, fwd, deadline, err, sizeof(err)) != 0) {
                if (stop_flag)
                    comment(s, "recording stopped (SIGINT/SIGTERM)");
                else
                    comment(s, d ? "the client went away" : "the server went away");
                return RELAY_OK;
            }
            if (d && s->w.tls_go) {
                s->w.tls_go = 0;
                if (fwd < (size_t)n)
                    injection(s, (size_t)n - fwd);
                if (!s->server_ctx) {
                    comment(s, "the client started TLS: not followed (give --cert/--key)");
                    say(s, "the client started TLS but there is no --cert/--key: session ended",
                        NULL);
                    return RELAY_OK;
                }
                ms_rec_writer_line(&s->w, "@tls");
                if (start_tls(s, err, sizeof(err)) != 0) {
                    if (stop_flag) {
                        comment(s, "recording stopped (SIGINT/SIGTERM)");
                        return RELAY_OK;
                    }
                    comment(s, "TLS upgrade failed");
                    say(s, "TLS upgrade failed", err);
                    return RELAY_SERVER_ERROR;
                }
                stalled[0] = stalled[1] = 0;
            }
        }
    }
}

static int run_session(const struct ms_rec_options *o, int cfd, const char *path, int file,
                       SSL_CTX *ctx)
{
    struct session s;
    char err[512], port[16];
    int rc = MS_EXIT_OK;

    memset(&s, 0, sizeof(s));
    s.o = o;
    s.file = file;
    s.path = path;
    s.server_ctx = ctx;
    s.client.fd = cfd;
    s.server.fd = -1;
    int fl = fcntl(cfd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(cfd, F_SETFL, fl | O_NONBLOCK); /* ms_conn_* wait with poll */
    int one = 1;
    (void)setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (ms_rec_writer_init(&s.w, o->proto, o->raw, file_sink, &s) != 0) {
        say(&s, "out of memory", NULL);
        close(cfd);
        return MS_EXIT_USAGE;
    }
    header(&s);
    snprintf(port, sizeof(port), "%u", o->connect_port);
    blocking_file = file; /* SIGTERM during the connect ends it at once */
    int c = stop_flag ? -1
                      : ms_conn_open(&s.server, o->connect_host, port,
                                     ms_now_ms() + (uint64_t)o->timeout * 1000u, err, sizeof(err));
    blocking_file = -1;
    if (stop_flag) {
        comment(&s, "recording stopped (SIGINT/SIGTERM)");
        goto out;
    }
    if (c != 0) {
        comment(&s, "could not connect to the server");
        say(&s, err, NULL);
        rc = MS_EXIT_USAGE;
        goto out;
    }
    if (o->tls == MS_TLS_IMPLICIT) {
        /* the session starts after the handshake (docs/architecture.md): no @tls line */
        if (start_tls(&s, err, sizeof(err)) != 0) {
            if (stop_flag) {
                comment(&s, "recording stopped (SIGINT/SIGTERM)");
                goto out;
            }
            comment(&s, "TLS handshake failed");
            say(&s, err, NULL);
            rc = MS_EXIT_USAGE;
            goto out;
        }
    }
    if (relay(&s) == RELAY_SERVER_ERROR)
        rc = MS_EXIT_USAGE;
out:
    relay_fd[0] = relay_fd[1] = -1;
    ms_rec_writer_flush(&s.w);
    if (s.w.error) {
        say(&s, "cannot write the session file", strerror(errno));
        rc = MS_EXIT_USAGE;
    }
    if (s.client.ssl) {
        SSL_shutdown(s.client.ssl);
    }
    s.client.ctx = NULL; /* shared, freed by the parent */
    ms_conn_close(&s.client);
    ms_conn_close(&s.server);
    ms_rec_writer_free(&s.w);
    return rc;
}

/* ---- files ---- */

/*
 * Create path for writing, mode 0600, never through a symbolic link and
 * never into a file that is there already under another form: O_EXCL and
 * O_NOFOLLOW. A regular file of ours that is in the way (an earlier
 * recording) is removed and created anew; anything else (a symbolic link, a
 * hard link, another user's file, a FIFO, a device) is refused with *why.
 */
static int create_file(const char *path, const char **why)
{
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_APPEND | O_CLOEXEC;
    struct stat st;

    *why = NULL;
    int fd = open(path, flags, 0600);
    if (fd >= 0 || errno != EEXIST)
        return fd;
    if (lstat(path, &st) != 0)
        return -1;
    if (S_ISLNK(st.st_mode))
        *why = "it is a symbolic link (not followed)";
    else if (!S_ISREG(st.st_mode))
        *why = "it exists and is not a regular file";
    else if (st.st_uid != geteuid() || st.st_nlink != 1)
        *why = "it exists and is not a file of ours with a single link";
    if (*why) {
        errno = EEXIST;
        return -1;
    }
    if (unlink(path) != 0)
        return -1;
    fd = open(path, flags, 0600);
    if (fd < 0 && errno == EEXIST)
        *why = "it was created again by someone else while it was being replaced";
    return fd;
}

/*
 * The file for session number n (1-based): in a directory,
 * <proto>-<n>.session (the first name not taken); for --out FILE, FILE for
 * the first session and FILE-<n> (before a .session suffix) for the others.
 */
static int open_out(const struct ms_rec_options *o, unsigned n, char *path, size_t cap,
                    const char **why)
{
    *why = NULL;
    if (o->out_is_dir) {
        for (unsigned k = n;; k++) {
            snprintf(path, cap, "%s/%s-%u.session", o->out, ms_rec_proto_name(o->proto), k);
            int fd =
                open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_APPEND | O_CLOEXEC, 0600);
            if (fd >= 0 || errno != EEXIST)
                return fd;
        }
    }
    if (n == 1) {
        snprintf(path, cap, "%s", o->out);
    } else {
        size_t l = strlen(o->out);
        const char *suf = ".session";
        size_t sl = strlen(suf);
        if (l > sl && strcmp(o->out + l - sl, suf) == 0)
            snprintf(path, cap, "%.*s-%u%s", (int)(l - sl), o->out, n, suf);
        else
            snprintf(path, cap, "%s-%u", o->out, n);
    }
    return create_file(path, why);
}

static int listen_on(const char *host, unsigned port)
{
    struct addrinfo hints, *res = NULL;
    char ports[16];
    int fd, one = 1, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(ports, sizeof(ports), "%u", port);
    rc = getaddrinfo(host, ports, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "mailspec record: cannot resolve --listen %s: %s\n", host,
                gai_strerror(rc));
        return -1;
    }
    fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        fprintf(stderr, "mailspec record: cannot listen on %s:%u: %s\n", host, port,
                strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* Reap finished children; returns how many, and notes failures in *bad. */
static unsigned reap(pid_t *kids, unsigned *nkids, int block, int *bad)
{
    unsigned done = 0;

    while (*nkids > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, block ? 0 : WNOHANG);
        if (pid < 0 && errno == EINTR) {
            if (stop_flag)
                for (unsigned i = 0; i < *nkids; i++)
                    kill(kids[i], SIGTERM);
            continue;
        }
        if (pid <= 0)
            break;
        for (unsigned i = 0; i < *nkids; i++)
            if (kids[i] == pid) {
                kids[i] = kids[--*nkids];
                break;
            }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            *bad = 1;
        done++;
        block = 0;
    }
    return done;
}

int ms_record_run(const struct ms_rec_options *o)
{
    char err[512], path[4096];
    SSL_CTX *ctx = NULL;
    pid_t kids[MS_REC_CONCURRENCY_MAX];
    unsigned nkids = 0, started = 0, conc = o->concurrency;
    int lfd, bad = 0;

    if (conc == 0 || conc > MS_REC_CONCURRENCY_MAX)
        conc = conc ? MS_REC_CONCURRENCY_MAX : 1;
    if (o->cert) {
        ctx = ms_rec_tls_server_ctx(o->cert, o->key, err, sizeof(err));
        if (!ctx) {
            fprintf(stderr, "mailspec record: %s\n", err);
            return MS_EXIT_USAGE;
        }
    }
    lfd = listen_on(o->listen_host, o->listen_port);
    if (lfd < 0) {
        SSL_CTX_free(ctx);
        return MS_EXIT_USAGE;
    }
    stop_flag = 0;
    install_signals();
    if (!o->quiet)
        fprintf(stderr, "mailspec record: listening on %s:%u, relaying to %s:%u (%s, --tls %s)\n",
                o->listen_host, o->listen_port, o->connect_host, o->connect_port,
                ms_rec_proto_name(o->proto), ms_tls_mode_name(o->tls));
    while (!stop_flag && (o->max_sessions == 0 || started < o->max_sessions)) {
        reap(kids, &nkids, 0, &bad);
        if (nkids >= conc) {
            reap(kids, &nkids, 1, &bad);
            continue;
        }
        struct pollfd p = {lfd, POLLIN, 0};
        int r = poll(&p, 1, 500);
        if (r <= 0)
            continue;
        int cfd = accept(lfd, NULL, NULL);
        if (cfd < 0)
            continue;
        started++;
        const char *why;
        int file = open_out(o, started, path, sizeof(path), &why);
        if (file < 0) {
            fprintf(stderr, "mailspec record: cannot create %s: %s\n", path,
                    why ? why : strerror(errno));
            close(cfd);
            bad = 1;
            break;
        }
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
            close(lfd);
            int rc = run_session(o, cfd, path, file, ctx);
            close(file);
            if (!o->quiet)
                fprintf(stderr, "mailspec record: wrote %s\n", path);
            _exit(rc);
        }
        close(cfd);
        close(file);
        if (pid < 0) {
            fprintf(stderr, "mailspec record: fork: %s\n", strerror(errno));
            bad = 1;
            break;
        }
        kids[nkids++] = pid;
    }
    close(lfd);
    if (stop_flag)
        for (unsigned i = 0; i < nkids; i++)
            kill(kids[i], SIGTERM);
    while (nkids > 0)
        reap(kids, &nkids, 1, &bad);
    SSL_CTX_free(ctx);
    return bad ? MS_EXIT_USAGE : MS_EXIT_OK;
}
