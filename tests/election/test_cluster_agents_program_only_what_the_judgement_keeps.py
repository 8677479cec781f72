"""Two in-cluster agents obey the one judgement: of two claimants of one VIP:port in different namespaces the
older one's real servers are programmed on every director whatever the names sort like; a VIP that is a
node's address is never programmed nor bound; an object the operator rejected for its current generation is
not programmed, and its next generation (not yet judged) is.

kmock's emulator with the project's extensions (creationTimestamp, generation); in-memory kernels
(tests/unit/fakes.py). The VM's full-stack test shows the same with the real operator and kernel.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from election_helpers import agent_idle, wait_for
from kubernetes import client as k8s
from test_election_cluster_agents_share_a_vip import GROUP, LABELS, VERSION, create, declare

from kubelvs.agent.cluster import ClusterAgent
from kubelvs.agent.options import ClusterOptions
from kubelvs.netstate import AddressKey

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from reconciling import Node as FakeNode

SHARED_VIP, NODE_B_ADDRESS, VETOED_VIP = "192.0.2.100", "192.0.2.50", "192.0.2.101"
NODES = ("node-a", "node-b")


def base(namespace: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}"


async def service(emulator: Any, namespace: str, name: str, vip: str, rip: str) -> None:
    """A VirtualServer on ``vip``:80 with one RealServer ``rip``."""
    await create(
        emulator,
        f"{base(namespace)}/virtualservers",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "VirtualServer",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"address": vip, "port": 80, "directors": {"nodeSelector": LABELS, "preferred": ["node-a"]}},
        },
    )
    await create(
        emulator,
        f"{base(namespace)}/realservers",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "RealServer",
            "metadata": {"name": f"{name}-1", "namespace": namespace},
            "spec": {"virtualServer": name, "address": rip},
        },
    )


def real_servers(node: FakeNode, vip: str) -> set[str]:
    return {key.address for key in node.ipvs.dests if key.service.address == vip}


def services(node: FakeNode) -> set[str]:
    return {key.address for key in node.ipvs.table}


async def test_agents_program_the_older_claimant_never_a_node_address_and_obey_rejections(emulator: Any) -> None:
    declare(emulator)
    for name, address in (("node-a", "198.51.100.1"), ("node-b", NODE_B_ADDRESS)):
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": LABELS},
            "status": {"addresses": [{"type": "InternalIP", "address": address}]},
        }
        await create(emulator, "/api/v1/nodes", node)
    await service(emulator, "zz", "web", SHARED_VIP, "10.9.0.1")  # the older claimant, last by name
    await asyncio.sleep(1.1)  # creationTimestamp counts seconds
    await service(emulator, "aa", "web", SHARED_VIP, "10.9.0.2")  # newer, first by name
    await service(emulator, "default", "on-node", NODE_B_ADDRESS, "10.9.0.3")
    await service(emulator, "default", "vetoed", VETOED_VIP, "10.9.0.4")
    rejected = {
        "type": "Accepted",
        "status": "False",
        "reason": "ServiceConflict",
        "message": "rejected by a test standing in for the operator",
        "observedGeneration": 1,
    }
    response = await emulator.patch(
        f"{base('default')}/virtualservers/vetoed/status", json={"status": {"conditions": [rejected]}}
    )
    assert response.status == 200

    kernels = {name: FakeNode.new() for name in NODES}
    stops = {name: asyncio.Event() for name in NODES}
    clients, agents, runs = [], {}, {}
    for name in NODES:
        api = k8s.ApiClient(k8s.Configuration(host=str(emulator.url).rstrip("/")))
        api.user_agent = name
        clients.append(api)
        options = ClusterOptions(node=name, lease_namespace="kube-lvs", state_file=None, resync_period=3600)
        agents[name] = ClusterAgent(options, kernels[name].kernel(), api)
        runs[name] = asyncio.create_task(agents[name].run(stops[name]))
    try:
        await wait_for(lambda: AddressKey("eth0", SHARED_VIP, 32) in kernels["node-a"].addresses.present, 10)
        for name in NODES:
            await agent_idle(agents[name])
        for name, node in kernels.items():
            assert real_servers(node, SHARED_VIP) == {"10.9.0.1"}, name  # zz/web: the older keeps the VIP
            assert services(node) == {SHARED_VIP}, name  # neither the node address nor the vetoed VIP
        present = {key.address for key in kernels["node-a"].addresses.present}
        assert NODE_B_ADDRESS not in present and VETOED_VIP not in present
        verdict = agents["node-a"].planner.verdict("VirtualServer", "default/on-node")
        assert verdict is not None and "is an address of node node-b" in verdict.message

        # The next generation of the vetoed object is not yet judged by the operator: the agents program it.
        response = await emulator.patch(f"{base('default')}/virtualservers/vetoed", json={"spec": {"port": 81}})
        assert response.status == 200
        for name, node in kernels.items():
            await wait_for(lambda node=node: VETOED_VIP in services(node), 5)
            assert real_servers(node, VETOED_VIP) == {"10.9.0.4"}, name

        # The older claimant goes: the newer one takes the VIP on every director.
        response = await emulator.delete(f"{base('zz')}/virtualservers/web")
        assert response.status in (200, 202)
        for node in kernels.values():
            await wait_for(lambda node=node: real_servers(node, SHARED_VIP) == {"10.9.0.2"}, 5)
    finally:
        for stop in stops.values():
            stop.set()
        await asyncio.gather(*runs.values(), return_exceptions=True)
        for api in clients:
            api.close()
