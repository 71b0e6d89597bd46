/* discard.c -- the discard service. Bytes are dropped as soon as they are
 * read into the loop's scratch buffer, so a sink costs no per-connection
 * memory at any rate. */
#include "serve/discard.h"

static int discard_input(void *sess, const char *data, size_t len, size_t *consumed,
                         sk_proto_ctx_t *ctx)
{
    (void)sess;
    (void)data;
    (void)ctx;
    *consumed = len;
    return SK_PROTO_OK;
}

static int discard_datagram(void *cfg, const char *data, size_t len, sk_buf_t *reply)
{
    (void)cfg;
    (void)data;
    (void)len;
    (void)reply;
    return 0;
}

static const sk_proto_t discard_proto = {
    .name = "discard",
    .input = discard_input,
};

static const sk_dgram_proto_t discard_dgram = {
    .name = "discard",
    .datagram = discard_datagram,
};

static const sk_service_t discard_service = {
    .stream = &discard_proto,
    .dgram = &discard_dgram,
};

const sk_service_t *sk_discard_service(void)
{
    return &discard_service;
}
