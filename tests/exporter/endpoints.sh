#!/bin/sh
# tests/exporter/endpoints.sh: the HTTP surface: index, 404, 400 with a
# reason, /cmdline, /symbol (GET and POST), /threads, sample type strings
# of every profile endpoint.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/exporter/lib.sh"
need_tools

if ! start_hotspots "$T/e" "$HOTSPOTS" "$T/e" idle; then
    not_ok "hotspots idle started"
    finish
fi
[ "$(fetch debug/pprof/ "$T/index")" = 200 ] &&
    grep -q 'href="profile"' "$T/index" && grep -q 'href="heap"' "$T/index"
check "index is HTML with the profile links" test $? = 0
check "unknown path is 404" \
    test "$(fetch debug/pprof/nope "$T/404")" = 404
check "path outside /debug/pprof is 404" test "$(fetch metrics "$T/404b")" = 404
for bad in 0 abc -3 100000 1.5; do
    code=$(fetch "debug/pprof/profile?seconds=$bad" "$T/400")
    [ "$code" = 400 ] && grep -q 'bad seconds' "$T/400"
    check "seconds=$bad is 400 with a reason" test $? = 0
done
check "seconds on a cumulative endpoint is 400" \
    test "$(fetch 'debug/pprof/heap?seconds=5' "$T/400h")" = 400
check "POST on /heap is 405" test "$(curl -s -o /dev/null -w '%{http_code}' \
    -X POST "http://$ADDR/debug/pprof/heap")" = 405
[ "$(fetch debug/pprof/cmdline "$T/cmdline")" = 200 ] &&
    tr '\0' ' ' <"$T/cmdline" | grep -q "hotspots $T/e idle"
check "/cmdline is the arguments joined by NUL" test $? = 0
[ "$(fetch debug/pprof/symbol "$T/sym")" = 200 ] &&
    grep -q '^num_symbols: 1' "$T/sym"
check "GET /symbol says num_symbols: 1" test $? = 0

# POST /symbol with the runtime address of hot_a (PIE: base + st_value).
base=$(awk -v exe="$(readlink -f "$HOTSPOTS")" \
    '$6 == exe && $3 == "00000000" { split($1, r, "-"); print r[1]; exit }' \
    "/proc/$PID/maps")
val=$(nm "$HOTSPOTS" | awk '$3 == "hot_a" { print $1 }')
if [ -n "$base" ] && [ -n "$val" ]; then
    addr=$(printf '0x%x' $((0x$base + 0x$val + 4)))
    curl -s -d "$addr+0x10" "http://$ADDR/debug/pprof/symbol" >"$T/sym2"
    check "POST /symbol resolves hot_a" grep -q "^$addr hot_a$" "$T/sym2"
else
    not_ok "POST /symbol resolves hot_a (no address found)"
fi

# Every profile endpoint: Go's sample type strings.
raw() {
    code=$(fetch "debug/pprof/$1" "$T/$1.pb.gz")
    [ "$code" = 200 ] && "$GO" tool pprof -raw "$T/$1.pb.gz" >"$T/$1.raw" 2>&1
}
raw heap && grep -q '^alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes' "$T/heap.raw" &&
    grep -q '^PeriodType: space bytes' "$T/heap.raw" &&
    grep -q '^Period: 524288$' "$T/heap.raw"
check "/heap sample types and period (space/bytes, 512 KiB)" test $? = 0
raw allocs && "$GO" tool pprof -top "$T/allocs.pb.gz" 2>&1 | grep -q '^Type: alloc_space'
check "/allocs defaults to alloc_space" test $? = 0
raw mutex && grep -q '^contentions/count delay/nanoseconds' "$T/mutex.raw" &&
    grep -q '^PeriodType: contentions count' "$T/mutex.raw"
check "/mutex sample types (contentions/count, delay/nanoseconds)" test $? = 0
# The threads of an idle hotspots, plus the request's own connection
# thread. A connection thread of an earlier request may still be ending
# (curl has its answer before the thread exits; under load it lingers), so
# the count lies between the threads present both before and after the
# request and those present at either time.
ls "/proc/$PID/task" | sort >"$T/tids.before"
raw threads && grep -q '^threads/count' "$T/threads.raw"
check "/threads sample type threads/count" test $? = 0
ls "/proc/$PID/task" | sort >"$T/tids.after"
both=$(comm -12 "$T/tids.before" "$T/tids.after" | wc -l)
either=$(sort -u "$T/tids.before" "$T/tids.after" | wc -l)
got=$(top "$T/threads.pb.gz" threads | total)
echo "# /threads: $got samples; $both threads before and after the" \
    "request, $either at either time, and the request's own"
check "/threads has one sample per thread" \
    test "${got:-0}" -ge $((both + 1)) -a "${got:-0}" -le $((either + 1))
"$GO" tool pprof -traces -symbolize=none "$T/threads.pb.gz" >"$T/threads.tr" 2>&1
check "/threads shows the sleeping main thread" \
    grep -q -E ' clock_nanosleep$' "$T/threads.tr"
check "/threads shows the request's own stack" \
    grep -q -E ' on_request$' "$T/threads.tr"
finish
