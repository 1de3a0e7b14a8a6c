#!/bin/sh
# tests/exporter/cpu.sh: CPU profiles judged by go tool pprof.
# - hot_a and hot_b (3:1 work, alternating) come out 3:1 within 10%;
# - 4 busy threads for 5 s at 100 Hz give one sample per 10 ms of CPU time
#   the process used, within 15% (2000 samples when 4 cores are free);
# - two concurrent /profile requests share the sampler and both succeed.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/exporter/lib.sh"
need_tools

# 3:1 split. 1000 Hz for enough samples for a 10% tolerance.
if start_hotspots "$T/split" "$HOTSPOTS" --hz 1000 "$T/split" cpu; then
    code=$(fetch "debug/pprof/profile?seconds=5" "$T/split/cpu.pb.gz")
    top "$T/split/cpu.pb.gz" samples >"$T/split/top"
    a=$(flat hot_a <"$T/split/top")
    b=$(flat hot_b <"$T/split/top")
    echo "# HTTP $code: hot_a $a samples, hot_b $b samples"
    check "cpu profile has a 3:1 split (within 10%)" within "$a" "$b" 2.7 3.3
    check "cpu profile names hot_a's caller" \
        grep -q -E ' cpu_worker$' "$T/split/top"
    "$GO" tool pprof -raw "$T/split/cpu.pb.gz" >"$T/split/raw" 2>&1
    check "cpu sample types are Go's" \
        grep -q '^samples/count cpu/nanoseconds' "$T/split/raw"
    check "cpu period type is Go's" \
        grep -q '^PeriodType: cpu nanoseconds' "$T/split/raw"
    check "cpu period is 1 ms at 1000 Hz" grep -q '^Period: 1000000$' \
        "$T/split/raw"
    check "mappings carry GNU build IDs" \
        grep -q -E 'hotspots [0-9a-f]{40}( |$)' "$T/split/raw"
    kill "$PID"
else
    not_ok "hotspots cpu started"
fi

# 4 busy threads at the default 100 Hz: samples = CPU time * 100.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}
if start_hotspots "$T/spin" "$HOTSPOTS" "$T/spin" spin 4; then
    sleep 0.5
    t0=$(cpu_ticks "$PID")
    code=$(fetch "debug/pprof/profile?seconds=5" "$T/spin/cpu.pb.gz")
    t1=$(cpu_ticks "$PID")
    hz=$(getconf CLK_TCK)
    expect=$(awk -v d=$((t1 - t0)) -v hz="$hz" 'BEGIN { print d / hz * 100 }')
    got=$(top "$T/spin/cpu.pb.gz" samples | total)
    echo "# HTTP $code: $got samples; CPU time used $expect x 10 ms" \
        "(2000 with 4 free cores; $(nproc) here)"
    check "samples match CPU time across 4 threads (within 15%)" \
        within "$got" "$expect" 0.85 1.15

    # Concurrent requests share one sampler.
    fetch "debug/pprof/profile?seconds=2" "$T/spin/c1.pb.gz" >"$T/spin/c1" &
    c1=$!
    fetch "debug/pprof/profile?seconds=2" "$T/spin/c2.pb.gz" >"$T/spin/c2" &
    c2=$!
    # Another endpoint answers while the CPU requests run.
    fetch "debug/pprof/cmdline" "$T/spin/cmdline" >"$T/spin/c3"
    if kill -0 "$c1" 2>/dev/null; then busy=yes; else busy=no; fi
    wait "$c1" "$c2"
    check "concurrent /profile requests both succeed" \
        test "$(cat "$T/spin/c1")$(cat "$T/spin/c2")" = 200200
    n1=$(top "$T/spin/c1.pb.gz" samples | total)
    n2=$(top "$T/spin/c2.pb.gz" samples | total)
    echo "# concurrent: $n1 and $n2 samples"
    check "both concurrent profiles have samples" \
        test "${n1:-0}" != 0 -a "${n2:-0}" != 0
    check "/cmdline answers while /profile runs" \
        test "$(cat "$T/spin/c3")$busy" = 200yes
    kill "$PID"
else
    not_ok "hotspots spin started"
fi
finish
