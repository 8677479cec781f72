"""A 409 Conflict on the acquiring write means another node won: the loser does not lead, and re-reads."""

from __future__ import annotations

import asyncio

from election_helpers import GROUP, NAMESPACE, wait_for

from kubelvs.agent.leases import micro_time


async def test_a_conflict_on_acquire_is_handled_as_a_lost_race(start, emulator):
    first = await start("node-a")
    await wait_for(lambda: GROUP in first.held, timeout=2)
    await first.close()  # the Lease is free now

    def intruder_wins(name, stored):
        # Another node's acquisition lands between node-b's read and node-b's write. It writes its own lease
        # duration, as a contender with the default settings does (the release before it wrote 1 s).
        stored["spec"].update(holderIdentity="intruder", renewTime=micro_time(), leaseDurationSeconds=2)
        stored["metadata"]["annotations"]["lvs.kubelvs.io/lease-duration-ms"] = "1500"
        return stored

    emulator.interlopers.append(intruder_wins)
    conflicts_before = emulator.conflicts
    contender = await start("node-b")
    await wait_for(lambda: emulator.conflicts > conflicts_before, timeout=2)
    assert contender.held == frozenset()
    assert emulator.lease(NAMESPACE, GROUP)["spec"]["holderIdentity"] == "intruder"
    # The intruder's Lease is still young (node-b sees it from when it was written, by the watch): it keeps off.
    await asyncio.sleep(1.0)
    assert contender.held == frozenset()
    # The intruder never renews: node-b takes over once the Lease expired.
    await wait_for(lambda: GROUP in contender.held, timeout=2)
    assert emulator.lease(NAMESPACE, GROUP)["spec"]["holderIdentity"] == "node-b"


async def test_a_holder_that_loses_its_lease_steps_down(start, emulator):
    holder = await start("node-a")
    await wait_for(lambda: GROUP in holder.held, timeout=2)

    def usurper(name, stored):
        stored["spec"].update(holderIdentity="usurper", renewTime=micro_time())
        return stored

    emulator.interlopers.append(usurper)
    took = await wait_for(lambda: GROUP not in holder.held, timeout=2)
    assert took <= 0.6  # at the next renewal
