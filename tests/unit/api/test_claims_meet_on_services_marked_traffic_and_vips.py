"""VirtualServers claim a service, the traffic a fwmarkMatch marks, and a VIP: the older claimant keeps each.

IPVS looks fwmark services up before address services, so a mark over another service's VIP:port takes its
packets; and a VIP is one tenant's unless both namespaces opt in with one ``lvs.kubelvs.io/sharing-key``.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubelvs.api.judgement import Tribunal, judge
from kubelvs.api.models import VirtualServer
from kubelvs.api.rejections import Rejection


def vs(
    key: str, second: int, *, vip: str = "192.0.2.10", port: int = 80, mark: int | None = None,
    ports: list[int] | None = None, protocol: str = "TCP", sharing: object = None,
) -> VirtualServer:  # fmt: skip
    namespace, name = key.split("/")
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    metadata["creationTimestamp"] = f"2026-01-01T00:00:{second:02d}Z"
    if sharing is not None:
        metadata["annotations"] = {"lvs.kubelvs.io/sharing-key": sharing}
    spec: dict[str, Any] = {"address": vip, "port": port, "protocol": protocol}
    if mark is not None:
        spec = {
            "fwmark": mark,
            "fwmarkMatch": {"destination": vip, "protocol": protocol, "ports": ports or [port]},
        }
    return VirtualServer.model_validate(
        {"apiVersion": "lvs.kubelvs.io/v1alpha1", "kind": "VirtualServer", "metadata": metadata, "spec": spec}
    )


def rejected(objects: list[VirtualServer]) -> dict[str, tuple[Rejection | None, str]]:
    tribunal = judge(objects)
    found = {}
    for obj in objects:
        verdict = tribunal.verdict("VirtualServer", obj.key)
        assert verdict is not None
        if not verdict.accepted:
            found[obj.key] = (verdict.rejection, verdict.message)
    return found


CONFLICTS = [
    pytest.param(
        [vs("a/web", 1), vs("a/marked", 2, mark=7, ports=[80, 443])],
        "a/marked",
        Rejection.SERVICE_CONFLICT,
        "spec.fwmarkMatch.ports[0]: TCP 192.0.2.10:80 is already the service of the older VirtualServer a/web; "
        "marking it would take that service's traffic",
        id="a mark over an older address service",
    ),
    pytest.param(
        [vs("a/marked", 1, mark=7, ports=[443, 80]), vs("a/web", 2)],
        "a/web",
        Rejection.SERVICE_CONFLICT,
        "spec.address: TCP 192.0.2.10:80 is already marked by the fwmarkMatch of the older VirtualServer a/marked "
        "(IPVS looks fwmark services up first",
        id="an address service under an older mark",
    ),
    pytest.param(
        [vs("a/seven", 1, mark=7, ports=[80, 443]), vs("a/eight", 2, mark=8, ports=[8443, 443])],
        "a/eight",
        Rejection.SERVICE_CONFLICT,
        "spec.fwmarkMatch.ports[1]: TCP 192.0.2.10:443 is already marked by the fwmarkMatch of the older "
        "VirtualServer a/seven",
        id="two marks over the same traffic",
    ),
    pytest.param(
        [vs("a/one", 1, mark=7, vip="192.0.2.10"), vs("a/two", 2, mark=7, vip="192.0.2.11")],
        "a/two",
        Rejection.SERVICE_CONFLICT,
        "spec.fwmark: FWM 7 is already the service of the older VirtualServer a/one",
        id="one mark twice",
    ),
    pytest.param(
        [vs("team-a/web", 1), vs("team-b/web", 2, port=443)],
        "team-b/web",
        Rejection.VIP_SHARING_REFUSED,
        "spec.address: 192.0.2.10 is already a VIP of the older VirtualServer team-a/web in namespace 'team-a'",
        id="another namespace's VIP",
    ),
    pytest.param(
        [vs("team-a/web", 1, sharing="web"), vs("team-b/web", 2, port=443, sharing="api")],
        "team-b/web",
        Rejection.VIP_SHARING_REFUSED,
        "lvs.kubelvs.io/sharing-key with one value",
        id="two different sharing keys",
    ),
    pytest.param(
        [vs("team-a/web", 1), vs("team-b/web", 2, port=443, sharing="web")],
        "team-b/web",
        Rejection.VIP_SHARING_REFUSED,
        "is already a VIP of the older VirtualServer team-a/web",
        id="a sharing key on one side only",
    ),
    pytest.param(
        [vs("team-a/web", 1, sharing=["web"]), vs("team-b/web", 2, port=443, sharing=["web"])],
        "team-b/web",
        Rejection.VIP_SHARING_REFUSED,
        "is already a VIP of",
        id="a sharing key that is not a string shares nothing",
    ),
    pytest.param(
        [vs("team-a/marked", 1, mark=7, ports=[443]), vs("team-b/web", 2)],
        "team-b/web",
        Rejection.VIP_SHARING_REFUSED,
        "192.0.2.10 is already a VIP of the older VirtualServer",
        id="a marked VIP is the marking namespace's",
    ),
]


@pytest.mark.parametrize(("objects", "loser", "reason", "message"), CONFLICTS)
def test_the_newer_claimant_loses_with_the_field_and_the_older_named(
    objects: list[VirtualServer], loser: str, reason: Rejection, message: str
) -> None:
    assert set(rejected(objects)) == {loser}
    got_reason, got_message = rejected(objects)[loser]
    assert got_reason is reason
    assert message in got_message


SHARED = [
    pytest.param([vs("a/http", 1), vs("a/https", 2, port=443)], id="one namespace shares its VIP"),
    pytest.param(
        [vs("team-a/web", 1, sharing="web"), vs("team-b/web", 2, port=443, sharing="web")],
        id="two namespaces under one sharing key",
    ),
    pytest.param([vs("a/tcp", 1), vs("a/udp", 2, protocol="UDP")], id="TCP and UDP on one port"),
    pytest.param([vs("a/marked", 1, mark=7, ports=[80], protocol="UDP"), vs("a/web", 2)], id="a UDP mark, TCP"),
    pytest.param([vs("a/marked", 1, mark=7, ports=[443]), vs("a/web", 2)], id="a mark on other ports"),
    pytest.param([vs("a/marked", 1, mark=7), vs("a/web", 2, vip="192.0.2.11")], id="a mark on another VIP"),
]


@pytest.mark.parametrize("objects", SHARED)
def test_claims_that_do_not_meet_are_all_kept(objects: list[VirtualServer]) -> None:
    assert rejected(objects) == {}


def test_a_claim_lost_on_one_vip_frees_a_mark_on_another_whatever_the_order_of_arrival() -> None:
    """team-b/seven loses 192.0.2.10 to team-a/web, so it holds no FWM 7 and the newer team-b/again keeps it:
    the Tribunal judges the objects a change links through any claim, not one claim's claimants alone."""
    older = vs("team-a/web", 1)
    middle = vs("team-b/seven", 2, mark=7, ports=[443])
    newer = vs("team-b/again", 3, mark=7, vip="192.0.2.11", ports=[443])
    whole = rejected([older, middle, newer])
    assert set(whole) == {"team-b/seven"}
    for arrival in ([newer, middle, older], [middle, newer, older], [older, newer, middle]):
        tribunal = Tribunal()
        for obj in arrival:
            tribunal.put(obj)
            tribunal.settle()
        assert sorted(obj.key for obj in tribunal.in_force()) == ["team-a/web", "team-b/again"], arrival
