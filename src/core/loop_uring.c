/* loop_uring.c -- readiness through io_uring poll requests (IORING_OP_POLL_ADD).
 *
 * Needs Linux 5.1+ (5.11+ for waits with a timeout without an extra SQE) and
 * liburing; compiled only when the Makefile finds liburing. io_uring can also
 * be disabled at run time (seccomp, kernel.io_uring_disabled), so init
 * returns the kernel's error and callers fall back or skip. */
#include "core/internal.h"
#include "core/alloc.h"

#include <errno.h>
#include <limits.h>
#include <liburing.h>
#include <poll.h>
#include <string.h>

#define RING_ENTRIES 1024

/* user_data of poll-remove requests, whose completions carry nothing. */
#define UD_REMOVE UINT64_MAX

struct uring_fd {
    /* Bumped on every arm: a completion whose generation is not the
     * current one belongs to a request that was removed or replaced. */
    uint32_t gen;
    int mask;
    bool armed; /* a poll request for gen is in flight */
};

struct uring_state {
    struct io_uring ring;
    struct uring_fd *fds;
    int *rearm; /* fds whose one-shot poll completed in the last wait */
    int nfds;   /* capacity of fds and rearm */
    size_t nrearm;
};

static uint64_t ud_make(int fd, uint32_t gen)
{
    return (uint64_t)gen << 32 | (uint32_t)fd;
}

static int uring_init(sk_loop_t *loop)
{
    struct uring_state *st = sk_calloc(1, sizeof(*st));
    if (st == NULL)
        return -ENOMEM;
    int rc = io_uring_queue_init(RING_ENTRIES, &st->ring, 0);
    if (rc < 0) {
        sk_free(st);
        return rc;
    }
    sk__loop_set_bstate(loop, st);
    return 0;
}

static void uring_fini(sk_loop_t *loop)
{
    struct uring_state *st = sk__loop_bstate(loop);
    if (st == NULL)
        return;
    /* Tearing the ring down cancels every outstanding poll request. */
    io_uring_queue_exit(&st->ring);
    sk_free(st->fds);
    sk_free(st->rearm);
    sk_free(st);
    sk__loop_set_bstate(loop, NULL);
}

static int grow(struct uring_state *st, int fd)
{
    if (fd < st->nfds)
        return 0;
    int n = st->nfds ? st->nfds : 64;
    while (n <= fd) {
        if (n > INT_MAX / 2)
            return -ENOMEM;
        n *= 2;
    }
    struct uring_fd *fds = sk_realloc(st->fds, (size_t)n * sizeof(*fds));
    if (fds == NULL)
        return -ENOMEM;
    memset(fds + st->nfds, 0, (size_t)(n - st->nfds) * sizeof(*fds));
    st->fds = fds;
    int *rearm = sk_realloc(st->rearm, (size_t)n * sizeof(*rearm));
    if (rearm == NULL)
        return -ENOMEM;
    st->rearm = rearm;
    st->nfds = n;
    return 0;
}

static struct io_uring_sqe *get_sqe(struct uring_state *st, int *rc)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&st->ring);
    if (sqe == NULL) {
        /* The submission queue is full: hand it to the kernel and retry. */
        int n = io_uring_submit(&st->ring);
        if (n < 0) {
            *rc = n;
            return NULL;
        }
        sqe = io_uring_get_sqe(&st->ring);
        if (sqe == NULL) {
            *rc = -EBUSY;
            return NULL;
        }
    }
    return sqe;
}

/* Queues a one-shot poll. One-shot rather than multishot on purpose: a
 * multishot poll reports edges, while the loop promises level-triggered
 * readiness (a callback may leave data unread). Re-arming after each
 * completion re-checks the fd's state, which is exactly level semantics. */
static int arm(struct uring_state *st, int fd)
{
    int rc = 0;
    struct io_uring_sqe *sqe = get_sqe(st, &rc);
    if (sqe == NULL)
        return rc;
    struct uring_fd *u = &st->fds[fd];
    unsigned events = 0;
    if (u->mask & SK_EV_READ)
        events |= POLLIN;
    if (u->mask & SK_EV_WRITE)
        events |= POLLOUT;
    u->gen++;
    io_uring_prep_poll_add(sqe, fd, events);
    io_uring_sqe_set_data64(sqe, ud_make(fd, u->gen));
    u->armed = true;
    return 0;
}

static int disarm(struct uring_state *st, int fd)
{
    struct uring_fd *u = &st->fds[fd];
    if (!u->armed)
        return 0;
    int rc = 0;
    struct io_uring_sqe *sqe = get_sqe(st, &rc);
    if (sqe == NULL)
        return rc;
    /* The request holds a reference to the file, so it must go even though
     * the caller is about to close the fd: otherwise the socket would stay
     * open until it happened to become ready. */
    io_uring_prep_poll_remove(sqe, ud_make(fd, u->gen));
    io_uring_sqe_set_data64(sqe, UD_REMOVE);
    u->armed = false;
    u->gen++;
    return 0;
}

static int uring_add(sk_loop_t *loop, int fd, int mask)
{
    struct uring_state *st = sk__loop_bstate(loop);
    int rc = grow(st, fd);
    if (rc < 0)
        return rc;
    st->fds[fd].mask = mask;
    rc = arm(st, fd);
    if (rc < 0)
        st->fds[fd].mask = 0;
    return rc;
}

static int uring_del(sk_loop_t *loop, int fd, int old_mask)
{
    struct uring_state *st = sk__loop_bstate(loop);
    (void)old_mask;
    if (fd >= st->nfds)
        return -ENOENT;
    st->fds[fd].mask = 0;
    return disarm(st, fd);
}

static int uring_mod(sk_loop_t *loop, int fd, int old_mask, int new_mask)
{
    struct uring_state *st = sk__loop_bstate(loop);
    if (fd >= st->nfds)
        return -ENOENT;
    int rc = disarm(st, fd);
    if (rc < 0)
        return rc;
    st->fds[fd].mask = new_mask;
    rc = arm(st, fd);
    if (rc < 0)
        st->fds[fd].mask = old_mask;
    return rc;
}

static int uring_wait(sk_loop_t *loop, int timeout_ms)
{
    struct uring_state *st = sk__loop_bstate(loop);
    int rc;
    /* Re-arm only now, after the callbacks ran: an fd they drained or
     * removed must not report again. */
    for (size_t i = 0; i < st->nrearm; i++) {
        int fd = st->rearm[i];
        if (st->fds[fd].mask != 0 && !st->fds[fd].armed) {
            rc = arm(st, fd);
            if (rc < 0)
                return rc;
        }
    }
    st->nrearm = 0;

    struct io_uring_cqe *cqe = NULL;
    if (timeout_ms < 0) {
        rc = io_uring_submit_and_wait(&st->ring, 1);
    } else {
        struct __kernel_timespec ts = {
            .tv_sec = timeout_ms / 1000,
            .tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
        };
        rc = io_uring_submit_and_wait_timeout(&st->ring, &cqe, 1, &ts, NULL);
    }
    /* -EBUSY/-EAGAIN mean the completion queue is backed up, which reaping
     * below fixes. */
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN)
        return rc;

    unsigned head, seen = 0;
    int n = 0;
    io_uring_for_each_cqe(&st->ring, head, cqe)
    {
        seen++;
        uint64_t ud = io_uring_cqe_get_data64(cqe);
        if (ud == UD_REMOVE)
            continue;
        int fd = (int)(uint32_t)ud;
        uint32_t gen = (uint32_t)(ud >> 32);
        if (fd >= st->nfds || st->fds[fd].gen != gen || !st->fds[fd].armed)
            continue;
        st->fds[fd].armed = false;
        st->rearm[st->nrearm++] = fd;
        int ev = 0;
        if (cqe->res < 0) {
            ev = SK_EV_ERROR;
        } else {
            if (cqe->res & POLLIN)
                ev |= SK_EV_READ;
            if (cqe->res & POLLOUT)
                ev |= SK_EV_WRITE;
            if (cqe->res & (POLLERR | POLLNVAL))
                ev |= SK_EV_ERROR;
            if (cqe->res & POLLHUP)
                ev |= SK_EV_HUP;
        }
        sk__loop_fired(loop, fd, ev);
        n++;
    }
    io_uring_cq_advance(&st->ring, seen);
    return n;
}

const struct sk_backend sk_backend_uring = {
    .name = "uring",
    .init = uring_init,
    .fini = uring_fini,
    .add = uring_add,
    .mod = uring_mod,
    .del = uring_del,
    .wait = uring_wait,
};
