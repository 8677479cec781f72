"""Followers watch their Lease: a change reaches them when it is written, not at their next poll.

The retry periods here are long (seconds), and each change under test is made right after the follower's
poll, so its next poll is a whole retry period away: whatever happens well before that was the watch's doing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from election_helpers import (
    GROUP,
    NAMESPACE,
    PATIENCE,
    Sampler,
    lease_requests,
    lease_versions,
    seconds_between,
    states,
    wait_for,
)
from kubernetes import client as k8s
from leases_emulator import LEASES

from kubelvs.agent.election import ElectionSettings
from kubelvs.agent.leases import KubernetesLeases, LeaseRecord, Listener, micro_time

SLOW_POLLS = ElectionSettings(lease_duration=10.0, renew_deadline=8.0, renew_period=6.0, retry_period=5.0)
"""A follower reads the Lease every 5 s; the Lease lasts long enough that nothing expires meanwhile."""
QUICK_LEASE = ElectionSettings(lease_duration=4.0, renew_deadline=3.0, renew_period=2.5, retry_period=2.0)
"""Half a Lease between polls: a follower that only polled would notice a renewal up to 2 s late."""


@pytest.fixture()
async def raw_store(emulator) -> AsyncIterator[Callable[[str], KubernetesLeases]]:
    """A bare store for a node that writes the Lease by hand (no Election): a holder under the test's control."""
    clients: list[k8s.ApiClient] = []

    def make(node: str) -> KubernetesLeases:
        api = k8s.ApiClient(k8s.Configuration(host=str(emulator.url).rstrip("/")))
        api.user_agent = node
        clients.append(api)
        return KubernetesLeases(api, NAMESPACE)

    yield make
    for api in clients:
        api.close()


async def right_after_a_poll(emulator, node: str) -> None:
    """Return just after ``node`` read the Lease, so its next poll is a retry period away."""
    reads = lease_requests(emulator, node, "GET")
    await wait_for(lambda: lease_requests(emulator, node, "GET") > reads, timeout=PATIENCE, step=0.002)


async def test_a_released_lease_is_taken_on_the_watch_event(start, emulator):
    holder = await start("node-a", settings=SLOW_POLLS)
    await wait_for(lambda: GROUP in holder.held, timeout=PATIENCE)
    standby = await start("node-b", settings=SLOW_POLLS)
    await right_after_a_poll(emulator, "node-b")
    reads = lease_requests(emulator, "node-b", "GET")
    with Sampler([holder, standby]) as sampler:
        await holder.close()
        took = await wait_for(lambda: GROUP in standby.held, timeout=PATIENCE, step=0.002)
    assert lease_requests(emulator, "node-b", "GET") == reads, "node-b read the Lease: a poll, not the watch"
    assert took < SLOW_POLLS.retry_period / 5, f"took {took:.3f}s with polls {SLOW_POLLS.retry_period}s apart"
    assert sampler.overlaps() == []
    assert states(lease_versions(emulator))[-2:] == [("", ""), ("node-b", "")]
    print(f"released Lease taken {took * 1000:.0f} ms after the release returned")


async def test_a_crashed_holder_is_replaced_a_lease_duration_after_its_last_renewal(start, emulator, raw_store):
    store = raw_store("node-a")
    stamp = micro_time()
    lease = LeaseRecord(GROUP, "node-a", QUICK_LEASE.lease_duration, acquire_time=stamp, renew_time=stamp)
    record = await store.create(lease)
    standby = await start("node-b", settings=QUICK_LEASE)
    await wait_for(lambda: standby.holders().get(GROUP) == "node-a", timeout=PATIENCE)
    await right_after_a_poll(emulator, "node-b")
    await store.replace(record.changed(renew_time=micro_time()))  # the last renewal: node-a crashes here
    await wait_for(lambda: GROUP in standby.held, timeout=PATIENCE)
    renewal, taken = lease_versions(emulator)[-2:]
    assert (renewal.holder, taken.holder) == ("node-a", "node-b")
    # Both stamps come from this host's clock. Had node-b learnt of the renewal only at its next poll, it
    # would have waited for the Lease from then on: up to lease_duration + retry_period (6 s).
    failover = seconds_between(renewal.renew_time, taken.acquire_time)
    assert QUICK_LEASE.lease_duration <= failover < QUICK_LEASE.lease_duration + 0.5, f"failover {failover:.3f}s"
    print(f"failover {failover:.3f}s after the last renewal (lease {QUICK_LEASE.lease_duration}s)")


async def test_a_lower_rank_still_waits_for_a_candidate_that_stays(start, emulator):
    # node-a leaves; node-b and node-c both see the release at once, and node-c leaves node-b its head start.
    preferred = {GROUP: ["node-a", "node-b", "node-c"]}
    settings = ElectionSettings(lease_duration=4.0, renew_deadline=3.0, renew_period=1.5, retry_period=1.0)
    holder = await start("node-a", preferred, settings)
    await wait_for(lambda: GROUP in holder.held, timeout=PATIENCE)
    middle = await start("node-b", preferred, settings)
    low = await start("node-c", preferred, settings)
    await wait_for(lambda: lease_requests(emulator, "node-c", "GET") >= 2, timeout=PATIENCE)
    last_before = len(lease_versions(emulator)) - 1
    with Sampler([holder, middle, low]) as sampler:
        await holder.close()
        await wait_for(lambda: GROUP in middle.held, timeout=PATIENCE)
        await wait_for(lambda: lease_requests(emulator, "node-c", "GET") >= 2 + 2, timeout=PATIENCE)
    assert all("node-c" not in believers for _, believers in sampler.samples)
    assert states(lease_versions(emulator)[last_before:])[:3] == [("node-a", ""), ("", ""), ("node-b", "")]


class UnwatchedLeases(KubernetesLeases):
    """A store whose watch never reports anything: a watch that is broken for good."""

    def watch(self, name: str, listener: Listener) -> Callable[[], None]:
        return lambda: None


async def test_without_a_watch_polling_still_hands_over(start, emulator):
    holder = await start("node-a", store=UnwatchedLeases)
    await wait_for(lambda: GROUP in holder.held, timeout=PATIENCE)
    standby = await start("node-b", store=UnwatchedLeases)
    await wait_for(lambda: lease_requests(emulator, "node-b", "GET") >= 1, timeout=PATIENCE)
    reads = lease_requests(emulator, "node-b", "GET")
    await holder.close()
    await wait_for(lambda: GROUP in standby.held, timeout=PATIENCE)
    assert lease_requests(emulator, "node-b", "GET") > reads  # it found out by reading
    assert states(lease_versions(emulator))[-2:] == [("", ""), ("node-b", "")]


def watches_opened(emulator, node: str) -> int:
    """How many watches on Leases the node asked for (answered or not)."""
    return sum(
        1
        for request in emulator
        if request.resource == LEASES
        and request.headers.get("User-Agent") == node
        and request.url.query.get("watch") == "true"
    )


async def test_the_watch_starts_again_after_an_api_outage(start, emulator):
    holder = await start("node-a", settings=SLOW_POLLS)
    await wait_for(lambda: GROUP in holder.held, timeout=PATIENCE)
    emulator.partitioned.add("node-b")  # node-b starts cut off: its first read and its watches fail
    standby = await start("node-b", settings=SLOW_POLLS)
    await wait_for(lambda: watches_opened(emulator, "node-b") >= 2, timeout=PATIENCE)
    emulator.partitioned.clear()
    reads = lease_requests(emulator, "node-b", "GET")
    # Its next poll is 5 s away: the watch, started again after its back-off, tells it who holds the Lease.
    learnt = await wait_for(lambda: standby.holders().get(GROUP) == "node-a", timeout=PATIENCE)
    assert lease_requests(emulator, "node-b", "GET") == reads
    assert learnt < SLOW_POLLS.retry_period / 2, f"learnt after {learnt:.2f}s"
    await holder.close()
    await wait_for(lambda: GROUP in standby.held, timeout=PATIENCE)
    assert lease_requests(emulator, "node-b", "GET") == reads  # and of the release, the same way
