"""Addresses: VIPs go on and off interfaces idempotently, and a moved VIP is announced to its neighbours."""

from __future__ import annotations

import socket
import time

import pytest
from netns import LvsTopology, Namespace, Netns

from kubelvs.agent.announcer import Announcer
from kubelvs.kernel.addresses import InterfaceNotFound, NetlinkAddresses
from kubelvs.kernel.arp import RawAnnouncements
from kubelvs.netstate import AddressKey
from kubelvs.testbed.namespaces import inside


def mac(ns: Namespace, device: str) -> str:
    return ns.ip("-br", "link", "show", device).stdout.split()[2]


def neighbour(ns: Namespace, address: str) -> str:
    """The lladdr ``ns`` caches for ``address`` ("" if none)."""
    words = ns.ip("neigh", "show", address).stdout.split()
    return words[words.index("lladdr") + 1] if "lladdr" in words else ""


def wait_for(predicate, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(AddressKey("lo", "192.0.2.100", 32), id="v4-vip-on-lo"),
        pytest.param(AddressKey("lo", "2001:db8:1::100", 128), id="v6-vip-on-lo"),
        pytest.param(AddressKey("eth0", "192.0.2.100", 24), id="v4-vip-on-eth0"),
        pytest.param(AddressKey("eth0", "2001:db8:1::100", 64), id="v6-vip-on-eth0"),
    ],
)
def test_add_and_remove_are_idempotent(netns: Netns, key: AddressKey) -> None:
    node, peer = netns.namespace("node"), netns.namespace("peer")
    netns.veth(node, "eth0", peer, "eth0")
    addresses = NetlinkAddresses()
    with inside("node"):
        before = addresses.list(["lo", "eth0"])
        with addresses.batch() as batch:
            assert batch.add(key)
            assert not batch.add(key)  # again: fine
        added = addresses.list(["lo", "eth0"])
        local = addresses.local_addresses()
        with addresses.batch() as batch:
            assert batch.remove(key)
            assert not batch.remove(key)  # again: fine
        after = addresses.list(["lo", "eth0"])

    assert key not in before
    assert added == before | {key}
    assert key.address in local
    assert after == before
    shown = node.ip("addr", "show", "dev", key.interface).stdout
    assert f"{key.address}/{key.prefixlen}" not in shown


def test_ipv6_vip_is_usable_at_once_without_dad(netns: Netns) -> None:
    node, peer = netns.namespace("node"), netns.namespace("peer")
    netns.veth(node, "eth0", peer, "eth0")
    with inside("node"), NetlinkAddresses().batch() as batch:
        batch.add(AddressKey("eth0", "2001:db8:1::100", 64))
    (line,) = [
        line for line in node.ip("-6", "-o", "addr", "show", "dev", "eth0").stdout.splitlines() if "::100/" in line
    ]
    assert "2001:db8:1::100/64" in line
    assert "tentative" not in line


def test_missing_interface_is_a_clear_error_and_lists_empty(netns: Netns) -> None:
    netns.namespace("node")
    addresses = NetlinkAddresses()
    with inside("node"):
        with addresses.batch() as batch, pytest.raises(InterfaceNotFound, match="no interface 'tunl9'"):
            batch.add(AddressKey("tunl9", "192.0.2.100", 32))
        assert addresses.list(["tunl9"]) == set()
        with addresses.batch() as batch:
            assert not batch.remove(AddressKey("tunl9", "192.0.2.100", 32))  # nothing to remove: fine


def test_default_interface_follows_the_lowest_metric_default_route(netns: Netns) -> None:
    node = netns.namespace("node")
    for device, peer in (("eth0", "p0"), ("eth1", "p1")):
        other = netns.namespace(peer)
        netns.veth(node, device, other, "eth0")
    node.address("eth0", "10.9.0.2/24")
    node.address("eth1", "10.8.0.2/24")
    node.address("eth1", "2001:db8:8::2/64")
    node.ip("route", "add", "default", "via", "10.9.0.1", "metric", "200")
    node.ip("route", "add", "default", "via", "10.8.0.1", "metric", "100")
    node.ip("-6", "route", "add", "default", "via", "2001:db8:8::1")
    addresses = NetlinkAddresses()
    with inside("node"):
        assert addresses.default_interface(socket.AF_INET) == "eth1"
        assert addresses.default_interface(socket.AF_INET6) == "eth1"
        assert addresses.local_addresses() >= {"127.0.0.1", "::1", "10.9.0.2", "10.8.0.2", "2001:db8:8::2"}
        subnets = addresses.subnets()  # where a NAT gateway goes by default: the link whose subnet holds it
        assert {("eth0", "10.9.0.0/24"), ("eth1", "10.8.0.0/24"), ("eth1", "2001:db8:8::/64")} <= subnets
        assert not {net for _, net in subnets if net.endswith(("/32", "/128"))}  # host addresses reach nothing
    with inside(netns.namespace("bare").name):
        assert addresses.default_interface(socket.AF_INET) is None


@pytest.mark.parametrize(
    "ipv6",
    [pytest.param(False, id="gratuitous-arp"), pytest.param(True, id="unsolicited-na")],
)
def test_failover_announcement_moves_the_clients_neighbour_entry(lvs_factory, ipv6: bool) -> None:
    lvs: LvsTopology = lvs_factory(directors=2, real_servers=0, ipv6=ipv6)
    vip, prefix = (lvs.vip6, 64) if ipv6 else (lvs.vip, 24)
    first, second = lvs.directors
    addresses = NetlinkAddresses()
    key = AddressKey("eth0", vip, prefix)
    with inside(first.name), addresses.batch() as batch:
        batch.add(key)
    first.udp_server(5353)
    assert lvs.client.udp_ask(vip, 5353) == ["dir1"]  # the client now caches the VIP at dir1's MAC
    assert neighbour(lvs.client, vip) == mac(first, "eth0")

    with inside(first.name), addresses.batch() as batch:
        batch.remove(key)
    with inside(second.name), addresses.batch() as batch:
        batch.add(key)
    # Without an announcement the client keeps the stale MAC (the control for what follows).
    assert neighbour(lvs.client, vip) == mac(first, "eth0")

    with inside(second.name):
        announcer = Announcer(RawAnnouncements())
        assert announcer.announce(key)  # the first announcement, as a pass sends it
        assert announcer.wait(timeout=30)  # and its repeats
    assert wait_for(lambda: neighbour(lvs.client, vip) == mac(second, "eth0"))


def test_announcing_skips_lo_and_names_a_missing_interface(netns: Netns) -> None:
    netns.namespace("node")
    announcer = Announcer(RawAnnouncements())
    with inside("node"):
        assert not announcer.announce(AddressKey("lo", "192.0.2.100", 32))  # lo has no Ethernet address
        with pytest.raises(LookupError, match="'nope'"):
            announcer.announce(AddressKey("nope", "192.0.2.100", 32))
    assert announcer.wait(timeout=0)  # nothing was scheduled
