"""The backend role: what a node needs to serve as a real server of a VirtualServer.

DR: the VIP on ``lo`` and, for IPv4, the classic ARP sysctls, so the node accepts the VIP but never answers
ARP for it. IPv6 needs no sysctl: neighbour discovery answers a solicitation only for an address on the
interface it arrived on (``ndisc_recv_ns`` looks the target up strictly on that device), and picks a
solicitation's source from the outgoing interface, so a VIP on ``lo`` is neither advertised nor used on
the LAN; ``lo`` runs no DAD, so the VIP is usable at once. TUN: ``tunl0`` up with the VIP and
reverse-path filtering off for decapsulated packets; for an IPv6 VIP, ``ip6tnl0`` (ip6ip6, what IPVS
sends) up with the VIP, and nothing else: IPv6 has no rp_filter. A TUN real server whose address family
differs from the VIP's would receive IPv4 in IPv6 (or IPv6 in IPv4), which neither device takes: skipped.
NAT with ``natReturnPath: route``: a policy route sending the real server's replies through the directors'
gateway, leaving the node's default route alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from kubelvs.api.enums import Forwarding, NatReturnPath
from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.rules import effective_forwarding, effective_nat_return_path, effective_port
from kubelvs.netstate import Family, PolicyRoute, Proto
from kubelvs.planner import ipvs
from kubelvs.planner.facts import Skip
from kubelvs.planner.parts import Parts

# Routing tables of kube-lvs' policy routes: kubelvs.kernel.routes.TABLES (a unit test keeps them equal).
POLICY_TABLES = range(2000, 3000)

TUNNEL, TUNNEL6 = "tunl0", "ip6tnl0"  # the fallback devices of the ipip and ip6_tunnel modules
VIP_INTERFACES = ("lo", TUNNEL, TUNNEL6)  # where a backend holds a VIP without answering ARP or NDP for it
ARP_SYSCTLS = (
    ("net/ipv4/conf/all/arp_ignore", "1"),
    ("net/ipv4/conf/all/arp_announce", "2"),
)
LO_ARP_SYSCTLS = (
    ("net/ipv4/conf/lo/arp_ignore", "1"),
    ("net/ipv4/conf/lo/arp_announce", "2"),
)
TUNNEL_SYSCTLS = (
    ("net/ipv4/conf/all/rp_filter", "0"),
    ("net/ipv4/conf/tunl0/rp_filter", "0"),
)


def add(parts: Parts, vs: VirtualServer, rs: RealServer) -> None:
    spec = vs.spec
    forwarding = effective_forwarding(spec, rs.spec)
    obj = f"RealServer {rs.key}"
    if forwarding == Forwarding.NAT:
        _nat(parts, vs, rs)
        return
    address = ipvs.vip(spec)
    if address is None:
        parts.skipped.append(
            Skip(obj, f"{forwarding.value} backend needs the VIP, but fwmark {spec.fwmark} has no fwmarkMatch")
        )
        return
    ipv6 = ipvs.address_family(address) == Family.INET6
    if forwarding == Forwarding.DR:
        parts.address("lo", address, ipvs.host_prefix(address))
        if not ipv6:
            for path, value in (*ARP_SYSCTLS, *LO_ARP_SYSCTLS):
                parts.sysctl(path, value)
        return
    if ipv6 != (ipvs.address_family(rs.spec.address) == Family.INET6):
        inner, outer = ("IPv6", "IPv4") if ipv6 else ("IPv4", "IPv6")
        parts.skipped.append(
            Skip(
                obj,
                f"tun backend of {inner} VIP {address} at {outer} address {rs.spec.address} is not supported: "
                f"IPVS would send it {inner} in {outer}, which neither {TUNNEL} nor {TUNNEL6} receives",
            )
        )
        return
    if ipv6:
        parts.tunnel6 = True
        parts.address(TUNNEL6, address, 128)
        return
    parts.tunnel = True
    parts.address(TUNNEL, address, 32)
    for path, value in (*ARP_SYSCTLS, *TUNNEL_SYSCTLS):
        parts.sysctl(path, value)


def add_pod(parts: Parts, vs: VirtualServer, rs: RealServer) -> None:
    """A pod endpoint on this node (its address is the pod's, not the node's): with NAT and the route return
    path the node routes the pod's replies through the directors' gateway; nothing else is the node's."""
    if effective_forwarding(vs.spec, rs.spec) == Forwarding.NAT:
        _nat(parts, vs, rs)


def _nat(parts: Parts, vs: VirtualServer, rs: RealServer) -> None:
    spec = vs.spec
    if effective_nat_return_path(spec) is not NatReturnPath.ROUTE:
        return  # snat: the director rewrites the source; none: the network routes replies already
    if spec.directors.gateway is None:
        parts.skipped.append(Skip(f"RealServer {rs.key}", "nat return route needs spec.directors.gateway"))
        return
    port = effective_port(spec, rs.spec)
    ports = (port,) if port or spec.fwmark_match is None else tuple(sorted(set(spec.fwmark_match.ports)))
    protocol = ipvs.protocol(spec)
    if protocol == Proto.NONE or 0 in ports:
        parts.skipped.append(
            Skip(
                f"RealServer {rs.key}",
                "nat return route needs a protocol and a port to select replies by; give the RealServer "
                "a port (or the fwmark service a fwmarkMatch), or use natReturnPath snat or none",
            )
        )
        return
    family = ipvs.address_family(rs.spec.address)
    for source_port in ports:
        route = PolicyRoute(family, rs.spec.address, protocol, source_port, spec.directors.gateway.address, 0)
        parts.policy_routes[route.key] = route


def assign_tables(parts: Parts) -> None:
    """One routing table per gateway (its default route): a stable hash, probing past collisions."""
    tables: dict[tuple[Family, str], int] = {}
    for family, gateway in sorted({(r.family, r.gateway) for r in parts.policy_routes.values()}):
        digest = hashlib.sha256(f"{family.value}|{gateway}".encode()).digest()
        slot = int.from_bytes(digest[:4], "big") % len(POLICY_TABLES)
        while POLICY_TABLES[slot] in tables.values():
            slot = (slot + 1) % len(POLICY_TABLES)
        tables[(family, gateway)] = POLICY_TABLES[slot]
    for key, route in parts.policy_routes.items():
        parts.policy_routes[key] = replace(route, table=tables[(route.family, route.gateway)])
