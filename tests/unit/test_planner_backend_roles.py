"""A node whose address is a RealServer's gets what that forwarding method needs on a real server."""

from __future__ import annotations

import pytest
from objects import rs, vs

from kubelvs.api.groups import director_group
from kubelvs.kernel import routes
from kubelvs.netstate import AddressKey, Family, PolicyRoute, Proto
from kubelvs.planner import NodeFacts, candidacies, plan
from kubelvs.planner.backend import POLICY_TABLES

RS1 = NodeFacts(
    node="rs1",
    labels={"role": "web"},
    local_addresses=frozenset({"10.9.0.11", "127.0.0.1"}),
    default_interfaces={Family.INET: "eth0"},
)
DR_SYSCTLS = {
    "net/ipv4/conf/all/arp_ignore": "1",
    "net/ipv4/conf/all/arp_announce": "2",
    "net/ipv4/conf/lo/arp_ignore": "1",
    "net/ipv4/conf/lo/arp_announce": "2",
}
ONLY_LB = {"nodeSelector": {"role": "lb"}}
GW = {"nodeSelector": {"role": "lb"}, "gateway": {"address": "10.9.0.254"}}


def sysctls(state):
    return {path: s.value for path, s in state.sysctls.items()}


def test_dr_backend_gets_the_vip_on_lo_and_arp_sysctls():
    state = plan([vs(directors=ONLY_LB)], [rs("web-1", "10.9.0.11")], RS1, set()).state
    assert set(state.addresses) == {AddressKey("lo", "192.0.2.100", 32)}
    assert sysctls(state) == DR_SYSCTLS
    assert not state.services and not state.tunnel


def test_dr_backend_of_ipv6_vip_gets_a_128_on_lo_and_no_arp_sysctls():
    facts = NodeFacts(node="rs1", local_addresses=frozenset({"2001:db8::11"}))
    web = vs(address="2001:db8::100", directors=ONLY_LB)
    state = plan([web], [rs("web-1", "2001:db8::11")], facts, set()).state
    assert set(state.addresses) == {AddressKey("lo", "2001:db8::100", 128)}
    assert not state.sysctls


def test_tun_backend_gets_tunl0_with_the_vip_and_loose_rp_filter():
    state = plan([vs(forwarding="tun", directors=ONLY_LB)], [rs("web-1", "10.9.0.11")], RS1, set()).state
    assert state.tunnel
    assert set(state.addresses) == {AddressKey("tunl0", "192.0.2.100", 32)}
    assert sysctls(state) == {
        "net/ipv4/conf/all/rp_filter": "0",
        "net/ipv4/conf/tunl0/rp_filter": "0",
        "net/ipv4/conf/all/arp_ignore": "1",
        "net/ipv4/conf/all/arp_announce": "2",
    }


@pytest.mark.parametrize(
    ("spec", "rs_spec", "ports", "protocol"),
    [
        pytest.param({}, {"port": 8080}, [8080], Proto.TCP, id="tcp-remapped-port"),
        pytest.param({"protocol": "UDP", "port": 53}, {}, [53], Proto.UDP, id="udp"),
        pytest.param(
            {
                "address": None,
                "port": None,
                "fwmark": 7,
                "fwmarkMatch": {"destination": "192.0.2.100", "ports": [443, 80]},
            },
            {},
            [80, 443],
            Proto.TCP,
            id="fwmark-every-marked-port",
        ),
    ],
)
def test_nat_backend_routes_replies_through_the_gateway(spec, rs_spec, ports, protocol):
    web = vs(forwarding="nat", directors=GW, **spec)
    state = plan([web], [rs("web-1", "10.9.0.11", **rs_spec)], RS1, set()).state
    assert [(r.source, r.protocol, r.port, r.gateway) for r in state.policy_routes.values()] == [
        ("10.9.0.11", protocol, port, "10.9.0.254") for port in ports
    ]
    assert not state.addresses and not state.sysctls  # the main routing table and sysctls are left alone


def test_policy_route_tables_are_stable_and_shared_per_gateway():
    web = vs(forwarding="nat", directors=GW)
    api = vs("api", port=443, forwarding="nat", directors=GW)
    objects = [rs("web-1", "10.9.0.11", port=8080), rs("api-1", "10.9.0.11", "api", port=8443)]
    first = plan([web, api], objects, RS1, set()).state
    again = plan([api, web], list(reversed(objects)), RS1, set()).state
    assert first.policy_routes == again.policy_routes
    (table,) = {r.table for r in first.policy_routes.values()}
    assert table in POLICY_TABLES


def test_policy_tables_match_the_kernel_adapters_range():
    assert POLICY_TABLES == routes.TABLES


@pytest.mark.parametrize(
    "path",
    [pytest.param("snat", id="snat"), pytest.param("none", id="none")],
)
def test_nat_backend_without_route_return_path_needs_nothing(path):
    web = vs(forwarding="nat", natReturnPath=path, directors=ONLY_LB)
    state = plan([web], [rs("web-1", "10.9.0.11", port=8080)], RS1, set()).state
    assert state == type(state)()


def test_fwmark_dr_backend_uses_the_matched_destination_as_vip():
    web = vs(
        address=None,
        port=None,
        fwmark=7,
        fwmarkMatch={"destination": "192.0.2.100", "ports": [80, 443]},
        directors=ONLY_LB,
    )
    state = plan([web], [rs("web-1", "10.9.0.11")], RS1, set()).state
    assert set(state.addresses) == {AddressKey("lo", "192.0.2.100", 32)}


def test_fwmark_dr_backend_without_match_is_skipped_with_a_reason():
    web = vs(address=None, port=None, fwmark=7, directors=ONLY_LB)
    result = plan([web], [rs("web-1", "10.9.0.11")], RS1, set())
    assert not result.state.addresses
    assert "has no fwmarkMatch" in str(result.skipped)


def test_a_node_that_is_director_and_backend_of_one_service_is_only_its_backend():
    web, api = vs(), vs("api", address="192.0.2.101", port=443)
    everything = {director_group(web.spec.directors)}
    result = plan([web, api], [rs("web-1", "10.9.0.11"), rs("api-1", "10.9.0.12", "api")], RS1, everything)
    assert {s.key.port for s in result.state.services.values()} == {443}  # still directs the other one
    assert AddressKey("lo", "192.0.2.100", 32) in result.state.addresses
    assert AddressKey("eth0", "192.0.2.100", 32) not in result.state.addresses
    assert AddressKey("eth0", "192.0.2.101", 32) in result.state.addresses
    assert "director role skipped on rs1: it is the real server default/web-1" in str(result.skipped)


def test_a_backend_vip_is_not_bound_for_another_service_on_the_same_vip():
    web, api = vs(), vs("api", port=443)
    everything = {director_group(web.spec.directors)}
    result = plan([web, api], [rs("web-1", "10.9.0.11"), rs("api-1", "10.9.0.12", "api")], RS1, everything)
    assert set(result.state.addresses) == {AddressKey("lo", "192.0.2.100", 32)}
    assert "not bound on eth0: rs1 is a real server behind this VIP" in str(result.skipped)


def test_candidacies_list_selected_groups_with_their_preferred_order():
    web = vs(directors={"nodeSelector": {"role": "web"}, "preferred": ["rs2", "rs1"]})
    other = vs("other", port=81, directors=ONLY_LB)
    assert candidacies([web, other], RS1) == {director_group(web.spec.directors): ["rs2", "rs1"]}


def test_a_backend_of_a_group_is_no_candidate_for_it():
    web = vs()
    assert candidacies([web], RS1, [rs("web-1", "10.9.0.11")]) == {}
    assert candidacies([web], RS1, [rs("web-1", "10.9.0.99")]) == {director_group(web.spec.directors): []}


def test_a_real_server_of_an_unknown_virtual_server_is_reported():
    result = plan([], [rs("web-1", "10.9.0.11", "gone")], RS1, set())
    assert result.state == type(result.state)()
    assert str(result.skipped[0]) == "RealServer default/web-1: VirtualServer default/gone is not known"


def test_policy_route_values_are_what_the_adapter_accepts():
    state = plan([vs(forwarding="nat", directors=GW)], [rs("web-1", "10.9.0.11", port=8080)], RS1, set()).state
    for route in state.policy_routes.values():
        routes.check(route)
        assert route == PolicyRoute(Family.INET, "10.9.0.11", Proto.TCP, 8080, "10.9.0.254", route.table)
