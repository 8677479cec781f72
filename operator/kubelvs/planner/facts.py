"""What the planner knows about the node it plans for, and what it says about objects it skipped.

Plain values gathered elsewhere (``kubelvs.agent.facts`` reads them from the kernel gateways), so the
planner stays a pure function that tests feed by hand.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from kubelvs.api.judgement import Network, in_pools, parse_pools
from kubelvs.netstate import Family

__all__ = ["Network", "NodeFacts", "Skip", "in_pools", "parse_pools"]


@dataclass(frozen=True)
class NodeFacts:
    """One node as the planner sees it."""

    node: str
    labels: Mapping[str, str] = field(default_factory=dict)
    local_addresses: frozenset[str] = frozenset()  # every address on any interface (compressed text)
    default_interfaces: Mapping[Family, str] = field(default_factory=dict)  # interface of the default route
    vip_pools: tuple[Network, ...] = ()  # addresses kube-lvs may claim; empty: no restriction
    subnets: tuple[tuple[Network, str], ...] = ()  # (network, interface) each link reaches directly

    def interface_towards(self, address: str) -> str | None:
        """The interface whose subnet holds ``address`` (longest prefix wins), if any."""
        ip = ipaddress.ip_address(address)
        matches = [(net.prefixlen, name) for net, name in self.subnets if net.version == ip.version and ip in net]
        return max(matches)[1] if matches else None


@dataclass(frozen=True, order=True)
class Skip:
    """Why (part of) an object is not in this node's state: ``VirtualServer default/web: ...``."""

    obj: str
    reason: str

    def __str__(self) -> str:
        return f"{self.obj}: {self.reason}"
