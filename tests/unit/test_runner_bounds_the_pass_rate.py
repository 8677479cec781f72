"""The runner's bounded frequency (kube-proxy's minSyncPeriod): an event after a quiet spell is planned at once,
a stream of events is taken in passes at most one per interval, each with everything since the last."""

from __future__ import annotations

import asyncio
import itertools

from kubelvs.agent.runner import Runner


async def test_an_event_after_a_quiet_spell_is_planned_at_once() -> None:
    loop = asyncio.get_running_loop()
    started: list[float] = []

    async def run_pass(full: bool) -> None:
        started.append(loop.time())

    runner = Runner(run_pass, resync_period=3600, min_interval=1.0)
    task = asyncio.create_task(runner.run())
    try:
        while runner.done < 1:
            await asyncio.sleep(0.01)
        await asyncio.sleep(1.2)  # quiet for longer than the interval
        woken = loop.time()
        runner.wake()
        while runner.done < 2:
            await asyncio.sleep(0.01)
        assert started[1] - woken < 1.0, "a debounce would have waited the interval"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_stream_of_events_is_taken_in_passes_one_interval_apart() -> None:
    loop = asyncio.get_running_loop()
    started: list[float] = []
    seen: list[int] = []
    events = [0]

    async def run_pass(full: bool) -> None:
        started.append(loop.time())
        seen.append(events[0])

    runner = Runner(run_pass, resync_period=3600, min_interval=0.2)
    task = asyncio.create_task(runner.run())
    try:
        while runner.done < 1:
            await asyncio.sleep(0.005)
        for _ in range(20):  # an event every 20 ms for 0.4 s
            events[0] += 1
            runner.wake()
            await asyncio.sleep(0.02)
        while runner.pending or runner.done < runner.started:
            await asyncio.sleep(0.01)
        gaps = [b - a for a, b in itertools.pairwise(started)]
        assert all(gap >= 0.2 - 0.005 for gap in gaps), gaps
        assert len(started) <= 1 + 3, f"20 events in 0.4 s make a few passes, not {len(started)}"
        assert seen[-1] == 20, "the last pass took every event"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
