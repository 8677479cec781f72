"""Rules across objects (api.set_rules.set_judgement): the first claimant keeps a service or a destination, where
"first" is the caller's ordering -- by name for ``kubelvs validate``, by age for the operator."""

from __future__ import annotations

from typing import Any

import pytest

from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.rejections import BY_NAME, Ordering, Rejection
from kubelvs.api.set_rules import set_judgement, set_problems

BY_CREATION = Ordering(lambda obj: (obj.metadata.model_extra or {})["creationTimestamp"], first="the older ")


def vs(name: str, created: str, **spec: Any) -> VirtualServer:
    return VirtualServer.model_validate(
        {
            "apiVersion": "lvs.kubelvs.io/v1alpha1",
            "kind": "VirtualServer",
            "metadata": {"name": name, "creationTimestamp": created},
            "spec": {"address": "192.0.2.10", "port": 80, **spec},
        }
    )


def rs(name: str, created: str, **spec: Any) -> RealServer:
    return RealServer.model_validate(
        {
            "apiVersion": "lvs.kubelvs.io/v1alpha1",
            "kind": "RealServer",
            "metadata": {"name": name, "creationTimestamp": created},
            "spec": {"virtualServer": "web", "address": "10.0.0.1", **spec},
        }
    )


# "zz" was created before "aa": the name order and the age order disagree.
SERVICES = [vs("zz", "2026-01-01T00:00:01Z"), vs("aa", "2026-01-01T00:00:02Z")]
DESTINATIONS = [
    vs("web", "2026-01-01T00:00:00Z"),
    rs("web-z", "2026-01-01T00:00:01Z"),
    rs("web-a", "2026-01-01T00:00:02Z"),
]


def split(objects: list[Any]) -> tuple[list[VirtualServer], list[RealServer]]:
    return [o for o in objects if isinstance(o, VirtualServer)], [o for o in objects if isinstance(o, RealServer)]


@pytest.mark.parametrize(
    ("objects", "order", "loser", "reason", "message"),
    [
        pytest.param(
            SERVICES, BY_NAME, "default/zz", Rejection.SERVICE_CONFLICT,
            "TCP 192.0.2.10:80 is already the service of VirtualServer default/aa", id="service-by-name",
        ),
        pytest.param(
            SERVICES, BY_CREATION, "default/aa", Rejection.SERVICE_CONFLICT,
            "TCP 192.0.2.10:80 is already the service of the older VirtualServer default/zz", id="service-by-age",
        ),
        pytest.param(
            DESTINATIONS, BY_NAME, "default/web-z", Rejection.DUPLICATE_DESTINATION,
            "10.0.0.1:80 is already RealServer default/web-a of the same virtual server", id="destination-by-name",
        ),
        pytest.param(
            DESTINATIONS, BY_CREATION, "default/web-a", Rejection.DUPLICATE_DESTINATION,
            "10.0.0.1:80 is already the older RealServer default/web-z of the same virtual server",
            id="destination-by-age",
        ),
    ],
)  # fmt: skip
def test_the_first_claimant_in_the_order_keeps_it(objects, order, loser, reason, message):
    for drop_rejected in (False, True):
        found = list(set_judgement(*split(objects), order=order, drop_rejected=drop_rejected))
        assert [(p.key, p.reason, p.problem.message) for p in found] == [(loser, reason, message)]


def test_set_problems_orders_by_name_unless_told_otherwise():
    assert [obj for obj, _ in set_problems(*split(SERVICES))] == ["VirtualServer default/zz"]
    assert [obj for obj, _ in set_problems(*split(SERVICES), order=BY_CREATION)] == ["VirtualServer default/aa"]


# web-2 loses the service to web; web-2's RealServer breaks a DR rule (port 8080 on a port-80 service)
# and web-2-nat, a NAT server on the same destination, comes after it.
REJECTED_NEIGHBOURS = [
    vs("web", "2026-01-01T00:00:01Z"),
    vs("web-2", "2026-01-01T00:00:02Z"),
    rs("of-web-2", "2026-01-01T00:00:03Z", virtualServer="web-2", port=8080),
    rs("of-web", "2026-01-01T00:00:04Z", port=8080),
    rs("of-web-nat", "2026-01-01T00:00:05Z", port=8080, forwarding="nat"),
]


def test_listing_every_problem_keeps_rejected_objects_in_play():
    found = [(p.key, p.reason) for p in set_judgement(*split(REJECTED_NEIGHBOURS), order=BY_CREATION)]
    assert found == [
        ("default/web-2", Rejection.SERVICE_CONFLICT),
        ("default/of-web-2", Rejection.INCOMPATIBLE),  # judged against web-2 although web-2 lost its service
        ("default/of-web", Rejection.INCOMPATIBLE),
        ("default/of-web-nat", Rejection.DUPLICATE_DESTINATION),  # of-web still holds 10.0.0.1:8080
    ]


def test_dropping_rejected_objects_gives_one_reason_each_and_frees_their_claims():
    found = list(set_judgement(*split(REJECTED_NEIGHBOURS), order=BY_CREATION, drop_rejected=True))
    assert [(p.key, p.reason) for p in found] == [
        ("default/web-2", Rejection.SERVICE_CONFLICT),
        ("default/of-web-2", Rejection.VIRTUAL_SERVER_NOT_ACCEPTED),
        ("default/of-web", Rejection.INCOMPATIBLE),  # of-web-nat is accepted: of-web claimed nothing
    ]
    assert found[1].problem.message == (
        "VirtualServer 'web-2' is not accepted (ServiceConflict: spec.address: "
        "TCP 192.0.2.10:80 is already the service of the older VirtualServer default/web)"
    )


@pytest.mark.parametrize(
    ("unusable", "reason", "message"),
    [
        pytest.param(
            {}, Rejection.VIRTUAL_SERVER_MISSING, "VirtualServer 'web' does not exist in namespace 'default'",
            id="missing",
        ),
        pytest.param(
            {"default/web": "is invalid (see its own errors)"}, Rejection.VIRTUAL_SERVER_NOT_ACCEPTED,
            "VirtualServer 'web' is invalid (see its own errors)", id="rejected-before",
        ),
    ],
)  # fmt: skip
def test_a_real_server_without_a_usable_virtual_server_is_told_why(unusable, reason, message):
    (found,) = set_judgement([], [rs("web-1", "2026-01-01T00:00:01Z")], unusable=unusable)
    assert (found.reason, found.problem.path, found.problem.message) == (reason, "spec.virtualServer", message)
