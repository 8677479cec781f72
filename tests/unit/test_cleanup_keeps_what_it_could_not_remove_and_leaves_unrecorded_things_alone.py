"""The cleanup's own logic over the reconciler's fakes (the real kernel is the VM test's,
tests/kernel/test_agent_cleanup_leaves_the_node_as_it_was.py): a service the kernel refuses to delete is one
error, stays in the record for the next run, and the rest still goes; a service outside the VIP pools and not in
the record is never touched; tunl0 goes down only when the record says kube-lvs brought it up, and a record from
before that was recorded leaves it up, with a log line."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pytest
from fakes import FakeIpvs
from reconciling import Node

from kubelvs.agent.cleanup import clean
from kubelvs.agent.ownership import Record, Store
from kubelvs.netstate import AddressKey, DeleteService, Family, IpvsOp, Proto, Service, ServiceKey
from kubelvs.planner.facts import parse_pools

WEB = ServiceKey(Family.INET, Proto.TCP, "192.0.2.100", 80)
DNS = ServiceKey(Family.INET, Proto.UDP, "192.0.2.53", 53)
KUBE_PROXY = ServiceKey(Family.INET, Proto.TCP, "10.96.0.1", 443)
VIP = AddressKey("eth0", "192.0.2.100", 32)


class StubbornIpvs(FakeIpvs):
    """Refuses to delete the services in ``keep``."""

    def __init__(self, keep: set[ServiceKey]) -> None:
        super().__init__()
        self.keep = keep

    def apply(self, ops: Sequence[IpvsOp]) -> list[str | None]:
        refused = "Device or resource busy"
        return [refused if isinstance(op, DeleteService) and op.key in self.keep else self._one(op) for op in ops]


class Switch:
    """tunl0's up/down over the reconciler's fake tunnel."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.downs = 0

    def is_up(self) -> bool:
        return self.node.tunnel.up

    def set_down(self) -> bool:
        self.downs += 1
        was, self.node.tunnel.up = self.node.tunnel.up, False
        return was


def node_with(ipvs: FakeIpvs, *services: ServiceKey) -> Node:
    node = Node.new()
    node.ipvs = ipvs
    for key in services:
        ipvs.table[key] = Service(key)
    return node


def test_a_refused_delete_is_one_error_and_stays_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    node = node_with(StubbornIpvs(keep={DNS}), WEB, DNS, KUBE_PROXY)
    node.addresses.present.add(VIP)
    store = Store(tmp_path / "owned.json")
    store.save(Record(services={WEB, DNS}, addresses={VIP}))
    with caplog.at_level(logging.ERROR):
        outcome = clean(node.kernel(), store, Switch(node), parse_pools("192.0.2.0/24"))
    assert [message for _, message in outcome.errors] == ["ipvs.delete_service: Device or resource busy"]
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1, caplog.text
    assert set(node.ipvs.table) == {DNS, KUBE_PROXY}  # the rest went; kube-proxy's is never ours
    assert VIP not in node.addresses.present
    assert store.load().services == {DNS}  # for the next run


def test_tunnel_goes_down_only_when_kube_lvs_brought_it_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(tmp_path / "owned.json")
    for recorded, down in ((True, 1), (False, 0), (None, 0)):
        node = node_with(FakeIpvs())
        node.tunnel.up = True
        switch = Switch(node)
        store.save(Record(tunnel=recorded))
        with caplog.at_level(logging.INFO):
            outcome = clean(node.kernel(), store, switch)
        assert outcome.errors == []
        assert (switch.downs, node.tunnel.up) == (down, not down), recorded
        assert not store.path.exists()  # type: ignore[union-attr]
    assert "tunl0: left up, the record does not say whether kube-lvs brought it up" in caplog.text


def test_timeouts_go_back_to_the_recorded_values(tmp_path: Path) -> None:
    node = node_with(FakeIpvs())
    node.ipvs.set_timeouts(1234, 0, 0)
    store = Store(tmp_path / "owned.json")
    store.save(Record(timeouts=(900, 120, 300)))
    outcome = clean(node.kernel(), store, Switch(node))
    assert node.ipvs.timeouts() == (900, 120, 300)
    assert outcome.writes["ipvs.set_timeouts"] == 1
