/* token.c -- the shared byte-class table and list iterator (see token.h).
 *
 * The table is computed by the compiler from the grammar rules below, so
 * each class reads as its RFC definition instead of 256 magic numbers. */
#include "proto/token.h"

/* RFC 5234 core rules and RFC 9110 §5.6.2 tchar. */
#define ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define DIGIT(c) ((c) >= '0' && (c) <= '9')
#define HEXDIG(c) (DIGIT(c) || ((c) >= 'a' && (c) <= 'f') || ((c) >= 'A' && (c) <= 'F'))
#define VCHAR(c) ((c) >= 0x21 && (c) <= 0x7e)
#define OBS_TEXT(c) ((c) >= 0x80)
#define WS(c) ((c) == ' ' || (c) == '\t')
#define TCHAR(c)                                                                                   \
    (ALPHA(c) || DIGIT(c) || (c) == '!' || (c) == '#' || (c) == '$' || (c) == '%' || (c) == '&' || \
     (c) == '\'' || (c) == '*' || (c) == '+' || (c) == '-' || (c) == '.' || (c) == '^' ||          \
     (c) == '_' || (c) == '`' || (c) == '|' || (c) == '~')
/* qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text (§5.6.4). */
#define QDTEXT(c)                                                                                  \
    (WS(c) || (c) == 0x21 || ((c) >= 0x23 && (c) <= 0x5b) || ((c) >= 0x5d && (c) <= 0x7e) ||       \
     OBS_TEXT(c))
/* RFC 3986 §2.2-2.3. */
#define UNRESERVED(c) (ALPHA(c) || DIGIT(c) || (c) == '-' || (c) == '.' || (c) == '_' || (c) == '~')
#define SUB_DELIM(c)                                                                               \
    ((c) == '!' || (c) == '$' || (c) == '&' || (c) == '\'' || (c) == '(' || (c) == ')' ||          \
     (c) == '*' || (c) == '+' || (c) == ',' || (c) == ';' || (c) == '=')
/* authority without userinfo: reg-name / IPv4 / IP-literal, then ":" port. */
#define AUTHORITY(c)                                                                               \
    (UNRESERVED(c) || SUB_DELIM(c) || (c) == '%' || (c) == ':' || (c) == '[' || (c) == ']')

#define CLASS(c)                                                                                   \
    (uint16_t)((TCHAR(c) ? SK_TOK_TCHAR : 0) | (VCHAR(c) ? SK_TOK_VCHAR : 0) |                     \
               (OBS_TEXT(c) ? SK_TOK_OBS_TEXT : 0) | (WS(c) ? SK_TOK_WS : 0) |                     \
               (QDTEXT(c) ? SK_TOK_QDTEXT : 0) | (HEXDIG(c) ? SK_TOK_HEXDIG : 0) |                 \
               (DIGIT(c) ? SK_TOK_DIGIT : 0) | (ALPHA(c) ? SK_TOK_ALPHA : 0) |                     \
               (VCHAR(c) && (c) != '#' ? SK_TOK_TARGET : 0) |                                      \
               (AUTHORITY(c) ? SK_TOK_AUTHORITY : 0) | (UNRESERVED(c) ? SK_TOK_UNRESERVED : 0) |   \
               (SUB_DELIM(c) ? SK_TOK_SUB_DELIM : 0))

#define C4(b) CLASS(b), CLASS((b) + 1), CLASS((b) + 2), CLASS((b) + 3)
#define C16(b) C4(b), C4((b) + 4), C4((b) + 8), C4((b) + 12)
#define C64(b) C16(b), C16((b) + 16), C16((b) + 32), C16((b) + 48)

const uint16_t sk__tok_class[256] = {C64(0), C64(64), C64(128), C64(192)};

const char *sk__tok_list_quoted(const char *p, const char *end)
{
    const char *quoted_comma = NULL; /* the first comma inside quotes */
    bool quoted = false;
    for (; p < end; p++) {
        if (quoted) {
            if (*p == '\\' && p + 1 < end)
                p++;
            else if (*p == '"')
                quoted = false;
            else if (*p == ',' && quoted_comma == NULL)
                quoted_comma = p;
        } else if (*p == '"') {
            quoted = true;
        } else if (*p == ',') {
            break;
        }
    }
    /* An unterminated quoted-string does not swallow the rest of the
     * list: the malformed element ends at its first comma, so the members
     * after it still count. */
    if (quoted && quoted_comma != NULL)
        p = quoted_comma;
    return p;
}

enum sk_tok_cl sk_tok_content_length(const char *s, size_t n, bool *has, uint64_t *v)
{
    const char *p = s, *end = s + n;
    for (;;) {
        if (p == end || !SK_TOK_IS(*p, SK_TOK_DIGIT))
            return SK_TOK_CL_INVALID;
        uint64_t x = 0;
        do {
            unsigned d = (unsigned)(*p - '0');
            if (x > (UINT64_C(0x7fffffffffffffff) - d) / 10)
                return SK_TOK_CL_INVALID;
            x = x * 10 + d;
            p++;
        } while (p < end && SK_TOK_IS(*p, SK_TOK_DIGIT));
        if (*has && *v != x)
            return SK_TOK_CL_CONFLICT;
        *has = true;
        *v = x;
        p = sk_tok_skip_ows(p, end);
        if (p == end)
            return SK_TOK_CL_OK;
        if (*p != ',')
            return SK_TOK_CL_INVALID;
        p = sk_tok_skip_ows(p + 1, end);
    }
}
