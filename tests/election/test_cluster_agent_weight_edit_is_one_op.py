"""The in-cluster agent's incremental path: a RealServer weight PATCH reaches the kernel as one op, reading
only its service; an invalid edit drops the object, and the resync pass is a full one that writes nothing.

The kernel is the reconciler's fake (tests/unit/fakes.py): this proves the agent's wiring; one op on the real
IPVS table is tested in the VM (tests/kernel/test_incremental_update_writes_one_op_per_weight_edit.py).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from election_helpers import agent_idle, wait_for
from kubernetes import client as k8s
from test_election_cluster_agents_share_a_vip import GROUP, LABELS, VERSION, create, declare

from kubelvs.agent.cluster import ClusterAgent
from kubelvs.agent.options import ClusterOptions as Options
from kubelvs.netstate import Destination, DestKey, EditDestination, Family, Proto, ServiceKey

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from fakes import FakeIpvs
from reconciling import Node as FakeNode

BASE = f"/apis/{GROUP}/{VERSION}/namespaces/default"


class ReadCountingIpvs(FakeIpvs):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.read: list[ServiceKey] = []
        self.full_reads = 0

    def services(self) -> dict[ServiceKey, object]:
        self.full_reads += 1
        return super().services()  # type: ignore[no-any-return]

    def destinations(self, services: Sequence[ServiceKey]) -> dict[DestKey, Destination]:
        self.read.extend(services)
        return super().destinations(services)  # type: ignore[no-any-return]


async def populate(emulator) -> None:  # type: ignore[no-untyped-def]
    declare(emulator)
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a", "labels": LABELS}}
    await create(emulator, "/api/v1/nodes", node)
    for i in range(1, 4):
        vs = {"address": f"192.0.2.{i}", "port": 80, "scheduler": "wrr", "directors": {"nodeSelector": LABELS}}
        meta = {"name": f"web{i}", "namespace": "default"}
        await create(
            emulator,
            f"{BASE}/virtualservers",
            {"apiVersion": f"{GROUP}/{VERSION}", "kind": "VirtualServer", "metadata": meta, "spec": vs},
        )
        for d in range(1, 4):
            rs = {"virtualServer": f"web{i}", "address": f"10.9.{i}.{d}", "port": 80, "weight": d}
            meta = {"name": f"web{i}-{d}", "namespace": "default"}
            await create(
                emulator,
                f"{BASE}/realservers",
                {"apiVersion": f"{GROUP}/{VERSION}", "kind": "RealServer", "metadata": meta, "spec": rs},
            )


def cluster_agent(emulator, node: FakeNode) -> tuple[ClusterAgent, k8s.ApiClient]:  # type: ignore[no-untyped-def]
    """node-a's in-cluster agent over ``node``'s in-memory kernel, talking to ``emulator`` (no resync)."""
    api = k8s.ApiClient(k8s.Configuration(host=str(emulator.url).rstrip("/")))
    options = Options(node="node-a", lease_namespace="kube-lvs", state_file=None, resync_period=3600)
    return ClusterAgent(options, node.kernel(), api), api


async def test_a_weight_patch_is_one_op_and_reads_one_service(emulator) -> None:  # type: ignore[no-untyped-def]
    await populate(emulator)
    node = FakeNode.new()
    node.ipvs = ipvs = ReadCountingIpvs()
    agent, api = cluster_agent(emulator, node)
    stop = asyncio.Event()
    run = asyncio.create_task(agent.run(stop))

    def weight(address: str) -> int | None:
        found = [d.weight for k, d in ipvs.dests.items() if k.address == address]
        return found[0] if found else None

    try:
        await wait_for(lambda: len(ipvs.dests) == 9 and bool(agent.election.held), timeout=10)
        await agent_idle(agent)
        ipvs.applied.clear()
        ipvs.read.clear()
        full_reads = ipvs.full_reads

        response = await emulator.patch(f"{BASE}/realservers/web2-3", json={"spec": {"weight": 30}})
        assert response.status == 200
        await wait_for(lambda: weight("10.9.2.3") == 30, timeout=5)
        await agent_idle(agent)
        assert [type(op) for op in ipvs.applied] == [EditDestination]
        assert ipvs.read == [ServiceKey(Family.INET, Proto.TCP, "192.0.2.2", 80)]
        assert ipvs.full_reads == full_reads  # no full pass for an edit

        bad = await emulator.patch(f"{BASE}/realservers/web3-1", json={"spec": {"weight": -5}})
        assert bad.status == 200  # the emulator does not validate: the agent must drop the invalid object
        await wait_for(lambda: weight("10.9.3.1") is None, timeout=5)
        assert weight("10.9.3.2") == 2  # its siblings stay

        agent.runner.wake(full=True)  # what the resync tick does
        await wait_for(lambda: ipvs.full_reads > full_reads, timeout=5)
        await agent_idle(agent)
        assert agent.pipeline.last.outcome.total_writes == 0
    finally:
        stop.set()
        await run
        api.close()
