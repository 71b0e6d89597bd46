/* url.c -- http(s) URL parsing and RFC 3986 reference resolution (see
 * url.h). Parsing validates every byte against the RFC 3986 classes in
 * proto/token.h and says in words which part is wrong; resolution is the
 * RFC's own algorithm (§5.2.2, remove_dot_segments §5.2.4, §5.3). */
#include "proto/url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "proto/token.h"

/* URLs longer than this are refused: no server accepts such a target. */
#define URL_MAX 65536

/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 §3.1).
 * Returns the length of the scheme before ':' in s, or 0. */
static size_t scheme_len(const char *s, size_t n)
{
    if (n == 0 || !SK_TOK_IS(s[0], SK_TOK_ALPHA))
        return 0;
    size_t i = 1;
    while (i < n && (SK_TOK_IS(s[i], SK_TOK_ALPHA | SK_TOK_DIGIT) || s[i] == '+' || s[i] == '-' ||
                     s[i] == '.'))
        i++;
    return i < n && s[i] == ':' ? i : 0;
}

/* Checks path and query bytes (RFC 3986 §3.3-3.4): pchar, '/' and '?',
 * where '%' must start a pct-encoded triplet. Returns the offset of the
 * first bad byte, or n. */
static size_t check_target(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n || sk_tok_hexval((unsigned char)s[i + 1]) < 0 ||
                sk_tok_hexval((unsigned char)s[i + 2]) < 0)
                return i;
        } else if (!SK_TOK_IS(c, SK_TOK_UNRESERVED | SK_TOK_SUB_DELIM) && c != ':' && c != '@' &&
                   c != '/' && c != '?') {
            return i;
        }
    }
    return n;
}

/* True when s (at a ':') continues as ":PORT" then '/', '?' or the end:
 * "host:8080/x" is a host and port, "mailto:x" a scheme. */
static bool port_follows(const char *s)
{
    s++;
    while (SK_TOK_IS(*s, SK_TOK_DIGIT))
        s++;
    return *s == '\0' || *s == '/' || *s == '?' || *s == '#';
}

int sk_url_parse(sk_url_t *u, const char *url, bool guess_scheme, struct sk_err *err)
{
    memset(u, 0, sizeof(*u));
    size_t n = strlen(url);
    if (n == 0)
        return sk_err_set(err, SK_EUSAGE, "empty URL");
    if (n > URL_MAX)
        return sk_err_set(err, SK_EUSAGE, "URL longer than %d bytes", URL_MAX);
    for (size_t i = 0; i < n; i++)
        if (!SK_TOK_IS(url[i], SK_TOK_VCHAR))
            return sk_err_set(err, SK_EUSAGE,
                              "URL has a space, control or non-ASCII byte at position %zu "
                              "(percent-encode it, e.g. %%20 for a space)",
                              i + 1);

    /* The fragment is for the client alone (RFC 3986 §3.5). */
    const char *hash = memchr(url, '#', n);
    if (hash != NULL)
        n = (size_t)(hash - url);

    const char *p = url, *end = url + n;
    size_t sl = scheme_len(url, n);
    if (sl > 0 && n >= sl + 3 && memcmp(url + sl, "://", 3) == 0) {
        if (sl == 4 && SK_TOK_EQ(url, 4, "http")) {
            u->https = false;
        } else if (sl == 5 && SK_TOK_EQ(url, 5, "https")) {
            u->https = true;
        } else {
            return sk_err_set(err, SK_EUSAGE, "unsupported scheme \"%.*s\" (only http and https)",
                              (int)(sl > 20 ? 20 : sl), url);
        }
        p += sl + 3;
    } else if (sl > 0 && (SK_TOK_EQ(url, sl, "http") || SK_TOK_EQ(url, sl, "https"))) {
        return sk_err_set(err, SK_EUSAGE, "URL \"%.40s\" lacks \"//\" after \"%.*s:\"", url,
                          (int)sl, url);
    } else if (strstr(url, "://") == NULL && guess_scheme && !(sl > 0 && !port_follows(url + sl))) {
        /* "example.com/x" or "localhost:8080": like curl, assume http. */
        u->https = false;
    } else if (sl > 0) {
        return sk_err_set(err, SK_EUSAGE, "URL \"%.40s\" does not start with http:// or https://",
                          url);
    } else {
        return sk_err_set(err, SK_EUSAGE, "URL \"%.40s\" has no scheme (http:// or https://)", url);
    }

    /* authority = host [ ":" port ] up to the path, query or end. */
    const char *a = p;
    while (p < end && *p != '/' && *p != '?')
        p++;
    const char *ae = p;
    if (memchr(a, '@', (size_t)(ae - a)) != NULL)
        return sk_err_set(err, SK_EUSAGE,
                          "URL has user credentials (user@host); sockkit get does not send them "
                          "(use -H 'Authorization: ...')");
    if (a == ae)
        return sk_err_set(err, SK_EUSAGE, "URL has no host");

    const char *h = a, *he, *portp = NULL;
    char v6[64];
    if (*a == '[') {
        const char *rb = memchr(a, ']', (size_t)(ae - a));
        if (rb == NULL)
            return sk_err_set(err, SK_EUSAGE, "IPv6 address in URL lacks its closing ']'");
        h = a + 1;
        he = rb;
        size_t hl = (size_t)(he - h);
        /* RFC 6874 zone identifiers ("%25eth0") are not sent in Host and
         * not accepted here. */
        struct in6_addr tmp;
        bool valid = hl > 0 && hl < sizeof(v6);
        if (valid) {
            memcpy(v6, h, hl);
            v6[hl] = '\0';
            valid = inet_pton(AF_INET6, v6, &tmp) == 1;
        }
        if (!valid)
            return sk_err_set(err, SK_EUSAGE, "\"%.*s\" is not a valid IPv6 address",
                              (int)(hl > 45 ? 45 : hl), h);
        u->ipv6 = true;
        if (rb + 1 < ae) {
            if (rb[1] != ':')
                return sk_err_set(err, SK_EUSAGE, "unexpected \"%c\" after the IPv6 address",
                                  rb[1]);
            portp = rb + 2;
        }
    } else {
        const char *colon = memchr(a, ':', (size_t)(ae - a));
        he = colon != NULL ? colon : ae;
        if (colon != NULL)
            portp = colon + 1;
        if (he == h)
            return sk_err_set(err, SK_EUSAGE, "URL has no host");
        for (const char *c = h; c < he; c++)
            if (!SK_TOK_IS(*c, SK_TOK_UNRESERVED | SK_TOK_SUB_DELIM) || *c == ':' || *c == '%')
                return sk_err_set(err, SK_EUSAGE, "invalid character '%c' in host \"%.*s\"", *c,
                                  (int)(he - h > 60 ? 60 : he - h), h);
    }

    unsigned long port = u->https ? 443 : 80;
    u->default_port = true;
    /* RFC 3986 §3.2.3: an empty port ("host:") means the default. */
    if (portp != NULL && portp < ae) {
        unsigned long v = 0;
        for (const char *c = portp; c < ae; c++) {
            if (!SK_TOK_IS(*c, SK_TOK_DIGIT))
                return sk_err_set(err, SK_EUSAGE, "port \"%.*s\" is not a number",
                                  (int)(ae - portp > 20 ? 20 : ae - portp), portp);
            v = v * 10 + (unsigned long)(*c - '0');
            if (v > 65535)
                return sk_err_set(err, SK_EUSAGE, "port %.*s is out of range (1-65535)",
                                  (int)(ae - portp > 20 ? 20 : ae - portp), portp);
        }
        if (v == 0)
            return sk_err_set(err, SK_EUSAGE, "port 0 cannot be connected to");
        port = v;
        u->default_port = port == (u->https ? 443UL : 80UL);
    }
    u->port = (uint16_t)port;

    size_t bad = check_target(p, (size_t)(end - p));
    if (bad < (size_t)(end - p)) {
        if (p[bad] == '%')
            return sk_err_set(err, SK_EUSAGE,
                              "bad percent-encoding at position %zu of the URL (%% must be "
                              "followed by two hex digits)",
                              (size_t)(p - url) + bad + 1);
        return sk_err_set(err, SK_EUSAGE,
                          "invalid character '%c' at position %zu of the URL (percent-encode "
                          "it as %%%02X)",
                          p[bad], (size_t)(p - url) + bad + 1, (unsigned char)p[bad]);
    }

    /* One block: host \0 target \0 authority \0 origin \0. */
    size_t hl = (size_t)(he - h), tl = (size_t)(end - p);
    size_t cap = hl + 1 + tl + 2 + (hl + 2 + 6) + 1 + 8 + (hl + 2 + 6) + 1;
    char *m = sk_malloc(cap);
    if (m == NULL)
        return -ENOMEM;
    char *o = m;
    memcpy(o, h, hl);
    o[hl] = '\0';
    u->host = o;
    o += hl + 1;
    u->target = o;
    /* RFC 9110 §4.2.3: an empty path is sent as "/". */
    if (tl == 0 || *p == '?')
        *o++ = '/';
    memcpy(o, p, tl);
    o += tl;
    *o++ = '\0';
    u->authority = o;
    int w;
    if (u->default_port)
        w = snprintf(o, cap - (size_t)(o - m), u->ipv6 ? "[%s]" : "%s", u->host);
    else
        w = snprintf(o, cap - (size_t)(o - m), u->ipv6 ? "[%s]:%u" : "%s:%u", u->host,
                     (unsigned)u->port);
    o += w + 1;
    u->origin = o;
    snprintf(o, cap - (size_t)(o - m), "%s://%s", u->https ? "https" : "http", u->authority);
    u->mem = m;
    return 0;
}

void sk_url_fini(sk_url_t *u)
{
    sk_free(u->mem);
    memset(u, 0, sizeof(*u));
}

/* The five components of a URI reference (RFC 3986 §3, Appendix B); an
 * undefined component has ptr NULL, an empty one len 0. */
struct ref {
    sk_str_t scheme, authority, path, query, fragment;
};

static void split(const char *s, struct ref *r)
{
    size_t n = strlen(s);
    memset(r, 0, sizeof(*r));
    const char *p = s, *end = s + n;
    size_t sl = scheme_len(s, n);
    if (sl > 0) {
        r->scheme = (sk_str_t){s, sl};
        p += sl + 1;
    }
    if (end - p >= 2 && p[0] == '/' && p[1] == '/') {
        const char *a = p + 2;
        p = a;
        while (p < end && *p != '/' && *p != '?' && *p != '#')
            p++;
        r->authority = (sk_str_t){a, (size_t)(p - a)};
    }
    const char *ps = p;
    while (p < end && *p != '?' && *p != '#')
        p++;
    r->path = (sk_str_t){ps, (size_t)(p - ps)};
    if (p < end && *p == '?') {
        const char *q = ++p;
        while (p < end && *p != '#')
            p++;
        r->query = (sk_str_t){q, (size_t)(p - q)};
    }
    if (p < end && *p == '#')
        r->fragment = (sk_str_t){p + 1, (size_t)(end - p - 1)};
}

/* remove_dot_segments (RFC 3986 §5.2.4) of in[0, n), appended to out at
 * *o. The input buffer is consumed left to right and the output only ever
 * loses its last segment, so one pass over a copy suffices. */
static void remove_dots(const char *in, size_t n, char *out, size_t *o)
{
    size_t start = *o;
    const char *p = in, *end = in + n;
    while (p < end) {
        size_t left = (size_t)(end - p);
        /* A: "../" or "./" prefixes are dropped. */
        if (left >= 3 && memcmp(p, "../", 3) == 0) {
            p += 3;
        } else if (left >= 2 && memcmp(p, "./", 2) == 0) {
            p += 2;
            /* B: "/./" becomes "/", a final "/." becomes "/". */
        } else if (left >= 3 && memcmp(p, "/./", 3) == 0) {
            p += 2;
        } else if (left == 2 && memcmp(p, "/.", 2) == 0) {
            out[(*o)++] = '/';
            p += 2;
            /* C: "/../" and a final "/.." pop the last output segment. */
        } else if ((left >= 4 && memcmp(p, "/../", 4) == 0) ||
                   (left == 3 && memcmp(p, "/..", 3) == 0)) {
            while (*o > start && out[*o - 1] != '/')
                (*o)--;
            if (*o > start)
                (*o)--;
            if (left == 3)
                out[(*o)++] = '/';
            p += 3;
            /* D: a lone "." or "..". */
        } else if ((left == 1 && *p == '.') || (left == 2 && memcmp(p, "..", 2) == 0)) {
            p = end;
        } else {
            /* E: move the first segment (with its leading '/') to out. */
            const char *s = p;
            if (*p == '/')
                p++;
            while (p < end && *p != '/')
                p++;
            memcpy(out + *o, s, (size_t)(p - s));
            *o += (size_t)(p - s);
        }
    }
}

static void put(char *out, size_t *o, const char *s, size_t n)
{
    memcpy(out + *o, s, n);
    *o += n;
}

int sk_url_resolve(const char *base, const char *ref, char **out)
{
    struct ref b, r;
    split(base, &b);
    split(ref, &r);
    if (b.scheme.ptr == NULL)
        return SK_EPARSE;
    /* Every output component comes from base or ref, plus separators. */
    size_t cap = strlen(base) + strlen(ref) + 16;
    char *t = sk_malloc(cap);
    if (t == NULL)
        return -ENOMEM;
    char *merged = sk_malloc(cap);
    if (merged == NULL) {
        sk_free(t);
        return -ENOMEM;
    }
    size_t o = 0;
    const struct ref *auth_from, *query_from;
    sk_str_t path = r.path;
    bool dots = true;

    if (r.scheme.ptr != NULL) {
        put(t, &o, r.scheme.ptr, r.scheme.len);
        auth_from = &r;
        query_from = &r;
    } else {
        put(t, &o, b.scheme.ptr, b.scheme.len);
        query_from = &r;
        if (r.authority.ptr != NULL) {
            auth_from = &r;
        } else {
            auth_from = &b;
            if (r.path.len == 0) {
                path = b.path;
                dots = false;
                if (r.query.ptr == NULL)
                    query_from = &b;
            } else if (r.path.ptr[0] != '/') {
                /* §5.2.3 merge: base path up to its last '/', or "/"
                 * when base has an authority and an empty path. */
                size_t m = 0;
                if (b.authority.ptr != NULL && b.path.len == 0) {
                    merged[m++] = '/';
                } else {
                    const char *slash = NULL;
                    for (size_t i = 0; i < b.path.len; i++)
                        if (b.path.ptr[i] == '/')
                            slash = b.path.ptr + i;
                    if (slash != NULL)
                        put(merged, &m, b.path.ptr, (size_t)(slash - b.path.ptr) + 1);
                }
                put(merged, &m, r.path.ptr, r.path.len);
                path = (sk_str_t){merged, m};
            }
        }
    }
    t[o++] = ':';
    if (auth_from->authority.ptr != NULL) {
        put(t, &o, "//", 2);
        put(t, &o, auth_from->authority.ptr, auth_from->authority.len);
    }
    if (dots)
        remove_dots(path.ptr, path.len, t, &o);
    else
        put(t, &o, path.ptr, path.len);
    if (query_from->query.ptr != NULL) {
        t[o++] = '?';
        put(t, &o, query_from->query.ptr, query_from->query.len);
    }
    if (r.fragment.ptr != NULL) {
        t[o++] = '#';
        put(t, &o, r.fragment.ptr, r.fragment.len);
    }
    t[o] = '\0';
    sk_free(merged);
    *out = t;
    return 0;
}

int sk_url_escape_ref(const char *ref, char **out)
{
    struct ref r;
    split(ref, &r);
    size_t n = strlen(ref);
    size_t from = (size_t)(r.path.ptr - ref);
    size_t to = r.fragment.ptr != NULL ? (size_t)(r.fragment.ptr - 1 - ref) : n;
    char *t = sk_malloc(n + 2 * (to - from) + 1);
    if (t == NULL)
        return -ENOMEM;
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)ref[i];
        bool bad = c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}", c) != NULL ||
                   (c == '%' && (i + 2 >= n || sk_tok_hexval((unsigned char)ref[i + 1]) < 0 ||
                                 sk_tok_hexval((unsigned char)ref[i + 2]) < 0));
        if (i >= from && i < to && bad) {
            t[o++] = '%';
            t[o++] = hex[c >> 4];
            t[o++] = hex[c & 15];
        } else {
            t[o++] = (char)c;
        }
    }
    t[o] = '\0';
    *out = t;
    return 0;
}

int sk_url_filename(const sk_url_t *u, char *out, size_t cap)
{
    const char *t = u->target;
    size_t n = strcspn(t, "?");
    const char *s = t + n;
    while (s > t && s[-1] != '/')
        s--;
    size_t len = (size_t)(t + n - s);
    if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return SK_EUSAGE;
    if (len + 1 > cap)
        return -ENAMETOOLONG;
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}
