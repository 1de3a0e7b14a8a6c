#!/usr/bin/env python3
"""tests/fuzz/make-seeds.py: write the hand-made seed inputs of
tests/fuzz/corpus/fuzz_pprof_decode/ (small raw and gzipped pprof protobufs,
valid and invalid).

    python3 tests/fuzz/make-seeds.py tests/fuzz/corpus/fuzz_pprof_decode

The files are committed; run this only to change them. It encodes protobuf by
hand (no dependency): field numbers are those of proto/profile.proto.
"""
import gzip, os, sys
out = sys.argv[1]
def varint(n):
    n &= (1 << 64) - 1
    b = bytearray()
    while True:
        x = n & 0x7f; n >>= 7
        if n: b.append(x | 0x80)
        else: b.append(x); return bytes(b)
def key(f, wt): return varint((f << 3) | wt)
def vi(f, n): return key(f, 0) + varint(n)
def ld(f, data): return key(f, 2) + varint(len(data)) + data
def s(f, text): return ld(f, text.encode())
def packed(f, nums): return ld(f, b"".join(varint(n) for n in nums))
def vt(t, u): return vi(1, t) + vi(2, u)

def profile(strings, sample_types, samples, mappings=(), locations=(), functions=(), extra=b""):
    b = b"".join(ld(1, x) for x in sample_types)
    b += b"".join(ld(2, x) for x in samples)
    b += b"".join(ld(3, x) for x in mappings)
    b += b"".join(ld(4, x) for x in locations)
    b += b"".join(ld(5, x) for x in functions)
    b += b"".join(s(6, x) for x in strings)
    return b + extra

def w(name, data):
    with open(os.path.join(out, name), "wb") as f: f.write(data)

# minimal: one sample type, two functions, a two-frame stack.
S = ["", "cpu", "nanoseconds", "main", "main.f", "main.go"]
minimal = profile(S, [vt(1, 2)],
    [packed(1, [2, 1]) + packed(2, [100])],
    locations=[vi(1, 1) + ld(4, vi(1, 1) + vi(2, 10)),
               vi(1, 2) + vi(3, 0x1000) + ld(4, vi(1, 2) + vi(2, 20))],
    functions=[vi(1, 1) + vi(2, 3) + vi(4, 5), vi(1, 2) + vi(2, 4) + vi(4, 5)],
    extra=ld(11, vt(1, 2)) + vi(12, 10000000) + vi(9, 1700000000000000000) + vi(10, 5000000000))
w("minimal.pb", minimal)
w("minimal.pb.gz", gzip.compress(minimal, mtime=0))

# rich: two sample types, a mapping with build id, inlined lines, string and
# numeric labels, sparse ids, comments, drop/keep frames, default type.
S = ["", "samples", "count", "cpu", "nanoseconds", "main", "runtime.inl", "/bin/app",
     "abc123", "region", "db", "bytes", "size", "comment one", "runtime\\..*", "main.*",
     "main.work", "work.go"]
rich = profile(S, [vt(1, 2), vt(3, 4)],
    [packed(1, [70, 9]) + packed(2, [3, 30000000]) + ld(3, vi(1, 9) + vi(2, 10)),
     packed(1, [9]) + packed(2, [1, 10000000]) + ld(3, vi(1, 12) + vi(3, 4096) + vi(4, 11)),
     packed(1, [70, 70, 9]) + packed(2, [0, 0])],
    mappings=[vi(1, 5) + vi(2, 0x400000) + vi(3, 0x500000) + vi(4, 0) + vi(5, 7) + vi(6, 8)
              + vi(7, 1) + vi(8, 1) + vi(9, 1) + vi(10, 1)],
    locations=[vi(1, 9) + vi(2, 5) + vi(3, 0x401000) + ld(4, vi(1, 40) + vi(2, 3)),
               vi(1, 70) + vi(2, 5) + vi(3, 0x402000) + ld(4, vi(1, 41) + vi(2, 7))
               + ld(4, vi(1, 42) + vi(2, 12)) + vi(5, 1)],
    functions=[vi(1, 40) + vi(2, 5) + vi(3, 5) + vi(4, 17) + vi(5, 1),
               vi(1, 41) + vi(2, 6) + vi(3, 6),
               vi(1, 42) + vi(2, 16) + vi(3, 16) + vi(4, 17) + vi(5, 10)],
    extra=ld(11, vt(3, 4)) + vi(12, 10000000) + packed(13, [13]) + vi(7, 14) + vi(8, 15)
          + vi(14, 3) + vi(9, 1) + vi(10, 1))
w("rich.pb", rich)

# a location without lines (collapsed writes its address), no mapping.
S = ["", "alloc_space", "bytes"]
w("nolines.pb", profile(S, [vt(1, 2)], [packed(1, [1, 1, 2]) + packed(2, [4096])],
    locations=[vi(1, 1) + vi(3, 0xdeadbeef), vi(1, 2) + vi(3, 0x10)]))

# invalid inputs: a dangling function id, a bad first string, a value count
# that does not match the sample types, a duplicate id.
S = ["", "cpu", "nanoseconds", "main"]
w("bad-ref.pb", profile(S, [vt(1, 2)], [packed(1, [1]) + packed(2, [1])],
    locations=[vi(1, 1) + ld(4, vi(1, 99))], functions=[vi(1, 1) + vi(2, 3)]))
w("bad-string0.pb", profile(["x", "cpu", "ns"], [vt(1, 2)], [packed(2, [1])]))
w("bad-values.pb", profile(S, [vt(1, 2)], [packed(2, [1, 2])]))
w("dup-id.pb", profile(S, [vt(1, 2)], [packed(1, [1]) + packed(2, [1])],
    locations=[vi(1, 1), vi(1, 1)]))
