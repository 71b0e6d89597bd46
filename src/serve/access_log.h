/* access_log.h -- the static server's access log (Combined Log Format or
 * JSON lines), buffered per worker thread so a request costs no syscall.
 *
 * One sk_access_log_t is opened at startup and shared; each worker owns an
 * sk_access_buf_t that batches lines and writes them with one write(2). */
#ifndef SK_SERVE_ACCESS_LOG_H
#define SK_SERVE_ACCESS_LOG_H

#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "core/buf.h"
#include "core/error.h"

/* A buffer is written out once it holds this many bytes (regular files). */
#define SK_ACCESS_BUF_FLUSH (32 * 1024)

typedef struct sk_access_log sk_access_log_t;

enum sk_access_format {
    SK_ACCESS_COMBINED, /* Apache/nginx "combined" */
    SK_ACCESS_JSON,     /* one JSON object per line */
};

/* Opens the log: path "-" is stdout (duplicated, so closing the log never
 * closes fd 1), anything else is opened O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC
 * with mode 0644. Returns 0 and an owned log in *out (free with
 * sk_access_log_close()), or -errno with err (may be NULL) filled. If the
 * log is a pipe the process must ignore SIGPIPE, as sk_server does. */
int sk_access_log_open(sk_access_log_t **out, const char *path, enum sk_access_format fmt,
                       struct sk_err *err);

/* Closes the log and frees it; NULL is fine. Every sk_access_buf_t of this
 * log must have been freed first. */
void sk_access_log_close(sk_access_log_t *log);

/* Number of lines lost so far (write errors, EAGAIN, ENOMEM); thread-safe. */
uint64_t sk_access_log_dropped(const sk_access_log_t *log);

typedef struct sk_access_buf sk_access_buf_t;

/* A line buffer for one thread (no locks: never share it). Borrows log,
 * which must outlive it. Returns an owned buffer (free with
 * sk_access_buf_free()) or NULL on ENOMEM. */
sk_access_buf_t *sk_access_buf_new(sk_access_log_t *log);

/* Flushes what is buffered, then frees b; NULL is fine. */
void sk_access_buf_free(sk_access_buf_t *b);

/* One request as the log sees it. Every field is borrowed for the call. */
typedef struct sk_access_entry {
    /* NULL/0 -> "-"; AF_UNIX -> "unix"; a v4-mapped IPv6 address as IPv4. */
    const struct sockaddr *peer;
    socklen_t peer_len;
    sk_str_t method, target; /* target as received; both empty -> "-" */
    int version_minor;       /* HTTP/1.x */
    int status;
    uint64_t bytes;               /* body bytes sent */
    sk_str_t referer, user_agent; /* len 0 -> "-" (combined) or "" (JSON) */
    time_t when;                  /* wall-clock second of the request */
    uint64_t duration_us;         /* JSON only: CLF has no such field */
} sk_access_entry_t;

/* Appends one line for e, escaping client-supplied text so no client can
 * forge or split lines. Flushes once the buffer passes SK_ACCESS_BUF_FLUSH
 * (PIPE_BUF for pipes, sockets and ttys, so a batch is written atomically).
 * Never fails: a line that cannot be formatted (ENOMEM) is counted as
 * dropped. Call sk_access_buf_flush() from a timer so quiet servers' lines
 * still appear promptly. */
void sk_access_buf_add(sk_access_buf_t *b, const sk_access_entry_t *e);

/* Writes the buffered lines with one write(2), retried only on EINTR and
 * short writes. On any error (EAGAIN, ENOSPC, EIO, EPIPE ...) the batch is
 * dropped and counted, never retried later, so the server never stalls on
 * a sick log. An empty buffer costs nothing. */
void sk_access_buf_flush(sk_access_buf_t *b);

#endif
