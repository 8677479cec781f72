"""An agent that restarts while its Lease is still valid takes it up at once: a restart moves no VIP."""

from __future__ import annotations

from election_helpers import GROUP, NAMESPACE, Sampler, wait_for


async def test_a_restarted_holder_resumes_before_the_standby_can_take_over(start, emulator):
    holder = await start("node-a")
    await wait_for(lambda: GROUP in holder.held, timeout=2)
    standby = await start("node-b")
    await holder.close(release=False)  # the process ends without releasing (a restart, a crash)
    restarted = await start("node-a")
    with Sampler([restarted, standby]) as sampler:
        took = await wait_for(lambda: GROUP in restarted.held, timeout=2)
    assert took < restarted.settings.retry_period + 0.2
    assert GROUP not in standby.held
    assert sampler.overlaps() == []
    assert emulator.lease(NAMESPACE, GROUP)["spec"]["leaseTransitions"] == 0
