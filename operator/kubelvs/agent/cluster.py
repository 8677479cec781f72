"""The in-cluster agent: API objects in, election and health checks beside, kernel state out.

One asyncio loop drives everything; blocking work (the client's watches, netlink, the planner) runs in
threads so that Lease renewals are never late. The shape of one pass, level-triggered:

1. snapshot the mirrors of VirtualServers, RealServers and this Node (:mod:`kubelvs.agent.watching`);
2. node facts: labels from the Node object, addresses from the kernel;
3. health targets: every RealServer of every VirtualServer this node directs (every director checks, so a
   standby has current health when it takes over);
4. plan with the groups this node holds, then apply health (``onFailure``: quiesce -> weight 0, remove ->
   no destination), then reconcile the kernel;
5. stand for the director groups the node may hold -- only *after* the kernel was programmed, so a node
   only ever leads what it has in place;
6. as holder: status fields and Events (:mod:`kubelvs.agent.reporting`).

A pass for a change is incremental: the mirrors hand over only the objects that changed, only those are
parsed and given to the kept :class:`kubelvs.planner.Planner`, and the reconciler's ``update`` writes only
the difference from the last applied state. The resync tick (and the first pass) gathers the node's
facts again and runs the full reconcile, which repairs drift. Planner skips are WARNINGs, once each.

A change of the held set (a takeover, a preemption, a shutdown) moves the VIPs at once, without waiting
for a pass (the IPVS rules are there already: hot standby), then wakes a pass for the rest; on a step-down
the VIP is unbound before the Lease is released. Fail-static: if the API server is gone the mirrors keep
their last contents, the election keeps its Leases (see :mod:`kubelvs.agent.election`), and nothing is
flushed; on shutdown the Leases are handed over and the
kernel keeps its IPVS rules, so a restarted agent adopts them without dropping a packet.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import ipaddress
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config

from kubelvs import API_VERSION, GROUP, VERSION
from kubelvs.agent import facts as node_facts
from kubelvs.agent.draining import Drainer
from kubelvs.agent.election import Election, ElectionSettings
from kubelvs.agent.health import Checker, CheckSpec, Health, HealthEngine, Transition, default_checkers
from kubelvs.agent.leases import KubernetesLeases
from kubelvs.agent.metrics import DEFAULT_PORT as DEFAULT_METRICS_PORT
from kubelvs.agent.metrics import AgentMetrics
from kubelvs.agent.ownership import DEFAULT_PATH, Store
from kubelvs.agent.reconciler import Kernel, Outcome, Reconciler
from kubelvs.agent.reporting import Reporter
from kubelvs.agent.skips import SkipLog
from kubelvs.agent.watching import Mirror, labels, object_without_status
from kubelvs.api.durations import parse_duration
from kubelvs.api.enums import HealthCheckType, OnFailure
from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.objects import parse_object
from kubelvs.api.rules import effective_port
from kubelvs.netstate import AddressKey, DestKey, NodeState, ServiceKey
from kubelvs.planner import NodeFacts, Planner, candidacies, parse_pools, plan
from kubelvs.planner import director as directing
from kubelvs.planner import ipvs as ipvs_plan
from kubelvs.planner.facts import Network

logger = logging.getLogger(__name__)

HANDOVER_TIMEOUT = 5.0  # longest a step-down waits for the pass that unbinds the VIP


@dataclass(frozen=True)
class Options:
    node: str
    lease_namespace: str
    vip_pools: tuple[Network, ...] = ()
    state_file: Path | None = DEFAULT_PATH
    resync_period: float = 30.0
    drain_timeout: float = 300.0
    timeouts: tuple[int, int, int] = (0, 0, 0)
    election: ElectionSettings = field(default_factory=ElectionSettings)
    sync_daemon: tuple[str, int] | None = None  # (interface, syncid) of IPVS connection sync, or off
    metrics_port: int | None = None  # serve Prometheus metrics here; None: do not serve
    metrics_address: str = "127.0.0.1"  # one explicit address: a hostNetwork pod must not serve on its VIPs
    debounce: float = 0.05


@dataclass(frozen=True)
class Objects:
    """One consistent view of the API objects a pass works from."""

    virtual_servers: tuple[VirtualServer, ...]
    real_servers: tuple[RealServer, ...]
    labels: Mapping[str, str]

    def by_key(self) -> dict[str, VirtualServer]:
        return {vs.key: vs for vs in self.virtual_servers}


def health_targets(objects: Objects, facts: NodeFacts) -> dict[str, CheckSpec]:
    """RealServer key -> its check, for every VirtualServer this node directs that checks health."""
    parents = objects.by_key()
    targets: dict[str, CheckSpec] = {}
    for rs in objects.real_servers:
        vs = parents.get(rs.virtual_server_key)
        if vs is None or vs.spec.health_check is None or vs.spec.health_check.type is HealthCheckType.NONE:
            continue
        if directing.selects(vs, facts):
            port = effective_port(vs.spec, rs.spec)
            targets[rs.key] = CheckSpec.from_model(vs.spec.health_check, rs.spec.address, port)
    return targets


def with_health(state: NodeState, objects: Objects, health: Mapping[str, Health]) -> NodeState:
    """Quiesce (weight 0) or remove the destinations of real servers that failed their checks."""
    down = {key for key, value in health.items() if not value.serving}
    if not down:
        return state  # the usual case, and the same state object: the reconciler's diff stays cheap
    parents = objects.by_key()
    destinations = dict(state.destinations)
    for rs in objects.real_servers:
        if rs.key not in down:
            continue
        vs = parents.get(rs.virtual_server_key)
        if vs is None or vs.spec.health_check is None:
            continue
        key = ipvs_plan.destination(vs.spec, rs.spec).key
        if key not in destinations:
            continue
        if vs.spec.health_check.on_failure is OnFailure.REMOVE:
            del destinations[key]
        else:
            destinations[key] = dataclasses.replace(destinations[key], weight=0)
    return dataclasses.replace(state, destinations=destinations)


class ClusterAgent:
    """The node agent against an API server."""

    def __init__(
        self,
        options: Options,
        kernel: Kernel,
        api: k8s.ApiClient,
        checkers: Mapping[HealthCheckType, Checker] | None = None,
    ) -> None:
        self.options = options
        self.kernel = kernel
        self.reconciler = Reconciler(
            kernel, Store(options.state_file), Drainer(options.drain_timeout), options.vip_pools
        )
        self.election = Election(
            # A Lease request may take as long as the holder may lead without renewing, and no longer.
            KubernetesLeases(api, options.lease_namespace, request_timeout=options.election.renew_deadline),
            options.node,
            options.election,
            self._held_changed,
        )
        self.health: HealthEngine[str] = HealthEngine(
            checkers if checkers is not None else default_checkers(), self._health_changed
        )
        self.reporter = Reporter(api, options.node)
        custom, core = k8s.CustomObjectsApi(api), k8s.CoreV1Api(api)
        self.mirrors = [
            Mirror(
                "VirtualServers",
                custom.list_cluster_custom_object,
                self._wake_threadsafe,
                relevant=object_without_status,
                group=GROUP,
                version=VERSION,
                plural="virtualservers",
            ),
            Mirror(
                "RealServers",
                custom.list_cluster_custom_object,
                self._wake_threadsafe,
                relevant=object_without_status,
                group=GROUP,
                version=VERSION,
                plural="realservers",
            ),
        ]
        self.node_mirror = Mirror(
            f"Node {options.node}",
            core.list_node,
            self._wake_threadsafe,
            kind="Node",
            api_version="v1",
            relevant=labels,
            field_selector=f"metadata.name={options.node}",
        )
        self.metrics = AgentMetrics(
            options.node,
            kernel.ipvs,
            services=lambda: self._names()[0],
            destinations=lambda: self._names()[1],
            health=self._health_by_pair,
            leases=self.election.holders,
        )
        self.planner = Planner()
        self.skips = SkipLog()
        self._models: list[dict[str, VirtualServer | RealServer]] = [{} for _ in self.mirrors]  # per mirror
        self._facts: NodeFacts | None = None
        self._full_due = True  # the next pass gathers facts and reconciles in full
        self._dest_keys: dict[str, tuple[RealServer, VirtualServer, DestKey]] = {}  # RealServer key -> memo
        self._named: tuple[Objects, NodeState, dict[ServiceKey, str], dict[DestKey, str]] | None = None
        self._objects = Objects((), (), {})
        self.last_state = NodeState()
        self.last_outcome = Outcome()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._done = asyncio.Condition()
        self._passes_started = 0
        self._passes_done = 0
        self._labels: dict[str, str] = {}
        self._transitions: list[Transition[str]] = []
        self._announced: frozenset[str] = frozenset()
        self._wanted: dict[str, list[str]] | None = None
        self._wanted_changed = asyncio.Event()
        # One writer of the kernel at a time, and a pass plans with the held set it reads under this lock:
        # an address moved at once on a change of the held set is never undone by a pass planned before it.
        self._kernel_lock = threading.Lock()
        self._seen: tuple[Objects, NodeFacts] | None = None  # what the last pass planned from
        self._bound_for: frozenset[str] = frozenset()  # the held set the addresses were last moved for

    # --- life cycle ----------------------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event) -> None:
        """Run until ``stopping`` is set, then hand the Leases over and leave the kernel as it is."""
        self._loop = asyncio.get_running_loop()
        if self.options.metrics_port is not None:
            self.metrics.serve(self.options.metrics_port, self.options.metrics_address)
        for mirror in [*self.mirrors, self.node_mirror]:
            mirror.start()
        while not all(m.synced.is_set() for m in [*self.mirrors, self.node_mirror]):
            if stopping.is_set():
                return
            await asyncio.sleep(0.05)
        passes = asyncio.create_task(self._pass_loop(), name="passes")
        standing = asyncio.create_task(self._candidacy_loop(), name="candidacies")
        await stopping.wait()
        logger.info("stopping: handing the Leases over; the kernel keeps its IPVS rules (fail-static)")
        standing.cancel()
        target, leading = self._passes_started + 1, bool(self.election.held)
        await self.election.close(release=True)  # VIPs go before the Leases do
        if leading:
            await self._pass_after(target)  # the pass after the step-down stops the sync master
        passes.cancel()
        await asyncio.gather(passes, standing, return_exceptions=True)
        await self.health.close()
        for mirror in [*self.mirrors, self.node_mirror]:
            mirror.stop()
        self.metrics.close()

    def _health_by_pair(self) -> dict[tuple[str, str], Health]:
        states = self.health.states()
        parents = {rs.key: rs.virtual_server_key for rs in self._objects.real_servers}
        return {(parents.get(key, ""), key): health for key, health in states.items()}

    def _dest_key(self, vs: VirtualServer, rs: RealServer) -> DestKey:
        """``ipvs_plan.destination(vs, rs).key``, remembered while both objects stay the same."""
        known = self._dest_keys.get(rs.key)
        if known is not None and known[0] is rs and known[1] is vs:
            return known[2]
        key = ipvs_plan.destination(vs.spec, rs.spec).key
        self._dest_keys[rs.key] = (rs, vs, key)
        return key

    def _names(self) -> tuple[dict[ServiceKey, str], dict[DestKey, str]]:
        """Object names of the programmed services and destinations, for metrics labels: made at scrape
        time rather than on every pass, and kept while the objects and the state stay the same."""
        objects, state = self._objects, self.last_state
        if self._named is not None and self._named[0] is objects and self._named[1] is state:
            return self._named[2], self._named[3]
        services = {key: "" for key in state.services}
        for vs in objects.virtual_servers:
            key = ipvs_plan.service_key(vs.spec)
            if key in services:
                services[key] = vs.key
        parents = objects.by_key()
        destinations: dict[DestKey, str] = {}
        for rs in objects.real_servers:
            parent = parents.get(rs.virtual_server_key)
            if parent is not None:
                destinations[self._dest_key(parent, rs)] = rs.key
        self._named = (objects, state, services, destinations)
        return services, destinations

    def _wake_threadsafe(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _pass_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.options.resync_period)
            except TimeoutError:
                self._full_due = True  # the resync: facts again, and a full reconcile
            await asyncio.sleep(self.options.debounce)  # let a burst of events settle into one pass
            self._wake.clear()
            self._passes_started += 1
            number = self._passes_started
            try:
                await self.run_pass()
            except Exception:
                logger.exception("pass failed; the kernel keeps its last state")
            async with self._done:
                self._passes_done = number
                self._done.notify_all()

    async def _candidacy_loop(self) -> None:
        """Applies the latest wanted candidacies, apart from the passes (the election may wait for one)."""
        while True:
            await self._wanted_changed.wait()
            self._wanted_changed.clear()
            if self._wanted is not None:
                await self.election.set_candidacies(self._wanted)

    async def _held_changed(self, _: frozenset[str]) -> None:
        """Move the VIPs at once, then have a pass program the rest for ``held``.

        A takeover binds and announces the gained groups' addresses before any full pass: the IPVS rules are
        in place already (hot standby), and a pass (reads, nftables, routes, status writes) takes a while on
        a busy node. A step-down removes the lost groups' addresses just as directly, and the election waits
        only for that before it releases the Lease; the pass that follows stops the sync master.
        """
        target = self._passes_started + 1
        try:
            lost = await asyncio.to_thread(self._move_addresses)
        except Exception:
            logger.exception("could not move the VIPs at once; the next pass will")
            lost = None
        self._wake.set()
        if lost is not None:
            return  # a gain needs nobody to wait, a step-down only the removal done above
        await self._pass_after(target)

    async def _pass_after(self, target: int) -> None:
        """Wait until pass number ``target`` has completed (at most HANDOVER_TIMEOUT)."""
        async with self._done:
            try:
                await asyncio.wait_for(
                    self._done.wait_for(lambda: self._passes_done >= target), timeout=HANDOVER_TIMEOUT
                )
            except TimeoutError:
                logger.warning("no pass completed within %ss after the held groups changed", HANDOVER_TIMEOUT)

    def _move_addresses(self) -> frozenset[str] | None:
        """Bind (and announce) the addresses of groups gained since the kernel was last programmed, remove
        those of groups lost; returns the groups lost, None if no pass has run yet (nothing to plan from)."""
        with self._kernel_lock:
            if self._seen is None:
                return None
            objects, facts = self._seen
            # the election's current word, not the set this call was made for: a gain whose move runs late,
            # after the step-down that followed it, must bind nothing
            before, held = self._bound_for, self.election.held
            self._bound_for = held
            if before == held:
                return frozenset()

            def addresses(groups: frozenset[str]) -> set[AddressKey]:
                chosen = [vs for vs in objects.virtual_servers if directing.group(vs) in groups]
                return set(plan(chosen, (), facts, groups).state.addresses) if chosen else set()

            started = time.monotonic()
            outcome = Outcome()
            wanted, unwanted = addresses(held), addresses(before)
            removed = sorted(unwanted - wanted)
            self.reconciler.unbind(removed, outcome)
            gained = addresses(held - before)
            present = self.kernel.addresses.list(sorted({key.interface for key in gained})) if gained else set()
            added = sorted(gained - present)
            announced = self.reconciler.bind(added, outcome)  # each announced once as it is added
        logger.info(
            "held groups changed: bound %s, removed %s in %.3f s%s",
            _addresses(added) or "nothing",
            _addresses(removed) or "nothing",
            time.monotonic() - started,
            "".join(f"; {obj}: {error}" for obj, error in outcome.errors),
        )
        self.reconciler.repeat_announcements(announced)  # outside the lock
        return before - held

    def _health_changed(self, transition: Transition[str]) -> None:
        self._transitions.append(transition)
        self._wake.set()

    # --- one pass ------------------------------------------------------------------------------------

    def objects(self) -> Objects:
        """The current objects; only those the watches changed since the last pass are parsed again."""
        changed = False
        for mirror, models in zip(self.mirrors, self._models, strict=True):
            for key, raw in mirror.take_changes().items():
                changed = True
                old = models.pop(key, None)
                if old is not None:
                    self.planner.remove(old.kind, old.key)
                if raw is None:
                    continue
                parsed = parse_object(raw)
                if isinstance(parsed, list):
                    logger.debug("ignoring an invalid object %s: %s", key, "; ".join(str(p) for p in parsed))
                    continue
                models[key] = parsed
                self.planner.put(parsed)
        for raw in self.node_mirror.snapshot():  # without the Node object (deleted?) the last labels stay
            meta = raw.get("metadata") or {}
            if meta.get("name") == self.options.node:
                self._labels = dict(meta.get("labels") or {})
        if changed or self._labels != self._objects.labels:
            everything = [obj for models in self._models for obj in models.values()]
            self._objects = Objects(
                tuple(obj for obj in everything if isinstance(obj, VirtualServer)),
                tuple(obj for obj in everything if isinstance(obj, RealServer)),
                dict(self._labels),
            )
        return self._objects

    async def run_pass(self) -> Outcome:
        objects = self.objects()
        full, self._full_due = self._full_due or self._facts is None, False
        facts = self._facts
        if full or facts is None:
            facts = await asyncio.to_thread(
                node_facts.gather, self.kernel.addresses, self.options.node, objects.labels, self.options.vip_pools
            )
        elif facts.labels != objects.labels:
            facts = dataclasses.replace(facts, labels=dict(objects.labels))
        self._facts = facts
        health = self.health.states()
        state, outcome, held = await asyncio.to_thread(self._program_held_groups, objects, facts, health, full)
        self.last_state, self.last_outcome = state, outcome
        self.health.set_targets(health_targets(objects, facts))  # after the kernel write: it waits for nothing
        wanted = candidacies(objects.virtual_servers, facts, objects.real_servers)
        if wanted != self._wanted:
            self._wanted = wanted
            self._wanted_changed.set()
        await self._report(objects, facts, held, health, state, outcome)
        return outcome

    def _program_held_groups(
        self, objects: Objects, facts: NodeFacts, health: Mapping[str, Health], full: bool = True
    ) -> tuple[NodeState, Outcome, frozenset[str]]:
        with self._kernel_lock:  # the held set read here is the one the kernel gets
            held = self.election.held
            state, outcome = self._program(objects, facts, held, health, full)
            self._seen, self._bound_for = (objects, facts), held
        return state, outcome, held

    def _program(
        self,
        objects: Objects,
        facts: NodeFacts,
        held: frozenset[str],
        health: Mapping[str, Health],
        full: bool = True,
    ) -> tuple[NodeState, Outcome]:
        planned = self.planner.plan(facts, held)
        self.skips.report(planned.skipped)  # e.g. a held VIP this node cannot bind: a WARNING, once
        state = with_health(planned.state, objects, health)
        outcome = Outcome()
        if full and any(self.options.timeouts):
            self.reconciler.set_timeouts(*self.options.timeouts, outcome)
        reconcile = self.reconciler.reconcile if full else self.reconciler.update
        passed = self.metrics.timed(lambda: reconcile(state))
        passed.writes.update(outcome.writes)
        passed.errors[:0] = outcome.errors
        if self.options.sync_daemon is not None:
            self._sync_daemons(bool(held), passed)
        logger.info("pass (%s): held %s; %s", "full" if full else "update", sorted(held) or "none", passed)
        return state, passed

    def _sync_daemons(self, leading: bool, outcome: Outcome) -> None:
        """Every director receives connection state (backup); a node that holds a group also sends it."""
        assert self.options.sync_daemon is not None
        interface, syncid = self.options.sync_daemon
        ipvs = self.kernel.ipvs
        try:
            running = ipvs.sync_daemons()
            for state, wanted in (("backup", True), ("master", leading)):
                if wanted and running.get(state) != (interface, syncid):
                    if state in running:
                        ipvs.stop_sync_daemon(state)
                    ipvs.start_sync_daemon(state, interface, syncid)
                    outcome.writes[f"ipvs.sync_{state}"] += 1
                elif not wanted and state in running:
                    ipvs.stop_sync_daemon(state)
                    outcome.writes[f"ipvs.sync_{state}"] += 1
        except Exception as error:
            outcome.errors.append(("ipvs sync daemon", str(error)))
            logger.error("ipvs sync daemon: %s", error)

    async def _report(
        self,
        objects: Objects,
        facts: NodeFacts,
        held: frozenset[str],
        health: Mapping[str, Health],
        state: NodeState,
        outcome: Outcome,
    ) -> None:
        node = self.options.node
        failed = " ".join(obj for obj, _ in outcome.errors)
        children: dict[str, list[RealServer]] = {}
        for rs in objects.real_servers:
            children.setdefault(rs.virtual_server_key, []).append(rs)
        led: dict[str, VirtualServer] = {}
        for vs in objects.virtual_servers:
            group = directing.group(vs)
            if group not in held or not directing.selects(vs, facts):
                continue
            led[vs.key] = vs
            fields: dict[str, Any] = {"activeDirector": node}
            if str(ipvs_plan.service_key(vs.spec)) not in failed and vs.metadata.generation is not None:
                fields["programmedGeneration"] = vs.metadata.generation
            await self.reporter.status(vs, fields, self.mirrors[0].status_of(vs.key))
            if group not in self._announced:
                vip = vs.spec.address or f"fwmark {vs.spec.fwmark}"
                await self.reporter.event(vs, "DirectorActive", f"{node} is the active director of {vip}")
            for rs in children.get(vs.key, []):
                destination = state.destinations.get(self._dest_key(vs, rs))
                rs_fields: dict[str, Any] = {"effectiveWeight": destination.weight if destination else 0}
                if rs.key in health:
                    rs_fields["health"] = health[rs.key].value
                await self.reporter.status(rs, rs_fields, self.mirrors[1].status_of(rs.key))
        self._announced = held
        transitions, self._transitions = self._transitions, []
        by_key = {rs.key: rs for rs in objects.real_servers}
        for transition in transitions:
            changed = by_key.get(transition.key)
            if transition.old is Health.UNKNOWN or changed is None or changed.virtual_server_key not in led:
                continue
            down = transition.new is Health.DOWN
            await self.reporter.event(
                changed, "RealServerDown" if down else "RealServerUp", transition.result.detail, warning=down
            )


# --- command line ------------------------------------------------------------------------------------


def _addresses(keys: Iterable[AddressKey]) -> str:
    return ", ".join(f"{key.address} on {key.interface}" for key in keys)


def _add(parser: argparse.ArgumentParser, flag: str, **settings: Any) -> None:
    """Add a flag unless ``kubelvs agent`` defines it already (its own flags win)."""
    if flag not in parser._option_string_actions:
        parser.add_argument(flag, **settings)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the in-cluster mode (names as the Helm chart passes them)."""
    _add(parser, "--namespace", default=os.environ.get("POD_NAMESPACE", "kube-lvs"), help="where the Leases live")
    _add(parser, "--lease-duration", default="1500ms", help="followers take over after this long unrenewed")
    _add(parser, "--renew-deadline", default="1s", help="the holder stops leading without renewal this long")
    _add(parser, "--renew-period", default="500ms", help="how often the holder renews")
    _add(parser, "--retry-period", default="250ms", help="how often followers read the Lease")
    _add(parser, "--no-fail-static", action="store_true", help="step down when the API server is unreachable")
    _add(parser, "--sync-interface", default="", help="IPVS connection sync daemon interface")
    _add(parser, "--sync-id", type=int, default=0, help="IPVS connection sync daemon syncid")
    _add(parser, "--no-sync-daemon", action="store_true", help="do not run the IPVS connection sync daemon")
    _add(parser, "--metrics-port", type=int, default=DEFAULT_METRICS_PORT, help="Prometheus /metrics; 0: off")
    _add(
        parser,
        "--metrics-address",
        default="127.0.0.1",
        help="the one address /metrics listens on (the chart passes the node IP); never all of a host's",
    )


def options_from(args: argparse.Namespace) -> Options:
    """Options from the command line; ValueError names a bad value."""
    settings = ElectionSettings(
        lease_duration=parse_duration(args.lease_duration),
        renew_deadline=parse_duration(args.renew_deadline),
        renew_period=parse_duration(args.renew_period),
        retry_period=parse_duration(args.retry_period),
        fail_static=not args.no_fail_static,
    )
    sync = None
    if not args.no_sync_daemon:
        if not args.sync_interface:
            raise ValueError("--sync-interface is required for the IPVS sync daemon (or pass --no-sync-daemon)")
        sync = (args.sync_interface, args.sync_id)
    return Options(
        node=args.node,
        lease_namespace=args.namespace,
        vip_pools=parse_pools(args.vip_pools),
        state_file=Path(args.state_file) if args.state_file else None,
        resync_period=parse_duration(args.resync_period),
        drain_timeout=0.0 if args.drain_timeout in ("0", "0s") else parse_duration(args.drain_timeout),
        timeouts=(args.tcp_timeout, args.tcpfin_timeout, args.udp_timeout),
        election=settings,
        sync_daemon=sync,
        metrics_port=args.metrics_port or None,
        metrics_address=_listen_address(args.metrics_address),
    )


def _listen_address(text: str) -> str:
    """One concrete address to listen on; ValueError for a name, an empty or an unspecified address."""
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        raise ValueError(f"--metrics-address {text!r} is not an IP address") from None
    if address.is_unspecified:
        raise ValueError(f"--metrics-address {text!r} would listen on every address, VIPs included; name one")
    return address.compressed


def run(args: argparse.Namespace) -> int:
    """``kubelvs agent`` without --standalone."""
    try:
        options = options_from(args)
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


async def _serve(options: Options, kernel: Kernel, api: k8s.ApiClient) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    logger.info("agent %s (%s) starting against the API server", options.node, API_VERSION)
    await ClusterAgent(options, kernel, api).run(stopping)
