"""The gateways the agent programs the kernel through. Implementations: pyroute2 here, fakes in tests."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from kubelvs.netstate import (
    AddressKey,
    Destination,
    DestKey,
    DestStats,
    FwmarkRule,
    IpvsOp,
    PolicyRoute,
    Service,
    ServiceKey,
    ServiceStats,
    SnatRule,
)


class IpvsTable(Protocol):
    """The IPVS service table of one network namespace."""

    def services(self) -> dict[ServiceKey, Service]:
        """Every service the kernel holds (ours and anyone else's)."""
        ...

    def destinations(self, services: Sequence[ServiceKey]) -> dict[DestKey, Destination]:
        """The destinations of the given services."""
        ...

    def stats(self, services: Sequence[ServiceKey]) -> dict[DestKey, DestStats]:
        """Connection and traffic counters of the destinations of the given services."""
        ...

    def service_stats(self, services: Sequence[ServiceKey]) -> dict[ServiceKey, ServiceStats]:
        """The kernel's own counters of the given services (those it holds), read in one dump."""
        ...

    def apply(self, ops: Sequence[IpvsOp]) -> list[str | None]:
        """Apply edits in order, batched; one result per op: None, or the kernel's error text.

        A failing op never stops the ops after it (one bad service must not block the others).
        """
        ...

    def set_timeouts(self, tcp: int, tcpfin: int, udp: int) -> None:
        """``ipvsadm --set tcp tcpfin udp`` (0 leaves a value unchanged)."""
        ...

    def timeouts(self) -> tuple[int, int, int]: ...

    def start_sync_daemon(self, state: str, interface: str, syncid: int) -> None:
        """``ipvsadm --start-daemon master|backup --mcast-interface IF --syncid N``."""
        ...

    def stop_sync_daemon(self, state: str) -> None: ...

    def sync_daemons(self) -> dict[str, tuple[str, int]]:
        """Running daemons: state -> (interface, syncid)."""
        ...


class AddressBatch(Protocol):
    """Many address writes over sockets opened once (see :meth:`Addresses.batch`); each call stands alone:
    one that raises has changed nothing, and the batch goes on with the next."""

    def add(self, key: AddressKey) -> bool:
        """Put the address on its interface; False if it was there already."""
        ...

    def remove(self, key: AddressKey) -> bool:
        """Take the address off; False if it (or its interface) was gone already."""
        ...


class Addresses(Protocol):
    """Interface addresses (VIPs on the director's interface, on lo, on tunl0)."""

    def list(self, interfaces: Sequence[str]) -> set[AddressKey]: ...

    def default_interface(self, family: int) -> str | None:
        """Interface of the default route, where a VIP goes when none is named."""
        ...

    def local_addresses(self) -> set[str]:
        """Every address configured on any interface of this namespace."""
        ...

    def subnets(self) -> set[tuple[str, str]]:
        """``(interface, network)`` of every address that is not a host address: what each link reaches."""
        ...

    def batch(self) -> AbstractContextManager[AddressBatch]:
        """A block of many adds and removals sharing their socket."""
        ...


class Announcements(Protocol):
    """Gratuitous ARP (IPv4) and unsolicited neighbour advertisements (IPv6), one frame per call; when to send
    them is the agent's announcer's (:mod:`kubelvs.agent.announcer`)."""

    def send(self, interface: str, address: str) -> bool:
        """Announce ``address`` once, now; False if ``interface`` cannot (no Ethernet address: lo, tunl0).

        Raises LookupError for a missing interface, OSError when the kernel refuses the frame.
        """
        ...

    def close(self) -> None:
        """Release the sockets; a later :meth:`send` opens them again."""
        ...


class Sysctls(Protocol):
    def read(self, path: str) -> str | None:
        """Value of net/ipv4/..., or None if the key does not exist (e.g. interface missing)."""
        ...

    def write(self, path: str, value: str) -> None: ...


class Tunnel(Protocol):
    def ensure_up(self) -> None:
        """tunl0 present (loads ipip through rtnetlink if needed) and up."""
        ...

    def is_up(self) -> bool: ...


class PolicyRoutes(Protocol):
    def list(self) -> set[PolicyRoute]:
        """The policy routes kube-lvs installed (recognised by their rule priority/table range)."""
        ...

    def add(self, route: PolicyRoute) -> None: ...

    def remove(self, route: PolicyRoute) -> None: ...


class PacketRules(Protocol):
    """The nftables table ``kubelvs``: fwmark marking and director-side SNAT. Replaced atomically."""

    def current(self) -> tuple[set[FwmarkRule], set[SnatRule]] | None:
        """What the table holds; None if it holds anything kube-lvs did not write (replace it whole)."""
        ...

    def replace(self, marks: Sequence[FwmarkRule], snats: Sequence[SnatRule]) -> None: ...

    def change_snats(self, add: Sequence[SnatRule], remove: Sequence[SnatRule]) -> None:
        """Add and remove SNAT rules in one transaction, the rest as it is (the table as replace made it)."""
        ...
