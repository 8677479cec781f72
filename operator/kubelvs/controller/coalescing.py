"""Passes one at a time, and requests that pile up while one runs served together by the next."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable


class Outcome(enum.StrEnum):
    """How a pass ended: every write stored, or some writes to retry."""

    CLEAN = "clean"
    RETRY = "retry"


class Coalescer:
    """A pass reads the whole current world, so one that starts after a request serves it."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._requested = 0
        self._served = 0
        self.needs_retry = False

    async def request(self, run_pass: Callable[[], Awaitable[Outcome]]) -> Outcome:
        """Run ``run_pass``, or return at once if a pass that started after this request already ran."""
        self._requested += 1
        ticket = self._requested
        async with self._lock:
            if self._served >= ticket:
                return Outcome.RETRY if self.needs_retry else Outcome.CLEAN
            self._served = self._requested
            outcome = await run_pass()
            self.needs_retry = outcome is Outcome.RETRY
            return outcome
