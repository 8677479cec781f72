"""Two in-cluster agents on kmock's emulator, with in-memory kernels: one binds the VIP, both program IPVS,
health checks quiesce a dead real server, and a graceful shutdown hands the VIP over.

The kernels are the reconciler's fakes (tests/unit/fakes.py): this proves the agent's wiring, not the
kernel; the real IPVS is tested in the VM (tests/kernel/).
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from pathlib import Path

import pytest
from election_helpers import wait_for
from kubernetes import client as k8s
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kubelvs.agent.cluster import ClusterAgent
from kubelvs.agent.health import CheckSpec, TcpChecker
from kubelvs.agent.options import ClusterOptions as Options
from kubelvs.api.enums import HealthCheckType
from kubelvs.netstate import AddressKey

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from reconciling import Node as FakeNode

GROUP, VERSION = "lvs.kubelvs.io", "v1alpha1"
VIP = "192.0.2.100"
REAL_SERVER = "192.0.2.43"  # what the RealServer says; a loopback real server is refused (api/address_classes.py)
LISTENER = "127.0.0.2"  # where the test's backend listens: loopback, and not an address of the fake nodes
LABELS = {"kubelvs.io/director": "true"}


def weight_series(page: str) -> dict[str, float]:
    """The configured and the kernel's weight of web-1 on a scraped page."""
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(page)
        for sample in family.samples
        if sample.name in ("kubelvs_real_server_weight", "kubelvs_real_server_effective_weight")
        and sample.labels["real_server"] == "default/web-1"
    }


@pytest.fixture()
async def backend():
    """The real server: a TCP listener on LISTENER, which the health checks probe in REAL_SERVER's place."""

    async def hang_up(reader, writer):
        writer.close()

    server = await asyncio.start_server(hang_up, LISTENER, 0)
    yield server
    server.close()


def declare(emulator):
    info = emulator.ResourceInfo
    for plural, kind in (("virtualservers", "VirtualServer"), ("realservers", "RealServer")):
        emulator.resources[emulator.resource(GROUP, VERSION, plural)] = info(
            kind=kind, namespaced=True, verbs=["get", "list", "watch", "patch"], subresources=["status"]
        )
    emulator.resources[emulator.resource("", "v1", "nodes")] = info(
        kind="Node", namespaced=False, verbs=["get", "list", "watch"]
    )
    emulator.resources[emulator.resource("", "v1", "events")] = info(
        kind="Event", namespaced=True, verbs=["create"]
    )
    for group, plural, kind in (
        ("", "services", "Service"),
        ("discovery.k8s.io", "endpointslices", "EndpointSlice"),
    ):
        emulator.resources[emulator.resource(group, "v1", plural)] = info(
            kind=kind, namespaced=True, verbs=["create", "get", "list", "watch", "patch", "delete"]
        )


async def create(emulator, path, body):
    response = await emulator.post(path, json=body)
    assert response.status in (200, 201), await response.text()


def status(emulator, plural, name):
    obj = emulator.objects[emulator.resource(GROUP, VERSION, plural), "default", name]
    return dict(obj.get("status") or {})


def events(emulator):
    """(reporting node, reason) of every Event the agents recorded, in order."""
    core = emulator.resource("", "v1", "events")
    return [(r.data["reportingInstance"], r.data["reason"]) for r in emulator if r.resource == core and r.data]


async def populate(emulator, backend):
    """Two director Nodes, VirtualServer web (checked every 200 ms, node-a preferred), RealServer web-1."""
    declare(emulator)
    port = backend.sockets[0].getsockname()[1]
    for node in ("node-a", "node-b"):
        await create(
            emulator,
            "/api/v1/nodes",
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node, "labels": LABELS}},
        )
    base = f"/apis/{GROUP}/{VERSION}/namespaces/default"
    await create(
        emulator,
        f"{base}/virtualservers",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "VirtualServer",
            "metadata": {"name": "web", "namespace": "default", "generation": 1},
            "spec": {
                "address": VIP,
                "port": port,
                "directors": {"nodeSelector": LABELS, "preferred": ["node-a"]},
                "healthCheck": {"type": "tcp", "interval": "200ms", "connectTimeout": "200ms", "retries": 1},
            },
        },
    )
    await create(
        emulator,
        f"{base}/realservers",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "RealServer",
            "metadata": {"name": "web-1", "namespace": "default"},
            "spec": {"virtualServer": "web", "address": REAL_SERVER, "port": port},
        },
    )


class ProbeTheListener(TcpChecker):
    """TCP_CHECK of REAL_SERVER, sent to the test's listener: the host has no such address."""

    async def check(self, target: CheckSpec, timeout: float):
        assert target.address == REAL_SERVER, target
        return await super().check(dataclasses.replace(target, address=LISTENER), timeout)


def checkers():
    return {HealthCheckType.TCP: ProbeTheListener()}


async def test_two_agents_share_one_vip_and_hand_it_over(emulator, backend):
    await populate(emulator, backend)

    kernels = {name: FakeNode.new() for name in ("node-a", "node-b")}
    stops = {name: asyncio.Event() for name in kernels}
    clients, runs, agents = [], {}, {}
    for name, kernel in kernels.items():
        api = k8s.ApiClient(k8s.Configuration(host=str(emulator.url).rstrip("/")))
        api.user_agent = name
        clients.append(api)
        agent = ClusterAgent(
            Options(node=name, lease_namespace="kube-lvs", state_file=None, resync_period=2),
            kernel.kernel(),
            api,
            checkers=checkers(),
        )
        agents[name] = agent
        runs[name] = asyncio.create_task(agent.run(stops[name]))

    def vip_on(name):
        return AddressKey("eth0", VIP, 32) in kernels[name].addresses.present

    def weights(name):
        return [d.weight for d in kernels[name].ipvs.dests.values()]

    try:
        await wait_for(lambda: vip_on("node-a"), timeout=10)
        assert not vip_on("node-b")
        await wait_for(lambda: weights("node-a") == [1] and weights("node-b") == [1], timeout=5)  # hot standby
        await wait_for(
            lambda: status(emulator, "virtualservers", "web").get("activeDirector") == "node-a", timeout=5
        )
        assert status(emulator, "virtualservers", "web")["programmedGeneration"] == 1
        await wait_for(lambda: status(emulator, "realservers", "web-1").get("health") == "Healthy", timeout=5)
        assert status(emulator, "realservers", "web-1")["effectiveWeight"] == 1
        scraped = generate_latest(agents["node-a"].metrics.registry).decode()
        assert 'kubelvs_director_group_held{group="kubelvs-directors-' in scraped
        assert 'node="node-a"} 1.0' in scraped
        assert 'real_server="default/web-1",state="Healthy",virtual_server="default/web"} 1.0' in scraped
        assert weight_series(scraped) == {
            "kubelvs_real_server_weight": 1.0,
            "kubelvs_real_server_effective_weight": 1.0,
        }

        backend.close()  # the real server dies: quiesced on both directors, reported by the holder
        await backend.wait_closed()
        await wait_for(lambda: weights("node-a") == [0] and weights("node-b") == [0], timeout=5)
        await wait_for(lambda: status(emulator, "realservers", "web-1").get("health") == "Unhealthy", timeout=5)
        assert status(emulator, "realservers", "web-1")["effectiveWeight"] == 0
        # the metrics tell the RealServer's weight from the kernel's: configured 1, quiesced to 0
        scraped = generate_latest(agents["node-a"].metrics.registry).decode()
        assert weight_series(scraped) == {
            "kubelvs_real_server_weight": 1.0,
            "kubelvs_real_server_effective_weight": 0.0,
        }
        await wait_for(lambda: ("node-a", "RealServerDown") in events(emulator), timeout=3)
        assert events(emulator)[0] == ("node-a", "DirectorActive"), events(emulator)

        stops["node-a"].set()  # graceful shutdown of the holder: VIP unbound, Lease released, standby takes over
        await runs["node-a"]
        assert not vip_on("node-a")
        took = await wait_for(lambda: vip_on("node-b"), timeout=3)
        assert took < 1.0, f"handover took {took:.2f}s"
        await wait_for(
            lambda: status(emulator, "virtualservers", "web").get("activeDirector") == "node-b", timeout=5
        )
        assert weights("node-a") == [0]  # the stopped agent left IPVS as it was (fail-static)
    finally:
        for stop in stops.values():
            stop.set()
        await asyncio.gather(*runs.values(), return_exceptions=True)
        for api in clients:
            api.close()


async def test_an_agent_cut_off_from_the_api_keeps_its_vip_and_rules(emulator, backend):
    await populate(emulator, backend)
    kernel = FakeNode.new()
    api = k8s.ApiClient(k8s.Configuration(host=str(emulator.url).rstrip("/")))
    api.user_agent = "node-a"
    stop = asyncio.Event()
    agent = ClusterAgent(
        Options(node="node-a", lease_namespace="kube-lvs", state_file=None, resync_period=0.3),
        kernel.kernel(),
        api,
        checkers=checkers(),
    )
    run = asyncio.create_task(agent.run(stop))
    try:
        await wait_for(lambda: AddressKey("eth0", VIP, 32) in kernel.addresses.present, timeout=10)
        await wait_for(
            lambda: status(emulator, "virtualservers", "web").get("activeDirector") == "node-a", timeout=5
        )
        programmed = dict(kernel.ipvs.dests)
        emulator.partitioned.add("node-a")  # new requests of this node fail (its open watches stay)
        stale = {"status": {"activeDirector": "stale"}}
        response = await emulator.patch(
            f"/apis/{GROUP}/{VERSION}/namespaces/default/virtualservers/web/status", json=stale
        )
        assert response.status == 200
        await asyncio.sleep(3)  # two lease durations, ten resync passes: status writes and renewals fail
        assert status(emulator, "virtualservers", "web")["activeDirector"] == "stale"
        assert AddressKey("eth0", VIP, 32) in kernel.addresses.present
        assert kernel.ipvs.dests == programmed
        assert agent.election.held and agent.pipeline.last.outcome.errors == []
        emulator.partitioned.clear()
        await wait_for(
            lambda: status(emulator, "virtualservers", "web").get("activeDirector") == "node-a", timeout=5
        )
    finally:
        stop.set()
        await run
        api.close()
