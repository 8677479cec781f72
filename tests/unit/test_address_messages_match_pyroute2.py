"""The RTM_NEWADDR/RTM_DELADDR requests the address batch packs itself are byte for byte what pyroute2's
encoder makes of the same request, and the kernel's answers are read back per request."""

from __future__ import annotations

import errno
import socket
import struct

import pytest
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg

from kubelvs.kernel import addresses
from kubelvs.kernel.addresses import (
    ADD_FLAGS,
    DEL_FLAGS,
    RTM_DELADDR,
    RTM_NEWADDR,
    acknowledgement,
    address_message,
)


def pyroute2_message(kind: int, flags: int, sequence: int, index: int, address: str, prefixlen: int) -> bytes:
    v6 = ":" in address
    msg = ifaddrmsg()
    msg["family"] = socket.AF_INET6 if v6 else socket.AF_INET
    msg["prefixlen"] = prefixlen
    msg["flags"] = addresses.IFA_F_NODAD if v6 and kind == RTM_NEWADDR else 0
    msg["scope"] = 0
    msg["index"] = index
    msg["attrs"] = [("IFA_LOCAL", address), ("IFA_ADDRESS", address)]
    msg["header"]["type"] = kind
    msg["header"]["flags"] = flags
    msg["header"]["sequence_number"] = sequence
    msg["header"]["pid"] = 0
    msg.encode()
    return bytes(msg.data)


@pytest.mark.parametrize(
    ("kind", "flags", "address", "prefixlen"),
    [
        pytest.param(RTM_NEWADDR, ADD_FLAGS, "192.0.2.100", 32, id="add-v4-vip"),
        pytest.param(RTM_NEWADDR, ADD_FLAGS, "10.9.0.100", 24, id="add-v4-subnet"),
        pytest.param(RTM_NEWADDR, ADD_FLAGS, "2001:db8:1::100", 128, id="add-v6-nodad"),
        pytest.param(RTM_DELADDR, DEL_FLAGS, "192.0.2.100", 32, id="del-v4"),
        pytest.param(RTM_DELADDR, DEL_FLAGS, "2001:db8:1::100", 64, id="del-v6-no-flags"),
    ],
)
def test_packed_request_equals_pyroute2s(kind: int, flags: int, address: str, prefixlen: int) -> None:
    packed = address_message(kind, flags, 7, 3, address, prefixlen)
    assert packed == pyroute2_message(kind, flags, 7, 3, address, prefixlen)
    assert struct.unpack_from("=I", packed)[0] == len(packed)


def error_reply(sequence: int, code: int) -> bytes:
    """An NLMSG_ERROR as the kernel sends it: negative errno, then the request's header."""
    request = address_message(RTM_NEWADDR, ADD_FLAGS, sequence, 3, "192.0.2.1", 32)[:16]
    body = struct.pack("=i", -code) + request
    return struct.pack("=IHHII", 16 + len(body), 2, 0x100, sequence, 0) + body


@pytest.mark.parametrize(
    ("data", "sequence", "expected"),
    [
        pytest.param(error_reply(5, 0), 5, 0, id="ack"),
        pytest.param(error_reply(5, errno.EEXIST), 5, errno.EEXIST, id="exists"),
        pytest.param(
            error_reply(4, 0) + error_reply(5, errno.ENODEV), 5, errno.ENODEV, id="after-an-older-answer"
        ),
        pytest.param(error_reply(4, 0), 5, None, id="not-ours"),
        pytest.param(b"", 5, None, id="empty"),
    ],
)
def test_acknowledgement_is_read_for_its_own_request(data: bytes, sequence: int, expected: int | None) -> None:
    assert acknowledgement(data, sequence) == expected


def test_a_message_shorter_than_its_header_is_refused() -> None:
    with pytest.raises(ValueError, match="shorter than its header"):
        acknowledgement(struct.pack("=IHHII", 4, 2, 0, 5, 0), 5)
