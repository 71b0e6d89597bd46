/* test_accept_encoding.c -- unit tests for src/proto/accept_encoding.c:
 * q-value ordering, ties, "*", identity rules, x-gzip, malformed members,
 * qvalue syntax, and choosing among available precompressed files.
 * Inputs sit against a PROT_NONE page so any over-read crashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "proto/accept_encoding.h"

#include "../guard.h"

/* "br,gzip,identity" style rendering of a preference list. */
static void render(unsigned prefs, char *out, size_t cap)
{
    static const char *const names[] = {"", "identity", "gzip", "br"};
    out[0] = '\0';
    for (unsigned i = 0; i < 3; i++) {
        enum sk_coding c = sk_accept_encoding_nth(prefs, i);
        if (c == SK_CODING_END)
            break;
        if (i > 0)
            strncat(out, ",", cap - strlen(out) - 1);
        strncat(out, c <= SK_CODING_BR ? names[c] : "?", cap - strlen(out) - 1);
    }
}

struct ae_case {
    const char *in; /* NULL: header absent */
    const char *want;
    const char *why;
};

static const struct ae_case ae_cases[] = {
    {NULL, "identity", "absent header: clients that did not ask get identity"},
    {"", "identity", "empty field: no coding wanted (RFC 9110 §12.5.3)"},
    {"gzip", "gzip,identity", "gzip only"},
    {"gzip, deflate, br", "br,gzip,identity", "browser default: tie goes to br"},
    {"gzip, deflate, br, zstd", "br,gzip,identity", "unknown codings ignored"},
    {"br;q=0.5, gzip", "gzip,br,identity", "q orders"},
    {"gzip;q=0", "identity", "q=0 is not acceptable"},
    {"identity;q=0", "", "identity excluded, nothing else"},
    {"*", "br,gzip,identity", "star accepts all"},
    {"*;q=0", "", "star excludes identity too"},
    {"*;q=0, gzip", "gzip", "star excludes all but gzip"},
    {"*;q=0, identity", "identity", "named identity beats the star"},
    {"gzip;q=0.5", "gzip,identity", "unlisted identity ranks last"},
    {"identity, gzip;q=0.5", "identity,gzip", "identity preferred explicitly"},
    {"identity;q=0.9, br;q=0.8", "identity,br", "explicit identity weight"},
    {"*;q=0.3, br", "br,gzip,identity", "star weight for unlisted codings, tie order"},
    {"GZIP", "gzip,identity", "coding names are case-insensitive"},
    {"x-gzip", "gzip,identity", "x-gzip is gzip (RFC 9110 §8.4.1.3)"},
    {"gzip;Q=0.5, br;q=0.6", "br,gzip,identity", "parameter name case-insensitive"},
    {"br;q=1.0", "br,identity", "q=1.0"},
    {"br;q=1.000", "br,identity", "q=1.000"},
    {"br;q=0.001", "br,identity", "smallest weight ties with unlisted identity"},
    {"br;q=0.", "identity", "q=0. is zero"},
    {"br;q=1.001", "identity", "q above 1 is invalid: member skipped"},
    {"br;q=2", "identity", "q=2 invalid"},
    {"br;q=0.1234", "identity", "four decimals invalid"},
    {"br;q=.5", "identity", "missing leading digit"},
    {"br;q=", "identity", "empty q"},
    {"br;q=\"0.5\"", "identity", "quoted q invalid"},
    {"br ; q=0.5 , gzip;q=0.4", "br,gzip,identity", "OWS around ;"},
    {"br;level=5", "br,identity", "other parameters ignored"},
    {"br;foo=\"a,b\", gzip", "br,gzip,identity", "quoted parameter with a comma"},
    {"gzip;q=0, gzip", "identity", "first mention wins"},
    {"compress, deflate", "identity", "nothing we have"},
    {",,gzip,,", "gzip,identity", "empty list elements"},
    {"gzip;;q=1, br", "br,identity", "malformed member skipped, the rest kept"},
    {"g@zip, br", "br,identity", "bad token skipped"},
    {"br;foo=\"unterminated, gzip", "gzip,identity", "unterminated quote: skip to the next comma"},
    {";q=1, gzip", "gzip,identity", "member without a name"},
};

static void test_parse_table(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(ae_cases) / sizeof(ae_cases[0]); i++) {
        const struct ae_case *c = &ae_cases[i];
        sk_str_t in = c->in ? guarded_str(c->in, strlen(c->in)) : (sk_str_t){NULL, 0};
        char got[64];
        render(sk_accept_encoding_parse(in), got, sizeof(got));
        if (strcmp(got, c->want) != 0) {
            print_error("case %zu (%s): \"%s\" -> \"%s\", want \"%s\"\n", i, c->why,
                        c->in ? c->in : "(absent)", got, c->want);
            failed++;
        }
        if (c->in == NULL)
            continue;
        /* Prefixes never over-read and always give a well-formed list. */
        for (size_t n = 0; n < strlen(c->in); n++) {
            unsigned p = sk_accept_encoding_parse(guarded_str(c->in, n));
            assert_true(p >> 12 == 0);
            for (unsigned k = 0; k < 3; k++)
                assert_true(sk_accept_encoding_nth(p, k) <= SK_CODING_BR);
        }
    }
    assert_int_equal(failed, 0);
}

struct choose_case {
    const char *in;
    unsigned available;
    enum sk_coding want;
    const char *why;
};

#define BR SK_CODING_BIT(SK_CODING_BR)
#define GZ SK_CODING_BIT(SK_CODING_GZIP)
#define ID SK_CODING_BIT(SK_CODING_IDENTITY)

static const struct choose_case choose_cases[] = {
    {"gzip, deflate, br", BR | GZ | ID, SK_CODING_BR, "both siblings: br"},
    {"gzip, deflate, br", GZ | ID, SK_CODING_GZIP, "only .gz exists"},
    {"gzip, deflate, br", ID, SK_CODING_IDENTITY, "no siblings"},
    {"br;q=0.5, gzip", BR | GZ | ID, SK_CODING_GZIP, "client prefers gzip"},
    {"br;q=0.5, gzip", BR | ID, SK_CODING_BR, "br still acceptable"},
    {"identity;q=0", ID, SK_CODING_IDENTITY, "nothing acceptable: identity anyway"},
    {"identity, br;q=0.5", BR | ID, SK_CODING_IDENTITY, "identity preferred"},
    {"", BR | GZ | ID, SK_CODING_IDENTITY, "empty field"},
    {"br", 0, SK_CODING_IDENTITY, "empty availability mask"},
};

static void test_choose(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(choose_cases) / sizeof(choose_cases[0]); i++) {
        const struct choose_case *c = &choose_cases[i];
        unsigned prefs = sk_accept_encoding_parse((sk_str_t){c->in, strlen(c->in)});
        enum sk_coding got = sk_accept_encoding_choose(prefs, c->available);
        if (got != c->want) {
            print_error("case %zu (%s): got %d want %d\n", i, c->why, got, c->want);
            failed++;
        }
    }
    assert_int_equal(sk_accept_encoding_nth(0x321, 3), SK_CODING_END);
    assert_int_equal(failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_choose),
    };
    return cmocka_run_group_tests(tests, setup_guard, teardown_guard);
}
