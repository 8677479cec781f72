"""Both agent modes start with one warning when no VIP pools are set -- what that allows and which flag and
chart value fix it -- and none with pools (issue 11). In-memory kernels; the cluster agent on kmock's emulator.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s

from kubelvs.agent.cluster import ClusterAgent
from kubelvs.agent.options import ClusterOptions
from kubelvs.agent.standalone import StandaloneAgent

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from reconciling import Node as FakeNode
from test_reconciler_driven_by_standalone_manifests import objects, options

POOLS = (ipaddress.ip_network("192.0.2.0/24"),)


def pool_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and "VIP pools" in record.getMessage()
    ]


def assert_the_warning(lines: list[str]) -> None:
    assert len(lines) == 1, lines
    (line,) = lines
    assert "any address may be claimed as a VIP" in line
    assert "other tenants" in line and "the node's own network" in line
    assert "--vip-pools CIDR,..." in line and "config.vipPools" in line


@pytest.mark.parametrize("pools", [(), POOLS], ids=["no-pools", "pools"])
def test_the_standalone_agent_warns_once_at_start_without_pools(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, pools: tuple
) -> None:
    path = tmp_path / "web.yaml"
    path.write_text(yaml.safe_dump_all(objects()))
    with caplog.at_level(logging.WARNING):
        assert StandaloneAgent(options(path, vip_pools=pools), FakeNode.new().kernel()).run(once=True) == 0
    if pools:
        assert pool_warnings(caplog) == []
    else:
        assert_the_warning(pool_warnings(caplog))


@pytest.mark.parametrize("pools", [(), POOLS], ids=["no-pools", "pools"])
async def test_the_cluster_agent_warns_once_at_start_without_pools(
    emulator: object, caplog: pytest.LogCaptureFixture, pools: tuple
) -> None:
    api = k8s.ApiClient(k8s.Configuration(host=str(emulator.url).rstrip("/")))  # type: ignore[attr-defined]
    agent = ClusterAgent(
        ClusterOptions(node="node-a", lease_namespace="kube-lvs", vip_pools=pools, state_file=None),
        FakeNode.new().kernel(),
        api,
    )
    stopping = asyncio.Event()
    stopping.set()  # start, then stop before the first pass: only the start-up is exercised
    try:
        with caplog.at_level(logging.WARNING):
            await asyncio.wait_for(agent.run(stopping), 10)
    finally:
        api.close()
    if pools:
        assert pool_warnings(caplog) == []
    else:
        assert_the_warning(pool_warnings(caplog))
