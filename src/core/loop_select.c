/* loop_select.c -- the select(2) backend, kept as a portable baseline for
 * benchmarks. It only handles fds below FD_SETSIZE (1024): an fd_set has no
 * room beyond that and FD_SET would write past it, so add/mod refuse such
 * fds with -ERANGE instead. */
#include "core/internal.h"
#include "core/alloc.h"

#include <errno.h>
#include <sys/select.h>

struct select_state {
    fd_set rfds, wfds;
};

static int select_init(sk_loop_t *loop)
{
    struct select_state *st = sk_malloc(sizeof(*st));
    if (st == NULL)
        return -ENOMEM;
    FD_ZERO(&st->rfds);
    FD_ZERO(&st->wfds);
    sk__loop_set_bstate(loop, st);
    return 0;
}

static void select_fini(sk_loop_t *loop)
{
    sk_free(sk__loop_bstate(loop));
    sk__loop_set_bstate(loop, NULL);
}

static int select_mod(sk_loop_t *loop, int fd, int old_mask, int new_mask)
{
    struct select_state *st = sk__loop_bstate(loop);
    (void)old_mask;
    if (fd >= FD_SETSIZE)
        return -ERANGE;
    if (new_mask & SK_EV_READ)
        FD_SET(fd, &st->rfds);
    else
        FD_CLR(fd, &st->rfds);
    if (new_mask & SK_EV_WRITE)
        FD_SET(fd, &st->wfds);
    else
        FD_CLR(fd, &st->wfds);
    return 0;
}

static int select_add(sk_loop_t *loop, int fd, int mask)
{
    return select_mod(loop, fd, 0, mask);
}

static int select_del(sk_loop_t *loop, int fd, int old_mask)
{
    if (fd >= FD_SETSIZE)
        return 0;
    return select_mod(loop, fd, old_mask, 0);
}

static int select_wait(sk_loop_t *loop, int timeout_ms)
{
    struct select_state *st = sk__loop_bstate(loop);
    /* select() overwrites its sets, so it gets copies of the interest. */
    fd_set r = st->rfds, w = st->wfds;
    struct timeval tv, *tvp = NULL;
    if (timeout_ms >= 0) {
        tv.tv_sec = timeout_ms / 1000;
        tv.tv_usec = (timeout_ms % 1000) * 1000;
        tvp = &tv;
    }
    int maxfd = sk__loop_maxfd(loop);
    int n = select(maxfd + 1, &r, &w, NULL, tvp);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    int count = 0;
    for (int fd = 0; fd <= maxfd && count < n; fd++) {
        int ev = 0;
        if (FD_ISSET(fd, &r))
            ev |= SK_EV_READ;
        if (FD_ISSET(fd, &w))
            ev |= SK_EV_WRITE;
        if (ev != 0) {
            /* select() counts each set bit, not each fd. */
            count += __builtin_popcount((unsigned)ev);
            sk__loop_fired(loop, fd, ev);
        }
    }
    return n;
}

const struct sk_backend sk_backend_select = {
    .name = "select",
    .init = select_init,
    .fini = select_fini,
    .add = select_add,
    .mod = select_mod,
    .del = select_del,
    .wait = select_wait,
};
