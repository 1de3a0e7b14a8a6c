#!/bin/sh
# tests/e2e/server_reload.sh: targets that change while kiln runs.
#   - file_sd (a relative glob, resolved against kiln.yml's directory,
#     refresh_interval 5m so that only inotify can be quick): a target
#     added to or removed from a file shows in /api/v1/targets within 5 s;
#     a broken file keeps the previous targets.
#   - Reload with an invalid file (POST /-/reload and SIGHUP) keeps the old
#     configuration and sets kiln_config_last_reload_successful 0; with a
#     valid one it changes targets without a restart, targets that stay
#     keep their state, and no data is lost (the `up` series of a target
#     that stays has samples before and after the reload).
# Prints TAP.
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

mkdir -p "$tmp/conf/sd"
write_config() { # write_config EXTRA_JOB_YAML
    cat >"$tmp/conf/kiln.yml.new" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 5s
scrape_configs:
  - job_name: fsd
    profiling:
      cpu: {enabled: false}
      allocs: {enabled: false}
      mutex: {enabled: false}
      block: {enabled: false}
      goroutine: {enabled: false}
    file_sd_configs:
      - files: ["sd/*.json"]
        refresh_interval: 5m
$1
EOF
    mv "$tmp/conf/kiln.yml.new" "$tmp/conf/kiln.yml"
}
write_sd() { # write_sd FILE JSON
    printf '%s\n' "$2" >"$tmp/conf/sd/$1.tmp"
    mv "$tmp/conf/sd/$1.tmp" "$tmp/conf/sd/$1"
}
write_config ""
write_sd a.json "[{\"targets\": [\"$goapp_addr\"], \"labels\": {\"team\": \"a\"}}]"
if ! start_kiln "$tmp/conf/kiln.yml" "$tmp/db"; then
    not_ok "kiln starts"
    diag_file "$tmp/kiln.log" 40
    tap_done
fi
pid=$kiln_pid

# n_targets POOL [HEALTH]: active targets of POOL (with that health).
n_targets() {
    targets_json "$tmp/t.json" || { echo -1; return; }
    jq --arg p "$1" --arg h "${2:-}" '[.data.activeTargets[] |
        select(.scrapePool == $p and ($h == "" or .health == $h))] | length' \
        "$tmp/t.json"
}
has_targets() { [ "$(n_targets "$@")" = "$2" ]; }
has_n() { [ "$(n_targets "$1")" = "$2" ]; }
has_up() { [ "$(n_targets "$1" up)" = "$2" ]; }

if wait_until 15 has_up fsd 1; then
    ok "file_sd: the target of sd/a.json is scraped and up"
else
    not_ok "file_sd: the target of sd/a.json is scraped and up"
    diag_file "$tmp/t.json" 30
fi
fp=$(jq -r '.data.activeTargets[0].discoveredLabels.__meta_filepath' "$tmp/t.json")
case $fp in
*/sd/a.json) ok "discovered labels carry __meta_filepath ($fp)" ;;
*) not_ok "discovered labels carry __meta_filepath ($fp)" ;;
esac

# Added: a second target (same address, other labels) in another file.
t0=$(date +%s)
write_sd b.json "[{\"targets\": [\"$goapp_addr\"], \"labels\": {\"team\": \"b\"}}]"
if wait_until 5 has_n fsd 2; then
    ok "file_sd: a target added to a new file shows within 5 s ($(($(date +%s) - t0)) s)"
else
    not_ok "file_sd: a target added to a new file shows within 5 s"
fi

# Broken: b.json becomes invalid; its last good targets stay.
write_sd b.json '[{"targets": ["oops"'
sleep 2
if has_n fsd 2; then
    ok "file_sd: a broken file keeps its previous targets"
else
    not_ok "file_sd: a broken file keeps its previous targets"
fi

# Removed: b.json lists no targets.
t0=$(date +%s)
write_sd b.json '[]'
if wait_until 5 has_n fsd 1; then
    ok "file_sd: a removed target goes within 5 s ($(($(date +%s) - t0)) s)"
else
    not_ok "file_sd: a removed target goes within 5 s"
fi

# reload_ok: the value of kiln_config_last_reload_successful.
reload_ok() {
    kiln_get metrics "$tmp/m" >/dev/null
    awk '$1 == "kiln_config_last_reload_successful" { print $2 }' "$tmp/m"
}

# Invalid configuration, by POST /-/reload then by SIGHUP.
wait_until 10 has_up fsd 1
last_before=$(jq -r '.data.activeTargets[0].lastScrape' "$tmp/t.json")
cp "$tmp/conf/kiln.yml" "$tmp/good.yml"
printf 'scrape_configs:\n  - job_name: fsd\n    scrape_interval: 1x\n' \
    >"$tmp/conf/kiln.yml"
code=$(kiln_post -/reload "$tmp/reload.out")
if [ "$code" = 500 ] && grep -q 'kiln.yml:3:22' "$tmp/reload.out"; then
    ok "/-/reload with a bad file: 500 naming file:line:column"
else
    not_ok "/-/reload with a bad file: 500 naming file:line:column (HTTP $code)"
    diag_file "$tmp/reload.out"
fi
if [ "$(reload_ok)" = 0 ]; then
    ok "kiln_config_last_reload_successful is 0 after a failed reload"
else
    not_ok "kiln_config_last_reload_successful is 0 after a failed reload"
fi
kill -HUP "$kiln_pid"
if wait_until 10 grep -q 'msg="Error loading config".*1x' "$tmp/kiln.log"; then
    ok "SIGHUP with a bad file logs the error"
else
    not_ok "SIGHUP with a bad file logs the error"
fi
sleep 2
if has_up fsd 1; then
    ok "after failed reloads the old configuration still scrapes"
else
    not_ok "after failed reloads the old configuration still scrapes"
fi

# Valid configuration: one more job, file_sd unchanged.
reload_ms=$(($(date +%s) * 1000))
write_config "  - job_name: static
    static_configs:
      - targets: [\"$goapp_addr\"]"
code=$(kiln_post -/reload "$tmp/reload.out")
if [ "$code" = 200 ] && [ "$(reload_ok)" = 1 ]; then
    ok "/-/reload with a good file: 200 and kiln_config_last_reload_successful 1"
else
    not_ok "/-/reload with a good file (HTTP $code, successful=$(reload_ok))"
    diag_file "$tmp/reload.out"
fi
if wait_until 5 has_n static 1 && has_n fsd 1; then
    ok "the new job's target shows without a restart"
else
    not_ok "the new job's target shows without a restart"
    diag_file "$tmp/t.json" 30
fi
last_after=$(jq -r '.data.activeTargets[] | select(.scrapePool == "fsd") |
                    .lastScrape' "$tmp/t.json")
case $last_after in
0001-*) not_ok "a target that stays keeps its state (lastScrape reset)" ;;
*) ok "a target that stays keeps its state (lastScrape $last_before, then $last_after)" ;;
esac
if [ "$kiln_pid" = "$pid" ] && kill -0 "$pid"; then
    ok "the same process runs (no restart)"
else
    not_ok "the same process runs (no restart)"
fi
wait_until 10 has_up static 1
sleep 2
if stop_kiln; then
    ok "kiln stops with exit 0"
else
    not_ok "kiln stops with exit 0"
fi

# The fsd target's up series has samples before and after the reload.
"$KILNCTL" tsdb dump "$tmp/db" --match='up{job="fsd",team="a"}' \
    >"$tmp/up" 2>"$tmp/err"
before=0
after=0
while read -r _ ts _; do
    s=$(date -u -d "$ts" +%s)
    if [ $((s * 1000)) -lt "$reload_ms" ]; then
        before=$((before + 1))
    else
        after=$((after + 1))
    fi
done <"$tmp/up"
if [ "$before" -ge 3 ] && [ "$after" -ge 2 ]; then
    ok "no data lost across the reload ($before samples before, $after after)"
else
    not_ok "no data lost across the reload ($before before, $after after)"
    diag_file "$tmp/err"
fi
tap_done
