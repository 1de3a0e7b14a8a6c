# scraper/delta.mk: cumulative-to-delta conversion (scraper/delta.c) and
# sample labels to series labels (scraper/samplelabels.c), with their tests.
# Both are pure functions of profiles: no I/O, no libcurl.
noinst_LIBRARIES += scraper/libkilndelta.a
scraper_libkilndelta_a_SOURCES = \
	scraper/delta.c scraper/delta.h \
	scraper/samplelabels.c scraper/samplelabels.h
scraper_libkilndelta_a_CFLAGS = $(KILN_CFLAGS)

# Link line for everything that converts or splits scraped profiles.
KILN_DELTA_LIBS = scraper/libkilndelta.a $(KILN_PPROF_LIBS)

check_PROGRAMS += tests/unit/test_scrape_delta
tests_unit_test_scrape_delta_LDADD = $(KILN_DELTA_LIBS)
TESTS += tests/unit/test_scrape_delta

check_PROGRAMS += tests/unit/test_scrape_samplelabels
tests_unit_test_scrape_samplelabels_LDADD = $(KILN_DELTA_LIBS)
TESTS += tests/unit/test_scrape_samplelabels

# Against Go: deltas of a live Go program's /allocs, /mutex and /block
# compared with `go tool pprof -base`. test_scrape_delta doubles as the
# tool the script runs (test_scrape_delta delta PREV CUR OUT).
TESTS += tests/e2e/scrape_delta.sh
EXTRA_DIST += tests/e2e/scrape_delta.sh docs/scraping.md
