"""The announcer's schedule: a VIP is announced at once, then GARP_COUNT - 1 times more, every VIP due together
per round, and never again once withdrawn; announcing it anew starts its count again.

Fakes stand in for the frames and the clock only (this is pure scheduling); tests/kernel/test_addresses_a_
thousand_vips_bind_in_one_pass.py hears the frames on a real segment.
"""

from __future__ import annotations

import time

import pytest
from fakes import FakeAnnouncements, ManualTimers

from kubelvs.agent.announcer import GARP_COUNT, INTERVAL, Announcer, Schedule, ThreadTimers
from kubelvs.netstate import AddressKey

A, B, C = (AddressKey("eth0", f"192.0.2.{i}", 32) for i in (1, 2, 3))
V6 = AddressKey("eth1", "2001:db8::1", 128)


def frames(*keys: AddressKey) -> list[tuple[str, str]]:
    return [(key.interface, key.address) for key in keys]


@pytest.fixture()
def sender() -> FakeAnnouncements:
    return FakeAnnouncements()


@pytest.fixture()
def timers() -> ManualTimers:
    return ManualTimers()


@pytest.fixture()
def announcer(sender: FakeAnnouncements, timers: ManualTimers) -> Announcer:
    return Announcer(sender, timers=timers)


def test_the_first_goes_out_at_once_and_the_repeats_together_per_round(announcer, sender, timers) -> None:
    assert announcer.announce(A) and announcer.announce(V6)
    assert sender.sent == frames(A, V6)  # in the caller, before announce returned
    assert timers.run() == GARP_COUNT - 1
    assert sender.sent == frames(A, V6) * GARP_COUNT
    assert timers.time == pytest.approx((GARP_COUNT - 1) * INTERVAL)  # one interval apart
    assert not sender.open and announcer.wait(timeout=0)  # nothing owed: the sockets are closed


@pytest.mark.parametrize(
    "rounds_before",
    [pytest.param(0, id="before-any-repeat"), pytest.param(1, id="after-one-repeat")],
)
def test_a_withdrawn_vip_is_never_announced_again(announcer, sender, timers, rounds_before: int) -> None:
    announcer.announce(A)
    announcer.announce(B)
    for _ in range(rounds_before):
        timers.fire()
    announcer.withdraw(B)
    timers.run()
    assert sender.sent.count(frames(B)[0]) == 1 + rounds_before
    assert sender.sent.count(frames(A)[0]) == GARP_COUNT  # the others go on


def test_announcing_again_after_a_withdrawal_restarts_the_count(announcer, sender, timers) -> None:
    announcer.announce(A)
    timers.fire()
    announcer.withdraw(A)
    timers.run()
    assert sender.sent == frames(A) * 2
    sender.sent.clear()
    announcer.announce(A)  # it came back
    timers.run()
    assert sender.sent == frames(A) * GARP_COUNT


def test_announcing_a_vip_still_owed_repeats_restarts_its_count(announcer, sender, timers) -> None:
    announcer.announce(A)
    timers.fire()
    announcer.announce(A)
    timers.run()
    assert sender.sent == frames(A) * (2 + GARP_COUNT)


def withdrawn_mid_round(timers: ManualTimers, after_frames: int) -> list[tuple[str, str]]:
    """The frames sent when A and B are announced and B is withdrawn from inside the send of frame
    ``after_frames + 1`` (a round in flight, its later VIPs still to come)."""

    class Withdrawing(FakeAnnouncements):
        def send(self, interface: str, address: str) -> bool:
            if len(self.sent) == after_frames:
                announcer.withdraw(B)
            return super().send(interface, address)

    withdrawing = Withdrawing()
    announcer = Announcer(withdrawing, timers=timers)
    announcer.announce(A)
    announcer.announce(B)
    timers.run()
    return withdrawing.sent


def test_a_withdrawal_during_a_round_stops_the_vips_not_sent_yet(timers) -> None:
    # during A's first repeat, with B's still to come
    assert withdrawn_mid_round(timers, after_frames=2) == frames(A, B, A, A)


def test_a_withdrawal_during_the_last_round_cancels_the_last_repeat(timers) -> None:
    sent = withdrawn_mid_round(timers, after_frames=2 * GARP_COUNT - 2)  # during A's last, B's still to come
    assert sent.count(frames(B)[0]) == GARP_COUNT - 1
    assert sent.count(frames(A)[0]) == GARP_COUNT


def test_a_failed_first_announcement_raises_and_schedules_nothing(announcer, sender, timers) -> None:
    sender.down.add("eth0")
    with pytest.raises(OSError, match="network is down"):
        announcer.announce(A)
    assert timers.armed == 0 and not sender.open  # nothing owed: the socket opened for it is closed again


def test_an_interface_without_an_ethernet_address_announces_nothing(announcer, sender, timers) -> None:
    assert not announcer.announce(AddressKey("tunl0", "192.0.2.9", 32))
    assert sender.sent == [] and timers.armed == 0


def test_a_failed_repeat_drops_only_its_vip(announcer, sender, timers) -> None:
    announcer.announce(A)
    announcer.announce(V6)
    sender.down.add("eth1")  # the link went down after the first announcement
    timers.run()
    assert sender.sent == frames(A, V6, A, A)


def test_close_cancels_what_is_still_owed_and_closes_the_sockets(announcer, sender, timers) -> None:
    announcer.announce(A)
    announcer.close(timeout=0)  # the hand-run timer has not fired: the repeats are still owed
    assert not sender.open
    timers.run()
    assert sender.sent == frames(A)
    assert announcer.announce(B) and timers.run() == GARP_COUNT - 1  # usable again, sockets reopened


def test_vips_announced_close_together_share_their_rounds() -> None:
    schedule = Schedule(count=3, interval=1.0)
    schedule.start(A, now=0.0)
    schedule.start(B, now=0.4)  # within half an interval of A: joins A's rounds
    schedule.start(C, now=0.6)  # too late for that round: never less than half an interval after its first
    assert schedule.next_round() == 1.0
    assert [key for key, _ in schedule.take(1.0)] == [A, B]
    assert schedule.next_round() == 1.6
    taken = schedule.take(1.6)
    assert [key for key, _ in taken] == [A, B, C]  # A and B, due within half an interval, join C
    assert A in schedule  # their last repeat is not sent yet: a withdrawal may still cancel it
    for key, burst in taken:
        schedule.sent(key, burst)
    assert A not in schedule and B not in schedule  # their count is done
    assert schedule.next_round() == 2.6
    (last,) = schedule.take(2.6)
    assert last[0] == C
    schedule.sent(*last)
    assert len(schedule) == 0 and schedule.next_round() is None


def test_the_threads_send_the_repeats_spaced_and_wait_returns_when_they_went_out() -> None:
    class Stamped(FakeAnnouncements):
        def __init__(self) -> None:
            super().__init__()
            self.times: list[float] = []

        def send(self, interface: str, address: str) -> bool:
            self.times.append(time.monotonic())
            return super().send(interface, address)

    sender = Stamped()
    announcer = Announcer(sender, interval=0.02, timers=ThreadTimers())
    announcer.announce(A)
    assert announcer.wait(timeout=5)
    assert sender.sent == frames(A) * GARP_COUNT and not sender.open
    gaps = [later - earlier for earlier, later in zip(sender.times, sender.times[1:], strict=False)]
    assert all(gap >= 0.01 for gap in gaps)  # at least half an interval
