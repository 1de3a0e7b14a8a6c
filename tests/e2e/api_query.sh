#!/bin/sh
# tests/e2e/api_query.sh: the Prometheus-shaped query API of a live kiln
# scraping the Go test program every second: /api/v1/series, /labels and
# /label/<name>/values (exact JSON), /api/v1/query (up, count(up), a CPU
# rate, a function's CPU share), /api/v1/query_range (matrix, points at
# the steps), GET and POST forms, Prometheus' errors and messages, that
# promtool (a Prometheus API client) reads every answer, and that
# `kilnctl query` prints them. Prints TAP.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/server_lib.sh"

if ! require_tools "$GO" jq curl promtool || ! require_kiln ||
    ! require_kilnctl; then
    tap_done
fi
server_tmpdir

if ! build_goapp "$tmp/bin" || ! start_goapp "$tmp/bin/goapp"; then
    not_ok "the Go test program starts"
    tap_done
fi
cat >"$tmp/kiln.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: goapp
    static_configs:
      - targets: ["$goapp_addr"]
EOF
if ! start_kiln "$tmp/kiln.yml" "$tmp/db"; then
    not_ok "kiln starts and becomes ready"
    diag_file "$tmp/kiln.log" 40
    tap_done
fi
ok "kiln starts and becomes ready"

# api GET|POST PATH OUT [--data-urlencode NAME=VALUE...]: the request,
# parameters in the URL (GET) or a form body (POST); prints the HTTP code.
api() {
    a_method=$1
    a_path=$2
    a_out=$3
    shift 3
    if [ "$a_method" = GET ]; then
        set -- -G "$@"
    fi
    rm -f "$a_out"
    curl -s --max-time 60 -o "$a_out" -w '%{http_code}' \
        "http://$kiln_addr/api/v1/$a_path" "$@"
}

# expect_json NAME FILE FILTER WANT: jq -c FILTER of FILE is WANT.
expect_json() {
    ej_got=$(jq -c "$3" "$2" 2>&1)
    if [ "$ej_got" = "$4" ]; then
        ok "$1"
    else
        not_ok "$1"
        diag "want: $(printf '%s' "$4" | cut -c1-300)"
        diag "got:  $(printf '%s' "$ej_got" | cut -c1-300)"
    fi
}

# expect_true NAME FILE FILTER: jq -e FILTER of FILE is true.
expect_true() {
    if jq -e "$3" "$2" >/dev/null 2>&1; then
        ok "$1"
    else
        not_ok "$1"
        diag_file "$2" 5
    fi
}

# expect_error NAME CODE MESSAGE PATH ARGS...: a GET answers CODE with
# errorType bad_data (or not_found for 404) and exactly MESSAGE.
expect_error() {
    ee_name=$1
    ee_code=$2
    ee_msg=$3
    ee_path=$4
    shift 4
    ee_got=$(api GET "$ee_path" "$tmp/err.json" "$@")
    ee_want=$(jq -cn --arg m "$ee_msg" \
        '{status: "error", errorType: "bad_data", error: $m}')
    if [ "$ee_got" = "$ee_code" ] &&
        [ "$(jq -c . "$tmp/err.json" 2>&1)" = "$ee_want" ]; then
        ok "$ee_name"
    else
        not_ok "$ee_name (HTTP $ee_got)"
        diag "want: $ee_want"
        diag_file "$tmp/err.json" 3
    fi
}

# Wait for data: the six `up` series, and CPU profiles enough for a rate.
has_data() {
    [ "$(api GET series "$tmp/w.json" --data-urlencode 'match[]=up')" = 200 ] &&
        [ "$(jq '.data | length' "$tmp/w.json")" = 6 ] &&
        [ "$(api GET query "$tmp/w.json" \
            --data-urlencode 'query=sum(rate(cpu[30s]))')" = 200 ] &&
        jq -e '.data.result[0].value[1] | tonumber > 0' "$tmp/w.json" \
            >/dev/null 2>&1
}
if wait_until 90 has_data; then
    ok "kiln has stored up and CPU profiles"
else
    not_ok "kiln has stored up and CPU profiles"
    diag_file "$tmp/w.json" 5
    diag_file "$tmp/kiln.log" 20
fi
# The range queries below start 15 s ago: let that be after every series
# had data.
data_at=$(date +%s)
while [ $(($(date +%s) - data_at)) -lt 16 ]; do
    sleep 1
done

# ---- /api/v1/series --------------------------------------------------------
up_series=$(for p in allocs block cpu goroutine memory mutex; do
    printf '{"__name__":"up","instance":"%s","job":"goapp","profile":"%s"}\n' \
        "$goapp_addr" "$p"
done | jq -cs .)
api GET series "$tmp/s.json" --data-urlencode 'match[]=up' >/dev/null
expect_json "series: match[]=up gives the six up series, sorted" \
    "$tmp/s.json" . "{\"status\":\"success\",\"data\":$up_series}"

code=$(api POST series "$tmp/s.json" --data-urlencode 'match[]=up{profile="cpu"}' \
    --data-urlencode 'match[]=goroutines')
expect_json "series: POST form, two match[] united and sorted (HTTP $code)" \
    "$tmp/s.json" .data \
    "[{\"__name__\":\"goroutine:goroutine:count:goroutine:count\",\"instance\":\"$goapp_addr\",\"job\":\"goapp\"},{\"__name__\":\"up\",\"instance\":\"$goapp_addr\",\"job\":\"goapp\",\"profile\":\"cpu\"}]"

api GET series "$tmp/s.json" \
    --data-urlencode 'match[]=cpu{__function__="main.hotA"}' >/dev/null
expect_json "series: a stack matcher keeps the profile series, unfiltered" \
    "$tmp/s.json" '[.data[].__name__]' \
    '["process_cpu:cpu:nanoseconds:cpu:nanoseconds"]'

api GET series "$tmp/s.json" --data-urlencode 'match[]=up' \
    --data-urlencode 'end=2020-01-01T00:00:00Z' >/dev/null
expect_json "series: nothing before the data" "$tmp/s.json" . \
    '{"status":"success","data":[]}'

api GET series "$tmp/s.json" --data-urlencode 'match[]=up' \
    --data-urlencode "start=$(($(date +%s) - 3600))" \
    --data-urlencode 'limit=2' >/dev/null
expect_json "series: start as Unix seconds, limit=2" "$tmp/s.json" \
    '[.data[].profile]' '["allocs","block"]'

# ---- /api/v1/labels and /api/v1/label/<name>/values ------------------------
api GET labels "$tmp/l.json" >/dev/null
expect_json "labels: every label name" "$tmp/l.json" . \
    '{"status":"success","data":["__name__","instance","job","profile"]}'
api POST labels "$tmp/l.json" --data-urlencode 'match[]=cpu' >/dev/null
expect_json "labels: POST with match[]=cpu" "$tmp/l.json" .data \
    '["__name__","instance","job"]'
api GET label/job/values "$tmp/l.json" >/dev/null
expect_json "label/job/values" "$tmp/l.json" . \
    '{"status":"success","data":["goapp"]}'
api GET label/profile/values "$tmp/l.json" --data-urlencode 'match[]=up' \
    >/dev/null
expect_json "label/profile/values with match[]=up" "$tmp/l.json" .data \
    '["allocs","block","cpu","goroutine","memory","mutex"]'
api GET label/__name__/values "$tmp/l.json" >/dev/null
expect_true "label/__name__/values: sorted, unique, up and cpu among them" \
    "$tmp/l.json" '.data == (.data | unique) and
        (.data | index("up")) != null and
        (.data | index("process_cpu:cpu:nanoseconds:cpu:nanoseconds")) != null'
api GET label/nosuch/values "$tmp/l.json" >/dev/null
expect_json "label/nosuch/values is empty" "$tmp/l.json" . \
    '{"status":"success","data":[]}'

# ---- Errors of the metadata endpoints ---------------------------------------
expect_error "series without match[]" 400 "no match[] parameter provided" series
expect_error "series: a selector of empty matchers" 400 \
    'invalid parameter "match[]": vector selector must contain at least one non-empty matcher' \
    series --data-urlencode 'match[]={job=~".*"}'
expect_error "labels: bad start" 400 \
    "invalid parameter \"start\": invalid time value for 'start': cannot parse \"abc\" to a valid timestamp" \
    labels --data-urlencode start=abc
expect_error "labels: negative limit" 400 \
    'invalid parameter "limit": limit must be non-negative' \
    labels --data-urlencode limit=-1
expect_error "label values: bad label name" 400 'invalid label name: "1x"' \
    label/1x/values
code=$(api GET series "$tmp/e.json" --data-urlencode 'match[]=up{')
expect_true "series: a selector that does not parse names the column (HTTP $code)" \
    "$tmp/e.json" '.errorType == "bad_data" and
        (.error | startswith("invalid parameter \"match[]\": 1:4: "))'
code=$(api GET label/job "$tmp/e.txt")
if [ "$code" = 404 ] && [ "$(cat "$tmp/e.txt")" = "404 page not found" ]; then
    ok "/api/v1/label/job (no /values) is 404"
else
    not_ok "/api/v1/label/job (no /values) is 404 (HTTP $code)"
fi

# ---- /api/v1/query ------------------------------------------------------------
api GET query "$tmp/q.json" --data-urlencode 'query=up' >/dev/null
expect_true "query up: a vector of the six up series, each 1" "$tmp/q.json" \
    '.status == "success" and .data.resultType == "vector" and
     ([.data.result[].metric.profile] ==
        ["allocs","block","cpu","goroutine","memory","mutex"]) and
     all(.data.result[]; .value[1] == "1" and .metric.job == "goapp")'
expect_true "query: Prometheus' shape (metric, value: [number, string])" \
    "$tmp/q.json" '(.data | keys) == ["result","resultType"] and
     all(.data.result[]; keys == ["metric","value"] and
         (.value | length) == 2 and (.value[0] | type) == "number" and
         (.value[1] | type) == "string")'

t=$(($(date +%s) - 5)).5
api GET query "$tmp/q.json" --data-urlencode 'query=count(up)' \
    --data-urlencode "time=$t" >/dev/null
expect_json "query count(up) at a time with a fraction" "$tmp/q.json" . \
    "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[$t,\"6\"]}]}}"
rfc=$(date -u -d "@$(($(date +%s) - 5))" +%Y-%m-%dT%H:%M:%SZ)
api POST query "$tmp/q.json" --data-urlencode 'query=count(up)' \
    --data-urlencode "time=$rfc" >/dev/null
expect_json "query: POST form, time in RFC 3339" "$tmp/q.json" \
    '.data.result[0].value' "[$(date -u -d "$rfc" +%s),\"6\"]"

api GET query "$tmp/q.json" \
    --data-urlencode 'query=sum(rate(cpu[30s]))' >/dev/null
expect_true "query sum(rate(cpu[30s])) is positive (CPU-ns per second)" \
    "$tmp/q.json" '.data.result | length == 1 and
        (.[0].value[1] | tonumber) > 0'
diag "sum(rate(cpu[30s])) = $(jq -r '.data.result[0].value[1]' "$tmp/q.json")"

share='sum by (job, __function__) (rate(cpu{__function__="main.hotA"}[30s]))
  / ignoring (__function__) group_left
sum by (job) (rate(cpu[30s]))'
api GET query "$tmp/q.json" --data-urlencode "query=$share" >/dev/null
expect_true "query: CPU share of main.hotA is between 0 and 1" "$tmp/q.json" \
    '.data.result | length == 1 and
     .[0].metric == {"__function__": "main.hotA", "job": "goapp"} and
     (.[0].value[1] | tonumber) > 0 and (.[0].value[1] | tonumber) < 1'
diag "CPU share of main.hotA = $(jq -r '.data.result[0].value[1]' "$tmp/q.json")"

api GET query "$tmp/q.json" --data-urlencode 'query=1+1' \
    --data-urlencode 'time=100' >/dev/null
expect_json "query: a scalar" "$tmp/q.json" . \
    '{"status":"success","data":{"resultType":"scalar","result":[100,"2"]}}'
api GET query "$tmp/q.json" --data-urlencode 'query="kiln"' \
    --data-urlencode 'time=100' >/dev/null
expect_json "query: a string" "$tmp/q.json" .data \
    '{"resultType":"string","result":[100,"kiln"]}'

# ---- /api/v1/query_range --------------------------------------------------------
s=$(($(date +%s) - 15))
api GET query_range "$tmp/r.json" --data-urlencode 'query=count(up)' \
    --data-urlencode "start=$s" --data-urlencode "end=$((s + 10))" \
    --data-urlencode 'step=2s' >/dev/null
expect_json "query_range count(up): a matrix with a point per step" \
    "$tmp/r.json" . \
    "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},\"values\":[[$s,\"6\"],[$((s + 2)),\"6\"],[$((s + 4)),\"6\"],[$((s + 6)),\"6\"],[$((s + 8)),\"6\"],[$((s + 10)),\"6\"]]}]}}"

api POST query_range "$tmp/r.json" \
    --data-urlencode 'query=sum(rate(cpu[10s]))' \
    --data-urlencode "start=$s" --data-urlencode "end=$((s + 10))" \
    --data-urlencode 'step=2.5' >/dev/null
expect_true "query_range: POST, float step, values at start + k*2.5 s, CPU rate positive" \
    "$tmp/r.json" ".data.resultType == \"matrix\" and
     (.data.result | length) == 1 and
     ([.data.result[0].values[][0]] ==
        [$s, $s + 2.5, $s + 5, $s + 7.5, $s + 10]) and
     all(.data.result[0].values[]; (.[1] | type) == \"string\" and
         (.[1] | tonumber) > 0) and
     (.data.result[0] | keys) == [\"metric\",\"values\"]"

api GET query_range "$tmp/r.json" --data-urlencode 'query=vector(1)' \
    --data-urlencode 'start=0' --data-urlencode 'end=11000' \
    --data-urlencode 'step=1' >/dev/null
expect_json "query_range: 11,000 steps past the start are allowed" \
    "$tmp/r.json" '.data.result[0].values | length' 11001

# ---- Errors of the query endpoints ----------------------------------------------
expect_error "query: bad time" 400 \
    "invalid parameter \"time\": invalid time value for 'time': cannot parse \"x\" to a valid timestamp" \
    query --data-urlencode query=up --data-urlencode time=x
expect_error "query: bad timeout" 400 \
    'invalid parameter "timeout": cannot parse "abc" to a valid duration' \
    query --data-urlencode query=up --data-urlencode timeout=abc
code=$(api GET query "$tmp/e.json" --data-urlencode 'query=sum(')
expect_true "query: a parse error names the query parameter and the column (HTTP $code)" \
    "$tmp/e.json" '.status == "error" and .errorType == "bad_data" and
        (.error | startswith("invalid parameter \"query\": 1:5: "))'
expect_error "query_range: missing start" 400 \
    'invalid parameter "start": cannot parse "" to a valid timestamp' \
    query_range --data-urlencode query=up
expect_error "query_range: end before start" 400 \
    'end timestamp must not be before start time' \
    query_range --data-urlencode query=up --data-urlencode start=10 \
    --data-urlencode end=5 --data-urlencode step=1
expect_error "query_range: bad step" 400 \
    'invalid parameter "step": cannot parse "abc" to a valid duration' \
    query_range --data-urlencode query=up --data-urlencode start=1 \
    --data-urlencode end=5 --data-urlencode step=abc
for step in 0 -1 0s; do
    expect_error "query_range: step=$step" 400 \
        'zero or negative query resolution step widths are not accepted. Try a positive integer' \
        query_range --data-urlencode query=up --data-urlencode start=1 \
        --data-urlencode end=5 --data-urlencode "step=$step"
done
expect_error "query_range: more than 11,000 points" 400 \
    'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)' \
    query_range --data-urlencode query=up --data-urlencode start=0 \
    --data-urlencode end=11001 --data-urlencode step=1
code=$(api GET query_range "$tmp/e.json" --data-urlencode 'query=up[1m]' \
    --data-urlencode start=1 --data-urlencode end=5 --data-urlencode step=1)
expect_true "query_range: a range vector expression is bad_data (HTTP $code)" \
    "$tmp/e.json" '.errorType == "bad_data" and
        (.error | startswith("invalid parameter \"query\": "))'

# ---- A Prometheus API client: promtool (client_golang) --------------------------
srv=http://$kiln_addr
if promtool query instant "$srv" 'count(up)' >"$tmp/p.out" 2>&1 &&
    grep -Eq '^\{\} => 6 @\[[0-9.]+\]$' "$tmp/p.out"; then
    ok "promtool query instant reads count(up)"
else
    not_ok "promtool query instant reads count(up)"
    diag_file "$tmp/p.out"
fi
if promtool query range --start="$s" --end="$((s + 4))" --step=2s "$srv" \
    'count(up)' >"$tmp/p.out" 2>&1 &&
    [ "$(grep -c "^6 @\[" "$tmp/p.out")" = 3 ] &&
    grep -q "^6 @\[$((s + 4))\]" "$tmp/p.out"; then
    ok "promtool query range reads the matrix"
else
    not_ok "promtool query range reads the matrix"
    diag_file "$tmp/p.out"
fi
if promtool query series --match=up "$srv" >"$tmp/p.out" 2>&1 &&
    [ "$(grep -c '__name__="up"' "$tmp/p.out")" = 6 ]; then
    ok "promtool query series reads the series"
else
    not_ok "promtool query series reads the series"
    diag_file "$tmp/p.out"
fi
if promtool query labels "$srv" job >"$tmp/p.out" 2>&1 &&
    [ "$(cat "$tmp/p.out")" = goapp ]; then
    ok "promtool query labels reads the label values"
else
    not_ok "promtool query labels reads the label values"
    diag_file "$tmp/p.out"
fi
if ! promtool query instant "$srv" 'sum(' >"$tmp/p.out" 2>&1 &&
    grep -q 'bad_data: invalid parameter "query": 1:5' "$tmp/p.out"; then
    ok "promtool reports kiln's bad_data error"
else
    not_ok "promtool reports kiln's bad_data error"
    diag_file "$tmp/p.out"
fi

# ---- kilnctl query ----------------------------------------------------------------
if "$KILNCTL" query --server="$srv" 'count(up)' >"$tmp/k.out" 2>"$tmp/k.err" &&
    [ "$(sed 's/  */ /g' "$tmp/k.out")" = "$(printf 'METRIC VALUE\n{} 6')" ]; then
    ok "kilnctl query prints a table"
else
    not_ok "kilnctl query prints a table"
    diag_file "$tmp/k.out"
    diag_file "$tmp/k.err"
fi
if "$KILNCTL" query --server="$kiln_addr" 'up' --time="$t" --format=json \
    >"$tmp/k.json" 2>"$tmp/k.err"; then
    expect_true "kilnctl query --format=json prints the server's JSON" \
        "$tmp/k.json" "(.data.result | length) == 6 and
            all(.data.result[]; .value[0] == $t)"
else
    not_ok "kilnctl query --format=json prints the server's JSON"
    diag_file "$tmp/k.err"
fi
t0=$(date -u -d "@$s" +%Y-%m-%dT%H:%M:%S.000Z)
t1=$(date -u -d "@$((s + 2))" +%Y-%m-%dT%H:%M:%S.000Z)
if "$KILNCTL" query range --server="$srv" 'count(up)' --start="$s" \
    --end="$((s + 2))" --step=2s >"$tmp/k.out" 2>"$tmp/k.err" &&
    [ "$(cat "$tmp/k.out")" = "$(printf '{}\n  %s  6\n  %s  6' "$t0" "$t1")" ]; then
    ok "kilnctl query range prints a block per series"
else
    not_ok "kilnctl query range prints a block per series"
    diag_file "$tmp/k.out"
    diag_file "$tmp/k.err"
fi
"$KILNCTL" query --server="$srv" 'sum(' >"$tmp/k.out" 2>"$tmp/k.err"
rc=$?
if [ $rc = 1 ] && grep -q 'bad_data.*invalid parameter "query": 1:5' "$tmp/k.err"; then
    ok "kilnctl query: a bad query exits 1 with the server's message"
else
    not_ok "kilnctl query: a bad query exits 1 with the server's message (rc $rc)"
    diag_file "$tmp/k.err"
fi
"$KILNCTL" query range --server="$srv" up --start=1 >"$tmp/k.out" 2>"$tmp/k.err"
rc=$?
if [ $rc = 2 ]; then
    ok "kilnctl query range without --end and --step is a usage error"
else
    not_ok "kilnctl query range without --end and --step is a usage error (rc $rc)"
fi

# Last, as a failure here may take the server down: nothing in range.
api GET query_range "$tmp/r.json" --data-urlencode 'query=up' \
    --data-urlencode 'start=0' --data-urlencode 'end=10' \
    --data-urlencode 'step=1' >/dev/null
expect_json "query_range over a time without data: an empty matrix" \
    "$tmp/r.json" . '{"status":"success","data":{"resultType":"matrix","result":[]}}'

if stop_kiln; then
    ok "SIGTERM: kiln exits 0"
else
    not_ok "SIGTERM: kiln exits 0"
    diag_file "$tmp/kiln.log" 40
fi
"$KILNCTL" query --server="$srv" up >"$tmp/k.out" 2>"$tmp/k.err"
rc=$?
if [ $rc = 1 ] && grep -q "^kilnctl: $srv/api/v1/query: " "$tmp/k.err"; then
    ok "kilnctl query: a server that is gone exits 1"
else
    not_ok "kilnctl query: a server that is gone exits 1 (rc $rc)"
    diag_file "$tmp/k.err"
fi
if grep -Eq 'level=error|runtime error|Sanitizer' "$tmp/kiln.log"; then
    not_ok "kiln logged no error and no sanitizer report"
    grep -E -A10 'level=error|runtime error|Sanitizer' "$tmp/kiln.log" |
        head -30 | sed 's/^/# /'
else
    ok "kiln logged no error and no sanitizer report"
fi
tap_done
