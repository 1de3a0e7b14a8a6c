#!/bin/sh
# tests/exporter/build.sh FLAVOR OUTDIR: build libkiln-exporter.so and the
# hotspots test program with cc directly, outside libtool, as FLAVOR:
#   plain  -O2, no sanitizer (the heap interposer is only reachable without
#          ASan/TSan, which replace malloc themselves)
#   asan   -fsanitize=address,undefined
#   tsan   -fsanitize=thread
# Needs top_srcdir and top_builddir (for the generated proto/profile.pb-c.c).
set -eu
flavor=${1:?usage: build.sh plain|asan|tsan OUTDIR}
out=${2:?usage: build.sh plain|asan|tsan OUTDIR}
src=${top_srcdir:?}
bld=${top_builddir:?}
cc=${CC:-cc}
case $flavor in
plain) san= ;;
asan) san="-fsanitize=address,undefined -fno-sanitize-recover=all" ;;
tsan) san="-fsanitize=thread" ;;
*) echo "build.sh: unknown flavor $flavor" >&2; exit 2 ;;
esac
mkdir -p "$out"
flags="-std=c11 -D_GNU_SOURCE -g -O2 -fno-omit-frame-pointer
 -mno-omit-leaf-frame-pointer
 -I$src -I$bld -I$src/include $san"
deps=$(pkg-config --cflags --libs libmicrohttpd libprotobuf-c zlib)
# shellcheck disable=SC2086
$cc $flags -fPIC -shared -o "$out/libkiln-exporter.so" \
    "$src"/exporter-kit/*.c \
    "$src/base/alloc.c" "$src/base/arena.c" "$src/base/buf.c" \
    "$src/base/hmap.c" "$src/base/status.c" \
    "$src/pprof/build.c" "$src/pprof/encode.c" "$bld/proto/profile.pb-c.c" \
    $deps -ldl -lm -lpthread
# shellcheck disable=SC2086
$cc $flags -o "$out/hotspots" "$src/tests/exporter/hotspots.c" \
    -L"$out" -lkiln-exporter -Wl,-rpath,"$out" -lpthread
