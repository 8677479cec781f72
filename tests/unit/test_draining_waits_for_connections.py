"""A removed real server keeps its connections: weight 0 first, deletion when they end or time runs out."""

from __future__ import annotations

import pytest
from reconciling import Node

from kubelvs.agent.draining import Drainer
from kubelvs.netstate import (
    DeleteDestination,
    Destination,
    DestKey,
    EditDestination,
    Family,
    Fwd,
    NodeState,
    Proto,
    Service,
    ServiceKey,
)

TCP = ServiceKey(Family.INET, Proto.TCP, "192.0.2.100", 80)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def two(service: ServiceKey) -> NodeState:
    dests = [Destination(DestKey(service, a, service.port), Fwd.MASQ) for a in ("10.9.0.11", "10.9.0.12")]
    return NodeState(services={service: Service(service)}, destinations={d.key: d for d in dests})


def one(service: ServiceKey) -> NodeState:
    d = Destination(DestKey(service, "10.9.0.11", service.port), Fwd.MASQ)
    return NodeState(services={service: Service(service)}, destinations={d.key: d})


def test_a_busy_destination_is_quiesced_then_deleted_when_idle():
    node, clock = Node.new(), Clock()
    reconciler = node.reconciler(drainer=Drainer(300.0, clock))
    reconciler.reconcile(two(TCP))
    gone = DestKey(TCP, "10.9.0.12", 80)
    node.ipvs.active[gone] = 4
    node.ipvs.applied.clear()
    outcome = reconciler.reconcile(one(TCP))
    assert node.ipvs.applied == [EditDestination(Destination(gone, Fwd.MASQ, weight=0))]
    assert outcome.draining == 1
    node.ipvs.applied.clear()
    assert reconciler.reconcile(one(TCP)).total_writes == 0  # still busy: nothing to do
    node.ipvs.active[gone] = 0
    outcome = reconciler.reconcile(one(TCP))
    assert node.ipvs.applied == [DeleteDestination(gone)]
    assert outcome.draining == 0


def test_a_drain_that_outlasts_the_timeout_is_cut():
    node, clock = Node.new(), Clock()
    reconciler = node.reconciler(drainer=Drainer(300.0, clock))
    reconciler.reconcile(two(TCP))
    gone = DestKey(TCP, "10.9.0.12", 80)
    node.ipvs.active[gone] = 4
    reconciler.reconcile(one(TCP))
    clock.now += 299
    node.ipvs.applied.clear()
    reconciler.reconcile(one(TCP))
    assert node.ipvs.applied == []
    clock.now += 1
    reconciler.reconcile(one(TCP))
    assert node.ipvs.applied == [DeleteDestination(gone)]


@pytest.mark.parametrize(
    "protocol",
    [pytest.param(Proto.UDP, id="udp"), pytest.param(Proto.SCTP, id="sctp")],
)
def test_connectionless_protocols_skip_draining(protocol):
    service = ServiceKey(Family.INET, protocol, "192.0.2.100", 53)
    node = Node.new()
    reconciler = node.reconciler()
    reconciler.reconcile(two(service))
    gone = DestKey(service, "10.9.0.12", 53)
    node.ipvs.active[gone] = 4
    node.ipvs.applied.clear()
    reconciler.reconcile(one(service))
    assert node.ipvs.applied == [DeleteDestination(gone)]


def test_a_draining_destination_that_comes_back_gets_its_weight_again():
    node = Node.new()
    reconciler = node.reconciler()
    reconciler.reconcile(two(TCP))
    gone = DestKey(TCP, "10.9.0.12", 80)
    node.ipvs.active[gone] = 4
    reconciler.reconcile(one(TCP))
    assert node.ipvs.dests[gone].weight == 0
    outcome = reconciler.reconcile(two(TCP))
    assert node.ipvs.dests[gone].weight == 1
    assert outcome.draining == 0


def test_removing_a_whole_service_skips_draining():
    node = Node.new()
    reconciler = node.reconciler()
    reconciler.reconcile(two(TCP))
    node.ipvs.active[DestKey(TCP, "10.9.0.12", 80)] = 4
    reconciler.reconcile(NodeState())
    assert node.ipvs.table == {} and node.ipvs.dests == {}
