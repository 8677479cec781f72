"""Lean IPVS dumps: the GET_SERVICE / GET_DEST dump requests and a parser of their replies into netstate values.

pyroute2's generic decoder costs milliseconds per message under emulation (2.5 s for 1,000 services, ~35 s for
11,000 destinations), and the agent reads its whole table every resync. The reply shapes are fixed by
``include/uapi/linux/ip_vs.h``, so they are parsed here with ``struct``; ``tests/unit/test_ipvs_dump_*.py`` check
every shape against pyroute2's decoding of the same bytes. Headers and message splitting are :mod:`.netlink`'s;
the reads come from its socket. No I/O here.
"""

from __future__ import annotations

import enum
import logging
import operator
import socket
import struct
from functools import lru_cache
from typing import Any, TypeVar, cast

from kubelvs.kernel import ipvs_wire as wire
from kubelvs.kernel import netlink
from kubelvs.netstate import (
    KERNEL_OWNED_FLAGS,
    Destination,
    DestKey,
    DestStats,
    Family,
    Fwd,
    Proto,
    Service,
    ServiceKey,
    ServiceStats,
    SvcFlag,
)

logger = logging.getLogger(__name__)

GENL_HEADER = netlink.GENL_HDRLEN


class SvcReplyAttr(enum.IntEnum):
    """Service attributes only replies carry (requests use :class:`ipvs_wire.SvcAttr`)."""

    STATS = 10
    PE_NAME = 11
    STATS64 = 12


class DestReplyAttr(enum.IntEnum):
    """Destination attributes only replies carry (requests use :class:`ipvs_wire.DestAttr`)."""

    ACTIVE_CONNS = 7
    INACT_CONNS = 8
    PERSIST_CONNS = 9
    STATS = 10
    STATS64 = 12


# IPVS_STATS_ATTR_* (1, 2, …) in DestStats field order; their sizes vary (u32/u64), the layout reads either
STATS_FIELDS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes", "cps", "inpps", "outpps", "inbps", "outbps")

_U32 = struct.Struct("=I")
_ADDRESS_SIZE = {Family.INET: 4, Family.INET6: 16}
_AF_INET6 = int(Family.INET6)  # a plain int: loading an enum member per reply costs under emulation
_FAMILIES: dict[int | bytes, Family] = {int(f): f for f in Family}
_PROTOCOLS: dict[int, Proto] = {int(p): p for p in Proto}
_FORWARDING = {int(f): f for f in Fwd}
_E = TypeVar("_E", Family, Proto)


def service_dump_request(family_id: int, seq: int) -> bytes:
    """GET_SERVICE with NLM_F_DUMP: every service of the namespace."""
    return wire.message(family_id, wire.Cmd.GET_SERVICE, wire.DUMP, seq)


def dest_dump_request(family_id: int, seq: int, service: ServiceKey) -> bytes:
    """GET_DEST with NLM_F_DUMP for one service (ValueError/OSError for a key that cannot be packed)."""
    attrs = netlink.nla(wire.CmdAttr.SERVICE, wire.service_key_attrs(service))
    return wire.message(family_id, wire.Cmd.GET_DEST, wire.DUMP, seq, attrs)


class _Layout:
    """The attribute layout of one reply shape, read with one ``struct`` call and checked by its NLA headers.

    Every reply of a dump has the same shape (the kernel puts the same attributes in the same order), so walking
    the attributes of each reply in Python, the cost under emulation, is done once per shape.
    """

    def __init__(self, payload: bytes, cmd_attr: int, descend: frozenset[int], overrides: dict[int, str]) -> None:
        self.parts = ["="]
        self.headers: list[int] = []  # indexes of the (length, type) words, in order
        self.expected: list[int] = []
        self.keys: list[int] = []  # attribute type (nest children) or parent << 8 | type (their nests' children)
        self.values: list[int] = []
        self.formats: list[str] = []  # struct format of each value, to know its Python type
        self.offsets: list[int] = []  # payload offset of each value
        self.header_offsets: list[int] = []  # payload offset of each NLA header
        self.count = 0
        self.parts.append(f"{GENL_HEADER}x")
        self._walk(payload, GENL_HEADER, len(payload), 0, cmd_attr, descend, overrides)
        self.struct = struct.Struct("".join(self.parts))
        if self.struct.size != len(payload) or not self.values:
            raise ValueError(f"IPVS reply of {len(payload)} bytes has a malformed attribute stream")
        self.expected_headers = tuple(self.expected)
        self.pick_headers = operator.itemgetter(*self.headers)
        self.pick_values = operator.itemgetter(*self.values, *self.values[:1])  # always a tuple

    def _walk(
        self,
        data: bytes,
        offset: int,
        end: int,
        depth: int,
        cmd_attr: int,
        descend: frozenset[int],
        overrides: dict[int, str],
        base: int = 0,
    ) -> None:
        while offset < end:
            if offset + 4 > end:
                raise ValueError("IPVS reply ends inside an attribute header")
            length, kind = netlink.NLA.unpack_from(data, offset)
            size = (length + 3) & ~3
            if length < 4 or offset + size > end:
                raise ValueError(f"IPVS reply attribute {kind} has a bad length {length}")
            self.parts.append("HH")
            self.headers += [self.count, self.count + 1]
            self.header_offsets.append(offset)
            self.expected += [length, kind]
            self.count += 2
            payload = length - 4
            kind &= 0x3FFF
            if (depth == 0 and kind == cmd_attr) or (depth == 1 and kind in descend):
                child_base = 0 if depth == 0 else kind << 8
                self._walk(data, offset + 4, offset + length, depth + 1, cmd_attr, descend, overrides, child_base)
                self.parts.append(f"{size - length}x")
            elif depth == 0:
                self.parts.append(f"{size - 4}x")  # another command attribute: not ours to read
            else:
                fmt = overrides.get(base | kind) if depth == 1 else None
                if fmt == _RAW or (fmt is None and payload not in _FORMATS):
                    fmt = f"{payload}s"
                fmt = fmt or _FORMATS[payload]
                self.parts.append(fmt + f"{size - length}x")
                self.formats.append(fmt)
                self.offsets.append(offset + 4)
                self.keys.append(base | kind)
                self.values.append(self.count)
                self.count += 1
            offset += size

    def read(self, payload: bytes) -> dict[int, int | bytes] | None:
        """The values of ``payload`` by key, or None when it is not of this shape."""
        if len(payload) != self.struct.size:
            return None
        fields = self.struct.unpack_from(payload)
        if self.pick_headers(fields) != self.expected_headers:
            return None
        return dict(zip(self.keys, self.pick_values(fields), strict=False))


# payload sizes of scalar attributes: u8, u16 (and be16, swapped by the reader), u32, u64 (padding follows)
_FORMATS = {1: "B", 2: "H", 4: "I", 8: "Q"}
_RAW = "s"  # bytes whatever the size: addresses (4 bytes for IPv4 in pyroute2's encoding) and names
_SERVICE_OVERRIDES: dict[int, str] = {
    wire.SvcAttr.FLAGS: "I4x",  # struct ip_vs_flags: the flags, then the mask the kernel echoes
    wire.SvcAttr.ADDR: _RAW,
    wire.SvcAttr.SCHED_NAME: _RAW,
    SvcReplyAttr.PE_NAME: _RAW,
}
_DEST_OVERRIDES: dict[int, str] = {wire.DestAttr.ADDR: _RAW}
_DEST_NESTS = frozenset({DestReplyAttr.STATS, DestReplyAttr.STATS64})
_SERVICE_NESTS = frozenset({SvcReplyAttr.STATS, SvcReplyAttr.STATS64})
_MAX_LAYOUTS = 8


class Reader:
    """Reads the replies of one kind (services or destinations), learning each reply shape once.

    Destination counters are always read; a service's only with ``counters`` (the resync does not need them).
    """

    def __init__(self, cmd_attr: wire.CmdAttr, *, counters: bool = False) -> None:
        self.cmd_attr = cmd_attr
        self.descend: frozenset[int]
        if cmd_attr == wire.CmdAttr.DEST:
            self.descend = _DEST_NESTS
        else:
            self.descend = _SERVICE_NESTS if counters else frozenset()
        self.overrides = _SERVICE_OVERRIDES if cmd_attr == wire.CmdAttr.SERVICE else _DEST_OVERRIDES
        self.layouts: list[_Layout] = []
        self.last: _Layout | None = None  # the layout that read the latest reply

    def values(self, payload: bytes) -> dict[int, int | bytes]:
        """The attributes of the reply's nest (payload after the nlmsghdr); ValueError for a malformed reply."""
        for layout in self.layouts:
            found = layout.read(payload)
            if found is not None:
                self.last = layout
                return found
        try:
            layout = _Layout(payload, self.cmd_attr, self.descend, self.overrides)
        except ValueError:
            raise ValueError(f"IPVS reply without its {self.cmd_attr.name} attribute, or malformed") from None
        self.layouts = [layout, *self.layouts[: _MAX_LAYOUTS - 1]]
        self.last = layout
        found = layout.read(payload)
        assert found is not None  # the layout was learnt from this very payload
        return found


def reply_nest(payload: bytes, kind: wire.CmdAttr) -> dict[int, int | bytes]:
    """The ``kind`` nest of one reply, read without a learnt layout (tests, single replies)."""
    return Reader(kind).values(payload)


def _int(values: dict[int, int | bytes], kind: int, default: int | None = None) -> int:
    value = values.get(kind, default)
    if not isinstance(value, int):
        raise ValueError(f"IPVS reply without attribute {kind}, or of the wrong size")
    return value


def _bytes(values: dict[int, int | bytes], kind: int) -> bytes:
    value = values.get(kind)
    if not isinstance(value, bytes):
        raise ValueError(f"IPVS reply without attribute {kind}, or of the wrong size")
    return value


def _address(family: Family, raw: bytes) -> str:
    # the kernel sends a whole union nf_inet_addr (16 bytes) for either family
    return socket.inet_ntop(family, raw[: _ADDRESS_SIZE[family]])


def _member(members: dict[Any, _E], value: int, what: str) -> _E:
    # a dict look-up: calling the enum class costs several Python calls under emulation
    found = members.get(value)
    if found is None:
        raise ValueError(f"IPVS service reply with an unknown {what} {value}")
    return found


@lru_cache(maxsize=64)
def _service_flags(raw: int) -> SvcFlag:
    return SvcFlag(raw) & ~KERNEL_OWNED_FLAGS


def service_key(values: dict[int, int | bytes]) -> ServiceKey:
    """The key of a service nest: fwmark services carry no protocol, address or port."""
    family = _member(_FAMILIES, _int(values, wire.SvcAttr.AF), "address family")
    fwmark = _int(values, wire.SvcAttr.FWMARK, 0)
    if fwmark:
        return ServiceKey(family, Proto.NONE, "", 0, fwmark=fwmark)
    return ServiceKey(
        family,
        _member(_PROTOCOLS, _int(values, wire.SvcAttr.PROTOCOL), "protocol"),
        _address(family, _bytes(values, wire.SvcAttr.ADDR)),
        socket.ntohs(_int(values, wire.SvcAttr.PORT)),
    )


def service(values: dict[int, int | bytes]) -> Service:
    """A service nest as a :class:`Service`; the kernel's own HASHED flag is dropped."""
    key = service_key(values)
    return Service(
        key=key,
        scheduler=netlink.asciiz(_bytes(values, wire.SvcAttr.SCHED_NAME)),
        flags=_service_flags(_int(values, wire.SvcAttr.FLAGS)),
        timeout=_int(values, wire.SvcAttr.TIMEOUT, 0),
        netmask=wire.netmask_prefix(key.family, _U32.pack(_int(values, wire.SvcAttr.NETMASK))),
    )


def destination(service: ServiceKey, values: dict[int, int | bytes]) -> Destination:
    """A destination nest; ``family`` is set only when it differs from the service's (IPv4 tunnel to v6, …).

    The hot path of a resync (one call per destination): plain look-ups, no helper calls.
    """
    try:
        family = _FAMILIES[values.get(wire.DestAttr.ADDR_FAMILY, service.family)]
        address, port = values[wire.DestAttr.ADDR], values[wire.DestAttr.PORT]
        fwd, weight = values[wire.DestAttr.FWD_METHOD], values[wire.DestAttr.WEIGHT]
        upper, lower = values[wire.DestAttr.U_THRESH], values[wire.DestAttr.L_THRESH]
    except KeyError as missing:
        raise ValueError(f"IPVS reply without attribute {int(missing.args[0])}, or of an unknown family") from None
    if not (
        isinstance(address, bytes)
        and isinstance(port, int)
        and isinstance(fwd, int)
        and isinstance(weight, int)
        and isinstance(upper, int)
        and isinstance(lower, int)
    ):
        raise ValueError(f"IPVS destination reply with an attribute of the wrong size: {values}")
    return Destination(
        key=DestKey(service, socket.inet_ntop(family, address[: _ADDRESS_SIZE[family]]), socket.ntohs(port)),
        forwarding=_FORWARDING[fwd & wire.FWD_MASK],
        weight=weight,
        upper_threshold=upper,
        lower_threshold=lower,
        family=family if family != service.family else None,
    )


_CONNS_KEYS = (DestReplyAttr.ACTIVE_CONNS, DestReplyAttr.INACT_CONNS, DestReplyAttr.PERSIST_CONNS)
_STATS64_KEYS = tuple((DestReplyAttr.STATS64 << 8) | kind for kind in range(1, len(STATS_FIELDS) + 1))
_STATS_KEYS = tuple((DestReplyAttr.STATS << 8) | kind for kind in range(1, len(STATS_FIELDS) + 1))


def _counters(
    values: dict[int, int | bytes], wide: tuple[int, ...], narrow: tuple[int, ...], *more: int, what: str
) -> list[int]:
    """``STATS_FIELDS`` of a nest, the 64-bit ones (``wide``) when the kernel sends them, then ``more``; absent
    counters are 0."""
    keys = wide if any(key in values for key in wide) else narrow
    found = [values.get(key, 0) for key in (*keys, *more)]
    if not all(isinstance(value, int) for value in found):
        raise ValueError(f"IPVS {what} reply with a counter of the wrong size: {values}")
    return cast(list[int], found)


def dest_stats(values: dict[int, int | bytes]) -> DestStats:
    """Counters of a destination nest: the 64-bit ones when the kernel sends them; absent counters are 0."""
    counters = _counters(values, _STATS64_KEYS, _STATS_KEYS, *_CONNS_KEYS, what="destination")
    return DestStats(
        active_conns=counters[10],
        inactive_conns=counters[11],
        persistent_conns=counters[12],
        conns=counters[0],
        inpkts=counters[1],
        outpkts=counters[2],
        inbytes=counters[3],
        outbytes=counters[4],
        cps=counters[5],
        inpps=counters[6],
        outpps=counters[7],
        inbps=counters[8],
        outbps=counters[9],
    )


_SERVICE_STATS64_KEYS = tuple((SvcReplyAttr.STATS64 << 8) | kind for kind in range(1, len(STATS_FIELDS) + 1))
_SERVICE_STATS_KEYS = tuple((SvcReplyAttr.STATS << 8) | kind for kind in range(1, len(STATS_FIELDS) + 1))


def service_stats(values: dict[int, int | bytes]) -> ServiceStats:
    """Counters of a service nest read with ``Reader(SERVICE, counters=True)``: the 64-bit ones when the kernel
    sends them; absent counters are 0."""
    return ServiceStats(*_counters(values, _SERVICE_STATS64_KEYS, _SERVICE_STATS_KEYS, what="service"))


# ---- whole reads of dumps: the hot path of a resync ---------------------------------------------------------

_NLMSG_FORMAT = "IHHII"  # nlmsghdr: length, type, flags, seq, port id
_ANY_BYTES = "s"  # a field spec for bytes of any length (names)
# what a Service needs, each with the struct format that makes its value an int or bytes; the kernel sends a
# fwmark service in another shape (FWMARK instead of PROTOCOL, ADDR, PORT), read reply by reply
_SERVICE_FIELDS = (
    (wire.SvcAttr.AF, "H"),
    (wire.SvcAttr.PROTOCOL, "H"),
    (wire.SvcAttr.ADDR, "16s"),
    (wire.SvcAttr.PORT, "H"),
    (wire.SvcAttr.SCHED_NAME, _ANY_BYTES),
    (wire.SvcAttr.FLAGS, "I4x"),
    (wire.SvcAttr.TIMEOUT, "I"),
    (wire.SvcAttr.NETMASK, "I"),
)
# what a Destination needs
_DEST_FIELDS = (
    (wire.DestAttr.ADDR, "16s"),
    (wire.DestAttr.PORT, "H"),
    (wire.DestAttr.FWD_METHOD, "I"),
    (wire.DestAttr.WEIGHT, "I"),
    (wire.DestAttr.U_THRESH, "I"),
    (wire.DestAttr.L_THRESH, "I"),
    (wire.DestAttr.ADDR_FAMILY, "H"),
)


class _Batch:
    """A reply shape with its nlmsghdr: a read of n such replies is checked and unpacked at once.

    Every destination of a kernel is sent in one shape (and most services), so a dump's data read is usually n
    equal messages. All their headers (nlmsghdr length, type, flags, sequence number, and every NLA header) are
    checked with one masked comparison of the read as an integer, then ``iter_unpack`` reads only ``fields``:
    counters and the rest are skipped as padding, never turned into objects. ValueError for a layout that lacks
    one of ``fields`` (or has ``absent``), or reads one in another format.
    """

    def __init__(
        self,
        layout: _Layout,
        family_id: int,
        fields: tuple[tuple[int, str], ...] = _DEST_FIELDS,
        absent: frozenset[int] = frozenset(),
    ) -> None:
        self.family_id = family_id
        self.size = 16 + layout.struct.size
        mask, expected, seq = bytearray(self.size), bytearray(self.size), bytearray(self.size)
        mask[0:12] = b"\xff" * 12  # length, type, flags, seq (the port id is not checked)
        expected[0:8] = struct.pack("=IHH", self.size, family_id, netlink.NLM_F_MULTI)
        seq[8:12] = struct.pack("=I", 1)
        for offset, (length, kind) in zip(
            layout.header_offsets, zip(*[iter(layout.expected_headers)] * 2, strict=True), strict=True
        ):
            mask[16 + offset : 20 + offset] = b"\xff" * 4
            expected[16 + offset : 20 + offset] = netlink.NLA.pack(length, kind)
        self.parts = (bytes(mask), bytes(expected), bytes(seq))
        self.by_count: dict[int, tuple[int, int, int]] = {}
        if absent & set(layout.keys):
            raise ValueError(f"replies with attributes {sorted(absent & set(layout.keys))}")
        wanted = []
        for kind, spec in fields:
            if kind not in layout.keys:
                raise ValueError(f"replies without attribute {int(kind)}")
            position = layout.keys.index(kind)
            fmt = layout.formats[position]
            if fmt != spec and not (spec == _ANY_BYTES and fmt[-1] == "s" and fmt[:-1].isdigit()):
                raise ValueError(f"attribute {int(kind)} read as {fmt!r}")
            wanted.append((16 + layout.offsets[position], fmt))
        if wanted != sorted(wanted):
            raise ValueError("attributes in an unexpected order")
        fmt, at = "=", 0
        for offset, part in wanted:
            fmt += f"{offset - at}x{part}"
            at = offset + struct.calcsize("=" + part)
        self.struct = struct.Struct(f"{fmt}{self.size - at}x")

    def _checks(self, count: int) -> tuple[int, int, int]:
        """(mask, expected headers with sequence number 0, one unit of sequence number) of ``count`` replies."""
        found = self.by_count.get(count)
        if found is None:
            mask, expected, unit = (int.from_bytes(part * count, "little") for part in self.parts)
            found = (mask, expected, unit)
            if len(self.by_count) < 64:  # reads hold a few different numbers of replies
                self.by_count[count] = found
        return found

    def rows(self, data: memoryview, seq: int) -> list[tuple[Any, ...]]:
        """The values of ``fields`` in ``data`` if it is whole replies of this shape to ``seq``, else []."""
        count, rest = divmod(len(data), self.size)
        if rest or not count:
            return []
        mask, expected, unit = self._checks(count)
        if int.from_bytes(data, "little") & mask != expected + seq * unit:
            return []
        return list(self.struct.iter_unpack(data))


_END_SIZE = 20  # a read of one NLMSG_DONE or NLMSG_ERROR (nlmsghdr and errno): the kernel sends it apart


class DestinationReads:
    """Reads GET_DEST dumps read by read into :class:`Destination` values.

    A read of same-shaped replies goes through a learnt :class:`_Batch` (one ``struct`` call, then one small loop
    per destination); anything else (the NLMSG_DONE, an error, another shape) message by message via
    :class:`Reader`, as the reference path does.
    """

    def __init__(self) -> None:
        self.reader = Reader(wire.CmdAttr.DEST)
        self.batch: _Batch | None = None

    def read(
        self, data: memoryview, family_id: int, seq: int, service: ServiceKey, found: dict[DestKey, Destination]
    ) -> int | None:
        """Add the destinations in one read of the dump ``seq`` of ``service`` to ``found``.

        Returns None while the dump goes on, then 0 at its NLMSG_DONE or the errno of its error reply.
        ValueError for a malformed reply.
        """
        if len(data) == _END_SIZE:
            return netlink.end_of(data, seq)
        batch = self.batch
        rows = batch.rows(data, seq) if batch is not None and batch.family_id == family_id else []
        if not rows:
            return self._one_by_one(bytes(data), family_id, seq, service, found)
        ntop, ntohs, forwarding = socket.inet_ntop, socket.ntohs, _FORWARDING
        own = service.family
        for address, port, fwd, weight, upper, lower, af in rows:
            family = _FAMILIES.get(af)
            if family is None:
                raise ValueError(f"IPVS destination reply of unknown address family {af}")
            text = ntop(af, address[:4]) if af == socket.AF_INET else ntop(af, address)
            key = DestKey(service, text, ntohs(port))
            found[key] = Destination(
                key, forwarding[fwd & wire.FWD_MASK], weight, upper, lower, None if family == own else family
            )
        return None

    def _one_by_one(
        self, data: bytes, family_id: int, seq: int, service: ServiceKey, found: dict[DestKey, Destination]
    ) -> int | None:
        read_any = False
        for kind, _flags, reply_seq, payload in netlink.messages(data):
            if reply_seq != seq:
                continue  # a late answer to an earlier request
            if kind in (netlink.NLMSG_ERROR, netlink.NLMSG_DONE):
                return netlink.error_code(payload)
            dest = destination(service, self.reader.values(payload))
            found[dest.key] = dest
            read_any = True
        if read_any and self.reader.last is not None:
            try:
                self.batch = _Batch(self.reader.last, family_id)
            except ValueError as error:  # a shape the batch path does not know: stay on this path
                logger.debug("IPVS destination replies read one by one: %s", error)
                self.batch = None
        return None


class ServiceReads:
    """Reads a GET_SERVICE dump read by read into :class:`Service` values, as :class:`DestinationReads` does."""

    def __init__(self) -> None:
        self.reader = Reader(wire.CmdAttr.SERVICE)
        self.batch: _Batch | None = None

    def read(self, data: memoryview, family_id: int, seq: int, found: dict[ServiceKey, Service]) -> int | None:
        """Add the services in one read of the dump ``seq`` to ``found``: None while the dump goes on, then 0 at
        its NLMSG_DONE or the errno of its error reply. ValueError for a malformed reply."""
        if len(data) == _END_SIZE:
            return netlink.end_of(data, seq)
        batch = self.batch
        rows = batch.rows(data, seq) if batch is not None and batch.family_id == family_id else []
        if not rows:
            return self._one_by_one(bytes(data), family_id, seq, found)
        ntop, ntohs = socket.inet_ntop, socket.ntohs
        for af, proto, address, port, scheduler, flags, timeout, netmask in rows:
            family, protocol = _FAMILIES.get(af), _PROTOCOLS.get(proto)
            if family is None or protocol is None:
                raise ValueError(f"IPVS service reply of unknown address family {af} or protocol {proto}")
            text = ntop(af, address[:4]) if af == socket.AF_INET else ntop(af, address)
            key = ServiceKey(family, protocol, text, ntohs(port))
            # the netmask: a v4 mask (its set bits, whatever the byte order) or a v6 prefix length
            prefix = netmask if af == _AF_INET6 else netmask.bit_count()
            found[key] = Service(
                key, scheduler.split(b"\0", 1)[0].decode(), _service_flags(flags), timeout, prefix
            )
        return None

    def _one_by_one(self, data: bytes, family_id: int, seq: int, found: dict[ServiceKey, Service]) -> int | None:
        layout = None
        for kind, _flags, reply_seq, payload in netlink.messages(data):
            if reply_seq != seq:
                continue  # a late answer to an earlier request
            if kind in (netlink.NLMSG_ERROR, netlink.NLMSG_DONE):
                return netlink.error_code(payload)
            read = service(self.reader.values(payload))
            found[read.key] = read
            if not read.key.fwmark:
                layout = self.reader.last
        if layout is not None:
            try:
                self.batch = _Batch(layout, family_id, _SERVICE_FIELDS, frozenset({wire.SvcAttr.FWMARK}))
            except ValueError as error:
                logger.debug("IPVS service replies read one by one: %s", error)
                self.batch = None
        return None
