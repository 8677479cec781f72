"""A VirtualServer's backends resolve to its Service's endpoints as kube-proxy reads them, made graceful:
ready -> the weight, serving and terminating -> weight 0, not serving or gone -> no real server."""

from __future__ import annotations

from typing import Any

import pytest
from objects import endpoint, endpoint_slice, service, vs

from kubelvs.api.backends import BackendIndex, EndpointServer, resolve
from kubelvs.api.judgement import Placement, judge
from kubelvs.api.objects import parse_object
from kubelvs.api.rejections import Rejection
from kubelvs.api.service_objects import parse_service_object

BACKENDS = {"service": "web", "port": "http", "weight": 5}


def web(**spec: Any) -> Any:
    return vs("web", **({"forwarding": "nat", "backends": BACKENDS} | spec))


def servers(resolution: Any) -> list[tuple[str, int, int, bool]]:
    return [(s.spec.address, s.spec.port, s.spec.weight, s.draining) for s in resolution.servers]


def test_each_endpoint_condition_maps_to_a_weight_or_to_nothing() -> None:
    piece = endpoint_slice(
        "web-a",
        [
            endpoint("10.1.0.1"),  # ready
            endpoint("10.1.0.2", ready=False, serving=True, terminating=True),  # draining
            endpoint("10.1.0.3", ready=False, serving=False, terminating=True),  # gone for new and old
            endpoint("10.1.0.4", ready=False),  # not ready, serving unset: follows ready
            endpoint("10.1.0.5", ready=None),  # unset: ready, as the API says of old producers
        ],
    )
    found = resolve(web(), service(), [piece])
    assert servers(found) == [
        ("10.1.0.1", 8080, 5, False),
        ("10.1.0.2", 8080, 0, True),
        ("10.1.0.5", 8080, 5, False),
    ]
    assert found.problems == () and found.ready == 2
    assert found.servers[0].key == "default/web@10.1.0.1:8080"


def test_slices_merge_and_an_endpoint_in_two_slices_counts_once_as_its_best_state() -> None:
    a = endpoint_slice(
        "web-a", [endpoint("10.1.0.1"), endpoint("10.1.0.2", ready=False, serving=True, terminating=True)]
    )
    b = endpoint_slice("web-b", [endpoint("10.1.0.2"), endpoint("10.1.0.3")])
    assert servers(resolve(web(), service(), [a, b])) == [
        ("10.1.0.1", 8080, 5, False),
        ("10.1.0.2", 8080, 5, False),
        ("10.1.0.3", 8080, 5, False),
    ]


@pytest.mark.parametrize("port", ["http", 80, None])
def test_the_service_port_is_found_by_name_or_number_or_alone(port: object) -> None:
    backends = {"service": "web"} | ({"port": port} if port is not None else {})
    found = resolve(web(backends=backends), service(), [endpoint_slice("web-a", [endpoint("10.1.0.1")])])
    assert servers(found) == [("10.1.0.1", 8080, 1, False)]


def test_the_endpoint_slice_port_is_matched_by_the_service_ports_name_and_protocol() -> None:
    two = service(ports=[{"name": "http", "port": 80}, {"name": "metrics", "port": 9090}])
    piece = endpoint_slice(
        "web-a",
        [endpoint("10.1.0.1")],
        ports=[{"name": "metrics", "port": 19090}, {"name": "http", "port": 8080, "protocol": "UDP"}],
    )
    assert servers(resolve(web(backends={"service": "web", "port": "metrics"}), two, [piece])) == [
        ("10.1.0.1", 19090, 1, False)
    ]
    # http is TCP in the Service; the slice's http is UDP: not the same port, so no endpoints
    assert resolve(web(backends={"service": "web", "port": 80}), two, [piece]).servers == ()


def test_only_the_vips_family_is_read() -> None:
    v4 = endpoint_slice("web-v4", [endpoint("10.1.0.1")])
    v6 = endpoint_slice("web-v6", [endpoint("fd00::0001")], address_type="IPv6")
    assert servers(resolve(web(), service(), [v4, v6])) == [("10.1.0.1", 8080, 5, False)]
    assert servers(resolve(web(address="2001:db8::10"), service(), [v4, v6])) == [("fd00::1", 8080, 5, False)]


@pytest.mark.parametrize(
    ("backends", "the_service", "field", "words"),
    [
        ({"service": "api"}, None, "spec.backends.service", "Service 'api' does not exist in namespace 'default'"),
        ({"service": "web", "port": "grpc"}, "one", "spec.backends.port", "has no port 'grpc' (its ports: http"),
        ({"service": "web", "port": 443}, "one", "spec.backends.port", "has no port 443"),
        ({"service": "web"}, "two", "spec.backends.port", "has 2 ports (http (80/TCP), dns (53/UDP)): name one"),
        ({"service": "web", "port": "dns"}, "two", "spec.backends.port", "is UDP, the virtual service TCP"),
        ({"service": "web"}, "none", "spec.backends.service", "Service 'web' has no ports"),
    ],
)
def test_a_missing_service_or_port_is_named(backends: Any, the_service: Any, field: str, words: str) -> None:
    services = {
        None: None,
        "one": service(),
        "two": service(ports=[{"name": "http", "port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}]),
        "none": service(ports=[]),
    }
    found = resolve(
        web(backends=backends), services[the_service], [endpoint_slice("web-a", [endpoint("10.1.0.1")])]
    )
    assert found.servers == ()
    assert [p.path for p in found.problems] == [field]
    assert words in found.problems[0].message


def test_an_address_that_is_not_of_the_slices_family_costs_only_its_endpoint() -> None:
    piece = endpoint_slice("web-a", [endpoint("10.1.0.1"), endpoint("fd00::1"), endpoint("not-an-address")])
    found = resolve(web(), service(), [piece])
    assert servers(found) == [("10.1.0.1", 8080, 5, False)]
    assert "'fd00::1', 'not-an-address' is not an IPv4 address" in found.problems[0].message


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"addressType": "IPv4", "endpoints": [{"addresses": []}]}, "endpoints[0].addresses"),
        ({"addressType": "IPv5"}, "addressType"),
        ({"addressType": "IPv4", "ports": [{"port": 70000}]}, "ports[0].port"),
        (
            {"addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": "yes"}}]},
            "endpoints[0].conditions.ready",
        ),
        ({"addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}] * 1001}, "endpoints"),
    ],
)
def test_a_bad_endpoint_slice_names_its_field(raw: dict[str, Any], field: str) -> None:
    body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "x"}} | raw
    problems = parse_service_object(body)
    assert isinstance(problems, list)
    assert problems[0].path == field


def test_backends_are_validated_with_their_field() -> None:
    for backends, field in (
        ({"service": "Web"}, "spec.backends.service"),
        ({"service": "web", "port": 0}, "spec.backends.port"),
        ({"service": "web", "port": "HTTP"}, "spec.backends.port"),
        ({"service": "web", "port": True}, "spec.backends.port"),
        ({"service": "web", "weight": 70000}, "spec.backends.weight"),
        ({"service": "web", "extra": 1}, "spec.backends.extra"),
    ):
        parsed = parse_object(
            {
                "apiVersion": "lvs.kubelvs.io/v1alpha1",
                "kind": "VirtualServer",
                "metadata": {"name": "web"},
                "spec": {"address": "192.0.2.1", "port": 80, "backends": backends},
            }
        )
        assert isinstance(parsed, list), backends
        assert parsed[0].path == field, (backends, parsed)


def test_nat_return_path_defaults_to_snat_with_backends_only() -> None:
    from kubelvs.api.enums import NatReturnPath
    from kubelvs.api.rules import effective_nat_return_path

    assert effective_nat_return_path(web().spec) is NatReturnPath.SNAT
    assert (
        effective_nat_return_path(vs("plain", forwarding="nat", natReturnPath="snat").spec) is NatReturnPath.SNAT
    )
    assert (
        effective_nat_return_path(
            web(natReturnPath="route", directors={"gateway": {"address": "10.1.0.254"}}).spec
        )
        is NatReturnPath.ROUTE
    )


def test_the_index_hands_out_only_what_changed() -> None:
    index = BackendIndex()
    index.put_virtual_server(web())
    index.put_service(service())
    index.put_slice(endpoint_slice("web-a", [endpoint("10.1.0.1"), endpoint("10.1.0.2")]))
    put, removed = index.changes()
    assert sorted(s.spec.address for s in put) == ["10.1.0.1", "10.1.0.2"] and removed == []
    assert index.changes() == ([], [])
    index.put_slice(
        endpoint_slice(
            "web-a", [endpoint("10.1.0.1"), endpoint("10.1.0.2", ready=False, serving=True, terminating=True)]
        )
    )
    put, removed = index.changes()
    assert [(s.spec.address, s.spec.weight) for s in put] == [("10.1.0.2", 0)] and removed == []
    index.put_slice(endpoint_slice("web-a", [endpoint("10.1.0.1")]))
    assert index.changes() == ([], ["default/web@10.1.0.2:8080"])
    index.put_slice(endpoint_slice("other", [endpoint("10.9.0.1")], service="api"))  # nobody follows api
    assert index.changes() == ([], []) and not index.followed("default/api")
    index.remove_service("default/web")
    put, removed = index.changes()
    assert put == [] and removed == ["default/web@10.1.0.1:8080"]
    assert "does not exist" in index.problems()["default/web"][0].message
    index.put_service(service())
    index.put_virtual_server(vs("web"))  # backends dropped
    assert index.changes() == ([], []) and index.problems() == {}


def hand_written(name: str, address: str, created: str) -> Any:
    parsed = parse_object(
        {
            "apiVersion": "lvs.kubelvs.io/v1alpha1",
            "kind": "RealServer",
            "metadata": {"name": name, "namespace": "default", "creationTimestamp": created},
            "spec": {"virtualServer": "web", "address": address, "port": 8080},
        }
    )
    assert not isinstance(parsed, list), parsed
    return parsed


def test_hand_written_and_endpoint_real_servers_merge_and_the_older_keeps_a_shared_destination() -> None:
    piece = endpoint_slice("web-a", [endpoint("10.1.0.1"), endpoint("10.1.0.2")], created="2026-06-01T00:00:00Z")
    found = resolve(web(), service(), [piece])
    older = hand_written("old", "10.1.0.1", "2026-01-01T00:00:00Z")
    newer = hand_written("new", "10.1.0.2", "2026-12-01T00:00:00Z")
    apart = hand_written("apart", "10.1.0.9", "2026-12-01T00:00:00Z")
    tribunal = judge([web(), older, newer, apart, *found.servers])
    verdicts = {
        key: tribunal.verdict("RealServer", key).rejection  # type: ignore[union-attr]
        for key in (
            "default/old",
            "default/new",
            "default/apart",
            "default/web@10.1.0.1:8080",
            "default/web@10.1.0.2:8080",
        )
    }
    assert verdicts == {
        "default/old": None,
        "default/new": Rejection.DUPLICATE_DESTINATION,
        "default/apart": None,
        "default/web@10.1.0.1:8080": Rejection.DUPLICATE_DESTINATION,
        "default/web@10.1.0.2:8080": None,
    }


def test_dr_to_a_pod_address_is_refused_where_node_addresses_are_known() -> None:
    dr = web(forwarding="dr", backends={"service": "web", "port": "http"})
    piece = endpoint_slice(
        "web-a", [endpoint("10.1.0.1"), endpoint("198.51.100.7")], ports=[{"name": "http", "port": 80}]
    )
    found = resolve(dr, service(), [piece])
    nodes = Placement(node_addresses={"n1": frozenset({"198.51.100.7"})})
    tribunal = judge([dr, *found.servers], nodes)
    pod = tribunal.verdict("RealServer", "default/web@10.1.0.1:80")
    assert pod.rejection is Rejection.INCOMPATIBLE and "is a pod's address, not a node's" in pod.message
    assert tribunal.verdict("RealServer", "default/web@198.51.100.7:80").accepted  # a hostNetwork pod
    assert isinstance(found.servers[0], EndpointServer)
    assert judge([dr, *found.servers]).verdict("RealServer", "default/web@10.1.0.1:80").accepted  # standalone
