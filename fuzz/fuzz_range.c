/* fuzz_range.c -- libFuzzer target for the range and conditional header
 * parsers: Range against a file size, If-Range, entity-tag lists, the
 * §13.2.2 evaluation, HTTP dates and Accept-Encoding. The first byte picks
 * the file size (see sizes[]); the rest is the header value. Corpus:
 * fuzz/corpus/range/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "proto/accept_encoding.h"
#include "proto/cond.h"
#include "proto/date.h"
#include "proto/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* Indexed by the first byte modulo 10, so corpus files can start with a
 * readable digit. */
static const uint64_t sizes[10] = {
    0, 1, 2, 10, 100, 500, 10000, (uint64_t)1 << 32, UINT64_MAX - 1, UINT64_MAX,
};

static void check_ranges(sk_str_t v, uint64_t fsize)
{
    sk_range_set_t r;
    enum sk_range_kind k = sk_range_parse(v, fsize, &r);
    CHECK(k == r.kind);
    CHECK(k == SK_RANGE_NONE || k == SK_RANGE_SATISFIABLE || k == SK_RANGE_UNSATISFIABLE);
    if (k != SK_RANGE_SATISFIABLE) {
        CHECK(r.n == 0);
        return;
    }
    CHECK(fsize > 0);
    CHECK(r.n >= 1 && r.n <= SK_RANGE_MAX);
    for (unsigned i = 0; i < r.n; i++) {
        CHECK(r.r[i].start <= r.r[i].end);
        CHECK(r.r[i].end < fsize);
        /* Sorted, non-overlapping and not even adjacent (merged). */
        if (i > 0)
            CHECK(r.r[i - 1].end + 1 < r.r[i].start);
    }
}

static void check_dates(sk_str_t v)
{
    /* A fixed "now" keeps RFC 850 results reproducible. */
    const time_t now = 1735689600;
    time_t t;
    if (sk_date_parse_at(v, now, &t) != 0)
        return;
    /* Anything parsed lies in the four-digit year range (a leap second
     * may step one second past its end) and formats back to itself. */
    CHECK(t >= -62167219200LL && t <= 253402300800LL);
    if (t > 253402300799LL)
        return;
    char buf[SK_DATE_LEN + 1];
    sk_date_format(t, buf);
    CHECK(strlen(buf) == SK_DATE_LEN);
    time_t back;
    CHECK(sk_date_parse_at((sk_str_t){buf, SK_DATE_LEN}, now, &back) == 0 && back == t);
}

static void check_cond(sk_str_t v)
{
    char etag[SK_COND_ETAG_MAX];
    int n = sk_cond_etag_make(etag, sizeof(etag), 1234, 1700000000123456789ULL, 42);
    CHECK(n > 0);
    sk_str_t e = {etag, (size_t)n};
    bool weak = sk_cond_etag_list_matches(v, e);
    bool strong = sk_cond_etag_list_matches_strong(v, e);
    CHECK(!strong || weak); /* strong equality implies weak equality */
    sk_cond_req_t req = {v, v, v, v};
    enum sk_cond_result c = sk_cond_evaluate(&req, e, 1700000000);
    CHECK(c == SK_COND_PROCEED || c == SK_COND_NOT_MODIFIED || c == SK_COND_PRECONDITION_FAILED);
    /* Each header alone. */
    sk_cond_req_t one = {.if_none_match = v};
    CHECK((sk_cond_evaluate(&one, e, 1700000000) == SK_COND_NOT_MODIFIED) == weak);
    sk_range_if_range_matches(v, e, 1700000000);
}

static void check_accept_encoding(sk_str_t v)
{
    unsigned p = sk_accept_encoding_parse(v);
    CHECK(p >> 12 == 0);
    unsigned seen = 0;
    bool ended = false;
    for (unsigned i = 0; i < 3; i++) {
        enum sk_coding c = sk_accept_encoding_nth(p, i);
        CHECK(c <= SK_CODING_BR);
        if (c == SK_CODING_END) {
            ended = true;
            continue;
        }
        CHECK(!ended);                     /* no gaps */
        CHECK(!(seen & SK_CODING_BIT(c))); /* no duplicates */
        seen |= SK_CODING_BIT(c);
    }
    enum sk_coding ch = sk_accept_encoding_choose(p, seen | SK_CODING_BIT(SK_CODING_IDENTITY));
    CHECK(ch >= SK_CODING_IDENTITY && ch <= SK_CODING_BR);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        check_ranges((sk_str_t){NULL, 0}, 100);
        return 0;
    }
    uint64_t fsize = sizes[data[0] % 10];
    sk_str_t v = {(const char *)data + 1, size - 1};
    check_ranges(v, fsize);
    check_dates(v);
    check_cond(v);
    check_accept_encoding(v);
    return 0;
}
