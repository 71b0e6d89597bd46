/* access_log.c -- buffered access log in Combined Log Format or JSON lines
 * (see access_log.h). Formatting is pure string work into a per-thread
 * buffer; the only syscall is the batched write(2) in flush, and the only
 * shared mutable state is the atomic count of dropped lines. */
#include "serve/access_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

struct sk_access_log {
    int fd;
    enum sk_access_format fmt;
    /* A batch that must stay whole is at most this long: PIPE_BUF for
     * pipes, sockets and ttys (POSIX only promises atomic pipe writes up
     * to PIPE_BUF, so workers' batches could interleave mid-line above
     * it); unbounded for regular files, where O_APPEND writes are atomic
     * on Linux. */
    size_t batch_max;
    /* The buffer is written once it holds this much. */
    size_t flush_at;
    uint64_t dropped; /* lines lost; updated with __atomic builtins */
};

struct sk_access_buf {
    sk_access_log_t *log;
    sk_buf_t buf;
    /* Formatting local time costs a localtime_r and a snprintf; a busy
     * worker logs many requests per second, so keep the last second. */
    time_t cached_when;
    bool cached_valid;
    char cached_time[48];
    size_t cached_len;
};

static const char hex_digits[] = "0123456789abcdef";

/* --- the shared log ---------------------------------------------------------- */

int sk_access_log_open(sk_access_log_t **out, const char *path, enum sk_access_format fmt,
                       struct sk_err *err)
{
    *out = NULL;
    int fd;
    if (strcmp(path, "-") == 0) {
        /* A duplicate, so that close is uniform and the log never closes
         * fd 1 under code that still prints to stdout. */
        fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
            return sk_err_set(err, -errno, "access log: stdout: %s", strerror(errno));
    } else {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return sk_err_set(err, -errno, "access log: %s: %s", path, strerror(errno));
    }

    struct stat st;
    if (fstat(fd, &st) < 0) {
        int rc = -errno;
        close(fd);
        return sk_err_set(err, rc, "access log: %s: %s", path, strerror(-rc));
    }

    sk_access_log_t *log = sk_calloc(1, sizeof(*log));
    if (log == NULL) {
        close(fd);
        return sk_err_set(err, -ENOMEM, "access log: out of memory");
    }
    log->fd = fd;
    log->fmt = fmt;
    if (S_ISREG(st.st_mode)) {
        log->batch_max = SIZE_MAX;
        log->flush_at = SK_ACCESS_BUF_FLUSH;
    } else {
        log->batch_max = PIPE_BUF;
        log->flush_at = PIPE_BUF;
    }
    *out = log;
    return 0;
}

void sk_access_log_close(sk_access_log_t *log)
{
    if (log == NULL)
        return;
    close(log->fd);
    sk_free(log);
}

uint64_t sk_access_log_dropped(const sk_access_log_t *log)
{
    return __atomic_load_n(&log->dropped, __ATOMIC_RELAXED);
}

static void count_dropped(sk_access_log_t *log, uint64_t lines)
{
    if (lines > 0)
        __atomic_fetch_add(&log->dropped, lines, __ATOMIC_RELAXED);
}

/* --- per-thread buffers ------------------------------------------------------ */

sk_access_buf_t *sk_access_buf_new(sk_access_log_t *log)
{
    sk_access_buf_t *b = sk_calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->log = log;
    sk_buf_init(&b->buf);
    return b;
}

void sk_access_buf_free(sk_access_buf_t *b)
{
    if (b == NULL)
        return;
    sk_access_buf_flush(b);
    sk_buf_fini(&b->buf);
    sk_free(b);
}

static uint64_t count_lines(const char *p, size_t n)
{
    uint64_t lines = 0;
    const char *end = p + n;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        lines++;
        p++;
    }
    return lines;
}

/* Writes the first n buffered bytes and removes them from the buffer,
 * whatever the outcome. The loop only continues while write(2) makes
 * progress or is interrupted, so it cannot spin on a sick descriptor. */
static void write_batch(sk_access_buf_t *b, size_t n)
{
    const char *p = sk_buf_head(&b->buf);
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(b->log->fd, p + done, n - done);
        if (w > 0) {
            done += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            /* EAGAIN, ENOSPC, EIO, EPIPE, or 0 (nothing written and no
             * error): drop the rest rather than hold the worker. A line cut
             * short counts as lost. */
            count_dropped(b->log, count_lines(p + done, n - done));
            break;
        }
    }
    sk_buf_consume(&b->buf, n);
}

void sk_access_buf_flush(sk_access_buf_t *b)
{
    if (b->buf.len > 0)
        write_batch(b, b->buf.len);
    /* Do not keep up to 64 KiB per idle worker between bursts. */
    sk_buf_release_if_empty(&b->buf);
}

/* --- formatting helpers ------------------------------------------------------ */

/* Formats e->when as local time, with the numeric UTC offset Apache uses:
 * "10/Oct/2000:13:55:36 -0700" (CLF) or "2000-10-10T13:55:36-07:00"
 * (RFC 3339 for JSON). Month names are spelled out here rather than via
 * strftime's %b, which follows the locale. */
static void format_time(sk_access_buf_t *b, time_t when)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (b->cached_valid && b->cached_when == when)
        return;
    struct tm tm;
    if (localtime_r(&when, &tm) == NULL) {
        /* Only for times whose year overflows int; log the epoch. */
        time_t zero = 0;
        gmtime_r(&zero, &tm);
    }
    long off = tm.tm_gmtoff;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    long oh = off / 3600, om = off % 3600 / 60;
    int n;
    if (b->log->fmt == SK_ACCESS_COMBINED)
        n = snprintf(b->cached_time, sizeof(b->cached_time),
                     "%02d/%s/%04d:%02d:%02d:%02d %c%02ld%02ld", tm.tm_mday, months[tm.tm_mon % 12],
                     tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, oh, om);
    else
        n = snprintf(b->cached_time, sizeof(b->cached_time),
                     "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, oh, om);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(b->cached_time))
        n = sizeof(b->cached_time) - 1;
    b->cached_len = (size_t)n;
    b->cached_when = when;
    b->cached_valid = true;
}

/* The client's address as text: "-" when unknown, "unix" for AF_UNIX, and
 * an IPv4-mapped IPv6 address (a dual-stack listener's IPv4 peer) in
 * dotted form so that one client is logged the same way on either
 * socket. */
static const char *format_peer(const struct sockaddr *sa, socklen_t len, char *out, size_t cap)
{
    if (sa == NULL || len < (socklen_t)sizeof(sa_family_t))
        return "-";
    switch (sa->sa_family) {
    case AF_INET: {
        struct sockaddr_in sin;
        if (len < (socklen_t)sizeof(sin))
            return "-";
        memcpy(&sin, sa, sizeof(sin));
        return inet_ntop(AF_INET, &sin.sin_addr, out, (socklen_t)cap) ? out : "-";
    }
    case AF_INET6: {
        struct sockaddr_in6 sin6;
        if (len < (socklen_t)sizeof(sin6))
            return "-";
        memcpy(&sin6, sa, sizeof(sin6));
        if (IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr))
            return inet_ntop(AF_INET, &sin6.sin6_addr.s6_addr[12], out, (socklen_t)cap) ? out : "-";
        return inet_ntop(AF_INET6, &sin6.sin6_addr, out, (socklen_t)cap) ? out : "-";
    }
    case AF_UNIX:
        return "unix";
    default:
        return "-";
    }
}

/* Appends s for a quoted CLF field. Like nginx, '"', '\\', controls, DEL
 * and every byte >= 0x80 become \xHH: a client cannot end the field, start
 * a new line or hide terminal escapes, and the log stays 7-bit text. */
static int append_clf(sk_buf_t *b, const char *s, size_t len)
{
    if (len > SIZE_MAX / 4)
        return -ENOMEM;
    int rc = sk_buf_reserve(b, len * 4);
    if (rc < 0)
        return rc;
    char *t = sk_buf_tail(b);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            t[o++] = '\\';
            t[o++] = 'x';
            t[o++] = hex_digits[c >> 4];
            t[o++] = hex_digits[c & 15];
        } else {
            t[o++] = (char)c;
        }
    }
    sk_buf_commit(b, o);
    return 0;
}

/* Length of the well-formed UTF-8 sequence at s[0, len) (RFC 3629 §4: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

/* Appends s as the inside of a JSON string (RFC 8259 §7). Well-formed
 * UTF-8 passes through. A byte that is not part of well-formed UTF-8 is
 * written as \u00XX, i.e. read as Latin-1: the output stays valid JSON
 * and, unlike U+FFFD, still shows which byte the client sent. DEL is
 * escaped too so the log holds no raw control bytes. */
static int append_json(sk_buf_t *b, const char *s, size_t len)
{
    if (len > SIZE_MAX / 6)
        return -ENOMEM;
    int rc = sk_buf_reserve(b, len * 6);
    if (rc < 0)
        return rc;
    const unsigned char *u = (const unsigned char *)s;
    char *t = sk_buf_tail(b);
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = u[i];
        if (c >= 0x80) {
            size_t n = utf8_len(u + i, len - i);
            if (n > 0) {
                memcpy(t + o, u + i, n);
                o += n;
                i += n;
                continue;
            }
        }
        i++;
        char esc = 0;
        switch (c) {
        case '"':
            esc = '"';
            break;
        case '\\':
            esc = '\\';
            break;
        case '\n':
            esc = 'n';
            break;
        case '\r':
            esc = 'r';
            break;
        case '\t':
            esc = 't';
            break;
        default:
            break;
        }
        if (esc != 0) {
            t[o++] = '\\';
            t[o++] = esc;
        } else if (c < 0x20 || c >= 0x7f) {
            memcpy(t + o, "\\u00", 4);
            o += 4;
            t[o++] = hex_digits[c >> 4];
            t[o++] = hex_digits[c & 15];
        } else {
            t[o++] = (char)c;
        }
    }
    sk_buf_commit(b, o);
    return 0;
}

static int append_lit(sk_buf_t *b, const char *s)
{
    return sk_buf_append(b, s, strlen(s));
}

/* HOST - - [TIME] "METHOD TARGET HTTP/1.x" STATUS BYTES "REFERER" "UA"
 * Bytes are always a number (nginx's $body_bytes_sent) rather than
 * Apache's "-" for zero, so the column sums without special cases. */
static int format_combined(sk_access_buf_t *b, const sk_access_entry_t *e, const char *peer)
{
    sk_buf_t *o = &b->buf;
    int rc = 0;
    if (sk_buf_appendf(o, "%s - - [%.*s] \"", peer, (int)b->cached_len, b->cached_time) < 0)
        return -ENOMEM;
    if (e->method.len == 0 && e->target.len == 0) {
        /* No request line was parsed (Apache logs "-" as well). */
        rc = append_lit(o, "-");
    } else {
        rc = append_clf(o, e->method.ptr, e->method.len);
        if (rc == 0)
            rc = append_lit(o, " ");
        if (rc == 0)
            rc = append_clf(o, e->target.ptr, e->target.len);
        if (rc == 0 && sk_buf_appendf(o, " HTTP/1.%d", e->version_minor) < 0)
            rc = -ENOMEM;
    }
    if (rc == 0 && sk_buf_appendf(o, "\" %d %" PRIu64 " \"", e->status, e->bytes) < 0)
        rc = -ENOMEM;
    if (rc == 0)
        rc = e->referer.len ? append_clf(o, e->referer.ptr, e->referer.len) : append_lit(o, "-");
    if (rc == 0)
        rc = append_lit(o, "\" \"");
    if (rc == 0)
        rc = e->user_agent.len ? append_clf(o, e->user_agent.ptr, e->user_agent.len)
                               : append_lit(o, "-");
    if (rc == 0)
        rc = append_lit(o, "\"\n");
    return rc;
}

static int json_field(sk_buf_t *o, const char *key, sk_str_t v)
{
    int rc = append_lit(o, key);
    if (rc == 0)
        rc = append_json(o, v.ptr, v.len);
    return rc;
}

static int format_json(sk_access_buf_t *b, const sk_access_entry_t *e, const char *peer)
{
    sk_buf_t *o = &b->buf;
    if (sk_buf_appendf(o, "{\"time\":\"%.*s\",\"remote\":\"%s\"", (int)b->cached_len,
                       b->cached_time, peer) < 0)
        return -ENOMEM;
    int rc = json_field(o, ",\"method\":\"", e->method);
    if (rc == 0)
        rc = json_field(o, "\",\"target\":\"", e->target);
    if (rc == 0 &&
        sk_buf_appendf(o, "\",\"protocol\":\"HTTP/1.%d\",\"status\":%d,\"bytes\":%" PRIu64,
                       e->version_minor, e->status, e->bytes) < 0)
        rc = -ENOMEM;
    if (rc == 0)
        rc = json_field(o, ",\"referer\":\"", e->referer);
    if (rc == 0)
        rc = json_field(o, "\",\"user_agent\":\"", e->user_agent);
    if (rc == 0 && sk_buf_appendf(o, "\",\"duration_us\":%" PRIu64 "}\n", e->duration_us) < 0)
        rc = -ENOMEM;
    return rc;
}

void sk_access_buf_add(sk_access_buf_t *b, const sk_access_entry_t *e)
{
    /* INET6_ADDRSTRLEN covers every form format_peer writes. */
    char peer_buf[INET6_ADDRSTRLEN];
    const char *peer = format_peer(e->peer, e->peer_len, peer_buf, sizeof(peer_buf));
    format_time(b, e->when);

    size_t before = b->buf.len;
    int rc = b->log->fmt == SK_ACCESS_JSON ? format_json(b, e, peer) : format_combined(b, e, peer);
    if (rc < 0) {
        /* Cut the half-written line so the batch holds only whole lines. */
        b->buf.len = before;
        count_dropped(b->log, 1);
        return;
    }
    /* Keep each write within batch_max: send what was there before this
     * line if the line would push the batch over. */
    if (before > 0 && b->buf.len > b->log->batch_max)
        write_batch(b, before);
    if (b->buf.len >= b->log->flush_at)
        sk_access_buf_flush(b);
}
