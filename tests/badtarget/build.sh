#!/bin/sh
# tests/badtarget/build.sh OUTDIR: build the misbehaving scrape target into
# OUTDIR/badtarget (standard library only; no network needed).
set -eu
out=${1:?usage: build.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
go=${GO:-go}
: "${GOCACHE:=${TMPDIR:-/tmp}/kiln-gocache}"
: "${GOPATH:=${TMPDIR:-/tmp}/kiln-gopath}"
: "${HOME:=${TMPDIR:-/tmp}}"
export GOCACHE GOPATH HOME
export GOFLAGS= GOPROXY=off GO111MODULE=on GOTOOLCHAIN=local
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$here"
"$go" build -trimpath -o "$out/badtarget.tmp" .
mv "$out/badtarget.tmp" "$out/badtarget"
