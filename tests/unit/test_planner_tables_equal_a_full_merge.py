"""The IPVS tables a planner keeps across plans are the full merge's, map for map, after any sequence of share
changes; what they say changed turns the last maps into the new ones; the services handed out never change,
nor do the destinations and masquerades when the update falls back on a full merge (they are written in
place only when the changes say how)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kubelvs.netstate import Destination, DestKey, Family, Fwd, NodeState, Proto, Service, ServiceKey, SnatRule
from kubelvs.planner.parts import Parts
from kubelvs.planner.tables import MergedTables

VIRTUAL_SERVERS = ("ns/a", "ns/b", "ns/c")


def director(vs: int, port: int, pods: frozenset[int]) -> Parts:
    """A director share of VirtualServer ``vs`` on VIP port ``port``: one NAT destination and masquerade per
    pod; two ports of one VIP masquerade the same pod alike (so masquerades overlap between shares)."""
    key = ServiceKey(Family.INET, Proto.TCP, "192.0.2.1", port)
    parts = Parts()
    parts.services[key] = Service(key, "rr" if vs % 2 else "wrr")
    for pod in sorted(pods):
        dest = Destination(DestKey(key, f"10.0.0.{pod}", 8080), Fwd.MASQ, weight=pod % 3)
        parts.destinations[dest.key] = dest
        rule = SnatRule(Family.INET, f"10.0.0.{pod}", Proto.TCP, 8080, "192.0.2.1")
        parts.snat_rules[rule] = rule
    return parts


def full_merge(shares: dict[str, Parts | None]) -> MergedTables:
    tables = MergedTables()
    tables.rebuild(shares.items())
    return tables


def state_of(tables: MergedTables) -> NodeState:
    return NodeState(services=tables.services, destinations=tables.destinations, snat_rules=tables.snat_rules)


share = st.one_of(
    st.none(),
    st.tuples(st.integers(80, 81), st.frozensets(st.integers(1, 6), max_size=5)),
)
step = st.dictionaries(st.sampled_from(VIRTUAL_SERVERS), share, min_size=1)


@settings(max_examples=300, deadline=None)
@given(st.lists(step, min_size=1, max_size=8))
def test_kept_tables_equal_a_full_merge_after_every_change(
    steps: list[dict[str, tuple[int, frozenset[int]] | None]],
) -> None:
    tables = MergedTables()
    shares: dict[str, Parts | None] = {}
    tables.rebuild(shares.items())
    state = state_of(tables)
    for change in steps:
        for name, made in change.items():
            shares[name] = None if made is None else director(VIRTUAL_SERVERS.index(name), *made)
        before = {name: dict(getattr(state, name)) for name in ("services", "destinations", "snat_rules")}
        ordered = dict(sorted(shares.items()))
        changes = tables.update(ordered, state)
        fresh = full_merge(ordered)
        assert (tables.services, tables.destinations, tables.snat_rules) == (
            fresh.services,
            fresh.destinations,
            fresh.snat_rules,
        )
        assert state.services == before["services"]  # copied on write
        if changes is None:  # a full merge: the last plan's maps are as they were (undone if written)
            for name, kept in before.items():
                assert getattr(state, name) == kept
        else:
            assert (state.destinations, state.snat_rules) == (tables.destinations, tables.snat_rules)
            assert changes.since is state
            for name in ("services", "destinations"):
                changed, removed = getattr(changes, name)
                replayed = {k: v for k, v in before[name].items() if k not in removed}
                replayed.update((value.key, value) for value in changed)
                assert replayed == getattr(tables, name)
            added, gone = changes.snat_rules
            assert (set(before["snat_rules"]) - gone) | set(added) == set(tables.snat_rules)
        state = state_of(tables)


def test_two_shares_making_one_destination_are_merged_as_the_full_merge_orders_them() -> None:
    tables = MergedTables()
    first = {"ns/a": director(0, 80, frozenset({1})), "ns/b": None}
    tables.rebuild(first.items())
    state = state_of(tables)
    # ns/b makes ns/a's service too (the judgement rejects that; the tables must still not guess)
    second = {"ns/a": first["ns/a"], "ns/b": director(1, 80, frozenset({1, 2}))}
    assert tables.update(second, state) is None
    assert tables.services == full_merge(second).services
    assert tables.services[ServiceKey(Family.INET, Proto.TCP, "192.0.2.1", 80)].scheduler == "rr"
    # and while two shares make one key, every update is the full merge's
    third = {"ns/a": None, "ns/b": second["ns/b"]}
    assert tables.update(third, state_of(tables)) is None
    assert tables.destinations == full_merge(third).destinations


def test_nothing_changed_says_so_and_hands_out_the_same_maps() -> None:
    tables = MergedTables()
    shares: dict[str, Parts | None] = {"ns/a": director(0, 80, frozenset({1, 2}))}
    tables.rebuild(shares.items())
    state = state_of(tables)
    changes = tables.update(shares, state)
    assert changes is not None and changes.since is state
    assert changes.services == ([], set()) and changes.destinations == ([], set())
    assert changes.snat_rules == ([], set())
    assert tables.destinations is state.destinations
