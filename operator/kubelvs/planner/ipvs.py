"""VirtualServer / RealServer specs -> IPVS services and destinations, the same on every director.

``ipvs_rules`` is what a director programs, and what ``kubelvs export`` prints.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from kubelvs.api.enums import AddressFamily, Forwarding, Protocol, SchedulerFlag
from kubelvs.api.fields import netmask_prefix
from kubelvs.api.models import RealServer, RealServerSpec, VirtualServer, VirtualServerSpec
from kubelvs.api.rules import effective_forwarding, effective_port, service_family
from kubelvs.netstate import (
    NO_FLAGS,
    Destination,
    DestKey,
    Family,
    Fwd,
    Proto,
    Service,
    ServiceKey,
    SvcFlag,
)

logger = logging.getLogger(__name__)

FORWARDING = {Forwarding.DR: Fwd.DROUTE, Forwarding.NAT: Fwd.MASQ, Forwarding.TUN: Fwd.TUNNEL}
SCHEDULER_FLAGS = {
    SchedulerFlag.SH_FALLBACK: SvcFlag.SCHED1,
    SchedulerFlag.MH_FALLBACK: SvcFlag.SCHED1,
    SchedulerFlag.SH_PORT: SvcFlag.SCHED2,
    SchedulerFlag.MH_PORT: SvcFlag.SCHED2,
}


def family(spec: VirtualServerSpec) -> Family:
    return Family.INET6 if service_family(spec) == AddressFamily.IPV6 else Family.INET


def address_family(address: str) -> Family:
    # The models store addresses normalised (api.fields), and only IPv6 text has a colon: no parsing,
    # which dominated plan() on large tables.
    return Family.INET6 if ":" in address else Family.INET


def host_prefix(address: str) -> int:
    """/32 for IPv4, /128 for IPv6: a VIP is one address, never a subnet."""
    return 128 if address_family(address) == Family.INET6 else 32


def protocol(spec: VirtualServerSpec) -> Proto:
    """Transport protocol of the traffic: the service's, else fwmarkMatch's, else none (fwmark, unknown)."""
    if spec.fwmark is None:
        return Proto[(spec.protocol or Protocol.TCP).value]
    return Proto[spec.fwmark_match.protocol.value] if spec.fwmark_match else Proto.NONE


def vip(spec: VirtualServerSpec) -> str | None:
    """The address clients send to: the VIP, or a fwmark service's matched destination."""
    return spec.address or (spec.fwmark_match.destination if spec.fwmark_match else None)


def service_key(spec: VirtualServerSpec) -> ServiceKey:
    if spec.fwmark is not None:
        return ServiceKey(family(spec), Proto.NONE, "", 0, spec.fwmark)
    assert spec.address is not None and spec.port is not None  # checked by api.rules
    return ServiceKey(family(spec), protocol(spec), spec.address, spec.port)


def service(spec: VirtualServerSpec) -> Service:
    flags = NO_FLAGS
    for flag in spec.scheduler_flags:
        flags |= SCHEDULER_FLAGS[flag]
    if spec.one_packet:
        flags |= SvcFlag.ONEPACKET
    full = 128 if family(spec) == Family.INET6 else 32
    if spec.persistence is None:
        return Service(service_key(spec), spec.scheduler.value, flags, 0, full)
    return Service(
        service_key(spec),
        spec.scheduler.value,
        flags | SvcFlag.PERSISTENT,
        spec.persistence.timeout,
        full if spec.persistence.netmask is None else netmask_prefix(spec.persistence.netmask),
    )


def destination(vs: VirtualServerSpec, rs: RealServerSpec, service: ServiceKey | None = None) -> Destination:
    """``service``: ``service_key(vs)`` when the caller has it already (a director adds many at once)."""
    service = service or service_key(vs)
    rs_family = address_family(rs.address)
    return Destination(
        DestKey(service, rs.address, effective_port(vs, rs)),
        forwarding=FORWARDING[effective_forwarding(vs, rs)],
        weight=rs.weight,
        upper_threshold=rs.upper_threshold,
        lower_threshold=rs.lower_threshold,
        family=rs_family if rs_family != service.family else None,
    )


def ipvs_rules(
    virtual_servers: Iterable[VirtualServer],
    real_servers: Iterable[RealServer],
) -> tuple[dict[ServiceKey, Service], dict[DestKey, Destination]]:
    """Every service and destination the objects describe, whatever the node (``kubelvs export``).

    A service key claimed twice goes to the first VirtualServer by namespace/name (the loader reports
    the conflict); a RealServer without its VirtualServer is left out.
    """
    services: dict[ServiceKey, Service] = {}
    owner: dict[str, VirtualServer] = {}
    for vs in sorted(virtual_servers, key=lambda v: v.key):
        svc = service(vs.spec)
        if svc.key not in services:
            services[svc.key] = svc
            owner[vs.key] = vs
    destinations: dict[DestKey, Destination] = {}
    for rs in sorted(real_servers, key=lambda r: r.key):
        parent = owner.get(rs.virtual_server_key)
        if parent is not None:
            dest = destination(parent.spec, rs.spec)
            destinations.setdefault(dest.key, dest)
    return services, destinations
