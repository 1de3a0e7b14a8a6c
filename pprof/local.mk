# pprof/: the profile model, decode/encode, merge, collapsed stacks.
noinst_LIBRARIES += pprof/libkilnpprof.a
pprof_libkilnpprof_a_SOURCES = \
	pprof/profile.h \
	pprof/build.c \
	pprof/collapsed.c \
	pprof/decode.c \
	pprof/encode.c \
	pprof/flame.c pprof/flame.h \
	pprof/flamesvg.c \
	pprof/merge.c \
	pprof/symtab.c
pprof_libkilnpprof_a_CFLAGS = $(KILN_CFLAGS) $(PROTOBUFC_CFLAGS) $(ZLIB_CFLAGS)

# Link line for everything that uses pprof/ (and so base/ and proto/).
KILN_PPROF_LIBS = pprof/libkilnpprof.a proto/libkilnproto.a \
	$(KILN_BASE_LIBS) $(PROTOBUFC_LIBS) $(ZLIB_LIBS)

check_PROGRAMS += tests/unit/test_pprof_codec
tests_unit_test_pprof_codec_LDADD = $(KILN_PPROF_LIBS)
TESTS += tests/unit/test_pprof_codec

check_PROGRAMS += tests/unit/test_pprof_flame
tests_unit_test_pprof_flame_LDADD = $(KILN_PPROF_LIBS) -lm
TESTS += tests/unit/test_pprof_flame
