"""Desired and observed node state as keyed, frozen values: what the planner produces, the kernel
adapters read and write, and the reconciler diffs. No I/O and no Kubernetes here.

Each value has a ``key`` (its identity in the kernel) and compares equal field by field, so the diff is
"same key, different value -> edit", "key only desired -> add", "key only observed -> delete".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple

from kubelvs.address_text import service_text, with_port


class Family(enum.IntEnum):
    """Address families, numbered as the kernel numbers them."""

    INET = 2
    INET6 = 10


class Proto(enum.IntEnum):
    """IP protocol numbers of IPVS services (0 for fwmark services)."""

    NONE = 0
    TCP = 6
    UDP = 17
    SCTP = 132


class Fwd(enum.IntEnum):
    """IPVS forwarding methods (IP_VS_CONN_F_*), as the kernel numbers them."""

    MASQ = 0
    LOCALNODE = 1
    TUNNEL = 2
    DROUTE = 3


class SvcFlag(enum.IntFlag):
    """IPVS service flags (IP_VS_SVC_F_*)."""

    PERSISTENT = 0x0001
    HASHED = 0x0002
    ONEPACKET = 0x0004
    SCHED1 = 0x0008  # sh-fallback / mh-fallback
    SCHED2 = 0x0010  # sh-port / mh-port
    SCHED3 = 0x0020


# Flags the kernel sets on its own; never part of what we ask for or diff.
KERNEL_OWNED_FLAGS = SvcFlag.HASHED
NO_FLAGS = SvcFlag(0)


# The three values a table holds by the ten thousand are named tuples: built, hashed and compared in C
# (frozen dataclasses did it in Python, and a full plan and every resync's diff paid for it).


class ServiceKey(NamedTuple):
    """How IPVS identifies a service: (family, protocol, address, port) or (family, fwmark)."""

    family: Family
    protocol: Proto
    address: str  # compressed text form; "" for fwmark services
    port: int
    fwmark: int = 0

    def __str__(self) -> str:
        return service_text(self.protocol.name, self.address, self.port, self.fwmark, self.family == Family.INET6)


@dataclass(frozen=True)
class Service:
    """An IPVS virtual service with its settings (``ipvsadm -A``)."""

    key: ServiceKey
    scheduler: str = "wlc"
    flags: SvcFlag = NO_FLAGS
    timeout: int = 0  # persistence timeout in seconds; 0 unless PERSISTENT
    netmask: int = 32  # persistence granularity as a prefix length (v4 0..32, v6 0..128)


class DestKey(NamedTuple):
    """How IPVS identifies a destination inside a service."""

    service: ServiceKey
    address: str
    port: int

    def __str__(self) -> str:
        return f"{self.service} -> {with_port(self.address, self.port)}"


class Destination(NamedTuple):
    """A real server of a service (``ipvsadm -a``)."""

    key: DestKey
    forwarding: Fwd = Fwd.DROUTE
    weight: int = 1
    upper_threshold: int = 0
    lower_threshold: int = 0
    family: Family | None = None  # address family of the destination when it differs (tun only)


@dataclass(frozen=True, order=True)
class AddressKey:
    """An address on an interface."""

    interface: str
    address: str
    prefixlen: int


@dataclass(frozen=True)
class Address:
    """An interface address the agent owns (VIP on the director, on lo for DR, on tunl0 for TUN)."""

    key: AddressKey


@dataclass(frozen=True, order=True)
class Sysctl:
    """A sysctl the agent needs, e.g. ``net/ipv4/conf/lo/arp_ignore`` = "1"."""

    path: str
    value: str

    @property
    def key(self) -> str:
        return self.path


@dataclass(frozen=True, order=True)
class PolicyRoute:
    """NAT return path on a backend: replies from (address, port, protocol) go via ``gateway``.

    Realised as one ``ip rule`` (from address, ipproto, sport -> table) and one default route in that
    table; the node's main routing table is never touched.
    """

    family: Family
    source: str
    protocol: Proto
    port: int
    gateway: str
    table: int

    @property
    def key(self) -> tuple[Family, str, Proto, int]:
        return (self.family, self.source, self.protocol, self.port)


@dataclass(frozen=True, order=True)
class FwmarkRule:
    """Mark packets to (destination, protocol, ports) with ``mark`` for a fwmark service."""

    mark: int
    family: Family
    destination: str
    protocol: Proto
    ports: tuple[int, ...]

    @property
    def key(self) -> int:
        return self.mark


class SnatRule(NamedTuple):
    """Director-side masquerading of traffic to a NAT real server (natReturnPath: snat); one per destination
    and VIP, so a named tuple too (hashed by the ten thousand when a Service's endpoints change)."""

    family: Family
    destination: str
    protocol: Proto
    port: int
    original: str  # the address the clients sent to (the VIP): only what IPVS rewrote is masqueraded

    @property
    def key(self) -> SnatRule:
        return self


@dataclass(frozen=True)
class NodeState:
    """Everything the agent wants on one node; the planner's output and the reconciler's goal."""

    services: dict[ServiceKey, Service] = field(default_factory=dict)
    destinations: dict[DestKey, Destination] = field(default_factory=dict)
    addresses: dict[AddressKey, Address] = field(default_factory=dict)
    sysctls: dict[str, Sysctl] = field(default_factory=dict)
    tunnel: bool = False  # tunl0 up, for TUN backends
    tunnel6: bool = False  # ip6tnl0 up, for TUN backends of IPv6 VIPs
    policy_routes: dict[tuple[Family, str, Proto, int], PolicyRoute] = field(default_factory=dict)
    fwmark_rules: dict[int, FwmarkRule] = field(default_factory=dict)
    snat_rules: dict[SnatRule, SnatRule] = field(default_factory=dict)


@dataclass(frozen=True)
class TableChanges:
    """How a NodeState's IPVS services, destinations and masquerades differ from those of ``since``, an
    earlier state: (new or changed values, removed keys) of each, as a planner that keeps them knows it."""

    since: NodeState
    services: tuple[list[Service], set[ServiceKey]] = field(default_factory=lambda: ([], set()))
    destinations: tuple[list[Destination], set[DestKey]] = field(default_factory=lambda: ([], set()))
    snat_rules: tuple[list[SnatRule], set[SnatRule]] = field(default_factory=lambda: ([], set()))


@dataclass(frozen=True)
class DestStats:
    """Counters of one destination, as ``ipvsadm -Ln --stats`` shows them."""

    active_conns: int = 0
    inactive_conns: int = 0
    persistent_conns: int = 0
    conns: int = 0
    inpkts: int = 0
    outpkts: int = 0
    inbytes: int = 0
    outbytes: int = 0
    cps: int = 0
    inpps: int = 0
    outpps: int = 0
    inbps: int = 0
    outbps: int = 0


@dataclass(frozen=True)
class ServiceStats:
    """The kernel's own counters of one service (``ipvsadm -Ln --stats`` on its line): they keep what deleted
    destinations counted, so they are not the sum of the current destinations'."""

    conns: int = 0
    inpkts: int = 0
    outpkts: int = 0
    inbytes: int = 0
    outbytes: int = 0
    cps: int = 0
    inpps: int = 0
    outpps: int = 0
    inbps: int = 0
    outbps: int = 0


# IPVS edits, in the order the reconciler issues them. Values, so a batch can be logged and tested.
@dataclass(frozen=True)
class AddService:
    service: Service


@dataclass(frozen=True)
class EditService:
    service: Service


@dataclass(frozen=True)
class DeleteService:
    key: ServiceKey


@dataclass(frozen=True)
class AddDestination:
    destination: Destination


@dataclass(frozen=True)
class EditDestination:
    destination: Destination


@dataclass(frozen=True)
class DeleteDestination:
    key: DestKey


IpvsOp = AddService | EditService | DeleteService | AddDestination | EditDestination | DeleteDestination


def op_key(op: IpvsOp) -> ServiceKey | DestKey:
    """The key of the service or destination an op writes."""
    match op:
        case AddService(service=s) | EditService(service=s):
            return s.key
        case AddDestination(destination=d) | EditDestination(destination=d):
            return d.key
        case DeleteService(key=k) | DeleteDestination(key=k):
            return k
    raise TypeError(op)
