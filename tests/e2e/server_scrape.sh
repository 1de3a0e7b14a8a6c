#!/bin/sh
# tests/e2e/server_scrape.sh: kiln scrapes two real targets for 60 s at a
# 5 s interval: the Go test program (net/http/pprof) and the exporter kit's
# demo service (libkiln-exporter, under load). While it runs: both targets
# are up in /api/v1/targets with every profile type, /-/healthy and
# /-/ready answer, /metrics passes `promtool check metrics` and a real
# Prometheus scrapes it. After a SIGTERM (exit 0), the database read with
# kilnctl holds: CPU windows that tile time (no gap or overlap over 1 s),
# merged CPU profiles naming each program's hot functions (judged by
# `go tool pprof` too), delta allocation profiles each covering about one
# interval, gauges, and `up` = 1. Prints TAP.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/server_lib.sh"

if ! require_tools "$GO" jq curl promtool prometheus || ! require_kiln ||
    ! require_kilnctl; then
    tap_done
fi
server_tmpdir
demo=$top_builddir/examples/demo-service/demo-service
prom_pid=
demo_pid=
trap 'kill $prom_pid $demo_pid 2>/dev/null; server_cleanup' EXIT

if ! build_goapp "$tmp/bin" || ! start_goapp "$tmp/bin/goapp"; then
    not_ok "the Go test program starts"
    tap_done
fi

# A free loopback port: nothing answers on it.
free_port() {
    fp=$((22000 + ($$ * 7 + $1 * 131) % 10000)) # below the ephemeral range
    # curl exits 7 when nothing listens; anything else means taken.
    while curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$fp/"; [ $? -ne 7 ]; do
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
if ! wait_until 20 curl -sf -o /dev/null \
    "http://127.0.0.1:$demo_pprof/debug/pprof/"; then
    not_ok "the demo service starts"
    diag_file "$tmp/demo.log"
    tap_done
fi

cat >"$tmp/kiln.yml" <<EOF
global:
  scrape_interval: 5s
scrape_configs:
  - job_name: goapp
    static_configs:
      - targets: ["$goapp_addr"]
  - job_name: demo
    profiling:
      block: {enabled: false}
      goroutine: {enabled: false}
      threads: {enabled: true}
    static_configs:
      - targets: ["127.0.0.1:$demo_pprof"]
        labels: {env: test}
EOF
db=$tmp/db
# At most 2 sample label sets per target and type: the demo's threads
# profile labels each thread's sample with its name (more than 2).
if ! start_kiln "$tmp/kiln.yml" "$db" --scrape.sample-label-sets=2; then
    not_ok "kiln starts and becomes ready"
    diag_file "$tmp/kiln.log" 40
    tap_done
fi
started=$(date +%s)
ok "kiln starts and becomes ready"

code=$(kiln_get -/healthy "$tmp/healthy")
if [ "$code" = 200 ] && grep -q 'Kiln is Healthy' "$tmp/healthy"; then
    ok "/-/healthy answers 200"
else
    not_ok "/-/healthy answers 200 (got $code)"
fi

# Every profile type of both targets is up (the first CPU window takes 5 s).
all_up() {
    targets_json "$tmp/targets.json" &&
        [ "$(jq '[.data.activeTargets[] | select(.health == "up")] | length' \
            "$tmp/targets.json")" = 2 ] &&
        [ "$(jq '[.data.activeTargets[].profiles[] |
                  select(.health != "up")] | length' "$tmp/targets.json")" = 0 ]
}
if wait_until 40 all_up; then
    ok "both targets and all their profile types are up"
else
    not_ok "both targets and all their profile types are up"
    diag_file "$tmp/targets.json" 60
fi
n=$(jq '[.data.activeTargets[] | select(.scrapePool == "goapp") |
         .profiles[].name] | join(",")' "$tmp/targets.json")
if [ "$n" = '"cpu,memory,allocs,mutex,block,goroutine"' ]; then
    ok "the Go target is scraped for the six default profile types"
else
    not_ok "the Go target is scraped for the six default profile types ($n)"
fi
url=$(jq -r '.data.activeTargets[] | select(.scrapePool == "demo") |
             .profiles[] | select(.name == "cpu") | .scrapeUrl' \
    "$tmp/targets.json")
if [ "$url" = "http://127.0.0.1:$demo_pprof/debug/pprof/profile?seconds=5" ]; then
    ok "CPU is fetched with ?seconds=<interval>"
else
    not_ok "CPU is fetched with ?seconds=<interval> ($url)"
fi
lbl=$(jq -c '.data.activeTargets[] | select(.scrapePool == "demo") | .labels' \
    "$tmp/targets.json")
if [ "$lbl" = "{\"env\":\"test\",\"instance\":\"127.0.0.1:$demo_pprof\",\"job\":\"demo\"}" ]; then
    ok "target labels: job, instance and the static labels"
else
    not_ok "target labels: job, instance and the static labels ($lbl)"
fi

# /metrics: Prometheus' text format, lint-clean, with Kiln's own metrics.
kiln_get metrics "$tmp/metrics" >/dev/null
if promtool check metrics <"$tmp/metrics" >"$tmp/promtool.out" 2>&1; then
    ok "promtool check metrics accepts /metrics"
else
    not_ok "promtool check metrics accepts /metrics"
    diag_file "$tmp/promtool.out"
fi
for m in kiln_scrapes_total kiln_scrape_duration_seconds_bucket \
    kiln_scrape_body_bytes_total kiln_tsdb_head_series \
    kiln_tsdb_wal_fsync_seconds_total kiln_config_last_reload_successful \
    process_cpu_seconds_total; do
    if grep -q "^$m" "$tmp/metrics"; then
        ok "/metrics has $m"
    else
        not_ok "/metrics has $m"
    fi
done

# A real Prometheus scrapes kiln.
prom_port=$(free_port 3)
cat >"$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: kiln
    static_configs:
      - targets: ["$kiln_addr"]
EOF
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/prom" \
    --web.listen-address="127.0.0.1:$prom_port" >"$tmp/prom.log" 2>&1 &
prom_pid=$!
prom_sees_kiln() {
    curl -s --max-time 5 -o "$tmp/prom.json" \
        "http://127.0.0.1:$prom_port/api/v1/query?query=kiln_scrape_targets" &&
        [ "$(jq -r '.data.result[0].value[1]' "$tmp/prom.json" 2>/dev/null)" = 2 ]
}
if wait_until 60 prom_sees_kiln; then
    ok "Prometheus scrapes kiln's /metrics (kiln_scrape_targets = 2)"
else
    not_ok "Prometheus scrapes kiln's /metrics"
    diag_file "$tmp/prom.json"
    diag_file "$tmp/prom.log" 20
fi
kill "$prom_pid" 2>/dev/null
wait "$prom_pid" 2>/dev/null
prom_pid=

# Let kiln scrape for 60 s in all.
while [ $(($(date +%s) - started)) -lt 60 ]; do
    sleep 1
done
if kill -0 "$demo_pid" 2>/dev/null; then
    ok "the demo service (its exporter sampled for 60 s) is still running"
else
    not_ok "the demo service (its exporter sampled for 60 s) is still running"
    grep -A12 'ERROR' "$tmp/demo.log" | head -20 | sed 's/^/# /'
fi
if stop_kiln; then
    ok "SIGTERM: kiln exits 0"
else
    not_ok "SIGTERM: kiln exits 0"
    diag_file "$tmp/kiln.log" 40
fi
if grep -Eq 'level=error|runtime error|Sanitizer' "$tmp/kiln.log"; then
    not_ok "kiln logged no error and no sanitizer report"
    grep -E -A10 'level=error|runtime error|Sanitizer' "$tmp/kiln.log" |
        head -30 | sed 's/^/# /'
else
    ok "kiln logged no error and no sanitizer report"
fi

# to_seconds ISO: Unix seconds with fractions.
to_seconds() {
    date -u -d "$1" +%s.%N
}

# tiles JOB: the CPU windows of JOB tile time: t - duration of each window
# is within 1 s of the previous window's t.
tiles() {
    "$KILNCTL" tsdb dump "$db" --match="cpu{job=\"$1\"}" >"$tmp/cpu.$1" \
        2>"$tmp/err" || return 1
    : >"$tmp/win.$1"
    while read -r _ ts dur _; do
        end=$(to_seconds "$ts")
        d=${dur#duration=}
        d=${d%s}
        echo "$end $d" >>"$tmp/win.$1"
    done <"$tmp/cpu.$1"
    awk -v job="$1" '
        { end = $1; start = $1 - $2
          if (NR > 1) {
              gap = start - prev
              if (gap > 1 || gap < -1) { printf "# gap %.3f s before window %d\n", gap, NR; bad = 1 }
              if (gap > maxgap) maxgap = gap
              if (gap < mingap) mingap = gap
          }
          prev = end }
        END { printf "# %s: %d windows, gaps from %.3f to %.3f s\n", job, NR, mingap, maxgap
              exit (bad || NR < 9) }' "$tmp/win.$1"
}
for job in goapp demo; do
    if tiles "$job"; then
        ok "$job: stored CPU windows tile time (gaps and overlaps under 1 s)"
    else
        not_ok "$job: stored CPU windows tile time"
        diag_file "$tmp/cpu.$job" 20
        diag_file "$tmp/err"
    fi
done

# The merged CPU profiles name the hot functions, by kilnctl and by go.
if "$KILNCTL" tsdb dump "$db" --match='cpu{job="goapp"}' -o "$tmp/goapp.pb.gz" &&
    $GO tool pprof -top "$tmp/goapp.pb.gz" >"$tmp/goapp.top" 2>&1; then
    a=$(awk '$NF == "main.hotA" { print $1 }' "$tmp/goapp.top" | sed 's/ms$//;s/s$//')
    b=$(awk '$NF == "main.hotB" { print $1 }' "$tmp/goapp.top" | sed 's/ms$//;s/s$//')
    if [ -n "$a" ] && [ -n "$b" ]; then
        ok "goapp: merged CPU names main.hotA and main.hotB (go tool pprof)"
    else
        not_ok "goapp: merged CPU names main.hotA and main.hotB"
        diag_file "$tmp/goapp.top" 20
    fi
else
    not_ok "goapp: merged CPU profile readable by go tool pprof"
    diag_file "$tmp/goapp.top"
fi
if "$KILNCTL" tsdb dump "$db" --match='cpu{job="demo",env="test"}' \
    -o "$tmp/demo.pb.gz" &&
    "$KILNCTL" pprof top "$tmp/demo.pb.gz" >"$tmp/demo.top" 2>&1 &&
    grep -q 'count_primes' "$tmp/demo.top"; then
    ok "demo: merged CPU names count_primes"
else
    not_ok "demo: merged CPU names count_primes"
    diag_file "$tmp/demo.top" 20
fi

# Cumulative endpoints are stored as deltas of about one interval each.
"$KILNCTL" tsdb dump "$db" --match='alloc_space{job="goapp"}' \
    >"$tmp/allocs" 2>&1
if awk '{ d = $3; sub(/^duration=/, "", d); sub(/s$/, "", d)
          if (d < 3.5 || d > 7.5) { bad = 1; print "# " $0 } }
        END { exit (bad || NR < 8) }' "$tmp/allocs"; then
    ok "goapp: alloc_space deltas cover one 5 s interval each ($(wc -l <"$tmp/allocs") stored)"
else
    not_ok "goapp: alloc_space deltas cover one 5 s interval each"
    diag_file "$tmp/allocs" 20
fi
for s in 'inuse_space{job="goapp"}' 'goroutines{job="goapp"}' \
    'mutex_contentions{job="goapp"}' 'inuse_space{job="demo"}' \
    'threads{job="demo"}'; do
    n=$("$KILNCTL" tsdb dump "$db" --match="$s" 2>/dev/null | wc -l)
    if [ "$n" -ge 5 ]; then
        ok "stored: $s ($n profiles)"
    else
        not_ok "stored: $s ($n profiles)"
    fi
done
# Sample labels: the demo's thread names became series labels, two sets
# of them, and the rest were folded into the series without the label.
"$KILNCTL" tsdb dump "$db" --match='threads{job="demo"}' >"$tmp/threads" 2>&1
labeled=$(sed 's/} .*/}/' "$tmp/threads" | sort -u | grep -c 'thread="')
plain=$(sed 's/} .*/}/' "$tmp/threads" | sort -u | grep -vc 'thread="')
folded=$(awk '$1 == "kiln_scrape_sample_label_sets_folded_total" { print $2 }' \
    "$tmp/metrics")
if [ "$labeled" = 2 ] && [ "$plain" = 1 ] && [ "${folded:-0}" != 0 ]; then
    ok "sample labels: 2 thread-labeled series, 1 folded series ($folded sets folded)"
else
    not_ok "sample labels: 2 labeled series and 1 folded ($labeled, $plain, folded=$folded)"
    sed 's/} .*/}/' "$tmp/threads" | sort -u | head -10 | sed 's/^/# /'
fi
"$KILNCTL" tsdb dump "$db" --match='up{job="goapp",profile="cpu"}' \
    >"$tmp/up" 2>&1
if [ "$(wc -l <"$tmp/up")" -ge 9 ] && ! awk '$NF != 1' "$tmp/up" | grep -q .; then
    ok "up{profile=\"cpu\"} is 1 at every scrape"
else
    not_ok "up{profile=\"cpu\"} is 1 at every scrape"
    diag_file "$tmp/up"
fi
tap_done
