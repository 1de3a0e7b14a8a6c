# pprof/: the profile model, decode/encode, merge, collapsed stacks.
