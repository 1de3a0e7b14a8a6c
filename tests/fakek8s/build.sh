#!/bin/sh
# tests/fakek8s/build.sh OUTDIR: build the fake Kubernetes API server into
# OUTDIR/fakek8s. Standard library only, so no network is needed. Works
# with HOME unset. The Go command is $GO if set, else `go`.
set -eu
out=${1:?usage: build.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
go=${GO:-go}
if ! command -v "$go" >/dev/null 2>&1; then
    echo "build.sh: Go not found (install Debian's golang-go)" >&2
    exit 127
fi
: "${GOCACHE:=${TMPDIR:-/tmp}/kiln-gocache}"
: "${GOPATH:=${TMPDIR:-/tmp}/kiln-gopath}"
: "${HOME:=${TMPDIR:-/tmp}}"
export GOCACHE GOPATH HOME
export GOFLAGS=-mod=mod GOPROXY=off GO111MODULE=on GOTOOLCHAIN=local
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$here"
"$go" build -trimpath -o "$out/fakek8s.tmp" .
mv "$out/fakek8s.tmp" "$out/fakek8s"
