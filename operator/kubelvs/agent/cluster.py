"""The in-cluster agent: API watches in, election and health checks beside, kernel state and status out.

The parts, each in its own module: the source (:mod:`kubelvs.agent.api_source`: watches, the operator's
vetoes), the runner (:mod:`kubelvs.agent.runner`: passes at a bounded rate, resync), the pipeline
(:mod:`kubelvs.agent.pipeline`: plan, reconcile), the holding (:mod:`kubelvs.agent.holding`: Leases, VIPs
moved at once) and the reports (:mod:`kubelvs.agent.reporting`: status and Events as holder). This module
only wires them and adds what is the cluster's own: health checks on every director (so a standby has
current health when it takes over; the results are a planner input), the IPVS sync daemon (master on a
holder, backup everywhere) and metrics, with /healthz and /readyz on the metrics port
(:mod:`kubelvs.agent.health_endpoints`: ready once the first pass ran on listed watches).

One asyncio loop drives everything; blocking work (the client's watches, netlink, the planner) runs in
threads so that Lease renewals are never late. Fail-static: if the API server is gone the mirrors keep their
last contents, the election keeps its Leases (see :mod:`kubelvs.agent.election`), and nothing is flushed; on
shutdown the Leases are handed over and the kernel keeps its IPVS rules, so a restarted agent adopts them
without dropping a packet.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from collections.abc import Collection, Mapping
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config

from kubelvs import API_VERSION
from kubelvs.agent.api_source import ApiSource
from kubelvs.agent.draining import Drainer
from kubelvs.agent.health import Checker, CheckSpec, Health, HealthEngine, Transition, default_checkers
from kubelvs.agent.health_endpoints import Readiness
from kubelvs.agent.heap import HeapSettler
from kubelvs.agent.holding import ElectedGroups
from kubelvs.agent.leases import KubernetesLeases
from kubelvs.agent.metrics import AgentMetrics
from kubelvs.agent.options import ClusterOptions, cluster_options
from kubelvs.agent.ownership import Store
from kubelvs.agent.pipeline import Pass, Pipeline
from kubelvs.agent.reconciler import Kernel, Outcome, Reconciler
from kubelvs.agent.reporting import PassReports, Reporter
from kubelvs.agent.runner import DRAIN_RECHECK, Runner
from kubelvs.api.enums import HealthCheckType
from kubelvs.api.judgement import warn_without_pools
from kubelvs.api.models import HealthCheck
from kubelvs.netstate import DestKey, ServiceKey
from kubelvs.planner import Plan, Planner, candidacies

logger = logging.getLogger(__name__)


class ClusterAgent:
    """The node agent against an API server."""

    def __init__(
        self,
        options: ClusterOptions,
        kernel: Kernel,
        api: k8s.ApiClient,
        checkers: Mapping[HealthCheckType, Checker] | None = None,
    ) -> None:
        self.options = options
        self.kernel = kernel
        self.reconciler = Reconciler(
            kernel, Store(options.state_file), Drainer(options.drain_timeout), options.vip_pools
        )
        # A Lease request may take as long as the holder may lead without renewing, and no longer.
        leases = KubernetesLeases(api, options.lease_namespace, request_timeout=options.election.renew_deadline)
        self.holding = ElectedGroups(leases, options.node, options.election)
        self.election = self.holding.election
        self.health: HealthEngine[str] = HealthEngine(
            checkers if checkers is not None else default_checkers(), self._health_changed
        )
        self.source = ApiSource(api, options.node, self._wake_threadsafe)
        self.readiness = Readiness(self._sources_lag)
        self.served_port: int | None = None  # where /metrics, /healthz and /readyz answer (0 in options picks one)
        self.pipeline = Pipeline(
            options.node,
            kernel,
            self.reconciler,
            self.source,
            self.holding,
            options.vip_pools,
            options.timeouts,
            timed=self._timed,
            after=self._after_reconcile,
        )
        self.runner = Runner(self._run_pass, options.resync_period, options.min_pass_interval)
        self.holding.attach(self.pipeline, self.runner)
        self.reporter = Reporter(api, options.node)
        self.reports = PassReports(self.reporter, options.node)
        self.metrics = AgentMetrics(
            options.node,
            kernel.ipvs,
            services=lambda: self._owners()[0],
            destinations=lambda: self._owners()[1],
            health=self._health_by_pair,
            leases=self.election.holders,
            weights=self._configured_weights,
        )
        self._owned: tuple[Plan, dict[ServiceKey, str], dict[DestKey, str]] | None = None
        self._transitions: list[Transition[str]] = []
        # the mirrors and the plan out of the garbage collector's walk, when the agent owns its process
        self.heap = HeapSettler() if options.settle_heap else None
        self._checks: Mapping[str, tuple[HealthCheck, str, int]] | None = None  # the targets last given

    @property
    def planner(self) -> Planner:
        return self.pipeline.planner

    @property
    def last(self) -> Pass | None:
        return self.pipeline.last

    # --- life cycle ----------------------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event) -> None:
        """Run until ``stopping`` is set, then hand the Leases over and leave the kernel as it is."""
        warn_without_pools(self.options.vip_pools, logger)
        self.readiness.watch_loop(asyncio.get_running_loop())
        if self.options.metrics_port is not None:
            self.served_port = self.metrics.serve(
                self.options.metrics_port, self.options.metrics_address, self.readiness
            )
        self.source.start()
        while not self.source.synced:
            if stopping.is_set():
                self.source.stop()
                return
            await asyncio.sleep(0.05)
        passes = asyncio.create_task(self.runner.run(), name="passes")
        await stopping.wait()
        logger.info("stopping: handing the Leases over; the kernel keeps its IPVS rules (fail-static)")
        target, leading = self.runner.started + 1, bool(self.election.held)
        await self.holding.close()  # VIPs go before the Leases do
        if leading:
            await self.runner.wait_for_pass(target, 5.0)  # the pass after the step-down stops the sync master
        passes.cancel()
        await asyncio.gather(passes, return_exceptions=True)
        await self.health.close()
        self.source.stop()
        self.metrics.close()
        await asyncio.to_thread(self.reconciler.announcer.close)  # after the last pass: nothing announces later

    def _wake_threadsafe(self) -> None:
        self.runner.wake_threadsafe()

    def _health_changed(self, transition: Transition[str]) -> None:
        self._transitions.append(transition)
        self.runner.wake()

    # --- one pass ------------------------------------------------------------------------------------

    async def run_pass(self, full: bool = False) -> Outcome:
        """One pass now, outside the runner (tests, benchmarks): full if asked or due."""
        full, self.runner.full_due = full or self.runner.full_due, False
        return await self._run_pass(full)

    async def _run_pass(self, full: bool) -> Outcome:
        health = self.health.states()
        down = [key for key, state in health.items() if not state.serving]
        done = await asyncio.to_thread(self.pipeline.run, full, down)
        self.readiness.first_pass_done()  # the kernel's state is adopted, from sources that had listed
        if done.outcome.draining:
            self.runner.wake_later(DRAIN_RECHECK)
        planner = self.pipeline.planner
        checks = planner.health_checks()
        if checks is not self._checks:  # the same mapping while no share with checks changed
            self.health.set_targets({key: CheckSpec.from_model(*check) for key, check in checks.items()})
            self._checks = checks
        wanted = candidacies(planner.virtual_servers(), done.facts, backend_of=done.plan.backend_of())
        await self.holding.stand(wanted)
        transitions, self._transitions = self._transitions, []
        await self.reports.report(done, planner, health, transitions, self.source.status_of)
        if self.heap is not None:
            self.heap.after_pass()
        return done.outcome

    def _sources_lag(self) -> str | None:
        """/readyz: every watch has listed, and none has failed for longer than the resync period."""
        now = time.monotonic()
        for mirror in self.source.all_mirrors:
            if not mirror.synced.is_set():
                return f"the {mirror.what} have not been listed yet"
            since = mirror.failing_since
            if since is not None and now - since > self.options.resync_period:
                return f"the watch of {mirror.what} has been failing for {now - since:.0f} s"
        return None

    def _timed(self, reconcile: Any) -> Outcome:
        outcome: Outcome = self.metrics.timed(reconcile)
        return outcome

    def _after_reconcile(self, plan: Plan, held: Collection[str], outcome: Outcome) -> None:
        """Under the kernel lock, after the reconcile: the sync daemons, and the held set now in place."""
        if self.options.sync_daemon is not None:
            self._sync_daemons(bool(held), outcome)
        self.holding.programmed_for(held)
        logger.info("pass: held %s; %s", sorted(held) or "none", outcome)

    def _sync_daemons(self, leading: bool, outcome: Outcome) -> None:
        """Every director receives connection state (backup); a node that holds a group also sends it."""
        assert self.options.sync_daemon is not None
        interface, syncid = self.options.sync_daemon
        ipvs = self.kernel.ipvs
        record, store = self.reconciler.record, self.reconciler.store
        started = dict(record.sync_daemons)
        try:
            running = ipvs.sync_daemons()
            for state, wanted in (("backup", True), ("master", leading)):
                if wanted and running.get(state) != (interface, syncid):
                    if state in running:
                        ipvs.stop_sync_daemon(state)
                    ipvs.start_sync_daemon(state, interface, syncid)
                    record.sync_daemons[state] = (interface, syncid)  # for --cleanup to stop
                    outcome.writes[f"ipvs.sync_{state}"] += 1
                elif not wanted and state in running:
                    ipvs.stop_sync_daemon(state)
                    record.sync_daemons.pop(state, None)
                    outcome.writes[f"ipvs.sync_{state}"] += 1
            if record.sync_daemons != started:
                store.save(record)
        except Exception as error:
            outcome.errors.append(("ipvs sync daemon", str(error)))
            logger.error("ipvs sync daemon: %s", error)

    # --- metrics -------------------------------------------------------------------------------------

    def _owners(self) -> tuple[dict[ServiceKey, str], dict[DestKey, str]]:
        """Object names of the programmed services and destinations, for metrics labels: read from the last
        plan at scrape time, and kept while the plan stays the same."""
        last = self.pipeline.last
        if last is None:
            return {}, {}
        if self._owned is None or self._owned[0] is not last.plan:
            services, destinations = last.plan.owners()
            self._owned = (last.plan, services, destinations)
        return self._owned[1], self._owned[2]

    def _configured_weights(self) -> dict[DestKey, int]:
        """The weight each programmed destination's RealServer asks for, for the metrics (the kernel's: 0 if
        it drains or failed)."""
        planner = self.pipeline.planner
        found: dict[DestKey, int] = {}
        for dest, key in self._owners()[1].items():
            rs = planner.real_server(key)
            if rs is not None:
                found[dest] = rs.spec.weight
        return found

    def _health_by_pair(self) -> dict[tuple[str, str], Health]:
        planner = self.pipeline.planner
        found: dict[tuple[str, str], Health] = {}
        for key, health in self.health.states().items():
            rs = planner.real_server(key)
            found[(rs.virtual_server_key if rs is not None else "", key)] = health
        return found


# --- command line ------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """``kubelvs agent`` without --standalone."""
    try:
        options = cluster_options(args)
    except ValueError as error:
        print(f"kubelvs agent: {error}", file=sys.stderr)
        return 2
    in_cluster: Any = k8s_config.load_incluster_config  # the config module has no type hints
    from_kubeconfig: Any = k8s_config.load_kube_config
    try:
        in_cluster()
    except k8s_config.ConfigException:
        try:
            from_kubeconfig()
        except Exception as error:
            print(f"kubelvs agent: no cluster credentials (in-cluster or kubeconfig): {error}", file=sys.stderr)
            return 2
    from kubelvs.agent.standalone import open_kernel

    try:
        kernel = open_kernel()
    except ImportError as error:
        print(f"kubelvs agent: kernel adapters unavailable: {error}", file=sys.stderr)
        return 2
    with k8s.ApiClient() as api:
        asyncio.run(_serve(options, kernel, api))
    return 0


async def _serve(options: ClusterOptions, kernel: Kernel, api: k8s.ApiClient) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    logger.info("agent %s (%s) starting against the API server", options.node, API_VERSION)
    await ClusterAgent(options, kernel, api).run(stopping)
