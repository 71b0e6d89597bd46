/* fuzz_frame.c -- libFuzzer target for the frame decoder fed in arbitrary
 * chunks. Input layout: byte 0 picks the maximum (bits 3-5, see maxes[])
 * and how many chunk-size bytes follow (bits 0-2); those bytes give the
 * chunk sizes, cycled (0 means "the rest"); everything after them is the
 * byte stream. Each chunk is copied to an exact-size heap block so ASan
 * sees any over-read, and the frames must match a one-pass reference
 * decode of the whole stream: same frames, same error, same leftover.
 * Corpus: fuzz/corpus/frame/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "proto/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* Up to the default: a larger allocation trips libFuzzer's malloc limit. */
static const size_t maxes[8] = {0, 1, 16, 255, 4096, 65536, 1 << 20, SK_FRAME_MAX_DEFAULT};

/* The reference: where frame i starts in the stream, or the outcome. */
struct ref {
    size_t n;         /* whole frames */
    size_t at;        /* stream offset after the last whole frame */
    bool too_big;     /* stopped on an oversized prefix at `at` */
    uint64_t big_len; /* its length */
};

static struct ref reference(const uint8_t *s, size_t len, size_t max)
{
    struct ref r = {0};
    while (len - r.at >= SK_FRAME_PREFIX) {
        uint32_t n = sk_frame_get_prefix((const char *)s + r.at);
        if (n > max) {
            r.too_big = true;
            r.big_len = n;
            return r;
        }
        if (len - r.at - SK_FRAME_PREFIX < n)
            return r;
        r.at += SK_FRAME_PREFIX + n;
        r.n++;
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t k = data[0] & 7;
    size_t max = maxes[(data[0] >> 3) & 7];
    if (size < 1 + k)
        return 0;
    const uint8_t *sizes = data + 1;
    const uint8_t *s = data + 1 + k;
    size_t len = size - 1 - k;
    struct ref r = reference(s, len, max);

    sk_frame_decoder_t d;
    sk_frame_decoder_init(&d, max);
    size_t pos = 0, frames = 0, ci = 0, expect_at = 0;
    int err = 0;
    while (pos < len && err == 0) {
        size_t chunk = k ? sizes[ci++ % k] : 0;
        if (chunk == 0 || chunk > len - pos)
            chunk = len - pos;
        uint8_t *copy = malloc(chunk);
        CHECK(copy != NULL);
        memcpy(copy, s + pos, chunk);
        size_t off = 0;
        while (off < chunk) {
            size_t used = 0;
            sk_str_t f;
            int rc = sk_frame_decode(&d, (const char *)copy + off, chunk - off, &used, &f);
            CHECK(used <= chunk - off);
            off += used;
            if (rc == SK_AGAIN) {
                CHECK(off == chunk);
                break;
            }
            if (rc < 0) {
                err = rc;
                break;
            }
            CHECK(rc == 1);
            /* Frame i is the reference's frame i, byte for byte. */
            CHECK(frames < r.n);
            uint32_t n = sk_frame_get_prefix((const char *)s + expect_at);
            CHECK(f.len == n);
            CHECK(n == 0 || memcmp(f.ptr, s + expect_at + SK_FRAME_PREFIX, n) == 0);
            expect_at += SK_FRAME_PREFIX + n;
            frames++;
        }
        free(copy);
        pos += off;
    }
    CHECK(frames == r.n);
    if (r.too_big) {
        CHECK(err == SK_ETOOBIG);
        CHECK(d.too_big == r.big_len);
        /* The prefix was consumed, nothing after it. */
        CHECK(pos == r.at + SK_FRAME_PREFIX);
        size_t used = 1;
        sk_str_t f;
        CHECK(sk_frame_decode(&d, "x", 1, &used, &f) == SK_ETOOBIG && used == 0);
    } else {
        /* Allocation may only fail for want of memory, never here. */
        CHECK(err == 0);
        CHECK(pos == len);
        CHECK(sk_frame_decoder_partial(&d) == (r.at < len));
    }
    sk_frame_decoder_fini(&d);
    return 0;
}
