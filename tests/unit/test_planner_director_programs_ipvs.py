"""A director programs every IPVS service and destination of the VirtualServers that select it."""

from __future__ import annotations

import ipaddress

import pytest
from objects import rs, vs

from kubelvs.api.groups import director_group
from kubelvs.api.models import Directors
from kubelvs.netstate import (
    AddressKey,
    Destination,
    DestKey,
    Family,
    Fwd,
    FwmarkRule,
    Proto,
    Service,
    ServiceKey,
    SnatRule,
    SvcFlag,
)
from kubelvs.planner import NodeFacts, plan

DIRECTOR = NodeFacts(
    node="dir-a",
    labels={"kubelvs.io/director": "true"},
    local_addresses=frozenset({"198.51.100.1", "10.9.0.1"}),
    default_interfaces={Family.INET: "eth0", Family.INET6: "eth1"},
)
WEB = ServiceKey(Family.INET, Proto.TCP, "192.0.2.100", 80)
ALL_GROUPS = {
    director_group(Directors()),
    director_group(Directors(node_selector={"kubelvs.io/director": "true"})),
}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({}, Service(WEB, "wlc"), id="defaults-like-ipvsadm"),
        pytest.param({"scheduler": "rr"}, Service(WEB, "rr"), id="rr"),
        pytest.param(
            {"scheduler": "sh", "schedulerFlags": ["sh-fallback", "sh-port"]},
            Service(WEB, "sh", SvcFlag.SCHED1 | SvcFlag.SCHED2),
            id="sh-flags",
        ),
        pytest.param(
            {"scheduler": "mh", "schedulerFlags": ["mh-port"]}, Service(WEB, "mh", SvcFlag.SCHED2), id="mh-port"
        ),
        pytest.param(
            {"persistence": {"timeout": 600, "netmask": "255.255.255.0"}},
            Service(WEB, "wlc", SvcFlag.PERSISTENT, 600, 24),
            id="persistence",
        ),
        pytest.param(
            {"protocol": "UDP", "port": 53, "onePacket": True},
            Service(ServiceKey(Family.INET, Proto.UDP, "192.0.2.100", 53), "wlc", SvcFlag.ONEPACKET),
            id="udp-one-packet",
        ),
        pytest.param(
            {"protocol": "SCTP", "port": 3868},
            Service(ServiceKey(Family.INET, Proto.SCTP, "192.0.2.100", 3868)),
            id="sctp",
        ),
        pytest.param(
            {"address": "2001:db8::100", "persistence": {"netmask": "/64"}},
            Service(ServiceKey(Family.INET6, Proto.TCP, "2001:db8::100", 80), "wlc", SvcFlag.PERSISTENT, 300, 64),
            id="ipv6-persistent",
        ),
        pytest.param(
            {"address": "2001:db8::100"},
            Service(ServiceKey(Family.INET6, Proto.TCP, "2001:db8::100", 80), "wlc", netmask=128),
            id="ipv6-full-netmask",
        ),
        pytest.param(
            {
                "address": None,
                "port": None,
                "fwmark": 7,
                "fwmarkMatch": {"destination": "192.0.2.100", "ports": [80]},
            },
            Service(ServiceKey(Family.INET, Proto.NONE, "", 0, 7)),
            id="fwmark",
        ),
    ],
)
def test_service_settings_follow_the_spec(spec, expected):
    state = plan([vs(**spec)], [], DIRECTOR, set()).state
    assert list(state.services.values()) == [expected]


@pytest.mark.parametrize(
    ("vs_spec", "rs_spec", "expected"),
    [
        pytest.param({}, {}, Destination(DestKey(WEB, "10.9.0.11", 80), Fwd.DROUTE, 1), id="dr-default"),
        pytest.param(
            {"forwarding": "nat", "natReturnPath": "none"},
            {"port": 8080, "weight": 3},
            Destination(DestKey(WEB, "10.9.0.11", 8080), Fwd.MASQ, 3),
            id="nat-remaps-port",
        ),
        pytest.param(
            {"forwarding": "tun"},
            {"upperThreshold": 100, "lowerThreshold": 50},
            Destination(DestKey(WEB, "10.9.0.11", 80), Fwd.TUNNEL, 1, 100, 50),
            id="tun-thresholds",
        ),
        pytest.param(
            {"forwarding": "dr"},
            {"forwarding": "tun", "weight": 0},
            Destination(DestKey(WEB, "10.9.0.11", 80), Fwd.TUNNEL, 0),
            id="real-server-overrides-forwarding",
        ),
    ],
)
def test_destinations_follow_the_real_servers(vs_spec, rs_spec, expected):
    state = plan([vs(**vs_spec)], [rs("web-1", "10.9.0.11", **rs_spec)], DIRECTOR, set()).state
    assert list(state.destinations.values()) == [expected]


def test_tun_destination_of_other_family_carries_its_family():
    web6 = vs(address="2001:db8::100", forwarding="tun")
    state = plan([web6], [rs("web-1", "10.9.0.11")], DIRECTOR, set()).state
    (dest,) = state.destinations.values()
    assert dest.family == Family.INET


@pytest.mark.parametrize(
    ("labels", "selector", "programmed"),
    [
        pytest.param({}, {}, True, id="empty-selector-selects-every-node"),
        pytest.param({"role": "lb"}, {"role": "lb"}, True, id="matching-label"),
        pytest.param({"role": "web"}, {"role": "lb"}, False, id="other-value"),
        pytest.param({}, {"role": "lb"}, False, id="missing-label"),
    ],
)
def test_director_role_follows_the_node_selector(labels, selector, programmed):
    facts = NodeFacts(node="n", labels=labels, default_interfaces={Family.INET: "eth0"})
    state = plan([vs(directors={"nodeSelector": selector})], [rs("web-1", "10.9.0.11")], facts, set()).state
    assert bool(state.services) == programmed
    assert bool(state.destinations) == programmed


@pytest.mark.parametrize(
    ("directors", "held", "expected"),
    [
        pytest.param({}, False, set(), id="standby-binds-nothing"),
        pytest.param({}, True, {AddressKey("eth0", "192.0.2.100", 32)}, id="holder-on-default-interface"),
        pytest.param({"interface": "ens5"}, True, {AddressKey("ens5", "192.0.2.100", 32)}, id="named-interface"),
        pytest.param(
            {"gateway": {"address": "10.9.0.254", "interface": "br0"}},
            True,
            {AddressKey("eth0", "192.0.2.100", 32), AddressKey("br0", "10.9.0.254", 32)},
            id="nat-gateway",
        ),
    ],
)
def test_only_the_group_holder_binds_the_vip(directors, held, expected):
    web = vs(directors=directors)
    groups = {director_group(web.spec.directors)} if held else set()
    state = plan([web], [], DIRECTOR, groups).state
    assert set(state.addresses) == expected
    assert state.services  # standby or not, the rules are there (hot standby)


@pytest.mark.parametrize(
    ("gateway", "expected"),
    [
        pytest.param({"address": "10.9.0.254"}, "eth1", id="the-link-whose-subnet-holds-it"),
        pytest.param({"address": "10.9.1.254"}, "eth2", id="longest-prefix-wins"),
        pytest.param({"address": "172.31.0.1"}, "eth0", id="no-subnet-holds-it-default-route"),
        pytest.param({"address": "10.9.0.254", "interface": "br0"}, "br0", id="named-wins"),
    ],
)
def test_nat_gateway_defaults_to_the_real_servers_link(gateway, expected):
    facts = NodeFacts(
        node="n",
        labels=DIRECTOR.labels,
        default_interfaces={Family.INET: "eth0"},
        subnets=(
            (ipaddress.ip_network("10.9.0.0/16"), "eth1"),
            (ipaddress.ip_network("10.9.1.0/24"), "eth2"),
            (ipaddress.ip_network("192.0.2.0/24"), "eth0"),
        ),
    )
    web = vs(directors={"gateway": gateway})
    state = plan([web], [], facts, {director_group(web.spec.directors)}).state
    assert AddressKey(expected, gateway["address"], 32) in state.addresses


def test_ipv6_vip_binds_as_128_on_the_ipv6_default_interface():
    state = plan([vs(address="2001:db8::100")], [], DIRECTOR, ALL_GROUPS).state
    assert set(state.addresses) == {AddressKey("eth1", "2001:db8::100", 128)}


def test_missing_default_interface_is_a_reason_not_an_error():
    facts = NodeFacts(node="n")
    result = plan([vs()], [], facts, ALL_GROUPS)
    assert not result.state.addresses
    assert result.state.services
    assert "set spec.directors.interface" in str(result.skipped[0])


@pytest.mark.parametrize(
    ("spec", "sysctls"),
    [
        pytest.param({}, {}, id="dr-needs-none"),
        pytest.param({"forwarding": "nat", "natReturnPath": "none"}, {"net/ipv4/ip_forward": "1"}, id="nat"),
        pytest.param(
            {"forwarding": "nat", "natReturnPath": "snat"},
            {"net/ipv4/ip_forward": "1", "net/ipv4/vs/conntrack": "1"},
            id="nat-snat",
        ),
        pytest.param(
            {"address": "2001:db8::100", "forwarding": "nat", "natReturnPath": "none"},
            {"net/ipv6/conf/all/forwarding": "1"},
            id="nat-ipv6",
        ),
    ],
)
def test_director_sysctls(spec, sysctls):
    address = "2001:db8::11" if "address" in spec else "10.9.0.11"
    state = plan([vs(**spec)], [rs("web-1", address, port=8080)], DIRECTOR, set()).state
    assert {path: s.value for path, s in state.sysctls.items()} == sysctls


def test_snat_rules_cover_each_nat_real_server():
    web = vs(forwarding="nat", natReturnPath="snat")
    state = plan([web], [rs("web-1", "10.9.0.11", port=8080), rs("web-2", "10.9.0.12")], DIRECTOR, set()).state
    assert set(state.snat_rules) == {  # each with the VIP it was sent to: only what IPVS rewrote is masqueraded
        SnatRule(Family.INET, "10.9.0.11", Proto.TCP, 8080, "192.0.2.100"),
        SnatRule(Family.INET, "10.9.0.12", Proto.TCP, 80, "192.0.2.100"),
    }


def test_snat_of_a_fwmark_service_without_its_address_is_a_skip_naming_what_is_missing():
    marked = vs(address=None, port=None, fwmark=7, forwarding="nat", natReturnPath="snat")
    planned = plan([marked], [rs("web-1", "10.9.0.11", port=8080)], DIRECTOR, set())
    assert not planned.state.snat_rules and not planned.state.destinations
    assert any("needs fwmarkMatch" in skip.reason for skip in planned.skipped), planned.skipped


def test_fwmark_match_becomes_a_marking_rule_on_every_director():
    web = vs(address=None, port=None, fwmark=7, fwmarkMatch={"destination": "192.0.2.100", "ports": [443, 80, 80]})
    state = plan([web], [rs("web-1", "10.9.0.11")], DIRECTOR, set()).state
    assert state.fwmark_rules == {7: FwmarkRule(7, Family.INET, "192.0.2.100", Proto.TCP, (80, 443))}
    (dest,) = state.destinations
    assert dest == DestKey(ServiceKey(Family.INET, Proto.NONE, "", 0, 7), "10.9.0.11", 0)


def test_fwmark_holder_binds_the_matched_destination():
    web = vs(address=None, port=None, fwmark=7, fwmarkMatch={"destination": "192.0.2.100", "ports": [80]})
    state = plan([web], [], DIRECTOR, ALL_GROUPS).state
    assert set(state.addresses) == {AddressKey("eth0", "192.0.2.100", 32)}


def test_pools_skip_a_vip_outside_them_and_keep_the_others():
    facts = NodeFacts(
        node="n", default_interfaces={Family.INET: "eth0"}, vip_pools=(ipaddress.ip_network("192.0.2.0/25"),)
    )
    inside, outside = vs("in", address="192.0.2.100"), vs("out", address="192.0.2.200")
    result = plan([inside, outside], [rs("a", "10.9.0.11", "in"), rs("b", "10.9.0.12", "out")], facts, ALL_GROUPS)
    assert set(result.state.services) == {WEB}
    assert {d.service for d in result.state.destinations} == {WEB}
    assert set(result.state.addresses) == {AddressKey("eth0", "192.0.2.100", 32)}
    assert [s.obj for s in result.skipped] == ["VirtualServer default/out"]
    assert "outside the VIP pools (192.0.2.0/25)" in result.skipped[0].reason


def test_pools_of_the_other_family_do_not_admit_a_vip():
    facts = NodeFacts(node="n", vip_pools=(ipaddress.ip_network("2001:db8::/64"),))
    result = plan([vs()], [], facts, set())
    assert not result.state.services
    assert result.skipped


def test_a_second_claim_on_one_service_does_not_drop_the_first():
    first, second = vs("a", scheduler="rr"), vs("b", scheduler="sh")
    result = plan([second, first], [rs("a-1", "10.9.0.11", "a"), rs("b-1", "10.9.0.12", "b")], DIRECTOR, set())
    assert result.state.services == {WEB: Service(WEB, "rr")}
    assert {d.address for d in result.state.destinations} == {"10.9.0.11"}
    assert [s.obj for s in result.skipped] == ["VirtualServer default/b"]
