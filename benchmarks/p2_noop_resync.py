"""P2: a resync over the table P1 left, with nothing changed: zero kernel writes, and its time against a dump.

The resync is what an agent's resync tick does: its kept planner plans again (every VirtualServer's share is
reused, as neither the objects nor the node's facts changed) and a full reconcile reads every service and
destination, diffs, and applies none;
the baseline is ``ipvsadm -Ln``, which dumps and prints the same table. Writes are counted twice: the
reconciler's own tally and the IPVS ops that reached ``IpvsTable.apply``. Goal: <= 2x ``ipvsadm -Ln``.
The table read alone (``services()`` + ``destinations()``) is reported too, to show where the time goes.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import ipvsadm_tool
from lab import Lab

logger = logging.getLogger(__name__)

GOAL = 2.0


def run(lab: Lab) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    dump_s, out = ipvsadm_tool.listing()
    figures["ipvsadm_ln_s"] = dump_s
    figures["ipvsadm_ln_lines"] = len(out.splitlines())
    if lab.why_not or lab.reconciler is None or lab.kernel is None or lab.counter is None:
        figures["kubelvs"] = f"not measured: {lab.why_not or 'P1 did not leave a table'}"
        return figures
    lab.counter.reset()
    outcome, planning, reconciling = lab.sync()
    figures["kubelvs_plan_s"] = planning
    figures["kubelvs_reconcile_s"] = reconciling
    figures["kubelvs_total_s"] = planning + reconciling
    figures["kubelvs_writes"] = outcome.total_writes
    figures["kubelvs_netlink_ops"] = lab.counter.ops
    start = time.perf_counter()
    services = lab.kernel.ipvs.services()
    listed = time.perf_counter()
    dests = lab.kernel.ipvs.destinations(sorted(services))
    done = time.perf_counter()
    figures["read_services_s"] = listed - start
    figures["read_destinations_s"] = done - listed
    figures["read_objects"] = len(services) + len(dests)
    figures["ratio"] = figures["kubelvs_total_s"] / dump_s
    figures["goal"] = f"0 writes and <= {GOAL}x ipvsadm -Ln"
    figures["met"] = figures["ratio"] <= GOAL and outcome.total_writes == 0 and lab.counter.ops == 0
    return figures


if __name__ == "__main__":
    import guest

    guest.main(["P1", "P2"])
