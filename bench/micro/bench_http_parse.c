/* bench_http_parse.c -- picohttpparser-style micro-benchmark: parse one
 * typical browser request head N times and print ns per request.
 *
 * Build: cc -O2 -std=gnu11 -D_GNU_SOURCE -Isrc -Ibuild bench/micro/bench_http_parse.c
 *        src/proto/http_parse.c src/proto/token.c src/core/error.c -o /tmp/bench_http_parse
 * Run:   /tmp/bench_http_parse [iterations]   (not run by the tests) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/http_parse.h"

static const char request[] =
    "GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n"
    "Host: www.kittyhell.com\r\n"
    "User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10_6_3; ja-JP-mac; rv:1.9.2.3) "
    "Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n"
    "Accept-Encoding: gzip,deflate\r\n"
    "Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n"
    "Keep-Alive: 115\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; "
    "__utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; "
    "__utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com|utmcct=/"
    "reader/|utmcmd=referral\r\n"
    "\r\n";

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    size_t len = sizeof(request) - 1;
    sk_http_request_t req;
    sk_http_header_t headers[100];
    enum sk_http_error why;
    /* Parse from a heap copy so the compiler cannot fold the input. */
    char *buf = malloc(len);
    if (buf == NULL)
        return 1;
    memcpy(buf, request, len);
    uint64_t sink = 0;

    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        int rc = sk_http_parse_request(buf, len, NULL, &req, headers, 100, &why);
        if (rc != (int)len) {
            fprintf(stderr, "parse failed: %d (%s)\n", rc, sk_http_error_reason(why));
            return 1;
        }
        sink += req.num_headers;
    }
    double ns = (now_ns() - t0) / (double)n;
    printf("http_parse: %ld requests, %zu bytes each, %.1f ns/request, %.2f GB/s (sink %llu)\n", n,
           len, ns, (double)len / ns, (unsigned long long)sink);
    free(buf);
    return 0;
}
