"""Addresses from VIPPools: automatic, requested, shared under a key, per family, with selectors; exhaustion
and recovery; and the same answer again from what the Services' statuses hold (a restarted operator)."""

from __future__ import annotations

import ipaddress
from typing import Any

from lb_objects import pool, service

from kubelvs.loadbalancer import passes
from kubelvs.loadbalancer.allocator import Allocation, allocate, usable
from kubelvs.loadbalancer.requests import read


def run(
    *services: dict[str, Any],
    pools: tuple[dict[str, Any], ...],
    namespaces: dict[str, dict[str, str]] | None = None,
) -> Allocation:
    parsed, _ = passes._pools({p["metadata"]["name"]: p for p in pools})
    kept, _ = usable(parsed)
    return allocate([read(s) for s in services], kept, namespaces or {})


def addresses(allocation: Allocation, name: str, namespace: str = "default") -> list[str]:
    return [a.compressed for a in allocation.addresses.get(f"{namespace}/{name}", ())]


PUBLIC = pool("public", "192.0.2.0/30", "2001:db8::/126")


def test_services_get_the_first_free_addresses_oldest_first() -> None:
    got = run(service("b", created="2026-01-02T00:00:00Z"), service("a"), pools=(PUBLIC,))
    assert addresses(got, "a") == ["192.0.2.0"]
    assert addresses(got, "b") == ["192.0.2.1"]


def test_a_requested_address_is_given_and_never_taken_from_its_holder() -> None:
    got = run(
        service("old", ingress=("192.0.2.2",)),
        service("new", created="2026-02-01T00:00:00Z", annotations={"lvs.kubelvs.io/address": "192.0.2.2"}),
        service("legacy", created="2026-03-01T00:00:00Z", loadBalancerIP="192.0.2.3"),
        pools=(PUBLIC,),
    )
    assert addresses(got, "old") == ["192.0.2.2"]
    assert addresses(got, "new") == []
    assert got.refusals["default/new"].reason == "AddressInUse"
    assert "default/old" in got.refusals["default/new"].message
    assert addresses(got, "legacy") == ["192.0.2.3"]


def test_an_address_of_no_pool_is_refused() -> None:
    got = run(service("web", annotations={"lvs.kubelvs.io/address": "198.51.100.1"}), pools=(PUBLIC,))
    assert got.refusals["default/web"].reason == "AddressOutsidePools"


def test_sharing_needs_one_key_one_namespace_and_disjoint_ports() -> None:
    key = {"lvs.kubelvs.io/sharing-key": "dns"}
    got = run(
        service("dns-udp", ("dns", 53, "UDP"), annotations=key),
        service("dns-tcp", ("dns", 53, "TCP"), annotations=key, created="2026-01-02T00:00:00Z"),
        service("dns-again", ("dns", 53, "UDP"), annotations=key, created="2026-01-03T00:00:00Z"),
        service(
            "other-ns", ("dns", 54, "UDP"), annotations=key, namespace="team-b", created="2026-01-04T00:00:00Z"
        ),
        service("no-key", 8080, created="2026-01-05T00:00:00Z"),
        pools=(PUBLIC,),
    )
    assert addresses(got, "dns-udp") == addresses(got, "dns-tcp") == ["192.0.2.0"]
    assert addresses(got, "dns-again") == ["192.0.2.1"]  # UDP 53 is taken on .0
    assert addresses(got, "other-ns", "team-b") == ["192.0.2.2"]
    assert addresses(got, "no-key") == ["192.0.2.3"]


def test_a_requested_shared_address_with_a_port_in_common_is_refused() -> None:
    key = {"lvs.kubelvs.io/sharing-key": "web"}
    got = run(
        service("a", 80, annotations=key, ingress=("192.0.2.1",)),
        service(
            "b", 80, annotations={**key, "lvs.kubelvs.io/address": "192.0.2.1"}, created="2026-01-02T00:00:00Z"
        ),
        pools=(PUBLIC,),
    )
    assert got.refusals["default/b"].reason == "AddressInUse"


def test_exhaustion_is_refused_and_recovers_when_an_address_frees() -> None:
    many = [service(f"s{i}", created=f"2026-01-0{i + 1}T00:00:00Z") for i in range(5)]
    got = run(*many, pools=(PUBLIC,))
    assert got.refusals["default/s4"].reason == "PoolExhausted"
    assert len(got.addresses) == 4
    held = [
        service(f"s{i}", created=f"2026-01-0{i + 1}T00:00:00Z", ingress=tuple(addresses(got, f"s{i}")))
        for i in range(5)
    ]
    again = run(*held[1:], pools=(PUBLIC,))  # s0 is deleted: its address goes to the one that waited
    assert addresses(again, "s4") == ["192.0.2.0"]
    assert [addresses(again, f"s{i}") for i in range(1, 4)] == [["192.0.2.1"], ["192.0.2.2"], ["192.0.2.3"]]


def test_dual_stack_gets_one_address_of_each_family() -> None:
    got = run(service("web", families=("IPv6", "IPv4"), policy="RequireDualStack"), pools=(PUBLIC,))
    assert addresses(got, "web") == ["2001:db8::", "192.0.2.0"]
    v4_only = pool("v4", "192.0.2.0/30")
    assert addresses(
        run(service("web", families=("IPv4", "IPv6"), policy="PreferDualStack"), pools=(v4_only,)), "web"
    ) == ["192.0.2.0"]
    required = run(service("web", families=("IPv4", "IPv6"), policy="RequireDualStack"), pools=(v4_only,))
    assert addresses(required, "web") == []
    assert required.refusals["default/web"].reason == "NoPool"
    assert addresses(run(service("web", families=("IPv4", "IPv6")), pools=(PUBLIC,)), "web") == ["192.0.2.0"]


def test_selectors_and_auto_assign_choose_the_pool() -> None:
    edge = pool("edge", "198.51.100.0/30", serviceSelector={"matchLabels": {"tier": "edge"}})
    team = pool(
        "team", "203.0.113.0/30", namespaceSelector={"matchExpressions": [{"key": "lb", "operator": "Exists"}]}
    )
    manual = pool("manual", "192.0.2.0/30", autoAssign=False)
    pools = (edge, team, manual)
    namespaces = {"allowed": {"lb": "yes"}}
    got = run(
        service("front", labels={"tier": "edge"}),
        service("app", namespace="allowed"),
        service("plain"),
        service("picked", annotations={"lvs.kubelvs.io/pool": "manual"}),
        service("metallb", annotations={"metallb.io/address-pool": "manual"}, created="2026-01-02T00:00:00Z"),
        pools=pools,
        namespaces=namespaces,
    )
    assert addresses(got, "front") == ["198.51.100.0"]
    assert addresses(got, "app", "allowed") == ["203.0.113.0"]
    assert got.refusals["default/plain"].reason == "NoPool"
    assert addresses(got, "picked") == ["192.0.2.0"]
    assert addresses(got, "metallb") == ["192.0.2.1"]


def test_an_overlapping_pool_is_refused_and_the_older_keeps_its_addresses() -> None:
    parsed, _ = passes._pools(
        {"a": pool("a", "192.0.2.0/24"), "b": pool("b", "192.0.2.128-192.0.2.130", created="2026-02-01T00:00:00Z")}
    )
    kept, refused = usable(parsed)
    assert [p.name for p in kept] == ["a"]
    assert refused["b"] == "192.0.2.128-192.0.2.130 overlaps 192.0.2.0-192.0.2.255 of the older VIPPool a"


def test_restart_derives_the_same_allocation_from_the_statuses() -> None:
    key = {"lvs.kubelvs.io/sharing-key": "k"}
    first_round = [
        service("a", 80, annotations=key),
        service("b", 443, annotations=key, created="2026-01-02T00:00:00Z"),
        service("c", created="2026-01-03T00:00:00Z", families=("IPv4", "IPv6"), policy="PreferDualStack"),
    ]
    first = run(*first_round, pools=(PUBLIC,))
    recorded = [
        service(
            s["metadata"]["name"],
            *(p["port"] for p in s["spec"]["ports"]),
            annotations=s["metadata"]["annotations"],
            created=s["metadata"]["creationTimestamp"],
            families=tuple(s["spec"]["ipFamilies"]),
            policy=s["spec"]["ipFamilyPolicy"],
            ingress=tuple(addresses(first, s["metadata"]["name"])),
        )
        for s in first_round
    ]
    # a newer Service asks for c's address: the restarted operator still gives c its own
    newcomer = service(
        "d", created="2026-01-04T00:00:00Z", annotations={"lvs.kubelvs.io/address": addresses(first, "c")[0]}
    )
    second = run(newcomer, *reversed(recorded), pools=(PUBLIC,))
    for name in "abc":
        assert addresses(second, name) == addresses(first, name)
    assert second.refusals["default/d"].reason == "AddressInUse"


def test_a_huge_ipv6_pool_is_never_walked() -> None:
    huge = pool("huge", "2001:db8::/64")
    many = [service(f"s{i}", families=("IPv6",), created=f"2026-01-01T00:00:{i:02d}Z") for i in range(50)]
    got = run(*many, pools=(huge,))  # a walk of the 2^64 addresses would never end
    assert len(got.addresses) == 50
    assert max(int(a[0]) for a in got.addresses.values()) == int(ipaddress.ip_address("2001:db8::31"))
    counts = got.counts(usable(passes._pools({"huge": huge})[0])[0][0])
    assert counts["allocatedIPv6"] == 50 and counts["availableIPv6"] == 2**63 - 1
