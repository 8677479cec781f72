"""Field types shared by the models: addresses, ports, netmasks and interface names, each with its rule."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema


def _ip(value: object) -> str:
    try:
        return ipaddress.ip_address(str(value).strip()).compressed
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 or IPv6 address") from None


def _netmask(value: object) -> str:
    """A dotted IPv4 netmask with contiguous ones, or an IPv6 prefix length written "/N" or N."""
    text = str(value).strip()
    if re.fullmatch(r"/?\d{1,3}", text):
        bits = int(text.lstrip("/"))
        if bits > 128:
            raise ValueError(f"{value!r} is not a prefix length: must be 0..128")
        return f"/{bits}"
    try:
        mask = int(ipaddress.IPv4Address(text))
    except ValueError:
        raise ValueError(f"{value!r} is neither a dotted IPv4 netmask nor an IPv6 prefix length") from None
    inverted = ~mask & 0xFFFFFFFF
    if inverted & (inverted + 1):
        raise ValueError(f"{value!r} is not a contiguous netmask (its one-bits must come first)")
    return text


def netmask_prefix(netmask: str) -> int:
    """Prefix length of a normalised netmask ("255.255.255.0" -> 24, "/64" -> 64)."""
    if netmask.startswith("/"):
        return int(netmask[1:])
    return bin(int(ipaddress.IPv4Address(netmask))).count("1")


def _ifname(value: str) -> str:
    if not re.fullmatch(r"[^\s/:]{1,15}", value):
        raise ValueError(f"{value!r} is not a Linux interface name (1-15 characters, no '/', ':' or spaces)")
    return value


IPAddress = Annotated[
    str,
    BeforeValidator(_ip),
    # maxLength bounds the cost of the CRD's CEL rules that inspect addresses (IPv6 with a zone fits).
    WithJsonSchema({"type": "string", "maxLength": 64, "description": "An IPv4 or IPv6 address."}),
]
Port = Annotated[int, Field(ge=0, le=65535)]
Netmask = Annotated[
    str,
    BeforeValidator(_netmask),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": 15,
            "pattern": r"^(/?[0-9]{1,3}|[0-9]{1,3}(\.[0-9]{1,3}){3})$",
            "description": "Dotted IPv4 netmask, or an IPv6 prefix length like /64.",
        }
    ),
]
InterfaceName = Annotated[
    str,
    AfterValidator(_ifname),
    WithJsonSchema({"type": "string", "pattern": r"^[^\s/:]{1,15}$"}),
]
Weight = Annotated[int, Field(ge=0, le=65535)]
Threshold = Annotated[int, Field(ge=0, le=4294967295)]
Fwmark = Annotated[int, Field(ge=1, le=4294967295)]
