/* log.c -- one-line, one-write diagnostics (see log.h). */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int sk_log_verbosity;
int sk_log_timestamps;

void sk_log(enum sk_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    char line[1024];
    size_t n = 0;

    if (sk_log_timestamps) {
        struct timeval tv;
        struct tm tm;
        gettimeofday(&tv, NULL);
        localtime_r(&tv.tv_sec, &tm);
        n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ld ", (long)tv.tv_usec / 1000);
    }
    n += (size_t)snprintf(line + n, sizeof(line) - n, "sockkit: ");
    if (level != SK_LOG_INFO)
        n += (size_t)snprintf(line + n, sizeof(line) - n, "%s: ", names[level]);

    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += (size_t)m;
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    /* A single write keeps lines whole across threads; a short write to a
     * closed stderr is not worth handling. */
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
