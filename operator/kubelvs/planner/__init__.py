"""CRs + node facts -> the desired state of one node. Pure: no I/O, no clock, no kernel.

Roles fall out of the data. A node is a *director* of every VirtualServer in force whose
``directors.nodeSelector`` matches its labels (all of them program the IPVS rules, as hot standbys; only
the holder of the VirtualServer's director group binds the VIP), and a *backend* of every RealServer in
force whose address is local to it. Which objects are in force is the API's judgement
(:mod:`kubelvs.api.judgement`), the operator's too. One bad object never drops another's rules: problems
come back as :class:`Skip` reasons, never as exceptions.

:func:`plan` plans everything afresh; the agents keep a :class:`Planner`, which re-plans only the
VirtualServers whose objects changed (:mod:`kubelvs.planner.shares`).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable

from kubelvs.api.judgement import Placement, placement_verdict
from kubelvs.api.models import HealthCheck, RealServer, VirtualServer
from kubelvs.planner import director
from kubelvs.planner.facts import NodeFacts, Skip, parse_pools
from kubelvs.planner.ipvs import ipvs_rules
from kubelvs.planner.shares import Plan, Planner, Share

logger = logging.getLogger(__name__)

__all__ = [
    "NodeFacts",
    "Plan",
    "Planner",
    "Share",
    "Skip",
    "candidacies",
    "health_checks",
    "ipvs_rules",
    "parse_pools",
    "plan",
]


def plan(
    virtual_servers: Iterable[VirtualServer],
    real_servers: Iterable[RealServer],
    facts: NodeFacts,
    held_groups: Collection[str],
) -> Plan:
    """The full desired state of ``facts.node``; ``held_groups`` are the director groups it holds.

    A fresh :class:`Planner` each call; agents keep one to re-plan only what changed.
    """
    planner = Planner()
    planner.replace_all(virtual_servers, real_servers)
    return planner.plan(facts, held_groups, sort=True)


def candidacies(
    virtual_servers: Iterable[VirtualServer],
    facts: NodeFacts,
    real_servers: Iterable[RealServer] = (),
    backend_of: Collection[str] | None = None,
) -> dict[str, list[str]]:
    """Director groups this node may hold -> their preferred node order, for the election.

    A node that is a real server of any VirtualServer of a group does not stand for that group.
    ``backend_of``: the keys of those VirtualServers when known (:meth:`Plan.backend_of`), else they are
    found among ``real_servers``.
    """
    if backend_of is None:
        backend_of = {rs.virtual_server_key for rs in real_servers if rs.spec.address in facts.local_addresses}
    placement = Placement(facts.vip_pools)
    groups: dict[str, list[str]] = {}
    excluded: set[str] = set()
    for vs in sorted(virtual_servers, key=lambda v: v.key):
        if not director.selects(vs, facts) or placement_verdict(vs, placement) is not None:
            continue
        name = director.group(vs)
        if vs.key in backend_of:
            excluded.add(name)
        groups.setdefault(name, list(vs.spec.directors.preferred))
    return {name: preferred for name, preferred in groups.items() if name not in excluded}


def health_checks(
    virtual_servers: Iterable[VirtualServer], real_servers: Iterable[RealServer], facts: NodeFacts
) -> dict[str, tuple[HealthCheck, str, int]]:
    """RealServer key -> (its check, address, port), for every VirtualServer this node directs that checks
    health (what :meth:`Planner.health_checks` keeps, from the objects alone)."""
    children: dict[str, list[RealServer]] = {}
    for rs in real_servers:
        children.setdefault(rs.virtual_server_key, []).append(rs)
    found: dict[str, tuple[HealthCheck, str, int]] = {}
    for vs in virtual_servers:
        if director.selects(vs, facts):
            found.update(director.checks(vs, children.get(vs.key, [])))
    return found
