"""``ipvs_rules`` gives every service and destination, whatever node, for ``kubelvs export``."""

from __future__ import annotations

from objects import rs, vs

from kubelvs.netstate import Family, Proto, ServiceKey
from kubelvs.planner import ipvs_rules


def test_every_service_with_its_destinations_regardless_of_selectors():
    web = vs(directors={"nodeSelector": {"nowhere": "true"}})
    dns = vs("dns", protocol="UDP", port=53)
    services, dests = ipvs_rules([web, dns], [rs("web-1", "10.9.0.11"), rs("dns-1", "10.9.0.12", "dns")])
    assert set(services) == {
        ServiceKey(Family.INET, Proto.TCP, "192.0.2.100", 80),
        ServiceKey(Family.INET, Proto.UDP, "192.0.2.100", 53),
    }
    assert {(d.service.protocol, d.address) for d in dests} == {(Proto.TCP, "10.9.0.11"), (Proto.UDP, "10.9.0.12")}


def test_orphan_real_servers_are_left_out():
    services, dests = ipvs_rules([], [rs("web-1", "10.9.0.11")])
    assert services == {} and dests == {}
