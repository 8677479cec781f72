"""A lone candidate creates the group's Lease, renews it, and writes what kubectl shows."""

from __future__ import annotations

import asyncio

from election_helpers import GROUP, NAMESPACE, wait_for


async def test_a_lone_candidate_creates_and_renews_the_lease(start, emulator):
    election = await start("node-a")
    await wait_for(lambda: GROUP in election.held, timeout=2)
    first = emulator.lease(NAMESPACE, GROUP)
    await asyncio.sleep(1.2)
    second = emulator.lease(NAMESPACE, GROUP)
    assert first is not None and second is not None
    assert second["spec"]["holderIdentity"] == "node-a"
    assert second["spec"]["leaseDurationSeconds"] == 2  # 1.5 s rounded up for kubectl
    assert second["metadata"]["annotations"]["lvs.kubelvs.io/lease-duration-ms"] == "1500"
    assert int(second["metadata"]["resourceVersion"]) >= int(first["metadata"]["resourceVersion"]) + 2
    assert second["spec"]["renewTime"] > first["spec"]["renewTime"]
    assert second["spec"]["acquireTime"] == first["spec"]["acquireTime"]
