"""The in-cluster agent follows a Service's EndpointSlices through the API (the emulator): endpoints become
destinations, an endpoint turning terminating is one weight-0 edit, a deleted slice drains its endpoints,
and a VirtualServer that starts following an existing Service finds its endpoints at once.

The kernel is the reconciler's fake (tests/unit/fakes.py); the same path on the real kernel with real
traffic is the VM's to prove.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from election_helpers import agent_idle, wait_for
from kubernetes import client as k8s
from test_cluster_agent_weight_edit_is_one_op import BASE, cluster_agent
from test_election_cluster_agents_share_a_vip import GROUP, LABELS, VERSION, create, declare, events

from kubelvs.agent.cluster import ClusterAgent
from kubelvs.agent.health import CheckSpec, Health
from kubelvs.agent.health.engine import Result
from kubelvs.agent.options import ClusterOptions as Options
from kubelvs.api.enums import HealthCheckType
from kubelvs.netstate import EditDestination

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from reconciling import Node as FakeNode

SLICES = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
READY = {"ready": True, "serving": True, "terminating": False}
DRAINING = {"ready": False, "serving": True, "terminating": True}


def virtual_server(name: str, address: str, service: str) -> dict[str, Any]:
    spec = {
        "address": address,
        "port": 80,
        "forwarding": "nat",
        "directors": {"nodeSelector": LABELS},
        "backends": {"service": service, "port": "http", "weight": 2},
    }
    meta = {"name": name, "namespace": "default"}
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "VirtualServer", "metadata": meta, "spec": spec}


def service(name: str) -> dict[str, Any]:
    ports = [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": {"ports": ports}}


def endpoint_slice(name: str, service: str, *states: tuple[str, dict[str, bool]]) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": [a], "conditions": c, "nodeName": "node-b"} for a, c in states],
    }


async def test_endpoints_follow_the_slices_through_the_api(emulator) -> None:  # type: ignore[no-untyped-def]
    declare(emulator)
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a", "labels": LABELS}}
    await create(emulator, "/api/v1/nodes", node)
    await create(emulator, f"{BASE}/virtualservers", virtual_server("web", "192.0.2.1", "web"))
    await create(emulator, "/api/v1/namespaces/default/services", service("web"))
    await create(emulator, SLICES, endpoint_slice("web-a", "web", ("10.1.0.1", READY), ("10.1.0.2", READY)))
    # a Service nobody follows yet, with its endpoints
    await create(emulator, "/api/v1/namespaces/default/services", service("api"))
    await create(emulator, SLICES, endpoint_slice("api-a", "api", ("10.2.0.1", READY)))
    fake = FakeNode.new()
    ipvs = fake.ipvs
    agent, api = cluster_agent(emulator, fake)

    def weights() -> dict[str, int]:
        return {f"{k.service.address}>{k.address}:{k.port}": d.weight for k, d in ipvs.dests.items()}

    stop = asyncio.Event()
    run = asyncio.create_task(agent.run(stop))
    try:
        await wait_for(lambda: len(ipvs.dests) == 2, timeout=10)
        assert weights() == {"192.0.2.1>10.1.0.1:8080": 2, "192.0.2.1>10.1.0.2:8080": 2}
        await agent_idle(agent)
        ipvs.applied.clear()

        patch = {"endpoints": [{"addresses": ["10.1.0.1"], "conditions": READY},
                               {"addresses": ["10.1.0.2"], "conditions": DRAINING}]}  # fmt: skip
        response = await emulator.patch(f"{SLICES}/web-a", json=patch)
        assert response.status == 200
        await wait_for(lambda: weights().get("192.0.2.1>10.1.0.2:8080") == 0, timeout=5)
        await agent_idle(agent)
        assert [type(op) for op in ipvs.applied] == [EditDestination]

        # a second VirtualServer starts following "api": its endpoints are read from the watch's mirror
        await create(emulator, f"{BASE}/virtualservers", virtual_server("api", "192.0.2.2", "api"))
        await wait_for(lambda: "192.0.2.2>10.2.0.1:8080" in weights(), timeout=5)

        response = await emulator.delete(f"{SLICES}/web-a")
        assert response.status == 200
        await wait_for(lambda: not any(key.startswith("192.0.2.1>") for key in weights()), timeout=5)
        assert "192.0.2.2>10.2.0.1:8080" in weights()
        # an endpoint is no API object: no status is ever written for one (the operator counts them)
        written = [str(r.url.path) for r in emulator if r.method == "PATCH" and "realservers" in str(r.url.path)]
        assert written == [], written
    finally:
        stop.set()
        await run
        api.close()


ENDPOINT = "default/web@10.1.0.2:8080"


class Switchable:
    """A TCP checker whose verdict the test sets per address (no real server behind the endpoints here)."""

    def __init__(self) -> None:
        self.down: set[str] = set()

    async def check(self, target: CheckSpec, timeout: float) -> Result:
        return Result(False, "connection refused") if target.address in self.down else Result(True)

    async def close(self) -> None:
        return None


async def test_health_checks_apply_to_endpoints_and_are_said_on_the_virtual_server(emulator) -> None:  # type: ignore[no-untyped-def]
    declare(emulator)
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a", "labels": LABELS}}
    await create(emulator, "/api/v1/nodes", node)
    checked = virtual_server("web", "192.0.2.1", "web")
    checked["spec"]["healthCheck"] = {"type": "tcp", "interval": "100ms", "connectTimeout": "50ms"}
    await create(emulator, f"{BASE}/virtualservers", checked)
    await create(emulator, "/api/v1/namespaces/default/services", service("web"))
    await create(emulator, SLICES, endpoint_slice("web-a", "web", ("10.1.0.1", READY), ("10.1.0.2", READY)))
    fake = FakeNode.new()
    checker = Switchable()
    api = k8s.ApiClient(k8s.Configuration(host=str(emulator.url).rstrip("/")))
    api.user_agent = "node-a"
    options = Options(node="node-a", lease_namespace="kube-lvs", state_file=None, resync_period=3600)
    agent = ClusterAgent(options, fake.kernel(), api, checkers={HealthCheckType.TCP: checker})

    def weight(address: str) -> int | None:
        return next((d.weight for k, d in fake.ipvs.dests.items() if k.address == address), None)

    stop = asyncio.Event()
    run = asyncio.create_task(agent.run(stop))
    try:
        await wait_for(lambda: weight("10.1.0.2") == 2 and bool(agent.election.held), timeout=10)
        # checked healthy first: a target that fails its very first check leaves Unknown, which is not announced
        await wait_for(lambda: agent.health.states().get(ENDPOINT) is Health.UP, timeout=10)
        checker.down.add("10.1.0.2")
        await wait_for(lambda: weight("10.1.0.2") == 0, timeout=10)  # quiesced, as a RealServer would be
        await wait_for(lambda: ("node-a", "EndpointDown") in events(emulator), timeout=10)
        checker.down.clear()
        await wait_for(lambda: weight("10.1.0.2") == 2, timeout=10)
        await wait_for(lambda: ("node-a", "EndpointUp") in events(emulator), timeout=10)
        core = emulator.resource("", "v1", "events")
        said = [r.data for r in emulator if r.resource == core and r.data and r.data["reason"] == "EndpointDown"]
        assert (
            said[0]["involvedObject"]["kind"] == "VirtualServer" and said[0]["involvedObject"]["name"] == "web"
        ), said
        assert "endpoint 10.1.0.2:8080" in said[0]["message"], said
    finally:
        stop.set()
        await run
        api.close()
