"""NAT destinations that come and go change SNAT set elements alone: the new ones before IPVS schedules to
them, the old ones after IPVS let go of them; anything else about the table writes it whole."""

from __future__ import annotations

from collections.abc import Sequence

from fakes import FakeIpvs, FakePacketRules
from reconciling import Node

from kubelvs.netstate import (
    AddDestination,
    DeleteDestination,
    Destination,
    DestKey,
    Family,
    Fwd,
    FwmarkRule,
    IpvsOp,
    NodeState,
    Proto,
    Service,
    ServiceKey,
    SnatRule,
)

WEB = ServiceKey(Family.INET, Proto.TCP, "192.0.2.100", 80)


class Timeline:
    """IPVS ops and SNAT changes in the order the kernel saw them."""

    def __init__(self) -> None:
        self.events: list[str] = []


class TimedIpvs(FakeIpvs):
    def __init__(self, timeline: Timeline) -> None:
        super().__init__()
        self.timeline = timeline

    def apply(self, ops: Sequence[IpvsOp]) -> list[str | None]:
        for op in ops:
            if isinstance(op, AddDestination):
                self.timeline.events.append(f"ipvs add {op.destination.key.address}")
            elif isinstance(op, DeleteDestination):
                self.timeline.events.append(f"ipvs delete {op.key.address}")
        return super().apply(ops)


class TimedRules(FakePacketRules):
    def __init__(self, timeline: Timeline) -> None:
        super().__init__()
        self.timeline = timeline

    def change_snats(self, add: Sequence[SnatRule], remove: Sequence[SnatRule]) -> None:
        super().change_snats(add, remove)
        self.timeline.events += [f"snat add {r.destination}" for r in add]
        self.timeline.events += [f"snat remove {r.destination}" for r in remove]


def snat(address: str) -> SnatRule:
    return SnatRule(Family.INET, address, Proto.TCP, 8080, WEB.address)


def state(*addresses: str, marks: Sequence[FwmarkRule] = ()) -> NodeState:
    dests = [Destination(DestKey(WEB, a, 8080), Fwd.MASQ) for a in addresses]
    return NodeState(
        services={WEB: Service(WEB, "rr")},
        destinations={d.key: d for d in dests},
        fwmark_rules={m.mark: m for m in marks},
        snat_rules={snat(a): snat(a) for a in addresses},
    )


def node() -> tuple[Node, Timeline]:
    timeline = Timeline()
    made = Node.new()
    made.ipvs, made.rules = TimedIpvs(timeline), TimedRules(timeline)
    return made, timeline


def test_a_replaced_endpoint_adds_its_element_first_and_removes_the_old_last() -> None:
    made, timeline = node()
    reconciler = made.reconciler()
    assert not reconciler.reconcile(state("10.1.0.1", "10.1.0.2")).errors
    assert made.rules.writes == 1  # the table, made whole once
    timeline.events.clear()
    outcome = reconciler.update(state("10.1.0.2", "10.1.0.3"))
    assert not outcome.errors, outcome.errors
    assert timeline.events == [
        "snat add 10.1.0.3",
        "ipvs add 10.1.0.3",
        "ipvs delete 10.1.0.1",
        "snat remove 10.1.0.1",
    ]
    assert made.rules.writes == 1 and made.rules.element_writes == 2, "no table rewrite for a set change"
    assert made.rules.snats == {snat("10.1.0.2"), snat("10.1.0.3")}
    assert outcome.writes["rules.snat_elements"] == 2 and "rules.replace" not in outcome.writes


def test_a_mark_change_or_a_first_rule_writes_the_table_whole() -> None:
    made, _ = node()
    reconciler = made.reconciler()
    reconciler.reconcile(NodeState(services={WEB: Service(WEB, "rr")}))
    reconciler.update(state("10.1.0.1"))  # no table yet: its sets are made with it
    assert (made.rules.writes, made.rules.element_writes) == (1, 0)
    mark = FwmarkRule(7, Family.INET, "192.0.2.7", Proto.TCP, (443,))
    reconciler.update(state("10.1.0.1", "10.1.0.2", marks=[mark]))
    assert (made.rules.writes, made.rules.element_writes) == (3, 0), "adding first, then the table as wanted"
    assert made.rules.marks == {mark} and made.rules.snats == {snat("10.1.0.1"), snat("10.1.0.2")}
    reconciler.update(NodeState(services={WEB: Service(WEB, "rr")}))
    assert made.rules.snats == set() and made.rules.marks == set(), "nothing left: the table goes"


def test_an_element_gone_from_the_kernel_makes_a_full_pass_that_repairs_it() -> None:
    made, _ = node()
    reconciler = made.reconciler()
    reconciler.reconcile(state("10.1.0.1", "10.1.0.2"))
    made.rules.snats.discard(snat("10.1.0.1"))  # removed by hand: deleting it again fails
    outcome = reconciler.update(state("10.1.0.2"))
    assert any("nftables SNAT set" in obj for obj, _ in outcome.errors), outcome.errors
    assert made.rules.snats == {snat("10.1.0.2")}
    assert set(made.ipvs.dests) == {DestKey(WEB, "10.1.0.2", 8080)}
