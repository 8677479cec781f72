"""The agent without a cluster: manifests on disk -> this node's kernel, once or continuously.

A keepalived replacement on plain hosts and the way tests drive the agent. Every matching director
holds its groups (there is no election without an API server). A pass re-reads the manifests, plans and
reconciles; passes run every resync period and whenever a manifest file changes. SIGTERM ends the loop
and leaves the kernel as it is (fail-static): a restarted agent adopts it without dropping a packet.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from kubelvs.agent import facts
from kubelvs.agent.draining import Drainer
from kubelvs.agent.ownership import Store
from kubelvs.agent.reconciler import Kernel, Outcome, Reconciler
from kubelvs.api import manifests
from kubelvs.api.groups import director_group
from kubelvs.planner import plan
from kubelvs.planner.facts import Network

logger = logging.getLogger(__name__)

POLL_INTERVAL = 1.0  # how often manifest files are checked for changes


@dataclass(frozen=True)
class Options:
    manifests: tuple[str, ...]
    node: str
    labels: dict[str, str]
    vip_pools: tuple[Network, ...]
    state_file: Path | None
    resync_period: float
    drain_timeout: float
    timeouts: tuple[int, int, int]  # tcp, tcpfin, udp; 0 leaves one unchanged


def open_kernel() -> Kernel:
    """The pyroute2 / procfs / nft gateways of the current network namespace."""
    from kubelvs.kernel.addresses import NetlinkAddresses
    from kubelvs.kernel.ipvs import KernelIpvsTable
    from kubelvs.kernel.nft import NftPacketRules
    from kubelvs.kernel.routes import NetlinkPolicyRoutes
    from kubelvs.kernel.sysctl import ProcSysctls
    from kubelvs.kernel.tunnel import NetlinkTunnel

    return Kernel(
        ipvs=KernelIpvsTable(),
        addresses=NetlinkAddresses(),
        sysctls=ProcSysctls(),
        tunnel=NetlinkTunnel(),
        routes=NetlinkPolicyRoutes(),
        rules=NftPacketRules(),
    )


class StandaloneAgent:
    def __init__(self, options: Options, kernel: Kernel) -> None:
        self.options = options
        self.kernel = kernel
        self.reconciler = Reconciler(
            kernel, Store(options.state_file), Drainer(options.drain_timeout), options.vip_pools
        )
        self.stopping = threading.Event()

    def run_pass(self) -> tuple[int, Outcome]:
        """One full pass; returns (number of manifest findings, what the reconciler did)."""
        loaded = manifests.load(self.options.manifests)
        for finding in loaded.findings:
            print(f"error: {finding}", file=sys.stderr)
        node = facts.gather(self.kernel.addresses, self.options.node, self.options.labels, self.options.vip_pools)
        held = {director_group(vs.spec.directors) for vs in loaded.virtual_servers}  # no election standalone
        result = plan(loaded.virtual_servers, loaded.real_servers, node, held)
        for skip in result.skipped:
            logger.warning("skipped %s", skip)
        outcome = Outcome()
        if any(self.options.timeouts):
            self.reconciler.set_timeouts(*self.options.timeouts, outcome)
        passed = self.reconciler.reconcile(result.state)
        passed.writes.update(outcome.writes)
        passed.errors[:0] = outcome.errors
        logger.info(
            "pass over %d VirtualServer(s), %d RealServer(s): %s",
            len(loaded.virtual_servers),
            len(loaded.real_servers),
            passed,
        )
        return len(loaded.findings), passed

    def run(self, once: bool) -> int:
        if once:
            findings, outcome = self.run_pass()
            print(f"kubelvs agent: {outcome}", file=sys.stderr)
            return 1 if findings or outcome.errors else 0
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop)
        while not self.stopping.is_set():
            seen = snapshot(self.options.manifests)
            try:
                self.run_pass()
            except Exception:  # keep the last programmed state and try again next period (fail-static)
                logger.exception("pass failed; the kernel keeps its last state")
            self._wait(seen)
        logger.info("stopping; the kernel keeps its state (fail-static, no flush)")
        return 0

    def _wait(self, seen: tuple[tuple[str, int, int], ...]) -> None:
        deadline = time.monotonic() + self.options.resync_period
        while not self.stopping.wait(min(POLL_INTERVAL, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                return
            if snapshot(self.options.manifests) != seen:
                logger.info("manifests changed; reconciling")
                return

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s", signal.Signals(signum).name)
        self.stopping.set()


def snapshot(paths: Sequence[str]) -> tuple[tuple[str, int, int], ...]:
    """(file, mtime, size) of every manifest file under ``paths``, to notice edits by polling."""
    found: list[tuple[str, int, int]] = []
    for name in paths:
        path = Path(name)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            try:
                status = file.stat()
            except OSError:
                found.append((str(file), -1, -1))
            else:
                found.append((str(file), status.st_mtime_ns, status.st_size))
    return tuple(found)
