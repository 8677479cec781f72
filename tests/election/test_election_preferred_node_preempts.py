"""directors.preferred: a higher-priority candidate takes the Lease back; a lower one never does."""

from __future__ import annotations

import asyncio

from election_helpers import GROUP, NAMESPACE, Sampler, wait_for

PREFERRED = ["node-a", "node-b"]


async def test_a_preferred_node_takes_the_lease_back(start, emulator):
    low = await start("node-c", {GROUP: PREFERRED})  # not listed: the lowest rank
    await wait_for(lambda: GROUP in low.held, timeout=2)
    high = await start("node-a", {GROUP: PREFERRED})
    with Sampler([low, high]) as sampler:
        took = await wait_for(lambda: GROUP in high.held, timeout=3)
        await asyncio.sleep(1.0)  # it stays there
    assert GROUP in high.held and GROUP not in low.held
    assert sampler.overlaps() == []
    assert took < 1.5, f"preemption took {took:.2f}s"
    lease = emulator.lease(NAMESPACE, GROUP)
    assert lease["spec"]["holderIdentity"] == "node-a"
    assert "lvs.kubelvs.io/preempted-by" not in lease["metadata"]["annotations"]
    print(f"preemption: {took:.3f}s")


async def test_a_handover_is_reserved_for_the_preempting_node(start, emulator):
    low = await start("node-c", {GROUP: PREFERRED})
    await wait_for(lambda: GROUP in low.held, timeout=2)
    middle = await start("node-b", {GROUP: PREFERRED})
    await wait_for(lambda: GROUP in middle.held, timeout=3)
    high = await start("node-a", {GROUP: PREFERRED})
    with Sampler([low, middle, high]) as sampler:
        await wait_for(lambda: GROUP in high.held, timeout=3)
        await asyncio.sleep(0.5)
    assert sampler.overlaps() == []
    # node-c saw the free, reserved Lease between node-b's release and node-a's acquisition: it kept off.
    assert all("node-c" not in believers for _, believers in sampler.samples)


async def test_a_lower_ranked_node_does_not_preempt(start, emulator):
    high = await start("node-a", {GROUP: PREFERRED})
    await wait_for(lambda: GROUP in high.held, timeout=2)
    low = await start("node-b", {GROUP: PREFERRED})
    await asyncio.sleep(2.0)
    assert GROUP in high.held and GROUP not in low.held
    assert "lvs.kubelvs.io/preempted-by" not in emulator.lease(NAMESPACE, GROUP)["metadata"]["annotations"]


async def test_a_reservation_for_a_vanished_node_expires(start, emulator):
    holder = await start("node-c", {GROUP: PREFERRED})
    await wait_for(lambda: GROUP in holder.held, timeout=2)
    standby = await start("node-b", {GROUP: PREFERRED})

    def request_from_a_node_that_dies(name, stored):
        stored["metadata"]["annotations"]["lvs.kubelvs.io/preempted-by"] = "node-a"
        return stored

    emulator.interlopers.append(request_from_a_node_that_dies)
    released = await wait_for(
        lambda: emulator.lease(NAMESPACE, GROUP)["spec"].get("holderIdentity") is None, timeout=2
    )
    assert released < 1.0
    assert GROUP not in holder.held  # it stepped down before it released
    lease = emulator.lease(NAMESPACE, GROUP)
    assert lease["metadata"]["annotations"]["lvs.kubelvs.io/preempted-by"] == "node-a"
    # node-a never comes: node-b respects the reservation for a lease duration, then takes the group.
    took = await wait_for(lambda: GROUP in standby.held, timeout=4)
    assert took >= holder.settings.lease_duration - 0.3, f"reservation ignored after {took:.2f}s"
    assert GROUP not in holder.held
