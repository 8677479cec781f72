"""Which objects are in force: the one judgement ``kubelvs validate``, the operator and both agents share.

An object is in force when it passed its own checks, its VIP may be claimed here (inside the VIP pools, not
a node's own address), it won every claim it makes against the others (:func:`kubelvs.api.set_rules.set_judgement`,
the older object first, so creating a duplicate never disturbs a working service; names break ties), and no
one with the last word has rejected it (the operator, for the in-cluster agent: a *veto*).

Claims only meet within small groups: VirtualServers linked by a claim (a service, marked traffic, a VIP:
:mod:`kubelvs.api.claims`), RealServers of one VirtualServer. :class:`Tribunal` keeps the objects by group and
judges again only the groups a change touched, so an agent pays for one edit what the edit touches;
:func:`judge` is the same judgement of a whole set at once. Pure: objects in, verdicts out.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubelvs.api import status_fields as sf
from kubelvs.api.backends import EndpointServer, pod_forwarding_problem
from kubelvs.api.claims import claims
from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.problems import Problem
from kubelvs.api.rejections import Ordering, Rejection, SetProblem
from kubelvs.api.set_rules import children_judgement, set_judgement

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Model = VirtualServer | RealServer
Key = tuple[str, str]  # (kind, namespace/name)

NODE_ADDRESS_TYPES = ("InternalIP", "ExternalIP")
MESSAGE_LIMIT = 4096  # a verdict's message: conditions, Events and stderr lines stay a few KB


@dataclass(frozen=True)
class Verdict:
    """Accepted (no rejection) or rejected for one reason with the problems that prove it."""

    rejection: Rejection | None = None
    problems: tuple[Problem, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.rejection is None

    @property
    def message(self) -> str:
        """The problems joined, at most MESSAGE_LIMIT characters: whole problems, then how many were left out
        (a status write with a huge condition would be refused whole, and nobody reads past the first few)."""
        budget = MESSAGE_LIMIT - 40  # room for the count of what is left out
        shown: list[str] = []
        length = 0
        for index, problem in enumerate(self.problems):
            text = str(problem)
            if length + len(text) > budget:
                if not shown:  # one problem over the budget on its own: its head
                    shown, index = [text[:budget] + "..."], index + 1
                left = len(self.problems) - index
                return "; ".join(shown + ([f"and {left} more problem(s)"] if left else []))
            shown.append(text)
            length += len(text) + 2
        return "; ".join(shown)


ACCEPTED = Verdict()


@dataclass(frozen=True)
class Placement:
    """What only a deployment knows: the addresses kube-lvs may claim, and every node's own addresses."""

    pools: tuple[Network, ...] = ()  # empty: no restriction
    node_addresses: Mapping[str, frozenset[str]] = field(default_factory=dict)  # node name -> addresses


def parse_pools(text: str, flag: str = "--vip-pools") -> tuple[Network, ...]:
    """``"192.0.2.0/24, 2001:db8::/64"`` -> networks; a wrong entry names itself and why."""
    pools: list[Network] = []
    for index, item in enumerate(part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            pools.append(ipaddress.ip_network(item, strict=True))
        except ValueError as error:
            raise ValueError(f"{flag} entry {index + 1} {item!r} is not a network in CIDR form: {error}") from None
    return tuple(pools)


def in_pools(address: str, pools: tuple[Network, ...]) -> bool:
    """True if no pools are configured, or ``address`` lies inside one of them."""
    if not pools:
        return True
    ip = ipaddress.ip_address(address)
    return any(ip.version == pool.version and ip in pool for pool in pools)


def warn_without_pools(
    pools: tuple[Network, ...], log: logging.Logger, flag: str = "--vip-pools CIDR,..."
) -> bool:
    """Say once, at start, what running without VIP pools means and how to fix it; True if it was said.

    Empty pools stay allowed (a standalone host may claim what it likes), but then nothing bounds the VIPs:
    one tenant's VirtualServer may take an address another tenant or the node's network already uses.
    """
    if pools:
        return False
    log.warning(
        "no VIP pools configured: any address may be claimed as a VIP, including addresses other tenants or"
        " the node's own network use; list the networks kube-lvs may claim with %s"
        " (Helm value config.vipPools)",
        flag,
    )
    return True


def age(obj: Model) -> tuple[str, str]:
    """Sort key: older first (``creationTimestamp``); ``namespace/name`` breaks ties and orders objects
    that have no age (manifest files), so every judge ranks two claimants alike."""
    return (str((obj.metadata.model_extra or {}).get("creationTimestamp") or ""), obj.key)


BY_AGE = Ordering(age, first="the older ")
"""Of two objects with one claim the older keeps it."""


def node_addresses(status: Mapping[str, Any]) -> frozenset[str]:
    """A Node's own addresses (InternalIP, ExternalIP) from its status, normalised; others are ignored."""
    found = set()
    for item in status.get("addresses") or []:
        if isinstance(item, Mapping) and item.get("type") in NODE_ADDRESS_TYPES:
            try:
                found.add(ipaddress.ip_address(str(item.get("address"))).compressed)
            except ValueError:
                continue  # a malformed entry claims nothing
    return frozenset(found)


def operator_veto(raw: Mapping[str, Any]) -> Verdict | None:
    """The operator's rejection of this generation of the object (``Accepted=False`` observed at the current
    ``metadata.generation``), or None: not judged yet, judged for an older generation, or accepted."""
    meta, status = raw.get("metadata"), raw.get("status")
    if not isinstance(meta, Mapping) or not isinstance(status, Mapping):
        return None
    generation = meta.get("generation")
    for item in status.get("conditions") or []:
        if not isinstance(item, Mapping) or item.get("type") != "Accepted":
            continue
        if item.get("status") != "False" or generation is None or item.get(sf.OBSERVED_GENERATION) != generation:
            return None
        reason = str(item.get("reason") or "")
        rejection = Rejection(reason) if reason in Rejection.__members__.values() else Rejection.INVALID_SPEC
        message = str(item.get("message") or "")[:1024]
        return Verdict(
            rejection, (Problem("status.conditions[Accepted]", f"rejected by the operator: {message}"),)
        )
    return None


def placement_verdict(vs: VirtualServer, placement: Placement) -> Verdict | None:
    """Why ``vs``'s VIP may not be claimed here (outside the pools, a node's address), or None."""
    for path, vip in _vips(vs):
        if not in_pools(vip, placement.pools):
            allowed = ", ".join(str(pool) for pool in placement.pools)
            return Verdict(
                Rejection.VIP_OUTSIDE_POOLS,
                (Problem(path, f"{vip} is outside the VIP pools ({allowed}) kube-lvs may claim"),),
            )
        for node, addresses in sorted(placement.node_addresses.items()):
            if vip in addresses:  # both normalised
                problem = Problem(
                    path, f"{vip} is an address of node {node}; a VIP must not be a node's own address"
                )
                return Verdict(Rejection.VIP_IS_NODE_ADDRESS, (problem,))
    if placement.pools and vs.spec.fwmark is not None and vs.spec.fwmark_match is None:
        allowed = ", ".join(str(pool) for pool in placement.pools)
        problem = Problem(
            "spec.fwmarkMatch", f"fwmark {vs.spec.fwmark} marks no VIP, so none can be checked against ({allowed})"
        )
        return Verdict(Rejection.VIP_OUTSIDE_POOLS, (problem,))
    return None


def _vips(vs: VirtualServer) -> Iterator[tuple[str, str]]:
    """(field path, address) of every address this service would claim on a director."""
    if vs.spec.address is not None:
        yield "spec.address", vs.spec.address
    if vs.spec.fwmark_match is not None:
        yield "spec.fwmarkMatch.destination", vs.spec.fwmark_match.destination


@dataclass(frozen=True)
class Changes:
    """What entered force (new, or in force with a new body) and what left it, since the last settle."""

    entered: tuple[Model, ...] = ()
    left: tuple[Key, ...] = ()
    # objects judged again whose verdict is a rejection, or was one before (None: gone); acceptances that
    # stay acceptances are left out: a first settle accepts thousands that nobody needs told
    judged: tuple[tuple[Key, Verdict | None], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.entered or self.left or self.judged)


class Tribunal:
    """Every object's verdict, kept as objects come and go; a change re-judges only the groups it touches."""

    def __init__(self, placement: Placement | None = None) -> None:
        self._placement = placement or Placement()
        self._node_addresses = _every_address(self._placement)
        self._objects: dict[Key, Model] = {}
        self._vetoes: dict[Key, Verdict] = {}  # objects that take no part: invalid, or vetoed
        self._claims: dict[str, tuple[str, ...]] = {}  # VirtualServer key -> the claim keys it makes
        self._claimants: dict[str, set[str]] = {}  # claim key -> VirtualServer keys
        self._parent: dict[str, str] = {}  # RealServer key -> its VirtualServer's key
        self._children: dict[str, set[Key]] = {}  # VirtualServer key -> its RealServers' (kind, key)
        self._verdicts: dict[Key, Verdict] = {}
        self._in_force: dict[Key, Model] = {}
        self._dirty_claims: set[str] = set()
        self._dirty_parents: set[str] = set()
        self._gone: set[Key] = set()  # removed since the last settle, to leave force there
        self._rejected: set[Key] = set()  # keys whose verdict was a rejection at the last settle

    # --- inputs --------------------------------------------------------------------------------------

    def put(self, obj: Model, veto: Verdict | None = None) -> None:
        """Add or replace one parsed object; a ``veto`` rejects it whatever the rules say."""
        key = (obj.kind, obj.key)
        self._forget_groups(key)
        self._objects[key] = obj
        if veto is not None:
            self._vetoes[key] = veto
        if isinstance(obj, VirtualServer):
            keys = tuple(claim.key for claim in claims(obj))
            self._claims[obj.key] = keys
            for claim_key in keys:
                self._claimants.setdefault(claim_key, set()).add(obj.key)
            self._dirty_claims.update(keys)
            self._dirty_parents.add(obj.key)
        else:
            self._parent[obj.key] = obj.virtual_server_key
            self._children.setdefault(obj.virtual_server_key, set()).add(key)
            self._dirty_parents.add(obj.virtual_server_key)

    def put_invalid(self, kind: str, key: str, problems: Iterable[Problem]) -> None:
        """An object that exists but failed its own checks: in force never, and its RealServers are told."""
        self.remove(kind, key)
        self._verdicts[(kind, key)] = Verdict(Rejection.INVALID_SPEC, tuple(problems))
        if kind == "VirtualServer":
            self._dirty_parents.add(key)

    def remove(self, kind: str, key: str) -> None:
        """Forget one object (unknown keys are fine)."""
        self._forget_groups((kind, key))
        self._objects.pop((kind, key), None)
        self._verdicts.pop((kind, key), None)
        self._gone.add((kind, key))

    def set_placement(self, placement: Placement) -> None:
        """New pools or node addresses: every VirtualServer is placed again."""
        if placement != self._placement:
            self._placement = placement
            self._node_addresses = _every_address(placement)
            self._dirty_claims.update(self._claimants)

    def _forget_groups(self, key: Key) -> None:
        kind, name = key
        self._vetoes.pop(key, None)
        if kind == "VirtualServer":
            for claim_key in self._claims.pop(name, ()):
                self._claimants[claim_key].discard(name)
                if not self._claimants[claim_key]:
                    del self._claimants[claim_key]
                self._dirty_claims.add(claim_key)
            self._dirty_parents.add(name)
        else:
            parent = self._parent.pop(name, None)
            if parent is not None:
                self._children[parent].discard(key)
                if not self._children[parent]:
                    del self._children[parent]
                self._dirty_parents.add(parent)

    # --- judging -------------------------------------------------------------------------------------

    def settle(self) -> Changes:
        """Judge the touched groups again; what entered and left force since the last call."""
        touched, self._gone = self._gone, set()
        while self._dirty_claims:
            touched.update(self._judge_claimants(self._linked(self._dirty_claims.pop())))
        for kind, name in touched:
            if kind == "VirtualServer":
                self._dirty_parents.add(name)
        for parent in self._dirty_parents:
            touched.update(self._judge_children(parent))
            touched.add(("VirtualServer", parent))
        self._dirty_parents.clear()
        entered: list[Model] = []
        left: list[Key] = []
        judged: list[tuple[Key, Verdict | None]] = []
        objects, verdicts, in_force, rejected = self._objects, self._verdicts, self._in_force, self._rejected
        for key in touched:  # unordered: sorting every key of a first settle costs more than judging them
            obj = objects.get(key)
            verdict = verdicts.get(key)
            accepted = verdict is not None and verdict.rejection is None
            if not accepted:
                judged.append((key, verdict))
                if verdict is None:
                    rejected.discard(key)
                else:
                    rejected.add(key)
            elif key in rejected:
                judged.append((key, verdict))
                rejected.discard(key)
            now = obj if obj is not None and accepted else None
            before = in_force.get(key)
            if now is None:
                if before is not None:
                    del in_force[key]
                    left.append(key)
            elif before is not now:
                in_force[key] = now
                entered.append(now)
        return Changes(tuple(entered), tuple(left), tuple(judged))

    def _linked(self, claim_key: str) -> set[str]:
        """The VirtualServers a claim links, with all they link in turn (one VIP's services, usually); their
        claim keys are judged with them, so are clean."""
        names: set[str] = set()
        pending = [claim_key]
        while pending:
            key = pending.pop()
            self._dirty_claims.discard(key)
            for name in self._claimants.get(key, ()):
                if name not in names:
                    names.add(name)
                    pending.extend(self._claims[name])
        return names

    def _judge_claimants(self, names: set[str]) -> list[Key]:
        """VirtualServers linked by their claims: placed, vetoed, and the claims contested by age."""
        keys = [("VirtualServer", name) for name in sorted(names)]
        placed: list[VirtualServer] = []
        for key in keys:
            vs = self._objects[key]
            assert isinstance(vs, VirtualServer)
            verdict = self._vetoes.get(key) or placement_verdict(vs, self._placement)
            self._verdicts[key] = verdict or ACCEPTED
            if verdict is None:
                placed.append(vs)
        for found in set_judgement(placed, (), order=BY_AGE, drop_rejected=True):
            self._verdicts[(found.kind, found.key)] = Verdict(found.reason, (found.problem,))
        return keys

    def _judge_children(self, parent_key: str) -> list[Key]:
        """The RealServers of one VirtualServer, against it and each other."""
        parent = self._objects.get(("VirtualServer", parent_key))
        verdict = self._verdicts.get(("VirtualServer", parent_key))
        parents: dict[str, VirtualServer] = {}  # judged by _judge_claimants already: not contested again
        unusable: dict[str, str] = {}
        if isinstance(parent, VirtualServer) and verdict is not None and verdict.accepted:
            parents[parent_key] = parent
        elif verdict is not None:
            unusable[parent_key] = f"is not accepted ({verdict.rejection}: {verdict.message})"
        keys = list(self._children.get(parent_key, ()))
        objects, vetoes, verdicts = self._objects, self._vetoes, self._verdicts
        verdicts.update(dict.fromkeys(keys, ACCEPTED))
        if vetoes.keys().isdisjoint(keys):  # the usual case, in one C call: no child vetoed
            children = [objects[key] for key in keys]
        else:
            children = [objects[key] for key in keys if key not in vetoes]
            verdicts.update((key, vetoes[key]) for key in keys if key in vetoes)
        listed: dict[Key, list[Any]] = {}
        found = children_judgement(
            parents,
            children,  # type: ignore[arg-type]  # a RealServer key holds a RealServer
            order=BY_AGE,
            unusable=unusable,
            drop_rejected=True,
        )
        for problem in found:
            listed.setdefault((problem.kind, problem.key), []).append(problem)
        if parents and self._node_addresses:
            for child in children:
                if isinstance(child, EndpointServer) and ("RealServer", child.key) not in listed:
                    refused = pod_forwarding_problem(parents[parent_key], child, self._node_addresses)
                    if refused is not None:
                        listed[("RealServer", child.key)] = [
                            SetProblem("RealServer", child.key, Rejection.INCOMPATIBLE, refused)
                        ]
        for key, problems in listed.items():
            verdicts[key] = Verdict(problems[0].reason, tuple(p.problem for p in problems))
        return keys

    # --- reading -------------------------------------------------------------------------------------

    def verdict(self, kind: str, key: str) -> Verdict | None:
        """The verdict of the last :meth:`settle` (None: unknown object)."""
        return self._verdicts.get((kind, key))

    def in_force(self) -> Iterator[Model]:
        """Every object in force after the last :meth:`settle`, in (kind, key) order."""
        for key in sorted(self._in_force):
            yield self._in_force[key]


def _every_address(placement: Placement) -> frozenset[str]:
    return frozenset().union(*placement.node_addresses.values())


def judge(
    objects: Iterable[Model], placement: Placement | None = None, vetoes: Mapping[Key, Verdict] | None = None
) -> Tribunal:
    """The judgement of a whole set at once: a fresh :class:`Tribunal`, settled."""
    tribunal = Tribunal(placement)
    for obj in objects:
        tribunal.put(obj, (vetoes or {}).get((obj.kind, obj.key)))
    tribunal.settle()
    return tribunal
