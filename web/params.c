/* web/params.c: timestamps, durations and limits as Prometheus' HTTP API
 * reads them (web/api/v1/api.go: parseTime, parseDuration,
 * parseTimeParam, parseLimitParam), with its error messages, so that a
 * client sees the same answers from Kiln as from Prometheus.
 *
 * Design. A decimal number is tried first (as Go's strconv.ParseFloat,
 * with an optional exponent), then the textual form (RFC 3339 through
 * base/timefmt, or a Prometheus duration). strtod reads the number once
 * parse_float has checked that it is plain decimal. Everything is in
 * milliseconds, Kiln's resolution: a time's fraction of a second is rounded
 * to the nearest millisecond as Prometheus rounds it; a duration is cut
 * to whole milliseconds.
 *
 * Invariants: every parsed time lies within [WEB_MIN_TIME_MS,
 * WEB_MAX_TIME_MS], so differences of two times fit in uint64. Inputs
 * longer than PARAM_MAX bytes are refused as unparsable, and quoted in
 * messages as excerpts (base/text.h).
 */
#include "web/params.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "base/timefmt.h"

/* Longest timestamp or duration text looked at. */
#define PARAM_MAX 128

/* Prometheus' MinTime and MaxTime formatted with RFC 3339 (Go's
 * time.RFC3339Nano), which its API accepts as times. */
#define MIN_TIME_TEXT "-292273086-05-16T16:47:06Z"
#define MAX_TIME_TEXT "292277025-08-18T07:12:54.999999999Z"

/* Parse all of `s` as a decimal float ("12", "-1.25", "1.7e9"): false
 * unless the whole string is one. Go's ParseFloat also takes hex floats,
 * "Inf" and "NaN", which make no sense as times or durations and are
 * refused here (strtod alone would also take spaces and "0x10"). */
static bool parse_float(const char *s, double *out)
{
    if (s[0] == '\0' || strspn(s, "0123456789+-.eE") != strlen(s))
        return false;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end != '\0' || (errno == ERANGE && isinf(v)))
        return false;
    *out = v;
    return true;
}

enum kb_status web_parse_time(const char *s, int64_t *ms, struct kb_err *err)
{
    size_t len = strlen(s);
    double v;
    if (len <= PARAM_MAX && parse_float(s, &v)) {
        double whole;
        double frac = modf(v, &whole);
        if (whole >= (double)(WEB_MIN_TIME_MS / 1000) &&
            whole <= (double)(WEB_MAX_TIME_MS / 1000)) {
            *ms = (int64_t)whole * 1000 + (int64_t)llround(frac * 1000);
            if (*ms >= WEB_MIN_TIME_MS && *ms <= WEB_MAX_TIME_MS)
                return KB_OK;
        }
    } else if (len <= PARAM_MAX) {
        struct kb_err ignored;
        if (kb_rfc3339_parse(s, len, ms, &ignored) == KB_OK)
            return KB_OK;
        if (strcmp(s, MIN_TIME_TEXT) == 0) {
            *ms = WEB_MIN_TIME_MS;
            return KB_OK;
        }
        if (strcmp(s, MAX_TIME_TEXT) == 0) {
            *ms = WEB_MAX_TIME_MS;
            return KB_OK;
        }
    }
    char ex[KB_EXCERPT_MAX];
    return kb_errf(err, KB_ERR_INVALID,
                   "cannot parse \"%s\" to a valid timestamp",
                   kb_excerpt(ex, sizeof(ex), s, len));
}

enum kb_status web_parse_duration(const char *s, int64_t *ms,
                                  struct kb_err *err)
{
    size_t len = strlen(s);
    char ex[KB_EXCERPT_MAX];
    double v;
    if (len <= PARAM_MAX && parse_float(s, &v)) {
        /* Go checks the nanoseconds against int64's range. */
        double ns = v * 1e9;
        if (ns >= 9223372036854775807.0 || ns < -9223372036854775807.0)
            return kb_errf(err, KB_ERR_INVALID,
                           "cannot parse \"%s\" to a valid duration. It "
                           "overflows int64",
                           kb_excerpt(ex, sizeof(ex), s, len));
        *ms = (int64_t)(ns / 1e6);
        return KB_OK;
    }
    struct kb_err ignored;
    if (len <= PARAM_MAX && kb_duration_parse(s, len, ms, &ignored) == KB_OK)
        return KB_OK;
    return kb_errf(err, KB_ERR_INVALID,
                   "cannot parse \"%s\" to a valid duration",
                   kb_excerpt(ex, sizeof(ex), s, len));
}

struct tsdb *web_db(struct web_request *rq)
{
    struct tsdb *const *db = web_options_of(rq)->db;
    if (db != NULL && *db != NULL)
        return *db;
    web_reply_error(rq, WEB_ERR_UNAVAILABLE, "storage is not available");
    return NULL;
}

void web_reply_invalid_param(struct web_request *rq, const char *name,
                             const char *msg)
{
    web_reply_error(rq, WEB_ERR_BAD_DATA, "invalid parameter \"%s\": %s", name,
                    msg);
}

bool web_time_param(struct web_request *rq, const char *name, int64_t def,
                    int64_t *ms)
{
    const char *s = web_param(rq, name);
    if (s == NULL || s[0] == '\0') {
        *ms = def;
        return true;
    }
    struct kb_err err;
    if (web_parse_time(s, ms, &err) == KB_OK)
        return true;
    char msg[KB_ERR_MSG_MAX + 64];
    snprintf(msg, sizeof(msg), "invalid time value for '%s': %s", name,
             err.msg);
    web_reply_invalid_param(rq, name, msg);
    return false;
}

bool web_limit_param(struct web_request *rq, size_t *limit)
{
    const char *s = web_param(rq, "limit");
    *limit = 0;
    if (s == NULL || s[0] == '\0')
        return true;
    const char *d = s + (s[0] == '+' || s[0] == '-');
    bool digits = d[0] != '\0' && strspn(d, "0123456789") == strlen(d);
    errno = 0;
    long long v = digits ? strtoll(s, NULL, 10) : 0;
    char ex[KB_EXCERPT_MAX], msg[KB_EXCERPT_MAX + 64];
    if (!digits || errno != 0) {
        snprintf(msg, sizeof(msg), "cannot parse \"%s\" to a valid limit",
                 kb_excerpt(ex, sizeof(ex), s, strlen(s)));
        web_reply_invalid_param(rq, "limit", msg);
        return false;
    }
    if (v < 0) {
        web_reply_invalid_param(rq, "limit", "limit must be non-negative");
        return false;
    }
    *limit = (size_t)v;
    return true;
}
