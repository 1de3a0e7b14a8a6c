#!/bin/sh
# tests/e2e/k8s_sd.sh: kubernetes_sd_configs against a fake API server.
# Builds tests/fakek8s (Go, standard library only) and runs
# tests/unit/test_discovery_k8s with it; that program prints the TAP
# cases (see its header comment). A missing Go is a failing case.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"

make_tmpdir
require_tools "$GO" || tap_done
prog="$top_builddir/tests/unit/test_discovery_k8s"
if [ ! -x "$prog" ]; then
    not_ok "requirement: $prog not built (make check builds it)"
    tap_done
fi
if ! GO="$GO" sh "$top_srcdir/tests/gobuild.sh" "$top_srcdir/tests/fakek8s" "$tmp" \
    >"$tmp/build.log" 2>&1; then
    not_ok "build tests/fakek8s"
    diag_file "$tmp/build.log" 40
    tap_done
fi
# The program's own TAP is the output; its exit status is 0 unless it
# crashed or a sanitizer stopped it, which is then one more failed case.
"$prog" "$tmp/fakek8s"
rc=$?
if [ $rc -ne 0 ]; then
    echo "not ok - test_discovery_k8s exited with status $rc"
fi
