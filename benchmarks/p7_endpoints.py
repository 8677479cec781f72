"""P7, host half: Service backends under churn -- EndpointSlice writes -> the in-cluster agent's kernel writes.

100 VirtualServers follow 100 Services of 100 endpoints each (10,000 destinations); every second 10 % of the
endpoints are replaced (each slice loses 10 endpoints and gains 10 new ones, one PATCH per slice, spread over
the second) for 60 s. The API server is the project's emulator in a process of its own (as in P3's host half);
the PATCHes come from another process, so this one's CPU time is the agent's (its watches, planner, reconciler,
status reports) and the in-memory kernel's, which records when each new endpoint's destination is added.

Reported: kernel writes per replaced endpoint (exactly 2 are needed: the new one's add, the old one's delete --
nothing is draining, the in-memory kernel has no connections), slice PATCH sent -> destination added p50/p99,
and the agent's share of one core over the churn. Sizes: ``BENCH_P7_SERVICES``, ``BENCH_P7_ENDPOINTS``,
``BENCH_P7_SECONDS``, ``BENCH_P7_CHURN`` (a fraction).

``python p7_endpoints.py OUT.json``; ``python p7_endpoints.py churn URL SERVICES ENDPOINTS SECONDS CHURN`` is
the PATCHing process it starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import workload
from kubernetes import client as k8s
from measure import host_main, percentile
from p3_host import CountingFakeIpvs, api_server, idle, run_agent

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit"))
import fakes  # type: ignore[import-not-found]  # tests/unit, put on the path above

from kubelvs.agent.cluster import ClusterAgent
from kubelvs.agent.options import ClusterOptions as Options
from kubelvs.agent.reconciler import Kernel
from kubelvs.netstate import AddDestination, DeleteDestination, EditDestination, IpvsOp
from kubelvs.testbed.apiclient import Client

GOAL_P99_S = 0.1
GOAL_CPU = 0.25
SETTLE_TIMEOUT_S = 600.0
SLICES = ("discovery.k8s.io/v1", "endpointslices")


def sizes() -> tuple[int, int, float, float]:
    churn = os.environ.get("BENCH_P7_CHURN", "").strip()
    return (
        workload.env_int("BENCH_P7_SERVICES", 100),
        workload.env_int("BENCH_P7_ENDPOINTS", 100),
        float(workload.env_int("BENCH_P7_SECONDS", 60)),
        float(churn) if churn else 0.10,
    )


def endpoint(service: int, generation: int, index: int) -> str:
    """The address of endpoint ``index`` of ``service``'s ``generation``-th pod set (in 10.200.0.0/11)."""
    number = (service * 50 + generation % 50) * 256 + index  # a slot wraps after 50 generations
    return f"10.{200 + number // 65536}.{number // 256 % 256}.{number % 256}"


def slice_body(service: int, addresses: list[str]) -> dict[str, Any]:
    ready = {"ready": True, "serving": True, "terminating": False}
    return {
        "apiVersion": SLICES[0],
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"web-{service:03d}-a",
            "namespace": workload.NAMESPACE,
            "labels": {"kubernetes.io/service-name": f"web-{service:03d}"},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": [a], "conditions": ready, "nodeName": "node-b"} for a in addresses],
    }


def objects(services: int, endpoints: int) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for s in range(services):
        name = f"web-{s:03d}"
        spec = {
            "address": f"10.66.{s // 256}.{s % 256 + 1}",
            "port": 80,
            "scheduler": "rr",
            "forwarding": "nat",
            "directors": {"nodeSelector": workload.DIRECTOR_LABELS, "interface": workload.VIP_INTERFACE},
            "backends": {"service": name, "port": "http"},
        }
        meta = {"name": name, "namespace": workload.NAMESPACE}
        found.append(
            (
                "virtualservers",
                {"apiVersion": workload.API, "kind": "VirtualServer", "metadata": meta, "spec": spec},
            )
        )
        ports = [{"name": "http", "port": 80, "targetPort": 8080}]
        found.append(
            ("services", {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {"ports": ports}})
        )
        found.append(("endpointslices", slice_body(s, [endpoint(s, 0, i) for i in range(endpoints)])))
    return found


def churn(url: str, services: int, endpoints: int, seconds: float, fraction: float) -> None:
    """The PATCHing process: every second each slice swaps its ``fraction`` oldest endpoints for new ones;
    one line per PATCH on stdout: ``sent_monotonic new_address ...`` (so the agent's process can time them)."""
    api = Client(url)
    per_slice = max(1, round(endpoints * fraction))
    live = {s: [endpoint(s, 0, i) for i in range(endpoints)] for s in range(services)}
    serial = {s: 0 for s in range(services)}
    start = time.monotonic()
    step = 1.0 / services
    tick = 0
    while time.monotonic() - start < seconds:
        for s in range(services):
            due = start + tick + s * step
            time.sleep(max(0.0, due - time.monotonic()))
            fresh = []
            for _ in range(per_slice):
                serial[s] += 1
                fresh.append(endpoint(s, (serial[s] // endpoints) + 1, serial[s] % endpoints))
            live[s] = live[s][per_slice:] + fresh
            sent = time.monotonic()
            body = slice_body(s, live[s])
            api.patch(*SLICES, workload.NAMESPACE, body["metadata"]["name"], {"endpoints": body["endpoints"]})
            print(f"{sent:.6f} {' '.join(fresh)}", flush=True)
        tick += 1


class TimedIpvs(CountingFakeIpvs):  # type: ignore[misc]
    """The in-memory table, also noting when each destination was added and counting destination writes."""

    def __init__(self) -> None:
        super().__init__()
        self.added_at: dict[str, float] = {}
        self.destination_writes = 0

    def _one(self, op: IpvsOp) -> str | None:
        result: str | None = super()._one(op)
        if isinstance(op, AddDestination | DeleteDestination | EditDestination):
            self.destination_writes += 1
        if isinstance(op, AddDestination) and result is None:
            self.added_at[op.destination.key.address] = time.monotonic()
        return result


def measure() -> dict[str, Any]:
    services, endpoints, seconds, fraction = sizes()
    ipvs = TimedIpvs()
    kernel = Kernel(
        ipvs,
        fakes.FakeAddresses(interfaces=("lo", "eth0", workload.VIP_INTERFACE)),
        fakes.FakeSysctls({"net/ipv4/ip_forward": "0", "net/ipv4/vs/conntrack": "0"}),  # NAT's two
        fakes.FakeTunnel(),
        fakes.FakePolicyRoutes(),
        fakes.FakePacketRules(),
        fakes.FakeAnnouncements(),
    )
    with tempfile.TemporaryDirectory(prefix="kubelvs-p7-") as workdir, api_server(Path(workdir)) as url:
        api = Client(url)
        for plural, raw in objects(services, endpoints):
            api.create(plural, raw)
        # settle_heap as the command line sets it: the agent owns this process's heap as it owns a pod's
        options = Options(
            node=workload.NODE, lease_namespace="kube-lvs", state_file=None, resync_period=3600.0, settle_heap=True
        )
        agent = ClusterAgent(options, kernel, k8s.ApiClient(k8s.Configuration(host=url)))
        ready, box = threading.Event(), dict[str, Any]()
        thread = threading.Thread(target=run_agent, args=(agent, ready, box), name="agent", daemon=True)
        thread.start()
        ready.wait(30)
        try:
            start = time.monotonic()
            while len(ipvs.dests) < services * endpoints or not agent.election.held:
                if time.monotonic() - start > SETTLE_TIMEOUT_S:
                    raise RuntimeError(f"the agent programmed {len(ipvs.dests)} destinations")
                time.sleep(0.2)
            idle(agent, quiet=2.0, timeout=SETTLE_TIMEOUT_S)
            return churned(url, agent, ipvs, services, endpoints, seconds, fraction)
        finally:
            box["loop"].call_soon_threadsafe(box["stop"].set)
            thread.join(60)


def churned(
    url: str, agent: ClusterAgent, ipvs: TimedIpvs, services: int, endpoints: int, seconds: float, fraction: float
) -> dict[str, Any]:
    writes_before, ipvs.added_at = ipvs.destination_writes, {}
    cpu_before, wall_before = os.times(), time.monotonic()
    argv = [sys.executable, __file__, "churn", url, str(services), str(endpoints), str(seconds), str(fraction)]
    driver = subprocess.run(argv, capture_output=True, text=True, timeout=seconds * 4 + 120, check=True)
    cpu_after, wall_after = os.times(), time.monotonic()
    idle(agent, quiet=2.0, timeout=120)
    sent = [(float(line.split()[0]), line.split()[1:]) for line in driver.stdout.splitlines() if line.strip()]
    replaced = sum(len(fresh) for _, fresh in sent)
    latencies, missing = [], 0
    for at, fresh in sent:
        for address in fresh:
            added = ipvs.added_at.get(address)
            if added is None:
                missing += 1
            else:
                latencies.append(added - at)
    cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    share = cpu / (wall_after - wall_before)
    writes = ipvs.destination_writes - writes_before
    p99 = percentile(latencies, 0.99) if latencies else float("nan")
    return {
        "measured": "host: EndpointSlice PATCH on the API emulator (HTTP) -> in-cluster agent -> in-memory IPVS",
        "destinations": services * endpoints,
        "seconds": seconds,
        "slice_patches": len(sent),
        "endpoints_replaced": replaced,
        "destination_writes": writes,
        "writes_per_replaced_endpoint": writes / replaced if replaced else float("nan"),
        "never_added": missing,
        "p50_s": percentile(latencies, 0.5) if latencies else float("nan"),
        "p99_s": p99,
        "max_s": max(latencies) if latencies else float("nan"),
        "agent_cpu_share_of_one_core": share,
        "passes": agent.runner.done,
        "goal": f"2 writes per replaced endpoint, p99 < {GOAL_P99_S * 1000:.0f} ms, CPU < {GOAL_CPU:.0%}",
        "met": writes == 2 * replaced and missing == 0 and p99 < GOAL_P99_S and share < GOAL_CPU,
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["churn"]:
        churn(argv[1], int(argv[2]), int(argv[3]), float(argv[4]), float(argv[5]))
        return 0
    return host_main("host P7", measure, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
