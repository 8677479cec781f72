"""A manifest set for the fault suite: three valid DR services and more than fifty invalid objects around them.

Each invalid object is alone in being wrong about one field, has its own name (``bad-NN-...``) and, where it
is a VirtualServer, its own VIP (198.51.100.x, so an object wrongly accepted would show up as an extra IPVS
service). Every :class:`Bad` says which object and field the agent's finding must name and words its message
must hold. Several invalid RealServers point at the valid services: they must not cost them anything.
The cases follow tests/unit/api/test_invalid_manifests_are_rejected_with_their_field.py (its table is built
for one case per set, all on the same names and VIP, so it is not imported).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentrun import API, DIRECTORS, rs, vs

VALID_VIPS = {"web": "192.0.2.100", "api": "192.0.2.101", "shop": "192.0.2.102"}
VALID_BACKENDS = {"web": {"rs1", "rs2"}, "api": {"rs1"}, "shop": {"rs2"}}
RS_ADDRESS = {"rs1": "10.9.0.11", "rs2": "10.9.0.12"}


@dataclass(frozen=True)
class Bad:
    doc: dict[str, Any]
    path: str  # the field the finding names, e.g. "spec.port"
    words: tuple[str, ...]  # what its message must hold besides

    @property
    def obj(self) -> str:
        meta = self.doc.get("metadata", {})
        return f"{self.doc['kind']} {meta.get('namespace', 'default')}/{meta.get('name', '<no name>')}"


def valid() -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for service, vip in VALID_VIPS.items():
        objects.append(vs(service, address=vip, port=80, scheduler="rr", directors=DIRECTORS))
        for backend in sorted(VALID_BACKENDS[service]):
            objects.append(rs(f"{service}-{backend}", service, RS_ADDRESS[backend]))
    return objects


def _bad_vs(index: int, path: str, words: str | tuple[str, ...], prefix: str = "bad", **spec: Any) -> Bad:
    body = {"address": f"198.51.100.{index}", "port": 80, "directors": DIRECTORS, **spec}
    body = {key: value for key, value in body.items() if value is not None}  # None drops a field
    return Bad(vs(f"{prefix}-{index:02d}", **body), path, (words,) if isinstance(words, str) else words)


def _bad_rs(index: int, path: str, words: str | tuple[str, ...], service: str = "web", **spec: Any) -> Bad:
    body = {"virtualServer": service, "address": f"10.9.0.{100 + index}", **spec}
    body = {key: value for key, value in body.items() if value is not None}
    doc = {"apiVersion": API, "kind": "RealServer", "metadata": {"name": f"bad-{index:02d}"}, "spec": body}
    return Bad(doc, path, (words,) if isinstance(words, str) else words)


def _bad_doc(index: int, path: str, words: str | tuple[str, ...], **overrides: Any) -> Bad:
    doc = {**vs(f"bad-{index:02d}", address=f"198.51.100.{index}", port=80), **overrides}
    return Bad(doc, path, (words,) if isinstance(words, str) else words)


FWM = {"fwmark": 7, "address": None, "port": None}
HC = {"type": "tcp"}


def invalid() -> list[Bad]:
    """The invalid objects, numbered in order (the number is in the name and the VIP)."""
    makers: list[Any] = [
        # addresses
        lambda i: _bad_vs(i, "spec.address", ("'192.0.2.300'", "IPv4 or IPv6"), address="192.0.2.300"),
        lambda i: _bad_vs(i, "spec.address", "'192.0.2'", address="192.0.2"),
        lambda i: _bad_vs(i, "spec.address", "'web.example'", address="web.example"),
        lambda i: _bad_vs(i, "spec.address", "'2001:db8::zz'", address="2001:db8::zz"),
        lambda i: _bad_vs(i, "spec.address", "'2001:db8:::1'", address="2001:db8:::1"),
        lambda i: _bad_vs(i, "spec.address", "''", address=""),
        lambda i: _bad_rs(i, "spec.address", "'10.9.0.256'", address="10.9.0.256"),
        lambda i: _bad_vs(
            i,
            "spec.directors.gateway.address",
            "'10.9.0'",
            forwarding="nat",
            directors={**DIRECTORS, "gateway": {"address": "10.9.0"}},
        ),
        # ports
        lambda i: _bad_vs(i, "spec.port", "65535", port=70000),
        lambda i: _bad_vs(i, "spec.port", "greater than or equal to 0", port=-1),
        lambda i: _bad_vs(i, "spec.port", ("integer", "'http'"), port="http"),
        lambda i: _bad_vs(i, "spec.port", ("0", "persistence"), port=0),
        lambda i: _bad_vs(i, "spec.port", "required", port=None),
        lambda i: _bad_rs(i, "spec.port", "65535", port=65536),
        lambda i: _bad_vs(i, "spec.healthCheck.port", "65535", healthCheck={**HC, "port": 65536}),
        # schedulers, protocols, forwarding
        lambda i: _bad_vs(i, "spec.scheduler", ("'roundrobin'", "'rr'"), scheduler="roundrobin"),
        lambda i: _bad_vs(i, "spec.scheduler", "'RR'", scheduler="RR"),
        lambda i: _bad_vs(i, "spec.protocol", ("'ICMP'", "'TCP'"), protocol="ICMP"),
        lambda i: _bad_vs(i, "spec.protocol", "'tcp'", protocol="tcp"),
        lambda i: _bad_vs(i, "spec.forwarding", ("'masq'", "'nat'"), forwarding="masq"),
        lambda i: _bad_rs(i, "spec.forwarding", "'gatewaying'", forwarding="gatewaying"),
        lambda i: _bad_vs(i, "spec.schedulerFlags[0]", "'sh-bogus'", scheduler="sh", schedulerFlags=["sh-bogus"]),
        lambda i: _bad_vs(
            i, "spec.schedulerFlags[0]", ("'sh-port'", "'rr'"), scheduler="rr", schedulerFlags=["sh-port"]
        ),
        lambda i: _bad_vs(i, "spec.onePacket", "UDP", onePacket=True, protocol="TCP"),
        # fwmark services
        lambda i: _bad_vs(i, "spec.address", "fwmark", fwmark=100 + i, port=None),
        lambda i: _bad_vs(i, "spec.fwmark", "greater than or equal to 1", fwmark=0, address=None, port=None),
        lambda i: _bad_vs(i, "spec.fwmark", "4294967295", fwmark=2**32, address=None, port=None),
        lambda i: _bad_vs(i, "spec.address", ("required", "fwmark"), address=None),
        lambda i: _bad_vs(i, "spec.addressFamily", "fwmark", addressFamily="IPv6"),
        # persistence
        lambda i: _bad_vs(
            i, "spec.persistence.netmask", ("'255.0.255.0'", "contiguous"), persistence={"netmask": "255.0.255.0"}
        ),
        lambda i: _bad_vs(i, "spec.persistence.netmask", ("'/64'", "IPv4"), persistence={"netmask": "/64"}),
        lambda i: _bad_vs(i, "spec.persistence.timeout", "greater than or equal to 1", persistence={"timeout": 0}),
        # directors
        lambda i: _bad_vs(i, "spec.directors.gateway", ("nat", "natReturnPath"), forwarding="nat"),
        lambda i: _bad_vs(
            i, "spec.directors.interface", "'eth0:1'", directors={**DIRECTORS, "interface": "eth0:1"}
        ),
        lambda i: _bad_vs(
            i, "spec.directors.preferred", "more than once", directors={**DIRECTORS, "preferred": ["a", "b", "a"]}
        ),
        # health checks and durations
        lambda i: _bad_vs(
            i, "spec.healthCheck.interval", ("'6sec'", "duration"), healthCheck={**HC, "interval": "6sec"}
        ),
        lambda i: _bad_vs(
            i, "spec.healthCheck.connectTimeout", "'-1s'", healthCheck={**HC, "connectTimeout": "-1s"}
        ),
        lambda i: _bad_vs(
            i, "spec.healthCheck.delayBeforeRetry", "'0s'", healthCheck={**HC, "delayBeforeRetry": "0s"}
        ),
        lambda i: _bad_vs(
            i, "spec.healthCheck.retries", "greater than or equal to 1", healthCheck={**HC, "retries": 0}
        ),
        lambda i: _bad_vs(i, "spec.healthCheck.type", ("'icmp'", "'tcp'"), healthCheck={"type": "icmp"}),
        lambda i: _bad_vs(i, "spec.healthCheck.onFailure", "'drop'", healthCheck={**HC, "onFailure": "drop"}),
        lambda i: _bad_vs(
            i, "spec.healthCheck.http.path", "'healthz'", healthCheck={"type": "http", "http": {"path": "healthz"}}
        ),
        lambda i: _bad_vs(
            i,
            "spec.healthCheck.http.expectStatus[1]",
            "700",
            healthCheck={"type": "http", "http": {"path": "/", "expectStatus": [200, 700]}},
        ),
        # real servers (several of them pointing at the valid "web")
        lambda i: _bad_rs(i, "spec.weight", "greater than or equal to 0", weight=-1),
        lambda i: _bad_rs(i, "spec.weight", "65535", weight=65536),
        lambda i: _bad_rs(i, "spec.weight", "'heavy'", weight="heavy"),
        lambda i: _bad_rs(i, "spec.lowerThreshold", "200", upperThreshold=100, lowerThreshold=200),
        lambda i: _bad_rs(i, "spec.virtualServer", "required", virtualServer=None),
        lambda i: _bad_rs(i, "spec.address", "required", address=None),
        lambda i: _bad_rs(i, "spec.port", ("8080", "dr"), port=8080),
        lambda i: _bad_rs(i, "spec.virtualServer", ("'nowhere'", "does not exist"), service="nowhere"),
        lambda i: _bad_rs(i, "spec.virtualServer", ("'bad-09'", "is not accepted (InvalidSpec"), service="bad-09"),
        # unknown fields, kinds, metadata
        lambda i: _bad_vs(i, "spec.vip", "unknown field", vip="192.0.2.10"),
        lambda i: _bad_vs(i, "spec.schedular", "unknown field", schedular="rr"),
        lambda i: _bad_rs(i, "spec.wieght", "unknown field", wieght=3),
        lambda i: _bad_doc(i, "apiVersion", ("'lvs.kubelvs.io/v1'", "v1alpha1"), apiVersion="lvs.kubelvs.io/v1"),
        lambda i: _bad_doc(i, "spec", ("dictionary",), spec="192.0.2.10:80"),
        lambda i: _bad_doc(i, "metadata.name", "pattern", metadata={"name": f"Bad_{i:02d}"}),
        # a second service on a valid service's VIP:port: of two claims the first by name wins, so "zz-"
        lambda i: _bad_vs(i, "spec.address", ("TCP 192.0.2.100:80", "default/web"), "zz", address="192.0.2.100"),
    ]
    return [make(index) for index, make in enumerate(makers, start=1)]
