#!/bin/sh
# tests/exporter/api.sh: the start/stop contract of kiln/exporter.h (bad
# options, port in use, a SIGPROF handler that is not ours, fork, stop
# leaving the handler installed). hotspots prints the TAP itself.
top_builddir=${top_builddir:-$(pwd)}
exec "$top_builddir/tests/exporter/hotspots" api
