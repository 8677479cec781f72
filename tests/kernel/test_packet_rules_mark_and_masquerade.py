"""PacketRules: the nft table marks packets for fwmark services and masquerades IPVS-NAT traffic only."""

from __future__ import annotations

import sys

import pytest
from netns import LvsTopology, Netns

from kubelvs.kernel.nft import NftError, NftNotFound, NftPacketRules
from kubelvs.kernel.sysctl import ProcSysctls
from kubelvs.netstate import Family, FwmarkRule, Proto, SnatRule
from kubelvs.testbed.namespaces import inside

# An HTTP server that answers with the address the connection came from.
PEER_ECHO = """
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", int(sys.argv[1])))
server.listen()
print("ready", flush=True)
while True:
    conn, peer = server.accept()
    conn.recv(4096)
    body = peer[0].encode() + b"\\n"
    conn.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body)
    conn.close()
"""


def test_fwmark_service_spanning_two_ports_gets_traffic_on_both(lvs_factory) -> None:
    lvs: LvsTopology = lvs_factory(directors=1, real_servers=1)
    director, backend = lvs.directors[0], lvs.real_servers[0]
    backend.ip("route", "replace", "default", "via", lvs.address(director))  # NAT return path, by hand here
    for port in (80, 443):
        backend.http_server(port)
    director.ip("addr", "add", f"{lvs.vip}/32", "dev", "eth0")
    director.exec("ipvsadm", "-A", "-f", "7", "-s", "rr")
    director.exec("ipvsadm", "-a", "-f", "7", "-r", lvs.address(backend), "-m")
    assert lvs.client.http_get(lvs.vip, 80, timeout=2)[0].startswith("ERR")  # control: nothing marks yet

    rule = FwmarkRule(7, Family.INET, lvs.vip, Proto.TCP, (80, 443))
    rules = NftPacketRules()
    with inside(director.name):
        rules.replace([rule], [])
        assert rules.current() == ({rule}, set())
    assert lvs.client.http_get(lvs.vip, 80) == ["rs1"]
    assert lvs.client.http_get(lvs.vip, 443) == ["rs1"]
    assert lvs.client.http_get(lvs.vip, 8080, timeout=2)[0].startswith("ERR")  # port not in the set

    with inside(director.name):
        rules.replace([], [])
        assert rules.current() == (set(), set())
    assert "kubelvs" not in director.exec("nft", "list", "tables").stdout
    assert lvs.client.http_get(lvs.vip, 80, timeout=2)[0].startswith("ERR")


def test_snat_makes_a_nat_backend_without_director_route_answer(lvs_factory) -> None:
    lvs: LvsTopology = lvs_factory(directors=1, real_servers=1)
    director, backend = lvs.directors[0], lvs.real_servers[0]
    rip = lvs.address(backend)
    backend.start(sys.executable, "-c", PEER_ECHO, "8080")
    director.ip("addr", "add", f"{lvs.vip}/32", "dev", "eth0")
    director.exec("ipvsadm", "-A", "-t", f"{lvs.vip}:80", "-s", "rr")
    director.exec("ipvsadm", "-a", "-t", f"{lvs.vip}:80", "-r", f"{rip}:8080", "-m")
    with inside(director.name):
        ProcSysctls().write("net/ipv4/vs/conntrack", "1")  # IPVS traffic is NATed only when tracked
    assert lvs.client.http_get(lvs.vip, 80, timeout=2)[0].startswith("ERR")  # control: replies go astray

    snat = SnatRule(Family.INET, rip, Proto.TCP, 8080, lvs.vip)
    rules = NftPacketRules()
    with inside(director.name):
        rules.replace([], [snat])
        assert rules.current() == (set(), {snat})
    # the backend sees the director as the source, so its reply comes back through it
    assert lvs.client.http_get(lvs.vip, 80, count=2) == [lvs.address(director)] * 2
    # the director's own connection to the RIP (a health check) is not IPVS traffic: not masqueraded, works
    assert director.http_get(rip, 8080) == [lvs.address(director)]
    listing = director.exec("nft", "list", "chain", "inet", "kubelvs", "postrouting").stdout
    # the nat chain sees the first packet of each connection: the two IPVS ones matched, the direct one did not
    assert "packets 2 " in listing


def test_rules_round_trip_for_both_families_and_leave_other_tables_alone(netns: Netns) -> None:
    node = netns.namespace("node")
    node.exec("nft", "add", "table", "inet", "other")
    marks = {
        FwmarkRule(1, Family.INET, "192.0.2.100", Proto.TCP, (80, 443)),
        FwmarkRule(2, Family.INET, "192.0.2.101", Proto.UDP, (53,)),
        FwmarkRule(3, Family.INET6, "2001:db8:1::100", Proto.SCTP, (3868, 3869)),
        FwmarkRule(0xFFFF0001, Family.INET6, "2001:db8:1::101", Proto.NONE, ()),
    }
    snats = {
        SnatRule(Family.INET, "10.9.0.11", Proto.TCP, 8080, "192.0.2.101"),
        SnatRule(Family.INET6, "2001:db8:9::11", Proto.UDP, 53, "2001:db8:1::100"),
    }
    rules = NftPacketRules()
    with inside(node.name):
        assert rules.current() == (set(), set())  # no table yet
        rules.replace(sorted(marks), sorted(snats))
        assert rules.current() == (marks, snats)
        moved = SnatRule(Family.INET, "10.9.0.12", Proto.TCP, 8080, "192.0.2.101")
        rules.change_snats([moved], [SnatRule(Family.INET, "10.9.0.11", Proto.TCP, 8080, "192.0.2.101")])
        assert rules.current() == (marks, {moved, *(r for r in snats if r.family == Family.INET6)})
        with pytest.raises(NftError, match="SNAT set elements"):  # not there: the transaction changes nothing
            rules.change_snats([], [SnatRule(Family.INET, "10.9.0.99", Proto.TCP, 8080, "192.0.2.101")])
        rules.replace(sorted(marks)[:1], [])  # replaced whole, not merged
        assert rules.current() == (set(sorted(marks)[:1]), set())
        with pytest.raises(ValueError, match=r"fwmark rule 9: '192\.0\.2\.300' is not an IP address"):
            rules.replace([FwmarkRule(9, Family.INET, "192.0.2.300", Proto.TCP, (80,))], [])
        assert rules.current() == (set(sorted(marks)[:1]), set())  # bad input changed nothing
    assert "table inet other" in node.exec("nft", "list", "tables").stdout


def test_missing_nft_binary_is_a_clear_error(netns: Netns) -> None:
    netns.namespace("node")
    with inside("node"), pytest.raises(NftNotFound, match="'nft-missing' not found on PATH"):
        NftPacketRules(binary="nft-missing").current()
    assert issubclass(NftNotFound, NftError)
