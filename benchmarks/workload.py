"""The benchmark workload: N VirtualServers x M RealServers, generated, in private/TEST-NET ranges only.

One definition serves every benchmark: as raw manifests (dicts, written as YAML for the standalone agent),
as checked models (for the planner and reconciler), and as ``ipvsadm -R`` input through the project's own
renderer (``kubelvs export`` uses the same two calls), so both sides program exactly the same rules.
Sizes come from the environment (``BENCH_SERVICES``, ``BENCH_DESTS``) so a quick trial can shrink them.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.objects import parse_object
from kubelvs.formats import ipvsadm
from kubelvs.planner import NodeFacts, ipvs_rules

logger = logging.getLogger(__name__)

API = "lvs.kubelvs.io/v1alpha1"
NAMESPACE = "bench"
VIP_BASE = ipaddress.IPv4Address("10.64.0.1")  # private, and only ever inside the guest
RIP_BASE = ipaddress.IPv4Address("10.128.0.1")
PORT = 80
DIRECTOR_LABELS = {"kubelvs.io/director": "true"}
NODE = "bench-director"
VIP_INTERFACE = "bench0"  # a dummy interface the standalone agent binds VIPs to in the guest


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def sizes() -> tuple[int, int]:
    """(services, destinations per service): the issue's 1,000 x 10 unless overridden."""
    return env_int("BENCH_SERVICES", 1000), env_int("BENCH_DESTS", 10)


def vip(index: int) -> str:
    return str(VIP_BASE + index)


def rip(service: int, dest: int, dests: int) -> str:
    return str(RIP_BASE + service * dests + dest)


def vs_name(index: int) -> str:
    return f"svc-{index:05d}"


def rs_name(service: int, dest: int) -> str:
    return f"svc-{service:05d}-rs-{dest:02d}"


def manifests(
    services: int, dests: int, weights: dict[tuple[int, int], int] | None = None
) -> list[dict[str, Any]]:
    """The raw objects: wrr services (DR, the ipvsadm default), weights 1..dests unless overridden."""
    weights = weights or {}
    objects: list[dict[str, Any]] = []
    for s in range(services):
        objects.append(
            {
                "apiVersion": API,
                "kind": "VirtualServer",
                "metadata": {"name": vs_name(s), "namespace": NAMESPACE},
                "spec": {
                    "address": vip(s),
                    "port": PORT,
                    "protocol": "TCP",
                    "scheduler": "wrr",
                    "directors": {"nodeSelector": DIRECTOR_LABELS, "interface": VIP_INTERFACE},
                },
            }
        )
        for d in range(dests):
            objects.append(
                {
                    "apiVersion": API,
                    "kind": "RealServer",
                    "metadata": {"name": rs_name(s, d), "namespace": NAMESPACE},
                    "spec": {
                        "virtualServer": vs_name(s),
                        "address": rip(s, d, dests),
                        "port": PORT,
                        "weight": weights.get((s, d), d + 1),
                    },
                }
            )
    return objects


@dataclass
class Models:
    virtual_servers: list[VirtualServer]
    real_servers: list[RealServer]


def models(objects: list[dict[str, Any]]) -> Models:
    """Parse every object as the loader does; a generated object that does not parse is a benchmark bug."""
    result = Models([], [])
    for raw in objects:
        parsed = parse_object(raw)
        if isinstance(parsed, VirtualServer):
            result.virtual_servers.append(parsed)
        elif isinstance(parsed, RealServer):
            result.real_servers.append(parsed)
        else:
            raise ValueError(f"generated object {raw['metadata']['name']} is invalid: {parsed}")
    return result


def facts() -> NodeFacts:
    """A director node with no address of the workload: IPVS rules only, as ``ipvsadm -R`` programs."""
    return NodeFacts(node=NODE, labels=DIRECTOR_LABELS)


def restore_input(loaded: Models) -> str:
    """The ``ipvsadm -R`` input of the same rules (what ``kubelvs export`` prints)."""
    services, destinations = ipvs_rules(loaded.virtual_servers, loaded.real_servers)
    lines = ipvsadm.render(services.values(), destinations.values(), thresholds=False)
    return "\n".join(lines) + "\n"


def write_yaml(path: Path, objects: list[dict[str, Any]]) -> Path:
    """One multi-document YAML file, block style, as a user would keep it (libyaml only to write it fast)."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    path.write_text(yaml.dump_all(objects, Dumper=dumper, sort_keys=False))
    return path
