/* echo.c -- the echo service (RFC 862 behaviour on any transport). The
 * protocol is trivial; what matters is in the driver: back-pressure stops
 * reading while a slow reader owes us, and a half-close is answered only
 * after the last byte went back. */
#include "serve/echo.h"

#include <errno.h>

static uint64_t send_deadline(void *sess, uint64_t last_ms, bool pending)
{
    (void)sess;
    /* A peer that stops reading its echo must not pin memory forever. */
    return pending ? last_ms + 60000 : 0;
}

static int echo_input(void *sess, const char *data, size_t len, size_t *consumed,
                      sk_proto_ctx_t *ctx)
{
    (void)sess;
    if (sk_outq_append(ctx->out, data, len) < 0)
        return -ENOMEM;
    *consumed = len;
    return SK_PROTO_OK;
}

static int echo_eof(void *sess, sk_proto_ctx_t *ctx)
{
    (void)sess;
    (void)ctx;
    /* Flush what is owed, then close: the driver sends FIN after the last
     * queued byte. */
    return SK_PROTO_CLOSE;
}

static int echo_datagram(void *cfg, const char *data, size_t len, sk_buf_t *reply)
{
    (void)cfg;
    return sk_buf_append(reply, data, len);
}

static const sk_proto_t echo_proto = {
    .name = "echo",
    .session_size = 0,
    .input = echo_input,
    .eof = echo_eof,
    .deadline_ms = send_deadline,
};

static const sk_dgram_proto_t echo_dgram = {
    .name = "echo",
    .datagram = echo_datagram,
};

static const sk_service_t echo_service = {
    .stream = &echo_proto,
    .dgram = &echo_dgram,
};

const sk_service_t *sk_echo_service(void)
{
    return &echo_service;
}
