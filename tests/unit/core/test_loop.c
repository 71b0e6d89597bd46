/* test_loop.c -- unit tests for the event loop (src/core/loop*.c).
 *
 * Written once and run for every built backend (libuv's TEST_FS_IMPL idea):
 * each test is registered once per backend as "<backend>/<test>". When
 * io_uring is unavailable at run time (kernel, seccomp, sysctl) the uring
 * tests are skipped with the reason, never failed. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/internal.h"
#include "core/loop.h"

/* Long enough to never fire on a healthy run, short enough to fail fast. */
#define GUARD_MS 3000

struct fx {
    const struct sk_backend *be;
    sk_loop_t *loop;
    int calls;
    int last_fd;
    int last_events;
    int stale_calls;
    int fds[4];
    int order[8];
    int norder;
    bool guard_fired;
    int init_rc;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    f->be = *state;
    for (int i = 0; i < 4; i++)
        f->fds[i] = -1;
    int rc = sk_loop_new(&f->loop, f->be);
    f->init_rc = rc;
    /* Only uring may be refused by the running kernel; the test body
     * reports the skip. */
    if (rc < 0 && strcmp(f->be->name, "uring") != 0) {
        print_error("sk_loop_new(%s): %s\n", f->be->name, sk_strerror(rc));
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sk_loop_free(f->loop);
    for (int i = 0; i < 4; i++) {
        if (f->fds[i] >= 0)
            close(f->fds[i]);
    }
    free(f);
    return 0;
}

static struct fx *fixture(void **state)
{
    struct fx *f = *state;
    if (f->loop == NULL) {
        print_message("io_uring unavailable here (%s), skipping\n", sk_strerror(f->init_rc));
        skip();
    }
    return f;
}

static void on_guard(sk_loop_t *loop, sk_timer_t *t, void *data)
{
    (void)t;
    ((struct fx *)data)->guard_fired = true;
    sk_loop_stop(loop);
}

/* Runs the loop until a callback stops it or ms pass; returns whether the
 * time ran out. */
static bool run_for(struct fx *f, uint64_t ms)
{
    sk_timer_t guard;
    sk_timer_init(&guard, on_guard, f);
    f->guard_fired = false;
    assert_int_equal(sk_loop_timer_start(f->loop, &guard, ms), 0);
    assert_int_equal(sk_loop_run(f->loop), 0);
    sk_loop_timer_stop(f->loop, &guard);
    return f->guard_fired;
}

static void on_io_record(sk_loop_t *loop, int fd, int events, void *data)
{
    (void)loop;
    struct fx *f = data;
    f->calls++;
    f->last_fd = fd;
    f->last_events = events;
}

static void on_io_stop(sk_loop_t *loop, int fd, int events, void *data)
{
    on_io_record(loop, fd, events, data);
    sk_loop_stop(loop);
}

static void make_pipe(struct fx *f, int slot)
{
    assert_int_equal(pipe2(&f->fds[slot], O_NONBLOCK | O_CLOEXEC), 0);
}

static void test_read_ready(void **state)
{
    struct fx *f = fixture(state);
    make_pipe(f, 0);
    assert_int_equal(write(f->fds[1], "x", 1), 1);
    assert_int_equal(sk_loop_io_set(f->loop, f->fds[0], SK_EV_READ, on_io_stop, f), 0);
    assert_int_equal(sk__loop_mask(f->loop, f->fds[0]), SK_EV_READ);
    assert_true(sk__loop_maxfd(f->loop) >= f->fds[0]);
    assert_false(run_for(f, GUARD_MS));
    assert_int_equal(f->calls, 1);
    assert_int_equal(f->last_fd, f->fds[0]);
    assert_true(f->last_events & SK_EV_READ);
    assert_false(f->last_events & SK_EV_WRITE);
    sk_loop_io_del(f->loop, f->fds[0]);
    assert_int_equal(sk__loop_mask(f->loop, f->fds[0]), 0);
}

static void test_write_ready(void **state)
{
    struct fx *f = fixture(state);
    make_pipe(f, 0);
    assert_int_equal(sk_loop_io_set(f->loop, f->fds[1], SK_EV_WRITE, on_io_stop, f), 0);
    assert_false(run_for(f, GUARD_MS));
    assert_int_equal(f->calls, 1);
    assert_int_equal(f->last_fd, f->fds[1]);
    assert_int_equal(f->last_events & (SK_EV_READ | SK_EV_WRITE), SK_EV_WRITE);
}

static void test_hup(void **state)
{
    struct fx *f = fixture(state);
    make_pipe(f, 0);
    close(f->fds[1]);
    f->fds[1] = -1;
    assert_int_equal(sk_loop_io_set(f->loop, f->fds[0], SK_EV_READ, on_io_stop, f), 0);
    assert_false(run_for(f, GUARD_MS));
    assert_int_equal(f->calls, 1);
    /* select() can only say "readable"; the others also report the HUP. */
    assert_true(f->last_events & (SK_EV_READ | SK_EV_HUP));
}

static void test_mask_changes(void **state)
{
    struct fx *f = fixture(state);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, f->fds), 0);
    int a = f->fds[0];
    assert_int_equal(sk_loop_io_set(f->loop, a, SK_EV_READ, on_io_stop, f), 0);
    assert_true(run_for(f, 30));
    assert_int_equal(f->calls, 0);

    assert_int_equal(sk_loop_io_mask(f->loop, a, SK_EV_WRITE), 0);
    assert_int_equal(sk__loop_mask(f->loop, a), SK_EV_WRITE);
    assert_false(run_for(f, GUARD_MS));
    assert_int_equal(f->calls, 1);
    assert_int_equal(f->last_events & (SK_EV_READ | SK_EV_WRITE), SK_EV_WRITE);

    assert_int_equal(write(f->fds[1], "x", 1), 1);
    assert_int_equal(sk_loop_io_mask(f->loop, a, SK_EV_READ | SK_EV_WRITE), 0);
    assert_int_equal(sk_loop_io_mask(f->loop, a, SK_EV_READ | SK_EV_WRITE), 0);
    assert_false(run_for(f, GUARD_MS));
    assert_int_equal(f->calls, 2);
    assert_int_equal(f->last_events & (SK_EV_READ | SK_EV_WRITE), SK_EV_READ | SK_EV_WRITE);

    /* Mask 0 pauses the fd but keeps its callback for a later resume. */
    assert_int_equal(sk_loop_io_mask(f->loop, a, 0), 0);
    assert_int_equal(sk__loop_mask(f->loop, a), 0);
    assert_true(run_for(f, 30));
    assert_int_equal(f->calls, 2);
    assert_int_equal(sk_loop_io_mask(f->loop, a, SK_EV_READ), 0);
    assert_false(run_for(f, GUARD_MS));
    assert_int_equal(f->calls, 3);
    assert_int_equal(f->last_events & (SK_EV_READ | SK_EV_WRITE), SK_EV_READ);

    /* Re-registering replaces the callback and data. */
    struct fx other = {0};
    assert_int_equal(sk_loop_io_set(f->loop, a, SK_EV_READ, on_io_stop, &other), 0);
    assert_false(run_for(f, GUARD_MS));
    assert_int_equal(f->calls, 3);
    assert_int_equal(other.calls, 1);

    sk_loop_io_del(f->loop, a);
    sk_loop_io_del(f->loop, a);
    assert_int_equal(sk_loop_io_mask(f->loop, a, SK_EV_READ), -ENOENT);
    assert_int_equal(sk_loop_io_mask(f->loop, 100000, SK_EV_READ), -ENOENT);
    assert_int_equal(sk_loop_io_set(f->loop, -1, SK_EV_READ, on_io_stop, f), -EBADF);
    assert_int_equal(sk_loop_io_set(f->loop, a, SK_EV_ERROR, on_io_stop, f), -EINVAL);
    assert_int_equal(sk_loop_io_set(f->loop, a, 0, on_io_stop, f), 0);
    assert_true(run_for(f, 20));
    assert_int_equal(f->calls, 3);
}

static void on_io_stale(sk_loop_t *loop, int fd, int events, void *data)
{
    (void)loop;
    (void)fd;
    (void)events;
    ((struct fx *)data)->stale_calls++;
}

/* Removes and closes the other pipe, then puts a readable fd under the
 * same number with another callback: neither may see this batch's event. */
static void on_io_remove_other(sk_loop_t *loop, int fd, int events, void *data)
{
    struct fx *f = data;
    on_io_record(loop, fd, events, data);
    int other = fd == f->fds[0] ? f->fds[2] : f->fds[0];
    sk_loop_io_del(loop, other);
    close(other);
    assert_int_equal(dup3(fd, other, O_CLOEXEC), other);
    assert_int_equal(sk_loop_io_set(loop, other, SK_EV_READ, on_io_stale, f), 0);
    sk_loop_stop(loop);
}

static void test_remove_in_batch(void **state)
{
    struct fx *f = fixture(state);
    make_pipe(f, 0);
    make_pipe(f, 2);
    assert_int_equal(write(f->fds[1], "x", 1), 1);
    assert_int_equal(write(f->fds[3], "x", 1), 1);
    /* First prove both fds are reported in one batch, or this test would
     * prove nothing. */
    assert_int_equal(sk_loop_io_set(f->loop, f->fds[0], SK_EV_READ, on_io_stop, f), 0);
    assert_int_equal(sk_loop_io_set(f->loop, f->fds[2], SK_EV_READ, on_io_stop, f), 0);
    assert_false(run_for(f, GUARD_MS));
    assert_int_equal(f->calls, 2);
    f->calls = 0;
    assert_int_equal(sk_loop_io_set(f->loop, f->fds[0], SK_EV_READ, on_io_remove_other, f), 0);
    assert_int_equal(sk_loop_io_set(f->loop, f->fds[2], SK_EV_READ, on_io_remove_other, f), 0);
    assert_false(run_for(f, GUARD_MS));
    assert_int_equal(f->calls, 1);
    assert_int_equal(f->stale_calls, 0);
    sk_loop_io_del(f->loop, f->fds[0]);
    sk_loop_io_del(f->loop, f->fds[2]);
}

struct order_timer {
    sk_timer_t t;
    struct fx *f;
    int id;
    bool stop;
};

static void on_order_timer(sk_loop_t *loop, sk_timer_t *t, void *data)
{
    struct order_timer *ot = data;
    assert_false(sk_timer_active(t));
    assert_true(sk_loop_now(loop) >= t->due_ms);
    ot->f->order[ot->f->norder++] = ot->id;
    if (ot->stop)
        sk_loop_stop(loop);
}

static void test_timers(void **state)
{
    struct fx *f = fixture(state);
    static const uint64_t delay[] = {30, 10, 20, 10, 25, 40};
    struct order_timer ot[6];
    uint64_t start = sk_loop_now(f->loop);
    for (int i = 0; i < 6; i++) {
        ot[i] = (struct order_timer){.f = f, .id = i, .stop = i == 5};
        sk_timer_init(&ot[i].t, on_order_timer, &ot[i]);
        assert_int_equal(sk_loop_timer_start(f->loop, &ot[i].t, delay[i]), 0);
    }
    sk_loop_timer_stop(f->loop, &ot[4].t);
    sk_loop_timer_stop(f->loop, &ot[4].t);
    assert_false(sk_timer_active(&ot[4].t));
    /* Re-arming moves a timer: 0 now fires last but before the stopper. */
    assert_int_equal(sk_loop_timer_start(f->loop, &ot[0].t, 35), 0);
    assert_false(run_for(f, GUARD_MS));
    static const int want[] = {1, 3, 2, 0, 5};
    assert_int_equal(f->norder, 5);
    assert_memory_equal(f->order, want, sizeof(want));
    assert_true(sk_loop_now(f->loop) - start >= 40);
}

struct spin_timer {
    sk_timer_t t;
    int count;
};

static void on_spin_timer(sk_loop_t *loop, sk_timer_t *t, void *data)
{
    struct spin_timer *st = data;
    if (++st->count == 5)
        sk_loop_stop(loop);
    else
        assert_int_equal(sk_loop_timer_start(loop, t, 0), 0);
}

/* A timer re-arming itself with delay 0 runs once per iteration and lets
 * the loop poll (and stop) in between instead of spinning. */
static void test_timer_rearm_zero(void **state)
{
    struct fx *f = fixture(state);
    struct spin_timer st = {.count = 0};
    sk_timer_init(&st.t, on_spin_timer, &st);
    assert_int_equal(sk_loop_timer_start(f->loop, &st.t, 0), 0);
    assert_false(run_for(f, GUARD_MS));
    assert_int_equal(st.count, 5);
}

static void on_wake(sk_loop_t *loop, void *data)
{
    ((struct fx *)data)->calls++;
    sk_loop_stop(loop);
}

static void *waker(void *arg)
{
    usleep(20 * 1000);
    sk_loop_wake(arg);
    return NULL;
}

static void test_wake_from_thread(void **state)
{
    struct fx *f = fixture(state);
    sk_loop_on_wake(f->loop, on_wake, f);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, waker, f->loop), 0);
    bool timed_out = run_for(f, GUARD_MS);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_false(timed_out);
    assert_int_equal(f->calls, 1);

    /* Wakes before the run coalesce into one callback and are drained. */
    sk_loop_wake(f->loop);
    sk_loop_wake(f->loop);
    assert_false(run_for(f, GUARD_MS));
    assert_int_equal(f->calls, 2);
    assert_true(run_for(f, 30));
    assert_int_equal(f->calls, 2);
}

#define BIG_FD 1100

static void test_big_fd(void **state)
{
    struct fx *f = fixture(state);
    struct rlimit old, rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    rl = old;
    if (rl.rlim_cur <= BIG_FD) {
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= BIG_FD) {
            print_message("RLIMIT_NOFILE hard limit %llu too low, skipping\n",
                          (unsigned long long)rl.rlim_max);
            skip();
        }
        rl.rlim_cur = BIG_FD + 1;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            print_message("cannot raise RLIMIT_NOFILE, skipping\n");
            skip();
        }
    }
    make_pipe(f, 0);
    assert_int_equal(dup3(f->fds[0], BIG_FD, O_CLOEXEC), BIG_FD);
    close(f->fds[0]);
    f->fds[0] = BIG_FD;
    assert_int_equal(write(f->fds[1], "x", 1), 1);
    int rc = sk_loop_io_set(f->loop, BIG_FD, SK_EV_READ, on_io_stop, f);
    if (strcmp(f->be->name, "select") == 0) {
        assert_true(BIG_FD >= FD_SETSIZE);
        assert_int_equal(rc, -ERANGE);
        assert_int_equal(sk__loop_mask(f->loop, BIG_FD), 0);
        assert_int_equal(sk_loop_io_mask(f->loop, BIG_FD, SK_EV_READ), -ENOENT);
        assert_true(sk__loop_maxfd(f->loop) < FD_SETSIZE);
        /* The loop still works for the fds it does hold. */
        assert_true(run_for(f, 20));
    } else {
        assert_int_equal(rc, 0);
        assert_int_equal(sk__loop_maxfd(f->loop), BIG_FD);
        assert_false(run_for(f, GUARD_MS));
        assert_int_equal(f->last_fd, BIG_FD);
        sk_loop_io_del(f->loop, BIG_FD);
        assert_true(sk__loop_maxfd(f->loop) < BIG_FD);
    }
    close(BIG_FD);
    f->fds[0] = -1;
    setrlimit(RLIMIT_NOFILE, &old);
}

static void test_accessors(void **state)
{
    struct fx *f = fixture(state);
    assert_ptr_equal(sk_loop_backend(f->loop), f->be);
    unsigned size = 0;
    char *s = sk_loop_scratch(f->loop, &size);
    assert_non_null(s);
    assert_int_equal(size, 64 * 1024);
    memset(s, 0, size);
    assert_null(sk_loop_data(f->loop));
    sk_loop_set_data(f->loop, f);
    assert_ptr_equal(sk_loop_data(f->loop), f);
    assert_true(sk_loop_now(f->loop) > 0);
}

/* Every allocation sk_loop_new and a table growth make can fail cleanly
 * (ASan checks that nothing leaks on the way out). */
static void test_enomem(void **state)
{
    struct fx *f = fixture(state);
    int rc = -ENOMEM;
    for (long n = 1; n < 20 && rc != 0; n++) {
        sk_loop_t *loop = NULL;
        sk_alloc_fail_after(n);
        rc = sk_loop_new(&loop, f->be);
        sk_alloc_fail_after(0);
        if (rc != 0) {
            assert_int_equal(rc, -ENOMEM);
            assert_null(loop);
        }
        sk_loop_free(loop);
    }
    assert_int_equal(rc, 0);

    make_pipe(f, 0);
    int big = fcntl(f->fds[0], F_DUPFD_CLOEXEC, 300);
    if (big < 0)
        skip();
    f->fds[2] = big;
    sk_alloc_fail_after(1);
    rc = sk_loop_io_set(f->loop, big, SK_EV_READ, on_io_stop, f);
    sk_alloc_fail_after(0);
    assert_int_equal(rc, -ENOMEM);
    assert_int_equal(sk__loop_mask(f->loop, big), 0);
    assert_int_equal(sk_loop_io_set(f->loop, big, SK_EV_READ, on_io_stop, f), 0);
    sk_loop_io_del(f->loop, big);
}

static void test_backend_table(void **state)
{
    (void)state;
    bool nb = true;
    assert_ptr_equal(sk_backend_find("epoll", &nb), sk_backend_default());
    assert_false(nb);
    assert_string_equal(sk_backend_default()->name, "epoll");
    const struct sk_backend *u = sk_backend_find("uring", &nb);
#ifdef SK_HAVE_LIBURING
    assert_non_null(u);
    assert_false(nb);
#else
    assert_null(u);
    assert_true(nb);
#endif
    assert_null(sk_backend_find("kqueue", &nb));
    assert_false(nb);
    assert_non_null(sk_backend_find("poll", NULL));
    assert_non_null(sk_backend_find("select", NULL));
    /* Thread per connection is a server engine, not a loop backend. */
    assert_null(sk_backend_find("threads", &nb));
    assert_false(nb);
    int n = 0;
    for (; sk_backend_names[n] != NULL; n++) {
        const struct sk_backend *b = sk_backend_find(sk_backend_names[n], &nb);
        assert_true(b != NULL || nb);
        if (b != NULL)
            assert_string_equal(b->name, sk_backend_names[n]);
    }
    assert_int_equal(n, 4);
}

#define NTESTS 11

static const struct {
    const char *name;
    CMUnitTestFunction fn;
} per_backend[NTESTS] = {
    {"read_ready", test_read_ready},
    {"write_ready", test_write_ready},
    {"hup", test_hup},
    {"mask_changes", test_mask_changes},
    {"remove_in_batch", test_remove_in_batch},
    {"timers", test_timers},
    {"timer_rearm_zero", test_timer_rearm_zero},
    {"wake_from_thread", test_wake_from_thread},
    {"big_fd", test_big_fd},
    {"enomem", test_enomem},
    {"accessors", test_accessors},
};

int main(void)
{
    static struct CMUnitTest tests[1 + 5 * NTESTS];
    static char names[5 * NTESTS][64];
    size_t n = 0, nn = 0;
    tests[n++] = (struct CMUnitTest){.name = "backend_table", .test_func = test_backend_table};
    for (size_t b = 0; sk_backend_names[b] != NULL; b++) {
        const struct sk_backend *be = sk_backend_find(sk_backend_names[b], NULL);
        if (be == NULL)
            continue;
        for (size_t i = 0; i < NTESTS; i++) {
            snprintf(names[nn], sizeof(names[nn]), "%s/%s", be->name, per_backend[i].name);
            tests[n++] = (struct CMUnitTest){
                .name = names[nn++],
                .test_func = per_backend[i].fn,
                .setup_func = setup,
                .teardown_func = teardown,
                .initial_state = (void *)be,
            };
        }
    }
    return _cmocka_run_group_tests("loop", tests, n, NULL, NULL);
}
