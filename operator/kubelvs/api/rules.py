"""Rules that relate fields to each other, or objects to each other, each naming the offending field.

The same functions serve ``kubelvs validate``, the operator's admission of objects and the agent's
planner, so a rule cannot say one thing offline and another in the cluster.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kubelvs.address_text import service_text
from kubelvs.api.address_classes import Role, address_problems
from kubelvs.api.enums import (
    AddressFamily,
    Forwarding,
    HealthCheckType,
    NatReturnPath,
    Protocol,
)
from kubelvs.api.models import RealServer, RealServerSpec, VirtualServer, VirtualServerSpec
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
        and spec.nat_return_path == NatReturnPath.ROUTE
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


def effective_forwarding(vs: VirtualServerSpec, rs: RealServerSpec) -> Forwarding:
    """A RealServer's own forwarding method wins over its VirtualServer's."""
    return rs.forwarding or vs.forwarding


def effective_port(vs: VirtualServerSpec, rs: RealServerSpec) -> int:
    """A RealServer without a port serves on the VirtualServer's port (0 for fwmark services)."""
    return rs.port if rs.port is not None else (vs.port or 0)


def pair_problems(vs: VirtualServerSpec, rs: RealServerSpec) -> Iterator[Problem]:
    """Rules between a RealServer and the VirtualServer it names."""
    forwarding = effective_forwarding(vs, rs)
    if forwarding in (Forwarding.DR, Forwarding.TUN) and vs.fwmark is None and vs.port:
        port = effective_port(vs, rs)
        if port != vs.port:
            yield Problem(
                "spec.port",
                f"{port} differs from the virtual server's port {vs.port}: "
                f"{forwarding.value} forwarding cannot remap ports (use nat)",
            )
    rs_version = 6 if ":" in rs.address else 4
    if (rs_version == 6) != (service_family(vs) == AddressFamily.IPV6) and forwarding != Forwarding.TUN:
        yield Problem(
            "spec.address",
            f"{rs.address!r} is not of the virtual server's family "
            f"{service_family(vs)} (only tun can cross families)",
        )


class Rejection(enum.StrEnum):
    """Why an object is not accepted; the value is the Accepted condition's reason.

    :func:`set_judgement` gives the last six; the operator adds the first three (a spec that fails its own
    rules, a VIP outside the VIP pools or on a node).
    """

    INVALID_SPEC = "InvalidSpec"
    VIP_OUTSIDE_POOLS = "VIPOutsidePools"
    VIP_IS_NODE_ADDRESS = "VIPIsNodeAddress"
    SERVICE_CONFLICT = "ServiceConflict"
    VIRTUAL_SERVER_MISSING = "VirtualServerMissing"
    VIRTUAL_SERVER_NOT_ACCEPTED = "VirtualServerNotAccepted"
    INCOMPATIBLE = "IncompatibleWithVirtualServer"
    DUPLICATE_DESTINATION = "DuplicateDestination"
    VIP_SHARING_REFUSED = "VIPSharingRefused"


@dataclass(frozen=True)
class SetProblem:
    """A problem of one object (``kind``, ``key``) with the others, and the rule it broke."""

    kind: str
    key: str
    reason: Rejection
    problem: Problem


@dataclass(frozen=True)
class Ordering:
    """Who keeps a service or a destination that several objects claim: the one with the smallest sort key."""

    key: Callable[[VirtualServer | RealServer], Any]
    first: str = ""
    """How a message names the object that kept the claim: ``""`` or ``"the older "``."""


BY_NAME = Ordering(lambda obj: obj.key)
"""``namespace/name`` order: what ``kubelvs validate`` and the standalone agent go by (no object has an age)."""


def set_judgement(
    virtual_servers: Iterable[VirtualServer],
    real_servers: Iterable[RealServer],
    *,
    order: Ordering = BY_NAME,
    unusable: Mapping[str, str] | None = None,
    drop_rejected: bool = False,
) -> Iterator[SetProblem]:
    """Rules across a set of objects that each passed their own checks: the first claimant of a service, of
    marked traffic or of a VIP keeps it (:mod:`kubelvs.api.claims`), a RealServer must name a usable
    VirtualServer and fit it, and the first claimant of a destination of one service keeps it. "First" is by
    ``order``.

    ``unusable`` maps keys of VirtualServers that exist but were rejected before (by their own checks, or by
    the caller's) to what a RealServer of theirs is told, e.g. ``"is invalid (see its own errors)"``.
    With ``drop_rejected`` an object rejected here takes no further part: it gets one reason, claims no
    destination, and a VirtualServer that lost its service is no RealServer's parent (the operator).
    Without it, every object meets every rule and a rejected one still counts, so one run lists every
    problem at once (``kubelvs validate``).
    """
    from kubelvs.api.claims import contest  # claims builds on this module's names

    lost = dict(unusable or {})
    candidates = list(virtual_servers)
    losers: set[str] = set()
    for found in contest(candidates, order):
        yield found
        if drop_rejected:
            losers.add(found.key)
            lost[found.key] = f"is not accepted ({found.reason}: {found.problem})"
    parents = {vs.key: vs for vs in candidates if vs.key not in losers}
    destinations: dict[tuple[str, str, int], str] = {}
    for rs in sorted(real_servers, key=order.key):
        parent = parents.get(rs.virtual_server_key)
        if parent is None:
            state = lost.get(rs.virtual_server_key)
            reason = Rejection.VIRTUAL_SERVER_NOT_ACCEPTED if state else Rejection.VIRTUAL_SERVER_MISSING
            state = state or f"does not exist in namespace {rs.metadata.namespace!r}"
            problem = Problem("spec.virtualServer", f"VirtualServer {rs.spec.virtual_server!r} {state}")
            yield SetProblem("RealServer", rs.key, reason, problem)
            continue
        incompatible = list(pair_problems(parent.spec, rs.spec))
        yield from (SetProblem("RealServer", rs.key, Rejection.INCOMPATIBLE, p) for p in incompatible)
        if incompatible and drop_rejected:
            continue
        destination = (rs.virtual_server_key, rs.spec.address, effective_port(parent.spec, rs.spec))
        if destination in destinations:
            problem = Problem(
                "spec.address",
                f"{rs.spec.address}:{destination[2]} is already {order.first}RealServer "
                f"{destinations[destination]} of the same virtual server",
            )
            yield SetProblem("RealServer", rs.key, Rejection.DUPLICATE_DESTINATION, problem)
        else:
            destinations[destination] = rs.key


def set_problems(
    virtual_servers: Iterable[VirtualServer],
    real_servers: Iterable[RealServer],
    invalid_virtual_servers: frozenset[str] = frozenset(),
    *,
    order: Ordering = BY_NAME,
) -> Iterator[tuple[str, Problem]]:
    """Rules across a set of valid objects (:func:`set_judgement`, every problem listed); yields
    (``"Kind namespace/name"``, problem).

    ``invalid_virtual_servers`` holds keys of VirtualServers that exist but failed their own checks,
    so their RealServers are told that rather than "does not exist".
    """
    unusable = dict.fromkeys(invalid_virtual_servers, "is invalid (see its own errors)")
    for found in set_judgement(virtual_servers, real_servers, order=order, unusable=unusable):
        yield f"{found.kind} {found.key}", found.problem
