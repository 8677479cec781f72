"""P1: full sync of 1,000 services x 10 real servers into an empty kernel, kube-lvs against ``ipvsadm -R``.

kube-lvs' time is one agent pass from checked models: the planner, then the reconciler (reads the empty
table, diffs, applies every op through ``IpvsTable.apply``). YAML parsing is not in it (P6 reports the
standalone agent's whole first pass). ``ipvsadm -R`` gets the same rules, rendered by ``kubelvs export``'s
renderer. Both start from ``ipvsadm -C`` in the same boot; the kernel's table is compared line by line
with ``ipvsadm -Sn`` after each, so both really programmed the same thing. Goal: kube-lvs <= 1.0x ipvsadm.

Run inside the VM: ``python -m kubelvs.testbed run -- .venv/bin/python benchmarks/guest.py P1``.
"""

from __future__ import annotations

import logging
import statistics
from typing import Any

import ipvsadm_tool
from lab import Lab
from measure import env_rounds

logger = logging.getLogger(__name__)

GOAL = 1.0


def run(lab: Lab) -> dict[str, Any]:
    expected = {line.strip() for line in lab.restore_text.splitlines() if line.strip()}
    figures: dict[str, Any] = {"services": lab.services, "destinations": lab.services * lab.dests}
    baseline: list[float] = []
    ours: list[tuple[float, float]] = []
    for _ in range(env_rounds()):
        ipvsadm_tool.clear()
        baseline.append(ipvsadm_tool.restore(lab.restore_text))
        figures["ipvsadm_table_matches"] = ipvsadm_tool.saved_lines() == expected
        if lab.why_not:
            continue  # leave ipvsadm's table for P2's dump
        ipvsadm_tool.clear()
        lab.new_reconciler()
        assert lab.counter is not None
        lab.counter.reset()
        outcome, planning, reconciling = lab.sync()
        ours.append((planning, reconciling))
        figures["kubelvs_table_matches"] = ipvsadm_tool.saved_lines() == expected
        figures["kubelvs_writes"] = outcome.total_writes
        figures["kubelvs_netlink_ops"] = lab.counter.ops
        figures["kubelvs_apply_calls"] = lab.counter.batches
    figures["ipvsadm_restore_s"] = statistics.median(baseline)
    figures["rounds"] = len(baseline)
    if not ours:
        figures["kubelvs"] = f"not measured: {lab.why_not}"
        return figures
    planning = statistics.median(p for p, _ in ours)
    reconciling = statistics.median(r for _, r in ours)
    figures["kubelvs_plan_s"] = planning
    figures["kubelvs_reconcile_s"] = reconciling
    figures["kubelvs_total_s"] = planning + reconciling
    figures["ratio"] = (planning + reconciling) / figures["ipvsadm_restore_s"]
    figures["goal"] = f"<= {GOAL}x ipvsadm -R"
    figures["met"] = figures["ratio"] <= GOAL and figures["kubelvs_table_matches"]
    return figures


if __name__ == "__main__":
    import guest

    guest.main(["P1"])
