"""Rules across a set of objects that each passed their own checks: who keeps a service, marked traffic, a VIP
or a destination that several claim, and whether a RealServer's VirtualServer is there to take it.

The same functions serve ``kubelvs validate``, the operator and the agents (through :mod:`.judgement`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from kubelvs.api.claims import contest
from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.problems import Problem
from kubelvs.api.rejections import BY_NAME, Ordering, Rejection, SetProblem
from kubelvs.api.rules import PairRules


def set_judgement(
    virtual_servers: Iterable[VirtualServer],
    real_servers: Iterable[RealServer],
    *,
    order: Ordering = BY_NAME,
    unusable: Mapping[str, str] | None = None,
    drop_rejected: bool = False,
) -> Iterator[SetProblem]:
    """Rules across a set of objects that each passed their own checks: the first claimant of a service, of
    marked traffic or of a VIP keeps it (:mod:`kubelvs.api.claims`), a RealServer must name a usable
    VirtualServer and fit it, and the first claimant of a destination of one service keeps it. "First" is by
    ``order``.

    ``unusable`` maps keys of VirtualServers that exist but were rejected before (by their own checks, or by
    the caller's) to what a RealServer of theirs is told, e.g. ``"is invalid (see its own errors)"``.
    With ``drop_rejected`` an object rejected here takes no further part: it gets one reason, claims no
    destination, and a VirtualServer that lost its service is no RealServer's parent (the operator).
    Without it, every object meets every rule and a rejected one still counts, so one run lists every
    problem at once (``kubelvs validate``).
    """
    lost = dict(unusable or {})
    candidates = list(virtual_servers)
    losers: set[str] = set()
    for found in contest(candidates, order):
        yield found
        if drop_rejected:
            losers.add(found.key)
            lost[found.key] = f"is not accepted ({found.reason}: {found.problem})"
    parents = {vs.key: vs for vs in candidates if vs.key not in losers}
    yield from children_judgement(parents, real_servers, order=order, unusable=lost, drop_rejected=drop_rejected)


def children_judgement(
    parents: Mapping[str, VirtualServer],
    real_servers: Iterable[RealServer],
    *,
    order: Ordering = BY_NAME,
    unusable: Mapping[str, str] | None = None,
    drop_rejected: bool = False,
) -> Iterator[SetProblem]:
    """The RealServers' part of :func:`set_judgement`, for VirtualServers judged already: ``parents`` (by key)
    are the usable ones, ``unusable`` says what the children of the others are told.

    Only claimants of one destination are ranked by ``order`` (the first keeps it): ranking all of them would
    cost a sort of every RealServer in every pass, for a tie that is rare.
    """
    lost = unusable or {}
    rules: dict[str, PairRules] = {}
    first_claimant: dict[tuple[str, str, int], RealServer] = {}
    claimants: dict[tuple[str, str, int], list[RealServer]] = {}  # only destinations claimed twice or more
    for rs in real_servers:
        parent_key = rs.virtual_server_key
        parent = parents.get(parent_key)
        if parent is None:
            state = lost.get(parent_key)
            reason = Rejection.VIRTUAL_SERVER_NOT_ACCEPTED if state else Rejection.VIRTUAL_SERVER_MISSING
            state = state or f"does not exist in namespace {rs.metadata.namespace!r}"
            problem = Problem("spec.virtualServer", f"VirtualServer {rs.spec.virtual_server!r} {state}")
            yield SetProblem("RealServer", rs.key, reason, problem)
            continue
        rule = rules.get(parent_key)
        if rule is None:
            rule = rules[parent_key] = PairRules(parent.spec)
        spec = rs.spec
        incompatible = rule.problems(spec)
        if incompatible:
            yield from (SetProblem("RealServer", rs.key, Rejection.INCOMPATIBLE, p) for p in incompatible)
            if drop_rejected:
                continue
        destination = (parent_key, spec.address, rule.port(spec))
        first = first_claimant.setdefault(destination, rs)
        if first is not rs:
            claimants.setdefault(destination, [first]).append(rs)
    for destination, several in claimants.items():
        first, *rest = sorted(several, key=order.key)
        for rs in rest:
            problem = Problem(
                "spec.address",
                f"{rs.spec.address}:{destination[2]} is already {order.first}RealServer "
                f"{first.key} of the same virtual server",
            )
            yield SetProblem("RealServer", rs.key, Rejection.DUPLICATE_DESTINATION, problem)


def set_problems(
    virtual_servers: Iterable[VirtualServer],
    real_servers: Iterable[RealServer],
    invalid_virtual_servers: frozenset[str] = frozenset(),
    *,
    order: Ordering = BY_NAME,
) -> Iterator[tuple[str, Problem]]:
    """Rules across a set of valid objects (:func:`set_judgement`, every problem listed); yields
    (``"Kind namespace/name"``, problem).

    ``invalid_virtual_servers`` holds keys of VirtualServers that exist but failed their own checks,
    so their RealServers are told that rather than "does not exist".
    """
    unusable = dict.fromkeys(invalid_virtual_servers, "is invalid (see its own errors)")
    for found in set_judgement(virtual_servers, real_servers, order=order, unusable=unusable):
        yield f"{found.kind} {found.key}", found.problem
