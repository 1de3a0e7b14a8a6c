# bench/: benchmarks; run by hand (scripts in bench/), never by make check.
# `make bench` builds everything and runs them from the build directory.
EXTRA_DIST += bench/pprof_merge

.PHONY: bench
bench: all
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	GO='$(GO)' bash $(top_srcdir)/bench/pprof_merge
