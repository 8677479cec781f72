"""Small measuring tools the benchmarks share: timers, percentiles, memory, results on disk, a write counter.

Results are plain JSON (one object per benchmark id) so a guest can leave them in the shared directory step by
step: a benchmark that dies half-way still leaves the ones before it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kubelvs.kernel.interfaces import IpvsTable
from kubelvs.netstate import Destination, DestKey, DestStats, IpvsOp, Service, ServiceKey, ServiceStats

logger = logging.getLogger(__name__)


def env_rounds() -> int:
    """How many times P1 repeats (``BENCH_ROUNDS``, default 1: under emulation one round is minutes)."""
    return max(1, int(os.environ.get("BENCH_ROUNDS", "1") or "1"))


def percentile(samples: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1): with few samples p99 is the worst one, never interpolated."""
    ordered = sorted(samples)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def timed_command(argv: Sequence[str], stdin: str | None = None) -> tuple[float, str]:
    """Wall time of a command (its output read in full, as a user's pipe would) and its stdout."""
    start = time.perf_counter()
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{' '.join(argv)} -> exit {done.returncode}: {done.stderr.strip()[:500]}")
    return elapsed, done.stdout


def memory_of(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of a process, in MiB, from /proc."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) / 1024
    return found


class Results:
    """Benchmark id -> figures, rewritten to ``path`` after every benchmark."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.exists() else {}

    def put(self, bench: str, figures: dict[str, Any]) -> None:
        self.data[bench] = figures
        self.path.write_text(json.dumps(self.data, indent=1, sort_keys=True))
        logger.info("%s: %s", bench, figures)


class CountingIpvs:
    """Passes every call to the real table and counts what reaches the kernel: apply() calls and ops.

    Not a stand-in: the kernel still does all the work; this only makes "how many writes" observable.
    """

    def __init__(self, real: IpvsTable) -> None:
        self.real = real
        self.ops = 0
        self.batches = 0
        self.last_ops: list[IpvsOp] = []

    def reset(self) -> None:
        self.ops = self.batches = 0
        self.last_ops = []

    def services(self) -> dict[ServiceKey, Service]:
        return self.real.services()

    def destinations(self, services: Sequence[ServiceKey]) -> dict[DestKey, Destination]:
        return self.real.destinations(services)

    def stats(self, services: Sequence[ServiceKey]) -> dict[DestKey, DestStats]:
        return self.real.stats(services)

    def service_stats(self, services: Sequence[ServiceKey]) -> dict[ServiceKey, ServiceStats]:
        return self.real.service_stats(services)

    def apply(self, ops: Sequence[IpvsOp]) -> list[str | None]:
        self.batches += 1
        self.ops += len(ops)
        self.last_ops = list(ops)
        return self.real.apply(ops)

    def set_timeouts(self, tcp: int, tcpfin: int, udp: int) -> None:
        self.real.set_timeouts(tcp, tcpfin, udp)

    def timeouts(self) -> tuple[int, int, int]:
        return self.real.timeouts()

    def start_sync_daemon(self, state: str, interface: str, syncid: int) -> None:
        self.real.start_sync_daemon(state, interface, syncid)

    def stop_sync_daemon(self, state: str) -> None:
        self.real.stop_sync_daemon(state)

    def sync_daemons(self) -> dict[str, tuple[str, int]]:
        return self.real.sync_daemons()


def host_main(what: str, measure: Callable[[], dict[str, Any]], argv: Sequence[str]) -> int:
    """A host benchmark's entry point: ``measure()``, its figures printed and written to ``argv[0]`` if given;
    a failure is a figure too (``{"error": ...}``, exit 1), so ``report.py`` says why instead of a number."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("__main__").setLevel(logging.INFO)
    out = Path(argv[0]) if argv else None
    try:
        figures = measure()
    except Exception as error:
        logging.getLogger(__name__).exception("%s failed", what)
        figures = {"error": f"{type(error).__name__}: {error}"}
    text = json.dumps(figures, indent=1)
    if out is not None:
        out.write_text(text)
    print(text)
    return 1 if "error" in figures else 0
