# web/local.mk: the HTTP server, API endpoints, metrics exposition.
noinst_LIBRARIES += web/libkilnweb.a
web_libkilnweb_a_SOURCES = \
	web/web.h web/handler.h web/internal.h \
	web/server.c web/listen.c web/request.c web/reply.c web/routes.c \
	web/lifecycle.c web/metrics_handler.c web/api_status.c \
	web/api_targets.c web/params.c web/params.h web/api_series.c \
	web/api_query.c
# /api/v1/profile and /api/v1/diff: merged and diff flame graphs.
web_libkilnweb_a_SOURCES += web/api_profile.c web/api_diff.c
web_libkilnweb_a_CFLAGS = $(KILN_CFLAGS) $(MHD_CFLAGS)

# Link line for everything that uses web/ (cmd/kiln).
KILN_WEB_LIBS = web/libkilnweb.a scraper/libkilnscrape.a \
	$(KILN_PQL_EVAL_LIBS) $(MHD_LIBS)

# The server's tests talk to it with libcurl, parse with jansson, and run
# promtool (Debian's prometheus package) on /metrics.
check_PROGRAMS += tests/unit/test_web
tests_unit_test_web_CFLAGS = $(KILN_CFLAGS) $(MHD_CFLAGS) $(CURL_CFLAGS) \
	$(JANSSON_CFLAGS)
tests_unit_test_web_LDADD = $(KILN_WEB_LIBS) $(CURL_LIBS) $(JANSSON_LIBS)
TESTS += tests/unit/test_web
EXTRA_DIST += docs/api.md docs/metrics.md

# /api/v1/profile and /api/v1/diff against a Go program, judged by go tool
# pprof and by the database's own merge.
TESTS += tests/e2e/api_profile.sh
EXTRA_DIST += tests/e2e/api_profile.sh

# The query, series and label endpoints against a live kiln scraping a Go
# program, read by curl and jq, promtool and kilnctl query.
TESTS += tests/e2e/api_query.sh
EXTRA_DIST += tests/e2e/api_query.sh

# Prometheus' time and duration parameters (web/params.c).
check_PROGRAMS += tests/unit/test_web_params
tests_unit_test_web_params_LDADD = $(KILN_WEB_LIBS)
TESTS += tests/unit/test_web_params
