"""Shared helpers of the election tests: the group under test, a belief sampler and a polling wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from kubelvs.agent.election import Election

NAMESPACE = "kube-lvs"
GROUP = "kubelvs-directors-0123456789ab"


class Sampler:
    """Samples which nodes believe they lead, every few milliseconds, while a test runs."""

    def __init__(self, elections: list[Election], group: str = GROUP) -> None:
        self.elections = elections
        self.group = group
        self.samples: list[tuple[float, frozenset[str]]] = []
        self._task: asyncio.Task[None] | None = None

    def believers(self) -> frozenset[str]:
        return frozenset(e.identity for e in self.elections if self.group in e.held)

    async def _run(self) -> None:
        while True:
            self.samples.append((time.monotonic(), self.believers()))
            await asyncio.sleep(0.005)

    def __enter__(self) -> Sampler:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()

    def overlaps(self) -> list[tuple[float, frozenset[str]]]:
        return [(at, nodes) for at, nodes in self.samples if len(nodes) > 1]


async def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.01) -> float:
    """Wait until predicate() holds; return the seconds it took (fail the test on timeout)."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(step)
    return time.monotonic() - started
