"""The one netlink receive loop, against this host's own rtnetlink (no IPVS needed, nothing on the host changes):
acks and errors matched to their requests by sequence number, late answers skipped, dumps read to their end,
dropped replies (ENOBUFS) and reads larger than the buffer reported, and the socket usable after each."""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Iterator

import pytest

from kubelvs.kernel import addresses, netlink

RTM_NEWLINK, RTM_GETLINK = 16, 18
MISSING_INDEX = 0x7FFFFFF0


def getlink(seq: int, index: int = 0, *, flags: int = netlink.NLM_F_REQUEST) -> bytes:
    """RTM_GETLINK of one interface (``index``), or of all of them with NLM_F_DUMP."""
    ifinfomsg = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, 0, 0)
    return netlink.header(netlink.NLMSGHDR.size + len(ifinfomsg), RTM_GETLINK, flags, seq) + ifinfomsg


def links(sock: netlink.Socket) -> list[bytes]:
    seq = sock.sequence()
    code, replies = sock.replies(getlink(seq, flags=netlink.NLM_F_REQUEST | netlink.NLM_F_DUMP), seq, dump=True)
    assert code == 0
    return replies


@pytest.fixture
def route() -> Iterator[netlink.Socket]:
    with netlink.Socket(netlink.NETLINK_ROUTE, timeout=5) as sock:
        yield sock


def test_a_dump_is_read_to_its_end(route: netlink.Socket) -> None:
    assert len(links(route)) == len(socket.if_nameindex())


def test_a_refused_request_answers_its_errno(route: netlink.Socket) -> None:
    seq = route.sequence()
    assert route.request(getlink(seq, MISSING_INDEX), seq) == errno.ENODEV
    seq = route.sequence()
    blob = addresses.address_message(addresses.RTM_DELADDR, addresses.DEL_FLAGS, seq, 1, "192.0.2.77", 32)
    assert route.request(blob, seq) in (errno.EADDRNOTAVAIL, errno.EPERM)  # absent from lo; EPERM unprivileged


def test_the_acks_of_one_batch_come_back_by_sequence_number(route: netlink.Socket) -> None:
    base = route.sequence(3)
    ack = netlink.NLM_F_REQUEST | netlink.NLM_F_ACK
    lo = socket.if_nametoindex("lo")
    route.send(getlink(base, MISSING_INDEX) + getlink(base + 1, lo, flags=ack) + getlink(base + 2, MISSING_INDEX))
    # lo's RTM_NEWLINK answer comes before its ack and is not an ack: skipped
    assert route.acks_until(base + 2) == [(base, errno.ENODEV), (base + 1, 0), (base + 2, errno.ENODEV)]


def test_a_late_answer_to_an_earlier_request_is_skipped(route: netlink.Socket) -> None:
    earlier = route.sequence()
    route.send(getlink(earlier, MISSING_INDEX))  # its ENODEV is left unread
    seq = route.sequence()
    assert (
        route.request(
            getlink(seq, socket.if_nametoindex("lo"), flags=netlink.NLM_F_REQUEST | netlink.NLM_F_ACK), seq
        )
        == 0
    )


def test_sequence_numbers_of_a_batch_are_consecutive_and_never_reused(route: netlink.Socket) -> None:
    base = route.sequence(200)
    assert route.sequence() == base + 200


def test_a_reader_that_fails_mid_dump_leaves_no_dump_running(route: netlink.Socket) -> None:
    # a small buffer makes the kernel spread the dump over several reads (a dump skb is sized to the reader)
    with netlink.Socket(netlink.NETLINK_ROUTE, timeout=5, buffer_size=4096) as sock:

        def fail(_data: memoryview) -> int | None:
            raise ValueError("a reply this reader cannot read")

        seq = sock.sequence()
        with pytest.raises(ValueError, match="cannot read"):
            sock.dump(getlink(seq, flags=netlink.NLM_F_REQUEST | netlink.NLM_F_DUMP), seq, fail)
        assert len(links(sock)) == len(socket.if_nameindex())  # not EBUSY: the failed dump was read to its end


def test_a_read_larger_than_the_buffer_is_reported_and_the_dump_finished() -> None:
    with netlink.Socket(netlink.NETLINK_ROUTE, timeout=5, buffer_size=64) as sock:
        seq = sock.sequence()
        with pytest.raises(netlink.RepliesLost) as lost:
            sock.replies(getlink(seq, flags=netlink.NLM_F_REQUEST | netlink.NLM_F_DUMP), seq, dump=True)
        assert lost.value.errno == errno.EMSGSIZE
        seq = sock.sequence()
        assert sock.request(getlink(seq, MISSING_INDEX), seq) == errno.ENODEV  # fits: 52 bytes


def test_dropped_acks_are_reported_with_the_ones_that_arrived() -> None:
    with netlink.Socket(netlink.NETLINK_ROUTE, timeout=5) as sock:
        sock._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # the kernel's minimum: a few replies
        base = sock.sequence(200)
        sock.send(b"".join(getlink(base + i, MISSING_INDEX) for i in range(200)))
        with pytest.raises(netlink.RepliesLost) as lost:
            sock.acks_until(base + 199)
        assert lost.value.errno == errno.ENOBUFS
        arrived = lost.value.replies
        assert 0 < len(arrived) < 200
        assert all(base <= seq < base + 200 and code == errno.ENODEV for seq, code in arrived)
        seq = sock.sequence()
        assert sock.request(getlink(seq, MISSING_INDEX), seq) == errno.ENODEV  # the socket goes on
