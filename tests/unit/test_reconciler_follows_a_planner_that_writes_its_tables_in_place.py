"""A kept Planner writes its destination and masquerade maps in place from one plan to the next; a reconciler
fed its plans (and the changes they carry) still leaves the kernel exactly as a full pass of a fresh plan
would, through endpoint churn, masquerades coming and going, a fwmark service that rewrites the packet rules
whole, and a pass whose changes cannot be used."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from fakes import FakeIpvs, FakePacketRules
from objects import rs, vs
from reconciling import Node

from kubelvs.api.groups import director_group
from kubelvs.api.models import Directors, RealServer, VirtualServer
from kubelvs.netstate import FwmarkRule, NodeState, SnatRule
from kubelvs.planner import NodeFacts, Planner, plan

DIRECTOR = NodeFacts(node="dir-a", labels={"kubelvs.io/director": "true"})
HELD = {director_group(Directors())}
MARKED = vs(
    "marked",
    address=None,
    port=None,
    fwmark=7,
    forwarding="nat",
    natReturnPath="snat",
    fwmarkMatch={"destination": "192.0.2.50", "ports": [443], "protocol": "TCP"},
)


def web(index: int) -> VirtualServer:
    return vs(f"web{index}", address=f"192.0.2.{index}", forwarding="nat", natReturnPath="snat")


class WrittenRules(FakePacketRules):
    """Packet rules that note every masquerade taken away while IPVS still has its destination."""

    def __init__(self, ipvs: FakeIpvs) -> None:
        super().__init__()
        self.ipvs = ipvs
        self.early: list[SnatRule] = []

    def replace(self, marks: Sequence[FwmarkRule], snats: Sequence[SnatRule]) -> None:
        live = {(d.key.service.address, d.key.address, d.key.port) for d in self.ipvs.dests.values()}
        self.early += [r for r in self.snats - set(snats) if (r.original, r.destination, r.port) in live]
        super().replace(marks, snats)


def world(rng: random.Random, serial: int) -> tuple[list[VirtualServer], list[RealServer]]:
    """Three NAT services with random pods (two of them on one pod address: shared masquerades) or, now and
    then, none at all; and the fwmark service now and then."""
    servers = [web(i) for i in range(1, 4)] + ([MARKED] if rng.random() < 0.4 else [])
    if rng.random() < 0.15:
        return servers, []
    pods = [
        rs(f"web{i}-{p}", f"10.244.0.{p}", virtual_server=f"web{i}", port=8080, weight=rng.randrange(1, 3))
        for i in range(1, 4)
        for p in range(serial % 5, serial % 5 + 6)
        if rng.random() < 0.6
    ]
    if any(s.metadata.name == "marked" for s in servers):
        pods.append(rs("marked-1", "10.244.0.1", virtual_server="marked", port=443))
    return servers, pods


def kernel(node: Node) -> tuple[object, ...]:
    return (
        dict(node.ipvs.table),
        dict(node.ipvs.dests),
        node.rules.snats,
        node.rules.marks,
    )


def full_pass(state: NodeState) -> tuple[object, ...]:
    node = Node.new()
    assert not node.reconciler().reconcile(state).errors
    return kernel(node)


@pytest.mark.parametrize("seed", [pytest.param(seed, id=f"seed-{seed}") for seed in range(6)])
def test_the_kernel_is_a_full_pass_s_after_every_in_place_plan(seed: int) -> None:
    rng = random.Random(seed)
    node = Node.new()
    node.rules = rules = WrittenRules(node.ipvs)
    reconciler = node.reconciler()
    planner = Planner()
    kept_maps = 0
    last: NodeState | None = None
    for serial in range(25):
        servers, pods = world(rng, serial)
        planner.replace_all(servers, pods)
        made = planner.plan(DIRECTOR, HELD)
        kept_maps += last is not None and made.state.destinations is last.destinations
        unusable = serial % 7 == 6  # as after a pass the reconciler did not finish: the changes are dropped
        outcome = reconciler.update(made.state, None if unusable else made.changes)
        assert not outcome.errors, outcome.errors
        # a table written whole keeps the last pass's masquerades until IPVS has let go of their destinations
        assert rules.early == [], f"after change {serial}"
        fresh = plan(servers, pods, DIRECTOR, HELD).state
        assert kernel(node) == full_pass(fresh), f"after change {serial}"
        last = made.state
    assert kept_maps > 10  # the in-place path was taken, not only rebuilds
