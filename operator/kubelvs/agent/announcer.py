"""One announcer of the VIPs this node took: the first gratuitous ARP / unsolicited NA at once, GARP_COUNT - 1
repeats after it, every VIP due together per round, until the VIP is withdrawn (MetalLB's layer2 announcer
in shape: ``announce`` starts a VIP's announcements, ``withdraw`` ends them).

It knows nothing of Kubernetes, plans or ownership: the reconciler says ``announce(key)`` for each VIP it bound
on an announcing interface and ``withdraw(key)`` for each it removes. A withdrawn VIP is never announced again,
since a late repeat for a VIP another director has taken would pull its clients back. Scheduling lives here in
the agent and sending in :mod:`kubelvs.kernel.arp`, because the count, the spacing and the cancellation are
policy, and the kernel layer is only I/O.

:class:`Schedule` is the pure part (time is passed in); :class:`Announcer` runs it with a lock, a timer per
round and the ``Announcements`` gateway.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from kubelvs.kernel.interfaces import Announcements
from kubelvs.netstate import AddressKey

logger = logging.getLogger(__name__)

GARP_COUNT = 3  # announcements of each arrival, the first included (keepalived's vrrp_garp_master_repeat)
INTERVAL = 0.1  # seconds between a VIP's announcements (keepalived's garp_interval is 0; a little spacing helps)
CLOSE_TIMEOUT = 5.0  # how long an orderly shutdown waits for the repeats in flight


@dataclass(eq=False)
class Burst:
    """The repeats one arrival of a VIP is still owed; a re-announced VIP gets a new one."""

    left: int
    due: float
    cancelled: bool = False  # withdrawn or re-announced: a round that picked it sends nothing


class Schedule:
    """Which VIPs are owed a repeat, and when. Pure: every call is given the time.

    A round takes every VIP due within half an interval from now, so VIPs announced close together (one pass)
    share their rounds from then on, and no VIP's repeats are closer than half an interval.
    """

    def __init__(self, count: int = GARP_COUNT, interval: float = INTERVAL) -> None:
        self.count, self.interval = count, interval
        self._bursts: dict[AddressKey, Burst] = {}

    def __len__(self) -> int:
        return len(self._bursts)

    def __contains__(self, key: object) -> bool:
        return key in self._bursts

    def start(self, key: AddressKey, now: float) -> None:
        """``key`` was just announced: its count starts again, the first repeat one interval from now."""
        self.stop(key)
        if self.count > 1:
            self._bursts[key] = Burst(self.count - 1, now + self.interval)

    def stop(self, key: AddressKey) -> None:
        """No more repeats of ``key``, including one a round has picked but not sent yet."""
        burst = self._bursts.pop(key, None)
        if burst is not None:
            burst.cancelled = True

    def clear(self) -> None:
        for key in list(self._bursts):
            self.stop(key)

    def next_round(self) -> float | None:
        """When the next round is due, None when no VIP is owed a repeat."""
        due = min((burst.due for burst in self._bursts.values()), default=math.inf)
        return None if due == math.inf else due

    def take(self, now: float) -> list[tuple[AddressKey, Burst]]:
        """The VIPs of the round at ``now``, each counted as sent; their next repeat is one interval later."""
        due = [
            (key, burst)
            for key, burst in self._bursts.items()
            if burst.left and burst.due <= now + self.interval / 2
        ]
        for _, burst in due:
            burst.left -= 1
            burst.due = now + self.interval if burst.left else math.inf
        return due

    def sent(self, key: AddressKey, burst: Burst) -> None:
        """The round sent ``burst``'s repeat of ``key``: forget it once its count is done (kept until then, so
        a withdrawal between :meth:`take` and the send still cancels the last repeat)."""
        if not burst.left and self._bursts.get(key) is burst:
            del self._bursts[key]


class Timers(Protocol):
    """The announcer's clock and its way to run a round later."""

    def now(self) -> float: ...

    def later(self, delay: float, action: Callable[[], None]) -> None: ...


class ThreadTimers:
    """The monotonic clock and one daemon thread per round: the thread inherits the network namespace of the
    thread that arms it (a pass, or the round before), though the sockets are already open by then."""

    def now(self) -> float:
        return time.monotonic()

    def later(self, delay: float, action: Callable[[], None]) -> None:
        timer = threading.Timer(max(delay, 0.0), action)
        timer.name, timer.daemon = "announcement-repeats", True  # an orderly exit waits in close() instead
        timer.start()


class Announcer:
    """Announces each VIP GARP_COUNT times: once in :meth:`announce`, the rest in rounds it schedules itself.

    Every send and every change of the schedule happens under one lock, so a :meth:`withdraw` that returned
    is never followed by a send of that VIP; a round takes the lock per VIP, so a pass waits for at most one
    frame. The gateway's sockets stay open while any repeat is owed and are closed when none is.
    """

    def __init__(
        self,
        announcements: Announcements,
        count: int = GARP_COUNT,
        interval: float = INTERVAL,
        timers: Timers | None = None,
    ) -> None:
        self._announcements = announcements
        self._schedule = Schedule(count, interval)
        self._timers = timers if timers is not None else ThreadTimers()
        self._lock = threading.Condition()
        self._busy = False  # a round is armed or running

    def announce(self, key: AddressKey) -> bool:
        """Announce ``key`` now and its repeats later (a VIP announced already starts its count again);
        False, and nothing scheduled, if its interface has no Ethernet address.

        Raises what the gateway raises (LookupError, OSError); then nothing is scheduled either.
        """
        with self._lock:
            self._schedule.stop(key)
            try:
                sent = self._announcements.send(key.interface, key.address)
                if sent:
                    self._schedule.start(key, self._timers.now())
                    logger.debug("announced %s on %s", key.address, key.interface)
            finally:
                self._settle()
            return sent

    def withdraw(self, key: AddressKey) -> None:
        """Never announce ``key`` again (until it is announced anew); a repeat in flight has gone out already."""
        with self._lock:
            self._schedule.stop(key)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no repeat is owed (tests, orderly shutdown); False if ``timeout`` ran out first."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._busy, timeout)

    def close(self, timeout: float | None = CLOSE_TIMEOUT) -> None:
        """Let the repeats owed go out (for up to ``timeout``), cancel what is left and close the sockets.

        The announcer may be used again afterwards: a later :meth:`announce` opens the sockets anew.
        """
        finished = self.wait(timeout)
        with self._lock:
            if not finished:
                logger.warning("cancelled the repeats of %d VIP(s) still owed at shutdown", len(self._schedule))
            self._schedule.clear()
            self._announcements.close()

    def _settle(self) -> None:
        """Under the lock, when no round is armed: arm the next one, or close the sockets if nothing is owed."""
        if self._busy:
            return  # the round armed or running settles when it ends
        due = self._schedule.next_round()
        if due is None:
            self._announcements.close()
            self._lock.notify_all()
            return
        self._busy = True
        self._timers.later(due - self._timers.now(), self._round)

    def _round(self) -> None:
        try:
            with self._lock:
                due = self._schedule.take(self._timers.now())
            for key, burst in due:
                with self._lock:  # per VIP: a pass's announce or withdraw waits for one frame, not a round
                    if not burst.cancelled:
                        self._repeat(key)
                    self._schedule.sent(key, burst)
        finally:
            with self._lock:
                self._busy = False
                self._settle()

    def _repeat(self, key: AddressKey) -> None:
        try:
            self._announcements.send(key.interface, key.address)
        except Exception as error:  # one VIP's failure must not stop the others' repeats
            self._schedule.stop(key)  # not tried again: the pass that bound it reported the first failure
            logger.warning("address %s on %s: repeated announcement failed: %s", key.address, key.interface, error)
