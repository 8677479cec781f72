"""A reconciler wired to in-memory fakes, with the fakes at hand for assertions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fakes import (
    FakeAddresses,
    FakeAnnouncements,
    FakeIpvs,
    FakePacketRules,
    FakePolicyRoutes,
    FakeSysctls,
    FakeTunnel,
)

from kubelvs.agent.announcer import Announcer
from kubelvs.agent.draining import Drainer
from kubelvs.agent.ownership import Store
from kubelvs.agent.reconciler import Kernel, Reconciler
from kubelvs.planner.facts import Network

SYSCTL_DEFAULTS = {
    "net/ipv4/ip_forward": "0",
    "net/ipv4/vs/conntrack": "0",
    "net/ipv4/conf/all/arp_ignore": "0",
    "net/ipv4/conf/all/arp_announce": "0",
    "net/ipv4/conf/lo/arp_ignore": "0",
    "net/ipv4/conf/lo/arp_announce": "0",
    "net/ipv4/conf/all/rp_filter": "2",
}


@dataclass
class Node:
    ipvs: FakeIpvs
    addresses: FakeAddresses
    sysctls: FakeSysctls
    tunnel: FakeTunnel
    routes: FakePolicyRoutes
    rules: FakePacketRules
    announcements: FakeAnnouncements

    @classmethod
    def new(cls) -> Node:
        return cls(
            FakeIpvs(),
            FakeAddresses(),
            FakeSysctls(SYSCTL_DEFAULTS),
            FakeTunnel(),
            FakePolicyRoutes(),
            FakePacketRules(),
            FakeAnnouncements(),
        )

    def kernel(self) -> Kernel:
        return Kernel(
            self.ipvs, self.addresses, self.sysctls, self.tunnel, self.routes, self.rules, self.announcements
        )

    def reconciler(
        self,
        state_file: Path | None = None,
        pools: tuple[Network, ...] = (),
        drainer: Drainer | None = None,
        announcer: Announcer | None = None,
    ) -> Reconciler:
        return Reconciler(self.kernel(), Store(state_file), drainer or Drainer(300.0), pools, announcer)
