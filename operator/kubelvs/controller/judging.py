"""Who is accepted: every VirtualServer and RealServer judged against its own rules and against the others.

Pure: raw objects in, one :class:`Verdict` per object out. The per-object rules are the API's own
(:func:`kubelvs.api.objects.parse_object`, :func:`kubelvs.api.rules.pair_problems`), so ``kubelvs validate``
and the operator cannot disagree. What only a cluster knows is added here: the VIP pools, the nodes'
own addresses, and who came first — of two VirtualServers with one service identity the older object
(by ``creationTimestamp``, then name) keeps it, so creating a duplicate never disturbs a working service.
Objects being deleted take part in nothing: their service identity is free the moment deletion starts.
"""

from __future__ import annotations

import enum
import ipaddress
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.objects import parse_object
from kubelvs.api.problems import Problem
from kubelvs.api.rules import effective_port, pair_problems, service_identity
from kubelvs.controller.config import Network

logger = logging.getLogger(__name__)

Raw = Mapping[str, Any]


class Rejection(enum.StrEnum):
    """Why an object is not accepted; the value is the Accepted condition's reason."""

    INVALID_SPEC = "InvalidSpec"
    SERVICE_CONFLICT = "ServiceConflict"
    VIP_OUTSIDE_POOLS = "VIPOutsidePools"
    VIP_IS_NODE_ADDRESS = "VIPIsNodeAddress"
    VIRTUAL_SERVER_MISSING = "VirtualServerMissing"
    VIRTUAL_SERVER_NOT_ACCEPTED = "VirtualServerNotAccepted"
    INCOMPATIBLE = "IncompatibleWithVirtualServer"
    DUPLICATE_DESTINATION = "DuplicateDestination"


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


def _age(key: str, raw: Raw) -> tuple[str, str]:
    """Sort key: older first; names break ties within one second."""
    return (str((raw.get("metadata") or {}).get("creationTimestamp") or ""), key)


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
    """
    result = Judgement()
    claimed: dict[str, str] = {}
    for key, raw in sorted(virtual_servers.items(), key=lambda item: _age(*item)):
        if is_deleting(raw):
            continue
        parsed = parse(raw)
        if isinstance(parsed, list):
            result.virtual_servers[key] = Verdict(Rejection.INVALID_SPEC, tuple(parsed))
            continue
        assert isinstance(parsed, VirtualServer), f"{key} is a VirtualServer by its resource"
        placement = _placement(parsed, pools, node_addresses)
        if placement is not None:
            result.virtual_servers[key] = placement
            continue
        identity = service_identity(parsed.spec)
        if identity in claimed:
            path = "spec.fwmark" if parsed.spec.fwmark is not None else "spec.address"
            older = claimed[identity]
            message = f"{identity} is already the service of the older VirtualServer {older}"
            result.virtual_servers[key] = Verdict(Rejection.SERVICE_CONFLICT, (Problem(path, message),))
            continue
        claimed[identity] = key
        result.virtual_servers[key] = ACCEPTED
        result.accepted_virtual_servers[key] = parsed

    destinations: dict[tuple[str, str, int], str] = {}
    for key, raw in sorted(real_servers.items(), key=lambda item: _age(*item)):
        if is_deleting(raw):
            continue
        parsed_rs = parse(raw)
        if isinstance(parsed_rs, list):
            result.real_servers[key] = Verdict(Rejection.INVALID_SPEC, tuple(parsed_rs))
            continue
        assert isinstance(parsed_rs, RealServer), f"{key} is a RealServer by its resource"
        result.parsed_real_servers[key] = parsed_rs
        result.real_servers[key] = _judge_real_server(parsed_rs, result, destinations)
    return result


def _judge_real_server(
    rs: RealServer, so_far: Judgement, destinations: dict[tuple[str, str, int], str]
) -> Verdict:
    parent_key = rs.virtual_server_key
    parent = so_far.accepted_virtual_servers.get(parent_key)
    if parent is None:
        name, namespace = rs.spec.virtual_server, rs.metadata.namespace
        parent_verdict = so_far.virtual_servers.get(parent_key)
        if parent_verdict is None:
            message = f"VirtualServer {name!r} does not exist in namespace {namespace!r}"
            return Verdict(Rejection.VIRTUAL_SERVER_MISSING, (Problem("spec.virtualServer", message),))
        message = f"VirtualServer {name!r} is not accepted ({parent_verdict.rejection}: {parent_verdict.message})"
        return Verdict(Rejection.VIRTUAL_SERVER_NOT_ACCEPTED, (Problem("spec.virtualServer", message),))
    problems = tuple(pair_problems(parent.spec, rs.spec))
    if problems:
        return Verdict(Rejection.INCOMPATIBLE, problems)
    destination = (parent_key, rs.spec.address, effective_port(parent.spec, rs.spec))
    if destination in destinations:
        message = (
            f"{rs.spec.address}:{destination[2]} is already the older RealServer "
            f"{destinations[destination]} of the same virtual server"
        )
        return Verdict(Rejection.DUPLICATE_DESTINATION, (Problem("spec.address", message),))
    destinations[destination] = rs.key
    return ACCEPTED


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
