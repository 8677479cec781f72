"""A holder that leaves its group signs the release (``released-by``), so lower ranks do not wait for it.

Lower ranks give a free Lease to higher ones for a retry period per rank. The node that just released the
Lease ranks higher than the standby but will never take it, so the standby must not wait for it: with
``preferred: [a, b]`` node-b takes the Lease at the first look after node-a's release. The checks read what
happened -- the Lease's stored versions and node-b's reads -- not the wall clock.
"""

from __future__ import annotations

from election_helpers import GROUP, PATIENCE, Sampler, lease_requests, lease_versions, states, wait_for

PREFERRED = {GROUP: ["node-a", "node-b"]}


async def test_the_standby_takes_a_released_lease_at_its_first_look(start, emulator):
    holder = await start("node-a", PREFERRED)
    await wait_for(lambda: GROUP in holder.held, timeout=PATIENCE)
    standby = await start("node-b", PREFERRED)
    await wait_for(lambda: lease_requests(emulator, "node-b", "GET") >= 2, timeout=PATIENCE)
    last_before = len(lease_versions(emulator)) - 1
    with Sampler([holder, standby]) as sampler:
        await holder.close()  # returns once the release is stored
        reads_before = lease_requests(emulator, "node-b", "GET")
        await wait_for(lambda: GROUP in standby.held, timeout=PATIENCE)
        reads_after = lease_requests(emulator, "node-b", "GET")
    assert sampler.overlaps() == []
    versions = lease_versions(emulator)[last_before:]
    assert states(versions) == [("node-a", ""), ("", ""), ("node-b", "")]
    release = next(version for version in versions if not version.holder)
    assert release.released_by == "node-a"
    assert versions[-1].released_by == ""  # taking it clears the signature
    # Without the signature node-b would read the free Lease, wait a retry period for node-a, read again.
    assert reads_after - reads_before <= 1, f"node-b read the free Lease {reads_after - reads_before} times"


async def test_a_handover_to_a_preempting_node_is_not_signed(start, emulator):
    # The old holder stays a candidate after a preemption, so it keeps its head start over lower ranks.
    preferred = {GROUP: ["node-a", "node-b"]}
    low = await start("node-b", preferred)
    await wait_for(lambda: GROUP in low.held, timeout=PATIENCE)
    high = await start("node-a", preferred)
    await wait_for(lambda: GROUP in high.held, timeout=PATIENCE)
    handover = next(version for version in lease_versions(emulator) if version.state == ("", "node-a"))
    assert handover.released_by == ""
