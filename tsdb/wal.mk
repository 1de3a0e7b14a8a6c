# tsdb/wal.mk: the WAL unit tests (the WAL joins libkilntsdb in tsdb/local.mk).
