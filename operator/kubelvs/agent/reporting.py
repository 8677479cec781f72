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
from typing import Any

from kubernetes import client as k8s

from kubelvs import GROUP, VERSION
from kubelvs.api.models import RealServer, VirtualServer

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
