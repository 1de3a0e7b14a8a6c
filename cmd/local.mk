# cmd/: the kiln server and kilnctl mains.

# kilnctl: one file per command family (cmd/kilnctl_FAMILY.c), listed here.
bin_PROGRAMS += kilnctl
kilnctl_SOURCES = \
	cmd/kilnctl.c cmd/kilnctl.h \
	cmd/kilnctl_check.c \
	cmd/kilnctl_pprof.c \
	cmd/kilnctl_profile.c \
	cmd/kilnctl_query.c \
	cmd/kilnctl_tsdb.c
kilnctl_LDADD = scraper/libkilnscrapecfg.a $(KILN_TSDB_LIBS) $(YAML_LIBS) \
	$(CURL_LIBS) -lm

# The reports kilnctl prints, reused by the web UI and the database.
pprof_libkilnpprof_a_SOURCES += \
	pprof/top.c pprof/top.h \
	pprof/units.c pprof/units.h

check_PROGRAMS += tests/unit/test_pprof_top
tests_unit_test_pprof_top_LDADD = $(KILN_PPROF_LIBS) -lm
TESTS += tests/unit/test_pprof_top

# kiln: the server (cmd/kiln.c wires web/, scraper/ and tsdb/ together).
bin_PROGRAMS += kiln
kiln_SOURCES = cmd/kiln.c
kiln_LDADD = $(KILN_WEB_LIBS) $(KILN_SCRAPE_LIBS) -lm
