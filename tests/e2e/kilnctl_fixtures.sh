#!/bin/sh
# tests/e2e/kilnctl_fixtures.sh: fast checks of kilnctl on the committed Go
# profiles in tests/fixtures/go (no Go needed): `info` shows Go's exact
# sample types, `top` and `collapsed` add up to the totals, `merge` of a
# file with itself doubles every total, and merging the three CPU profiles
# gives the sum of their totals. Needs kilnctl and jq. Prints TAP.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"

fx=$top_srcdir/tests/fixtures/go

if ! require_tools jq || ! require_kilnctl; then
    tap_done
fi
make_tmpdir

# fixture | sample types | default sample type | period type
expect='cpu|samples/count cpu/nanoseconds|cpu|cpu/nanoseconds
cpu2|samples/count cpu/nanoseconds|cpu|cpu/nanoseconds
cpu3|samples/count cpu/nanoseconds|cpu|cpu/nanoseconds
heap|alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes|inuse_space|space/bytes
allocs|alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes|alloc_space|space/bytes
mutex|contentions/count delay/nanoseconds|delay|contentions/count
block|contentions/count delay/nanoseconds|delay|contentions/count
goroutine|goroutine/count|goroutine|goroutine/count'

# info FILE OUT: kilnctl pprof info --format=json, true on exit 0 + JSON.
info() {
    "$KILNCTL" pprof info "$1" --format=json >"$2" 2>"$2.err" &&
        jq -e . "$2" >/dev/null 2>&1
}

# sum_collapsed FILE: the sum of the last field of each line.
sum_collapsed() {
    awk 'NF { s += $NF } END { printf "%.0f\n", s }' "$1"
}

while IFS='|' read -r name types dflt period <&3; do
    f=$fx/$name.pb.gz
    j=$tmp/$name.info.json
    if ! info "$f" "$j"; then
        not_ok "$name: kilnctl pprof info --format=json"
        diag_file "$j.err"
        continue
    fi
    ok "$name: kilnctl pprof info --format=json"

    got=$(jq -r '[.sample_types[] | "\(.type)/\(.unit)"] | join(" ")' "$j")
    if [ "$got" = "$types" ]; then
        ok "$name: sample types are $types"
    else
        not_ok "$name: sample types are $types"
        diag "got: $got"
    fi
    got=$(jq -r '.default_sample_type' "$j")
    if [ "$got" = "$dflt" ]; then
        ok "$name: default sample type is $dflt"
    else
        not_ok "$name: default sample type is $dflt"
        diag "got: $got"
    fi
    got=$(jq -r '"\(.period_type.type)/\(.period_type.unit)"' "$j")
    if [ "$got" = "$period" ]; then
        ok "$name: period type is $period"
    else
        not_ok "$name: period type is $period"
        diag "got: $got"
    fi
    if jq -e '(.totals | length) == (.sample_types | length)
              and .samples > 0 and .locations > 0 and .functions > 0
              and .mappings > 0 and .time_nanos > 0' "$j" >/dev/null; then
        ok "$name: info counts are plausible"
    else
        not_ok "$name: info counts are plausible"
        diag_file "$j"
    fi

    i=0
    for st in $types; do
        st=${st%%/*}
        want=$(jq -r ".totals[$i]" "$j")
        i=$((i + 1))
        c=$tmp/$name.$st.collapsed
        if "$KILNCTL" pprof collapsed "$f" --sample-type="$st" >"$c" 2>"$c.err"; then
            got=$(sum_collapsed "$c")
            if [ "$got" = "$want" ]; then
                ok "$name: collapsed $st sums to the total ($want)"
            else
                not_ok "$name: collapsed $st sums to the total ($want)"
                diag "collapsed sums to $got"
            fi
        else
            not_ok "$name: collapsed $st sums to the total ($want)"
            diag_file "$c.err"
        fi
        t=$tmp/$name.$st.top
        if kiln_top "$f" "$st" "$t"; then
            got=$(cat "$t.total")
            flat=$(awk -F '\t' '{ s += $2 } END { printf "%.0f\n", s }' "$t")
            if [ "$got" = "$want" ] && [ "$flat" = "$want" ]; then
                ok "$name: top $st total and flat sum equal the total ($want)"
            else
                not_ok "$name: top $st total and flat sum equal the total ($want)"
                diag "top total $got, sum of flat $flat"
            fi
        else
            not_ok "$name: top $st total and flat sum equal the total ($want)"
            diag_file "$t.err"
        fi
    done

    m=$tmp/$name.self.pb.gz
    if "$KILNCTL" pprof merge -o "$m" "$f" "$f" 2>"$m.err" &&
        info "$m" "$m.json"; then
        want=$(jq -c '[.totals[] * 2]' "$j")
        got=$(jq -c '.totals' "$m.json")
        if [ "$got" = "$want" ]; then
            ok "$name: merge with itself doubles every total"
        else
            not_ok "$name: merge with itself doubles every total"
            diag "want $want, got $got"
        fi
        if jq -e --slurpfile a "$j" '.sample_types == $a[0].sample_types
                and .period_type == $a[0].period_type
                and .duration_nanos == 2 * $a[0].duration_nanos
                and .samples <= $a[0].samples
                and .functions == $a[0].functions' "$m.json" >/dev/null; then
            ok "$name: merge with itself keeps types, symbols; sums duration"
        else
            not_ok "$name: merge with itself keeps types, symbols; sums duration"
            diag "input:  $(jq -c 'del(.totals)' "$j")"
            diag "merged: $(jq -c 'del(.totals)' "$m.json")"
        fi
    else
        not_ok "$name: merge with itself doubles every total"
        diag_file "$m.err"
        diag_file "$m.json.err"
    fi
done 3<<EOF
$expect
EOF

# Three CPU profiles merge into one whose totals are the sum of theirs.
m=$tmp/cpu123.pb.gz
if "$KILNCTL" pprof merge -o "$m" "$fx/cpu.pb.gz" "$fx/cpu2.pb.gz" \
    "$fx/cpu3.pb.gz" 2>"$m.err" && info "$m" "$m.json"; then
    want=$(jq -s -c '[.[0].totals, .[1].totals, .[2].totals] | transpose |
                     map(add)' "$tmp/cpu.info.json" "$tmp/cpu2.info.json" \
        "$tmp/cpu3.info.json")
    got=$(jq -c '.totals' "$m.json")
    if [ "$got" = "$want" ]; then
        ok "merge cpu cpu2 cpu3: totals are the inputs' sum $want"
    else
        not_ok "merge cpu cpu2 cpu3: totals are the inputs' sum $want"
        diag "got $got"
    fi
    want=$(jq -s '[.[].time_nanos] | min' "$tmp/cpu.info.json" \
        "$tmp/cpu2.info.json" "$tmp/cpu3.info.json")
    got=$(jq '.time_nanos' "$m.json")
    if [ "$got" = "$want" ]; then
        ok "merge cpu cpu2 cpu3: time is the earliest input's"
    else
        not_ok "merge cpu cpu2 cpu3: time is the earliest input's"
        diag "want $want, got $got"
    fi
else
    not_ok "merge cpu cpu2 cpu3: totals are the inputs' sum"
    diag_file "$m.err"
fi

# The program's known shape shows through: hotA ~3x hotB on CPU, allocBig
# 10x allocSmall in bytes allocated.
flat_of() {
    awk -F '\t' -v n="$2" '$1 == n { s += $2 } END { printf "%.0f\n", s }' "$1"
}
t=$tmp/cpu.cpu.top
a=$(flat_of "$t" main.hotA)
b=$(flat_of "$t" main.hotB)
if [ "$b" -gt 0 ] && [ "$a" -gt $((b * 3 / 2)) ] && [ "$a" -lt $((b * 6)) ]; then
    ok "cpu: main.hotA flat ($a) is about 3x main.hotB ($b)"
else
    not_ok "cpu: main.hotA flat ($a) is about 3x main.hotB ($b)"
fi
t=$tmp/allocs.alloc_space.top
a=$(flat_of "$t" main.allocBig)
b=$(flat_of "$t" main.allocSmall)
if [ "$b" -gt 0 ] && [ "$a" -gt $((b * 5)) ] && [ "$a" -lt $((b * 20)) ]; then
    ok "allocs: main.allocBig alloc_space ($a) is about 10x main.allocSmall ($b)"
else
    not_ok "allocs: main.allocBig alloc_space ($a) is about 10x main.allocSmall ($b)"
fi

# The text format works and names the hottest function first.
if "$KILNCTL" pprof top "$fx/cpu.pb.gz" -n 3 >"$tmp/top.txt" 2>"$tmp/top.err" &&
    grep -q 'main\.hotA' "$tmp/top.txt"; then
    ok "top (text) of cpu shows main.hotA"
else
    not_ok "top (text) of cpu shows main.hotA"
    diag_file "$tmp/top.txt"
    diag_file "$tmp/top.err"
fi
if "$KILNCTL" pprof info "$fx/heap.pb.gz" >"$tmp/info.txt" 2>"$tmp/info.err" &&
    grep -q inuse_space "$tmp/info.txt"; then
    ok "info (text) of heap names inuse_space"
else
    not_ok "info (text) of heap names inuse_space"
    diag_file "$tmp/info.err"
fi

tap_done
