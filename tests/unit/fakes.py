"""In-memory stand-ins for the kernel gateways (kubelvs.kernel.interfaces), for fast reconciler tests.

They keep state like the kernel keeps it and count every write, so a test can assert both the result
and how many writes it took. They prove logic only: the kernel itself is tested in tests/kernel/.
The module-level assignments at the bottom make mypy check that each fake satisfies its Protocol.
"""

from __future__ import annotations

import dataclasses
import heapq
import ipaddress
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from kubelvs.agent.announcer import Timers
from kubelvs.kernel import interfaces
from kubelvs.netstate import (
    KERNEL_OWNED_FLAGS,
    AddDestination,
    AddressKey,
    AddService,
    DeleteDestination,
    DeleteService,
    Destination,
    DestKey,
    DestStats,
    EditDestination,
    EditService,
    FwmarkRule,
    IpvsOp,
    PolicyRoute,
    Service,
    ServiceKey,
    ServiceStats,
    SnatRule,
)


class FakeIpvs:
    def __init__(self) -> None:
        self.table: dict[ServiceKey, Service] = {}
        self.dests: dict[DestKey, Destination] = {}
        self.active: dict[DestKey, int] = {}
        self.applied: list[IpvsOp] = []
        self.fail: set[ServiceKey | DestKey] = set()  # keys whose ops the "kernel" refuses
        self._timeouts = (900, 120, 300)

    def services(self) -> dict[ServiceKey, Service]:
        # The kernel adds HASHED to every service it holds.
        return {k: dataclasses.replace(s, flags=s.flags | KERNEL_OWNED_FLAGS) for k, s in self.table.items()}

    def destinations(self, services: Sequence[ServiceKey]) -> dict[DestKey, Destination]:
        wanted = set(services)
        return {k: d for k, d in self.dests.items() if k.service in wanted}

    def stats(self, services: Sequence[ServiceKey]) -> dict[DestKey, DestStats]:
        return {k: DestStats(active_conns=self.active.get(k, 0)) for k in self.destinations(services)}

    def service_stats(self, services: Sequence[ServiceKey]) -> dict[ServiceKey, ServiceStats]:
        return {key: ServiceStats() for key in services if key in self.table}

    def apply(self, ops: Sequence[IpvsOp]) -> list[str | None]:
        return [self._one(op) for op in ops]

    def _one(self, op: IpvsOp) -> str | None:
        self.applied.append(op)
        match op:
            case AddService(service=s):
                if s.key in self.fail:
                    return "Invalid argument"
                if s.key in self.table:
                    return "File exists"
                self.table[s.key] = s
            case EditService(service=s):
                if s.key not in self.table:
                    return "No such process"
                self.table[s.key] = s
            case DeleteService(key=k):
                if k not in self.table:
                    return "No such process"
                del self.table[k]
                for dkey in [d for d in self.dests if d.service == k]:
                    del self.dests[dkey]
            case AddDestination(destination=d):
                if d.key in self.fail or d.key.service in self.fail:
                    return "Invalid argument"
                if d.key.service not in self.table:
                    return "No such process"
                if d.key in self.dests:
                    return "File exists"
                self.dests[d.key] = d
            case EditDestination(destination=d):
                if d.key not in self.dests:
                    return "No such file or directory"
                self.dests[d.key] = d
            case DeleteDestination(key=dk):
                if dk not in self.dests:
                    return "No such file or directory"
                del self.dests[dk]
        return None

    def set_timeouts(self, tcp: int, tcpfin: int, udp: int) -> None:
        current = self._timeouts
        self._timeouts = (tcp or current[0], tcpfin or current[1], udp or current[2])

    def timeouts(self) -> tuple[int, int, int]:
        return self._timeouts

    def start_sync_daemon(self, state: str, interface: str, syncid: int) -> None:
        raise NotImplementedError

    def stop_sync_daemon(self, state: str) -> None:
        raise NotImplementedError

    def sync_daemons(self) -> dict[str, tuple[str, int]]:
        return {}


class FakeAddresses:
    def __init__(self, interfaces: Sequence[str] = ("lo", "eth0")) -> None:
        self.interfaces = set(interfaces)
        self.present: set[AddressKey] = {AddressKey("lo", "127.0.0.1", 8)}
        self.defaults = {2: "eth0"}
        self.writes: Counter[str] = Counter()
        self.batches = 0

    def list(self, interfaces: Sequence[str]) -> set[AddressKey]:
        return {k for k in self.present if k.interface in interfaces}

    def default_interface(self, family: int) -> str | None:
        return self.defaults.get(family)

    def local_addresses(self) -> set[str]:
        return {k.address for k in self.present}

    def subnets(self) -> set[tuple[str, str]]:
        return {
            (k.interface, str(ipaddress.ip_interface(f"{k.address}/{k.prefixlen}").network))
            for k in self.present
            if k.prefixlen < ipaddress.ip_address(k.address).max_prefixlen
        }

    @contextmanager
    def batch(self) -> Iterator[FakeAddressBatch]:
        self.batches += 1
        yield FakeAddressBatch(self)


class FakeAddressBatch:
    def __init__(self, addresses: FakeAddresses) -> None:
        self.addresses = addresses

    def add(self, key: AddressKey) -> bool:
        if key.interface not in self.addresses.interfaces:
            raise LookupError(f"no interface {key.interface!r}")
        if key in self.addresses.present:
            return False
        self.addresses.writes["add"] += 1
        self.addresses.present.add(key)
        return True

    def remove(self, key: AddressKey) -> bool:
        if key not in self.addresses.present:
            return False
        self.addresses.writes["remove"] += 1
        self.addresses.present.discard(key)
        return True


class FakeAnnouncements:
    """Every frame as ``(interface, address)`` in the order sent; an interface in ``down`` refuses frames
    (ENETDOWN) and one in ``silent`` has no Ethernet address (lo, tunl0)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.down: set[str] = set()
        self.silent: set[str] = {"lo", "tunl0"}
        self.open = False  # sockets held since the last close
        self.closes = 0

    def send(self, interface: str, address: str) -> bool:
        self.open = True
        if interface in self.down:
            raise OSError(f"network is down: {interface}")
        if interface in self.silent:
            return False
        self.sent.append((interface, address))
        return True

    def close(self) -> None:
        self.open = False
        self.closes += 1


class ManualTimers:
    """The announcer's clock and timers by hand: time stands still until :meth:`fire` moves it to the
    earliest timer and runs that timer's action in the calling thread."""

    def __init__(self) -> None:
        self.time = 0.0
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._armed = 0

    def now(self) -> float:
        return self.time

    def later(self, delay: float, action: Callable[[], None]) -> None:
        self._armed += 1
        heapq.heappush(self._queue, (self.time + max(delay, 0.0), self._armed, action))

    @property
    def armed(self) -> int:
        return len(self._queue)

    def fire(self) -> bool:
        """Run the earliest timer; False if none is armed."""
        if not self._queue:
            return False
        at, _, action = heapq.heappop(self._queue)
        self.time = max(self.time, at)
        action()
        return True

    def run(self) -> int:
        """Fire timers until none is armed; how many fired."""
        fired = 0
        while self.fire():
            fired += 1
        return fired


class FakeSysctls:
    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = dict(values or {})
        self.writes: list[tuple[str, str]] = []

    def read(self, path: str) -> str | None:
        return self.values.get(path)

    def write(self, path: str, value: str) -> None:
        if path not in self.values:
            raise FileNotFoundError(path)
        self.writes.append((path, value))
        self.values[path] = value


class FakeTunnel:
    def __init__(self) -> None:
        self.up = False
        self.writes = 0

    def ensure_up(self) -> None:
        self.writes += 1
        self.up = True

    def is_up(self) -> bool:
        return self.up


class FakePolicyRoutes:
    def __init__(self) -> None:
        self.routes: set[PolicyRoute] = set()
        self.writes = 0

    def list(self) -> set[PolicyRoute]:
        return set(self.routes)

    def add(self, route: PolicyRoute) -> None:
        self.writes += 1
        self.routes.add(route)

    def remove(self, route: PolicyRoute) -> None:
        self.writes += 1
        self.routes.discard(route)


class FakePacketRules:
    def __init__(self) -> None:
        self.marks: set[FwmarkRule] = set()
        self.snats: set[SnatRule] = set()
        self.writes = 0  # whole tables written
        self.element_writes = 0  # SNAT element transactions

    def current(self) -> tuple[set[FwmarkRule], set[SnatRule]] | None:
        return set(self.marks), set(self.snats)

    def replace(self, marks: Sequence[FwmarkRule], snats: Sequence[SnatRule]) -> None:
        self.writes += 1
        self.marks, self.snats = set(marks), set(snats)

    def change_snats(self, add: Sequence[SnatRule], remove: Sequence[SnatRule]) -> None:
        if not (self.marks or self.snats):
            raise RuntimeError("no table inet kubelvs to add elements to")  # as nft: the sets live in it
        missing = set(remove) - self.snats
        if missing:
            raise RuntimeError(f"Could not process rule: No such file or directory ({sorted(missing)[0]})")
        self.element_writes += 1
        self.snats.update(add)  # in place, as the kernel's set: a copy would bill ten thousand to each change
        self.snats.difference_update(remove)


# mypy proves each fake satisfies the gateway it stands in for.
_ipvs: interfaces.IpvsTable = FakeIpvs()
_addresses: interfaces.Addresses = FakeAddresses()
_sysctls: interfaces.Sysctls = FakeSysctls()
_tunnel: interfaces.Tunnel = FakeTunnel()
_routes: interfaces.PolicyRoutes = FakePolicyRoutes()
_rules: interfaces.PacketRules = FakePacketRules()
_announcements: interfaces.Announcements = FakeAnnouncements()
_timers: Timers = ManualTimers()
