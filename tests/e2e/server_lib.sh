# tests/e2e/server_lib.sh: helpers for the end-to-end tests of the kiln
# server (sourced after lib.sh). They start kiln on 127.0.0.1:0, find its
# port in its log, wait for conditions by polling (never fixed sleeps), and
# read what it stored with kilnctl once it has stopped.
#
# Environment: KILN (default: $top_builddir/kiln).

: "${KILN:=$top_builddir/kiln}"
export KILN

kiln_pid=
kiln_addr=

# require_kiln: true when $KILN is executable, else one "not ok".
require_kiln() {
    if [ -x "$KILN" ]; then
        return 0
    fi
    not_ok "requirement: kiln not found at $KILN (build it first)"
    return 1
}

# start_kiln CONFIG DB [FLAGS...]: start kiln in the background, logging to
# $tmp/kiln.log (appended), and wait until /-/ready answers 200 (60 s).
# Sets $kiln_pid and $kiln_addr (HOST:PORT).
start_kiln() {
    sk_cfg=$1
    sk_db=$2
    shift 2
    # Only this start's lines count: the log may hold earlier runs'.
    sk_skip=$(($(cat "$tmp/kiln.log" 2>/dev/null | wc -l) + 1))
    "$KILN" --config.file="$sk_cfg" --storage.path="$sk_db" \
        --web.listen-address=127.0.0.1:0 --web.enable-lifecycle "$@" \
        >>"$tmp/kiln.log" 2>&1 &
    kiln_pid=$!
    kiln_addr=
    sk_i=0
    while [ $sk_i -lt 600 ]; do
        if ! kill -0 "$kiln_pid" 2>/dev/null; then
            wait "$kiln_pid"
            kiln_pid=
            return 1
        fi
        if [ -z "$kiln_addr" ]; then
            kiln_addr=$(tail -n +"$sk_skip" "$tmp/kiln.log" 2>/dev/null |
                sed -n 's/.*msg="Listening on" address=\([^ ]*\).*/\1/p' |
                tail -n 1)
        fi
        if [ -n "$kiln_addr" ] &&
            curl -sf -o /dev/null --max-time 5 "http://$kiln_addr/-/ready"; then
            return 0
        fi
        sleep 0.1
        sk_i=$((sk_i + 1))
    done
    return 1
}

# stop_kiln: SIGTERM, wait; returns kiln's exit status.
stop_kiln() {
    [ -n "$kiln_pid" ] || return 0
    kill -TERM "$kiln_pid" 2>/dev/null
    wait "$kiln_pid"
    st_rc=$?
    kiln_pid=
    return $st_rc
}

# kill9_kiln: SIGKILL, wait.
kill9_kiln() {
    [ -n "$kiln_pid" ] || return 0
    kill -9 "$kiln_pid" 2>/dev/null
    wait "$kiln_pid" 2>/dev/null
    kiln_pid=
}

# kiln_get PATH OUT: GET http://$kiln_addr/PATH into OUT; the HTTP status
# is the output.
kiln_get() {
    curl -s --max-time 30 -o "$2" -w '%{http_code}' "http://$kiln_addr/$1"
}

# kiln_post PATH OUT: POST; the HTTP status is the output.
kiln_post() {
    curl -s --max-time 30 -X POST -o "$2" -w '%{http_code}' \
        "http://$kiln_addr/$1"
}

# wait_until SECONDS CMD...: run CMD every 0.2 s until it succeeds; false
# when SECONDS pass first.
wait_until() {
    wu_end=$(($(date +%s) + $1))
    shift
    while :; do
        if "$@"; then
            return 0
        fi
        [ "$(date +%s)" -lt "$wu_end" ] || return 1
        sleep 0.2
    done
}

# targets_json OUT: /api/v1/targets into OUT; true when it answered 200
# with status success.
targets_json() {
    [ "$(kiln_get api/v1/targets "$1")" = 200 ] &&
        [ "$(jq -r .status "$1")" = success ]
}

# server_cleanup: stop kiln if running (the EXIT trap of lib.sh then
# removes $tmp). Call from tests that trap EXIT themselves.
server_cleanup() {
    if [ -n "$kiln_pid" ]; then
        kill -9 "$kiln_pid" 2>/dev/null
        wait "$kiln_pid" 2>/dev/null
        kiln_pid=
    fi
    cleanup
}

# server_tmpdir: make_tmpdir, with kiln stopped on exit too.
server_tmpdir() {
    make_tmpdir
    trap 'server_cleanup' EXIT
}
