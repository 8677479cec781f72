"""Announcing a VIP after it moved: gratuitous ARP (IPv4) and unsolicited neighbour advertisements (IPv6).

Done the way keepalived's ``vrrp_arp.c`` / ``vrrp_ndisc.c`` do it: IPv4 sends ARP *requests* for the VIP
with the VIP as sender and target, from the interface's MAC to the broadcast address, over an AF_PACKET raw
socket; IPv6 sends a neighbour advertisement with the Override flag to all-nodes (ff02::1) over an ICMPv6
raw socket with hop limit 255 (receivers drop NDP with any other). Neighbours that already cache the VIP
replace the old MAC at once; Linux does not *create* entries from these unless ``arp_accept`` is set.

Sockets are opened in the calling thread's network namespace, so this works under ``ip netns exec``.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import struct
import time

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

DEFAULT_INTERVAL = 0.1  # seconds between repeats (keepalived's garp_interval is 0; a little spacing helps)


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
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)) as sock:
        try:
            sock.bind((interface, ETH_P_ARP))
        except OSError as error:
            raise LookupError(f"interface {interface!r} does not exist: {error.strerror}") from None
        _, _, _, hatype, mac = sock.getsockname()
    return mac if hatype == ARPHRD_ETHER and len(mac) == 6 else None


def announce(interface: str, address: str, count: int, interval: float = DEFAULT_INTERVAL) -> None:
    """Send ``count`` announcements of ``address`` on ``interface``, ``interval`` seconds apart."""
    if count < 1:
        return
    mac = hardware_address(interface)
    if mac is None:
        logger.debug("not announcing %s on %s: no Ethernet address", address, interface)
        return
    if ipaddress.ip_address(address).version == 4:
        _send_arp(interface, mac, address, count, interval)
    else:
        _send_na(interface, mac, address, count, interval)
    logger.info("announced %s on %s (%s) %d time(s)", address, interface, mac.hex(":"), count)


def _send_arp(interface: str, mac: bytes, address: str, count: int, interval: float) -> None:
    frame = arp_announcement(mac, address)
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)) as sock:
        sock.bind((interface, ETH_P_ARP))
        for sent in range(count):
            if sent:
                time.sleep(interval)
            sock.send(frame)


def _send_na(interface: str, mac: bytes, address: str, count: int, interval: float) -> None:
    message = neighbour_advertisement(mac, address)
    index = socket.if_nametoindex(interface)
    with socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        try:
            # The VIP as source, like keepalived; it must be on the interface already (added with nodad).
            sock.bind((address, 0, 0, index))
        except OSError as error:
            raise OSError(error.errno, f"cannot send NA from {address} on {interface}: {error.strerror}") from None
        for sent in range(count):
            if sent:
                time.sleep(interval)
            sock.sendto(message, (ALL_NODES, 0, 0, index))
