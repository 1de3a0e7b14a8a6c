/* promql-like/ast.h: the syntax tree of a Kiln query (PromQL's grammar as
 * Prometheus 2.x parses it), the static types, the function table, and the
 * tree's printer and comparison. The parser (parser.h) builds trees; the
 * evaluator walks them. docs/query-language.md is the user's reference.
 * See ast.c.
 *
 * Reading a tree. A parsed query is a `struct pql_ast` (opaque) whose root
 * is a `struct pql_expr`. Every node has a kind, the static type the
 * parser checked, a dense id and the byte span of its text. The parser has
 * done every static check PromQL does (argument types, aggregation over a
 * vector, `bool` only on comparisons, set operators only between vectors,
 * grouping only between vectors, ...), so an evaluator may rely on the
 * invariants written next to each field below. Nodes, strings and arrays
 * belong to the pql_ast and live until pql_ast_free; they are never
 * modified after parsing, so one tree may be evaluated by many threads.
 *
 * Stability: fields are only ever added, never renamed or repurposed.
 */
#ifndef KILN_PROMQL_LIKE_AST_H
#define KILN_PROMQL_LIKE_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/regex.h"
#include "base/status.h"

/* ---- Types -------------------------------------------------------------- */

/* The static type of an expression, as PromQL names them in errors. */
enum pql_type {
    PQL_TYPE_SCALAR = 1, /* "scalar" */
    PQL_TYPE_VECTOR,     /* "instant vector" */
    PQL_TYPE_MATRIX,     /* "range vector" */
    PQL_TYPE_STRING,     /* "string" */
};

/* "scalar", "instant vector", "range vector", "string". */
const char *pql_type_str(enum pql_type t);

/* Durations, offsets and @ timestamps are milliseconds whose absolute value
 * is at most PQL_TIME_MAX_MS (about 31,700 years), so that an evaluator can
 * add a few of them to a timestamp without overflowing int64_t. */
#define PQL_TIME_MAX_MS INT64_C(1000000000000000)

/* ---- Functions ---------------------------------------------------------- */

/* Short names for the argument and return types in the table below. */
#define PQL_S PQL_TYPE_SCALAR
#define PQL_V PQL_TYPE_VECTOR
#define PQL_M PQL_TYPE_MATRIX
#define PQL_STR PQL_TYPE_STRING

/* The function table: the one place that lists the functions the parser
 * accepts. F(ID, "name", return type, min args, max args (-1: no limit),
 * argument types...). Argument i has the i-th listed type; arguments past
 * the listed types have the last listed type (variadic functions). A
 * function without arguments lists one type that is never used. The
 * table is Prometheus 2.x's, without the native-histogram functions, which
 * Kiln has no data for. */
#define PQL_FUNCTION_TABLE(F)                                                  \
    F(ABS, "abs", PQL_V, 1, 1, PQL_V)                                          \
    F(ABSENT, "absent", PQL_V, 1, 1, PQL_V)                                    \
    F(ABSENT_OVER_TIME, "absent_over_time", PQL_V, 1, 1, PQL_M)                \
    F(ACOS, "acos", PQL_V, 1, 1, PQL_V)                                        \
    F(ACOSH, "acosh", PQL_V, 1, 1, PQL_V)                                      \
    F(ASIN, "asin", PQL_V, 1, 1, PQL_V)                                        \
    F(ASINH, "asinh", PQL_V, 1, 1, PQL_V)                                      \
    F(ATAN, "atan", PQL_V, 1, 1, PQL_V)                                        \
    F(ATANH, "atanh", PQL_V, 1, 1, PQL_V)                                      \
    F(AVG_OVER_TIME, "avg_over_time", PQL_V, 1, 1, PQL_M)                      \
    F(CEIL, "ceil", PQL_V, 1, 1, PQL_V)                                        \
    F(CHANGES, "changes", PQL_V, 1, 1, PQL_M)                                  \
    F(CLAMP, "clamp", PQL_V, 3, 3, PQL_V, PQL_S, PQL_S)                        \
    F(CLAMP_MAX, "clamp_max", PQL_V, 2, 2, PQL_V, PQL_S)                       \
    F(CLAMP_MIN, "clamp_min", PQL_V, 2, 2, PQL_V, PQL_S)                       \
    F(COS, "cos", PQL_V, 1, 1, PQL_V)                                          \
    F(COSH, "cosh", PQL_V, 1, 1, PQL_V)                                        \
    F(COUNT_OVER_TIME, "count_over_time", PQL_V, 1, 1, PQL_M)                  \
    F(DAYS_IN_MONTH, "days_in_month", PQL_V, 0, 1, PQL_V)                      \
    F(DAY_OF_MONTH, "day_of_month", PQL_V, 0, 1, PQL_V)                        \
    F(DAY_OF_WEEK, "day_of_week", PQL_V, 0, 1, PQL_V)                          \
    F(DAY_OF_YEAR, "day_of_year", PQL_V, 0, 1, PQL_V)                          \
    F(DEG, "deg", PQL_V, 1, 1, PQL_V)                                          \
    F(DELTA, "delta", PQL_V, 1, 1, PQL_M)                                      \
    F(DERIV, "deriv", PQL_V, 1, 1, PQL_M)                                      \
    F(EXP, "exp", PQL_V, 1, 1, PQL_V)                                          \
    F(FLOOR, "floor", PQL_V, 1, 1, PQL_V)                                      \
    F(HISTOGRAM_QUANTILE, "histogram_quantile", PQL_V, 2, 2, PQL_S, PQL_V)     \
    F(HOLT_WINTERS, "holt_winters", PQL_V, 3, 3, PQL_M, PQL_S, PQL_S)          \
    F(HOUR, "hour", PQL_V, 0, 1, PQL_V)                                        \
    F(IDELTA, "idelta", PQL_V, 1, 1, PQL_M)                                    \
    F(INCREASE, "increase", PQL_V, 1, 1, PQL_M)                                \
    F(IRATE, "irate", PQL_V, 1, 1, PQL_M)                                      \
    F(LABEL_JOIN, "label_join", PQL_V, 3, -1, PQL_V, PQL_STR, PQL_STR,         \
      PQL_STR)                                                                 \
    F(LABEL_REPLACE, "label_replace", PQL_V, 5, 5, PQL_V, PQL_STR, PQL_STR,    \
      PQL_STR, PQL_STR)                                                        \
    F(LAST_OVER_TIME, "last_over_time", PQL_V, 1, 1, PQL_M)                    \
    F(LN, "ln", PQL_V, 1, 1, PQL_V)                                            \
    F(LOG10, "log10", PQL_V, 1, 1, PQL_V)                                      \
    F(LOG2, "log2", PQL_V, 1, 1, PQL_V)                                        \
    F(MAX_OVER_TIME, "max_over_time", PQL_V, 1, 1, PQL_M)                      \
    F(MIN_OVER_TIME, "min_over_time", PQL_V, 1, 1, PQL_M)                      \
    F(MINUTE, "minute", PQL_V, 0, 1, PQL_V)                                    \
    F(MONTH, "month", PQL_V, 0, 1, PQL_V)                                      \
    F(PI, "pi", PQL_S, 0, 0, PQL_S)                                            \
    F(PREDICT_LINEAR, "predict_linear", PQL_V, 2, 2, PQL_M, PQL_S)             \
    F(PRESENT_OVER_TIME, "present_over_time", PQL_V, 1, 1, PQL_M)              \
    F(QUANTILE_OVER_TIME, "quantile_over_time", PQL_V, 2, 2, PQL_S, PQL_M)     \
    F(RAD, "rad", PQL_V, 1, 1, PQL_V)                                          \
    F(RATE, "rate", PQL_V, 1, 1, PQL_M)                                        \
    F(RESETS, "resets", PQL_V, 1, 1, PQL_M)                                    \
    F(ROUND, "round", PQL_V, 1, 2, PQL_V, PQL_S)                               \
    F(SCALAR, "scalar", PQL_S, 1, 1, PQL_V)                                    \
    F(SGN, "sgn", PQL_V, 1, 1, PQL_V)                                          \
    F(SIN, "sin", PQL_V, 1, 1, PQL_V)                                          \
    F(SINH, "sinh", PQL_V, 1, 1, PQL_V)                                        \
    F(SORT, "sort", PQL_V, 1, 1, PQL_V)                                        \
    F(SORT_DESC, "sort_desc", PQL_V, 1, 1, PQL_V)                              \
    F(SQRT, "sqrt", PQL_V, 1, 1, PQL_V)                                        \
    F(STDDEV_OVER_TIME, "stddev_over_time", PQL_V, 1, 1, PQL_M)                \
    F(STDVAR_OVER_TIME, "stdvar_over_time", PQL_V, 1, 1, PQL_M)                \
    F(SUM_OVER_TIME, "sum_over_time", PQL_V, 1, 1, PQL_M)                      \
    F(TAN, "tan", PQL_V, 1, 1, PQL_V)                                          \
    F(TANH, "tanh", PQL_V, 1, 1, PQL_V)                                        \
    F(TIME, "time", PQL_S, 0, 0, PQL_S)                                        \
    F(TIMESTAMP, "timestamp", PQL_V, 1, 1, PQL_V)                              \
    F(VECTOR, "vector", PQL_V, 1, 1, PQL_S)                                    \
    F(YEAR, "year", PQL_V, 0, 1, PQL_V)

/* One enumerator per table row: PQL_FN_ABS, PQL_FN_RATE, ... */
#define PQL_FN_ENUM_(id, ...) PQL_FN_##id,
enum pql_func_id { PQL_FUNCTION_TABLE(PQL_FN_ENUM_) PQL_FN_COUNT_ };
#undef PQL_FN_ENUM_

/* Most argument types a row lists. */
#define PQL_FUNC_ARGS_MAX 5

struct pql_function {
    enum pql_func_id id;
    const char *name;
    enum pql_type ret;
    int min_args;
    int max_args; /* -1: any number of arguments from min_args on */
    size_t n_types;
    enum pql_type types[PQL_FUNC_ARGS_MAX]; /* argument types, see above */
};

/* The row named `name[0..len)`, or NULL when there is none. */
const struct pql_function *pql_function_lookup(const char *name, size_t len);
/* The row of `id` (id < PQL_FN_COUNT_). */
const struct pql_function *pql_function_get(enum pql_func_id id);
/* The type argument `i` of `f` must have. */
enum pql_type pql_function_arg_type(const struct pql_function *f, size_t i);

/* ---- Nodes -------------------------------------------------------------- */

enum pql_expr_kind {
    PQL_NUMBER = 1, /* 1, 0x1f, 1e3, Inf, NaN, -2 (sign folded in) */
    PQL_STRING,     /* "a", 'a', `a` */
    PQL_VECTOR_SEL, /* foo{a="b"} offset 5m @ 100 */
    PQL_MATRIX_SEL, /* foo{a="b"}[5m] offset 5m @ 100 */
    PQL_SUBQUERY,   /* expr[1h:5m] offset 5m @ 100 */
    PQL_PAREN,      /* (expr) */
    PQL_UNARY,      /* -expr, +expr (not on number literals) */
    PQL_BINARY,     /* a + b, a > bool b, a / on (x) group_left b */
    PQL_AGGREGATE,  /* sum by (job) (x), topk(5, x) */
    PQL_CALL,       /* rate(x[5m]) */
};

enum pql_match_type {
    PQL_MATCH_EQ,  /* =  */
    PQL_MATCH_NEQ, /* != */
    PQL_MATCH_RE,  /* =~ fully anchored, as Prometheus' ^(?s:RE)$ */
    PQL_MATCH_NRE, /* !~ fully anchored */
};

/* One label matcher. `name` is a label name ([a-zA-Z_][a-zA-Z0-9_]*; the
 * virtual stack labels __function__ and __leaf__ are ordinary names here).
 * `value` is NUL-terminated valid UTF-8 without NUL bytes. `re` is the
 * compiled anchored regex for RE and NRE (owned by the tree), else NULL.
 * `pos` is the byte offset of the name in the query. */
struct pql_matcher {
    enum pql_match_type type;
    const char *name;
    const char *value;
    struct kb_regex *re;
    uint32_t pos;
};

/* "=", "!=", "=~", "!~". */
const char *pql_match_type_str(enum pql_match_type t);

/* The `@` modifier. */
enum pql_at {
    PQL_AT_NONE = 0,
    PQL_AT_TIME,  /* @ <seconds>: at_ms holds the time */
    PQL_AT_START, /* @ start(): the query's start */
    PQL_AT_END,   /* @ end(): the query's end */
};

/* offset and @ of a selector or subquery. offset_ms may be negative
 * (`offset -5m` looks into the future); 0 means no offset was written. */
struct pql_modifiers {
    int64_t offset_ms;
    enum pql_at at;
    int64_t at_ms; /* for PQL_AT_TIME; |at_ms| <= PQL_TIME_MAX_MS */
};

/* PQL_VECTOR_SEL and PQL_MATRIX_SEL. matchers[0..n_matchers) is the
 * complete conjunction to select with (n_matchers >= 1, at least one
 * matcher does not match ""): when `name` is set (written as `name{...}`
 * or `name`), the last matcher is `__name__="name"`, added by the parser
 * (the printer leaves it out). range_ms > 0 for PQL_MATRIX_SEL, 0 for
 * PQL_VECTOR_SEL. */
struct pql_selector {
    const char *name; /* NULL when none was written */
    struct pql_matcher *matchers;
    size_t n_matchers;
    int64_t range_ms;
    struct pql_modifiers mod;
};

/* A list of label names (by/without, on/ignoring, group_left/right), each
 * a valid label name, in the order written. Duplicates are kept. */
struct pql_label_list {
    const char *const *names;
    size_t n;
};

enum pql_binop {
    PQL_OP_ADD = 1, /* + */
    PQL_OP_SUB,     /* - */
    PQL_OP_MUL,     /* * */
    PQL_OP_DIV,     /* / */
    PQL_OP_MOD,     /* % */
    PQL_OP_POW,     /* ^ */
    PQL_OP_ATAN2,   /* atan2 */
    PQL_OP_EQ,      /* == */
    PQL_OP_NE,      /* != */
    PQL_OP_GT,      /* > */
    PQL_OP_LT,      /* < */
    PQL_OP_GE,      /* >= */
    PQL_OP_LE,      /* <= */
    PQL_OP_AND,     /* and */
    PQL_OP_OR,      /* or */
    PQL_OP_UNLESS,  /* unless */
};

/* The operator as written: "+", "atan2", "==", "unless", ... */
const char *pql_binop_str(enum pql_binop op);
bool pql_binop_is_comparison(enum pql_binop op);
bool pql_binop_is_set(enum pql_binop op); /* and, or, unless */
/* Precedence, 1 (or) to 6 (^); ^ is right-associative, the rest left. */
int pql_binop_precedence(enum pql_binop op);

/* How the two sides of a vector/vector operation are matched. */
enum pql_card {
    PQL_CARD_ONE_TO_ONE = 0, /* the default for arithmetic and comparison */
    PQL_CARD_MANY_TO_ONE,    /* group_left */
    PQL_CARD_ONE_TO_MANY,    /* group_right */
    PQL_CARD_MANY_TO_MANY,   /* always, and only, for and/or/unless */
};

/* PQL_BINARY. Both operand types are scalar or instant vector; `type` is
 * instant vector when either is, else scalar. Invariants the parser checks:
 *  - return_bool only for comparisons; two scalars compare only with bool.
 *  - and/or/unless only between two vectors, with card MANY_TO_MANY.
 *  - on/ignoring/group_* only between two vectors (when either side is a
 *    scalar, card is ONE_TO_ONE, on is false and both lists are empty).
 *  - `on` false with an empty `matching` list is the default "match on all
 *    labels" (`ignoring ()` is stored the same way).
 *  - include (group_left/right's labels) is empty unless card is
 *    MANY_TO_ONE or ONE_TO_MANY; no label is both in `matching` (with on)
 *    and in `include`. */
struct pql_binary {
    enum pql_binop op;
    struct pql_expr *lhs;
    struct pql_expr *rhs;
    bool return_bool;
    enum pql_card card;
    bool on; /* true: on (matching); false: ignoring (matching) */
    struct pql_label_list matching;
    struct pql_label_list include;
};

enum pql_aggop {
    PQL_AGG_SUM = 1,
    PQL_AGG_AVG,
    PQL_AGG_MIN,
    PQL_AGG_MAX,
    PQL_AGG_COUNT,
    PQL_AGG_GROUP,
    PQL_AGG_STDDEV,
    PQL_AGG_STDVAR,
    PQL_AGG_TOPK,         /* param: scalar */
    PQL_AGG_BOTTOMK,      /* param: scalar */
    PQL_AGG_QUANTILE,     /* param: scalar */
    PQL_AGG_COUNT_VALUES, /* param: string (the new label's name) */
};

/* "sum", "count_values", ... */
const char *pql_aggop_str(enum pql_aggop op);
/* true for topk, bottomk, quantile and count_values. */
bool pql_aggop_has_param(enum pql_aggop op);

/* PQL_AGGREGATE. `expr` is an instant vector; `param` is set exactly when
 * pql_aggop_has_param (scalar, or string for count_values). `by ()` is
 * stored as no grouping (without false, empty list). */
struct pql_aggregate {
    enum pql_aggop op;
    struct pql_expr *expr;
    struct pql_expr *param;
    bool without; /* true: without (grouping); false: by (grouping) */
    struct pql_label_list grouping;
};

/* PQL_CALL. Argument count and types match func's row. */
struct pql_call {
    const struct pql_function *func;
    struct pql_expr *const *args;
    size_t n_args;
};

/* PQL_SUBQUERY. `expr` is an instant vector; range_ms > 0; step_ms is 0
 * when none was written (`[1h:]`: the evaluator's default step), else
 * > 0. */
struct pql_subquery {
    struct pql_expr *expr;
    int64_t range_ms;
    int64_t step_ms;
    struct pql_modifiers mod;
};

/* PQL_UNARY: op is PQL_OP_SUB or PQL_OP_ADD; expr is a scalar or an
 * instant vector. (A sign before a number literal is folded into the
 * literal instead.) */
struct pql_unary {
    enum pql_binop op;
    struct pql_expr *expr;
};

struct pql_expr {
    enum pql_expr_kind kind;
    enum pql_type type; /* the static type, checked by the parser */
    uint32_t id;        /* dense: 0 <= id < pql_ast_node_count() */
    uint32_t pos;       /* the node's text is query[pos, end) */
    uint32_t end;
    uint32_t height; /* 1 for a leaf, else 1 + the children's maximum */
    union {
        double number;           /* PQL_NUMBER */
        const char *string;      /* PQL_STRING: UTF-8, no NUL bytes */
        struct pql_selector sel; /* PQL_VECTOR_SEL, PQL_MATRIX_SEL */
        struct pql_subquery subquery;
        struct pql_expr *paren; /* PQL_PAREN: the inner expression */
        struct pql_unary unary;
        struct pql_binary binary;
        struct pql_aggregate agg;
        struct pql_call call;
    } u;
};

/* ---- Trees -------------------------------------------------------------- */

/* A parsed query: the nodes, their strings and the compiled regexes, in
 * one allocation arena. Made by pql_parse (parser.h). */
struct pql_ast;

const struct pql_expr *pql_ast_root(const struct pql_ast *ast);
/* Nodes in the tree; ids are 0..count-1 (for an evaluator's side tables). */
size_t pql_ast_node_count(const struct pql_ast *ast);
/* Free the tree and everything it owns. NULL is allowed. */
void pql_ast_free(struct pql_ast *ast);

/* Append the canonical PromQL text of `e` to `out`: one space around
 * binary operators, `sum by (a, b) (x)`, `x{a="b",c=~"d"}`, strings
 * double-quoted with Go escapes, numbers in their shortest exact form,
 * durations as Prometheus prints them (`1h30m`, `90d`, `1w`), `@` times
 * with three decimals, `[1h:]`. Parsing the result gives a tree equal to
 * `e` (pql_expr_equal). Fails only with KB_ERR_LIMIT from `out`. */
enum kb_status pql_format(const struct pql_expr *e, struct buf *out);

/* Whether two trees mean the same query: same kinds, types, values and
 * lists (positions and ids are not compared; NaN equals NaN). */
bool pql_expr_equal(const struct pql_expr *a, const struct pql_expr *b);

#endif
