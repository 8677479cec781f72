"""Object names derived from what the kernel keys a service and a destination by.

``tcp-192-168-13-202-80`` for a service, ``fwm-7`` / ``fwm-8-ipv6`` for fwmark services and
``<service>-<rip>-<port>`` for a real server: stable, so importing the same rules twice gives the same
objects, and valid Kubernetes names (lower-case alphanumerics and '-').
"""

from __future__ import annotations

from kubelvs.netstate import DestKey, Family, ServiceKey


def _address(address: str) -> str:
    return address.lower().replace(".", "-").replace(":", "-")


def service_name(key: ServiceKey) -> str:
    """``tcp-192-0-2-1-80``, ``udp-2001-db8--1-53``, ``fwm-7``, ``fwm-8-ipv6``."""
    if key.fwmark:
        return f"fwm-{key.fwmark}" + ("-ipv6" if key.family == Family.INET6 else "")
    return f"{key.protocol.name.lower()}-{_address(key.address)}-{key.port}"


def destination_name(key: DestKey) -> str:
    """``<service name>-<rip>-<port>``."""
    return f"{service_name(key.service)}-{_address(key.address)}-{key.port}"
