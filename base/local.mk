# base/: what every module needs. See DESIGN.md section 1.
noinst_LIBRARIES += base/libkilnbase.a
base_libkilnbase_a_SOURCES = \
	base/alloc.c base/alloc.h \
	base/arena.c base/arena.h \
	base/buf.c base/buf.h \
	base/fsio.c base/fsio.h \
	base/hmap.c base/hmap.h \
	base/intern.c base/intern.h \
	base/jsonw.c base/jsonw.h \
	base/labels.c base/labels.h \
	base/log.c base/log.h \
	base/metrics.c base/metrics.h \
	base/regex.c base/regex.h \
	base/status.c base/status.h \
	base/text.c base/text.h \
	base/timefmt.c base/timefmt.h
base_libkilnbase_a_CFLAGS = $(KILN_CFLAGS) $(PCRE2_CFLAGS)

# Link line for everything that uses base/ alone. log.c and regex.c use
# pthreads (part of libc since glibc 2.34), jsonw.c uses libm.
KILN_BASE_LIBS = base/libkilnbase.a $(PCRE2_LIBS) $(JANSSON_LIBS) -lm

check_PROGRAMS += tests/unit/test_base_core
tests_unit_test_base_core_LDADD = $(KILN_BASE_LIBS)
TESTS += tests/unit/test_base_core

check_PROGRAMS += tests/unit/test_base_labels
tests_unit_test_base_labels_LDADD = $(KILN_BASE_LIBS)
TESTS += tests/unit/test_base_labels

check_PROGRAMS += tests/unit/test_base_log
tests_unit_test_base_log_LDADD = $(KILN_BASE_LIBS)
TESTS += tests/unit/test_base_log

check_PROGRAMS += tests/unit/test_base_timefmt
tests_unit_test_base_timefmt_LDADD = $(KILN_BASE_LIBS)
TESTS += tests/unit/test_base_timefmt

check_PROGRAMS += tests/unit/test_base_regex
tests_unit_test_base_regex_LDADD = $(KILN_BASE_LIBS)
TESTS += tests/unit/test_base_regex

check_PROGRAMS += tests/unit/test_base_jsonw
tests_unit_test_base_jsonw_CFLAGS = $(KILN_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_test_base_jsonw_LDADD = $(KILN_BASE_LIBS)
TESTS += tests/unit/test_base_jsonw

check_PROGRAMS += tests/unit/test_base_intern
tests_unit_test_base_intern_LDADD = $(KILN_BASE_LIBS)
TESTS += tests/unit/test_base_intern

check_PROGRAMS += tests/unit/test_base_text
tests_unit_test_base_text_LDADD = $(KILN_BASE_LIBS)
TESTS += tests/unit/test_base_text

check_PROGRAMS += tests/unit/test_base_metrics
tests_unit_test_base_metrics_LDADD = $(KILN_BASE_LIBS)
TESTS += tests/unit/test_base_metrics
