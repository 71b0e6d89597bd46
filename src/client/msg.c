/* msg.c -- the framed JSON client (see msg.h): a poll loop over one stream
 * transport that keeps a window of requests in flight, so many requests
 * cost a few large writes instead of a round trip each, and that reads
 * request lines from stdin only when they are there, so replies are never
 * held back by a quiet terminal. */
#include "client/msg.h"

#include "core/alloc.h"
#include "core/loop.h"
#include "proto/frame.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#define READ_SIZE (64 * 1024)

/* ---- sources ------------------------------------------------------------ */

int sk_msg_args_next(void *ctx, sk_str_t *req)
{
    sk_msg_args_t *a = ctx;
    if (a->i >= a->n)
        return 0;
    const char *s = a->args[a->i++];
    *req = (sk_str_t){s, strlen(s)};
    return 1;
}

void sk_msg_lines_init(sk_msg_lines_t *l, int fd, size_t max, size_t window)
{
    memset(l, 0, sizeof(*l));
    l->fd = fd;
    l->max = max;
    l->window = window ? window : 1;
}

void sk_msg_lines_fini(sk_msg_lines_t *l)
{
    sk_buf_fini(&l->buf);
    sk_free(l->nums);
    l->nums = NULL;
}

size_t sk_msg_lines_number(const sk_msg_lines_t *l, size_t k)
{
    if (l->nums == NULL || k == 0 || k > l->requests || l->requests - k >= l->window)
        return 0;
    return l->nums[k % l->window];
}

static bool blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return false;
    return true;
}

int sk_msg_lines_next(void *ctx, sk_str_t *req)
{
    sk_msg_lines_t *l = ctx;
    sk_buf_consume(&l->buf, l->pending);
    l->pending = 0;
    if (l->nums == NULL && (l->nums = sk_calloc(l->window, sizeof(*l->nums))) == NULL)
        return -ENOMEM;
    for (;;) {
        char *p = sk_buf_head(&l->buf);
        char *nl = l->buf.len ? memchr(p, '\n', l->buf.len) : NULL;
        if (nl != NULL || (l->eof && l->buf.len > 0)) {
            size_t take = nl != NULL ? (size_t)(nl - p) + 1 : l->buf.len;
            size_t n = nl != NULL ? (size_t)(nl - p) : l->buf.len;
            if (n > 0 && p[n - 1] == '\r')
                n--;
            l->line++;
            if (blank(p, n)) {
                sk_buf_consume(&l->buf, take);
                continue;
            }
            if (n > l->max) {
                l->too_long = l->line;
                return SK_ETOOBIG;
            }
            l->pending = take;
            l->requests++;
            l->nums[l->requests % l->window] = l->line;
            *req = (sk_str_t){p, n};
            return 1;
        }
        if (l->eof)
            return 0;
        if (l->buf.len > l->max + 1) {
            l->too_long = l->line + 1;
            return SK_ETOOBIG; /* no end of line within the limit */
        }
        /* Read only what is there: a terminal or a pipe stays blocking
         * (its flags are shared with whoever else holds it). */
        struct pollfd pf = {.fd = l->fd, .events = POLLIN};
        int r = poll(&pf, 1, 0);
        if (r < 0)
            return errno == EINTR ? SK_AGAIN : -errno;
        if (r == 0)
            return SK_AGAIN;
        if (sk_buf_reserve(&l->buf, READ_SIZE) < 0)
            return -ENOMEM;
        ssize_t got = read(l->fd, sk_buf_tail(&l->buf), READ_SIZE);
        if (got < 0)
            return errno == EINTR || errno == EAGAIN ? SK_AGAIN : -errno;
        if (got == 0)
            l->eof = true;
        sk_buf_commit(&l->buf, (size_t)got);
    }
}

/* ---- the request/reply loop ------------------------------------------------ */

struct run {
    sk_transport_t *t;
    const sk_msg_client_opts_t *o;
    sk_msg_reply_cb on_reply;
    void *reply_ctx;
    sk_frame_decoder_t dec;
    sk_outq_t q;
    size_t sent, answered; /* requests */
    struct sk_err *err;
};

/* Reads what the transport has and delivers whole replies. Returns 1 at
 * end of stream, 0 when it would block, or a negative code with err set. */
static int read_replies(struct run *r, char *buf)
{
    for (;;) {
        ssize_t n = r->t->ops->read(r->t, buf, READ_SIZE);
        if (n == -EAGAIN)
            return 0;
        if (n < 0)
            return sk_err_set(r->err, (int)n, "receiving: %s", sk_strerror((int)n));
        if (n == 0)
            return 1;
        size_t off = 0;
        while (off < (size_t)n) {
            size_t used;
            sk_str_t f;
            int rc = sk_frame_decode(&r->dec, buf + off, (size_t)n - off, &used, &f);
            off += used;
            if (rc == SK_AGAIN)
                break;
            if (rc == SK_ETOOBIG)
                return sk_err_set(r->err, rc,
                                  "a reply of %llu bytes is over --max-frame (%zu bytes)",
                                  (unsigned long long)r->dec.too_big, r->dec.max);
            if (rc < 0)
                return sk_err_set(r->err, rc, "receiving: %s", sk_strerror(rc));
            if (r->answered == r->sent)
                return sk_err_set(r->err, SK_EPARSE,
                                  "the server sent a reply to no request (after %zu replies)",
                                  r->answered);
            r->answered++;
            rc = r->on_reply(r->reply_ctx, f.ptr, f.len);
            if (rc < 0)
                return sk_err_set(r->err, rc, "%s", sk_strerror(rc));
        }
    }
}

/* Queues requests from src until the window is full. Returns 1 when the
 * source is exhausted, 0 otherwise, or a negative code with err set. */
static int fill(struct run *r, const sk_msg_source_t *src, bool *waiting)
{
    *waiting = false;
    while (r->sent - r->answered < r->o->window) {
        sk_str_t req;
        int rc = src->next(src->ctx, &req);
        if (rc == 0)
            return 1;
        if (rc == SK_AGAIN) {
            *waiting = true;
            return 0;
        }
        if (rc == SK_ETOOBIG || (rc == 1 && req.len > r->o->max_frame))
            return sk_err_set(r->err, SK_ETOOBIG, "request %zu is over --max-frame (%zu bytes)",
                              r->sent + 1, r->o->max_frame);
        if (rc < 0)
            return sk_err_set(r->err, rc, "reading requests: %s", sk_strerror(rc));
        if (sk_frame_append(&r->q, req.ptr, req.len) < 0)
            return sk_err_set(r->err, -ENOMEM, "out of memory");
        r->sent++;
    }
    return 0;
}

int sk_msg_client_run(sk_transport_t *t, const sk_msg_source_t *src, sk_msg_reply_cb on_reply,
                      void *reply_ctx, const sk_msg_client_opts_t *o, struct sk_err *err)
{
    struct run r = {.t = t, .o = o, .on_reply = on_reply, .reply_ctx = reply_ctx, .err = err};
    sk_frame_decoder_init(&r.dec, o->max_frame);
    sk_outq_init(&r.q);
    char *buf = sk_malloc(READ_SIZE);
    int rc = buf == NULL ? sk_err_set(err, -ENOMEM, "out of memory") : 0;
    int fl = fcntl(t->fd, F_GETFL);
    if (rc == 0 && (fl < 0 || fcntl(t->fd, F_SETFL, fl | O_NONBLOCK) < 0))
        rc = sk_err_set(err, -errno, "cannot make the socket non-blocking: %s", strerror(errno));
    bool src_done = false;
    while (rc == 0) {
        bool waiting = false;
        if (!src_done) {
            int f = fill(&r, src, &waiting);
            if (f < 0) {
                rc = f;
                break;
            }
            src_done = f == 1;
        }
        if (!sk_outq_empty(&r.q)) {
            ssize_t n = t->ops->write(t, &r.q);
            if (n < 0 && n != -EAGAIN) {
                rc = sk_err_set(err, (int)n, "sending: %s", sk_strerror((int)n));
                break;
            }
        }
        if (src_done && r.answered == r.sent && sk_outq_empty(&r.q))
            break; /* everything answered */
        /* Buffered plaintext inside the transport (TLS) needs no wait. */
        bool ready = t->ops->pending != NULL && t->ops->pending(t);
        struct pollfd pf[2] = {{.fd = t->fd, .events = POLLIN}, {.fd = -1}};
        if (!sk_outq_empty(&r.q) || (t->want & SK_EV_WRITE))
            pf[0].events |= POLLOUT;
        if (waiting && src->poll_fd >= 0)
            pf[1] = (struct pollfd){.fd = src->poll_fd, .events = POLLIN};
        /* Only time out while the server owes us something: a quiet stdin
         * is the user's business. */
        bool owed = r.answered < r.sent || !sk_outq_empty(&r.q);
        int timeout = ready ? 0 : owed && o->timeout_ms > 0 ? o->timeout_ms : -1;
        int pr = poll(pf, 2, timeout);
        if (pr < 0 && errno != EINTR) {
            rc = sk_err_set(err, -errno, "poll: %s", strerror(errno));
            break;
        }
        if (pr == 0 && !ready) {
            rc = sk_err_set(err, -ETIMEDOUT,
                            "timed out after %.3g s waiting for the server (%zu of %zu "
                            "requests unanswered)",
                            o->timeout_ms / 1000.0, r.sent - r.answered, r.sent);
            break;
        }
        /* Any readiness may unblock a read: TLS can need a write first. */
        if (ready || pf[0].revents != 0) {
            int e = read_replies(&r, buf);
            if (e < 0) {
                rc = e;
                break;
            }
            if (e == 1) {
                if (r.answered < r.sent || sk_frame_decoder_partial(&r.dec))
                    rc = sk_err_set(err, SK_EEOF,
                                    "the server closed the connection before replying "
                                    "(%zu of %zu requests unanswered)",
                                    r.sent - r.answered, r.sent);
                else if (!src_done || !sk_outq_empty(&r.q))
                    rc = sk_err_set(err, SK_EEOF,
                                    "the server closed the connection after %zu replies",
                                    r.answered);
                break;
            }
        }
    }
    sk_outq_clear(&r.q);
    sk_frame_decoder_fini(&r.dec);
    sk_free(buf);
    return rc;
}
