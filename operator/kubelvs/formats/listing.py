"""The live IPVS table as ``ipvsadm -Ln`` lays it out (or ``-Ln --stats``, ``-Ln --rate``), plus the CR that
owns each line (``kubelvs status``), and the same table as data for ``-o json|yaml``.

Columns use ipvsadm's widths, words and number scaling (K, M, G, T above 99,999,999), so a line reads exactly
like ipvsadm's up to the owner, which follows two spaces later. A service's counters are the kernel's own for
the service (which keep what deleted destinations counted), as ipvsadm shows them.
"""

from __future__ import annotations

import enum
import ipaddress
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from kubelvs.address_text import with_port
from kubelvs.formats.ipvsadm import dest_order, flag_names, service_order
from kubelvs.netstate import (
    Destination,
    DestKey,
    DestStats,
    Family,
    Fwd,
    Proto,
    Service,
    ServiceKey,
    ServiceStats,
    SvcFlag,
)

logger = logging.getLogger(__name__)

UNOWNED = "-"
FORWARD = {Fwd.MASQ: "Masq", Fwd.LOCALNODE: "Local", Fwd.TUNNEL: "Tunnel", Fwd.DROUTE: "Route"}
COUNTERS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes")
RATES = ("cps", "inpps", "outpps", "inbps", "outbps")


class Layout(enum.Enum):
    """Which of ipvsadm's listings: ``-Ln``, ``-Ln --stats``, ``-Ln --rate``."""

    LIST = "list"
    STATS = "stats"
    RATE = "rate"


_NUMBER_HEADERS = {
    Layout.STATS: ("Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"),
    Layout.RATE: ("CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"),
}
_NUMBER_FIELDS = {Layout.STATS: COUNTERS, Layout.RATE: RATES}


def largenum(value: int) -> str:
    """ipvsadm's ``print_largenum``: exact below 100 million, then scaled with a unit letter."""
    if value < 100_000_000:
        return f"{value:9d}"
    for limit, divisor, unit in (
        (1_000_000_000, 1_000, "K"),
        (100_000_000_000, 1_000_000, "M"),
        (100_000_000_000_000, 1_000_000_000, "G"),
    ):
        if value < limit:
            return f"{value // divisor:8d}{unit}"
    return f"{value // 1_000_000_000_000:8d}T"


def service_label(key: ServiceKey) -> str:
    """``TCP  192.0.2.1:80``, ``SCTP 192.0.2.9:3868``, ``FWM  7``, ``FWM  8 IPv6`` as ipvsadm -L shows them."""
    if key.fwmark:
        return f"FWM  {key.fwmark}" + (" IPv6" if key.family == Family.INET6 else "")
    target = with_port(key.address, key.port)
    return f"{key.protocol.name:<4} {target}" if key.protocol != Proto.NONE else target


def netmask_text(service: Service) -> str:
    """The persistence mask as ipvsadm writes it: dotted for IPv4, a prefix length for IPv6."""
    if service.key.family == Family.INET6:
        return str(service.netmask)
    return str(ipaddress.IPv4Network(f"0.0.0.0/{service.netmask}").netmask)


def service_details(service: Service) -> str:
    """``wrr``, ``sh (sh-fallback,sh-port) persistent 600 mask 255.255.255.0``, ``rr ops``: ipvsadm -Ln's words."""
    text = service.scheduler
    flags = flag_names(service)
    if flags:
        text += f" ({','.join(flags)})"
    if service.flags & SvcFlag.PERSISTENT:
        text += f" persistent {service.timeout}"
        full = 128 if service.key.family == Family.INET6 else 32
        if service.netmask != full:
            text += f" mask {netmask_text(service)}"
    if service.flags & SvcFlag.ONEPACKET:
        text += " ops"
    return text


def _service_line(layout: Layout, service: Service, stats: ServiceStats) -> str:
    label = service_label(service.key)
    if layout == Layout.LIST:
        return f"{label} {service_details(service)}"
    return f"{label:<33}" + "".join(largenum(getattr(stats, name)) for name in _NUMBER_FIELDS[layout])


def _dest_line(layout: Layout, dest: Destination, stats: DestStats) -> str:
    target = with_port(dest.key.address, dest.key.port)
    if layout == Layout.LIST:
        forward = FORWARD[dest.forwarding]
        return (
            f"  -> {target:<28} {forward:<7} {dest.weight:<6} {stats.active_conns:<10} {stats.inactive_conns:<10}"
        )
    return f"{'  -> ' + target:<33}" + "".join(largenum(getattr(stats, name)) for name in _NUMBER_FIELDS[layout])


def _grouped(
    services: Iterable[Service], destinations: Iterable[Destination]
) -> list[tuple[Service, list[Destination]]]:
    """Services in ipvsadm's order, each with its destinations in ipvsadm's order."""
    by_service: dict[ServiceKey, list[Destination]] = {}
    for dest in destinations:
        by_service.setdefault(dest.key.service, []).append(dest)
    return [
        (service, sorted(by_service.get(service.key, []), key=lambda d: dest_order(d.key)))
        for service in sorted(services, key=lambda s: service_order(s.key))
    ]


def render(
    layout: Layout,
    services: Iterable[Service],
    destinations: Iterable[Destination],
    dest_stats: Mapping[DestKey, DestStats],
    service_stats: Mapping[ServiceKey, ServiceStats],
    owners: Mapping[ServiceKey | DestKey, str],
) -> list[str]:
    """ipvsadm's two header lines (with ``Owner``), then each service and its destinations, each line ending in
    two spaces and its owner (``-`` for a line nobody claims)."""
    if layout == Layout.LIST:
        lines = [
            "Prot LocalAddress:Port Scheduler Flags  Owner",
            "  -> RemoteAddress:Port           Forward Weight ",
        ]
        lines[1] += "ActiveConn InActConn"
    else:
        numbers = "".join(f"{header:>9}" for header in _NUMBER_HEADERS[layout])
        lines = [f"{'Prot LocalAddress:Port':<33}{numbers}  Owner", "  -> RemoteAddress:Port"]
    for service, dests in _grouped(services, destinations):
        line = _service_line(layout, service, service_stats.get(service.key, ServiceStats()))
        lines.append(f"{line}  {owners.get(service.key, UNOWNED)}")
        for dest in dests:
            line = _dest_line(layout, dest, dest_stats.get(dest.key, DestStats()))
            lines.append(f"{line}  {owners.get(dest.key, UNOWNED)}")
    return lines


def as_data(
    services: Iterable[Service],
    destinations: Iterable[Destination],
    dest_stats: Mapping[DestKey, DestStats] | None,
    service_stats: Mapping[ServiceKey, ServiceStats] | None,
    owners: Mapping[ServiceKey | DestKey, str],
) -> dict[str, Any]:
    """The table for ``-o json|yaml``: ``{"services": [...]}`` in ipvsadm's order, every counter included.

    A service: ``service`` (its ipvsadm label, single-spaced), ``family`` (``inet``/``inet6``), ``protocol``
    (``TCP``/``UDP``/``SCTP``, null for a fwmark), ``address``, ``port``, ``fwmark``, ``scheduler``, ``flags``
    (ipvsadm's names: ``sh-port``, ``ops``, ...), ``persistence`` (null, or ``timeout`` seconds and ``netmask``
    as ipvsadm writes it), ``owner`` (null when nobody claims it), ``stats`` (the kernel's counters and rates:
    conns inpkts outpkts inbytes outbytes cps inpps outpps inbps outbps) and ``destinations``. A destination:
    ``address``, ``port``, ``forward`` (Route/Masq/Tunnel/Local), ``weight``, ``upperThreshold``,
    ``lowerThreshold``, ``activeConns``, ``inactiveConns``, ``persistentConns``, ``owner`` and ``stats``.
    Without counters (None: a table planned from manifests, not read from a kernel) there is no ``stats`` and no
    connection count.
    """
    listed = []
    for service, dests in _grouped(services, destinations):
        key = service.key
        flags = flag_names(service) + (["ops"] if service.flags & SvcFlag.ONEPACKET else [])
        persistent = bool(service.flags & SvcFlag.PERSISTENT)
        entry: dict[str, Any] = {
            "service": " ".join(service_label(key).split()),
            "family": "inet6" if key.family == Family.INET6 else "inet",
            "protocol": None if key.fwmark else key.protocol.name,
            "address": key.address or None,
            "port": key.port,
            "fwmark": key.fwmark,
            "scheduler": service.scheduler,
            "flags": flags,
            "persistence": {"timeout": service.timeout, "netmask": netmask_text(service)} if persistent else None,
            "owner": owners.get(key),
        }
        if service_stats is not None:
            stats = service_stats.get(key, ServiceStats())
            entry["stats"] = {name: getattr(stats, name) for name in COUNTERS + RATES}
        entry["destinations"] = [_dest_data(d, dest_stats, owners) for d in dests]
        listed.append(entry)
    return {"services": listed}


def _dest_data(
    dest: Destination, all_stats: Mapping[DestKey, DestStats] | None, owners: Mapping[ServiceKey | DestKey, str]
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "address": dest.key.address,
        "port": dest.key.port,
        "forward": FORWARD[dest.forwarding],
        "weight": dest.weight,
        "upperThreshold": dest.upper_threshold,
        "lowerThreshold": dest.lower_threshold,
    }
    if all_stats is not None:
        stats = all_stats.get(dest.key, DestStats())
        data["activeConns"] = stats.active_conns
        data["inactiveConns"] = stats.inactive_conns
        data["persistentConns"] = stats.persistent_conns
    data["owner"] = owners.get(dest.key)
    if all_stats is not None:
        data["stats"] = {name: getattr(all_stats.get(dest.key, DestStats()), name) for name in COUNTERS + RATES}
    return data
