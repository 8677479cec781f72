"""Field types shared by the models: addresses, ports, netmasks and interface names, each with its rule.

Numbers are strict, as the CRD's ``type: integer`` is: ``"80"``, ``80.0`` and ``true`` are not ports
(pydantic's lax mode would take all three). Every text field must be a string before anything looks at
it, so no value is ``str()``-ed or ``repr()``-ed unbounded (:func:`kubelvs.api.problems.shown`).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import BeforeValidator, Field, Strict, WithJsonSchema

from kubelvs.api.problems import shown

ADDRESS_LIMIT = 64  # an IPv6 address with a zone fits; bounds the CRD's CEL rules that inspect addresses


def text(value: object, what: str, limit: int) -> str:
    """``value`` if it is a string of at most ``limit`` characters; else a ValueError naming ``what``."""
    if not isinstance(value, str):
        raise ValueError(f"{shown(value)} is not {what}: it must be a string")
    if len(value) > limit:
        raise ValueError(f"{shown(value)} is not {what}: longer than {limit} characters")
    return value


def _ip(value: object) -> str:
    address = text(value, "an IPv4 or IPv6 address", ADDRESS_LIMIT)
    try:
        return ipaddress.ip_address(address.strip()).compressed
    except ValueError:
        raise ValueError(f"{shown(value)} is not an IPv4 or IPv6 address") from None


def _netmask(value: object) -> str:
    """A dotted IPv4 netmask with contiguous ones, or an IPv6 prefix length written "/N" or N."""
    mask_text = text(value, "a netmask or prefix length", 15)
    if re.fullmatch(r"/?[0-9]{1,3}", mask_text):
        bits = int(mask_text.lstrip("/"))
        if bits > 128:
            raise ValueError(f"{shown(value)} is not a prefix length: must be 0..128")
        return f"/{bits}"
    try:
        mask = int(ipaddress.IPv4Address(mask_text))
    except ValueError:
        raise ValueError(f"{shown(value)} is neither a dotted IPv4 netmask nor an IPv6 prefix length") from None
    inverted = ~mask & 0xFFFFFFFF
    if inverted & (inverted + 1):
        raise ValueError(f"{shown(value)} is not a contiguous netmask (its one-bits must come first)")
    return mask_text


def netmask_prefix(netmask: str) -> int:
    """Prefix length of a normalised netmask ("255.255.255.0" -> 24, "/64" -> 64)."""
    if netmask.startswith("/"):
        return int(netmask[1:])
    return bin(int(ipaddress.IPv4Address(netmask))).count("1")


IFNAMSIZ = 16
# The bytes the kernel's isspace() is true of (lib/ctype.c): the ASCII ones and 0xA0, Latin-1's no-break
# space -- which is also a continuation byte of UTF-8 ('à' is C3 A0), so the kernel refuses those too.
_KERNEL_SPACE = frozenset(b" \t\n\v\f\r\xa0")
_REFUSED_BYTES = _KERNEL_SPACE | frozenset(b"/:\0")


def _ifname(value: object) -> str:
    """An interface name as the kernel's ``dev_valid_name`` takes it, counted in UTF-8 bytes."""
    name = text(value, "a Linux interface name", IFNAMSIZ - 1)  # characters; the bytes are counted below
    try:
        raw = name.encode()
    except UnicodeEncodeError:
        raise ValueError(f"{shown(value)} is not a Linux interface name: not encodable as UTF-8") from None
    if not 1 <= len(raw) <= IFNAMSIZ - 1:
        raise ValueError(f"{shown(value)} is not a Linux interface name: it must be 1..15 bytes (IFNAMSIZ - 1)")
    if name in (".", ".."):
        raise ValueError(f"{shown(value)} is not a Linux interface name: '.' and '..' are refused")
    if _REFUSED_BYTES.intersection(raw):
        raise ValueError(
            f"{shown(value)} is not a Linux interface name: no '/', ':', NUL or whitespace "
            "(the kernel's isspace, which includes byte 0xA0)"
        )
    return name


# The CRD's share of the kernel's rule, in characters (JSON schema cannot count UTF-8 bytes): no "." or
# "..", no '/', ':', NUL, ASCII whitespace or U+00A0; a longer UTF-8 name is the operator's to refuse.
_IFCHAR = r"[^\t\n\v\f\r /:\x00\xa0]"
_IFCHAR_NOT_DOT = r"[^\t\n\v\f\r /:.\x00\xa0]"
IFNAME_PATTERN = f"^({_IFCHAR_NOT_DOT}|{_IFCHAR_NOT_DOT}{_IFCHAR}|{_IFCHAR}{_IFCHAR_NOT_DOT}|{_IFCHAR}{{3,15}})$"

IPAddress = Annotated[
    str,
    BeforeValidator(_ip),
    WithJsonSchema({"type": "string", "maxLength": ADDRESS_LIMIT, "description": "An IPv4 or IPv6 address."}),
]
Port = Annotated[int, Strict(), Field(ge=0, le=65535)]
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
    BeforeValidator(_ifname),
    WithJsonSchema({"type": "string", "maxLength": IFNAMSIZ - 1, "pattern": IFNAME_PATTERN}),
]
Weight = Annotated[int, Strict(), Field(ge=0, le=65535)]
Threshold = Annotated[int, Strict(), Field(ge=0, le=4294967295)]
Fwmark = Annotated[int, Strict(), Field(ge=1, le=4294967295)]
StrictText = Annotated[str, Strict()]
"""A string field: ``7`` or a YAML ``!!binary`` value (bytes) is not text, as the CRD's ``type: string`` says."""


_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")


def _service_name(value: object) -> str:
    """A Service's name: a DNS-1035 label, as the API server wants it (lower case, starts with a letter)."""
    name = text(value, "a Service name", 63)
    if not _DNS_1035_LABEL.fullmatch(name):
        raise ValueError(
            f"{shown(value)} is not a Service name: a DNS-1035 label (lower-case letters, digits and '-', "
            "starting with a letter, ending with a letter or digit, at most 63 characters)"
        )
    return name


def _service_port(value: object) -> int | str:
    """A Service port by number (1..65535) or by name (a DNS-1123 label, as Service port names are)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{shown(value)} is not a Service port: give its number or its name")
    if isinstance(value, int):
        if not 1 <= value <= 65535:
            raise ValueError(f"{value} is not a Service port number: must be 1..65535")
        return value
    name = text(value, "a Service port name", 63)
    if not _DNS_LABEL.fullmatch(name):
        raise ValueError(
            f"{shown(value)} is not a Service port name: a DNS-1123 label (lower-case letters, digits and '-', "
            "at most 63 characters)"
        )
    return name


ServiceName = Annotated[
    str,
    BeforeValidator(_service_name),
    WithJsonSchema({"type": "string", "maxLength": 63, "pattern": r"^[a-z]([-a-z0-9]*[a-z0-9])?$"}),
]
ServicePortRef = Annotated[
    int | str,
    BeforeValidator(_service_port),
    WithJsonSchema({"x-kubernetes-int-or-string": True}),
]
