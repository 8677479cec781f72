"""Rules that relate the fields of one object to each other (or a RealServer to its VirtualServer), each naming
the offending field; the rules across a set of objects are :mod:`kubelvs.api.set_rules`.

The same functions serve ``kubelvs validate``, the operator's admission of objects and the agent's
planner, so a rule cannot say one thing offline and another in the cluster.
"""

from __future__ import annotations

from collections.abc import Iterator

from kubelvs.address_text import service_text
from kubelvs.api.address_classes import Role, address_problems
from kubelvs.api.enums import (
    AddressFamily,
    Forwarding,
    HealthCheckType,
    NatReturnPath,
    Protocol,
)
from kubelvs.api.models import RealServerSpec, VirtualServerSpec
from kubelvs.api.problems import Problem


def service_family(spec: VirtualServerSpec) -> AddressFamily:
    """IPv4 or IPv6: from the VIP, else from fwmarkMatch, else addressFamily (default IPv4)."""
    address = spec.address or (spec.fwmark_match.destination if spec.fwmark_match else None)
    if address is not None:
        return AddressFamily.IPV6 if ":" in address else AddressFamily.IPV4  # normalised: only IPv6 has a colon
    return spec.address_family or AddressFamily.IPV4


def service_identity(spec: VirtualServerSpec) -> str:
    """What the kernel keys a service by: ``TCP 192.0.2.1:80`` or ``FWM 7 IPv4``."""
    ipv6 = service_family(spec) == AddressFamily.IPV6
    if spec.fwmark is not None:
        return service_text("", "", 0, spec.fwmark, ipv6)
    return service_text(str(spec.protocol or Protocol.TCP), spec.address or "", spec.port or 0)


def virtual_server_problems(spec: VirtualServerSpec) -> Iterator[Problem]:
    """Cross-field rules of one VirtualServer spec."""
    yield from address_problems("spec.address", spec.address, Role.VIP)
    if spec.fwmark_match is not None:
        yield from address_problems("spec.fwmarkMatch.destination", spec.fwmark_match.destination, Role.VIP)
    if spec.directors.gateway is not None:
        yield from address_problems("spec.directors.gateway.address", spec.directors.gateway.address, Role.VIP)
    if spec.fwmark is not None:
        for name, value in (("address", spec.address), ("port", spec.port), ("protocol", spec.protocol)):
            if value is not None:
                yield Problem(
                    f"spec.{name}",
                    f"{value!r} cannot be combined with fwmark {spec.fwmark}: "
                    "a fwmark service is keyed by its mark alone",
                )
        if spec.address_family and spec.fwmark_match and spec.address_family != service_family(spec):
            yield Problem(
                "spec.addressFamily",
                f"{spec.address_family} contradicts fwmarkMatch.destination {spec.fwmark_match.destination}",
            )
    else:
        if spec.address is None:
            yield Problem("spec.address", "required field is missing (or set fwmark for a fwmark service)")
        if spec.port is None:
            yield Problem("spec.port", "required field is missing (0 means all ports, with persistence)")
        if spec.fwmark_match is not None:
            yield Problem("spec.fwmarkMatch", "only a fwmark service can mark packets; set fwmark too")
        if spec.address_family is not None:
            yield Problem("spec.addressFamily", "only for fwmark services; the VIP decides the family")
    if spec.port == 0 and spec.persistence is None:
        yield Problem("spec.port", "0 (all ports) is only legal for a persistent service; set persistence")
    for index, flag in enumerate(spec.scheduler_flags):
        if flag.scheduler != spec.scheduler:
            yield Problem(
                f"spec.schedulerFlags[{index}]",
                f"{flag.value!r} belongs to scheduler {flag.scheduler.value!r}, not {spec.scheduler.value!r}",
            )
    if spec.one_packet and spec.fwmark is None and (spec.protocol or Protocol.TCP) != Protocol.UDP:
        yield Problem("spec.onePacket", "one-packet scheduling (--ops) is only for UDP services")
    if spec.persistence is not None and spec.persistence.netmask is not None:
        ipv6 = service_family(spec) == AddressFamily.IPV6
        if spec.persistence.netmask.startswith("/") != ipv6:
            want = "a prefix length like /64" if ipv6 else "a dotted netmask like 255.255.255.0"
            yield Problem(
                "spec.persistence.netmask",
                f"{spec.persistence.netmask!r} does not fit a {service_family(spec)} service: write {want}",
            )
        elif ipv6 and int(spec.persistence.netmask[1:]) > 128:
            yield Problem("spec.persistence.netmask", "an IPv6 prefix length is at most 128")
    if (
        spec.forwarding == Forwarding.NAT
        and effective_nat_return_path(spec) is NatReturnPath.ROUTE
        and spec.directors.gateway is None
    ):
        yield Problem(
            "spec.directors.gateway",
            "required when forwarding is nat and natReturnPath is route "
            "(real servers route replies through it); or set natReturnPath to snat or none",
        )
    if spec.directors.gateway is not None:
        gateway_version = 6 if ":" in spec.directors.gateway.address else 4
        if (gateway_version == 6) != (service_family(spec) == AddressFamily.IPV6):
            yield Problem(
                "spec.directors.gateway.address",
                f"{spec.directors.gateway.address!r} is not of the service's family {service_family(spec)}",
            )
    if len(set(spec.directors.preferred)) != len(spec.directors.preferred):
        yield Problem("spec.directors.preferred", "lists a node more than once")
    check = spec.health_check
    if check is not None:
        if check.http is not None and check.type not in (HealthCheckType.HTTP, HealthCheckType.HTTPS):
            yield Problem("spec.healthCheck.http", f"only for type http or https, not {check.type.value!r}")
        if check.http is not None:
            if not check.http.path.startswith("/"):
                yield Problem("spec.healthCheck.http.path", f"{check.http.path!r} must start with '/'")
            for index, code in enumerate(check.http.expect_status):
                if not 100 <= code <= 599:
                    yield Problem(
                        f"spec.healthCheck.http.expectStatus[{index}]",
                        f"{code} is not an HTTP status code (100..599)",
                    )


def real_server_problems(spec: RealServerSpec) -> Iterator[Problem]:
    """Cross-field rules of one RealServer spec."""
    yield from address_problems("spec.address", spec.address, Role.REAL_SERVER)
    if spec.upper_threshold and spec.lower_threshold > spec.upper_threshold:
        yield Problem(
            "spec.lowerThreshold",
            f"{spec.lower_threshold} is above upperThreshold "
            f"{spec.upper_threshold}; the lower threshold must not exceed the upper",
        )


def effective_nat_return_path(spec: VirtualServerSpec) -> NatReturnPath:
    """natReturnPath as given; else snat for Service backends (pods reply through any route), else route."""
    if spec.nat_return_path is not None:
        return spec.nat_return_path
    return NatReturnPath.SNAT if spec.backends is not None else NatReturnPath.ROUTE


def effective_forwarding(vs: VirtualServerSpec, rs: RealServerSpec) -> Forwarding:
    """A RealServer's own forwarding method wins over its VirtualServer's."""
    return rs.forwarding or vs.forwarding


def effective_port(vs: VirtualServerSpec, rs: RealServerSpec) -> int:
    """A RealServer without a port serves on the VirtualServer's port (0 for fwmark services)."""
    return rs.port if rs.port is not None else (vs.port or 0)


# enum members looked up once: an attribute load of a member costs more than the rest of a rule
_NO_PORT_MAPPING = frozenset((Forwarding.DR, Forwarding.TUN))
_TUN, _IPV6 = Forwarding.TUN, AddressFamily.IPV6


class PairRules:
    """The rules between one VirtualServer and the RealServers that name it, with what depends on the
    VirtualServer alone worked out once: a judgement meets them once per RealServer per pass."""

    __slots__ = ("_fixed_port", "_forwarding", "_ipv6", "_port", "_vs")

    def __init__(self, vs: VirtualServerSpec) -> None:
        self._vs = vs
        self._forwarding = vs.forwarding
        self._ipv6 = service_family(vs) is _IPV6
        self._port = vs.port or 0
        self._fixed_port = self._port if vs.fwmark is None and vs.port else None  # DR/TUN cannot remap it

    def port(self, rs: RealServerSpec) -> int:
        """:func:`effective_port`."""
        return rs.port if rs.port is not None else self._port

    def problems(self, rs: RealServerSpec) -> tuple[Problem, ...]:
        """What is wrong with ``rs`` under this VirtualServer (a tuple, usually empty)."""
        forwarding = rs.forwarding or self._forwarding  # effective_forwarding, inline on this hot path
        found: tuple[Problem, ...] = ()
        if self._fixed_port is not None and forwarding in _NO_PORT_MAPPING:
            port = self.port(rs)
            if port != self._fixed_port:
                found += (
                    Problem(
                        "spec.port",
                        f"{port} differs from the virtual server's port {self._fixed_port}: "
                        f"{forwarding.value} forwarding cannot remap ports (use nat)",
                    ),
                )
        if forwarding is not _TUN and (":" in rs.address) is not self._ipv6:
            found += (
                Problem(
                    "spec.address",
                    f"{rs.address!r} is not of the virtual server's family "
                    f"{service_family(self._vs)} (only tun can cross families)",
                ),
            )
        return found


def pair_problems(vs: VirtualServerSpec, rs: RealServerSpec) -> tuple[Problem, ...]:
    """Rules between a RealServer and the VirtualServer it names."""
    return PairRules(vs).problems(rs)
