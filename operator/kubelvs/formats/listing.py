"""The live IPVS table as ``ipvsadm -Ln --stats`` and ``--rate`` lay it out, side by side, plus the
active/inactive connections and the CR that owns each line (``kubelvs status``).

Columns use ipvsadm's widths and its number scaling (K, M, G, T above 99,999,999), so the left part of
a line reads exactly like ``ipvsadm -Ln --stats``. A service's numbers are the sums of its destinations'.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from kubelvs.address_text import with_port
from kubelvs.formats.ipvsadm import dest_order, service_order
from kubelvs.netstate import Destination, DestKey, DestStats, Family, Proto, Service, ServiceKey

logger = logging.getLogger(__name__)

COLUMNS = ("Conns", "InPkts", "OutPkts", "InBytes", "OutBytes", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS")
UNOWNED = "-"


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


def _dest_label(key: DestKey) -> str:
    return f"  -> {with_port(key.address, key.port)}"


def _numbers(stats: DestStats) -> list[int]:
    return [
        stats.conns,
        stats.inpkts,
        stats.outpkts,
        stats.inbytes,
        stats.outbytes,
        stats.cps,
        stats.inpps,
        stats.outpps,
        stats.inbps,
        stats.outbps,
        stats.active_conns,
        stats.inactive_conns,
    ]


def _line(label: str, numbers: list[int], owner: str) -> str:
    traffic = "".join(largenum(n) for n in numbers[:10])
    connections = "".join(f" {largenum(n)}" for n in numbers[10:])
    return f"{label:<33}{traffic}{connections}  {owner}"


def render(
    services: Iterable[Service],
    destinations: Iterable[Destination],
    stats: Mapping[DestKey, DestStats],
    owners: Mapping[ServiceKey | DestKey, str],
) -> list[str]:
    """Header, then each service with its sums, then its destinations, in ipvsadm's order."""
    by_service: dict[ServiceKey, list[Destination]] = {}
    for dest in destinations:
        by_service.setdefault(dest.key.service, []).append(dest)
    header = f"{'Prot LocalAddress:Port':<33}" + "".join(f"{c:>9}" for c in COLUMNS)
    header += f"{'ActConn':>10}{'InActConn':>10}"
    lines = [header + "  Owner", "  -> RemoteAddress:Port"]
    for service in sorted(services, key=lambda s: service_order(s.key)):
        dests = sorted(by_service.get(service.key, []), key=lambda d: dest_order(d.key))
        rows = [_numbers(stats.get(d.key, DestStats())) for d in dests]
        totals = [sum(column) for column in zip(*rows, strict=True)] if rows else [0] * 12
        lines.append(_line(service_label(service.key), totals, owners.get(service.key, UNOWNED)))
        for dest, row in zip(dests, rows, strict=True):
            lines.append(_line(_dest_label(dest.key), row, owners.get(dest.key, UNOWNED)))
    return lines
