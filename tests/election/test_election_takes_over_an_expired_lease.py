"""A holder that stops renewing (crashed) is replaced once its Lease expired -- not earlier, not much later."""

from __future__ import annotations

import time

from election_helpers import GROUP, NAMESPACE, Sampler, wait_for

from kubelvs.agent.election import ElectionSettings


async def test_a_crashed_holder_is_replaced_within_lease_duration_and_retry(start, emulator):
    settings = ElectionSettings()
    holder = await start("node-a", settings=settings)
    await wait_for(lambda: GROUP in holder.held, timeout=2)
    standby = await start("node-b", settings=settings)
    await wait_for(lambda: emulator.lease(NAMESPACE, GROUP)["spec"]["renewTime"] is not None, timeout=1)
    with Sampler([standby]) as sampler:
        await holder.close(release=False)  # a crash: no release, no more renewals
        crashed = time.monotonic()
        last_renewal = emulator.lease(NAMESPACE, GROUP)
        took = await wait_for(lambda: GROUP in standby.held, timeout=5)
    # Never before the Lease could have expired: last renewal at most one renew period before the crash.
    assert took >= settings.lease_duration - settings.renew_period
    assert took <= settings.lease_duration + 2 * settings.retry_period + 0.3, f"failover took {took:.2f}s"
    lease = emulator.lease(NAMESPACE, GROUP)
    assert lease["spec"]["holderIdentity"] == "node-b"
    assert lease["spec"]["leaseTransitions"] == last_renewal["spec"]["leaseTransitions"] + 1
    assert sampler.samples[0][0] >= crashed - 0.1
    print(f"failover after a crash: {took:.3f}s")
