/* endpoint.c -- the one endpoint syntax (tcp/udp/tls/unix/unixgram) and the
 * socket set-up behind it: parse with messages that name the bad part,
 * format back, resolve with getaddrinfo, listen (dual-stack ":PORT", one
 * socket per address of a name, stale Unix socket removal) and connect with
 * a per-address timeout. Everything here is setup code: it may block. */
#include "core/endpoint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

/* sun_path holds 108 bytes; a path needs its NUL and an abstract name its
 * leading NUL, so both get 107 bytes of name. */
#define UNIX_NAME_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/* ---- parsing ------------------------------------------------------------ */

/* Copies s for a message, escaping control bytes so a fuzzed or pasted
 * endpoint never puts raw terminal escapes into the user's stderr. */
static const char *shown(const char *s, size_t len, char *buf, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f)
            o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
        else
            buf[o++] = (char)c;
    }
    buf[o] = '\0';
    return buf;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Host names: letters, digits, '-', '.', '_' (the last for names such as
 * _service records and container names that resolvers accept). */
static bool is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' ||
           c == '.' || c == '_';
}

static int parse_port(sk_endpoint_t *ep, const char *p, struct sk_err *err)
{
    char tmp[48];
    unsigned long v = 0;
    if (*p == '\0')
        return sk_err_set(err, SK_EUSAGE, "empty port after ':'");
    for (const char *q = p; *q; q++) {
        if (!is_digit(*q))
            return sk_err_set(err, SK_EUSAGE, "port '%s' is not a number",
                              shown(p, strlen(p), tmp, 24));
        /* Saturate instead of overflowing; the range check below reports it. */
        if (v < 1000000)
            v = v * 10 + (unsigned long)(*q - '0');
    }
    if (v > 65535)
        return sk_err_set(err, SK_EUSAGE, "port %s out of range (1-65535)",
                          shown(p, strlen(p), tmp, 24));
    ep->port = (uint16_t)v;
    return 0;
}

/* Validates an IPv6 literal, optionally with a %zone (fe80::1%eth0). */
static bool valid_v6(const char *h)
{
    struct in6_addr a;
    char buf[INET6_ADDRSTRLEN + 1];
    const char *pct = strchr(h, '%');
    size_t alen = pct ? (size_t)(pct - h) : strlen(h);
    if (alen == 0 || alen >= sizeof(buf))
        return false;
    memcpy(buf, h, alen);
    buf[alen] = '\0';
    if (inet_pton(AF_INET6, buf, &a) != 1)
        return false;
    if (pct != NULL) {
        if (pct[1] == '\0' || strlen(pct + 1) >= IF_NAMESIZE)
            return false;
        for (const char *z = pct + 1; *z; z++)
            if (!is_host_char(*z))
                return false;
    }
    return true;
}

/* HOST:PORT, [V6]:PORT or :PORT, after any scheme. */
static int parse_inet(sk_endpoint_t *ep, const char *s, struct sk_err *err)
{
    char tmp[64];
    const char *colon;
    if (*s == '\0')
        return sk_err_set(err, SK_EUSAGE, "empty host and port");
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL)
            return sk_err_set(err, SK_EUSAGE, "unterminated '[' in IPv6 address '%s'",
                              shown(s, strlen(s), tmp, 48));
        size_t hlen = (size_t)(close - s - 1);
        if (hlen == 0)
            return sk_err_set(err, SK_EUSAGE, "empty host in '[]'");
        if (hlen >= sizeof(ep->host))
            return sk_err_set(err, SK_EUSAGE, "invalid IPv6 address (%zu bytes)", hlen);
        memcpy(ep->host, s + 1, hlen);
        ep->host[hlen] = '\0';
        if (!valid_v6(ep->host))
            return sk_err_set(err, SK_EUSAGE, "invalid IPv6 address '%s'",
                              shown(ep->host, hlen, tmp, 48));
        ep->host_is_v6 = true;
        if (close[1] == '\0')
            return sk_err_set(err, SK_EUSAGE, "missing port in '%s'", shown(s, strlen(s), tmp, 48));
        if (close[1] != ':')
            return sk_err_set(err, SK_EUSAGE, "unexpected characters after ']' in '%s'",
                              shown(s, strlen(s), tmp, 48));
        if (close[2] == '\0')
            return sk_err_set(err, SK_EUSAGE, "missing port in '%s'", shown(s, strlen(s), tmp, 48));
        return parse_port(ep, close + 2, err);
    }
    colon = strrchr(s, ':');
    if (colon == NULL)
        return sk_err_set(err, SK_EUSAGE, "missing port in '%s' (expected HOST:PORT)",
                          shown(s, strlen(s), tmp, 48));
    size_t hlen = (size_t)(colon - s);
    if (memchr(s, ':', hlen) != NULL)
        return sk_err_set(err, SK_EUSAGE, "IPv6 address must be in brackets ('[::1]:80'): '%s'",
                          shown(s, strlen(s), tmp, 48));
    if (hlen >= sizeof(ep->host))
        return sk_err_set(err, SK_EUSAGE, "host name too long (%zu bytes, max %zu)", hlen,
                          sizeof(ep->host) - 1);
    for (size_t i = 0; i < hlen; i++) {
        if (!is_host_char(s[i])) {
            char c[8];
            return sk_err_set(err, SK_EUSAGE, "invalid character '%s' in host '%s'",
                              shown(s + i, 1, c, sizeof(c)), shown(s, hlen, tmp, 48));
        }
    }
    memcpy(ep->host, s, hlen);
    ep->host[hlen] = '\0';
    /* All digits and dots must be a dotted quad: "999.1.1.1" would otherwise
     * go to DNS and come back as a confusing "name not found". */
    if (hlen > 0 && strspn(ep->host, "0123456789.") == hlen) {
        struct in_addr a;
        if (inet_pton(AF_INET, ep->host, &a) != 1)
            return sk_err_set(err, SK_EUSAGE, "invalid IPv4 address '%s'", ep->host);
    }
    if (colon[1] == '\0')
        return sk_err_set(err, SK_EUSAGE, "missing port in '%s'", shown(s, strlen(s), tmp, 48));
    return parse_port(ep, colon + 1, err);
}

static int parse_unix(sk_endpoint_t *ep, const char *p, struct sk_err *err)
{
    if (*p == '@') {
        ep->abstract = true;
        p++;
        if (*p == '\0')
            return sk_err_set(err, SK_EUSAGE, "empty Unix socket path (abstract name after '@')");
    } else if (*p == '\0') {
        return sk_err_set(err, SK_EUSAGE, "empty Unix socket path");
    }
    size_t len = strlen(p);
    if (len > UNIX_NAME_MAX)
        return sk_err_set(err, SK_EUSAGE, "Unix socket path too long (%zu bytes, max %zu)", len,
                          UNIX_NAME_MAX);
    memcpy(ep->path, p, len + 1);
    return 0;
}

int sk_endpoint_parse(sk_endpoint_t *ep, const char *s, struct sk_err *err)
{
    char tmp[48];
    memset(ep, 0, sizeof(*ep));
    ep->transport = SK_TRANSPORT_TCP;
    if (s == NULL || *s == '\0')
        return sk_err_set(err, SK_EUSAGE, "empty endpoint");
    if (strncmp(s, "unix:", 5) == 0 && strncmp(s, "unix://", 7) != 0) {
        ep->transport = SK_TRANSPORT_UNIX;
        return parse_unix(ep, s + 5, err);
    }
    if (strncmp(s, "unixgram:", 9) == 0 && strncmp(s, "unixgram://", 11) != 0) {
        ep->transport = SK_TRANSPORT_UNIXGRAM;
        return parse_unix(ep, s + 9, err);
    }
    /* A scheme is letters, digits, '+', '-', '.' before "://" (RFC 3986
     * §3.1); anything else containing "://" is left to the host checks. */
    const char *sep = strstr(s, "://");
    size_t slen = sep ? (size_t)(sep - s) : 0;
    if (sep != NULL && slen > 0 &&
        strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789+-.") == slen) {
        if (slen == 3 && strncmp(s, "tcp", 3) == 0)
            ep->transport = SK_TRANSPORT_TCP;
        else if (slen == 3 && strncmp(s, "udp", 3) == 0)
            ep->transport = SK_TRANSPORT_UDP;
        else if (slen == 3 && strncmp(s, "tls", 3) == 0)
            ep->transport = SK_TRANSPORT_TLS;
        else if ((slen == 4 && strncmp(s, "unix", 4) == 0) ||
                 (slen == 8 && strncmp(s, "unixgram", 8) == 0))
            return sk_err_set(err, SK_EUSAGE,
                              "unknown scheme '%.*s://' (Unix sockets are %.*s:PATH)", (int)slen, s,
                              (int)slen, s);
        else
            return sk_err_set(err, SK_EUSAGE,
                              "unknown scheme '%s://' (known: tcp://, udp://, tls://, unix:, "
                              "unixgram:)",
                              shown(s, slen, tmp, 24));
        s = sep + 3;
        if (*s == '\0')
            return sk_err_set(err, SK_EUSAGE, "empty host and port after '%.*s://'", (int)slen,
                              sep - slen);
    }
    return parse_inet(ep, s, err);
}

bool sk_endpoint_is_stream(const sk_endpoint_t *ep)
{
    return ep->transport == SK_TRANSPORT_TCP || ep->transport == SK_TRANSPORT_UNIX ||
           ep->transport == SK_TRANSPORT_TLS;
}

int sk_endpoint_socktype(const sk_endpoint_t *ep)
{
    return sk_endpoint_is_stream(ep) ? SOCK_STREAM : SOCK_DGRAM;
}

static const char *scheme(enum sk_ep_transport t)
{
    switch (t) {
    case SK_TRANSPORT_UDP:
        return "udp://";
    case SK_TRANSPORT_TLS:
        return "tls://";
    case SK_TRANSPORT_UNIX:
        return "unix:";
    case SK_TRANSPORT_UNIXGRAM:
        return "unixgram:";
    default:
        return "tcp://";
    }
}

static bool is_unix(enum sk_ep_transport t)
{
    return t == SK_TRANSPORT_UNIX || t == SK_TRANSPORT_UNIXGRAM;
}

int sk_endpoint_format(const sk_endpoint_t *ep, char *buf, size_t n)
{
    if (is_unix(ep->transport))
        return snprintf(buf, n, "%s%s%s", scheme(ep->transport), ep->abstract ? "@" : "", ep->path);
    /* Always with the scheme, so the text says what it is in logs. */
    bool br = ep->host_is_v6 || strchr(ep->host, ':') != NULL;
    return snprintf(buf, n, "%s%s%s%s:%u", scheme(ep->transport), br ? "[" : "", ep->host,
                    br ? "]" : "", (unsigned)ep->port);
}

/* Formats a Unix address: path, "@name" (abstract) or "(unnamed)". Abstract
 * names may hold any byte (autobind names are 5 hex digits, but peers choose
 * freely), so control bytes are escaped. */
static int format_unix(const struct sockaddr_un *sun, socklen_t len, char *buf, size_t n)
{
    size_t off = offsetof(struct sockaddr_un, sun_path);
    char tmp[4 * UNIX_NAME_MAX + 8];
    if (len <= off)
        return snprintf(buf, n, "(unnamed)");
    size_t plen = len - off;
    if (plen > sizeof(sun->sun_path))
        plen = sizeof(sun->sun_path);
    if (sun->sun_path[0] == '\0')
        return snprintf(buf, n, "@%s", shown(sun->sun_path + 1, plen - 1, tmp, sizeof(tmp)));
    return snprintf(buf, n, "%.*s", (int)strnlen(sun->sun_path, plen), sun->sun_path);
}

/* HOST:PORT of an IP address. A v4-mapped [::ffff:a.b.c.d] (a peer on a
 * dual-stack listener) is shown as the IPv4 address it really is. */
static int format_ip(const struct sockaddr *sa, char *buf, size_t n)
{
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        return snprintf(buf, n, "%s:%u", host, ntohs(sin->sin_port));
    }
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
    if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
        inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], host, sizeof(host));
        return snprintf(buf, n, "%s:%u", host, ntohs(sin6->sin6_port));
    }
    inet_ntop(AF_INET6, &sin6->sin6_addr, host, INET6_ADDRSTRLEN);
    if (sin6->sin6_scope_id != 0) {
        char ifname[IF_NAMESIZE];
        size_t l = strlen(host);
        if (if_indextoname(sin6->sin6_scope_id, ifname) != NULL)
            snprintf(host + l, sizeof(host) - l, "%%%s", ifname);
        else
            snprintf(host + l, sizeof(host) - l, "%%%u", (unsigned)sin6->sin6_scope_id);
    }
    return snprintf(buf, n, "[%s]:%u", host, ntohs(sin6->sin6_port));
}

int sk_addr_format(enum sk_ep_transport t, const struct sockaddr *sa, socklen_t len, char *buf,
                   size_t n)
{
    char tmp[4 * UNIX_NAME_MAX + 64];
    if (sa->sa_family == AF_UNIX) {
        format_unix((const struct sockaddr_un *)sa, len, tmp, sizeof(tmp));
        return snprintf(buf, n, "%s%s", t == SK_TRANSPORT_UNIXGRAM ? "unixgram:" : "unix:", tmp);
    }
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
        return snprintf(buf, n, "(family %d)", sa->sa_family);
    format_ip(sa, tmp, sizeof(tmp));
    return snprintf(buf, n, "%s%s", is_unix(t) ? "tcp://" : scheme(t), tmp);
}

int sk_addr_format_peer(const struct sockaddr *sa, socklen_t len, char *buf, size_t n)
{
    if (sa->sa_family == AF_UNIX)
        return format_unix((const struct sockaddr_un *)sa, len, buf, n);
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
        return snprintf(buf, n, "(family %d)", sa->sa_family);
    return format_ip(sa, buf, n);
}

/* ---- resolving ---------------------------------------------------------- */

static void unix_addr(const sk_endpoint_t *ep, sk_addr_t *a)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&a->ss;
    size_t len = strlen(ep->path);
    memset(a, 0, sizeof(*a));
    sun->sun_family = AF_UNIX;
    if (ep->abstract) {
        /* Abstract names are not NUL-terminated: the address length is the
         * name, so "@x" and "@x\0" would be different sockets. */
        memcpy(sun->sun_path + 1, ep->path, len);
        a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
    } else {
        memcpy(sun->sun_path, ep->path, len + 1);
        a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    }
}

static void ip_addr(sk_addr_t *a, int family, const void *addr, uint16_t port)
{
    memset(a, 0, sizeof(*a));
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        memcpy(&sin->sin_addr, addr, sizeof(sin->sin_addr));
        a->len = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        memcpy(&sin6->sin6_addr, addr, sizeof(sin6->sin6_addr));
        a->len = sizeof(*sin6);
    }
}

static const char *family_name(int family)
{
    return family == AF_INET ? "IPv4" : "IPv6";
}

int sk_endpoint_resolve(const sk_endpoint_t *ep, int family, bool passive, sk_addr_t **out,
                        struct sk_err *err)
{
    sk_addr_t *v = calloc(2, sizeof(*v));
    int n = 0;
    *out = NULL;
    if (v == NULL)
        return sk_err_set(err, -ENOMEM, "out of memory");
    if (is_unix(ep->transport)) {
        unix_addr(ep, &v[0]);
        *out = v;
        return 1;
    }
    if (ep->host[0] == '\0') {
        /* ":PORT": the wildcard for a server ([::] first: with V6ONLY=0 it
         * covers IPv4 too), the loopback for a client, as getaddrinfo(NULL)
         * does without AI_PASSIVE. */
        struct in6_addr any6 = passive ? in6addr_any : in6addr_loopback;
        struct in_addr any4 = {htonl(passive ? INADDR_ANY : INADDR_LOOPBACK)};
        if (family != AF_INET)
            ip_addr(&v[n++], AF_INET6, &any6, ep->port);
        if (family != AF_INET6)
            ip_addr(&v[n++], AF_INET, &any4, ep->port);
        *out = v;
        return n;
    }
    /* Numeric fast path: no resolver round trip (and no /etc/hosts or NSS
     * surprises) for literal addresses. Zoned IPv6 goes to getaddrinfo,
     * which knows how to turn "%eth0" into a scope id. */
    struct in_addr a4;
    struct in6_addr a6;
    int lit = 0;
    if (inet_pton(AF_INET, ep->host, &a4) == 1)
        lit = AF_INET;
    else if (inet_pton(AF_INET6, ep->host, &a6) == 1)
        lit = AF_INET6;
    if (lit != 0 && family != AF_UNSPEC && family != lit) {
        free(v);
        return sk_err_set(err, SK_EUSAGE, "'%s' is an %s address but %s was asked for", ep->host,
                          family_name(lit), family_name(family));
    }
    if (lit != 0) {
        ip_addr(&v[0], lit, lit == AF_INET ? (const void *)&a4 : (const void *)&a6, ep->port);
        *out = v;
        return 1;
    }
    free(v);

    /* No AI_ADDRCONFIG: it hides ::1 for "localhost" on hosts whose only
     * IPv6 address is the loopback, which is exactly the test-box case. */
    struct addrinfo hints = {.ai_family = family,
                             .ai_socktype = sk_endpoint_socktype(ep),
                             .ai_flags = passive ? AI_PASSIVE : 0};
    struct addrinfo *res = NULL, *ai;
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)ep->port);
    int rc = getaddrinfo(ep->host, port, &hints, &res);
    if (rc != 0) {
        switch (rc) {
        case EAI_NONAME:
#ifdef EAI_NODATA
        case EAI_NODATA:
#endif
        case EAI_ADDRFAMILY:
            return sk_err_set(err, -ENOENT, "name not found: %s", ep->host);
        case EAI_AGAIN:
            return sk_err_set(err, -ETIMEDOUT, "temporary failure resolving %s", ep->host);
        case EAI_MEMORY:
            return sk_err_set(err, -ENOMEM, "out of memory resolving %s", ep->host);
        case EAI_SYSTEM:
            return sk_err_set(err, errno ? -errno : -EIO, "resolving %s: %s", ep->host,
                              strerror(errno));
        default:
            return sk_err_set(err, -EINVAL, "resolving %s: %s", ep->host, gai_strerror(rc));
        }
    }
    size_t cnt = 0;
    for (ai = res; ai != NULL; ai = ai->ai_next)
        cnt++;
    v = calloc(cnt ? cnt : 1, sizeof(*v));
    if (v == NULL) {
        freeaddrinfo(res);
        return sk_err_set(err, -ENOMEM, "out of memory");
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof(v[0].ss))
            continue;
        /* /etc/hosts may list an address twice (two "localhost" lines). */
        bool dup = false;
        for (int i = 0; i < n && !dup; i++)
            dup = v[i].len == ai->ai_addrlen && memcmp(&v[i].ss, ai->ai_addr, ai->ai_addrlen) == 0;
        if (dup)
            continue;
        memcpy(&v[n].ss, ai->ai_addr, ai->ai_addrlen);
        v[n++].len = ai->ai_addrlen;
    }
    freeaddrinfo(res);
    if (n == 0) {
        free(v);
        return sk_err_set(err, -ENOENT, "name not found: %s", ep->host);
    }
    *out = v;
    return n;
}

/* ---- listening ---------------------------------------------------------- */

static int set_flag(int fd, int level, int opt, int v)
{
    return setsockopt(fd, level, opt, &v, sizeof(v)) == 0 ? 0 : -errno;
}

static void close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

/* Decides whether an existing Unix socket file may be replaced: a connect
 * that is refused means nobody holds the socket any more (the previous
 * server died without unlinking it). Never unlinks anything but a socket. */
static int unix_clear_stale(const sk_endpoint_t *ep, const sk_addr_t *a, int type,
                            struct sk_err *err)
{
    struct stat st;
    if (lstat(ep->path, &st) != 0)
        return errno == ENOENT ? 0
                               : sk_err_set(err, -errno, "unix:%s: %s", ep->path, strerror(errno));
    if (!S_ISSOCK(st.st_mode))
        return sk_err_set(err, -EEXIST, "unix:%s: exists and is not a socket (not removed)",
                          ep->path);
    /* Non-blocking, so a live server with a full backlog answers EAGAIN
     * instead of blocking us. */
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return sk_err_set(err, -errno, "socket: %s", strerror(errno));
    int r = connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0 ? 0 : errno;
    close(fd);
    if (r == ECONNREFUSED) {
        sk_log_info("unix:%s: removing stale socket", ep->path);
        if (unlink(ep->path) != 0 && errno != ENOENT)
            return sk_err_set(err, -errno, "unix:%s: cannot remove stale socket: %s", ep->path,
                              strerror(errno));
        return 0;
    }
    /* Success, EAGAIN (backlog full) and EPROTOTYPE (a live socket of the
     * other type: the kernel checks the type only once it found a peer) all
     * mean someone holds it. */
    if (r == 0 || r == EAGAIN || r == EPROTOTYPE || r == EINPROGRESS)
        return sk_err_set(err, -EADDRINUSE, "unix:%s: another server is listening", ep->path);
    return sk_err_set(err, -r, "unix:%s: %s", ep->path, strerror(r));
}

/* Unsent bytes a TCP connection may queue in the kernel (see listen_ip). */
#define SK_NOTSENT_LOWAT (1024 * 1024)

/* How long start-up waits for another server starting on the same path. */
#define UNIX_LOCK_WAIT_MS 5000

/* Takes the exclusive flock on PATH.lock that serialises check, unlink,
 * bind and listen between servers starting on one path: without it, one
 * server's socket that is bound but not yet listening refuses connects,
 * looks stale to the other, and is removed. The lock file is removed on
 * release; a waiter that then locks the removed file notices (the inode
 * at the path differs) and tries again. Returns the lock fd or a negative
 * errno with err filled. */
static int unix_lock(const char *path, char *lock, size_t cap, struct sk_err *err)
{
    int n = snprintf(lock, cap, "%s.lock", path);
    if (n < 0 || (size_t)n >= cap)
        return sk_err_set(err, -ENAMETOOLONG, "unix:%s: path too long for its .lock file", path);
    for (int waited = 0;;) {
        int fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return sk_err_set(err, -errno, "unix:%s: lock file %s: %s", path, lock,
                              strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            struct stat held, now;
            if (fstat(fd, &held) == 0 && stat(lock, &now) == 0 && held.st_ino == now.st_ino &&
                held.st_dev == now.st_dev)
                return fd;
            close(fd); /* removed by the previous holder: lock the new one */
            continue;
        }
        int e = errno;
        close(fd);
        if (e != EWOULDBLOCK && e != EINTR)
            return sk_err_set(err, -e, "unix:%s: lock %s: %s", path, lock, strerror(e));
        if (waited >= UNIX_LOCK_WAIT_MS)
            return sk_err_set(err, -EADDRINUSE,
                              "unix:%s: another server has been starting on it for %d s "
                              "(it holds %s)",
                              path, UNIX_LOCK_WAIT_MS / 1000, lock);
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
        waited += 10;
    }
}

static void unix_unlock(const char *lock, int fd)
{
    unlink(lock);
    close(fd);
}

static int listen_unix(const sk_endpoint_t *ep, const sk_listen_opts_t *o, int *fds,
                       struct sk_err *err)
{
    int type = sk_endpoint_socktype(ep);
    sk_addr_t a;
    int r, fd, lockfd = -1;
    char lock[sizeof(ep->path) + 8];
    bool bound = false;
    unix_addr(ep, &a);
    if (!ep->abstract) {
        lockfd = unix_lock(ep->path, lock, sizeof(lock), err);
        if (lockfd < 0)
            return lockfd;
        if ((r = unix_clear_stale(ep, &a, type, err)) != 0) {
            unix_unlock(lock, lockfd);
            return r;
        }
    }
    fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        r = sk_err_set(err, -errno, "socket: %s", strerror(errno));
        if (lockfd >= 0)
            unix_unlock(lock, lockfd);
        return r;
    }
    if ((r = sk_sockopt_apply(fd, o->sockopts, AF_UNIX, type, sk_log_verbosity >= 1, err)) != 0)
        goto fail;
    /* The file gets its mode at bind: Linux creates it with the socket
     * inode's mode less the umask. So fchmod the socket first and clear the
     * umask around bind: the mode is exact from the first instant, and
     * nothing touches the path afterwards (chmod(path) would follow a
     * symlink put there in between). Start-up is single-threaded, so the
     * process-wide umask change is not seen by anyone else. */
    mode_t mode = o->mode ? (mode_t)o->mode : 0600;
    if (!ep->abstract && fchmod(fd, mode) != 0) {
        r = sk_err_set(err, -errno, "fchmod unix:%s: %s", ep->path, strerror(errno));
        goto fail;
    }
    mode_t old_umask = umask(0);
    int b = bind(fd, (const struct sockaddr *)&a.ss, a.len);
    int bind_errno = errno;
    umask(old_umask);
    if (b != 0) {
        r = -bind_errno;
        if (r == -EADDRINUSE)
            sk_err_set(err, r, "%s%s%s: another server is listening", scheme(ep->transport),
                       ep->abstract ? "@" : "", ep->path);
        else
            sk_err_set(err, r, "bind %s%s%s: %s", scheme(ep->transport), ep->abstract ? "@" : "",
                       ep->path, strerror(-r));
        goto fail;
    }
    bound = true;
    if (type == SOCK_STREAM && listen(fd, o->backlog > 0 ? o->backlog : SOMAXCONN) != 0) {
        r = sk_err_set(err, -errno, "listen unix:%s: %s", ep->path, strerror(errno));
        goto fail;
    }
    if (lockfd >= 0)
        unix_unlock(lock, lockfd);
    fds[0] = fd;
    return 1;
fail:
    close(fd);
    if (bound && !ep->abstract)
        unlink(ep->path);
    if (lockfd >= 0)
        unix_unlock(lock, lockfd);
    return r;
}

/* Opens, configures, binds and (for streams) listens one IP socket. Returns
 * the fd or a negative errno with err filled. */
static int listen_ip(const sk_endpoint_t *ep, const sk_listen_opts_t *o, const sk_addr_t *a,
                     bool any, struct sk_err *err)
{
    int family = a->ss.ss_family, type = sk_endpoint_socktype(ep), r;
    char what[128];
    sk_addr_format(ep->transport, (const struct sockaddr *)&a->ss, a->len, what, sizeof(what));
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return sk_err_set(err, -errno, "socket for %s: %s", what, strerror(errno));
    /* Defaults first, then -o, so the user's explicit choice wins. TCP
     * listeners take SO_REUSEADDR like every server, so a restart does not
     * wait out TIME_WAIT; UDP does not, since there it would let two servers
     * share a port. */
    if (type == SOCK_STREAM && (r = set_flag(fd, SOL_SOCKET, SO_REUSEADDR, 1)) != 0)
        goto sockopt_fail;
    if (o->reuseport && (r = set_flag(fd, SOL_SOCKET, SO_REUSEPORT, 1)) != 0)
        goto sockopt_fail;
    /* Accepted sockets inherit TCP_NOTSENT_LOWAT: the kernel then takes no
     * more than this much not-yet-sent data per connection, so a peer that
     * reads slowly (a slow-read attack: a few bytes of window at a time)
     * pins that much kernel memory instead of a send buffer autotuned to
     * megabytes. A thousand such peers otherwise hold the whole machine's
     * net.ipv4.tcp_mem and stall every other TCP connection on it. Bytes
     * in flight are not counted, so fast readers keep their throughput.
     * 1 MiB: at 256 KiB, 50 concurrent 10 MiB downloads lost 15% of their
     * throughput to extra wake-ups and sendfile calls; at 1 MiB they match
     * an unbounded buffer and 1000 slow readers still stay far below
     * tcp_mem (bench/http-vs-nginx.sh, make slow-attacks). */
    if (type == SOCK_STREAM &&
        (r = set_flag(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, SK_NOTSENT_LOWAT)) != 0)
        goto sockopt_fail;
    /* The wildcard [::] takes IPv4 too, whatever net.ipv6.bindv6only says. */
    if (any && family == AF_INET6 && (r = set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0)) != 0)
        goto sockopt_fail;
    if ((r = sk_sockopt_apply(fd, o->sockopts, family, type, sk_log_verbosity >= 1, err)) != 0)
        goto fail;
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) != 0) {
        r = sk_err_set(err, -errno, "bind %s: %s", what, strerror(errno));
        goto fail;
    }
    if (type == SOCK_STREAM && listen(fd, o->backlog > 0 ? o->backlog : SOMAXCONN) != 0) {
        r = sk_err_set(err, -errno, "listen %s: %s", what, strerror(errno));
        goto fail;
    }
    return fd;
sockopt_fail:
    sk_err_set(err, r, "setsockopt on %s: %s", what, strerror(-r));
fail:
    close(fd);
    return r;
}

static void set_port(sk_addr_t *a, uint16_t port)
{
    if (a->ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
}

/* An address this host cannot use at all (IPv6 disabled): skipped when a
 * name has other addresses, rather than failing the whole listen. */
static bool unusable(int r)
{
    return r == -EAFNOSUPPORT || r == -EADDRNOTAVAIL;
}

int sk_endpoint_listen(const sk_endpoint_t *ep, const sk_listen_opts_t *o, int *fds, size_t max,
                       struct sk_err *err)
{
    static const sk_listen_opts_t defaults;
    sk_addr_t *addrs = NULL;
    int n, count = 0, r = 0;
    if (o == NULL)
        o = &defaults;
    if (max == 0)
        return sk_err_set(err, -EINVAL, "no room for a listening socket");
    if (is_unix(ep->transport))
        return listen_unix(ep, o, fds, err);
    n = sk_endpoint_resolve(ep, AF_UNSPEC, true, &addrs, err);
    if (n < 0)
        return n;
    if (ep->host[0] == '\0') {
        /* ":PORT" is a single dual-stack [::] socket; 0.0.0.0 only where
         * IPv6 is missing (no module) or disabled (sysctl: bind fails). */
        r = listen_ip(ep, o, &addrs[0], true, err);
        if (r < 0 && unusable(r) && n > 1)
            r = listen_ip(ep, o, &addrs[1], true, err);
        if (r >= 0)
            fds[count++] = r;
        goto out;
    }
    uint16_t port = ep->port;
    for (int i = 0; i < n && (size_t)count < max; i++) {
        struct sk_err e1 = {0, ""};
        set_port(&addrs[i], port);
        r = listen_ip(ep, o, &addrs[i], false, &e1);
        if (r < 0 && unusable(r) && (count > 0 || i + 1 < n)) {
            sk_log_info("skipping unusable address: %s", e1.msg);
            r = 0;
            continue;
        }
        if (r < 0) {
            if (err != NULL)
                *err = e1;
            close_all(fds, count);
            count = 0;
            goto out;
        }
        fds[count++] = r;
        if (port == 0) {
            /* Port 0: every socket of the name must share the port the
             * kernel picked for the first, or "localhost:0" would mean a
             * different port per address. */
            sk_addr_t got = {.len = sizeof(got.ss)};
            if (getsockname(r, (struct sockaddr *)&got.ss, &got.len) != 0) {
                r = sk_err_set(err, -errno, "getsockname: %s", strerror(errno));
                close_all(fds, count);
                count = 0;
                goto out;
            }
            port = ntohs(got.ss.ss_family == AF_INET ? ((struct sockaddr_in *)&got.ss)->sin_port
                                                     : ((struct sockaddr_in6 *)&got.ss)->sin6_port);
        }
    }
out:
    free(addrs);
    return count > 0 ? count : r;
}

/* ---- connecting --------------------------------------------------------- */

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Waits for a non-blocking connect to finish. Returns 0 or a negative
 * errno (-ETIMEDOUT when timeout_ms passes). */
static int wait_connected(int fd, int timeout_ms)
{
    uint64_t deadline = timeout_ms > 0 ? now_us() + (uint64_t)timeout_ms * 1000u : 0;
    for (;;) {
        int wait = -1;
        if (timeout_ms > 0) {
            uint64_t t = now_us();
            if (t >= deadline)
                return -ETIMEDOUT;
            wait = (int)((deadline - t + 999) / 1000);
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int r = poll(&p, 1, wait);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -ETIMEDOUT;
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
            return -errno;
        return -soerr;
    }
}

/* A Unix stream connect never returns EINPROGRESS: a full backlog gives
 * EAGAIN and the socket stays unconnected, so retry until the deadline. */
static int connect_unix_retry(int fd, const sk_addr_t *a, int timeout_ms)
{
    uint64_t deadline = timeout_ms > 0 ? now_us() + (uint64_t)timeout_ms * 1000u : 0;
    for (;;) {
        if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -errno;
        if (timeout_ms > 0 && now_us() >= deadline)
            return -ETIMEDOUT;
        poll(NULL, 0, 10);
    }
}

static const char *connect_reason(int r)
{
    switch (r) {
    case -ECONNREFUSED:
        return "connection refused";
    case -ETIMEDOUT:
        return "timed out";
    case -EHOSTUNREACH:
        return "no route to host";
    case -ENETUNREACH:
        return "network unreachable";
    case -ENOENT:
        return "no such socket file";
    case -EACCES:
        return "permission denied";
    default:
        return sk_strerror(r);
    }
}

/* One attempt at one address. Returns the fd or a negative errno. */
static int connect_one(const sk_endpoint_t *ep, const sk_connect_opts_t *o, const sk_addr_t *a,
                       struct sk_err *err)
{
    int family = a->ss.ss_family, type = sk_endpoint_socktype(ep), r;
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if ((r = sk_sockopt_apply(fd, o->sockopts, family, type, sk_log_verbosity >= 1, err)) != 0)
        goto fail;
    if (ep->transport == SK_TRANSPORT_UNIXGRAM) {
        /* Autobind (an address of just the family, unix(7)): the kernel
         * gives the socket a unique abstract name, without which the
         * server's reply would have nowhere to go. */
        struct sockaddr_un self = {.sun_family = AF_UNIX};
        if (bind(fd, (const struct sockaddr *)&self, sizeof(sa_family_t)) != 0) {
            r = -errno;
            goto fail;
        }
    }
    if (family == AF_UNIX && type == SOCK_STREAM) {
        r = connect_unix_retry(fd, a, o->timeout_ms);
    } else if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0) {
        r = 0;
    } else if (errno == EINPROGRESS || errno == EINTR) {
        /* EINTR on a non-blocking connect still leaves it in progress. */
        r = wait_connected(fd, o->timeout_ms);
    } else {
        r = -errno;
    }
    if (r != 0)
        goto fail;
    if (!o->nonblock) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
            r = -errno;
            goto fail;
        }
    }
    return fd;
fail:
    close(fd);
    return r;
}

int sk_endpoint_connect(const sk_endpoint_t *ep, const sk_connect_opts_t *o, struct sk_err *err)
{
    static const sk_connect_opts_t defaults;
    sk_addr_t *addrs = NULL;
    struct sk_err e1 = {0, ""};
    char what[4 * UNIX_NAME_MAX + 64];
    int n, r = -EINVAL;
    if (o == NULL)
        o = &defaults;
    n = sk_endpoint_resolve(ep, o->family, false, &addrs, err);
    if (n < 0)
        return n;
    for (int i = 0; i < n; i++) {
        uint64_t t0 = now_us();
        e1.code = 0;
        r = connect_one(ep, o, &addrs[i], &e1);
        if (o->on_attempt != NULL)
            o->on_attempt(o->ctx, &addrs[i], r < 0 ? r : 0, now_us() - t0);
        if (r >= 0)
            break;
        if (e1.code != 0) {
            /* A bad -o option fails the same way on every address. */
            if (err != NULL)
                *err = e1;
            break;
        }
    }
    if (r < 0 && e1.code == 0) {
        if (n == 1)
            sk_addr_format(ep->transport, (const struct sockaddr *)&addrs[0].ss, addrs[0].len, what,
                           sizeof(what));
        else
            sk_endpoint_format(ep, what, sizeof(what));
        if (n > 1)
            sk_err_set(err, r, "%s: %s (%d addresses tried)", what, connect_reason(r), n);
        else
            sk_err_set(err, r, "%s: %s", what, connect_reason(r));
    }
    free(addrs);
    return r;
}

long sk_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -errno;
    rlim_t want = rl.rlim_max;
    if (want == RLIM_INFINITY) {
        /* The kernel refuses more than fs.nr_open descriptors even when the
         * hard limit says "unlimited". */
        FILE *f = fopen("/proc/sys/fs/nr_open", "r");
        unsigned long v = 1048576;
        if (f != NULL) {
            if (fscanf(f, "%lu", &v) != 1)
                v = 1048576;
            fclose(f);
        }
        want = v;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= want)
        return (long)rl.rlim_cur;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -errno;
    return (long)rl.rlim_cur;
}
