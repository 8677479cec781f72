"""Which address each served Service gets, derived afresh on every pass from what the API holds.

Nothing is remembered between passes, so an operator restart or a new leader derives the same answer: the
Services' ``status.loadBalancer.ingress`` is the record. Services are taken oldest first, in three rounds --
addresses already held, then requested ones, then automatic ones -- so a Service never loses a valid
address to a newer one, and a request never takes an address from its holder. One address holds several
Services only when they share a namespace and an ``lvs.kubelvs.io/sharing-key`` and no protocol/port pair;
an automatic address for a Service with a key goes to an address its sharers already hold when one fits.

Pools whose addresses overlap an older pool's are refused (the older keeps them), as are addresses of no
usable pool. The free-address search keeps a cursor per range, so a pass costs O(Services + pools), never
the size of a range (an IPv6 /64 is never walked).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kubelvs.api.label_selectors import LabelSelector
from kubelvs.api.vip_pools import INT64_MAX, AddressRange
from kubelvs.loadbalancer.requests import Request

IP = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Pool:
    """A usable VIPPool, as the allocator needs it."""

    name: str
    ranges: tuple[AddressRange, ...]
    auto_assign: bool = True
    service_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    created: str = ""

    def holds(self, address: IP) -> bool:
        return any(address in entry for entry in self.ranges)

    def admits(self, request: Request, namespace_labels: Mapping[str, str]) -> bool:
        return (self.service_selector is None or self.service_selector.matches(request.labels)) and (
            self.namespace_selector is None or self.namespace_selector.matches(namespace_labels)
        )


@dataclass(frozen=True)
class Refusal:
    """Why a Service has no address (yet): a reason for its condition and Event, and a message."""

    reason: str
    message: str


@dataclass
class Allocation:
    """The pass's answer: addresses per Service (in its family order), refusals, and per-pool counts."""

    addresses: dict[str, tuple[IP, ...]] = field(default_factory=dict)
    refusals: dict[str, Refusal] = field(default_factory=dict)
    pool_of: dict[IP, str] = field(default_factory=dict)

    def counts(self, pool: Pool) -> dict[str, int]:
        """allocatedIPv4/availableIPv4/allocatedIPv6/availableIPv6 of one pool."""
        counts: dict[str, int] = {}
        for version in (4, 6):
            size = sum(entry.size for entry in pool.ranges if entry.version == version)
            used = sum(
                1 for address, name in self.pool_of.items() if name == pool.name and address.version == version
            )
            counts[f"allocatedIPv{version}"] = used
            counts[f"availableIPv{version}"] = min(size - used, INT64_MAX)
        return counts


def usable(pools: Sequence[Pool]) -> tuple[list[Pool], dict[str, str]]:
    """Pools oldest first; one overlapping an older pool is refused: name -> why."""
    kept: list[Pool] = []
    refused: dict[str, str] = {}
    for pool in sorted(pools, key=lambda p: (p.created, p.name)):
        clash = next(
            (
                (older, mine, theirs)
                for older in kept
                for mine in pool.ranges
                for theirs in older.ranges
                if mine.overlaps(theirs)
            ),
            None,
        )
        if clash is None:
            kept.append(pool)
        else:
            older, mine, theirs = clash
            refused[pool.name] = f"{mine.text()} overlaps {theirs.text()} of the older VIPPool {older.name}"
    return sorted(kept, key=lambda p: p.name), refused


class _Ledger:
    """Who holds each address in this pass, and a cursor per pool range for the first free address."""

    def __init__(self, pools: Sequence[Pool]) -> None:
        self.pools = pools
        self.holders: dict[IP, list[Request]] = {}
        self.shared: dict[
            tuple[str, str], list[IP]
        ] = {}  # (namespace, sharing key) -> addresses its Services hold
        self.cursors: dict[tuple[str, int], int] = {}

    def pool_of(self, address: IP) -> Pool | None:
        return next((pool for pool in self.pools if pool.holds(address)), None)

    def fits(self, request: Request, address: IP) -> bool:
        """Whether ``request`` may hold ``address`` beside its holders."""
        holders = self.holders.get(address, [])
        return all(
            holder.key != request.key
            and request.sharing_key is not None
            and holder.sharing_key == request.sharing_key
            and holder.namespace == request.namespace
            and not any(holder.wants((port.protocol, port.port)) for port in request.ports)
            for holder in holders
        )

    def take(self, request: Request, address: IP) -> None:
        self.holders.setdefault(address, []).append(request)
        if request.sharing_key is not None:
            self.shared.setdefault((request.namespace, request.sharing_key), []).append(address)

    def free(self, pool: Pool, version: int) -> IP | None:
        """The first address of ``pool`` of ``version`` nobody holds."""
        make = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
        for index, entry in enumerate(pool.ranges):
            if entry.version != version:
                continue
            cursor = self.cursors.get((pool.name, index), entry.first)
            while cursor <= entry.last and make(cursor) in self.holders:
                cursor += 1
            self.cursors[(pool.name, index)] = cursor
            if cursor <= entry.last:
                return make(cursor)
        return None


def allocate(
    requests: Sequence[Request], pools: Sequence[Pool], namespace_labels: Mapping[str, Mapping[str, str]]
) -> Allocation:
    """Addresses for ``requests`` from ``pools`` (already :func:`usable`)."""
    run = _Run(pools, namespace_labels)
    ordered = sorted(requests, key=lambda r: (r.created, r.key))
    for request in ordered:  # round 1: what each Service holds, if it still may
        run.keep(request)
    for request in ordered:  # round 2: requested addresses (RequireDualStack: with the rest, all or none)
        if not request.problems:
            run.add(request, automatic=request.all_families)
    for request in ordered:  # round 3: automatic addresses
        if not request.problems and request.key not in run.refusals:
            run.add(request, automatic=True)
    allocation = Allocation(refusals=run.refusals)
    for request in ordered:
        held = run.got[request.key]
        addresses = tuple(held[version] for version in request.families if version in held)
        if addresses:
            allocation.addresses[request.key] = addresses
    for address, holders in run.ledger.holders.items():
        pool = run.ledger.pool_of(address)
        if holders and pool is not None:
            allocation.pool_of[address] = pool.name
    return allocation


class _Run:
    """One allocation: the ledger, each Service's addresses by IP version, refusals. A Service's new
    addresses are taken together once all it needs are found (RequireDualStack never holds half)."""

    def __init__(self, pools: Sequence[Pool], namespace_labels: Mapping[str, Mapping[str, str]]) -> None:
        self.ledger = _Ledger(pools)
        self.pools = pools
        self.namespace_labels = namespace_labels
        self.got: dict[str, dict[int, IP]] = {}
        self.refusals: dict[str, Refusal] = {}

    def allowed(self, request: Request) -> list[Pool]:
        labels = self.namespace_labels.get(request.namespace, {})
        return [
            pool
            for pool in self.pools
            if pool.admits(request, labels) and (request.pool is None or pool.name == request.pool)
        ]

    def _keeps(self, request: Request, address: IP) -> bool:
        pool = self.ledger.pool_of(address)
        return pool is not None and pool in self.allowed(request) and self.ledger.fits(request, address)

    def keep(self, request: Request) -> None:
        wanted = {address.version: address for address in request.requested}
        found: dict[int, IP] = {}
        for address in request.held:
            if (
                address.version in request.families
                and address.version not in found
                and wanted.get(address.version, address) == address
                and self._keeps(request, address)
            ):
                found[address.version] = address
        if request.all_families and len(found) < len(request.families):
            found = {}  # kept only whole; round 3 prefers these addresses again
        self._commit(request, found)

    def add(self, request: Request, automatic: bool) -> None:
        """Find the addresses ``request`` still lacks: requested ones, and with ``automatic`` the others."""
        held = self.got.setdefault(request.key, {})
        requested = {address.version: address for address in request.requested}
        found: dict[int, IP] = {}
        for version in request.families:
            if version in held or (version not in requested and not automatic):
                continue
            if version in requested:
                outcome = self._requested(request, requested[version])
            else:
                outcome = self._automatic(request, version)
            if isinstance(outcome, Refusal):
                if version in requested or version == request.families[0] or request.all_families:
                    self.refusals[request.key] = outcome
                if version in requested or request.all_families:
                    return  # a refused request takes nothing, nor does half of RequireDualStack
                continue
            found[version] = outcome
        self._commit(request, found)

    def _commit(self, request: Request, found: Mapping[int, IP]) -> None:
        held = self.got.setdefault(request.key, {})
        for version, address in found.items():
            self.ledger.take(request, address)
            held[version] = address

    def _requested(self, request: Request, address: IP) -> IP | Refusal:
        pool = self.ledger.pool_of(address)
        if pool is None:
            return Refusal("AddressOutsidePools", f"{address} is in no usable VIPPool")
        if pool not in self.allowed(request):
            return Refusal(
                "PoolNotAllowed",
                f"VIPPool {pool.name}'s selectors do not admit this Service"
                if request.pool in (None, pool.name)
                else f"{address} is in VIPPool {pool.name}, not in {request.pool}",
            )
        if not self.ledger.fits(request, address):
            return Refusal("AddressInUse", _in_use(address, self.ledger.holders.get(address, [])))
        return address

    def _automatic(self, request: Request, version: int) -> IP | Refusal:
        for address in request.held:  # what it held before, if still free for it
            if address.version == version and self._keeps(request, address):
                return address
        candidates = [pool for pool in self.allowed(request) if pool.auto_assign or request.pool == pool.name]
        candidates = [pool for pool in candidates if any(r.version == version for r in pool.ranges)]
        chosen = _shared(request, version, candidates, self.ledger)
        if chosen is None:
            chosen = next(
                (found for pool in candidates if (found := self.ledger.free(pool, version)) is not None), None
            )
        if chosen is not None:
            return chosen
        if candidates:
            names = ", ".join(pool.name for pool in candidates)
            return Refusal("PoolExhausted", f"every IPv{version} address of VIPPool(s) {names} is taken")
        return Refusal("NoPool", _no_pool(request, version))


def _shared(request: Request, version: int, candidates: Sequence[Pool], ledger: _Ledger) -> IP | None:
    """An address sharers of ``request``'s key already hold, in one of its pools, that it fits beside."""
    if request.sharing_key is None:
        return None
    for address in ledger.shared.get((request.namespace, request.sharing_key), []):
        if (
            address.version == version
            and ledger.holders.get(address)
            and any(pool.holds(address) for pool in candidates)
            and ledger.fits(request, address)
        ):
            return address
    return None


def _in_use(address: IP, holders: Sequence[Request]) -> str:
    names = ", ".join(sorted(holder.key for holder in holders))
    return (
        f"{address} is held by {names}; Services share an address only in one namespace, under one "
        "lvs.kubelvs.io/sharing-key, with no protocol/port in common"
    )


def _no_pool(request: Request, version: int) -> str:
    if request.pool is not None:
        return (
            f"VIPPool {request.pool} does not exist, is refused, admits no such Service "
            f"or has no IPv{version} addresses"
        )
    return f"no VIPPool with IPv{version} addresses and autoAssign admits this Service (check its selectors)"
