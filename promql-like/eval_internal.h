/* promql-like/eval_internal.h: the evaluator's private types, shared by
 * eval.c (tree walk, selectors, operators, aggregations), functions.c (the
 * function table) and value.c (results). Not part of the public API. */
#ifndef KILN_PROMQL_LIKE_EVAL_INTERNAL_H
#define KILN_PROMQL_LIKE_EVAL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "promql-like/ast.h"
#include "promql-like/eval.h"

struct labels;
struct ev;

/* One instant-vector element. `ls` is owned by the element. `t` is the
 * time of the sample a selector read (what timestamp() returns); every
 * computed element has the evaluation time. */
struct pql_elem {
    struct labels *ls;
    double v;
    int64_t t;
};

struct pql_vec {
    struct pql_elem *e;
    size_t n, cap;
};

/* One series of a range vector. `profile` marks points that are profile
 * totals (rate, increase and irate then sum instead of taking differences,
 * docs/query-evaluation.md). */
struct pql_mser {
    struct labels *ls;
    struct pql_point *p;
    size_t n, cap;
    bool profile;
};

/* A range vector over the window (end - range, end]. */
struct pql_mat {
    struct pql_mser *s;
    size_t n, cap;
    int64_t range_ms, end_ms;
};

/* A value of any type. Only the member of `type` is meaningful; `str`
 * points into the tree. */
struct pql_val {
    enum pql_type type;
    double scalar;
    const char *str;
    struct pql_vec vec;
    struct pql_mat mat;
};

/* ---- Provided by eval.c ---- */

/* Fail the query with `type` and a message; returns KB_ERR_INVALID, or
 * KB_ERR_LIMIT for timeouts and limits. */
enum kb_status ev_fail(struct ev *ev, enum pql_error_type type, const char *fmt,
                       ...) __attribute__((format(printf, 3, 4)));
/* The deadline, cancel and sample-limit check every loop makes. */
enum kb_status ev_check(struct ev *ev);
/* Count `n` more samples in memory (fails past max_samples) or, with a
 * negative n, fewer. */
enum kb_status ev_samples(struct ev *ev, long long n);
/* Evaluate `e` at `t` with the split flags of the enclosing aggregation. */
enum kb_status ev_eval(struct ev *ev, const struct pql_expr *e, int64_t t,
                       unsigned split, struct pql_val *out);

/* Append an element (taking `ls`) / a point. */
enum kb_status vec_push(struct ev *ev, struct pql_vec *v, struct labels *ls,
                        double x, int64_t t);
enum kb_status mser_push(struct ev *ev, struct pql_mser *s, int64_t t,
                         double x);
void val_free(struct ev *ev, struct pql_val *v);
/* A copy of `ls` without __name__. */
struct labels *labels_drop_name(const struct labels *ls);
/* Fail with "vector cannot contain metrics with the same labelset" when
 * two elements of `v` have equal labels. */
enum kb_status vec_check_unique(struct ev *ev, const struct pql_vec *v);
/* The compiled anchored regex for the string argument of the call node
 * `e`, compiled once per query; execution error naming `fn` when invalid. */
enum kb_status ev_regex(struct ev *ev, const struct pql_expr *e,
                        const char *pattern, const char *fn,
                        struct kb_regex **out);

/* For rate, increase and sum_over_time of a profile range selector `e`
 * under a split: the window's sums per (series, split key), with the
 * selector's labels plus the split labels, at time `t`; one pass over the
 * window's pairs, then one expansion per distinct stack. *handled is false
 * (nothing done) when the selector is not split or selects float series;
 * the caller then evaluates the general way. */
enum kb_status ev_profile_window_sums(struct ev *ev, const struct pql_expr *e,
                                      int64_t t, unsigned split,
                                      struct pql_vec *out, bool *handled);

/* ---- Provided by functions.c ---- */

/* Evaluate the call `e` at `t`. */
enum kb_status fn_call(struct ev *ev, const struct pql_expr *e, int64_t t,
                       unsigned split, struct pql_val *out);
/* Prometheus' quantile of values[0..n) (sorted in place). */
double fn_quantile(double q, double *values, size_t n);

/* Split flags: which stack labels an enclosing aggregation groups by. */
#define PQL_SPLIT_FUNCTION 1u
#define PQL_SPLIT_LEAF 2u

#define PQL_LABEL_FUNCTION "__function__"
#define PQL_LABEL_LEAF "__leaf__"

#endif
