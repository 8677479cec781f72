"""The incremental pass reads only the touched services, writes only the change, and falls back to a full pass."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence

import pytest
from fakes import FakeIpvs
from reconciling import Node

from kubelvs.agent.draining import Drainer
from kubelvs.agent.reconciler import Reconciler
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
    IpvsOp,
    NodeState,
    Proto,
    Service,
    ServiceKey,
)


class ReadCountingIpvs(FakeIpvs):
    """The fake kernel, also noting which services each destinations() call asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[list[ServiceKey]] = []
        self.service_reads = 0

    def services(self) -> dict[ServiceKey, Service]:
        self.service_reads += 1
        return super().services()

    def destinations(self, services: Sequence[ServiceKey]) -> dict[DestKey, Destination]:
        self.reads.append(list(services))
        return super().destinations(services)


def svc(index: int) -> ServiceKey:
    return ServiceKey(Family.INET, Proto.TCP, f"192.0.2.{index}", 80)


def table(services: int = 20, dests: int = 5, **weights: int) -> NodeState:
    """``services`` x ``dests``; ``weights`` overrides as ``s3d1=7``."""
    return NodeState(
        services={svc(s): Service(svc(s), "wrr") for s in range(services)},
        destinations={
            DestKey(svc(s), f"10.9.{s}.{d}", 80): Destination(
                DestKey(svc(s), f"10.9.{s}.{d}", 80), Fwd.DROUTE, weights.get(f"s{s}d{d}", 1)
            )
            for s in range(services)
            for d in range(dests)
        },
    )


def synced(state: NodeState, drain: float = 0.0) -> tuple[Node, ReadCountingIpvs, Reconciler]:
    node = Node.new()
    node.ipvs = ReadCountingIpvs()
    reconciler = node.reconciler(drainer=Drainer(drain))
    assert not reconciler.update(state).errors  # no applied state yet: a full pass
    node.ipvs.applied.clear()
    node.ipvs.reads.clear()
    node.ipvs.service_reads = 0
    return node, node.ipvs, reconciler


def kernel_of(ipvs: FakeIpvs) -> tuple[dict[ServiceKey, Service], dict[DestKey, Destination]]:
    return dict(ipvs.table), dict(ipvs.dests)


def test_one_weight_edit_is_one_write_after_one_read_of_its_service() -> None:
    _, ipvs, reconciler = synced(table())
    outcome = reconciler.update(table(s7d2=9))
    assert ipvs.applied == [EditDestination(table(s7d2=9).destinations[DestKey(svc(7), "10.9.7.2", 80)])]
    assert outcome.total_writes == 1 and not outcome.errors
    assert ipvs.reads == [[svc(7)]]
    assert ipvs.service_reads == 0


def test_the_same_state_again_reads_and_writes_nothing() -> None:
    _, ipvs, reconciler = synced(table())
    outcome = reconciler.update(table())
    assert (outcome.total_writes, ipvs.applied, ipvs.reads, ipvs.service_reads) == (0, [], [], 0)


ADDED = Service(svc(50), "rr")
NEW_DEST = Destination(DestKey(svc(50), "10.9.50.1", 80), Fwd.DROUTE, 3)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            lambda s: dataclasses.replace(
                s,
                services=s.services | {ADDED.key: ADDED},
                destinations=s.destinations | {NEW_DEST.key: NEW_DEST},
            ),
            [AddService(ADDED), AddDestination(NEW_DEST)],
            id="new-service-with-a-destination",
        ),
        pytest.param(
            lambda s: dataclasses.replace(
                s,
                destinations={k: d for k, d in s.destinations.items() if k != DestKey(svc(3), "10.9.3.4", 80)},
            ),
            [DeleteDestination(DestKey(svc(3), "10.9.3.4", 80))],
            id="removed-destination",
        ),
        pytest.param(
            lambda s: dataclasses.replace(
                s,
                services={k: v for k, v in s.services.items() if k != svc(4)},
                destinations={k: d for k, d in s.destinations.items() if k.service != svc(4)},
            ),
            [DeleteService(svc(4))],
            id="removed-service-takes-its-destinations",
        ),
        pytest.param(
            lambda s: dataclasses.replace(s, services=s.services | {svc(2): Service(svc(2), "lc")}),
            [EditService(Service(svc(2), "lc"))],
            id="scheduler-edit",
        ),
    ],
)
def test_changes_write_only_their_ops(change: Callable[[NodeState], NodeState], expected: list[IpvsOp]) -> None:
    _, ipvs, reconciler = synced(table())
    wanted = change(table())
    outcome = reconciler.update(wanted)
    assert ipvs.applied == expected
    assert not outcome.errors
    full = Node.new()
    full.reconciler(drainer=Drainer(0.0)).reconcile(wanted)
    assert kernel_of(ipvs) == kernel_of(full.ipvs)  # the same kernel as a full pass leaves


def test_a_failed_write_falls_back_to_a_full_pass_that_repairs_drift() -> None:
    _, ipvs, reconciler = synced(table())
    del ipvs.table[svc(5)]  # deleted by hand behind the agent's back, with its destinations
    for key in [k for k in ipvs.dests if k.service == svc(5)]:
        del ipvs.dests[key]
    outcome = reconciler.update(table(s5d0=4))
    assert ipvs.service_reads == 1  # the full pass read the whole table
    assert outcome.errors  # the incremental write failed, and says so
    assert kernel_of(ipvs) == (table(s5d0=4).services, table(s5d0=4).destinations)
    ipvs.applied.clear()
    assert reconciler.update(table(s5d0=4)).total_writes == 0


def test_a_removal_while_another_destination_drains_takes_the_full_pass() -> None:
    _, ipvs, reconciler = synced(table(), drain=300.0)
    first, second = DestKey(svc(1), "10.9.1.0", 80), DestKey(svc(2), "10.9.2.0", 80)
    ipvs.active[first] = ipvs.active[second] = 5
    without_first = dataclasses.replace(
        table(), destinations={k: d for k, d in table().destinations.items() if k != first}
    )
    reconciler.update(without_first)
    assert ipvs.dests[first].weight == 0 and ipvs.service_reads == 0  # draining, incrementally
    without_both = dataclasses.replace(
        without_first, destinations={k: d for k, d in without_first.destinations.items() if k != second}
    )
    reconciler.update(without_both)
    assert ipvs.service_reads == 1  # the drainer decides over every leftover: a full pass
    assert ipvs.dests[first].weight == 0 and ipvs.dests[second].weight == 0


def test_address_changes_reach_the_kernel_without_an_ipvs_read() -> None:
    node, ipvs, reconciler = synced(table())
    vip = AddressKey("eth0", "192.0.2.7", 32)
    outcome = reconciler.update(dataclasses.replace(table(), addresses={vip: Address(vip)}))
    assert vip in node.addresses.list(["eth0"])
    assert outcome.writes["address.add"] == 1 and ipvs.reads == [] and ipvs.applied == []


def random_state(rng: random.Random) -> NodeState:
    services = {svc(s): Service(svc(s), rng.choice(["wrr", "rr"])) for s in range(6) if rng.random() < 0.8}
    dests = {}
    for key in services:
        for d in range(4):
            if rng.random() < 0.7:
                dkey = DestKey(key, f"10.9.{key.address.rsplit('.', 1)[1]}.{d}", 80)
                dests[dkey] = Destination(dkey, Fwd.DROUTE, rng.randrange(1, 4))
    return NodeState(services=services, destinations=dests)


@pytest.mark.parametrize("seed", [pytest.param(seed, id=f"seed-{seed}") for seed in range(8)])
def test_a_run_of_random_changes_leaves_the_kernel_a_full_pass_would(seed: int) -> None:
    rng = random.Random(seed)
    node = Node.new()
    node.ipvs = ipvs = ReadCountingIpvs()
    reconciler = node.reconciler(drainer=Drainer(0.0))
    for _ in range(15):
        wanted = random_state(rng)
        assert not reconciler.update(wanted).errors
        assert kernel_of(ipvs) == (wanted.services, wanted.destinations)
        assert reconciler.update(wanted).total_writes == 0
    assert ipvs.service_reads == 1  # only the first pass was a full one
