"""Read the kernel, diff it against a NodeState, apply the fewest ordered writes.

Order keeps traffic flowing: unwanted VIPs leave first (stop attracting packets), then tunl0, the new
masquerade rules (before the destinations they masquerade for), IPVS (services before their destinations,
deletions last), sysctls, the rest of the packet rules and policy routes,
new VIPs last (a VIP only appears once everything behind it is in place), and sysctls a role no longer
needs are restored at the very end. Every write is counted, so a second pass over the same state can
be shown to write nothing, and a failing write is reported against its object without stopping the
others. Only what the agent owns is ever changed (see :mod:`kubelvs.agent.ownership`).

Two ways in: :meth:`Reconciler.reconcile` is the full pass (read everything, repair any drift), and
:meth:`Reconciler.update` the incremental one for a single change: it diffs the new state against the last
one a pass applied without errors, reads from the kernel only the destinations of the services that diff
touches, and writes only those ops, so one weight edit is one read of one service and one write however
large the table. Anything it cannot do that way (no clean last state, a failed read or write, a removal
while other destinations are draining) ends in a full pass.

Each new VIP on an announcing interface is handed to the announcer as it is added, and each removed one
withdrawn before it goes (:mod:`kubelvs.agent.announcer` sends the first announcement at once and owns the
repeats, so neither the pass nor a lock around it waits for them).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from kubelvs.agent.announcer import Announcer
from kubelvs.agent.draining import Drainer
from kubelvs.agent.ownership import Record, Store
from kubelvs.kernel.interfaces import (
    Addresses,
    Announcements,
    IpvsTable,
    PacketRules,
    PolicyRoutes,
    Sysctls,
    Tunnel,
)
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
    NodeState,
    Service,
    ServiceKey,
    SnatRule,
    SvcFlag,
    TableChanges,
    op_key,
)
from kubelvs.planner.facts import Network, in_pools

logger = logging.getLogger(__name__)

Rules = tuple[set[FwmarkRule], set[SnatRule]]  # the nftables table's marks and masquerades

K = TypeVar("K")
V = TypeVar("V")

UNANNOUNCED = ("lo", "tunl0", "ip6tnl0")  # backends' VIPs must never be announced


@dataclass
class Kernel:
    """The gateways of one network namespace."""

    ipvs: IpvsTable
    addresses: Addresses
    sysctls: Sysctls
    tunnel: Tunnel
    routes: PolicyRoutes
    rules: PacketRules
    announcements: Announcements
    tunnel6: Tunnel | None = None  # ip6tnl0, for TUN backends of IPv6 VIPs; None: such a backend is an error


@dataclass
class Outcome:
    """What one pass did: writes by kind, errors by object, destinations still draining."""

    writes: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[str, str]] = field(default_factory=list)
    draining: int = 0
    failed_services: set[ServiceKey] = field(default_factory=set)  # an op on the service or a destination failed
    ipvs_unread: bool = False  # the IPVS table could not be read: nothing of it is known to be programmed

    def programmed(self, service: ServiceKey) -> bool:
        """Whether this pass left ``service`` as planned, as far as it knows."""
        return not self.ipvs_unread and service not in self.failed_services

    @property
    def total_writes(self) -> int:
        return sum(self.writes.values())

    def __str__(self) -> str:
        kinds = ", ".join(f"{kind}={count}" for kind, count in sorted(self.writes.items())) or "none"
        return f"writes: {kinds}; errors: {len(self.errors)}; draining: {self.draining}"


def service_differs(desired: Service, current: Service) -> bool:
    """Flags the kernel sets itself do not count; timeout and netmask only matter when persistent."""
    want, have = desired.flags & ~KERNEL_OWNED_FLAGS, current.flags & ~KERNEL_OWNED_FLAGS
    if desired.scheduler != current.scheduler or want != have:
        return True
    return bool(want & SvcFlag.PERSISTENT) and (desired.timeout, desired.netmask) != (
        current.timeout,
        current.netmask,
    )


def destination_differs(desired: Destination, current: Destination) -> bool:
    if (desired.forwarding, desired.weight, desired.upper_threshold, desired.lower_threshold) != (
        current.forwarding,
        current.weight,
        current.upper_threshold,
        current.lower_threshold,
    ):
        return True
    return desired.family is not None and current.family is not None and desired.family != current.family


def service_op(desired: Service, current: Service | None) -> IpvsOp | None:
    """The one write that brings ``current`` (None: absent) to ``desired``, or None when it already is."""
    if current is None:
        return AddService(desired)
    return EditService(desired) if service_differs(desired, current) else None


def destination_op(desired: Destination, current: Destination | None) -> IpvsOp | None:
    """The one write that brings ``current`` (None: absent) to ``desired``, or None when it already is."""
    if current is None:
        return AddDestination(desired)
    return EditDestination(desired) if destination_differs(desired, current) else None


def describe(op: IpvsOp) -> str:
    """The object an op writes, as errors name it: ``service TCP 192.0.2.1:80``, ``destination ...``."""
    key = op_key(op)
    return f"{'service' if isinstance(key, ServiceKey) else 'destination'} {key}"


def _service_of(op: IpvsOp) -> ServiceKey:
    key = op_key(op)
    return key if isinstance(key, ServiceKey) else key.service


CHUNK = 64  # entries compared at once in C (by identity first) before any is looked at in Python


def _changes(old: Mapping[K, V], new: Mapping[K, V]) -> tuple[list[V], set[K]]:
    """Values of ``new`` that ``old`` lacks or holds otherwise, and the keys only ``old`` has.

    The planner hands back the same key and value objects for what did not change, in the same order. Maps of
    one size are compared side by side a chunk at a time as lists (in C, identity first): only chunks that
    differ are walked in Python, settled by identity where keys line up and looked up where they do not (a
    Service's endpoints replaced, as many in as out). No key is hashed where nothing changed (dataclass keys
    hash in Python, which dominated an update of a large table). Maps of different sizes are looked up whole.
    """
    changed: list[V] = []
    missing = object()
    if len(old) != len(new):
        changed = [
            value for key, value in new.items() if (had := old.get(key, missing)) is not value and had != value
        ]
        return changed, set(old.keys() - new.keys())
    new_keys, old_keys = list(new), list(old)
    new_values, old_values = list(new.values()), list(old.values())
    left: list[K] = []
    for start in range(0, len(new_keys), CHUNK):
        end = start + CHUNK
        if new_keys[start:end] == old_keys[start:end] and new_values[start:end] == old_values[start:end]:
            continue
        for index in range(start, min(end, len(new_keys))):
            new_key, value, old_key = new_keys[index], new_values[index], old_keys[index]
            if new_key is old_key or new_key == old_key:
                if value is not old_values[index] and value != old_values[index]:
                    changed.append(value)
                continue
            if (had := old.get(new_key, missing)) is not value and had != value:
                changed.append(value)
            left.append(old_key)
    return changed, {key for key in left if key not in new}


OP_NAMES = {
    AddService: "ipvs.add_service",
    EditService: "ipvs.edit_service",
    DeleteService: "ipvs.delete_service",
    AddDestination: "ipvs.add_destination",
    EditDestination: "ipvs.edit_destination",
    DeleteDestination: "ipvs.delete_destination",
}


class Reconciler:
    """Brings one namespace's kernel to a NodeState, touching only what it owns."""

    def __init__(
        self,
        kernel: Kernel,
        store: Store,
        drainer: Drainer,
        vip_pools: tuple[Network, ...] = (),
        announcer: Announcer | None = None,
    ) -> None:
        self.kernel = kernel
        self.store = store
        self.drainer = drainer
        self.vip_pools = vip_pools
        self.announcer = announcer if announcer is not None else Announcer(kernel.announcements)
        self.record: Record = store.load()  # adopt: what an earlier run programmed is still ours
        self.applied: NodeState | None = None  # what the last pass brought the kernel to without an error

    def reconcile(self, state: NodeState) -> Outcome:
        """The full pass: read everything this agent owns, diff against ``state``, write the difference."""
        self.applied = None  # while the pass runs, and after it if anything failed
        outcome = Outcome()
        self._addresses(state, outcome, removing=True)
        if state.tunnel:
            self._try(outcome, "tunnel tunl0", "tunnel.up", self._tunnel_up)
        if state.tunnel6:
            self._try(outcome, "tunnel ip6tnl0", "tunnel.up", self._tunnel6_up)
        rules = self._packet_rules(state, outcome, adding_only=True)
        self._ipvs(state, outcome)
        self._sysctls(state, outcome)  # after IPVS: net/ipv4/vs/* only exist once ip_vs is loaded
        self._packet_rules(state, outcome, current=rules)
        self._policy_routes(state, outcome)
        self._addresses(state, outcome, removing=False)
        self._restore_sysctls(state, outcome)
        self._save_record(outcome)
        outcome.draining = len(self.drainer.draining)
        if not outcome.errors:
            self.applied = state
        return outcome

    def _save_record(self, outcome: Outcome) -> None:
        try:
            self.store.save(self.record)
        except OSError as error:
            outcome.errors.append(("ownership record", str(error)))
            logger.error("cannot save the ownership record %s: %s", self.store.path, error)

    def update(self, state: NodeState, changes: TableChanges | None = None) -> Outcome:
        """The incremental pass: only what differs from the last applied state, else a full pass.
        ``changes``: how ``state``'s IPVS tables differ from an earlier state's, as the planner knows it; used
        when that earlier state is the last applied one, else the tables are diffed."""
        last = self.applied
        if last is None:
            return self.reconcile(state)
        if changes is not None and changes.since is not last:
            changes = None
        shared = state.destinations is last.destinations or state.snat_rules is last.snat_rules
        if changes is None and shared and state is not last:
            # the planner wrote these maps in place since ``last`` (planner/tables.py): no diff can tell
            logger.info("IPVS tables changed without a record of how; full pass")
            return self.reconcile(state)
        self.applied = None
        outcome = Outcome()
        addresses = state.addresses != last.addresses
        sysctls = state.sysctls != last.sysctls
        record = self.record
        saved = (set(record.services), set(record.addresses), dict(record.sysctls), record.tunnel, record.tunnel6)
        if addresses:
            self._addresses(state, outcome, removing=True)
        if state.tunnel and not last.tunnel:
            self._try(outcome, "tunnel tunl0", "tunnel.up", self._tunnel_up)
        if state.tunnel6 and not last.tunnel6:
            self._try(outcome, "tunnel ip6tnl0", "tunnel.up", self._tunnel6_up)
        marks = state.fwmark_rules != last.fwmark_rules
        snats_added, snats_removed = (
            changes.snat_rules if changes is not None else _changes(last.snat_rules, state.snat_rules)
        )
        last_snats = len(last.snat_rules)
        if state.snat_rules is last.snat_rules:  # written in place: the last pass's are these less the changes
            last_snats += len(snats_removed) - len(snats_added)
        # only masquerades changed, and the table stays: set elements, the new before IPVS gets their
        # destinations (see _packet_rules), the old after it let go of theirs
        elements = (
            not marks and bool(last.fwmark_rules or last_snats) and bool(state.fwmark_rules or state.snat_rules)
        )
        rules = marks or bool(snats_added or snats_removed)
        held: Rules | None = None
        if rules and not elements:
            held_snats = set(last.snat_rules.values())
            if state.snat_rules is last.snat_rules:
                held_snats = (held_snats - set(snats_added)) | set(snats_removed)
            held = (set(last.fwmark_rules.values()), held_snats)  # the last pass's
            if snats_added:
                held = self._packet_rules(state, outcome, adding_only=True, current=held)
        elif snats_added:
            self._snat_elements(outcome, add=snats_added)
        if not self._ipvs_changes(last, state, outcome, changes):
            logger.info("incremental IPVS update not possible; full pass")
            return self._full_after(state, outcome)
        if sysctls:
            self._sysctls(state, outcome)
        if elements and snats_removed:
            self._snat_elements(outcome, remove=list(snats_removed))
        elif rules and not elements:
            self._packet_rules(state, outcome, current=held)
        if state.policy_routes != last.policy_routes:
            self._policy_routes(state, outcome)
        if addresses:
            self._addresses(state, outcome, removing=False)
        if sysctls:
            self._restore_sysctls(state, outcome)
        if saved != (record.services, record.addresses, record.sysctls, record.tunnel, record.tunnel6):
            self._save_record(outcome)
        outcome.draining = len(self.drainer.draining)
        if outcome.errors:
            logger.warning("incremental update failed (%d errors); full pass", len(outcome.errors))
            return self._full_after(state, outcome)
        self.applied = state
        return outcome

    def _full_after(self, state: NodeState, outcome: Outcome) -> Outcome:
        """A full pass after a failed incremental one; both passes' writes and errors are reported."""
        full = self.reconcile(state)
        full.writes.update(outcome.writes)
        full.errors[:0] = outcome.errors
        return full

    def set_timeouts(self, tcp: int, tcpfin: int, udp: int, outcome: Outcome) -> None:
        """``ipvsadm --set``: written only when a requested (non-zero) value differs."""

        def apply() -> bool:
            current = self.kernel.ipvs.timeouts()
            wanted = tuple(w or c for w, c in zip((tcp, tcpfin, udp), current, strict=True))
            if wanted == current:
                return False
            if self.record.timeouts is None:
                self.record.timeouts = current  # what cleanup sets back (saved by the full pass that follows)
            self.kernel.ipvs.set_timeouts(tcp, tcpfin, udp)
            return True

        self._try(outcome, "ipvs timeouts", "ipvs.set_timeouts", apply)

    # --- helpers -------------------------------------------------------------------------------------

    def _try(self, outcome: Outcome, obj: str, kind: str, action: Callable[[], bool | None]) -> bool:
        """Run one write; count it if it wrote (action returns None or True), report it if it failed."""
        try:
            wrote = action()
        except Exception as error:  # one failing write must not stop the pass
            logger.error("%s: %s failed: %s", obj, kind, error)
            outcome.errors.append((obj, f"{kind}: {error}"))
            return False
        if wrote is None or wrote:
            outcome.writes[kind] += 1
        return True

    def _tunnel_up(self) -> bool:
        if self.kernel.tunnel.is_up():
            if self.record.tunnel is None:
                self.record.tunnel = False  # up before kube-lvs: cleanup leaves it up
            return False
        self.kernel.tunnel.ensure_up()
        self.record.tunnel = True  # cleanup takes it down again
        return True

    def _tunnel6_up(self) -> bool:
        tunnel = self.kernel.tunnel6
        if tunnel is None:
            raise RuntimeError("this agent has no ip6tnl0 gateway (kernel.tunnel6)")
        if tunnel.is_up():
            if self.record.tunnel6 is None:
                self.record.tunnel6 = False  # up before kube-lvs: cleanup leaves it up
            return False
        tunnel.ensure_up()
        self.record.tunnel6 = True  # cleanup takes it down again
        return True

    # --- IPVS ----------------------------------------------------------------------------------------

    def _owns_service(self, key: ServiceKey, state: NodeState, marks: dict[int, str]) -> bool:
        if key in state.services or key in self.record.services:
            return True
        if not self.vip_pools:
            return False
        address = marks.get(key.fwmark) if key.fwmark else key.address
        return address is not None and in_pools(address, self.vip_pools)

    def _ipvs(self, state: NodeState, outcome: Outcome) -> None:
        ipvs = self.kernel.ipvs
        try:
            current = ipvs.services()
            marks = {rule.mark: rule.destination for rule in state.fwmark_rules.values()}
            if self.vip_pools and any(key.fwmark and key.fwmark not in marks for key in current):
                found = self.kernel.rules.current() or (set(), set())  # None: not all ours, the marks unread
                marks = {rule.mark: rule.destination for rule in found[0]} | marks
            owned = sorted(key for key in current if self._owns_service(key, state, marks))
            present = ipvs.destinations(owned) if owned else {}
        except Exception as error:
            logger.error("cannot read the IPVS table: %s", error)
            outcome.errors.append(("ipvs", f"read: {error}"))
            outcome.ipvs_unread = True
            return
        # One look-up per key (keys hash and compare in Python, the bulk of a no-op resync), and the
        # leftovers scan only when some present destination was not wanted.
        ops: list[IpvsOp] = []
        for key, svc in state.services.items():
            if op := service_op(svc, current.get(key)):
                ops.append(op)
        matched = 0
        for dkey, dest in state.destinations.items():
            have = present.get(dkey)
            matched += have is not None
            if op := destination_op(dest, have):
                ops.append(op)
        leftovers = (
            {k: d for k, d in present.items() if k.service in state.services and k not in state.destinations}
            if matched < len(present)
            else {}
        )
        stats = self._stats(leftovers, outcome)
        ops.extend(self.drainer.ops(leftovers, stats))
        ops.sort(key=lambda op: isinstance(op, DeleteDestination))  # stable: dest deletes after adds/edits
        ops.extend(DeleteService(key) for key in owned if key not in state.services)
        failed_deletes = self._apply(ops, outcome)
        self.record.services = set(state.services) | failed_deletes

    def _ipvs_changes(
        self, last: NodeState, state: NodeState, outcome: Outcome, changes: TableChanges | None
    ) -> bool:
        """IPVS ops from ``last`` to ``state``, checked against the kernel's destinations of the touched
        services only. False: this change needs a full pass (nothing was written)."""
        old_services, new_services = last.services, state.services
        old_dests, new_dests = last.destinations, state.destinations
        if changes is not None:
            (changed, removed_dests), (edited, removed) = changes.destinations, changes.services
        else:
            changed, removed_dests = _changes(old_dests, new_dests)
            edited, removed = _changes(old_services, new_services)
        touched = {d.key.service for d in changed} | {k.service for k in removed_dests} | {s.key for s in edited}
        touched -= removed
        if not touched and not removed:
            return True
        try:
            present = self.kernel.ipvs.destinations(sorted(k for k in touched if k in old_services))
        except Exception as error:
            logger.warning("cannot read the touched IPVS services: %s", error)
            return False
        ops = [op for s in edited if (op := service_op(s, old_services.get(s.key)))]
        ops += [op for dest in changed if (op := destination_op(dest, present.get(dest.key)))]
        leftovers = {k: d for k, d in present.items() if k not in new_dests}
        if leftovers:
            if self.drainer.draining - leftovers.keys():
                return False  # the drainer decides over all leftovers at once: only a full pass has them all
            ops.extend(self.drainer.ops(leftovers, self._stats(leftovers, outcome)))
        ops.extend(DeleteService(key) for key in sorted(removed))
        failed_deletes = self._apply(ops, outcome)
        self.record.services = set(new_services) | failed_deletes
        return True

    def _stats(self, leftovers: dict[DestKey, Destination], outcome: Outcome) -> dict[DestKey, DestStats]:
        if not leftovers:
            return {}
        try:
            return self.kernel.ipvs.stats(sorted({key.service for key in leftovers}))
        except Exception as error:
            outcome.errors.append(("ipvs", f"stats: {error}"))
            logger.error("cannot read IPVS stats, deleting leftovers without draining: %s", error)
            return {}

    def _apply(self, ops: Sequence[IpvsOp], outcome: Outcome) -> set[ServiceKey]:
        if not ops:
            return set()
        try:
            results = self.kernel.ipvs.apply(ops)
        except Exception as error:
            results = [str(error)] * len(ops)
        failed: set[ServiceKey] = set()
        debug = logger.isEnabledFor(logging.DEBUG)
        if results.count(None) == len(ops):
            # every op written: tallied by type in C (one by one, with describe() built for DEBUG lines nobody
            # logs, the tally was a large part of a full sync)
            for kind, count in Counter(map(type, ops)).items():
                outcome.writes[OP_NAMES[kind]] += count
            if debug:
                for op in ops:
                    logger.debug("%s %s", OP_NAMES[type(op)].removeprefix("ipvs."), describe(op))
            return failed
        for op, result in zip(ops, results, strict=True):
            if result is None:
                outcome.writes[OP_NAMES[type(op)]] += 1
                if debug:  # at INFO, a full sync spent most of its time logging
                    logger.debug("%s %s", OP_NAMES[type(op)].removeprefix("ipvs."), describe(op))
            else:
                outcome.errors.append((describe(op), f"{OP_NAMES[type(op)]}: {result}"))
                outcome.failed_services.add(_service_of(op))
                logger.error("%s %s failed: %s", OP_NAMES[type(op)], describe(op), result)
                if isinstance(op, DeleteService):
                    failed.add(op.key)
        return failed

    # --- addresses -----------------------------------------------------------------------------------

    def _owns_address(self, key: AddressKey, state: NodeState) -> bool:
        if key in state.addresses or key in self.record.addresses:
            return True
        # Through the pools only single-address VIPs: a node's own subnet address is never ours.
        full = ipaddress.ip_address(key.address).max_prefixlen
        return bool(self.vip_pools) and key.prefixlen == full and in_pools(key.address, self.vip_pools)

    def _addresses(self, state: NodeState, outcome: Outcome, removing: bool) -> None:
        interfaces = sorted({k.interface for k in state.addresses} | {k.interface for k in self.record.addresses})
        if not interfaces:
            return
        try:
            present = self.kernel.addresses.list(interfaces)
        except Exception as error:
            outcome.errors.append(("addresses", f"read: {error}"))
            logger.error("cannot read interface addresses: %s", error)
            return
        if removing:
            gone = {k for k in self.record.addresses if k not in present}  # removed by hand
            for key in gone:
                self.announcer.withdraw(key)
            self.record.addresses -= gone
            unwanted = [k for k in sorted(present) if k not in state.addresses and self._owns_address(k, state)]
            if unwanted:
                self.unbind(unwanted, outcome)
            return
        self.record.addresses.update(state.addresses)  # desired is ours, adopted or added
        missing = [key for key in sorted(state.addresses) if key not in present]
        if missing:
            self.bind(missing, outcome)

    def bind(self, keys: Sequence[AddressKey], outcome: Outcome) -> None:
        """Add ``keys`` over one batch of sockets, each new VIP handed to the announcer right after it is added
        (its first announcement goes out at once, so clients move at once; backends' VIPs on lo and tunl0
        never). Errors are per address: one bad address (say, on a missing interface) fails only itself.
        """
        added, started = 0, time.monotonic()
        announced = outcome.writes["address.announce"]
        try:
            with self.kernel.addresses.batch() as batch:
                for key in keys:
                    obj = f"address {key.address}/{key.prefixlen} on {key.interface}"
                    if not self._try(outcome, obj, "address.add", partial(batch.add, key)):
                        continue
                    added += 1
                    self.record.addresses.add(key)
                    if key.interface not in UNANNOUNCED:
                        self._try(outcome, obj, "address.announce", partial(self.announcer.announce, key))
        except Exception as error:  # the batch's sockets could not be opened (or closed): nothing, or part, added
            outcome.errors.append(("addresses", f"add: {error}"))
            logger.error("cannot add interface addresses: %s", error)
        logger.info(
            "added %d of %d address(es), announced %d, in %.3f s (the announcer repeats them)",
            added,
            len(keys),
            outcome.writes["address.announce"] - announced,
            time.monotonic() - started,
        )

    def unbind(self, keys: Sequence[AddressKey], outcome: Outcome) -> None:
        """Remove ``keys`` over one batch of sockets; an address already gone is fine, errors are per address.

        Each is withdrawn from the announcer first, so no repeat of it goes out once it may be elsewhere.
        """
        for key in keys:
            self.announcer.withdraw(key)
        removed, started = 0, time.monotonic()
        try:
            with self.kernel.addresses.batch() as batch:
                for key in keys:
                    obj = f"address {key.address}/{key.prefixlen} on {key.interface}"
                    if self._try(outcome, obj, "address.remove", partial(batch.remove, key)):
                        self.record.addresses.discard(key)
                        removed += 1
        except Exception as error:
            outcome.errors.append(("addresses", f"remove: {error}"))
            logger.error("cannot remove interface addresses: %s", error)
        logger.info("removed %d of %d address(es) in %.3f s", removed, len(keys), time.monotonic() - started)

    # --- sysctls -------------------------------------------------------------------------------------

    def _sysctls(self, state: NodeState, outcome: Outcome) -> None:
        for path, sysctl in state.sysctls.items():

            def write(path: str = path, value: str = sysctl.value) -> bool:
                current = self.kernel.sysctls.read(path)
                if current is None:
                    raise LookupError(f"no sysctl {path} in this namespace")
                self.record.sysctls.setdefault(path, current)  # the value to restore later
                if current == value:
                    return False
                self.kernel.sysctls.write(path, value)
                return True

            self._try(outcome, f"sysctl {path}", "sysctl.write", write)

    def _restore_sysctls(self, state: NodeState, outcome: Outcome) -> None:
        for path, previous in sorted(self.record.sysctls.items()):
            if path in state.sysctls:
                continue

            def restore(path: str = path, previous: str = previous) -> bool:
                current = self.kernel.sysctls.read(path)
                if current is None or current == previous:
                    return False
                self.kernel.sysctls.write(path, previous)
                return True

            if self._try(outcome, f"sysctl {path}", "sysctl.restore", restore):
                del self.record.sysctls[path]

    # --- policy routes and packet rules (both wholly ours: the adapters only report kube-lvs' own) -------

    def _policy_routes(self, state: NodeState, outcome: Outcome) -> None:
        desired = set(state.policy_routes.values())
        try:
            present = self.kernel.routes.list() if desired or self._may_have_routes else set()
        except Exception as error:
            outcome.errors.append(("policy routes", f"read: {error}"))
            logger.error("cannot read policy routes: %s", error)
            return
        for route in sorted(present - desired):
            obj = f"policy route from {route.source} {route.protocol.name}:{route.port}"
            self._try(outcome, obj, "route.remove", partial(self.kernel.routes.remove, route))
        for route in sorted(desired - present):
            obj = f"policy route from {route.source} {route.protocol.name}:{route.port}"
            self._try(outcome, obj, "route.add", partial(self.kernel.routes.add, route))
        self._may_have_routes = bool(desired)

    _may_have_routes = True  # read the kernel at least once, to clean up after an earlier run

    def _packet_rules(
        self, state: NodeState, outcome: Outcome, *, adding_only: bool = False, current: Rules | None = None
    ) -> Rules | None:
        """The packet rules as ``state`` wants them; ``adding_only``: only the masquerade rules it adds, the
        rest as they are (before IPVS gets new destinations: a connection scheduled to a destination whose
        rule is not there yet would be pinned un-masqueraded by conntrack, its retransmissions too).
        ``current``: what the kernel holds, if known (else it is read). Returns what it left there."""
        marks, snats = set(state.fwmark_rules.values()), set(state.snat_rules.values())
        if not (marks or snats or self._may_have_rules):
            return None
        left: list[Rules] = []

        def replace() -> bool:
            found = current if current is not None else self.kernel.rules.current()
            # a table holding what kube-lvs did not write (None) is written whole, even when only adding
            wanted = (found[0], found[1] | snats) if adding_only and found is not None else (marks, snats)
            left.append(wanted)
            if found == wanted:
                return False
            self.kernel.rules.replace(sorted(wanted[0]), sorted(wanted[1]))
            return True

        if not self._try(outcome, "nftables table kubelvs", "rules.replace", replace):
            return None
        if not adding_only:
            self._may_have_rules = bool(marks or snats)
        return left[0] if left else None

    _may_have_rules = True

    def _snat_elements(
        self, outcome: Outcome, add: Sequence[SnatRule] = (), remove: Sequence[SnatRule] = ()
    ) -> None:
        """Masquerades of NAT destinations that came or went, as set elements: no table rewrite."""
        what = f"{len(add)} added, {len(remove)} removed"
        self._try(
            outcome,
            f"nftables SNAT set ({what})",
            "rules.snat_elements",
            partial(self.kernel.rules.change_snats, add, remove),
        )
