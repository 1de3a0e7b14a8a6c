# scraper/delta.mk: cumulative-to-delta conversion and sample labels.
