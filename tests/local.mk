# tests/: end-to-end tests, fixtures, the Go test program, fuzz targets.
# Unit tests are declared next to their module in FOLDER/local.mk.
EXTRA_DIST += tests/unit/unit.h
