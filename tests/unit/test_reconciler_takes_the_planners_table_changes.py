"""An incremental pass takes the planner's word for what changed in the IPVS tables when that word is against
the state it last applied, and diffs the tables itself when it is not (a pass failed, or a plan from elsewhere)."""

from __future__ import annotations

from reconciling import Node

from kubelvs.netstate import (
    AddDestination,
    DeleteDestination,
    Destination,
    DestKey,
    Family,
    Fwd,
    NodeState,
    Proto,
    Service,
    ServiceKey,
    TableChanges,
)

WEB = ServiceKey(Family.INET, Proto.TCP, "192.0.2.1", 80)


def dest(last_octet: int) -> Destination:
    return Destination(DestKey(WEB, f"10.0.0.{last_octet}", 8080), Fwd.DROUTE)


def state(*octets: int) -> NodeState:
    return NodeState(services={WEB: Service(WEB, "rr")}, destinations={dest(o).key: dest(o) for o in octets})


def test_the_planners_changes_are_the_ops_when_they_are_against_the_applied_state() -> None:
    node = Node.new()
    reconciler = node.reconciler()
    first = state(1, 2)
    assert not reconciler.reconcile(first).errors
    node.ipvs.applied.clear()
    second = state(2, 3)
    changes = TableChanges(first, destinations=([dest(3)], {dest(1).key}))
    assert not reconciler.update(second, changes).errors
    assert node.ipvs.applied == [AddDestination(dest(3)), DeleteDestination(dest(1).key)]
    # what the planner says is what is written: the tables are not diffed again
    third = state(2, 3, 4)
    node.ipvs.applied.clear()
    assert not reconciler.update(third, TableChanges(second)).errors
    assert node.ipvs.applied == []


def test_changes_against_another_state_are_not_taken() -> None:
    node = Node.new()
    reconciler = node.reconciler()
    first = state(1, 2)
    assert not reconciler.reconcile(first).errors
    node.ipvs.applied.clear()
    elsewhere = state(1)  # not what this reconciler applied
    assert not reconciler.update(state(2, 3), TableChanges(elsewhere)).errors
    assert node.ipvs.applied == [AddDestination(dest(3)), DeleteDestination(dest(1).key)]
