# tsdb/wal.mk: the WAL unit tests (the WAL joins libkilntsdb in tsdb/local.mk).
# Until then the test compiles tsdb/wal.c in directly.
check_PROGRAMS += tests/unit/test_tsdb_wal
tests_unit_test_tsdb_wal_SOURCES = tests/unit/test_tsdb_wal.c tsdb/wal.c \
	tsdb/wal.h
tests_unit_test_tsdb_wal_LDADD = $(KILN_BASE_LIBS) $(ZLIB_LIBS)
TESTS += tests/unit/test_tsdb_wal
tests_unit_test_tsdb_wal_CFLAGS = $(KILN_CFLAGS) $(ZLIB_CFLAGS)
