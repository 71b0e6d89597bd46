/* fuzz_http_response.c -- libFuzzer target for the client's response parser
 * (sk_http_response_parse) and body decoder (sk_http_body_decode).
 *
 * The head is parsed whole and at an input-chosen truncation (which must say
 * SK_AGAIN or fail the same way); the body after it is decoded in place whole
 * and byte by byte, from exact-size heap copies so ASan flags any read past
 * the end. Both runs must agree on the result, the bytes and the leftover. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "proto/http_response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        __builtin_trap();
}

struct result {
    int rc;
    size_t consumed, data;
    uint64_t sum; /* a checksum of the decoded bytes, in order */
};

static struct result run_body(const sk_http_response_t *resp, const char *in, size_t n, size_t step)
{
    sk_http_body_t b;
    sk_http_body_init(&b, resp, false);
    struct result r = {SK_AGAIN, 0, 0, 0};
    size_t pos = 0;
    while (pos < n && r.rc == SK_AGAIN) {
        size_t piece = step != 0 && step < n - pos ? step : n - pos;
        char *copy = malloc(piece);
        if (copy == NULL)
            abort();
        memcpy(copy, in + pos, piece);
        size_t used = 0, out = 0;
        r.rc = sk_http_body_decode(&b, copy, piece, &used, &out);
        check(used <= piece && out <= used);
        check(r.rc == 1 || r.rc == SK_AGAIN || r.rc == SK_EPARSE);
        check(r.rc != SK_AGAIN || used == piece);
        for (size_t i = 0; i < out; i++)
            r.sum = r.sum * 31 + (unsigned char)copy[i];
        free(copy);
        r.consumed += used;
        r.data += out;
        pos += piece;
    }
    check(b.received == r.data);
    if (r.rc == SK_AGAIN)
        (void)sk_http_body_eof(&b);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    sk_http_header_t h[32], h2[32];
    sk_http_response_t resp, part;
    enum sk_http_resp_error why = SK_HTTP_RE_NONE, why2 = SK_HTTP_RE_NONE;
    sk_http_resp_limits_t lim = {.max_header_bytes = 4096, .max_headers = 32};

    char *copy = malloc(size ? size : 1);
    if (copy == NULL)
        abort();
    memcpy(copy, in, size);
    int rc = sk_http_response_parse(copy, size, &lim, &resp, h, 32, &why);
    check(rc == SK_AGAIN || rc == SK_EPARSE || (rc > 0 && (size_t)rc <= size));

    size_t cut = size ? (size_t)data[size - 1] % size : 0;
    int rc2 = sk_http_response_parse(copy, cut, &lim, &part, h2, 32, &why2);
    if (rc > 0)
        check(rc2 == SK_AGAIN || rc2 == rc || rc2 == SK_EPARSE);
    if (rc == SK_EPARSE && rc2 == SK_EPARSE)
        check(why2 == why);
    if (rc2 > 0 && rc > 0)
        check(rc2 == rc && part.status == resp.status);

    if (rc > 0) {
        check(resp.status >= 100 && resp.status <= 599);
        for (size_t i = 0; i < resp.num_headers; i++)
            check(resp.headers[i].name.ptr >= copy &&
                  resp.headers[i].value.ptr + resp.headers[i].value.len <= copy + rc);
        const char *body = in + rc;
        size_t blen = size - (size_t)rc;
        struct result whole = run_body(&resp, body, blen, 0);
        if (blen <= 4096) {
            struct result bytes = run_body(&resp, body, blen, 1);
            check(bytes.rc == whole.rc);
            if (whole.rc != SK_EPARSE)
                check(bytes.consumed == whole.consumed && bytes.data == whole.data &&
                      bytes.sum == whole.sum);
        }
    }
    free(copy);
    return 0;
}
