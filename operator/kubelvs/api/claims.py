"""What a VirtualServer claims on a director, and who keeps a claim that several make.

A VirtualServer claims its kernel service (``TCP 192.0.2.1:80``, ``FWM 7``); a fwmark service also claims the
traffic its ``fwmarkMatch`` marks (``TCP 192.0.2.1:80`` for each port), because IPVS looks fwmark services up
before address services, so a mark silently takes another service's packets. Those claims are exclusive. Every
VirtualServer also claims its VIP, which it may share with VirtualServers of its own namespace, and with
those of other namespaces only when both carry one ``lvs.kubelvs.io/sharing-key`` (MetalLB's
``allow-shared-ip``): a tenant cannot take over another tenant's address by adding a port to it.

Claimants are taken oldest first (``order``); each keeps its claims unless one conflicts with a claimant
already kept. Pure: objects in, problems out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from kubelvs.address_text import service_text
from kubelvs.api.models import VirtualServer
from kubelvs.api.problems import Problem
from kubelvs.api.rejections import Ordering, Rejection, SetProblem
from kubelvs.api.rules import service_identity

SHARING_KEY = "lvs.kubelvs.io/sharing-key"
_ADDRESS = "address "  # prefix of the shared claim on a VIP; service texts start with a protocol or FWM


@dataclass(frozen=True)
class Claim:
    """One thing a VirtualServer claims: ``key`` (what two claims meet on), the field that makes it."""

    key: str
    path: str
    shared: bool = False  # a VIP: several may hold it if they may share it


def claims(vs: VirtualServer) -> tuple[Claim, ...]:
    """Every claim of ``vs``: its service, the traffic its fwmarkMatch marks, its VIP."""
    spec = vs.spec
    service = Claim(service_identity(spec), "spec.fwmark" if spec.fwmark is not None else "spec.address")
    found = [service]
    match = spec.fwmark_match
    if match is not None:
        found.extend(
            Claim(service_text(str(match.protocol), match.destination, port), f"spec.fwmarkMatch.ports[{index}]")
            for index, port in enumerate(match.ports)
        )
        found.append(Claim(_ADDRESS + match.destination, "spec.fwmarkMatch.destination", shared=True))
    elif spec.address is not None:
        found.append(Claim(_ADDRESS + spec.address, "spec.address", shared=True))
    return tuple(found)


def sharing_key(vs: VirtualServer) -> str:
    """The ``lvs.kubelvs.io/sharing-key`` annotation, or "" (a non-string value shares nothing)."""
    annotations = (vs.metadata.model_extra or {}).get("annotations")
    value = annotations.get(SHARING_KEY) if isinstance(annotations, dict) else None
    return value if isinstance(value, str) else ""


def may_share(a: VirtualServer, b: VirtualServer) -> bool:
    """One namespace shares its VIPs freely; two namespaces only under one sharing key."""
    if a.metadata.namespace == b.metadata.namespace:
        return True
    key = sharing_key(a)
    return bool(key) and key == sharing_key(b)


def contest(virtual_servers: Iterable[VirtualServer], order: Ordering) -> Iterator[SetProblem]:
    """The VirtualServers that lose a claim (each once, for its first lost claim), first claimant by ``order``."""
    holders: dict[str, list[tuple[VirtualServer, Claim]]] = {}
    for vs in sorted(virtual_servers, key=order.key):
        mine = claims(vs)
        problem = next((p for p in (_conflict(vs, claim, holders, order) for claim in mine) if p), None)
        if problem is not None:
            yield problem
            continue
        for claim in mine:
            holders.setdefault(claim.key, []).append((vs, claim))


def _conflict(
    vs: VirtualServer, claim: Claim, holders: dict[str, list[tuple[VirtualServer, Claim]]], order: Ordering
) -> SetProblem | None:
    kept = holders.get(claim.key, ())
    if not claim.shared:
        if not kept:
            return None
        other, held = kept[0]
        what = claim.key
        marked_by_other = held.path.startswith("spec.fwmarkMatch")
        if marked_by_other and vs.spec.fwmark is None:
            why = f"{what} is already marked by the fwmarkMatch of {order.first}VirtualServer {other.key} "
            why += "(IPVS looks fwmark services up first, so this service would never see it)"
        elif marked_by_other:
            why = f"{what} is already marked by the fwmarkMatch of {order.first}VirtualServer {other.key}"
        elif claim.path.startswith("spec.fwmarkMatch"):
            why = f"{what} is already the service of {order.first}VirtualServer {other.key}; "
            why += "marking it would take that service's traffic (IPVS looks fwmark services up first)"
        else:
            why = f"{what} is already the service of {order.first}VirtualServer {other.key}"
        return SetProblem("VirtualServer", vs.key, Rejection.SERVICE_CONFLICT, Problem(claim.path, why))
    refusing = next((holder for holder, _ in kept if not may_share(vs, holder)), None)
    if refusing is None:
        return None
    address = claim.key.removeprefix(_ADDRESS)
    why = (
        f"{address} is already a VIP of {order.first}VirtualServer {refusing.key} in namespace "
        f"{refusing.metadata.namespace!r}; VirtualServers of two namespaces share a VIP only when both carry "
        f"the annotation {SHARING_KEY} with one value"
    )
    return SetProblem("VirtualServer", vs.key, Rejection.VIP_SHARING_REFUSED, Problem(claim.path, why))
