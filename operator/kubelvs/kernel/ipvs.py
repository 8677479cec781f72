"""The IPVS table of the current network namespace: lean dumps for reads, lean batches for bulk edits.

Reads (services, destinations, counters) send dump requests on a raw generic-netlink socket and parse the replies
with :mod:`.ipvs_dump`: services and destinations a whole read at a time (same-shaped replies checked and unpacked
at once), counters reply by reply. pyroute2's dumps, decoded by the ``to_…`` converters and ``reference_…`` readers
below, stay as the reference those reads are checked against (they cost seconds per thousand objects under
emulation). Edits go through :mod:`.ipvs_wire`: packed with ``struct``, sent ``batch_size`` per ``send()`` on one
raw generic-netlink socket with NLM_F_ACK, and matched to their acks by sequence number, so one failing op is
reported and never stops the others. Timeouts and the sync daemon, which pyroute2 types as opaque blobs, go through
the same raw socket.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import struct
import threading
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any

from pyroute2 import IPVS, IPVSService
from pyroute2.netlink.exceptions import NetlinkError

from kubelvs.kernel import ipvs_dump as dump
from kubelvs.kernel import ipvs_wire as wire
from kubelvs.netstate import (
    KERNEL_OWNED_FLAGS,
    Destination,
    DestKey,
    DestStats,
    Family,
    Fwd,
    IpvsOp,
    Proto,
    Service,
    ServiceKey,
    SvcFlag,
)

logger = logging.getLogger(__name__)

NETLINK_GENERIC = 16
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10  # errors echo only the header, not the whole request
SO_RCVBUFFORCE = 33
RECEIVE_BUFFER = 8 << 20  # holds a whole batch of acks even when every op fails
BATCH_SIZE = 200
REPLY_TIMEOUT = 30.0


class IpvsTableError(OSError):
    """A request the kernel refused (timeouts, sync daemon, a dump)."""


# ---- pyroute2 messages -> netstate values: the reference reader -------------------------------------------------


def to_service_key(attrs: Any) -> ServiceKey:
    """The key of a pyroute2 ``IPVS_CMD_ATTR_SERVICE`` nest."""
    family = Family(attrs.get_attr("IPVS_SVC_ATTR_AF"))
    fwmark = attrs.get_attr("IPVS_SVC_ATTR_FWMARK") or 0
    if fwmark:
        return ServiceKey(family, Proto.NONE, "", 0, fwmark=fwmark)
    return ServiceKey(
        family,
        Proto(attrs.get_attr("IPVS_SVC_ATTR_PROTOCOL")),
        _compressed(family, attrs.get_attr("IPVS_SVC_ATTR_ADDR")),
        attrs.get_attr("IPVS_SVC_ATTR_PORT"),
    )


def to_service(attrs: Any) -> Service:
    """A pyroute2 service nest as a :class:`Service`; the kernel's own HASHED flag is dropped."""
    key = to_service_key(attrs)
    flags = SvcFlag(attrs.get_attr("IPVS_SVC_ATTR_FLAGS")["flags"]) & ~KERNEL_OWNED_FLAGS
    # pyroute2 decodes the netmask as an IPv4 address; for IPv6 those four bytes are a prefix length
    netmask = socket.inet_aton(attrs.get_attr("IPVS_SVC_ATTR_NETMASK"))
    return Service(
        key=key,
        scheduler=attrs.get_attr("IPVS_SVC_ATTR_SCHED_NAME"),
        flags=flags,
        timeout=attrs.get_attr("IPVS_SVC_ATTR_TIMEOUT") or 0,
        netmask=wire.netmask_prefix(key.family, netmask),
    )


def to_destination(service: ServiceKey, attrs: Any) -> Destination:
    """A pyroute2 ``IPVS_CMD_ATTR_DEST`` nest; ``family`` is set only when it differs from the service's."""
    family = Family(attrs.get_attr("IPVS_DEST_ATTR_ADDR_FAMILY") or service.family)
    return Destination(
        key=DestKey(
            service,
            _compressed(family, attrs.get_attr("IPVS_DEST_ATTR_ADDR")),
            attrs.get_attr("IPVS_DEST_ATTR_PORT"),
        ),
        forwarding=Fwd(attrs.get_attr("IPVS_DEST_ATTR_FWD_METHOD") & wire.FWD_MASK),
        weight=attrs.get_attr("IPVS_DEST_ATTR_WEIGHT"),
        upper_threshold=attrs.get_attr("IPVS_DEST_ATTR_U_THRESH"),
        lower_threshold=attrs.get_attr("IPVS_DEST_ATTR_L_THRESH"),
        family=family if family != service.family else None,
    )


def to_dest_stats(attrs: Any) -> DestStats:
    """Counters of a pyroute2 destination nest (64-bit counters when the kernel sends them)."""
    counters = attrs.get_attr("IPVS_DEST_ATTR_STATS64") or attrs.get_attr("IPVS_DEST_ATTR_STATS")

    def counter(name: str) -> int:
        return int(counters.get_attr(f"IPVS_STATS_ATTR_{name}") or 0) if counters is not None else 0

    return DestStats(
        active_conns=attrs.get_attr("IPVS_DEST_ATTR_ACTIVE_CONNS") or 0,
        inactive_conns=attrs.get_attr("IPVS_DEST_ATTR_INACT_CONNS") or 0,
        persistent_conns=attrs.get_attr("IPVS_DEST_ATTR_PERSIST_CONNS") or 0,
        conns=counter("CONNS"),
        inpkts=counter("INPKTS"),
        outpkts=counter("OUTPKTS"),
        inbytes=counter("INBYTES"),
        outbytes=counter("OUTBYTES"),
        cps=counter("CPS"),
        inpps=counter("INPPS"),
        outpps=counter("OUTPPS"),
        inbps=counter("INBPS"),
        outbps=counter("OUTBPS"),
    )


def from_service_key(key: ServiceKey) -> Any:
    """The pyroute2 ``IPVSService`` that names ``key`` in a destination dump."""
    if key.fwmark:
        return IPVSService(af=int(key.family), fwmark=key.fwmark)
    return IPVSService(af=int(key.family), protocol=int(key.protocol), addr=key.address, port=key.port)


def _compressed(family: Family, address: str) -> str:
    return socket.inet_ntop(family, socket.inet_pton(family, address))


def reference_services(ipvs: IPVS) -> dict[ServiceKey, Service]:
    """:meth:`KernelIpvsTable.services` through pyroute2's dump: slow, kept to check the lean reader against."""
    found = {}
    for msg in ipvs.service("dump"):
        service = to_service(msg.get_attr("IPVS_CMD_ATTR_SERVICE"))
        found[service.key] = service
    return found


def _reference_dest_nests(ipvs: IPVS, services: Sequence[ServiceKey]) -> list[tuple[ServiceKey, Any]]:
    nests = []
    for key in services:
        try:
            replies = ipvs.dest("dump", service=from_service_key(key))
        except (NetlinkError, OSError) as error:  # the service vanished since the service dump
            logger.debug("no destinations for %s: %s", key, error)
            continue
        nests += [(key, msg.get_attr("IPVS_CMD_ATTR_DEST")) for msg in replies]
    return nests


def reference_destinations(ipvs: IPVS, services: Sequence[ServiceKey]) -> dict[DestKey, Destination]:
    """:meth:`KernelIpvsTable.destinations` through pyroute2's dumps (the reference)."""
    found = {}
    for key, nest in _reference_dest_nests(ipvs, services):
        dest = to_destination(key, nest)
        found[dest.key] = dest
    return found


def reference_stats(ipvs: IPVS, services: Sequence[ServiceKey]) -> dict[DestKey, DestStats]:
    """:meth:`KernelIpvsTable.stats` through pyroute2's dumps (the reference)."""
    return {
        to_destination(key, nest).key: to_dest_stats(nest) for key, nest in _reference_dest_nests(ipvs, services)
    }


# ---- the table ------------------------------------------------------------------------------------------------


class KernelIpvsTable:
    """:class:`kubelvs.kernel.interfaces.IpvsTable` over the network namespace this process is in."""

    def __init__(self, batch_size: int = BATCH_SIZE) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.batch_size = batch_size
        # One socket, one conversation at a time: the agent's pass thread and its metrics thread (stats() at
        # scrape time) both call in; interleaved they steal each other's replies (as kube-proxy's ipvs_linux.go).
        self._lock = threading.Lock()
        self._ipvs = IPVS()  # binds the IPVS family: fails here, clearly, if ip_vs is not loaded
        self._family: int = self._ipvs.prid
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        try:
            self._sock.bind((0, 0))
            try:
                self._sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
            except PermissionError:
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            self._sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
            self._sock.settimeout(REPLY_TIMEOUT)
        except OSError:
            self.close()
            raise
        self._seq = itertools.count(1)
        self._buffer = bytearray(1 << 20)
        self._view = memoryview(self._buffer)
        self._dest_reader = dump.Reader(wire.CmdAttr.DEST)  # stats(): learns each reply shape once
        self._service_reads = dump.ServiceReads()  # services() and destinations(): whole reads
        self._dest_reads = dump.DestinationReads()

    def close(self) -> None:
        with self._lock:
            self._sock.close()
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
            seq = next(self._seq)
            found: dict[ServiceKey, Service] = {}
            self._sock.send(dump.service_dump_request(self._family, seq))
            code = None
            while code is None:
                size = self._sock.recv_into(self._buffer)
                code = self._service_reads.read(self._view[:size], self._family, seq, found)
            if code:
                raise IpvsTableError(code, f"IPVS GET_SERVICE: {os.strerror(code)}")
            return found

    def _dest_nests(self, services: Sequence[ServiceKey]) -> Iterator[tuple[ServiceKey, dict[int, int | bytes]]]:
        """One GET_DEST dump per service, one after the other: the kernel runs one dump per socket at a time
        and answers a second dump request sent while the first is unfinished with EBUSY."""
        for key in services:
            seq = next(self._seq)
            try:
                request = dump.dest_dump_request(self._family, seq, key)
                replies = self._dump(seq, request, f"GET_DEST {key}")
            except (ValueError, IpvsTableError) as error:  # an unpackable key, or the service vanished
                logger.debug("no destinations for %s: %s", key, error)
                continue
            for payload in replies:
                yield key, self._dest_reader.values(payload)

    def destinations(self, services: Sequence[ServiceKey]) -> dict[DestKey, Destination]:
        """One GET_DEST dump per service, read by :class:`ipvs_dump.DestinationReads` (the resync's hot path)."""
        with self._lock:
            found: dict[DestKey, Destination] = {}
            reads = self._dest_reads
            for key in services:
                seq = next(self._seq)
                try:
                    request = dump.dest_dump_request(self._family, seq, key)
                except (ValueError, OSError) as error:  # an unpackable key: it cannot be in the kernel
                    logger.debug("no destinations for %s: %s", key, error)
                    continue
                self._sock.send(request)
                code = None
                while code is None:
                    size = self._sock.recv_into(self._buffer)
                    code = reads.read(self._view[:size], self._family, seq, key, found)
                if code:  # the service vanished since the service dump
                    logger.debug("no destinations for %s: %s", key, os.strerror(code))
            return found

    def stats(self, services: Sequence[ServiceKey]) -> dict[DestKey, DestStats]:
        with self._lock:
            return {
                dump.destination(key, nest).key: dump.dest_stats(nest) for key, nest in self._dest_nests(services)
            }

    def _dump(self, seq: int, request: bytes, what: str) -> list[bytes]:
        """Payloads of every reply to the dump ``request`` (sequence number ``seq``), up to its NLMSG_DONE."""
        self._sock.send(request)
        replies: list[bytes] = []
        while True:
            # into one buffer: a fresh 1 MiB bytes per recv (mmap, page faults) cost ~10 ms a dump under emulation
            size = self._sock.recv_into(self._buffer)
            for kind, _flags, reply_seq, payload in wire.messages(bytes(self._view[:size])):
                if reply_seq != seq:
                    continue  # a late answer to an earlier request
                if kind in (wire.NLMSG_ERROR, wire.NLMSG_DONE):
                    code = wire.error_code(payload) if len(payload) >= 4 else 0
                    if code:
                        raise IpvsTableError(code, f"IPVS {what}: {os.strerror(code)}")
                    return replies
                replies.append(payload)

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
        which under emulation made a bulk apply slower than ``ipvsadm -R``.
        """
        base = next(self._seq)  # this batch's sequence numbers: base + (index - start)
        self._seq = itertools.count(base + end - start)
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
        self._sock.send(b"".join(blobs))
        for seq, code in self._replies_until(base + last - start):
            index = seq - base + start
            if code and start <= index <= last:
                results[index] = f"{wire.describe(ops[index])}: {os.strerror(code)}"

    def _replies_until(self, last: int) -> list[tuple[int, int]]:
        """(seq, errno) of every NLMSG_ERROR up to and including the one for sequence number ``last``."""
        replies = []
        while True:
            data = self._sock.recv(1 << 20)
            for kind, _flags, seq, payload in wire.messages(data):
                if kind == wire.NLMSG_ERROR:
                    replies.append((seq, wire.error_code(payload)))
                    if seq == last:
                        return replies

    def _request(self, seq: int, blob: bytes, what: str) -> None:
        self._sock.send(blob)
        code = self._replies_until(seq)[-1][1]
        if code:
            raise IpvsTableError(code, f"{what}: {os.strerror(code)}")

    def _query(self, cmd: int, *, dump: bool) -> list[dict[int, bytes]]:
        """Attributes of the replies to a GET: a dump (daemons) or a single answer (config)."""
        seq = next(self._seq)
        self._sock.send(wire.message(self._family, cmd, wire.DUMP if dump else wire.NLM_F_REQUEST, seq))
        replies: list[dict[int, bytes]] = []
        while True:
            data = self._sock.recv(1 << 20)
            for kind, _flags, reply_seq, payload in wire.messages(data):
                if reply_seq != seq:
                    continue
                if kind == wire.NLMSG_ERROR and wire.error_code(payload):
                    code = wire.error_code(payload)
                    raise IpvsTableError(code, f"IPVS {wire.Cmd(cmd).name}: {os.strerror(code)}")
                if kind in (wire.NLMSG_DONE, wire.NLMSG_ERROR):
                    return replies
                replies.append(wire.attributes(payload[4:]))  # past the genlmsghdr
                if not dump:
                    return replies

    # table-wide settings

    def set_timeouts(self, tcp: int, tcpfin: int, udp: int) -> None:
        with self._lock:
            seq = next(self._seq)
            blob = wire.config_message(self._family, seq, tcp, tcpfin, udp)
            self._request(seq, blob, f"set timeouts tcp {tcp} tcpfin {tcpfin} udp {udp}")

    def timeouts(self) -> tuple[int, int, int]:
        with self._lock:
            (attrs,) = self._query(wire.Cmd.GET_CONFIG, dump=False)
            return (
                wire.u32(attrs[wire.CmdAttr.TIMEOUT_TCP]),
                wire.u32(attrs[wire.CmdAttr.TIMEOUT_TCP_FIN]),
                wire.u32(attrs[wire.CmdAttr.TIMEOUT_UDP]),
            )

    def start_sync_daemon(self, state: str, interface: str, syncid: int) -> None:
        with self._lock:
            seq = next(self._seq)
            blob = wire.start_daemon_message(self._family, seq, state, interface, syncid)
            self._request(seq, blob, f"start sync daemon {state} on {interface} syncid {syncid}")

    def stop_sync_daemon(self, state: str) -> None:
        with self._lock:
            seq = next(self._seq)
            self._request(seq, wire.stop_daemon_message(self._family, seq, state), f"stop sync daemon {state}")

    def sync_daemons(self) -> dict[str, tuple[str, int]]:
        with self._lock:
            states = {code: name for name, code in wire.DAEMON_STATES.items()}
            running = {}
            for attrs in self._query(wire.Cmd.GET_DAEMON, dump=True):
                nested = wire.attributes(attrs[wire.CmdAttr.DAEMON])
                state = states[wire.u32(nested[wire.DaemonAttr.STATE])]
                running[state] = (
                    wire.asciiz(nested[wire.DaemonAttr.MCAST_IFN]),
                    wire.u32(nested[wire.DaemonAttr.SYNC_ID]),
                )
            return running
