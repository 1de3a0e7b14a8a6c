#!/bin/sh
# tests/e2e/server_crash.sh: kill -9 of kiln while it scrapes loses nothing
# that it had acknowledged. kiln scrapes the Go test program every second
# (all six default profile types). Three rounds: once every profile type
# is up with a scrape started at least 2, 3.35 or 4.7 s into the round (so
# that rounds end at varying points of the scrape and commit cycle, and
# cumulative types have stored a delta), record each type's lastScrape from
# /api/v1/targets (a scrape's start: its `up` sample is written at that
# time); wait 1 s (kiln commits appended scrapes to its WAL within 200 ms);
# kill -9; restart kiln on the same storage: it must become ready (WAL
# replay of a torn tail does not refuse to start) and scrape again. At the
# end, after a SIGTERM (exit 0), `kilnctl tsdb dump` must hold, for every
# recorded (profile type, lastScrape): the `up` sample 1 at exactly that
# time (the API and dump print the same RFC 3339 millisecond form, which is
# checked too), the memory, allocs, mutex, block and goroutine profiles
# taken then, and the CPU window that started then (so CPU profiles from
# every round). Prints TAP.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/server_lib.sh"

if ! require_tools "$GO" jq curl || ! require_kiln || ! require_kilnctl; then
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
db=$tmp/db
n_logs=0

# start: start kiln on $db with a log of its own (start_kiln reads the
# address from the last "Listening on" line of $tmp/kiln.log).
start() {
    if [ -f "$tmp/kiln.log" ]; then
        n_logs=$((n_logs + 1))
        mv "$tmp/kiln.log" "$tmp/kiln.$n_logs.log"
    fi
    start_kiln "$tmp/kiln.yml" "$db"
}

# all_up_since MS: every profile type of the target is up with a
# lastScrape at or after MS (Unix milliseconds); $tmp/t.json holds the
# targets.
all_up_since() {
    targets_json "$tmp/t.json" &&
        [ "$(jq --argjson ms "$1" '
            def ms: (sub("\\.[0-9]+Z$"; "Z") | fromdate) * 1000 +
                ((capture("\\.(?<f>[0-9]{3})Z$") | .f | tonumber) // 0);
            [.data.activeTargets[].profiles[] |
                select(.health != "up" or (.lastScrape | ms) < $ms)] |
            length' "$tmp/t.json")" = 0 ] &&
        [ "$(jq '.data.activeTargets[0].profiles | length' "$tmp/t.json")" = 6 ]
}

now_ms() {
    echo $(($(date +%s%N) / 1000000))
}

if ! start; then
    not_ok "kiln starts and becomes ready"
    diag_file "$tmp/kiln.log" 40
    tap_done
fi
ok "kiln starts and becomes ready"

: >"$tmp/acked"
round=1
for run_ms in 2000 3350 4700; do
    since=$(now_ms)
    if ! wait_until 30 all_up_since $((since + run_ms)); then
        not_ok "round $round: every profile type is scraped and up"
        diag_file "$tmp/t.json" 40
        break
    fi
    jq -r --arg r "$round" '.data.activeTargets[].profiles[] |
        select(.health == "up") | "\($r) \(.name) \(.lastScrape)"' \
        "$tmp/t.json" >>"$tmp/acked"
    sleep 1
    kill9_kiln
    if start; then
        ok "round $round: kill -9 of kiln, which restarts and becomes ready"
    else
        not_ok "round $round: after kill -9, kiln restarts and becomes ready"
        diag_file "$tmp/kiln.log" 40
        tap_done
    fi
    diag "$(sed -n 's/.*msg="\(opened .*\)"$/\1/p' "$tmp/kiln.log" | sed 's/^opened [^:]*: //')"
    round=$((round + 1))
done
since=$(now_ms)
if wait_until 30 all_up_since "$since"; then
    ok "after the last restart every profile type is scraped again"
else
    not_ok "after the last restart every profile type is scraped again"
    diag_file "$tmp/t.json" 40
fi
if stop_kiln; then
    ok "SIGTERM: kiln exits 0"
else
    not_ok "SIGTERM: kiln exits 0"
    diag_file "$tmp/kiln.log" 40
fi
if cat "$tmp"/kiln.*log >"$tmp/all.log" &&
    grep -Eq 'level=error|runtime error|Sanitizer' "$tmp/all.log"; then
    not_ok "kiln logged no error and no sanitizer report"
    grep -E -A10 'level=error|runtime error|Sanitizer' "$tmp/all.log" |
        head -30 | sed 's/^/# /'
else
    ok "kiln logged no error and no sanitizer report"
fi

n_acked=$(wc -l <"$tmp/acked" | tr -d ' ')
if [ "$n_acked" -ge 18 ]; then
    ok "$n_acked scrapes acknowledged in 3 rounds"
else
    not_ok "scrapes acknowledged in 3 rounds ($n_acked, want 18)"
fi

# dump SELECTOR OUT
dump() {
    "$KILNCTL" tsdb dump "$db" --match="$1" >"$2" 2>"$tmp/dump.err" || {
        diag_file "$tmp/dump.err"
        return 1
    }
}

# Every acknowledged scrape has its up sample, 1, at exactly its time.
dump 'up{job="goapp"}' "$tmp/up"
sed -n 's/.*profile="\([^"]*\)".* \([^ ]*\) \([^ ]*\)$/\1 \2 \3/p' "$tmp/up" \
    >"$tmp/up.kv"
form='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
if [ -s "$tmp/up.kv" ] &&
    ! cut -d ' ' -f 3 "$tmp/acked" | grep -Evq "^$form\$" &&
    ! cut -d ' ' -f 2 "$tmp/up.kv" | grep -Evq "^$form\$"; then
    ok "API lastScrape and dump times have the same form ($(sed -n '1s/^[^ ]* [^ ]* //p' "$tmp/acked"))"
else
    not_ok "API lastScrape and dump times have the same RFC 3339 millisecond form"
    diag_file "$tmp/acked" 3
    diag_file "$tmp/up.kv" 3
fi
missing=$(awk 'NR == FNR { v[$1 " " $2] = $3; next }
    { k = $2 " " $3; if (!(k in v) || v[k] != 1)
          printf "round %s %s at %s: %s; ", $1, $2, $3,
              (k in v) ? "up=" v[k] : "missing" }' "$tmp/up.kv" "$tmp/acked")
if [ -s "$tmp/up.kv" ] && [ -z "$missing" ]; then
    ok "every acknowledged scrape has its up sample 1 at exactly its time ($(wc -l <"$tmp/up.kv") up samples)"
else
    not_ok "every acknowledged scrape has its up sample 1 at exactly its time"
    diag "$missing"
    diag_file "$tmp/up" 5
fi

# The profiles of each acknowledged scrape (but CPU) are stored at its
# time: gauges, and deltas (a round's first scrape of a cumulative type
# has no previous one and stores nothing; later ones do).
for p in memory:memory:inuse_space:bytes:space:bytes \
    allocs:memory:alloc_space:bytes:space:bytes \
    mutex:mutex:contentions:count:contentions:count \
    block:block:contentions:count:contentions:count \
    goroutine:goroutine:goroutine:count:goroutine:count; do
    type=${p%%:*}
    dump "{__name__=\"${p#*:}\",job=\"goapp\"}" "$tmp/prof.$type"
    missing=$(awk -v t="$type" 'NR == FNR { have[$2] = 1; next }
        $2 == t && !($3 in have) { printf "round %s at %s; ", $1, $3 }' \
        "$tmp/prof.$type" "$tmp/acked")
    if [ -s "$tmp/prof.$type" ] && [ -z "$missing" ]; then
        ok "$type: every acknowledged profile is stored ($(wc -l <"$tmp/prof.$type") in all)"
    else
        not_ok "$type: every acknowledged profile is stored (missing: $missing)"
    fi
done

# The CPU window that started at each acknowledged cpu lastScrape is
# stored (at start + duration), so every round has CPU profiles.
dump '{__name__="process_cpu:cpu:nanoseconds:cpu:nanoseconds",job="goapp"}' \
    "$tmp/cpu"
awk '{ d = $3; sub(/^duration=/, "", d); sub(/s$/, "", d); print $2, d }' \
    "$tmp/cpu" >"$tmp/cpu.td"
awk '{ print $1 }' "$tmp/cpu.td" | date -u -f - +%s.%N >"$tmp/cpu.end"
awk '{ print $2 }' "$tmp/cpu.td" | paste -d ' ' "$tmp/cpu.end" - |
    awk '{ printf "%.3f\n", $1 - $2 }' >"$tmp/cpu.start"
awk '$2 == "cpu" { print $1 }' "$tmp/acked" >"$tmp/cpu.rounds"
awk '$2 == "cpu" { print $3 }' "$tmp/acked" | date -u -f - +%s.%N |
    paste -d ' ' "$tmp/cpu.rounds" - >"$tmp/cpu.acked"
missing=$(awk 'NR == FNR { s[NR] = $1; n = NR; next }
    { found = 0
      for (i = 1; i <= n; i++)
          if (s[i] - $2 < 0.05 && $2 - s[i] < 0.05) found = 1
      if (!found) printf "round %s at %.3f; ", $1, $2 }' \
    "$tmp/cpu.start" "$tmp/cpu.acked")
rounds=$(sort -u "$tmp/cpu.rounds" | wc -l | tr -d ' ')
if [ -s "$tmp/cpu" ] && [ -z "$missing" ] && [ "$rounds" = 3 ]; then
    ok "cpu: the acknowledged window of every round is stored ($(wc -l <"$tmp/cpu") windows in all)"
else
    not_ok "cpu: the acknowledged window of every round is stored ($rounds rounds; missing: $missing)"
    diag_file "$tmp/cpu" 10
fi
tap_done
