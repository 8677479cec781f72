"""A VirtualServer whose backends follow a Service: the operator counts the Service's endpoints with its
RealServers, says NoReadyBackends when none is ready, and announces a missing Service or port once."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import add_node, condition, events, fetch, real_server, report, settled, virtual_server
from emulator import wait_for

pytestmark = pytest.mark.usefixtures("operator")

READY = {"ready": True, "serving": True, "terminating": False}
DRAINING = {"ready": False, "serving": True, "terminating": True}


def service(name: str, *ports: str) -> dict[str, Any]:
    spec = {"ports": [{"name": port, "port": 80 + index} for index, port in enumerate(ports)]}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


def endpoint_slice(name: str, service: str, *states: tuple[str, dict[str, bool]]) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": "default", "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080}],
        "endpoints": [{"addresses": [a], "conditions": c} for a, c in states],
    }


def ready_of(api: Any, name: str) -> tuple[Any, ...]:
    status = fetch(api, "virtualservers", name).get("status") or {}
    ready = condition({"status": status}, "Ready") or {}
    return (status.get("ready"), ready.get("reason"))


@pytest.fixture(scope="module", autouse=True)
def objects(api: Any, operator: Any) -> None:
    backends = {"service": "web", "port": "http"}
    checked = {"forwarding": "nat", "backends": backends, "healthCheck": {"type": "tcp"}}
    api.create("virtualservers", virtual_server("web", address="192.0.2.70", **checked))
    api.create("realservers", real_server("web-static", "web", address="10.0.0.70", port=8080))
    api.create("services", service("web", "http"))
    api.create("endpointslices", endpoint_slice("web-a", "web", ("10.1.0.1", READY), ("10.1.0.2", DRAINING)))
    settled(api, "virtualservers", "web", "Accepted", "True")
    report(api, "virtualservers", "web", activeDirector="node-a", programmedGeneration=1)


def test_endpoints_count_beside_the_real_servers(api: Any) -> None:
    # web-static has no health report yet: not ready; the draining endpoint counts, but not as ready
    assert wait_for(lambda: ready_of(api, "web") == ("1/3", "Ready"))


def test_no_ready_endpoint_is_no_ready_backends(api: Any) -> None:
    api.patch("discovery.k8s.io/v1", "endpointslices", "default", "web-a",
              {"endpoints": [{"addresses": ["10.1.0.2"], "conditions": DRAINING}]})  # fmt: skip
    assert wait_for(lambda: ready_of(api, "web") == ("0/2", "NoReadyBackends"))


def test_a_missing_port_is_announced_once_and_named_in_ready(api: Any) -> None:
    api.patch("v1", "services", "default", "web", {"spec": {"ports": [{"name": "https", "port": 443}]}})
    assert wait_for(lambda: ready_of(api, "web") == ("0/1", "BackendsNotFound"))
    message = condition(fetch(api, "virtualservers", "web"), "Ready")["message"]
    assert "Service 'web' has no port 'http' (its ports: https (443/TCP))" in message
    found = wait_for(lambda: events(api, "VirtualServer", "web", "BackendsNotFound"))
    assert found[0]["type"] == "Warning" and "has no port 'http'" in found[0]["message"]
    report(api, "virtualservers", "web", activeDirector="node-a")  # another pass: no second Event
    settled(api, "virtualservers", "web", "Ready", "False", "BackendsNotFound")
    assert len(events(api, "VirtualServer", "web", "BackendsNotFound")) == 1


def test_a_missing_service_is_announced(api: Any) -> None:
    api.delete("v1", "services", "default", "web")
    found = wait_for(lambda: [e for e in events(api, "VirtualServer", "web", "BackendsNotFound")
                              if "does not exist" in e["message"]])  # fmt: skip
    assert "Service 'web' does not exist in namespace 'default'" in found[0]["message"]
    api.create("services", service("web", "http"))
    assert wait_for(lambda: ready_of(api, "web") == ("0/2", "NoReadyBackends"))


def test_dr_to_a_pod_address_is_refused_and_said(api: Any) -> None:
    add_node(api, "node-b", "198.51.100.20")
    backends = {"service": "hostnet", "port": "http"}
    api.create(
        "virtualservers", virtual_server("hostnet", address="192.0.2.71", forwarding="dr", backends=backends)
    )
    api.create("services", service("hostnet", "http"))
    slice_ = endpoint_slice("hostnet-a", "hostnet", ("198.51.100.20", READY), ("10.1.0.9", READY))
    slice_["ports"] = [{"name": "http", "port": 80}]  # DR cannot remap the port
    api.create("endpointslices", slice_)
    settled(api, "virtualservers", "hostnet", "Accepted", "True")
    report(api, "virtualservers", "hostnet", activeDirector="node-a", programmedGeneration=1)
    assert wait_for(lambda: ready_of(api, "hostnet") == ("1/1", "Ready"))  # the hostNetwork endpoint only
    refused = wait_for(lambda: events(api, "VirtualServer", "hostnet", "BackendsRefused"))
    assert "endpoint 10.1.0.9 of Service 'hostnet' is a pod's address, not a node's" in refused[0]["message"]
