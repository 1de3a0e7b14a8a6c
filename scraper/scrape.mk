# scraper/scrape.mk: the scrape loop (libcurl multi), targets and health.
noinst_LIBRARIES += scraper/libkilnscrape.a
scraper_libkilnscrape_a_SOURCES = \
	scraper/targets.c scraper/targets.h
scraper_libkilnscrape_a_CFLAGS = $(KILN_CFLAGS) $(CURL_CFLAGS) $(PCRE2_CFLAGS)
