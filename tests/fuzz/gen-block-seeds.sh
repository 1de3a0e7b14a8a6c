#!/usr/bin/env bash
# tests/fuzz/gen-block-seeds.sh: write the seeds of the fuzz_tsdb_block
# target into tests/fuzz/corpus/fuzz_tsdb_block/ (replacing what is there).
#
#   tests/fuzz/gen-block-seeds.sh [BUILD_DIR]
#
# BUILD_DIR (default $KILN_BUILD_DIR, else build/) must hold a built kilnctl
# and the target (scripts/fuzz builds it into BUILD_DIR/fuzz/). The seeds:
#   - real blocks: `kilnctl import` of tests/fixtures/go/*.pb.gz with a 1 s
#     block range, each block's four files packed as one mode-0 input;
#   - the target's built-in block in every mode (whole, one file as is, one
#     file with checksums recomputed, decompressed bodies), which the target
#     writes itself when run with KILN_FUZZ_BLOCK_SEEDS=DIR.
# The files are committed; run this only when the block format changes.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
builddir=${1:-${KILN_BUILD_DIR:-$top/build}}
kilnctl=$builddir/kilnctl
target=$builddir/fuzz/fuzz_tsdb_block
for f in "$kilnctl" "$target"; do
    [ -x "$f" ] || { echo "gen-block-seeds: $f missing: build it first" >&2; exit 1; }
done

out=$top/tests/fuzz/corpus/fuzz_tsdb_block
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$kilnctl" import --storage.path="$tmp/db" --storage.block-range=1s \
    "$top"/tests/fixtures/go/*.pb.gz >/dev/null
blocks=()
for d in "$tmp"/db/*/; do
    [ -f "$d/meta.json" ] && blocks+=("${d%/}")
done
[ ${#blocks[@]} -gt 0 ] || { echo "gen-block-seeds: kilnctl wrote no block" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out"
KILN_FUZZ_BLOCK_SEEDS=$out "$target" "${blocks[@]}"
ls -l "$out"
