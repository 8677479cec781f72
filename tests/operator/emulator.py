"""A Kubernetes API for tests: kmock's emulator, the bits of API-server behaviour it lacks, and helpers.

kmock 0.8's ``KubernetesEmulator`` stores objects, merges patches, streams watch events and honours
finalizers, but it leaves metadata alone and does not know ``PUT``. :class:`Emulator` adds what
controllers rely on:

- ``metadata.uid``, ``creationTimestamp``, ``resourceVersion`` (one counter, bumped by every write) and
  ``generation`` (1 on create, +1 whenever ``spec`` changes — status and metadata writes leave it);
- ``metadata.generateName`` (kopf names its Events that way; without it the second Event is a 409);
- the status subresource: ``PATCH .../status`` changes only ``status``, a main-resource write ignores
  ``status``, and ``status`` is dropped on create — for resources registered with ``subresources=["status"]``;
- optimistic concurrency: a ``PATCH`` or ``PUT`` whose ``metadata.resourceVersion`` is not the stored one
  gets 409 Conflict (what Lease-based election needs); a JSON patch whose ``test`` op fails gets 422,
  as kopf expects when it adds finalizers;
- ``PUT`` on a named object (replace), as ``kubectl replace`` / client ``replace_*`` calls send.

It also teaches kmock's URL parser ``/api/v1/namespaces[/NAME]`` (kopf lists namespaces in ``--namespace``
mode; kmock 0.8 answers 500). Still missing (not needed so far): field and label selectors,
``?resourceVersion=`` on watches (every watch starts with the whole list), ``?timeoutSeconds``,
server-side apply, admission.

:func:`serve` runs it on 127.0.0.1 in a thread of its own, so an operator under test (kopf in another
thread) and plain synchronous tests (:class:`Client`) can share it across a whole module.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp.web
import attrs
import jsonpatch
import kmock
from kmock._internal import dicts, enums, parsing, rendering

_parse_path = parsing.parse_path


def _parse_namespaces_too(path: str) -> parsing.ParsedPath:
    """kmock 0.8 reads ``/api/v1/namespaces[/NAME]`` as a namespace prefix without a resource and fails."""
    parts = path.strip("/").split("/")
    if parts[:3] == ["api", "v1", "namespaces"] and len(parts) <= 4:
        name = parts[3] if len(parts) == 4 else None
        return parsing.ParsedPath(group="", version="v1", plural="namespaces", name=name)
    return _parse_path(path)


# kopf lists namespaces when it serves named ones (--namespace); without this every such call is a 500.
parsing.parse_path = _parse_namespaces_too

GROUP = "lvs.kubelvs.io"
VERSION = "v1alpha1"
ALL_VERBS = ("list", "watch", "get", "create", "patch", "update", "delete")


def resource(group: str, version: str, plural: str) -> kmock.resource:
    return kmock.resource(group, version, plural)


def register(
    server: kmock.KubernetesEmulator,
    group: str,
    version: str,
    plural: str,
    kind: str,
    *,
    namespaced: bool = True,
    subresources: tuple[str, ...] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
) -> None:
    """Declare one resource for discovery, so clients (kopf) find and watch it."""
    server.resources[resource(group, version, plural)] = kmock.ResourceInfo(
        kind=kind, namespaced=namespaced, verbs=list(verbs), subresources=list(subresources)
    )


def register_backbone(server: kmock.KubernetesEmulator) -> None:
    """What kopf watches or writes besides the operator's own resources; without it kopf never starts watching."""
    register(server, "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
             namespaced=False)  # fmt: skip
    register(server, "", "v1", "namespaces", "Namespace", namespaced=False)
    register(server, "", "v1", "events", "Event")


def register_kubelvs(server: kmock.KubernetesEmulator) -> None:
    """kube-lvs's resources and the built-in ones it reads: Nodes and coordination Leases."""
    register(server, GROUP, VERSION, "virtualservers", "VirtualServer", subresources=("status",))
    register(server, GROUP, VERSION, "realservers", "RealServer", subresources=("status",))
    register(server, "", "v1", "nodes", "Node", namespaced=False, subresources=("status",))
    register(server, "coordination.k8s.io", "v1", "leases", "Lease")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _conflict(message: str) -> kmock.KubernetesError:
    return kmock.KubernetesError(status=409, reason="Conflict", message=message)


@attrs.define(kw_only=True)
class Emulator(kmock.KubernetesEmulator):
    """kmock's emulator plus metadata bookkeeping, the status subresource, conflicts and PUT."""

    _revision: int = attrs.field(default=0, init=False)

    def _next_revision(self) -> str:
        self._revision += 1
        return str(self._revision)

    def _has_status_subresource(self, request: rendering.Request) -> bool:
        return request.resource in self.resources and "status" in self.resources[request.resource].subresources

    def _stored(self, request: rendering.Request) -> kmock.Object | None:
        key = (request.resource, request.namespace, request.name)
        if key not in self._objects or self._objects[key].deleted:
            return None
        stored: kmock.Object = self._objects[key]
        return stored

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        if request.resource is not None and request.name is not None and request.method == enums.method.PUT:
            return await self._replace(request)
        if request.resource is not None and request.action == enums.action.CREATE:
            self._prepare_create(request)
        elif request.resource is not None and request.action == enums.action.UPDATE:
            self._prepare_patch(request)
        return await super()._handle(request)

    def _prepare_create(self, request: rendering.Request) -> None:
        data = request.data
        meta = data.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)
        if request.namespace and not meta.get("namespace"):
            meta["namespace"] = request.namespace
        meta.update(
            uid=str(uuid.uuid4()), creationTimestamp=_now(), generation=1, resourceVersion=self._next_revision()
        )
        if self._has_status_subresource(request):
            data.pop("status", None)

    def _prepare_patch(self, request: rendering.Request) -> None:
        stored = self._stored(request)
        if stored is None:
            return  # kmock answers 404
        data = request.data
        old = copy.deepcopy(stored.raw)
        if isinstance(data, list):  # JSON patch: compute the outcome, then add the bookkeeping as ops
            try:
                new = jsonpatch.apply_patch(old, data, in_place=False)
            except jsonpatch.JsonPatchException as error:  # e.g. kopf's "test" of resourceVersion
                raise kmock.KubernetesError(status=422, reason="Invalid", message=str(error)) from None
            generation = old["metadata"].get("generation", 1) + (new.get("spec") != old.get("spec"))
            data.append({"op": "add", "path": "/metadata/generation", "value": generation})
            data.append({"op": "add", "path": "/metadata/resourceVersion", "value": self._next_revision()})
            return
        wanted = (data.get("metadata") or {}).get("resourceVersion")
        if wanted is not None and str(wanted) != str(old["metadata"].get("resourceVersion")):
            raise _conflict(f"resourceVersion {wanted} is not the latest; reload and retry")
        if request.subresource == "status":
            for key in list(data):
                if key != "status":
                    del data[key]
        elif self._has_status_subresource(request):
            data.pop("status", None)
        new = dicts.merge_patch_dict(old, data)
        generation = old["metadata"].get("generation", 1) + (new.get("spec") != old.get("spec"))
        data.setdefault("metadata", {}).update(generation=generation, resourceVersion=self._next_revision())

    async def _replace(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        async with self._lock:
            stored = self._stored(request)
            if stored is None:
                return await self._render_error(kmock.KubernetesObjectNotFoundError())
            old = stored.raw
            new = copy.deepcopy(request.data)
            meta = new.setdefault("metadata", {})
            wanted = meta.get("resourceVersion")
            if wanted is not None and str(wanted) != str(old["metadata"].get("resourceVersion")):
                return await self._render_error(_conflict(f"resourceVersion {wanted} is not the latest"))
            for kept in ("uid", "creationTimestamp", "name", "namespace"):
                if kept in old["metadata"]:
                    meta[kept] = old["metadata"][kept]
            if self._has_status_subresource(request):
                new["status"] = old.get("status")
            meta["generation"] = old["metadata"].get("generation", 1) + (new.get("spec") != old.get("spec"))
            meta["resourceVersion"] = self._next_revision()
            stored.history.append(new)
            await self._buses[request.resource].put({"type": "MODIFIED", "object": new})
        return aiohttp.web.json_response(new)


@dataclass(frozen=True)
class Served:
    """A running emulator: the object itself (for its ``objects``), its URL and its event loop."""

    emulator: Emulator
    url: str
    loop: asyncio.AbstractEventLoop


@contextlib.contextmanager
def serve(configure: Callable[[Emulator], None] = register_kubelvs) -> Iterator[Served]:
    """Run an :class:`Emulator` (with the backbone resources and ``configure``'s) in a thread of its own."""
    started: threading.Event = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        async with Emulator() as emulator, kmock.Server(emulator) as server:
            register_backbone(emulator)
            configure(emulator)
            box["served"] = Served(emulator, str(server.url).rstrip("/"), asyncio.get_running_loop())
            box["stop"] = stop = asyncio.Event()
            started.set()
            await stop.wait()

    thread = threading.Thread(target=lambda: asyncio.run(main()), name="kmock", daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("the emulator did not start within 10 s")
    served: Served = box["served"]
    try:
        yield served
    finally:
        served.loop.call_soon_threadsafe(box["stop"].set)
        thread.join(10)


def write_kubeconfig(url: str, path: Path) -> Path:
    """A kubeconfig pointing at ``url`` with a dummy token (the emulator accepts anything)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "emulator", "cluster": {"server": url}}],
        "users": [{"name": "tester", "user": {"token": "test"}}],
        "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "tester"}}],
        "current-context": "emulator",
    }
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


class ApiError(Exception):
    """A non-2xx answer: ``status`` and the decoded Status body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


def path_of(api_version: str, plural: str, namespace: str | None = None, name: str | None = None) -> str:
    """``/api/v1/namespaces/ns/events`` or ``/apis/group/version/...`` for one resource (and object)."""
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    if namespace is not None:
        base += f"/namespaces/{namespace}"
    base += f"/{plural}"
    return base + (f"/{name}" if name is not None else "")


class Client:
    """A small synchronous client for tests: create, read, patch and delete objects over HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raise ApiError(error.code, json.loads(error.read() or b"null")) from None

    def create(self, plural: str, obj: Mapping[str, Any]) -> Any:
        namespace = obj.get("metadata", {}).get("namespace")
        return self.request("POST", path_of(obj["apiVersion"], plural, namespace), obj)

    def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> Any:
        return self.request("GET", path_of(api_version, plural, namespace, name))

    def list(self, api_version: str, plural: str, namespace: str | None = None) -> list[Any]:
        items: list[Any] = self.request("GET", path_of(api_version, plural, namespace))["items"]
        return items

    def patch(
        self,
        api_version: str,
        plural: str,
        namespace: str | None,
        name: str,
        body: Mapping[str, Any],
        subresource: str | None = None,
    ) -> Any:
        path = path_of(api_version, plural, namespace, name) + (f"/{subresource}" if subresource else "")
        return self.request("PATCH", path, body, "application/merge-patch+json")

    def delete(self, api_version: str, plural: str, namespace: str | None, name: str) -> Any:
        return self.request("DELETE", path_of(api_version, plural, namespace, name))


T = TypeVar("T")


def wait_for(probe: Callable[[], T], timeout: float = 10.0, interval: float = 0.1) -> T:
    """Poll ``probe`` until it returns something truthy (and return that); fail with its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = probe()
        except (ApiError, KeyError, TypeError, IndexError, StopIteration) as error:
            result, last_error = None, error  # type: ignore[assignment]
        else:
            last_error = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s; last answer: {result!r} {last_error or ''}")
        time.sleep(interval)
