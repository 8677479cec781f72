"""One IPv6 service, three ways of naming it (issue 17): ``kubelvs status`` writes ``[2001:db8::1]:80`` as
``ipvsadm -Ln`` does, its ``-o json`` keeps ipvsadm's label and the bare address and port apart, and the agent's
metrics label it ``local_address="2001:db8::1"`` with the port apart, as node_exporter's ipvs collector does (it
prints Go's ``net.IP.String()``: compressed, no brackets), so the two join on the same series."""

from __future__ import annotations

from fakes import FakeIpvs
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kubelvs.agent.metrics import AgentMetrics
from kubelvs.formats import listing
from kubelvs.formats.listing import Layout
from kubelvs.netstate import Destination, DestKey, Family, Fwd, Proto, Service, ServiceKey

WEB6 = ServiceKey(Family.INET6, Proto.TCP, "2001:db8::1", 80)
WEB6_1 = DestKey(WEB6, "2001:db8::10", 8080)
OWNERS: dict[ServiceKey | DestKey, str] = {WEB6: "VirtualServer default/web6", WEB6_1: "RealServer default/web6-1"}
SERVICE, DEST = Service(WEB6, scheduler="rr"), Destination(WEB6_1, Fwd.MASQ, weight=2)


def test_status_writes_the_bracketed_address_and_port_as_ipvsadm_does() -> None:
    lines = listing.render(Layout.LIST, [SERVICE], [DEST], {}, {}, OWNERS)  # ipvsadm's %-28s holds the brackets
    assert lines[2:] == [
        "TCP  [2001:db8::1]:80 rr  VirtualServer default/web6",
        "  -> [2001:db8::10]:8080          Masq    2      0          0           RealServer default/web6-1",
    ]
    stats = listing.render(Layout.STATS, [SERVICE], [DEST], {}, {}, OWNERS)
    assert stats[2].startswith("TCP  [2001:db8::1]:80               ")
    assert stats[3].startswith("  -> [2001:db8::10]:8080            ")


def test_status_as_data_keeps_the_label_bracketed_and_the_address_bare() -> None:
    (service,) = listing.as_data([SERVICE], [DEST], None, None, OWNERS)["services"]
    assert (service["service"], service["family"], service["address"], service["port"]) == (
        "TCP [2001:db8::1]:80",
        "inet6",
        "2001:db8::1",
        80,
    )
    (dest,) = service["destinations"]
    assert (dest["address"], dest["port"]) == ("2001:db8::10", 8080)


def test_metrics_label_the_ipv6_service_and_real_server_without_brackets() -> None:
    ipvs = FakeIpvs()
    ipvs.table[WEB6], ipvs.dests[WEB6_1] = SERVICE, DEST
    metrics = AgentMetrics(
        "node-a",
        ipvs,
        services=lambda: {WEB6: "default/web6"},
        destinations=lambda: {WEB6_1: "default/web6-1"},
        weights=lambda: {WEB6_1: 2},
    )
    text = generate_latest(metrics.registry).decode()
    samples = [sample for family in text_string_to_metric_families(text) for sample in family.samples]
    (weight,) = [sample for sample in samples if sample.name == "kubelvs_real_server_weight"]
    assert weight.labels == {
        "virtual_server": "default/web6",
        "real_server": "default/web6-1",
        "local_address": "2001:db8::1",
        "local_port": "80",
        "proto": "TCP",
        "local_mark": "",
        "remote_address": "2001:db8::10",
        "remote_port": "8080",
    }
    (service,) = [sample for sample in samples if sample.name == "kubelvs_virtual_server_connections_total"]
    assert (service.labels["local_address"], service.labels["local_port"]) == ("2001:db8::1", "80")
    assert not [s for s in samples if any("[" in value for value in s.labels.values())], "brackets never join"
