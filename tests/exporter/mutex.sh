#!/bin/sh
# tests/exporter/mutex.sh: /mutex shows the contended lock's waiters
# (contended_worker) and not the uncontended lock (uncontended_worker).
# TSan replaces pthread_mutex_lock itself; under a TSan build the test runs
# on a plain copy of the library, as heap.sh does.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/exporter/lib.sh"
need_tools

bin=$HOTSPOTS
if nm -D "$LIB" 2>/dev/null | grep -q __tsan_; then
    echo "# TSan owns pthread_mutex_lock: testing a plain build instead"
    build_variant plain "$T/plain" || { not_ok "plain build"; finish; }
    bin=$T/plain/hotspots
fi
if ! start_hotspots "$T/m" "$bin" --mutex-rate 1 "$T/m" mutex; then
    not_ok "hotspots mutex started"
    finish
fi
wait_file "$T/m/done"
check "/mutex answers" test "$(fetch debug/pprof/mutex "$T/mutex.pb.gz")" = 200
top "$T/mutex.pb.gz" contentions >"$T/c"
top "$T/mutex.pb.gz" delay ns >"$T/d"
c=$(flat contended_worker <"$T/c")
d=$(flat contended_worker <"$T/d")
u=$(flat uncontended_worker <"$T/c")
echo "# contended_worker: $c contentions, $d ns; uncontended_worker: $u"
check "the contended lock shows in /mutex" test "${c%.*}" -gt 0
check "its delay is positive" awk -v d="$d" 'BEGIN { exit !(d > 0) }'
check "the uncontended lock does not show" test "$u" = 0
# The waiter's frame is charged, not the interposer's or libc's. (The
# exporter's HTTP threads lock mutexes of libmicrohttpd's too, unguarded;
# a rare contention of theirs while /mutex is served is real and may show,
# so contended_worker must carry 99% of the contentions, not all.)
all=$(total <"$T/c")
echo "# contentions in all: $all"
check "contended_worker carries the contentions (99%)" \
    within "$c" "${all:-0}" 0.99 1
check "no contention is charged to the interposer or libc's lock" sh -c \
    "awk '\$1 ~ /^[0-9]/ && \$1 + 0 > 0 { print \$6 }' '$T/c' |
     grep -q -E '^(pthread_mutex_lock|___?pthread_mutex_lock|kx_.*|lock_.*)$' &&
     exit 1 || exit 0"
finish
