"""The mutable accumulator the role planners fill, turned into one frozen NodeState at the end."""

from __future__ import annotations

from dataclasses import dataclass, field

from kubelvs.netstate import (
    Address,
    AddressKey,
    Destination,
    DestKey,
    Family,
    FwmarkRule,
    NodeState,
    PolicyRoute,
    Proto,
    Service,
    ServiceKey,
    SnatRule,
    Sysctl,
)
from kubelvs.planner.facts import Skip


@dataclass
class Parts:
    services: dict[ServiceKey, Service] = field(default_factory=dict)
    destinations: dict[DestKey, Destination] = field(default_factory=dict)
    addresses: dict[AddressKey, Address] = field(default_factory=dict)
    sysctls: dict[str, Sysctl] = field(default_factory=dict)
    tunnel: bool = False
    policy_routes: dict[tuple[Family, str, Proto, int], PolicyRoute] = field(default_factory=dict)
    fwmark_rules: dict[int, FwmarkRule] = field(default_factory=dict)
    snat_rules: dict[SnatRule, SnatRule] = field(default_factory=dict)
    skipped: list[Skip] = field(default_factory=list)

    def address(self, interface: str, address: str, prefixlen: int) -> None:
        key = AddressKey(interface, address, prefixlen)
        self.addresses[key] = Address(key)

    def sysctl(self, path: str, value: str) -> None:
        self.sysctls[path] = Sysctl(path, value)

    def state(self) -> NodeState:
        return NodeState(
            services=dict(sorted(self.services.items())),
            destinations=dict(sorted(self.destinations.items())),
            addresses=dict(sorted(self.addresses.items())),
            sysctls=dict(sorted(self.sysctls.items())),
            tunnel=self.tunnel,
            policy_routes=dict(sorted(self.policy_routes.items())),
            fwmark_rules=dict(sorted(self.fwmark_rules.items())),
            snat_rules=dict(sorted(self.snat_rules.items())),
        )
