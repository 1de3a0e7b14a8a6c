#!/bin/sh
# tests/e2e/kilnctl_vs_go.sh: kilnctl against `go tool pprof` on real
# profiles. Builds and starts the Go test program (tests/goapp) on
# 127.0.0.1:0, fetches its cpu (seconds=3), heap, allocs, mutex, block and
# goroutine profiles over HTTP, and for each profile and each sample type
# checks that `kilnctl pprof top --format=json -n 0` gives the same flat and
# cum value per function, and the same total, as
# `go tool pprof -top -nodecount=... -nodefraction=0 -edgefraction=0`.
# go prints exact integers when -unit names the sample type's own smallest
# unit (ns, B; counts are unscaled), so the comparison is exact: no
# tolerance. The committed fixtures get the same treatment.
#
# Then `kilnctl pprof merge` of three CPU profiles (and of heap+allocs,
# mutex+block): go tool pprof must read the result, its totals must be the
# inputs' sum, and its per-function flat values must equal those of
# `go tool pprof -proto` merging the same files.
#
# Needs Go (golang-go), curl, jq and kilnctl. Prints TAP.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"

req=0
require_tools "$GO" curl jq || req=1
require_kilnctl || req=1
if [ $req -ne 0 ]; then
    tap_done
fi
make_tmpdir

# compare_profile LABEL FILE: one set of checks per sample type.
compare_profile() {
    cp_label=$1
    cp_f=$2
    cp_types=$(go_sample_types "$cp_f" | tr ' ' '/')
    if [ -z "$cp_types" ]; then
        not_ok "$cp_label: go tool pprof reads the profile"
        diag "$("$GO" tool pprof -symbolize=none -raw "$cp_f" 2>&1 | head -n 5)"
        return
    fi
    cp_j=$tmp/$cp_label.info.json
    if "$KILNCTL" pprof info "$cp_f" --format=json >"$cp_j" 2>"$cp_j.err" &&
        cp_k=$(jq -r '.sample_types[] | "\(.type)/\(.unit)"' "$cp_j") &&
        [ "$(echo $cp_k)" = "$(echo $cp_types)" ]; then
        ok "$cp_label: same sample types as go: $(echo $cp_types)"
    else
        not_ok "$cp_label: same sample types as go: $(echo $cp_types)"
        diag "kilnctl: $(echo ${cp_k:-})"
        diag_file "$cp_j.err"
    fi
    for cp_tu in $cp_types; do
        cp_st=${cp_tu%%/*}
        cp_unit=${cp_tu#*/}
        cp_g=$tmp/$cp_label.$cp_st.go
        cp_kt=$tmp/$cp_label.$cp_st.kiln
        cp_name="$cp_label $cp_st"
        if ! go_top "$cp_f" "$cp_st" "$cp_unit" "$cp_g"; then
            not_ok "$cp_name: go tool pprof -top"
            diag_file "$cp_g.err"
            continue
        fi
        if ! kiln_top "$cp_f" "$cp_st" "$cp_kt"; then
            not_ok "$cp_name: kilnctl pprof top --format=json"
            diag_file "$cp_kt.err"
            continue
        fi
        cp_gt=$(cat "$cp_g.total")
        cp_ktot=$(cat "$cp_kt.total")
        if [ "$cp_gt" = "$cp_ktot" ]; then
            ok "$cp_name: total $cp_gt $cp_unit"
        else
            not_ok "$cp_name: total $cp_gt $cp_unit"
            diag "go $cp_gt, kilnctl $cp_ktot"
        fi
        by_name 2 "$cp_g" >"$cp_g.flat"
        by_name 2 "$cp_kt" >"$cp_kt.flat"
        if compare_cols "$cp_g.flat" "$cp_kt.flat" go kilnctl; then
            ok "$cp_name: flat per function ($(wc -l <"$cp_g.flat" | tr -d ' ') functions)"
        else
            not_ok "$cp_name: flat per function"
        fi
        by_name 3 "$cp_g" >"$cp_g.cum"
        by_name 3 "$cp_kt" >"$cp_kt.cum"
        if compare_cols "$cp_g.cum" "$cp_kt.cum" go kilnctl; then
            ok "$cp_name: cum per function ($(wc -l <"$cp_g.cum" | tr -d ' ') functions)"
        else
            not_ok "$cp_name: cum per function"
        fi
    done
}

# check_merge LABEL FILE...: kilnctl merge vs the inputs and go's merge.
check_merge() {
    cm_label=$1
    shift
    cm_out=$tmp/merge.$cm_label.pb.gz
    cm_go=$tmp/gomerge.$cm_label.pb.gz
    if ! "$KILNCTL" pprof merge -o "$cm_out" "$@" 2>"$cm_out.err"; then
        not_ok "merge $cm_label: kilnctl pprof merge"
        diag_file "$cm_out.err"
        return
    fi
    cm_types=$(go_sample_types "$cm_out" | tr ' ' '/')
    cm_want=$(go_sample_types "$1" | tr ' ' '/')
    if [ -n "$cm_types" ] && [ "$cm_types" = "$cm_want" ]; then
        ok "merge $cm_label: go tool pprof reads kilnctl's output"
    else
        not_ok "merge $cm_label: go tool pprof reads kilnctl's output"
        diag "$("$GO" tool pprof -symbolize=none -raw "$cm_out" 2>&1 | head -n 8)"
        return
    fi
    if ! "$GO" tool pprof -symbolize=none -proto "$@" >"$cm_go" 2>"$cm_go.err"; then
        not_ok "merge $cm_label: go tool pprof -proto merges the inputs"
        diag_file "$cm_go.err"
        return
    fi
    for cm_tu in $cm_types; do
        cm_st=${cm_tu%%/*}
        cm_unit=${cm_tu#*/}
        cm_sum=0
        for cm_f; do
            cm_t=$(go_total "$cm_f" "$cm_st" "$cm_unit") || cm_t=x
            cm_sum=$(awk -v a="$cm_sum" -v b="$cm_t" 'BEGIN { printf "%.0f\n", a + b }')
        done
        cm_t=$(go_total "$cm_out" "$cm_st" "$cm_unit")
        if [ "$cm_t" = "$cm_sum" ]; then
            ok "merge $cm_label $cm_st: go's total of kilnctl's merge is the inputs' sum ($cm_sum)"
        else
            not_ok "merge $cm_label $cm_st: go's total of kilnctl's merge is the inputs' sum ($cm_sum)"
            diag "go reads a total of $cm_t"
        fi
        cm_a=$tmp/mk.$cm_label.$cm_st
        cm_b=$tmp/mg.$cm_label.$cm_st
        if go_top "$cm_out" "$cm_st" "$cm_unit" "$cm_a" &&
            go_top "$cm_go" "$cm_st" "$cm_unit" "$cm_b"; then
            by_name 2 "$cm_a" >"$cm_a.flat"
            by_name 2 "$cm_b" >"$cm_b.flat"
            if compare_cols "$cm_a.flat" "$cm_b.flat" kilnctl-merge go-merge; then
                ok "merge $cm_label $cm_st: flat per function equals go's merge"
            else
                not_ok "merge $cm_label $cm_st: flat per function equals go's merge"
            fi
        else
            not_ok "merge $cm_label $cm_st: flat per function equals go's merge"
            diag_file "$cm_a.err"
            diag_file "$cm_b.err"
        fi
    done
}

# 1. The Go program, live.
if build_goapp "$tmp" >"$tmp/build.log" 2>&1; then
    ok "tests/goapp builds"
else
    not_ok "tests/goapp builds"
    diag_file "$tmp/build.log"
    tap_done
fi
if start_goapp "$tmp/goapp"; then
    ok "goapp listens on $goapp_addr"
else
    not_ok "goapp listens on 127.0.0.1"
    diag_file "$tmp/goapp.err"
    tap_done
fi
sleep 1
live=$tmp/live
mkdir -p "$live"
fetched=
for spec in 'cpu profile?seconds=3' 'cpu2 profile?seconds=1' \
    'cpu3 profile?seconds=1' 'heap heap' 'allocs allocs' 'mutex mutex' \
    'block block' 'goroutine goroutine'; do
    name=${spec%% *}
    path=${spec#* }
    if fetch "debug/pprof/$path" "$live/$name.pb.gz" 2>"$tmp/curl.err" &&
        [ -s "$live/$name.pb.gz" ]; then
        ok "fetch /debug/pprof/$path"
        fetched="$fetched $name"
    else
        not_ok "fetch /debug/pprof/$path"
        diag_file "$tmp/curl.err"
    fi
done
kill "$goapp_pid" 2>/dev/null
wait "$goapp_pid" 2>/dev/null
goapp_pid=

for name in $fetched; do
    case $name in
    cpu2 | cpu3) ;;
    *) compare_profile "$name" "$live/$name.pb.gz" ;;
    esac
done

# 2. The committed fixtures.
fx=$top_srcdir/tests/fixtures/go
for name in cpu heap allocs mutex block goroutine; do
    compare_profile "fixture-$name" "$fx/$name.pb.gz"
done

# 3. Merge.
case " $fetched " in
*" cpu2 "*) have2=1 ;;
*) have2=0 ;;
esac
case " $fetched " in
*" cpu "*" cpu3 "*) have13=1 ;;
*) have13=0 ;;
esac
if [ $have2 -eq 1 ] && [ $have13 -eq 1 ]; then
    check_merge cpu "$live/cpu.pb.gz" "$live/cpu2.pb.gz" "$live/cpu3.pb.gz"
else
    not_ok "merge cpu: live CPU profiles were not fetched"
fi
check_merge fixture-cpu "$fx/cpu.pb.gz" "$fx/cpu2.pb.gz" "$fx/cpu3.pb.gz"
check_merge fixture-heap-allocs "$fx/heap.pb.gz" "$fx/allocs.pb.gz"
check_merge fixture-mutex-block "$fx/mutex.pb.gz" "$fx/block.pb.gz"

tap_done
