"""Whatever Services, requests, keys and earlier statuses there are: one address never holds two Services
that may not share it, every address lies in a pool that admits its Service, and allocating again from the
statuses written gives the same answer (an operator restart, a new leader)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from lb_objects import pool, service

from kubelvs.loadbalancer import passes
from kubelvs.loadbalancer.allocator import allocate, usable
from kubelvs.loadbalancer.requests import Request, read

POOLS = (pool("a", "192.0.2.0/30"), pool("b", "192.0.2.8-192.0.2.9", "2001:db8::/127", autoAssign=False))
ADDRESSES = ["192.0.2.0", "192.0.2.1", "192.0.2.3", "192.0.2.8", "192.0.2.9", "198.51.100.1", "2001:db8::1"]


@st.composite
def services(draw: st.DrawFn) -> list[dict[str, Any]]:
    made = []
    for index in range(draw(st.integers(1, 9))):
        annotations = {}
        if draw(st.booleans()):
            annotations["lvs.kubelvs.io/sharing-key"] = draw(st.sampled_from(["x", "y"]))
        if draw(st.integers(0, 3)) == 0:
            annotations["lvs.kubelvs.io/address"] = draw(st.sampled_from(ADDRESSES))
        if draw(st.integers(0, 3)) == 0:
            annotations["lvs.kubelvs.io/pool"] = draw(st.sampled_from(["a", "b"]))
        ports = draw(
            st.lists(
                st.sampled_from([("", 80, "TCP"), ("", 53, "UDP"), ("", 443, "TCP")]),
                min_size=1,
                max_size=2,
                unique=True,
            )
        )
        ingress = tuple(draw(st.lists(st.sampled_from(ADDRESSES), max_size=2, unique=True)))
        made.append(
            service(
                f"s{index}",
                *ports,
                namespace=draw(st.sampled_from(["default", "other"])),
                created=f"2026-01-01T00:00:{draw(st.integers(0, 5)):02d}Z",
                annotations=annotations,
                ingress=ingress,
                families=draw(st.sampled_from([("IPv4",), ("IPv6",), ("IPv4", "IPv6")])),
                policy=draw(st.sampled_from(["SingleStack", "PreferDualStack", "RequireDualStack"])),
            )
        )
    return made


def compatible(one: Request, other: Request) -> bool:
    return (
        one.sharing_key is not None
        and one.sharing_key == other.sharing_key
        and one.namespace == other.namespace
        and not {(p.protocol, p.port) for p in one.ports} & {(p.protocol, p.port) for p in other.ports}
    )


def allocated(bodies: list[dict[str, Any]]) -> dict[str, tuple[str, ...]]:
    kept, _ = usable(passes._pools({p["metadata"]["name"]: p for p in POOLS})[0])
    got = allocate([read(body) for body in bodies], kept, {})
    return {key: tuple(a.compressed for a in value) for key, value in got.addresses.items()}


@settings(max_examples=300, deadline=None)
@given(services())
def test_no_address_holds_two_services_that_may_not_share_it(bodies: list[dict[str, Any]]) -> None:
    requests = {read(body).key: read(body) for body in bodies}
    got = allocated(bodies)
    holders: dict[str, list[Request]] = {}
    for key, addresses in got.items():
        request = requests[key]
        assert len({a.count(":") > 0 for a in addresses}) == len(addresses), "one address per family"
        for address in addresses:
            assert not address.startswith("198.51.100."), "outside every pool"
            holders.setdefault(address, []).append(request)
    for address, sharing in holders.items():
        for index, one in enumerate(sharing):
            for other in sharing[index + 1 :]:
                assert compatible(one, other), f"{address}: {one.key} and {other.key} may not share it"
    # what was allocated, written to the statuses, is allocated again
    recorded = []
    for body in bodies:
        key = f"{body['metadata']['namespace']}/{body['metadata']['name']}"
        ingress = [{"ip": ip, "ipMode": "Proxy"} for ip in got.get(key, ())]
        recorded.append({**body, "status": {"loadBalancer": {"ingress": ingress}}})
    assert allocated(list(reversed(recorded))) == got
