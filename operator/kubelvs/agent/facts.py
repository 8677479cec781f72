"""Node facts for the planner, read through the kernel gateways."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping

from kubelvs.kernel.interfaces import Addresses
from kubelvs.netstate import Family
from kubelvs.planner import NodeFacts
from kubelvs.planner.facts import Network

logger = logging.getLogger(__name__)


def gather(
    addresses: Addresses,
    node: str,
    labels: Mapping[str, str],
    vip_pools: tuple[Network, ...] = (),
) -> NodeFacts:
    defaults = {}
    for family in Family:
        interface = addresses.default_interface(family.value)
        if interface is not None:
            defaults[family] = interface
    return NodeFacts(
        node=node,
        labels=dict(labels),
        local_addresses=frozenset(addresses.local_addresses()),
        default_interfaces=defaults,
        vip_pools=vip_pools,
        subnets=tuple((ipaddress.ip_network(net), name) for name, net in sorted(addresses.subnets())),
    )


def parse_labels(text: str) -> dict[str, str]:
    """``"a=b,kubelvs.io/director=true"`` -> a dict; a ValueError names the bad item."""
    labels: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"node label {item!r} is not of the form key=value")
        labels[name.strip()] = value.strip()
    return labels
