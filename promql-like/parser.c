/* promql-like/parser.c: the parser of Kiln's query language.
 *
 * What. pql_parse turns query text into a checked syntax tree (ast.h): the
 * grammar of PromQL as Prometheus 2.x parses it, with Prometheus' static
 * type checks and, where sensible, its error wording. Positions in errors
 * are "<line>:<col>:" (1-based, the column in bytes).
 *
 * Design. Recursive descent over the tokens of lexer.c with one token of
 * lookahead, and precedence climbing for binary operators:
 *
 *     or  <  and unless  <  == != > < >= <=  <  + -  <  * / % atan2  <  ^
 *
 * all left-associative except '^'. A unary sign binds like PromQL's (as
 * tightly as '*', but its operand takes a whole '^' chain: -2 ^ 2 is
 * -(2 ^ 2)), and is folded into a number literal it stands before.
 * Postfix parts bind tightest: [range], [range:step], offset and @ apply
 * to the primary expression before them. Every node is type-checked as
 * soon as it is built, so the first error in the text is the one
 * reported. Regexes of =~ and !~ are compiled here (kb_regex), so a bad
 * regex is an error with the position of its string.
 *
 * Limits (struct pql_limits): the query's length, the nesting depth (both
 * the parser's recursion and the tree's height, so that every recursive
 * walk of a tree, such as the printer's, is bounded too), matchers per
 * selector, the length of a string, and labels per list and arguments per
 * call. Each gives KB_ERR_LIMIT with a positioned message.
 *
 * Ownership. A struct pql_ast owns an arena holding every node, string and
 * array of the tree (temporary arrays grow inside the arena too, so a
 * failed parse frees everything at once), and the list of compiled
 * regexes, which pql_ast_free frees. A tree is never modified after
 * pql_parse returns.
 */
#include "promql-like/parser.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/regex.h"
#include "base/text.h"
#include "promql-like/lexer.h"

struct pql_ast {
    struct arena *arena;
    struct pql_expr *root;
    uint32_t n_nodes;
    struct kb_regex **res;
    size_t n_res;
    size_t cap_res;
};

struct parser {
    const char *text;
    size_t len;
    struct pql_limits lim;
    struct pql_lexer lx;
    struct pql_token tok;
    uint32_t prev_end; /* end of the last token consumed */
    uint32_t depth;
    struct pql_ast *ast;
    struct kb_err *err;
};

void pql_limits_default(struct pql_limits *lim)
{
    lim->max_query_len = PQL_MAX_QUERY_LEN;
    lim->max_depth = PQL_MAX_DEPTH;
    lim->max_matchers = PQL_MAX_MATCHERS;
    lim->max_string = PQL_MAX_STRING;
    lim->max_list = PQL_MAX_LIST;
}

const struct pql_expr *pql_ast_root(const struct pql_ast *ast)
{
    return ast->root;
}

size_t pql_ast_node_count(const struct pql_ast *ast)
{
    return ast->n_nodes;
}

void pql_ast_free(struct pql_ast *ast)
{
    if (ast == NULL)
        return;
    for (size_t i = 0; i < ast->n_res; i++)
        kb_regex_free(ast->res[i]);
    free(ast->res);
    arena_free(ast->arena);
    free(ast);
}

static enum kb_status errat(struct parser *p, size_t pos, enum kb_status st,
                            const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum kb_status errat(struct parser *p, size_t pos, enum kb_status st,
                            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum kb_status ret = pql_verrat(p->err, st, p->text, p->len, pos, fmt, ap);
    va_end(ap);
    return ret;
}

/* "unexpected <token>[ <ctx>][, expected <expected>]" at the token. */
static enum kb_status unexpected(struct parser *p, const char *ctx,
                                 const char *expected)
{
    char d[KB_EXCERPT_MAX + 16];
    pql_token_describe(&p->lx, &p->tok, d, sizeof(d));
    return errat(p, p->tok.pos, KB_ERR_INVALID, "unexpected %s%s%s%s%s", d,
                 ctx ? " " : "", ctx ? ctx : "", expected ? ", expected " : "",
                 expected ? expected : "");
}

static enum kb_status next(struct parser *p)
{
    p->prev_end = p->tok.pos + p->tok.len;
    return pql_lex(&p->lx, &p->tok, p->err);
}

static bool is_kw(const struct parser *p, enum pql_kw kw)
{
    return p->tok.type == PQL_T_KEYWORD && p->tok.kw == kw;
}

static const char *tok_text(struct parser *p)
{
    return arena_strndup(p->ast->arena, p->text + p->tok.pos, p->tok.len);
}

static struct pql_expr *new_node(struct parser *p, enum pql_expr_kind kind,
                                 uint32_t pos)
{
    struct pql_expr *e = arena_calloc(p->ast->arena, 1, sizeof(*e));
    e->kind = kind;
    e->id = p->ast->n_nodes++;
    e->pos = pos;
    e->end = p->prev_end;
    e->height = 1;
    return e;
}

/* Make `child` a child of `e` for the height count; fails past the depth
 * limit. */
static enum kb_status adopt(struct parser *p, struct pql_expr *e,
                            const struct pql_expr *child)
{
    if (child->height + 1 > e->height)
        e->height = child->height + 1;
    if (e->height > p->lim.max_depth)
        return errat(p, e->pos, KB_ERR_LIMIT,
                     "query is nested too deeply (limit %u levels)",
                     p->lim.max_depth);
    return KB_OK;
}

/* Room for one more element in an arena array of `n` elements. */
static void *grow_arr(struct parser *p, void *arr, size_t n, size_t *cap,
                      size_t esz)
{
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 4;
    void *na = arena_calloc(p->ast->arena, ncap, esz);
    if (n > 0)
        memcpy(na, arr, n * esz);
    *cap = ncap;
    return na;
}

static enum kb_status parse_expr(struct parser *p, struct pql_expr **out);
static enum kb_status parse_binary(struct parser *p, int min_prec,
                                   struct pql_expr **out);

/* A growing arena array of list elements. */
struct list {
    void *items;
    size_t n;
    size_t cap;
};

/* Parses one list element into *slot; `ctx` names the list for errors. */
typedef enum kb_status (*list_item_fn)(struct parser *p, const char *ctx,
                                       void *slot);

/* A comma-separated list of elements of `esz` bytes up to and including
 * the token `close` (the opening token has been read; a trailing comma is
 * allowed), at most `max` of them. `what` names the elements and `ctx` the
 * list in errors ("more than 64 matchers in label matching"). */
static enum kb_status parse_list(struct parser *p, enum pql_tok close,
                                 size_t max, size_t esz, const char *what,
                                 const char *ctx, list_item_fn item,
                                 struct list *l)
{
    enum kb_status st;
    while (p->tok.type != close) {
        if (l->n >= max)
            return errat(p, p->tok.pos, KB_ERR_LIMIT, "more than %zu %s %s",
                         max, what, ctx);
        l->items = grow_arr(p, l->items, l->n, &l->cap, esz);
        if ((st = item(p, ctx, (char *)l->items + l->n++ * esz)) != KB_OK)
            return st;
        if (p->tok.type == PQL_T_COMMA) {
            if ((st = next(p)) != KB_OK)
                return st;
        } else if (p->tok.type != close) {
            return unexpected(p, ctx,
                              close == PQL_T_RBRACE ? "\",\" or \"}\""
                                                    : "\",\" or \")\"");
        }
    }
    return next(p);
}

static enum kb_status label_item(struct parser *p, const char *ctx, void *slot)
{
    if (!pql_token_is_label(&p->lx, &p->tok))
        return unexpected(p, ctx, "label name or \")\"");
    *(const char **)slot = tok_text(p);
    return next(p);
}

static enum kb_status arg_item(struct parser *p, const char *ctx, void *slot)
{
    return parse_expr(p, (struct pql_expr **)slot);
}

/* "(a, b, ...)": label names. `ctx` names the clause for errors. */
static enum kb_status parse_labels(struct parser *p, const char *ctx,
                                   struct pql_label_list *out)
{
    enum kb_status st;
    struct list l = {0};
    if (p->tok.type != PQL_T_LPAREN)
        return unexpected(p, ctx, "\"(\"");
    if ((st = next(p)) != KB_OK ||
        (st = parse_list(p, PQL_T_RPAREN, p->lim.max_list, sizeof(char *),
                         "labels", ctx, label_item, &l)) != KB_OK)
        return st;
    out->names = l.items;
    out->n = l.n;
    return KB_OK;
}

/* Arguments after "(" up to and including ")". */
static enum kb_status parse_args(struct parser *p, const char *ctx,
                                 struct pql_expr ***out, size_t *n_out)
{
    struct list l = {0};
    enum kb_status st =
        parse_list(p, PQL_T_RPAREN, p->lim.max_list, sizeof(struct pql_expr *),
                   "arguments", ctx, arg_item, &l);
    *out = l.items;
    *n_out = l.n;
    return st;
}

static enum kb_status expect_type(struct parser *p, const struct pql_expr *e,
                                  enum pql_type want, const char *ctx,
                                  const char *name)
{
    if (e->type == want)
        return KB_OK;
    return errat(p, e->pos, KB_ERR_INVALID,
                 "expected type %s in %s%s%s%s, got %s", pql_type_str(want),
                 ctx, name ? " \"" : "", name ? name : "", name ? "\"" : "",
                 pql_type_str(e->type));
}

static enum kb_status parse_call(struct parser *p, uint32_t pos,
                                 const char *name, struct pql_expr **out)
{
    enum kb_status st;
    const struct pql_function *f = pql_function_lookup(name, strlen(name));
    if (f == NULL)
        return errat(p, pos, KB_ERR_INVALID,
                     "unknown function with name \"%s\"", name);
    struct pql_expr **args;
    size_t n;
    if ((st = next(p)) != KB_OK ||
        (st = parse_args(p, "in function call", &args, &n)) != KB_OK)
        return st;
    const char *what = NULL;
    int want = 0;
    if (f->min_args == f->max_args && n != (size_t)f->min_args) {
        what = "";
        want = f->min_args;
    } else if (n < (size_t)f->min_args) {
        what = "at least ";
        want = f->min_args;
    } else if (f->max_args >= 0 && n > (size_t)f->max_args) {
        what = "at most ";
        want = f->max_args;
    }
    if (what != NULL)
        return errat(p, pos, KB_ERR_INVALID,
                     "expected %s%d argument(s) in call to \"%s\", got %zu",
                     what, want, f->name, n);
    struct pql_expr *e = new_node(p, PQL_CALL, pos);
    e->type = f->ret;
    e->u.call.func = f;
    e->u.call.args = args;
    e->u.call.n_args = n;
    for (size_t i = 0; i < n; i++) {
        if ((st = expect_type(p, args[i], pql_function_arg_type(f, i),
                              "call to function", f->name)) != KB_OK ||
            (st = adopt(p, e, args[i])) != KB_OK)
            return st;
    }
    *out = e;
    return KB_OK;
}

/* by (...) or without (...), when the current token starts one. */
static enum kb_status parse_grouping(struct parser *p, struct pql_aggregate *a,
                                     bool *seen)
{
    if (!is_kw(p, PQL_KW_BY) && !is_kw(p, PQL_KW_WITHOUT))
        return KB_OK;
    enum kb_status st;
    a->without = is_kw(p, PQL_KW_WITHOUT);
    *seen = true;
    if ((st = next(p)) != KB_OK)
        return st;
    return parse_labels(p, "in grouping opts", &a->grouping);
}

static enum kb_status parse_aggregate(struct parser *p, struct pql_expr **out)
{
    enum kb_status st;
    uint32_t pos = p->tok.pos;
    struct pql_aggregate a = {0};
    a.op = (enum pql_aggop)(p->tok.kw - PQL_KW_SUM + PQL_AGG_SUM);
    bool grouped = false;
    if ((st = next(p)) != KB_OK ||
        (st = parse_grouping(p, &a, &grouped)) != KB_OK)
        return st;
    if (p->tok.type != PQL_T_LPAREN)
        return unexpected(p, "in aggregation", "\"(\"");
    struct pql_expr **args;
    size_t n;
    if ((st = next(p)) != KB_OK ||
        (st = parse_args(p, "in aggregation", &args, &n)) != KB_OK)
        return st;
    if (!grouped && (st = parse_grouping(p, &a, &grouped)) != KB_OK)
        return st;
    if (n == 0)
        return errat(p, pos, KB_ERR_INVALID,
                     "no arguments for aggregate expression provided");
    size_t want = pql_aggop_has_param(a.op) ? 2 : 1;
    if (n != want)
        return errat(p, pos, KB_ERR_INVALID,
                     "wrong number of arguments for aggregate expression "
                     "provided, expected %zu, got %zu",
                     want, n);
    a.expr = args[want - 1];
    a.param = want == 2 ? args[0] : NULL;
    if ((st = expect_type(p, a.expr, PQL_TYPE_VECTOR, "aggregation expression",
                          NULL)) != KB_OK)
        return st;
    if (a.param != NULL &&
        (st = expect_type(p, a.param,
                          a.op == PQL_AGG_COUNT_VALUES ? PQL_TYPE_STRING
                                                       : PQL_TYPE_SCALAR,
                          "aggregation parameter", NULL)) != KB_OK)
        return st;
    struct pql_expr *e = new_node(p, PQL_AGGREGATE, pos);
    e->type = PQL_TYPE_VECTOR;
    e->u.agg = a;
    for (size_t i = 0; i < n; i++)
        if ((st = adopt(p, e, args[i])) != KB_OK)
            return st;
    *out = e;
    return KB_OK;
}

/* Whether matcher `m` matches the empty string. */
static bool matches_empty(const struct pql_matcher *m)
{
    switch (m->type) {
    case PQL_MATCH_EQ:
        return m->value[0] == '\0';
    case PQL_MATCH_NEQ:
        return m->value[0] != '\0';
    case PQL_MATCH_RE:
        return kb_regex_match(m->re, "", 0);
    case PQL_MATCH_NRE:
        return !kb_regex_match(m->re, "", 0);
    }
    return true;
}

static enum kb_status matcher_item(struct parser *p, const char *ctx,
                                   void *slot)
{
    enum kb_status st;
    struct pql_matcher *m = slot;
    if (!pql_token_is_label(&p->lx, &p->tok))
        return unexpected(p, ctx, "label name or \"}\"");
    m->name = tok_text(p);
    m->pos = p->tok.pos;
    if ((st = next(p)) != KB_OK)
        return st;
    switch (p->tok.type) {
    case PQL_T_ASSIGN:
        m->type = PQL_MATCH_EQ;
        break;
    case PQL_T_NEQ:
        m->type = PQL_MATCH_NEQ;
        break;
    case PQL_T_EQL_REGEX:
        m->type = PQL_MATCH_RE;
        break;
    case PQL_T_NEQ_REGEX:
        m->type = PQL_MATCH_NRE;
        break;
    default:
        return unexpected(p, "in label matching", "label matching operator");
    }
    if ((st = next(p)) != KB_OK)
        return st;
    if (p->tok.type != PQL_T_STRING)
        return unexpected(p, ctx, "string");
    m->value = p->tok.str;
    if (m->type == PQL_MATCH_RE || m->type == PQL_MATCH_NRE) {
        struct kb_err rerr;
        struct pql_ast *ast = p->ast;
        ast->res =
            kb_grow(ast->res, &ast->cap_res, ast->n_res + 1, sizeof(*ast->res));
        st = kb_regex_compile(m->value, strlen(m->value), 0, &m->re, &rerr);
        if (st != KB_OK)
            return errat(p, p->tok.pos, st, "invalid regular expression: %s",
                         rerr.msg);
        ast->res[ast->n_res++] = m->re;
    }
    return next(p);
}

/* A selector: `name`, `name{...}` or `{...}`; `name` NULL when none. */
static enum kb_status parse_selector(struct parser *p, uint32_t pos,
                                     const char *name, struct pql_expr **out)
{
    enum kb_status st;
    struct list l = {0};
    if (p->tok.type == PQL_T_LBRACE &&
        ((st = next(p)) != KB_OK ||
         (st = parse_list(p, PQL_T_RBRACE, p->lim.max_matchers,
                          sizeof(struct pql_matcher), "matchers",
                          "in label matching", matcher_item, &l)) != KB_OK))
        return st;
    struct pql_matcher *ms = l.items;
    size_t n = l.n;
    if (name != NULL) {
        for (size_t i = 0; i < n; i++)
            if (strcmp(ms[i].name, "__name__") == 0)
                return errat(p, ms[i].pos, KB_ERR_INVALID,
                             "metric name must not be set twice: \"%s\" or "
                             "\"%s\"",
                             name, ms[i].value);
        ms = grow_arr(p, ms, n, &l.cap, sizeof(*ms));
        ms[n++] = (struct pql_matcher){.type = PQL_MATCH_EQ,
                                       .name = "__name__",
                                       .value = name,
                                       .pos = pos};
    }
    bool nonempty = false;
    for (size_t i = 0; i < n && !nonempty; i++)
        nonempty = !matches_empty(&ms[i]);
    if (!nonempty)
        return errat(p, pos, KB_ERR_INVALID,
                     "vector selector must contain at least one non-empty "
                     "matcher");
    struct pql_expr *e = new_node(p, PQL_VECTOR_SEL, pos);
    e->type = PQL_TYPE_VECTOR;
    e->u.sel.name = name;
    e->u.sel.matchers = ms;
    e->u.sel.n_matchers = n;
    *out = e;
    return KB_OK;
}

static enum kb_status parse_primary(struct parser *p, struct pql_expr **out)
{
    enum kb_status st;
    uint32_t pos = p->tok.pos;
    struct pql_expr *e;
    switch (p->tok.type) {
    case PQL_T_NUMBER:
    case PQL_T_STRING: {
        struct pql_token t = p->tok;
        if ((st = next(p)) != KB_OK)
            return st;
        if (t.type == PQL_T_NUMBER) {
            e = new_node(p, PQL_NUMBER, pos);
            e->type = PQL_TYPE_SCALAR;
            e->u.number = t.num;
        } else {
            e = new_node(p, PQL_STRING, pos);
            e->type = PQL_TYPE_STRING;
            e->u.string = t.str;
        }
        break;
    }
    case PQL_T_LPAREN: {
        struct pql_expr *in;
        if ((st = next(p)) != KB_OK || (st = parse_expr(p, &in)) != KB_OK)
            return st;
        if (p->tok.type != PQL_T_RPAREN)
            return unexpected(p, "in parentheses", "\")\"");
        if ((st = next(p)) != KB_OK)
            return st;
        e = new_node(p, PQL_PAREN, pos);
        e->type = in->type;
        e->u.paren = in;
        if ((st = adopt(p, e, in)) != KB_OK)
            return st;
        break;
    }
    case PQL_T_LBRACE:
        return parse_selector(p, pos, NULL, out);
    case PQL_T_IDENT: {
        const char *name = tok_text(p);
        if ((st = next(p)) != KB_OK)
            return st;
        if (p->tok.type == PQL_T_LPAREN)
            return parse_call(p, pos, name, out);
        return parse_selector(p, pos, name, out);
    }
    case PQL_T_KEYWORD:
        if (p->tok.kw >= PQL_KW_SUM)
            return parse_aggregate(p, out);
        return unexpected(p, NULL, "expression");
    default:
        return unexpected(p, NULL, "expression");
    }
    *out = e;
    return KB_OK;
}

/* The modifiers of a node that takes offset and @, or NULL. */
static struct pql_modifiers *modifiers_of(struct pql_expr *e)
{
    if (e->kind == PQL_VECTOR_SEL || e->kind == PQL_MATRIX_SEL)
        return &e->u.sel.mod;
    if (e->kind == PQL_SUBQUERY)
        return &e->u.subquery.mod;
    return NULL;
}

/* After "offset": [-]duration. */
static enum kb_status parse_offset(struct parser *p, struct pql_modifiers *m)
{
    enum kb_status st;
    bool neg = p->tok.type == PQL_T_SUB;
    if (neg && (st = next(p)) != KB_OK)
        return st;
    if (p->tok.type != PQL_T_DURATION)
        return unexpected(p, "in offset", "duration");
    m->offset_ms = neg ? -p->tok.ms : p->tok.ms;
    return next(p);
}

/* After "@": start(), end() or a [signed] number of seconds. */
static enum kb_status parse_at(struct parser *p, struct pql_modifiers *m)
{
    enum kb_status st;
    const char *s = p->text + p->tok.pos;
    if (p->tok.type == PQL_T_IDENT &&
        ((p->tok.len == 5 && strncasecmp(s, "start", 5) == 0) ||
         (p->tok.len == 3 && strncasecmp(s, "end", 3) == 0))) {
        m->at = p->tok.len == 5 ? PQL_AT_START : PQL_AT_END;
        if ((st = next(p)) != KB_OK)
            return st;
        if (p->tok.type != PQL_T_LPAREN)
            return unexpected(p, "in @", "\"(\"");
        if ((st = next(p)) != KB_OK)
            return st;
        if (p->tok.type != PQL_T_RPAREN)
            return unexpected(p, "in @", "\")\"");
        return next(p);
    }
    uint32_t pos = p->tok.pos;
    bool neg = p->tok.type == PQL_T_SUB;
    if ((neg || p->tok.type == PQL_T_ADD) && (st = next(p)) != KB_OK)
        return st;
    if (p->tok.type != PQL_T_NUMBER)
        return unexpected(p, "in @", "timestamp, start() or end()");
    double ms = (neg ? -p->tok.num : p->tok.num) * 1000.0;
    if (!(fabs(ms) <= (double)PQL_TIME_MAX_MS))
        return errat(p, pos, KB_ERR_INVALID,
                     "timestamp out of range for @ modifier");
    m->at = PQL_AT_TIME;
    m->at_ms = llround(ms);
    return next(p);
}

/* At "[": "[range]" turns the vector selector *ep into a range selector;
 * "[range:step]" or "[range:]" wraps *ep in a subquery, which has no
 * modifiers yet. *has_offset and *has_at say whether *ep has them. */
static enum kb_status parse_bracket(struct parser *p, struct pql_expr **ep,
                                    bool *has_offset, bool *has_at)
{
    enum kb_status st;
    struct pql_expr *e = *ep;
    uint32_t lb = p->tok.pos;
    if ((st = next(p)) != KB_OK)
        return st;
    if (p->tok.type != PQL_T_DURATION)
        return unexpected(p, "in range or subquery", "duration");
    int64_t range = p->tok.ms;
    if ((st = next(p)) != KB_OK)
        return st;
    if (p->tok.type == PQL_T_COLON) {
        int64_t step = 0;
        if ((st = next(p)) != KB_OK)
            return st;
        if (p->tok.type == PQL_T_DURATION) {
            step = p->tok.ms;
            if ((st = next(p)) != KB_OK)
                return st;
        }
        if (p->tok.type != PQL_T_RBRACKET)
            return unexpected(p, "in subquery", "\"]\"");
        if ((st = next(p)) != KB_OK)
            return st;
        if (e->type != PQL_TYPE_VECTOR)
            return errat(p, lb, KB_ERR_INVALID,
                         "subquery is only allowed on instant vector, got %s "
                         "instead",
                         pql_type_str(e->type));
        struct pql_expr *sq = new_node(p, PQL_SUBQUERY, e->pos);
        sq->type = PQL_TYPE_MATRIX;
        sq->u.subquery.expr = e;
        sq->u.subquery.range_ms = range;
        sq->u.subquery.step_ms = step;
        *ep = sq;
        *has_offset = false;
        *has_at = false;
        return adopt(p, sq, e);
    }
    if (p->tok.type != PQL_T_RBRACKET)
        return unexpected(p, "in range or subquery", "\":\" or \"]\"");
    if ((st = next(p)) != KB_OK)
        return st;
    if (e->kind != PQL_VECTOR_SEL)
        return errat(p, lb, KB_ERR_INVALID,
                     "ranges only allowed for vector selectors");
    if (*has_offset)
        return errat(p, lb, KB_ERR_INVALID,
                     "no offset modifiers allowed before range");
    if (*has_at)
        return errat(p, lb, KB_ERR_INVALID,
                     "no @ modifiers allowed before range");
    e->kind = PQL_MATRIX_SEL;
    e->type = PQL_TYPE_MATRIX;
    e->u.sel.range_ms = range;
    e->end = p->prev_end;
    return KB_OK;
}

/* A primary expression and its postfix parts: [range], [range:step],
 * offset and @. */
static enum kb_status parse_postfix(struct parser *p, struct pql_expr **out)
{
    enum kb_status st;
    struct pql_expr *e;
    bool has_offset = false, has_at = false;
    if ((st = parse_primary(p, &e)) != KB_OK)
        return st;
    for (;;) {
        if (p->tok.type == PQL_T_LBRACKET) {
            st = parse_bracket(p, &e, &has_offset, &has_at);
            if (st != KB_OK)
                return st;
            continue;
        }
        bool offset = is_kw(p, PQL_KW_OFFSET);
        if (!offset && p->tok.type != PQL_T_AT)
            break;
        const char *what = offset ? "offset" : "@";
        struct pql_modifiers *m = modifiers_of(e);
        if (m == NULL)
            return errat(p, p->tok.pos, KB_ERR_INVALID,
                         "%s modifier must be preceded by an instant vector "
                         "selector or range vector selector or a subquery",
                         what);
        bool *seen = offset ? &has_offset : &has_at;
        if (*seen)
            return errat(p, p->tok.pos, KB_ERR_INVALID,
                         "%s may not be set multiple times",
                         offset ? "offset" : "@ <timestamp>");
        *seen = true;
        if ((st = next(p)) != KB_OK)
            return st;
        st = offset ? parse_offset(p, m) : parse_at(p, m);
        if (st != KB_OK)
            return st;
        e->end = p->prev_end;
    }
    *out = e;
    return KB_OK;
}

/* A unary sign and its operand, or a postfix expression. */
static enum kb_status parse_unary(struct parser *p, struct pql_expr **out)
{
    enum kb_status st;
    if (p->tok.type != PQL_T_ADD && p->tok.type != PQL_T_SUB)
        return parse_postfix(p, out);
    uint32_t pos = p->tok.pos;
    enum pql_binop op = p->tok.type == PQL_T_SUB ? PQL_OP_SUB : PQL_OP_ADD;
    struct pql_expr *x;
    if ((st = next(p)) != KB_OK ||
        (st = parse_binary(p, pql_binop_precedence(PQL_OP_POW), &x)) != KB_OK)
        return st;
    if (x->kind == PQL_NUMBER) {
        if (op == PQL_OP_SUB)
            x->u.number = -x->u.number;
        x->pos = pos;
        *out = x;
        return KB_OK;
    }
    if (x->type != PQL_TYPE_SCALAR && x->type != PQL_TYPE_VECTOR)
        return errat(p, pos, KB_ERR_INVALID,
                     "unary expression only allowed on expressions of type "
                     "scalar or instant vector");
    struct pql_expr *e = new_node(p, PQL_UNARY, pos);
    e->type = x->type;
    e->u.unary.op = op;
    e->u.unary.expr = x;
    *out = e;
    return adopt(p, e, x);
}

/* The binary operator the current token is, or 0. */
static enum pql_binop tok_binop(const struct parser *p)
{
    switch (p->tok.type) {
    case PQL_T_ADD:
        return PQL_OP_ADD;
    case PQL_T_SUB:
        return PQL_OP_SUB;
    case PQL_T_MUL:
        return PQL_OP_MUL;
    case PQL_T_DIV:
        return PQL_OP_DIV;
    case PQL_T_MOD:
        return PQL_OP_MOD;
    case PQL_T_POW:
        return PQL_OP_POW;
    case PQL_T_EQLC:
        return PQL_OP_EQ;
    case PQL_T_NEQ:
        return PQL_OP_NE;
    case PQL_T_GTR:
        return PQL_OP_GT;
    case PQL_T_LSS:
        return PQL_OP_LT;
    case PQL_T_GTE:
        return PQL_OP_GE;
    case PQL_T_LTE:
        return PQL_OP_LE;
    case PQL_T_KEYWORD:
        switch (p->tok.kw) {
        case PQL_KW_AND:
            return PQL_OP_AND;
        case PQL_KW_OR:
            return PQL_OP_OR;
        case PQL_KW_UNLESS:
            return PQL_OP_UNLESS;
        case PQL_KW_ATAN2:
            return PQL_OP_ATAN2;
        default:
            return 0;
        }
    default:
        return 0;
    }
}

/* Where the modifiers of a binary operator were written; 0 when they were
 * not (0 is never their position: the left operand comes first). */
struct bin_mods {
    uint32_t bool_pos;
    uint32_t match_pos;
    uint32_t group_pos;
};

/* After a binary operator: [bool] [on|ignoring (...) [group_x [(...)]]]. */
static enum kb_status parse_bin_mods(struct parser *p, struct pql_binary *b,
                                     struct bin_mods *mods)
{
    enum kb_status st;
    if (is_kw(p, PQL_KW_BOOL)) {
        b->return_bool = true;
        mods->bool_pos = p->tok.pos;
        if ((st = next(p)) != KB_OK)
            return st;
    }
    if (!is_kw(p, PQL_KW_ON) && !is_kw(p, PQL_KW_IGNORING))
        return KB_OK;
    b->on = is_kw(p, PQL_KW_ON);
    mods->match_pos = p->tok.pos;
    if ((st = next(p)) != KB_OK ||
        (st = parse_labels(p, b->on ? "in on" : "in ignoring", &b->matching)) !=
            KB_OK)
        return st;
    if (!is_kw(p, PQL_KW_GROUP_LEFT) && !is_kw(p, PQL_KW_GROUP_RIGHT))
        return KB_OK;
    b->card = is_kw(p, PQL_KW_GROUP_LEFT) ? PQL_CARD_MANY_TO_ONE
                                          : PQL_CARD_ONE_TO_MANY;
    mods->group_pos = p->tok.pos;
    if ((st = next(p)) != KB_OK)
        return st;
    if (p->tok.type != PQL_T_LPAREN)
        return KB_OK;
    return parse_labels(p, "in grouping", &b->include);
}

/* PromQL's static checks of a binary expression whose operands are
 * parsed. `op_pos` is the operator's position. */
static enum kb_status check_binary(struct parser *p, struct pql_expr *e,
                                   uint32_t op_pos, const struct bin_mods *mods)
{
    struct pql_binary *b = &e->u.binary;
    const char *ops = pql_binop_str(b->op);
    if (b->return_bool && !pql_binop_is_comparison(b->op))
        return errat(p, mods->bool_pos, KB_ERR_INVALID,
                     "bool modifier can only be used on comparison "
                     "operators");
    const struct pql_expr *side[2] = {b->lhs, b->rhs};
    for (int i = 0; i < 2; i++)
        if (side[i]->type != PQL_TYPE_SCALAR &&
            side[i]->type != PQL_TYPE_VECTOR)
            return errat(p, side[i]->pos, KB_ERR_INVALID,
                         "binary expression must contain only scalar and "
                         "instant vector types");
    bool scalar =
        b->lhs->type == PQL_TYPE_SCALAR || b->rhs->type == PQL_TYPE_SCALAR;
    if (pql_binop_is_comparison(b->op) && !b->return_bool &&
        b->lhs->type == PQL_TYPE_SCALAR && b->rhs->type == PQL_TYPE_SCALAR)
        return errat(p, op_pos, KB_ERR_INVALID,
                     "comparisons between scalars must use BOOL modifier");
    if (pql_binop_is_set(b->op) && scalar)
        return errat(p, op_pos, KB_ERR_INVALID,
                     "set operator \"%s\" not allowed in binary scalar "
                     "expression",
                     ops);
    if (scalar && mods->match_pos != 0)
        return errat(p, mods->match_pos, KB_ERR_INVALID,
                     "vector matching only allowed between instant vectors");
    if (pql_binop_is_set(b->op)) {
        if (mods->group_pos != 0)
            return errat(p, mods->group_pos, KB_ERR_INVALID,
                         "no grouping allowed for \"%s\" operation", ops);
        b->card = PQL_CARD_MANY_TO_MANY;
    }
    for (size_t i = 0; b->on && i < b->matching.n; i++)
        for (size_t j = 0; j < b->include.n; j++)
            if (strcmp(b->matching.names[i], b->include.names[j]) == 0)
                return errat(p, mods->group_pos, KB_ERR_INVALID,
                             "label \"%s\" must not occur in ON and GROUP "
                             "clause at once",
                             b->include.names[j]);
    e->type = b->lhs->type == PQL_TYPE_SCALAR && b->rhs->type == PQL_TYPE_SCALAR
                  ? PQL_TYPE_SCALAR
                  : PQL_TYPE_VECTOR;
    return KB_OK;
}

/* Binary operators of precedence min_prec or more, by precedence
 * climbing. Every recursion of the parser passes through here, so this is
 * where the depth limit is kept. */
static enum kb_status parse_binary(struct parser *p, int min_prec,
                                   struct pql_expr **out)
{
    enum kb_status st;
    if (++p->depth > p->lim.max_depth) {
        st = errat(p, p->tok.pos, KB_ERR_LIMIT,
                   "query is nested too deeply (limit %u levels)",
                   p->lim.max_depth);
        goto done;
    }
    struct pql_expr *lhs = NULL;
    if ((st = parse_unary(p, &lhs)) != KB_OK)
        goto done;
    for (;;) {
        enum pql_binop op = tok_binop(p);
        if (op == 0 || pql_binop_precedence(op) < min_prec)
            break;
        uint32_t op_pos = p->tok.pos;
        struct pql_expr *e = new_node(p, PQL_BINARY, lhs->pos);
        struct bin_mods mods = {0};
        e->u.binary.op = op;
        e->u.binary.lhs = lhs;
        int prec = pql_binop_precedence(op);
        if ((st = next(p)) != KB_OK ||
            (st = parse_bin_mods(p, &e->u.binary, &mods)) != KB_OK ||
            (st = parse_binary(p, op == PQL_OP_POW ? prec : prec + 1,
                               &e->u.binary.rhs)) != KB_OK)
            goto done;
        e->end = e->u.binary.rhs->end;
        if ((st = check_binary(p, e, op_pos, &mods)) != KB_OK ||
            (st = adopt(p, e, lhs)) != KB_OK ||
            (st = adopt(p, e, e->u.binary.rhs)) != KB_OK)
            goto done;
        lhs = e;
    }
    *out = lhs;
done:
    p->depth--;
    return st;
}

static enum kb_status parse_expr(struct parser *p, struct pql_expr **out)
{
    return parse_binary(p, 1, out);
}

enum kb_status pql_parse(const char *text, size_t len,
                         const struct pql_limits *lim, struct pql_ast **out,
                         struct kb_err *err)
{
    enum kb_status st;
    struct parser p = {.text = text, .len = len, .err = err};
    *out = NULL;
    if (lim != NULL)
        p.lim = *lim;
    else
        pql_limits_default(&p.lim);
    if (p.lim.max_query_len > UINT32_MAX - 1)
        p.lim.max_query_len = UINT32_MAX - 1;
    if (len > p.lim.max_query_len)
        return kb_errf(err, KB_ERR_LIMIT,
                       "1:1: query is %zu bytes long, more than the limit "
                       "of %zu",
                       len, p.lim.max_query_len);
    for (size_t i = 0; i < len;) {
        size_t l = kb_utf8_seq((const uint8_t *)text + i, len - i, NULL);
        if (l == 0)
            return pql_errat(err, KB_ERR_INVALID, text, len, i,
                             "invalid UTF-8 encoding");
        i += l;
    }
    p.ast = kb_calloc(1, sizeof(*p.ast));
    p.ast->arena = arena_new(0);
    pql_lexer_init(&p.lx, text, len, p.lim.max_string, p.ast->arena);
    if ((st = pql_lex(&p.lx, &p.tok, err)) != KB_OK)
        goto fail;
    if (p.tok.type == PQL_T_EOF) {
        st = errat(&p, 0, KB_ERR_INVALID, "no expression found in input");
        goto fail;
    }
    if ((st = parse_expr(&p, &p.ast->root)) != KB_OK)
        goto fail;
    if (p.tok.type != PQL_T_EOF) {
        st = unexpected(&p, NULL, NULL);
        goto fail;
    }
    *out = p.ast;
    return KB_OK;
fail:
    pql_ast_free(p.ast);
    return st;
}
