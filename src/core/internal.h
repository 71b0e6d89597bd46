/* internal.h -- sk__ symbols shared by the files of src/core: the loop's
 * private layout that backends need, and helpers across core files. */
#ifndef SK_CORE_INTERNAL_H
#define SK_CORE_INTERNAL_H

#include "core/loop.h"

/* A backend reports one ready fd (events: SK_EV_* bits). Called from
 * inside backend->wait(). */
void sk__loop_fired(sk_loop_t *loop, int fd, int events);

/* Backend private state, set by backend->init. */
void *sk__loop_bstate(sk_loop_t *loop);
void sk__loop_set_bstate(sk_loop_t *loop, void *state);

/* Highest fd currently registered, or -1 (poll/select iterate to it). */
int sk__loop_maxfd(const sk_loop_t *loop);

/* The interest mask currently registered for fd (0 when none). */
int sk__loop_mask(const sk_loop_t *loop, int fd);

extern const struct sk_backend sk_backend_epoll;
extern const struct sk_backend sk_backend_poll;
extern const struct sk_backend sk_backend_select;
#ifdef SK_HAVE_LIBURING
extern const struct sk_backend sk_backend_uring;
#endif

#endif
