"""CEL rules (``x-kubernetes-validations``) the API server enforces on its own, mirroring api/rules.py.

Only rules that need nothing but the object itself are here; IP parsing, netmask contiguity and every
rule across objects (duplicate VIP:port:proto, a RealServer's VirtualServer, DR/TUN port remapping) stay
with the operator, which reports them in ``status.conditions``. Each rule is attached to the schema node
of the model named by its key, and its ``fieldPath`` is relative to that node. Absent fields are read
through ``has()`` with the model's default, so a rule does not depend on the server's defaulting.

IPv4 or IPv6 is told from the text of an address (``contains(':')``), which needs no CEL IP library;
netmasks are told apart the same way (dotted = IPv4, ``/N`` = IPv6 prefix length).
"""

from __future__ import annotations

from dataclasses import dataclass

from kubelvs.api import durations
from kubelvs.api.durations import format_duration


@dataclass(frozen=True)
class CelRule:
    """One ``x-kubernetes-validations`` entry."""

    rule: str
    message: str
    field_path: str
    reason: str = "FieldValueInvalid"

    def as_schema(self) -> dict[str, str]:
        return {"fieldPath": self.field_path, "message": self.message, "reason": self.reason, "rule": self.rule}


# Whether a VirtualServerSpec is an IPv6 service: the VIP, else fwmarkMatch.destination, else addressFamily.
_IPV6 = (
    "(has(self.address) ? self.address.contains(':') : "
    "has(self.fwmarkMatch) ? self.fwmarkMatch.destination.contains(':') : "
    "(has(self.addressFamily) && self.addressFamily == 'IPv6'))"
)
_SCHEDULER = "(has(self.scheduler) ? self.scheduler : 'wlc')"
_FORBIDDEN = "FieldValueForbidden"
_REQUIRED = "FieldValueRequired"

VIRTUAL_SERVER_SPEC = (
    CelRule(
        "!has(self.fwmark) || !has(self.address)",
        "address cannot be combined with fwmark: a fwmark service is keyed by its mark alone",
        ".address",
        _FORBIDDEN,
    ),
    CelRule(
        "!has(self.fwmark) || !has(self.port)",
        "port cannot be combined with fwmark: a fwmark service is keyed by its mark alone",
        ".port",
        _FORBIDDEN,
    ),
    CelRule(
        "!has(self.fwmark) || !has(self.protocol)",
        "protocol cannot be combined with fwmark: a fwmark service is keyed by its mark alone",
        ".protocol",
        _FORBIDDEN,
    ),
    CelRule(
        "has(self.fwmark) || has(self.address)",
        "address is required (or set fwmark for a fwmark service)",
        ".address",
        _REQUIRED,
    ),
    CelRule(
        "has(self.fwmark) || has(self.port)",
        "port is required (0 means all ports, with persistence)",
        ".port",
        _REQUIRED,
    ),
    CelRule(
        "has(self.fwmark) || !has(self.fwmarkMatch)",
        "only a fwmark service can mark packets; set fwmark too",
        ".fwmarkMatch",
        _FORBIDDEN,
    ),
    CelRule(
        "has(self.fwmark) || !has(self.addressFamily)",
        "addressFamily is only for fwmark services; the VIP decides the family",
        ".addressFamily",
        _FORBIDDEN,
    ),
    CelRule(
        "!has(self.addressFamily) || !has(self.fwmarkMatch) || "
        "(self.addressFamily == 'IPv6') == self.fwmarkMatch.destination.contains(':')",
        "addressFamily contradicts the family of fwmarkMatch.destination",
        ".addressFamily",
    ),
    CelRule(
        "!has(self.port) || self.port != 0 || has(self.persistence)",
        "port 0 (all ports) is only legal for a persistent service; set persistence",
        ".port",
    ),
    CelRule(
        # compares with literals only: cheap in the API server's cost estimate whatever the string sizes
        "!has(self.schedulerFlags) || "
        f"self.schedulerFlags.all(f, {_SCHEDULER} == (f.startsWith('sh-') ? 'sh' : 'mh'))",
        "sh-fallback and sh-port belong to scheduler sh, mh-fallback and mh-port to scheduler mh",
        ".schedulerFlags",
    ),
    CelRule(
        "!has(self.onePacket) || !self.onePacket || has(self.fwmark) || "
        "(has(self.protocol) && self.protocol == 'UDP')",
        "one-packet scheduling (--ops) is only for UDP services",
        ".onePacket",
    ),
    CelRule(
        f"!has(self.persistence) || !has(self.persistence.netmask) || "
        f"self.persistence.netmask.contains('.') != {_IPV6}",
        "netmask must fit the service's family: a dotted netmask like 255.255.255.0 for IPv4, "
        "a prefix length like /64 for IPv6",
        ".persistence.netmask",
    ),
    CelRule(
        "!((has(self.forwarding) ? self.forwarding : 'dr') == 'nat' && "
        "(has(self.natReturnPath) ? self.natReturnPath : has(self.backends) ? 'snat' : 'route') == 'route') || "
        "(has(self.directors) && has(self.directors.gateway))",
        "directors.gateway is required when forwarding is nat and natReturnPath is route "
        "(real servers route replies through it); or set natReturnPath to snat or none",
        ".directors.gateway",
        _REQUIRED,
    ),
    CelRule(
        f"!has(self.directors) || !has(self.directors.gateway) || "
        f"self.directors.gateway.address.contains(':') == {_IPV6}",
        "the gateway address must be of the service's family (IPv4 or IPv6)",
        ".directors.gateway.address",
    ),
)


def _duration_bounds(field: str, minimum: float, why: str) -> tuple[CelRule, CelRule]:
    """A health-check duration between its minimum and a day, compared as CEL durations."""
    low, high = format_duration(minimum), format_duration(durations.MAX_SECONDS)
    return (
        CelRule(
            f"!has(self.{field}) || duration(self.{field}) >= duration('{low}')",
            f"{field} must be at least {low}: {why}",
            f".{field}",
        ),
        CelRule(
            f"!has(self.{field}) || duration(self.{field}) <= duration('{high}')",
            f"{field} must be at most {high}: {durations.MAX_WHY}",
            f".{field}",
        ),
    )


HEALTH_CHECK = (
    CelRule(
        "!has(self.http) || (has(self.type) && self.type in ['http', 'https'])",
        "http is only for a health check of type http or https",
        ".http",
        _FORBIDDEN,
    ),
    *_duration_bounds("interval", durations.MIN_INTERVAL, durations.MIN_INTERVAL_WHY),
    *_duration_bounds("connectTimeout", durations.MIN_CONNECT_TIMEOUT, durations.MIN_CONNECT_TIMEOUT_WHY),
    *_duration_bounds("delayBeforeRetry", durations.MIN_RETRY_DELAY, durations.MIN_RETRY_DELAY_WHY),
    CelRule(
        # connectTimeout has no schema default: unset, it is 5s cut to the interval (HealthCheck)
        "!has(self.connectTimeout) || duration(self.connectTimeout) <= "
        "duration(has(self.interval) ? self.interval : '6s')",
        f"connectTimeout must not be longer than interval: {durations.TIMEOUT_OVER_INTERVAL_WHY}",
        ".connectTimeout",
    ),
)

HTTP_CHECK = (
    CelRule(
        "!has(self.path) || self.path.startsWith('/')",
        "path must start with '/'",
        ".path",
    ),
    CelRule(
        "!has(self.expectStatus) || self.expectStatus.all(code, code >= 100 && code <= 599)",
        "every status code must be an HTTP status code (100..599)",
        ".expectStatus",
    ),
)

REAL_SERVER_SPEC = (
    CelRule(
        "!has(self.lowerThreshold) || !has(self.upperThreshold) || self.upperThreshold == 0 || "
        "self.lowerThreshold <= self.upperThreshold",
        "lowerThreshold must not exceed upperThreshold",
        ".lowerThreshold",
    ),
)

# Model class name -> the rules attached to that model's schema node.
BY_MODEL: dict[str, tuple[CelRule, ...]] = {
    "VirtualServerSpec": VIRTUAL_SERVER_SPEC,
    "HealthCheck": HEALTH_CHECK,
    "HttpCheck": HTTP_CHECK,
    "RealServerSpec": REAL_SERVER_SPEC,
    "LabelSelectorRequirement": (
        CelRule(
            "!(self.operator in ['In', 'NotIn']) || (has(self.values) && size(self.values) > 0)",
            "operators In and NotIn need at least one value",
            ".values",
            _REQUIRED,
        ),
        CelRule(
            "!(self.operator in ['Exists', 'DoesNotExist']) || !has(self.values) || size(self.values) == 0",
            "operators Exists and DoesNotExist take no values",
            ".values",
            _FORBIDDEN,
        ),
    ),
}

# Address classes (kubelvs.api.address_classes): of those, CEL without its IP library can tell only a zone id
# ('%' in the text). The classes need the Kubernetes CEL IP library (ip(), isLoopback(), isLinkLocalUnicast(),
# ...), which CRD rules may use only from Kubernetes 1.31, and the chart supports 1.28: the operator and
# the agents refuse them (status.conditions), the API server does not.


def _no_zone_id(field: str, optional: bool = False) -> CelRule:
    rule = f"!self.{field}.contains('%')"
    return CelRule(
        f"!has(self.{field}) || {rule}" if optional else rule,
        f"{field} must not carry a zone id (%interface): it names an interface of one host",
        f".{field}",
    )


ADDRESS_ZONE_IDS: dict[str, tuple[CelRule, ...]] = {
    "VirtualServerSpec": (_no_zone_id("address", optional=True),),
    "Gateway": (_no_zone_id("address"),),
    "FwmarkMatch": (_no_zone_id("destination"),),
    "RealServerSpec": (_no_zone_id("address"),),
}
for _model, _rules in ADDRESS_ZONE_IDS.items():
    BY_MODEL[_model] = BY_MODEL.get(_model, ()) + _rules
