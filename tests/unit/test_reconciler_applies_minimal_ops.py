"""The reconciler reads the kernel, diffs, and writes only what differs, in a safe order."""

from __future__ import annotations

import dataclasses

import pytest
from reconciling import Node

from kubelvs.netstate import (
    AddDestination,
    Address,
    AddressKey,
    AddService,
    DeleteDestination,
    DeleteService,
    Destination,
    DestKey,
    EditDestination,
    EditService,
    Family,
    Fwd,
    FwmarkRule,
    NodeState,
    PolicyRoute,
    Proto,
    Service,
    ServiceKey,
    SnatRule,
    SvcFlag,
    Sysctl,
)

WEB = ServiceKey(Family.INET, Proto.TCP, "192.0.2.100", 80)
DNS = ServiceKey(Family.INET, Proto.UDP, "192.0.2.100", 53)


def dest(service: ServiceKey, address: str, weight: int = 1, port: int = 80) -> Destination:
    return Destination(DestKey(service, address, port), Fwd.MASQ, weight)


def state(*dests: Destination, services: tuple[Service, ...] = (Service(WEB, "rr"),), **extra) -> NodeState:
    return NodeState(
        services={s.key: s for s in services},
        destinations={d.key: d for d in dests},
        **extra,
    )


FULL = state(
    dest(WEB, "10.9.0.11"),
    dest(WEB, "10.9.0.12"),
    addresses={AddressKey("eth0", "192.0.2.100", 32): Address(AddressKey("eth0", "192.0.2.100", 32))},
    sysctls={"net/ipv4/ip_forward": Sysctl("net/ipv4/ip_forward", "1")},
    tunnel=True,
    policy_routes={r.key: r for r in [PolicyRoute(Family.INET, "10.9.0.11", Proto.TCP, 8080, "10.9.0.254", 2001)]},
    fwmark_rules={7: FwmarkRule(7, Family.INET, "192.0.2.100", Proto.TCP, (80, 443))},
    snat_rules={s: s for s in [SnatRule(Family.INET, "10.9.0.11", Proto.TCP, 8080, "192.0.2.100")]},
)


def test_first_pass_adds_services_before_their_destinations():
    node = Node.new()
    outcome = node.reconciler().reconcile(state(dest(WEB, "10.9.0.11"), dest(WEB, "10.9.0.12")))
    assert node.ipvs.applied == [
        AddService(Service(WEB, "rr")),
        AddDestination(dest(WEB, "10.9.0.11")),
        AddDestination(dest(WEB, "10.9.0.12")),
    ]
    assert outcome.writes == {"ipvs.add_service": 1, "ipvs.add_destination": 2}
    assert not outcome.errors


def test_second_pass_over_the_same_state_writes_nothing():
    node = Node.new()
    reconciler = node.reconciler()
    first = reconciler.reconcile(FULL)
    assert first.total_writes > 0 and not first.errors
    second = reconciler.reconcile(FULL)
    assert second.total_writes == 0
    assert not second.errors


def test_a_fresh_reconciler_adopts_what_is_programmed_without_writing():
    node = Node.new()
    node.reconciler().reconcile(FULL)
    node.ipvs.applied.clear()
    outcome = node.reconciler().reconcile(FULL)  # a restarted agent: new reconciler, same kernel
    assert outcome.total_writes == 0
    assert node.ipvs.applied == []


def test_a_weight_change_is_one_edit():
    node = Node.new()
    reconciler = node.reconciler()
    reconciler.reconcile(state(dest(WEB, "10.9.0.11"), dest(WEB, "10.9.0.12")))
    node.ipvs.applied.clear()
    outcome = reconciler.reconcile(state(dest(WEB, "10.9.0.11", weight=3), dest(WEB, "10.9.0.12")))
    assert node.ipvs.applied == [EditDestination(dest(WEB, "10.9.0.11", weight=3))]
    assert outcome.total_writes == 1


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(Service(WEB, "wlc"), id="scheduler"),
        pytest.param(Service(WEB, "rr", SvcFlag.PERSISTENT, 300, 32), id="persistence-on"),
        pytest.param(Service(WEB, "sh", SvcFlag.SCHED1), id="scheduler-flags"),
    ],
)
def test_a_changed_service_is_one_edit(changed):
    node = Node.new()
    reconciler = node.reconciler()
    reconciler.reconcile(state(dest(WEB, "10.9.0.11")))
    node.ipvs.applied.clear()
    reconciler.reconcile(state(dest(WEB, "10.9.0.11"), services=(changed,)))
    assert node.ipvs.applied == [EditService(changed)]


def test_kernel_owned_flags_and_unused_persistence_values_are_no_difference():
    node = Node.new()
    reconciler = node.reconciler()
    reconciler.reconcile(state())
    # The kernel reports HASHED (the fake adds it) and may keep any timeout on a non-persistent service.
    node.ipvs.table[WEB] = dataclasses.replace(node.ipvs.table[WEB], timeout=0, netmask=0)
    node.ipvs.applied.clear()
    assert reconciler.reconcile(state()).total_writes == 0


def test_removed_objects_go_last_destinations_before_services():
    node = Node.new()
    reconciler = node.reconciler()
    reconciler.reconcile(
        state(
            dest(WEB, "10.9.0.11"),
            dest(WEB, "10.9.0.12"),
            dest(DNS, "10.9.0.11", port=53),
            services=(Service(WEB, "rr"), Service(DNS, "rr")),
        )
    )
    node.ipvs.applied.clear()
    reconciler.reconcile(state(dest(WEB, "10.9.0.11", weight=2)))
    assert node.ipvs.applied == [
        EditDestination(dest(WEB, "10.9.0.11", weight=2)),
        DeleteDestination(DestKey(WEB, "10.9.0.12", 80)),  # no connections: no need to drain
        DeleteService(DNS),  # the kernel drops its destinations with it
    ]


def test_every_facility_converges_and_empties_again():
    node = Node.new()
    reconciler = node.reconciler()
    reconciler.reconcile(FULL)
    assert AddressKey("eth0", "192.0.2.100", 32) in node.addresses.present
    assert node.announcements.sent[:1] == [("eth0", "192.0.2.100")]  # the first, at once
    assert node.sysctls.values["net/ipv4/ip_forward"] == "1"
    assert node.tunnel.up
    assert node.routes.routes == set(FULL.policy_routes.values())
    assert node.rules.marks == set(FULL.fwmark_rules.values())
    assert node.rules.snats == set(FULL.snat_rules)
    reconciler.reconcile(NodeState())
    assert node.ipvs.table == {}
    assert AddressKey("eth0", "192.0.2.100", 32) not in node.addresses.present
    assert node.sysctls.values["net/ipv4/ip_forward"] == "0"  # restored, not left at 1
    assert node.routes.routes == set()
    assert node.rules.current() == (set(), set())
    assert reconciler.reconcile(NodeState()).total_writes == 0


def test_backend_vips_on_lo_are_not_announced():
    node = Node.new()
    key = AddressKey("lo", "192.0.2.100", 32)
    node.reconciler().reconcile(NodeState(addresses={key: Address(key)}))
    assert key in node.addresses.present
    assert node.announcements.sent == []


def test_timeouts_are_written_only_when_they_differ():
    node = Node.new()
    reconciler = node.reconciler()
    from kubelvs.agent.reconciler import Outcome

    first, second = Outcome(), Outcome()
    reconciler.set_timeouts(60, 0, 0, first)
    reconciler.set_timeouts(60, 0, 0, second)
    assert node.ipvs.timeouts() == (60, 120, 300)
    assert (first.total_writes, second.total_writes) == (1, 0)
