# scraper/config.mk: kiln.yml parsing (scraper/config.c) and its tests.
# scraper/yamltree.c is the generic YAML tree (with marks and limits) that
# config.c walks; rule files and file_sd files will reuse it.
noinst_LIBRARIES += scraper/libkilnscrapecfg.a
scraper_libkilnscrapecfg_a_SOURCES = \
	scraper/config.c scraper/config.h \
	scraper/yamltree.c scraper/yamltree.h
scraper_libkilnscrapecfg_a_CFLAGS = $(KILN_CFLAGS) $(YAML_CFLAGS) \
	$(PCRE2_CFLAGS)

check_PROGRAMS += tests/unit/test_scrape_config
tests_unit_test_scrape_config_CFLAGS = $(KILN_CFLAGS) $(YAML_CFLAGS)
tests_unit_test_scrape_config_LDADD = scraper/libkilnscrapecfg.a \
	$(KILN_BASE_LIBS) $(YAML_LIBS)
TESTS += tests/unit/test_scrape_config
EXTRA_DIST += examples/kiln.yml docs/configuration.md
