/* base/metrics.c: the metrics registry and its text exposition.
 *
 * What. Kiln's own instrumentation: counters, gauges, histograms and
 * function-backed series, exposed on GET /metrics in the Prometheus text
 * format 0.0.4 (HELP, TYPE, one line per series, histograms as cumulative
 * _bucket lines, _sum and _count).
 *
 * Design. A registry holds families (name, help, type, histogram bounds)
 * and series (a family plus a sorted label set). Two hash maps find them:
 * family name -> family, and "name\0l1\0v1\0l2\0v2\0..." (labels sorted by
 * name) -> series, so get-or-create is one lookup under the registry's
 * mutex whatever the label order the caller used. Series are allocated one
 * by one and never move or die before the registry, so the pointers handed
 * out stay valid and hot paths keep them.
 *
 * Updates are lock-free: a value is a double stored as its bits in an
 * _Atomic uint64_t, set with a store and added to with a compare-exchange
 * loop. A histogram keeps per-bucket (not cumulative) counts as atomic
 * integers and its sum as atomic double bits; _count is the sum of the
 * bucket counts read at exposition, so _count always equals the +Inf
 * bucket even while observations race with a scrape (the sum may lag or
 * lead by the observations in flight).
 *
 * Exposition copies the series pointers under the mutex, then sorts and
 * formats without it: function series are called without the lock, so
 * they may take their own locks (or even create metrics) freely. A family
 * name, help, type and bounds, and a series' labels and function never
 * change after creation, which is what makes reading them unlocked safe.
 *
 * Ownership: the registry owns every family, series and string in it.
 * Process metrics (process_*) are function series reading /proc/self.
 */
#include "base/metrics.h"

#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/hmap.h"
#include "base/jsonw.h"
#include "base/text.h"

/* Labels per series; more is a programming error. */
#define METRICS_LABELS_MAX 16

enum family_type { TYPE_COUNTER, TYPE_GAUGE, TYPE_HISTOGRAM };
enum series_kind { KIND_VALUE, KIND_FUNC, KIND_HISTOGRAM };

static const char *const type_names[] = {"counter", "gauge", "histogram"};

struct family {
    char *name;
    char *help;
    enum family_type type;
    double *bounds; /* histograms: n_bounds finite, increasing bounds */
    size_t n_bounds;
};

struct series {
    struct family *fam;
    enum series_kind kind;
    size_t n_labels;
    char **labels;           /* 2 * n_labels: name, value; by name */
    _Atomic uint64_t bits;   /* KIND_VALUE: the value's bits */
    double (*fn)(void *arg); /* KIND_FUNC */
    void *arg;
    _Atomic uint64_t sum_bits; /* KIND_HISTOGRAM: the sum's bits */
    _Atomic uint64_t *buckets; /* n_bounds + 1 counts, the last +Inf */
};

/* The public types are the series under three names, so that a counter
 * cannot be passed where a gauge is expected. Every series is allocated
 * as this union; each member starts with the series. */
struct metrics_counter {
    struct series s;
};
struct metrics_gauge {
    struct series s;
};
struct metrics_histogram {
    struct series s;
};
union any_series {
    struct metrics_counter c;
    struct metrics_gauge g;
    struct metrics_histogram h;
};

struct metrics_registry {
    pthread_mutex_t mu;
    struct hmap *by_name; /* family name -> struct family * */
    struct hmap *by_key;  /* series key -> struct series * */
    struct family **fams;
    size_t n_fams, cap_fams;
    struct series **series;
    size_t n_series, cap_series;
};

const double metrics_duration_bounds[] = {0.1, 0.2, 0.4, 1, 3, 8, 20, 60, 120};
const size_t metrics_n_duration_bounds =
    sizeof(metrics_duration_bounds) / sizeof(metrics_duration_bounds[0]);

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("metrics: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (a bug in Kiln)\n", stderr);
    va_end(ap);
    abort();
}

static double from_bits(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

static uint64_t to_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

static void atomic_add_double(_Atomic uint64_t *p, double v)
{
    uint64_t old = atomic_load_explicit(p, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(
        p, &old, to_bits(from_bits(old) + v), memory_order_relaxed,
        memory_order_relaxed))
        ;
}

struct metrics_registry *metrics_registry_new(void)
{
    struct metrics_registry *r = kb_calloc(1, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    r->by_name = hmap_new(64);
    r->by_key = hmap_new(256);
    return r;
}

void metrics_registry_free(struct metrics_registry *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_series; i++) {
        struct series *s = r->series[i];
        for (size_t j = 0; j < 2 * s->n_labels; j++)
            free(s->labels[j]);
        free(s->labels);
        free(s->buckets);
        free(s);
    }
    for (size_t i = 0; i < r->n_fams; i++) {
        free(r->fams[i]->name);
        free(r->fams[i]->help);
        free(r->fams[i]->bounds);
        free(r->fams[i]);
    }
    free(r->series);
    free(r->fams);
    hmap_free(r->by_name);
    hmap_free(r->by_key);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static bool name_valid(const char *s, bool colons)
{
    if (s == NULL || s[0] == '\0' || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (; *s != '\0'; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || (colons && c == ':')))
            return false;
    }
    return true;
}

/* The labels of one call, validated and sorted by name. */
struct label_args {
    const char *pair[METRICS_LABELS_MAX][2];
    size_t n;
};

static void read_labels(const char *metric, enum family_type type, va_list ap,
                        struct label_args *la)
{
    la->n = 0;
    const char *name;
    while ((name = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);
        if (value == NULL)
            die("%s: label %s has no value", metric, name);
        if (!name_valid(name, false) || strncmp(name, "__", 2) == 0 ||
            (type == TYPE_HISTOGRAM && strcmp(name, "le") == 0))
            die("%s: invalid label name \"%s\"", metric, name);
        if (la->n == METRICS_LABELS_MAX)
            die("%s: more than %d labels", metric, METRICS_LABELS_MAX);
        size_t i = la->n++;
        while (i > 0 && strcmp(la->pair[i - 1][0], name) > 0) {
            la->pair[i][0] = la->pair[i - 1][0];
            la->pair[i][1] = la->pair[i - 1][1];
            i--;
        }
        if (i > 0 && strcmp(la->pair[i - 1][0], name) == 0)
            die("%s: label %s given twice", metric, name);
        la->pair[i][0] = name;
        la->pair[i][1] = value;
    }
}

static struct family *get_family(struct metrics_registry *r, const char *name,
                                 const char *help, enum family_type type,
                                 const double *bounds, size_t n_bounds)
{
    if (!name_valid(name, true))
        die("invalid metric name \"%s\"", name ? name : "(null)");
    bool found;
    uint64_t *slot = hmap_put(r->by_name, name, strlen(name), &found);
    if (found) {
        struct family *f = (struct family *)(uintptr_t)*slot;
        if (f->type != type)
            die("%s registered as a %s, then as a %s", name,
                type_names[f->type], type_names[type]);
        if (type == TYPE_HISTOGRAM &&
            (f->n_bounds != n_bounds ||
             (n_bounds > 0 &&
              memcmp(f->bounds, bounds, n_bounds * sizeof(double)) != 0)))
            die("%s registered with two sets of bucket bounds", name);
        return f;
    }
    for (size_t i = 0; i < n_bounds; i++)
        if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
            die("%s: bucket bounds must be finite and increasing", name);
    struct family *f = kb_calloc(1, sizeof(*f));
    f->name = kb_strdup(name);
    f->help = kb_strdup(help != NULL ? help : "");
    f->type = type;
    if (n_bounds > 0) {
        f->bounds = kb_malloc(n_bounds * sizeof(double));
        memcpy(f->bounds, bounds, n_bounds * sizeof(double));
    }
    f->n_bounds = n_bounds;
    *slot = (uint64_t)(uintptr_t)f;
    r->fams = kb_grow(r->fams, &r->cap_fams, r->n_fams + 1, sizeof(*r->fams));
    r->fams[r->n_fams++] = f;
    return f;
}

/* The one get-or-create behind every public constructor. For KIND_FUNC the
 * series must be new; fn and arg are stored in it. */
static struct series *get_series(struct metrics_registry *r, const char *name,
                                 const char *help, enum family_type type,
                                 enum series_kind kind, const double *bounds,
                                 size_t n_bounds, double (*fn)(void *),
                                 void *arg, va_list ap)
{
    struct label_args la;
    read_labels(name, type, ap, &la);
    struct buf key;
    buf_init(&key, BUF_NO_LIMIT);
    buf_append(&key, name, strlen(name) + 1);
    for (size_t i = 0; i < la.n; i++) {
        buf_append(&key, la.pair[i][0], strlen(la.pair[i][0]) + 1);
        buf_append(&key, la.pair[i][1], strlen(la.pair[i][1]) + 1);
    }

    pthread_mutex_lock(&r->mu);
    struct family *f = get_family(r, name, help, type, bounds, n_bounds);
    bool found;
    uint64_t *slot = hmap_put(r->by_key, key.data, key.len, &found);
    buf_free(&key);
    struct series *s;
    if (found) {
        s = (struct series *)(uintptr_t)*slot;
        if (s->kind != kind || kind == KIND_FUNC)
            die("%s: a series registered twice as a function, or both "
                "as a function and as a value",
                name);
        goto out;
    }
    union any_series *u = kb_calloc(1, sizeof(*u));
    s = &u->c.s;
    s->fam = f;
    s->kind = kind;
    s->n_labels = la.n;
    s->labels = kb_calloc(2 * la.n + 1, sizeof(char *));
    for (size_t i = 0; i < la.n; i++) {
        s->labels[2 * i] = kb_strdup(la.pair[i][0]);
        s->labels[2 * i + 1] = kb_strdup(la.pair[i][1]);
    }
    s->fn = fn;
    s->arg = arg;
    if (kind == KIND_HISTOGRAM)
        s->buckets = kb_calloc(f->n_bounds + 1, sizeof(*s->buckets));
    *slot = (uint64_t)(uintptr_t)s;
    r->series =
        kb_grow(r->series, &r->cap_series, r->n_series + 1, sizeof(*r->series));
    r->series[r->n_series++] = s;
out:
    pthread_mutex_unlock(&r->mu);
    return s;
}

struct metrics_counter *metrics_counter(struct metrics_registry *r,
                                        const char *name, const char *help, ...)
{
    va_list ap;
    va_start(ap, help);
    struct series *s = get_series(r, name, help, TYPE_COUNTER, KIND_VALUE, NULL,
                                  0, NULL, NULL, ap);
    va_end(ap);
    return (struct metrics_counter *)s;
}

void metrics_counter_add(struct metrics_counter *c, double v)
{
    if (!(v >= 0))
        die("%s: counter increment %g is not >= 0", c->s.fam->name, v);
    atomic_add_double(&c->s.bits, v);
}

double metrics_counter_value(const struct metrics_counter *c)
{
    return from_bits(atomic_load_explicit(&c->s.bits, memory_order_relaxed));
}

struct metrics_gauge *metrics_gauge(struct metrics_registry *r,
                                    const char *name, const char *help, ...)
{
    va_list ap;
    va_start(ap, help);
    struct series *s = get_series(r, name, help, TYPE_GAUGE, KIND_VALUE, NULL,
                                  0, NULL, NULL, ap);
    va_end(ap);
    return (struct metrics_gauge *)s;
}

void metrics_gauge_set(struct metrics_gauge *g, double v)
{
    atomic_store_explicit(&g->s.bits, to_bits(v), memory_order_relaxed);
}

void metrics_gauge_add(struct metrics_gauge *g, double v)
{
    atomic_add_double(&g->s.bits, v);
}

double metrics_gauge_value(const struct metrics_gauge *g)
{
    return from_bits(atomic_load_explicit(&g->s.bits, memory_order_relaxed));
}

struct metrics_histogram *metrics_histogram(struct metrics_registry *r,
                                            const char *name, const char *help,
                                            const double *bounds,
                                            size_t n_bounds, ...)
{
    va_list ap;
    va_start(ap, n_bounds);
    struct series *s = get_series(r, name, help, TYPE_HISTOGRAM, KIND_HISTOGRAM,
                                  bounds, n_bounds, NULL, NULL, ap);
    va_end(ap);
    return (struct metrics_histogram *)s;
}

void metrics_histogram_observe(struct metrics_histogram *h, double v)
{
    const struct family *f = h->s.fam;
    /* The first bound >= v; NaN lands in +Inf. */
    size_t lo = 0, hi = f->n_bounds;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->bounds[mid] >= v)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (isnan(v))
        lo = f->n_bounds;
    atomic_fetch_add_explicit(&h->s.buckets[lo], 1, memory_order_relaxed);
    atomic_add_double(&h->s.sum_bits, v);
}

void metrics_gauge_func(struct metrics_registry *r, const char *name,
                        const char *help, double (*fn)(void *arg), void *arg,
                        ...)
{
    va_list ap;
    va_start(ap, arg);
    get_series(r, name, help, TYPE_GAUGE, KIND_FUNC, NULL, 0, fn, arg, ap);
    va_end(ap);
}

void metrics_counter_func(struct metrics_registry *r, const char *name,
                          const char *help, double (*fn)(void *arg), void *arg,
                          ...)
{
    va_list ap;
    va_start(ap, arg);
    get_series(r, name, help, TYPE_COUNTER, KIND_FUNC, NULL, 0, fn, arg, ap);
    va_end(ap);
}

/* Exposition. */

static int series_cmp(const void *pa, const void *pb)
{
    const struct series *a = *(struct series *const *)pa;
    const struct series *b = *(struct series *const *)pb;
    int c = strcmp(a->fam->name, b->fam->name);
    if (c != 0)
        return c;
    size_t n = a->n_labels < b->n_labels ? a->n_labels : b->n_labels;
    for (size_t i = 0; i < 2 * n; i++)
        if ((c = strcmp(a->labels[i], b->labels[i])) != 0)
            return c;
    return (a->n_labels > b->n_labels) - (a->n_labels < b->n_labels);
}

/* Append `s` with `\` and newline escaped (and `"` when `quote`), invalid
 * UTF-8 bytes replaced by U+FFFD. */
static void put_escaped(struct buf *out, const char *s, bool quote)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t n = strlen(s);
    while (n > 0) {
        size_t k = kb_utf8_seq(p, n, NULL);
        if (k == 0) {
            buf_puts(out, "\xEF\xBF\xBD");
            k = 1;
        } else if (*p == '\\') {
            buf_puts(out, "\\\\");
        } else if (*p == '\n') {
            buf_puts(out, "\\n");
        } else if (*p == '"' && quote) {
            buf_puts(out, "\\\"");
        } else {
            buf_append(out, p, k);
        }
        p += k;
        n -= k;
    }
}

/* One sample line: name+suffix{labels[,le="le"]} value. */
static void put_line(struct buf *out, const struct series *s,
                     const char *suffix, const char *le, const char *value)
{
    buf_puts(out, s->fam->name);
    buf_puts(out, suffix);
    if (s->n_labels > 0 || le != NULL) {
        buf_putc(out, '{');
        for (size_t i = 0; i < s->n_labels; i++) {
            buf_printf(out, "%s%s=\"", i > 0 ? "," : "", s->labels[2 * i]);
            put_escaped(out, s->labels[2 * i + 1], true);
            buf_putc(out, '"');
        }
        if (le != NULL)
            buf_printf(out, "%sle=\"%s\"", s->n_labels > 0 ? "," : "", le);
        buf_putc(out, '}');
    }
    buf_printf(out, " %s\n", value);
}

static void put_series(struct buf *out, const struct series *s)
{
    char num[JSONW_DOUBLE_STR_MAX], le[JSONW_DOUBLE_STR_MAX];
    switch (s->kind) {
    case KIND_VALUE:
        put_line(out, s, "", NULL,
                 jsonw_fmt_double(from_bits(atomic_load_explicit(
                                      &s->bits, memory_order_relaxed)),
                                  num));
        return;
    case KIND_FUNC:
        put_line(out, s, "", NULL, jsonw_fmt_double(s->fn(s->arg), num));
        return;
    case KIND_HISTOGRAM:
        break;
    }
    const struct family *f = s->fam;
    uint64_t cum = 0;
    for (size_t i = 0; i <= f->n_bounds; i++) {
        cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        snprintf(num, sizeof(num), "%" PRIu64, cum);
        put_line(out, s, "_bucket",
                 i < f->n_bounds ? jsonw_fmt_double(f->bounds[i], le) : "+Inf",
                 num);
    }
    put_line(out, s, "_sum", NULL,
             jsonw_fmt_double(from_bits(atomic_load_explicit(
                                  &s->sum_bits, memory_order_relaxed)),
                              le));
    put_line(out, s, "_count", NULL, num);
}

enum kb_status metrics_write(struct metrics_registry *r, struct buf *out,
                             struct kb_err *err)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->n_series;
    struct series **snap = kb_malloc((n + 1) * sizeof(*snap));
    memcpy(snap, r->series, n * sizeof(*snap));
    pthread_mutex_unlock(&r->mu);
    qsort(snap, n, sizeof(*snap), series_cmp);

    /* Each family header and series is formatted in `text`, then appended
     * to `out` at once: the only failure is `out`'s limit. */
    struct buf text;
    buf_init(&text, BUF_NO_LIMIT);
    enum kb_status st = KB_OK;
    size_t start = out->len;
    for (size_t i = 0; i < n && st == KB_OK; i++) {
        const struct family *f = snap[i]->fam;
        buf_reset(&text);
        if (i == 0 || snap[i - 1]->fam != f) {
            buf_printf(&text, "# HELP %s ", f->name);
            put_escaped(&text, f->help, false);
            buf_printf(&text, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
        }
        put_series(&text, snap[i]);
        st = buf_append(out, text.data, text.len);
    }
    buf_free(&text);
    free(snap);
    if (st != KB_OK) {
        out->len = start;
        if (out->cap > 0)
            out->data[start] = '\0';
        return kb_errf(err, st, "metrics exposition larger than %zu bytes",
                       out->limit);
    }
    return KB_OK;
}

/* Process metrics, from /proc/self. */

enum proc_field { PROC_CPU, PROC_RSS, PROC_VSIZE, PROC_START };
static const enum proc_field proc_fields[] = {PROC_CPU, PROC_RSS, PROC_VSIZE,
                                              PROC_START};

/* The boot time in seconds since the epoch, from /proc/stat's btime. */
static double boot_time(void)
{
    FILE *fp = fopen("/proc/stat", "re");
    if (fp == NULL)
        return NAN;
    char *line = NULL;
    size_t cap = 0;
    double t = NAN;
    while (getline(&line, &cap, fp) > 0) {
        unsigned long long v;
        if (sscanf(line, "btime %llu", &v) == 1) {
            t = (double)v;
            break;
        }
    }
    free(line);
    fclose(fp);
    return t;
}

static double proc_stat(void *arg)
{
    enum proc_field field = *(const enum proc_field *)arg;
    char text[4096];
    FILE *fp = fopen("/proc/self/stat", "re");
    if (fp == NULL)
        return NAN;
    size_t n = fread(text, 1, sizeof(text) - 1, fp);
    fclose(fp);
    text[n] = '\0';
    /* The command name (field 2) is in parentheses and may hold anything,
     * parentheses included: fields 3 on start after the last ')'. */
    const char *p = strrchr(text, ')');
    unsigned long long utime, stime, start, vsize;
    long long rss;
    if (p == NULL ||
        sscanf(p + 1,
               " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
               "%*d %*d %*d %*d %*d %*d %llu %llu %lld",
               &utime, &stime, &start, &vsize, &rss) != 5)
        return NAN;
    double tick = (double)sysconf(_SC_CLK_TCK);
    switch (field) {
    case PROC_CPU:
        return (double)(utime + stime) / tick;
    case PROC_RSS:
        return (double)rss * (double)sysconf(_SC_PAGESIZE);
    case PROC_VSIZE:
        return (double)vsize;
    case PROC_START:
        break;
    }
    return boot_time() + (double)start / tick;
}

static double proc_open_fds(void *arg)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return NAN;
    double n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* opendir's own descriptor */
}

static double proc_max_fds(void *arg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return NAN;
    return rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur;
}

void metrics_register_process(struct metrics_registry *r)
{
    metrics_counter_func(r, "process_cpu_seconds_total",
                         "Total user and system CPU time spent in seconds.",
                         proc_stat, (void *)&proc_fields[PROC_CPU], NULL);
    metrics_gauge_func(r, "process_resident_memory_bytes",
                       "Resident memory size in bytes.", proc_stat,
                       (void *)&proc_fields[PROC_RSS], NULL);
    metrics_gauge_func(r, "process_virtual_memory_bytes",
                       "Virtual memory size in bytes.", proc_stat,
                       (void *)&proc_fields[PROC_VSIZE], NULL);
    metrics_gauge_func(r, "process_start_time_seconds",
                       "Start time of the process since unix epoch in "
                       "seconds.",
                       proc_stat, (void *)&proc_fields[PROC_START], NULL);
    metrics_gauge_func(r, "process_open_fds",
                       "Number of open file "
                       "descriptors.",
                       proc_open_fds, NULL, NULL);
    metrics_gauge_func(r, "process_max_fds",
                       "Maximum number of open file descriptors.", proc_max_fds,
                       NULL, NULL);
}
