"""The lean dump parser reads the same service and destination replies exactly as pyroute2's message classes do.

Reply bytes are encoded by pyroute2's ``ipvsmsg`` (the kernel's attribute layout, as pyroute2 knows it), then
decoded twice: by pyroute2 plus the reference converters of ``pyroute2_reference.py`` (here), and by
``kernel/ipvs_dump.py``. The VM test ``tests/kernel/test_ipvs_dump_reads_what_pyroute2_and_ipvsadm_read.py`` does
the same on real kernel replies.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

import pyroute2_reference as reference
import pytest
from pyroute2.netlink.generic.ipvs import ipvsmsg

from kubelvs.kernel import ipvs_dump as dump
from kubelvs.kernel import ipvs_wire as wire
from kubelvs.kernel import netlink
from kubelvs.netstate import DestStats, Family, Proto, ServiceKey

FAMILY_ID = 0x25
NLMSG_HEADER = 16
BIG = 2**40 + 12345  # beyond 32 bits: only STATS64 and the byte counters can carry it
U32_MAX = 0xFFFFFFFF

TCP4 = ServiceKey(Family.INET, Proto.TCP, "192.0.2.100", 80)
TCP6 = ServiceKey(Family.INET6, Proto.TCP, "2001:db8:1::100", 443)
FWM4 = ServiceKey(Family.INET, Proto.NONE, "", 0, fwmark=7)


def _reply(cmd: int, attrs: list[tuple[str, Any]]) -> bytes:
    msg = ipvsmsg()
    msg["cmd"] = cmd
    msg["version"] = 1
    msg["header"]["type"] = FAMILY_ID
    msg["header"]["flags"] = netlink.NLM_F_MULTI
    msg["header"]["sequence_number"] = 9
    msg["attrs"] = attrs
    msg.encode()
    return bytes(msg.data)


def _decoded(data: bytes, nest: str) -> Any:
    msg = ipvsmsg(data)
    msg.decode()
    return msg.get_attr(nest)


def _v6_netmask(prefix: int) -> str:
    # pyroute2 types the netmask "ip4addr"; for IPv6 the kernel sends a u32 prefix length in those four bytes
    return socket.inet_ntoa(struct.pack("=I", prefix))


def _stats(name: str, values: dict[str, int]) -> tuple[str, Any]:
    return (name, {"attrs": [(f"IPVS_STATS_ATTR_{field.upper()}", value) for field, value in values.items()]})


def _all_counters(value: int) -> dict[str, int]:
    return dict.fromkeys(dump.STATS_FIELDS, value)


def _key(family: int, protocol: int, address: str, port: int) -> list[tuple[str, Any]]:
    return [
        ("IPVS_SVC_ATTR_AF", family),
        ("IPVS_SVC_ATTR_PROTOCOL", protocol),
        ("IPVS_SVC_ATTR_ADDR", address),
        ("IPVS_SVC_ATTR_PORT", port),
    ]


SERVICE_KEY_TCP4 = _key(2, 6, "192.0.2.100", 80)


def _service(
    key: list[tuple[str, Any]],
    *,
    sched: str = "wlc",
    flags: int = 0,
    timeout: int = 0,
    netmask: str = "255.255.255.255",
    extra: list[tuple[str, Any]] | None = None,
) -> list[tuple[str, Any]]:
    return [
        *key,
        ("IPVS_SVC_ATTR_SCHED_NAME", sched),
        ("IPVS_SVC_ATTR_FLAGS", {"flags": flags, "mask": U32_MAX}),
        ("IPVS_SVC_ATTR_TIMEOUT", timeout),
        ("IPVS_SVC_ATTR_NETMASK", netmask),
        *(extra or []),
    ]


SERVICES = [
    pytest.param(_service(SERVICE_KEY_TCP4), id="tcp4"),
    pytest.param(
        _service(
            _key(2, 17, "198.51.100.7", 53),
            sched="rr",
            flags=0x4,
        ),
        id="udp4-one-packet",
    ),
    pytest.param(
        _service(
            _key(2, 132, "203.0.113.9", 3868),
            sched="mh",
        ),
        id="sctp4",
    ),
    pytest.param(
        _service(
            _key(10, 6, "2001:db8:0:0::100", 443),
            netmask=_v6_netmask(128),
        ),
        id="tcp6-address-compressed",
    ),
    pytest.param(
        _service(
            [("IPVS_SVC_ATTR_AF", 2), ("IPVS_SVC_ATTR_FWMARK", 7)],
            sched="sh",
            flags=0x8 | 0x10 | 0x2,  # sh-fallback, sh-port, and the kernel's HASHED, which is dropped
        ),
        id="fwmark4-sh-flags-hashed",
    ),
    pytest.param(
        _service([("IPVS_SVC_ATTR_AF", 10), ("IPVS_SVC_ATTR_FWMARK", U32_MAX)], netmask=_v6_netmask(128)),
        id="fwmark6-max-mark",
    ),
    pytest.param(
        _service(SERVICE_KEY_TCP4, flags=0x1 | 0x2, timeout=300, netmask="255.255.255.0"),
        id="persistent-v4-netmask",
    ),
    pytest.param(
        _service(
            _key(10, 17, "2001:db8:9::1", 65535),
            flags=0x1,
            timeout=U32_MAX,
            netmask=_v6_netmask(64),
        ),
        id="persistent-v6-prefix-max-timeout",
    ),
    pytest.param(
        _service(
            SERVICE_KEY_TCP4,
            extra=[
                ("IPVS_SVC_ATTR_PE_NAME", "sip"),
                _stats("IPVS_SVC_ATTR_STATS", _all_counters(5)),
                _stats("IPVS_SVC_ATTR_STATS64", _all_counters(BIG)),
            ],
        ),
        id="pe-name-and-stats",
    ),
]


@pytest.mark.parametrize("attrs", SERVICES)
def test_service_replies_parse_as_pyroute2_reads_them(attrs: list[tuple[str, Any]]) -> None:
    data = _reply(wire.Cmd.NEW_SERVICE, [("IPVS_CMD_ATTR_SERVICE", {"attrs": attrs})])
    expected = reference.to_service(_decoded(data, "IPVS_CMD_ATTR_SERVICE"))
    assert dump.service(dump.reply_nest(data[NLMSG_HEADER:], wire.CmdAttr.SERVICE)) == expected


def _dest(
    address: str,
    *,
    family: int = 2,
    port: int = 8080,
    fwd: int = 0,
    weight: int = 1,
    upper: int = 0,
    lower: int = 0,
    conns: tuple[int, int, int] = (0, 0, 0),
    extra: list[tuple[str, Any]] | None = None,
) -> list[tuple[str, Any]]:
    return [
        ("IPVS_DEST_ATTR_ADDR_FAMILY", family),
        ("IPVS_DEST_ATTR_ADDR", address),
        ("IPVS_DEST_ATTR_PORT", port),
        ("IPVS_DEST_ATTR_FWD_METHOD", fwd),
        ("IPVS_DEST_ATTR_WEIGHT", weight),
        ("IPVS_DEST_ATTR_U_THRESH", upper),
        ("IPVS_DEST_ATTR_L_THRESH", lower),
        ("IPVS_DEST_ATTR_ACTIVE_CONNS", conns[0]),
        ("IPVS_DEST_ATTR_INACT_CONNS", conns[1]),
        ("IPVS_DEST_ATTR_PERSIST_CONNS", conns[2]),
        *(extra or []),
    ]


DESTS = [
    pytest.param(TCP4, _dest("10.9.0.11"), id="masq"),
    pytest.param(TCP4, _dest("10.9.0.12", fwd=1), id="local"),
    pytest.param(TCP4, _dest("10.9.0.13", fwd=2, weight=0), id="tunnel-quiesced"),
    pytest.param(TCP4, _dest("10.9.0.14", fwd=3, weight=65535, upper=1000, lower=10), id="droute-thresholds"),
    pytest.param(TCP4, _dest("10.9.0.15", fwd=0x100 | 3), id="fwd-method-with-other-conn-flags"),
    pytest.param(TCP4, _dest("2001:db8:2::15", family=10, fwd=2), id="v6-tunnel-dest-of-v4-service"),
    pytest.param(TCP6, _dest("192.0.2.50", fwd=2), id="v4-tunnel-dest-of-v6-service"),
    pytest.param(TCP6, _dest("2001:db8:2:0:0::16", family=10, fwd=3), id="v6-address-compressed"),
    pytest.param(FWM4, _dest("10.9.0.18", port=0, fwd=3), id="fwmark-service"),
    pytest.param(
        TCP4,
        _dest(
            "10.9.0.19",
            conns=(U32_MAX, 7, 3),
            extra=[
                _stats("IPVS_DEST_ATTR_STATS", _all_counters(U32_MAX) | {"inbytes": BIG, "outbytes": BIG + 1}),
                _stats("IPVS_DEST_ATTR_STATS64", {f: BIG + i for i, f in enumerate(dump.STATS_FIELDS)}),
            ],
        ),
        id="stats64-preferred-large-values",
    ),
    pytest.param(
        TCP4,
        _dest(
            "10.9.0.20",
            conns=(1, 2, 3),
            extra=[_stats("IPVS_DEST_ATTR_STATS", {f: i + 1 for i, f in enumerate(dump.STATS_FIELDS)})],
        ),
        id="stats32-only",
    ),
    pytest.param(
        TCP4,
        _dest("10.9.0.21", extra=[_stats("IPVS_DEST_ATTR_STATS64", {"conns": 3, "outbps": BIG})]),
        id="stats64-some-counters",
    ),
]


@pytest.mark.parametrize(("service", "attrs"), DESTS)
def test_destination_replies_parse_as_pyroute2_reads_them(
    service: ServiceKey, attrs: list[tuple[str, Any]]
) -> None:
    data = _reply(wire.Cmd.NEW_DEST, [("IPVS_CMD_ATTR_DEST", {"attrs": attrs})])
    nest = _decoded(data, "IPVS_CMD_ATTR_DEST")
    lean = dump.reply_nest(data[NLMSG_HEADER:], wire.CmdAttr.DEST)
    assert dump.destination(service, lean) == reference.to_destination(service, nest)
    assert dump.dest_stats(lean) == reference.to_dest_stats(nest)


def test_large_counters_survive_whole() -> None:
    counters = {f: BIG + i for i, f in enumerate(dump.STATS_FIELDS)}
    attrs = _dest("10.9.0.22", conns=(U32_MAX, 1, 2), extra=[_stats("IPVS_DEST_ATTR_STATS64", counters)])
    data = _reply(wire.Cmd.NEW_DEST, [("IPVS_CMD_ATTR_DEST", {"attrs": attrs})])
    stats = dump.dest_stats(dump.reply_nest(data[NLMSG_HEADER:], wire.CmdAttr.DEST))
    assert stats == DestStats(active_conns=U32_MAX, inactive_conns=1, persistent_conns=2, **counters)


def _nla(kind: int, payload: bytes) -> bytes:
    return struct.pack("=HH", 4 + len(payload), kind) + payload + bytes(-len(payload) % 4)


def u32(kind: int, value: int) -> bytes:
    return _nla(kind, struct.pack("=I", value))


def _kernel_dest_reply(address: str, weight: int) -> bytes:
    """A GET_DEST reply as kernel 6.1's ip_vs_genl_fill_dest lays it out: 16-byte address, tunnel attributes."""
    stats = b"".join(_nla(k, struct.pack("=I" if k not in (4, 5) else "=Q", k)) for k in range(1, 11))
    stats64 = b"".join(_nla(k, struct.pack("=Q", BIG + k)) for k in range(1, 11))
    nest = (
        _nla(1, socket.inet_aton(address) + bytes(12))
        + _nla(2, struct.pack(">H", 8080))
        + u32(3, 0)
        + u32(4, weight)
        + _nla(13, b"\0")  # TUN_TYPE
        + _nla(14, b"\0\0")  # TUN_PORT
        + _nla(15, b"\0\0")  # TUN_FLAGS
        + u32(5, 100)
        + u32(6, 10)
        + u32(7, 1)
        + u32(8, 2)
        + u32(9, 3)
        + _nla(11, struct.pack("=H", 2))
        + _nla(10, stats)
        + _nla(12, stats64)
    )
    attrs = _nla(wire.CmdAttr.DEST, nest)
    return (
        struct.pack("=IHHII", 16 + 4 + len(attrs), FAMILY_ID, netlink.NLM_F_MULTI, 9, 0)
        + bytes([5, 1, 0, 0])
        + attrs
    )


def test_kernel_shaped_replies_read_alike_through_a_learnt_layout() -> None:
    # the kernel sends a whole 16-byte union nf_inet_addr even for IPv4; pyroute2 encodes only 4 bytes
    reader = dump.Reader(wire.CmdAttr.DEST)
    first, second = _kernel_dest_reply("10.9.0.11", 1), _kernel_dest_reply("10.9.0.12", 7)
    read = [reader.values(first[NLMSG_HEADER:]), reader.values(second[NLMSG_HEADER:])]
    assert len(reader.layouts) == 1  # the second reply was read with the layout learnt from the first
    for data, values in zip((first, second), read, strict=True):
        nest = _decoded(data, "IPVS_CMD_ATTR_DEST")
        assert dump.destination(TCP4, values) == reference.to_destination(TCP4, nest)
        assert dump.dest_stats(values) == reference.to_dest_stats(nest)
    assert [dump.destination(TCP4, v).key.address for v in read] == ["10.9.0.11", "10.9.0.12"]
    assert dump.dest_stats(read[1]).outbps == BIG + 10


def test_a_reply_of_another_shape_is_not_read_with_a_learnt_layout() -> None:
    reader = dump.Reader(wire.CmdAttr.DEST)
    kernel = _kernel_dest_reply("10.9.0.11", 1)
    reader.values(kernel[NLMSG_HEADER:])
    same_size = bytearray(kernel)
    same_size[NLMSG_HEADER + 4 + 4 + 20 + 2] = 3  # the PORT attribute now claims to be FWD_METHOD
    with pytest.raises(ValueError, match="without attribute 2"):
        dump.destination(TCP4, reader.values(bytes(same_size[NLMSG_HEADER:])))
    assert len(reader.layouts) == 2


def test_a_reply_without_its_nest_is_refused_by_name() -> None:
    data = _reply(wire.Cmd.NEW_SERVICE, [("IPVS_CMD_ATTR_TIMEOUT_TCP", "00:00:00:01")])
    with pytest.raises(ValueError, match="without its SERVICE attribute, or malformed"):
        dump.reply_nest(data[NLMSG_HEADER:], wire.CmdAttr.SERVICE)


def test_a_destination_without_its_weight_is_refused_by_attribute() -> None:
    attrs = [a for a in _dest("10.9.0.23") if a[0] != "IPVS_DEST_ATTR_WEIGHT"]
    data = _reply(wire.Cmd.NEW_DEST, [("IPVS_CMD_ATTR_DEST", {"attrs": attrs})])
    with pytest.raises(ValueError, match="without attribute 4"):
        dump.destination(TCP4, dump.reply_nest(data[NLMSG_HEADER:], wire.CmdAttr.DEST))


@pytest.mark.parametrize(
    ("blob", "cmd", "attrs"),
    [
        pytest.param(dump.service_dump_request(FAMILY_ID, 9), wire.Cmd.GET_SERVICE, [], id="services"),
        pytest.param(
            dump.dest_dump_request(FAMILY_ID, 9, TCP6),
            wire.Cmd.GET_DEST,
            [
                (
                    "IPVS_CMD_ATTR_SERVICE",
                    {
                        "attrs": [
                            ("IPVS_SVC_ATTR_AF", 10),
                            ("IPVS_SVC_ATTR_PROTOCOL", 6),
                            ("IPVS_SVC_ATTR_ADDR", "2001:db8:1::100"),
                            ("IPVS_SVC_ATTR_PORT", 443),
                        ]
                    },
                )
            ],
            id="dests-of-tcp6",
        ),
        pytest.param(
            dump.dest_dump_request(FAMILY_ID, 9, FWM4),
            wire.Cmd.GET_DEST,
            [("IPVS_CMD_ATTR_SERVICE", {"attrs": [("IPVS_SVC_ATTR_AF", 2), ("IPVS_SVC_ATTR_FWMARK", 7)]})],
            id="dests-of-fwmark",
        ),
    ],
)
def test_dump_requests_match_pyroute2_bytes(blob: bytes, cmd: int, attrs: list[tuple[str, Any]]) -> None:
    msg = ipvsmsg()
    msg["cmd"] = cmd
    msg["version"] = 1
    msg["header"]["type"] = FAMILY_ID
    msg["header"]["flags"] = wire.DUMP
    msg["header"]["sequence_number"] = 9
    msg["header"]["pid"] = 0
    msg["attrs"] = attrs
    msg.encode()
    assert blob == bytes(msg.data)
