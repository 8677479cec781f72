"""The Tribunal judges one change by re-judging only the groups it touches (objects linked by a service, marked
traffic or a VIP); after any sequence of puts,
removals, vetoes and placement changes its verdicts equal a fresh judgement of the whole set, and that
equals the API's set rules applied to the whole set at once (the reference the operator used before)."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from kubelvs.api.judgement import ACCEPTED, BY_AGE, Placement, Tribunal, Verdict, judge, placement_verdict
from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.problems import Problem
from kubelvs.api.rejections import Rejection
from kubelvs.api.set_rules import set_judgement

NAMES = ["a", "b", "c", "d"]
NAMESPACES = ["aa", "zz"]
VIPS = ["192.0.2.10", "192.0.2.11", "198.51.100.1"]  # the last is outside the pool below
RIPS = ["10.0.0.1", "10.0.0.2"]
POOL = Placement((ipaddress.ip_network("192.0.2.0/24"),), {"node-1": frozenset({"192.0.2.11"})})
VETO = Verdict(Rejection.SERVICE_CONFLICT, (Problem("status.conditions[Accepted]", "rejected by the operator"),))


def created(second: int) -> str:
    return f"2026-01-01T00:00:0{second}Z"


def make_vs(
    namespace: str,
    name: str,
    vip: str,
    port: int,
    second: int,
    mark: int | None = None,
    sharing: str | None = None,
) -> VirtualServer:
    """An address service, or (``mark``) a fwmark service marking ``vip`` on 80 and ``port``; claims meet on
    the service, the marked traffic and the VIP (shared across namespaces under one ``sharing`` key)."""
    spec: dict[str, object] = {"address": vip, "port": port, "forwarding": "nat", "natReturnPath": "snat"}
    if mark is not None:
        spec = {
            "fwmark": mark,
            "fwmarkMatch": {"destination": vip, "ports": sorted({80, port})},
            "forwarding": "nat",
        }
        spec["natReturnPath"] = "snat"
    metadata: dict[str, object] = {"name": name, "namespace": namespace, "creationTimestamp": created(second)}
    if sharing is not None:
        metadata["annotations"] = {"lvs.kubelvs.io/sharing-key": sharing}
    return VirtualServer.model_validate(
        {"apiVersion": "lvs.kubelvs.io/v1alpha1", "kind": "VirtualServer", "metadata": metadata, "spec": spec}
    )


def make_rs(namespace: str, name: str, parent: str, rip: str, port: int, second: int) -> RealServer:
    return RealServer.model_validate(
        {
            "apiVersion": "lvs.kubelvs.io/v1alpha1",
            "kind": "RealServer",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created(second)},
            "spec": {"virtualServer": parent, "address": rip, "port": port},
        }
    )


virtual_servers = st.builds(
    make_vs,
    st.sampled_from(NAMESPACES),
    st.sampled_from(NAMES),
    st.sampled_from(VIPS),
    st.sampled_from([80, 443]),
    st.integers(0, 3),
    st.one_of(st.none(), st.sampled_from([7, 8])),
    st.one_of(st.none(), st.just("web")),
)
real_servers = st.builds(
    make_rs,
    st.sampled_from(NAMESPACES),
    st.sampled_from(NAMES),
    st.sampled_from(NAMES),
    st.sampled_from(RIPS),
    st.sampled_from([8080, 8081]),
    st.integers(0, 3),
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.one_of(virtual_servers, real_servers), st.booleans()),
        st.tuples(st.just("remove"), st.sampled_from(["VirtualServer", "RealServer"]), st.sampled_from(NAMES)),
        st.tuples(st.just("placement"), st.booleans(), st.none()),
    ),
    max_size=30,
)


def whole_set_reference(
    objects: dict[tuple[str, str], VirtualServer | RealServer],
    vetoes: dict[tuple[str, str], Verdict],
    placement: Placement,
) -> dict[tuple[str, str], Verdict]:
    """Placement per VirtualServer, then the set rules over everything at once, as the operator judged."""
    verdicts: dict[tuple[str, str], Verdict] = {}
    placed: list[VirtualServer] = []
    children: list[RealServer] = []
    for key, obj in objects.items():
        if isinstance(obj, VirtualServer):
            verdict = vetoes.get(key) or placement_verdict(obj, placement)
            verdicts[key] = verdict or ACCEPTED
            if verdict is None:
                placed.append(obj)
        else:
            verdicts[key] = vetoes.get(key) or ACCEPTED
            if key not in vetoes:
                children.append(obj)
    unusable = {
        key[1]: f"is not accepted ({verdict.rejection}: {verdict.message})"
        for key, verdict in verdicts.items()
        if key[0] == "VirtualServer" and not verdict.accepted
    }
    # the rules in two steps, as the Tribunal does, so RealServers see their parent's final verdict
    for found in set_judgement(placed, (), order=BY_AGE, drop_rejected=True):
        verdicts[(found.kind, found.key)] = Verdict(found.reason, (found.problem,))
        unusable[found.key] = f"is not accepted ({found.reason}: {found.problem})"
    accepted = [vs for vs in placed if verdicts[("VirtualServer", vs.key)].accepted]
    listed: dict[tuple[str, str], list[Problem]] = {}
    reasons: dict[tuple[str, str], Rejection] = {}
    for found in set_judgement(accepted, children, order=BY_AGE, unusable=unusable, drop_rejected=True):
        listed.setdefault((found.kind, found.key), []).append(found.problem)
        reasons.setdefault((found.kind, found.key), found.reason)
    for key, problems in listed.items():
        verdicts[key] = Verdict(reasons[key], tuple(problems))
    return verdicts


@settings(max_examples=300, deadline=None)
@given(steps)
def test_incremental_verdicts_equal_a_fresh_whole_set_judgement(sequence: list[tuple[object, ...]]) -> None:
    tribunal = Tribunal(POOL)
    placement = POOL
    objects: dict[tuple[str, str], VirtualServer | RealServer] = {}
    vetoes: dict[tuple[str, str], Verdict] = {}
    in_force: dict[tuple[str, str], VirtualServer | RealServer] = {}
    for step in sequence:
        if step[0] == "put":
            obj, vetoed = step[1], step[2]
            assert isinstance(obj, VirtualServer | RealServer) and isinstance(vetoed, bool)
            key = (obj.kind, obj.key)
            objects[key] = obj
            vetoes.pop(key, None)
            if vetoed:
                vetoes[key] = VETO
            tribunal.put(obj, VETO if vetoed else None)
        elif step[0] == "remove":
            key = (str(step[1]), f"aa/{step[2]}")
            objects.pop(key, None)
            vetoes.pop(key, None)
            tribunal.remove(*key)
        else:
            placement = POOL if step[1] else Placement()
            tribunal.set_placement(placement)
        changes = tribunal.settle()
        for left in changes.left:
            del in_force[left]
        in_force.update(((obj.kind, obj.key), obj) for obj in changes.entered)

        fresh = judge(objects.values(), placement, vetoes)
        reference = whole_set_reference(objects, vetoes, placement)
        for key in objects:
            assert tribunal.verdict(*key) == fresh.verdict(*key) == reference[key], key
        # the changes handed out add up to exactly the objects in force
        assert in_force == {(o.kind, o.key): o for o in fresh.in_force()}
        assert set(in_force) == {key for key, verdict in reference.items() if verdict.accepted}


def test_the_older_claimant_keeps_a_vip_whatever_the_namespaces_are_called() -> None:
    older = make_vs("zz", "web", "192.0.2.10", 80, 1)
    newer = make_vs("aa", "web", "192.0.2.10", 80, 2)
    tribunal = judge([newer, older])
    assert [obj.key for obj in tribunal.in_force()] == ["zz/web"]
    verdict = tribunal.verdict("VirtualServer", "aa/web")
    assert verdict is not None and verdict.rejection is Rejection.SERVICE_CONFLICT
    assert "the older VirtualServer zz/web" in verdict.message


def test_a_veto_frees_the_claim_for_the_next_claimant() -> None:
    older = make_vs("zz", "web", "192.0.2.10", 80, 1)
    newer = make_vs("aa", "web", "192.0.2.10", 80, 2)
    tribunal = judge([newer, older], vetoes={("VirtualServer", "zz/web"): VETO})
    assert [obj.key for obj in tribunal.in_force()] == ["aa/web"]
    assert tribunal.verdict("VirtualServer", "zz/web") == VETO


def test_a_vip_that_is_a_node_address_is_never_in_force() -> None:
    tribunal = judge([make_vs("aa", "web", "192.0.2.11", 80, 1)], POOL)
    verdict = tribunal.verdict("VirtualServer", "aa/web")
    assert verdict is not None and verdict.rejection is Rejection.VIP_IS_NODE_ADDRESS
    assert list(tribunal.in_force()) == []
