"""A GET_DEST dump read whole (one checked ``struct`` pass over same-shaped replies) gives exactly what reading it
reply by reply gives, and anything that is not n whole replies of the learnt shape to this request is read reply by
reply. Replies are laid out as kernel 6.1's ``ip_vs_genl_fill_dest`` lays them out; the VM test
``tests/kernel/test_ipvs_dump_reads_what_pyroute2_and_ipvsadm_read.py`` reads real ones."""

from __future__ import annotations

import errno
import socket
import struct

import pytest

from kubelvs.kernel import ipvs_dump as dump
from kubelvs.kernel import ipvs_wire as wire
from kubelvs.kernel import netlink
from kubelvs.netstate import Destination, DestKey, Family, Proto, Service, ServiceKey

FAMILY_ID = 0x25
SEQ = 77
TCP4 = ServiceKey(Family.INET, Proto.TCP, "192.0.2.100", 80)
TCP6 = ServiceKey(Family.INET6, Proto.TCP, "2001:db8::100", 443)


def _nla(kind: int, payload: bytes) -> bytes:
    return struct.pack("=HH", 4 + len(payload), kind) + payload + bytes(-len(payload) % 4)


def _u32(kind: int, value: int) -> bytes:
    return _nla(kind, struct.pack("=I", value))


def _reply(
    address: str,
    *,
    port: int = 8080,
    fwd: int = 0,
    weight: int = 1,
    upper: int = 0,
    lower: int = 0,
    seq: int = SEQ,
    family_attr: int = 11,
) -> bytes:
    family = Family.INET6 if ":" in address else Family.INET
    raw = socket.inet_pton(family, address)
    stats = b"".join(_nla(k, struct.pack("=I" if k not in (4, 5) else "=Q", k)) for k in range(1, 11))
    stats64 = b"".join(_nla(k, struct.pack("=Q", 2**40 + k)) for k in range(1, 11))
    nest = (
        _nla(1, raw + bytes(16 - len(raw)))
        + _nla(2, struct.pack(">H", port))
        + _u32(3, fwd)
        + _u32(4, weight)
        + _nla(13, b"\0")  # TUN_TYPE
        + _nla(14, b"\0\0")  # TUN_PORT
        + _nla(15, b"\0\0")  # TUN_FLAGS
        + _u32(5, upper)
        + _u32(6, lower)
        + _u32(7, 3)
        + _u32(8, 4)
        + _u32(9, 5)
        + _nla(family_attr, struct.pack("=H", family))
        + _nla(10 | 0x8000, stats)
        + _nla(12 | 0x8000, stats64)
    )
    attrs = _nla(wire.CmdAttr.DEST | 0x8000, nest)
    payload = bytes([wire.Cmd.NEW_DEST, 1, 0, 0]) + attrs
    return struct.pack("=IHHII", 16 + len(payload), FAMILY_ID, netlink.NLM_F_MULTI, seq, 4321) + payload


def _done(seq: int = SEQ, code: int = 0) -> bytes:
    kind = netlink.NLMSG_ERROR if code else netlink.NLMSG_DONE
    return struct.pack("=IHHIIi", 20, kind, netlink.NLM_F_MULTI, seq, 4321, -code)


def _one_by_one(service: ServiceKey, data: bytes) -> dict[DestKey, Destination]:
    reader = dump.Reader(wire.CmdAttr.DEST)
    found = {}
    for _kind, _flags, _seq, payload in netlink.messages(data):
        dest = dump.destination(service, reader.values(payload))
        found[dest.key] = dest
    return found


def _whole(
    reads: dump.DestinationReads, service: ServiceKey, *chunks: bytes
) -> tuple[dict[DestKey, Destination], int]:
    found: dict[DestKey, Destination] = {}
    for chunk in chunks:
        code = reads.read(memoryview(chunk), FAMILY_ID, SEQ, service, found)
        if code is not None:
            return found, code
    raise AssertionError("the dump did not end")


SHAPES = [
    pytest.param(
        TCP4,
        [_reply(f"10.9.0.{i}", weight=i, fwd=i % 4, upper=i * 10, lower=i) for i in range(1, 11)],
        id="ten-v4-every-forwarding",
    ),
    pytest.param(TCP4, [_reply("10.9.0.1", port=65535, weight=65535)], id="one-max-port-and-weight"),
    pytest.param(TCP6, [_reply(f"2001:db8:9::{i}", fwd=2) for i in range(1, 4)], id="v6"),
    pytest.param(TCP6, [_reply("198.51.100.7", fwd=2), _reply("198.51.100.8", fwd=2)], id="v4-tun-dests-in-v6"),
]


@pytest.mark.parametrize(("service", "replies"), SHAPES)
def test_a_second_dump_read_whole_equals_reply_by_reply(service: ServiceKey, replies: list[bytes]) -> None:
    data = b"".join(replies)
    expected = _one_by_one(service, data)
    reads = dump.DestinationReads()
    first, code = _whole(reads, service, data, _done())
    assert (first, code) == (expected, 0)
    assert reads.batch is not None  # learnt from the first read
    second, code = _whole(reads, service, data, _done())
    assert (second, code) == (expected, 0)
    assert list(second) == list(expected)  # in the kernel's order


def test_the_whole_read_is_the_one_that_built_the_values() -> None:
    reads = dump.DestinationReads()
    _whole(reads, TCP4, _reply("10.9.0.1"), _done())
    batch = reads.batch
    assert batch is not None
    data = memoryview(b"".join(_reply(f"10.9.0.{i}", weight=i) for i in range(1, 4)))
    assert [row[3] for row in batch.rows(data, SEQ)] == [1, 2, 3]
    assert batch.rows(data, SEQ + 1) == []  # another request's replies


@pytest.mark.parametrize(
    ("chunk", "read"),
    [
        pytest.param(
            _reply("10.9.0.2", seq=SEQ - 1) + _reply("10.9.0.3"),
            ["10.9.0.3"],
            id="a-late-reply-to-an-earlier-request",
        ),
        pytest.param(
            _reply("10.9.0.2", family_attr=16) + _reply("10.9.0.3"),
            ["10.9.0.2", "10.9.0.3"],  # without ADDR_FAMILY a destination has its service's family
            id="an-attribute-of-another-type",
        ),
        pytest.param(_reply("10.9.0.3") + _done(), ["10.9.0.3"], id="replies-and-done-in-one-read"),
    ],
)
def test_a_read_that_is_not_whole_replies_of_the_shape_is_read_reply_by_reply(
    chunk: bytes, read: list[str]
) -> None:
    reads = dump.DestinationReads()
    _whole(reads, TCP4, _reply("10.9.0.1"), _done())
    found, code = _whole(reads, TCP4, chunk, _done())
    assert code == 0
    assert [key.address for key in found] == read


def test_a_reply_without_a_weight_is_refused_by_attribute_after_a_batch_was_learnt() -> None:
    reads = dump.DestinationReads()
    _whole(reads, TCP4, _reply("10.9.0.1"), _done())
    bad = _reply("10.9.0.3").replace(_u32(4, 1), _u32(16, 1), 1)
    with pytest.raises(ValueError, match="without attribute 4"):
        _whole(reads, TCP4, bad, _done())


def test_the_error_reply_of_a_vanished_service_ends_the_dump_with_its_errno() -> None:
    found, code = _whole(dump.DestinationReads(), TCP4, _done(code=errno.ESRCH))
    assert (found, code) == ({}, errno.ESRCH)


def _service_reply(
    address: str = "",
    *,
    fwmark: int = 0,
    port: int = 80,
    protocol: int = 6,
    scheduler: str = "wrr",
    flags: int = 2,
    timeout: int = 0,
    netmask: bytes = b"\xff\xff\xff\xff",
    seq: int = SEQ,
) -> bytes:
    """A GET_SERVICE reply as kernel 6.1's ip_vs_genl_fill_service lays it out (HASHED set by the kernel)."""
    family = Family.INET6 if ":" in address else Family.INET
    stats = b"".join(_nla(k, struct.pack("=I" if k not in (4, 5) else "=Q", k)) for k in range(1, 11))
    if fwmark:
        key = _nla(1, struct.pack("=H", family)) + _u32(5, fwmark)
    else:
        raw = socket.inet_pton(family, address)
        key = (
            _nla(1, struct.pack("=H", family))
            + _nla(2, struct.pack("=H", protocol))
            + _nla(3, raw + bytes(16 - len(raw)))
            + _nla(4, struct.pack(">H", port))
        )
    nest = (
        key
        + _nla(6, scheduler.encode() + b"\0")
        + _nla(7, struct.pack("=II", flags, 0xFFFFFFFF))
        + _u32(8, timeout)
        + _nla(9, netmask)
        + _nla(10, stats)
        + _nla(12, stats)
    )
    payload = bytes([wire.Cmd.NEW_SERVICE, 1, 0, 0]) + _nla(wire.CmdAttr.SERVICE, nest)
    return struct.pack("=IHHII", 16 + len(payload), FAMILY_ID, netlink.NLM_F_MULTI, seq, 4321) + payload


def _services_one_by_one(data: bytes) -> dict[ServiceKey, Service]:
    reader = dump.Reader(wire.CmdAttr.SERVICE)
    found: dict[ServiceKey, Service] = {}
    for _kind, _flags, _seq, payload in netlink.messages(data):
        read = dump.service(reader.values(payload))
        found[read.key] = read
    return found


def _services_whole(reads: dump.ServiceReads, *chunks: bytes) -> dict[ServiceKey, Service]:
    found: dict[ServiceKey, Service] = {}
    for chunk in chunks:
        code = reads.read(memoryview(chunk), FAMILY_ID, SEQ, found)
        if code is not None:
            assert code == 0
            return found
    raise AssertionError("the dump did not end")


SERVICE_SHAPES = [
    pytest.param([_service_reply(f"192.0.2.{i}") for i in range(1, 6)], id="five-tcp4-wrr"),
    pytest.param(
        [_service_reply("192.0.2.1", flags=3, timeout=300, netmask=b"\xff\xff\xff\x00", scheduler="lblcr")],
        id="persistent-v4-netmask-24-odd-scheduler-length",
    ),
    pytest.param(
        [_service_reply(f"2001:db8::{i}", port=443, protocol=17, netmask=struct.pack("=I", 64)) for i in (1, 2)],
        id="udp6-prefix-64",
    ),
    pytest.param([_service_reply("198.51.100.1", protocol=132, flags=0x1C, scheduler="sh")], id="sctp-sh-flags"),
]


@pytest.mark.parametrize("replies", SERVICE_SHAPES)
def test_a_second_service_dump_read_whole_equals_reply_by_reply(replies: list[bytes]) -> None:
    data = b"".join(replies)
    expected = _services_one_by_one(data)
    reads = dump.ServiceReads()
    assert _services_whole(reads, data, _done()) == expected
    assert reads.batch is not None
    assert reads.batch.rows(memoryview(data), SEQ)  # the second read goes through the learnt batch
    again = _services_whole(reads, data, _done())
    assert again == expected and list(again) == list(expected)


def test_fwmark_services_among_others_are_read_reply_by_reply() -> None:
    reads = dump.ServiceReads()
    plain = _service_reply("192.0.2.1")
    _services_whole(reads, plain, _done())
    mixed = plain + _service_reply(fwmark=7) + _service_reply(fwmark=8, scheduler="rr")
    found = _services_whole(reads, mixed, _done())
    assert found == _services_one_by_one(mixed)
    assert sorted(key.fwmark for key in found) == [0, 7, 8]
    fwmarks_only = _service_reply(fwmark=7) + _service_reply(fwmark=9)
    assert _services_whole(dump.ServiceReads(), fwmarks_only, _done()) == _services_one_by_one(fwmarks_only)


def test_the_end_of_an_earlier_dump_does_not_end_this_one() -> None:
    found, code = _whole(dump.DestinationReads(), TCP4, _done(seq=SEQ - 1), _reply("10.9.0.1"), _done())
    assert code == 0
    assert [key.address for key in found] == ["10.9.0.1"]
