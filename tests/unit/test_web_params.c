/* tests/unit/test_web_params.c: web/params.c, the time and duration
 * parameters of the query API, against what Prometheus' parseTime and
 * parseDuration give (values worked out with Go's strconv and time). */
#include "tests/unit/unit.h"
#include "web/params.h"

/* web_parse_time of `s`: the milliseconds, or INT64_MIN on an error whose
 * message must be `cannot parse "<s>" to a valid timestamp`. */
static int64_t time_of(const char *s)
{
    int64_t ms = 0;
    struct kb_err err;
    if (web_parse_time(s, &ms, &err) == KB_OK)
        return ms;
    char want[256];
    snprintf(want, sizeof(want), "cannot parse \"%s\" to a valid timestamp", s);
    CHECK_STR(err.msg, want);
    CHECK_INT(err.status, KB_ERR_INVALID);
    return INT64_MIN;
}

static void test_time_numbers(void)
{
    CHECK_INT(time_of("1795248000"), 1795248000000LL);
    CHECK_INT(time_of("1795248000.5"), 1795248000500LL);
    CHECK_INT(time_of("1.795248e9"), 1795248000000LL);
    CHECK_INT(time_of("-1.25"), -1250);
    CHECK_INT(time_of("0"), 0);
    /* The fraction is rounded to milliseconds, halves away from zero. */
    CHECK_INT(time_of("0.0005"), 1);
    CHECK_INT(time_of("1.0005"), 1000); /* 1.0005 is 1.000499999... */
    CHECK_INT(time_of("-0.0005"), -1);
    CHECK_INT(time_of("1795248000.0004"), 1795248000000LL);
    /* Not decimal numbers, or beyond Prometheus' MaxTime. */
    CHECK_INT(time_of("0x10"), INT64_MIN);
    CHECK_INT(time_of(" 1"), INT64_MIN);
    CHECK_INT(time_of("Inf"), INT64_MIN);
    CHECK_INT(time_of("NaN"), INT64_MIN);
    CHECK_INT(time_of("1e300"), INT64_MIN);
    CHECK_INT(time_of("1e400"), INT64_MIN);
    CHECK_INT(time_of(""), INT64_MIN);
    CHECK_INT(time_of("1.2.3"), INT64_MIN);
}

static void test_time_rfc3339(void)
{
    CHECK_INT(time_of("2026-11-21T08:00:00Z"), 1795248000000LL);
    CHECK_INT(time_of("2026-11-21T08:00:00.123456789+01:00"), 1795244400123LL);
    CHECK_INT(time_of("-292273086-05-16T16:47:06Z"), WEB_MIN_TIME_MS);
    CHECK_INT(time_of("292277025-08-18T07:12:54.999999999Z"), WEB_MAX_TIME_MS);
    CHECK_INT(time_of("2026-13-21T08:00:00Z"), INT64_MIN);
    CHECK_INT(time_of("yesterday"), INT64_MIN);
    /* Long input is refused, and quoted as an excerpt. */
    char big[300];
    memset(big, '1', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    int64_t ms;
    struct kb_err err;
    CHECK_INT(web_parse_time(big, &ms, &err), KB_ERR_INVALID);
    CHECK(strlen(err.msg) < 120);
}

/* web_parse_duration of `s` in ms, or INT64_MIN on an error with message
 * `cannot parse "<s>" to a valid duration<suffix>`. */
static int64_t duration_of(const char *s, const char *suffix)
{
    int64_t ms = 0;
    struct kb_err err;
    if (web_parse_duration(s, &ms, &err) == KB_OK)
        return ms;
    char want[256];
    snprintf(want, sizeof(want), "cannot parse \"%s\" to a valid duration%s", s,
             suffix);
    CHECK_STR(err.msg, want);
    return INT64_MIN;
}

static void test_durations(void)
{
    CHECK_INT(duration_of("15", ""), 15000);
    CHECK_INT(duration_of("2.5", ""), 2500);
    CHECK_INT(duration_of("0.0001", ""), 0);
    CHECK_INT(duration_of("-1", ""), -1000);
    CHECK_INT(duration_of("0", ""), 0);
    CHECK_INT(duration_of("1m30s", ""), 90000);
    CHECK_INT(duration_of("1d", ""), 86400000);
    CHECK_INT(duration_of("500ms", ""), 500);
    CHECK_INT(duration_of("1e10", ". It overflows int64"), INT64_MIN);
    CHECK_INT(duration_of("-1e10", ". It overflows int64"), INT64_MIN);
    CHECK_INT(duration_of("9e9", ""), 9000000000000LL);
    CHECK_INT(duration_of("abc", ""), INT64_MIN);
    CHECK_INT(duration_of("1h1h", ""), INT64_MIN);
    CHECK_INT(duration_of("-1m", ""), INT64_MIN);
    CHECK_INT(duration_of("", ""), INT64_MIN);
}

int main(void)
{
    RUN(test_time_numbers);
    RUN(test_time_rfc3339);
    RUN(test_durations);
    return unit_done();
}
