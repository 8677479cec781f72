"""A holder cut off from the API server: fail-static keeps leading; client-go style steps down in time."""

from __future__ import annotations

import asyncio

from election_helpers import GROUP, NAMESPACE, Sampler, wait_for

from kubelvs.agent.election import ElectionSettings


async def test_fail_static_keeps_leading_while_the_api_is_gone_for_everyone(start, emulator):
    holder = await start("node-a")
    await wait_for(lambda: GROUP in holder.held, timeout=2)
    standby = await start("node-b")
    emulator.partitioned |= {"node-a", "node-b"}  # an API server outage
    await asyncio.sleep(3 * holder.settings.lease_duration)
    assert GROUP in holder.held and GROUP not in standby.held
    emulator.partitioned.clear()
    await asyncio.sleep(1.0)
    assert GROUP in holder.held and GROUP not in standby.held
    assert emulator.lease(NAMESPACE, GROUP)["spec"]["holderIdentity"] == "node-a"


async def test_fail_static_split_brain_ends_when_the_holder_is_back(start, emulator):
    holder = await start("node-a")
    await wait_for(lambda: GROUP in holder.held, timeout=2)
    standby = await start("node-b")
    emulator.partitioned.add("node-a")  # only the holder is cut off: the documented split brain
    await wait_for(lambda: GROUP in standby.held, timeout=3)
    assert GROUP in holder.held
    emulator.partitioned.clear()
    took = await wait_for(lambda: GROUP not in holder.held, timeout=2)
    assert took <= holder.settings.renew_period + 0.3
    assert GROUP in standby.held


async def test_without_fail_static_the_holder_steps_down_before_anyone_takes_over(start, emulator):
    settings = ElectionSettings(fail_static=False)
    holder = await start("node-a", settings=settings)
    await wait_for(lambda: GROUP in holder.held, timeout=2)
    standby = await start("node-b", settings=settings)
    with Sampler([holder, standby]) as sampler:
        emulator.partitioned.add("node-a")
        stepped_down = await wait_for(lambda: GROUP not in holder.held, timeout=3)
        await wait_for(lambda: GROUP in standby.held, timeout=3)
        emulator.partitioned.clear()
        await asyncio.sleep(0.5)
    assert sampler.overlaps() == []
    assert GROUP not in holder.held
    # The last renewal was sent at most one renew period before the cut: the deadline ends the term.
    assert stepped_down <= settings.renew_deadline + 0.2, f"stepped down after {stepped_down:.2f}s"
