"""Tunnel: tunl0 is created (ipip autoloaded) and brought up, and an LVS-TUN backend then answers."""

from __future__ import annotations

from pathlib import Path

from netns import LvsTopology, run

from kubelvs.kernel.addresses import NetlinkAddresses
from kubelvs.kernel.sysctl import ProcSysctls
from kubelvs.kernel.tunnel import NetlinkTunnel
from kubelvs.netstate import AddressKey
from kubelvs.testbed.namespaces import inside


def ipip_loaded() -> bool:
    return Path("/sys/module/ipip").exists()


def test_tun_backend_answers_once_tunl0_is_up_with_the_vip(lvs_factory) -> None:
    lvs: LvsTopology = lvs_factory(directors=1, real_servers=1, rs_segment="remote")
    (director,), (backend,) = lvs.directors, lvs.real_servers
    rip = lvs.address(backend, "remote")
    for ns in (lvs.router, backend):
        for device in ("all", "default", *(["eth0", "eth1", "eth2"] if ns is lvs.router else [])):
            ns.sysctl(f"net/ipv4/conf/{device}/rp_filter", "0")  # the router forwards VIP-sourced replies
    # IPVS-TUN by hand on the director: the packet source for what is under test (the backend's side).
    director.ip("addr", "add", f"{lvs.vip}/32", "dev", "eth0")
    director.exec("ipvsadm", "-A", "-t", f"{lvs.vip}:80", "-s", "rr")
    director.exec("ipvsadm", "-a", "-t", f"{lvs.vip}:80", "-r", f"{rip}:80", "-i")
    backend.http_server(80)

    run(["modprobe", "-r", "ipip"])  # start from "no tunl0 anywhere", as on a fresh node
    assert not ipip_loaded()
    tunnel = NetlinkTunnel()
    with inside(backend.name):
        assert not tunnel.is_up()
    assert lvs.client.http_get(lvs.vip, 80, timeout=2)[0].startswith("ERR")  # control: nothing decapsulates

    with inside(backend.name):
        tunnel.ensure_up()
        tunnel.ensure_up()  # again: fine
        with NetlinkAddresses().batch() as batch:
            batch.add(AddressKey("tunl0", lvs.vip, 32))
        sysctls = ProcSysctls()
        for device in ("tunl0", "all"):
            sysctls.write(f"net/ipv4/conf/{device}/rp_filter", "0")
        assert tunnel.is_up()
    assert ipip_loaded()
    assert "UP" in backend.ip("-br", "link", "show", "tunl0").stdout

    assert lvs.client.http_get(lvs.vip, 80, count=2) == ["rs1", "rs1"]
    stats = director.exec("ipvsadm", "-Ln", "--stats").stdout
    assert f"{rip}:80" in stats


def test_is_up_is_false_for_a_down_tunl0(netns) -> None:
    node = netns.namespace("node")
    tunnel = NetlinkTunnel()
    with inside(node.name):
        tunnel.ensure_up()
    node.ip("link", "set", "tunl0", "down")
    with inside(node.name):
        assert not tunnel.is_up()
        tunnel.ensure_up()
        assert tunnel.is_up()
