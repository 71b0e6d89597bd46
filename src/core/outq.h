/* outq.h -- a connection's pending output: a queue of memory chunks and
 * file ranges, written with writev and sendfile.
 *
 * A protocol appends its reply here; the I/O driver drains it. Bodies from
 * files stay in the page cache and go out with sendfile(2), so a static
 * file never passes through user space on a plain connection. */
#ifndef SK_CORE_OUTQ_H
#define SK_CORE_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct sk_outseg sk_outseg_t;

typedef struct sk_outq {
    sk_outseg_t *head, *tail;
    uint64_t bytes; /* total unsent bytes, memory and file */
} sk_outq_t;

/* Initialises an empty queue (a zeroed struct is also empty). */
void sk_outq_init(sk_outq_t *q);

/* Frees every segment, closing the file descriptors the queue owns. */
void sk_outq_clear(sk_outq_t *q);

static inline bool sk_outq_empty(const sk_outq_t *q)
{
    return q->head == NULL;
}

/* Copies n bytes to the end of the queue. Returns 0 or -ENOMEM. */
int sk_outq_append(sk_outq_t *q, const void *p, size_t n);

/* Returns a pointer to at least n writable bytes at the end of the queue
 * (commit what was written with sk_outq_commit), or NULL on -ENOMEM. */
char *sk_outq_reserve(sk_outq_t *q, size_t n);
void sk_outq_commit(sk_outq_t *q, size_t n);

/* Queues len bytes of file fd from offset off. With owns_fd the queue
 * closes fd when the range is sent or the queue is cleared (ownership is
 * taken even on failure). Returns 0 or -ENOMEM. */
int sk_outq_append_file(sk_outq_t *q, int fd, off_t off, uint64_t len, bool owns_fd);

/* Writes as much as the socket takes without blocking: memory chunks with
 * one writev (MSG_MORE when a file range follows, so head and body share
 * packets), file ranges with sendfile. Returns the bytes written (> 0),
 * -EAGAIN when the socket is full, or another negative errno. On a
 * blocking socket it returns after one successful system call. */
ssize_t sk_outq_write(sk_outq_t *q, int sock);

/* Copies up to cap bytes from the front of the queue into buf without
 * consuming (file ranges are read with pread), for transports that must
 * see the bytes (TLS). Returns the count or a negative errno. */
ssize_t sk_outq_peek(sk_outq_t *q, char *buf, size_t cap);

/* True when the front of the queue is a file range; then *fd, *off and
 * *len describe it (for a transport that sends files its own way, such as
 * SSL_sendfile with kernel TLS). */
bool sk_outq_head_file(const sk_outq_t *q, int *fd, off_t *off, size_t *len);

/* Moves every segment of src to the end of dst, leaving src empty (a
 * response held back until a request body is read joins the queue). */
void sk_outq_move(sk_outq_t *dst, sk_outq_t *src);

/* Drops n bytes from the front (after sk_outq_peek's bytes were sent). */
void sk_outq_consume(sk_outq_t *q, uint64_t n);

#endif
