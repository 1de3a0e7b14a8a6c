#!/bin/sh
# tests/e2e/server_cli.sh: the kiln command line: --version, --help, bad
# flags (exit 2), a configuration that does not load at start (exit 1,
# with file:line:column), a listen address in use (exit 1, naming it), and
# the lifecycle endpoints' guard (403 without --web.enable-lifecycle).
# Prints TAP.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/server_lib.sh"

if ! require_tools curl jq || ! require_kiln; then
    tap_done
fi
server_tmpdir

# expect NAME RC PATTERN CMD...: CMD exits RC and its output matches
# PATTERN (grep -E).
expect() {
    ex_name=$1 ex_rc=$2 ex_pat=$3
    shift 3
    "$@" >"$tmp/out" 2>&1
    ex_got=$?
    if [ "$ex_got" -eq "$ex_rc" ] && grep -Eq -- "$ex_pat" "$tmp/out"; then
        ok "$ex_name"
    else
        not_ok "$ex_name (exit $ex_got)"
        diag_file "$tmp/out"
    fi
}

expect "--version prints the version" 0 '^kiln, version [0-9]' "$KILN" --version
expect "--help lists the flags" 0 'web\.enable-lifecycle' "$KILN" --help
expect "an unknown flag is a usage error" 2 "unknown flag --nope" \
    "$KILN" --nope
expect "a flag without its value is a usage error" 2 "needs a value" \
    "$KILN" --config.file
expect "a bad duration flag is a usage error" 2 \
    'storage.retention.time' "$KILN" --storage.retention.time=10x
expect "a bad size flag is a usage error" 2 'scrape.body-size-limit' \
    "$KILN" --scrape.body-size-limit=lots

printf 'scrape_configs:\n  - job_name: a\n    scrape_intervl: 5s\n' \
    >"$tmp/bad.yml"
expect "a bad configuration at start: exit 1 with file:line:column" 1 \
    'bad\.yml:3:5: scrape_configs\[0\]: unknown key .?"scrape_intervl' \
    "$KILN" --config.file="$tmp/bad.yml" --storage.path="$tmp/db1" \
    --web.listen-address=127.0.0.1:0
expect "a missing configuration file: exit 1 naming it" 1 \
    'nothing\.yml' "$KILN" --config.file="$tmp/nothing.yml" \
    --storage.path="$tmp/db2" --web.listen-address=127.0.0.1:0

printf 'scrape_configs: []\n' >"$tmp/empty.yml"
if start_kiln "$tmp/empty.yml" "$tmp/db3"; then
    ok "kiln starts with no jobs"
    expect "a listen address in use: exit 1 naming it" 1 \
        "listen $kiln_addr: Address already in use" \
        "$KILN" --config.file="$tmp/empty.yml" --storage.path="$tmp/db4" \
        --web.listen-address="$kiln_addr"
    expect "a database in use by another kiln: exit 1" 1 'Opening storage failed' \
        "$KILN" --config.file="$tmp/empty.yml" --storage.path="$tmp/db3" \
        --web.listen-address=127.0.0.1:0
    code=$(kiln_post -/quit "$tmp/quit")
    wait "$kiln_pid"
    rc=$?
    kiln_pid=
    if [ "$code" = 200 ] && [ $rc -eq 0 ]; then
        ok "POST /-/quit stops kiln with exit 0"
    else
        not_ok "POST /-/quit stops kiln with exit 0 (HTTP $code, exit $rc)"
    fi
else
    not_ok "kiln starts with no jobs"
    diag_file "$tmp/kiln.log"
fi

# Without --web.enable-lifecycle, /-/reload and /-/quit are refused.
"$KILN" --config.file="$tmp/empty.yml" --storage.path="$tmp/db5" \
    --web.listen-address=127.0.0.1:0 >"$tmp/kiln2.log" 2>&1 &
kiln_pid=$!
if wait_until 30 grep -q 'Server is ready' "$tmp/kiln2.log"; then
    kiln_addr=$(sed -n 's/.*msg="Listening on" address=\([^ ]*\).*/\1/p' \
        "$tmp/kiln2.log")
    r=$(kiln_post -/reload "$tmp/r")
    q=$(kiln_post -/quit "$tmp/q")
    if [ "$r" = 403 ] && [ "$q" = 403 ] && kill -0 "$kiln_pid"; then
        ok "lifecycle endpoints answer 403 unless enabled"
    else
        not_ok "lifecycle endpoints answer 403 unless enabled ($r, $q)"
    fi
    kill -INT "$kiln_pid"
    wait "$kiln_pid"
    rc=$?
    kiln_pid=
    if [ $rc -eq 0 ]; then
        ok "SIGINT stops kiln with exit 0"
    else
        not_ok "SIGINT stops kiln with exit 0 (exit $rc)"
    fi
else
    not_ok "kiln starts without the lifecycle flag"
    diag_file "$tmp/kiln2.log"
fi
tap_done
