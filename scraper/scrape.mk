# scraper/scrape.mk: the scrape manager: the loop (libcurl multi), jobs,
# targets, fetching, storing, health. See scraper/manager.c.
noinst_LIBRARIES += scraper/libkilnscrape.a
scraper_libkilnscrape_a_SOURCES = \
	scraper/fetch.c \
	scraper/job.c \
	scraper/manager.c \
	scraper/scrape.h scraper/scrape_int.h \
	scraper/store.c \
	scraper/target.c \
	scraper/targets.c scraper/targets.h \
	scraper/worker.c
scraper_libkilnscrape_a_CFLAGS = $(KILN_CFLAGS) $(CURL_CFLAGS) \
	$(PCRE2_CFLAGS) $(JANSSON_CFLAGS)

# Link line for everything that scrapes (the kiln server).
KILN_SCRAPE_LIBS = scraper/libkilnscrape.a $(KILN_DELTA_LIBS) \
	scraper/libkilnscrapecfg.a $(KILN_RELABEL_LIBS) $(KILN_DISC_LIBS) \
	$(KILN_TSDB_LIBS) $(CURL_LIBS) $(YAML_LIBS)
