"""The agent without a cluster: manifests on disk -> this node's kernel, once or continuously.

A keepalived replacement on plain hosts and the way tests drive the agent. The same pass as in a cluster
(:class:`~kubelvs.agent.pipeline.Pipeline`) run by the same :class:`~kubelvs.agent.runner.Runner`; what differs
is the source -- manifest files (:class:`ManifestSource`) -- and the holding: every matching director holds
its groups (:class:`~kubelvs.agent.holding.HoldEverything`, there is no election without an API server).

Passes run whenever a manifest file changes (woken by inotify, :mod:`kubelvs.agent.manifest_watch`; the files
are also polled every second as a safety net, every 0.1 s where inotify is unavailable) and every resync
period. A change costs what it touches: only changed files are read, only changed documents parsed
(:mod:`kubelvs.agent.manifest_files`), only the VirtualServers they touch judged and re-planned, and the
reconciler's incremental update writes only the difference. SIGTERM ends the loop and leaves the kernel as
it is (fail-static): a restarted agent adopts it without dropping a packet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Mapping
from types import FrameType
from typing import TYPE_CHECKING

from kubelvs.agent.draining import Drainer
from kubelvs.agent.health_endpoints import Readiness
from kubelvs.agent.heap import HeapSettler
from kubelvs.agent.holding import HoldEverything
from kubelvs.agent.manifest_files import ManifestFiles, Stamps
from kubelvs.agent.manifest_watch import ManifestWatch
from kubelvs.agent.options import StandaloneOptions
from kubelvs.agent.ownership import Store
from kubelvs.agent.pipeline import Pipeline
from kubelvs.agent.reconciler import Kernel, Outcome, Reconciler
from kubelvs.agent.runner import DRAIN_RECHECK, Runner
from kubelvs.api.judgement import warn_without_pools
from kubelvs.api.manifests import Finding
from kubelvs.netstate import DestKey, ServiceKey
from kubelvs.planner import Planner

if TYPE_CHECKING:
    from kubelvs.agent.metrics import AgentMetrics

logger = logging.getLogger(__name__)

Options = StandaloneOptions

POLL_INTERVAL = 0.1  # how often manifest files are checked for changes without inotify (a stat per file)
WATCHED_POLL_INTERVAL = 1.0  # the safety net beside inotify (a directory that appeared late, a missed event)


def open_kernel() -> Kernel:
    """The pyroute2 / procfs / nft gateways of the current network namespace."""
    from kubelvs.kernel.addresses import NetlinkAddresses
    from kubelvs.kernel.arp import RawAnnouncements
    from kubelvs.kernel.ipvs import KernelIpvsTable
    from kubelvs.kernel.nft import NftPacketRules
    from kubelvs.kernel.routes import NetlinkPolicyRoutes
    from kubelvs.kernel.sysctl import ProcSysctls
    from kubelvs.kernel.tunnel import TUNNEL6, NetlinkTunnel

    return Kernel(
        ipvs=KernelIpvsTable(),
        addresses=NetlinkAddresses(),
        sysctls=ProcSysctls(),
        tunnel=NetlinkTunnel(),
        routes=NetlinkPolicyRoutes(),
        rules=NftPacketRules(),
        announcements=RawAnnouncements(),
        tunnel6=NetlinkTunnel(TUNNEL6),
    )


class ManifestSource:
    """Manifest files as the pipeline's source."""

    def __init__(self, files: ManifestFiles, labels: Mapping[str, str]) -> None:
        self.files = files
        self._labels = dict(labels)
        self._read: list[Finding] = []  # the files' own findings at the last feed

    def labels(self) -> Mapping[str, str]:
        return self._labels

    def feed(self, planner: Planner) -> int:
        changes, self._read = self.files.refresh()
        for kind, key in changes.removed:
            planner.remove(kind, key)
        for obj in changes.put:
            planner.put(obj)
        for key, problems in changes.invalid:
            planner.put_invalid("VirtualServer", key, problems)
        return len(changes.put) + len(changes.removed) + len(changes.invalid)

    def findings(self, planner: Planner) -> list[Finding]:
        """Every problem of the manifests: the files' own, then the judgement's, each with its file."""
        judged = [
            Finding(self.files.source_of(kind, key), f"{kind} {key}", problem)
            for kind, key, verdict in planner.rejections()
            for problem in verdict.problems
        ]
        return [*self._read, *judged]


class StandaloneAgent:
    def __init__(self, options: StandaloneOptions, kernel: Kernel) -> None:
        self.options = options
        self.kernel = kernel
        self.reconciler = Reconciler(
            kernel, Store(options.state_file), Drainer(options.drain_timeout), options.vip_pools
        )
        self.files = ManifestFiles(options.manifests)
        self.source = ManifestSource(self.files, options.labels)
        self.pipeline = Pipeline(
            options.node,
            kernel,
            self.reconciler,
            self.source,
            HoldEverything(),
            options.vip_pools,
            options.timeouts,
        )
        self.runner = Runner(self._run_pass, options.resync_period, options.min_pass_interval)
        self.stopping = threading.Event()
        self.watch: ManifestWatch | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self.heap = HeapSettler() if options.settle_heap else None
        self.readiness = Readiness()  # the manifests are read by the first pass: no other source to lag
        self.served_port: int | None = None

    @property
    def planner(self) -> Planner:
        return self.pipeline.planner

    def run_pass(self, full: bool = True) -> tuple[int, Outcome]:
        """One pass; returns (number of manifest findings, what the reconciler did).

        ``full``: gather the node's facts again and reconcile everything (the resync); otherwise only what
        changed in the files since the last pass reaches the kernel.
        """
        done = self.pipeline.run(full)
        findings = self.source.findings(self.pipeline.planner)
        for finding in findings:
            print(f"error: {finding}", file=sys.stderr)
        logger.info(
            "pass over %d VirtualServer(s), %d RealServer(s) (%s): %s",
            self.files.counts["VirtualServer"],
            self.files.counts["RealServer"],
            "full" if full else f"{done.changed} changed object(s)",
            done.outcome,
        )
        return len(findings), done.outcome

    async def _run_pass(self, full: bool) -> None:
        _, outcome = await asyncio.to_thread(self.run_pass, full)
        self.readiness.first_pass_done()
        if outcome.draining:
            self.runner.wake_later(DRAIN_RECHECK)
        if self.heap is not None:  # the loaded manifests are long-lived and many: out of the collector's walk
            self.heap.after_pass()

    def run(self, once: bool) -> int:
        warn_without_pools(self.options.vip_pools, logger)
        try:
            if once:
                findings, outcome = self.run_pass()
                print(f"kubelvs agent: {outcome}", file=sys.stderr)
                return 1 if findings or outcome.errors else 0
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, self._stop)
            self.serve()
            return 0
        finally:
            self.reconciler.announcer.close()  # the last pass's repeats go out before the process exits

    def serve(self) -> None:
        """Passes on every manifest change and resync period until :meth:`stop`."""
        try:
            self.watch = ManifestWatch(self.options.manifests)
        except OSError as error:  # out of inotify instances: poll instead
            logger.warning("cannot watch manifests with inotify (%s); polling every %.1f s", error, POLL_INTERVAL)
        try:
            asyncio.run(self._serve())
        finally:
            if self.watch is not None:
                self.watch.close()
        logger.info("stopping; the kernel keeps its state (fail-static, no flush)")

    async def _serve(self) -> None:
        self._loop, self._stop_event = asyncio.get_running_loop(), asyncio.Event()
        if self.stopping.is_set():
            return
        self.readiness.watch_loop(self._loop)
        metrics = self._serve_metrics()
        passes = asyncio.create_task(self.runner.run(), name="passes")
        watching = threading.Thread(target=self._watch_files, name="manifest changes", daemon=True)
        watching.start()
        try:
            await self._stop_event.wait()
        finally:
            self._loop = None
            passes.cancel()
            await asyncio.gather(passes, return_exceptions=True)
            await asyncio.to_thread(watching.join)
            if metrics is not None:
                metrics.close()

    def _serve_metrics(self) -> AgentMetrics | None:
        """/metrics, /healthz and /readyz when --metrics-port is given (prometheus-client imported only then)."""
        if self.options.metrics_port is None:
            return None
        from kubelvs.agent.metrics import AgentMetrics

        owners = self._owners
        metrics = AgentMetrics(
            self.options.node, self.kernel.ipvs, services=lambda: owners()[0], destinations=lambda: owners()[1]
        )
        self.served_port = metrics.serve(self.options.metrics_port, self.options.metrics_address, self.readiness)
        return metrics

    def _owners(self) -> tuple[dict[ServiceKey, str], dict[DestKey, str]]:
        last = self.pipeline.last
        return last.plan.owners() if last is not None else ({}, {})

    def stop(self) -> None:
        """End :meth:`serve` (from any thread or a signal handler); the kernel keeps its state."""
        self.stopping.set()
        if self.watch is not None:
            self.watch.wake()
        loop, event = self._loop, self._stop_event
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: it has stopped already
                loop.call_soon_threadsafe(event.set)

    def _watch_files(self) -> None:
        """Wake the runner when a manifest changes (inotify, with the poll as a safety net)."""
        seen: Stamps = self.files.stamps()
        interval = POLL_INTERVAL if self.watch is None else WATCHED_POLL_INTERVAL
        while not self.stopping.is_set():
            if self.watch is None:
                self.stopping.wait(interval)
            else:
                self.watch.wait(interval)
            if self.stopping.is_set():
                return
            now = self.files.stamps()
            if now != seen:
                seen = now
                logger.info("manifests changed; reconciling what changed")
                self.runner.wake_threadsafe()

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s", signal.Signals(signum).name)
        self.stop()
