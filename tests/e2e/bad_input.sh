#!/bin/sh
# tests/e2e/bad_input.sh: kilnctl on bad input never crashes. Generates bad
# files at test time from a committed fixture (truncated gzip and protobuf,
# bit flips at several offsets, not protobuf at all, wrong gzip, a 1 GiB gzip
# bomb, a file above the 64 MiB input limit, an empty file, crafted
# protobufs with bad lengths and references, a missing file, a directory)
# and runs `kilnctl pprof top`, `info`, `collapsed` and `merge` on each:
#
#   - the exit status is 1 with exactly one line on stderr that starts with
#     "kilnctl: " and names the file;
#   - bit flips and truncations of raw protobuf may still decode into a
#     valid profile, so there exit 0 is accepted too;
#   - never a crash: exit >= 2, a sanitizer report ("ERROR: AddressSanitizer",
#     "runtime error:") or a hang (60 s) fails the case.
#
# Usage errors (no arguments, unknown command or flag, bad flag value)
# exit 2. Built with --enable-sanitizers, this is the issue's "bad input
# under the sanitizer build" check. Needs kilnctl, gzip and coreutils.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"

LC_ALL=C
export LC_ALL
fx=$top_srcdir/tests/fixtures/go
good=$fx/cpu.pb.gz

req=0
require_tools gzip truncate timeout od || req=1
require_kilnctl || req=1
if [ $req -ne 0 ]; then
    tap_done
fi
make_tmpdir
bad=$tmp/bad
mkdir -p "$bad"

# crashed RC ERRFILE: true when the run crashed (see above).
crashed() {
    [ "$1" -ge 2 ] ||
        grep -q -E 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:|SUMMARY: .*Sanitizer' "$2"
}

# run_kilnctl OUTBASE ARGS...: runs kilnctl with a 60 s limit; sets $rc.
run_kilnctl() {
    rk_base=$1
    shift
    timeout 60 "$KILNCTL" "$@" >"$rk_base.out" 2>"$rk_base.err" </dev/null
    rc=$?
}

# expect_bad NAME FILE MODE: every command on FILE. MODE "strict": exit 1
# with a reason; "lenient": exit 0 is accepted too.
n_case=0
expect_bad() {
    eb_name=$1
    eb_file=$2
    eb_mode=$3
    n_case=$((n_case + 1))
    for eb_cmd in top info collapsed merge; do
        eb_base=$tmp/case$n_case.$eb_cmd
        eb_out=$tmp/merged$n_case.pb.gz
        case $eb_cmd in
        merge) run_kilnctl "$eb_base" pprof merge -o "$eb_out" "$good" "$eb_file" ;;
        *) run_kilnctl "$eb_base" pprof "$eb_cmd" "$eb_file" ;;
        esac
        eb_what="$eb_name: $eb_cmd"
        if crashed "$rc" "$eb_base.err"; then
            not_ok "$eb_what: crashed (exit $rc)"
            diag_file "$eb_base.err" 30
            continue
        fi
        if [ "$rc" -eq 0 ]; then
            if [ "$eb_mode" = lenient ]; then
                ok "$eb_what: decodes validly (exit 0), no crash"
            else
                not_ok "$eb_what: exit 1 with a reason"
                diag "exit 0: bad input accepted"
                diag_file "$eb_base.out" 5
            fi
            continue
        fi
        # rc == 1: a one-line reason that names the file.
        eb_lines=$(grep -c . "$eb_base.err")
        eb_first=$(head -n 1 "$eb_base.err")
        case $eb_first in
        "kilnctl: "*"$eb_file"*) eb_named=1 ;;
        *) eb_named=0 ;;
        esac
        if [ "$eb_lines" -eq 1 ] && [ $eb_named -eq 1 ]; then
            if [ "$eb_cmd" = merge ] && [ -e "$eb_out" ]; then
                not_ok "$eb_what: exit 1 with a reason"
                diag "merge failed but left $eb_out behind"
            else
                ok "$eb_what: exit 1: ${eb_first#kilnctl: }"
            fi
        else
            not_ok "$eb_what: exit 1 with a reason"
            diag "stderr should be one line \"kilnctl: $eb_file: reason\"; got $eb_lines lines:"
            diag_file "$eb_base.err" 10
        fi
    done
}

# flip FILE OFFSET OUT: OUT is FILE with the low bit of byte OFFSET flipped.
flip() {
    fl_size=$(wc -c <"$1")
    fl_byte=$(od -A n -t u1 -j "$2" -N 1 "$1" | tr -d ' ')
    fl_new=$((fl_byte ^ 1))
    head -c "$2" "$1" >"$3"
    printf "\\$(printf %03o "$fl_new")" >>"$3"
    tail -c $((fl_size - $2 - 1)) "$1" >>"$3"
}

gzip -dc "$good" >"$bad/raw.pb"
gsize=$(wc -c <"$good")
rsize=$(wc -c <"$bad/raw.pb")

# Control: the unmodified fixture and its raw protobuf are accepted.
for f in "$good" "$bad/raw.pb"; do
    run_kilnctl "$tmp/control" pprof top "$f"
    if [ "$rc" -eq 0 ]; then
        ok "control: kilnctl pprof top $(basename "$f") exits 0"
    else
        not_ok "control: kilnctl pprof top $(basename "$f") exits 0"
        diag_file "$tmp/control.err"
    fi
done

# Empty, missing, a directory.
: >"$bad/empty.pb.gz"
expect_bad "empty file" "$bad/empty.pb.gz" strict
expect_bad "missing file" "$bad/does-not-exist.pb.gz" strict
mkdir -p "$bad/a-directory"
expect_bad "directory" "$bad/a-directory" strict

# Not protobuf: text, and 4 KiB of (deterministic) random bytes.
printf 'this is not a profile\n' >"$bad/text.pb"
expect_bad "text, not protobuf" "$bad/text.pb" strict
awk 'BEGIN { srand(7); for (i = 0; i < 4096; i++) printf "%c", int(rand() * 255) + 1 }' \
    >"$bad/random.pb"
expect_bad "random bytes, not protobuf" "$bad/random.pb" strict

# Wrong gzip: a gzip header and garbage; a bad method; gzip of text.
{ printf '\037\213\010\000\000\000\000\000\000\003'; printf 'garbage, not deflate data at all'; } \
    >"$bad/header-garbage.pb.gz"
expect_bad "gzip header + garbage" "$bad/header-garbage.pb.gz" strict
{ printf '\037\213\007\000\000\000\000\000\000\003'; tail -c +11 "$good"; } \
    >"$bad/bad-method.pb.gz"
expect_bad "gzip with an unknown method" "$bad/bad-method.pb.gz" strict
printf 'this is not a profile\n' | gzip -c >"$bad/text.pb.gz"
expect_bad "gzip of text" "$bad/text.pb.gz" strict

# Truncated gzip: the trailer (CRC, length) is missing or short.
for n in 2 10 20 $((gsize / 2)) $((gsize - 8)) $((gsize - 1)); do
    head -c "$n" "$good" >"$bad/trunc$n.pb.gz"
    expect_bad "gzip truncated to $n of $gsize bytes" "$bad/trunc$n.pb.gz" strict
done
# Corrupt gzip trailer: CRC and length are checked.
flip "$good" $((gsize - 6)) "$bad/badcrc.pb.gz"
expect_bad "gzip with a wrong CRC" "$bad/badcrc.pb.gz" strict
flip "$good" $((gsize - 3)) "$bad/badlen.pb.gz"
expect_bad "gzip with a wrong length" "$bad/badlen.pb.gz" strict
# Bit flips inside the deflate data: usually an error, but a flip in
# unused bits may go unnoticed.
for off in 12 40 $((gsize / 3)) $((gsize / 2)) $((gsize - 12)); do
    flip "$good" "$off" "$bad/flip$off.pb.gz"
    expect_bad "gzip, bit flipped at byte $off" "$bad/flip$off.pb.gz" lenient
done

# Raw protobuf, truncated and bit-flipped: may still be a valid profile.
for n in 1 3 $((rsize / 4)) $((rsize / 2)) $((rsize - 1)); do
    head -c "$n" "$bad/raw.pb" >"$bad/rawtrunc$n.pb"
    expect_bad "raw protobuf truncated to $n of $rsize bytes" "$bad/rawtrunc$n.pb" lenient
done
for off in 0 1 7 $((rsize / 3)) $((rsize / 2)) $((rsize - 2)); do
    flip "$bad/raw.pb" "$off" "$bad/rawflip$off.pb"
    expect_bad "raw protobuf, bit flipped at byte $off" "$bad/rawflip$off.pb" lenient
done

# Crafted protobufs. A valid minimal profile first (control): one sample
# type ("a" in "b"), no samples.
st='\012\004\010\001\020\002'
strs='\062\000\062\001a\062\001b'
printf "$st$strs" >"$bad/minimal.pb"
run_kilnctl "$tmp/minimal" pprof info "$bad/minimal.pb"
if [ "$rc" -eq 0 ]; then
    ok "control: a crafted minimal profile is accepted"
else
    not_ok "control: a crafted minimal profile is accepted"
    diag_file "$tmp/minimal.err"
fi
# A string of length 2^62.
printf "$st"'\062\377\377\377\377\377\377\377\377\077' >"$bad/hugelen.pb"
expect_bad "protobuf, string length 2^62" "$bad/hugelen.pb" strict
# A length past the end of the input.
printf "$st$strs"'\062\100abc' >"$bad/pastend.pb"
expect_bad "protobuf, length past the end" "$bad/pastend.pb" strict
# A varint of 11 bytes.
printf "$strs"'\010\377\377\377\377\377\377\377\377\377\377\001' >"$bad/longvarint.pb"
expect_bad "protobuf, 11-byte varint" "$bad/longvarint.pb" strict
# A sample whose location id does not exist.
printf "$st"'\022\006\012\001\143\022\001\001'"$strs" >"$bad/badloc.pb"
expect_bad "protobuf, sample with an unknown location id" "$bad/badloc.pb" strict
# A sample type whose string index is out of range.
printf '\012\004\010\011\020\002'"$strs" >"$bad/badstr.pb"
expect_bad "protobuf, string index out of range" "$bad/badstr.pb" strict
# A sample with two values for one sample type.
printf "$st"'\022\004\022\002\001\001'"$strs" >"$bad/badvalues.pb"
expect_bad "protobuf, sample with too many values" "$bad/badvalues.pb" strict
# No string table at all (strings[0] must be "").
printf "$st" >"$bad/nostrings.pb"
expect_bad "protobuf, no string table" "$bad/nostrings.pb" strict

# Gzip bomb: 1 GiB of zeros, about 4.6 MB compressed; the decompressed
# limit (256 MiB) must stop it.
head -c 1073741824 /dev/zero | gzip -1 >"$bad/bomb.pb.gz"
expect_bad "gzip bomb (1 GiB of zeros)" "$bad/bomb.pb.gz" strict

# Above the 64 MiB input limit (sparse, costs no disk).
truncate -s 65M "$bad/oversized.pb.gz"
expect_bad "oversized file (65 MiB)" "$bad/oversized.pb.gz" strict

# merge: incompatible sample types, and an unwritable output.
run_kilnctl "$tmp/mismatch" pprof merge -o "$tmp/mm.pb.gz" "$good" "$fx/heap.pb.gz"
if crashed "$rc" "$tmp/mismatch.err"; then
    not_ok "merge cpu + heap: exit 1 with a reason (crashed, exit $rc)"
    diag_file "$tmp/mismatch.err" 30
elif [ "$rc" -eq 1 ] && grep -q '^kilnctl: ' "$tmp/mismatch.err" &&
    [ "$(grep -c . "$tmp/mismatch.err")" -eq 1 ] && [ ! -e "$tmp/mm.pb.gz" ]; then
    ok "merge cpu + heap: exit 1: $(sed 's/^kilnctl: //' "$tmp/mismatch.err")"
else
    not_ok "merge cpu + heap: exit 1 with a one-line reason, no output"
    diag "exit $rc"
    diag_file "$tmp/mismatch.err"
fi
run_kilnctl "$tmp/noout" pprof merge -o "$tmp/no/such/dir/out.pb.gz" "$good"
if crashed "$rc" "$tmp/noout.err"; then
    not_ok "merge -o into a missing directory: exit 1 (crashed, exit $rc)"
    diag_file "$tmp/noout.err" 30
elif [ "$rc" -eq 1 ] && grep -q "^kilnctl: .*$tmp/no/such/dir/out.pb.gz" "$tmp/noout.err"; then
    ok "merge -o into a missing directory: exit 1: $(sed 's/^kilnctl: //' "$tmp/noout.err")"
else
    not_ok "merge -o into a missing directory: exit 1 with a reason naming it"
    diag "exit $rc"
    diag_file "$tmp/noout.err"
fi

# An unknown sample type is refused (1 or 2), with a message, no crash.
run_kilnctl "$tmp/nost" pprof top "$good" --sample-type=no_such_type
if crashed "$rc" "$tmp/nost.err" && [ "$rc" -ne 2 ]; then
    not_ok "top --sample-type=no_such_type: refused (crashed, exit $rc)"
    diag_file "$tmp/nost.err" 30
elif { [ "$rc" -eq 1 ] || [ "$rc" -eq 2 ]; } && grep -q '^kilnctl: ' "$tmp/nost.err" &&
    ! grep -q -E 'Sanitizer|runtime error:' "$tmp/nost.err"; then
    ok "top --sample-type=no_such_type: exit $rc: $(head -n 1 "$tmp/nost.err" | sed 's/^kilnctl: //')"
else
    not_ok "top --sample-type=no_such_type: refused with a kilnctl: message"
    diag "exit $rc"
    diag_file "$tmp/nost.err"
fi

# Usage errors exit 2 with a message, never a crash.
usage_case() {
    uc_name=$1
    shift
    run_kilnctl "$tmp/usage" "$@"
    if [ "$rc" -eq 2 ] && [ -s "$tmp/usage.err" ] &&
        ! grep -q -E 'Sanitizer|runtime error:' "$tmp/usage.err"; then
        ok "usage: $uc_name exits 2"
    else
        not_ok "usage: $uc_name exits 2"
        diag "exit $rc"
        diag_file "$tmp/usage.err"
    fi
}
usage_case "no arguments"
usage_case "unknown command" no-such-command
usage_case "pprof without a subcommand" pprof
usage_case "unknown pprof subcommand" pprof no-such-subcommand "$good"
usage_case "top without a file" pprof top
usage_case "top with an unknown flag" pprof top --no-such-flag "$good"
usage_case "top -n not a number" pprof top "$good" -n many
usage_case "top --format=xml" pprof top "$good" --format=xml
usage_case "info with two files" pprof info "$good" "$good"
usage_case "merge without -o" pprof merge "$good"
usage_case "merge without inputs" pprof merge -o "$tmp/x.pb.gz"

tap_done
