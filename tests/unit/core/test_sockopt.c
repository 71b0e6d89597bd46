/* test_sockopt.c -- unit tests for core/sockopt: NAME=VALUE parsing (valid
 * specs and the messages for bad ones), then applying the options to a real
 * TCP socket and reading back what the kernel kept. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"
#include "core/sockopt.h"

static sk_sockopt_t parse_one(const char *spec)
{
    sk_sockopts_t o = {.n = 0};
    sk_sockopt_t so;
    struct sk_err e = {0, ""};
    int r = sk_sockopt_parse(&o, spec, &e);
    if (r != 0)
        print_error("'%s': %s\n", spec, e.msg);
    assert_int_equal(r, 0);
    assert_int_equal(o.n, 1);
    assert_true(sk_sockopt_get(&o, o.items[0].name, &so));
    return so;
}

static void test_parse_valid(void **state)
{
    (void)state;
    sk_sockopt_t so;
    so = parse_one("nodelay=on");
    assert_int_equal(so.name, SK_SO_NODELAY);
    assert_int_equal(so.value, 1);
    so = parse_one("reuseaddr=0");
    assert_int_equal(so.name, SK_SO_REUSEADDR);
    assert_int_equal(so.value, 0);
    so = parse_one("REUSEPORT=Yes");
    assert_int_equal(so.name, SK_SO_REUSEPORT);
    assert_int_equal(so.value, 1);
    so = parse_one("v6only=off");
    assert_int_equal(so.name, SK_SO_V6ONLY);
    assert_int_equal(so.value, 0);
    so = parse_one("broadcast=true");
    assert_int_equal(so.name, SK_SO_BROADCAST);
    so = parse_one("keepalive=on");
    assert_int_equal(so.name, SK_SO_KEEPALIVE);
    assert_int_equal(so.value, 1);
    assert_int_equal(so.idle, 0);
    so = parse_one("keepalive=60/10/5");
    assert_int_equal(so.value, 1);
    assert_int_equal(so.idle, 60);
    assert_int_equal(so.intvl, 10);
    assert_int_equal(so.cnt, 5);
    so = parse_one("keepalive=30/0");
    assert_int_equal(so.idle, 30);
    assert_int_equal(so.intvl, 0);
    so = parse_one("linger=5");
    assert_int_equal(so.name, SK_SO_LINGER);
    assert_int_equal(so.value, 5);
    so = parse_one("linger=0");
    assert_int_equal(so.value, 0);
    so = parse_one("linger=off");
    assert_true(so.value < 0);
    so = parse_one("rcvbuf=65536");
    assert_int_equal(so.name, SK_SO_RCVBUF);
    assert_int_equal(so.value, 65536);
    so = parse_one("sndbuf=64K");
    assert_int_equal(so.name, SK_SO_SNDBUF);
    assert_int_equal(so.value, 65536);
    so = parse_one("rcvbuf=4m");
    assert_int_equal(so.value, 4 << 20);
}

static void test_parse_replace(void **state)
{
    (void)state;
    sk_sockopts_t o = {.n = 0};
    sk_sockopt_t so;
    assert_int_equal(sk_sockopt_parse(&o, "rcvbuf=1K", NULL), 0);
    assert_int_equal(sk_sockopt_parse(&o, "nodelay=on", NULL), 0);
    assert_int_equal(sk_sockopt_parse(&o, "rcvbuf=2K", NULL), 0);
    assert_int_equal(o.n, 2);
    assert_true(sk_sockopt_get(&o, SK_SO_RCVBUF, &so));
    assert_int_equal(so.value, 2048);
    assert_false(sk_sockopt_get(&o, SK_SO_LINGER, &so));
    assert_false(sk_sockopt_get(NULL, SK_SO_LINGER, NULL));
}

static void test_parse_invalid(void **state)
{
    (void)state;
    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"foo=1", "unknown socket option 'foo' (known: reuseaddr, reuseport, keepalive"},
        {"=1", "unknown socket option ''"},
        {"nodelay", "socket option 'nodelay' needs a value"},
        {"nodelay=", "nodelay: missing value"},
        {"nodelay=maybe", "nodelay: 'maybe' is not on/off"},
        {"rcvbuf=abc", "rcvbuf: 'abc' is not a size"},
        {"sndbuf=K", "sndbuf: 'K' is not a size"},
        {"rcvbuf=-5", "rcvbuf: '-5' is not a size"},
        {"rcvbuf=12G", "rcvbuf: '12G' is not a size"},
        {"rcvbuf=2048M", "rcvbuf: '2048M' is too large"},
        {"rcvbuf=0", "rcvbuf: size must be positive"},
        {"linger=soon", "linger: 'soon' is not seconds or 'off'"},
        {"keepalive=x", "keepalive: 'x' is not on/off or IDLE/INTVL/CNT"},
        {"keepalive=60/x", "is not on/off or IDLE/INTVL/CNT"},
        {"keepalive=99999", "keepalive: idle 99999 out of range (0-32767)"},
        {"keepalive=1/2/200", "keepalive: cnt 200 out of range (0-127)"},
        {"keepalive=1/2/3/4", "more than 3 parts"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sk_sockopts_t o = {.n = 0};
        struct sk_err e = {0, ""};
        int r = sk_sockopt_parse(&o, bad[i].in, &e);
        if (r != SK_EUSAGE || strstr(e.msg, bad[i].msg) == NULL)
            print_error("'%s': r=%d '%s', want '%s'\n", bad[i].in, r, e.msg, bad[i].msg);
        assert_int_equal(r, SK_EUSAGE);
        assert_non_null(strstr(e.msg, bad[i].msg));
        assert_int_equal(o.n, 0);
    }
}

static int get_int(int fd, int level, int opt)
{
    int v = -1;
    socklen_t len = sizeof(v);
    assert_int_equal(getsockopt(fd, level, opt, &v, &len), 0);
    return v;
}

static void test_apply_tcp(void **state)
{
    (void)state;
    sk_sockopts_t o = {.n = 0};
    struct sk_err e = {0, ""};
    assert_int_equal(sk_sockopt_parse(&o, "nodelay=on", &e), 0);
    assert_int_equal(sk_sockopt_parse(&o, "keepalive=75/11/4", &e), 0);
    assert_int_equal(sk_sockopt_parse(&o, "rcvbuf=64K", &e), 0);
    assert_int_equal(sk_sockopt_parse(&o, "linger=3", &e), 0);
    assert_int_equal(sk_sockopt_parse(&o, "broadcast=on", &e), 0); /* UDP only: skipped */
    assert_int_equal(sk_sockopt_parse(&o, "v6only=on", &e), 0);    /* IPv6 only: skipped */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    /* Verbose exercises the read-back path (log lines go to stderr). */
    sk_log_verbosity = 1;
    assert_int_equal(sk_sockopt_apply(fd, &o, AF_INET, SOCK_STREAM, true, &e), 0);
    sk_log_verbosity = 0;
    assert_int_equal(get_int(fd, IPPROTO_TCP, TCP_NODELAY), 1);
    assert_int_equal(get_int(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
    assert_int_equal(get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE), 75);
    assert_int_equal(get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL), 11);
    assert_int_equal(get_int(fd, IPPROTO_TCP, TCP_KEEPCNT), 4);
    /* Linux doubles SO_RCVBUF for its bookkeeping (socket(7)). */
    assert_int_equal(get_int(fd, SOL_SOCKET, SO_RCVBUF), 131072);
    assert_int_equal(get_int(fd, SOL_SOCKET, SO_BROADCAST), 0);
    struct linger l;
    socklen_t len = sizeof(l);
    getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len);
    assert_int_equal(l.l_onoff, 1);
    assert_int_equal(l.l_linger, 3);
    close(fd);
}

static void test_apply_udp_unix_and_errors(void **state)
{
    (void)state;
    sk_sockopts_t o = {.n = 0};
    struct sk_err e = {0, ""};
    assert_int_equal(sk_sockopt_parse(&o, "broadcast=on", &e), 0);
    assert_int_equal(sk_sockopt_parse(&o, "nodelay=on", &e), 0);
    assert_int_equal(sk_sockopt_parse(&o, "linger=off", &e), 0);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_int_equal(sk_sockopt_apply(fd, &o, AF_INET, SOCK_DGRAM, false, &e), 0);
    assert_int_equal(get_int(fd, SOL_SOCKET, SO_BROADCAST), 1);
    close(fd);
    /* TCP options are skipped on a Unix stream socket. */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(sk_sockopt_apply(fd, &o, AF_UNIX, SOCK_STREAM, false, &e), 0);
    close(fd);
    /* A closed fd fails with a negative errno and names the option. */
    assert_int_equal(sk_sockopt_apply(fd, &o, AF_INET, SOCK_DGRAM, false, &e), -EBADF);
    assert_non_null(strstr(e.msg, "broadcast"));
    assert_int_equal(sk_sockopt_apply(fd, NULL, AF_INET, SOCK_DGRAM, false, &e), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_replace),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_apply_tcp),
        cmocka_unit_test(test_apply_udp_unix_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
