"""What the health tests observe: every attempt a real checker made, and a wait on a condition.

The tests assert on the engine's attempts and their order (how many before a transition, how far apart
they started), not on how long a step took: on a loaded host every step is late, but the engine's own
schedule -- retries, delays, one probe per cycle when down -- shows in the attempts whatever the load.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kubelvs.agent.health import Checker, CheckSpec, Result

PATIENCE = 20.0
"""A deadline for what must happen, not an expectation of when: a loaded host may be slow."""

EARLY = 0.005
"""How much earlier than asked asyncio may wake a sleeper (it rounds timers to its clock resolution)."""


@dataclass(frozen=True)
class Attempt:
    started: float  # time.monotonic() when the engine asked
    port: int
    result: Result


@dataclass
class Recording:
    """A real checker with a record of every attempt the engine asked of it, in order."""

    checker: Checker
    attempts: list[Attempt] = field(default_factory=list)

    async def check(self, target: CheckSpec, timeout: float) -> Result:
        started = time.monotonic()
        result = await self.checker.check(target, timeout)
        self.attempts.append(Attempt(started, target.port, result))
        return result

    async def close(self) -> None:
        await self.checker.close()

    def starts(self, port: int, since: float = 0.0) -> list[float]:
        """When the attempts on ``port`` that started at ``since`` or later started."""
        return [attempt.started for attempt in self.attempts if attempt.port == port and attempt.started >= since]


async def until(predicate: Callable[[], object], timeout: float = PATIENCE) -> float:
    """Wait until predicate() holds; return the seconds it took (fail the test after ``timeout``)."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, f"condition not met within {timeout}s"
        await asyncio.sleep(0.01)
    return time.monotonic() - started
