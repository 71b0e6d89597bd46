/* broadcast.c -- UDP broadcast sender (see broadcast.h). Linux refuses a
 * datagram to a broadcast address with EACCES unless SO_BROADCAST is set;
 * 255.255.255.255 leaves by the interface of the default route (or the
 * route covering it), so a host without one needs --to with the subnet's
 * own broadcast address. */
#include "client/broadcast.h"

#include "core/clock.h"
#include "core/endpoint.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Resolves the destination to one IPv4 address. */
static int resolve(const char *to, uint16_t port, struct sockaddr_in *sin, struct sk_err *err)
{
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    if (inet_pton(AF_INET, to, &sin->sin_addr) == 1)
        return 0;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(to, NULL, &hints, &ai);
    if (rc != 0 || ai == NULL)
        return sk_err_set(err, SK_EUSAGE, "--to %s: not an IPv4 address or a known name (%s)", to,
                          rc != 0 ? gai_strerror(rc) : "no address");
    sin->sin_addr = ((struct sockaddr_in *)ai->ai_addr)->sin_addr;
    freeaddrinfo(ai);
    return 0;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

long sk_broadcast_send(const sk_broadcast_opts_t *o, const void *msg, size_t len,
                       struct sk_err *err)
{
    struct sockaddr_in sin;
    const char *to = o->to != NULL ? o->to : "255.255.255.255";
    int rc = resolve(to, o->port, &sin, err);
    if (rc < 0)
        return rc;
    char dest[64];
    sk_addr_format_peer((struct sockaddr *)&sin, sizeof(sin), dest, sizeof(dest));
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return sk_err_set(err, -errno, "cannot create a UDP socket: %s", strerror(errno));
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0) {
        rc = sk_err_set(err, -errno, "SO_BROADCAST: %s", strerror(errno));
        goto out;
    }
    if (o->sockopts != NULL &&
        (rc = sk_sockopt_apply(fd, o->sockopts, AF_INET, SOCK_DGRAM, o->verbose > 0, err)) < 0)
        goto out;
    for (long i = 0; i < o->count; i++) {
        if (i > 0 && o->interval_ms > 0)
            sleep_ms(o->interval_ms);
        ssize_t n;
        do {
            n = sendto(fd, msg, len, 0, (struct sockaddr *)&sin, sizeof(sin));
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            int e = errno;
            rc = sk_err_set(err, -e, "sending to %s: %s%s", dest, strerror(e),
                            e == ENETUNREACH ? " (no route for this broadcast address; give "
                                               "--to the subnet's broadcast address)"
                            : e == EMSGSIZE  ? " (message larger than a datagram can be)"
                                             : "");
            goto out;
        }
        if (o->verbose > 0)
            sk_log_info("sent %zd bytes to %s (%ld of %ld)", n, dest, i + 1, o->count);
    }
    rc = 0;
out:
    close(fd);
    return rc < 0 ? rc : o->count;
}
