"""A pass's writes, applied, leave nothing to write; defaults the API server fills into a generated
VirtualServer, others' labels and kopf's annotations are no difference; a hand-written VirtualServer of the
same name is never touched; what no served Service wants any more is deleted."""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

from lb_objects import pool, service

from kubelvs.loadbalancer import passes
from kubelvs.loadbalancer.passes import World, Writes

AT = "2026-12-04T00:00:00Z"


def merged(old: Any, patch: Any) -> Any:
    if not isinstance(patch, dict) or not isinstance(old, dict):
        return copy.deepcopy(patch)
    out = dict(old)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merged(out.get(key), value)
    return out


def apply(world: World, writes: Writes) -> World:
    """The writes as an API server would store them (merge patches, creations, deletions)."""
    services = {key: copy.deepcopy(dict(raw)) for key, raw in world.services.items()}
    virtual_servers = {key: copy.deepcopy(dict(raw)) for key, raw in world.virtual_servers.items()}
    pools = {key: copy.deepcopy(dict(raw)) for key, raw in world.pools.items()}
    for body in writes.create:
        virtual_servers[f"{body['metadata']['namespace']}/{body['metadata']['name']}"] = copy.deepcopy(body)
    for key, patch in writes.replace.items():
        virtual_servers[key] = merged(virtual_servers[key], patch)
    for key in writes.delete:
        del virtual_servers[key]
    for key, status in writes.service_status.items():
        services[key]["status"] = merged(services[key].get("status") or {}, status)
    for name, status in writes.pool_status.items():
        pools[name]["status"] = merged(pools[name].get("status") or {}, status)
    return World(services, pools, world.namespaces, virtual_servers)


def world(*bodies: dict[str, Any], virtual_servers: dict[str, dict[str, Any]] | None = None) -> World:
    services = {f"{b['metadata']['namespace']}/{b['metadata']['name']}": b for b in bodies}
    return World(services, {"public": pool("public", "192.0.2.0/29")}, {}, virtual_servers or {})


def test_a_second_pass_writes_nothing() -> None:
    first = world(service("web", ("http", 80, "TCP"), ("https", 443, "TCP")), service("api", 8080))
    writes = passes.plan(first, False, (), AT)
    assert len(writes.create) == 3 and len(writes.service_status) == 2 and writes.pool_status
    assert [n.reason for n in writes.notices] == ["Allocated", "Allocated"]
    second = apply(first, writes)
    again = passes.plan(second, False, (), AT)
    assert again == Writes()


def test_server_defaults_others_labels_and_kopf_annotations_are_no_difference() -> None:
    first = world(service("web"))
    second = apply(first, passes.plan(first, False, (), AT))
    stored = second.virtual_servers["default/web-80"]
    stored["spec"] |= {"scheduler": "wlc", "directors": {}}  # what the CRD's defaults add
    stored["metadata"]["labels"]["team"] = "shop"
    stored["metadata"]["annotations"] = {"lvs.kubelvs.io/last-handled-configuration": "{}"}
    assert passes.plan(second, False, (), AT).replace == {}
    stored["spec"]["port"] = 81  # someone edited what the operator owns: put back
    assert passes.plan(second, False, (), AT).replace == {"default/web-80": {"spec": {"port": 80}}}


def test_a_hand_written_namesake_is_never_touched() -> None:
    theirs = {
        "apiVersion": "lvs.kubelvs.io/v1alpha1",
        "kind": "VirtualServer",
        "metadata": {"name": "web-80", "namespace": "default"},
        "spec": {"address": "192.0.2.99", "port": 80},
    }
    writes = passes.plan(world(service("web"), virtual_servers={"default/web-80": theirs}), False, (), AT)
    assert writes.create == [] and writes.replace == {} and writes.delete == []
    condition = writes.service_status["default/web"]["conditions"][-1]
    assert (condition["status"], condition["reason"]) == ("False", "NameTaken")
    assert "web-80" in condition["message"]


def test_what_no_served_service_wants_is_deleted_and_its_status_taken_back() -> None:
    first = world(service("web"), service("gone"))
    second = apply(first, passes.plan(first, False, (), AT))
    changed = copy.deepcopy(dict(second.services))
    changed["default/web"]["spec"]["type"] = "ClusterIP"
    del changed["default/gone"]
    third = World(changed, second.pools, {}, second.virtual_servers)
    writes = passes.plan(third, False, (), AT)
    assert writes.delete == ["default/gone-80", "default/web-80"]
    assert writes.service_status == {"default/web": {"loadBalancer": {"ingress": None}, "conditions": []}}


def test_a_pool_outside_the_bound_is_refused() -> None:
    bound = (ipaddress.ip_network("198.51.100.0/24"),)
    writes = passes.plan(world(service("web")), False, bound, AT)
    condition = writes.pool_status["public"]["conditions"][0]
    assert (condition["status"], condition["reason"]) == ("False", "OutsideVipPools")
    assert writes.create == []
    assert writes.service_status["default/web"]["conditions"][-1]["reason"] == "NoPool"
