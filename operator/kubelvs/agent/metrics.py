"""Prometheus metrics of the node agent, served by prometheus-client on ``--metrics-port``.

Kernel counters are read at scrape time by a custom collector (no background polling): per scrape, the
destinations' counters and weights and one dump of the services' own counters, for the services the agent
programs. What the collector reports comes from sources the agent hands in as plain callables, so the collector
knows nothing of the reconciler, the election or the health engine, and can be pointed at the real kernel gateway
alone (``IpvsCollector(ipvs)`` reports every service in the table, unnamed).

Names and labels follow node_exporter's ipvs collector, so its ``node_ipvs_*`` series join ours:
``local_address``, ``local_port``, ``proto``, ``local_mark`` name the IPVS service, ``remote_address`` and
``remote_port`` the destination; ``virtual_server`` and ``real_server`` are "namespace/name" of the CRs. The
virtual-server counters are the kernel's own per service (``ipvsadm -Ln --stats`` on the service line), which keep
what deleted destinations counted.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from kubelvs.agent import health_endpoints
from kubelvs.agent.health.engine import Health
from kubelvs.agent.health_endpoints import Readiness
from kubelvs.agent.reconciler import Outcome
from kubelvs.kernel.interfaces import IpvsTable
from kubelvs.netstate import DestKey, DestStats, ServiceKey, ServiceStats

logger = logging.getLogger(__name__)

DEFAULT_PORT = 9641

ServiceNames = Callable[[], Mapping[ServiceKey, str]]
"""The IPVS services to report -> "namespace/name" of the VirtualServer each belongs to."""
DestinationNames = Callable[[], Mapping[DestKey, str]]
"""IPVS destinations -> "namespace/name" of the RealServer (unnamed ones, e.g. draining, report "")."""
HealthStates = Callable[[], Mapping[tuple[str, str], Health]]
"""(virtual_server, real_server) -> the health engine's current state."""
LeaseHolders = Callable[[], Mapping[str, str | None]]
"""Director group (its Lease name) -> holder node, None while nobody holds it."""
ConfiguredWeights = Callable[[], Mapping[DestKey, int]]
"""IPVS destinations -> the weight their RealServer asks for (what the kernel has may be 0: draining, failed)."""

SERVICE_LABELS = ["local_address", "local_port", "proto", "local_mark"]
"""The labels of an IPVS service, node_exporter's (``node_ipvs_backend_*``), for joins with its series."""


def service_labels(key: ServiceKey) -> list[str]:
    """``local_address``, ``local_port``, ``proto``, ``local_mark`` of a service, spelt as node_exporter's ipvs
    collector spells them (it reads /proc/net/ip_vs): "TCP", "UDP", "SCTP"; a fwmark service is "FWM" with its
    mark as the kernel prints it (8 upper-case hex digits), no address and port 0; so the two join on them."""
    if key.fwmark:
        return ["", "0", "FWM", f"{key.fwmark:08X}"]
    return [key.address, str(key.port), key.protocol.name, ""]


def _counters(stats: DestStats | ServiceStats) -> list[tuple[str, int]]:
    """(family, value) of the counters and rates a destination and a service both carry."""
    return [
        ("connections", stats.conns),
        ("incoming_packets", stats.inpkts),
        ("outgoing_packets", stats.outpkts),
        ("incoming_bytes", stats.inbytes),
        ("outgoing_bytes", stats.outbytes),
        ("connections_per_second", stats.cps),
        ("incoming_packets_per_second", stats.inpps),
        ("outgoing_packets_per_second", stats.outpps),
        ("incoming_bytes_per_second", stats.inbps),
        ("outgoing_bytes_per_second", stats.outbps),
    ]


class _Families:
    """The metric families of one scrape about real servers or virtual servers, named as node_exporter's
    ``node_ipvs_*``: counters end in ``_total``, the kernel's rate estimates in ``_per_second``."""

    def __init__(self, prefix: str, labels: list[str]) -> None:
        what = prefix.removeprefix("kubelvs_").replace("_", " ")
        self.families: dict[str, Metric] = {}
        for name, doc in (
            ("connections", f"Connections scheduled to the {what}."),
            ("incoming_packets", f"Packets from clients through the {what}."),
            (
                "outgoing_packets",
                f"Packets to clients through the {what} (NAT only: DR, TUN replies bypass it).",
            ),
            ("incoming_bytes", f"Bytes from clients through the {what}."),
            ("outgoing_bytes", f"Bytes to clients through the {what} (NAT only)."),
        ):
            self.families[name] = CounterMetricFamily(f"{prefix}_{name}", doc, labels=labels)
        for name, doc in (
            ("connections_per_second", f"Connections per second to the {what} (estimated)."),
            (
                "incoming_packets_per_second",
                f"Packets per second from clients through the {what} (estimated).",
            ),
            (
                "outgoing_packets_per_second",
                f"Packets per second to clients through the {what} (estimated).",
            ),
            ("incoming_bytes_per_second", f"Bytes per second from clients through the {what} (estimated)."),
            ("outgoing_bytes_per_second", f"Bytes per second to clients through the {what} (estimated)."),
        ):
            self.families[name] = GaugeMetricFamily(f"{prefix}_{name}", doc, labels=labels)

    def add(self, labels: list[str], stats: DestStats | ServiceStats) -> None:
        for name, value in _counters(stats):
            family = self.families[name]
            assert isinstance(family, CounterMetricFamily | GaugeMetricFamily)
            family.add_metric(labels, value)

    def __iter__(self) -> Iterator[Metric]:
        return iter(self.families.values())


class IpvsCollector(Collector):
    """IPVS weights and counters per real server, the kernel's counters per virtual server, read at each scrape."""

    def __init__(
        self,
        ipvs: IpvsTable,
        services: ServiceNames | None = None,
        destinations: DestinationNames | None = None,
        weights: ConfiguredWeights | None = None,
    ) -> None:
        self._ipvs = ipvs
        self._services = services
        self._destinations: DestinationNames = destinations or dict
        self._weights: ConfiguredWeights = weights or dict

    def _names(self) -> Mapping[ServiceKey, str]:
        if self._services is not None:
            return self._services()
        return {key: "" for key in self._ipvs.services()}  # no agent: every service, unnamed

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("kubelvs_ipvs_scrape_success", "1 if the IPVS counters could be read.")
        try:
            services = self._names()
            wanted = sorted(services)
            stats = self._ipvs.stats(wanted)
            kernel = self._ipvs.destinations(wanted)
            totals = self._ipvs.service_stats(wanted)
            dest_names, configured = self._destinations(), self._weights()
        except Exception as error:  # a scrape must answer even when netlink does not
            logger.warning("IPVS counters unreadable: %s", error)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        real_labels = ["virtual_server", "real_server", *SERVICE_LABELS, "remote_address", "remote_port"]
        weight = GaugeMetricFamily(
            "kubelvs_real_server_weight", "Weight the RealServer asks for (spec.weight).", labels=real_labels
        )
        effective = GaugeMetricFamily(
            "kubelvs_real_server_effective_weight",
            "Weight of the destination in the kernel now: 0 while draining or failed (quiesced).",
            labels=real_labels,
        )
        active, inactive, persistent = (
            GaugeMetricFamily(f"kubelvs_real_server_connections_{state}", doc, labels=real_labels)
            for state, doc in (
                ("active", "Connections of the real server now in the kernel's active state (TCP established)."),
                ("inactive", "Connections of the real server now in any other state (TCP closing, UDP)."),
                ("persistent", "Persistence templates pointing at the real server now."),
            )
        )
        real = _Families("kubelvs_real_server", real_labels)
        virtual = _Families("kubelvs_virtual_server", ["virtual_server", *SERVICE_LABELS])
        own = {key: service_labels(key) for key in services}
        for dest in sorted(stats):
            if dest.service not in services:
                continue
            counters = stats[dest]
            labels = [services[dest.service], dest_names.get(dest, ""), *own[dest.service]]
            labels += [dest.address, str(dest.port)]
            real.add(labels, counters)
            active.add_metric(labels, counters.active_conns)
            inactive.add_metric(labels, counters.inactive_conns)
            persistent.add_metric(labels, counters.persistent_conns)
            if dest in kernel:
                effective.add_metric(labels, kernel[dest].weight)
            if dest in configured:
                weight.add_metric(labels, configured[dest])
        for key in wanted:
            if key in totals:  # a service gone since the read of the names has no counters
                virtual.add([services[key], *own[key]], totals[key])
        yield up
        yield from (weight, effective, active, inactive, persistent)
        yield from real
        yield from virtual


class StateCollector(Collector):
    """Health per real server and the Lease holder per director group, as the agent sees them now."""

    def __init__(self, node: str, health: HealthStates | None = None, leases: LeaseHolders | None = None) -> None:
        self._node = node
        self._health: HealthStates = health or dict
        self._leases: LeaseHolders = leases or dict

    def collect(self) -> Iterator[Metric]:
        health = GaugeMetricFamily(
            "kubelvs_real_server_health",
            "1 for the real server's current health-check state, 0 for the others.",
            labels=["virtual_server", "real_server", "state"],
        )
        for (virtual_server, real_server), state in sorted(self._health().items()):
            for candidate in Health:
                health.add_metric([virtual_server, real_server, candidate.value], float(candidate is state))
        holder = GaugeMetricFamily(
            "kubelvs_director_group_holder",
            "1 for the node holding the director group's Lease as this agent last saw it.",
            labels=["group", "holder"],
        )
        held = GaugeMetricFamily(
            "kubelvs_director_group_held",
            "1 if this node holds the director group's Lease (binds its VIPs), else 0.",
            labels=["group", "node"],
        )
        for group, node in sorted(self._leases().items()):
            if node is not None:
                holder.add_metric([group, node], 1)
            held.add_metric([group, self._node], float(node == self._node))
        yield health
        yield holder
        yield held


class _MetricsServer(ThreadingWSGIServer):
    """prometheus-client's threading WSGI server without HTTPServer's reverse lookup of its own address at
    bind: the name is never used, and a hostNetwork agent's resolver may be unreachable (minutes of timeouts)."""

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)
        self.setup_environ()


class _Ipv4Server(_MetricsServer):
    address_family = socket.AF_INET


class _Ipv6Server(_MetricsServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    """Scrapes are not logged (one line per scrape and target would drown the agent's log)."""

    def log_message(self, format: str, *args: Any) -> None:
        return None


class AgentMetrics:
    """Every metric of one agent, in its own registry (tests make as many as they like)."""

    def __init__(
        self,
        node: str,
        ipvs: IpvsTable,
        services: ServiceNames | None = None,
        destinations: DestinationNames | None = None,
        health: HealthStates | None = None,
        leases: LeaseHolders | None = None,
        registry: CollectorRegistry | None = None,
        weights: ConfiguredWeights | None = None,
    ) -> None:
        self.registry = registry or CollectorRegistry()
        self._servers: list[Any] = []
        self.registry.register(IpvsCollector(ipvs, services, destinations, weights))
        self.registry.register(StateCollector(node, health, leases))
        self.reconcile_seconds = Histogram(
            "kubelvs_agent_reconcile_duration_seconds",
            "Time of one reconcile pass: read the kernel, diff, apply.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.operations = Counter(
            "kubelvs_agent_operations",
            "Kernel writes by kind (ipvs.add_service, address.add, sysctl.write...) and result.",
            ["kind", "result"],
            registry=self.registry,
        )

    def observe(self, seconds: float, outcome: Outcome) -> None:
        """Record one reconcile pass: its duration and every write it made or failed to make."""
        self.reconcile_seconds.observe(seconds)
        for kind, count in outcome.writes.items():
            self.operations.labels(kind=kind, result="ok").inc(count)
        for _obj, message in outcome.errors:
            # The reconciler reports "kind: error"; anything else is a failure outside a single write.
            kind = message.split(":", 1)[0] if ":" in message else "other"
            self.operations.labels(kind=kind, result="error").inc()

    def timed(self, reconcile: Callable[[], Outcome]) -> Outcome:
        """Run a reconcile pass and observe it."""
        start = time.monotonic()
        outcome = reconcile()
        self.observe(time.monotonic() - start, outcome)
        return outcome

    def serve(
        self, port: int = DEFAULT_PORT, address: str = "127.0.0.1", readiness: Readiness | None = None
    ) -> int:
        """Serve /metrics (and with ``readiness`` /healthz and /readyz) on ``address:port`` in a daemon thread;
        return the bound port (0 picks one)."""
        server_class = _Ipv6Server if ":" in address else _Ipv4Server
        app = make_wsgi_app(self.registry)
        if readiness is not None:
            app = health_endpoints.routed(app, readiness)
        server = make_server(address, port, app, server_class, _QuietHandler)
        threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
        self._servers.append(server)
        bound: int = server.server_port
        logger.info("serving metrics on %s:%d", address or "*", bound)
        return bound

    def close(self) -> None:
        """Stop serving."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()
