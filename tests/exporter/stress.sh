#!/bin/sh
# tests/exporter/stress.sh: 8 threads doing malloc/free/realloc/
# posix_memalign and locking with every profiler on, while the endpoints
# are fetched in a loop, in three builds at once: plain (the heap and mutex
# interposers active), ASan+UBSan and TSan (which replace malloc, and TSan
# pthread_mutex_lock, so there the CPU profiler, the endpoints and the
# profile building are what is checked). Each process is fetched from for
# at least 20 s and at least 2 rounds of every endpoint, however slow the
# machine; then the script tells it to stop (DIR/stop), so no fetch is cut
# by its end. Passes when every fetch answered 200, every process ended by
# itself (no deadlock) with status 0, and no sanitizer printed a report.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/exporter/lib.sh"
need_tools
seconds=${KILN_STRESS_SECONDS:-20}
# The processes stop by themselves after this long if never told to.
cap=900
flavors="plain asan tsan"
for f in $flavors; do
    if ! build_variant "$f" "$T/$f"; then
        not_ok "$f build"
        flavors=$(echo "$flavors" | sed "s/$f//")
    fi
done
# TSan needs a non-PIE-compatible memory layout on some kernels.
setarch_cmd=""
if command -v setarch >/dev/null 2>&1; then
    setarch_cmd="setarch $(uname -m) -R"
fi
for f in $flavors; do
    bin=$T/$f/hotspots
    [ "$f" = tsan ] && bin="$setarch_cmd $bin"
    # shellcheck disable=SC2086
    ASAN_OPTIONS=detect_leaks=0 TSAN_OPTIONS="halt_on_error=0 report_signal_unsafe=1" \
        start_hotspots "$T/run-$f" $bin --seconds "$cap" "$T/run-$f" stress ||
        { not_ok "$f started"; continue; }
    echo "$PID" >"$T/run-$f/pid"
    echo "$ADDR" >"$T/run-$f/addr2"
done
# Fetch every endpoint of every process, at least 2 rounds and for at
# least $seconds, then tell it to stop.
for f in $flavors; do
    (
        ADDR=$(cat "$T/run-$f/addr2")
        : >"$T/run-$f/codes"
        start=$(date +%s)
        rounds=0
        while [ $rounds -lt 2 ] ||
            [ $(($(date +%s) - start)) -lt "$seconds" ]; do
            [ -e "$T/run-$f/done" ] && exit 0 # ended early: checked below
            kill -0 "$(cat "$T/run-$f/pid")" 2>/dev/null || exit 0
            for ep in "profile?seconds=2" heap allocs mutex threads symbol \
                cmdline; do
                c=$(curl -s -m 120 -o "$T/run-$f/out" -w '%{http_code}' \
                    "http://$ADDR/debug/pprof/$ep")
                echo "$ep $c" >>"$T/run-$f/codes"
            done
            rounds=$((rounds + 1))
        done
        : >"$T/run-$f/stop"
    ) &
    pids="$pids $!"
done
for f in $flavors; do
    pid=$(cat "$T/run-$f/pid")
    # Until told to stop (however long the fetching takes), then up to 90 s
    # to stop: a bound for finding a deadlock, not a timing check.
    while kill -0 "$pid" 2>/dev/null && [ ! -e "$T/run-$f/stop" ]; do
        sleep 0.1
    done
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 900 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        not_ok "$f: ends by itself (deadlock?)"
        kill -9 "$pid"
        continue
    fi
    wait "$pid"
    st=$?
    check "$f: exits with status 0" test "$st" = 0
    check "$f: ran until told to stop" test -e "$T/run-$f/stop"
    n=$(grep -c ' 200$' "$T/run-$f/codes")
    bad=$(grep -v -c ' 200$' "$T/run-$f/codes")
    echo "# $f: $n endpoint answers 200, $bad others"
    grep -v ' 200$' "$T/run-$f/codes" | diag
    check "$f: endpoints answered throughout" test "$n" -ge 14 -a "$bad" = 0
    if grep -q -E 'Sanitizer|runtime error|WARNING: ThreadSanitizer' \
        "$T/run-$f/stderr"; then
        not_ok "$f: no sanitizer report"
        head -60 "$T/run-$f/stderr" | diag
    else
        ok "$f: no sanitizer report"
    fi
done
finish
