"""A holder that shuts down releases its Lease and a standby leads sub-second."""

from __future__ import annotations

import asyncio

from election_helpers import GROUP, NAMESPACE, Sampler, wait_for


async def test_graceful_release_hands_over_sub_second(start, emulator):
    holder = await start("node-a")
    await wait_for(lambda: GROUP in holder.held, timeout=2)
    standby = await start("node-b")
    with Sampler([holder, standby]) as sampler:
        await wait_for(lambda: emulator.lease(NAMESPACE, GROUP)["spec"]["holderIdentity"] == "node-a", timeout=1)
        await holder.close()
        assert holder.held == frozenset()
        took = await wait_for(lambda: GROUP in standby.held, timeout=2)
    assert took < 1.0, f"handover took {took:.2f}s"
    assert sampler.overlaps() == []
    print(f"graceful handover: {took:.3f}s")


async def test_dropping_a_candidacy_releases_the_group(start, emulator):
    holder = await start("node-a")
    await wait_for(lambda: GROUP in holder.held, timeout=2)
    await holder.set_candidacies({})
    assert holder.held == frozenset()
    lease = emulator.lease(NAMESPACE, GROUP)
    assert lease["spec"].get("holderIdentity") is None
    assert lease["spec"]["leaseDurationSeconds"] == 1


async def test_the_agent_unbinds_before_the_lease_is_released(start, emulator):
    seen: list[tuple[frozenset[str], str | None]] = []

    async def unbind_slowly(held):
        await asyncio.sleep(0.3)  # the agent removing the VIP takes a while
        seen.append((held, emulator.lease(NAMESPACE, GROUP)["spec"].get("holderIdentity")))

    holder = await start("node-a", on_change=unbind_slowly)
    await wait_for(lambda: len(seen) == 1, timeout=3)
    assert seen == [(frozenset({GROUP}), "node-a")]
    await holder.close()
    # When the step-down was reported the Lease still named node-a: the release came after the callback.
    assert seen[1] == (frozenset(), "node-a")
    assert emulator.lease(NAMESPACE, GROUP)["spec"].get("holderIdentity") is None
