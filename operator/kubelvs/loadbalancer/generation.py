"""The VirtualServers a served Service gets: one per Service port and allocated address.

Named ``<service>-<port name or number>`` (``-v6`` for the IPv6 one), labelled ``lvs.kubelvs.io/service``,
owned by the Service (controller reference), following the Service's endpoints through ``spec.backends``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from kubelvs import GROUP, VERSION
from kubelvs.api.models import VirtualServerSpec
from kubelvs.api.problems import Problem, from_validation_error
from kubelvs.api.rules import virtual_server_problems
from kubelvs.loadbalancer.requests import SHARING_KEY, Request

SERVICE_LABEL = "lvs.kubelvs.io/service"
INGRESS_IP_MODE = "Proxy"  # kube-proxy then leaves the address alone: traffic reaches IPVS on the directors

Body = dict[str, Any]


def name_of(request: Request, port_ref: str | int, version: int) -> str:
    return f"{request.name}-{port_ref}" + ("-v6" if version == 6 else "")


def virtual_servers(
    request: Request, addresses: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]
) -> tuple[dict[str, Body], list[Problem]]:
    """Name -> body of every VirtualServer of ``request`` at ``addresses``; problems of the specs made (a
    setting the VirtualServer refuses, e.g. a gateway of the wrong family), which then make none."""
    made: dict[str, Body] = {}
    problems: list[Problem] = []
    for address in addresses:
        for port in request.ports:
            spec: dict[str, Any] = {
                **_copy(request.spec),
                "address": address.compressed,
                "port": port.port,
                "protocol": port.protocol,
                "backends": {"service": request.name, "port": port.ref},
            }
            gateway = request.gateways.get(address.version)
            if gateway is not None and spec.get("natReturnPath") == "route":
                spec.setdefault("directors", {})["gateway"] = {"address": gateway}
            where = f"the VirtualServer for port {port.ref}"
            try:
                model = VirtualServerSpec.model_validate(spec, by_alias=True, by_name=False)
            except ValidationError as error:
                problems.extend(from_validation_error(error, where))
                continue
            refused = [Problem(f"{where}: {p.path}", p.message) for p in virtual_server_problems(model)]
            if refused:
                problems.extend(refused)
                continue
            name = name_of(request, port.ref, address.version)
            metadata: Body = {
                "name": name,
                "namespace": request.namespace,
                "labels": {SERVICE_LABEL: request.name},
                "ownerReferences": [owner_reference(request)],
            }
            if request.sharing_key is not None:
                metadata["annotations"] = {SHARING_KEY: request.sharing_key}
            made[name] = {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "VirtualServer",
                "metadata": metadata,
                "spec": spec,
            }
    return made, problems


def owner_reference(request: Request) -> Body:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "name": request.name,
        "uid": request.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def is_generated(raw: Mapping[str, Any]) -> bool:
    """Made by this operator for a Service: the label and a controller reference to a Service."""
    meta = raw.get("metadata") if isinstance(raw.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    labels = meta.get("labels") if isinstance(meta.get("labels"), Mapping) else {}
    owners = meta.get("ownerReferences") if isinstance(meta.get("ownerReferences"), list) else []
    assert isinstance(labels, Mapping) and isinstance(owners, list)
    return SERVICE_LABEL in labels and any(
        isinstance(owner, Mapping) and owner.get("kind") == "Service" and owner.get("controller") is True
        for owner in owners
    )


def owner_uid(raw: Mapping[str, Any]) -> str | None:
    """The uid of the Service that controls a generated VirtualServer."""
    for owner in (raw.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(owner, Mapping) and owner.get("kind") == "Service" and owner.get("controller") is True:
            uid = owner.get("uid")
            return uid if isinstance(uid, str) else None
    return None


def ingress(addresses: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]) -> list[Body]:
    """``status.loadBalancer.ingress`` for the addresses."""
    return [{"ip": address.compressed, "ipMode": INGRESS_IP_MODE} for address in addresses]


def _copy(value: Mapping[str, Any]) -> dict[str, Any]:
    return {key: (_copy(item) if isinstance(item, Mapping) else item) for key, item in value.items()}
