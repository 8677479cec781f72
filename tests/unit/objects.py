"""Builders of VirtualServer / RealServer models for planner and reconciler tests."""

from __future__ import annotations

from typing import Any

from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.objects import parse_object


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
