"""The in-cluster agent against the API emulator, probed over HTTP as kubelet would: /healthz is 200 while its
first pass is held up in the kernel (the loop stays free), /readyz is 503 until that pass has adopted the
kernel state and 200 after it; a watch failing for longer than the resync period makes it 503 again.

The kernel is the reconciler's fake (tests/unit/fakes.py), whose IPVS read the test holds back.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from election_helpers import wait_for
from kubernetes import client as k8s
from test_cluster_agent_weight_edit_is_one_op import populate

from kubelvs.agent.cluster import ClusterAgent
from kubelvs.agent.options import ClusterOptions as Options
from kubelvs.netstate import ServiceKey

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from fakes import FakeIpvs
from reconciling import Node as FakeNode


class HeldIpvs(FakeIpvs):  # type: ignore[misc]
    """An IPVS table whose reads wait until the test lets them through."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = threading.Event()
        self.let_through = threading.Event()

    def services(self) -> dict[ServiceKey, object]:
        self.reading.set()
        assert self.let_through.wait(30), "the test never let the IPVS read through"
        return super().services()  # type: ignore[no-any-return]


def probe(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def test_readyz_waits_for_the_first_pass_and_healthz_does_not(emulator) -> None:  # type: ignore[no-untyped-def]
    await populate(emulator)
    node = FakeNode.new()
    node.ipvs = ipvs = HeldIpvs()
    api = k8s.ApiClient(k8s.Configuration(host=str(emulator.url).rstrip("/")))
    options = Options(
        node="node-a", lease_namespace="kube-lvs", state_file=None, resync_period=3600, metrics_port=0
    )
    agent = ClusterAgent(options, node.kernel(), api)
    stop = asyncio.Event()
    run = asyncio.create_task(agent.run(stop))
    try:
        await wait_for(lambda: agent.served_port is not None, timeout=10)
        port = agent.served_port
        assert port is not None
        assert await asyncio.to_thread(probe, port, "/healthz") == (200, "ok\n")
        await wait_for(ipvs.reading.is_set, timeout=10)  # the first pass is in the kernel now
        assert agent.runner.done == 0
        assert await asyncio.to_thread(probe, port, "/readyz") == (
            503,
            "the first pass has not adopted the kernel state yet\n",
        )
        assert await asyncio.to_thread(probe, port, "/healthz") == (200, "ok\n")

        ipvs.let_through.set()
        await wait_for(lambda: agent.runner.done >= 1, timeout=10)
        assert len(ipvs.dests) == 9  # the pass did program the kernel
        assert await asyncio.to_thread(probe, port, "/readyz") == (200, "ok\n")

        # a watch failing for longer than the resync period (as its thread records it): not ready again
        mirror = agent.source.mirrors["RealServer"]
        mirror.failing_since = time.monotonic() - 7200
        status, reason = await asyncio.to_thread(probe, port, "/readyz")
        assert (status, reason[:46]) == (503, "the watch of RealServers has been failing for "), reason
        mirror.failing_since = None
        assert await asyncio.to_thread(probe, port, "/readyz") == (200, "ok\n")
    finally:
        ipvs.let_through.set()
        stop.set()
        await run
        api.close()
