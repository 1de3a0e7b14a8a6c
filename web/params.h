/* web/params.h: the parameter formats of Prometheus' HTTP API, shared by
 * the query, series and label handlers: timestamps, durations and limits,
 * parsed as Prometheus parses them and refused with its messages. Internal
 * to web/. See params.c. */
#ifndef KILN_WEB_PARAMS_H
#define KILN_WEB_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "web/handler.h"

/* Prometheus' MinTime and MaxTime in milliseconds: the default start and
 * end of the series and label endpoints. */
#define WEB_MIN_TIME_MS (-9223309901257974000LL)
#define WEB_MAX_TIME_MS 9223309901257974999LL

/* Parse a timestamp as Prometheus' parseTime: Unix seconds as a decimal
 * float ("1700000000", "1700000000.123", "1.7e9"), the fraction rounded to
 * milliseconds; else RFC 3339 ("2026-11-21T08:00:00Z",
 * "2026-11-21T09:00:00.5+01:00"); else Prometheus' formatted MinTime or
 * MaxTime. Times beyond those two are refused. KB_ERR_INVALID with
 * `cannot parse "S" to a valid timestamp`. */
enum kb_status web_parse_time(const char *s, int64_t *ms, struct kb_err *err);

/* Parse a duration as Prometheus' parseDuration: float seconds ("15",
 * "0.5"), else a Prometheus duration ("1m30s"); sub-millisecond parts are
 * dropped. KB_ERR_INVALID with `cannot parse "S" to a valid duration`
 * (`... It overflows int64` when too large). The result may be zero or
 * negative: the caller judges it. */
enum kb_status web_parse_duration(const char *s, int64_t *ms,
                                  struct kb_err *err);

/* The time parameter `name`: `def` when absent or empty, else parsed.
 * On a bad value replies 400 bad_data `invalid parameter "NAME": invalid
 * time value for 'NAME': cannot parse ...` (Prometheus' parseTimeParam)
 * and returns false. */
bool web_time_param(struct web_request *rq, const char *name, int64_t def,
                    int64_t *ms);

/* The optional `limit` parameter of the series and label endpoints: 0
 * (no limit) when absent or empty, else a non-negative decimal integer.
 * On a bad value replies 400 bad_data and returns false. */
bool web_limit_param(struct web_request *rq, size_t *limit);

/* The database (web_options.db), or NULL after replying 503 unavailable
 * "storage is not available" when there is none. */
struct tsdb *web_db(struct web_request *rq);

/* Reply 400 bad_data `invalid parameter "NAME": MSG` (Prometheus'
 * invalidParamError). */
void web_reply_invalid_param(struct web_request *rq, const char *name,
                             const char *msg);

#endif
