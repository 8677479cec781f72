"""Lean IPVS dumps: the GET_SERVICE / GET_DEST dump requests and a parser of their replies into netstate values.

pyroute2's generic decoder costs milliseconds per message under emulation (2.5 s for 1,000 services, ~35 s for
11,000 destinations), and the agent reads its whole table every resync. The reply shapes are fixed by
``include/uapi/linux/ip_vs.h``, so they are parsed here with ``struct``; ``tests/unit/test_ipvs_dump_*.py`` check
every shape against pyroute2's decoding of the same bytes. No I/O here.
"""

from __future__ import annotations

import enum
import logging
import socket
import struct

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
NLM_F_DUMP_INTR = 0x10


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


# IPVS_STATS_ATTR_* in DestStats field order; the u32 ones are u64 in STATS64 (INBYTES/OUTBYTES are u64 in both)
STATS_FIELDS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes", "cps", "inpps", "outpps", "inbps", "outbps")
_STATS_U64 = frozenset({4, 5})

_U16 = struct.Struct("=H")
_U32 = struct.Struct("=I")
_U64 = struct.Struct("=Q")
_BE16 = struct.Struct(">H")
_ADDRESS_SIZE = {Family.INET: 4, Family.INET6: 16}


def service_dump_request(family_id: int, seq: int) -> bytes:
    """GET_SERVICE with NLM_F_DUMP: every service of the namespace."""
    return wire.message(family_id, wire.Cmd.GET_SERVICE, wire.DUMP, seq)


def dest_dump_request(family_id: int, seq: int, service: ServiceKey) -> bytes:
    """GET_DEST with NLM_F_DUMP for one service (ValueError/OSError for a key that cannot be packed)."""
    attrs = wire._nla(wire.CmdAttr.SERVICE, wire.service_key_attrs(service))
    return wire.message(family_id, wire.Cmd.GET_DEST, wire.DUMP, seq, attrs)


def reply_nest(payload: bytes, kind: wire.CmdAttr) -> dict[int, bytes]:
    """Attributes of the ``kind`` nest of a reply (payload after the nlmsghdr); ValueError when it is absent."""
    nest = wire.attributes(payload[GENL_HEADER:]).get(kind)
    if nest is None:
        raise ValueError(f"IPVS reply without its {kind.name} attribute")
    return wire.attributes(nest)


def _u16(attrs: dict[int, bytes], kind: int) -> int:
    return int(_U16.unpack_from(attrs[kind])[0])


def _u32(attrs: dict[int, bytes], kind: int, default: int | None = None) -> int:
    raw = attrs.get(kind)
    if raw is None:
        if default is None:
            raise ValueError(f"IPVS reply without attribute {kind}")
        return default
    return int(_U32.unpack_from(raw)[0])


def _address(family: Family, raw: bytes) -> str:
    # the kernel sends a whole union nf_inet_addr (16 bytes) for either family
    return socket.inet_ntop(family, raw[: _ADDRESS_SIZE[family]])


def service_key(attrs: dict[int, bytes]) -> ServiceKey:
    """The key of a service nest: fwmark services carry no protocol, address or port."""
    family = Family(_u16(attrs, wire.SvcAttr.AF))
    fwmark = _u32(attrs, wire.SvcAttr.FWMARK, 0)
    if fwmark:
        return ServiceKey(family, Proto.NONE, "", 0, fwmark=fwmark)
    return ServiceKey(
        family,
        Proto(_u16(attrs, wire.SvcAttr.PROTOCOL)),
        _address(family, attrs[wire.SvcAttr.ADDR]),
        int(_BE16.unpack_from(attrs[wire.SvcAttr.PORT])[0]),
    )


def service(attrs: dict[int, bytes]) -> Service:
    """A service nest as a :class:`Service`; the kernel's own HASHED flag is dropped."""
    key = service_key(attrs)
    return Service(
        key=key,
        scheduler=wire.asciiz(attrs[wire.SvcAttr.SCHED_NAME]),
        flags=SvcFlag(_u32(attrs, wire.SvcAttr.FLAGS)) & ~KERNEL_OWNED_FLAGS,
        timeout=_u32(attrs, wire.SvcAttr.TIMEOUT, 0),
        netmask=wire.netmask_prefix(key.family, attrs[wire.SvcAttr.NETMASK]),
    )


def destination(service: ServiceKey, attrs: dict[int, bytes]) -> Destination:
    """A destination nest; ``family`` is set only when it differs from the service's (IPv4 tunnel to v6, …)."""
    family = Family(
        _u16(attrs, wire.DestAttr.ADDR_FAMILY) if wire.DestAttr.ADDR_FAMILY in attrs else service.family
    )
    return Destination(
        key=DestKey(
            service,
            _address(family, attrs[wire.DestAttr.ADDR]),
            int(_BE16.unpack_from(attrs[wire.DestAttr.PORT])[0]),
        ),
        forwarding=Fwd(_u32(attrs, wire.DestAttr.FWD_METHOD) & wire.FWD_MASK),
        weight=_u32(attrs, wire.DestAttr.WEIGHT),
        upper_threshold=_u32(attrs, wire.DestAttr.U_THRESH),
        lower_threshold=_u32(attrs, wire.DestAttr.L_THRESH),
        family=family if family != service.family else None,
    )


def counters(raw: bytes, wide: bool) -> dict[str, int]:
    """A STATS (``wide=False``) or STATS64 nest by DestStats field name; absent counters are 0."""
    found = dict.fromkeys(STATS_FIELDS, 0)
    for kind, value in wire.attributes(raw).items():
        if 1 <= kind <= len(STATS_FIELDS):
            fmt = _U64 if wide or kind in _STATS_U64 else _U32
            found[STATS_FIELDS[kind - 1]] = int(fmt.unpack_from(value)[0])
    return found


def dest_stats(attrs: dict[int, bytes]) -> DestStats:
    """Counters of a destination nest: the 64-bit ones when the kernel sends them."""
    if DestReplyAttr.STATS64 in attrs:
        found = counters(attrs[DestReplyAttr.STATS64], wide=True)
    elif DestReplyAttr.STATS in attrs:
        found = counters(attrs[DestReplyAttr.STATS], wide=False)
    else:
        found = {}
    return DestStats(
        active_conns=_u32(attrs, DestReplyAttr.ACTIVE_CONNS, 0),
        inactive_conns=_u32(attrs, DestReplyAttr.INACT_CONNS, 0),
        persistent_conns=_u32(attrs, DestReplyAttr.PERSIST_CONNS, 0),
        **found,
    )
