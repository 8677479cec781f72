"""MetalLB ``IPAddressPool`` objects (metallb.io/v1beta1) as VIPPools, with a note for what has no equal.

Mapped: ``addresses``, ``autoAssign``, ``serviceAllocation.namespaces`` (a namespaceSelector on
``kubernetes.io/metadata.name``), one ``namespaceSelectors`` / ``serviceSelectors`` entry each.
``avoidBuggyIPs`` trims the .0 and .255 ends of IPv4 CIDRs of /24 and longer. Not mapped, with a warning:
``serviceAllocation.priority`` (kube-lvs tries pools by name), several selectors (MetalLB ORs them; a
VIPPool has one), and every other MetalLB kind (L2Advertisement, BGPAdvertisement, BGPPeer, ...).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from kubelvs.api.problems import from_validation_error, shown
from kubelvs.api.strict_yaml import DocumentError, load_documents
from kubelvs.api.vip_pools import VIPPool
from kubelvs.formats.notes import Level, Note

METALLB_GROUP = "metallb.io"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass
class Converted:
    pools: list[dict[str, Any]] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


def convert(text: str | bytes) -> Converted:
    """Every IPAddressPool of a YAML stream as a VIPPool body; notes for the rest."""
    result = Converted()
    try:
        documents = list(load_documents(text))
    except DocumentError as error:
        result.notes.append(Note(error.line, "yaml", str(error), Level.ERROR))
        return result
    for document in documents:
        if document is None:
            continue
        if not isinstance(document, Mapping):
            result.notes.append(Note(0, "document", f"{shown(document)} is no object", Level.ERROR))
            continue
        kind, api_version = document.get("kind"), str(document.get("apiVersion") or "")
        if kind == "IPAddressPool" and api_version.startswith(METALLB_GROUP + "/"):
            _pool(document, result)
        elif api_version.startswith(METALLB_GROUP + "/"):
            why = {
                "L2Advertisement": "the directors announce every VIP (Lease + gratuitous ARP) without one",
                "BGPAdvertisement": "BGP announcement is a VirtualServer's directors.announce: bgp",
            }.get(str(kind), "kube-lvs has no equal of it")
            result.notes.append(Note(0, f"{kind} {_name(document)}", f"not imported: {why}"))
        else:
            result.notes.append(Note(0, f"{kind} {_name(document)}", "not a MetalLB object: left out"))
    return result


def _name(document: Mapping[str, Any]) -> str:
    meta = document.get("metadata")
    return str(meta.get("name")) if isinstance(meta, Mapping) else "?"


def _pool(document: Mapping[str, Any], result: Converted) -> None:
    name = _name(document)
    where = f"IPAddressPool {name}"
    spec = document.get("spec") if isinstance(document.get("spec"), Mapping) else {}
    assert isinstance(spec, Mapping)
    addresses = [str(entry) for entry in spec.get("addresses") or []]
    if spec.get("avoidBuggyIPs"):
        addresses = [_trimmed(entry, where, result) for entry in addresses]
    made: dict[str, Any] = {"addresses": addresses}
    if "autoAssign" in spec:
        made["autoAssign"] = spec["autoAssign"]
    allocation = spec.get("serviceAllocation") if isinstance(spec.get("serviceAllocation"), Mapping) else {}
    assert isinstance(allocation, Mapping)
    if "priority" in allocation:
        priority = allocation["priority"]
        result.notes.append(Note(0, where, f"serviceAllocation.priority {priority} not mapped: pools go by name"))
    namespaces = list(allocation.get("namespaces") or [])
    namespace_selectors = list(allocation.get("namespaceSelectors") or [])
    if namespaces:
        made["namespaceSelector"] = {
            "matchExpressions": [{"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": namespaces}]
        }
        if namespace_selectors:
            why = "MetalLB ORs them with namespaces; a VIPPool has one selector"
            result.notes.append(Note(0, where, f"serviceAllocation.namespaceSelectors dropped: {why}"))
    elif namespace_selectors:
        made["namespaceSelector"] = _one(namespace_selectors, "namespaceSelectors", where, result)
    service_selectors = list(allocation.get("serviceSelectors") or [])
    if service_selectors:
        made["serviceSelector"] = _one(service_selectors, "serviceSelectors", where, result)
    body = {"apiVersion": "lvs.kubelvs.io/v1alpha1", "kind": "VIPPool", "metadata": {"name": name}, "spec": made}
    try:
        VIPPool.model_validate(body, by_alias=True, by_name=False)
    except ValidationError as error:
        for problem in from_validation_error(error):
            result.notes.append(Note(0, where, f"not imported: {problem}", Level.ERROR))
        return
    result.pools.append(body)


def _one(selectors: list[Any], field_name: str, where: str, result: Converted) -> Any:
    if len(selectors) > 1:
        why = "MetalLB ORs them; a VIPPool has one selector, so it admits fewer Services"
        kept = f"only the first of {len(selectors)} kept"
        result.notes.append(Note(0, where, f"serviceAllocation.{field_name}: {kept} ({why})"))
    return selectors[0]


def _trimmed(entry: str, where: str, result: Converted) -> str:
    """avoidBuggyIPs: a /24-or-longer IPv4 CIDR without its .0 and .255 addresses, as a range."""
    try:
        network = ipaddress.ip_network(entry.strip(), strict=True)
    except ValueError:
        network = None
    if isinstance(network, ipaddress.IPv4Network) and 24 <= network.prefixlen <= 30:
        first, last = network.network_address, network.broadcast_address
        if first.packed[-1] == 0:
            first += 1
        if last.packed[-1] == 255:
            last -= 1
        return f"{first}-{last}"
    if isinstance(network, ipaddress.IPv4Network) and network.prefixlen < 24:
        why = "only /24 and longer are trimmed"
        result.notes.append(Note(0, where, f"avoidBuggyIPs: {entry} keeps its .0 and .255 addresses ({why})"))
    return entry
