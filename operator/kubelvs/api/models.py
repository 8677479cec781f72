"""Pydantic models of the VirtualServer and RealServer resources: the one source of truth.

Field names follow ipvsadm and keepalived so an LVS administrator recognises them; the CRD schemas in
``crds/`` are generated from these classes (``kubelvs crds``). Per-field rules live here; rules that
relate two fields or two objects live in :mod:`kubelvs.api.rules`, so each can name the exact field.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel

from kubelvs.api import durations
from kubelvs.api.durations import Duration, at_least, format_duration
from kubelvs.api.enums import (
    AddressFamily,
    Forwarding,
    HealthCheckType,
    NatReturnPath,
    OnFailure,
    Protocol,
    Scheduler,
    SchedulerFlag,
)
from kubelvs.api.fields import (
    Fwmark,
    InterfaceName,
    IPAddress,
    Netmask,
    Port,
    ServiceName,
    ServicePortRef,
    StrictText,
    Threshold,
    Weight,
)
from kubelvs.api.problems import shown


class Model(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are errors, not silent no-ops.

    Types are the API server's: numbers, booleans and strings are strict per field (fields.py), so what
    the CRD's schema refuses (``port: "80"``, ``onePacket: "true"``) is refused here too; enums still take
    their string values (a model-wide strict mode would want enum members from Python).
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )


class Persistence(Model):
    """Persistent connections (``ipvsadm -p [timeout] -M netmask``): a client sticks to one real server."""

    timeout: StrictInt = Field(300, ge=1, le=2147483647)
    """Seconds a client stays with its real server after its last connection (ipvsadm -p; default 300)."""
    netmask: Netmask | None = None
    """Clients inside one netmask share a real server (ipvsadm -M): dotted for IPv4, /N for IPv6.
    Default: each client address on its own (255.255.255.255 or /128)."""


class Gateway(Model):
    """A floating address on the directors' real-server side, held by the active director."""

    address: IPAddress
    """Address NAT real servers route their replies through (keepalived's internal virtual_ipaddress)."""
    interface: InterfaceName | None = None
    """Interface of the active director that carries it; default: the route towards the real servers."""


class Directors(Model):
    """Which nodes may hold the VIP: stands in for keepalived's VRRP group."""

    node_selector: dict[StrictText, StrictText] = Field(default_factory=dict)
    """Node labels a director must carry; empty selects every node the agent runs on."""
    interface: InterfaceName | None = None
    """Interface the active director binds the VIP to; default: the default-route interface."""
    preferred: list[StrictText] = Field(default_factory=list, json_schema_extra={"x-kubernetes-list-type": "set"})
    """Node names in priority order (VRRP priority): the VIP moves back to the first healthy one."""
    gateway: Gateway | None = None
    """Floating real-server-side address for NAT's return path (natReturnPath: route)."""


class FwmarkMatch(Model):
    """Traffic the agent marks for a fwmark service (an nftables rule on every director)."""

    destination: IPAddress
    """Destination address of the marked packets (usually the VIP)."""
    protocol: Protocol = Protocol.TCP
    """Transport protocol of the marked packets."""
    ports: list[Port] = Field(min_length=1, max_length=64)
    """Destination ports marked into the one service (e.g. 80 and 443 for sticky HTTP/HTTPS)."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NO_CONTROL: dict[str, JsonValue] = {"pattern": r"^[^\x00-\x1f\x7f-\x9f]*$"}  # the CRD's form of _no_control


def _no_control(value: str) -> str:
    """No CR, LF or other control character: a request line or header cannot carry one (header injection)."""
    found = _CONTROL.search(value)
    if found is not None:
        raise ValueError(
            f"{shown(value)} holds control character U+{ord(found.group()):04X} at position {found.start()}: "
            "an HTTP request line or header cannot carry it (it would inject a header)"
        )
    return value


HeaderText = Annotated[StrictText, AfterValidator(_no_control)]
CheckInterval = Annotated[Duration, at_least(durations.MIN_INTERVAL, durations.MIN_INTERVAL_WHY)]
ConnectTimeout = Annotated[Duration, at_least(durations.MIN_CONNECT_TIMEOUT, durations.MIN_CONNECT_TIMEOUT_WHY)]
RetryDelay = Annotated[Duration, at_least(durations.MIN_RETRY_DELAY, durations.MIN_RETRY_DELAY_WHY)]


class HttpCheck(Model):
    """keepalived HTTP_GET / SSL_GET ``url`` block."""

    path: HeaderText = Field("/", max_length=2048, json_schema_extra=_NO_CONTROL)
    """Request path; must start with '/'."""
    expect_status: list[StrictInt] = Field(default_factory=lambda: [200], min_length=1, max_length=16)
    """Status codes that count as healthy (keepalived status_code)."""
    host: HeaderText | None = Field(None, max_length=253, json_schema_extra=_NO_CONTROL)
    """Host header (keepalived virtualhost); default: the real server's address."""


DEFAULT_CONNECT_TIMEOUT = 5.0


class HealthCheck(Model):
    """keepalived's real-server checkers: TCP_CHECK, HTTP_GET, SSL_GET."""

    type: HealthCheckType = HealthCheckType.TCP
    """tcp (TCP_CHECK), http (HTTP_GET), https (SSL_GET) or none."""
    interval: CheckInterval = 6.0
    """Time between checks (keepalived delay_loop); at least 100ms."""
    connect_timeout: ConnectTimeout | None = None
    """Time a connect or request may take (connect_timeout); at least 10ms and at most interval.
    Default: 5s, or interval when that is shorter."""
    retries: StrictInt = Field(1, ge=1, le=100)
    """Consecutive failures before the real server is declared down (nb_get_retry / retry)."""
    delay_before_retry: RetryDelay = 1.0
    """Pause between the attempts of one failing check (delay_before_retry); at least 10ms."""
    port: Port | None = None
    """Port to check (connect_port); default: the real server's port."""
    http: HttpCheck | None = None
    """What an http/https check requests and expects."""
    on_failure: OnFailure = OnFailure.QUIESCE
    """quiesce: weight 0, so persistent clients drain (inhibit_on_failure); remove: delete the destination."""

    @field_validator("connect_timeout")
    @classmethod
    def _within_interval(cls, seconds: float | None, info: ValidationInfo) -> float | None:
        interval = info.data.get("interval")  # validated first (fields validate in order); absent if invalid
        if seconds is not None and interval is not None and seconds > interval:
            raise ValueError(
                f"{format_duration(seconds)} is longer than interval {format_duration(interval)}: "
                f"{durations.TIMEOUT_OVER_INTERVAL_WHY}"
            )
        return seconds

    @property
    def effective_connect_timeout(self) -> float:
        """connectTimeout as given, else its default cut to the interval (a 1s interval needs no timeout)."""
        if self.connect_timeout is not None:
            return self.connect_timeout
        return min(DEFAULT_CONNECT_TIMEOUT, self.interval)


class Backends(Model):
    """Real servers that follow a Kubernetes Service: the endpoints of its EndpointSlices, as kube-proxy
    reads them (ready: the weight; serving and terminating: weight 0, draining; gone: removed once drained)."""

    service: ServiceName
    """Name of a Service in the VirtualServer's namespace."""
    port: ServicePortRef | None = None
    """The Service port, by name or number; may be omitted when the Service has exactly one port."""
    weight: Weight = 1
    """Scheduling weight of every ready endpoint (ipvsadm -w)."""


class VirtualServerSpec(Model):
    """One IPVS virtual service: ``ipvsadm -A -t|-u|--sctp-service VIP:port`` or ``-f fwmark``."""

    address: IPAddress | None = None
    """The virtual IP (IPv4 or IPv6). Omit for a fwmark service."""
    port: Port | None = None
    """Virtual port; 0 means all ports and needs persistence."""
    protocol: Protocol | None = None
    """TCP, UDP or SCTP; default TCP. Omit for a fwmark service."""
    fwmark: Fwmark | None = None
    """Firewall-mark service (ipvsadm -f) instead of address/port/protocol."""
    address_family: AddressFamily | None = None
    """IPv4 or IPv6 for a fwmark service (ipvsadm -6); default from fwmarkMatch, else IPv4."""
    fwmark_match: FwmarkMatch | None = None
    """Packets the agent marks for this fwmark service; omit if you mark them yourself."""
    scheduler: Scheduler = Scheduler.WLC
    """Scheduling algorithm (ipvsadm -s); default wlc, as ipvsadm's."""
    scheduler_flags: list[SchedulerFlag] = Field(
        default_factory=list, max_length=4, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """Scheduler flags (ipvsadm -b): sh-fallback, sh-port for sh; mh-fallback, mh-port for mh."""
    one_packet: StrictBool = False
    """One-packet scheduling for UDP (ipvsadm -o / --ops)."""
    forwarding: Forwarding = Forwarding.DR
    """dr (-g, the default), nat (-m) or tun (-i); a RealServer may override it."""
    nat_return_path: NatReturnPath | None = None
    """How NAT real servers' replies return through the director: route, snat or none. Default: snat for a
    VirtualServer with backends (pods reply to any client through the director), else route."""
    persistence: Persistence | None = None
    """Sticky clients (ipvsadm -p/-M); omit for none."""
    directors: Directors = Field(default_factory=Directors)
    """Nodes that may hold the VIP and where they bind it."""
    health_check: HealthCheck | None = None
    """Real-server health checking; omit for none."""
    backends: Backends | None = None
    """Real servers from a Service's EndpointSlices, beside any RealServers that name this VirtualServer."""

    @field_validator("scheduler_flags")
    @classmethod
    def _a_set(cls, flags: list[SchedulerFlag]) -> list[SchedulerFlag]:
        twice = [flag.value for index, flag in enumerate(flags) if flag in flags[:index]]
        if twice:
            raise ValueError(f"lists {twice[0]!r} more than once (a set, as the CRD's list-type says)")
        return flags


class RealServerSpec(Model):
    """One IPVS destination: ``ipvsadm -a -t VIP:port -r RIP:port -w weight``."""

    virtual_server: StrictText = Field(min_length=1, max_length=253)
    """Name of the VirtualServer in the same namespace."""
    address: IPAddress
    """Real server address (RIP)."""
    port: Port | None = None
    """Real server port; default: the virtual server's port. DR and TUN cannot remap ports."""
    weight: Weight = 1
    """Scheduling weight (ipvsadm -w); 0 sends no new connections."""
    forwarding: Forwarding | None = None
    """Override of the VirtualServer's forwarding method."""
    upper_threshold: Threshold = 0
    """Maximum connections (ipvsadm -x); 0 means no limit."""
    lower_threshold: Threshold = 0
    """Connections below which a server over its upper threshold is used again (ipvsadm -y)."""


# Conditions are a map keyed by type, as metav1.Condition lists are (server-side apply merges by type).
_CONDITIONS_LIST: dict[str, Any] = {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]}


class Condition(Model):
    """A Kubernetes condition (metav1.Condition)."""

    model_config = ConfigDict(extra="allow")
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str = ""
    observed_generation: int | None = None
    last_transition_time: str | None = None


class VirtualServerStatus(Model):
    """What the operator and the active director report."""

    model_config = ConfigDict(extra="allow")
    observed_generation: int | None = None
    """The metadata.generation this status describes."""
    conditions: list[Condition] = Field(default_factory=list, json_schema_extra=_CONDITIONS_LIST)
    """Accepted, Programmed, Ready."""
    active_director: str | None = None
    """Node that holds the VIP now."""
    programmed_generation: int | None = None
    """The metadata.generation the active director programmed into the kernel (reported by the agent)."""
    ready_real_servers: int | None = None
    """Real servers passing health checks."""
    total_real_servers: int | None = None
    """Real servers referring to this VirtualServer."""
    ready: str | None = None
    """ready/total, for kubectl get."""


class RealServerStatus(Model):
    """Health and acceptance of one real server."""

    model_config = ConfigDict(extra="allow")
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list, json_schema_extra=_CONDITIONS_LIST)
    health: Literal["Healthy", "Unhealthy", "Unknown"] | None = None
    """Result of the active director's health checks."""
    effective_weight: int | None = None
    """Weight the kernel holds now (0 while quiesced or draining)."""


class ObjectMeta(BaseModel):
    """The part of metadata kube-lvs reads; everything else passes through."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: StrictText = Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    """A DNS subdomain (RFC 1123), as the API server wants of a custom resource's name."""
    namespace: StrictText = Field(
        "default", min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
    )
    """A DNS label (RFC 1123): at most 63 characters, no dots."""
    generation: int | None = None
    labels: dict[StrictText, StrictText] = Field(default_factory=dict)


class VirtualServer(BaseModel):
    """A whole VirtualServer object."""

    model_config = ConfigDict(extra="allow", frozen=True)
    api_version: Literal["lvs.kubelvs.io/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["VirtualServer"]
    metadata: ObjectMeta
    spec: VirtualServerSpec
    status: dict[str, Any] | None = None

    # Cached: judging and planning ask for keys by the hundred thousand. Build changed objects by validation,
    # never model_copy(update=...), which would carry the old key along.
    @functools.cached_property
    def key(self) -> str:
        return f"{self.metadata.namespace}/{self.metadata.name}"


class RealServer(BaseModel):
    """A whole RealServer object."""

    model_config = ConfigDict(extra="allow", frozen=True)
    api_version: Literal["lvs.kubelvs.io/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["RealServer"]
    metadata: ObjectMeta
    spec: RealServerSpec
    status: dict[str, Any] | None = None

    @functools.cached_property
    def key(self) -> str:
        return f"{self.metadata.namespace}/{self.metadata.name}"

    @functools.cached_property
    def virtual_server_key(self) -> str:
        return f"{self.metadata.namespace}/{self.spec.virtual_server}"
