"""Builders and probes for the LoadBalancer Service tests against the emulator."""

from __future__ import annotations

from typing import Any

import emulator
from conftest import API_VERSION, condition

ALLOCATED = "lvs.kubelvs.io/AddressAllocated"
CLASS = "lvs.kubelvs.io/ipvs"


def lb_service(
    name: str,
    *ports: tuple[str, int] | tuple[str, int, str],
    namespace: str = "default",
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    load_balancer_class: str | None = CLASS,
    **spec: Any,
) -> dict[str, Any]:
    """A LoadBalancer Service; ports are (name, port[, protocol])."""
    listed = [
        {"name": p[0], "port": p[1], "protocol": p[2] if len(p) > 2 else "TCP"} for p in ports or [("http", 80)]
    ]
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": annotations or {},
            "labels": labels or {},
        },
        "spec": {"type": "LoadBalancer", "ports": listed, **spec},
    }
    if load_balancer_class is not None:
        body["spec"]["loadBalancerClass"] = load_balancer_class
    return body


def vip_pool(name: str, *addresses: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "VIPPool",
        "metadata": {"name": name},
        "spec": {"addresses": list(addresses), **spec},
    }


def service(api: emulator.Client, name: str, namespace: str = "default") -> dict[str, Any]:
    found: dict[str, Any] = api.get("v1", "services", namespace, name)
    return found


def ingress(api: emulator.Client, name: str, namespace: str = "default") -> list[str]:
    listed = ((service(api, name, namespace).get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [item["ip"] for item in listed]


def allocated(api: emulator.Client, name: str, namespace: str = "default") -> dict[str, Any] | None:
    return condition(service(api, name, namespace), ALLOCATED)


def served(
    api: emulator.Client, name: str, reason: str = "Allocated", namespace: str = "default"
) -> dict[str, Any]:
    """Wait until the Service's condition has ``reason``; return the Service."""

    seen: list[Any] = []

    def probe() -> dict[str, Any] | None:
        body = service(api, name, namespace)
        found = condition(body, ALLOCATED)
        seen[:] = [found]
        return body if found is not None and found["reason"] == reason else None

    try:
        return emulator.wait_for(probe, timeout=15)
    except AssertionError:
        raise AssertionError(f"{namespace}/{name} is not {reason}: its condition is {seen}") from None


def virtual_servers(
    api: emulator.Client, service_name: str, namespace: str = "default"
) -> dict[str, dict[str, Any]]:
    """The VirtualServers labelled as made for ``service_name``, by name."""
    return {
        vs["metadata"]["name"]: vs
        for vs in api.list(API_VERSION, "virtualservers", namespace)
        if (vs["metadata"].get("labels") or {}).get("lvs.kubelvs.io/service") == service_name
    }


def pool_status(api: emulator.Client, name: str) -> dict[str, Any]:
    found: dict[str, Any] = api.get(API_VERSION, "vippools", None, name).get("status") or {}
    return found
