/* test_pace.c -- coordinated-omission correction (src/bench/pace.h) on a
 * synthetic stall: a server that answers in 1 ms but freezes for 1 s once,
 * driven at 100 requests/s for 10 s by one connection that can only send
 * when the previous response is in. Measured from the send time, the
 * stall is one slow sample and p99 looks fine; measured from the due time,
 * every request the stall held back carries its wait, as it would for
 * users arriving at that rate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "bench/hist.h"
#include "bench/pace.h"

#define MS 1000000ull
#define SEC 1000000000ull

/* Service time of a request that starts at t: 1 ms, except that anything
 * arriving during the stall [5 s, 6 s) waits until it ends. */
static uint64_t service_done(uint64_t t)
{
    if (t >= 5 * SEC && t < 6 * SEC)
        return 6 * SEC + 1 * MS;
    return t + 1 * MS;
}

static void simulate(sk_hist_t *corrected, sk_hist_t *naive)
{
    sk_pace_t p;
    sk_pace_init(&p, 0, 10 * MS); /* 100 requests/s */
    uint64_t now = 0;
    while (sk_pace_due(&p) < 10 * SEC) {
        uint64_t send = now > sk_pace_due(&p) ? now : sk_pace_due(&p);
        uint64_t done = service_done(send);
        sk_hist_record(naive, done - send);
        sk_hist_record(corrected, sk_pace_complete(&p, send, done));
        now = done;
    }
}

static void test_stall(void **state)
{
    (void)state;
    sk_hist_t *c = malloc(sizeof(*c)), *n = malloc(sizeof(*n));
    sk_hist_init(c);
    sk_hist_init(n);
    simulate(c, n);
    /* One request per due slot: 1000 in 10 s, whatever the stall did. */
    assert_int_equal(c->count, 1000);
    assert_int_equal(n->count, 1000);
    /* Naive: a single 1 s sample; p99 is the 1 ms service time. */
    assert_true(sk_hist_percentile(n, 99) < 2 * MS);
    assert_true(n->max > 900 * MS);
    /* Corrected: the request due at 5 s is answered at 6.001 s; the ones
     * due after it are sent back to back, each 1 ms after the last, while
     * their due times advance 10 ms, so the backlog shrinks by 9 ms a
     * request: latencies 1.001 s, 0.992 s, ... over ~112 requests
     * (sum ~56.2 s), the other ~888 take 1 ms: mean ~57 ms, and p90 and
     * above fall inside the catch-up. */
    assert_true(sk_hist_percentile(c, 50) < 2 * MS);
    assert_true(sk_hist_percentile(c, 95) > 400 * MS);
    assert_true(sk_hist_percentile(c, 99) > 850 * MS);
    double mean = sk_hist_mean(c);
    assert_true(mean > 54.0 * MS && mean < 60.0 * MS);
    /* The naive mean hides it: ~2 ms. */
    assert_true(sk_hist_mean(n) < 3.0 * MS);
    free(c);
    free(n);
}

static void test_no_stall_no_correction(void **state)
{
    (void)state;
    /* A server faster than the schedule: corrected == naive. */
    sk_pace_t p;
    sk_pace_init(&p, 100, 10 * MS);
    for (int i = 0; i < 100; i++) {
        uint64_t due = sk_pace_due(&p);
        assert_int_equal(due, 100 + (uint64_t)i * 10 * MS);
        assert_int_equal(sk_pace_complete(&p, due, due + 3 * MS), 3 * MS);
    }
    /* A request that left early (a millisecond timer fired before the
     * due time) is timed from its send, not from the later due time. */
    uint64_t due = sk_pace_due(&p);
    assert_int_equal(sk_pace_complete(&p, due - 800000, due - 300000), 500000);
    /* Never wraps around. */
    assert_int_equal(sk_pace_complete(&p, 0, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stall),
        cmocka_unit_test(test_no_stall_no_correction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
