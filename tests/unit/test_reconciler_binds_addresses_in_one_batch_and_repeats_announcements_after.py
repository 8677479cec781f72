"""A pass adds all its new addresses over one batch of sockets, announces each VIP once as it is added, and
leaves the repeats to the announcer, which sends every VIP together per round after the pass has returned.

The in-memory gateways and hand-run timers prove the reconciler's bookkeeping (the announcer's own schedule:
test_announcer_repeats_each_vip_until_it_is_withdrawn.py); tests/kernel/test_addresses_a_thousand_vips_bind_
in_one_pass.py proves the sockets, the frames on the wire and the time on the real kernel.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from fakes import ManualTimers
from reconciling import Node

from kubelvs.agent.announcer import GARP_COUNT, Announcer
from kubelvs.agent.reconciler import Reconciler
from kubelvs.netstate import Address, AddressKey, NodeState

VIPS = [AddressKey("eth0", f"192.0.2.{i}", 32) for i in range(1, 6)]
BACKEND = AddressKey("lo", "198.51.100.7", 32)
NOWHERE = [AddressKey("eth9", "203.0.113.1", 32), AddressKey("eth9", "203.0.113.2", 32)]


def state(keys: Sequence[AddressKey]) -> NodeState:
    return NodeState(addresses={key: Address(key) for key in keys})


def pairs(keys: Sequence[AddressKey]) -> list[tuple[str, str]]:
    return [(key.interface, key.address) for key in keys]


def timed(node: Node) -> tuple[Reconciler, ManualTimers]:
    """A reconciler whose announcer's repeats go out only when the test fires its timers."""
    timers = ManualTimers()
    return node.reconciler(announcer=Announcer(node.announcements, timers=timers)), timers


def test_one_batch_adds_every_vip_announces_each_once_and_repeats_all_after_the_pass() -> None:
    node = Node.new()
    node.announcements.silent.clear()  # lo could be announced here: the reconciler must not ask
    reconciler, timers = timed(node)
    outcome = reconciler.reconcile(state([*VIPS, BACKEND]))
    assert node.addresses.batches == 1
    assert set(VIPS) | {BACKEND} <= node.addresses.present
    assert node.announcements.sent == pairs(VIPS)  # lo is never announced
    assert outcome.writes["address.add"] == len(VIPS) + 1
    assert outcome.writes["address.announce"] == len(VIPS)
    assert not outcome.errors
    assert timers.run() == GARP_COUNT - 1  # one round per repeat, however many VIPs
    assert node.announcements.sent == pairs(VIPS) * GARP_COUNT  # round by round, every VIP in each

    again = reconciler.reconcile(state([*VIPS, BACKEND]))
    assert again.total_writes == 0 and node.addresses.batches == 1  # nothing new: no batch, no announcement


def test_an_address_on_a_missing_interface_fails_alone_and_names_itself() -> None:
    node = Node.new()
    reconciler = node.reconciler()
    outcome = reconciler.reconcile(state([NOWHERE[0], *VIPS, NOWHERE[1]]))
    assert set(VIPS) <= node.addresses.present
    assert outcome.writes["address.add"] == len(VIPS) and outcome.writes["address.announce"] == len(VIPS)
    assert [obj for obj, _ in outcome.errors] == [f"address {k.address}/32 on eth9" for k in NOWHERE]
    assert all("address.add" in message and "eth9" in message for _, message in outcome.errors)


def test_a_failed_announcement_keeps_the_address_and_is_not_repeated() -> None:
    node = Node.new()
    node.addresses.interfaces.add("eth1")
    node.announcements.down.add("eth1")
    quiet = AddressKey("eth1", "192.0.2.99", 32)
    reconciler, timers = timed(node)
    outcome = reconciler.reconcile(state([*VIPS, quiet]))
    timers.run()
    assert quiet in node.addresses.present
    assert outcome.writes["address.add"] == len(VIPS) + 1 and outcome.writes["address.announce"] == len(VIPS)
    assert outcome.errors == [("address 192.0.2.99/32 on eth1", "address.announce: network is down: eth1")]
    assert ("eth1", "192.0.2.99") not in node.announcements.sent


def test_removals_share_one_batch_and_forget_only_what_left() -> None:
    node = Node.new()
    reconciler = node.reconciler()
    reconciler.reconcile(state(VIPS))
    outcome = reconciler.reconcile(state(VIPS[:2]))
    assert outcome.writes["address.remove"] == len(VIPS) - 2 and node.addresses.batches == 2
    assert reconciler.record.addresses == set(VIPS[:2])
    assert not set(VIPS[2:]) & node.addresses.present


def test_the_incremental_update_binds_and_announces_the_same_way() -> None:
    node = Node.new()
    reconciler, timers = timed(node)
    reconciler.reconcile(state(VIPS[:1]))
    timers.run()
    node.announcements.sent.clear()
    outcome = reconciler.update(state(VIPS))
    assert reconciler.applied is not None  # stayed incremental
    assert outcome.writes["address.add"] == len(VIPS) - 1
    assert node.announcements.sent == pairs(VIPS[1:])
    timers.run()
    assert node.announcements.sent == pairs(VIPS[1:]) * GARP_COUNT


@pytest.mark.parametrize(
    "full",
    [pytest.param(True, id="full-pass"), pytest.param(False, id="incremental-update")],
)
def test_the_pass_returns_without_waiting_for_the_repeats(full: bool) -> None:
    node = Node.new()
    reconciler, timers = timed(node)
    if not full:
        reconciler.reconcile(NodeState())
    outcome = (reconciler.reconcile if full else reconciler.update)(state(VIPS))
    assert outcome.writes["address.announce"] == len(VIPS)  # the first announcements are in the pass
    assert node.announcements.sent == pairs(VIPS)  # the repeats are not: their timer has not fired
    assert not reconciler.announcer.wait(timeout=0)  # still owed
    timers.run()
    assert reconciler.announcer.wait(timeout=0)
    assert node.announcements.sent == pairs(VIPS) * GARP_COUNT


def test_a_vip_removed_before_its_repeats_is_not_announced_again() -> None:
    node = Node.new()
    reconciler, timers = timed(node)
    reconciler.reconcile(state(VIPS))  # repeats held back
    reconciler.reconcile(state(VIPS[:2]))  # the others leave the node before their repeats go out
    timers.run()
    assert node.announcements.sent == pairs(VIPS) + pairs(VIPS[:2]) * (GARP_COUNT - 1)


def test_a_vip_removed_by_hand_is_not_announced_again() -> None:
    node = Node.new()
    reconciler, timers = timed(node)
    reconciler.reconcile(state(VIPS))
    node.addresses.present.discard(VIPS[0])  # ``ip addr del`` before the repeats
    reconciler.reconcile(state(VIPS[1:]))  # and no longer wanted: the pass forgets it
    timers.run()
    assert node.announcements.sent == pairs(VIPS) + pairs(VIPS[1:]) * (GARP_COUNT - 1)
