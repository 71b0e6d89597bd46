/* buf.c -- growable byte buffer (see buf.h). */
#include "core/buf.h"
#include "core/alloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sk_buf_init(sk_buf_t *b)
{
    memset(b, 0, sizeof(*b));
}

void sk_buf_fini(sk_buf_t *b)
{
    sk_free(b->data);
    memset(b, 0, sizeof(*b));
}

int sk_buf_reserve(sk_buf_t *b, size_t n)
{
    if (b->cap - b->off - b->len >= n)
        return 0;
    /* Sliding the unread bytes to the front is cheaper than growing when
     * most of the buffer has already been consumed. */
    if (b->off > 0 && b->cap - b->len >= n) {
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
        return 0;
    }
    size_t need = b->len + n;
    if (need < n)
        return -ENOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > ((size_t)-1) / 2)
            return -ENOMEM;
        cap *= 2;
    }
    char *p = sk_malloc(cap);
    if (p == NULL)
        return -ENOMEM;
    if (b->len)
        memcpy(p, b->data + b->off, b->len);
    sk_free(b->data);
    b->data = p;
    b->off = 0;
    b->cap = cap;
    return 0;
}

char *sk_buf_tail(sk_buf_t *b)
{
    return b->data + b->off + b->len;
}

size_t sk_buf_tail_room(const sk_buf_t *b)
{
    return b->cap - b->off - b->len;
}

void sk_buf_commit(sk_buf_t *b, size_t n)
{
    b->len += n;
}

int sk_buf_append(sk_buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    int rc = sk_buf_reserve(b, n);
    if (rc < 0)
        return rc;
    memcpy(sk_buf_tail(b), p, n);
    b->len += n;
    return 0;
}

int sk_buf_appendf(sk_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n < sizeof(small))
        return sk_buf_append(b, small, (size_t)n) < 0 ? -ENOMEM : n;
    int rc = sk_buf_reserve(b, (size_t)n + 1);
    if (rc < 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(sk_buf_tail(b), (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return n;
}

void sk_buf_consume(sk_buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->off = 0;
        b->len = 0;
        return;
    }
    b->off += n;
    b->len -= n;
}

void sk_buf_release_if_empty(sk_buf_t *b)
{
    if (b->len == 0 && b->data != NULL)
        sk_buf_fini(b);
}
