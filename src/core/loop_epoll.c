/* loop_epoll.c -- the default backend: Linux epoll, level-triggered.
 *
 * Level-triggered keeps the loop's contract simple (a callback may read only
 * part of what is available and be called again), at the cost of one
 * epoll_ctl per mask change. */
#include "core/internal.h"
#include "core/alloc.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

/* Enough for a busy worker; more ready fds simply wait one iteration. */
#define EPOLL_BATCH 1024

struct epoll_state {
    int epfd;
    struct epoll_event events[EPOLL_BATCH];
};

static int epoll_init(sk_loop_t *loop)
{
    struct epoll_state *st = sk_malloc(sizeof(*st));
    if (st == NULL)
        return -ENOMEM;
    st->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (st->epfd < 0) {
        int rc = -errno;
        sk_free(st);
        return rc;
    }
    sk__loop_set_bstate(loop, st);
    return 0;
}

static void epoll_fini(sk_loop_t *loop)
{
    struct epoll_state *st = sk__loop_bstate(loop);
    if (st == NULL)
        return;
    close(st->epfd);
    sk_free(st);
    sk__loop_set_bstate(loop, NULL);
}

static int ctl(sk_loop_t *loop, int op, int fd, int mask)
{
    struct epoll_state *st = sk__loop_bstate(loop);
    struct epoll_event ev = {0};
    if (mask & SK_EV_READ)
        ev.events |= EPOLLIN;
    if (mask & SK_EV_WRITE)
        ev.events |= EPOLLOUT;
    /* The fd, not a pointer: the loop's table may move when it grows, and
     * the fd is all the loop needs to find the callback. */
    ev.data.fd = fd;
    return epoll_ctl(st->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

static int epoll_add(sk_loop_t *loop, int fd, int mask)
{
    return ctl(loop, EPOLL_CTL_ADD, fd, mask);
}

static int epoll_mod(sk_loop_t *loop, int fd, int old_mask, int new_mask)
{
    (void)old_mask;
    return ctl(loop, EPOLL_CTL_MOD, fd, new_mask);
}

static int epoll_del(sk_loop_t *loop, int fd, int old_mask)
{
    (void)old_mask;
    /* Kernels before 2.6.9 want a non-NULL event even for DEL; ctl()
     * always passes one. */
    return ctl(loop, EPOLL_CTL_DEL, fd, 0);
}

static int epoll_wait_ready(sk_loop_t *loop, int timeout_ms)
{
    struct epoll_state *st = sk__loop_bstate(loop);
    int n = epoll_wait(st->epfd, st->events, EPOLL_BATCH, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        uint32_t e = st->events[i].events;
        int ev = 0;
        if (e & EPOLLIN)
            ev |= SK_EV_READ;
        if (e & EPOLLOUT)
            ev |= SK_EV_WRITE;
        if (e & EPOLLERR)
            ev |= SK_EV_ERROR;
        if (e & EPOLLHUP)
            ev |= SK_EV_HUP;
        sk__loop_fired(loop, st->events[i].data.fd, ev);
    }
    return n;
}

const struct sk_backend sk_backend_epoll = {
    .name = "epoll",
    .init = epoll_init,
    .fini = epoll_fini,
    .add = epoll_add,
    .mod = epoll_mod,
    .del = epoll_del,
    .wait = epoll_wait_ready,
};
