module kiln.bench/replay

go 1.19
