"""P3: one RealServer weight change in the P1 table: exactly one netlink write, and its latency to the kernel.

Two paths, reported apart:

- *reconciler*: the edited object is parsed (as the loader checks it), planned and reconciled in-process; the
  clock runs from the edit until the netlink write is acknowledged, then ``ipvsadm -Ln -t`` must show it.
  This is the agent's work for one change, minus how it learns of the change.
- *standalone agent* (:func:`through_agent`, driven from P6's running agent): the manifest file is replaced
  and the clock runs until ``ipvsadm -Ln -t VIP:80`` shows the new weight. The agent polls its files every
  second and re-reads all of them on a change, so this includes YAML parsing of the whole set.

Goal: p99 < 200 ms. The in-cluster agent (API watch -> reconcile) does not exist yet, so the control-plane
half on the host is not measured.
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from pathlib import Path
from typing import Any

import ipvsadm_tool
import workload
from lab import Lab
from measure import percentile

logger = logging.getLogger(__name__)

GOAL_P99_S = 0.2
AGENT_TIMEOUT_S = 1800.0


def samples(name: str, default: int) -> int:
    return max(1, int(os.environ.get(name, "") or default))


def run(lab: Lab) -> dict[str, Any]:
    if lab.why_not or lab.reconciler is None or lab.counter is None:
        return {"kubelvs": f"not measured: {lab.why_not or 'P1 did not leave a table'}"}
    rng = random.Random(6)
    acked: list[float] = []
    visible: list[float] = []
    ops: list[int] = []
    for round_ in range(samples("BENCH_P3_SAMPLES", 10)):
        service, dest = rng.randrange(lab.services), rng.randrange(lab.dests)
        weight = 1000 + round_
        lab.counter.reset()
        start = time.perf_counter()
        lab.set_weight(service, dest, weight)
        lab.sync()
        acked.append(time.perf_counter() - start)
        rip = workload.rip(service, dest, lab.dests)
        while ipvsadm_tool.weight_of(workload.vip(service), workload.PORT, rip) != weight:
            if time.perf_counter() - start > 60:
                raise RuntimeError(f"weight {weight} of {rip} never showed in ipvsadm -Ln")
            time.sleep(0.01)
        visible.append(time.perf_counter() - start)
        ops.append(lab.counter.ops)
    return {
        "path": "reconciler in-process (parse edited object, plan, reconcile)",
        "samples": len(acked),
        "netlink_ops_per_change": sorted(set(ops)),
        "acked_p50_s": percentile(acked, 0.5),
        "acked_p99_s": percentile(acked, 0.99),
        "visible_p50_s": percentile(visible, 0.5),
        "visible_p99_s": percentile(visible, 0.99),
        "goal": f"1 write, p99 < {GOAL_P99_S * 1000:.0f} ms",
        "met": ops == [1] * len(ops) and percentile(acked, 0.99) < GOAL_P99_S,
    }


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


def through_agent(lab: Lab, manifest: Path) -> dict[str, Any]:
    """File edit -> new weight visible in ``ipvsadm -Ln``, with a standalone agent watching ``manifest``."""
    rng = random.Random(7)
    text = manifest.read_text()
    latencies: list[float] = []
    for round_ in range(samples("BENCH_P3_AGENT_SAMPLES", 1)):
        service, dest = rng.randrange(lab.services), rng.randrange(lab.dests)
        weight = 2000 + round_
        text = edit_weight(text, service, dest, weight)
        rip = workload.rip(service, dest, lab.dests)
        start = time.perf_counter()
        replace_file(manifest, text)
        while ipvsadm_tool.weight_of(workload.vip(service), workload.PORT, rip) != weight:
            if time.perf_counter() - start > AGENT_TIMEOUT_S:
                raise RuntimeError(f"the agent did not program weight {weight} of {rip}")
            time.sleep(0.05)
        latencies.append(time.perf_counter() - start)
        logger.info("agent path sample %d: %.2f s", round_, latencies[-1])
    return {
        "path": "standalone agent: manifest file replaced -> ipvsadm -Ln shows the weight",
        "samples": len(latencies),
        "p50_s": percentile(latencies, 0.5),
        "p99_s": percentile(latencies, 0.99),
        "goal": f"p99 < {GOAL_P99_S * 1000:.0f} ms",
        "met": percentile(latencies, 0.99) < GOAL_P99_S,
    }


if __name__ == "__main__":
    import guest

    guest.main(["P1", "P3"])
