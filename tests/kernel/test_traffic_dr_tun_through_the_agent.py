"""LVS-DR and LVS-TUN programmed by the agent alone, backends included (VIP on lo / tunl0, ARP and
rp_filter sysctls), with real HTTP and UDP through the VIP: sh and persistence keep a client on one
server, rr spreads, a UDP service answers, a fwmark service spans two ports.
"""

from __future__ import annotations

from agentrun import DIRECTORS, agent, alternates, director, rs, vs, write
from netns import LvsTopology

FWMARK_VIP = "192.0.2.101"


def dr_manifests(**web: object) -> list[dict]:
    spec = {"address": "192.0.2.100", "port": 80, "forwarding": "dr", "directors": DIRECTORS, **web}
    mark = {"destination": FWMARK_VIP, "ports": [80, 8080]}
    return [
        vs("web", **spec),
        vs("dns", address="192.0.2.100", port=53, protocol="UDP", scheduler="rr", directors=DIRECTORS),
        vs("marked", fwmark=7, fwmarkMatch=mark, scheduler="rr", directors=DIRECTORS),
        *(rs(f"{name}-{i}", name, f"10.9.0.1{i}") for name in ("web", "dns", "marked") for i in (1, 2)),
    ]


def test_dr_service_schedulers_udp_and_fwmark(lvs_factory, tmp_path) -> None:
    lvs: LvsTopology = lvs_factory(directors=1, real_servers=2)
    dir1, (rs1, rs2), client = lvs.directors[0], lvs.real_servers, lvs.client
    for server in (rs1, rs2):
        server.http_server(80)
        server.http_server(8080)
        server.udp_server(53)
    path = write(tmp_path / "dr.yaml", dr_manifests(scheduler="sh"))
    for server in (rs1, rs2):
        agent(server, path, tmp_path)
        assert "192.0.2.100/32" in server.ip("addr", "show", "lo").stdout
        assert "192.0.2.101/32" in server.ip("addr", "show", "lo").stdout
        assert server.exec("sysctl", "-n", "net.ipv4.conf.all.arp_ignore").stdout.strip() == "1"
        assert server.exec("sysctl", "-n", "net.ipv4.conf.all.arp_announce").stdout.strip() == "2"
    director(dir1, path, tmp_path)

    # sh: one source address, one server
    answers = client.http_get(lvs.vip, 80, count=6)
    assert len(set(answers)) == 1 and answers[0] in ("rs1", "rs2"), answers

    # a UDP service answers, from both servers in turn
    assert alternates(client.udp_ask(lvs.vip, 53, count=4))

    # a fwmark service: one scheduler over two ports of its VIP
    assert alternates(client.http_get(FWMARK_VIP, 80, count=2) + client.http_get(FWMARK_VIP, 8080, count=2))

    # persistence keeps a client on one server even under rr
    write(path, dr_manifests(scheduler="rr", persistence={"timeout": 60}))
    director(dir1, path, tmp_path)
    answers = client.http_get(lvs.vip, 80, count=6)
    assert len(set(answers)) == 1, answers

    # without it, rr proves both DR backends answer for the VIP
    write(path, dr_manifests(scheduler="rr"))
    director(dir1, path, tmp_path)
    assert alternates(client.http_get(lvs.vip, 80, count=4))


def test_tun_service_reaches_routed_real_servers(lvs_factory, tmp_path) -> None:
    lvs: LvsTopology = lvs_factory(directors=1, real_servers=2, rs_segment="remote")
    dir1, (rs1, rs2), client = lvs.directors[0], lvs.real_servers, lvs.client
    path = write(
        tmp_path / "tun.yaml",
        [
            vs("web", address="192.0.2.100", port=80, forwarding="tun", scheduler="rr", directors=DIRECTORS),
            rs("web-1", "web", lvs.address(rs1, "remote")),
            rs("web-2", "web", lvs.address(rs2, "remote")),
        ],
    )
    for server in (rs1, rs2):
        server.http_server(80)
        agent(server, path, tmp_path)
        assert "192.0.2.100/32" in server.ip("addr", "show", "tunl0").stdout
        assert server.exec("sysctl", "-n", "net.ipv4.conf.tunl0.rp_filter").stdout.strip() == "0"
    director(dir1, path, tmp_path)
    assert "Tunnel" in dir1.exec("ipvsadm", "-Ln").stdout
    assert alternates(client.http_get(lvs.vip, 80, count=4))
