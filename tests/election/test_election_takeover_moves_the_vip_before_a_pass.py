"""A change of the held groups moves the VIPs at once, without a full pass: bound and announced on a gain,
removed on a step-down, nothing bound by a gain whose move runs only after the step-down that followed it.

In-memory kernels (tests/unit/fakes.py) prove the agent's bookkeeping; the VM's full-stack test
(tests/kernel/test_full_stack_failover_traffic_and_health.py) measures it on the real kernel.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from kubernetes import client as k8s

from kubelvs.agent.announcer import GARP_COUNT
from kubelvs.agent.cluster import ClusterAgent
from kubelvs.agent.options import ClusterOptions as Options
from kubelvs.agent.pipeline import Pass
from kubelvs.agent.reconciler import Outcome
from kubelvs.api.objects import parse_object
from kubelvs.netstate import AddressKey
from kubelvs.planner import NodeFacts, plan
from kubelvs.planner import director as directing

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from reconciling import Node as FakeNode

VIP, GATEWAY = "192.0.2.100", "10.9.0.100"
LABELS = {"kubelvs.io/director": "true"}


def virtual_server():
    raw = {
        "apiVersion": "lvs.kubelvs.io/v1alpha1",
        "kind": "VirtualServer",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "address": VIP,
            "port": 80,
            "forwarding": "nat",
            "directors": {"nodeSelector": LABELS, "gateway": {"address": GATEWAY, "interface": "eth1"}},
        },
    }
    return parse_object(raw)


@pytest.fixture()
def agent_and_node():
    node = FakeNode.new()
    node.addresses.interfaces.add("eth1")
    with k8s.ApiClient(k8s.Configuration(host="http://127.0.0.1:9")) as api:  # never contacted here
        agent = ClusterAgent(
            Options(node="node-a", lease_namespace="kube-lvs", state_file=None), node.kernel(), api
        )
        yield agent, node


def seen(agent):
    """What the last pass planned from, as the pass leaves it (a standby's: the VIPs not bound)."""
    vs = virtual_server()
    facts = NodeFacts("node-a", labels=LABELS, default_interfaces={2: "eth0"})
    agent.pipeline.last = Pass(plan([vs], (), facts, frozenset()), Outcome(), frozenset(), facts, True, 0)
    return directing.group(vs)


def test_a_gain_binds_and_announces_and_a_step_down_removes_without_a_pass(agent_and_node):
    agent, node = agent_and_node
    group = seen(agent)
    vip, gateway = AddressKey("eth0", VIP, 32), AddressKey("eth1", GATEWAY, 32)

    agent.election._held = frozenset({group})  # the election won the Lease
    assert agent.holding.move_addresses() == frozenset()
    assert {vip, gateway} <= node.addresses.present
    assert node.announcements.sent[:2] == [("eth0", VIP), ("eth1", GATEWAY)]  # each once, as it is added
    assert agent.reconciler.announcer.wait(timeout=5)
    assert node.announcements.sent == [("eth0", VIP), ("eth1", GATEWAY)] * GARP_COUNT  # the repeats, together
    assert {vip, gateway} <= agent.reconciler.record.addresses  # owned: the next pass keeps them

    assert agent.holding.move_addresses() == frozenset()  # nothing changed since: nothing written
    assert node.addresses.writes["add"] == 2

    agent.election._held = frozenset()  # a step-down
    assert agent.holding.move_addresses() == {group}
    assert not {vip, gateway} & node.addresses.present
    assert not {vip, gateway} & agent.reconciler.record.addresses


def test_a_late_gain_after_the_step_down_binds_nothing(agent_and_node):
    agent, node = agent_and_node
    seen(agent)
    agent.election._held = frozenset()  # gained and lost again before the gain's move ran
    assert agent.holding.move_addresses() == frozenset()
    assert AddressKey("eth0", VIP, 32) not in node.addresses.present


def test_before_the_first_pass_a_change_waits_for_one(agent_and_node):
    agent, node = agent_and_node
    agent.election._held = frozenset({"kubelvs-directors-x"})
    assert agent.holding.move_addresses() is None  # nothing to plan from: the pass binds
    assert node.announcements.sent == []
