"""Address classes a VIP or a real server may not be in, and why: one table for the checks and the docs.

Python's :mod:`ipaddress` classifies (``is_loopback``, ``is_multicast``, ...); the table only says, per
class, whether a VIP and a real server may be there and why. "VIP" covers every address the directors hold
or match for a service: VirtualServer ``spec.address``, ``spec.directors.gateway.address`` (the NAT
gateway, keepalived's internal VIP) and ``spec.fwmarkMatch.destination``. An address is judged by the first
class it is in, so ``fe80::1%eth0`` is refused for its zone id and ``::ffff:127.0.0.1`` as IPv4-mapped.

Two classes are the project's choice, not the library's: the IPv4 "this network" block 0.0.0.0/8 is
refused for both (RFC 1122 allows it only as a source while a host learns its own address, so neither a
client nor a director sends to it), and the reserved block 240.0.0.0/4 is refused as a VIP (most client
stacks and routers drop it) but allowed for real servers (a Linux director forwards to it, and some
clusters number pods from it).

The CRD's CEL rules can say only the zone id (``%`` in the text, see :mod:`kubelvs.api.celrules`): the
classes need the Kubernetes CEL IP library (``ip()``, ``isLoopback()``, ...), which clusters before 1.31
lack for CRD rules, and the chart supports 1.28. The operator refuses the rest in ``status.conditions``.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kubelvs.api.problems import Problem

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Role(enum.Enum):
    """What an address is for: the directors' side of a service, or a destination behind it."""

    VIP = "VIP"
    REAL_SERVER = "real server"


@dataclass(frozen=True)
class Verdict:
    refused: bool
    why: str


def _refused(why: str) -> Verdict:
    return Verdict(True, why)


def _allowed(why: str) -> Verdict:
    return Verdict(False, why)


@dataclass(frozen=True)
class AddressClass:
    """One row: what messages call the class, an example, the library's test, and each role's verdict."""

    name: str
    examples: tuple[str, ...]
    test: Callable[[Address], bool]
    vip: Verdict
    real_server: Verdict

    def verdict(self, role: Role) -> Verdict:
        return self.vip if role is Role.VIP else self.real_server


def _zone(address: Address) -> bool:
    return isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None


def _ipv4_mapped(address: Address) -> bool:
    return isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None


_LIMITED_BROADCAST = ipaddress.IPv4Network("0.0.0.0/0").broadcast_address
# The library has no property for RFC 1122's "this network" (it only counts it among is_private).
_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")

_NOT_ONE_HOST = "a real server is one host"

ADDRESS_CLASSES: tuple[AddressClass, ...] = (
    AddressClass(
        "an address with a zone id",
        ("fe80::1%eth0",),
        _zone,
        _refused("a zone id names an interface of one host, and every director binds and matches the VIP alike"),
        _refused("a zone id names an interface of one host, and the directors' interfaces differ"),
    ),
    AddressClass(
        "an IPv4-mapped IPv6 address",
        ("::ffff:192.0.2.1",),
        _ipv4_mapped,
        _refused("it exists only inside a host's socket API, never on the wire: write the IPv4 address itself"),
        _refused("it exists only inside a host's socket API, never on the wire: write the IPv4 address itself"),
    ),
    AddressClass(
        "an unspecified address",
        ("0.0.0.0", "::"),
        lambda address: address.is_unspecified,
        _refused("it means 'any address' to a socket; a VIP must be one address clients can reach"),
        _refused("it names no host to forward to"),
    ),
    AddressClass(
        "a loopback address",
        ("127.0.0.0/8", "::1"),
        lambda address: address.is_loopback,
        _refused("a VIP must be reachable from clients"),
        _refused("every node has its own loopback: a director would forward to itself"),
    ),
    AddressClass(
        "the limited broadcast address",
        ("255.255.255.255",),
        lambda address: address == _LIMITED_BROADCAST,
        _refused("it reaches every host on a link, never one service"),
        _refused(f"{_NOT_ONE_HOST}; a broadcast reaches every host on a link"),
    ),
    AddressClass(
        "a multicast address",
        ("224.0.0.0/4", "ff00::/8"),
        lambda address: address.is_multicast,
        _refused("IPVS balances connections to one unicast address; a multicast address is a group"),
        _refused(f"{_NOT_ONE_HOST}; a multicast address is a group"),
    ),
    AddressClass(
        "a link-local address",
        ("169.254.0.0/16", "fe80::/10"),
        lambda address: address.is_link_local,
        _refused("it is not routed beyond one link, so clients elsewhere cannot reach the VIP"),
        _refused(
            "it is not routed beyond one link and means a different host on each director's link "
            "(169.254.169.254 is every node's cloud metadata service)"
        ),
    ),
    AddressClass(
        'a "this network" address',
        ("0.0.0.0/8",),
        lambda address: address in _THIS_NETWORK,
        _refused("RFC 1122 allows it only as a source while a host learns its address; clients never send to it"),
        _refused("RFC 1122 allows it only as a source while a host learns its address; no host is reached there"),
    ),
    AddressClass(
        "a reserved address",
        ("240.0.0.0/4",),
        lambda address: address.version == 4 and address.is_reserved,
        _refused("it is kept for future use (former class E): most client systems and routers drop it"),
        _allowed("a Linux director forwards to it, and some clusters number pods from it"),
    ),
)


@functools.lru_cache(maxsize=4096)
def address_class(text: str) -> AddressClass | None:
    """The first class of ADDRESS_CLASSES that the (already parsed) address ``text`` is in, or None."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None  # not an address: its field's own type says so
    return next((found for found in ADDRESS_CLASSES if found.test(address)), None)


def address_problems(path: str, text: str | None, role: Role) -> Iterator[Problem]:
    """A problem naming the field, the value and the class when ``text`` is refused for ``role``."""
    if text is None:
        return
    found = address_class(text)
    if found is not None and found.verdict(role).refused:
        yield Problem(path, f"{text} is {found.name}; {found.verdict(role).why}")


def markdown_table() -> str:
    """The table of ADDRESS_CLASSES as README.md and charts/kubelvs/README.md carry it (a test compares)."""

    def cell(verdict: Verdict) -> str:
        return f"{'refused' if verdict.refused else 'allowed'}: {verdict.why}"

    lines = [
        "| class | e.g. | VIP, `directors.gateway.address`, `fwmarkMatch.destination` | real server |",
        "| --- | --- | --- | --- |",
    ]
    for row in ADDRESS_CLASSES:
        name = row.name.removeprefix("an ").removeprefix("a ").removeprefix("the ")
        examples = ", ".join(f"`{example}`" for example in row.examples)
        lines.append(f"| {name} | {examples} | {cell(row.vip)} | {cell(row.real_server)} |")
    return "\n".join(lines) + "\n"
