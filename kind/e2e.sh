#!/usr/bin/env bash
# End-to-end run of kube-lvs on kind: build the image, load it, install the chart, start HTTP servers on
# the backend nodes, put a DR VirtualServer on a VIP taken from the kind docker network, curl it from a
# client container, then fail the holding director twice (agent pod deleted: graceful handover; node
# container stopped: Lease expiry) and show that the VIP moves and keeps answering.
#
# Needs docker, kind, kubectl and python3 on a Linux host whose kernel has IPVS (modprobe ip_vs).
# Environment: KUBELVS_E2E_CLUSTER (kubelvs-e2e), KUBELVS_E2E_IMAGE (kubelvs:e2e),
# KUBELVS_E2E_KEEP=1 keeps the cluster afterwards.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/.." && pwd)"
CLUSTER="${KUBELVS_E2E_CLUSTER:-kubelvs-e2e}"
IMAGE="${KUBELVS_E2E_IMAGE:-kubelvs:e2e}"
KEEP="${KUBELVS_E2E_KEEP:-0}"
NAMESPACE="kube-lvs"
RELEASE="kubelvs"
PORT=8080
LEASE_PREFIX="kubelvs-directors-"
WORK="$(mktemp -d)"
CREATED=0

log() { printf '\n== %s\n' "$*"; }
die() { printf 'e2e: %s\n' "$*" >&2; exit 1; }

cleanup() {
    rm -rf "${WORK}"
    if [[ "${CREATED}" == "1" && "${KEEP}" != "1" ]]; then
        log "deleting kind cluster ${CLUSTER} (KUBELVS_E2E_KEEP=1 keeps it)"
        kind delete cluster --name "${CLUSTER}" || true
    fi
}

need() {
    command -v "$1" >/dev/null 2>&1 || die "$1 is needed: $2"
}

find_helm() {
    if [[ -x "${ROOT}/.cache/bin/helm" ]]; then
        echo "${ROOT}/.cache/bin/helm"
    elif command -v helm >/dev/null 2>&1; then
        command -v helm
    else
        bash "${ROOT}/.ci/install-helm.sh"
    fi
}

# The first IPv4 subnet of the kind docker network, e.g. 172.18.0.0/16.
kind_subnet() {
    docker network inspect kind -f '{{range .IPAM.Config}}{{println .Subnet}}{{end}}' | grep -v ':' | head -n 1
}

# A VIP near the top of the subnet, far from the node addresses docker hands out from the bottom.
pick_vip() {
    python3 -c 'import ipaddress, sys; print(ipaddress.ip_network(sys.argv[1])[-10])' "$1"
}

node_ips() {
    kubectl get nodes -l "$1" \
        -o jsonpath='{range .items[*]}{.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}'
}

# The agent pod on a node (its image has ipvsadm; hostNetwork, so it sees the node's IPVS table).
agent_pod() {
    kubectl -n "${NAMESPACE}" get pods -o name \
        -l "app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=agent" \
        --field-selector "spec.nodeName=$1" | head -n 1
}

# The node holding the director group's Lease (empty while nobody does).
holder() {
    kubectl -n "${NAMESPACE}" get leases \
        -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.spec.holderIdentity}{"\n"}{end}' |
        awk -v prefix="${LEASE_PREFIX}" 'index($1, prefix) == 1 && NF == 2 { print $2; exit }'
}

wait_for_holder() {
    local not="${1:-}" deadline=$((SECONDS + 60)) current
    while ((SECONDS < deadline)); do
        current="$(holder)"
        if [[ -n "${current}" && "${current}" != "${not}" ]]; then
            echo "${current}"
            return 0
        fi
        sleep 0.5
    done
    die "no director other than '${not}' took the Lease within 60 s"
}

# Requests to the VIP from a container on the kind network (neither a director nor a backend).
# Prints one line per request and a summary; exits non-zero if the last request failed.
client() {
    local count="$1" pause="$2"
    docker run --rm --network kind --entrypoint python3 "${IMAGE}" -c '
import sys, time, urllib.request
vip, port, count, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
ok, failed, seen, gap, last_ok, good = 0, 0, {}, 0.0, time.monotonic(), False
for i in range(count):
    start = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://{vip}:{port}/", timeout=1) as response:
            who = response.read().decode().strip()
        ok, good = ok + 1, True
        seen[who] = seen.get(who, 0) + 1
        gap, last_ok = max(gap, start - last_ok), start
        print(f"{i:3d} ok   {who}", flush=True)
    except OSError as error:
        failed, good = failed + 1, False
        print(f"{i:3d} FAIL {error}", flush=True)
    time.sleep(max(0.0, pause - (time.monotonic() - start)))
print(f"summary: ok={ok} failed={failed} backends={seen} longest-gap={gap:.2f}s")
sys.exit(0 if good else 1)
' "${VIP}" "${PORT}" "${count}" "${pause}"
}

write_manifests() {
    local file="$1" index=0 address
    cat >"${file}" <<YAML
apiVersion: lvs.kubelvs.io/v1alpha1
kind: VirtualServer
metadata:
  name: e2e-web
  namespace: default
spec:
  address: ${VIP}
  port: ${PORT}
  protocol: TCP
  scheduler: rr
  forwarding: dr
  directors:
    nodeSelector:
      kubelvs.io/director: "true"
    interface: eth0
  healthCheck:
    type: tcp
    interval: 2s
    connectTimeout: 1s
YAML
    while read -r address; do
        [[ -n "${address}" ]] || continue
        index=$((index + 1))
        cat >>"${file}" <<YAML
---
apiVersion: lvs.kubelvs.io/v1alpha1
kind: RealServer
metadata:
  name: e2e-web-${index}
  namespace: default
spec:
  virtualServer: e2e-web
  address: ${address}
YAML
    done < <(node_ips kubelvs.io/backend=true)
    ((index == 2)) || die "expected two backend nodes, found ${index}"
}

main() {
    need docker "https://docs.docker.com/engine/install/"
    need kind "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
    need kubectl "https://kubernetes.io/docs/tasks/tools/"
    need python3 "apt-get install python3"
    local helm
    helm="$(find_helm)"
    if ! grep -q '^ip_vs ' /proc/modules 2>/dev/null; then
        echo "note: ip_vs is not loaded on this host; the kernel loads it on first use if it can (else: modprobe ip_vs)"
    fi

    log "kind cluster ${CLUSTER}"
    if ! kind get clusters | grep -qx "${CLUSTER}"; then
        kind create cluster --name "${CLUSTER}" --config "${HERE}/cluster.yaml" --wait 120s
        CREATED=1
    fi
    trap cleanup EXIT
    kubectl config use-context "kind-${CLUSTER}" >/dev/null

    log "building ${IMAGE} and loading it into the nodes"
    docker build -t "${IMAGE}" "${ROOT}"
    kind load docker-image "${IMAGE}" --name "${CLUSTER}"

    local subnet
    subnet="$(kind_subnet)"
    [[ -n "${subnet}" ]] || die "the kind docker network has no IPv4 subnet"
    VIP="$(pick_vip "${subnet}")"
    log "VIP ${VIP} from the kind network ${subnet}"

    log "installing the chart"
    "${helm}" upgrade --install "${RELEASE}" "${ROOT}/charts/kubelvs" \
        --namespace "${NAMESPACE}" --create-namespace \
        --set image.repository="${IMAGE%:*}" --set image.tag="${IMAGE##*:}" --set image.pullPolicy=Never \
        --set "config.vipPools={${VIP}/32}" \
        --set ipvs.syncDaemon.enabled=true --set ipvs.syncDaemon.interface=eth0 \
        --set logLevel=debug \
        --wait --timeout 5m
    kubectl -n "${NAMESPACE}" get pods -o wide

    log "HTTP servers on the backend nodes"
    sed "s|IMAGE_PLACEHOLDER|${IMAGE}|" "${HERE}/backends.yaml" | kubectl apply -f -
    kubectl -n default rollout status daemonset/e2e-http --timeout=180s

    log "VirtualServer e2e-web on ${VIP}:${PORT} (DR, rr) with the two backends"
    write_manifests "${WORK}/e2e-web.yaml"
    if [[ -x "${ROOT}/.venv/bin/kubelvs" ]]; then
        "${ROOT}/.venv/bin/kubelvs" validate "${WORK}/e2e-web.yaml"
    fi
    kubectl apply -f "${WORK}/e2e-web.yaml"
    kubectl -n default wait --for=condition=Ready virtualserver/e2e-web --timeout=180s
    kubectl -n default get virtualservers,realservers -o wide

    local first second third
    first="$(wait_for_holder)"
    log "director ${first} holds the VIP; 10 requests from a client container"
    client 10 0.2
    kubectl -n "${NAMESPACE}" exec "$(agent_pod "${first}")" -- ipvsadm -Ln || true

    log "graceful failover: deleting the agent pod on ${first} (it releases the Lease on SIGTERM)"
    client 60 0.25 >"${WORK}/graceful.log" 2>&1 &
    local pid=$!
    sleep 3
    kubectl -n "${NAMESPACE}" delete pod --wait=false \
        -l "app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=agent" \
        --field-selector "spec.nodeName=${first}"
    second="$(wait_for_holder "${first}")"
    wait "${pid}" || die "the VIP did not answer after the graceful failover: $(tail -n 5 "${WORK}/graceful.log")"
    cat "${WORK}/graceful.log"
    echo "the VIP moved from ${first} to ${second}"

    log "crash failover: stopping the node container ${second}"
    kubectl -n "${NAMESPACE}" rollout status daemonset/"${RELEASE}-agent" --timeout=120s
    client 80 0.25 >"${WORK}/crash.log" 2>&1 &
    pid=$!
    sleep 3
    docker stop "${second}" >/dev/null
    third="$(wait_for_holder "${second}")"
    wait "${pid}" || die "the VIP did not answer after the crash failover: $(tail -n 5 "${WORK}/crash.log")"
    cat "${WORK}/crash.log"
    echo "the VIP moved from ${second} to ${third}"
    docker start "${second}" >/dev/null

    log "end-to-end run passed: the VIP answered, then survived a graceful and a crash failover"
}

# Sourcing the script (for a dry check of its functions) does not run it.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
