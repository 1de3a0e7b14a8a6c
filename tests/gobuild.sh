#!/bin/sh
# tests/gobuild.sh DIR OUTDIR: build the Go program in DIR into
# OUTDIR/<name of DIR>: the test peers (tests/goapp, tests/badtarget,
# tests/fakek8s) and the benchmark fleet (bench/replay). They use the
# standard library only, so no network is needed; works with HOME unset.
# The Go command is $GO if set (configure's AC_PATH_PROG), else `go`.
set -eu
src=${1:?usage: gobuild.sh DIR OUTDIR}
out=${2:?usage: gobuild.sh DIR OUTDIR}
go=${GO:-go}
if ! command -v "$go" >/dev/null 2>&1; then
    echo "gobuild.sh: Go not found (install Debian's golang-go)" >&2
    exit 127
fi
: "${GOCACHE:=${TMPDIR:-/tmp}/kiln-gocache}"
: "${GOPATH:=${TMPDIR:-/tmp}/kiln-gopath}"
: "${HOME:=${TMPDIR:-/tmp}}"
export GOCACHE GOPATH HOME
export GOFLAGS=-mod=mod GOPROXY=off GO111MODULE=on GOTOOLCHAIN=local
mkdir -p "$out"
out=$(cd "$out" && pwd)
src=$(cd "$src" && pwd)
name=$(basename "$src")
cd "$src"
"$go" build -trimpath -o "$out/$name.tmp" .
mv "$out/$name.tmp" "$out/$name"
