# promql-like/local.mk: Kiln's query language (PromQL over profiles): the
# lexer, parser and syntax tree. See DESIGN.md section 3 and
# docs/query-language.md.
noinst_LIBRARIES += promql-like/libkilnpql.a
promql_like_libkilnpql_a_SOURCES = \
	promql-like/ast.c promql-like/ast.h \
	promql-like/lexer.c promql-like/lexer.h \
	promql-like/parser.c promql-like/parser.h
promql_like_libkilnpql_a_CFLAGS = $(KILN_CFLAGS) $(PCRE2_CFLAGS)

# Link line for everything that uses the query language.
KILN_PQL_LIBS = promql-like/libkilnpql.a $(KILN_BASE_LIBS)

check_PROGRAMS += tests/unit/test_pql_parser
tests_unit_test_pql_parser_CFLAGS = $(KILN_CFLAGS) $(PCRE2_CFLAGS)
tests_unit_test_pql_parser_LDADD = $(KILN_PQL_LIBS)
TESTS += tests/unit/test_pql_parser

# The evaluator (eval.h): instant and range queries over tsdb/, the
# function table, results and their JSON. docs/query-evaluation.md.
noinst_LIBRARIES += promql-like/libkilnpqleval.a
promql_like_libkilnpqleval_a_SOURCES = \
	promql-like/eval.c promql-like/eval.h promql-like/eval_internal.h \
	promql-like/functions.c promql-like/value.c
promql_like_libkilnpqleval_a_CFLAGS = $(KILN_CFLAGS) $(PCRE2_CFLAGS)

# Link line for everything that evaluates queries (web/, rules).
KILN_PQL_EVAL_LIBS = promql-like/libkilnpqleval.a promql-like/libkilnpql.a \
	$(KILN_TSDB_LIBS) $(KILN_BASE_LIBS)

# The data-driven query suite: every tests/pql/NAME.test file.
check_PROGRAMS += tests/unit/test_pql_eval
tests_unit_test_pql_eval_LDADD = $(KILN_PQL_EVAL_LIBS)
TESTS += tests/unit/test_pql_eval
EXTRA_DIST += docs/query-evaluation.md
EXTRA_DIST += \
	tests/pql/aggregations.test \
	tests/pql/basic.test \
	tests/pql/blocks.test \
	tests/pql/functions.test \
	tests/pql/limits.test \
	tests/pql/operators.test \
	tests/pql/profiles.test \
	tests/pql/subqueries.test \
	tests/pql/week_over_week.test
