"""The in-cluster agent's source of objects: watches of VirtualServers, RealServers, Nodes, and the Services
and EndpointSlices that VirtualServers' backends follow.

Each watch is a :class:`~kubelvs.agent.watching.Mirror`; :meth:`ApiSource.feed` hands the planner only the
objects that changed since the last pass, parsed, each with the operator's verdict on its current
generation (a rejection is a veto: never overridden; an object not yet judged is judged by the agent alone,
with the same rules, so a missing operator blocks nothing). Objects being deleted are gone at once, as the
operator treats them: their claims are free the moment deletion starts. Every Node's own addresses reach
the judgement (a VIP must never be one), this node's labels select its director roles.

What wakes a pass: anything but status and per-write bookkeeping, except the operator's Accepted verdict,
which does; the agents' own status reports and Node heartbeats wake nothing. Services and EndpointSlices are
watched cluster-wide, as kube-proxy watches them, but only those some VirtualServer follows are parsed and
planned; when a VirtualServer starts following a Service, that Service's objects are taken from the mirrors.
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
from kubelvs.api.service_objects import ENDPOINT_SLICE_API_VERSION, parse_service_object, raw_service_key
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
        discovery = k8s.DiscoveryV1Api(api)
        self.services = Mirror(
            "Services",
            core.list_service_for_all_namespaces,
            notify,
            kind="Service",
            api_version="v1",
            relevant=_service_ports,
        )
        self.slices = Mirror(
            "EndpointSlices",
            discovery.list_endpoint_slice_for_all_namespaces,
            notify,
            kind="EndpointSlice",
            api_version=ENDPOINT_SLICE_API_VERSION,
            relevant=_slice_endpoints,
        )
        self._followed: frozenset[str] = frozenset()  # Services whose objects the planner has
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
        return [*self.mirrors.values(), self.nodes, self.services, self.slices]

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
        changed += self._feed_backends(planner)
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

    def _feed_backends(self, planner: Planner) -> int:
        """Changed Services and EndpointSlices of followed Services; all of a newly followed Service's."""
        followed = planner.followed_services()
        services, slices = self.services.take_changes(), self.slices.take_changes()
        moved = followed ^ self._followed  # newly followed: read them whole; no longer followed: forget them
        if moved:
            services.update((key, raw) for key, raw in self.services.items() if key in moved)
            slices.update((key, raw) for key, raw in self.slices.items() if raw_service_key(raw) in moved)
        self._followed = followed
        changed = 0
        for kind, objects in (("Service", services), ("EndpointSlice", slices)):
            for key, raw in objects.items():
                owner = key if kind == "Service" else raw_service_key(raw)
                if raw is None or owner not in followed:
                    planner.remove(kind, key)  # gone, or nobody follows it (any more): forget it if known
                    continue
                parsed = parse_service_object(raw)
                if isinstance(parsed, list):
                    logger.warning("%s %s left out: %s", kind, key, "; ".join(str(p) for p in parsed[:3]))
                    planner.remove(kind, key)
                    continue
                planner.put(parsed)
                changed += 1
        return changed


def _service_ports(raw: dict[str, Any]) -> Any:
    """What a Service means to the agent: its ports (status, annotations, clusterIP changes wake nothing)."""
    spec = raw.get("spec") if isinstance(raw.get("spec"), Mapping) else {}
    assert isinstance(spec, Mapping)
    return spec.get("ports")


def _slice_endpoints(raw: dict[str, Any]) -> Any:
    """What an EndpointSlice means to the agent: its Service, family, ports and endpoints."""
    return (raw_service_key(raw), raw.get("addressType"), raw.get("ports"), raw.get("endpoints"))
