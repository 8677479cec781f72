"""An IPv6 TUN backend gets ip6tnl0 up with the VIP as /128 and no sysctl (IPv6 has no rp_filter, ip6tnl0 no
neighbour discovery); a TUN real server of the other family than its VIP is skipped with the reason, since
IPVS would send it IPv4 in IPv6 (or IPv6 in IPv4), which neither tunl0 nor ip6tnl0 receives."""

from __future__ import annotations

import pytest
from objects import rs, vs

from kubelvs.netstate import AddressKey
from kubelvs.planner import NodeFacts, plan

ONLY_LB = {"nodeSelector": {"role": "lb"}}


def test_ipv6_tun_backend_gets_ip6tnl0_with_the_vip_and_no_sysctls() -> None:
    facts = NodeFacts(node="rs1", local_addresses=frozenset({"2001:db8:51::11"}))
    web = vs(address="2001:db8:1::100", forwarding="tun", directors=ONLY_LB)
    result = plan([web], [rs("web-1", "2001:db8:51::11")], facts, set())
    state = result.state
    assert state.tunnel6 and not state.tunnel
    assert set(state.addresses) == {AddressKey("ip6tnl0", "2001:db8:1::100", 128)}
    assert not state.sysctls
    assert not result.skipped


def test_ipv4_tun_backend_still_gets_tunl0_only() -> None:
    facts = NodeFacts(node="rs1", local_addresses=frozenset({"10.9.0.11"}))
    state = plan([vs(forwarding="tun", directors=ONLY_LB)], [rs("web-1", "10.9.0.11")], facts, set()).state
    assert state.tunnel and not state.tunnel6
    assert set(state.addresses) == {AddressKey("tunl0", "192.0.2.100", 32)}


@pytest.mark.parametrize(
    ("vip", "address", "reason"),
    [
        pytest.param("192.0.2.100", "2001:db8:51::11", "IPv4 VIP 192.0.2.100 at IPv6 address", id="v4-vip-v6-rs"),
        pytest.param(
            "2001:db8:1::100", "10.9.0.11", "IPv6 VIP 2001:db8:1::100 at IPv4 address", id="v6-vip-v4-rs"
        ),
    ],
)
def test_tun_backend_of_the_other_family_is_skipped_with_why(vip: str, address: str, reason: str) -> None:
    facts = NodeFacts(node="rs1", local_addresses=frozenset({address}))
    result = plan([vs(address=vip, forwarding="tun", directors=ONLY_LB)], [rs("web-1", address)], facts, set())
    assert not result.state.addresses and not result.state.tunnel and not result.state.tunnel6
    (skip,) = result.skipped
    assert skip.obj == "RealServer default/web-1"
    assert reason in skip.reason and "neither tunl0 nor ip6tnl0 receives" in skip.reason, skip.reason
