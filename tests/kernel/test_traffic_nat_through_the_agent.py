"""LVS-NAT programmed by the agent alone: the director's IPVS rules and VIP, the backends' return routes.

One topology, one story, to keep VM time low: rr alternates; wrr 3:1 splits 40 connections 30/10 after
a single edit; a second pass writes nothing; a hand-made ``ipvsadm -d`` is repaired; weight 0 takes no
new connections while an established one keeps working; a removed RealServer drains (weight 0 while its
connection lives, deleted after); removed objects disappear; a service the agent never created is never
touched.
"""

from __future__ import annotations

import socket
import time

from agentrun import (
    DIRECTORS,
    alternates,
    counts,
    director,
    line_server,
    rs,
    service_lines,
    vs,
    write,
    wrote_nothing,
)
from agentrun import agent as backend_agent
from netns import LvsTopology

from kubelvs.testbed.namespaces import inside

GATEWAY = {"address": "10.9.0.200", "interface": "eth1"}
FOREIGN = "TCP 203.0.113.50:443"


def manifests(weights: tuple[int, int] = (1, 1), scheduler: str = "rr", with_rs2: bool = True) -> list[dict]:
    nat = {"forwarding": "nat", "directors": {**DIRECTORS, "gateway": GATEWAY}}
    objects = [
        vs("web", address="192.0.2.100", port=80, scheduler=scheduler, **nat),
        vs("echo", address="192.0.2.100", port=9000, scheduler="rr", **nat),
        rs("web-1", "web", "10.9.0.11", port=8080, weight=weights[0]),
        rs("echo-1", "echo", "10.9.0.11", weight=weights[0]),
        rs("echo-2", "echo", "10.9.0.12", weight=weights[1]),
    ]
    if with_rs2:
        objects.append(rs("web-2", "web", "10.9.0.12", port=8080, weight=weights[1]))
    return objects


def ask(sock: socket.socket) -> str:
    sock.sendall(b"hi\n")
    return sock.recv(100).decode().strip()


def test_nat_service_carries_traffic_and_converges(lvs_factory, tmp_path) -> None:
    lvs: LvsTopology = lvs_factory(directors=1, real_servers=2)
    dir1, (rs1, rs2), client = lvs.directors[0], lvs.real_servers, lvs.client
    for server in (rs1, rs2):
        server.http_server(8080)
        line_server(server, 9000)
    dir1.exec("ipvsadm", "-A", "-t", "203.0.113.50:443", "-s", "rr")  # someone else's, e.g. kube-proxy's
    dir1.exec("ipvsadm", "-a", "-t", "203.0.113.50:443", "-r", "10.9.0.99:443", "-m")
    foreign = service_lines(dir1, FOREIGN)
    path = write(tmp_path / "web.yaml", manifests())

    # backends first (their return routes), then the director
    for server in (rs1, rs2):
        backend_agent(server, path, tmp_path)
    assert "lookup" in rs1.ip("rule", "show").stdout
    director(dir1, path, tmp_path, "--vip-pools", "192.0.2.0/24")
    assert "192.0.2.100/32" in dir1.ip("addr", "show", "eth0").stdout
    assert "10.9.0.200/32" in dir1.ip("addr", "show", "eth1").stdout

    answers = client.http_get(lvs.vip, 80, count=4)
    assert alternates(answers), answers
    assert set(answers) == {"rs1", "rs2"}

    # wrr 3:1 is one service edit plus one weight edit, and gives 30/10 over 40 new connections
    write(path, manifests(weights=(3, 1), scheduler="wrr"))
    summary = director(dir1, path, tmp_path, "--vip-pools", "192.0.2.0/24")
    assert summary.startswith("writes: ipvs.edit_destination=2, ipvs.edit_service=1; errors: 0"), summary
    assert counts(client.http_get(lvs.vip, 80, count=40)) == {"rs1": 30, "rs2": 10}

    # idempotent: a second pass issues no write at all
    assert wrote_nothing(director(dir1, path, tmp_path, "--vip-pools", "192.0.2.0/24"))

    # drift: a destination deleted by hand comes back
    dir1.exec("ipvsadm", "-d", "-t", "192.0.2.100:80", "-r", "10.9.0.12:8080")
    summary = director(dir1, path, tmp_path, "--vip-pools", "192.0.2.0/24")
    assert summary.startswith("writes: ipvs.add_destination=1; errors: 0"), summary
    assert any("10.9.0.12:8080 Masq 1" in line for line in service_lines(dir1, "TCP 192.0.2.100:80"))

    # weight 0: an established connection keeps its server, new connections go elsewhere
    with inside(client.name):
        held = socket.create_connection((lvs.vip, 9000), timeout=5)
    with held:
        first = ask(held)
        others = {"rs1": "rs2", "rs2": "rs1"}
        weights = (0, 1) if first == "rs1" else (1, 0)
        web = [o for o in manifests(weights=(3, 1), scheduler="wrr") if o["metadata"]["name"].startswith("web")]
        echo = [o for o in manifests(weights=weights) if o["metadata"]["name"].startswith("echo")]
        write(path, web + echo)
        director(dir1, path, tmp_path, "--vip-pools", "192.0.2.0/24")
        fresh = []
        with inside(client.name):
            for _ in range(4):
                with socket.create_connection((lvs.vip, 9000), timeout=5) as sock:
                    fresh.append(ask(sock))
        assert fresh == [others[first]] * 4
        assert ask(held) == first

    # draining: a removed RealServer with a live connection gets weight 0 and stays until the connection ends
    write(path, manifests(weights=(3, 1), scheduler="wrr"))
    director(dir1, path, tmp_path, "--vip-pools", "192.0.2.0/24")
    with inside(client.name):
        held = socket.create_connection((lvs.vip, 9000), timeout=5)
    with held:
        busy = ask(held)
        busy_address = "10.9.0.11" if busy == "rs1" else "10.9.0.12"
        gone = f"echo-{busy[-1]}"
        write(path, [o for o in manifests(weights=(3, 1), scheduler="wrr") if o["metadata"]["name"] != gone])
        summary = director(dir1, path, tmp_path, "--vip-pools", "192.0.2.0/24")
        assert summary == "writes: ipvs.edit_destination=1; errors: 0; draining: 1", summary
        assert f"-> {busy_address}:9000 Masq 0" in service_lines(dir1, "TCP 192.0.2.100:9000")
        with inside(client.name), socket.create_connection((lvs.vip, 9000), timeout=5) as sock:
            assert ask(sock) == others[busy]
        assert ask(held) == busy
    time.sleep(1)  # the connection leaves ESTABLISHED: no active connection holds the destination any more
    summary = director(dir1, path, tmp_path, "--vip-pools", "192.0.2.0/24")
    assert summary == "writes: ipvs.delete_destination=1; errors: 0; draining: 0", summary
    assert not any(busy_address in line for line in service_lines(dir1, "TCP 192.0.2.100:9000"))

    # removed objects disappear: a RealServer from the director, a whole VirtualServer, and their return
    # routes from the backend
    web = [o for o in manifests(weights=(3, 1), scheduler="wrr", with_rs2=False) if "echo" not in str(o)]
    write(path, web)
    director(dir1, path, tmp_path, "--vip-pools", "192.0.2.0/24")
    backend_agent(rs2, path, tmp_path)
    assert not any("10.9.0.12:8080" in line for line in service_lines(dir1, "TCP 192.0.2.100:80"))
    assert service_lines(dir1, "TCP 192.0.2.100:9000") == []
    assert "sport" not in rs2.ip("rule", "show").stdout
    assert set(client.http_get(lvs.vip, 80, count=3)) == {"rs1"}

    # and nothing of it ever touched the service it did not create
    assert service_lines(dir1, FOREIGN) == foreign
