"""A VirtualServer's real servers from a Service: its EndpointSlices' endpoints, at which port and weight.

:func:`resolve` is the one place that decides, for the agents and the operator alike; :class:`BackendIndex`
keeps Services and EndpointSlices as they come and hands out only the real servers that changed, per
VirtualServer, so one endpoint change costs one VirtualServer's share.

Endpoints become :class:`EndpointServer` objects: RealServers in every respect the judgement, the planner
and the health checks care about (so hand-written RealServers and endpoints merge, and a destination claimed
by both goes to the older), named ``<virtualServer>@<address>:<port>``, which no API object can be called.
kube-proxy's conditions, made graceful: a ready endpoint gets the weight; a serving, terminating one weight
0 (its connections carry on, no new ones); one that is gone or not serving is no real server any more, and
the agent's drainer removes its destination once its connections end or the drain timeout passes.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from kubelvs import API_VERSION
from kubelvs.address_text import with_port
from kubelvs.api.enums import AddressFamily, Forwarding, Protocol
from kubelvs.api.models import Backends, ObjectMeta, RealServer, RealServerSpec, VirtualServer
from kubelvs.api.problems import Problem, shown
from kubelvs.api.rules import effective_forwarding, service_family
from kubelvs.api.service_objects import EndpointSlice, Service, ServicePort

ENDPOINT_MARK = "@"  # in a real server's name: an endpoint's, never an API object's (no "@" in a DNS name)
PROBLEMS_SHOWN = 5  # bad endpoints listed by address; the rest are counted


class EndpointServer(RealServer):
    """A real server standing for one endpoint of a Service: never stored in the API, no status of its own."""

    service: str  # the Service's name
    node_name: str | None = None  # the endpoint's node (where a pod's replies need their return route)
    draining: bool = False  # serving and terminating: weight 0 until it is gone
    age: str = ""  # its EndpointSlice's creationTimestamp (also in metadata, where the judgement reads it)


@dataclass(frozen=True)
class Resolution:
    """What a VirtualServer's backends resolve to now: its endpoint servers, and why some are not."""

    servers: tuple[EndpointServer, ...] = ()
    problems: tuple[Problem, ...] = ()
    service_port: ServicePort | None = None

    @property
    def ready(self) -> int:
        return sum(not server.draining for server in self.servers)


def pod_forwarding_problem(
    vs: VirtualServer, server: EndpointServer, node_addresses: frozenset[str]
) -> Problem | None:
    """Why DR or TUN cannot reach this endpoint: its address is no node's (a pod's, behind its node), while
    DR needs the VIP on the real server's own interface and TUN its tunnel device. None when it can, or when
    no node addresses are known (standalone)."""
    forwarding = effective_forwarding(vs.spec, server.spec)
    if forwarding is Forwarding.NAT or not node_addresses or server.spec.address in node_addresses:
        return None
    return Problem(
        "spec.backends",
        f"endpoint {server.spec.address} of Service {server.service!r} is a pod's address, not a node's: "
        f"{forwarding.value} forwarding reaches only nodes (hostNetwork pods); use forwarding nat",
    )


def resolve(
    vs: VirtualServer,
    service: Service | None,
    slices: Iterable[EndpointSlice],
    reuse: Mapping[tuple[str, int], EndpointServer] | None = None,
) -> Resolution:
    """The endpoint servers of ``vs``'s backends, given its Service (None: not found) and that Service's
    EndpointSlices (of any family: only the VIP's is read). ``reuse``: the servers of the last resolution,
    by (address, port); one that is still what it was is handed back as it was (a slice change builds only
    its new endpoints, and the planner finds the rest unchanged by identity)."""
    backends = vs.spec.backends
    if backends is None:
        return Resolution()
    namespace = vs.metadata.namespace
    if service is None:
        problem = Problem(
            "spec.backends.service", f"Service {backends.service!r} does not exist in namespace {namespace!r}"
        )
        return Resolution(problems=(problem,))
    port, port_problem = _service_port(backends, service)
    if port is None:
        return Resolution(problems=(port_problem,) if port_problem else ())
    wanted = _protocol(vs)
    if wanted is not None and port.protocol != wanted:
        problem = Problem(
            "spec.backends.port",
            f"Service {backends.service!r} port {_port_name(port)} is {port.protocol}, "
            f"the virtual service {wanted}",
        )
        return Resolution(problems=(problem,), service_port=port)
    family = "IPv6" if service_family(vs.spec) is AddressFamily.IPV6 else "IPv4"
    best: dict[tuple[str, int], tuple[bool, str | None, str]] = {}  # (address, port) -> (draining, node, age)
    bad: list[str] = []
    for piece in sorted(slices, key=lambda s: s.key):
        if piece.address_type != family:
            continue
        target = next(
            (p.port for p in piece.ports or () if (p.name or "") == port.name and p.protocol == port.protocol),
            None,
        )
        if target is None:
            continue  # this slice does not serve that port (kube-proxy's reading too)
        age = piece.metadata.creation_timestamp or ""
        for endpoint in piece.endpoints or ():
            conditions = endpoint.conditions
            ready = conditions.ready is not False  # unset: ready, as the API says of old producers
            serving = conditions.serving if conditions.serving is not None else ready
            terminating = conditions.terminating is True
            if not serving and not (ready and not terminating):
                continue
            draining = terminating or not ready
            address = _address(endpoint.addresses[0], family)  # the first address: the API's rule
            if address is None:
                bad.append(shown(endpoint.addresses[0]))
                continue
            found = best.get((address, target))
            if found is None or (found[0] and not draining):  # one endpoint in two slices: the ready one
                best[(address, target)] = (draining, endpoint.node_name, age)
    old = reuse or {}
    weight = backends.weight
    servers: list[EndpointServer] = []
    make = _ServerMaker(vs, backends)
    for key in sorted(best):
        draining, node, age = best[key]
        before = old.get(key)
        if (
            before is None
            or before.draining != draining
            or before.node_name != node
            or before.age != age
            or before.spec.weight != (0 if draining else weight)
        ):
            before = make(key[0], key[1], draining, node, age)
        servers.append(before)
    problems: tuple[Problem, ...] = ()
    if bad:
        listed = ", ".join(bad[:PROBLEMS_SHOWN]) + (
            f" and {len(bad) - PROBLEMS_SHOWN} more" if len(bad) > PROBLEMS_SHOWN else ""
        )
        problems = (
            Problem(
                "spec.backends.service",
                f"endpoints of Service {backends.service!r} left out: {listed} is not an {family} address",
            ),
        )
    return Resolution(tuple(servers), problems, port)


def _service_port(backends: Backends, service: Service) -> tuple[ServicePort | None, Problem | None]:
    ports = service.spec.ports or []
    name = backends.service
    if backends.port is None:
        if len(ports) == 1:
            return ports[0], None
        if not ports:
            return None, Problem("spec.backends.service", f"Service {name!r} has no ports")
        listed = ", ".join(_port_name(p) for p in ports)
        return None, Problem("spec.backends.port", f"Service {name!r} has {len(ports)} ports ({listed}): name one")
    for port in ports:
        if port.port == backends.port if isinstance(backends.port, int) else port.name == backends.port:
            return port, None
    listed = ", ".join(_port_name(p) for p in ports) or "none"
    return None, Problem(
        "spec.backends.port", f"Service {name!r} has no port {backends.port!r} (its ports: {listed})"
    )


def _port_name(port: ServicePort) -> str:
    return f"{port.name} ({port.port}/{port.protocol})" if port.name else f"{port.port}/{port.protocol}"


def _protocol(vs: VirtualServer) -> str | None:
    """The transport the virtual service carries; None for a fwmark service that does not say."""
    spec = vs.spec
    if spec.fwmark is None:
        return (spec.protocol or Protocol.TCP).value
    return spec.fwmark_match.protocol.value if spec.fwmark_match is not None else None


def _name(vs: VirtualServer, address: str, port: int) -> str:
    return f"{vs.metadata.name}{ENDPOINT_MARK}{with_port(address, port)}"  # no DNS name, on purpose


@functools.lru_cache(maxsize=65536)  # the same endpoints come back in every change of their slice
def _address(text: str, family: str) -> str | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return address.compressed if address.version == (6 if family == "IPv6" else 4) else None


def _server(
    vs: VirtualServer, backends: Backends, address: str, port: int, draining: bool, node: str | None, age: str
) -> EndpointServer:
    name = _name(vs, address, port)
    extra = {"creationTimestamp": age} if age else {}  # what the judgement's age() reads
    meta = _construct_meta(name=name, namespace=vs.metadata.namespace, labels={}, generation=None, **extra)
    # checked already: the address normalised by _address, the port by the slice's model, the weight by Backends
    spec = _construct_spec(
        virtual_server=vs.metadata.name,
        address=address,
        port=port,
        weight=0 if draining else backends.weight,
        forwarding=None,
        upper_threshold=0,
        lower_threshold=0,
    )
    construct: Any = EndpointServer.model_construct  # unvalidated on purpose (the name), typed loosely
    server: EndpointServer = construct(
        api_version=API_VERSION,
        kind="RealServer",
        metadata=meta,
        spec=spec,
        status=None,
        service=backends.service,
        node_name=node,
        draining=draining,
        age=age,
    )
    return server


_construct_meta: Any = ObjectMeta.model_construct
_construct_spec: Any = RealServerSpec.model_construct


class _ServerMaker:
    """The endpoint servers of one resolution: the first made by :func:`_server`, the others as shallow
    copies of it with their own fields written in (three ``model_construct`` calls cost about 2.6 times three
    copies, and a slice change under churn makes a dozen servers; benchmarks/README.md, P7)."""

    def __init__(self, vs: VirtualServer, backends: Backends) -> None:
        self._vs, self._backends = vs, backends
        self._first: EndpointServer | None = None

    def __call__(self, address: str, port: int, draining: bool, node: str | None, age: str) -> EndpointServer:
        first = self._first
        if first is None or bool(first.age) != bool(age):  # an empty age leaves a field unset: made in full
            server = _server(self._vs, self._backends, address, port, draining, node, age)
            if first is None:
                self._first = server
            return server
        meta = copy.copy(first.metadata)  # its extra (creationTimestamp, where age() reads it) copied too
        meta.__dict__.update(name=_name(self._vs, address, port), labels={})
        if age:
            cast(dict[str, Any], meta.__pydantic_extra__)["creationTimestamp"] = age
        spec = copy.copy(first.spec)
        spec.__dict__.update(address=address, port=port, weight=0 if draining else self._backends.weight)
        server = copy.copy(first)
        server.__dict__.update(metadata=meta, spec=spec, node_name=node, draining=draining, age=age)
        return server


class BackendIndex:
    """Services and EndpointSlices of the VirtualServers that have backends, kept as watch events or
    manifest edits bring them; :meth:`changes` says which endpoint servers to put and which to remove."""

    def __init__(self) -> None:
        self._wanting: dict[str, VirtualServer] = {}  # VirtualServer key -> it (with backends)
        self._followers: dict[str, set[str]] = {}  # Service key -> keys of the VirtualServers following it
        self._services: dict[str, Service] = {}
        self._slices: dict[str, dict[str, EndpointSlice]] = {}  # Service key -> slice key -> slice
        self._slice_service: dict[str, str] = {}  # slice key -> its Service key
        # VirtualServer key -> (address, port) -> the endpoint server handed out
        self._given: dict[str, dict[tuple[str, int], EndpointServer]] = {}
        self._resolved: dict[str, Resolution] = {}
        self._problems: dict[str, tuple[Problem, ...]] = {}  # VirtualServer key -> its backends' problems
        self._dirty: set[str] = set()

    # --- inputs --------------------------------------------------------------------------------------

    def put_virtual_server(self, vs: VirtualServer) -> None:
        """Any VirtualServer, with backends or not (one that lost them gives its endpoint servers up)."""
        self._forget_virtual_server(vs.key)
        self._dirty.add(vs.key)
        if vs.spec.backends is not None:
            self._wanting[vs.key] = vs
            self._followers.setdefault(_service_key(vs), set()).add(vs.key)

    def remove_virtual_server(self, key: str) -> None:
        self._forget_virtual_server(key)
        self._dirty.add(key)

    def put_service(self, service: Service) -> None:
        self._services[service.key] = service
        self._dirty.update(self._followers.get(service.key, ()))

    def remove_service(self, key: str) -> None:
        if self._services.pop(key, None) is not None:
            self._dirty.update(self._followers.get(key, ()))

    def put_slice(self, piece: EndpointSlice) -> None:
        self.remove_slice(piece.key)
        owner = piece.service_key
        if owner is None:
            return  # not managed for a Service: nobody follows it
        self._slice_service[piece.key] = owner
        self._slices.setdefault(owner, {})[piece.key] = piece
        self._dirty.update(self._followers.get(owner, ()))

    def remove_slice(self, key: str) -> None:
        owner = self._slice_service.pop(key, None)
        if owner is None:
            return
        slices = self._slices[owner]
        del slices[key]
        if not slices:
            del self._slices[owner]
        self._dirty.update(self._followers.get(owner, ()))

    def followed(self, service_key: str) -> bool:
        """Whether a VirtualServer follows this Service (a source need not parse the others' objects)."""
        return service_key in self._followers

    def followed_services(self) -> frozenset[str]:
        return frozenset(self._followers)

    # --- outputs -------------------------------------------------------------------------------------

    def changes(self) -> tuple[list[EndpointServer], list[str]]:
        """Endpoint servers new or changed since the last call, and keys of those that are gone."""
        put: list[EndpointServer] = []
        removed: list[str] = []
        dirty, self._dirty = self._dirty, set()
        for key in sorted(dirty):
            vs = self._wanting.get(key)
            if vs is None:
                resolution = Resolution()
                self._resolved.pop(key, None)
            else:
                service_key = _service_key(vs)
                slices = self._slices.get(service_key, {}).values()
                resolution = resolve(vs, self._services.get(service_key), slices, self._given.get(key))
                self._resolved[key] = resolution
            if resolution.problems:
                self._problems[key] = resolution.problems
            else:
                self._problems.pop(key, None)
            before = self._given.pop(key, {})
            now = {(server.spec.address, server.spec.port or 0): server for server in resolution.servers}
            if now:
                self._given[key] = now
            put.extend(server for at, server in now.items() if before.get(at) is not server)  # else made anew
            removed.extend(server.key for at, server in before.items() if at not in now)
        return put, removed

    def problems(self) -> dict[str, tuple[Problem, ...]]:
        """VirtualServer key -> why some or all of its backends are not real servers (as of :meth:`changes`)."""
        return self._problems

    def resolution(self, virtual_server: str) -> Resolution | None:
        """As of the last :meth:`changes`: None for a VirtualServer without backends."""
        return self._resolved.get(virtual_server)

    def _forget_virtual_server(self, key: str) -> None:
        old = self._wanting.pop(key, None)
        if old is None:
            return
        followers = self._followers[_service_key(old)]
        followers.discard(key)
        if not followers:
            del self._followers[_service_key(old)]


def _service_key(vs: VirtualServer) -> str:
    assert vs.spec.backends is not None
    return f"{vs.metadata.namespace}/{vs.spec.backends.service}"
