"""P3: one RealServer weight change in the P1 table: exactly one netlink write, and its latency to the kernel.

Two paths, reported apart, both the agents' incremental path (a kept :class:`kubelvs.planner.Planner` re-plans
the one changed VirtualServer; ``Reconciler.update`` diffs against the last applied state, reads only the
touched service's destinations and writes the difference):

- *reconciler*: the edited object is parsed (as the loader checks it), given to the kept planner, planned and
  updated in-process; the clock runs from the edit until the netlink write is acknowledged, then
  ``ipvsadm -Ln -t`` must show it. This is the agent's work for one change, minus how it learns of the change.
- *standalone agent* (:func:`through_agent`): the manifest file is replaced and the clock runs until the agent
  logs the pass that wrote the change (its netlink write acknowledged: the goal's figure, as the reconciler
  path's), and until ``ipvsadm -Ln -t VIP:80`` shows the new weight (that adds the observer: one ``ipvsadm``
  process per look, ~70 ms each under TCG). The agent is woken by inotify, re-reads only the changed file and
  parses only its changed documents. The edits start 3 s after the agent's first pass (steady state), and one
  warm-up edit goes first and is reported apart (like the reconciler path's first update). Driven from P6's
  running agent; when P6 is not selected (``BENCH_ONLY`` without P6), P3 starts that agent itself
  (:func:`agent_path`).

Goal: p99 < 200 ms. The control-plane half (API watch -> agent) is measured on the host by ``p3_host.py``.
"""

from __future__ import annotations

import logging
import os
import random
import re
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import ipvsadm_tool
import workload
from lab import Lab
from measure import percentile

from kubelvs.netstate import Destination, DestKey, ServiceKey
from kubelvs.planner import Planner

logger = logging.getLogger(__name__)

GOAL_P99_S = 0.2
AGENT_TIMEOUT_S = 1800.0
# One weight change is measured in the steady state: after its first pass the agent still collects garbage,
# freezes its heap and repeats 1,000 VIPs' gratuitous ARPs (~1.4 s under TCG) before it is idle.
AGENT_SETTLE_S = 3.0


def samples(name: str, default: int) -> int:
    return max(1, int(os.environ.get(name, "") or default))


def reconciler_path(lab: Lab) -> dict[str, Any]:
    if lab.why_not or lab.counter is None:
        return {"kubelvs": f"not measured: {lab.why_not or 'no kernel gateways'}"}
    setup: dict[str, float] = {}
    if lab.reconciler is None:  # P1 did not run in this boot: program the table first, as P1 would
        start = time.perf_counter()
        lab.new_reconciler()
        lab.sync()
        setup["full_sync_s"] = time.perf_counter() - start
    assert lab.reconciler is not None
    reconciler = lab.reconciler
    planner = Planner()
    planner.replace_all(lab.models.virtual_servers, lab.models.real_servers)
    start = time.perf_counter()
    warm = reconciler.update(planner.plan(workload.facts(), set()).state)  # the kept planner's first state
    setup["first_update_s"] = time.perf_counter() - start
    if warm.total_writes or warm.errors:
        raise RuntimeError(f"the table P1 left is not the planned one: {warm}")
    rng = random.Random(6)
    acked: list[float] = []
    visible: list[float] = []
    ops: list[int] = []
    reads: list[int] = []
    read = count_destination_reads(lab)
    for round_ in range(samples("BENCH_P3_SAMPLES", 10)):
        service, dest = rng.randrange(lab.services), rng.randrange(lab.dests)
        weight = 1000 + round_
        lab.counter.reset()
        read.clear()
        start = time.perf_counter()
        lab.set_weight(service, dest, weight)
        planner.put(lab.models.real_servers[service * lab.dests + dest])
        outcome = reconciler.update(planner.plan(workload.facts(), set()).state)
        acked.append(time.perf_counter() - start)
        if outcome.errors:
            raise RuntimeError(f"update reported errors: {outcome.errors[:3]}")
        rip = workload.rip(service, dest, lab.dests)
        while ipvsadm_tool.weight_of(workload.vip(service), workload.PORT, rip) != weight:
            if time.perf_counter() - start > 60:
                raise RuntimeError(f"weight {weight} of {rip} never showed in ipvsadm -Ln")
            time.sleep(0.01)
        visible.append(time.perf_counter() - start)
        ops.append(lab.counter.ops)
        reads.append(sum(read))
    return {
        "path": "reconciler in-process, incremental (parse edited object, kept planner, Reconciler.update)",
        "samples": len(acked),
        "netlink_ops_per_change": sorted(set(ops)),
        "services_read_per_change": sorted(set(reads)),
        "acked_p50_s": percentile(acked, 0.5),
        "acked_p99_s": percentile(acked, 0.99),
        "visible_p50_s": percentile(visible, 0.5),
        "visible_p99_s": percentile(visible, 0.99),
        **setup,
        "goal": f"1 write, p99 < {GOAL_P99_S * 1000:.0f} ms",
        "met": ops == [1] * len(ops) and percentile(acked, 0.99) < GOAL_P99_S,
    }


def count_destination_reads(lab: Lab) -> list[int]:
    """Per destinations() call, how many services it read (the counter counts writes only)."""
    assert lab.counter is not None
    calls: list[int] = []
    real = lab.counter.destinations

    def counting(services: Sequence[ServiceKey]) -> dict[DestKey, Destination]:
        calls.append(len(services))
        return real(services)

    lab.counter.destinations = counting  # type: ignore[method-assign]
    return calls


def edit_weight(text: str, service: int, dest: int, weight: int) -> str:
    """The manifest text with one RealServer's weight changed (its ``weight:`` line after its name)."""
    pattern = re.compile(rf"(name: {re.escape(workload.rs_name(service, dest))}\n(?:.*\n)*?\s+weight: )\d+")
    edited, count = pattern.subn(rf"\g<1>{weight}", text, count=1)
    if count != 1:
        raise ValueError(f"no weight line for {workload.rs_name(service, dest)} in the manifest")
    return edited


def replace_file(path: Path, text: str) -> None:
    """Write beside and rename, as an editor or a config tool does (the agent never sees half a file)."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def through_agent(lab: Lab, manifest: Path, log: Path) -> dict[str, Any]:
    """File edit -> the agent's logged write and the new weight visible in ``ipvsadm -Ln``, with a standalone
    agent (logging to ``log``) watching ``manifest``. Log lines carry milliseconds."""
    rng = random.Random(7)
    text = manifest.read_text()
    latencies: list[float] = []
    written: list[float] = []
    first: tuple[float, float] | None = None
    time.sleep(AGENT_SETTLE_S)
    for round_ in range(samples("BENCH_P3_AGENT_SAMPLES", 10) + 1):
        service, dest = rng.randrange(lab.services), rng.randrange(lab.dests)
        weight = 2000 + round_
        text = edit_weight(text, service, dest, weight)
        rip = workload.rip(service, dest, lab.dests)
        wall, start = time.time(), time.perf_counter()
        replace_file(manifest, text)
        while ipvsadm_tool.weight_of(workload.vip(service), workload.PORT, rip) != weight:
            if time.perf_counter() - start > AGENT_TIMEOUT_S:
                raise RuntimeError(f"the agent did not program weight {weight} of {rip}")
            time.sleep(0.01)
        visible, logged = time.perf_counter() - start, pass_logged(log, wall) - wall
        logger.info("agent path sample %d: written %.3f s, visible %.3f s", round_, logged, visible)
        if first is None:
            first = (logged, visible)
            continue
        latencies.append(visible)
        written.append(logged)
    assert first is not None
    return {
        "path": "standalone agent: manifest file replaced -> the agent's write acknowledged (its log), and "
        "ipvsadm -Ln showing the weight (incremental pass)",
        "samples": len(written),
        "written_p50_s": percentile(written, 0.5),
        "written_p99_s": percentile(written, 0.99),
        "p50_s": percentile(latencies, 0.5),
        "p99_s": percentile(latencies, 0.99),
        "warm_up_written_s": first[0],
        "warm_up_visible_s": first[1],
        "goal": f"p99 < {GOAL_P99_S * 1000:.0f} ms",
        "met": percentile(written, 0.99) < GOAL_P99_S,
    }


def pass_logged(log: Path, since: float) -> float:
    """Wall time of the first pass the agent logged at or after ``since`` (its log lines carry milliseconds)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if "pass over" not in line:
                continue
            stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            if stamp >= since - 0.001:
                return stamp
        time.sleep(0.05)
    raise RuntimeError("the agent logged no pass for the edit")


def workdir() -> Path:
    """The guest's local log directory (its logs are copied out at the end), else a new one."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            return Path(handler.baseFilename).parent
    return Path(tempfile.mkdtemp(prefix="kubelvs-p3-", dir="/tmp"))


def agent_path(lab: Lab, workdir: Path) -> dict[str, Any]:
    """The standalone-agent path with an agent of its own (when P6 does not run one): it adopts the table
    P1/P3 left (its first pass is a full one, not measured), then serves the file edits."""
    import p6_memory  # the agent's command line and start-up wait are P6's

    manifest = workload.write_yaml(workdir / "workload-p3.yaml", lab.objects)
    p6_memory.prepare_interface()
    log = workdir / "agent-p3.log"
    start = time.perf_counter()
    agent = p6_memory.start_agent(manifest, workdir, log)
    try:
        while not p6_memory.passes(log):
            if agent.poll() is not None:
                raise RuntimeError(f"the agent exited {agent.returncode}: {log.read_text()[-2000:]}")
            if time.perf_counter() - start > AGENT_TIMEOUT_S:
                raise RuntimeError("the agent's first pass did not finish")
            time.sleep(0.5)
        first = time.perf_counter() - start
        figures = through_agent(lab, manifest, log)
        figures["agent_first_pass_s"] = first
        figures["agent_passes"] = [line.split(": ", 1)[-1] for line in p6_memory.passes(log)[-3:]]
        return figures
    finally:
        agent.terminate()
        try:
            agent.wait(timeout=60)
        except Exception:
            agent.kill()
            agent.wait()


def run(lab: Lab) -> dict[str, Any]:
    """The reconciler path, then (unless P6 will drive it) the standalone-agent path, under ``agent``."""
    figures = reconciler_path(lab)
    wanted = os.environ.get("BENCH_ONLY", "").split()
    if wanted and "P6" not in wanted and not lab.why_not:
        try:
            figures["agent"] = agent_path(lab, workdir())
        except Exception as error:  # the reconciler figures stand on their own
            logger.exception("P3 agent path failed")
            figures["agent"] = {"error": f"{type(error).__name__}: {error}"}
    return figures


if __name__ == "__main__":
    import guest

    guest.main(["P1", "P3"])
