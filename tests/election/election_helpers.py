"""Shared helpers of the election tests: the group under test, a belief sampler, a polling wait, and what the
emulator recorded (every stored version of the Lease, every request a node sent)."""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from leases_emulator import LEASES

from kubelvs.agent.election import Election

NAMESPACE = "kube-lvs"
GROUP = "kubelvs-directors-0123456789ab"
PREEMPTED_BY = "lvs.kubelvs.io/preempted-by"
RELEASED_BY = "lvs.kubelvs.io/released-by"

PATIENCE = 20.0
"""A deadline for what must happen, not an expectation of when: a loaded host may be slow, a broken
election never gets there. How long a step takes is asserted only where the timing is the behaviour."""


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


class Version(NamedTuple):
    """One stored version of a Lease, as the emulator kept it ("" for an unset field)."""

    holder: str
    preempted_by: str
    renew_time: str
    acquire_time: str
    released_by: str = ""

    @property
    def state(self) -> tuple[str, str]:
        """Who holds it and who it is reserved for: what a renewal leaves unchanged."""
        return (self.holder, self.preempted_by)


def lease_versions(emulator: Any, group: str = GROUP) -> list[Version]:
    """Every version the Lease was stored in, oldest first: the whole record, however fast it changed."""
    versions = []
    for stored in emulator.objects[LEASES, NAMESPACE, group].history:
        if stored is None:
            continue
        spec, annotations = stored["spec"], stored["metadata"].get("annotations") or {}
        versions.append(
            Version(
                spec.get("holderIdentity") or "",
                annotations.get(PREEMPTED_BY, ""),
                spec.get("renewTime") or "",
                spec.get("acquireTime") or "",
                annotations.get(RELEASED_BY, ""),
            )
        )
    return versions


def states(versions: Sequence[Version]) -> list[tuple[str, str]]:
    """The (holder, reserved-for) states the Lease went through, renewals folded away."""
    folded: list[tuple[str, str]] = []
    for version in versions:
        if not folded or folded[-1] != version.state:
            folded.append(version.state)
    return folded


def lease_requests(emulator: Any, node: str, method: str) -> int:
    """How many requests of ``method`` the node sent for Leases (its User-Agent is the node name); a GET that
    opens a watch is not a read and is not counted."""
    return sum(
        1
        for request in emulator
        if request.resource == LEASES
        and request.method == method
        and request.headers.get("User-Agent") == node
        and request.url.query.get("watch") != "true"
    )


def seconds_between(earlier: str, later: str) -> float:
    """Between two MicroTime stamps (both written on this host, so one clock)."""
    return (datetime.datetime.fromisoformat(later) - datetime.datetime.fromisoformat(earlier)).total_seconds()


async def agent_idle(agent: Any) -> None:
    """Until a ClusterAgent has no pass running or pending (checked every 0.5 s)."""
    seen = -1
    while seen != agent.runner.done or agent.runner.started != agent.runner.done:
        seen = agent.runner.done
        await asyncio.sleep(0.5)
