"""CRs + node facts -> the desired state of one node. Pure: no I/O, no clock, no kernel.

Roles fall out of the data. A node is a *director* of every VirtualServer whose
``directors.nodeSelector`` matches its labels (all of them program the IPVS rules, as hot standbys; only
the holder of the VirtualServer's director group binds the VIP), and a *backend* of every RealServer
whose address is local to it. One bad object never drops another's rules: problems come back as
:class:`Skip` reasons, never as exceptions.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.netstate import NodeState
from kubelvs.planner import backend, director
from kubelvs.planner.facts import NodeFacts, Skip, in_pools, parse_pools
from kubelvs.planner.ipvs import ipvs_rules
from kubelvs.planner.parts import Parts

logger = logging.getLogger(__name__)

__all__ = ["NodeFacts", "Plan", "Skip", "candidacies", "ipvs_rules", "parse_pools", "plan"]


@dataclass(frozen=True)
class Plan:
    """The node's desired state, and why some objects (or roles of them) are not in it."""

    state: NodeState
    skipped: tuple[Skip, ...] = ()


def plan(
    virtual_servers: Iterable[VirtualServer],
    real_servers: Iterable[RealServer],
    facts: NodeFacts,
    held_groups: Collection[str],
) -> Plan:
    """The full desired state of ``facts.node``; ``held_groups`` are the director groups it holds."""
    parts = Parts()
    children: dict[str, list[RealServer]] = defaultdict(list)
    for rs in sorted(real_servers, key=lambda r: r.key):
        children[rs.virtual_server_key].append(rs)
    parents: set[str] = set()
    for vs in sorted(virtual_servers, key=lambda v: v.key):
        parents.add(vs.key)
        try:
            _plan_one(parts, vs, children[vs.key], facts, held_groups)
        except (ValueError, KeyError, AssertionError) as error:  # never let one object sink the rest
            parts.skipped.append(Skip(f"VirtualServer {vs.key}", f"not planned: {error!r}"))
    for key in sorted(set(children) - parents):
        for rs in children[key]:
            if rs.spec.address in facts.local_addresses:
                parts.skipped.append(Skip(f"RealServer {rs.key}", f"VirtualServer {key} is not known"))
    _backend_vips_win(parts, facts)
    backend.assign_tables(parts)
    return Plan(parts.state(), tuple(parts.skipped))


def _plan_one(
    parts: Parts, vs: VirtualServer, real_servers: list[RealServer], facts: NodeFacts, held: Collection[str]
) -> None:
    obj = f"VirtualServer {vs.key}"
    problem = _pool_problem(vs, facts)
    if problem:
        parts.skipped.append(Skip(obj, problem))
        return
    local = [rs for rs in real_servers if rs.spec.address in facts.local_addresses]
    if director.selects(vs, facts):
        if local:
            # A director that is also a real server of the same service would re-balance the packets
            # other directors send it (the classic LVS-DR two-node loop).
            names = ", ".join(rs.key for rs in local)
            parts.skipped.append(
                Skip(obj, f"director role skipped on {facts.node}: it is the real server {names} of it")
            )
        else:
            director.add(parts, vs, real_servers, facts, director.group(vs) in held)
    for rs in local:
        backend.add(parts, vs, rs)


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


def _pool_problem(vs: VirtualServer, facts: NodeFacts) -> str | None:
    if not facts.vip_pools:
        return None
    address = vs.spec.address or (vs.spec.fwmark_match.destination if vs.spec.fwmark_match else None)
    pools = ", ".join(str(p) for p in facts.vip_pools)
    if address is None:
        return f"fwmark {vs.spec.fwmark} has no fwmarkMatch, so no VIP to check against the VIP pools ({pools})"
    if not in_pools(address, facts.vip_pools):
        return f"VIP {address} is outside the VIP pools ({pools}); kube-lvs may not claim it on this node"
    return None


def candidacies(
    virtual_servers: Iterable[VirtualServer],
    facts: NodeFacts,
    real_servers: Iterable[RealServer] = (),
) -> dict[str, list[str]]:
    """Director groups this node may hold -> their preferred node order, for the election.

    A node that is a real server of any VirtualServer of a group does not stand for that group.
    """
    backend_of = {rs.virtual_server_key for rs in real_servers if rs.spec.address in facts.local_addresses}
    groups: dict[str, list[str]] = {}
    excluded: set[str] = set()
    for vs in sorted(virtual_servers, key=lambda v: v.key):
        if not director.selects(vs, facts) or _pool_problem(vs, facts):
            continue
        name = director.group(vs)
        if vs.key in backend_of:
            excluded.add(name)
        groups.setdefault(name, list(vs.spec.directors.preferred))
    return {name: preferred for name, preferred in groups.items() if name not in excluded}
