/* scripts/matrix-syslog-shim.c -- LD_PRELOAD shim for scripts/matrix.
 *
 * Cyrus IMAP logs only through syslog(3) and has no log-file option; with no
 * syslog daemon (no /dev/log, as in containers and CI) every message is lost.
 * scripts/matrix compiles this into PKGS/syslog-shim.so and preloads it into
 * the Cyrus master (the services inherit the environment): each syslog line
 * is appended to the file named by $MAILSPEC_SYSLOG_FILE instead.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *ident = "";

void openlog(const char *id, int option, int facility)
{
    (void)option;
    (void)facility;
    if (id)
        ident = id;
}

void closelog(void)
{
}

static void out(int pri, const char *fmt, va_list ap)
{
    int saved = errno;
    const char *path = getenv("MAILSPEC_SYSLOG_FILE");
    char buf[4096];
    size_t n;
    int r, fd;
    time_t t = time(NULL);
    struct tm tm;

    if (!path)
        return;
    localtime_r(&t, &tm);
    n = strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S ", &tm);
    r = snprintf(buf + n, sizeof buf - n, "%s[%d] <%d>: ", ident, (int)getpid(), pri & 7);
    if (r > 0)
        n += (size_t)r;
    if (n < sizeof buf) {
        errno = saved; /* for %m */
        r = vsnprintf(buf + n, sizeof buf - n, fmt, ap);
        if (r > 0)
            n += (size_t)r;
    }
    if (n > sizeof buf - 1)
        n = sizeof buf - 1;
    buf[n++] = '\n';
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        ssize_t w = write(fd, buf, n);
        (void)w;
        close(fd);
    }
    errno = saved;
}

void vsyslog(int pri, const char *fmt, va_list ap)
{
    out(pri, fmt, ap);
}

void syslog(int pri, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    out(pri, fmt, ap);
    va_end(ap);
}

void __vsyslog_chk(int pri, int flag, const char *fmt, va_list ap)
{
    (void)flag;
    out(pri, fmt, ap);
}

void __syslog_chk(int pri, int flag, const char *fmt, ...)
{
    va_list ap;
    (void)flag;
    va_start(ap, fmt);
    out(pri, fmt, ap);
    va_end(ap);
}
