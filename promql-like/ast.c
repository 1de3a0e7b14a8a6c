/* promql-like/ast.c: the function table, the names of types and
 * operators, the printer and the comparison of syntax trees (ast.h).
 *
 * Design. The function table is generated from PQL_FUNCTION_TABLE in
 * ast.h, so its rows are in enum pql_func_id order: functions[id].id ==
 * id. The printer writes canonical PromQL in Prometheus' layout (its
 * String() methods), with three deliberate differences: numbers are
 * written in the shortest form that reads back to the same double (fixed
 * notation from 1e-6 to below 1e21, exponent notation outside), where
 * Prometheus writes every digit of 1e300; +Inf is written "Inf", since
 * "+Inf" would read back as a unary plus where a sign binds differently
 * (-+Inf ^ x); and strings keep non-ASCII UTF-8 as it is.
 * The printer writes parentheses only where the tree has PQL_PAREN nodes:
 * parsed trees always have them where precedence requires, so printing
 * and parsing again gives an equal tree (test_pql_parser and the fuzz
 * target check this).
 *
 * Invariants: the printer and the comparison recurse once per tree level,
 * bounded by the parser's depth limit.
 *
 * Ownership: nothing here allocates except through the caller's buf.
 */
#include "promql-like/ast.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PQL_FN_ROW_(id, nm, rt, mn, mx, ...)                                   \
    {PQL_FN_##id,                                                              \
     nm,                                                                       \
     rt,                                                                       \
     mn,                                                                       \
     mx,                                                                       \
     sizeof((enum pql_type[]){__VA_ARGS__}) / sizeof(enum pql_type),           \
     {__VA_ARGS__}},
static const struct pql_function functions[] = {
    PQL_FUNCTION_TABLE(PQL_FN_ROW_)};
#undef PQL_FN_ROW_

const struct pql_function *pql_function_lookup(const char *name, size_t len)
{
    for (size_t i = 0; i < PQL_FN_COUNT_; i++)
        if (strlen(functions[i].name) == len &&
            memcmp(functions[i].name, name, len) == 0)
            return &functions[i];
    return NULL;
}

const struct pql_function *pql_function_get(enum pql_func_id id)
{
    return &functions[id];
}

enum pql_type pql_function_arg_type(const struct pql_function *f, size_t i)
{
    return f->types[i < f->n_types ? i : f->n_types - 1];
}

const char *pql_type_str(enum pql_type t)
{
    switch (t) {
    case PQL_TYPE_SCALAR:
        return "scalar";
    case PQL_TYPE_VECTOR:
        return "instant vector";
    case PQL_TYPE_MATRIX:
        return "range vector";
    case PQL_TYPE_STRING:
        return "string";
    }
    return "invalid";
}

const char *pql_match_type_str(enum pql_match_type t)
{
    static const char *const s[] = {"=", "!=", "=~", "!~"};
    return s[t];
}

static const struct {
    const char *text;
    int prec;
} binops[] = {
    [PQL_OP_ADD] = {"+", 4},       [PQL_OP_SUB] = {"-", 4},
    [PQL_OP_MUL] = {"*", 5},       [PQL_OP_DIV] = {"/", 5},
    [PQL_OP_MOD] = {"%", 5},       [PQL_OP_POW] = {"^", 6},
    [PQL_OP_ATAN2] = {"atan2", 5}, [PQL_OP_EQ] = {"==", 3},
    [PQL_OP_NE] = {"!=", 3},       [PQL_OP_GT] = {">", 3},
    [PQL_OP_LT] = {"<", 3},        [PQL_OP_GE] = {">=", 3},
    [PQL_OP_LE] = {"<=", 3},       [PQL_OP_AND] = {"and", 2},
    [PQL_OP_OR] = {"or", 1},       [PQL_OP_UNLESS] = {"unless", 2},
};

const char *pql_binop_str(enum pql_binop op)
{
    return binops[op].text;
}

int pql_binop_precedence(enum pql_binop op)
{
    return binops[op].prec;
}

bool pql_binop_is_comparison(enum pql_binop op)
{
    return binops[op].prec == 3;
}

bool pql_binop_is_set(enum pql_binop op)
{
    return op == PQL_OP_AND || op == PQL_OP_OR || op == PQL_OP_UNLESS;
}

const char *pql_aggop_str(enum pql_aggop op)
{
    static const char *const s[] = {
        [PQL_AGG_SUM] = "sum",
        [PQL_AGG_AVG] = "avg",
        [PQL_AGG_MIN] = "min",
        [PQL_AGG_MAX] = "max",
        [PQL_AGG_COUNT] = "count",
        [PQL_AGG_GROUP] = "group",
        [PQL_AGG_STDDEV] = "stddev",
        [PQL_AGG_STDVAR] = "stdvar",
        [PQL_AGG_TOPK] = "topk",
        [PQL_AGG_BOTTOMK] = "bottomk",
        [PQL_AGG_QUANTILE] = "quantile",
        [PQL_AGG_COUNT_VALUES] = "count_values",
    };
    return s[op];
}

bool pql_aggop_has_param(enum pql_aggop op)
{
    return op == PQL_AGG_TOPK || op == PQL_AGG_BOTTOMK ||
           op == PQL_AGG_QUANTILE || op == PQL_AGG_COUNT_VALUES;
}

/* ---- Printing ----------------------------------------------------------- */

static enum kb_status put_zeros(struct buf *b, int n)
{
    enum kb_status st = KB_OK;
    for (int i = 0; i < n && st == KB_OK; i++)
        st = buf_putc(b, '0');
    return st;
}

/* The shortest decimal form of `v` that strtod reads back exactly: fixed
 * notation when the decimal point falls within 6 places left of the
 * digits to 21 right, exponent notation otherwise. */
static enum kb_status put_number(struct buf *b, double v)
{
    if (isnan(v))
        return buf_puts(b, "NaN");
    if (isinf(v))
        return buf_puts(b, v > 0 ? "Inf" : "-Inf");
    char e[40];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec, v);
        if (strtod(e, NULL) == v)
            break;
    }
    /* e is [-]d[.ddd]e[+-]xx: collect the digits and the exponent. */
    const char *s = e;
    char digits[24];
    int nd = 0;
    enum kb_status st = KB_OK;
    if (*s == '-') {
        st = buf_putc(b, '-');
        s++;
    }
    for (; *s != 'e'; s++)
        if (*s != '.')
            digits[nd++] = *s;
    int exp10 = atoi(s + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    int point = exp10 + 1; /* digits before the decimal point */
    if (st != KB_OK)
        return st;
    if (point > 21 || point < -5)
        return buf_printf(b, "%c%s%se%c%d", digits[0], nd > 1 ? "." : "",
                          digits + 1, exp10 < 0 ? '-' : '+', abs(exp10));
    if (point <= 0) {
        if ((st = buf_puts(b, "0.")) != KB_OK ||
            (st = put_zeros(b, -point)) != KB_OK)
            return st;
        return buf_puts(b, digits);
    }
    if (point >= nd) {
        if ((st = buf_puts(b, digits)) != KB_OK)
            return st;
        return put_zeros(b, point - nd);
    }
    return buf_printf(b, "%.*s.%s", point, digits, digits + point);
}

/* `s` double-quoted with Go's escapes. */
static enum kb_status put_quoted(struct buf *b, const char *s)
{
    static const char esc_from[] = "\a\b\f\n\r\t\v\"\\";
    static const char esc_to[] = "abfnrtv\"\\";
    enum kb_status st = buf_putc(b, '"');
    for (; *s != '\0' && st == KB_OK; s++) {
        unsigned char c = (unsigned char)*s;
        const char *p = strchr(esc_from, c);
        if (p != NULL)
            st = buf_printf(b, "\\%c", esc_to[p - esc_from]);
        else if (c < 0x20 || c == 0x7f)
            st = buf_printf(b, "\\x%02x", c);
        else
            st = buf_putc(b, (char)c);
    }
    return st != KB_OK ? st : buf_putc(b, '"');
}

/* A duration as Prometheus prints one: "0s", "1h30m", "90d", "1w". Years
 * and weeks only when nothing is left over. */
static enum kb_status put_duration(struct buf *b, int64_t ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
        bool exact;
    } units[] = {
        {"y", INT64_C(365) * 24 * 3600 * 1000, true},
        {"w", INT64_C(7) * 24 * 3600 * 1000, true},
        {"d", INT64_C(24) * 3600 * 1000, false},
        {"h", INT64_C(3600) * 1000, false},
        {"m", INT64_C(60) * 1000, false},
        {"s", 1000, false},
        {"ms", 1, false},
    };
    if (ms == 0)
        return buf_puts(b, "0s");
    enum kb_status st = KB_OK;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && st == KB_OK;
         i++) {
        if (units[i].exact && ms % units[i].ms != 0)
            continue;
        int64_t v = ms / units[i].ms;
        if (v > 0) {
            st = buf_printf(b, "%" PRId64 "%s", v, units[i].unit);
            ms -= v * units[i].ms;
        }
    }
    return st;
}

/* " @ ..." and " offset ..." when set. */
static enum kb_status put_modifiers(struct buf *b,
                                    const struct pql_modifiers *m)
{
    enum kb_status st = KB_OK;
    if (m->at == PQL_AT_START) {
        st = buf_puts(b, " @ start()");
    } else if (m->at == PQL_AT_END) {
        st = buf_puts(b, " @ end()");
    } else if (m->at == PQL_AT_TIME) {
        int64_t a = m->at_ms < 0 ? -m->at_ms : m->at_ms;
        st = buf_printf(b, " @ %s%" PRId64 ".%03" PRId64,
                        m->at_ms < 0 ? "-" : "", a / 1000, a % 1000);
    }
    if (st != KB_OK || m->offset_ms == 0)
        return st;
    if ((st = buf_puts(b, m->offset_ms < 0 ? " offset -" : " offset ")) !=
        KB_OK)
        return st;
    return put_duration(b, m->offset_ms < 0 ? -m->offset_ms : m->offset_ms);
}

/* " (a, b)" */
static enum kb_status put_labels(struct buf *b, const struct pql_label_list *l)
{
    enum kb_status st = buf_puts(b, " (");
    for (size_t i = 0; i < l->n && st == KB_OK; i++)
        st = buf_printf(b, "%s%s", i ? ", " : "", l->names[i]);
    return st != KB_OK ? st : buf_putc(b, ')');
}

static enum kb_status put_selector(struct buf *b, const struct pql_selector *s)
{
    enum kb_status st = KB_OK;
    size_t n = s->n_matchers - (s->name != NULL);
    if (s->name != NULL && (st = buf_puts(b, s->name)) != KB_OK)
        return st;
    if (n > 0 || s->name == NULL) {
        st = buf_putc(b, '{');
        for (size_t i = 0; i < n && st == KB_OK; i++) {
            const struct pql_matcher *m = &s->matchers[i];
            if ((st = buf_printf(b, "%s%s%s", i ? "," : "", m->name,
                                 pql_match_type_str(m->type))) == KB_OK)
                st = put_quoted(b, m->value);
        }
        if (st == KB_OK)
            st = buf_putc(b, '}');
    }
    if (st == KB_OK && s->range_ms > 0) {
        if ((st = buf_putc(b, '[')) != KB_OK ||
            (st = put_duration(b, s->range_ms)) != KB_OK ||
            (st = buf_putc(b, ']')) != KB_OK)
            return st;
    }
    return st != KB_OK ? st : put_modifiers(b, &s->mod);
}

static enum kb_status put_binary(struct buf *b, const struct pql_binary *x)
{
    enum kb_status st;
    if ((st = pql_format(x->lhs, b)) != KB_OK ||
        (st = buf_printf(b, " %s%s", pql_binop_str(x->op),
                         x->return_bool ? " bool" : "")) != KB_OK)
        return st;
    bool group =
        x->card == PQL_CARD_MANY_TO_ONE || x->card == PQL_CARD_ONE_TO_MANY;
    if (x->on || x->matching.n > 0 || group) {
        if ((st = buf_puts(b, x->on ? " on" : " ignoring")) != KB_OK ||
            (st = put_labels(b, &x->matching)) != KB_OK)
            return st;
    }
    if (group) {
        if ((st = buf_puts(b, x->card == PQL_CARD_MANY_TO_ONE
                                  ? " group_left"
                                  : " group_right")) != KB_OK ||
            (st = put_labels(b, &x->include)) != KB_OK)
            return st;
    }
    if ((st = buf_putc(b, ' ')) != KB_OK)
        return st;
    return pql_format(x->rhs, b);
}

static enum kb_status put_aggregate(struct buf *b,
                                    const struct pql_aggregate *a)
{
    enum kb_status st = buf_puts(b, pql_aggop_str(a->op));
    if (st == KB_OK && (a->without || a->grouping.n > 0)) {
        if ((st = buf_puts(b, a->without ? " without" : " by")) != KB_OK ||
            (st = put_labels(b, &a->grouping)) != KB_OK ||
            (st = buf_putc(b, ' ')) != KB_OK)
            return st;
    }
    if (st == KB_OK)
        st = buf_putc(b, '(');
    if (st == KB_OK && a->param != NULL) {
        if ((st = pql_format(a->param, b)) != KB_OK ||
            (st = buf_puts(b, ", ")) != KB_OK)
            return st;
    }
    if (st == KB_OK)
        st = pql_format(a->expr, b);
    return st != KB_OK ? st : buf_putc(b, ')');
}

enum kb_status pql_format(const struct pql_expr *e, struct buf *b)
{
    enum kb_status st = KB_OK;
    switch (e->kind) {
    case PQL_NUMBER:
        return put_number(b, e->u.number);
    case PQL_STRING:
        return put_quoted(b, e->u.string);
    case PQL_VECTOR_SEL:
    case PQL_MATRIX_SEL:
        return put_selector(b, &e->u.sel);
    case PQL_SUBQUERY: {
        const struct pql_subquery *q = &e->u.subquery;
        if ((st = pql_format(q->expr, b)) != KB_OK ||
            (st = buf_putc(b, '[')) != KB_OK ||
            (st = put_duration(b, q->range_ms)) != KB_OK ||
            (st = buf_putc(b, ':')) != KB_OK)
            return st;
        if (q->step_ms > 0 && (st = put_duration(b, q->step_ms)) != KB_OK)
            return st;
        if ((st = buf_putc(b, ']')) != KB_OK)
            return st;
        return put_modifiers(b, &q->mod);
    }
    case PQL_PAREN:
        if ((st = buf_putc(b, '(')) != KB_OK ||
            (st = pql_format(e->u.paren, b)) != KB_OK)
            return st;
        return buf_putc(b, ')');
    case PQL_UNARY:
        if ((st = buf_puts(b, pql_binop_str(e->u.unary.op))) != KB_OK)
            return st;
        return pql_format(e->u.unary.expr, b);
    case PQL_BINARY:
        return put_binary(b, &e->u.binary);
    case PQL_AGGREGATE:
        return put_aggregate(b, &e->u.agg);
    case PQL_CALL:
        st = buf_printf(b, "%s(", e->u.call.func->name);
        for (size_t i = 0; i < e->u.call.n_args && st == KB_OK; i++) {
            if (i > 0)
                st = buf_puts(b, ", ");
            if (st == KB_OK)
                st = pql_format(e->u.call.args[i], b);
        }
        return st != KB_OK ? st : buf_putc(b, ')');
    }
    return st;
}

/* ---- Comparison --------------------------------------------------------- */

static bool str_eq(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool labels_eq(const struct pql_label_list *a,
                      const struct pql_label_list *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (!str_eq(a->names[i], b->names[i]))
            return false;
    return true;
}

static bool mods_eq(const struct pql_modifiers *a,
                    const struct pql_modifiers *b)
{
    return a->offset_ms == b->offset_ms && a->at == b->at &&
           (a->at != PQL_AT_TIME || a->at_ms == b->at_ms);
}

static bool selector_eq(const struct pql_selector *a,
                        const struct pql_selector *b)
{
    if (!str_eq(a->name, b->name) || a->n_matchers != b->n_matchers ||
        a->range_ms != b->range_ms || !mods_eq(&a->mod, &b->mod))
        return false;
    for (size_t i = 0; i < a->n_matchers; i++) {
        const struct pql_matcher *x = &a->matchers[i], *y = &b->matchers[i];
        if (x->type != y->type || !str_eq(x->name, y->name) ||
            !str_eq(x->value, y->value))
            return false;
    }
    return true;
}

static bool number_eq(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

bool pql_expr_equal(const struct pql_expr *a, const struct pql_expr *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    if (a->kind != b->kind || a->type != b->type)
        return false;
    switch (a->kind) {
    case PQL_NUMBER:
        return number_eq(a->u.number, b->u.number);
    case PQL_STRING:
        return str_eq(a->u.string, b->u.string);
    case PQL_VECTOR_SEL:
    case PQL_MATRIX_SEL:
        return selector_eq(&a->u.sel, &b->u.sel);
    case PQL_SUBQUERY:
        return a->u.subquery.range_ms == b->u.subquery.range_ms &&
               a->u.subquery.step_ms == b->u.subquery.step_ms &&
               mods_eq(&a->u.subquery.mod, &b->u.subquery.mod) &&
               pql_expr_equal(a->u.subquery.expr, b->u.subquery.expr);
    case PQL_PAREN:
        return pql_expr_equal(a->u.paren, b->u.paren);
    case PQL_UNARY:
        return a->u.unary.op == b->u.unary.op &&
               pql_expr_equal(a->u.unary.expr, b->u.unary.expr);
    case PQL_BINARY: {
        const struct pql_binary *x = &a->u.binary, *y = &b->u.binary;
        return x->op == y->op && x->return_bool == y->return_bool &&
               x->card == y->card && x->on == y->on &&
               labels_eq(&x->matching, &y->matching) &&
               labels_eq(&x->include, &y->include) &&
               pql_expr_equal(x->lhs, y->lhs) && pql_expr_equal(x->rhs, y->rhs);
    }
    case PQL_AGGREGATE: {
        const struct pql_aggregate *x = &a->u.agg, *y = &b->u.agg;
        return x->op == y->op && x->without == y->without &&
               labels_eq(&x->grouping, &y->grouping) &&
               pql_expr_equal(x->param, y->param) &&
               pql_expr_equal(x->expr, y->expr);
    }
    case PQL_CALL: {
        const struct pql_call *x = &a->u.call, *y = &b->u.call;
        if (x->func != y->func || x->n_args != y->n_args)
            return false;
        for (size_t i = 0; i < x->n_args; i++)
            if (!pql_expr_equal(x->args[i], y->args[i]))
                return false;
        return true;
    }
    }
    return false;
}
