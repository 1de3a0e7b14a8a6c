# bench/: benchmarks; run by hand (scripts in bench/), never by make check.
# `make bench` builds everything and runs them from the build directory;
# it fails if any benchmark misses its goal, after running them all.
EXTRA_DIST += bench/pprof_merge bench/tsdb bench/retime.c bench/tsdb_timer.c \
	bench/scrape bench/replay/main.go bench/replay/go.mod
EXTRA_DIST += bench/query bench/query_load.c

.PHONY: bench
bench: all
	st=0; \
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	GO='$(GO)' bash $(top_srcdir)/bench/pprof_merge || st=1; \
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	GO='$(GO)' bash $(top_srcdir)/bench/tsdb || st=1; \
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	GO='$(GO)' bash $(top_srcdir)/bench/scrape || st=1; \
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	GO='$(GO)' bash $(top_srcdir)/bench/query || st=1; \
	exit $$st
