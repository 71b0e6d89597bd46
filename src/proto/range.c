/* range.c -- Range / If-Range evaluation (see range.h).
 *
 * Ranges are merged as they are parsed into a small sorted working set, so
 * a header of thousands of overlapping specs costs linear time and no
 * allocation, and the answer never depends on the order the client chose. */
#include "proto/range.h"
#include "proto/date.h"
#include "proto/token.h"

#include <string.h>

/* Working-set size while parsing. Merging happens on every insert, so this
 * only overflows if the client keeps more than WORK_MAX disjoint ranges
 * alive at once; the final limit is SK_RANGE_MAX. */
#define WORK_MAX 64

/* 1*DIGIT, saturating at UINT64_MAX: an absurdly large position is still
 * syntactically valid (RFC 9110 §14.1.1) and simply lies past the end. */
static bool number(const char **pp, const char *end, uint64_t *v)
{
    const char *p = *pp;
    uint64_t r = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        r = r > (UINT64_MAX - d) / 10 ? UINT64_MAX : r * 10 + d;
        p++;
    }
    if (p == *pp)
        return false;
    *pp = p;
    *v = r;
    return true;
}

/* Adds [s, e] to the sorted set w[0, *n) of disjoint, non-adjacent ranges,
 * merging every range it overlaps or touches. False if the set is full. */
static bool insert(sk_range_t *w, unsigned *n, uint64_t s, uint64_t e)
{
    /* e < size <= UINT64_MAX, so end + 1 below cannot overflow. */
    unsigned i = 0;
    while (i < *n && w[i].end + 1 < s)
        i++;
    unsigned j = i;
    while (j < *n && w[j].start <= e + 1)
        j++;
    if (i == j) {
        if (*n == WORK_MAX)
            return false;
        memmove(&w[i + 1], &w[i], (*n - i) * sizeof(*w));
        (*n)++;
    } else {
        if (w[i].start < s)
            s = w[i].start;
        if (w[j - 1].end > e)
            e = w[j - 1].end;
        memmove(&w[i + 1], &w[j], (*n - j) * sizeof(*w));
        *n -= j - i - 1;
    }
    w[i].start = s;
    w[i].end = e;
    return true;
}

static enum sk_range_kind done(sk_range_set_t *out, enum sk_range_kind kind)
{
    out->kind = kind;
    if (kind != SK_RANGE_SATISFIABLE)
        out->n = 0;
    return kind;
}

enum sk_range_kind sk_range_parse(sk_str_t str, uint64_t size, sk_range_set_t *out)
{
    out->n = 0;
    if (str.ptr == NULL)
        return done(out, SK_RANGE_NONE);
    const char *p = str.ptr, *end = str.ptr + str.len;
    sk_tok_trim(&p, &end);
    /* RFC 9110 §14.1: ranges-specifier = range-unit "=" range-set; range
     * units are case-insensitive. Other units are ignored (§14.2), as is
     * everything below that fails to parse. */
    const char *unit = p;
    p = sk_tok_skip(p, end, SK_TOK_TCHAR);
    if (!SK_TOK_EQ(unit, (size_t)(p - unit), "bytes") || p == end || *p != '=')
        return done(out, SK_RANGE_NONE);
    p++;

    sk_range_t w[WORK_MAX];
    unsigned n = 0, specs = 0;
    /* RFC 9110 §5.6.1: a list may contain empty elements, which a
     * recipient must accept and ignore ("bytes=0-1, ,5-6"). */
    sk_tok_list_t it;
    sk_str_t el;
    sk_tok_list_init(&it, p, (size_t)(end - p));
    while (sk_tok_list_next(&it, &el)) {
        const char *q = el.ptr, *e = el.ptr + el.len;
        uint64_t first = 0, last = 0;
        bool have = false; /* the spec is satisfiable: [first, last] */
        if (*q == '-') {
            /* suffix-range: the final N bytes; N == 0 is unsatisfiable. */
            q++;
            if (!number(&q, e, &last))
                return done(out, SK_RANGE_NONE);
            if (last > 0 && size > 0) {
                first = last >= size ? 0 : size - last;
                last = size - 1;
                have = true;
            }
        } else {
            /* int-range: first-pos "-" [ last-pos ], last-pos < first-pos
             * makes the whole field invalid (§14.1.1). */
            if (!number(&q, e, &first) || q == e || *q++ != '-')
                return done(out, SK_RANGE_NONE);
            bool open = true;
            if (q < e) {
                if (!number(&q, e, &last) || last < first)
                    return done(out, SK_RANGE_NONE);
                open = false;
            }
            if (first < size) {
                if (open || last >= size)
                    last = size - 1;
                have = true;
            }
        }
        if (q != e)
            return done(out, SK_RANGE_NONE);
        specs++;
        /* Too many disjoint ranges: a client probing for an amplification
         * (CVE-2011-3192 style) gets the plain file, which costs us no
         * more than a normal request. */
        if (have && !insert(w, &n, first, last))
            return done(out, SK_RANGE_NONE);
    }
    if (specs == 0)
        return done(out, SK_RANGE_NONE); /* "bytes=" with an empty set */
    if (n == 0)
        return done(out, SK_RANGE_UNSATISFIABLE);
    /* More ranges than a multipart answer may carry: RFC 9110 §14.2 lets
     * the server ignore Range entirely, and 200 is the only answer that
     * is correct for every client (416 would tell it the file is short). */
    if (n > SK_RANGE_MAX)
        return done(out, SK_RANGE_NONE);
    memcpy(out->r, w, n * sizeof(*w));
    out->n = n;
    return done(out, SK_RANGE_SATISFIABLE);
}

bool sk_range_if_range_matches(sk_str_t s, sk_str_t etag, time_t last_modified)
{
    if (s.ptr == NULL)
        return true;
    const char *p = s.ptr, *end = s.ptr + s.len;
    sk_tok_trim(&p, &end);
    size_t n = (size_t)(end - p);
    if (n == 0)
        return false;
    if (*p == '"' || (n >= 2 && p[0] == 'W' && p[1] == '/')) {
        /* RFC 9110 §13.1.5: If-Range needs the strong comparison
         * (§8.8.3.2): both tags strong and byte-for-byte equal. Our own
         * tags are well-formed, so equality also validates the input. */
        if (*p != '"' || etag.len < 2 || etag.ptr[0] != '"')
            return false;
        return n == etag.len && memcmp(p, etag.ptr, n) == 0;
    }
    /* An HTTP-date must equal Last-Modified exactly; an earlier or later
     * one both mean the client's copy is a different version. */
    time_t t;
    if (sk_date_parse((sk_str_t){p, n}, &t) != 0)
        return false;
    return t == last_modified;
}
