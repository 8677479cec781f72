"""The standalone agent reads v1 Services and EndpointSlices from its manifests: a VirtualServer's backends
become destinations, an endpoint change is one share re-planned and only the writes that differ."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from reconciling import Node
from test_reconciler_driven_by_standalone_manifests import options

from kubelvs.agent.reconciler import EditDestination
from kubelvs.agent.standalone import StandaloneAgent
from kubelvs.netstate import DestKey, Family, Proto, ServiceKey

API = "lvs.kubelvs.io/v1alpha1"
WEB = ServiceKey(Family.INET, Proto.TCP, "192.0.2.100", 80)


def virtual_server(**spec: Any) -> dict[str, Any]:
    body = {"address": "192.0.2.100", "port": 80, "forwarding": "nat", "backends": {"service": "web", "weight": 3}}
    return {"apiVersion": API, "kind": "VirtualServer", "metadata": {"name": "web"}, "spec": body | spec}


SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
}


def endpoints(*states: tuple[str, dict[str, bool]], node: str = "node-b") -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "web-abcde", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": [a], "conditions": c, "nodeName": node} for a, c in states],
    }


READY = {"ready": True, "serving": True, "terminating": False}
DRAINING = {"ready": False, "serving": True, "terminating": True}


def dest(address: str) -> DestKey:
    return DestKey(WEB, address, 8080)


def write(path: Path, *docs: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump_all(docs))


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    main, slices = tmp_path / "web.yaml", tmp_path / "slices.yaml"
    write(main, virtual_server(), SERVICE)
    write(slices, endpoints(("10.1.0.1", READY), ("10.1.0.2", READY)))
    return main, slices


def test_endpoints_become_destinations_masqueraded_by_default(files: tuple[Path, Path]) -> None:
    node = Node.new()
    agent = StandaloneAgent(options(files[0].parent), node.kernel())
    findings, outcome = agent.run_pass()
    assert findings == 0 and not outcome.errors
    assert {k: d.weight for k, d in node.ipvs.dests.items()} == {dest("10.1.0.1"): 3, dest("10.1.0.2"): 3}
    assert {rule.destination for rule in node.rules.snats} == {"10.1.0.1", "10.1.0.2"}  # natReturnPath snat


def test_a_terminating_endpoint_drains_and_a_gone_one_is_removed_one_write_each(files: tuple[Path, Path]) -> None:
    node = Node.new()
    agent = StandaloneAgent(options(files[0].parent), node.kernel())
    agent.run_pass()
    write(files[1], endpoints(("10.1.0.1", READY), ("10.1.0.2", DRAINING)))
    node.ipvs.applied.clear()
    agent.run_pass(full=False)
    assert node.ipvs.dests[dest("10.1.0.2")].weight == 0
    assert [type(op) for op in node.ipvs.applied] == [EditDestination]
    write(files[1], endpoints(("10.1.0.1", READY)))
    node.ipvs.applied.clear()
    agent.run_pass(full=False)
    assert set(node.ipvs.dests) == {dest("10.1.0.1")}  # no connections left: removed at once
    assert len(node.ipvs.applied) == 1


def test_an_endpoint_flapping_between_passes_writes_nothing(files: tuple[Path, Path]) -> None:
    node = Node.new()
    agent = StandaloneAgent(options(files[0].parent), node.kernel())
    agent.run_pass()
    write(files[1], endpoints(("10.1.0.1", READY), ("10.1.0.2", DRAINING)))
    write(files[1], endpoints(("10.1.0.1", READY), ("10.1.0.2", READY)))  # back before the next pass
    node.ipvs.applied.clear()
    agent.run_pass(full=False)
    assert node.ipvs.applied == []


def test_a_missing_service_is_said_and_hand_written_real_servers_still_serve(
    files: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    hand = {
        "apiVersion": API,
        "kind": "RealServer",
        "metadata": {"name": "web-static"},
        "spec": {"virtualServer": "web", "address": "10.1.0.9", "port": 8080},
    }
    write(files[0], virtual_server(), hand)  # no Service
    node = Node.new()
    caplog.set_level(logging.WARNING)
    StandaloneAgent(options(files[0].parent), node.kernel()).run_pass()
    assert set(node.ipvs.dests) == {dest("10.1.0.9")}
    assert (
        "VirtualServer default/web: spec.backends.service: Service 'web' does not exist in namespace 'default'"
        in (caplog.text)
    )


def test_the_pods_node_routes_its_replies_through_the_gateway(files: tuple[Path, Path]) -> None:
    route = virtual_server(natReturnPath="route", directors={"gateway": {"address": "10.1.0.254"}})
    write(files[0], route, SERVICE)
    write(files[1], endpoints(("10.1.0.1", READY), node="dir1"))  # dir1: the agent's own node
    node = Node.new()
    StandaloneAgent(options(files[0].parent), node.kernel()).run_pass()
    assert {(r.source, r.port, r.gateway) for r in node.routes.routes} == {("10.1.0.1", 8080, "10.1.0.254")}
    assert node.rules.snats == set()


def test_a_bad_endpoint_slice_is_reported_with_its_field_and_changes_nothing_else(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = endpoints(("10.1.0.3", READY)) | {
        "metadata": {"name": "web-bad", "labels": {"kubernetes.io/service-name": "web"}}
    }
    bad["addressType"] = "IPv5"
    write(files[1], endpoints(("10.1.0.1", READY)), bad)
    node = Node.new()
    findings, _ = StandaloneAgent(options(files[0].parent), node.kernel()).run_pass()
    assert findings == 1
    assert set(node.ipvs.dests) == {dest("10.1.0.1")}
    assert "EndpointSlice default/web-bad: addressType:" in capsys.readouterr().err
