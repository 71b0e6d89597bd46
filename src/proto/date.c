/* date.c -- HTTP-date formatting and parsing (see date.h).
 *
 * Pure integer calendar arithmetic (Howard Hinnant's days_from_civil and
 * civil_from_days) instead of gmtime/strftime/timegm: no locale, no TZ
 * environment lookups, no global state, and valid for any proleptic
 * Gregorian date in the four-digit year range. */
#include "proto/date.h"
#include "core/error.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static const char wday_short[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const wday_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};
static const char month_short[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* The representable range of an IMF-fixdate: 0000-01-01 .. 9999-12-31. */
#define DATE_MIN_T (-62167219200LL)
#define DATE_MAX_T (253402300799LL)

static void put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

void sk_date_format(time_t t, char out[SK_DATE_LEN + 1])
{
    int64_t v = (int64_t)t;
    if (v < DATE_MIN_T)
        v = DATE_MIN_T;
    if (v > DATE_MAX_T)
        v = DATE_MAX_T;
    /* Floor division so that times before 1970 land on the right day. */
    int64_t days = v / 86400, secs = v % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    /* 1970-01-01 was a Thursday (index 4). */
    unsigned wd = (unsigned)(((days % 7) + 7 + 4) % 7);

    /* "Sun, 06 Nov 1994 08:49:37 GMT" -- RFC 9110 §5.6.7 IMF-fixdate. */
    memcpy(out, wday_short[wd], 3);
    memcpy(out + 3, ", ", 2);
    put2(out + 5, d);
    out[7] = ' ';
    memcpy(out + 8, month_short[m - 1], 3);
    out[11] = ' ';
    put2(out + 12, (unsigned)(y / 100));
    put2(out + 14, (unsigned)(y % 100));
    out[16] = ' ';
    put2(out + 17, (unsigned)(secs / 3600));
    out[19] = ':';
    put2(out + 20, (unsigned)(secs / 60 % 60));
    out[22] = ':';
    put2(out + 23, (unsigned)(secs % 60));
    memcpy(out + 25, " GMT", 4);
    out[SK_DATE_LEN] = '\0';
}

/* --- parsing -------------------------------------------------------------- */

/* Reads n ASCII digits; false if any byte is not a digit. */
static bool digits(const char *p, size_t n, unsigned *v)
{
    unsigned r = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        r = r * 10 + (unsigned)(p[i] - '0');
    }
    *v = r;
    return true;
}

/* Month names are case-sensitive (RFC 9110 §5.6.7: "HTTP-date is
 * case sensitive"). Returns 1..12 or 0. */
static unsigned month_of(const char *p)
{
    for (unsigned i = 0; i < 12; i++)
        if (memcmp(p, month_short[i], 3) == 0)
            return i + 1;
    return 0;
}

static bool is_wday_short(const char *p)
{
    for (unsigned i = 0; i < 7; i++)
        if (memcmp(p, wday_short[i], 3) == 0)
            return true;
    return false;
}

/* "HH:MM:SS" at p. A second of 60 is accepted for a leap second and, as
 * timegm does, rolls into the next minute. */
static bool time_of_day(const char *p, unsigned *secs)
{
    unsigned h, m, s;
    if (!digits(p, 2, &h) || p[2] != ':' || !digits(p + 3, 2, &m) || p[5] != ':' ||
        !digits(p + 6, 2, &s))
        return false;
    if (h > 23 || m > 59 || s > 60)
        return false;
    *secs = h * 3600 + m * 60 + s;
    return true;
}

static bool make_time(int64_t y, unsigned mon, unsigned day, unsigned secs, time_t *out)
{
    if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(y, mon))
        return false;
    *out = (time_t)(days_from_civil(y, mon, day) * 86400 + secs);
    return true;
}

/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (exactly 29 bytes). */
static bool parse_imf(const char *p, size_t n, time_t *out)
{
    unsigned d, y, secs, mon;
    if (n != SK_DATE_LEN || !is_wday_short(p) || memcmp(p + 3, ", ", 2) != 0 ||
        !digits(p + 5, 2, &d) || p[7] != ' ' || (mon = month_of(p + 8)) == 0 || p[11] != ' ' ||
        !digits(p + 12, 4, &y) || p[16] != ' ' || !time_of_day(p + 17, &secs) ||
        memcmp(p + 25, " GMT", 4) != 0)
        return false;
    return make_time(y, mon, d, secs, out);
}

/* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" (full day name). */
static bool parse_rfc850(const char *p, size_t n, time_t now, time_t *out)
{
    const char *comma = memchr(p, ',', n < 10 ? n : 10);
    if (comma == NULL)
        return false;
    size_t wl = (size_t)(comma - p);
    bool named = false;
    for (unsigned i = 0; i < 7; i++)
        if (strlen(wday_long[i]) == wl && memcmp(p, wday_long[i], wl) == 0)
            named = true;
    if (!named || n - wl != 24)
        return false;
    const char *q = comma + 1;
    unsigned d, yy, secs, mon;
    if (q[0] != ' ' || !digits(q + 1, 2, &d) || q[3] != '-' || (mon = month_of(q + 4)) == 0 ||
        q[7] != '-' || !digits(q + 8, 2, &yy) || q[10] != ' ' || !time_of_day(q + 11, &secs) ||
        memcmp(q + 19, " GMT", 4) != 0)
        return false;
    /* RFC 9110 §5.6.7: a two-digit year that appears to be more than 50
     * years in the future means the most recent past year with those
     * digits; so pick the century placing it at most 50 years ahead. */
    int64_t ny;
    unsigned nm, nd;
    int64_t nowd = (int64_t)now / 86400 - ((int64_t)now % 86400 < 0);
    civil_from_days(nowd, &ny, &nm, &nd);
    int64_t y = ny - ((ny % 100) + 100) % 100 + yy;
    if (y > ny + 50)
        y -= 100;
    else if (y + 100 <= ny + 50)
        y += 100;
    return make_time(y, mon, d, secs, out);
}

/* asctime(): "Sun Nov  6 08:49:37 1994" (day padded with a space). */
static bool parse_asctime(const char *p, size_t n, time_t *out)
{
    unsigned d, y, secs, mon;
    if (n != 24 || !is_wday_short(p) || p[3] != ' ' || (mon = month_of(p + 4)) == 0 ||
        p[7] != ' ' || p[10] != ' ' || !time_of_day(p + 11, &secs) || p[19] != ' ' ||
        !digits(p + 20, 4, &y))
        return false;
    if (p[8] == ' ') {
        if (!digits(p + 9, 1, &d))
            return false;
    } else if (!digits(p + 8, 2, &d)) {
        return false;
    }
    return make_time(y, mon, d, secs, out);
}

int sk_date_parse_at(sk_str_t s, time_t now, time_t *out)
{
    const char *p = s.ptr;
    size_t n = s.len;
    time_t t;
    /* The shortest format (asctime) is 24 bytes and the longest
     * ("Wednesday, ..." RFC 850) is 33; this also guards every fixed
     * offset read below. */
    if (p == NULL || n < 24 || n > 33)
        return SK_EPARSE;
    bool ok;
    if (p[3] == ',')
        ok = parse_imf(p, n, &t);
    else if (p[3] == ' ')
        ok = parse_asctime(p, n, &t);
    else
        ok = parse_rfc850(p, n, now, &t);
    if (!ok)
        return SK_EPARSE;
    *out = t;
    return 0;
}

int sk_date_parse(sk_str_t s, time_t *out)
{
    return sk_date_parse_at(s, time(NULL), out);
}
