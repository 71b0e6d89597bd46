/* cond.c -- ETags and conditional request evaluation (see cond.h).
 *
 * The ETag is built from stat() data only, so it costs no file read, and
 * is strong: the server sends the bytes of the file as they are, so two
 * responses with the same tag are byte-identical (RFC 9110 §8.8.3). */
#include "proto/cond.h"
#include "proto/date.h"
#include "proto/token.h"

#include <errno.h>
#include <string.h>

static size_t put_hex(char *p, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    size_t n = 0;
    do {
        tmp[n++] = hex[v & 15];
        v >>= 4;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

int sk_cond_etag_make(char *buf, size_t cap, uint64_t size, uint64_t mtime_ns, uint64_t inode)
{
    /* The inode is included so that replacing a file by another of equal
     * size and mtime (cp -p, rsync -t, a tar extract) still changes the
     * tag. Nanoseconds catch two writes within one second, which
     * Last-Modified cannot. Pre-1970 and post-2262 times arrive as their
     * modulo 2^64 bits; only equality matters. */
    char tmp[SK_COND_ETAG_MAX];
    size_t n = 0;
    tmp[n++] = '"';
    n += put_hex(tmp + n, inode);
    tmp[n++] = '-';
    n += put_hex(tmp + n, size);
    tmp[n++] = '-';
    n += put_hex(tmp + n, mtime_ns);
    tmp[n++] = '"';
    if (n + 1 > cap)
        return -ENOSPC;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return (int)n;
}

/* RFC 9110 §8.8.3: etagc = %x21 / %x23-7E / obs-text. */
static bool is_etagc(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

static bool list_matches(sk_str_t list, sk_str_t etag, bool strong)
{
    if (list.ptr == NULL || etag.len == 0)
        return false;
    const char *p = list.ptr, *end = list.ptr + list.len;
    sk_tok_trim(&p, &end);
    /* "*" matches whenever a current representation exists, which is
     * always the case here: the caller only asks for existing files. */
    if (end - p == 1 && *p == '*')
        return true;

    /* The opaque-tag (quotes included) of our own ETag, and whether it is
     * weak: the weak comparison ignores W/, the strong one rejects it. */
    sk_str_t ours = etag;
    bool ours_weak = etag.len >= 2 && etag.ptr[0] == 'W' && etag.ptr[1] == '/';
    if (ours_weak) {
        ours.ptr += 2;
        ours.len -= 2;
    }
    bool matched = false;
    unsigned members = 0;
    sk_tok_list_t it;
    sk_str_t el;
    sk_tok_list_init(&it, p, (size_t)(end - p));
    while (sk_tok_list_next(&it, &el)) {
        /* entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE */
        const char *tag = el.ptr, *tend = el.ptr + el.len;
        bool weak = false;
        if (tend - tag >= 2 && tag[0] == 'W' && tag[1] == '/') {
            weak = true;
            tag += 2;
        }
        if (tend - tag < 2 || tag[0] != '"' || tend[-1] != '"')
            return false;
        for (const char *c = tag + 1; c < tend - 1; c++)
            if (!is_etagc((unsigned char)*c))
                return false;
        size_t tlen = (size_t)(tend - tag);
        if (!(strong && (weak || ours_weak)) && tlen == ours.len &&
            memcmp(tag, ours.ptr, tlen) == 0)
            matched = true;
        members++;
    }
    /* The whole list is checked before answering so that a malformed
     * field is ignored as a whole rather than half-honoured. */
    return members > 0 && matched;
}

bool sk_cond_etag_list_matches(sk_str_t list, sk_str_t etag)
{
    return list_matches(list, etag, false);
}

bool sk_cond_etag_list_matches_strong(sk_str_t list, sk_str_t etag)
{
    return list_matches(list, etag, true);
}

enum sk_cond_result sk_cond_evaluate(const sk_cond_req_t *req, sk_str_t etag, time_t mtime)
{
    time_t t;
    /* RFC 9110 §13.2.2 step 1: If-Match (strong comparison, §13.1.1). */
    if (req->if_match.ptr != NULL) {
        if (!sk_cond_etag_list_matches_strong(req->if_match, etag))
            return SK_COND_PRECONDITION_FAILED;
    } else if (req->if_unmodified_since.ptr != NULL) {
        /* Step 2, only without If-Match; §13.1.4: an invalid date is
         * ignored. */
        if (sk_date_parse(req->if_unmodified_since, &t) == 0 && mtime > t)
            return SK_COND_PRECONDITION_FAILED;
    }
    /* Step 3: If-None-Match uses the weak comparison (§13.1.2); a match on
     * GET/HEAD is 304. When it is present, If-Modified-Since is not even
     * looked at (§13.1.3), because the tag is the more precise
     * validator. */
    if (req->if_none_match.ptr != NULL) {
        if (sk_cond_etag_list_matches(req->if_none_match, etag))
            return SK_COND_NOT_MODIFIED;
    } else if (req->if_modified_since.ptr != NULL) {
        /* Step 4: §13.1.3: an invalid date (which includes a list of
         * dates) is ignored; "not modified" means modified at or before
         * the given time, at Last-Modified's one-second resolution. */
        if (sk_date_parse(req->if_modified_since, &t) == 0 && mtime <= t)
            return SK_COND_NOT_MODIFIED;
    }
    return SK_COND_PROCEED;
}
