/* fuzz_http_request.c -- libFuzzer target for sk_http_parse_request.
 *
 * Parses pipelined heads (skipping Content-Length bodies) and checks the
 * contract: spans inside the input, a strict prefix of an accepted head is
 * SK_AGAIN, and rejections map to a known status. A first byte below 0x10
 * selects small limits so the 414/431 paths are reached. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "proto/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXH 64

static void check(bool ok)
{
    if (!ok)
        __builtin_trap();
}

static void inside(sk_str_t s, const char *b, size_t n)
{
    if (s.len != 0 && !(s.len == 1 && s.ptr[0] == '/'))
        check(s.ptr >= b && s.ptr + s.len <= b + n);
}

/* Parses an exact-size heap copy so ASan flags any read past n. */
static int parse_copy(const char *in, size_t n, const sk_http_limits_t *lim)
{
    sk_http_request_t req;
    sk_http_header_t hdrs[MAXH];
    enum sk_http_error why;
    char *copy = malloc(n ? n : 1);
    if (copy == NULL)
        return SK_AGAIN;
    memcpy(copy, in, n);
    int rc = sk_http_parse_request(copy, n, lim, &req, hdrs, MAXH, &why);
    free(copy);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sk_http_limits_t lim = SK_HTTP_LIMITS_DEFAULT;
    if (size > 0 && data[0] < 0x10) {
        lim.max_header_bytes = 8 + (size_t)data[0] * 16;
        lim.max_headers = (size_t)data[0] % 5 + 1;
        lim.max_body = (size_t)data[0] % 3 * 32; /* 0: no body accepted */
        data++;
        size--;
    }
    const char *buf = (const char *)data;
    size_t off = 0;
    for (int round = 0; round < 64 && off < size; round++) {
        sk_http_request_t req;
        sk_http_header_t hdrs[MAXH];
        enum sk_http_error why = SK_HTTP_E_NONE;
        const char *b = buf + off;
        size_t n = size - off;
        int rc = sk_http_parse_request(b, n, &lim, &req, hdrs, MAXH, &why);
        if (rc == SK_AGAIN)
            break;
        if (rc == SK_EPARSE) {
            int st = sk_http_error_status(why);
            check(why != SK_HTTP_E_NONE);
            check(st == 400 || st == 413 || st == 414 || st == 431 || st == 501 || st == 505);
            check(sk_http_error_reason(why) != NULL);
            break;
        }
        check(rc > 0 && (size_t)rc <= n);
        check(why == SK_HTTP_E_NONE);
        check(req.version_minor == 0 || req.version_minor == 1);
        check(req.num_headers <= MAXH);
        inside(req.method, b, (size_t)rc);
        inside(req.target, b, (size_t)rc);
        inside(req.path, b, (size_t)rc);
        inside(req.query, b, (size_t)rc);
        inside(req.host, b, (size_t)rc);
        for (size_t i = 0; i < req.num_headers; i++) {
            inside(hdrs[i].name, b, (size_t)rc);
            inside(hdrs[i].value, b, (size_t)rc);
            check(hdrs[i].name.len > 0);
        }
        check(!(req.chunked && req.has_content_length));
        check(req.version_minor == 0 || req.has_host);
        /* Incrementality: the head alone parses the same, any strict
         * prefix of it needs more input. */
        check(parse_copy(b, (size_t)rc, &lim) == rc);
        check(parse_copy(b, (size_t)rc - 1, &lim) == SK_AGAIN);
        check(parse_copy(b, (size_t)rc / 2, &lim) == SK_AGAIN);
        off += (size_t)rc;
        if (req.chunked)
            break; /* the chunked decoder has its own target */
        if (req.has_content_length) {
            if (req.content_length > size - off)
                break;
            off += (size_t)req.content_length;
        }
    }
    return 0;
}
