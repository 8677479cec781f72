"""What kube-lvs exports, scraped for real: an agent's ``/metrics`` over HTTP and the operator's registry.

The agent's page comes from :class:`kubelvs.agent.metrics.AgentMetrics` served on 127.0.0.1, over a table that
holds a TCP, an IPv6 UDP and a fwmark service with counters (the kernel's counterpart is tested in the VM), with
health states, Leases and a reconcile pass observed, so every family has samples. The operator's page is
prometheus-client's default registry once :mod:`kubelvs.controller.metrics` is imported, as ``kubelvs
operator`` serves it. ``names(page)`` are the series names a PromQL expression may select.
"""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from collections import Counter
from collections.abc import Sequence

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kubelvs.agent.health.engine import Health
from kubelvs.agent.metrics import AgentMetrics
from kubelvs.agent.reconciler import Outcome
from kubelvs.netstate import Destination, DestKey, DestStats, Family, Proto, Service, ServiceKey, ServiceStats

WEB = ServiceKey(Family.INET, Proto.TCP, "192.0.2.10", 80)
DNS = ServiceKey(Family.INET6, Proto.UDP, "2001:db8::53", 53)
MARKED = ServiceKey(Family.INET, Proto.NONE, "", 0, fwmark=7)
DESTINATIONS = {
    DestKey(WEB, "198.51.100.1", 8080): "default/web-1",
    DestKey(WEB, "198.51.100.2", 8080): "default/web-2",
    DestKey(DNS, "2001:db8::1:53", 53): "infra/dns-1",
    DestKey(MARKED, "198.51.100.7", 0): "infra/marked-1",
}
SERVICES = {WEB: "default/web", DNS: "infra/dns", MARKED: "infra/marked"}


class CountedTable:
    """The reads of :class:`kubelvs.kernel.interfaces.IpvsTable` the metrics make, over fixed counters."""

    def services(self) -> dict[ServiceKey, Service]:
        return {key: Service(key) for key in SERVICES}

    def destinations(self, services: Sequence[ServiceKey]) -> dict[DestKey, Destination]:
        return {key: Destination(key, weight=index % 2) for index, key in enumerate(DESTINATIONS)}

    def stats(self, services: Sequence[ServiceKey]) -> dict[DestKey, DestStats]:
        return {key: DestStats(*range(index, index + 13)) for index, key in enumerate(DESTINATIONS)}

    def service_stats(self, services: Sequence[ServiceKey]) -> dict[ServiceKey, ServiceStats]:
        return {key: ServiceStats(*range(100, 110)) for key in services}


def agent_page() -> str:
    """GET /metrics of an agent serving on 127.0.0.1."""
    outcome = Outcome(Counter({"ipvs.add_service": 3}), [("default/web", "ipvs.add_destination: File exists")])
    metrics = AgentMetrics(
        "dir-a",
        CountedTable(),  # type: ignore[arg-type]  # the reads only: the metrics never write
        services=lambda: SERVICES,
        destinations=lambda: DESTINATIONS,
        health=lambda: {
            ("default/web", "default/web-1"): Health.UP,
            ("default/web", "default/web-2"): Health.DOWN,
        },
        leases=lambda: {"kubelvs-directors-a": "dir-a", "kubelvs-directors-b": None},
        weights=lambda: dict.fromkeys(DESTINATIONS, 2),
    )
    metrics.observe(0.02, outcome)
    port = metrics.serve(0, "127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
            return str(reply.read().decode())
    finally:
        metrics.close()


def operator_page() -> str:
    """The operator's registry as its /metrics serves it (the module registers its families on import)."""
    import kubelvs.controller.metrics  # noqa: F401

    return generate_latest(REGISTRY).decode()


SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
}


def names(page: str) -> set[str]:
    """Every series name of a page, those of families without samples yet included (labelled counters); a
    counter's or histogram's family name alone is none (``x_total``, ``x_bucket`` are)."""
    found: set[str] = set()
    for family in text_string_to_metric_families(page):
        suffixes = SUFFIXES.get(family.type)
        found.update([family.name] if suffixes is None else [family.name + suffix for suffix in suffixes])
        found.update(sample.name for sample in family.samples)
    return found


def exported() -> set[str]:
    """The kube-lvs series names of both pages."""
    return {name for name in names(agent_page()) | names(operator_page()) if name.startswith("kubelvs_")}


def promtool() -> str:
    """The promtool binary (Debian's prometheus package, installed by .ci/setup): missing fails, never skips."""
    found = shutil.which("promtool")
    assert found, "promtool not found: install Debian's prometheus package (.ci/setup does)"
    return found


def run_promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], input=stdin, capture_output=True, text=True, timeout=120)
