"""The runner's later wake: one full pass after the delay (draining destinations are looked at again), however
often it is asked for meanwhile; an ordinary wake stays an incremental pass."""

from __future__ import annotations

import asyncio

from kubelvs.agent.runner import Runner


async def test_a_later_wake_is_one_full_pass() -> None:
    passes: list[bool] = []

    async def run_pass(full: bool) -> None:
        passes.append(full)

    runner = Runner(run_pass, resync_period=3600)
    task = asyncio.create_task(runner.run())
    try:
        while runner.done < 1:
            await asyncio.sleep(0.01)
        runner.wake()
        while runner.done < 2:
            await asyncio.sleep(0.01)
        runner.wake_later(0.05)
        runner.wake_later(0.05)  # coalesced with the first
        await asyncio.sleep(0.3)
        assert passes == [True, False, True]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
