# bench/: benchmarks; run by hand (scripts in bench/), never by make check.
