/* promql-like/functions.c: the functions of the query language (the rows
 * of PQL_FUNCTION_TABLE in ast.h), evaluated at one time.
 *
 * Design. fn_call evaluates the arguments, then dispatches on the
 * function's id to one of a few shapes: element-wise math on a vector
 * (one C function per row, through a table), functions over each series of
 * a range vector (rate, *_over_time, ...), and the special ones (absent,
 * label_replace, sort, the date functions, histogram_quantile). Every row
 * of the table is implemented; an id without a case would be an internal
 * error, reported as such.
 *
 * Semantics are Prometheus' (3.x for windows: a range `x[5m]` at t holds
 * the points in (t-5m, t]), with one difference written in
 * docs/query-evaluation.md: on range series whose points are profile
 * totals (pql_mser.profile), rate and increase sum the points (the
 * profiles are deltas) instead of extrapolating a counter, and irate is
 * the newest total over the time since the one before. Functions drop
 * __name__ from their results as Prometheus does (all but last_over_time,
 * label_replace, label_join, sort and sort_desc).
 *
 * Ownership: values are evaluated into locals and freed with val_free
 * before returning; results are built in `out`.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/hmap.h"
#include "base/labels.h"
#include "base/regex.h"
#include "promql-like/eval_internal.h"

/* ---- Element-wise math -------------------------------------------------- */

static double sgn(double x)
{
    return x > 0 ? 1 : x < 0 ? -1 : x;
}

static double deg(double x)
{
    return x * 180 / M_PI;
}

static double rad(double x)
{
    return x * M_PI / 180;
}

/* The one-argument math function of `id`, or NULL. */
static double (*math_fn(enum pql_func_id id))(double)
{
    switch (id) {
    case PQL_FN_ABS:
        return fabs;
    case PQL_FN_CEIL:
        return ceil;
    case PQL_FN_FLOOR:
        return floor;
    case PQL_FN_EXP:
        return exp;
    case PQL_FN_LN:
        return log;
    case PQL_FN_LOG2:
        return log2;
    case PQL_FN_LOG10:
        return log10;
    case PQL_FN_SQRT:
        return sqrt;
    case PQL_FN_SGN:
        return sgn;
    case PQL_FN_ACOS:
        return acos;
    case PQL_FN_ACOSH:
        return acosh;
    case PQL_FN_ASIN:
        return asin;
    case PQL_FN_ASINH:
        return asinh;
    case PQL_FN_ATAN:
        return atan;
    case PQL_FN_ATANH:
        return atanh;
    case PQL_FN_COS:
        return cos;
    case PQL_FN_COSH:
        return cosh;
    case PQL_FN_SIN:
        return sin;
    case PQL_FN_SINH:
        return sinh;
    case PQL_FN_TAN:
        return tan;
    case PQL_FN_TANH:
        return tanh;
    case PQL_FN_DEG:
        return deg;
    case PQL_FN_RAD:
        return rad;
    default:
        return NULL;
    }
}

/* Prometheus' round: to the nearest multiple of `to`, halves up. */
static double round_to(double x, double to)
{
    double inv = 1.0 / to;
    return floor(x * inv + 0.5) / inv;
}

/* Go's math.Max and math.Min: NaN wins (C's fmax and fmin drop it). */
static double go_max(double a, double b)
{
    return isnan(a) || isnan(b) ? NAN : fmax(a, b);
}

static double go_min(double a, double b)
{
    return isnan(a) || isnan(b) ? NAN : fmin(a, b);
}

/* Element-wise functions with scalar parameters: round, clamp*. */
static double apply_params(enum pql_func_id id, double x, const double *p)
{
    switch (id) {
    case PQL_FN_ROUND:
        return round_to(x, p[0]);
    case PQL_FN_CLAMP:
        return go_max(p[0], go_min(p[1], x));
    case PQL_FN_CLAMP_MIN:
        return go_max(p[0], x);
    case PQL_FN_CLAMP_MAX:
        return go_min(p[0], x);
    default:
        return x;
    }
}

/* ---- Dates -------------------------------------------------------------- */

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static double date_part(enum pql_func_id id, double secs)
{
    if (!(fabs(secs) < 1e15)) /* NaN, infinite, or past any calendar */
        return NAN;
    time_t tt = (time_t)(int64_t)secs;
    struct tm tm;
    if (!gmtime_r(&tt, &tm))
        return NAN;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int year = tm.tm_year + 1900;
    switch (id) {
    case PQL_FN_DAYS_IN_MONTH:
        return mdays[tm.tm_mon] + (tm.tm_mon == 1 && leap(year));
    case PQL_FN_DAY_OF_MONTH:
        return tm.tm_mday;
    case PQL_FN_DAY_OF_WEEK:
        return tm.tm_wday;
    case PQL_FN_DAY_OF_YEAR:
        return tm.tm_yday + 1;
    case PQL_FN_HOUR:
        return tm.tm_hour;
    case PQL_FN_MINUTE:
        return tm.tm_min;
    case PQL_FN_MONTH:
        return tm.tm_mon + 1;
    case PQL_FN_YEAR:
        return year;
    default:
        return NAN;
    }
}

static bool is_date(enum pql_func_id id)
{
    switch (id) {
    case PQL_FN_DAYS_IN_MONTH:
    case PQL_FN_DAY_OF_MONTH:
    case PQL_FN_DAY_OF_WEEK:
    case PQL_FN_DAY_OF_YEAR:
    case PQL_FN_HOUR:
    case PQL_FN_MINUTE:
    case PQL_FN_MONTH:
    case PQL_FN_YEAR:
        return true;
    default:
        return false;
    }
}

/* ---- Range functions ---------------------------------------------------- */

/* Ascending, NaN first (as Go's sort.Float64s). */
static int double_cmp(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    if (isnan(a) || isnan(b))
        return isnan(b) - isnan(a);
    return a < b ? -1 : a > b;
}

double fn_quantile(double q, double *v, size_t n)
{
    if (n == 0 || isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    qsort(v, n, sizeof(*v), double_cmp);
    double rank = q * (double)(n - 1);
    size_t lo = (size_t)fmax(0, floor(rank));
    size_t hi = lo + 1 < n ? lo + 1 : n - 1;
    double w = rank - floor(rank);
    return v[lo] * (1 - w) + v[hi] * w;
}

/* Prometheus' extrapolatedRate (rate, increase, delta on floats). */
static bool extrapolated(const struct pql_mser *s, const struct pql_mat *m,
                         bool counter, bool is_rate, double *out)
{
    if (s->n < 2)
        return false;
    const struct pql_point *p = s->p;
    double result = p[s->n - 1].v - p[0].v;
    if (counter) {
        double last = p[0].v;
        for (size_t i = 1; i < s->n; i++) {
            if (p[i].v < last)
                result += last;
            last = p[i].v;
        }
    }
    double range_start = (double)(m->end_ms - m->range_ms);
    double to_start = ((double)p[0].t_ms - range_start) / 1000;
    double to_end = (double)(m->end_ms - p[s->n - 1].t_ms) / 1000;
    double sampled = (double)(p[s->n - 1].t_ms - p[0].t_ms) / 1000;
    double avg = sampled / (double)(s->n - 1);
    double threshold = avg * 1.1;
    if (to_start >= threshold)
        to_start = avg / 2;
    if (counter && result > 0 && p[0].v >= 0) {
        double to_zero = sampled * (p[0].v / result);
        if (to_zero < to_start)
            to_start = to_zero;
    }
    if (to_end >= threshold)
        to_end = avg / 2;
    double factor = (sampled + to_start + to_end) / sampled;
    if (is_rate)
        factor /= (double)m->range_ms / 1000;
    *out = result * factor;
    return true;
}

/* Least squares slope and intercept at `t0` (Prometheus' linearRegression). */
static void regression(const struct pql_mser *s, int64_t t0, double *slope,
                       double *intercept)
{
    double n = 0, sx = 0, sy = 0, sxy = 0, sx2 = 0;
    bool const_y = true;
    for (size_t i = 0; i < s->n; i++) {
        if (i > 0 && s->p[i].v != s->p[0].v)
            const_y = false;
        double x = (double)(s->p[i].t_ms - t0) / 1000;
        n += 1;
        sx += x;
        sy += s->p[i].v;
        sxy += x * s->p[i].v;
        sx2 += x * x;
    }
    if (const_y) {
        *slope = isinf(s->p[0].v) ? NAN : 0;
        *intercept = isinf(s->p[0].v) ? NAN : s->p[0].v;
        return;
    }
    double cov = sxy - sx * sy / n, var = sx2 - sx * sx / n;
    *slope = cov / var;
    *intercept = sy / n - *slope * sx / n;
}

static double trend(size_t i, double tf, double s0, double s1, double b)
{
    if (i == 0)
        return b;
    return tf * (s1 - s0) + (1 - tf) * b;
}

/* The value of range function `id` over series `s` of `m`; false when the
 * series gives no output. `p` holds the scalar parameters. */
static bool range_value(enum pql_func_id id, const struct pql_mser *s,
                        const struct pql_mat *m, const double *p, int64_t t,
                        double *out)
{
    const struct pql_point *pt = s->p;
    size_t n = s->n;
    double sum = 0, x;
    switch (id) {
    case PQL_FN_RATE:
    case PQL_FN_INCREASE:
        if (s->profile) {
            for (size_t i = 0; i < n; i++)
                sum += pt[i].v;
            *out = id == PQL_FN_RATE ? sum / ((double)m->range_ms / 1000) : sum;
            return true;
        }
        return extrapolated(s, m, true, id == PQL_FN_RATE, out);
    case PQL_FN_DELTA:
        return extrapolated(s, m, false, false, out);
    case PQL_FN_IRATE:
    case PQL_FN_IDELTA:
        if (n < 2 || pt[n - 1].t_ms == pt[n - 2].t_ms)
            return false;
        x = pt[n - 1].v - pt[n - 2].v;
        if (id == PQL_FN_IRATE) {
            if (s->profile || pt[n - 1].v < pt[n - 2].v)
                x = pt[n - 1].v;
            x /= (double)(pt[n - 1].t_ms - pt[n - 2].t_ms) / 1000;
        }
        *out = x;
        return true;
    case PQL_FN_DERIV:
        if (n < 2)
            return false;
        regression(s, pt[0].t_ms, out, &x);
        return true;
    case PQL_FN_PREDICT_LINEAR:
        if (n < 2)
            return false;
        regression(s, t, &x, out);
        *out += x * p[0];
        return true;
    case PQL_FN_CHANGES:
    case PQL_FN_RESETS:
        for (size_t i = 1; i < n; i++) {
            double a = pt[i - 1].v, b = pt[i].v;
            if (id == PQL_FN_CHANGES)
                sum += a != b && !(isnan(a) && isnan(b));
            else
                sum += b < a;
        }
        *out = sum;
        return true;
    case PQL_FN_SUM_OVER_TIME:
    case PQL_FN_AVG_OVER_TIME:
        for (size_t i = 0; i < n; i++)
            sum += pt[i].v;
        *out = id == PQL_FN_SUM_OVER_TIME ? sum : sum / (double)n;
        return true;
    case PQL_FN_MIN_OVER_TIME:
    case PQL_FN_MAX_OVER_TIME:
        x = pt[0].v;
        for (size_t i = 1; i < n; i++) {
            bool better =
                id == PQL_FN_MAX_OVER_TIME ? pt[i].v > x : pt[i].v < x;
            if (better || isnan(x))
                x = pt[i].v;
        }
        *out = x;
        return true;
    case PQL_FN_COUNT_OVER_TIME:
        *out = (double)n;
        return true;
    case PQL_FN_LAST_OVER_TIME:
        *out = pt[n - 1].v;
        return true;
    case PQL_FN_PRESENT_OVER_TIME:
        *out = 1;
        return true;
    case PQL_FN_STDDEV_OVER_TIME:
    case PQL_FN_STDVAR_OVER_TIME: {
        double mean = 0, m2 = 0;
        for (size_t i = 0; i < n; i++) {
            double d = pt[i].v - mean;
            mean += d / (double)(i + 1);
            m2 += d * (pt[i].v - mean);
        }
        *out = m2 / (double)n;
        if (id == PQL_FN_STDDEV_OVER_TIME)
            *out = sqrt(*out);
        return true;
    }
    case PQL_FN_QUANTILE_OVER_TIME: {
        double *v = kb_calloc(n + 1, sizeof(double));
        for (size_t i = 0; i < n; i++)
            v[i] = pt[i].v;
        *out = fn_quantile(p[0], v, n);
        free(v);
        return true;
    }
    case PQL_FN_HOLT_WINTERS: {
        if (n < 2)
            return false;
        double s0 = 0, s1 = pt[0].v, b = pt[1].v - pt[0].v;
        for (size_t i = 1; i < n; i++) {
            double xs = p[0] * pt[i].v;
            b = trend(i - 1, p[1], s0, s1, b);
            double y = (1 - p[0]) * (s1 + b);
            s0 = s1;
            s1 = xs + y;
        }
        *out = s1;
        return true;
    }
    default:
        return false;
    }
}

/* ---- Helpers ------------------------------------------------------------ */

/* Evaluate the arguments of `e` into args[] (scalars, strings, vectors or
 * range vectors). */
static enum kb_status eval_args(struct ev *ev, const struct pql_call *c,
                                int64_t t, unsigned split, struct pql_val *args)
{
    for (size_t i = 0; i < c->n_args; i++) {
        enum kb_status st = ev_eval(ev, c->args[i], t, split, &args[i]);
        if (st != KB_OK)
            return st;
    }
    return KB_OK;
}

/* The labels of absent(): the equality matchers of a selector argument. */
static enum kb_status absent_labels(struct ev *ev, const struct pql_expr *arg,
                                    struct labels **out)
{
    struct labels_builder *b = labels_builder_new();
    struct hmap *seen = hmap_new(0);
    struct kb_err ke;
    enum kb_status st = KB_OK;
    while (arg->kind == PQL_PAREN)
        arg = arg->u.paren;
    if (arg->kind == PQL_VECTOR_SEL || arg->kind == PQL_MATRIX_SEL) {
        const struct pql_selector *sel = &arg->u.sel;
        for (size_t i = 0; i < sel->n_matchers && st == KB_OK; i++) {
            const struct pql_matcher *m = &sel->matchers[i];
            if (m->type != PQL_MATCH_EQ || !strcmp(m->name, LABEL_NAME) ||
                !strcmp(m->name, PQL_LABEL_FUNCTION) ||
                !strcmp(m->name, PQL_LABEL_LEAF))
                continue;
            bool dup;
            hmap_put(seen, m->name, strlen(m->name), &dup);
            st = labels_builder_set(b, m->name, dup ? "" : m->value, &ke);
        }
    }
    if (st == KB_OK)
        st = labels_builder_finish(b, out, &ke);
    if (st != KB_OK)
        ev_fail(ev, PQL_ERR_EXECUTION, "%s", ke.msg);
    hmap_free(seen);
    labels_builder_free(b);
    return st;
}

/* Go's regexp.Expand of `tmpl` for label_replace: $1, ${1}, $name,
 * ${name}, $$. */
static void expand_template(const struct kb_regex *re, const char *src,
                            const struct kb_regex_span *g, size_t n_g,
                            const char *tmpl, struct buf *out)
{
    buf_reset(out);
    for (const char *p = tmpl; *p;) {
        if (*p != '$') {
            buf_putc(out, *p++);
            continue;
        }
        if (p[1] == '$') {
            buf_putc(out, '$');
            p += 2;
            continue;
        }
        const char *name = p + 1, *end;
        bool brace = *name == '{';
        if (brace)
            name++;
        end = name;
        while (*end == '_' || (*end >= '0' && *end <= '9') ||
               (*end >= 'a' && *end <= 'z') || (*end >= 'A' && *end <= 'Z'))
            end++;
        if (end == name || (brace && *end != '}')) {
            buf_putc(out, '$'); /* malformed: a literal $ */
            p++;
            continue;
        }
        char nm[256];
        size_t len = (size_t)(end - name) < sizeof(nm) - 1
                         ? (size_t)(end - name)
                         : sizeof(nm) - 1;
        memcpy(nm, name, len);
        nm[len] = '\0';
        long idx = -1;
        if (strspn(nm, "0123456789") == len)
            idx = len < 10 ? strtol(nm, NULL, 10) : -1;
        else
            idx = kb_regex_group_index(re, nm);
        if (idx >= 0 && (size_t)idx < n_g && g[idx].start != KB_REGEX_UNSET)
            buf_append(out, src + g[idx].start, g[idx].end - g[idx].start);
        p = brace ? end + 1 : end;
    }
}

static enum kb_status fn_label_replace(struct ev *ev, const struct pql_expr *e,
                                       struct pql_val *args, int64_t t,
                                       struct pql_val *out)
{
    const char *dst = args[1].str, *repl = args[2].str, *src = args[3].str;
    struct kb_regex *re;
    enum kb_status st = ev_regex(ev, e, args[4].str, "label_replace", &re);
    if (st != KB_OK)
        return st;
    if (!labels_name_valid(dst, strlen(dst)))
        return ev_fail(ev, PQL_ERR_EXECUTION,
                       "invalid destination label name in label_replace(): "
                       "%s",
                       dst);
    size_t n_g = kb_regex_group_count(re) + 1;
    struct kb_regex_span *g = kb_calloc(n_g, sizeof(*g));
    struct labels_builder *b = labels_builder_new();
    struct buf val;
    buf_init(&val, BUF_NO_LIMIT);
    struct kb_err ke;
    for (size_t i = 0; i < args[0].vec.n && st == KB_OK; i++) {
        const struct pql_elem *x = &args[0].vec.e[i];
        const char *sv = labels_get(x->ls, src);
        sv = sv ? sv : "";
        bool matched = false;
        if (kb_regex_exec_groups(re, sv, strlen(sv), g, n_g, &matched, &ke) !=
            KB_OK) {
            st = ev_fail(ev, PQL_ERR_EXECUTION, "label_replace(): %s", ke.msg);
            break;
        }
        struct labels *ls = NULL;
        if (!matched) {
            ls = labels_dup(x->ls);
        } else {
            expand_template(re, sv, g, n_g, repl, &val);
            labels_builder_reset(b, x->ls);
            if (labels_builder_set(b, dst, buf_cstr(&val), &ke) != KB_OK ||
                labels_builder_finish(b, &ls, &ke) != KB_OK) {
                st = ev_fail(ev, PQL_ERR_EXECUTION, "label_replace(): %s",
                             ke.msg);
                break;
            }
        }
        st = vec_push(ev, &out->vec, ls, x->v, t);
    }
    buf_free(&val);
    labels_builder_free(b);
    free(g);
    return st;
}

static enum kb_status fn_label_join(struct ev *ev, const struct pql_call *c,
                                    struct pql_val *args, int64_t t,
                                    struct pql_val *out)
{
    const char *dst = args[1].str, *sep = args[2].str;
    if (!labels_name_valid(dst, strlen(dst)))
        return ev_fail(ev, PQL_ERR_EXECUTION,
                       "invalid destination label name in label_join(): %s",
                       dst);
    for (size_t k = 3; k < c->n_args; k++)
        if (!labels_name_valid(args[k].str, strlen(args[k].str)))
            return ev_fail(ev, PQL_ERR_EXECUTION,
                           "invalid source label name in label_join(): %s",
                           args[k].str);
    struct labels_builder *b = labels_builder_new();
    struct buf val;
    buf_init(&val, BUF_NO_LIMIT);
    struct kb_err ke;
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < args[0].vec.n && st == KB_OK; i++) {
        const struct pql_elem *x = &args[0].vec.e[i];
        buf_reset(&val);
        for (size_t k = 3; k < c->n_args; k++) {
            const char *v = labels_get(x->ls, args[k].str);
            if (k > 3)
                buf_puts(&val, sep);
            buf_puts(&val, v ? v : "");
        }
        struct labels *ls = NULL;
        labels_builder_reset(b, x->ls);
        if (labels_builder_set(b, dst, buf_cstr(&val), &ke) != KB_OK ||
            labels_builder_finish(b, &ls, &ke) != KB_OK) {
            st = ev_fail(ev, PQL_ERR_EXECUTION, "label_join(): %s", ke.msg);
            break;
        }
        st = vec_push(ev, &out->vec, ls, x->v, t);
    }
    buf_free(&val);
    labels_builder_free(b);
    return st;
}

struct sortable {
    double v;
    size_t i;
};

static int sort_asc_cmp(const void *pa, const void *pb)
{
    const struct sortable *a = pa, *b = pb;
    if (isnan(a->v) || isnan(b->v)) {
        if (isnan(a->v) != isnan(b->v))
            return isnan(a->v) ? 1 : -1;
    } else if (a->v != b->v) {
        return a->v < b->v ? -1 : 1;
    }
    return a->i < b->i ? -1 : a->i > b->i;
}

static int sort_desc_cmp(const void *pa, const void *pb)
{
    const struct sortable *a = pa, *b = pb;
    if (!isnan(a->v) && !isnan(b->v) && a->v != b->v)
        return a->v > b->v ? -1 : 1;
    return sort_asc_cmp(pa, pb);
}

static enum kb_status fn_sort(struct ev *ev, bool desc, struct pql_vec *v,
                              struct pql_val *out)
{
    struct sortable *s = kb_calloc(v->n + 1, sizeof(*s));
    for (size_t i = 0; i < v->n; i++)
        s[i] = (struct sortable){v->e[i].v, i};
    qsort(s, v->n, sizeof(*s), desc ? sort_desc_cmp : sort_asc_cmp);
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < v->n && st == KB_OK; i++) {
        struct pql_elem *x = &v->e[s[i].i];
        st = vec_push(ev, &out->vec, x->ls, x->v, x->t);
        x->ls = NULL;
    }
    free(s);
    return st;
}

/* ---- histogram_quantile ------------------------------------------------- */

struct bucket {
    double le, count;
};

static int bucket_cmp(const void *pa, const void *pb)
{
    double a = ((const struct bucket *)pa)->le;
    double b = ((const struct bucket *)pb)->le;
    return a < b ? -1 : a > b;
}

/* Prometheus' bucketQuantile over classic `le` buckets. */
static double bucket_quantile(double q, struct bucket *b, size_t n)
{
    if (isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    qsort(b, n, sizeof(*b), bucket_cmp);
    if (n == 0 || !isinf(b[n - 1].le) || b[n - 1].le < 0)
        return NAN;
    size_t m = 0; /* merge equal bounds, then make counts monotonic */
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && b[m - 1].le == b[i].le)
            b[m - 1].count += b[i].count;
        else
            b[m++] = b[i];
    }
    n = m;
    for (size_t i = 1; i < n; i++)
        if (b[i].count < b[i - 1].count)
            b[i].count = b[i - 1].count;
    if (n < 2 || b[n - 1].count == 0)
        return NAN;
    double rank = q * b[n - 1].count;
    size_t i = 0;
    while (i < n - 1 && b[i].count < rank)
        i++;
    if (i == n - 1)
        return b[n - 2].le;
    if (i == 0 && b[0].le <= 0)
        return b[0].le;
    double start = 0, end = b[i].le, count = b[i].count;
    if (i > 0) {
        start = b[i - 1].le;
        count -= b[i - 1].count;
        rank -= b[i - 1].count;
    }
    return start + (end - start) * (rank / count);
}

/* The buckets of one histogram (labels without le and __name__). */
struct hgroup {
    struct labels *ls;
    struct bucket *b;
    size_t n, cap;
};

static enum kb_status fn_histogram_quantile(struct ev *ev, double q,
                                            struct pql_vec *v, int64_t t,
                                            struct pql_val *out)
{
    struct hmap *idx = hmap_new(0);
    struct hgroup *g = NULL;
    size_t n_g = 0, cap_g = 0;
    struct buf key;
    buf_init(&key, BUF_NO_LIMIT);
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < v->n; i++) {
        const char *les = labels_get(v->e[i].ls, "le");
        char *end;
        double bound = les ? strtod(les, &end) : 0;
        if (!les || *end != '\0' || end == les)
            continue;
        buf_reset(&key);
        for (size_t k = 0; k < labels_count(v->e[i].ls); k++) {
            const struct label *l = labels_at(v->e[i].ls, k);
            if (strcmp(l->name, "le") && strcmp(l->name, LABEL_NAME)) {
                buf_puts(&key, l->name);
                buf_putc(&key, '\xff');
                buf_puts(&key, l->value);
                buf_putc(&key, '\xff');
            }
        }
        bool found;
        uint64_t *slot = hmap_put(idx, key.data, key.len, &found);
        if (!found) {
            g = kb_grow(g, &cap_g, n_g + 1, sizeof(*g));
            memset(&g[n_g], 0, sizeof(g[n_g]));
            struct labels_builder *b = labels_builder_new();
            labels_builder_reset(b, v->e[i].ls);
            labels_builder_del(b, "le");
            labels_builder_del(b, LABEL_NAME);
            if (labels_builder_finish(b, &g[n_g].ls, NULL) != KB_OK)
                g[n_g].ls = labels_new_empty();
            labels_builder_free(b);
            *slot = ++n_g;
        }
        struct hgroup *gr = &g[*slot - 1];
        gr->b = kb_grow(gr->b, &gr->cap, gr->n + 1, sizeof(*gr->b));
        gr->b[gr->n++] = (struct bucket){bound, v->e[i].v};
    }
    for (size_t i = 0; i < n_g; i++) {
        double x = bucket_quantile(q, g[i].b, g[i].n);
        if (st == KB_OK) {
            st = vec_push(ev, &out->vec, g[i].ls, x, t);
            g[i].ls = NULL;
        }
        labels_free(g[i].ls);
        free(g[i].b);
    }
    free(g);
    hmap_free(idx);
    buf_free(&key);
    return st;
}

/* ---- Dispatch ----------------------------------------------------------- */

static bool is_range_fn(const struct pql_function *f)
{
    for (size_t i = 0; i < f->n_types; i++)
        if (f->types[i] == PQL_TYPE_MATRIX)
            return true;
    return false;
}

/* Range functions over every series of the range vector among `args`. */
static enum kb_status fn_range(struct ev *ev, const struct pql_call *c,
                               struct pql_val *args, int64_t t,
                               struct pql_val *out)
{
    const struct pql_mat *m = NULL;
    double p[2] = {0, 0};
    size_t np = 0;
    for (size_t i = 0; i < c->n_args; i++) {
        if (args[i].type == PQL_TYPE_MATRIX)
            m = &args[i].mat;
        else if (np < 2)
            p[np++] = args[i].scalar;
    }
    enum pql_func_id id = c->func->id;
    if (id == PQL_FN_HOLT_WINTERS) {
        if (!(p[0] > 0 && p[0] < 1))
            return ev_fail(ev, PQL_ERR_EXECUTION,
                           "invalid smoothing factor. Expected: 0 < sf < 1, "
                           "got: %g",
                           p[0]);
        if (!(p[1] > 0 && p[1] < 1))
            return ev_fail(ev, PQL_ERR_EXECUTION,
                           "invalid trend factor. Expected: 0 < tf < 1, got: "
                           "%g",
                           p[1]);
    }
    if (id == PQL_FN_ABSENT_OVER_TIME) {
        struct labels *ls;
        if (m->n > 0)
            return KB_OK;
        enum kb_status st = absent_labels(ev, c->args[0], &ls);
        return st == KB_OK ? vec_push(ev, &out->vec, ls, 1, t) : st;
    }
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < m->n && st == KB_OK; i++) {
        double x;
        if ((st = ev_check(ev)) != KB_OK)
            break;
        if (m->s[i].n == 0 || !range_value(id, &m->s[i], m, p, t, &x))
            continue;
        struct labels *ls = id == PQL_FN_LAST_OVER_TIME
                                ? labels_dup(m->s[i].ls)
                                : labels_drop_name(m->s[i].ls);
        st = vec_push(ev, &out->vec, ls, x, t);
    }
    return st;
}

/* rate, increase, sum_over_time of a split profile selector: window sums
 * without per-profile points. *done says whether it applied. */
static enum kb_status fn_split_sums(struct ev *ev, const struct pql_call *c,
                                    int64_t t, unsigned split,
                                    struct pql_val *out, bool *done)
{
    enum pql_func_id id = c->func->id;
    *done = false;
    if (!split || c->args[0]->kind != PQL_MATRIX_SEL ||
        (id != PQL_FN_RATE && id != PQL_FN_INCREASE &&
         id != PQL_FN_SUM_OVER_TIME))
        return KB_OK;
    struct pql_vec v = {0};
    enum kb_status st =
        ev_profile_window_sums(ev, c->args[0], t, split, &v, done);
    double secs = (double)c->args[0]->u.sel.range_ms / 1000;
    for (size_t i = 0; i < v.n && st == KB_OK; i++)
        st = vec_push(ev, &out->vec, labels_drop_name(v.e[i].ls),
                      id == PQL_FN_RATE ? v.e[i].v / secs : v.e[i].v, t);
    struct pql_val tmp = {.type = PQL_TYPE_VECTOR, .vec = v};
    val_free(ev, &tmp);
    return st;
}

enum kb_status fn_call(struct ev *ev, const struct pql_expr *e, int64_t t,
                       unsigned split, struct pql_val *out)
{
    const struct pql_call *c = &e->u.call;
    enum pql_func_id id = c->func->id;
    struct pql_val args[PQL_FUNC_ARGS_MAX + 1];
    size_t n_alloc = c->n_args;
    struct pql_val *a = args;
    bool done;
    out->type = c->func->ret;
    enum kb_status st = fn_split_sums(ev, c, t, split, out, &done);
    if (st != KB_OK || done)
        return st;
    if (n_alloc > PQL_FUNC_ARGS_MAX)
        a = kb_calloc(n_alloc, sizeof(*a));
    memset(a, 0, sizeof(*a) * (n_alloc > 0 ? n_alloc : 1));
    if ((st = eval_args(ev, c, t, split, a)) != KB_OK)
        goto done;
    double (*f)(double) = math_fn(id);
    if (f || id == PQL_FN_ROUND || id == PQL_FN_CLAMP ||
        id == PQL_FN_CLAMP_MIN || id == PQL_FN_CLAMP_MAX) {
        double p[2] = {1, 0};
        for (size_t i = 1; i < c->n_args && i < 3; i++)
            p[i - 1] = a[i].scalar;
        if (id == PQL_FN_CLAMP && p[1] < p[0])
            goto done; /* max < min: nothing */
        for (size_t i = 0; i < a[0].vec.n && st == KB_OK; i++) {
            double x = a[0].vec.e[i].v;
            x = f ? f(x) : apply_params(id, x, p);
            st = vec_push(ev, &out->vec, labels_drop_name(a[0].vec.e[i].ls), x,
                          t);
        }
    } else if (is_date(id)) {
        if (c->n_args == 0) {
            st = vec_push(ev, &out->vec, labels_new_empty(),
                          date_part(id, (double)t / 1000), t);
        }
        for (size_t i = 0; c->n_args > 0 && i < a[0].vec.n && st == KB_OK; i++)
            st = vec_push(ev, &out->vec, labels_drop_name(a[0].vec.e[i].ls),
                          date_part(id, a[0].vec.e[i].v), t);
    } else if (is_range_fn(c->func)) {
        st = fn_range(ev, c, a, t, out);
    } else {
        switch (id) {
        case PQL_FN_TIME:
            out->scalar = (double)t / 1000;
            break;
        case PQL_FN_PI:
            out->scalar = M_PI;
            break;
        case PQL_FN_VECTOR:
            st = vec_push(ev, &out->vec, labels_new_empty(), a[0].scalar, t);
            break;
        case PQL_FN_SCALAR:
            out->scalar = a[0].vec.n == 1 ? a[0].vec.e[0].v : NAN;
            break;
        case PQL_FN_TIMESTAMP:
            for (size_t i = 0; i < a[0].vec.n && st == KB_OK; i++)
                st = vec_push(ev, &out->vec, labels_drop_name(a[0].vec.e[i].ls),
                              (double)a[0].vec.e[i].t / 1000, t);
            break;
        case PQL_FN_SORT:
        case PQL_FN_SORT_DESC:
            st = fn_sort(ev, id == PQL_FN_SORT_DESC, &a[0].vec, out);
            break;
        case PQL_FN_ABSENT:
            if (a[0].vec.n == 0) {
                struct labels *ls;
                if ((st = absent_labels(ev, c->args[0], &ls)) == KB_OK)
                    st = vec_push(ev, &out->vec, ls, 1, t);
            }
            break;
        case PQL_FN_LABEL_REPLACE:
            st = fn_label_replace(ev, e, a, t, out);
            break;
        case PQL_FN_LABEL_JOIN:
            st = fn_label_join(ev, c, a, t, out);
            break;
        case PQL_FN_HISTOGRAM_QUANTILE:
            st = fn_histogram_quantile(ev, a[0].scalar, &a[1].vec, t, out);
            break;
        default:
            st = ev_fail(ev, PQL_ERR_INTERNAL, "function %s is not implemented",
                         c->func->name);
        }
    }
done:
    for (size_t i = 0; i < n_alloc; i++)
        val_free(ev, &a[i]);
    if (a != args)
        free(a);
    return st;
}
