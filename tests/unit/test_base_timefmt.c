/* Unit tests for base/timefmt: Prometheus durations, RFC 3339 and Unix
 * timestamps, in and out, and their errors. */
#include "base/timefmt.h"
#include "tests/unit/unit.h"

static int64_t dur(const char *s)
{
    int64_t ms = -1;
    struct kb_err err;
    kb_err_clear(&err);
    if (kb_duration_parse(s, strlen(s), &ms, &err) != KB_OK)
        printf("# duration %s: %s\n", s, err.msg);
    return ms;
}

static void dur_err(const char *s, enum kb_status st, const char *msg)
{
    int64_t ms = 42;
    struct kb_err err;
    kb_err_clear(&err);
    CHECK_INT(kb_duration_parse(s, strlen(s), &ms, &err), st);
    CHECK_INT(ms, 0);
    if (msg)
        CHECK_STR(err.msg, msg);
}

static const char *dfmt(int64_t ms)
{
    static char out[KB_DURATION_STR_MAX];
    return kb_duration_format(ms, out);
}

static const char *tfmt(int64_t ms)
{
    static char out[KB_TIME_STR_MAX];
    return kb_time_format(ms, out);
}

static int64_t rfc(const char *s)
{
    int64_t ms = -1;
    struct kb_err err;
    kb_err_clear(&err);
    if (kb_rfc3339_parse(s, strlen(s), &ms, &err) != KB_OK)
        printf("# rfc3339 %s: %s\n", s, err.msg);
    return ms;
}

static int64_t anytime(const char *s)
{
    int64_t ms = -1;
    struct kb_err err;
    kb_err_clear(&err);
    if (kb_time_parse(s, strlen(s), &ms, &err) != KB_OK)
        printf("# time %s: %s\n", s, err.msg);
    return ms;
}

static void time_err(const char *s, enum kb_status st, const char *msg)
{
    int64_t ms = 42;
    struct kb_err err;
    kb_err_clear(&err);
    CHECK_INT(kb_time_parse(s, strlen(s), &ms, &err), st);
    CHECK_INT(ms, 0);
    if (msg)
        CHECK_STR(err.msg, msg);
}

static void test_duration_parse(void)
{
    CHECK_INT(dur("0"), 0);
    CHECK_INT(dur("0s"), 0);
    CHECK_INT(dur("10s"), 10000);
    CHECK_INT(dur("500ms"), 500);
    CHECK_INT(dur("1h30m"), 5400000);
    CHECK_INT(dur("7d"), 604800000);
    CHECK_INT(dur("1w"), 604800000);
    CHECK_INT(dur("1y"), INT64_C(31536000000));
    CHECK_INT(dur("1y2w3d4h5m6s7ms"), INT64_C(31536000000) + 2 * 604800000LL +
                                          3 * 86400000LL + 4 * 3600000LL +
                                          5 * 60000 + 6000 + 7);
    CHECK_INT(dur("90m"), 5400000);
    CHECK_INT(dur("0010s"), 10000);
    CHECK_INT(dur("1m1ms"), 60001);
    /* the largest value that fits */
    CHECK_INT(dur("9223372036854775807ms"), INT64_MAX);
}

static void test_duration_errors(void)
{
    dur_err("", KB_ERR_INVALID, "empty duration");
    dur_err("s", KB_ERR_INVALID,
            "invalid duration \"s\": expected a number at offset 0");
    dur_err("10", KB_ERR_INVALID,
            "invalid duration \"10\": missing unit at offset 2 (want y, w, "
            "d, h, m, s or ms)");
    dur_err("1x", KB_ERR_INVALID,
            "invalid duration \"1x\": unknown unit \"x\" (want y, w, d, h, "
            "m, s or ms)");
    dur_err("1H", KB_ERR_INVALID, NULL);
    dur_err("1mss", KB_ERR_INVALID, NULL);
    dur_err("1us", KB_ERR_INVALID, NULL);
    dur_err("1m1h", KB_ERR_INVALID,
            "invalid duration \"1m1h\": unit \"h\" after \"m\" (units go "
            "from largest to smallest, once each)");
    dur_err("1s1s", KB_ERR_INVALID, NULL);
    dur_err("1ms1s", KB_ERR_INVALID, NULL);
    dur_err("-1s", KB_ERR_INVALID, NULL);
    dur_err("+1s", KB_ERR_INVALID, NULL);
    dur_err("1.5s", KB_ERR_INVALID, NULL);
    dur_err(" 1s", KB_ERR_INVALID, NULL);
    dur_err("1s ", KB_ERR_INVALID, NULL);
    dur_err("1 s", KB_ERR_INVALID, NULL);
    dur_err("00", KB_ERR_INVALID, NULL);
    dur_err("1h30", KB_ERR_INVALID, NULL);
    dur_err("9223372036854775808ms", KB_ERR_INVALID,
            "invalid duration \"9223372036854775808ms\": out of range");
    dur_err("99999999999999999999999s", KB_ERR_INVALID, NULL);
    dur_err("300000000y", KB_ERR_INVALID, NULL);
    CHECK_INT(dur("9223372036854775s1ms"), INT64_C(9223372036854775001));
    dur_err("9223372036854775s808ms", KB_ERR_INVALID, NULL);
    CHECK_INT(dur("9223372036854775s807ms"), INT64_MAX);
    /* NUL bytes are just bad bytes */
    int64_t ms;
    struct kb_err err;
    CHECK_INT(kb_duration_parse("1s\0", 3, &ms, &err), KB_ERR_INVALID);
    CHECK_STR(err.msg,
              "invalid duration \"1s\\x00\": expected a number at offset 2");
    char big[KB_TIME_INPUT_MAX + 2];
    memset(big, '1', sizeof(big));
    big[KB_TIME_INPUT_MAX] = 's';
    big[KB_TIME_INPUT_MAX + 1] = '\0';
    dur_err(big, KB_ERR_LIMIT, NULL);
}

static void test_duration_format(void)
{
    CHECK_STR(dfmt(0), "0s");
    CHECK_STR(dfmt(500), "500ms");
    CHECK_STR(dfmt(1500), "1s500ms");
    CHECK_STR(dfmt(10000), "10s");
    CHECK_STR(dfmt(5400000), "1h30m");
    CHECK_STR(dfmt(86400000), "1d");
    CHECK_STR(dfmt(604800000), "1w");
    CHECK_STR(dfmt(90 * 86400000LL), "90d"); /* not 12w6d */
    CHECK_STR(dfmt(14 * 86400000LL), "2w");
    CHECK_STR(dfmt(INT64_C(31536000000)), "1y");
    CHECK_STR(dfmt(INT64_C(31536000000) + 1), "365d1ms");
    CHECK_STR(dfmt(-1500), "-1s500ms");
    CHECK_STR(dfmt(INT64_MAX), "106751991167d7h12m55s807ms");
    CHECK_STR(dfmt(INT64_MIN), "-106751991167d7h12m55s808ms");
    /* round trips */
    const int64_t vals[] = {1,
                            999,
                            1000,
                            61000,
                            3600001,
                            86400000 * 8LL,
                            INT64_C(31536000000) * 3,
                            INT64_MAX};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
        CHECK_INT(dur(dfmt(vals[i])), vals[i]);
}

static void test_rfc3339_parse(void)
{
    CHECK_INT(rfc("1970-01-01T00:00:00Z"), 0);
    CHECK_INT(rfc("2026-11-21T04:47:58Z"), INT64_C(1795236478000));
    CHECK_INT(rfc("2026-11-21T04:47:58.123Z"), INT64_C(1795236478123));
    CHECK_INT(rfc("2026-11-21t04:47:58.1z"), INT64_C(1795236478100));
    CHECK_INT(rfc("2026-11-21T04:47:58.123456789Z"), INT64_C(1795236478123));
    CHECK_INT(rfc("2026-11-21T06:47:58.123+02:00"), INT64_C(1795236478123));
    CHECK_INT(rfc("2026-11-20T23:17:58.123-05:30"), INT64_C(1795236478123));
    CHECK_INT(rfc("2024-02-29T00:00:00Z"), INT64_C(1709164800000));
    CHECK_INT(rfc("2000-02-29T00:00:00Z"), INT64_C(951782400000));
    CHECK_INT(rfc("1969-12-31T23:59:59.999Z"), -1);
    CHECK_INT(rfc("0000-01-01T00:00:00Z"), INT64_C(-62167219200000));
    CHECK_INT(rfc("9999-12-31T23:59:59.999Z"), INT64_C(253402300799999));
}

static void rfc_err(const char *s, const char *msg)
{
    int64_t ms = 42;
    struct kb_err err;
    kb_err_clear(&err);
    CHECK_INT(kb_rfc3339_parse(s, strlen(s), &ms, &err), KB_ERR_INVALID);
    CHECK_INT(ms, 0);
    if (msg)
        CHECK_STR(err.msg, msg);
}

static void test_rfc3339_errors(void)
{
    rfc_err("", "invalid time \"\": unexpected end, expected 4-digit year");
    rfc_err("2026-13-01T00:00:00Z",
            "invalid time \"2026-13-01T00:00:00Z\": month out of range");
    rfc_err("2026-00-01T00:00:00Z", NULL);
    rfc_err("2026-02-29T00:00:00Z",
            "invalid time \"2026-02-29T00:00:00Z\": day out of range");
    rfc_err("1900-02-29T00:00:00Z", NULL);
    rfc_err("2026-04-31T00:00:00Z", NULL);
    rfc_err("2026-01-00T00:00:00Z", NULL);
    rfc_err("2026-01-01T24:00:00Z", NULL);
    rfc_err("2026-01-01T00:60:00Z", NULL);
    rfc_err("2026-01-01T00:00:60Z",
            "invalid time \"2026-01-01T00:00:60Z\": second out of range");
    rfc_err("2026-01-01T00:00:00+24:00",
            "invalid time \"2026-01-01T00:00:00+24:00\": offset out of range");
    rfc_err("2026-01-01T00:00:00+01:60", NULL);
    rfc_err("2026-01-01T00:00:00",
            "invalid time \"2026-01-01T00:00:00\": unexpected end, expected "
            "\"Z\" or an offset like \"+02:00\"");
    rfc_err("2026-01-01 00:00:00Z", "invalid time \"2026-01-01 00:00:00Z\": "
                                    "expected \"T\" at offset 10");
    rfc_err("2026-1-01T00:00:00Z", NULL);
    rfc_err("26-01-01T00:00:00Z", NULL);
    rfc_err("2026-01-01T00:00:00.Z",
            "invalid time \"2026-01-01T00:00:00.Z\": expected fraction "
            "digits after \".\" at offset 20");
    rfc_err("2026-01-01T00:00:00.1234567890Z",
            "invalid time \"2026-01-01T00:00:00.1234567890Z\": more than 9 "
            "fraction digits");
    rfc_err("2026-01-01T00:00:00Zjunk", "invalid time "
                                        "\"2026-01-01T00:00:00Zjunk\": "
                                        "expected end of input at offset 20");
    rfc_err("2026-01-01T00:00:00+0200", NULL);
    rfc_err("2026-01-01T00:00:00+02", NULL);
    rfc_err("+2026-01-01T00:00:00Z", NULL);
    rfc_err("2026-01-01T00:00:00UTC", NULL);
    /* every prefix of a valid time is refused */
    const char *full = "2026-11-21T04:47:58.123+02:00";
    int refused = 0;
    for (size_t i = 0; i < strlen(full); i++) {
        int64_t ms;
        if (kb_rfc3339_parse(full, i, &ms, NULL) == KB_ERR_INVALID)
            refused++;
    }
    CHECK_INT(refused, (int)strlen(full));
}

static void test_time_format(void)
{
    CHECK_STR(tfmt(0), "1970-01-01T00:00:00.000Z");
    CHECK_STR(tfmt(INT64_C(1795236478123)), "2026-11-21T04:47:58.123Z");
    CHECK_STR(tfmt(-1), "1969-12-31T23:59:59.999Z");
    CHECK_STR(tfmt(INT64_C(951782400000)), "2000-02-29T00:00:00.000Z");
    CHECK_STR(tfmt(INT64_C(253402300799999)), "9999-12-31T23:59:59.999Z");
    CHECK_STR(tfmt(INT64_C(253402300800000)), "10000-01-01T00:00:00.000Z");
    CHECK_STR(tfmt(INT64_C(-62167219200000)), "0000-01-01T00:00:00.000Z");
    CHECK_STR(tfmt(INT64_C(-62167219200001)), "-0001-12-31T23:59:59.999Z");
    /* the extremes format without overflow */
    CHECK_STR(tfmt(INT64_MAX), "292278994-08-17T07:12:55.807Z");
    CHECK_STR(tfmt(INT64_MIN), "-292275055-05-16T16:47:04.192Z");
    /* format then parse gives the same instant, day by day over 800 years
     * (covers every leap rule) */
    int bad = 0;
    for (int64_t ms = INT64_C(-62167219200000); ms < INT64_C(253402300799999);
         ms += 86400000LL * 97 + 3600007) {
        int64_t back;
        char buf[KB_TIME_STR_MAX];
        kb_time_format(ms, buf);
        if (kb_rfc3339_parse(buf, strlen(buf), &back, NULL) != KB_OK ||
            back != ms)
            bad++;
    }
    CHECK_INT(bad, 0);
    int64_t now = kb_now_ms();
    CHECK(now > INT64_C(1700000000000));
}

static void test_time_parse(void)
{
    CHECK_INT(anytime("1700000000"), INT64_C(1700000000000));
    CHECK_INT(anytime("1700000000.5"), INT64_C(1700000000500));
    CHECK_INT(anytime("1700000000.123"), INT64_C(1700000000123));
    CHECK_INT(anytime("1700000000.1234"), INT64_C(1700000000123));
    CHECK_INT(anytime("1700000000.1235"), INT64_C(1700000000124));
    CHECK_INT(anytime("1700000000.9999"), INT64_C(1700000001000));
    CHECK_INT(anytime("0.0005"), 1);
    CHECK_INT(anytime("-1.5"), -1500);
    CHECK_INT(anytime("-0.0005"), -1);
    CHECK_INT(anytime("+2"), 2000);
    CHECK_INT(anytime(".5"), 500);
    CHECK_INT(anytime("5."), 5000);
    CHECK_INT(anytime("0"), 0);
    CHECK_INT(anytime("2026"), 2026000); /* numbers win, as in Prometheus */
    CHECK_INT(anytime("2026-11-21T04:47:58.123Z"), INT64_C(1795236478123));
    CHECK_INT(anytime("9223372036854774"), INT64_C(9223372036854774000));
    time_err("", KB_ERR_INVALID,
             "invalid time \"\": expected a Unix timestamp or an RFC 3339 "
             "time");
    time_err(".", KB_ERR_INVALID, NULL);
    time_err("-", KB_ERR_INVALID, NULL);
    time_err("1.2.3", KB_ERR_INVALID, NULL);
    time_err("1e9", KB_ERR_INVALID, NULL);
    time_err("NaN", KB_ERR_INVALID, NULL);
    time_err("inf", KB_ERR_INVALID, NULL);
    time_err("now", KB_ERR_INVALID,
             "invalid time \"now\": expected a Unix timestamp or an RFC 3339 "
             "time");
    time_err(" 1", KB_ERR_INVALID, NULL);
    time_err("1 ", KB_ERR_INVALID, NULL);
    time_err("--1", KB_ERR_INVALID, NULL);
    time_err("9223372036854775", KB_ERR_INVALID,
             "invalid time \"9223372036854775\": out of range");
    time_err("99999999999999999999", KB_ERR_INVALID, NULL);
    time_err("2026-13-01T00:00:00Z", KB_ERR_INVALID, NULL);
    char big[KB_TIME_INPUT_MAX + 2];
    memset(big, '1', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    time_err(big, KB_ERR_LIMIT, NULL);
}

int main(void)
{
    RUN(test_duration_parse);
    RUN(test_duration_errors);
    RUN(test_duration_format);
    RUN(test_rfc3339_parse);
    RUN(test_rfc3339_errors);
    RUN(test_time_format);
    RUN(test_time_parse);
    return unit_done();
}
