# tests/: end-to-end tests, fixtures, the Go test program, fuzz targets.
# Unit tests are declared next to their module in FOLDER/local.mk.
EXTRA_DIST += tests/unit/unit.h

# End-to-end tests (TAP shell scripts; they use $(top_builddir)/kilnctl,
# which `make check` builds first since it is in bin_PROGRAMS). They need
# jq, curl and Go (golang-go): a missing tool is a failing case.
TESTS += \
	tests/e2e/kilnctl_fixtures.sh \
	tests/e2e/bad_input.sh \
	tests/e2e/kilnctl_vs_go.sh \
	tests/e2e/tsdb_import.sh \
	tests/e2e/tsdb_crash.sh

# The kiln server's end-to-end tests (they need kiln, kilnctl, the demo
# service, Go, jq, curl, and Prometheus' promtool and server).
TESTS += \
	tests/e2e/server_cli.sh \
	tests/e2e/server_scrape.sh \
	tests/e2e/server_reload.sh \
	tests/e2e/server_k8s.sh \
	tests/e2e/server_bad_targets.sh \
	tests/e2e/server_crash.sh \
	tests/e2e/query_share.sh
EXTRA_DIST += \
	tests/e2e/query_share.sh \
	tests/e2e/server_lib.sh \
	tests/e2e/server_k8s.sh \
	tests/e2e/server_bad_targets.sh \
	tests/e2e/server_crash.sh \
	tests/e2e/server_cli.sh \
	tests/e2e/server_scrape.sh \
	tests/e2e/server_reload.sh \
	tests/badtarget/main.go \
	tests/badtarget/go.mod \
	tests/gobuild.sh
EXTRA_DIST += \
	tests/e2e/lib.sh \
	tests/e2e/kilnctl_fixtures.sh \
	tests/e2e/bad_input.sh \
	tests/e2e/kilnctl_vs_go.sh \
	tests/e2e/tsdb_import.sh \
	tests/e2e/tsdb_crash.sh \
	tests/goapp/main.go \
	tests/goapp/go.mod \
	tests/fixtures/README.md \
	tests/fixtures/regen.sh \
	tests/fixtures/go/cpu.pb.gz \
	tests/fixtures/go/cpu2.pb.gz \
	tests/fixtures/go/cpu3.pb.gz \
	tests/fixtures/go/heap.pb.gz \
	tests/fixtures/go/allocs.pb.gz \
	tests/fixtures/go/mutex.pb.gz \
	tests/fixtures/go/block.pb.gz \
	tests/fixtures/go/goroutine.pb.gz
