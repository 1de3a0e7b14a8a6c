/* base/metrics.h: Kiln's own metrics (counters, gauges, histograms) in a
 * thread-safe registry, written in the Prometheus text exposition format
 * 0.0.4 for GET /metrics. See metrics.c.
 *
 * Labels. Every function that names a series takes its labels as variadic
 * `const char *` name, value, name, value, ... ending with NULL:
 *
 *   struct metrics_counter *c = metrics_counter(reg,
 *       "kiln_http_requests_total", "Requests served.",
 *       "handler", "/metrics", "code", "200", NULL);
 *   metrics_counter_add(c, 1);
 *
 * Programming errors abort the process with a message on stderr: a metric
 * name outside [a-zA-Z_:][a-zA-Z0-9_:]*, a label name outside
 * [a-zA-Z_][a-zA-Z0-9_]* or starting with "__" (or "le" on a histogram), a
 * label name given twice, a name without a value, a name registered before
 * with another type (or, for histograms, other bounds), a series registered
 * both as a plain and as a function series, a function series registered
 * twice, a negative or NaN counter increment. None of these can come from
 * outside input. Label values may be any string: they are escaped on
 * output, and bytes that are not UTF-8 are written as U+FFFD.
 */
#ifndef KILN_BASE_METRICS_H
#define KILN_BASE_METRICS_H

#include <stddef.h>

#include "base/buf.h"
#include "base/status.h"

struct metrics_registry;
struct metrics_counter;
struct metrics_gauge;
struct metrics_histogram;

/* A new, empty registry. */
struct metrics_registry *metrics_registry_new(void);
/* Free the registry and every series in it; every counter, gauge and
 * histogram pointer it returned becomes invalid. NULL is allowed. */
void metrics_registry_free(struct metrics_registry *r);

/* Get or create a counter: the same name and label set (in any order)
 * return the same instance, whose pointer stays valid until the registry is
 * freed. `help` is the family's help text; a later call with another help
 * keeps the first. Safe from any thread (creation takes a mutex). */
struct metrics_counter *metrics_counter(struct metrics_registry *r,
                                        const char *name, const char *help, ...)
    __attribute__((sentinel));
/* Add v >= 0 (lock-free). */
void metrics_counter_add(struct metrics_counter *c, double v);
double metrics_counter_value(const struct metrics_counter *c);

/* Get or create a gauge, as metrics_counter. */
struct metrics_gauge *metrics_gauge(struct metrics_registry *r,
                                    const char *name, const char *help, ...)
    __attribute__((sentinel));
/* Set or add to the gauge's value (lock-free). */
void metrics_gauge_set(struct metrics_gauge *g, double v);
void metrics_gauge_add(struct metrics_gauge *g, double v);
double metrics_gauge_value(const struct metrics_gauge *g);

/* Get or create a histogram with the upper bounds bounds[0..n_bounds)
 * (finite, strictly increasing; the +Inf bucket is implicit). Every series
 * of a family has the family's bounds: another set aborts. */
struct metrics_histogram *
metrics_histogram(struct metrics_registry *r, const char *name,
                  const char *help, const double *bounds, size_t n_bounds, ...)
    __attribute__((sentinel));
/* Count v in the first bucket whose bound is >= v and add it to the sum
 * (lock-free). */
void metrics_histogram_observe(struct metrics_histogram *h, double v);

/* The bounds of Kiln's request-duration histograms, in seconds (those of
 * Prometheus' prometheus_http_request_duration_seconds). */
extern const double metrics_duration_bounds[];
extern const size_t metrics_n_duration_bounds;

/* A gauge (or counter) series whose value is fn(arg), called at exposition
 * time from the thread that calls metrics_write, without the registry's
 * lock held (fn may use the registry). fn must be thread-safe; arg must
 * stay valid until the registry is freed. A function that cannot read its
 * value returns NaN. Registering the same series twice aborts. */
void metrics_gauge_func(struct metrics_registry *r, const char *name,
                        const char *help, double (*fn)(void *arg), void *arg,
                        ...) __attribute__((sentinel));
void metrics_counter_func(struct metrics_registry *r, const char *name,
                          const char *help, double (*fn)(void *arg), void *arg,
                          ...) __attribute__((sentinel));

/* Append every family to `out`, families sorted by name and series by
 * label values: "# HELP" and "# TYPE" lines, then one line per series
 * (histograms: cumulative name_bucket{...,le="..."} lines ending with
 * le="+Inf", then name_sum and name_count). Values are the shortest
 * decimal that reads back exactly, or NaN, +Inf, -Inf. Fails only when
 * `out` reaches its limit (KB_ERR_LIMIT). Safe from any thread. */
enum kb_status metrics_write(struct metrics_registry *r, struct buf *out,
                             struct kb_err *err);

/* The content type of metrics_write's output. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Register the process metrics Prometheus' client libraries export, read
 * from /proc at exposition time (NaN when unreadable):
 * process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_start_time_seconds,
 * process_open_fds, process_max_fds. Call it once per registry. */
void metrics_register_process(struct metrics_registry *r);

#endif
