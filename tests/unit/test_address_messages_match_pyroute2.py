"""The RTM_NEWADDR/RTM_DELADDR requests the address batch packs itself are byte for byte what pyroute2's
encoder makes of the same request (their answers are read by the codec's socket: see
test_netlink_socket_reads_acks_errors_and_dumps.py)."""

from __future__ import annotations

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
    if v6 and kind == RTM_NEWADDR:  # nodad preferred_lft 0: never a source address of the node's own packets
        lifetimes = {"ifa_preferred": 0, "ifa_valid": 0xFFFFFFFF, "cstamp": 0, "tstamp": 0}
        msg["attrs"].append(("IFA_CACHEINFO", lifetimes))
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
