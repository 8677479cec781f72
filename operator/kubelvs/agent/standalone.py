"""The agent without a cluster: manifests on disk -> this node's kernel, once or continuously.

A keepalived replacement on plain hosts and the way tests drive the agent. Every matching director
holds its groups (there is no election without an API server). Passes run whenever a manifest file
changes (woken by inotify, :mod:`kubelvs.agent.manifest_watch`; the files are also polled every second as a
safety net, every 0.1 s where inotify is unavailable) and every resync period. A change costs what it
touches: only changed files are read, only changed documents parsed (:mod:`kubelvs.agent.manifest_files`),
only the VirtualServers they touch re-planned (:class:`kubelvs.planner.Planner`), and the reconciler's
incremental update writes only the difference. The resync pass gathers the node's facts again and is a
full reconcile (drift repair). SIGTERM ends the loop and leaves the kernel as it is (fail-static): a
restarted agent adopts it without dropping a packet.
"""

from __future__ import annotations

import gc
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from kubelvs.agent import facts
from kubelvs.agent.draining import Drainer
from kubelvs.agent.manifest_files import ManifestFiles, Stamps
from kubelvs.agent.manifest_watch import ManifestWatch
from kubelvs.agent.ownership import Store
from kubelvs.agent.reconciler import Kernel, Outcome, Reconciler
from kubelvs.agent.skips import SkipLog
from kubelvs.planner import NodeFacts, Planner
from kubelvs.planner.facts import Network

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.1  # how often manifest files are checked for changes without inotify (a stat per file)
WATCHED_POLL_INTERVAL = 1.0  # the safety net beside inotify (a directory that appeared late, a missed event)


class AllGroups:
    """Every director group: standalone, a node holds all the groups it directs (no election)."""

    def __contains__(self, group: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


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
        self.files = ManifestFiles(options.manifests)
        self.planner = Planner()
        self.skips = SkipLog()
        self.facts: NodeFacts | None = None
        self.stopping = threading.Event()
        self.watch: ManifestWatch | None = None

    def run_pass(self, full: bool = True) -> tuple[int, Outcome]:
        """One pass; returns (number of manifest findings, what the reconciler did).

        ``full``: gather the node's facts again and reconcile everything (the resync); otherwise only what
        changed in the files since the last pass reaches the kernel.
        """
        changes, findings = self.files.refresh()
        for finding in findings:
            print(f"error: {finding}", file=sys.stderr)
        for kind, key in changes.removed:
            self.planner.remove(kind, key)
        for obj in changes.put:
            self.planner.put(obj)
        if full or self.facts is None:
            self.facts = facts.gather(
                self.kernel.addresses, self.options.node, self.options.labels, self.options.vip_pools
            )
        result = self.planner.plan(self.facts, AllGroups())
        self.skips.report(result.skipped)
        outcome = Outcome()
        if full and any(self.options.timeouts):
            self.reconciler.set_timeouts(*self.options.timeouts, outcome)
        passed = (self.reconciler.reconcile if full else self.reconciler.update)(result.state)
        passed.writes.update(outcome.writes)
        passed.errors[:0] = outcome.errors
        logger.info(
            "pass over %d VirtualServer(s), %d RealServer(s) (%s): %s",
            self.files.counts["VirtualServer"],
            self.files.counts["RealServer"],
            "full" if full else f"{len(changes.put) + len(changes.removed)} changed object(s)",
            passed,
        )
        return len(findings), passed

    def run(self, once: bool) -> int:
        if once:
            findings, outcome = self.run_pass()
            print(f"kubelvs agent: {outcome}", file=sys.stderr)
            return 1 if findings or outcome.errors else 0
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop)
        self.serve()
        return 0

    def serve(self) -> None:
        """Passes on every manifest change and resync period until :meth:`stop`."""
        try:
            self.watch = ManifestWatch(self.options.manifests)
        except OSError as error:  # out of inotify instances: poll instead
            logger.warning("cannot watch manifests with inotify (%s); polling every %.1f s", error, POLL_INTERVAL)
        try:
            self._loop()
        finally:
            if self.watch is not None:
                self.watch.close()
        logger.info("stopping; the kernel keeps its state (fail-static, no flush)")

    def stop(self) -> None:
        """End :meth:`serve` (from any thread or a signal handler); the kernel keeps its state."""
        self.stopping.set()
        if self.watch is not None:
            self.watch.wake()

    def _loop(self) -> None:
        full, first = True, True
        deadline = time.monotonic()
        while not self.stopping.is_set():
            seen = self.files.stamps()
            if full:
                deadline = time.monotonic() + self.options.resync_period
            try:
                self.run_pass(full)
            except Exception:  # keep the last programmed state and try again next period (fail-static)
                logger.exception("pass failed; the kernel keeps its last state")
            if first:
                # The loaded manifests are long-lived (11,000 objects: ~10^6 Python objects): move them out of
                # the cyclic collector's sight, so its full collections do not walk them during an edit's pass.
                gc.collect()
                gc.freeze()
                first = False
            full = self._wait(seen, deadline)

    def _wait(self, seen: Stamps, deadline: float) -> bool:
        """Until a manifest changes (False) or the resync is due (True)."""
        interval = POLL_INTERVAL if self.watch is None else WATCHED_POLL_INTERVAL
        while not self.stopping.is_set():
            timeout = min(interval, max(0.0, deadline - time.monotonic()))
            if self.watch is None:
                self.stopping.wait(timeout)
            else:
                self.watch.wait(timeout)
            if self.stopping.is_set():
                break
            if time.monotonic() >= deadline:
                return True
            if self.files.stamps() != seen:
                logger.info("manifests changed; reconciling what changed")
                return False
        return False

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s", signal.Signals(signum).name)
        self.stop()
