"""Candidates racing for one Lease: at every sample at most one node believes it leads."""

from __future__ import annotations

import asyncio

import pytest
from election_helpers import GROUP, NAMESPACE, Sampler, wait_for


@pytest.mark.parametrize("count", [pytest.param(2, id="two-candidates"), pytest.param(3, id="three-candidates")])
async def test_racing_candidates_never_both_lead(start, emulator, count):
    nodes = [f"node-{index}" for index in range(count)]
    elections = list(await asyncio.gather(*(start(node) for node in nodes)))
    with Sampler(elections) as sampler:
        # Three rounds: the cold-start race for a missing Lease, then two races after a graceful release.
        for _ in range(3):
            await wait_for(lambda: len(sampler.believers()) == 1, timeout=3)
            await asyncio.sleep(0.6)  # a few renewals while the others keep polling
            (holder,) = [e for e in elections if GROUP in e.held]
            elections.remove(holder)
            sampler.elections = [*elections, holder]
            await holder.close()  # graceful: the others race for the released Lease
            if not elections:
                break
            elections.append(await start(holder.identity))
            sampler.elections = list(elections)
        await wait_for(lambda: len(sampler.believers()) == 1, timeout=3)
    assert sampler.overlaps() == []
    assert len(sampler.samples) > 100  # sampled all along (every 5 ms when the loop is idle)
    lease = emulator.lease(NAMESPACE, GROUP)
    assert lease["spec"]["holderIdentity"] in nodes
    assert lease["spec"]["leaseTransitions"] >= 3
