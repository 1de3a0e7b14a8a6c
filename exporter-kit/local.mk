# exporter-kit/: libkiln-exporter, the in-process profiler library.
# See docs/exporter.md. It must not link the server: the few base/ and
# pprof/ files it needs are compiled into it (as PIC objects of its own).
lib_LTLIBRARIES = exporter-kit/libkiln-exporter.la
exporter_kit_libkiln_exporter_la_SOURCES = \
	exporter-kit/kx.h \
	exporter-kit/cpu.c \
	exporter-kit/exporter.c \
	exporter-kit/heap.c \
	exporter-kit/mutex.c \
	exporter-kit/server.c \
	exporter-kit/stacktab.c \
	exporter-kit/symbolize.c \
	exporter-kit/unwind.c \
	base/alloc.c base/arena.c base/buf.c base/hmap.c base/status.c \
	pprof/build.c pprof/encode.c
nodist_exporter_kit_libkiln_exporter_la_SOURCES = proto/profile.pb-c.c
exporter_kit_libkiln_exporter_la_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/include
# Frame pointers: the heap and mutex hooks count their own frames (and
# keep their slow-path calls from being tail calls).
exporter_kit_libkiln_exporter_la_CFLAGS = $(KILN_CFLAGS) \
	-fno-omit-frame-pointer -mno-omit-leaf-frame-pointer \
	-Wno-missing-prototypes \
	$(MHD_CFLAGS) $(PROTOBUFC_CFLAGS) $(ZLIB_CFLAGS)
exporter_kit_libkiln_exporter_la_LDFLAGS = -no-undefined \
	-version-info 0:0:0 \
	-export-symbols-regex '^(kiln_exporter_.*|malloc|free|calloc|realloc|posix_memalign|aligned_alloc|memalign|valloc|pvalloc|malloc_usable_size|pthread_mutex_lock)$$'
exporter_kit_libkiln_exporter_la_LIBADD = $(MHD_LIBS) $(PROTOBUFC_LIBS) \
	$(ZLIB_LIBS) -ldl -lm -lpthread

kilnincludedir = $(includedir)/kiln
kilninclude_HEADERS = include/kiln/exporter.h

pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA = kiln-exporter.pc
CLEANFILES += kiln-exporter.pc
EXTRA_DIST += kiln-exporter.pc.in docs/exporter.md
kiln-exporter.pc: $(top_srcdir)/kiln-exporter.pc.in Makefile
	$(AM_V_GEN)sed -e 's|@prefix[@]|$(prefix)|g' \
	    -e 's|@exec_prefix[@]|$(exec_prefix)|g' \
	    -e 's|@libdir[@]|$(libdir)|g' \
	    -e 's|@includedir[@]|$(includedir)|g' \
	    -e 's|@VERSION[@]|$(VERSION)|g' \
	    $(top_srcdir)/kiln-exporter.pc.in > $@.tmp && mv $@.tmp $@

# Tests: the scripts in tests/exporter/ drive hotspots (a program with known hot spots
# that embeds the library) and judge the profiles with go tool pprof.
check_PROGRAMS += tests/exporter/hotspots
tests_exporter_hotspots_SOURCES = tests/exporter/hotspots.c
tests_exporter_hotspots_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/include
tests_exporter_hotspots_CFLAGS = $(KILN_CFLAGS) -fno-omit-frame-pointer \
	-mno-omit-leaf-frame-pointer \
	-Wno-missing-prototypes
tests_exporter_hotspots_LDADD = exporter-kit/libkiln-exporter.la -lpthread
tests_exporter_hotspots_LDFLAGS = -no-install
EXTRA_DIST += tests/exporter/lib.sh tests/exporter/build.sh
TESTS += tests/exporter/api.sh tests/exporter/endpoints.sh \
	tests/exporter/cpu.sh tests/exporter/heap.sh tests/exporter/mutex.sh \
	tests/exporter/preload.sh tests/exporter/stress.sh
EXTRA_DIST += tests/exporter/api.sh tests/exporter/endpoints.sh \
	tests/exporter/cpu.sh tests/exporter/heap.sh tests/exporter/mutex.sh \
	tests/exporter/preload.sh tests/exporter/stress.sh

# bench/exporter_overhead: run by hand (`make bench/exporter_overhead &&
# bench/exporter_overhead`), never by make check. Declared here because
# this file owns the exporter; bench/local.mk belongs to the benchmarks.
EXTRA_PROGRAMS = bench/exporter_overhead
bench_exporter_overhead_SOURCES = bench/exporter_overhead.c
bench_exporter_overhead_LDADD = -lpthread
CLEANFILES += bench/exporter_overhead

# examples/demo-service: a small service embedding the exporter.
noinst_PROGRAMS += examples/demo-service/demo-service
examples_demo_service_demo_service_SOURCES = examples/demo-service/demo.c
examples_demo_service_demo_service_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/include
examples_demo_service_demo_service_CFLAGS = $(KILN_CFLAGS) \
	-fno-omit-frame-pointer -mno-omit-leaf-frame-pointer $(MHD_CFLAGS)
examples_demo_service_demo_service_LDADD = exporter-kit/libkiln-exporter.la \
	$(MHD_LIBS) -lpthread
examples_demo_service_demo_service_LDFLAGS = -no-install
EXTRA_DIST += examples/demo-service/README.md
