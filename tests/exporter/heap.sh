#!/bin/sh
# tests/exporter/heap.sh: heap profiles judged by go tool pprof.
# - alloc_big allocates 10x the bytes of alloc_small: /heap alloc_space
#   shows 10x (within 20%; sampling noise at 512 KiB is a few percent);
# - hold_live keeps 64 MiB: inuse_space shows it (within 25%), and the
#   freed allocations of alloc_big show no in-use bytes.
# ASan and TSan replace malloc before any library can, so when the
# configured library is built with a sanitizer this test builds a plain
# copy with cc (tests/exporter/build.sh) and runs that instead, saying so.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/exporter/lib.sh"
need_tools

bin=$HOTSPOTS
if lib_is_sanitized; then
    echo "# the configured library has a sanitizer, which owns malloc:"
    echo "# testing the heap interposer on a plain build instead"
    if ! build_variant plain "$T/plain"; then
        not_ok "plain build of the library"
        finish
    fi
    bin=$T/plain/hotspots
fi
if ! start_hotspots "$T/h" "$bin" "$T/h" heap; then
    not_ok "hotspots heap started"
    finish
fi
check "this library's malloc is the one called" \
    test "$(cat "$T/h/heap_interposed")" = 1
wait_file "$T/h/done"
check "/heap answers" test "$(fetch debug/pprof/heap "$T/heap.pb.gz")" = 200
top "$T/heap.pb.gz" alloc_space B >"$T/alloc"
big=$(flat alloc_big <"$T/alloc")
small=$(flat alloc_small <"$T/alloc")
echo "# alloc_space: alloc_big $big B, alloc_small $small B (true: 5 GiB," \
    "512 MiB)"
check "alloc_big shows 10x alloc_small in alloc_space (within 20%)" \
    within "$big" "$small" 8 12
check "alloc_small's alloc_space is about 512 MiB (within 20%)" \
    within "$small" 536870912 0.8 1.2
top "$T/heap.pb.gz" inuse_space B >"$T/inuse"
live=$(flat hold_live <"$T/inuse")
freed=$(flat alloc_big <"$T/inuse")
echo "# inuse_space: hold_live $live B (true: 64 MiB), alloc_big $freed B"
check "hold_live's 64 MiB are in use (within 25%)" \
    within "$live" 67108864 0.75 1.25
check "freed allocations are not in use" test "$freed" = 0
top "$T/heap.pb.gz" alloc_objects >"$T/objs"
n=$(flat alloc_small <"$T/objs")
echo "# alloc_objects: alloc_small $n (true: 8192)"
check "alloc_objects are weighted back to the true count (within 20%)" \
    within "$n" 8192 0.8 1.2
check "/allocs answers" \
    test "$(fetch debug/pprof/allocs "$T/allocs.pb.gz")" = 200
"$GO" tool pprof -top -symbolize=none "$T/allocs.pb.gz" >"$T/allocs" 2>&1
check "/allocs shows alloc_space by default" grep -q '^Type: alloc_space' \
    "$T/allocs"
finish
