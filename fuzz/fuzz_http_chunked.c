/* fuzz_http_chunked.c -- libFuzzer target for sk_http_chunked_decode.
 *
 * Decodes the input whole, in two pieces cut at an input-chosen offset, and
 * byte by byte; each piece is an exact-size heap copy so ASan flags reads
 * past it. The result, bytes consumed and body size must not depend on how
 * the input was cut. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "proto/http_chunked.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        __builtin_trap();
}

struct result {
    int rc;
    size_t consumed;
    uint64_t body;
};

/* Feeds in[0, n) in pieces of at most step bytes (0: all at once). */
static struct result run(const char *in, size_t n, size_t first, size_t step)
{
    sk_http_chunked_t st;
    sk_http_chunked_init(&st);
    struct result r = {SK_AGAIN, 0, 0};
    size_t pos = 0;
    while (pos < n && r.rc == SK_AGAIN) {
        size_t piece = n - pos;
        if (pos == 0 && first != 0 && first < piece)
            piece = first;
        else if (pos != 0 && step != 0 && step < piece)
            piece = step;
        char *copy = malloc(piece);
        if (copy == NULL)
            abort();
        memcpy(copy, in + pos, piece);
        size_t used = 0;
        r.rc = sk_http_chunked_decode(&st, copy, piece, &used, &r.body);
        free(copy);
        check(used <= piece);
        check(r.rc != SK_AGAIN || used == piece);
        check(r.rc == 1 || r.rc == SK_AGAIN || r.rc == SK_EPARSE);
        r.consumed += used;
        pos += piece;
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    struct result whole = run(in, size, 0, 0);
    check(whole.body <= size);
    if (whole.rc == 1)
        check(whole.consumed <= size);

    size_t cut = size ? (size_t)data[0] % size : 0;
    struct result two = run(in, size, cut, 0);
    check(two.rc == whole.rc && two.consumed == whole.consumed && two.body == whole.body);

    if (size <= 4096) {
        struct result bytes = run(in, size, 1, 1);
        check(bytes.rc == whole.rc && bytes.consumed == whole.consumed && bytes.body == whole.body);
    }
    return 0;
}
