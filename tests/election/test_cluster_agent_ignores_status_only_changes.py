"""The in-cluster agent is not woken by status writes (the operator's conditions, its own reports), and its
reporter judges what to write by the status the API server shows now, not by the status it last parsed.

Before: every status PATCH on a VirtualServer came back as a watch event and ran a pass in every agent.
"""

from __future__ import annotations

import asyncio

from election_helpers import agent_idle, wait_for
from test_cluster_agent_weight_edit_is_one_op import BASE, cluster_agent, populate

from kubelvs.agent.reporting import Reporter
from kubelvs.netstate import EditService

CONDITION = {"type": "Ready", "status": "True", "reason": "Programmed", "message": "set by a test"}


async def test_status_writes_wake_no_pass_and_are_not_repeated(emulator) -> None:  # type: ignore[no-untyped-def]
    await populate(emulator)
    from reconciling import Node as FakeNode  # tests/unit is on the path once the weight-edit module is imported

    node = FakeNode.new()
    agent, api = cluster_agent(emulator, node)
    stop = asyncio.Event()
    status_writes: list[str] = []
    original = Reporter.status

    async def counting(self: Reporter, obj, fields, current=None) -> bool:  # type: ignore[no-untyped-def]
        wrote = await original(self, obj, fields, current)
        if wrote:
            status_writes.append(obj.key)
        return wrote

    agent.reporter.status = counting.__get__(agent.reporter)  # type: ignore[method-assign]
    run = asyncio.create_task(agent.run(stop))

    try:
        await wait_for(lambda: len(node.ipvs.dests) == 9 and bool(agent.election.held), timeout=10)
        await wait_for(
            lambda: agent.source.status_of("VirtualServer", "default/web1").get("activeDirector") == "node-a", 10
        )
        await agent_idle(agent)
        assert status_writes, "the holder reports activeDirector and effectiveWeight"

        # A full pass (the resync) re-reports: everything it would write is already shown.
        written, passes = len(status_writes), agent.runner.done
        agent.runner.wake(full=True)
        await wait_for(lambda: agent.runner.done > passes, 5)
        await agent_idle(agent)
        assert len(status_writes) == written

        # Someone else's status write (the operator's condition): stored, but no pass.
        passes = agent.runner.done
        response = await emulator.patch(
            f"{BASE}/virtualservers/web1/status", json={"status": {"conditions": [CONDITION]}}
        )
        assert response.status == 200
        await wait_for(
            lambda: agent.source.status_of("VirtualServer", "default/web1").get("conditions") == [CONDITION], 5
        )
        await asyncio.sleep(1.0)  # time for a pass to start, had the event woken one
        assert agent.runner.done == agent.runner.started == passes

        # A spec change still does (the control: the watch is alive and wakes on what matters).
        node.ipvs.applied.clear()
        response = await emulator.patch(f"{BASE}/virtualservers/web1", json={"spec": {"scheduler": "lc"}})
        assert response.status == 200
        await wait_for(lambda: agent.runner.done > passes, 5)
        await agent_idle(agent)
        assert [type(op) for op in node.ipvs.applied] == [EditService]
    finally:
        stop.set()
        await run
        api.close()
