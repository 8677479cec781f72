"""What a ``type: LoadBalancer`` Service asks of kube-lvs, read from its spec and annotations.

A Service is served when its class is ``lvs.kubelvs.io/ipvs``, or it names no class and the operator runs
with ``--default-load-balancer``. Its annotations are read under kube-lvs' names, and MetalLB's as aliases
(so Services move without edits); a value that cannot be used is a :class:`Problem` naming the annotation,
the value and why -- never a silent default. Services are other components' objects: read raw, bounded.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubelvs.api.enums import Forwarding, HealthCheckType, Scheduler
from kubelvs.api.label_selectors import parse_equality_selector
from kubelvs.api.problems import Problem, shown

LOAD_BALANCER_CLASS = "lvs.kubelvs.io/ipvs"
PREFIX = "lvs.kubelvs.io/"
ADDRESS = PREFIX + "address"
POOL = PREFIX + "pool"
SHARING_KEY = PREFIX + "sharing-key"
SCHEDULER = PREFIX + "scheduler"
FORWARDING = PREFIX + "forwarding"
HEALTH_CHECK = PREFIX + "health-check"
HEALTH_CHECK_PATH = PREFIX + "health-check-path"
DIRECTORS = PREFIX + "directors"
GATEWAY = PREFIX + "gateway"
# MetalLB's names (and their older metallb.universe.tf spelling) -> ours
ALIASES = {
    f"{prefix}/{name}": ours
    for prefix in ("metallb.io", "metallb.universe.tf")
    for name, ours in (("loadBalancerIPs", ADDRESS), ("allow-shared-ip", SHARING_KEY), ("address-pool", POOL))
}
DEFAULT_AFFINITY_TIMEOUT = 10800  # seconds: the API server's default of sessionAffinityConfig.clientIP
MAX_AFFINITY_TIMEOUT = 86400  # the API server's bound
MAX_ANNOTATION = 1024  # longer values are no address list, pool name or selector


@dataclass(frozen=True)
class Port:
    """One Service port: what a VirtualServer is made for."""

    name: str
    port: int
    protocol: str

    @property
    def ref(self) -> str | int:
        """How the VirtualServer's backends name it: by name, else (a one-port Service) by number."""
        return self.name or self.port


@dataclass(frozen=True)
class Request:
    """One served Service: identity, the addresses it asks for, its ports and LVS settings."""

    key: str  # namespace/name
    namespace: str
    name: str
    uid: str
    created: str  # creationTimestamp: older Services keep contested addresses
    labels: Mapping[str, str]
    families: tuple[int, ...]  # IP versions to allocate, in spec.ipFamilies order
    all_families: bool  # RequireDualStack: every family or none
    requested: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = ()
    pool: str | None = None
    sharing_key: str | None = None
    ports: tuple[Port, ...] = ()
    held: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = ()  # status.loadBalancer.ingress
    spec: Mapping[str, Any] = field(default_factory=dict)  # VirtualServer spec fields from the settings
    gateways: Mapping[int, str] = field(default_factory=dict)  # IP version -> directors.gateway address
    problems: tuple[Problem, ...] = ()  # bad settings: nothing is generated or changed until mended

    def wants(self, protocol_port: tuple[str, int]) -> bool:
        return any((port.protocol, port.port) == protocol_port for port in self.ports)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def is_load_balancer(raw: Mapping[str, Any]) -> bool:
    return _mapping(raw.get("spec")).get("type") == "LoadBalancer"


def is_served(raw: Mapping[str, Any], default_class: bool) -> bool:
    """A LoadBalancer Service of kube-lvs' class (or of none, with ``--default-load-balancer``)."""
    if not is_load_balancer(raw) or _mapping(raw.get("metadata")).get("deletionTimestamp"):
        return False
    name = _mapping(raw.get("spec")).get("loadBalancerClass")
    return name == LOAD_BALANCER_CLASS or (name is None and default_class)


def annotations_of(raw: Mapping[str, Any]) -> dict[str, str]:
    """The Service's annotations under kube-lvs' names; ours win over MetalLB's aliases."""
    given = _mapping(_mapping(raw.get("metadata")).get("annotations"))
    found: dict[str, str] = {}
    for name, value in given.items():
        ours = ALIASES.get(name)
        if ours is not None and isinstance(value, str):
            found.setdefault(ours, value)
    found.update(
        {name: value for name, value in given.items() if name.startswith(PREFIX) and isinstance(value, str)}
    )
    return found


def _addresses(
    name: str, text: str, problems: list[Problem]
) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]:
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for part in text.split(","):
        try:
            found.append(ipaddress.ip_address(part.strip()))
        except ValueError:
            problems.append(Problem(f"annotation {name}", f"{shown(part.strip())} is not an IP address"))
            return ()
    if len(found) > 2 or len({a.version for a in found}) != len(found):
        problems.append(Problem(f"annotation {name}", f"{shown(text)}: at most one address per IP family"))
        return ()
    return tuple(found)


def _families(spec: Mapping[str, Any]) -> tuple[tuple[int, ...], bool]:
    listed = spec.get("ipFamilies")
    families = tuple(
        {"IPv4": 4, "IPv6": 6}[family]
        for family in (listed if isinstance(listed, list) else ["IPv4"])[:2]
        if family in ("IPv4", "IPv6")
    ) or (4,)
    policy = spec.get("ipFamilyPolicy")
    if policy not in ("PreferDualStack", "RequireDualStack"):
        families = families[:1]
    return families, policy == "RequireDualStack"


def _ports(spec: Mapping[str, Any]) -> tuple[Port, ...]:
    ports = spec.get("ports")
    found = []
    for item in ports[:100] if isinstance(ports, list) else []:
        item = _mapping(item)
        number = item.get("port")
        if isinstance(number, int) and not isinstance(number, bool) and 1 <= number <= 65535:
            protocol = item.get("protocol") if item.get("protocol") in ("TCP", "UDP", "SCTP") else "TCP"
            found.append(Port(_text(item.get("name"))[:63], number, str(protocol)))
    return tuple(found)


def _held(raw: Mapping[str, Any]) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]:
    ingress = _mapping(_mapping(_mapping(raw.get("status")).get("loadBalancer"))).get("ingress")
    held = []
    for item in ingress[:4] if isinstance(ingress, list) else []:
        try:
            held.append(ipaddress.ip_address(_text(_mapping(item).get("ip"))))
        except ValueError:
            continue  # a hostname or garbage: not an address this operator gave
    return tuple(held)


def _settings(
    spec: Mapping[str, Any], given: Mapping[str, str], problems: list[Problem]
) -> tuple[dict[str, Any], dict[int, str]]:
    """VirtualServer spec fields from the annotations and the Service's own fields; gateways per version."""
    made: dict[str, Any] = {"forwarding": Forwarding.NAT.value}  # pods are no DR/TUN targets
    choices: tuple[tuple[str, str, type[Scheduler] | type[Forwarding]], ...] = (
        (SCHEDULER, "scheduler", Scheduler),
        (FORWARDING, "forwarding", Forwarding),
    )
    for name, field_name, enum in choices:
        if name in given:
            try:
                made[field_name] = enum(given[name].strip()).value
            except ValueError:
                allowed = ", ".join(member.value for member in enum)
                problems.append(Problem(f"annotation {name}", f"{shown(given[name])} is not one of {allowed}"))
    if HEALTH_CHECK in given:
        try:
            check = HealthCheckType(given[HEALTH_CHECK].strip())
        except ValueError:
            allowed = ", ".join(member.value for member in HealthCheckType)
            problems.append(
                Problem(f"annotation {HEALTH_CHECK}", f"{shown(given[HEALTH_CHECK])} is not one of {allowed}")
            )
        else:
            if check is not HealthCheckType.NONE:
                made["healthCheck"] = {"type": check.value}
                if check is not HealthCheckType.TCP and HEALTH_CHECK_PATH in given:
                    made["healthCheck"]["http"] = {"path": given[HEALTH_CHECK_PATH]}
    if HEALTH_CHECK_PATH in given and "http" not in made.get("healthCheck", {}):
        problems.append(
            Problem(
                f"annotation {HEALTH_CHECK_PATH}", f"needs {HEALTH_CHECK} http or https (it names a request path)"
            )
        )
    if DIRECTORS in given:
        try:
            made["directors"] = {"nodeSelector": parse_equality_selector(given[DIRECTORS])}
        except ValueError as error:
            problems.append(Problem(f"annotation {DIRECTORS}", str(error)))
    if spec.get("sessionAffinity") == "ClientIP":
        client_ip = _mapping(_mapping(spec.get("sessionAffinityConfig")).get("clientIP"))
        timeout = client_ip.get("timeoutSeconds", DEFAULT_AFFINITY_TIMEOUT)
        if isinstance(timeout, int) and not isinstance(timeout, bool) and 1 <= timeout <= MAX_AFFINITY_TIMEOUT:
            made["persistence"] = {"timeout": timeout}
        else:
            problems.append(
                Problem("spec.sessionAffinityConfig.clientIP.timeoutSeconds", f"{shown(timeout)} is not 1..86400")
            )
    gateways: dict[int, str] = {}
    if GATEWAY in given:
        for address in _addresses(GATEWAY, given[GATEWAY], problems):
            gateways[address.version] = address.compressed
    local = spec.get("externalTrafficPolicy") == "Local"
    made["natReturnPath"] = "route" if local else "snat"
    return made, gateways


def read(raw: Mapping[str, Any]) -> Request:
    """The request of one served Service (see :func:`is_served`)."""
    meta, spec = _mapping(raw.get("metadata")), _mapping(raw.get("spec"))
    namespace, name = _text(meta.get("namespace")) or "default", _text(meta.get("name"))
    given = annotations_of(raw)
    problems = [
        Problem(f"annotation {key}", f"is {len(value)} characters long; at most {MAX_ANNOTATION}")
        for key, value in given.items()
        if len(value) > MAX_ANNOTATION
    ]
    if problems:
        uid, created = _text(meta.get("uid")), _text(meta.get("creationTimestamp"))
        return Request(
            f"{namespace}/{name}", namespace, name, uid, created, {}, (4,), False, problems=tuple(problems)
        )
    families, all_families = _families(spec)
    requested: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = ()
    if ADDRESS in given:
        requested = _addresses(ADDRESS, given[ADDRESS], problems)
    elif _text(spec.get("loadBalancerIP")):
        requested = _addresses("spec.loadBalancerIP", _text(spec.get("loadBalancerIP")), problems)
    for address in requested:
        if address.version not in families:
            why = f"{address} is IPv{address.version}, which spec.ipFamilies does not ask for"
            problems.append(Problem(f"annotation {ADDRESS}", why))
    made, gateways = _settings(spec, given, problems)
    labels = {k: v for k, v in _mapping(meta.get("labels")).items() if isinstance(k, str) and isinstance(v, str)}
    return Request(
        key=f"{namespace}/{name}",
        namespace=namespace,
        name=name,
        uid=_text(meta.get("uid")),
        created=_text(meta.get("creationTimestamp")),
        labels=labels,
        families=families,
        all_families=all_families,
        requested=requested,
        pool=given.get(POOL, "").strip() or None,
        sharing_key=given.get(SHARING_KEY, "").strip() or None,
        ports=_ports(spec),
        held=_held(raw),
        spec=made,
        gateways=gateways,
        problems=tuple(problems),
    )
