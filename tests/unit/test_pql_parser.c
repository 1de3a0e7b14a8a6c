/* tests/unit/test_pql_parser.c: the query language's lexer, parser and
 * printer (promql-like/).
 *
 * A table of valid queries with their canonical printed form (every one is
 * also printed, parsed again and compared: parse(print(ast)) == ast), a
 * table of invalid queries with their exact error messages and positions,
 * precedence and associativity checked on the tree's shape, the static
 * types of results, the limits, and the AST fields the evaluator reads.
 */
#include <math.h>
#include <string.h>

#include "base/buf.h"
#include "promql-like/parser.h"
#include "tests/unit/unit.h"

/* Parse `q`; on success print it into `out` (of `size` bytes); on failure
 * copy the error message there. Returns the tree (NULL on failure). */
static struct pql_ast *parse(const char *q, char *out, size_t size,
                             enum kb_status *stp)
{
    struct pql_ast *ast = NULL;
    struct kb_err err;
    kb_err_clear(&err);
    enum kb_status st = pql_parse(q, strlen(q), NULL, &ast, &err);
    if (stp != NULL)
        *stp = st;
    if (st != KB_OK) {
        snprintf(out, size, "%s", err.msg);
        return NULL;
    }
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    if (pql_format(pql_ast_root(ast), &b) != KB_OK)
        snprintf(out, size, "(format failed)");
    else
        snprintf(out, size, "%s", buf_cstr(&b));
    buf_free(&b);
    return ast;
}

/* `q` parses, prints as `want`, and the printed form parses to an equal
 * tree that prints the same. */
static int check_ok(const char *q, const char *want)
{
    char got[4096], again[4096];
    struct pql_ast *a = parse(q, got, sizeof(got), NULL);
    if (a == NULL) {
        printf("# %s: error %s\n", q, got);
        return 0;
    }
    int ok = 1;
    if (strcmp(got, want) != 0) {
        printf("# %s: printed %s, expected %s\n", q, got, want);
        ok = 0;
    }
    struct pql_ast *b = parse(got, again, sizeof(again), NULL);
    if (b == NULL) {
        printf("# %s: printed %s does not parse: %s\n", q, got, again);
        ok = 0;
    } else {
        if (!pql_expr_equal(pql_ast_root(a), pql_ast_root(b))) {
            printf("# %s: printed %s parses to a different tree\n", q, got);
            ok = 0;
        }
        if (strcmp(got, again) != 0) {
            printf("# %s: printed %s, reprinted %s\n", q, got, again);
            ok = 0;
        }
    }
    pql_ast_free(a);
    pql_ast_free(b);
    return ok;
}

static int check_err(const char *q, const char *want)
{
    char got[4096];
    struct pql_ast *a = parse(q, got, sizeof(got), NULL);
    if (a != NULL) {
        printf("# %s: parsed (as %s), expected error %s\n", q, got, want);
        pql_ast_free(a);
        return 0;
    }
    if (strcmp(got, want) != 0) {
        printf("# %s: error %s\n#   expected %s\n", q, got, want);
        return 0;
    }
    return 1;
}

static const struct {
    const char *q;
    const char *want;
} valid[] = {
    /* numbers */
    {"1", "1"},
    {"1.5", "1.5"},
    {".5", "0.5"},
    {"5.", "5"},
    {"0x1f", "31"},
    {"0X1F", "31"},
    {"1e3", "1000"},
    {"1E-3", "0.001"},
    {"1.5e+2", "150"},
    {"1e21", "1e+21"},
    {"1e300", "1e+300"},
    {"1e-7", "1e-7"},
    {"0.000001", "0.000001"},
    {"123456789012", "123456789012"},
    {"0.1", "0.1"},
    {"Inf", "Inf"},
    {"inf", "Inf"},
    {"-Inf", "-Inf"},
    {"+Inf", "Inf"},
    {"2 ^ -Inf ^ x", "2 ^ -Inf ^ x"},
    {"NaN", "NaN"},
    {"nan", "NaN"},
    {"-1", "-1"},
    {"- 1", "-1"},
    {"--1", "1"},
    {"+1", "1"},
    {"-0", "-0"},
    {"010", "10"},
    {"  1  # a comment", "1"},
    {"# comment\n1", "1"},
    /* strings */
    {"\"a\"", "\"a\""},
    {"'a'", "\"a\""},
    {"`a\\n`", "\"a\\\\n\""},
    {"'it\\'s'", "\"it's\""},
    {"\"say \\\"hi\\\"\"", "\"say \\\"hi\\\"\""},
    {"\"\\a\\b\\f\\n\\r\\t\\v\\\\\"", "\"\\a\\b\\f\\n\\r\\t\\v\\\\\""},
    {"\"\\x41\\101\\u00e9\\U0001F600\"", "\"AA\xc3\xa9\xf0\x9f\x98\x80\""},
    {"\"\\x01\"", "\"\\x01\""},
    {"`multi\nline`", "\"multi\\nline\""},
    {"\"caf\xc3\xa9\"", "\"caf\xc3\xa9\""},
    /* selectors */
    {"foo", "foo"},
    {"foo{}", "foo"},
    {"job:rate5m:sum", "job:rate5m:sum"},
    {":foo", ":foo"},
    {"foo{a=\"b\"}", "foo{a=\"b\"}"},
    {"foo{ a = \"b\" , c != 'd', e =~ \"f.*\", g !~ `h` , }",
     "foo{a=\"b\",c!=\"d\",e=~\"f.*\",g!~\"h\"}"},
    {"{__name__=\"foo\"}", "{__name__=\"foo\"}"},
    {"{__name__=~\"foo|bar\", job=\"x\"}", "{__name__=~\"foo|bar\",job=\"x\"}"},
    {"{a=\"b\"}", "{a=\"b\"}"},
    {"{a=~\".+\"}", "{a=~\".+\"}"},
    {"{a!~\"\"}", "{a!~\"\"}"},
    {"{a!=\"\"}", "{a!=\"\"}"},
    {"{a=\"\", b=\"c\"}", "{a=\"\",b=\"c\"}"},
    {"cpu{__function__=~\"regexp\\\\.Compile.*\"}",
     "cpu{__function__=~\"regexp\\\\.Compile.*\"}"},
    {"cpu{__leaf__=\"runtime.mallocgc\"}",
     "cpu{__leaf__=\"runtime.mallocgc\"}"},
    {"inuse_space", "inuse_space"},
    {"foo{by=\"x\", on=\"y\", sum=\"z\", offset=\"w\", nan=\"v\"}",
     "foo{by=\"x\",on=\"y\",sum=\"z\",offset=\"w\",nan=\"v\"}"},
    {"start", "start"},
    {"end", "end"},
    /* ranges, offset, @ */
    {"foo[5m]", "foo[5m]"},
    {"foo[1h30m]", "foo[1h30m]"},
    {"foo[90m]", "foo[1h30m]"},
    {"foo[3600s]", "foo[1h]"},
    {"foo[1d]", "foo[1d]"},
    {"foo[7d]", "foo[1w]"},
    {"foo[8d]", "foo[8d]"},
    {"foo[365d]", "foo[1y]"},
    {"foo[1y2w]", "foo[379d]"},
    {"foo[500ms]", "foo[500ms]"},
    {"foo[1s500ms]", "foo[1s500ms]"},
    {"foo[1y1w1d1h1m1s1ms]", "foo[373d1h1m1s1ms]"},
    {"foo{a=\"b\"}[5m]", "foo{a=\"b\"}[5m]"},
    {"foo offset 5m", "foo offset 5m"},
    {"foo OFFSET 5m", "foo offset 5m"},
    {"foo offset -5m", "foo offset -5m"},
    {"foo[5m] offset 1w", "foo[5m] offset 1w"},
    {"foo @ 100", "foo @ 100.000"},
    {"foo @ 1603774568.123", "foo @ 1603774568.123"},
    {"foo @ -1.5", "foo @ -1.500"},
    {"foo @ +2", "foo @ 2.000"},
    {"foo @ 1e3", "foo @ 1000.000"},
    {"foo @ start()", "foo @ start()"},
    {"foo @ end()", "foo @ end()"},
    {"foo offset 5m @ 100", "foo @ 100.000 offset 5m"},
    {"foo @ 100 offset 5m", "foo @ 100.000 offset 5m"},
    {"foo[5m] @ end() offset -1h", "foo[5m] @ end() offset -1h"},
    /* subqueries */
    {"foo[1h:5m]", "foo[1h:5m]"},
    {"foo[1h:]", "foo[1h:]"},
    {"rate(foo[5m])[1h:1m]", "rate(foo[5m])[1h:1m]"},
    {"foo offset 5m [1h:]", "foo offset 5m[1h:]"},
    {"foo @ 10 [1h:]", "foo @ 10.000[1h:]"},
    {"foo[1h:5m] offset 1d", "foo[1h:5m] offset 1d"},
    {"foo[1h:5m] @ start() offset 1d", "foo[1h:5m] @ start() offset 1d"},
    {"(a + b)[1h:]", "(a + b)[1h:]"},
    {"max_over_time(rate(x[5m])[1h:])", "max_over_time(rate(x[5m])[1h:])"},
    {"max_over_time(deriv(rate(x[5m])[10m:1m])[1h:])",
     "max_over_time(deriv(rate(x[5m])[10m:1m])[1h:])"},
    /* aggregations */
    {"sum(foo)", "sum(foo)"},
    {"SUM(foo)", "sum(foo)"},
    {"sum by (job) (foo)", "sum by (job) (foo)"},
    {"sum(foo) by (job)", "sum by (job) (foo)"},
    {"sum by (job, instance,) (foo)", "sum by (job, instance) (foo)"},
    {"sum without (job) (foo)", "sum without (job) (foo)"},
    {"sum(foo) without (job)", "sum without (job) (foo)"},
    {"sum without () (foo)", "sum without () (foo)"},
    {"sum by () (foo)", "sum(foo)"},
    {"sum by (__leaf__) (rate(cpu{job=\"api\"}[5m]))",
     "sum by (__leaf__) (rate(cpu{job=\"api\"}[5m]))"},
    {"sum by (on, by, offset, nan) (foo)",
     "sum by (on, by, offset, nan) (foo)"},
    {"avg(foo)", "avg(foo)"},
    {"min(foo)", "min(foo)"},
    {"max(foo)", "max(foo)"},
    {"count(foo)", "count(foo)"},
    {"group(foo)", "group(foo)"},
    {"stddev(foo)", "stddev(foo)"},
    {"stdvar(foo)", "stdvar(foo)"},
    {"topk(5, foo)", "topk(5, foo)"},
    {"topk by (job) (5, foo)", "topk by (job) (5, foo)"},
    {"bottomk(scalar(x), foo)", "bottomk(scalar(x), foo)"},
    {"quantile(0.9, foo)", "quantile(0.9, foo)"},
    {"count_values(\"value\", foo)", "count_values(\"value\", foo)"},
    {"count_values without (a) ('v', foo)",
     "count_values without (a) (\"v\", foo)"},
    {"sum(foo,)", "sum(foo)"},
    {"sum(-foo)", "sum(-foo)"},
    {"sum(1 + foo)", "sum(1 + foo)"},
    /* binary operators */
    {"a + b", "a + b"},
    {"a+b*c", "a + b * c"},
    {"a - b - c", "a - b - c"},
    {"a - (b - c)", "a - (b - c)"},
    {"a ^ b ^ c", "a ^ b ^ c"},
    {"a % b", "a % b"},
    {"a atan2 b", "a atan2 b"},
    {"a ATAN2 b", "a atan2 b"},
    {"a == b", "a == b"},
    {"a != b", "a != b"},
    {"a > b", "a > b"},
    {"a < b", "a < b"},
    {"a >= b", "a >= b"},
    {"a <= b", "a <= b"},
    {"a > bool b", "a > bool b"},
    {"1 == bool 2", "1 == bool 2"},
    {"a > 1", "a > 1"},
    {"1 < a", "1 < a"},
    {"a and b", "a and b"},
    {"a AND b", "a and b"},
    {"a or b", "a or b"},
    {"a unless b", "a unless b"},
    {"1 + 2", "1 + 2"},
    {"1 + -2", "1 + -2"},
    {"1 - -1", "1 - -1"},
    {"2 ^ -1", "2 ^ -1"},
    {"-2 ^ 2", "-2 ^ 2"},
    {"-a", "-a"},
    {"+a", "+a"},
    {"- -a", "--a"},
    {"-a * b", "-a * b"},
    {"-(a + b)", "-(a + b)"},
    {"((a))", "((a))"},
    {"a / on (job) b", "a / on (job) b"},
    {"a / on() b", "a / on () b"},
    {"a / ignoring (job) b", "a / ignoring (job) b"},
    {"a / ignoring () b", "a / b"},
    {"a / on (job) group_left b", "a / on (job) group_left () b"},
    {"a / on (job) group_left (x, y) b", "a / on (job) group_left (x, y) b"},
    {"a / ignoring (job) group_right () b",
     "a / ignoring (job) group_right () b"},
    {"a / ignoring () group_left b", "a / ignoring () group_left () b"},
    {"a > bool on (job) b", "a > bool on (job) b"},
    {"a and on (job) b", "a and on (job) b"},
    {"a or ignoring (job) b", "a or ignoring (job) b"},
    {"a + on (job) group_left (job2) b", "a + on (job) group_left (job2) b"},
    {"sum by (job, __function__) (rate(cpu{__function__=~\"compress.*\"}"
     "[5m])) / ignoring (__function__) group_left sum by (job) "
     "(rate(cpu[5m]))",
     "sum by (job, __function__) (rate(cpu{__function__=~\"compress.*\"}"
     "[5m])) / ignoring (__function__) group_left () sum by (job) "
     "(rate(cpu[5m]))"},
    {"rate(cpu[5m]) / rate(cpu[5m] offset 1w)",
     "rate(cpu[5m]) / rate(cpu[5m] offset 1w)"},
    /* functions */
    {"rate(foo[5m])", "rate(foo[5m])"},
    {"irate(foo[5m])", "irate(foo[5m])"},
    {"increase(foo[1h])", "increase(foo[1h])"},
    {"time()", "time()"},
    {"pi()", "pi()"},
    {"vector(1)", "vector(1)"},
    {"scalar(foo)", "scalar(foo)"},
    {"abs(foo)", "abs(foo)"},
    {"absent(foo)", "absent(foo)"},
    {"clamp(foo, 0, 1)", "clamp(foo, 0, 1)"},
    {"clamp_min(foo, 0)", "clamp_min(foo, 0)"},
    {"clamp_max(foo, time())", "clamp_max(foo, time())"},
    {"round(foo)", "round(foo)"},
    {"round(foo, 0.5)", "round(foo, 0.5)"},
    {"day_of_week()", "day_of_week()"},
    {"day_of_week(foo)", "day_of_week(foo)"},
    {"days_in_month(vector(time()))", "days_in_month(vector(time()))"},
    {"histogram_quantile(0.9, rate(h[5m]))",
     "histogram_quantile(0.9, rate(h[5m]))"},
    {"quantile_over_time(0.5, foo[1h])", "quantile_over_time(0.5, foo[1h])"},
    {"predict_linear(foo[1h], 3600)", "predict_linear(foo[1h], 3600)"},
    {"holt_winters(foo[1h], 0.5, 0.5)", "holt_winters(foo[1h], 0.5, 0.5)"},
    {"label_replace(foo, \"dst\", \"$1\", \"src\", \"(.*)\")",
     "label_replace(foo, \"dst\", \"$1\", \"src\", \"(.*)\")"},
    {"label_join(foo, \"dst\", \",\")", "label_join(foo, \"dst\", \",\")"},
    {"label_join(foo, \"dst\", \",\", \"a\", \"b\", \"c\")",
     "label_join(foo, \"dst\", \",\", \"a\", \"b\", \"c\")"},
    {"sort_desc(sum by (a) (rate(x[5m])))",
     "sort_desc(sum by (a) (rate(x[5m])))"},
    {"timestamp(foo @ 10)", "timestamp(foo @ 10.000)"},
    {"rate(foo[5m],)", "rate(foo[5m])"},
    {"sum_over_time(foo[5m]) + avg_over_time(foo[5m]) - "
     "min_over_time(foo[5m]) * max_over_time(foo[5m])",
     "sum_over_time(foo[5m]) + avg_over_time(foo[5m]) - "
     "min_over_time(foo[5m]) * max_over_time(foo[5m])"},
    {"count_over_time(foo[5m]) / last_over_time(foo[5m]) ^ "
     "stddev_over_time(foo[5m])",
     "count_over_time(foo[5m]) / last_over_time(foo[5m]) ^ "
     "stddev_over_time(foo[5m])"},
    /* a metric named like a function, and a label named like one */
    {"rate", "rate"},
    {"rate{rate=\"1\"}", "rate{rate=\"1\"}"},
    /* whitespace and comments anywhere */
    {"sum\n  by (job)\n  (\n    rate(foo[5m]) # per second\n  )",
     "sum by (job) (rate(foo[5m]))"},
};

static void test_valid(void)
{
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
        CHECK(check_ok(valid[i].q, valid[i].want));
}

static const struct {
    const char *q;
    const char *want;
} invalid[] = {
    /* lexical */
    {"", "1:1: no expression found in input"},
    {"  # only a comment", "1:1: no expression found in input"},
    {"foo $ bar", "1:5: unexpected character \"$\""},
    {"foo ~ bar", "1:5: unexpected character \"~\""},
    {"foo !", "1:5: unexpected character \"!\""},
    {".", "1:1: unexpected character \".\""},
    {"1.5h", "1:1: bad number or duration syntax: \"1.5h\""},
    {"1x", "1:1: bad number or duration syntax: \"1x\""},
    {"0x1g", "1:1: bad number or duration syntax: \"0x1g\""},
    {"1e", "1:1: bad number or duration syntax: \"1e\""},
    {"1.2.3", "1:1: bad number or duration syntax: \"1.2.3\""},
    {"1e999", "1:1: number out of range: \"1e999\""},
    {"foo[5m1h]", "1:5: not a valid duration: \"5m1h\""},
    {"foo[5m5m]", "1:5: not a valid duration: \"5m5m\""},
    {"foo[99999999999999999999s]",
     "1:5: not a valid duration: \"99999999999999999999s\""},
    {"foo[32000y]", "1:5: not a valid duration: \"32000y\""},
    {"\"abc", "1:1: unterminated quoted string"},
    {"'abc\ndef'", "1:1: unterminated quoted string"},
    {"`abc", "1:1: unterminated raw string"},
    {"\"\\q\"", "1:2: unknown escape sequence \"\\q\""},
    {"\"\\'\"", "1:2: unknown escape sequence \"\\'\""},
    {"'\\\"'", "1:2: unknown escape sequence \"\\\"\""},
    {"\"\\x4\"", "1:2: unknown escape sequence \"\\x\""},
    {"\"\\400\"", "1:2: unknown escape sequence \"\\4\""},
    {"\"\\ud800\"", "1:2: unknown escape sequence \"\\u\""},
    {"\"\\x00\"", "1:1: string contains a NUL byte"},
    {"\"\\xff\"", "1:1: invalid UTF-8 in string"},
    {"foo\xff", "1:4: invalid UTF-8 encoding"},
    {"a +\n  $", "2:3: unexpected character \"$\""},
    /* structure */
    {"1 +", "1:4: unexpected end of input, expected expression"},
    {"1 + ", "1:5: unexpected end of input, expected expression"},
    {"(foo", "1:5: unexpected end of input in parentheses, expected \")\""},
    {"foo)", "1:4: unexpected \")\""},
    {"foo bar", "1:5: unexpected identifier \"bar\""},
    {"foo 1", "1:5: unexpected number \"1\""},
    {")", "1:1: unexpected \")\", expected expression"},
    {"by", "1:1: unexpected \"by\", expected expression"},
    {"foo = 1", "1:5: unexpected \"=\""},
    {"5m", "1:1: unexpected duration \"5m\", expected expression"},
    {"foo 'b'", "1:5: unexpected string \"b\""},
    /* selectors */
    {"{}", "1:1: vector selector must contain at least one non-empty "
           "matcher"},
    {"{a=\"\"}", "1:1: vector selector must contain at least one non-empty "
                 "matcher"},
    {"{a=~\".*\"}", "1:1: vector selector must contain at least one "
                    "non-empty matcher"},
    {"{a!~\".+\"}", "1:1: vector selector must contain at least one "
                    "non-empty matcher"},
    {"{a!=\"x\"}", "1:1: vector selector must contain at least one "
                   "non-empty matcher"},
    {"foo{a=\"b\"", "1:10: unexpected end of input in label matching, "
                    "expected \",\" or \"}\""},
    {"foo{a}", "1:6: unexpected \"}\" in label matching, expected label "
               "matching operator"},
    {"foo{a=}", "1:7: unexpected \"}\" in label matching, expected string"},
    {"foo{a==\"b\"}", "1:6: unexpected \"==\" in label matching, expected "
                      "label matching operator"},
    {"foo{a=1}", "1:7: unexpected number \"1\" in label matching, expected "
                 "string"},
    {"foo{=\"b\"}", "1:5: unexpected \"=\" in label matching, expected "
                    "label name or \"}\""},
    {"foo{a=\"b\" c=\"d\"}", "1:11: unexpected identifier \"c\" in label "
                             "matching, expected \",\" or \"}\""},
    {"foo{a:b=\"c\"}", "1:6: unexpected \":\" in label matching, expected "
                       "label matching operator"},
    {"foo{,}", "1:5: unexpected \",\" in label matching, expected label "
               "name or \"}\""},
    {"foo{__name__=\"bar\"}", "1:5: metric name must not be set twice: "
                              "\"foo\" or \"bar\""},
    {"foo{a=~\"(\"}", "1:8: invalid regular expression: regex \"(\": "
                      "offset 1: missing closing parenthesis"},
    {"foo}", "1:4: unexpected \"}\""},
    /* ranges, offsets, @ */
    {"foo[5]", "1:5: unexpected number \"5\" in range or subquery, "
               "expected duration"},
    {"foo[]", "1:5: unexpected \"]\" in range or subquery, expected "
              "duration"},
    {"foo[5m", "1:7: unexpected end of input in range or subquery, "
               "expected \":\" or \"]\""},
    {"foo[0s]", "1:5: duration must be greater than 0"},
    {"foo[1h:0s]", "1:8: duration must be greater than 0"},
    {"foo offset 0s", "1:12: duration must be greater than 0"},
    {"foo offset -0m0s", "1:13: duration must be greater than 0"},
    {"foo[1h:5m", "1:10: unexpected end of input in subquery, expected "
                  "\"]\""},
    {"foo[1h:5]", "1:8: unexpected number \"5\" in subquery, expected "
                  "\"]\""},
    {"(foo)[5m]", "1:6: ranges only allowed for vector selectors"},
    {"rate(foo[5m])[5m]", "1:14: ranges only allowed for vector "
                          "selectors"},
    {"foo[5m][5m]", "1:8: ranges only allowed for vector selectors"},
    {"foo offset 5m [5m]", "1:15: no offset modifiers allowed before "
                           "range"},
    {"foo @ 1 [5m]", "1:9: no @ modifiers allowed before range"},
    {"foo[5m][1h:]", "1:8: subquery is only allowed on instant vector, "
                     "got range vector instead"},
    {"sum(x)[1h:][2h:]", "1:12: subquery is only allowed on instant "
                         "vector, got range vector instead"},
    {"1[1h:]", "1:2: subquery is only allowed on instant vector, got "
               "scalar instead"},
    {"foo offset", "1:11: unexpected end of input in offset, expected "
                   "duration"},
    {"foo offset 5", "1:12: unexpected number \"5\" in offset, expected "
                     "duration"},
    {"foo offset +5m", "1:12: unexpected \"+\" in offset, expected "
                       "duration"},
    {"foo offset 5m offset 1m", "1:15: offset may not be set multiple "
                                "times"},
    {"foo @ 1 @ 2", "1:9: @ <timestamp> may not be set multiple times"},
    {"sum(foo) offset 5m", "1:10: offset modifier must be preceded by an "
                           "instant vector selector or range vector "
                           "selector or a subquery"},
    {"(foo) @ 5", "1:7: @ modifier must be preceded by an instant vector "
                  "selector or range vector selector or a subquery"},
    {"1 offset 5m", "1:3: offset modifier must be preceded by an instant "
                    "vector selector or range vector selector or a "
                    "subquery"},
    {"foo @ Inf", "1:7: timestamp out of range for @ modifier"},
    {"foo @ NaN", "1:7: timestamp out of range for @ modifier"},
    {"foo @ 1e13", "1:7: timestamp out of range for @ modifier"},
    {"foo @ start", "1:12: unexpected end of input in @, expected \"(\""},
    {"foo @ start(1)", "1:13: unexpected number \"1\" in @, expected "
                       "\")\""},
    {"foo @ bar", "1:7: unexpected identifier \"bar\" in @, expected "
                  "timestamp, start() or end()"},
    {"foo @ 5m", "1:7: unexpected duration \"5m\" in @, expected "
                 "timestamp, start() or end()"},
    /* aggregations */
    {"sum", "1:4: unexpected end of input in aggregation, expected \"(\""},
    {"sum foo", "1:5: unexpected identifier \"foo\" in aggregation, "
                "expected \"(\""},
    {"sum()", "1:1: no arguments for aggregate expression provided"},
    {"sum(a, b)", "1:1: wrong number of arguments for aggregate expression "
                  "provided, expected 1, got 2"},
    {"topk(foo)", "1:1: wrong number of arguments for aggregate "
                  "expression provided, expected 2, got 1"},
    {"sum(1)", "1:5: expected type instant vector in aggregation "
               "expression, got scalar"},
    {"sum(foo[5m])", "1:5: expected type instant vector in aggregation "
                     "expression, got range vector"},
    {"topk(\"a\", foo)", "1:6: expected type scalar in aggregation "
                         "parameter, got string"},
    {"quantile(foo, foo)", "1:10: expected type scalar in aggregation "
                           "parameter, got instant vector"},
    {"count_values(1, foo)", "1:14: expected type string in aggregation "
                             "parameter, got scalar"},
    {"sum by (a) (foo) by (b)", "1:18: unexpected \"by\""},
    {"sum by a (foo)", "1:8: unexpected identifier \"a\" in grouping opts, "
                       "expected \"(\""},
    {"sum by (a b) (foo)", "1:11: unexpected identifier \"b\" in grouping "
                           "opts, expected \",\" or \")\""},
    {"sum by (a:b) (foo)", "1:9: unexpected identifier \"a:b\" in grouping "
                           "opts, expected label name or \")\""},
    {"sum by (\"a\") (foo)", "1:9: unexpected string \"a\" in grouping "
                             "opts, expected label name or \")\""},
    {"sum(foo", "1:8: unexpected end of input in aggregation, expected "
                "\",\" or \")\""},
    /* functions */
    {"foo()", "1:1: unknown function with name \"foo\""},
    {"Rate(foo[5m])", "1:1: unknown function with name \"Rate\""},
    {"rate(foo)", "1:6: expected type range vector in call to function "
                  "\"rate\", got instant vector"},
    {"rate(1)", "1:6: expected type range vector in call to function "
                "\"rate\", got scalar"},
    {"abs(foo[5m])", "1:5: expected type instant vector in call to "
                     "function \"abs\", got range vector"},
    {"vector(foo)", "1:8: expected type scalar in call to function "
                    "\"vector\", got instant vector"},
    {"label_replace(foo, \"a\", \"b\", \"c\", 1)",
     "1:35: expected type string in call to function \"label_replace\", "
     "got scalar"},
    {"label_join(foo, \"a\", \",\", 1)",
     "1:27: expected type string in call to function \"label_join\", got "
     "scalar"},
    {"rate()", "1:1: expected 1 argument(s) in call to \"rate\", got 0"},
    {"rate(a[1m], b[1m])", "1:1: expected 1 argument(s) in call to "
                           "\"rate\", got 2"},
    {"time(1)", "1:1: expected 0 argument(s) in call to \"time\", got 1"},
    {"round()", "1:1: expected at least 1 argument(s) in call to \"round\", "
                "got 0"},
    {"round(a, 1, 2)", "1:1: expected at most 2 argument(s) in call to "
                       "\"round\", got 3"},
    {"label_join(foo, \"a\")", "1:1: expected at least 3 argument(s) in "
                               "call to \"label_join\", got 2"},
    {"rate(foo[5m]", "1:13: unexpected end of input in function call, "
                     "expected \",\" or \")\""},
    {"rate(,)", "1:6: unexpected \",\", expected expression"},
    /* binary operators */
    {"a + bool b", "1:5: bool modifier can only be used on comparison "
                   "operators"},
    {"a and bool b", "1:7: bool modifier can only be used on comparison "
                     "operators"},
    {"1 == 1", "1:3: comparisons between scalars must use BOOL modifier"},
    {"1 and 1", "1:3: set operator \"and\" not allowed in binary scalar "
                "expression"},
    {"foo or 1", "1:5: set operator \"or\" not allowed in binary scalar "
                 "expression"},
    {"1 unless foo", "1:3: set operator \"unless\" not allowed in binary "
                     "scalar expression"},
    {"1 + on (a) foo", "1:5: vector matching only allowed between instant "
                       "vectors"},
    {"foo / ignoring () group_left 2", "1:7: vector matching only allowed "
                                       "between instant vectors"},
    {"a and on (x) group_left b", "1:14: no grouping allowed for \"and\" "
                                  "operation"},
    {"a / on (x) group_left (x) b", "1:12: label \"x\" must not occur in ON "
                                    "and GROUP clause at once"},
    {"a / group_left b", "1:5: unexpected \"group_left\", expected "
                         "expression"},
    {"a / on b", "1:8: unexpected identifier \"b\" in on, expected \"(\""},
    {"foo[5m] + 1", "1:1: binary expression must contain only scalar and "
                    "instant vector types"},
    {"1 + foo[5m]", "1:5: binary expression must contain only scalar and "
                    "instant vector types"},
    {"\"a\" + 1", "1:1: binary expression must contain only scalar and "
                  "instant vector types"},
    {"-foo[5m]", "1:1: unary expression only allowed on expressions of "
                 "type scalar or instant vector"},
    {"-\"a\"", "1:1: unary expression only allowed on expressions of type "
               "scalar or instant vector"},
    {"a +\n  rate(b)", "2:8: expected type range vector in call to "
                       "function \"rate\", got instant vector"},
};

static void test_invalid(void)
{
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
        CHECK(check_err(invalid[i].q, invalid[i].want));
}

/* Parse `q`, which must succeed; the caller frees. */
static struct pql_ast *must(const char *q)
{
    char msg[512];
    struct pql_ast *a = parse(q, msg, sizeof(msg), NULL);
    if (a == NULL)
        printf("# %s: %s\n", q, msg);
    return a;
}

/* The shape of a tree as fully parenthesized text: binary nodes as
 * (lhs op rhs), unary as (op x), leaves as printed. */
static void shape(const struct pql_expr *e, struct buf *b)
{
    switch (e->kind) {
    case PQL_BINARY:
        buf_putc(b, '(');
        shape(e->u.binary.lhs, b);
        buf_printf(b, " %s ", pql_binop_str(e->u.binary.op));
        shape(e->u.binary.rhs, b);
        buf_putc(b, ')');
        break;
    case PQL_UNARY:
        buf_printf(b, "(%s", pql_binop_str(e->u.unary.op));
        shape(e->u.unary.expr, b);
        buf_putc(b, ')');
        break;
    case PQL_PAREN:
        shape(e->u.paren, b);
        break;
    default:
        pql_format(e, b);
        break;
    }
}

static int check_shape(const char *q, const char *want)
{
    struct pql_ast *a = must(q);
    if (a == NULL)
        return 0;
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    shape(pql_ast_root(a), &b);
    int ok = strcmp(buf_cstr(&b), want) == 0;
    if (!ok)
        printf("# %s: shape %s, expected %s\n", q, buf_cstr(&b), want);
    buf_free(&b);
    pql_ast_free(a);
    return ok;
}

static void test_precedence(void)
{
    CHECK(check_shape("a + b * c", "(a + (b * c))"));
    CHECK(check_shape("a * b + c", "((a * b) + c)"));
    CHECK(check_shape("a - b - c", "((a - b) - c)"));
    CHECK(check_shape("a / b / c", "((a / b) / c)"));
    CHECK(check_shape("a / b * c % d", "(((a / b) * c) % d)"));
    CHECK(check_shape("a ^ b ^ c", "(a ^ (b ^ c))"));
    CHECK(check_shape("a * b ^ c", "(a * (b ^ c))"));
    CHECK(check_shape("a ^ b * c", "((a ^ b) * c)"));
    CHECK(check_shape("a atan2 b + c", "((a atan2 b) + c)"));
    CHECK(check_shape("a + b atan2 c", "(a + (b atan2 c))"));
    CHECK(check_shape("a + b > c - d", "((a + b) > (c - d))"));
    CHECK(check_shape("a > b == c", "((a > b) == c)"));
    CHECK(check_shape("a > b and c < d", "((a > b) and (c < d))"));
    CHECK(check_shape("a and b or c and d", "((a and b) or (c and d))"));
    CHECK(check_shape("a or b or c", "((a or b) or c)"));
    CHECK(check_shape("a unless b and c", "((a unless b) and c)"));
    CHECK(check_shape("a or b unless c", "(a or (b unless c))"));
    CHECK(check_shape("-a ^ b", "(-(a ^ b))"));
    CHECK(check_shape("-a * b", "((-a) * b)"));
    CHECK(check_shape("-a + b", "((-a) + b)"));
    CHECK(check_shape("a * -b", "(a * (-b))"));
    CHECK(check_shape("a ^ -b ^ c", "(a ^ (-(b ^ c)))"));
    CHECK(check_shape("-2 ^ 2", "(-(2 ^ 2))"));
    CHECK(check_shape("2 ^ -2", "(2 ^ -2)"));
    CHECK(check_shape("-1 * 2", "(-1 * 2)"));
    CHECK(check_shape("a - -b", "(a - (-b))"));
    CHECK(check_shape("(a + b) * c", "((a + b) * c)"));
    CHECK(check_shape("a + b offset 5m", "(a + b offset 5m)"));
    CHECK(check_shape("x + 2 * 3 ^ 4 ^ 5 > bool 6 and on () a or b",
                      "((((x + (2 * (3 ^ (4 ^ 5)))) > 6) and a) or b)"));
}

/* Static types of whole queries. */
static void test_types(void)
{
    static const struct {
        const char *q;
        enum pql_type t;
    } cases[] = {
        {"1", PQL_TYPE_SCALAR},
        {"\"a\"", PQL_TYPE_STRING},
        {"foo", PQL_TYPE_VECTOR},
        {"foo[5m]", PQL_TYPE_MATRIX},
        {"foo[5m:]", PQL_TYPE_MATRIX},
        {"1 + 1", PQL_TYPE_SCALAR},
        {"1 + foo", PQL_TYPE_VECTOR},
        {"foo * 2", PQL_TYPE_VECTOR},
        {"1 > bool 2", PQL_TYPE_SCALAR},
        {"-time()", PQL_TYPE_SCALAR},
        {"(foo[5m])", PQL_TYPE_MATRIX},
        {"scalar(foo)", PQL_TYPE_SCALAR},
        {"rate(foo[5m])", PQL_TYPE_VECTOR},
        {"sum(foo)", PQL_TYPE_VECTOR},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pql_ast *a = must(cases[i].q);
        CHECK(a != NULL);
        if (a == NULL)
            continue;
        if (pql_ast_root(a)->type != cases[i].t)
            printf("# %s: type %s\n", cases[i].q,
                   pql_type_str(pql_ast_root(a)->type));
        CHECK(pql_ast_root(a)->type == cases[i].t);
        pql_ast_free(a);
    }
}

/* The fields the evaluator reads. */
static void test_fields(void)
{
    const char *q = "sum by (job) (rate(cpu{job=~\"a.*\",__function__=\"f\"}"
                    "[5m] offset -1h @ 10.5))";
    struct pql_ast *a = must(q);
    CHECK(a != NULL);
    if (a == NULL)
        return;
    const struct pql_expr *e = pql_ast_root(a);
    CHECK_INT(e->kind, PQL_AGGREGATE);
    CHECK_INT(e->u.agg.op, PQL_AGG_SUM);
    CHECK(!e->u.agg.without);
    CHECK_INT(e->u.agg.grouping.n, 1);
    CHECK_STR(e->u.agg.grouping.names[0], "job");
    CHECK(e->u.agg.param == NULL);
    const struct pql_expr *c = e->u.agg.expr;
    CHECK_INT(c->kind, PQL_CALL);
    CHECK(c->u.call.func == pql_function_get(PQL_FN_RATE));
    CHECK_STR(c->u.call.func->name, "rate");
    CHECK_INT(c->u.call.n_args, 1);
    const struct pql_expr *m = c->u.call.args[0];
    CHECK_INT(m->kind, PQL_MATRIX_SEL);
    CHECK_INT(m->type, PQL_TYPE_MATRIX);
    CHECK_STR(m->u.sel.name, "cpu");
    CHECK_INT(m->u.sel.range_ms, 300000);
    CHECK_INT(m->u.sel.mod.offset_ms, -3600000);
    CHECK_INT(m->u.sel.mod.at, PQL_AT_TIME);
    CHECK_INT(m->u.sel.mod.at_ms, 10500);
    CHECK_INT(m->u.sel.n_matchers, 3);
    CHECK_STR(m->u.sel.matchers[0].name, "job");
    CHECK_INT(m->u.sel.matchers[0].type, PQL_MATCH_RE);
    CHECK(m->u.sel.matchers[0].re != NULL);
    CHECK(kb_regex_match(m->u.sel.matchers[0].re, "abc", 3));
    CHECK(!kb_regex_match(m->u.sel.matchers[0].re, "xabc", 4));
    CHECK_STR(m->u.sel.matchers[1].name, "__function__");
    CHECK_STR(m->u.sel.matchers[1].value, "f");
    CHECK(m->u.sel.matchers[1].re == NULL);
    CHECK_STR(m->u.sel.matchers[2].name, "__name__");
    CHECK_STR(m->u.sel.matchers[2].value, "cpu");
    CHECK_INT(m->u.sel.matchers[2].type, PQL_MATCH_EQ);
    /* Positions: the selector's text, ids dense, heights. */
    CHECK_INT(m->pos, 19);
    CHECK_INT(e->pos, 0);
    CHECK_INT(e->end, strlen(q));
    CHECK_INT(pql_ast_node_count(a), 3);
    CHECK(e->id < 3 && c->id < 3 && m->id < 3);
    CHECK(e->id != c->id && c->id != m->id && e->id != m->id);
    CHECK_INT(e->height, 3);
    CHECK_INT(m->height, 1);
    pql_ast_free(a);

    a = must("a / on (x) group_left (y) b > bool 1");
    CHECK(a != NULL);
    if (a == NULL)
        return;
    e = pql_ast_root(a);
    CHECK_INT(e->u.binary.op, PQL_OP_GT);
    CHECK(e->u.binary.return_bool);
    const struct pql_binary *b = &e->u.binary.lhs->u.binary;
    CHECK_INT(b->op, PQL_OP_DIV);
    CHECK_INT(b->card, PQL_CARD_MANY_TO_ONE);
    CHECK(b->on);
    CHECK_STR(b->matching.names[0], "x");
    CHECK_STR(b->include.names[0], "y");
    pql_ast_free(a);

    a = must("a or b");
    CHECK(a != NULL);
    if (a != NULL) {
        CHECK_INT(pql_ast_root(a)->u.binary.card, PQL_CARD_MANY_TO_MANY);
        pql_ast_free(a);
    }
    a = must("topk(3, x)");
    CHECK(a != NULL);
    if (a != NULL) {
        CHECK_INT(pql_ast_root(a)->u.agg.param->kind, PQL_NUMBER);
        CHECK(pql_ast_root(a)->u.agg.param->u.number == 3);
        pql_ast_free(a);
    }
    a = must("x[1h:1m] offset 1d @ start()");
    CHECK(a != NULL);
    if (a != NULL) {
        const struct pql_subquery *sq = &pql_ast_root(a)->u.subquery;
        CHECK_INT(sq->range_ms, 3600000);
        CHECK_INT(sq->step_ms, 60000);
        CHECK_INT(sq->mod.offset_ms, 86400000);
        CHECK_INT(sq->mod.at, PQL_AT_START);
        pql_ast_free(a);
    }
}

/* The function table: lookups, and every row's printed call parses. */
static void test_functions(void)
{
    CHECK(pql_function_lookup("rate", 4) == pql_function_get(PQL_FN_RATE));
    CHECK(pql_function_lookup("rat", 3) == NULL);
    CHECK(pql_function_lookup("rates", 5) == NULL);
    for (int i = 0; i < PQL_FN_COUNT_; i++) {
        const struct pql_function *f = pql_function_get(i);
        CHECK_INT(f->id, i);
        CHECK(pql_function_lookup(f->name, strlen(f->name)) == f);
        /* A call with the minimum arguments, each of its type. */
        static const char *const arg[] = {
            [PQL_TYPE_SCALAR] = "1",
            [PQL_TYPE_VECTOR] = "v",
            [PQL_TYPE_MATRIX] = "v[5m]",
            [PQL_TYPE_STRING] = "\"s\"",
        };
        char q[256];
        size_t n = (size_t)snprintf(q, sizeof(q), "%s(", f->name);
        for (int k = 0; k < f->min_args; k++)
            n += (size_t)snprintf(q + n, sizeof(q) - n, "%s%s", k ? ", " : "",
                                  arg[pql_function_arg_type(f, (size_t)k)]);
        snprintf(q + n, sizeof(q) - n, ")");
        CHECK(check_ok(q, q));
    }
}

static enum kb_status parse_lim(const char *q, const struct pql_limits *lim,
                                char *msg, size_t size)
{
    struct pql_ast *a = NULL;
    struct kb_err err;
    kb_err_clear(&err);
    enum kb_status st = pql_parse(q, strlen(q), lim, &a, &err);
    snprintf(msg, size, "%s", st == KB_OK ? "" : err.msg);
    CHECK((st == KB_OK) == (a != NULL));
    pql_ast_free(a);
    return st;
}

static void test_limits(void)
{
    struct pql_limits lim;
    char msg[KB_ERR_MSG_MAX];
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);

    /* Query length. */
    pql_limits_default(&lim);
    CHECK_INT(lim.max_query_len, 65536);
    lim.max_query_len = 8;
    CHECK_INT(parse_lim("foo + bar", &lim, msg, sizeof(msg)), KB_ERR_LIMIT);
    CHECK_STR(msg, "1:1: query is 9 bytes long, more than the limit of 8");
    CHECK_INT(parse_lim("foo + ba", &lim, msg, sizeof(msg)), KB_OK);

    /* Nesting: parentheses, unary signs, '^' chains, long operator chains
     * (the tree's height), all with the same limit. */
    pql_limits_default(&lim);
    for (int i = 0; i < 300; i++)
        buf_putc(&b, '(');
    buf_putc(&b, '1');
    for (int i = 0; i < 300; i++)
        buf_putc(&b, ')');
    CHECK_INT(parse_lim(buf_cstr(&b), &lim, msg, sizeof(msg)), KB_ERR_LIMIT);
    CHECK_STR(msg, "1:257: query is nested too deeply (limit 256 levels)");
    buf_reset(&b);
    for (int i = 0; i < 100000; i++)
        buf_putc(&b, '(');
    CHECK_INT(parse_lim(buf_cstr(&b), NULL, msg, sizeof(msg)), KB_ERR_LIMIT);
    buf_reset(&b);
    for (int i = 0; i < 60000; i++)
        buf_putc(&b, '-');
    buf_putc(&b, 'x');
    CHECK_INT(parse_lim(buf_cstr(&b), NULL, msg, sizeof(msg)), KB_ERR_LIMIT);
    buf_reset(&b);
    buf_puts(&b, "x");
    for (int i = 0; i < 10000; i++)
        buf_puts(&b, "^x");
    CHECK_INT(parse_lim(buf_cstr(&b), NULL, msg, sizeof(msg)), KB_ERR_LIMIT);
    buf_reset(&b);
    buf_puts(&b, "x");
    for (int i = 0; i < 10000; i++)
        buf_puts(&b, "+x");
    CHECK_INT(parse_lim(buf_cstr(&b), NULL, msg, sizeof(msg)), KB_ERR_LIMIT);
    CHECK(strstr(msg, "nested too deeply") != NULL);
    buf_reset(&b);
    buf_puts(&b, "x");
    for (int i = 0; i < 200; i++)
        buf_puts(&b, " + x");
    CHECK_INT(parse_lim(buf_cstr(&b), NULL, msg, sizeof(msg)), KB_OK);

    /* A duration repeating its largest units stays an error (and its sum
     * never overflows). */
    buf_reset(&b);
    buf_puts(&b, "foo[");
    for (int i = 0; i < 10000; i++)
        buf_puts(&b, "31709y");
    buf_puts(&b, "]");
    CHECK_INT(parse_lim(buf_cstr(&b), NULL, msg, sizeof(msg)), KB_ERR_INVALID);
    CHECK(strstr(msg, "1:5: not a valid duration: \"31709y31709y") == msg);

    /* Matchers per selector. */
    lim.max_matchers = 2;
    CHECK_INT(parse_lim("foo{a=\"1\",b=\"2\"}", &lim, msg, sizeof(msg)), KB_OK);
    CHECK_INT(parse_lim("foo{a=\"1\",b=\"2\",c=\"3\"}", &lim, msg, sizeof(msg)),
              KB_ERR_LIMIT);
    CHECK_STR(msg, "1:17: more than 2 matchers in label matching");

    /* String length, after escapes. */
    pql_limits_default(&lim);
    lim.max_string = 4;
    CHECK_INT(parse_lim("\"abcd\"", &lim, msg, sizeof(msg)), KB_OK);
    CHECK_INT(parse_lim("\"\\x41\\x41\\x41\\x41\"", &lim, msg, sizeof(msg)),
              KB_OK);
    CHECK_INT(parse_lim("foo{a=\"abcde\"}", &lim, msg, sizeof(msg)),
              KB_ERR_LIMIT);
    CHECK_STR(msg, "1:7: string longer than 4 bytes");

    /* Labels per list and arguments per call. */
    pql_limits_default(&lim);
    lim.max_list = 2;
    CHECK_INT(parse_lim("sum by (a, b) (x)", &lim, msg, sizeof(msg)), KB_OK);
    CHECK_INT(parse_lim("sum by (a, b, c) (x)", &lim, msg, sizeof(msg)),
              KB_ERR_LIMIT);
    CHECK_STR(msg, "1:15: more than 2 labels in grouping opts");
    CHECK_INT(parse_lim("label_join(x, \"a\", \"b\")", &lim, msg, sizeof(msg)),
              KB_ERR_LIMIT);
    CHECK_STR(msg, "1:20: more than 2 arguments in function call");

    /* The longest query within the limit parses and prints. */
    buf_reset(&b);
    buf_puts(&b, "x");
    while (b.len + 4 <= 65536)
        buf_puts(&b, " # x");
    CHECK_INT(parse_lim(buf_cstr(&b), NULL, msg, sizeof(msg)), KB_OK);
    buf_free(&b);
}

/* A NUL byte in the query is an error, not the query's end. */
static void test_nul(void)
{
    struct pql_ast *a = NULL;
    struct kb_err err;
    kb_err_clear(&err);
    CHECK_INT(pql_parse("foo\0bar", 7, NULL, &a, &err), KB_ERR_INVALID);
    CHECK_STR(err.msg, "1:4: unexpected character \"\\x00\"");
    CHECK(a == NULL);
    CHECK_INT(pql_parse("\"a\0b\"", 5, NULL, &a, &err), KB_ERR_INVALID);
    CHECK_STR(err.msg, "1:1: string contains a NUL byte");
}

/* The printer's limit: a full buffer fails cleanly. */
static void test_format_limit(void)
{
    struct pql_ast *a = must("sum by (job) (rate(foo{a=\"b\"}[5m]))");
    CHECK(a != NULL);
    if (a == NULL)
        return;
    struct buf b;
    buf_init(&b, 10);
    CHECK_INT(pql_format(pql_ast_root(a), &b), KB_ERR_LIMIT);
    buf_free(&b);
    pql_ast_free(a);
}

int main(void)
{
    RUN(test_valid);
    RUN(test_invalid);
    RUN(test_precedence);
    RUN(test_types);
    RUN(test_fields);
    RUN(test_functions);
    RUN(test_limits);
    RUN(test_nul);
    RUN(test_format_limit);
    return unit_done();
}
