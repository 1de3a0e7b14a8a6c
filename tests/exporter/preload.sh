#!/bin/sh
# tests/exporter/preload.sh: LD_PRELOAD into an unmodified Debian program
# (perl, running a loop) serves profiles with that program's own function
# names (perl exports Perl_pp_* and Perl_runops_standard in .dynsym; the
# binary is stripped and built without frame pointers).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/exporter/lib.sh"
need_tools
if ! command -v perl >/dev/null 2>&1; then
    echo "1..0 # SKIP perl not found"
    exit 0
fi
lib=$LIB
if lib_is_sanitized; then
    echo "# the configured library has a sanitizer runtime, which cannot be"
    echo "# preloaded into perl: using a plain build instead"
    build_variant plain "$T/plain" || { not_ok "plain build"; finish; }
    lib=$T/plain/libkiln-exporter.so
fi
mkdir -p "$T/p"
LD_PRELOAD=$lib KILN_EXPORTER_ADDR=127.0.0.1:0 \
    KILN_EXPORTER_ADDR_FILE="$T/p/addr" \
    perl -e 'while (1) { my @a = map { "x" x 1000 } 1 .. 1000 }' \
    >"$T/p/stdout" 2>"$T/p/stderr" &
PID=$!
pids="$pids $PID"
wait_file "$T/p/addr" 300
ADDR=$(cat "$T/p/addr" 2>/dev/null)
check "the preloaded exporter started from KILN_EXPORTER_ADDR" test -n "$ADDR"
# Windows until perl has used enough CPU for 50 samples (one on an idle
# machine, more when perl gets little CPU).
w=0
n=0
while [ "${n:-0}" -lt 50 ] && [ $w -lt 20 ]; do
    w=$((w + 1))
    code=$(fetch "debug/pprof/profile?seconds=3" "$T/p/cpu.pb.gz")
    [ "$code" = 200 ] || break
    top "$T/p/cpu.pb.gz" samples >"$T/p/top"
    n=$(total <"$T/p/top")
    n=${n%.*}
done
echo "# $n samples in window $w"
check "/profile answers in perl" test "$code" = 200
diag <"$T/p/top" | sed -n '5,12p'
check "perl's own function names show" \
    grep -q -E ' Perl_(pp_[a-z_]+|runops_standard)$' "$T/p/top"
# Allocations are sampled once per 512 KiB; perl's loop allocates 1 MB a
# turn, but how many turns it has made depends on the CPU it got.
i=0
while :; do
    code=$(fetch "debug/pprof/heap" "$T/p/heap.pb.gz")
    top "$T/p/heap.pb.gz" alloc_space >"$T/p/heap"
    grep -q ' Perl_safesysmalloc$' "$T/p/heap" && break
    i=$((i + 1))
    [ $i -lt 60 ] || break
    sleep 1
done
[ "$code" = 200 ] && grep -q ' Perl_safesysmalloc$' "$T/p/heap"
check "/heap answers in perl, with its allocations" test $? = 0
finish
