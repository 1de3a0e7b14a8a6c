# scraper/relabel.mk: Prometheus relabeling (scraper/relabel.c) and its tests.
