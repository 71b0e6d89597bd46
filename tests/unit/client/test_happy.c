/* test_happy.c -- RFC 8305 address ordering and connection racing
 * (client/happy.h) on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/happy.h"
#include "core/clock.h"

static sk_addr_t v4(const char *ip, uint16_t port)
{
    sk_addr_t a;
    memset(&a, 0, sizeof(a));
    struct sockaddr_in *s = (struct sockaddr_in *)&a.ss;
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    inet_pton(AF_INET, ip, &s->sin_addr);
    a.len = sizeof(*s);
    return a;
}

static sk_addr_t v6(const char *ip, uint16_t port)
{
    sk_addr_t a;
    memset(&a, 0, sizeof(a));
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&a.ss;
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &s->sin6_addr);
    a.len = sizeof(*s);
    return a;
}

/* The order as a string of family letters and last address bytes. */
static void order(sk_addr_t *a, size_t n, char *out)
{
    sk_happy_order(a, n);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i].ss.ss_family == AF_INET) {
            const struct sockaddr_in *s = (const struct sockaddr_in *)&a[i].ss;
            out[o++] = '4';
            out[o++] = (char)('0' + (ntohl(s->sin_addr.s_addr) & 0xff));
        } else {
            const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&a[i].ss;
            out[o++] = '6';
            out[o++] = (char)('0' + s->sin6_addr.s6_addr[15]);
        }
        out[o++] = ' ';
    }
    out[o ? o - 1 : 0] = '\0';
}

static void test_order(void **state)
{
    (void)state;
    char got[64];
    /* IPv6 first (the resolver's RFC 6724 choice): alternate, IPv6 first. */
    sk_addr_t a[] = {v6("::1", 1), v6("::2", 1), v6("::3", 1), v4("10.0.0.1", 1),
                     v4("10.0.0.2", 1)};
    order(a, 5, got);
    assert_string_equal(got, "61 41 62 42 63");
    /* IPv4 first when the resolver put it first. */
    sk_addr_t b[] = {v4("10.0.0.1", 1), v4("10.0.0.2", 1), v6("::1", 1), v6("::2", 1),
                     v6("::3", 1)};
    order(b, 5, got);
    assert_string_equal(got, "41 61 42 62 63");
    /* Mixed input order: each family keeps its own order. */
    sk_addr_t c[] = {v6("::1", 1), v6("::2", 1),      v4("10.0.0.3", 1),
                     v6("::4", 1), v4("10.0.0.5", 1), v4("10.0.0.6", 1)};
    order(c, 6, got);
    assert_string_equal(got, "61 43 62 45 64 46");
    /* One family only, or too few to interleave: unchanged. */
    sk_addr_t d[] = {v4("10.0.0.1", 1), v4("10.0.0.2", 1), v4("10.0.0.3", 1)};
    order(d, 3, got);
    assert_string_equal(got, "41 42 43");
    sk_addr_t e[] = {v4("10.0.0.1", 1), v6("::1", 1)};
    order(e, 2, got);
    assert_string_equal(got, "41 61");
}

static int listener(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t len = sizeof(sin);
    getsockname(fd, (struct sockaddr *)&sin, &len);
    *port = ntohs(sin.sin_port);
    return fd;
}

/* A port nothing listens on (bound, then closed). */
static uint16_t dead_port(void)
{
    uint16_t port;
    int fd = listener(&port);
    close(fd);
    return port;
}

static void test_refused_then_ok(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = listener(&port);
    sk_addr_t a[] = {v4("127.0.0.1", dead_port()), v4("127.0.0.1", dead_port()),
                     v4("127.0.0.1", port)};
    sk_happy_attempt_t att[3];
    size_t win = 99;
    sk_happy_opts_t o = {.timeout_ms = 2000};
    uint64_t t0 = sk_clock_ms();
    int fd = sk_happy_connect(a, 3, &o, att, &win);
    /* A refusal starts the next attempt at once, without the 250 ms delay. */
    assert_true(sk_clock_ms() - t0 < 200);
    assert_true(fd >= 0);
    assert_int_equal(win, 2);
    assert_int_equal(att[0].result, -ECONNREFUSED);
    assert_int_equal(att[1].result, -ECONNREFUSED);
    assert_int_equal(att[2].result, 0);
    close(fd);
    close(lfd);
}

static void test_all_refused(void **state)
{
    (void)state;
    sk_addr_t a[] = {v4("127.0.0.1", dead_port()), v4("127.0.0.1", dead_port())};
    sk_happy_attempt_t att[2];
    size_t win;
    sk_happy_opts_t o = {.timeout_ms = 1000};
    assert_int_equal(sk_happy_connect(a, 2, &o, att, &win), -ECONNREFUSED);
}

/* A listener whose accept queue is full drops SYNs: the attempt times out
 * after its own timeout, and the next address (started 250 ms after the
 * first, while it still hangs) wins. */
static void test_stalled_then_ok(void **state)
{
    (void)state;
    uint16_t full_port, port;
    int full = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(full, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(full, 0), 0);
    socklen_t len = sizeof(sin);
    getsockname(full, (struct sockaddr *)&sin, &len);
    full_port = ntohs(sin.sin_port);
    int fill[3];
    for (int i = 0; i < 3; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
    }
    usleep(100000);
    int lfd = listener(&port);

    sk_addr_t a[] = {v4("127.0.0.1", full_port), v4("127.0.0.1", port)};
    sk_happy_attempt_t att[2];
    size_t win = 99;
    sk_happy_opts_t o = {.timeout_ms = 5000};
    uint64_t t0 = sk_clock_ms();
    int fd = sk_happy_connect(a, 2, &o, att, &win);
    uint64_t el = sk_clock_ms() - t0;
    assert_true(fd >= 0);
    assert_int_equal(win, 1);
    assert_true(el >= 240 && el < 2000);
    assert_int_equal(att[0].result, 1); /* abandoned */
    assert_true(att[1].start_us >= 240000);
    close(fd);

    /* Alone, the stalled address fails after its timeout. */
    uint64_t t1 = sk_clock_ms();
    assert_int_equal(sk_happy_connect(a, 1, &(sk_happy_opts_t){.timeout_ms = 300}, att, &win),
                     -ETIMEDOUT);
    el = sk_clock_ms() - t1;
    assert_true(el >= 290 && el < 2000);
    /* And an overall deadline stops the race with -ETIME. */
    o = (sk_happy_opts_t){.timeout_ms = 5000, .deadline_us = sk_clock_us() + 200000};
    assert_int_equal(sk_happy_connect(a, 1, &o, att, &win), -ETIME);

    for (int i = 0; i < 3; i++)
        close(fill[i]);
    close(full);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_refused_then_ok),
        cmocka_unit_test(test_all_refused),
        cmocka_unit_test(test_stalled_then_ok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
