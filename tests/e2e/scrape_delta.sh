#!/bin/sh
# tests/e2e/scrape_delta.sh: Kiln's cumulative-to-delta conversion
# (scraper/delta.c) against `go tool pprof -base` on real profiles.
#
# Builds and starts the Go test program (tests/goapp), fetches its
# cumulative /allocs, /mutex and /block profiles, waits until each one has
# changed (polling, no fixed sleep), fetches them again, and computes the
# delta with `test_scrape_delta delta PREV CUR OUT` (the unit test's tool
# mode). For each sample type, go tool pprof must read the delta, and its
# total and flat value per function must equal those of
# `go tool pprof -proto -base PREV CUR` (go's own subtraction). allocs is
# checked twice: with every sample type (its inuse_* gauges may fall, which
# is then a reset, so only the sample types are checked) and with only
# alloc_objects and alloc_space, as the scraper asks for them.
#
# Needs Go (golang-go) and curl. Prints TAP.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"

tool=$top_builddir/tests/unit/test_scrape_delta
req=0
require_tools "$GO" curl || req=1
if [ ! -x "$tool" ]; then
    not_ok "requirement: $tool not built"
    req=1
fi
if [ $req -ne 0 ]; then
    tap_done
fi
make_tmpdir

if build_goapp "$tmp" >"$tmp/build.log" 2>&1 && start_goapp "$tmp/goapp"; then
    ok "goapp built and listening on $goapp_addr"
else
    not_ok "goapp built and listening"
    diag_file "$tmp/build.log"
    diag_file "$tmp/goapp.err"
    tap_done
fi

# fetch_changed NAME: $tmp/NAME.prev.pb.gz, then $tmp/NAME.cur.pb.gz once
# go's raw sample listing differs from the first one (up to 60 s).
fetch_changed() {
    fc_prev=$tmp/$1.prev.pb.gz
    fc_cur=$tmp/$1.cur.pb.gz
    fetch "debug/pprof/$1" "$fc_prev" || return 1
    "$GO" tool pprof -symbolize=none -raw "$fc_prev" 2>/dev/null |
        sed -n '/^Samples:/,/^Locations/p' >"$fc_prev.raw"
    fc_i=0
    while [ $fc_i -lt 120 ]; do
        sleep 0.5
        fetch "debug/pprof/$1" "$fc_cur" || return 1
        "$GO" tool pprof -symbolize=none -raw "$fc_cur" 2>/dev/null |
            sed -n '/^Samples:/,/^Locations/p' >"$fc_cur.raw"
        if ! cmp -s "$fc_prev.raw" "$fc_cur.raw"; then
            return 0
        fi
        fc_i=$((fc_i + 1))
    done
    return 1
}

# check LABEL NAME TYPES...: the delta of NAME's pair, subtracting TYPES
# (all when none), against go's -base for every sample type it holds.
check() {
    ck_label=$1
    ck_name=$2
    shift 2
    ck_prev=$tmp/$ck_name.prev.pb.gz
    ck_cur=$tmp/$ck_name.cur.pb.gz
    ck_delta=$tmp/$ck_label.delta.pb.gz
    ck_base=$tmp/$ck_label.base.pb.gz
    if ! "$tool" delta "$ck_prev" "$ck_cur" "$ck_delta" "$@" \
        2>"$ck_delta.err"; then
        not_ok "$ck_label: delta computed"
        diag_file "$ck_delta.err"
        return
    fi
    ck_types=$(go_sample_types "$ck_delta" | tr ' ' '/')
    if [ -z "$ck_types" ]; then
        not_ok "$ck_label: go tool pprof reads the delta"
        diag "$("$GO" tool pprof -symbolize=none -raw "$ck_delta" 2>&1 | head -n 5)"
        return
    fi
    ok "$ck_label: go tool pprof reads the delta: $(echo $ck_types)"
    if [ "$ck_label" = allocs-all ]; then
        return
    fi
    if ! "$GO" tool pprof -symbolize=none -proto -base "$ck_prev" "$ck_cur" \
        >"$ck_base" 2>"$ck_base.err"; then
        not_ok "$ck_label: go tool pprof -proto -base"
        diag_file "$ck_base.err"
        return
    fi
    for ck_tu in $ck_types; do
        ck_st=${ck_tu%%/*}
        ck_unit=${ck_tu#*/}
        ck_n="$ck_label $ck_st"
        ck_k=$tmp/$ck_label.$ck_st.kiln
        ck_g=$tmp/$ck_label.$ck_st.go
        if ! go_top "$ck_delta" "$ck_st" "$ck_unit" "$ck_k"; then
            not_ok "$ck_n: go tool pprof -top of the delta"
            diag_file "$ck_k.err"
            continue
        fi
        if ! go_top "$ck_base" "$ck_st" "$ck_unit" "$ck_g"; then
            not_ok "$ck_n: go tool pprof -top of go's -base"
            diag_file "$ck_g.err"
            continue
        fi
        ck_gt=$(cat "$ck_g.total")
        ck_kt=$(cat "$ck_k.total")
        if [ "$ck_gt" = "$ck_kt" ] && [ "$ck_gt" != 0 ]; then
            ok "$ck_n: total $ck_kt $ck_unit, as go -base"
        else
            not_ok "$ck_n: total, as go -base"
            diag "delta $ck_kt, go -base $ck_gt (must be equal and nonzero)"
        fi
        by_name 2 "$ck_g" >"$ck_g.flat"
        by_name 2 "$ck_k" >"$ck_k.flat"
        if compare_cols "$ck_g.flat" "$ck_k.flat" go-base delta; then
            ok "$ck_n: flat per function as go -base ($(wc -l <"$ck_k.flat" | tr -d ' ') functions)"
        else
            not_ok "$ck_n: flat per function as go -base"
        fi
    done
}

for name in allocs mutex block; do
    if fetch_changed "$name"; then
        ok "$name: two different cumulative profiles fetched"
    else
        not_ok "$name: two different cumulative profiles fetched"
        continue
    fi
    case $name in
    allocs)
        check allocs-all allocs
        check allocs allocs alloc_objects alloc_space
        ;;
    *) check "$name" "$name" ;;
    esac
done

tap_done
