"""Inside the VM: run the kernel benchmarks in one boot and leave their figures in ``results.json``.

``python guest.py OUTDIR [P1 P2 P3 P4 P6 P7]`` (``benchmarks/run`` boots the VM with OUTDIR shared). The order is
the life of one agent: full sync (P1), no-op resync (P2), single edits (P3), then keepalived's failover (P4),
then a real standalone agent process for memory and the file-edit path (P6, P3-agent), then Service endpoints
churn through another standalone agent (P7), the longest, last.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import ipvsadm_tool
import p1_full_sync
import p2_noop_resync
import p3_weight_change
import p4_failover
import p6_memory
import p7_guest
from lab import Lab
from measure import Results

logger = logging.getLogger(__name__)

ALL = ("P1", "P2", "P3", "P4", "P6", "P7")
STEPS: dict[str, Callable[[Lab], dict[str, Any]]] = {
    "P1": p1_full_sync.run,
    "P2": p2_noop_resync.run,
    "P3": p3_weight_change.run,
}


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    outdir = Path(args.pop(0)) if args and not args[0].startswith("P") else Path("/tmp/kubelvs-bench")
    outdir.mkdir(parents=True, exist_ok=True)
    # Logs and the agent's files stay in the guest's own memory-backed /tmp: the shared directory is 9p, where
    # every small write is a round trip to the host, which would bill the agent's per-op INFO lines to kube-lvs.
    local = Path(tempfile.mkdtemp(prefix="kubelvs-bench-", dir="/tmp"))
    try:
        return _run(outdir, local, set(args) or set(ALL))
    finally:
        for log in local.glob("*.log"):
            shutil.copy(log, outdir / log.name)


def _run(outdir: Path, local: Path, wanted: set[str]) -> int:
    # INFO into a file, as the agent logs by default (every op is a line), the console kept short
    logging.basicConfig(
        level=logging.INFO, filename=local / "guest.log", format="%(asctime)s %(name)s: %(message)s"
    )
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)
    logging.getLogger().addHandler(console)
    results = Results(outdir / "results.json")
    failed = 0
    lab: Lab | None = None
    if wanted & {"P1", "P2", "P3", "P6"}:
        lab = Lab.build()
        results.put(
            "setup",
            {
                **lab.setup_seconds,
                "kernel": Path("/proc/sys/kernel/osrelease").read_text().strip(),
                "ipvs_adapter": lab.adapter or lab.why_not,
            },
        )

    def kernel_step(name: str) -> dict[str, Any]:
        if name == "P4":
            return p4_failover.run(local)
        assert lab is not None
        return STEPS[name](lab)

    for name in ("P1", "P2", "P3", "P4"):
        if name not in wanted:
            continue
        print(f"guest: {name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            results.put(name, {**kernel_step(name), "bench_seconds": time.perf_counter() - start})
        except Exception as error:  # one broken benchmark must not lose the others' figures
            logger.exception("%s failed", name)
            results.put(name, {"error": f"{type(error).__name__}: {error}"})
            failed += 1
    if "P6" in wanted and lab is not None:
        print("guest: P6 (+ P3 through the agent) ...", file=sys.stderr, flush=True)
        try:
            p6_memory.run(lab, local, results.put)
        except Exception as error:
            logger.exception("P6 failed")
            results.put("P6", {"error": f"{type(error).__name__}: {error}"})
            failed += 1
    if "P7" in wanted:  # an agent and a world of its own: the table the others left is cleared first
        print("guest: P7 ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            ipvsadm_tool.clear()
            results.put("P7", {**p7_guest.run(local), "bench_seconds": time.perf_counter() - start})
        except Exception as error:
            logger.exception("P7 failed")
            results.put("P7", {"error": f"{type(error).__name__}: {error}"})
            failed += 1
    print(f"guest: done, {failed} benchmark(s) failed; figures in {results.path}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
