"""Who is accepted: every VirtualServer and RealServer judged against its own rules and against the others.

Pure: raw objects in, one :class:`Verdict` per object out. The rules are the API's own
(:func:`kubelvs.api.objects.parse_object` for each object, :func:`kubelvs.api.rules.set_judgement` across
them), so ``kubelvs validate`` and the operator cannot disagree. What only a cluster knows is added here:
the VIP pools, the nodes' own addresses, and who came first — of two VirtualServers with one service
identity (or two RealServers with one destination) the older object (by ``creationTimestamp``, then name)
keeps it, so creating a duplicate never disturbs a working service.
Objects being deleted take part in nothing: their service identity is free the moment deletion starts.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.objects import parse_object
from kubelvs.api.problems import Problem
from kubelvs.api.rules import Ordering, Rejection, SetProblem, set_judgement
from kubelvs.controller.config import Network

logger = logging.getLogger(__name__)

Raw = Mapping[str, Any]


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
        return "; ".join(str(problem) for problem in self.problems)


ACCEPTED = Verdict()


@dataclass(frozen=True)
class Judgement:
    """Verdicts by object key (``namespace/name``) and the models of the objects that parsed."""

    virtual_servers: dict[str, Verdict] = field(default_factory=dict)
    real_servers: dict[str, Verdict] = field(default_factory=dict)
    accepted_virtual_servers: dict[str, VirtualServer] = field(default_factory=dict)
    parsed_real_servers: dict[str, RealServer] = field(default_factory=dict)


def is_deleting(raw: Raw) -> bool:
    return bool((raw.get("metadata") or {}).get("deletionTimestamp"))


def _age(key: str, metadata: Mapping[str, Any] | None) -> tuple[str, str]:
    """Sort key: older first; names break ties within one second."""
    return (str((metadata or {}).get("creationTimestamp") or ""), key)


BY_AGE = Ordering(lambda obj: _age(obj.key, obj.metadata.model_extra), first="the older ")
"""Of two objects with one claim the older keeps it, so creating a duplicate never disturbs a working one."""


def _vips(vs: VirtualServer) -> Iterable[tuple[str, str]]:
    """(field path, address) of every address this service would claim on a director."""
    if vs.spec.address is not None:
        yield "spec.address", vs.spec.address
    if vs.spec.fwmark_match is not None:
        yield "spec.fwmarkMatch.destination", vs.spec.fwmark_match.destination


def _placement(
    vs: VirtualServer, pools: Sequence[Network], node_addresses: Mapping[str, frozenset[str]]
) -> Verdict | None:
    for path, vip in _vips(vs):
        address = ipaddress.ip_address(vip)
        if pools and not any(address in pool for pool in pools):
            allowed = ", ".join(str(pool) for pool in pools)
            return Verdict(
                Rejection.VIP_OUTSIDE_POOLS,
                (Problem(path, f"{vip} is outside the VIP pools this operator may claim ({allowed})"),),
            )
        for node, addresses in sorted(node_addresses.items()):
            if address.compressed in addresses:
                return Verdict(
                    Rejection.VIP_IS_NODE_ADDRESS,
                    (
                        Problem(
                            path, f"{vip} is an address of node {node}; a VIP must not be a node's own address"
                        ),
                    ),
                )
    return None


Parse = Callable[[Raw], VirtualServer | RealServer | list[Problem]]


def judge(
    virtual_servers: Mapping[str, Raw],
    real_servers: Mapping[str, Raw],
    node_addresses: Mapping[str, frozenset[str]],
    pools: Sequence[Network],
    parse: Parse = parse_object,
) -> Judgement:
    """Judge every live object; keys are ``namespace/name``, objects being deleted are left out.

    ``parse`` is :func:`~kubelvs.api.objects.parse_object` or a memo of it (see :class:`ParseCache`).
    Conflicts between objects are the API's :func:`~kubelvs.api.rules.set_judgement` in :data:`BY_AGE` order.
    """
    result = Judgement()
    placed: list[VirtualServer] = []
    for key, raw in _live(virtual_servers):
        parsed = parse(raw)
        if isinstance(parsed, list):
            result.virtual_servers[key] = Verdict(Rejection.INVALID_SPEC, tuple(parsed))
            continue
        assert isinstance(parsed, VirtualServer), f"{key} is a VirtualServer by its resource"
        placement = _placement(parsed, pools, node_addresses)
        result.virtual_servers[key] = placement or ACCEPTED
        if placement is None:
            placed.append(parsed)
    for key, raw in _live(real_servers):
        parsed_rs = parse(raw)
        if isinstance(parsed_rs, list):
            result.real_servers[key] = Verdict(Rejection.INVALID_SPEC, tuple(parsed_rs))
            continue
        assert isinstance(parsed_rs, RealServer), f"{key} is a RealServer by its resource"
        result.parsed_real_servers[key] = parsed_rs
        result.real_servers[key] = ACCEPTED

    unusable = {
        key: f"is not accepted ({verdict.rejection}: {verdict.message})"
        for key, verdict in result.virtual_servers.items()
        if not verdict.accepted
    }
    problems: dict[tuple[str, str], list[SetProblem]] = {}
    found = set_judgement(
        placed, result.parsed_real_servers.values(), order=BY_AGE, unusable=unusable, drop_rejected=True
    )
    for problem in found:
        problems.setdefault((problem.kind, problem.key), []).append(problem)
    for (kind, key), listed in problems.items():
        verdicts = result.virtual_servers if kind == "VirtualServer" else result.real_servers
        verdicts[key] = Verdict(listed[0].reason, tuple(p.problem for p in listed))
    result.accepted_virtual_servers.update(
        (vs.key, vs) for vs in placed if result.virtual_servers[vs.key].accepted
    )
    return result


def _live(objects: Mapping[str, Raw]) -> list[tuple[str, Raw]]:
    """The objects not being deleted, oldest first (the order the statuses are written in)."""
    live = [(key, raw) for key, raw in objects.items() if not is_deleting(raw)]
    return sorted(live, key=lambda item: _age(item[0], item[1].get("metadata")))


class ParseCache:
    """Remembers each object's parse by (uid, generation): a spec only changes with its generation."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[str, int], VirtualServer | RealServer | list[Problem]] = {}
        self._used: set[tuple[str, int]] = set()

    def __call__(self, raw: Raw) -> VirtualServer | RealServer | list[Problem]:
        meta = raw.get("metadata") or {}
        uid, generation = meta.get("uid"), meta.get("generation")
        if not isinstance(uid, str) or not isinstance(generation, int):
            return parse_object(raw)
        key = (uid, generation)
        self._used.add(key)
        if key not in self._parsed:
            self._parsed[key] = parse_object(raw)
        return self._parsed[key]

    def forget_unused(self) -> None:
        """Drop parses no call asked for since the last time (old generations, deleted objects)."""
        for key in set(self._parsed) - self._used:
            del self._parsed[key]
        self._used.clear()
