"""A pass adds all its new addresses over one batch of sockets, announces each VIP once as it is added, and
leaves the repeats to a thread that sends every VIP together per round after the pass has returned.

The in-memory gateway proves the reconciler's bookkeeping; tests/kernel/test_addresses_a_thousand_vips_bind_
in_one_pass.py proves the sockets, the frames on the wire and the time on the real kernel.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence

import pytest
from fakes import FakeAddresses
from reconciling import Node

from kubelvs.agent.reconciler import GARP_COUNT
from kubelvs.netstate import Address, AddressKey, NodeState

VIPS = [AddressKey("eth0", f"192.0.2.{i}", 32) for i in range(1, 6)]
BACKEND = AddressKey("lo", "198.51.100.7", 32)
NOWHERE = [AddressKey("eth9", "203.0.113.1", 32), AddressKey("eth9", "203.0.113.2", 32)]


def state(keys: Sequence[AddressKey]) -> NodeState:
    return NodeState(addresses={key: Address(key) for key in keys})


def pairs(keys: Sequence[AddressKey]) -> list[tuple[str, str]]:
    return [(key.interface, key.address) for key in keys]


def test_one_batch_adds_every_vip_announces_each_once_and_repeats_all_after_the_pass() -> None:
    node = Node.new()
    reconciler = node.reconciler()
    outcome = reconciler.reconcile(state([*VIPS, BACKEND]))
    assert node.addresses.batches == 1
    assert set(VIPS) | {BACKEND} <= node.addresses.present
    assert node.addresses.announced == pairs(VIPS)  # lo is never announced
    assert outcome.writes["address.add"] == len(VIPS) + 1
    assert outcome.writes["address.announce"] == len(VIPS)
    assert not outcome.errors
    reconciler.wait_for_announcements(timeout=5)
    assert node.addresses.repeated == pairs(VIPS) * (GARP_COUNT - 1)  # round by round, every VIP in each

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
    node.addresses.down.add("eth1")
    quiet = AddressKey("eth1", "192.0.2.99", 32)
    reconciler = node.reconciler()
    outcome = reconciler.reconcile(state([*VIPS, quiet]))
    reconciler.wait_for_announcements(timeout=5)
    assert quiet in node.addresses.present
    assert outcome.writes["address.add"] == len(VIPS) + 1 and outcome.writes["address.announce"] == len(VIPS)
    assert outcome.errors == [("address 192.0.2.99/32 on eth1", "address.announce: network is down: eth1")]
    assert ("eth1", "192.0.2.99") not in node.addresses.repeated


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
    reconciler = node.reconciler()
    reconciler.reconcile(state(VIPS[:1]))
    reconciler.wait_for_announcements(timeout=5)
    node.addresses.announced.clear()
    node.addresses.repeated.clear()
    outcome = reconciler.update(state(VIPS))
    reconciler.wait_for_announcements(timeout=5)
    assert reconciler.applied is not None  # stayed incremental
    assert outcome.writes["address.add"] == len(VIPS) - 1
    assert node.addresses.announced == pairs(VIPS[1:])
    assert node.addresses.repeated == pairs(VIPS[1:]) * (GARP_COUNT - 1)


class HeldRepeats(FakeAddresses):
    """Repeats that go out only when the test says so."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def repeat_announcements(
        self, keys: Sequence[AddressKey], rounds: int, keep: Callable[[AddressKey], bool] | None = None
    ) -> dict[AddressKey, str]:
        self.release.wait(timeout=10)
        return super().repeat_announcements(keys, rounds, keep)


@pytest.mark.parametrize(
    "full",
    [pytest.param(True, id="full-pass"), pytest.param(False, id="incremental-update")],
)
def test_the_pass_returns_without_waiting_for_the_repeats(full: bool) -> None:
    node = dataclasses.replace(Node.new(), addresses=HeldRepeats())
    reconciler = node.reconciler()
    if not full:
        reconciler.reconcile(NodeState())
    outcome = (reconciler.reconcile if full else reconciler.update)(state(VIPS))
    assert outcome.writes["address.announce"] == len(VIPS)  # the first announcements are in the pass
    assert node.addresses.repeated == []  # the repeats are not: they are still held
    node.addresses.release.set()
    reconciler.wait_for_announcements(timeout=5)
    assert node.addresses.repeated == pairs(VIPS) * (GARP_COUNT - 1)


def test_a_vip_removed_before_its_repeats_is_not_announced_again() -> None:
    node = dataclasses.replace(Node.new(), addresses=HeldRepeats())
    reconciler = node.reconciler()
    reconciler.reconcile(state(VIPS))  # repeats held back
    reconciler.reconcile(state(VIPS[:2]))  # the others leave the node before their repeats go out
    node.addresses.release.set()
    reconciler.wait_for_announcements(timeout=5)
    assert node.addresses.repeated == pairs(VIPS[:2]) * (GARP_COUNT - 1)
