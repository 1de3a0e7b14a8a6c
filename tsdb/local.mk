# tsdb/: the profile database. See DESIGN.md section 4 and docs/format/.
noinst_LIBRARIES += tsdb/libkilntsdb.a
tsdb_libkilntsdb_a_SOURCES = \
	tsdb/tsdb.h \
	tsdb/block.c tsdb/block.h \
	tsdb/compact.c \
	tsdb/db.c tsdb/db.h \
	tsdb/enc.c tsdb/enc.h \
	tsdb/head.c tsdb/head.h \
	tsdb/options.c \
	tsdb/querier.c \
	tsdb/selector.c \
	tsdb/stackmatch.c tsdb/stackmatch.h \
	tsdb/stacks.c tsdb/stacks.h \
	tsdb/symspace.c tsdb/symspace.h \
	tsdb/typeid.c \
	tsdb/wal.c tsdb/wal.h
tsdb_libkilntsdb_a_CFLAGS = $(KILN_CFLAGS) $(PCRE2_CFLAGS) $(ZSTD_CFLAGS) \
	$(JANSSON_CFLAGS) $(ZLIB_CFLAGS)

# Link line for everything that uses the database.
KILN_TSDB_LIBS = tsdb/libkilntsdb.a $(KILN_PPROF_LIBS) $(ZSTD_LIBS) -lpthread

check_PROGRAMS += tests/unit/test_tsdb
tests_unit_test_tsdb_LDADD = $(KILN_TSDB_LIBS)
TESTS += tests/unit/test_tsdb

check_PROGRAMS += tests/unit/test_tsdb_wal
tests_unit_test_tsdb_wal_LDADD = $(KILN_TSDB_LIBS)
TESTS += tests/unit/test_tsdb_wal
