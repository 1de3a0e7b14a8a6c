#!/bin/sh
# tests/e2e/api_profile.sh: /api/v1/profile and /api/v1/diff of a running
# kiln, judged by go tool pprof and by the database's own merge.
#
# kiln scrapes two targets every 2 s: the Go test program (live CPU work in
# main.hotA and main.hotB) and a static server that answers every request
# with one raw CPU profile R fetched from the Go program beforehand, so
# each stored "static" profile is exactly R. Over a fixed window:
#  - static: /api/v1/profile?format=pprof equals `go tool pprof -proto`
#    merging R once per stored profile (flat and cum per function, total);
#  - goapp: the API's pprof opens in go tool pprof and names main.hotA and
#    main.hotB; the JSON tree's total equals go's total, every node's
#    total is its self plus its children's (also with max_nodes folding);
#    collapsed stacks sum to the total; the SVG is well-formed XML naming
#    main.hotA; the focus filter __function__=~"main.hotA" gives exactly
#    hotA's cum and only stacks through it, __leaf__ exactly its flat;
#  - diff of the window's two halves carries both sides' values, equal to
#    the profile endpoint's totals of each half;
#  - bad parameters are 400 bad_data, no data an empty tree;
#  - kilnctl profile writes the same pprof, and an SVG;
#  - after kiln stops, `kilnctl tsdb dump -o` over the same window equals
#    the API's pprof (flat per function).
# Prints TAP.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/server_lib.sh"

if ! require_tools "$GO" jq curl || ! require_kiln || ! require_kilnctl; then
    tap_done
fi
server_tmpdir
static_pid=
trap 'kill $static_pid 2>/dev/null; server_cleanup' EXIT

if ! build_goapp "$tmp/bin" || ! start_goapp "$tmp/bin/goapp"; then
    not_ok "the Go test program starts"
    tap_done
fi
# R: one raw CPU profile, fetched before kiln scrapes (Go serves one CPU
# profile at a time).
mkdir -p "$tmp/static"
if ! fetch "debug/pprof/profile?seconds=2" "$tmp/R.pb.gz"; then
    not_ok "a raw CPU profile is fetched from the Go program"
    tap_done
fi
cat >"$tmp/static/main.go" <<'EOF'
// A server that answers every request with the file named by its argument.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Println("listening on", ln.Addr().String())
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(data)
	}))
}
EOF
(cd "$tmp/static" && "$GO" build -o "$tmp/bin/static" main.go) \
    >"$tmp/static.build" 2>&1
"$tmp/bin/static" "$tmp/R.pb.gz" >"$tmp/static.out" 2>&1 &
static_pid=$!
static_addr=
wait_static() {
    static_addr=$(sed -n 's/^listening on //p' "$tmp/static.out")
    [ -n "$static_addr" ]
}
if ! wait_until 20 wait_static; then
    not_ok "the static profile server starts"
    diag_file "$tmp/static.build"
    tap_done
fi

cat >"$tmp/kiln.yml" <<EOF
global:
  scrape_interval: 2s
scrape_configs:
  - job_name: goapp
    static_configs:
      - targets: ["$goapp_addr"]
  - job_name: static
    profiling:
      memory: {enabled: false}
      allocs: {enabled: false}
      mutex: {enabled: false}
      block: {enabled: false}
      goroutine: {enabled: false}
    static_configs:
      - targets: ["$static_addr"]
EOF
db=$tmp/db
start_s=$(($(date +%s) - 60))
if ! start_kiln "$tmp/kiln.yml" "$db"; then
    not_ok "kiln starts and becomes ready"
    diag_file "$tmp/kiln.log" 40
    tap_done
fi
ok "kiln starts and becomes ready"

# api PATH OUT [curl args...]: GET /api/v1/PATH with url-encoded
# parameters (--data-urlencode name=value); the HTTP status is the output,
# the content type in OUT.type.
api() {
    a_path=$1
    a_out=$2
    shift 2
    curl -s -G --max-time 60 -o "$a_out" \
        -w '%{http_code}\n%{content_type}' "http://$kiln_addr/api/v1/$a_path" \
        "$@" >"$a_out.meta"
    sed -n 2p "$a_out.meta" >"$a_out.type"
    sed -n 1p "$a_out.meta"
}

# Windows end a few seconds before they are fixed, so that scrapes that
# end later fall outside them and their content is final.
settle=6
# profiles_from JOB N FROM: N CPU profiles of JOB end in [FROM, now -
# settle]; that end is left in $poll_end.
profiles_from() {
    poll_end=$(($(date +%s) - settle))
    [ "$(api profile "$tmp/count.json" --data-urlencode \
        "query=cpu{job=\"$1\"}" --data-urlencode "start=$3" \
        --data-urlencode "end=$poll_end")" = 200 ] &&
        [ "$(jq .data.profiles "$tmp/count.json")" -ge "$2" ]
}
# The window [start_s, end_s], split at mid_s for the diff: at least 3
# goapp profiles on each side, 6 static ones in all.
if wait_until 120 profiles_from goapp 3 "$start_s" &&
    mid_s=$poll_end && wait_until 120 profiles_from goapp 3 $((mid_s + 1)) &&
    wait_until 60 profiles_from static 6 "$start_s"; then
    ok "kiln stored 6 CPU profiles of each target"
else
    not_ok "kiln stored 6 CPU profiles of each target"
    diag_file "$tmp/count.json"
    diag_file "$tmp/kiln.log" 20
fi
end_s=$poll_end
win="--data-urlencode start=$start_s --data-urlencode end=$end_s"

# 1. static: the API's merge equals go tool pprof merging R N times.
# shellcheck disable=SC2086
api profile "$tmp/static.json" $win \
    --data-urlencode 'query=cpu{job="static"}' >/dev/null
n=$(jq -r .data.profiles "$tmp/static.json")
# shellcheck disable=SC2086
code=$(api profile "$tmp/static.pb.gz" $win --data-urlencode format=pprof \
    --data-urlencode 'query=cpu{job="static"}')
files=
i=0
while [ "$i" -lt "${n:-0}" ]; do
    files="$files $tmp/R.pb.gz"
    i=$((i + 1))
done
# shellcheck disable=SC2086
if [ "$code" = 200 ] && [ "$n" -ge 6 ] &&
    "$GO" tool pprof -proto $files >"$tmp/expect.pb.gz" 2>"$tmp/expect.err" &&
    go_top "$tmp/expect.pb.gz" cpu nanoseconds "$tmp/expect.top" &&
    go_top "$tmp/static.pb.gz" cpu nanoseconds "$tmp/static.top"; then
    by_name 2 "$tmp/expect.top" >"$tmp/e.flat"
    by_name 2 "$tmp/static.top" >"$tmp/s.flat"
    by_name 3 "$tmp/expect.top" >"$tmp/e.cum"
    by_name 3 "$tmp/static.top" >"$tmp/s.cum"
    if compare_cols "$tmp/s.flat" "$tmp/e.flat" api go &&
        compare_cols "$tmp/s.cum" "$tmp/e.cum" api go &&
        [ "$(cat "$tmp/static.top.total")" = "$(cat "$tmp/expect.top.total")" ]; then
        ok "static: API pprof = go tool pprof -proto of R x $n (flat, cum, total $(cat "$tmp/expect.top.total") ns)"
    else
        not_ok "static: API pprof = go tool pprof -proto of R x $n"
    fi
    if [ "$(jq .data.total "$tmp/static.json")" = "$(cat "$tmp/expect.top.total")" ]; then
        ok "static: JSON total = go's total"
    else
        not_ok "static: JSON total = go's total ($(jq .data.total "$tmp/static.json"))"
    fi
else
    not_ok "static: API pprof and go tool pprof -proto of R x $n"
    diag "HTTP $code"
    diag_file "$tmp/expect.err"
    diag_file "$tmp/static.top.err"
fi

# 2. goapp: pprof, json, collapsed, svg.
# shellcheck disable=SC2086
code=$(api profile "$tmp/goapp.pb.gz" $win --data-urlencode format=pprof \
    --data-urlencode 'query=cpu{job="goapp"}')
ctype=$(cat "$tmp/goapp.pb.gz.type")
if [ "$code" = 200 ] && [ "$ctype" = application/octet-stream ] &&
    go_top "$tmp/goapp.pb.gz" cpu nanoseconds "$tmp/goapp.top" &&
    grep -q '^main\.hotA	' "$tmp/goapp.top" &&
    grep -q '^main\.hotB	' "$tmp/goapp.top"; then
    ok "goapp: go tool pprof opens the API's pprof and shows main.hotA, main.hotB"
else
    not_ok "goapp: go tool pprof opens the API's pprof and shows main.hotA, main.hotB"
    diag "HTTP $code, $ctype"
    diag_file "$tmp/goapp.top.err"
fi
total=$(cat "$tmp/goapp.top.total" 2>/dev/null)
flat_a=$(awk -F '\t' '$1 == "main.hotA" { print $2 }' "$tmp/goapp.top")
cum_a=$(awk -F '\t' '$1 == "main.hotA" { print $3 }' "$tmp/goapp.top")

# tree_ok FILE: every node's total is its self plus its children's.
tree_ok() {
    [ "$(jq '[.data.tree | .. | objects | select(has("children")) |
              select(.total != .self + ([.children[].total] | add // 0))] |
             length' "$1")" = 0 ]
}
# shellcheck disable=SC2086
code=$(api profile "$tmp/goapp.json" $win \
    --data-urlencode 'query=cpu{job="goapp"}')
if [ "$code" = 200 ] && [ "$(jq -r .status "$tmp/goapp.json")" = success ] &&
    [ "$(jq .data.total "$tmp/goapp.json")" = "$total" ] &&
    [ "$(jq .data.tree.total "$tmp/goapp.json")" = "$total" ] &&
    [ "$(jq -r .data.type "$tmp/goapp.json")" = \
        process_cpu:cpu:nanoseconds:cpu:nanoseconds ] &&
    [ "$(jq -r .data.unit "$tmp/goapp.json")" = nanoseconds ] &&
    [ "$(jq .data.series "$tmp/goapp.json")" = 1 ] &&
    tree_ok "$tmp/goapp.json"; then
    ok "goapp: JSON tree total = go's total ($total ns), exact at every node"
else
    not_ok "goapp: JSON tree total = go's total ($total ns), exact at every node"
    diag "HTTP $code, json total $(jq .data.total "$tmp/goapp.json")"
fi
# shellcheck disable=SC2086
api profile "$tmp/small.json" $win --data-urlencode max_nodes=10 \
    --data-urlencode 'query=cpu{job="goapp"}' >/dev/null
real=$(jq '[.data.tree | .. | objects | select(has("children")) |
            select(.other != true)] | length' "$tmp/small.json")
others=$(jq '[.data.tree | .. | objects | select(.other == true)] | length' \
    "$tmp/small.json")
if [ "$real" -le 10 ] && [ "$others" -ge 1 ] &&
    [ "$(jq .data.total "$tmp/small.json")" = "$total" ] &&
    tree_ok "$tmp/small.json"; then
    ok "goapp: max_nodes=10 keeps $real nodes and $others \"other\" nodes, totals exact"
else
    not_ok "goapp: max_nodes=10 ($real nodes, $others other)"
fi
# shellcheck disable=SC2086
code=$(api profile "$tmp/goapp.txt" $win --data-urlencode format=collapsed \
    --data-urlencode 'query=cpu{job="goapp"}')
sum=$(awk '{ s += $NF } END { printf "%.0f", s }' "$tmp/goapp.txt")
if [ "$code" = 200 ] && [ "$sum" = "$total" ] &&
    grep -q '^main.cpuWorker;main.hotA ' "$tmp/goapp.txt"; then
    ok "goapp: collapsed stacks sum to the total"
else
    not_ok "goapp: collapsed stacks sum to the total ($sum)"
    diag_file "$tmp/goapp.txt" 5
fi

# well_formed FILE: xmllint when installed, else balanced tags.
well_formed() {
    if command -v xmllint >/dev/null 2>&1; then
        xmllint --noout "$1" 2>"$1.err"
    else
        head -c 5 "$1" | grep -q '<?xml' && tail -n 1 "$1" | grep -q '^</svg>$' &&
            [ "$(grep -o '<g>' "$1" | wc -l)" = "$(grep -o '</g>' "$1" | wc -l)" ]
    fi
}
# shellcheck disable=SC2086
code=$(api profile "$tmp/goapp.svg" $win --data-urlencode format=svg \
    --data-urlencode 'query=cpu{job="goapp"}')
ctype=$(cat "$tmp/goapp.svg.type")
if [ "$code" = 200 ] && [ "$ctype" = image/svg+xml ] &&
    well_formed "$tmp/goapp.svg" && grep -q '<title>main\.hotA: ' "$tmp/goapp.svg"; then
    ok "goapp: SVG is well-formed XML with a main.hotA frame"
else
    not_ok "goapp: SVG is well-formed XML with a main.hotA frame"
    diag "HTTP $code, $ctype"
    diag_file "$tmp/goapp.svg.err"
fi

# Concurrent requests (handlers run on one thread each) agree.
i=0
pids=
while [ $i -lt 6 ]; do
    # shellcheck disable=SC2086
    api profile "$tmp/par.$i.json" $win \
        --data-urlencode 'query=cpu{job="goapp"}' >/dev/null &
    pids="$pids $!"
    i=$((i + 1))
done
# shellcheck disable=SC2086
wait $pids
same=0
for f in "$tmp"/par.*.json; do
    cmp -s "$f" "$tmp/goapp.json" && same=$((same + 1))
done
if [ "$same" = 6 ]; then
    ok "6 concurrent requests give the same tree"
else
    not_ok "6 concurrent requests give the same tree ($same of 6)"
fi

# 3. Focus filters.
# shellcheck disable=SC2086
code=$(api profile "$tmp/focus.pb.gz" $win --data-urlencode format=pprof \
    --data-urlencode 'query=cpu{job="goapp",__function__=~"main.hotA"}')
if [ "$code" = 200 ] && [ -n "$cum_a" ] &&
    go_top "$tmp/focus.pb.gz" cpu nanoseconds "$tmp/focus.top" &&
    [ "$(cat "$tmp/focus.top.total")" = "$cum_a" ] &&
    ! grep -q '^main\.hotB	' "$tmp/focus.top"; then
    ok "__function__=~\"main.hotA\": total = hotA's cum ($cum_a ns), no hotB"
else
    not_ok "__function__=~\"main.hotA\": total = hotA's cum ($cum_a ns), no hotB"
    diag "HTTP $code, total $(cat "$tmp/focus.top.total" 2>/dev/null)"
fi
# shellcheck disable=SC2086
api profile "$tmp/focus.txt" $win --data-urlencode format=collapsed \
    --data-urlencode 'query=cpu{job="goapp",__function__=~"main.hotA"}' \
    >/dev/null
if [ -s "$tmp/focus.txt" ] && ! grep -v 'main\.hotA' "$tmp/focus.txt" | grep -q .; then
    ok "__function__: every stack kept passes through main.hotA"
else
    not_ok "__function__: every stack kept passes through main.hotA"
    grep -v 'main\.hotA' "$tmp/focus.txt" | head -3 | sed 's/^/# /'
fi
# shellcheck disable=SC2086
code=$(api profile "$tmp/leaf.json" $win \
    --data-urlencode 'query=cpu{job="goapp",__leaf__="main.hotA"}')
if [ "$code" = 200 ] && [ -n "$flat_a" ] &&
    [ "$(jq .data.total "$tmp/leaf.json")" = "$flat_a" ]; then
    ok "__leaf__=\"main.hotA\": total = hotA's flat ($flat_a ns)"
else
    not_ok "__leaf__=\"main.hotA\": total = hotA's flat ($flat_a ns)"
    diag "HTTP $code, total $(jq .data.total "$tmp/leaf.json")"
fi

# 4. Diff of the window's halves.
half_total() {
    api profile "$tmp/half.json" --data-urlencode "start=$1" \
        --data-urlencode "end=$2" \
        --data-urlencode 'query=cpu{job="goapp"}' >/dev/null &&
        jq .data.total "$tmp/half.json"
}
t1=$(half_total "$start_s" "$mid_s")
t2=$(half_total "$((mid_s + 1))" "$end_s")
code=$(api diff "$tmp/diff.json" --data-urlencode 'base=cpu{job="goapp"}' \
    --data-urlencode "base_start=$start_s" --data-urlencode "base_end=$mid_s" \
    --data-urlencode "compare_start=$((mid_s + 1))" \
    --data-urlencode "compare_end=$end_s")
hot=$(jq -c '[.data.tree | .. | objects | select(.name? == "main.hotA")][0] |
             [.base.total, .compare.total]' "$tmp/diff.json" 2>/dev/null)
if [ "$code" = 200 ] && [ "$t1" -gt 0 ] && [ "$t2" -gt 0 ] &&
    [ "$(jq .data.base.total "$tmp/diff.json")" = "$t1" ] &&
    [ "$(jq .data.compare.total "$tmp/diff.json")" = "$t2" ] &&
    [ "$(jq .data.tree.base.total "$tmp/diff.json")" = "$t1" ] &&
    [ "$(jq .data.tree.compare.total_share "$tmp/diff.json")" = 1 ] &&
    jq -e '[.data.tree | .. | objects | select(.name? == "main.hotA")][0] |
           .base.total > 0 and .compare.total > 0 and
           .base.total_share > 0 and .compare.total_share < 1' \
        "$tmp/diff.json" >/dev/null; then
    ok "diff: both halves' totals ($t1, $t2) and main.hotA on both sides $hot"
else
    not_ok "diff: both halves' totals ($t1, $t2) and main.hotA on both sides"
    diag "HTTP $code: $(head -c 300 "$tmp/diff.json")"
fi
code=$(api diff "$tmp/diff.svg" --data-urlencode 'base=cpu{job="goapp"}' \
    --data-urlencode "base_start=$start_s" --data-urlencode "base_end=$mid_s" \
    --data-urlencode "compare_start=$((mid_s + 1))" \
    --data-urlencode "compare_end=$end_s" --data-urlencode format=svg)
if [ "$code" = 200 ] && well_formed "$tmp/diff.svg" &&
    grep -q 'change of total share' "$tmp/diff.svg"; then
    ok "diff: SVG is well-formed XML"
else
    not_ok "diff: SVG is well-formed XML"
    diag_file "$tmp/diff.svg.err"
fi

# 5. Errors and no data.
# bad NAME EXPECT PATH ARGS...: a 400 bad_data whose message has EXPECT.
bad() {
    b_name=$1
    b_expect=$2
    b_path=$3
    shift 3
    b_code=$(api "$b_path" "$tmp/bad.json" "$@")
    if [ "$b_code" = 400 ] && [ "$(jq -r .errorType "$tmp/bad.json")" = bad_data ] &&
        jq -r .error "$tmp/bad.json" | grep -q -- "$b_expect"; then
        ok "400 bad_data: $b_name"
    else
        not_ok "400 bad_data: $b_name (HTTP $b_code)"
        diag_file "$tmp/bad.json"
    fi
}
bad "no query" 'missing parameter "query"' profile
bad "a bad selector" 'invalid parameter "query": 1:' profile \
    --data-urlencode 'query=cpu{job='
bad "profile types mixed" 'more than one type' profile \
    --data-urlencode 'query={job="goapp"}'
bad "only stack matchers" '__function__' profile \
    --data-urlencode 'query={__function__=~"main.*"}'
bad "a bad regex" 'invalid parameter "query"' profile \
    --data-urlencode 'query=cpu{__function__=~"(("}'
bad "an unknown format" 'format' profile --data-urlencode format=png \
    --data-urlencode 'query=cpu'
bad "max_nodes=0" 'max_nodes' profile --data-urlencode max_nodes=0 \
    --data-urlencode 'query=cpu'
bad "a bad time" 'invalid parameter "start"' profile \
    --data-urlencode start=yesterday --data-urlencode 'query=cpu'
bad "end before start" 'end timestamp must not be before start' profile \
    --data-urlencode start=2000 --data-urlencode end=1000 \
    --data-urlencode 'query=cpu'
bad "diff: no base" 'missing parameter "base"' diff
bad "diff: types differ" 'different profile types' diff \
    --data-urlencode 'base=cpu{job="goapp"}' \
    --data-urlencode 'compare=inuse_space{job="goapp"}'
bad "diff: format pprof" 'format' diff --data-urlencode format=pprof \
    --data-urlencode 'base=cpu'
code=$(api profile "$tmp/none.json" --data-urlencode 'query=cpu{job="none"}')
if [ "$code" = 200 ] &&
    [ "$(jq -c '[.data.total, .data.series, .data.profiles, .data.type,
                 .data.tree.children]' "$tmp/none.json")" = \
        '[0,0,0,"process_cpu:cpu:nanoseconds:cpu:nanoseconds",[]]' ]; then
    ok "no data: 200 with an empty tree"
else
    not_ok "no data: 200 with an empty tree (HTTP $code)"
    diag_file "$tmp/none.json"
fi
code=$(api profile "$tmp/none.pb.gz" --data-urlencode 'query=cpu{job="none"}' \
    --data-urlencode format=pprof)
if [ "$code" = 200 ] &&
    "$GO" tool pprof -raw "$tmp/none.pb.gz" >"$tmp/none.raw" 2>&1 &&
    grep -q 'cpu/nanoseconds' "$tmp/none.raw"; then
    ok "no data: an empty pprof of the selected type"
else
    not_ok "no data: an empty pprof of the selected type (HTTP $code)"
    diag_file "$tmp/none.raw"
fi
code=$(curl -s -o "$tmp/post.json" -w '%{http_code}' --max-time 60 \
    --data-urlencode 'query=cpu{job="goapp"}' \
    --data-urlencode "start=$start_s" --data-urlencode "end=$end_s" \
    "http://$kiln_addr/api/v1/profile")
if [ "$code" = 200 ] && [ "$(jq .data.total "$tmp/post.json")" = "$total" ]; then
    ok "POST with a form gives the same profile"
else
    not_ok "POST with a form gives the same profile (HTTP $code)"
fi

# 6. kilnctl profile.
if "$KILNCTL" profile --server="http://$kiln_addr" 'cpu{job="goapp"}' \
    --start="$start_s" --end="$end_s" -o "$tmp/ctl.pb.gz" 2>"$tmp/ctl.err" &&
    go_top "$tmp/ctl.pb.gz" cpu nanoseconds "$tmp/ctl.top" &&
    cmp -s "$tmp/ctl.top" "$tmp/goapp.top"; then
    ok "kilnctl profile -o out.pb.gz: the API's profile"
else
    not_ok "kilnctl profile -o out.pb.gz: the API's profile"
    diag_file "$tmp/ctl.err"
fi
if "$KILNCTL" profile --server="http://$kiln_addr" 'cpu{job="goapp"}' \
    --start="$start_s" --end="$end_s" -o "$tmp/ctl.svg" 2>"$tmp/ctl.err" &&
    well_formed "$tmp/ctl.svg" && grep -q 'main\.hotA' "$tmp/ctl.svg"; then
    ok "kilnctl profile -o out.svg: a flame graph"
else
    not_ok "kilnctl profile -o out.svg: a flame graph"
    diag_file "$tmp/ctl.err"
fi
"$KILNCTL" profile --server="http://$kiln_addr" 'cpu{job="goapp"}' \
    --start="$start_s" --end="$end_s" >"$tmp/ctl.txt" 2>"$tmp/ctl.err"
rc=$?
if [ "$rc" = 0 ] && cmp -s "$tmp/ctl.txt" "$tmp/goapp.txt"; then
    ok "kilnctl profile to stdout: the API's collapsed stacks"
else
    not_ok "kilnctl profile to stdout: the API's collapsed stacks (rc $rc)"
    diag_file "$tmp/ctl.err"
fi
"$KILNCTL" profile --server="http://$kiln_addr" --start=yesterday cpu \
    >/dev/null 2>"$tmp/ctl.err"
rc=$?
if [ "$rc" = 2 ] && grep -q -- '--start' "$tmp/ctl.err"; then
    ok "kilnctl profile: a bad time is a usage error (exit 2)"
else
    not_ok "kilnctl profile: a bad time is a usage error (rc $rc)"
    diag_file "$tmp/ctl.err"
fi
"$KILNCTL" profile --server="http://$kiln_addr" 'cpu{job=' \
    -o "$tmp/ctl.bad.pb.gz" >/dev/null 2>"$tmp/ctl.err"
rc=$?
if [ "$rc" = 1 ] && grep -q 'bad_data' "$tmp/ctl.err" &&
    [ ! -e "$tmp/ctl.bad.pb.gz" ]; then
    ok "kilnctl profile: a server error exits 1 with its message, no file"
else
    not_ok "kilnctl profile: a server error exits 1 with its message (rc $rc)"
    diag_file "$tmp/ctl.err"
fi

# 7. The database's own merge, read after kiln stops.
if stop_kiln; then
    ok "SIGTERM: kiln exits 0"
else
    not_ok "SIGTERM: kiln exits 0"
fi
if grep -Eq 'level=error|runtime error|Sanitizer' "$tmp/kiln.log"; then
    not_ok "kiln logged no error and no sanitizer report"
    grep -E -A10 'level=error|runtime error|Sanitizer' "$tmp/kiln.log" |
        head -30 | sed 's/^/# /'
else
    ok "kiln logged no error and no sanitizer report"
fi
if "$KILNCTL" tsdb dump "$db" --match='cpu{job="goapp"}' --start="$start_s" \
    --end="$end_s" -o "$tmp/dump.pb.gz" 2>"$tmp/dump.err" &&
    go_top "$tmp/dump.pb.gz" cpu nanoseconds "$tmp/dump.top"; then
    by_name 2 "$tmp/dump.top" >"$tmp/d.flat"
    by_name 2 "$tmp/goapp.top" >"$tmp/g.flat"
    if compare_cols "$tmp/g.flat" "$tmp/d.flat" api dump &&
        [ "$(cat "$tmp/dump.top.total")" = "$total" ]; then
        ok "goapp: API pprof = kilnctl tsdb dump -o of the window (flat per function)"
    else
        not_ok "goapp: API pprof = kilnctl tsdb dump -o of the window"
    fi
else
    not_ok "goapp: kilnctl tsdb dump -o of the window"
    diag_file "$tmp/dump.err"
fi
tap_done
