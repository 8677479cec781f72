"""kmock's Kubernetes emulator, made strict enough for leader elections.

kmock 0.8 stores objects as loose JSON: it ignores ``resourceVersion``, merges every write and has no
PUT (replace) at all -- an election against it could never lose a race. :class:`LeaseEmulator` keeps
kmock for everything else (discovery, reads, lists, watches, ``kmock.objects`` for assertions) and
serves *writes* of ``coordination.k8s.io/v1`` Leases itself, the way the API server does:

- every write bumps a global ``resourceVersion`` (etcd's revision) and publishes a watch event;
- POST of an existing name is 409 AlreadyExists; PUT and DELETE of a missing one are 404;
- PUT (replace) and PATCH (merge patch) that carry a stale ``metadata.resourceVersion`` are 409 Conflict,
  with the API server's message.

Two fault injectors serve the tests: ``partitioned`` (node names, matched against the User-Agent the
test gives each node's client) answers 503 to every request of those nodes, and ``interlopers`` are
one-shot callbacks that write a Lease "concurrently" -- just before a node's own write is checked.
"""

from __future__ import annotations

import copy
import datetime
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp.web
import attrs
import kmock

LEASES = kmock.resource("coordination.k8s.io", "v1", "leases")
WRITES = {"POST", "PUT", "PATCH", "DELETE"}

Interloper = Callable[[str, dict[str, Any] | None], dict[str, Any] | None]
"""Called with (lease name, stored object or None); returns an object to store first, or None."""


@attrs.define(kw_only=True)
class LeaseEmulator(kmock.KubernetesEmulator):
    revision: int = attrs.field(default=1000, init=False)
    partitioned: set[str] = attrs.field(factory=set, init=False)
    interlopers: list[Interloper] = attrs.field(factory=list, init=False)
    conflicts: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.resources[LEASES] = kmock.ResourceInfo(
            kind="Lease",
            namespaced=True,
            verbs=["create", "delete", "get", "list", "patch", "update", "watch"],
        )

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        agent = request.headers.get("User-Agent", "")
        if agent in self.partitioned:
            return _status(503, "ServiceUnavailable", f"{agent} is cut off from the API server")
        method = request.method.value if request.method is not None else ""
        if request.resource == LEASES and method in WRITES:
            async with self._lock:
                return await self._write_lease(request, method)
        return await super()._handle(request)

    def lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The stored Lease as a plain dict (None if absent)."""
        key = (LEASES, namespace, name)
        if key not in self._objects or self._objects[key].deleted:
            return None
        return copy.deepcopy(self._objects[key].raw)

    async def _write_lease(self, request: kmock.Request, method: str) -> aiohttp.web.StreamResponse:
        body: dict[str, Any] = request.data if isinstance(request.data, dict) else {}
        namespace = request.namespace or (body.get("metadata") or {}).get("namespace") or "default"
        name = request.name or (body.get("metadata") or {}).get("name") or ""
        interlopers, self.interlopers = self.interlopers, []
        for interloper in interlopers:
            intruding = interloper(name, self.lease(namespace, name))
            if intruding is not None:
                await self._store(namespace, name, intruding)
        current = self.lease(namespace, name)
        if method == "POST":
            if current is not None:
                return _status(409, "AlreadyExists", f'leases.coordination.k8s.io "{name}" already exists')
            return await self._store(namespace, name, body, created=True)
        if current is None:
            return _status(404, "NotFound", f'leases.coordination.k8s.io "{name}" not found')
        if method == "DELETE":
            self._objects[LEASES, namespace, name].delete()
            await self._buses[LEASES].put({"type": "DELETED", "object": current})
            return aiohttp.web.json_response(current)
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if wanted is not None and wanted != current["metadata"]["resourceVersion"]:
            self.conflicts += 1
            return _status(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on leases.coordination.k8s.io "{name}": the object has been '
                "modified; please apply your changes to the latest version and try again",
            )
        if method == "PATCH":
            body = _merge(current, body)
        return await self._store(namespace, name, body)

    async def _store(
        self, namespace: str, name: str, body: dict[str, Any], created: bool = False
    ) -> aiohttp.web.StreamResponse:
        key = (LEASES, namespace, name)
        previous = self.lease(namespace, name)
        stored = copy.deepcopy(body)
        meta = stored.setdefault("metadata", {})
        self.revision += 1
        meta.update(name=name, namespace=namespace, resourceVersion=str(self.revision))
        if previous is None:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            meta["uid"] = previous["metadata"]["uid"]
            meta["creationTimestamp"] = previous["metadata"]["creationTimestamp"]
        stored.setdefault("apiVersion", "coordination.k8s.io/v1")
        stored.setdefault("kind", "Lease")
        if key in self._objects:
            self._objects[key].history.append(stored)
        else:
            self._objects[key] = stored
        await self._buses[LEASES].put({"type": "ADDED" if previous is None else "MODIFIED", "object": stored})
        return aiohttp.web.json_response(stored, status=201 if created else 200)


def _merge(base: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(base) if isinstance(base, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge(merged.get(key), value)
    return merged


def _status(code: int, reason: str, message: str) -> aiohttp.web.StreamResponse:
    return aiohttp.web.json_response(
        {
            "apiVersion": "v1",
            "kind": "Status",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        },
        status=code,
    )
