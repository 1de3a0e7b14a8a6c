# tests/exporter/lib.sh: shared helpers for the exporter tests (sourced).
#
# The tests run tests/exporter/hotspots (a program with known hot spots
# that embeds libkiln-exporter), fetch its endpoints with curl and judge the
# profiles with `go tool pprof` (Debian's golang-go). Output is TAP. Every
# check is a ratio with a tolerance or a presence test, never a timing, and
# a statistical check's tolerance comes from its sample count (binomial
# error), not from a fixed percentage that a loaded machine's smaller
# sample could miss. Waits on the machine (a window of so many seconds, a
# process starting) only bound how long a test may take; no check asserts
# that something happened within a time.

set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
GO=${GO:-go}
[ -n "$GO" ] || GO=go
T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-exporter-test.XXXXXX")
export HOME="$T" PPROF_TMPDIR="$T/pprof" GOFLAGS= GOTOOLCHAIN=local
n_tests=0
n_failed=0
pids=""

cleanup() {
    for p in $pids; do
        kill "$p" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

ok() {
    n_tests=$((n_tests + 1))
    echo "ok $n_tests - $1"
}

not_ok() {
    n_tests=$((n_tests + 1))
    n_failed=$((n_failed + 1))
    echo "not ok $n_tests - $1"
}

# check NAME COMMAND...: ok if the command succeeds.
check() {
    name=$1
    shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}

finish() {
    echo "1..$n_tests"
    [ "$n_failed" -eq 0 ]
    exit $?
}

diag() {
    sed 's/^/# /'
}

need_tools() {
    for tool in curl "$GO"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "# $tool not found (Debian: curl, golang-go)"
            if [ "${CI:-}" = true ]; then
                echo "not ok 1 - $tool is required"
                echo "1..1"
                exit 1
            fi
            echo "1..0 # SKIP $tool not found"
            exit 0
        fi
    done
}

# start_hotspots DIR BINARY ARGS...: run hotspots writing into DIR; waits
# for DIR/addr and sets ADDR and PID.
start_hotspots() {
    d=$1
    bin=$2
    shift 2
    mkdir -p "$d"
    "$bin" "$@" >"$d/stdout" 2>"$d/stderr" &
    PID=$!
    pids="$pids $PID"
    i=0
    while [ ! -s "$d/addr" ] && [ $i -lt 600 ]; do
        if ! kill -0 "$PID" 2>/dev/null; then
            echo "# hotspots died:"
            diag <"$d/stderr"
            return 1
        fi
        sleep 0.1
        i=$((i + 1))
    done
    ADDR=$(cat "$d/addr")
    [ -n "$ADDR" ]
}

# wait_file FILE [TENTHS]: wait until FILE exists.
wait_file() {
    i=0
    while [ ! -e "$1" ] && [ $i -lt "${2:-1200}" ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ -e "$1" ]
}

# fetch PATH OUT: GET http://$ADDR/PATH into OUT; prints the HTTP status.
fetch() {
    curl -s -m 120 -o "$2" -w '%{http_code}' "http://$ADDR/$1"
}

# top FILE SAMPLE_INDEX [UNIT]: go tool pprof -top, names from the profile.
top() {
    "$GO" tool pprof -top -nodecount=1000 -nodefraction=0 -symbolize=none \
        -sample_index="$2" ${3:+-unit=$3} "$1" 2>&1
}

# flat NAME < top output: the flat value of function NAME (0 if absent),
# number only.
flat() {
    awk -v n="$1" '$6 == n { v = $1; gsub(/[^0-9.]/, "", v); print v; f = 1 }
                   END { if (!f) print 0 }' | head -1
}

# total < top output: the "of N total" number.
total() {
    sed -n 's/.* of \([0-9.]*\)[A-Za-z]* total.*/\1/p' | head -1
}

# within A B LO HI: LO <= A/B <= HI.
within() {
    awk -v a="$1" -v b="$2" -v lo="$3" -v hi="$4" \
        'BEGIN { if (b > 0 && a / b >= lo && a / b <= hi) exit 0; exit 1 }'
}

# binomial A B P K: A of A+B samples fell in one class whose true share is
# P; passes when A/(A+B) is within K standard deviations of the binomial
# (sqrt(P (1 - P) / (A + B))) of P. Prints the bounds as a ratio A/B.
binomial() {
    awk -v a="$1" -v b="$2" -v p="$3" -v k="$4" 'BEGIN {
        n = a + b
        if (n <= 0) { print "# no samples"; exit 1 }
        t = k * sqrt(p * (1 - p) / n)
        lo = (p - t) / (1 - p + t); hi = (p + t) / (1 - p - t)
        printf "# A/B = %.3f; %s sigma at n = %d: %.3f .. %.3f\n",
            (b > 0 ? a / b : 0), k, n, lo, hi
        f = a / n
        exit !(f >= p - t && f <= p + t)
    }'
}

# The configured library and whether it is built with a sanitizer.
LIB=$top_builddir/exporter-kit/.libs/libkiln-exporter.so
HOTSPOTS=$top_builddir/tests/exporter/hotspots
lib_is_sanitized() {
    nm -D "$LIB" 2>/dev/null | grep -q -E '__(asan|tsan)_'
}

# build_variant FLAVOR DIR: a copy of the library and hotspots built with
# cc directly: plain, asan or tsan (tests/exporter/build.sh).
build_variant() {
    sh "$top_srcdir/tests/exporter/build.sh" "$1" "$2" >"$2.log" 2>&1 ||
        { diag <"$2.log"; return 1; }
}
