/* pprof/units.c: pprof's value scaling, labels and percentages.
 *
 * Design. This is a transcription of the rules in pprof's
 * internal/measurement package (the copy vendored in Go 1.19), because users
 * compare Kiln's tables with `go tool pprof` digit for digit:
 *
 *  - A unit family is a list of units, each with its aliases and a factor
 *    to the family's base unit, plus a default unit. A unit string is
 *    "sniffed": lower-cased (ASCII), a trailing 's' dropped when it is longer
 *    than two bytes, then looked up among the aliases. So "nanoseconds",
 *    "Bytes" and "ms" are found; "count" is in no family.
 *  - Scaling to "auto"/"minimum" picks the unit with the largest factor that
 *    keeps the value at least 1 (the default unit when none does, e.g. 0).
 *  - Labels are "%.2f" with ".00" trimmed, and zero prints as "0".
 *  - Percentages use "%5.2f" from 1% up and "%5.2g" below it; C's printf
 *    and Go's fmt agree on both for finite values (both round the exact
 *    binary value, both drop %g's trailing zeros).
 *
 * Negative values are scaled by their magnitude and negated, as pprof does;
 * INT64_MIN, whose magnitude does not fit, is scaled as it is (pprof's Go
 * code ends up doing the same).
 *
 * Invariants: nothing here allocates or keeps state; every string returned
 * is either a static canonical unit name or a pointer the caller passed in.
 */
#include "pprof/units.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct unit {
    const char *name;       /* canonical, as printed */
    const char *aliases[4]; /* sniffed spellings, NULL-terminated */
    double factor;          /* multiply to get the family's base unit */
};

struct unit_family {
    const struct unit *units;
    size_t n_units;
    const char *default_name;
    double default_factor;
};

static const struct unit memory_units[] = {
    {"B", {"b", "byte", NULL}, 1.0},
    {"kB", {"kb", "kbyte", "kilobyte", NULL}, 1024.0},
    {"MB", {"mb", "mbyte", "megabyte", NULL}, 1048576.0},
    {"GB", {"gb", "gbyte", "gigabyte", NULL}, 1073741824.0},
    {"TB", {"tb", "tbyte", "terabyte", NULL}, 1099511627776.0},
    {"PB", {"pb", "pbyte", "petabyte", NULL}, 1125899906842624.0},
};

/* "μs" is three bytes long, so sniffing strips its 's' and it never
 * matches; pprof has the same quirk, and we keep it. */
static const struct unit time_units[] = {
    {"ns", {"ns", "nanosecond", NULL}, 1.0},
    {"us", {"\xce\xbcs", "us", "microsecond", NULL}, 1e3},
    {"ms", {"ms", "millisecond", NULL}, 1e6},
    {"s", {"s", "sec", "second", NULL}, 1e9},
    {"hrs", {"hour", "hr", NULL}, 3600e9},
};

static const struct unit gcu_units[] = {
    {"n*GCU", {"nanogcu", NULL}, 1e-9},  {"u*GCU", {"microgcu", NULL}, 1e-6},
    {"m*GCU", {"milligcu", NULL}, 1e-3}, {"GCU", {"gcu", NULL}, 1.0},
    {"k*GCU", {"kilogcu", NULL}, 1e3},   {"M*GCU", {"megagcu", NULL}, 1e6},
    {"G*GCU", {"gigagcu", NULL}, 1e9},   {"T*GCU", {"teragcu", NULL}, 1e12},
    {"P*GCU", {"petagcu", NULL}, 1e15},
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const struct unit_family families[] = {
    {memory_units, N_OF(memory_units), "B", 1.0},
    {time_units, N_OF(time_units), "s", 1e9},
    {gcu_units, N_OF(gcu_units), "GCU", 1.0},
};

/* The unit of `fam` that `name` denotes, or NULL. */
static const struct unit *sniff(const struct unit_family *fam, const char *name)
{
    char low[32];
    size_t n = strlen(name);
    if (n >= sizeof(low))
        return NULL; /* longer than every alias */
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        low[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    if (n > 2 && low[n - 1] == 's')
        n--;
    low[n] = '\0';
    for (size_t i = 0; i < fam->n_units; i++)
        for (const char *const *a = fam->units[i].aliases; *a; a++)
            if (strcmp(*a, low) == 0)
                return &fam->units[i];
    return NULL;
}

static bool is_auto(const char *to_unit)
{
    return strcmp(to_unit, "auto") == 0 || strcmp(to_unit, "minimum") == 0;
}

/* Convert within `fam`; false when from_unit is not in it. */
static bool convert(const struct unit_family *fam, int64_t value,
                    const char *from_unit, const char *to_unit, double *out,
                    const char **unit)
{
    const struct unit *from = sniff(fam, from_unit);
    if (from == NULL)
        return false;
    double v = (double)value * from->factor;
    if (is_auto(to_unit)) {
        double f = 0;
        const char *name = NULL;
        for (size_t i = 0; i < fam->n_units; i++) {
            const struct unit *u = &fam->units[i];
            if (u->factor >= f && v / u->factor >= 1.0) {
                f = u->factor;
                name = u->name;
            }
        }
        if (name != NULL) {
            *out = v / f;
            *unit = name;
            return true;
        }
    } else {
        const struct unit *to = sniff(fam, to_unit);
        if (to != NULL) {
            *out = v / to->factor;
            *unit = to->name;
            return true;
        }
    }
    *out = v / fam->default_factor;
    *unit = fam->default_name;
    return true;
}

double pprof_units_scale(int64_t value, const char *from_unit,
                         const char *to_unit, const char **unit)
{
    const char *dummy;
    if (unit == NULL)
        unit = &dummy;
    if (value < 0 && value != INT64_MIN)
        return -pprof_units_scale(-value, from_unit, to_unit, unit);
    double out;
    for (size_t i = 0; i < N_OF(families); i++)
        if (convert(&families[i], value, from_unit, to_unit, &out, unit))
            return out;
    static const char *const unitless[] = {"count", "sample", "unit", "minimum",
                                           "auto"};
    *unit = to_unit;
    for (size_t i = 0; i < N_OF(unitless); i++)
        if (strcmp(to_unit, unitless[i]) == 0)
            *unit = "";
    return (double)value;
}

char *pprof_units_label(char *dst, int64_t value, const char *from_unit,
                        const char *to_unit)
{
    const char *unit;
    double v = pprof_units_scale(value, from_unit, to_unit, &unit);
    char num[PPROF_UNITS_LABEL_MAX];
    int n = snprintf(num, sizeof(num), "%.2f", v);
    if (n < 0 || (size_t)n >= sizeof(num)) {
        /* Only for values beyond any int64 in any unit: say so plainly. */
        snprintf(dst, PPROF_UNITS_LABEL_MAX, "%g%s", v, unit);
        return dst;
    }
    if (n >= 3 && strcmp(num + n - 3, ".00") == 0)
        num[n - 3] = '\0';
    if (strcmp(num, "0") == 0 || strcmp(num, "-0") == 0) {
        strcpy(dst, "0");
        return dst;
    }
    /* The number always fits; a long caller-given unit is cut to fit. */
    size_t len = strlen(num), ulen = strlen(unit);
    if (ulen > PPROF_UNITS_LABEL_MAX - 1 - len)
        ulen = PPROF_UNITS_LABEL_MAX - 1 - len;
    memcpy(dst, num, len);
    memcpy(dst + len, unit, ulen);
    dst[len + ulen] = '\0';
    return dst;
}

char *pprof_units_percent(char *dst, int64_t value, int64_t total)
{
    double ratio = 0;
    if (total != 0)
        ratio = fabs((double)value / (double)total) * 100;
    if (ratio >= 99.95 && ratio <= 100.05)
        strcpy(dst, "  100%");
    else if (ratio >= 1.0)
        snprintf(dst, PPROF_UNITS_LABEL_MAX, "%5.2f%%", ratio);
    else
        snprintf(dst, PPROF_UNITS_LABEL_MAX, "%5.2g%%", ratio);
    return dst;
}

const char *pprof_units_output_unit(int64_t min_value, int64_t max_value,
                                    const char *sample_unit)
{
    if (min_value == 0)
        min_value = max_value;
    const char *min_unit, *max_unit, *unit;
    pprof_units_scale(min_value, sample_unit, "minimum", &min_unit);
    pprof_units_scale(max_value, sample_unit, "minimum", &max_unit);
    unit = min_unit;
    /* min_value * 100 wraps as Go's int64 arithmetic does. */
    int64_t min100 = (int64_t)((uint64_t)min_value * 100u);
    if (strcmp(min_unit, max_unit) != 0 && min100 < max_value)
        pprof_units_scale(min100, sample_unit, "minimum", &unit);
    return unit[0] != '\0' ? unit : sample_unit;
}
