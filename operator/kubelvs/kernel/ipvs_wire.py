"""Lean packing of the IPVS generic-netlink messages the agent sends in bulk.

pyroute2's generic encoder was most of the time of a large apply (figures: benchmarks/README.md); the few
message shapes IPVS edits need are fixed, so they are packed here with ``struct`` on
the headers of :mod:`.netlink`, which also reads the replies. Byte-for-byte equality with pyroute2's encoding of
the same attributes is checked in ``tests/unit/test_ipvs_wire_*.py``. Numbers follow
``include/uapi/linux/ip_vs.h``. No I/O here.
"""

from __future__ import annotations

import enum
import logging
import socket
import struct
from functools import lru_cache

from kubelvs.kernel import netlink
from kubelvs.netstate import (
    KERNEL_OWNED_FLAGS,
    AddDestination,
    AddService,
    DeleteDestination,
    DeleteService,
    Destination,
    DestKey,
    EditDestination,
    EditService,
    Family,
    IpvsOp,
    Service,
    ServiceKey,
)

logger = logging.getLogger(__name__)

GENL_VERSION = 1

# The flags pyroute2 gives "create", "change" and plain requests (IPVS ignores all but ACK and DUMP).
CREATE = netlink.NLM_F_REQUEST | netlink.NLM_F_ACK | netlink.NLM_F_CREATE | netlink.NLM_F_EXCL
CHANGE = netlink.NLM_F_REQUEST | netlink.NLM_F_ACK | netlink.NLM_F_REPLACE
REQUEST = netlink.NLM_F_REQUEST | netlink.NLM_F_ACK
DUMP = netlink.NLM_F_REQUEST | netlink.NLM_F_DUMP

ALL_FLAGS_MASK = 0xFFFFFFFF  # libipvs sends mask ~0: the flags we send replace the service's flags
FWD_MASK = 0x7  # IP_VS_CONN_F_FWD_MASK


class Cmd(enum.IntEnum):
    NEW_SERVICE = 1
    SET_SERVICE = 2
    DEL_SERVICE = 3
    GET_SERVICE = 4
    NEW_DEST = 5
    SET_DEST = 6
    DEL_DEST = 7
    GET_DEST = 8
    NEW_DAEMON = 9
    DEL_DAEMON = 10
    GET_DAEMON = 11
    SET_CONFIG = 12
    GET_CONFIG = 13


class CmdAttr(enum.IntEnum):
    SERVICE = 1
    DEST = 2
    DAEMON = 3
    TIMEOUT_TCP = 4
    TIMEOUT_TCP_FIN = 5
    TIMEOUT_UDP = 6


class SvcAttr(enum.IntEnum):
    AF = 1
    PROTOCOL = 2
    ADDR = 3
    PORT = 4
    FWMARK = 5
    SCHED_NAME = 6
    FLAGS = 7
    TIMEOUT = 8
    NETMASK = 9


class DestAttr(enum.IntEnum):
    ADDR = 1
    PORT = 2
    FWD_METHOD = 3
    WEIGHT = 4
    U_THRESH = 5
    L_THRESH = 6
    ADDR_FAMILY = 11


class DaemonAttr(enum.IntEnum):
    STATE = 1
    MCAST_IFN = 2
    SYNC_ID = 3


# IP_VS_STATE_MASTER / IP_VS_STATE_BACKUP
DAEMON_STATES = {"master": 1, "backup": 2}
IFNAMSIZ = 16

_HEADER = netlink.GENLMSGHDR
_NLA = netlink.NLA
_U32 = struct.Struct("=HHI")
_U16 = struct.Struct("=HHH2x")
_BE16 = struct.Struct("=HH2s2x")
_FLAGS = struct.Struct("=HHII")


def _u32(kind: int, value: int) -> bytes:
    return _U32.pack(8, kind, value)


def _u16(kind: int, value: int) -> bytes:
    return _U16.pack(6, kind, value)


def _port(kind: int, address: str, port: int) -> bytes:
    if not 0 <= port <= 0xFFFF:
        raise ValueError(f"port {port} of {address} is outside 0..65535")
    return _BE16.pack(6, kind, port.to_bytes(2, "big"))


def _asciiz(kind: int, text: str) -> bytes:
    return netlink.nla(kind, text.encode("ascii") + b"\0")


def address_family(address: str) -> Family:
    return Family.INET6 if ":" in address else Family.INET


def netmask_attr(family: Family, prefixlen: int) -> bytes:
    """IPVS_SVC_ATTR_NETMASK as the kernel reads it: a v4 mask in network order, or a v6 prefix length (u32)."""
    if family == Family.INET6:
        if not 1 <= prefixlen <= 128:
            raise ValueError(f"IPv6 persistence netmask must be a prefix length 1..128, not {prefixlen}")
        return _u32(SvcAttr.NETMASK, prefixlen)
    if not 0 <= prefixlen <= 32:
        raise ValueError(f"IPv4 persistence netmask must be a prefix length 0..32, not {prefixlen}")
    mask = (0xFFFFFFFF << (32 - prefixlen)) & 0xFFFFFFFF
    return netlink.nla(SvcAttr.NETMASK, mask.to_bytes(4, "big"))


def netmask_prefix(family: Family, raw: bytes) -> int:
    """The prefix length of an IPVS_SVC_ATTR_NETMASK payload (the inverse of :func:`netmask_attr`)."""
    if family == Family.INET6:
        return netlink.u32(raw)
    return bin(int.from_bytes(raw[:4], "big")).count("1")


@lru_cache(maxsize=4096)
def service_key_attrs(key: ServiceKey) -> bytes:
    """The attributes that name a service (cached: every destination of a service repeats them)."""
    if key.fwmark:
        return _u16(SvcAttr.AF, key.family) + _u32(SvcAttr.FWMARK, key.fwmark)
    return (
        _u16(SvcAttr.AF, key.family)
        + _u16(SvcAttr.PROTOCOL, key.protocol)
        + netlink.nla(SvcAttr.ADDR, socket.inet_pton(key.family, key.address))
        + _port(SvcAttr.PORT, key.address, key.port)
    )


def service_attrs(service: Service) -> bytes:
    """Key plus every setting: NEW and SET need scheduler, flags, timeout and netmask all present."""
    flags = int(service.flags) & ~int(KERNEL_OWNED_FLAGS)
    return (
        service_key_attrs(service.key)
        + _asciiz(SvcAttr.SCHED_NAME, service.scheduler)
        + _FLAGS.pack(12, SvcAttr.FLAGS, flags, ALL_FLAGS_MASK)
        + _u32(SvcAttr.TIMEOUT, service.timeout)
        + netmask_attr(service.key.family, service.netmask)
    )


def dest_key_attrs(key: DestKey, family: Family | None = None) -> bytes:
    family = family or address_family(key.address)
    return (
        _u16(DestAttr.ADDR_FAMILY, family)
        + netlink.nla(DestAttr.ADDR, socket.inet_pton(family, key.address))
        + _port(DestAttr.PORT, key.address, key.port)
    )


# The whole DEST nest of NEW_DEST/SET_DEST in one struct call (the bulk of a full sync): nest header, the key as
# dest_key_attrs() packs it (ADDR_FAMILY u16, ADDR 4 or 16 bytes, PORT be16), then FWD_METHOD, WEIGHT, U_THRESH and
# L_THRESH (u32): NEW and SET need every setting present. The NLA headers are constants, packed once: loading an
# enum member per argument cost more than the packing itself under emulation.
_DEST_NEST: dict[int, tuple[struct.Struct, bytes, bytes]] = {
    int(family): (
        struct.Struct(f"=4s4sH2x4s{size}s4s2s2x4sI4sI4sI4sI"),
        _NLA.pack(4 + 8 + 4 + size + 8 + 4 * 8, CmdAttr.DEST),
        _NLA.pack(4 + size, DestAttr.ADDR),
    )
    for family, size in ((Family.INET, 4), (Family.INET6, 16))
}
_FAMILY_HEADER = _NLA.pack(6, DestAttr.ADDR_FAMILY)
_PORT_HEADER = _NLA.pack(6, DestAttr.PORT)
_FWD_HEADER, _WEIGHT_HEADER, _UPPER_HEADER, _LOWER_HEADER = (
    _NLA.pack(8, kind) for kind in (DestAttr.FWD_METHOD, DestAttr.WEIGHT, DestAttr.U_THRESH, DestAttr.L_THRESH)
)
_INET, _INET6 = int(Family.INET), int(Family.INET6)


def _dest_nest(dest: Destination) -> bytes:
    key = dest.key
    address, port = key.address, key.port
    family: int = dest.family or (_INET6 if ":" in address else _INET)
    if not 0 <= port <= 0xFFFF:
        raise ValueError(f"port {port} of {address} is outside 0..65535")
    found = _DEST_NEST.get(family)
    if found is None:
        raise ValueError(f"destination {address}: address family {family} is neither IPv4 nor IPv6")
    layout, nest_header, address_header = found
    blob: bytes = layout.pack(
        nest_header,
        _FAMILY_HEADER,
        family,
        address_header,
        socket.inet_pton(family, address),
        _PORT_HEADER,
        port.to_bytes(2, "big"),
        _FWD_HEADER,
        dest.forwarding,
        _WEIGHT_HEADER,
        dest.weight,
        _UPPER_HEADER,
        dest.upper_threshold,
        _LOWER_HEADER,
        dest.lower_threshold,
    )
    return blob


@lru_cache(maxsize=4096)
def _service_nest(key: ServiceKey) -> bytes:
    return netlink.nla(CmdAttr.SERVICE, service_key_attrs(key))


def message(family_id: int, cmd: int, flags: int, seq: int, attrs: bytes = b"") -> bytes:
    """One IPVS generic-netlink message (port id 0: the kernel fills in ours)."""
    return netlink.genl_message(family_id, cmd, GENL_VERSION, flags, seq, attrs)


def with_ack(blob: bytes) -> bytes:
    """``blob`` with NLM_F_ACK set in its header."""
    return netlink.with_flags(blob, netlink.NLM_F_ACK)


_NEW_DEST, _SET_DEST = (int(Cmd.NEW_DEST), CREATE), (int(Cmd.SET_DEST), CHANGE)  # plain ints: see _DEST_NEST
_NO_ACK = ~netlink.NLM_F_ACK


def op_message(op: IpvsOp, family_id: int, seq: int, *, ack: bool = True) -> bytes:
    """The message for one IPVS edit; ValueError/OSError for an address or netmask the kernel would refuse.

    ``ack=False`` leaves NLM_F_ACK out: the kernel then answers only if the op fails.
    """
    keep = ~0 if ack else _NO_ACK
    if isinstance(op, AddDestination | EditDestination):  # the bulk of a full sync: no pattern matching
        dest = op.destination
        attrs = _service_nest(dest.key.service) + _dest_nest(dest)
        cmd, flags = _NEW_DEST if type(op) is AddDestination else _SET_DEST
        return _HEADER.pack(20 + len(attrs), family_id, flags & keep, seq, 0, cmd, GENL_VERSION, 0) + attrs
    match op:
        case AddService(service):
            attrs = netlink.nla(CmdAttr.SERVICE, service_attrs(service))
            return message(family_id, Cmd.NEW_SERVICE, CREATE & keep, seq, attrs)
        case EditService(service):
            attrs = netlink.nla(CmdAttr.SERVICE, service_attrs(service))
            return message(family_id, Cmd.SET_SERVICE, CHANGE & keep, seq, attrs)
        case DeleteService(key):
            attrs = netlink.nla(CmdAttr.SERVICE, service_key_attrs(key))
            return message(family_id, Cmd.DEL_SERVICE, REQUEST & keep, seq, attrs)
        case DeleteDestination(key):
            attrs = netlink.nla(CmdAttr.SERVICE, service_key_attrs(key.service)) + netlink.nla(
                CmdAttr.DEST, dest_key_attrs(key)
            )
            return message(family_id, Cmd.DEL_DEST, REQUEST & keep, seq, attrs)
    raise TypeError(f"not an IPVS op: {op!r}")


def describe(op: IpvsOp) -> str:
    """A short text naming the op, for error results and logs (``add service TCP 192.0.2.1:80``)."""
    match op:
        case AddService(service) | EditService(service):
            verb = "add" if isinstance(op, AddService) else "edit"
            return f"{verb} service {service.key} ({service.scheduler})"
        case DeleteService(key):
            return f"delete service {key}"
        case AddDestination(dest) | EditDestination(dest):
            verb = "add" if isinstance(op, AddDestination) else "edit"
            return f"{verb} destination {dest.key} (weight {dest.weight}, {dest.forwarding.name.lower()})"
        case DeleteDestination(key):
            return f"delete destination {key}"
    return repr(op)


def config_message(family_id: int, seq: int, tcp: int, tcpfin: int, udp: int) -> bytes:
    """SET_CONFIG: the ``ipvsadm --set`` timeouts (0 leaves a value unchanged)."""
    for name, value in (("tcp", tcp), ("tcpfin", tcpfin), ("udp", udp)):
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"timeout {name} must be 0..{0xFFFFFFFF} seconds, not {value}")
    attrs = _u32(CmdAttr.TIMEOUT_TCP, tcp) + _u32(CmdAttr.TIMEOUT_TCP_FIN, tcpfin) + _u32(CmdAttr.TIMEOUT_UDP, udp)
    return message(family_id, Cmd.SET_CONFIG, REQUEST, seq, attrs)


def daemon_state(state: str) -> int:
    try:
        return DAEMON_STATES[state]
    except KeyError:
        raise ValueError(f"sync daemon state must be 'master' or 'backup', not {state!r}") from None


def start_daemon_message(family_id: int, seq: int, state: str, interface: str, syncid: int) -> bytes:
    """NEW_DAEMON: ``ipvsadm --start-daemon STATE --mcast-interface IF --syncid N``."""
    if not interface or len(interface.encode()) >= IFNAMSIZ:
        raise ValueError(f"sync daemon interface must be 1..{IFNAMSIZ - 1} bytes, not {interface!r}")
    if not 0 <= syncid <= 255:
        raise ValueError(f"sync daemon syncid must be 0..255, not {syncid}")
    nested = (
        _u32(DaemonAttr.STATE, daemon_state(state))
        + _asciiz(DaemonAttr.MCAST_IFN, interface)
        + _u32(DaemonAttr.SYNC_ID, syncid)
    )
    return message(family_id, Cmd.NEW_DAEMON, REQUEST, seq, netlink.nla(CmdAttr.DAEMON, nested))


def stop_daemon_message(family_id: int, seq: int, state: str) -> bytes:
    """DEL_DAEMON: ``ipvsadm --stop-daemon STATE``."""
    nested = _u32(DaemonAttr.STATE, daemon_state(state))
    return message(family_id, Cmd.DEL_DAEMON, REQUEST, seq, netlink.nla(CmdAttr.DAEMON, nested))
