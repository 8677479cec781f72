"""Which director groups this node holds: all of them (standalone, no election) or those it won a Lease for.

Both are a :class:`Holding`: the pipeline reads :attr:`Holding.held` when it plans, the agent tells the
holding which groups the node may stand for (:meth:`Holding.stand`) after each pass -- only after the kernel
was programmed, so a node only ever leads what it has in place.

:class:`ElectedGroups` also moves the VIPs at once when the held set changes (a takeover, a preemption, a
shutdown), without waiting for a pass: the IPVS rules are there already (hot standby), and a pass (reads,
nftables, routes, status writes) takes a while on a busy node. What to bind comes from the last pass's plan
(:meth:`kubelvs.planner.Plan.held_addresses`), never from planning again. On a step-down the VIPs are
removed before the Lease is released.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import Protocol

from kubelvs.agent.election import Election, ElectionSettings
from kubelvs.agent.leases import LeaseStore
from kubelvs.agent.pipeline import Pipeline
from kubelvs.agent.reconciler import Outcome
from kubelvs.agent.runner import Runner
from kubelvs.netstate import AddressKey

logger = logging.getLogger(__name__)

HANDOVER_TIMEOUT = 5.0  # longest a step-down waits for the pass that unbinds the VIP


class Holding(Protocol):
    @property
    def held(self) -> Collection[str]: ...

    async def stand(self, wanted: Mapping[str, Sequence[str]]) -> None:
        """The groups this node may hold now, each with its preferred node order."""
        ...

    async def close(self) -> None:
        """Hand over what is held (the kernel keeps its IPVS rules)."""
        ...


class AllGroups:
    """Every director group: standalone, a node holds all the groups it directs (no election)."""

    def __contains__(self, group: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


class HoldEverything:
    """The standalone holding: every group held, nothing to stand for or hand over."""

    held: Collection[str] = AllGroups()

    async def stand(self, wanted: Mapping[str, Sequence[str]]) -> None:
        return None

    async def close(self) -> None:
        return None


class ElectedGroups:
    """The groups this node won a Lease for; the VIPs follow the held set at once."""

    def __init__(self, leases: LeaseStore, node: str, settings: ElectionSettings) -> None:
        self.election = Election(leases, node, settings, self._held_changed)
        self._pipeline: Pipeline | None = None
        self._runner: Runner | None = None
        self._bound_for: frozenset[str] = frozenset()  # the held set the addresses were last moved for
        self._wanted: Mapping[str, Sequence[str]] | None = None
        self._wanted_changed = asyncio.Event()
        self._standing: asyncio.Task[None] | None = None

    def attach(self, pipeline: Pipeline, runner: Runner) -> None:
        """The pipeline whose last plan says what to move, and the runner to wake for the rest."""
        self._pipeline, self._runner = pipeline, runner

    @property
    def held(self) -> frozenset[str]:
        return self.election.held

    def programmed_for(self, held: Collection[str]) -> None:
        """A pass programmed the kernel for ``held`` (under the pipeline's lock): the addresses match it."""
        self._bound_for = frozenset(held)

    async def stand(self, wanted: Mapping[str, Sequence[str]]) -> None:
        """Apply the latest wanted candidacies apart from the passes (the election may wait for one)."""
        if wanted != self._wanted:
            self._wanted = wanted
            self._wanted_changed.set()
        if self._standing is None:
            self._standing = asyncio.create_task(self._stand_loop(), name="candidacies")

    async def _stand_loop(self) -> None:
        while True:
            await self._wanted_changed.wait()
            self._wanted_changed.clear()
            if self._wanted is not None:
                await self.election.set_candidacies(self._wanted)

    async def close(self) -> None:
        if self._standing is not None:
            self._standing.cancel()
            await asyncio.gather(self._standing, return_exceptions=True)
        await self.election.close(release=True)  # VIPs go before the Leases do

    async def _held_changed(self, _: frozenset[str]) -> None:
        """Move the VIPs at once, then have a pass program the rest for the held set.

        A step-down removes the lost groups' addresses directly, and the election waits only for that before
        it releases the Lease; the pass that follows stops the sync master.
        """
        runner = self._runner
        target = (runner.started if runner is not None else 0) + 1
        try:
            lost = await asyncio.to_thread(self.move_addresses)
        except Exception:
            logger.exception("could not move the VIPs at once; the next pass will")
            lost = None
        if runner is None:
            return
        runner.wake()
        if lost is not None:
            return  # a gain needs nobody to wait, a step-down only the removal done above
        if not await runner.wait_for_pass(target, HANDOVER_TIMEOUT):
            logger.warning("no pass completed within %ss after the held groups changed", HANDOVER_TIMEOUT)

    def move_addresses(self) -> frozenset[str] | None:
        """Bind (and announce) the addresses of groups gained since the kernel was last programmed, remove
        those of groups lost; returns the groups lost, None if no pass has run yet (nothing to plan from)."""
        pipeline = self._pipeline
        if pipeline is None:
            return None
        with pipeline.lock:
            last = pipeline.last
            if last is None:
                return None
            # the election's current word, not the set this call was made for: a gain whose move runs late,
            # after the step-down that followed it, must bind nothing
            before, held = self._bound_for, self.election.held
            self._bound_for = held
            if before == held:
                return frozenset()
            started = time.monotonic()
            outcome = Outcome()
            wanted, unwanted = last.plan.held_addresses(held), last.plan.held_addresses(before)
            removed = sorted(unwanted - wanted)
            pipeline.reconciler.unbind(removed, outcome)
            gained = last.plan.held_addresses(held - before)
            interfaces = sorted({key.interface for key in gained})
            present = pipeline.kernel.addresses.list(interfaces) if gained else set()
            added = sorted(gained - present)
            pipeline.reconciler.bind(added, outcome)  # each announced as it is added, repeated by the announcer
        logger.info(
            "held groups changed: bound %s, removed %s in %.3f s%s",
            _addresses(added) or "nothing",
            _addresses(removed) or "nothing",
            time.monotonic() - started,
            "".join(f"; {obj}: {error}" for obj, error in outcome.errors),
        )
        return before - held


def _addresses(keys: Iterable[AddressKey]) -> str:
    return ", ".join(f"{key.address} on {key.interface}" for key in keys)
