/* pprof/units.h: the value scaling and percentages that `go tool pprof`
 * prints ("1.50s", "512kB", "12.34%"), so Kiln's reports read the same.
 *
 * Units are matched as pprof matches them: case-insensitively, with a
 * trailing 's' dropped from names longer than two bytes, against three
 * families: bytes (B kB MB GB TB PB, powers of 1024), time (ns us ms s hrs)
 * and GCU. Any other unit ("count", "objects") is printed as a bare number.
 * See units.c.
 */
#ifndef KILN_PPROF_UNITS_H
#define KILN_PPROF_UNITS_H

#include <stdint.h>

/* Room for any label or percentage these functions write, NUL included (a
 * unit name too long to fit is cut). */
#define PPROF_UNITS_LABEL_MAX 128

/* Convert `value`, measured in `from_unit`, to `to_unit`, and return it;
 * *unit (when not NULL) is set to the canonical name of the unit the result
 * is in ("ms", "MB"). `to_unit` "auto" or "minimum" picks the largest unit
 * in which the value is at least 1. When `from_unit` is not a known unit the
 * value is returned unchanged and *unit is "" for the unit-less names
 * "count", "sample", "unit", "minimum" and "auto", else `to_unit` itself.
 * A known `from_unit` with an unknown `to_unit` converts to the family's
 * default unit (B, s, GCU). (pprof's measurement.Scale.) */
double pprof_units_scale(int64_t value, const char *from_unit,
                         const char *to_unit, const char **unit);

/* Write `value` scaled to `to_unit` with two decimals and the unit name
 * ("1.50s"), ".00" dropped ("2MB"), zero as "0", into `dst`
 * (PPROF_UNITS_LABEL_MAX bytes); return dst. (measurement.ScaledLabel.) */
char *pprof_units_label(char *dst, int64_t value, const char *from_unit,
                        const char *to_unit);

/* Write |value / total| as a percentage the way pprof's tables do, padded to
 * at least 5 characters before the '%': "  100%" for 99.95..100.05,
 * "12.34%" from 1 up, two significant digits below 1 (" 0.52%"); a zero
 * total gives "    0%". Into `dst` (PPROF_UNITS_LABEL_MAX bytes); returns
 * dst. (measurement.Percentage.) */
char *pprof_units_percent(char *dst, int64_t value, int64_t total);

/* The one unit a report prints all of its values in, as pprof chooses it
 * (report.selectOutputUnit with -unit=minimum): the unit of `min_value`
 * (the smallest nonzero |value| shown), unless `max_value` (the report's
 * total) is in another unit and more than 100 times larger, in which case
 * the unit of 100 * min_value, so small values print as "0.01s". Returns a
 * canonical unit name, or `sample_unit` itself for unit-less sample types
 * (pass the result as to_unit to pprof_units_label). */
const char *pprof_units_output_unit(int64_t min_value, int64_t max_value,
                                    const char *sample_unit);

#endif
