"""Builders of raw LoadBalancer Services and VIPPools for the load-balancer tests."""

from __future__ import annotations

from typing import Any

CLASS = "lvs.kubelvs.io/ipvs"


def service(
    name: str,
    *ports: tuple[str, int, str] | int,
    namespace: str = "default",
    created: str = "2026-01-01T00:00:00Z",
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    ingress: tuple[str, ...] = (),
    families: tuple[str, ...] = ("IPv4",),
    policy: str = "SingleStack",
    load_balancer_class: str | None = CLASS,
    **spec: Any,
) -> dict[str, Any]:
    """A LoadBalancer Service; a port is a number (TCP, unnamed) or (name, number, protocol)."""
    listed = [
        {"port": port, "protocol": "TCP"}
        if isinstance(port, int)
        else {"name": port[0], "port": port[1], "protocol": port[2]}
        for port in (ports or (80,))
    ]
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{namespace}-{name}",
            "creationTimestamp": created,
            "annotations": dict(annotations or {}),
            "labels": dict(labels or {}),
        },
        "spec": {
            "type": "LoadBalancer",
            "ports": listed,
            "ipFamilies": list(families),
            "ipFamilyPolicy": policy,
            **spec,
        },
    }
    if load_balancer_class is not None:
        body["spec"]["loadBalancerClass"] = load_balancer_class
    if ingress:
        body["status"] = {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "Proxy"} for ip in ingress]}}
    return body


def pool(name: str, *addresses: str, created: str = "2026-01-01T00:00:00Z", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "lvs.kubelvs.io/v1alpha1",
        "kind": "VIPPool",
        "metadata": {"name": name, "creationTimestamp": created, "generation": 1},
        "spec": {"addresses": list(addresses), **spec},
    }
