"""NAT return tables answer peers on the gateway's subnet directly, as classic LVS-NAT does.

The gateway is a floating address: after its holder dies nobody has it until the standby binds it. The
standby director's health checks reach the real server on the shared subnet, and their answers must not be
sent towards that dead gateway, while replies to clients beyond it still are.
"""

from __future__ import annotations

from netns import LvsTopology, Namespace

from kubelvs.kernel.routes import NetlinkPolicyRoutes
from kubelvs.netstate import Family, PolicyRoute, Proto
from kubelvs.testbed.namespaces import inside

GATEWAY = "10.9.0.100"  # the director group's floating address on the real servers' side
PORT = 8080


def converge(ns: Namespace, desired: set[PolicyRoute]) -> set[PolicyRoute]:
    """One reconciler pass over the routes (as agent/reconciler.py does it); what it read before writing."""
    routes = NetlinkPolicyRoutes()
    with inside(ns.name):
        present = routes.list()
        for route in sorted(present - desired):
            routes.remove(route)
        for route in sorted(desired - present):
            routes.add(route)
    return present


def table(ns: Namespace, number: int, family: str = "-4") -> list[str]:
    """``ip route show table NUMBER``, one sorted line per route, without ``proto X`` (pyroute2 picks it)."""
    lines = []
    for line in ns.ip(family, "route", "show", "table", str(number)).stdout.splitlines():
        words = line.split()
        if "proto" in words:
            at = words.index("proto")
            del words[at : at + 2]
        lines.append(" ".join(words))
    return sorted(lines)


def route_get(ns: Namespace, destination: str, source: str, port: int) -> str:
    """Where the kernel sends a TCP reply from ``source:port`` to ``destination``."""
    family = "-6" if ":" in destination else "-4"
    return ns.ip(family, "route", "get", destination, "from", source, "ipproto", "tcp", "sport", str(port)).stdout


def test_standby_reaches_the_real_server_while_nobody_holds_the_gateway(lvs_factory) -> None:
    lvs: LvsTopology = lvs_factory(directors=2, real_servers=1)
    (active, standby), backend = lvs.directors, lvs.real_servers[0]
    rip = lvs.address(backend)
    backend.http_server(PORT)
    route = PolicyRoute(Family.INET, rip, Proto.TCP, PORT, GATEWAY, 2001)
    assert converge(backend, {route}) == set()

    assert table(backend, 2001) == [
        f"10.9.0.0/24 dev eth0 scope link src {rip}",
        f"default via {GATEWAY} dev eth0",
    ]
    assert standby.http_get(rip, PORT, timeout=5) == ["rs1"]  # the health check's answer goes straight back
    assert f"via {GATEWAY}" in route_get(backend, lvs.address(lvs.client, "front"), rip, PORT)
    assert f"via {GATEWAY}" not in route_get(backend, lvs.address(standby), rip, PORT)
    assert converge(backend, {route}) == {route}  # a no-op pass: nothing drifted
    assert len(table(backend, 2001)) == 2

    # control: without the subnet route the answer goes towards the gateway nobody holds, and is lost;
    # the next pass sees the table differ and writes it again
    backend.ip("route", "del", "10.9.0.0/24", "table", "2001")
    assert standby.http_get(rip, PORT, timeout=2)[0].startswith("ERR")
    (drifted,) = converge(backend, {route})
    assert drifted.gateway == ""
    assert converge(backend, {route}) == {route}
    assert standby.http_get(rip, PORT, timeout=5) == ["rs1"]

    # the active director takes the gateway: NAT traffic from a client beyond it still returns through it
    active.ip("addr", "add", f"{GATEWAY}/24", "dev", "eth1")
    active.ip("addr", "add", f"{lvs.vip}/32", "dev", "eth0")
    active.exec("ipvsadm", "-A", "-t", f"{lvs.vip}:80", "-s", "rr")
    active.exec("ipvsadm", "-a", "-t", f"{lvs.vip}:80", "-r", f"{rip}:{PORT}", "-m")
    assert lvs.client.http_get(lvs.vip, 80, count=2) == ["rs1", "rs1"]
    assert standby.http_get(rip, PORT, timeout=5) == ["rs1"]


def test_table_follows_the_nodes_address_and_goes_with_its_last_rule(netns) -> None:
    node, peer = netns.namespace("node"), netns.namespace("peer")
    netns.veth(node, "eth0", peer, "eth0")
    node.address("eth0", "10.9.0.11/24")
    node.address("eth0", "2001:db8:9::11/64")
    v4 = {
        PolicyRoute(Family.INET, "10.9.0.11", Proto.TCP, PORT, GATEWAY, 2001),
        PolicyRoute(Family.INET, "10.9.0.11", Proto.UDP, 53, GATEWAY, 2001),
    }
    v6 = {PolicyRoute(Family.INET6, "2001:db8:9::11", Proto.TCP, 443, "2001:db8:9::100", 2003)}
    converge(node, v4 | v6)
    assert converge(node, v4 | v6) == v4 | v6
    assert table(node, 2003, "-6") == [
        "2001:db8:9::/64 dev eth0 metric 256 pref medium",
        "default via 2001:db8:9::100 dev eth0 metric 1024 pref medium",
    ]
    assert "via" not in route_get(node, "2001:db8:9::2", "2001:db8:9::11", 443)
    assert "via 2001:db8:9::100" in route_get(node, "2001:db8:1::10", "2001:db8:9::11", 443)

    # the node is renumbered into a narrower subnet (the gateway is still in it): the copy follows
    node.ip("addr", "add", "10.9.0.11/25", "dev", "eth0")
    node.ip("addr", "del", "10.9.0.11/24", "dev", "eth0")
    assert {r.gateway for r in converge(node, v4 | v6) if r.family == Family.INET} == {""}
    assert converge(node, v4 | v6) == v4 | v6
    assert table(node, 2001) == [
        "10.9.0.0/25 dev eth0 scope link src 10.9.0.11",
        f"default via {GATEWAY} dev eth0",
    ]
    assert "via" not in route_get(node, "10.9.0.99", "10.9.0.11", PORT)
    assert f"via {GATEWAY}" in route_get(node, "10.9.0.200", "10.9.0.11", PORT)  # off the /25 now

    converge(node, set())
    assert converge(node, set()) == set()
    assert table(node, 2001) == []
    assert table(node, 2003, "-6") == []
    assert "lookup 200" not in node.ip("rule", "show").stdout + node.ip("-6", "rule", "show").stdout
