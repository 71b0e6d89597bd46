/* fuzz_path.c -- libFuzzer target for request path handling: percent-decode
 * plus normalisation (both root policies), the dot-segment predicates, URL
 * encoding (which must round-trip through the normaliser) and HTML
 * escaping. Corpus: fuzz/corpus/path/ (raw request targets). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "proto/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() rather than assert(): the check must survive -DNDEBUG builds. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* What every normalised path must look like, whatever the input. */
static void check_normalized(const char *out, int n, size_t inlen)
{
    CHECK(n >= 1);
    CHECK((size_t)n <= inlen + 1);
    CHECK(memchr(out, '\0', (size_t)n) == NULL); /* no NUL inside */
    CHECK(out[n] == '\0');
    CHECK(out[0] == '/');
    CHECK(strstr(out, "//") == NULL);
    CHECK(strstr(out, "/./") == NULL);
    CHECK(strstr(out, "/../") == NULL);
    CHECK(!(n >= 2 && strcmp(out + n - 2, "/.") == 0));
    CHECK(!(n >= 3 && strcmp(out + n - 3, "/..") == 0));
    CHECK(strchr(out, '\\') == NULL);
    if (sk_path_is_hidden(out))
        CHECK(sk_path_has_dot_segment(out));
}

/* Encoding a result and normalising it again must give it back: the
 * Location header of a redirect names exactly the same file. */
static void check_round_trip(const char *out, int n)
{
    sk_buf_t b;
    sk_buf_init(&b);
    CHECK(sk_url_encode_path(&b, out, (size_t)n) == 0);
    for (size_t i = 0; i < b.len; i++) {
        unsigned char c = (unsigned char)sk_buf_head(&b)[i];
        CHECK(c > 0x20 && c < 0x7f && c != '"' && c != '\'' && c != '<' && c != '>');
    }
    char *again = malloc(b.len + 2);
    CHECK(again != NULL);
    int m = sk_path_normalize(sk_buf_head(&b), b.len, again, b.len + 2, 0, NULL);
    CHECK(m == n && memcmp(again, out, (size_t)n + 1) == 0);
    free(again);
    sk_buf_fini(&b);
}

static void check_html(const char *s, size_t n)
{
    sk_buf_t b;
    sk_buf_init(&b);
    CHECK(sk_html_escape(&b, s, n) == 0);
    CHECK(b.len >= n);
    const char *h = b.len ? sk_buf_head(&b) : "";
    for (size_t i = 0; i < b.len; i++) {
        CHECK(h[i] != '<' && h[i] != '>' && h[i] != '"' && h[i] != '\'');
        if (h[i] == '&') {
            const char *semi = memchr(h + i, ';', b.len - i);
            CHECK(semi != NULL && semi - (h + i) <= 5);
        }
    }
    sk_buf_fini(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    char *out = malloc(size + 2);
    CHECK(out != NULL);
    enum sk_path_reason why;

    int strict = sk_path_normalize(in, size, out, size + 2, SK_PATH_DEFAULT, &why);
    if (strict >= 0) {
        CHECK(why == SK_PATH_OK);
        check_normalized(out, strict, size);
        check_round_trip(out, strict);
    } else {
        CHECK(strict == SK_EPARSE && why != SK_PATH_OK && why != SK_PATH_TOO_LONG);
        CHECK(sk_path_reason_status(why) == 400);
    }

    enum sk_path_reason cwhy;
    int clamp = sk_path_normalize(in, size, out, size + 2, SK_PATH_CLAMP_ROOT, &cwhy);
    if (clamp >= 0)
        check_normalized(out, clamp, size);
    CHECK(cwhy != SK_PATH_ABOVE_ROOT);
    /* The two policies differ only for paths that climb above the root. */
    if (strict < 0 && clamp >= 0)
        CHECK(why == SK_PATH_ABOVE_ROOT);
    if (strict >= 0)
        CHECK(clamp == strict);

    /* A buffer too small by any amount fails cleanly, never overflows. */
    if (strict > 0) {
        char *small = malloc((size_t)strict);
        CHECK(small != NULL);
        CHECK(sk_path_normalize(in, size, small, (size_t)strict, 0, &why) == SK_ETOOBIG);
        CHECK(why == SK_PATH_TOO_LONG);
        free(small);
    }

    check_html(in, size);
    free(out);
    return 0;
}
