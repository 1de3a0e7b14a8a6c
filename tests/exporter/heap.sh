#!/bin/sh
# tests/exporter/heap.sh: heap profiles judged by go tool pprof.
# - alloc_big allocates 10x the bytes of alloc_small: /heap alloc_space
#   shows 10x (within 10%);
# - hold_live keeps 64 MiB: inuse_space shows it (within 15%), and the
#   freed allocations of alloc_big show no in-use bytes.
# Tolerances from the sampling error: with a 64 KiB period each 64 KiB
# block is sampled with probability p = 1 - 1/e and weighted 1/p, so an
# estimate over N blocks has a relative standard deviation of
# sqrt((1 - p) / (N p)): 0.84% for alloc_small (8192 blocks), 2.4% for
# hold_live (1024); the tolerances are 6 of them or more. (At the default
# 512 KiB, hold_live would rest on about 120 samples, 8.6%, and a 25%
# tolerance would fail one run in 300.)
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
if ! start_hotspots "$T/h" "$bin" --heap-period 65536 "$T/h" heap; then
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
check "alloc_big shows 10x alloc_small in alloc_space (within 10%)" \
    within "$big" "$small" 9 11
check "alloc_small's alloc_space is about 512 MiB (within 10%)" \
    within "$small" 536870912 0.9 1.1
top "$T/heap.pb.gz" inuse_space B >"$T/inuse"
live=$(flat hold_live <"$T/inuse")
freed=$(flat alloc_big <"$T/inuse")
echo "# inuse_space: hold_live $live B (true: 64 MiB), alloc_big $freed B"
check "hold_live's 64 MiB are in use (within 15%)" \
    within "$live" 67108864 0.85 1.15
check "freed allocations are not in use" test "$freed" = 0
top "$T/heap.pb.gz" alloc_objects >"$T/objs"
n=$(flat alloc_small <"$T/objs")
echo "# alloc_objects: alloc_small $n (true: 8192)"
check "alloc_objects are weighted back to the true count (within 10%)" \
    within "$n" 8192 0.9 1.1
check "/allocs answers" \
    test "$(fetch debug/pprof/allocs "$T/allocs.pb.gz")" = 200
"$GO" tool pprof -top -symbolize=none "$T/allocs.pb.gz" >"$T/allocs" 2>&1
check "/allocs shows alloc_space by default" grep -q '^Type: alloc_space' \
    "$T/allocs"
finish
