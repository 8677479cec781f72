"""One failing write is reported against its object; every other write of the pass still happens."""

from __future__ import annotations

from reconciling import Node

from kubelvs.netstate import (
    Address,
    AddressKey,
    Destination,
    DestKey,
    Family,
    Fwd,
    NodeState,
    Proto,
    Service,
    ServiceKey,
    Sysctl,
)

WEB = ServiceKey(Family.INET, Proto.TCP, "192.0.2.100", 80)
API = ServiceKey(Family.INET, Proto.TCP, "192.0.2.101", 443)


def test_a_refused_service_does_not_block_the_others():
    node = Node.new()
    node.ipvs.fail.add(WEB)
    dests = [Destination(DestKey(s, "10.9.0.11", s.port), Fwd.DROUTE) for s in (WEB, API)]
    outcome = node.reconciler().reconcile(
        NodeState(services={WEB: Service(WEB), API: Service(API)}, destinations={d.key: d for d in dests})
    )
    assert set(node.ipvs.table) == {API}
    assert set(node.ipvs.dests) == {dests[1].key}
    assert [obj for obj, _ in outcome.errors] == [f"service {WEB}", f"destination {dests[0].key}"]
    assert "Invalid argument" in outcome.errors[0][1]


def test_a_missing_sysctl_or_interface_is_reported_and_the_rest_applied():
    node = Node.new()
    bad_address = AddressKey("nope0", "192.0.2.100", 32)
    good_address = AddressKey("lo", "192.0.2.101", 32)
    outcome = node.reconciler().reconcile(
        NodeState(
            addresses={bad_address: Address(bad_address), good_address: Address(good_address)},
            sysctls={
                "net/ipv4/conf/tunl0/rp_filter": Sysctl("net/ipv4/conf/tunl0/rp_filter", "0"),
                "net/ipv4/ip_forward": Sysctl("net/ipv4/ip_forward", "1"),
            },
        )
    )
    assert good_address in node.addresses.present
    assert node.sysctls.values["net/ipv4/ip_forward"] == "1"
    assert {obj for obj, _ in outcome.errors} == {
        "address 192.0.2.100/32 on nope0",
        "sysctl net/ipv4/conf/tunl0/rp_filter",
    }
