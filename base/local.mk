# base/: what every module needs. See DESIGN.md section 1.
noinst_LIBRARIES += base/libkilnbase.a
base_libkilnbase_a_SOURCES = \
	base/alloc.c base/alloc.h \
	base/arena.c base/arena.h \
	base/buf.c base/buf.h \
	base/hmap.c base/hmap.h \
	base/status.c base/status.h

# Link line for everything that uses base/ alone.
KILN_BASE_LIBS = base/libkilnbase.a $(PCRE2_LIBS) $(JANSSON_LIBS)

check_PROGRAMS += tests/unit/test_base_core
tests_unit_test_base_core_LDADD = $(KILN_BASE_LIBS)
TESTS += tests/unit/test_base_core
