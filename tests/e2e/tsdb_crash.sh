#!/bin/sh
# tests/e2e/tsdb_crash.sh: kill -9 during `kilnctl import`, 20 times.
# Each round starts an import of one profile under its own labels
# ({round="N"}) into one database and kills it after a random delay, so the
# kill lands anywhere: in WAL replay, decoding, appending, writing or
# fsyncing the commit. An import that exited 0 before the kill acknowledged
# its commit. After every round the database must open (kilnctl tsdb stats
# exit 0); at the end every acknowledged profile must be there with exactly
# the stacks and values of its file (collapsed text compared byte for
# byte). Needs kilnctl and jq. Prints TAP.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"

fx=$top_srcdir/tests/fixtures/go
rounds=${KILN_CRASH_ROUNDS:-20}

if ! require_tools jq || ! require_kilnctl; then
    tap_done
fi
make_tmpdir
db=$tmp/db
files="heap allocs cpu mutex goroutine"

acked=
opened=0
i=1
while [ "$i" -le "$rounds" ]; do
    set -- $files
    n=$(( (i - 1) % 5 + 1 ))
    eval "f=\${$n}"
    "$KILNCTL" import --storage.path="$db" --labels="{round=\"$i\"}" \
        "$fx/$f.pb.gz" >"$tmp/imp.$i" 2>&1 &
    pid=$!
    # A delay of 0 to ~60 ms, from the shell's own counter and the pid.
    d=$(( (pid * 7919 + i * 104729) % 60 ))
    sleep "0.$(printf '%03d' "$d")"
    kill -9 "$pid" 2>/dev/null
    wait "$pid"
    rc=$?
    if [ $rc -eq 0 ]; then
        acked="$acked $i:$f"
    elif [ $rc -ne 137 ]; then
        not_ok "round $i: import exited $rc without being killed"
        diag_file "$tmp/imp.$i"
    fi
    if [ ! -d "$db" ] && [ -z "$acked" ]; then
        opened=$((opened + 1)) # killed before it created the directory
    elif "$KILNCTL" tsdb stats "$db" >"$tmp/stats" 2>"$tmp/err"; then
        opened=$((opened + 1))
    else
        not_ok "round $i: the database does not open after kill -9"
        diag_file "$tmp/err"
    fi
    i=$((i + 1))
done
if [ "$opened" -eq "$rounds" ]; then
    ok "the database opened after each of $rounds kill -9 rounds"
fi
diag "acknowledged imports:$acked"

# One more import that is not killed, so at least one ack is checked.
"$KILNCTL" import --storage.path="$db" --labels='{round="final"}' \
    "$fx/cpu.pb.gz" >"$tmp/imp.final" 2>&1 && acked="$acked final:cpu"

for a in $acked; do
    r=${a%%:*} f=${a#*:}
    [ -s "$tmp/$f.types.json" ] ||
        "$KILNCTL" pprof info --format=json "$fx/$f.pb.gz" >"$tmp/$f.types.json"
    bad=0
    for t in $(jq -r '.sample_types[].type' "$tmp/$f.types.json"); do
        "$KILNCTL" tsdb dump "$db" \
            --match="{round=\"$r\",__name__=~\"[^:]*:$t:.*\"}" \
            -o "$tmp/got.pb.gz" 2>"$tmp/err" &&
            "$KILNCTL" pprof collapsed "$tmp/got.pb.gz" >"$tmp/got.txt" &&
            "$KILNCTL" pprof collapsed --sample-type="$t" "$fx/$f.pb.gz" \
                >"$tmp/want.txt" &&
            cmp -s "$tmp/got.txt" "$tmp/want.txt" || {
            bad=1
            diag "round $r ($f, $t) differs or is missing"
            diag_file "$tmp/err"
        }
    done
    if [ $bad -eq 0 ]; then
        ok "round $r: acknowledged $f profile is intact, every sample type"
    else
        not_ok "round $r: acknowledged $f profile"
    fi
done

tap_done
