/* transport_plain.c -- the plain stream transport (TCP, Unix): read(2),
 * writev/sendfile through the output queue, shutdown(SHUT_WR). It keeps no
 * state beyond struct sk_transport, so connections embed it. */
#include "core/transport.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

static ssize_t plain_read(sk_transport_t *t, char *buf, size_t cap)
{
    for (;;) {
        ssize_t n = read(t->fd, buf, cap);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

static ssize_t plain_write(sk_transport_t *t, sk_outq_t *q)
{
    return sk_outq_write(q, t->fd);
}

static int plain_shutdown(sk_transport_t *t)
{
    return shutdown(t->fd, SHUT_WR) == 0 ? 0 : -errno;
}

const sk_transport_ops_t sk_transport_plain_ops = {
    .name = "plain",
    .read = plain_read,
    .write = plain_write,
    .shutdown = plain_shutdown,
};

void sk_transport_plain_init(sk_transport_t *t, int fd)
{
    t->ops = &sk_transport_plain_ops;
    t->fd = fd;
    t->want = 0;
    t->handshaking = false;
}
