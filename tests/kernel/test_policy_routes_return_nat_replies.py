"""PolicyRoutes: NAT replies find their way back through the director without touching the main table."""

from __future__ import annotations

import pytest
from netns import LvsTopology, Namespace

from kubelvs.kernel.routes import NetlinkPolicyRoutes, PolicyRouteError
from kubelvs.netstate import Family, PolicyRoute, Proto
from kubelvs.testbed.namespaces import inside


def nat_service(lvs: LvsTopology, port: int) -> None:
    """IPVS-NAT by hand on dir1: VIP:80 -> rs1:port (the packet source; the backend side is under test)."""
    director, backend = lvs.directors[0], lvs.real_servers[0]
    director.ip("addr", "add", f"{lvs.vip}/32", "dev", "eth0")
    director.exec("ipvsadm", "-A", "-t", f"{lvs.vip}:80", "-s", "rr")
    director.exec("ipvsadm", "-a", "-t", f"{lvs.vip}:80", "-r", f"{lvs.address(backend)}:{port}", "-m")
    backend.http_server(port)


def main_table(ns: Namespace) -> str:
    return ns.ip("route", "show", "table", "main").stdout


def test_policy_route_returns_nat_replies_through_the_director(lvs_factory) -> None:
    lvs: LvsTopology = lvs_factory(directors=1, real_servers=1)
    director, backend = lvs.directors[0], lvs.real_servers[0]
    nat_service(lvs, 8080)
    route = PolicyRoute(Family.INET, lvs.address(backend), Proto.TCP, 8080, lvs.address(director), 2001)
    routes = NetlinkPolicyRoutes()
    main = main_table(backend)
    assert "default via 10.9.0.254" in main  # the backend's default route is the router, not the director
    assert lvs.client.http_get(lvs.vip, 80, timeout=2)[0].startswith("ERR")  # control: replies go astray

    with inside(backend.name):
        routes.add(route)
        routes.add(route)  # again: fine
        listed = routes.list()
    assert listed == {route}
    assert lvs.client.http_get(lvs.vip, 80, count=2) == ["rs1", "rs1"]
    assert main_table(backend) == main
    rules = [" ".join(line.split()) for line in backend.ip("rule", "show").stdout.splitlines()]
    assert "32100: from 10.9.0.11 ipproto tcp sport 8080 lookup 2001" in rules
    # the backend's own traffic from another port still uses the main table
    assert "via 10.9.0.254" in backend.ip("route", "get", "192.0.2.10", "from", "10.9.0.11").stdout

    with inside(backend.name):
        routes.remove(route)
        routes.remove(route)  # again: fine
        assert routes.list() == set()
    assert backend.ip("route", "show", "table", "2001").stdout.strip() == ""
    assert "lookup 2001" not in backend.ip("rule", "show").stdout
    assert lvs.client.http_get(lvs.vip, 80, timeout=2)[0].startswith("ERR")


def test_list_reports_only_kube_lvs_rules_and_shared_tables(netns) -> None:
    node, peer = netns.namespace("node"), netns.namespace("peer")
    netns.veth(node, "eth0", peer, "eth0")
    node.address("eth0", "10.9.0.11/24")
    node.address("eth0", "2001:db8:9::11/64")
    node.ip("rule", "add", "priority", "100", "from", "10.9.0.11", "lookup", "2001")  # foreign priority
    node.ip("rule", "add", "priority", "32100", "from", "10.9.0.11", "lookup", "100")  # foreign table
    ours = {
        PolicyRoute(Family.INET, "10.9.0.11", Proto.TCP, 80, "10.9.0.1", 2001),
        PolicyRoute(Family.INET, "10.9.0.11", Proto.UDP, 53, "10.9.0.1", 2001),
        PolicyRoute(Family.INET, "10.9.0.11", Proto.SCTP, 3868, "10.9.0.2", 2002),
        PolicyRoute(Family.INET6, "2001:db8:9::11", Proto.TCP, 443, "2001:db8:9::1", 2003),
    }
    routes = NetlinkPolicyRoutes()
    with inside(node.name):
        for route in ours:
            routes.add(route)
        assert routes.list() == ours
        routes.remove(PolicyRoute(Family.INET, "10.9.0.11", Proto.TCP, 80, "10.9.0.1", 2001))
        # table 2001 is still used by the UDP rule, so its default route stays
        assert {r.port for r in routes.list()} == {53, 3868, 443}
        assert all(r.gateway for r in routes.list())
    assert "default via 10.9.0.1" in node.ip("route", "show", "table", "2001").stdout
    assert "lookup 100" in node.ip("rule", "show").stdout

    node.ip("route", "del", "default", "table", "2002")  # someone flushed our table
    with inside(node.name):
        (broken,) = [r for r in routes.list() if r.table == 2002]
        assert broken.gateway == ""  # reported, so the diff sees it differs from the desired route
        routes.remove(broken)
        assert 2002 not in {r.table for r in routes.list()}


@pytest.mark.parametrize(
    ("route", "message"),
    [
        pytest.param(
            PolicyRoute(Family.INET, "10.9.0.11", Proto.TCP, 80, "10.9.0.1", 254), "table 254", id="main-table"
        ),
        pytest.param(
            PolicyRoute(Family.INET, "10.9.0.11", Proto.TCP, 80, "2001:db8::1", 2001), "gateway", id="mixed-family"
        ),
        pytest.param(
            PolicyRoute(Family.INET, "10.9.0.11", Proto.NONE, 80, "10.9.0.1", 2001), "protocol", id="no-protocol"
        ),
    ],
)
def test_bad_route_is_refused_before_touching_the_kernel(netns, route: PolicyRoute, message: str) -> None:
    node = netns.namespace("node")
    before = node.ip("rule", "show").stdout
    with inside(node.name), pytest.raises(ValueError, match=message):
        NetlinkPolicyRoutes().add(route)
    assert node.ip("rule", "show").stdout == before


def test_unreachable_gateway_is_a_clear_error(netns) -> None:
    node = netns.namespace("node")
    with inside(node.name), pytest.raises(PolicyRouteError, match=r"default via 10\.77\.0\.1 table 2001"):
        NetlinkPolicyRoutes().add(PolicyRoute(Family.INET, "10.9.0.11", Proto.TCP, 80, "10.77.0.1", 2001))
    assert node.ip("rule", "show").stdout.count("lookup 2001") == 0
