"""The agent's IPVS metrics: kernel counters per real server and per virtual server, read at each scrape."""

from __future__ import annotations

import urllib.request

import pytest
from fakes import FakeIpvs
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kubelvs.agent.metrics import AgentMetrics
from kubelvs.netstate import Destination, DestKey, DestStats, Family, Proto, Service, ServiceKey

WEB = ServiceKey(Family.INET, Proto.TCP, "192.0.2.10", 80)
DNS = ServiceKey(Family.INET, Proto.UDP, "192.0.2.53", 53)
KUBE_PROXY = ServiceKey(Family.INET, Proto.TCP, "10.96.0.1", 443)  # not ours: never reported
WEB_1 = DestKey(WEB, "198.51.100.1", 80)
WEB_2 = DestKey(WEB, "198.51.100.2", 80)
DNS_1 = DestKey(DNS, "2001:db8::53", 53)


class CountingIpvs(FakeIpvs):
    """FakeIpvs whose destinations carry full counters, as ``ipvsadm -Ln --stats --rate`` shows them."""

    def __init__(self) -> None:
        super().__init__()
        self.counters: dict[DestKey, DestStats] = {}
        self.stats_calls = 0
        self.broken = False

    def add(self, key: DestKey, stats: DestStats) -> None:
        self.table.setdefault(key.service, Service(key.service))
        self.dests[key] = Destination(key)
        self.counters[key] = stats

    def stats(self, services):
        self.stats_calls += 1
        if self.broken:
            raise OSError("netlink: Operation not permitted")
        return {k: self.counters[k] for k in self.destinations(services)}


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
    )
    ipvs.add(WEB_2, DestStats(active_conns=1, inactive_conns=2, conns=50, inpkts=10, outpkts=9, inbytes=640))
    ipvs.add(DNS_1, DestStats(conns=7, inpkts=7, outpkts=7))
    ipvs.add(DestKey(KUBE_PROXY, "172.18.0.2", 6443), DestStats(active_conns=99))
    return ipvs


@pytest.fixture
def metrics(ipvs: CountingIpvs) -> AgentMetrics:
    return AgentMetrics(
        "node-a",
        ipvs,
        services=lambda: {WEB: "default/web", DNS: "infra/dns"},
        destinations=lambda: {WEB_1: "default/web-1", WEB_2: "default/web-2", DNS_1: "infra/dns-1"},
    )


WEB_1_LABELS = {
    "virtual_server": "default/web",
    "real_server": "default/web-1",
    "service": "TCP 192.0.2.10:80",
    "destination": "198.51.100.1:80",
}


@pytest.mark.parametrize(
    ("name", "extra", "expected"),
    [
        pytest.param("kubelvs_real_server_connections", {"state": "active"}, 3, id="active"),
        pytest.param("kubelvs_real_server_connections", {"state": "inactive"}, 5, id="inactive"),
        pytest.param("kubelvs_real_server_connections", {"state": "persistent"}, 1, id="persistent"),
        pytest.param("kubelvs_real_server_connections_scheduled_total", {}, 100, id="scheduled"),
        pytest.param("kubelvs_real_server_packets_total", {"direction": "in"}, 1000, id="packets-in"),
        pytest.param("kubelvs_real_server_packets_total", {"direction": "out"}, 900, id="packets-out"),
        pytest.param("kubelvs_real_server_bytes_total", {"direction": "in"}, 64000, id="bytes-in"),
        pytest.param("kubelvs_real_server_bytes_total", {"direction": "out"}, 1_500_000, id="bytes-out"),
        pytest.param("kubelvs_real_server_connection_rate", {}, 2, id="cps"),
        pytest.param("kubelvs_real_server_packet_rate", {"direction": "in"}, 20, id="inpps"),
        pytest.param("kubelvs_real_server_packet_rate", {"direction": "out"}, 18, id="outpps"),
        pytest.param("kubelvs_real_server_byte_rate", {"direction": "in"}, 1280, id="inbps"),
        pytest.param("kubelvs_real_server_byte_rate", {"direction": "out"}, 30000, id="outbps"),
    ],
)
def test_real_server_counters_come_from_the_kernel_stats(metrics, name, extra, expected) -> None:
    assert scrape(metrics)[(name, labels(**WEB_1_LABELS, **extra))] == expected


@pytest.mark.parametrize(
    ("name", "extra", "expected"),
    [
        pytest.param("kubelvs_virtual_server_connections", {"state": "active"}, 4, id="active"),
        pytest.param("kubelvs_virtual_server_connections", {"state": "inactive"}, 7, id="inactive"),
        pytest.param("kubelvs_virtual_server_connections_scheduled_total", {}, 150, id="scheduled"),
        pytest.param("kubelvs_virtual_server_packets_total", {"direction": "in"}, 1010, id="packets-in"),
        pytest.param("kubelvs_virtual_server_bytes_total", {"direction": "in"}, 64640, id="bytes-in"),
        pytest.param("kubelvs_virtual_server_byte_rate", {"direction": "out"}, 30000, id="outbps"),
    ],
)
def test_virtual_server_counters_sum_its_real_servers(metrics, name, extra, expected) -> None:
    key = labels(virtual_server="default/web", service="TCP 192.0.2.10:80", **extra)
    assert scrape(metrics)[(name, key)] == expected


def test_ipv6_destinations_are_bracketed(metrics) -> None:
    key = labels(
        virtual_server="infra/dns",
        real_server="infra/dns-1",
        service="UDP 192.0.2.53:53",
        destination="[2001:db8::53]:53",
    )
    assert scrape(metrics)[("kubelvs_real_server_connections_scheduled_total", key)] == 7


def test_services_that_are_not_ours_are_not_reported(metrics) -> None:
    samples = scrape(metrics)
    services = {dict(key)["service"] for (_, key) in samples if "service" in dict(key)}
    assert services == {"TCP 192.0.2.10:80", "UDP 192.0.2.53:53"}


def test_each_scrape_reads_the_kernel_again(metrics, ipvs) -> None:
    assert ipvs.stats_calls == 0, "nothing is polled in the background"
    key = ("kubelvs_real_server_connections", labels(**WEB_1_LABELS, state="active"))
    assert scrape(metrics)[key] == 3
    ipvs.counters[WEB_1] = DestStats(active_conns=42)
    assert scrape(metrics)[key] == 42
    assert ipvs.stats_calls == 2


def test_a_destination_without_a_real_server_reports_an_empty_name(ipvs) -> None:
    metrics = AgentMetrics("node-a", ipvs, services=lambda: {WEB: "default/web"})  # e.g. draining leftovers
    key = labels(
        virtual_server="default/web", real_server="", service="TCP 192.0.2.10:80", destination="198.51.100.2:80"
    )
    assert scrape(metrics)[("kubelvs_real_server_connections", key | {("state", "active")})] == 1


def test_pointed_at_a_bare_table_it_reports_every_service(ipvs) -> None:
    samples = scrape(AgentMetrics("node-a", ipvs))
    services = {dict(key)["service"] for (_, key) in samples if "service" in dict(key)}
    assert services == {"TCP 192.0.2.10:80", "UDP 192.0.2.53:53", "TCP 10.96.0.1:443"}


def test_an_unreadable_kernel_fails_the_scrape_gauge_not_the_scrape(metrics, ipvs) -> None:
    assert scrape(metrics)[("kubelvs_ipvs_scrape_success", labels())] == 1
    ipvs.broken = True
    samples = scrape(metrics)
    assert samples[("kubelvs_ipvs_scrape_success", labels())] == 0
    assert not [name for name, _ in samples if name.startswith("kubelvs_real_server_connections")]


def test_metrics_are_served_over_http(metrics) -> None:
    port = metrics.serve(0, "127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            body = response.read().decode()
    finally:
        metrics.close()
    assert 'kubelvs_real_server_connections{destination="198.51.100.1:80"' in body
