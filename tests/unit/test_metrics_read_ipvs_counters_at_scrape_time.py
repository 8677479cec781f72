"""The agent's IPVS metrics: weights and counters per real server, the kernel's own counters per virtual server,
read at each scrape, named and labelled as node_exporter's ``node_ipvs_*`` so the two join."""

from __future__ import annotations

import urllib.request

import pytest
from fakes import FakeIpvs
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kubelvs.agent.metrics import AgentMetrics
from kubelvs.netstate import Destination, DestKey, DestStats, Family, Proto, Service, ServiceKey, ServiceStats

WEB = ServiceKey(Family.INET, Proto.TCP, "192.0.2.10", 80)
DNS = ServiceKey(Family.INET, Proto.UDP, "192.0.2.53", 53)
KUBE_PROXY = ServiceKey(Family.INET, Proto.TCP, "10.96.0.1", 443)  # not ours: never reported
WEB_1 = DestKey(WEB, "198.51.100.1", 80)
WEB_2 = DestKey(WEB, "198.51.100.2", 80)
DNS_1 = DestKey(DNS, "2001:db8::53", 53)
MARKED = ServiceKey(Family.INET6, Proto.NONE, "", 0, fwmark=0x2A)
MARKED_1 = DestKey(MARKED, "2001:db8::7", 0)


class CountingIpvs(FakeIpvs):
    """FakeIpvs whose destinations and services carry counters, as ``ipvsadm -Ln --stats --rate`` shows them."""

    def __init__(self) -> None:
        super().__init__()
        self.counters: dict[DestKey, DestStats] = {}
        self.totals: dict[ServiceKey, ServiceStats] = {}
        self.stats_calls = 0
        self.broken = False

    def add(self, key: DestKey, stats: DestStats, weight: int = 1) -> None:
        self.table.setdefault(key.service, Service(key.service))
        self.dests[key] = Destination(key, weight=weight)
        self.counters[key] = stats

    def stats(self, services):
        self.stats_calls += 1
        if self.broken:
            raise OSError("netlink: Operation not permitted")
        return {k: self.counters[k] for k in self.destinations(services)}

    def service_stats(self, services):
        return {k: self.totals.get(k, ServiceStats()) for k in services if k in self.table}


def scrape(metrics: AgentMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Parse the text exposition: (sample name, labels) -> value."""
    text = generate_latest(metrics.registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


@pytest.fixture
def ipvs() -> CountingIpvs:
    ipvs = CountingIpvs()
    ipvs.add(
        WEB_1,
        DestStats(
            active_conns=3,
            inactive_conns=5,
            persistent_conns=1,
            conns=100,
            inpkts=1000,
            outpkts=900,
            inbytes=64000,
            outbytes=1_500_000,
            cps=2,
            inpps=20,
            outpps=18,
            inbps=1280,
            outbps=30000,
        ),
        weight=3,
    )
    ipvs.add(WEB_2, DestStats(active_conns=1, inactive_conns=2, conns=50, inpkts=10), weight=0)  # draining
    ipvs.add(DNS_1, DestStats(conns=7, inpkts=7, outpkts=7))
    ipvs.add(MARKED_1, DestStats(conns=1))
    ipvs.add(DestKey(KUBE_PROXY, "172.18.0.2", 6443), DestStats(active_conns=99))
    # the kernel's own counters of the service: more than its destinations' now (a deleted one counted too)
    ipvs.totals[WEB] = ServiceStats(*range(201, 211))
    return ipvs


@pytest.fixture
def metrics(ipvs: CountingIpvs) -> AgentMetrics:
    return AgentMetrics(
        "node-a",
        ipvs,
        services=lambda: {WEB: "default/web", DNS: "infra/dns", MARKED: "infra/marked"},
        destinations=lambda: {WEB_1: "default/web-1", WEB_2: "default/web-2", DNS_1: "infra/dns-1"},
        weights=lambda: {WEB_1: 3, WEB_2: 5, DNS_1: 1},
    )


WEB_LABELS = {
    "virtual_server": "default/web",
    "local_address": "192.0.2.10",
    "local_port": "80",
    "proto": "TCP",
    "local_mark": "",
}
WEB_1_LABELS = {
    **WEB_LABELS,
    "real_server": "default/web-1",
    "remote_address": "198.51.100.1",
    "remote_port": "80",
}
WEB_2_LABELS = {
    **WEB_LABELS,
    "real_server": "default/web-2",
    "remote_address": "198.51.100.2",
    "remote_port": "80",
}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("kubelvs_real_server_weight", 3, id="weight"),
        pytest.param("kubelvs_real_server_effective_weight", 3, id="effective-weight"),
        pytest.param("kubelvs_real_server_connections_active", 3, id="active"),
        pytest.param("kubelvs_real_server_connections_inactive", 5, id="inactive"),
        pytest.param("kubelvs_real_server_connections_persistent", 1, id="persistent"),
        pytest.param("kubelvs_real_server_connections_total", 100, id="conns"),
        pytest.param("kubelvs_real_server_incoming_packets_total", 1000, id="inpkts"),
        pytest.param("kubelvs_real_server_outgoing_packets_total", 900, id="outpkts"),
        pytest.param("kubelvs_real_server_incoming_bytes_total", 64000, id="inbytes"),
        pytest.param("kubelvs_real_server_outgoing_bytes_total", 1_500_000, id="outbytes"),
        pytest.param("kubelvs_real_server_connections_per_second", 2, id="cps"),
        pytest.param("kubelvs_real_server_incoming_packets_per_second", 20, id="inpps"),
        pytest.param("kubelvs_real_server_outgoing_packets_per_second", 18, id="outpps"),
        pytest.param("kubelvs_real_server_incoming_bytes_per_second", 1280, id="inbps"),
        pytest.param("kubelvs_real_server_outgoing_bytes_per_second", 30000, id="outbps"),
    ],
)
def test_real_server_counters_come_from_the_kernel_stats(metrics, name, expected) -> None:
    assert scrape(metrics)[(name, labels(**WEB_1_LABELS))] == expected


def test_a_draining_real_server_has_its_weight_configured_and_zero_in_the_kernel(metrics) -> None:
    samples = scrape(metrics)
    assert samples[("kubelvs_real_server_weight", labels(**WEB_2_LABELS))] == 5
    assert samples[("kubelvs_real_server_effective_weight", labels(**WEB_2_LABELS))] == 0


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("kubelvs_virtual_server_connections_total", 201, id="conns"),
        pytest.param("kubelvs_virtual_server_incoming_packets_total", 202, id="inpkts"),
        pytest.param("kubelvs_virtual_server_outgoing_packets_total", 203, id="outpkts"),
        pytest.param("kubelvs_virtual_server_incoming_bytes_total", 204, id="inbytes"),
        pytest.param("kubelvs_virtual_server_outgoing_bytes_total", 205, id="outbytes"),
        pytest.param("kubelvs_virtual_server_connections_per_second", 206, id="cps"),
        pytest.param("kubelvs_virtual_server_incoming_packets_per_second", 207, id="inpps"),
        pytest.param("kubelvs_virtual_server_outgoing_packets_per_second", 208, id="outpps"),
        pytest.param("kubelvs_virtual_server_incoming_bytes_per_second", 209, id="inbps"),
        pytest.param("kubelvs_virtual_server_outgoing_bytes_per_second", 210, id="outbps"),
    ],
)
def test_virtual_server_counters_are_the_kernel_s_per_service(metrics, name, expected) -> None:
    # 201 connections, not the 150 of its destinations now: the service's own counter
    assert scrape(metrics)[(name, labels(**WEB_LABELS))] == expected


def test_ipv6_and_fwmark_services_are_labelled_as_node_exporter_labels_them(metrics) -> None:
    samples = scrape(metrics)
    dns = labels(
        virtual_server="infra/dns",
        real_server="infra/dns-1",
        local_address="192.0.2.53",
        local_port="53",
        proto="UDP",
        local_mark="",
        remote_address="2001:db8::53",
        remote_port="53",
    )
    assert samples[("kubelvs_real_server_connections_total", dns)] == 7
    marked = labels(
        virtual_server="infra/marked", local_address="", local_port="0", proto="FWM", local_mark="0000002A"
    )
    assert samples[("kubelvs_real_server_connections_total", marked | labels(
        real_server="", remote_address="2001:db8::7", remote_port="0"
    ))] == 1  # fmt: skip
    assert ("kubelvs_virtual_server_connections_total", marked) in samples


def test_services_that_are_not_ours_are_not_reported(metrics) -> None:
    samples = scrape(metrics)
    addresses = {dict(key)["local_address"] for (_, key) in samples if "local_address" in dict(key)}
    assert addresses == {"192.0.2.10", "192.0.2.53", ""}


def test_each_scrape_reads_the_kernel_again(metrics, ipvs) -> None:
    assert ipvs.stats_calls == 0, "nothing is polled in the background"
    key = ("kubelvs_real_server_connections_active", labels(**WEB_1_LABELS))
    assert scrape(metrics)[key] == 3
    ipvs.counters[WEB_1] = DestStats(active_conns=42)
    ipvs.dests[WEB_1] = Destination(WEB_1, weight=0)
    samples = scrape(metrics)
    assert samples[key] == 42
    assert samples[("kubelvs_real_server_effective_weight", labels(**WEB_1_LABELS))] == 0
    assert ipvs.stats_calls == 2


def test_a_destination_without_a_real_server_reports_an_empty_name_and_no_configured_weight(ipvs) -> None:
    metrics = AgentMetrics("node-a", ipvs, services=lambda: {WEB: "default/web"})  # e.g. draining leftovers
    key = labels(**{**WEB_2_LABELS, "real_server": ""})
    samples = scrape(metrics)
    assert samples[("kubelvs_real_server_connections_active", key)] == 1
    assert samples[("kubelvs_real_server_effective_weight", key)] == 0
    assert ("kubelvs_real_server_weight", key) not in samples


def test_pointed_at_a_bare_table_it_reports_every_service(ipvs) -> None:
    samples = scrape(AgentMetrics("node-a", ipvs))
    addresses = {dict(key)["local_address"] for (_, key) in samples if "local_address" in dict(key)}
    assert addresses == {"192.0.2.10", "192.0.2.53", "", "10.96.0.1"}


def test_an_unreadable_kernel_fails_the_scrape_gauge_not_the_scrape(metrics, ipvs) -> None:
    assert scrape(metrics)[("kubelvs_ipvs_scrape_success", labels())] == 1
    ipvs.broken = True
    samples = scrape(metrics)
    assert samples[("kubelvs_ipvs_scrape_success", labels())] == 0
    assert not [name for name, _ in samples if name.startswith("kubelvs_real_server_")]


def test_metrics_are_served_over_http(metrics) -> None:
    port = metrics.serve(0, "127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            body = response.read().decode()
    finally:
        metrics.close()
    assert 'kubelvs_real_server_connections_total{local_address="192.0.2.10"' in body
