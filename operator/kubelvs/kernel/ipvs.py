"""The IPVS table of the current network namespace: lean dumps for reads, lean batches for bulk edits.

Every request goes over one :class:`.netlink.Socket` (generic netlink, NETLINK_CAP_ACK). Reads (services,
destinations, counters) send dump requests and parse the replies with :mod:`.ipvs_dump`: services and
destinations a whole read at a time (same-shaped replies checked and unpacked at once), counters reply by reply;
the tests hold them equal to pyroute2's dumps. Edits go through :mod:`.ipvs_wire`: packed with ``struct``, sent
``batch_size`` per ``send()`` and matched to their acks by sequence number, so one failing op is reported and never
stops the others. Timeouts and the sync daemon, which pyroute2 types as opaque blobs, go over the same socket.
pyroute2 only looks up the IPVS family.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
from collections.abc import Iterator, Sequence
from functools import partial
from types import TracebackType

from pyroute2 import IPVS
from pyroute2.netlink.exceptions import NetlinkError

from kubelvs.kernel import ipvs_dump as dump
from kubelvs.kernel import ipvs_wire as wire
from kubelvs.kernel import netlink
from kubelvs.netstate import (
    Destination,
    DestKey,
    DestStats,
    IpvsOp,
    Service,
    ServiceKey,
    ServiceStats,
)

logger = logging.getLogger(__name__)

RECEIVE_BUFFER = 8 << 20  # holds a whole batch of acks even when every op fails
BATCH_SIZE = 200
REPLY_TIMEOUT = 30.0


class IpvsTableError(OSError):
    """A request the kernel refused (timeouts, sync daemon, a dump)."""


class IpvsUnavailable(OSError):
    """The kernel has no IPVS netlink family: ip_vs is neither loaded nor built in."""


class KernelIpvsTable:
    """:class:`kubelvs.kernel.interfaces.IpvsTable` over the network namespace this process is in."""

    def __init__(self, batch_size: int = BATCH_SIZE) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.batch_size = batch_size
        # One socket, one conversation at a time: the agent's pass thread and its metrics thread (stats() at
        # scrape time) both call in; interleaved they steal each other's replies (as kube-proxy's ipvs_linux.go).
        self._lock = threading.Lock()
        try:
            self._ipvs = IPVS()  # binds the IPVS family: fails here, clearly, if ip_vs is not loaded
        except NetlinkError as error:
            raise IpvsUnavailable(error.code, "this kernel has no IPVS (the ip_vs module is not loaded)") from None
        self._family: int = self._ipvs.prid
        try:
            self._netlink = netlink.Socket(
                netlink.NETLINK_GENERIC, receive_buffer=RECEIVE_BUFFER, cap_ack=True, timeout=REPLY_TIMEOUT
            )
        except OSError:
            self._ipvs.close()
            raise
        self._dest_reader = dump.Reader(wire.CmdAttr.DEST)  # stats(): learns each reply shape once
        self._service_stats_reader = dump.Reader(wire.CmdAttr.SERVICE, counters=True)  # service_stats()
        self._service_reads = dump.ServiceReads()  # services() and destinations(): whole reads
        self._dest_reads = dump.DestinationReads()

    def close(self) -> None:
        with self._lock:
            self._netlink.close()
            self._ipvs.close()

    def __enter__(self) -> KernelIpvsTable:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # reads

    def services(self) -> dict[ServiceKey, Service]:
        with self._lock:
            sock, family, reads = self._netlink, self._family, self._service_reads
            seq = sock.sequence()
            found: dict[ServiceKey, Service] = {}
            read = partial(reads.read, family_id=family, seq=seq, found=found)
            code = sock.dump(dump.service_dump_request(family, seq), seq, read)
            if code:
                raise IpvsTableError(code, f"IPVS GET_SERVICE: {os.strerror(code)}")
            return found

    def destinations(self, services: Sequence[ServiceKey]) -> dict[DestKey, Destination]:
        """One GET_DEST dump per service, read by :class:`ipvs_dump.DestinationReads` (the resync's hot path).

        One after the other: the kernel runs one dump per socket at a time and answers a second dump request sent
        while the first is unfinished with EBUSY.
        """
        with self._lock:
            sock, family, reads = self._netlink, self._family, self._dest_reads
            found: dict[DestKey, Destination] = {}
            for key in services:
                seq = sock.sequence()
                try:
                    request = dump.dest_dump_request(family, seq, key)
                except (ValueError, OSError) as error:  # an unpackable key: it cannot be in the kernel
                    logger.debug("no destinations for %s: %s", key, error)
                    continue
                read = partial(reads.read, family_id=family, seq=seq, service=key, found=found)
                code = sock.dump(request, seq, read)
                if code:  # the service vanished since the service dump
                    logger.debug("no destinations for %s: %s", key, os.strerror(code))
            return found

    def stats(self, services: Sequence[ServiceKey]) -> dict[DestKey, DestStats]:
        with self._lock:
            return {
                dump.destination(key, nest).key: dump.dest_stats(nest) for key, nest in self._dest_nests(services)
            }

    def service_stats(self, services: Sequence[ServiceKey]) -> dict[ServiceKey, ServiceStats]:
        """The kernel's counters of each of ``services`` it holds, from one GET_SERVICE dump read reply by reply
        (the services' own counters, which keep what deleted destinations counted)."""
        wanted = set(services)
        with self._lock:
            seq = self._netlink.sequence()
            code, replies = self._netlink.replies(dump.service_dump_request(self._family, seq), seq, dump=True)
            if code:
                raise IpvsTableError(code, f"IPVS GET_SERVICE: {os.strerror(code)}")
            found: dict[ServiceKey, ServiceStats] = {}
            for payload in replies:
                values = self._service_stats_reader.values(payload)
                key = dump.service_key(values)
                if key in wanted:
                    found[key] = dump.service_stats(values)
            return found

    def _dest_nests(self, services: Sequence[ServiceKey]) -> Iterator[tuple[ServiceKey, dict[int, int | bytes]]]:
        """Every destination nest of each service, read reply by reply (counters: not the hot path)."""
        for key in services:
            seq = self._netlink.sequence()
            try:
                request = dump.dest_dump_request(self._family, seq, key)
            except (ValueError, OSError) as error:  # an unpackable key: it cannot be in the kernel
                logger.debug("no destinations for %s: %s", key, error)
                continue
            code, replies = self._netlink.replies(request, seq, dump=True)
            if code:  # the service vanished since the service dump
                logger.debug("no destinations for %s: %s", key, os.strerror(code))
                continue
            for payload in replies:
                yield key, self._dest_reader.values(payload)

    # edits

    def apply(self, ops: Sequence[IpvsOp]) -> list[str | None]:
        with self._lock:
            results: list[str | None] = [None] * len(ops)
            for start in range(0, len(ops), self.batch_size):
                self._apply_batch(ops, start, min(start + self.batch_size, len(ops)), results)
            failed = [r for r in results if r]
            if failed:
                logger.warning("%d of %d IPVS ops failed; first: %s", len(failed), len(ops), failed[0])
            return results

    def _apply_batch(self, ops: Sequence[IpvsOp], start: int, end: int, results: list[str | None]) -> None:
        """Send ops[start:end] in one ``send()``; only the last asks for an ack.

        The kernel answers every failed message whether or not it asked for an ack, and handles the messages of
        one send in order before ``send()`` returns; so the last message's ack closes the batch and every op
        without an error reply before it succeeded. Reading one reply per op instead costs a ``recv()`` per op,
        which under emulation made a bulk apply slower than ``ipvsadm -R``. If the kernel dropped replies
        (ENOBUFS), an op without a reply may have failed: it is reported as unknown, so the next pass reads it.
        """
        base = self._netlink.sequence(end - start)  # this batch's sequence numbers: base + (index - start)
        family, blobs, last = self._family, [], -1
        for index in range(start, end):
            try:
                blobs.append(wire.op_message(ops[index], family, base + index - start, ack=False))
            except (
                ValueError,
                OSError,
                TypeError,
                struct.error,
            ) as error:  # e.g. a malformed address: this op only
                results[index] = f"{wire.describe(ops[index])}: invalid: {error}"
                continue
            last = index
        if not blobs:
            return
        blobs[-1] = wire.with_ack(blobs[-1])
        self._netlink.send(b"".join(blobs))
        try:
            replies = self._netlink.acks_until(base + last - start)
        except netlink.RepliesLost as lost:
            replies = lost.replies
            answered = {seq - base + start for seq, _code in replies}
            for index in range(start, last + 1):
                if results[index] is None and index not in answered:
                    results[index] = f"{wire.describe(ops[index])}: outcome unknown: {lost.strerror}"
        for seq, code in replies:
            index = seq - base + start
            if code and start <= index <= last:
                results[index] = f"{wire.describe(ops[index])}: {os.strerror(code)}"

    def _request(self, seq: int, blob: bytes, what: str) -> None:
        code = self._netlink.request(blob, seq)
        if code:
            raise IpvsTableError(code, f"{what}: {os.strerror(code)}")

    def _query(self, cmd: int, *, dump: bool) -> list[dict[int, bytes]]:
        """Attributes of the replies to a GET: a dump (daemons) or a single answer (config)."""
        seq = self._netlink.sequence()
        flags = wire.DUMP if dump else netlink.NLM_F_REQUEST
        code, replies = self._netlink.replies(wire.message(self._family, cmd, flags, seq), seq, dump=dump)
        if code:
            raise IpvsTableError(code, f"IPVS {wire.Cmd(cmd).name}: {os.strerror(code)}")
        return [netlink.attributes(payload[netlink.GENL_HDRLEN :]) for payload in replies]

    # table-wide settings

    def set_timeouts(self, tcp: int, tcpfin: int, udp: int) -> None:
        with self._lock:
            seq = self._netlink.sequence()
            blob = wire.config_message(self._family, seq, tcp, tcpfin, udp)
            self._request(seq, blob, f"set timeouts tcp {tcp} tcpfin {tcpfin} udp {udp}")

    def timeouts(self) -> tuple[int, int, int]:
        with self._lock:
            (attrs,) = self._query(wire.Cmd.GET_CONFIG, dump=False)
            return (
                netlink.u32(attrs[wire.CmdAttr.TIMEOUT_TCP]),
                netlink.u32(attrs[wire.CmdAttr.TIMEOUT_TCP_FIN]),
                netlink.u32(attrs[wire.CmdAttr.TIMEOUT_UDP]),
            )

    def start_sync_daemon(self, state: str, interface: str, syncid: int) -> None:
        with self._lock:
            seq = self._netlink.sequence()
            blob = wire.start_daemon_message(self._family, seq, state, interface, syncid)
            self._request(seq, blob, f"start sync daemon {state} on {interface} syncid {syncid}")

    def stop_sync_daemon(self, state: str) -> None:
        with self._lock:
            seq = self._netlink.sequence()
            self._request(seq, wire.stop_daemon_message(self._family, seq, state), f"stop sync daemon {state}")

    def sync_daemons(self) -> dict[str, tuple[str, int]]:
        with self._lock:
            states = {code: name for name, code in wire.DAEMON_STATES.items()}
            running = {}
            for attrs in self._query(wire.Cmd.GET_DAEMON, dump=True):
                nested = netlink.attributes(attrs[wire.CmdAttr.DAEMON])
                state = states[netlink.u32(nested[wire.DaemonAttr.STATE])]
                running[state] = (
                    netlink.asciiz(nested[wire.DaemonAttr.MCAST_IFN]),
                    netlink.u32(nested[wire.DaemonAttr.SYNC_ID]),
                )
            return running
