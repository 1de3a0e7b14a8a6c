# tests/e2e/lib.sh: shared helpers for the end-to-end tests (POSIX sh,
# sourced, not run). Tests print TAP: "ok N - name" / "not ok N - name",
# diagnostics as "# ..." lines, and the plan "1..N" at the end; automake's
# tap-driver counts the cases. A missing tool is a failure, never a skip.
#
# Environment (exported by `make check`, defaulted for hand runs):
#   top_srcdir    source tree (default: two levels above this file)
#   top_builddir  build tree holding kilnctl (default: the current directory)
#   GO            the go command (default: go)
#   KILNCTL       the kilnctl binary (default: $top_builddir/kilnctl)

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$(pwd)}"
: "${KILNCTL:=$top_builddir/kilnctl}"
if [ -z "${GO:-}" ]; then GO=go; fi
# Go must work with HOME unset and without network (standard library only).
: "${GOCACHE:=${TMPDIR:-/tmp}/kiln-gocache}"
: "${HOME:=${TMPDIR:-/tmp}}"
export top_srcdir top_builddir KILNCTL GO GOCACHE HOME
export GOFLAGS= GOPROXY=off GOTOOLCHAIN=local
# go tool pprof must not try to fetch symbols or open a browser.
export PPROF_BINARY_PATH=/nonexistent PPROF_TMPDIR="${TMPDIR:-/tmp}"
# Make a sanitizer report unmistakable: its own exit status, besides the
# report text that the tests look for on stderr.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=99"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"

tap_n=0
tap_failed=0

ok() {
    tap_n=$((tap_n + 1))
    echo "ok $tap_n - $*"
}

not_ok() {
    tap_n=$((tap_n + 1))
    tap_failed=$((tap_failed + 1))
    echo "not ok $tap_n - $*"
}

# diag TEXT...: each line of TEXT as a TAP diagnostic.
diag() {
    printf '%s\n' "$*" | sed 's/^/# /'
}

# diag_file FILE [MAXLINES]: the first lines of FILE as diagnostics.
diag_file() {
    if [ -s "$1" ]; then
        head -n "${2:-20}" "$1" | sed 's/^/#   /'
    fi
}

tap_done() {
    echo "1..$tap_n"
    exit 0
}

# require_tools TOOL...: true when every tool is on PATH; otherwise one
# "not ok" per missing tool (a missing tool is a failure, not a skip).
require_tools() {
    rt_ok=0
    for rt_t in "$@"; do
        if ! command -v "$rt_t" >/dev/null 2>&1; then
            not_ok "requirement: $rt_t not found on PATH"
            case $rt_t in
            go | */go) diag "install Debian's golang-go" ;;
            *) diag "install Debian's $rt_t" ;;
            esac
            rt_ok=1
        fi
    done
    return $rt_ok
}

# require_kilnctl: true when $KILNCTL is executable, else one "not ok".
require_kilnctl() {
    if [ -x "$KILNCTL" ]; then
        return 0
    fi
    not_ok "requirement: kilnctl not found at $KILNCTL (build it first)"
    return 1
}

# make_tmpdir: sets $tmp to a fresh directory removed on exit (with the
# Go program, if start_goapp started one).
goapp_pid=
make_tmpdir() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-e2e.XXXXXX") || exit 1
    trap 'cleanup' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
}

cleanup() {
    if [ -n "$goapp_pid" ]; then
        kill "$goapp_pid" 2>/dev/null
        wait "$goapp_pid" 2>/dev/null
        goapp_pid=
    fi
    if [ -n "${tmp:-}" ] && [ -z "${KILN_E2E_KEEP:-}" ]; then
        rm -rf "$tmp"
    fi
}

# build_goapp DIR: builds the Go test program as DIR/goapp.
build_goapp() {
    GO="$GO" sh "$top_srcdir/tests/gobuild.sh" "$top_srcdir/tests/goapp" "$1"
}

# start_goapp BINARY: starts it on 127.0.0.1:0 and sets $goapp_addr
# (HOST:PORT) once it listens. Fails after 20 s.
start_goapp() {
    "$1" -addr 127.0.0.1:0 >"$tmp/goapp.out" 2>"$tmp/goapp.err" &
    goapp_pid=$!
    sg_i=0
    while [ $sg_i -lt 200 ]; do
        goapp_addr=$(sed -n 's/^listening on //p' "$tmp/goapp.out" 2>/dev/null)
        if [ -n "$goapp_addr" ]; then
            return 0
        fi
        if ! kill -0 "$goapp_pid" 2>/dev/null; then
            goapp_pid=
            return 1
        fi
        sleep 0.1
        sg_i=$((sg_i + 1))
    done
    return 1
}

# fetch URL_PATH OUT: GET http://$goapp_addr/URL_PATH into OUT.
fetch() {
    curl -sS -f --max-time 60 -o "$2" "http://$goapp_addr/$1"
}

# go_unit_flag UNIT: the -unit= value that makes go tool pprof print the
# exact integer values of a sample type with unit UNIT.
go_unit_flag() {
    case $1 in
    nanoseconds) echo ns ;;
    microseconds) echo us ;;
    milliseconds) echo ms ;;
    seconds) echo s ;;
    bytes) echo B ;;
    *) echo count ;;
    esac
}

# go_sample_types FILE: "type unit" per line, as go tool pprof reads them.
go_sample_types() {
    "$GO" tool pprof -symbolize=none -raw "$1" 2>/dev/null |
        sed -n '/^Samples:/{n;p;q;}' | tr ' ' '\n' | sed '/^$/d' |
        sed 's/\[dflt\]$//; s|/| |'
}

# go_top FILE TYPE UNIT OUT: go tool pprof -top for sample type TYPE with
# exact values: writes "name<TAB>flat<TAB>cum" rows to OUT and the total
# to OUT.total. Names lose go's " (inline)" / " (partial-inline)" marks.
go_top() {
    "$GO" tool pprof -symbolize=none -top -nodecount=100000000 \
        -nodefraction=0 -edgefraction=0 -unit="$(go_unit_flag "$3")" \
        -sample_index="$2" "$1" >"$4.raw" 2>"$4.err" || return 1
    # A row: flat flat% sum% cum cum% name; values are integers with an
    # optional unit suffix ("0" has none).
    sed -n -E 's/^ *(-?[0-9]+)[a-zA-Z]* +[-+0-9.e]+% +[-+0-9.e]+% +(-?[0-9]+)[a-zA-Z]* +[-+0-9.e]+% +(.*)$/\3	\1	\2/p' \
        "$4.raw" | sed -E 's/ \((partial-)?inline\)	/	/' >"$4"
    sed -n -E 's/^Showing nodes accounting for .* of (-?[0-9]+)[a-zA-Z]* total$/\1/p' \
        "$4.raw" >"$4.total"
    # Every line under the table header must have parsed.
    gt_rows=$(sed -n '/^ *flat  *flat%/,$p' "$4.raw" | sed 1d | grep -c .)
    if [ "$gt_rows" != "$(wc -l <"$4" | tr -d ' ')" ]; then
        echo "go_top: $gt_rows rows in go's table, $(wc -l <"$4") parsed" >>"$4.err"
        return 1
    fi
    [ -s "$4.total" ]
}

# go_total FILE TYPE UNIT: the total go tool pprof reports for TYPE.
go_total() {
    go_top "$1" "$2" "$3" "$tmp/gt.$$" && cat "$tmp/gt.$$.total"
}

# kiln_top FILE TYPE OUT: kilnctl top as "name<TAB>flat<TAB>cum" in OUT,
# the total in OUT.total.
kiln_top() {
    "$KILNCTL" pprof top "$1" --sample-type="$2" --format=json -n 0 \
        >"$3.json" 2>"$3.err" || return 1
    jq -r '.rows[] | [.name, (.flat|tostring), (.cum|tostring)] | @tsv' \
        "$3.json" >"$3" || return 1
    jq -r '.total' "$3.json" >"$3.total"
}

# by_name COLUMN IN: "name<TAB>value" summed per name (rows sharing a
# name, e.g. an inlined and a plain copy, add up), zeros dropped, sorted.
by_name() {
    awk -F '\t' -v c="$1" '{ v[$1] += $c }
        END { for (n in v) if (v[n] != 0) printf "%s\t%.0f\n", n, v[n] }' \
        "$2" | LC_ALL=C sort
}

# compare_cols A B LABEL_A LABEL_B: true when the "name<TAB>value" files A
# and B are equal; otherwise diagnostics list up to 15 differing names.
compare_cols() {
    if cmp -s "$1" "$2"; then
        return 0
    fi
    LC_ALL=C join -t '	' -a 1 -a 2 -e '-' -o 0,1.2,2.2 "$1" "$2" |
        awk -F '\t' '$2 != $3' >"$1.diff"
    diag "$(wc -l <"$1.diff" | tr -d ' ') functions differ (name: $3 vs $4):"
    head -n 15 "$1.diff" | awk -F '\t' '{ printf "#   %s: %s vs %s\n", $1, $2, $3 }'
    return 1
}
