"""One runner of passes for both modes of the agent (kube-proxy's bounded-frequency runner, simplified).

Events only mark work pending (:meth:`Runner.wake`, from any thread); the runner runs one pass at a time, at
most one per ``min_interval`` (kube-proxy's minSyncPeriod: an event after a quiet spell is planned at once, a
stream of them in passes that each take everything since the last), and a full pass (node facts again, drift
repair) when one is asked for or the resync period passed without one. Passes are numbered, so a caller
can wait for the pass that starts after its change (:meth:`Runner.wait_for_pass`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

PassFunction = Callable[[bool], Awaitable[object]]
DRAIN_RECHECK = 1.0  # seconds between looks at destinations draining (weight 0 until their connections end)


class Runner:
    """Runs ``run_pass(full)`` whenever woken, and a full pass at least every ``resync_period`` seconds."""

    def __init__(self, run_pass: PassFunction, resync_period: float, min_interval: float = 0.0) -> None:
        self._run_pass = run_pass
        self._resync_period = resync_period
        self._min_interval = min_interval
        self._last_start = float("-inf")
        self._wake = asyncio.Event()
        self._done = asyncio.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._later: asyncio.TimerHandle | None = None
        self.full_due = True  # the first pass gathers facts and reconciles in full
        self.started = 0  # passes started
        self.done = 0  # passes completed (or failed)

    def wake(self, full: bool = False) -> None:
        """Ask for a pass (a full one with ``full``); from the runner's event loop."""
        self.full_due = self.full_due or full
        self._wake.set()

    def wake_threadsafe(self, full: bool = False) -> None:
        """:meth:`wake` from another thread (a watch, inotify); before :meth:`run` it only marks work due."""
        if self._loop is None:
            self.full_due = self.full_due or full
        else:
            self._loop.call_soon_threadsafe(self.wake, full)

    def wake_later(self, delay: float) -> None:
        """A full pass ``delay`` seconds from now (from the runner's loop), to look again at draining
        destinations, which go once their connections end (the full pass reads their connections)."""
        if self._loop is not None and self._later is None:
            self._later = self._loop.call_later(delay, self._woken_later)

    def _woken_later(self) -> None:
        self._later = None
        self.wake(full=True)

    @property
    def pending(self) -> bool:
        return self._wake.is_set()

    async def run(self) -> None:
        """Passes until cancelled: the first at once, then on every wake or resync."""
        self._loop = asyncio.get_running_loop()
        self._wake.set()
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._resync_period)
            except TimeoutError:
                self.full_due = True  # the resync: facts again, and a full reconcile
            wait = self._last_start + self._min_interval - self._loop.time()
            if wait > 0:
                await asyncio.sleep(wait)  # events meanwhile go into this pass
            self._last_start = self._loop.time()
            self._wake.clear()
            full, self.full_due = self.full_due, False
            self.started += 1
            number = self.started
            try:
                await self._run_pass(full)
            except Exception:
                logger.exception("pass failed; the kernel keeps its last state")
            async with self._done:
                self.done = number
                self._done.notify_all()

    async def wait_for_pass(self, target: int, timeout: float) -> bool:
        """Until pass number ``target`` has completed; False if it did not within ``timeout`` seconds."""
        async with self._done:
            try:
                await asyncio.wait_for(self._done.wait_for(lambda: self.done >= target), timeout=timeout)
            except TimeoutError:
                return False
        return True
