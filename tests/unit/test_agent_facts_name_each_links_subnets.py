"""Node facts gathered through the address gateway: each link's subnets, IPv4 and IPv6 side by side."""

from __future__ import annotations

import ipaddress

from fakes import FakeAddresses

from kubelvs.agent import facts
from kubelvs.netstate import AddressKey


def test_subnets_of_both_families_and_no_host_addresses() -> None:
    addresses = FakeAddresses(("lo", "eth0", "eth1"))
    addresses.present |= {
        AddressKey("eth0", "192.0.2.2", 24),
        AddressKey("eth0", "fe80::1", 64),  # every IPv6 link has one: sorting must not mix families
        AddressKey("eth1", "10.9.0.2", 24),
        AddressKey("eth1", "10.9.0.100", 32),  # a bound gateway or VIP reaches nothing
    }
    gathered = facts.gather(addresses, "dir-a", {})
    assert set(gathered.subnets) == {
        (ipaddress.ip_network("127.0.0.0/8"), "lo"),
        (ipaddress.ip_network("192.0.2.0/24"), "eth0"),
        (ipaddress.ip_network("fe80::/64"), "eth0"),
        (ipaddress.ip_network("10.9.0.0/24"), "eth1"),
    }
    assert gathered.interface_towards("10.9.0.254") == "eth1"
    assert gathered.interface_towards("fe80::9") == "eth0"
    assert gathered.interface_towards("198.51.100.1") is None
