# cmd/: the kiln server and kilnctl mains.
