"""Where a full sync and a no-op resync spend their time, in the VM: cProfile of P1's and P2's agent pass.

Not part of ``run`` (profiling slows what it measures); run it when a P1/P2 goal is missed::

    .venv/bin/python -m kubelvs.testbed --rwdir OUT run -- .venv/bin/python benchmarks/profile_sync.py OUT

Writes ``OUT/profile-full-sync.txt`` and ``OUT/profile-noop-resync.txt`` (top functions by cumulative and by
own time). Logging goes where the agent's would (INFO, a file in the guest's memory-backed /tmp).
"""

from __future__ import annotations

import cProfile
import io
import logging
import pstats
import sys
import tempfile
from pathlib import Path

import ipvsadm_tool
from lab import Lab

logger = logging.getLogger(__name__)

TOP = 30


def profiled(outfile: Path, lab: Lab) -> None:
    profile = cProfile.Profile()
    profile.enable()
    lab.sync()
    profile.disable()
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text)
    stats.sort_stats("cumulative").print_stats(TOP)
    stats.sort_stats("tottime").print_stats(TOP)
    outfile.write_text(text.getvalue())


def main(outdir: Path) -> int:
    local = Path(tempfile.mkdtemp(prefix="kubelvs-profile-", dir="/tmp"))
    logging.basicConfig(level=logging.INFO, filename=local / "profile.log")
    lab = Lab.build()
    if lab.why_not:
        print(f"profile_sync: {lab.why_not}", file=sys.stderr)
        return 1
    ipvsadm_tool.clear()
    lab.new_reconciler()
    profiled(outdir / "profile-full-sync.txt", lab)
    profiled(outdir / "profile-noop-resync.txt", lab)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
