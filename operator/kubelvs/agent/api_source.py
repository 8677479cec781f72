"""The in-cluster agent's source of objects: watches of VirtualServers, RealServers and Nodes.

Each watch is a :class:`~kubelvs.agent.watching.Mirror`; :meth:`ApiSource.feed` hands the planner only the
objects that changed since the last pass, parsed, each with the operator's verdict on its current
generation (a rejection is a veto: never overridden; an object not yet judged is judged by the agent alone,
with the same rules, so a missing operator blocks nothing). Objects being deleted are gone at once, as the
operator treats them: their claims are free the moment deletion starts. Every Node's own addresses reach
the judgement (a VIP must never be one), this node's labels select its director roles.

What wakes a pass: anything but status and per-write bookkeeping, except the operator's Accepted verdict,
which does; the agents' own status reports and Node heartbeats wake nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from kubernetes import client as k8s

from kubelvs import GROUP, VERSION
from kubelvs.agent.watching import Mirror, object_without_status
from kubelvs.api import status_fields as sf
from kubelvs.api.judgement import node_addresses, operator_veto
from kubelvs.api.objects import parse_object
from kubelvs.api.problems import Problem
from kubelvs.planner import Planner

logger = logging.getLogger(__name__)

KINDS = (("VirtualServer", "virtualservers"), ("RealServer", "realservers"))


def judged_object(raw: dict[str, Any]) -> tuple[Any, ...]:
    """What a custom object means to the agent: its body without status, and the operator's verdict."""
    status = raw.get("status") if isinstance(raw.get("status"), dict) else {}
    assert isinstance(status, dict)
    accepted = [
        (item.get("status"), item.get("reason"), item.get(sf.OBSERVED_GENERATION))
        for item in status.get("conditions") or []
        if isinstance(item, dict) and item.get("type") == "Accepted"
    ]
    return (object_without_status(raw), accepted)


class ApiSource:
    """Mirrors of the API objects one agent plans from."""

    def __init__(self, api: k8s.ApiClient, node: str, notify: Callable[[], None]) -> None:
        self.node = node
        custom, core = k8s.CustomObjectsApi(api), k8s.CoreV1Api(api)
        self.mirrors = {
            kind: Mirror(
                f"{kind}s",
                custom.list_cluster_custom_object,
                notify,
                relevant=judged_object,
                group=GROUP,
                version=VERSION,
                plural=plural,
            )
            for kind, plural in KINDS
        }
        self.nodes = Mirror(
            "Nodes", core.list_node, notify, kind="Node", api_version="v1", relevant=self._node_facts
        )
        self._labels: dict[str, str] = {}
        self._node_addresses: dict[str, frozenset[str]] = {}

    def _node_facts(self, raw: dict[str, Any]) -> Any:
        """What a Node means to the agent: its addresses, and this node's labels (heartbeats change neither)."""
        meta = raw.get("metadata") or {}
        status = raw.get("status") if isinstance(raw.get("status"), Mapping) else {}
        assert isinstance(status, Mapping)
        own = meta.get("labels") if meta.get("name") == self.node else None
        return (own, node_addresses(status))

    @property
    def all_mirrors(self) -> list[Mirror]:
        return [*self.mirrors.values(), self.nodes]

    def start(self) -> None:
        for mirror in self.all_mirrors:
            mirror.start()

    def stop(self) -> None:
        for mirror in self.all_mirrors:
            mirror.stop()

    @property
    def synced(self) -> bool:
        return all(mirror.synced.is_set() for mirror in self.all_mirrors)

    def status_of(self, kind: str, key: str) -> dict[str, Any]:
        """The object's status as the API server last showed it (status-only changes included)."""
        return self.mirrors[kind].status_of(key)

    def labels(self) -> Mapping[str, str]:
        return self._labels

    def feed(self, planner: Planner) -> int:
        changed = 0
        for kind, mirror in self.mirrors.items():
            for key, raw in mirror.take_changes().items():
                changed += 1
                if raw is None or (raw.get("metadata") or {}).get("deletionTimestamp"):
                    planner.remove(kind, key)
                    continue
                parsed = parse_object(raw)
                if isinstance(parsed, list):
                    logger.debug("invalid object %s %s: %s", kind, key, "; ".join(str(p) for p in parsed))
                    planner.put_invalid(kind, key, parsed)
                elif parsed.kind != kind:  # a body of another kind at this resource
                    planner.put_invalid(kind, key, [Problem("kind", f"{parsed.kind!r} stored as a {kind}")])
                else:
                    planner.put(parsed, operator_veto(raw))
        nodes = self.nodes.take_changes()
        if nodes:
            for name, raw in nodes.items():
                if raw is None:
                    self._node_addresses.pop(name, None)
                    continue
                status = raw.get("status") if isinstance(raw.get("status"), Mapping) else {}
                assert isinstance(status, Mapping)
                self._node_addresses[name] = node_addresses(status)
                if name == self.node:  # without the Node object (deleted?) the last labels stay
                    self._labels = dict((raw.get("metadata") or {}).get("labels") or {})
            planner.set_node_addresses(dict(self._node_addresses))
        return changed
