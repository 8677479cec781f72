"""Announcing a VIP after it moved: gratuitous ARP (IPv4) and unsolicited neighbour advertisements (IPv6).

Done the way keepalived's ``vrrp_arp.c`` / ``vrrp_ndisc.c`` do it: IPv4 sends ARP *requests* for the VIP
with the VIP as sender and target, from the interface's MAC to the broadcast address, over an AF_PACKET raw
socket; IPv6 sends a neighbour advertisement with the Override flag to all-nodes (ff02::1) over an ICMPv6
raw socket with hop limit 255 (receivers drop NDP with any other). Neighbours that already cache the VIP
replace the old MAC at once; Linux does not *create* entries from these unless ``arp_accept`` (IPv4) or
``accept_untracked_na`` (IPv6) is set.

Sockets are opened in the calling thread's network namespace, so this works under ``ip netns exec``. Only the
sending is here; when to send (the first announcement, its repeats, their end) is the agent's announcer's.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import struct

logger = logging.getLogger(__name__)

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ARPHRD_ETHER = 1
ARPOP_REQUEST = 1
ND_NEIGHBOR_ADVERT = 136
ND_OPT_TARGET_LL_ADDR = 2
NA_FLAG_OVERRIDE = 0x20000000
ALL_NODES = "ff02::1"
BROADCAST_MAC = b"\xff" * 6
MIN_FRAME = 60  # Ethernet minimum without FCS; short frames are padded like a NIC would


def arp_announcement(mac: bytes, address: str) -> bytes:
    """The Ethernet frame of one gratuitous ARP request for ``address`` from ``mac``."""
    ip = ipaddress.IPv4Address(address).packed
    if len(mac) != 6:
        raise ValueError(f"MAC address {mac.hex(':')!r} is not 6 bytes")
    ethernet = BROADCAST_MAC + mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", ARPHRD_ETHER, ETH_P_IP, 6, 4, ARPOP_REQUEST) + mac + ip + BROADCAST_MAC + ip
    return (ethernet + arp).ljust(MIN_FRAME, b"\0")


def neighbour_advertisement(mac: bytes, address: str) -> bytes:
    """The ICMPv6 body of one unsolicited NA for ``address`` (the kernel fills in the checksum)."""
    target = ipaddress.IPv6Address(address).packed
    if len(mac) != 6:
        raise ValueError(f"MAC address {mac.hex(':')!r} is not 6 bytes")
    header = struct.pack("!BBHI", ND_NEIGHBOR_ADVERT, 0, 0, NA_FLAG_OVERRIDE)
    option = struct.pack("!BB", ND_OPT_TARGET_LL_ADDR, 1) + mac
    return header + target + option


def hardware_address(interface: str) -> bytes | None:
    """The Ethernet MAC of ``interface``, or None if it has none (lo, tunl0); asks the kernel, not /sys."""
    with _packet_socket(interface) as sock:
        _, _, _, hatype, mac = sock.getsockname()
    return mac if hatype == ARPHRD_ETHER and len(mac) == 6 else None


def _packet_socket(interface: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    try:
        sock.bind((interface, ETH_P_ARP))
    except OSError as error:
        sock.close()
        raise LookupError(f"interface {interface!r} does not exist: {error.strerror}") from None
    return sock


class _Link:
    """The sockets one interface's announcements go out on, opened on first use and kept."""

    def __init__(self, interface: str) -> None:
        self.interface = interface
        self.packet = _packet_socket(interface)  # raises LookupError for a missing interface
        _, _, _, hatype, mac = self.packet.getsockname()
        self.mac: bytes | None = mac if hatype == ARPHRD_ETHER and len(mac) == 6 else None
        self.index = socket.if_nametoindex(interface)
        self._icmp6: socket.socket | None = None

    def send(self, address: str) -> bool:
        """One announcement of ``address``; False when the link has no Ethernet address (lo, tunl0)."""
        if self.mac is None:
            return False
        ip = ipaddress.ip_address(address)
        if ip.version == 4:
            self.packet.send(arp_announcement(self.mac, address))
            return True
        # The VIP as source, like keepalived, chosen per message (IPV6_PKTINFO) so one socket serves every VIP;
        # the kernel refuses a source that is not on the node yet (it must be added with nodad first).
        pktinfo = ip.packed + struct.pack("@i", self.index)
        try:
            self.icmp6.sendmsg(
                [neighbour_advertisement(self.mac, address)],
                [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, pktinfo)],
                0,
                (ALL_NODES, 0, 0, self.index),
            )
        except OSError as error:
            raise OSError(
                error.errno, f"cannot send NA from {address} on {self.interface}: {error.strerror}"
            ) from None
        return True

    @property
    def icmp6(self) -> socket.socket:
        if self._icmp6 is None:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.interface.encode())
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)  # receivers drop any other
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.index)
            self._icmp6 = sock
        return self._icmp6

    def close(self) -> None:
        self.packet.close()
        if self._icmp6 is not None:
            self._icmp6.close()


class RawAnnouncements:
    """The ``Announcements`` gateway: one raw socket per interface (and family), opened on first use and kept
    until :meth:`close`, so a round over 1,000 VIPs opens one socket, not 1,000.

    Sockets are opened in the network namespace of the thread that first sends on an interface. Not safe for
    concurrent use: the announcer (:mod:`kubelvs.agent.announcer`) makes every send and close under one lock.
    """

    def __init__(self) -> None:
        self._links: dict[str, _Link] = {}

    def __enter__(self) -> RawAnnouncements:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def send(self, interface: str, address: str) -> bool:
        """One announcement of ``address`` on ``interface``; False if the interface has no Ethernet address.

        Raises LookupError for a missing interface, OSError when the kernel refuses the frame.
        """
        link = self._links.get(interface)
        if link is None:
            link = self._links[interface] = _Link(interface)
        return link.send(address)

    def close(self) -> None:
        """Close every socket; a later :meth:`send` opens them again (in its caller's namespace)."""
        for link in self._links.values():
            link.close()
        self._links.clear()
