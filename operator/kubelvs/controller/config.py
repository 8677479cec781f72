"""Operator-wide settings that come from flags: the VIP pools kube-lvs may claim."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class OperatorConfig:
    """What every reconcile pass needs besides the objects themselves."""

    vip_pools: tuple[Network, ...] = ()
    """Networks VIPs must lie in; empty means any address may be claimed."""


def parse_pools(text: str) -> tuple[Network, ...]:
    """``"192.0.2.0/24, 2001:db8::/64"`` -> networks; a wrong entry names itself and why."""
    pools: list[Network] = []
    for index, item in enumerate(part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            pools.append(ipaddress.ip_network(item, strict=True))
        except ValueError as error:
            raise ValueError(
                f"--vip-pools entry {index + 1} {item!r} is not a network in CIDR form: {error}"
            ) from None
    return tuple(pools)
