/* buf.h -- growable byte buffer with a consumed-front offset.
 *
 * Used for connection input and output. Bytes live in data[off, off+len).
 * A buffer that owns no memory (data == NULL) is valid and empty, so an idle
 * connection can hold a zeroed sk_buf_t at no cost. */
#ifndef SK_CORE_BUF_H
#define SK_CORE_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sk_buf {
    char *data;
    size_t off; /* start of unread bytes */
    size_t len; /* number of unread bytes */
    size_t cap; /* allocated size of data */
} sk_buf_t;

/* A borrowed span of bytes: never owns its memory. */
typedef struct sk_str {
    const char *ptr;
    size_t len;
} sk_str_t;

#define SK_STR(lit) ((sk_str_t){(lit), sizeof(lit) - 1})

/* Initialises an empty buffer that owns nothing. */
void sk_buf_init(sk_buf_t *b);

/* Releases the memory and leaves b empty; accepts an empty buffer. */
void sk_buf_fini(sk_buf_t *b);

/* Ensures room for n more bytes after the unread ones, moving the unread
 * bytes to the front or growing as needed. Returns 0 or -ENOMEM. */
int sk_buf_reserve(sk_buf_t *b, size_t n);

/* Pointer to the writable tail (valid after sk_buf_reserve) and the number
 * of bytes that fit there. */
char *sk_buf_tail(sk_buf_t *b);
size_t sk_buf_tail_room(const sk_buf_t *b);

/* Marks n bytes written into the tail as unread data. */
void sk_buf_commit(sk_buf_t *b, size_t n);

/* Appends n bytes (copied). Returns 0 or -ENOMEM. */
int sk_buf_append(sk_buf_t *b, const void *p, size_t n);

/* Appends printf-formatted text. Returns bytes appended or -ENOMEM. */
int sk_buf_appendf(sk_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Pointer to the first unread byte. */
static inline char *sk_buf_head(const sk_buf_t *b)
{
    return b->data + b->off;
}

/* Drops n unread bytes from the front (n <= len). When the buffer empties
 * the offset returns to 0 so the space is reused. */
void sk_buf_consume(sk_buf_t *b, size_t n);

/* Frees the memory when nothing is unread: an idle connection keeps no
 * buffer. */
void sk_buf_release_if_empty(sk_buf_t *b);

#endif
