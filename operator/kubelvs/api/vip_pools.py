"""VIPPool: the cluster-scoped object LoadBalancer Services' addresses come from (MetalLB's IPAddressPool).

An entry of ``spec.addresses`` is a CIDR (``192.0.2.0/26``, host bits zero), a ``first-last`` range of one
family, or a single address; entries of one pool may not overlap. Every address is usable, network and
broadcast ones included (a VIP is no host on a subnet; MetalLB's default too).
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, field_validator

from kubelvs.api.fields import StrictText
from kubelvs.api.label_selectors import LabelSelector
from kubelvs.api.models import Condition, Model
from kubelvs.api.problems import shown

MAX_ADDRESS_ENTRIES = 64
INT64_MAX = 2**63 - 1  # status counts are int64 on the wire; an IPv6 /64 holds more


@dataclass(frozen=True, order=True)
class AddressRange:
    """One entry of a pool: the addresses ``first..last`` (as integers) of one family."""

    version: int
    first: int
    last: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def __contains__(self, address: object) -> bool:
        return (
            isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address)
            and address.version == self.version
            and self.first <= int(address) <= self.last
        )

    def overlaps(self, other: AddressRange) -> bool:
        return self.version == other.version and self.first <= other.last and other.first <= self.last

    def text(self) -> str:
        make = ipaddress.IPv4Address if self.version == 4 else ipaddress.IPv6Address
        return f"{make(self.first)}-{make(self.last)}"


def parse_range(text: str) -> AddressRange:
    """``192.0.2.0/26``, ``192.0.2.10-192.0.2.20`` or ``192.0.2.7``; ValueError saying why not."""
    text = text.strip()
    try:
        if "/" in text:
            network = ipaddress.ip_network(text, strict=True)
            return AddressRange(network.version, int(network.network_address), int(network.broadcast_address))
        if "-" in text:
            low_text, high_text = (part.strip() for part in text.split("-", 1))
            low, high = ipaddress.ip_address(low_text), ipaddress.ip_address(high_text)
            if low.version != high.version:
                raise ValueError(f"{shown(text)} mixes IPv{low.version} and IPv{high.version}")
            if int(low) > int(high):
                raise ValueError(f"{shown(text)} ends before it starts")
            return AddressRange(low.version, int(low), int(high))
        address = ipaddress.ip_address(text)
    except ValueError as error:
        message = str(error)
        if "mixes" in message or "ends before" in message:
            raise
        raise ValueError(
            f"{shown(text)} is no CIDR (host bits zero), first-last range or address: {message}"
        ) from None
    return AddressRange(address.version, int(address), int(address))


def _range_text(value: str) -> str:
    parse_range(value)
    return value


PoolEntry = Annotated[StrictText, Field(min_length=1, max_length=100), AfterValidator(_range_text)]


class VIPPoolSpec(Model):
    """Addresses LoadBalancer Services may get, and which Services may draw from them."""

    addresses: list[PoolEntry] = Field(min_length=1, max_length=MAX_ADDRESS_ENTRIES)
    """CIDRs (192.0.2.0/26), first-last ranges (192.0.2.100-192.0.2.120) or single addresses, IPv4 and IPv6;
    entries may not overlap."""
    auto_assign: StrictBool = True
    """Whether Services that request no pool or address get addresses from this pool."""
    service_selector: LabelSelector | None = None
    """Services (by their labels) that may draw from this pool; omit for every Service."""
    namespace_selector: LabelSelector | None = None
    """Namespaces (by their labels) whose Services may draw from this pool; omit for every namespace."""

    @field_validator("addresses")
    @classmethod
    def _disjoint(cls, entries: list[str]) -> list[str]:
        ranges = [parse_range(entry) for entry in entries]
        ordered = sorted(zip(ranges, entries, strict=True))
        for (low, low_text), (high, high_text) in itertools.pairwise(ordered):
            if low.overlaps(high):
                raise ValueError(f"{shown(low_text)} and {shown(high_text)} overlap")
        return entries

    @functools.cached_property
    def ranges(self) -> tuple[AddressRange, ...]:
        return tuple(sorted(parse_range(entry) for entry in self.addresses))


class VIPPoolStatus(Model):
    """What the operator reports of a pool."""

    model_config = ConfigDict(extra="allow")
    observed_generation: int | None = None
    """The metadata.generation this status describes."""
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    """Accepted: the pool is valid and overlaps no other pool."""
    allocated_ipv4: int | None = Field(None, alias="allocatedIPv4")
    """IPv4 addresses held by Services."""
    available_ipv4: int | None = Field(None, alias="availableIPv4")
    """IPv4 addresses still free."""
    allocated_ipv6: int | None = Field(None, alias="allocatedIPv6")
    """IPv6 addresses held by Services."""
    available_ipv6: int | None = Field(None, alias="availableIPv6")
    """IPv6 addresses still free (at most 2^63-1, the field's bound)."""


class PoolMeta(BaseModel):
    """A cluster-scoped object's metadata, the part read here."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: StrictText = Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    generation: int | None = None
    creation_timestamp: StrictText | None = Field(None, alias="creationTimestamp")


class VIPPool(BaseModel):
    """A whole VIPPool object."""

    model_config = ConfigDict(extra="allow", frozen=True)
    api_version: Literal["lvs.kubelvs.io/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["VIPPool"]
    metadata: PoolMeta
    spec: VIPPoolSpec
    status: dict[str, Any] | None = None
