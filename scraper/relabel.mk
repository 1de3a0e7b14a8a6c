# scraper/relabel.mk: Prometheus relabeling (scraper/relabel.c) and its tests.
# base/md5.c lives in this library (only hashmod needs it).
noinst_LIBRARIES += scraper/libkilnrelabel.a
scraper_libkilnrelabel_a_SOURCES = \
	base/md5.c base/md5.h \
	scraper/relabel.c scraper/relabel.h
scraper_libkilnrelabel_a_CFLAGS = $(KILN_CFLAGS) $(PCRE2_CFLAGS)

# Link line for everything that relabels.
KILN_RELABEL_LIBS = scraper/libkilnrelabel.a $(KILN_BASE_LIBS)

check_PROGRAMS += tests/unit/test_base_md5
tests_unit_test_base_md5_LDADD = $(KILN_RELABEL_LIBS)
TESTS += tests/unit/test_base_md5

check_PROGRAMS += tests/unit/test_relabel
tests_unit_test_relabel_LDADD = $(KILN_RELABEL_LIBS)
TESTS += tests/unit/test_relabel
