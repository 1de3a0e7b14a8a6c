/* base/log.h: logfmt logging, one line per event, as Prometheus logs:
 *
 *   ts=2026-11-21T04:47:58.123Z level=info component=tsdb msg="block cut"
 *   mint=1700000000000 blocks=3
 *
 * (one line in reality). See log.c. */
#ifndef KILN_BASE_LOG_H
#define KILN_BASE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/status.h"

/* Named LOG_LEVEL_* because <syslog.h> owns LOG_DEBUG and LOG_INFO. */
enum log_level {
    LOG_LEVEL_DEBUG,
    LOG_LEVEL_INFO,
    LOG_LEVEL_WARN,
    LOG_LEVEL_ERROR,
};

/* Values longer than this are cut and end in "..." (the line stays one
 * line whatever the caller passes). */
#define LOG_VALUE_MAX 8192

/* "debug", "info", "warn" or "error" (exactly: --log.level's values). */
enum kb_status log_level_parse(const char *s, enum log_level *out,
                               struct kb_err *err);
const char *log_level_str(enum log_level level);

/* The global minimum level (default info): events below it are dropped.
 * Safe to call from any thread at any time. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
bool log_enabled(enum log_level level);

/* Where lines go: stderr by default; NULL restores stderr. The stream is
 * not closed by the logger. Tests use open_memstream or tmpfile. */
void log_set_output(FILE *f);

/* Replace the clock that makes `ts` (milliseconds since the epoch; NULL
 * restores the wall clock), so tests get fixed lines. */
void log_set_clock(int64_t (*now_ms)(void));

/* Log one event: `component` (e.g. "tsdb"; NULL leaves the field out),
 * `msg`, then key, value, key, value, ... C strings ending with NULL:
 *
 *   log_info("scrape", "scrape failed", "target", url, "err", err.msg, NULL);
 *
 * Values are written bare when they can be, else quoted and escaped (see
 * log.c). A NULL *value* cannot be told from the end of the list, so it
 * ends the list and that key is written as key=(MISSING): pass "" instead. */
void log_kv(enum log_level level, const char *component, const char *msg, ...)
    __attribute__((sentinel));
void log_vkv(enum log_level level, const char *component, const char *msg,
             va_list ap);
void log_debug(const char *component, const char *msg, ...)
    __attribute__((sentinel));
void log_info(const char *component, const char *msg, ...)
    __attribute__((sentinel));
void log_warn(const char *component, const char *msg, ...)
    __attribute__((sentinel));
void log_error(const char *component, const char *msg, ...)
    __attribute__((sentinel));

/* Log one event whose msg is printf-formatted, with no other fields. */
void log_msgf(enum log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
