/* fuzz_endpoint.c -- libFuzzer target for the endpoint syntax: any input
 * must parse or fail cleanly, and whatever parses must format to text that
 * parses back to the same fields (format and parse agree). */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/endpoint.h"

/* Not CHECK(): the check must survive -DNDEBUG builds. */
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_endpoint: check failed: %s\n", #c);                              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The parser takes a C string: an exact-size copy plus the NUL keeps
     * ASan able to see a read past the end. */
    char *s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    sk_endpoint_t a, b;
    struct sk_err err = {0, ""};
    if (sk_endpoint_parse(&a, s, &err) == 0) {
        char buf[512];
        int n = sk_endpoint_format(&a, buf, sizeof(buf));
        CHECK(n > 0 && (size_t)n < sizeof(buf));
        int r = sk_endpoint_parse(&b, buf, &err);
        CHECK(r == 0);
        CHECK(a.transport == b.transport);
        CHECK(strcmp(a.host, b.host) == 0);
        CHECK(a.host_is_v6 == b.host_is_v6);
        CHECK(a.port == b.port);
        CHECK(strcmp(a.path, b.path) == 0);
        CHECK(a.abstract == b.abstract);
    } else {
        /* Every failure says something, and the message is terminated. */
        CHECK(err.code < 0);
        CHECK(err.msg[0] != '\0' && memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
    }
    free(s);
    return 0;
}
