/* promql-like/value.c: the engine's options, error types and results:
 * defaults, Prometheus' errorType strings and HTTP statuses, freeing, and
 * the JSON of the query API's "data" object.
 *
 * Design. A result is plain data (eval.h) that the evaluator fills and the
 * caller owns; the JSON writer follows Prometheus' API exactly: times as
 * seconds (a number with at most three decimals), values as strings, so
 * Prometheus clients parse it unchanged. */
#include <stdlib.h>

#include "base/jsonw.h"
#include "base/labels.h"
#include "promql-like/eval.h"

void pql_engine_options_default(struct pql_engine_options *o)
{
    *o = (struct pql_engine_options){
        .timeout_ms = 120000,
        .max_series = 100000,
        .max_samples = 50000000,
        .lookback_ms = 300000,
        .subquery_step_ms = 60000,
        .max_steps = 11000,
        .cancel = NULL,
    };
}

const char *pql_error_type_str(enum pql_error_type t)
{
    switch (t) {
    case PQL_ERR_NONE:
        return "";
    case PQL_ERR_BAD_DATA:
        return "bad_data";
    case PQL_ERR_EXECUTION:
        return "execution";
    case PQL_ERR_TIMEOUT:
        return "timeout";
    case PQL_ERR_CANCELED:
        return "canceled";
    case PQL_ERR_INTERNAL:
        return "internal";
    }
    return "internal";
}

int pql_error_http_status(enum pql_error_type t)
{
    switch (t) {
    case PQL_ERR_NONE:
        return 200;
    case PQL_ERR_BAD_DATA:
        return 400;
    case PQL_ERR_EXECUTION:
        return 422;
    case PQL_ERR_TIMEOUT:
    case PQL_ERR_CANCELED:
        return 503;
    case PQL_ERR_INTERNAL:
        return 500;
    }
    return 500;
}

void pql_result_free(struct pql_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_series; i++) {
        labels_free(r->series[i].labels);
        free(r->series[i].points);
    }
    free(r->series);
    free(r->string);
    free(r);
}

size_t pql_result_points(const struct pql_result *r)
{
    if (r->type == PQL_TYPE_SCALAR || r->type == PQL_TYPE_STRING)
        return 1;
    size_t n = 0;
    for (size_t i = 0; i < r->n_series; i++)
        n += r->series[i].n_points;
    return n;
}

/* Milliseconds as seconds the way Prometheus writes them: 1.5, 1700000000,
 * -0.001 (the shortest decimal of t / 1000 has at most three decimals). */
static void write_time(struct jsonw *w, int64_t t)
{
    jsonw_double(w, (double)t / 1000);
}

static void write_point(struct jsonw *w, int64_t t, double v)
{
    jsonw_array_begin(w);
    write_time(w, t);
    jsonw_double_string(w, v);
    jsonw_array_end(w);
}

static void write_metric(struct jsonw *w, const struct labels *ls)
{
    jsonw_key(w, "metric");
    jsonw_object_begin(w);
    for (size_t i = 0; i < labels_count(ls); i++) {
        const struct label *l = labels_at(ls, i);
        jsonw_keyn(w, l->name, l->name_len);
        jsonw_stringn(w, l->value, l->value_len);
    }
    jsonw_object_end(w);
}

void pql_result_json(const struct pql_result *r, struct jsonw *w)
{
    static const char *const names[] = {
        [PQL_TYPE_SCALAR] = "scalar",
        [PQL_TYPE_VECTOR] = "vector",
        [PQL_TYPE_MATRIX] = "matrix",
        [PQL_TYPE_STRING] = "string",
    };
    jsonw_object_begin(w);
    jsonw_key(w, "resultType");
    jsonw_string(w, names[r->type]);
    jsonw_key(w, "result");
    if (r->type == PQL_TYPE_SCALAR) {
        write_point(w, r->t_ms, r->scalar);
    } else if (r->type == PQL_TYPE_STRING) {
        jsonw_array_begin(w);
        write_time(w, r->t_ms);
        jsonw_string(w, r->string);
        jsonw_array_end(w);
    } else {
        jsonw_array_begin(w);
        for (size_t i = 0; i < r->n_series; i++) {
            const struct pql_series *s = &r->series[i];
            jsonw_object_begin(w);
            write_metric(w, s->labels);
            if (r->type == PQL_TYPE_VECTOR) {
                jsonw_key(w, "value");
                write_point(w, s->points[0].t_ms, s->points[0].v);
            } else {
                jsonw_key(w, "values");
                jsonw_array_begin(w);
                for (size_t k = 0; k < s->n_points; k++)
                    write_point(w, s->points[k].t_ms, s->points[k].v);
                jsonw_array_end(w);
            }
            jsonw_object_end(w);
        }
        jsonw_array_end(w);
    }
    jsonw_object_end(w);
}
