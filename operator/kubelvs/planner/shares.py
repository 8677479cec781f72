"""Planning one change at a time: each VirtualServer's share of the node state, kept until its inputs change.

A *share* is what one VirtualServer (with its RealServers, this node's facts and whether the node holds its
director group) contributes to the node state. :class:`Planner` keeps the objects it was given and a share
per VirtualServer; a changed object marks only its VirtualServer's share stale, so re-planning after one
RealServer edit computes one share and merges the rest as they were. The rules that span objects stay where
they were: shares are merged in VirtualServer key order, so the first VirtualServer keeps a service key two
of them claim, and a backend's VIP on lo/tunl0 still beats the same address bound elsewhere. Pure: no I/O.

Unchanged shares hand back the very same Destination/Service objects, so a consumer can find what changed
between two plans by identity before equality (the reconciler's incremental path does).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.netstate import NodeState, ServiceKey
from kubelvs.planner import backend, director
from kubelvs.planner.facts import NodeFacts, Skip, in_pools
from kubelvs.planner.ipvs import service_key, vip
from kubelvs.planner.parts import Parts

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """The node's desired state, and why some objects (or roles of them) are not in it."""

    state: NodeState
    skipped: tuple[Skip, ...] = ()


@dataclass(frozen=True)
class Share:
    """One VirtualServer's contribution: skips first, then its director role, then its backend role."""

    skipped: tuple[Skip, ...] = ()
    director: Parts | None = None  # None: not a director of it on this node
    service: ServiceKey | None = None  # the director role's service, claimed at merge time
    backend: Parts = field(default_factory=Parts)


@dataclass
class _Entry:
    group: str  # the VirtualServer's director group
    held: bool  # whether the node held that group when the share was made
    share: Share


class Planner:
    """The objects of one node's world and a memo of each VirtualServer's share.

    Feed it with :meth:`replace_all` (a whole snapshot: unchanged objects are found by identity, then by
    value) or with :meth:`put` / :meth:`remove` (one watch event, one edited file), then call :meth:`plan`.
    """

    def __init__(self) -> None:
        self._virtual_servers: dict[str, VirtualServer] = {}
        self._real_servers: dict[str, RealServer] = {}
        self._children: dict[str, dict[str, RealServer]] = {}  # VirtualServer key -> RealServer key -> it
        self._entries: dict[str, _Entry] = {}
        self._stale: set[str] = set()  # VirtualServer keys whose objects changed since their share was made
        self._order: list[str] | None = None  # VirtualServer keys, sorted; None: to be sorted again
        self._facts: NodeFacts | None = None

    # --- inputs --------------------------------------------------------------------------------------

    def put(self, obj: VirtualServer | RealServer) -> None:
        """Add or replace one object (by namespace/name)."""
        if isinstance(obj, VirtualServer):
            old_vs = self._virtual_servers.get(obj.key)
            if old_vs is None:
                self._order = None
            elif old_vs is obj or old_vs == obj:
                return
            self._virtual_servers[obj.key] = obj
            self._stale.add(obj.key)
            return
        old = self._real_servers.get(obj.key)
        if old is not None:
            if old is obj or old == obj:
                return
            self._drop_child(old)
        self._real_servers[obj.key] = obj
        self._children.setdefault(obj.virtual_server_key, {})[obj.key] = obj
        self._stale.add(obj.virtual_server_key)

    def remove(self, kind: str, key: str) -> None:
        """Forget the VirtualServer or RealServer ``key`` (namespace/name); unknown keys are fine."""
        if kind == "VirtualServer":
            if self._virtual_servers.pop(key, None) is not None:
                self._order = None
                self._entries.pop(key, None)
                self._stale.discard(key)
            return
        old = self._real_servers.pop(key, None)
        if old is not None:
            self._drop_child(old)

    def replace_all(self, virtual_servers: Iterable[VirtualServer], real_servers: Iterable[RealServer]) -> None:
        """Make the world exactly these objects; shares of unchanged VirtualServers are kept.

        Unchanged objects are found by identity, then by value, so a snapshot parsed afresh costs one
        comparison per object, and re-planning only the VirtualServers whose objects really changed.
        """
        wanted_vs = {vs.key: vs for vs in virtual_servers}
        wanted_rs = {rs.key: rs for rs in real_servers}
        for key in [k for k in self._virtual_servers if k not in wanted_vs]:
            self.remove("VirtualServer", key)
        for key in [k for k in self._real_servers if k not in wanted_rs]:
            self.remove("RealServer", key)
        for key, vs in wanted_vs.items():
            if self._virtual_servers.get(key) is not vs:
                self.put(vs)
        for key, rs in wanted_rs.items():
            if self._real_servers.get(key) is not rs:
                self.put(rs)

    def _drop_child(self, rs: RealServer) -> None:
        self._stale.add(rs.virtual_server_key)
        siblings = self._children.get(rs.virtual_server_key)
        if siblings is not None:
            siblings.pop(rs.key, None)
            if not siblings:
                del self._children[rs.virtual_server_key]

    # --- planning ------------------------------------------------------------------------------------

    def plan(self, facts: NodeFacts, held_groups: Collection[str], sort: bool = False) -> Plan:
        """The node's desired state: every share, made afresh only where its inputs changed, merged.

        ``sort`` orders the parts' maps by key, as :func:`kubelvs.planner.plan` always returns them; the
        agents skip it, their reconciler does not care about order.
        """
        if facts != self._facts:
            self._entries.clear()
            self._facts = facts
        if self._order is None:
            self._order = sorted(self._virtual_servers)
        parts = Parts()
        stale, self._stale = self._stale, set()
        for key in self._order:
            entry = self._entries.get(key)
            if entry is None or key in stale or (entry.group in held_groups) != entry.held:
                vs = self._virtual_servers[key]
                children = sorted(self._children.get(key, {}).values(), key=_rs_key)
                group = director.group(vs)
                held = group in held_groups
                entry = _Entry(group, held, _share(vs, children, facts, held))
                self._entries[key] = entry
            _merge(parts, key, entry.share)
        for key in sorted(set(self._children) - set(self._virtual_servers)):
            for rs in sorted(self._children[key].values(), key=_rs_key):
                if rs.spec.address in facts.local_addresses:
                    parts.skipped.append(Skip(f"RealServer {rs.key}", f"VirtualServer {key} is not known"))
        _backend_vips_win(parts, facts)
        backend.assign_tables(parts)
        if sort:
            parts.sort()
        return Plan(parts.state(), tuple(parts.skipped))


def _rs_key(rs: RealServer) -> str:
    return rs.key


def _share(vs: VirtualServer, children: list[RealServer], facts: NodeFacts, held: bool) -> Share:
    obj = f"VirtualServer {vs.key}"
    try:
        problem = pool_problem(vs, facts)
        if problem:
            return Share(skipped=(Skip(obj, problem),))
        skipped: list[Skip] = []
        local = [rs for rs in children if rs.spec.address in facts.local_addresses]
        director_parts: Parts | None = None
        service: ServiceKey | None = None
        if director.selects(vs, facts):
            if local:
                # A director that is also a real server of the same service would re-balance the packets
                # other directors send it (the classic LVS-DR two-node loop).
                names = ", ".join(rs.key for rs in local)
                skipped.append(
                    Skip(obj, f"director role skipped on {facts.node}: it is the real server {names} of it")
                )
            else:
                director_parts = Parts()
                director.add(director_parts, vs, children, facts, held)
                service = service_key(vs.spec)
        backend_parts = Parts()
        for rs in local:
            backend.add(backend_parts, vs, rs)
        return Share(tuple(skipped), director_parts, service, backend_parts)
    except (ValueError, KeyError, AssertionError) as error:  # never let one object sink the rest
        return Share(skipped=(Skip(obj, f"not planned: {error!r}"),))


def _merge(parts: Parts, key: str, share: Share) -> None:
    parts.skipped.extend(share.skipped)
    if share.director is not None and share.service is not None:
        if share.service in parts.services:  # the loader reports the conflict; the first VirtualServer keeps it
            parts.skipped.append(
                Skip(f"VirtualServer {key}", f"{share.service} is already another VirtualServer's")
            )
        else:
            parts.merge(share.director)
    parts.merge(share.backend)


def _backend_vips_win(parts: Parts, facts: NodeFacts) -> None:
    """A VIP a backend holds on lo/tunl0 is never also bound where the node would answer ARP for it."""
    held = {key.address for key in parts.addresses if key.interface in backend.VIP_INTERFACES}
    for key in [k for k in parts.addresses if k.interface not in backend.VIP_INTERFACES and k.address in held]:
        del parts.addresses[key]
        parts.skipped.append(
            Skip(
                f"address {key.address}",
                f"not bound on {key.interface}: {facts.node} is a real server behind this VIP",
            )
        )


def pool_problem(vs: VirtualServer, facts: NodeFacts) -> str | None:
    """Why ``vs``'s VIP may not be claimed on this node (outside the VIP pools), or None."""
    if not facts.vip_pools:
        return None
    address = vip(vs.spec)
    pools = ", ".join(str(p) for p in facts.vip_pools)
    if address is None:
        return f"fwmark {vs.spec.fwmark} has no fwmarkMatch, so no VIP to check against the VIP pools ({pools})"
    if not in_pools(address, facts.vip_pools):
        return f"VIP {address} is outside the VIP pools ({pools}); kube-lvs may not claim it on this node"
    return None
