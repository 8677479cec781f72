"""The director under test inside the guest: the workload, the real kernel gateways and a reconciler.

P1, P2 and P3 run one after another on one :class:`Lab`, as one agent would live through them: a full sync
into an empty kernel, a resync that should write nothing, then single edits. ``Lab.why_not`` says why the
kube-lvs side cannot run (e.g. the IPVS adapter is missing) so the baselines are still measured.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import workload
from measure import CountingIpvs

from kubelvs.agent.draining import Drainer
from kubelvs.agent.ownership import Store
from kubelvs.agent.reconciler import Kernel, Outcome, Reconciler
from kubelvs.api.models import RealServer
from kubelvs.api.objects import parse_object
from kubelvs.netstate import NodeState
from kubelvs.planner import Planner

logger = logging.getLogger(__name__)


def open_kernel() -> Kernel:
    """The agent's own gateways (``standalone.open_kernel``); while the IPVS adapter's class name is still
    settling between the agent and the adapter, the adapter module's table class is taken by either name."""
    try:
        from kubelvs.agent.standalone import open_kernel as agents

        return agents()
    except ImportError:
        from kubelvs.kernel import ipvs
        from kubelvs.kernel.addresses import NetlinkAddresses
        from kubelvs.kernel.arp import RawAnnouncements
        from kubelvs.kernel.nft import NftPacketRules
        from kubelvs.kernel.routes import NetlinkPolicyRoutes
        from kubelvs.kernel.sysctl import ProcSysctls
        from kubelvs.kernel.tunnel import NetlinkTunnel

        table = getattr(ipvs, "NetlinkIpvs", None) or getattr(ipvs, "KernelIpvsTable", None)
        if table is None:
            raise
        logger.warning("standalone.open_kernel() cannot import the IPVS adapter; using ipvs.%s", table.__name__)
        return Kernel(
            ipvs=table(),
            addresses=NetlinkAddresses(),
            sysctls=ProcSysctls(),
            tunnel=NetlinkTunnel(),
            routes=NetlinkPolicyRoutes(),
            rules=NftPacketRules(),
            announcements=RawAnnouncements(),
        )


@dataclass
class Lab:
    services: int
    dests: int
    objects: list[dict[str, Any]]
    models: workload.Models
    restore_text: str
    kernel: Kernel | None = None
    counter: CountingIpvs | None = None
    why_not: str = ""
    adapter: str = ""
    reconciler: Reconciler | None = None
    planner: Planner | None = None
    setup_seconds: dict[str, float] = field(default_factory=dict)

    @classmethod
    def build(cls) -> Lab:
        services, dests = workload.sizes()
        start = time.perf_counter()
        objects = workload.manifests(services, dests)
        generated = time.perf_counter()
        models = workload.models(objects)
        parsed = time.perf_counter()
        lab = cls(services, dests, objects, models, workload.restore_input(models))
        lab.setup_seconds = {
            "generate": generated - start,
            "parse_models": parsed - generated,
            "render_restore_input": time.perf_counter() - parsed,
        }
        try:
            kernel = open_kernel()
        except (ImportError, OSError) as error:
            lab.why_not = f"the kernel gateways are not available ({error})"
            logger.warning("kube-lvs side not measured: %s", lab.why_not)
            return lab
        lab.counter = CountingIpvs(kernel.ipvs)
        kernel.ipvs = lab.counter
        lab.kernel = kernel
        lab.adapter = type(lab.counter.real).__name__
        return lab

    def new_reconciler(self) -> Reconciler:
        """A fresh agent's reconciler (no ownership record, no draining: removed servers go at once)."""
        assert self.kernel is not None, self.why_not
        self.reconciler = Reconciler(self.kernel, Store(None), Drainer(0.0))
        # and its kept planner: a first plan makes every share, a later one with nothing changed reuses them
        # (what the agents do on their resync tick; the reconcile that follows still reads the whole table)
        self.planner = Planner()
        self.planner.replace_all(self.models.virtual_servers, self.models.real_servers)
        return self.reconciler

    def desired(self) -> NodeState:
        assert self.planner is not None, "new_reconciler() first"
        result = self.planner.plan(workload.facts(), set())
        if result.skipped:
            raise RuntimeError(f"the planner skipped generated objects: {result.skipped[:3]}")
        return result.state

    def sync(self) -> tuple[Outcome, float, float]:
        """One agent pass from models: (outcome, planning seconds, reconcile seconds)."""
        assert self.reconciler is not None
        start = time.perf_counter()
        state = self.desired()
        planned = time.perf_counter()
        outcome = self.reconciler.reconcile(state)
        done = time.perf_counter()
        if outcome.errors:
            raise RuntimeError(f"reconcile reported {len(outcome.errors)} errors, first: {outcome.errors[:3]}")
        return outcome, planned - start, done - planned

    def set_weight(self, service: int, dest: int, weight: int) -> None:
        """The CR edit: one RealServer's weight, checked as the loader checks it."""
        index = service * (self.dests + 1) + 1 + dest  # objects go VS, its RSs, next VS, ...
        raw = self.objects[index]
        assert raw["metadata"]["name"] == workload.rs_name(service, dest), raw["metadata"]["name"]
        raw["spec"]["weight"] = weight
        parsed = parse_object(raw)
        assert isinstance(parsed, RealServer), parsed
        self.models.real_servers[service * self.dests + dest] = parsed
