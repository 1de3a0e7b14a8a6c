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
