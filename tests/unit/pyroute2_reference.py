"""The reference the lean IPVS dumps are held to: pyroute2's decoding of the same replies, as netstate values.

Test-only: the product reads with ``kernel/ipvs_dump.py`` (pyroute2's decoder costs milliseconds per message under
emulation). The unit tests decode bytes with the ``to_…`` converters; the VM tests read a real table with the
``reference_…`` readers. Kernel tests import it with ``tests/unit`` put on ``sys.path``.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from typing import Any

from pyroute2 import IPVS, IPVSService
from pyroute2.netlink.exceptions import NetlinkError

from kubelvs.kernel import ipvs_wire as wire
from kubelvs.netstate import (
    KERNEL_OWNED_FLAGS,
    Destination,
    DestKey,
    DestStats,
    Family,
    Fwd,
    Proto,
    Service,
    ServiceKey,
    SvcFlag,
)

logger = logging.getLogger(__name__)


def to_service_key(attrs: Any) -> ServiceKey:
    """The key of a pyroute2 ``IPVS_CMD_ATTR_SERVICE`` nest."""
    family = Family(attrs.get_attr("IPVS_SVC_ATTR_AF"))
    fwmark = attrs.get_attr("IPVS_SVC_ATTR_FWMARK") or 0
    if fwmark:
        return ServiceKey(family, Proto.NONE, "", 0, fwmark=fwmark)
    return ServiceKey(
        family,
        Proto(attrs.get_attr("IPVS_SVC_ATTR_PROTOCOL")),
        _compressed(family, attrs.get_attr("IPVS_SVC_ATTR_ADDR")),
        attrs.get_attr("IPVS_SVC_ATTR_PORT"),
    )


def to_service(attrs: Any) -> Service:
    """A pyroute2 service nest as a :class:`Service`; the kernel's own HASHED flag is dropped."""
    key = to_service_key(attrs)
    flags = SvcFlag(attrs.get_attr("IPVS_SVC_ATTR_FLAGS")["flags"]) & ~KERNEL_OWNED_FLAGS
    # pyroute2 decodes the netmask as an IPv4 address; for IPv6 those four bytes are a prefix length
    netmask = socket.inet_aton(attrs.get_attr("IPVS_SVC_ATTR_NETMASK"))
    return Service(
        key=key,
        scheduler=attrs.get_attr("IPVS_SVC_ATTR_SCHED_NAME"),
        flags=flags,
        timeout=attrs.get_attr("IPVS_SVC_ATTR_TIMEOUT") or 0,
        netmask=wire.netmask_prefix(key.family, netmask),
    )


def to_destination(service: ServiceKey, attrs: Any) -> Destination:
    """A pyroute2 ``IPVS_CMD_ATTR_DEST`` nest; ``family`` is set only when it differs from the service's."""
    family = Family(attrs.get_attr("IPVS_DEST_ATTR_ADDR_FAMILY") or service.family)
    return Destination(
        key=DestKey(
            service,
            _compressed(family, attrs.get_attr("IPVS_DEST_ATTR_ADDR")),
            attrs.get_attr("IPVS_DEST_ATTR_PORT"),
        ),
        forwarding=Fwd(attrs.get_attr("IPVS_DEST_ATTR_FWD_METHOD") & wire.FWD_MASK),
        weight=attrs.get_attr("IPVS_DEST_ATTR_WEIGHT"),
        upper_threshold=attrs.get_attr("IPVS_DEST_ATTR_U_THRESH"),
        lower_threshold=attrs.get_attr("IPVS_DEST_ATTR_L_THRESH"),
        family=family if family != service.family else None,
    )


def to_dest_stats(attrs: Any) -> DestStats:
    """Counters of a pyroute2 destination nest (64-bit counters when the kernel sends them)."""
    counters = attrs.get_attr("IPVS_DEST_ATTR_STATS64") or attrs.get_attr("IPVS_DEST_ATTR_STATS")

    def counter(name: str) -> int:
        return int(counters.get_attr(f"IPVS_STATS_ATTR_{name}") or 0) if counters is not None else 0

    return DestStats(
        active_conns=attrs.get_attr("IPVS_DEST_ATTR_ACTIVE_CONNS") or 0,
        inactive_conns=attrs.get_attr("IPVS_DEST_ATTR_INACT_CONNS") or 0,
        persistent_conns=attrs.get_attr("IPVS_DEST_ATTR_PERSIST_CONNS") or 0,
        conns=counter("CONNS"),
        inpkts=counter("INPKTS"),
        outpkts=counter("OUTPKTS"),
        inbytes=counter("INBYTES"),
        outbytes=counter("OUTBYTES"),
        cps=counter("CPS"),
        inpps=counter("INPPS"),
        outpps=counter("OUTPPS"),
        inbps=counter("INBPS"),
        outbps=counter("OUTBPS"),
    )


def from_service_key(key: ServiceKey) -> Any:
    """The pyroute2 ``IPVSService`` that names ``key`` in a destination dump."""
    if key.fwmark:
        return IPVSService(af=int(key.family), fwmark=key.fwmark)
    return IPVSService(af=int(key.family), protocol=int(key.protocol), addr=key.address, port=key.port)


def _compressed(family: Family, address: str) -> str:
    return socket.inet_ntop(family, socket.inet_pton(family, address))


def reference_services(ipvs: IPVS) -> dict[ServiceKey, Service]:
    """``KernelIpvsTable.services()`` through pyroute2's dump (the reference)."""
    found = {}
    for msg in ipvs.service("dump"):
        service = to_service(msg.get_attr("IPVS_CMD_ATTR_SERVICE"))
        found[service.key] = service
    return found


def _reference_dest_nests(ipvs: IPVS, services: Sequence[ServiceKey]) -> list[tuple[ServiceKey, Any]]:
    nests = []
    for key in services:
        try:
            replies = ipvs.dest("dump", service=from_service_key(key))
        except (NetlinkError, OSError) as error:  # the service vanished since the service dump
            logger.debug("no destinations for %s: %s", key, error)
            continue
        nests += [(key, msg.get_attr("IPVS_CMD_ATTR_DEST")) for msg in replies]
    return nests


def reference_destinations(ipvs: IPVS, services: Sequence[ServiceKey]) -> dict[DestKey, Destination]:
    """``KernelIpvsTable.destinations()`` through pyroute2's dumps (the reference)."""
    found = {}
    for key, nest in _reference_dest_nests(ipvs, services):
        dest = to_destination(key, nest)
        found[dest.key] = dest
    return found


def reference_stats(ipvs: IPVS, services: Sequence[ServiceKey]) -> dict[DestKey, DestStats]:
    """``KernelIpvsTable.stats()`` through pyroute2's dumps (the reference)."""
    return {
        to_destination(key, nest).key: to_dest_stats(nest) for key, nest in _reference_dest_nests(ipvs, services)
    }
