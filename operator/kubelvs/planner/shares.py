"""Planning one change at a time: the objects in force, and each VirtualServer's share of the node state.

:class:`Planner` takes objects as they come (a watch event, an edited file), has the API's judgement
(:class:`kubelvs.api.judgement.Tribunal`) decide which are in force, and keeps a *share* per VirtualServer in
force: what it (with its RealServers, their health and this node's facts) contributes to the node state. A
change marks only the shares it touches stale, so re-planning after one RealServer edit computes one share and
merges the rest as they were. Which objects the planner skips and why is the judgement's word, never its own.

The :class:`Plan` keeps the shares: it says which object produced which kernel object, and what the holder of
a director group binds, so the agents never plan again to find out. Unchanged shares hand back the very same
Destination/Service objects, so a consumer can find what changed between two plans by identity before
equality (the reconciler's incremental path does). Pure: no I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from kubelvs.api.backends import BackendIndex, EndpointServer
from kubelvs.api.judgement import Changes, Key, Placement, Tribunal, Verdict
from kubelvs.api.models import HealthCheck, RealServer, VirtualServer
from kubelvs.api.problems import Problem
from kubelvs.api.rejections import Rejection
from kubelvs.api.service_objects import EndpointSlice, Service
from kubelvs.netstate import AddressKey, DestKey, NodeState, ServiceKey, TableChanges
from kubelvs.planner import backend, director
from kubelvs.planner.director import Made
from kubelvs.planner.facts import NodeFacts, Skip
from kubelvs.planner.ipvs import service_key
from kubelvs.planner.parts import Parts
from kubelvs.planner.tables import MergedTables

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Share:
    """One VirtualServer's contribution: skips first, then its director role, then its backend role."""

    group: str  # the VirtualServer's director group
    skipped: tuple[Skip, ...] = ()
    director: Parts | None = None  # None: not a director of it on this node
    holder: Parts | None = None  # what the holder of the group adds to the director role (VIP, gateway)
    service: ServiceKey | None = None  # the director role's service
    destinations: Mapping[str, DestKey] = field(default_factory=dict)  # RealServer key -> its destination
    backend: Parts = field(default_factory=Parts)
    checks: Mapping[str, tuple[HealthCheck, str, int]] = field(default_factory=dict)  # the director's checks
    backend_here: bool = False  # this node is one of its real servers
    source: VirtualServer | None = None  # the object this share was made of
    made: Made = field(default_factory=dict)  # what the director role made of each real server


@dataclass(frozen=True)
class Plan:
    """The node's desired state, why some objects (or roles of them) are not in it, and who wants what."""

    state: NodeState
    skipped: tuple[Skip, ...] = ()
    shares: Mapping[str, Share] = field(default_factory=dict)  # VirtualServer key -> its share
    # its IPVS tables against the last plan's (None: diff them); how it was made, not what it says
    changes: TableChanges | None = field(default=None, compare=False)

    def service_of(self, virtual_server: str) -> ServiceKey | None:
        """The IPVS service this node programs for a VirtualServer (None: not a director of it here)."""
        share = self.shares.get(virtual_server)
        return share.service if share is not None and share.director is not None else None

    def destination_of(self, virtual_server: str, real_server: str) -> DestKey | None:
        """The destination a RealServer of a VirtualServer this node directs is, programmed or not."""
        share = self.shares.get(virtual_server)
        return share.destinations.get(real_server) if share is not None and share.director is not None else None

    def held_addresses(self, groups: Collection[str]) -> set[AddressKey]:
        """What the holder of ``groups`` binds (VIPs, gateways), as a plan holding them would have it."""
        backend_vips = {k.address for k in self.state.addresses if k.interface in backend.VIP_INTERFACES}
        found: set[AddressKey] = set()
        for share in self.shares.values():
            if share.holder is not None and share.group in groups:
                found.update(key for key in share.holder.addresses if key.address not in backend_vips)
        return found

    def led(self, groups: Collection[str]) -> Iterator[str]:
        """Keys of the VirtualServers this node directs in ``groups``, in key order."""
        for key in sorted(self.shares):
            share = self.shares[key]
            if share.director is not None and share.group in groups:
                yield key

    def backend_of(self) -> set[str]:
        """Keys of the VirtualServers this node is a real server of."""
        return {key for key, share in self.shares.items() if share.backend_here}

    def owners(self) -> tuple[dict[ServiceKey, str], dict[DestKey, str]]:
        """Service -> VirtualServer key and destination -> RealServer key of the director roles."""
        services: dict[ServiceKey, str] = {}
        destinations: dict[DestKey, str] = {}
        for key, share in self.shares.items():
            if share.director is not None and share.service is not None:
                services[share.service] = key
                destinations.update((dest, rs) for rs, dest in share.destinations.items())
        return services, destinations


class Planner:
    """The objects of one node's world, the judgement of them and a memo of each VirtualServer's share.

    Feed it with :meth:`replace_all` (a whole snapshot: unchanged objects are found by identity, then by
    value) or with :meth:`put` / :meth:`remove` (one watch event, one edited file); tell it the health of
    real servers with :meth:`set_health`, then call :meth:`plan`. Services and EndpointSlices go to
    :meth:`put` and :meth:`remove` too: the endpoints a VirtualServer's ``backends`` follow become its
    real servers (:mod:`kubelvs.api.backends`), judged and planned like hand-written ones.
    """

    def __init__(self, node_addresses: Mapping[str, frozenset[str]] | None = None) -> None:
        self._tribunal = Tribunal()
        self._node_addresses: Mapping[str, frozenset[str]] = node_addresses or {}
        self._virtual_servers: dict[str, VirtualServer] = {}  # in force
        self._real_servers: dict[str, RealServer] = {}  # in force
        self._children: dict[str, dict[str, RealServer]] = {}  # VirtualServer key -> RealServer key -> it
        self._written: dict[str, dict[str, RealServer]] = {}  # the same for RealServer objects (no endpoints)
        self._rejected: dict[Key, tuple[VirtualServer | RealServer | None, Verdict]] = {}
        self._entries: dict[str, Share] = {}
        self._stale: set[str] = set()  # VirtualServer keys whose objects changed since their share was made
        self._order: list[str] | None = None  # VirtualServer keys, sorted; None: to be sorted again
        self._facts: NodeFacts | None = None
        self._down: frozenset[str] = frozenset()  # RealServer keys failing their health checks
        self._objects: dict[Key, tuple[VirtualServer | RealServer, Verdict | None]] = {}  # as given, with vetoes
        self._backends = BackendIndex()
        self._checks: dict[str, tuple[HealthCheck, str, int]] | None = None  # merged from the shares; None: stale
        self._tables = MergedTables()
        self._last_state: NodeState | None = None  # the last plan's, which the tables' changes are against

    # --- inputs --------------------------------------------------------------------------------------

    def put(self, obj: VirtualServer | RealServer | Service | EndpointSlice, veto: Verdict | None = None) -> None:
        """Add or replace one object (by namespace/name); a ``veto`` keeps it out of force whatever else."""
        if isinstance(obj, Service):
            self._backends.put_service(obj)
            return
        if isinstance(obj, EndpointSlice):
            self._backends.put_slice(obj)
            return
        if isinstance(obj, VirtualServer):
            self._backends.put_virtual_server(obj)
        key = (obj.kind, obj.key)
        old = self._objects.get(key)
        if old is not None and old[1] == veto and (old[0] is obj or old[0] == obj):
            return
        self._objects[key] = (obj, veto)
        self._tribunal.put(obj, veto)

    def put_invalid(self, kind: str, key: str, problems: Iterable[Problem]) -> None:
        """An object that failed its own checks: never in force, and its RealServers are told why."""
        self._objects.pop((kind, key), None)
        if kind == "VirtualServer":
            self._backends.remove_virtual_server(key)
        self._tribunal.put_invalid(kind, key, problems)

    def remove(self, kind: str, key: str) -> None:
        """Forget the object ``key`` (namespace/name) of ``kind``; unknown keys are fine."""
        if kind == "Service":
            self._backends.remove_service(key)
            return
        if kind == "EndpointSlice":
            self._backends.remove_slice(key)
            return
        if kind == "VirtualServer":
            self._backends.remove_virtual_server(key)
        self._objects.pop((kind, key), None)
        self._tribunal.remove(kind, key)

    def replace_all(self, virtual_servers: Iterable[VirtualServer], real_servers: Iterable[RealServer]) -> None:
        """Make the world exactly these objects; shares of unchanged VirtualServers are kept."""
        wanted: dict[Key, VirtualServer | RealServer] = {(o.kind, o.key): o for o in virtual_servers}
        wanted.update(((o.kind, o.key), o) for o in real_servers)
        given = [
            k for k, (obj, _) in self._objects.items() if k not in wanted and not isinstance(obj, EndpointServer)
        ]
        for key in given:  # endpoint servers come and go with their endpoints, not with a snapshot
            self.remove(*key)
        for obj in wanted.values():
            self.put(obj)

    def followed_services(self) -> frozenset[str]:
        """``namespace/name`` of every Service a VirtualServer given here follows (its ``backends``)."""
        return self._backends.followed_services()

    def set_node_addresses(self, node_addresses: Mapping[str, frozenset[str]]) -> None:
        """Every node's own addresses: a VIP equal to one of them is never in force."""
        self._node_addresses = node_addresses

    def set_health(self, down: Collection[str]) -> None:
        """Keys of the real servers failing their checks now; their VirtualServers' shares are made again."""
        failing = frozenset(down)
        for key in failing ^ self._down:
            rs = self._real_servers.get(key)
            if rs is not None:
                self._stale.add(rs.virtual_server_key)
        self._down = failing

    # --- judging -------------------------------------------------------------------------------------

    def _judge(self, facts: NodeFacts) -> None:
        put, removed = self._backends.changes()  # endpoints that changed: real servers like any other
        for key in removed:
            self.remove("RealServer", key)
        for server in put:
            self.put(server)
        self._tribunal.set_placement(Placement(facts.vip_pools, self._node_addresses))
        self._admit(self._tribunal.settle())

    def _admit(self, changes: Changes) -> None:
        """Take what entered and left force into the objects the shares are made from."""
        for kind, key in changes.left:
            if kind == "VirtualServer":
                if self._virtual_servers.pop(key, None) is not None:
                    self._order = None
                    if (gone := self._entries.pop(key, None)) is not None and gone.checks:
                        self._checks = None
                    self._stale.discard(key)
            else:
                old = self._real_servers.pop(key, None)
                if old is not None:
                    self._drop_child(old)
        virtual_servers, real_servers, children, stale = (
            self._virtual_servers,
            self._real_servers,
            self._children,
            self._stale,
        )  # locals: a first plan admits every object
        for obj in changes.entered:
            if isinstance(obj, VirtualServer):
                if obj.key not in virtual_servers:
                    self._order = None
                virtual_servers[obj.key] = obj
                stale.add(obj.key)
                continue
            old_rs = real_servers.get(obj.key)
            if old_rs is not None:
                self._drop_child(old_rs)
            real_servers[obj.key] = obj
            parent = obj.virtual_server_key
            siblings = children.get(parent)
            if siblings is None:
                siblings = children[parent] = {}
            siblings[obj.key] = obj
            stale.add(parent)
            if not isinstance(obj, EndpointServer):
                self._written.setdefault(parent, {})[obj.key] = obj
        for judged, verdict in changes.judged:
            if verdict is None or verdict.accepted:
                self._rejected.pop(judged, None)
            else:
                given = self._objects.get(judged)
                self._rejected[judged] = (given[0] if given is not None else None, verdict)

    def _drop_child(self, rs: RealServer) -> None:
        self._stale.add(rs.virtual_server_key)
        for children in (self._children, self._written):
            siblings = children.get(rs.virtual_server_key)
            if siblings is not None:
                siblings.pop(rs.key, None)
                if not siblings:
                    del children[rs.virtual_server_key]

    def in_force(self) -> tuple[list[VirtualServer], list[RealServer]]:
        """The objects in force as of the last plan, in no particular order: what that plan programmed, not
        what was fed since (the next plan judges that)."""
        return list(self._virtual_servers.values()), list(self._real_servers.values())

    def virtual_servers(self) -> list[VirtualServer]:
        """The VirtualServers in force as of the last plan (without a walk of every RealServer)."""
        return list(self._virtual_servers.values())

    def health_checks(self) -> Mapping[str, tuple[HealthCheck, str, int]]:
        """RealServer key -> (its check, address, port) as of the last plan, for every VirtualServer this node
        directs that checks health; the same mapping until a share with checks is made again (so a caller
        compares by identity)."""
        if self._checks is None:
            self._checks = {}
            for share in self._entries.values():
                self._checks.update(share.checks)
        return self._checks

    def virtual_server(self, key: str) -> VirtualServer | None:
        """The VirtualServer ``key`` if it is in force (as of the last plan)."""
        return self._virtual_servers.get(key)

    def real_server(self, key: str) -> RealServer | None:
        """The RealServer ``key`` if it is in force (as of the last plan)."""
        return self._real_servers.get(key)

    def real_server_objects_of(self, virtual_server: str) -> list[RealServer]:
        """The RealServer objects in force of one VirtualServer, in key order: what has a status (the
        endpoints of its ``backends`` have none, and are not walked here on every pass)."""
        return sorted(self._written.get(virtual_server, {}).values(), key=_rs_key)

    def rejections(self) -> list[tuple[str, str, Verdict]]:
        """(kind, key, verdict) of every object given that the judgement keeps out of force, VirtualServers
        first, each kind in key order (an object that failed its own checks is its loader's to report)."""
        found = [(kind, key, verdict) for (kind, key), (obj, verdict) in self._rejected.items() if obj is not None]
        return sorted(found, key=lambda item: (item[0] != "VirtualServer", item[1]))

    def verdict(self, kind: str, key: str) -> Verdict | None:
        """The judgement's word on one object as of the last plan (None: unknown)."""
        return self._tribunal.verdict(kind, key)

    # --- planning ------------------------------------------------------------------------------------

    def plan(self, facts: NodeFacts, held_groups: Collection[str], sort: bool = False) -> Plan:
        """The node's desired state: every share, made afresh only where its inputs changed, merged.

        ``sort`` orders the parts' maps by key, as :func:`kubelvs.planner.plan` always returns them; the
        agents skip it, their reconciler does not care about order.
        """
        self._judge(facts)
        if facts != self._facts:
            self._entries.clear()
            self._facts = facts
            self._checks = None
        if self._order is None:
            self._order = sorted(self._virtual_servers)
        parts = Parts()
        directors: dict[str, Parts | None] = {}
        stale, self._stale = self._stale, set()
        for key in self._order:
            share = self._entries.get(key)
            if share is None or key in stale:
                vs = self._virtual_servers[key]
                siblings = self._children.get(key, {})
                children = [siblings[name] for name in sorted(siblings)]  # key order, sorted in C
                old, share = share, _share(vs, children, facts, self._down, share)
                self._entries[key] = share
                if share.checks or (old is not None and old.checks):
                    self._checks = None
            _merge(parts, share, share.group in held_groups)
            directors[key] = share.director
        changes: TableChanges | None = None
        if self._last_state is None:
            self._tables.rebuild(directors.items())
        else:
            changes = self._tables.update(directors, self._last_state)
        parts.services, parts.destinations = self._tables.services, self._tables.destinations
        parts.snat_rules = self._tables.snat_rules
        parts.skipped.extend(self._rejections(facts))
        for key, problems in sorted(self._backends.problems().items()):
            if key in self._virtual_servers:
                parts.skipped.extend(Skip(f"VirtualServer {key}", str(problem)) for problem in problems)
        _backend_vips_win(parts, facts)
        backend.assign_tables(parts)
        if sort:
            parts.sort()
        state = parts.state()
        self._last_state = state
        return Plan(state, tuple(parts.skipped), dict(self._entries), changes)

    def _rejections(self, facts: NodeFacts) -> list[Skip]:
        """The judgement's rejections this node should say something of: every VirtualServer's, and a
        RealServer's where this node would serve it or its VirtualServer is in force."""
        skips: list[Skip] = []
        for (kind, key), (obj, verdict) in sorted(self._rejected.items()):
            if kind == "VirtualServer":
                skips.append(Skip(f"VirtualServer {key}", verdict.message))
            elif verdict.rejection is Rejection.VIRTUAL_SERVER_MISSING:
                if isinstance(obj, RealServer) and obj.spec.address in facts.local_addresses:
                    skips.append(Skip(f"RealServer {key}", f"VirtualServer {obj.virtual_server_key} is not known"))
            elif verdict.rejection is not Rejection.VIRTUAL_SERVER_NOT_ACCEPTED:
                skips.append(Skip(f"RealServer {key}", verdict.message))
        return skips


def _rs_key(rs: RealServer) -> str:
    return rs.key


def _share(
    vs: VirtualServer, children: list[RealServer], facts: NodeFacts, down: Collection[str], before: Share | None
) -> Share:
    """``before``: this VirtualServer's last share, whose destinations are taken where nothing changed."""
    obj = f"VirtualServer {vs.key}"
    group = director.group(vs)
    try:
        skipped: list[Skip] = []
        local = [rs for rs in children if rs.spec.address in facts.local_addresses]
        # pods on this node (not its own addresses): only their NAT replies need the node, a return route
        pods = [rs for rs in children if _pod_of(rs, facts) and rs.spec.address not in facts.local_addresses]
        director_parts: Parts | None = None
        holder: Parts | None = None
        service: ServiceKey | None = None
        destinations: dict[str, DestKey] = {}
        made: Made = {}
        directing = director.selects(vs, facts)
        if directing:
            if local:
                # A director that is also a real server of the same service would re-balance the packets
                # other directors send it (the classic LVS-DR two-node loop).
                names = ", ".join(sorted(rs.key for rs in local))
                skipped.append(
                    Skip(obj, f"director role skipped on {facts.node}: it is the real server {names} of it")
                )
            else:
                director_parts, holder = Parts(), Parts()
                reuse = before.made if before is not None and before.source is vs else None
                destinations = director.add(director_parts, vs, children, down, made, reuse)
                director.bind(holder, vs, facts)
                service = service_key(vs.spec)
        backend_parts = Parts()
        for rs in local:
            backend.add(backend_parts, vs, rs)
        for rs in pods:
            backend.add_pod(backend_parts, vs, rs)
        checks = director.checks(vs, children) if directing else {}
        roles = (director_parts, holder, service, destinations, backend_parts)
        return Share(group, tuple(skipped), *roles, checks, bool(local), vs, made)
    except (ValueError, KeyError, AssertionError) as error:  # never let one object sink the rest
        return Share(group, skipped=(Skip(obj, f"not planned: {error!r}"),))


def _pod_of(rs: RealServer, facts: NodeFacts) -> bool:
    return isinstance(rs, EndpointServer) and rs.node_name == facts.node


def _merge(parts: Parts, share: Share, held: bool) -> None:
    """Everything of ``share`` but its director's IPVS tables (:class:`MergedTables` keeps those)."""
    parts.skipped.extend(share.skipped)
    if share.director is not None:
        parts.merge(share.director, tables=False)
        if held and share.holder is not None:
            parts.merge(share.holder)
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
