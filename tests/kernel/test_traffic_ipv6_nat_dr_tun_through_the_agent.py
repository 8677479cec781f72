"""IPv6 LVS-NAT (director SNAT and the policy-route return path), LVS-DR and LVS-TUN, each backend configured by
its own standalone agent, with real HTTP from a client namespace through an IPv6 VIP (2001:db8::/32 only).

Each test has its control: the route return path and the tunnel carry nothing before the backends' agents ran,
and DR's VIP on ``lo`` is never answered for by neighbour discovery on the real servers' link. ``--cleanup``
takes ip6tnl0 down again.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from agentrun import DIRECTORS, agent, alternates, director, rs, vs, write
from netns import LvsTopology, Namespace

from kubelvs import cli
from kubelvs.testbed.namespaces import inside

POOLS = ("--vip-pools", "192.0.2.0/24,2001:db8:1::/64")
GATEWAY6 = {"address": "2001:db8:9::200", "interface": "eth1"}


def tentative(ns: Namespace, device: str, address: str) -> bool:
    """Whether ``address`` on ``device`` is still in duplicate address detection (or failed it)."""
    shown = ns.ip("-6", "addr", "show", "dev", device).stdout
    lines = [line for line in shown.splitlines() if f"inet6 {address}/" in line]
    assert lines, f"{address} is not on {device} in {ns.name}:\n{shown}"
    return any(flag in lines[0] for flag in ("tentative", "dadfailed"))


def cleanup(ns: Namespace, state_dir: Path) -> str:
    """``kubelvs agent --cleanup`` in ``ns`` from the agent's record (in-thread, as agentrun's passes); its log."""
    err = io.StringIO()
    with inside(ns.name), contextlib.redirect_stderr(err):
        status = cli.main(["agent", "--cleanup", "--state-file", str(state_dir / f"{ns.name}.json")])
    assert status == 0, err.getvalue()
    return err.getvalue()


def test_ipv6_nat_by_director_snat_and_by_policy_route(lvs_factory, tmp_path) -> None:
    lvs: LvsTopology = lvs_factory(directors=1, real_servers=2, ipv6=True)
    dir1, (rs1, rs2), client = lvs.directors[0], lvs.real_servers, lvs.client
    for server in (rs1, rs2):
        server.http_server(8080)
        server.http_server(8081)
    nat = {"forwarding": "nat", "scheduler": "rr", "directors": {**DIRECTORS, "gateway": GATEWAY6}}
    path = write(
        tmp_path / "nat6.yaml",
        [
            vs("snat", address=lvs.vip6, port=80, natReturnPath="snat", **nat),
            vs("route", address=lvs.vip6, port=81, natReturnPath="route", **nat),
            *(rs(f"snat-{i}", "snat", lvs.address6(s), port=8080) for i, s in ((1, rs1), (2, rs2))),
            *(rs(f"route-{i}", "route", lvs.address6(s), port=8081) for i, s in ((1, rs1), (2, rs2))),
        ],
    )
    main = {server.name: server.ip("-6", "route", "show", "table", "main").stdout for server in (rs1, rs2)}
    director(dir1, path, tmp_path, *POOLS)
    assert f"{lvs.vip6}/128" in dir1.ip("-6", "addr", "show", "eth0").stdout
    assert "2001:db8:9::200/128" in dir1.ip("-6", "addr", "show", "eth1").stdout
    assert not tentative(dir1, "eth0", lvs.vip6)
    masqueraded = dir1.exec("nft", "list", "set", "inet", "kubelvs", "snat6").stdout
    assert all(f"{lvs.address6(s)} . tcp . 8080 . {lvs.vip6}" in masqueraded for s in (rs1, rs2)), masqueraded

    # snat: the director masquerades, so the backends need nothing of kube-lvs for their replies
    answers = client.http_get(lvs.vip6, 80, count=4)
    assert alternates(answers) and set(answers) == {"rs1", "rs2"}, answers
    # control: without the backends' policy routes the route service's replies leave by the router, unNATed
    assert client.http_get(lvs.vip6, 81, timeout=2)[0].startswith("ERR")

    for server in (rs1, rs2):
        agent(server, path, tmp_path)
        rules = [" ".join(line.split()) for line in server.ip("-6", "rule", "show").stdout.splitlines()]
        (rule,) = [r for r in rules if f"from {lvs.address6(server)} ipproto tcp sport 8081 lookup" in r]
        table = rule.rsplit(" ", 1)[1]
        assert "default via 2001:db8:9::200" in server.ip("-6", "route", "show", "table", table).stdout
        assert not any("sport 8080" in r for r in rules)  # the snat service's replies need no route
        assert server.ip("-6", "route", "show", "table", "main").stdout == main[server.name]
    answers = client.http_get(lvs.vip6, 81, count=4)
    assert alternates(answers) and set(answers) == {"rs1", "rs2"}, answers
    assert alternates(client.http_get(lvs.vip6, 80, count=4))  # and the snat service is as it was


def test_ipv6_dr_vip_on_lo_is_never_advertised_by_the_backends(lvs_factory, tmp_path) -> None:
    lvs: LvsTopology = lvs_factory(directors=1, real_servers=2, ipv6=True)
    dir1, (rs1, rs2), client, router = lvs.directors[0], lvs.real_servers, lvs.client, lvs.router
    for server in (rs1, rs2):
        server.http_server(80)
    path = write(
        tmp_path / "dr6.yaml",
        [
            vs("web", address=lvs.vip6, port=80, forwarding="dr", scheduler="rr", directors=DIRECTORS),
            rs("web-1", "web", lvs.address6(rs1)),
            rs("web-2", "web", lvs.address6(rs2)),
        ],
    )
    arp = {s.name: s.exec("sysctl", "-n", "net.ipv4.conf.all.arp_ignore").stdout for s in (rs1, rs2)}
    for server in (rs1, rs2):
        agent(server, path, tmp_path)
        assert f"{lvs.vip6}/128" in server.ip("-6", "addr", "show", "lo").stdout
        assert not tentative(server, "lo", lvs.vip6)  # lo runs no duplicate address detection
        # IPv6 needs none of IPv4's ARP sysctls
        assert server.exec("sysctl", "-n", "net.ipv4.conf.all.arp_ignore").stdout == arp[server.name]
    director(dir1, path, tmp_path, *POOLS)
    answers = client.http_get(lvs.vip6, 80, count=4)
    assert alternates(answers) and set(answers) == {"rs1", "rs2"}, answers

    # Neighbour discovery on the real servers' link: the router solicits the VIP there (a host route to it
    # on eth1, its back link). The backends hold it on lo and answer only for addresses on the receiving
    # interface, the director holds it on eth0: nobody answers, so the router learns no link-layer address.
    assert router.http_get(lvs.address6(rs1), 80, timeout=2) == ["rs1"]  # control: the link itself works
    router.ip("-6", "route", "add", f"{lvs.vip6}/128", "dev", "eth1")
    assert router.http_get(lvs.vip6, 80, timeout=2)[0].startswith("ERR")
    neighbour = router.ip("-6", "neigh", "show", lvs.vip6, "dev", "eth1").stdout
    assert "lladdr" not in neighbour, neighbour
    router.ip("-6", "route", "del", f"{lvs.vip6}/128", "dev", "eth1")
    assert alternates(client.http_get(lvs.vip6, 80, count=2))


def test_ipv6_tun_reaches_routed_real_servers_through_ip6tnl0(lvs_factory, tmp_path) -> None:
    lvs: LvsTopology = lvs_factory(directors=1, real_servers=2, rs_segment="remote", ipv6=True)
    dir1, (rs1, rs2), client = lvs.directors[0], lvs.real_servers, lvs.client
    for server in (rs1, rs2):
        server.http_server(80)
    path = write(
        tmp_path / "tun6.yaml",
        [
            vs("web", address=lvs.vip6, port=80, forwarding="tun", scheduler="rr", directors=DIRECTORS),
            rs("web-1", "web", lvs.address6(rs1, "remote")),
            rs("web-2", "web", lvs.address6(rs2, "remote")),
        ],
    )
    director(dir1, path, tmp_path, *POOLS)
    # the VIP is bound deprecated, so the ip6ip6 packets leave from the director's own address: a real server
    # drops a tunnel packet whose outer source is local to it, as the VIP is
    assert "deprecated" in dir1.ip("-6", "addr", "show", "dev", "eth0").stdout
    route = dir1.ip("-6", "route", "get", lvs.address6(rs1, "remote")).stdout
    assert f"src {lvs.address6(dir1, 'front')} " in route, route
    listing = dir1.exec("ipvsadm", "-Ln").stdout
    assert f"[{lvs.address6(rs1, 'remote')}]:80" in listing and "Tunnel" in listing, listing
    # control: before the backends' agents ip6tnl0 is down and holds no VIP: the ip6ip6 packets are dropped
    assert client.http_get(lvs.vip6, 80, timeout=2)[0].startswith("ERR")

    for server in (rs1, rs2):
        agent(server, path, tmp_path)
        device = server.ip("-6", "addr", "show", "dev", "ip6tnl0").stdout
        assert f"{lvs.vip6}/128" in device and ",UP" in device, device
        assert "ipv6/ipv6" in server.ip("-6", "tunnel", "show", "ip6tnl0").stdout  # ip6ip6 mode
        assert not tentative(server, "ip6tnl0", lvs.vip6)
    answers = client.http_get(lvs.vip6, 80, count=4)
    received = {server.name: server.ip("-s", "link", "show", "ip6tnl0").stdout for server in (rs1, rs2)}
    assert alternates(answers) and set(answers) == {"rs1", "rs2"}, (answers, received)

    # the record names ip6tnl0 as brought up by kube-lvs, so --cleanup takes it down again with the VIP
    said = cleanup(rs1, tmp_path)
    device = rs1.ip("-6", "addr", "show", "dev", "ip6tnl0").stdout
    assert lvs.vip6 not in device and ",UP" not in device, (device, said)
