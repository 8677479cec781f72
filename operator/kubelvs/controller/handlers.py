"""kopf handlers: thin edges that feed watch events into one reconcile pass and map outcomes to kopf.

Indexes keep the latest body of every VirtualServer and RealServer, every Service and EndpointSlice (what
``backends`` follow; a change of one that no VirtualServer follows asks for no pass) and every node's
addresses (kopf fills them before any handler runs); every event — including status-only ones such as the agent's
reports, which ``on.update`` would ignore because kopf's "essence" leaves ``status`` out — asks for a
pass. Deletion handlers make kopf hold its finalizer until the re-judged world (a conflicting newer
VirtualServer accepted, orphaned RealServers rejected) is written.
"""

from __future__ import annotations

import copy
import ipaddress
import logging
from collections.abc import Mapping
from typing import Any, cast

import kopf

from kubelvs import GROUP, VERSION
from kubelvs.api.service_objects import SERVICE_NAME_LABEL
from kubelvs.controller.coalescing import Outcome
from kubelvs.controller.load_balancers import LoadBalancers, served_or_ours
from kubelvs.controller.notices import Notice
from kubelvs.controller.reconciling import Reconciler, World
from kubelvs.loadbalancer import generation, passes

logger = logging.getLogger(__name__)

NODE_ADDRESS_TYPES = frozenset({"InternalIP", "ExternalIP"})
RETRY_DELAY = 5.0
SERVICE_METADATA = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp", "deletionTimestamp")
LOAD_BALANCER_METADATA = (*SERVICE_METADATA, "labels", "annotations")
LOAD_BALANCER_SPEC = ("type", "loadBalancerClass", "ports", "ipFamilies", "ipFamilyPolicy", "loadBalancerIP",
                      "sessionAffinity", "sessionAffinityConfig", "externalTrafficPolicy")  # fmt: skip
RESYNC_INTERVAL = 30.0
# Our own registry, so that importing this module next to other kopf code (the agent's watcher, tests)
# never mixes handlers.
REGISTRY = kopf.OperatorRegistry()


@kopf.on.login(registry=REGISTRY)
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """The service account in a pod, else ``$KUBECONFIG`` read now (the client library reads it at import)."""
    return (
        kopf.login_with_service_account(**kwargs)
        or kopf.login_with_kubeconfig(**kwargs)
        or kopf.login_via_client(**kwargs)
    )


def _snapshot(body: kopf.Body) -> dict[str, Any]:
    return copy.deepcopy(dict(body))


@kopf.index(GROUP, VERSION, "virtualservers", registry=REGISTRY)
def virtual_servers(body: kopf.Body, namespace: str | None, name: str, **_: Any) -> dict[str, dict[str, Any]]:
    return {f"{namespace}/{name}": _snapshot(body)}


@kopf.index(GROUP, VERSION, "realservers", registry=REGISTRY)
def real_servers(body: kopf.Body, namespace: str | None, name: str, **_: Any) -> dict[str, dict[str, Any]]:
    return {f"{namespace}/{name}": _snapshot(body)}


@kopf.index("", "v1", "services", registry=REGISTRY)
def services(body: kopf.Body, namespace: str | None, name: str, **_: Any) -> dict[str, dict[str, Any]]:
    """Every Service, cut to what backends read (its ports): a cluster has many, with large statuses."""
    meta = {k: v for k, v in body.get("metadata", {}).items() if k in SERVICE_METADATA}
    spec = {"ports": copy.deepcopy((body.get("spec") or {}).get("ports") or [])}
    return {f"{namespace}/{name}": {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}}


def _load_balancer_or_ours(body: kopf.Body, **_: Any) -> bool:
    return served_or_ours(body, set())


# a filter, not an empty result: kopf drops an object from an index once it stops matching the filter
@kopf.index("", "v1", "services", when=_load_balancer_or_ours, registry=REGISTRY)
def load_balancer_services(
    body: kopf.Body, namespace: str | None, name: str, **_: Any
) -> dict[str, dict[str, Any]]:
    """LoadBalancer Services, and Services whose status this operator wrote (their type or class changed
    since), cut to what the load-balancer controller reads."""
    meta = {k: copy.deepcopy(v) for k, v in body.get("metadata", {}).items() if k in LOAD_BALANCER_METADATA}
    spec = {k: copy.deepcopy(v) for k, v in (body.get("spec") or {}).items() if k in LOAD_BALANCER_SPEC}
    status = body.get("status") or {}
    kept = {k: copy.deepcopy(status[k]) for k in ("loadBalancer", "conditions") if k in status}
    cut = {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec, "status": kept}
    return {f"{namespace}/{name}": cut}


@kopf.index(GROUP, VERSION, "vippools", registry=REGISTRY)
def vip_pools(body: kopf.Body, name: str, **_: Any) -> dict[str, dict[str, Any]]:
    return {name: _snapshot(body)}


@kopf.index("", "v1", "namespaces", registry=REGISTRY)
def namespace_labels(name: str, labels: Mapping[str, str], **_: Any) -> dict[str, dict[str, str]]:
    """Every namespace's labels: what VIPPools' namespaceSelectors match."""
    return {name: dict(labels)}


@kopf.index("discovery.k8s.io", "v1", "endpointslices", registry=REGISTRY)
def endpoint_slices(body: kopf.Body, namespace: str | None, name: str, **_: Any) -> dict[str, dict[str, Any]]:
    return {f"{namespace}/{name}": _snapshot(body)}


@kopf.index("", "v1", "nodes", registry=REGISTRY)
def node_addresses(name: str, status: kopf.Status, **_: Any) -> dict[str, frozenset[str]]:
    addresses = set()
    for item in status.get("addresses") or []:
        if item.get("type") in NODE_ADDRESS_TYPES:
            try:
                addresses.add(ipaddress.ip_address(str(item.get("address"))).compressed)
            except ValueError:
                logger.debug("node %s: %r is not an IP address", name, item.get("address"))
    return {name: frozenset(addresses)}


def _latest(index: kopf.Index[str, Any]) -> dict[str, Any]:
    return {key: value for key, store in index.items() for value in store}


def announce(body: Mapping[str, Any], notice: Notice) -> None:
    """Post a notice as a Kubernetes Event on the object it is about."""
    kopf.event(
        kopf.Body(cast(kopf.RawBody, dict(body))),
        type=notice.severity.value,
        reason=notice.reason,
        message=notice.message,
    )


def _reconciler(memo: Any) -> Reconciler:
    reconciler = memo.get("reconciler")
    if not isinstance(reconciler, Reconciler):
        raise kopf.PermanentError("the operator was started without a reconciler in its memo")
    return reconciler


def _load_balancers(memo: Any) -> LoadBalancers:
    load_balancers = memo.get("load_balancers")
    if not isinstance(load_balancers, LoadBalancers):
        raise kopf.PermanentError("the operator was started without a load-balancer controller in its memo")
    return load_balancers


async def _serve_load_balancers(memo: Any, indexes: Mapping[str, Any]) -> Outcome:
    """One load-balancer pass over the indexes."""

    def read_world() -> passes.World:
        return passes.World(
            services=_latest(indexes["load_balancer_services"]),
            pools=_latest(indexes["vip_pools"]),
            namespaces=_latest(indexes["namespace_labels"]),
            virtual_servers=_latest(indexes["virtual_servers"]),
        )

    return await _load_balancers(memo).reconcile(read_world)


def _generated_owners(indexes: Mapping[str, Any]) -> set[str]:
    return {
        uid
        for raw in _latest(indexes["virtual_servers"]).values()
        if generation.is_generated(raw) and (uid := generation.owner_uid(raw)) is not None
    }


async def _reconcile(memo: Any, indexes: Mapping[str, Any]) -> Outcome:
    """One pass over the world as the indexes (handler kwargs named after the index functions) hold it."""

    def read_world() -> World:
        return World(
            virtual_servers=_latest(indexes["virtual_servers"]),
            real_servers=_latest(indexes["real_servers"]),
            node_addresses=_latest(indexes["node_addresses"]),
            services=_latest(indexes["services"]),
            endpoint_slices=_latest(indexes["endpoint_slices"]),
        )

    return await _reconciler(memo).reconcile(read_world)


@kopf.on.event(GROUP, VERSION, "virtualservers", registry=REGISTRY)
@kopf.on.event(GROUP, VERSION, "realservers", registry=REGISTRY)
@kopf.on.event("", "v1", "nodes", registry=REGISTRY)
async def world_changed(memo: Any, body: kopf.Body, **kwargs: Any) -> None:
    # Event handlers are not retried; a failed write leaves needs_retry for the resync timers.
    await _reconcile(memo, kwargs)
    if body.get("kind") == "VirtualServer" and generation.is_generated(body):
        await _serve_load_balancers(memo, kwargs)  # made for a Service: someone may have edited or deleted it


@kopf.on.event(GROUP, VERSION, "vippools", registry=REGISTRY)
async def pools_changed(memo: Any, **kwargs: Any) -> None:
    await _serve_load_balancers(memo, kwargs)


@kopf.on.event("", "v1", "namespaces", registry=REGISTRY)
async def namespace_changed(memo: Any, **kwargs: Any) -> None:
    if any((raw.get("spec") or {}).get("namespaceSelector") for raw in _latest(kwargs["vip_pools"]).values()):
        await _serve_load_balancers(memo, kwargs)


def _followed(namespace: str | None, service: str | None, indexes: Mapping[str, Any]) -> bool:
    """Whether some VirtualServer's backends follow this Service (the cluster's other Services cost no pass)."""
    return any(
        ((raw.get("spec") or {}).get("backends") or {}).get("service") == service
        for key, raw in _latest(indexes["virtual_servers"]).items()
        if key.split("/", 1)[0] == namespace
    )


@kopf.on.event("", "v1", "services", registry=REGISTRY)
async def service_changed(memo: Any, namespace: str | None, name: str, body: kopf.Body, **kwargs: Any) -> None:
    if served_or_ours(body, _generated_owners(kwargs)):
        await _serve_load_balancers(memo, kwargs)
    if _followed(namespace, name, kwargs):
        await _reconcile(memo, kwargs)


@kopf.on.event("discovery.k8s.io", "v1", "endpointslices", registry=REGISTRY)
async def endpoints_changed(memo: Any, namespace: str | None, labels: Mapping[str, str], **kwargs: Any) -> None:
    if _followed(namespace, labels.get(SERVICE_NAME_LABEL), kwargs):
        await _reconcile(memo, kwargs)


@kopf.timer(GROUP, VERSION, "virtualservers", interval=RESYNC_INTERVAL, registry=REGISTRY)
@kopf.timer(GROUP, VERSION, "realservers", interval=RESYNC_INTERVAL, registry=REGISTRY)
async def retry_failed_writes(memo: Any, **kwargs: Any) -> None:
    if _reconciler(memo).needs_retry:
        await _reconcile(memo, kwargs)


@kopf.on.delete(GROUP, VERSION, "virtualservers", registry=REGISTRY)
@kopf.on.delete(GROUP, VERSION, "realservers", registry=REGISTRY)
async def released(memo: Any, **kwargs: Any) -> None:
    # The object being deleted is already out of the judgement (it has a deletionTimestamp).
    outcome = await _reconcile(memo, kwargs)
    if outcome is Outcome.RETRY:
        raise kopf.TemporaryError("the statuses of the remaining objects are not written yet", delay=RETRY_DELAY)
