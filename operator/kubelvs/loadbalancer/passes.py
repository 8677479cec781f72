"""One load-balancer pass, planned: from the LoadBalancer Services, VIPPools, namespaces and VirtualServers
the API holds, the writes that bring it to what should be. Pure; :mod:`kubelvs.controller.load_balancers`
carries the writes out.

A served Service gets its addresses (:mod:`.allocator`), its VirtualServers (:mod:`.generation`) and a
status: ``loadBalancer.ingress`` and the condition ``lvs.kubelvs.io/AddressAllocated``. A Service with a
setting that cannot be used keeps what it has -- its address and VirtualServers stay as they are -- and says
why. Generated VirtualServers no served Service wants any more (the Service is gone, changed type or
class, lost a port or its address) are deleted; a VirtualServer of the same name that this operator did
not make for that Service is never touched. A Service no longer served loses the ingress this operator
wrote, and only that.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from kubelvs.api.judgement import Network
from kubelvs.api.models import VirtualServerSpec
from kubelvs.api.problems import from_validation_error
from kubelvs.api.vip_pools import AddressRange, VIPPool
from kubelvs.loadbalancer import allocator, generation, requests
from kubelvs.loadbalancer.allocator import Allocation, Pool, Refusal

ALLOCATED = "lvs.kubelvs.io/AddressAllocated"  # the Service condition; a qualified name, as others' are
POOL_ACCEPTED = "Accepted"

# an address of each family to try a Service's settings on before it gets one (they depend on the family only)
_PROBES = {4: ipaddress.ip_address("192.0.2.1"), 6: ipaddress.ip_address("2001:db8::1")}

Raw = Mapping[str, Any]
Body = dict[str, Any]


@dataclass(frozen=True)
class World:
    """What a pass reads: Services of type LoadBalancer and VirtualServers by ``namespace/name``, VIPPools
    by name, namespace labels by namespace."""

    services: Mapping[str, Raw]
    pools: Mapping[str, Raw]
    namespaces: Mapping[str, Mapping[str, str]]
    virtual_servers: Mapping[str, Raw]


@dataclass(frozen=True)
class Notice:
    """An Event to post on an object: Warning unless ``normal``."""

    about: Raw
    reason: str
    message: str
    normal: bool = False


@dataclass
class Writes:
    """Everything the pass changes, in the order it should be written."""

    create: list[Body] = field(default_factory=list)
    replace: dict[str, Body] = field(default_factory=dict)  # namespace/name -> merge patch
    delete: list[str] = field(default_factory=list)
    service_status: dict[str, Body] = field(default_factory=dict)  # namespace/name -> status merge patch
    pool_status: dict[str, Body] = field(default_factory=dict)  # name -> status
    notices: list[Notice] = field(default_factory=list)


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def plan(world: World, default_class: bool, bound: tuple[Network, ...], at: str) -> Writes:
    """The writes of one pass. ``bound``: the networks VIPs must lie in (``--vip-pools``; empty: any), which
    every VIPPool must then lie in too, so no Service gets an address the agents would not bind. ``at``:
    the time conditions that change carry."""
    writes = Writes()
    pools, pool_problems = _pools(world.pools, bound)
    kept, overlapping = allocator.usable(pools)
    served = {
        key: requests.read(raw) for key, raw in world.services.items() if requests.is_served(raw, default_class)
    }
    for key, request in served.items():  # settings no VirtualServer takes ask for no new address
        if not request.problems:
            _, problems = generation.virtual_servers(request, tuple(_PROBES[v] for v in request.families))
            if problems:
                served[key] = dataclasses.replace(request, problems=tuple(problems))
    allocation = allocator.allocate(list(served.values()), kept, world.namespaces)
    generated = {key: raw for key, raw in world.virtual_servers.items() if generation.is_generated(raw)}
    wanted: set[str] = set()
    for request in served.values():
        wanted |= _serve(world, request, allocation, generated, writes, at)
    for key in sorted(world.services):  # no longer served: take back the ingress written for it
        raw = world.services[key]
        if key not in served and _condition(raw, ALLOCATED) is not None:
            writes.service_status[key] = {
                "loadBalancer": {"ingress": None},
                "conditions": _without(raw, ALLOCATED),
            }
    writes.delete = sorted(set(generated) - wanted)
    for name, raw in sorted(world.pools.items()):
        status, owned = (
            _pool_status(raw, name, pool_problems, overlapping, allocation, kept, at),
            _owned_pool_status(raw),
        )
        if status != owned:
            writes.pool_status[name] = {**{key: None for key in owned.keys() - status.keys()}, **status}
    return writes


def outside(entry: AddressRange, bound: tuple[Network, ...]) -> bool:
    """Whether some address of ``entry`` lies in none of ``bound``'s networks."""
    make = ipaddress.IPv4Address if entry.version == 4 else ipaddress.IPv6Address
    pieces = ipaddress.summarize_address_range(make(entry.first), make(entry.last))  # at most 2 x 128
    return not all(any(piece.subnet_of(net) for net in bound if net.version == piece.version) for piece in pieces)  # type: ignore[arg-type]


def _pools(raws: Mapping[str, Raw], bound: tuple[Network, ...] = ()) -> tuple[list[Pool], dict[str, str]]:
    pools: list[Pool] = []
    problems: dict[str, str] = {}
    for name, raw in sorted(raws.items()):
        try:
            model = VIPPool.model_validate(dict(raw), by_alias=True, by_name=False)
        except ValidationError as error:
            problems[name] = "; ".join(str(problem) for problem in from_validation_error(error)[:5])
            continue
        spec = model.spec
        stray = [entry for entry in spec.ranges if bound and outside(entry, bound)]
        if stray:
            allowed = ", ".join(str(net) for net in bound)
            problems[name] = f"{stray[0].text()} lies outside the operator's --vip-pools ({allowed})"
            continue
        pools.append(
            Pool(
                name,
                spec.ranges,
                spec.auto_assign,
                spec.service_selector,
                spec.namespace_selector,
                model.metadata.creation_timestamp or "",
            )
        )
    return pools, problems


def _serve(
    world: World,
    request: requests.Request,
    allocation: Allocation,
    generated: Mapping[str, Raw],
    writes: Writes,
    at: str,
) -> set[str]:
    """Plan one served Service's VirtualServers and status; the keys of the VirtualServers it keeps."""
    raw = world.services[request.key]
    mine = {key for key, vs in generated.items() if generation.owner_uid(vs) == request.uid}
    addresses = allocation.addresses.get(request.key, ())
    problems = list(request.problems)
    made: dict[str, Body] = {}
    if not problems:
        made, problems = generation.virtual_servers(request, addresses)
    if problems:
        reason, message = "InvalidSettings", "; ".join(str(problem) for problem in problems[:5])
        keep = mine  # nothing changes until the settings are mended
    else:
        keep = set()
        taken = []
        for name, body in made.items():
            key = f"{request.namespace}/{name}"
            existing = world.virtual_servers.get(key)
            if existing is not None and key not in mine:
                taken.append(name)
                continue
            keep.add(key)
            if existing is None:
                writes.create.append(body)
            else:
                patch = _vs_patch(existing, body)
                if patch:
                    writes.replace[key] = patch
        refusal = allocation.refusals.get(request.key)
        if taken:
            reason = "NameTaken"
            names = ", ".join(taken)
            message = f"VirtualServer(s) {names} exist and were not made for this Service: rename or delete them"
        elif refusal is not None or not addresses:
            refusal = refusal or Refusal("NoAddress", "no address was allocated")
            reason, message = refusal.reason, refusal.message
        else:
            reason = "Allocated"
            message = ", ".join(f"{a} from VIPPool {allocation.pool_of.get(a, '?')}" for a in addresses)
    status = "True" if reason == "Allocated" else "False"
    old = _condition(raw, ALLOCATED)
    new_condition = {
        "type": ALLOCATED,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": old.get("lastTransitionTime", at)
        if old is not None and old.get("status") == status
        else at,
    }
    ingress = generation.ingress(addresses)
    current = ((raw.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if old != new_condition or current != ingress:
        writes.service_status[request.key] = {
            "loadBalancer": {"ingress": ingress or None},
            "conditions": [*_without(raw, ALLOCATED), new_condition],
        }
        if old is None or (old.get("reason"), old.get("message")) != (reason, message):
            writes.notices.append(Notice(raw, reason, message, normal=status == "True"))
    return keep


def _condition(raw: Raw, kind: str) -> dict[str, Any] | None:
    for item in (raw.get("status") or {}).get("conditions") or []:
        if isinstance(item, Mapping) and item.get("type") == kind:
            return dict(item)
    return None


def _without(raw: Raw, kind: str) -> list[Any]:
    """The object's conditions but ``kind``: other controllers' conditions stay as they are."""
    return [
        item
        for item in (raw.get("status") or {}).get("conditions") or []
        if not (isinstance(item, Mapping) and item.get("type") == kind)
    ]


def _owned_vs(raw: Raw) -> Body:
    """The parts of a generated VirtualServer this operator decides: its label and sharing key, its owner, its
    spec (others' labels and annotations, kopf's among them, are left alone)."""
    meta = raw.get("metadata") or {}
    labels = meta.get("labels") or {}
    return {
        "metadata": {
            "labels": {k: v for k, v in labels.items() if k == generation.SERVICE_LABEL},
            "annotations": {k: v for k, v in (meta.get("annotations") or {}).items() if k == requests.SHARING_KEY},
            "ownerReferences": list(meta.get("ownerReferences") or []),
        },
        "spec": dict(raw.get("spec") or {}),
    }


def _vs_patch(existing: Raw, body: Raw) -> Body:
    """The merge patch from a generated VirtualServer as stored to ``body``; none when they differ only by the
    defaults the API server filled in (else every pass would null them and the server fill them again)."""
    old, new = _owned_vs(existing), _owned_vs(body)
    old_spec, new_spec = _normalized(old["spec"]), _normalized(new["spec"])
    if old_spec is not None and new_spec is not None:  # compared (and patched) without defaults on either side
        old, new = {**old, "spec": old_spec}, {**new, "spec": new_spec}
    return _merge_patch(old, new)


def _normalized(spec: Mapping[str, Any]) -> Body | None:
    """The spec without the fields that equal their defaults; None when it is no valid spec."""
    try:
        model = VirtualServerSpec.model_validate(dict(spec), by_alias=True, by_name=False)
    except ValidationError:
        return None
    return model.model_dump(by_alias=True, exclude_defaults=True, mode="json")


def _merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> Body:
    """The JSON merge patch (RFC 7386) that turns ``old`` into ``new``: removed keys become null."""
    patch: Body = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        was = old.get(key)
        if isinstance(value, Mapping) and isinstance(was, Mapping):
            inner = _merge_patch(was, value)
            if inner:
                patch[key] = inner
        elif value != was:
            patch[key] = value
    return patch


def _pool_status(
    raw: Raw,
    name: str,
    problems: Mapping[str, str],
    overlapping: Mapping[str, str],
    allocation: Allocation,
    kept: list[Pool],
    at: str,
) -> Body:
    counts: dict[str, int] = {}
    if name in problems:
        reason, message = ("OutsideVipPools" if "--vip-pools" in problems[name] else "Invalid"), problems[name]
    elif name in overlapping:
        reason, message = "Overlaps", overlapping[name]
    else:
        pool = next(pool for pool in kept if pool.name == name)
        reason, message, counts = (
            "Accepted",
            "addresses are handed to the Services it admits",
            allocation.counts(pool),
        )
    status = "True" if reason == "Accepted" else "False"
    old = _condition(raw, POOL_ACCEPTED)
    since = old.get("lastTransitionTime", at) if old is not None and old.get("status") == status else at
    generation_ = (raw.get("metadata") or {}).get("generation")
    condition: Body = {"type": POOL_ACCEPTED, "status": status, "reason": reason, "message": message}
    condition["lastTransitionTime"] = since
    if isinstance(generation_, int):
        condition["observedGeneration"] = generation_
    body: Body = {"conditions": [condition], **counts}
    if isinstance(generation_, int):
        body["observedGeneration"] = generation_
    return body


POOL_STATUS = (
    "conditions",
    "observedGeneration",
    "allocatedIPv4",
    "availableIPv4",
    "allocatedIPv6",
    "availableIPv6",
)


def _owned_pool_status(raw: Raw) -> Body:
    status = dict(raw.get("status") or {})
    return {key: status[key] for key in POOL_STATUS if status.get(key) is not None}
