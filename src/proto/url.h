/* url.h -- http and https URLs for the client: parsing into what a request
 * needs (host to resolve, port, request-target, Host header), RFC 3986 §5
 * reference resolution for redirects, and the file name for `get -O`.
 *
 * Percent-encoding is kept exactly as written (the server decodes it), the
 * fragment is dropped (it never travels, RFC 9110 §4.2.1), and userinfo is
 * refused rather than sent. */
#ifndef SK_PROTO_URL_H
#define SK_PROTO_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* A parsed URL. The strings live in one owned block; free with
 * sk_url_fini. */
typedef struct sk_url {
    bool https;
    bool ipv6;             /* host was an IP-literal ("[::1]") */
    bool default_port;     /* no port, or the scheme's own (80/443) */
    uint16_t port;         /* always set: explicit, or 80/443 */
    const char *host;      /* for name resolution; IPv6 without brackets */
    const char *target;    /* request-target: path[?query], "/" for an empty path */
    const char *authority; /* Host header: host or [v6], plus ":port" unless default */
    const char *origin;    /* "http://authority" (scheme lowercase), for reuse keys */
    char *mem;
} sk_url_t;

/* Parses the NUL-terminated url. With guess_scheme (command-line URLs) a
 * URL without "://" is taken as http:// (like curl). Returns 0, -ENOMEM, or
 * SK_EUSAGE with err saying what is wrong and where ("URL has no host",
 * "userinfo (user@) is not supported", "port 99999 is out of range", ...). */
int sk_url_parse(sk_url_t *u, const char *url, bool guess_scheme, struct sk_err *err);

/* Frees what sk_url_parse allocated; u may be zeroed or already finished. */
void sk_url_fini(sk_url_t *u);

/* Resolves the reference ref against the absolute URI base (RFC 3986 §5.2,
 * strict: a reference with a scheme is taken as absolute), removing dot
 * segments. Returns 0 with *out owned (free with sk_free), -ENOMEM, or
 * SK_EPARSE when base has no scheme. Fragments are kept. */
int sk_url_resolve(const char *base, const char *ref, char **out);

/* Percent-encodes, in the path and query of the reference ref, the bytes a
 * URI cannot hold but servers put in Location fields anyway (controls,
 * space, non-ASCII such as raw UTF-8, "<>\\^`{|}, and a '%' that does not
 * start a triplet), as browsers and curl do before following a redirect.
 * The scheme, authority and fragment are copied unchanged. Returns 0 with
 * *out owned (free with sk_free) or -ENOMEM. */
int sk_url_escape_ref(const char *ref, char **out);

/* The file name for -O: the last path segment of the target, without the
 * query, percent-encoding kept. Returns 0, SK_EUSAGE when there is none
 * ("/", "/dir/", ".", ".."), or -ENAMETOOLONG when it does not fit cap. */
int sk_url_filename(const sk_url_t *u, char *out, size_t cap);

#endif
