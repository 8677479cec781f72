"""Builders of VirtualServer / RealServer models (and the Services and EndpointSlices backends follow) for
planner and reconciler tests."""

from __future__ import annotations

from typing import Any

from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.objects import parse_object
from kubelvs.api.service_objects import EndpointSlice, Service, parse_service_object


def vs(name: str = "web", **spec: Any) -> VirtualServer:
    body = {"address": "192.0.2.100", "port": 80} | spec
    body = {k: v for k, v in body.items() if v is not None}
    parsed = parse_object(
        {
            "apiVersion": "lvs.kubelvs.io/v1alpha1",
            "kind": "VirtualServer",
            "metadata": {"name": name, "namespace": "default"},
            "spec": body,
        }
    )
    assert isinstance(parsed, VirtualServer), parsed
    return parsed


def rs(name: str, address: str, virtual_server: str = "web", **spec: Any) -> RealServer:
    parsed = parse_object(
        {
            "apiVersion": "lvs.kubelvs.io/v1alpha1",
            "kind": "RealServer",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"virtualServer": virtual_server, "address": address} | spec,
        }
    )
    assert isinstance(parsed, RealServer), parsed
    return parsed


def service(name: str = "web", ports: list[dict[str, Any]] | None = None, namespace: str = "default") -> Service:
    parsed = parse_service_object(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"ports": ports if ports is not None else [{"name": "http", "port": 80, "targetPort": 8080}]},
        }
    )
    assert isinstance(parsed, Service), parsed
    return parsed


def endpoint(address: str, ready: bool | None = True, serving: bool | None = None, terminating: bool | None = None,
             node: str | None = None) -> dict[str, Any]:  # fmt: skip
    conditions = {
        k: v for k, v in (("ready", ready), ("serving", serving), ("terminating", terminating)) if v is not None
    }
    found: dict[str, Any] = {"addresses": [address], "conditions": conditions}
    if node is not None:
        found["nodeName"] = node
    return found


def endpoint_slice(
    name: str,
    endpoints: list[dict[str, Any]],
    service: str = "web",
    address_type: str = "IPv4",
    ports: list[dict[str, Any]] | None = None,
    namespace: str = "default",
    created: str | None = None,
) -> EndpointSlice:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": {"kubernetes.io/service-name": service},
    }
    if created is not None:
        meta["creationTimestamp"] = created
    parsed = parse_service_object(
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": meta,
            "addressType": address_type,
            "endpoints": endpoints,
            "ports": ports if ports is not None else [{"name": "http", "port": 8080, "protocol": "TCP"}],
        }
    )
    assert isinstance(parsed, EndpointSlice), parsed
    return parsed
