"""A PolicyRoute must fit kube-lvs' table range, name a real protocol and agree with its family."""

from __future__ import annotations

import pytest

from kubelvs.kernel import routes
from kubelvs.netstate import Family, PolicyRoute, Proto

GOOD = PolicyRoute(Family.INET, "10.9.0.11", Proto.TCP, 8080, "10.9.0.1", 2001)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"table": 254}, "table 254 is outside 2000..2999", id="main-table"),
        pytest.param({"table": 3000}, "table 3000 is outside", id="past-range"),
        pytest.param({"protocol": Proto.NONE}, "must be TCP, UDP or SCTP", id="no-protocol"),
        pytest.param({"port": 0}, "port 0 is outside 1..65535", id="port-0"),
        pytest.param(
            {"gateway": "2001:db8::1"}, "gateway 2001:db8::1 does not match family INET", id="v6-gateway"
        ),
        pytest.param({"source": "nope"}, "source 'nope' is not an IP address", id="bad-source"),
    ],
)
def test_bad_route_names_its_field(changes: dict[str, object], message: str) -> None:
    route = PolicyRoute(**{**GOOD.__dict__, **changes})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        routes.check(route)


def test_good_route_passes() -> None:
    assert routes.check(GOOD) is None
    v6 = PolicyRoute(Family.INET6, "2001:db8:9::11", Proto.SCTP, 3868, "2001:db8:9::1", 2999)
    assert routes.check(v6) is None


def test_removal_checks_only_the_selector() -> None:
    listed = PolicyRoute(Family.INET, "10.9.0.11", Proto.TCP, 8080, "", 2001)  # table lost its default route
    assert routes.check(listed, gateway=False) is None
    with pytest.raises(ValueError, match="gateway '' is not an IP address"):
        routes.check(listed)
