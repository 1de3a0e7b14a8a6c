#!/bin/sh
# tests/e2e/server_k8s.sh: the kiln server with kubernetes_sd_configs,
# end to end: a fake API server (tests/fakek8s) lists two pods whose IP and
# port are the Go test program's; Prometheus' annotation recipe keeps the
# one annotated prometheus.io/scrape: "true" and drops the other. The kept
# pod is scraped (up, with namespace/pod/app labels from relabeling), the
# dropped one is listed with its discovered __meta_kubernetes_* labels; a
# watch event adding a pod adds a target, one deleting it removes it, both
# within 5 s. Prints TAP.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/server_lib.sh"

if ! require_tools "$GO" jq curl || ! require_kiln; then
    tap_done
fi
server_tmpdir
fake_pid=
trap 'kill $fake_pid 2>/dev/null; server_cleanup' EXIT
if ! build_goapp "$tmp/bin" || ! start_goapp "$tmp/bin/goapp"; then
    not_ok "the Go test program starts"
    tap_done
fi
port=${goapp_addr##*:}

# pod NAME SCRAPE RV: a running, ready pod on 127.0.0.1 whose container
# port is the Go program's, annotated prometheus.io/scrape=SCRAPE.
pod() {
    cat <<EOF
{"metadata": {"name": "$1", "namespace": "shop", "uid": "uid-$1",
  "resourceVersion": "$3", "labels": {"app": "$1"},
  "annotations": {"prometheus.io/scrape": "$2", "prometheus.io/port": "$port"}},
 "spec": {"nodeName": "node-1", "containers": [{"name": "main",
  "image": "example/$1:1", "ports": [{"name": "http",
  "containerPort": $port, "protocol": "TCP"}]}]},
 "status": {"phase": "Running", "podIP": "127.0.0.1", "hostIP": "127.0.0.1",
  "conditions": [{"type": "Ready", "status": "True"}]}}
EOF
}
{
    echo '{"kind": "PodList", "apiVersion": "v1",'
    echo ' "metadata": {"resourceVersion": "10"}, "items": ['
    pod checkout true 5
    echo ','
    pod batch false 6
    echo ']}'
} >"$tmp/pods.json"
echo "s3cret" >"$tmp/token"

if ! GO="$GO" sh "$top_srcdir/tests/gobuild.sh" "$top_srcdir/tests/fakek8s" "$tmp" \
    >"$tmp/fake-build.log" 2>&1; then
    not_ok "build tests/fakek8s"
    diag_file "$tmp/fake-build.log"
    tap_done
fi
"$tmp/fakek8s" -pods "$tmp/pods.json" -token-file "$tmp/token" \
    >"$tmp/fake.out" 2>"$tmp/fake.err" &
fake_pid=$!
wait_until 20 grep -q '^control on' "$tmp/fake.out"
api=$(sed -n 's/^listening on //p' "$tmp/fake.out")
ctl=$(sed -n 's/^control on //p' "$tmp/fake.out")
if [ -z "$api" ] || [ -z "$ctl" ]; then
    not_ok "the fake API server starts"
    diag_file "$tmp/fake.err"
    tap_done
fi

cat >"$tmp/kiln.yml" <<EOF
global:
  scrape_interval: 2s
scrape_configs:
  - job_name: pods
    profiling:
      cpu: {enabled: false}
      allocs: {enabled: false}
      mutex: {enabled: false}
      block: {enabled: false}
      goroutine: {enabled: false}
    kubernetes_sd_configs:
      - role: pod
        api_server: http://$api
        bearer_token_file: $tmp/token
        namespaces:
          names: [shop]
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
        action: keep
        regex: "true"
      - action: labelmap
        regex: __meta_kubernetes_pod_label_(.+)
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
EOF
if ! start_kiln "$tmp/kiln.yml" "$tmp/db"; then
    not_ok "kiln starts"
    diag_file "$tmp/kiln.log" 40
    tap_done
fi

# pods_up N: N active targets, all up.
pods_up() {
    targets_json "$tmp/t.json" &&
        [ "$(jq '[.data.activeTargets[] | select(.health == "up")] | length' \
            "$tmp/t.json")" = "$1" ] &&
        [ "$(jq '.data.activeTargets | length' "$tmp/t.json")" = "$1" ]
}
if wait_until 20 pods_up 1; then
    ok "the annotated pod is discovered and scraped (up)"
else
    not_ok "the annotated pod is discovered and scraped (up)"
    diag_file "$tmp/t.json" 30
    diag_file "$tmp/kiln.log" 20
fi
got=$(jq -c '.data.activeTargets[0].labels' "$tmp/t.json")
want="{\"app\":\"checkout\",\"instance\":\"127.0.0.1:$port\",\"job\":\"pods\",\"namespace\":\"shop\",\"pod\":\"checkout\"}"
if [ "$got" = "$want" ]; then
    ok "relabeling gives the target its pod labels"
else
    not_ok "relabeling gives the target its pod labels"
    diag "got  $got" "want $want"
fi
d=$(jq -r '.data.droppedTargets[0].discoveredLabels |
    "\(.__meta_kubernetes_pod_name) \(.__meta_kubernetes_pod_container_port_number) \(.__meta_kubernetes_pod_ready)"' \
    "$tmp/t.json")
if [ "$d" = "batch $port true" ]; then
    ok "the pod without the annotation is dropped, with its meta labels"
else
    not_ok "the pod without the annotation is dropped, with its meta labels ($d)"
fi
if grep -q 'namespaces/shop/pods' "$tmp/fake.err" ||
    curl -s "http://$ctl/stats" | grep -q 'namespaces/shop/pods'; then
    ok "the namespace reaches the API request"
else
    not_ok "the namespace reaches the API request"
fi

# A watch event adds a pod, another deletes the first.
{
    printf '{"type": "ADDED", "object": '
    pod cart true 11 | tr -d '\n'
    printf '}\n'
} >"$tmp/added"
t0=$(date +%s)
curl -s -X POST --data-binary @"$tmp/added" "http://$ctl/send" >/dev/null
if wait_until 5 pods_up 2; then
    ok "a pod ADDED by the watch becomes a scraped target within 5 s ($(($(date +%s) - t0)) s)"
else
    not_ok "a pod ADDED by the watch becomes a scraped target within 5 s"
    diag_file "$tmp/t.json" 10
fi
{
    printf '{"type": "DELETED", "object": '
    pod checkout true 12 | tr -d '\n'
    printf '}\n'
} >"$tmp/deleted"
t0=$(date +%s)
curl -s -X POST --data-binary @"$tmp/deleted" "http://$ctl/send" >/dev/null
gone() {
    targets_json "$tmp/t.json" &&
        [ "$(jq -r '[.data.activeTargets[].labels.pod] | join(",")' \
            "$tmp/t.json")" = cart ]
}
if wait_until 5 gone; then
    ok "a pod DELETED by the watch stops being a target within 5 s ($(($(date +%s) - t0)) s)"
else
    not_ok "a pod DELETED by the watch stops being a target within 5 s"
    diag_file "$tmp/t.json" 10
fi
if stop_kiln; then
    ok "kiln stops with exit 0"
else
    not_ok "kiln stops with exit 0"
fi
tap_done
