"""Interface addresses of the current network namespace over rtnetlink (pyroute2): VIPs on a director's
interface, on ``lo`` for DR backends and on ``tunl0`` for TUN backends, plus the facts the planner needs
(default-route interface, every local address, the subnet each interface reaches).

Adding a present address and removing a missing one both succeed, so the reconciler can retry blindly.
Every read and every :meth:`NetlinkAddresses.batch` opens its own sockets, so the adapter always acts on the
namespace of the calling thread (``ip netns exec`` or ``setns`` both work). Writes go through a batch: one
netlink socket and one index look-up per interface for its block, not one socket per address. Announcing a
VIP is not the gateway's: :mod:`.arp` sends, the agent's announcer decides when. The two write shapes
(RTM_NEWADDR, RTM_DELADDR) are packed here on :mod:`.netlink`'s headers and sent over its socket, because
pyroute2's per-request cost dominated a large bind (figures: benchmarks/README.md); reads stay with pyroute2.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pyroute2 import IPRoute

from kubelvs.kernel import netlink
from kubelvs.netstate import AddressKey

logger = logging.getLogger(__name__)

# IPv6 addresses go on without duplicate address detection: a VIP is shared and the Lease says who holds it;
# DAD would keep it tentative ~1 s after a failover, and mark it dadfailed if the old holder still answered for it
IFA_F_NODAD = 0x02
# ... and deprecated (preferred lifetime 0, valid forever): still local and answered for, but never picked as the
# source of the node's own packets. Otherwise the newest address wins source selection's tie on its link, and a
# director's IPv6 VIP became the outer source of its ip6ip6 (TUN) packets, which a real server holding that VIP
# drops (ip6_tnl_rcv_ctl refuses a local remote). An IPv4 VIP is a secondary address, never the source either.
IFA_CACHEINFO = 6
IPV6_VIP_LIFETIMES = struct.Struct("=IIII").pack(0, 0xFFFFFFFF, 0, 0)  # preferred, valid, cstamp, tstamp
GONE = {errno.EADDRNOTAVAIL, errno.ENOENT, errno.ESRCH}

RTM_NEWADDR, RTM_DELADDR = 20, 21
# what ``ip addr add`` sends: EEXIST if the address is there
ADD_FLAGS = netlink.NLM_F_REQUEST | netlink.NLM_F_ACK | netlink.NLM_F_EXCL | netlink.NLM_F_CREATE
DEL_FLAGS = netlink.NLM_F_REQUEST | netlink.NLM_F_ACK
IFA_ADDRESS, IFA_LOCAL = 1, 2
IFADDRMSG = struct.Struct("=BBBBI")  # family, prefix length, flags, scope, interface index
ACK_TIMEOUT = 10.0  # the kernel answers every request at once; a silent socket is a bug, not a wait
ACK_BUFFER = 1 << 16  # an answer echoes one small request


class InterfaceNotFound(LookupError):
    """The named interface does not exist in this network namespace."""


def _text(message: Any) -> str:
    # For IPv4 IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on point-to-point links.
    value = message.get("IFA_LOCAL") or message.get("IFA_ADDRESS")
    return ipaddress.ip_address(value).compressed


def _index(ipr: IPRoute, interface: str) -> int | None:
    found = ipr.link_lookup(ifname=interface)
    return int(found[0]) if found else None


class NetlinkAddresses:
    """The ``Addresses`` gateway over rtnetlink in the current network namespace."""

    def list(self, interfaces: Sequence[str]) -> set[AddressKey]:
        """Every address on the given interfaces (all of them, ours or not); missing interfaces have none."""
        found: set[AddressKey] = set()
        with IPRoute() as ipr:
            for name in interfaces:
                index = _index(ipr, name)
                if index is None:
                    continue
                for message in ipr.get_addr(index=index):
                    found.add(AddressKey(name, _text(message), int(message["prefixlen"])))
        return found

    @contextmanager
    def batch(self) -> Iterator[NetlinkBatch]:
        """Many adds and removals over one netlink socket opened for the block."""
        with AddressSocket() as netlink:
            yield NetlinkBatch(netlink)

    def default_interface(self, family: int) -> str | None:
        """Interface of the main table's preferred default route of ``family`` (lowest metric)."""
        if family not in (socket.AF_INET, socket.AF_INET6):
            raise ValueError(f"family {family} is neither AF_INET nor AF_INET6")
        with IPRoute() as ipr:
            routes = sorted(ipr.get_default_routes(family=family), key=lambda r: r.get("RTA_PRIORITY") or 0)
            for route in routes:
                index = route.get("RTA_OIF")
                if index is None and route.get("RTA_MULTIPATH"):
                    index = route.get("RTA_MULTIPATH")[0]["oif"]
                if index is None:
                    continue  # blackhole/unreachable defaults have no interface
                for link in ipr.link("get", index=index):
                    return str(link.get("IFLA_IFNAME"))
        return None

    def local_addresses(self) -> set[str]:
        """Every address on every interface of this namespace, in compressed text form."""
        with IPRoute() as ipr:
            return {_text(message) for message in ipr.get_addr()}

    def subnets(self) -> set[tuple[str, str]]:
        """``(interface, network)`` per address with a shorter prefix than a host's (VIPs are /32, /128)."""
        with IPRoute() as ipr:
            names = {link["index"]: str(link.get("IFLA_IFNAME")) for link in ipr.get_links()}
            found: set[tuple[str, str]] = set()
            for message in ipr.get_addr():
                address = ipaddress.ip_interface(f"{_text(message)}/{message['prefixlen']}")
                if address.network.prefixlen < address.max_prefixlen and message["index"] in names:
                    found.add((names[message["index"]], str(address.network)))
            return found


def address_message(kind: int, flags: int, sequence: int, index: int, address: str, prefixlen: int) -> bytes:
    """One RTM_NEWADDR/RTM_DELADDR request as ``ip addr add|del ADDRESS/PREFIXLEN dev INDEX`` sends it: the
    address as IFA_LOCAL and IFA_ADDRESS, scope global, IPv6 added without duplicate address detection and
    deprecated (``nodad preferred_lft 0``)."""
    ip = ipaddress.ip_address(address)
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    flags_of_address = IFA_F_NODAD if ip.version == 6 and kind == RTM_NEWADDR else 0
    body = IFADDRMSG.pack(family, prefixlen, flags_of_address, 0, index)
    body += netlink.nla(IFA_LOCAL, ip.packed) + netlink.nla(IFA_ADDRESS, ip.packed)
    if flags_of_address:
        body += netlink.nla(IFA_CACHEINFO, IPV6_VIP_LIFETIMES)
    return netlink.header(netlink.NLMSGHDR.size + len(body), kind, flags, sequence) + body


class AddressSocket:
    """A NETLINK_ROUTE socket of the calling thread's namespace that sends address requests one at a time
    and waits for each one's answer, so every address gets its own result."""

    def __init__(self) -> None:
        self._netlink = netlink.Socket(netlink.NETLINK_ROUTE, timeout=ACK_TIMEOUT, buffer_size=ACK_BUFFER)

    def __enter__(self) -> AddressSocket:
        return self

    def __exit__(self, *_: object) -> None:
        self._netlink.close()

    def request(self, kind: int, flags: int, index: int, address: str, prefixlen: int) -> int:
        """Send one request; the errno the kernel answers (0: done)."""
        sequence = self._netlink.sequence()
        return self._netlink.request(address_message(kind, flags, sequence, index, address, prefixlen), sequence)


class NetlinkBatch:
    """The netlink socket of a :meth:`NetlinkAddresses.batch` block."""

    def __init__(self, netlink: AddressSocket) -> None:
        self._netlink = netlink
        self._indexes: dict[str, int | None] = {}  # one look-up per interface, a missing one included

    def _index(self, interface: str) -> int | None:
        if interface not in self._indexes:
            try:
                self._indexes[interface] = socket.if_nametoindex(interface)  # asks the calling thread's namespace
            except OSError:
                self._indexes[interface] = None
        return self._indexes[interface]

    def add(self, key: AddressKey) -> bool:
        """Put the address on its interface; False if it was there already. Raises for this key only."""
        address = ipaddress.ip_address(key.address)
        if not 0 <= key.prefixlen <= address.max_prefixlen:
            raise ValueError(f"address {key.address}: prefix length {key.prefixlen} is out of range")
        index = self._index(key.interface)
        if index is None:
            raise InterfaceNotFound(f"cannot add {key.address}/{key.prefixlen}: no interface {key.interface!r}")
        error = self._netlink.request(RTM_NEWADDR, ADD_FLAGS, index, address.compressed, key.prefixlen)
        if error == errno.EEXIST:
            return False
        if error:
            where = f"{key.address}/{key.prefixlen} on {key.interface}"
            raise OSError(error, f"cannot add {where}: {os.strerror(error)}")
        logger.debug("added %s/%d on %s", key.address, key.prefixlen, key.interface)
        return True

    def remove(self, key: AddressKey) -> bool:
        """Take the address off its interface; False if it (or the interface) was gone already."""
        address = ipaddress.ip_address(key.address)
        index = self._index(key.interface)
        if index is None:
            return False
        error = self._netlink.request(RTM_DELADDR, DEL_FLAGS, index, address.compressed, key.prefixlen)
        if error in GONE:
            return False
        if error:
            where = f"{key.address}/{key.prefixlen} from {key.interface}"
            raise OSError(error, f"cannot remove {where}: {os.strerror(error)}")
        logger.debug("removed %s/%d from %s", key.address, key.prefixlen, key.interface)
        return True
