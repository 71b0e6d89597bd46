/* fuzz_msg.c -- libFuzzer target for the framed JSON service: the input is
 * one request payload, answered twice, with the fast path for flat
 * requests on and off. The replies must be byte-identical (the fast path
 * copies value text where jansson would print it), and the service must
 * survive anything. Stats replies carry the clock and counters, so they
 * are not compared. Corpus: fuzz/corpus/msg/, dictionary fuzz/msg.dict. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"
#include "serve/internal.h"
#include "serve/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static sk_msg_config_t cfg;
static void *worker;

/* Feeds one frame holding data to a fresh session; returns the reply
 * bytes (malloc'd) and their count. */
static char *answer(const uint8_t *data, size_t size, bool fast, size_t *out_len)
{
    const sk_proto_t *p = cfg.service.stream;
    sk__msg_fast = fast;
    char *frame = malloc(size + SK_FRAME_PREFIX);
    CHECK(frame != NULL);
    sk_frame_put_prefix(frame, (uint32_t)size);
    if (size > 0)
        memcpy(frame + SK_FRAME_PREFIX, data, size);
    void *sess = calloc(1, p->session_size);
    sk_outq_t out;
    sk_outq_init(&out);
    sk_proto_ctx_t ctx = {.out = &out, .worker = worker};
    CHECK(p->open(sess, cfg.service.cfg, &ctx) == 0);
    size_t off = 0, total = size + SK_FRAME_PREFIX;
    while (off < total) {
        size_t used = 0;
        int rc = p->input(sess, frame + off, total - off, &used, &ctx);
        CHECK(rc == SK_PROTO_OK);
        CHECK(used > 0);
        off += used;
    }
    size_t n = (size_t)out.bytes;
    char *reply = malloc(n + 1);
    CHECK(reply != NULL);
    CHECK(sk_outq_peek(&out, reply, n) == (ssize_t)n);
    /* Exactly one reply frame. */
    CHECK(n >= SK_FRAME_PREFIX && sk_frame_get_prefix(reply) == n - SK_FRAME_PREFIX);
    sk_outq_clear(&out);
    p->close(sess);
    free(sess);
    free(frame);
    *out_len = n;
    return reply;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (worker == NULL) {
        CHECK(sk_msg_config_init(&cfg, SK_FRAME_MAX_DEFAULT) == 0);
        worker = cfg.service.worker_init(cfg.service.cfg);
        CHECK(worker != NULL);
    }
    if (size > (1u << 20))
        return 0;
    size_t fast_len, slow_len;
    char *fast = answer(data, size, true, &fast_len);
    char *slow = answer(data, size, false, &slow_len);
    fast[fast_len] = '\0';
    if (strstr(fast + SK_FRAME_PREFIX, "\"stats\":{") == NULL) {
        CHECK(fast_len == slow_len);
        CHECK(memcmp(fast, slow, fast_len) == 0);
    }
    free(fast);
    free(slow);
    sk__msg_fast = true;
    return 0;
}
