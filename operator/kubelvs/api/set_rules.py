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
from kubelvs.api.rules import effective_port, pair_problems


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
    claimants: dict[tuple[str, str, int], list[RealServer]] = {}
    for rs in real_servers:
        parent = parents.get(rs.virtual_server_key)
        if parent is None:
            state = lost.get(rs.virtual_server_key)
            reason = Rejection.VIRTUAL_SERVER_NOT_ACCEPTED if state else Rejection.VIRTUAL_SERVER_MISSING
            state = state or f"does not exist in namespace {rs.metadata.namespace!r}"
            problem = Problem("spec.virtualServer", f"VirtualServer {rs.spec.virtual_server!r} {state}")
            yield SetProblem("RealServer", rs.key, reason, problem)
            continue
        incompatible = pair_problems(parent.spec, rs.spec)
        yield from (SetProblem("RealServer", rs.key, Rejection.INCOMPATIBLE, p) for p in incompatible)
        if incompatible and drop_rejected:
            continue
        destination = (rs.virtual_server_key, rs.spec.address, effective_port(parent.spec, rs.spec))
        claimants.setdefault(destination, []).append(rs)
    for destination, several in claimants.items():
        if len(several) < 2:
            continue
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
