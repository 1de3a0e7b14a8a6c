# scraper/config.mk: kiln.yml parsing (scraper/config.c) and its tests.
