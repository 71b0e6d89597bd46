/* frame.c -- the length-prefixed frame codec (see frame.h): an incremental
 * decoder that returns frames as slices of the caller's bytes whenever they
 * are whole there, and an encoder that keeps prefix and payload together so
 * one write carries both. */
#include "proto/frame.h"

#include "core/alloc.h"
#include "core/error.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

void sk_frame_decoder_init(sk_frame_decoder_t *d, size_t max)
{
    memset(d, 0, sizeof(*d));
    d->max = max > SK_FRAME_MAX_LIMIT ? SK_FRAME_MAX_LIMIT : max;
}

void sk_frame_decoder_fini(sk_frame_decoder_t *d)
{
    sk_free(d->buf);
    d->buf = NULL;
    d->have = 0;
    d->release = false;
    d->in_payload = false;
}

bool sk_frame_decoder_partial(const sk_frame_decoder_t *d)
{
    return d->hdr_len > 0 || d->in_payload;
}

static int fail(sk_frame_decoder_t *d, int err)
{
    d->failed = true;
    d->error = err;
    return err;
}

int sk_frame_decode(sk_frame_decoder_t *d, const char *data, size_t len, size_t *consumed,
                    sk_str_t *frame)
{
    *consumed = 0;
    if (d->failed)
        return d->error;
    /* The frame returned by the previous call is no longer the caller's:
     * assembled frames are freed rather than kept, so an idle connection
     * holds no buffer. */
    if (d->release) {
        sk_free(d->buf);
        d->buf = NULL;
        d->release = false;
    }
    size_t off = 0;
    if (!d->in_payload) {
        uint32_t n;
        if (d->hdr_len == 0 && len >= SK_FRAME_PREFIX) {
            n = sk_frame_get_prefix(data);
            off = SK_FRAME_PREFIX;
        } else {
            size_t take = SK_FRAME_PREFIX - d->hdr_len;
            if (take > len)
                take = len;
            memcpy(d->hdr + d->hdr_len, data, take);
            d->hdr_len += (unsigned)take;
            off = take;
            if (d->hdr_len < SK_FRAME_PREFIX) {
                *consumed = off;
                return SK_AGAIN;
            }
            n = sk_frame_get_prefix((const char *)d->hdr);
            d->hdr_len = 0;
        }
        /* The limit is checked on the prefix alone, before anything is
         * allocated or waited for. */
        if (n > d->max) {
            d->too_big = n;
            *consumed = off;
            return fail(d, SK_ETOOBIG);
        }
        /* Whole in this chunk (even when the prefix was split): a slice,
         * no copy. */
        if (len - off >= n) {
            *frame = (sk_str_t){data + off, n};
            *consumed = off + n;
            return 1;
        }
        d->buf = sk_malloc(n);
        if (d->buf == NULL) {
            *consumed = off;
            return fail(d, -ENOMEM);
        }
        d->need = n;
        d->have = 0;
        d->in_payload = true;
    }
    size_t take = d->need - d->have;
    if (take > len - off)
        take = len - off;
    memcpy(d->buf + d->have, data + off, take);
    d->have += take;
    *consumed = off + take;
    if (d->have < d->need)
        return SK_AGAIN;
    d->in_payload = false;
    d->release = true;
    *frame = (sk_str_t){d->buf, d->need};
    return 1;
}

int sk_frame_append(sk_outq_t *q, const void *payload, size_t len)
{
    if (len > SK_FRAME_MAX_LIMIT)
        return -EMSGSIZE;
    char *p = sk_frame_reserve(q, len);
    if (p == NULL)
        return -ENOMEM;
    if (len > 0)
        memcpy(p, payload, len);
    sk_frame_commit(q, p, len);
    return 0;
}

char *sk_frame_reserve(sk_outq_t *q, size_t room)
{
    char *p = sk_outq_reserve(q, SK_FRAME_PREFIX + room);
    return p == NULL ? NULL : p + SK_FRAME_PREFIX;
}

void sk_frame_commit(sk_outq_t *q, char *payload, size_t len)
{
    sk_frame_put_prefix(payload - SK_FRAME_PREFIX, (uint32_t)len);
    sk_outq_commit(q, SK_FRAME_PREFIX + len);
}

ssize_t sk_frame_write(int fd, const void *payload, size_t len)
{
    if (len > SK_FRAME_MAX_LIMIT)
        return -EMSGSIZE;
    char hdr[SK_FRAME_PREFIX];
    sk_frame_put_prefix(hdr, (uint32_t)len);
    size_t total = SK_FRAME_PREFIX + len, sent = 0;
    while (sent < total) {
        /* After a partial write, resume from the first unsent byte of
         * whichever part it fell in. */
        struct iovec iov[2];
        int cnt = 0;
        if (sent < SK_FRAME_PREFIX)
            iov[cnt++] = (struct iovec){hdr + sent, SK_FRAME_PREFIX - sent};
        size_t poff = sent < SK_FRAME_PREFIX ? 0 : sent - SK_FRAME_PREFIX;
        if (poff < len)
            iov[cnt++] = (struct iovec){(char *)payload + poff, len - poff};
        ssize_t n = writev(fd, iov, cnt);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        sent += (size_t)n;
    }
    return (ssize_t)total;
}
