/* tests/fuzz/fuzz_promql_parser.c: libFuzzer target for pql_parse and
 * pql_format (promql-like/), which read queries from the HTTP API, rule
 * files and the command line.
 *
 * The input is a query (a NUL byte in it is an error, not its end). A
 * failure must come with a status, a message that starts with a position
 * ("<line>:<col>: "), and no tree. A success must give a tree whose
 * invariants hold (ast.h: types, ids, heights within the depth limit,
 * selectors with a non-empty matcher and regexes exactly for =~ and !~,
 * calls that match the function table); printing it, parsing the text
 * again and printing that must succeed, give an equal tree and the same
 * text.
 *
 * Built and run by scripts/fuzz (with promql-like/, base/ and pprof/);
 * seeds in tests/fuzz/corpus/fuzz_promql_parser/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "promql-like/parser.h"
#include "tests/fuzz/check.h"

static size_t n_nodes;

static bool type_ok(enum pql_type t)
{
    return t == PQL_TYPE_SCALAR || t == PQL_TYPE_VECTOR ||
           t == PQL_TYPE_MATRIX || t == PQL_TYPE_STRING;
}

static void check_labels(const struct pql_label_list *l)
{
    FUZZ_REQUIRE(l->n <= PQL_MAX_LIST);
    for (size_t i = 0; i < l->n; i++)
        FUZZ_REQUIRE(l->names[i] != NULL && l->names[i][0] != '\0');
}

static void check_node(const struct pql_expr *e, size_t len)
{
    FUZZ_REQUIRE(e->id < n_nodes);
    FUZZ_REQUIRE(e->pos <= e->end && e->end <= len);
    FUZZ_REQUIRE(e->height >= 1 && e->height <= PQL_MAX_DEPTH);
    FUZZ_REQUIRE(type_ok(e->type));
    const struct pql_expr *kids[PQL_MAX_LIST + 2];
    size_t nk = 0;
    switch (e->kind) {
    case PQL_NUMBER:
        FUZZ_REQUIRE(e->type == PQL_TYPE_SCALAR);
        break;
    case PQL_STRING:
        FUZZ_REQUIRE(e->type == PQL_TYPE_STRING && e->u.string != NULL);
        break;
    case PQL_VECTOR_SEL:
    case PQL_MATRIX_SEL: {
        const struct pql_selector *s = &e->u.sel;
        bool matrix = e->kind == PQL_MATRIX_SEL;
        FUZZ_REQUIRE(e->type == (matrix ? PQL_TYPE_MATRIX : PQL_TYPE_VECTOR));
        FUZZ_REQUIRE(matrix ? s->range_ms > 0 : s->range_ms == 0);
        FUZZ_REQUIRE(s->n_matchers >= 1 &&
                     s->n_matchers <= PQL_MAX_MATCHERS + 1);
        bool nonempty = false;
        for (size_t i = 0; i < s->n_matchers; i++) {
            const struct pql_matcher *m = &s->matchers[i];
            bool re = m->type == PQL_MATCH_RE || m->type == PQL_MATCH_NRE;
            FUZZ_REQUIRE(re == (m->re != NULL));
            FUZZ_REQUIRE(m->name != NULL && m->value != NULL);
            bool empty_ok = m->type == PQL_MATCH_EQ    ? m->value[0] == '\0'
                            : m->type == PQL_MATCH_NEQ ? m->value[0] != '\0'
                            : m->type == PQL_MATCH_RE
                                ? kb_regex_match(m->re, "", 0)
                                : !kb_regex_match(m->re, "", 0);
            nonempty |= !empty_ok;
        }
        FUZZ_REQUIRE(nonempty);
        if (s->name != NULL) {
            const struct pql_matcher *last = &s->matchers[s->n_matchers - 1];
            FUZZ_REQUIRE(strcmp(last->name, "__name__") == 0);
            FUZZ_REQUIRE(strcmp(last->value, s->name) == 0);
        }
        break;
    }
    case PQL_SUBQUERY:
        FUZZ_REQUIRE(e->type == PQL_TYPE_MATRIX);
        FUZZ_REQUIRE(e->u.subquery.range_ms > 0 && e->u.subquery.step_ms >= 0);
        FUZZ_REQUIRE(e->u.subquery.expr->type == PQL_TYPE_VECTOR);
        kids[nk++] = e->u.subquery.expr;
        break;
    case PQL_PAREN:
        FUZZ_REQUIRE(e->type == e->u.paren->type);
        kids[nk++] = e->u.paren;
        break;
    case PQL_UNARY:
        FUZZ_REQUIRE(e->type == PQL_TYPE_SCALAR || e->type == PQL_TYPE_VECTOR);
        FUZZ_REQUIRE(e->type == e->u.unary.expr->type);
        kids[nk++] = e->u.unary.expr;
        break;
    case PQL_BINARY: {
        const struct pql_binary *b = &e->u.binary;
        enum pql_type lt = b->lhs->type, rt = b->rhs->type;
        FUZZ_REQUIRE(lt == PQL_TYPE_SCALAR || lt == PQL_TYPE_VECTOR);
        FUZZ_REQUIRE(rt == PQL_TYPE_SCALAR || rt == PQL_TYPE_VECTOR);
        bool vv = lt == PQL_TYPE_VECTOR && rt == PQL_TYPE_VECTOR;
        FUZZ_REQUIRE(e->type == (lt == PQL_TYPE_SCALAR && rt == PQL_TYPE_SCALAR
                                     ? PQL_TYPE_SCALAR
                                     : PQL_TYPE_VECTOR));
        FUZZ_REQUIRE(!b->return_bool || pql_binop_is_comparison(b->op));
        FUZZ_REQUIRE(pql_binop_is_set(b->op) ==
                     (b->card == PQL_CARD_MANY_TO_MANY));
        FUZZ_REQUIRE(!pql_binop_is_set(b->op) || vv);
        FUZZ_REQUIRE(vv || (!b->on && b->matching.n == 0 &&
                            b->card == PQL_CARD_ONE_TO_ONE));
        bool group =
            b->card == PQL_CARD_MANY_TO_ONE || b->card == PQL_CARD_ONE_TO_MANY;
        FUZZ_REQUIRE(group || b->include.n == 0);
        check_labels(&b->matching);
        check_labels(&b->include);
        kids[nk++] = b->lhs;
        kids[nk++] = b->rhs;
        break;
    }
    case PQL_AGGREGATE: {
        const struct pql_aggregate *a = &e->u.agg;
        FUZZ_REQUIRE(e->type == PQL_TYPE_VECTOR);
        FUZZ_REQUIRE(a->expr->type == PQL_TYPE_VECTOR);
        FUZZ_REQUIRE((a->param != NULL) == pql_aggop_has_param(a->op));
        if (a->param != NULL) {
            FUZZ_REQUIRE(a->param->type == (a->op == PQL_AGG_COUNT_VALUES
                                                ? PQL_TYPE_STRING
                                                : PQL_TYPE_SCALAR));
            kids[nk++] = a->param;
        }
        check_labels(&a->grouping);
        kids[nk++] = a->expr;
        break;
    }
    case PQL_CALL: {
        const struct pql_call *c = &e->u.call;
        const struct pql_function *f = c->func;
        FUZZ_REQUIRE(f == pql_function_get(f->id));
        FUZZ_REQUIRE(e->type == f->ret);
        FUZZ_REQUIRE(c->n_args >= (size_t)f->min_args);
        FUZZ_REQUIRE(f->max_args < 0 || c->n_args <= (size_t)f->max_args);
        FUZZ_REQUIRE(c->n_args <= PQL_MAX_LIST);
        for (size_t i = 0; i < c->n_args; i++) {
            FUZZ_REQUIRE(c->args[i]->type == pql_function_arg_type(f, i));
            kids[nk++] = c->args[i];
        }
        break;
    }
    default:
        FUZZ_REQUIRE(!"unknown node kind");
    }
    uint32_t h = 1;
    for (size_t i = 0; i < nk; i++) {
        check_node(kids[i], len);
        if (kids[i]->height + 1 > h)
            h = kids[i]->height + 1;
    }
    FUZZ_REQUIRE(e->height == h);
}

/* "<line>:<col>: " */
static bool positioned(const char *msg)
{
    for (int part = 0; part < 2; part++) {
        if (*msg < '1' || *msg > '9')
            return false;
        while (*msg >= '0' && *msg <= '9')
            msg++;
        if (*msg++ != ':')
            return false;
    }
    return *msg == ' ';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    FUZZ_REQUIRE(text != NULL);
    if (size)
        memcpy(text, data, size);

    struct pql_ast *ast = (struct pql_ast *)1;
    struct kb_err err;
    kb_err_clear(&err);
    enum kb_status st = pql_parse(text, size, NULL, &ast, &err);
    if (st != KB_OK) {
        fuzz_check_error(st, &err);
        FUZZ_REQUIRE(st == KB_ERR_INVALID || st == KB_ERR_LIMIT);
        FUZZ_REQUIRE(positioned(err.msg));
        FUZZ_REQUIRE(ast == NULL);
        free(text);
        return 0;
    }
    FUZZ_REQUIRE(ast != NULL);
    n_nodes = pql_ast_node_count(ast);
    check_node(pql_ast_root(ast), size);

    struct buf one, two;
    buf_init(&one, BUF_NO_LIMIT);
    buf_init(&two, BUF_NO_LIMIT);
    FUZZ_REQUIRE(pql_format(pql_ast_root(ast), &one) == KB_OK);

    /* The canonical text may be longer than the input (`@ 1` prints as
     * `@ 1.000`), so it is parsed with room for that. */
    struct pql_limits lim;
    pql_limits_default(&lim);
    lim.max_query_len *= 16;
    struct pql_ast *again = NULL;
    st = pql_parse((const char *)one.data, one.len, &lim, &again, &err);
    if (st != KB_OK)
        fprintf(stderr, "printed: %s\nerror: %s\n", buf_cstr(&one), err.msg);
    FUZZ_REQUIRE(st == KB_OK);
    FUZZ_REQUIRE(pql_expr_equal(pql_ast_root(ast), pql_ast_root(again)));
    FUZZ_REQUIRE(pql_format(pql_ast_root(again), &two) == KB_OK);
    if (strcmp(buf_cstr(&one), buf_cstr(&two)) != 0)
        fprintf(stderr, "printed: %s\nreprinted: %s\n", buf_cstr(&one),
                buf_cstr(&two));
    FUZZ_REQUIRE(strcmp(buf_cstr(&one), buf_cstr(&two)) == 0);

    buf_free(&one);
    buf_free(&two);
    pql_ast_free(again);
    pql_ast_free(ast);
    free(text);
    return 0;
}
