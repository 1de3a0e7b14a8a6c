/* base/timefmt.c: durations and timestamps, in milliseconds.
 *
 * What. Kiln's clock unit is the millisecond in an int64, as in Prometheus.
 * Users write durations the Prometheus way (scrape_interval: 10s, rate over
 * [5m], retention 15d) and times as RFC 3339 or Unix seconds (the HTTP API's
 * start/end/time parameters); Kiln prints times as RFC 3339 UTC.
 *
 * Design. Hand-written parsers with no libc time functions: strptime and
 * timegm depend on locale and time zone settings and do not range-check the
 * way a server facing outside input must. Calendar arithmetic uses the
 * proleptic Gregorian days-from-civil conversion (era of 400 years =
 * 146097 days), done in int64 so that every int64 millisecond value formats.
 * Unix timestamps are parsed as decimal digits, not through strtod, so
 * "1700000000.123" is exactly 1700000000123 ms.
 *
 * Durations follow Prometheus' model.ParseDuration: units y w d h m s ms,
 * each at most once and in decreasing order; "0" alone is allowed. Unlike
 * Prometheus (which holds nanoseconds), the range is that of int64
 * milliseconds.
 *
 * Every parser takes (pointer, length), refuses inputs longer than
 * KB_TIME_INPUT_MAX, and quotes the input (as a safe excerpt) in errors.
 * Nothing here allocates.
 */
#include "base/timefmt.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/text.h"

#define MS_SEC INT64_C(1000)
#define MS_MIN (60 * MS_SEC)
#define MS_HOUR (60 * MS_MIN)
#define MS_DAY (24 * MS_HOUR)
#define MS_WEEK (7 * MS_DAY)
#define MS_YEAR (365 * MS_DAY)

/* ------------------------------------------------------------ durations */

static const struct {
    const char *name;
    int64_t mult;
} units[] = {
    {"y", MS_YEAR}, {"w", MS_WEEK}, {"d", MS_DAY}, {"h", MS_HOUR},
    {"m", MS_MIN},  {"s", MS_SEC},  {"ms", 1},
};
#define NUNITS (sizeof(units) / sizeof(units[0]))

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

enum kb_status kb_duration_parse(const char *s, size_t len, int64_t *ms,
                                 struct kb_err *err)
{
    char q[KB_EXCERPT_MAX];
    *ms = 0;
    if (len > KB_TIME_INPUT_MAX)
        return kb_errf(err, KB_ERR_LIMIT,
                       "duration \"%s\" longer than %d bytes",
                       kb_excerpt(q, sizeof(q), s, len), KB_TIME_INPUT_MAX);
    kb_excerpt(q, sizeof(q), s, len);
    if (len == 0)
        return kb_errf(err, KB_ERR_INVALID, "empty duration");
    if (len == 1 && s[0] == '0')
        return KB_OK;
    int64_t total = 0;
    size_t pos = 0;
    int last = -1; /* index in units[] of the previous unit */
    while (pos < len) {
        if (!is_digit(s[pos]))
            return kb_errf(err, KB_ERR_INVALID,
                           "invalid duration \"%s\": expected a number at "
                           "offset %zu",
                           q, pos);
        int64_t v = 0;
        while (pos < len && is_digit(s[pos])) {
            int d = s[pos++] - '0';
            if (v > (INT64_MAX - d) / 10)
                return kb_errf(err, KB_ERR_INVALID,
                               "invalid duration \"%s\": out of range", q);
            v = v * 10 + d;
        }
        size_t ustart = pos;
        while (pos < len && is_alpha(s[pos]))
            pos++;
        size_t ulen = pos - ustart;
        if (ulen == 0)
            return kb_errf(err, KB_ERR_INVALID,
                           "invalid duration \"%s\": missing unit at offset "
                           "%zu (want y, w, d, h, m, s or ms)",
                           q, ustart);
        int u = -1;
        for (size_t i = 0; i < NUNITS; i++)
            if (strlen(units[i].name) == ulen &&
                memcmp(units[i].name, s + ustart, ulen) == 0)
                u = (int)i;
        if (u < 0) {
            char ub[KB_EXCERPT_MAX];
            return kb_errf(err, KB_ERR_INVALID,
                           "invalid duration \"%s\": unknown unit \"%s\" "
                           "(want y, w, d, h, m, s or ms)",
                           q, kb_excerpt(ub, 16, s + ustart, ulen));
        }
        if (u <= last)
            return kb_errf(err, KB_ERR_INVALID,
                           "invalid duration \"%s\": unit \"%s\" after "
                           "\"%s\" (units go from largest to smallest, once "
                           "each)",
                           q, units[u].name, units[last].name);
        last = u;
        if (v > (INT64_MAX - total) / units[u].mult)
            return kb_errf(err, KB_ERR_INVALID,
                           "invalid duration \"%s\": out of range", q);
        total += v * units[u].mult;
    }
    *ms = total;
    return KB_OK;
}

char *kb_duration_format(int64_t ms, char out[KB_DURATION_STR_MAX])
{
    if (ms == 0) {
        strcpy(out, "0s");
        return out;
    }
    size_t o = 0;
    /* Work on the magnitude as uint64 so that INT64_MIN has one. */
    uint64_t r = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    if (ms < 0)
        out[o++] = '-';
    for (size_t i = 0; i < NUNITS; i++) {
        uint64_t m = (uint64_t)units[i].mult;
        if (i < 2 && r % m != 0) /* years and weeks only when exact */
            continue;
        uint64_t v = r / m;
        if (v == 0)
            continue;
        r -= v * m;
        o += (size_t)snprintf(out + o, KB_DURATION_STR_MAX - o, "%" PRIu64 "%s",
                              v, units[i].name);
    }
    return out;
}

/* ------------------------------------------------------------- calendar */

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                   /* 0..399 */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* 0..146096 */
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

char *kb_time_format(int64_t ms, char out[KB_TIME_STR_MAX])
{
    int64_t days = ms / MS_DAY, rem = ms % MS_DAY;
    if (rem < 0) {
        rem += MS_DAY;
        days--;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    int h = (int)(rem / MS_HOUR), mi = (int)(rem / MS_MIN % 60);
    int sec = (int)(rem / MS_SEC % 60), frac = (int)(rem % MS_SEC);
    snprintf(out, KB_TIME_STR_MAX,
             "%0*" PRId64 "-%02d-%02dT%02d:%02d:%02d.%03dZ", y < 0 ? 5 : 4, y,
             m, d, h, mi, sec, frac);
    return out;
}

int64_t kb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * MS_SEC + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------- RFC 3339 */

/* Read exactly `n` digits at s[*pos]; false if any is not a digit. */
static bool fixed_digits(const char *s, size_t len, size_t *pos, int n,
                         int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (*pos >= len || !is_digit(s[*pos]))
            return false;
        v = v * 10 + (s[(*pos)++] - '0');
    }
    *out = v;
    return true;
}

static bool lit(const char *s, size_t len, size_t *pos, char a, char b)
{
    if (*pos < len && (s[*pos] == a || s[*pos] == b)) {
        (*pos)++;
        return true;
    }
    return false;
}

enum kb_status kb_rfc3339_parse(const char *s, size_t len, int64_t *ms,
                                struct kb_err *err)
{
    char q[KB_EXCERPT_MAX];
    *ms = 0;
    if (len > KB_TIME_INPUT_MAX)
        return kb_errf(err, KB_ERR_LIMIT, "time \"%s\" longer than %d bytes",
                       kb_excerpt(q, sizeof(q), s, len), KB_TIME_INPUT_MAX);
    kb_excerpt(q, sizeof(q), s, len);
    size_t pos = 0;
    int year, mon, day, hour, min, sec;
    const char *want;
#define FIELD(n, var, what)                                                    \
    do {                                                                       \
        want = what;                                                           \
        if (!fixed_digits(s, len, &pos, n, &var))                              \
            goto syntax;                                                       \
    } while (0)
#define LIT(a, b, what)                                                        \
    do {                                                                       \
        want = what;                                                           \
        if (!lit(s, len, &pos, a, b))                                          \
            goto syntax;                                                       \
    } while (0)
    FIELD(4, year, "4-digit year");
    LIT('-', '-', "\"-\"");
    FIELD(2, mon, "2-digit month");
    LIT('-', '-', "\"-\"");
    FIELD(2, day, "2-digit day");
    LIT('T', 't', "\"T\"");
    FIELD(2, hour, "2-digit hour");
    LIT(':', ':', "\":\"");
    FIELD(2, min, "2-digit minute");
    LIT(':', ':', "\":\"");
    FIELD(2, sec, "2-digit second");
    int64_t frac_ms = 0;
    if (pos < len && s[pos] == '.') {
        pos++;
        size_t start = pos;
        while (pos < len && is_digit(s[pos])) {
            if (pos - start < 3)
                frac_ms = frac_ms * 10 + (s[pos] - '0');
            pos++;
        }
        size_t nd = pos - start;
        want = "fraction digits after \".\"";
        if (nd == 0)
            goto syntax;
        if (nd > 9)
            return kb_errf(err, KB_ERR_INVALID,
                           "invalid time \"%s\": more than 9 fraction digits",
                           q);
        for (size_t i = nd; i < 3; i++)
            frac_ms *= 10;
    }
    int off_min = 0;
    if (pos < len && (s[pos] == '+' || s[pos] == '-')) {
        int sign = s[pos++] == '-' ? -1 : 1, oh, om;
        FIELD(2, oh, "2-digit offset hours");
        LIT(':', ':', "\":\" in offset");
        FIELD(2, om, "2-digit offset minutes");
        if (oh > 23 || om > 59)
            return kb_errf(err, KB_ERR_INVALID,
                           "invalid time \"%s\": offset out of range", q);
        off_min = sign * (oh * 60 + om);
    } else {
        LIT('Z', 'z', "\"Z\" or an offset like \"+02:00\"");
    }
    want = "end of input";
    if (pos != len)
        goto syntax;
#undef FIELD
#undef LIT
    const char *bad = mon < 1 || mon > 12                      ? "month"
                      : day < 1 || day > month_days(year, mon) ? "day"
                      : hour > 23                              ? "hour"
                      : min > 59                               ? "minute"
                      : sec > 59                               ? "second"
                                                               : NULL;
    if (bad)
        return kb_errf(err, KB_ERR_INVALID,
                       "invalid time \"%s\": %s out of range", q, bad);
    *ms = days_from_civil(year, mon, day) * MS_DAY + hour * MS_HOUR +
          min * MS_MIN + sec * MS_SEC + frac_ms - off_min * MS_MIN;
    return KB_OK;
syntax:
    if (pos >= len)
        return kb_errf(err, KB_ERR_INVALID,
                       "invalid time \"%s\": unexpected end, expected %s", q,
                       want);
    return kb_errf(err, KB_ERR_INVALID,
                   "invalid time \"%s\": expected %s at offset %zu", q, want,
                   pos);
}

/* -------------------------------------------------------- Unix seconds */

/* Whether s looks like [+-]digits[.digits]: the Unix-seconds form. */
static bool looks_unix(const char *s, size_t len)
{
    size_t i = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    bool dot = false;
    for (; i < len; i++) {
        if (s[i] == '.' && !dot)
            dot = true;
        else if (!is_digit(s[i]))
            return false;
    }
    return true;
}

static enum kb_status unix_parse(const char *s, size_t len, const char *q,
                                 int64_t *ms, struct kb_err *err)
{
    size_t pos = 0;
    bool neg = false;
    if (pos < len && (s[pos] == '+' || s[pos] == '-'))
        neg = s[pos++] == '-';
    int64_t sec = 0, frac = 0;
    size_t nint = 0, nfrac = 0;
    bool round_up = false;
    for (; pos < len && is_digit(s[pos]); pos++, nint++) {
        int d = s[pos] - '0';
        if (sec > (INT64_MAX / MS_SEC - 1 - d) / 10)
            return kb_errf(err, KB_ERR_INVALID,
                           "invalid time \"%s\": out of range", q);
        sec = sec * 10 + d;
    }
    if (pos < len && s[pos] == '.') {
        pos++;
        for (; pos < len && is_digit(s[pos]); pos++, nfrac++) {
            if (nfrac < 3)
                frac = frac * 10 + (s[pos] - '0');
            else if (nfrac == 3)
                round_up = s[pos] >= '5';
        }
    }
    if (nint + nfrac == 0)
        return kb_errf(err, KB_ERR_INVALID,
                       "invalid time \"%s\": expected a Unix timestamp or "
                       "an RFC 3339 time",
                       q);
    for (size_t i = nfrac; i < 3; i++)
        frac *= 10;
    /* sec < INT64_MAX / 1000 - 1, so this cannot overflow. */
    int64_t v = sec * MS_SEC + frac + round_up;
    *ms = neg ? -v : v;
    return KB_OK;
}

enum kb_status kb_time_parse(const char *s, size_t len, int64_t *ms,
                             struct kb_err *err)
{
    char q[KB_EXCERPT_MAX];
    *ms = 0;
    if (len > KB_TIME_INPUT_MAX)
        return kb_errf(err, KB_ERR_LIMIT, "time \"%s\" longer than %d bytes",
                       kb_excerpt(q, sizeof(q), s, len), KB_TIME_INPUT_MAX);
    kb_excerpt(q, sizeof(q), s, len);
    if (looks_unix(s, len))
        return unix_parse(s, len, q, ms, err);
    if (len == 0 || !is_digit(s[0]))
        return kb_errf(err, KB_ERR_INVALID,
                       "invalid time \"%s\": expected a Unix timestamp or "
                       "an RFC 3339 time",
                       q);
    return kb_rfc3339_parse(s, len, ms, err);
}
