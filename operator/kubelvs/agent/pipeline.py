"""One pass of the agent, the same in both modes: source -> planner (judgement inside) -> reconciler -> outcome.

A pass takes what its :class:`Source` changed into the kept :class:`~kubelvs.planner.Planner` (only those
objects are judged and planned again), gathers the node's facts on a full pass, plans with the director
groups its :class:`~kubelvs.agent.holding.Holding` holds *now*, and reconciles the kernel: a full reconcile
(read, diff, repair drift) or the incremental update of what changed since the last applied state. The
held set is read under :attr:`Pipeline.lock`, the one lock of kernel writes, so an address a holding moved at
once on a change of the held set is never undone by a pass planned before it. The last pass is kept
(:attr:`Pipeline.last`): its plan says which object produced which kernel object, for reporting, metrics and
moving VIPs, so nothing plans again to find out.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from kubelvs.agent import facts as node_facts
from kubelvs.agent.reconciler import Kernel, Outcome, Reconciler
from kubelvs.agent.skips import SkipLog
from kubelvs.planner import NodeFacts, Plan, Planner
from kubelvs.planner.facts import Network

logger = logging.getLogger(__name__)


class Source(Protocol):
    """Where the objects come from: manifest files, or the API server's watches."""

    def feed(self, planner: Planner) -> int:
        """Hand the planner every object changed since the last call; returns how many changed."""
        ...

    def labels(self) -> Mapping[str, str]:
        """This node's labels, as directors are selected by."""
        ...


class HeldGroups(Protocol):
    @property
    def held(self) -> Collection[str]: ...


@dataclass(frozen=True)
class Pass:
    """What one pass planned from and did."""

    plan: Plan
    outcome: Outcome
    held: Collection[str]
    facts: NodeFacts
    full: bool
    changed: int


Timed = Callable[[Callable[[], Outcome]], Outcome]
After = Callable[[Plan, Collection[str], Outcome], None]


def _untimed(reconcile: Callable[[], Outcome]) -> Outcome:
    return reconcile()


class Pipeline:
    """Plans and programs one node; one pass at a time (callers serialise passes, e.g. a Runner)."""

    def __init__(
        self,
        node: str,
        kernel: Kernel,
        reconciler: Reconciler,
        source: Source,
        holding: HeldGroups,
        vip_pools: tuple[Network, ...] = (),
        timeouts: tuple[int, int, int] = (0, 0, 0),
        timed: Timed = _untimed,
        after: After | None = None,
    ) -> None:
        self.node = node
        self.kernel = kernel
        self.reconciler = reconciler
        self.source = source
        self.holding = holding
        self.vip_pools = vip_pools
        self.timeouts = timeouts
        self.planner = Planner()
        self.skips = SkipLog()
        self.lock = threading.Lock()  # one writer of the kernel at a time
        self.facts: NodeFacts | None = None
        self.last: Pass | None = None
        self._timed = timed
        self._after = after

    def run(self, full: bool, down: Collection[str] = ()) -> Pass:
        """One pass; ``down``: keys of real servers failing their health checks now."""
        changed = self.source.feed(self.planner)
        labels = self.source.labels()
        facts = self.facts
        if full or facts is None:
            facts = node_facts.gather(self.kernel.addresses, self.node, labels, self.vip_pools)
        elif facts.labels != labels:
            facts = dataclasses.replace(facts, labels=dict(labels))
        self.facts = facts
        self.planner.set_health(down)
        with self.lock:  # the held set read here is the one the kernel gets
            held = self.holding.held
            plan = self.planner.plan(facts, held)
            self.skips.report(plan.skipped)  # e.g. a held VIP this node cannot bind: a WARNING, once
            outcome = Outcome()
            if full and any(self.timeouts):
                self.reconciler.set_timeouts(*self.timeouts, outcome)
            reconciler = self.reconciler
            passed = self._timed(
                (lambda: reconciler.reconcile(plan.state))
                if full
                else (lambda: reconciler.update(plan.state, plan.changes))
            )
            passed.writes.update(outcome.writes)
            passed.errors[:0] = outcome.errors
            if self._after is not None:
                self._after(plan, held, passed)
            self.last = Pass(plan, passed, held, facts, full, changed)
        return self.last
