"""An IPVS table (netstate services and destinations) -> VirtualServer and RealServer objects.

ipvsadm keeps the forwarding method per destination; kube-lvs keeps one per VirtualServer with a
per-RealServer override, so the VirtualServer takes its destinations' most common method. Every object
goes through the API's own checks (:func:`kubelvs.api.objects.parse_object`); one that fails them is an
error note naming its line, never a silently wrong manifest.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any

from kubelvs import API_VERSION
from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.objects import parse_object
from kubelvs.formats import naming
from kubelvs.formats.ipvsadm import dest_order, service_order
from kubelvs.formats.manifests import Document
from kubelvs.formats.notes import Level, Note
from kubelvs.netstate import Destination, DestKey, Family, Fwd, Service, ServiceKey, SvcFlag

logger = logging.getLogger(__name__)

_FORWARDING = {Fwd.DROUTE: "dr", Fwd.MASQ: "nat", Fwd.TUNNEL: "tun", Fwd.LOCALNODE: "dr"}
_FLAG_NAMES = {
    "sh": {SvcFlag.SCHED1: "sh-fallback", SvcFlag.SCHED2: "sh-port"},
    "mh": {SvcFlag.SCHED1: "mh-fallback", SvcFlag.SCHED2: "mh-port"},
}
NAT_NOTE = (
    "NAT: natReturnPath none assumed (replies already route through the director, as they must with "
    "ipvsadm alone); set natReturnPath: route and directors.gateway to let kube-lvs route them"
)


def service_spec(service: Service) -> dict[str, Any]:
    """The VirtualServer spec fields a kernel service determines (no forwarding, no directors)."""
    key = service.key
    spec: dict[str, Any] = {}
    if key.fwmark:
        spec["fwmark"] = key.fwmark
        if key.family == Family.INET6:
            spec["addressFamily"] = "IPv6"
    else:
        spec.update(address=key.address, port=key.port, protocol=key.protocol.name)
    spec["scheduler"] = service.scheduler
    names = _FLAG_NAMES.get(service.scheduler, {})
    flags = [name for flag, name in names.items() if service.flags & flag]
    if flags:
        spec["schedulerFlags"] = flags
    if service.flags & SvcFlag.ONEPACKET:
        spec["onePacket"] = True
    if service.flags & SvcFlag.PERSISTENT:
        spec["persistence"] = {"timeout": service.timeout}
        full = 128 if key.family == Family.INET6 else 32
        if service.netmask != full:  # one client address is the API's default, as ipvsadm's
            spec["persistence"]["netmask"] = (
                f"/{service.netmask}"
                if key.family == Family.INET6
                else str(ipaddress.IPv4Network(f"0.0.0.0/{service.netmask}").netmask)
            )
    return spec


def _forwarding(dests: list[Destination]) -> str:
    """The most common method among the destinations (the first one's on a tie); dr without any."""
    if not dests:
        return "dr"
    counts = Counter(_FORWARDING[d.forwarding] for d in dests)
    best = max(counts.values())
    return next(_FORWARDING[d.forwarding] for d in dests if counts[_FORWARDING[d.forwarding]] == best)


def _checked(raw: dict[str, Any], line: int, keyword: str, notes: list[Note]) -> VirtualServer | RealServer | None:
    parsed = parse_object(raw)
    if isinstance(parsed, list):
        for problem in parsed:
            notes.append(Note(line, keyword, f"rejected by the API: {problem}", Level.ERROR))
        return None
    return parsed


def to_documents(
    services: Mapping[ServiceKey, Service],
    destinations: Mapping[DestKey, Destination],
    lines: Mapping[ServiceKey | DestKey, int],
    namespace: str,
    source: str,
) -> tuple[list[Document], list[Note]]:
    """One VirtualServer per service, followed by one RealServer per destination."""
    notes: list[Note] = []
    documents: list[Document] = []
    by_service: dict[ServiceKey, list[Destination]] = {}
    for dest in sorted(destinations.values(), key=lambda d: dest_order(d.key)):
        by_service.setdefault(dest.key.service, []).append(dest)
    for service in sorted(services.values(), key=lambda s: service_order(s.key)):
        line = lines.get(service.key, 0)
        dests = by_service.get(service.key, [])
        spec = service_spec(service)
        forwarding = _forwarding(dests)
        if forwarding != "dr":
            spec["forwarding"] = forwarding
        if any(d.forwarding == Fwd.MASQ for d in dests):
            spec["natReturnPath"] = "none"
            notes.append(Note(line, "-m", NAT_NOTE, Level.INFO))
        if service.key.fwmark:
            notes.append(
                Note(
                    line,
                    "-f",
                    f"fwmark {service.key.fwmark}: your own firewall rules mark the packets; "
                    "set spec.fwmarkMatch to let kube-lvs mark them",
                    Level.INFO,
                )
            )
        name = naming.service_name(service.key)
        raw = {
            "apiVersion": API_VERSION,
            "kind": "VirtualServer",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
        vs = _checked(raw, line, str(service.key), notes)
        if vs is None:
            continue
        documents.append(Document(vs, (f"{source}:{line}: {service.key}",) if line else ()))
        for dest in dests:
            dest_line = lines.get(dest.key, 0)
            if dest.forwarding == Fwd.LOCALNODE:
                notes.append(Note(dest_line, "-r", "local-node forwarding is imported as dr", Level.WARNING))
            rs_spec: dict[str, Any] = {"virtualServer": name, "address": dest.key.address}
            if dest.key.port != service.key.port:
                rs_spec["port"] = dest.key.port
            if dest.weight != 1:
                rs_spec["weight"] = dest.weight
            if _FORWARDING[dest.forwarding] != forwarding:
                rs_spec["forwarding"] = _FORWARDING[dest.forwarding]
            if dest.upper_threshold:
                rs_spec["upperThreshold"] = dest.upper_threshold
            if dest.lower_threshold:
                rs_spec["lowerThreshold"] = dest.lower_threshold
            rs_raw = {
                "apiVersion": API_VERSION,
                "kind": "RealServer",
                "metadata": {"name": naming.destination_name(dest.key), "namespace": namespace},
                "spec": rs_spec,
            }
            rs = _checked(rs_raw, dest_line, str(dest.key), notes)
            if rs is not None:
                documents.append(Document(rs, (f"{source}:{dest_line}: {dest.key}",) if dest_line else ()))
    return documents, notes
