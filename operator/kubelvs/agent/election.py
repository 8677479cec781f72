"""Leader election over Kubernetes Leases: which director holds the VIPs of each director group.

This stands in for keepalived's VRRP. Every director group (:func:`kubelvs.api.groups.director_group`: all
VirtualServers with the same ``directors.nodeSelector`` and ``directors.preferred``) has one
``coordination.k8s.io/v1`` Lease, so 1,000 VirtualServers on one director pair cost one renewal per renew
period for the holder and one read per retry period for the standby -- not 1,000 of each. The holder is
the node name.

Followers learn of changes two ways: they **watch** the Lease (one watch per agent for all the namespace's
kube-lvs Leases, :meth:`~kubelvs.agent.leases.KubernetesLeases.watch`), and a watched version is taken in
exactly as a read's answer -- it restarts the expiry clock and wakes the follower to act on it at once,
without reading it again. They also still **poll** every retry period, so the election works unchanged,
only slower, while the watch is broken (it starts again with back-off).

How it is decided (one asyncio task per group, all API calls through :class:`~kubelvs.agent.leases.LeaseStore`):

- **Concurrency** is optimistic: every write replaces the Lease with the ``resourceVersion`` that was
  read; a 409 Conflict means somebody else wrote first, so this node lost the race and re-reads.
- **Expiry** is judged like client-go's leaderelection: a follower notes *its own monotonic time* when it
  sees the Lease record change (watched or read; a version older than the one it has is ignored), and
  deems the Lease expired when it has not changed for the lease duration. Wall clocks (``renewTime``) are
  written for humans but never compared across nodes, so clock offset between nodes does not matter --
  only clock *rate*, which NTP keeps negligible.
- **Stepping down before anyone can take over**: the holder measures its term from the moment it *sent*
  the renewal, followers from the moment they *received* the changed record, and the holder's renew
  deadline (1 s) is shorter than the lease duration (1.5 s). The 0.5 s margin absorbs request latency and
  scheduling; a process frozen for longer than that (a stopped event loop) is the remaining hazard.
- **Graceful release**: on shutdown (or when the node stops being a candidate) the holder first tells the
  agent it no longer leads -- and waits for the callback, so the VIP is unbound -- and then writes the
  Lease with no holder, signed ``released-by`` with its name. The watch brings the release to the
  standbys as it is written, and a standby outranked only by the node that signed it takes it at once,
  neither waiting for its next poll nor leaving a head start to the very node that has just gone
  (figures in ``benchmarks/README.md``).
- **Preemption** (``directors.preferred``, VRRP priority with preempt): a candidate that ranks higher than
  the holder writes its name into the Lease's ``preempted-by`` annotation -- a conditional write on the
  very object the holder renews. The holder's next renewal therefore fails with 409, it re-reads, sees a
  request from a higher rank, steps down locally and releases the Lease *reserved* for the requester
  (the annotation stays). Others leave a reserved Lease alone until it has been unchanged for a lease
  duration, so a requester that died meanwhile does not block the group. The requester proves that it is
  alive by writing the request; no per-node candidate Leases are needed, so the steady state costs no
  extra writes. The agent says "I am ready to lead" by listing the group in :meth:`Election.set_candidacies`
  only once it has programmed IPVS and warmed up its health checks -- that is what "healthy" means here.
  On a *free* or missing Lease (cold start, after a release) lower ranks wait ``rank * retry_period``
  before grabbing it, so the VIP does not land on a low-priority node only to be preempted a moment later
  -- counting only the higher ranks other than the node that signed the release: it left the group, so
  with two directors the standby takes a released Lease at its first look.
- **Failover after a crash** takes the lease duration + the watch's latency: the follower's expiry clock
  starts when the watch delivers the holder's last renewal (with polling alone, up to one retry period
  later). It wakes the moment the Lease expires and writes it at once, without reading it again -- the
  write carries the resourceVersion it saw unchanged, so it fails if the holder renewed after all (the
  measured takeover times are in ``benchmarks/README.md``). A lost node's VIP is silent from the loss,
  which comes up to a renew period after its last renewal, until the new holder has bound it.

**When the API server is unreachable** (``fail_static``, default on) the holder keeps leading, as keepalived
keeps MASTER while it hears no peer: a control-plane outage (etcd, an upgrade of the API servers) must not
take every VIP down with it, and the design promises fail-static. Only an answer *from* the API server that
shows someone else as holder makes the holder step down. The price is split brain when only the holder is
cut off from the API server while its data path still works: a standby takes the expired Lease and both
nodes hold the VIP until the old holder reaches the API server again (then it steps down within one renew
period). The standby's gratuitous ARP moves clients to it, which limits the damage. With
``fail_static=False`` the holder behaves like client-go: it stops leading at the renew deadline, which rules
out split brain but turns every API outage into a data-plane outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from kubelvs.agent.leases import Conflict, LeaseRecord, LeaseStore, Unavailable, micro_time

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
OnChange = Callable[[frozenset[str]], Awaitable[None] | None]


@dataclass(frozen=True)
class ElectionSettings:
    """Timings of the election, in seconds (client-go's names)."""

    lease_duration: float = 1.5
    """How long followers wait for a renewal before they take the Lease over."""
    renew_deadline: float = 1.0
    """How long the holder goes on leading without a successful renewal (unless fail_static)."""
    renew_period: float = 0.5
    """How often the holder renews."""
    retry_period: float = 0.25
    """How often followers read the Lease (and the holder retries a failed renewal)."""
    fail_static: bool = True
    """Keep leading while the API server is unreachable (see the module docstring for the trade-off)."""

    def __post_init__(self) -> None:
        for name in ("lease_duration", "renew_deadline", "renew_period", "retry_period"):
            if getattr(self, name) <= 0:
                raise ValueError(f"election {name} must be longer than zero, not {getattr(self, name)}")
        if self.renew_deadline >= self.lease_duration:
            raise ValueError(
                f"election renew_deadline ({self.renew_deadline}s) must be shorter than lease_duration "
                f"({self.lease_duration}s), or a holder could still lead after others took over"
            )
        if self.retry_period >= self.renew_period:
            raise ValueError(
                f"election retry_period ({self.retry_period}s) must be shorter than renew_period "
                f"({self.renew_period}s), or followers notice renewals too late"
            )
        if self.renew_period >= self.renew_deadline:
            raise ValueError(
                f"election renew_period ({self.renew_period}s) must be shorter than renew_deadline "
                f"({self.renew_deadline}s), or a single late renewal ends the term"
            )


class Election:
    """Runs one contender per director group this node is a candidate for; reports the groups it holds.

    ``on_change(held)`` is called after every change of the held set. On a step-down an awaitable it
    returns is awaited *before* the Lease is released, so the agent can unbind the VIP before anyone else
    binds it. On a gain it is not awaited (it runs as a task): the new holder must go on renewing while the
    agent binds the VIP. Callers that need order read :attr:`held`, which is always current.
    """

    def __init__(
        self,
        store: LeaseStore,
        identity: str,
        settings: ElectionSettings | None = None,
        on_change: OnChange | None = None,
    ) -> None:
        if not identity:
            raise ValueError("election identity (the node name) must not be empty")
        self.store = store
        self.identity = identity
        self.settings = settings or ElectionSettings()
        self._on_change = on_change
        self._contenders: dict[str, _Contender] = {}
        self._held: frozenset[str] = frozenset()
        self._callbacks: set[asyncio.Future[None]] = set()

    @property
    def held(self) -> frozenset[str]:
        """Groups this node leads now."""
        return self._held

    def holders(self) -> dict[str, str | None]:
        """Group -> its holder as this node last saw the Lease (None: free or not read yet)."""
        return {
            group: (contender.record.holder or None) if contender.record is not None else None
            for group, contender in self._contenders.items()
        }

    @property
    def candidacies(self) -> dict[str, tuple[str, ...]]:
        return {group: contender.preferred for group, contender in self._contenders.items()}

    async def set_candidacies(self, candidacies: Mapping[str, Sequence[str]]) -> None:
        """Stand for exactly these groups (group -> preferred nodes); release the groups left out."""
        for group in set(self._contenders) - set(candidacies):
            await self._contenders.pop(group).stop(release=True)
        for group, preferred in candidacies.items():
            if group in self._contenders:
                self._contenders[group].preferred = tuple(preferred)
            else:
                self._contenders[group] = _Contender(self, group, tuple(preferred))

    async def close(self, release: bool = True) -> None:
        """Stop contending; by default hand held Leases over at once (graceful shutdown)."""
        contenders, self._contenders = self._contenders, {}
        await asyncio.gather(*(contender.stop(release=release) for contender in contenders.values()))

    async def __aenter__(self) -> Election:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def _set_leading(self, group: str, leading: bool) -> None:
        held = self._held | {group} if leading else self._held - {group}
        if held == self._held:
            return
        self._held = held
        logger.info("%s %s group %s", self.identity, "leads" if leading else "no longer leads", group)
        if self._on_change is None:
            return
        outcome = self._on_change(held)
        if not inspect.isawaitable(outcome):
            return
        if leading:
            # Never wait on a gain: this contender must go on renewing, whatever the agent is doing.
            task = asyncio.ensure_future(outcome)
            self._callbacks.add(task)
            task.add_done_callback(self._callbacks.discard)
        else:
            await outcome  # a step-down waits, so the VIP is gone before the Lease is released


class _Contender:
    """The election of one group from this node's point of view."""

    def __init__(self, election: Election, group: str, preferred: tuple[str, ...]) -> None:
        self.election = election
        self.group = group
        self.preferred = preferred
        self.record: LeaseRecord | None = None
        self.observed_at = 0.0  # monotonic time the record was last seen to change
        self.tried_at = -1.0  # the observed_at of the record a takeover was last tried on without a read
        self.free_since: float | None = None
        self.leading = False
        self.lead_until = 0.0
        self.api_lost = False
        self.fresh = False  # the watch brought a record this node has not acted on yet
        self.woken = asyncio.Event()  # the watch saw the Lease change
        self.unwatch = election.store.watch(group, self._seen)
        self.task = asyncio.create_task(self._run(), name=f"election {group}")

    @property
    def me(self) -> str:
        return self.election.identity

    @property
    def settings(self) -> ElectionSettings:
        return self.election.settings

    def rank(self, node: str) -> int:
        """0 is the most preferred; every node that is not listed shares the lowest rank."""
        return self.preferred.index(node) if node in self.preferred else len(self.preferred)

    async def stop(self, release: bool) -> None:
        self.unwatch()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        if self.leading:
            await self._step_down()
            if release:
                await self._release(reserved_for="", duration=1.0)

    async def _run(self) -> None:
        while True:
            try:
                if self.leading:
                    started = time.monotonic()
                    renewed = await self._renew() and not self.api_lost
                    wake = started + (self.settings.renew_period if renewed else self.settings.retry_period)
                    if self.leading and not self.settings.fail_static:
                        wake = min(wake, self.lead_until)  # be there when the deadline passes
                    await asyncio.sleep(max(0.0, wake - time.monotonic()))
                else:
                    await self._follow()
                    await self._nap(self._next_look())
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("election of group %s failed; retrying", self.group)
                await asyncio.sleep(self.settings.retry_period)

    # The holder's side.

    async def _renew(self) -> bool:
        """Renew the Lease; return True if this node still leads afterwards on the API's word."""
        assert self.record is not None
        record = self.record
        for _ in range(3):  # a conflict caused by a preemption request is followed by a re-read
            if record.holder != self.me:
                logger.warning("%s lost group %s to %s", self.me, self.group, record.holder or "nobody")
                self.record, self.observed_at = record, time.monotonic()
                await self._step_down()
                return False
            if record.preempted_by and self.rank(record.preempted_by) < self.rank(self.me):
                logger.info("%s hands group %s over to %s", self.me, self.group, record.preempted_by)
                self.record = record
                await self._step_down()
                await self._release(reserved_for=record.preempted_by, duration=self.settings.lease_duration)
                return False
            sent = time.monotonic()
            try:
                self.record = await self._with_deadline(
                    self.election.store.replace(
                        record.changed(
                            renew_time=micro_time(),
                            duration=self.settings.lease_duration,
                            preempted_by="",
                            released_by="",
                        )
                    )
                )
            except Conflict:
                try:
                    fresh = await self._with_deadline(self.election.store.get(self.group))
                except (Unavailable, TimeoutError) as error:
                    return await self._renewal_failed(error)
                if fresh is None:
                    return await self._renewal_failed(Unavailable("the Lease was deleted"))
                record = fresh
                continue
            except (Unavailable, TimeoutError) as error:
                return await self._renewal_failed(error)
            self.lead_until = sent + self.settings.renew_deadline
            if self.api_lost:
                logger.warning("%s reaches the API server again; still leads group %s", self.me, self.group)
                self.api_lost = False
            return True
        return await self._renewal_failed(Unavailable("the Lease keeps changing under the holder"))

    async def _renewal_failed(self, error: Exception) -> bool:
        if self.settings.fail_static:
            if not self.api_lost:
                logger.warning(
                    "%s cannot renew group %s (%s); keeps leading (fail-static)", self.me, self.group, error
                )
                self.api_lost = True
            return True
        if time.monotonic() >= self.lead_until:
            logger.warning("%s steps down from group %s: renew deadline passed (%s)", self.me, self.group, error)
            await self._step_down()
            return False
        return True

    async def _with_deadline(self, call: Awaitable[_T]) -> _T:
        """Without fail-static, no call may keep the holder leading past its renew deadline."""
        if self.settings.fail_static or not self.leading:
            return await call
        return await asyncio.wait_for(call, timeout=max(0.0, self.lead_until - time.monotonic()))

    async def _step_down(self) -> None:
        self.leading = False
        self.api_lost = False
        await self.election._set_leading(self.group, False)

    async def _release(self, reserved_for: str, duration: float) -> None:
        """Write the Lease with no holder (only after this node stopped acting as the leader).

        A node that leaves the group signs the release, so lower ranks skip the head start they would give
        it; a handover to a preempting node does not, as the old holder stays a candidate."""
        record = self.record
        released_by = "" if reserved_for else self.me
        for _ in range(3):
            if record is None or record.holder != self.me:
                return
            try:
                self.record = await self.election.store.replace(
                    record.changed(
                        holder="",
                        renew_time=micro_time(),
                        duration=duration,
                        preempted_by=reserved_for,
                        released_by=released_by,
                    )
                )
                self.observed_at = time.monotonic()
                return
            except Conflict:
                with contextlib.suppress(Unavailable):
                    record = await self.election.store.get(self.group)
            except Unavailable as error:
                logger.warning("%s could not release group %s (%s); it will expire", self.me, self.group, error)
                return

    # A follower's side.

    def _expired(self) -> LeaseRecord | None:
        """The record last read, if it is someone else's and has not changed for its lease duration since
        this node first saw it (and no takeover was tried on it yet)."""
        record = self.record
        if record is None or not record.holder or record.holder == self.me:
            return None
        if self.tried_at == self.observed_at or time.monotonic() - self.observed_at < record.duration:
            return None
        return record

    def _seen(self, record: LeaseRecord | None) -> None:
        """A version of the Lease from the watch: taken in exactly as a read's answer, then acted on at once.
        The holder goes by the answers to its own writes instead."""
        if self.leading:
            return
        if record is None:  # deleted: the next read finds out for sure
            self.woken.set()
        elif self._note(record, time.monotonic()):
            self.fresh = True
            self.woken.set()

    def _note(self, record: LeaseRecord, now: float) -> bool:
        """Keep ``record`` and restart the expiry clock if it is newer than the one known; say whether it was.
        resourceVersions are opaque, but where both are numbers (etcd, the emulator) an older one that
        arrives late -- a read answered before a watch event -- must not turn the clock back."""
        known = self.record
        if known is not None:
            mine, theirs = known.resource_version, record.resource_version
            newer = int(theirs) > int(mine) if mine.isdigit() and theirs.isdigit() else theirs != mine
            if not newer:
                return False
        self.record, self.observed_at = record, now
        return True

    async def _nap(self, seconds: float) -> None:
        """Sleep until the next look is due or the watch brings a change, whichever comes first."""
        if self.leading:  # just took it: the first renewal is due in a retry period, whatever the watch says
            await asyncio.sleep(seconds)
            return
        if self.fresh:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.woken.wait()

    def _next_look(self) -> float:
        """Poll every retry period, but be there the moment the holder's Lease expires."""
        record = self.record
        if record is None or not record.holder or record.holder == self.me or self.tried_at == self.observed_at:
            return self.settings.retry_period
        expires_in = self.observed_at + record.duration - time.monotonic()
        return min(self.settings.retry_period, max(0.0, expires_in))

    async def _follow(self) -> None:
        self.woken.clear()  # what changes from here on wakes the next nap
        expired = self._expired()
        if expired is not None:
            # Take it over without reading it first: the write carries the resourceVersion this node saw
            # unchanged for a lease duration, so it fails (409) if the holder renewed after all.
            self.tried_at = self.observed_at
            logger.info("%s sees group %s expired (held by %s)", self.me, self.group, expired.holder)
            await self._acquire(expired)
            if self.leading:
                return
        if not self.fresh:  # nothing new from the watch: read it
            try:
                record = await self.election.store.get(self.group)
            except Unavailable as error:
                logger.debug("%s cannot read group %s: %s", self.me, self.group, error)
                return
            if record is None:  # a group nobody held yet: free, so lower ranks give higher ones a head start
                now = time.monotonic()
                self.free_since = now if self.free_since is None else self.free_since
                if now - self.free_since >= self._head_start():
                    await self._create()
                return
            self._note(record, time.monotonic())
        await self._decide()

    async def _decide(self) -> None:
        """Act on the newest record, read or watched: what the watch brought so far is dealt with."""
        self.fresh = False
        self.woken.clear()
        record = self.record
        if record is None:
            return
        now = time.monotonic()
        unchanged_for = now - self.observed_at
        if record.holder == self.me:
            await self._acquire(record)  # it is still ours on the API's word: take it up again
        elif not record.holder:
            if self.free_since is None:
                self.free_since = now
            if record.preempted_by and record.preempted_by != self.me and unchanged_for < record.duration:
                return  # reserved for the candidate that asked for it
            waited = now - self.free_since
            if record.preempted_by == self.me or waited >= self._head_start(record.released_by):
                await self._acquire(record)
            return
        elif unchanged_for >= record.duration:
            logger.info("%s sees group %s expired (held by %s)", self.me, self.group, record.holder)
            self.tried_at = self.observed_at
            await self._acquire(record)
        elif self.rank(self.me) < self.rank(record.holder) and self._outranks_request(record.preempted_by):
            with contextlib.suppress(Conflict):  # the holder renewed meanwhile: ask again next round
                self.record = await self.election.store.replace(record.changed(preempted_by=self.me))
                self.observed_at = time.monotonic()
                logger.info("%s asks %s to hand group %s over", self.me, record.holder, self.group)
        self.free_since = None

    def _head_start(self, released_by: str = "") -> float:
        """How long to leave a free Lease to the higher ranks: a retry period for each of them, but none
        for the node that just released it and left the group."""
        ahead = [node for node in self.preferred[: self.rank(self.me)] if node != released_by]
        return len(ahead) * self.settings.retry_period

    def _outranks_request(self, requester: str) -> bool:
        """Ask for a handover only over no request or a lower-ranked one: overwriting a better candidate's
        request would hand the group to this node first and then to that one (two VIP moves, not one)."""
        return not requester or (requester != self.me and self.rank(self.me) < self.rank(requester))

    async def _create(self) -> None:
        sent = time.monotonic()
        stamp = micro_time()
        record = LeaseRecord(
            name=self.group,
            holder=self.me,
            duration=self.settings.lease_duration,
            acquire_time=stamp,
            renew_time=stamp,
        )
        try:
            self.record = await self.election.store.create(record)
        except Conflict:
            return
        await self._become_leader(sent)

    async def _acquire(self, record: LeaseRecord) -> None:
        sent = time.monotonic()
        stamp = micro_time()
        taking_over = record.holder != self.me
        wanted = record.changed(
            holder=self.me,
            duration=self.settings.lease_duration,
            renew_time=stamp,
            acquire_time=stamp if taking_over else record.acquire_time,
            transitions=record.transitions + (1 if taking_over else 0),
            preempted_by="",
            released_by="",
        )
        try:
            self.record = await self.election.store.replace(wanted)
        except Conflict:
            logger.debug("%s lost the race for group %s", self.me, self.group)
            return
        await self._become_leader(sent)

    async def _become_leader(self, sent: float) -> None:
        self.lead_until = sent + self.settings.renew_deadline
        self.free_since = None
        self.fresh = False
        self.woken.clear()
        self.leading = True
        self.api_lost = False
        await self.election._set_leading(self.group, True)
