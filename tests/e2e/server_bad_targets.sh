#!/bin/sh
# tests/e2e/server_bad_targets.sh: kiln against misbehaving targets.
# kiln scrapes, every 2 s, the Go test program (job "good", all default
# profile types, scrape_timeout 5s) and the six listeners of
# tests/badtarget (job "bad", memory only, scrape_timeout 3s): one that
# never answers, one that answers 500, one that answers random bytes, one
# that sends 100 MB, a gzip bomb (1 GiB of zeros) and one that closes the
# connection mid-body. Checked:
#   - within 30 s each bad target is down in /api/v1/targets with its
#     reason in lastError (a timeout, Prometheus' "server returned HTTP
#     status 500 Internal Server Error", a decode error, "body size limit
#     exceeded (67108864 bytes)", a decompressed-size limit, a transfer
#     error), and still is at the end; each is logged once, not per scrape;
#   - /-/healthy answers throughout, kiln exits 0 on SIGTERM, its log has
#     no error and no sanitizer report, and its peak RSS (VmHWM) stays
#     under KILN_E2E_MAX_HWM_MB and stops growing after the first half of
#     the run. The default bound is 500 MB, 1200 MB for a build with
#     AddressSanitizer (measured: about 300 MB and 860-920 MB; the bomb
#     fills the 256 MiB gunzip limit, ASan copies on realloc and keeps
#     freed blocks in a 256 MiB quarantine);
#   - in the database: the good target's memory `up` samples are all 1,
#     about 2 s apart (no gap over 3 s: bad targets do not delay it), every
#     `up` of the good target is 1; no profile of the bad job is stored,
#     while each bad target has `up` samples, all 0;
#   - with --scrape.body-size-limit=1MB the huge target fails naming
#     1048576 bytes.
# Prints TAP.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/server_lib.sh"

if ! require_tools "$GO" jq curl || ! require_kiln || ! require_kilnctl; then
    tap_done
fi
server_tmpdir
bad_pid=
trap 'kill $bad_pid 2>/dev/null; server_cleanup' EXIT
if [ -z "${KILN_E2E_MAX_HWM_MB:-}" ]; then
    if grep -q __asan_init "$KILN"; then
        KILN_E2E_MAX_HWM_MB=1200
    else
        KILN_E2E_MAX_HWM_MB=500
    fi
fi
run_s=40
modes="hang status500 garbage huge bomb cut"

if ! build_goapp "$tmp/bin" || ! start_goapp "$tmp/bin/goapp"; then
    not_ok "the Go test program starts"
    tap_done
fi
if ! GO="$GO" sh "$top_srcdir/tests/gobuild.sh" "$top_srcdir/tests/badtarget" "$tmp/bin" \
    >"$tmp/build.log" 2>&1; then
    not_ok "tests/badtarget builds"
    diag_file "$tmp/build.log"
    tap_done
fi
"$tmp/bin/badtarget" >"$tmp/bad.out" 2>"$tmp/bad.err" &
bad_pid=$!
bad_ready() { # true once it is ready or has died
    grep -qx ready "$tmp/bad.out" || ! kill -0 "$bad_pid" 2>/dev/null
}
if ! wait_until 60 bad_ready || ! grep -qx ready "$tmp/bad.out"; then
    not_ok "the bad targets listen"
    diag_file "$tmp/bad.err"
    tap_done
fi
# bad_addr MODE: the listener of MODE.
bad_addr() {
    awk -v m="$1" '$1 == m { print $2 }' "$tmp/bad.out"
}

{
    cat <<EOF
global:
  scrape_interval: 2s
scrape_configs:
  - job_name: good
    scrape_timeout: 5s
    static_configs:
      - targets: ["$goapp_addr"]
  - job_name: bad
    scrape_timeout: 3s
    profiling:
      cpu: {enabled: false}
      allocs: {enabled: false}
      mutex: {enabled: false}
      block: {enabled: false}
      goroutine: {enabled: false}
    static_configs:
EOF
    for m in $modes; do
        printf '      - targets: ["%s"]\n        labels: {mode: %s}\n' \
            "$(bad_addr "$m")" "$m"
    done
} >"$tmp/kiln.yml"

# reason_ok MODE ERROR LIMIT: true when ERROR is the right reason for a
# failed scrape of MODE's listener (LIMIT: the body size limit in bytes).
reason_ok() {
    ro_get="Get \"http://$(bad_addr "$1")/debug/pprof/heap\": "
    case $1 in
    hang)
        case $2 in
        "$ro_get"*"timed out"* | "$ro_get"*"deadline exceeded"*) return 0 ;;
        esac
        ;;
    status500)
        [ "$2" = "server returned HTTP status 500 Internal Server Error" ] &&
            return 0
        ;;
    garbage)
        case $2 in decode:\ ?*) return 0 ;; esac
        ;;
    huge)
        [ "$2" = "body size limit exceeded ($3 bytes)" ] && return 0
        ;;
    bomb)
        case $2 in decode:\ *decompressed*limit*) return 0 ;; esac
        ;;
    cut)
        case $2 in
        "$ro_get"*"timed out"*) ;;
        "$ro_get"*closed* | "$ro_get"*remaining* | "$ro_get"*EOF*) return 0 ;;
        esac
        ;;
    esac
    return 1
}

# bad_state MODE: "TARGET_HEALTH MEMORY_HEALTH<TAB>LAST_ERROR" of MODE's
# target in $tmp/t.json.
bad_state() {
    jq -r --arg m "$1" '.data.activeTargets[] | select(.labels.mode == $m) |
        "\(.health) \(.profiles[] | select(.name == "memory") |
                      "\(.health)\t\(.lastError)")"' "$tmp/t.json"
}

# all_down LIMIT: every bad target is down for the right reason.
all_down() {
    targets_json "$tmp/t.json" || return 1
    for ad_m in $modes; do
        ad_s=$(bad_state "$ad_m")
        [ "${ad_s%%	*}" = "down down" ] || return 1
        reason_ok "$ad_m" "${ad_s#*	}" "$1" || return 1
    done
}

# report_modes LIMIT WHEN: one case per bad target from $tmp/t.json.
report_modes() {
    for rm_m in $modes; do
        rm_s=$(bad_state "$rm_m")
        rm_e=${rm_s#*	}
        if [ "${rm_s%%	*}" = "down down" ] && reason_ok "$rm_m" "$rm_e" "$1"; then
            ok "$rm_m: down $2, lastError \"$rm_e\""
        else
            not_ok "$rm_m: down $2 for the right reason (${rm_s%%	*}: \"$rm_e\")"
        fi
    done
}

# hwm_mb: kiln's VmHWM in MB.
hwm_mb() {
    awk '$1 == "VmHWM:" { printf "%d\n", $2 / 1024 }' "/proc/$kiln_pid/status"
}

if ! start_kiln "$tmp/kiln.yml" "$tmp/db"; then
    not_ok "kiln starts and becomes ready"
    diag_file "$tmp/kiln.log" 40
    tap_done
fi
ok "kiln starts and becomes ready"
t0=$(date +%s)
if wait_until 30 all_down 67108864; then
    ok "all six bad targets are down within 30 s ($(($(date +%s) - t0)) s)"
else
    not_ok "all six bad targets are down for the right reasons within 30 s"
fi
report_modes 67108864 "first"

# Scrape for run_s seconds in all, checking health every second.
unhealthy=0
hwm_half=
while [ $(($(date +%s) - t0)) -lt $run_s ]; do
    if ! kill -0 "$kiln_pid" 2>/dev/null; then
        break
    fi
    if [ "$(kiln_get -/healthy "$tmp/h")" != 200 ]; then
        unhealthy=$((unhealthy + 1))
    fi
    if [ -z "$hwm_half" ] && [ $(($(date +%s) - t0)) -ge $((run_s / 2)) ]; then
        hwm_half=$(hwm_mb)
    fi
    sleep 1
done
if kill -0 "$kiln_pid" 2>/dev/null && [ "$unhealthy" = 0 ]; then
    ok "kiln runs and /-/healthy answers 200 throughout"
else
    not_ok "kiln runs and /-/healthy answers 200 throughout ($unhealthy failed)"
fi
if targets_json "$tmp/t.json"; then
    report_modes 67108864 "at the end"
else
    not_ok "/api/v1/targets answers at the end"
fi
good=$(jq -r '.data.activeTargets[] | select(.scrapePool == "good") |
    "\(.health) \(.lastError)"' "$tmp/t.json")
if [ "$good" = "up " ]; then
    ok "the good target is up at the end"
else
    not_ok "the good target is up at the end ($good)"
fi

hwm=$(hwm_mb)
diag "VmHWM: ${hwm_half:-?} MB after $((run_s / 2)) s, $hwm MB after $run_s s"
if [ -n "$hwm_half" ] && [ "$hwm" -le "$KILN_E2E_MAX_HWM_MB" ] &&
    [ "$hwm" -le $((hwm_half + 150)) ]; then
    ok "peak RSS bounded: $hwm MB <= $KILN_E2E_MAX_HWM_MB MB, +$((hwm - hwm_half)) MB in the second half"
else
    not_ok "peak RSS bounded ($hwm MB, ${hwm_half:-?} MB at half time; bound $KILN_E2E_MAX_HWM_MB MB, +150 MB)"
fi

if stop_kiln; then
    ok "SIGTERM: kiln exits 0"
else
    not_ok "SIGTERM: kiln exits 0"
    diag_file "$tmp/kiln.log" 40
fi
logged=
for m in $modes; do
    n=$(grep -c "msg=\"Scrape failed\" url=http://$(bad_addr "$m")/" "$tmp/kiln.log")
    [ "$n" = 1 ] || logged="$logged $m:$n"
done
if [ -z "$logged" ]; then
    ok "each bad target's failure is logged once"
else
    not_ok "each bad target's failure is logged once (mode:lines$logged)"
fi

# The good target's schedule: memory scrapes start every 2 s.
dump() { # dump SELECTOR OUT
    "$KILNCTL" tsdb dump "$tmp/db" --match="$1" >"$2" 2>"$tmp/dump.err"
}
if dump 'up{job="good",profile="memory"}' "$tmp/up.good"; then
    awk '{ print $2 }' "$tmp/up.good" | date -u -f - +%s.%N >"$tmp/t.good"
    if awk '{ if (NR > 1) { g = $1 - p
                  if (g > max) max = g; if (NR == 2 || g < min) min = g }
              p = $1 }
            END { printf "# %d memory scrapes, gaps from %.3f to %.3f s\n",
                      NR, min, max
                  exit !(NR >= 15 && min >= 1 && max <= 3) }' "$tmp/t.good"
    then
        ok "the good target keeps its 2 s schedule (no gap over 3 s)"
    else
        not_ok "the good target keeps its 2 s schedule (no gap over 3 s)"
        awk 'NR > 1 && $1 - p > 3 { printf "#   gap %.3f s before %s\n",
                 $1 - p, NR } { p = $1 }' "$tmp/t.good" | head -n 10
    fi
else
    not_ok "kilnctl tsdb dump of the good target's up series"
    diag_file "$tmp/dump.err"
fi
if dump 'up{job="good"}' "$tmp/up.goodall" && [ -s "$tmp/up.goodall" ] &&
    ! awk '$NF != 1' "$tmp/up.goodall" | grep -q .; then
    ok "every up sample of the good target is 1 ($(wc -l <"$tmp/up.goodall"))"
else
    not_ok "every up sample of the good target is 1"
    awk '$NF != 1' "$tmp/up.goodall" | head -n 10 | sed 's/^/#   /'
fi

# Nothing of the bad scrapes is stored, but their up series are.
if dump '{job="bad",__name__=~"memory:.*"}' "$tmp/bad.profiles" &&
    ! [ -s "$tmp/bad.profiles" ] &&
    dump '{job="good",__name__=~"memory:.*"}' "$tmp/good.profiles" &&
    [ -s "$tmp/good.profiles" ]; then
    ok "no profile of a bad target is stored (the good one's are)"
else
    not_ok "no profile of a bad target is stored (the good one's are)"
    diag_file "$tmp/bad.profiles"
    diag_file "$tmp/dump.err"
fi
for m in $modes; do
    dump "up{job=\"bad\",mode=\"$m\",profile=\"memory\"}" "$tmp/up.$m"
    n=$(wc -l <"$tmp/up.$m" | tr -d ' ')
    if [ "$n" -ge 5 ] && ! awk '$NF != 0' "$tmp/up.$m" | grep -q .; then
        ok "$m: $n up samples, all 0"
    else
        not_ok "$m: up samples, all 0 ($n)"
        awk '$NF != 0' "$tmp/up.$m" | head -n 5 | sed 's/^/#   /'
    fi
done

# A smaller body limit is the one reported. (start_kiln reads the address
# from the last "Listening on" line of kiln.log: start a new log.)
mv "$tmp/kiln.log" "$tmp/kiln.1.log"
if ! start_kiln "$tmp/kiln.yml" "$tmp/db2" --scrape.body-size-limit=1MB; then
    not_ok "kiln starts with --scrape.body-size-limit=1MB"
    diag_file "$tmp/kiln.log" 40
    tap_done
fi
huge_1mb() {
    targets_json "$tmp/t.json" &&
        reason_ok huge "$(bad_state huge | cut -f 2)" 1048576
}
if wait_until 30 huge_1mb; then
    ok "--scrape.body-size-limit=1MB: huge fails with \"$(bad_state huge | cut -f 2)\""
else
    not_ok "--scrape.body-size-limit=1MB: huge fails naming 1048576 bytes ($(bad_state huge))"
fi
if stop_kiln; then
    ok "SIGTERM: kiln exits 0 (second run)"
else
    not_ok "SIGTERM: kiln exits 0 (second run)"
fi
if cat "$tmp/kiln.1.log" "$tmp/kiln.log" >"$tmp/kiln.all.log" &&
    grep -Eq 'level=error|runtime error|Sanitizer' "$tmp/kiln.all.log"; then
    not_ok "kiln logged no error and no sanitizer report"
    grep -E -A10 'level=error|runtime error|Sanitizer' "$tmp/kiln.all.log" |
        head -30 | sed 's/^/# /'
else
    ok "kiln logged no error and no sanitizer report"
fi
tap_done
