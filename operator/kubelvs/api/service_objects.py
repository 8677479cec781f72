"""Kubernetes Services and EndpointSlices as kube-lvs reads them: only the fields a VirtualServer's
``backends`` follows, checked as the API server checks them, everything else ignored.

These are other components' objects (the API server and the EndpointSlice controller write them), so an
unknown field is never an error here, unlike in kube-lvs' own resources; a field kube-lvs reads that is out
of its type or bounds is. One bad endpoint address drops that endpoint only (:mod:`kubelvs.api.backends`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError
from pydantic.alias_generators import to_camel

from kubelvs.api.fields import StrictText
from kubelvs.api.problems import Problem, from_validation_error, shown

SERVICE_NAME_LABEL = "kubernetes.io/service-name"  # the EndpointSlice controller's link to its Service
ENDPOINT_SLICE_API_VERSION = "discovery.k8s.io/v1"

# The API server's own bounds (EndpointSlice validation): 1,000 endpoints, 100 ports and 100 addresses each.
MAX_ENDPOINTS = 1000
MAX_PORTS = 100
MAX_ADDRESSES = 100

Protocol = Literal["TCP", "UDP", "SCTP"]
PortNumber = Annotated[int, StrictInt, Field(ge=1, le=65535)]
Name = Annotated[StrictText, Field(max_length=253)]


class _Read(BaseModel):
    """camelCase on the wire; unknown fields ignored (another component's object), frozen."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class Metadata(_Read):
    name: Name
    namespace: Name = "default"
    labels: dict[StrictText, StrictText] = Field(default_factory=dict)
    creation_timestamp: StrictText | None = None
    deletion_timestamp: StrictText | None = None


class ServicePort(_Read):
    name: Annotated[StrictText, Field(max_length=63)] = ""
    port: PortNumber
    protocol: Protocol = "TCP"


class ServiceSpec(_Read):
    ports: list[ServicePort] | None = Field(default=None, max_length=MAX_PORTS)  # null: none (headless)


class Service(_Read):
    """A ``v1`` Service: its name and ports."""

    api_version: Literal["v1"] = Field(alias="apiVersion")
    kind: Literal["Service"]
    metadata: Metadata
    spec: ServiceSpec = Field(default_factory=ServiceSpec)

    @property
    def key(self) -> str:
        return f"{self.metadata.namespace}/{self.metadata.name}"


class EndpointConditions(_Read):
    """Unset means ready / serving (as the API documents, for old producers) and not terminating."""

    ready: StrictBool | None = None
    serving: StrictBool | None = None
    terminating: StrictBool | None = None


class Endpoint(_Read):
    addresses: list[Annotated[StrictText, Field(max_length=64)]] = Field(min_length=1, max_length=MAX_ADDRESSES)
    conditions: EndpointConditions = Field(default_factory=EndpointConditions)
    node_name: Name | None = None


class EndpointPort(_Read):
    name: Annotated[StrictText, Field(max_length=63)] | None = None
    port: PortNumber | None = None
    protocol: Protocol = "TCP"


class EndpointSlice(_Read):
    """A ``discovery.k8s.io/v1`` EndpointSlice: one address family's endpoints of one Service."""

    api_version: Literal["discovery.k8s.io/v1"] = Field(alias="apiVersion")
    kind: Literal["EndpointSlice"]
    metadata: Metadata
    address_type: Literal["IPv4", "IPv6", "FQDN"]
    endpoints: list[Endpoint] | None = Field(default=None, max_length=MAX_ENDPOINTS)
    ports: list[EndpointPort] | None = Field(default=None, max_length=MAX_PORTS)

    @property
    def key(self) -> str:
        return f"{self.metadata.namespace}/{self.metadata.name}"

    @property
    def service_key(self) -> str | None:
        """``namespace/name`` of the Service this slice belongs to (its label), or None."""
        name = self.metadata.labels.get(SERVICE_NAME_LABEL)
        return f"{self.metadata.namespace}/{name}" if name else None


KINDS: dict[tuple[str, str], type[Service] | type[EndpointSlice]] = {
    ("v1", "Service"): Service,
    (ENDPOINT_SLICE_API_VERSION, "EndpointSlice"): EndpointSlice,
}


def raw_service_key(raw: Mapping[str, Any] | None) -> str | None:
    """``namespace/name`` of the Service an EndpointSlice belongs to, read raw (a source decides by it whether
    to parse the slice at all), or None."""
    if raw is None:
        return None
    meta = raw.get("metadata") if isinstance(raw.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    labels = meta.get("labels") if isinstance(meta.get("labels"), Mapping) else {}
    assert isinstance(labels, Mapping)
    name = labels.get(SERVICE_NAME_LABEL)
    return f"{meta.get('namespace') or 'default'}/{name}" if isinstance(name, str) and name else None


def is_service_object(raw: Mapping[str, Any]) -> bool:
    """A v1 Service or a discovery.k8s.io/v1 EndpointSlice: the other components' objects kube-lvs reads."""
    return _model_of(raw) is not None


def _model_of(raw: Mapping[str, Any]) -> type[Service] | type[EndpointSlice] | None:
    api_version, kind = raw.get("apiVersion"), raw.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):  # a list as kind: no key at all
        return None
    return KINDS.get((api_version, kind))


def parse_service_object(raw: Mapping[str, Any]) -> Service | EndpointSlice | list[Problem]:
    """One Service or EndpointSlice, checked in the fields kube-lvs reads; problems name their field."""
    model = _model_of(raw)
    if model is None:
        return [Problem("kind", f"{shown(raw.get('kind'))} of {shown(raw.get('apiVersion'))} is not read here")]
    try:
        return model.model_validate(dict(raw), by_alias=True, by_name=False)
    except ValidationError as error:
        return from_validation_error(error)
