"""Addresses and services as text, one way everywhere: ``[2001:db8::1]:80``, ``TCP 192.0.2.1:80``, ``FWM 7 IPv6``.

The bottom of the import layers: plain strings in, plain strings out, so the API's messages, the kernel
state's keys, listings and metrics labels name a service the same way.
"""

from __future__ import annotations

import ipaddress


def bracketed(address: str) -> str:
    """An IPv6 address in brackets (only IPv6 text has a colon), an IPv4 address as it is."""
    return f"[{address}]" if ":" in address else address


def with_port(address: str, port: int) -> str:
    """``192.0.2.1:80``, ``[2001:db8::1]:80``."""
    return f"{bracketed(address)}:{port}"


def service_text(protocol: str, address: str, port: int, fwmark: int = 0, ipv6: bool = False) -> str:
    """How kube-lvs names an IPVS service: ``TCP 192.0.2.1:80``, or ``FWM 7`` / ``FWM 7 IPv6`` (ipvsadm's)."""
    if fwmark:
        return f"FWM {fwmark}{' IPv6' if ipv6 else ''}"
    return f"{protocol} {with_port(address, port)}"


def listen_address(text: str, flag: str = "--metrics-address") -> str:
    """One concrete IP address to listen on; ValueError for a name, an empty or an unspecified address
    (prometheus-client's "" fails on glibc, and 0.0.0.0 is every address a host-network pod has, VIPs too)."""
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        raise ValueError(f"{flag} {text!r} is not an IP address") from None
    if address.is_unspecified:
        raise ValueError(f"{flag} {text!r} would listen on every address, VIPs included; name one")
    return address.compressed
