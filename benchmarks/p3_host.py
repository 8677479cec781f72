"""P3, host half: one RealServer weight change in the API -> the in-cluster agent's kernel write, p50/p99.

The API server is the project's emulator (:mod:`kubelvs.testbed.apiserver`) in a process of its own, served
over HTTP on 127.0.0.1 (``python -m kubelvs.testbed apiserver``, as the demo runs it); the agent is the real
:class:`kubelvs.agent.cluster.ClusterAgent` (list+watch mirrors, Lease election, planner, reconciler, status
reports) with the in-memory kernel gateways of ``tests/unit/fakes.py`` (as P6's host half),
so what is timed is the control-plane path: PATCH of ``spec.weight`` -> watch event -> the agent's pass ->
the destination's weight in the gateway. The benchmark's thread polls the gateway every millisecond.

Per change it also records the IPVS ops the agent applied and the services whose destinations it read, counted
until the agent is idle again (the status report the change causes comes back as a watch event and a pass of
its own, which must write nothing). Workload: ``workload.py`` at ``BENCH_SERVICES`` x ``BENCH_DESTS`` (the
issue's 1,000 x 10 by default); samples: ``BENCH_P3_HOST_SAMPLES`` (20).

``python p3_host.py OUT.json``
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import workload
from kubernetes import client as k8s
from measure import host_main, percentile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit"))
import fakes  # type: ignore[import-not-found]  # tests/unit, put on the path above

from kubelvs.agent.cluster import ClusterAgent
from kubelvs.agent.options import ClusterOptions as Options
from kubelvs.agent.reconciler import Kernel
from kubelvs.netstate import (
    AddDestination,
    DeleteDestination,
    DeleteService,
    Destination,
    DestKey,
    DestStats,
    IpvsOp,
    ServiceKey,
    ServiceStats,
)
from kubelvs.testbed.apiclient import Client

logger = logging.getLogger(__name__)

GOAL_P99_S = 0.2
SETTLE_TIMEOUT_S = 1800.0
CHANGE_TIMEOUT_S = 60.0
RS_API = ("lvs.kubelvs.io/v1alpha1", "realservers")


class CountingFakeIpvs(fakes.FakeIpvs):  # type: ignore[misc]
    """The in-memory table, also counting the services whose destinations were read.

    It reads one service's destinations through an index, as the kernel dumps one service: the plain fake
    scans all 10,000 of them, which would bill the fake's own cost to the agent.
    """

    def __init__(self) -> None:
        super().__init__()
        self.services_read = 0
        self.ops = 0  # applied, counted (the list of them is not kept)
        self._by_service: dict[ServiceKey, set[DestKey]] = {}

    def _one(self, op: IpvsOp) -> str | None:
        result: str | None = super()._one(op)
        self.ops += 1
        self.applied.clear()  # the tests' record of every op: kept, it grew the heap the agent's GC walks
        if result is None:
            match op:
                case AddDestination(destination=d):
                    self._by_service.setdefault(d.key.service, set()).add(d.key)
                case DeleteDestination(key=key):
                    self._by_service.get(key.service, set()).discard(key)
                case DeleteService(key=key):
                    self._by_service.pop(key, None)
        return result

    def destinations(self, services: Sequence[ServiceKey]) -> dict[DestKey, Destination]:
        self.services_read += len(services)
        return {key: self.dests[key] for service in services for key in self._by_service.get(service, ())}

    def stats(self, services: Sequence[ServiceKey]) -> dict[DestKey, DestStats]:
        # one shared record for every idle destination: the fake's own allocations are not the agent's
        idle = DestStats()
        keys = (key for service in services for key in self._by_service.get(service, ()))
        return {key: DestStats(active_conns=self.active[key]) if key in self.active else idle for key in keys}

    def service_stats(self, services: Sequence[ServiceKey]) -> dict[ServiceKey, ServiceStats]:
        return {key: ServiceStats() for key in services if key in self._by_service}


def run_agent(agent: ClusterAgent, ready: threading.Event, box: dict[str, Any]) -> None:
    async def main() -> None:
        box["loop"] = asyncio.get_running_loop()
        box["stop"] = stop = asyncio.Event()
        ready.set()
        await agent.run(stop)

    asyncio.run(main())


def idle(agent: ClusterAgent, quiet: float, timeout: float) -> None:
    """Until no pass has started for ``quiet`` seconds and none is running."""
    deadline = time.monotonic() + timeout
    seen, since = agent.runner.started, time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        started, done = agent.runner.started, agent.runner.done
        if started != seen or done != started:
            seen, since = started, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
    raise RuntimeError(f"the agent did not go idle within {timeout:.0f} s")


@contextlib.contextmanager
def api_server(workdir: Path) -> Iterator[str]:
    """``python -m kubelvs.testbed apiserver`` with the director Node; yields its URL."""
    node = f"{workload.NODE}:" + ",".join(f"{k}={v}" for k, v in workload.DIRECTOR_LABELS.items())
    argv = [sys.executable, "-m", "kubelvs.testbed", "apiserver", "--listen", "127.0.0.1:0",
            "--kubeconfig-out", str(workdir / "kubeconfig"), "--node", node]  # fmt: skip
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # "serving URL; kubeconfig PATH"
        if not line.startswith("serving "):
            raise RuntimeError(f"the API server did not start: {line!r}")
        yield line.split()[1].rstrip(";")
    finally:
        server.terminate()
        server.wait(30)


def measure() -> dict[str, Any]:
    services, dests = workload.sizes()
    objects = workload.manifests(services, dests)
    ipvs = CountingFakeIpvs()
    kernel = Kernel(
        ipvs,
        fakes.FakeAddresses(interfaces=("lo", "eth0", workload.VIP_INTERFACE)),
        fakes.FakeSysctls(),
        fakes.FakeTunnel(),
        fakes.FakePolicyRoutes(),
        fakes.FakePacketRules(),
        fakes.FakeAnnouncements(),
    )
    with tempfile.TemporaryDirectory(prefix="kubelvs-p3-host-") as workdir, api_server(Path(workdir)) as url:
        api = Client(url)
        start = time.perf_counter()
        for raw in objects:
            api.create("virtualservers" if raw["kind"] == "VirtualServer" else "realservers", raw)
        created = time.perf_counter() - start
        # settle_heap as the command line sets it: the agent owns this process's heap as it owns a pod's
        options = Options(
            node=workload.NODE, lease_namespace="kube-lvs", state_file=None, resync_period=3600.0, settle_heap=True
        )
        agent = ClusterAgent(options, kernel, k8s.ApiClient(k8s.Configuration(host=url)))
        ready, box = threading.Event(), dict[str, Any]()
        thread = threading.Thread(target=run_agent, args=(agent, ready, box), name="agent", daemon=True)
        start = time.perf_counter()
        thread.start()
        ready.wait(30)
        try:
            while len(ipvs.dests) < services * dests or not agent.election.held:
                if time.perf_counter() - start > SETTLE_TIMEOUT_S:
                    raise RuntimeError(
                        f"the agent programmed {len(ipvs.dests)} destinations, held {agent.election.held}"
                    )
                time.sleep(0.2)
            idle(agent, quiet=2.0, timeout=SETTLE_TIMEOUT_S)
            settled = time.perf_counter() - start
            return {
                **edits(api, agent, ipvs, services, dests),
                "create_objects_s": created,
                "agent_settle_s": settled,
            }
        finally:
            box["loop"].call_soon_threadsafe(box["stop"].set)
            thread.join(60)


def edits(api: Client, agent: ClusterAgent, ipvs: CountingFakeIpvs, services: int, dests: int) -> dict[str, Any]:
    rng = random.Random(8)
    latencies: list[float] = []
    patches: list[float] = []  # of each latency, the PATCH round trip itself (the API server's share)
    ops: list[int] = []
    reads: list[int] = []
    for round_ in range(max(1, int(os.environ.get("BENCH_P3_HOST_SAMPLES", "") or 20))):
        service, dest = rng.randrange(services), rng.randrange(dests)
        weight = 3000 + round_
        key = next(k for k in ipvs.dests if k.address == workload.rip(service, dest, dests))
        applied, read = ipvs.ops, ipvs.services_read
        start = time.perf_counter()
        api.patch(*RS_API, workload.NAMESPACE, workload.rs_name(service, dest), {"spec": {"weight": weight}})
        patches.append(time.perf_counter() - start)
        while ipvs.dests[key].weight != weight:
            if time.perf_counter() - start > CHANGE_TIMEOUT_S:
                raise RuntimeError(f"weight {weight} of {key} never reached the kernel gateway")
            time.sleep(0.001)
        latencies.append(time.perf_counter() - start)
        idle(agent, quiet=0.5, timeout=CHANGE_TIMEOUT_S)  # the status report's own pass, too
        ops.append(ipvs.ops - applied)
        reads.append(ipvs.services_read - read)
        logger.info("host P3 sample %d: %.1f ms, %d ops", round_, latencies[-1] * 1000, ops[-1])
    return {
        "measured": "host: PATCH spec.weight on the API emulator (HTTP) -> in-cluster agent -> in-memory IPVS",
        "destinations": services * dests,
        "samples": len(latencies),
        "p50_s": percentile(latencies, 0.5),
        "p99_s": percentile(latencies, 0.99),
        "max_s": max(latencies),
        "patch_round_trip_p50_s": percentile(patches, 0.5),
        "agent_min_pass_interval_s": agent.options.min_pass_interval,
        "netlink_ops_per_change": sorted(set(ops)),
        "services_read_per_change": sorted(set(reads)),
        "goal": f"1 write, p99 < {GOAL_P99_S * 1000:.0f} ms",
        "met": ops == [1] * len(ops) and percentile(latencies, 0.99) < GOAL_P99_S,
    }


def main(argv: list[str]) -> int:
    return host_main("host P3", measure, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
