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
    tunnel6: bool = False
    policy_routes: dict[tuple[Family, str, Proto, int], PolicyRoute] = field(default_factory=dict)
    fwmark_rules: dict[int, FwmarkRule] = field(default_factory=dict)
    snat_rules: dict[SnatRule, SnatRule] = field(default_factory=dict)
    skipped: list[Skip] = field(default_factory=list)

    def address(self, interface: str, address: str, prefixlen: int) -> None:
        key = AddressKey(interface, address, prefixlen)
        self.addresses[key] = Address(key)

    def sysctl(self, path: str, value: str) -> None:
        self.sysctls[path] = Sysctl(path, value)

    def merge(self, other: Parts, tables: bool = True) -> None:
        """Add ``other``'s parts; on equal keys ``other`` wins, as if its role had been planned last.
        ``tables=False`` leaves out its services, destinations and masquerades (kept merged elsewhere:
        :mod:`kubelvs.planner.tables`)."""
        if tables:
            self.services.update(other.services)
            self.destinations.update(other.destinations)
            self.snat_rules.update(other.snat_rules)
        self.addresses.update(other.addresses)
        self.sysctls.update(other.sysctls)
        self.tunnel = self.tunnel or other.tunnel
        self.tunnel6 = self.tunnel6 or other.tunnel6
        self.policy_routes.update(other.policy_routes)
        self.fwmark_rules.update(other.fwmark_rules)
        self.skipped.extend(other.skipped)

    def sort(self) -> None:
        """Order every map by key (stable output for people and tests; the reconciler does not need it)."""
        self.services = dict(sorted(self.services.items(), key=_service_order))
        self.destinations = dict(sorted(self.destinations.items(), key=_destination_order))
        self.addresses = dict(sorted(self.addresses.items()))
        self.sysctls = dict(sorted(self.sysctls.items()))
        self.policy_routes = dict(sorted(self.policy_routes.items()))
        self.fwmark_rules = dict(sorted(self.fwmark_rules.items()))
        self.snat_rules = dict(sorted(self.snat_rules.items()))

    def state(self) -> NodeState:
        return NodeState(
            services=self.services,
            destinations=self.destinations,
            addresses=self.addresses,
            sysctls=self.sysctls,
            tunnel=self.tunnel,
            tunnel6=self.tunnel6,
            policy_routes=self.policy_routes,
            fwmark_rules=self.fwmark_rules,
            snat_rules=self.snat_rules,
        )


# Plain tuples in the keys' field order: the same order as comparing the dataclasses, without their
# Python-level __lt__, which dominated a full plan's sort.
def _service_order(item: tuple[ServiceKey, Service]) -> tuple[int, int, str, int, int]:
    key = item[0]
    return (key.family, key.protocol, key.address, key.port, key.fwmark)


def _destination_order(item: tuple[DestKey, Destination]) -> tuple[int, int, str, int, int, str, int]:
    key, service = item[0], item[0].service
    return (service.family, service.protocol, service.address, service.port, service.fwmark, key.address, key.port)
