/* accept_encoding.c -- Accept-Encoding q-value negotiation (see
 * accept_encoding.h). Only br, gzip and identity matter to the static
 * server, so the parser keeps one weight per coding and discards the rest
 * of the list as it goes. */
#include "proto/accept_encoding.h"

#include <stdbool.h>
#include <string.h>

#include "proto/token.h"

/* Weights are q * 1000 (RFC 9110 §12.4.2 allows three decimals). -1 means
 * "not mentioned". */
#define Q_UNSET (-1)

static const char *token(const char *p, const char *end)
{
    return sk_tok_skip(p, end, SK_TOK_TCHAR);
}

/* RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ).
 * Returns the weight in thousandths, or -1 if v[0, n) is not a qvalue. */
static int qvalue(const char *v, size_t n)
{
    if (n == 0 || (v[0] != '0' && v[0] != '1'))
        return -1;
    int q = (v[0] - '0') * 1000;
    if (n == 1)
        return q;
    if (v[1] != '.' || n > 5)
        return -1;
    int scale = 100;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        q += (v[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

/* Parses the parameters after a coding name; returns the end of the
 * member, or NULL if it is malformed. *q gets the weight (1000 default). */
static const char *params(const char *p, const char *end, int *q)
{
    *q = 1000;
    for (;;) {
        p = sk_tok_skip_ows(p, end);
        if (p == end || *p != ';')
            return p;
        p = sk_tok_skip_ows(p + 1, end);
        const char *name = p;
        p = token(p, end);
        if (p == name || p == end || *p != '=')
            return NULL;
        size_t nlen = (size_t)(p - name);
        const char *val = ++p;
        if (p < end && *p == '"') {
            /* A quoted-string parameter value; only "q" is meaningful and
             * it is never quoted, so just skip it honouring escapes. */
            for (p++; p < end && *p != '"'; p++)
                if (*p == '\\' && p + 1 < end)
                    p++;
            if (p == end)
                return NULL;
            p++;
            if (SK_TOK_EQ(name, nlen, "q"))
                return NULL;
            continue;
        }
        p = token(p, end);
        /* Parameter names are case-insensitive (RFC 9110 §5.6.6). */
        if (SK_TOK_EQ(name, nlen, "q") && (*q = qvalue(val, (size_t)(p - val))) < 0)
            return NULL;
    }
}

unsigned sk_accept_encoding_parse(sk_str_t s)
{
    /* RFC 9110 §12.5.3 says a request without the field accepts any
     * coding, but in practice such clients (scripts, curl without
     * --compressed) are the ones that cannot decode: send identity, as
     * nginx's gzip_static does. */
    if (s.ptr == NULL)
        return SK_CODING_IDENTITY;
    int qbr = Q_UNSET, qgz = Q_UNSET, qid = Q_UNSET, qstar = Q_UNSET;
    sk_tok_list_t it;
    sk_str_t el;
    sk_tok_list_init(&it, s.ptr, s.len);
    while (sk_tok_list_next(&it, &el)) {
        const char *end = el.ptr + el.len;
        const char *name = el.ptr;
        const char *p = token(name, end);
        size_t nlen = (size_t)(p - name);
        int q = 0;
        /* Skip a malformed member, not the whole field: the others still
         * say what the client can decode. */
        if (nlen == 0 || params(p, end, &q) != end)
            continue;
        /* Coding names are case-insensitive (§8.4.1); "x-gzip" is gzip
         * (§8.4.1.3). The first mention of a coding wins. */
        int *slot = NULL;
        if (SK_TOK_EQ(name, nlen, "br"))
            slot = &qbr;
        else if (SK_TOK_EQ(name, nlen, "gzip") || SK_TOK_EQ(name, nlen, "x-gzip"))
            slot = &qgz;
        else if (SK_TOK_EQ(name, nlen, "identity"))
            slot = &qid;
        else if (SK_TOK_EQ(name, nlen, "*"))
            slot = &qstar;
        if (slot != NULL && *slot == Q_UNSET)
            *slot = q;
    }
    /* "*" gives its weight to every coding not listed by name (§12.5.3).
     * Identity is acceptable unless excluded by "identity;q=0" or
     * "*;q=0"; left unmentioned it ranks last (weight 1), because a client
     * that lists "gzip;q=0.5" alone still wants gzip. An empty field
     * (§12.5.3: no coding wanted) leaves only identity. */
    if (qbr == Q_UNSET)
        qbr = qstar == Q_UNSET ? 0 : qstar;
    if (qgz == Q_UNSET)
        qgz = qstar == Q_UNSET ? 0 : qstar;
    if (qid == Q_UNSET)
        qid = qstar == Q_UNSET ? 1 : qstar;

    /* Order by weight; on ties the fixed order br, gzip, identity (the
     * smaller transfer) decides, which a stable insertion keeps. */
    struct {
        enum sk_coding c;
        int q;
    } v[3] = {{SK_CODING_BR, qbr}, {SK_CODING_GZIP, qgz}, {SK_CODING_IDENTITY, qid}};
    for (int i = 1; i < 3; i++)
        for (int j = i; j > 0 && v[j].q > v[j - 1].q; j--) {
            __typeof__(v[0]) t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    unsigned prefs = 0, k = 0;
    for (int i = 0; i < 3; i++)
        if (v[i].q > 0)
            prefs |= (unsigned)v[i].c << (4 * k++);
    return prefs;
}

enum sk_coding sk_accept_encoding_choose(unsigned prefs, unsigned available)
{
    for (unsigned i = 0; i < 3; i++) {
        enum sk_coding c = sk_accept_encoding_nth(prefs, i);
        if (c == SK_CODING_END)
            break;
        if (available & SK_CODING_BIT(c))
            return c;
    }
    /* RFC 9110 §12.5.3 (and httpwg/http-core#980): when nothing listed is
     * available, send the content without a coding rather than 406. */
    return SK_CODING_IDENTITY;
}
