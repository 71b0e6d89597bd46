/* test_timer.c -- unit tests for the timer min-heap (src/core/timer.c):
 * ordering, FIFO ties, removal from the middle, re-arming, a randomized run
 * against a sorted model, and allocation failure. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "core/alloc.h"
#include "core/timer.h"

static void drain_expect(sk_timerheap_t *h, sk_timer_t *const *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sk_timer_t *t = sk_timerheap_pop_due(h, UINT64_MAX);
        assert_ptr_equal(t, want[i]);
        assert_false(sk_timer_active(t));
    }
    assert_null(sk_timerheap_pop_due(h, UINT64_MAX));
}

static void test_init_inactive(void **state)
{
    (void)state;
    sk_timer_t t;
    sk_timer_init(&t, NULL, &t);
    assert_false(sk_timer_active(&t));
    assert_int_equal(t.heap_idx, SIZE_MAX);
    assert_ptr_equal(t.data, &t);

    sk_timerheap_t h;
    sk_timerheap_init(&h);
    assert_null(sk_timerheap_peek(&h));
    assert_null(sk_timerheap_pop_due(&h, UINT64_MAX));
    /* Removing an unarmed timer is a no-op. */
    sk_timerheap_remove(&h, &t);
    sk_timerheap_fini(&h);
}

static void test_ordering(void **state)
{
    (void)state;
    sk_timerheap_t h;
    sk_timerheap_init(&h);
    sk_timer_t t[5];
    const uint64_t due[5] = {50, 10, 40, 20, 30};
    for (int i = 0; i < 5; i++) {
        sk_timer_init(&t[i], NULL, NULL);
        assert_int_equal(sk_timerheap_add(&h, &t[i], due[i]), 0);
        assert_true(sk_timer_active(&t[i]));
    }
    assert_ptr_equal(sk_timerheap_peek(&h), &t[1]);
    /* pop_due honours now: nothing is due at 9, one at 10. */
    assert_null(sk_timerheap_pop_due(&h, 9));
    assert_ptr_equal(sk_timerheap_pop_due(&h, 10), &t[1]);
    assert_null(sk_timerheap_pop_due(&h, 19));
    sk_timer_t *const rest[] = {&t[3], &t[4], &t[2], &t[0]};
    drain_expect(&h, rest, 4);
    sk_timerheap_fini(&h);
}

static void test_fifo_ties(void **state)
{
    (void)state;
    sk_timerheap_t h;
    sk_timerheap_init(&h);
    sk_timer_t t[64];
    sk_timer_t *want[64];
    for (int i = 0; i < 64; i++) {
        sk_timer_init(&t[i], NULL, NULL);
        assert_int_equal(sk_timerheap_add(&h, &t[i], 100), 0);
        want[i] = &t[i];
    }
    drain_expect(&h, want, 64);
    sk_timerheap_fini(&h);
}

static void test_remove_middle(void **state)
{
    (void)state;
    sk_timerheap_t h;
    sk_timerheap_init(&h);
    sk_timer_t t[7];
    for (int i = 0; i < 7; i++) {
        sk_timer_init(&t[i], NULL, NULL);
        assert_int_equal(sk_timerheap_add(&h, &t[i], (uint64_t)(i + 1) * 10), 0);
    }
    sk_timerheap_remove(&h, &t[3]);
    assert_false(sk_timer_active(&t[3]));
    sk_timerheap_remove(&h, &t[3]);
    sk_timerheap_remove(&h, &t[6]); /* the last slot */
    sk_timerheap_remove(&h, &t[0]); /* the root */
    assert_int_equal(h.len, 4);
    sk_timer_t *const want[] = {&t[1], &t[2], &t[4], &t[5]};
    drain_expect(&h, want, 4);
    sk_timerheap_fini(&h);
}

static void test_rearm(void **state)
{
    (void)state;
    sk_timerheap_t h;
    sk_timerheap_init(&h);
    sk_timer_t a, b, c;
    sk_timer_init(&a, NULL, NULL);
    sk_timer_init(&b, NULL, NULL);
    sk_timer_init(&c, NULL, NULL);
    assert_int_equal(sk_timerheap_add(&h, &a, 10), 0);
    assert_int_equal(sk_timerheap_add(&h, &b, 20), 0);
    assert_int_equal(sk_timerheap_add(&h, &c, 30), 0);
    /* Later, earlier, and onto an existing deadline (goes after it). */
    assert_int_equal(sk_timerheap_add(&h, &a, 40), 0);
    assert_int_equal(sk_timerheap_add(&h, &c, 5), 0);
    assert_int_equal(sk_timerheap_add(&h, &b, 40), 0);
    assert_int_equal(h.len, 3);
    sk_timer_t *const want[] = {&c, &a, &b};
    drain_expect(&h, want, 3);
    /* Re-arming a popped timer works like a fresh add. */
    assert_int_equal(sk_timerheap_add(&h, &a, 1), 0);
    assert_ptr_equal(sk_timerheap_peek(&h), &a);
    sk_timerheap_fini(&h);
}

static void check_heap(const sk_timerheap_t *h)
{
    for (size_t i = 0; i < h->len; i++) {
        assert_int_equal(h->items[i]->heap_idx, i);
        if (i > 0) {
            const sk_timer_t *p = h->items[(i - 1) / 2], *c = h->items[i];
            assert_true(p->due_ms < c->due_ms || (p->due_ms == c->due_ms && p->seq < c->seq));
        }
    }
}

#define NRAND 1000

static int by_due_seq(const void *a, const void *b)
{
    const sk_timer_t *x = *(sk_timer_t *const *)a, *y = *(sk_timer_t *const *)b;
    if (x->due_ms != y->due_ms)
        return x->due_ms < y->due_ms ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* 10k random operations on 1000 timers with deliberately few distinct
 * deadlines (many ties), checked against a sorted copy of the armed set. */
static void test_random_vs_model(void **state)
{
    (void)state;
    static sk_timer_t t[NRAND];
    static sk_timer_t *model[NRAND];
    sk_timerheap_t h;
    sk_timerheap_init(&h);
    srand(12345);
    for (int i = 0; i < NRAND; i++)
        sk_timer_init(&t[i], NULL, NULL);
    for (int op = 0; op < 10000; op++) {
        sk_timer_t *x = &t[rand() % NRAND];
        int r = rand() % 10;
        if (r < 6) {
            assert_int_equal(sk_timerheap_add(&h, x, (uint64_t)(rand() % 200)), 0);
        } else if (r < 9) {
            sk_timerheap_remove(&h, x);
        } else {
            sk_timer_t *p = sk_timerheap_peek(&h);
            uint64_t now = p ? p->due_ms + (uint64_t)(rand() % 3) : 0;
            sk_timer_t *got = sk_timerheap_pop_due(&h, now);
            assert_ptr_equal(got, p);
        }
        if (op % 97 == 0)
            check_heap(&h);
    }
    check_heap(&h);
    size_t n = 0;
    for (int i = 0; i < NRAND; i++) {
        if (sk_timer_active(&t[i]))
            model[n++] = &t[i];
    }
    assert_int_equal(n, h.len);
    qsort(model, n, sizeof(model[0]), by_due_seq);
    drain_expect(&h, model, n);
    sk_timerheap_fini(&h);
}

static void test_enomem(void **state)
{
    (void)state;
    sk_timerheap_t h;
    sk_timerheap_init(&h);
    sk_timer_t t[17];
    for (int i = 0; i < 17; i++)
        sk_timer_init(&t[i], NULL, NULL);

    sk_alloc_fail_after(1);
    assert_int_equal(sk_timerheap_add(&h, &t[0], 5), -ENOMEM);
    assert_false(sk_timer_active(&t[0]));
    assert_int_equal(h.len, 0);

    for (int i = 0; i < 16; i++)
        assert_int_equal(sk_timerheap_add(&h, &t[i], (uint64_t)i), 0);
    /* Full: the next add must grow and fails, leaving everything intact;
     * re-arming an armed timer needs no memory and still works. */
    sk_alloc_fail_after(1);
    assert_int_equal(sk_timerheap_add(&h, &t[16], 0), -ENOMEM);
    assert_false(sk_timer_active(&t[16]));
    assert_int_equal(sk_timerheap_add(&h, &t[15], 0), 0);
    sk_alloc_fail_after(0);
    check_heap(&h);
    assert_ptr_equal(sk_timerheap_peek(&h), &t[0]);
    assert_int_equal(sk_timerheap_add(&h, &t[16], 0), 0);
    assert_int_equal(h.len, 17);
    check_heap(&h);
    sk_timerheap_fini(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_inactive), cmocka_unit_test(test_ordering),
        cmocka_unit_test(test_fifo_ties),     cmocka_unit_test(test_remove_middle),
        cmocka_unit_test(test_rearm),         cmocka_unit_test(test_random_vs_model),
        cmocka_unit_test(test_enomem),
    };
    return cmocka_run_group_tests_name("timer", tests, NULL, NULL);
}
