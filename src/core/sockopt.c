/* sockopt.c -- `-o/--sockopt NAME=VALUE`: parse the BSD socket options once
 * from the command line, then apply them to each socket before bind/connect
 * and, with -v, report what the kernel actually kept (it doubles buffer sizes
 * and caps them at net.core.[rw]mem_max). */
#include "core/sockopt.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/log.h"

/* The encoding of linger=off in sk_sockopt_t.value: linger=0 is a real,
 * different setting (close sends RST at once), so "off" needs its own value. */
#define LINGER_OFF (-1)

/* Buffer sizes above this are refused: the kernel doubles the value into an
 * int, and nobody means a 2 GiB socket buffer. */
#define BUF_MAX (1L << 30)

/* Linux limits from include/net/tcp.h (MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL,
 * MAX_TCP_KEEPCNT); checking them here gives a usage error instead of a
 * bare EINVAL from setsockopt later. */
#define KEEPIDLE_MAX 32767
#define KEEPINTVL_MAX 32767
#define KEEPCNT_MAX 127

static const char *const names[] = {
    [SK_SO_REUSEADDR] = "reuseaddr", [SK_SO_REUSEPORT] = "reuseport",
    [SK_SO_KEEPALIVE] = "keepalive", [SK_SO_NODELAY] = "nodelay",
    [SK_SO_LINGER] = "linger",       [SK_SO_RCVBUF] = "rcvbuf",
    [SK_SO_SNDBUF] = "sndbuf",       [SK_SO_V6ONLY] = "v6only",
    [SK_SO_BROADCAST] = "broadcast",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

#define KNOWN_LIST                                                                                 \
    "reuseaddr, reuseport, keepalive, nodelay, linger, rcvbuf, sndbuf, v6only, broadcast"

/* Parses on/off and friends; returns 1, 0, or -1 when v is none of them. */
static int parse_flag(const char *v)
{
    static const char *const on[] = {"on", "1", "yes", "true"};
    static const char *const off[] = {"off", "0", "no", "false"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, on[i]) == 0)
            return 1;
        if (strcasecmp(v, off[i]) == 0)
            return 0;
    }
    return -1;
}

/* Parses a decimal number with nothing after it into [0, max]; returns false
 * on anything else (sign, spaces, overflow). */
static bool parse_uint(const char *s, const char *end, long max, long *out)
{
    long v = 0;
    if (s == end)
        return false;
    for (const char *p = s; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
        if (v > max)
            return false;
    }
    *out = v;
    return true;
}

/* Parses "65536", "64K", "4M" (binary multiples). Returns 0, -1 when v is
 * not a size, or -2 when it is one but too large. */
static int parse_size(const char *v, long *out)
{
    size_t len = strlen(v);
    long mult = 1;
    if (len > 0 && (v[len - 1] == 'k' || v[len - 1] == 'K'))
        mult = 1024;
    else if (len > 0 && (v[len - 1] == 'm' || v[len - 1] == 'M'))
        mult = 1024 * 1024;
    const char *end = v + len - (mult != 1);
    long n;
    if (end == v)
        return -1;
    for (const char *p = v; p < end; p++)
        if (*p < '0' || *p > '9')
            return -1;
    if (!parse_uint(v, end, BUF_MAX, &n) || n > BUF_MAX / mult)
        return -2;
    *out = n * mult;
    return 0;
}

/* keepalive=IDLE[/INTVL[/CNT]]: each part 0 (kernel default) up to the
 * kernel's maximum. */
static int parse_keepalive(sk_sockopt_t *so, const char *v, struct sk_err *err)
{
    static const char *const what[] = {"idle", "intvl", "cnt"};
    static const long max[] = {KEEPIDLE_MAX, KEEPINTVL_MAX, KEEPCNT_MAX};
    int *dst[] = {&so->idle, &so->intvl, &so->cnt};
    int flag = parse_flag(v);
    if (flag >= 0) {
        so->value = flag;
        return 0;
    }
    const char *p = v;
    for (int i = 0; i < 3; i++) {
        const char *end = strchr(p, '/');
        if (end == NULL)
            end = p + strlen(p);
        long n;
        if (!parse_uint(p, end, LONG_MAX / 10 - 9, &n))
            return sk_err_set(err, SK_EUSAGE,
                              "keepalive: '%.40s' is not on/off or IDLE/INTVL/CNT seconds", v);
        if (n > max[i])
            return sk_err_set(err, SK_EUSAGE, "keepalive: %s %ld out of range (0-%ld)", what[i], n,
                              max[i]);
        *dst[i] = (int)n;
        if (*end == '\0') {
            so->value = 1;
            return 0;
        }
        p = end + 1;
    }
    return sk_err_set(err, SK_EUSAGE, "keepalive: '%.40s' has more than 3 parts (IDLE/INTVL/CNT)",
                      v);
}

int sk_sockopt_parse(sk_sockopts_t *o, const char *spec, struct sk_err *err)
{
    const char *eq = strchr(spec, '=');
    if (eq == NULL)
        return sk_err_set(err, SK_EUSAGE, "socket option '%.40s' needs a value (NAME=VALUE)", spec);
    size_t nlen = (size_t)(eq - spec);
    const char *v = eq + 1;
    size_t idx = NNAMES;
    for (size_t i = 0; i < NNAMES; i++)
        if (strlen(names[i]) == nlen && strncasecmp(spec, names[i], nlen) == 0)
            idx = i;
    if (idx == NNAMES)
        return sk_err_set(err, SK_EUSAGE, "unknown socket option '%.*s' (known: " KNOWN_LIST ")",
                          (int)(nlen > 32 ? 32 : nlen), spec);
    const char *name = names[idx];
    if (*v == '\0')
        return sk_err_set(err, SK_EUSAGE, "%s: missing value after '='", name);

    sk_sockopt_t so = {.name = (enum sk_sockopt_name)idx};
    long n;
    int r;
    switch (so.name) {
    case SK_SO_KEEPALIVE:
        if ((r = parse_keepalive(&so, v, err)) != 0)
            return r;
        break;
    case SK_SO_LINGER:
        if (strcasecmp(v, "off") == 0)
            so.value = LINGER_OFF;
        else if (parse_uint(v, v + strlen(v), INT_MAX, &n))
            so.value = (int)n;
        else
            return sk_err_set(err, SK_EUSAGE, "linger: '%.40s' is not seconds or 'off'", v);
        break;
    case SK_SO_RCVBUF:
    case SK_SO_SNDBUF:
        r = parse_size(v, &n);
        if (r == -1)
            return sk_err_set(err, SK_EUSAGE, "%s: '%.40s' is not a size (bytes, K or M)", name, v);
        if (r == -2)
            return sk_err_set(err, SK_EUSAGE, "%s: '%.40s' is too large (max 1024M)", name, v);
        if (n == 0)
            return sk_err_set(err, SK_EUSAGE, "%s: size must be positive", name);
        so.value = (int)n;
        break;
    default:
        if ((so.value = parse_flag(v)) < 0)
            return sk_err_set(err, SK_EUSAGE, "%s: '%.40s' is not on/off", name, v);
        break;
    }

    /* A repeated name replaces the earlier one, as a later flag on a command
     * line usually overrides an earlier one. */
    for (size_t i = 0; i < o->n; i++) {
        if (o->items[i].name == so.name) {
            o->items[i] = so;
            return 0;
        }
    }
    if (o->n >= SK_SOCKOPTS_MAX)
        return sk_err_set(err, SK_EUSAGE, "too many socket options (max %d)", SK_SOCKOPTS_MAX);
    o->items[o->n++] = so;
    return 0;
}

bool sk_sockopt_get(const sk_sockopts_t *o, enum sk_sockopt_name name, sk_sockopt_t *out)
{
    for (size_t i = 0; o != NULL && i < o->n; i++) {
        if (o->items[i].name == name) {
            if (out != NULL)
                *out = o->items[i];
            return true;
        }
    }
    return false;
}

static int set_int(int fd, int level, int opt, int v, const char *what, struct sk_err *err)
{
    if (setsockopt(fd, level, opt, &v, sizeof(v)) != 0)
        return sk_err_set(err, -errno, "setsockopt %s=%d: %s", what, v, strerror(errno));
    return 0;
}

static int get_int(int fd, int level, int opt)
{
    int v = -1;
    socklen_t len = sizeof(v);
    if (getsockopt(fd, level, opt, &v, &len) != 0)
        return -1;
    return v;
}

/* Logs the kernel's view of an option after setting it (-v). */
static void report(int fd, const sk_sockopt_t *so)
{
    const char *name = names[so->name];
    switch (so->name) {
    case SK_SO_RCVBUF:
    case SK_SO_SNDBUF:
        sk_log_info("sockopt %s=%d (kernel set %d)", name, so->value,
                    get_int(fd, SOL_SOCKET, so->name == SK_SO_RCVBUF ? SO_RCVBUF : SO_SNDBUF));
        break;
    case SK_SO_KEEPALIVE:
        if (so->value && (so->idle || so->intvl || so->cnt))
            sk_log_info(
                "sockopt keepalive=%d/%d/%d (kernel set %s, idle %d, intvl %d, cnt %d)", so->idle,
                so->intvl, so->cnt, get_int(fd, SOL_SOCKET, SO_KEEPALIVE) > 0 ? "on" : "off",
                get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE), get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL),
                get_int(fd, IPPROTO_TCP, TCP_KEEPCNT));
        else
            sk_log_info("sockopt keepalive=%s (kernel set %s)", so->value ? "on" : "off",
                        get_int(fd, SOL_SOCKET, SO_KEEPALIVE) > 0 ? "on" : "off");
        break;
    case SK_SO_LINGER: {
        struct linger l = {0, 0};
        socklen_t len = sizeof(l);
        getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len);
        if (so->value == LINGER_OFF)
            sk_log_info("sockopt linger=off (kernel set %s)", l.l_onoff ? "on" : "off");
        else
            sk_log_info("sockopt linger=%d (kernel set %s, %d s)", so->value,
                        l.l_onoff ? "on" : "off", l.l_linger);
        break;
    }
    default: {
        static const int map[][2] = {
            [SK_SO_REUSEADDR] = {SOL_SOCKET, SO_REUSEADDR},
            [SK_SO_REUSEPORT] = {SOL_SOCKET, SO_REUSEPORT},
            [SK_SO_NODELAY] = {IPPROTO_TCP, TCP_NODELAY},
            [SK_SO_V6ONLY] = {IPPROTO_IPV6, IPV6_V6ONLY},
            [SK_SO_BROADCAST] = {SOL_SOCKET, SO_BROADCAST},
        };
        int k = get_int(fd, map[so->name][0], map[so->name][1]);
        sk_log_info("sockopt %s=%s (kernel set %s)", name, so->value ? "on" : "off",
                    k < 0 ? "?"
                    : k   ? "on"
                          : "off");
        break;
    }
    }
}

/* Whether an option means anything on this kind of socket. Skipping the
 * others lets one -o list serve a command that opens TCP and Unix sockets. */
static bool fits(enum sk_sockopt_name name, int family, int type)
{
    bool inet = family == AF_INET || family == AF_INET6;
    switch (name) {
    case SK_SO_REUSEADDR:
    case SK_SO_REUSEPORT:
        return inet;
    case SK_SO_KEEPALIVE:
    case SK_SO_NODELAY:
        return inet && type == SOCK_STREAM;
    case SK_SO_LINGER:
        return type == SOCK_STREAM;
    case SK_SO_V6ONLY:
        return family == AF_INET6;
    case SK_SO_BROADCAST:
        return inet && type == SOCK_DGRAM;
    default:
        return true; /* buffers apply everywhere */
    }
}

static int apply_one(int fd, const sk_sockopt_t *so, struct sk_err *err)
{
    int r;
    switch (so->name) {
    case SK_SO_REUSEADDR:
        return set_int(fd, SOL_SOCKET, SO_REUSEADDR, so->value, "reuseaddr", err);
    case SK_SO_REUSEPORT:
        return set_int(fd, SOL_SOCKET, SO_REUSEPORT, so->value, "reuseport", err);
    case SK_SO_NODELAY:
        return set_int(fd, IPPROTO_TCP, TCP_NODELAY, so->value, "nodelay", err);
    case SK_SO_V6ONLY:
        return set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, so->value, "v6only", err);
    case SK_SO_BROADCAST:
        return set_int(fd, SOL_SOCKET, SO_BROADCAST, so->value, "broadcast", err);
    case SK_SO_RCVBUF:
        return set_int(fd, SOL_SOCKET, SO_RCVBUF, so->value, "rcvbuf", err);
    case SK_SO_SNDBUF:
        return set_int(fd, SOL_SOCKET, SO_SNDBUF, so->value, "sndbuf", err);
    case SK_SO_KEEPALIVE:
        if ((r = set_int(fd, SOL_SOCKET, SO_KEEPALIVE, so->value, "keepalive", err)) != 0)
            return r;
        /* 0 leaves the kernel default (net.ipv4.tcp_keepalive_*) in place. */
        if (so->value && so->idle > 0 &&
            (r = set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, so->idle, "keepalive idle", err)) != 0)
            return r;
        if (so->value && so->intvl > 0 &&
            (r = set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, so->intvl, "keepalive intvl", err)) != 0)
            return r;
        if (so->value && so->cnt > 0 &&
            (r = set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, so->cnt, "keepalive cnt", err)) != 0)
            return r;
        return 0;
    case SK_SO_LINGER: {
        struct linger l = {.l_onoff = so->value != LINGER_OFF,
                           .l_linger = so->value == LINGER_OFF ? 0 : so->value};
        if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) != 0)
            return sk_err_set(err, -errno, "setsockopt linger: %s", strerror(errno));
        return 0;
    }
    }
    return sk_err_set(err, -EINVAL, "unknown socket option %d", (int)so->name);
}

int sk_sockopt_apply(int fd, const sk_sockopts_t *o, int family, int type, bool verbose,
                     struct sk_err *err)
{
    for (size_t i = 0; o != NULL && i < o->n; i++) {
        const sk_sockopt_t *so = &o->items[i];
        if (!fits(so->name, family, type))
            continue;
        int r = apply_one(fd, so, err);
        if (r != 0)
            return r;
        if (verbose)
            report(fd, so);
    }
    return 0;
}
