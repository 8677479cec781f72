"""The test VM itself: a real IPVS kernel, and namespaces that carry traffic."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from netns import LvsTopology, Netns


def test_guest_is_marked_and_root() -> None:
    assert os.environ["KUBELVS_IN_VM"] == "1"
    assert os.geteuid() == 0


def test_ipvs_and_every_scheduler_are_loaded() -> None:
    modules = {line.split()[0] for line in Path("/proc/modules").read_text().splitlines()}
    schedulers = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"]
    assert {"ip_vs", "ipip", "veth", "bridge", "dummy"} | {f"ip_vs_{s}" for s in schedulers} <= modules
    listing = subprocess.run(["ipvsadm", "-Ln"], capture_output=True, text=True, check=True).stdout
    assert "IP Virtual Server version" in listing


def test_veth_between_two_namespaces_carries_http_and_udp(netns: Netns) -> None:
    left, right = netns.namespace("left"), netns.namespace("right")
    netns.veth(left, "eth0", right, "eth0")
    left.address("eth0", "10.9.0.1/24")
    right.address("eth0", "10.9.0.2/24")
    right.http_server(8080)
    right.udp_server(5353)

    assert left.http_get("10.9.0.2", 8080, count=3) == ["right"] * 3
    assert left.udp_ask("10.9.0.2", 5353, count=2) == ["right"] * 2


def test_lvs_topology_routes_client_to_real_servers_through_router(lvs_factory, netns: Netns) -> None:
    lvs: LvsTopology = lvs_factory(real_servers=2, rs_segment="remote", ipv6=True)
    netns.http_servers(lvs.real_servers, 80)
    answers = lvs.client.http_get(lvs.address(lvs.real_servers[1], "remote"), 80, count=1)
    answers += lvs.client.http_get(lvs.address6(lvs.real_servers[0], "remote"), 80, count=1)
    assert answers == ["rs2", "rs1"]
    # the director reaches the front and, by routing, the remote real servers
    assert lvs.directors[0].http_get(lvs.address(lvs.real_servers[0], "remote")) == ["rs1"]


def test_lvs_nat_through_the_director_balances_round_robin(lvs: LvsTopology, netns: Netns) -> None:
    director = lvs.directors[0]
    netns.http_servers(lvs.real_servers, 8080)
    for server in lvs.real_servers:
        # NAT: replies must come back through the director (kube-lvs would install a policy route instead)
        server.ip("route", "replace", "default", "via", lvs.address(director, "back"))
    director.address("eth0", f"{lvs.vip}/32")
    director.exec("ipvsadm", "-A", "-t", f"{lvs.vip}:80", "-s", "rr")
    for server in lvs.real_servers:
        director.exec("ipvsadm", "-a", "-t", f"{lvs.vip}:80", "-r", f"{lvs.address(server)}:8080", "-m")

    assert sorted(lvs.client.http_get(lvs.vip, 80, count=4)) == ["rs1", "rs1", "rs2", "rs2"]


def test_the_holder_sampler_sees_exactly_the_addresses_on_interfaces_that_are_up(netns: Netns) -> None:
    """The full-stack test's double-holder sampler (UpAddresses, on kubelvs.kernel.netlink) against ``ip``."""
    from kubelvs.testbed.stack import UpAddresses

    ns = netns.namespace("sampled")
    ns.ip("link", "add", "eth0", "type", "dummy")
    ns.address("eth0", "192.0.2.50/32")
    sampler = UpAddresses(ns.name)
    try:
        assert sampler.up() == {"127.0.0.1"}  # eth0 is down: its VIP is held by nobody
        ns.ip("link", "set", "eth0", "up")
        ns.address("eth0", "192.0.2.51/32")
        assert sampler.up() == {"127.0.0.1", "192.0.2.50", "192.0.2.51"}
        listed = ns.ip("-o", "-4", "addr", "show", "up").stdout.split()
        assert {word.split("/")[0] for word in listed if word.count(".") == 3 and "/" in word} == sampler.up()
        ns.ip("link", "set", "eth0", "down")
        assert sampler.up() == {"127.0.0.1"}
    finally:
        sampler.close()
