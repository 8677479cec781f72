"""The director role: IPVS rules on every selected node, the VIP only on the node holding its group."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from kubelvs.api.enums import HealthCheckType, NatReturnPath, OnFailure
from kubelvs.api.groups import director_group
from kubelvs.api.models import HealthCheck, RealServer, VirtualServer
from kubelvs.api.rules import effective_nat_return_path, effective_port
from kubelvs.netstate import Destination, DestKey, Family, Fwd, FwmarkRule, SnatRule
from kubelvs.planner import ipvs
from kubelvs.planner.facts import NodeFacts, Skip
from kubelvs.planner.parts import Parts

FORWARDING_SYSCTL = {Family.INET: "net/ipv4/ip_forward", Family.INET6: "net/ipv6/conf/all/forwarding"}
# IPVS connections must have conntrack entries for nftables to masquerade them.
CONNTRACK_SYSCTL = "net/ipv4/vs/conntrack"


def selects(vs: VirtualServer, facts: NodeFacts) -> bool:
    """An empty nodeSelector selects every node, like a Kubernetes label selector."""
    return all(facts.labels.get(label) == value for label, value in vs.spec.directors.node_selector.items())


Made = dict[str, tuple[RealServer, Destination, tuple[SnatRule, ...]]]
"""RealServer key -> (that object, its destination, its masquerades): what :func:`add` made of each, so the
next call for the same VirtualServer object makes again only what a new RealServer object needs."""


def add(
    parts: Parts,
    vs: VirtualServer,
    real_servers: Sequence[RealServer],
    down: Collection[str] = (),
    made: Made | None = None,
    before: Made | None = None,
) -> dict[str, DestKey]:
    """The IPVS rules every director of ``vs`` programs; returns each RealServer's destination key.

    ``down``: keys of real servers failing their health checks, quiesced (weight 0) or left out as the
    check's ``onFailure`` says. ``made`` is filled with what was made of each real server; ``before``: what
    an earlier call for this very ``vs`` object made (a Service's endpoints change ten at a time).
    """
    spec = vs.spec
    svc = ipvs.service(spec)
    parts.services[svc.key] = svc
    family = ipvs.family(spec)
    check = spec.health_check
    failing = down if check is not None and check.type is not HealthCheckType.NONE else ()
    destinations: dict[str, DestKey] = {}
    snat = effective_nat_return_path(spec) is NatReturnPath.SNAT
    nat = False
    protocol, original = ipvs.protocol(spec), ipvs.vip(spec)
    before = before or {}
    for rs in real_servers:
        hit = before.get(rs.key)
        if hit is not None and hit[0] is rs:
            dest, rules = hit[1], hit[2]
        else:
            dest = ipvs.destination(spec, rs.spec, svc.key)
            rules = ()
            if snat and dest.forwarding is Fwd.MASQ:
                if original is None:
                    raise ValueError(
                        "natReturnPath snat of a fwmark service needs fwmarkMatch: the address clients use"
                    )
                rs_family = ipvs.address_family(rs.spec.address)
                ports = _ports(vs, effective_port(spec, rs.spec))
                rules = tuple(SnatRule(rs_family, rs.spec.address, protocol, port, original) for port in ports)
        if made is not None:
            made[rs.key] = (rs, dest, rules)
        destinations[rs.key] = dest.key
        if rs.key in failing:
            assert check is not None
            if check.on_failure is OnFailure.REMOVE:
                continue
            dest = dest._replace(weight=0)
        parts.destinations[dest.key] = dest
        if dest.forwarding is Fwd.MASQ:
            nat = True
            for rule in rules:
                parts.snat_rules[rule] = rule
    if nat:  # NAT replies come back through the director and are forwarded, de-masqueraded, to the client
        parts.sysctl(FORWARDING_SYSCTL[family], "1")
        if snat:
            parts.sysctl(CONNTRACK_SYSCTL, "1")
    if spec.fwmark is not None and spec.fwmark_match is not None:
        match = spec.fwmark_match
        parts.fwmark_rules[spec.fwmark] = FwmarkRule(
            spec.fwmark, family, match.destination, protocol, tuple(sorted(set(match.ports)))
        )
    return destinations


def checks(vs: VirtualServer, real_servers: Sequence[RealServer]) -> dict[str, tuple[HealthCheck, str, int]]:
    """RealServer key -> (its check, address, port) of a VirtualServer this node directs: every director
    checks, so a standby has current health when it takes over."""
    check = vs.spec.health_check
    if check is None or check.type is HealthCheckType.NONE:
        return {}
    return {rs.key: (check, rs.spec.address, effective_port(vs.spec, rs.spec)) for rs in real_servers}


def _ports(vs: VirtualServer, port: int) -> tuple[int, ...]:
    """Destination ports of a real server's traffic: its own, else every marked port (0: any)."""
    if port or vs.spec.fwmark_match is None:
        return (port,)
    return tuple(sorted(set(vs.spec.fwmark_match.ports)))


def bind(parts: Parts, vs: VirtualServer, facts: NodeFacts) -> None:
    """What only the holder of the director group carries: the VIP and the NAT gateway address."""
    spec = vs.spec
    address = ipvs.vip(spec)
    if address is not None:
        interface = spec.directors.interface or facts.default_interfaces.get(ipvs.address_family(address))
        if interface is None:
            parts.skipped.append(_no_interface(vs, "spec.directors.interface", address))
        else:
            parts.address(interface, address, ipvs.host_prefix(address))
    gateway = spec.directors.gateway
    if gateway is not None:
        # The gateway is the real servers' next hop, so its default is the link whose subnet holds it
        # (announced elsewhere, its gratuitous ARP never reaches them and failover waits for their ARP cache).
        interface = (
            gateway.interface
            or facts.interface_towards(gateway.address)
            or spec.directors.interface
            or facts.default_interfaces.get(ipvs.address_family(gateway.address))
        )
        if interface is None:
            parts.skipped.append(_no_interface(vs, "spec.directors.gateway.interface", gateway.address))
        else:
            parts.address(interface, gateway.address, ipvs.host_prefix(gateway.address))


def _no_interface(vs: VirtualServer, field: str, address: str) -> Skip:
    return Skip(
        f"VirtualServer {vs.key}",
        f"{address} not bound: this node has no default route for its family; set {field}",
    )


def group(vs: VirtualServer) -> str:
    return director_group(vs.spec.directors)
