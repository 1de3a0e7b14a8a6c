#!/bin/sh
# tests/e2e/query_share.sh: the CPU share of a known hot function, as Kiln's
# query language computes it from scraped profiles, against the share the
# program measures inside itself. Kiln scrapes the demo service (under its
# own --load, CPU profiles only, 10 s windows) for 12 windows (2 minutes);
# the query
#     sum(increase(cpu{job="demo",__function__=~"count_primes.*"}[R]))
#       / sum(increase(cpu{job="demo"}[R]))
# over those windows must come within 5 percentage points of
# Δcount_primes_cpu_seconds / Δprocess_cpu_seconds over the same windows,
# read from the service's /stats (thread and process CPU clocks). The
# measured share must also be above 0.3 (--load spends most of its CPU in
# count_primes), so the comparison means something, and the queried values
# must equal those of the stored profiles merged by kilnctl (so a gap is
# the profiles' own, not the query's). Prints TAP.
#
# Alignment: a CPU profile covers the 10 s window before its time stamp
# (the request's start plus its duration, see docs/scraping.md), so the
# windows are only known once stored. The test reads /stats about twice a
# second from before kiln starts; each read carries the service's own wall
# clock. Once 13 windows are stored, their ends e0 < e1 < ... < e12 come
# from the query cpu{job="demo"}[10m]; the query is evaluated at e12 over
# a range R that reaches back past e1 but not to e0 (so it takes exactly
# the profiles ending at e1..e12), and the measured share sums, over each
# of those windows [ek - 10 s, ek], the /stats counters interpolated
# linearly at both ends. Windows tile time (server_scrape.sh checks it),
# so both sides cover the same 2 minutes to within the reads' spacing.
#
# The demo service is built here without sanitizers (the exporter as
# tests/exporter/build.sh's `plain`, demo.c with cc -O2), whatever the
# build tree's flags: under ASan the service's CPU goes to a storm of
# short interceptor bursts, and the exporter's per-thread CPU timers,
# which the kernel fires on clock ticks, credit such bursts unevenly
# (5-6 points of bias measured, against 3.5 without ASan; docs/exporter.md
# says what the timers see). kiln itself runs as built.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/server_lib.sh"

if ! require_tools jq curl awk || ! require_kiln || ! require_kilnctl; then
    tap_done
fi
server_tmpdir
if ! sh "$top_srcdir/tests/exporter/build.sh" plain "$tmp/exp" \
    >"$tmp/build.log" 2>&1 ||
    ! ${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -g -fno-omit-frame-pointer \
        -I"$top_srcdir/include" -o "$tmp/demo-service" \
        "$top_srcdir/examples/demo-service/demo.c" -L"$tmp/exp" \
        -lkiln-exporter -Wl,-rpath,"$tmp/exp" \
        $(pkg-config --cflags --libs libmicrohttpd) -lpthread \
        >>"$tmp/build.log" 2>&1; then
    not_ok "build the demo service without sanitizers"
    diag_file "$tmp/build.log"
    tap_done
fi
demo=$tmp/demo-service
demo_pid=
poller_pid=
trap 'kill $poller_pid $demo_pid 2>/dev/null; server_cleanup' EXIT

interval=10 # the scrape interval and CPU window, in seconds
windows=12  # windows compared: 2 minutes

# free_port N: a free loopback port below the ephemeral range (curl exits
# 7 when nothing listens there).
free_port() {
    fp=$((22000 + ($$ * 7 + $1 * 131) % 10000))
    while :; do
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$fp/"
        [ $? -eq 7 ] && break
        fp=$((fp + 1))
    done
    echo "$fp"
}
demo_http=$(free_port 1)
demo_pprof=$(free_port 2)
[ "$demo_pprof" = "$demo_http" ] && demo_pprof=$((demo_http + 1))
"$demo" "127.0.0.1:$demo_http" "127.0.0.1:$demo_pprof" --load \
    >"$tmp/demo.log" 2>&1 &
demo_pid=$!
stats_url=http://127.0.0.1:$demo_http/stats
if ! wait_until 30 curl -sf -o /dev/null "$stats_url"; then
    not_ok "the demo service starts and serves /stats"
    diag_file "$tmp/demo.log"
    tap_done
fi
ok "the demo service starts and serves /stats"

# The poller: one line "TIME COUNT_PRIMES_CPU PROCESS_CPU" (seconds) per
# read of /stats into $tmp/stats, until the test ends.
(
    while :; do
        curl -s --max-time 30 "$stats_url" |
            awk '{ v[$1] = $2 }
                 END { if ("time_seconds" in v)
                           print v["time_seconds"],
                                 v["count_primes_cpu_seconds"],
                                 v["process_cpu_seconds"] }' \
                >>"$tmp/stats"
        sleep 0.5
    done
) &
poller_pid=$!
has_stats() {
    [ -s "$tmp/stats" ]
}
wait_until 30 has_stats

cat >"$tmp/kiln.yml" <<EOF
global:
  scrape_interval: ${interval}s
scrape_configs:
  - job_name: demo
    profiling:
      memory: {enabled: false}
      allocs: {enabled: false}
      mutex: {enabled: false}
      block: {enabled: false}
      goroutine: {enabled: false}
    static_configs:
      - targets: ["127.0.0.1:$demo_pprof"]
EOF
if ! start_kiln "$tmp/kiln.yml" "$tmp/db"; then
    not_ok "kiln starts and becomes ready"
    diag_file "$tmp/kiln.log" 40
    tap_done
fi
ok "kiln starts and becomes ready"

# query OUT EXPR [TIME]: /api/v1/query into OUT; true when it answered 200
# with status success.
query() {
    q_out=$1
    shift
    q_code=$(curl -s --max-time 60 -o "$q_out" -w '%{http_code}' -G \
        "http://$kiln_addr/api/v1/query" --data-urlencode "query=$1" \
        ${2:+--data-urlencode "time=$2"})
    [ "$q_code" = 200 ] && [ "$(jq -r .status "$q_out" 2>/dev/null)" = success ]
}

# The ends of the stored CPU windows, oldest first, one a line, into
# $tmp/ends; true once there are windows + 1 of them.
enough_windows() {
    kill -0 "$demo_pid" 2>/dev/null || return 1
    query "$tmp/m.json" 'cpu{job="demo"}[10m]' &&
        jq -r '[.data.result[].values[][0]] | unique | .[]' "$tmp/m.json" \
            >"$tmp/ends" &&
        [ "$(wc -l <"$tmp/ends")" -gt "$windows" ]
}
# 13 windows take 130 s; allow for a loaded machine.
if wait_until 400 enough_windows; then
    ok "kiln stored $((windows + 1)) CPU windows of the demo service"
else
    not_ok "kiln stored $((windows + 1)) CPU windows of the demo service"
    diag_file "$tmp/m.json"
    diag_file "$tmp/kiln.log" 40
    tap_done
fi
e0=$(sed -n 1p "$tmp/ends")
end=$(sed -n "$((windows + 1))p" "$tmp/ends")
# R in milliseconds: half a window short of end - e0, so the profile
# ending at e0 stays out whether the range's start is open or closed.
range=$(awk -v a="$e0" -v b="$end" -v i="$interval" \
    'BEGIN { printf "%d", (b - a - i / 2) * 1000 }')ms
diag "windows ending at $(tr '\n' ' ' <"$tmp/ends")"
diag "query at $end over [$range]"

# The poller must have read /stats after the last window ended.
stats_past_end() {
    awk -v e="$end" '$1 > e { found = 1 } END { exit !found }' "$tmp/stats"
}
wait_until 60 stats_past_end
kill "$poller_pid" 2>/dev/null
wait "$poller_pid" 2>/dev/null
poller_pid=

# The measured share: over each window [ek - interval, ek] of the profiles
# the query takes, the /stats counters interpolated at both ends.
sed -n "2,$((windows + 1))p" "$tmp/ends" >"$tmp/used"
if awk -v i="$interval" '
    NR == FNR { t[NR] = $1; p[NR] = $2; c[NR] = $3; n = NR; next }
    # at X COLUMN: the counter (p or c) interpolated at time X.
    function at(x, col,    k, f) {
        if (x < t[1] || x > t[n]) { bad = 1; return 0 }
        for (k = 1; k < n && t[k + 1] < x; k++)
            ;
        f = (t[k + 1] > t[k]) ? (x - t[k]) / (t[k + 1] - t[k]) : 0
        return col == "p" ? p[k] + f * (p[k + 1] - p[k]) \
                          : c[k] + f * (c[k + 1] - c[k])
    }
    { dp += at($1, "p") - at($1 - i, "p"); dc += at($1, "c") - at($1 - i, "c") }
    END {
        if (bad || dc <= 0) {
            printf "# /stats reads from %s to %s do not cover the windows\n",
                t[1], t[n]
            exit 1
        }
        printf "%.6f %.6f %.6f\n", dp / dc, dp, dc
    }' "$tmp/stats" "$tmp/used" >"$tmp/measured"; then
    read -r measured m_primes m_process <"$tmp/measured"
    reads=$(wc -l <"$tmp/stats")
    ok "the service measured its CPU over the windows ($reads reads of /stats)"
else
    not_ok "the service measured its CPU over the windows"
    diag_file "$tmp/measured"
    diag_file "$tmp/stats" 5
    tap_done
fi
diag "measured: count_primes $m_primes s of $m_process s process CPU," \
    "share $measured"

# value OUT: the single value of an instant vector answer, or nothing.
value() {
    jq -r 'if (.data.result | length) == 1 then .data.result[0].value[1]
           else empty end' "$1"
}
sel_f='cpu{job="demo",__function__=~"count_primes.*"}'
sel_all='cpu{job="demo"}'
share_q="sum(increase(${sel_f}[$range])) / sum(increase(${sel_all}[$range]))"
if query "$tmp/f.json" "sum(increase(${sel_f}[$range]))" "$end" &&
    query "$tmp/a.json" "sum(increase(${sel_all}[$range]))" "$end" &&
    query "$tmp/s.json" "$share_q" "$end" &&
    q_f=$(value "$tmp/f.json") && q_all=$(value "$tmp/a.json") &&
    share=$(value "$tmp/s.json") && [ -n "$share" ] && [ -n "$q_all" ]; then
    ok "query: $share_q"
else
    not_ok "query: $share_q"
    diag_file "$tmp/s.json"
    diag_file "$tmp/a.json"
    tap_done
fi
diag "$(awk -v f="$q_f" -v a="$q_all" -v s="$share" 'BEGIN {
    printf "queried: count_primes %.3f s of %.3f s profiled CPU, share %s", \
        f / 1e9, a / 1e9, s }')"

if awk -v m="$measured" 'BEGIN { exit !(m > 0.3) }'; then
    ok "the measured share of count_primes is above 0.3 ($measured)"
else
    not_ok "the measured share of count_primes is above 0.3 ($measured)"
fi
if awk -v m="$measured" -v s="$share" 'BEGIN {
        d = s - m; if (d < 0) d = -d; exit !(d <= 0.05) }'; then
    ok "queried share $share is within 0.05 of measured share $measured"
else
    not_ok "queried share $share is within 0.05 of measured share $measured"
fi

if kill -0 "$demo_pid" 2>/dev/null; then
    ok "the demo service is still running"
else
    not_ok "the demo service is still running"
    diag_file "$tmp/demo.log" 30
fi
if stop_kiln; then
    ok "SIGTERM: kiln exits 0"
else
    not_ok "SIGTERM: kiln exits 0"
    diag_file "$tmp/kiln.log" 40
fi

# The query against the stored profiles it read: the merge of the same 12
# windows, by kilnctl, has the same count_primes (cum) and total. So any
# gap between the queried and the measured share is the profiles' own.
if "$KILNCTL" tsdb dump "$tmp/db" --match="$sel_all" \
    --start="$(sed -n 2p "$tmp/ends")" --end="$end" -o "$tmp/win.pb.gz" \
    2>"$tmp/err" &&
    "$KILNCTL" pprof top -s cpu --format=json "$tmp/win.pb.gz" \
        >"$tmp/win.json" 2>>"$tmp/err" &&
    jq -r '[.total, ([.rows[] | select(.name | test("^count_primes")) |
             .cum] | add)] | @tsv' "$tmp/win.json" >"$tmp/win.tsv" &&
    read -r p_all p_f <"$tmp/win.tsv" &&
    awk -v a="$q_all" -v f="$q_f" -v pa="$p_all" -v pf="$p_f" 'BEGIN {
        exit !(pa > 0 && (a - pa) ^ 2 <= (pa * 1e-9) ^ 2 &&
               (f - pf) ^ 2 <= (pf * 1e-9) ^ 2) }'; then
    ok "the stored profiles of those windows merge to the queried values"
else
    not_ok "the stored profiles of those windows merge to the queried values"
    diag "query: $q_f of $q_all; merged profiles: ${p_f:-?} of ${p_all:-?}"
    diag_file "$tmp/err"
fi
if grep -Eq 'level=error|runtime error|Sanitizer' "$tmp/kiln.log" \
    "$tmp/demo.log"; then
    not_ok "kiln and the demo service logged no error and no sanitizer report"
    grep -E -A10 'level=error|runtime error|Sanitizer' "$tmp/kiln.log" \
        "$tmp/demo.log" | head -30 | sed 's/^/# /'
else
    ok "kiln and the demo service logged no error and no sanitizer report"
fi
tap_done
