/* base/timefmt.h: Prometheus durations and RFC 3339 / Unix timestamps, all
 * in milliseconds, parsed and formatted. See timefmt.c. */
#ifndef KILN_BASE_TIMEFMT_H
#define KILN_BASE_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

/* Longest input the parsers accept (KB_ERR_LIMIT beyond). */
#define KB_TIME_INPUT_MAX 64
/* Room for any formatted duration or time, NUL included. */
#define KB_DURATION_STR_MAX 48
#define KB_TIME_STR_MAX 48

/* Parse a Prometheus duration into milliseconds: "0", or one or more
 * <digits><unit> with units y (365d), w, d, h, m, s, ms, each at most once
 * and in that order: "10s", "1h30m", "7d", "1w", "1y", "500ms", "0s".
 * No sign, no spaces, no fractions. KB_ERR_INVALID names the problem
 * (unknown unit, units out of order, missing number, out of range: the
 * total must fit in int64 milliseconds); KB_ERR_LIMIT past
 * KB_TIME_INPUT_MAX bytes. */
enum kb_status kb_duration_parse(const char *s, size_t len, int64_t *ms,
                                 struct kb_err *err);

/* Format milliseconds as Prometheus does: "0s" for zero, else the nonzero
 * parts among y w d h m s ms, largest first, where years and weeks are used
 * only when they divide the rest exactly ("1w", "90d", "1h30m", "1s500ms").
 * Negative durations get a leading "-". Returns `out`. */
char *kb_duration_format(int64_t ms, char out[KB_DURATION_STR_MAX]);

/* Parse an RFC 3339 time into milliseconds since the Unix epoch:
 * YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM); 'T' and 'Z' may be lower
 * case; the fraction has 1 to 9 digits and is truncated to milliseconds.
 * Every field is range-checked (February 29 only in leap years, no leap
 * second 60). KB_ERR_INVALID names the field at fault. */
enum kb_status kb_rfc3339_parse(const char *s, size_t len, int64_t *ms,
                                struct kb_err *err);

/* Parse a time as Prometheus' HTTP API does: a Unix timestamp in seconds
 * with an optional fraction ("1700000000", "1700000000.5", "-1.25"; no
 * exponent, rounded to the nearest millisecond, halves away from zero), or
 * else an RFC 3339 time. */
enum kb_status kb_time_parse(const char *s, size_t len, int64_t *ms,
                             struct kb_err *err);

/* Format milliseconds since the epoch as RFC 3339 in UTC with exactly three
 * fraction digits: "2026-11-21T04:47:58.123Z". Every int64 is accepted;
 * years outside 0..9999 are written with as many digits (and a sign) as they
 * need. Returns `out`. */
char *kb_time_format(int64_t ms, char out[KB_TIME_STR_MAX]);

/* The wall clock, in milliseconds since the epoch. */
int64_t kb_now_ms(void);

#endif
