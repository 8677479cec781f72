"""ip6tnl0 (TUN backends of IPv6 VIPs) over the reconciler's fakes: a pass brings it up once and records that
kube-lvs did (an incremental update too), so ``--cleanup`` takes it down again; one found up is recorded as
such and left up; a record from before ip6tnl0 was recorded reads as "not recorded"; an agent without the
gateway reports the error."""

from __future__ import annotations

from pathlib import Path

from fakes import FakeTunnel
from reconciling import Node

from kubelvs.agent.cleanup import clean
from kubelvs.agent.draining import Drainer
from kubelvs.agent.ownership import Record, Store
from kubelvs.agent.reconciler import Reconciler
from kubelvs.netstate import Address, AddressKey, NodeState

VIP6 = AddressKey("ip6tnl0", "2001:db8:1::100", 128)
TUN6 = NodeState(addresses={VIP6: Address(VIP6)}, tunnel6=True)


class Switch:
    """A fake tunnel's up/down, as cleanup sees it."""

    def __init__(self, tunnel: FakeTunnel) -> None:
        self.tunnel = tunnel
        self.downs = 0

    def is_up(self) -> bool:
        return self.tunnel.up

    def set_down(self) -> bool:
        self.downs += 1
        was, self.tunnel.up = self.tunnel.up, False
        return was


def reconciler(node: Node, tunnel6: FakeTunnel | None, store: Store) -> Reconciler:
    node.addresses.interfaces.add("ip6tnl0")  # the ip6_tunnel module makes it in every namespace
    kernel = node.kernel()
    kernel.tunnel6 = tunnel6
    return Reconciler(kernel, store, Drainer(0.0))


def test_brought_up_once_recorded_and_taken_down_by_cleanup(tmp_path: Path) -> None:
    node, tunnel6, store = Node.new(), FakeTunnel(), Store(tmp_path / "owned.json")
    agent = reconciler(node, tunnel6, store)
    outcome = agent.reconcile(TUN6)
    assert outcome.errors == [] and outcome.writes["tunnel.up"] == 1
    assert tunnel6.up and not node.tunnel.up  # ip6tnl0 only, not tunl0
    assert VIP6 in node.addresses.present
    assert store.load().tunnel6 is True
    assert agent.reconcile(TUN6).writes["tunnel.up"] == 0 and tunnel6.writes == 1

    kernel = node.kernel()
    kernel.tunnel6 = tunnel6
    switch = Switch(tunnel6)
    outcome = clean(kernel, store, Switch(node.tunnel), tunnel6=switch)
    assert outcome.errors == []
    assert (switch.downs, tunnel6.up) == (1, False)
    assert VIP6 not in node.addresses.present
    assert not store.path.exists()  # type: ignore[union-attr]


def test_found_up_is_left_up_by_cleanup(tmp_path: Path) -> None:
    node, tunnel6, store = Node.new(), FakeTunnel(), Store(tmp_path / "owned.json")
    tunnel6.up = True  # an admin's ip6tnl0
    reconciler(node, tunnel6, store).reconcile(TUN6)
    assert store.load().tunnel6 is False and tunnel6.writes == 0
    switch = Switch(tunnel6)
    assert clean(node.kernel(), store, Switch(node.tunnel), tunnel6=switch).errors == []
    assert (switch.downs, tunnel6.up) == (0, True)


def test_the_record_round_trips_ip6tnl0_and_old_records_do_not_name_it() -> None:
    assert Record.from_json(Record(tunnel6=True).to_json()).tunnel6 is True
    old = Record().to_json()
    del old["tunnel6"]
    assert Record.from_json(old).tunnel6 is None


def test_without_the_gateway_the_pass_reports_ip6tnl0(tmp_path: Path) -> None:
    node = Node.new()
    outcome = reconciler(node, None, Store(None)).reconcile(TUN6)
    assert outcome.errors[0] == ("tunnel ip6tnl0", "tunnel.up: this agent has no ip6tnl0 gateway (kernel.tunnel6)")


def test_an_incremental_update_that_brings_it_up_saves_the_record(tmp_path: Path) -> None:
    node, tunnel6, store = Node.new(), FakeTunnel(), Store(tmp_path / "owned.json")
    agent = reconciler(node, tunnel6, store)
    assert agent.reconcile(NodeState()).errors == []
    outcome = agent.update(TUN6)
    assert outcome.errors == [] and outcome.writes["tunnel.up"] == 1 and tunnel6.up
    assert store.load().tunnel6 is True
