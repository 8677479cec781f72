"""A pass whose status writes fail asks for a retry and announces nothing; the retry writes and announces once.

The reconciler is driven directly with a recording writer standing in for the API server's status
subresource (the kopf edge and the real HTTP path are covered by the emulator-backed modules).
"""

from __future__ import annotations

import asyncio

from conftest import real_server, virtual_server

from kubelvs.controller.coalescing import Outcome
from kubelvs.controller.config import OperatorConfig
from kubelvs.controller.reconciling import Reconciler, World
from kubelvs.controller.writing import WriteOutcome


class Writer:
    """Answers from a script of outcomes (then WRITTEN) and records every write."""

    def __init__(self, *script: WriteOutcome) -> None:
        self.script = list(script)
        self.writes: list[tuple[str, str, str]] = []

    async def patch_status(self, kind, namespace, name, status):
        self.writes.append((kind, namespace, name))
        await asyncio.sleep(0)
        return self.script.pop(0) if self.script else WriteOutcome.WRITTEN


def world():
    vs = virtual_server("web", address="192.0.2.1")
    rs = real_server("web-1", "web")
    for obj in (vs, rs):
        obj["metadata"].update(generation=1, creationTimestamp="2026-01-01T00:00:00Z")
    return World({"default/web": vs}, {"default/web-1": rs}, {})


async def test_failed_writes_are_retried_and_announced_once():
    writer, notices = Writer(WriteOutcome.FAILED, WriteOutcome.FAILED), []
    reconciler = Reconciler(OperatorConfig(), writer, lambda body, notice: notices.append(notice.reason))

    assert await reconciler.reconcile(world) is Outcome.RETRY
    assert reconciler.needs_retry
    assert notices == []

    assert await reconciler.reconcile(world) is Outcome.CLEAN
    assert not reconciler.needs_retry
    assert sorted(notices) == ["Accepted", "Accepted"]
    assert len(writer.writes) == 4


async def test_a_repeated_pass_over_an_unchanged_world_writes_nothing():
    writer = Writer()
    reconciler = Reconciler(OperatorConfig(), writer, lambda body, notice: None)
    await reconciler.reconcile(world)
    writes = len(writer.writes)

    # The index has not caught up with the writes yet: the reconciler trusts what it wrote.
    assert await reconciler.reconcile(world) is Outcome.CLEAN
    assert len(writer.writes) == writes == 2


async def test_requests_that_pile_up_during_a_pass_share_the_next_one():
    writer = Writer()
    reconciler = Reconciler(OperatorConfig(), writer, lambda body, notice: None)
    reads = []

    def read():
        reads.append(1)
        return world()

    await asyncio.gather(*(reconciler.reconcile(read) for _ in range(10)))
    assert len(reads) == 2  # the first request's pass, then one for all nine that waited
