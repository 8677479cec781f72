"""The packer's other half: splitting replies into acks and attributes (:mod:`kubelvs.kernel.netlink`), and
refusing values the kernel would."""

from __future__ import annotations

import struct

import pytest

from kubelvs.kernel import ipvs_wire as wire
from kubelvs.kernel import netlink
from kubelvs.netstate import (
    AddService,
    DeleteDestination,
    DestKey,
    Family,
    Proto,
    Service,
    ServiceKey,
)

TCP4 = ServiceKey(Family.INET, Proto.TCP, "192.0.2.100", 80)


def _ack(seq: int, errno: int) -> bytes:
    # NLMSG_ERROR: header, then -errno and (NETLINK_CAP_ACK) the request's header only
    return struct.pack("=IHHII", 36, netlink.NLMSG_ERROR, 0x100, seq, 99) + struct.pack("=i", -errno) + bytes(16)


def test_acks_of_one_read_come_apart_with_their_sequence_numbers():
    data = _ack(7, 0) + _ack(8, 17) + _ack(9, 2)
    found = [(seq, netlink.error_code(payload)) for kind, _, seq, payload in netlink.messages(data)]
    assert found == [(7, 0), (8, 17), (9, 2)]


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        pytest.param(struct.pack("=IHHII", 8, 2, 0, 8, 0), "shorter than its header", id="shorter-than-header"),
        pytest.param(struct.pack("=IHHII", 36, 2, 0, 8, 0), "runs past the read", id="past-the-read"),
        pytest.param(b"\0" * 6, "inside a message header", id="cut-header"),
    ],
)
def test_a_malformed_message_after_good_ones_is_refused(tail, message):
    split = netlink.messages(_ack(7, 0) + tail)
    assert next(split)[2] == 7
    with pytest.raises(ValueError, match=message):
        next(split)


def test_attributes_of_a_daemon_reply_are_found_by_type():
    nested = wire.start_daemon_message(30, 1, "backup", "eth1", 9)[20 + 4 :]  # past headers and the nest's NLA
    attrs = netlink.attributes(nested)
    assert netlink.u32(attrs[wire.DaemonAttr.STATE]) == 2
    assert netlink.asciiz(attrs[wire.DaemonAttr.MCAST_IFN]) == "eth1"
    assert netlink.u32(attrs[wire.DaemonAttr.SYNC_ID]) == 9


@pytest.mark.parametrize(
    ("family", "prefix"),
    [
        pytest.param(Family.INET, 32, id="v4-32"),
        pytest.param(Family.INET, 24, id="v4-24"),
        pytest.param(Family.INET, 0, id="v4-0"),
        pytest.param(Family.INET6, 128, id="v6-128"),
        pytest.param(Family.INET6, 48, id="v6-48"),
    ],
)
def test_netmask_round_trips(family, prefix):
    payload = wire.netmask_attr(family, prefix)[4:]
    assert wire.netmask_prefix(family, payload) == prefix


@pytest.mark.parametrize(
    ("op", "message"),
    [
        pytest.param(AddService(Service(TCP4, netmask=33)), "IPv4 persistence netmask", id="v4-netmask"),
        pytest.param(
            AddService(Service(ServiceKey(Family.INET6, Proto.TCP, "2001:db8::1", 80), netmask=0)),
            "IPv6 persistence netmask",
            id="v6-netmask",
        ),
        pytest.param(
            AddService(Service(ServiceKey(Family.INET, Proto.TCP, "192.0.2.256", 80))), "illegal IP", id="address"
        ),
        pytest.param(
            DeleteDestination(DestKey(TCP4, "10.9.0.1", 70000)), "port 70000 of 10.9.0.1 is outside", id="port"
        ),
        pytest.param(AddService(Service(TCP4, scheduler="wlcé")), "ascii", id="scheduler-not-ascii"),
    ],
)
def test_bad_values_fail_before_anything_is_sent(op, message):
    with pytest.raises((ValueError, OSError), match=message):
        wire.op_message(op, 30, 1)


def test_ops_are_described_by_what_they_touch():
    assert wire.describe(AddService(Service(TCP4, scheduler="rr"))) == "add service TCP 192.0.2.100:80 (rr)"
    assert (
        wire.describe(DeleteDestination(DestKey(TCP4, "10.9.0.1", 8080)))
        == "delete destination TCP 192.0.2.100:80 -> 10.9.0.1:8080"
    )


@pytest.mark.parametrize(
    "op",
    [
        pytest.param(AddService(Service(TCP4)), id="new-service"),
        pytest.param(DeleteDestination(DestKey(TCP4, "10.9.0.1", 80)), id="del-dest"),
    ],
)
def test_silent_ops_differ_only_in_the_ack_flag_and_with_ack_restores_it(op):
    acked, silent = wire.op_message(op, 30, 5), wire.op_message(op, 30, 5, ack=False)
    (acked_flags,), (silent_flags,) = struct.unpack_from("=H", acked, 6), struct.unpack_from("=H", silent, 6)
    assert acked_flags & netlink.NLM_F_ACK
    assert silent_flags == acked_flags & ~netlink.NLM_F_ACK
    assert silent[:6] == acked[:6] and silent[8:] == acked[8:]
    assert wire.with_ack(silent) == acked
