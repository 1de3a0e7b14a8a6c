#!/bin/sh
# tests/e2e/tsdb_import.sh: the database through kilnctl. Imports the Go
# fixtures, checks counts (stats, list), checks that a merge read back from
# the database equals `kilnctl pprof merge` of the same files stack for
# stack and that `go tool pprof` reads it with the same total, and that bad
# input (duplicates, garbage files, bad selectors, a damaged WAL) gives a
# clear error and never a crash. Needs kilnctl, jq and go. Prints TAP.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"

fx=$top_srcdir/tests/fixtures/go

if ! require_tools jq "$GO" || ! require_kilnctl; then
    tap_done
fi
make_tmpdir
db=$tmp/db

# check NAME CMD...: "ok NAME" when CMD succeeds, else "not ok" + output.
check() {
    ck_name=$1
    shift
    if "$@" >"$tmp/out" 2>"$tmp/err"; then
        ok "$ck_name"
    else
        not_ok "$ck_name (exit $?)"
        diag_file "$tmp/out"
        diag_file "$tmp/err"
    fi
}

# fails_with NAME STATUS TEXT CMD...: CMD exits STATUS and stderr has TEXT,
# with no sanitizer report.
fails_with() {
    fw_name=$1 fw_status=$2 fw_text=$3
    shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    fw_rc=$?
    if [ "$fw_rc" -eq "$fw_status" ] && grep -q -- "$fw_text" "$tmp/err" &&
        ! grep -q "Sanitizer\|runtime error:" "$tmp/err"; then
        ok "$fw_name"
    else
        not_ok "$fw_name (exit $fw_rc, want $fw_status and \"$fw_text\")"
        diag_file "$tmp/err"
    fi
}

check "import cpu, cpu2, cpu3, heap, mutex" \
    "$KILNCTL" import --storage.path="$db" --labels='{job="goapp",instance="a:1"}' \
    "$fx/cpu3.pb.gz" "$fx/cpu.pb.gz" "$fx/cpu2.pb.gz" "$fx/heap.pb.gz" \
    "$fx/mutex.pb.gz"
if grep -q "imported 12 profiles from 5 files" "$tmp/out"; then
    ok "import reports 12 profiles (3x2 cpu + 4 heap + 2 mutex)"
else
    not_ok "import reports 12 profiles"
    diag_file "$tmp/out"
fi

check "import a directory (block profiles named with --profile)" \
    "$KILNCTL" import --storage.path="$db" --profile=block \
    --labels='{job="goapp"}' "$fx/block.pb.gz"

"$KILNCTL" tsdb stats "$db" --format=json >"$tmp/stats.json" 2>"$tmp/err"
for kv in series=10 profiles=14 profile_series=10 float_series=0; do
    k=${kv%=*} v=${kv#*=}
    got=$(jq -r ".$k" "$tmp/stats.json" 2>/dev/null)
    if [ "$got" = "$v" ]; then
        ok "stats: $k = $v"
    else
        not_ok "stats: $k = $got, want $v"
        diag_file "$tmp/err"
    fi
done
fn=$(jq -r .functions "$tmp/stats.json")
nodes=$(jq -r .stack_nodes "$tmp/stats.json")
if [ "${fn:-0}" -gt 0 ] && [ "${nodes:-0}" -gt "${fn:-0}" ]; then
    ok "stats: $fn functions, $nodes stack nodes"
else
    not_ok "stats: functions=$fn stack_nodes=$nodes"
fi

"$KILNCTL" tsdb list "$db" --format=json >"$tmp/list.json" 2>"$tmp/err"
if [ "$(jq -r '.[0].series' "$tmp/list.json" 2>/dev/null)" = 10 ]; then
    ok "list: the head holds 10 series"
else
    not_ok "list"
    diag_file "$tmp/list.json"
fi

"$KILNCTL" tsdb dump "$db" --match='cpu{job="goapp"}' >"$tmp/dump" 2>"$tmp/err"
if [ "$(grep -c 'process_cpu:cpu:nanoseconds' "$tmp/dump")" = 3 ]; then
    ok "dump lists the 3 cpu profiles"
else
    not_ok "dump lists the 3 cpu profiles"
    diag_file "$tmp/dump"
    diag_file "$tmp/err"
fi

# The database's merge against kilnctl pprof merge of the same files.
check "dump -o writes the merged cpu profile" \
    "$KILNCTL" tsdb dump "$db" --match='cpu{job="goapp"}' -o "$tmp/db.pb.gz"
check "pprof merge of the same files" \
    "$KILNCTL" pprof merge -o "$tmp/files.pb.gz" "$fx/cpu.pb.gz" \
    "$fx/cpu2.pb.gz" "$fx/cpu3.pb.gz"
"$KILNCTL" pprof collapsed --sample-type=cpu "$tmp/db.pb.gz" >"$tmp/db.txt"
"$KILNCTL" pprof collapsed --sample-type=cpu "$tmp/files.pb.gz" >"$tmp/files.txt"
if [ -s "$tmp/db.txt" ] && cmp -s "$tmp/db.txt" "$tmp/files.txt"; then
    ok "database merge equals file merge, stack for stack"
else
    not_ok "database merge equals file merge"
    diff "$tmp/db.txt" "$tmp/files.txt" | head -20 | sed 's/^/#   /'
fi
want=$(go_total "$tmp/files.pb.gz" cpu nanoseconds 2>/dev/null)
got=$(go_total "$tmp/db.pb.gz" cpu nanoseconds 2>/dev/null)
if [ -n "$got" ] && [ "$got" = "$want" ]; then
    ok "go tool pprof reads the database merge: total $got ns"
else
    not_ok "go tool pprof total: got '$got', want '$want'"
fi

# The same data compacted into blocks (1 s block range: the fixtures span
# about 6 s) answers the same merge, stack for stack.
check "import with --storage.block-range=1s compacts into blocks" \
    "$KILNCTL" import --storage.path="$tmp/blocks" --storage.block-range=1s \
    --labels='{job="goapp"}' "$fx/cpu.pb.gz" "$fx/cpu2.pb.gz" \
    "$fx/cpu3.pb.gz" "$fx/heap.pb.gz" "$fx/mutex.pb.gz"
"$KILNCTL" tsdb list "$tmp/blocks" --format=json >"$tmp/blist.json" 2>"$tmp/err"
nb=$(jq '[.[] | select(.id != "head")] | length' "$tmp/blist.json" 2>/dev/null)
np=$(jq '[.[].profiles] | add' "$tmp/blist.json" 2>/dev/null)
if [ "${nb:-0}" -ge 1 ] && [ "$np" = 12 ]; then
    ok "list: $nb block(s) and the head hold all 12 profiles"
else
    not_ok "list after compaction: blocks '$nb', profiles '$np'"
    diag_file "$tmp/blist.json"
    diag_file "$tmp/err"
fi
"$KILNCTL" tsdb dump "$tmp/blocks" --match='cpu{job="goapp"}' \
    -o "$tmp/blocks.pb.gz" 2>"$tmp/err"
"$KILNCTL" pprof collapsed --sample-type=cpu "$tmp/blocks.pb.gz" \
    >"$tmp/blocks.txt" 2>>"$tmp/err"
if [ -s "$tmp/blocks.txt" ] && cmp -s "$tmp/blocks.txt" "$tmp/files.txt"; then
    ok "merge read from blocks equals file merge, stack for stack"
else
    not_ok "merge read from blocks equals file merge"
    diag_file "$tmp/err"
    diff "$tmp/blocks.txt" "$tmp/files.txt" | head -10 | sed 's/^/#   /'
fi

# A damaged block is set aside at open; the rest still answers.
blk=$(jq -r '[.[] | select(.id != "head")][0].id' "$tmp/blist.json")
cp -r "$tmp/blocks" "$tmp/dmg"
printf '\377\377\377\377' | dd of="$tmp/dmg/$blk/index" bs=1 seek=20 \
    conv=notrunc 2>/dev/null
"$KILNCTL" tsdb stats "$tmp/dmg" --format=json >"$tmp/dmg.json" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && grep -q "damaged block" "$tmp/err" &&
    [ "$(jq -r .profiles "$tmp/dmg.json")" -lt 12 ]; then
    ok "damaged block index: reported, block left out, exit 0"
else
    not_ok "damaged block index: exit $rc"
    diag_file "$tmp/err"
fi
printf '\377\377\377\377' | dd of="$tmp/blocks/$blk/chunks" bs=1 seek=30 \
    conv=notrunc 2>/dev/null
fails_with "damaged chunk: the merge fails naming the block" 1 "$blk" \
    "$KILNCTL" tsdb dump "$tmp/blocks" --match='{job="goapp"}' \
    -o "$tmp/x.pb.gz"

fails_with "damaged chunk: listing fails too, naming the block" 1 "$blk" \
    "$KILNCTL" tsdb dump "$tmp/blocks" --match='{job="goapp"}'
fails_with "data older than the newest block is refused (out of bounds)" 1 \
    "out of bounds" "$KILNCTL" import --storage.path="$tmp/dmg" \
    --labels='{job="other"}' "$fx/cpu.pb.gz"

# The time range selects profiles.
t2=$("$KILNCTL" pprof info --format=json "$fx/cpu2.pb.gz" | jq -r '.time_nanos')
t2s=$((t2 / 1000000000))
"$KILNCTL" tsdb dump "$db" --match='cpu' --start="$t2s" --end="$((t2s + 1))" \
    >"$tmp/dump2" 2>"$tmp/err"
if [ "$(wc -l <"$tmp/dump2")" -eq 1 ]; then
    ok "dump --start/--end selects one profile"
else
    not_ok "dump --start/--end"
    diag_file "$tmp/dump2"
    diag_file "$tmp/err"
fi

# Bad input.
fails_with "re-import is refused as out of order" 1 "out of order" \
    "$KILNCTL" import --storage.path="$db" --labels='{job="goapp",instance="a:1"}' \
    "$fx/cpu.pb.gz"
printf 'not a profile' >"$tmp/junk.pb.gz"
fails_with "a garbage file is named" 1 "junk.pb.gz" \
    "$KILNCTL" import --storage.path="$db" "$tmp/junk.pb.gz"
fails_with "bad labels are a usage error" 2 "expected" \
    "$KILNCTL" import --storage.path="$db" --labels='{job=x}' "$fx/cpu.pb.gz"
fails_with "a bad selector names the position" 2 "1:5:" \
    "$KILNCTL" tsdb dump "$db" --match='cpu{=' -o "$tmp/x.pb.gz"
fails_with "a missing database is an error" 1 "nonexistent" \
    "$KILNCTL" tsdb stats "$tmp/nonexistent"

# A database still opens after its WAL is damaged: a torn tail and a bit
# flip lose the damaged record(s), never the process.
seg=$(ls "$db"/wal/0* | head -n 1)
cp -r "$db" "$tmp/torn"
tseg=$tmp/torn/wal/$(basename "$seg")
size=$(wc -c <"$tseg")
truncate -s $((size - 7)) "$tseg"
"$KILNCTL" tsdb stats "$tmp/torn" --format=json >"$tmp/torn.json" 2>"$tmp/err"
rc=$?
p=$(jq -r .profiles "$tmp/torn.json" 2>/dev/null)
if [ $rc -eq 0 ] && [ -n "$p" ] && [ "$p" -lt 14 ] && [ "$p" -ge 10 ]; then
    ok "torn WAL tail: opens with $p of 14 profiles"
else
    not_ok "torn WAL tail: exit $rc, profiles '$p'"
    diag_file "$tmp/err"
fi
cp -r "$db" "$tmp/flip"
fseg=$tmp/flip/wal/$(basename "$seg")
printf '\377' | dd of="$fseg" bs=1 seek=200 conv=notrunc 2>/dev/null
"$KILNCTL" tsdb stats "$tmp/flip" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -le 1 ] && ! grep -q "Sanitizer\|runtime error:" "$tmp/err"; then
    ok "bit-flipped WAL: exit $rc, no crash"
else
    not_ok "bit-flipped WAL: exit $rc"
    diag_file "$tmp/err"
fi

tap_done
