# exporter-kit/: libkiln-exporter, the in-process profiler library.
