"""The operator's view of the judgement: raw objects from its indexes in, one :class:`Verdict` per object out.

The judgement is the API's (:mod:`kubelvs.api.judgement`), the same one ``kubelvs validate`` and both agents
apply; this module only parses raw objects (memoised by uid and generation) and leaves out objects being
deleted, whose claims are free the moment deletion starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from kubelvs.api.backends import BackendIndex
from kubelvs.api.judgement import ACCEPTED, BY_AGE, Placement, Tribunal, Verdict
from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.objects import parse_object
from kubelvs.api.problems import Problem
from kubelvs.api.rejections import Rejection
from kubelvs.api.service_objects import EndpointSlice, Service, parse_service_object, raw_service_key
from kubelvs.controller.config import Network

logger = logging.getLogger(__name__)

Raw = Mapping[str, Any]

__all__ = [
    "ACCEPTED",
    "BY_AGE",
    "Backends",
    "Judgement",
    "ParseCache",
    "Raw",
    "Verdict",
    "is_deleting",
    "judge",
]


@dataclass(frozen=True)
class Judgement:
    """Verdicts by object key (``namespace/name``) and the models of the objects that parsed."""

    virtual_servers: dict[str, Verdict] = field(default_factory=dict)
    real_servers: dict[str, Verdict] = field(default_factory=dict)
    accepted_virtual_servers: dict[str, VirtualServer] = field(default_factory=dict)
    parsed_real_servers: dict[str, RealServer] = field(default_factory=dict)
    backends: dict[str, Backends] = field(default_factory=dict)  # VirtualServer key -> its endpoints


@dataclass(frozen=True)
class Backends:
    """A VirtualServer's endpoint real servers as judged: how many, how many ready, why some are not."""

    total: int = 0
    ready: int = 0  # in force and not draining
    problems: tuple[Problem, ...] = ()  # the Service or its port not found, bad endpoint addresses
    refused: tuple[Problem, ...] = ()  # endpoints the judgement keeps out (DR to a pod, a duplicate)

    @property
    def unusable(self) -> tuple[str, str] | None:
        """(reason, why) when some backends cannot serve: the Service or port is missing (BackendsNotFound),
        or the judgement refuses endpoints (BackendsRefused); None when all is well."""
        if not (self.problems or self.refused):
            return None
        reason = "BackendsNotFound" if self.problems else "BackendsRefused"
        return reason, "; ".join(str(problem) for problem in (*self.problems, *self.refused))


def is_deleting(raw: Raw) -> bool:
    return bool((raw.get("metadata") or {}).get("deletionTimestamp"))


Parse = Callable[[Raw], VirtualServer | RealServer | list[Problem]]
ParseService = Callable[[Raw], Service | EndpointSlice | list[Problem]]
Parsed = TypeVar("Parsed")


def judge(
    virtual_servers: Mapping[str, Raw],
    real_servers: Mapping[str, Raw],
    node_addresses: Mapping[str, frozenset[str]],
    pools: Sequence[Network],
    parse: Parse = parse_object,
    services: Mapping[str, Raw] | None = None,
    slices: Mapping[str, Raw] | None = None,
    parse_service: ParseService = parse_service_object,
) -> Judgement:
    """Judge every live object; keys are ``namespace/name``, objects being deleted are left out.

    ``parse`` is :func:`~kubelvs.api.objects.parse_object` or a memo of it (see :class:`ParseCache`); the
    judgement itself is the API's (:class:`kubelvs.api.judgement.Tribunal`), the agents' too.
    """
    tribunal = Tribunal(Placement(tuple(pools), node_addresses))
    parsed: dict[tuple[str, str], VirtualServer | RealServer] = {}
    for kind, objects in (("VirtualServer", virtual_servers), ("RealServer", real_servers)):
        for key, raw in _live(objects):
            model = parse(raw)
            if isinstance(model, list):
                tribunal.put_invalid(kind, key, model)
                continue
            assert model.kind == kind, f"{key} is a {kind} by its resource"
            parsed[(kind, key)] = model
            tribunal.put(model)
    index = _backends(parsed.values(), services or {}, slices or {}, parse_service)
    endpoints, _ = index.changes()
    for server in endpoints:
        tribunal.put(server)
    tribunal.settle()
    result = Judgement()
    counts: dict[str, list[int]] = {}  # VirtualServer key -> [total, ready]
    refused: dict[str, list[Problem]] = {}  # VirtualServer key -> why endpoints of it are not in force
    for server in endpoints:
        verdict = tribunal.verdict("RealServer", server.key)
        counted = counts.setdefault(server.virtual_server_key, [0, 0])
        if verdict is not None and verdict.accepted:
            counted[0] += 1
            counted[1] += not server.draining
        elif verdict is not None and verdict.rejection not in _PARENT_REJECTIONS:
            refused.setdefault(server.virtual_server_key, []).extend(verdict.problems)
    for (kind, key), model in parsed.items():
        if kind == "VirtualServer" and isinstance(model, VirtualServer) and model.spec.backends is not None:
            total, ready = counts.get(key, (0, 0))
            result.backends[key] = Backends(
                total, ready, index.problems().get(key, ()), _bounded(refused.get(key, []))
            )
    for kind, objects in (("VirtualServer", virtual_servers), ("RealServer", real_servers)):
        verdicts = result.virtual_servers if kind == "VirtualServer" else result.real_servers
        for key, _raw in _live(objects):
            verdict = tribunal.verdict(kind, key)
            assert verdict is not None, f"{kind} {key} was judged"
            verdicts[key] = verdict
            found = parsed.get((kind, key))
            if isinstance(found, RealServer):
                result.parsed_real_servers[key] = found
            elif isinstance(found, VirtualServer) and verdict.accepted:
                result.accepted_virtual_servers[key] = found
    return result


_PARENT_REJECTIONS = (Rejection.VIRTUAL_SERVER_NOT_ACCEPTED, Rejection.VIRTUAL_SERVER_MISSING)
SHOWN = 3  # refused endpoints named in a status message; the rest are counted


def _bounded(problems: list[Problem]) -> tuple[Problem, ...]:
    if len(problems) <= SHOWN:
        return tuple(problems)
    return (*problems[:SHOWN], Problem("spec.backends", f"and {len(problems) - SHOWN} more endpoints refused"))


def _backends(
    parsed: Iterable[VirtualServer | RealServer],
    services: Mapping[str, Raw],
    slices: Mapping[str, Raw],
    parse: ParseService,
) -> BackendIndex:
    """The endpoint servers of every VirtualServer with backends, from the Services and slices it follows."""
    index = BackendIndex()
    for model in parsed:
        if isinstance(model, VirtualServer) and model.spec.backends is not None:
            index.put_virtual_server(model)
    followed = index.followed_services()
    if not followed:
        return index
    for key, raw in services.items():
        found = parse(raw) if key in followed else None
        if isinstance(found, Service):
            index.put_service(found)
    for raw in slices.values():
        if raw_service_key(raw) in followed:
            found = parse(raw)
            if isinstance(found, EndpointSlice):
                index.put_slice(found)
    return index


def _age(item: tuple[str, Raw]) -> tuple[str, str]:
    return (str((item[1].get("metadata") or {}).get("creationTimestamp") or ""), item[0])


def _live(objects: Mapping[str, Raw]) -> list[tuple[str, Raw]]:
    """The objects not being deleted, oldest first (the order the statuses are written in)."""
    live = [(key, raw) for key, raw in objects.items() if not is_deleting(raw)]
    return sorted(
        live, key=lambda item: (str((item[1].get("metadata") or {}).get("creationTimestamp") or ""), item[0])
    )


class ParseCache(Generic[Parsed]):
    """Remembers each object's parse by (uid, version): a custom resource's spec changes only with its
    ``generation``; a Service's or EndpointSlice's fields change without one (a slice has no spec), so those
    are kept by ``resourceVersion``."""

    def __init__(self, parse: Callable[[Raw], Parsed], version: str = "generation") -> None:
        self._parse = parse
        self._version = version
        self._parsed: dict[tuple[str, object], Parsed] = {}
        self._used: set[tuple[str, object]] = set()

    def __call__(self, raw: Raw) -> Parsed:
        meta = raw.get("metadata") or {}
        uid, version = meta.get("uid"), meta.get(self._version)
        if not isinstance(uid, str) or not isinstance(version, int | str):
            return self._parse(raw)
        key = (uid, version)
        self._used.add(key)
        if key not in self._parsed:
            self._parsed[key] = self._parse(raw)
        return self._parsed[key]

    def forget_unused(self) -> None:
        """Drop parses no call asked for since the last time (old versions, deleted objects)."""
        for key in set(self._parsed) - self._used:
            del self._parsed[key]
        self._used.clear()
