"""What the active director tells the cluster: its status fields on the CRs, and Events.

Only the holder of a director group writes, so two directors never fight over a field. The agent owns
``activeDirector`` and ``programmedGeneration`` of a VirtualServer and ``health`` and ``effectiveWeight``
of a RealServer; the operator owns conditions and counts and only reads these (see
:mod:`kubelvs.controller.conditions`). A field is written only when it differs from what the object
already shows, so a steady state costs no writes. Writing is best effort: a failure is logged and the next
pass tries again; nothing here may stop the data plane.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kubernetes import client as k8s

from kubelvs import GROUP, VERSION
from kubelvs.agent.health import Health, Transition
from kubelvs.agent.pipeline import Pass
from kubelvs.api import status_fields as sf
from kubelvs.api.backends import EndpointServer
from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.planner import Planner

logger = logging.getLogger(__name__)

COMPONENT = "kubelvs-agent"
PLURALS = {"VirtualServer": "virtualservers", "RealServer": "realservers"}


class Reporter:
    """Status patches (merge patches on the status subresource) and core/v1 Events, from one node."""

    def __init__(self, api_client: k8s.ApiClient, node: str, request_timeout: float = 5.0) -> None:
        self._objects = k8s.CustomObjectsApi(api_client)
        self._events = k8s.CoreV1Api(api_client)
        self._node = node
        self._timeout = request_timeout

    async def status(
        self, obj: VirtualServer | RealServer, fields: dict[str, Any], current: dict[str, Any] | None = None
    ) -> bool:
        """Patch ``fields`` into the object's status unless it shows them already; True if it wrote.

        ``current``: the status as the API server last showed it, when fresher than the parsed ``obj``'s (the
        agent's watches do not re-parse an object whose status alone changed).
        """
        current = (obj.status or {}) if current is None else current
        if all(current.get(name) == value for name, value in fields.items()):
            return False
        try:
            await asyncio.to_thread(
                self._objects.patch_namespaced_custom_object_status,
                GROUP,
                VERSION,
                obj.metadata.namespace,
                PLURALS[obj.kind],
                obj.metadata.name,
                {"status": fields},
                _request_timeout=self._timeout,
            )
        except Exception as error:
            logger.warning("cannot patch the status of %s %s: %s", obj.kind, obj.key, error)
            return False
        return True

    async def event(
        self, obj: VirtualServer | RealServer, reason: str, message: str, warning: bool = False
    ) -> None:
        """Record a core/v1 Event about the object (``kubectl describe`` shows it)."""
        now = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        meta = obj.metadata.model_dump()
        body: Any = {
            "apiVersion": "v1",
            "kind": "Event",
            # Named like client-go's recorder names events: object name and a nanosecond stamp.
            "metadata": {"name": f"{obj.metadata.name}.{time.time_ns():x}", "namespace": obj.metadata.namespace},
            "involvedObject": {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": obj.kind,
                "name": obj.metadata.name,
                "namespace": obj.metadata.namespace,
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": "Warning" if warning else "Normal",
            "source": {"component": COMPONENT, "host": self._node},
            "reportingComponent": COMPONENT,
            "reportingInstance": self._node,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await asyncio.to_thread(
                self._events.create_namespaced_event, obj.metadata.namespace, body, _request_timeout=self._timeout
            )
        except Exception as error:
            logger.warning("cannot record event %s on %s %s: %s", reason, obj.kind, obj.key, error)


class PassReports:
    """After each pass, the holder's word: status fields of the objects it leads, and Events on changes."""

    def __init__(self, reporter: Reporter, node: str) -> None:
        self._reporter = reporter
        self._node = node
        self._announced: frozenset[str] = frozenset()  # the groups a DirectorActive Event was sent for

    async def report(
        self,
        done: Pass,
        planner: Planner,
        health: Mapping[str, Health],
        transitions: Sequence[Transition[str]],
        current: Callable[[str, str], dict[str, Any]],
    ) -> None:
        """``current(kind, key)``: the object's status as the API server last showed it."""
        held = frozenset(done.held)
        led: set[str] = set()
        for key in done.plan.led(held):
            vs = planner.virtual_server(key)
            service = done.plan.service_of(key)
            if vs is None or service is None:
                continue
            led.add(key)
            fields: dict[str, Any] = {sf.ACTIVE_DIRECTOR: self._node}
            if done.outcome.programmed(service) and vs.metadata.generation is not None:
                fields[sf.PROGRAMMED_GENERATION] = vs.metadata.generation
            await self._reporter.status(vs, fields, current("VirtualServer", key))
            if done.plan.shares[key].group not in self._announced:
                vip = vs.spec.address or f"fwmark {vs.spec.fwmark}"
                await self._reporter.event(vs, "DirectorActive", f"{self._node} is the active director of {vip}")
            for rs in planner.real_server_objects_of(key):  # an endpoint has no status: the operator counts it
                dest_key = done.plan.destination_of(key, rs.key)
                destination = done.plan.state.destinations.get(dest_key) if dest_key is not None else None
                rs_fields: dict[str, Any] = {sf.EFFECTIVE_WEIGHT: destination.weight if destination else 0}
                if rs.key in health:
                    rs_fields[sf.HEALTH] = health[rs.key].value
                await self._reporter.status(rs, rs_fields, current("RealServer", rs.key))
        self._announced = held
        for transition in transitions:
            changed = planner.real_server(transition.key)
            if transition.old is Health.UNKNOWN or changed is None or changed.virtual_server_key not in led:
                continue
            down = transition.new is Health.DOWN
            about: VirtualServer | RealServer | None = changed
            detail = transition.result.detail
            if isinstance(changed, EndpointServer):  # no API object of its own: said on its VirtualServer
                about = planner.virtual_server(changed.virtual_server_key)
                detail = f"endpoint {changed.spec.address}:{changed.spec.port}: {detail}"
            if about is not None:
                reason = ("Endpoint" if about is not changed else "RealServer") + ("Down" if down else "Up")
                await self._reporter.event(about, reason, detail, warning=down)
