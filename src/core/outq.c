/* outq.c -- pending output as memory chunks and file ranges (see outq.h). */
#include "core/outq.h"
#include "core/alloc.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* fd < 0 marks a memory chunk: its bytes are data[off, off + len) and
 * data[off + len, cap) is free room. For a file range, off is the file
 * offset and len the bytes left. */
struct sk_outseg {
    sk_outseg_t *next;
    int fd;
    bool owns_fd;
    uint64_t off;
    uint64_t len;
    size_t cap;
    char data[];
};

/* Small replies (HTTP heads, echo chunks) fit one chunk; bigger appends get
 * a chunk of their own size so nothing is copied twice. */
#define CHUNK_MIN 4096

void sk_outq_init(sk_outq_t *q)
{
    memset(q, 0, sizeof(*q));
}

/* Most replies (an echo, an HTTP head) take one CHUNK_MIN chunk that is
 * allocated and freed within one dispatch, and malloc plus free cost more
 * than the echo itself. Each thread keeps a few such chunks for reuse; the
 * cache is bounded and freed when the thread exits. */
#define CACHE_MAX 8

struct chunk_cache {
    int n;
    sk_outseg_t *segs[CACHE_MAX];
};

static __thread struct chunk_cache cache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_destroy(void *arg)
{
    struct chunk_cache *c = arg;
    while (c->n > 0)
        sk_free(c->segs[--c->n]);
}

static void cache_key_create(void)
{
    (void)pthread_key_create(&cache_key, cache_destroy);
}

static sk_outseg_t *chunk_alloc(size_t cap)
{
    if (cap == CHUNK_MIN && cache.n > 0)
        return cache.segs[--cache.n];
    return sk_malloc(sizeof(sk_outseg_t) + cap);
}

static void seg_free(sk_outseg_t *s)
{
    if (s->fd >= 0) {
        if (s->owns_fd)
            close(s->fd);
    } else if (s->cap == CHUNK_MIN && cache.n < CACHE_MAX) {
        if (cache.n == 0) {
            /* Registers the destructor for this thread's cache. */
            pthread_once(&cache_once, cache_key_create);
            pthread_setspecific(cache_key, &cache);
        }
        cache.segs[cache.n++] = s;
        return;
    }
    sk_free(s);
}

void sk_outq_clear(sk_outq_t *q)
{
    sk_outseg_t *s = q->head;
    while (s != NULL) {
        sk_outseg_t *next = s->next;
        seg_free(s);
        s = next;
    }
    sk_outq_init(q);
}

static void push(sk_outq_t *q, sk_outseg_t *s)
{
    s->next = NULL;
    if (q->tail != NULL)
        q->tail->next = s;
    else
        q->head = s;
    q->tail = s;
}

char *sk_outq_reserve(sk_outq_t *q, size_t n)
{
    sk_outseg_t *t = q->tail;
    if (t != NULL && t->fd < 0 && t->cap - (t->off + t->len) >= n)
        return t->data + t->off + t->len;
    size_t cap = n < CHUNK_MIN ? CHUNK_MIN : n;
    sk_outseg_t *s = chunk_alloc(cap);
    if (s == NULL)
        return NULL;
    s->fd = -1;
    s->owns_fd = false;
    s->off = 0;
    s->len = 0;
    s->cap = cap;
    push(q, s);
    return s->data;
}

void sk_outq_commit(sk_outq_t *q, size_t n)
{
    q->tail->len += n;
    q->bytes += n;
}

int sk_outq_append(sk_outq_t *q, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    char *dst = sk_outq_reserve(q, n);
    if (dst == NULL)
        return -ENOMEM;
    memcpy(dst, p, n);
    sk_outq_commit(q, n);
    return 0;
}

int sk_outq_append_file(sk_outq_t *q, int fd, off_t off, uint64_t len, bool owns_fd)
{
    if (len == 0) {
        if (owns_fd)
            close(fd);
        return 0;
    }
    sk_outseg_t *s = sk_malloc(sizeof(*s));
    if (s == NULL) {
        if (owns_fd)
            close(fd);
        return -ENOMEM;
    }
    s->fd = fd;
    s->owns_fd = owns_fd;
    s->off = (uint64_t)off;
    s->len = len;
    s->cap = 0;
    push(q, s);
    q->bytes += len;
    return 0;
}

void sk_outq_move(sk_outq_t *dst, sk_outq_t *src)
{
    if (src->head == NULL)
        return;
    if (dst->tail != NULL)
        dst->tail->next = src->head;
    else
        dst->head = src->head;
    dst->tail = src->tail;
    dst->bytes += src->bytes;
    sk_outq_init(src);
}

void sk_outq_consume(sk_outq_t *q, uint64_t n)
{
    q->bytes -= n < q->bytes ? n : q->bytes;
    while (n > 0 && q->head != NULL) {
        sk_outseg_t *s = q->head;
        uint64_t take = n < s->len ? n : s->len;
        s->off += take;
        s->len -= take;
        n -= take;
        if (s->len == 0) {
            q->head = s->next;
            if (q->head == NULL)
                q->tail = NULL;
            seg_free(s);
        }
    }
    /* An emptied memory chunk left at the head is freed above; one still
     * holding room at the tail is reused by the next append. */
}

#define IOV_BATCH 16

ssize_t sk_outq_write(sk_outq_t *q, int sock)
{
    sk_outseg_t *s = q->head;
    if (s == NULL)
        return 0;
    ssize_t n;
    if (s->fd < 0) {
        struct iovec iov[IOV_BATCH];
        int cnt = 0;
        for (; s != NULL && s->fd < 0 && cnt < IOV_BATCH; s = s->next) {
            iov[cnt].iov_base = s->data + s->off;
            iov[cnt].iov_len = s->len;
            cnt++;
        }
        /* MSG_MORE when a file body follows: the kernel holds the head
         * back and sends it in the same segment as the first body bytes,
         * like TCP_CORK but without two extra system calls. */
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
        int flags = MSG_NOSIGNAL | (s != NULL ? MSG_MORE : 0);
        do {
            n = sendmsg(sock, &mh, flags);
        } while (n < 0 && errno == EINTR);
        if (n < 0 && errno == ENOTSOCK) {
            /* Pipes and terminals (stdio bridging) take writev. */
            do {
                n = writev(sock, iov, cnt);
            } while (n < 0 && errno == EINTR);
        }
    } else {
        off_t off = (off_t)s->off;
        size_t want = s->len > (1u << 30) ? (1u << 30) : (size_t)s->len;
        do {
            n = sendfile(sock, s->fd, &off, want);
        } while (n < 0 && errno == EINTR);
        if (n == 0)
            return -EIO; /* the file shrank under us: the response cannot be completed */
    }
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    sk_outq_consume(q, (uint64_t)n);
    return n;
}

bool sk_outq_head_file(const sk_outq_t *q, int *fd, off_t *off, size_t *len)
{
    const sk_outseg_t *s = q->head;
    if (s == NULL || s->fd < 0)
        return false;
    *fd = s->fd;
    *off = (off_t)s->off;
    *len = s->len > SIZE_MAX ? SIZE_MAX : (size_t)s->len;
    return true;
}

ssize_t sk_outq_peek(sk_outq_t *q, char *buf, size_t cap)
{
    size_t got = 0;
    for (sk_outseg_t *s = q->head; s != NULL && got < cap; s = s->next) {
        size_t want = cap - got;
        if (want > s->len)
            want = (size_t)s->len;
        if (s->fd < 0) {
            memcpy(buf + got, s->data + s->off, want);
            got += want;
            continue;
        }
        ssize_t r;
        do {
            r = pread(s->fd, buf + got, want, (off_t)s->off);
        } while (r < 0 && errno == EINTR);
        if (r < 0)
            return -errno;
        if (r == 0)
            return got > 0 ? (ssize_t)got : -EIO;
        got += (size_t)r;
        if ((size_t)r < want)
            break;
    }
    return (ssize_t)got;
}
