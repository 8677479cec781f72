"""A NAT return table copies main's connected route of the gateway's subnet: the longest, one per key."""

from __future__ import annotations

import pytest

from kubelvs.kernel.routes import TableRoute, connected_routes

ETH0 = TableRoute("10.9.0.0", 24, oif=2, scope=253, prefsrc="10.9.0.11")
WIDE = TableRoute("10.0.0.0", 8, oif=3, scope=253, prefsrc="10.1.0.11")
OTHER = TableRoute("10.8.0.0", 24, oif=3, scope=253, prefsrc="10.8.0.11")
DEFAULT = TableRoute("", 0, gateway="10.9.0.254")
VIA = TableRoute("10.9.0.0", 25, gateway="10.9.0.254", oif=2)
BLACKHOLE = TableRoute("10.9.0.0", 26, kind=6)
SAME_KEY = TableRoute("10.9.0.0", 24, oif=4, scope=253, prefsrc="10.9.0.12")
V6 = TableRoute("2001:db8:9::", 64, priority=256, oif=2)
V6_LINK_LOCAL = TableRoute("fe80::", 64, priority=256, oif=2)


@pytest.mark.parametrize(
    ("main", "gateway", "copied"),
    [
        pytest.param([DEFAULT, ETH0, OTHER], "10.9.0.1", [ETH0], id="the-gateways-subnet"),
        pytest.param([DEFAULT, WIDE, ETH0], "10.9.0.1", [ETH0], id="longest-prefix"),
        pytest.param([DEFAULT, WIDE, ETH0], "10.200.0.1", [WIDE], id="only-the-wide-one-holds-it"),
        pytest.param([DEFAULT, VIA, BLACKHOLE, ETH0], "10.9.0.1", [ETH0], id="not-via-nor-blackhole"),
        pytest.param([ETH0, SAME_KEY], "10.9.0.1", [ETH0], id="first-of-one-key"),
        pytest.param([DEFAULT, OTHER], "10.9.0.1", [], id="no-connected-route"),
        pytest.param([V6_LINK_LOCAL, V6], "2001:db8:9::1", [V6], id="ipv6"),
    ],
)
def test_connected_routes_of_the_gateway(main: list[TableRoute], gateway: str, copied: list[TableRoute]) -> None:
    assert connected_routes(main, gateway) == copied


def test_fields_write_the_copy_and_skip_the_unset() -> None:
    assert ETH0.fields() == {"dst": "10.9.0.0", "dst_len": 24, "scope": 253, "oif": 2, "prefsrc": "10.9.0.11"}
    assert DEFAULT.fields() == {"dst_len": 0, "scope": 0, "gateway": "10.9.0.254"}
