/* fuzz_url.c -- libFuzzer target for sk_url_parse and sk_url_resolve.
 *
 * The input is parsed as a URL (with and without the http:// guess) and
 * resolved as a reference against an RFC 3986 base and as a base for a
 * relative reference. Invariants: a parsed URL has a host, a port and a
 * target starting with '/', its origin + target parses to the same parts,
 * and resolving a result against "" gives it back without its fragment. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "proto/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        __builtin_trap();
}

static void parse(const char *s, bool guess)
{
    sk_url_t u;
    struct sk_err e;
    if (sk_url_parse(&u, s, guess, &e) != 0) {
        sk_url_fini(&u);
        return;
    }
    check(u.host[0] != '\0' && u.port != 0 && u.target[0] == '/');
    size_t n = strlen(u.origin) + strlen(u.target) + 1;
    char *again = malloc(n);
    if (again == NULL)
        abort();
    strcpy(again, u.origin);
    strcat(again, u.target);
    sk_url_t v;
    check(sk_url_parse(&v, again, false, &e) == 0);
    check(strcmp(u.host, v.host) == 0 && u.port == v.port && u.https == v.https &&
          strcmp(u.target, v.target) == 0 && strcmp(u.authority, v.authority) == 0);
    sk_url_fini(&v);
    free(again);
    char name[256];
    if (sk_url_filename(&u, name, sizeof(name)) == 0)
        check(name[0] != '\0' && strchr(name, '/') == NULL && strchr(name, '?') == NULL);
    sk_url_fini(&u);
}

static void resolve(const char *base, const char *ref)
{
    char *out = NULL;
    if (sk_url_resolve(base, ref, &out) != 0)
        return;
    char *again = NULL;
    check(sk_url_resolve(out, "", &again) == 0);
    char *hash = strchr(out, '#');
    size_t n = hash != NULL ? (size_t)(hash - out) : strlen(out);
    check(strlen(again) == n && memcmp(again, out, n) == 0);
    sk_free(again);
    sk_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    parse(s, true);
    parse(s, false);
    resolve("http://a/b/c/d;p?q", s);
    resolve(s, "../x/./y?z#f");
    free(s);
    return 0;
}
