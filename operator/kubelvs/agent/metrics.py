"""Prometheus metrics of the node agent, served by prometheus-client on ``--metrics-port``.

Kernel counters are read at scrape time by a custom collector (no background polling): one
``IpvsTable.stats()`` call per scrape, for the services the agent programs. What the collector reports
comes from four sources the agent hands in as plain callables, so the collector knows nothing of the
reconciler, the election or the health engine, and can be pointed at the real kernel gateway alone
(``IpvsCollector(ipvs)`` reports every service in the table under its ipvsadm name).

Labels, the same on every family: ``virtual_server`` and ``real_server`` are "namespace/name" of the CRs,
``service`` is the ipvsadm spelling of the IPVS service ("TCP 192.0.2.10:80"), ``destination`` the real
server's "address:port" as the kernel sees it. Virtual-server totals are sums over the destinations the
kernel holds now, so they drop when a destination is deleted (Prometheus treats that as a counter reset).
"""

from __future__ import annotations

import dataclasses
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

from kubelvs.address_text import with_port
from kubelvs.agent.health.engine import Health
from kubelvs.agent.reconciler import Outcome
from kubelvs.kernel.interfaces import IpvsTable
from kubelvs.netstate import DestKey, DestStats, ServiceKey

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


def destination_label(key: DestKey) -> str:
    return with_port(key.address, key.port)


def add_stats(left: DestStats, right: DestStats) -> DestStats:
    """Field-by-field sum: a virtual server's counters from its destinations'."""
    return DestStats(*(a + b for a, b in zip(dataclasses.astuple(left), dataclasses.astuple(right), strict=True)))


class _Families:
    """The metric families of one scrape, keyed by what they are about."""

    def __init__(self, prefix: str, labels: list[str]) -> None:
        def gauge(name: str, doc: str, *extra: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"{prefix}_{name}", doc, labels=[*labels, *extra])

        def counter(name: str, doc: str, *extra: str) -> CounterMetricFamily:
            return CounterMetricFamily(f"{prefix}_{name}", doc, labels=[*labels, *extra])

        what = prefix.removeprefix("kubelvs_").replace("_", " ")
        self.connections = gauge("connections", f"Connections of the {what} now, by state.", "state")
        self.scheduled = counter("connections_scheduled", f"Connections scheduled to the {what}.")
        self.packets = counter("packets", f"Packets through the {what}, by direction.", "direction")
        self.bytes = counter("bytes", f"Bytes through the {what}, by direction.", "direction")
        self.connection_rate = gauge("connection_rate", f"Connections per second to the {what} (kernel estimate).")
        self.packet_rate = gauge(
            "packet_rate", f"Packets per second through the {what} (kernel estimate).", "direction"
        )
        self.byte_rate = gauge("byte_rate", f"Bytes per second through the {what} (kernel estimate).", "direction")

    def add(self, labels: list[str], stats: DestStats) -> None:
        for state, value in (
            ("active", stats.active_conns),
            ("inactive", stats.inactive_conns),
            ("persistent", stats.persistent_conns),
        ):
            self.connections.add_metric([*labels, state], value)
        self.scheduled.add_metric(labels, stats.conns)
        self.packets.add_metric([*labels, "in"], stats.inpkts)
        self.packets.add_metric([*labels, "out"], stats.outpkts)
        self.bytes.add_metric([*labels, "in"], stats.inbytes)
        self.bytes.add_metric([*labels, "out"], stats.outbytes)
        self.connection_rate.add_metric(labels, stats.cps)
        self.packet_rate.add_metric([*labels, "in"], stats.inpps)
        self.packet_rate.add_metric([*labels, "out"], stats.outpps)
        self.byte_rate.add_metric([*labels, "in"], stats.inbps)
        self.byte_rate.add_metric([*labels, "out"], stats.outbps)

    def __iter__(self) -> Iterator[Metric]:
        return iter(vars(self).values())


class IpvsCollector(Collector):
    """IPVS counters per real server and per virtual server, read from the kernel at each scrape."""

    def __init__(
        self,
        ipvs: IpvsTable,
        services: ServiceNames | None = None,
        destinations: DestinationNames | None = None,
    ) -> None:
        self._ipvs = ipvs
        self._services = services
        self._destinations: DestinationNames = destinations or dict

    def _names(self) -> Mapping[ServiceKey, str]:
        if self._services is not None:
            return self._services()
        return {key: "" for key in self._ipvs.services()}  # no agent: every service, unnamed

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("kubelvs_ipvs_scrape_success", "1 if the IPVS counters could be read.")
        try:
            services = self._names()
            stats = self._ipvs.stats(sorted(services))
            dest_names = self._destinations()
        except Exception as error:  # a scrape must answer even when netlink does not
            logger.warning("IPVS counters unreadable: %s", error)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        real = _Families("kubelvs_real_server", ["virtual_server", "real_server", "service", "destination"])
        virtual = _Families("kubelvs_virtual_server", ["virtual_server", "service"])
        sums = {key: DestStats() for key in services}
        for dest in sorted(stats):
            if dest.service not in services:
                continue
            counters = stats[dest]
            real.add(
                [services[dest.service], dest_names.get(dest, ""), str(dest.service), destination_label(dest)],
                counters,
            )
            sums[dest.service] = add_stats(sums[dest.service], counters)
        for key in sorted(sums):
            virtual.add([services[key], str(key)], sums[key])
        yield up
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
    ) -> None:
        self.registry = registry or CollectorRegistry()
        self._servers: list[Any] = []
        self.registry.register(IpvsCollector(ipvs, services, destinations))
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

    def serve(self, port: int = DEFAULT_PORT, address: str = "127.0.0.1") -> int:
        """Serve /metrics on ``address:port`` in a daemon thread; return the bound port (0 picks one)."""
        server_class = _Ipv6Server if ":" in address else _Ipv4Server
        server = make_server(address, port, make_wsgi_app(self.registry), server_class, _QuietHandler)
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
