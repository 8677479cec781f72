"""P7, VM half: Service backends under churn through the standalone agent on Debian's kernel (TCG).

The host half's world (:mod:`p7_endpoints`: 100 VirtualServers following 100 Services of 100 endpoints, NAT
with director SNAT), written as manifests the way ``kubelvs agent --standalone`` reads them: one file of the
VirtualServers and Services, one file per EndpointSlice. Every second 10 % of the endpoints are replaced:
each slice file is replaced (written aside, renamed over) with 10 endpoints swapped, spread over the second.
The agent runs as its own process with the command line P6 starts it with; inotify wakes it and it re-reads
only the replaced files. An observer thread here dumps the touched services from the kernel over netlink until
each new endpoint's destination is there: file replaced -> destination in the kernel, the observer's sweep
(its resolution) reported beside. Writes per replaced endpoint come from the agent's pass lines, its share of
a core from /proc over the churn. Sizes: ``BENCH_P7_VM_SERVICES``, ``BENCH_P7_VM_ENDPOINTS``,
``BENCH_P7_VM_SECONDS`` (default: the host half's).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import p6_memory
import p7_endpoints as p7
import workload
import yaml
from measure import percentile

from kubelvs.kernel.ipvs import KernelIpvsTable
from kubelvs.netstate import Family, Proto, ServiceKey

FIRST_PASS_TIMEOUT_S = 1800.0
SETTLE_TIMEOUT_S = 300.0
SETTLE_S = 5.0  # after its first pass the agent freezes its heap and repeats the VIPs' gratuitous ARPs
WRITES = re.compile(r"ipvs\.(add|delete|edit)_destination=(\d+)")


def sizes() -> tuple[int, int, float]:
    services, endpoints, seconds, _ = p7.sizes()
    return (
        workload.env_int("BENCH_P7_VM_SERVICES", services),
        workload.env_int("BENCH_P7_VM_ENDPOINTS", endpoints),
        float(workload.env_int("BENCH_P7_VM_SECONDS", int(seconds))),
    )


def service_key(index: int) -> ServiceKey:
    return ServiceKey(Family.INET, Proto.TCP, f"10.66.{index // 256}.{index % 256 + 1}", 80)


def write_manifests(directory: Path, services: int, endpoints: int) -> None:
    objects = p7.objects(services, endpoints)
    rest = [raw for plural, raw in objects if plural != "endpointslices"]
    (directory / "services.yaml").write_text(yaml.safe_dump_all(rest))
    for s in range(services):
        replace(slice_path(directory, s), p7.slice_body(s, [p7.endpoint(s, 0, i) for i in range(endpoints)]))


def slice_path(directory: Path, service: int) -> Path:
    return directory / f"slice-{service:03d}.yaml"


def replace(path: Path, body: dict[str, Any]) -> None:
    aside = path.with_suffix(".tmp")
    aside.write_text(yaml.safe_dump(body))
    os.replace(aside, path)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def destination_writes(log: Path) -> int:
    return sum(int(count) for line in p6_memory.passes(log) for _, count in WRITES.findall(line))


class Observer(threading.Thread):
    """Dumps the services with endpoints on the way and notes when each new destination is in the kernel."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="observer")
        self.table = KernelIpvsTable()
        self.lock = threading.Lock()
        self.pending: dict[int, list[tuple[float, set[str]]]] = {}  # service -> (sent, addresses not seen)
        self.latencies: list[float] = []
        self.sweeps: list[float] = []
        self.stopping = threading.Event()

    def expect(self, service: int, sent: float, addresses: list[str]) -> None:
        with self.lock:
            self.pending.setdefault(service, []).append((sent, set(addresses)))

    def outstanding(self) -> int:
        with self.lock:
            return sum(len(left) for waits in self.pending.values() for _, left in waits)

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            with self.lock:
                services = list(self.pending)
            for service in services:
                present = {key.address for key in self.table.destinations([service_key(service)])}
                seen = time.monotonic()
                with self.lock:
                    waits = []
                    for sent, left in self.pending.get(service, []):
                        found = left & present
                        self.latencies.extend(seen - sent for _ in found)
                        if left - found:
                            waits.append((sent, left - found))
                    if waits:
                        self.pending[service] = waits
                    else:
                        self.pending.pop(service, None)
            if services:
                self.sweeps.append(time.monotonic() - started)
            else:
                time.sleep(0.005)


def churn(directory: Path, observer: Observer, services: int, endpoints: int, seconds: float) -> Iterator[int]:
    """The host half's churn, as file replacements; yields the number of endpoints each replacement swapped."""
    per_slice = max(1, round(endpoints * p7.sizes()[3]))
    live = {s: [p7.endpoint(s, 0, i) for i in range(endpoints)] for s in range(services)}
    serial = dict.fromkeys(range(services), 0)
    start, step, tick = time.monotonic(), 1.0 / services, 0
    while time.monotonic() - start < seconds:
        for s in range(services):
            time.sleep(max(0.0, start + tick + s * step - time.monotonic()))
            fresh = []
            for _ in range(per_slice):
                serial[s] += 1
                fresh.append(p7.endpoint(s, (serial[s] // endpoints) + 1, serial[s] % endpoints))
            live[s] = live[s][per_slice:] + fresh
            sent = time.monotonic()
            replace(slice_path(directory, s), p7.slice_body(s, live[s]))
            observer.expect(s, sent, fresh)
            yield len(fresh)
        tick += 1


def run(workdir: Path) -> dict[str, Any]:
    services, endpoints, seconds = sizes()
    directory = workdir / "p7-manifests"
    directory.mkdir(parents=True, exist_ok=True)
    write_manifests(directory, services, endpoints)
    p6_memory.prepare_interface()
    log = workdir / "agent-p7.log"
    started = time.monotonic()
    agent = p6_memory.start_agent(directory, workdir, log)
    observer = Observer()
    try:
        total = services * endpoints
        while len(observer.table.destinations(list(observer.table.services()))) < total:
            if agent.poll() is not None:
                raise RuntimeError(f"the agent exited {agent.returncode}: {log.read_text()[-2000:]}")
            if time.monotonic() - started > FIRST_PASS_TIMEOUT_S:
                raise RuntimeError("the agent did not program every endpoint")
            time.sleep(1.0)
        first = time.monotonic() - started
        time.sleep(SETTLE_S)
        writes_before, cpu_before, wall_before = destination_writes(log), cpu_seconds(agent.pid), time.monotonic()
        observer.start()
        replaced = sum(churn(directory, observer, services, endpoints, seconds))
        cpu_after, wall_after = cpu_seconds(agent.pid), time.monotonic()
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while observer.outstanding() and time.monotonic() < deadline:
            time.sleep(0.2)
        observer.stopping.set()
        observer.join(10)
        time.sleep(2.0)  # the last pass's line
        writes = destination_writes(log) - writes_before
        latencies, share = observer.latencies, (cpu_after - cpu_before) / (wall_after - wall_before)
        p99 = percentile(latencies, 0.99) if latencies else float("nan")
        return {
            "measured": "VM (TCG): slice file replaced -> standalone agent (inotify) -> destination in the kernel",
            "destinations": total,
            "seconds": seconds,
            "endpoints_replaced": replaced,
            "destination_writes": writes,
            "writes_per_replaced_endpoint": writes / replaced if replaced else float("nan"),
            "never_added": observer.outstanding(),
            "p50_s": percentile(latencies, 0.5) if latencies else float("nan"),
            "p99_s": p99,
            "max_s": max(latencies) if latencies else float("nan"),
            "observer_sweep_p50_s": percentile(observer.sweeps, 0.5) if observer.sweeps else float("nan"),
            "agent_cpu_share_of_one_core": share,
            "agent_first_sync_s": first,
            "goal": f"2 writes per replaced endpoint, p99 < {p7.GOAL_P99_S * 1000:.0f} ms (the host's goal; "
            "TCG is an emulated CPU)",
            "met": writes == 2 * replaced and not observer.outstanding() and p99 < p7.GOAL_P99_S,
        }
    finally:
        observer.table.close()
        agent.terminate()
        try:
            agent.wait(timeout=60)
        except Exception:
            agent.kill()
