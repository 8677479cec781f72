"""The operator's view of the judgement: raw objects from its indexes in, one :class:`Verdict` per object out.

The judgement is the API's (:mod:`kubelvs.api.judgement`), the same one ``kubelvs validate`` and both agents
apply; this module only parses raw objects (memoised by uid and generation) and leaves out objects being
deleted, whose claims are free the moment deletion starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubelvs.api.judgement import ACCEPTED, BY_AGE, Placement, Tribunal, Verdict
from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.objects import parse_object
from kubelvs.api.problems import Problem
from kubelvs.controller.config import Network

logger = logging.getLogger(__name__)

Raw = Mapping[str, Any]

__all__ = ["ACCEPTED", "BY_AGE", "Judgement", "ParseCache", "Raw", "Verdict", "is_deleting", "judge"]


@dataclass(frozen=True)
class Judgement:
    """Verdicts by object key (``namespace/name``) and the models of the objects that parsed."""

    virtual_servers: dict[str, Verdict] = field(default_factory=dict)
    real_servers: dict[str, Verdict] = field(default_factory=dict)
    accepted_virtual_servers: dict[str, VirtualServer] = field(default_factory=dict)
    parsed_real_servers: dict[str, RealServer] = field(default_factory=dict)


def is_deleting(raw: Raw) -> bool:
    return bool((raw.get("metadata") or {}).get("deletionTimestamp"))


Parse = Callable[[Raw], VirtualServer | RealServer | list[Problem]]


def judge(
    virtual_servers: Mapping[str, Raw],
    real_servers: Mapping[str, Raw],
    node_addresses: Mapping[str, frozenset[str]],
    pools: Sequence[Network],
    parse: Parse = parse_object,
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
    tribunal.settle()
    result = Judgement()
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


def _age(item: tuple[str, Raw]) -> tuple[str, str]:
    return (str((item[1].get("metadata") or {}).get("creationTimestamp") or ""), item[0])


def _live(objects: Mapping[str, Raw]) -> list[tuple[str, Raw]]:
    """The objects not being deleted, oldest first (the order the statuses are written in)."""
    live = [(key, raw) for key, raw in objects.items() if not is_deleting(raw)]
    return sorted(
        live, key=lambda item: (str((item[1].get("metadata") or {}).get("creationTimestamp") or ""), item[0])
    )


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
