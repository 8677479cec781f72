"""The demo's LoadBalancer step: a Service of class ``lvs.kubelvs.io/ipvs`` gets its VIP from a VIPPool, and its
pods roll over (rs1's replaced by rs2's, as a Deployment does: new pod ready, old pod terminating, old pod gone)
while a client keeps asking; the spread of the answers in each phase is printed, and the Service's deletion
takes its VIP and IPVS service away. No EndpointSlice controller runs in the stack: the demo writes the slice
that controller would write.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from kubelvs.testbed import stack as st

POOL = f"{st.FRONT}.160-{st.FRONT}.169"
POD_PORT = 8080
PHASE_S = 3.0  # how long the client asks in each phase of the rollout
ASK_EVERY, ASK_TIMEOUT = 0.1, 2.0
READY = {"ready": True, "serving": True, "terminating": False}
TERMINATING = {"ready": False, "serving": True, "terminating": True}


class LoadBalancerFailed(Exception):
    """A step of the LoadBalancer demo did not do what it should."""


def objects() -> list[tuple[str, dict[str, Any]]]:
    selector = ",".join(f"{key}={value}" for key, value in st.DIRECTOR_LABELS.items())
    return [
        ("vippools", {"apiVersion": st.API_VERSION, "kind": "VIPPool", "metadata": {"name": "demo"},
                      "spec": {"addresses": [POOL]}}),
        ("services", {"apiVersion": "v1", "kind": "Service",
                      "metadata": {"name": "shop", "namespace": "default",
                                   "annotations": {"lvs.kubelvs.io/directors": selector,
                                                   "lvs.kubelvs.io/scheduler": "rr"}},
                      "spec": {"type": "LoadBalancer", "loadBalancerClass": "lvs.kubelvs.io/ipvs",
                               "ports": [{"name": "http", "port": 80, "targetPort": POD_PORT}]}}),
        ("endpointslices", endpoint_slice({"rs1": READY})),
    ]  # fmt: skip


def endpoint_slice(pods: dict[str, dict[str, bool]]) -> dict[str, Any]:
    """The Service's one EndpointSlice with a pod on each named backend node, in its condition."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "shop-a", "namespace": "default", "labels": {"kubernetes.io/service-name": "shop"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": POD_PORT}],
        "endpoints": [
            {"addresses": [st.NODE_ADDRESSES[node]], "conditions": conditions, "nodeName": node}
            for node, conditions in pods.items()
        ],
    }


def ingress(stack: st.Stack) -> list[str]:
    status = stack.api.get("v1", "services", "default", "shop").get("status") or {}
    return [item["ip"] for item in (status.get("loadBalancer") or {}).get("ingress") or []]


def run(stack: st.Stack, say: Callable[[str], None]) -> list[tuple[str, Counter[str]]]:
    """The step; returns (phase, answers per backend) for the summary."""
    say(f"a LoadBalancer Service default/shop (class lvs.kubelvs.io/ipvs), a VIPPool {POOL}, one pod on rs1")
    for plural, body in objects():
        stack.api.create(plural, body)
    took = st.wait_until(lambda: ingress(stack), timeout=120)
    (vip,) = ingress(stack)
    say(f"  the operator gave shop {vip} (in status.loadBalancer, +{took:.1f} s), made VirtualServer shop-http")
    took = st.wait_until(lambda: st.serving(vip), timeout=300, every=1)
    say(f"  {vip}:80 answers the client (+{took:.1f} s); rolling the pods over while it asks every {ASK_EVERY} s")
    loop = st.ClientLoop(vip, 80, every=ASK_EVERY, timeout=ASK_TIMEOUT)
    loop.start()
    phases: list[tuple[str, Counter[str]]] = []
    try:
        steps = [
            ("rs1 ready", {"rs1": READY}),
            ("rs2 ready too", {"rs1": READY, "rs2": READY}),
            ("rs1 terminating", {"rs1": TERMINATING, "rs2": READY}),
            ("rs1 gone", {"rs2": READY}),
        ]
        for name, pods in steps:
            if name != "rs1 ready":
                stack.api.patch("discovery.k8s.io/v1", "endpointslices", "default", "shop-a",
                                {"endpoints": endpoint_slice(pods)["endpoints"]})  # fmt: skip
            started = time.monotonic()
            time.sleep(PHASE_S)
            answers = Counter(loop.answers(started))
            phases.append((name, answers))
            say(f"  {name:16} -> " + ", ".join(f"{k}: {v}" for k, v in sorted(answers.items())))
    finally:
        loop.stop()
    failed = sum(count for _, answers in phases for answer, count in answers.items() if answer.startswith("ERR"))
    asked = sum(sum(answers.values()) for _, answers in phases)
    say(f"  {asked} requests during the rollout, {failed} failed")
    if failed:
        raise LoadBalancerFailed(f"{failed} of {asked} requests failed while the pods rolled over")
    if set(phases[-1][1]) != {"rs2"}:
        raise LoadBalancerFailed(f"after rs1's pod went, answers came from {sorted(phases[-1][1])}, not rs2 alone")
    stack.api.delete("v1", "services", "default", "shop")
    took = st.wait_until(lambda: not st.vip_holders(vip), timeout=120)
    say(f"  Service shop deleted: its VirtualServer, IPVS service and {vip} are gone (+{took:.1f} s)")
    stack.api.delete("discovery.k8s.io/v1", "endpointslices", "default", "shop-a")
    stack.api.delete(st.API_VERSION, "vippools", None, "demo")
    return phases
