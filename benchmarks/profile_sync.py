"""Where a full sync and a no-op resync spend their time, in the VM: cProfile of P1's and P2's agent pass.

Not part of ``run`` (profiling slows what it measures); run it when a P1/P2 goal is missed::

    .venv/bin/python -m kubelvs.testbed --rwdir OUT run -- .venv/bin/python benchmarks/profile_sync.py OUT

Writes ``OUT/baselines.txt`` (``ipvsadm -R`` and ``-Ln`` of the same table, this boot) and
``OUT/profile-full-sync.txt`` / ``OUT/profile-noop-resync.txt``: each pass first unprofiled (its real plan and
reconcile times, and the time the cyclic garbage collector took, which cProfile bills to whatever ran), then
profiled (top functions by cumulative and by own time). Logging goes where the agent's would (INFO, a file in the
guest's memory-backed /tmp).
"""

from __future__ import annotations

import cProfile
import gc
import io
import logging
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import ipvsadm_tool
from lab import Lab

logger = logging.getLogger(__name__)

TOP = 30


class GcClock:
    """Time spent in the cyclic garbage collector, by generation (cProfile bills it to whatever ran)."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.runs = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds[info["generation"]] += time.perf_counter() - self._started
            self.runs[info["generation"]] += 1

    def __str__(self) -> str:
        return ", ".join(
            f"gen{g}: {n} runs {s:.2f} s" for g, (n, s) in enumerate(zip(self.runs, self.seconds, strict=True))
        )


def profiled(outfile: Path, lab: Lab) -> None:
    # first unprofiled, for the real times and the collector's share, then profiled
    clock = GcClock()
    gc.callbacks.append(clock)
    _, planning, reconciling = lab.sync() if outfile.name.startswith("profile-noop") else _fresh(lab)
    gc.callbacks.remove(clock)
    header = f"unprofiled: plan {planning:.2f} s, reconcile {reconciling:.2f} s; collector: {clock}\n"
    header += f"objects tracked by the collector: {len(gc.get_objects())}\n\n"
    if not outfile.name.startswith("profile-noop"):
        ipvsadm_tool.clear()
        lab.new_reconciler()
    profile = cProfile.Profile()
    profile.enable()
    lab.sync()
    profile.disable()
    text = io.StringIO(header)
    text.seek(0, io.SEEK_END)
    stats = pstats.Stats(profile, stream=text)
    stats.sort_stats("cumulative").print_stats(TOP)
    stats.sort_stats("tottime").print_stats(TOP)
    outfile.write_text(text.getvalue())


def _fresh(lab: Lab) -> tuple[Any, float, float]:
    ipvsadm_tool.clear()
    lab.new_reconciler()
    return lab.sync()


def main(outdir: Path) -> int:
    local = Path(tempfile.mkdtemp(prefix="kubelvs-profile-", dir="/tmp"))
    logging.basicConfig(level=logging.INFO, filename=local / "profile.log")
    lab = Lab.build()
    if lab.why_not:
        print(f"profile_sync: {lab.why_not}", file=sys.stderr)
        return 1
    restore_s = ipvsadm_tool.restore(lab.restore_text)
    listing_s, _ = ipvsadm_tool.listing()
    (outdir / "baselines.txt").write_text(f"ipvsadm -R {restore_s:.2f} s, ipvsadm -Ln {listing_s:.2f} s\n")
    profiled(outdir / "profile-full-sync.txt", lab)
    profiled(outdir / "profile-noop-resync.txt", lab)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
