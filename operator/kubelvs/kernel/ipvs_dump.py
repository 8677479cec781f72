"""Lean IPVS dumps: the GET_SERVICE / GET_DEST dump requests and a parser of their replies into netstate values.

pyroute2's generic decoder costs milliseconds per message under emulation (2.5 s for 1,000 services, ~35 s for
11,000 destinations), and the agent reads its whole table every resync. The reply shapes are fixed by
``include/uapi/linux/ip_vs.h``, so they are parsed here with ``struct``; ``tests/unit/test_ipvs_dump_*.py`` check
every shape against pyroute2's decoding of the same bytes. No I/O here.
"""

from __future__ import annotations

import enum
import logging
import operator
import socket
import struct
from typing import cast

from kubelvs.kernel import ipvs_wire as wire
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
    SvcFlag,
)

logger = logging.getLogger(__name__)

GENL_HEADER = 4  # cmd, version, reserved: the attributes start after it


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
_FAMILIES: dict[int | bytes, Family] = {int(f): f for f in Family}
_FORWARDING = {int(f): f for f in Fwd}


def service_dump_request(family_id: int, seq: int) -> bytes:
    """GET_SERVICE with NLM_F_DUMP: every service of the namespace."""
    return wire.message(family_id, wire.Cmd.GET_SERVICE, wire.DUMP, seq)


def dest_dump_request(family_id: int, seq: int, service: ServiceKey) -> bytes:
    """GET_DEST with NLM_F_DUMP for one service (ValueError/OSError for a key that cannot be packed)."""
    attrs = wire._nla(wire.CmdAttr.SERVICE, wire.service_key_attrs(service))
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
            length, kind = wire._NLA.unpack_from(data, offset)
            size = (length + 3) & ~3
            if length < 4 or offset + size > end:
                raise ValueError(f"IPVS reply attribute {kind} has a bad length {length}")
            self.parts.append("HH")
            self.headers += [self.count, self.count + 1]
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
_MAX_LAYOUTS = 8


class Reader:
    """Reads the replies of one kind (services or destinations), learning each reply shape once."""

    def __init__(self, cmd_attr: wire.CmdAttr) -> None:
        self.cmd_attr = cmd_attr
        self.descend = _DEST_NESTS if cmd_attr == wire.CmdAttr.DEST else frozenset()
        self.overrides = _SERVICE_OVERRIDES if cmd_attr == wire.CmdAttr.SERVICE else _DEST_OVERRIDES
        self.layouts: list[_Layout] = []

    def values(self, payload: bytes) -> dict[int, int | bytes]:
        """The attributes of the reply's nest (payload after the nlmsghdr); ValueError for a malformed reply."""
        for layout in self.layouts:
            found = layout.read(payload)
            if found is not None:
                return found
        try:
            layout = _Layout(payload, self.cmd_attr, self.descend, self.overrides)
        except ValueError:
            raise ValueError(f"IPVS reply without its {self.cmd_attr.name} attribute, or malformed") from None
        self.layouts = [layout, *self.layouts[: _MAX_LAYOUTS - 1]]
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


def service_key(values: dict[int, int | bytes]) -> ServiceKey:
    """The key of a service nest: fwmark services carry no protocol, address or port."""
    family = Family(_int(values, wire.SvcAttr.AF))
    fwmark = _int(values, wire.SvcAttr.FWMARK, 0)
    if fwmark:
        return ServiceKey(family, Proto.NONE, "", 0, fwmark=fwmark)
    return ServiceKey(
        family,
        Proto(_int(values, wire.SvcAttr.PROTOCOL)),
        _address(family, _bytes(values, wire.SvcAttr.ADDR)),
        socket.ntohs(_int(values, wire.SvcAttr.PORT)),
    )


def service(values: dict[int, int | bytes]) -> Service:
    """A service nest as a :class:`Service`; the kernel's own HASHED flag is dropped."""
    key = service_key(values)
    return Service(
        key=key,
        scheduler=wire.asciiz(_bytes(values, wire.SvcAttr.SCHED_NAME)),
        flags=SvcFlag(_int(values, wire.SvcAttr.FLAGS)) & ~KERNEL_OWNED_FLAGS,
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


def dest_stats(values: dict[int, int | bytes]) -> DestStats:
    """Counters of a destination nest: the 64-bit ones when the kernel sends them; absent counters are 0."""
    keys = _STATS64_KEYS if any(key in values for key in _STATS64_KEYS) else _STATS_KEYS
    found = [values.get(key, 0) for key in keys]
    found += [values.get(kind, 0) for kind in _CONNS_KEYS]
    if not all(isinstance(value, int) for value in found):
        raise ValueError(f"IPVS destination reply with a counter of the wrong size: {values}")
    counters = cast(list[int], found)
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
