"""A kept Planner re-plans only the VirtualServers whose objects changed, and agrees with a fresh plan()."""

from __future__ import annotations

import pytest
from objects import rs, vs

from kubelvs.api.groups import director_group
from kubelvs.api.models import Directors, RealServer, VirtualServer
from kubelvs.netstate import DestKey, Family, Proto, ServiceKey
from kubelvs.planner import NodeFacts, Planner, plan

DIRECTOR = NodeFacts(
    node="dir-a",
    labels={"kubelvs.io/director": "true"},
    local_addresses=frozenset({"198.51.100.1", "10.9.0.21"}),
    default_interfaces={Family.INET: "eth0"},
)
HELD = {director_group(Directors())}


def world() -> tuple[list[VirtualServer], list[RealServer]]:
    servers = [vs(f"web{i}", address=f"192.0.2.{i}", scheduler="wrr") for i in range(1, 6)]
    real = [
        rs(f"web{i}-{d}", f"10.9.{i}.{d}", virtual_server=f"web{i}", weight=d + 1)
        for i in range(1, 6)
        for d in range(3)
    ]
    return servers, real


def dest_key(i: int, d: int) -> DestKey:
    return DestKey(ServiceKey(Family.INET, Proto.TCP, f"192.0.2.{i}", 80), f"10.9.{i}.{d}", 80)


def test_one_real_server_edit_keeps_every_other_planned_object() -> None:
    servers, real = world()
    planner = Planner()
    planner.replace_all(servers, real)
    before = planner.plan(DIRECTOR, HELD).state
    destinations_before = dict(before.destinations)  # a copy: the planner writes its maps in place
    planner.put(rs("web3-1", "10.9.3.1", virtual_server="web3", weight=40))
    replanned = planner.plan(DIRECTOR, HELD)
    after = replanned.state
    changed = [k for k, d in after.destinations.items() if destinations_before[k] is not d]
    # only web3's share was made again, and in it only the edited real server's destination
    assert changed == [dest_key(3, 1)]
    assert replanned.changes is not None and replanned.changes.since is before
    assert [d.key for d in replanned.changes.destinations[0]] == changed
    assert replanned.changes.destinations[1] == set()
    assert after.destinations[dest_key(3, 1)].weight == 40
    assert all(after.services[k] is s for k, s in before.services.items() if k.address != "192.0.2.3")


def edits() -> list[tuple[str, VirtualServer | RealServer | tuple[str, str]]]:
    return [
        ("weight", rs("web2-0", "10.9.2.0", virtual_server="web2", weight=9)),
        ("scheduler", vs("web4", address="192.0.2.4", scheduler="rr")),
        ("claims-web1s-service", vs("web0", address="192.0.2.1", scheduler="rr")),
        ("moves-to-web5", rs("web2-1", "10.9.5.9", virtual_server="web5")),
        ("local-real-server", rs("web2-2", "10.9.0.21", virtual_server="web2")),
        ("orphan-local", rs("lost", "10.9.0.21", virtual_server="nowhere")),
        ("vip-held-by-a-backend", vs("web6", address="192.0.2.77")),
        ("backend-of-it", rs("web6-0", "198.51.100.1", virtual_server="web6", port=80)),
        ("remove-vs", ("VirtualServer", "default/web1")),
        ("remove-rs", ("RealServer", "default/web3-0")),
    ]


@pytest.mark.parametrize("steps", [pytest.param(n, id=f"after-{n}-edits") for n in range(1, len(edits()) + 1)])
def test_a_kept_planner_equals_a_fresh_plan_after_every_edit(steps: int) -> None:
    servers, real = world()
    objects: dict[tuple[str, str], VirtualServer | RealServer] = {(o.kind, o.key): o for o in [*servers, *real]}
    planner = Planner()
    planner.replace_all(servers, real)
    planner.plan(DIRECTOR, HELD)
    for _, edit in edits()[:steps]:
        if isinstance(edit, tuple):
            objects.pop(edit)
            planner.remove(*edit)
        else:
            objects[(edit.kind, edit.key)] = edit
            planner.put(edit)
        planner.plan(DIRECTOR, HELD)
    kept = planner.plan(DIRECTOR, HELD, sort=True)
    fresh = plan(
        [o for o in objects.values() if isinstance(o, VirtualServer)],
        [o for o in objects.values() if isinstance(o, RealServer)],
        DIRECTOR,
        HELD,
    )
    assert kept == fresh


def test_facts_or_held_groups_changing_replan_what_depends_on_them() -> None:
    servers, real = world()
    planner = Planner()
    planner.replace_all(servers, real)
    assert planner.plan(DIRECTOR, set()).state.addresses == {}
    held = planner.plan(DIRECTOR, HELD).state
    assert len(held.addresses) == 5  # the holder binds every VIP
    moved = NodeFacts(node="dir-a", labels=DIRECTOR.labels, default_interfaces={Family.INET: "eth1"})
    assert {k.interface for k in planner.plan(moved, HELD).state.addresses} == {"eth1"}
