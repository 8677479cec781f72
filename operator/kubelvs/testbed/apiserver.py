"""A Kubernetes API server emulator for tests and the demo: kmock's emulator made strict, served over HTTP.

kmock 0.8's ``KubernetesEmulator`` stores objects, merges patches, streams watch events and honours
finalizers, but it leaves metadata alone, has no ``PUT`` and ignores ``resourceVersion``. :class:`Emulator`
adds what controllers and Lease-based elections rely on:

- the API server's refusals of a custom resource's body before any controller sees it: no JSON object, a
  missing or mismatched ``apiVersion``/``kind`` (400), no ``metadata``, no name, a name that is no RFC 1123
  subdomain (422), a ``metadata.namespace`` other than the URL's (400) -- schema validation is not emulated;
- ``metadata.uid``, ``creationTimestamp``, ``resourceVersion`` (one counter, bumped by every write) and
  ``generation`` (1 on create, +1 whenever ``spec`` changes — status and metadata writes leave it);
- ``metadata.generateName`` (kopf names its Events that way; without it the second Event is a 409);
- the status subresource: ``PATCH .../status`` changes only ``status``, a main-resource write ignores
  ``status``, and ``status`` is dropped on create — for resources registered with ``subresources=["status"]``;
- optimistic concurrency: a ``PATCH`` or ``PUT`` whose ``metadata.resourceVersion`` is not the stored one
  gets 409 Conflict; a JSON patch whose ``test`` op fails gets 422, as kopf expects when it adds finalizers;
- ``PUT`` on a named object (replace), as ``kubectl replace`` / client ``replace_*`` calls send;
- ``coordination.k8s.io/v1`` Lease writes served the way the API server does (POST of an existing name is
  409 AlreadyExists, PUT/PATCH/DELETE of a missing one 404, a stale ``resourceVersion`` 409 Conflict with
  the API server's message), so an election against it can lose a race;
- two fault injectors for tests: ``partitioned`` (User-Agent strings answered 503, an API outage for
  those clients) and ``interlopers`` (one-shot callbacks that write a Lease just before a client's own
  write is checked).

It also teaches kmock's URL parser ``/api/v1/namespaces[/NAME]`` (kopf lists namespaces in ``--namespace``
mode; kmock 0.8 answers 500). Still missing: field and label selectors (the agent filters its Node itself),
``?resourceVersion=`` on watches (every watch starts with the whole list), server-side apply, admission.

:func:`serve` runs it in a thread of its own (tests, the full-stack stack); ``python -m kubelvs.testbed
apiserver --listen ADDR:PORT --kubeconfig-out PATH [--node SPEC...]`` runs it as a process (:func:`main`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import datetime
import json
import logging
import re
import secrets
import signal
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp.web
import attrs
import jsonpatch
import kmock
from kmock._internal import dicts, enums, parsing, rendering

from kubelvs.testbed.apiclient import ApiError, Client, path_of, wait_for

logger = logging.getLogger(__name__)

__all__ = ["ApiError", "Client", "path_of", "wait_for"]  # re-exported: one import for tests

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
LEASES = kmock.resource("coordination.k8s.io", "v1", "leases")
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_DNS_SUBDOMAIN = re.compile(r"(?=.{1,253}\Z)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

Interloper = Callable[[str, dict[str, Any] | None], dict[str, Any] | None]
"""Called with (lease name, stored object or None); returns an object to store first, or None."""


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
    """kube-lvs's resources and the built-in ones it reads: Nodes, coordination Leases, Services and
    EndpointSlices."""
    register(server, GROUP, VERSION, "virtualservers", "VirtualServer", subresources=("status",))
    register(server, GROUP, VERSION, "realservers", "RealServer", subresources=("status",))
    register(server, GROUP, VERSION, "vippools", "VIPPool", namespaced=False, subresources=("status",))
    register(server, "", "v1", "nodes", "Node", namespaced=False, subresources=("status",))
    register(server, "coordination.k8s.io", "v1", "leases", "Lease")
    register(server, "", "v1", "services", "Service", subresources=("status",))
    register(server, "discovery.k8s.io", "v1", "endpointslices", "EndpointSlice")


def register_kopf_peering(server: kmock.KubernetesEmulator) -> None:
    """kopf's peering resources, as the chart's CRD installs them (``--peering NAME`` needs them)."""
    register(server, "kopf.dev", "v1", "clusterkopfpeerings", "ClusterKopfPeering", namespaced=False)
    register(server, "kopf.dev", "v1", "kopfpeerings", "KopfPeering")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _conflict(message: str) -> kmock.KubernetesError:
    return kmock.KubernetesError(status=409, reason="Conflict", message=message)


@attrs.define(kw_only=True)
class Emulator(kmock.KubernetesEmulator):
    """kmock's emulator plus metadata bookkeeping, the status subresource, conflicts, PUT and strict Leases."""

    _revision: int = attrs.field(default=1000, init=False)
    partitioned: set[str] = attrs.field(factory=set, init=False)
    interlopers: list[Interloper] = attrs.field(factory=list, init=False)
    conflicts: int = attrs.field(default=0, init=False)
    keep_history: bool = True
    """Whether kmock records the requests (tests read them); a long-running server must not (see _forget)."""
    log_writes: bool = False
    """One INFO line per write but Lease renewals: who changed what, when a stack is slow to settle."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.resources[LEASES] = kmock.ResourceInfo(
            kind="Lease", namespaced=True, verbs=["create", "delete", "get", "list", "patch", "update", "watch"]
        )

    def _next_revision(self) -> str:
        self._revision += 1
        return str(self._revision)

    def _has_status_subresource(self, request: rendering.Request) -> bool:
        if request.resource is None or request.resource not in self.resources:
            return False
        return "status" in self.resources[request.resource].subresources

    def _stored(self, request: rendering.Request) -> kmock.Object | None:
        if request.resource is None or request.name is None:
            return None
        key = (request.resource, request.namespace, request.name)
        if key not in self._objects or self._objects[key].deleted:
            return None
        stored: kmock.Object = self._objects[key]
        return stored

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        try:
            return await self._serve(request)
        finally:
            if not self.keep_history:
                self._forget(request)

    def _forget(self, request: rendering.Request) -> None:
        """Drop ``request`` from kmock's request history: nothing here asserts on it, and kmock matches each new
        request to its reactions by scanning that history (``request in view``), so answers slow down linearly
        with the traffic served — seconds per request after minutes of Lease renewals under emulation."""
        for requests in (self._requests, *(payload._requests for payload in self._payloads)):
            for index in range(len(requests) - 1, -1, -1):
                if requests[index] is request:
                    del requests[index]
                    break

    async def _serve(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        agent = request.headers.get("User-Agent", "")
        if agent in self.partitioned:
            return _status(503, "ServiceUnavailable", f"{agent} is cut off from the API server")
        method = request.method.value if request.method is not None else ""
        if method in WRITES and request.resource != LEASES and self.log_writes:
            logger.info("%s", _write_line(method, request))
        if method in ("POST", "PUT") and request.resource is not None and request.subresource is None:
            refused = self._refusal(request)
            if refused is not None:
                return refused
        if request.resource == LEASES and method in WRITES:
            async with self._lock:
                return await self._write_lease(request, method)
        if request.resource is not None and request.name is not None and request.method == enums.method.PUT:
            return await self._replace(request)
        if request.resource is not None and request.action == enums.action.CREATE:
            self._prepare_create(request)
        elif request.resource is not None and request.action == enums.action.UPDATE:
            self._prepare_patch(request)
        return await super()._handle(request)

    def _refusal(self, request: rendering.Request) -> aiohttp.web.StreamResponse | None:
        """What the API server refuses of a body before storing it, or None: store it. For custom resources
        (decoded as unstructured: apiVersion and kind must be there and match the URL, a name that is a
        subdomain, the URL's namespace), and the same plus the fields kube-lvs reads for Services and
        EndpointSlices (their validation in the API server: a Service name is a DNS-1035 label; an
        EndpointSlice has an addressType and at most 1,000 endpoints of 1 to 100 addresses, 100 ports)."""
        assert request.resource is not None
        info = self.resources.get(request.resource)
        checked = request.resource.group == GROUP or request.resource in VALIDATED_BUILTINS
        if not checked or not isinstance(info, kmock.ResourceInfo):
            return None
        data = request.data
        group, version = request.resource.group, request.resource.version
        expected = f"{group}/{version}" if group else version
        if not isinstance(data, dict):
            return _status(400, "BadRequest", f"the body is not a JSON object but {type(data).__name__}")
        for field_name, wanted in (("apiVersion", expected), ("kind", info.kind)):
            given = data.get(field_name)
            if given is None:
                return _status(400, "BadRequest", f"Object '{field_name}' is missing in the body")
            if given != wanted:
                shown = json.dumps(given)[:100]
                mismatch = f"the {field_name} in the data ({shown}) does not match the expected {wanted}"
                return _status(400, "BadRequest", mismatch)
        meta = data.get("metadata")
        if not isinstance(meta, dict):
            return _status(422, "Invalid", "metadata: Required value: an object with a name")
        name = meta.get("name") or meta.get("generateName")
        if not isinstance(name, str) or not name:
            return _status(422, "Invalid", "metadata.name: Required value: name or generateName is required")
        given_name = meta.get("name")
        if given_name is not None and not (isinstance(given_name, str) and _DNS_SUBDOMAIN.fullmatch(given_name)):
            return _status(422, "Invalid", "metadata.name: Invalid value: a lowercase RFC 1123 subdomain")
        namespace = meta.get("namespace")
        if namespace is not None and namespace != request.namespace:
            mismatch = "the namespace of the provided object does not match the namespace of the request"
            return _status(400, "BadRequest", mismatch)
        invalid = _builtin_problem(str(info.kind), data)
        return _status(422, "Invalid", invalid) if invalid else None

    # ---- all resources but Leases ------------------------------------------------------------------------

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
            assert request.resource is not None  # _stored found the object, so the request names a resource
            await self._buses[request.resource].put({"type": "MODIFIED", "object": new})
        return aiohttp.web.json_response(new)

    # ---- Leases: every write checked the way the API server checks it -------------------------------------

    def lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The stored Lease as a plain dict (None if absent)."""
        key = (LEASES, namespace, name)
        if key not in self._objects or self._objects[key].deleted:
            return None
        return copy.deepcopy(self._objects[key].raw)

    async def _write_lease(self, request: rendering.Request, method: str) -> aiohttp.web.StreamResponse:
        body: dict[str, Any] = request.data if isinstance(request.data, dict) else {}
        namespace = request.namespace or (body.get("metadata") or {}).get("namespace") or "default"
        name = request.name or (body.get("metadata") or {}).get("name") or ""
        interlopers, self.interlopers = self.interlopers, []
        for interloper in interlopers:
            intruding = interloper(name, self.lease(namespace, name))
            if intruding is not None:
                await self._store_lease(namespace, name, intruding)
        current = self.lease(namespace, name)
        if method == "POST":
            if current is not None:
                return _status(409, "AlreadyExists", f'leases.coordination.k8s.io "{name}" already exists')
            return await self._store_lease(namespace, name, body, created=True)
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
            body = dict(dicts.merge_patch_dict(current, body))
        return await self._store_lease(namespace, name, body)

    async def _store_lease(
        self, namespace: str, name: str, body: dict[str, Any], created: bool = False
    ) -> aiohttp.web.StreamResponse:
        key = (LEASES, namespace, name)
        previous = self.lease(namespace, name)
        stored = copy.deepcopy(body)
        meta = stored.setdefault("metadata", {})
        meta.update(name=name, namespace=namespace, resourceVersion=self._next_revision())
        if previous is None:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = _now()
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


VALIDATED_BUILTINS = (resource("", "v1", "services"), resource("discovery.k8s.io", "v1", "endpointslices"))
_DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")


def _builtin_problem(kind: str, data: dict[str, Any]) -> str | None:
    """The API server's validation of the Service and EndpointSlice fields kube-lvs reads, or None."""
    if kind == "Service":
        name = data["metadata"].get("name")
        if name is not None and not _DNS_1035_LABEL.fullmatch(str(name)):
            return "metadata.name: Invalid value: a DNS-1035 label (a lowercase letter first)"
        ports = (data.get("spec") or {}).get("ports") or []
        if not isinstance(ports, list) or not all(isinstance(p, dict) and _is_port(p.get("port")) for p in ports):
            return "spec.ports: Invalid value: each port needs a port number 1..65535"
        return None
    if kind != "EndpointSlice":
        return None
    if data.get("addressType") not in ("IPv4", "IPv6", "FQDN"):
        return "addressType: Unsupported value: supported values: IPv4, IPv6, FQDN"
    endpoints, ports = data.get("endpoints") or [], data.get("ports") or []
    if not isinstance(endpoints, list) or len(endpoints) > 1000:
        return "endpoints: Too many: must have at most 1000 items"
    if not isinstance(ports, list) or len(ports) > 100:
        return "ports: Too many: must have at most 100 items"
    for index, item in enumerate(endpoints):
        addresses = item.get("addresses") if isinstance(item, dict) else None
        if not isinstance(addresses, list) or not 1 <= len(addresses) <= 100:
            return f"endpoints[{index}].addresses: Invalid value: must have 1 to 100 addresses"
    return None


def _is_port(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def _write_line(method: str, request: rendering.Request) -> str:
    """``PATCH realservers default/web-1 status {effectiveWeight,health} (python-client/1.0)``."""
    data = request.data
    if isinstance(data, dict):
        inner = data.get("status") if request.subresource == "status" else data
        keys = "{" + ",".join(sorted(inner)) + "}" if isinstance(inner, dict) else ""
    elif isinstance(data, list):  # a JSON patch: its ops and paths
        keys = "[" + ", ".join(f"{op.get('op')} {op.get('path')}" for op in data if isinstance(op, dict)) + "]"
    else:
        keys = ""
    plural = request.resource.plural if request.resource is not None else "?"
    where = f"{request.namespace}/{request.name}" if request.namespace else str(request.name or "")
    agent = request.headers.get("User-Agent", "")
    return f"{method} {plural} {where} {request.subresource or ''} {keys} ({agent})"


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


# ---- serving -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    """A running emulator: the object itself (for its ``objects``), its URL and its event loop."""

    emulator: Emulator
    url: str
    loop: asyncio.AbstractEventLoop


@contextlib.contextmanager
def serve(
    configure: Callable[[Emulator], None] = register_kubelvs,
    host: str = "127.0.0.1",
    port: int | None = None,
    keep_history: bool = True,
) -> Iterator[Served]:
    """Run an :class:`Emulator` (with the backbone resources and ``configure``'s) in a thread of its own."""
    started: threading.Event = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        async with (
            Emulator(keep_history=keep_history, log_writes=not keep_history) as emulator,
            kmock.Server(emulator, host=host, port=port) as server,
        ):
            register_backbone(emulator)
            configure(emulator)
            box["served"] = Served(emulator, str(server.url).rstrip("/"), asyncio.get_running_loop())
            box["stop"] = stop = asyncio.Event()
            started.set()
            await stop.wait()

    thread = threading.Thread(target=lambda: asyncio.run(main()), name="kmock", daemon=True)
    thread.start()
    if not started.wait(30):
        raise RuntimeError("the emulator did not start within 30 s")
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
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


# ---- cluster contents: namespaces and Nodes ---------------------------------------------------------------


@dataclass(frozen=True)
class NodeSpec:
    """A Node to create: its name, labels and InternalIP addresses."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    addresses: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> NodeSpec:
        """``NAME[:KEY=VALUE,...][@ADDRESS,...]``, e.g. ``dir-a:kubelvs.io/director=true@172.31.255.11``."""
        rest, _, addresses = text.partition("@")
        name, _, labels = rest.partition(":")
        if not name:
            raise ValueError(f"--node {text!r}: the node name is empty (NAME[:K=V,...][@ADDR,...])")
        parsed: dict[str, str] = {}
        for pair in filter(None, labels.split(",")):
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise ValueError(f"--node {text!r}: label {pair!r} is not KEY=VALUE")
            parsed[key] = value
        return cls(name, parsed, tuple(filter(None, addresses.split(","))))


def seed(client: Client, nodes: Sequence[NodeSpec], namespaces: Sequence[str] = ("default", "kube-lvs")) -> None:
    """Create namespaces and Nodes; Node addresses go through the status subresource, as a kubelet reports."""
    for namespace in namespaces:
        client.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    for node in nodes:
        meta = {"name": node.name, "labels": dict(node.labels)}
        client.create("nodes", {"apiVersion": "v1", "kind": "Node", "metadata": meta})
        status = {"addresses": [{"type": "InternalIP", "address": a} for a in node.addresses]}
        client.patch("v1", "nodes", None, node.name, {"status": status}, subresource="status")


# ---- the process: python -m kubelvs.testbed apiserver ------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m kubelvs.testbed apiserver",
        description="An emulated Kubernetes API server (kmock) with kube-lvs's CRDs, Nodes, Leases and Events.",
    )
    parser.add_argument("--listen", default="127.0.0.1:0", metavar="ADDR:PORT", help="where to serve HTTP")
    parser.add_argument("--kubeconfig-out", type=Path, required=True, help="write a kubeconfig for it here")
    parser.add_argument(
        "--node", action="append", default=[], metavar="NAME[:K=V,...][@ADDR,...]", help="a Node to create"
    )
    parser.add_argument(
        "--kopf-peering", action="store_true", help="serve kopf's peering resources (the chart's CRD)"
    )
    return parser


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"--listen {text!r}: expected ADDRESS:PORT, e.g. 172.31.255.1:6443")
    return host.strip("[]"), int(port)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        host, port = parse_listen(args.listen)
        nodes = [NodeSpec.parse(text) for text in args.node]
    except ValueError as error:
        parser.error(str(error))
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # one line per request drowns the rest
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    def configure(emulator: Emulator) -> None:
        register_kubelvs(emulator)
        if args.kopf_peering:
            register_kopf_peering(emulator)

    with serve(configure, host=host, port=port or None, keep_history=False) as served:  # as long as the stack
        seed(Client(served.url), nodes)
        write_kubeconfig(served.url, args.kubeconfig_out)
        print(f"serving {served.url}; kubeconfig {args.kubeconfig_out}", flush=True)
        stop.wait()
    return 0
